//! Personal data (placeholder).
use super::{Detector, PartView};
use crate::Finding;

#[derive(Default)]
pub struct PiiDetector {}

impl PiiDetector {
    pub fn new() -> PiiDetector {
        PiiDetector {}
    }
}

impl Detector for PiiDetector {
    fn name(&self) -> &'static str {
        "pii"
    }
    fn detect(&self, _part: &PartView<'_>, _out: &mut Vec<Finding>) {}
}
