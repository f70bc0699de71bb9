//! HTML and generic XML.
//!
//! HTML is read with a small tolerant tokenizer (real pages are rarely well-formed XML):
//! script and style contents are dropped, block elements become line breaks, whitespace is
//! collapsed as a browser would, entities are decoded. `<title>` becomes a Subject part and
//! `<meta name=keywords|description|author|…>` a Metadata part. Generic XML gives every text
//! node on a line of its own, without markup.

use baomi_core::PartRole;

use super::text::{decode_all, detect_encoding, emit_chunked};
use super::xml;
use crate::{Blob, Ctx, FileType, FormatResult};

pub fn extract(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let bytes = blob.bytes()?;
    if super::odf::is_flat_odf(&bytes) {
        let text = xml::decode(&bytes);
        return super::odf::extract_flat(&text, cx);
    }
    if looks_like_html(&bytes) {
        let text = decode_html(&bytes);
        extract_html(&text, cx);
        Ok(())
    } else {
        extract_xml(&bytes, cx)
    }
}

/// Html and Xml share this module: content with HTML elements (an XHTML page sniffed as Xml,
/// an HTML fragment without `<html>`) is read as HTML, the rest as generic XML.
fn looks_like_html(bytes: &[u8]) -> bool {
    // Names followed by `>`, space or `/`, so `<table:table` (ODF) or `<titleInfo>` (XML) do
    // not count.
    const NAMES: &[&[u8]] = &[
        b"html", b"head", b"body", b"title", b"meta", b"div", b"table", b"p", b"br", b"span",
        b"h1", b"h2", b"h3", b"ul", b"li", b"td",
    ];
    let head = bytes[..bytes.len().min(4096)].to_ascii_lowercase();
    if memchr::memmem::find(&head, b"<!doctype html").is_some() {
        return true;
    }
    memchr::memchr_iter(b'<', &head).any(|at| {
        let rest = &head[at + 1..];
        NAMES.iter().any(|name| {
            rest.starts_with(name)
                && matches!(
                    rest.get(name.len()),
                    Some(b'>' | b' ' | b'/' | b'\t' | b'\n' | b'\r')
                )
        })
    })
}

/// Generic XML: every text node (and CDATA) on its own line.
fn extract_xml(bytes: &[u8], cx: &mut Ctx<'_, '_>) -> FormatResult {
    let text = xml::decode(bytes);
    let mut out = String::new();
    let result = xml::walk(&text, |node| {
        if let xml::Node::Text(t) = node {
            let t = t.trim();
            if !t.is_empty() {
                out.push_str(t);
                out.push('\n');
            }
        }
    });
    emit_chunked(cx, "", PartRole::Body, out);
    result.map_err(|e| format!("{}: {e}", FileType::Xml).into())
}

/// Decode HTML bytes: BOM, then `<meta charset>` / `content="…; charset=…"`, then content
/// detection.
fn decode_html(bytes: &[u8]) -> String {
    if encoding_rs::Encoding::for_bom(bytes).is_none()
        && let Some(encoding) = meta_charset(bytes)
    {
        // A page that says "utf-16" in ASCII is not UTF-16; browsers treat it as UTF-8.
        let encoding = if encoding == encoding_rs::UTF_16LE || encoding == encoding_rs::UTF_16BE {
            encoding_rs::UTF_8
        } else {
            encoding
        };
        return decode_all(bytes, encoding);
    }
    decode_all(bytes, detect_encoding(bytes, true))
}

fn meta_charset(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = bytes[..bytes.len().min(4096)].to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(&head[from..], b"charset") {
        let mut rest = &head[from + at + b"charset".len()..];
        from += at + 1;
        while let [b' ' | b'\t' | b'\r' | b'\n', tail @ ..] = rest {
            rest = tail;
        }
        let Some(rest) = rest.strip_prefix(b"=") else {
            continue;
        };
        let rest = rest.trim_ascii_start();
        let rest = rest
            .strip_prefix(b"\"")
            .or_else(|| rest.strip_prefix(b"'"))
            .unwrap_or(rest);
        let end = rest
            .iter()
            .position(|b| matches!(b, b'"' | b'\'' | b';' | b' ' | b'>' | b'/'))
            .unwrap_or(rest.len());
        if let Some(encoding) = encoding_rs::Encoding::for_label(&rest[..end]) {
            return Some(encoding);
        }
    }
    None
}

/// Elements after which (and before which) a line ends (also what `baomi-redact` rebuilds
/// lines by, so both see the same text).
pub const BLOCK: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "caption",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tbody",
    "tfoot",
    "thead",
    "title",
    "tr",
    "ul",
];

/// Elements whose content is not text.
pub const RAW_SKIP: &[&str] = &["script", "style", "template", "noscript", "svg", "object"];

/// Meta names whose `content` is document metadata worth scanning.
const META_NAMES: &[&str] = &[
    "keywords",
    "description",
    "author",
    "subject",
    "classification",
    "dc.title",
    "dc.subject",
    "dc.creator",
    "dc.description",
];

/// HTML text extraction state.
#[derive(Default)]
struct HtmlText {
    body: String,
    title: String,
    meta: String,
    in_title: bool,
    in_pre: u32,
    /// A space is owed before the next text (collapsed whitespace).
    space: bool,
}

impl HtmlText {
    fn line_break(&mut self) {
        // A row's last cell leaves a tab; trailing blanks mean nothing.
        while self.body.ends_with(['\t', ' ']) {
            self.body.pop();
        }
        if !self.body.is_empty() && !self.body.ends_with('\n') {
            self.body.push('\n');
        }
        self.space = false;
    }

    fn text(&mut self, raw: &str) {
        let decoded = decode_entities(raw);
        if self.in_title {
            self.title.push_str(&decoded);
            return;
        }
        if self.in_pre > 0 {
            self.body.push_str(&decoded);
            return;
        }
        for (i, word) in decoded.split(is_html_space).enumerate() {
            if i > 0 {
                self.space = true;
            }
            if word.is_empty() {
                continue;
            }
            if self.space && !self.body.is_empty() && !self.body.ends_with('\n') {
                self.body.push(' ');
            }
            self.space = false;
            self.body.push_str(word);
        }
    }
}

fn is_html_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0C')
}

fn extract_html(html: &str, cx: &mut Ctx<'_, '_>) {
    let page = parse_html(html);
    cx.text("title", PartRole::Subject, page.title);
    cx.text("meta", PartRole::Metadata, page.meta);
    emit_chunked(cx, "", PartRole::Body, page.body);
}

/// The text of an HTML page or fragment (also used for HTML mail bodies).
pub(crate) struct HtmlPage {
    pub title: String,
    pub meta: String,
    pub body: String,
}

pub(crate) fn parse_html(html: &str) -> HtmlPage {
    let mut state = HtmlText::default();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        state.text(&rest[..lt]);
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        if rest.starts_with("<!") || rest.starts_with("<?") {
            rest = rest.find('>').map_or("", |end| &rest[end + 1..]);
            continue;
        }
        let Some(tag) = parse_tag(rest) else {
            // A lone `<` (as in `a < b`) is text.
            state.text("<");
            rest = &rest[1..];
            continue;
        };
        rest = &rest[tag.len..];
        let name = tag.name.as_str();
        if !tag.closing && RAW_SKIP.contains(&name) {
            // Skip to the matching end tag: contents may contain `<` freely.
            let end_tag = format!("</{name}");
            rest = match find_ascii_ci(rest, &end_tag) {
                Some(at) => rest[at..].find('>').map_or("", |gt| &rest[at + gt + 1..]),
                None => "",
            };
            continue;
        }
        if BLOCK.contains(&name) {
            state.line_break();
        }
        match (name, tag.closing) {
            // HTML lets cells go unclosed (`<td>a<td>b`): a new cell still separates.
            ("td" | "th", false) => {
                let body = &mut state.body;
                if !body.is_empty() && !body.ends_with(['\n', '\t']) {
                    body.push('\t');
                }
                state.space = false;
            }
            ("title", false) => state.in_title = true,
            ("title", true) => {
                state.in_title = false;
                state.title.push('\n');
            }
            ("pre" | "textarea", false) => state.in_pre += 1,
            ("pre" | "textarea", true) => state.in_pre = state.in_pre.saturating_sub(1),
            ("td" | "th", true) => {
                state.body.push('\t');
                state.space = false;
            }
            ("meta", false) => {
                let key = tag.attr("name").or_else(|| tag.attr("property"));
                if let (Some(key), Some(content)) = (key, tag.attr("content"))
                    && META_NAMES.contains(&key.to_ascii_lowercase().as_str())
                {
                    state.meta.push_str(&decode_entities(&content));
                    state.meta.push('\n');
                }
            }
            ("img", false) => {
                // Alternative text is what a reader of the page sees in place of the image.
                if let Some(alt) = tag.attr("alt") {
                    state.text(&alt);
                }
            }
            _ => {}
        }
    }
    state.text(rest);
    let body = state
        .body
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n");
    HtmlPage {
        title: state.title.trim().to_owned(),
        meta: state.meta.trim_end().to_owned(),
        body,
    }
}

/// Position of `needle` (ASCII) in `haystack`, ignoring ASCII case.
fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    let bytes = haystack.as_bytes();
    let needle = needle.as_bytes();
    let first = needle.first()?;
    memchr::memchr_iter(*first, bytes).find(|&at| {
        bytes
            .get(at..at + needle.len())
            .is_some_and(|window| window.eq_ignore_ascii_case(needle))
    })
}

/// A start or end tag.
struct Tag<'a> {
    name: String,
    closing: bool,
    /// Source between the name and `>`.
    attrs: &'a str,
    /// Bytes the tag occupies, `<` to `>` inclusive.
    len: usize,
}

impl Tag<'_> {
    /// An attribute value (quoted or not), by case-insensitive name.
    fn attr(&self, wanted: &str) -> Option<String> {
        let mut rest = self.attrs;
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
            if rest.is_empty() {
                return None;
            }
            let name_end = rest
                .find(|c: char| c.is_whitespace() || c == '=' || c == '/')
                .unwrap_or(rest.len());
            let name = &rest[..name_end];
            rest = rest[name_end..].trim_start();
            let mut value = None;
            if let Some(after_eq) = rest.strip_prefix('=') {
                let after_eq = after_eq.trim_start();
                let (v, tail) = match after_eq.chars().next() {
                    Some(q @ ('"' | '\'')) => {
                        let inner = &after_eq[1..];
                        let end = inner.find(q).unwrap_or(inner.len());
                        (&inner[..end], inner.get(end + 1..).unwrap_or(""))
                    }
                    _ => {
                        let end = after_eq.find(char::is_whitespace).unwrap_or(after_eq.len());
                        (&after_eq[..end], &after_eq[end..])
                    }
                };
                value = Some(v);
                rest = tail;
            }
            if name.eq_ignore_ascii_case(wanted) {
                return Some(value.unwrap_or("").to_owned());
            }
            if name.is_empty() && value.is_none() {
                // Garbage such as a stray `=`: skip one character to make progress.
                let mut chars = rest.chars();
                chars.next();
                rest = chars.as_str();
            }
        }
    }
}

/// Parse a tag at the start of `s` (which starts with `<`). `None` if it is not a tag.
fn parse_tag(s: &str) -> Option<Tag<'_>> {
    let inner = &s[1..];
    let (closing, inner) = match inner.strip_prefix('/') {
        Some(rest) => (true, rest),
        None => (false, inner),
    };
    if !inner.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let name_end = inner
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(inner.len());
    let name = inner[..name_end].to_ascii_lowercase();
    // Find the closing `>`, skipping quoted attribute values that may contain one.
    let mut quote: Option<char> = None;
    let mut end = None;
    for (i, c) in inner[name_end..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => {
                end = Some(name_end + i);
                break;
            }
            _ => {}
        }
    }
    let end = end.unwrap_or(inner.len());
    let offset = if closing { 2 } else { 1 };
    Some(Tag {
        name,
        closing,
        attrs: &inner[name_end..end],
        len: (offset + end + 1).min(s.len()),
    })
}

/// Decode HTML character references: the common named ones, decimal and hex. Unknown names
/// stay as written.
pub fn decode_entities(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('&') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '#'))
            .map_or(rest.len(), |i| i + 1);
        let name = &rest[1..end];
        let resolved = if let Some(num) = name.strip_prefix('#') {
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse::<u32>().ok(),
            };
            code.and_then(char::from_u32).filter(|&c| c != '\0')
        } else {
            named_entity(name)
        };
        match resolved {
            Some(c) => {
                out.push(c);
                rest = &rest[end..];
                if let Some(after) = rest.strip_prefix(';') {
                    rest = after;
                }
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" | "AMP" => '&',
        "lt" | "LT" => '<',
        "gt" | "GT" => '>',
        "quot" | "QUOT" => '"',
        "apos" => '\'',
        // A no-break space separates words like a space.
        "nbsp" | "ensp" | "emsp" | "thinsp" => ' ',
        "ideographicspace" => '\u{3000}',
        "copy" => '©',
        "reg" => '®',
        "middot" => '·',
        "bull" => '•',
        "mdash" => '—',
        "ndash" => '–',
        "hellip" => '…',
        "ldquo" => '“',
        "rdquo" => '”',
        "lsquo" => '‘',
        "rsquo" => '’',
        "times" => '×',
        "divide" => '÷',
        "yen" => '¥',
        "laquo" => '«',
        "raquo" => '»',
        "star" => '☆',
        "starf" | "bigstar" => '★',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_decode() {
        assert_eq!(
            decode_entities("a&amp;b&#x4E2D;&#25991;&nbsp;&bigstar;&nosuch;"),
            "a&b中文 ★&nosuch;"
        );
        assert_eq!(decode_entities("AT&T"), "AT&T");
    }

    #[test]
    fn tag_attributes_parse() {
        let tag = parse_tag(r#"<meta name=keywords content="机密, 内部">"#).expect("tag");
        assert_eq!(tag.name, "meta");
        assert_eq!(tag.attr("NAME").as_deref(), Some("keywords"));
        assert_eq!(tag.attr("content").as_deref(), Some("机密, 内部"));
    }

    #[test]
    fn meta_charset_is_found() {
        let page =
            b"<html><head><meta http-equiv=Content-Type content=\"text/html; charset=gb2312\">";
        assert_eq!(meta_charset(page), Some(encoding_rs::GBK));
        assert_eq!(
            meta_charset(b"<meta charset='big5'>"),
            Some(encoding_rs::BIG5)
        );
    }
}
