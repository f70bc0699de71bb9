//! A tokenizer for XML and HTML that keeps byte positions, so a document can be rewritten
//! with only the masked characters changed and every other byte as it was.
//!
//! Parsers that build a tree or re-serialise (quick-xml's writer, html5ever) would normalise
//! quotes, entities, whitespace or namespace prefixes; a published document should differ from
//! its original in the masked digits only. So the text of a document is cut into segments:
//! runs of literal text and single character references (`&#49;`, `&amp;`), each with its
//! raw byte range and decoded text. A segment with a masked character is written again
//! (escaped for where it sits); all others are copied.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::stream::{Edits, Loc, Stream, apply};

/// How a rewritten segment must be escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escape {
    /// Element content.
    Text,
    /// An attribute value in this quote (`0`: unquoted HTML attribute).
    Attr(u8),
    /// CDATA or a comment: written as it is.
    Verbatim,
}

pub(crate) struct Seg {
    pub raw: Range<usize>,
    pub text: String,
    pub escape: Escape,
}

pub(crate) struct Attr {
    /// Local name (prefix removed); lower case in HTML.
    pub name: String,
    /// The raw value between the quotes.
    pub value_raw: Range<usize>,
    /// Segments of the value.
    pub segs: Range<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokKind {
    /// A start tag; `empty` for `<a/>`.
    Open {
        empty: bool,
    },
    Close,
    /// Character data (text runs, references, CDATA): `segs`.
    Text,
    /// A comment: its content is one segment.
    Comment,
    /// Script and style content, declarations, processing instructions: never text.
    Other,
}

pub(crate) struct Tok {
    pub kind: TokKind,
    /// Local name of the element (prefix removed; lower case in HTML).
    pub name: String,
    pub raw: Range<usize>,
    pub attrs: Vec<Attr>,
    pub segs: Range<usize>,
}

impl Tok {
    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.iter().find(|a| a.name == name)
    }
}

/// A parsed document: source, tokens, segments.
pub(crate) struct Doc {
    pub src: String,
    pub toks: Vec<Tok>,
    pub segs: Vec<Seg>,
    /// Index of this document among those of one object (the `doc` of its [`Loc`]s).
    pub id: u32,
}

/// A walk step: empty elements (`<a/>`) give `Open` then `Close`, as quick-xml walks do in
/// the extractor, so handlers see one shape for both spellings.
pub(crate) enum Ev<'a> {
    Open(&'a Tok),
    Close(&'a str),
    Text(&'a Tok),
}

/// A replacement of raw bytes.
pub(crate) struct Patch {
    pub range: Range<usize>,
    pub text: String,
}

impl Doc {
    pub fn parse_xml(src: String, id: u32) -> Result<Doc, String> {
        let (toks, segs) = tokenize(&src, false)?;
        Ok(Doc {
            src,
            toks,
            segs,
            id,
        })
    }

    pub fn parse_html(src: String, id: u32) -> Doc {
        // HTML mode never fails: a stray `<` is text, an unclosed tag ends the page.
        let (toks, segs) = tokenize(&src, true).unwrap_or_default();
        Doc {
            src,
            toks,
            segs,
            id,
        }
    }

    pub fn events(&self) -> impl Iterator<Item = Ev<'_>> {
        self.toks.iter().flat_map(|t| {
            let (first, second) = match t.kind {
                TokKind::Open { empty } => (
                    Some(Ev::Open(t)),
                    empty.then_some(Ev::Close(t.name.as_str())),
                ),
                TokKind::Close => (Some(Ev::Close(t.name.as_str())), None),
                TokKind::Text => (Some(Ev::Text(t)), None),
                _ => (None, None),
            };
            first.into_iter().chain(second)
        })
    }

    pub fn loc(&self, seg: usize, ch: usize) -> Loc {
        Loc {
            doc: self.id,
            seg: seg as u32,
            ch: ch as u32,
        }
    }

    /// Push the characters of segments `segs` onto `stream`, traced to their source.
    pub fn push_segs(&self, segs: Range<usize>, stream: &mut Stream) {
        for s in segs {
            for (i, c) in self.segs[s].text.chars().enumerate() {
                stream.push(c, Some(self.loc(s, i)));
            }
        }
    }

    /// (char, loc) pairs of segments, for formats that transform text before detection.
    pub fn chars_of(&self, segs: Range<usize>) -> Vec<(char, Loc)> {
        let mut out = Vec::new();
        for s in segs {
            for (i, c) in self.segs[s].text.chars().enumerate() {
                out.push((c, self.loc(s, i)));
            }
        }
        out
    }

    /// The decoded text of segments.
    pub fn text_of(&self, segs: Range<usize>) -> String {
        segs.map(|s| self.segs[s].text.as_str()).collect()
    }

    /// The segments' text with this object's edits applied.
    pub fn edited_text(&self, segs: Range<usize>, edits: &Edits) -> String {
        segs.map(|s| apply(&self.segs[s].text, &edits.for_seg(self.id, s as u32)))
            .collect()
    }

    /// The document with its edited segments rewritten and `patches` applied; `None` when
    /// nothing changed. Segments inside a patch's range are left to the patch.
    pub fn rebuild(&self, edits: &Edits, mut patches: Vec<Patch>) -> Option<String> {
        let by_seg: BTreeMap<u32, BTreeMap<u32, &str>> = edits.for_doc(self.id);
        for (seg, replacements) in &by_seg {
            let Some(s) = self.segs.get(*seg as usize) else {
                continue;
            };
            if patches
                .iter()
                .any(|p| p.range.start <= s.raw.start && s.raw.end <= p.range.end)
            {
                continue;
            }
            let text = apply(&s.text, replacements);
            patches.push(Patch {
                range: s.raw.clone(),
                text: escape(&text, s.escape),
            });
        }
        if patches.is_empty() {
            return None;
        }
        patches.sort_by_key(|p| (p.range.start, p.range.end));
        let mut out = String::with_capacity(self.src.len());
        let mut at = 0;
        for p in patches {
            if p.range.start < at {
                // Overlapping patches would be a bug in a format; keep the first.
                continue;
            }
            out.push_str(&self.src[at..p.range.start]);
            out.push_str(&p.text);
            at = p.range.end;
        }
        out.push_str(&self.src[at..]);
        Some(out)
    }
}

pub(crate) fn escape(text: &str, how: Escape) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match (c, how) {
            ('&', Escape::Text | Escape::Attr(_)) => out.push_str("&amp;"),
            ('<', Escape::Text | Escape::Attr(_)) => out.push_str("&lt;"),
            ('>', Escape::Text) => out.push_str("&gt;"),
            ('"', Escape::Attr(b'"' | 0)) => out.push_str("&quot;"),
            ('\'', Escape::Attr(b'\'' | 0)) => out.push_str("&#39;"),
            (' ', Escape::Attr(0)) => out.push_str("&#32;"),
            _ => out.push(c),
        }
    }
    out
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// Elements whose content is raw text in HTML (no tags, no references).
const HTML_RAW: &[&str] = &["script", "style"];

fn tokenize(src: &str, html: bool) -> Result<(Vec<Tok>, Vec<Seg>), String> {
    let b = src.as_bytes();
    let mut toks = Vec::new();
    let mut segs = Vec::new();
    let mut i = 0;
    let mut text_start = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        // Every branch below starts at a `<`: positions stay on character boundaries.
        let start = i;
        let rest = &b[i..];
        let mut comment_inner = 0..0;
        let (kind, end) = if rest.starts_with(b"<!--") {
            match find(b, i + 4, b"-->") {
                Some(close) => {
                    comment_inner = i + 4..close;
                    (TokKind::Comment, close + 3)
                }
                None if html => {
                    comment_inner = i + 4..b.len();
                    (TokKind::Comment, b.len())
                }
                None => return Err(format!("comment at byte {i} is not closed")),
            }
        } else if rest.starts_with(b"<![CDATA[") {
            let Some(close) = find(b, i + 9, b"]]>") else {
                return Err(format!("CDATA at byte {i} is not closed"));
            };
            flush_text(src, text_start, start, html, &mut toks, &mut segs);
            let first = segs.len();
            segs.push(Seg {
                raw: i + 9..close,
                text: src[i + 9..close].to_owned(),
                escape: Escape::Verbatim,
            });
            toks.push(Tok {
                kind: TokKind::Text,
                name: String::new(),
                raw: i..close + 3,
                attrs: Vec::new(),
                segs: first..segs.len(),
            });
            i = close + 3;
            text_start = i;
            continue;
        } else if rest.starts_with(b"<!") || rest.starts_with(b"<?") {
            match tag_end(b, i + 1) {
                Some(gt) => (TokKind::Other, gt + 1),
                None if html => (TokKind::Other, b.len()),
                None => return Err(format!("declaration at byte {i} is not closed")),
            }
        } else {
            let closing = rest.get(1) == Some(&b'/');
            let name_at = i + 1 + closing as usize;
            if !b
                .get(name_at)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_' || *c >= 0x80)
            {
                if html {
                    // `a < b`: a literal `<` in text.
                    i += 1;
                    continue;
                }
                return Err(format!("stray '<' at byte {i}"));
            }
            match tag_end(b, name_at) {
                Some(gt) => {
                    let empty = !closing && b[gt - 1] == b'/';
                    if closing {
                        (TokKind::Close, gt + 1)
                    } else {
                        (TokKind::Open { empty }, gt + 1)
                    }
                }
                None if html => (TokKind::Other, b.len()),
                None => return Err(format!("tag at byte {i} is not closed")),
            }
        };
        flush_text(src, text_start, start, html, &mut toks, &mut segs);
        let mut tok = Tok {
            kind,
            name: String::new(),
            raw: start..end,
            attrs: Vec::new(),
            segs: segs.len()..segs.len(),
        };
        match kind {
            TokKind::Comment => {
                let inner = comment_inner.clone();
                let first = segs.len();
                segs.push(Seg {
                    raw: inner.clone(),
                    text: src[inner].to_owned(),
                    escape: Escape::Verbatim,
                });
                tok.segs = first..segs.len();
            }
            TokKind::Open { .. } | TokKind::Close => {
                let name_at = start + 1 + (kind == TokKind::Close) as usize;
                let name_end = b[name_at..end]
                    .iter()
                    .position(|c| c.is_ascii_whitespace() || matches!(c, b'>' | b'/'))
                    .map_or(end, |p| name_at + p);
                let name = local(&src[name_at..name_end]);
                tok.name = if html {
                    name.to_ascii_lowercase()
                } else {
                    name.to_owned()
                };
                if let TokKind::Open { .. } = kind {
                    let attrs_end = end - 1;
                    tok.attrs = parse_attrs(src, name_end, attrs_end, html, &mut segs);
                }
            }
            _ => {}
        }
        let raw_element = html
            && matches!(kind, TokKind::Open { empty: false })
            && HTML_RAW.contains(&tok.name.as_str());
        let name = tok.name.clone();
        toks.push(tok);
        i = end;
        text_start = i;
        if raw_element {
            // Script and style: everything up to the end tag is not text.
            let close = find_ci(b, i, format!("</{name}").as_bytes()).unwrap_or(b.len());
            if close > i {
                toks.push(Tok {
                    kind: TokKind::Other,
                    name: String::new(),
                    raw: i..close,
                    attrs: Vec::new(),
                    segs: segs.len()..segs.len(),
                });
            }
            i = close;
            text_start = i;
        }
    }
    flush_text(src, text_start, b.len(), html, &mut toks, &mut segs);
    Ok((toks, segs))
}

/// The `>` closing a tag whose name starts at `from`, skipping quoted values.
fn tag_end(b: &[u8], from: usize) -> Option<usize> {
    let mut quote = 0u8;
    for (j, &c) in b.iter().enumerate().skip(from) {
        match (quote, c) {
            (0, b'"' | b'\'') => quote = c,
            (0, b'>') => return Some(j),
            (q, c) if q != 0 && c == q => quote = 0,
            _ => {}
        }
    }
    None
}

fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if from > b.len() {
        return None;
    }
    b[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

fn find_ci(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    if from > b.len() {
        return None;
    }
    b[from..]
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| from + p)
}

fn flush_text(
    src: &str,
    from: usize,
    to: usize,
    html: bool,
    toks: &mut Vec<Tok>,
    segs: &mut Vec<Seg>,
) {
    if from >= to {
        return;
    }
    let first = segs.len();
    split_references(src, from..to, html, Escape::Text, segs);
    toks.push(Tok {
        kind: TokKind::Text,
        name: String::new(),
        raw: from..to,
        attrs: Vec::new(),
        segs: first..segs.len(),
    });
}

/// Cut `src[range]` into literal runs and character references.
fn split_references(
    src: &str,
    range: Range<usize>,
    html: bool,
    escape: Escape,
    segs: &mut Vec<Seg>,
) {
    let b = src.as_bytes();
    let mut run = range.start;
    let mut i = range.start;
    while i < range.end {
        if b[i] != b'&' {
            i += 1;
            continue;
        }
        let name_end = b[i + 1..range.end]
            .iter()
            .position(|c| !(c.is_ascii_alphanumeric() || *c == b'#'))
            .map_or(range.end, |p| i + 1 + p);
        let name = &src[i + 1..name_end];
        let has_semi = b.get(name_end) == Some(&b';') && name_end < range.end;
        let decoded = if has_semi || html {
            resolve(name, html)
        } else {
            None
        };
        let Some(c) = decoded else {
            i += 1;
            continue;
        };
        let end = if has_semi { name_end + 1 } else { name_end };
        if run < i {
            segs.push(Seg {
                raw: run..i,
                text: src[run..i].to_owned(),
                escape,
            });
        }
        segs.push(Seg {
            raw: i..end,
            text: c.to_string(),
            escape,
        });
        i = end;
        run = i;
    }
    if run < range.end {
        segs.push(Seg {
            raw: run..range.end,
            text: src[run..range.end].to_owned(),
            escape,
        });
    }
}

fn resolve(name: &str, html: bool) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => num.parse::<u32>().ok(),
        };
        return code.and_then(char::from_u32).filter(|&c| c != '\0');
    }
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ if !html => return None,
        "AMP" => '&',
        "LT" => '<',
        "GT" => '>',
        "QUOT" => '"',
        // For detection a no-break space is a space, as in the extractor; it is never
        // masked, so it is never written back as one.
        "nbsp" | "ensp" | "emsp" | "thinsp" => ' ',
        "middot" => '·',
        "bull" => '•',
        "mdash" => '—',
        "ndash" => '–',
        _ => return None,
    };
    Some(c)
}

fn parse_attrs(src: &str, from: usize, to: usize, html: bool, segs: &mut Vec<Seg>) -> Vec<Attr> {
    let b = src.as_bytes();
    let mut attrs = Vec::new();
    let mut i = from;
    while i < to {
        while i < to && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        if i >= to {
            break;
        }
        let name_start = i;
        while i < to && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'/' | b'>') {
            i += 1;
        }
        if i == name_start {
            // A stray `=` or quote: step over it.
            i += 1;
            continue;
        }
        let name = local(&src[name_start..i]);
        let name = if html {
            name.to_ascii_lowercase()
        } else {
            name.to_owned()
        };
        while i < to && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= to || b[i] != b'=' {
            continue;
        }
        i += 1;
        while i < to && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= to {
            break;
        }
        let (value, quote) = if matches!(b[i], b'"' | b'\'') {
            let q = b[i];
            let vstart = i + 1;
            let vend = b[vstart..to]
                .iter()
                .position(|&c| c == q)
                .map_or(to, |p| vstart + p);
            i = (vend + 1).min(to);
            (vstart..vend, q)
        } else {
            let vstart = i;
            while i < to && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            (vstart..i, 0)
        };
        let first = segs.len();
        split_references(src, value.clone(), html, Escape::Attr(quote), segs);
        attrs.push(Attr {
            name,
            value_raw: value,
            segs: first..segs.len(),
        });
    }
    attrs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_tokens_keep_positions_and_split_references() {
        let src = r#"<?xml version="1.0"?><w:p a="x&amp;y"><w:t>1&#51;8</w:t><w:br/></w:p>"#;
        let doc = Doc::parse_xml(src.to_owned(), 0).expect("parse");
        let names: Vec<(&str, TokKind)> =
            doc.toks.iter().map(|t| (t.name.as_str(), t.kind)).collect();
        assert_eq!(names[1], ("p", TokKind::Open { empty: false }));
        assert_eq!(names[3], ("", TokKind::Text));
        assert_eq!(names[5], ("br", TokKind::Open { empty: true }));
        let text = &doc.toks[3];
        assert_eq!(doc.text_of(text.segs.clone()), "138");
        assert_eq!(text.segs.len(), 3);
        assert_eq!(&src[doc.segs[text.segs.start + 1].raw.clone()], "&#51;");
        let a = doc.toks[1].attr("a").expect("attr");
        assert_eq!(doc.text_of(a.segs.clone()), "x&y");
    }

    #[test]
    fn unchanged_document_is_not_rebuilt() {
        let doc = Doc::parse_xml("<a>b</a>".to_owned(), 0).expect("parse");
        assert!(doc.rebuild(&Edits::default(), Vec::new()).is_none());
    }

    #[test]
    fn malformed_xml_is_an_error() {
        assert!(Doc::parse_xml("<a><b".to_owned(), 0).is_err());
        assert!(Doc::parse_xml("<a>x < y</a>".to_owned(), 0).is_err());
    }

    #[test]
    fn html_is_tolerant_and_skips_script() {
        let doc = Doc::parse_html(
            "<p title=a&nbsp;b>x < y<script>if (a<b) {}</script>z<img alt='q'>".to_owned(),
            0,
        );
        let texts: Vec<String> = doc
            .toks
            .iter()
            .filter(|t| t.kind == TokKind::Text)
            .map(|t| doc.text_of(t.segs.clone()))
            .collect();
        assert_eq!(texts, ["x < y", "z"]);
        let p = &doc.toks[0];
        assert_eq!(
            doc.text_of(p.attr("title").expect("title").segs.clone()),
            "a b"
        );
        assert!(doc.toks.iter().any(|t| t.attr("alt").is_some()));
    }
}
