//! Files written to removable media: inspected with the engine (channel `usb`) after they
//! are closed, and acted on.
//!
//! Outcomes of one file (each logged; the ones with an event are queued for the server):
//! - **clean** (allow): left alone; remembered in the incremental index;
//! - **alert** (or audit): left alone, an event (`local_action = alerted`, or `none`) with
//!   the content;
//! - **block** (or quarantine): the content goes into the encrypted quarantine, the file is
//!   removed from the medium, `NAME.baomi-blocked.txt` is left in its place (why — the
//!   reasons' names, never the data —, the event id, whom to ask), a desktop notification
//!   is tried, an event (`blocked`) with the content is queued. If the removal fails (the
//!   medium went read-only or away) the event says `alerted` with `removal_failed`;
//! - **still being written**: the file's size or time changed while it was copied for
//!   inspection: copied again (up to five times), the last version is inspected — and every
//!   later close-write brings another inspection anyway;
//! - **gone before inspection** (deleted or renamed right after writing): logged, nothing
//!   queued; a renamed file is found under its new name by the medium's next rescan (every
//!   minute, and whenever fanotify's queue overflowed);
//! - **unreadable** (permissions, I/O error): an `uninspectable` event without content;
//! - **medium pulled out mid-inspection**: the copy fails or the mount is gone: an
//!   `uninspectable` event with what is known (name, size, `medium_removed`); when the
//!   verdict was already in, it is acted on with the copy (quarantine and event), and the
//!   removal failure is in the event;
//! - **inspection too slow** (`usb.inspect_timeout_secs`): an `uninspectable` event
//!   (`timed_out: true` in its details); the file stays. The agent never holds up a write: it learns of it after
//!   the fact (fanotify notification, not permission).
//! - **the agent's disk full**: the quarantine cannot take the file: nothing is removed
//!   (the file is never deleted without a kept copy), the error is logged, and the file —
//!   not in the index — is tried again at the next rescan. **The queue's disk full** (the
//!   copy is safe in the quarantine): the block goes ahead, the event stays in the journal
//!   and the next rescan or start queues it, under the id the notice names;
//! - **kill -9 between quarantine and queue**: every block is journalled
//!   (`DATA_DIR/usb-journal/ID.json`, the event and its id written before the file is
//!   touched); the next start or scan of the medium completes it with the same id (file
//!   still there: nothing was queued, it is inspected afresh; file gone: notice, index line
//!   and event once), so a file is neither recorded twice nor lost;
//! - **delivered**: the server's incident number is written into the notice
//!   (`事件编号：BM-…（终端事件 ID）`) and noted in `DATA_DIR/incident-numbers.jsonl`.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use baomi_core::{Action, Channel};
use baomi_engine::{Engine, ObjectReport};
use baomi_extract::Blob;
use serde::{Deserialize, Serialize};

use crate::config::{AgentConfig, UsbMode};
use crate::mounts::Device;
use crate::quarantine::{self, Quarantine};
use crate::queue::{Event, Queue};

/// The suffix of the notice left where a blocked file was.
pub const NOTICE_SUFFIX: &str = ".baomi-blocked.txt";

/// A mounted removable medium (or a directory treated as one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Medium {
    pub mount_point: PathBuf,
    /// What sysfs says (none for a `--watch` directory that is no block device).
    pub device: Option<Device>,
    /// `/dev/sdb1`, `tmpfs` …
    pub source: String,
    /// Named by `--watch` / `usb.watch`.
    pub explicit: bool,
    /// A real mount point (marked as a whole); else a directory tree.
    pub is_mount: bool,
}

impl Medium {
    /// `usb:SERIAL`, or `usb:MOUNTPOINT` when the serial is unknown.
    pub fn label(&self) -> String {
        match self.device.as_ref().and_then(|d| d.serial.as_deref()) {
            Some(s) => format!("usb:{s}"),
            None => format!("usb:{}", self.mount_point.display()),
        }
    }

    pub fn serial(&self) -> Option<&str> {
        self.device.as_ref().and_then(|d| d.serial.as_deref())
    }

    /// Registered in the agent's config (`usb.registered`, by serial).
    pub fn registered(&self, cfg: &AgentConfig) -> bool {
        self.serial()
            .is_some_and(|s| cfg.usb.registered.iter().any(|r| r.eq_ignore_ascii_case(s)))
    }

    fn details(&self) -> serde_json::Value {
        let d = self.device.clone().unwrap_or_default();
        serde_json::json!({
            "mount_point": self.mount_point,
            "source": self.source,
            "vendor": d.vendor,
            "model": d.model,
            "serial": d.serial,
            "vendor_id": d.vendor_id,
            "product_id": d.product_id,
        })
    }
}

/// What became of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    Clean,
    /// Same content as last inspected (the incremental index).
    Unchanged,
    /// Not a file the agent inspects (its own notice, a symlink, a directory).
    Skipped,
    Gone,
    Alerted {
        event: String,
    },
    Blocked {
        event: String,
        notice: PathBuf,
    },
    Uninspectable {
        event: String,
        why: String,
    },
    /// The verdict said block but the file could not be kept or removed (see module doc).
    NotActed {
        why: String,
    },
}

/// The incremental index of inspected files (`DATA_DIR/usb-index.json`): a file whose
/// size and modification time are as last seen is not read again; one whose time changed
/// but whose content hash did not is not inspected again.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    files: HashMap<String, Seen>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    size: u64,
    mtime_ns: i128,
    blake3: String,
}

/// One block in progress (`DATA_DIR/usb-journal/ID.json`), see [`Inspector::replay_journal`].
#[derive(Debug, Clone, Serialize, Deserialize)]
struct JournalEntry {
    stage: Stage,
    /// The event with the id it is queued under.
    event: Event,
    path: PathBuf,
    mount_point: PathBuf,
    /// `Medium::label`.
    medium: String,
    /// The quarantined copy: hash and size.
    kept: Option<(String, u64)>,
    reasons: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Stage {
    /// Quarantined; the file may or may not be off the medium yet.
    Moving,
    /// Off the medium (or its removal failed); the event is being queued.
    Acted,
}

/// Test hook: `BAOMI_AGENT_TEST_CRASH=STAGE` kills the process with SIGKILL at that point of
/// a block (`before-move`, `after-move`, `after-queue`), as a kill -9 or a power cut would.
fn crash_point(stage: &str) {
    if std::env::var("BAOMI_AGENT_TEST_CRASH").is_ok_and(|s| s == stage) {
        tracing::warn!(stage, "BAOMI_AGENT_TEST_CRASH: killing the agent here");
        // SAFETY: kill(2) on our own pid.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

/// Inspects files on media and acts on the verdicts. One per agent; used from one thread.
pub struct Inspector {
    engine: Arc<Engine>,
    cfg: AgentConfig,
    queue: Queue,
    quarantine: Quarantine,
    machine: String,
    index_path: PathBuf,
    index: Index,
    spool: PathBuf,
}

/// Counts of a medium's scan.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScanCount {
    pub files: usize,
    pub inspected: usize,
    pub blocked: usize,
    pub alerted: usize,
    pub uninspectable: usize,
}

impl Inspector {
    pub fn new(engine: Arc<Engine>, cfg: AgentConfig) -> anyhow::Result<Inspector> {
        fs::create_dir_all(&cfg.data_dir)?;
        let queue = Queue::open(&cfg.queue_dir())?;
        let quarantine = Quarantine::open(&cfg.quarantine_dir())?;
        let index_path = cfg.data_dir.join("usb-index.json");
        let index = fs::read(&index_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let spool = cfg.data_dir.join("spool");
        fs::create_dir_all(&spool)?;
        // Copies left by a killed run: their files are inspected again (not in the index).
        if let Ok(entries) = fs::read_dir(&spool) {
            for e in entries.flatten() {
                let _ = fs::remove_file(e.path());
            }
        }
        let mut inspector = Inspector {
            engine,
            machine: cfg.machine_name(),
            cfg,
            queue,
            quarantine,
            index_path,
            index,
            spool,
        };
        inspector.replay_journal(None);
        Ok(inspector)
    }

    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// Inspect the files of `medium` not yet inspected as they are (the startup scan, a
    /// rescan after an overflow, the periodic rescan).
    pub fn scan_medium(&mut self, medium: &Medium) -> ScanCount {
        self.replay_journal(Some(medium));
        let mut count = ScanCount::default();
        let mut stack = vec![medium.mount_point.clone()];
        let mut present = std::collections::HashSet::new();
        let mut complete = true;
        while let Some(dir) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), %e, "cannot list a directory on the medium");
                    complete = false;
                    continue;
                }
            };
            for e in entries.flatten() {
                let Ok(t) = e.file_type() else { continue };
                let path = e.path();
                if t.is_dir() {
                    stack.push(path);
                    continue;
                }
                if !t.is_file() {
                    continue;
                }
                count.files += 1;
                present.insert(Self::key(medium, &path));
                if self.unchanged_by_stat(medium, &path) {
                    continue;
                }
                match self.inspect_file(medium, &path, None) {
                    FileOutcome::Unchanged | FileOutcome::Skipped | FileOutcome::Gone => {}
                    FileOutcome::Clean => count.inspected += 1,
                    FileOutcome::Alerted { .. } => {
                        count.inspected += 1;
                        count.alerted += 1;
                    }
                    FileOutcome::Blocked { .. } => {
                        count.inspected += 1;
                        count.blocked += 1;
                    }
                    FileOutcome::Uninspectable { .. } | FileOutcome::NotActed { .. } => {
                        count.uninspectable += 1
                    }
                }
            }
        }
        // Files deleted from the medium leave the index (only after a full listing).
        let prefix = format!("{}\u{0}", medium.label());
        let before = self.index.files.len();
        if complete {
            self.index
                .files
                .retain(|k, _| !k.starts_with(&prefix) || present.contains(k));
        }
        if self.index.files.len() != before {
            self.save_index();
        }
        count
    }

    fn key(medium: &Medium, path: &Path) -> String {
        let rel = path.strip_prefix(&medium.mount_point).unwrap_or(path);
        format!("{}\u{0}{}", medium.label(), rel.display())
    }

    fn unchanged_by_stat(&self, medium: &Medium, path: &Path) -> bool {
        let Ok(meta) = fs::symlink_metadata(path) else {
            return false;
        };
        self.index
            .files
            .get(&Self::key(medium, path))
            .is_some_and(|s| s.size == meta.len() && s.mtime_ns == mtime_ns(&meta))
    }

    fn remember(&mut self, medium: &Medium, path: &Path, seen: Option<Seen>) {
        let key = Self::key(medium, path);
        match seen {
            Some(s) => self.index.files.insert(key, s),
            None => self.index.files.remove(&key),
        };
        self.save_index();
    }

    fn save_index(&self) {
        if let Err(e) = write_atomic(
            &self.index_path,
            &serde_json::to_vec(&self.index).unwrap_or_default(),
        ) {
            tracing::warn!(%e, "cannot save the incremental index (files will be inspected again)");
        }
    }

    /// Inspect one file on `medium` (written by process `pid`, when fanotify said so).
    pub fn inspect_file(&mut self, medium: &Medium, path: &Path, pid: Option<i32>) -> FileOutcome {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.ends_with(NOTICE_SUFFIX) || !path.starts_with(&medium.mount_point) {
            return FileOutcome::Skipped;
        }
        let meta = match fs::symlink_metadata(path) {
            Ok(m) if m.is_file() => m,
            Ok(_) => return FileOutcome::Skipped,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if medium_gone(medium) {
                    let person = self.cfg.person.clone();
                    return self.uninspectable(
                        medium,
                        path,
                        person,
                        None,
                        "the medium was removed before inspection",
                        true,
                    );
                }
                tracing::info!(file = %path.display(), "gone before inspection (deleted or renamed; a rename is found by the next rescan)");
                return FileOutcome::Gone;
            }
            Err(e) => {
                let person = self.cfg.person.clone();
                return self.uninspectable(medium, path, person, None, &e.to_string(), false);
            }
        };
        let person = self.person(pid, &meta);
        tracing::info!(file = %path.display(), size = meta.len(), "inspecting");
        let keep_whole = meta.len() <= self.cfg.usb.quarantine_max_bytes;
        // A copy taken for inspection: what is judged is what is kept, even when the file
        // changes on the medium or the medium goes away meanwhile.
        let mut snapshot = None;
        let mut meta = meta;
        for _ in 0..5 {
            if !keep_whole {
                break;
            }
            match self.copy(path) {
                Ok((temp, len, hash)) => {
                    let after = fs::symlink_metadata(path).ok();
                    let settled = after
                        .as_ref()
                        .is_some_and(|a| a.len() == len && mtime_ns(a) == mtime_ns(&meta));
                    snapshot = Some((temp, len, hash));
                    if settled {
                        break;
                    }
                    tracing::info!(file = %path.display(), "still being written; copying the newer version");
                    match after {
                        Some(a) => meta = a,
                        None => break,
                    }
                }
                Err(e) if storage_full(&e) => {
                    tracing::error!(file = %path.display(), %e, "no space for the inspection copy in the agent's data directory; the file is tried again at the next rescan");
                    return FileOutcome::NotActed {
                        why: format!("agent disk full: {e}"),
                    };
                }
                Err(e) => {
                    let removed = medium_gone(medium);
                    if !removed && e.kind() == io::ErrorKind::NotFound {
                        tracing::info!(file = %path.display(), "gone before inspection");
                        return FileOutcome::Gone;
                    }
                    return self.uninspectable(
                        medium,
                        path,
                        person,
                        Some(meta.len()),
                        &e.to_string(),
                        removed,
                    );
                }
            }
        }
        let (blob, hash) = match snapshot {
            Some((temp, len, hash)) => (Blob::from_temp(temp, len), Some(hash)),
            None => match Blob::from_path(path) {
                Ok(b) => (b, None),
                Err(e) => {
                    let removed = medium_gone(medium);
                    return self.uninspectable(
                        medium,
                        path,
                        person,
                        Some(meta.len()),
                        &e.to_string(),
                        removed,
                    );
                }
            },
        };
        // A file too large to copy is judged in place and remembered by size and time only.
        let seen = Some(Seen {
            size: blob.len(),
            mtime_ns: mtime_ns(&meta),
            blake3: hash.clone().unwrap_or_default(),
        });
        if let (Some(s), Some(old)) = (&seen, self.index.files.get(&Self::key(medium, path)))
            && !s.blake3.is_empty()
            && old.blake3 == s.blake3
        {
            let s = s.clone();
            self.remember(medium, path, Some(s));
            return FileOutcome::Unchanged;
        }
        let report = match self.inspect_timed(blob.clone(), &name) {
            Some(r) => r,
            None => {
                let why = format!(
                    "inspection took longer than {} s",
                    self.cfg.usb.inspect_timeout_secs
                );
                return self.uninspectable_with(
                    medium,
                    path,
                    person,
                    Some(blob.len()),
                    &why,
                    false,
                    serde_json::json!({ "timed_out": true }),
                );
            }
        };
        let action = report.verdict.action;
        match action {
            Action::Allow => {
                tracing::info!(file = %path.display(), "clean");
                self.remember(medium, path, seen);
                FileOutcome::Clean
            }
            Action::Audit | Action::Alert => {
                let mut ev = self.event(medium, path, &name, person, &report);
                ev.local_action = if action == Action::Alert {
                    "alerted"
                } else {
                    "none"
                }
                .into();
                let pushed = match blob.open() {
                    Ok(mut r) => self.queue.push(&mut ev, Some(&mut r)),
                    Err(e) => Err(e.into()),
                };
                if let Err(e) = pushed {
                    tracing::error!(file = %path.display(), %e, "cannot queue the event (disk full?); the file is tried again at the next rescan");
                    return FileOutcome::NotActed {
                        why: format!("{e:#}"),
                    };
                }
                tracing::warn!(file = %path.display(), event = %ev.id, "alert: event queued");
                self.remember(medium, path, seen);
                FileOutcome::Alerted { event: ev.id }
            }
            Action::Quarantine | Action::Block => {
                self.block(medium, path, &name, person, &report, blob)
            }
        }
    }

    /// Move a blocked file off the medium (see the module doc for the order and why).
    ///
    /// The steps are journalled (`DATA_DIR/usb-journal/ID.json`, the event with its id,
    /// written before the file is touched): a kill -9 anywhere between the quarantine and
    /// the queue leaves an entry that [`Inspector::replay_journal`] completes with the same
    /// event id, so the file is neither recorded twice nor lost.
    fn block(
        &mut self,
        medium: &Medium,
        path: &Path,
        name: &str,
        person: Option<String>,
        report: &ObjectReport,
        blob: Blob,
    ) -> FileOutcome {
        let mut ev = self.event(medium, path, name, person, report);
        ev.local_action = "blocked".into();
        let keep = blob.len() <= self.cfg.usb.quarantine_max_bytes && blob.path() != Some(path);
        let kept = if keep {
            let put = blob
                .open()
                .map_err(anyhow::Error::from)
                .and_then(|mut r| self.quarantine.put(&mut r));
            match put {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::error!(file = %path.display(), %e, "cannot keep the blocked file in the quarantine (disk full?); left on the medium, tried again at the next rescan");
                    return FileOutcome::NotActed {
                        why: format!("{e:#}"),
                    };
                }
            }
        } else {
            ev.details["not_kept"] = serde_json::json!(format!(
                "larger than usb.quarantine_max_bytes ({} bytes)",
                self.cfg.usb.quarantine_max_bytes
            ));
            None
        };
        let mut entry = JournalEntry {
            stage: Stage::Moving,
            event: ev,
            path: path.to_owned(),
            mount_point: medium.mount_point.clone(),
            medium: medium.label(),
            kept: kept.as_ref().map(|r| (r.hash.clone(), r.size as u64)),
            reasons: reasons(report),
        };
        if let Err(e) = self.journal_write(&entry) {
            tracing::error!(file = %path.display(), %e, "cannot write the journal (disk full?); left on the medium, tried again at the next rescan");
            return FileOutcome::NotActed {
                why: format!("agent disk full: {e}"),
            };
        }
        crash_point("before-move");
        let notice_path = notice_path(path);
        match fs::remove_file(path) {
            Ok(()) => {
                crash_point("after-move");
                self.leave_notice(&mut entry);
            }
            Err(e) => {
                let removed = medium_gone(medium);
                tracing::error!(file = %path.display(), %e, medium_removed = removed, "blocked file could not be removed from the medium");
                let ev = &mut entry.event;
                ev.local_action = "alerted".into();
                ev.details["removal_failed"] = serde_json::json!(e.to_string());
                if removed {
                    ev.details["medium_removed"] = serde_json::json!(true);
                }
            }
        }
        entry.stage = Stage::Acted;
        if let Err(e) = self.journal_write(&entry) {
            tracing::warn!(%e, "cannot update the journal");
        }
        let mut content = if keep { blob.open().ok() } else { None };
        self.finish(&entry, content.as_mut().map(|r| r as &mut dyn Read));
        self.remember(medium, path, None);
        let ev = entry.event;
        if ev.local_action == "blocked" {
            tracing::warn!(file = %path.display(), event = %ev.id, "blocked: moved into the quarantine");
            notify_desktop(
                "保密提示：文件已被拦截",
                &format!(
                    "“{name}”含涉密或敏感内容，已从移动介质移除（{}）。如有疑问请联系{}。事件编号 {}",
                    entry.reasons.join("、"),
                    self.cfg.contact,
                    ev.id
                ),
            );
            FileOutcome::Blocked {
                event: ev.id,
                notice: notice_path,
            }
        } else {
            FileOutcome::NotActed {
                why: "the file could not be removed from the medium".into(),
            }
        }
    }

    /// The notice in the removed file's place (a failure is noted in the event).
    fn leave_notice(&self, entry: &mut JournalEntry) {
        let notice = notice_path(&entry.path);
        let name = entry.event.name.clone();
        let text = notice_text(
            &name,
            &entry.reasons,
            &entry.event.id,
            &self.cfg.contact,
            &entry.event.at,
        );
        if let Err(e) = fs::write(&notice, text) {
            tracing::warn!(file = %notice.display(), %e, "cannot leave the notice on the medium");
            entry.event.details["notice_failed"] = serde_json::json!(e.to_string());
        }
    }

    /// The last steps of a block, also when replayed: the quarantine's index line (once per
    /// event) and the queued event with its content; then the journal entry goes. When the
    /// queue cannot take it (its disk full) the entry stays and is tried again at the next
    /// rescan and start.
    fn finish(&mut self, entry: &JournalEntry, content: Option<&mut dyn Read>) -> bool {
        let ev = &entry.event;
        if let Some((hash, size)) = &entry.kept {
            let noted = self
                .quarantine
                .entries()
                .map(|es| es.iter().any(|e| e.event_id == ev.id))
                .unwrap_or(false);
            if !noted {
                let q = quarantine::Entry {
                    at: ev.at.clone(),
                    event_id: ev.id.clone(),
                    hash: hash.clone(),
                    size: *size,
                    path: entry.path.clone(),
                    medium: entry.medium.clone(),
                };
                if let Err(e) = self.quarantine.note(&q) {
                    tracing::error!(%e, "cannot note the quarantined file in the index");
                }
            }
        }
        let mut ev = ev.clone();
        let pushed = match content {
            Some(r) => self.queue.push(&mut ev, Some(r)),
            None if ev.content.is_some() => self.queue.push(&mut ev, None),
            None => {
                if entry.kept.is_some() {
                    ev.details["content_unreadable"] =
                        serde_json::json!("the inspection copy was gone");
                }
                self.queue.push(&mut ev, None)
            }
        };
        match pushed {
            Ok(()) => {
                crash_point("after-queue");
                let _ = fs::remove_file(self.journal_path(&ev.id));
                true
            }
            Err(e) => {
                tracing::error!(event = %ev.id, %e, "cannot queue the incident (disk full?); the journal keeps it and the next rescan queues it");
                false
            }
        }
    }

    fn journal_dir(&self) -> PathBuf {
        self.cfg.data_dir.join("usb-journal")
    }

    fn journal_path(&self, id: &str) -> PathBuf {
        self.journal_dir().join(format!("{id}.json"))
    }

    fn journal_write(&self, entry: &JournalEntry) -> io::Result<()> {
        let dir = self.journal_dir();
        fs::create_dir_all(&dir)?;
        write_atomic(
            &self.journal_path(&entry.event.id),
            &serde_json::to_vec(entry).map_err(io::Error::other)?,
        )?;
        fs::File::open(&dir)?.sync_all()
    }

    /// Complete what a killed (or disk-full) run left half done, with the event ids it had
    /// assigned. `medium`: the medium being scanned now — only its entries still in the
    /// `moving` stage are looked at (whether the file is still there needs the medium);
    /// entries past the move are queued whatever medium they came from. Returns how many
    /// events were queued.
    pub fn replay_journal(&mut self, medium: Option<&Medium>) -> usize {
        let Ok(dir) = fs::read_dir(self.journal_dir()) else {
            return 0;
        };
        let mut entries: Vec<JournalEntry> = dir
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| serde_json::from_slice(&fs::read(e.path()).ok()?).ok())
            .collect();
        entries.sort_by(|a, b| a.event.at.cmp(&b.event.at));
        let mut queued = 0;
        for mut entry in entries {
            if entry.stage == Stage::Moving {
                let Some(m) = medium
                    .filter(|m| m.label() == entry.medium && m.mount_point == entry.mount_point)
                else {
                    continue;
                };
                if medium_gone(m) {
                    continue;
                }
                if fs::symlink_metadata(&entry.path).is_ok() {
                    // Killed before the removal: nothing was queued under this id; the file
                    // is not in the index, so this scan inspects it afresh.
                    tracing::info!(file = %entry.path.display(), "interrupted block: the file is still there, inspected again");
                    let _ = fs::remove_file(self.journal_path(&entry.event.id));
                    continue;
                }
                tracing::warn!(file = %entry.path.display(), event = %entry.event.id, "interrupted block completed after a restart");
                entry.event.details["completed_after_restart"] = serde_json::json!(true);
                if !notice_path(&entry.path).exists() {
                    self.leave_notice(&mut entry);
                }
                entry.stage = Stage::Acted;
                let _ = self.journal_write(&entry);
            }
            let mut content: Option<fs::File> = match &entry.kept {
                Some((hash, _)) if entry.event.content.is_none() => {
                    match self.restore_to_spool(hash) {
                        Ok(f) => Some(f),
                        Err(e) => {
                            tracing::error!(%e, "cannot read the quarantined copy back");
                            None
                        }
                    }
                }
                _ => None,
            };
            if self.finish(&entry, content.as_mut().map(|f| f as &mut dyn Read)) {
                queued += 1;
            }
        }
        queued
    }

    /// A quarantined file decrypted into an unnamed spool file, for the queue.
    fn restore_to_spool(&self, hash: &str) -> anyhow::Result<fs::File> {
        let mut f = tempfile::tempfile_in(&self.spool)?;
        self.quarantine.restore(hash, &mut f)?;
        use std::io::Seek;
        f.seek(io::SeekFrom::Start(0))?;
        Ok(f)
    }

    fn uninspectable(
        &mut self,
        medium: &Medium,
        path: &Path,
        person: Option<String>,
        size: Option<u64>,
        why: &str,
        medium_removed: bool,
    ) -> FileOutcome {
        self.uninspectable_with(
            medium,
            path,
            person,
            size,
            why,
            medium_removed,
            serde_json::Value::Null,
        )
    }

    /// [`Self::uninspectable`] with more details (an object merged into the event's).
    #[allow(clippy::too_many_arguments)]
    fn uninspectable_with(
        &mut self,
        medium: &Medium,
        path: &Path,
        person: Option<String>,
        size: Option<u64>,
        why: &str,
        medium_removed: bool,
        extra: serde_json::Value,
    ) -> FileOutcome {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut ev = Event::new("usb", &name, &self.machine);
        ev.person = person;
        ev.department = self.cfg.department.clone();
        ev.destination = Some(medium.label());
        ev.local_action = "uninspectable".into();
        let mut details = medium.details();
        details["path"] = serde_json::json!(path);
        details["size"] = serde_json::json!(size);
        details["error"] = serde_json::json!(why);
        if medium_removed {
            details["medium_removed"] = serde_json::json!(true);
        }
        if let serde_json::Value::Object(extra) = extra {
            for (k, v) in extra {
                details[k] = v;
            }
        }
        ev.details = details;
        tracing::warn!(file = %path.display(), reason = why, medium_removed, "could not be inspected; event queued");
        if let Err(e) = self.queue.push(&mut ev, None) {
            tracing::error!(%e, "cannot queue the event (disk full?)");
        } else if let Ok(meta) = fs::symlink_metadata(path) {
            // Remembered as it is, so the rescans do not report it again every minute; a
            // change to it brings a new inspection.
            let seen = Seen {
                size: meta.len(),
                mtime_ns: mtime_ns(&meta),
                blake3: String::new(),
            };
            self.remember(medium, path, Some(seen));
        }
        FileOutcome::Uninspectable {
            event: ev.id,
            why: why.to_owned(),
        }
    }

    fn event(
        &self,
        medium: &Medium,
        path: &Path,
        name: &str,
        person: Option<String>,
        report: &ObjectReport,
    ) -> Event {
        let mut ev = Event::new("usb", name, &self.machine);
        ev.person = person;
        ev.department = self.cfg.department.clone();
        ev.destination = Some(medium.label());
        let mut details = medium.details();
        details["path"] = serde_json::json!(path);
        details["size"] = serde_json::json!(report.size);
        details["action"] = serde_json::json!(report.verdict.action.as_str());
        details["rules"] = serde_json::json!(report.verdict.rules);
        details["reasons"] = serde_json::json!(reasons(report));
        ev.details = details;
        ev
    }

    /// Who wrote it: `person` from the config, else the account of the writing process,
    /// else the file's owner.
    fn person(&self, pid: Option<i32>, meta: &fs::Metadata) -> Option<String> {
        use std::os::unix::fs::MetadataExt;
        if let Some(p) = &self.cfg.person {
            return Some(p.clone());
        }
        let uid = pid.and_then(process_uid).unwrap_or(meta.uid());
        user_name(uid)
    }

    /// Copy `path` into the spool, hashing it on the way.
    fn copy(&self, path: &Path) -> io::Result<(tempfile::TempPath, u64, String)> {
        let mut src = fs::File::open(path)?;
        let mut tmp = tempfile::Builder::new()
            .prefix("usb-")
            .tempfile_in(&self.spool)?;
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut len = 0u64;
        loop {
            let n = src.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])?;
            len += n as u64;
        }
        tmp.flush()?;
        Ok((
            tmp.into_temp_path(),
            len,
            hasher.finalize().to_hex().to_string(),
        ))
    }

    /// The engine's report within `usb.inspect_timeout_secs`, or None. A late inspection
    /// runs on in its thread until the engine's own time limit ends it; its result is
    /// dropped.
    fn inspect_timed(&self, blob: Blob, name: &str) -> Option<ObjectReport> {
        let (tx, rx) = mpsc::channel();
        let engine = self.engine.clone();
        let name = name.to_owned();
        std::thread::Builder::new()
            .name("baomi-inspect".into())
            .spawn(move || {
                let r = engine.inspect(blob, &name, Channel::Usb);
                let _ = tx.send(r);
            })
            .ok()?;
        rx.recv_timeout(Duration::from_secs(
            self.cfg.usb.inspect_timeout_secs.max(1),
        ))
        .ok()
    }
}

/// The server's incident number for a delivered event: one line in
/// `DATA_DIR/incident-numbers.jsonl` (event id → number, the mapping a security officer or
/// the user looks up), and — for a file blocked on a medium whose notice is still there and
/// still names the event — the notice rewritten to name the number first
/// (`事件编号：BM-… （终端事件 ID）`). Never fails: a medium that is gone or read-only
/// keeps the first notice, the mapping has the number.
pub fn note_incident_number(data_dir: &Path, ev: &Event, number: &str) {
    let line = serde_json::json!({
        "event_id": ev.id,
        "incident": number,
        "channel": ev.channel,
        "name": ev.name,
        "at": ev.at,
        "noted": crate::queue::now_rfc3339(),
    });
    let appended = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.join("incident-numbers.jsonl"))
        .and_then(|mut f| writeln!(f, "{line}"));
    if let Err(e) = appended {
        tracing::warn!(%e, event = %ev.id, number, "cannot note the incident number");
    }
    if ev.channel != "usb" || ev.local_action != "blocked" {
        return;
    }
    let Some(path) = ev.details["path"].as_str() else {
        return;
    };
    let notice = notice_path(Path::new(path));
    let Ok(text) = fs::read_to_string(&notice) else {
        return;
    };
    let old = format!("事件编号：{}", ev.id);
    if !text.contains(&old) {
        return;
    }
    let text = text
        .replace(&old, &format!("事件编号：{number}（终端事件 {}）", ev.id))
        .replace(
            &format!("Event {}.", ev.id),
            &format!("Incident {number} (event {}).", ev.id),
        );
    match fs::write(&notice, text) {
        Ok(()) => {
            tracing::info!(notice = %notice.display(), number, "the notice names the incident number")
        }
        Err(e) => tracing::info!(notice = %notice.display(), %e, "cannot update the notice"),
    }
}

/// `NAME.baomi-blocked.txt` beside where the file was.
pub fn notice_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(NOTICE_SUFFIX);
    PathBuf::from(s)
}

/// The reasons' short names (finding kinds in Chinese), never the matched text.
pub fn reasons(report: &ObjectReport) -> Vec<String> {
    let mut kinds: Vec<_> = report.findings.iter().map(|f| f.kind).collect();
    kinds.sort_by_key(|k| k.as_str());
    kinds.dedup();
    kinds.into_iter().map(|k| k.zh().to_owned()).collect()
}

/// The notice left in a blocked file's place. It names the file, the kinds of what was
/// found (never the found text itself: the notice stays on the medium), the event id and
/// whom to ask.
pub fn notice_text(
    name: &str,
    reasons: &[String],
    event_id: &str,
    contact: &str,
    at: &str,
) -> String {
    let why = if reasons.is_empty() {
        "按本单位保密策略不得拷贝至移动介质".to_owned()
    } else {
        reasons.join("、")
    };
    format!(
        "保密提示\r\n\r\n\
         文件“{name}”含涉密或敏感内容，已被保密系统从本移动介质上移除，并加密保存在本计算机上。\r\n\
         原因：{why}\r\n\
         时间：{at}\r\n\
         事件编号：{event_id}\r\n\r\n\
         如确因工作需要拷贝，请联系{contact}，并提供上述事件编号。\r\n\
         请勿以改名、压缩、拆分等方式再次拷贝。\r\n\r\n\
         Baomi: \"{name}\" was removed from this medium because it contains classified or \
         sensitive content ({}). Event {event_id}. Ask: {contact}.\r\n",
        if reasons.is_empty() {
            "policy"
        } else {
            "see above"
        }
    )
}

/// Try a desktop notification for every user session with a session bus
/// (`/run/user/UID/bus`), through `notify-send` as that user. Never fails, never waits
/// long: a missing `notify-send` or bus is logged at debug level.
pub fn notify_desktop(title: &str, body: &str) {
    use std::os::unix::process::CommandExt;
    let Ok(users) = fs::read_dir("/run/user") else {
        return;
    };
    for u in users.flatten() {
        let Some(uid) = u.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let bus = u.path().join("bus");
        if !bus.exists() {
            continue;
        }
        let gid = process_gid_of_uid(uid).unwrap_or(uid);
        let spawned = std::process::Command::new("notify-send")
            .args(["--app-name=保密", "--urgency=critical", title, body])
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env(
                "DBUS_SESSION_BUS_ADDRESS",
                format!("unix:path={}", bus.display()),
            )
            .env("XDG_RUNTIME_DIR", u.path())
            .uid(uid)
            .gid(gid)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        match spawned {
            Ok(mut child) => {
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        if child.try_wait().ok().flatten().is_some() {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    let _ = child.kill();
                    let _ = child.wait();
                });
            }
            Err(e) => tracing::debug!(uid, %e, "no desktop notification"),
        }
    }
}

/// `usb.mode = "read-only-unless-registered"`: remount an unregistered medium read-only
/// as soon as it is seen (`mount -o remount,ro`), and a registered one that was mounted
/// read-only (udisks2 told to mount everything read-only, see the README) read-write.
/// `registered` is the decision of [`crate::carriers::Carriers::check`] (the config's list
/// or the server's ledger). Returns whether it is read-only now.
pub fn enforce_read_only(
    cfg: &AgentConfig,
    medium: &Medium,
    already_ro: bool,
    registered: bool,
) -> bool {
    if cfg.usb.mode != UsbMode::ReadOnlyUnlessRegistered {
        return already_ro;
    }
    if registered != already_ro {
        return already_ro;
    }
    let (opt, now_ro) = if registered {
        ("remount,rw", false)
    } else {
        ("remount,ro", true)
    };
    let status = std::process::Command::new("mount")
        .args(["-o", opt])
        .arg(&medium.mount_point)
        .stdin(std::process::Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => {
            tracing::warn!(medium = %medium.label(), mount = %medium.mount_point.display(), registered, "medium remounted {}", if now_ro { "read-only" } else { "read-write" });
            now_ro
        }
        Ok(s) => {
            tracing::error!(medium = %medium.label(), %s, registered, "cannot remount the medium ({opt})");
            already_ro
        }
        Err(e) => {
            tracing::error!(medium = %medium.label(), %e, "cannot run mount");
            already_ro
        }
    }
}

fn medium_gone(medium: &Medium) -> bool {
    if !medium.is_mount {
        return !medium.mount_point.is_dir();
    }
    match crate::mounts::current() {
        Ok(m) => !m.iter().any(|m| m.mount_point == medium.mount_point),
        Err(_) => false,
    }
}

fn storage_full(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

fn mtime_ns(meta: &fs::Metadata) -> i128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".index").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The real uid of a running process.
fn process_uid(pid: i32) -> Option<u32> {
    if pid <= 0 {
        return None;
    }
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|u| u.parse().ok())
}

/// The account name of `uid` from /etc/passwd (directory users through NSS are named by
/// number then: `uid:1000`).
pub fn user_name(uid: u32) -> Option<String> {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            let _ = f.next()?;
            (f.next()?.parse::<u32>().ok()? == uid).then(|| name.to_owned())
        })
        .or_else(|| Some(format!("uid:{uid}")))
}

fn process_gid_of_uid(uid: u32) -> Option<u32> {
    let passwd = fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 3 && f[2].parse::<u32>().ok()? == uid).then(|| f[3].parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_says_why_and_whom_to_ask_without_the_data() {
        let t = notice_text(
            "关于某工程的通知.docx",
            &["密级标志".into(), "身份证号".into()],
            "0b6f1c1e-8a43-4f6e-9f0e-2d6f3f0e9a11",
            "保密办 王某 分机 8001",
            "2026-12-03T02:00:00Z",
        );
        assert!(t.contains("关于某工程的通知.docx"));
        assert!(t.contains("原因：密级标志、身份证号"));
        assert!(t.contains("事件编号：0b6f1c1e-8a43-4f6e-9f0e-2d6f3f0e9a11"));
        assert!(t.contains("请联系保密办 王某 分机 8001"));
        let t = notice_text("a.txt", &[], "e", "保密办", "t");
        assert!(t.contains("按本单位保密策略"));
    }

    #[test]
    fn notice_paths_keep_the_name() {
        assert_eq!(
            notice_path(Path::new("/media/u/报告.docx")),
            PathBuf::from("/media/u/报告.docx.baomi-blocked.txt")
        );
    }

    #[test]
    fn media_are_labelled_by_serial_and_registration_is_by_serial() {
        let mut cfg = AgentConfig::default();
        cfg.usb.registered = vec!["e0d55ea5741".into()];
        let mut m = Medium {
            mount_point: "/media/u/K".into(),
            device: None,
            source: "/dev/sdb1".into(),
            explicit: false,
            is_mount: true,
        };
        assert_eq!(m.label(), "usb:/media/u/K");
        assert!(!m.registered(&cfg));
        m.device = Some(Device {
            serial: Some("E0D55EA5741".into()),
            ..Default::default()
        });
        assert_eq!(m.label(), "usb:E0D55EA5741");
        assert!(m.registered(&cfg));
    }

    #[test]
    fn users_are_named_from_passwd() {
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert_eq!(user_name(4_000_000_000).as_deref(), Some("uid:4000000000"));
    }
}
