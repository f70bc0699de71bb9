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
//!   (`timed_out`); the file stays. The agent never holds up a write: it learns of it after
//!   the fact (fanotify notification, not permission).
//! - **the agent's disk full**: the quarantine or the queue cannot take the file: nothing
//!   is removed (the file is never deleted without a kept copy), the error is logged, and
//!   the file — not in the index — is tried again at the next rescan.

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
        Ok(Inspector {
            engine,
            machine: cfg.machine_name(),
            cfg,
            queue,
            quarantine,
            index_path,
            index,
            spool,
        })
    }

    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// Inspect the files of `medium` not yet inspected as they are (the startup scan, a
    /// rescan after an overflow, the periodic rescan).
    pub fn scan_medium(&mut self, medium: &Medium) -> ScanCount {
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
                return self.uninspectable(medium, path, person, Some(blob.len()), &why, false);
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
        let notice_path = notice_path(path);
        let reasons = reasons(report);
        match fs::remove_file(path) {
            Ok(()) => {
                ev.local_action = "blocked".into();
                let text = notice_text(name, &reasons, &ev.id, &self.cfg.contact, &ev.at);
                if let Err(e) = fs::write(&notice_path, text) {
                    tracing::warn!(file = %notice_path.display(), %e, "cannot leave the notice on the medium");
                    ev.details["notice_failed"] = serde_json::json!(e.to_string());
                }
            }
            Err(e) => {
                let removed = medium_gone(medium);
                tracing::error!(file = %path.display(), %e, medium_removed = removed, "blocked file could not be removed from the medium");
                ev.local_action = "alerted".into();
                ev.details["removal_failed"] = serde_json::json!(e.to_string());
                if removed {
                    ev.details["medium_removed"] = serde_json::json!(true);
                }
            }
        }
        if let Some(r) = &kept {
            let entry = quarantine::Entry {
                at: ev.at.clone(),
                event_id: ev.id.clone(),
                hash: r.hash.clone(),
                size: r.size as u64,
                path: path.to_owned(),
                medium: medium.label(),
            };
            if let Err(e) = self.quarantine.note(&entry) {
                tracing::error!(%e, "cannot note the quarantined file in the index");
            }
        }
        let pushed = if keep {
            match blob.open() {
                Ok(mut r) => self.queue.push(&mut ev, Some(&mut r)),
                Err(e) => {
                    ev.details["content_unreadable"] = serde_json::json!(e.to_string());
                    self.queue.push(&mut ev, None)
                }
            }
        } else {
            self.queue.push(&mut ev, None)
        };
        if let Err(e) = pushed {
            tracing::error!(event = %ev.id, %e, "cannot queue the incident (disk full?); the quarantine index keeps the file's record");
        }
        self.remember(medium, path, None);
        if ev.local_action == "blocked" {
            tracing::warn!(file = %path.display(), event = %ev.id, "blocked: moved into the quarantine");
            notify_desktop(
                "保密提示：文件已被拦截",
                &format!(
                    "“{name}”含涉密或敏感内容，已从移动介质移除（{}）。如有疑问请联系{}。事件编号 {}",
                    reasons.join("、"),
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

    fn uninspectable(
        &mut self,
        medium: &Medium,
        path: &Path,
        person: Option<String>,
        size: Option<u64>,
        why: &str,
        medium_removed: bool,
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
/// Returns whether it is read-only now.
pub fn enforce_read_only(cfg: &AgentConfig, medium: &Medium, already_ro: bool) -> bool {
    if cfg.usb.mode != UsbMode::ReadOnlyUnlessRegistered {
        return already_ro;
    }
    let registered = medium.registered(cfg);
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
