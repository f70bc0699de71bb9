//! 保密承诺书: secrecy commitments. Templates of three kinds — 上岗 (on taking up a post),
//! 涉密岗位 (a classified post, signed again when a new version is issued) and 离岗 (on
//! leaving) — each a series of versions whose text never changes once written: a new text is
//! a new version, so a signature always names the text its signer read, by its SHA-256.
//!
//! A person signs in the console (their typed name, today's date in Beijing time), or an
//! officer records a paper signature with its scan in the evidence vault. Every signature's
//! hash, with the template's version and the text's hash, goes into the audit chain in the
//! same transaction. One signature per person and version: a second one is refused.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store, StoreError, now_ms};

/// 承诺书类别
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitmentKind {
    /// 上岗保密承诺书
    Onboarding,
    /// 涉密岗位保密承诺书
    Classified,
    /// 离岗保密承诺书
    Leaving,
}

impl CommitmentKind {
    pub const ALL: [CommitmentKind; 3] = [
        CommitmentKind::Onboarding,
        CommitmentKind::Classified,
        CommitmentKind::Leaving,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CommitmentKind::Onboarding => "onboarding",
            CommitmentKind::Classified => "classified",
            CommitmentKind::Leaving => "leaving",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            CommitmentKind::Onboarding => "上岗",
            CommitmentKind::Classified => "涉密岗位",
            CommitmentKind::Leaving => "离岗",
        }
    }

    /// By its contract name or its Chinese word.
    pub fn parse(s: &str) -> Option<CommitmentKind> {
        let s = s.trim();
        CommitmentKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.zh() == s)
            .or(match s {
                "入职" | "上岗承诺" => Some(CommitmentKind::Onboarding),
                "涉密" | "涉密人员" => Some(CommitmentKind::Classified),
                "离职" | "离岗承诺" => Some(CommitmentKind::Leaving),
                _ => None,
            })
    }
}

/// How a signature was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignMethod {
    /// 在线签署: the person typed their name in the console.
    Console,
    /// 纸质签署: an officer recorded a paper signature with its scan.
    Paper,
}

impl SignMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SignMethod::Console => "console",
            SignMethod::Paper => "paper",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            SignMethod::Console => "在线签署",
            SignMethod::Paper => "纸质签署",
        }
    }
}

/// One version of a template's text.
#[derive(Debug, Clone, Serialize)]
pub struct CommitmentVersion {
    pub id: i64,
    pub template_id: i64,
    pub version: i64,
    pub text: String,
    /// SHA-256 (hex) of the text as UTF-8.
    pub text_sha256: String,
    /// What changed (a new version's change note).
    pub note: Option<String>,
    pub author: String,
    pub created_ms: i64,
}

/// A template with its current version.
#[derive(Debug, Clone, Serialize)]
pub struct CommitmentTemplate {
    pub id: i64,
    pub kind: CommitmentKind,
    pub title: String,
    /// Only people of this directory group must sign; `None`: everyone the kind concerns.
    pub group: Option<String>,
    pub created_ms: i64,
    pub created_by: String,
    pub current: CommitmentVersion,
}

/// A scan of a paper signature, already in the evidence vault.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignatureScan {
    /// The vault's key of the (encrypted) bytes.
    pub blake3: String,
    pub name: String,
    pub size: i64,
    pub sha256: String,
}

/// A signature as it is given.
#[derive(Debug, Clone)]
pub struct NewSignature {
    pub version_id: i64,
    /// The directory's name of the person.
    pub person: String,
    /// The console account that signed (console), or the person's account if known (paper).
    pub account: Option<String>,
    pub department: Option<String>,
    pub method: SignMethod,
    /// What the person typed (console; the name on the paper for a paper signature).
    pub typed_name: Option<String>,
    /// `YYYY-MM-DD`.
    pub signed_day: String,
    pub scan: Option<SignatureScan>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Signature {
    pub id: i64,
    pub template_id: i64,
    pub title: String,
    pub kind: CommitmentKind,
    pub version_id: i64,
    pub version: i64,
    pub person: String,
    pub account: Option<String>,
    pub department: Option<String>,
    pub method: SignMethod,
    pub typed_name: Option<String>,
    pub signed_day: String,
    pub text_sha256: String,
    pub signature_sha256: String,
    pub scan: Option<SignatureScan>,
    pub recorded_by: String,
    pub recorded_ms: i64,
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The SHA-256 of a text as UTF-8, as a version records it.
pub fn text_sha256(text: &str) -> String {
    sha256_hex(text.as_bytes())
}

const MAX_TEXT_CHARS: usize = 20_000;
const MAX_NAME_CHARS: usize = 100;

fn check_text(text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(StoreError::Invalid(
            "承诺书正文不能为空 (the text is empty)".into(),
        ));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(StoreError::Invalid(format!(
            "承诺书正文最多 {MAX_TEXT_CHARS} 字 (the text is too long)"
        )));
    }
    Ok(())
}

fn short(label: &str, s: &str) -> Result<String> {
    let s = s.trim();
    if s.is_empty() || s.chars().count() > MAX_NAME_CHARS {
        return Err(StoreError::Invalid(format!(
            "{label}: 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(s.to_owned())
}

fn valid_day(day: &str) -> bool {
    day.len() == 10 && crate::day_start_ms(day).is_some_and(|ms| crate::local_date(ms) == day)
}

const SELECT_VERSION: &str = "SELECT id, template_id, version, body, text_sha256, note, author, \
     created_ms FROM commitment_versions";

fn version_from_row(r: &AnyRow) -> Result<CommitmentVersion> {
    Ok(CommitmentVersion {
        id: r.try_get("id")?,
        template_id: r.try_get("template_id")?,
        version: r.try_get("version")?,
        text: r.try_get("body")?,
        text_sha256: r.try_get("text_sha256")?,
        note: r.try_get("note")?,
        author: r.try_get("author")?,
        created_ms: r.try_get("created_ms")?,
    })
}

const SELECT_SIGNATURE: &str = "SELECT s.id, s.template_id, t.title, s.kind, s.version_id, \
     s.version, s.person, s.account, s.department, s.method, s.typed_name, s.signed_day, \
     s.text_sha256, s.signature_sha256, s.scan_blake3, s.scan_name, s.scan_size, s.scan_sha256, \
     s.recorded_by, s.recorded_ms \
     FROM commitment_signatures s JOIN commitment_templates t ON t.id = s.template_id";

fn signature_from_row(r: &AnyRow) -> Result<Signature> {
    let kind: String = r.try_get("kind")?;
    let method: String = r.try_get("method")?;
    let blake3: Option<String> = r.try_get("scan_blake3")?;
    let scan = match blake3 {
        Some(blake3) => Some(SignatureScan {
            blake3,
            name: r
                .try_get::<Option<String>, _>("scan_name")?
                .unwrap_or_default(),
            size: r.try_get::<Option<i64>, _>("scan_size")?.unwrap_or(0),
            sha256: r
                .try_get::<Option<String>, _>("scan_sha256")?
                .unwrap_or_default(),
        }),
        None => None,
    };
    Ok(Signature {
        id: r.try_get("id")?,
        template_id: r.try_get("template_id")?,
        title: r.try_get("title")?,
        kind: CommitmentKind::parse(&kind).unwrap_or(CommitmentKind::Onboarding),
        version_id: r.try_get("version_id")?,
        version: r.try_get("version")?,
        person: r.try_get("person")?,
        account: r.try_get("account")?,
        department: r.try_get("department")?,
        method: if method == "paper" {
            SignMethod::Paper
        } else {
            SignMethod::Console
        },
        typed_name: r.try_get("typed_name")?,
        signed_day: r.try_get("signed_day")?,
        text_sha256: r.try_get("text_sha256")?,
        signature_sha256: r.try_get("signature_sha256")?,
        scan,
        recorded_by: r.try_get("recorded_by")?,
        recorded_ms: r.try_get("recorded_ms")?,
    })
}

impl Store {
    /// A new template with its first version.
    pub async fn create_commitment_template(
        &self,
        kind: CommitmentKind,
        title: &str,
        group: Option<&str>,
        text: &str,
        actor: &str,
    ) -> Result<CommitmentTemplate> {
        let title = short("标题 (title)", title)?;
        check_text(text)?;
        let group = group.map(str::trim).filter(|g| !g.is_empty());
        if group.is_some_and(|g| g.chars().count() > MAX_NAME_CHARS) {
            return Err(StoreError::Invalid("适用人员组: too long".into()));
        }
        let now = now_ms();
        let sha = text_sha256(text);
        let (_guard, mut tx) = self.audit_tx().await?;
        let taken = sqlx::query("SELECT 1 FROM commitment_templates WHERE title = $1")
            .bind(&title)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "已有名为「{title}」的承诺书模板 (a template of this title exists)"
            )));
        }
        let row = sqlx::query(
            "INSERT INTO commitment_templates (kind, title, person_group, current_version, \
             created_ms, created_by) VALUES ($1, $2, $3, 1, $4, $5) RETURNING id",
        )
        .bind(kind.as_str())
        .bind(&title)
        .bind(group)
        .bind(now)
        .bind(actor)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get(0)?;
        sqlx::query(
            "INSERT INTO commitment_versions (template_id, version, body, text_sha256, note, \
             author, created_ms) VALUES ($1, 1, $2, $3, NULL, $4, $5)",
        )
        .bind(id)
        .bind(text)
        .bind(&sha)
        .bind(actor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        Store::append_audit(
            &mut tx,
            actor,
            "commitment.template",
            &format!("commitment:{id}"),
            &json!({"kind": kind.as_str(), "title": title, "group": group, "version": 1,
                    "text_sha256": sha}),
        )
        .await?;
        tx.commit().await?;
        self.commitment_template(id).await.map(|(t, _)| t)
    }

    /// A new version of a template's text, which becomes the current one. The versions
    /// before it and what was signed stay as they were.
    pub async fn new_commitment_version(
        &self,
        template_id: i64,
        text: &str,
        note: Option<&str>,
        actor: &str,
    ) -> Result<CommitmentVersion> {
        check_text(text)?;
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        let (current, _) = self.commitment_template(template_id).await?;
        let sha = text_sha256(text);
        if sha == current.current.text_sha256 {
            return Err(StoreError::Conflict(format!(
                "正文与当前第 {} 版相同，无需新版本 (the text is the current version's)",
                current.current.version
            )));
        }
        let now = now_ms();
        let next = current.current.version + 1;
        let (_guard, mut tx) = self.audit_tx().await?;
        let done = sqlx::query(
            "UPDATE commitment_templates SET current_version = $1 \
             WHERE id = $2 AND current_version = $3",
        )
        .bind(next)
        .bind(template_id)
        .bind(current.current.version)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "模板刚被他人修改，请刷新后重试 (the template changed meanwhile)".into(),
            ));
        }
        sqlx::query(
            "INSERT INTO commitment_versions (template_id, version, body, text_sha256, note, \
             author, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(template_id)
        .bind(next)
        .bind(text)
        .bind(&sha)
        .bind(note)
        .bind(actor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        Store::append_audit(
            &mut tx,
            actor,
            "commitment.version",
            &format!("commitment:{template_id}"),
            &json!({"version": next, "text_sha256": sha, "note": note}),
        )
        .await?;
        tx.commit().await?;
        let (_, versions) = self.commitment_template(template_id).await?;
        versions
            .into_iter()
            .find(|v| v.version == next)
            .ok_or_else(|| StoreError::NotFound(format!("commitment {template_id} v{next}")))
    }

    /// Every template with its current version, by kind and title.
    pub async fn commitment_templates(&self) -> Result<Vec<CommitmentTemplate>> {
        let rows = sqlx::query(
            "SELECT id FROM commitment_templates ORDER BY \
             CASE kind WHEN 'onboarding' THEN 1 WHEN 'classified' THEN 2 ELSE 3 END, title",
        )
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.commitment_template(r.try_get(0)?).await?.0);
        }
        Ok(out)
    }

    /// A template and all its versions, newest first.
    pub async fn commitment_template(
        &self,
        id: i64,
    ) -> Result<(CommitmentTemplate, Vec<CommitmentVersion>)> {
        let row = sqlx::query(
            "SELECT id, kind, title, person_group, current_version, created_ms, created_by \
             FROM commitment_templates WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| {
            StoreError::NotFound(format!(
                "没有编号为 {id} 的承诺书模板 (commitment template {id})"
            ))
        })?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{SELECT_VERSION} WHERE template_id = $1 ORDER BY version DESC"
        )))
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        let versions = rows
            .iter()
            .map(version_from_row)
            .collect::<Result<Vec<_>>>()?;
        let current_no: i64 = row.try_get("current_version")?;
        let current = versions
            .iter()
            .find(|v| v.version == current_no)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(format!("commitment {id} v{current_no}")))?;
        let kind: String = row.try_get("kind")?;
        Ok((
            CommitmentTemplate {
                id,
                kind: CommitmentKind::parse(&kind).unwrap_or(CommitmentKind::Onboarding),
                title: row.try_get("title")?,
                group: row.try_get("person_group")?,
                created_ms: row.try_get("created_ms")?,
                created_by: row.try_get("created_by")?,
                current,
            },
            versions,
        ))
    }

    /// One version by its id, with its template.
    pub async fn commitment_version(
        &self,
        version_id: i64,
    ) -> Result<(CommitmentTemplate, CommitmentVersion)> {
        let row = sqlx::query(AssertSqlSafe(format!("{SELECT_VERSION} WHERE id = $1")))
            .bind(version_id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| {
                StoreError::NotFound(format!(
                    "没有这一版承诺书 (commitment version {version_id})"
                ))
            })?;
        let v = version_from_row(&row)?;
        let (t, _) = self.commitment_template(v.template_id).await?;
        Ok((t, v))
    }

    /// Record a signature. A console signature must be of the template's current version
    /// and dated today; a paper one may be of an earlier version and day (a paper signed
    /// before it was recorded), never of a day to come. A second signature of the same
    /// version by the same person is refused.
    pub async fn sign_commitment(&self, new: &NewSignature, actor: &str) -> Result<Signature> {
        let person = short("姓名 (person)", &new.person)?;
        let department = new
            .department
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty());
        let typed = new
            .typed_name
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty());
        if typed.is_some_and(|t| t.chars().count() > MAX_NAME_CHARS) {
            return Err(StoreError::Invalid("签名: too long".into()));
        }
        if !valid_day(&new.signed_day) {
            return Err(StoreError::Invalid(format!(
                "签署日期 {:?} 不是 YYYY-MM-DD 格式的日期 (not a date)",
                new.signed_day
            )));
        }
        let today = crate::local_date(now_ms());
        if new.signed_day.as_str() > today.as_str() {
            return Err(StoreError::Invalid(format!(
                "签署日期 {} 晚于今天 {today} (a day to come)",
                new.signed_day
            )));
        }
        let (template, version) = self.commitment_version(new.version_id).await?;
        match new.method {
            SignMethod::Console => {
                if typed.is_none() {
                    return Err(StoreError::Invalid(
                        "请输入本人姓名 (type your name)".into(),
                    ));
                }
                if new.signed_day != today {
                    return Err(StoreError::Invalid(format!(
                        "在线签署的日期是今天 {today} (a console signature is dated today)"
                    )));
                }
                if version.version != template.current.version {
                    return Err(StoreError::Conflict(format!(
                        "「{}」已有新的第 {} 版，请阅读新版后签署 (a newer version exists)",
                        template.title, template.current.version
                    )));
                }
            }
            SignMethod::Paper => {
                if new.scan.is_none() {
                    return Err(StoreError::Invalid(
                        "纸质签署需要附上扫描件 (attach the scan)".into(),
                    ));
                }
            }
        }
        let scan = new.scan.as_ref();
        let canonical = json!({
            "template": template.id,
            "version": version.version,
            "text_sha256": version.text_sha256,
            "person": person,
            "department": department,
            "method": new.method.as_str(),
            "typed_name": typed,
            "signed_day": new.signed_day,
            "scan_sha256": scan.map(|s| s.sha256.as_str()),
        });
        let signature_sha256 = sha256_hex(canonical.to_string().as_bytes());
        let now = now_ms();
        let (_guard, mut tx) = self.audit_tx().await?;
        let taken = sqlx::query(
            "SELECT signed_day, method FROM commitment_signatures \
             WHERE version_id = $1 AND person = $2",
        )
        .bind(version.id)
        .bind(&person)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(r) = taken {
            let day: String = r.try_get(0)?;
            return Err(StoreError::Conflict(format!(
                "{person} 已于 {day} 签署过「{}」第 {} 版，不能重复签署 \
                 (already signed this version)",
                template.title, version.version
            )));
        }
        let row = sqlx::query(
            "INSERT INTO commitment_signatures (version_id, template_id, version, kind, person, \
             account, department, method, typed_name, signed_day, text_sha256, signature_sha256, \
             scan_blake3, scan_name, scan_size, scan_sha256, recorded_by, recorded_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18) RETURNING id",
        )
        .bind(version.id)
        .bind(template.id)
        .bind(version.version)
        .bind(template.kind.as_str())
        .bind(&person)
        .bind(new.account.as_deref())
        .bind(department)
        .bind(new.method.as_str())
        .bind(typed)
        .bind(&new.signed_day)
        .bind(&version.text_sha256)
        .bind(&signature_sha256)
        .bind(scan.map(|s| s.blake3.as_str()))
        .bind(scan.map(|s| s.name.as_str()))
        .bind(scan.map(|s| s.size))
        .bind(scan.map(|s| s.sha256.as_str()))
        .bind(actor)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get(0)?;
        Store::append_audit(
            &mut tx,
            actor,
            match new.method {
                SignMethod::Console => "commitment.sign",
                SignMethod::Paper => "commitment.paper",
            },
            &format!("commitment:{}", template.id),
            &json!({
                "signature": id,
                "kind": template.kind.as_str(),
                "version": version.version,
                "text_sha256": version.text_sha256,
                "signature_sha256": signature_sha256,
                "person": person,
                "signed_day": new.signed_day,
                "scan_sha256": scan.map(|s| s.sha256.as_str()),
            }),
        )
        .await?;
        tx.commit().await?;
        self.commitment_signature(id).await
    }

    pub async fn commitment_signature(&self, id: i64) -> Result<Signature> {
        let row = sqlx::query(AssertSqlSafe(format!("{SELECT_SIGNATURE} WHERE s.id = $1")))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("signature {id}")))?;
        signature_from_row(&row)
    }

    /// Every signature, oldest first.
    pub async fn commitment_signatures(&self) -> Result<Vec<Signature>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{SELECT_SIGNATURE} ORDER BY s.recorded_ms, s.id"
        )))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(signature_from_row).collect()
    }

    /// The signatures of one person (by the directory's name), newest first.
    pub async fn commitment_signatures_of(&self, person: &str) -> Result<Vec<Signature>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{SELECT_SIGNATURE} WHERE s.person = $1 ORDER BY s.recorded_ms DESC, s.id DESC"
        )))
        .bind(person)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(signature_from_row).collect()
    }
}
