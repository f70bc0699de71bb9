//! Evidence: the inspected object itself, kept so an officer can see exactly what left (or
//! tried to), encrypted at rest and content-addressed so a file mailed to fifty people is
//! stored once.
//!
//! - The key is 32 random bytes in `DATA_DIR/evidence.key`, created on first use with mode
//!   0600. Lose it and the evidence is gone; back it up with the database.
//! - The address is a *keyed* BLAKE3 hash of the plaintext (key derived from the evidence
//!   key), so a file name on disk does not let anyone confirm "this office has that file".
//! - The format streams, so a 1 GB upload never sits in memory: `BMEV1`, a 19-byte random
//!   nonce prefix, then 64 KiB chunks each sealed with XChaCha20-Poly1305 under the nonce
//!   `prefix ‖ chunk index (u32 BE) ‖ last-chunk flag` (the STREAM construction). Truncating,
//!   reordering or editing chunks fails authentication.
//! - Key rotation ([`rotate_key`]): the old key moves to `DATA_DIR/evidence.keys/ID.key`
//!   and a new one is made; new evidence is written under the new key, and a file the
//!   current key does not authenticate is tried with the retired ones (the first chunk's tag
//!   tells, before anything is written out). Nothing is re-encrypted.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead, KeyInit, OsRng, rand_core::RngCore};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};

use crate::{Result, StoreError};

const MAGIC: &[u8; 5] = b"BMEV1";
/// The header of a secret sealed into the database ([`EvidenceVault::seal`]).
const SEAL_MAGIC: &[u8; 5] = b"BMSL1";
const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
const PREFIX: usize = 19;

/// A stored piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EvidenceRef {
    pub hash: String,
    pub size: i64,
}

/// Encrypted, content-addressed files under `DATA_DIR/evidence/`.
pub struct EvidenceVault {
    dir: PathBuf,
    cipher: XChaCha20Poly1305,
    address_key: [u8; 32],
    /// Keys [`EvidenceVault::digest`], derived from the current key.
    digest_key: [u8; 32],
    /// Keys retired by a rotation, for evidence written before it.
    retired: Vec<(XChaCha20Poly1305, [u8; 32])>,
}

/// Where retired keys are kept, relative to the data directory.
pub const RETIRED_KEYS: &str = "evidence.keys";

fn address_key(key: &[u8; 32]) -> [u8; 32] {
    blake3::derive_key("baomi evidence address v1", key)
}

/// A key's public name: the first 8 bytes of a hash derived from it (hex).
pub fn key_id(key: &[u8; 32]) -> String {
    blake3::derive_key("baomi evidence key id v1", key)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Why one key could not read a file.
enum Attempt {
    /// The first chunk does not authenticate under this key: try another.
    WrongKey,
    Failed(StoreError),
}

impl From<StoreError> for Attempt {
    fn from(e: StoreError) -> Self {
        Attempt::Failed(e)
    }
}

impl From<io::Error> for Attempt {
    fn from(e: io::Error) -> Self {
        Attempt::Failed(e.into())
    }
}

impl EvidenceVault {
    /// Open the vault in `data_dir`, creating the key file on first use.
    pub fn open(data_dir: &Path) -> Result<EvidenceVault> {
        let dir = data_dir.join("evidence");
        fs::create_dir_all(&dir)?;
        let key = load_or_create_key(&data_dir.join("evidence.key"))?;
        let mut retired = Vec::new();
        let mut files: Vec<PathBuf> = fs::read_dir(data_dir.join(RETIRED_KEYS))
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "key"))
            .collect();
        files.sort();
        for f in files {
            let old = load_key(&f)?;
            retired.push((
                XChaCha20Poly1305::new(Key::from_slice(&old)),
                address_key(&old),
            ));
        }
        Ok(EvidenceVault {
            dir,
            cipher: XChaCha20Poly1305::new(Key::from_slice(&key)),
            address_key: address_key(&key),
            digest_key: blake3::derive_key("baomi sealed digest v1", &key),
            retired,
        })
    }

    /// Seal a small secret kept in the database rather than in the vault (the password
    /// bank): `BMSL1`, a random 24-byte nonce, then XChaCha20-Poly1305 of `plain` bound to
    /// `purpose`, under the current key. Whoever reads the database without the key file
    /// learns only the length.
    pub fn seal(&self, purpose: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 24];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                chacha20poly1305::aead::Payload {
                    msg: plain,
                    aad: purpose.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any length the database holds");
        let mut out = Vec::with_capacity(SEAL_MAGIC.len() + 24 + sealed.len());
        out.extend_from_slice(SEAL_MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Open what [`EvidenceVault::seal`] sealed for `purpose`, with the current key or a
    /// retired one (sealed before a rotation).
    pub fn unseal(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let bad = || StoreError::Evidence(format!("the sealed {purpose} is not readable"));
        let rest = sealed.strip_prefix(SEAL_MAGIC.as_slice()).ok_or_else(bad)?;
        if rest.len() < 24 + TAG {
            return Err(bad());
        }
        let (nonce, body) = rest.split_at(24);
        std::iter::once(&self.cipher)
            .chain(self.retired.iter().map(|(c, _)| c))
            .find_map(|c| {
                c.decrypt(
                    XNonce::from_slice(nonce),
                    chacha20poly1305::aead::Payload {
                        msg: body,
                        aad: purpose.as_bytes(),
                    },
                )
                .ok()
            })
            .ok_or_else(|| {
                StoreError::Evidence(format!(
                    "the sealed {purpose} does not open with the evidence key or a retired one"
                ))
            })
    }

    /// A hash of `data` keyed by the current key (hex): tells whether a secret changed
    /// without storing anything that lets one test guesses offline.
    pub fn digest(&self, data: &[u8]) -> String {
        blake3::keyed_hash(&self.digest_key, data)
            .to_hex()
            .to_string()
    }

    /// The directory the encrypted files are in (`DATA_DIR/evidence`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, hash: &str) -> Result<PathBuf> {
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::Invalid(format!(
                "not an evidence hash: {hash:?}"
            )));
        }
        Ok(self.dir.join(&hash[..2]).join(hash))
    }

    /// Encrypt everything `reader` yields into the vault.
    pub fn put(&self, reader: &mut dyn Read) -> Result<EvidenceRef> {
        let mut prefix = [0u8; PREFIX];
        OsRng.fill_bytes(&mut prefix);
        let tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        let mut out = BufWriter::new(tmp.as_file());
        out.write_all(MAGIC)?;
        out.write_all(&prefix)?;
        let mut hasher = blake3::Hasher::new_keyed(&self.address_key);
        let mut size: u64 = 0;
        let mut index: u32 = 0;
        let mut current = vec![0u8; CHUNK];
        let mut filled = read_full(reader, &mut current)?;
        loop {
            // Look one chunk ahead: the last chunk is sealed differently.
            let mut next = vec![0u8; CHUNK];
            let next_filled = if filled == CHUNK {
                read_full(reader, &mut next)?
            } else {
                0
            };
            let last = next_filled == 0;
            let plain = &current[..filled];
            hasher.update(plain);
            size += plain.len() as u64;
            let sealed = self
                .cipher
                .encrypt(&nonce(&prefix, index, last), plain)
                .map_err(|_| StoreError::Evidence("encryption failed".into()))?;
            out.write_all(&sealed)?;
            if last {
                break;
            }
            index = index
                .checked_add(1)
                .ok_or_else(|| StoreError::Evidence("object too large".into()))?;
            current = next;
            filled = next_filled;
        }
        out.flush()?;
        drop(out);
        // On disk before the record that names it is committed: a crash (or power loss)
        // after that commit must not leave a record without its evidence.
        tmp.as_file().sync_all()?;
        let hash = hasher.finalize().to_hex().to_string();
        let path = self.path_of(&hash)?;
        if !path.exists() {
            let parent = path.parent().expect("evidence path has a parent");
            let new_dir = !parent.exists();
            fs::create_dir_all(parent)?;
            tmp.persist(&path).map_err(|e| StoreError::Io(e.error))?;
            // The new name (and a new fan-out directory's) must be durable too, or power
            // loss could keep the file's blocks but lose the entry that names it.
            fs::File::open(parent)?.sync_all()?;
            if new_dir {
                fs::File::open(&self.dir)?.sync_all()?;
            }
        }
        Ok(EvidenceRef {
            hash,
            size: size as i64,
        })
    }

    pub fn contains(&self, hash: &str) -> bool {
        self.path_of(hash).map(|p| p.exists()).unwrap_or(false)
    }

    /// Decrypt one piece of evidence into `out`, checking every chunk: with the current
    /// key, else with the key a rotation retired that authenticates it.
    pub fn get(&self, hash: &str, out: &mut dyn Write) -> Result<u64> {
        let path = self.path_of(hash)?;
        let keys = std::iter::once((&self.cipher, &self.address_key))
            .chain(self.retired.iter().map(|(c, a)| (c, a)));
        for (cipher, address) in keys {
            match decrypt(&path, hash, cipher, address, out) {
                Ok(n) => return Ok(n),
                Err(Attempt::WrongKey) => continue,
                Err(Attempt::Failed(e)) => return Err(e),
            }
        }
        Err(StoreError::Evidence(format!(
            "evidence {hash} fails authentication"
        )))
    }

    pub fn remove(&self, hash: &str) -> Result<()> {
        match fs::remove_file(self.path_of(hash)?) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Move one file out of the vault into `dir` (as `dir/HASH`), still encrypted.
    pub fn move_to(&self, hash: &str, dir: &Path) -> Result<()> {
        let from = self.path_of(hash)?;
        fs::create_dir_all(dir)?;
        match fs::rename(&from, dir.join(hash)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Everything in the vault directory: evidence files (`xx/HASH`), the temporary files
    /// of writes in flight or interrupted (`.tmp*`), and anything else.
    pub fn entries(&self) -> Result<Vec<VaultEntry>> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.dir)? {
            let e = e?;
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let meta = e.metadata()?;
            if meta.is_file() && name.starts_with(".tmp") {
                out.push(VaultEntry::Partial {
                    path,
                    modified: meta.modified().ok(),
                });
                continue;
            }
            let shard =
                meta.is_dir() && name.len() == 2 && name.bytes().all(|b| b.is_ascii_hexdigit());
            if !shard {
                out.push(VaultEntry::Other { path });
                continue;
            }
            for f in fs::read_dir(&path)? {
                let f = f?;
                let hash = f.file_name().to_string_lossy().into_owned();
                let meta = f.metadata()?;
                if meta.is_file() && self.path_of(&hash).is_ok_and(|p| p == f.path()) {
                    out.push(VaultEntry::Evidence {
                        hash,
                        modified: meta.modified().ok(),
                    });
                } else {
                    out.push(VaultEntry::Other { path: f.path() });
                }
            }
        }
        Ok(out)
    }
}

/// One thing found in the vault directory ([`EvidenceVault::entries`]).
#[derive(Debug)]
pub enum VaultEntry {
    Evidence {
        hash: String,
        modified: Option<std::time::SystemTime>,
    },
    /// A temporary file of a write in flight, or of one a crash interrupted.
    Partial {
        path: PathBuf,
        modified: Option<std::time::SystemTime>,
    },
    Other {
        path: PathBuf,
    },
}

/// Decrypt `path` with one key. A first chunk that does not authenticate is
/// [`Attempt::WrongKey`] (nothing has been written to `out` yet); a later one is damage.
fn decrypt(
    path: &Path,
    hash: &str,
    cipher: &XChaCha20Poly1305,
    address_key: &[u8; 32],
    out: &mut dyn Write,
) -> std::result::Result<u64, Attempt> {
    let file = File::open(path).map_err(|_| StoreError::NotFound(format!("evidence {hash}")))?;
    let mut r = BufReader::new(file);
    let mut head = [0u8; MAGIC.len() + PREFIX];
    r.read_exact(&mut head)
        .map_err(|_| StoreError::Evidence("truncated evidence file".into()))?;
    if &head[..MAGIC.len()] != MAGIC {
        return Err(StoreError::Evidence("not a Baomi evidence file".into()).into());
    }
    let mut prefix = [0u8; PREFIX];
    prefix.copy_from_slice(&head[MAGIC.len()..]);
    let mut current = vec![0u8; CHUNK + TAG];
    let mut filled = read_full(&mut r, &mut current)?;
    let mut index: u32 = 0;
    let mut written = 0u64;
    let mut hasher = blake3::Hasher::new_keyed(address_key);
    loop {
        let mut next = vec![0u8; CHUNK + TAG];
        let next_filled = if filled == CHUNK + TAG {
            read_full(&mut r, &mut next)?
        } else {
            0
        };
        let last = next_filled == 0;
        let plain = match cipher.decrypt(&nonce(&prefix, index, last), &current[..filled]) {
            Ok(p) => p,
            Err(_) if index == 0 => return Err(Attempt::WrongKey),
            Err(_) => {
                return Err(
                    StoreError::Evidence(format!("evidence {hash} fails authentication")).into(),
                );
            }
        };
        hasher.update(&plain);
        out.write_all(&plain)?;
        written += plain.len() as u64;
        if last {
            break;
        }
        index += 1;
        current = next;
        filled = next_filled;
    }
    if hasher.finalize().to_hex().as_str() != hash {
        return Err(
            StoreError::Evidence(format!("evidence {hash} does not match its address")).into(),
        );
    }
    Ok(written)
}

/// Retire the evidence key of `data_dir` and make a new one: the old key is kept under
/// `evidence.keys/ID.key` so older evidence stays readable. Returns (old id, new id).
/// A running server keeps its keys until it is restarted.
pub fn rotate_key(data_dir: &Path) -> Result<(String, String)> {
    let current = data_dir.join("evidence.key");
    let old = load_key(&current)?;
    let old_id = key_id(&old);
    let dir = data_dir.join(RETIRED_KEYS);
    fs::create_dir_all(&dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
    }
    let kept = dir.join(format!("{old_id}.key"));
    if !kept.exists() {
        write_key(&kept, &old)?;
    }
    let mut new = [0u8; 32];
    OsRng.fill_bytes(&mut new);
    let staged = data_dir.join("evidence.key.new");
    let _ = fs::remove_file(&staged);
    write_key(&staged, &new)?;
    fs::rename(&staged, &current)?;
    Ok((old_id, key_id(&new)))
}

fn load_key(path: &Path) -> Result<[u8; 32]> {
    let bytes = fs::read(path)?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| StoreError::Evidence(format!("{} is not a 32-byte key", path.display())))
}

/// Write a new key file, private to the service account, and flush it to disk.
fn write_key(path: &Path, key: &[u8; 32]) -> Result<()> {
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(key)?;
    f.sync_all()?;
    Ok(())
}

fn nonce(prefix: &[u8; PREFIX], index: u32, last: bool) -> XNonce {
    let mut n = [0u8; 24];
    n[..PREFIX].copy_from_slice(prefix);
    n[PREFIX..PREFIX + 4].copy_from_slice(&index.to_be_bytes());
    n[23] = u8::from(last);
    *XNonce::from_slice(&n)
}

/// Read until `buf` is full or the reader ends.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn load_or_create_key(path: &Path) -> Result<[u8; 32]> {
    match fs::metadata(path) {
        Ok(_) => load_key(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // Nodes sharing one vault directory may start together: the key is written
            // whole under a private name and linked into place, so exactly one key wins and
            // no node ever reads a half-written one.
            let mut k = [0u8; 32];
            OsRng.fill_bytes(&mut k);
            let staged = path.with_extension(format!("key.{}.new", std::process::id()));
            let _ = fs::remove_file(&staged);
            write_key(&staged, &k)?;
            let linked = fs::hard_link(&staged, path);
            let _ = fs::remove_file(&staged);
            match linked {
                Ok(()) => Ok(k),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => load_key(path),
                Err(e) => Err(e.into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_sizes_and_tamper() {
        let dir = tempfile::tempdir().unwrap();
        let vault = EvidenceVault::open(dir.path()).unwrap();
        for size in [0usize, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            let r = vault.put(&mut &data[..]).unwrap();
            assert_eq!(r.size as usize, size);
            let mut back = Vec::new();
            vault.get(&r.hash, &mut back).unwrap();
            assert_eq!(back, data, "size {size}");
        }
        // The key file is private.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("evidence.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Plaintext is not on disk, and a flipped byte is caught.
        let secret = "机密★1年 关于某项目的通知".repeat(100);
        let r = vault.put(&mut secret.as_bytes()).unwrap();
        let path = vault.path_of(&r.hash).unwrap();
        let mut raw = fs::read(&path).unwrap();
        assert!(!raw.windows(6).any(|w| w == "机密".as_bytes()));
        raw[40] ^= 1;
        fs::write(&path, &raw).unwrap();
        assert!(vault.get(&r.hash, &mut Vec::new()).is_err());
        // Truncation (dropping the last chunk) is caught too.
        let big: Vec<u8> = vec![7; 2 * CHUNK + 5];
        let r = vault.put(&mut &big[..]).unwrap();
        let path = vault.path_of(&r.hash).unwrap();
        let raw = fs::read(&path).unwrap();
        fs::write(&path, &raw[..MAGIC.len() + PREFIX + 2 * (CHUNK + TAG)]).unwrap();
        assert!(vault.get(&r.hash, &mut Vec::new()).is_err());
        // A second vault on the same directory reads with the same key.
        let data = b"same key".to_vec();
        let r = vault.put(&mut &data[..]).unwrap();
        let again = EvidenceVault::open(dir.path()).unwrap();
        let mut back = Vec::new();
        again.get(&r.hash, &mut back).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn rotated_keys_keep_old_evidence_readable() {
        let dir = tempfile::tempdir().unwrap();
        let old_data = vec![3u8; CHUNK + 10];
        let old = EvidenceVault::open(dir.path())
            .unwrap()
            .put(&mut &old_data[..])
            .unwrap();
        let (old_id, new_id) = rotate_key(dir.path()).unwrap();
        assert_ne!(old_id, new_id);
        let vault = EvidenceVault::open(dir.path()).unwrap();
        let new = vault.put(&mut &b"after the rotation"[..]).unwrap();
        let mut back = Vec::new();
        vault.get(&old.hash, &mut back).unwrap();
        assert_eq!(back, old_data);
        let mut back = Vec::new();
        vault.get(&new.hash, &mut back).unwrap();
        assert_eq!(back, b"after the rotation");
        // A second rotation keeps both older keys.
        rotate_key(dir.path()).unwrap();
        let vault = EvidenceVault::open(dir.path()).unwrap();
        assert!(vault.get(&old.hash, &mut Vec::new()).is_ok());
        assert!(vault.get(&new.hash, &mut Vec::new()).is_ok());
        // Without the retired key, the old evidence is gone; the new key still reads its own.
        fs::remove_file(dir.path().join(RETIRED_KEYS).join(format!("{old_id}.key"))).unwrap();
        let vault = EvidenceVault::open(dir.path()).unwrap();
        assert!(vault.get(&old.hash, &mut Vec::new()).is_err());
        assert!(vault.get(&new.hash, &mut Vec::new()).is_ok());
    }
}
