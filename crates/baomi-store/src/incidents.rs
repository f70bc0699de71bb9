//! Incidents: one row per recorded verdict, with who, where to, what, and the officer's
//! disposition. Findings are stored as the JSON the engine reports, already masked.

use serde::Serialize;
use serde_json::{Value, json};
// Dynamic SQL here is built only from constant column names and `$n` placeholders; values
// are always bound, never formatted in.
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::evidence::EvidenceRef;
use crate::{Backend, LOCAL_OFFSET_MS, Result, Store, StoreError, local_date, now_ms};

const DAY_MS: i64 = 86_400_000;

/// What a door hands over when a verdict is worth recording.
#[derive(Debug, Clone, Default)]
pub struct NewIncident {
    pub channel: String,
    pub user: Option<String>,
    pub department: Option<String>,
    /// Where it came from: client IP, mail sender.
    pub source: Option<String>,
    /// Where it was going: URL, recipients.
    pub destination: Option<String>,
    pub object_name: Option<String>,
    pub object_size: Option<i64>,
    pub object_type: Option<String>,
    pub action: String,
    pub severity: String,
    /// The highest classification level among the findings.
    pub level: Option<String>,
    pub rules: Vec<String>,
    /// `findings[]` as `baomi scan --format json` prints them (masked).
    pub findings: Value,
    pub evidence: Option<EvidenceRef>,
    /// The mail's queue id when the message was put on hold.
    pub quarantine_id: Option<String>,
    /// The policy version that decided (sealed by the incident's audit entry, not by its
    /// content hash, which predates policy versions).
    pub policy_version: Option<i64>,
}

/// What an officer concluded about an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    Open,
    /// 确认违规
    Violation,
    /// 误报
    FalsePositive,
    /// 已整改
    Rectified,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Open => "open",
            Disposition::Violation => "violation",
            Disposition::FalsePositive => "false_positive",
            Disposition::Rectified => "rectified",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Disposition::Open => "待处理",
            Disposition::Violation => "确认违规",
            Disposition::FalsePositive => "误报",
            Disposition::Rectified => "已整改",
        }
    }

    pub fn parse(s: &str) -> Option<Disposition> {
        Some(match s {
            "open" => Disposition::Open,
            "violation" | "confirmed_violation" => Disposition::Violation,
            "false_positive" => Disposition::FalsePositive,
            "rectified" => Disposition::Rectified,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub id: i64,
    pub number: String,
    pub created_ms: i64,
    pub channel: String,
    pub user: Option<String>,
    pub department: Option<String>,
    pub source: Option<String>,
    pub destination: Option<String>,
    pub object_name: Option<String>,
    pub object_size: Option<i64>,
    pub object_type: Option<String>,
    pub action: String,
    pub severity: String,
    pub level: Option<String>,
    pub rules: Vec<String>,
    pub findings: Value,
    pub evidence: Option<EvidenceRef>,
    #[serde(skip)]
    pub content_hash: String,
    pub disposition: Disposition,
    pub disposition_note: Option<String>,
    pub disposition_by: Option<String>,
    pub disposition_ms: Option<i64>,
    pub quarantine_id: Option<String>,
    pub quarantine_state: Option<String>,
    /// The officer handling it.
    pub assignee: Option<String>,
    /// The policy version that decided (none: recorded before versions existed).
    pub policy_version: Option<i64>,
}

impl Incident {
    /// The hash of everything about an incident that must never change after the verdict.
    pub(crate) fn content_hash_recomputed(&self) -> String {
        content_hash(
            &self.number,
            self.created_ms,
            &NewIncident {
                channel: self.channel.clone(),
                user: self.user.clone(),
                department: self.department.clone(),
                source: self.source.clone(),
                destination: self.destination.clone(),
                object_name: self.object_name.clone(),
                object_size: self.object_size,
                object_type: self.object_type.clone(),
                action: self.action.clone(),
                severity: self.severity.clone(),
                level: self.level.clone(),
                rules: self.rules.clone(),
                findings: self.findings.clone(),
                evidence: self.evidence.clone(),
                quarantine_id: self.quarantine_id.clone(),
                policy_version: self.policy_version,
            },
        )
    }
}

fn content_hash(number: &str, created_ms: i64, n: &NewIncident) -> String {
    let canonical = json!([
        number,
        created_ms,
        n.channel,
        n.user,
        n.department,
        n.source,
        n.destination,
        n.object_name,
        n.object_size,
        n.object_type,
        n.action,
        n.severity,
        n.level,
        n.rules,
        n.findings.to_string(),
        n.evidence.as_ref().map(|e| (&e.hash, e.size)),
        n.quarantine_id,
    ]);
    blake3::hash(canonical.to_string().as_bytes())
        .to_hex()
        .to_string()
}

/// Filters for the incident list; every field optional.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct IncidentFilter {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub channel: Option<String>,
    pub level: Option<String>,
    pub department: Option<String>,
    pub user: Option<String>,
    pub disposition: Option<String>,
    pub action: Option<String>,
    /// A policy rule among the incident's rules.
    pub rule: Option<String>,
    pub assignee: Option<String>,
    /// Free text: part of the object's name or of the incident number.
    pub text: Option<String>,
    /// `newest` (default), `oldest`, `severity`.
    pub sort: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct IncidentPage {
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
    pub incidents: Vec<Incident>,
}

/// Counts for the officer's statistics tables.
#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub total: i64,
    pub by_day: Vec<(String, i64)>,
    pub by_level: Vec<(String, i64)>,
    pub by_channel: Vec<(String, i64)>,
    pub by_department: Vec<(String, i64)>,
    pub by_action: Vec<(String, i64)>,
    pub by_disposition: Vec<(String, i64)>,
    /// Incidents per policy rule (an incident with two rules counts for both).
    pub by_rule: Vec<(String, i64)>,
}

pub(crate) const SELECT_INCIDENT: &str = "SELECT id, number, created_ms, channel, user_name, \
    department, source, destination, object_name, object_size, object_type, action, severity, \
    level, rules, findings, evidence, evidence_size, content_hash, disposition, \
    disposition_note, disposition_by, disposition_ms, quarantine_id, quarantine_state, \
    assignee, policy_version FROM incidents";

pub(crate) fn row_to_incident(row: &AnyRow) -> Result<Incident> {
    let rules: String = row.try_get(14)?;
    let findings: String = row.try_get(15)?;
    let evidence: Option<String> = row.try_get(16)?;
    let evidence_size: Option<i64> = row.try_get(17)?;
    let disposition: String = row.try_get(19)?;
    Ok(Incident {
        id: row.try_get(0)?,
        number: row.try_get(1)?,
        created_ms: row.try_get(2)?,
        channel: row.try_get(3)?,
        user: row.try_get(4)?,
        department: row.try_get(5)?,
        source: row.try_get(6)?,
        destination: row.try_get(7)?,
        object_name: row.try_get(8)?,
        object_size: row.try_get(9)?,
        object_type: row.try_get(10)?,
        action: row.try_get(11)?,
        severity: row.try_get(12)?,
        level: row.try_get(13)?,
        rules: serde_json::from_str(&rules).unwrap_or_default(),
        findings: serde_json::from_str(&findings).unwrap_or(Value::Null),
        evidence: evidence.map(|hash| EvidenceRef {
            hash,
            size: evidence_size.unwrap_or(0),
        }),
        content_hash: row.try_get(18)?,
        disposition: Disposition::parse(&disposition).unwrap_or(Disposition::Open),
        disposition_note: row.try_get(20)?,
        disposition_by: row.try_get(21)?,
        disposition_ms: row.try_get(22)?,
        quarantine_id: row.try_get(23)?,
        quarantine_state: row.try_get(24)?,
        assignee: row.try_get(25)?,
        policy_version: row.try_get(26)?,
    })
}

/// A SQL WHERE clause under construction, with its parameters in `$n` order.
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    params: Vec<Param>,
}

pub(crate) enum Param {
    Int(i64),
    Text(String),
}

impl Where {
    fn push(&mut self, column: &str, op: &str, p: Param) {
        self.params.push(p);
        self.clauses
            .push(format!("{column} {op} ${}", self.params.len()));
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    fn from_filter(f: &IncidentFilter, backend: Backend) -> Where {
        let mut w = Where::default();
        if let Some(v) = f.from_ms {
            w.push("created_ms", ">=", Param::Int(v));
        }
        if let Some(v) = f.to_ms {
            w.push("created_ms", "<", Param::Int(v));
        }
        w.push_dimensions(f);
        for (column, value) in [("user_name", &f.user), ("assignee", &f.assignee)] {
            if let Some(v) = value {
                w.push(column, "=", Param::Text(v.clone()));
            }
        }
        if let Some(text) = f.text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            // SQLite: the trigram index of names and numbers (`incident_text`, FTS5) finds a
            // substring of three characters or more without reading every incident.
            // PostgreSQL's LIKE uses its pg_trgm indexes by itself.
            if backend == Backend::Sqlite && text.chars().count() >= 3 {
                w.params
                    .push(Param::Text(format!("\"{}\"", text.replace('"', "\"\""))));
                let n = w.params.len();
                w.clauses.push(format!(
                    "id IN (SELECT rowid FROM incident_text WHERE incident_text MATCH ${n})"
                ));
            } else {
                let pattern = format!("%{}%", like_escape(text));
                w.params.push(Param::Text(pattern));
                let n = w.params.len();
                w.clauses.push(format!(
                    "(object_name LIKE ${n} ESCAPE '\\' OR number LIKE ${n} ESCAPE '\\')"
                ));
            }
        }
        w
    }

    /// The same filter over `incident_counts` (per Beijing day and dimension combination),
    /// when it can answer it exactly: no person, assignee or free text, and whole days.
    fn counts_filter(f: &IncidentFilter) -> Option<Where> {
        if f.user.is_some()
            || f.assignee.is_some()
            || f.text.as_deref().is_some_and(|t| !t.trim().is_empty())
        {
            return None;
        }
        let day_of = |ms: i64| {
            let local = ms + LOCAL_OFFSET_MS;
            (local.rem_euclid(DAY_MS) == 0).then_some(local.div_euclid(DAY_MS))
        };
        let mut w = Where::default();
        if let Some(v) = f.from_ms {
            w.push("day", ">=", Param::Int(day_of(v)?));
        }
        if let Some(v) = f.to_ms {
            w.push("day", "<", Param::Int(day_of(v)?));
        }
        w.push_dimensions(f);
        Some(w)
    }

    /// The filter's conditions on the columns `incidents` and `incident_counts` share:
    /// channel, level, department, disposition, action, and one rule among `rules`.
    fn push_dimensions(&mut self, f: &IncidentFilter) {
        let texts = [
            ("channel", &f.channel),
            ("level", &f.level),
            ("department", &f.department),
            ("disposition", &f.disposition),
            ("action", &f.action),
        ];
        for (column, value) in texts {
            if let Some(v) = value {
                self.push(column, "=", Param::Text(v.clone()));
            }
        }
        if let Some(rule) = &f.rule {
            // `rules` is a JSON array of names: match one whole quoted name.
            self.push(
                "rules",
                "LIKE",
                Param::Text(format!("%{}%", like_escape(&json!(rule).to_string()))),
            );
            self.escape_last();
        }
    }

    fn escape_last(&mut self) {
        if let Some(c) = self.clauses.last_mut() {
            c.push_str(" ESCAPE '\\'");
        }
    }
}

/// `%`, `_` and the escape character itself taken literally in a LIKE pattern.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// ORDER BY for a filter's `sort`, from constant text only.
fn order_by(sort: Option<&str>) -> &'static str {
    match sort {
        Some("oldest") => "created_ms ASC, id ASC",
        Some("severity") => {
            "CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 \
             WHEN 'low' THEN 3 ELSE 4 END, created_ms DESC, id DESC"
        }
        _ => "created_ms DESC, id DESC",
    }
}

/// The WHERE clause of a filter and its parameters, for queries in other modules.
pub(crate) fn where_sql(f: &IncidentFilter, backend: Backend) -> (String, Vec<Param>) {
    let w = Where::from_filter(f, backend);
    (w.sql(), w.params)
}

pub(crate) fn bind_params<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    params: &'q [Param],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    bind_all(q, params)
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    params: &'q [Param],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    for p in params {
        q = match p {
            Param::Int(i) => q.bind(*i),
            Param::Text(s) => q.bind(s.as_str()),
        };
    }
    q
}

impl Store {
    /// Record an incident and its audit entry in one transaction; returns it with its number
    /// (`BM-YYYYMMDD-NNNNNN`, Beijing date and a sequence number).
    pub async fn record_incident(&self, new: NewIncident, actor: &str) -> Result<Incident> {
        let (_guard, mut tx) = self.audit_tx().await?;
        let incident = Store::insert_incident(&mut tx, new, now_ms(), actor).await?;
        tx.commit().await?;
        Ok(incident)
    }

    /// Insert an incident dated `created_ms` (a self-inspection imported later keeps the
    /// time of its scan) and its audit entry, inside the caller's audit transaction.
    pub(crate) async fn insert_incident(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        new: NewIncident,
        created_ms: i64,
        actor: &str,
    ) -> Result<Incident> {
        let placeholder = format!("pending-{created_ms}-{}", std::process::id());
        let row = sqlx::query(
            "INSERT INTO incidents (number, created_ms, channel, user_name, department, source, \
             destination, object_name, object_size, object_type, action, severity, level, rules, \
             findings, evidence, evidence_size, content_hash, quarantine_id, policy_version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, '', $18, $19) \
             RETURNING id",
        )
        .bind(&placeholder)
        .bind(created_ms)
        .bind(&new.channel)
        .bind(new.user.as_deref())
        .bind(new.department.as_deref())
        .bind(new.source.as_deref())
        .bind(new.destination.as_deref())
        .bind(new.object_name.as_deref())
        .bind(new.object_size)
        .bind(new.object_type.as_deref())
        .bind(&new.action)
        .bind(&new.severity)
        .bind(new.level.as_deref())
        .bind(serde_json::to_string(&new.rules).unwrap_or_default())
        .bind(new.findings.to_string())
        .bind(new.evidence.as_ref().map(|e| e.hash.clone()))
        .bind(new.evidence.as_ref().map(|e| e.size))
        .bind(new.quarantine_id.as_deref())
        .bind(new.policy_version)
        .fetch_one(&mut **tx)
        .await?;
        let id: i64 = row.try_get(0)?;
        let number = format!("BM-{}-{id:06}", local_date(created_ms).replace('-', ""));
        let hash = content_hash(&number, created_ms, &new);
        sqlx::query("UPDATE incidents SET number = $1, content_hash = $2 WHERE id = $3")
            .bind(&number)
            .bind(&hash)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        Store::append_audit(
            tx,
            actor,
            "incident.create",
            &number,
            &json!({
                "content_hash": hash,
                "created_ms": created_ms,
                "channel": new.channel,
                "action": new.action,
                "policy_version": new.policy_version,
            }),
        )
        .await?;
        Ok(Incident {
            id,
            number,
            created_ms,
            channel: new.channel,
            user: new.user,
            department: new.department,
            source: new.source,
            destination: new.destination,
            object_name: new.object_name,
            object_size: new.object_size,
            object_type: new.object_type,
            action: new.action,
            severity: new.severity,
            level: new.level,
            rules: new.rules,
            findings: new.findings,
            evidence: new.evidence,
            content_hash: hash,
            disposition: Disposition::Open,
            disposition_note: None,
            disposition_by: None,
            disposition_ms: None,
            quarantine_id: new.quarantine_id,
            quarantine_state: None,
            assignee: None,
            policy_version: new.policy_version,
        })
    }

    pub async fn incident(&self, number: &str) -> Result<Incident> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "{SELECT_INCIDENT} WHERE number = $1"
        )))
        .bind(number)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("incident {number}")))?;
        row_to_incident(&row)
    }

    /// Newest first.
    pub async fn incidents(&self, filter: &IncidentFilter) -> Result<IncidentPage> {
        let w = Where::from_filter(filter, self.backend());
        let limit = filter.limit.unwrap_or(50).clamp(1, 1000);
        let offset = filter.offset.unwrap_or(0).max(0);
        let total = self.count(filter, &w).await?;
        let n = w.params.len();
        let list_sql = format!(
            "{SELECT_INCIDENT}{} ORDER BY {} LIMIT ${} OFFSET ${}",
            w.sql(),
            order_by(filter.sort.as_deref()),
            n + 1,
            n + 2
        );
        let rows = bind_all(sqlx::query(AssertSqlSafe(list_sql)), &w.params)
            .bind(limit)
            .bind(offset)
            .fetch_all(self.pool())
            .await?;
        let incidents = rows.iter().map(row_to_incident).collect::<Result<_>>()?;
        Ok(IncidentPage {
            total,
            offset,
            limit,
            incidents,
        })
    }

    /// An officer's conclusion, with its comment, logged in the audit chain.
    pub async fn set_disposition(
        &self,
        number: &str,
        disposition: Disposition,
        note: Option<&str>,
        actor: &str,
    ) -> Result<Incident> {
        let (_guard, mut tx) = self.audit_tx().await?;
        let ms = now_ms();
        let done = sqlx::query(
            "UPDATE incidents SET disposition = $1, disposition_note = $2, disposition_by = $3, \
             disposition_ms = $4 WHERE number = $5",
        )
        .bind(disposition.as_str())
        .bind(note)
        .bind(actor)
        .bind(ms)
        .bind(number)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("incident {number}")));
        }
        Store::append_audit(
            &mut tx,
            actor,
            "incident.disposition",
            number,
            &json!({"disposition": disposition.as_str(), "note": note}),
        )
        .await?;
        tx.commit().await?;
        self.incident(number).await
    }

    /// A held mail released or deleted (`state` is `released` or `deleted`).
    pub async fn set_quarantine_state(&self, number: &str, state: &str, actor: &str) -> Result<()> {
        let (_guard, mut tx) = self.audit_tx().await?;
        let done = sqlx::query(
            "UPDATE incidents SET quarantine_state = $1 WHERE number = $2 AND quarantine_id IS NOT NULL",
        )
        .bind(state)
        .bind(number)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "quarantined incident {number}"
            )));
        }
        let action = if state == "released" {
            "quarantine.release"
        } else {
            "quarantine.delete"
        };
        Store::append_audit(&mut tx, actor, action, number, &json!({ "state": state })).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Counts for the statistics tables over a time range (Beijing days).
    /// How many incidents match: from `incident_counts` when the filter allows, else counted.
    async fn count(&self, filter: &IncidentFilter, w: &Where) -> Result<i64> {
        let counts = Where::counts_filter(filter);
        let (sql, params) = match &counts {
            Some(c) => (
                format!(
                    "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM incident_counts{}",
                    c.sql()
                ),
                &c.params,
            ),
            None => (
                format!("SELECT COUNT(*) FROM incidents{}", w.sql()),
                &w.params,
            ),
        };
        Ok(bind_all(sqlx::query(AssertSqlSafe(sql)), params)
            .fetch_one(self.pool())
            .await?
            .try_get(0)?)
    }

    /// Counts for the statistics tables over a time range (Beijing days). A filter of
    /// whole days only is read from `incident_facets` (one dimension at a time); one of
    /// whole days and the dimensions from `incident_counts`; anything else (a person, an
    /// assignee, free text) is counted from the incidents themselves.
    pub async fn stats(&self, filter: &IncidentFilter) -> Result<Stats> {
        let only_days = filter.channel.is_none()
            && filter.level.is_none()
            && filter.department.is_none()
            && filter.disposition.is_none()
            && filter.action.is_none()
            && filter.rule.is_none();
        if only_days && Where::counts_filter(filter).is_some() {
            return self.stats_from_facets(filter).await;
        }
        let (table, count, day, w) = match Where::counts_filter(filter) {
            Some(c) => (
                "incident_counts",
                "CAST(SUM(n) AS BIGINT)",
                "day".to_owned(),
                c,
            ),
            None => (
                "incidents",
                "COUNT(*)",
                format!("((created_ms + {LOCAL_OFFSET_MS}) / 86400000)"),
                Where::from_filter(filter, self.backend()),
            ),
        };
        let mut stats = Stats::default();
        let dims: [(&str, &mut Vec<(String, i64)>); 5] = [
            ("level", &mut stats.by_level),
            ("channel", &mut stats.by_channel),
            ("department", &mut stats.by_department),
            ("action", &mut stats.by_action),
            ("disposition", &mut stats.by_disposition),
        ];
        for (column, out) in dims {
            let sql = format!(
                "SELECT {column}, {count} AS c FROM {table}{} GROUP BY {column} ORDER BY c DESC",
                w.sql()
            );
            for row in bind_all(sqlx::query(AssertSqlSafe(sql)), &w.params)
                .fetch_all(self.pool())
                .await?
            {
                let key: Option<String> = row.try_get(0)?;
                let n: i64 = row.try_get(1)?;
                if n > 0 {
                    // NULL in the incidents, '' in the counts: neither names anything.
                    let key = key.filter(|k| !k.is_empty()).unwrap_or_else(|| "-".into());
                    out.push((key, n));
                }
            }
        }
        let sql = format!(
            "SELECT {day} AS d, {count} AS c FROM {table}{} GROUP BY d ORDER BY d",
            w.sql()
        );
        for row in bind_all(sqlx::query(AssertSqlSafe(sql)), &w.params)
            .fetch_all(self.pool())
            .await?
        {
            let d: i64 = row.try_get(0)?;
            let n: i64 = row.try_get(1)?;
            if n > 0 {
                let (y, m, dd) = crate::civil_from_days(d);
                stats.by_day.push((format!("{y:04}-{m:02}-{dd:02}"), n));
            }
        }
        // `rules` holds few distinct combinations: group by the JSON text, split in Rust.
        let sql = format!(
            "SELECT rules, {count} AS c FROM {table}{} GROUP BY rules",
            w.sql()
        );
        let mut by_rule: std::collections::HashMap<String, i64> = Default::default();
        for row in bind_all(sqlx::query(AssertSqlSafe(sql)), &w.params)
            .fetch_all(self.pool())
            .await?
        {
            let rules: String = row.try_get(0)?;
            let n: i64 = row.try_get(1)?;
            for r in serde_json::from_str::<Vec<String>>(&rules).unwrap_or_default() {
                *by_rule.entry(r).or_default() += n;
            }
        }
        stats.by_rule = by_rule.into_iter().filter(|(_, n)| *n > 0).collect();
        stats
            .by_rule
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        stats.total = stats.by_action.iter().map(|(_, n)| n).sum();
        Ok(stats)
    }

    async fn stats_from_facets(&self, filter: &IncidentFilter) -> Result<Stats> {
        let facet = |dim: &str, by_day: bool| -> Result<(String, Where)> {
            let mut w = Where::counts_filter(filter)
                .ok_or_else(|| StoreError::Invalid("not a filter of whole days".into()))?;
            w.push("dim", "=", Param::Text(dim.to_owned()));
            let key = if by_day { "day" } else { "value" };
            Ok((
                format!(
                    "SELECT {key}, CAST(SUM(n) AS BIGINT) AS c FROM incident_facets{} \
                     GROUP BY {key} ORDER BY {}",
                    w.sql(),
                    if by_day { "day" } else { "c DESC" }
                ),
                w,
            ))
        };
        let mut stats = Stats::default();
        let dims: [(&str, &mut Vec<(String, i64)>); 6] = [
            ("level", &mut stats.by_level),
            ("channel", &mut stats.by_channel),
            ("department", &mut stats.by_department),
            ("action", &mut stats.by_action),
            ("disposition", &mut stats.by_disposition),
            ("rule", &mut stats.by_rule),
        ];
        for (dim, out) in dims {
            let (sql, w) = facet(dim, false)?;
            for row in bind_all(sqlx::query(AssertSqlSafe(sql)), &w.params)
                .fetch_all(self.pool())
                .await?
            {
                let key: String = row.try_get(0)?;
                let n: i64 = row.try_get(1)?;
                if n > 0 {
                    out.push((if key.is_empty() { "-".into() } else { key }, n));
                }
            }
        }
        // Every incident has exactly one action: its facet counts the days.
        let (sql, w) = facet("action", true)?;
        for row in bind_all(sqlx::query(AssertSqlSafe(sql)), &w.params)
            .fetch_all(self.pool())
            .await?
        {
            let d: i64 = row.try_get(0)?;
            let n: i64 = row.try_get(1)?;
            if n > 0 {
                let (y, m, dd) = crate::civil_from_days(d);
                stats.by_day.push((format!("{y:04}-{m:02}-{dd:02}"), n));
            }
        }
        stats
            .by_rule
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        stats.total = stats.by_action.iter().map(|(_, n)| n).sum();
        Ok(stats)
    }

    /// Delete incidents older than `before_ms` (retention), log it, and return the evidence
    /// hashes no remaining incident refers to, for the vault to delete.
    pub async fn purge_before(&self, before_ms: i64, actor: &str) -> Result<(u64, Vec<String>)> {
        let (_guard, mut tx) = self.audit_tx().await?;
        let rows = sqlx::query(
            "SELECT DISTINCT evidence FROM incidents WHERE created_ms < $1 AND evidence IS NOT NULL",
        )
        .bind(before_ms)
        .fetch_all(&mut *tx)
        .await?;
        let candidates: Vec<String> = rows
            .iter()
            .filter_map(|r| r.try_get::<String, _>(0).ok())
            .collect();
        let deleted = sqlx::query("DELETE FROM incidents WHERE created_ms < $1")
            .bind(before_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if deleted == 0 {
            tx.commit().await?;
            return Ok((0, Vec::new()));
        }
        let mut orphans = Vec::new();
        for h in candidates {
            let still: i64 = sqlx::query("SELECT COUNT(*) FROM incidents WHERE evidence = $1")
                .bind(&h)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            if still == 0 {
                orphans.push(h);
            }
        }
        Store::append_audit(
            &mut tx,
            actor,
            "retention.purge",
            "incidents",
            &json!({"before_ms": before_ms, "deleted": deleted}),
        )
        .await?;
        tx.commit().await?;
        Ok((deleted, orphans))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The counts table answers whole Beijing days and its own dimensions only.
    #[test]
    fn counts_answer_whole_days_and_their_dimensions() {
        let day = crate::day_start_ms("2026-12-01").unwrap();
        let f = |from: i64, to: i64| IncidentFilter {
            from_ms: Some(from),
            to_ms: Some(to),
            level: Some("secret".into()),
            rule: Some("personal-data".into()),
            ..Default::default()
        };
        let w = Where::counts_filter(&f(day, day + DAY_MS)).expect("whole days");
        assert!(w.sql().contains("day >= $1") && w.sql().contains("day < $2"));
        assert!(Where::counts_filter(&IncidentFilter::default()).is_some());
        assert!(Where::counts_filter(&f(day + 1, day + DAY_MS)).is_none());
        assert!(Where::counts_filter(&f(day, day + 3_600_000)).is_none());
        for g in [
            IncidentFilter {
                user: Some("u".into()),
                ..Default::default()
            },
            IncidentFilter {
                assignee: Some("a".into()),
                ..Default::default()
            },
            IncidentFilter {
                text: Some("x".into()),
                ..Default::default()
            },
        ] {
            assert!(Where::counts_filter(&g).is_none(), "{g:?}");
        }
    }
}
