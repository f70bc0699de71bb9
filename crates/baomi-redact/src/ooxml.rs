//! DOCX and XLSX: the parts that hold text are rewritten, every other zip entry is copied
//! as it was (same names, same order, same compressed bytes).
//!
//! The text of each part is read as the extractor reads it (`formats/ooxml.rs`), so the
//! findings here are the findings of a scan: a Word paragraph is the join of its runs
//! (a resident ID whose first six digits are bold is one number), visible, deleted and
//! hidden text are separate, a sheet is its cells row by row with shared strings resolved.
//! Masked characters go back into the run they came from, so formatting stays.
//!
//! Beyond what the extractor reads, the copies a scan skips are redacted too, since they are
//! published all the same: the `mc:Fallback` twin of a text box, field codes
//! (`HYPERLINK "mailto:…"`) and external link targets in the relationship files.

use baomi_extract::formats::ooxml::resolve_target;
use std::collections::HashMap;
use std::io::{Cursor, Read, Write};
use std::ops::Range;

use baomi_extract::{Blob, FileType};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::markup::{Doc, Escape, Ev, Patch, Tok, TokKind, escape};
use crate::stream::{Edits, Loc, Redactor, Stream};
use crate::{Format, MAX_DEPTH, RedactError, Redacted, finish};

/// An XML part larger than this is refused (real ones are a few MB).
const MAX_PART: u64 = 256 << 20;
/// All XML parts read from one package together.
const MAX_TOTAL: u64 = 1 << 30;

fn corrupt(what: impl std::fmt::Display) -> RedactError {
    RedactError::Corrupt(what.to_string())
}

/// Why a zip that is not a recognised Office document cannot be redacted.
pub(crate) fn explain_zip(bytes: &[u8], declared: Option<FileType>) -> RedactError {
    let what = match declared {
        Some(FileType::Docx) => "DOCX",
        Some(FileType::Xlsx) => "XLSX",
        Some(FileType::Pptx) => "PPTX",
        _ => "zip package",
    };
    match ZipArchive::new(Cursor::new(bytes)) {
        Err(e) => corrupt(format!(
            "not a readable {what}: the zip is damaged or truncated ({e})"
        )),
        Ok(_) if what != "zip package" => corrupt(format!(
            "not a readable {what}: the zip holds no Office document parts \
             ([Content_Types].xml, word/document.xml or xl/workbook.xml)"
        )),
        Ok(_) => RedactError::Unsupported(
            "a zip archive, not a DOCX or XLSX document: unpack it and redact the documents \
             inside one by one"
                .to_owned(),
        ),
    }
}

struct Package<'a> {
    zip: ZipArchive<Cursor<&'a [u8]>>,
    /// Entry names in archive order.
    names: Vec<String>,
    by_lower: HashMap<String, String>,
    docs: Vec<(String, Doc)>,
    loaded: HashMap<String, usize>,
    read: u64,
}

impl<'a> Package<'a> {
    fn open(bytes: &'a [u8]) -> Result<Package<'a>, RedactError> {
        let mut zip = ZipArchive::new(Cursor::new(bytes))
            .map_err(|e| corrupt(format!("the zip package is damaged or truncated ({e})")))?;
        let mut names = Vec::with_capacity(zip.len());
        for i in 0..zip.len() {
            let entry = zip
                .by_index_raw(i)
                .map_err(|e| corrupt(format!("zip entry {i}: {e}")))?;
            let name = entry
                .name()
                .map_err(|e| corrupt(format!("zip entry {i}: {e}")))?
                .into_owned();
            if entry.encrypted() {
                return Err(RedactError::Encrypted(format!(
                    "zip entry {name} is encrypted: remove the password first"
                )));
            }
            names.push(name);
        }
        let by_lower = names
            .iter()
            .map(|n| (n.to_lowercase(), n.clone()))
            .collect();
        Ok(Package {
            zip,
            names,
            by_lower,
            docs: Vec::new(),
            loaded: HashMap::new(),
            read: 0,
        })
    }

    /// The stored name of a part (names are case-insensitive; a leading `/` is allowed).
    fn find(&self, name: &str) -> Option<String> {
        self.by_lower
            .get(&name.trim_start_matches('/').to_lowercase())
            .cloned()
    }

    fn read_entry(&mut self, stored: &str, max: u64) -> Result<Vec<u8>, RedactError> {
        let mut entry = self
            .zip
            .by_name(stored)
            .map_err(|e| corrupt(format!("{stored}: {e}")))?;
        let mut buf = Vec::new();
        (&mut entry)
            .take(max + 1)
            .read_to_end(&mut buf)
            .map_err(|e| corrupt(format!("{stored}: damaged zip entry ({e})")))?;
        if buf.len() as u64 > max {
            return Err(RedactError::TooLarge(format!(
                "{stored}: more than {} MiB of XML",
                max >> 20
            )));
        }
        Ok(buf)
    }

    /// Parse a part; `None` when the package has no such part.
    fn load(&mut self, name: &str) -> Result<Option<usize>, RedactError> {
        let Some(stored) = self.find(name) else {
            return Ok(None);
        };
        if let Some(&i) = self.loaded.get(&stored) {
            return Ok(Some(i));
        }
        let max = MAX_PART.min(MAX_TOTAL.saturating_sub(self.read));
        let bytes = self.read_entry(&stored, max)?;
        self.read += bytes.len() as u64;
        let text = String::from_utf8(bytes)
            .map_err(|_| corrupt(format!("{stored}: XML that is not UTF-8 is not supported")))?;
        let id = self.docs.len();
        let doc = Doc::parse_xml(text, id as u32)
            .map_err(|e| corrupt(format!("{stored}: malformed XML ({e})")))?;
        self.docs.push((stored.clone(), doc));
        self.loaded.insert(stored, id);
        Ok(Some(id))
    }

    fn doc(&self, id: usize) -> &Doc {
        &self.docs[id].1
    }

    /// Part names in `dir` whose file name starts with `prefix` and ends with `.xml`.
    fn parts_like(&self, dir: &str, prefix: &str) -> Vec<String> {
        let mut found: Vec<String> = self
            .names
            .iter()
            .filter(|n| {
                n.strip_prefix(dir).is_some_and(|rest| {
                    !rest.contains('/') && rest.starts_with(prefix) && rest.ends_with(".xml")
                })
            })
            .cloned()
            .collect();
        found.sort();
        found
    }

    /// Relationships of `part`: (id, type, resolved target, external).
    fn rels(&mut self, part: &str) -> Result<Vec<(String, String, String, bool)>, RedactError> {
        let (dir, file) = match part.rfind('/') {
            Some(slash) => (&part[..slash + 1], &part[slash + 1..]),
            None => ("", part),
        };
        let Some(id) = self.load(&format!("{dir}_rels/{file}.rels"))? else {
            return Ok(Vec::new());
        };
        let doc = self.doc(id);
        let mut out = Vec::new();
        for tok in &doc.toks {
            if matches!(tok.kind, TokKind::Open { .. }) && tok.name == "Relationship" {
                let get = |n: &str| tok.attr(n).map(|a| doc.text_of(a.segs.clone()));
                let external = get("TargetMode").as_deref() == Some("External");
                if let (Some(rid), Some(kind), Some(target)) =
                    (get("Id"), get("Type"), get("Target"))
                {
                    let target = if external {
                        target
                    } else {
                        resolve_target(dir, &target)
                    };
                    out.push((rid, kind, target, external));
                }
            }
        }
        Ok(out)
    }

    fn main_part(&mut self, fallback: &str) -> Result<String, RedactError> {
        let main = self
            .rels("")?
            .into_iter()
            .find(|r| r.1.ends_with("/officeDocument"))
            .and_then(|r| self.find(&r.2));
        Ok(main.unwrap_or_else(|| fallback.to_owned()))
    }
}

pub(crate) fn redact(
    r: &Redactor,
    bytes: &[u8],
    ty: FileType,
    depth: u32,
) -> Result<Redacted, RedactError> {
    let mut pkg = Package::open(bytes)?;
    let mut edits = Edits::default();
    let mut patches: HashMap<usize, Vec<Patch>> = HashMap::new();
    let format = match ty {
        FileType::Docx => {
            docx(&mut pkg, r, &mut edits)?;
            Format::Docx
        }
        _ => {
            xlsx(&mut pkg, r, &mut edits, &mut patches)?;
            Format::Xlsx
        }
    };
    charts_and_diagrams(&mut pkg, r, &mut edits)?;
    properties(&mut pkg, r, &mut edits)?;
    external_links(&mut pkg, r, &mut edits)?;
    let mut notes = Vec::new();
    custom_xml(&mut pkg, r, &mut edits, &mut notes);

    let mut replaced: HashMap<String, Vec<u8>> = HashMap::new();
    for (id, (name, doc)) in pkg.docs.iter().enumerate() {
        let extra = patches.remove(&id).unwrap_or_default();
        if let Some(text) = doc.rebuild(&edits, extra) {
            replaced.insert(name.clone(), text.into_bytes());
        }
    }

    // Embedded documents are redacted in turn; pictures and other objects cannot be.
    notes.extend(
        pkg.names
            .iter()
            .filter(|n| n.starts_with("xl/pivotCache/pivotCacheRecords"))
            .map(|n| {
                format!("{n}: pivot table cache, not redacted (refresh or remove the pivot table)")
            }),
    );
    let nested: Vec<String> = pkg
        .names
        .iter()
        .filter(|n| is_embedded(n) && !n.ends_with('/'))
        .cloned()
        .collect();
    for name in nested {
        let data = pkg.read_entry(&name, crate::MAX_INPUT as u64)?;
        let ty = baomi_extract::sniff::sniff(&Blob::from_vec(data.clone()));
        if ty.is_image() {
            notes.push(format!("{name}: picture, not redacted"));
            continue;
        }
        if !matches!(ty, FileType::Docx | FileType::Xlsx) || depth >= MAX_DEPTH {
            notes.push(format!(
                "{name}: embedded {} object, not redacted",
                ty.as_str()
            ));
            continue;
        }
        match crate::redact_with(r, &data, &name, depth + 1) {
            Ok(inner) => {
                edits.add_counts(&inner.by_kind);
                notes.extend(
                    inner
                        .not_redacted
                        .into_iter()
                        .map(|n| format!("{name}/{n}")),
                );
                if inner.replaced > 0 {
                    replaced.insert(name, inner.bytes);
                }
            }
            Err(e) => notes.push(format!("{name}: embedded document not redacted ({e})")),
        }
    }

    let out = if replaced.is_empty() {
        bytes.to_vec()
    } else {
        write_package(&mut pkg, &replaced)?
    };
    Ok(finish(out, format, edits, notes))
}

fn is_embedded(name: &str) -> bool {
    ["word/", "xl/", "ppt/"].iter().any(|root| {
        name.strip_prefix(root)
            .is_some_and(|rest| rest.starts_with("embeddings/") || rest.starts_with("media/"))
    })
}

/// The package again: replaced parts recompressed, all other entries copied raw.
fn write_package(
    pkg: &mut Package<'_>,
    replaced: &HashMap<String, Vec<u8>>,
) -> Result<Vec<u8>, RedactError> {
    let fail = |e: zip::result::ZipError| corrupt(format!("writing the package: {e}"));
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..pkg.names.len() {
        let name = pkg.names[i].clone();
        let entry = pkg.zip.by_index_raw(i).map_err(fail)?;
        match replaced.get(&name) {
            Some(data) => {
                let mut options =
                    SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
                if let Some(t) = entry.last_modified() {
                    options = options.last_modified_time(t);
                }
                drop(entry);
                w.start_file(name.as_str(), options).map_err(fail)?;
                w.write_all(data)
                    .map_err(|e| corrupt(format!("writing the package: {e}")))?;
            }
            None => w.raw_copy_file(entry).map_err(fail)?,
        }
    }
    Ok(w.finish().map_err(fail)?.into_inner())
}

// ---------------------------------------------------------------------------------------
// Rules shared by several parts: which elements carry text and structure (as the
// extractor's `xml::TextRules`).

struct Rules<'r> {
    text: &'r [&'r str],
    paragraph: &'r [&'r str],
    line_break: &'r [&'r str],
    skip: &'r [&'r str],
}

const DRAWING_TEXT: Rules<'static> = Rules {
    text: &["t"],
    paragraph: &["p"],
    line_break: &["br"],
    skip: &["Fallback"],
};

/// The text of `doc` under `rules`; the skipped subtrees' text comes in a second stream.
fn collect(doc: &Doc, rules: &Rules<'_>) -> [Stream; 2] {
    let mut out = Stream::default();
    let mut skipped = Stream::default();
    let (mut in_text, mut skipping) = (0u32, 0u32);
    for ev in doc.events() {
        match ev {
            Ev::Open(tok) => {
                let name = tok.name.as_str();
                if skipping > 0 || rules.skip.contains(&name) {
                    skipping += 1;
                } else if rules.text.contains(&name) {
                    in_text += 1;
                } else if rules.line_break.contains(&name) {
                    out.synthetic("\n");
                }
            }
            Ev::Close(name) => {
                if skipping > 0 {
                    skipping -= 1;
                    if name == "p" {
                        skipped.end_line();
                    }
                } else if rules.text.contains(&name) {
                    in_text = in_text.saturating_sub(1);
                } else if rules.paragraph.contains(&name) {
                    out.end_line();
                }
            }
            Ev::Text(tok) => {
                if skipping > 0 {
                    doc.push_segs(tok.segs.clone(), &mut skipped);
                } else if in_text > 0 || rules.text.is_empty() {
                    doc.push_segs(tok.segs.clone(), &mut out);
                }
            }
        }
    }
    [out, skipped]
}

fn redact_all(r: &Redactor, streams: impl IntoIterator<Item = Stream>, edits: &mut Edits) {
    for s in streams {
        r.redact_stream(&s, edits);
    }
}

// ---------------------------------------------------------------------------------------
// docx

/// Subtrees that never are visible text (as in the extractor): read into a stream of their
/// own, since they are in the published file all the same.
const WORD_SKIP: &[&str] = &["Fallback", "instrText", "delInstrText"];

/// Visible, deleted, hidden and skipped text of a WordprocessingML part.
fn word_streams(doc: &Doc) -> [Stream; 4] {
    #[derive(Default)]
    struct S {
        main: Stream,
        deleted: Stream,
        hidden: Stream,
        skipped: Stream,
        skipping: u32,
        in_text: u32,
        in_del_text: u32,
        in_deletion: u32,
        in_run: u32,
        in_para_props: u32,
        in_run_props: u32,
        run_hidden: bool,
    }
    impl S {
        fn target(&mut self) -> &mut Stream {
            if self.in_deletion > 0 || self.in_del_text > 0 {
                &mut self.deleted
            } else if self.run_hidden {
                &mut self.hidden
            } else {
                &mut self.main
            }
        }
        fn open(&mut self, tok: &Tok, doc: &Doc) {
            let name = tok.name.as_str();
            if self.skipping > 0 || WORD_SKIP.contains(&name) {
                self.skipping += 1;
                return;
            }
            match name {
                "r" => {
                    self.in_run += 1;
                    self.run_hidden = false;
                }
                "pPr" => self.in_para_props += 1,
                "rPr" if self.in_run > 0 && self.in_para_props == 0 => self.in_run_props += 1,
                "vanish" if self.in_run_props > 0 => {
                    self.run_hidden = !tok.attr("val").is_some_and(|a| {
                        matches!(doc.text_of(a.segs.clone()).as_str(), "0" | "false" | "off")
                    })
                }
                "t" => self.in_text += 1,
                "delText" => self.in_del_text += 1,
                "del" | "moveFrom" => self.in_deletion += 1,
                "tab" if self.in_run > 0 && self.in_para_props == 0 => {
                    self.target().synthetic("\t")
                }
                "br" | "cr" if self.in_run > 0 => self.target().synthetic("\n"),
                "noBreakHyphen" | "softHyphen" if self.in_run > 0 => self.target().synthetic("-"),
                _ => {}
            }
        }
        fn close(&mut self, name: &str) {
            if self.skipping > 0 {
                self.skipping -= 1;
                if name == "p" {
                    self.skipped.end_line();
                }
                return;
            }
            match name {
                "p" => {
                    self.main.end_line();
                    self.deleted.end_line_if_open();
                    self.hidden.end_line_if_open();
                }
                "r" => {
                    self.in_run = self.in_run.saturating_sub(1);
                    self.run_hidden = false;
                }
                "pPr" => self.in_para_props = self.in_para_props.saturating_sub(1),
                "rPr" => self.in_run_props = self.in_run_props.saturating_sub(1),
                "t" => self.in_text = self.in_text.saturating_sub(1),
                "delText" => self.in_del_text = self.in_del_text.saturating_sub(1),
                "del" | "moveFrom" => self.in_deletion = self.in_deletion.saturating_sub(1),
                _ => {}
            }
        }
    }
    let mut s = S::default();
    for tok in &doc.toks {
        match tok.kind {
            TokKind::Open { empty } => {
                s.open(tok, doc);
                if empty {
                    s.close(&tok.name);
                }
            }
            TokKind::Close => s.close(&tok.name),
            TokKind::Text => {
                if s.skipping > 0 {
                    doc.push_segs(tok.segs.clone(), &mut s.skipped);
                } else if s.in_text > 0 || s.in_del_text > 0 {
                    doc.push_segs(tok.segs.clone(), s.target());
                }
            }
            _ => {}
        }
    }
    [s.main, s.deleted, s.hidden, s.skipped]
}

fn docx(pkg: &mut Package<'_>, r: &Redactor, edits: &mut Edits) -> Result<(), RedactError> {
    let main = pkg.main_part("word/document.xml")?;
    if pkg.find(&main).is_none() {
        return Err(corrupt(format!("DOCX without its main part {main}")));
    }
    let dir = main.rfind('/').map_or("", |i| &main[..i + 1]).to_owned();
    let mut parts = vec![main];
    for prefix in ["header", "footer", "footnotes", "endnotes"] {
        parts.extend(pkg.parts_like(&dir, prefix));
    }
    parts.push(format!("{dir}comments.xml"));
    for part in parts {
        if let Some(id) = pkg.load(&part)? {
            redact_all(r, word_streams(pkg.doc(id)), edits);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// xlsx

/// A cell whose value is a number (or a formula's string result): masking its value changes
/// the cell's structure, not only its text.
struct ValueCell {
    /// The cell's `t` attribute value range, or where to insert one (before `>`).
    t_attr: Option<Range<usize>>,
    tag_end: usize,
    numeric: bool,
    /// `<v>` … `</v>` and its prefix (`x:` in a prefixed sheet).
    v_range: Range<usize>,
    prefix: String,
    v_segs: Range<usize>,
    f_range: Option<Range<usize>>,
}

fn xlsx(
    pkg: &mut Package<'_>,
    r: &Redactor,
    edits: &mut Edits,
    patches: &mut HashMap<usize, Vec<Patch>>,
) -> Result<(), RedactError> {
    let workbook = pkg.main_part("xl/workbook.xml")?;
    let Some(wb) = pkg.load(&workbook)? else {
        return Err(corrupt(format!(
            "XLSX without its workbook part {workbook}"
        )));
    };
    // Sheet names are structure (formulas refer to them), not personal data: left alone.
    let sheet_ids: Vec<String> = {
        let doc = pkg.doc(wb);
        doc.toks
            .iter()
            .filter(|t| matches!(t.kind, TokKind::Open { .. }) && t.name == "sheet")
            .filter_map(|t| {
                t.attrs
                    .iter()
                    .find(|a| a.name == "id")
                    .map(|a| doc.text_of(a.segs.clone()))
            })
            .collect()
    };
    let rels = pkg.rels(&workbook)?;
    let shared_name = rels
        .iter()
        .find(|r| r.1.ends_with("/sharedStrings"))
        .map_or_else(|| "xl/sharedStrings.xml".to_owned(), |r| r.2.clone());
    let shared: Vec<Vec<(char, Loc)>> = match pkg.load(&shared_name)? {
        Some(id) => shared_strings(pkg.doc(id)),
        None => Vec::new(),
    };
    let mut targets: Vec<String> = sheet_ids
        .iter()
        .filter_map(|id| rels.iter().find(|r| &r.0 == id))
        .filter_map(|r| pkg.find(&r.2))
        .collect();
    for part in pkg.parts_like("xl/worksheets/", "sheet") {
        if !targets.contains(&part) {
            targets.push(part);
        }
    }
    let mut cells_by_doc: Vec<(usize, Vec<ValueCell>)> = Vec::new();
    for part in targets {
        let Some(id) = pkg.load(&part)? else {
            continue;
        };
        let (streams, cells) = sheet_streams(pkg.doc(id), &shared);
        redact_all(r, streams, edits);
        cells_by_doc.push((id, cells));
    }
    // Values that were masked: a number becomes an inline string (`138****5678` is no
    // number), and a formula that would compute the value again on opening is removed.
    for (id, cells) in cells_by_doc {
        let doc = pkg.doc(id);
        for cell in cells {
            let touched = cell
                .v_segs
                .clone()
                .any(|s| edits.touches_segment(doc.id, s as u32));
            if !touched {
                continue;
            }
            let list = patches.entry(id).or_default();
            if let Some(f) = cell.f_range.clone() {
                list.push(Patch {
                    range: f,
                    text: String::new(),
                });
            }
            if !cell.numeric {
                continue;
            }
            let masked = doc.edited_text(cell.v_segs.clone(), edits);
            match cell.t_attr {
                Some(t) => list.push(Patch {
                    range: t,
                    text: "inlineStr".to_owned(),
                }),
                None => list.push(Patch {
                    range: cell.tag_end..cell.tag_end,
                    text: " t=\"inlineStr\"".to_owned(),
                }),
            }
            let p = &cell.prefix;
            list.push(Patch {
                range: cell.v_range,
                text: format!(
                    "<{p}is><{p}t>{}</{p}t></{p}is>",
                    escape(&masked, Escape::Text)
                ),
            });
        }
    }

    let comment_rules = Rules {
        text: &["t"],
        paragraph: &["comment"],
        line_break: &[],
        skip: &["rPh"],
    };
    let threaded_rules = Rules {
        text: &["text"],
        paragraph: &["threadedComment"],
        line_break: &[],
        skip: &[],
    };
    let mut extra: Vec<(String, &Rules<'_>)> = Vec::new();
    for name in pkg.parts_like("xl/", "comments") {
        extra.push((name, &comment_rules));
    }
    for name in pkg.parts_like("xl/threadedComments/", "") {
        extra.push((name, &threaded_rules));
    }
    for name in pkg.parts_like("xl/drawings/", "drawing") {
        extra.push((name, &DRAWING_TEXT));
    }
    for (name, rules) in extra {
        if let Some(id) = pkg.load(&name)? {
            redact_all(r, collect(pkg.doc(id), rules), edits);
        }
    }
    Ok(())
}

/// One entry per `si`: its characters (rich-text runs joined, phonetic guides left out).
fn shared_strings(doc: &Doc) -> Vec<Vec<(char, Loc)>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    let (mut in_t, mut in_phonetic) = (0u32, 0u32);
    for ev in doc.events() {
        match ev {
            Ev::Open(tok) => match tok.name.as_str() {
                "si" => current.clear(),
                "t" => in_t += 1,
                "rPh" => in_phonetic += 1,
                _ => {}
            },
            Ev::Close(name) => match name {
                "si" => out.push(std::mem::take(&mut current)),
                "t" => in_t = in_t.saturating_sub(1),
                "rPh" => in_phonetic = in_phonetic.saturating_sub(1),
                _ => {}
            },
            Ev::Text(tok) if in_t > 0 && in_phonetic == 0 => {
                current.extend(doc.chars_of(tok.segs.clone()));
            }
            Ev::Text(_) => {}
        }
    }
    out
}

const HEADER_FOOTER: &[&str] = &[
    "oddHeader",
    "oddFooter",
    "evenHeader",
    "evenFooter",
    "firstHeader",
    "firstFooter",
];

/// A sheet's cells row by row (tabs between cells, as the extractor has them) and its
/// header/footer text; and the cells whose value is a number.
fn sheet_streams(doc: &Doc, shared: &[Vec<(char, Loc)>]) -> ([Stream; 2], Vec<ValueCell>) {
    type Chars = Vec<(char, Option<Loc>)>;
    let mut cells_out = Stream::default();
    let mut hf = Stream::default();
    let mut value_cells = Vec::new();
    let mut row: Vec<Chars> = Vec::new();
    let mut cell_type = String::new();
    let mut cell: Option<ValueCell> = None;
    let mut inline: Chars = Vec::new();
    let (mut in_v, mut in_is, mut in_t, mut in_hf) = (false, 0u32, 0u32, 0u32);
    let mut v_start = 0;
    let mut f_start = 0;
    let mut hf_chars: Vec<(char, Loc)> = Vec::new();
    for tok in &doc.toks {
        let name = tok.name.as_str();
        let empty = matches!(tok.kind, TokKind::Open { empty: true });
        if let TokKind::Open { .. } = tok.kind {
            match name {
                "c" => {
                    let t = tok.attr("t");
                    cell_type = t.map(|a| doc.text_of(a.segs.clone())).unwrap_or_default();
                    cell = Some(ValueCell {
                        t_attr: t.map(|a| a.value_raw.clone()),
                        tag_end: tok.raw.end - 1,
                        numeric: matches!(cell_type.as_str(), "" | "n"),
                        v_range: 0..0,
                        prefix: prefix_of(&doc.src[tok.raw.clone()]),
                        v_segs: 0..0,
                        f_range: None,
                    });
                    inline.clear();
                }
                "v" => {
                    in_v = true;
                    v_start = tok.raw.start;
                }
                "f" => f_start = tok.raw.start,
                "is" => in_is += 1,
                "t" => in_t += 1,
                n if HEADER_FOOTER.contains(&n) => in_hf += 1,
                _ => {}
            }
        }
        if matches!(tok.kind, TokKind::Close) || empty {
            match name {
                "c" => {
                    let c = cell.take();
                    let chars: Chars = match cell_type.as_str() {
                        "s" => {
                            let index = c.as_ref().map(|c| doc.text_of(c.v_segs.clone()));
                            match index.and_then(|i| i.trim().parse::<usize>().ok()) {
                                Some(i) if i < shared.len() => {
                                    shared[i].iter().map(|&(ch, l)| (ch, Some(l))).collect()
                                }
                                _ => Vec::new(),
                            }
                        }
                        "inlineStr" => std::mem::take(&mut inline),
                        "b" => Vec::new(),
                        _ => c
                            .as_ref()
                            .map(|c| {
                                doc.chars_of(c.v_segs.clone())
                                    .into_iter()
                                    .map(|(ch, l)| (ch, Some(l)))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    };
                    row.push(chars);
                    if let Some(c) = c
                        && !c.v_segs.is_empty()
                        && (c.numeric || cell_type == "str")
                    {
                        value_cells.push(c);
                    }
                }
                "row" => {
                    while row.last().is_some_and(|c| c.is_empty()) {
                        row.pop();
                    }
                    for (i, c) in row.drain(..).enumerate() {
                        if i > 0 {
                            cells_out.synthetic("\t");
                        }
                        for (ch, l) in c {
                            cells_out.push(ch, l);
                        }
                    }
                    cells_out.synthetic("\n");
                }
                "v" => {
                    in_v = false;
                    if let Some(c) = cell.as_mut() {
                        c.v_range = v_start..tok.raw.end;
                    }
                }
                "f" => {
                    if let Some(c) = cell.as_mut() {
                        c.f_range = Some(f_start..tok.raw.end);
                    }
                }
                "is" => in_is = in_is.saturating_sub(1),
                "t" => in_t = in_t.saturating_sub(1),
                n if HEADER_FOOTER.contains(&n) => {
                    in_hf = in_hf.saturating_sub(1);
                    strip_header_codes(&std::mem::take(&mut hf_chars), &mut hf);
                    hf.synthetic("\n");
                }
                _ => {}
            }
        }
        if tok.kind == TokKind::Text {
            if in_hf > 0 {
                hf_chars.extend(doc.chars_of(tok.segs.clone()));
            } else if in_v {
                if let Some(c) = cell.as_mut() {
                    c.v_segs = if c.v_segs.is_empty() {
                        tok.segs.clone()
                    } else {
                        c.v_segs.start..tok.segs.end
                    };
                }
            } else if in_is > 0 && in_t > 0 {
                inline.extend(
                    doc.chars_of(tok.segs.clone())
                        .into_iter()
                        .map(|(ch, l)| (ch, Some(l))),
                );
            }
        }
    }
    ([cells_out, hf], value_cells)
}

/// `x:` of `<x:c …>`, empty for an unprefixed element.
fn prefix_of(tag: &str) -> String {
    let name = tag
        .trim_start_matches('<')
        .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .next()
        .unwrap_or("");
    match name.rfind(':') {
        Some(i) => name[..=i].to_owned(),
        None => String::new(),
    }
}

/// Header/footer codes removed as the extractor removes them (`&L &C &R` become line
/// breaks, `&P`, `&"font"`, `&12`, `&KRRGGBB` vanish, `&&` is `&`), keeping locations.
fn strip_header_codes(chars: &[(char, Loc)], out: &mut Stream) {
    let mut i = 0;
    while i < chars.len() {
        let (c, loc) = chars[i];
        i += 1;
        if c != '&' {
            out.push(c, Some(loc));
            continue;
        }
        let Some(&(next, next_loc)) = chars.get(i) else {
            break;
        };
        i += 1;
        match next {
            '&' => out.push('&', Some(next_loc)),
            'L' | 'C' | 'R' => out.synthetic("\n"),
            '"' => {
                while i < chars.len() && chars[i].0 != '"' {
                    i += 1;
                }
                i += 1;
            }
            'K' => i += 6,
            d if d.is_ascii_digit() => {
                while i < chars.len() && chars[i].0.is_ascii_digit() {
                    i += 1;
                }
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parts all packages have

fn charts_and_diagrams(
    pkg: &mut Package<'_>,
    r: &Redactor,
    edits: &mut Edits,
) -> Result<(), RedactError> {
    let chart_rules = Rules {
        text: &["t", "v"],
        paragraph: &["p", "pt"],
        line_break: &[],
        skip: &["Fallback", "numCache", "extLst"],
    };
    let mut parts: Vec<(String, &Rules<'_>)> = Vec::new();
    for root in ["word/", "xl/"] {
        for name in pkg.parts_like(&format!("{root}charts/"), "chart") {
            parts.push((name, &chart_rules));
        }
        for name in pkg.parts_like(&format!("{root}diagrams/"), "data") {
            parts.push((name, &DRAWING_TEXT));
        }
    }
    for (name, rules) in parts {
        if let Some(id) = pkg.load(&name)? {
            // A chart's number cache is no text: its skipped stream is left alone.
            let [text, _] = collect(pkg.doc(id), rules);
            r.redact_stream(&text, edits);
        }
    }
    Ok(())
}

/// docProps: the title, the other core properties, app.xml's company and manager, custom
/// properties with their names (a name such as `联系电话` is the context of its value).
fn properties(pkg: &mut Package<'_>, r: &Redactor, edits: &mut Edits) -> Result<(), RedactError> {
    if let Some(id) = pkg.load("docProps/core.xml")? {
        let doc = pkg.doc(id);
        let (mut title, mut meta) = (Stream::default(), Stream::default());
        let mut current: Option<&str> = None;
        for tok in &doc.toks {
            match tok.kind {
                TokKind::Open { empty: false } => current = Some(tok.name.as_str()),
                TokKind::Open { empty: true } | TokKind::Close => current = None,
                TokKind::Text => match current {
                    Some("title") => doc.push_segs(tok.segs.clone(), &mut title),
                    Some(
                        "subject" | "creator" | "keywords" | "description" | "lastModifiedBy"
                        | "category" | "contentStatus" | "identifier",
                    ) => {
                        doc.push_segs(tok.segs.clone(), &mut meta);
                        meta.end_line();
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        redact_all(r, [title, meta], edits);
    }
    if let Some(id) = pkg.load("docProps/app.xml")? {
        let names = &["Company", "Manager", "HyperlinkBase", "lpstr"];
        let rules = Rules {
            text: names,
            paragraph: names,
            line_break: &[],
            skip: &[],
        };
        redact_all(r, collect(pkg.doc(id), &rules), edits);
    }
    if let Some(id) = pkg.load("docProps/custom.xml")? {
        let doc = pkg.doc(id);
        let mut out = Stream::default();
        let mut name: Option<String> = None;
        for tok in &doc.toks {
            match tok.kind {
                TokKind::Open { .. } if tok.name == "property" => {
                    name = tok.attr("name").map(|a| doc.text_of(a.segs.clone()));
                }
                TokKind::Close if tok.name == "property" => name = None,
                TokKind::Text => {
                    if let Some(n) = &name {
                        out.synthetic(&format!("{n}: "));
                        doc.push_segs(tok.segs.clone(), &mut out);
                        out.end_line();
                    }
                }
                _ => {}
            }
        }
        r.redact_stream(&out, edits);
    }
    Ok(())
}

/// Custom XML data (`customXml/item1.xml`): content controls bound to it would fill the
/// document with its values again when it is opened. Every text node is a line.
fn custom_xml(pkg: &mut Package<'_>, r: &Redactor, edits: &mut Edits, notes: &mut Vec<String>) {
    for name in pkg.parts_like("customXml/", "item") {
        if name.contains("itemProps") {
            continue;
        }
        // Producers write these in UTF-16 at times; such a part is reported, not fatal.
        let id = match pkg.load(&name) {
            Ok(Some(id)) => id,
            Ok(None) => continue,
            Err(e) => {
                notes.push(format!("{name}: custom XML not redacted ({e})"));
                continue;
            }
        };
        let doc = pkg.doc(id);
        let mut out = Stream::default();
        for tok in &doc.toks {
            if tok.kind == TokKind::Text {
                doc.push_segs(tok.segs.clone(), &mut out);
                out.end_line();
            }
        }
        r.redact_stream(&out, edits);
    }
}

/// External link targets (`mailto:zhang@…`, `tel:…`) in every relationship file.
fn external_links(
    pkg: &mut Package<'_>,
    r: &Redactor,
    edits: &mut Edits,
) -> Result<(), RedactError> {
    let rels: Vec<String> = pkg
        .names
        .iter()
        .filter(|n| n.ends_with(".rels"))
        .cloned()
        .collect();
    for name in rels {
        let Some(id) = pkg.load(&name)? else {
            continue;
        };
        let doc = pkg.doc(id);
        let mut out = Stream::default();
        for tok in &doc.toks {
            if !matches!(tok.kind, TokKind::Open { .. }) || tok.name != "Relationship" {
                continue;
            }
            let external = tok
                .attr("TargetMode")
                .is_some_and(|a| doc.text_of(a.segs.clone()) == "External");
            if let (true, Some(target)) = (external, tok.attr("Target")) {
                doc.push_segs(target.segs.clone(), &mut out);
                out.end_line();
            }
        }
        r.redact_stream(&out, edits);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        for (name, text) in entries {
            w.start_file(*name, SimpleFileOptions::default())
                .expect("start");
            w.write_all(text.as_bytes()).expect("write");
        }
        w.finish().expect("finish").into_inner()
    }

    fn entry(bytes: &[u8], name: &str) -> String {
        let mut zip = ZipArchive::new(Cursor::new(bytes)).expect("zip");
        let mut s = String::new();
        zip.by_name(name)
            .expect("entry")
            .read_to_string(&mut s)
            .expect("read");
        s
    }

    const WORKBOOK: &str = r#"<workbook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="13812345678" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
    const WORKBOOK_RELS: &str = r#"<Relationships><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;

    #[test]
    fn formula_cells_lose_the_formula_and_headers_are_masked() {
        let sheet = concat!(
            r#"<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData>"#,
            r#"<x:row r="1"><x:c r="A1" s="2"><x:f>13800000000+12345678</x:f><x:v>13812345678</x:v></x:c>"#,
            r#"<x:c r="B1" t="n"><x:v>42</x:v></x:c><x:c r="C1" t="str"><x:f>"a"</x:f><x:v>13912345678</x:v></x:c></x:row>"#,
            r#"</x:sheetData><x:headerFooter><x:oddHeader>&amp;C&amp;"宋体,Bold"电话 13712345678</x:oddHeader></x:headerFooter></x:worksheet>"#
        );
        let bytes = package(&[
            ("[Content_Types].xml", "<Types/>"),
            ("xl/workbook.xml", WORKBOOK),
            ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS),
            ("xl/worksheets/sheet1.xml", sheet),
        ]);
        let out = redact(&Redactor::new(), &bytes, FileType::Xlsx, 0).expect("redact");
        assert_eq!(out.replaced, 3);
        let sheet = entry(&out.bytes, "xl/worksheets/sheet1.xml");
        assert!(
            sheet.contains(
                r#"<x:c r="A1" s="2" t="inlineStr"><x:is><x:t>138****5678</x:t></x:is></x:c>"#
            ),
            "{sheet}"
        );
        assert!(
            sheet.contains(r#"<x:c r="B1" t="n"><x:v>42</x:v></x:c>"#),
            "{sheet}"
        );
        assert!(
            sheet.contains(r#"<x:c r="C1" t="str"><x:v>139****5678</x:v></x:c>"#),
            "{sheet}"
        );
        assert!(
            sheet.contains(r#"&amp;C&amp;"宋体,Bold"电话 137****5678"#),
            "{sheet}"
        );
        // A sheet named like a number is a name, left alone.
        assert_eq!(entry(&out.bytes, "xl/workbook.xml"), WORKBOOK);
    }

    #[test]
    fn fallback_copies_and_field_codes_are_masked_too() {
        let doc = concat!(
            r#"<w:document xmlns:w="w" xmlns:mc="mc"><w:body><w:p>"#,
            r#"<w:r><w:instrText> HYPERLINK "mailto:lisi@example.com" </w:instrText></w:r>"#,
            r#"<mc:AlternateContent><mc:Choice><w:p><w:r><w:t>手机13812345678</w:t></w:r></w:p></mc:Choice>"#,
            r#"<mc:Fallback><w:p><w:r><w:t>手机13812345678</w:t></w:r></w:p></mc:Fallback></mc:AlternateContent>"#,
            r#"</w:p></w:body></w:document>"#
        );
        let bytes = package(&[
            ("[Content_Types].xml", "<Types/>"),
            ("word/document.xml", doc),
        ]);
        let out = redact(&Redactor::new(), &bytes, FileType::Docx, 0).expect("redact");
        let xml = entry(&out.bytes, "word/document.xml");
        assert_eq!(xml.matches("手机138****5678").count(), 2, "{xml}");
        assert!(xml.contains("mailto:l***@example.com"), "{xml}");
    }
}
