//! Office 97-2003 encryption opened with the password bank: RC4 (MS-OFFCRYPTO §2.3.6,
//! what LibreOffice and Office 97/2000 write) and RC4 CryptoAPI (§2.3.5, Office XP–2003's
//! default) for Word (.doc, MS-DOC §2.2.6) and Excel (.xls, MS-XLS §2.2.10).
//!
//! The streams are decrypted in place in a copy of the OLE file, the encryption flag
//! cleared, and the copy handed back to the ordinary reader: the text path stays one.
//! PowerPoint's CryptSession10Container (each persist object keyed by its id) and the XOR
//! obfuscation of Word and Excel 95 are not opened; the finding says which scheme it is.

use std::io::{Cursor, Read, Seek, SeekFrom, Write};

use md5::Md5;
use rc4::{KeyInit, Rc4, StreamCipher};
use sha1::{Digest, Sha1};

/// The encryption of one file, read from its header (starting at `EncryptionVersionInfo`).
#[derive(Debug)]
pub enum Scheme {
    /// RC4 with MD5 (version 1.1): 40-bit derived key, 128-bit block keys.
    Rc4 {
        salt: [u8; 16],
        verifier: [u8; 16],
        verifier_hash: [u8; 16],
    },
    /// RC4 CryptoAPI (versions 2-4 . 2) with SHA-1 and a 40- to 128-bit key.
    CryptoApi {
        salt: Vec<u8>,
        key_bits: u32,
        verifier: [u8; 16],
        verifier_hash: Vec<u8>,
    },
}

/// A password's key: block keys are derived from it.
pub struct Key {
    base: Vec<u8>,
    crypto_api: bool,
    key_bytes: usize,
}

impl Scheme {
    pub fn parse(h: &[u8]) -> Result<Scheme, String> {
        let u32_at = |at: usize| -> Result<u32, String> {
            h.get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .ok_or_else(|| "encryption header cut short".to_owned())
        };
        let take = |at: usize, n: usize| -> Result<&[u8], String> {
            h.get(at..at + n)
                .ok_or_else(|| "encryption header cut short".to_owned())
        };
        match h {
            [1, 0, 1, 0, ..] => Ok(Scheme::Rc4 {
                salt: take(4, 16)?.try_into().expect("16"),
                verifier: take(20, 16)?.try_into().expect("16"),
                verifier_hash: take(36, 16)?.try_into().expect("16"),
            }),
            [2..=4, 0, 2, 0, ..] => {
                let header_size = u32_at(8)? as usize;
                let header = take(12, header_size)?;
                if header.len() < 32 {
                    return Err("RC4 CryptoAPI header cut short".into());
                }
                let field =
                    |i: usize| u32::from_le_bytes(header[i * 4..i * 4 + 4].try_into().expect("4"));
                let (alg, alg_hash, key_bits) = (field(2), field(3), field(4));
                if alg != 0 && alg != 0x6801 {
                    return Err(format!("CryptoAPI algorithm {alg:#06x} is not RC4"));
                }
                if alg_hash != 0 && alg_hash != 0x8004 {
                    return Err(format!("CryptoAPI hash {alg_hash:#06x} is not SHA-1"));
                }
                let key_bits = if key_bits == 0 { 40 } else { key_bits };
                if !(40..=128).contains(&key_bits) || key_bits % 8 != 0 {
                    return Err(format!("RC4 key of {key_bits} bits"));
                }
                let v = 12 + header_size;
                let salt_size = u32_at(v)? as usize;
                if salt_size != 16 {
                    return Err(format!("salt of {salt_size} bytes"));
                }
                let salt = take(v + 4, 16)?.to_vec();
                let verifier = take(v + 20, 16)?.try_into().expect("16");
                let hash_size = u32_at(v + 36)? as usize;
                if hash_size != 20 {
                    return Err(format!("verifier hash of {hash_size} bytes"));
                }
                let verifier_hash = take(v + 40, 20)?.to_vec();
                Ok(Scheme::CryptoApi {
                    salt,
                    key_bits,
                    verifier,
                    verifier_hash,
                })
            }
            [a, b, c, d, ..] => Err(format!(
                "encryption version {}.{} is not RC4",
                u16::from_le_bytes([*a, *b]),
                u16::from_le_bytes([*c, *d])
            )),
            _ => Err("encryption header cut short".into()),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Scheme::Rc4 { .. } => "RC4",
            Scheme::CryptoApi { .. } => "RC4 CryptoAPI",
        }
    }

    /// The key if `password` is the file's (its verifier checks out).
    pub fn key(&self, password: &str) -> Option<Key> {
        let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let (key, verifier, hash): (Key, &[u8], &[u8]) = match self {
            Scheme::Rc4 {
                salt,
                verifier,
                verifier_hash,
            } => {
                // §2.3.6.2: the 40-bit MD5 of the password, sixteen times with the salt,
                // hashed and truncated to 40 bits again.
                let h0 = Md5::digest(&utf16);
                let mut buf = Vec::with_capacity(16 * 21);
                for _ in 0..16 {
                    buf.extend_from_slice(&h0[..5]);
                    buf.extend_from_slice(salt);
                }
                let h1 = Md5::digest(&buf);
                let key = Key {
                    base: h1[..5].to_vec(),
                    crypto_api: false,
                    key_bytes: 16,
                };
                (key, verifier, verifier_hash)
            }
            Scheme::CryptoApi {
                salt,
                key_bits,
                verifier,
                verifier_hash,
            } => {
                let mut h = Sha1::new();
                h.update(salt);
                h.update(&utf16);
                let key = Key {
                    base: h.finalize().to_vec(),
                    crypto_api: true,
                    key_bytes: *key_bits as usize / 8,
                };
                (key, verifier, verifier_hash)
            }
        };
        let mut check = [verifier, hash].concat();
        key.cipher(0).apply_keystream(&mut check);
        let (plain, plain_hash) = check.split_at(16);
        let ok = if key.crypto_api {
            Sha1::digest(plain).as_slice() == plain_hash
        } else {
            Md5::digest(plain).as_slice() == plain_hash
        };
        ok.then_some(key)
    }
}

impl Key {
    /// The RC4 cipher of block `block` (§2.3.6.2 / §2.3.5.2).
    fn cipher(&self, block: u32) -> Rc4<rc4::consts::U16> {
        let mut full = [0u8; 16];
        if self.crypto_api {
            let mut h = Sha1::new();
            h.update(&self.base);
            h.update(block.to_le_bytes());
            let h = h.finalize();
            // A 40-bit CryptoAPI key is padded to 128 bits with zeros.
            full[..self.key_bytes].copy_from_slice(&h[..self.key_bytes]);
        } else {
            let mut h = Md5::new();
            h.update(&self.base);
            h.update(block.to_le_bytes());
            full.copy_from_slice(&h.finalize());
        }
        Rc4::new(&full.into())
    }

    /// Decrypt `data`, a whole stream, in place: byte `i` at stream offset `i`, a fresh
    /// block key every `block_size` bytes.
    fn decrypt_stream(&self, data: &mut [u8], block_size: usize) {
        for (n, chunk) in data.chunks_mut(block_size).enumerate() {
            self.cipher(n as u32).apply_keystream(chunk);
        }
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn read_stream<F: Read + Seek>(
    file: &mut cfb::CompoundFile<F>,
    path: &str,
) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    file.open_stream(path)?.read_to_end(&mut out)?;
    Ok(out)
}

fn write_stream<F: Read + Write + Seek>(
    file: &mut cfb::CompoundFile<F>,
    path: &str,
    data: &[u8],
) -> std::io::Result<()> {
    let mut s = file.open_stream(path)?;
    s.seek(SeekFrom::Start(0))?;
    s.write_all(data)?;
    s.flush()
}

/// Word: where the encryption header is (the table stream's first `lKey` bytes), or why the
/// document is not one this module opens.
pub fn word_header(ole: &[u8]) -> Result<Vec<u8>, String> {
    let mut file = cfb::CompoundFile::open(Cursor::new(ole)).map_err(|e| e.to_string())?;
    let fib = read_stream(&mut file, "/WordDocument").map_err(|e| e.to_string())?;
    let (_, table, lkey) = word_fib(&fib)?;
    let table = read_stream(&mut file, table).map_err(|e| e.to_string())?;
    table
        .get(..lkey)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| "encryption header longer than the table stream".into())
}

const F_ENCRYPTED: u16 = 0x0100;
const F_WHICH_TBL_STM: u16 = 0x0200;
const F_OBFUSCATED: u16 = 0x8000;
/// FibBase, which stays in the clear.
const FIB_BASE: usize = 68;

fn word_fib(fib: &[u8]) -> Result<(u16, &'static str, usize), String> {
    if fib.len() < FIB_BASE {
        return Err("WordDocument shorter than its FIB".into());
    }
    let flags = u16::from_le_bytes([fib[0x0A], fib[0x0B]]);
    if flags & F_OBFUSCATED != 0 {
        return Err("XOR obfuscation is not opened".into());
    }
    let table = if flags & F_WHICH_TBL_STM != 0 {
        "/1Table"
    } else {
        "/0Table"
    };
    let lkey = u32::from_le_bytes(fib[0x0E..0x12].try_into().expect("4")) as usize;
    Ok((flags, table, lkey))
}

/// The Word document decrypted with `key`, as a new OLE file with the flag cleared.
pub fn decrypt_word(ole: &[u8], key: &Key) -> Result<Vec<u8>, Error> {
    const BLOCK: usize = 512;
    let mut file = cfb::CompoundFile::open(Cursor::new(ole.to_vec()))?;
    let mut word = read_stream(&mut file, "/WordDocument")?;
    let (flags, table_path, lkey) = word_fib(&word)?;
    let clear: Vec<u8> = word[..FIB_BASE].to_vec();
    key.decrypt_stream(&mut word, BLOCK);
    word[..FIB_BASE].copy_from_slice(&clear);
    word[0x0A..0x0C].copy_from_slice(&(flags & !F_ENCRYPTED).to_le_bytes());
    write_stream(&mut file, "/WordDocument", &word)?;

    let mut table = read_stream(&mut file, table_path)?;
    let header_len = lkey.min(table.len());
    let header: Vec<u8> = table[..header_len].to_vec();
    key.decrypt_stream(&mut table, BLOCK);
    table[..header_len].copy_from_slice(&header);
    write_stream(&mut file, table_path, &table)?;

    if file.is_stream("/Data") {
        let mut data = read_stream(&mut file, "/Data")?;
        key.decrypt_stream(&mut data, BLOCK);
        write_stream(&mut file, "/Data", &data)?;
    }
    file.flush()?;
    Ok(file.into_inner().into_inner())
}

const FILEPASS: u16 = 0x002F;
/// What FILEPASS becomes in the decrypted copy: an id no BIFF8 record has, which readers
/// skip, so the stream's offsets (BoundSheet8.lbPlyPos) stay right.
const FILEPASS_CLEARED: u16 = 0x0FFF;

/// The Excel workbook's FILEPASS payload after `wEncryptionType` (an RC4 header), or why
/// this module does not open it.
pub fn excel_header(ole: &[u8]) -> Result<Vec<u8>, String> {
    let mut file = cfb::CompoundFile::open(Cursor::new(ole)).map_err(|e| e.to_string())?;
    let stream = workbook_stream(&file);
    let data = read_stream(&mut file, stream).map_err(|e| e.to_string())?;
    let mut at = 0;
    while let Some((kind, body_at, len)) = record_at(&data, at) {
        if kind == FILEPASS {
            let body = &data[body_at..body_at + len];
            return match body {
                [1, 0, rest @ ..] => Ok(rest.to_vec()),
                [0, 0, ..] => Err("XOR obfuscation is not opened".into()),
                _ => Err("unknown FILEPASS encryption type".into()),
            };
        }
        at = body_at + len;
    }
    Err("no FILEPASS record".into())
}

fn workbook_stream<F: Read + Seek>(file: &cfb::CompoundFile<F>) -> &'static str {
    if file.is_stream("/Workbook") {
        "/Workbook"
    } else {
        "/Book"
    }
}

/// The record at `at`: its type, where its data starts and its length.
fn record_at(data: &[u8], at: usize) -> Option<(u16, usize, usize)> {
    let head = data.get(at..at + 4)?;
    let kind = u16::from_le_bytes([head[0], head[1]]);
    let len = usize::from(u16::from_le_bytes([head[2], head[3]]));
    (at + 4 + len <= data.len()).then_some((kind, at + 4, len))
}

/// The Excel workbook decrypted with `key` (MS-XLS §2.2.10: record headers, and the records
/// that are never encrypted, stay as they are; the keystream runs over the whole stream).
pub fn decrypt_excel(ole: &[u8], key: &Key) -> Result<Vec<u8>, Error> {
    const BLOCK: usize = 1024;
    const BOF: u16 = 0x0809;
    const BOUNDSHEET: u16 = 0x0085;
    const IN_CLEAR: [u16; 7] = [BOF, FILEPASS, 0x0194, 0x0195, 0x00E1, 0x0196, 0x0138];
    let mut file = cfb::CompoundFile::open(Cursor::new(ole.to_vec()))?;
    let stream = workbook_stream(&file);
    let original = read_stream(&mut file, stream)?;
    let mut decrypted = original.clone();
    key.decrypt_stream(&mut decrypted, BLOCK);
    let mut out = original.clone();
    let mut seen_filepass = false;
    let mut at = 0;
    while let Some((kind, body_at, len)) = record_at(&original, at) {
        if kind == FILEPASS && !seen_filepass {
            seen_filepass = true;
            out[at..at + 2].copy_from_slice(&FILEPASS_CLEARED.to_le_bytes());
        } else if seen_filepass && !IN_CLEAR.contains(&kind) {
            let skip = if kind == BOUNDSHEET { 4.min(len) } else { 0 };
            out[body_at + skip..body_at + len]
                .copy_from_slice(&decrypted[body_at + skip..body_at + len]);
        }
        at = body_at + len;
    }
    write_stream(&mut file, stream, &out)?;
    file.flush()?;
    Ok(file.into_inner().into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RC4 header made the way the format says, for a password: the verifier encrypted
    /// with block 0's key.
    fn rc4_header(password: &str, salt: [u8; 16]) -> Vec<u8> {
        // The key as §2.3.6.2 derives it, written out again here so the test does not
        // lean on the code under test.
        let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let h0 = Md5::digest(&utf16);
        let mut buf = Vec::new();
        for _ in 0..16 {
            buf.extend_from_slice(&h0[..5]);
            buf.extend_from_slice(&salt);
        }
        let key = Key {
            base: Md5::digest(&buf)[..5].to_vec(),
            crypto_api: false,
            key_bytes: 16,
        };
        let verifier = *b"0123456789abcdef";
        let mut v = [verifier.as_slice(), Md5::digest(verifier).as_slice()].concat();
        key.cipher(0).apply_keystream(&mut v);
        [&[1, 0, 1, 0][..], &salt, &v].concat()
    }

    #[test]
    fn rc4_verifier_accepts_only_its_password() {
        let header = rc4_header("保密2026", [7; 16]);
        let scheme = Scheme::parse(&header).unwrap();
        assert_eq!(scheme.name(), "RC4");
        assert!(scheme.key("保密2026").is_some());
        assert!(scheme.key("保密2025").is_none());
        assert!(scheme.key("").is_none());
    }

    /// An RC4 CryptoAPI header (§2.3.5.1) as Office XP-2003 writes it, the verifier encrypted
    /// with block 0's key derived as §2.3.5.2 says (SHA-1, a 40-bit key padded to 128).
    fn crypto_api_header(password: &str, key_bits: u32) -> Vec<u8> {
        let salt = [0x5a_u8; 16];
        let utf16: Vec<u8> = password.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let h0 = Sha1::digest([&salt[..], &utf16].concat());
        let hfinal = Sha1::digest([&h0[..], &0u32.to_le_bytes()].concat());
        let mut key = [0u8; 16];
        let n = key_bits as usize / 8;
        key[..n].copy_from_slice(&hfinal[..n]);
        let verifier = *b"fedcba9876543210";
        let mut v = [verifier.as_slice(), Sha1::digest(verifier).as_slice()].concat();
        Rc4::<rc4::consts::U16>::new(&key.into()).apply_keystream(&mut v);

        let csp: Vec<u8> = "Microsoft Enhanced Cryptographic Provider v1.0\0"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let mut header = Vec::new();
        for field in [4u32, 0, 0x6801, 0x8004, key_bits, 1, 0, 0] {
            header.extend_from_slice(&field.to_le_bytes());
        }
        header.extend_from_slice(&csp);
        let mut out = vec![4, 0, 2, 0];
        out.extend_from_slice(&4u32.to_le_bytes());
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&16u32.to_le_bytes());
        out.extend_from_slice(&salt);
        out.extend_from_slice(&v[..16]);
        out.extend_from_slice(&20u32.to_le_bytes());
        out.extend_from_slice(&v[16..]);
        out
    }

    #[test]
    fn crypto_api_verifier_with_40_and_128_bit_keys() {
        for bits in [40, 128] {
            let scheme = Scheme::parse(&crypto_api_header("机密 pw", bits)).unwrap();
            assert_eq!(scheme.name(), "RC4 CryptoAPI");
            assert!(scheme.key("机密 pw").is_some(), "{bits} bits");
            assert!(scheme.key("机密pw").is_none(), "{bits} bits");
        }
    }

    #[test]
    fn headers_that_are_not_rc4_say_why() {
        assert!(Scheme::parse(&[1, 0]).is_err());
        let aes = [4, 0, 4, 0, 0, 0, 0, 0];
        assert!(Scheme::parse(&aes).unwrap_err().contains("4.4 is not RC4"));
        let short = [2, 0, 2, 0, 0, 0, 0, 0, 200, 0, 0, 0];
        assert!(Scheme::parse(&short).is_err());
    }

    #[test]
    fn stream_rekeys_every_block() {
        let key = Key {
            base: vec![1, 2, 3, 4, 5],
            crypto_api: false,
            key_bytes: 16,
        };
        let mut a = vec![0u8; 1500];
        key.decrypt_stream(&mut a, 512);
        let mut block1 = vec![0u8; 512];
        key.cipher(1).apply_keystream(&mut block1);
        assert_eq!(&a[512..1024], &block1[..]);
        // And applying it twice gives the text back.
        key.decrypt_stream(&mut a, 512);
        assert!(a.iter().all(|b| *b == 0));
    }
}
