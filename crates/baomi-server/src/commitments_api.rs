//! Secrecy commitments (保密承诺书) over REST: the security officer's templates and their
//! versions, paper signatures with their scans, and the overview against the directory
//! (who signed which version, who has not signed the current one, departures without a
//! leaving commitment; JSON, XLSX or CSV) — `Permission::Records`; and every person's own
//! commitments: what concerns them and is unsigned, what they signed, signing —
//! `Permission::SelfService`. The rules of signing live in the store
//! (`baomi_store::commitments`); who a signing account is in the directory, and which
//! templates concern whom, is decided here, once, for the API and the console alike.

use std::io::Read;

use axum::Extension;
use axum::Json;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use baomi_extract::Blob;
use baomi_records::Format;
use baomi_records::commitments::{CommitmentRow, DepartureRow};
use baomi_store::{
    Account, CommitmentKind, CommitmentTemplate, NewSignature, SignMethod, Signature, SignatureScan,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::api::{ApiError, ApiState, spool};
use crate::authz::{Permission, Principal, Routes};
use crate::directory::{Directory, Person};
use crate::gateway::Gateway;
use crate::records_api::{download, records_error};

/// A paper signature's scan holds at most this much.
pub const MAX_SCAN_BYTES: u64 = 32 << 20;

pub fn routes() -> Routes<ApiState> {
    Routes::new()
        .get(
            "/api/v1/commitments/templates",
            Permission::Records,
            list_templates,
        )
        .post(
            "/api/v1/commitments/templates",
            Permission::Records,
            create_template,
        )
        .get(
            "/api/v1/commitments/templates/{id}",
            Permission::Records,
            get_template,
        )
        .post(
            "/api/v1/commitments/templates/{id}/versions",
            Permission::Records,
            new_version,
        )
        .get(
            "/api/v1/commitments/overview",
            Permission::Records,
            overview,
        )
        .post("/api/v1/commitments/paper", Permission::Records, paper)
        .get(
            "/api/v1/commitments/signatures/{id}/scan",
            Permission::Records,
            scan,
        )
        .get("/api/v1/commitments/mine", Permission::SelfService, mine)
        .post("/api/v1/commitments/mine", Permission::SelfService, sign)
}

fn unprocessable(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::UNPROCESSABLE_ENTITY, msg.into())
}

/// The person of the directory an account is: the one whose `account` is the account's
/// name, else the one named as the account's display name, else as the account itself.
pub fn person_of<'d>(directory: &'d Directory, account: &Account) -> Option<&'d Person> {
    let people = directory.people();
    people
        .iter()
        .find(|p| p.account.as_deref() == Some(account.name.as_str()))
        .or_else(|| {
            account
                .display_name
                .as_deref()
                .and_then(|d| people.iter().find(|p| p.name == d))
        })
        .or_else(|| people.iter().find(|p| p.name == account.name))
}

/// Who signs, as the console and the API see the account.
#[derive(Debug, Clone, Serialize)]
pub struct Signer {
    /// The name signatures are kept under: the directory's name, else the display name,
    /// else the account name.
    pub person: String,
    pub department: Option<String>,
    /// Listed in the directory.
    pub listed: bool,
    /// The names the typed name may be (the display name, the directory's name).
    pub accepted_names: Vec<String>,
    /// The person's groups in the directory (涉密人员 …).
    #[serde(skip)]
    pub groups: Vec<String>,
    /// The day the person left, if the directory says so.
    pub left: Option<String>,
}

pub fn signer(directory: &Directory, account: &Account) -> Signer {
    let p = person_of(directory, account);
    let display = account
        .display_name
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let mut accepted: Vec<String> = Vec::new();
    for n in [display, p.map(|p| p.name.as_str())].into_iter().flatten() {
        if !accepted.iter().any(|a| a == n) {
            accepted.push(n.to_owned());
        }
    }
    if accepted.is_empty() {
        accepted.push(account.name.clone());
    }
    Signer {
        person: p
            .map(|p| p.name.clone())
            .or_else(|| display.map(str::to_owned))
            .unwrap_or_else(|| account.name.clone()),
        department: p
            .map(|p| p.department.clone())
            .or_else(|| account.department.clone())
            .filter(|d| !d.trim().is_empty()),
        listed: p.is_some(),
        accepted_names: accepted,
        groups: p.map(|p| p.groups.clone()).unwrap_or_default(),
        left: p.and_then(|p| p.left.clone()),
    }
}

/// Whether a template concerns someone with these groups and leaving date: a 离岗 template
/// those who left (or are leaving), the others those still here; a template naming a
/// group only its members.
pub fn concerns(t: &CommitmentTemplate, groups: &[String], left: Option<&str>) -> bool {
    let by_kind = match t.kind {
        CommitmentKind::Leaving => left.is_some(),
        CommitmentKind::Onboarding | CommitmentKind::Classified => left.is_none(),
    };
    by_kind
        && t.group
            .as_ref()
            .is_none_or(|g| groups.iter().any(|x| x == g))
}

fn same_name(a: &str, b: &str) -> bool {
    let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    squeeze(a) == squeeze(b)
}

/// What one person sees: the templates that concern them and whose current version they
/// have not signed (with the full text), and what they signed before.
pub async fn my_commitments(gw: &Gateway, account: &Account) -> Result<Value, ApiError> {
    let directory = gw.directory();
    let who = signer(&directory, account);
    let signed = gw.store.commitment_signatures_of(&who.person).await?;
    let pending: Vec<Value> = gw
        .store
        .commitment_templates()
        .await?
        .into_iter()
        .filter(|t| concerns(t, &who.groups, who.left.as_deref()))
        .filter(|t| !signed.iter().any(|s| s.version_id == t.current.id))
        .map(|t| {
            let before = signed
                .iter()
                .filter(|s| s.template_id == t.id)
                .map(|s| s.version)
                .max();
            json!({
                "template_id": t.id,
                "title": t.title,
                "kind": t.kind,
                "version_id": t.current.id,
                "version": t.current.version,
                "text": t.current.text,
                "text_sha256": t.current.text_sha256,
                "signed_version": before,
            })
        })
        .collect();
    Ok(json!({
        "person": who.person,
        "department": who.department,
        "listed": who.listed,
        "accepted_names": who.accepted_names,
        "today": baomi_store::local_date(baomi_store::now_ms()),
        "pending": pending,
        "signed": signed,
    }))
}

/// Sign a version as oneself: the typed name must be one's display name or the
/// directory's name, the date is today in Beijing time.
pub async fn sign_as(
    gw: &Gateway,
    account: &Account,
    version_id: i64,
    typed_name: &str,
    actor: &str,
) -> Result<Signature, ApiError> {
    let directory = gw.directory();
    let who = signer(&directory, account);
    let typed = typed_name.trim();
    if typed.is_empty() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "请输入本人姓名 (type your name)".into(),
        ));
    }
    if !who.accepted_names.iter().any(|n| same_name(n, typed)) {
        return Err(unprocessable(format!(
            "签名「{typed}」与本人姓名不符：请输入「{}」 (the typed name must be your name)",
            who.accepted_names.join("」或「")
        )));
    }
    let (template, _) = gw.store.commitment_version(version_id).await?;
    if !concerns(&template, &who.groups, who.left.as_deref()) {
        return Err(unprocessable(format!(
            "「{}」不需要您签署 (this commitment does not concern you)",
            template.title
        )));
    }
    let new = NewSignature {
        version_id,
        person: who.person,
        account: Some(account.name.clone()),
        department: who.department,
        method: SignMethod::Console,
        typed_name: Some(typed.to_owned()),
        signed_day: baomi_store::local_date(baomi_store::now_ms()),
        scan: None,
    };
    Ok(gw.store.sign_commitment(&new, actor).await?)
}

/// A paper signature as an officer records it (the API's multipart form and the console's).
#[derive(Debug, Default)]
pub struct PaperForm {
    pub version_id: String,
    pub person: String,
    pub department: String,
    pub signed_day: String,
    pub typed_name: String,
}

/// Record a paper signature: the scan into the evidence vault (encrypted), hashed, then
/// the signature in one transaction with its audit entry. The department defaults to the
/// directory's.
pub async fn record_paper(
    gw: &Gateway,
    form: &PaperForm,
    file: Option<(String, Blob)>,
    actor: &str,
) -> Result<Signature, ApiError> {
    let version_id: i64 = form.version_id.trim().parse().map_err(|_| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!(
                "version_id {:?}: 请选择承诺书版本 (a version's id)",
                form.version_id
            ),
        )
    })?;
    let person = form.person.trim();
    if person.is_empty() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "请填写签署人姓名 (person)".into(),
        ));
    }
    let Some((name, blob)) = file.filter(|(_, b)| !b.is_empty()) else {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "纸质签署需要附上扫描件 (attach the scan as the file field)".into(),
        ));
    };
    if blob.len() > MAX_SCAN_BYTES {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("扫描件最大 {} MB", MAX_SCAN_BYTES >> 20),
        ));
    }
    let directory = gw.directory();
    let listed = directory.person(person);
    let department = Some(form.department.trim())
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .or_else(|| listed.map(|p| p.department.clone()));
    // Checked before the scan goes into the vault, so a refused signature leaves no file.
    let (template, version) = gw.store.commitment_version(version_id).await?;
    if gw
        .store
        .commitment_signatures_of(person)
        .await?
        .iter()
        .any(|s| s.version_id == version.id)
    {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!(
                "{person} 已签署过「{}」第 {} 版，不能重复签署 (already signed this version)",
                template.title, version.version
            ),
        ));
    }
    let vault = gw.vault.clone();
    let (stored, sha256) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut hasher = Sha256::new();
        let mut r = blob.open()?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let stored = vault.put(&mut blob.open()?)?;
        let sha: String = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok((stored, sha))
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    let new = NewSignature {
        version_id,
        person: person.to_owned(),
        account: listed.and_then(|p| p.account.clone()),
        department,
        method: SignMethod::Paper,
        typed_name: Some(form.typed_name.trim())
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .or_else(|| Some(person.to_owned())),
        signed_day: form.signed_day.trim().to_owned(),
        scan: Some(SignatureScan {
            blake3: stored.hash,
            name,
            size: stored.size,
            sha256,
        }),
    };
    Ok(gw.store.sign_commitment(&new, actor).await?)
}

/// The overview against the directory: for each template, who (of the people it
/// concerns) signed the current version, who did not (and which older version they
/// signed, if any); every signature; the departures without a leaving commitment.
pub struct Overview {
    pub templates: Vec<TemplateOverview>,
    pub departures: Vec<DepartureRow>,
    pub signatures: Vec<Signature>,
}

pub struct TemplateOverview {
    pub template: CommitmentTemplate,
    /// Everyone the template concerns, by department and name.
    pub rows: Vec<CommitmentRow>,
    /// Signatures of the current version by people not listed (or no longer concerned).
    pub others: Vec<Signature>,
}

impl TemplateOverview {
    pub fn signed(&self) -> usize {
        self.rows
            .iter()
            .filter(|r| r.signed_version == Some(r.current_version))
            .count()
    }
}

pub async fn compute_overview(gw: &Gateway) -> Result<Overview, ApiError> {
    let directory = gw.directory();
    let templates = gw.store.commitment_templates().await?;
    let signatures = gw.store.commitment_signatures().await?;
    let mut people: Vec<&Person> = directory.people().iter().collect();
    people.sort_by(|a, b| (&a.department, &a.name).cmp(&(&b.department, &b.name)));
    let mut out = Vec::new();
    for t in templates {
        let mut rows = Vec::new();
        for p in &people {
            if !concerns(&t, &p.groups, p.left.as_deref()) {
                continue;
            }
            let last = signatures
                .iter()
                .filter(|s| s.template_id == t.id && s.person == p.name)
                .max_by_key(|s| s.version);
            rows.push(CommitmentRow {
                department: p.department.clone(),
                person: p.name.clone(),
                title: t.title.clone(),
                kind: t.kind.zh().to_owned(),
                current_version: t.current.version,
                signed_version: last.map(|s| s.version),
                signed_day: last.map(|s| s.signed_day.clone()),
                method: last.map(|s| s.method.zh().to_owned()),
            });
        }
        let others = signatures
            .iter()
            .filter(|s| s.version_id == t.current.id)
            .filter(|s| !rows.iter().any(|r| r.person == s.person))
            .cloned()
            .collect();
        out.push(TemplateOverview {
            template: t,
            rows,
            others,
        });
    }
    let departures = people
        .iter()
        .filter_map(|p| p.left.as_ref().map(|l| (p, l)))
        .filter(|(p, _)| {
            !signatures
                .iter()
                .any(|s| s.kind == CommitmentKind::Leaving && s.person == p.name)
        })
        .map(|(p, l)| DepartureRow {
            department: p.department.clone(),
            person: p.name.clone(),
            left: l.clone(),
        })
        .collect();
    Ok(Overview {
        templates: out,
        departures,
        signatures,
    })
}

fn row_json(r: &CommitmentRow) -> Value {
    json!({
        "person": r.person,
        "department": r.department,
        "signed_version": r.signed_version,
        "signed_day": r.signed_day,
        "method": r.method,
    })
}

async fn list_templates(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let templates = state.gateway.store.commitment_templates().await?;
    Ok(Json(json!({ "templates": templates })))
}

#[derive(Deserialize)]
struct TemplateBody {
    kind: String,
    title: String,
    text: String,
    #[serde(default)]
    group: Option<String>,
}

fn kind_of(s: &str) -> Result<CommitmentKind, ApiError> {
    CommitmentKind::parse(s).ok_or_else(|| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("kind {s:?}: onboarding (上岗), classified (涉密岗位) or leaving (离岗)"),
        )
    })
}

async fn create_template(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Json(b): Json<TemplateBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let kind = kind_of(&b.kind)?;
    let t = state
        .gateway
        .store
        .create_commitment_template(kind, &b.title, b.group.as_deref(), &b.text, &who.actor)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(t))))
}

async fn get_template(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let (t, versions) = state.gateway.store.commitment_template(id).await?;
    Ok(Json(json!({ "template": t, "versions": versions })))
}

#[derive(Deserialize)]
struct VersionBody {
    text: String,
    #[serde(default)]
    note: Option<String>,
}

async fn new_version(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<i64>,
    Json(b): Json<VersionBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let v = state
        .gateway
        .store
        .new_commitment_version(id, &b.text, b.note.as_deref(), &who.actor)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(v))))
}

#[derive(Deserialize, Default)]
struct FormatParam {
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    format: Option<String>,
}

/// `GET /api/v1/commitments/overview?format=json|xlsx|csv`
async fn overview(
    State(state): State<ApiState>,
    Query(p): Query<FormatParam>,
) -> Result<Response, ApiError> {
    let format = p.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "xlsx" | "csv") {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("format {format:?}: json, xlsx or csv"),
        ));
    }
    let gw = &state.gateway;
    let o = compute_overview(gw).await?;
    let rows: Vec<CommitmentRow> = o.templates.iter().flat_map(|t| t.rows.clone()).collect();
    match format {
        "xlsx" => {
            let unit = Some(gw.config.records.unit.as_str());
            let bytes = baomi_records::commitments::to_xlsx(unit, &rows, &o.departures)
                .map_err(records_error)?;
            Ok(download(bytes, Format::Xlsx, "保密承诺书签署情况"))
        }
        "csv" => {
            let bytes = baomi_records::commitments::to_csv(&rows).map_err(records_error)?;
            Ok(download(bytes, Format::Csv, "保密承诺书签署情况"))
        }
        _ => {
            let templates: Vec<Value> = o
                .templates
                .iter()
                .map(|t| {
                    let (signed, unsigned): (Vec<_>, Vec<_>) = t
                        .rows
                        .iter()
                        .partition(|r| r.signed_version == Some(r.current_version));
                    json!({
                        "id": t.template.id,
                        "kind": t.template.kind,
                        "title": t.template.title,
                        "group": t.template.group,
                        "version": t.template.current.version,
                        "text_sha256": t.template.current.text_sha256,
                        "required": t.rows.len(),
                        "signed": signed.into_iter().map(row_json).collect::<Vec<_>>(),
                        "unsigned": unsigned.into_iter().map(row_json).collect::<Vec<_>>(),
                        "others": t.others,
                    })
                })
                .collect();
            let departures: Vec<Value> = o
                .departures
                .iter()
                .map(|d| json!({"person": d.person, "department": d.department, "left": d.left}))
                .collect();
            Ok(Json(json!({
                "templates": templates,
                "departures_without_leaving": departures,
                "signatures": o.signatures,
            }))
            .into_response())
        }
    }
}

/// Read the paper form: `version_id`, `person`, `department`, `signed_day`, `typed_name`
/// and the scan as `file`.
pub async fn read_paper(
    mut mp: Multipart,
) -> Result<(PaperForm, Option<(String, Blob)>), ApiError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError(StatusCode::BAD_REQUEST, e.body_text())
    };
    let mut form = PaperForm::default();
    let mut file = None;
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        match field.file_name().map(str::to_owned) {
            Some(file_name) if !file_name.is_empty() => {
                let blob = spool(field, 1 << 20).await?;
                if blob.len() > MAX_SCAN_BYTES {
                    return Err(ApiError(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("扫描件最大 {} MB", MAX_SCAN_BYTES >> 20),
                    ));
                }
                file = Some((file_name, blob));
            }
            Some(_) => {
                let _ = field.bytes().await.map_err(bad)?;
            }
            None => {
                let value = field.text().await.map_err(bad)?;
                match name.as_str() {
                    "version_id" => form.version_id = value,
                    "person" => form.person = value,
                    "department" => form.department = value,
                    "signed_day" => form.signed_day = value,
                    "typed_name" => form.typed_name = value,
                    _ => {}
                }
            }
        }
    }
    Ok((form, file))
}

/// `POST /api/v1/commitments/paper` (multipart).
async fn paper(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    req: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mp = Multipart::from_request(req, &state)
        .await
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let (form, file) = read_paper(mp).await?;
    let s = record_paper(&state.gateway, &form, file, &who.actor).await?;
    Ok((StatusCode::CREATED, Json(json!(s))))
}

/// The content type a scan is served with, by its name.
pub fn scan_type(name: &str) -> &'static str {
    match name
        .rsplit('.')
        .next()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("pdf") => "application/pdf",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// `GET /api/v1/commitments/signatures/{id}/scan`: the paper signature's scan, decrypted.
async fn scan(State(state): State<ApiState>, Path(id): Path<i64>) -> Result<Response, ApiError> {
    let s = state.gateway.store.commitment_signature(id).await?;
    let Some(scan) = s.scan else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("signature {id} was given in the console: it has no scan"),
        ));
    };
    let bytes = crate::reviews_api::read_vault(&state, scan.blake3.clone()).await?;
    Ok(crate::reviews_api::attachment(
        &scan.name,
        scan_type(&scan.name),
        bytes,
    ))
}

fn account_of(who: &Principal) -> Result<&Account, ApiError> {
    who.account.as_ref().ok_or_else(|| {
        ApiError(
            StatusCode::FORBIDDEN,
            "one's own commitments need an account".into(),
        )
    })
}

async fn mine(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        my_commitments(&state.gateway, account_of(&who)?).await?,
    ))
}

#[derive(Deserialize)]
struct SignBody {
    version_id: i64,
    typed_name: String,
}

async fn sign(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Json(b): Json<SignBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let account = account_of(&who)?;
    let s = sign_as(
        &state.gateway,
        account,
        b.version_id,
        &b.typed_name,
        &who.actor,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(json!(s))))
}
