//! The web console of `baomi serve`, on the same listener as the REST API: server-rendered
//! pages (askama templates beside this crate, in `templates/`), assets embedded in the
//! binary (`assets/`, ECharts vendored under `assets/vendor/`), no JavaScript build and
//! nothing from the internet at run time.
//!
//! Three people work here, each with one role (三员分立): the security officer (incident
//! queue, dashboard, records, policy, registry, approvals), the auditor (the audit trail
//! and the policy's versions)
//! and the system administrator (accounts, tokens, health); beside them the people of the
//! publication review (drafter, department reviewer, office, leader) see that page only. Which page each may open is not decided
//! here: every route is added with its permission through [`baomi_server::authz::Routes`],
//! and the table in `baomi_server::authz` decides, for pages and API alike.

use axum::extract::{Path, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use baomi_server::api::ApiState;
use baomi_server::authz::{self, Permission as P, Principal, Refusal, RouteEntry, Routes, Subject};

pub mod i18n;
mod pages;

use i18n::{Lang, Tr};

/// Static files: CSS, the small script, vendored ECharts.
#[derive(rust_embed::Embed)]
#[folder = "assets/"]
struct Assets;

/// Every console route with its permission.
pub fn routes() -> Routes<ApiState> {
    use pages::*;
    Routes::new()
        .get("/", P::SignedIn, home)
        .get("/login", P::Public, auth::login_form)
        .post("/login", P::Public, auth::login)
        .post("/logout", P::SignedIn, auth::logout)
        .get("/lang/{lang}", P::Public, auth::set_lang)
        .get("/assets/{*path}", P::Public, asset)
        .get("/me", P::SignedIn, auth::me)
        .post("/me/password", P::SignedIn, auth::change_password)
        .post("/me/totp", P::SignedIn, auth::totp_begin)
        .post("/me/totp/confirm", P::SignedIn, auth::totp_confirm)
        .get("/dashboard", P::IncidentsRead, dashboard::page)
        .get("/incidents", P::IncidentsRead, incidents::queue)
        .post("/incidents/bulk", P::IncidentsWrite, incidents::bulk)
        .post("/incidents/views", P::IncidentsWrite, incidents::save_view)
        .post(
            "/incidents/views/{id}/delete",
            P::IncidentsWrite,
            incidents::delete_view,
        )
        .get("/incidents/{number}", P::IncidentsRead, incidents::detail)
        .post(
            "/incidents/{number}/disposition",
            P::IncidentsWrite,
            incidents::disposition,
        )
        .post(
            "/incidents/{number}/assign",
            P::IncidentsWrite,
            incidents::assign,
        )
        .post(
            "/incidents/{number}/comment",
            P::IncidentsWrite,
            incidents::comment,
        )
        .post("/incidents/{number}/unmask", P::Evidence, incidents::unmask)
        .get(
            "/incidents/{number}/evidence",
            P::Evidence,
            incidents::evidence,
        )
        .post(
            "/incidents/{number}/release",
            P::Quarantine,
            incidents::release,
        )
        .post(
            "/incidents/{number}/delete-mail",
            P::Quarantine,
            incidents::delete_mail,
        )
        .post(
            "/incidents/{number}/print-release",
            P::Quarantine,
            incidents::print_release,
        )
        .post(
            "/incidents/{number}/print-cancel",
            P::Quarantine,
            incidents::print_cancel,
        )
        .get("/campaigns", P::Records, records::campaigns)
        .post("/campaigns", P::Records, records::create_campaign)
        .get("/campaigns/{id}", P::Records, records::campaign)
        .post("/campaigns/{id}/entries", P::Records, records::set_entry)
        .get(
            "/reports/self-inspection",
            P::Records,
            records::self_inspection,
        )
        .get("/scan-jobs", P::Records, scan_jobs::list)
        .get("/scan-jobs/{id}", P::Records, scan_jobs::job)
        .get("/clues", P::Records, records::clues)
        .post("/clues", P::Records, records::create_clue)
        .get("/clues/{id}", P::Records, records::clue)
        .post("/clues/{id}", P::Records, records::save_clue)
        .post("/clues/{id}/issue", P::Records, records::issue_clue)
        .post("/clues/{id}/correct", P::Records, records::correct_clue)
        .get("/redact", P::Records, records::redact_page)
        .post("/redact", P::Records, records::redact_file)
        .get("/ledger", P::Records, records::ledger)
        .post("/ledger", P::Records, records::add_carrier)
        .post("/ledger/import", P::Records, records::import_ledger)
        .get("/ledger/{number}", P::Records, records::carrier)
        .post(
            "/ledger/{number}/events",
            P::Records,
            records::carrier_event,
        )
        .post(
            "/ledger/{number}/fingerprint",
            P::Records,
            records::carrier_fingerprint,
        )
        .get("/chat-groups", P::Records, chat_groups::registry)
        .post("/chat-groups", P::Records, chat_groups::register)
        .post("/chat-groups/checks", P::Records, chat_groups::run_checks)
        .get("/chat-groups/{id}", P::Records, chat_groups::group)
        .post("/chat-groups/{id}", P::Records, chat_groups::update)
        .post(
            "/chat-groups/{id}/members",
            P::Records,
            chat_groups::import_members,
        )
        .post(
            "/chat-groups/{id}/members/{member}/remove",
            P::Records,
            chat_groups::remove_member,
        )
        .post(
            "/chat-groups/{id}/approve",
            P::Records,
            chat_groups::approve,
        )
        .post(
            "/chat-groups/{id}/dissolve",
            P::Records,
            chat_groups::dissolve,
        )
        .get("/my/commitments", P::SelfService, commitments::mine)
        .post("/my/commitments", P::SelfService, commitments::sign)
        .get("/commitments", P::Records, commitments::overview)
        .post("/commitments", P::Records, commitments::create)
        .post("/commitments/paper", P::Records, commitments::paper)
        .get("/commitments/{id}", P::Records, commitments::template)
        .post(
            "/commitments/{id}/versions",
            P::Records,
            commitments::new_version,
        )
        .get("/my/quizzes", P::SelfService, quizzes::mine)
        .post("/my/quizzes/{id}/start", P::SelfService, quizzes::start)
        .get(
            "/my/quizzes/attempts/{id}",
            P::SelfService,
            quizzes::attempt,
        )
        .post("/my/quizzes/attempts/{id}", P::SelfService, quizzes::submit)
        .get("/quizzes", P::Records, quizzes::overview)
        .post("/quizzes", P::Records, quizzes::create)
        .post("/quizzes/banks", P::Records, quizzes::import_bank)
        .get("/quizzes/{id}", P::Records, quizzes::results)
        .get("/reviews", P::ReviewRead, reviews::list)
        .post("/reviews", P::ReviewSubmit, reviews::submit)
        .get("/reviews/{id}", P::ReviewRead, reviews::item)
        .post("/reviews/{id}/decision", P::ReviewDecide, reviews::decide)
        .post("/reviews/{id}/versions", P::ReviewSubmit, reviews::resubmit)
        .get("/reviews/{id}/content", P::ReviewRead, reviews::content)
        .get("/policy", P::Policy, policy::page)
        .post("/policy/test", P::Policy, policy::test_file)
        .get("/policy/edit", P::PolicyEdit, policy::edit)
        .post("/policy/edit", P::PolicyEdit, policy::save)
        .get("/policy/versions", P::PolicyHistory, policy::versions)
        .get("/policy/versions/{id}", P::PolicyHistory, policy::version)
        .get("/policy/diff", P::PolicyHistory, policy::diff)
        .get("/registry", P::Registry, policy::registry)
        .post("/registry", P::Registry, policy::register)
        .post("/registry/{id}/remove", P::Registry, policy::unregister)
        .get("/approvals", P::ApproveAccounts, admin::approvals)
        .post(
            "/approvals/{name}/approve",
            P::ApproveAccounts,
            admin::approve,
        )
        .post(
            "/approvals/{name}/reject",
            P::ApproveAccounts,
            admin::reject,
        )
        .get("/audit", P::Audit, audit::page)
        .get("/audit/export.csv", P::Audit, audit::export)
        .get("/accounts", P::Accounts, admin::accounts)
        .post("/accounts", P::Accounts, admin::propose)
        .post("/accounts/{name}/role", P::Accounts, admin::propose_role)
        .post(
            "/accounts/{name}/password",
            P::Accounts,
            admin::propose_password,
        )
        .post("/accounts/{name}/disable", P::Accounts, admin::disable)
        .get("/tokens", P::Tokens, admin::tokens)
        .post("/tokens", P::Tokens, admin::create_token)
        .post("/tokens/{id}/revoke", P::Tokens, admin::revoke_token)
        .get("/health", P::Health, admin::health)
}

/// The whole HTTP application: REST API and console behind one authorization layer, with
/// refusals rendered as pages outside `/api/`.
pub fn app(state: ApiState) -> axum::Router {
    app_with_table(state).0
}

/// [`app`] and the table of every route (for the test that walks them all).
pub fn app_with_table(state: ApiState) -> (axum::Router, Vec<RouteEntry>) {
    pages::admin::mark_start();
    let default_lang =
        Lang::parse(&state.gateway.config.console.default_language).unwrap_or(Lang::Zh);
    let (router, table) = baomi_server::api::app(state, routes());
    let router = router.layer(middleware::from_fn(move |req: Request, next: Next| {
        error_pages(default_lang, req, next)
    }));
    (router, table)
}

/// The language of a request: its `baomi_lang` cookie, else the configured default.
pub(crate) fn lang_of(headers: &HeaderMap, default: Lang) -> Lang {
    authz::cookie(headers, "baomi_lang")
        .and_then(Lang::parse)
        .unwrap_or(default)
}

/// Turn refusals of page requests into pages: 401 → the login form, others → an error page.
async fn error_pages(default_lang: Lang, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let get = req.method() == axum::http::Method::GET;
    let lang = lang_of(req.headers(), default_lang);
    let had_session = [false, true]
        .iter()
        .any(|tls| authz::cookie(req.headers(), authz::session_cookie_name(*tls)).is_some());
    let resp = next.run(req).await;
    if authz::is_api_path(&path) {
        return resp;
    }
    let Some(refusal) = resp.extensions().get::<Refusal>().cloned() else {
        return resp;
    };
    if refusal.status == StatusCode::UNAUTHORIZED && get {
        let back = match query {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let mut to = format!("/login?next={}", pages::url_encode(&back));
        if had_session {
            to.push_str("&expired=1");
        }
        return Redirect::to(&to).into_response();
    }
    pages::error_page(Tr { lang }, refusal.status, &refusal.message)
}

/// `/`: each role's start page.
async fn home(axum::Extension(p): axum::Extension<Principal>) -> Response {
    let to = match p.subject {
        Subject::Secadmin => "/dashboard",
        Subject::Auditor => "/audit",
        Subject::Sysadmin => "/accounts",
        Subject::Drafter | Subject::Reviewer | Subject::Director | Subject::Approver => "/reviews",
        Subject::Staff => "/my/commitments",
        _ => "/login",
    };
    Redirect::to(to).into_response()
}

async fn asset(Path(path): Path<String>) -> Response {
    match Assets::get(&path) {
        Some(file) => {
            let mime = match path.rsplit('.').next() {
                Some("css") => "text/css; charset=utf-8",
                Some("js") => "application/javascript; charset=utf-8",
                Some("svg") => "image/svg+xml",
                Some("png") => "image/png",
                _ => "application/octet-stream",
            };
            let mut resp = file.data.into_owned().into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
            resp.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
            resp
        }
        None => authz::refuse(StatusCode::NOT_FOUND, format!("no asset {path}")),
    }
}

/// The rendered page, or a 500 page naming the template error.
pub(crate) fn render<T: askama::Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => {
            let mut resp = Html(html).into_response();
            let h = resp.headers_mut();
            // Pages hold officers' data: never cached, never framed, no foreign scripts.
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert("x-frame-options", HeaderValue::from_static("DENY"));
            h.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            h.insert(
                "content-security-policy",
                HeaderValue::from_static(
                    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
                ),
            );
            h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
            resp
        }
        Err(e) => {
            tracing::error!("console template: {e}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("template error: {e}"),
            )
                .into_response()
        }
    }
}
