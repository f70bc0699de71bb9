//! Password-protected Word, Excel and PowerPoint 2007+ files: an OLE compound file holding
//! `EncryptionInfo` and `EncryptedPackage` (ECMA-376 Part 1 / MS-OFFCRYPTO §2.3.4), the
//! zip package inside encrypted. Without a password bank this is an `encrypted` finding;
//! with one, each password is checked against the file's password verifier and the one
//! that matches decrypts the package, which is then read as the docx/xlsx/pptx it is, under
//! this object's own path (`报告.docx/word/document.xml`).
//!
//! Two of the three schemes are implemented here with the RustCrypto primitives:
//! - **agile** (version 4.4, what Office 2010+ and LibreOffice write): the XML key
//!   descriptor; SHA-1/256/384/512 spun `spinCount` times (Office: 100,000) over the salted
//!   UTF-16LE password, AES-128/192/256-CBC for the verifier, the intermediate key and the
//!   package in 4096-byte segments, each with its own IV;
//! - **standard** (versions 3.2/4.2, Office 2007): SHA-1 spun 50,000 times, AES-ECB.
//!
//! Extensible encryption (x.3, a third-party cryptographic provider) and RC4 CryptoAPI in
//! an OOXML container are reported as encrypted with the scheme named, not tried. The
//! package's HMAC (agile `dataIntegrity`) is not checked: the verifier already proves the
//! password, and the zip reader checks each entry's CRC.

use std::io::{self, Read};

use aes::cipher::{Array, BlockCipherDecrypt, KeyInit};
use base64::Engine as _;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::{Attempt, Blob, Ctx, FileType, FormatResult, sniff};

const SEGMENT: usize = 4096;
/// Block keys of the agile password key encryptor (MS-OFFCRYPTO §2.3.4.13).
const VERIFIER_INPUT_KEY: [u8; 8] = [0xfe, 0xa7, 0xd2, 0x76, 0x3b, 0x4b, 0x9e, 0x79];
const VERIFIER_VALUE_KEY: [u8; 8] = [0xd7, 0xaa, 0x0f, 0x6d, 0x30, 0x61, 0x34, 0x4e];
const KEY_VALUE_KEY: [u8; 8] = [0x14, 0x6e, 0x0b, 0xe7, 0xab, 0xac, 0xd0, 0xd6];
/// Office's spin count is 100,000; a file asking for more than this is refused rather than
/// letting one try take minutes.
const MAX_SPIN: u32 = 10_000_000;

pub fn extract(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    const WHAT: &str = "password-protected Office document (EncryptionInfo)";
    let (info, package_size) = {
        let mut file = cfb::CompoundFile::open(blob.open()?)?;
        let mut info = Vec::new();
        file.open_stream("/EncryptionInfo")?
            .take(1 << 20)
            .read_to_end(&mut info)?;
        let size = file.entry("/EncryptedPackage")?.len();
        (info, size)
    };
    let scheme = match Scheme::parse(&info) {
        Ok(scheme) => scheme,
        Err(why) => {
            let note = if cx.passwords().is_empty() {
                String::new()
            } else {
                format!(", bank passwords not tried: {why}")
            };
            cx.encrypted("", format!("{WHAT}{note}"));
            return Ok(());
        }
    };
    let attempt = cx.try_passwords(|_, password| scheme.key(password));
    cx.encrypted(
        "",
        format!("{WHAT}, {} encryption{}", scheme.name(), attempt.note()),
    );
    let Attempt::Opened { value: key, .. } = attempt else {
        return Ok(());
    };

    let mut file = cfb::CompoundFile::open(blob.open()?)?;
    let mut stream = file.open_stream("/EncryptedPackage")?;
    let mut size_bytes = [0u8; 8];
    stream.read_exact(&mut size_bytes)?;
    let size = u64::from_le_bytes(size_bytes);
    if size > package_size.saturating_sub(8) {
        return Err(format!(
            "EncryptedPackage declares {size} bytes, holds {}",
            package_size.saturating_sub(8)
        )
        .into());
    }
    let mut reader = Decrypting {
        inner: stream,
        scheme: &scheme,
        key,
        segment: 0,
        buf: Vec::new(),
        pos: 0,
        left: size,
    };
    let Some(package) = cx.read_blob("EncryptedPackage", &mut reader, Some(size))? else {
        return Ok(());
    };
    if !cx.charge(package.len()) {
        return Ok(());
    }
    match sniff::sniff(&package) {
        // The package is opened as this object: its parts keep this object's path.
        ty @ (FileType::Docx | FileType::Xlsx | FileType::Pptx) => {
            super::dispatch(ty, &package, cx)
        }
        other => {
            cx.unreadable(
                "",
                format!("decrypted package is {other}, not an Office document"),
            );
            Ok(())
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Hash {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn parse(name: &str) -> Option<Hash> {
        match name {
            "SHA1" | "SHA-1" => Some(Hash::Sha1),
            "SHA256" | "SHA-256" => Some(Hash::Sha256),
            "SHA384" | "SHA-384" => Some(Hash::Sha384),
            "SHA512" | "SHA-512" => Some(Hash::Sha512),
            _ => None,
        }
    }

    fn digest(self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            Hash::Sha1 => run::<Sha1>(parts),
            Hash::Sha256 => run::<Sha256>(parts),
            Hash::Sha384 => run::<Sha384>(parts),
            Hash::Sha512 => run::<Sha512>(parts),
        }
    }

    /// H0 = H(salt + password), then `spin` times Hn = H(n as u32 LE + Hn-1).
    fn spin(self, salt: &[u8], password: &[u16], spin: u32) -> Vec<u8> {
        let utf16: Vec<u8> = password.iter().flat_map(|c| c.to_le_bytes()).collect();
        fn run<D: Digest>(salt: &[u8], utf16: &[u8], spin: u32) -> Vec<u8> {
            let mut h = D::new().chain_update(salt).chain_update(utf16).finalize();
            for i in 0..spin {
                h = D::new()
                    .chain_update(i.to_le_bytes())
                    .chain_update(&h)
                    .finalize();
            }
            h.to_vec()
        }
        match self {
            Hash::Sha1 => run::<Sha1>(salt, &utf16, spin),
            Hash::Sha256 => run::<Sha256>(salt, &utf16, spin),
            Hash::Sha384 => run::<Sha384>(salt, &utf16, spin),
            Hash::Sha512 => run::<Sha512>(salt, &utf16, spin),
        }
    }
}

/// An AES key of 128, 192 or 256 bits.
enum Aes {
    A128(Box<aes::Aes128>),
    A192(Box<aes::Aes192>),
    A256(Box<aes::Aes256>),
}

impl Aes {
    fn new(key: &[u8]) -> Option<Aes> {
        Some(match key.len() {
            16 => Aes::A128(Box::new(aes::Aes128::new_from_slice(key).ok()?)),
            24 => Aes::A192(Box::new(aes::Aes192::new_from_slice(key).ok()?)),
            32 => Aes::A256(Box::new(aes::Aes256::new_from_slice(key).ok()?)),
            _ => return None,
        })
    }

    fn decrypt_block(&self, block: &mut [u8]) {
        let block: &mut Array<u8, _> = block.try_into().expect("16-byte block");
        match self {
            Aes::A128(c) => c.decrypt_block(block),
            Aes::A192(c) => c.decrypt_block(block),
            Aes::A256(c) => c.decrypt_block(block),
        }
    }

    /// AES-CBC in place; `data` is a whole number of blocks.
    fn cbc(&self, iv: &[u8], data: &mut [u8]) {
        let mut prev = [0u8; 16];
        prev.copy_from_slice(&iv[..16]);
        for block in data.chunks_exact_mut(16) {
            let mut cipher = [0u8; 16];
            cipher.copy_from_slice(block);
            self.decrypt_block(block);
            for (b, p) in block.iter_mut().zip(prev) {
                *b ^= p;
            }
            prev = cipher;
        }
    }

    /// AES-ECB in place.
    fn ecb(&self, data: &mut [u8]) {
        for block in data.chunks_exact_mut(16) {
            self.decrypt_block(block);
        }
    }
}

/// What `EncryptionInfo` says, enough to check a password and decrypt.
enum Scheme {
    Agile {
        /// keyData: the package's cipher.
        data_hash: Hash,
        data_salt: Vec<u8>,
        data_key_bytes: usize,
        /// The password key encryptor.
        hash: Hash,
        salt: Vec<u8>,
        spin: u32,
        key_bytes: usize,
        verifier_input: Vec<u8>,
        verifier_value: Vec<u8>,
        key_value: Vec<u8>,
    },
    Standard {
        key_bytes: usize,
        salt: Vec<u8>,
        verifier: Vec<u8>,
        verifier_hash: Vec<u8>,
    },
}

impl Scheme {
    fn parse(info: &[u8]) -> Result<Scheme, String> {
        let u16_at = |i: usize| info.get(i..i + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
        let u32_at = |i: usize| {
            info.get(i..i + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let (major, minor) = match (u16_at(0), u16_at(2)) {
            (Some(a), Some(b)) => (a, b),
            _ => return Err("EncryptionInfo too short".into()),
        };
        match (major, minor) {
            (4, 4) => Scheme::agile(info.get(8..).unwrap_or_default()),
            (2..=4, 2) => {
                let header_size = u32_at(8).ok_or("EncryptionInfo too short")? as usize;
                let header = info
                    .get(12..12 + header_size)
                    .filter(|h| h.len() >= 32)
                    .ok_or("EncryptionHeader cut")?;
                let alg = u32::from_le_bytes(header[8..12].try_into().map_err(|_| "header")?);
                let key_bits = u32::from_le_bytes(header[16..20].try_into().map_err(|_| "header")?);
                if !matches!(alg, 0x660E..=0x6610) {
                    return Err(format!(
                        "standard encryption with algorithm {alg:#06x} (not AES)"
                    ));
                }
                let v = info.get(12 + header_size..).unwrap_or_default();
                let salt_size = v
                    .get(..4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .unwrap_or(0) as usize;
                if salt_size != 16 || v.len() < 4 + 16 + 16 + 4 + 32 {
                    return Err("EncryptionVerifier cut".into());
                }
                Ok(Scheme::Standard {
                    key_bytes: (key_bits / 8) as usize,
                    salt: v[4..20].to_vec(),
                    verifier: v[20..36].to_vec(),
                    verifier_hash: v[40..72].to_vec(),
                })
            }
            (3 | 4, 3) => Err("extensible encryption (third-party provider)".into()),
            (a, b) => Err(format!("EncryptionInfo version {a}.{b}")),
        }
    }

    fn agile(xml: &[u8]) -> Result<Scheme, String> {
        let xml = String::from_utf8_lossy(xml);
        let key_data = element(&xml, "keyData").ok_or("no keyData")?;
        let encryptor = element(&xml, "encryptedKey").ok_or("no password key encryptor")?;
        let b64 = |attrs: &[(String, String)], name: &str| -> Result<Vec<u8>, String> {
            let v = attr(attrs, name).ok_or_else(|| format!("no {name}"))?;
            base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .map_err(|_| format!("{name} is not base64"))
        };
        let num = |attrs: &[(String, String)], name: &str| -> Result<u32, String> {
            attr(attrs, name)
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| format!("no {name}"))
        };
        let hash = |attrs: &[(String, String)]| -> Result<Hash, String> {
            let name = attr(attrs, "hashAlgorithm").unwrap_or_default();
            Hash::parse(name).ok_or_else(|| format!("hash algorithm {name:?}"))
        };
        for attrs in [&key_data, &encryptor] {
            let cipher = attr(attrs, "cipherAlgorithm").unwrap_or_default();
            let chaining = attr(attrs, "cipherChaining").unwrap_or_default();
            if cipher != "AES" || chaining != "ChainingModeCBC" {
                return Err(format!("cipher {cipher} {chaining}"));
            }
        }
        let spin = num(&encryptor, "spinCount")?;
        if spin > MAX_SPIN {
            return Err(format!("spin count {spin}"));
        }
        let key_bytes = num(&encryptor, "keyBits")? as usize / 8;
        let data_key_bytes = num(&key_data, "keyBits")? as usize / 8;
        let salt = b64(&encryptor, "saltValue")?;
        let data_salt = b64(&key_data, "saltValue")?;
        if salt.len() < 16 || data_salt.is_empty() {
            return Err("salt too short".into());
        }
        Ok(Scheme::Agile {
            data_hash: hash(&key_data)?,
            data_salt,
            data_key_bytes,
            hash: hash(&encryptor)?,
            salt,
            spin,
            key_bytes,
            verifier_input: b64(&encryptor, "encryptedVerifierHashInput")?,
            verifier_value: b64(&encryptor, "encryptedVerifierHashValue")?,
            key_value: b64(&encryptor, "encryptedKeyValue")?,
        })
    }

    fn name(&self) -> &'static str {
        match self {
            Scheme::Agile { .. } => "agile",
            Scheme::Standard { .. } => "standard",
        }
    }

    /// The package key if `password` is the document's, checked against its verifier.
    fn key(&self, password: &str) -> Option<Aes> {
        let utf16: Vec<u16> = password.encode_utf16().collect();
        match self {
            Scheme::Agile {
                data_key_bytes,
                hash,
                salt,
                spin,
                key_bytes,
                verifier_input,
                verifier_value,
                key_value,
                ..
            } => {
                let h = hash.spin(salt, &utf16, *spin);
                let derive = |block: &[u8]| -> Option<Aes> {
                    let mut k = hash.digest(&[&h, block]);
                    k.resize((*key_bytes).max(k.len()), 0x36);
                    k.truncate(*key_bytes);
                    Aes::new(&k)
                };
                let decrypt = |block: &[u8], data: &[u8]| -> Option<Vec<u8>> {
                    if data.is_empty() || !data.len().is_multiple_of(16) {
                        return None;
                    }
                    let mut out = data.to_vec();
                    derive(block)?.cbc(salt, &mut out);
                    Some(out)
                };
                let input = decrypt(&VERIFIER_INPUT_KEY, verifier_input)?;
                let value = decrypt(&VERIFIER_VALUE_KEY, verifier_value)?;
                let want = hash.digest(&[&input[..input.len().min(salt.len())]]);
                if value.get(..want.len()) != Some(&want[..]) {
                    return None;
                }
                let key = decrypt(&KEY_VALUE_KEY, key_value)?;
                Aes::new(key.get(..*data_key_bytes)?)
            }
            Scheme::Standard {
                key_bytes,
                salt,
                verifier,
                verifier_hash,
            } => {
                let h = Hash::Sha1.spin(salt, &utf16, 50_000);
                let h = Hash::Sha1.digest(&[&h, &0u32.to_le_bytes()]);
                let mut buf1 = [0x36u8; 64];
                let mut buf2 = [0x5cu8; 64];
                for (i, b) in h.iter().enumerate() {
                    buf1[i] ^= b;
                    buf2[i] ^= b;
                }
                let mut x = Hash::Sha1.digest(&[&buf1]);
                x.extend(Hash::Sha1.digest(&[&buf2]));
                let aes = Aes::new(x.get(..*key_bytes)?)?;
                let mut v = verifier.clone();
                aes.ecb(&mut v);
                let mut vh = verifier_hash.clone();
                aes.ecb(&mut vh);
                (Hash::Sha1.digest(&[&v]) == vh[..20]).then_some(aes)
            }
        }
    }
}

/// The attributes of the first element named `local` (any namespace prefix).
fn element(xml: &str, local: &str) -> Option<Vec<(String, String)>> {
    let mut from = 0;
    while let Some(i) = xml[from..].find(local) {
        let at = from + i;
        from = at + local.len();
        let before = xml[..at].chars().next_back();
        let after = xml[from..].chars().next();
        if matches!(before, Some('<' | ':'))
            && after.is_some_and(|c| c.is_whitespace() || c == '/' || c == '>')
        {
            let end = xml[from..].find('>').map_or(xml.len(), |e| from + e);
            return Some(attributes(&xml[from..end]));
        }
    }
    None
}

fn attributes(mut s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while let Some(eq) = s.find('=') {
        let name = s[..eq]
            .trim()
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .to_owned();
        let rest = s[eq + 1..].trim_start();
        let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            break;
        };
        let Some(close) = rest[1..].find(quote) else {
            break;
        };
        out.push((name, rest[1..1 + close].to_owned()));
        s = &rest[close + 2..];
    }
    out
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The decrypted package as a reader: agile in 4096-byte segments (IV of segment i:
/// H(keyData salt + i) cut to the block size), standard as one AES-ECB stream.
struct Decrypting<'s, R> {
    inner: R,
    scheme: &'s Scheme,
    key: Aes,
    segment: u32,
    buf: Vec<u8>,
    pos: usize,
    left: u64,
}

impl<R: Read> Read for Decrypting<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.buf.len() {
            if self.left == 0 {
                return Ok(0);
            }
            self.buf.resize(SEGMENT, 0);
            let mut filled = 0;
            while filled < SEGMENT {
                match self.inner.read(&mut self.buf[filled..])? {
                    0 => break,
                    n => filled += n,
                }
            }
            filled -= filled % 16;
            if filled == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "EncryptedPackage ends before its declared size",
                ));
            }
            self.buf.truncate(filled);
            match self.scheme {
                Scheme::Agile {
                    data_hash,
                    data_salt,
                    ..
                } => {
                    let iv = data_hash.digest(&[data_salt, &self.segment.to_le_bytes()]);
                    let mut iv16 = [0u8; 16];
                    iv16.copy_from_slice(&iv[..16]);
                    self.key.cbc(&iv16, &mut self.buf);
                }
                Scheme::Standard { .. } => self.key.ecb(&mut self.buf),
            }
            self.segment += 1;
            let keep = (self.buf.len() as u64).min(self.left) as usize;
            self.buf.truncate(keep);
            self.left -= keep as u64;
            self.pos = 0;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_with_prefixes() {
        let xml = r#"<encryption><keyData saltSize="16" hashAlgorithm="SHA512"/><keyEncryptors><keyEncryptor uri="x"><p:encryptedKey spinCount="100000" saltValue='AA=='/></keyEncryptor></keyEncryptors></encryption>"#;
        let kd = element(xml, "keyData").unwrap();
        assert_eq!(attr(&kd, "hashAlgorithm"), Some("SHA512"));
        let ek = element(xml, "encryptedKey").unwrap();
        assert_eq!(attr(&ek, "spinCount"), Some("100000"));
        assert_eq!(attr(&ek, "saltValue"), Some("AA=="));
    }

    #[test]
    fn garbage_info_is_refused_not_a_panic() {
        for info in [
            &b""[..],
            b"\x04\x00\x04\x00",
            b"\x03\x00\x02\x00\xff\xff\xff\xff",
        ] {
            assert!(Scheme::parse(info).is_err());
        }
    }
}
