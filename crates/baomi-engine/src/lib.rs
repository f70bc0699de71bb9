//! The inspection pipeline every door uses: an object goes in, an [`ObjectReport`] comes out.
//!
//! `extract` hands each text part to this crate's sink as soon as it is found; the part is
//! normalised once, every detector runs over it, and its text is dropped before the next
//! part, so memory follows the largest part, not the object.

use std::path::Path;
use std::sync::Arc;

use baomi_core::detect::dictionary::{Dictionary, DictionaryDetector};
use baomi_core::detect::fingerprint::{FingerprintDetector, exact_finding};
use baomi_core::detect::marking::MarkingDetector;
use baomi_core::detect::pii::PiiDetector;
use baomi_core::detect::regex_rule::RegexDetector;
use baomi_core::detect::{Detector, PartView};
use baomi_core::fingerprint::{FingerprintIndex, MIN_REPORT_CHARS};
use baomi_core::normalise::Normalizer;
pub use baomi_core::policy::Context;
use baomi_core::policy::{Attachment, Explanation, Policy};
use baomi_core::{Action, Channel, Finding, FindingKind, Part, Verdict};
pub use baomi_extract::Limits;
use baomi_extract::{Blob, FileType, Sink};

pub mod register;
mod report;
pub use report::ObjectReport;

/// Findings kept per object; beyond this the object's verdict is already decided many times
/// over, and the report says how many more there were.
pub const MAX_FINDINGS_PER_OBJECT: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("policy: {0}")]
    Policy(String),
    #[error("dictionary {0}: {1}")]
    Dictionary(String, String),
    #[error("cannot register {0}: {1}")]
    Register(String, String),
}

/// Everything an engine is built from.
#[derive(Default)]
pub struct EngineConfig {
    pub policy: Policy,
    /// Term lists as (name, content).
    pub dictionaries: Vec<(String, String)>,
    pub limits: Limits,
    /// Registered documents to recognise (登记文件); `None` or an empty index: none.
    pub fingerprints: Option<Arc<FingerprintIndex>>,
}

/// A ready pipeline. Cheap to share between threads (`Arc<Engine>`).
pub struct Engine {
    normalizer: Normalizer,
    detectors: Vec<Box<dyn Detector>>,
    policy: Policy,
    limits: Limits,
    /// Kept for exact matches of whole objects, which the walker's object hook sees.
    fingerprints: Option<Arc<FingerprintIndex>>,
}

impl Engine {
    pub fn new(config: EngineConfig) -> Result<Engine, EngineError> {
        let normalizer = Normalizer::new();
        let mut dictionaries = Vec::new();
        for (name, content) in &config.dictionaries {
            let d = Dictionary::parse(name, content, &normalizer)
                .map_err(|e| EngineError::Dictionary(name.clone(), e))?;
            dictionaries.push(d);
        }
        let mut detectors: Vec<Box<dyn Detector>> = vec![
            Box::new(MarkingDetector::new()),
            Box::new(PiiDetector::new()),
        ];
        if !dictionaries.is_empty() {
            detectors.push(Box::new(DictionaryDetector::new(dictionaries)));
        }
        let fingerprints = config.fingerprints.filter(|index| !index.is_empty());
        if let Some(index) = &fingerprints {
            detectors.push(Box::new(FingerprintDetector::new(Arc::clone(index))));
        }
        if !config.policy.regex.is_empty() {
            let r = RegexDetector::new(&config.policy.regex).map_err(EngineError::Policy)?;
            detectors.push(Box::new(r));
        }
        Ok(Engine {
            normalizer,
            detectors,
            policy: config.policy,
            limits: config.limits,
            fingerprints,
        })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Inspect one object named `name` (its file, attachment or upload name).
    pub fn inspect(&self, blob: Blob, name: &str, channel: Channel) -> ObjectReport {
        self.inspect_inner(blob, name, &Context::channel(channel), None)
            .0
    }

    /// Like [`Engine::inspect_in`], with the rules and exceptions behind the verdict
    /// (`baomi policy test`).
    pub fn inspect_explained(
        &self,
        blob: Blob,
        name: &str,
        ctx: &Context,
    ) -> (ObjectReport, Explanation) {
        let (report, _, why) = self.inspect_inner(blob, name, ctx, None);
        (report, why)
    }

    /// Inspect one object with what its door knows about it (person, department,
    /// destinations, time) for the policy's conditions. A mail's attachments are added to
    /// the context here, from what extraction found.
    pub fn inspect_in(&self, blob: Blob, name: &str, ctx: &Context) -> ObjectReport {
        self.inspect_inner(blob, name, ctx, None).0
    }

    /// Like [`Engine::inspect`], keeping for every finding the text around it (up to
    /// `chars` characters each side, within its part) and the path of every part and
    /// object: what the console shows an officer who opens an incident's evidence. Costs the
    /// copies of the snippets only; the parts' text is still dropped as it goes.
    pub fn inspect_with_context(
        &self,
        blob: Blob,
        name: &str,
        channel: Channel,
        chars: usize,
    ) -> (ObjectReport, Explained) {
        let (report, explained, _) =
            self.inspect_inner(blob, name, &Context::channel(channel), Some(chars));
        (report, explained.unwrap_or_default())
    }

    fn inspect_inner(
        &self,
        blob: Blob,
        name: &str,
        ctx: &Context,
        context: Option<usize>,
    ) -> (ObjectReport, Option<Explained>, Explanation) {
        let mut sink = DetectSink {
            engine: self,
            findings: Vec::new(),
            dropped: 0,
            text_bytes: 0,
            context: context.map(|chars| (chars, Explained::default())),
            children: Vec::new(),
        };
        let summary = baomi_extract::extract(blob, name, &self.limits, &mut sink);
        let why = if matches!(summary.true_type, FileType::Eml | FileType::Msg) {
            let mut ctx = ctx.clone();
            ctx.attachments = attachments(&sink.children, &sink.findings);
            self.policy.explain(&sink.findings, &ctx)
        } else {
            self.policy.explain(&sink.findings, ctx)
        };
        let verdict = why.verdict.clone();
        let explained = sink.context.take().map(|(_, mut e)| {
            e.contexts.resize(sink.findings.len(), None);
            e
        });
        let report = ObjectReport {
            path: name.to_owned(),
            true_type: summary.true_type.as_str().to_owned(),
            declared_type: summary.declared_type.map(|t| t.as_str().to_owned()),
            size: summary.size,
            verdict,
            findings: sink.findings,
            findings_omitted: sink.dropped,
            errors: Vec::new(),
            complete: summary.complete,
            text_bytes: sink.text_bytes,
        };
        (report, explained, why)
    }

    /// Inspect a file on disk. I/O errors become `errors[]` (a scan that could not read a
    /// file is incomplete, exit code 2), never a panic.
    pub fn inspect_path(&self, path: &Path, channel: Channel) -> ObjectReport {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let display = path.to_string_lossy().into_owned();
        match Blob::from_path(path) {
            Ok(blob) => {
                let mut r = self.inspect(blob, &name, channel);
                r.path = display;
                r
            }
            Err(e) => ObjectReport::failed(display, format!("cannot read: {e}")),
        }
    }

    /// Apply the policy to a finished list of findings.
    pub fn decide(&self, findings: &[Finding], channel: Channel) -> Verdict {
        self.policy.evaluate(findings, channel)
    }

    /// Apply the policy with everything the door knows (for `baomi policy test`).
    pub fn decide_in(&self, findings: &[Finding], ctx: &Context) -> Verdict {
        self.policy.evaluate_in(findings, ctx)
    }

    /// True when a verdict reaches the policy's alert threshold (exit code 1 for `scan`).
    pub fn alerts(&self, verdict: &Verdict) -> bool {
        verdict.action >= self.policy.alert_threshold() && verdict.action != Action::Allow
    }

    /// Run every detector over one text part (for doors that already have text).
    pub fn detect_part(&self, part: &Part, out: &mut Vec<Finding>) {
        let norm = self.normalizer.normalize(&part.text);
        let view = PartView {
            path: &part.path,
            role: part.role,
            original: &part.text,
            norm: &norm,
            first_line: part.first_line,
        };
        let start = out.len();
        for d in &self.detectors {
            d.detect(&view, out);
        }
        number_lines(&part.text, part.first_line, &mut out[start..]);
    }
}

/// Fill in `line` for findings with a span, in one pass over the text.
fn number_lines(text: &str, first_line: u32, findings: &mut [Finding]) {
    let mut order: Vec<usize> = (0..findings.len())
        .filter(|&i| findings[i].span.is_some())
        .collect();
    order.sort_by_key(|&i| findings[i].span.map(|s| s.0));
    let bytes = text.as_bytes();
    let (mut pos, mut line) = (0usize, first_line);
    for i in order {
        let at = findings[i].span.map(|s| s.0).unwrap_or(0).min(bytes.len());
        if at > pos {
            line += memchr::memchr_iter(b'\n', &bytes[pos..at]).count() as u32;
            pos = at;
        }
        findings[i].line = Some(line);
    }
}

/// The text around one finding, as written in the original part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingContext {
    pub before: String,
    pub matched: String,
    pub after: String,
    /// `before` and `after` with every other piece of personal data in them masked.
    pub before_masked: String,
    pub after_masked: String,
}

/// What [`Engine::inspect_with_context`] keeps besides the report.
#[derive(Debug, Clone, Default)]
pub struct Explained {
    /// One per finding of the report, in the same order; `None` for findings without a span
    /// (structural findings, whole-object matches).
    pub contexts: Vec<Option<FindingContext>>,
    /// Every object and text part met, in order: the object's tree.
    pub parts: Vec<String>,
}

struct DetectSink<'e> {
    engine: &'e Engine,
    findings: Vec<Finding>,
    dropped: usize,
    text_bytes: u64,
    /// Snippet width and what is kept, for [`Engine::inspect_with_context`].
    context: Option<(usize, Explained)>,
    /// The top-level object's direct children (path, true type, size): a mail's attachments.
    children: Vec<(String, String, u64)>,
}

/// Attachments counted for the policy; a mail with more is reported by its parts limit.
const MAX_ATTACHMENTS: usize = 10_000;

/// A mail's attachments with the facts the policy's conditions ask about.
fn attachments(children: &[(String, String, u64)], findings: &[Finding]) -> Vec<Attachment> {
    children
        .iter()
        .map(|(path, true_type, size)| Attachment {
            name: path.rsplit('/').next().unwrap_or(path).to_owned(),
            true_type: true_type.clone(),
            size: *size,
            encrypted: findings.iter().any(|f| {
                f.kind == FindingKind::Encrypted
                    && (f.part == *path || f.part.starts_with(&format!("{path}/")))
            }),
        })
        .collect()
}

impl DetectSink<'_> {
    fn keep(&mut self, mut new: Vec<Finding>) {
        let room = MAX_FINDINGS_PER_OBJECT.saturating_sub(self.findings.len());
        if new.len() > room {
            self.dropped += new.len() - room;
            new.truncate(room);
        }
        self.findings.append(&mut new);
    }

    /// Cut the snippets of this part's new findings (from index `start`) before the text goes.
    fn explain(&mut self, part: &Part, start: usize) {
        let Some((chars, explained)) = &mut self.context else {
            return;
        };
        explained.parts.push(part.path.clone());
        explained.contexts.resize(start, None);
        let personal: Vec<(usize, usize, baomi_core::FindingKind)> = self.findings[start..]
            .iter()
            .filter(|f| f.kind.is_personal_data())
            .filter_map(|f| f.span.map(|(a, b)| (a, b, f.kind)))
            .collect();
        for f in &self.findings[start..] {
            explained.contexts.push(
                f.span
                    .map(|span| snippet(&part.text, span, *chars, &personal)),
            );
        }
    }
}

/// The text around `span`, with the other personal data in the masked copies masked.
fn snippet(
    text: &str,
    (start, end): (usize, usize),
    chars: usize,
    personal: &[(usize, usize, baomi_core::FindingKind)],
) -> FindingContext {
    let mut sorted = personal.to_vec();
    sorted.sort_by_key(|p| p.0);
    let personal = &sorted[..];
    let end = end.min(text.len());
    let start = start.min(end);
    if !text.is_char_boundary(start) || !text.is_char_boundary(end) {
        return FindingContext::default();
    }
    let from = text[..start]
        .char_indices()
        .rev()
        .nth(chars.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    let to = text[end..]
        .char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| end + i);
    let masked = |a: usize, b: usize| {
        let mut out = String::new();
        let mut at = a;
        for &(ps, pe, kind) in personal {
            if pe <= a || ps >= b || ps < at || (ps, pe) == (start, end) {
                continue;
            }
            let (ps, pe) = (ps.max(a), pe.min(b));
            if !text.is_char_boundary(ps) || !text.is_char_boundary(pe) {
                continue;
            }
            out.push_str(&text[at..ps]);
            out.push_str(&baomi_core::mask::mask(kind, &text[ps..pe]));
            at = pe;
        }
        out.push_str(&text[at..b]);
        out
    };
    FindingContext {
        before: text[from..start].to_owned(),
        matched: text[start..end].to_owned(),
        after: text[end..to].to_owned(),
        before_masked: masked(from, start),
        after_masked: masked(end, to),
    }
}

impl Sink for DetectSink<'_> {
    fn part(&mut self, part: Part) {
        self.text_bytes += part.text.len() as u64;
        let mut out = Vec::new();
        self.engine.detect_part(&part, &mut out);
        let start = self.findings.len();
        self.keep(out);
        self.explain(&part, start);
    }

    fn finding(&mut self, finding: Finding) {
        self.keep(vec![finding]);
    }

    fn object(&mut self, path: &str, depth: u32, blob: &Blob) {
        // A mail's attachments, for the policy's attachment conditions.
        if depth == 1 && self.children.len() < MAX_ATTACHMENTS {
            self.children.push((
                path.to_owned(),
                baomi_extract::sniff::sniff(blob).as_str().to_owned(),
                blob.len(),
            ));
        }
        if let Some((_, explained)) = &mut self.context {
            explained.parts.push(path.to_owned());
        }
        let Some(index) = self.engine.fingerprints.as_ref().filter(|i| i.has_exact()) else {
            return;
        };
        // An object that cannot be read again is reported by its format; no hash, no match.
        let Ok(hash) = register::object_hash(blob) else {
            return;
        };
        let found: Vec<Finding> = index
            .exact_docs(&hash)
            .map(|(d, file)| {
                let doc = index.doc(d);
                if file {
                    exact_finding(doc, path, "identical file", doc.chars)
                } else {
                    exact_finding(doc, path, "identical part", MIN_REPORT_CHARS)
                }
            })
            .collect();
        self.keep(found);
    }
}

/// A shareable engine.
pub type SharedEngine = Arc<Engine>;

#[cfg(test)]
mod tests {
    use super::*;
    use baomi_core::FindingKind;

    fn at(start: usize) -> Finding {
        let text = "x";
        let mut f = Finding::at(FindingKind::Keyword, "p", text, (0, 1), 1.0, "t");
        f.span = Some((start, start + 1));
        f
    }

    #[test]
    fn lines_are_numbered_from_the_part_start_in_any_finding_order() {
        let text = "a\nb\nc\nd";
        let mut fs = vec![at(6), at(0), at(2)];
        number_lines(text, 10, &mut fs);
        let lines: Vec<_> = fs.iter().map(|f| f.line).collect();
        assert_eq!(lines, vec![Some(13), Some(10), Some(11)]);
    }

    #[test]
    fn structural_findings_get_no_line() {
        let mut fs = vec![Finding::structural(
            FindingKind::Encrypted,
            "a.zip/x",
            "zip entry encrypted",
        )];
        number_lines("a\nb", 1, &mut fs);
        assert_eq!(fs[0].line, None);
    }

    #[test]
    fn an_unreadable_path_is_an_error_not_a_panic() {
        let engine = Engine::new(EngineConfig::default()).expect("default engine");
        let r = engine.inspect_path(Path::new("/nonexistent/baomi-test"), Channel::Scan);
        assert_eq!(r.errors.len(), 1);
        assert!(r.errors[0].contains("cannot read"), "{:?}", r.errors);
    }
}
