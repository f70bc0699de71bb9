//! The text a detector sees, with every character traced back to where it is written.
//!
//! A format builds one [`Stream`] per piece of text the engine would inspect (a Word part's
//! visible text, a sheet's cells row by row, an HTML page's body), the same way the extractor
//! builds it, so what the detector finds here is what a later scan would find. Each character
//! of a stream is either a character of a [`Loc`] (a text run or attribute value in a
//! document) or synthetic (a line break for a paragraph end, a tab between cells), which the
//! format adds to keep the structure but which is written nowhere.
//!
//! [`Redactor::redact_stream`] detects personal data on the stream and records, per source
//! character, what to write instead ([`Edits`]). The formats then rewrite only those
//! characters: a number split over three differently formatted runs keeps its three runs.

use std::collections::BTreeMap;

use baomi_core::FindingKind;
use baomi_core::PartRole;
use baomi_core::detect::pii::PiiDetector;
use baomi_core::detect::{Detector, PartView};
use baomi_core::normalise::Normalizer;

/// A character of a source: the `ch`-th character of segment `seg` of document `doc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Loc {
    pub doc: u32,
    pub seg: u32,
    pub ch: u32,
}

/// Text to detect on, one source location (or none) per character.
#[derive(Default)]
pub(crate) struct Stream {
    pub text: String,
    locs: Vec<Option<Loc>>,
    /// Byte offset of each character in `text`.
    starts: Vec<usize>,
    /// Text was added since the last line end (the extractor's `TextBuf` rule).
    pub open_line: bool,
}

impl Stream {
    pub fn push(&mut self, c: char, loc: Option<Loc>) {
        self.starts.push(self.text.len());
        self.text.push(c);
        self.locs.push(loc);
        self.open_line = true;
    }

    /// Characters that structure the text but are written nowhere (line ends, tabs, labels).
    pub fn synthetic(&mut self, s: &str) {
        for c in s.chars() {
            self.push(c, None);
        }
    }

    /// A paragraph end: always a line break.
    pub fn end_line(&mut self) {
        self.synthetic("\n");
        self.open_line = false;
    }

    /// A line end only if something was written on the line.
    pub fn end_line_if_open(&mut self) {
        if self.open_line {
            self.end_line();
        }
    }

    pub fn last(&self) -> Option<char> {
        self.text.chars().next_back()
    }

    pub fn pop(&mut self) -> Option<char> {
        let c = self.text.pop()?;
        self.locs.pop();
        self.starts.pop();
        Some(c)
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Index of the character starting at byte `at` (or the first one after it).
    fn char_index(&self, at: usize) -> usize {
        self.starts.partition_point(|&s| s < at)
    }
}

/// What to write instead of source characters, and how many findings were masked.
#[derive(Default)]
pub(crate) struct Edits {
    map: BTreeMap<Loc, String>,
    pub by_kind: BTreeMap<FindingKind, usize>,
}

impl Edits {
    /// The replacements in document `doc`, grouped by segment: (segment, char → text).
    pub fn for_doc(&self, doc: u32) -> BTreeMap<u32, BTreeMap<u32, &str>> {
        let from = Loc { doc, seg: 0, ch: 0 };
        let mut out: BTreeMap<u32, BTreeMap<u32, &str>> = BTreeMap::new();
        for (loc, text) in self.map.range(from..) {
            if loc.doc != doc {
                break;
            }
            out.entry(loc.seg)
                .or_default()
                .insert(loc.ch, text.as_str());
        }
        out
    }

    /// The replacements in one segment: char → text.
    pub fn for_seg(&self, doc: u32, seg: u32) -> BTreeMap<u32, &str> {
        let from = Loc { doc, seg, ch: 0 };
        self.map
            .range(from..)
            .take_while(|(l, _)| l.doc == doc && l.seg == seg)
            .map(|(l, t)| (l.ch, t.as_str()))
            .collect()
    }

    pub fn touches_segment(&self, doc: u32, seg: u32) -> bool {
        let from = Loc { doc, seg, ch: 0 };
        self.map
            .range(from..)
            .next()
            .is_some_and(|(l, _)| l.doc == doc && l.seg == seg)
    }

    /// Count a finding masked by something other than a stream (whole-text formats).
    pub fn count(&mut self, kind: FindingKind) {
        *self.by_kind.entry(kind).or_default() += 1;
    }

    pub fn total(&self) -> usize {
        self.by_kind.values().sum()
    }

    /// Merge the counts of a nested object (an embedded workbook in a document).
    pub fn add_counts(&mut self, other: &BTreeMap<FindingKind, usize>) {
        for (kind, n) in other {
            *self.by_kind.entry(*kind).or_default() += n;
        }
    }
}

/// The detector and normaliser of the engine, run over streams.
pub(crate) struct Redactor {
    normalizer: Normalizer,
    pii: PiiDetector,
}

impl Redactor {
    pub fn new() -> Redactor {
        Redactor {
            normalizer: Normalizer::new(),
            pii: PiiDetector::new(),
        }
    }

    /// Personal data in `text`: (kind, byte span in `text`). Detection runs on the normalised
    /// text (full-width digits, spacing tricks) and the spans come back in `text`, as in the
    /// engine. Every finding counts, whatever its confidence: a scan reports them all, and a
    /// published copy must not leave one for it.
    pub fn findings(&self, text: &str) -> Vec<(FindingKind, usize, usize)> {
        let norm = self.normalizer.normalize(text);
        let view = PartView {
            path: "",
            role: PartRole::Body,
            original: text,
            norm: &norm,
            first_line: 1,
        };
        let mut found = Vec::new();
        self.pii.detect(&view, &mut found);
        let mut spans: Vec<(FindingKind, usize, usize)> = found
            .into_iter()
            .filter(|f| f.kind.is_personal_data())
            .filter_map(|f| f.span.map(|(a, b)| (f.kind, a, b)))
            .filter(|&(_, a, b)| a < b && text.is_char_boundary(a) && text.is_char_boundary(b))
            .collect();
        spans.sort_by_key(|&(_, a, b)| (a, b));
        spans
    }

    /// Detect on `stream` and record the masked characters in `edits`.
    pub fn redact_stream(&self, stream: &Stream, edits: &mut Edits) {
        if stream.text.is_empty() {
            return;
        }
        for (kind, a, b) in self.findings(&stream.text) {
            let (ia, ib) = (stream.char_index(a), stream.char_index(b));
            let chars: Vec<char> = stream.text[a..b].chars().collect();
            let locs = &stream.locs[ia..ib];
            if chars.len() != locs.len() {
                continue;
            }
            // The same source text seen twice (a shared string in two cells) is one finding.
            if locs.iter().flatten().any(|l| edits.map.contains_key(l)) {
                continue;
            }
            let mut changed = false;
            for (loc, replacement) in locs.iter().zip(mask_chars(kind, &chars)) {
                if let (Some(loc), Some(r)) = (loc, replacement) {
                    edits.map.insert(*loc, r);
                    changed = true;
                }
            }
            if changed {
                edits.count(kind);
            }
        }
    }
}

/// Full-width ASCII (`１３８`) folded to ASCII, one character for one, so the mask (which
/// counts ASCII letters and digits) sees the value.
fn fold(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// What to write for each character of a finding: `None` keeps it. A masked full-width
/// digit becomes a full-width star, so the line keeps its width.
pub(crate) fn mask_chars(kind: FindingKind, chars: &[char]) -> Vec<Option<String>> {
    let folded: String = chars.iter().map(|&c| fold(c)).collect();
    let masked: Vec<char> = baomi_core::mask::mask(kind, &folded).chars().collect();
    if masked.len() == chars.len() {
        return chars
            .iter()
            .zip(folded.chars())
            .zip(masked)
            .map(|((&orig, f), m)| {
                if m == f {
                    None
                } else if m == '*' && orig != f {
                    Some("＊".to_owned())
                } else {
                    Some(m.to_string())
                }
            })
            .collect();
    }
    // An e-mail address is masked to a different length (`z***@example.com`): the whole
    // masked text goes where the address starts, the rest of it is emptied.
    let mut out = vec![Some(String::new()); chars.len()];
    if let Some(first) = out.first_mut() {
        *first = Some(masked.into_iter().collect());
    }
    out
}

/// Apply per-character replacements to a segment's text.
pub(crate) fn apply(text: &str, replacements: &BTreeMap<u32, &str>) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.chars().enumerate() {
        match replacements.get(&(i as u32)) {
            Some(r) => out.push_str(r),
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn full_width_digits_are_masked_with_full_width_stars() {
        let out = mask_chars(FindingKind::Mobile, &chars("１３８１２３４５６７８"));
        let text: String = chars("１３８１２３４５６７８")
            .iter()
            .zip(out)
            .map(|(c, r)| r.unwrap_or(c.to_string()))
            .collect();
        assert_eq!(text, "１３８＊＊＊＊５６７８");
    }

    #[test]
    fn email_goes_to_the_first_character() {
        let out = mask_chars(FindingKind::Email, &chars("zhangsan@example.com"));
        assert_eq!(out[0].as_deref(), Some("z***@example.com"));
        assert!(out[1..].iter().all(|r| r.as_deref() == Some("")));
    }

    #[test]
    fn a_split_number_is_found_and_masked_per_source_character() {
        let r = Redactor::new();
        let mut s = Stream::default();
        s.synthetic("身份证号：");
        // Two segments: the bold `110105` and the rest.
        for (i, c) in "110105".chars().enumerate() {
            s.push(
                c,
                Some(Loc {
                    doc: 0,
                    seg: 0,
                    ch: i as u32,
                }),
            );
        }
        for (i, c) in "19491231002X".chars().enumerate() {
            s.push(
                c,
                Some(Loc {
                    doc: 0,
                    seg: 1,
                    ch: i as u32,
                }),
            );
        }
        let mut edits = Edits::default();
        r.redact_stream(&s, &mut edits);
        assert_eq!(edits.by_kind.get(&FindingKind::ResidentId), Some(&1));
        let by_seg = edits.for_doc(0);
        assert_eq!(
            apply("110105", &by_seg.get(&0).cloned().unwrap_or_default()),
            "110105"
        );
        assert_eq!(apply("19491231002X", &by_seg[&1]), "********002X");
    }
}
