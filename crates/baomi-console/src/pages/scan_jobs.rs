//! The security officer's view of self-inspection through the queue (`baomi scan PATH
//! --queue`, `baomi worker`): the recent jobs with their progress, and one job in full —
//! its batches and the files that alerted or could not be read. Reads the store only
//! (`scan_job_ids`, `scan_job_progress`, `scan_batches`, `scan_results`).

use askama::Template;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use baomi_server::api::ApiState;
use baomi_server::authz::Principal;
use baomi_store::ScanJobProgress;
use serde::Deserialize;

use super::{Chrome, PageResult, size, when};
use crate::i18n::Tr;

/// Jobs on the list page.
const LIST: i64 = 50;
/// Batches shown on a job's page (the unfinished first).
const BATCHES_SHOWN: usize = 200;
/// Alerting or failed files per page.
const FILES_PER_PAGE: usize = 100;

/// A job's facts, in words.
pub struct JobView {
    pub id: i64,
    pub paths: String,
    pub machine: String,
    pub person: String,
    pub department: String,
    pub created_by: String,
    pub created: String,
    pub enqueued: String,
    pub finished: String,
    pub state: &'static str,
    pub state_class: &'static str,
    pub running: bool,
    pub files_done: i64,
    pub total_files: i64,
    pub percent: i64,
    pub bytes: String,
    pub rate: String,
    pub eta: String,
    pub workers: usize,
    pub worker_names: String,
    pub incidents: i64,
    pub alerting: i64,
    pub errors: i64,
    pub walk_errors: i64,
    pub inspected: i64,
    pub unchanged_by_hash: i64,
    pub unchanged: i64,
    pub batches: i64,
    pub batches_done: i64,
    pub batches_leased: i64,
    pub batches_reclaimed: i64,
    /// Why the walk stopped early, in words (empty when it did not).
    pub interrupted: String,
}

fn actor(t: Tr, a: &str) -> String {
    if let Some(u) = a.strip_prefix("cli:") {
        return format!("{}（{u}）", t.t("pv.by_cli"));
    }
    a.strip_prefix("user:").unwrap_or(a).to_owned()
}

fn duration(t: Tr, s: f64) -> String {
    let s = s.ceil() as u64;
    let (h, m, sec) = (s / 3600, s % 3600 / 60, s % 60);
    if t.is_zh() {
        match s {
            0..60 => format!("{s} 秒"),
            60..3600 => format!("{m} 分 {sec} 秒"),
            _ => format!("{h} 小时 {m} 分"),
        }
    } else {
        match s {
            0..60 => format!("{s} s"),
            60..3600 => format!("{m} min {sec} s"),
            _ => format!("{h} h {m} min"),
        }
    }
}

/// What an officer needs to know of a walk that stopped early: why, and what to do.
fn interrupted(t: Tr, p: &ScanJobProgress) -> String {
    let why = match p.walk_interrupted.as_deref() {
        Some(baomi_store::WALK_SIGNAL) => t.t("sj.why.signal").to_owned(),
        Some(baomi_store::WALK_LOST) => t.t("sj.why.lost").to_owned(),
        Some(other) => format!(
            "{}{}",
            t.t("sj.why.error"),
            other.trim_start_matches("error: ")
        ),
        None if p.walk_lost() => t.t("sj.why.lost").to_owned(),
        None => return String::new(),
    };
    format!("{why}{}", t.t("sj.why.then"))
}

fn view(t: Tr, p: &ScanJobProgress) -> JobView {
    let (state, state_class) = if p.finished_ms.is_some() && p.walk_interrupted.is_some() {
        ("sj.state.partial", "badge st-pending")
    } else if p.finished_ms.is_some() {
        ("sj.state.done", "badge st-active")
    } else if p.walk_lost() {
        ("sj.state.walk_lost", "badge act-block")
    } else if p.enqueued_ms.is_none() {
        ("sj.state.walking", "badge act-audit")
    } else if p.workers.is_empty() && p.files_done == 0 {
        ("sj.state.waiting", "badge st-pending")
    } else if p.workers.is_empty() {
        ("sj.state.stalled", "badge act-block")
    } else {
        ("sj.state.running", "badge act-audit")
    };
    let none = t.t("common.none").to_owned();
    let or_none = |v: &Option<String>| v.clone().filter(|s| !s.is_empty()).unwrap_or(none.clone());
    JobView {
        id: p.id,
        paths: p.paths.join("、"),
        machine: p.machine.clone(),
        person: or_none(&p.person),
        department: or_none(&p.department),
        created_by: actor(t, &p.created_by),
        created: when(p.created_ms),
        enqueued: p
            .enqueued_ms
            .map(when)
            .unwrap_or_else(|| t.t("sj.walking_now").to_owned()),
        finished: p.finished_ms.map(when).unwrap_or_else(|| "-".into()),
        state: t.t(state),
        state_class,
        running: p.finished_ms.is_none(),
        files_done: p.files_done,
        total_files: p.total_files,
        percent: if p.total_files == 0 {
            if p.finished_ms.is_some() { 100 } else { 0 }
        } else {
            p.files_done * 100 / p.total_files
        },
        bytes: format!(
            "{} / {}",
            size(Some(p.bytes_done)),
            size(Some(p.total_bytes))
        ),
        rate: match p.files_per_second() {
            Some(r) => format!("{r:.1} {}", t.t("sj.per_second")),
            None => "-".into(),
        },
        eta: match (p.finished_ms, p.eta_seconds()) {
            (Some(_), _) => "-".into(),
            (None, Some(s)) => format!("{} {}", t.t("sj.eta"), duration(t, s)),
            (None, None) => t.t("sj.eta_unknown").to_owned(),
        },
        workers: p.workers.len(),
        worker_names: p.workers.join("、"),
        incidents: p.incidents,
        alerting: p.alerting,
        errors: p.errors + p.walk_errors,
        walk_errors: p.walk_errors,
        inspected: p.inspected,
        unchanged_by_hash: p.unchanged_by_hash,
        unchanged: p.unchanged,
        batches: p.batches,
        batches_done: p.batches_done,
        batches_leased: p.batches_leased,
        batches_reclaimed: p.batches_reclaimed,
        interrupted: interrupted(t, p),
    }
}

/// Pages of a running job reload themselves every 5 s (the `Refresh` header: no script).
fn refreshing(mut resp: Response, running: bool) -> Response {
    if running {
        resp.headers_mut()
            .insert("refresh", HeaderValue::from_static("5"));
    }
    resp
}

#[derive(Template)]
#[template(path = "scan_jobs.html")]
struct ListPage {
    c: Chrome,
    jobs: Vec<JobView>,
    running: bool,
}

pub async fn list(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
) -> PageResult {
    let mut c = Chrome::new(&state, &p, &headers, "sj.title", "/campaigns");
    c.back = "/scan-jobs".into();
    let store = &state.gateway.store;
    let mut jobs = Vec::new();
    for id in store.scan_job_ids(LIST).await? {
        jobs.push(view(c.t, &store.scan_job_progress(id).await?));
    }
    let running = jobs.iter().any(|j| j.running);
    Ok(refreshing(
        crate::render(&ListPage { c, jobs, running }),
        running,
    ))
}

pub struct BatchView {
    pub seq: i64,
    pub files: i64,
    pub state: &'static str,
    pub owner: String,
    pub until: String,
    pub attempts: i64,
    pub reclaimed_from: String,
    pub done_by: String,
    pub done: String,
}

pub struct FileView {
    pub path: String,
    pub outcome: &'static str,
    pub verdict: String,
    pub level: String,
    pub level_class: &'static str,
    pub incident: Option<String>,
    pub errors: String,
}

#[derive(Template)]
#[template(path = "scan_job.html")]
struct JobPage {
    c: Chrome,
    j: JobView,
    batches: Vec<BatchView>,
    batches_total: usize,
    files: Vec<FileView>,
    files_total: usize,
    page: usize,
    pages: usize,
    prev: Option<String>,
    next: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct JobQuery {
    page: Option<usize>,
}

fn level_class(level: Option<&str>) -> &'static str {
    match level {
        Some("top_secret") => "level lv-top",
        Some("secret") => "level lv-secret",
        Some("confidential") => "level lv-conf",
        Some(_) => "level lv-other",
        None => "",
    }
}

pub async fn job(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<JobQuery>,
) -> PageResult {
    let mut c = Chrome::new(&state, &p, &headers, "sj.job", "/campaigns");
    c.back = format!("/scan-jobs/{id}");
    let t = c.t;
    let store = &state.gateway.store;
    let progress = store.scan_job_progress(id).await?;
    c.title = format!("{} #{id}", t.t("sj.job"));
    let mut j = view(t, &progress);
    let now = progress.now_ms;
    let mut rows = store.scan_batches(id).await?;
    if progress.finished_ms.is_some() {
        // Nobody holds a lease on a finished job: say who did it instead of "0".
        let done_by: std::collections::BTreeSet<&str> =
            rows.iter().filter_map(|b| b.done_by.as_deref()).collect();
        j.workers = done_by.len();
        j.worker_names = done_by.into_iter().collect::<Vec<_>>().join("、");
    }
    let batches_total = rows.len();
    // The unfinished first: those are what a running job is waiting for.
    rows.sort_by_key(|b| (b.state == "done", b.seq));
    let batches = rows
        .iter()
        .take(BATCHES_SHOWN)
        .map(|b| BatchView {
            seq: b.seq,
            files: b.file_count,
            state: t.t(match b.state.as_str() {
                "done" => "sj.batch.done",
                "leased" if b.lease_until_ms.is_some_and(|u| u < now) => "sj.batch.expired",
                "leased" => "sj.batch.leased",
                _ => "sj.batch.queued",
            }),
            owner: b.lease_owner.clone().unwrap_or_default(),
            until: if b.state == "leased" {
                b.lease_until_ms.map(when).unwrap_or_default()
            } else {
                String::new()
            },
            attempts: b.attempts,
            reclaimed_from: b.reclaimed_from.clone().unwrap_or_default(),
            done_by: b.done_by.clone().unwrap_or_default(),
            done: b.done_ms.map(when).unwrap_or_default(),
        })
        .collect();
    let flagged: Vec<_> = store
        .scan_results(id)
        .await?
        .into_iter()
        .filter(|r| {
            r.alerts || r.incident.is_some() || r.outcome == "error" || !r.errors.is_empty()
        })
        .collect();
    let files_total = flagged.len();
    let pages = files_total.div_ceil(FILES_PER_PAGE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let files = flagged
        .iter()
        .skip((page - 1) * FILES_PER_PAGE)
        .take(FILES_PER_PAGE)
        .map(|r| FileView {
            path: r.path.clone(),
            outcome: t.t(match r.outcome.as_str() {
                "inspected" => "sj.outcome.inspected",
                "unchanged" => "sj.outcome.unchanged",
                "gone" => "sj.outcome.gone",
                _ => "sj.outcome.error",
            }),
            verdict: r
                .verdict
                .as_deref()
                .map(|v| t.action(v).to_owned())
                .unwrap_or_default(),
            level: r.level.as_deref().map(|l| t.level(l)).unwrap_or_default(),
            level_class: level_class(r.level.as_deref()),
            incident: r.incident.clone(),
            errors: r.errors.join("；"),
        })
        .collect();
    let link = |n: usize| format!("/scan-jobs/{id}?page={n}#files");
    let running = j.running;
    Ok(refreshing(
        crate::render(&JobPage {
            c,
            j,
            batches,
            batches_total,
            files,
            files_total,
            page,
            pages,
            prev: (page > 1).then(|| link(page - 1)),
            next: (page < pages).then(|| link(page + 1)),
        }),
        running,
    ))
}
