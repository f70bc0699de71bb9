//! The security officer's policy page (the active rules, "test a file") and the registry of
//! secret documents (add by upload, list, remove).

use std::io::Write;

use askama::Template;
use axum::Extension;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use baomi_core::{Channel, Level};
use baomi_extract::Blob;
use baomi_server::api::ApiState;
use baomi_server::authz::Principal;
use baomi_store::{RegistryEntry, RegistryMeta};
use serde_json::json;

use super::auth::FlashQuery;
use super::incidents::{Opt, level_opts};
use super::{Chrome, PageError, PageResult, back_to, back_with_error, when};
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

fn policy_source(state: &ApiState) -> String {
    let local = state.gateway.store.data_dir().join("policy.toml");
    std::fs::read_to_string(local)
        .unwrap_or_else(|_| baomi_core::policy::DEFAULT_POLICY_TOML.to_owned())
}

fn policy_page(
    state: &ApiState,
    p: &Principal,
    headers: &HeaderMap,
    flash: &FlashQuery,
    result: Option<TestResult>,
) -> PageResult {
    let c = Chrome::new(state, p, headers, "policy.title", "/policy")
        .flash_from(flash.done.as_deref(), flash.error.as_deref());
    let t = c.t;
    Ok(crate::render(&PolicyPage {
        rules: rule_rows(state, t),
        exceptions: exception_rows(state, t),
        source: policy_source(state),
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
    policy_page(&state, &p, &headers, &flash, None)
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
            )?;
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
        );
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
    policy_page(&state, &p, &headers, &FlashQuery::default(), Some(result))
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
