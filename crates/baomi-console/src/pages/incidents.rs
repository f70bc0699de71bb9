//! The security officer's incident queue and incident detail.

use std::collections::BTreeMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Form};
use baomi_core::Channel;
use baomi_extract::Blob;
use baomi_server::api::{ApiState, parse_day};
use baomi_server::authz::Principal;
use baomi_store::{Disposition, Incident, IncidentFilter, Role};
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::FlashQuery;
use super::{Chrome, PageError, PageResult, back_to, back_with_error, url_encode, when};
use crate::i18n::Tr;

/// Rows per queue page.
const PER_PAGE: i64 = 50;
/// Characters of context each side of a finding.
const CONTEXT_CHARS: usize = 30;

#[derive(Deserialize, Default, Clone)]
pub struct QueueQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub channel: Option<String>,
    pub level: Option<String>,
    pub department: Option<String>,
    pub user: Option<String>,
    pub rule: Option<String>,
    pub action: Option<String>,
    pub disposition: Option<String>,
    pub assignee: Option<String>,
    pub q: Option<String>,
    pub sort: Option<String>,
    pub page: Option<i64>,
    pub done: Option<String>,
    pub error: Option<String>,
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl QueueQuery {
    pub fn filter(&self) -> IncidentFilter {
        IncidentFilter {
            from_ms: nonempty(&self.from).and_then(|d| parse_day(&d, false)),
            to_ms: nonempty(&self.to).and_then(|d| parse_day(&d, true)),
            channel: nonempty(&self.channel),
            level: nonempty(&self.level),
            department: nonempty(&self.department),
            user: nonempty(&self.user),
            disposition: nonempty(&self.disposition),
            action: nonempty(&self.action),
            rule: nonempty(&self.rule),
            assignee: nonempty(&self.assignee),
            text: nonempty(&self.q),
            sort: nonempty(&self.sort),
            limit: Some(PER_PAGE),
            offset: Some((self.page.unwrap_or(1).max(1) - 1) * PER_PAGE),
        }
    }

    /// The filter as a query string (no paging, no flash), for links, views and bulk.
    pub fn query_string(&self) -> String {
        let pairs = [
            ("from", &self.from),
            ("to", &self.to),
            ("channel", &self.channel),
            ("level", &self.level),
            ("department", &self.department),
            ("user", &self.user),
            ("rule", &self.rule),
            ("action", &self.action),
            ("disposition", &self.disposition),
            ("assignee", &self.assignee),
            ("q", &self.q),
            ("sort", &self.sort),
        ];
        pairs
            .iter()
            .filter_map(|(k, v)| nonempty(v).map(|v| format!("{k}={}", url_encode(&v))))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// One row of the queue.
pub struct Row {
    pub number: String,
    pub time: String,
    pub age_days: Option<i64>,
    pub channel: &'static str,
    pub level: String,
    pub level_class: &'static str,
    pub person: String,
    pub department: String,
    pub object: String,
    pub action: &'static str,
    pub action_class: String,
    pub rules: String,
    pub disposition: &'static str,
    pub disposition_class: String,
    pub assignee: String,
}

fn level_class(level: Option<&str>) -> &'static str {
    match level {
        Some("top_secret") => "lv-top",
        Some("secret") => "lv-secret",
        Some("confidential") => "lv-conf",
        Some(_) => "lv-other",
        None => "",
    }
}

fn row(t: Tr, inc: &Incident, now: i64) -> Row {
    Row {
        number: inc.number.clone(),
        time: when(inc.created_ms),
        age_days: (inc.disposition == Disposition::Open)
            .then(|| (now - inc.created_ms) / 86_400_000),
        channel: t.channel(&inc.channel),
        level: inc.level.as_deref().map(|l| t.level(l)).unwrap_or_default(),
        level_class: level_class(inc.level.as_deref()),
        person: inc.user.clone().unwrap_or_default(),
        department: inc.department.clone().unwrap_or_default(),
        object: inc.object_name.clone().unwrap_or_default(),
        action: t.action(&inc.action),
        action_class: format!("act-{}", inc.action),
        rules: inc.rules.join(", "),
        disposition: t.disposition(inc.disposition.as_str()),
        disposition_class: format!("disp-{}", inc.disposition.as_str()),
        assignee: inc.assignee.clone().unwrap_or_default(),
    }
}

/// A choice in a filter's select.
pub struct Opt {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn opts(values: &[(&str, String)], current: &Option<String>) -> Vec<Opt> {
    values
        .iter()
        .map(|(v, label)| Opt {
            value: (*v).to_owned(),
            label: label.clone(),
            selected: current.as_deref() == Some(*v),
        })
        .collect()
}

pub fn level_opts(t: Tr, current: &Option<String>) -> Vec<Opt> {
    let levels = [
        "top_secret",
        "secret",
        "confidential",
        "work_secret",
        "commercial_secret",
        "internal",
        "sensitive",
    ];
    let values: Vec<(&str, String)> = levels.iter().map(|l| (*l, t.level(l))).collect();
    opts(&values, current)
}

fn channel_opts(t: Tr, current: &Option<String>) -> Vec<Opt> {
    let values: Vec<(&str, String)> = ["web", "mail", "chat", "usb", "print", "api", "scan"]
        .iter()
        .map(|c| (*c, t.channel(c).to_owned()))
        .collect();
    opts(&values, current)
}

fn action_opts(t: Tr, current: &Option<String>) -> Vec<Opt> {
    let values: Vec<(&str, String)> = ["block", "quarantine", "alert", "audit"]
        .iter()
        .map(|c| (*c, t.action(c).to_owned()))
        .collect();
    opts(&values, current)
}

pub fn disposition_opts(t: Tr, current: &Option<String>) -> Vec<Opt> {
    let values: Vec<(&str, String)> = ["open", "violation", "false_positive", "rectified"]
        .iter()
        .map(|c| (*c, t.disposition(c).to_owned()))
        .collect();
    opts(&values, current)
}

fn sort_opts(t: Tr, current: &Option<String>) -> Vec<Opt> {
    opts(
        &[
            ("newest", t.t("inc.sort.newest").to_owned()),
            ("oldest", t.t("inc.sort.oldest").to_owned()),
            ("severity", t.t("inc.sort.severity").to_owned()),
        ],
        current,
    )
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct QueuePage {
    c: Chrome,
    q: QueueQuery,
    query: String,
    rows: Vec<Row>,
    total: i64,
    page: i64,
    pages: i64,
    prev: Option<String>,
    next: Option<String>,
    levels: Vec<Opt>,
    channels: Vec<Opt>,
    actions: Vec<Opt>,
    dispositions: Vec<Opt>,
    sorts: Vec<Opt>,
    set_dispositions: Vec<Opt>,
    views: Vec<baomi_store::SavedView>,
}

pub async fn queue(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(q): Query<QueueQuery>,
) -> PageResult {
    let acc = super::account(&p)?;
    let store = &state.gateway.store;
    let filter = q.filter();
    let page = store.incidents(&filter).await?;
    let c = Chrome::new(&state, &p, &headers, "nav.incidents", "/incidents")
        .flash_from(q.done.as_deref(), q.error.as_deref());
    let t = c.t;
    let now = baomi_store::now_ms();
    let query = q.query_string();
    let current = q.page.unwrap_or(1).max(1);
    let pages = ((page.total + PER_PAGE - 1) / PER_PAGE).max(1);
    let link = |n: i64| {
        if query.is_empty() {
            format!("/incidents?page={n}")
        } else {
            format!("/incidents?{query}&page={n}")
        }
    };
    Ok(crate::render(&QueuePage {
        rows: page.incidents.iter().map(|i| row(t, i, now)).collect(),
        total: page.total,
        page: current,
        pages,
        prev: (current > 1).then(|| link(current - 1)),
        next: (current < pages).then(|| link(current + 1)),
        levels: level_opts(t, &q.level),
        channels: channel_opts(t, &q.channel),
        actions: action_opts(t, &q.action),
        dispositions: disposition_opts(t, &q.disposition),
        sorts: sort_opts(t, &q.sort),
        set_dispositions: disposition_opts(t, &None),
        views: store.saved_views(acc.id).await?,
        query,
        q,
        c,
    }))
}

#[derive(Template)]
#[template(path = "bulk_confirm.html")]
struct BulkConfirm {
    c: Chrome,
    count: usize,
    disposition: String,
    disposition_label: &'static str,
    note: String,
    scope: String,
    query: String,
    numbers: Vec<String>,
    sample: Vec<String>,
}

/// Two steps: the first POST counts what the selection (or the whole filter) holds and asks
/// for confirmation of that exact count; the second, with `confirm=N`, changes them — unless
/// the set has changed in between.
pub async fn bulk(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let mut numbers = Vec::new();
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in form_urlencoded::parse(&body) {
        if k == "n" {
            numbers.push(v.into_owned());
        } else {
            fields.insert(k.into_owned(), v.into_owned());
        }
    }
    let get = |k: &str| fields.get(k).cloned().unwrap_or_default();
    let query = get("query");
    let scope = get("scope");
    let back = if query.is_empty() {
        "/incidents".to_owned()
    } else {
        format!("/incidents?{query}")
    };
    let Some(disposition) = Disposition::parse(&get("disposition")) else {
        return Ok(back_with_error(&back, "error.400"));
    };
    let store = &state.gateway.store;
    if scope == "filter" {
        let q: QueueQuery = serde_urlencoded_query(&query);
        numbers = store.incident_numbers(&q.filter()).await?;
    }
    if numbers.is_empty() {
        return Ok(back_with_error(&back, "inc.bulk.nothing"));
    }
    let note = get("note");
    if let Ok(expected) = get("confirm").parse::<usize>() {
        let note_opt = (!note.trim().is_empty()).then_some(note.trim());
        match store
            .bulk_disposition(&numbers, expected, disposition, note_opt, &p.actor)
            .await
        {
            Ok(n) => {
                let c = Chrome::new(&state, &p, &headers, "nav.incidents", "/incidents");
                let msg = format!("{} {n}", c.t.t("inc.bulk.done"));
                return Ok(back_to(&back, &msg));
            }
            Err(e) => return Ok(back_with_error(&back, &e.to_string())),
        }
    }
    let c = Chrome::new(&state, &p, &headers, "inc.bulk.confirm_title", "/incidents");
    let t = c.t;
    Ok(crate::render(&BulkConfirm {
        count: numbers.len(),
        disposition: disposition.as_str().to_owned(),
        disposition_label: t.disposition(disposition.as_str()),
        note,
        sample: numbers.iter().take(10).cloned().collect(),
        numbers: if scope == "filter" {
            Vec::new()
        } else {
            numbers
        },
        scope,
        query,
        c,
    }))
}

fn serde_urlencoded_query(query: &str) -> QueueQuery {
    let mut q = QueueQuery::default();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let v = Some(v.into_owned());
        match k.as_ref() {
            "from" => q.from = v,
            "to" => q.to = v,
            "channel" => q.channel = v,
            "level" => q.level = v,
            "department" => q.department = v,
            "user" => q.user = v,
            "rule" => q.rule = v,
            "action" => q.action = v,
            "disposition" => q.disposition = v,
            "assignee" => q.assignee = v,
            "q" => q.q = v,
            "sort" => q.sort = v,
            _ => {}
        }
    }
    q
}

#[derive(Deserialize)]
pub struct ViewForm {
    name: String,
    query: String,
}

pub async fn save_view(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<ViewForm>,
) -> PageResult {
    let acc = super::account(&p)?;
    // Only the filter is kept, re-encoded, whatever was posted.
    let query = serde_urlencoded_query(&f.query).query_string();
    let back = format!("/incidents?{query}");
    match state.gateway.store.save_view(acc.id, &f.name, &query).await {
        Ok(()) => Ok(back_to(&back, "common.done")),
        Err(e) => Ok(back_with_error(&back, &e.to_string())),
    }
}

pub async fn delete_view(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> PageResult {
    let acc = super::account(&p)?;
    state.gateway.store.delete_view(acc.id, id).await?;
    Ok(back_to("/incidents", "common.done"))
}

/// One finding as the detail page shows it.
pub struct FindingRow {
    pub kind: &'static str,
    pub level: String,
    pub part: String,
    pub line: String,
    pub text: String,
    pub reason: String,
    pub context: Option<(String, String, String)>,
}

/// A part of the object's tree, indented by depth.
pub struct TreeNode {
    pub depth: usize,
    pub name: String,
    pub flagged: bool,
}

pub struct HistoryRow {
    pub time: String,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "incident.html")]
struct DetailPage {
    c: Chrome,
    inc: Incident,
    time: String,
    age_days: Option<i64>,
    level: String,
    level_class: &'static str,
    channel: &'static str,
    action: &'static str,
    severity: &'static str,
    disposition: &'static str,
    disposition_class: String,
    disposition_when: String,
    size: String,
    findings: Vec<FindingRow>,
    tree: Vec<TreeNode>,
    has_evidence: bool,
    unmasked: bool,
    history: Vec<HistoryRow>,
    comments: Vec<(String, String, String)>,
    set_dispositions: Vec<Opt>,
    officers: Vec<Opt>,
    held: bool,
    print_hold: Option<PrintHoldView>,
}

/// A print job held on the computer it was printed on (the CUPS backend's hold), as the
/// incident's page shows it: waiting for the officer (the buttons), decided and waiting for
/// the computer's agent, or carried out.
struct PrintHoldView {
    /// `agent:MACHINE` without the prefix.
    machine: String,
    /// No decision yet: release and cancel are offered.
    open: bool,
    state: &'static str,
    /// Who decided when, and what the agent reported.
    detail: String,
}

fn print_hold_view(t: Tr, h: baomi_store::HeldPrint) -> PrintHoldView {
    let machine = h
        .source
        .strip_prefix("agent:")
        .unwrap_or(&h.source)
        .to_owned();
    let Some(d) = h.decision else {
        return PrintHoldView {
            machine,
            open: true,
            state: t.t("inc.print_waiting"),
            detail: String::new(),
        };
    };
    let release = d.decision == baomi_store::PrintDecisionKind::Release;
    let state = match (&d.outcome, release) {
        (None, true) => t.t("inc.print_release_sent"),
        (None, false) => t.t("inc.print_cancel_sent"),
        (Some(o), _) if o.starts_with("failed") => t.t("inc.print_failed"),
        (Some(_), true) => t.t("inc.print_released"),
        (Some(_), false) => t.t("inc.print_canceled"),
    };
    let mut detail = format!("{} · {}", d.decided_by, when(d.decided_ms));
    if let (Some(o), Some(ms)) = (&d.outcome, d.done_ms) {
        detail.push_str(&format!(" · {} {o}", when(ms)));
    }
    PrintHoldView {
        machine,
        open: false,
        state,
        detail,
    }
}

/// Decrypt an incident's evidence into a temporary file (never all in memory).
async fn evidence_blob(state: &ApiState, inc: &Incident) -> Option<Blob> {
    let ev = inc.evidence.clone()?;
    let vault = state.gateway.vault.clone();
    if !vault.contains(&ev.hash) {
        return None;
    }
    tokio::task::spawn_blocking(move || {
        let mut file = tempfile::NamedTempFile::new().ok()?;
        vault.get(&ev.hash, file.as_file_mut()).ok()?;
        let len = file.as_file().metadata().ok()?.len();
        let path = file.into_temp_path();
        Some(Blob::from_temp(path, len))
    })
    .await
    .ok()
    .flatten()
}

fn channel_of(s: &str) -> Channel {
    match s {
        "web" => Channel::Web,
        "mail" => Channel::Mail,
        "scan" => Channel::Scan,
        "chat" => Channel::Chat,
        "usb" => Channel::Usb,
        "print" => Channel::Print,
        _ => Channel::Api,
    }
}

async fn detail_page(
    state: &ApiState,
    p: &Principal,
    headers: &HeaderMap,
    number: &str,
    flash: &FlashQuery,
    unmask: bool,
) -> PageResult {
    let store = &state.gateway.store;
    let inc = store.incident(number).await?;
    let c = Chrome::new(state, p, headers, "inc.detail", "/incidents")
        .flash_from(flash.done.as_deref(), flash.error.as_deref());
    let t = c.t;
    let stored: Vec<Value> = inc.findings.as_array().cloned().unwrap_or_default();
    // The evidence, inspected again, gives each finding its context and the object's tree.
    let explained = match evidence_blob(state, &inc).await {
        Some(blob) => {
            let engine = state.gateway.engine();
            let name = inc.object_name.clone().unwrap_or_else(|| "evidence".into());
            let channel = channel_of(&inc.channel);
            tokio::task::spawn_blocking(move || {
                engine.inspect_with_context(blob, &name, channel, CONTEXT_CHARS)
            })
            .await
            .ok()
        }
        None => None,
    };
    let mut used = vec![false; explained.as_ref().map_or(0, |(r, _)| r.findings.len())];
    let mut findings = Vec::new();
    for f in &stored {
        let s = |k: &str| f.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let kind = s("kind");
        let part = s("part");
        let line = f.get("line").and_then(Value::as_u64);
        let mut text = s("text");
        let mut context = None;
        if let Some((report, ex)) = &explained {
            let found = report.findings.iter().enumerate().position(|(i, rf)| {
                !used[i]
                    && serde_json::to_value(rf.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .as_deref()
                        == Some(kind.as_str())
                    && rf.part == part
                    && rf.line.map(u64::from) == line
            });
            if let Some(i) = found {
                used[i] = true;
                let rf = &report.findings[i];
                if let Some(Some(cx)) = ex.contexts.get(i) {
                    let personal = rf.kind.is_personal_data();
                    let matched = if personal && !unmask {
                        baomi_core::mask::mask(rf.kind, &cx.matched)
                    } else {
                        cx.matched.clone()
                    };
                    context = Some(if unmask {
                        (cx.before.clone(), matched, cx.after.clone())
                    } else {
                        (cx.before_masked.clone(), matched, cx.after_masked.clone())
                    });
                }
                if unmask {
                    text = rf.text.clone();
                }
            }
        }
        findings.push(FindingRow {
            kind: t.kind(&kind),
            level: f
                .get("level")
                .and_then(Value::as_str)
                .map(|l| t.level(l))
                .unwrap_or_default(),
            part,
            line: line.map(|l| l.to_string()).unwrap_or_default(),
            text,
            reason: t.reason(&s("reason")),
            context,
        });
    }
    let flagged: Vec<String> = findings.iter().map(|f| f.part.clone()).collect();
    let paths: Vec<String> = match &explained {
        Some((_, ex)) if !ex.parts.is_empty() => ex.parts.clone(),
        _ => flagged.clone(),
    };
    let tree = tree(&paths, &flagged);
    let history = store
        .audit_search(&baomi_store::AuditFilter {
            subject: Some(inc.number.clone()),
            oldest_first: true,
            limit: Some(500),
            ..Default::default()
        })
        .await?
        .entries
        .into_iter()
        .map(|e| HistoryRow {
            time: when(e.ts_ms),
            actor: e.actor,
            action: t.audit_action(&e.action),
            detail: history_detail(t, &e.detail),
        })
        .collect();
    let comments = store
        .comments(&inc.number)
        .await?
        .into_iter()
        .map(|c| (when(c.created_ms), c.author, c.body))
        .collect();
    let officers = store
        .accounts()
        .await?
        .into_iter()
        .filter(|a| a.role == Role::Secadmin && a.status == baomi_store::AccountStatus::Active)
        .map(|a| Opt {
            selected: inc.assignee.as_deref() == Some(a.name.as_str()),
            label: a.display_name.clone().unwrap_or_else(|| a.name.clone()),
            value: a.name,
        })
        .collect();
    let print_hold = store
        .held_print(&inc.number)
        .await?
        .map(|h| print_hold_view(t, h));
    let now = baomi_store::now_ms();
    Ok(crate::render(&DetailPage {
        time: when(inc.created_ms),
        age_days: (inc.disposition == Disposition::Open)
            .then(|| (now - inc.created_ms) / 86_400_000),
        level: inc.level.as_deref().map(|l| t.level(l)).unwrap_or_default(),
        level_class: level_class(inc.level.as_deref()),
        channel: t.channel(&inc.channel),
        action: t.action(&inc.action),
        severity: t.severity(&inc.severity),
        disposition: t.disposition(inc.disposition.as_str()),
        disposition_class: format!("disp-{}", inc.disposition.as_str()),
        disposition_when: inc.disposition_ms.map(when).unwrap_or_default(),
        size: super::size(inc.object_size),
        has_evidence: explained.is_some(),
        findings,
        tree,
        unmasked: unmask,
        history,
        comments,
        set_dispositions: disposition_opts(t, &Some(inc.disposition.as_str().to_owned())),
        officers,
        held: inc.quarantine_id.is_some() && inc.quarantine_state.is_none(),
        print_hold,
        inc,
        c,
    }))
}

fn history_detail(t: Tr, detail: &Value) -> String {
    let mut out = Vec::new();
    if let Some(d) = detail.get("disposition").and_then(Value::as_str) {
        out.push(t.disposition(d).to_owned());
    }
    for k in ["note", "assignee", "state", "reason", "action"] {
        if let Some(v) = detail.get(k).and_then(Value::as_str) {
            out.push(v.to_owned());
        }
    }
    out.join(" · ")
}

/// The tree of parts: each path split at `/`, shared prefixes shown once.
fn tree(paths: &[String], flagged: &[String]) -> Vec<TreeNode> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for path in paths {
        let segments: Vec<&str> = path.split('/').collect();
        for depth in 0..segments.len() {
            let prefix = segments[..=depth].join("/");
            if seen.insert(prefix.clone()) {
                out.push(TreeNode {
                    depth,
                    name: segments[depth].to_owned(),
                    flagged: flagged.contains(&prefix),
                });
            }
        }
    }
    out.truncate(2000);
    out
}

pub async fn detail(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Path(number): Path<String>,
    Query(flash): Query<FlashQuery>,
) -> PageResult {
    detail_page(&state, &p, &headers, &number, &flash, false).await
}

#[derive(Deserialize)]
pub struct UnmaskForm {
    reason: String,
}

/// Personal data unmasked, for this response only; the reason is in the audit chain.
pub async fn unmask(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Path(number): Path<String>,
    Form(f): Form<UnmaskForm>,
) -> PageResult {
    let reason = f.reason.trim();
    let page = format!("/incidents/{number}");
    if reason.chars().count() < 2 {
        return Ok(back_with_error(&page, "inc.unmask_reason_missing"));
    }
    state.gateway.store.incident(&number).await?;
    state
        .gateway
        .store
        .audit(
            &p.actor,
            "evidence.unmask",
            &number,
            json!({ "reason": reason }),
        )
        .await?;
    let flash = FlashQuery {
        done: Some("inc.context_unmasked".into()),
        error: None,
    };
    detail_page(&state, &p, &headers, &number, &flash, true).await
}

pub async fn evidence(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(number): Path<String>,
) -> PageResult {
    baomi_server::api::evidence_download(&state, &number, &p.actor)
        .await
        .map_err(|e| PageError(e.0, e.1))
}

#[derive(Deserialize)]
pub struct DispositionForm {
    disposition: String,
    #[serde(default)]
    note: String,
}

pub async fn disposition(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(number): Path<String>,
    Form(f): Form<DispositionForm>,
) -> PageResult {
    let page = format!("/incidents/{number}");
    let Some(d) = Disposition::parse(&f.disposition) else {
        return Ok(back_with_error(&page, "error.400"));
    };
    let note = f.note.trim();
    state
        .gateway
        .store
        .set_disposition(&number, d, (!note.is_empty()).then_some(note), &p.actor)
        .await?;
    Ok(back_to(&page, "common.done"))
}

#[derive(Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    assignee: String,
}

pub async fn assign(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(number): Path<String>,
    Form(f): Form<AssignForm>,
) -> PageResult {
    let page = format!("/incidents/{number}");
    let who = f.assignee.trim();
    if !who.is_empty() {
        let acc = state.gateway.store.account(who).await?;
        if acc.role != Role::Secadmin {
            return Ok(back_with_error(&page, "error.400"));
        }
    }
    state
        .gateway
        .store
        .assign_incident(&number, (!who.is_empty()).then_some(who), &p.actor)
        .await?;
    Ok(back_to(&page, "common.done"))
}

#[derive(Deserialize)]
pub struct CommentForm {
    body: String,
}

pub async fn comment(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(number): Path<String>,
    Form(f): Form<CommentForm>,
) -> PageResult {
    let page = format!("/incidents/{number}");
    match state
        .gateway
        .store
        .add_comment(&number, &f.body, &p.actor)
        .await
    {
        Ok(_) => Ok(back_to(&page, "common.done")),
        Err(baomi_store::StoreError::Invalid(e)) => Ok(back_with_error(&page, &e)),
        Err(e) => Err(e.into()),
    }
}

async fn held_mail(state: ApiState, p: Principal, number: String, release: bool) -> PageResult {
    let page = format!("/incidents/{number}");
    match baomi_server::api::act_on_held(&state, &number, release, &p.actor).await {
        Ok(_) => Ok(back_to(&page, "common.done")),
        Err(e) if e.0 == StatusCode::CONFLICT => Ok(back_with_error(&page, &e.1)),
        Err(e) => Ok(PageError(e.0, e.1).into_response()),
    }
}

pub async fn release(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(number): Path<String>,
) -> PageResult {
    held_mail(state, p, number, true).await
}

pub async fn delete_mail(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(number): Path<String>,
) -> PageResult {
    held_mail(state, p, number, false).await
}

async fn held_print(
    state: ApiState,
    p: Principal,
    number: String,
    kind: baomi_store::PrintDecisionKind,
) -> PageResult {
    let page = format!("/incidents/{number}");
    match state
        .gateway
        .store
        .decide_print(&number, kind, &p.actor)
        .await
    {
        Ok(_) => Ok(back_to(&page, "inc.print_decided")),
        Err(baomi_store::StoreError::Conflict(e)) => Ok(back_with_error(&page, &e)),
        Err(e) => Err(e.into()),
    }
}

/// The held print job is released: the computer's agent approves it once and resumes it
/// in its cupsd.
pub async fn print_release(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(number): Path<String>,
) -> PageResult {
    held_print(state, p, number, baomi_store::PrintDecisionKind::Release).await
}

/// The held print job is canceled on its computer.
pub async fn print_cancel(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(number): Path<String>,
) -> PageResult {
    held_print(state, p, number, baomi_store::PrintDecisionKind::Cancel).await
}
