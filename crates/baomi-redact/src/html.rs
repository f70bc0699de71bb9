//! HTML pages (and generic XML): text nodes and the attribute values a reader sees or a
//! link carries, rewritten in place; every other byte of the markup is kept.
//!
//! The page body is read as the extractor reads it (`formats/html.rs`: whitespace
//! collapsed, block elements end lines, cells separated by tabs, `alt` text inline, script
//! and style skipped), so a number written `138 <b>1234</b> 5678` is found here as it is by
//! a scan. The `<title>`, `<meta content>` and attribute values (`title`, `alt`, `value`,
//! `placeholder`, `href`: `mailto:` and `tel:` links) are streams of their own, and so are
//! comments, which a browser does not show but anyone can read in the page source.

use encoding_rs::{UTF_8, UTF_16BE, UTF_16LE};

use crate::markup::{Doc, TokKind};
use crate::stream::{Edits, Redactor, Stream};
use crate::text::{decode, encode};
use crate::{Format, RedactError, Redacted, finish};

// Lines end where the extractor ends them, so redaction sees the text a scan sees.
use baomi_extract::formats::html::{BLOCK, RAW_SKIP as SKIP};

/// Attribute values that carry text or an address.
const TEXT_ATTRS: &[&str] = &[
    "title",
    "alt",
    "value",
    "placeholder",
    "content",
    "href",
    "aria-label",
    "data-phone",
    "data-email",
];

pub(crate) fn redact(r: &Redactor, bytes: &[u8], html: bool) -> Result<Redacted, RedactError> {
    let encoding = charset(bytes)
        .unwrap_or_else(|| baomi_extract::formats::text::detect_encoding(bytes, true));
    let d = decode(bytes, encoding)?;
    let doc = if html {
        Doc::parse_html(d.text.clone(), 0)
    } else {
        Doc::parse_xml(d.text.clone(), 0)
            .map_err(|e| RedactError::Corrupt(format!("malformed XML: {e}")))?
    };
    let mut edits = Edits::default();
    for stream in if html {
        html_streams(&doc)
    } else {
        xml_streams(&doc)
    } {
        r.redact_stream(&stream, &mut edits);
    }
    let out = match doc.rebuild(&edits, Vec::new()) {
        Some(text) => encode(&d, &text)?,
        None => bytes.to_vec(),
    };
    let format = if html {
        Format::Html {
            encoding: d.encoding.name(),
        }
    } else {
        Format::Xml
    };
    Ok(finish(out, format, edits, Vec::new()))
}

/// The charset a page declares (`<meta charset>`, `content="…; charset=…"`), as browsers
/// (and the extractor) honour it before guessing.
fn charset(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    if encoding_rs::Encoding::for_bom(bytes).is_some() {
        return None;
    }
    let head = bytes[..bytes.len().min(4096)].to_ascii_lowercase();
    let mut from = 0;
    while let Some(at) = head[from..].windows(7).position(|w| w == b"charset") {
        let mut rest = &head[from + at + 7..];
        from += at + 1;
        rest = rest.trim_ascii_start();
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
        if let Some(enc) = encoding_rs::Encoding::for_label(&rest[..end]) {
            // A page that says "utf-16" in ASCII is not UTF-16.
            return Some(if enc == UTF_16LE || enc == UTF_16BE {
                UTF_8
            } else {
                enc
            });
        }
    }
    None
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0C')
}

/// The body as the extractor collapses it, with locations.
struct Body {
    s: Stream,
    /// A space is owed before the next word: where it was written.
    space: Option<Option<crate::stream::Loc>>,
}

impl Body {
    fn line_break(&mut self) {
        while matches!(self.s.last(), Some('\t' | ' ')) {
            self.s.pop();
        }
        if !self.s.is_empty() && self.s.last() != Some('\n') {
            self.s.synthetic("\n");
        }
        self.space = None;
    }

    fn text(&mut self, chars: &[(char, crate::stream::Loc)], pre: bool) {
        for &(c, loc) in chars {
            if pre {
                self.s.push(c, Some(loc));
                continue;
            }
            if is_space(c) {
                if self.space.is_none() {
                    self.space = Some(Some(loc));
                }
                continue;
            }
            if let Some(at) = self.space.take()
                && !self.s.is_empty()
                && self.s.last() != Some('\n')
            {
                self.s.push(' ', at);
            }
            self.s.push(c, Some(loc));
        }
    }
}

fn html_streams(doc: &Doc) -> Vec<Stream> {
    let mut body = Body {
        s: Stream::default(),
        space: None,
    };
    let mut title = Stream::default();
    let mut attrs = Stream::default();
    let mut comments = Stream::default();
    let (mut skip, mut pre, mut in_title) = (0u32, 0u32, false);
    for tok in &doc.toks {
        let name = tok.name.as_str();
        match tok.kind {
            TokKind::Comment => {
                doc.push_segs(tok.segs.clone(), &mut comments);
                comments.end_line();
            }
            TokKind::Text if skip == 0 => {
                let chars = doc.chars_of(tok.segs.clone());
                if in_title {
                    for (c, loc) in chars {
                        title.push(c, Some(loc));
                    }
                } else {
                    body.text(&chars, pre > 0);
                }
            }
            TokKind::Open { empty } => {
                for a in &tok.attrs {
                    // An image's `alt` is read inline with the body, as the extractor reads it.
                    let wanted = TEXT_ATTRS.contains(&a.name.as_str())
                        && !(a.name == "alt" && name == "img");
                    if wanted {
                        doc.push_segs(a.segs.clone(), &mut attrs);
                        attrs.end_line();
                    }
                }
                if SKIP.contains(&name) && !empty {
                    skip += 1;
                    continue;
                }
                if skip > 0 {
                    continue;
                }
                if BLOCK.contains(&name) {
                    body.line_break();
                }
                match name {
                    "td" | "th" => {
                        if !body.s.is_empty() && !matches!(body.s.last(), Some('\n' | '\t')) {
                            body.s.synthetic("\t");
                        }
                        body.space = None;
                    }
                    "title" if !empty => in_title = true,
                    "pre" | "textarea" if !empty => pre += 1,
                    "img" => {
                        if let Some(alt) = tok.attr("alt") {
                            body.text(&doc.chars_of(alt.segs.clone()), pre > 0);
                        }
                    }
                    _ => {}
                }
            }
            TokKind::Close => {
                if SKIP.contains(&name) {
                    skip = skip.saturating_sub(1);
                    continue;
                }
                if skip > 0 {
                    continue;
                }
                if BLOCK.contains(&name) {
                    body.line_break();
                }
                match name {
                    "title" => {
                        in_title = false;
                        title.end_line();
                    }
                    "pre" | "textarea" => pre = pre.saturating_sub(1),
                    "td" | "th" => {
                        body.s.synthetic("\t");
                        body.space = None;
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    vec![body.s, title, attrs, comments]
}

/// Generic XML: every text node on a line of its own, every attribute value too.
fn xml_streams(doc: &Doc) -> Vec<Stream> {
    let mut text = Stream::default();
    let mut attrs = Stream::default();
    for tok in &doc.toks {
        match tok.kind {
            TokKind::Text | TokKind::Comment => {
                doc.push_segs(tok.segs.clone(), &mut text);
                text.end_line();
            }
            TokKind::Open { .. } => {
                for a in &tok.attrs {
                    doc.push_segs(a.segs.clone(), &mut attrs);
                    attrs.end_line();
                }
            }
            _ => {}
        }
    }
    vec![text, attrs]
}
