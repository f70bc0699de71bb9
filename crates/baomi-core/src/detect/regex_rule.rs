//! Custom regex rules from the policy (placeholder).
use super::{Detector, PartView};
use crate::Finding;
use crate::policy::RegexRule;

pub struct RegexDetector {}

impl RegexDetector {
    pub fn new(rules: &[RegexRule]) -> Result<RegexDetector, String> {
        let _ = rules;
        Ok(RegexDetector {})
    }
}

impl Detector for RegexDetector {
    fn name(&self) -> &'static str {
        "regex"
    }
    fn detect(&self, _part: &PartView<'_>, _out: &mut Vec<Finding>) {}
}
