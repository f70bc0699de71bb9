//! Signing in and out, the language, and each person's own account (password, TOTP).
//!
//! The form's password is checked by the store for local accounts and by a bind to the
//! unit's LDAP directory for LDAP ones (and for unknown names when
//! `[directory.ldap] console_login` lets the directory's role groups create accounts):
//! `directory::ldap::console_login` hands the bind to `Store::login_with`, so the lock,
//! the second factor, the account's state and the audit are the same either way.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use baomi_server::api::ApiState;
use baomi_server::authz::{self, Principal};
use baomi_store::Login;
use serde::Deserialize;
use serde_json::json;

use super::{Chrome, PageError, PageResult, back_to, back_with_error};
use crate::i18n::{Lang, Tr};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    t: Tr,
    other_lang: &'static str,
    username: String,
    next: String,
    message: Option<&'static str>,
    ask_code: bool,
    first_run: bool,
    /// `[directory.ldap]` is set: the form says directory passwords are welcome.
    ldap: bool,
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
    expired: Option<String>,
}

/// Only a path on this site: `/incidents?x=1`, never `//evil.example` or `https://…`.
fn local_path(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

fn tr(state: &ApiState, headers: &HeaderMap) -> Tr {
    let default = Lang::parse(&state.gateway.config.console.default_language).unwrap_or(Lang::Zh);
    Tr {
        lang: crate::lang_of(headers, default),
    }
}

async fn login_page(
    state: &ApiState,
    headers: &HeaderMap,
    username: String,
    next: String,
    message: Option<&'static str>,
    ask_code: bool,
) -> Response {
    let t = tr(state, headers);
    let first_run = state.gateway.store.account_count().await.unwrap_or(1) == 0;
    crate::render(&LoginPage {
        t,
        other_lang: if t.is_zh() { "en" } else { "zh" },
        username,
        next,
        message: message.map(|k| t.t(k)),
        ask_code,
        first_run,
        ldap: state.gateway.config.directory.ldap.is_some(),
    })
}

pub async fn login_form(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let message = q.expired.as_ref().map(|_| "login.expired");
    login_page(
        &state,
        &headers,
        String::new(),
        local_path(q.next.as_deref()),
        message,
        false,
    )
    .await
}

#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    totp: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

pub async fn login(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> PageResult {
    let store = &state.gateway.store;
    let next = local_path(f.next.as_deref());
    let username = f.username.trim().to_owned();
    let ldap = state.gateway.config.directory.ldap.as_ref();
    let directory =
        ldap.map(|cfg| baomi_server::directory::ldap::console_login(cfg, &username, &f.password));
    let outcome = store
        .login_with(&username, &f.password, f.totp.as_deref(), directory)
        .await?;
    let (message, ask_code) = match outcome {
        Login::Ok(acc) => {
            let secret = store.create_session(&acc).await?;
            let tls = state.gateway.config.http.tls();
            let cookie = format!(
                "{}={secret}; Path=/; HttpOnly; SameSite=Strict{}",
                authz::session_cookie_name(tls),
                if tls { "; Secure" } else { "" }
            );
            let to = if acc.must_change_password {
                "/me?error=me.must_change".to_owned()
            } else {
                next
            };
            let mut resp = Redirect::to(&to).into_response();
            resp.headers_mut().insert(
                header::SET_COOKIE,
                HeaderValue::from_str(&cookie)
                    .map_err(|e| PageError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?,
            );
            return Ok(resp);
        }
        Login::NeedsCode => ("login.needs_code", true),
        Login::Locked(_) => ("login.locked", false),
        Login::Denied | Login::Inactive(_) => ("login.failed", false),
        Login::Unavailable => ("login.ldap_unavailable", false),
        Login::NoRole => ("login.no_role", false),
        Login::RoleConflict(_) => ("login.role_conflict", false),
    };
    let mut resp = login_page(&state, &headers, username, next, Some(message), ask_code).await;
    if message != "login.needs_code" {
        *resp.status_mut() = if message == "login.ldap_unavailable" {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::UNAUTHORIZED
        };
        // The form again, not the generic 401 page.
        resp.extensions_mut().remove::<authz::Refusal>();
    }
    Ok(resp)
}

pub async fn logout(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
) -> PageResult {
    if let Some(secret) = &p.session {
        state.gateway.store.end_session(secret).await?;
        state
            .gateway
            .store
            .audit(
                &p.actor,
                "logout",
                p.account.as_ref().map_or("", |a| &a.name),
                json!({}),
            )
            .await?;
    }
    let tls = state.gateway.config.http.tls();
    let mut resp = Redirect::to("/login").into_response();
    let clear = format!(
        "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}",
        authz::session_cookie_name(tls),
        if tls { "; Secure" } else { "" }
    );
    if let Ok(v) = HeaderValue::from_str(&clear) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

#[derive(Deserialize, Default)]
pub struct BackQuery {
    back: Option<String>,
}

pub async fn set_lang(Path(lang): Path<String>, Query(q): Query<BackQuery>) -> Response {
    let lang = Lang::parse(&lang).unwrap_or(Lang::Zh);
    let mut resp = Redirect::to(&local_path(q.back.as_deref())).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "baomi_lang={}; Path=/; Max-Age=31536000; SameSite=Lax",
        lang.code()
    )) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

#[derive(Template)]
#[template(path = "me.html")]
struct MePage {
    c: Chrome,
    name: String,
    display_name: String,
    department: String,
    last_login: String,
    totp_enabled: bool,
    /// The password is the directory's: no form to change it here.
    ldap: bool,
    /// During enrolment: the key and its QR code (a data: URI).
    enrol: Option<(String, String)>,
}

#[derive(Deserialize, Default)]
pub struct FlashQuery {
    pub done: Option<String>,
    pub error: Option<String>,
}

async fn me_page(
    state: &ApiState,
    p: &Principal,
    headers: &HeaderMap,
    q: &FlashQuery,
    enrol: Option<(String, String)>,
) -> PageResult {
    let acc = super::account(p)?;
    let acc = state.gateway.store.account(&acc.name).await?;
    let c = Chrome::new(state, p, headers, "me.title", "/me")
        .flash_from(q.done.as_deref(), q.error.as_deref());
    let t = c.t;
    Ok(crate::render(&MePage {
        name: acc.name.clone(),
        display_name: acc.display_name.clone().unwrap_or_default(),
        department: acc.department.clone().unwrap_or_default(),
        last_login: super::when_opt(acc.last_login_ms, t),
        totp_enabled: acc.totp_enabled,
        ldap: acc.auth == baomi_store::accounts::Auth::Ldap,
        enrol,
        c,
    }))
}

pub async fn me(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    me_page(&state, &p, &headers, &q, None).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
}

pub async fn change_password(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<PasswordForm>,
) -> PageResult {
    let acc = super::account(&p)?;
    let store = &state.gateway.store;
    if acc.auth == baomi_store::accounts::Auth::Ldap {
        return Ok(back_with_error("/me", "me.password_ldap"));
    }
    // The current password is checked like a login, so guessing it here locks too.
    match store.login(&acc.name, &f.current, None).await? {
        Login::Ok(_) | Login::NeedsCode => {}
        _ => return Ok(back_with_error("/me", "me.password_wrong")),
    }
    if let Err(e) = store.set_password(&acc.name, &f.new, &p.actor).await {
        return Ok(back_with_error("/me", &e.to_string()));
    }
    Ok(back_to("/me", "me.password_changed"))
}

pub async fn totp_begin(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
) -> PageResult {
    let acc = super::account(&p)?;
    let secret = state.gateway.store.begin_totp(&acc.name).await?;
    let totp = baomi_store::accounts::totp(&secret, &acc.name)?;
    let qr = totp
        .get_qr_base64()
        .map(|png| format!("data:image/png;base64,{png}"))
        .unwrap_or_default();
    me_page(
        &state,
        &p,
        &headers,
        &FlashQuery::default(),
        Some((secret, qr)),
    )
    .await
}

#[derive(Deserialize)]
pub struct CodeForm {
    code: String,
}

pub async fn totp_confirm(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<CodeForm>,
) -> PageResult {
    let acc = super::account(&p)?;
    if state.gateway.store.confirm_totp(&acc.name, &f.code).await? {
        Ok(back_to("/me", "me.totp_enabled"))
    } else {
        Ok(back_with_error("/me", "me.totp_wrong"))
    }
}
