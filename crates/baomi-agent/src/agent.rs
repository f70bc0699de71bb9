//! `baomi agent`: the service's loops.
//!
//! - **media**: `/proc/self/mountinfo` is read every second; a new mount whose block device
//!   is removable or on USB (sysfs), or that a `--watch`/`usb.watch` entry names, becomes a
//!   medium: made read-only first when `usb.mode` says so and it is not registered, marked
//!   for fanotify, and scanned (incrementally: files copied while the agent was not running,
//!   or while it was killed mid-inspection). Media are rescanned every minute and after
//!   fanotify's queue overflowed.
//! - **writes**: a `FAN_CLOSE_WRITE` on a medium is inspected once the file has been quiet
//!   for half a second (a file written in several opens is inspected in its last version).
//!   Inspection runs on its own thread, so reading events never waits for the engine.
//! - **delivery**: its own thread carries the queue to the server (`deliver.rs`), woken
//!   when an event is queued, backing off while the server is away.
//! - **held print jobs**: another thread asks the server every `print.decision_poll_secs`
//!   for the security officer's decisions on jobs the CUPS backend held, and carries them
//!   out against the local cupsd (`cups::carry_out`: release and `lp -H resume`, or cancel).
//!
//! `--once` (tests, cron): scan the media there are now, deliver the queue once, carry out
//! the decisions on held print jobs, exit.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use baomi_engine::Engine;

use crate::carriers::Carriers;
use crate::config::{AgentConfig, UsbMode};
use crate::deliver::{Deliverer, Pass, backoff};
use crate::fanotify::{Watcher, Written};
use crate::mounts;
use crate::queue::Queue;
use crate::usb::{FileOutcome, Inspector, Medium, ScanCount, enforce_read_only};

/// How the agent runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Directories treated as removable media, beside `usb.watch`.
    pub watch: Vec<PathBuf>,
    /// Scan and deliver once, then return.
    pub once: bool,
    /// Where sysfs is (`/sys`).
    pub sys: PathBuf,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            watch: Vec::new(),
            once: false,
            sys: PathBuf::from("/sys"),
        }
    }
}

/// What `--once` did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Summary {
    pub media: usize,
    pub scan: ScanCount,
    pub delivery: Pass,
    /// Decisions on held print jobs carried out.
    pub print_decisions: usize,
}

/// How long a written file must be quiet before it is inspected.
const SETTLE: Duration = Duration::from_millis(500);
/// How often every medium is rescanned (stat only for files already inspected).
const RESCAN: Duration = Duration::from_secs(60);

enum Job {
    File {
        medium: Medium,
        path: PathBuf,
        pid: i32,
    },
    Scan(Medium),
}

/// The media there are now: removable mounts and the watched directories.
fn discover(cfg: &AgentConfig, opts: &RunOptions) -> Vec<Medium> {
    let mounts = mounts::current().unwrap_or_else(|e| {
        tracing::error!(%e, "cannot read /proc/self/mountinfo");
        Vec::new()
    });
    let watched: Vec<PathBuf> = cfg
        .usb
        .watch
        .iter()
        .chain(&opts.watch)
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
        .collect();
    let mut out = Vec::new();
    for w in &watched {
        if !w.is_dir() {
            continue;
        }
        let mount = mounts.iter().rev().find(|m| &m.mount_point == w);
        out.push(Medium {
            mount_point: w.clone(),
            device: mount.and_then(|m| mounts::device(&opts.sys, m.major, m.minor)),
            source: mount.map(|m| m.source.clone()).unwrap_or_default(),
            explicit: true,
            is_mount: mount.is_some(),
        });
    }
    for m in &mounts {
        if watched.contains(&m.mount_point) || out.iter().any(|o| o.mount_point == m.mount_point) {
            continue;
        }
        if let Some(d) = mounts::device(&opts.sys, m.major, m.minor)
            && d.is_removable_media()
        {
            out.push(Medium {
                mount_point: m.mount_point.clone(),
                device: Some(d),
                source: m.source.clone(),
                explicit: false,
                is_mount: true,
            });
        }
    }
    out
}

/// `usb.mode = "read-only-unless-registered"`: ask whether the medium is registered (the
/// config, the server's ledger, the last answer kept) and remount it accordingly. Returns
/// whether it is read-only now.
fn apply_mode(cfg: &AgentConfig, carriers: &mut Carriers, medium: &Medium) -> bool {
    let ro = is_read_only(&medium.mount_point);
    if cfg.usb.mode != UsbMode::ReadOnlyUnlessRegistered {
        return ro;
    }
    let r = carriers.check(cfg, medium);
    let a = r.answer.clone();
    tracing::info!(
        medium = %medium.label(),
        writable = r.writable,
        by = r.source.as_str(),
        carrier = a.as_ref().and_then(|a| a.number.as_deref()).unwrap_or(""),
        state = a.as_ref().and_then(|a| a.state.as_deref()).unwrap_or(""),
        holder = a.as_ref().and_then(|a| a.holder.as_deref()).unwrap_or(""),
        "registration"
    );
    enforce_read_only(cfg, medium, ro, r.writable)
}

fn is_read_only(mount_point: &Path) -> bool {
    mounts::current()
        .ok()
        .and_then(|ms| ms.into_iter().rev().find(|m| m.mount_point == mount_point))
        .is_some_and(|m| m.read_only())
}

/// Run the agent. Returns only with `--once` (or on a fatal error).
pub fn run(cfg: AgentConfig, engine: Arc<Engine>, opts: RunOptions) -> anyhow::Result<Summary> {
    let deliverer = Deliverer::new(&cfg)?;
    if deliverer.is_none() {
        tracing::warn!("no server configured: incidents stay in the local queue");
    }
    let mut inspector = Inspector::new(engine, cfg.clone())?;
    let mut carriers = Carriers::new(&cfg)?;
    if opts.once {
        let mut summary = Summary::default();
        for medium in discover(&cfg, &opts) {
            summary.media += 1;
            let ro = apply_mode(&cfg, &mut carriers, &medium);
            tracing::info!(medium = %medium.label(), mount = %medium.mount_point.display(), read_only = ro, "medium");
            let c = inspector.scan_medium(&medium);
            summary.scan.files += c.files;
            summary.scan.inspected += c.inspected;
            summary.scan.blocked += c.blocked;
            summary.scan.alerted += c.alerted;
            summary.scan.uninspectable += c.uninspectable;
        }
        if let Some(d) = &deliverer {
            summary.delivery = d.pass(inspector.queue())?;
            match d.print_pass() {
                Ok(n) => summary.print_decisions = n,
                Err(e) => tracing::warn!(%e, "cannot fetch the decisions on held print jobs"),
            }
        } else {
            summary.delivery.waiting = inspector.queue().pending()?.len();
        }
        let _ = inspector.queue().sweep();
        return Ok(summary);
    }

    let (kick_tx, kick_rx) = mpsc::channel::<()>();
    if let Some(d) = Deliverer::new(&cfg)? {
        let every = Duration::from_secs(cfg.print.decision_poll_secs.max(1));
        std::thread::Builder::new()
            .name("baomi-print-decisions".into())
            .spawn(move || {
                loop {
                    if let Err(e) = d.print_pass() {
                        tracing::debug!(%e, "cannot fetch the decisions on held print jobs");
                    }
                    std::thread::sleep(every);
                }
            })?;
    }
    if let Some(d) = deliverer {
        let queue = Queue::open(&cfg.queue_dir())?;
        std::thread::Builder::new()
            .name("baomi-deliver".into())
            .spawn(move || delivery_loop(d, queue, kick_rx))?;
    }
    let (job_tx, job_rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("baomi-usb".into())
        .spawn(move || {
            for job in job_rx {
                let queued = match job {
                    Job::File { medium, path, pid } => {
                        let outcome = inspector.inspect_file(&medium, &path, Some(pid));
                        tracing::debug!(file = %path.display(), ?outcome, "inspected");
                        matches!(
                            outcome,
                            FileOutcome::Alerted { .. }
                                | FileOutcome::Blocked { .. }
                                | FileOutcome::Uninspectable { .. }
                                | FileOutcome::NotActed { .. }
                        )
                    }
                    Job::Scan(medium) => {
                        let c = inspector.scan_medium(&medium);
                        tracing::info!(medium = %medium.label(), files = c.files, inspected = c.inspected, blocked = c.blocked, "medium scanned");
                        c.blocked + c.alerted + c.uninspectable > 0
                    }
                };
                if queued {
                    let _ = kick_tx.send(());
                }
            }
        })?;

    let watcher = Watcher::new()?;
    let me = std::process::id() as i32;
    let mut media: HashMap<PathBuf, Medium> = HashMap::new();
    let mut written: HashMap<PathBuf, (Medium, i32, Instant)> = HashMap::new();
    let mut last_mounts = Instant::now() - Duration::from_secs(10);
    let mut last_rescan = Instant::now();
    loop {
        if last_mounts.elapsed() >= Duration::from_secs(1) {
            last_mounts = Instant::now();
            let now: Vec<Medium> = discover(&cfg, &opts);
            media.retain(|mp, m| {
                let still = now.iter().any(|n| &n.mount_point == mp);
                if !still {
                    tracing::info!(medium = %m.label(), mount = %mp.display(), "medium gone");
                    if m.is_mount {
                        watcher.unwatch_mount(mp);
                    }
                }
                still
            });
            for m in now {
                if media.contains_key(&m.mount_point) {
                    continue;
                }
                let ro = apply_mode(&cfg, &mut carriers, &m);
                let d = m.device.clone().unwrap_or_default();
                tracing::warn!(
                    medium = %m.label(),
                    mount = %m.mount_point.display(),
                    vendor = d.vendor.as_deref().unwrap_or(""),
                    model = d.model.as_deref().unwrap_or(""),
                    serial = d.serial.as_deref().unwrap_or(""),
                    read_only = ro,
                    "removable medium"
                );
                let marked = if m.is_mount {
                    watcher.watch_mount(&m.mount_point)
                } else {
                    watcher.watch_tree(&m.mount_point)
                };
                if let Err(e) = marked {
                    tracing::error!(mount = %m.mount_point.display(), %e, "cannot watch the medium");
                }
                let _ = job_tx.send(Job::Scan(m.clone()));
                media.insert(m.mount_point.clone(), m);
            }
        }
        if last_rescan.elapsed() >= RESCAN {
            last_rescan = Instant::now();
            for m in media.values() {
                if !m.is_mount {
                    let _ = watcher.watch_tree(&m.mount_point);
                }
                let _ = job_tx.send(Job::Scan(m.clone()));
            }
        }
        for w in watcher.wait(Duration::from_millis(200))? {
            match w {
                Written::Overflow => {
                    tracing::warn!("fanotify queue overflowed: rescanning every medium");
                    for m in media.values() {
                        let _ = job_tx.send(Job::Scan(m.clone()));
                    }
                }
                Written::File { path, pid } => {
                    if pid == me {
                        continue;
                    }
                    let Some(m) = media
                        .values()
                        .filter(|m| path.starts_with(&m.mount_point))
                        .max_by_key(|m| m.mount_point.as_os_str().len())
                    else {
                        continue;
                    };
                    written.insert(path, (m.clone(), pid, Instant::now()));
                }
            }
        }
        let settled: Vec<PathBuf> = written
            .iter()
            .filter(|(_, (_, _, at))| at.elapsed() >= SETTLE)
            .map(|(p, _)| p.clone())
            .collect();
        for p in settled {
            if let Some((medium, pid, _)) = written.remove(&p) {
                let _ = job_tx.send(Job::File {
                    medium,
                    path: p,
                    pid,
                });
            }
        }
    }
}

fn delivery_loop(d: Deliverer, queue: Queue, kick: mpsc::Receiver<()>) {
    let mut failures = 0u32;
    let mut last_sweep = Instant::now();
    loop {
        let wait = match d.pass(&queue) {
            Ok(p) if p.waiting == 0 => {
                failures = 0;
                Duration::from_secs(30)
            }
            Ok(_) => {
                let w = backoff(failures);
                failures = failures.saturating_add(1);
                w
            }
            Err(e) => {
                tracing::error!(%e, "cannot read the queue");
                let w = backoff(failures);
                failures = failures.saturating_add(1);
                w
            }
        };
        if last_sweep.elapsed() >= Duration::from_secs(3600) {
            last_sweep = Instant::now();
            let _ = queue.sweep();
        }
        // A new event wakes the loop at once when the server is reachable; while backing
        // off, a new event does not shorten the wait (it would hammer a server that is down).
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match kick.recv_timeout(left) {
                Ok(()) if failures == 0 => break,
                Ok(()) => continue,
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(left),
            }
        }
    }
}
