use std::io::{self, Write};

use baomi_engine::ObjectReport;

use super::{ReportWriter, shown_text};
use crate::{Summary, WalkError};

/// CSV: one row per finding (and one row for a file with no finding but a non-allow
/// verdict or an error), for spreadsheets and ledgers (台账).
pub struct CsvWriter {
    out: csv::Writer<Box<dyn Write + Send>>,
    show_values: bool,
    header_done: bool,
}

const HEADER: [&str; 12] = [
    "path",
    "type",
    "declared_type",
    "size",
    "verdict",
    "kind",
    "level",
    "confidence",
    "part",
    "line",
    "text",
    "reason",
];

impl CsvWriter {
    pub fn new(out: Box<dyn Write + Send>, show_values: bool) -> CsvWriter {
        CsvWriter {
            out: csv::Writer::from_writer(out),
            show_values,
            header_done: false,
        }
    }

    fn row(&mut self, fields: [String; 12]) -> io::Result<()> {
        if !self.header_done {
            self.out.write_record(HEADER)?;
            self.header_done = true;
        }
        self.out.write_record(&fields)?;
        Ok(())
    }
}

impl ReportWriter for CsvWriter {
    fn report(&mut self, r: &ObjectReport, _alerts: bool) -> io::Result<()> {
        let base = |r: &ObjectReport| {
            [
                r.path.clone(),
                r.true_type.clone(),
                r.declared_type.clone().unwrap_or_default(),
                r.size.to_string(),
                r.verdict.action.to_string(),
            ]
        };
        if r.findings.is_empty() {
            if !r.errors.is_empty() {
                let [a, b, c, d, e] = base(r);
                let err = r.errors.join("; ");
                return self.row([
                    a,
                    b,
                    c,
                    d,
                    e,
                    "error".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    err,
                ]);
            }
            return Ok(());
        }
        for f in &r.findings {
            let [a, b, c, d, e] = base(r);
            self.row([
                a,
                b,
                c,
                d,
                e,
                f.kind.to_string(),
                f.level.map(|l| l.to_string()).unwrap_or_default(),
                format!("{:.2}", f.confidence),
                f.part.clone(),
                f.line.map(|l| l.to_string()).unwrap_or_default(),
                shown_text(f, self.show_values),
                f.reason.clone(),
            ])?;
        }
        Ok(())
    }

    fn walk_error(&mut self, e: &WalkError) -> io::Result<()> {
        let r = ObjectReport::failed(e.path.clone(), e.message.clone());
        self.report(&r, false)
    }

    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        if !self.header_done {
            self.out.write_record(HEADER)?;
        }
        self.out.flush()
    }
}
