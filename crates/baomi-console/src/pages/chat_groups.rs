//! 工作群管理 in the console (the security officer, a tab of 日常管理): the registry of work
//! chat groups (`/chat-groups`: each group with its 群主, department, approval, members, last
//! message and what the checks find in it now; a group registered from the form; the checks
//! run and recorded, and the lists to act on per check — 非实名, 已离岗, 僵尸群, 未审批) and one
//! group (`/chat-groups/{id}`: details, approval, the members with their flags, a CSV member
//! list imported whole, a member removed or the group dissolved with the reason, its history,
//! its recorded checks and the chat door's incidents in its room).
//!
//! Everything goes through the same functions as the REST endpoints
//! (`baomi_server::chat_groups_api`) and the store, so the two cannot differ.

use std::collections::HashMap;

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use baomi_server::api::{ApiError, ApiState};
use baomi_server::authz::Principal;
use baomi_server::chat_groups_api as api;
use baomi_store::{
    ChatGroup, ChatGroupFilter, ChatGroupUpdate, ChatMember, ChatPlatform, GroupCheck,
    NewChatGroup, StoreError,
};
use serde::Deserialize;

use super::{
    Chrome, PageError, PageResult, back_to, back_with_error, path_encode, url_encode, when,
};
use crate::i18n::{Lang, Tr};

fn api_error(e: ApiError) -> PageError {
    PageError(e.0, e.1)
}

/// The reader's words in a POST handler (the flash is written there).
fn tr(state: &ApiState, headers: &HeaderMap) -> Tr {
    let default = Lang::parse(&state.gateway.config.console.default_language).unwrap_or(Lang::Zh);
    Tr {
        lang: crate::lang_of(headers, default),
    }
}

pub fn platform_label(t: Tr, p: ChatPlatform) -> &'static str {
    t.t(match p {
        ChatPlatform::Wechat => "cg.platform.wechat",
        ChatPlatform::Wecom => "cg.platform.wecom",
        ChatPlatform::Dingtalk => "cg.platform.dingtalk",
        ChatPlatform::Matrix => "cg.platform.matrix",
        ChatPlatform::Other => "cg.platform.other",
    })
}

/// `N 天` / `N days`
fn days(t: Tr, n: i64) -> String {
    if t.is_zh() {
        format!("{n} 天")
    } else if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}

/// The `days` of a query or form: a whole number from 1 to 3650, else the default (and
/// whether the value given was refused).
fn zombie_days(v: Option<&str>) -> (i64, bool) {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => (api::DEFAULT_ZOMBIE_DAYS, false),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=3650).contains(&n) => (n, false),
            _ => (api::DEFAULT_ZOMBIE_DAYS, true),
        },
    }
}

/// Where a form posted from the registry returns to: only a page of this area.
fn back_path(back: &str, fallback: &str) -> String {
    let b = back.trim();
    if b.starts_with("/chat-groups") && !b.contains("//") && !b.contains('\\') {
        b.to_owned()
    } else {
        fallback.to_owned()
    }
}

fn day_of(ms: Option<i64>) -> String {
    ms.map(baomi_store::local_date).unwrap_or_default()
}

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

pub struct GroupRow {
    pub id: i64,
    pub platform: &'static str,
    pub name: String,
    pub purpose: String,
    pub owner: String,
    pub department: String,
    pub approved_by: String,
    pub approved_day: String,
    pub members: i64,
    pub last_message: String,
    pub last_reported: bool,
    pub idle: String,
    pub active: bool,
    pub dissolved: String,
    pub dissolved_reason: String,
    /// What the checks find now (active groups).
    pub not_real_name: usize,
    pub departed: usize,
    pub zombie: bool,
    pub unapproved: bool,
    pub clean: bool,
    pub last_check: String,
}

/// A flagged member in a list to act on.
pub struct FlaggedMember {
    pub group_id: i64,
    pub group: String,
    pub member_id: i64,
    pub label: String,
    pub account: String,
    pub phone: String,
    /// 已离岗: the directory's person, department and leaving day.
    pub person: String,
    pub department: String,
    pub left: String,
}

pub struct IdleGroup {
    pub id: i64,
    pub name: String,
    pub owner: String,
    pub department: String,
    pub idle: String,
    pub last_message: String,
    pub reason: String,
}

pub struct UnapprovedGroup {
    pub id: i64,
    pub name: String,
    pub owner: String,
    pub department: String,
    pub registered: String,
}

#[derive(Template)]
#[template(path = "chat_groups.html")]
struct RegistryPage {
    c: Chrome,
    states: Vec<Choice>,
    departments: Vec<Choice>,
    q: String,
    days: i64,
    groups: Vec<GroupRow>,
    active_count: usize,
    not_real_name: Vec<FlaggedMember>,
    departed: Vec<FlaggedMember>,
    zombies: Vec<IdleGroup>,
    unapproved: Vec<UnapprovedGroup>,
    last_run: String,
    platforms: Vec<Choice>,
    people: Vec<Choice>,
    known_departments: Vec<String>,
    today: String,
    back: String,
}

#[derive(Deserialize, Default)]
pub struct RegistryQuery {
    done: Option<String>,
    error: Option<String>,
    state: Option<String>,
    department: Option<String>,
    q: Option<String>,
    days: Option<String>,
}

fn flagged(g: &GroupCheck, m: &ChatMember) -> FlaggedMember {
    FlaggedMember {
        group_id: g.group_id,
        group: g.group.clone(),
        member_id: m.id,
        label: m.label(),
        account: m.account.clone().unwrap_or_default(),
        phone: m.phone.clone().unwrap_or_default(),
        person: String::new(),
        department: String::new(),
        left: String::new(),
    }
}

/// `GET /chat-groups`
pub async fn registry(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(f): Query<RegistryQuery>,
) -> PageResult {
    let (n_days, bad_days) = zombie_days(f.days.as_deref());
    let error = if bad_days {
        Some("cg.days_invalid")
    } else {
        f.error.as_deref()
    };
    let c = Chrome::new(&state, &p, &headers, "cg.title", "/chat-groups")
        .flash_from(f.done.as_deref(), error);
    let t = c.t;
    let gw = &state.gateway;
    let st = f.state.as_deref().map(str::trim).unwrap_or("active");
    let st = if matches!(st, "active" | "dissolved" | "all") {
        st
    } else {
        "active"
    };
    let filter = ChatGroupFilter {
        state: Some(st.to_owned()),
        department: f.department.clone(),
        platform: None,
        q: f.q.clone(),
    };
    let groups = gw.store.chat_groups(&filter).await?;
    let all = gw
        .store
        .chat_groups(&ChatGroupFilter {
            state: Some("all".into()),
            ..Default::default()
        })
        .await?;
    // What the checks find now in every active group, and when each was last checked.
    let found = api::current_findings(gw, None, n_days)
        .await
        .map_err(api_error)?;
    let by_id: HashMap<i64, &GroupCheck> = found.iter().map(|g| (g.group_id, g)).collect();
    let records = gw.store.chat_group_checks(None, 10_000).await?;
    let mut last_check: HashMap<i64, i64> = HashMap::new();
    for r in &records {
        last_check.entry(r.group_id).or_insert(r.ts_ms);
    }
    let last_run = records
        .first()
        .map(|r| {
            format!(
                "{} · {} · {}{}",
                when(r.ts_ms),
                r.actor,
                t.t("cg.zombie_after"),
                days(t, r.zombie_days)
            )
        })
        .unwrap_or_default();

    let rows = groups
        .iter()
        .map(|g| group_row(t, g, by_id.get(&g.id).copied(), last_check.get(&g.id)))
        .collect();

    let mut not_real_name = Vec::new();
    let mut departed = Vec::new();
    let mut zombies = Vec::new();
    let mut unapproved = Vec::new();
    for g in &found {
        not_real_name.extend(g.not_real_name.iter().map(|m| flagged(g, m)));
        departed.extend(g.departed.iter().map(|d| FlaggedMember {
            person: d.person.clone(),
            department: d.department.clone(),
            left: d.left.clone(),
            ..flagged(g, &d.member)
        }));
        let group = all.iter().find(|x| x.id == g.group_id);
        if g.zombie {
            let idle = g.idle_days.unwrap_or_default();
            zombies.push(IdleGroup {
                id: g.group_id,
                name: g.group.clone(),
                owner: g.owner.clone(),
                department: g.department.clone(),
                idle: days(t, idle),
                last_message: group
                    .and_then(|x| x.last_message_ms)
                    .map(baomi_store::local_date)
                    .unwrap_or_else(|| t.t("cg.no_message_known").to_owned()),
                reason: format!("{}{}", t.t("cg.zombie_reason"), days(t, idle)),
            });
        }
        if g.unapproved {
            unapproved.push(UnapprovedGroup {
                id: g.group_id,
                name: g.group.clone(),
                owner: g.owner.clone(),
                department: g.department.clone(),
                registered: group.map(|x| when(x.registered_ms)).unwrap_or_default(),
            });
        }
    }

    let mut depts: Vec<String> = all.iter().map(|g| g.department.clone()).collect();
    let directory = gw.directory();
    let mut known_departments: Vec<String> = directory
        .people()
        .iter()
        .map(|p| p.department.clone())
        .filter(|d| !d.is_empty())
        .collect();
    known_departments.extend(depts.iter().cloned());
    known_departments.sort();
    known_departments.dedup();
    depts.sort();
    depts.dedup();
    let chosen = f.department.clone().unwrap_or_default();
    let mut back = format!("/chat-groups?state={st}&days={n_days}");
    if !chosen.is_empty() {
        back.push_str(&format!("&department={}", url_encode(&chosen)));
    }
    Ok(crate::render(&RegistryPage {
        states: [
            ("active", "cg.state.active"),
            ("dissolved", "cg.state.dissolved"),
            ("all", "cg.state.all"),
        ]
        .iter()
        .map(|(v, k)| Choice {
            value: (*v).into(),
            label: t.t(k).into(),
            selected: *v == st,
        })
        .collect(),
        departments: depts
            .into_iter()
            .map(|d| Choice {
                selected: d == chosen,
                label: d.clone(),
                value: d,
            })
            .collect(),
        q: f.q.clone().unwrap_or_default(),
        days: n_days,
        groups: rows,
        active_count: found.len(),
        not_real_name,
        departed,
        zombies,
        unapproved,
        last_run,
        platforms: ChatPlatform::ALL
            .iter()
            .map(|x| Choice {
                value: x.as_str().into(),
                label: platform_label(t, *x).into(),
                selected: *x == ChatPlatform::Wechat,
            })
            .collect(),
        people: directory
            .people()
            .iter()
            .filter(|p| p.left.is_none())
            .map(|p| Choice {
                value: p.name.clone(),
                label: p.department.clone(),
                selected: false,
            })
            .collect(),
        known_departments,
        today: baomi_store::local_date(baomi_store::now_ms()),
        back,
        c,
    }))
}

fn group_row(
    t: Tr,
    g: &ChatGroup,
    found: Option<&GroupCheck>,
    last_check: Option<&i64>,
) -> GroupRow {
    let active = g.is_active();
    let idle = found.and_then(|x| x.idle_days);
    GroupRow {
        id: g.id,
        platform: platform_label(t, g.platform),
        name: g.name.clone(),
        purpose: g.purpose.clone().unwrap_or_default(),
        owner: g.owner.clone(),
        department: g.department.clone(),
        approved_by: g.approved_by.clone().unwrap_or_default(),
        approved_day: g.approved_day.clone().unwrap_or_default(),
        members: g.members,
        last_message: day_of(g.last_message_ms),
        last_reported: g.last_message_source.as_deref() == Some("reported"),
        idle: match (active, idle) {
            (true, Some(n)) => days(t, n),
            _ => String::new(),
        },
        active,
        dissolved: day_of(g.dissolved_ms),
        dissolved_reason: g.dissolved_reason.clone().unwrap_or_default(),
        not_real_name: found.map_or(0, |x| x.not_real_name.len()),
        departed: found.map_or(0, |x| x.departed.len()),
        zombie: found.is_some_and(|x| x.zombie),
        unapproved: active && g.approved_by.is_none(),
        clean: found.is_some_and(|x| {
            x.not_real_name.is_empty() && x.departed.is_empty() && !x.zombie && !x.unapproved
        }),
        last_check: last_check.map(|ms| when(*ms)).unwrap_or_default(),
    }
}

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    platform: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    platform_id: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    approved_by: String,
    #[serde(default)]
    approved_day: String,
    #[serde(default)]
    created_day: String,
    #[serde(default)]
    last_message_day: String,
}

fn some(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// `POST /chat-groups`: register a group, then open its page (to import the members).
pub async fn register(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<RegisterForm>,
) -> PageResult {
    let Some(platform) = ChatPlatform::parse(&f.platform) else {
        return Ok(back_with_error("/chat-groups", "cg.platform_required"));
    };
    let new = NewChatGroup {
        platform: Some(platform),
        name: f.name,
        platform_id: some(&f.platform_id),
        purpose: some(&f.purpose),
        owner: f.owner,
        department: f.department,
        approved_by: some(&f.approved_by),
        // An approval day alone (the form fills today) means nothing without who approved.
        approved_day: some(&f.approved_by).and(some(&f.approved_day)),
        created_day: some(&f.created_day),
        last_message_day: some(&f.last_message_day),
    };
    match state
        .gateway
        .store
        .register_chat_group(&new, &p.actor)
        .await
    {
        Ok(g) => Ok(back_to(&format!("/chat-groups/{}", g.id), "cg.registered")),
        Err(StoreError::Invalid(e) | StoreError::Conflict(e)) => {
            Ok(back_with_error("/chat-groups", &e))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct CheckForm {
    #[serde(default)]
    days: String,
    #[serde(default)]
    group: String,
}

/// `POST /chat-groups/checks`: run the checks over every active group (or one), record
/// them, and come back to the lists.
pub async fn run_checks(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Form(f): Form<CheckForm>,
) -> PageResult {
    let t = tr(&state, &headers);
    let group = f.group.trim().parse::<i64>().ok();
    let page = match group {
        Some(id) => format!("/chat-groups/{id}"),
        None => "/chat-groups".to_owned(),
    };
    let (n, bad) = zombie_days(Some(&f.days));
    if bad {
        return Ok(back_with_error(&page, "cg.days_invalid"));
    }
    let back = format!("{page}?days={n}");
    match api::run_checks_as(&state.gateway, group, Some(n), &p.actor).await {
        Ok(c) => {
            let msg = if t.is_zh() {
                format!(
                    "检查完成并已记录：共检查 {} 个工作群，非实名成员 {} 人，已离岗成员 {} 人，僵尸群（{} 天无消息）{} 个，未审批 {} 个。",
                    c.groups.len(),
                    c.not_real_name,
                    c.departed,
                    n,
                    c.zombie,
                    c.unapproved
                )
            } else {
                format!(
                    "Checked and recorded: {} groups; {} members not in the directory, {} who left, {} groups silent for {n} days or more, {} without approval.",
                    c.groups.len(),
                    c.not_real_name,
                    c.departed,
                    c.zombie,
                    c.unapproved
                )
            };
            Ok(back_to(&back, &msg))
        }
        Err(e) if e.0.is_client_error() && e.0 != StatusCode::NOT_FOUND => {
            Ok(back_with_error(&page, &e.1))
        }
        Err(e) => Err(api_error(e)),
    }
}

pub struct MemberRow {
    pub id: i64,
    pub name: String,
    pub nickname: String,
    pub account: String,
    pub mail: String,
    pub phone: String,
    pub joined: String,
    pub added: String,
    pub added_by: String,
    pub removed: bool,
    pub removed_note: String,
    pub not_real_name: bool,
    /// 已离岗: the directory's leaving day.
    pub left: String,
    pub reason: String,
}

pub struct HistoryLine {
    pub when: String,
    pub what: String,
    pub who: String,
    pub sort: i64,
}

pub struct CheckLine {
    pub when: String,
    pub actor: String,
    pub days: String,
    pub members: i64,
    pub not_real_name: i64,
    pub departed: i64,
    pub zombie: bool,
    pub unapproved: bool,
}

pub struct IncidentLine {
    pub number: String,
    pub href: String,
    pub when: String,
    pub user: String,
    pub action: String,
    pub action_code: String,
    pub object: String,
}

#[derive(Template)]
#[template(path = "chat_group.html")]
struct GroupPage {
    c: Chrome,
    g: GroupRow,
    platform_id: String,
    created_day: String,
    registered: String,
    registered_by: String,
    approval_note: String,
    last_message_day: String,
    last_source: &'static str,
    days: i64,
    members: Vec<MemberRow>,
    present: usize,
    removed: usize,
    history: Vec<HistoryLine>,
    checks: Vec<CheckLine>,
    incidents: Vec<IncidentLine>,
    has_room: bool,
    people: Vec<Choice>,
    today: String,
}

#[derive(Deserialize, Default)]
pub struct GroupQuery {
    done: Option<String>,
    error: Option<String>,
    days: Option<String>,
}

/// `GET /chat-groups/{id}`
pub async fn group(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(f): Query<GroupQuery>,
) -> PageResult {
    let id = api::group_id(&id).map_err(api_error)?;
    let (n_days, bad_days) = zombie_days(f.days.as_deref());
    let error = if bad_days {
        Some("cg.days_invalid")
    } else {
        f.error.as_deref()
    };
    let mut c = Chrome::new(&state, &p, &headers, "cg.title", "/chat-groups")
        .flash_from(f.done.as_deref(), error);
    let t = c.t;
    let gw = &state.gateway;
    let d = api::detail(&gw.store, id).await.map_err(api_error)?;
    let g = &d.group;
    c.title = format!("{}：{}", t.t("cg.group_title"), g.name);
    let found = if g.is_active() {
        api::current_findings(gw, Some(id), n_days)
            .await
            .map_err(api_error)?
            .into_iter()
            .next()
    } else {
        None
    };
    let members: Vec<MemberRow> = d
        .members
        .iter()
        .map(|m| {
            let removed = m.removed_ms.is_some();
            let not_real_name = found
                .as_ref()
                .is_some_and(|x| x.not_real_name.iter().any(|n| n.id == m.id));
            let left = found
                .as_ref()
                .and_then(|x| x.departed.iter().find(|d| d.member.id == m.id))
                .map(|d| d.left.clone())
                .unwrap_or_default();
            MemberRow {
                id: m.id,
                name: m.name.clone().unwrap_or_default(),
                nickname: m.nickname.clone().unwrap_or_default(),
                account: m.account.clone().unwrap_or_default(),
                mail: m.mail.clone().unwrap_or_default(),
                phone: m.phone.clone().unwrap_or_default(),
                joined: m.joined_day.clone().unwrap_or_default(),
                added: when(m.added_ms),
                added_by: m.added_by.clone(),
                removed,
                removed_note: match (m.removed_ms, &m.removed_by, &m.removed_reason) {
                    (Some(ms), by, reason) => format!(
                        "{} · {} · {}",
                        when(ms),
                        by.clone().unwrap_or_default(),
                        reason.clone().unwrap_or_default()
                    ),
                    _ => String::new(),
                },
                reason: if not_real_name {
                    t.t("cg.reason_not_real_name").to_owned()
                } else if !left.is_empty() {
                    format!("{}{left}", t.t("cg.reason_departed"))
                } else {
                    String::new()
                },
                not_real_name,
                left,
            }
        })
        .collect();
    let present = members.iter().filter(|m| !m.removed).count();

    // The group's history from its own records.
    let mut history = vec![HistoryLine {
        when: when(g.registered_ms),
        what: t.t("cg.h.registered").to_owned(),
        who: g.registered_by.clone(),
        sort: g.registered_ms,
    }];
    if let (Some(by), Some(day)) = (&g.approved_by, &g.approved_day) {
        history.push(HistoryLine {
            when: day.clone(),
            what: format!("{}{by}", t.t("cg.h.approved")),
            who: String::new(),
            sort: baomi_store::day_start_ms(day).unwrap_or(g.registered_ms),
        });
    }
    let mut imports: Vec<(i64, String, usize)> = Vec::new();
    for m in &d.members {
        let same = imports
            .last()
            .is_some_and(|(ms, by, _)| *ms == m.added_ms && *by == m.added_by);
        match imports.last_mut() {
            Some(last) if same => last.2 += 1,
            _ => imports.push((m.added_ms, m.added_by.clone(), 1)),
        }
        if let Some(ms) = m.removed_ms {
            history.push(HistoryLine {
                when: when(ms),
                what: format!(
                    "{}{}（{}）",
                    t.t("cg.h.removed"),
                    m.label(),
                    m.removed_reason.clone().unwrap_or_default()
                ),
                who: m.removed_by.clone().unwrap_or_default(),
                sort: ms,
            });
        }
    }
    for (ms, by, n) in imports {
        history.push(HistoryLine {
            when: when(ms),
            what: if t.is_zh() {
                format!("导入成员 {n} 人")
            } else {
                format!("{n} members imported")
            },
            who: by,
            sort: ms,
        });
    }
    for r in &d.checks {
        history.push(HistoryLine {
            when: when(r.ts_ms),
            what: t.t("cg.h.checked").to_owned(),
            who: r.actor.clone(),
            sort: r.ts_ms,
        });
    }
    if let Some(ms) = g.dissolved_ms {
        history.push(HistoryLine {
            when: when(ms),
            what: format!(
                "{}{}",
                t.t("cg.h.dissolved"),
                g.dissolved_reason.clone().unwrap_or_default()
            ),
            who: g.dissolved_by.clone().unwrap_or_default(),
            sort: ms,
        });
    }
    history.sort_by_key(|h| std::cmp::Reverse(h.sort));

    let last_check = d.checks.first().map(|r| r.ts_ms);
    Ok(crate::render(&GroupPage {
        g: group_row(t, g, found.as_ref(), last_check.as_ref()),
        platform_id: g.platform_id.clone().unwrap_or_default(),
        created_day: g.created_day.clone().unwrap_or_default(),
        registered: when(g.registered_ms),
        registered_by: g.registered_by.clone(),
        approval_note: g.approval_note.clone().unwrap_or_default(),
        last_message_day: day_of(g.last_message_ms),
        last_source: match g.last_message_source.as_deref() {
            Some("reported") => t.t("cg.source.reported"),
            Some("entered") => t.t("cg.source.entered"),
            _ => "",
        },
        days: n_days,
        removed: members.len() - present,
        present,
        members,
        history,
        checks: d
            .checks
            .iter()
            .map(|r| CheckLine {
                when: when(r.ts_ms),
                actor: r.actor.clone(),
                days: days(t, r.zombie_days),
                members: r.members,
                not_real_name: r.not_real_name,
                departed: r.departed,
                zombie: r.zombie,
                unapproved: r.unapproved,
            })
            .collect(),
        incidents: d
            .incidents
            .iter()
            .map(|i| IncidentLine {
                href: format!("/incidents/{}", path_encode(&i.number)),
                number: i.number.clone(),
                when: when(i.created_ms),
                user: i.user.clone().unwrap_or_default(),
                action: t.action(&i.action).to_owned(),
                action_code: i.action.clone(),
                object: i.object_name.clone().unwrap_or_default(),
            })
            .collect(),
        has_room: !g.destinations().is_empty(),
        people: gw
            .directory()
            .people()
            .iter()
            .filter(|p| p.left.is_none())
            .map(|p| Choice {
                value: p.name.clone(),
                label: p.department.clone(),
                selected: false,
            })
            .collect(),
        today: baomi_store::local_date(baomi_store::now_ms()),
        c,
    }))
}

/// `POST /chat-groups/{id}/members` (multipart): a CSV member list, added whole or not at all.
pub async fn import_members(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<String>,
    mp: Multipart,
) -> PageResult {
    let t = tr(&state, &headers);
    let id = api::group_id(&id).map_err(api_error)?;
    let page = format!("/chat-groups/{id}");
    let (file, _) = match super::policy::upload(mp, api::MAX_MEMBER_LIST_BYTES as u64).await {
        Ok(x) => x,
        Err(e) if e.0 == StatusCode::PAYLOAD_TOO_LARGE => {
            return Ok(back_with_error(&page, "cg.list_too_large"));
        }
        Err(e) => return Err(e),
    };
    let Some((file_name, blob)) = file else {
        return Ok(back_with_error(&page, "cg.no_file"));
    };
    let bytes = blob
        .bytes()
        .map_err(|e| PageError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    match api::import_csv(&state.gateway.store, id, &bytes, &p.actor).await {
        Ok(r) => {
            let msg = if t.is_zh() {
                format!(
                    "已从「{file_name}」导入成员 {} 人{}。",
                    r.added,
                    if r.already > 0 {
                        format!("，{} 人已在群中未重复导入", r.already)
                    } else {
                        String::new()
                    }
                )
            } else {
                format!(
                    "{} members imported from {file_name}; {} already in the group.",
                    r.added, r.already
                )
            };
            Ok(back_to(&page, &msg))
        }
        Err(e) if e.0.is_client_error() && e.0 != StatusCode::NOT_FOUND => Ok(back_with_error(
            &page,
            &format!("{}「{file_name}」：{}", t.t("cg.import_refused"), e.1),
        )),
        Err(e) => Err(api_error(e)),
    }
}

#[derive(Deserialize)]
pub struct ReasonForm {
    #[serde(default)]
    reason: String,
    #[serde(default)]
    back: String,
}

/// `POST /chat-groups/{id}/members/{member}/remove`
pub async fn remove_member(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path((id, member)): Path<(String, String)>,
    Form(f): Form<ReasonForm>,
) -> PageResult {
    let id = api::group_id(&id).map_err(api_error)?;
    let Ok(member) = member.parse::<i64>() else {
        return Err(PageError(
            StatusCode::NOT_FOUND,
            format!("no member {member:?}"),
        ));
    };
    let page = back_path(&f.back, &format!("/chat-groups/{id}"));
    match state
        .gateway
        .store
        .remove_chat_member(id, member, &f.reason, &p.actor)
        .await
    {
        Ok(_) => Ok(back_to(&page, "cg.member_removed")),
        Err(StoreError::Invalid(e) | StoreError::Conflict(e)) => Ok(back_with_error(&page, &e)),
        Err(e) => Err(e.into()),
    }
}

/// `POST /chat-groups/{id}/dissolve`
pub async fn dissolve(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    Form(f): Form<ReasonForm>,
) -> PageResult {
    let id = api::group_id(&id).map_err(api_error)?;
    let page = back_path(&f.back, &format!("/chat-groups/{id}"));
    match state
        .gateway
        .store
        .dissolve_chat_group(id, &f.reason, &p.actor)
        .await
    {
        Ok(_) => Ok(back_to(&page, "cg.dissolved_ok")),
        Err(StoreError::Invalid(e) | StoreError::Conflict(e)) => Ok(back_with_error(&page, &e)),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct ApproveForm {
    #[serde(default)]
    approved_by: String,
    #[serde(default)]
    approved_day: String,
    #[serde(default)]
    note: String,
}

/// `POST /chat-groups/{id}/approve`
pub async fn approve(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    Form(f): Form<ApproveForm>,
) -> PageResult {
    let id = api::group_id(&id).map_err(api_error)?;
    let page = format!("/chat-groups/{id}");
    let note = some(&f.note);
    match state
        .gateway
        .store
        .approve_chat_group(
            id,
            &f.approved_by,
            &f.approved_day,
            note.as_deref(),
            &p.actor,
        )
        .await
    {
        Ok(_) => Ok(back_to(&page, "cg.approved_ok")),
        Err(StoreError::Invalid(e) | StoreError::Conflict(e)) => Ok(back_with_error(&page, &e)),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct UpdateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    platform_id: String,
    #[serde(default)]
    purpose: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    department: String,
    #[serde(default)]
    created_day: String,
    #[serde(default)]
    last_message_day: String,
}

/// `POST /chat-groups/{id}`: change the details (the last message day included).
pub async fn update(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    Form(f): Form<UpdateForm>,
) -> PageResult {
    let id = api::group_id(&id).map_err(api_error)?;
    let page = format!("/chat-groups/{id}");
    let store = &state.gateway.store;
    let g = store.chat_group(id).await?;
    // The day shown unchanged keeps what the chat door reported (it is the same day).
    let last = f.last_message_day.trim().to_owned();
    let last_message_day = (last != day_of(g.last_message_ms)).then_some(last);
    let u = ChatGroupUpdate {
        name: Some(f.name),
        platform_id: Some(f.platform_id),
        purpose: Some(f.purpose),
        owner: Some(f.owner),
        department: Some(f.department),
        created_day: Some(f.created_day),
        last_message_day,
    };
    match store.update_chat_group(id, &u, &p.actor).await {
        Ok(_) => Ok(back_to(&page, "common.saved")),
        Err(StoreError::Invalid(e) | StoreError::Conflict(e)) => Ok(back_with_error(&page, &e)),
        Err(e) => Err(e.into()),
    }
}
