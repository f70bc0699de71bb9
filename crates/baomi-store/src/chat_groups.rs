//! 工作群管理: the registry of work chat groups — 谁建群谁负责 (each group has a responsible
//! person, 群主, and department, and an approval), 实名入群 (members by their real names,
//! checked against the directory), 定期清理 (the checks an officer runs: members not in the
//! directory, members who left the unit, groups silent for N days, groups without approval;
//! and the acting on them: a member removed, a group dissolved, an approval recorded).
//!
//! Every change appends to the audit chain in the same transaction. Each check leaves one row
//! per group checked with its result counts: that is what the self-inspection statistics
//! table counts as 检查工作群数. Phone numbers are masked when they come in.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store, StoreError, day_start_ms, local_date, now_ms};

/// 平台
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatPlatform {
    /// 微信
    Wechat,
    /// 企业微信
    Wecom,
    /// 钉钉
    Dingtalk,
    /// Matrix 房间 (the chat module's Synapse)
    Matrix,
    /// 其他
    Other,
}

impl ChatPlatform {
    pub const ALL: [ChatPlatform; 5] = [
        ChatPlatform::Wechat,
        ChatPlatform::Wecom,
        ChatPlatform::Dingtalk,
        ChatPlatform::Matrix,
        ChatPlatform::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChatPlatform::Wechat => "wechat",
            ChatPlatform::Wecom => "wecom",
            ChatPlatform::Dingtalk => "dingtalk",
            ChatPlatform::Matrix => "matrix",
            ChatPlatform::Other => "other",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            ChatPlatform::Wechat => "微信",
            ChatPlatform::Wecom => "企业微信",
            ChatPlatform::Dingtalk => "钉钉",
            ChatPlatform::Matrix => "Matrix 房间",
            ChatPlatform::Other => "其他",
        }
    }

    pub fn parse(s: &str) -> Option<ChatPlatform> {
        let s = s.trim();
        ChatPlatform::ALL
            .into_iter()
            .find(|p| p.as_str() == s || p.zh() == s)
            .or(match s {
                "Matrix" | "matrix房间" | "Matrix房间" => Some(ChatPlatform::Matrix),
                "企微" => Some(ChatPlatform::Wecom),
                _ => None,
            })
    }
}

/// A group as the officer registers it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct NewChatGroup {
    pub platform: Option<ChatPlatform>,
    /// 群名称
    pub name: String,
    /// The platform's id of the group: the Matrix room id (`!abc:server`), a WeChat group
    /// id when known. Unique per platform.
    #[serde(default)]
    pub platform_id: Option<String>,
    /// 用途
    #[serde(default)]
    pub purpose: Option<String>,
    /// 群主 (责任人)
    pub owner: String,
    /// 所属部门
    pub department: String,
    /// 审批人, when the approval is known at registration.
    #[serde(default)]
    pub approved_by: Option<String>,
    /// 审批日期, `YYYY-MM-DD`
    #[serde(default)]
    pub approved_day: Option<String>,
    /// 建群日期, `YYYY-MM-DD`
    #[serde(default)]
    pub created_day: Option<String>,
    /// 最后消息日期, `YYYY-MM-DD`, as the officer knows it.
    #[serde(default)]
    pub last_message_day: Option<String>,
}

/// A change of a registered group's details; absent fields stay as they are, an empty
/// string clears an optional one.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChatGroupUpdate {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub platform_id: Option<String>,
    #[serde(default)]
    pub purpose: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub created_day: Option<String>,
    /// 最后消息日期 entered by the officer (`YYYY-MM-DD`).
    #[serde(default)]
    pub last_message_day: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChatGroup {
    pub id: i64,
    pub platform: ChatPlatform,
    pub name: String,
    pub platform_id: Option<String>,
    pub purpose: Option<String>,
    pub owner: String,
    pub department: String,
    pub approved_by: Option<String>,
    pub approved_day: Option<String>,
    pub approval_note: Option<String>,
    pub created_day: Option<String>,
    pub registered_ms: i64,
    pub registered_by: String,
    /// `active` or `dissolved`
    pub state: String,
    pub dissolved_ms: Option<i64>,
    pub dissolved_by: Option<String>,
    pub dissolved_reason: Option<String>,
    pub last_message_ms: Option<i64>,
    /// `entered` (by an officer) or `reported` (by the chat door)
    pub last_message_source: Option<String>,
    pub updated_ms: i64,
    /// Members now in the group (removed ones not counted).
    pub members: i64,
}

impl ChatGroup {
    pub fn is_active(&self) -> bool {
        self.state == "active"
    }

    /// The incident destination the chat door writes for this group's room
    /// (`matrix:!room:server`), when the group has a platform id.
    pub fn destinations(&self) -> Vec<String> {
        match &self.platform_id {
            Some(id) if self.platform == ChatPlatform::Matrix => {
                vec![format!("matrix:{id}"), id.clone()]
            }
            Some(id) => vec![id.clone()],
            None => Vec::new(),
        }
    }
}

/// One member as a list gives it: at least the real name (姓名) or the group nickname.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct NewMember {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub nickname: Option<String>,
    #[serde(default)]
    pub account: Option<String>,
    #[serde(default)]
    pub mail: Option<String>,
    /// Masked on the way in.
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub joined_day: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChatMember {
    pub id: i64,
    pub group_id: i64,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub account: Option<String>,
    pub mail: Option<String>,
    pub phone: Option<String>,
    pub joined_day: Option<String>,
    pub added_ms: i64,
    pub added_by: String,
    pub removed_ms: Option<i64>,
    pub removed_by: Option<String>,
    pub removed_reason: Option<String>,
}

impl ChatMember {
    /// The name to show: the real name, else the nickname.
    pub fn label(&self) -> String {
        match (&self.name, &self.nickname) {
            (Some(n), Some(k)) if n != k => format!("{n}（{k}）"),
            (Some(n), _) => n.clone(),
            (None, Some(k)) => k.clone(),
            (None, None) => String::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberImport {
    /// Members added.
    pub added: usize,
    /// Rows naming someone already in the group (same name, nickname and account): skipped.
    pub already: usize,
}

/// A person of the directory, as the real-name checks need them.
#[derive(Debug, Clone, Default)]
pub struct KnownPerson {
    pub name: String,
    pub department: String,
    pub account: Option<String>,
    pub mails: Vec<String>,
    /// 离岗日期, `YYYY-MM-DD`
    pub left: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DepartedMember {
    pub member: ChatMember,
    /// The directory's name and department of the person.
    pub person: String,
    pub department: String,
    pub left: String,
}

/// What one group's check found.
#[derive(Debug, Clone, Serialize)]
pub struct GroupCheck {
    pub group_id: i64,
    pub group: String,
    pub platform: ChatPlatform,
    pub department: String,
    pub owner: String,
    pub members: usize,
    /// Members the directory does not know (by name, account or mail): 非实名.
    pub not_real_name: Vec<ChatMember>,
    /// Members the directory lists as having left the unit (their leaving day has come).
    pub departed: Vec<DepartedMember>,
    /// Days since the last message (or since registration when none is known), when at
    /// least the check's N: 僵尸群.
    pub idle_days: Option<i64>,
    pub zombie: bool,
    /// No approval recorded.
    pub unapproved: bool,
}

/// A check run over the active groups (or one group).
#[derive(Debug, Clone, Serialize)]
pub struct ChatCheck {
    pub run: String,
    pub ts_ms: i64,
    pub actor: String,
    pub zombie_days: i64,
    pub groups: Vec<GroupCheck>,
    pub not_real_name: usize,
    pub departed: usize,
    pub zombie: usize,
    pub unapproved: usize,
}

/// A recorded check of one group.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRecord {
    pub run: String,
    pub group_id: i64,
    pub group: String,
    pub department: String,
    pub ts_ms: i64,
    pub actor: String,
    pub zombie_days: i64,
    pub members: i64,
    pub not_real_name: i64,
    pub departed: i64,
    pub zombie: bool,
    pub unapproved: bool,
}

/// A group's registered count and checked count for a department and a period.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct DepartmentGroups {
    /// Groups registered before the period ended and not dissolved before it began.
    pub registered: i64,
    /// Of these, the groups checked at least once in the period.
    pub checked: i64,
}

/// An incident of the chat channel in a group's room.
#[derive(Debug, Clone, Serialize)]
pub struct GroupIncident {
    pub number: String,
    pub created_ms: i64,
    pub user: Option<String>,
    pub action: String,
    pub severity: String,
    pub level: Option<String>,
    pub object_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChatGroupFilter {
    /// `active` (default), `dissolved` or `all`.
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub platform: Option<String>,
    /// A part of the name, purpose or owner.
    #[serde(default)]
    pub q: Option<String>,
}

const SELECT_GROUP: &str = "SELECT g.id, g.platform, g.name, g.platform_id, g.purpose, g.owner, \
     g.department, g.approved_by, g.approved_day, g.approval_note, g.created_day, \
     g.registered_ms, g.registered_by, g.state, g.dissolved_ms, g.dissolved_by, \
     g.dissolved_reason, g.last_message_ms, g.last_message_source, g.updated_ms, \
     (SELECT COUNT(*) FROM chat_group_members m WHERE m.group_id = g.id AND m.removed_ms IS NULL) \
     AS members FROM chat_groups g";

const SELECT_MEMBER: &str = "SELECT id, group_id, name, nickname, account, mail, phone, \
     joined_day, added_ms, added_by, removed_ms, removed_by, removed_reason FROM chat_group_members";

fn group_from_row(r: &AnyRow) -> Result<ChatGroup> {
    let platform: String = r.try_get("platform")?;
    Ok(ChatGroup {
        id: r.try_get("id")?,
        platform: ChatPlatform::parse(&platform).unwrap_or(ChatPlatform::Other),
        name: r.try_get("name")?,
        platform_id: r.try_get("platform_id")?,
        purpose: r.try_get("purpose")?,
        owner: r.try_get("owner")?,
        department: r.try_get("department")?,
        approved_by: r.try_get("approved_by")?,
        approved_day: r.try_get("approved_day")?,
        approval_note: r.try_get("approval_note")?,
        created_day: r.try_get("created_day")?,
        registered_ms: r.try_get("registered_ms")?,
        registered_by: r.try_get("registered_by")?,
        state: r.try_get("state")?,
        dissolved_ms: r.try_get("dissolved_ms")?,
        dissolved_by: r.try_get("dissolved_by")?,
        dissolved_reason: r.try_get("dissolved_reason")?,
        last_message_ms: r.try_get("last_message_ms")?,
        last_message_source: r.try_get("last_message_source")?,
        updated_ms: r.try_get("updated_ms")?,
        members: r.try_get("members")?,
    })
}

fn member_from_row(r: &AnyRow) -> Result<ChatMember> {
    Ok(ChatMember {
        id: r.try_get("id")?,
        group_id: r.try_get("group_id")?,
        name: r.try_get("name")?,
        nickname: r.try_get("nickname")?,
        account: r.try_get("account")?,
        mail: r.try_get("mail")?,
        phone: r.try_get("phone")?,
        joined_day: r.try_get("joined_day")?,
        added_ms: r.try_get("added_ms")?,
        added_by: r.try_get("added_by")?,
        removed_ms: r.try_get("removed_ms")?,
        removed_by: r.try_get("removed_by")?,
        removed_reason: r.try_get("removed_reason")?,
    })
}

fn clean(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn required(field: &str, v: &str, max: usize) -> Result<String> {
    let v = v.trim();
    if v.is_empty() {
        return Err(StoreError::Invalid(format!("{field} is required")));
    }
    if v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "{field}: at most {max} characters, no control characters"
        )));
    }
    Ok(v.to_owned())
}

fn optional(field: &str, v: &Option<String>, max: usize) -> Result<Option<String>> {
    match clean(v) {
        None => Ok(None),
        Some(s) => required(field, &s, max).map(Some),
    }
}

fn day(field: &str, v: &Option<String>) -> Result<Option<String>> {
    match clean(v) {
        None => Ok(None),
        Some(d) if day_start_ms(&d).is_some() && d.len() == 10 => Ok(Some(d)),
        Some(d) => Err(StoreError::Invalid(format!(
            "{field}: {d:?} is not a date (YYYY-MM-DD)"
        ))),
    }
}

/// `13812345678` → `138****5678`; shorter numbers keep their last two digits. A number that
/// is already masked (contains `*`) is kept.
pub fn mask_phone(phone: &str) -> String {
    let p = phone.trim();
    if p.contains('*') {
        return p.to_owned();
    }
    let digits: Vec<char> = p.chars().filter(char::is_ascii_digit).collect();
    let n = digits.len();
    if n >= 11 {
        let s: String = digits.iter().collect();
        let local = &s[n - 11..];
        format!("{}****{}", &local[..3], &local[7..])
    } else if n > 2 {
        format!(
            "{}{}",
            "*".repeat(n - 2),
            digits[n - 2..].iter().collect::<String>()
        )
    } else {
        "*".repeat(n)
    }
}

/// Check one member row; `Err` names what is wrong (the caller adds the line).
pub fn check_member(m: &NewMember) -> std::result::Result<NewMember, String> {
    let field = |label: &str,
                 v: &Option<String>,
                 max: usize|
     -> std::result::Result<Option<String>, String> {
        match clean(v) {
            None => Ok(None),
            Some(s) if s.chars().count() > max => {
                Err(format!("{label} is longer than {max} characters"))
            }
            Some(s) if s.chars().any(|c| c.is_control() || c == '\u{FFFD}') => Err(format!(
                "{label} holds control characters or undecodable bytes"
            )),
            Some(s) => Ok(Some(s)),
        }
    };
    let name = field("姓名 (name)", &m.name, 50)?;
    let nickname = field("群昵称 (nickname)", &m.nickname, 100)?;
    if name.is_none() && nickname.is_none() {
        return Err("neither 姓名 (name) nor 群昵称 (nickname) is given".into());
    }
    let account = field("账号 (account)", &m.account, 100)?;
    let mail = field("邮箱 (mail)", &m.mail, 200)?;
    if let Some(a) = &mail
        && (!a.contains('@') || a.contains(char::is_whitespace))
    {
        return Err(format!("邮箱 (mail) {a:?} is not a mail address"));
    }
    let phone = field("手机号 (phone)", &m.phone, 30)?;
    if let Some(p) = &phone {
        let ok = p
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '*' | '(' | ')'))
            && p.chars().filter(char::is_ascii_digit).count() >= 3;
        if !ok {
            return Err("手机号 (phone) is not a phone number".into());
        }
    }
    let joined_day = match clean(&m.joined_day) {
        None => None,
        Some(d) => Some(
            normalise_day(&d)
                .ok_or_else(|| format!("入群时间 (joined) {d:?} is not a date (YYYY-MM-DD)"))?,
        ),
    };
    Ok(NewMember {
        name,
        nickname,
        account,
        mail,
        phone: phone.map(|p| mask_phone(&p)),
        joined_day,
    })
}

/// `2026-3-5`, `2026/03/05`, `2026-03-05 10:20:00`, `2026年3月5日` → `2026-03-05`.
pub fn normalise_day(s: &str) -> Option<String> {
    let s = s.trim();
    let date = s.split([' ', 'T']).next()?;
    let date = date.replace(['/', '.', '年', '月'], "-").replace('日', "");
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some_and(|p| !p.is_empty()) || !(1900..=2999).contains(&y) {
        return None;
    }
    let out = format!("{y:04}-{m:02}-{d:02}");
    day_start_ms(&out).map(|_| out)
}

fn same_member(a: &ChatMember, b: &NewMember) -> bool {
    a.name == b.name && a.nickname == b.nickname && a.account == b.account
}

/// The directory person a member is, by name, then account, then mail.
fn identify<'a>(m: &ChatMember, people: &'a [KnownPerson]) -> Option<&'a KnownPerson> {
    let name = m.name.as_deref().map(str::trim).filter(|n| !n.is_empty())?;
    if let Some(p) = people.iter().find(|p| p.name.trim() == name) {
        return Some(p);
    }
    if let Some(a) = m.account.as_deref()
        && let Some(p) = people.iter().find(|p| {
            p.account
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(a))
        })
    {
        return Some(p);
    }
    m.mail.as_deref().and_then(|mail| {
        people
            .iter()
            .find(|p| p.mails.iter().any(|x| x.eq_ignore_ascii_case(mail)))
    })
}

static RUNS: AtomicU64 = AtomicU64::new(0);

impl Store {
    /// Register a group (state active).
    pub async fn register_chat_group(&self, new: &NewChatGroup, actor: &str) -> Result<ChatGroup> {
        let platform = new
            .platform
            .ok_or_else(|| StoreError::Invalid("platform is required".into()))?;
        let name = required("群名称 (name)", &new.name, 100)?;
        let owner = required("群主 (owner)", &new.owner, 50)?;
        let department = required("部门 (department)", &new.department, 100)?;
        let platform_id = optional("platform_id", &new.platform_id, 255)?;
        let purpose = optional("用途 (purpose)", &new.purpose, 500)?;
        let approved_by = optional("审批人 (approved_by)", &new.approved_by, 50)?;
        let approved_day = day("approved_day", &new.approved_day)?;
        if approved_day.is_some() && approved_by.is_none() {
            return Err(StoreError::Invalid(
                "approved_day without approved_by: who approved?".into(),
            ));
        }
        let created_day = day("created_day", &new.created_day)?;
        let last = day("last_message_day", &new.last_message_day)?;
        let last_ms = last.as_deref().and_then(day_start_ms);
        let now = now_ms();
        let (_guard, mut tx) = self.audit_tx().await?;
        if let Some(pid) = &platform_id {
            let taken =
                sqlx::query("SELECT id FROM chat_groups WHERE platform = $1 AND platform_id = $2")
                    .bind(platform.as_str())
                    .bind(pid)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(r) = taken {
                let id: i64 = r.try_get(0)?;
                return Err(StoreError::Conflict(format!(
                    "{} {pid} is already registered (group {id})",
                    platform.zh()
                )));
            }
        }
        let row = sqlx::query(
            "INSERT INTO chat_groups (platform, name, platform_id, purpose, owner, department, \
             approved_by, approved_day, created_day, registered_ms, registered_by, state, \
             last_message_ms, last_message_source, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'active', $12, $13, $10) \
             RETURNING id",
        )
        .bind(platform.as_str())
        .bind(&name)
        .bind(&platform_id)
        .bind(&purpose)
        .bind(&owner)
        .bind(&department)
        .bind(&approved_by)
        .bind(&approved_day)
        .bind(&created_day)
        .bind(now)
        .bind(actor)
        .bind(last_ms)
        .bind(last_ms.map(|_| "entered"))
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get(0)?;
        Store::append_audit(
            &mut tx,
            actor,
            "chat_group.register",
            &format!("chat-group:{id}"),
            &json!({"platform": platform.as_str(), "name": name, "platform_id": platform_id,
                    "owner": owner, "department": department, "approved_by": approved_by,
                    "approved_day": approved_day}),
        )
        .await?;
        tx.commit().await?;
        self.chat_group(id).await
    }

    pub async fn chat_group(&self, id: i64) -> Result<ChatGroup> {
        let row = sqlx::query(AssertSqlSafe(format!("{SELECT_GROUP} WHERE g.id = $1")))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("chat group {id}")))?;
        group_from_row(&row)
    }

    /// The registered group of a platform id, or of an incident's destination
    /// (`matrix:!room:server`).
    pub async fn chat_group_by_destination(&self, destination: &str) -> Result<Option<ChatGroup>> {
        let d = destination.trim();
        if d.is_empty() {
            return Ok(None);
        }
        let (platform, pid) = match d.strip_prefix("matrix:") {
            Some(room) => (Some("matrix"), room),
            None => (None, d),
        };
        let row = sqlx::query(AssertSqlSafe(format!(
            "{SELECT_GROUP} WHERE g.platform_id = $1 AND ($2 = '' OR g.platform = $2) \
             ORDER BY g.id DESC"
        )))
        .bind(pid)
        .bind(platform.unwrap_or(""))
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(group_from_row).transpose()
    }

    /// The registry, newest first, filtered.
    pub async fn chat_groups(&self, f: &ChatGroupFilter) -> Result<Vec<ChatGroup>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{SELECT_GROUP} ORDER BY g.department, g.name, g.id"
        )))
        .fetch_all(self.pool())
        .await?;
        let state = f.state.as_deref().map(str::trim).unwrap_or("active");
        let department = clean(&f.department);
        let platform = clean(&f.platform);
        let q = clean(&f.q);
        let mut out = Vec::new();
        for r in &rows {
            let g = group_from_row(r)?;
            if !(state == "all" || state.is_empty() || g.state == state) {
                continue;
            }
            if department.as_deref().is_some_and(|d| g.department != d) {
                continue;
            }
            if platform
                .as_deref()
                .is_some_and(|p| ChatPlatform::parse(p) != Some(g.platform))
            {
                continue;
            }
            if let Some(q) = &q {
                let hay = format!(
                    "{} {} {} {}",
                    g.name,
                    g.purpose.as_deref().unwrap_or(""),
                    g.owner,
                    g.platform_id.as_deref().unwrap_or("")
                );
                if !hay.contains(q.as_str()) {
                    continue;
                }
            }
            out.push(g);
        }
        Ok(out)
    }

    /// Change a group's details (an officer entering the last message day included).
    pub async fn update_chat_group(
        &self,
        id: i64,
        u: &ChatGroupUpdate,
        actor: &str,
    ) -> Result<ChatGroup> {
        let g = self.chat_group(id).await?;
        let name = match &u.name {
            Some(n) => required("群名称 (name)", n, 100)?,
            None => g.name.clone(),
        };
        let owner = match &u.owner {
            Some(n) => required("群主 (owner)", n, 50)?,
            None => g.owner.clone(),
        };
        let department = match &u.department {
            Some(n) => required("部门 (department)", n, 100)?,
            None => g.department.clone(),
        };
        let platform_id = match &u.platform_id {
            Some(_) => optional("platform_id", &u.platform_id, 255)?,
            None => g.platform_id.clone(),
        };
        let purpose = match &u.purpose {
            Some(_) => optional("用途 (purpose)", &u.purpose, 500)?,
            None => g.purpose.clone(),
        };
        let created_day = match &u.created_day {
            Some(_) => day("created_day", &u.created_day)?,
            None => g.created_day.clone(),
        };
        let (last_ms, last_source) = match &u.last_message_day {
            Some(_) => {
                let d = day("last_message_day", &u.last_message_day)?;
                let ms = d.as_deref().and_then(day_start_ms);
                (ms, ms.map(|_| "entered".to_owned()))
            }
            None => (g.last_message_ms, g.last_message_source.clone()),
        };
        let now = now_ms();
        let (_guard, mut tx) = self.audit_tx().await?;
        if let Some(pid) = &platform_id
            && Some(pid) != g.platform_id.as_ref()
        {
            let taken = sqlx::query(
                "SELECT id FROM chat_groups WHERE platform = $1 AND platform_id = $2 AND id <> $3",
            )
            .bind(g.platform.as_str())
            .bind(pid)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            if taken.is_some() {
                return Err(StoreError::Conflict(format!(
                    "{} {pid} is already registered",
                    g.platform.zh()
                )));
            }
        }
        sqlx::query(
            "UPDATE chat_groups SET name = $1, platform_id = $2, purpose = $3, owner = $4, \
             department = $5, created_day = $6, last_message_ms = $7, last_message_source = $8, \
             updated_ms = $9 WHERE id = $10",
        )
        .bind(&name)
        .bind(&platform_id)
        .bind(&purpose)
        .bind(&owner)
        .bind(&department)
        .bind(&created_day)
        .bind(last_ms)
        .bind(&last_source)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        Store::append_audit(
            &mut tx,
            actor,
            "chat_group.update",
            &format!("chat-group:{id}"),
            &json!({"name": name, "platform_id": platform_id, "owner": owner,
                    "department": department, "created_day": created_day,
                    "last_message_ms": last_ms}),
        )
        .await?;
        tx.commit().await?;
        self.chat_group(id).await
    }

    /// Record the approval of a group (审批人, 审批日期).
    pub async fn approve_chat_group(
        &self,
        id: i64,
        approved_by: &str,
        approved_day: &str,
        note: Option<&str>,
        actor: &str,
    ) -> Result<ChatGroup> {
        let g = self.chat_group(id).await?;
        let by = required("审批人 (approved_by)", approved_by, 50)?;
        let on = day("approved_day", &Some(approved_day.to_owned()))?
            .ok_or_else(|| StoreError::Invalid("approved_day is required".into()))?;
        let note = optional("note", &note.map(str::to_owned), 500)?;
        if !g.is_active() {
            return Err(StoreError::Conflict(format!(
                "group {id} is dissolved: there is nothing to approve"
            )));
        }
        let (_guard, mut tx) = self.audit_tx().await?;
        sqlx::query(
            "UPDATE chat_groups SET approved_by = $1, approved_day = $2, approval_note = $3, \
             updated_ms = $4 WHERE id = $5",
        )
        .bind(&by)
        .bind(&on)
        .bind(&note)
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        Store::append_audit(
            &mut tx,
            actor,
            "chat_group.approve",
            &format!("chat-group:{id}"),
            &json!({"approved_by": by, "approved_day": on, "note": note,
                    "before": {"approved_by": g.approved_by, "approved_day": g.approved_day}}),
        )
        .await?;
        tx.commit().await?;
        self.chat_group(id).await
    }

    /// Dissolve a group (解散), with the reason.
    pub async fn dissolve_chat_group(
        &self,
        id: i64,
        reason: &str,
        actor: &str,
    ) -> Result<ChatGroup> {
        let g = self.chat_group(id).await?;
        let reason = required("解散原因 (reason)", reason, 500)?;
        if !g.is_active() {
            return Err(StoreError::Conflict(format!(
                "group {id} was dissolved already"
            )));
        }
        let now = now_ms();
        let (_guard, mut tx) = self.audit_tx().await?;
        let done = sqlx::query(
            "UPDATE chat_groups SET state = 'dissolved', dissolved_ms = $1, dissolved_by = $2, \
             dissolved_reason = $3, updated_ms = $1 WHERE id = $4 AND state = 'active'",
        )
        .bind(now)
        .bind(actor)
        .bind(&reason)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "group {id} changed meanwhile"
            )));
        }
        Store::append_audit(
            &mut tx,
            actor,
            "chat_group.dissolve",
            &format!("chat-group:{id}"),
            &json!({"name": g.name, "reason": reason, "members": g.members}),
        )
        .await?;
        tx.commit().await?;
        self.chat_group(id).await
    }

    /// A group's members, in the order they were added; removed ones only when asked.
    pub async fn chat_members(&self, group_id: i64, with_removed: bool) -> Result<Vec<ChatMember>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{SELECT_MEMBER} WHERE group_id = $1 {} ORDER BY id",
            if with_removed {
                ""
            } else {
                "AND removed_ms IS NULL"
            }
        )))
        .bind(group_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(member_from_row).collect()
    }

    /// Add members (a list imported whole): every row is checked first, and nothing is
    /// added when one is wrong (`Invalid` naming the row, counted from 1). Members already
    /// in the group are skipped.
    pub async fn import_chat_members(
        &self,
        group_id: i64,
        members: &[NewMember],
        actor: &str,
    ) -> Result<MemberImport> {
        let g = self.chat_group(group_id).await?;
        if !g.is_active() {
            return Err(StoreError::Conflict(format!(
                "group {group_id} is dissolved: no members can be added"
            )));
        }
        if members.is_empty() {
            return Err(StoreError::Invalid("the member list is empty".into()));
        }
        let mut checked = Vec::with_capacity(members.len());
        for (i, m) in members.iter().enumerate() {
            checked.push(
                check_member(m)
                    .map_err(|e| StoreError::Invalid(format!("member {}: {e}", i + 1)))?,
            );
        }
        let existing = self.chat_members(group_id, false).await?;
        let now = now_ms();
        let (_guard, mut tx) = self.audit_tx().await?;
        let (mut added, mut already) = (0usize, 0usize);
        let mut seen: Vec<NewMember> = Vec::new();
        for m in &checked {
            let dup = existing.iter().any(|e| same_member(e, m))
                || seen.iter().any(|s| {
                    s.name == m.name && s.nickname == m.nickname && s.account == m.account
                });
            if dup {
                already += 1;
                continue;
            }
            sqlx::query(
                "INSERT INTO chat_group_members (group_id, name, nickname, account, mail, phone, \
                 joined_day, added_ms, added_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(group_id)
            .bind(&m.name)
            .bind(&m.nickname)
            .bind(&m.account)
            .bind(&m.mail)
            .bind(&m.phone)
            .bind(&m.joined_day)
            .bind(now)
            .bind(actor)
            .execute(&mut *tx)
            .await?;
            seen.push(m.clone());
            added += 1;
        }
        sqlx::query("UPDATE chat_groups SET updated_ms = $1 WHERE id = $2")
            .bind(now)
            .bind(group_id)
            .execute(&mut *tx)
            .await?;
        Store::append_audit(
            &mut tx,
            actor,
            "chat_group.members_import",
            &format!("chat-group:{group_id}"),
            &json!({"rows": members.len(), "added": added, "already": already}),
        )
        .await?;
        tx.commit().await?;
        Ok(MemberImport { added, already })
    }

    /// Remove a member from a group (清理), with the reason.
    pub async fn remove_chat_member(
        &self,
        group_id: i64,
        member_id: i64,
        reason: &str,
        actor: &str,
    ) -> Result<ChatMember> {
        let reason = required("移出原因 (reason)", reason, 500)?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "{SELECT_MEMBER} WHERE id = $1 AND group_id = $2"
        )))
        .bind(member_id)
        .bind(group_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| {
            StoreError::NotFound(format!("member {member_id} of chat group {group_id}"))
        })?;
        let m = member_from_row(&row)?;
        if m.removed_ms.is_some() {
            return Err(StoreError::Conflict(format!(
                "member {member_id} was removed already"
            )));
        }
        let now = now_ms();
        let (_guard, mut tx) = self.audit_tx().await?;
        sqlx::query(
            "UPDATE chat_group_members SET removed_ms = $1, removed_by = $2, removed_reason = $3 \
             WHERE id = $4 AND removed_ms IS NULL",
        )
        .bind(now)
        .bind(actor)
        .bind(&reason)
        .bind(member_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE chat_groups SET updated_ms = $1 WHERE id = $2")
            .bind(now)
            .bind(group_id)
            .execute(&mut *tx)
            .await?;
        Store::append_audit(
            &mut tx,
            actor,
            "chat_group.member_remove",
            &format!("chat-group:{group_id}"),
            &json!({"member": member_id, "name": m.name, "nickname": m.nickname,
                    "reason": reason}),
        )
        .await?;
        tx.commit().await?;
        let row = sqlx::query(AssertSqlSafe(format!("{SELECT_MEMBER} WHERE id = $1")))
            .bind(member_id)
            .fetch_one(self.pool())
            .await?;
        member_from_row(&row)
    }

    /// The chat door saw a message in a room: note the time on its registered group, at
    /// most once a minute per group (the door calls this for every message).
    pub async fn note_chat_message(&self, destination: &str, ts_ms: i64) -> Result<bool> {
        let Some(room) = destination.strip_prefix("matrix:") else {
            return Ok(false);
        };
        let done = sqlx::query(
            "UPDATE chat_groups SET last_message_ms = $1, last_message_source = 'reported' \
             WHERE platform = 'matrix' AND platform_id = $2 \
             AND (last_message_ms IS NULL OR last_message_ms < $3)",
        )
        .bind(ts_ms)
        .bind(room)
        .bind(ts_ms - 60_000)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// What the checks find now over the active groups (or one group), without recording
    /// anything: the console shows these as the current findings to act on; a check run
    /// ([`Store::run_chat_checks`]) records the same thing.
    pub async fn evaluate_chat_checks(
        &self,
        group: Option<i64>,
        zombie_days: i64,
        people: &[KnownPerson],
    ) -> Result<(i64, Vec<GroupCheck>)> {
        if !(1..=3650).contains(&zombie_days) {
            return Err(StoreError::Invalid(
                "days: a whole number from 1 to 3650".into(),
            ));
        }
        let groups = match group {
            Some(id) => {
                let g = self.chat_group(id).await?;
                if !g.is_active() {
                    return Err(StoreError::Conflict(format!(
                        "group {id} is dissolved: there is nothing to check"
                    )));
                }
                vec![g]
            }
            None => self.chat_groups(&ChatGroupFilter::default()).await?,
        };
        let now = now_ms();
        let today = local_date(now);
        let mut out = Vec::new();
        for g in groups {
            let members = self.chat_members(g.id, false).await?;
            let mut not_real_name = Vec::new();
            let mut departed = Vec::new();
            for m in &members {
                match identify(m, people) {
                    None => not_real_name.push(m.clone()),
                    Some(p) => {
                        if let Some(left) = p.left.as_deref().filter(|l| *l <= today.as_str()) {
                            departed.push(DepartedMember {
                                member: m.clone(),
                                person: p.name.clone(),
                                department: p.department.clone(),
                                left: left.to_owned(),
                            });
                        }
                    }
                }
            }
            let since = g.last_message_ms.unwrap_or(g.registered_ms);
            let idle = (now - since).div_euclid(86_400_000);
            let zombie = idle >= zombie_days;
            out.push(GroupCheck {
                group_id: g.id,
                group: g.name.clone(),
                platform: g.platform,
                department: g.department.clone(),
                owner: g.owner.clone(),
                members: members.len(),
                not_real_name,
                departed,
                idle_days: Some(idle),
                zombie,
                unapproved: g.approved_by.is_none(),
            });
        }
        Ok((now, out))
    }

    /// Run the checks over the active groups (or one group): members not in the directory,
    /// members who left, groups silent for `zombie_days`, groups without approval. Each
    /// group checked is recorded with its counts, and the run has one audit entry.
    pub async fn run_chat_checks(
        &self,
        group: Option<i64>,
        zombie_days: i64,
        people: &[KnownPerson],
        actor: &str,
    ) -> Result<ChatCheck> {
        let (now, out) = self
            .evaluate_chat_checks(group, zombie_days, people)
            .await?;
        let run = format!(
            "{now:x}-{:x}",
            RUNS.fetch_add(1, Ordering::Relaxed) ^ (std::process::id() as u64) << 16
        );
        let (_guard, mut tx) = self.audit_tx().await?;
        for c in &out {
            sqlx::query(
                "INSERT INTO chat_group_checks (run, group_id, ts_ms, actor, zombie_days, members, \
                 not_real_name, departed, zombie, unapproved) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&run)
            .bind(c.group_id)
            .bind(now)
            .bind(actor)
            .bind(zombie_days)
            .bind(c.members as i64)
            .bind(c.not_real_name.len() as i64)
            .bind(c.departed.len() as i64)
            .bind(i64::from(c.zombie))
            .bind(i64::from(c.unapproved))
            .execute(&mut *tx)
            .await?;
        }
        let check = ChatCheck {
            run: run.clone(),
            ts_ms: now,
            actor: actor.to_owned(),
            zombie_days,
            not_real_name: out.iter().map(|c| c.not_real_name.len()).sum(),
            departed: out.iter().map(|c| c.departed.len()).sum(),
            zombie: out.iter().filter(|c| c.zombie).count(),
            unapproved: out.iter().filter(|c| c.unapproved).count(),
            groups: out,
        };
        Store::append_audit(
            &mut tx,
            actor,
            "chat_group.check",
            &group.map_or_else(|| "chat-groups".to_owned(), |id| format!("chat-group:{id}")),
            &json!({"run": run, "days": zombie_days, "groups": check.groups.len(),
                    "not_real_name": check.not_real_name, "departed": check.departed,
                    "zombie": check.zombie, "unapproved": check.unapproved}),
        )
        .await?;
        tx.commit().await?;
        Ok(check)
    }

    /// The recorded checks, newest first: of one group, or of all.
    pub async fn chat_group_checks(
        &self,
        group: Option<i64>,
        limit: i64,
    ) -> Result<Vec<CheckRecord>> {
        let rows = sqlx::query(
            "SELECT c.run, c.group_id, g.name, g.department, c.ts_ms, c.actor, c.zombie_days, \
             c.members, c.not_real_name, c.departed, c.zombie, c.unapproved \
             FROM chat_group_checks c JOIN chat_groups g ON g.id = c.group_id \
             WHERE ($1 = 0 OR c.group_id = $1) ORDER BY c.ts_ms DESC, c.id DESC LIMIT $2",
        )
        .bind(group.unwrap_or(0))
        .bind(limit.clamp(1, 10_000))
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(CheckRecord {
                run: r.try_get(0)?,
                group_id: r.try_get(1)?,
                group: r.try_get(2)?,
                department: r.try_get(3)?,
                ts_ms: r.try_get(4)?,
                actor: r.try_get(5)?,
                zombie_days: r.try_get(6)?,
                members: r.try_get(7)?,
                not_real_name: r.try_get(8)?,
                departed: r.try_get(9)?,
                zombie: r.try_get::<i64, _>(10)? != 0,
                unapproved: r.try_get::<i64, _>(11)? != 0,
            });
        }
        Ok(out)
    }

    /// Per department for `[from_ms, to_ms)`: the groups registered (before the period ended,
    /// not dissolved before it began) and how many of them were checked in it.
    pub async fn chat_groups_by_department(
        &self,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<BTreeMap<String, DepartmentGroups>> {
        let rows = sqlx::query(
            "SELECT g.department, g.id, \
             (SELECT COUNT(*) FROM chat_group_checks c WHERE c.group_id = g.id \
              AND c.ts_ms >= $1 AND c.ts_ms < $2) AS checks \
             FROM chat_groups g WHERE g.registered_ms < $2 \
             AND (g.dissolved_ms IS NULL OR g.dissolved_ms >= $1)",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(self.pool())
        .await?;
        let mut out: BTreeMap<String, DepartmentGroups> = BTreeMap::new();
        for r in rows {
            let d: String = r.try_get(0)?;
            let checks: i64 = r.try_get(2)?;
            let e = out.entry(d).or_default();
            e.registered += 1;
            if checks > 0 {
                e.checked += 1;
            }
        }
        Ok(out)
    }

    /// The chat channel's incidents in a group's room, newest first.
    pub async fn chat_group_incidents(
        &self,
        g: &ChatGroup,
        limit: i64,
    ) -> Result<Vec<GroupIncident>> {
        let dests = g.destinations();
        if dests.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT number, created_ms, user_name, action, severity, level, object_name \
             FROM incidents WHERE channel = 'chat' AND (destination = $1 OR destination = $2) \
             ORDER BY created_ms DESC, id DESC LIMIT $3",
        )
        .bind(&dests[0])
        .bind(dests.get(1).unwrap_or(&dests[0]))
        .bind(limit.clamp(1, 10_000))
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(GroupIncident {
                number: r.try_get(0)?,
                created_ms: r.try_get(1)?,
                user: r.try_get(2)?,
                action: r.try_get(3)?,
                severity: r.try_get(4)?,
                level: r.try_get(5)?,
                object_name: r.try_get(6)?,
            });
        }
        Ok(out)
    }
}
