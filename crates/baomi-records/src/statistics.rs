//! 自查自纠情况统计表: per department for a period (or a campaign), the figures of
//! DOMAIN.md §5. Computed from the store, never typed in, except the mini-program counts and
//! the measures, which the officer enters per campaign, and the chat-group count where a
//! department has no registered group.
//!
//! - 检查工作群数: the department's registered work chat groups checked in the period
//!   (`baomi-store::chat_groups`); the officer's entered figure only where the department
//!   has no registered group (`StatsRow::chat_groups_from_registry` says which);
//! - 自查人数: distinct people with a self-inspection run that finished in the period;
//! - 上报线索数: clue reports issued in the period whose 发生单位 is the department;
//! - 涉及文件: files raised by self-inspection (incidents of channel `scan`, not called a
//!   false positive), each file (machine + path) counted once under its highest marking:
//!   绝密, 机密, 秘密, 工作秘密, or 其他 (personal data, terms, registered excerpts, other
//!   levels). So the row equals what the incident queue shows for `channel=scan`, the
//!   department and the period, minus false positives.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use baomi_core::Level;
use baomi_store::{Campaign, Store, day_start_ms};
use serde::Serialize;

use crate::{Error, Member, Result, UNREGISTERED};

/// The column names, in order; the CSV header row is exactly these.
pub const COLUMNS: [&str; 11] = [
    "单位/部门",
    "自查人数",
    "检查工作群数",
    "检查小程序数",
    "上报线索数",
    "绝密",
    "机密",
    "秘密",
    "工作秘密",
    "其他",
    "主要整改措施",
];

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct StatsRow {
    pub department: String,
    pub people: u64,
    pub chat_groups: i64,
    /// Whether [`chat_groups`](Self::chat_groups) came from the chat-group registry (the
    /// department's registered groups checked in the period) rather than the officer's
    /// entered figure, which is kept only where the department has no registered group.
    pub chat_groups_from_registry: bool,
    pub mini_programs: i64,
    pub clues: u64,
    pub top_secret: u64,
    pub secret: u64,
    pub confidential: u64,
    pub work_secret: u64,
    pub other: u64,
    pub measures: String,
}

impl StatsRow {
    /// The cells in [`COLUMNS`] order, as text.
    pub fn cells(&self) -> [String; 11] {
        [
            self.department.clone(),
            self.people.to_string(),
            self.chat_groups.to_string(),
            self.mini_programs.to_string(),
            self.clues.to_string(),
            self.top_secret.to_string(),
            self.secret.to_string(),
            self.confidential.to_string(),
            self.work_secret.to_string(),
            self.other.to_string(),
            self.measures.clone(),
        ]
    }

    /// The files involved, over all columns.
    pub fn files(&self) -> u64 {
        self.top_secret + self.secret + self.confidential + self.work_secret + self.other
    }

    fn add(&mut self, o: &StatsRow) {
        self.people += o.people;
        self.chat_groups += o.chat_groups;
        self.mini_programs += o.mini_programs;
        self.clues += o.clues;
        self.top_secret += o.top_secret;
        self.secret += o.secret;
        self.confidential += o.confidential;
        self.work_secret += o.work_secret;
        self.other += o.other;
    }
}

/// Which runs and incidents the table covers.
#[derive(Debug, Clone)]
pub enum Scope {
    /// A campaign: its period, its departments, its entered figures.
    Campaign(String),
    /// A period (Beijing dates, both included); every department.
    Period { from_day: String, to_day: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct SelfInspectionTable {
    pub campaign: Option<String>,
    pub from_day: String,
    pub to_day: String,
    pub rows: Vec<StatsRow>,
    pub total: StatsRow,
}

/// The period of a scope in milliseconds, `[from, to)`.
pub(crate) fn period_ms(from_day: &str, to_day: &str) -> Result<(i64, i64)> {
    let from = day_start_ms(from_day)
        .ok_or_else(|| Error::Invalid(format!("{from_day:?} is not a date (YYYY-MM-DD)")))?;
    let to = day_start_ms(to_day)
        .ok_or_else(|| Error::Invalid(format!("{to_day:?} is not a date (YYYY-MM-DD)")))?
        + 86_400_000;
    if to <= from {
        return Err(Error::Invalid(format!(
            "the period ends ({to_day}) before it starts ({from_day})"
        )));
    }
    Ok((from, to))
}

/// The column a file goes under, by its highest marking.
fn column(level: Option<&str>) -> usize {
    match level.and_then(Level::parse) {
        Some(Level::TopSecret) => 0,
        Some(Level::Secret) => 1,
        Some(Level::Confidential) => 2,
        Some(Level::WorkSecret) => 3,
        _ => 4,
    }
}

/// The rank used to keep a file's highest marking when it was raised more than once.
fn rank(level: Option<&str>) -> i32 {
    match column(level) {
        4 => -1,
        c => 4 - c as i32,
    }
}

/// Compute the table. `directory` orders the rows (departments in the order they first
/// appear there) and supplies departments that reported nothing, so a silent department
/// shows as a row of zeros rather than not at all.
pub async fn self_inspection(
    store: &Store,
    scope: &Scope,
    directory: &[Member],
) -> Result<SelfInspectionTable> {
    let (campaign, from_day, to_day): (Option<Campaign>, String, String) = match scope {
        Scope::Campaign(name) => {
            let c = store.campaign(name).await?;
            let (f, t) = (c.from_day.clone(), c.to_day.clone());
            (Some(c), f, t)
        }
        Scope::Period { from_day, to_day } => (None, from_day.clone(), to_day.clone()),
    };
    let (from_ms, to_ms) = period_ms(&from_day, &to_day)?;

    // Row order: the campaign's departments, else the directory's, then anything else seen.
    let mut order: Vec<String> = Vec::new();
    let push = |d: &str, order: &mut Vec<String>| {
        if !order.iter().any(|o| o == d) {
            order.push(d.to_owned());
        }
    };
    let in_scope: Option<BTreeSet<String>> = campaign
        .as_ref()
        .filter(|c| !c.departments.is_empty())
        .map(|c| c.departments.iter().cloned().collect());
    match &campaign {
        Some(c) if !c.departments.is_empty() => {
            for d in &c.departments {
                push(d, &mut order);
            }
        }
        _ => {
            for m in directory {
                push(&m.department, &mut order);
            }
        }
    }
    let wanted = |d: &str| in_scope.as_ref().is_none_or(|s| s.contains(d));
    let mut rows: HashMap<String, StatsRow> = HashMap::new();
    let row = |d: &str, order: &mut Vec<String>| -> String {
        push(d, order);
        d.to_owned()
    };

    let mut people: HashMap<String, BTreeSet<String>> = HashMap::new();
    for run in store.scan_runs(from_ms, to_ms).await? {
        let d = run.department.as_deref().unwrap_or(UNREGISTERED);
        if !wanted(d) {
            continue;
        }
        let d = row(d, &mut order);
        let who = run.person.clone().unwrap_or_else(|| run.machine.clone());
        people.entry(d).or_default().insert(who);
    }
    for (d, set) in people {
        rows.entry(d).or_default().people = set.len() as u64;
    }

    // One file per (machine, path), under its highest marking.
    let mut files: BTreeMap<(String, String, String), Option<String>> = BTreeMap::new();
    for f in store.scan_incident_files(from_ms, to_ms).await? {
        let d = f.department.as_deref().unwrap_or(UNREGISTERED);
        if !wanted(d) {
            continue;
        }
        let key = (
            row(d, &mut order),
            f.machine.clone().unwrap_or_default(),
            f.path.clone().unwrap_or_else(|| f.number.clone()),
        );
        let slot = files.entry(key).or_insert(None);
        if slot.is_none() || rank(f.level.as_deref()) > rank(slot.as_deref()) {
            *slot = Some(f.level.clone().unwrap_or_default());
        }
    }
    for ((d, _, _), level) in files {
        let r = rows.entry(d).or_default();
        match column(level.as_deref().filter(|l| !l.is_empty())) {
            0 => r.top_secret += 1,
            1 => r.secret += 1,
            2 => r.confidential += 1,
            3 => r.work_secret += 1,
            _ => r.other += 1,
        }
    }

    for clue in store.issued_clue_reports(from_ms, to_ms).await? {
        let d = clue.fields.occurring_unit.trim();
        if !wanted(d) {
            continue;
        }
        let d = row(d, &mut order);
        rows.entry(d).or_default().clues += 1;
    }

    if let Some(c) = &campaign {
        for e in store.campaign_entries(c.id).await? {
            if !wanted(&e.department) {
                continue;
            }
            let d = row(&e.department, &mut order);
            let r = rows.entry(d).or_default();
            r.chat_groups = e.chat_groups;
            r.mini_programs = e.mini_programs;
            r.measures = e.measures.unwrap_or_default();
        }
    }

    // 检查工作群数 from the registry wherever the department has registered groups.
    for (d, g) in store.chat_groups_by_department(from_ms, to_ms).await? {
        if g.registered == 0 || !wanted(&d) {
            continue;
        }
        let d = row(&d, &mut order);
        let r = rows.entry(d).or_default();
        r.chat_groups = g.checked;
        r.chat_groups_from_registry = true;
    }

    let mut out = Vec::new();
    let mut total = StatsRow {
        department: "合计".into(),
        ..Default::default()
    };
    for d in order {
        let mut r = rows.remove(&d).unwrap_or_default();
        r.department = d;
        total.add(&r);
        out.push(r);
    }
    Ok(SelfInspectionTable {
        campaign: campaign.map(|c| c.name),
        from_day,
        to_day,
        rows: out,
        total,
    })
}

impl SelfInspectionTable {
    pub fn title(&self) -> String {
        "自查自纠情况统计表".into()
    }

    /// `统计时段：2026-11-01 至 2026-11-30（活动：…）`
    pub fn subtitle(&self) -> String {
        let mut s = format!("统计时段：{} 至 {}", self.from_day, self.to_day);
        if let Some(c) = &self.campaign {
            s.push_str(&format!("　自查活动：{c}"));
        }
        s
    }

    /// CSV, UTF-8 with a BOM so that Excel opens the Chinese right; header row = [`COLUMNS`].
    pub fn to_csv(&self) -> Result<Vec<u8>> {
        let mut out = b"\xEF\xBB\xBF".to_vec();
        {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record(COLUMNS)?;
            for r in self.rows.iter().chain(std::iter::once(&self.total)) {
                w.write_record(r.cells())?;
            }
            w.flush()?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_follow_the_highest_marking() {
        assert_eq!(column(Some("top_secret")), 0);
        assert_eq!(column(Some("secret")), 1);
        assert_eq!(column(Some("confidential")), 2);
        assert_eq!(column(Some("work_secret")), 3);
        assert_eq!(column(Some("internal")), 4);
        assert_eq!(column(None), 4);
        assert!(rank(Some("top_secret")) > rank(Some("secret")));
        assert!(rank(Some("work_secret")) > rank(None));
    }
}
