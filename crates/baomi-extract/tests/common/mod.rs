//! What the extraction tests share: a sink that keeps every part and finding.

use baomi_core::{Finding, Part};
use baomi_extract::Sink;

#[derive(Default)]
pub struct Collect {
    pub parts: Vec<Part>,
    pub findings: Vec<Finding>,
}

impl Sink for Collect {
    fn part(&mut self, part: Part) {
        self.parts.push(part);
    }
    fn finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
}
