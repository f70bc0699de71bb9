//! RAR 4 and 5 archives through unrar (the UnRAR library; licence in LICENSES/UnRAR.txt).
//! unrar only opens paths, so an in-memory blob is spooled to a temporary file first.
//! Entries are read one by one; encrypted entries and encrypted headers are reported.

use unrar::error::{Code, UnrarError};

use baomi_core::PartRole;

use crate::{Blob, Ctx, FormatResult};

pub fn extract(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    // Keep the guard alive while unrar reads the path.
    let (path, _spool) = blob.on_disk()?;
    let mut cursor = match unrar::Archive::new(&path).open_for_processing() {
        Ok(archive) => archive,
        Err(e) if is_password_error(&e) => {
            cx.encrypted("", "RAR archive with encrypted headers");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let mut seen_any = false;
    loop {
        if cx.should_stop() {
            break;
        }
        let header = match cursor.read_header() {
            Ok(Some(header)) => header,
            // unrar reports a damaged archive as one that simply ends: an archive with no
            // entry at all is almost always that.
            Ok(None) if !seen_any => return Err("no entries could be read".into()),
            Ok(None) => break,
            Err(e) if is_password_error(&e) => {
                cx.encrypted("", "RAR archive with encrypted headers");
                break;
            }
            Err(e) if !seen_any => return Err(e.into()),
            Err(e) => {
                cx.unreadable("", format!("rar: rest of archive unreadable: {e}"));
                break;
            }
        };
        seen_any = true;
        let entry = header.entry();
        let name = entry
            .filename
            .to_string_lossy()
            .replace('\\', "/")
            .trim_start_matches('/')
            .to_owned();
        let size = entry.unpacked_size;
        if entry.is_directory() {
            cursor = header.skip()?;
            continue;
        }
        if entry.is_encrypted() {
            // The entry's name is still text to check (`机密文件.docx`).
            cx.text(&name, PartRole::Name, name.clone());
            cx.encrypted(&name, "RAR entry encrypted");
            cursor = header.skip()?;
            continue;
        }
        // unrar extracts a whole entry into memory, so the declared size is checked against
        // the budget before it is allowed to (an empty reader makes the walker refuse it).
        if size > cx.remaining_budget() {
            cx.read_child(&name, &mut std::io::empty(), Some(size))?;
            break;
        }
        let result = if size > cx.limits().spool_threshold {
            // Large entries go to a temporary file, as the walker's own spooling would.
            let spool = tempfile::Builder::new()
                .prefix("baomi-rar-")
                .tempfile()?
                .into_temp_path();
            let extracted = header.extract_to(&spool);
            if extracted.is_ok() {
                let len = std::fs::metadata(&spool).map_or(0, |m| m.len());
                let blob = Blob::from_temp(spool, len);
                cx.child(&name, blob);
            }
            extracted
        } else {
            header.read().map(|(data, next)| {
                cx.child(&name, Blob::from_vec(data));
                next
            })
        };
        match result {
            Ok(next) => cursor = next,
            Err(e) => {
                // The handle is gone with the failed entry: nothing after it can be read.
                cx.unreadable(&name, format!("rar entry: {e}"));
                break;
            }
        }
    }
    Ok(())
}

fn is_password_error(e: &UnrarError) -> bool {
    matches!(e.code, Code::MissingPassword | Code::BadPassword)
}
