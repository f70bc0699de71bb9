//! 7z archives (sevenz-rust2): every file entry, solid blocks included, decoded block by
//! block and handed to the walker with its declared size. Encrypted headers or encrypted
//! blocks are reported, never guessed at.

use baomi_core::PartRole;
use sevenz_rust2::{Archive, BlockDecoder, Error, Password};

use crate::{Blob, Ctx, FormatResult};

/// Coder id of 7-Zip's AES-256 + SHA-256 key derivation.
const AES_CODER: [u8; 4] = [0x06, 0xF1, 0x07, 0x01];

pub fn extract(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let mut source = blob.open()?;
    let password = Password::empty();
    let archive = match Archive::read(&mut source, &password) {
        Ok(archive) => archive,
        Err(Error::PasswordRequired) => {
            cx.encrypted("", "7z archive with encrypted headers");
            return Ok(());
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

    for (index, file) in archive.files.iter().enumerate() {
        if file.is_directory {
            continue;
        }
        match block_of(index) {
            Some(b) if encrypted_block.get(b).copied().unwrap_or(false) => {
                // The entry's name is still text to check (`机密文件.docx`).
                let name = entry_name(&file.name);
                cx.text(&name, PartRole::Name, name.clone());
                cx.encrypted(&name, "7z entry encrypted (AES-256)");
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
        if encrypted {
            continue;
        }
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

fn entry_name(name: &str) -> String {
    name.replace('\\', "/").trim_start_matches('/').to_owned()
}
