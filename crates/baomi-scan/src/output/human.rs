use std::io::{self, Write};

use baomi_core::{Action, FindingKind, Level};
use baomi_engine::ObjectReport;

use super::{ReportWriter, human_bytes, shown_text};
use crate::{Summary, WalkError};

/// Plain text for a terminal: every file with a finding or a non-allow verdict, then the
/// totals a self-inspection report needs. Clean files are only counted.
pub struct HumanWriter {
    out: Box<dyn Write + Send>,
    show_values: bool,
    /// Reasons in Chinese when the user's locale is Chinese (`LANG`/`LC_ALL` `zh…`).
    chinese: bool,
}

impl HumanWriter {
    pub fn new(out: Box<dyn Write + Send>, show_values: bool) -> HumanWriter {
        let chinese = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .find(|v| !v.is_empty())
            .is_some_and(|v| v.starts_with("zh"));
        HumanWriter {
            out,
            show_values,
            chinese,
        }
    }
}

/// Personal data is summarised per kind and part instead of one line per number: fifty ID
/// numbers are one line saying fifty.
const LIST_EACH: usize = 5;

impl ReportWriter for HumanWriter {
    fn report(&mut self, r: &ObjectReport, _alerts: bool) -> io::Result<()> {
        if r.findings.is_empty() && r.errors.is_empty() && r.verdict.action == Action::Allow {
            return Ok(());
        }
        let declared = match &r.declared_type {
            Some(d) if d != &r.true_type => format!(", named as {d}"),
            _ => String::new(),
        };
        writeln!(
            self.out,
            "[{} {}] {} ({}{}, {})",
            r.verdict.action.zh(),
            r.verdict.action,
            r.path,
            r.true_type,
            declared,
            human_bytes(r.size)
        )?;
        for e in &r.errors {
            writeln!(self.out, "    error: {e}")?;
        }
        let mut shown_per_kind: Vec<(FindingKind, usize)> = Vec::new();
        for f in &r.findings {
            let seen = match shown_per_kind.iter_mut().find(|(k, _)| *k == f.kind) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    shown_per_kind.push((f.kind, 1));
                    1
                }
            };
            if seen > LIST_EACH {
                continue;
            }
            let level = f.level.map(|l| format!(" {}", l.zh())).unwrap_or_default();
            let loc = match f.line {
                Some(l) => format!("{}:{l}", f.part),
                None => f.part.clone(),
            };
            let text = shown_text(f, self.show_values);
            let text = if text.is_empty() {
                String::new()
            } else {
                format!(" «{}»", one_line(&text))
            };
            writeln!(
                self.out,
                "    {}{level} ({:.2}) {loc}{text} — {}",
                f.kind,
                f.confidence,
                if self.chinese {
                    baomi_core::reason::zh(&f.reason)
                } else {
                    f.reason.clone()
                }
            )?;
        }
        for (kind, n) in shown_per_kind {
            if n > LIST_EACH {
                writeln!(self.out, "    … {} more {kind} findings", n - LIST_EACH)?;
            }
        }
        if r.findings_omitted > 0 {
            writeln!(
                self.out,
                "    … {} further findings not kept",
                r.findings_omitted
            )?;
        }
        if !r.verdict.rules.is_empty() {
            writeln!(self.out, "    policy: {}", r.verdict.rules.join(", "))?;
        }
        Ok(())
    }

    fn walk_error(&mut self, e: &WalkError) -> io::Result<()> {
        writeln!(self.out, "[error] {}: {}", e.path, e.message)
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        writeln!(self.out)?;
        writeln!(self.out, "扫描汇总 Summary")?;
        writeln!(
            self.out,
            "  files: {}  bytes: {}  errors: {}  stopped by a limit: {}",
            s.files,
            human_bytes(s.bytes),
            s.errors,
            s.incomplete
        )?;
        let verdicts: Vec<String> = s
            .verdicts
            .iter()
            .rev()
            .map(|(a, n)| format!("{} {a} {n}", a.zh()))
            .collect();
        writeln!(self.out, "  verdicts: {}", verdicts.join(", "))?;
        let levels: Vec<String> = Level::ALL
            .iter()
            .filter_map(|l| s.files_by_level.get(l).map(|n| format!("{} {n}", l.zh())))
            .collect();
        if levels.is_empty() {
            writeln!(self.out, "  files with markings: none")?;
        } else {
            writeln!(
                self.out,
                "  files with markings (highest level): {}",
                levels.join(", ")
            )?;
        }
        for (kind, n) in &s.findings_by_kind {
            let files = s.files_by_kind.get(kind).copied().unwrap_or(0);
            writeln!(self.out, "  {kind} ({}): {n} in {files} files", kind.zh())?;
        }
        self.out.flush()
    }
}

fn one_line(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() > 60 {
        flat.chars().take(60).chain("…".chars()).collect()
    } else {
        flat
    }
}
