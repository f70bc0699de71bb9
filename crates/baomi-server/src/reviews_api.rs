//! The publication secrecy review's REST endpoints (信息发布保密审查). A drafter submits a
//! text and files; [`intake`] scans them at once with the engine (no incident: the review
//! itself is the record), puts their bytes in the encrypted evidence vault and hashes them;
//! the store keeps the item and decides who may take each step
//! ([`baomi_store::reviews`]). The console's pages call the same functions.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use baomi_core::{Action, Channel};
use baomi_extract::Blob;
use baomi_store::{
    Account, Decision, NewReviewVersion, ReviewDetail, ReviewFile, ReviewFilter, ReviewState,
    ReviewVersion, Role,
};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::api::{ApiError, ApiState, spool};
use crate::authz::{Permission, Principal, Routes};

/// The most a submission (text and files together) may hold.
pub const MAX_SUBMISSION_BYTES: u64 = 64 << 20;

/// The name the text is scanned under, and downloaded as.
pub const TEXT_NAME: &str = "正文.txt";

pub fn routes() -> Routes<ApiState> {
    Routes::new()
        .get("/api/v1/reviews", Permission::ReviewRead, list)
        .post("/api/v1/reviews", Permission::ReviewSubmit, submit)
        .get(
            "/api/v1/reviews/approved",
            Permission::ReviewLookup,
            approved,
        )
        .get("/api/v1/reviews/{id}", Permission::ReviewRead, get)
        .post(
            "/api/v1/reviews/{id}/versions",
            Permission::ReviewSubmit,
            resubmit,
        )
        .post(
            "/api/v1/reviews/{id}/decision",
            Permission::ReviewDecide,
            decide,
        )
        .get(
            "/api/v1/reviews/{id}/form.pdf",
            Permission::ReviewRead,
            form,
        )
        .get(
            "/api/v1/reviews/{id}/content",
            Permission::ReviewRead,
            content,
        )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a drafter hands in, before it is scanned.
pub struct Submission {
    pub title: String,
    pub text: String,
    pub files: Vec<(String, Blob)>,
}

/// Read a multipart submission: `title`, `text`, and any number of file fields.
pub async fn read_submission(mut mp: Multipart) -> Result<Submission, ApiError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError(StatusCode::BAD_REQUEST, e.body_text())
    };
    let mut s = Submission {
        title: String::new(),
        text: String::new(),
        files: Vec::new(),
    };
    let mut total: u64 = 0;
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        match field.file_name().map(str::to_owned) {
            Some(file_name) if !file_name.is_empty() => {
                let blob = spool(field, 1 << 20).await?;
                total += blob.len();
                if !blob.is_empty() {
                    s.files.push((file_name, blob));
                }
            }
            Some(_) => {
                // An empty file input of a browser form.
                let _ = field.bytes().await.map_err(bad)?;
            }
            None => {
                let value = field.text().await.map_err(bad)?;
                total += value.len() as u64;
                match name.as_str() {
                    "title" => s.title = value,
                    "text" => s.text = value,
                    _ => {}
                }
            }
        }
        if total > MAX_SUBMISSION_BYTES {
            return Err(ApiError(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "a submission holds at most {} MB (text and files together)",
                    MAX_SUBMISSION_BYTES >> 20
                ),
            ));
        }
    }
    Ok(s)
}

/// Scan a submission, put its bytes in the vault, hash them: the version the store keeps.
pub async fn intake(state: &ApiState, s: Submission) -> Result<NewReviewVersion, ApiError> {
    let gw = state.gateway.clone();
    let mut objects: Vec<(String, bool, Blob)> = Vec::new();
    let text = s.text;
    let text_chars = text.trim().chars().count() as i64;
    let text_norm_sha256 = (text_chars > 0).then(|| {
        hex(&Sha256::digest(
            baomi_store::normalised_text(&text).as_bytes(),
        ))
    });
    if text_chars > 0 {
        objects.push((TEXT_NAME.into(), true, Blob::from_vec(text.into_bytes())));
    }
    for (name, blob) in s.files {
        objects.push((name, false, blob));
    }
    let title = s.title;
    let done = tokio::task::spawn_blocking(move || -> anyhow::Result<NewReviewVersion> {
        let mut scan = Vec::new();
        let mut files = Vec::new();
        let mut overall = Action::Allow;
        let mut text_blake3 = None;
        let mut text_sha256 = None;
        let mut whole = Sha256::new();
        for (name, is_text, blob) in objects {
            let mut hasher = Sha256::new();
            std::io::copy(&mut blob.open()?, &mut hasher)?;
            let sha = hex(&hasher.finalize());
            whole.update(sha.as_bytes());
            whole.update(b"\n");
            let stored = gw.vault.put(&mut blob.open()?)?;
            let size = blob.len() as i64;
            let report = gw.engine().inspect(blob, &name, Channel::Publish);
            overall = overall.max(report.verdict.action);
            scan.push(json!({
                "name": name,
                "kind": if is_text { "text" } else { "file" },
                "sha256": sha,
                "report": report.to_json(false),
            }));
            if is_text {
                text_blake3 = Some(stored.hash);
                text_sha256 = Some(sha);
            } else {
                files.push(ReviewFile {
                    seq: files.len() as i64,
                    name,
                    size,
                    sha256: sha,
                    blake3: stored.hash,
                    true_type: report.true_type.clone(),
                    action: report.verdict.action.as_str().into(),
                });
            }
        }
        Ok(NewReviewVersion {
            title,
            text_blake3,
            text_sha256,
            text_norm_sha256,
            text_chars,
            content_sha256: hex(&whole.finalize()),
            action: overall.as_str().into(),
            blocking: overall >= Action::Quarantine,
            scan: json!({ "objects": scan }),
            files,
        })
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(done)
}

/// The account behind a request (every review route is for accounts, not bare tokens).
pub fn account_of(p: &Principal) -> Result<&Account, ApiError> {
    p.account.as_ref().ok_or_else(|| {
        ApiError(
            StatusCode::FORBIDDEN,
            "the publication review is for console accounts (or their tokens)".into(),
        )
    })
}

/// Whether `account` may see an item: the security officer, the office and the leader see
/// every item; a department reviewer those of their department (or all, without one);
/// a drafter their own. Anyone who took part in an item keeps seeing it.
pub fn may_see(detail: &ReviewDetail, account: &Account) -> bool {
    let took_part = detail.history.iter().any(|s| s.account == account.name);
    took_part
        || match account.role {
            Role::Secadmin | Role::Director | Role::Approver => true,
            Role::Reviewer => match (&account.department, &detail.review.department) {
                (Some(ours), Some(theirs)) => ours == theirs,
                _ => true,
            },
            _ => false,
        }
}

/// The item, if the caller may see it (else 404, as if it did not exist).
pub async fn visible(state: &ApiState, p: &Principal, id: i64) -> Result<ReviewDetail, ApiError> {
    let account = account_of(p)?;
    let detail = state.gateway.store.review(id).await?;
    if !may_see(&detail, account) {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("not found: review {id}"),
        ));
    }
    Ok(detail)
}

/// The list a person works from: a drafter's own items; a reviewer's department; everyone
/// else every item. `state` narrows it.
pub async fn list_for(
    state: &ApiState,
    account: &Account,
    only: Option<ReviewState>,
) -> Result<Vec<baomi_store::Review>, ApiError> {
    let mut f = ReviewFilter {
        state: only,
        ..Default::default()
    };
    if account.role == Role::Drafter {
        f.drafter = Some(account.name.clone());
    }
    let mut items = state.gateway.store.reviews(&f).await?;
    if account.role == Role::Reviewer
        && let Some(ours) = &account.department
    {
        let mine = state
            .gateway
            .store
            .reviews(&ReviewFilter {
                involving: Some(account.name.clone()),
                ..f.clone()
            })
            .await?;
        items.retain(|r| {
            r.department.as_deref().is_none_or(|d| d == ours) || mine.iter().any(|m| m.id == r.id)
        });
    }
    Ok(items)
}

/// The text of a version, decrypted from the vault.
pub async fn text_of(state: &ApiState, v: &ReviewVersion) -> Result<String, ApiError> {
    let Some(key) = v.text_blake3.clone() else {
        return Ok(String::new());
    };
    let bytes = read_vault(state, key).await?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

pub async fn read_vault(state: &ApiState, key: String) -> Result<Vec<u8>, ApiError> {
    let vault = state.gateway.vault.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        vault.get(&key, &mut out).map(|_| out)
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(ApiError::from)
}

/// One piece of a version as a download: the text (`file` = None) or a file by its
/// number, optionally with personal data masked in the content (数据脱敏, for publishing).
/// A masked copy is audited with its counts.
pub async fn piece(
    state: &ApiState,
    p: &Principal,
    detail: &ReviewDetail,
    version: Option<i64>,
    file: Option<i64>,
    redacted: bool,
) -> Result<(String, Vec<u8>), ApiError> {
    let v = match version {
        Some(n) => detail
            .versions
            .iter()
            .find(|v| v.version == n)
            .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no version {n}")))?,
        None => detail.current(),
    };
    let (name, key) = match file {
        None => (
            TEXT_NAME.to_owned(),
            v.text_blake3.clone().ok_or_else(|| {
                ApiError(StatusCode::NOT_FOUND, "this version has no text".into())
            })?,
        ),
        Some(n) => {
            let f = v
                .files
                .iter()
                .find(|f| f.seq == n)
                .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no file {n}")))?;
            (f.name.clone(), f.blake3.clone())
        }
    };
    let bytes = read_vault(state, key).await?;
    if !redacted {
        return Ok((name, bytes));
    }
    let file_name = name.clone();
    let done = tokio::task::spawn_blocking(move || baomi_redact::redact(&bytes, &file_name))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    state
        .gateway
        .store
        .audit(
            &p.actor,
            "review.redact",
            &format!("review:{}", detail.review.id),
            json!({"version": v.version, "file": file, "replaced": done.replaced,
                   "not_redacted": done.not_redacted.len()}),
        )
        .await?;
    Ok((format!("脱敏-{name}"), done.bytes))
}

/// A download: `Content-Disposition` with the file's (Chinese) name (RFC 5987) and an ASCII
/// fallback.
pub fn attachment(name: &str, content_type: &str, bytes: Vec<u8>) -> Response {
    let encoded: String =
        percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string();
    // The ASCII fallback keeps the extension, for clients without RFC 5987.
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e)
        .filter(|e| e.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(|e| format!(".{e}"))
        .unwrap_or_default();
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"download{ext}\"; filename*=UTF-8''{encoded}"),
            ),
        ],
        Body::from(bytes),
    )
        .into_response()
}

/// The 保密审查表 as PDF.
pub async fn form_pdf(state: &ApiState, detail: ReviewDetail) -> Result<Vec<u8>, ApiError> {
    let unit = state.gateway.config.records.unit.clone();
    tokio::task::spawn_blocking(move || baomi_records::review::form_pdf(&detail, &unit))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

/// The item as the API shows it: state, versions with their scan, history, the current
/// text, and what the caller may do now.
async fn detail_json(
    state: &ApiState,
    detail: &ReviewDetail,
    account: &Account,
) -> Result<Value, ApiError> {
    let mut j = serde_json::to_value(detail)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let current = detail.current();
    j["text"] = json!(text_of(state, current).await?);
    j["content_sha256"] = json!(current.content_sha256);
    j["blocking"] = json!(current.blocking);
    j["scan_summary"] = json!(baomi_records::review::scan_summary(
        &current.scan,
        &current.action
    ));
    j["state_zh"] = json!(detail.review.state.zh());
    j["awaiting"] = json!(detail.review.state.decided_by().map(Role::as_str));
    j["you_may_decide"] = json!(baomi_store::Store::review_refusal(detail, account).is_none());
    Ok(j)
}

#[derive(Deserialize, Default)]
struct ListParams {
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    state: Option<String>,
}

/// `GET /api/v1/reviews?state=…`
async fn list(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let account = account_of(&p)?;
    let only = match q.state.as_deref() {
        None => None,
        Some(s) => Some(ReviewState::parse(s).ok_or_else(|| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!(
                    "unknown state {s:?} (self_review, office_review, leader_approval, approved, rejected)"
                ),
            )
        })?),
    };
    let items = list_for(&state, account, only).await?;
    Ok(Json(json!({ "reviews": items })))
}

async fn read_multipart(state: &ApiState, req: Request) -> Result<Submission, ApiError> {
    let mp = Multipart::from_request(req, state)
        .await
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    read_submission(mp).await
}

/// `POST /api/v1/reviews` (multipart: `title`, `text`, files): scanned at once.
async fn submit(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    req: Request,
) -> Result<Response, ApiError> {
    let account = account_of(&p)?.clone();
    let s = read_multipart(&state, req).await?;
    let new = intake(&state, s).await?;
    let review = state
        .gateway
        .store
        .submit_review(&new, &account, &p.actor)
        .await?;
    let detail = state.gateway.store.review(review.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(detail_json(&state, &detail, &account).await?),
    )
        .into_response())
}

/// `POST /api/v1/reviews/{id}/versions`: a new version of a rejected item.
async fn resubmit(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let account = account_of(&p)?.clone();
    visible(&state, &p, id).await?;
    let s = read_multipart(&state, req).await?;
    let new = intake(&state, s).await?;
    state
        .gateway
        .store
        .resubmit_review(id, &new, &account, &p.actor)
        .await?;
    let detail = state.gateway.store.review(id).await?;
    Ok(Json(detail_json(&state, &detail, &account).await?))
}

#[derive(Deserialize)]
struct DecisionBody {
    decision: String,
    #[serde(default)]
    comment: Option<String>,
}

/// `POST /api/v1/reviews/{id}/decision` `{"decision": "approve"|"reject", "comment": "…"}`
async fn decide(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    Json(body): Json<DecisionBody>,
) -> Result<Json<Value>, ApiError> {
    let account = account_of(&p)?.clone();
    visible(&state, &p, id).await?;
    let decision = Decision::parse(&body.decision).ok_or_else(|| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!(
                "decision must be approve or reject, not {:?}",
                body.decision
            ),
        )
    })?;
    let detail = state
        .gateway
        .store
        .decide_review(id, decision, body.comment.as_deref(), &account, &p.actor)
        .await?;
    Ok(Json(detail_json(&state, &detail, &account).await?))
}

/// `GET /api/v1/reviews/{id}`
async fn get(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let account = account_of(&p)?.clone();
    let detail = visible(&state, &p, id).await?;
    Ok(Json(detail_json(&state, &detail, &account).await?))
}

/// `GET /api/v1/reviews/{id}/form.pdf`
async fn form(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let detail = visible(&state, &p, id).await?;
    let pdf = form_pdf(&state, detail).await?;
    Ok(attachment(
        &format!("保密审查表-{id}.pdf"),
        "application/pdf",
        pdf,
    ))
}

#[derive(Deserialize, Default)]
pub struct PieceParams {
    pub version: Option<i64>,
    /// A file's number (`seq`); without it, the text.
    pub file: Option<i64>,
    /// `1`/`true`: with personal data masked in the content (数据脱敏).
    pub redacted: Option<String>,
}

impl PieceParams {
    pub fn wants_redacted(&self) -> bool {
        matches!(self.redacted.as_deref(), Some("1" | "true" | "yes"))
    }
}

/// `GET /api/v1/reviews/{id}/content?file=N&version=V&redacted=1`
async fn content(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    Query(q): Query<PieceParams>,
) -> Result<Response, ApiError> {
    let detail = visible(&state, &p, id).await?;
    let (name, bytes) = piece(&state, &p, &detail, q.version, q.file, q.wants_redacted()).await?;
    let ty = if q.file.is_none() {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    };
    Ok(attachment(&name, ty, bytes))
}

#[derive(Deserialize)]
struct ApprovedParams {
    sha256: String,
}

/// `GET /api/v1/reviews/approved?sha256=…`: whether content with this hash (a text exactly
/// as submitted, or normalised — LF line ends, no trailing white space; a file; or the
/// whole submission's content hash) was approved for publication, and by which item.
async fn approved(
    State(state): State<ApiState>,
    Query(q): Query<ApprovedParams>,
) -> Result<Json<Value>, ApiError> {
    let sha = q.sha256.trim().to_ascii_lowercase();
    if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "sha256 must be 64 hex digits".into(),
        ));
    }
    let found = state.gateway.store.approved_with(&sha).await?;
    Ok(Json(json!({
        "sha256": sha,
        "approved": !found.is_empty(),
        "reviews": found,
    })))
}
