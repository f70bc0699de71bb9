//! The append-only audit log: every verdict and every change made through the API, each
//! entry hashing its predecessor, so a deleted, inserted or edited row breaks the chain.
//!
//! The chain alone would not notice an edited *incident* row (someone turning a `block` into
//! an `allow`), so the entry that records a verdict carries the incident's content hash, and
//! entries that change an incident (disposition, quarantine release) carry the new state.
//! [`Store::verify_audit`] checks the chain and then every incident against its entries.

use std::collections::HashMap;

use serde_json::{Value, json};
use sqlx::{Any, Row, Transaction};

use crate::{Backend, Result, Store, now_ms};

/// The predecessor of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub ts_ms: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: Value,
    pub prev_hash: String,
    pub hash: String,
}

/// Filters for the auditor's view of the log; every field optional.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// An exact action (`incident.disposition`) or a family (`incident`, `account`).
    pub action: Option<String>,
    pub subject: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub oldest_first: bool,
}

#[derive(Debug, serde::Serialize)]
pub struct AuditPage {
    pub total: i64,
    pub entries: Vec<AuditEntry>,
}

/// The outcome of `baomi audit verify`.
#[derive(Debug, Default, serde::Serialize)]
pub struct AuditReport {
    pub entries: u64,
    pub incidents_checked: u64,
    /// Empty when the log and the incidents are intact.
    pub problems: Vec<String>,
}

impl AuditReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The hash of one entry: every field, length-prefixed so no two entries encode alike.
pub(crate) fn entry_hash(
    prev_hash: &str,
    seq: i64,
    ts_ms: i64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"baomi-audit-v1");
    for field in [prev_hash, actor, action, subject, detail] {
        h.update(&(field.len() as u64).to_le_bytes());
        h.update(field.as_bytes());
    }
    h.update(&seq.to_le_bytes());
    h.update(&ts_ms.to_le_bytes());
    h.finalize().to_hex().to_string()
}

impl Store {
    /// Begin a transaction that may append to the audit log. Appends are serialised: within
    /// this process by a mutex, across PostgreSQL nodes by an advisory lock held until commit.
    pub(crate) async fn audit_tx(
        &self,
    ) -> Result<(tokio::sync::OwnedMutexGuard<()>, Transaction<'static, Any>)> {
        let guard = self.audit_lock.clone().lock_owned().await;
        // SQLite: take the write lock at BEGIN. A deferred transaction that reads first and
        // writes later gets SQLITE_BUSY at once, without waiting, when another connection
        // wrote in between ("database is locked" under concurrent requests).
        let mut tx = match self.backend() {
            Backend::Sqlite => self.pool().begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool().begin().await?,
        };
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(7242917)")
                .execute(&mut *tx)
                .await?;
        }
        Ok((guard, tx))
    }

    /// Append one entry inside `tx`.
    pub(crate) async fn append_audit(
        tx: &mut Transaction<'static, Any>,
        actor: &str,
        action: &str,
        subject: &str,
        detail: &Value,
    ) -> Result<AuditEntry> {
        let last = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
        let (prev_seq, prev_hash) = match last {
            Some(row) => (row.try_get::<i64, _>(0)?, row.try_get::<String, _>(1)?),
            None => (0, GENESIS.to_owned()),
        };
        let seq = prev_seq + 1;
        let ts_ms = now_ms();
        let detail_text = detail.to_string();
        let hash = entry_hash(&prev_hash, seq, ts_ms, actor, action, subject, &detail_text);
        sqlx::query(
            "INSERT INTO audit_log (seq, ts_ms, actor, action, subject, detail, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(seq)
        .bind(ts_ms)
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(&detail_text)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut **tx)
        .await?;
        Ok(AuditEntry {
            seq,
            ts_ms,
            actor: actor.to_owned(),
            action: action.to_owned(),
            subject: subject.to_owned(),
            detail: detail.clone(),
            prev_hash,
            hash,
        })
    }

    /// Record an action that changes no incident (a token created, a fingerprint
    /// registered, evidence downloaded).
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        detail: Value,
    ) -> Result<AuditEntry> {
        let (_guard, mut tx) = self.audit_tx().await?;
        let e = Store::append_audit(&mut tx, actor, action, subject, &detail).await?;
        tx.commit().await?;
        Ok(e)
    }

    /// The newest `limit` entries, newest first.
    pub async fn audit_tail(&self, limit: i64) -> Result<Vec<AuditEntry>> {
        let rows = sqlx::query(
            "SELECT seq, ts_ms, actor, action, subject, detail, prev_hash, hash \
             FROM audit_log ORDER BY seq DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(row_to_entry).collect()
    }

    /// Entries matching a filter, newest first, with the total count.
    pub async fn audit_search(&self, f: &AuditFilter) -> Result<AuditPage> {
        let mut clauses: Vec<String> = Vec::new();
        let mut params: Vec<crate::incidents::Param> = Vec::new();
        let mut push = |clause: &str, p: crate::incidents::Param| {
            params.push(p);
            clauses.push(clause.replace('?', &format!("${}", params.len())));
        };
        use crate::incidents::Param;
        if let Some(a) = f.actor.as_deref().filter(|s| !s.is_empty()) {
            push("actor = ?", Param::Text(a.to_owned()));
        }
        if let Some(a) = f.action.as_deref().filter(|s| !s.is_empty()) {
            // `incident` finds every `incident.*` action; `incident.comment` just that one.
            if a.contains('.') {
                push("action = ?", Param::Text(a.to_owned()));
            } else {
                push("action LIKE ?", Param::Text(format!("{a}.%")));
            }
        }
        if let Some(s) = f.subject.as_deref().filter(|s| !s.is_empty()) {
            push("subject = ?", Param::Text(s.to_owned()));
        }
        if let Some(v) = f.from_ms {
            push("ts_ms >= ?", Param::Int(v));
        }
        if let Some(v) = f.to_ms {
            push("ts_ms < ?", Param::Int(v));
        }
        let clause = if clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", clauses.join(" AND "))
        };
        let total: i64 = crate::incidents::bind_params(
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM audit_log{clause}"
            ))),
            &params,
        )
        .fetch_one(self.pool())
        .await?
        .try_get(0)?;
        let limit = f.limit.unwrap_or(100).clamp(1, 100_000);
        let offset = f.offset.unwrap_or(0).max(0);
        let order = if f.oldest_first { "ASC" } else { "DESC" };
        let sql = format!(
            "SELECT seq, ts_ms, actor, action, subject, detail, prev_hash, hash FROM audit_log{clause} \
             ORDER BY seq {order} LIMIT {limit} OFFSET {offset}"
        );
        let rows = crate::incidents::bind_params(sqlx::query(sqlx::AssertSqlSafe(sql)), &params)
            .fetch_all(self.pool())
            .await?;
        Ok(AuditPage {
            total,
            entries: rows.iter().map(row_to_entry).collect::<Result<_>>()?,
        })
    }

    /// Walk the whole chain, then check every incident against what the chain says of it.
    pub async fn verify_audit(&self) -> Result<AuditReport> {
        use futures_util::StreamExt;
        let mut report = AuditReport::default();
        // What the chain says each incident must look like now.
        let mut content: HashMap<String, String> = HashMap::new();
        let mut disposition: HashMap<String, String> = HashMap::new();
        let mut quarantine: HashMap<String, String> = HashMap::new();
        let mut purged_before: i64 = i64::MIN;
        {
            let mut rows = sqlx::query(
                "SELECT seq, ts_ms, actor, action, subject, detail, prev_hash, hash \
                 FROM audit_log ORDER BY seq",
            )
            .fetch(self.pool());
            let mut expected_prev = GENESIS.to_owned();
            let mut expected_seq = 1;
            while let Some(row) = rows.next().await {
                let row = row?;
                let seq: i64 = row.try_get(0)?;
                let ts_ms: i64 = row.try_get(1)?;
                let actor: String = row.try_get(2)?;
                let action: String = row.try_get(3)?;
                let subject: String = row.try_get(4)?;
                let detail_text: String = row.try_get(5)?;
                let prev_hash: String = row.try_get(6)?;
                let hash: String = row.try_get(7)?;
                report.entries += 1;
                if seq != expected_seq {
                    report.problems.push(format!(
                        "audit entry {expected_seq} is missing (next entry is {seq})"
                    ));
                }
                if prev_hash != expected_prev {
                    report.problems.push(format!(
                        "audit entry {seq}: does not follow its predecessor (chain broken)"
                    ));
                }
                let recomputed = entry_hash(
                    &prev_hash,
                    seq,
                    ts_ms,
                    &actor,
                    &action,
                    &subject,
                    &detail_text,
                );
                if recomputed != hash {
                    report.problems.push(format!(
                        "audit entry {seq} ({action} {subject}): altered after it was written"
                    ));
                }
                expected_prev = hash;
                expected_seq = seq + 1;
                let detail: Value = serde_json::from_str(&detail_text).unwrap_or(Value::Null);
                let field = |k: &str| detail.get(k).and_then(Value::as_str).map(str::to_owned);
                match action.as_str() {
                    "incident.create" => {
                        if let Some(h) = field("content_hash") {
                            content.insert(subject.clone(), h);
                        }
                    }
                    "incident.disposition" => {
                        if let Some(d) = field("disposition") {
                            disposition.insert(subject.clone(), d);
                        }
                    }
                    "quarantine.release" | "quarantine.delete" => {
                        if let Some(s) = field("state") {
                            quarantine.insert(subject.clone(), s);
                        }
                    }
                    "retention.purge" => {
                        if let Some(before) = detail.get("before_ms").and_then(Value::as_i64) {
                            purged_before = purged_before.max(before);
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        let mut rows = sqlx::query(crate::incidents::SELECT_INCIDENT).fetch(self.pool());
        while let Some(row) = rows.next().await {
            let inc = crate::incidents::row_to_incident(&row?)?;
            report.incidents_checked += 1;
            seen.insert(inc.number.clone());
            let actual = inc.content_hash_recomputed();
            match content.get(&inc.number) {
                None => report.problems.push(format!(
                    "incident {}: not in the audit log (inserted behind the server's back)",
                    inc.number
                )),
                Some(h) if *h != actual || inc.content_hash != actual => report.problems.push(
                    format!("incident {}: its recorded content was changed", inc.number),
                ),
                Some(_) => {}
            }
            let want = disposition
                .get(&inc.number)
                .map(String::as_str)
                .unwrap_or("open");
            if inc.disposition.as_str() != want {
                report.problems.push(format!(
                    "incident {}: disposition is {} but the audit log says {want}",
                    inc.number,
                    inc.disposition.as_str()
                ));
            }
            let q_now = inc.quarantine_state.as_deref().unwrap_or("");
            if let Some(q) = quarantine.get(&inc.number)
                && q != q_now
            {
                report.problems.push(format!(
                    "incident {}: quarantine state is {q_now:?} but the audit log says {q}",
                    inc.number
                ));
            }
        }
        drop(rows);
        // Incidents the chain created that are gone, other than by retention.
        let mut missing: Vec<&String> = content.keys().filter(|n| !seen.contains(*n)).collect();
        missing.sort();
        if !missing.is_empty() {
            let created = self.incident_created_from_audit(&missing).await?;
            for n in missing {
                let ts = created.get(n).copied().unwrap_or(i64::MAX);
                if ts >= purged_before {
                    report
                        .problems
                        .push(format!("incident {n}: deleted outside retention"));
                }
            }
        }
        Ok(report)
    }

    async fn incident_created_from_audit(
        &self,
        numbers: &[&String],
    ) -> Result<HashMap<String, i64>> {
        let mut out = HashMap::new();
        for n in numbers {
            let row = sqlx::query(
                "SELECT detail FROM audit_log WHERE action = 'incident.create' AND subject = $1",
            )
            .bind(n.as_str())
            .fetch_optional(self.pool())
            .await?;
            if let Some(row) = row {
                let d: String = row.try_get(0)?;
                let v: Value = serde_json::from_str(&d).unwrap_or(Value::Null);
                if let Some(ms) = v.get("created_ms").and_then(Value::as_i64) {
                    out.insert((*n).clone(), ms);
                }
            }
        }
        Ok(out)
    }
}

fn row_to_entry(row: &sqlx::any::AnyRow) -> Result<AuditEntry> {
    let detail: String = row.try_get(5)?;
    Ok(AuditEntry {
        seq: row.try_get(0)?,
        ts_ms: row.try_get(1)?,
        actor: row.try_get(2)?,
        action: row.try_get(3)?,
        subject: row.try_get(4)?,
        detail: serde_json::from_str(&detail).unwrap_or_else(|_| json!(detail)),
        prev_hash: row.try_get(6)?,
        hash: row.try_get(7)?,
    })
}
