//! De-identification for publishing (数据脱敏): personal data masked in the content itself.
//!
//! [`redact`] takes a document, finds personal data with the engine's own detector
//! (`baomi_core::detect::pii`, on normalised text, so full-width digits and spacing tricks
//! count) and writes a copy in which each finding is replaced by its masked form
//! (`baomi_core::mask`: `110105********002X`, `138****5678`, `z***@example.com`). Everything
//! else stays as it was: the encoding of a text file, the markup of an HTML page byte for
//! byte, the runs and their formatting in a Word document, the other entries of an Office
//! package.
//!
//! Formats: plain text (UTF-8 with or without BOM, UTF-16, GBK/GB18030 and the other legacy
//! encodings the extractor guesses), HTML, DOCX, XLSX. PDF is refused: masking text in a PDF
//! truly (out of the content stream, not a box drawn over it) is not done here, so the error
//! says to convert to DOCX first. Pictures are never redacted (personal data in a photo or a
//! scan stays), and names of people are not detected; see README.md.

use std::collections::BTreeMap;
use std::fmt;

use baomi_core::FindingKind;
use baomi_extract::{Blob, FileType};

mod html;
mod markup;
mod ooxml;
mod stream;
mod text;

use stream::Redactor;

/// Inputs above this are refused rather than held several times in memory.
pub const MAX_INPUT: usize = 512 << 20;

/// What kind of document was redacted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Plain text, written back in the encoding it came in (`UTF-8`, `GBK`, `UTF-16LE`, …).
    Text {
        encoding: &'static str,
    },
    Html {
        encoding: &'static str,
    },
    /// Generic XML (every text node).
    Xml,
    Docx,
    Xlsx,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::Text { encoding } => write!(f, "text ({encoding})"),
            Format::Html { encoding } => write!(f, "HTML ({encoding})"),
            Format::Xml => f.write_str("XML"),
            Format::Docx => f.write_str("DOCX"),
            Format::Xlsx => f.write_str("XLSX"),
        }
    }
}

/// The redacted copy and what was done to it. Holds no personal data but the output bytes
/// themselves (counts only, never values).
#[derive(Debug)]
pub struct Redacted {
    pub bytes: Vec<u8>,
    pub format: Format,
    /// Findings masked.
    pub replaced: usize,
    pub by_kind: BTreeMap<FindingKind, usize>,
    /// Things left as they were that may still hold personal data (pictures, embedded objects
    /// of formats not redacted), by part name.
    pub not_redacted: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    /// A format this crate does not redact; the message says what to do instead.
    #[error("{0}")]
    Unsupported(String),
    /// Password-protected or with encrypted entries: the content cannot be read.
    #[error("{0}")]
    Encrypted(String),
    /// Truncated or damaged input.
    #[error("{0}")]
    Corrupt(String),
    #[error("{0}")]
    TooLarge(String),
}

fn unsupported(what: &str) -> RedactError {
    RedactError::Unsupported(what.to_owned())
}

/// Redact the document `bytes` named `name` (the name only helps tell HTML from other XML;
/// the type is found from the content).
///
/// Never panics on bad input: a parser bug caught here becomes an error, since a user's
/// document must get a message, not a crash.
pub fn redact(bytes: &[u8], name: &str) -> Result<Redacted, RedactError> {
    let run = || redact_with(&Redactor::new(), bytes, name, 0);
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or_else(|_| {
        Err(RedactError::Corrupt(
            "internal error while reading the document; it was not redacted".to_owned(),
        ))
    })
}

/// Nesting of embedded documents redacted inside a package.
const MAX_DEPTH: u32 = 3;

fn redact_with(
    r: &Redactor,
    bytes: &[u8],
    name: &str,
    depth: u32,
) -> Result<Redacted, RedactError> {
    if bytes.len() > MAX_INPUT {
        return Err(RedactError::TooLarge(format!(
            "{} bytes: larger than the {} MiB that redaction handles",
            bytes.len(),
            MAX_INPUT >> 20
        )));
    }
    let ty = baomi_extract::sniff::sniff(&Blob::from_vec(bytes.to_vec()));
    let declared = baomi_extract::sniff::declared_type(name);
    use FileType::*;
    match ty {
        Text => text::redact(r, bytes),
        Html => html::redact(r, bytes, true),
        Xml if declared == Some(Html) => html::redact(r, bytes, true),
        Xml => html::redact(r, bytes, false),
        Docx | Xlsx => ooxml::redact(r, bytes, ty, depth),
        Pdf => Err(unsupported(
            "PDF: not supported, convert to DOCX first (Baomi does not draw boxes over text \
             that stays in the file)",
        )),
        EncryptedOoxml => Err(RedactError::Encrypted(
            "the document is password-protected: open it, remove the password, save, and \
             redact that copy"
                .to_owned(),
        )),
        Zip => Err(ooxml::explain_zip(bytes, declared)),
        Empty => Err(unsupported("empty input: nothing to redact")),
        Pptx => Err(unsupported(
            "PPTX: not supported yet, export the text to DOCX",
        )),
        Doc | Xls | Ppt | Ole => Err(unsupported(
            "legacy Office/WPS binary format: not supported, save as DOCX or XLSX first",
        )),
        Odt | Ods | Odp => Err(unsupported(
            "OpenDocument: not supported, save as DOCX or XLSX first",
        )),
        Rtf => Err(unsupported("RTF: not supported, save as DOCX first")),
        Png | Jpeg | Gif | Bmp | Tiff | Webp => Err(unsupported(
            "image: personal data in a picture cannot be redacted; cover it in an image \
             editor",
        )),
        other => Err(RedactError::Unsupported(format!(
            "{}: not a document format that can be redacted (text, HTML, DOCX, XLSX)",
            other.as_str()
        ))),
    }
}

fn finish(bytes: Vec<u8>, format: Format, edits: stream::Edits, notes: Vec<String>) -> Redacted {
    Redacted {
        bytes,
        format,
        replaced: edits.total(),
        by_kind: edits.by_kind,
        not_redacted: notes,
    }
}
