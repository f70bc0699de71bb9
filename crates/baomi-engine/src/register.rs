//! Registration of secret documents and of the allow corpus: the same extraction as scanning,
//! so anything Baomi can scan (docx, pdf, eml, zip, …) can be registered.
//!
//! [`prepare`] turns a file into a [`RegisteredDoc`] (prints of all its text, exact hashes of
//! the file, of nested objects with text of their own, and of its text parts); the store keeps
//! it as bytes ([`RegisteredDoc::to_bytes`]). [`corpus_text`] gives the text of an ordinary
//! document for [`AllowSet::learn`](baomi_core::fingerprint::AllowSet::learn).

use std::io::{self, Read};

use baomi_core::fingerprint::{Canonical, DocBuilder, MIN_REPORT_CHARS, RegisteredDoc};
use baomi_core::{Finding, Level, Part, PartRole};
use baomi_extract::{Blob, Sink};

use crate::{Engine, EngineError};

/// BLAKE3 of an object's bytes, streamed from disk for file blobs.
pub fn object_hash(blob: &Blob) -> io::Result<[u8; 32]> {
    let mut hasher = blake3::Hasher::new();
    match blob {
        Blob::Mem(v) => {
            hasher.update(v);
        }
        Blob::File { .. } => {
            let mut reader = blob.open()?;
            let mut buf = vec![0u8; 256 << 10];
            loop {
                let n = reader.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buf[..n]);
            }
        }
    }
    Ok(*hasher.finalize().as_bytes())
}

/// Roles whose text is the document's content. File names and metadata (author, dates, mail
/// addresses) are not: they would tie unrelated documents of one office together.
fn is_content(role: PartRole) -> bool {
    !matches!(role, PartRole::Name | PartRole::Metadata)
}

struct RegisterSink<'e> {
    engine: &'e Engine,
    builder: DocBuilder,
    /// (path, depth, hash) of every object.
    objects: Vec<(String, u32, Option<[u8; 32]>)>,
    /// (path, canonical characters) of every content part.
    parts: Vec<(String, usize)>,
    problems: Vec<String>,
}

impl Sink for RegisterSink<'_> {
    fn part(&mut self, part: Part) {
        if !is_content(part.role) {
            return;
        }
        let norm = self.engine.normalizer.normalize(&part.text);
        let canon = Canonical::of(&norm.text);
        self.builder.add_part(&canon);
        self.parts.push((part.path, canon.len()));
    }

    fn finding(&mut self, finding: Finding) {
        if finding.kind.is_structural() {
            self.problems
                .push(format!("{} ({})", finding.reason, finding.part));
        }
    }

    fn object(&mut self, path: &str, depth: u32, blob: &Blob) {
        self.objects
            .push((path.to_owned(), depth, object_hash(blob).ok()));
    }
}

/// True when `part` is inside the object at `object` (or is its own text, `#ocr`).
fn is_inside(part: &str, object: &str) -> bool {
    part.strip_prefix(object)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/') || rest.starts_with('#'))
}

/// What [`register`] settled on besides the prints.
#[derive(Debug, Clone)]
pub struct Registration {
    pub doc: RegisteredDoc,
    pub id: String,
    pub title: String,
    pub level: Level,
}

/// Register one object as `baomi fingerprint add` and the console do: the level is the one
/// given or else the highest marking found in it (an error when there is none), the title
/// the one given or else `name` without its extension, the id the one given or else
/// `FP-` and the start of the object's hash.
pub fn register(
    engine: &Engine,
    blob: Blob,
    name: &str,
    level: Option<Level>,
    title: Option<&str>,
    id: Option<&str>,
) -> Result<Registration, EngineError> {
    let fail = |e: String| EngineError::Register(name.to_owned(), e);
    let level = match level {
        Some(l) => l,
        None => engine
            .inspect(blob.clone(), name, baomi_core::Channel::Scan)
            .findings
            .iter()
            .filter(|f| f.kind == baomi_core::FindingKind::Marking)
            .filter_map(|f| f.level)
            .max()
            .ok_or_else(|| fail("no marking found; say its level".into()))?,
    };
    let title = match title.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => t.to_owned(),
        None => std::path::Path::new(name)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| name.to_owned()),
    };
    let id = match id.map(str::trim).filter(|i| !i.is_empty()) {
        Some(i) => i.to_owned(),
        None => {
            let h = object_hash(&blob).map_err(|e| fail(e.to_string()))?;
            let hex: String = h[..6].iter().map(|b| format!("{b:02x}")).collect();
            format!("FP-{hex}")
        }
    };
    let doc = prepare(engine, blob, name, &id, &title, level)?;
    Ok(Registration {
        doc,
        id,
        title,
        level,
    })
}

/// Fingerprint a document for registration under `id`, `title`, `level`. Fails when the
/// document has less than [`MIN_REPORT_CHARS`] characters of text Baomi can read (an
/// encrypted or image-only file): it could never be recognised but as an identical file,
/// and the officer should know.
pub fn prepare(
    engine: &Engine,
    blob: Blob,
    name: &str,
    id: &str,
    title: &str,
    level: Level,
) -> Result<RegisteredDoc, EngineError> {
    let mut sink = RegisterSink {
        engine,
        builder: DocBuilder::new(),
        objects: Vec::new(),
        parts: Vec::new(),
        problems: Vec::new(),
    };
    let summary = baomi_extract::extract(blob, name, &engine.limits, &mut sink);
    if sink.builder.chars() < MIN_REPORT_CHARS {
        let mut why = format!(
            "only {} characters of readable text (at least {MIN_REPORT_CHARS} needed)",
            sink.builder.chars()
        );
        if !sink.problems.is_empty() {
            why.push_str(": ");
            why.push_str(&sink.problems.join("; "));
        }
        return Err(EngineError::Register(name.to_owned(), why));
    }
    if !summary.complete {
        return Err(EngineError::Register(
            name.to_owned(),
            format!(
                "extraction stopped at a limit, the registration would be partial: {}",
                sink.problems.join("; ")
            ),
        ));
    }
    // Text of each object's own: every content part counts for the deepest object holding it,
    // so a zip's text is its entries' text, not its own.
    let mut own = vec![0usize; sink.objects.len()];
    for (path, chars) in &sink.parts {
        let holder = sink
            .objects
            .iter()
            .enumerate()
            .filter(|(_, (o, _, _))| is_inside(path, o))
            .max_by_key(|(_, (o, _, _))| o.len())
            .map(|(i, _)| i);
        if let Some(i) = holder {
            own[i] += chars;
        }
    }
    for (i, (_, depth, hash)) in sink.objects.iter().enumerate() {
        match hash {
            Some(hash) if *depth == 0 => sink.builder.set_file(*hash),
            Some(hash) if own[i] >= MIN_REPORT_CHARS as usize => sink.builder.add_exact(*hash),
            _ => {}
        }
    }
    Ok(sink.builder.finish(id, title, level))
}

struct CorpusSink<'e> {
    engine: &'e Engine,
    text: String,
}

impl Sink for CorpusSink<'_> {
    fn part(&mut self, part: Part) {
        if is_content(part.role) {
            self.text
                .push_str(&self.engine.normalizer.normalize(&part.text).text);
            self.text.push('\n');
        }
    }
    fn finding(&mut self, _finding: Finding) {}
}

/// The content text of an ordinary document (all its parts, normalised), one entry of the
/// corpus [`AllowSet::learn`](baomi_core::fingerprint::AllowSet::learn) counts documents in.
pub fn corpus_text(engine: &Engine, blob: Blob, name: &str) -> String {
    let mut sink = CorpusSink {
        engine,
        text: String::new(),
    };
    baomi_extract::extract(blob, name, &engine.limits, &mut sink);
    sink.text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_belong_to_objects_by_path() {
        assert!(is_inside("a.zip/b.docx/word/document.xml", "a.zip/b.docx"));
        assert!(is_inside("a.zip/b.png#ocr", "a.zip/b.png"));
        assert!(is_inside("a.zip", "a.zip"));
        assert!(!is_inside("a.zip/b.docx2/x", "a.zip/b.docx"));
    }
}
