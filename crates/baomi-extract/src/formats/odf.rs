//! OpenDocument (odt, ods, odp): `content.xml` (paragraphs, headings, spans, spaces, tabs,
//! line breaks, table cells as tab-separated rows, frames and text boxes; annotations, notes
//! and speaker notes as Annotation; tracked deletions as Annotation), `styles.xml` (page
//! headers and footers), `meta.xml` (title as Subject, the rest as Metadata), embedded objects
//! (`Object N/content.xml`) and embedded files (pictures, OLE objects) as nested objects.

use baomi_core::PartRole;

use super::ooxml::Package;
use super::text::emit_chunked;
use super::xml::{self, Node, TextBuf, XmlError, attr, local_name};
use crate::{Blob, Ctx, FormatResult};

pub fn extract(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let mut pkg = Package::open(blob)?;
    if let Some(manifest) = pkg.read_xml("META-INF/manifest.xml", cx)
        && manifest.contains("encryption-data")
    {
        cx.encrypted(
            "",
            "password-protected OpenDocument (manifest encryption-data)",
        );
        return Ok(());
    }
    if pkg.find("content.xml").is_none() {
        return Err("OpenDocument package without content.xml".into());
    }
    // The document itself, then every embedded object (a chart, a formula, a nested text).
    let mut roots = vec![String::new()];
    for name in pkg.names() {
        if let Some(dir) = name.strip_suffix("content.xml")
            && !dir.is_empty()
            && dir.ends_with('/')
        {
            roots.push(dir.to_owned());
        }
    }
    for root in &roots {
        if cx.should_stop() {
            return Ok(());
        }
        document(&mut pkg, root, cx);
    }
    let files: Vec<String> = pkg
        .names()
        .iter()
        .filter(|n| is_embedded_file(n))
        .cloned()
        .collect();
    for name in files {
        if cx.should_stop() {
            break;
        }
        pkg.open_child(&name, cx);
    }
    Ok(())
}

/// Files in the package that are objects of their own: pictures, OLE objects, attachments.
/// XML parts, previews and settings are not.
fn is_embedded_file(name: &str) -> bool {
    const NOT_OBJECTS: &[&str] = &[
        "META-INF/",
        "Thumbnails/",
        "ObjectReplacements/",
        "Configurations2/",
        "Basic/",
    ];
    !name.ends_with('/')
        && !name.ends_with(".xml")
        && !name.ends_with(".rdf")
        && name != "mimetype"
        && !name.ends_with("layout-cache")
        && !NOT_OBJECTS.iter().any(|p| name.starts_with(p))
}

/// A flat OpenDocument file (.fodt, .fods, .fodp: the whole document in one XML file).
pub fn is_flat_odf(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(4096)];
    memchr::memmem::find(head, b"<office:document").is_some()
        && memchr::memmem::find(head, b"urn:oasis:names:tc:opendocument:xmlns:office:1.0").is_some()
}

/// A flat OpenDocument: body, header/footer styles and metadata from one XML text.
pub fn extract_flat(xml_text: &str, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let (text, err) = odf_text(xml_text, &["body"]);
    emit_chunked(cx, "", PartRole::Body, text.body.into_text());
    cx.text(
        "#annotations",
        PartRole::Annotation,
        text.annotation.into_text(),
    );
    cx.text("#deleted", PartRole::Annotation, text.deleted.into_text());
    let (styles, _) = odf_text(xml_text, HEADER_FOOTER);
    cx.text(
        "#header-footer",
        PartRole::HeaderFooter,
        styles.body.into_text(),
    );
    let (title, other, _) = meta_text(xml_text);
    cx.text("#title", PartRole::Subject, title);
    cx.text("#meta", PartRole::Metadata, other);
    match err {
        Some(e) => Err(format!("flat OpenDocument: {e}").into()),
        None => Ok(()),
    }
}

/// Elements of `styles.xml` holding page header and footer content.
const HEADER_FOOTER: &[&str] = &[
    "header",
    "footer",
    "header-left",
    "footer-left",
    "header-first",
    "footer-first",
];

/// The parts of one (possibly embedded) document whose files live under `root`.
fn document(pkg: &mut Package<'_>, root: &str, cx: &mut Ctx<'_, '_>) {
    let content = format!("{root}content.xml");
    if let Some(xml_text) = pkg.read_xml(&content, cx) {
        let (text, err) = odf_text(&xml_text, &[]);
        emit_chunked(cx, &content, PartRole::Body, text.body.into_text());
        cx.text(
            &format!("{content}#annotations"),
            PartRole::Annotation,
            text.annotation.into_text(),
        );
        cx.text(
            &format!("{content}#deleted"),
            PartRole::Annotation,
            text.deleted.into_text(),
        );
        report(cx, &content, err);
    }
    let styles = format!("{root}styles.xml");
    if let Some(xml_text) = pkg.read_xml(&styles, cx) {
        let (text, err) = odf_text(&xml_text, HEADER_FOOTER);
        cx.text(&styles, PartRole::HeaderFooter, text.body.into_text());
        report(cx, &styles, err);
    }
    let meta = format!("{root}meta.xml");
    if let Some(xml_text) = pkg.read_xml(&meta, cx) {
        let (title, other, err) = meta_text(&xml_text);
        cx.text(&format!("{meta}#title"), PartRole::Subject, title);
        cx.text(&meta, PartRole::Metadata, other);
        report(cx, &meta, err);
    }
}

fn report(cx: &mut Ctx<'_, '_>, sub: &str, err: Option<XmlError>) {
    if let Some(e) = err {
        xml::report_error(cx, sub, &e);
    }
}

#[derive(Default)]
struct OdfText {
    body: TextBuf,
    /// Comments (`office:annotation`), foot/endnotes, speaker notes.
    annotation: TextBuf,
    /// Tracked deletions (`text:deletion` in `text:tracked-changes`).
    deleted: TextBuf,
}

/// Subtrees that hold no document text: note numbers, annotation authors and dates,
/// change metadata, declarations, scripts, forms, image titles.
const ODF_SKIP: &[&str] = &[
    "note-citation",
    "creator",
    "date",
    "change-info",
    "sequence-decls",
    "scripts",
    "forms",
    "title",
    "desc",
];

/// Text of an ODF XML part. With a non-empty `gate`, only text inside one of those elements
/// counts (the header and footer styles in `styles.xml`).
fn odf_text(xml_text: &str, gate: &[&str]) -> (OdfText, Option<XmlError>) {
    #[derive(Default)]
    struct State {
        out: OdfText,
        skipping: u32,
        gated: u32,
        in_para: u32,
        in_annotation: u32,
        in_deletion: u32,
        in_cell: u32,
    }
    impl State {
        fn target(&mut self) -> &mut TextBuf {
            if self.in_deletion > 0 {
                &mut self.out.deleted
            } else if self.in_annotation > 0 {
                &mut self.out.annotation
            } else {
                &mut self.out.body
            }
        }
        fn in_body_cell(&self) -> bool {
            self.in_cell > 0 && self.in_deletion == 0 && self.in_annotation == 0
        }
        fn open(&self) -> bool {
            self.skipping == 0 && self.gated > 0
        }
    }
    let gate_all = gate.is_empty();
    let mut s = State {
        gated: u32::from(gate_all),
        ..State::default()
    };
    let result = xml::walk(xml_text, |node| match node {
        Node::Open(e) => {
            let name = local_name(e);
            if !gate_all && gate.contains(&name) {
                s.gated += 1;
                return;
            }
            if s.skipping > 0 || ODF_SKIP.contains(&name) {
                s.skipping += 1;
                return;
            }
            if !s.open() {
                return;
            }
            match name {
                "p" | "h" => s.in_para += 1,
                "s" => {
                    let count = attr(e, "c")
                        .and_then(|c| c.parse::<usize>().ok())
                        .unwrap_or(1);
                    let spaces = " ".repeat(count.clamp(1, 64));
                    s.target().push(&spaces);
                }
                "tab" => s.target().push_char('\t'),
                "line-break" => s.target().push_char('\n'),
                "annotation" | "note-body" | "notes" => s.in_annotation += 1,
                "deletion" => s.in_deletion += 1,
                "table-cell" | "covered-table-cell" => s.in_cell += 1,
                _ => {}
            }
        }
        Node::Close(name) => {
            if !gate_all && gate.contains(&name) {
                s.gated = s.gated.saturating_sub(1);
                s.out.body.end_line_if_open();
                return;
            }
            if s.skipping > 0 {
                s.skipping -= 1;
                return;
            }
            if !s.open() {
                return;
            }
            match name {
                "p" | "h" => {
                    s.in_para = s.in_para.saturating_sub(1);
                    if s.in_body_cell() {
                        // Paragraphs inside a cell stay on the row's line.
                        s.out.body.push_char(' ');
                    } else if s.in_deletion > 0 || s.in_annotation > 0 {
                        s.target().end_line_if_open();
                    } else {
                        s.out.body.end_line();
                    }
                }
                "table-cell" | "covered-table-cell" => {
                    s.in_cell = s.in_cell.saturating_sub(1);
                    if s.in_deletion == 0 && s.in_annotation == 0 {
                        let body = &mut s.out.body;
                        while body.text.ends_with(' ') {
                            body.text.pop();
                        }
                        body.push_char('\t');
                    }
                }
                "table-row" if s.in_deletion == 0 && s.in_annotation == 0 => {
                    let body = &mut s.out.body;
                    while body.text.ends_with('\t') {
                        body.text.pop();
                    }
                    body.end_line();
                }
                "annotation" | "note-body" | "notes" => {
                    s.in_annotation = s.in_annotation.saturating_sub(1);
                    s.out.annotation.end_line_if_open();
                }
                "deletion" => s.in_deletion = s.in_deletion.saturating_sub(1),
                _ => {}
            }
        }
        Node::Text(t) => {
            // Outside paragraphs there is only indentation; inside, source line breaks are
            // spaces (ODF spells real breaks as text:line-break).
            if s.open() && s.in_para > 0 {
                let text = t.replace(['\n', '\r', '\t'], " ");
                s.target().push(&text);
            }
        }
    });
    (s.out, result.err())
}

/// `meta.xml`: the title, and the other descriptive fields one per line.
fn meta_text(xml_text: &str) -> (String, String, Option<XmlError>) {
    let mut title = String::new();
    let mut other = String::new();
    let mut current: Option<String> = None;
    let mut user_field: Option<String> = None;
    // Only inside `office:meta` (a flat document has titles and authors elsewhere too).
    let mut in_meta = 0u32;
    let result = xml::walk(xml_text, |node| match node {
        Node::Open(e) => {
            let name = local_name(e);
            if name == "meta" {
                in_meta += 1;
            }
            if name == "user-defined" {
                user_field = attr(e, "name");
            }
            current = Some(name.to_owned());
        }
        Node::Close(name) => {
            if name == "meta" {
                in_meta = in_meta.saturating_sub(1);
            }
            current = None;
        }
        Node::Text(t) => {
            let t = t.trim();
            if t.is_empty() || in_meta == 0 {
                return;
            }
            match current.as_deref() {
                Some("title") => title.push_str(t),
                Some(
                    "subject" | "description" | "keyword" | "creator" | "initial-creator"
                    | "printed-by",
                ) => {
                    other.push_str(t);
                    other.push('\n');
                }
                Some("user-defined") => {
                    let field = user_field.as_deref().unwrap_or("");
                    other.push_str(&format!("{field}: {t}\n"));
                }
                _ => {}
            }
        }
    });
    (title, other.trim_end().to_owned(), result.err())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_spaces_cells_and_annotations() {
        let xml = r#"<office:text>
  <text:p>甲<text:s text:c="2"/>乙<text:tab/>丙<text:line-break/>丁<office:annotation><dc:creator>王</dc:creator><text:p>批注</text:p></office:annotation></text:p>
  <table:table><table:table-row><table:table-cell><text:p>身份证号</text:p></table:table-cell><table:table-cell><text:p>110101199003071234</text:p></table:table-cell></table:table-row></table:table>
</office:text>"#;
        let (text, err) = odf_text(xml, &[]);
        assert!(err.is_none());
        assert_eq!(
            text.body.into_text(),
            "甲  乙\t丙\n丁\n身份证号\t110101199003071234"
        );
        assert_eq!(text.annotation.into_text(), "批注");
    }

    #[test]
    fn gate_keeps_only_header_and_footer() {
        let xml = "<office:styles><text:p>样式示例</text:p></office:styles><office:master-styles><style:master-page><style:header><text:p>机密★10年</text:p></style:header></style:master-page></office:master-styles>";
        let (text, _) = odf_text(xml, &["header"]);
        assert_eq!(text.body.into_text(), "机密★10年");
    }
}
