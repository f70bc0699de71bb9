//! Legacy (97-2003 binary) Office: .doc, .xls, .ppt, and the WPS Office look-alikes
//! .wps/.et/.dps, which are the same OLE formats under other names.
//!
//! Text comes from `office_oxide` (MIT/Apache-2.0), which decodes the piece table, SST and
//! text atoms with correct Chinese. Encryption is checked first, straight from the OLE
//! streams with `cfb`, so a password-protected file gets a specific `encrypted` finding
//! (RC4 / CryptoAPI / XOR) rather than a generic parse error; with a password bank, Word and
//! Excel RC4 files are opened by `legacy_crypto`.

use std::io::{Read, Seek};
use std::panic::{AssertUnwindSafe, catch_unwind};

use baomi_core::PartRole;
use office_oxide::cfb::SummaryProperties;
use office_oxide::doc::{DocDocument, DocError, SubDocumentKind};
use office_oxide::ppt::{PptDocument, PptError, TextType};
use office_oxide::xls::{CellValue, XlsDocument, XlsError};

use super::legacy_crypto::{self, Scheme};
use super::text::emit_chunked;
use crate::passwords::Attempt;
use crate::{Blob, Ctx, FileType, FormatResult};

/// Open `blob` as a legacy Word, Excel or PowerPoint file.
pub fn extract(ty: FileType, blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    if let Some(reason) = encryption(ty, blob) {
        if matches!(ty, FileType::Doc | FileType::Xls) && !cx.passwords().is_empty() {
            return open_with_bank(ty, blob, reason, cx);
        }
        let note = bank_not_tried(cx);
        cx.encrypted("", format!("{reason}{note}"));
        return Ok(());
    }
    match ty {
        FileType::Doc => doc(blob, cx),
        FileType::Xls => xls(blob, cx),
        FileType::Ppt => ppt(blob, cx),
        other => Err(format!("{other} is not a legacy Office type").into()),
    }
}

/// The password bank is not tried on PowerPoint 97-2003's encryption (each persist object
/// keyed on its own: not implemented), and the finding says so rather than "none opened it".
fn bank_not_tried(cx: &Ctx<'_, '_>) -> &'static str {
    if cx.passwords().is_empty() {
        ""
    } else {
        ", bank passwords are not tried on PowerPoint 97-2003 encryption"
    }
}

/// An encrypted Word or Excel 97-2003 file and a password bank: try the bank on the file's
/// RC4 verifier; the password that opens it decrypts a copy, which is read like any other.
fn open_with_bank(ty: FileType, blob: &Blob, reason: String, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let ole = blob.bytes()?;
    let header = match ty {
        FileType::Doc => legacy_crypto::word_header(&ole),
        _ => legacy_crypto::excel_header(&ole),
    };
    let scheme = match header.and_then(|h| Scheme::parse(&h)) {
        Ok(scheme) => scheme,
        Err(why) => {
            cx.encrypted("", format!("{reason}, bank passwords not tried: {why}"));
            return Ok(());
        }
    };
    let attempt = cx.try_passwords(|_, password| scheme.key(password));
    cx.encrypted("", format!("{reason}{}", attempt.note()));
    let Attempt::Opened { value: key, .. } = attempt else {
        return Ok(());
    };
    // The decrypted copy, and its streams read once more while it is rebuilt.
    if !cx.charge(2 * ole.len() as u64) {
        return Ok(());
    }
    let plain = match ty {
        FileType::Doc => legacy_crypto::decrypt_word(&ole, &key),
        _ => legacy_crypto::decrypt_excel(&ole, &key),
    };
    match plain {
        Ok(bytes) => {
            let copy = Blob::from_vec(bytes);
            match ty {
                FileType::Doc => doc(&copy, cx),
                _ => xls(&copy, cx),
            }
        }
        Err(e) => {
            cx.unreadable("", format!("decrypted copy could not be rebuilt: {e}"));
            Ok(())
        }
    }
}

/// An OLE file sniffing could not place. WPS and other writers sometimes leave the root CLSID
/// empty; the main stream still says what the file is.
pub fn extract_ole(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let names = root_streams(blob)?;
    let has = |want: &str| names.iter().any(|n| n.eq_ignore_ascii_case(want));
    let kind = if has("WordDocument") {
        Some(FileType::Doc)
    } else if has("Workbook") || has("Book") {
        Some(FileType::Xls)
    } else if has("PowerPoint Document") {
        Some(FileType::Ppt)
    } else {
        None
    };
    match kind {
        Some(ty) => extract(ty, blob, cx),
        None => {
            let mut shown: Vec<&str> = names.iter().map(String::as_str).take(12).collect();
            if names.len() > shown.len() {
                shown.push("…");
            }
            cx.unreadable(
                "",
                format!(
                    "OLE document of unknown kind (streams: {})",
                    shown.join(", ")
                ),
            );
            Ok(())
        }
    }
}

fn root_streams(blob: &Blob) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    let file = cfb::CompoundFile::open(blob.open()?)?;
    Ok(file
        .read_root_storage()
        .map(|e| e.name().to_owned())
        .collect())
}

/// Run a parser that may panic on hostile input, turning the panic into an error that names
/// the format.
fn guarded<T, E: std::fmt::Display>(
    what: &str,
    parse: impl FnOnce() -> Result<T, E>,
) -> Result<T, ParseFailure<E>> {
    match catch_unwind(AssertUnwindSafe(parse)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ParseFailure::Error(e)),
        Err(_) => Err(ParseFailure::Panic(format!("{what}: parser panicked"))),
    }
}

enum ParseFailure<E> {
    Error(E),
    Panic(String),
}

fn doc(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let parsed = guarded("Word 97-2003", || DocDocument::from_reader(blob.open()?));
    let document = match parsed {
        Ok(d) => d,
        Err(ParseFailure::Error(DocError::Encrypted)) => {
            {
                let note = bank_not_tried(cx);
                cx.encrypted(
                    "",
                    format!("password-protected Word 97-2003 document{note}"),
                );
            }
            return Ok(());
        }
        Err(ParseFailure::Error(e)) => {
            cx.unreadable("", format!("Word 97-2003 document: {e}"));
            return Ok(());
        }
        Err(ParseFailure::Panic(m)) => return Err(m.into()),
    };
    emit_chunked(cx, "", PartRole::Body, lines(document.plain_text_ref()));
    for sub in document.subdocuments() {
        let (name, role) = match sub.kind {
            SubDocumentKind::HeadersFooters | SubDocumentKind::HeaderTextBoxes => {
                ("headers-footers", PartRole::HeaderFooter)
            }
            SubDocumentKind::TextBoxes => ("text-boxes", PartRole::Body),
            SubDocumentKind::Footnotes => ("footnotes", PartRole::Annotation),
            SubDocumentKind::Endnotes => ("endnotes", PartRole::Annotation),
            SubDocumentKind::Comments => ("comments", PartRole::Annotation),
        };
        cx.text(name, role, lines(sub.text.trim_end()));
    }
    if !document.text_complete() {
        cx.unreadable(
            "",
            "Word 97-2003 document: part of the text could not be recovered (piece table gap)",
        );
    }
    summary(document.summary_properties(), cx);
    Ok(())
}

fn xls(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let parsed = guarded("Excel 97-2003", || XlsDocument::from_reader(blob.open()?));
    let workbook = match parsed {
        Ok(w) => w,
        Err(ParseFailure::Error(XlsError::Encrypted | XlsError::EncryptionNotSupported(_))) => {
            {
                let note = bank_not_tried(cx);
                cx.encrypted(
                    "",
                    format!("password-protected Excel 97-2003 workbook{note}"),
                );
            }
            return Ok(());
        }
        Err(ParseFailure::Error(e)) => {
            cx.unreadable("", format!("Excel 97-2003 workbook: {e}"));
            return Ok(());
        }
        Err(ParseFailure::Panic(m)) => return Err(m.into()),
    };
    for sheet in &workbook.sheets {
        if cx.should_stop() {
            break;
        }
        let mut text = String::new();
        for chart_line in &sheet.chart_text {
            text.push_str(chart_line.trim());
            text.push('\n');
        }
        for row in &sheet.rows {
            let line_start = text.len();
            for (c, cell) in row.iter().enumerate() {
                if c > 0 {
                    text.push('\t');
                }
                push_cell(&mut text, cell);
            }
            let kept = text[line_start..].trim_end().len();
            text.truncate(line_start + kept);
            text.push('\n');
        }
        emit_chunked(cx, &sheet.name, PartRole::Body, text);
        let comments: String = sheet
            .comments
            .iter()
            .map(|c| format!("{}\n", c.text))
            .collect();
        cx.text(
            &format!("{}#comments", sheet.name),
            PartRole::Annotation,
            comments,
        );
    }
    let charts = workbook.chart_text().join("\n");
    cx.text("charts", PartRole::Body, charts);
    if workbook.truncated() {
        cx.unreadable(
            "",
            "Excel 97-2003 workbook: record limit reached, sheets missing",
        );
    }
    summary(workbook.summary_properties(), cx);
    Ok(())
}

/// A cell as its value, not its display format: an 18-digit resident ID typed as a number
/// must come out as digits, never `1.1E+17`.
fn push_cell(out: &mut String, cell: &CellValue) {
    use std::fmt::Write;
    match cell {
        CellValue::Number(n) if n.fract() == 0.0 && n.abs() < 1e21 => {
            let _ = write!(out, "{n:.0}");
        }
        CellValue::Number(n) => {
            let _ = write!(out, "{n}");
        }
        other => out.push_str(&other.as_text_cow()),
    }
}

fn ppt(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let parsed = guarded("PowerPoint 97-2003", || {
        PptDocument::from_reader(blob.open()?)
    });
    let deck = match parsed {
        Ok(d) => d,
        Err(ParseFailure::Error(PptError::Encrypted)) => {
            {
                let note = bank_not_tried(cx);
                cx.encrypted(
                    "",
                    format!("password-protected PowerPoint 97-2003 presentation{note}"),
                );
            }
            return Ok(());
        }
        Err(ParseFailure::Error(e)) => {
            cx.unreadable("", format!("PowerPoint 97-2003 presentation: {e}"));
            return Ok(());
        }
        Err(ParseFailure::Panic(m)) => return Err(m.into()),
    };
    for (i, slide) in deck.slides.iter().enumerate() {
        if cx.should_stop() {
            break;
        }
        let mut body = String::new();
        let mut notes = String::new();
        for run in &slide.text_runs {
            let target = if run.text_type == TextType::Notes {
                &mut notes
            } else {
                &mut body
            };
            target.push_str(&lines(&run.text));
            target.push('\n');
        }
        let n = i + 1;
        cx.text(&format!("slide {n}"), PartRole::Body, body);
        cx.text(&format!("slide {n}#notes"), PartRole::Annotation, notes);
    }
    let master: String = deck
        .master_text
        .iter()
        .map(|run| format!("{}\n", lines(&run.text)))
        .collect();
    cx.text("masters", PartRole::Body, master);
    if !deck.text_complete() {
        cx.unreadable("", "PowerPoint 97-2003 presentation: main stream truncated");
    }
    summary(deck.summary_properties(), cx);
    Ok(())
}

/// Word and PowerPoint end paragraphs with `\r` and soft breaks with `\v`; the pipeline
/// wants `\n`.
fn lines(text: &str) -> String {
    text.replace("\r\n", "\n").replace(['\r', '\u{b}'], "\n")
}

/// SummaryInformation: the title is a subject line, the rest is metadata.
fn summary(props: Option<&SummaryProperties>, cx: &mut Ctx<'_, '_>) {
    let Some(p) = props else { return };
    if let Some(title) = &p.title {
        cx.text(
            "SummaryInformation#title",
            PartRole::Subject,
            utf8_promoted(title.trim()),
        );
    }
    let mut meta = String::new();
    for value in [
        &p.subject,
        &p.author,
        &p.keywords,
        &p.comments,
        &p.last_author,
        &p.category,
        &p.manager,
        &p.company,
    ]
    .into_iter()
    .flatten()
    {
        let value = utf8_promoted(value.trim());
        if !value.is_empty() {
            meta.push_str(&value);
            meta.push('\n');
        }
    }
    cx.text("SummaryInformation", PartRole::Metadata, meta);
}

/// office_oxide decodes a property set in a code page it has no table for (LibreOffice writes
/// 65001, UTF-8) by promoting each byte to a char. Undo that exactly: when every char is a
/// byte and the bytes are valid UTF-8 with something beyond ASCII, the UTF-8 reading is the
/// real one.
fn utf8_promoted(text: &str) -> String {
    let bytes: Option<Vec<u8>> = text.chars().map(|c| u8::try_from(c).ok()).collect();
    match bytes {
        Some(bytes) if !bytes.is_ascii() => match String::from_utf8(bytes) {
            Ok(real) => real,
            Err(_) => text.to_owned(),
        },
        _ => text.to_owned(),
    }
}

/// Why the file cannot be read without its password, from the OLE streams alone, or `None`.
/// Legacy Office has no `EncryptionInfo` stream: each format flags encryption in its own
/// main stream.
fn encryption(ty: FileType, blob: &Blob) -> Option<String> {
    let mut file = cfb::CompoundFile::open(blob.open().ok()?).ok()?;
    match ty {
        FileType::Doc => {
            let fib = read_prefix(&mut file, "/WordDocument", 0x20)?;
            let flags = u16::from_le_bytes([*fib.get(0x0A)?, *fib.get(0x0B)?]);
            const F_ENCRYPTED: u16 = 0x0100;
            const F_OBFUSCATED: u16 = 0x8000;
            const F_WHICH_TBL_STM: u16 = 0x0200;
            if flags & F_ENCRYPTED == 0 {
                return None;
            }
            if flags & F_OBFUSCATED != 0 {
                return Some("password-protected Word 97-2003 document (XOR obfuscation)".into());
            }
            let table = if flags & F_WHICH_TBL_STM != 0 {
                "/1Table"
            } else {
                "/0Table"
            };
            let scheme = read_prefix(&mut file, table, 4)
                .map(|h| rc4_scheme(&h))
                .unwrap_or("RC4 / CryptoAPI");
            Some(format!(
                "password-protected Word 97-2003 document ({scheme})"
            ))
        }
        FileType::Xls => {
            let stream = if file.exists("/Workbook") {
                "/Workbook"
            } else {
                "/Book"
            };
            // FILEPASS sits in the globals substream, before the first sheet's BOF; a few
            // KB is always enough.
            let globals = read_prefix(&mut file, stream, 64 << 10)?;
            let payload = filepass(&globals)?;
            let scheme = match payload {
                [0, 0, ..] => "XOR obfuscation",
                [1, 0, rest @ ..] => rc4_scheme(rest),
                _ => "RC4 / CryptoAPI",
            };
            Some(format!(
                "password-protected Excel 97-2003 workbook ({scheme})"
            ))
        }
        FileType::Ppt => {
            // PowerPoint keeps a plain-text stub; the real summary goes to EncryptedSummary and
            // the document stream holds a CryptSession10Container.
            if file.exists("/EncryptedSummary") {
                return Some(
                    "password-protected PowerPoint 97-2003 presentation (RC4 CryptoAPI)".into(),
                );
            }
            None
        }
        _ => None,
    }
}

/// The RC4 flavour from an encryption header's version (`EncryptionVersionInfo`).
fn rc4_scheme(header: &[u8]) -> &'static str {
    match header {
        [1, 0, 1, 0, ..] => "RC4",
        [2..=4, 0, 2, 0, ..] => "RC4 CryptoAPI",
        _ => "RC4 / CryptoAPI",
    }
}

/// The payload of the FILEPASS record (type 0x002F) in BIFF8 globals, if any.
fn filepass(stream: &[u8]) -> Option<&[u8]> {
    const FILEPASS: u16 = 0x002F;
    const EOF: u16 = 0x000A;
    let mut at = 0usize;
    while at + 4 <= stream.len() {
        let kind = u16::from_le_bytes([stream[at], stream[at + 1]]);
        let len = usize::from(u16::from_le_bytes([stream[at + 2], stream[at + 3]]));
        let body = stream.get(at + 4..at + 4 + len)?;
        match kind {
            FILEPASS => return Some(body),
            EOF => return None,
            _ => at += 4 + len,
        }
    }
    None
}

fn read_prefix<F: Read + Seek>(
    file: &mut cfb::CompoundFile<F>,
    path: &str,
    max: u64,
) -> Option<Vec<u8>> {
    let stream = file.open_stream(path).ok()?;
    let mut out = Vec::new();
    stream.take(max).read_to_end(&mut out).ok()?;
    Some(out)
}
