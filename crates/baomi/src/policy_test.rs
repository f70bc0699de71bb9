//! `baomi policy test FILE --channel web --person 张三 --destination pan.example.cn`: what the
//! policy would decide for a file sent by someone to somewhere, and which rules and
//! exceptions decided it. The engine decides, exactly as at the doors.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use baomi_core::policy::Context;
use baomi_core::{Action, Channel};
use clap::Args;

use crate::{fingerprint, setup};

#[derive(Args)]
pub struct PolicyTestArgs {
    /// The file to inspect (a document, a mail .eml, an archive …).
    pub file: PathBuf,
    /// The door: scan, web, mail, chat, usb, print, api.
    #[arg(long, default_value = "scan")]
    pub channel: String,
    /// Who sends it (as the directory names them).
    #[arg(long)]
    pub person: Option<String>,
    /// Their department, as a path from the top (`市局/办公室/保密科`).
    #[arg(long)]
    pub department: Option<String>,
    /// A group they belong to; repeatable.
    #[arg(long = "group")]
    pub groups: Vec<String>,
    /// Where it goes: a host or URL (web), a recipient address (mail); repeatable.
    #[arg(long = "destination")]
    pub destinations: Vec<String>,
    /// When, Beijing time: `2026-12-03 20:30` (default: now).
    #[arg(long)]
    pub at: Option<String>,
    /// The policy to test (default: DATA_DIR/policy.toml, else the shipped default).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// The unit's own domains and networks, added to the `internal` host list; repeatable.
    #[arg(long = "internal")]
    pub internal: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

fn channel(s: &str) -> Result<Channel> {
    Ok(match s {
        "scan" => Channel::Scan,
        "web" => Channel::Web,
        "mail" => Channel::Mail,
        "api" => Channel::Api,
        "chat" => Channel::Chat,
        "publish" => Channel::Publish,
        other => {
            let as_json = serde_json::Value::String(other.to_owned());
            serde_json::from_value(as_json)
                .map_err(|_| anyhow::anyhow!("unknown channel {other:?}"))?
        }
    })
}

/// `YYYY-MM-DD HH:MM` (or with `T`) in Beijing time → Unix seconds.
fn beijing_time(s: &str) -> Result<i64> {
    let bad = || anyhow::anyhow!("--at {s:?}: write Beijing time as 2026-12-03 20:30");
    let s = s.trim().replace('T', " ");
    let (date, time) = s.split_once(' ').unwrap_or((&s, "00:00"));
    let d: Vec<i64> = date
        .split('-')
        .map(|p| p.parse().map_err(|_| bad()))
        .collect::<Result<_>>()?;
    let t: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().map_err(|_| bad()))
        .collect::<Result<_>>()?;
    let (&[y, m, day], [h, min, ..]) = (d.as_slice(), t.as_slice()) else {
        return Err(bad());
    };
    if !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || !(0..24).contains(h)
        || !(0..60).contains(min)
    {
        return Err(bad());
    }
    let days = baomi_core::civil::days_from_civil(y, m as u32, day as u32);
    Ok(days * 86_400 + h * 3600 + min * 60 - 8 * 3600)
}

pub fn run(args: PolicyTestArgs, data_dir: &Path, url: Option<&str>) -> Result<i32> {
    let mut policy = setup::policy(args.policy.as_deref(), data_dir)?;
    if !args.internal.is_empty() {
        policy
            .extend_internal(&args.internal)
            .map_err(|e| anyhow::anyhow!("--internal: {e}"))?;
    }
    let dictionaries = setup::dictionaries(&[], data_dir)?;
    let limits = baomi_engine::Limits {
        passwords: setup::passwords(None, data_dir)?,
        ..baomi_engine::Limits::default()
    };
    let fingerprints = fingerprint::load_index(data_dir, url)?;
    let engine = setup::engine(policy, dictionaries, limits, fingerprints)?;
    let ctx = Context {
        channel: channel(&args.channel)?,
        person: args.person.clone(),
        department: args.department.clone(),
        groups: args.groups.clone(),
        destinations: args.destinations.clone(),
        attachments: Vec::new(),
        at: args.at.as_deref().map(beijing_time).transpose()?,
    };
    if !args.file.is_file() {
        bail!("{}: not a file", args.file.display());
    }
    let blob = baomi_extract::Blob::from_path(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (report, why) = engine.inspect_explained(blob, &name, &ctx);
    let mut kinds: Vec<(&str, usize)> = Vec::new();
    for f in &report.findings {
        match kinds.iter_mut().find(|(k, _)| *k == f.kind.as_str()) {
            Some((_, n)) => *n += 1,
            None => kinds.push((f.kind.as_str(), 1)),
        }
    }
    if args.json {
        let rules: Vec<_> = why
            .rules
            .iter()
            .map(|r| {
                serde_json::json!({
                    "rule": r.rule,
                    "action": r.action.as_str(),
                    "exception": r.lowered_by,
                })
            })
            .collect();
        let out = serde_json::json!({
            "file": args.file.display().to_string(),
            "verdict": report.verdict.action.as_str(),
            "severity": report.verdict.severity,
            "rules": rules,
            "exceptions": report.verdict.exceptions,
            "expired_exceptions": why.expired,
            "findings": kinds.iter().map(|(k, n)| serde_json::json!({"kind": k, "count": n})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{}: {} ({})",
            args.file.display(),
            report.verdict.action.as_str(),
            action_zh(report.verdict.action)
        );
        if why.rules.is_empty() {
            println!("  no rule matched");
        }
        for r in &why.rules {
            let (name, action) = (&r.rule, r.action.as_str());
            match &r.lowered_by {
                Some(ex) => {
                    let reason = engine
                        .policy()
                        .exceptions
                        .iter()
                        .find(|e| &e.name == ex)
                        .map(|e| e.reason.as_str())
                        .unwrap_or("");
                    println!("  rule {name}: {action} — lowered by exception {ex} ({reason})")
                }
                None => println!("  rule {name}: {action}"),
            }
        }
        for ex in &why.expired {
            println!("  exception {ex} would apply but has expired");
        }
        if !kinds.is_empty() {
            let list: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
            println!("  findings: {}", list.join(", "));
        }
    }
    Ok(i32::from(engine.alerts(&report.verdict)))
}

fn action_zh(a: Action) -> &'static str {
    match a {
        Action::Allow => "放行",
        Action::Audit => "记录",
        Action::Alert => "告警",
        Action::Quarantine => "隔离待审",
        Action::Block => "阻断",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beijing_times_are_utc_plus_eight() {
        assert_eq!(beijing_time("2026-12-03 10:00").unwrap(), 1_796_263_200);
        assert_eq!(beijing_time("2026-12-03T10:00").unwrap(), 1_796_263_200);
        assert!(beijing_time("yesterday").is_err());
        assert!(beijing_time("2026-13-01 10:00").is_err());
    }
}
