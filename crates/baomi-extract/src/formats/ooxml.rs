//! Office Open XML: docx, xlsx, pptx.
//!
//! The package is a zip; parts are found through the relationship files where that matters
//! (main document, sheet names, slide order) and by name pattern otherwise. Text goes out by
//! where it sits: body, headers/footers, annotations (comments, notes, footnotes, tracked
//! deletions, hidden text), metadata. Embedded objects and media are opened as nested objects.

use std::collections::HashMap;

use baomi_core::PartRole;
use quick_xml::events::BytesStart;
use zip::ZipArchive;

use super::text::emit_chunked;
use super::xml::{self, Node, TextBuf, TextRules, XmlError, attr, local_name};
use crate::blob::ReadSeek;
use crate::helper;
use crate::{Blob, Ctx, FileType, FormatResult};

/// An XML part larger than this is not parsed (real ones are a few MB at most).
const MAX_XML_PART: u64 = 256 << 20;

pub fn extract(ty: FileType, blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let mut pkg = Package::open(blob)?;
    match ty {
        FileType::Docx => docx(&mut pkg, cx)?,
        FileType::Xlsx => xlsx(&mut pkg, cx)?,
        FileType::Pptx => pptx(&mut pkg, cx)?,
        other => return Err(format!("{other} is not an Office Open XML type").into()),
    }
    charts_and_diagrams(&mut pkg, cx);
    properties(&mut pkg, cx);
    let embedded: Vec<String> = pkg
        .names()
        .iter()
        .filter(|n| is_embedded(n))
        .cloned()
        .collect();
    for name in embedded {
        if cx.should_stop() {
            break;
        }
        pkg.open_child(&name, cx);
    }
    Ok(())
}

/// Chart titles, categories and data labels, and SmartArt text: body text wherever they sit.
fn charts_and_diagrams(pkg: &mut Package<'_>, cx: &mut Ctx<'_, '_>) {
    let chart_rules = TextRules {
        text: &["t", "v"],
        paragraph: &["p", "pt"],
        tab: &[],
        line_break: &[],
        skip: &["Fallback", "numCache", "extLst"],
    };
    let mut parts: Vec<(String, PartRole, &TextRules<'_>)> = Vec::new();
    for root in ["word/", "xl/", "ppt/"] {
        for name in parts_like(pkg, &format!("{root}charts/"), "chart") {
            parts.push((name, PartRole::Body, &chart_rules));
        }
        for name in parts_like(pkg, &format!("{root}diagrams/"), "data") {
            parts.push((name, PartRole::Body, &DRAWING_TEXT));
        }
    }
    simple_parts(pkg, parts, cx);
}

fn is_embedded(name: &str) -> bool {
    ["word/", "xl/", "ppt/"].iter().any(|root| {
        name.strip_prefix(root).is_some_and(|rest| {
            (rest.starts_with("embeddings/") || rest.starts_with("media/")) && !rest.ends_with('/')
        })
    })
}

/// A zip package (OOXML, ODF and OFD all use one) with case-insensitive part lookup.
pub(crate) struct Package<'b> {
    zip: ZipArchive<Box<dyn ReadSeek + 'b>>,
    names: Vec<String>,
    by_lower: HashMap<String, String>,
}

impl<'b> Package<'b> {
    pub(crate) fn open(
        blob: &'b Blob,
    ) -> Result<Package<'b>, Box<dyn std::error::Error + Send + Sync>> {
        let reader = blob.open()?;
        let zip =
            ZipArchive::new(reader).map_err(|e| format!("not a readable zip package: {e}"))?;
        let names: Vec<String> = zip
            .file_names()
            .filter_map(Result::ok)
            .map(|n| n.into_owned())
            .collect();
        let by_lower = names
            .iter()
            .map(|n| (n.to_lowercase(), n.clone()))
            .collect();
        Ok(Package {
            zip,
            names,
            by_lower,
        })
    }

    pub(crate) fn names(&self) -> &[String] {
        &self.names
    }

    /// The stored name of a part (part names are case-insensitive; a leading `/` is allowed).
    pub(crate) fn find(&self, name: &str) -> Option<String> {
        let name = name.trim_start_matches('/');
        self.by_lower.get(&name.to_lowercase()).cloned()
    }

    /// Read a part as decoded XML text. Absent parts give `None` silently; unreadable,
    /// encrypted or oversized ones give `None` and a finding.
    pub(crate) fn read_xml(&mut self, name: &str, cx: &mut Ctx<'_, '_>) -> Option<String> {
        let stored = self.find(name)?;
        let mut entry = match self.zip.by_name(&stored) {
            Ok(entry) => entry,
            Err(e) => {
                cx.unreadable(&stored, format!("zip entry: {e}"));
                return None;
            }
        };
        if entry.encrypted() {
            cx.encrypted(&stored, "encrypted zip entry");
            return None;
        }
        // One part is held as XML and as text at once: it gets the per-object memory
        // budget, and its bytes count against the expansion budget like any inflated entry.
        let remaining = cx.remaining_budget();
        let max = MAX_XML_PART.min(cx.object_budget());
        let declared = entry.size();
        if declared > remaining {
            cx.limit(format!("{stored}: {declared} bytes of XML > {remaining}"));
            return None;
        }
        if declared > max {
            cx.limit_here(
                &stored,
                format!(
                    "XML part of {declared} bytes > {} per-object memory budget",
                    helper::mb(max)
                ),
            );
            return None;
        }
        match xml::read_bounded(&mut entry, max) {
            Ok(Some(bytes)) => {
                if !cx.charge(bytes.len() as u64) {
                    return None;
                }
                Some(xml::decode_owned(bytes))
            }
            Ok(None) => {
                // The entry claimed less than it inflates to.
                if max < remaining {
                    cx.limit_here(
                        &stored,
                        format!(
                            "XML part larger than declared ({declared} bytes), > {} \
                             per-object memory budget",
                            helper::mb(max)
                        ),
                    );
                } else {
                    cx.limit(format!("{stored}: XML larger than declared, > {max} bytes"));
                }
                None
            }
            Err(e) => {
                cx.unreadable(&stored, format!("zip entry: {e}"));
                None
            }
        }
    }

    /// Open an entry as a nested object (embedded document, image, attachment).
    pub(crate) fn open_child(&mut self, name: &str, cx: &mut Ctx<'_, '_>) {
        let mut entry = match self.zip.by_name(name) {
            Ok(entry) => entry,
            Err(e) => {
                cx.unreadable(name, format!("zip entry: {e}"));
                return;
            }
        };
        if entry.encrypted() {
            cx.encrypted(name, "encrypted zip entry");
            return;
        }
        let size = entry.size();
        if let Err(e) = cx.read_child(name, &mut entry, Some(size)) {
            cx.unreadable(name, format!("zip entry: {e}"));
        }
    }

    /// Relationships of `part` (`""` for the package root): (id, type, resolved target).
    fn rels(&mut self, part: &str, cx: &mut Ctx<'_, '_>) -> Vec<Rel> {
        let (dir, file) = match part.rfind('/') {
            Some(slash) => (&part[..slash + 1], &part[slash + 1..]),
            None => ("", part),
        };
        let rels_name = format!("{dir}_rels/{file}.rels");
        let Some(xml_text) = self.read_xml(&rels_name, cx) else {
            return Vec::new();
        };
        let mut rels = Vec::new();
        let _ = xml::walk(&xml_text, |node| {
            if let Node::Open(e) = node
                && local_name(e) == "Relationship"
                && attr(e, "TargetMode").as_deref() != Some("External")
                && let (Some(id), Some(kind), Some(target)) =
                    (attr(e, "Id"), attr(e, "Type"), attr(e, "Target"))
            {
                rels.push(Rel {
                    id,
                    kind,
                    target: resolve_target(dir, &target),
                });
            }
        });
        rels
    }

    /// The main part named by the root relationship `officeDocument`.
    fn main_part(&mut self, fallback: &str, cx: &mut Ctx<'_, '_>) -> String {
        self.rels("", cx)
            .into_iter()
            .find(|r| r.kind.ends_with("/officeDocument"))
            .and_then(|r| self.find(&r.target))
            .unwrap_or_else(|| fallback.to_owned())
    }
}

struct Rel {
    id: String,
    kind: String,
    target: String,
}

/// Resolve a relationship target against the source part's folder (`..` allowed).
pub fn resolve_target(dir: &str, target: &str) -> String {
    let joined = match target.strip_prefix('/') {
        Some(absolute) => absolute.to_owned(),
        None => format!("{dir}{target}"),
    };
    let mut out: Vec<&str> = Vec::new();
    for seg in joined.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    out.join("/")
}

/// Report the text of a part, then its parse error (if any) as unreadable.
fn emit(cx: &mut Ctx<'_, '_>, sub: &str, role: PartRole, text: String, err: Option<XmlError>) {
    let text = match text.trim_end() {
        trimmed if trimmed.len() == text.len() => text,
        trimmed => trimmed.to_owned(),
    };
    cx.text(sub, role, text);
    if let Some(e) = err {
        xml::report_error(cx, sub, &e);
    }
}

/// The file name of a part: `word/header1.xml` → `header1.xml`.
fn file_name(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// Part names in `dir` whose file name starts with `prefix` and ends with `.xml`, in natural
/// order (`slide2` before `slide10`).
fn parts_like(pkg: &Package<'_>, dir: &str, prefix: &str) -> Vec<String> {
    let mut found: Vec<String> = pkg
        .names()
        .iter()
        .filter(|n| {
            n.strip_prefix(dir).is_some_and(|rest| {
                !rest.contains('/') && rest.starts_with(prefix) && rest.ends_with(".xml")
            })
        })
        .cloned()
        .collect();
    found.sort_by_key(|n| natural_key(n));
    found
}

fn natural_key(name: &str) -> (String, u64) {
    let stem = name.trim_end_matches(".xml");
    // Count trailing ASCII digits by bytes: a crafted non-ASCII name must not split a char.
    let digits_at = stem.len() - stem.bytes().rev().take_while(u8::is_ascii_digit).count();
    let number = stem[digits_at..].parse().unwrap_or(0);
    (stem[..digits_at].to_owned(), number)
}

// ---------------------------------------------------------------------------------------
// docx

/// Text of a WordprocessingML part, split by visibility.
#[derive(Default)]
struct WordText {
    main: TextBuf,
    /// Tracked deletions (`w:del`, `w:moveFrom`): gone from the page, still in the file.
    deleted: TextBuf,
    /// Runs formatted hidden (`w:vanish`).
    hidden: TextBuf,
}

/// Elements whose subtree never is visible text: the `mc:Fallback` copy of a text box (its
/// `mc:Choice` twin is read), field instructions.
const WORD_SKIP: &[&str] = &["Fallback", "instrText", "delInstrText"];

fn word_text(xml_text: &str) -> (WordText, Option<XmlError>) {
    #[derive(Default)]
    struct State {
        out: WordText,
        skipping: u32,
        in_text: u32,
        in_del_text: u32,
        in_deletion: u32,
        in_run: u32,
        in_para_props: u32,
        in_run_props: u32,
        run_hidden: bool,
    }
    impl State {
        fn target(&mut self) -> &mut TextBuf {
            if self.in_deletion > 0 || self.in_del_text > 0 {
                &mut self.out.deleted
            } else if self.run_hidden {
                &mut self.out.hidden
            } else {
                &mut self.out.main
            }
        }
    }
    let mut s = State::default();
    let result = xml::walk(xml_text, |node| match node {
        Node::Open(e) => {
            let name = local_name(e);
            if s.skipping > 0 || WORD_SKIP.contains(&name) {
                s.skipping += 1;
                return;
            }
            match name {
                "r" => {
                    s.in_run += 1;
                    s.run_hidden = false;
                }
                "pPr" => s.in_para_props += 1,
                "rPr" if s.in_run > 0 && s.in_para_props == 0 => s.in_run_props += 1,
                "vanish" if s.in_run_props > 0 => s.run_hidden = is_on(e),
                "t" => s.in_text += 1,
                "delText" => s.in_del_text += 1,
                "del" | "moveFrom" => s.in_deletion += 1,
                "tab" if s.in_run > 0 && s.in_para_props == 0 => s.target().push_char('\t'),
                "br" | "cr" if s.in_run > 0 => s.target().push_char('\n'),
                "noBreakHyphen" | "softHyphen" if s.in_run > 0 => s.target().push_char('-'),
                _ => {}
            }
        }
        Node::Close(name) => {
            if s.skipping > 0 {
                s.skipping -= 1;
                return;
            }
            match name {
                "p" => {
                    s.out.main.end_line();
                    s.out.deleted.end_line_if_open();
                    s.out.hidden.end_line_if_open();
                }
                "r" => {
                    s.in_run = s.in_run.saturating_sub(1);
                    s.run_hidden = false;
                }
                "pPr" => s.in_para_props = s.in_para_props.saturating_sub(1),
                "rPr" => s.in_run_props = s.in_run_props.saturating_sub(1),
                "t" => s.in_text = s.in_text.saturating_sub(1),
                "delText" => s.in_del_text = s.in_del_text.saturating_sub(1),
                "del" | "moveFrom" => s.in_deletion = s.in_deletion.saturating_sub(1),
                _ => {}
            }
        }
        Node::Text(t) => {
            if s.skipping == 0 && (s.in_text > 0 || s.in_del_text > 0) {
                s.target().push(t);
            }
        }
    });
    (s.out, result.err())
}

/// A WordprocessingML on/off property: on unless `w:val` says otherwise.
fn is_on(e: &BytesStart<'_>) -> bool {
    !matches!(attr(e, "val").as_deref(), Some("0" | "false" | "off"))
}

fn word_part(pkg: &mut Package<'_>, name: &str, role: PartRole, cx: &mut Ctx<'_, '_>) {
    let Some(xml_text) = pkg.read_xml(name, cx) else {
        return;
    };
    let (text, err) = word_text(&xml_text);
    emit_chunked(cx, name, role, text.main.into_text());
    cx.text(
        &format!("{name}#deleted"),
        PartRole::Annotation,
        text.deleted.into_text(),
    );
    cx.text(
        &format!("{name}#hidden"),
        PartRole::Annotation,
        text.hidden.into_text(),
    );
    if let Some(e) = err {
        xml::report_error(cx, name, &e);
    }
}

fn docx(pkg: &mut Package<'_>, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let main = pkg.main_part("word/document.xml", cx);
    if pkg.find(&main).is_none() {
        return Err(format!("docx without its main part {main}").into());
    }
    word_part(pkg, &main, PartRole::Body, cx);
    // Alternative-format chunks (an HTML or RTF file imported into the body, as some
    // generators write documents) are body content in another format: open them as objects.
    let chunks: Vec<String> = pkg
        .rels(&main, cx)
        .into_iter()
        .filter(|r| r.kind.ends_with("/aFChunk"))
        .filter_map(|r| pkg.find(&r.target))
        .collect();
    for chunk in chunks {
        pkg.open_child(&chunk, cx);
    }
    let dir = main.rfind('/').map_or("", |i| &main[..i + 1]).to_owned();
    let mut others: Vec<(String, PartRole)> = Vec::new();
    for prefix in ["header", "footer"] {
        for name in parts_like(pkg, &dir, prefix) {
            others.push((name, PartRole::HeaderFooter));
        }
    }
    for prefix in ["footnotes", "endnotes", "comments"] {
        for name in parts_like(pkg, &dir, prefix) {
            // commentsExtended/commentsIds carry no text, only ids.
            if file_name(&name).starts_with("comments") && file_name(&name) != "comments.xml" {
                continue;
            }
            others.push((name, PartRole::Annotation));
        }
    }
    for (name, role) in others {
        if cx.should_stop() {
            break;
        }
        word_part(pkg, &name, role, cx);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// xlsx

/// The `r:id` of an element: an attribute with local name `id` *and* a prefix (a plain `id`
/// attribute is something else, e.g. the numeric slide id in `p:sldId`).
fn rel_id(e: &BytesStart<'_>) -> Option<String> {
    e.attributes().with_checks(false).flatten().find_map(|a| {
        let key = a.key.into_inner();
        (key.contains(':') && xml::local(key) == "id").then(|| a.value.to_string())
    })
}

fn xlsx(pkg: &mut Package<'_>, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let workbook = pkg.main_part("xl/workbook.xml", cx);
    let Some(workbook_xml) = pkg.read_xml(&workbook, cx) else {
        return Err(format!("xlsx without its workbook part {workbook}").into());
    };
    let mut sheets: Vec<(String, Option<String>)> = Vec::new();
    let parsed = xml::walk(&workbook_xml, |node| {
        if let Node::Open(e) = node
            && local_name(e) == "sheet"
        {
            sheets.push((attr(e, "name").unwrap_or_default(), rel_id(e)));
        }
    });
    if let Err(e) = parsed {
        xml::report_error(cx, &workbook, &e);
    }
    let names_text = sheets
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    cx.text(&format!("{workbook}#sheets"), PartRole::Body, names_text);

    let rels = pkg.rels(&workbook, cx);
    let shared = rels
        .iter()
        .find(|r| r.kind.ends_with("/sharedStrings"))
        .map_or_else(|| "xl/sharedStrings.xml".to_owned(), |r| r.target.clone());
    let shared = match pkg.read_xml(&shared, cx) {
        Some(text) => {
            let (strings, err) = shared_strings(&text);
            if let Some(e) = err {
                xml::report_error(cx, &shared, &e);
            }
            strings
        }
        None => Vec::new(),
    };

    // Sheets by relationship; any worksheet part not reached that way is read by its name.
    let mut targets: Vec<(String, String)> = Vec::new();
    for (name, id) in &sheets {
        let target = id
            .as_ref()
            .and_then(|id| rels.iter().find(|r| &r.id == id))
            .and_then(|r| pkg.find(&r.target));
        if let Some(target) = target {
            targets.push((name.clone(), target));
        }
    }
    for part in parts_like(pkg, "xl/worksheets/", "sheet") {
        if !targets.iter().any(|(_, t)| t == &part) {
            targets.push((part.clone(), part));
        }
    }
    for (sheet_name, part) in targets {
        if cx.should_stop() {
            return Ok(());
        }
        let Some(xml_text) = pkg.read_xml(&part, cx) else {
            continue;
        };
        let (cells, header_footer, err) = sheet_text(&xml_text, &shared);
        let label = if sheet_name.is_empty() {
            part.clone()
        } else {
            sheet_name
        };
        emit_chunked(cx, &label, PartRole::Body, cells);
        cx.text(
            &format!("{label}#header-footer"),
            PartRole::HeaderFooter,
            header_footer,
        );
        if let Some(e) = err {
            xml::report_error(cx, &part, &e);
        }
    }

    let comment_rules = TextRules {
        text: &["t"],
        paragraph: &["comment"],
        tab: &[],
        line_break: &[],
        skip: &["rPh"],
    };
    let threaded_rules = TextRules {
        text: &["text"],
        paragraph: &["threadedComment"],
        tab: &[],
        line_break: &[],
        skip: &[],
    };
    let drawing_rules = TextRules {
        text: &["t"],
        paragraph: &["p"],
        tab: &[],
        line_break: &["br"],
        skip: &["Fallback"],
    };
    let mut extra: Vec<(String, PartRole, &TextRules<'_>)> = Vec::new();
    for name in parts_like(pkg, "xl/", "comments") {
        extra.push((name, PartRole::Annotation, &comment_rules));
    }
    for name in parts_like(pkg, "xl/threadedComments/", "") {
        extra.push((name, PartRole::Annotation, &threaded_rules));
    }
    for name in parts_like(pkg, "xl/drawings/", "drawing") {
        extra.push((name, PartRole::Body, &drawing_rules));
    }
    simple_parts(pkg, extra, cx);
    Ok(())
}

fn simple_parts(
    pkg: &mut Package<'_>,
    parts: Vec<(String, PartRole, &TextRules<'_>)>,
    cx: &mut Ctx<'_, '_>,
) {
    for (name, role, rules) in parts {
        if cx.should_stop() {
            return;
        }
        if let Some(xml_text) = pkg.read_xml(&name, cx) {
            let (text, err) = xml::collect_text(&xml_text, rules);
            emit(cx, &name, role, text, err);
        }
    }
}

/// The shared string table: one string per `si` (rich-text runs joined, phonetic guides
/// `rPh` left out).
fn shared_strings(xml_text: &str) -> (Vec<String>, Option<XmlError>) {
    let mut strings = Vec::new();
    let mut current = String::new();
    let (mut in_t, mut in_phonetic) = (0u32, 0u32);
    let result = xml::walk(xml_text, |node| match node {
        Node::Open(e) => match local_name(e) {
            "si" => current.clear(),
            "t" => in_t += 1,
            "rPh" => in_phonetic += 1,
            _ => {}
        },
        Node::Close(name) => match name {
            "si" => strings.push(std::mem::take(&mut current)),
            "t" => in_t = in_t.saturating_sub(1),
            "rPh" => in_phonetic = in_phonetic.saturating_sub(1),
            _ => {}
        },
        Node::Text(t) => {
            if in_t > 0 && in_phonetic == 0 {
                current.push_str(t);
            }
        }
    });
    (strings, result.err())
}

/// Cell values of a worksheet, a row per line and cells separated by tabs (numbers exactly as
/// written in the XML, so long digit strings stay intact), and its header/footer text.
fn sheet_text(xml_text: &str, shared: &[String]) -> (String, String, Option<XmlError>) {
    #[derive(Default)]
    struct State {
        out: String,
        row: Vec<String>,
        cell_type: String,
        value: String,
        in_value: u32,
        in_inline: u32,
        in_t: u32,
        header_footer: String,
        in_header_footer: u32,
    }
    let mut s = State::default();
    let result = xml::walk(xml_text, |node| match node {
        Node::Open(e) => match local_name(e) {
            "c" => {
                s.cell_type = attr(e, "t").unwrap_or_default();
                s.value.clear();
            }
            "v" => s.in_value += 1,
            "is" => s.in_inline += 1,
            "t" => s.in_t += 1,
            "oddHeader" | "oddFooter" | "evenHeader" | "evenFooter" | "firstHeader"
            | "firstFooter" => s.in_header_footer += 1,
            _ => {}
        },
        Node::Close(name) => match name {
            "c" => {
                let value = std::mem::take(&mut s.value);
                let text = match s.cell_type.as_str() {
                    "s" => value
                        .trim()
                        .parse::<usize>()
                        .ok()
                        .and_then(|i| shared.get(i))
                        .cloned()
                        .unwrap_or(value),
                    "b" => match value.trim() {
                        "1" => "TRUE".to_owned(),
                        "0" => "FALSE".to_owned(),
                        _ => value,
                    },
                    _ => value,
                };
                s.row.push(text);
            }
            "row" => {
                while s.row.last().is_some_and(|c| c.is_empty()) {
                    s.row.pop();
                }
                s.out.push_str(&s.row.join("\t"));
                s.out.push('\n');
                s.row.clear();
            }
            "v" => s.in_value = s.in_value.saturating_sub(1),
            "is" => s.in_inline = s.in_inline.saturating_sub(1),
            "t" => s.in_t = s.in_t.saturating_sub(1),
            "oddHeader" | "oddFooter" | "evenHeader" | "evenFooter" | "firstHeader"
            | "firstFooter" => {
                s.in_header_footer = s.in_header_footer.saturating_sub(1);
                s.header_footer.push('\n');
            }
            _ => {}
        },
        Node::Text(t) => {
            if s.in_header_footer > 0 {
                s.header_footer.push_str(&strip_header_codes(t));
            } else if s.in_value > 0 || (s.in_inline > 0 && s.in_t > 0) {
                s.value.push_str(t);
            }
        }
    });
    let cells = s.out.trim_end().to_owned();
    let header_footer = s
        .header_footer
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    (cells, header_footer, result.err())
}

/// Remove SpreadsheetML header/footer codes: `&L &C &R` (sections, become line breaks),
/// `&P &N &D &T &F &A &Z &G` (fields), `&B &I &U &E &S &X &Y &O &H` (formatting),
/// `&"font,style"`, `&12` (font size), `&KRRGGBB` (colour); `&&` is a literal `&`.
fn strip_header_codes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '&' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('&') => out.push('&'),
            Some('L' | 'C' | 'R') => out.push('\n'),
            Some('"') => {
                for c in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                }
            }
            Some('K') => {
                for _ in 0..6 {
                    chars.next();
                }
            }
            Some(d) if d.is_ascii_digit() => {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
            }
            Some(_) | None => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// pptx

const DRAWING_TEXT: TextRules<'static> = TextRules {
    text: &["t"],
    paragraph: &["p"],
    tab: &[],
    line_break: &["br"],
    skip: &["Fallback"],
};

fn pptx(pkg: &mut Package<'_>, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let presentation = pkg.main_part("ppt/presentation.xml", cx);
    let mut slide_ids: Vec<String> = Vec::new();
    if let Some(xml_text) = pkg.read_xml(&presentation, cx) {
        let _ = xml::walk(&xml_text, |node| {
            if let Node::Open(e) = node
                && local_name(e) == "sldId"
                && let Some(id) = rel_id(e)
            {
                slide_ids.push(id);
            }
        });
    } else if pkg.find(&presentation).is_none() {
        return Err(format!("pptx without its presentation part {presentation}").into());
    }
    let rels = pkg.rels(&presentation, cx);
    let mut slides: Vec<String> = slide_ids
        .iter()
        .filter_map(|id| rels.iter().find(|r| &r.id == id))
        .filter_map(|r| pkg.find(&r.target))
        .collect();
    for part in parts_like(pkg, "ppt/slides/", "slide") {
        if !slides.contains(&part) {
            slides.push(part);
        }
    }
    let mut parts: Vec<(String, PartRole, &TextRules<'_>)> = slides
        .into_iter()
        .map(|s| (s, PartRole::Body, &DRAWING_TEXT))
        .collect();
    for name in parts_like(pkg, "ppt/notesSlides/", "notesSlide") {
        parts.push((name, PartRole::Annotation, &DRAWING_TEXT));
    }
    let comment_rules = TextRules {
        text: &["text"],
        paragraph: &["cm", "p"],
        tab: &[],
        line_break: &[],
        skip: &[],
    };
    for name in parts_like(pkg, "ppt/comments/", "") {
        parts.push((name, PartRole::Annotation, &comment_rules));
    }
    simple_parts(pkg, parts, cx);
    for name in parts_like(pkg, "ppt/slideMasters/", "slideMaster") {
        if cx.should_stop() {
            break;
        }
        if let Some(xml_text) = pkg.read_xml(&name, cx) {
            let (text, err) = master_text(&xml_text);
            emit(cx, &name, PartRole::HeaderFooter, text, err);
        }
    }
    Ok(())
}

/// Text a slide master puts on every slide: shapes that are not placeholders (a marking
/// drawn on the master), and header/footer placeholders. Other placeholders only hold
/// prompts ("Click to edit the title text format").
fn master_text(xml_text: &str) -> (String, Option<XmlError>) {
    let mut out = TextBuf::default();
    let mut shape = TextBuf::default();
    let (mut in_shape, mut in_t, mut keep) = (0u32, 0u32, true);
    let result = xml::walk(xml_text, |node| match node {
        Node::Open(e) => match local_name(e) {
            "sp" => {
                in_shape += 1;
                keep = true;
            }
            "ph" => keep = matches!(attr(e, "type").as_deref(), Some("ftr" | "hdr")),
            "t" => in_t += 1,
            "br" => shape.push_char('\n'),
            _ => {}
        },
        Node::Close(name) => match name {
            "sp" => {
                in_shape = in_shape.saturating_sub(1);
                let text = std::mem::take(&mut shape).into_text();
                if keep && !text.trim().is_empty() {
                    out.push(&text);
                    out.end_line();
                }
            }
            "p" => shape.end_line_if_open(),
            "t" => in_t = in_t.saturating_sub(1),
            _ => {}
        },
        Node::Text(t) => {
            if in_shape > 0 && in_t > 0 {
                shape.push(t);
            }
        }
    });
    (out.into_text(), result.err())
}

// ---------------------------------------------------------------------------------------
// Document properties (all three)

fn properties(pkg: &mut Package<'_>, cx: &mut Ctx<'_, '_>) {
    if let Some(xml_text) = pkg.read_xml("docProps/core.xml", cx) {
        let mut title = String::new();
        let mut meta = String::new();
        let mut current: Option<String> = None;
        let result = xml::walk(&xml_text, |node| match node {
            Node::Open(e) => current = Some(local_name(e).to_owned()),
            Node::Close(_) => current = None,
            Node::Text(t) => match current.as_deref() {
                Some("title") => title.push_str(t),
                Some(
                    "subject" | "creator" | "keywords" | "description" | "lastModifiedBy"
                    | "category" | "contentStatus" | "identifier",
                ) => {
                    meta.push_str(t.trim());
                    meta.push('\n');
                }
                _ => {}
            },
        });
        cx.text(
            "docProps/core.xml#title",
            PartRole::Subject,
            title.trim().to_owned(),
        );
        emit(
            cx,
            "docProps/core.xml",
            PartRole::Metadata,
            meta,
            result.err(),
        );
    }
    if let Some(xml_text) = pkg.read_xml("docProps/app.xml", cx) {
        let rules = TextRules {
            text: &["Company", "Manager", "HyperlinkBase", "lpstr"],
            paragraph: &["Company", "Manager", "HyperlinkBase", "lpstr"],
            tab: &[],
            line_break: &[],
            skip: &[],
        };
        let (text, err) = xml::collect_text(&xml_text, &rules);
        emit(cx, "docProps/app.xml", PartRole::Metadata, text, err);
    }
    if let Some(xml_text) = pkg.read_xml("docProps/custom.xml", cx) {
        let mut out = String::new();
        let mut name: Option<String> = None;
        let result = xml::walk(&xml_text, |node| match node {
            Node::Open(e) if local_name(e) == "property" => name = attr(e, "name"),
            Node::Close("property") => name = None,
            Node::Text(t) => {
                if let Some(n) = &name
                    && !t.trim().is_empty()
                {
                    out.push_str(&format!("{n}: {}\n", t.trim()));
                }
            }
            _ => {}
        });
        emit(
            cx,
            "docProps/custom.xml",
            PartRole::Metadata,
            out,
            result.err(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_of_part_names() {
        assert!(natural_key("ppt/slides/slide2.xml") < natural_key("ppt/slides/slide10.xml"));
        assert_eq!(
            natural_key("ppt/slides/幻灯片.xml"),
            ("ppt/slides/幻灯片".to_owned(), 0)
        );
    }

    #[test]
    fn targets_resolve_against_the_source_folder() {
        assert_eq!(
            resolve_target("xl/", "worksheets/sheet1.xml"),
            "xl/worksheets/sheet1.xml"
        );
        assert_eq!(
            resolve_target("ppt/slides/", "../media/a.png"),
            "ppt/media/a.png"
        );
        assert_eq!(
            resolve_target("xl/", "/xl/sharedStrings.xml"),
            "xl/sharedStrings.xml"
        );
    }

    #[test]
    fn header_codes_are_stripped() {
        assert_eq!(
            strip_header_codes("&L&\"宋体,Bold\"&12机密★10年&R第&P页 &&"),
            "\n机密★10年\n第页 &"
        );
        assert_eq!(strip_header_codes("&KFF0000秘密"), "秘密");
    }

    #[test]
    fn hidden_deleted_and_fallback_text_are_separated() {
        let xml = r#"<w:body><w:p><w:pPr><w:rPr><w:vanish/></w:rPr></w:pPr><w:r><w:t>机</w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>密</w:t></w:r><w:del><w:r><w:delText>删</w:delText></w:r></w:del><w:r><w:rPr><w:vanish/></w:rPr><w:t>藏</w:t></w:r><w:r><w:rPr><w:vanish w:val="false"/></w:rPr><w:t>显</w:t></w:r><mc:AlternateContent><mc:Choice><w:txbxContent><w:p><w:r><w:t>框</w:t></w:r></w:p></w:txbxContent></mc:Choice><mc:Fallback><w:txbxContent><w:p><w:r><w:t>框</w:t></w:r></w:p></w:txbxContent></mc:Fallback></mc:AlternateContent></w:p></w:body>"#;
        let (text, err) = word_text(xml);
        assert!(err.is_none());
        assert_eq!(text.main.into_text(), "机密显框");
        assert_eq!(text.deleted.into_text(), "删");
        assert_eq!(text.hidden.into_text(), "藏");
    }

    #[test]
    fn sheet_cells_keep_digits_and_resolve_shared_strings() {
        let xml = r#"<worksheet><sheetData><row><c t="s"><v>0</v></c><c t="inlineStr"><is><t>内联</t></is></c><c><v>110101199003071234</v></c></row></sheetData><headerFooter><oddHeader>&amp;C机密</oddHeader></headerFooter></worksheet>"#;
        let (cells, hf, err) = sheet_text(xml, &["共享".to_owned()]);
        assert!(err.is_none());
        assert_eq!(cells, "共享\t内联\t110101199003071234");
        assert_eq!(hf, "机密");
    }
}
