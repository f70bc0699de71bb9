//! The records secrecy work keeps (DOMAIN.md §5): self-inspection runs and the incidents
//! they raise, campaigns with the figures officers enter, and violation clue reports
//! (违规问题线索和存在隐患报告表) with their freeze-on-issue rule. Every change is in the
//! audit chain; the statistics table is computed from these rows and the incidents.

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::incidents::NewIncident;
use crate::{EvidenceRef, Result, Store, StoreError, now_ms};

/// One file of a run that has a finding, an error or an alert.
#[derive(Debug, Clone, Default)]
pub struct NewRunFile {
    pub seq: i64,
    pub path: String,
    pub file_type: String,
    pub size: i64,
    pub verdict: String,
    pub severity: String,
    pub rules: Vec<String>,
    pub level: Option<String>,
    pub findings: Value,
    pub errors: Vec<String>,
    /// Reached the alert threshold on the scanning machine: becomes an incident.
    pub alerts: bool,
    pub blake3: Option<String>,
}

/// A run as the server records it.
#[derive(Debug, Clone, Default)]
pub struct NewScanRun {
    pub run_id: String,
    pub person: Option<String>,
    pub department: Option<String>,
    pub machine: String,
    pub started_ms: i64,
    pub finished_ms: i64,
    pub paths: Vec<String>,
    pub files: i64,
    pub errors: i64,
    pub summary: Value,
    pub exit_code: i64,
    /// The token whose key signed the report, when one did.
    pub signed_by: Option<String>,
    /// `network` (sent by `--report-to`) or `import` (a report file).
    pub via: String,
    pub digest: String,
    pub flagged: Vec<NewRunFile>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportOutcome {
    pub run_id: String,
    /// The run was imported before; nothing changed.
    pub already: bool,
    pub incidents: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanRun {
    pub run_id: String,
    pub person: Option<String>,
    pub department: Option<String>,
    pub machine: String,
    pub started_ms: i64,
    pub finished_ms: i64,
    pub paths: Vec<String>,
    pub files: i64,
    pub flagged: i64,
    pub alerting: i64,
    pub errors: i64,
    pub summary: Value,
    pub exit_code: i64,
    pub signed_by: Option<String>,
    pub via: String,
    pub imported_ms: i64,
    pub imported_by: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunFileRow {
    pub seq: i64,
    pub path: String,
    pub file_type: String,
    pub size: i64,
    pub verdict: String,
    pub level: Option<String>,
    pub findings: Value,
    pub errors: Vec<String>,
    pub incident: Option<String>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct NewCampaign {
    pub name: String,
    /// `YYYY-MM-DD`, Beijing dates, both included.
    pub from_day: String,
    pub to_day: String,
    /// Empty: every department.
    #[serde(default)]
    pub departments: Vec<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    pub from_day: String,
    pub to_day: String,
    pub departments: Vec<String>,
    pub note: Option<String>,
    pub created_ms: i64,
    pub created_by: String,
}

/// What the officer enters for one department of a campaign.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct CampaignEntry {
    pub department: String,
    #[serde(default)]
    pub chat_groups: i64,
    #[serde(default)]
    pub mini_programs: i64,
    #[serde(default)]
    pub measures: Option<String>,
}

/// 类别 of a clue report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClueCategory {
    /// 手机拍照
    Photo,
    /// 聊天小程序传输或处理
    MiniProgram,
    /// 聊天工具传输
    Chat,
    /// 其他隐患
    Other,
}

impl ClueCategory {
    pub const ALL: [ClueCategory; 4] = [
        ClueCategory::Photo,
        ClueCategory::MiniProgram,
        ClueCategory::Chat,
        ClueCategory::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClueCategory::Photo => "photo",
            ClueCategory::MiniProgram => "mini_program",
            ClueCategory::Chat => "chat",
            ClueCategory::Other => "other",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            ClueCategory::Photo => "手机拍照",
            ClueCategory::MiniProgram => "聊天小程序传输或处理",
            ClueCategory::Chat => "聊天工具传输",
            ClueCategory::Other => "其他隐患",
        }
    }

    pub fn parse(s: &str) -> Option<ClueCategory> {
        ClueCategory::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// The editable content of a clue report.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ClueFields {
    /// 报送单位
    pub reporting_unit: String,
    /// 发生单位
    pub occurring_unit: String,
    pub category: ClueCategory,
    /// 涉及文件及密级
    pub documents: String,
    /// 基本事实（时间、原因、经过）
    pub facts: String,
    /// 补救和整改措施
    pub remedy: String,
    /// The incidents it is about (numbers).
    #[serde(default)]
    pub incidents: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClueState {
    Draft,
    Issued,
    /// Issued, then replaced by a correction.
    Superseded,
}

impl ClueState {
    fn parse(s: &str) -> ClueState {
        match s {
            "issued" => ClueState::Issued,
            "superseded" => ClueState::Superseded,
            _ => ClueState::Draft,
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            ClueState::Draft => "草稿",
            ClueState::Issued => "已报送",
            ClueState::Superseded => "已更正",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ClueReport {
    pub id: i64,
    pub number: String,
    pub version: i64,
    pub supersedes: Option<i64>,
    pub state: ClueState,
    #[serde(flatten)]
    pub fields: ClueFields,
    pub content_hash: Option<String>,
    pub created_ms: i64,
    pub created_by: String,
    pub updated_ms: i64,
    pub issued_ms: Option<i64>,
    pub issued_by: Option<String>,
}

impl ClueReport {
    /// The hash of what was issued: number, version, predecessor and every field.
    pub fn compute_hash(&self) -> String {
        let canonical = json!([self.number, self.version, self.supersedes, self.fields]);
        blake3::hash(canonical.to_string().as_bytes())
            .to_hex()
            .to_string()
    }
}

/// One flagged file from the scan channel, for the statistics table.
#[derive(Debug, Clone)]
pub struct ScanIncidentFile {
    pub number: String,
    pub created_ms: i64,
    pub department: Option<String>,
    pub machine: Option<String>,
    pub path: Option<String>,
    pub level: Option<String>,
}

const SELECT_RUN: &str = "SELECT run_id, person, department, machine, started_ms, finished_ms, \
     paths, files, flagged, alerting, errors, summary, exit_code, signed_by, via, imported_ms, \
     imported_by FROM scan_runs";

fn run_from_row(row: &AnyRow) -> Result<ScanRun> {
    let paths: String = row.try_get("paths")?;
    let summary: String = row.try_get("summary")?;
    Ok(ScanRun {
        run_id: row.try_get("run_id")?,
        person: row.try_get("person")?,
        department: row.try_get("department")?,
        machine: row.try_get("machine")?,
        started_ms: row.try_get("started_ms")?,
        finished_ms: row.try_get("finished_ms")?,
        paths: serde_json::from_str(&paths).unwrap_or_default(),
        files: row.try_get("files")?,
        flagged: row.try_get("flagged")?,
        alerting: row.try_get("alerting")?,
        errors: row.try_get("errors")?,
        summary: serde_json::from_str(&summary).unwrap_or(Value::Null),
        exit_code: row.try_get("exit_code")?,
        signed_by: row.try_get("signed_by")?,
        via: row.try_get("via")?,
        imported_ms: row.try_get("imported_ms")?,
        imported_by: row.try_get("imported_by")?,
    })
}

const SELECT_CLUE: &str = "SELECT id, number, version, supersedes, state, reporting_unit, \
     occurring_unit, category, documents, facts, remedy, incidents, content_hash, created_ms, \
     created_by, updated_ms, issued_ms, issued_by FROM clue_reports";

fn clue_from_row(row: &AnyRow) -> Result<ClueReport> {
    let incidents: String = row.try_get("incidents")?;
    let category: String = row.try_get("category")?;
    let state: String = row.try_get("state")?;
    Ok(ClueReport {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        version: row.try_get("version")?,
        supersedes: row.try_get("supersedes")?,
        state: ClueState::parse(&state),
        fields: ClueFields {
            reporting_unit: row.try_get("reporting_unit")?,
            occurring_unit: row.try_get("occurring_unit")?,
            category: ClueCategory::parse(&category).unwrap_or(ClueCategory::Other),
            documents: row.try_get("documents")?,
            facts: row.try_get("facts")?,
            remedy: row.try_get("remedy")?,
            incidents: serde_json::from_str(&incidents).unwrap_or_default(),
        },
        content_hash: row.try_get("content_hash")?,
        created_ms: row.try_get("created_ms")?,
        created_by: row.try_get("created_by")?,
        updated_ms: row.try_get("updated_ms")?,
        issued_ms: row.try_get("issued_ms")?,
        issued_by: row.try_get("issued_by")?,
    })
}

fn campaign_from_row(row: &AnyRow) -> Result<Campaign> {
    let departments: String = row.try_get("departments")?;
    Ok(Campaign {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        from_day: row.try_get("from_day")?,
        to_day: row.try_get("to_day")?,
        departments: serde_json::from_str(&departments).unwrap_or_default(),
        note: row.try_get("note")?,
        created_ms: row.try_get("created_ms")?,
        created_by: row.try_get("created_by")?,
    })
}

/// A `YYYY-MM-DD` date, checked.
fn check_day(day: &str) -> Result<()> {
    let ok = day.len() == 10
        && day.as_bytes()[4] == b'-'
        && day.as_bytes()[7] == b'-'
        && day
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "{day:?} is not a date (YYYY-MM-DD)"
        )))
    }
}

fn check_text(what: &str, s: &str, max: usize) -> Result<()> {
    if s.chars().count() > max {
        return Err(StoreError::Invalid(format!(
            "{what}: more than {max} characters"
        )));
    }
    Ok(())
}

impl Store {
    /// Record a self-inspection run: the run, its flagged files, and an incident (channel
    /// `scan`, dated when the scan finished) for every file that alerted, all in one
    /// transaction. Importing a run id that is already there changes nothing.
    pub async fn import_scan_run(&self, run: NewScanRun, actor: &str) -> Result<ImportOutcome> {
        if run.run_id.is_empty() || run.run_id.len() > 100 {
            return Err(StoreError::Invalid(
                "a run id of 1 to 100 characters".into(),
            ));
        }
        let (_guard, mut tx) = self.audit_tx().await?;
        let existing = sqlx::query("SELECT incident FROM scan_run_files WHERE run_id = $1")
            .bind(&run.run_id)
            .fetch_all(&mut *tx)
            .await?;
        let known = sqlx::query("SELECT 1 FROM scan_runs WHERE run_id = $1")
            .bind(&run.run_id)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_some() {
            let mut incidents = Vec::new();
            for row in existing {
                if let Some(n) = row.try_get::<Option<String>, _>(0)? {
                    incidents.push(n);
                }
            }
            return Ok(ImportOutcome {
                run_id: run.run_id,
                already: true,
                incidents,
            });
        }
        let now = now_ms();
        let alerting = run.flagged.iter().filter(|f| f.alerts).count() as i64;
        sqlx::query(
            "INSERT INTO scan_runs (run_id, person, department, machine, started_ms, finished_ms, \
             paths, files, flagged, alerting, errors, summary, exit_code, signed_by, via, \
             imported_ms, imported_by, digest) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(&run.run_id)
        .bind(run.person.as_deref())
        .bind(run.department.as_deref())
        .bind(&run.machine)
        .bind(run.started_ms)
        .bind(run.finished_ms)
        .bind(serde_json::to_string(&run.paths).unwrap_or_default())
        .bind(run.files)
        .bind(run.flagged.len() as i64)
        .bind(alerting)
        .bind(run.errors)
        .bind(run.summary.to_string())
        .bind(run.exit_code)
        .bind(run.signed_by.as_deref())
        .bind(&run.via)
        .bind(now)
        .bind(actor)
        .bind(&run.digest)
        .execute(&mut *tx)
        .await?;
        let mut incidents = Vec::new();
        for f in &run.flagged {
            let mut number = None;
            if f.alerts {
                let evidence = match &f.blake3 {
                    Some(h) => sqlx::query(
                        "SELECT evidence, evidence_size FROM scan_evidence WHERE blake3 = $1",
                    )
                    .bind(h)
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|row| -> Result<EvidenceRef> {
                        Ok(EvidenceRef {
                            hash: row.try_get(0)?,
                            size: row.try_get(1)?,
                        })
                    })
                    .transpose()?,
                    None => None,
                };
                let incident = Store::insert_incident(
                    &mut tx,
                    NewIncident {
                        channel: "scan".into(),
                        user: run.person.clone(),
                        department: run.department.clone(),
                        source: Some(run.machine.clone()),
                        destination: None,
                        object_name: Some(f.path.clone()),
                        object_size: Some(f.size),
                        object_type: Some(f.file_type.clone()),
                        action: f.verdict.clone(),
                        severity: f.severity.clone(),
                        level: f.level.clone(),
                        rules: f.rules.clone(),
                        findings: f.findings.clone(),
                        evidence,
                        quarantine_id: None,
                        policy_version: None,
                    },
                    run.finished_ms,
                    actor,
                )
                .await?;
                incidents.push(incident.number.clone());
                number = Some(incident.number);
            }
            sqlx::query(
                "INSERT INTO scan_run_files (run_id, seq, path, file_type, size, verdict, level, \
                 findings, errors, blake3, incident) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(&run.run_id)
            .bind(f.seq)
            .bind(&f.path)
            .bind(&f.file_type)
            .bind(f.size)
            .bind(&f.verdict)
            .bind(f.level.as_deref())
            .bind(f.findings.to_string())
            .bind(serde_json::to_string(&f.errors).unwrap_or_default())
            .bind(f.blake3.as_deref())
            .bind(number.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        Store::append_audit(
            &mut tx,
            actor,
            "scan_run.import",
            &run.run_id,
            &json!({
                "machine": run.machine,
                "person": run.person,
                "department": run.department,
                "files": run.files,
                "incidents": incidents.len(),
                "digest": run.digest,
                "signed_by": run.signed_by,
                "via": run.via,
            }),
        )
        .await?;
        tx.commit().await?;
        Ok(ImportOutcome {
            run_id: run.run_id,
            already: false,
            incidents,
        })
    }

    /// Note an object uploaded for a run's evidence under its plain BLAKE3.
    pub async fn put_scan_evidence(&self, blake3: &str, evidence: &EvidenceRef) -> Result<()> {
        let known = sqlx::query("SELECT 1 FROM scan_evidence WHERE blake3 = $1")
            .bind(blake3)
            .fetch_optional(self.pool())
            .await?;
        if known.is_none() {
            sqlx::query(
                "INSERT INTO scan_evidence (blake3, evidence, evidence_size, uploaded_ms) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(blake3)
            .bind(&evidence.hash)
            .bind(evidence.size)
            .bind(now_ms())
            .execute(self.pool())
            .await?;
        }
        Ok(())
    }

    /// Runs that finished in `[from_ms, to_ms)`, newest first.
    pub async fn scan_runs(&self, from_ms: i64, to_ms: i64) -> Result<Vec<ScanRun>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{SELECT_RUN} WHERE finished_ms >= $1 AND finished_ms < $2 ORDER BY finished_ms DESC"
        )))
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(run_from_row).collect()
    }

    pub async fn scan_run(&self, run_id: &str) -> Result<(ScanRun, Vec<RunFileRow>)> {
        let row = sqlx::query(AssertSqlSafe(format!("{SELECT_RUN} WHERE run_id = $1")))
            .bind(run_id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("scan run {run_id}")))?;
        let run = run_from_row(&row)?;
        let rows = sqlx::query(
            "SELECT seq, path, file_type, size, verdict, level, findings, errors, incident \
             FROM scan_run_files WHERE run_id = $1 ORDER BY seq",
        )
        .bind(run_id)
        .fetch_all(self.pool())
        .await?;
        let mut files = Vec::new();
        for r in rows {
            let findings: String = r.try_get("findings")?;
            let errors: String = r.try_get("errors")?;
            files.push(RunFileRow {
                seq: r.try_get("seq")?,
                path: r.try_get("path")?,
                file_type: r.try_get("file_type")?,
                size: r.try_get("size")?,
                verdict: r.try_get("verdict")?,
                level: r.try_get("level")?,
                findings: serde_json::from_str(&findings).unwrap_or(Value::Null),
                errors: serde_json::from_str(&errors).unwrap_or_default(),
                incident: r.try_get("incident")?,
            });
        }
        Ok((run, files))
    }

    /// Scan-channel incidents created in `[from_ms, to_ms)` that an officer has not called a
    /// false positive: the files a self-inspection found.
    pub async fn scan_incident_files(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<ScanIncidentFile>> {
        let rows = sqlx::query(
            "SELECT number, created_ms, department, source, object_name, level FROM incidents \
             WHERE channel = 'scan' AND disposition <> 'false_positive' \
             AND created_ms >= $1 AND created_ms < $2 ORDER BY created_ms",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ScanIncidentFile {
                    number: r.try_get("number")?,
                    created_ms: r.try_get("created_ms")?,
                    department: r.try_get("department")?,
                    machine: r.try_get("source")?,
                    path: r.try_get("object_name")?,
                    level: r.try_get("level")?,
                })
            })
            .collect()
    }

    pub async fn create_campaign(&self, new: &NewCampaign, actor: &str) -> Result<Campaign> {
        let name = new.name.trim();
        if name.is_empty() {
            return Err(StoreError::Invalid("a campaign needs a name".into()));
        }
        check_text("name", name, 200)?;
        check_day(&new.from_day)?;
        check_day(&new.to_day)?;
        if new.to_day < new.from_day {
            return Err(StoreError::Invalid(format!(
                "the period ends ({}) before it starts ({})",
                new.to_day, new.from_day
            )));
        }
        let now = now_ms();
        let (_guard, mut tx) = self.audit_tx().await?;
        let taken = sqlx::query("SELECT 1 FROM campaigns WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "a campaign named {name:?} exists"
            )));
        }
        let departments: Vec<&str> = new
            .departments
            .iter()
            .map(|d| d.trim())
            .filter(|d| !d.is_empty())
            .collect();
        let row = sqlx::query(
            "INSERT INTO campaigns (name, from_day, to_day, departments, note, created_ms, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(name)
        .bind(&new.from_day)
        .bind(&new.to_day)
        .bind(serde_json::to_string(&departments).unwrap_or_default())
        .bind(new.note.as_deref())
        .bind(now)
        .bind(actor)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get(0)?;
        Store::append_audit(
            &mut tx,
            actor,
            "campaign.create",
            name,
            &json!({"id": id, "from": new.from_day, "to": new.to_day, "departments": departments}),
        )
        .await?;
        tx.commit().await?;
        self.campaign(name).await
    }

    /// A campaign by its name or its id.
    pub async fn campaign(&self, name_or_id: &str) -> Result<Campaign> {
        let id: i64 = name_or_id.parse().unwrap_or(-1);
        let row = sqlx::query(
            "SELECT id, name, from_day, to_day, departments, note, created_ms, created_by \
             FROM campaigns WHERE name = $1 OR id = $2",
        )
        .bind(name_or_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("campaign {name_or_id}")))?;
        campaign_from_row(&row)
    }

    pub async fn campaigns(&self) -> Result<Vec<Campaign>> {
        let rows = sqlx::query(
            "SELECT id, name, from_day, to_day, departments, note, created_ms, created_by \
             FROM campaigns ORDER BY from_day DESC, id DESC",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(campaign_from_row).collect()
    }

    /// Set what the officer entered for one department of a campaign.
    pub async fn set_campaign_entry(
        &self,
        campaign_id: i64,
        entry: &CampaignEntry,
        actor: &str,
    ) -> Result<()> {
        let department = entry.department.trim();
        if department.is_empty() {
            return Err(StoreError::Invalid("which department?".into()));
        }
        if entry.chat_groups < 0 || entry.mini_programs < 0 {
            return Err(StoreError::Invalid("counts cannot be negative".into()));
        }
        check_text(
            "measures",
            entry.measures.as_deref().unwrap_or_default(),
            2000,
        )?;
        let (_guard, mut tx) = self.audit_tx().await?;
        let exists = sqlx::query("SELECT 1 FROM campaigns WHERE id = $1")
            .bind(campaign_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("campaign {campaign_id}")));
        }
        sqlx::query("DELETE FROM campaign_entries WHERE campaign_id = $1 AND department = $2")
            .bind(campaign_id)
            .bind(department)
            .execute(&mut *tx)
            .await?;
        let measures = entry
            .measures
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty());
        sqlx::query(
            "INSERT INTO campaign_entries (campaign_id, department, chat_groups, mini_programs, \
             measures, updated_ms, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(campaign_id)
        .bind(department)
        .bind(entry.chat_groups)
        .bind(entry.mini_programs)
        .bind(measures)
        .bind(now_ms())
        .bind(actor)
        .execute(&mut *tx)
        .await?;
        Store::append_audit(
            &mut tx,
            actor,
            "campaign.entry",
            &campaign_id.to_string(),
            &json!({"department": department, "chat_groups": entry.chat_groups,
                    "mini_programs": entry.mini_programs}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn campaign_entries(&self, campaign_id: i64) -> Result<Vec<CampaignEntry>> {
        let rows = sqlx::query(
            "SELECT department, chat_groups, mini_programs, measures FROM campaign_entries \
             WHERE campaign_id = $1 ORDER BY department",
        )
        .bind(campaign_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CampaignEntry {
                    department: r.try_get("department")?,
                    chat_groups: r.try_get("chat_groups")?,
                    mini_programs: r.try_get("mini_programs")?,
                    measures: r.try_get("measures")?,
                })
            })
            .collect()
    }

    async fn check_clue_fields(&self, fields: &ClueFields) -> Result<()> {
        for (what, value, max) in [
            ("报送单位", &fields.reporting_unit, 200),
            ("发生单位", &fields.occurring_unit, 200),
            ("涉及文件及密级", &fields.documents, 4000),
            ("基本事实", &fields.facts, 20_000),
            ("补救和整改措施", &fields.remedy, 20_000),
        ] {
            check_text(what, value, max)?;
        }
        if fields.incidents.len() > 1000 {
            return Err(StoreError::Invalid(
                "a clue report about more than 1000 incidents".into(),
            ));
        }
        for n in &fields.incidents {
            match self.incident(n).await {
                Ok(_) => {}
                Err(StoreError::NotFound(_)) => {
                    return Err(StoreError::Invalid(format!("unknown incident {n}")));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// A new draft clue report (number `XS-YYYY-NNNN`, version 1).
    pub async fn create_clue_report(&self, fields: &ClueFields, actor: &str) -> Result<ClueReport> {
        self.check_clue_fields(fields).await?;
        let now = now_ms();
        let (_guard, mut tx) = self.audit_tx().await?;
        let row = sqlx::query(
            "INSERT INTO clue_reports (number, version, state, reporting_unit, occurring_unit, \
             category, documents, facts, remedy, incidents, created_ms, created_by, updated_ms) \
             VALUES ($1, 1, 'draft', $2, $3, $4, $5, $6, $7, $8, $9, $10, $9) RETURNING id",
        )
        .bind(format!("pending-{now}-{}", std::process::id()))
        .bind(&fields.reporting_unit)
        .bind(&fields.occurring_unit)
        .bind(fields.category.as_str())
        .bind(&fields.documents)
        .bind(&fields.facts)
        .bind(&fields.remedy)
        .bind(serde_json::to_string(&fields.incidents).unwrap_or_default())
        .bind(now)
        .bind(actor)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get(0)?;
        let number = format!("XS-{}-{id:04}", &crate::local_date(now)[..4]);
        sqlx::query("UPDATE clue_reports SET number = $1 WHERE id = $2")
            .bind(&number)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        Store::append_audit(
            &mut tx,
            actor,
            "clue.create",
            &number,
            &json!({"id": id, "version": 1, "incidents": fields.incidents}),
        )
        .await?;
        tx.commit().await?;
        self.clue_report(id).await
    }

    pub async fn clue_report(&self, id: i64) -> Result<ClueReport> {
        let row = sqlx::query(AssertSqlSafe(format!("{SELECT_CLUE} WHERE id = $1")))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("clue report {id}")))?;
        clue_from_row(&row)
    }

    /// Every clue report, newest first (all versions).
    pub async fn clue_reports(&self) -> Result<Vec<ClueReport>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{SELECT_CLUE} ORDER BY created_ms DESC, id DESC"
        )))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(clue_from_row).collect()
    }

    /// Issued reports (current versions) issued in `[from_ms, to_ms)`.
    pub async fn issued_clue_reports(&self, from_ms: i64, to_ms: i64) -> Result<Vec<ClueReport>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{SELECT_CLUE} WHERE state = 'issued' AND issued_ms >= $1 AND issued_ms < $2 \
             ORDER BY issued_ms"
        )))
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(clue_from_row).collect()
    }

    /// Change a draft. An issued report is frozen: the answer is a conflict naming the way
    /// out (a correction).
    pub async fn update_clue_report(
        &self,
        id: i64,
        fields: &ClueFields,
        actor: &str,
    ) -> Result<ClueReport> {
        let current = self.clue_report(id).await?;
        if current.state != ClueState::Draft {
            return Err(StoreError::Conflict(format!(
                "clue report {} v{} was issued and is frozen; make a correction (a new version) instead",
                current.number, current.version
            )));
        }
        self.check_clue_fields(fields).await?;
        let (_guard, mut tx) = self.audit_tx().await?;
        let done = sqlx::query(
            "UPDATE clue_reports SET reporting_unit = $1, occurring_unit = $2, category = $3, \
             documents = $4, facts = $5, remedy = $6, incidents = $7, updated_ms = $8 \
             WHERE id = $9 AND state = 'draft'",
        )
        .bind(&fields.reporting_unit)
        .bind(&fields.occurring_unit)
        .bind(fields.category.as_str())
        .bind(&fields.documents)
        .bind(&fields.facts)
        .bind(&fields.remedy)
        .bind(serde_json::to_string(&fields.incidents).unwrap_or_default())
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "clue report {} was issued meanwhile",
                current.number
            )));
        }
        Store::append_audit(
            &mut tx,
            actor,
            "clue.edit",
            &current.number,
            &json!({"id": id, "version": current.version}),
        )
        .await?;
        tx.commit().await?;
        self.clue_report(id).await
    }

    /// Issue a draft: it is frozen from now on, its content hash goes into the audit chain,
    /// and the version it corrects (if any) becomes superseded.
    pub async fn issue_clue_report(&self, id: i64, actor: &str) -> Result<ClueReport> {
        let mut report = self.clue_report(id).await?;
        if report.state != ClueState::Draft {
            return Err(StoreError::Conflict(format!(
                "clue report {} v{} is already issued",
                report.number, report.version
            )));
        }
        for (what, value) in [
            ("报送单位", &report.fields.reporting_unit),
            ("发生单位", &report.fields.occurring_unit),
            ("基本事实", &report.fields.facts),
        ] {
            if value.trim().is_empty() {
                // The report exists and the request is fine; the draft is not ready.
                return Err(StoreError::Conflict(format!(
                    "{what} is empty: fill it in before issuing"
                )));
            }
        }
        let now = now_ms();
        report.state = ClueState::Issued;
        let hash = report.compute_hash();
        let (_guard, mut tx) = self.audit_tx().await?;
        sqlx::query(
            "UPDATE clue_reports SET state = 'issued', content_hash = $1, issued_ms = $2, \
             issued_by = $3 WHERE id = $4 AND state = 'draft'",
        )
        .bind(&hash)
        .bind(now)
        .bind(actor)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if let Some(old) = report.supersedes {
            sqlx::query("UPDATE clue_reports SET state = 'superseded' WHERE id = $1")
                .bind(old)
                .execute(&mut *tx)
                .await?;
        }
        Store::append_audit(
            &mut tx,
            actor,
            "clue.issue",
            &report.number,
            &json!({"id": id, "version": report.version, "supersedes": report.supersedes,
                    "content_hash": hash}),
        )
        .await?;
        tx.commit().await?;
        self.clue_report(id).await
    }

    /// Start a correction of an issued report: a new draft version with the same number and
    /// content, pointing to the version it will replace once issued.
    pub async fn correct_clue_report(&self, id: i64, actor: &str) -> Result<ClueReport> {
        let old = self.clue_report(id).await?;
        if old.state != ClueState::Issued {
            return Err(StoreError::Conflict(format!(
                "only the issued version of {} can be corrected",
                old.number
            )));
        }
        let pending =
            sqlx::query("SELECT id FROM clue_reports WHERE number = $1 AND state = 'draft'")
                .bind(&old.number)
                .fetch_optional(self.pool())
                .await?;
        if let Some(row) = pending {
            let draft: i64 = row.try_get(0)?;
            return self.clue_report(draft).await;
        }
        let now = now_ms();
        let f = &old.fields;
        let (_guard, mut tx) = self.audit_tx().await?;
        let row = sqlx::query(
            "INSERT INTO clue_reports (number, version, supersedes, state, reporting_unit, \
             occurring_unit, category, documents, facts, remedy, incidents, created_ms, \
             created_by, updated_ms) \
             VALUES ($1, $2, $3, 'draft', $4, $5, $6, $7, $8, $9, $10, $11, $12, $11) RETURNING id",
        )
        .bind(&old.number)
        .bind(old.version + 1)
        .bind(old.id)
        .bind(&f.reporting_unit)
        .bind(&f.occurring_unit)
        .bind(f.category.as_str())
        .bind(&f.documents)
        .bind(&f.facts)
        .bind(&f.remedy)
        .bind(serde_json::to_string(&f.incidents).unwrap_or_default())
        .bind(now)
        .bind(actor)
        .fetch_one(&mut *tx)
        .await?;
        let new_id: i64 = row.try_get(0)?;
        Store::append_audit(
            &mut tx,
            actor,
            "clue.correct",
            &old.number,
            &json!({"id": new_id, "version": old.version + 1, "supersedes": old.id}),
        )
        .await?;
        tx.commit().await?;
        self.clue_report(new_id).await
    }
}
