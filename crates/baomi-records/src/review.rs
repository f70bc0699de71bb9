//! 信息发布保密审查表: the publication review's form — the item, what the scan found, and
//! every step with its decision, comment, signer and time — rendered as PDF ([`form_pdf`]);
//! [`scan_summary`] is the scan in the few words the form, the console and the API share.

use std::collections::BTreeMap;

use baomi_core::{Action, FindingKind};
use baomi_store::{ReviewDetail, ReviewState};
use serde_json::{Value, json};

use crate::Result;

/// The scan of a version in words: the verdict, then each kind of finding with its count
/// (`阻断级：密级标志 2 处，身份证号 1 处`), or that nothing was found.
pub fn scan_summary(scan: &Value, action: &str) -> String {
    let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
    for object in scan["objects"].as_array().into_iter().flatten() {
        for f in object["report"]["findings"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let Ok(kind) = serde_json::from_value::<FindingKind>(f["kind"].clone()) else {
                continue;
            };
            *kinds.entry(kind.zh()).or_default() += f["count"].as_u64().unwrap_or(1);
        }
    }
    // The verdict as a level of concern, not as what a gateway would do with it.
    let verdict = match serde_json::from_value::<Action>(json!(action)) {
        Ok(Action::Block) => "阻断级",
        Ok(Action::Quarantine) => "隔离级",
        Ok(Action::Alert) => "告警级",
        Ok(Action::Audit) => "记录级",
        Ok(Action::Allow) | Err(_) => "通过",
    };
    if kinds.is_empty() {
        return format!("{verdict}：未发现标密、个人信息、登记涉密文件摘录或敏感词");
    }
    let parts: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} {n} 处")).collect();
    format!("{verdict}：{}", parts.join("，"))
}

fn decision_zh(decision: &str) -> &'static str {
    match decision {
        "submit" => "提交",
        "approve" => "同意",
        "reject" => "退回",
        _ => "—",
    }
}

fn step_zh(step: &str) -> &'static str {
    ReviewState::parse(step).map_or("—", ReviewState::zh)
}

/// The form's data, as the template reads it.
fn form_data(d: &ReviewDetail, unit: &str) -> Value {
    let v = d.current();
    let r = &d.review;
    let files: Vec<Value> = v
        .files
        .iter()
        .map(|f| {
            json!({
                "name": f.name,
                "size": f.size.to_string(),
                "type": f.true_type,
                "sha256": f.sha256,
            })
        })
        .collect();
    // Only the current version's steps are signatures on this form; earlier versions are
    // listed as how the item got here.
    let steps: Vec<Value> = d
        .history
        .iter()
        .filter(|s| s.version == v.version)
        .map(|s| {
            let mut comment = s.comment.clone().unwrap_or_default();
            if s.acknowledged {
                comment = format!("（已确认检测发现）{comment}");
            }
            json!({
                "step": if s.decision == "submit" { "拟稿" } else { step_zh(&s.step) },
                "decision": decision_zh(&s.decision),
                "comment": comment,
                "signer": s.signer(),
                "when": crate::clue::time_zh(s.created_ms),
            })
        })
        .collect();
    let earlier: Vec<String> = d
        .history
        .iter()
        .filter(|s| s.version != v.version && s.decision == "reject")
        .map(|s| {
            format!(
                "第 {} 稿于{}被退回（{}，{}）：{}",
                s.version,
                step_zh(&s.step),
                s.signer(),
                crate::clue::time_zh(s.created_ms),
                s.comment.as_deref().unwrap_or("")
            )
        })
        .collect();
    json!({
        "unit": unit,
        "number": format!("审查〔{}〕{}号", &baomi_store::local_date(r.created_ms)[..4], r.id),
        "title": v.title,
        "drafter": r.drafter_signs(),
        "department": r.department.clone().unwrap_or_default(),
        "submitted": crate::clue::time_zh(v.submitted_ms),
        "version": v.version.to_string(),
        "text_chars": v.text_chars.to_string(),
        "text_sha256": v.text_sha256.clone().unwrap_or_default(),
        "content_sha256": v.content_sha256,
        "files": files,
        "scan": scan_summary(&v.scan, &v.action),
        "blocking": v.blocking,
        "steps": steps,
        "earlier": earlier,
        "state": r.state.zh(),
        "generated": format!("本表由 Baomi 生成，{}。审查结论以本表所列内容哈希为准：发布的内容与之不一致的，视为未经审查。",
                             baomi_store::local_date(baomi_store::now_ms())),
    })
}

/// The signed 保密审查表 of the item's current version.
pub fn form_pdf(d: &ReviewDetail, unit: &str) -> Result<Vec<u8>> {
    crate::pdf::render_template(
        include_str!("../templates/review_form.typ"),
        form_data(d, unit),
    )
}
