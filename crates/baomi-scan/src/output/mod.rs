//! Report renderers. Each writes to any `io::Write`; personal data is masked unless the
//! user asked for values.

use std::io::{self, Write};

use baomi_engine::ObjectReport;

use crate::{Summary, WalkError};

mod csv;
mod html;
mod human;
mod json;

pub use self::csv::CsvWriter;
pub use html::HtmlWriter;
pub use human::HumanWriter;
pub use json::JsonWriter;

/// The output formats of `baomi scan --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Csv,
    Html,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "human" | "text" => Some(Format::Human),
            "json" | "jsonl" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            "html" => Some(Format::Html),
            _ => None,
        }
    }
}

/// A renderer fed reports as they come and the summary at the end.
pub trait ReportWriter {
    fn report(&mut self, report: &ObjectReport, alerts: bool) -> io::Result<()>;
    fn walk_error(&mut self, error: &WalkError) -> io::Result<()>;
    fn finish(&mut self, summary: &Summary) -> io::Result<()>;
}

/// A writer for `format` over `out`.
pub fn writer(
    format: Format,
    out: Box<dyn Write + Send>,
    show_values: bool,
) -> Box<dyn ReportWriter + Send> {
    match format {
        Format::Human => Box::new(HumanWriter::new(out, show_values)),
        Format::Json => Box::new(JsonWriter::new(out, show_values)),
        Format::Csv => Box::new(CsvWriter::new(out, show_values)),
        Format::Html => Box::new(HtmlWriter::new(out, show_values)),
    }
}

/// Human-readable byte count.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The text of a finding as it may be shown.
pub(crate) fn shown_text(f: &baomi_core::Finding, show_values: bool) -> String {
    if show_values {
        f.text.clone()
    } else {
        baomi_core::mask::mask(f.kind, &f.text)
    }
}
