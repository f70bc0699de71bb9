//! The auditor's page: the audit trail of what the administrators did, filtered by actor,
//! action and time; the chain verified (the same check as `baomi audit verify`); CSV export.
//! The auditor sees who did what to which record, never the records' business content.

use askama::Template;
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::IntoResponse;
use baomi_server::api::{ApiState, parse_day};
use baomi_server::authz::Principal;
use baomi_store::{AuditEntry, AuditFilter};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Chrome, PageError, PageResult, url_encode, when};

const PER_PAGE: i64 = 100;

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<i64>,
    verify: Option<String>,
}

impl AuditQuery {
    fn filter(&self) -> AuditFilter {
        let clean = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        AuditFilter {
            actor: clean(&self.actor),
            action: clean(&self.action),
            subject: None,
            from_ms: clean(&self.from).and_then(|d| parse_day(&d, false)),
            to_ms: clean(&self.to).and_then(|d| parse_day(&d, true)),
            limit: Some(PER_PAGE),
            offset: Some((self.page.unwrap_or(1).max(1) - 1) * PER_PAGE),
            oldest_first: false,
        }
    }

    fn query_string(&self) -> String {
        [
            ("actor", &self.actor),
            ("action", &self.action),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .iter()
        .filter_map(|(k, v)| {
            v.as_deref()
                .filter(|s| !s.is_empty())
                .map(|v| format!("{k}={}", url_encode(v)))
        })
        .collect::<Vec<_>>()
        .join("&")
    }
}

pub struct EntryRow {
    pub seq: i64,
    pub time: String,
    pub actor: String,
    pub action: String,
    pub action_words: String,
    pub subject: String,
    pub detail: String,
}

/// An entry's detail without business content: the fields that say what was done, never
/// findings or comment text (comments are in the chain only as hashes already).
fn detail(e: &AuditEntry) -> String {
    let keep = [
        "role",
        "from",
        "to",
        "status",
        "disposition",
        "state",
        "assignee",
        "method",
        "needs",
        "scope",
        "account",
        "failures",
        "reason",
        "id",
        "channel",
        "action",
        "bulk",
        "deleted",
    ];
    match &e.detail {
        Value::Object(map) => map
            .iter()
            .filter(|(k, v)| keep.contains(&k.as_str()) && !v.is_null())
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    c: Chrome,
    q: AuditQuery,
    query: String,
    rows: Vec<EntryRow>,
    total: i64,
    page: i64,
    pages: i64,
    prev: Option<String>,
    next: Option<String>,
    verified: Option<(bool, u64, u64, Vec<String>)>,
}

pub async fn page(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    let store = &state.gateway.store;
    let verified = if q.verify.is_some() {
        let report = store.verify_audit().await?;
        store
            .audit(
                &p.actor,
                "audit.verify",
                "audit_log",
                json!({"status": if report.ok() { "intact" } else { "altered" }, "entries": report.entries}),
            )
            .await?;
        Some((
            report.ok(),
            report.entries,
            report.incidents_checked,
            report.problems,
        ))
    } else {
        None
    };
    let found = store.audit_search(&q.filter()).await?;
    let c = Chrome::new(&state, &p, &headers, "audit.title", "/audit");
    let query = q.query_string();
    let current = q.page.unwrap_or(1).max(1);
    let pages = ((found.total + PER_PAGE - 1) / PER_PAGE).max(1);
    let link = |n: i64| format!("/audit?{query}&page={n}");
    Ok(crate::render(&AuditPage {
        rows: found
            .entries
            .iter()
            .map(|e| EntryRow {
                seq: e.seq,
                time: when(e.ts_ms),
                actor: e.actor.clone(),
                action: e.action.clone(),
                action_words: c.t.audit_action(&e.action),
                subject: e.subject.clone(),
                detail: detail(e),
            })
            .collect(),
        total: found.total,
        page: current,
        pages,
        prev: (current > 1).then(|| link(current - 1)),
        next: (current < pages).then(|| link(current + 1)),
        verified,
        query,
        q,
        c,
    }))
}

/// Everything the filter matches as CSV (UTF-8 with BOM, so Excel opens Chinese right);
/// the export itself is audited.
pub async fn export(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    let store = &state.gateway.store;
    let mut filter = q.filter();
    filter.limit = Some(100_000);
    filter.offset = Some(0);
    filter.oldest_first = true;
    let found = store.audit_search(&filter).await?;
    store
        .audit(
            &p.actor,
            "audit.export",
            "audit_log",
            json!({"entries": found.entries.len()}),
        )
        .await?;
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let internal =
        |e: csv::Error| PageError(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    w.write_record([
        "seq",
        "time",
        "actor",
        "action",
        "subject",
        "detail",
        "prev_hash",
        "hash",
    ])
    .map_err(internal)?;
    for e in &found.entries {
        w.write_record([
            e.seq.to_string(),
            when(e.ts_ms),
            e.actor.clone(),
            e.action.clone(),
            e.subject.clone(),
            detail(e),
            e.prev_hash.clone(),
            e.hash.clone(),
        ])
        .map_err(internal)?;
    }
    let body = w
        .into_inner()
        .map_err(|e| PageError(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"baomi-audit.csv\""),
    );
    Ok(resp)
}
