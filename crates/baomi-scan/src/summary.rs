use std::collections::BTreeMap;

use baomi_core::{Action, FindingKind, Level};
use baomi_engine::ObjectReport;
use serde::Serialize;

/// Totals over a scan: what the self-inspection statistics table (自查自纠情况统计表) needs —
/// files and documents involved by their highest marking level, personal data and other
/// findings by kind, verdicts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub files: u64,
    pub bytes: u64,
    /// Files whose inspection failed (I/O errors) plus walk errors.
    pub errors: u64,
    /// Files stopped early by a limit.
    pub incomplete: u64,
    pub verdicts: BTreeMap<Action, u64>,
    /// Files by the highest marking level found in them.
    pub files_by_level: BTreeMap<Level, u64>,
    /// Findings by kind (all occurrences).
    pub findings_by_kind: BTreeMap<FindingKind, u64>,
    /// Files with at least one finding of the kind.
    pub files_by_kind: BTreeMap<FindingKind, u64>,
    /// Files whose verdict reached the policy's alert threshold.
    pub alerting_files: u64,
    /// Findings over all files.
    pub findings: u64,
}

impl Summary {
    pub fn add(&mut self, report: &ObjectReport, alerts: bool) {
        self.files += 1;
        self.bytes += report.size;
        if !report.errors.is_empty() {
            self.errors += 1;
        }
        if !report.complete {
            self.incomplete += 1;
        }
        *self.verdicts.entry(report.verdict.action).or_default() += 1;
        if alerts {
            self.alerting_files += 1;
        }
        let top = report
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::Marking)
            .filter_map(|f| f.level)
            .max();
        if let Some(level) = top {
            *self.files_by_level.entry(level).or_default() += 1;
        }
        self.findings += report
            .findings
            .iter()
            .map(|f| u64::from(f.count))
            .sum::<u64>()
            + report.findings_omitted as u64;
        let mut kinds: Vec<FindingKind> = Vec::new();
        for f in &report.findings {
            *self.findings_by_kind.entry(f.kind).or_default() += u64::from(f.count);
            if !kinds.contains(&f.kind) {
                kinds.push(f.kind);
            }
        }
        for k in kinds {
            *self.files_by_kind.entry(k).or_default() += 1;
        }
    }

    pub fn walk_error(&mut self) {
        self.errors += 1;
    }

    /// The `scan` exit code from DESIGN.md: 2 when errors prevented a complete scan, else 1
    /// when anything reached the alert threshold, else 0.
    pub fn exit_code(&self) -> i32 {
        if self.errors > 0 {
            2
        } else if self.alerting_files > 0 {
            1
        } else {
            0
        }
    }
}
