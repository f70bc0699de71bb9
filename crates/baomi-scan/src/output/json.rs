use std::io::{self, Write};

use baomi_engine::ObjectReport;

use super::ReportWriter;
use crate::{Summary, WalkError};

/// JSON Lines: one object per scanned top-level object (the DESIGN.md contract).
pub struct JsonWriter {
    out: Box<dyn Write + Send>,
    show_values: bool,
}

impl JsonWriter {
    pub fn new(out: Box<dyn Write + Send>, show_values: bool) -> JsonWriter {
        JsonWriter { out, show_values }
    }
}

impl ReportWriter for JsonWriter {
    fn report(&mut self, report: &ObjectReport, _alerts: bool) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &report.to_json(self.show_values))?;
        self.out.write_all(b"\n")
    }

    fn walk_error(&mut self, error: &WalkError) -> io::Result<()> {
        let r = ObjectReport::failed(error.path.clone(), error.message.clone());
        self.report(&r, false)
    }

    fn finish(&mut self, _summary: &Summary) -> io::Result<()> {
        self.out.flush()
    }
}
