//! The local quarantine: files the agent moved off removable media, encrypted with the
//! server's evidence scheme (`baomi_store::EvidenceVault`: content-addressed by BLAKE3,
//! XChaCha20-Poly1305 STREAM, its own key file `evidence.key` beside them, root only), and
//! `index.jsonl`, one line per file moved: when, which event, where it came from.
//!
//! A security officer gets a file back with the vault's key (`Quarantine::restore`): the
//! index line names the content hash.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use baomi_store::evidence::{EvidenceRef, EvidenceVault};
use serde::{Deserialize, Serialize};

/// One file moved into the quarantine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub at: String,
    pub event_id: String,
    /// The content's BLAKE3 hash (the vault's name for it).
    pub hash: String,
    pub size: u64,
    /// The file's path on the medium when it was written.
    pub path: PathBuf,
    /// `usb:SERIAL` or `usb:MOUNTPOINT`.
    pub medium: String,
}

pub struct Quarantine {
    dir: PathBuf,
    vault: EvidenceVault,
}

impl Quarantine {
    pub fn open(dir: &Path) -> anyhow::Result<Quarantine> {
        fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
        Ok(Quarantine {
            dir: dir.to_owned(),
            vault: EvidenceVault::open(dir)?,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Keep `content` encrypted (durably: the vault fsyncs before it names the file).
    pub fn put(&self, content: &mut dyn Read) -> anyhow::Result<EvidenceRef> {
        Ok(self.vault.put(content)?)
    }

    /// Note where a kept file came from (appended, fsynced).
    pub fn note(&self, entry: &Entry) -> anyhow::Result<()> {
        let mut line = serde_json::to_vec(entry)?;
        line.push(b'\n');
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("index.jsonl"))?;
        f.write_all(&line)?;
        f.sync_all()?;
        Ok(())
    }

    /// Everything noted, oldest first (a torn last line after a crash is skipped).
    pub fn entries(&self) -> anyhow::Result<Vec<Entry>> {
        let text = match fs::read_to_string(self.dir.join("index.jsonl")) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        Ok(text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect())
    }

    /// Decrypt a kept file into `out`.
    pub fn restore(&self, hash: &str, out: &mut dyn Write) -> anyhow::Result<u64> {
        Ok(self.vault.get(hash, out)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_file_is_encrypted_noted_and_restored() {
        let dir = tempfile::tempdir().unwrap();
        let q = Quarantine::open(&dir.path().join("q")).unwrap();
        let r = q.put(&mut &b"classified words"[..]).unwrap();
        let e = Entry {
            at: "2026-12-03T10:00:00Z".into(),
            event_id: "e1".into(),
            hash: r.hash.clone(),
            size: r.size as u64,
            path: "/media/u/a.docx".into(),
            medium: "usb:123".into(),
        };
        q.note(&e).unwrap();
        let q = Quarantine::open(&dir.path().join("q")).unwrap();
        assert_eq!(q.entries().unwrap(), vec![e]);
        let mut out = Vec::new();
        q.restore(&r.hash, &mut out).unwrap();
        assert_eq!(out, b"classified words");
    }
}
