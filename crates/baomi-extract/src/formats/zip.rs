//! Zip archives: every file entry, in order, handed to the walker as a nested object.
//!
//! Chinese Windows tools write entry names in GBK without the UTF-8 flag, so names that are
//! not valid UTF-8 are decoded as GBK rather than the CP437 of the zip specification.
//! Encrypted entries are reported; with a password bank each password is tried on them
//! (ZipCrypto and WinZip AES), and an entry that opens is inspected like any other. A
//! ZipCrypto header check passes one wrong password in 256 (AES: one in 65,536), so an
//! entry counts as opened only once it has been read whole and its CRC (AES: its HMAC)
//! agrees.

use std::borrow::Cow;

use zip::AesMode;
use zip::read::ZipFile;

use baomi_core::PartRole;

use crate::{Attempt, Blob, Ctx, FormatResult};

pub fn extract(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let mut archive = zip::ZipArchive::new(blob.open()?)?;
    for index in 0..archive.len() {
        if cx.should_stop() {
            break;
        }
        // Metadata first, without decompressing: name, kind, encryption, declared size.
        let (name, is_file, encrypted, size) = match archive.by_index_raw(index) {
            Ok(entry) => (
                entry_name(&entry),
                entry.is_file(),
                entry.encrypted(),
                entry.size(),
            ),
            Err(e) => {
                cx.unreadable(&format!("entry #{}", index + 1), format!("zip entry: {e}"));
                continue;
            }
        };
        if !is_file {
            continue;
        }
        if encrypted {
            let method = match archive.get_aes_verification_key_and_salt(index) {
                Ok(Some(info)) => match info.aes_mode {
                    AesMode::Aes128 => "AES-128",
                    AesMode::Aes192 => "AES-192",
                    AesMode::Aes256 => "AES-256",
                },
                Ok(None) => "ZipCrypto",
                Err(_) => "unknown method",
            };
            // The entry's name is still text to check (`机密文件.docx`).
            cx.text(&name, PartRole::Name, name.clone());
            let attempt = cx.try_passwords(|cx, password| {
                let mut entry = archive.by_index_decrypt(index, password.as_bytes()).ok()?;
                // A read error here is a wrong password past the header check (bad CRC
                // or HMAC), or a damaged entry: either way not opened with this one.
                cx.read_blob(&name, &mut entry, Some(size)).ok()
            });
            cx.encrypted(
                &name,
                format!("zip entry encrypted ({method}){}", attempt.note()),
            );
            // `None`: opened, but it did not fit the budget (the limit is reported).
            if let Attempt::Opened {
                value: Some(blob), ..
            } = attempt
            {
                cx.child(&name, blob);
            }
            continue;
        }
        match archive.by_index(index) {
            // The declared size lets the walker refuse a bomb before inflating anything.
            Ok(mut entry) => match cx.read_child(&name, &mut entry, Some(size)) {
                Ok(()) => {}
                // The zip reader stops an entry at its declared size: the header lied
                // (claims small, inflates big), and nothing past the claim was inflated.
                Err(e) if e.to_string().contains("larger than its declared") => {
                    cx.limit_here(
                        &name,
                        format!("zip entry inflates past its declared size of {size} bytes"),
                    );
                }
                Err(e) => cx.unreadable(&name, format!("zip entry: {e}")),
            },
            Err(e) => cx.unreadable(&name, format!("zip entry: {e}")),
        }
    }
    Ok(())
}

/// The entry's name as its author wrote it: UTF-8 when it is valid UTF-8 (with or without
/// the flag), else GBK; Windows separators become `/`.
fn entry_name<R: std::io::Read + ?Sized>(entry: &ZipFile<'_, R>) -> String {
    let raw = entry.name_raw();
    let name: Cow<'_, str> = match std::str::from_utf8(raw) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => encoding_rs::GBK.decode_without_bom_handling(raw).0,
    };
    name.replace('\\', "/").trim_start_matches('/').to_owned()
}
