//! 违规问题线索和存在隐患报告表: a draft proposed from one or several incidents. The officer
//! edits every field before issuing; the proposal only saves retyping what Baomi saw.

use std::collections::BTreeMap;

use baomi_core::{Level, reason};
use baomi_store::{ClueCategory, ClueFields, Incident, local_date};
use serde_json::Value;

/// Hosts of WeChat mini-programs' back ends: an upload there is a mini-program transmission.
const MINI_PROGRAM_HOSTS: &[&str] = &["servicewechat.com", "miniprogram", "mp.weixin.qq.com"];

fn is_image(i: &Incident) -> bool {
    i.object_type.as_deref().is_some_and(|t| {
        t.starts_with("image/")
            || ["jpeg", "png", "heic", "webp", "bmp", "tiff", "gif"].contains(&t)
    }) || i.findings.as_array().is_some_and(|fs| {
        fs.iter()
            .any(|f| f["part"].as_str().is_some_and(|p| p.contains("#ocr")))
    })
}

/// The category a set of incidents suggests: a photographed document (an image whose text
/// came from OCR) is 手机拍照; an upload to a mini-program back end is 聊天小程序传输或处理;
/// anything through the chat door is 聊天工具传输; the rest 其他隐患.
pub fn propose_category(incidents: &[Incident]) -> ClueCategory {
    if incidents.iter().any(is_image) {
        return ClueCategory::Photo;
    }
    if incidents.iter().any(|i| {
        i.destination
            .as_deref()
            .is_some_and(|d| MINI_PROGRAM_HOSTS.iter().any(|h| d.contains(h)))
    }) {
        return ClueCategory::MiniProgram;
    }
    if incidents.iter().any(|i| i.channel == "chat") {
        return ClueCategory::Chat;
    }
    ClueCategory::Other
}

pub fn channel_zh(channel: &str) -> &'static str {
    match channel {
        "web" => "经网页上传",
        "mail" => "经邮件发送",
        "api" => "经接口提交",
        "scan" => "在保密自查中发现",
        "chat" => "经聊天工具发送",
        "usb" => "拷贝至移动存储介质",
        "print" => "打印",
        _ => "经其他途径",
    }
}

/// What Baomi did, in words. A self-inspection stops nothing (the file stays where it is):
/// it only says how the policy rates the file.
pub fn action_zh(channel: &str, action: &str) -> &'static str {
    if channel == "scan" {
        return match action {
            "block" | "quarantine" => "按策略属应阻断的文件",
            "alert" => "按策略属应告警的文件",
            _ => "已记录",
        };
    }
    match action {
        "block" => "已拦截",
        "quarantine" => "已隔离",
        "alert" => "已告警",
        "audit" => "已记录",
        "allow" => "已放行",
        _ => "已记录",
    }
}

/// A time as the forms write it: `2026年11月21日 00:30` (Beijing time).
pub fn time_zh(ms: i64) -> String {
    let day = local_date(ms);
    let minutes = (ms + baomi_store::LOCAL_OFFSET_MS).rem_euclid(86_400_000) / 60_000;
    let (y, rest) = day.split_at(4);
    let m: u32 = rest[1..3].parse().unwrap_or(0);
    let d: u32 = rest[4..6].parse().unwrap_or(0);
    format!("{y}年{m}月{d}日 {:02}:{:02}", minutes / 60, minutes % 60)
}

fn level_zh(level: Option<&str>) -> &'static str {
    level.and_then(Level::parse).map_or("未标密级", Level::zh)
}

/// What Baomi found, in a sentence: `密级标志“机密★5年”（星号与保密期限）；手机号码 138****5678`.
fn findings_zh(findings: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    for f in findings.as_array().into_iter().flatten().take(6) {
        let text = f["text"].as_str().unwrap_or("");
        let why = f["reason"].as_str().map(reason::zh).unwrap_or_default();
        let kind = f["kind"].as_str().unwrap_or("");
        let what = match kind {
            "marking" => "密级标志",
            k if k.starts_with("pii.") => "个人信息",
            "keyword" => "敏感词",
            "fingerprint" => "登记涉密文件内容",
            _ => "检测项",
        };
        let mut s = format!("{what}“{text}”");
        if !why.is_empty() {
            s.push_str(&format!("（{why}）"));
        }
        if !parts.contains(&s) {
            parts.push(s);
        }
    }
    parts.join("；")
}

/// A draft from incidents: the department where most of them happened, the proposed
/// category, each file with its level, and the facts — time, who, how, what was found,
/// what Baomi did — one paragraph per incident.
pub fn propose(incidents: &[Incident], reporting_unit: &str) -> ClueFields {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for i in incidents {
        *count
            .entry(i.department.as_deref().unwrap_or(""))
            .or_default() += 1;
    }
    let occurring = count
        .iter()
        .max_by_key(|(_, n)| **n)
        .map(|(d, _)| d.to_string())
        .unwrap_or_default();
    let documents = incidents
        .iter()
        .map(|i| {
            format!(
                "《{}》（{}）",
                i.object_name.as_deref().unwrap_or("（无文件名）"),
                level_zh(i.level.as_deref())
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let facts = incidents
        .iter()
        .map(|i| {
            let who = match (&i.department, &i.user) {
                (Some(d), Some(u)) => format!("{d}{u}"),
                (None, Some(u)) => u.clone(),
                (Some(d), None) => format!("{d}人员"),
                (None, None) => "未识别人员".into(),
            };
            let place = i
                .source
                .as_deref()
                .map(|s| format!("（来源：{s}）"))
                .unwrap_or_default();
            let dest = i
                .destination
                .as_deref()
                .map(|d| format!("，目的地 {d}"))
                .unwrap_or_default();
            format!(
                "{}，{who}{place}{}文件《{}》{dest}。系统检测到：{}。{}（事件编号 {}）。",
                time_zh(i.created_ms),
                channel_zh(&i.channel),
                i.object_name.as_deref().unwrap_or("（无文件名）"),
                findings_zh(&i.findings),
                action_zh(&i.channel, &i.action),
                i.number
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let remedy = incidents
        .iter()
        .filter_map(|i| i.disposition_note.as_deref())
        .filter(|n| !n.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    ClueFields {
        reporting_unit: reporting_unit.to_owned(),
        occurring_unit: occurring,
        category: propose_category(incidents),
        documents,
        facts,
        remedy,
        incidents: incidents.iter().map(|i| i.number.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_in_beijing() {
        // 2026-11-21 00:30 Beijing.
        assert_eq!(time_zh(1_795_192_200_000), "2026年11月21日 00:30");
    }
}
