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

/// One node sharing the store, as its heartbeat says (`Store::nodes`).
pub struct NodeView {
    pub id: String,
    pub address: String,
    pub started: String,
    pub seen: String,
    /// Heard of within [`NODE_UP_MS`].
    pub up: bool,
    /// The node serving this page.
    pub this: bool,
    pub policy: i64,
    pub dictionaries: i64,
    pub registry: i64,
    /// Which of its versions are behind the store's (a node still loading, or one whose
    /// build failed and keeps deciding with the last good state).
    pub policy_behind: bool,
    pub dictionaries_behind: bool,
    pub registry_behind: bool,
}

/// A node heard of within this long is up: three heartbeats (`baomi_server::live`).
pub const NODE_UP_MS: i64 = 3 * baomi_server::live::HEARTBEAT.as_millis() as i64;

/// `5 秒前`, `3 分钟前`, `2 小时前`, else the time.
fn ago(t: crate::i18n::Tr, now: i64, ms: i64) -> String {
    let secs = (now - ms).max(0) / 1000;
    let (n, unit) = match secs {
        0..60 => (secs, "health.ago_s"),
        60..3600 => (secs / 60, "health.ago_m"),
        3600..86_400 => (secs / 3600, "health.ago_h"),
        _ => return when(ms),
    };
    t.t(unit).replace("{n}", &n.to_string())
}

pub fn node_views(
    t: crate::i18n::Tr,
    nodes: Vec<baomi_store::NodeRow>,
    current: baomi_store::StateVersions,
    this: Option<&str>,
    now: i64,
) -> Vec<NodeView> {
    let mut views: Vec<NodeView> = nodes
        .into_iter()
        .map(|n| NodeView {
            up: now - n.seen_ms <= NODE_UP_MS,
            this: this == Some(n.id.as_str()),
            started: when(n.started_ms),
            seen: ago(t, now, n.seen_ms),
            policy: n.versions.policy,
            dictionaries: n.versions.dictionaries,
            registry: n.versions.registry,
            policy_behind: n.versions.policy != current.policy,
            dictionaries_behind: n.versions.dictionaries != current.dictionaries,
            registry_behind: n.versions.registry != current.registry,
            id: n.id,
            address: n.address,
        })
        .collect();
    // This node first, then the ones up, then the rest (each as the store ordered them).
    views.sort_by_key(|v| (!v.this, !v.up));
    views
}

#[derive(Template)]
#[template(path = "health.html")]
struct HealthPage {
    c: Chrome,
    nodes: Vec<NodeView>,
    nodes_up: usize,
    /// Nodes up but on older versions than the store's.
    nodes_behind: usize,
    current: baomi_store::StateVersions,
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
    let current = store.state_versions().await?;
    let nodes = node_views(
        t,
        store.nodes().await?,
        current,
        gw.node_id(),
        baomi_store::now_ms(),
    );
    Ok(crate::render(&HealthPage {
        nodes_up: nodes.iter().filter(|n| n.up).count(),
        nodes_behind: nodes
            .iter()
            .filter(|n| n.up && (n.policy_behind || n.dictionaries_behind || n.registry_behind))
            .count(),
        nodes,
        current,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Lang, Tr};
    use baomi_store::{NodeRow, StateVersions};

    fn node(id: &str, seen_ms: i64, policy: i64) -> NodeRow {
        NodeRow {
            id: id.into(),
            address: format!("http://{id}"),
            started_ms: 0,
            seen_ms,
            versions: StateVersions {
                policy,
                dictionaries: 1,
                registry: 0,
                ..Default::default()
            },
        }
    }

    #[test]
    fn nodes_are_up_within_15_s_this_one_first_behind_marked() {
        let t = Tr { lang: Lang::Zh };
        let now = 1_000_000_000;
        let current = StateVersions {
            policy: 3,
            dictionaries: 1,
            registry: 0,
            ..Default::default()
        };
        let views = node_views(
            t,
            vec![
                node("b", now - 2_000, 2),
                node("gone", now - 16_000, 3),
                node("a", now - 15_000, 3),
            ],
            current,
            Some("a"),
            now,
        );
        let ids: Vec<&str> = views.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "gone"]);
        assert!(views[0].this && views[0].up && !views[0].policy_behind);
        assert!(!views[1].this && views[1].up && views[1].policy_behind);
        assert!(!views[1].dictionaries_behind && !views[1].registry_behind);
        assert!(!views[2].up);
        assert_eq!(views[1].seen, "2 秒前");
        assert_eq!(views[2].seen, "16 秒前");
    }
}
