//! The one place where recursion and limits live. Format modules get a [`Ctx`] for the
//! object they are opening; through it they emit text parts, nested objects and findings.

use std::io::{self, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use baomi_core::{Finding, FindingKind, Part, PartRole};

use crate::helper::HelperLimits;
use crate::{Blob, FileType, Limits, formats, sniff};

/// Receives what extraction finds, as soon as it is found.
pub trait Sink {
    fn part(&mut self, part: Part);
    fn finding(&mut self, finding: Finding);
    /// Every object before it is opened, once: the top-level one (`depth` 0, `path` its
    /// name) and each nested one (`mail.eml/附件.zip/报告.docx`), e.g. to hash its bytes
    /// against registered documents. Default: nothing.
    fn object(&mut self, _path: &str, _depth: u32, _blob: &Blob) {}
}

/// What a format module returns: an error means the object is truncated or garbage, and is
/// reported as an `unreadable` finding with the error as the reason.
pub type FormatResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Facts about the top-level object once extraction is over.
#[derive(Debug, Clone)]
pub struct ExtractSummary {
    pub true_type: FileType,
    pub declared_type: Option<FileType>,
    pub size: u64,
    /// Bytes produced by opening nested layers.
    pub expanded_bytes: u64,
    pub parts: u64,
    /// False when a limit stopped extraction early.
    pub complete: bool,
}

struct Walker<'a> {
    limits: &'a Limits,
    sink: &'a mut dyn Sink,
    start: Instant,
    top_size: u64,
    expanded: u64,
    parts: u64,
    /// Set once a global limit (bytes, ratio, parts, time) is hit: extraction winds down.
    stopped: bool,
    /// Set when any limit left something uninspected (a global one, or the depth limit
    /// skipping one subtree while the rest goes on).
    incomplete: bool,
}

/// Extract `blob`, named `name` (a file name, attachment name or upload name: it is text
/// too), sending every part and finding to `sink`.
pub fn extract(blob: Blob, name: &str, limits: &Limits, sink: &mut dyn Sink) -> ExtractSummary {
    run(blob, name, None, limits, sink)
}

/// Like [`extract`], but the top-level object is opened as `ty` without sniffing (for doors
/// that already know the type, and for tests of one format). Nested objects are sniffed.
pub fn extract_as(
    ty: FileType,
    blob: Blob,
    name: &str,
    limits: &Limits,
    sink: &mut dyn Sink,
) -> ExtractSummary {
    run(blob, name, Some(ty), limits, sink)
}

fn run(
    blob: Blob,
    name: &str,
    forced: Option<FileType>,
    limits: &Limits,
    sink: &mut dyn Sink,
) -> ExtractSummary {
    let mut w = Walker {
        limits,
        sink,
        start: Instant::now(),
        top_size: blob.len(),
        expanded: 0,
        parts: 0,
        stopped: false,
        incomplete: false,
    };
    let size = blob.len();
    let mut cx = Ctx {
        w: &mut w,
        path: name.to_owned(),
        depth: 0,
    };
    let (true_type, declared_type) = cx.walk(&blob, name, forced);
    ExtractSummary {
        true_type,
        declared_type,
        size,
        expanded_bytes: w.expanded,
        parts: w.parts,
        complete: !w.stopped && !w.incomplete,
    }
}

/// A format module's handle on the object it is opening.
pub struct Ctx<'w, 'a> {
    w: &'w mut Walker<'a>,
    /// Origin path of this object, e.g. `mail.eml/附件.zip/报告.docx`.
    path: String,
    depth: u32,
}

impl Ctx<'_, '_> {
    pub fn limits(&self) -> &Limits {
        self.w.limits
    }

    /// Origin path of the object being opened.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Nesting depth of the object being opened (the top-level object is 0).
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// True once a limit has stopped extraction: loops over entries should break.
    pub fn should_stop(&mut self) -> bool {
        if !self.w.stopped && self.w.start.elapsed() > self.w.limits.max_time {
            let secs = self.w.limits.max_time.as_secs();
            self.limit(format!("wall time > {secs} s"));
        }
        self.w.stopped
    }

    /// `sub` joins with `/`, except a `#` suffix (`#ocr`: text read from the object
    /// itself rather than from something inside it) which is appended as is.
    fn sub_path(&self, sub: &str) -> String {
        if sub.is_empty() {
            self.path.clone()
        } else if sub.starts_with('#') {
            format!("{}{}", self.path, sub)
        } else {
            format!("{}/{}", self.path, sub)
        }
    }

    fn count_part(&mut self) -> bool {
        if self.should_stop() {
            return false;
        }
        self.w.parts += 1;
        if self.w.parts > self.w.limits.max_parts {
            let max = self.w.limits.max_parts;
            self.limit(format!("parts {} > {max}", self.w.parts));
            return false;
        }
        true
    }

    /// A text part of this object. `sub` names where inside it (`word/header1.xml`,
    /// `Sheet1`, `page 3`), or is empty for the object itself.
    pub fn text(&mut self, sub: &str, role: PartRole, text: String) {
        self.text_from_line(sub, role, text, 1);
    }

    /// Like [`Ctx::text`] for a chunk of a larger text that starts at line `first_line`.
    pub fn text_from_line(&mut self, sub: &str, role: PartRole, text: String, first_line: u32) {
        if text.trim().is_empty() || !self.count_part() {
            return;
        }
        let path = self.sub_path(sub);
        self.w.sink.part(Part {
            path,
            role,
            text,
            first_line,
        });
    }

    /// A nested object already in hand (its bytes counted as expanded). It is opened at once,
    /// recursively, before this call returns.
    pub fn child(&mut self, name: &str, blob: Blob) {
        if !self.count_part() {
            return;
        }
        self.w.expanded += blob.len();
        if self.over_budget() {
            return;
        }
        let depth = self.depth + 1;
        let path = self.sub_path(name);
        let mut cx = Ctx {
            w: &mut *self.w,
            path,
            depth,
        };
        let base = name.rsplit('/').next().unwrap_or(name);
        cx.walk(&blob, base, None);
    }

    /// Read a nested object from `reader` within the remaining budget (spooling large ones
    /// to disk), then open it as [`Ctx::child`] does. `declared_size` is what the container
    /// claims, checked before reading so a bomb is refused without inflating it.
    pub fn read_child(
        &mut self,
        name: &str,
        reader: &mut dyn Read,
        declared_size: Option<u64>,
    ) -> io::Result<()> {
        if let Some(blob) = self.read_blob(name, reader, declared_size)? {
            self.child(name, blob);
        }
        Ok(())
    }

    /// The reading half of [`Ctx::read_child`]: the nested object `name` read from
    /// `reader` within the remaining budget (spooled when large), not yet opened. `None`
    /// when it does not fit (the limit is reported) or extraction has stopped. For readers
    /// whose last bytes decide whether the content is right at all (a decryption checked
    /// by the entry's CRC), so nothing is opened before that is known.
    pub fn read_blob(
        &mut self,
        name: &str,
        reader: &mut dyn Read,
        declared_size: Option<u64>,
    ) -> io::Result<Option<Blob>> {
        if self.should_stop() {
            return Ok(None);
        }
        let budget = self.remaining_budget();
        if let Some(size) = declared_size
            && size > budget
        {
            let why = self.budget_reason(self.w.expanded + size);
            self.limit(format!("{why} ({name} declares {size} bytes)"));
            return Ok(None);
        }
        match self.read_bounded(reader, budget)? {
            Some(blob) => Ok(Some(blob)),
            None => {
                let why = self.budget_reason(self.w.expanded + budget + 1);
                let declared = declared_size.map_or(String::new(), |d| format!(", declares {d}"));
                self.limit(format!(
                    "{why} ({name} inflates past {budget} bytes{declared})"
                ));
                Ok(None)
            }
        }
    }

    /// An `encrypted` finding at `sub` inside this object.
    pub fn encrypted(&mut self, sub: &str, reason: impl Into<String>) {
        let f = Finding::structural(FindingKind::Encrypted, self.sub_path(sub), reason);
        self.w.sink.finding(f);
    }

    /// An `unreadable` finding at `sub` inside this object.
    pub fn unreadable(&mut self, sub: &str, reason: impl Into<String>) {
        let f = Finding::structural(FindingKind::Unreadable, self.sub_path(sub), reason);
        self.w.sink.finding(f);
    }

    /// Any other finding the format knows about (spans are not meaningful here).
    pub fn finding(&mut self, f: Finding) {
        self.w.sink.finding(f);
    }

    /// A limit on this one object (or `sub` inside it) was hit: a helper process ran out of
    /// memory or CPU time, a stream, image or XML part is larger than
    /// [`Limits::max_object_memory`]. Reported at once, the object is left (partly)
    /// uninspected, and extraction goes on with the next object: one oversized page in an
    /// archive of two hundred documents must not leave the other 199 unread. The global
    /// limits ([`Ctx::limit`]) bound the whole top-level object's cost and do stop.
    pub fn limit_here(&mut self, sub: &str, reason: impl Into<String>) {
        self.w.incomplete = true;
        let f = Finding::structural(FindingKind::Limit, self.sub_path(sub), reason);
        self.w.sink.finding(f);
    }

    /// Wall time left for the top-level object (helpers get no more than this).
    pub fn time_left(&self) -> Duration {
        self.w
            .limits
            .max_time
            .saturating_sub(self.w.start.elapsed())
    }

    /// What one parser may decompress for one object now (a PDF stream, an XML part of a
    /// zip): the per-object memory budget, but never more than the expansion budget left,
    /// ratio included.
    pub fn object_budget(&self) -> u64 {
        self.w.limits.max_object_memory.min(self.remaining_budget())
    }

    /// What one parser may hold for one object that is not decompressed from it (an
    /// image's pixels, a helper's output): the per-object memory budget, but never more
    /// than the absolute expansion budget left. The ratio does not apply: a 50 KB
    /// screenshot honestly decodes to 8 MB of pixels.
    pub fn memory_budget(&self) -> u64 {
        let l = self.w.limits;
        l.max_object_memory
            .min(l.max_expanded_bytes.saturating_sub(self.w.expanded))
    }

    /// Whether [`Ctx::object_budget`] is bounded by the expansion budget rather than the
    /// per-object memory budget: then going past it is the global limit.
    pub fn budget_is_expansion(&self) -> bool {
        self.remaining_budget() < self.w.limits.max_object_memory
    }

    /// Count `bytes` produced by decoding inside this object (PDF streams inflated by the
    /// pre-scan) against the expansion budget. False, with the global limit reported, when
    /// the budget is exceeded.
    pub fn charge(&mut self, bytes: u64) -> bool {
        self.w.expanded = self.w.expanded.saturating_add(bytes);
        !self.over_budget()
    }

    /// Limits for one helper process run now on behalf of this object: its memory and CPU
    /// limits, wall time no longer than what is left of the object's, and stdout no
    /// larger than the object budget.
    pub fn helper_limits(&self) -> HelperLimits {
        let wall = self.time_left().max(Duration::from_secs(1));
        HelperLimits {
            memory: self.w.limits.helper_memory,
            cpu: self.w.limits.helper_cpu_limit().min(wall),
            wall,
            max_output: self.memory_budget().max(1 << 20),
        }
    }

    /// A global limit was hit: report it once and wind extraction down.
    pub fn limit(&mut self, reason: impl Into<String>) {
        if self.w.stopped {
            return;
        }
        self.w.stopped = true;
        let f = Finding::structural(FindingKind::Limit, self.path.clone(), reason);
        self.w.sink.finding(f);
    }

    /// Bytes that nested objects may still expand to, under both the absolute cap and the
    /// ratio to the top-level size. Small objects get 1 MiB of slack before the ratio bites,
    /// so an ordinary 2 KB .gz of 600 KB text is not a "bomb".
    pub fn remaining_budget(&self) -> u64 {
        let l = self.w.limits;
        let by_ratio = self.w.top_size.saturating_mul(l.max_ratio).max(1 << 20);
        l.max_expanded_bytes
            .min(by_ratio)
            .saturating_sub(self.w.expanded)
    }

    fn over_budget(&mut self) -> bool {
        let l = self.w.limits;
        let by_ratio = self.w.top_size.saturating_mul(l.max_ratio).max(1 << 20);
        if self.w.expanded > l.max_expanded_bytes.min(by_ratio) {
            self.budget_limit(self.w.expanded);
            return true;
        }
        false
    }

    /// `what` would take the expansion budget past its end: the global limit, with the
    /// budget's reason and `what` named.
    pub fn budget_exceeded(&mut self, would_be: u64, what: &str) {
        let why = self.budget_reason(self.w.expanded.saturating_add(would_be));
        self.limit(format!("{why} ({what})"));
    }

    fn budget_limit(&mut self, would_be: u64) {
        let reason = self.budget_reason(would_be);
        self.limit(reason);
    }

    fn budget_reason(&self, would_be: u64) -> String {
        let l = self.w.limits;
        let by_ratio = self.w.top_size.saturating_mul(l.max_ratio).max(1 << 20);
        if by_ratio < l.max_expanded_bytes {
            let ratio = would_be / self.w.top_size.max(1);
            format!("expansion ratio {ratio}:1 > {}:1", l.max_ratio)
        } else {
            format!("expanded bytes {would_be} > {}", l.max_expanded_bytes)
        }
    }

    /// Read at most `budget` bytes; `None` if there was more.
    fn read_bounded(&mut self, reader: &mut dyn Read, budget: u64) -> io::Result<Option<Blob>> {
        let spool_at = self.w.limits.spool_threshold;
        let mut mem = Vec::new();
        let mut limited = reader.take(budget.saturating_add(1).min(spool_at + 1));
        limited.read_to_end(&mut mem)?;
        if (mem.len() as u64) <= spool_at {
            if mem.len() as u64 > budget {
                return Ok(None);
            }
            return Ok(Some(Blob::from_vec(mem)));
        }
        // Large: continue into a spool file so memory stays flat.
        let mut file = tempfile::Builder::new().prefix("baomi-spool-").tempfile()?;
        file.write_all(&mem)?;
        drop(mem);
        let rest_budget = budget.saturating_sub(spool_at + 1);
        let copied = io::copy(
            &mut limited.into_inner().take(rest_budget.saturating_add(1)),
            &mut file,
        )?;
        let len = spool_at + 1 + copied;
        if len > budget {
            return Ok(None);
        }
        file.flush()?;
        let temp = file.into_temp_path();
        Ok(Some(Blob::from_temp(temp, len)))
    }

    /// Open one object: name part, depth check, sniff, type check, format dispatch.
    fn walk(
        &mut self,
        blob: &Blob,
        name: &str,
        forced: Option<FileType>,
    ) -> (FileType, Option<FileType>) {
        // The name is text too: `关于……的通知（机密）.docx` is a marking.
        if !name.is_empty() && self.count_part() {
            let part = Part {
                path: self.path.clone(),
                role: PartRole::Name,
                text: name.to_owned(),
                first_line: 1,
            };
            self.w.sink.part(part);
        }
        self.w.sink.object(&self.path, self.depth, blob);
        let true_type = forced.unwrap_or_else(|| sniff::sniff(blob));
        let declared = sniff::declared_type(name);
        if let Some(d) = declared {
            if !sniff::compatible(d, true_type) {
                let f = Finding::structural(
                    FindingKind::TypeMismatch,
                    self.path.clone(),
                    format!("name says {d}, content is {true_type}"),
                );
                self.w.sink.finding(f);
            }
        } else if sniff::needs_extension(true_type) && !name.is_empty() && !has_extension(name) {
            let f = Finding::structural(
                FindingKind::TypeMismatch,
                self.path.clone(),
                format!("no extension, content is {true_type}"),
            );
            self.w.sink.finding(f);
        } else if sniff::is_container_or_document(true_type)
            && let Some(ext) = sniff::generic_extension(name)
            && !sniff::is_office_temp_copy(name)
        {
            // `.dat`/`.tmp`/a number claim no type, which is the same disguise as `.jpg`.
            let f = Finding::structural(
                FindingKind::TypeMismatch,
                self.path.clone(),
                format!("name says .{ext} (no type), content is {true_type}"),
            );
            self.w.sink.finding(f);
        }
        if self.depth > self.w.limits.max_depth {
            self.w.incomplete = true;
            let max = self.w.limits.max_depth;
            let f = Finding::structural(
                FindingKind::Limit,
                self.path.clone(),
                format!("nesting depth {} > {max}", self.depth),
            );
            self.w.sink.finding(f);
            return (true_type, declared);
        }
        if self.should_stop() {
            return (true_type, declared);
        }
        let result = catch_unwind(AssertUnwindSafe(|| {
            formats::dispatch(true_type, blob, self)
        }));
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.unreadable("", format!("{true_type}: {e}")),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                self.unreadable(
                    "",
                    format!("{true_type}: parser failed on malformed input ({msg})"),
                );
            }
        }
        (true_type, declared)
    }
}

/// `report.docx` has one; `README`, `.bashrc` and `notes.` do not.
fn has_extension(name: &str) -> bool {
    match name.rfind('.') {
        Some(i) => i > 0 && i + 1 < name.len(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Objects(Vec<(String, u32, u64)>);

    impl Sink for Objects {
        fn part(&mut self, _part: Part) {}
        fn finding(&mut self, _finding: Finding) {}
        fn object(&mut self, path: &str, depth: u32, blob: &Blob) {
            self.0.push((path.to_owned(), depth, blob.len()));
        }
    }

    #[test]
    fn every_object_is_seen_once_with_its_path_and_depth() {
        let text = "关于加强保密工作的通知\n".repeat(20);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let top_len = gz.len() as u64;
        let mut sink = Objects::default();
        extract(
            Blob::from_vec(gz),
            "notice.txt.gz",
            &Limits::default(),
            &mut sink,
        );
        assert_eq!(sink.0.len(), 2, "{:?}", sink.0);
        assert_eq!(sink.0[0], ("notice.txt.gz".to_owned(), 0, top_len));
        assert_eq!(sink.0[1].1, 1);
        assert!(sink.0[1].0.starts_with("notice.txt.gz/"), "{:?}", sink.0);
        assert_eq!(sink.0[1].2, text.len() as u64);
    }
}
