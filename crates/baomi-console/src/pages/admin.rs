//! The system administrator's pages (accounts, tokens, node health) and the security
//! officer's approvals of what the administrator proposed (two people for every account
//! change).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::{Extension, Form};
use baomi_server::api::ApiState;
use baomi_server::authz::Principal;
use baomi_store::{Account, AccountStatus, NewAccount, Role};
use serde::Deserialize;

use super::auth::FlashQuery;
use super::{Chrome, PageResult, back_to, back_with_error, when, when_opt};

pub struct AccountRow {
    pub name: String,
    pub display_name: String,
    pub department: String,
    pub role: &'static str,
    pub role_key: &'static str,
    pub status: &'static str,
    pub status_class: &'static str,
    pub notes: Vec<String>,
    pub last_login: String,
    pub active: bool,
}

fn account_row(c: &Chrome, a: &Account) -> AccountRow {
    let t = c.t;
    let mut notes = Vec::new();
    if let Some(r) = a.pending_role {
        notes.push(format!(
            "{} {}",
            t.t("appr.role_change"),
            t.role(r.as_str())
        ));
    }
    if a.pending_password {
        notes.push(t.t("appr.password_reset").to_owned());
    }
    if a.locked_at(baomi_store::now_ms()) {
        notes.push(t.t("acct.locked").to_owned());
    }
    if a.totp_enabled {
        notes.push("TOTP".to_owned());
    }
    AccountRow {
        name: a.name.clone(),
        display_name: a.display_name.clone().unwrap_or_default(),
        department: a.department.clone().unwrap_or_default(),
        role: t.role(a.role.as_str()),
        role_key: a.role.as_str(),
        status: t.status(a.status.as_str()),
        status_class: match a.status {
            AccountStatus::Active => "st-active",
            AccountStatus::Pending => "st-pending",
            _ => "st-off",
        },
        notes,
        last_login: when_opt(a.last_login_ms, t),
        active: a.status == AccountStatus::Active,
    }
}

#[derive(Template)]
#[template(path = "accounts.html")]
struct AccountsPage {
    c: Chrome,
    rows: Vec<AccountRow>,
    roles: Vec<(&'static str, &'static str)>,
}

fn roles(c: &Chrome) -> Vec<(&'static str, &'static str)> {
    Role::ALL
        .iter()
        .map(|r| (r.as_str(), c.t.role(r.as_str())))
        .collect()
}

pub async fn accounts(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(flash): Query<FlashQuery>,
) -> PageResult {
    let c = Chrome::new(&state, &p, &headers, "acct.title", "/accounts")
        .flash_from(flash.done.as_deref(), flash.error.as_deref());
    let rows = state
        .gateway
        .store
        .accounts()
        .await?
        .iter()
        .map(|a| account_row(&c, a))
        .collect();
    Ok(crate::render(&AccountsPage {
        roles: roles(&c),
        rows,
        c,
    }))
}

#[derive(Deserialize)]
pub struct ProposeForm {
    name: String,
    role: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    department: String,
    password: String,
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

pub async fn propose(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<ProposeForm>,
) -> PageResult {
    let Some(role) = Role::parse(&f.role) else {
        return Ok(back_with_error("/accounts", "error.400"));
    };
    let new = NewAccount {
        name: f.name.trim().to_owned(),
        role,
        display_name: opt(&f.display_name),
        department: opt(&f.department),
        password: f.password,
    };
    match state
        .gateway
        .store
        .create_account(&new, false, &p.actor)
        .await
    {
        Ok(_) => Ok(back_to("/accounts", "acct.proposed")),
        Err(e) => Ok(back_with_error("/accounts", &e.to_string())),
    }
}

#[derive(Deserialize)]
pub struct RoleForm {
    role: String,
}

pub async fn propose_role(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    Form(f): Form<RoleForm>,
) -> PageResult {
    let Some(role) = Role::parse(&f.role) else {
        return Ok(back_with_error("/accounts", "error.400"));
    };
    match state
        .gateway
        .store
        .propose_role(&name, role, &p.actor)
        .await
    {
        Ok(_) => Ok(back_to("/accounts", "acct.proposed")),
        Err(e) => Ok(back_with_error("/accounts", &e.to_string())),
    }
}

#[derive(Deserialize)]
pub struct ResetForm {
    password: String,
}

pub async fn propose_password(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
    Form(f): Form<ResetForm>,
) -> PageResult {
    match state
        .gateway
        .store
        .propose_password(&name, &f.password, &p.actor)
        .await
    {
        Ok(_) => Ok(back_to("/accounts", "acct.proposed")),
        Err(e) => Ok(back_with_error("/accounts", &e.to_string())),
    }
}

pub async fn disable(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> PageResult {
    if p.account.as_ref().is_some_and(|a| a.name == name) {
        return Ok(back_with_error("/accounts", "error.400"));
    }
    state.gateway.store.disable_account(&name, &p.actor).await?;
    Ok(back_to("/accounts", "common.done"))
}

pub struct PendingRow {
    pub name: String,
    pub display_name: String,
    pub department: String,
    pub role: &'static str,
    pub change: String,
    pub proposed_by: String,
    pub proposed: String,
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct ApprovalsPage {
    c: Chrome,
    rows: Vec<PendingRow>,
}

pub async fn approvals(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(flash): Query<FlashQuery>,
) -> PageResult {
    let c = Chrome::new(&state, &p, &headers, "appr.title", "/approvals")
        .flash_from(flash.done.as_deref(), flash.error.as_deref());
    let t = c.t;
    let rows = state
        .gateway
        .store
        .accounts()
        .await?
        .into_iter()
        .filter(Account::has_pending_change)
        .map(|a| {
            let mut change = Vec::new();
            if a.status == AccountStatus::Pending {
                change.push(t.t("appr.new_account").to_owned());
            }
            if let Some(r) = a.pending_role {
                change.push(format!(
                    "{} {}",
                    t.t("appr.role_change"),
                    t.role(r.as_str())
                ));
            }
            if a.pending_password {
                change.push(t.t("appr.password_reset").to_owned());
            }
            PendingRow {
                display_name: a.display_name.clone().unwrap_or_default(),
                department: a.department.clone().unwrap_or_default(),
                role: t.role(a.role.as_str()),
                change: change.join("；"),
                proposed_by: a.pending_by.clone().unwrap_or_default(),
                proposed: a.pending_ms.map(when).unwrap_or_default(),
                name: a.name,
            }
        })
        .collect();
    Ok(crate::render(&ApprovalsPage { rows, c }))
}

async fn decide(state: ApiState, p: Principal, name: String, approve: bool) -> PageResult {
    let approver = super::account(&p)?;
    let store = &state.gateway.store;
    let result = if approve {
        store.approve_account(&name, approver).await
    } else {
        store.reject_account(&name, approver).await
    };
    match result {
        Ok(_) => Ok(back_to("/approvals", "common.done")),
        Err(e) => Ok(back_with_error("/approvals", &e.to_string())),
    }
}

pub async fn approve(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> PageResult {
    decide(state, p, name, true).await
}

pub async fn reject(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(name): Path<String>,
) -> PageResult {
    decide(state, p, name, false).await
}

pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub scope: String,
    pub account: String,
    pub created: String,
    pub last_used: String,
    pub revoked: bool,
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    c: Chrome,
    rows: Vec<TokenRow>,
    accounts: Vec<(String, String)>,
    secret: Option<String>,
}

async fn tokens_page(
    state: &ApiState,
    p: &Principal,
    headers: &HeaderMap,
    flash: &FlashQuery,
    secret: Option<String>,
) -> PageResult {
    let c = Chrome::new(state, p, headers, "tok.title", "/tokens")
        .flash_from(flash.done.as_deref(), flash.error.as_deref());
    let t = c.t;
    let store = &state.gateway.store;
    let rows = store
        .tokens()
        .await?
        .into_iter()
        .map(|tk| TokenRow {
            id: tk.id,
            name: tk.name,
            scope: tk.scope.as_str().to_owned(),
            account: tk.account.unwrap_or_default(),
            created: when(tk.created_ms),
            last_used: when_opt(tk.last_used_ms, t),
            revoked: tk.revoked,
        })
        .collect();
    let accounts = store
        .accounts()
        .await?
        .into_iter()
        .filter(|a| a.status == AccountStatus::Active)
        .map(|a| {
            (
                a.name.clone(),
                format!("{} ({})", a.name, t.role(a.role.as_str())),
            )
        })
        .collect();
    Ok(crate::render(&TokensPage {
        rows,
        accounts,
        secret,
        c,
    }))
}

pub async fn tokens(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(flash): Query<FlashQuery>,
) -> PageResult {
    tokens_page(&state, &p, &headers, &flash, None).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    name: String,
    #[serde(default)]
    account: String,
}

/// The new token's secret is in this response only.
pub async fn create_token(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Form(f): Form<TokenForm>,
) -> PageResult {
    let store = &state.gateway.store;
    let name = f.name.trim();
    if name.is_empty() {
        return Ok(back_with_error("/tokens", "error.400"));
    }
    let account = match opt(&f.account) {
        Some(a) => match store.account(&a).await {
            Ok(acc) => Some(acc),
            Err(e) => return Ok(back_with_error("/tokens", &e.to_string())),
        },
        None => None,
    };
    match store.create_token(name, account.as_ref(), &p.actor).await {
        Ok((_, secret)) => {
            tokens_page(&state, &p, &headers, &FlashQuery::default(), Some(secret)).await
        }
        Err(e) => Ok(back_with_error("/tokens", &e.to_string())),
    }
}

pub async fn revoke_token(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> PageResult {
    match state.gateway.store.revoke_token(id, &p.actor).await {
        Ok(()) => Ok(back_to("/tokens", "common.done")),
        Err(e) => Ok(back_with_error("/tokens", &e.to_string())),
    }
}

#[derive(Template)]
#[template(path = "health.html")]
struct HealthPage {
    c: Chrome,
    version: &'static str,
    node: String,
    database: &'static str,
    database_ok: bool,
    data_dir: String,
    http: String,
    icap: String,
    milter: String,
    icap_counts: String,
    accounts: i64,
    live_tokens: usize,
    uptime: String,
}

/// When this process started, for the uptime.
fn started() -> std::time::Instant {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *START.get_or_init(std::time::Instant::now)
}

pub async fn health(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
) -> PageResult {
    let c = Chrome::new(&state, &p, &headers, "health.title", "/health");
    let t = c.t;
    let gw = &state.gateway;
    let store = &gw.store;
    let database_ok = store.account_count().await.is_ok();
    let config = &gw.config;
    let door = |s: &str| {
        if s == "off" {
            t.t("health.off").to_owned()
        } else {
            s.to_owned()
        }
    };
    let icap_counts = match gw.metrics.icap.get() {
        Some(s) => {
            let snap = s.stats.snapshot();
            format!(
                "{} / {} / {}",
                snap.connections, snap.no_content, snap.blocks
            )
        }
        None => "-".into(),
    };
    let secs = started().elapsed().as_secs();
    Ok(crate::render(&HealthPage {
        version: env!("CARGO_PKG_VERSION"),
        node: std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "-".into()),
        database: match store.backend() {
            baomi_store::Backend::Sqlite => "SQLite",
            baomi_store::Backend::Postgres => "PostgreSQL",
        },
        database_ok,
        data_dir: store.data_dir().display().to_string(),
        http: config.listen.http.to_string(),
        icap: door(&config.listen.icap),
        milter: door(&config.listen.milter),
        icap_counts,
        accounts: store.account_count().await.unwrap_or(0),
        live_tokens: store.tokens().await?.iter().filter(|t| !t.revoked).count(),
        uptime: format!("{}h {}m", secs / 3600, secs / 60 % 60),
        c,
    }))
}

/// Start the uptime clock when the console is built.
pub fn mark_start() {
    let _ = started();
}
