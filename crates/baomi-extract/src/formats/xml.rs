//! Shared XML helpers for the XML-based document formats (OOXML, ODF, OFD, generic XML).
//!
//! Everything here is tolerant: malformed XML yields the text read so far plus the error, so
//! a truncated or hand-edited document still gives its readable text to the detectors.
//! quick-xml never expands entities declared in a DTD, so an "entity expansion bomb" stays an
//! unexpanded `&name;` reference: we keep such references as literal text.

use std::borrow::Cow;
use std::io::Read;

use encoding_rs::Encoding;
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

/// Elements open at once beyond which a document is refused: real office documents nest a
/// few dozen deep (tables in tables included); a hundred thousand nested elements are
/// built to make a recursive reader overflow its stack.
pub const MAX_XML_DEPTH: u64 = 1_000;

/// A well-formedness error, with the byte position where the parser gave up, or a limit
/// ([`MAX_XML_DEPTH`]) that stopped the walk.
#[derive(Debug)]
pub struct XmlError {
    pub position: u64,
    pub message: String,
    /// A limit rather than malformed XML: reported as `limit`, not `unreadable`.
    pub limit: bool,
}

impl std::fmt::Display for XmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.limit {
            return write!(f, "XML {} (at byte {})", self.message, self.position);
        }
        write!(
            f,
            "malformed XML at byte {}: {}",
            self.position, self.message
        )
    }
}

/// Report what stopped an XML walk at `sub`: a limit finding (this part only) or an
/// unreadable one.
pub fn report_error(cx: &mut crate::Ctx<'_, '_>, sub: &str, e: &XmlError) {
    if e.limit {
        cx.limit_here(sub, e.to_string());
    } else {
        cx.unreadable(sub, e.to_string());
    }
}

impl std::error::Error for XmlError {}

/// One step of a document walk. Empty elements (`<a/>`) are reported as `Open` then `Close`,
/// so handlers see one shape for both spellings.
pub enum Node<'a, 'e> {
    Open(&'a BytesStart<'e>),
    /// Local name of the element being closed.
    Close(&'a str),
    /// Character data with entity and character references resolved.
    Text(&'a str),
}

/// The local part of a qualified name: `w:t` → `t`.
pub fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Local name of an element.
pub fn local_name<'a>(e: &'a BytesStart<'_>) -> &'a str {
    local(e.name().into_inner())
}

/// Value of the attribute whose local name is `name` (prefix ignored), entities resolved.
pub fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    for a in e.attributes().with_checks(false).flatten() {
        if local(a.key.as_ref()) == name {
            let value = a
                .normalized_value(XmlVersion::default())
                .map(Cow::into_owned)
                .unwrap_or_else(|_| a.value.to_string());
            return Some(value);
        }
    }
    None
}

/// Decode an XML document's bytes to text: BOM first, then the encoding declared in
/// `<?xml … encoding="…"?>`, then UTF-8 (with replacement characters for bad bytes).
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return text;
    }
    if let Some(enc) = declared_encoding(bytes)
        && enc != encoding_rs::UTF_8
    {
        let (text, _) = enc.decode_without_bom_handling(bytes);
        return text;
    }
    String::from_utf8_lossy(bytes)
}

/// [`decode`] of a buffer that is no longer needed: valid UTF-8 without a BOM (the usual
/// case) becomes the string without a copy.
pub fn decode_owned(bytes: Vec<u8>) -> String {
    if Encoding::for_bom(&bytes).is_none()
        && declared_encoding(&bytes).is_none_or(|enc| enc == encoding_rs::UTF_8)
    {
        return match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
    }
    decode(&bytes).into_owned()
}

/// The encoding named in the XML declaration, if it names one encoding_rs knows.
fn declared_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(200)];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = memchr::memmem::find(head, b"?>")?;
    let decl = &head[..end];
    let at = memchr::memmem::find(decl, b"encoding")?;
    let rest = &decl[at + b"encoding".len()..];
    let quote_at = rest.iter().position(|&b| b == b'"' || b == b'\'')?;
    let quote = rest[quote_at];
    let value = &rest[quote_at + 1..];
    let len = value.iter().position(|&b| b == quote)?;
    Encoding::for_label(&value[..len])
}

/// Resolve a general reference (`amp`, `#x4E2D`, …). Unknown entities stay literal.
fn push_reference(out: &mut String, name: &str) {
    let resolved = match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => name.strip_prefix('#').and_then(|num| {
            let code = match num.strip_prefix('x').or_else(|| num.strip_prefix('X')) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse::<u32>().ok(),
            };
            code.and_then(char::from_u32).filter(|&c| c != '\0')
        }),
    };
    match resolved {
        Some(c) => out.push(c),
        None => {
            out.push('&');
            out.push_str(name);
            out.push(';');
        }
    }
}

/// Walk `xml`, calling `visit` for every element boundary and every piece of text (adjacent
/// text and references are merged into one `Text`). On malformed input the walk stops and
/// the error is returned; everything before it has been visited.
pub fn walk(xml: &str, mut visit: impl FnMut(Node<'_, '_>)) -> Result<(), XmlError> {
    let mut reader = Reader::from_str(xml);
    {
        let config = reader.config_mut();
        // Tolerance: real documents from odd producers have mismatched or stray end tags.
        config.check_end_names = false;
        config.allow_unmatched_ends = true;
        config.allow_dangling_amp = true;
    }
    let mut text = String::new();
    // Elements still open: a document that ends inside one was cut short.
    let mut open = 0u64;
    let flush = |text: &mut String, visit: &mut dyn FnMut(Node<'_, '_>)| {
        if !text.is_empty() {
            visit(Node::Text(text));
            text.clear();
        }
    };
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => {
                flush(&mut text, &mut visit);
                return Err(XmlError {
                    position: reader.error_position(),
                    message: e.to_string(),
                    limit: false,
                });
            }
        };
        match event {
            Event::Text(t) => text.push_str(&t.xml10_content()),
            Event::CData(t) => text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => push_reference(&mut text, &r),
            Event::Start(e) => {
                flush(&mut text, &mut visit);
                open += 1;
                if open > MAX_XML_DEPTH {
                    return Err(XmlError {
                        position: reader.buffer_position(),
                        message: format!("elements nested deeper than {MAX_XML_DEPTH}"),
                        limit: true,
                    });
                }
                visit(Node::Open(&e));
            }
            Event::Empty(e) => {
                flush(&mut text, &mut visit);
                visit(Node::Open(&e));
                visit(Node::Close(local_name(&e)));
            }
            Event::End(e) => {
                flush(&mut text, &mut visit);
                open = open.saturating_sub(1);
                visit(Node::Close(local(e.name().into_inner())));
            }
            Event::Eof => {
                flush(&mut text, &mut visit);
                if open > 0 {
                    return Err(XmlError {
                        position: reader.buffer_position(),
                        message: format!("document ends with {open} element(s) still open"),
                        limit: false,
                    });
                }
                return Ok(());
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
}

/// Text that is built line by line: keeps `\n` paragraph structure and trims the result.
#[derive(Default)]
pub struct TextBuf {
    pub text: String,
    /// Text was added since the last line end.
    open_line: bool,
}

impl TextBuf {
    pub fn push(&mut self, s: &str) {
        if !s.is_empty() {
            self.text.push_str(s);
            self.open_line = true;
        }
    }

    pub fn push_char(&mut self, c: char) {
        self.text.push(c);
        self.open_line = true;
    }

    /// End a paragraph: always a line break, so empty paragraphs keep blank lines.
    pub fn end_line(&mut self) {
        self.text.push('\n');
        self.open_line = false;
    }

    /// End a line only if something was written on it (for buffers that collect scattered
    /// pieces, such as deleted or hidden text, where empty lines mean nothing).
    pub fn end_line_if_open(&mut self) {
        if self.open_line {
            self.end_line();
        }
    }

    pub fn into_text(self) -> String {
        let trimmed = self.text.trim_end();
        if trimmed.len() == self.text.len() {
            self.text
        } else {
            trimmed.to_owned()
        }
    }
}

/// Which elements carry text and structure, by local name.
pub struct TextRules<'r> {
    /// Elements whose character data is text (`t`); empty means every text node counts.
    pub text: &'r [&'r str],
    /// Elements that end a line when they close (`p`).
    pub paragraph: &'r [&'r str],
    /// Elements that stand for a tab.
    pub tab: &'r [&'r str],
    /// Elements that stand for a line break.
    pub line_break: &'r [&'r str],
    /// Subtrees to ignore entirely (duplicates such as `mc:Fallback`, field codes).
    pub skip: &'r [&'r str],
}

/// The text of `xml` under `rules`, and the parse error if the XML was malformed.
pub fn collect_text(xml: &str, rules: &TextRules<'_>) -> (String, Option<XmlError>) {
    let mut out = TextBuf::default();
    let mut in_text = 0u32;
    let mut skipping = 0u32;
    let result = walk(xml, |node| match node {
        Node::Open(e) => {
            let name = local_name(e);
            if skipping > 0 || rules.skip.contains(&name) {
                skipping += 1;
            } else if rules.text.contains(&name) {
                in_text += 1;
            } else if rules.tab.contains(&name) {
                out.push_char('\t');
            } else if rules.line_break.contains(&name) {
                out.push_char('\n');
            }
        }
        Node::Close(name) => {
            if skipping > 0 {
                skipping -= 1;
            } else if rules.text.contains(&name) {
                in_text = in_text.saturating_sub(1);
            } else if rules.paragraph.contains(&name) {
                out.end_line();
            }
        }
        Node::Text(t) => {
            if skipping == 0 && (in_text > 0 || rules.text.is_empty()) {
                out.push(t);
            }
        }
    });
    (out.into_text(), result.err())
}

/// Read at most `max` bytes of a reader; `None` when there was more (the caller reports a
/// limit rather than parsing a cut-off document as if it were whole).
pub fn read_bounded(reader: &mut dyn Read, max: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    reader.take(max.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > max {
        return Ok(None);
    }
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARA: TextRules<'static> = TextRules {
        text: &["t"],
        paragraph: &["p"],
        tab: &["tab"],
        line_break: &["br"],
        skip: &["Fallback"],
    };

    #[test]
    fn runs_join_and_paragraphs_break() {
        let xml = r#"<w:body><w:p><w:r><w:t>机</w:t></w:r><w:r><w:t>密</w:t></w:r></w:p><w:p><w:r><w:t>a</w:t><w:tab/><w:t>b</w:t><w:br/><w:t>c</w:t></w:r></w:p></w:body>"#;
        let (text, err) = collect_text(xml, &PARA);
        assert!(err.is_none());
        assert_eq!(text, "机密\na\tb\nc");
    }

    #[test]
    fn references_resolve_and_unknown_entities_stay_literal() {
        let xml = "<p><t>&amp;&#x4E2D;&#25991;&lt;&bomb;</t></p>";
        let (text, _) = collect_text(xml, &PARA);
        assert_eq!(text, "&中文<&bomb;");
    }

    #[test]
    fn skipped_subtrees_are_ignored() {
        let xml = "<p><Choice><t>一</t></Choice><Fallback><t>一</t></Fallback></p>";
        assert_eq!(collect_text(xml, &PARA).0, "一");
    }

    #[test]
    fn truncated_xml_returns_text_so_far_and_error() {
        let xml = "<doc><p><t>第一段</t></p><p><t>第二";
        let (text, err) = collect_text(xml, &PARA);
        assert!(text.starts_with("第一段"), "{text:?}");
        assert!(err.is_some());
    }

    #[test]
    fn declared_encoding_is_honoured() {
        let (gbk, _, _) =
            encoding_rs::GBK.encode("<?xml version=\"1.0\" encoding=\"GBK\"?><a>机密</a>");
        assert_eq!(
            decode(&gbk),
            "<?xml version=\"1.0\" encoding=\"GBK\"?><a>机密</a>"
        );
    }
}
