use std::fmt::Write as _;
use std::io::{self, Write};

use baomi_core::{Action, Level};
use baomi_engine::ObjectReport;

use super::{ReportWriter, human_bytes, shown_text};
use crate::{Summary, WalkError};

/// One self-contained HTML page in Chinese: summary figures, a bar chart (inline SVG, no
/// scripts, no network), and a table of findings. Only flagged files are kept in memory.
pub struct HtmlWriter {
    out: Box<dyn Write + Send>,
    show_values: bool,
    rows: String,
    errors: Vec<String>,
}

impl HtmlWriter {
    pub fn new(out: Box<dyn Write + Send>, show_values: bool) -> HtmlWriter {
        HtmlWriter {
            out,
            show_values,
            rows: String::new(),
            errors: Vec::new(),
        }
    }
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() => o.push(' '),
            c => o.push(c),
        }
    }
    o
}

fn action_class(a: Action) -> &'static str {
    match a {
        Action::Block | Action::Quarantine => "block",
        Action::Alert => "alert",
        Action::Audit => "audit",
        Action::Allow => "allow",
    }
}

/// Horizontal bars as inline SVG.
fn bar_chart(title: &str, bars: &[(String, u64)]) -> String {
    let mut svg = String::new();
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let h = 26 * bars.len().max(1) + 30;
    let _ = write!(
        svg,
        "<figure><figcaption>{}</figcaption><svg width=\"520\" height=\"{h}\" role=\"img\" aria-label=\"{}\">",
        esc(title),
        esc(title)
    );
    if bars.is_empty() {
        let _ = write!(svg, "<text x=\"0\" y=\"20\">无</text>");
    }
    for (i, (label, n)) in bars.iter().enumerate() {
        let y = 10 + i * 26;
        let w = (*n as f64 / max as f64 * 330.0).max(2.0);
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"13\">{}</text><rect x=\"140\" y=\"{y}\" width=\"{w:.0}\" height=\"18\" fill=\"#b22\"/><text x=\"{:.0}\" y=\"{}\" font-size=\"13\">{n}</text>",
            y + 14,
            esc(label),
            146.0 + w,
            y + 14
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

impl ReportWriter for HtmlWriter {
    fn report(&mut self, r: &ObjectReport, _alerts: bool) -> io::Result<()> {
        for e in &r.errors {
            self.errors.push(format!("{}: {e}", r.path));
        }
        if r.findings.is_empty() && r.verdict.action == Action::Allow {
            return Ok(());
        }
        let cls = action_class(r.verdict.action);
        let n = r.findings.len().max(1);
        let mut first = true;
        let head = format!(
            "<td rowspan=\"{n}\" class=\"path\">{}<br><small>{} · {}</small></td><td rowspan=\"{n}\" class=\"{cls}\">{}</td>",
            esc(&r.path),
            esc(&r.true_type),
            human_bytes(r.size),
            r.verdict.action.zh()
        );
        if r.findings.is_empty() {
            let _ = write!(self.rows, "<tr>{head}<td colspan=\"5\"></td></tr>");
        }
        for f in &r.findings {
            let level = f.level.map(|l| l.zh()).unwrap_or("");
            let loc = match f.line {
                Some(l) => format!("{}:{l}", f.part),
                None => f.part.clone(),
            };
            let _ = write!(
                self.rows,
                "<tr>{}<td>{}</td><td>{}</td><td class=\"loc\">{}</td><td>{}</td><td>{}</td></tr>",
                if first { head.as_str() } else { "" },
                esc(f.kind.zh()),
                esc(level),
                esc(&loc),
                esc(&shown_text(f, self.show_values)),
                esc(&baomi_core::reason::zh(&f.reason))
            );
            first = false;
        }
        Ok(())
    }

    fn walk_error(&mut self, e: &WalkError) -> io::Result<()> {
        self.errors.push(format!("{}: {}", e.path, e.message));
        Ok(())
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        let levels: Vec<(String, u64)> = Level::ALL
            .iter()
            .filter_map(|l| s.files_by_level.get(l).map(|n| (l.zh().to_string(), *n)))
            .collect();
        let kinds: Vec<(String, u64)> = s
            .files_by_kind
            .iter()
            .map(|(k, n)| (k.zh().to_string(), *n))
            .collect();
        let verdicts: Vec<String> = s
            .verdicts
            .iter()
            .rev()
            .map(|(a, n)| format!("<span class=\"{}\">{} {n}</span>", action_class(*a), a.zh()))
            .collect();
        let state: u64 = [Level::TopSecret, Level::Secret, Level::Confidential]
            .iter()
            .filter_map(|l| s.files_by_level.get(l))
            .sum();
        let mut errors = String::new();
        if !self.errors.is_empty() {
            errors.push_str("<h2>错误</h2><ul>");
            for e in &self.errors {
                let _ = write!(errors, "<li>{}</li>", esc(e));
            }
            errors.push_str("</ul>");
        }
        write!(
            self.out,
            r#"<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>保密检查报告</title>
<style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:2em;color:#222}}
h1{{border-bottom:3px solid #b22}} table{{border-collapse:collapse;width:100%;font-size:14px}}
table{{table-layout:fixed}} td,th{{border:1px solid #ccc;padding:4px 6px;vertical-align:top;overflow-wrap:anywhere}}
th{{background:#f3f3f3}} col.path{{width:20%}} col.short{{width:5.5em}} col.kind{{width:8em}} col.loc{{width:27%}}
.block{{color:#fff;background:#b22}} .alert{{background:#f7c948}} .audit{{background:#dde}}
.allow{{background:#dfd}} .loc{{font-family:monospace;font-size:12px}}
.figs{{display:flex;gap:3em;flex-wrap:wrap;align-items:flex-start}} figure{{margin:0}} dl{{display:grid;grid-template-columns:max-content auto;gap:4px 16px}}
span.block,span.alert,span.audit,span.allow{{padding:1px 6px;margin-right:6px}}
</style></head><body>
<h1>保密检查报告</h1>
<dl>
<dt>检查文件数</dt><dd>{files}（{bytes}）</dd>
<dt>涉及国家秘密的文件</dt><dd>{state}</dd>
<dt>处置结果</dt><dd>{verdicts}</dd>
<dt>错误 / 超出限制</dt><dd>{errs} / {incomplete}</dd>
</dl>
<div class="figs">{c1}{c2}</div>
<h2>发现明细</h2>
<table><colgroup><col class="path"><col class="short"><col class="kind"><col class="short"><col class="loc"><col><col></colgroup>
<thead><tr><th>文件</th><th>处置</th><th>类别</th><th>密级</th><th>位置</th><th>内容</th><th>依据</th></tr></thead>
<tbody>{rows}</tbody></table>
{errors}
<p><small>个人信息默认已脱敏。由 Baomi 生成。</small></p>
</body></html>
"#,
            files = s.files,
            bytes = human_bytes(s.bytes),
            verdicts = verdicts.join(" "),
            errs = s.errors,
            incomplete = s.incomplete,
            c1 = bar_chart("按最高密级统计的文件数", &levels),
            c2 = bar_chart("按发现类别统计的文件数", &kinds),
            rows = self.rows,
        )?;
        self.out.flush()
    }
}
