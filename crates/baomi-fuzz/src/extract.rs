//! Targets of `baomi-extract`: sniffing, the walker, each format, image metadata, text
//! encodings.
//!
//! A direct target opens its input as one format without sniffing (nested objects are
//! still sniffed and walked). A family target (compressors, OOXML, ODF, legacy Office,
//! markup, images) takes the member the input sniffs as, and otherwise one chosen by the
//! input's length, so mutants that no longer sniff right still reach a parser.

use std::time::Duration;

use baomi_core::{Finding, Part};
use baomi_extract::formats::{exif as exif_format, text};
use baomi_extract::{Blob, FileType, Limits, Sink, sniff};

/// The default limits with a shorter clock: libFuzzer's 10 s timeout stays the backstop.
pub(crate) fn limits() -> Limits {
    Limits {
        max_time: Duration::from_secs(5),
        ..Limits::default()
    }
}

/// Counts what the walker hands out and checks it against the limits it promises.
#[derive(Default)]
pub(crate) struct Check {
    pub parts: u64,
    pub findings: u64,
}

impl Sink for Check {
    fn part(&mut self, part: Part) {
        self.parts += 1;
        assert!(!part.path.is_empty(), "a part without a path");
    }
    fn finding(&mut self, _finding: Finding) {
        self.findings += 1;
    }
}

fn walk_as(ty: Option<FileType>, data: &[u8], name: &str) {
    let limits = limits();
    let mut sink = Check::default();
    let blob = Blob::from_vec(data.to_vec());
    let summary = match ty {
        Some(ty) => baomi_extract::extract_as(ty, blob, name, &limits, &mut sink),
        None => baomi_extract::extract(blob, name, &limits, &mut sink),
    };
    assert_eq!(summary.size, data.len() as u64, "summary of another object");
    // Parts and nested objects share the budget; findings about the budget itself may
    // follow the last part, so only parts are bounded here.
    assert!(
        sink.parts <= limits.max_parts + 1,
        "{} parts > max_parts {}",
        sink.parts,
        limits.max_parts
    );
}

/// One member of a family: the sniffed type when it is one, else one picked by length.
fn member(data: &[u8], family: &[FileType]) -> FileType {
    let sniffed = sniff::sniff(&Blob::from_vec(data.to_vec()));
    if family.contains(&sniffed) {
        sniffed
    } else {
        family[data.len() % family.len()]
    }
}

/// A name from the input's last bytes: sniffing and the type-mismatch checks read names.
fn name_of(data: &[u8]) -> String {
    let tail = &data[data.len().saturating_sub(12)..];
    let tail = String::from_utf8_lossy(tail);
    format!("upload{tail}")
}

pub(crate) fn sniff(data: &[u8]) {
    let blob = Blob::from_vec(data.to_vec());
    let ty = sniff::sniff(&blob);
    let name = String::from_utf8_lossy(data);
    let declared = sniff::declared_type(&name);
    if let Some(d) = declared {
        let _ = sniff::compatible(d, ty);
    }
    let _ = sniff::generic_extension(&name);
    let _ = sniff::is_office_temp_copy(&name);
    let _ = sniff::is_zip_based_extension(&name);
}

pub(crate) fn walk(data: &[u8]) {
    walk_as(None, data, &name_of(data));
}

pub(crate) fn zip(data: &[u8]) {
    walk_as(Some(FileType::Zip), data, "fuzz.zip");
}

pub(crate) fn tar(data: &[u8]) {
    walk_as(Some(FileType::Tar), data, "fuzz.tar");
}

pub(crate) fn sevenz(data: &[u8]) {
    walk_as(Some(FileType::SevenZ), data, "fuzz.7z");
}

pub(crate) fn rar(data: &[u8]) {
    walk_as(Some(FileType::Rar), data, "fuzz.rar");
}

pub(crate) fn compress(data: &[u8]) {
    use FileType::*;
    let ty = member(data, &[Gzip, Bzip2, Xz, Zstd]);
    walk_as(Some(ty), data, "fuzz.bin");
}

pub(crate) fn ooxml(data: &[u8]) {
    use FileType::*;
    let ty = member(data, &[Docx, Xlsx, Pptx]);
    walk_as(Some(ty), data, "fuzz.docx");
}

pub(crate) fn odf(data: &[u8]) {
    use FileType::*;
    let ty = member(data, &[Odt, Ods, Odp]);
    walk_as(Some(ty), data, "fuzz.odt");
}

pub(crate) fn ofd(data: &[u8]) {
    walk_as(Some(FileType::Ofd), data, "fuzz.ofd");
}

pub(crate) fn rtf(data: &[u8]) {
    walk_as(Some(FileType::Rtf), data, "fuzz.rtf");
}

pub(crate) fn pdf(data: &[u8]) {
    walk_as(Some(FileType::Pdf), data, "fuzz.pdf");
}

pub(crate) fn markup(data: &[u8]) {
    use FileType::*;
    let ty = member(data, &[Html, Xml]);
    walk_as(Some(ty), data, "fuzz.html");
}

pub(crate) fn mail(data: &[u8]) {
    walk_as(Some(FileType::Eml), data, "fuzz.eml");
}

pub(crate) fn mbox(data: &[u8]) {
    walk_as(Some(FileType::Mbox), data, "fuzz.mbox");
}

pub(crate) fn msg(data: &[u8]) {
    walk_as(Some(FileType::Msg), data, "fuzz.msg");
}

pub(crate) fn legacy(data: &[u8]) {
    use FileType::*;
    let ty = member(data, &[Doc, Xls, Ppt, Ole, EncryptedOoxml]);
    walk_as(Some(ty), data, "fuzz.doc");
}

/// EXIF, JPEG comments, PNG text chunks and XMP, without decoding pixels.
pub(crate) fn exif(data: &[u8]) {
    use FileType::*;
    let ty = member(data, &[Jpeg, Png, Tiff, Webp]);
    let found = exif_format::read(ty, data);
    for text in [&found.exif, &found.comment, &found.text, &found.xmp] {
        assert!(
            text.len() <= 2 << 20,
            "{} bytes of metadata text",
            text.len()
        );
    }
}

/// Image decoding for OCR (and, with the `ocr` feature, Tesseract on the pixels).
pub(crate) fn image(data: &[u8]) {
    use FileType::*;
    let ty = member(data, &[Png, Jpeg, Gif, Bmp, Tiff, Webp]);
    walk_as(Some(ty), data, "fuzz.png");
}

/// Encoding detection and decoding, then the plain-text path (JSON and `\u` escapes
/// included).
pub(crate) fn encoding(data: &[u8]) {
    let enc = text::detect_encoding(data, true);
    let decoded = text::decode_all(data, enc);
    assert!(
        decoded.len() <= data.len() * 3 + 3,
        "{} bytes decoded from {}",
        decoded.len(),
        data.len()
    );
    if data.len() > 1 {
        let _ = text::detect_encoding(&data[..data.len() / 2], false);
    }
    walk_as(Some(FileType::Text), data, "fuzz.txt");
}
