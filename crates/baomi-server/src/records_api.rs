//! The records' REST endpoints: self-inspection runs sent by `baomi scan --report-to` (a
//! `scan` token suffices) and their evidence, campaigns and their coverage, the
//! self-inspection statistics table, violation clue reports, the carrier ledger. [`import_run`] is also what
//! `baomi campaign import` calls, so a run carried on a USB stick is recorded exactly like
//! one sent over the network.

use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use baomi_records::{Format, Member, Scope};
use baomi_scan::run::{Run, RunError};
use baomi_store::{
    CampaignEntry, CarrierState, ClueFields, ImportOutcome, NewCampaign, NewCarrier, NewRunFile,
    NewScanRun, Store,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiError, ApiState, spool};
use crate::authz::{Permission, Principal, Routes};
use crate::directory::Directory;
use crate::gateway::Gateway;

pub fn routes() -> Routes<ApiState> {
    Routes::new()
        .post("/api/v1/scan-runs", Permission::ReportRun, post_run)
        .post(
            "/api/v1/scan-evidence/{blake3}",
            Permission::ReportRun,
            post_evidence,
        )
        .get("/api/v1/scan-runs", Permission::Records, list_runs)
        .get("/api/v1/scan-runs/{run_id}", Permission::Records, get_run)
        .get("/api/v1/campaigns", Permission::Records, list_campaigns)
        .post("/api/v1/campaigns", Permission::Records, create_campaign)
        .get("/api/v1/campaigns/{id}", Permission::Records, get_campaign)
        .post(
            "/api/v1/campaigns/{id}/entries",
            Permission::Records,
            set_entry,
        )
        .get(
            "/api/v1/reports/self-inspection",
            Permission::Records,
            self_inspection,
        )
        .get("/api/v1/clue-reports", Permission::Records, list_clues)
        .post("/api/v1/clue-reports", Permission::Records, create_clue)
        .get("/api/v1/clue-reports/{id}", Permission::Records, get_clue)
        .post("/api/v1/clue-reports/{id}", Permission::Records, edit_clue)
        .post(
            "/api/v1/clue-reports/{id}/issue",
            Permission::Records,
            issue_clue,
        )
        .post(
            "/api/v1/clue-reports/{id}/correct",
            Permission::Records,
            correct_clue,
        )
        .get("/api/v1/carriers", Permission::Records, list_carriers)
        .post("/api/v1/carriers", Permission::Records, add_carrier)
        .post(
            "/api/v1/carriers/import",
            Permission::Records,
            import_carriers,
        )
        .get(
            "/api/v1/carriers/{number}",
            Permission::Records,
            get_carrier,
        )
        .post(
            "/api/v1/carriers/{number}/events",
            Permission::Records,
            carrier_event,
        )
        .post(
            "/api/v1/carriers/{number}/fingerprint",
            Permission::Records,
            carrier_fingerprint,
        )
}

/// The directory as the records need it.
pub fn members(directory: &Directory) -> Vec<Member> {
    directory
        .people()
        .iter()
        .map(|p| Member {
            name: p.name.clone(),
            department: p.department.clone(),
            machines: p.machines.clone(),
        })
        .collect()
}

/// Why a run cannot be recorded: the file itself (nothing imported) or the store.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(
        "the scan report's signature matches no active token: it was edited, or made with a token since revoked"
    )]
    BadSignature,
    #[error(transparent)]
    Store(#[from] baomi_store::StoreError),
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Store(s) => s.into(),
            e => ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
        }
    }
}

/// Record a checked run: its signature matched against the active tokens, the person and
/// department completed from the directory (by machine, then by name) when the scanning
/// machine did not say, then one transaction in the store.
pub async fn import_run(
    store: &Store,
    directory: &Directory,
    run: Run,
    via: &str,
    actor: &str,
) -> Result<ImportOutcome, ImportError> {
    let mut signed_by = None;
    if run.end.mac.is_some() {
        for (name, hash) in store.active_token_hashes().await? {
            if run.signed_by(&hash) {
                signed_by = Some(name);
                break;
            }
        }
        if signed_by.is_none() {
            return Err(ImportError::BadSignature);
        }
    }
    let h = run.header;
    let known = directory.machine_user(&h.machine).or_else(|| {
        h.person
            .as_deref()
            .and_then(|p| directory.people().iter().find(|x| x.name == p))
    });
    let person = h.person.clone().or_else(|| known.map(|p| p.name.clone()));
    let department = h
        .department
        .clone()
        .or_else(|| known.map(|p| p.department.clone()));
    let flagged = run
        .flagged
        .into_iter()
        .map(|f| NewRunFile {
            seq: f.seq as i64,
            path: f.path,
            file_type: f.true_type,
            size: f.size as i64,
            verdict: f.verdict.as_str().to_owned(),
            severity: f.severity,
            rules: f.rules,
            level: f.level.map(|l| l.as_str().to_owned()),
            findings: Value::Array(f.findings),
            errors: f.errors,
            alerts: f.alerts,
            blake3: f.blake3,
        })
        .collect();
    let new = NewScanRun {
        run_id: h.run_id,
        person,
        department,
        machine: h.machine,
        started_ms: h.started_ms,
        finished_ms: run.end.finished_ms,
        paths: h.paths,
        files: run.end.files as i64,
        errors: run.end.walk_errors as i64 + run.end.summary["errors"].as_i64().unwrap_or(0),
        summary: run.end.summary,
        exit_code: i64::from(run.end.exit_code),
        signed_by,
        via: via.to_owned(),
        digest: run.end.digest,
        flagged,
    };
    Ok(store.import_scan_run(new, actor).await?)
}

/// `POST /api/v1/scan-runs`: the run report as the body (JSON Lines).
async fn post_run(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    req: Request,
) -> Result<Json<ImportOutcome>, ApiError> {
    let gw = state.gateway.clone();
    let blob = spool(
        req.into_body().into_data_stream(),
        gw.config.icap.spool_threshold_bytes,
    )
    .await?;
    let run = tokio::task::spawn_blocking(move || -> Result<Run, ImportError> {
        let reader = blob.open().map_err(RunError::Io)?;
        Ok(Run::read(reader)?)
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    let outcome = import_run(&gw.store, &gw.directory(), run, "network", &who.actor).await?;
    Ok(Json(outcome))
}

/// `POST /api/v1/scan-evidence/{blake3}`: one blocking file's bytes, checked against the
/// hash in the path, stored in the encrypted vault; the run that names the hash links it.
async fn post_evidence(
    State(state): State<ApiState>,
    Path(expected): Path<String>,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "the path must end in the file's BLAKE3 (64 hex digits)".into(),
        ));
    }
    let expected = expected.to_ascii_lowercase();
    let gw: &Gateway = &state.gateway;
    let blob = spool(
        req.into_body().into_data_stream(),
        gw.config.icap.spool_threshold_bytes,
    )
    .await?;
    if blob.len() > gw.config.gateway.evidence_max_bytes {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "larger than the evidence limit ({} bytes)",
                gw.config.gateway.evidence_max_bytes
            ),
        ));
    }
    let vault = gw.vault.clone();
    let (hash, evidence) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut hasher = blake3::Hasher::new();
        hasher.update_reader(blob.open()?)?;
        let hash = hasher.finalize().to_hex().to_string();
        let mut reader = blob.open()?;
        Ok((hash, vault.put(&mut reader)?))
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    if hash != expected {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the body's BLAKE3 is {hash}, not the one in the path"),
        ));
    }
    gw.store.put_scan_evidence(&hash, &evidence).await?;
    Ok(Json(json!({"blake3": hash, "size": evidence.size})))
}

#[derive(Deserialize, Default)]
struct PeriodParams {
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    from: Option<String>,
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    to: Option<String>,
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    campaign: Option<String>,
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    format: Option<String>,
}

/// `[from, to)` in ms from day parameters, defaulting to the last 30 days.
fn period(p: &PeriodParams) -> Result<(i64, i64), ApiError> {
    let to = match &p.to {
        Some(d) => crate::api::parse_day(d, true)
            .ok_or_else(|| ApiError(StatusCode::BAD_REQUEST, format!("bad date {d:?}")))?,
        None => baomi_store::now_ms() + 1,
    };
    let from = match &p.from {
        Some(d) => crate::api::parse_day(d, false)
            .ok_or_else(|| ApiError(StatusCode::BAD_REQUEST, format!("bad date {d:?}")))?,
        None => to - 30 * 86_400_000,
    };
    Ok((from, to))
}

async fn list_runs(
    State(state): State<ApiState>,
    Query(p): Query<PeriodParams>,
) -> Result<Json<Value>, ApiError> {
    let (from, to) = period(&p)?;
    let runs = state.gateway.store.scan_runs(from, to).await?;
    Ok(Json(json!({ "runs": runs })))
}

async fn get_run(
    State(state): State<ApiState>,
    Path(run_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (run, files) = state.gateway.store.scan_run(&run_id).await?;
    Ok(Json(json!({ "run": run, "files": files })))
}

async fn list_campaigns(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({ "campaigns": state.gateway.store.campaigns().await? }),
    ))
}

async fn create_campaign(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Json(new): Json<NewCampaign>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let c = state
        .gateway
        .store
        .create_campaign(&new, &who.actor)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(c))))
}

/// A campaign with its coverage and entered figures.
async fn get_campaign(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let gw = &state.gateway;
    let cov = baomi_records::coverage::coverage(&gw.store, &id, &members(&gw.directory()))
        .await
        .map_err(records_error)?;
    let entries = gw.store.campaign_entries(cov.campaign.id).await?;
    Ok(Json(json!({ "coverage": cov, "entries": entries })))
}

async fn set_entry(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Json(entry): Json<CampaignEntry>,
) -> Result<StatusCode, ApiError> {
    let store = &state.gateway.store;
    let c = store.campaign(&id).await?;
    store.set_campaign_entry(c.id, &entry, &who.actor).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn records_error(e: baomi_records::Error) -> ApiError {
    match e {
        baomi_records::Error::Store(s) => s.into(),
        baomi_records::Error::Invalid(m) => ApiError(StatusCode::BAD_REQUEST, m),
        e => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// A record as a download: `Content-Disposition` with the Chinese file name (RFC 5987).
pub fn download(bytes: Vec<u8>, format: Format, name: &str) -> Response {
    let file = format!("{name}.{}", format.extension());
    crate::reviews_api::attachment(&file, format.content_type(), bytes)
}

/// `GET /api/v1/reports/self-inspection?campaign=…|from=…&to=…&format=json|csv|xlsx|pdf`
async fn self_inspection(
    State(state): State<ApiState>,
    Query(p): Query<PeriodParams>,
) -> Result<Response, ApiError> {
    let gw = &state.gateway;
    let scope = scope_of(&p)?;
    let table = baomi_records::self_inspection(&gw.store, &scope, &members(&gw.directory()))
        .await
        .map_err(records_error)?;
    let format = p.format.as_deref().unwrap_or("json");
    if format == "json" {
        return Ok(Json(json!(table)).into_response());
    }
    let f = Format::parse(format).ok_or_else(|| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("format {format:?}: json, csv, xlsx or pdf"),
        )
    })?;
    let bytes = tokio::task::spawn_blocking(move || baomi_records::render_table(&table, f))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(records_error)?;
    Ok(download(bytes, f, "自查自纠情况统计表"))
}

fn scope_of(p: &PeriodParams) -> Result<Scope, ApiError> {
    scope_from(p.campaign.as_deref(), p.from.as_deref(), p.to.as_deref())
}

/// A campaign when named, else the period (default: this month so far).
pub fn scope_from(
    campaign: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Scope, ApiError> {
    if let Some(c) = campaign.filter(|c| !c.is_empty()) {
        return Ok(Scope::Campaign(c.to_owned()));
    }
    let today = baomi_store::local_date(baomi_store::now_ms());
    let to = to
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .unwrap_or(today.clone());
    let from = from
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}-01", &today[..7]));
    Ok(Scope::Period {
        from_day: from,
        to_day: to,
    })
}

async fn list_clues(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({ "clue_reports": state.gateway.store.clue_reports().await? }),
    ))
}

#[derive(Deserialize)]
struct NewClue {
    /// Incidents to propose the draft from.
    #[serde(default)]
    incidents: Vec<String>,
    /// 报送单位; default `[records] unit` of baomi.toml.
    reporting_unit: Option<String>,
    /// Fields to use instead of the proposal.
    #[serde(default)]
    fields: Option<ClueFields>,
}

/// Propose a clue report's fields from incidents (checked to exist).
pub async fn propose_clue(
    gw: &Gateway,
    numbers: &[String],
    reporting_unit: Option<&str>,
) -> Result<ClueFields, ApiError> {
    let mut incidents = Vec::new();
    for n in numbers {
        match gw.store.incident(n).await {
            Ok(i) => incidents.push(i),
            Err(baomi_store::StoreError::NotFound(_)) => {
                return Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    format!("unknown incident {n}"),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let unit = reporting_unit
        .map(str::to_owned)
        .unwrap_or_else(|| gw.config.records.unit.clone());
    Ok(baomi_records::clue::propose(&incidents, &unit))
}

async fn create_clue(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Json(new): Json<NewClue>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let gw = &state.gateway;
    let fields = match new.fields {
        Some(f) => f,
        None => propose_clue(gw, &new.incidents, new.reporting_unit.as_deref()).await?,
    };
    let r = gw.store.create_clue_report(&fields, &who.actor).await?;
    Ok((StatusCode::CREATED, Json(json!(r))))
}

fn clue_id(s: &str) -> Result<i64, ApiError> {
    s.parse()
        .map_err(|_| ApiError(StatusCode::NOT_FOUND, format!("no clue report {s:?}")))
}

#[derive(Deserialize, Default)]
struct FormatParam {
    format: Option<String>,
}

/// `GET /api/v1/clue-reports/{id}[?format=docx|pdf]`
async fn get_clue(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(p): Query<FormatParam>,
) -> Result<Response, ApiError> {
    let r = state.gateway.store.clue_report(clue_id(&id)?).await?;
    let format = p.format.as_deref().unwrap_or("json");
    let bytes = match format {
        "json" => return Ok(Json(json!(r)).into_response()),
        "docx" => baomi_records::docx::clue_report(&r).map_err(records_error)?,
        "pdf" => {
            let r2 = r.clone();
            tokio::task::spawn_blocking(move || baomi_records::pdf::clue_report(&r2))
                .await
                .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
                .map_err(records_error)?
        }
        other => {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                format!("format {other:?}: json, docx or pdf"),
            ));
        }
    };
    let f = Format::parse(format).unwrap_or(Format::Pdf);
    Ok(download(
        bytes,
        f,
        &format!("违规问题线索和存在隐患报告表-{}-v{}", r.number, r.version),
    ))
}

async fn edit_clue(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Json(fields): Json<ClueFields>,
) -> Result<Json<Value>, ApiError> {
    let r = state
        .gateway
        .store
        .update_clue_report(clue_id(&id)?, &fields, &who.actor)
        .await?;
    Ok(Json(json!(r)))
}

async fn issue_clue(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let r = state
        .gateway
        .store
        .issue_clue_report(clue_id(&id)?, &who.actor)
        .await?;
    Ok(Json(json!(r)))
}

async fn correct_clue(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let r = state
        .gateway
        .store
        .correct_clue_report(clue_id(&id)?, &who.actor)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(r))))
}

/// `GET /api/v1/carriers[?format=xlsx]`: the ledger.
async fn list_carriers(
    State(state): State<ApiState>,
    Query(p): Query<FormatParam>,
) -> Result<Response, ApiError> {
    let store = &state.gateway.store;
    let carriers = store.carriers().await?;
    match p.format.as_deref().unwrap_or("json") {
        "json" => Ok(Json(json!({ "carriers": carriers })).into_response()),
        "xlsx" => {
            let rows: Vec<_> = carriers.into_iter().map(|c| (c, None)).collect();
            let bytes = baomi_records::ledger::export_xlsx(&rows).map_err(records_error)?;
            Ok(download(bytes, Format::Xlsx, "涉密载体台账"))
        }
        other => Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("format {other:?}: json or xlsx"),
        )),
    }
}

async fn add_carrier(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Json(new): Json<NewCarrier>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let c = state
        .gateway
        .store
        .register_carrier(&new, CarrierState::Registered, &who.actor)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(c))))
}

/// Load an office's ledger table (XLSX body): every row checked first, and against the
/// numbers already in the ledger; nothing is recorded when anything is wrong.
pub async fn import_ledger(store: &Store, bytes: &[u8], actor: &str) -> Result<usize, ApiError> {
    let rows = baomi_records::ledger::import_xlsx(bytes).map_err(records_error)?;
    let existing: std::collections::HashSet<String> = store
        .carriers()
        .await?
        .into_iter()
        .map(|c| c.fields.number)
        .collect();
    let taken: Vec<&str> = rows
        .iter()
        .filter(|(c, _)| existing.contains(c.number.trim()))
        .map(|(c, _)| c.number.as_str())
        .collect();
    if !taken.is_empty() {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!("already in the ledger: {}", taken.join(", ")),
        ));
    }
    for (c, state) in &rows {
        store.register_carrier(c, *state, actor).await?;
    }
    Ok(rows.len())
}

async fn import_carriers(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let n = import_ledger(&state.gateway.store, &body, &who.actor).await?;
    Ok(Json(json!({ "imported": n })))
}

async fn get_carrier(
    State(state): State<ApiState>,
    Path(number): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (c, events) = state.gateway.store.carrier(&number).await?;
    Ok(Json(json!({ "carrier": c, "events": events })))
}

#[derive(Deserialize)]
struct EventBody {
    /// `issued`, `returned`, `destroyed` or `archived`.
    event: String,
    holder: Option<String>,
    witness: Option<String>,
    note: Option<String>,
}

async fn carrier_event(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(number): Path<String>,
    Json(b): Json<EventBody>,
) -> Result<Json<Value>, ApiError> {
    let to = CarrierState::parse(&b.event).ok_or_else(|| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!(
                "event {:?}: issued, returned, destroyed or archived",
                b.event
            ),
        )
    })?;
    let recorder = who.names();
    let c = state
        .gateway
        .store
        .carrier_event(
            &number,
            to,
            b.holder.as_deref(),
            b.witness.as_deref(),
            b.note.as_deref(),
            &recorder,
            &who.actor,
        )
        .await?;
    Ok(Json(json!(c)))
}

#[derive(Deserialize, Default)]
struct NameParam {
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    name: Option<String>,
}

/// `POST /api/v1/carriers/{number}/fingerprint?name=FILE`: the document's file as the body,
/// registered in the fingerprint registry at the ledger's level and title, and linked.
async fn carrier_fingerprint(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(number): Path<String>,
    Query(p): Query<NameParam>,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let gw = state.gateway.clone();
    gw.store.carrier(&number).await?;
    let blob = spool(
        req.into_body().into_data_stream(),
        gw.config.icap.spool_threshold_bytes,
    )
    .await?;
    let id = register_carrier_document(&gw, &number, blob, p.name, &who.actor).await?;
    Ok(Json(json!({ "fingerprint_id": id })))
}

/// Register a document carrier's file in the fingerprint registry, at the ledger's level
/// and under its title, and link the two (the API and the console's upload alike).
pub async fn register_carrier_document(
    gw: &Gateway,
    number: &str,
    blob: baomi_extract::Blob,
    name: Option<String>,
    actor: &str,
) -> Result<String, ApiError> {
    let (c, _) = gw.store.carrier(number).await?;
    if blob.is_empty() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "send the document's file as the body".into(),
        ));
    }
    let name = name.unwrap_or_else(|| c.fields.name.clone());
    let level = baomi_core::Level::parse(&c.fields.level);
    let engine = gw.engine();
    let (file, title) = (name.clone(), c.fields.name.clone());
    let r = tokio::task::spawn_blocking(move || {
        baomi_engine::register::register(&engine, blob, &file, level, Some(&title), None)
    })
    .await
    .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let entry = baomi_store::RegistryEntry {
        meta: baomi_store::RegistryMeta {
            id: r.id.clone(),
            title: r.title,
            level: r.level.as_str().into(),
            source_name: name,
            chars: i64::from(r.doc.chars),
            added_ms: baomi_store::now_ms(),
        },
        data: r.doc.to_bytes(),
    };
    gw.store.registry_put(&entry, actor).await?;
    gw.store
        .set_carrier_fingerprint(number, &r.id, actor)
        .await?;
    Ok(r.id)
}
