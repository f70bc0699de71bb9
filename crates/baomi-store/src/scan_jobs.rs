//! Self-inspection of shares too large for one machine: `baomi scan PATH --queue` walks the
//! tree and cuts it into batches of files (a *job*); `baomi worker` processes on any number
//! of machines sharing the database claim batches, inspect them and complete them.
//!
//! - **Claim**: one statement takes the oldest batch that is queued or whose lease ran out
//!   (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so workers never wait on each other's rows;
//!   SQLite: its write lock serialises the statement, for workers on one machine). The
//!   claim writes a fresh random lease token and `lease_until_ms`.
//! - **Heartbeat**: the worker moves `lease_until_ms` forward while it works; the update
//!   names the token, so a worker whose batch was claimed again learns that it lost it.
//! - **Complete**: one transaction marks the batch done *only if the token is still the
//!   batch's*, inserts one result per file (`(job_id, path)` is the key: a file of a job has
//!   one result, whatever happens to workers), the incident of every file that alerts
//!   (channel `scan`, as an imported run records them) and the index entries for the next
//!   incremental scan. A worker killed mid-batch has committed nothing of it; whoever
//!   claims it next does the whole batch again.
//! - **Index**: what each path was (size, mtime, BLAKE3, the state versions that judged it)
//!   when last inspected; a re-scan leaves out paths whose size and mtime are unchanged
//!   under the same versions, and hands the worker the previous hash of the others, so a
//!   file only touched is recognised by its bytes without being inspected again.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::incidents::NewIncident;
use crate::{Backend, EvidenceRef, Result, Store, StoreError, now_ms};

/// A file as the walk saw it, waiting in a batch.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct QueuedFile {
    pub path: String,
    pub size: i64,
    pub mtime_ms: i64,
    /// The BLAKE3 the index has for this path (its size or mtime changed): a worker that
    /// finds the same bytes records `unchanged` without inspecting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_blake3: Option<String>,
}

/// A job to create: what is walked, on whose behalf.
#[derive(Debug, Clone, Default)]
pub struct NewScanJob {
    pub paths: Vec<String>,
    /// The machine the files belong to (the file server, or the enqueuing node).
    pub machine: String,
    pub person: Option<String>,
    pub department: Option<String>,
}

/// What the index remembers of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedFile {
    pub size: i64,
    pub mtime_ms: i64,
    pub blake3: String,
    pub state_tag: String,
}

/// A batch a worker holds.
#[derive(Debug, Clone)]
pub struct ClaimedBatch {
    pub id: i64,
    pub job_id: i64,
    pub seq: i64,
    pub files: Vec<QueuedFile>,
    /// 1 for the first claim; more when earlier leases ran out.
    pub attempts: i64,
    /// The worker whose lease ran out, when this claim took the batch from one.
    pub reclaimed_from: Option<String>,
    pub token: String,
}

/// How a file of a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileOutcome {
    /// Inspected by the engine.
    Inspected,
    /// Same bytes as when the index last saw it: not inspected again.
    Unchanged,
    /// No longer there when the worker came to it.
    Gone,
    /// Could not be read.
    Error,
}

impl FileOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            FileOutcome::Inspected => "inspected",
            FileOutcome::Unchanged => "unchanged",
            FileOutcome::Gone => "gone",
            FileOutcome::Error => "error",
        }
    }
}

/// One file's result, as the worker hands it in.
#[derive(Debug, Clone)]
pub struct ScanFileResult {
    pub path: String,
    pub size: i64,
    pub mtime_ms: i64,
    pub blake3: Option<String>,
    pub outcome: FileOutcome,
    pub file_type: Option<String>,
    pub verdict: Option<String>,
    pub severity: String,
    pub rules: Vec<String>,
    pub level: Option<String>,
    /// Masked, as `--format json` prints them.
    pub findings: Value,
    pub errors: Vec<String>,
    /// Reached the policy's alert threshold: becomes an incident.
    pub alerts: bool,
    /// The file kept in the evidence vault (`baomi worker --with-evidence`), for the incident.
    pub evidence: Option<EvidenceRef>,
}

/// What completing a batch recorded.
#[derive(Debug, Clone, Default)]
pub struct BatchDone {
    pub results: usize,
    /// Incident numbers, in the batch's order.
    pub incidents: Vec<String>,
    /// This batch was the job's last.
    pub job_finished: bool,
}

/// A stored result.
#[derive(Debug, Clone, Serialize)]
pub struct ScanResultRow {
    pub job_id: i64,
    pub path: String,
    pub batch_id: i64,
    pub size: i64,
    pub mtime_ms: i64,
    pub blake3: Option<String>,
    pub outcome: String,
    pub file_type: Option<String>,
    pub verdict: Option<String>,
    pub level: Option<String>,
    pub findings: Value,
    pub errors: Vec<String>,
    pub alerts: bool,
    pub incident: Option<String>,
    pub worker: String,
    pub inspected_ms: i64,
}

/// A batch as progress reports show it.
#[derive(Debug, Clone, Serialize)]
pub struct ScanBatchRow {
    pub id: i64,
    pub seq: i64,
    pub file_count: i64,
    pub state: String,
    pub lease_owner: Option<String>,
    pub lease_until_ms: Option<i64>,
    pub attempts: i64,
    pub reclaimed_from: Option<String>,
    pub done_by: Option<String>,
    pub done_ms: Option<i64>,
}

/// Where a job stands.
#[derive(Debug, Clone, Serialize)]
pub struct ScanJobProgress {
    pub id: i64,
    pub paths: Vec<String>,
    pub machine: String,
    pub person: Option<String>,
    pub department: Option<String>,
    pub created_ms: i64,
    pub created_by: String,
    /// The walk finished (the totals are final).
    pub enqueued_ms: Option<i64>,
    /// The walk's last sign of life.
    pub walk_seen_ms: Option<i64>,
    /// Why the walk stopped before its end (then the job covers only what was enqueued).
    pub walk_interrupted: Option<String>,
    pub finished_ms: Option<i64>,
    pub total_files: i64,
    pub total_bytes: i64,
    /// Left out by the walk: unchanged since the last inspection.
    pub unchanged: i64,
    pub walk_errors: i64,
    pub batches: i64,
    pub batches_done: i64,
    pub batches_leased: i64,
    /// Batches claimed again after a lease ran out.
    pub batches_reclaimed: i64,
    pub files_done: i64,
    pub bytes_done: i64,
    pub inspected: i64,
    /// Handed to a worker, found with the same bytes as before.
    pub unchanged_by_hash: i64,
    pub errors: i64,
    pub alerting: i64,
    pub incidents: i64,
    /// Workers holding a live lease on one of its batches now.
    pub workers: Vec<String>,
    /// The first batch's claim, the last batch's completion.
    pub first_claim_ms: Option<i64>,
    pub last_done_ms: Option<i64>,
    /// Files in batches completed within the last [`RECENT_WINDOW_MS`].
    pub recent_files: i64,
    pub now_ms: i64,
}

/// A walk not heard of for this long is taken as interrupted. The walk reports at every
/// batch and every [`WALK_ALIVE_MS`], so only a process that is gone stays silent this long.
pub const WALK_STALE_MS: i64 = 5 * 60_000;
/// How often a walk says it is alive between batches.
pub const WALK_ALIVE_MS: i64 = 30_000;
/// Why a walk stopped early (`scan_jobs.walk_interrupted`): Ctrl-C or SIGTERM.
pub const WALK_SIGNAL: &str = "signal";
/// Why a walk stopped early: no sign of life for [`WALK_STALE_MS`] (killed, machine gone).
/// Otherwise `error: ` and the error.
pub const WALK_LOST: &str = "lost";

/// The window of [`ScanJobProgress::recent_files`].
pub const RECENT_WINDOW_MS: i64 = 60_000;

impl ScanJobProgress {
    /// Files per second: over the last minute while the job runs (once it ran that long),
    /// else over its whole run.
    pub fn files_per_second(&self) -> Option<f64> {
        let first = self.first_claim_ms?;
        let end = match self.finished_ms {
            Some(f) => f,
            None => self.now_ms,
        };
        let elapsed = (end - first).max(1);
        if self.finished_ms.is_none() && elapsed > RECENT_WINDOW_MS && self.recent_files > 0 {
            return Some(self.recent_files as f64 * 1000.0 / RECENT_WINDOW_MS as f64);
        }
        (self.files_done > 0).then(|| self.files_done as f64 * 1000.0 / elapsed as f64)
    }

    /// The walk is neither finished nor alive: it was interrupted and nobody has closed it
    /// yet ([`Store::scan_jobs_close_stale_walks`]).
    pub fn walk_lost(&self) -> bool {
        self.enqueued_ms.is_none()
            && self.now_ms - self.walk_seen_ms.unwrap_or(self.created_ms) > WALK_STALE_MS
    }

    /// Seconds left at the current rate (none before a rate is known or once finished).
    pub fn eta_seconds(&self) -> Option<f64> {
        if self.finished_ms.is_some() {
            return None;
        }
        let rate = self.files_per_second()?;
        let left = (self.total_files - self.files_done).max(0);
        Some(left as f64 / rate)
    }
}

/// A random lease token (128 bits from the OS; the time and process id if that fails).
fn lease_token() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if random.is_err() {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let seed = format!("{}-{}-{n}", now_ms(), std::process::id());
        bytes.copy_from_slice(&blake3::hash(seed.as_bytes()).as_bytes()[..16]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn result_from_row(row: &AnyRow) -> Result<ScanResultRow> {
    let findings: String = row.try_get("findings")?;
    let errors: String = row.try_get("errors")?;
    let alerts: i64 = row.try_get("alerts")?;
    Ok(ScanResultRow {
        job_id: row.try_get("job_id")?,
        path: row.try_get("path")?,
        batch_id: row.try_get("batch_id")?,
        size: row.try_get("size")?,
        mtime_ms: row.try_get("mtime_ms")?,
        blake3: row.try_get("blake3")?,
        outcome: row.try_get("outcome")?,
        file_type: row.try_get("file_type")?,
        verdict: row.try_get("verdict")?,
        level: row.try_get("level")?,
        findings: serde_json::from_str(&findings).unwrap_or(Value::Null),
        errors: serde_json::from_str(&errors).unwrap_or_default(),
        alerts: alerts != 0,
        incident: row.try_get("incident")?,
        worker: row.try_get("worker")?,
        inspected_ms: row.try_get("inspected_ms")?,
    })
}

impl Store {
    /// A write transaction without the audit lock (SQLite: the write lock taken at BEGIN).
    async fn scan_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend() {
            Backend::Sqlite => self.pool().begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool().begin().await?,
        })
    }

    /// Create a job (its audit entry in the same transaction); returns its id.
    pub async fn scan_job_create(&self, new: &NewScanJob, actor: &str) -> Result<i64> {
        let (_guard, mut tx) = self.audit_tx().await?;
        let now = now_ms();
        let row = sqlx::query(
            "INSERT INTO scan_jobs (paths, machine, person, department, created_ms, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(serde_json::to_string(&new.paths).unwrap_or_default())
        .bind(&new.machine)
        .bind(new.person.as_deref())
        .bind(new.department.as_deref())
        .bind(now)
        .bind(actor)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get(0)?;
        Store::append_audit(
            &mut tx,
            actor,
            "scan_job.create",
            &id.to_string(),
            &json!({
                "paths": new.paths,
                "machine": new.machine,
                "person": new.person,
                "department": new.department,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// What the index has for these paths (those it has).
    pub async fn scan_index_get(&self, paths: &[String]) -> Result<HashMap<String, IndexedFile>> {
        let mut out = HashMap::new();
        for chunk in paths.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT path, size, mtime_ms, blake3, state_tag FROM scan_file_index \
                 WHERE path IN ({})",
                marks.join(", ")
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for p in chunk {
                q = q.bind(p.as_str());
            }
            for row in q.fetch_all(self.pool()).await? {
                out.insert(
                    row.try_get("path")?,
                    IndexedFile {
                        size: row.try_get("size")?,
                        mtime_ms: row.try_get("mtime_ms")?,
                        blake3: row.try_get("blake3")?,
                        state_tag: row.try_get("state_tag")?,
                    },
                );
            }
        }
        Ok(out)
    }

    /// Add a batch of `files` to a job (none: only the count of files left out as
    /// unchanged) and move the job's totals, in one transaction. Returns the batch's id.
    pub async fn scan_job_add_batch(
        &self,
        job_id: i64,
        files: &[QueuedFile],
        unchanged: i64,
    ) -> Result<Option<i64>> {
        let mut tx = self.scan_tx().await?;
        let bytes: i64 = files.iter().map(|f| f.size).sum();
        let n = files.len() as i64;
        let done = sqlx::query(
            "UPDATE scan_jobs SET total_files = total_files + $1, total_bytes = total_bytes + $2, \
             unchanged = unchanged + $3, batches = batches + $4, walk_seen_ms = $5 \
             WHERE id = $6 AND enqueued_ms IS NULL",
        )
        .bind(n)
        .bind(bytes)
        .bind(unchanged)
        .bind(i64::from(n > 0))
        .bind(now_ms())
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "scan job {job_id} is not being enqueued"
            )));
        }
        let mut id = None;
        if n > 0 {
            let seq: i64 = sqlx::query("SELECT batches FROM scan_jobs WHERE id = $1")
                .bind(job_id)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            let row = sqlx::query(
                "INSERT INTO scan_batches (job_id, seq, files, file_count, bytes) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(job_id)
            .bind(seq)
            .bind(serde_json::to_string(files).unwrap_or_default())
            .bind(n)
            .bind(bytes)
            .fetch_one(&mut *tx)
            .await?;
            id = Some(row.try_get(0)?);
        }
        tx.commit().await?;
        Ok(id)
    }

    /// The walk of a job finished: its totals are final. A job with nothing to inspect (or
    /// whose batches were all done already) is finished here.
    pub async fn scan_job_enqueued(&self, job_id: i64, walk_errors: i64) -> Result<bool> {
        let mut tx = self.scan_tx().await?;
        let now = now_ms();
        sqlx::query("UPDATE scan_jobs SET enqueued_ms = $1, walk_errors = $2 WHERE id = $3")
            .bind(now)
            .bind(walk_errors)
            .bind(job_id)
            .execute(&mut *tx)
            .await?;
        let finished = finish_if_done(&mut tx, job_id, now).await?;
        tx.commit().await?;
        Ok(finished)
    }

    /// The walk of a job is still going (called between batches on long stretches without
    /// one): what tells an interrupted walk from a slow one.
    pub async fn scan_job_walk_alive(&self, job_id: i64) -> Result<()> {
        sqlx::query("UPDATE scan_jobs SET walk_seen_ms = $1 WHERE id = $2 AND enqueued_ms IS NULL")
            .bind(now_ms())
            .bind(job_id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The walk of a job stopped before its end (`why`: [`WALK_SIGNAL`], [`WALK_LOST`], or
    /// `error: …`): the totals are final at what was enqueued, the batches are inspected as usual,
    /// and the job says it is partial. False when the walk had already ended.
    pub async fn scan_job_walk_interrupted(
        &self,
        job_id: i64,
        walk_errors: Option<i64>,
        why: &str,
        actor: &str,
    ) -> Result<bool> {
        let (_guard, mut tx) = self.audit_tx().await?;
        let now = now_ms();
        let r = sqlx::query(
            "UPDATE scan_jobs SET enqueued_ms = $1, walk_errors = COALESCE($2, walk_errors), \
             walk_interrupted = $3 WHERE id = $4 AND enqueued_ms IS NULL",
        )
        .bind(now)
        .bind(walk_errors)
        .bind(why)
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        finish_if_done(&mut tx, job_id, now).await?;
        Store::append_audit(
            &mut tx,
            actor,
            "scan_job.walk_interrupted",
            &job_id.to_string(),
            &json!({ "why": why }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Close the walks that gave no sign of life for `stale_ms` (workers pass
    /// [`WALK_STALE_MS`]: the enqueuing process killed, its machine gone), as
    /// [`Store::scan_job_walk_interrupted`]. Workers call it while they wait for batches.
    /// Returns the jobs closed.
    pub async fn scan_jobs_close_stale_walks(
        &self,
        stale_ms: i64,
        actor: &str,
    ) -> Result<Vec<i64>> {
        let stale: Vec<i64> = sqlx::query(
            "SELECT id FROM scan_jobs WHERE enqueued_ms IS NULL \
             AND COALESCE(walk_seen_ms, created_ms) < $1 ORDER BY id",
        )
        .bind(now_ms() - stale_ms)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<std::result::Result<_, _>>()?;
        let mut closed = Vec::new();
        for id in stale {
            if self
                .scan_job_walk_interrupted(id, None, WALK_LOST, actor)
                .await?
            {
                closed.push(id);
            }
        }
        Ok(closed)
    }

    /// Claim the oldest batch that is queued or whose lease ran out, for `lease_ms`.
    pub async fn scan_batch_claim(
        &self,
        worker: &str,
        lease_ms: i64,
    ) -> Result<Option<ClaimedBatch>> {
        let now = now_ms();
        let token = lease_token();
        // PostgreSQL: rows another worker is claiming are skipped, not waited for. SQLite
        // has no row locks: the statement runs under its database write lock.
        let lock = match self.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let sql = format!(
            "UPDATE scan_batches SET state = 'leased', lease_owner = $1, lease_token = $2, \
             lease_until_ms = $3, claimed_ms = $4, attempts = attempts + 1, \
             reclaimed_from = CASE WHEN state = 'leased' THEN lease_owner ELSE reclaimed_from END \
             WHERE id = (SELECT id FROM scan_batches \
                         WHERE state = 'queued' OR (state = 'leased' AND lease_until_ms < $4) \
                         ORDER BY id LIMIT 1{lock}) \
             RETURNING id, job_id, seq, files, attempts, reclaimed_from"
        );
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(worker)
            .bind(&token)
            .bind(now + lease_ms)
            .bind(now)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let files: String = row.try_get("files")?;
        let files: Vec<QueuedFile> = serde_json::from_str(&files)
            .map_err(|e| StoreError::Invalid(format!("a scan batch's file list: {e}")))?;
        Ok(Some(ClaimedBatch {
            id: row.try_get("id")?,
            job_id: row.try_get("job_id")?,
            seq: row.try_get("seq")?,
            files,
            attempts: row.try_get("attempts")?,
            reclaimed_from: row.try_get("reclaimed_from")?,
            token,
        }))
    }

    /// Renew a lease for `lease_ms` from now. False: the batch is no longer this claim's
    /// (its lease ran out and another worker took it); stop working on it.
    pub async fn scan_batch_heartbeat(&self, batch: &ClaimedBatch, lease_ms: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE scan_batches SET lease_until_ms = $1 \
             WHERE id = $2 AND lease_token = $3 AND state = 'leased'",
        )
        .bind(now_ms() + lease_ms)
        .bind(batch.id)
        .bind(&batch.token)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Give a batch back unfinished (a worker asked to stop): queued again at once.
    pub async fn scan_batch_release(&self, batch: &ClaimedBatch) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE scan_batches SET state = 'queued', lease_owner = NULL, lease_token = NULL, \
             lease_until_ms = NULL WHERE id = $1 AND lease_token = $2 AND state = 'leased'",
        )
        .bind(batch.id)
        .bind(&batch.token)
        .execute(self.pool())
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Complete a batch: done, its results, the incidents of the files that alert, the
    /// index — all in one transaction, and only while the lease is still this claim's
    /// (else [`StoreError::Conflict`] and nothing is written). `state_tag` is the
    /// versions of the state the worker's engine was built from, `policy_version` the
    /// stored policy's version that decided (none: a policy from a file).
    pub async fn scan_batch_complete(
        &self,
        batch: &ClaimedBatch,
        results: &[ScanFileResult],
        worker: &str,
        state_tag: &str,
        policy_version: Option<i64>,
    ) -> Result<BatchDone> {
        let alerting = results.iter().any(|r| r.alerts);
        let (_guard, mut tx) = if alerting {
            let (g, tx) = self.audit_tx().await?;
            (Some(g), tx)
        } else {
            (None, self.scan_tx().await?)
        };
        let now = now_ms();
        // The job's row first: completions of one job take their turns, so the last one
        // sees every other batch done (and the order of locks is always job, then batch).
        let job = sqlx::query(
            "UPDATE scan_jobs SET batches = batches WHERE id = $1 \
             RETURNING machine, person, department",
        )
        .bind(batch.job_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("scan job {}", batch.job_id)))?;
        let machine: String = job.try_get("machine")?;
        let person: Option<String> = job.try_get("person")?;
        let department: Option<String> = job.try_get("department")?;
        let done = sqlx::query(
            "UPDATE scan_batches SET state = 'done', done_ms = $1, done_by = $2, \
             lease_token = NULL WHERE id = $3 AND lease_token = $4 AND state = 'leased'",
        )
        .bind(now)
        .bind(worker)
        .bind(batch.id)
        .bind(&batch.token)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "the lease on scan batch {} was lost (claimed again by another worker)",
                batch.id
            )));
        }
        let mut out = BatchDone::default();
        for r in results {
            let inserted = sqlx::query(
                "INSERT INTO scan_results (job_id, path, batch_id, size, mtime_ms, blake3, \
                 outcome, file_type, verdict, level, findings, errors, alerts, worker, \
                 inspected_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
                 ON CONFLICT (job_id, path) DO NOTHING",
            )
            .bind(batch.job_id)
            .bind(&r.path)
            .bind(batch.id)
            .bind(r.size)
            .bind(r.mtime_ms)
            .bind(r.blake3.as_deref())
            .bind(r.outcome.as_str())
            .bind(r.file_type.as_deref())
            .bind(r.verdict.as_deref())
            .bind(r.level.as_deref())
            .bind(r.findings.to_string())
            .bind(serde_json::to_string(&r.errors).unwrap_or_default())
            .bind(i64::from(r.alerts))
            .bind(worker)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if inserted.rows_affected() == 0 {
                // The walk listed the path twice (overlapping roots): one result.
                continue;
            }
            out.results += 1;
            if r.alerts {
                let incident = Store::insert_incident(
                    &mut tx,
                    NewIncident {
                        channel: "scan".into(),
                        user: person.clone(),
                        department: department.clone(),
                        source: Some(machine.clone()),
                        destination: None,
                        object_name: Some(r.path.clone()),
                        object_size: Some(r.size),
                        object_type: r.file_type.clone(),
                        action: r.verdict.clone().unwrap_or_default(),
                        severity: r.severity.clone(),
                        level: r.level.clone(),
                        rules: r.rules.clone(),
                        findings: r.findings.clone(),
                        evidence: r.evidence.clone(),
                        quarantine_id: None,
                        policy_version,
                    },
                    now,
                    worker,
                )
                .await?;
                sqlx::query(
                    "UPDATE scan_results SET incident = $1 WHERE job_id = $2 AND path = $3",
                )
                .bind(&incident.number)
                .bind(batch.job_id)
                .bind(&r.path)
                .execute(&mut *tx)
                .await?;
                out.incidents.push(incident.number);
            }
            match (r.outcome, &r.blake3) {
                (FileOutcome::Inspected | FileOutcome::Unchanged, Some(hash))
                    if r.errors.is_empty() =>
                {
                    sqlx::query(
                        "INSERT INTO scan_file_index (path, size, mtime_ms, blake3, state_tag, \
                         verdict, job_id, inspected_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                         ON CONFLICT (path) DO UPDATE SET size = excluded.size, \
                         mtime_ms = excluded.mtime_ms, blake3 = excluded.blake3, \
                         state_tag = excluded.state_tag, verdict = excluded.verdict, \
                         job_id = excluded.job_id, inspected_ms = excluded.inspected_ms",
                    )
                    .bind(&r.path)
                    .bind(r.size)
                    .bind(r.mtime_ms)
                    .bind(hash)
                    .bind(state_tag)
                    .bind(r.verdict.as_deref())
                    .bind(batch.job_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                // Gone or unreadable: forgotten, so the next scan looks again.
                _ => {
                    sqlx::query("DELETE FROM scan_file_index WHERE path = $1")
                        .bind(&r.path)
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        out.job_finished = finish_if_done(&mut tx, batch.job_id, now).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Batches not done yet, over every job (queued, or leased — a lease that runs out is
    /// claimed again).
    pub async fn scan_batches_open(&self) -> Result<i64> {
        Ok(
            sqlx::query("SELECT COUNT(*) FROM scan_batches WHERE state <> 'done'")
                .fetch_one(self.pool())
                .await?
                .try_get(0)?,
        )
    }

    /// The newest jobs first.
    pub async fn scan_job_ids(&self, limit: i64) -> Result<Vec<i64>> {
        let rows = sqlx::query("SELECT id FROM scan_jobs ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| r.try_get(0).map_err(StoreError::from))
            .collect()
    }

    /// Where a job stands.
    pub async fn scan_job_progress(&self, job_id: i64) -> Result<ScanJobProgress> {
        let now = now_ms();
        let job = sqlx::query(
            "SELECT id, paths, machine, person, department, created_ms, created_by, enqueued_ms, \
             finished_ms, total_files, total_bytes, unchanged, walk_errors, batches, \
             walk_seen_ms, walk_interrupted FROM scan_jobs WHERE id = $1",
        )
        .bind(job_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("scan job {job_id}")))?;
        let b = sqlx::query(
            "SELECT CAST(COALESCE(SUM(CASE WHEN state = 'done' THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN state = 'leased' THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN attempts > 1 THEN 1 ELSE 0 END), 0) AS BIGINT), \
             MIN(claimed_ms), MAX(done_ms), \
             CAST(COALESCE(SUM(CASE WHEN state = 'done' AND done_ms >= $2 THEN file_count \
                  ELSE 0 END), 0) AS BIGINT) \
             FROM scan_batches WHERE job_id = $1",
        )
        .bind(job_id)
        .bind(now - RECENT_WINDOW_MS)
        .fetch_one(self.pool())
        .await?;
        let r = sqlx::query(
            "SELECT COUNT(*), CAST(COALESCE(SUM(size), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN outcome = 'inspected' THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN outcome = 'unchanged' THEN 1 ELSE 0 END), 0) AS BIGINT), \
             CAST(COALESCE(SUM(CASE WHEN outcome = 'error' OR errors <> '[]' THEN 1 ELSE 0 END), 0) \
                  AS BIGINT), \
             CAST(COALESCE(SUM(alerts), 0) AS BIGINT), COUNT(incident) \
             FROM scan_results WHERE job_id = $1",
        )
        .bind(job_id)
        .fetch_one(self.pool())
        .await?;
        let workers = sqlx::query(
            "SELECT DISTINCT lease_owner FROM scan_batches \
             WHERE job_id = $1 AND state = 'leased' AND lease_until_ms >= $2 ORDER BY lease_owner",
        )
        .bind(job_id)
        .bind(now)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| row.try_get::<Option<String>, _>(0))
        .collect::<std::result::Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
        let paths: String = job.try_get("paths")?;
        Ok(ScanJobProgress {
            id: job.try_get("id")?,
            paths: serde_json::from_str(&paths).unwrap_or_default(),
            machine: job.try_get("machine")?,
            person: job.try_get("person")?,
            department: job.try_get("department")?,
            created_ms: job.try_get("created_ms")?,
            created_by: job.try_get("created_by")?,
            enqueued_ms: job.try_get("enqueued_ms")?,
            walk_seen_ms: job.try_get("walk_seen_ms")?,
            walk_interrupted: job.try_get("walk_interrupted")?,
            finished_ms: job.try_get("finished_ms")?,
            total_files: job.try_get("total_files")?,
            total_bytes: job.try_get("total_bytes")?,
            unchanged: job.try_get("unchanged")?,
            walk_errors: job.try_get("walk_errors")?,
            batches: job.try_get("batches")?,
            batches_done: b.try_get(0)?,
            batches_leased: b.try_get(1)?,
            batches_reclaimed: b.try_get(2)?,
            first_claim_ms: b.try_get(3)?,
            last_done_ms: b.try_get(4)?,
            recent_files: b.try_get(5)?,
            files_done: r.try_get(0)?,
            bytes_done: r.try_get(1)?,
            inspected: r.try_get(2)?,
            unchanged_by_hash: r.try_get(3)?,
            errors: r.try_get(4)?,
            alerting: r.try_get(5)?,
            incidents: r.try_get(6)?,
            workers,
            now_ms: now,
        })
    }

    /// A job's results, by path.
    pub async fn scan_results(&self, job_id: i64) -> Result<Vec<ScanResultRow>> {
        let rows = sqlx::query(
            "SELECT job_id, path, batch_id, size, mtime_ms, blake3, outcome, file_type, verdict, \
             level, findings, errors, alerts, incident, worker, inspected_ms \
             FROM scan_results WHERE job_id = $1 ORDER BY path",
        )
        .bind(job_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(result_from_row).collect()
    }

    /// A job's batches, in order.
    pub async fn scan_batches(&self, job_id: i64) -> Result<Vec<ScanBatchRow>> {
        let rows = sqlx::query(
            "SELECT id, seq, file_count, state, lease_owner, lease_until_ms, attempts, \
             reclaimed_from, done_by, done_ms FROM scan_batches WHERE job_id = $1 ORDER BY seq",
        )
        .bind(job_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ScanBatchRow {
                    id: row.try_get("id")?,
                    seq: row.try_get("seq")?,
                    file_count: row.try_get("file_count")?,
                    state: row.try_get("state")?,
                    lease_owner: row.try_get("lease_owner")?,
                    lease_until_ms: row.try_get("lease_until_ms")?,
                    attempts: row.try_get("attempts")?,
                    reclaimed_from: row.try_get("reclaimed_from")?,
                    done_by: row.try_get("done_by")?,
                    done_ms: row.try_get("done_ms")?,
                })
            })
            .collect()
    }
}

/// Mark the job finished when its walk is over and every batch is done (inside the
/// caller's transaction, which has updated the job's row, so it holds the row's lock).
async fn finish_if_done(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    job_id: i64,
    now: i64,
) -> Result<bool> {
    let r = sqlx::query(
        "UPDATE scan_jobs SET finished_ms = $1 WHERE id = $2 AND finished_ms IS NULL \
         AND enqueued_ms IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM scan_batches WHERE job_id = $2 AND state <> 'done')",
    )
    .bind(now)
    .bind(job_id)
    .execute(&mut **tx)
    .await?;
    Ok(r.rows_affected() == 1)
}
