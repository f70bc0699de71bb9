//! 7z archives (sevenz-rust2): every file entry, solid blocks included, decoded block by
//! block and handed to the walker with its declared size. Encrypted headers or encrypted
//! blocks are reported; with a password bank each password is tried on them. 7-Zip's key
//! derivation is 2^19 rounds of SHA-256 per try, once for the headers and once per
//! encrypted block (BENCHMARKS.md has the cost). 7z AES has no password check value: a
//! password is right for a block when its first file decodes with the right CRC.

use std::io::Read;

use baomi_core::PartRole;
use sevenz_rust2::{Archive, BlockDecoder, Error, Password};

use crate::{Attempt, Blob, Ctx, FormatResult};

/// Coder id of 7-Zip's AES-256 + SHA-256 key derivation.
const AES_CODER: [u8; 4] = [0x06, 0xF1, 0x07, 0x01];

/// How much of a block's first file is decoded to tell a right password from a wrong one:
/// a file up to this size is checked whole, against its CRC.
const CHECK_BYTES: u64 = 16 << 20;

pub fn extract(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let mut source = blob.open()?;
    let empty = Password::empty();
    let (archive, header_password) = match Archive::read(&mut source, &empty) {
        Ok(archive) => (archive, None),
        Err(Error::PasswordRequired) => {
            let attempt = cx.try_passwords(|_, password| {
                let password = Password::new(password);
                Archive::read(&mut source, &password)
                    .ok()
                    .map(|archive| (archive, password))
            });
            cx.encrypted(
                "",
                format!("7z archive with encrypted headers{}", attempt.note()),
            );
            match attempt {
                Attempt::Opened {
                    index,
                    value: (archive, password),
                } => (archive, Some((index, password))),
                _ => return Ok(()),
            }
        }
        Err(e) => return Err(e.into()),
    };
    let encrypted_block: Vec<bool> = archive
        .blocks
        .iter()
        .map(|b| b.coders.iter().any(|c| c.encoder_method_id() == AES_CODER))
        .collect();
    let block_of = |file_index: usize| -> Option<usize> {
        archive
            .stream_map
            .file_block_index
            .get(file_index)
            .copied()
            .flatten()
    };

    // Encrypted blocks: which password opens each (the one that opened the headers first,
    // then the bank), so the entries' findings can say so.
    let mut block_password: Vec<Option<(usize, Password)>> = Vec::new();
    let mut block_note: Vec<String> = Vec::new();
    for (block_index, &encrypted) in encrypted_block.iter().enumerate() {
        if !encrypted {
            block_password.push(None);
            block_note.push(String::new());
            continue;
        }
        if let Some((index, password)) = &header_password
            && block_opens(&archive, block_index, password, &mut source)
        {
            block_password.push(Some((*index, password.clone())));
            block_note.push(format!(", opened with bank password #{index}"));
            continue;
        }
        let attempt = cx.try_passwords(|_, password| {
            let password = Password::new(password);
            block_opens(&archive, block_index, &password, &mut source).then_some(password)
        });
        block_note.push(attempt.note());
        block_password.push(match attempt {
            Attempt::Opened { index, value } => Some((index, value)),
            _ => None,
        });
    }

    for (index, file) in archive.files.iter().enumerate() {
        if file.is_directory {
            continue;
        }
        match block_of(index) {
            Some(b) if encrypted_block.get(b).copied().unwrap_or(false) => {
                // The entry's name is still text to check (`机密文件.docx`).
                let name = entry_name(&file.name);
                cx.text(&name, PartRole::Name, name.clone());
                let note = block_note.get(b).map_or("", String::as_str);
                cx.encrypted(&name, format!("7z entry encrypted (AES-256){note}"));
            }
            // An empty file has no data, but its name is still text to check.
            None if !file.is_anti_item => cx.child(&entry_name(&file.name), Blob::from_vec(vec![])),
            _ => {}
        }
    }

    for (block_index, &encrypted) in encrypted_block.iter().enumerate() {
        if cx.should_stop() {
            break;
        }
        let password = match block_password.get(block_index) {
            Some(Some((_, password))) => password.clone(),
            _ if encrypted => continue,
            // A plain block in an archive whose headers were encrypted still decodes
            // without a password.
            _ => empty.clone(),
        };
        let decoder = BlockDecoder::new(1, block_index, &archive, &password, &mut source);
        let mut failed_entry = None;
        let result = decoder.for_each_entries(&mut |entry, reader| {
            if entry.is_directory || !entry.has_stream {
                return Ok(true);
            }
            let name = entry_name(&entry.name);
            if let Err(e) = cx.read_child(&name, reader, Some(entry.size)) {
                failed_entry = Some((name, e));
                return Ok(false);
            }
            // A limit stops the block here rather than decoding the rest of a solid bomb.
            Ok(!cx.should_stop())
        });
        if let Some((name, e)) = failed_entry {
            cx.unreadable(&name, format!("7z entry: {e}"));
        } else if let Err(e) = result {
            cx.unreadable("", format!("7z block {}: {e}", block_index + 1));
        }
    }
    Ok(())
}

/// Whether `password` decrypts block `block_index`: its first file with data decodes
/// (into nothing) to its declared length with the right CRC. A wrong key gives garbage
/// that the LZMA decoders reject or end within the first bytes, so a first file larger
/// than [`CHECK_BYTES`] is only decoded that far (the real pass checks its CRC all the
/// same).
fn block_opens(
    archive: &Archive,
    block_index: usize,
    password: &Password,
    source: &mut (impl std::io::Read + std::io::Seek),
) -> bool {
    let decoder = BlockDecoder::new(1, block_index, archive, password, source);
    let mut checked = false;
    let result = decoder.for_each_entries(&mut |entry, reader| {
        if entry.is_directory || !entry.has_stream || entry.size == 0 {
            return Ok(true);
        }
        // Garbage often ends the LZMA stream early, which the CRC reader lets through
        // as a short file: the length must come out right too.
        let want = entry.size.min(CHECK_BYTES);
        let got = std::io::copy(&mut reader.take(want), &mut std::io::sink())?;
        checked = got == want;
        Ok(false)
    });
    result.is_ok() && checked
}

fn entry_name(name: &str) -> String {
    name.replace('\\', "/").trim_start_matches('/').to_owned()
}
