//! Tar archives: regular file entries (GNU long names and pax paths included), in order.

use std::borrow::Cow;

use crate::{Blob, Ctx, FormatResult};

pub fn extract(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let mut archive = tar::Archive::new(blob.open()?);
    let mut seen_any = false;
    for entry in archive.entries_with_seek()? {
        if cx.should_stop() {
            break;
        }
        let mut entry = match entry {
            Ok(entry) => entry,
            // Garbage from the start is not a tar at all; later, the stream cannot be
            // resynchronised, so report what is left as unreadable and stop.
            Err(e) if !seen_any => return Err(e.into()),
            Err(e) => {
                cx.unreadable("", format!("tar: rest of archive unreadable: {e}"));
                break;
            }
        };
        seen_any = true;
        // Regular files, including GNU sparse ones (the tar crate fills in the holes).
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_gnu_sparse()) {
            continue;
        }
        let name = entry_name(&entry.path_bytes());
        let size = entry.size();
        if let Err(e) = cx.read_child(&name, &mut entry, Some(size)) {
            cx.unreadable(&name, format!("tar entry: {e}"));
        }
    }
    Ok(())
}

/// UTF-8 when valid, else GBK (tar archives made on Chinese Windows systems).
fn entry_name(raw: &[u8]) -> String {
    let name: Cow<'_, str> = match std::str::from_utf8(raw) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => encoding_rs::GBK.decode_without_bom_handling(raw).0,
    };
    let name = name.trim_start_matches("./").trim_start_matches('/');
    name.to_owned()
}
