//! The security officer's records: self-inspection campaigns and their coverage, the
//! 自查自纠情况统计表 (shown, and downloaded as CSV/XLSX/PDF through the API route), and
//! violation clue reports — drafted from incidents, edited, issued (then frozen), corrected
//! as a new version.

use std::collections::BTreeMap;

use askama::Template;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use baomi_server::api::ApiState;
use baomi_server::authz::Principal;
use baomi_server::records_api::{members, propose_clue, records_error, scope_from};
use baomi_store::{
    CampaignEntry, ClueCategory, ClueFields, ClueReport, ClueState, NewCampaign, StoreError,
};
use serde::Deserialize;

use super::{
    Chrome, PageError, PageResult, back_to, back_with_error, path_encode, url_encode, when,
};

fn api_error(e: baomi_server::api::ApiError) -> PageError {
    PageError(e.0, e.1)
}

#[derive(Deserialize, Default)]
pub struct Flash {
    done: Option<String>,
    error: Option<String>,
}

pub struct CampaignRow {
    pub id: i64,
    pub name: String,
    pub period: String,
    pub scope: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "campaigns.html")]
struct CampaignsPage {
    c: Chrome,
    rows: Vec<CampaignRow>,
    today: String,
    month_start: String,
}

fn scope_words(c: &Chrome, departments: &[String]) -> String {
    if departments.is_empty() {
        c.t.t("camp.all_departments").to_owned()
    } else {
        departments.join("、")
    }
}

pub async fn campaigns(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(f): Query<Flash>,
) -> PageResult {
    let c = Chrome::new(&state, &p, &headers, "nav.campaigns", "/campaigns")
        .flash_from(f.done.as_deref(), f.error.as_deref());
    let rows = state
        .gateway
        .store
        .campaigns()
        .await?
        .into_iter()
        .map(|x| CampaignRow {
            id: x.id,
            period: format!("{} — {}", x.from_day, x.to_day),
            scope: scope_words(&c, &x.departments),
            name: x.name,
            created: when(x.created_ms),
        })
        .collect();
    let today = baomi_store::local_date(baomi_store::now_ms());
    let month_start = format!("{}-01", &today[..7]);
    Ok(crate::render(&CampaignsPage {
        c,
        rows,
        today,
        month_start,
    }))
}

#[derive(Deserialize)]
pub struct NewCampaignForm {
    name: String,
    from: String,
    to: String,
    #[serde(default)]
    departments: String,
    #[serde(default)]
    note: String,
}

/// Departments typed as a list: one per line, or separated by commas or 、.
fn split_list(s: &str) -> Vec<String> {
    s.split(['\n', ',', '，', '、', ';', '；'])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
        .collect()
}

pub async fn create_campaign(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<NewCampaignForm>,
) -> PageResult {
    let new = NewCampaign {
        name: f.name,
        from_day: f.from,
        to_day: f.to,
        departments: split_list(&f.departments),
        note: Some(f.note).filter(|n| !n.trim().is_empty()),
    };
    match state.gateway.store.create_campaign(&new, &p.actor).await {
        Ok(c) => Ok(back_to(&format!("/campaigns/{}", c.id), "camp.created")),
        Err(StoreError::Invalid(e)) => Ok(back_with_error("/campaigns", &e)),
        Err(e) => Err(e.into()),
    }
}

pub struct ReporterRow {
    pub person: String,
    pub machines: String,
    pub files: i64,
    pub alerting: i64,
    pub last: String,
}

pub struct DepartmentRow {
    pub department: String,
    pub expected: u64,
    pub reported: Vec<ReporterRow>,
    pub missing: String,
    pub missing_machines: String,
    pub files: i64,
    pub alerting: i64,
    pub chat_groups: i64,
    pub mini_programs: i64,
    pub measures: String,
}

pub struct RunRow {
    pub run_id: String,
    pub short_id: String,
    pub person: String,
    pub department: String,
    pub machine: String,
    pub finished: String,
    pub files: i64,
    pub alerting: i64,
    pub via: String,
    pub signed: String,
}

#[derive(Template)]
#[template(path = "campaign.html")]
struct CampaignPage {
    c: Chrome,
    id: i64,
    name: String,
    period: String,
    scope: String,
    note: String,
    people_reported: u64,
    people_expected: u64,
    departments: Vec<DepartmentRow>,
    runs: Vec<RunRow>,
    download: String,
}

pub async fn campaign(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(f): Query<Flash>,
) -> PageResult {
    let gw = &state.gateway;
    let c = Chrome::new(&state, &p, &headers, "nav.campaigns", "/campaigns")
        .flash_from(f.done.as_deref(), f.error.as_deref());
    let cov = baomi_records::coverage::coverage(&gw.store, &id, &members(&gw.directory()))
        .await
        .map_err(|e| api_error(records_error(e)))?;
    let entries: BTreeMap<String, CampaignEntry> = gw
        .store
        .campaign_entries(cov.campaign.id)
        .await?
        .into_iter()
        .map(|e| (e.department.clone(), e))
        .collect();
    let none = c.t.t("common.none").to_owned();
    let departments = cov
        .departments
        .iter()
        .map(|d| {
            let e = entries.get(&d.department).cloned().unwrap_or_default();
            DepartmentRow {
                department: d.department.clone(),
                expected: d.expected,
                reported: d
                    .reported
                    .iter()
                    .map(|r| ReporterRow {
                        person: r.person.clone(),
                        machines: r.machines.join("、"),
                        files: r.files,
                        alerting: r.alerting,
                        last: when(r.last_ms),
                    })
                    .collect(),
                missing: if d.missing.is_empty() {
                    none.clone()
                } else {
                    d.missing.join("、")
                },
                missing_machines: d.missing_machines.join("、"),
                files: d.files,
                alerting: d.alerting,
                chat_groups: e.chat_groups,
                mini_programs: e.mini_programs,
                measures: e.measures.unwrap_or_default(),
            }
        })
        .collect();
    let runs = cov
        .runs
        .iter()
        .map(|r| RunRow {
            short_id: r.run_id.chars().take(12).collect(),
            run_id: r.run_id.clone(),
            person: r.person.clone().unwrap_or_default(),
            department: r.department.clone().unwrap_or_default(),
            machine: r.machine.clone(),
            finished: when(r.finished_ms),
            files: r.files,
            alerting: r.alerting,
            via: c
                .t
                .t(if r.via == "import" {
                    "camp.via_import"
                } else {
                    "camp.via_network"
                })
                .to_owned(),
            signed: r
                .signed_by
                .clone()
                .unwrap_or_else(|| c.t.t("camp.unsigned").to_owned()),
        })
        .collect();
    let k = &cov.campaign;
    Ok(crate::render(&CampaignPage {
        id: k.id,
        name: k.name.clone(),
        period: format!("{} — {}", k.from_day, k.to_day),
        scope: scope_words(&c, &k.departments),
        note: k.note.clone().unwrap_or_default(),
        people_reported: cov.people_reported,
        people_expected: cov.people_expected,
        departments,
        runs,
        download: format!("/api/v1/reports/self-inspection?campaign={}", k.id),
        c,
    }))
}

#[derive(Deserialize)]
pub struct EntryForm {
    department: String,
    #[serde(default)]
    chat_groups: String,
    #[serde(default)]
    mini_programs: String,
    #[serde(default)]
    measures: String,
}

pub async fn set_entry(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    Form(f): Form<EntryForm>,
) -> PageResult {
    let page = format!("/campaigns/{id}");
    let count = |s: &str| -> Option<i64> {
        let s = s.trim();
        if s.is_empty() {
            Some(0)
        } else {
            s.parse().ok()
        }
    };
    let (Some(chat_groups), Some(mini_programs)) = (count(&f.chat_groups), count(&f.mini_programs))
    else {
        return Ok(back_with_error(&page, "camp.bad_count"));
    };
    let entry = CampaignEntry {
        department: f.department,
        chat_groups,
        mini_programs,
        measures: Some(f.measures),
    };
    match state
        .gateway
        .store
        .set_campaign_entry(id, &entry, &p.actor)
        .await
    {
        Ok(()) => Ok(back_to(&page, "common.saved")),
        Err(StoreError::Invalid(e)) => Ok(back_with_error(&page, &e)),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
pub struct TableQuery {
    campaign: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "self_inspection.html")]
struct TablePage {
    c: Chrome,
    title: String,
    subtitle: String,
    campaigns: Vec<Choice>,
    from: String,
    to: String,
    rows: Vec<[String; 11]>,
    total: [String; 11],
    query: String,
}

pub async fn self_inspection(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(q): Query<TableQuery>,
) -> PageResult {
    let gw = &state.gateway;
    let c = Chrome::new(
        &state,
        &p,
        &headers,
        "nav.statistics",
        "/reports/self-inspection",
    );
    let scope =
        scope_from(q.campaign.as_deref(), q.from.as_deref(), q.to.as_deref()).map_err(api_error)?;
    let table = baomi_records::self_inspection(&gw.store, &scope, &members(&gw.directory()))
        .await
        .map_err(|e| api_error(records_error(e)))?;
    let chosen = q.campaign.clone().unwrap_or_default();
    let campaigns = gw
        .store
        .campaigns()
        .await?
        .into_iter()
        .map(|k| Choice {
            selected: chosen == k.id.to_string() || chosen == k.name,
            value: k.id.to_string(),
            label: format!("{}（{} — {}）", k.name, k.from_day, k.to_day),
        })
        .collect();
    let query = match &scope {
        baomi_records::Scope::Campaign(k) => format!("campaign={}", url_encode(k)),
        baomi_records::Scope::Period { from_day, to_day } => {
            format!("from={from_day}&to={to_day}")
        }
    };
    Ok(crate::render(&TablePage {
        title: table.title(),
        subtitle: table.subtitle(),
        campaigns,
        from: table.from_day.clone(),
        to: table.to_day.clone(),
        rows: table.rows.iter().map(|r| r.cells()).collect(),
        total: table.total.cells(),
        query,
        c,
    }))
}

pub struct ClueRow {
    pub id: i64,
    pub number: String,
    pub version: i64,
    pub state: &'static str,
    pub state_key: &'static str,
    pub occurring_unit: String,
    pub category: &'static str,
    pub incidents: usize,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "clues.html")]
struct CluesPage {
    c: Chrome,
    rows: Vec<ClueRow>,
}

fn state_key(s: ClueState) -> &'static str {
    match s {
        ClueState::Draft => "draft",
        ClueState::Issued => "issued",
        ClueState::Superseded => "superseded",
    }
}

pub async fn clues(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(f): Query<Flash>,
) -> PageResult {
    let c = Chrome::new(&state, &p, &headers, "nav.clues", "/clues")
        .flash_from(f.done.as_deref(), f.error.as_deref());
    let rows = state
        .gateway
        .store
        .clue_reports()
        .await?
        .into_iter()
        .map(|r| ClueRow {
            id: r.id,
            number: r.number,
            version: r.version,
            state: r.state.zh(),
            state_key: state_key(r.state),
            occurring_unit: r.fields.occurring_unit,
            category: r.fields.category.zh(),
            incidents: r.fields.incidents.len(),
            updated: when(r.issued_ms.unwrap_or(r.updated_ms)),
        })
        .collect();
    Ok(crate::render(&CluesPage { c, rows }))
}

/// `POST /clues` with `n=BM-…` (from the queue's selection or an incident's page): a draft
/// proposed from those incidents.
pub async fn create_clue(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> PageResult {
    let numbers: Vec<String> = form_urlencoded::parse(&body)
        .filter(|(k, _)| k == "n")
        .map(|(_, v)| v.into_owned())
        .collect();
    if numbers.is_empty() {
        return Ok(back_with_error("/incidents", "clue.no_incidents"));
    }
    let gw = &state.gateway;
    let fields = propose_clue(gw, &numbers, None).await.map_err(api_error)?;
    let r = gw.store.create_clue_report(&fields, &p.actor).await?;
    Ok(back_to(&format!("/clues/{}", r.id), "clue.drafted"))
}

pub struct CategoryOption {
    pub value: &'static str,
    pub label: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "clue.html")]
struct CluePage {
    c: Chrome,
    r: ClueReport,
    draft: bool,
    issued: bool,
    state: &'static str,
    state_key: &'static str,
    categories: Vec<CategoryOption>,
    category_line: String,
    incidents: String,
    footer: Vec<String>,
}

pub async fn clue(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(f): Query<Flash>,
) -> PageResult {
    let c = Chrome::new(&state, &p, &headers, "nav.clues", "/clues")
        .flash_from(f.done.as_deref(), f.error.as_deref());
    let r = state.gateway.store.clue_report(id).await?;
    let categories = ClueCategory::ALL
        .iter()
        .map(|k| CategoryOption {
            value: k.as_str(),
            label: k.zh(),
            selected: *k == r.fields.category,
        })
        .collect();
    Ok(crate::render(&CluePage {
        draft: r.state == ClueState::Draft,
        issued: r.state == ClueState::Issued,
        state: r.state.zh(),
        state_key: state_key(r.state),
        categories,
        category_line: baomi_records::docx::category_line(r.fields.category),
        incidents: r.fields.incidents.join("\n"),
        footer: baomi_records::docx::footer_lines(&r),
        r,
        c,
    }))
}

#[derive(Deserialize)]
pub struct ClueForm {
    reporting_unit: String,
    occurring_unit: String,
    category: String,
    documents: String,
    facts: String,
    remedy: String,
    incidents: String,
}

pub async fn save_clue(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    Form(f): Form<ClueForm>,
) -> PageResult {
    let page = format!("/clues/{id}");
    let Some(category) = ClueCategory::parse(&f.category) else {
        return Ok(back_with_error(&page, "error.400"));
    };
    let fields = ClueFields {
        reporting_unit: f.reporting_unit.trim().to_owned(),
        occurring_unit: f.occurring_unit.trim().to_owned(),
        category,
        documents: f.documents.replace("\r\n", "\n"),
        facts: f.facts.replace("\r\n", "\n"),
        remedy: f.remedy.replace("\r\n", "\n"),
        incidents: split_list(&f.incidents),
    };
    match state
        .gateway
        .store
        .update_clue_report(id, &fields, &p.actor)
        .await
    {
        Ok(_) => Ok(back_to(&page, "common.saved")),
        Err(StoreError::Invalid(e) | StoreError::Conflict(e)) => Ok(back_with_error(&page, &e)),
        Err(e) => Err(e.into()),
    }
}

pub async fn issue_clue(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> PageResult {
    let page = format!("/clues/{id}");
    match state.gateway.store.issue_clue_report(id, &p.actor).await {
        Ok(_) => Ok(back_to(&page, "clue.issued_done")),
        Err(StoreError::Invalid(e) | StoreError::Conflict(e)) => Ok(back_with_error(&page, &e)),
        Err(e) => Err(e.into()),
    }
}

pub async fn correct_clue(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> PageResult {
    match state.gateway.store.correct_clue_report(id, &p.actor).await {
        Ok(r) => Ok(back_to(
            &format!("/clues/{}", r.id),
            "clue.correction_started",
        )),
        Err(StoreError::Conflict(e)) => Ok(back_with_error(&format!("/clues/{id}"), &e)),
        Err(e) => Err(e.into()),
    }
}

pub struct CarrierRow {
    pub number: String,
    pub kind: &'static str,
    pub name: String,
    pub serial: String,
    pub level: String,
    pub responsible: String,
    pub department: String,
    pub state: &'static str,
    pub state_key: &'static str,
    pub fingerprint: bool,
}

fn level_words(level: &str) -> String {
    baomi_core::Level::parse(level).map_or(level.to_owned(), |l| l.zh().to_owned())
}

fn carrier_row(c: &baomi_store::Carrier) -> CarrierRow {
    let f = &c.fields;
    CarrierRow {
        number: f.number.clone(),
        kind: f.kind.zh(),
        name: f.name.clone(),
        serial: f.serial.clone().unwrap_or_default(),
        level: level_words(&f.level),
        responsible: f.responsible.clone(),
        department: f.department.clone().unwrap_or_default(),
        state: c.state.zh(),
        state_key: c.state.as_str(),
        fingerprint: c.fingerprint_id.is_some(),
    }
}

pub struct KindChoice {
    pub value: &'static str,
    pub label: &'static str,
}

#[derive(Template)]
#[template(path = "ledger.html")]
struct LedgerPage {
    c: Chrome,
    rows: Vec<CarrierRow>,
    kinds: Vec<KindChoice>,
}

pub async fn ledger(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(f): Query<Flash>,
) -> PageResult {
    let c = Chrome::new(&state, &p, &headers, "nav.ledger", "/ledger")
        .flash_from(f.done.as_deref(), f.error.as_deref());
    let rows = state
        .gateway
        .store
        .carriers()
        .await?
        .iter()
        .map(carrier_row)
        .collect();
    let kinds = baomi_store::CarrierKind::ALL
        .iter()
        .map(|k| KindChoice {
            value: k.as_str(),
            label: k.zh(),
        })
        .collect();
    Ok(crate::render(&LedgerPage { c, rows, kinds }))
}

#[derive(Deserialize)]
pub struct CarrierForm {
    number: String,
    kind: String,
    name: String,
    #[serde(default)]
    serial: String,
    level: String,
    #[serde(default)]
    copies: String,
    #[serde(default)]
    source: String,
    responsible: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    since_day: String,
}

pub async fn add_carrier(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<CarrierForm>,
) -> PageResult {
    let Some(kind) = baomi_store::CarrierKind::parse(&f.kind) else {
        return Ok(back_with_error("/ledger", "error.400"));
    };
    let opt = |s: String| Some(s).filter(|s| !s.trim().is_empty());
    let new = baomi_store::NewCarrier {
        number: f.number,
        kind,
        name: f.name,
        serial: opt(f.serial),
        level: f.level,
        copies: opt(f.copies),
        source: opt(f.source),
        responsible: f.responsible,
        department: opt(f.department),
        since_day: opt(f.since_day),
    };
    match state
        .gateway
        .store
        .register_carrier(&new, baomi_store::CarrierState::Registered, &p.actor)
        .await
    {
        Ok(c) => Ok(back_to(
            &format!("/ledger/{}", path_encode(&c.fields.number)),
            "common.saved",
        )),
        Err(StoreError::Invalid(e) | StoreError::Conflict(e)) => Ok(back_with_error("/ledger", &e)),
        Err(e) => Err(e.into()),
    }
}

pub async fn import_ledger(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    mp: axum::extract::Multipart,
) -> PageResult {
    let t = Chrome::new(&state, &p, &headers, "nav.ledger", "/ledger").t;
    let (file, _) = super::policy::upload(mp, 64 << 20).await?;
    let Some((_, blob)) = file else {
        return Ok(back_with_error("/ledger", "policy.no_file"));
    };
    let bytes = blob
        .bytes()
        .map_err(|e| PageError(axum::http::StatusCode::BAD_REQUEST, e.to_string()))?;
    match baomi_server::records_api::import_ledger(&state.gateway.store, &bytes, &p.actor).await {
        Ok(n) => Ok(back_to(
            "/ledger",
            &format!("{} {n}", t.t("ledger.imported")),
        )),
        Err(e) => Ok(back_with_error("/ledger", &e.1)),
    }
}

/// `POST /ledger/{number}/fingerprint`: the document's file, into the fingerprint registry.
pub async fn carrier_fingerprint(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(number): Path<String>,
    mp: axum::extract::Multipart,
) -> PageResult {
    let page = format!("/ledger/{}", path_encode(&number));
    let max = state.gateway.engine().limits().max_expanded_bytes;
    let (file, _) = super::policy::upload(mp, max).await?;
    let Some((name, blob)) = file else {
        return Ok(back_with_error(&page, "policy.no_file"));
    };
    match baomi_server::records_api::register_carrier_document(
        &state.gateway,
        &number,
        blob,
        Some(name),
        &p.actor,
    )
    .await
    {
        Ok(_) => Ok(back_to(&page, "ledger.fp_done")),
        Err(e) if e.0.is_client_error() => Ok(back_with_error(&page, &e.1)),
        Err(e) => Err(api_error(e)),
    }
}

pub struct EventRow {
    pub event: &'static str,
    pub time: String,
    pub actor: String,
    pub holder: String,
    pub witness: String,
    pub note: String,
}

pub struct EventChoice {
    pub value: &'static str,
    pub label: &'static str,
}

#[derive(Template)]
#[template(path = "carrier.html")]
struct CarrierPage {
    c: Chrome,
    k: CarrierRow,
    copies: String,
    source: String,
    since: String,
    fingerprint_id: String,
    document: bool,
    events: Vec<EventRow>,
    next: Vec<EventChoice>,
    path: String,
}

pub async fn carrier(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Path(number): Path<String>,
    Query(f): Query<Flash>,
) -> PageResult {
    let c = Chrome::new(&state, &p, &headers, "nav.ledger", "/ledger")
        .flash_from(f.done.as_deref(), f.error.as_deref());
    let (k, events) = state.gateway.store.carrier(&number).await?;
    let next = baomi_store::CarrierState::ALL
        .iter()
        .filter(|s| k.state.can_become(**s))
        .map(|s| EventChoice {
            value: s.as_str(),
            label: s.event_zh(),
        })
        .collect();
    let events = events
        .into_iter()
        .map(|e| EventRow {
            event: e.event.event_zh(),
            time: when(e.ts_ms),
            actor: e.actor,
            holder: e.holder.unwrap_or_default(),
            witness: e.witness.unwrap_or_default(),
            note: e.note.unwrap_or_default(),
        })
        .collect();
    Ok(crate::render(&CarrierPage {
        copies: k.fields.copies.clone().unwrap_or_default(),
        source: k.fields.source.clone().unwrap_or_default(),
        since: k.fields.since_day.clone().unwrap_or_default(),
        fingerprint_id: k.fingerprint_id.clone().unwrap_or_default(),
        document: k.fields.kind == baomi_store::CarrierKind::Document,
        path: format!("/ledger/{}", path_encode(&k.fields.number)),
        k: carrier_row(&k),
        events,
        next,
        c,
    }))
}

#[derive(Deserialize)]
pub struct EventForm {
    event: String,
    #[serde(default)]
    holder: String,
    #[serde(default)]
    witness: String,
    #[serde(default)]
    note: String,
}

pub async fn carrier_event(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(number): Path<String>,
    Form(f): Form<EventForm>,
) -> PageResult {
    let page = format!("/ledger/{}", path_encode(&number));
    let Some(to) = baomi_store::CarrierState::parse(&f.event) else {
        return Ok(back_with_error(&page, "error.400"));
    };
    let recorder = p.names();
    fn opt(s: &str) -> Option<&str> {
        Some(s.trim()).filter(|s| !s.is_empty())
    }
    match state
        .gateway
        .store
        .carrier_event(
            &number,
            to,
            opt(&f.holder),
            opt(&f.witness),
            opt(&f.note),
            &recorder,
            &p.actor,
        )
        .await
    {
        Ok(_) => Ok(back_to(&page, "common.saved")),
        Err(StoreError::Invalid(e) | StoreError::Conflict(e)) => Ok(back_with_error(&page, &e)),
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "redact.html")]
struct RedactPage {
    c: Chrome,
}

/// 数据脱敏: a copy of a document with personal data masked in the content itself, before it
/// is published (the same as `baomi redact`).
pub async fn redact_page(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(f): Query<Flash>,
) -> PageResult {
    let c = Chrome::new(&state, &p, &headers, "nav.redact", "/redact")
        .flash_from(f.done.as_deref(), f.error.as_deref());
    Ok(crate::render(&RedactPage { c }))
}

/// `POST /redact`: the uploaded file comes back redacted, as a download; the counts (never
/// the values) go into the audit trail.
pub async fn redact_file(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    mp: axum::extract::Multipart,
) -> PageResult {
    let (file, _) = super::policy::upload(mp, 64 << 20).await?;
    let Some((name, blob)) = file else {
        return Ok(back_with_error("/redact", "policy.no_file"));
    };
    let bytes = blob
        .bytes()
        .map_err(|e| PageError(axum::http::StatusCode::BAD_REQUEST, e.to_string()))?
        .into_owned();
    let file_name = name.clone();
    let done = tokio::task::spawn_blocking(move || baomi_redact::redact(&bytes, &file_name))
        .await
        .map_err(|e| PageError(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let redacted = match done {
        Ok(r) => r,
        Err(e) => return Ok(back_with_error("/redact", &e.to_string())),
    };
    let by_kind: BTreeMap<String, usize> = redacted
        .by_kind
        .iter()
        .map(|(k, n)| (format!("{k:?}"), *n))
        .collect();
    state
        .gateway
        .store
        .audit(
            &p.actor,
            "document.redact",
            &name,
            serde_json::json!({"replaced": redacted.replaced, "by_kind": by_kind,
                               "not_redacted": redacted.not_redacted.len()}),
        )
        .await?;
    let out_name = format!("脱敏-{name}");
    let disposition = format!(
        "attachment; filename=\"redacted\"; filename*=UTF-8''{}",
        url_encode(&out_name)
    );
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/octet-stream".to_owned(),
            ),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        redacted.bytes,
    )
        .into_response())
}
