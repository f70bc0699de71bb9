//! 保密承诺书 in the console. Every person (`/my/commitments`): the commitments that concern
//! them and are unsigned in their current version, read in full and signed with their typed
//! name and today's date; what they signed before. The security officer (`/commitments`):
//! the templates and their versions, the overview against the directory by department
//! (signed, not signed the current version, departures without a leaving commitment), the
//! paper signatures recorded with their scans, the export.

use std::collections::BTreeMap;

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use baomi_server::api::ApiState;
use baomi_server::authz::Principal;
use baomi_server::commitments_api::{self as api, PaperForm};
use baomi_store::{CommitmentKind, SignMethod, StoreError};
use serde::Deserialize;

use super::{Chrome, PageError, PageResult, back_to, back_with_error, when};
use crate::i18n::Tr;

#[derive(Deserialize, Default)]
pub struct Flash {
    done: Option<String>,
    error: Option<String>,
}

fn api_error(e: baomi_server::api::ApiError) -> PageError {
    PageError(e.0, e.1)
}

fn kind_label(t: Tr, k: CommitmentKind) -> &'static str {
    t.t(match k {
        CommitmentKind::Onboarding => "cm.kind.onboarding",
        CommitmentKind::Classified => "cm.kind.classified",
        CommitmentKind::Leaving => "cm.kind.leaving",
    })
}

fn method_label(t: Tr, m: SignMethod) -> &'static str {
    t.t(match m {
        SignMethod::Console => "cm.method.console",
        SignMethod::Paper => "cm.method.paper",
    })
}

/// 第 2 版 / version 2
fn ver(t: Tr, n: i64) -> String {
    if t.is_zh() {
        format!("第 {n} 版")
    } else {
        format!("version {n}")
    }
}

fn short_hash(h: &str) -> String {
    h.chars().take(12).collect()
}

pub struct Pending {
    pub version_id: i64,
    pub title: String,
    pub kind: &'static str,
    pub version: String,
    pub text: String,
    pub sha: String,
    pub signed_before: String,
}

pub struct SignedRow {
    pub id: i64,
    pub title: String,
    pub kind: &'static str,
    pub version: String,
    pub day: String,
    pub method: &'static str,
    pub typed: String,
    pub sha: String,
    pub sig: String,
    pub person: String,
    pub department: String,
    pub has_scan: bool,
    pub recorded_by: String,
}

fn signed_row(t: Tr, s: &baomi_store::Signature) -> SignedRow {
    SignedRow {
        id: s.id,
        title: s.title.clone(),
        kind: kind_label(t, s.kind),
        version: ver(t, s.version),
        day: s.signed_day.clone(),
        method: method_label(t, s.method),
        typed: s.typed_name.clone().unwrap_or_default(),
        sha: short_hash(&s.text_sha256),
        sig: short_hash(&s.signature_sha256),
        person: s.person.clone(),
        department: s.department.clone().unwrap_or_default(),
        has_scan: s.scan.is_some(),
        recorded_by: s.recorded_by.clone(),
    }
}

#[derive(Template)]
#[template(path = "my_commitments.html")]
struct MyPage {
    c: Chrome,
    person: String,
    department: String,
    listed: bool,
    accepted: String,
    today: String,
    pending: Vec<Pending>,
    signed: Vec<SignedRow>,
}

/// `GET /my/commitments`
pub async fn mine(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(f): Query<Flash>,
) -> PageResult {
    let c = Chrome::new(
        &state,
        &p,
        &headers,
        "my.tab.commitments",
        "/my/commitments",
    )
    .flash_from(f.done.as_deref(), f.error.as_deref());
    let t = c.t;
    let account = super::account(&p)?;
    let gw = &state.gateway;
    let who = api::signer(&gw.directory(), account);
    let signed = gw.store.commitment_signatures_of(&who.person).await?;
    let pending = gw
        .store
        .commitment_templates()
        .await?
        .into_iter()
        .filter(|x| api::concerns(x, &who.groups, who.left.as_deref()))
        .filter(|x| !signed.iter().any(|s| s.version_id == x.current.id))
        .map(|x| {
            let before = signed
                .iter()
                .filter(|s| s.template_id == x.id)
                .map(|s| s.version)
                .max();
            Pending {
                version_id: x.current.id,
                kind: kind_label(t, x.kind),
                version: ver(t, x.current.version),
                text: x.current.text.clone(),
                sha: x.current.text_sha256.clone(),
                signed_before: before
                    .map(|v| format!("{}{}", t.t("cm.signed_before"), ver(t, v)))
                    .unwrap_or_default(),
                title: x.title,
            }
        })
        .collect();
    Ok(crate::render(&MyPage {
        c,
        department: who.department.clone().unwrap_or_default(),
        listed: who.listed,
        accepted: who.accepted_names.join(" / "),
        today: baomi_store::local_date(baomi_store::now_ms()),
        pending,
        signed: signed.iter().map(|s| signed_row(t, s)).collect(),
        person: who.person,
    }))
}

#[derive(Deserialize)]
pub struct SignForm {
    version_id: String,
    #[serde(default)]
    typed_name: String,
}

/// `POST /my/commitments`
pub async fn sign(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<SignForm>,
) -> PageResult {
    let account = super::account(&p)?;
    let Ok(version_id) = f.version_id.trim().parse::<i64>() else {
        return Ok(back_with_error("/my/commitments", "error.400"));
    };
    match api::sign_as(&state.gateway, account, version_id, &f.typed_name, &p.actor).await {
        Ok(_) => Ok(back_to("/my/commitments", "cm.signed_ok")),
        Err(e) if e.0.is_client_error() && e.0 != StatusCode::NOT_FOUND => {
            Ok(back_with_error("/my/commitments", &e.1))
        }
        Err(e) => Err(api_error(e)),
    }
}

pub struct DeptLine {
    pub department: String,
    pub names: String,
    pub count: usize,
}

pub struct TemplateRow {
    pub id: i64,
    pub title: String,
    pub kind: &'static str,
    pub group: String,
    pub version: String,
    pub updated: String,
    pub required: usize,
    pub signed: usize,
    pub unsigned: usize,
    pub signed_by_dept: Vec<DeptLine>,
    pub unsigned_by_dept: Vec<DeptLine>,
    pub others: String,
}

pub struct Choice {
    pub value: String,
    pub label: String,
}

pub struct Departure {
    pub department: String,
    pub person: String,
    pub left: String,
}

#[derive(Template)]
#[template(path = "commitments.html")]
struct OfficerPage {
    c: Chrome,
    templates: Vec<TemplateRow>,
    departures: Vec<Departure>,
    signatures: Vec<SignedRow>,
    kinds: Vec<Choice>,
    versions: Vec<Choice>,
    people: Vec<Choice>,
    today: String,
}

fn by_dept<'a>(
    rows: impl Iterator<Item = &'a baomi_records::commitments::CommitmentRow>,
    t: Tr,
) -> Vec<DeptLine> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rows {
        let name = match r.signed_version {
            Some(v) if v != r.current_version => {
                format!("{}（{}{}）", r.person, t.t("cm.signed_before"), ver(t, v))
            }
            _ => r.person.clone(),
        };
        m.entry(r.department.clone()).or_default().push(name);
    }
    m.into_iter()
        .map(|(department, names)| DeptLine {
            department,
            count: names.len(),
            names: names.join("、"),
        })
        .collect()
}

/// `GET /commitments`
pub async fn overview(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(f): Query<Flash>,
) -> PageResult {
    let c = Chrome::new(
        &state,
        &p,
        &headers,
        "daily.tab.commitments",
        "/chat-groups",
    )
    .flash_from(f.done.as_deref(), f.error.as_deref());
    let t = c.t;
    let gw = &state.gateway;
    let o = api::compute_overview(gw).await.map_err(api_error)?;
    let mut versions = Vec::new();
    for x in &o.templates {
        let (_, all) = gw.store.commitment_template(x.template.id).await?;
        for v in all {
            versions.push(Choice {
                value: v.id.to_string(),
                label: format!(
                    "{}（{}）{}{}",
                    x.template.title,
                    kind_label(t, x.template.kind),
                    ver(t, v.version),
                    if v.version == x.template.current.version {
                        t.t("cm.current_mark")
                    } else {
                        ""
                    }
                ),
            });
        }
    }
    let templates = o
        .templates
        .iter()
        .map(|x| {
            let signed = x.signed();
            TemplateRow {
                id: x.template.id,
                title: x.template.title.clone(),
                kind: kind_label(t, x.template.kind),
                group: x.template.group.clone().unwrap_or_default(),
                version: ver(t, x.template.current.version),
                updated: when(x.template.current.created_ms),
                required: x.rows.len(),
                signed,
                unsigned: x.rows.len() - signed,
                signed_by_dept: by_dept(
                    x.rows
                        .iter()
                        .filter(|r| r.signed_version == Some(r.current_version)),
                    t,
                ),
                unsigned_by_dept: by_dept(
                    x.rows
                        .iter()
                        .filter(|r| r.signed_version != Some(r.current_version)),
                    t,
                ),
                others: x
                    .others
                    .iter()
                    .map(|s| s.person.clone())
                    .collect::<Vec<_>>()
                    .join("、"),
            }
        })
        .collect();
    let mut signatures: Vec<SignedRow> = o.signatures.iter().map(|s| signed_row(t, s)).collect();
    signatures.reverse();
    let people = gw
        .directory()
        .people()
        .iter()
        .map(|p| Choice {
            value: p.name.clone(),
            label: p.department.clone(),
        })
        .collect();
    Ok(crate::render(&OfficerPage {
        c,
        templates,
        departures: o
            .departures
            .iter()
            .map(|d| Departure {
                department: d.department.clone(),
                person: d.person.clone(),
                left: d.left.clone(),
            })
            .collect(),
        signatures,
        kinds: CommitmentKind::ALL
            .iter()
            .map(|k| Choice {
                value: k.as_str().into(),
                label: kind_label(t, *k).into(),
            })
            .collect(),
        versions,
        people,
        today: baomi_store::local_date(baomi_store::now_ms()),
    }))
}

#[derive(Deserialize)]
pub struct TemplateForm {
    kind: String,
    title: String,
    text: String,
    #[serde(default)]
    group: String,
}

/// `POST /commitments`: a new template with its first version.
pub async fn create(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<TemplateForm>,
) -> PageResult {
    let Some(kind) = CommitmentKind::parse(&f.kind) else {
        return Ok(back_with_error("/commitments", "error.400"));
    };
    match state
        .gateway
        .store
        .create_commitment_template(kind, &f.title, Some(&f.group), &f.text, &p.actor)
        .await
    {
        Ok(x) => Ok(back_to(&format!("/commitments/{}", x.id), "common.saved")),
        Err(StoreError::Invalid(e) | StoreError::Conflict(e)) => {
            Ok(back_with_error("/commitments", &e))
        }
        Err(e) => Err(e.into()),
    }
}

pub struct VersionRow {
    pub version: String,
    pub text: String,
    pub sha: String,
    pub author: String,
    pub created: String,
    pub note: String,
    pub signed: usize,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "commitment.html")]
struct TemplatePage {
    c: Chrome,
    id: i64,
    title: String,
    kind: &'static str,
    group: String,
    current_text: String,
    versions: Vec<VersionRow>,
}

/// `GET /commitments/{id}`: the template's versions, and the form for a new one.
pub async fn template(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(f): Query<Flash>,
) -> PageResult {
    let c = Chrome::new(
        &state,
        &p,
        &headers,
        "daily.tab.commitments",
        "/chat-groups",
    )
    .flash_from(f.done.as_deref(), f.error.as_deref());
    let t = c.t;
    let store = &state.gateway.store;
    let (x, versions) = store.commitment_template(id).await?;
    let signatures = store.commitment_signatures().await?;
    Ok(crate::render(&TemplatePage {
        id,
        title: x.title.clone(),
        kind: kind_label(t, x.kind),
        group: x.group.clone().unwrap_or_default(),
        current_text: x.current.text.clone(),
        versions: versions
            .iter()
            .map(|v| VersionRow {
                version: ver(t, v.version),
                text: v.text.clone(),
                sha: v.text_sha256.clone(),
                author: v.author.clone(),
                created: when(v.created_ms),
                note: v.note.clone().unwrap_or_default(),
                signed: signatures.iter().filter(|s| s.version_id == v.id).count(),
                current: v.version == x.current.version,
            })
            .collect(),
        c,
    }))
}

#[derive(Deserialize)]
pub struct VersionForm {
    text: String,
    #[serde(default)]
    note: String,
}

/// `POST /commitments/{id}/versions`
pub async fn new_version(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    Form(f): Form<VersionForm>,
) -> PageResult {
    let page = format!("/commitments/{id}");
    match state
        .gateway
        .store
        .new_commitment_version(id, &f.text, Some(&f.note), &p.actor)
        .await
    {
        Ok(_) => Ok(back_to(&page, "cm.version_saved")),
        Err(StoreError::Invalid(e) | StoreError::Conflict(e)) => Ok(back_with_error(&page, &e)),
        Err(e) => Err(e.into()),
    }
}

/// `POST /commitments/paper` (multipart): a paper signature with its scan.
pub async fn paper(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    mp: axum::extract::Multipart,
) -> PageResult {
    let (file, fields) = super::policy::upload(mp, api::MAX_SCAN_BYTES).await?;
    let field = |n: &str| {
        fields
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let form = PaperForm {
        version_id: field("version_id"),
        person: field("person"),
        department: field("department"),
        signed_day: field("signed_day"),
        typed_name: field("typed_name"),
    };
    match api::record_paper(&state.gateway, &form, file, &p.actor).await {
        Ok(_) => Ok(back_to("/commitments", "cm.paper_saved")),
        Err(e) if e.0.is_client_error() => Ok(back_with_error("/commitments", &e.1)),
        Err(e) => Err(api_error(e)),
    }
}
