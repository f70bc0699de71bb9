//! The work chat-group registry's REST endpoints (工作群管理): the registry, one group with
//! its members, checks and chat incidents, the member list imported from CSV (all rows or
//! none), the checks (非实名, 已离岗, 僵尸群, 未审批) and the acting on them. Security officer
//! only (`Permission::Records`).

use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use baomi_store::{
    ChatCheck, ChatGroup, ChatGroupFilter, ChatGroupUpdate, ChatMember, CheckRecord, GroupCheck,
    KnownPerson, NewChatGroup, Store, chat_groups::GroupIncident,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::api::{ApiError, ApiState};
use crate::authz::{Permission, Principal, Routes};
use crate::directory::Directory;
use crate::gateway::Gateway;
use crate::records_api::records_error;

pub fn routes() -> Routes<ApiState> {
    Routes::new()
        .get("/api/v1/chat-groups", Permission::Records, list)
        .post("/api/v1/chat-groups", Permission::Records, create)
        .get("/api/v1/chat-groups/checks", Permission::Records, checks)
        .post(
            "/api/v1/chat-groups/checks",
            Permission::Records,
            run_checks,
        )
        .get("/api/v1/chat-groups/{id}", Permission::Records, get)
        .post("/api/v1/chat-groups/{id}", Permission::Records, update)
        .post(
            "/api/v1/chat-groups/{id}/members",
            Permission::Records,
            import_members,
        )
        .post(
            "/api/v1/chat-groups/{id}/members/{member}/remove",
            Permission::Records,
            remove_member,
        )
        .post(
            "/api/v1/chat-groups/{id}/approve",
            Permission::Records,
            approve,
        )
        .post(
            "/api/v1/chat-groups/{id}/dissolve",
            Permission::Records,
            dissolve,
        )
}

/// 僵尸群: a group with no message for this many days, unless the check says otherwise
/// (the console's form starts with it too).
pub const DEFAULT_ZOMBIE_DAYS: i64 = 30;

/// The directory's people as the real-name checks match them.
pub fn known_people(directory: &Directory) -> Vec<KnownPerson> {
    directory
        .people()
        .iter()
        .map(|p| KnownPerson {
            name: p.name.clone(),
            department: p.department.clone(),
            account: p.account.clone(),
            mails: p.mails.clone(),
            left: p.left.clone(),
        })
        .collect()
}

pub fn group_id(s: &str) -> Result<i64, ApiError> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no chat group {s:?}")))
}

async fn list(
    State(state): State<ApiState>,
    Query(f): Query<ChatGroupFilter>,
) -> Result<Json<Value>, ApiError> {
    if let Some(s) = f.state.as_deref()
        && !matches!(s, "" | "active" | "dissolved" | "all")
    {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("state {s:?}: active, dissolved or all"),
        ));
    }
    let groups = state.gateway.store.chat_groups(&f).await?;
    Ok(Json(json!({ "chat_groups": groups })))
}

async fn create(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Json(new): Json<NewChatGroup>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let g = state
        .gateway
        .store
        .register_chat_group(&new, &who.actor)
        .await?;
    Ok((StatusCode::CREATED, Json(json!(g))))
}

/// One group as the API and the console show it.
#[derive(Debug, Serialize)]
pub struct GroupDetail {
    pub group: ChatGroup,
    /// Removed ones too, in the order they were added.
    pub members: Vec<ChatMember>,
    /// The recorded checks of the group, newest first.
    pub checks: Vec<CheckRecord>,
    /// The chat channel's incidents in the group's room, newest first.
    pub incidents: Vec<GroupIncident>,
}

/// A group with its members (removed ones too), its recorded checks and the chat
/// channel's incidents in its room.
pub async fn detail(store: &Store, id: i64) -> Result<GroupDetail, ApiError> {
    let group = store.chat_group(id).await?;
    let members = store.chat_members(id, true).await?;
    let checks = store.chat_group_checks(Some(id), 50).await?;
    let incidents = store.chat_group_incidents(&group, 100).await?;
    Ok(GroupDetail {
        group,
        members,
        checks,
        incidents,
    })
}

async fn get(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(
        detail(&state.gateway.store, group_id(&id)?).await?
    )))
}

async fn update(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Json(u): Json<ChatGroupUpdate>,
) -> Result<Json<Value>, ApiError> {
    let g = state
        .gateway
        .store
        .update_chat_group(group_id(&id)?, &u, &who.actor)
        .await?;
    Ok(Json(json!(g)))
}

/// The largest member list taken (a list of thousands of members is a few hundred KB).
pub const MAX_MEMBER_LIST_BYTES: usize = 8 << 20;

/// Read a member list (CSV bytes) and add it whole to a group.
pub async fn import_csv(
    store: &Store,
    id: i64,
    bytes: &[u8],
    actor: &str,
) -> Result<baomi_store::MemberImport, ApiError> {
    store.chat_group(id).await?;
    if bytes.len() > MAX_MEMBER_LIST_BYTES {
        return Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "成员名单最大 {} MB (the member list is larger than {} MB); nothing was imported",
                MAX_MEMBER_LIST_BYTES >> 20,
                MAX_MEMBER_LIST_BYTES >> 20
            ),
        ));
    }
    let members = baomi_records::chat_members::parse_members(bytes).map_err(|e| match e {
        baomi_records::Error::Invalid(m) => ApiError(StatusCode::UNPROCESSABLE_ENTITY, m),
        e => records_error(e),
    })?;
    Ok(store.import_chat_members(id, &members, actor).await?)
}

async fn import_members(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let r = import_csv(&state.gateway.store, group_id(&id)?, &body, &who.actor).await?;
    Ok(Json(json!(r)))
}

#[derive(Deserialize)]
struct Reason {
    reason: String,
}

async fn remove_member(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path((id, member)): Path<(String, String)>,
    Json(b): Json<Reason>,
) -> Result<Json<Value>, ApiError> {
    let member: i64 = member
        .parse()
        .map_err(|_| ApiError(StatusCode::NOT_FOUND, format!("no member {member:?}")))?;
    let m = state
        .gateway
        .store
        .remove_chat_member(group_id(&id)?, member, &b.reason, &who.actor)
        .await?;
    Ok(Json(json!(m)))
}

#[derive(Deserialize)]
struct Approval {
    approved_by: String,
    approved_day: String,
    #[serde(default)]
    note: Option<String>,
}

async fn approve(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Json(b): Json<Approval>,
) -> Result<Json<Value>, ApiError> {
    let g = state
        .gateway
        .store
        .approve_chat_group(
            group_id(&id)?,
            &b.approved_by,
            &b.approved_day,
            b.note.as_deref(),
            &who.actor,
        )
        .await?;
    Ok(Json(json!(g)))
}

async fn dissolve(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<String>,
    Json(b): Json<Reason>,
) -> Result<Json<Value>, ApiError> {
    let g = state
        .gateway
        .store
        .dissolve_chat_group(group_id(&id)?, &b.reason, &who.actor)
        .await?;
    Ok(Json(json!(g)))
}

#[derive(Deserialize, Default)]
struct CheckList {
    #[serde(default)]
    group: Option<i64>,
}

async fn checks(
    State(state): State<ApiState>,
    Query(q): Query<CheckList>,
) -> Result<Json<Value>, ApiError> {
    let c = state.gateway.store.chat_group_checks(q.group, 500).await?;
    Ok(Json(json!({ "checks": c })))
}

#[derive(Deserialize, Default)]
struct CheckRun {
    /// 僵尸群: no message for this many days (default [`DEFAULT_ZOMBIE_DAYS`]).
    #[serde(default)]
    days: Option<i64>,
    /// One group only; default every active group.
    #[serde(default)]
    group: Option<i64>,
}

/// Run the checks against the gateway's directory and record them.
pub async fn run_checks_as(
    gw: &Gateway,
    group: Option<i64>,
    days: Option<i64>,
    actor: &str,
) -> Result<ChatCheck, ApiError> {
    Ok(gw
        .store
        .run_chat_checks(
            group,
            days.unwrap_or(DEFAULT_ZOMBIE_DAYS),
            &known_people(&gw.directory()),
            actor,
        )
        .await?)
}

/// What the checks find now, against the gateway's directory, recording nothing.
pub async fn current_findings(
    gw: &Gateway,
    group: Option<i64>,
    days: i64,
) -> Result<Vec<GroupCheck>, ApiError> {
    let (_, found) = gw
        .store
        .evaluate_chat_checks(group, days, &known_people(&gw.directory()))
        .await?;
    Ok(found)
}

async fn run_checks(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Json(b): Json<CheckRun>,
) -> Result<Json<Value>, ApiError> {
    let c = run_checks_as(&state.gateway, b.group, b.days, &who.actor).await?;
    Ok(Json(json!(c)))
}
