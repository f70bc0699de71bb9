//! Masking of personal data in logs and reports (placeholder: masks everything but ends).
use crate::FindingKind;

/// The text of a finding as it may be shown without `--show-values`.
pub fn mask(kind: FindingKind, text: &str) -> String {
    if !kind.is_personal_data() {
        return text.to_owned();
    }
    "*".repeat(text.chars().count())
}
