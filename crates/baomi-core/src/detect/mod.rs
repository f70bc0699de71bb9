//! Detectors: one trait, one file per detector. A detector reads a normalised part and
//! reports findings with spans in the original text. It never decides what to do.

use crate::model::{Finding, PartRole};
use crate::normalise::Normalized;

pub mod dictionary;
pub mod fingerprint;
pub mod marking;
pub mod pii;
pub mod regex_rule;

/// A text part as detectors see it.
pub struct PartView<'a> {
    /// Origin path of the part inside its container chain.
    pub path: &'a str,
    pub role: PartRole,
    /// The text as extracted.
    pub original: &'a str,
    /// The normalised text with its offset map back to `original`.
    pub norm: &'a Normalized,
    /// Line number of the part's first line in its source: 1 for a whole part, more for the
    /// later chunks of a large text streamed in pieces (which have no document head).
    pub first_line: u32,
}

pub trait Detector: Send + Sync {
    /// Short stable name, for logs and benchmarks.
    fn name(&self) -> &'static str;
    /// Append the findings of one part to `out`. Spans must be in `part.original`.
    fn detect(&self, part: &PartView<'_>, out: &mut Vec<Finding>);
}
