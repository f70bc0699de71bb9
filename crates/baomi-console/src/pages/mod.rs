//! The pages, one module per person's area of work, and what every page shares: the
//! [`Chrome`] (header, navigation by role, language), time formatting, flash messages.

use askama::Template;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use baomi_server::api::ApiState;
use baomi_server::authz::{Principal, Subject};

use crate::i18n::{Lang, Tr};

pub mod admin;
pub mod audit;
pub mod auth;
pub mod chat_groups;
pub mod commitments;
pub mod dashboard;
pub mod incidents;
pub mod policy;
pub mod quizzes;
pub mod records;
pub mod reviews;
pub mod scan_jobs;

/// One navigation link.
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub active: bool,
}

/// What the frame of every signed-in page needs.
pub struct Chrome {
    pub t: Tr,
    pub title: String,
    pub nav: Vec<NavItem>,
    pub user: String,
    pub role: &'static str,
    pub other_lang: &'static str,
    /// Where the language switch returns to.
    pub back: String,
    /// A message after an action (`?done=…`), already in words.
    pub flash: Option<String>,
    pub flash_error: bool,
}

impl Chrome {
    pub fn new(
        state: &ApiState,
        p: &Principal,
        headers: &HeaderMap,
        title_key: &str,
        active: &str,
    ) -> Chrome {
        let default =
            Lang::parse(&state.gateway.config.console.default_language).unwrap_or(Lang::Zh);
        let t = Tr {
            lang: crate::lang_of(headers, default),
        };
        let items: &[(&'static str, &'static str)] = match p.subject {
            Subject::Secadmin => &[
                ("/dashboard", "nav.dashboard"),
                ("/incidents", "nav.incidents"),
                ("/campaigns", "nav.campaigns"),
                ("/reports/self-inspection", "nav.statistics"),
                ("/clues", "nav.clues"),
                ("/ledger", "nav.ledger"),
                ("/redact", "nav.redact"),
                ("/reviews", "nav.reviews"),
                ("/policy", "nav.policy"),
                ("/registry", "nav.registry"),
                ("/chat-groups", "nav.daily"),
                ("/approvals", "nav.approvals"),
            ],
            Subject::Auditor => &[
                ("/audit", "nav.audit"),
                ("/policy/versions", "nav.policy_versions"),
            ],
            Subject::Drafter | Subject::Reviewer | Subject::Director | Subject::Approver => {
                &[("/reviews", "nav.reviews")]
            }
            Subject::Sysadmin => &[
                ("/accounts", "nav.accounts"),
                ("/tokens", "nav.tokens"),
                ("/health", "nav.health"),
            ],
            _ => &[],
        };
        let mut nav: Vec<NavItem> = items
            .iter()
            .map(|(href, key)| NavItem {
                href,
                label: t.t(key),
                active: *href == active,
            })
            .collect();
        // Every person signs commitments and takes the knowledge tests, whatever their role.
        if p.account.is_some() {
            nav.push(NavItem {
                href: "/my/commitments",
                label: t.t("nav.my_duties"),
                active: active == "/my/commitments",
            });
        }
        // The account's own page is behind the name at the right, not in the menu.
        let (user, role) = match &p.account {
            Some(a) => (
                a.display_name.clone().unwrap_or_else(|| a.name.clone()),
                t.role(a.role.as_str()),
            ),
            None => (p.actor.clone(), ""),
        };
        Chrome {
            t,
            title: t.t(title_key).to_owned(),
            nav,
            user,
            role,
            other_lang: if t.is_zh() { "en" } else { "zh" },
            back: if active.is_empty() {
                "/".into()
            } else {
                active.to_owned()
            },
            flash: None,
            flash_error: false,
        }
    }

    pub fn with_flash(mut self, text: Option<String>, error: bool) -> Chrome {
        self.flash = text;
        self.flash_error = error;
        self
    }

    /// A flash from `?done=key` / `?error=key`.
    pub fn flash_from(self, done: Option<&str>, error: Option<&str>) -> Chrome {
        let t = self.t;
        if let Some(e) = error {
            return self.with_flash(Some(known_or(t, e)), true);
        }
        match done {
            Some(d) => self.with_flash(Some(known_or(t, d)), false),
            None => self,
        }
    }
}

/// A message key in words, or the text itself when it is not a key (store errors).
fn known_or(t: Tr, key: &str) -> String {
    if crate::i18n::WORDS.iter().any(|(k, _, _)| *k == key) {
        t.t(key).to_owned()
    } else {
        key.to_owned()
    }
}

/// `2026-12-01 21:30` in Beijing time.
pub fn when(ms: i64) -> String {
    let local = ms + baomi_store::LOCAL_OFFSET_MS;
    let day = local.div_euclid(86_400_000);
    let (y, m, d) = baomi_store::civil_from_days(day);
    let secs = local.rem_euclid(86_400_000) / 1000;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        secs / 3600,
        secs / 60 % 60
    )
}

pub fn when_opt(ms: Option<i64>, t: Tr) -> String {
    ms.map(when).unwrap_or_else(|| t.t("tok.never").to_owned())
}

/// Bytes as a person reads them.
pub fn size(bytes: Option<i64>) -> String {
    match bytes {
        None => "-".into(),
        Some(b) if b < 1024 => format!("{b} B"),
        Some(b) if b < 1 << 20 => format!("{:.1} KB", b as f64 / 1024.0),
        Some(b) if b < 1 << 30 => format!("{:.1} MB", b as f64 / 1048576.0),
        Some(b) => format!("{:.2} GB", b as f64 / 1073741824.0),
    }
}

/// A path segment: everything but the unreserved characters (`A-Za-z0-9-._~`) encoded, so
/// `JM-2026-001` stays readable and `机要/1` cannot add a segment.
pub fn path_encode(s: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

pub fn url_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    t: Tr,
    status: u16,
    headline: &'static str,
    detail: String,
}

pub fn error_page(t: Tr, status: StatusCode, detail: &str) -> Response {
    let key = match status.as_u16() {
        401 => "error.401",
        403 => "error.403",
        404 => "error.404",
        413 => "error.413",
        400 | 409 | 422 => "error.400",
        _ => "error.500",
    };
    let mut resp = crate::render(&ErrorPage {
        t,
        status: status.as_u16(),
        headline: t.t(key),
        detail: detail.to_owned(),
    });
    *resp.status_mut() = status;
    resp
}

/// A failure inside a page handler: rendered as an error page with its status.
pub struct PageError(pub StatusCode, pub String);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        // The outer layer renders it in the reader's language.
        baomi_server::authz::refuse(self.0, self.1)
    }
}

impl From<baomi_store::StoreError> for PageError {
    fn from(e: baomi_store::StoreError) -> Self {
        let status = match &e {
            baomi_store::StoreError::NotFound(_) => StatusCode::NOT_FOUND,
            baomi_store::StoreError::Invalid(_) => StatusCode::BAD_REQUEST,
            baomi_store::StoreError::Conflict(_) => StatusCode::CONFLICT,
            baomi_store::StoreError::Refused(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        PageError(status, e.to_string())
    }
}

impl From<anyhow::Error> for PageError {
    fn from(e: anyhow::Error) -> Self {
        PageError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
    }
}

pub type PageResult = Result<Response, PageError>;

/// Redirect after a POST, with a flash message key.
pub fn back_to(path: &str, done: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    axum::response::Redirect::to(&format!("{path}{sep}done={}", url_encode(done))).into_response()
}

pub fn back_with_error(path: &str, error: &str) -> Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    axum::response::Redirect::to(&format!("{path}{sep}error={}", url_encode(error))).into_response()
}

pub fn account(p: &Principal) -> Result<&baomi_store::Account, PageError> {
    p.account.as_ref().ok_or_else(|| {
        PageError(
            StatusCode::FORBIDDEN,
            "pages need a signed-in account".into(),
        )
    })
}
