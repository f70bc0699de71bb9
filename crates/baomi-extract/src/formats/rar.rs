//! RAR 4 and 5 archives through unrar (the UnRAR library; licence in LICENSES/UnRAR.txt).
//! unrar only opens paths, so an in-memory blob is spooled to a temporary file first.
//! Entries are read one by one; encrypted entries and encrypted headers are reported, and
//! with a password bank each password is tried on them (UnRAR checks RAR5 passwords by
//! their check value at once; a wrong RAR4 password shows as a bad CRC after decoding).
//! A failed read closes unrar's handle, so each try on an encrypted entry reopens the
//! archive and skips to it.

use std::path::Path;

use unrar::error::{Code, UnrarError};
use unrar::{CursorBeforeHeader, OpenArchive, Process};

use baomi_core::PartRole;

use crate::{Attempt, Blob, Ctx, FormatResult};

type Cursor = OpenArchive<Process, CursorBeforeHeader>;

fn open(path: &Path, password: Option<&str>) -> Result<Cursor, UnrarError> {
    match password {
        Some(p) => unrar::Archive::with_password(path, p).open_for_processing(),
        None => unrar::Archive::new(path).open_for_processing(),
    }
}

pub fn extract(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    // Keep the guard alive while unrar reads the path.
    let (path, _spool) = blob.on_disk()?;
    match entries(&path, None, cx) {
        Err(Locked::Headers) => {}
        Err(Locked::Other(e)) => return Err(e),
        Ok(()) => return Ok(()),
    }
    // Encrypted headers: a password that lets the first header be read opens the archive
    // (and, as RAR writes them, its entries).
    let attempt = cx.try_passwords(|_, password| {
        let cursor = open(&path, Some(password)).ok()?;
        matches!(cursor.read_header(), Ok(Some(_))).then(|| password.to_owned())
    });
    cx.encrypted(
        "",
        format!("RAR archive with encrypted headers{}", attempt.note()),
    );
    if let Attempt::Opened {
        index,
        value: password,
    } = attempt
    {
        match entries(&path, Some((index, &password)), cx) {
            Ok(()) | Err(Locked::Headers) => {}
            Err(Locked::Other(e)) => return Err(e),
        }
    }
    Ok(())
}

enum Locked {
    /// The headers are encrypted and the password (none, or the one given) does not open
    /// them.
    Headers,
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl<E: Into<Box<dyn std::error::Error + Send + Sync>>> From<E> for Locked {
    fn from(e: E) -> Locked {
        Locked::Other(e.into())
    }
}

/// Every entry, with `password` (number in the bank, password) when it opened the headers.
/// Encrypted entries of an archive with plain headers are tried with the bank afterwards.
fn entries(
    path: &Path,
    password: Option<(usize, &str)>,
    cx: &mut Ctx<'_, '_>,
) -> Result<(), Locked> {
    let mut cursor = match open(path, password.map(|(_, p)| p)) {
        Ok(archive) => archive,
        Err(e) if is_password_error(&e) => return Err(Locked::Headers),
        Err(e) => return Err(e.into()),
    };
    let mut seen_any = false;
    // Encrypted entries to try the bank on: (position in the archive, name, size).
    let mut locked = Vec::new();
    let mut position = 0usize;
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
            Err(e) if is_password_error(&e) && !seen_any => return Err(Locked::Headers),
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
        position += 1;
        let entry = header.entry();
        let name = entry_name(entry);
        let size = entry.unpacked_size;
        if entry.is_directory() {
            cursor = header.skip()?;
            continue;
        }
        let encrypted = entry.is_encrypted();
        if encrypted {
            // The entry's name is still text to check (`机密文件.docx`).
            cx.text(&name, PartRole::Name, name.clone());
        }
        if encrypted && password.is_none() {
            if cx.passwords().is_empty() {
                cx.encrypted(&name, "RAR entry encrypted");
            } else {
                locked.push((position, name, size));
            }
            cursor = header.skip()?;
            continue;
        }
        // unrar extracts a whole entry into memory, so the declared size is checked against
        // the budget before it is allowed to (an empty reader makes the walker refuse it).
        if size > cx.remaining_budget() {
            cx.read_child(&name, &mut std::io::empty(), Some(size))?;
            break;
        }
        match read_entry(header, size, cx) {
            Ok((blob, next)) => {
                if let Some((index, _)) = password
                    && encrypted
                {
                    cx.encrypted(
                        &name,
                        format!("RAR entry encrypted, opened with bank password #{index}"),
                    );
                }
                cx.child(&name, blob);
                cursor = next;
            }
            Err(e) => {
                if encrypted && is_password_error(&e) {
                    cx.encrypted(&name, "RAR entry encrypted");
                } else {
                    cx.unreadable(&name, format!("rar entry: {e}"));
                }
                // The handle is gone with the failed entry: nothing after it can be read.
                break;
            }
        }
    }
    for (position, name, size) in locked {
        if cx.should_stop() {
            break;
        }
        if size > cx.remaining_budget() {
            cx.encrypted(&name, "RAR entry encrypted");
            cx.read_child(&name, &mut std::io::empty(), Some(size))?;
            break;
        }
        let attempt = cx.try_passwords(|cx, password| entry_at(path, password, position, size, cx));
        cx.encrypted(&name, format!("RAR entry encrypted{}", attempt.note()));
        if let Attempt::Opened { value, .. } = attempt {
            cx.child(&name, value);
        }
    }
    Ok(())
}

/// Entry number `position` (from 1) read with `password`, or `None` when it does not open.
fn entry_at(
    path: &Path,
    password: &str,
    position: usize,
    size: u64,
    cx: &mut Ctx<'_, '_>,
) -> Option<Blob> {
    let mut cursor = open(path, Some(password)).ok()?;
    for _ in 1..position {
        cursor = cursor.read_header().ok()??.skip().ok()?;
    }
    let header = cursor.read_header().ok()??;
    read_entry(header, size, cx).ok().map(|(blob, _)| blob)
}

/// The entry under the cursor, in memory or (when large) in a temporary file, as the
/// walker's own spooling would.
fn read_entry(
    header: OpenArchive<Process, unrar::CursorBeforeFile>,
    size: u64,
    cx: &Ctx<'_, '_>,
) -> Result<(Blob, Cursor), UnrarError> {
    if size > cx.limits().spool_threshold {
        let spool = tempfile::Builder::new()
            .prefix("baomi-rar-")
            .tempfile()
            .map_err(|_| UnrarError::from(Code::ECreate, unrar::error::When::Process))?
            .into_temp_path();
        let next = header.extract_to(&spool)?;
        let len = std::fs::metadata(&spool).map_or(0, |m| m.len());
        Ok((Blob::from_temp(spool, len), next))
    } else {
        header
            .read()
            .map(|(data, next)| (Blob::from_vec(data), next))
    }
}

fn entry_name(entry: &unrar::FileHeader) -> String {
    entry
        .filename
        .to_string_lossy()
        .replace('\\', "/")
        .trim_start_matches('/')
        .to_owned()
}

fn is_password_error(e: &UnrarError) -> bool {
    matches!(e.code, Code::MissingPassword | Code::BadPassword)
}
