//! The durable local queue that carries the agent's incidents to the server.
//!
//! Layout under the queue directory (`/var/lib/baomi-agent/queue` by default):
//! - `pending/ID.json` — one event each, written to a temporary file, fsynced and renamed
//!   into place (then the directory fsynced), so an event is either whole or absent after
//!   kill -9 or a power cut;
//! - `evidence/` + `evidence.key` — the event's content (the blocked file, the print job),
//!   encrypted with the server's evidence scheme (`baomi_store::evidence::EvidenceVault`).
//!
//! Content is stored before its event is written, so a pending event never points at
//! missing content; content left without an event by a crash in between is swept after an
//! hour (another process — the CUPS backend — may be between the two steps right now).
//!
//! Several processes may push at once (the agent, each CUPS backend run); only the agent's
//! delivery loop reads and removes. Delivery is at least once from the queue's side; the
//! server de-duplicates by `Event::id`, which makes the whole exactly once.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use baomi_store::evidence::{EvidenceRef, EvidenceVault, VaultEntry};
use serde::{Deserialize, Serialize};

/// One thing that happened on this computer, to be recorded by the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Assigned by the agent (UUID v4); the server records each id once.
    pub id: String,
    /// `usb` or `print`.
    pub channel: String,
    /// When it happened (RFC 3339, UTC).
    pub at: String,
    /// The object's name: the file name on the medium, the print job's title.
    pub name: String,
    /// Who: the account (directory name where known), department.
    pub person: Option<String>,
    pub department: Option<String>,
    /// This computer's name.
    pub machine: String,
    /// Where the data was going: `usb:SERIAL` (or `usb:MOUNTPOINT`), `printer:NAME`.
    pub destination: Option<String>,
    /// What the agent did on its own verdict: `blocked` (quarantined / canceled), `held`,
    /// `alerted`.
    pub local_action: String,
    /// Channel-specific facts: device vendor/model/serial, mount point, path; job id, user,
    /// printer, copies.
    #[serde(default)]
    pub details: serde_json::Value,
    /// The content kept for the server, encrypted in the queue's vault.
    pub content: Option<EvidenceRef>,
}

impl Event {
    /// A new event with a fresh id, dated now.
    pub fn new(channel: &str, name: &str, machine: &str) -> Event {
        Event {
            id: uuid::Uuid::new_v4().to_string(),
            channel: channel.to_owned(),
            at: now_rfc3339(),
            name: name.to_owned(),
            person: None,
            department: None,
            machine: machine.to_owned(),
            destination: None,
            local_action: String::new(),
            details: serde_json::Value::Null,
            content: None,
        }
    }
}

/// The queue directory.
pub struct Queue {
    dir: PathBuf,
    vault: EvidenceVault,
}

/// How long content without an event is kept before the sweep removes it.
const ORPHAN_AGE: Duration = Duration::from_secs(3600);

impl Queue {
    /// Open (creating) the queue in `dir`.
    pub fn open(dir: &Path) -> anyhow::Result<Queue> {
        fs::create_dir_all(dir.join("pending"))?;
        let vault = EvidenceVault::open(dir)?;
        Ok(Queue {
            dir: dir.to_owned(),
            vault,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn pending_dir(&self) -> PathBuf {
        self.dir.join("pending")
    }

    /// Keep `content` encrypted for an event; returns the reference to put in it.
    pub fn store_content(&self, content: &mut dyn Read) -> anyhow::Result<EvidenceRef> {
        Ok(self.vault.put(content)?)
    }

    /// Queue an event durably (and its content, when given and not already stored).
    /// Fails — and leaves nothing half-written — when the disk is full.
    pub fn push(&self, event: &mut Event, content: Option<&mut dyn Read>) -> anyhow::Result<()> {
        if let Some(content) = content {
            event.content = Some(self.store_content(content)?);
        }
        let json = serde_json::to_vec_pretty(event)?;
        let dir = self.pending_dir();
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp")
            .suffix(".json")
            .tempfile_in(&dir)?;
        tmp.write_all(&json)?;
        tmp.as_file().sync_all()?;
        tmp.persist(dir.join(format!("{}.json", safe_id(&event.id)?)))
            .map_err(|e| e.error)?;
        fs::File::open(&dir)?.sync_all()?;
        Ok(())
    }

    /// The events waiting for delivery, oldest first. A file that does not parse (a disk
    /// error, someone's editing) is moved to `bad/` and reported, never retried forever.
    pub fn pending(&self) -> anyhow::Result<Vec<Event>> {
        let mut out = Vec::new();
        for e in fs::read_dir(self.pending_dir())? {
            let path = e?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if name.starts_with('.') || !name.ends_with(".json") {
                continue;
            }
            match fs::read(&path)
                .map_err(anyhow::Error::from)
                .and_then(|b| Ok(serde_json::from_slice::<Event>(&b)?))
            {
                Ok(ev) => out.push(ev),
                Err(err) => {
                    tracing::warn!(path = %path.display(), %err, "unreadable queued event moved to bad/");
                    let bad = self.dir.join("bad");
                    fs::create_dir_all(&bad)?;
                    fs::rename(&path, bad.join(path.file_name().unwrap_or_default()))?;
                }
            }
        }
        out.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Decrypt an event's content into `out`.
    pub fn content(&self, event: &Event, out: &mut dyn Write) -> anyhow::Result<u64> {
        let Some(r) = &event.content else {
            return Ok(0);
        };
        Ok(self.vault.get(&r.hash, out)?)
    }

    /// The server has the event: remove it, and its content unless another pending event
    /// still refers to the same content.
    pub fn done(&self, event: &Event) -> anyhow::Result<()> {
        let path = self
            .pending_dir()
            .join(format!("{}.json", safe_id(&event.id)?));
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(r) = &event.content {
            let still_used = self.pending()?.iter().any(|e| {
                e.content
                    .as_ref()
                    .is_some_and(|c| c.hash == r.hash && e.id != event.id)
            });
            if !still_used {
                self.vault.remove(&r.hash)?;
            }
        }
        Ok(())
    }

    /// The server refused the event for good (a 4xx): keep it, with its content and the
    /// reason, in `bad/` for a person to look at; it is not retried.
    pub fn set_aside(&self, event: &Event, reason: &str) -> anyhow::Result<()> {
        let id = safe_id(&event.id)?;
        let bad = self.dir.join("bad");
        fs::create_dir_all(&bad)?;
        fs::write(bad.join(format!("{id}.reason.txt")), format!("{reason}\n"))?;
        let from = self.pending_dir().join(format!("{id}.json"));
        match fs::rename(&from, bad.join(format!("{id}.json"))) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        fs::File::open(&bad)?.sync_all()?;
        Ok(())
    }

    /// The events set aside in `bad/` (those that still parse).
    pub fn set_aside_events(&self) -> anyhow::Result<Vec<Event>> {
        let bad = self.dir.join("bad");
        let entries = match fs::read_dir(&bad) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for e in entries {
            let path = e?.path();
            if path.extension().is_some_and(|x| x == "json")
                && let Ok(ev) = fs::read(&path)
                    .map_err(anyhow::Error::from)
                    .and_then(|b| Ok(serde_json::from_slice::<Event>(&b)?))
            {
                out.push(ev);
            }
        }
        Ok(out)
    }

    /// Remove content no pending or set-aside event refers to, when older than an hour,
    /// and interrupted temporary files. Returns how many files were removed.
    pub fn sweep(&self) -> anyhow::Result<usize> {
        let used: HashSet<String> = self
            .pending()?
            .into_iter()
            .chain(self.set_aside_events()?)
            .filter_map(|e| e.content.map(|c| c.hash))
            .collect();
        let old = |m: Option<SystemTime>| {
            m.and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > ORPHAN_AGE)
        };
        let mut removed = 0;
        for entry in self.vault.entries()? {
            match entry {
                VaultEntry::Evidence { hash, modified }
                    if !used.contains(&hash) && old(modified) =>
                {
                    self.vault.remove(&hash)?;
                    removed += 1;
                }
                VaultEntry::Partial { path, modified } if old(modified) => {
                    fs::remove_file(path)?;
                    removed += 1;
                }
                _ => {}
            }
        }
        for e in fs::read_dir(self.pending_dir())? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".tmp") && old(e.metadata()?.modified().ok()) {
                fs::remove_file(e.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }
}

/// Ids become file names: only what a UUID holds.
fn safe_id(id: &str) -> anyhow::Result<&str> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        anyhow::bail!("not an event id: {id:?}");
    }
    Ok(id)
}

/// Now as RFC 3339 UTC with seconds, without a date crate.
pub fn now_rfc3339() -> String {
    let secs = baomi_core::civil::now_unix();
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = baomi_core::civil::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_reopening_and_leave_with_their_content() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(dir.path()).unwrap();
        let mut a = Event::new("usb", "通知.docx", "pc-01");
        let mut b = Event::new("print", "job 7", "pc-01");
        q.push(&mut a, Some(&mut &b"secret bytes"[..])).unwrap();
        q.push(&mut b, None).unwrap();
        drop(q);

        let q = Queue::open(dir.path()).unwrap();
        let pending = q.pending().unwrap();
        assert_eq!(pending.len(), 2);
        let a2 = pending.iter().find(|e| e.id == a.id).unwrap();
        let mut out = Vec::new();
        q.content(a2, &mut out).unwrap();
        assert_eq!(out, b"secret bytes");
        // Encrypted at rest: the plain bytes are in no file of the queue.
        for f in walk(dir.path()) {
            let bytes = fs::read(&f).unwrap();
            assert!(!bytes.windows(12).any(|w| w == b"secret bytes"), "{f:?}");
        }
        q.done(a2).unwrap();
        assert_eq!(q.pending().unwrap().len(), 1);
        assert!(q.content(a2, &mut Vec::new()).is_err());
    }

    #[test]
    fn a_broken_event_file_is_set_aside_not_retried() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(dir.path()).unwrap();
        fs::write(dir.path().join("pending/x.json"), b"{not json").unwrap();
        assert!(q.pending().unwrap().is_empty());
        assert!(dir.path().join("bad/x.json").exists());
    }

    #[test]
    fn a_refused_event_is_kept_aside_with_its_content_and_reason() {
        let dir = tempfile::tempdir().unwrap();
        let q = Queue::open(dir.path()).unwrap();
        let mut a = Event::new("usb", "a.txt", "pc-01");
        q.push(&mut a, Some(&mut &b"kept"[..])).unwrap();
        q.set_aside(&a, "400 unknown channel").unwrap();
        assert!(q.pending().unwrap().is_empty());
        let aside = q.set_aside_events().unwrap();
        assert_eq!(aside, vec![a.clone()]);
        let reason =
            fs::read_to_string(dir.path().join(format!("bad/{}.reason.txt", a.id))).unwrap();
        assert_eq!(reason.trim(), "400 unknown channel");
        // The sweep leaves the content of a set-aside event alone.
        q.sweep().unwrap();
        let mut out = Vec::new();
        q.content(&a, &mut out).unwrap();
        assert_eq!(out, b"kept");
    }

    #[test]
    fn ids_cannot_name_other_files() {
        assert!(safe_id("../../etc/passwd").is_err());
        assert!(safe_id("0b6f1c1e-8a43-4f6e-9f0e-2d6f3f0e9a11").is_ok());
    }

    #[test]
    fn dates_are_rfc3339() {
        let s = now_rfc3339();
        assert_eq!(s.len(), 20);
        assert!(s.starts_with("20") && s.ends_with('Z'), "{s}");
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }
}
