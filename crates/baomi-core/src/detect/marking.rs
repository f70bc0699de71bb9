//! Classification markings (placeholder).
use super::{Detector, PartView};
use crate::Finding;

#[derive(Default)]
pub struct MarkingDetector {}

impl MarkingDetector {
    pub fn new() -> MarkingDetector {
        MarkingDetector {}
    }
}

impl Detector for MarkingDetector {
    fn name(&self) -> &'static str {
        "marking"
    }
    fn detect(&self, _part: &PartView<'_>, _out: &mut Vec<Finding>) {}
}
