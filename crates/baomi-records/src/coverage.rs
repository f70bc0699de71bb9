//! A campaign's coverage (不漏一人、一机、一盘、一网): per department in scope, who has
//! reported and from which machines, who in the directory has not, which registered
//! machines are silent, and what the runs found.

use std::collections::{BTreeMap, BTreeSet};

use baomi_store::{Campaign, ScanRun, Store};
use serde::Serialize;

use crate::statistics::period_ms;
use crate::{Member, Result, UNREGISTERED};

#[derive(Debug, Clone, Serialize, Default)]
pub struct Reporter {
    pub person: String,
    pub machines: Vec<String>,
    pub runs: u64,
    pub files: i64,
    pub alerting: i64,
    pub last_ms: i64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct DepartmentCoverage {
    pub department: String,
    /// People of the department in the directory.
    pub expected: u64,
    pub reported: Vec<Reporter>,
    /// People of the directory without a run in the period.
    pub missing: Vec<String>,
    /// Machines registered in the directory without a run.
    pub missing_machines: Vec<String>,
    pub files: i64,
    pub alerting: i64,
    pub errors: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub campaign: Campaign,
    pub departments: Vec<DepartmentCoverage>,
    pub runs: Vec<ScanRun>,
    pub people_reported: u64,
    pub people_expected: u64,
}

pub async fn coverage(store: &Store, campaign: &str, directory: &[Member]) -> Result<Coverage> {
    let campaign = store.campaign(campaign).await?;
    let (from, to) = period_ms(&campaign.from_day, &campaign.to_day)?;
    let scoped =
        |d: &str| campaign.departments.is_empty() || campaign.departments.iter().any(|c| c == d);
    let runs: Vec<ScanRun> = store
        .scan_runs(from, to)
        .await?
        .into_iter()
        .filter(|r| scoped(r.department.as_deref().unwrap_or(UNREGISTERED)))
        .collect();

    let mut order: Vec<String> = if campaign.departments.is_empty() {
        let mut seen = Vec::new();
        for m in directory {
            if !seen.contains(&m.department) {
                seen.push(m.department.clone());
            }
        }
        seen
    } else {
        campaign.departments.clone()
    };
    let mut by_dept: BTreeMap<String, DepartmentCoverage> = BTreeMap::new();
    let mut reporters: BTreeMap<(String, String), Reporter> = BTreeMap::new();
    let mut machines_seen: BTreeSet<String> = BTreeSet::new();
    for r in &runs {
        let d = r
            .department
            .clone()
            .unwrap_or_else(|| UNREGISTERED.to_owned());
        if !order.contains(&d) {
            order.push(d.clone());
        }
        let dc = by_dept.entry(d.clone()).or_default();
        dc.files += r.files;
        dc.alerting += r.alerting;
        dc.errors += r.errors;
        let person = r.person.clone().unwrap_or_else(|| r.machine.clone());
        let rep = reporters.entry((d, person.clone())).or_default();
        rep.person = person;
        if !rep.machines.contains(&r.machine) {
            rep.machines.push(r.machine.clone());
        }
        rep.runs += 1;
        rep.files += r.files;
        rep.alerting += r.alerting;
        rep.last_ms = rep.last_ms.max(r.finished_ms);
        machines_seen.insert(r.machine.clone());
    }
    for ((d, _), rep) in reporters {
        by_dept.entry(d).or_default().reported.push(rep);
    }
    let mut departments = Vec::new();
    let (mut people_reported, mut people_expected) = (0, 0);
    for d in order {
        let mut dc = by_dept.remove(&d).unwrap_or_default();
        dc.department = d.clone();
        let reported: BTreeSet<&str> = dc.reported.iter().map(|r| r.person.as_str()).collect();
        for m in directory.iter().filter(|m| m.department == d) {
            dc.expected += 1;
            if !reported.contains(m.name.as_str()) {
                dc.missing.push(m.name.clone());
            }
            for machine in &m.machines {
                if !machines_seen.contains(machine) {
                    dc.missing_machines.push(machine.clone());
                }
            }
        }
        people_expected += dc.expected;
        people_reported += dc.reported.len() as u64;
        departments.push(dc);
    }
    Ok(Coverage {
        campaign,
        departments,
        runs,
        people_reported,
        people_expected,
    })
}
