//! 信息发布审查: the publication secrecy review in the console. A drafter submits the text and
//! files to publish and follows them; the department reviewer, the office and the leader
//! each see the items waiting for their step, with what the scan found, and decide; the
//! security officer sees them all. The workflow's rules are the store's, the scanning and
//! the hashes the API module's ([`baomi_server::reviews_api`]); this module only shows them.

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use baomi_server::api::{ApiError, ApiState};
use baomi_server::authz::Principal;
use baomi_server::reviews_api::{self, PieceParams};
use baomi_store::{Decision, Review, ReviewState, Role, Store};
use serde::Deserialize;

use super::policy::{TestFinding, finding_rows};
use super::{Chrome, PageError, PageResult, back_to, back_with_error, when};

fn api_error(e: ApiError) -> PageError {
    PageError(e.0, e.1)
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    /// `mine` (default for deciders: waiting for my step), `all`, or a state.
    show: Option<String>,
    done: Option<String>,
    error: Option<String>,
}

pub struct ReviewRow {
    pub id: i64,
    pub number: String,
    pub title: String,
    pub drafter: String,
    pub department: String,
    pub state: &'static str,
    pub state_key: &'static str,
    pub version: i64,
    pub updated: String,
}

pub struct Tab {
    pub key: &'static str,
    pub label: &'static str,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "reviews.html")]
struct ReviewsPage {
    c: Chrome,
    rows: Vec<ReviewRow>,
    tabs: Vec<Tab>,
    drafter: bool,
}

/// The number an item is known by: 审查〔2026〕12号.
pub fn number(r: &Review) -> String {
    format!(
        "审查〔{}〕{}号",
        &baomi_store::local_date(r.created_ms)[..4],
        r.id
    )
}

fn state_label(c: &Chrome, s: ReviewState) -> &'static str {
    if c.t.is_zh() { s.zh() } else { s.en() }
}

/// `GET /reviews`
pub async fn list(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let c = Chrome::new(&state, &p, &headers, "nav.reviews", "/reviews")
        .flash_from(q.done.as_deref(), q.error.as_deref());
    let account = reviews_api::account_of(&p).map_err(api_error)?;
    // A decider starts from what waits for their step; a drafter and the security
    // officer from everything they can see.
    let waiting_step = ReviewState::ALL
        .into_iter()
        .find(|s| s.decided_by() == Some(account.role));
    let show = q.show.clone().unwrap_or_else(|| {
        if waiting_step.is_some() {
            "mine".into()
        } else {
            "all".into()
        }
    });
    let only = match show.as_str() {
        "mine" => waiting_step,
        other => ReviewState::parse(other),
    };
    let items = reviews_api::list_for(&state, account, only)
        .await
        .map_err(api_error)?;
    let rows = items
        .iter()
        .map(|r| ReviewRow {
            id: r.id,
            number: number(r),
            title: r.title.clone(),
            drafter: r.drafter_signs().to_owned(),
            department: r.department.clone().unwrap_or_default(),
            state: state_label(&c, r.state),
            state_key: r.state.as_str(),
            version: r.version,
            updated: when(r.updated_ms),
        })
        .collect();
    let mut tabs = Vec::new();
    if waiting_step.is_some() {
        tabs.push(Tab {
            key: "mine",
            label: c.t.t("review.tab_mine"),
            active: show == "mine",
        });
    }
    tabs.push(Tab {
        key: "all",
        label: c.t.t("review.tab_all"),
        active: show == "all",
    });
    for s in [ReviewState::Approved, ReviewState::Rejected] {
        tabs.push(Tab {
            key: s.as_str(),
            label: state_label(&c, s),
            active: show == s.as_str(),
        });
    }
    Ok(crate::render(&ReviewsPage {
        drafter: account.role == Role::Drafter,
        c,
        rows,
        tabs,
    }))
}

/// `POST /reviews` (multipart, from the drafter's form).
pub async fn submit(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    mp: Multipart,
) -> PageResult {
    let account = reviews_api::account_of(&p).map_err(api_error)?.clone();
    let s = match reviews_api::read_submission(mp).await {
        Ok(s) => s,
        Err(e) => return Ok(back_with_error("/reviews", &e.1)),
    };
    let new = reviews_api::intake(&state, s).await.map_err(api_error)?;
    match state
        .gateway
        .store
        .submit_review(&new, &account, &p.actor)
        .await
    {
        Ok(r) => Ok(back_to(&format!("/reviews/{}", r.id), "review.submitted")),
        Err(e @ baomi_store::StoreError::Invalid(_)) => {
            Ok(back_with_error("/reviews", &e.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

pub struct ObjectScan {
    pub name: String,
    pub is_text: bool,
    pub verdict: &'static str,
    pub verdict_key: String,
    pub findings: Vec<TestFinding>,
}

pub struct FileRow {
    pub seq: i64,
    pub name: String,
    pub size: String,
    pub true_type: String,
    pub sha256: String,
}

pub struct StepRow {
    pub version: i64,
    pub step: &'static str,
    pub decision: &'static str,
    pub decision_key: String,
    pub comment: String,
    pub acknowledged: bool,
    pub signer: String,
    pub role: &'static str,
    pub when: String,
}

pub struct Stage {
    pub label: &'static str,
    /// `done`, `current`, `todo`, `rejected`, `final` (approved)
    pub class: &'static str,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    c: Chrome,
    id: i64,
    number: String,
    title: String,
    drafter: String,
    department: String,
    state: &'static str,
    state_key: &'static str,
    version: i64,
    submitted: String,
    stages: Vec<Stage>,
    text: String,
    text_sha256: String,
    content_sha256: String,
    files: Vec<FileRow>,
    summary: String,
    blocking: bool,
    objects: Vec<ObjectScan>,
    history: Vec<StepRow>,
    may_decide: bool,
    /// Why this decider may not decide now (shown to deciders only).
    refusal: String,
    may_resubmit: bool,
}

fn decision_label(c: &Chrome, d: &str) -> &'static str {
    c.t.t(match d {
        "submit" => "review.d_submit",
        "approve" => "review.d_approve",
        _ => "review.d_reject",
    })
}

/// `GET /reviews/{id}`
pub async fn item(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(q): Query<ListQuery>,
) -> PageResult {
    let c = Chrome::new(&state, &p, &headers, "nav.reviews", "/reviews")
        .flash_from(q.done.as_deref(), q.error.as_deref());
    let account = reviews_api::account_of(&p).map_err(api_error)?.clone();
    let d = reviews_api::visible(&state, &p, id)
        .await
        .map_err(api_error)?;
    let v = d.current();
    let r = &d.review;
    let text = reviews_api::text_of(&state, v).await.map_err(api_error)?;
    let objects = v.scan["objects"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            let action = o["report"]["verdict"]
                .as_str()
                .unwrap_or("allow")
                .to_owned();
            ObjectScan {
                name: o["name"].as_str().unwrap_or("").to_owned(),
                is_text: o["kind"] == "text",
                verdict: c.t.action(&action),
                verdict_key: action,
                findings: finding_rows(c.t, &o["report"]["findings"]),
            }
        })
        .collect();
    let steps = [
        (ReviewState::SelfReview, "review.s_self"),
        (ReviewState::OfficeReview, "review.s_office"),
        (ReviewState::LeaderApproval, "review.s_leader"),
        (ReviewState::Approved, "review.s_approved"),
    ];
    let reached = |s: ReviewState| {
        d.history
            .iter()
            .any(|h| h.version == v.version && h.step == s.as_str() && h.decision == "approve")
    };
    let mut stages = vec![Stage {
        label: c.t.t("review.s_draft"),
        class: "done",
    }];
    for (s, key) in steps {
        let class = if r.state == s && s == ReviewState::Approved {
            "final"
        } else if r.state == s {
            "current"
        } else if reached(s) {
            "done"
        } else if r.state == ReviewState::Rejected
            && d.history
                .iter()
                .any(|h| h.version == v.version && h.step == s.as_str() && h.decision == "reject")
        {
            "rejected"
        } else {
            "todo"
        };
        stages.push(Stage {
            label: c.t.t(key),
            class,
        });
    }
    let history = d
        .history
        .iter()
        .map(|h| StepRow {
            version: h.version,
            step: if h.decision == "submit" {
                c.t.t("review.s_draft")
            } else {
                ReviewState::parse(&h.step).map_or("", |s| state_label(&c, s))
            },
            decision: decision_label(&c, &h.decision),
            decision_key: h.decision.clone(),
            comment: h.comment.clone().unwrap_or_default(),
            acknowledged: h.acknowledged,
            signer: h.signer().to_owned(),
            role: c.t.role(&h.role),
            when: when(h.created_ms),
        })
        .collect();
    let refusal = Store::review_refusal(&d, &account);
    let decider = matches!(
        account.role,
        Role::Reviewer | Role::Director | Role::Approver
    );
    Ok(crate::render(&ReviewPage {
        id,
        number: number(r),
        title: v.title.clone(),
        drafter: r.drafter_signs().to_owned(),
        department: r.department.clone().unwrap_or_default(),
        state: state_label(&c, r.state),
        state_key: r.state.as_str(),
        version: v.version,
        submitted: when(v.submitted_ms),
        stages,
        text,
        text_sha256: v.text_sha256.clone().unwrap_or_default(),
        content_sha256: v.content_sha256.clone(),
        files: v
            .files
            .iter()
            .map(|f| FileRow {
                seq: f.seq,
                name: f.name.clone(),
                size: super::size(Some(f.size)),
                true_type: f.true_type.clone(),
                sha256: f.sha256.clone(),
            })
            .collect(),
        summary: baomi_records::review::scan_summary(&v.scan, &v.action),
        blocking: v.blocking,
        objects,
        history,
        may_decide: refusal.is_none(),
        refusal: if decider && r.state.in_review() {
            refusal.unwrap_or_default()
        } else {
            String::new()
        },
        may_resubmit: r.state == ReviewState::Rejected && r.drafter == account.name,
        c,
    }))
}

#[derive(Deserialize)]
pub struct DecisionForm {
    decision: String,
    #[serde(default)]
    comment: String,
    /// The check box "我已查看上述检测发现".
    #[serde(default)]
    acknowledge: Option<String>,
}

/// `POST /reviews/{id}/decision`
pub async fn decide(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    Form(f): Form<DecisionForm>,
) -> PageResult {
    let back = format!("/reviews/{id}");
    let account = reviews_api::account_of(&p).map_err(api_error)?.clone();
    let d = reviews_api::visible(&state, &p, id)
        .await
        .map_err(api_error)?;
    let Some(decision) = Decision::parse(&f.decision) else {
        return Ok(back_with_error(&back, "review.choose"));
    };
    if decision == Decision::Approve && d.current().blocking && f.acknowledge.is_none() {
        return Ok(back_with_error(&back, "review.ack_needed"));
    }
    match state
        .gateway
        .store
        .decide_review(id, decision, Some(&f.comment), &account, &p.actor)
        .await
    {
        Ok(_) => Ok(back_to(
            "/reviews",
            match decision {
                Decision::Approve => "review.approved_done",
                Decision::Reject => "review.rejected_done",
            },
        )),
        Err(
            e @ (baomi_store::StoreError::Invalid(_)
            | baomi_store::StoreError::Refused(_)
            | baomi_store::StoreError::Conflict(_)),
        ) => Ok(back_with_error(&back, &e.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// `POST /reviews/{id}/versions` (multipart): the drafter's new version after a rejection.
pub async fn resubmit(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    mp: Multipart,
) -> PageResult {
    let back = format!("/reviews/{id}");
    let account = reviews_api::account_of(&p).map_err(api_error)?.clone();
    reviews_api::visible(&state, &p, id)
        .await
        .map_err(api_error)?;
    let s = match reviews_api::read_submission(mp).await {
        Ok(s) => s,
        Err(e) => return Ok(back_with_error(&back, &e.1)),
    };
    let new = reviews_api::intake(&state, s).await.map_err(api_error)?;
    match state
        .gateway
        .store
        .resubmit_review(id, &new, &account, &p.actor)
        .await
    {
        Ok(_) => Ok(back_to(&back, "review.resubmitted")),
        Err(
            e @ (baomi_store::StoreError::Invalid(_)
            | baomi_store::StoreError::Refused(_)
            | baomi_store::StoreError::Conflict(_)),
        ) => Ok(back_with_error(&back, &e.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// `GET /reviews/{id}/content?file=N&redacted=1`: the text or a file, or its masked copy
/// (数据脱敏) — what the drafter publishes once the item is approved.
pub async fn content(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    Query(q): Query<PieceParams>,
) -> PageResult {
    let back = format!("/reviews/{id}");
    let d = reviews_api::visible(&state, &p, id)
        .await
        .map_err(api_error)?;
    match reviews_api::piece(&state, &p, &d, q.version, q.file, q.wants_redacted()).await {
        Ok((name, bytes)) => Ok(reviews_api::attachment(
            &name,
            if q.file.is_none() {
                "text/plain; charset=utf-8"
            } else {
                "application/octet-stream"
            },
            bytes,
        )),
        Err(e) if e.0 == axum::http::StatusCode::UNPROCESSABLE_ENTITY => {
            Ok(back_with_error(&back, &e.1))
        }
        Err(e) => Err(api_error(e)),
    }
    .map(IntoResponse::into_response)
}
