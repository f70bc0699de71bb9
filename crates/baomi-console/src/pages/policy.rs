//! The security officer's policy pages (the active rules, "test a file", the term lists,
//! the editor that stores a new version) with the policy's stored versions (history, any
//! version's text, the difference between two: also the auditor's, who checks what the
//! officer changed), and the registry of secret documents (add by upload, list, remove).
//!
//! The policy shown and edited is the store's current version (`baomi_store::state`); a
//! saved version is checked with [`baomi_server::live::parse_policy`] first, exactly as
//! every node will parse it, and nothing is stored when it fails. Every node applies a
//! stored version within seconds (`baomi_server::live`).

use std::io::Write;

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Form};
use baomi_core::{Channel, Level};
use baomi_extract::Blob;
use baomi_server::api::ApiState;
use baomi_server::authz::{Permission, Principal, granted};
use baomi_store::{PolicyVersion, PolicyVersionMeta, RegistryEntry, RegistryMeta};
use serde::Deserialize;
use serde_json::json;

use super::auth::FlashQuery;
use super::incidents::{Opt, level_opts};
use super::{Chrome, NavItem, PageError, PageResult, back_to, back_with_error, when};
use crate::i18n::Tr;

pub struct RuleRow {
    pub name: String,
    pub kinds: String,
    pub condition: String,
    pub channels: String,
    pub action: &'static str,
    pub action_class: String,
    pub severity: &'static str,
}

/// An `[[exception]]` as the officer reads it: where it applies, why, until when.
pub struct ExceptionRow {
    pub name: String,
    pub reason: String,
    pub condition: String,
    pub rules: String,
    pub action: &'static str,
    pub expires: String,
    pub expired: bool,
}

pub struct TestFinding {
    pub kind: &'static str,
    pub level: String,
    pub part: String,
    pub line: String,
    pub text: String,
    pub reason: String,
}

pub struct TestResult {
    pub name: String,
    pub size: String,
    pub true_type: String,
    pub verdict: &'static str,
    pub verdict_class: String,
    pub rules: String,
    pub findings: Vec<TestFinding>,
}

#[derive(Template)]
#[template(path = "policy.html")]
struct PolicyPage {
    c: Chrome,
    tabs: Vec<NavItem>,
    head: Head,
    dictionaries: Vec<DictRow>,
    dictionaries_version: i64,
    rules: Vec<RuleRow>,
    exceptions: Vec<ExceptionRow>,
    source: String,
    max_mb: u64,
    result: Option<TestResult>,
}

fn rule_rows(state: &ApiState, t: Tr) -> Vec<RuleRow> {
    state
        .gateway
        .engine()
        .policy()
        .rules
        .iter()
        .map(|r| {
            let mut cond = Vec::new();
            if let Some(l) = r.min_level {
                cond.push(format!("≥ {}", t.level(l.as_str())));
            }
            if let Some(n) = r.min_count {
                cond.push(format!("count ≥ {n}"));
            }
            if let Some(s) = r.min_score {
                cond.push(format!("score ≥ {s}"));
            }
            if let Some(c) = r.min_coverage {
                cond.push(format!("coverage ≥ {:.0}%", c * 100.0));
            }
            if let Some(c) = &r.categories {
                cond.push(c.join(", "));
            }
            cond.extend(condition_texts(&r.conditions, t));
            RuleRow {
                name: r.name.clone(),
                kinds: r
                    .kinds
                    .iter()
                    .map(|k| {
                        let v = serde_json::to_value(k).ok();
                        t.kind(v.as_ref().and_then(|v| v.as_str()).unwrap_or(""))
                    })
                    .collect::<Vec<_>>()
                    .join("、"),
                condition: cond.join("; "),
                channels: r
                    .conditions
                    .channels
                    .as_ref()
                    .map(|cs| {
                        cs.iter()
                            .map(|c| {
                                let v = serde_json::to_value(c).ok();
                                t.channel(v.as_ref().and_then(|v| v.as_str()).unwrap_or(""))
                            })
                            .collect::<Vec<_>>()
                            .join("、")
                    })
                    .unwrap_or_else(|| t.t("common.all").to_owned()),
                action: t.action(r.action.as_str()),
                action_class: format!("act-{}", r.action.as_str()),
                severity: t.severity(
                    &serde_json::to_value(r.severity)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                ),
            }
        })
        .collect()
}

fn exception_rows(state: &ApiState, t: Tr) -> Vec<ExceptionRow> {
    let now = baomi_core::policy::Context::default();
    state
        .gateway
        .engine()
        .policy()
        .exceptions
        .iter()
        .map(|x| {
            let mut cond = condition_texts(&x.conditions, t);
            if let Some(chs) = &x.conditions.channels {
                let names: Vec<&str> = chs.iter().map(|c| t.channel(c.as_str())).collect();
                cond.push(format!("{}: {}", t.t("inc.channel"), names.join("、")));
            }
            ExceptionRow {
                name: x.name.clone(),
                reason: x.reason.clone(),
                condition: cond.join("; "),
                rules: x
                    .rules
                    .as_ref()
                    .map(|r| r.join(", "))
                    .unwrap_or_else(|| t.t("common.all").to_owned()),
                action: t.action(x.action.as_str()),
                expires: x.expires.clone().unwrap_or_else(|| "-".into()),
                expired: x.expired(&now),
            }
        })
        .collect()
}

/// A rule's conditions on who, where and when, one short text each (`部门: 办公室`).
fn condition_texts(c: &baomi_core::policy::Conditions, t: Tr) -> Vec<String> {
    let mut out = Vec::new();
    let mut list = |key: &str, values: &Option<Vec<String>>| {
        if let Some(v) = values {
            // The shipped host lists by their Chinese names; hosts and people as written.
            let named: Vec<&str> = v
                .iter()
                .map(|x| match x.as_str() {
                    "cloud_drives" | "webmail" | "forums" | "internal" => {
                        t.t(&format!("policy.hosts.{x}"))
                    }
                    other => other,
                })
                .collect();
            out.push(format!("{}: {}", t.t(key), named.join("、")));
        }
    };
    list("policy.cond.people", &c.people);
    list("policy.cond.departments", &c.departments);
    list("policy.cond.groups", &c.groups);
    list("policy.cond.destinations", &c.destinations);
    list("policy.cond.not_destinations", &c.not_destinations);
    list("policy.cond.attachments", &c.attachment_types);
    list("policy.cond.hours", &c.hours);
    list("policy.cond.days", &c.days);
    if let Some(n) = c.min_attachments {
        out.push(format!("{} ≥ {n}", t.t("policy.cond.attachments")));
    }
    if let Some(n) = c.min_attachment_bytes {
        out.push(format!(
            "{} ≥ {} MB",
            t.t("policy.cond.attachments"),
            n as f64 / 1e6
        ));
    }
    if let Some(e) = c.encrypted_attachment {
        out.push(format!(
            "{}: {}",
            t.t("policy.cond.attachments"),
            if e { t.kind("encrypted") } else { "-" }
        ));
    }
    out
}

/// The policy's text now: the store's current version, or the shipped default when none
/// was ever stored (what `baomi_server::live::build` decides with).
fn current_text(current: &Option<PolicyVersion>) -> String {
    match current {
        Some(v) => v.toml.clone(),
        None => baomi_core::policy::DEFAULT_POLICY_TOML.to_owned(),
    }
}

/// Who stored a version, as a person reads it: an account's display name with its name,
/// the command line or a file imported at start.
struct Authors(std::collections::HashMap<String, String>);

impl Authors {
    async fn load(state: &ApiState) -> Authors {
        let names = state
            .gateway
            .store
            .accounts()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter_map(|a| Some((a.name.clone(), a.display_name?)))
            .collect();
        Authors(names)
    }

    fn show(&self, t: Tr, author: &str) -> String {
        if let Some(name) = author.strip_prefix("user:") {
            return match self.0.get(name) {
                Some(display) => format!("{display}（{name}）"),
                None => name.to_owned(),
            };
        }
        if let Some(user) = author.strip_prefix("cli:") {
            return format!("{}（{user}）", t.t("pv.by_cli"));
        }
        if let Some(file) = author.strip_prefix("file:") {
            return format!("{}（{file}）", t.t("pv.by_file"));
        }
        author.to_owned()
    }
}

/// One stored version as a row of the history.
pub struct VersionRow {
    pub version: i64,
    pub author: String,
    pub when: String,
    pub comment: String,
    pub sha: String,
    pub current: bool,
    /// The version before it, for "compare with the previous one".
    pub previous: Option<i64>,
}

fn version_row(t: Tr, authors: &Authors, m: &PolicyVersionMeta, current: i64) -> VersionRow {
    VersionRow {
        version: m.version,
        author: authors.show(t, &m.author),
        when: when(m.created_ms),
        comment: m.comment.clone().unwrap_or_default(),
        sha: m.sha256.chars().take(12).collect(),
        current: m.version == current,
        previous: (m.version > 1).then_some(m.version - 1),
    }
}

/// The head of the policy pages: which version is in force, since when, by whom, and
/// whether this node decides with it yet.
pub struct Head {
    /// None: no version stored, the shipped default applies.
    pub version: Option<VersionRow>,
    /// The policy version this node's engine was built from.
    pub running: i64,
    /// This node decides with the stored current version already.
    pub in_effect: bool,
}

fn head(state: &ApiState, t: Tr, authors: &Authors, current: &Option<PolicyVersion>) -> Head {
    let running = state.gateway.live().versions.policy;
    let version = current
        .as_ref()
        .map(|v| version_row(t, authors, &v.meta, v.meta.version));
    let stored = version.as_ref().map_or(0, |v| v.version);
    Head {
        version,
        running,
        // An engine built by hand (tests, tools) is never reloaded: it says version 0.
        in_effect: running == stored || state.gateway.recipe().is_none(),
    }
}

/// The tabs of the policy pages this reader may open (asked of the one table).
fn tabs(p: &Principal, t: Tr, active: &str) -> Vec<NavItem> {
    [
        ("/policy", "pv.tab.current", Permission::Policy),
        ("/policy/edit", "pv.tab.edit", Permission::PolicyEdit),
        (
            "/policy/versions",
            "pv.tab.versions",
            Permission::PolicyHistory,
        ),
    ]
    .into_iter()
    .filter(|(_, _, perm)| granted(p.subject, *perm))
    .map(|(href, key, _)| NavItem {
        href,
        label: t.t(key),
        active: href == active,
    })
    .collect()
}

/// The header link a policy page lights: the officer's "policy", the auditor's "versions".
fn nav_for(p: &Principal) -> &'static str {
    if granted(p.subject, Permission::Policy) {
        "/policy"
    } else {
        "/policy/versions"
    }
}

/// A stored term list as the officer reads it.
pub struct DictRow {
    pub name: String,
    pub terms: i64,
    pub sha: String,
    pub updated: String,
    pub author: String,
}

async fn policy_page(
    state: &ApiState,
    p: &Principal,
    headers: &HeaderMap,
    flash: &FlashQuery,
    result: Option<TestResult>,
) -> PageResult {
    let c = Chrome::new(state, p, headers, "policy.title", "/policy")
        .flash_from(flash.done.as_deref(), flash.error.as_deref());
    let t = c.t;
    let store = &state.gateway.store;
    let current = store.policy_current().await?;
    let authors = Authors::load(state).await;
    let dictionaries = store
        .dictionary_list()
        .await?
        .into_iter()
        .map(|d| DictRow {
            terms: d.term_count,
            sha: d.sha256.chars().take(12).collect(),
            updated: when(d.updated_ms),
            author: authors.show(t, &d.author),
            name: d.name,
        })
        .collect();
    Ok(crate::render(&PolicyPage {
        tabs: tabs(p, t, "/policy"),
        head: head(state, t, &authors, &current),
        dictionaries,
        dictionaries_version: store.state_versions().await?.dictionaries,
        rules: rule_rows(state, t),
        exceptions: exception_rows(state, t),
        source: current_text(&current),
        max_mb: state.gateway.config.console.test_max_bytes >> 20,
        result,
        c,
    }))
}

pub async fn page(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(flash): Query<FlashQuery>,
) -> PageResult {
    policy_page(&state, &p, &headers, &flash, None).await
}

/// The uploaded file of a multipart form, spooled to disk and cut at `max` bytes: `Ok(None)`
/// when there was none, `Err(size)` when it was larger. Other fields come back as pairs.
pub(crate) async fn upload(
    mut mp: Multipart,
    max: u64,
) -> Result<(Option<(String, Blob)>, Vec<(String, String)>), PageError> {
    let bad = |e: axum::extract::multipart::MultipartError| {
        PageError(StatusCode::BAD_REQUEST, e.to_string())
    };
    let mut file = None;
    let mut fields = Vec::new();
    let mut too_large = false;
    while let Some(mut field) = mp.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        match field.file_name().map(str::to_owned) {
            Some(file_name) if !file_name.is_empty() => {
                let (mut f, path) = tempfile::NamedTempFile::new()
                    .map_err(|e| PageError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
                    .into_parts();
                let mut len: u64 = 0;
                // Read the whole body even past the limit, so the browser gets the answer
                // page instead of a reset connection; only the first `max` bytes are kept.
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    len += chunk.len() as u64;
                    if len <= max {
                        f.write_all(&chunk).map_err(|e| {
                            PageError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
                        })?;
                    } else {
                        too_large = true;
                    }
                }
                if !too_large && len > 0 {
                    file = Some((file_name, Blob::from_temp(path, len)));
                }
            }
            Some(_) => {}
            None => {
                let text = field.text().await.map_err(bad)?;
                fields.push((name, text));
            }
        }
    }
    if too_large {
        return Err(PageError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("> {max} bytes"),
        ));
    }
    Ok((file, fields))
}

/// The findings of a report's JSON (`ObjectReport::to_json`, masked) as table rows, in the
/// reader's language.
pub(crate) fn finding_rows(t: Tr, findings: &serde_json::Value) -> Vec<TestFinding> {
    findings
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let s = |k: &str| f.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
            TestFinding {
                kind: t.kind(&s("kind")),
                level: f
                    .get("level")
                    .and_then(|v| v.as_str())
                    .map(|l| t.level(l))
                    .unwrap_or_default(),
                part: s("part"),
                line: f
                    .get("line")
                    .and_then(|v| v.as_u64())
                    .map(|l| l.to_string())
                    .unwrap_or_default(),
                text: s("text"),
                reason: t.reason(&s("reason")),
            }
        })
        .collect()
}

pub async fn test_file(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    mp: Multipart,
) -> PageResult {
    let max = state.gateway.config.console.test_max_bytes;
    let c = Chrome::new(&state, &p, &headers, "policy.title", "/policy");
    let t = c.t;
    let (file, _) = match upload(mp, max).await {
        Ok(u) => u,
        Err(PageError(StatusCode::PAYLOAD_TOO_LARGE, _)) => {
            let msg = format!("{} {} MB", t.t("policy.too_large"), max >> 20);
            let mut resp = policy_page(
                &state,
                &p,
                &headers,
                &FlashQuery {
                    done: None,
                    error: Some(msg),
                },
                None,
            )
            .await?;
            *resp.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
            return Ok(resp);
        }
        Err(e) => return Err(e),
    };
    let Some((name, blob)) = file else {
        return policy_page(
            &state,
            &p,
            &headers,
            &FlashQuery {
                done: None,
                error: Some("policy.no_file".into()),
            },
            None,
        )
        .await;
    };
    let size = blob.len();
    let hash = baomi_engine::register::object_hash(&blob)
        .map(|h| h.iter().map(|b| format!("{b:02x}")).collect::<String>())
        .unwrap_or_default();
    let engine = state.gateway.engine();
    let file_name = name.clone();
    let report =
        tokio::task::spawn_blocking(move || engine.inspect(blob, &file_name, Channel::Api))
            .await
            .map_err(|e| PageError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let action = report.verdict.action.as_str();
    state
        .gateway
        .store
        .audit(
            &p.actor,
            "policy.test",
            // A file name can itself be secret: the subject is the content's hash, and the
            // name stays in the detail, which the auditor's view leaves out.
            &format!("file:{}", &hash[..hash.len().min(16)]),
            json!({"name": name, "size": size, "blake3": hash, "verdict": action, "rules": report.verdict.rules}),
        )
        .await?;
    let json = report.to_json(false);
    let findings = finding_rows(t, &json["findings"]);
    let result = TestResult {
        name,
        size: super::size(Some(size as i64)),
        true_type: report.true_type.clone(),
        verdict: t.action(action),
        verdict_class: format!("act-{action}"),
        rules: report.verdict.rules.join(", "),
        findings,
    };
    policy_page(&state, &p, &headers, &FlashQuery::default(), Some(result)).await
}

#[derive(Template)]
#[template(path = "policy_edit.html")]
struct EditPage {
    c: Chrome,
    tabs: Vec<NavItem>,
    head: Head,
    /// The version the text was taken from (0: the shipped default).
    base: i64,
    toml: String,
    comment: String,
    /// The parser's message when the text was refused.
    problem: Option<String>,
    /// The same in Chinese, when the page is (see [`explain_zh`]).
    problem_zh: Option<String>,
}

async fn edit_page(
    state: &ApiState,
    p: &Principal,
    headers: &HeaderMap,
    edit: Option<(PolicyForm, String, bool)>,
) -> PageResult {
    let c = Chrome::new(state, p, headers, "pv.edit_title", "/policy");
    let t = c.t;
    let current = state.gateway.store.policy_current().await?;
    let authors = Authors::load(state).await;
    let page = match edit {
        // A refused save: the officer's text back, with why.
        Some((form, problem, from_parser)) => {
            let problem_zh = (from_parser && t.is_zh()).then(|| explain_zh(&problem, &form.toml));
            EditPage {
                problem_zh,
                base: form.base,
                toml: form.toml,
                comment: form.comment,
                problem: Some(problem),
                tabs: tabs(p, t, "/policy/edit"),
                head: head(state, t, &authors, &current),
                c,
            }
        }
        None => EditPage {
            base: current.as_ref().map_or(0, |v| v.meta.version),
            toml: current_text(&current),
            comment: String::new(),
            problem: None,
            problem_zh: None,
            tabs: tabs(p, t, "/policy/edit"),
            head: head(state, t, &authors, &current),
            c,
        },
    };
    let mut resp = crate::render(&page);
    if page.problem.is_some() {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

/// `GET /policy/edit`: the current policy's text in an editor.
pub async fn edit(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
) -> PageResult {
    edit_page(&state, &p, &headers, None).await
}

#[derive(Deserialize, Default)]
pub struct PolicyForm {
    #[serde(default)]
    toml: String,
    #[serde(default)]
    comment: String,
    /// The version the officer started from.
    #[serde(default)]
    base: i64,
}

/// `POST /policy/edit`: check the text as every node will parse it, then store it as a new
/// version by the signed-in officer (audited by the store). A text that does not parse, an
/// empty one, one without a comment, or one based on a version that is no longer current
/// (someone saved meanwhile) is refused with the reason and the officer's text kept.
pub async fn save(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Form(mut form): Form<PolicyForm>,
) -> PageResult {
    let t = Chrome::new(&state, &p, &headers, "pv.edit_title", "/policy").t;
    // Browsers send CRLF from a textarea; store the text as files have it.
    form.toml = form.toml.replace("\r\n", "\n");
    let store = &state.gateway.store;
    let current = store.policy_current().await?;
    let now = current.as_ref().map_or(0, |v| v.meta.version);
    let refuse =
        |form: PolicyForm, why: String| edit_page(&state, &p, &headers, Some((form, why, false)));
    if form.toml.trim().is_empty() {
        return refuse(form, t.t("pv.empty").to_owned()).await;
    }
    if form.comment.trim().is_empty() {
        return refuse(form, t.t("pv.no_comment").to_owned()).await;
    }
    if form.base != now {
        let authors = Authors::load(&state).await;
        let (who, at) = current
            .as_ref()
            .map(|v| (authors.show(t, &v.meta.author), when(v.meta.created_ms)))
            .unwrap_or_default();
        let msg = t
            .t("pv.stale")
            .replace("{v}", &now.to_string())
            .replace("{who}", &who)
            .replace("{when}", &at);
        return refuse(form, msg).await;
    }
    let internal = &state.gateway.config.milter.internal_domains;
    if let Err(e) = baomi_server::live::parse_policy(&form.toml, internal) {
        let why = format!("{e:#}");
        return edit_page(&state, &p, &headers, Some((form, why, true))).await;
    }
    let set = store
        .policy_set(&form.toml, &p.actor, Some(form.comment.trim()))
        .await?;
    if set.unchanged {
        return Ok(back_to("/policy/versions", "pv.unchanged"));
    }
    Ok(
        axum::response::Redirect::to(&format!("/policy/versions?done=pv.saved&v={}", set.version))
            .into_response(),
    )
}

/// The parser's message (English) said in Chinese, for the officer: where — the TOML line
/// and column, or the rule or exception with the line its name is on — and what kind of
/// mistake. The original message is shown under it.
pub fn explain_zh(msg: &str, text: &str) -> String {
    let between = |s: &str, start: &str, end: char| -> Option<String> {
        let i = s.find(start)? + start.len();
        let rest = &s[i..];
        Some(rest[..rest.find(end)?].to_owned())
    };
    let mut place = String::new();
    if let Some(rest) = msg.strip_prefix("TOML parse error at line ") {
        let line: String = rest.chars().take_while(char::is_ascii_digit).collect();
        let col = between(rest, "column ", '\n')
            .map(|c| c.trim().to_owned())
            .unwrap_or_default();
        place = format!("第 {line} 行第 {col} 列附近");
    } else {
        for (prefix, what) in [("rule \"", "规则"), ("exception \"", "例外")] {
            if let Some(name) = msg.strip_prefix(prefix).and_then(|r| r.split('"').next()) {
                let line = text.lines().position(|l| {
                    let l: String = l.chars().filter(|c| !c.is_whitespace()).collect();
                    l == format!("name=\"{name}\"")
                });
                place = match line {
                    Some(n) => format!("{what}“{name}”（第 {} 行）", n + 1),
                    None => format!("{what}“{name}”"),
                };
            }
        }
    }
    let field = between(msg, "in `", '`');
    let what = if let Some(value) = between(msg, "unknown variant `", '`') {
        let choices = msg
            .split_once("expected one of ")
            .map(|(_, c)| {
                c.lines()
                    .next()
                    .unwrap_or("")
                    .split(", ")
                    .map(|x| x.trim_matches('`'))
                    .collect::<Vec<_>>()
                    .join("、")
            })
            .unwrap_or_default();
        let of = field.map(|f| format!("`{f}` 的")).unwrap_or_default();
        format!("{of}取值“{value}”无效，可用的取值：{choices}")
    } else if let Some(key) = between(msg, "unknown key `", '`') {
        format!("不认识的项 `{key}`（可能拼写有误）")
    } else if let Some(key) = between(msg, "unknown field `", '`') {
        format!("不认识的项 `{key}`（可能拼写有误）")
    } else if let Some(key) = between(msg, "missing field `", '`') {
        format!("缺少必填项 `{key}`")
    } else if msg.contains("is defined twice") {
        "名称重复".to_owned()
    } else if msg.contains("has an empty name") {
        "名称为空".to_owned()
    } else if msg.contains("no rule named") {
        "引用了不存在的规则".to_owned()
    } else if msg.contains("invalid type") {
        let of = field.map(|f| format!("`{f}` 的")).unwrap_or_default();
        format!("{of}取值类型不对（例如应为文字却写成了数字，或缺少引号）")
    } else if msg.starts_with("TOML parse error") {
        "TOML 格式错误（引号、方括号或等号不完整）".to_owned()
    } else {
        "请对照下面的原文修改".to_owned()
    };
    if place.is_empty() {
        format!("{what}。")
    } else {
        format!("{place}：{what}。")
    }
}

#[derive(Template)]
#[template(path = "policy_versions.html")]
struct VersionsPage {
    c: Chrome,
    tabs: Vec<NavItem>,
    head: Head,
    rows: Vec<VersionRow>,
    /// The version just saved, lit in the table.
    saved: i64,
    from: i64,
    to: i64,
}

#[derive(Deserialize, Default)]
pub struct VersionsQuery {
    done: Option<String>,
    error: Option<String>,
    v: Option<i64>,
}

/// `GET /policy/versions`: every stored version, newest first, with what to compare.
pub async fn versions(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(q): Query<VersionsQuery>,
) -> PageResult {
    let mut c = Chrome::new(&state, &p, &headers, "pv.title", nav_for(&p))
        .flash_from(q.done.as_deref(), q.error.as_deref());
    let t = c.t;
    if let (Some(v), Some("pv.saved")) = (q.v, q.done.as_deref()) {
        c.flash = Some(t.t("pv.saved").replace("{v}", &v.to_string()));
    }
    let store = &state.gateway.store;
    let current = store.policy_current().await?;
    let now = current.as_ref().map_or(0, |v| v.meta.version);
    let authors = Authors::load(&state).await;
    let rows: Vec<VersionRow> = store
        .policy_history()
        .await?
        .iter()
        .map(|m| version_row(t, &authors, m, now))
        .collect();
    Ok(crate::render(&VersionsPage {
        tabs: tabs(&p, t, "/policy/versions"),
        head: head(&state, t, &authors, &current),
        saved: q.v.unwrap_or(0),
        from: (now - 1).max(1),
        to: now,
        rows,
        c,
    }))
}

#[derive(Template)]
#[template(path = "policy_version.html")]
struct VersionPage {
    c: Chrome,
    tabs: Vec<NavItem>,
    v: VersionRow,
    current: i64,
    toml: String,
}

/// `GET /policy/versions/{id}`: one stored version's text.
pub async fn version(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> PageResult {
    let mut c = Chrome::new(&state, &p, &headers, "pv.version_title", nav_for(&p));
    let t = c.t;
    let store = &state.gateway.store;
    let stored = store.policy_version(id).await?;
    let current = store.policy_current().await?.map_or(0, |v| v.meta.version);
    let authors = Authors::load(&state).await;
    c.title = format!("{} v{id}", t.t("pv.version_title"));
    Ok(crate::render(&VersionPage {
        tabs: tabs(&p, t, "/policy/versions"),
        v: version_row(t, &authors, &stored.meta, current),
        current,
        toml: stored.toml,
        c,
    }))
}

/// One line of a difference: its numbers in the old and the new text, `+`/`-`/` `.
pub struct DiffLine {
    pub old: String,
    pub new: String,
    pub sign: &'static str,
    pub class: &'static str,
    pub text: String,
}

/// A run of changes with a few lines around them.
pub struct Hunk {
    /// `第 12–18 行`, in the new text.
    pub header: String,
    pub lines: Vec<DiffLine>,
}

/// The difference from `a` to `b` line by line (the `similar` crate, as `baomi policy
/// diff` shows it), in hunks with three lines of context; and the lines added and removed.
pub fn diff_hunks(t: Tr, a: &str, b: &str) -> (Vec<Hunk>, usize, usize) {
    use similar::{ChangeTag, TextDiff};
    let diff = TextDiff::from_lines(a, b);
    let (mut added, mut removed) = (0, 0);
    let mut hunks = Vec::new();
    for group in diff.grouped_ops(3) {
        let mut lines = Vec::new();
        let (mut first, mut last) = (usize::MAX, 0);
        for op in &group {
            for change in diff.iter_changes(op) {
                let (sign, class) = match change.tag() {
                    ChangeTag::Delete => {
                        removed += 1;
                        ("-", "del")
                    }
                    ChangeTag::Insert => {
                        added += 1;
                        ("+", "add")
                    }
                    ChangeTag::Equal => (" ", "ctx"),
                };
                if let Some(n) = change.new_index() {
                    first = first.min(n + 1);
                    last = last.max(n + 1);
                }
                let text = change.value().trim_end_matches(['\n', '\r']).to_owned();
                lines.push(DiffLine {
                    old: change
                        .old_index()
                        .map(|i| (i + 1).to_string())
                        .unwrap_or_default(),
                    new: change
                        .new_index()
                        .map(|i| (i + 1).to_string())
                        .unwrap_or_default(),
                    sign,
                    class,
                    text,
                });
            }
        }
        let header = if first == usize::MAX {
            t.t("pv.hunk_removed").to_owned()
        } else {
            t.t("pv.hunk")
                .replace("{a}", &first.to_string())
                .replace("{b}", &last.to_string())
        };
        hunks.push(Hunk { header, lines });
    }
    (hunks, added, removed)
}

/// One of the two versions compared.
pub struct Side {
    pub class: &'static str,
    pub sign: &'static str,
    pub sign_class: &'static str,
    pub label: &'static str,
    pub v: VersionRow,
}

#[derive(Template)]
#[template(path = "policy_diff.html")]
struct DiffPage {
    c: Chrome,
    tabs: Vec<NavItem>,
    /// The two versions, old then new (none: fewer than two are stored).
    sides: Vec<Side>,
    hunks: Vec<Hunk>,
    added: usize,
    removed: usize,
    /// Every stored version, for the choice of two.
    all: Vec<i64>,
    from: i64,
    to: i64,
}

#[derive(Deserialize, Default)]
pub struct DiffQuery {
    from: Option<i64>,
    to: Option<i64>,
}

/// `GET /policy/diff?from=A&to=B`: what changed from version A to B (default: the one
/// before the current one to the current one).
pub async fn diff(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(q): Query<DiffQuery>,
) -> PageResult {
    let mut c = Chrome::new(&state, &p, &headers, "pv.diff_title", nav_for(&p));
    let t = c.t;
    let store = &state.gateway.store;
    let all: Vec<i64> = store
        .policy_history()
        .await?
        .iter()
        .map(|m| m.version)
        .collect();
    let now = all.first().copied().unwrap_or(0);
    let to = q.to.unwrap_or(now);
    let from = q.from.unwrap_or(to - 1);
    let tabs = tabs(&p, t, "/policy/versions");
    if all.len() < 2 && q.from.is_none() && q.to.is_none() {
        return Ok(crate::render(&DiffPage {
            tabs,
            sides: Vec::new(),
            hunks: Vec::new(),
            added: 0,
            removed: 0,
            all,
            from,
            to,
            c,
        }));
    }
    let (a, b) = (
        store.policy_version(from).await?,
        store.policy_version(to).await?,
    );
    let authors = Authors::load(&state).await;
    let (hunks, added, removed) = diff_hunks(t, &a.toml, &b.toml);
    c.title = format!("{} v{from} → v{to}", t.t("pv.diff_title"));
    Ok(crate::render(&DiffPage {
        tabs,
        sides: vec![
            Side {
                class: "old",
                sign: "−",
                sign_class: "del",
                label: t.t("pv.from"),
                v: version_row(t, &authors, &a.meta, now),
            },
            Side {
                class: "new",
                sign: "+",
                sign_class: "add",
                label: t.t("pv.to"),
                v: version_row(t, &authors, &b.meta, now),
            },
        ],
        hunks,
        added,
        removed,
        all,
        from,
        to,
        c,
    }))
}

pub struct RegRow {
    pub id: String,
    pub title: String,
    pub level: String,
    pub chars: i64,
    pub added: String,
    pub source: String,
}

#[derive(Template)]
#[template(path = "registry.html")]
struct RegistryPage {
    c: Chrome,
    rows: Vec<RegRow>,
    levels: Vec<Opt>,
}

pub async fn registry(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(flash): Query<FlashQuery>,
) -> PageResult {
    let c = Chrome::new(&state, &p, &headers, "reg.title", "/registry")
        .flash_from(flash.done.as_deref(), flash.error.as_deref());
    let t = c.t;
    let rows = state
        .gateway
        .store
        .registry_list()
        .await?
        .into_iter()
        .map(|m: RegistryMeta| RegRow {
            level: t.level(&m.level),
            added: when(m.added_ms),
            id: m.id,
            title: m.title,
            chars: m.chars,
            source: m.source_name,
        })
        .collect();
    Ok(crate::render(&RegistryPage {
        rows,
        levels: level_opts(t, &None),
        c,
    }))
}

pub async fn register(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    mp: Multipart,
) -> PageResult {
    let (file, fields) = match upload(mp, state.gateway.engine().limits().max_expanded_bytes).await
    {
        Ok(u) => u,
        Err(e) => return Ok(back_with_error("/registry", &e.1)),
    };
    let field = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let Some((name, blob)) = file else {
        return Ok(back_with_error("/registry", "policy.no_file"));
    };
    let level = field("level").and_then(|l| Level::parse(&l));
    let title = field("title");
    let engine = state.gateway.engine();
    let file_name = name.clone();
    let registered = tokio::task::spawn_blocking(move || {
        baomi_engine::register::register(&engine, blob, &file_name, level, title.as_deref(), None)
    })
    .await
    .map_err(|e| PageError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let r = match registered {
        Ok(r) => r,
        Err(e) if level.is_none() && e.to_string().contains("no marking") => {
            return Ok(back_with_error("/registry", "reg.no_level"));
        }
        Err(e) => return Ok(back_with_error("/registry", &e.to_string())),
    };
    let entry = RegistryEntry {
        meta: RegistryMeta {
            id: r.id,
            title: r.title,
            level: r.level.as_str().into(),
            source_name: name,
            chars: i64::from(r.doc.chars),
            added_ms: baomi_store::now_ms(),
        },
        data: r.doc.to_bytes(),
    };
    state.gateway.store.registry_put(&entry, &p.actor).await?;
    Ok(back_to("/registry", "common.done"))
}

pub async fn unregister(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> PageResult {
    match state.gateway.store.registry_remove(&id, &p.actor).await {
        Ok(()) => Ok(back_to("/registry", "common.done")),
        Err(e @ baomi_store::StoreError::NotFound(_)) => Ok(PageError::from(e).into_response()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn a_difference_is_hunks_of_numbered_plus_minus_lines() {
        let t = Tr { lang: Lang::Zh };
        let a: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        let b = a
            .replace("line 3\n", "line three\n")
            .replace("line 18\n", "");
        let (hunks, added, removed) = diff_hunks(t, &a, &b);
        assert_eq!((added, removed), (1, 2));
        assert_eq!(hunks.len(), 2, "far apart: two hunks");
        let first = &hunks[0];
        assert_eq!(first.header, "第 1–6 行（新版本）");
        let del = first.lines.iter().find(|l| l.sign == "-").unwrap();
        let add = first.lines.iter().find(|l| l.sign == "+").unwrap();
        assert_eq!(
            (del.text.as_str(), del.old.as_str(), del.new.as_str()),
            ("line 3", "3", "")
        );
        assert_eq!(
            (add.text.as_str(), add.old.as_str(), add.new.as_str()),
            ("line three", "", "3")
        );
        assert!(first.lines.iter().filter(|l| l.sign == " ").count() >= 3);
        assert!(diff_hunks(t, &a, &a).0.is_empty());
    }

    #[test]
    fn the_parsers_messages_are_said_in_chinese_with_where() {
        let text = "alert_at = \"alert\"\n\n[[rule]]\nname = \"typo\"\nkinds = [\"marking\"]\naction = \"blok\"\n";
        let msg = baomi_core::policy::Policy::from_toml(text).unwrap_err();
        assert_eq!(
            explain_zh(&msg, text),
            "规则“typo”（第 4 行）：`action` 的取值“blok”无效，可用的取值：allow、audit、alert、quarantine、block。",
            "{msg}"
        );
        let text = "[[rule]]\nname = \"x\"\nkinds = [\"marking\"]\nactoin = \"block\"\n";
        let msg = baomi_core::policy::Policy::from_toml(text).unwrap_err();
        assert!(
            explain_zh(&msg, text).contains("不认识的项 `actoin`"),
            "{msg}"
        );
        let text = "[[rule]]\nname = \"x\nkinds = []\n";
        let msg = baomi_core::policy::Policy::from_toml(text).unwrap_err();
        assert!(explain_zh(&msg, text).starts_with("第 2 行第"), "{msg}");
    }
}
