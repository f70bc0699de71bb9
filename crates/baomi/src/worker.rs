//! Self-inspection that outgrows one machine: `baomi scan PATH --queue` walks the tree and
//! enqueues batches of files as a job in the store; `baomi worker` (any number, on any
//! machine that shares the database and sees the files under the same paths) claims
//! batches, inspects them with the engine `baomi scan` uses and completes them with their
//! results and incidents; `baomi scan --queue-status [ID]` shows where a job stands.
//! The rules (leases, exactly one result per file, the index) are in
//! `baomi_store::scan_jobs`; this module is the walk, the inspection and the printing.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use baomi_core::{Channel, FindingKind};
use baomi_engine::{Engine, ObjectReport};
use baomi_scan::output::human_bytes;
use baomi_store::{
    ClaimedBatch, FileOutcome, NewScanJob, QueuedFile, ScanFileResult, ScanJobProgress,
    StateVersions, Store, StoreError, WALK_ALIVE_MS, WALK_LOST, WALK_SIGNAL, WALK_STALE_MS,
};
use clap::Args;
use serde_json::{Value, json};

use crate::{ScanArgs, admin, fingerprint, records, setup};

/// Files looked up in the index at a time while walking.
const LOOKUP_CHUNK: usize = 500;

#[derive(Args)]
pub struct WorkerArgs {
    /// This worker's name in leases and results (default: host name and process id).
    #[arg(long, value_name = "NAME")]
    id: Option<String>,
    /// How long a claimed batch stays this worker's without a heartbeat, in seconds; a
    /// worker that dies loses its batch to another this long after its last heartbeat.
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    lease: f64,
    /// How often the lease is renewed while a batch is inspected, in seconds (default: a
    /// third of --lease).
    #[arg(long, value_name = "SECS")]
    heartbeat: Option<f64>,
    /// How long to wait before asking again when there is nothing to claim, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 2.0)]
    poll: f64,
    /// Exit once every batch of every job is done (instead of waiting for new jobs).
    #[arg(long)]
    exit_when_idle: bool,
    /// Inspection threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Wait this long after each file, in milliseconds (spare a busy file server).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pace: u64,
    /// Wall-time limit per file in seconds.
    #[arg(long, value_name = "SECS")]
    time_limit: Option<u64>,
    /// Maximum nesting depth of containers.
    #[arg(long, value_name = "N")]
    max_depth: Option<u32>,
    /// Password bank (as for `baomi scan --passwords`).
    #[arg(long, value_name = "FILE")]
    passwords: Option<PathBuf>,
    /// Keep each file that blocks (quarantine or block) as encrypted evidence for its
    /// incident, up to `gateway.evidence_max_bytes`, in the vault of `[gateway]
    /// evidence_dir` (workers on several machines: the directory the nodes share), else of
    /// the data directory.
    #[arg(long)]
    with_evidence: bool,
}

fn secs(s: f64, what: &str) -> Result<Duration> {
    if !(s.is_finite() && s > 0.0) {
        bail!("{what} must be a positive number of seconds");
    }
    Ok(Duration::from_secs_f64(s))
}

fn mtime_ms(meta: &std::fs::Metadata) -> i64 {
    meta.modified()
        .ok()
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `baomi scan PATH --queue` and `baomi scan --queue-status [ID]`.
pub fn scan_command(args: &ScanArgs, data_dir: &Path, url: Option<&str>) -> Result<i32> {
    if let Some(id) = args.queue_status {
        return status(args, id, data_dir, url);
    }
    enqueue(args, data_dir, url)
}

fn enqueue(args: &ScanArgs, data_dir: &Path, url: Option<&str>) -> Result<i32> {
    if args.policy.is_some() || !args.dict.is_empty() || args.report.wanted() {
        bail!(
            "--queue: the workers decide with the store's policy and term lists (`baomi policy \
             set`, `baomi dict import`) and record in the store; --policy, --dict, \
             --report-to and --report-file do not apply"
        );
    }
    let json = match args.format.as_str() {
        "human" => false,
        "json" => true,
        other => bail!("--queue prints human or json, not {other:?}"),
    };
    let batch_files = args.batch_files.max(1);
    let batch_bytes = args.batch_mb.max(1).saturating_mul(1 << 20);
    let mut roots: Vec<PathBuf> = Vec::new();
    for p in &args.paths {
        let abs = p
            .canonicalize()
            .with_context(|| format!("{}: cannot be read", p.display()))?;
        if abs.to_str().is_none() {
            bail!("{}: the path is not UTF-8", abs.display());
        }
        if !roots.iter().any(|r| abs.starts_with(r)) {
            roots.retain(|r| !r.starts_with(&abs));
            roots.push(abs);
        }
    }
    let rt = admin::runtime()?;
    let store = rt.block_on(Store::open(data_dir, url))?;
    let tag = rt.block_on(store.state_versions())?.tag();
    let machine = args
        .report
        .machine
        .clone()
        .unwrap_or_else(records::hostname);
    let job = rt.block_on(store.scan_job_create(
        &NewScanJob {
            paths: roots.iter().map(|r| r.display().to_string()).collect(),
            machine,
            person: args.report.person.clone(),
            department: args.report.department.clone(),
        },
        &admin::console_actor(),
    ))?;

    let mut walk_errors = 0i64;
    let mut pending: Vec<QueuedFile> = Vec::new();
    let mut batch: Vec<QueuedFile> = Vec::new();
    let mut batch_size = 0u64;
    let (mut files, mut bytes, mut unchanged, mut batches) = (0u64, 0u64, 0i64, 0u64);
    let mut flush_pending = |pending: &mut Vec<QueuedFile>,
                             batch: &mut Vec<QueuedFile>,
                             batch_size: &mut u64,
                             last: bool|
     -> Result<()> {
        let paths: Vec<String> = pending.iter().map(|f| f.path.clone()).collect();
        let known = rt.block_on(store.scan_index_get(&paths))?;
        let mut left_out = 0i64;
        for mut f in pending.drain(..) {
            if let Some(k) = known.get(&f.path)
                && !args.full
                && k.state_tag == tag
                && k.size == f.size
            {
                if k.mtime_ms == f.mtime_ms {
                    left_out += 1;
                    continue;
                }
                // Same size, another mtime: the worker compares the bytes' hash.
                f.prev_blake3 = Some(k.blake3.clone());
            }
            files += 1;
            bytes += f.size as u64;
            *batch_size += f.size as u64;
            batch.push(f);
            if batch.len() >= batch_files || *batch_size >= batch_bytes {
                rt.block_on(store.scan_job_add_batch(job, batch, 0))?;
                batches += 1;
                batch.clear();
                *batch_size = 0;
            }
        }
        if last && !batch.is_empty() {
            rt.block_on(store.scan_job_add_batch(job, batch, 0))?;
            batches += 1;
            batch.clear();
            *batch_size = 0;
        }
        if left_out > 0 {
            rt.block_on(store.scan_job_add_batch(job, &[], left_out))?;
            unchanged += left_out;
        }
        Ok(())
    };

    let mut builder = ignore::WalkBuilder::new(&roots[0]);
    for r in &roots[1..] {
        builder.add(r);
    }
    builder
        .standard_filters(false)
        .follow_links(args.follow_symlinks);
    if !args.exclude.is_empty() {
        let base = if roots.len() == 1 && roots[0].is_dir() {
            roots[0].clone()
        } else {
            std::env::current_dir()?
        };
        let mut ov = ignore::overrides::OverrideBuilder::new(base);
        for pattern in &args.exclude {
            ov.add(&format!("!{pattern}"))
                .with_context(|| format!("--exclude {pattern}"))?;
        }
        builder.overrides(ov.build()?);
    }
    // Ctrl-C or SIGTERM ends the walk between two files: what was enqueued stays a job
    // (inspected as usual, marked partial) instead of a job left open for ever.
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        rt.spawn(async move {
            interrupt_signal().await;
            stop.store(true, Ordering::SeqCst);
        });
    }
    let mut alive = Instant::now();
    let mut interrupted: Option<String> = None;
    let walked = (|| -> Result<()> {
        for entry in builder.build() {
            if stop.load(Ordering::SeqCst) {
                interrupted = Some(WALK_SIGNAL.into());
                break;
            }
            if alive.elapsed() >= Duration::from_millis(WALK_ALIVE_MS as u64) {
                rt.block_on(store.scan_job_walk_alive(job))?;
                alive = Instant::now();
            }
            walk_entry(entry, &mut walk_errors, &mut pending);
            if pending.len() >= LOOKUP_CHUNK {
                flush_pending(&mut pending, &mut batch, &mut batch_size, false)?;
            }
        }
        flush_pending(&mut pending, &mut batch, &mut batch_size, true)
    })();
    if let Err(e) = &walked {
        interrupted = Some(format!("error: {e:#}"));
    }
    if let Some(why) = &interrupted {
        // Best effort after an error: the store itself may be what failed.
        let closed = rt.block_on(store.scan_job_walk_interrupted(
            job,
            Some(walk_errors),
            why,
            &admin::console_actor(),
        ));
        walked?;
        closed?;
        rt.block_on(store.close());
        eprintln!(
            "baomi: scan job {job}: {}; {files} files ({}) in {batches} batches were enqueued              and will be inspected; run `baomi scan --queue` on the same paths again to enqueue              the rest (files already inspected are left out)",
            walk_why(why),
            human_bytes(bytes)
        );
        if json {
            println!(
                "{}",
                json!({
                    "job": job, "files": files, "bytes": bytes, "batches": batches,
                    "unchanged": unchanged, "walk_errors": walk_errors,
                    "interrupted": why,
                })
            );
        }
        return Ok(130);
    }
    let finished = rt.block_on(store.scan_job_enqueued(job, walk_errors))?;
    rt.block_on(store.close());
    if json {
        println!(
            "{}",
            json!({
                "job": job,
                "files": files,
                "bytes": bytes,
                "batches": batches,
                "unchanged": unchanged,
                "walk_errors": walk_errors,
                "finished": finished,
            })
        );
    } else {
        println!(
            "scan job {job}: {files} files ({}) in {batches} batches; {unchanged} unchanged \
             files left out; {walk_errors} walk errors",
            human_bytes(bytes)
        );
        if !finished {
            eprintln!(
                "baomi: run `baomi worker` on machines that see these paths; \
                 `baomi scan --queue-status {job}` shows the progress"
            );
        }
    }
    Ok(if walk_errors > 0 { 2 } else { 0 })
}

/// Why a walk stopped early, said in words (`scan_jobs.walk_interrupted`).
fn walk_why(why: &str) -> String {
    match why {
        WALK_SIGNAL => "the walk was interrupted (Ctrl-C or SIGTERM)".into(),
        WALK_LOST => "no sign of the walk for minutes: killed, or its machine is down".into(),
        other => format!("the walk failed: {}", other.trim_start_matches("error: ")),
    }
}

/// Ctrl-C or SIGTERM, whichever comes first: both end a walk or a worker between files.
async fn interrupt_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = async {
        match signal(SignalKind::terminate()) {
            Ok(mut t) => {
                t.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// One entry of the walk: a regular file goes to `pending`; what cannot be read is counted
/// and said on stderr.
fn walk_entry(
    entry: std::result::Result<ignore::DirEntry, ignore::Error>,
    walk_errors: &mut i64,
    pending: &mut Vec<QueuedFile>,
) {
    let entry = match entry {
        Ok(e) => e,
        Err(e) => {
            *walk_errors += 1;
            eprintln!("baomi: {e}");
            return;
        }
    };
    if !entry.file_type().is_some_and(|t| t.is_file()) {
        return;
    }
    let Some(path) = entry.path().to_str().map(str::to_owned) else {
        *walk_errors += 1;
        eprintln!("baomi: {}: the path is not UTF-8", entry.path().display());
        return;
    };
    let meta = match entry.metadata() {
        Ok(m) => m,
        Err(e) => {
            *walk_errors += 1;
            eprintln!("baomi: {path}: {e}");
            return;
        }
    };
    pending.push(QueuedFile {
        path,
        size: meta.len() as i64,
        mtime_ms: mtime_ms(&meta),
        prev_blake3: None,
    });
}

fn status(args: &ScanArgs, id: Option<i64>, data_dir: &Path, url: Option<&str>) -> Result<i32> {
    let json = args.format == "json";
    let rt = admin::runtime()?;
    rt.block_on(async {
        let store = Store::open(data_dir, url).await?;
        let id = match id {
            Some(id) => id,
            None => match store.scan_job_ids(1).await?.first() {
                Some(&id) => id,
                None => bail!("no scan jobs yet (baomi scan PATH --queue)"),
            },
        };
        loop {
            let p = store.scan_job_progress(id).await?;
            if json {
                let mut v = serde_json::to_value(&p)?;
                v["files_per_second"] = json!(p.files_per_second());
                v["eta_seconds"] = json!(p.eta_seconds());
                println!("{v}");
            } else if args.wait {
                println!("{}", progress_line(&p));
            } else {
                print!("{}", progress_text(&p));
            }
            if !args.wait || p.finished_ms.is_some() {
                store.close().await;
                return Ok(if p.finished_ms.is_none() {
                    0
                } else if p.errors + p.walk_errors > 0 {
                    2
                } else if p.alerting > 0 {
                    1
                } else {
                    0
                });
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

fn pct(done: i64, total: i64) -> f64 {
    if total == 0 {
        100.0
    } else {
        done as f64 * 100.0 / total as f64
    }
}

fn eta_text(p: &ScanJobProgress) -> String {
    match (p.finished_ms, p.eta_seconds()) {
        (Some(_), _) => "finished".into(),
        (None, Some(s)) => format!("ETA {}", duration_text(s)),
        (None, None) => "ETA unknown".into(),
    }
}

fn duration_text(s: f64) -> String {
    let s = s.ceil() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
    }
}

fn rate_text(p: &ScanJobProgress) -> String {
    match p.files_per_second() {
        Some(r) => format!("{r:.1} files/s"),
        None => "– files/s".into(),
    }
}

/// One line, for `--wait`.
fn progress_line(p: &ScanJobProgress) -> String {
    format!(
        "job {}: {}/{} files ({:.1} %), {}, {}, {} incidents, workers {}",
        p.id,
        p.files_done,
        p.total_files,
        pct(p.files_done, p.total_files),
        rate_text(p),
        eta_text(p),
        p.incidents,
        p.workers.len()
    )
}

fn progress_text(p: &ScanJobProgress) -> String {
    let mut state = match (p.enqueued_ms, p.finished_ms) {
        (_, Some(f)) => format!("finished {}", time_text(f)),
        (None, None) if p.walk_lost() => {
            "walk interrupted (no sign of it for minutes; a worker will close it)".into()
        }
        (None, None) => "walking (the totals still grow)".into(),
        (Some(_), None) => "running".into(),
    };
    if let Some(why) = &p.walk_interrupted {
        state += &format!("; partial: the walk stopped early ({})", walk_why(why));
    }
    let mut s = format!(
        "scan job {}: {}\n  paths      {}\n  machine    {}\n  started    {} by {}\n  state      {state}\n",
        p.id,
        if p.finished_ms.is_some() {
            "finished"
        } else {
            "open"
        },
        p.paths.join(", "),
        p.machine,
        time_text(p.created_ms),
        p.created_by
    );
    s += &format!(
        "  files      {}/{} done ({:.1} %), {} of {}\n",
        p.files_done,
        p.total_files,
        pct(p.files_done, p.total_files),
        human_bytes(p.bytes_done.max(0) as u64),
        human_bytes(p.total_bytes.max(0) as u64)
    );
    s += &format!("  rate       {}, {}\n", rate_text(p), eta_text(p));
    s += &format!(
        "  batches    {}/{} done, {} leased, {} claimed again after a lease ran out\n",
        p.batches_done, p.batches, p.batches_leased, p.batches_reclaimed
    );
    s += &format!(
        "  workers    {}\n",
        if p.workers.is_empty() {
            "none holding a lease".to_string()
        } else {
            p.workers.join(", ")
        }
    );
    s += &format!(
        "  results    {} inspected, {} unchanged (same bytes), {} left out unchanged, {} errors\n",
        p.inspected, p.unchanged_by_hash, p.unchanged, p.errors
    );
    s += &format!(
        "  alerting   {} files, {} incidents (channel scan); walk errors {}\n",
        p.alerting, p.incidents, p.walk_errors
    );
    s
}

fn time_text(ms: i64) -> String {
    let day = baomi_store::local_date(ms);
    // Beijing time of day.
    let secs = (ms / 1000 + 8 * 3600).rem_euclid(86_400);
    format!(
        "{day} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The engine a worker decides with, and what it was built from.
struct Judge {
    engine: Arc<Engine>,
    versions: StateVersions,
    /// The stored policy's version, when the policy came from the store.
    policy_version: Option<i64>,
}

/// Built as `baomi scan` builds its engine: the store's policy and term lists (else the
/// data directory's files, else the shipped default), the registry, the password bank.
async fn judge(store: &Store, args: &WorkerArgs, passwords: Option<&Path>) -> Result<Judge> {
    let versions = store.state_versions().await?;
    let data_dir = store.data_dir().to_owned();
    let stored = store.policy_current().await?;
    let policy_version = stored.as_ref().map(|p| p.meta.version);
    let stored_text = stored.map(|p| p.toml);
    let dicts: Vec<(String, String)> = store
        .dictionaries_all()
        .await?
        .into_iter()
        .map(|d| (d.meta.name, d.terms))
        .collect();
    let fingerprints = fingerprint::index_from_store(store).await?;
    let mut limits = baomi_engine::Limits::default();
    if let Some(t) = args.time_limit {
        limits.max_time = Duration::from_secs(t);
    }
    if let Some(d) = args.max_depth {
        limits.max_depth = d;
    }
    limits.passwords =
        setup::scan_passwords(passwords, setup::stored_passwords(store).await?, &data_dir)?;
    let policy = setup::scan_policy(None, stored_text.as_deref(), &data_dir)?;
    let dictionaries = setup::scan_dictionaries(&[], dicts, &data_dir)?;
    let engine = tokio::task::spawn_blocking(move || {
        setup::engine(policy, dictionaries, limits, fingerprints)
    })
    .await??;
    Ok(Judge {
        engine: Arc::new(engine),
        versions,
        policy_version,
    })
}

/// `baomi worker`.
pub fn run(
    args: WorkerArgs,
    config: &baomi_server::ServerConfig,
    data_dir: &Path,
    url: Option<&str>,
) -> Result<i32> {
    let lease = secs(args.lease, "--lease")?;
    let heartbeat = match args.heartbeat {
        Some(h) => secs(h, "--heartbeat")?,
        None => lease / 3,
    };
    if heartbeat >= lease {
        bail!("--heartbeat must be shorter than --lease");
    }
    let poll = secs(args.poll, "--poll")?;
    let threads = match args.threads {
        0 => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        n => n,
    };
    let id = args
        .id
        .clone()
        .unwrap_or_else(|| format!("{}:{}", records::hostname(), std::process::id()));
    let passwords = args.passwords.clone().or(config.scan.passwords.clone());
    let evidence_root = config
        .gateway
        .evidence_dir
        .clone()
        .unwrap_or_else(|| data_dir.to_owned());
    let vault = match args.with_evidence {
        true => Some(Arc::new(
            baomi_store::EvidenceVault::open(&evidence_root)
                .with_context(|| format!("the evidence vault in {}", evidence_root.display()))?,
        )),
        false => None,
    };
    let keep = Keep {
        vault,
        max_bytes: config.gateway.evidence_max_bytes,
    };
    let lease_ms = lease.as_millis() as i64;
    let rt = admin::runtime()?;
    rt.block_on(async {
        let store = Store::open(data_dir, url)
            .await?
            .with_evidence_root(Some(&evidence_root));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let stop = stop.clone();
            tokio::spawn(async move {
                interrupt_signal().await;
                stop.store(true, Ordering::SeqCst);
            });
        }
        let mut judge = judge(&store, &args, passwords.as_deref()).await?;
        eprintln!(
            "baomi worker {id}: started ({threads} threads, lease {:.1} s, heartbeat {:.1} s)",
            lease.as_secs_f64(),
            heartbeat.as_secs_f64()
        );
        let (mut batches, mut files, mut incidents) = (0u64, 0u64, 0u64);
        // Checked at the first idle moment, then every WALK_ALIVE_MS.
        let mut last_walk_check = Instant::now() - Duration::from_millis(WALK_ALIVE_MS as u64);
        while !stop.load(Ordering::SeqCst) {
            // A policy, term list or registry change since the engine was built: rebuild,
            // between batches, so one batch is judged by one version.
            match store.state_versions().await {
                Ok(v) if v != judge.versions => {
                    match self::judge(&store, &args, passwords.as_deref()).await {
                        Ok(j) => judge = j,
                        Err(e) => eprintln!("baomi worker {id}: keeping the engine: {e:#}"),
                    }
                }
                Ok(_) => {}
                Err(e) => eprintln!("baomi worker {id}: {e}"),
            }
            let claimed = match store.scan_batch_claim(&id, lease_ms).await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("baomi worker {id}: claiming a batch: {e}");
                    tokio::time::sleep(poll).await;
                    continue;
                }
            };
            let Some(batch) = claimed else {
                // Idle: close the walks that died (an enqueuing process killed), so their
                // jobs can finish with what they enqueued rather than stay open for ever.
                if last_walk_check.elapsed() >= Duration::from_millis(WALK_ALIVE_MS as u64) {
                    last_walk_check = Instant::now();
                    match store
                        .scan_jobs_close_stale_walks(WALK_STALE_MS, &format!("worker:{id}")).await {
                        Ok(closed) => {
                            for job in closed {
                                eprintln!(
                                    "baomi worker {id}: job {job}: its walk stopped without \
                                     a sign of life; the job keeps what was enqueued"
                                );
                            }
                        }
                        Err(e) => eprintln!("baomi worker {id}: checking walks: {e}"),
                    }
                }
                if args.exit_when_idle && store.scan_batches_open().await? == 0 {
                    break;
                }
                tokio::time::sleep(poll).await;
                continue;
            };
            if let Some(from) = &batch.reclaimed_from {
                eprintln!(
                    "baomi worker {id}: job {} batch {}: claimed again (the lease of {from} ran out)",
                    batch.job_id, batch.seq
                );
            }
            let lost = Arc::new(AtomicBool::new(false));
            let beat = {
                let store = store.clone();
                let batch = batch.clone();
                let lost = lost.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::time::sleep(heartbeat).await;
                        match store.scan_batch_heartbeat(&batch, lease_ms).await {
                            Ok(true) => {}
                            Ok(false) => {
                                lost.store(true, Ordering::SeqCst);
                                return;
                            }
                            Err(e) => tracing::warn!("heartbeat of scan batch {}: {e}", batch.id),
                        }
                    }
                })
            };
            let results = {
                let engine = judge.engine.clone();
                let b = batch.clone();
                let lost = lost.clone();
                let stop = stop.clone();
                let pace = Duration::from_millis(args.pace);
                let keep = keep.clone();
                tokio::task::spawn_blocking(move || {
                    inspect_batch(&engine, &keep, &b, threads, pace, &lost, &stop)
                })
                .await?
            };
            beat.abort();
            let Some(results) = results else {
                if lost.load(Ordering::SeqCst) {
                    eprintln!(
                        "baomi worker {id}: job {} batch {}: lease lost, left to its new worker",
                        batch.job_id, batch.seq
                    );
                } else {
                    // Asked to stop: give the batch back at once rather than when it expires.
                    let _ = store.scan_batch_release(&batch).await;
                }
                continue;
            };
            match store
                .scan_batch_complete(
                    &batch,
                    &results,
                    &id,
                    &judge.versions.tag(),
                    judge.policy_version,
                )
                .await
            {
                Ok(done) => {
                    batches += 1;
                    files += done.results as u64;
                    incidents += done.incidents.len() as u64;
                    eprintln!(
                        "baomi worker {id}: job {} batch {}: {} files, {} incidents{}{}",
                        batch.job_id,
                        batch.seq,
                        done.results,
                        done.incidents.len(),
                        if done.incidents.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", done.incidents.join(", "))
                        },
                        if done.job_finished {
                            format!("; job {} finished", batch.job_id)
                        } else {
                            String::new()
                        }
                    );
                }
                Err(StoreError::Conflict(msg)) => eprintln!("baomi worker {id}: {msg}"),
                Err(e) => {
                    // The lease runs out and another worker (or this one) does it again.
                    eprintln!(
                        "baomi worker {id}: recording job {} batch {}: {e}",
                        batch.job_id, batch.seq
                    );
                    tokio::time::sleep(poll).await;
                }
            }
        }
        store.close().await;
        eprintln!("baomi worker {id}: {batches} batches, {files} files, {incidents} incidents");
        Ok(0)
    })
}

/// Inspect a batch's files on `threads` threads. None when the lease was lost or the worker
/// is stopping (nothing of the batch is recorded then).
fn inspect_batch(
    engine: &Engine,
    keep: &Keep,
    batch: &ClaimedBatch,
    threads: usize,
    pace: Duration,
    lost: &AtomicBool,
    stop: &AtomicBool,
) -> Option<Vec<ScanFileResult>> {
    let next = AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<(usize, ScanFileResult)>> = Default::default();
    std::thread::scope(|s| {
        for _ in 0..threads.min(batch.files.len()).max(1) {
            s.spawn(|| {
                loop {
                    if lost.load(Ordering::SeqCst) || stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(f) = batch.files.get(i) else { return };
                    let r = inspect_file(engine, keep, f);
                    if let Ok(mut all) = results.lock() {
                        all.push((i, r));
                    }
                    if !pace.is_zero() {
                        std::thread::sleep(pace);
                    }
                }
            });
        }
    });
    if lost.load(Ordering::SeqCst) || stop.load(Ordering::SeqCst) {
        return None;
    }
    let mut all = results.into_inner().ok()?;
    all.sort_by_key(|(i, _)| *i);
    Some(all.into_iter().map(|(_, r)| r).collect())
}

fn empty_result(f: &QueuedFile, outcome: FileOutcome, error: Option<String>) -> ScanFileResult {
    ScanFileResult {
        path: f.path.clone(),
        size: f.size,
        mtime_ms: f.mtime_ms,
        blake3: None,
        outcome,
        file_type: None,
        verdict: None,
        severity: String::new(),
        rules: Vec::new(),
        level: None,
        findings: Value::Array(Vec::new()),
        errors: error.into_iter().collect(),
        alerts: false,
        evidence: None,
    }
}

/// Where the files that block are kept, if anywhere.
#[derive(Clone)]
struct Keep {
    vault: Option<Arc<baomi_store::EvidenceVault>>,
    max_bytes: u64,
}

/// One file: gone, unreadable, the same bytes as last time, or inspected.
fn inspect_file(engine: &Engine, keep: &Keep, f: &QueuedFile) -> ScanFileResult {
    let path = Path::new(&f.path);
    let meta = match std::fs::metadata(path) {
        Ok(m) if m.is_file() => m,
        Ok(_) => return empty_result(f, FileOutcome::Gone, None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return empty_result(f, FileOutcome::Gone, None);
        }
        Err(e) => return empty_result(f, FileOutcome::Error, Some(e.to_string())),
    };
    let hash = match baomi_scan::run::file_hash(path) {
        Ok(h) => h,
        Err(e) => return empty_result(f, FileOutcome::Error, Some(e.to_string())),
    };
    let mut r = empty_result(f, FileOutcome::Unchanged, None);
    r.size = meta.len() as i64;
    r.mtime_ms = mtime_ms(&meta);
    r.blake3 = Some(hash.clone());
    if f.prev_blake3.as_deref() == Some(hash.as_str()) {
        return r;
    }
    let report = engine.inspect_path(path, Channel::Scan);
    fill(&mut r, engine, &report);
    if let Some(vault) = &keep.vault
        && r.alerts
        && report.verdict.action >= baomi_core::Action::Quarantine
        && meta.len() <= keep.max_bytes
    {
        // A batch that is lost after this leaves an unreferenced file in the vault, which
        // `baomi store check --repair` moves aside; the incident is recorded only once.
        match std::fs::File::open(path)
            .map_err(StoreError::from)
            .and_then(|mut file| vault.put(&mut file))
        {
            Ok(e) => r.evidence = Some(e),
            Err(e) => r.errors.push(format!("keeping the evidence: {e}")),
        }
    }
    r
}

/// The result of an inspected file, shaped as an imported run's file (and its incident as
/// the gateway's): masked findings, the highest marking level, rules and exceptions used.
fn fill(r: &mut ScanFileResult, engine: &Engine, report: &ObjectReport) {
    let json = report.to_json(false);
    r.outcome = FileOutcome::Inspected;
    r.file_type = Some(report.true_type.clone());
    r.verdict = Some(report.verdict.action.as_str().to_owned());
    r.severity = json["severity"].as_str().unwrap_or_default().to_owned();
    r.rules = report
        .verdict
        .rules
        .iter()
        .cloned()
        .chain(
            report
                .verdict
                .exceptions
                .iter()
                .map(|e| format!("exception:{e}")),
        )
        .collect();
    r.level = report
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Marking)
        .filter_map(|f| f.level)
        .max()
        .map(|l| l.as_str().to_owned());
    r.findings = json.get("findings").cloned().unwrap_or(Value::Null);
    r.errors = report.errors.clone();
    r.alerts = engine.alerts(&report.verdict);
}
