//! Who may do what: the one authorization table every route goes through, pages and REST API
//! alike (三员分立, DOMAIN.md §5).
//!
//! A request is authenticated once ([`authenticate`]: a session cookie or a bearer token) and
//! then carries exactly one [`Subject`]. Every route is added through [`Routes`], which takes
//! the route's [`Permission`] with it, so a route cannot exist without an entry in the table;
//! [`granted`] answers from [`TABLE`], the role → permission table. A route that is denied is
//! audited (`access.denied`), and a state-changing request made with a cookie must come from
//! the console's own origin (CSRF).

use axum::extract::Request;
use axum::handler::Handler;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use axum::{Json, Router};
use baomi_store::{Account, Role, Store, TokenScope};
use serde_json::json;

/// Who a request acts as: one of the three administrative roles, one of the four roles of
/// the publication review, an inspection-only token, or nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    Anonymous,
    /// A `scan`-scoped token: chat gateways, agents, scanners.
    Scan,
    Sysadmin,
    Secadmin,
    Auditor,
    /// 拟稿人
    Drafter,
    /// 部门自审
    Reviewer,
    /// 办公室审核
    Director,
    /// 分管领导审批
    Approver,
    /// 工作人员
    Staff,
}

impl Subject {
    pub const ALL: [Subject; 10] = [
        Subject::Anonymous,
        Subject::Scan,
        Subject::Sysadmin,
        Subject::Secadmin,
        Subject::Auditor,
        Subject::Drafter,
        Subject::Reviewer,
        Subject::Director,
        Subject::Approver,
        Subject::Staff,
    ];

    pub fn of(role: Role) -> Subject {
        match role {
            Role::Sysadmin => Subject::Sysadmin,
            Role::Secadmin => Subject::Secadmin,
            Role::Auditor => Subject::Auditor,
            Role::Drafter => Subject::Drafter,
            Role::Reviewer => Subject::Reviewer,
            Role::Director => Subject::Director,
            Role::Approver => Subject::Approver,
            Role::Staff => Subject::Staff,
        }
    }
}

/// What a route needs. Kept coarse: each is one line of [`TABLE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// No credentials: the login form, `/healthz`, static assets.
    Public,
    /// Any account (its own password, second factor, language, logout).
    SignedIn,
    /// Submit objects for inspection (`POST /api/v1/scan`), and what an agent asks the
    /// server (`/api/v1/agent/…`: is a medium's serial an issued carrier of the ledger).
    Inspect,
    /// Prometheus counters.
    Metrics,
    /// The API document.
    ApiDocument,
    /// Incident queue, detail, dashboard and statistics.
    IncidentsRead,
    /// Dispositions, assignment, comments, bulk dispositions, saved views.
    IncidentsWrite,
    /// Download the evidence; show personal data unmasked (with a typed reason).
    Evidence,
    /// Release or delete held mail.
    Quarantine,
    /// Read the active policy and the term lists, and test files against them.
    Policy,
    /// Store a new version of the policy (the security officer sets policy, 三员分立).
    PolicyEdit,
    /// The policy's stored versions: who changed it, when and why, any version's text and
    /// the difference between two. The auditor checks what the officer changed.
    PolicyHistory,
    /// The registry of secret documents (fingerprints).
    Registry,
    /// Approve or reject account changes proposed by the system administrator.
    ApproveAccounts,
    /// Read, verify and export the audit trail.
    Audit,
    /// Accounts: list, propose, disable, reset passwords.
    Accounts,
    /// API tokens: create, revoke.
    Tokens,
    /// Node health and versions.
    Health,
    /// Send a self-inspection run and the evidence of its blocking files
    /// (`baomi scan --report-to`).
    ReportRun,
    /// Self-inspection runs and campaigns, the statistics table, clue reports.
    Records,
    /// Submit an item for publication review, or a new version of a rejected one.
    ReviewSubmit,
    /// Decide a step of the publication review (which step is the handler's business:
    /// [`baomi_store::ReviewState::decided_by`]).
    ReviewDecide,
    /// Read review items, their form and their masked copies (a drafter: their own).
    ReviewRead,
    /// Ask whether content with a given SHA-256 was approved for publication (portals,
    /// gateways).
    ReviewLookup,
    /// One's own secrecy commitments (read and sign) and knowledge tests (take, see one's
    /// results): every person with an account, whatever their role.
    SelfService,
}

use Permission as P;
use Subject as S;

/// Every subject that is a person with an account (each role), as opposed to a token.
const PEOPLE: [Subject; 8] = [
    S::Sysadmin,
    S::Secadmin,
    S::Auditor,
    S::Drafter,
    S::Reviewer,
    S::Director,
    S::Approver,
    S::Staff,
];

/// The role → permission table. Nothing else grants anything.
pub const TABLE: &[(Permission, &[Subject])] = &[
    (P::Public, &Subject::ALL),
    (P::SignedIn, &PEOPLE),
    (P::Inspect, &[S::Scan, S::Secadmin]),
    (P::Metrics, &[S::Scan, S::Sysadmin]),
    (
        P::ApiDocument,
        &[
            S::Scan,
            S::Sysadmin,
            S::Secadmin,
            S::Auditor,
            S::Drafter,
            S::Reviewer,
            S::Director,
            S::Approver,
            S::Staff,
        ],
    ),
    (P::IncidentsRead, &[S::Secadmin]),
    (P::IncidentsWrite, &[S::Secadmin]),
    (P::Evidence, &[S::Secadmin]),
    (P::Quarantine, &[S::Secadmin]),
    (P::Policy, &[S::Secadmin]),
    (P::PolicyEdit, &[S::Secadmin]),
    (P::PolicyHistory, &[S::Secadmin, S::Auditor]),
    (P::Registry, &[S::Secadmin]),
    (P::ReportRun, &[S::Scan, S::Secadmin]),
    (P::Records, &[S::Secadmin]),
    (P::ApproveAccounts, &[S::Secadmin]),
    (P::Audit, &[S::Auditor]),
    (P::Accounts, &[S::Sysadmin]),
    (P::Tokens, &[S::Sysadmin]),
    (P::Health, &[S::Sysadmin]),
    (P::ReviewSubmit, &[S::Drafter]),
    (P::ReviewDecide, &[S::Reviewer, S::Director, S::Approver]),
    (
        P::ReviewRead,
        &[
            S::Drafter,
            S::Reviewer,
            S::Director,
            S::Approver,
            S::Secadmin,
        ],
    ),
    (
        P::ReviewLookup,
        &[
            S::Scan,
            S::Secadmin,
            S::Drafter,
            S::Reviewer,
            S::Director,
            S::Approver,
        ],
    ),
    (P::SelfService, &PEOPLE),
];

pub fn granted(subject: Subject, permission: Permission) -> bool {
    TABLE
        .iter()
        .find(|(p, _)| *p == permission)
        .is_some_and(|(_, subjects)| subjects.contains(&subject))
}

/// The authenticated side of a request, put in its extensions by [`authenticate`].
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: Subject,
    /// The account behind a session or an account token.
    pub account: Option<Account>,
    /// The name written to the audit log: `user:wang`, `token:agent`, `anonymous`.
    pub actor: String,
    /// Authenticated by the session cookie (so CSRF rules apply).
    pub by_cookie: bool,
    /// The session cookie's secret, for logout.
    pub session: Option<String>,
}

impl Principal {
    /// The names the person behind this principal goes by (account name, display name):
    /// what a "someone else" check, such as the witness of a destruction, compares against.
    pub fn names(&self) -> Vec<&str> {
        match &self.account {
            Some(a) => std::iter::once(a.name.as_str())
                .chain(a.display_name.as_deref())
                .collect(),
            None => Vec::new(),
        }
    }

    fn anonymous() -> Principal {
        Principal {
            subject: Subject::Anonymous,
            account: None,
            actor: "anonymous".into(),
            by_cookie: false,
            session: None,
        }
    }
}

/// Why a request was refused; attached to the response so the console can render a page for
/// it (the API answers JSON).
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

/// One route as the table knows it.
#[derive(Debug, Clone)]
pub struct RouteEntry {
    pub method: Method,
    pub path: &'static str,
    pub permission: Permission,
}

/// A router that cannot be given a route without its permission.
pub struct Routes<St> {
    router: Router<St>,
    entries: Vec<RouteEntry>,
}

impl<St: Clone + Send + Sync + 'static> Default for Routes<St> {
    fn default() -> Self {
        Routes {
            router: Router::new(),
            entries: Vec::new(),
        }
    }
}

impl<St: Clone + Send + Sync + 'static> Routes<St> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get<H, T>(self, path: &'static str, permission: Permission, handler: H) -> Self
    where
        H: Handler<T, St>,
        T: 'static,
    {
        self.add(
            Method::GET,
            path,
            permission,
            on(MethodFilter::GET, handler),
        )
    }

    pub fn post<H, T>(self, path: &'static str, permission: Permission, handler: H) -> Self
    where
        H: Handler<T, St>,
        T: 'static,
    {
        self.add(
            Method::POST,
            path,
            permission,
            on(MethodFilter::POST, handler),
        )
    }

    fn add(
        mut self,
        method: Method,
        path: &'static str,
        permission: Permission,
        handler: MethodRouter<St>,
    ) -> Self {
        self.entries.push(RouteEntry {
            method,
            path,
            permission,
        });
        let guarded = handler.route_layer(middleware::from_fn(move |req: Request, next: Next| {
            authorize(permission, req, next)
        }));
        self.router = self.router.route(path, guarded);
        self
    }

    pub fn merge(mut self, other: Routes<St>) -> Self {
        self.entries.extend(other.entries);
        self.router = self.router.merge(other.router);
        self
    }

    pub fn entries(&self) -> &[RouteEntry] {
        &self.entries
    }

    pub fn into_parts(self) -> (Router<St>, Vec<RouteEntry>) {
        (self.router, self.entries)
    }
}

/// Paths answered as JSON (the rest are console pages).
pub fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/") || path == "/metrics" || path == "/healthz"
}

/// A refusal as a response: JSON `{"error": …}` with the [`Refusal`] attached for the console.
pub fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    let mut resp = (status, Json(json!({ "error": message }))).into_response();
    resp.extensions_mut().insert(Refusal { status, message });
    resp
}

async fn authorize(permission: Permission, req: Request, next: Next) -> Response {
    let principal = req
        .extensions()
        .get::<Principal>()
        .cloned()
        .unwrap_or_else(Principal::anonymous);
    if granted(principal.subject, permission) {
        return next.run(req).await;
    }
    if principal.subject == Subject::Anonymous {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "sign in, or send an API token (Authorization: Bearer …)",
        );
    }
    if let Some(store) = req.extensions().get::<Store>() {
        let path = req.uri().path().to_owned();
        let _ = store
            .audit(
                &principal.actor,
                "access.denied",
                &path,
                json!({"method": req.method().as_str(), "needs": format!("{permission:?}")}),
            )
            .await;
    }
    refuse(
        StatusCode::FORBIDDEN,
        format!("this role may not do that ({permission:?})"),
    )
}

/// The session cookie's name: `__Host-` prefixed when served over TLS.
pub fn session_cookie_name(tls: bool) -> &'static str {
    if tls {
        "__Host-baomi_session"
    } else {
        "baomi_session"
    }
}

/// A cookie's value from the request headers.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A state-changing request from a browser must come from our own origin: `Sec-Fetch-Site`
/// same-origin (or none: typed by the user), else an `Origin` equal to the `Host`.
fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin" || site == "none";
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.trim_end_matches('/') == host),
        _ => false,
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Authenticate a request (bearer token, else session cookie), check CSRF for cookie-borne
/// and console state changes, and put the [`Principal`] and the store in its extensions.
pub async fn authenticate(store: Store, tls: bool, mut req: Request, next: Next) -> Response {
    let headers = req.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_owned());
    let session = cookie(headers, session_cookie_name(tls)).map(str::to_owned);
    let mut principal = Principal::anonymous();
    if let Some(secret) = bearer {
        match store.check_token(&secret).await {
            Ok(Some(t)) => match (t.scope, t.account_id) {
                (TokenScope::Account, Some(id)) => match store.account_by_id(id).await {
                    Ok(acc) if acc.status == baomi_store::AccountStatus::Active => {
                        principal = Principal {
                            subject: Subject::of(acc.role),
                            actor: format!("token:{}({})", t.name, acc.name),
                            account: Some(acc),
                            by_cookie: false,
                            session: None,
                        };
                    }
                    _ => {
                        return refuse(
                            StatusCode::UNAUTHORIZED,
                            "the token's account is not active",
                        );
                    }
                },
                _ => {
                    principal = Principal {
                        subject: Subject::Scan,
                        actor: format!("token:{}", t.name),
                        account: None,
                        by_cookie: false,
                        session: None,
                    };
                }
            },
            Ok(None) => return refuse(StatusCode::UNAUTHORIZED, "unknown or revoked token"),
            Err(e) => return refuse(StatusCode::SERVICE_UNAVAILABLE, format!("{e}")),
        }
    } else if let Some(secret) = session {
        match store.session(&secret).await {
            Ok(Some(acc)) => {
                principal = Principal {
                    subject: Subject::of(acc.role),
                    actor: acc.actor(),
                    account: Some(acc),
                    by_cookie: true,
                    session: Some(secret),
                };
            }
            Ok(None) => {}
            Err(e) => return refuse(StatusCode::SERVICE_UNAVAILABLE, format!("{e}")),
        }
    }
    let console_post = !is_api_path(req.uri().path());
    if !is_safe(req.method())
        && (principal.by_cookie || console_post)
        && !same_origin(req.headers())
    {
        let _ = store
            .audit(
                &principal.actor,
                "access.cross_site",
                req.uri().path(),
                json!({"method": req.method().as_str()}),
            )
            .await;
        return refuse(
            StatusCode::FORBIDDEN,
            "cross-site request refused (it did not come from the console's own pages)",
        );
    }
    req.extensions_mut().insert(principal);
    req.extensions_mut().insert(store);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_has_one_line_and_roles_do_not_overlap_on_business_data() {
        let all = [
            P::Public,
            P::SignedIn,
            P::Inspect,
            P::Metrics,
            P::ApiDocument,
            P::IncidentsRead,
            P::IncidentsWrite,
            P::Evidence,
            P::Quarantine,
            P::Policy,
            P::PolicyEdit,
            P::PolicyHistory,
            P::Registry,
            P::ApproveAccounts,
            P::Audit,
            P::Accounts,
            P::Tokens,
            P::Health,
            P::ReportRun,
            P::Records,
            P::ReviewSubmit,
            P::ReviewDecide,
            P::ReviewRead,
            P::ReviewLookup,
        ];
        for p in all {
            assert_eq!(TABLE.iter().filter(|(q, _)| *q == p).count(), 1, "{p:?}");
        }
        // 三员分立: business data only for the security officer, the trail only for the
        // auditor, accounts only for the system administrator.
        for p in [
            P::IncidentsRead,
            P::Evidence,
            P::Policy,
            P::PolicyEdit,
            P::Registry,
            P::Records,
        ] {
            assert!(granted(S::Secadmin, p));
            assert!(!granted(S::Sysadmin, p) && !granted(S::Auditor, p) && !granted(S::Scan, p));
        }
        // The security officer sets policy; the auditor reads its versions (who changed
        // what) but cannot change it; the system administrator does neither.
        assert!(granted(S::Secadmin, P::PolicyHistory) && granted(S::Auditor, P::PolicyHistory));
        assert!(!granted(S::Sysadmin, P::PolicyHistory) && !granted(S::Scan, P::PolicyHistory));
        assert!(granted(S::Auditor, P::Audit));
        assert!(!granted(S::Sysadmin, P::Audit) && !granted(S::Secadmin, P::Audit));
        assert!(granted(S::Sysadmin, P::Accounts));
        assert!(!granted(S::Secadmin, P::Accounts) && !granted(S::Auditor, P::Accounts));
        assert!(!granted(S::Anonymous, P::SignedIn));
        // What is public is public to everyone (found by schemathesis: a drafter's token
        // got 403 from /healthz).
        for s in Subject::ALL {
            assert!(granted(s, P::Public), "{s:?}");
        }
        // The publication review's people see that workflow and nothing of 三员's.
        for s in [S::Drafter, S::Reviewer, S::Director, S::Approver] {
            for (p, _) in TABLE {
                let theirs = matches!(
                    p,
                    P::Public
                        | P::SignedIn
                        | P::ApiDocument
                        | P::ReviewSubmit
                        | P::ReviewDecide
                        | P::ReviewRead
                        | P::ReviewLookup
                        | P::SelfService
                );
                if !theirs {
                    assert!(!granted(s, *p), "{s:?} {p:?}");
                }
            }
            assert!(granted(s, P::ReviewRead));
        }
        // Staff sign their own commitments and take the tests; nothing else.
        for (p, _) in TABLE {
            let theirs = matches!(p, P::Public | P::SignedIn | P::ApiDocument | P::SelfService);
            assert_eq!(granted(S::Staff, *p), theirs, "{p:?}");
        }
        for s in PEOPLE {
            assert!(granted(s, P::SelfService), "{s:?}");
        }
        assert!(!granted(S::Scan, P::SelfService) && !granted(S::Anonymous, P::SelfService));
        assert!(granted(S::Drafter, P::ReviewSubmit) && !granted(S::Drafter, P::ReviewDecide));
        assert!(!granted(S::Secadmin, P::ReviewDecide) && !granted(S::Secadmin, P::ReviewSubmit));
    }
}
