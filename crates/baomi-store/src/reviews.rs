//! 信息发布保密审查: the publication secrecy review (一事一审、先审查后公开、谁发布谁审核谁负责).
//!
//! A drafter submits a text and its files; the server scans them at once and keeps the
//! result with the version. Three people then decide in turn — the drafter's department
//! (部门自审, role `reviewer`), the office (办公室审核, `director`), the leader in charge
//! (分管领导审批, `approver`) — and the item is approved, or rejected back to the drafter,
//! who may submit a new version, which starts again at the first step.
//!
//! The rules of who may decide live here, beside the data, so the REST API and the console
//! cannot apply different ones: only the current step's role decides; nobody decides their
//! own item; one person decides at most one kind of step of an item (across its versions);
//! the department review belongs to the drafter's department; approving a version whose
//! scan found something block-level needs a comment that acknowledges it; a rejection says
//! why. Every submission and decision is a row of `review_steps` and an entry in the audit
//! chain.

use serde::Serialize;
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Account, Result, Role, Store, StoreError, now_ms};

/// Where an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// 部门自审: waiting for a reviewer of the drafter's department.
    SelfReview,
    /// 办公室审核: waiting for the office.
    OfficeReview,
    /// 分管领导审批: waiting for the leader in charge.
    LeaderApproval,
    /// 审批通过: may be published.
    Approved,
    /// 退回: back with the drafter.
    Rejected,
}

impl ReviewState {
    pub const ALL: [ReviewState; 5] = [
        ReviewState::SelfReview,
        ReviewState::OfficeReview,
        ReviewState::LeaderApproval,
        ReviewState::Approved,
        ReviewState::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::SelfReview => "self_review",
            ReviewState::OfficeReview => "office_review",
            ReviewState::LeaderApproval => "leader_approval",
            ReviewState::Approved => "approved",
            ReviewState::Rejected => "rejected",
        }
    }

    /// The state's name as the form and the console say it.
    pub fn zh(self) -> &'static str {
        match self {
            ReviewState::SelfReview => "部门自审",
            ReviewState::OfficeReview => "办公室审核",
            ReviewState::LeaderApproval => "分管领导审批",
            ReviewState::Approved => "审批通过",
            ReviewState::Rejected => "退回修改",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            ReviewState::SelfReview => "Department review",
            ReviewState::OfficeReview => "Office review",
            ReviewState::LeaderApproval => "Leader approval",
            ReviewState::Approved => "Approved",
            ReviewState::Rejected => "Rejected",
        }
    }

    pub fn parse(s: &str) -> Option<ReviewState> {
        ReviewState::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The role that decides this step; `None` once the item is decided.
    pub fn decided_by(self) -> Option<Role> {
        match self {
            ReviewState::SelfReview => Some(Role::Reviewer),
            ReviewState::OfficeReview => Some(Role::Director),
            ReviewState::LeaderApproval => Some(Role::Approver),
            ReviewState::Approved | ReviewState::Rejected => None,
        }
    }

    /// Where an approval of this step leads.
    fn after_approval(self) -> ReviewState {
        match self {
            ReviewState::SelfReview => ReviewState::OfficeReview,
            ReviewState::OfficeReview => ReviewState::LeaderApproval,
            _ => ReviewState::Approved,
        }
    }

    /// The step whose decision is pending: the item's state, while it is under review.
    pub fn in_review(self) -> bool {
        self.decided_by().is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    pub fn parse(s: &str) -> Option<Decision> {
        match s {
            "approve" => Some(Decision::Approve),
            "reject" => Some(Decision::Reject),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }
}

/// One file of a submission, already in the evidence vault.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewFile {
    pub seq: i64,
    pub name: String,
    pub size: i64,
    pub sha256: String,
    /// The vault's key of the (encrypted) bytes.
    pub blake3: String,
    pub true_type: String,
    /// The scan's verdict for this file alone.
    pub action: String,
}

/// What a drafter submits, after the server scanned it and put it in the vault.
#[derive(Debug, Clone)]
pub struct NewReviewVersion {
    pub title: String,
    pub text_blake3: Option<String>,
    /// SHA-256 of the text exactly as submitted (UTF-8).
    pub text_sha256: Option<String>,
    /// SHA-256 of the text with LF line ends and no trailing white space on its lines or
    /// at its end ([`normalised_text`]).
    pub text_norm_sha256: Option<String>,
    pub text_chars: i64,
    /// SHA-256 over the text's and the files' hashes: the one number on the form.
    pub content_sha256: String,
    /// The strongest verdict of the scan.
    pub action: String,
    /// The scan found something block-level: every reviewer sees it, approving needs an
    /// acknowledgement.
    pub blocking: bool,
    /// The scan's reports (masked findings), as shown to the reviewers.
    pub scan: Value,
    pub files: Vec<ReviewFile>,
}

/// One submission of an item.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewVersion {
    pub version: i64,
    pub submitted_ms: i64,
    pub title: String,
    #[serde(skip)]
    pub text_blake3: Option<String>,
    pub text_sha256: Option<String>,
    pub text_norm_sha256: Option<String>,
    pub text_chars: i64,
    pub content_sha256: String,
    pub action: String,
    pub blocking: bool,
    pub scan: Value,
    pub files: Vec<ReviewFile>,
}

/// A text as its normalised hash sees it: LF line ends, no trailing white space on any
/// line, no trailing blank lines.
pub fn normalised_text(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_owned()
}

/// A submission or a decision, as the form lists them.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewStep {
    pub version: i64,
    /// The state the item was in (`submit`: the state it entered).
    pub step: String,
    pub decision: String,
    pub account: String,
    pub display_name: Option<String>,
    pub role: String,
    pub comment: Option<String>,
    /// The decider acknowledged the scan's block-level findings.
    pub acknowledged: bool,
    pub created_ms: i64,
}

impl ReviewStep {
    /// The name to sign with: the display name when there is one.
    pub fn signer(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.account)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub id: i64,
    pub title: String,
    /// The drafter's account.
    pub drafter: String,
    /// The drafter's display name, when the account has one.
    pub drafter_name: Option<String>,
    pub department: Option<String>,
    pub state: ReviewState,
    /// The current version.
    pub version: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// An item with every version (oldest first; the current one last) and its history.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewDetail {
    #[serde(flatten)]
    pub review: Review,
    pub versions: Vec<ReviewVersion>,
    pub history: Vec<ReviewStep>,
}

impl Review {
    /// The name the drafter signs with.
    pub fn drafter_signs(&self) -> &str {
        self.drafter_name.as_deref().unwrap_or(&self.drafter)
    }
}

impl ReviewDetail {
    pub fn current(&self) -> &ReviewVersion {
        self.versions
            .iter()
            .find(|v| v.version == self.review.version)
            .or(self.versions.last())
            .expect("a review has at least one version")
    }
}

/// Which items a list shows.
#[derive(Debug, Clone, Default)]
pub struct ReviewFilter {
    pub state: Option<ReviewState>,
    pub drafter: Option<String>,
    /// Only items the account of this name took part in (submitted or decided).
    pub involving: Option<String>,
    pub limit: Option<i64>,
}

/// An approved item whose current version holds content with a given SHA-256.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovedMatch {
    pub id: i64,
    pub title: String,
    pub version: i64,
    /// `text` (exact or normalised), `content` (the whole submission) or `file` (with its
    /// name).
    pub matched: String,
    pub file: Option<String>,
    pub approved_ms: i64,
}

const SELECT_REVIEW: &str = "SELECT id, title, drafter, drafter_name, department, state, version, created_ms, updated_ms \
     FROM reviews";

fn review_from_row(r: &AnyRow) -> Result<Review> {
    let state: String = r.try_get("state")?;
    Ok(Review {
        id: r.try_get("id")?,
        title: r.try_get("title")?,
        drafter: r.try_get("drafter")?,
        drafter_name: r.try_get("drafter_name")?,
        department: r.try_get("department")?,
        state: ReviewState::parse(&state)
            .ok_or_else(|| StoreError::Invalid(format!("review with unknown state {state:?}")))?,
        version: r.try_get("version")?,
        created_ms: r.try_get("created_ms")?,
        updated_ms: r.try_get("updated_ms")?,
    })
}

fn check_new(new: &NewReviewVersion) -> Result<()> {
    let title = new.title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(StoreError::Invalid(
            "标题 (title): 1 to 200 characters".into(),
        ));
    }
    if new.text_chars == 0 && new.files.is_empty() {
        return Err(StoreError::Invalid(
            "nothing to review: give the text to publish, or a file".into(),
        ));
    }
    Ok(())
}

/// Who may decide the step `review` is at: the reason for a refusal, or `None`.
fn refusal(review: &Review, history: &[ReviewStep], decider: &Account) -> Option<String> {
    let step = review.state;
    let Some(role) = step.decided_by() else {
        return Some(format!(
            "review {} is {} ({}): there is nothing left to decide",
            review.id,
            step.zh(),
            step.as_str()
        ));
    };
    if decider.role != role {
        return Some(format!(
            "the step {} ({}) is decided by a {} ({}); this account is a {} ({})",
            step.zh(),
            step.as_str(),
            role.zh(),
            role.as_str(),
            decider.role.zh(),
            decider.role.as_str()
        ));
    }
    if decider.name == review.drafter {
        return Some("nobody reviews their own item (谁发布谁审核: someone else decides)".into());
    }
    if let Some(other) = history
        .iter()
        .find(|s| s.account == decider.name && s.decision != "submit" && s.step != step.as_str())
    {
        let earlier = ReviewState::parse(&other.step).map_or("?", ReviewState::zh);
        return Some(format!(
            "this account decided the step {earlier} ({}) of this item; one person decides one step",
            other.step
        ));
    }
    if step == ReviewState::SelfReview
        && let (Some(theirs), Some(ours)) = (&review.department, &decider.department)
        && theirs != ours
    {
        return Some(format!(
            "部门自审 is done in the drafter's department ({theirs}); this account is in {ours}"
        ));
    }
    None
}

impl Store {
    /// Record a new item in the state 部门自审.
    pub async fn submit_review(
        &self,
        new: &NewReviewVersion,
        drafter: &Account,
        actor: &str,
    ) -> Result<Review> {
        check_new(new)?;
        if drafter.role != Role::Drafter {
            return Err(StoreError::Refused(format!(
                "items are submitted by a drafter (拟稿人); this account is a {}",
                drafter.role.zh()
            )));
        }
        let now = now_ms();
        let (_guard, mut tx) = self.audit_tx().await?;
        let row = sqlx::query(
            "INSERT INTO reviews (title, drafter, drafter_name, department, state, version, \
             created_ms, updated_ms) VALUES ($1, $2, $3, $4, 'self_review', 1, $5, $5) RETURNING id",
        )
        .bind(new.title.trim())
        .bind(&drafter.name)
        .bind(&drafter.display_name)
        .bind(&drafter.department)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get(0)?;
        Self::insert_version(&mut tx, id, 1, new, drafter, now).await?;
        Store::append_audit(
            &mut tx,
            actor,
            "review.submit",
            &format!("review:{id}"),
            &json!({"version": 1, "content_sha256": new.content_sha256, "action": new.action,
                    "files": new.files.len(), "text_chars": new.text_chars}),
        )
        .await?;
        tx.commit().await?;
        Ok(self.review(id).await?.review)
    }

    /// A new version of a rejected item, by its drafter; it starts again at 部门自审.
    pub async fn resubmit_review(
        &self,
        id: i64,
        new: &NewReviewVersion,
        drafter: &Account,
        actor: &str,
    ) -> Result<Review> {
        check_new(new)?;
        let current = self.review(id).await?.review;
        if current.drafter != drafter.name {
            return Err(StoreError::Refused(
                "only the item's drafter submits a new version".into(),
            ));
        }
        if current.state != ReviewState::Rejected {
            return Err(StoreError::Conflict(format!(
                "review {id} is {} ({}): a new version follows a rejection",
                current.state.zh(),
                current.state.as_str()
            )));
        }
        let now = now_ms();
        let version = current.version + 1;
        let (_guard, mut tx) = self.audit_tx().await?;
        let done = sqlx::query(
            "UPDATE reviews SET title = $1, state = 'self_review', version = $2, updated_ms = $3 \
             WHERE id = $4 AND state = 'rejected' AND version = $5",
        )
        .bind(new.title.trim())
        .bind(version)
        .bind(now)
        .bind(id)
        .bind(current.version)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "review {id} changed meanwhile"
            )));
        }
        Self::insert_version(&mut tx, id, version, new, drafter, now).await?;
        Store::append_audit(
            &mut tx,
            actor,
            "review.resubmit",
            &format!("review:{id}"),
            &json!({"version": version, "content_sha256": new.content_sha256, "action": new.action,
                    "files": new.files.len(), "text_chars": new.text_chars}),
        )
        .await?;
        tx.commit().await?;
        Ok(self.review(id).await?.review)
    }

    async fn insert_version(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        id: i64,
        version: i64,
        new: &NewReviewVersion,
        drafter: &Account,
        now: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO review_versions (review_id, version, submitted_ms, title, text_blake3, \
             text_sha256, text_norm_sha256, text_chars, content_sha256, action, blocking, scan) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(id)
        .bind(version)
        .bind(now)
        .bind(new.title.trim())
        .bind(&new.text_blake3)
        .bind(&new.text_sha256)
        .bind(&new.text_norm_sha256)
        .bind(new.text_chars)
        .bind(&new.content_sha256)
        .bind(&new.action)
        .bind(i64::from(new.blocking))
        .bind(new.scan.to_string())
        .execute(&mut **tx)
        .await?;
        for (seq, f) in new.files.iter().enumerate() {
            sqlx::query(
                "INSERT INTO review_files (review_id, version, seq, name, size, sha256, blake3, \
                 true_type, action) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(id)
            .bind(version)
            .bind(seq as i64)
            .bind(&f.name)
            .bind(f.size)
            .bind(&f.sha256)
            .bind(&f.blake3)
            .bind(&f.true_type)
            .bind(&f.action)
            .execute(&mut **tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO review_steps (review_id, version, step, decision, account, display_name, \
             role, comment, acknowledged, created_ms) \
             VALUES ($1, $2, 'self_review', 'submit', $3, $4, $5, NULL, 0, $6)",
        )
        .bind(id)
        .bind(version)
        .bind(&drafter.name)
        .bind(&drafter.display_name)
        .bind(drafter.role.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Decide the step the item is at. Approving a version with block-level findings needs a
    /// comment: that comment is the decider's acknowledgement, marked so on the form.
    pub async fn decide_review(
        &self,
        id: i64,
        decision: Decision,
        comment: Option<&str>,
        decider: &Account,
        actor: &str,
    ) -> Result<ReviewDetail> {
        let detail = self.review(id).await?;
        let review = &detail.review;
        if let Some(why) = refusal(review, &detail.history, decider) {
            return Err(if review.state.in_review() {
                StoreError::Refused(why)
            } else {
                StoreError::Conflict(why)
            });
        }
        let comment = comment.map(str::trim).filter(|c| !c.is_empty());
        let current = detail.current();
        if decision == Decision::Reject && comment.is_none() {
            return Err(StoreError::Invalid(
                "a rejection says why (comment), so the drafter knows what to change".into(),
            ));
        }
        if decision == Decision::Approve && current.blocking && comment.is_none() {
            return Err(StoreError::Invalid(format!(
                "the scan of this version found block-level content (verdict {}): approving it \
                 needs a comment that acknowledges the findings and says why it may be published",
                current.action
            )));
        }
        let step = review.state;
        let to = match decision {
            Decision::Approve => step.after_approval(),
            Decision::Reject => ReviewState::Rejected,
        };
        let now = now_ms();
        let (_guard, mut tx) = self.audit_tx().await?;
        let done = sqlx::query(
            "UPDATE reviews SET state = $1, updated_ms = $2 WHERE id = $3 AND state = $4 AND version = $5",
        )
        .bind(to.as_str())
        .bind(now)
        .bind(id)
        .bind(step.as_str())
        .bind(review.version)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "review {id} changed meanwhile"
            )));
        }
        let acknowledged = current.blocking && decision == Decision::Approve;
        sqlx::query(
            "INSERT INTO review_steps (review_id, version, step, decision, account, display_name, \
             role, comment, acknowledged, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(id)
        .bind(review.version)
        .bind(step.as_str())
        .bind(decision.as_str())
        .bind(&decider.name)
        .bind(&decider.display_name)
        .bind(decider.role.as_str())
        .bind(comment)
        .bind(i64::from(acknowledged))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        Store::append_audit(
            &mut tx,
            actor,
            &format!("review.{}", decision.as_str()),
            &format!("review:{id}"),
            &json!({"version": review.version, "step": step.as_str(), "to": to.as_str(),
                    "content_sha256": current.content_sha256,
                    "acknowledged_findings": acknowledged}),
        )
        .await?;
        tx.commit().await?;
        self.review(id).await
    }

    /// Whether `decider` may decide the item's current step now (what the console asks
    /// before it shows the decision form): the reason when not.
    pub fn review_refusal(detail: &ReviewDetail, decider: &Account) -> Option<String> {
        refusal(&detail.review, &detail.history, decider)
    }

    pub async fn review(&self, id: i64) -> Result<ReviewDetail> {
        let row = sqlx::query(AssertSqlSafe(format!("{SELECT_REVIEW} WHERE id = $1")))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("review {id}")))?;
        let review = review_from_row(&row)?;
        let files = sqlx::query(
            "SELECT version, seq, name, size, sha256, blake3, true_type, action FROM review_files \
             WHERE review_id = $1 ORDER BY version, seq",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        let mut versions = Vec::new();
        for r in sqlx::query(
            "SELECT version, submitted_ms, title, text_blake3, text_sha256, text_norm_sha256, text_chars, \
             content_sha256, action, blocking, scan FROM review_versions WHERE review_id = $1 \
             ORDER BY version",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?
        {
            let version: i64 = r.try_get("version")?;
            let scan: String = r.try_get("scan")?;
            let mut vfiles = Vec::new();
            for f in files.iter() {
                if f.try_get::<i64, _>("version")? == version {
                    vfiles.push(ReviewFile {
                        seq: f.try_get("seq")?,
                        name: f.try_get("name")?,
                        size: f.try_get("size")?,
                        sha256: f.try_get("sha256")?,
                        blake3: f.try_get("blake3")?,
                        true_type: f.try_get("true_type")?,
                        action: f.try_get("action")?,
                    });
                }
            }
            versions.push(ReviewVersion {
                version,
                submitted_ms: r.try_get("submitted_ms")?,
                title: r.try_get("title")?,
                text_blake3: r.try_get("text_blake3")?,
                text_sha256: r.try_get("text_sha256")?,
                text_norm_sha256: r.try_get("text_norm_sha256")?,
                text_chars: r.try_get("text_chars")?,
                content_sha256: r.try_get("content_sha256")?,
                action: r.try_get("action")?,
                blocking: r.try_get::<i64, _>("blocking")? != 0,
                scan: serde_json::from_str(&scan).unwrap_or(Value::Null),
                files: vfiles,
            });
        }
        let mut history = Vec::new();
        for r in sqlx::query(
            "SELECT version, step, decision, account, display_name, role, comment, acknowledged, \
             created_ms FROM review_steps WHERE review_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?
        {
            history.push(ReviewStep {
                version: r.try_get("version")?,
                step: r.try_get("step")?,
                decision: r.try_get("decision")?,
                account: r.try_get("account")?,
                display_name: r.try_get("display_name")?,
                role: r.try_get("role")?,
                comment: r.try_get("comment")?,
                acknowledged: r.try_get::<i64, _>("acknowledged")? != 0,
                created_ms: r.try_get("created_ms")?,
            });
        }
        Ok(ReviewDetail {
            review,
            versions,
            history,
        })
    }

    /// Items, most recently changed first.
    pub async fn reviews(&self, f: &ReviewFilter) -> Result<Vec<Review>> {
        let mut sql = format!("{SELECT_REVIEW} WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        if let Some(s) = f.state {
            binds.push(s.as_str().to_owned());
            sql.push_str(&format!(" AND state = ${}", binds.len()));
        }
        if let Some(d) = &f.drafter {
            binds.push(d.clone());
            sql.push_str(&format!(" AND drafter = ${}", binds.len()));
        }
        if let Some(a) = &f.involving {
            binds.push(a.clone());
            sql.push_str(&format!(
                " AND id IN (SELECT review_id FROM review_steps WHERE account = ${})",
                binds.len()
            ));
        }
        sql.push_str(&format!(
            " ORDER BY updated_ms DESC, id DESC LIMIT {}",
            f.limit.unwrap_or(200).clamp(1, 1000)
        ));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for b in &binds {
            q = q.bind(b);
        }
        q.fetch_all(self.pool())
            .await?
            .iter()
            .map(review_from_row)
            .collect()
    }

    /// Approved items whose current version holds content with this SHA-256 (hex): the
    /// text, the whole submission, or one of its files.
    pub async fn approved_with(&self, sha256: &str) -> Result<Vec<ApprovedMatch>> {
        let sha = sha256.trim().to_ascii_lowercase();
        let rows = sqlx::query(
            "SELECT r.id, r.title, r.version, v.text_sha256, v.text_norm_sha256, v.content_sha256, \
             f.name AS file, \
             (SELECT MAX(s.created_ms) FROM review_steps s WHERE s.review_id = r.id \
              AND s.version = r.version AND s.decision = 'approve') AS approved_ms \
             FROM reviews r JOIN review_versions v ON v.review_id = r.id AND v.version = r.version \
             LEFT JOIN review_files f ON f.review_id = r.id AND f.version = r.version AND f.sha256 = $1 \
             WHERE r.state = 'approved' AND (v.text_sha256 = $1 OR v.text_norm_sha256 = $1 \
             OR v.content_sha256 = $1 OR f.sha256 = $1) \
             ORDER BY r.id",
        )
        .bind(&sha)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for r in rows {
            let text: Option<String> = r.try_get("text_sha256")?;
            let norm: Option<String> = r.try_get("text_norm_sha256")?;
            let content: String = r.try_get("content_sha256")?;
            let file: Option<String> = r.try_get("file")?;
            let matched =
                if text.as_deref() == Some(sha.as_str()) || norm.as_deref() == Some(sha.as_str()) {
                    "text"
                } else if content == sha {
                    "content"
                } else {
                    "file"
                };
            out.push(ApprovedMatch {
                id: r.try_get("id")?,
                title: r.try_get("title")?,
                version: r.try_get("version")?,
                matched: matched.into(),
                file: if matched == "file" { file } else { None },
                approved_ms: r.try_get::<Option<i64>, _>("approved_ms")?.unwrap_or(0),
            });
        }
        Ok(out)
    }
}
