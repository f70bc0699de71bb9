//! RTF: a hand-written text extractor. RTF is a simple token stream (groups, control words,
//! text), and writing it ourselves keeps paragraph breaks, code pages and the header,
//! footer and document-info groups that general crates flatten or drop.
//!
//! Text comes from literal bytes and `\'hh` escapes (decoded with the current font's
//! `\fcharset`, else the document `\ansicpg`) and from `\uN` escapes (followed by `\ucN`
//! fallback characters that are skipped).

use std::collections::HashMap;

use baomi_core::PartRole;
use encoding_rs::Encoding;

use crate::{Blob, Ctx, FormatResult};

/// Groups nested deeper than this are garbage or an attack, not a document.
const MAX_GROUP_DEPTH: usize = 10_000;

pub fn extract(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let bytes = blob.bytes()?;
    let doc = parse(&bytes)?;
    if let Some(title) = doc.info_value("title") {
        cx.text("title", PartRole::Subject, title);
    }
    let mut meta = String::new();
    for (field, value) in &doc.info {
        let value = value.trim();
        if field != "title" && !value.is_empty() {
            meta.push_str(field);
            meta.push_str(": ");
            meta.push_str(value);
            meta.push('\n');
        }
    }
    cx.text("info", PartRole::Metadata, meta);
    cx.text("header", PartRole::HeaderFooter, tidy(&doc.header_footer));
    cx.text("", PartRole::Body, tidy(&doc.body));
    cx.text("annotations", PartRole::Annotation, tidy(&doc.annotation));
    if doc.unclosed_groups > 0 {
        cx.unreadable(
            "",
            format!(
                "truncated RTF: {} group(s) not closed, text after the cut is missing",
                doc.unclosed_groups
            ),
        );
    }
    Ok(())
}

/// Trailing spaces off every line, no runs of more than one blank line.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_matches('\n').to_owned()
}

/// Where text of the current group goes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Dest {
    Body,
    HeaderFooter,
    Annotation,
    /// Inside `\info` but not (yet) in a field we keep.
    InfoGroup,
    /// A kept `\info` field: index into [`RtfText::info`].
    InfoField(usize),
    FontTable,
    /// Not text: tables, pictures, objects, field instructions, unknown `\*` groups.
    Skip,
}

#[derive(Debug, Clone, Copy)]
struct Group {
    dest: Dest,
    /// `\ucN`: how many fallback characters follow each `\uN`.
    uc: u32,
    encoding: &'static Encoding,
}

/// What an RTF document says, by role.
#[derive(Debug, Default)]
pub(crate) struct RtfText {
    pub body: String,
    pub header_footer: String,
    pub annotation: String,
    /// `\info` fields in document order: (`title`, `author`, …, text).
    pub info: Vec<(String, String)>,
    /// Groups still open at the end of input (a truncated file).
    pub unclosed_groups: usize,
}

impl RtfText {
    fn info_value(&self, field: &str) -> Option<String> {
        self.info
            .iter()
            .find(|(f, v)| f == field && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_owned())
    }
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    stack: Vec<Group>,
    group: Group,
    out: RtfText,
    doc_encoding: &'static Encoding,
    /// Font number → encoding from the font table's `\fcharset`/`\cpg`.
    fonts: HashMap<i64, &'static Encoding>,
    /// Font being defined inside the font table.
    font_def: Option<i64>,
    /// Code-page bytes waiting to be decoded together (a GBK character is two `\'hh`).
    pending: Vec<u8>,
    pending_encoding: &'static Encoding,
    pending_dest: Dest,
    /// Fallback characters after a `\uN` still to skip.
    skip: u32,
    /// A `\uN` high surrogate waiting for its low half.
    high_surrogate: Option<u16>,
    /// Just after `{`: the next control word may name the group's destination.
    group_start: bool,
    /// `{\*` seen: an unknown destination word makes the group skipped.
    ignorable: bool,
}

pub(crate) fn parse(input: &[u8]) -> Result<RtfText, Box<dyn std::error::Error + Send + Sync>> {
    let start = input
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(input.len());
    if !input[start..].starts_with(b"{\\rtf") {
        return Err("not RTF: no {\\rtf header".into());
    }
    let cp1252 = encoding_rs::WINDOWS_1252;
    let mut p = Parser {
        input,
        pos: start,
        stack: Vec::new(),
        group: Group {
            dest: Dest::Body,
            uc: 1,
            encoding: cp1252,
        },
        out: RtfText::default(),
        doc_encoding: cp1252,
        fonts: HashMap::new(),
        font_def: None,
        pending: Vec::new(),
        pending_encoding: cp1252,
        pending_dest: Dest::Body,
        skip: 0,
        high_surrogate: None,
        group_start: false,
        ignorable: false,
    };
    p.run()?;
    p.flush();
    // The outermost `{\rtf1 …}` group is on the stack while the document is open.
    p.out.unclosed_groups = p.stack.len();
    Ok(p.out)
}

impl Parser<'_> {
    fn run(&mut self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        while self.pos < self.input.len() {
            let b = self.input[self.pos];
            self.pos += 1;
            match b {
                b'{' => {
                    self.skip = 0;
                    if self.stack.len() >= MAX_GROUP_DEPTH {
                        return Err(
                            format!("RTF groups nested deeper than {MAX_GROUP_DEPTH}").into()
                        );
                    }
                    self.stack.push(self.group);
                    self.group_start = true;
                    self.ignorable = false;
                }
                b'}' => {
                    self.skip = 0;
                    self.flush();
                    let closed = self.group;
                    match self.stack.pop() {
                        Some(outer) => self.group = outer,
                        // More `}` than `{`: the document is over.
                        None => return Ok(()),
                    }
                    // Separate consecutive headers/footers/footnotes from each other.
                    if closed.dest != self.group.dest {
                        match closed.dest {
                            Dest::HeaderFooter => push_break(&mut self.out.header_footer),
                            Dest::Annotation => push_break(&mut self.out.annotation),
                            _ => {}
                        }
                    }
                    self.group_start = false;
                    if self.stack.is_empty() {
                        // End of the outer document group.
                        return Ok(());
                    }
                }
                b'\\' => self.control()?,
                b'\r' | b'\n' => {}
                _ => {
                    self.group_start = false;
                    if self.skip > 0 {
                        self.skip -= 1;
                        continue;
                    }
                    self.byte(b);
                }
            }
        }
        Ok(())
    }

    /// After a backslash: a control word, a control symbol or a `\'hh` escape.
    fn control(&mut self) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let Some(&c) = self.input.get(self.pos) else {
            return Ok(());
        };
        if c.is_ascii_alphabetic() {
            let word_start = self.pos;
            while self.pos < self.input.len() && self.input[self.pos].is_ascii_alphabetic() {
                self.pos += 1;
            }
            let word = String::from_utf8_lossy(&self.input[word_start..self.pos]).into_owned();
            let num_start = self.pos;
            if self.input.get(self.pos) == Some(&b'-') {
                self.pos += 1;
            }
            while self.pos < self.input.len() && self.input[self.pos].is_ascii_digit() {
                self.pos += 1;
            }
            let param = std::str::from_utf8(&self.input[num_start..self.pos])
                .ok()
                .and_then(|s| s.parse::<i64>().ok());
            // One space delimits the word and is not text.
            if self.input.get(self.pos) == Some(&b' ') {
                self.pos += 1;
            }
            self.word(&word, param);
            return Ok(());
        }
        self.pos += 1;
        let first = std::mem::take(&mut self.group_start);
        match c {
            b'\'' => {
                let hex = self.input.get(self.pos..self.pos + 2);
                let value = hex
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(value) = value {
                    self.pos += 2;
                    if self.skip > 0 {
                        self.skip -= 1;
                    } else {
                        self.byte(value);
                    }
                }
            }
            b'*' if first => {
                self.ignorable = true;
                // Keep `group_start` so the next word is read as the destination.
                self.group_start = true;
            }
            b'\\' | b'{' | b'}' => self.emit_byte_or_skip(c),
            b'~' => self.emit_char_or_skip('\u{a0}'),
            b'_' => self.emit_char_or_skip('-'),
            b'-' => {}
            b'\r' | b'\n' => self.emit_char_or_skip('\n'),
            _ => {}
        }
        Ok(())
    }

    fn emit_byte_or_skip(&mut self, b: u8) {
        if self.skip > 0 {
            self.skip -= 1;
        } else {
            self.byte(b);
        }
    }

    fn emit_char_or_skip(&mut self, c: char) {
        if self.skip > 0 {
            self.skip -= 1;
        } else {
            self.char(c);
        }
    }

    fn word(&mut self, word: &str, param: Option<i64>) {
        let first = std::mem::take(&mut self.group_start);
        let ignorable = std::mem::take(&mut self.ignorable);
        if first && let Some(dest) = self.destination(word) {
            self.flush();
            self.group.dest = dest;
            return;
        }
        if first && ignorable {
            // `{\*\unknown …}`: the spec says readers that do not know it skip it.
            self.flush();
            self.group.dest = Dest::Skip;
            return;
        }
        if self.skip > 0 && !matches!(word, "u" | "uc") {
            self.skip -= 1;
            return;
        }
        match (word, self.group.dest) {
            (_, Dest::Skip | Dest::InfoGroup) => {}
            ("f", Dest::FontTable) => self.font_def = param,
            ("fcharset", Dest::FontTable) => {
                if let (Some(font), Some(enc)) = (self.font_def, param.and_then(charset_encoding)) {
                    self.fonts.insert(font, enc);
                }
            }
            ("cpg", Dest::FontTable) => {
                if let (Some(font), Some(enc)) = (self.font_def, param.and_then(codepage_encoding))
                {
                    self.fonts.insert(font, enc);
                }
            }
            (_, Dest::FontTable) => {}
            ("ansicpg", _) => {
                if let Some(enc) = param.and_then(codepage_encoding) {
                    self.doc_encoding = enc;
                    self.group.encoding = enc;
                }
            }
            ("f", _) => {
                if let Some(font) = param {
                    self.group.encoding =
                        self.fonts.get(&font).copied().unwrap_or(self.doc_encoding);
                }
            }
            ("uc", _) => self.group.uc = param.unwrap_or(1).clamp(0, 16) as u32,
            ("u", _) => {
                self.skip = 0;
                if let Some(n) = param {
                    // Negative values are UTF-16 code units written as signed 16-bit.
                    let unit = if n < 0 { (n + 65536) as u32 } else { n as u32 };
                    self.unicode(unit);
                }
                self.skip = self.group.uc;
            }
            ("par" | "line" | "sect" | "page" | "row", _) => self.char('\n'),
            ("tab" | "cell", _) => self.char('\t'),
            ("emdash", _) => self.char('—'),
            ("endash", _) => self.char('–'),
            ("bullet", _) => self.char('•'),
            ("lquote", _) => self.char('‘'),
            ("rquote", _) => self.char('’'),
            ("ldblquote", _) => self.char('“'),
            ("rdblquote", _) => self.char('”'),
            ("emspace" | "enspace" | "qmspace", _) => self.char(' '),
            ("bin", _) => {
                // Raw binary data: never text.
                let n = param.unwrap_or(0).max(0) as usize;
                self.pos = self.pos.saturating_add(n).min(self.input.len());
            }
            _ => {}
        }
    }

    /// The destination a group-opening control word names, if it changes where text goes.
    fn destination(&mut self, word: &str) -> Option<Dest> {
        let current = self.group.dest;
        if matches!(current, Dest::Skip) {
            return None;
        }
        if matches!(current, Dest::InfoGroup) {
            return Some(match word {
                // `{\upr{\title ANSI}{\*\ud{\title Unicode}}}`: both variants are
                // containers; the later (Unicode) value replaces the ANSI one below.
                "upr" | "ud" => Dest::InfoGroup,
                "title" | "subject" | "author" | "manager" | "company" | "operator"
                | "category" | "keywords" | "comment" | "doccomm" => {
                    for (field, value) in &mut self.out.info {
                        if field == word {
                            value.clear();
                        }
                    }
                    self.out.info.push((word.to_owned(), String::new()));
                    Dest::InfoField(self.out.info.len() - 1)
                }
                _ => Dest::Skip,
            });
        }
        Some(match word {
            "fonttbl" => Dest::FontTable,
            "info" => Dest::InfoGroup,
            "header" | "headerl" | "headerr" | "headerf" | "footer" | "footerl" | "footerr"
            | "footerf" => Dest::HeaderFooter,
            "footnote" | "annotation" => Dest::Annotation,
            "colortbl" | "stylesheet" | "listtable" | "listoverridetable" | "revtbl"
            | "rsidtbl" | "filetbl" | "pict" | "object" | "objdata" | "datastore" | "themedata"
            | "colorschememapping" | "latentstyles" | "fldinst" | "xmlnstbl" | "generator"
            | "pgdsctbl" | "mmathPr" | "nonshppict" | "atnid" | "atnauthor" | "bkmkstart"
            | "bkmkend" | "template" | "userprops" | "panose" | "falt" => Dest::Skip,
            _ => return None,
        })
    }

    fn unicode(&mut self, unit: u32) {
        if (0xD800..0xDC00).contains(&unit) {
            self.high_surrogate = Some(unit as u16);
            return;
        }
        let c = if (0xDC00..0xE000).contains(&unit) {
            match self.high_surrogate.take() {
                Some(high) => char::decode_utf16([high, unit as u16])
                    .next()
                    .and_then(Result::ok),
                None => None,
            }
        } else {
            self.high_surrogate = None;
            char::from_u32(unit)
        };
        self.char(c.unwrap_or('\u{fffd}'));
    }

    /// A code-page byte of text.
    fn byte(&mut self, b: u8) {
        if !self.collects_text() {
            return;
        }
        if !self.pending.is_empty()
            && (self.pending_encoding != self.group.encoding
                || self.pending_dest != self.group.dest)
        {
            self.flush();
        }
        self.pending_encoding = self.group.encoding;
        self.pending_dest = self.group.dest;
        self.pending.push(b);
    }

    fn char(&mut self, c: char) {
        if !self.collects_text() {
            return;
        }
        self.flush();
        if let Some(buf) = self.buffer(self.group.dest) {
            buf.push(c);
        }
    }

    fn collects_text(&self) -> bool {
        matches!(
            self.group.dest,
            Dest::Body | Dest::HeaderFooter | Dest::Annotation | Dest::InfoField(_)
        )
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let (text, _, _) = self.pending_encoding.decode(&self.pending);
        let text = text.into_owned();
        self.pending.clear();
        if let Some(buf) = self.buffer(self.pending_dest) {
            buf.push_str(&text);
        }
    }

    fn buffer(&mut self, dest: Dest) -> Option<&mut String> {
        match dest {
            Dest::Body => Some(&mut self.out.body),
            Dest::HeaderFooter => Some(&mut self.out.header_footer),
            Dest::Annotation => Some(&mut self.out.annotation),
            Dest::InfoField(i) => self.out.info.get_mut(i).map(|(_, v)| v),
            _ => None,
        }
    }
}

fn push_break(buf: &mut String) {
    if !buf.is_empty() && !buf.ends_with('\n') {
        buf.push('\n');
    }
}

/// `\fcharsetN` (Windows character set ids) to an encoding. ANSI and default mean "the
/// document code page", which the caller uses when this returns `None`.
fn charset_encoding(charset: i64) -> Option<&'static Encoding> {
    let label: &[u8] = match charset {
        128 => b"shift_jis",
        129 => b"euc-kr",
        134 => b"gbk",
        136 => b"big5",
        161 => b"windows-1253",
        162 => b"windows-1254",
        163 => b"windows-1258",
        177 => b"windows-1255",
        178 => b"windows-1256",
        186 => b"windows-1257",
        204 => b"windows-1251",
        222 => b"windows-874",
        238 => b"windows-1250",
        _ => return None,
    };
    Encoding::for_label(label)
}

/// `\ansicpgN` / `\cpgN` Windows code pages to an encoding.
fn codepage_encoding(codepage: i64) -> Option<&'static Encoding> {
    let label = match codepage {
        936 => "gbk".to_owned(),
        54936 => "gb18030".to_owned(),
        950 => "big5".to_owned(),
        932 => "shift_jis".to_owned(),
        949 => "euc-kr".to_owned(),
        65001 => "utf-8".to_owned(),
        874 => "windows-874".to_owned(),
        1250..=1258 => format!("windows-{codepage}"),
        _ => return None,
    };
    Encoding::for_label(label.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_hex_escapes_with_ansicpg936() {
        // As Word writes Chinese text: GBK bytes as \'hh in a font with \fcharset134.
        let rtf = br"{\rtf1\ansi\ansicpg936\deff0{\fonttbl{\f0\fnil\fcharset134 \'cb\'ce\'cc\'e5;}}
{\info{\title \'bd\'f4\'bc\'b1\'cd\'a8\'d6\'aa}{\author \'d5\'c5\'c8\'fd}}
\f0 \'bb\'fa\'c3\'dc\'a1\'ef5\'c4\'ea\par
\'b5\'da\'b6\'fe\'d0\'d0}";
        let doc = parse(rtf).unwrap();
        assert_eq!(doc.body.trim(), "机密★5年\n第二行");
        assert_eq!(doc.info_value("title").as_deref(), Some("紧急通知"));
        assert_eq!(doc.info_value("author").as_deref(), Some("张三"));
        assert_eq!(doc.unclosed_groups, 0);
    }

    #[test]
    fn unicode_escapes_skip_fallback_and_headers_are_separate() {
        let rtf = br"{\rtf1\ansi{\fonttbl{\f0 Arial;}}{\header \pard \u31192?\u23494?\par}
\uc2\u26426??\u23494??\par {\*\unknown hidden}{\pict 0123abcd}visible\tab end}";
        let doc = parse(rtf).unwrap();
        assert_eq!(doc.header_footer.trim(), "秘密");
        assert_eq!(doc.body.trim(), "机密\nvisible\tend");
    }

    #[test]
    fn truncated_input_keeps_text_and_counts_open_groups() {
        let doc = parse(br"{\rtf1\ansi {\b bold text").unwrap();
        assert_eq!(doc.body.trim(), "bold text");
        assert_eq!(doc.unclosed_groups, 2);
    }

    #[test]
    fn random_input_never_panics() {
        // A cheap deterministic fuzz: RTF-ish tokens and raw bytes in random order.
        let tokens: &[&[u8]] = &[
            b"{",
            b"}",
            b"\\",
            b"\\'",
            b"\\'b",
            b"\\u",
            b"\\u-",
            b"\\uc9",
            b"\\bin99",
            b"\\*",
            b"\\info",
            b"\\title",
            b"\\header",
            b"\\fonttbl",
            b"\\f",
            b"\\fcharset134",
            b"\\par",
            b"\\ansicpg936",
            b"7",
            b"-",
            b" ",
            b"\xb1",
            b"\xa3",
            b"\xff",
            b"\n",
            b"\\\n",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            let mut input = b"{\\rtf1".to_vec();
            for _ in 0..40 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                input.extend_from_slice(tokens[(seed >> 33) as usize % tokens.len()]);
            }
            let _ = parse(&input);
        }
    }

    #[test]
    fn not_rtf_is_an_error() {
        assert!(parse(b"hello").is_err());
    }
}
