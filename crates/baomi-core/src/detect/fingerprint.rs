//! Registered documents (登记文件): a part that reproduces, or quotes at least
//! [`MIN_REPORT_CHARS`] canonical characters of, a document registered by a security officer.
//! The matching itself is in [`crate::fingerprint`]; this turns matches into findings.
//!
//! One finding per registered document and part, kind `fingerprint`, level = the registered
//! document's level, `value` = its id (so the policy counts documents, and sums coverage per
//! document), `weight` = matched characters (the policy's `min_score` sums them over the
//! object's parts, so an excerpt spread over several slides or sheets still adds up),
//! `coverage` = share of the registered document.

use std::sync::Arc;

use super::{Detector, PartView};
use crate::fingerprint::{
    Canonical, DocMatch, DocMeta, FingerprintIndex, MIN_REPORT_CHARS, part_hash,
};
use crate::{Finding, FindingKind};

/// Characters of the matched passage quoted in a finding's `text`; the span covers it all.
const QUOTE_CHARS: usize = 60;

pub struct FingerprintDetector {
    index: Arc<FingerprintIndex>,
}

impl FingerprintDetector {
    pub fn new(index: Arc<FingerprintIndex>) -> FingerprintDetector {
        FingerprintDetector { index }
    }
}

/// Confidence grows with the matched length: 0.6 at 50 characters, 0.99 from ~300.
fn confidence(matched: u32) -> f32 {
    let extra = matched.saturating_sub(MIN_REPORT_CHARS) as f32 / 250.0;
    (0.6 + 0.4 * extra).min(0.99)
}

/// The finding for an identical copy: `reason` is "identical file" (the registered file's
/// bytes: all of the document) or "identical part" (a nested object or a text part of it:
/// `chars` of its characters, a lower bound for a nested object, whose own text is at least
/// [`MIN_REPORT_CHARS`]).
pub fn exact_finding(doc: &DocMeta, part: &str, reason: &str, chars: u32) -> Finding {
    let chars = chars.min(doc.chars);
    let coverage = chars as f32 / doc.chars.max(1) as f32;
    let mut f = Finding::structural(FindingKind::Fingerprint, part, "")
        .with_level(doc.level)
        .with_value(doc.id.clone());
    f.text = doc.title.clone();
    f.reason = format!(
        "{reason}: registered document «{}» ({}), {chars} characters, {:.0}% of the document",
        doc.title,
        doc.id,
        coverage * 100.0
    );
    f.confidence = 1.0;
    f.weight = chars as f64;
    f.coverage = Some(coverage);
    f
}

fn match_finding(doc: &DocMeta, m: &DocMatch, part: &PartView<'_>, canon: &Canonical) -> Finding {
    let norm = &part.norm.text;
    let (a, b) = canon.normalised_range(norm, m.longest.0, m.longest.1);
    let (start, end) = part.norm.original_range(a, b);
    let span = if part.original.get(start..end).is_some() {
        (start, end)
    } else {
        (0, 0)
    };
    let mut f = Finding::at(
        FindingKind::Fingerprint,
        part.path,
        part.original,
        span,
        confidence(m.matched_chars),
        format!(
            "registered document «{}» ({}): {} characters matched, {:.0}% of the document, \
             longest passage {} characters",
            doc.title,
            doc.id,
            m.matched_chars,
            m.coverage * 100.0,
            m.longest.1 - m.longest.0
        ),
    )
    .with_level(doc.level)
    .with_value(doc.id.clone());
    if let Some((cut, _)) = f.text.char_indices().nth(QUOTE_CHARS) {
        f.text.truncate(cut);
        f.text.push('…');
    }
    f.weight = m.matched_chars as f64;
    f.coverage = Some(m.coverage);
    f
}

impl Detector for FingerprintDetector {
    fn name(&self) -> &'static str {
        "fingerprint"
    }

    fn detect(&self, part: &PartView<'_>, out: &mut Vec<Finding>) {
        if self.index.is_empty() {
            return;
        }
        let canon = Canonical::of(&part.norm.text);
        if canon.len() < MIN_REPORT_CHARS as usize {
            return;
        }
        let mut identical: Vec<usize> = Vec::new();
        if self.index.has_exact() {
            let hash = part_hash(&canon);
            for (d, _) in self.index.exact_docs(&hash) {
                if !identical.contains(&d) {
                    identical.push(d);
                    let chars = canon.len().min(u32::MAX as usize) as u32;
                    out.push(exact_finding(
                        self.index.doc(d),
                        part.path,
                        "identical part",
                        chars,
                    ));
                }
            }
        }
        for m in self.index.find(&canon) {
            if !identical.contains(&m.doc) {
                out.push(match_finding(self.index.doc(m.doc), &m, part, &canon));
            }
        }
    }
}
