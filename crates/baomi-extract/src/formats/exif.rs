//! Text hidden in an image's metadata: EXIF text fields (a photo's description, the Windows
//! "comment" of its properties dialog, artist, copyright), JPEG comment segments, PNG text
//! chunks and XMP packets. None of it is drawn in the pixels, so OCR never sees it, and it
//! travels with every copy of the photo. It is read without Tesseract: a build without OCR
//! still inspects it.
//!
//! Parts: `<image>#exif` (EXIF fields), `<image>#comment` (JPEG COM segments),
//! `<image>#text` (PNG tEXt/zTXt/iTXt chunks), `<image>#xmp` (XMP packet, tags stripped),
//! all [`PartRole::Metadata`]. Each line is `Field: value`.

use std::io::{Cursor, Read};

use baomi_core::PartRole;
use exif::{Context, In, Tag, Value};

use crate::{Blob, Ctx, FileType};

/// One field's text is cut here: a description is a sentence, not a document.
const MAX_FIELD_BYTES: usize = 64 << 10;
/// All metadata text of one image together.
const MAX_TOTAL_BYTES: usize = 1 << 20;
/// A compressed PNG text chunk inflates to at most this.
const MAX_INFLATED_BYTES: u64 = 1 << 20;
/// PNG chunks or JPEG segments looked at before giving up (IDAT streams can be long).
const MAX_CHUNKS: usize = 100_000;

/// EXIF text fields worth reading, in output order: (context, tag number, name).
const EXIF_TEXT_TAGS: &[(Context, u16, &str)] = &[
    (Context::Tiff, 0x010d, "DocumentName"),
    (Context::Tiff, 0x010e, "ImageDescription"),
    (Context::Tiff, 0x013b, "Artist"),
    (Context::Tiff, 0x8298, "Copyright"),
    (Context::Exif, 0x9286, "UserComment"),
    // Windows Explorer's properties dialog: UTF-16LE in BYTE fields of IFD0.
    (Context::Tiff, 0x9c9b, "XPTitle"),
    (Context::Tiff, 0x9c9c, "XPComment"),
    (Context::Tiff, 0x9c9d, "XPAuthor"),
    (Context::Tiff, 0x9c9e, "XPKeywords"),
    (Context::Tiff, 0x9c9f, "XPSubject"),
];

/// Emit the metadata text of an image of type `ty`. Problems are not findings: metadata is
/// optional and damaged metadata beside good pixels is common, so they are only logged.
pub fn extract(ty: FileType, blob: &Blob, cx: &mut Ctx<'_, '_>) {
    let bytes = match blob.bytes() {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::debug!(path = cx.path(), "image metadata not read: {e}");
            return;
        }
    };
    let found = read(ty, &bytes);
    for (sub, text) in [
        ("#exif", found.exif),
        ("#comment", found.comment),
        ("#text", found.text),
        ("#xmp", found.xmp),
    ] {
        cx.text(sub, PartRole::Metadata, text);
    }
}

/// Metadata text by kind, each `Field: value` lines.
#[derive(Debug, Default)]
pub struct ImageText {
    pub exif: String,
    pub comment: String,
    pub text: String,
    pub xmp: String,
}

impl ImageText {
    fn total(&self) -> usize {
        self.exif.len() + self.comment.len() + self.text.len() + self.xmp.len()
    }
}

/// Append `name: value` to `out` unless the value is empty or the budget is spent.
fn push_line(out: &mut String, used: usize, name: &str, value: &str) {
    let value = value.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    if value.is_empty() || used + out.len() >= MAX_TOTAL_BYTES {
        return;
    }
    let value = truncate(value, MAX_FIELD_BYTES);
    out.push_str(name);
    out.push_str(": ");
    out.push_str(value);
    out.push('\n');
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The metadata text of an image of type `ty`, read from its bytes without a walker
/// (what [`extract`] emits; the fuzz target calls it directly).
pub fn read(ty: FileType, bytes: &[u8]) -> ImageText {
    let mut found = ImageText {
        exif: read_exif(bytes),
        ..ImageText::default()
    };
    match ty {
        FileType::Jpeg => read_jpeg_segments(bytes, &mut found),
        FileType::Png => read_png_chunks(bytes, &mut found),
        _ => {}
    }
    found
}

/// EXIF text fields of the primary image (IFD0 and its Exif IFD); the thumbnail's IFD1
/// repeats them at most.
fn read_exif(bytes: &[u8]) -> String {
    let mut reader = exif::Reader::new();
    reader.continue_on_error(true);
    let parsed = reader
        .read_from_container(&mut Cursor::new(bytes))
        .or_else(|e| {
            e.distill_partial_result(|errors| {
                tracing::debug!("EXIF partly damaged: {} errors", errors.len());
            })
        });
    let exif = match parsed {
        Ok(exif) => exif,
        Err(e) => {
            // Most images simply have none.
            tracing::trace!("no EXIF: {e}");
            return String::new();
        }
    };
    let mut out = String::new();
    for &(context, number, name) in EXIF_TEXT_TAGS {
        let Some(field) = exif.get_field(Tag(context, number), In::PRIMARY) else {
            continue;
        };
        let value = match (&field.value, number) {
            (Value::Ascii(lines), _) => lines
                .iter()
                .map(|line| decode_8bit(line))
                .collect::<Vec<_>>()
                .join("\n"),
            (Value::Byte(raw), 0x9c9b..=0x9c9f) | (Value::Undefined(raw, _), 0x9c9b..=0x9c9f) => {
                decode_utf16(raw, true)
            }
            (Value::Undefined(raw, _), 0x9286) => decode_user_comment(raw, exif.little_endian()),
            (Value::Byte(raw), _) | (Value::Undefined(raw, _), _) => decode_8bit(raw),
            _ => continue,
        };
        push_line(&mut out, 0, name, &value);
    }
    out
}

/// EXIF UserComment: an 8-byte character code, then the text.
fn decode_user_comment(raw: &[u8], little_endian: bool) -> String {
    let (code, text) = raw.split_at(raw.len().min(8));
    match code {
        b"UNICODE\0" => decode_utf16(text, little_endian),
        // JIS X 0208; writers that use it emit ISO-2022-JP escape sequences.
        b"JIS\0\0\0\0\0" => encoding_rs::ISO_2022_JP
            .decode_without_bom_handling(text)
            .0
            .into_owned(),
        // ASCII, or undefined (all zeros): in practice UTF-8 or the local code page.
        b"ASCII\0\0\0" | [0, 0, 0, 0, 0, 0, 0, 0] => decode_8bit(text),
        // No valid prefix: some writers put bare text here.
        _ => decode_8bit(raw),
    }
}

/// UTF-16 in the given byte order, unless a byte order mark says otherwise; NULs trimmed.
fn decode_utf16(raw: &[u8], little_endian: bool) -> String {
    let (encoding, body) = match raw {
        [0xff, 0xfe, rest @ ..] => (encoding_rs::UTF_16LE, rest),
        [0xfe, 0xff, rest @ ..] => (encoding_rs::UTF_16BE, rest),
        _ if little_endian => (encoding_rs::UTF_16LE, raw),
        _ => (encoding_rs::UTF_16BE, raw),
    };
    let body = &body[..body.len() & !1];
    encoding
        .decode_without_bom_handling(body)
        .0
        .trim_end_matches('\0')
        .to_owned()
}

/// Bytes that are nominally ASCII or Latin-1 but, from Chinese software, are UTF-8 or GBK.
pub(crate) fn decode_8bit(raw: &[u8]) -> String {
    let raw = match raw.iter().rposition(|&b| b != 0) {
        Some(last) => &raw[..=last],
        None => return String::new(),
    };
    if let Ok(text) = std::str::from_utf8(raw) {
        return text.to_owned();
    }
    let (gbk, _, had_errors) = encoding_rs::GB18030.decode(raw);
    if !had_errors {
        return gbk.into_owned();
    }
    raw.iter().map(|&b| b as char).collect()
}

const XMP_APP1: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";

/// JPEG COM segments and the XMP APP1 segment, up to the start of the scan.
fn read_jpeg_segments(bytes: &[u8], found: &mut ImageText) {
    if !bytes.starts_with(&[0xff, 0xd8]) {
        return;
    }
    let mut at = 2;
    for _ in 0..MAX_CHUNKS {
        // Markers may be padded with any number of 0xFF bytes.
        while bytes.get(at) == Some(&0xff) && bytes.get(at + 1) == Some(&0xff) {
            at += 1;
        }
        let (Some(&0xff), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) else {
            return;
        };
        at += 2;
        // Standalone markers carry no length.
        if marker == 0x01 || (0xd0..=0xd7).contains(&marker) {
            continue;
        }
        if marker == 0xd9 || marker == 0xda {
            // End of image, or start of scan: entropy-coded data follows, no more metadata.
            return;
        }
        let Some(len) = bytes
            .get(at..at + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        else {
            return;
        };
        if len < 2 {
            return;
        }
        let body = &bytes[(at + 2).min(bytes.len())..(at + len).min(bytes.len())];
        let used = found.total();
        match marker {
            0xfe => push_line(&mut found.comment, used, "Comment", &decode_8bit(body)),
            0xe1 if body.starts_with(XMP_APP1) => {
                push_xmp(&mut found.xmp, used, &body[XMP_APP1.len()..]);
            }
            _ => {}
        }
        at += len;
    }
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// PNG tEXt, zTXt and iTXt chunks (keyword: text); XMP in iTXt goes to the XMP part.
fn read_png_chunks(bytes: &[u8], found: &mut ImageText) {
    if !bytes.starts_with(PNG_SIGNATURE) {
        return;
    }
    let mut at = PNG_SIGNATURE.len();
    for _ in 0..MAX_CHUNKS {
        let Some(head) = bytes.get(at..at + 8) else {
            return;
        };
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind = &head[4..8];
        let start = at + 8;
        let Some(data) = start.checked_add(len).and_then(|end| bytes.get(start..end)) else {
            return;
        };
        if kind == b"IEND" {
            return;
        }
        let used = found.total();
        match kind {
            b"tEXt" => {
                if let Some((keyword, text)) = split_keyword(data) {
                    push_png_text(found, used, &keyword, &decode_8bit(text));
                }
            }
            b"zTXt" => {
                if let Some((keyword, rest)) = split_keyword(data)
                    && let [0, compressed @ ..] = rest
                    && let Some(text) = inflate(compressed)
                {
                    push_png_text(found, used, &keyword, &decode_8bit(&text));
                }
            }
            b"iTXt" => {
                if let Some((keyword, text)) = itxt_text(data) {
                    if keyword == "XML:com.adobe.xmp" {
                        push_xmp(&mut found.xmp, used, text.as_bytes());
                    } else {
                        push_png_text(found, used, &keyword, &text);
                    }
                }
            }
            _ => {}
        }
        // Length, type, data, CRC.
        at = start + len + 4;
    }
}

fn push_png_text(found: &mut ImageText, used: usize, keyword: &str, text: &str) {
    // ImageMagick's hex dumps of embedded profiles are not text; the EXIF in them is also
    // in an eXIf chunk when it matters (kamadak-exif reads that).
    // `date:create` and `date:modify` are ImageMagick's file times, on every PNG it writes.
    if keyword.starts_with("Raw profile type") || keyword.starts_with("date:") {
        return;
    }
    push_line(&mut found.text, used, keyword, text);
}

/// `keyword\0rest` with a Latin-1 keyword of 1–79 bytes.
fn split_keyword(data: &[u8]) -> Option<(String, &[u8])> {
    let nul = memchr::memchr(0, &data[..data.len().min(80)])?;
    let keyword = data[..nul].iter().map(|&b| b as char).collect();
    Some((keyword, &data[nul + 1..]))
}

/// iTXt: keyword, compression flag and method, language tag, translated keyword, UTF-8 text.
fn itxt_text(data: &[u8]) -> Option<(String, String)> {
    let (keyword, rest) = split_keyword(data)?;
    let [flag, method, rest @ ..] = rest else {
        return None;
    };
    let language_end = memchr::memchr(0, rest)?;
    let rest = &rest[language_end + 1..];
    let translated_end = memchr::memchr(0, rest)?;
    let translated = String::from_utf8_lossy(&rest[..translated_end]).into_owned();
    let body = &rest[translated_end + 1..];
    let text = match (flag, method) {
        (0, _) => String::from_utf8_lossy(body).into_owned(),
        (1, 0) => String::from_utf8_lossy(&inflate(body)?).into_owned(),
        _ => return None,
    };
    let keyword = if translated.trim().is_empty() {
        keyword
    } else {
        format!("{keyword} ({})", translated.trim())
    };
    Some((keyword, text))
}

/// zlib data, inflated to at most [`MAX_INFLATED_BYTES`] (a bomb is cut, not refused).
fn inflate(compressed: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_INFLATED_BYTES)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

/// The values of an XMP packet, `XMP: value` lines.
pub(crate) fn xmp_text(packet: &[u8]) -> String {
    let mut out = String::new();
    push_xmp(&mut out, 0, packet);
    out
}

/// The text content of an XMP packet: element text and attribute values, one per line.
/// Tag names, namespaces and whitespace-only text are dropped, and so are identifiers
/// (`xmpMM:DocumentID`, `stRef:instanceID`, `uuid:…`, `xmp.did:…`): their long hex runs
/// would be read as bank-card or ID numbers.
fn push_xmp(out: &mut String, used: usize, packet: &[u8]) {
    let packet = super::xml::decode(packet);
    let mut values = Vec::new();
    // Local name of the element whose text comes next.
    let mut element = String::new();
    // A damaged packet still gives what was read before the damage.
    let _ = super::xml::walk(&packet, |node| match node {
        super::xml::Node::Text(text) => {
            if !is_identifier(&element, text) {
                values.push(text.to_owned());
            }
        }
        super::xml::Node::Open(e) => {
            element = super::xml::local_name(e).to_owned();
            for attribute in e.attributes().with_checks(false).flatten() {
                let key = attribute.key.as_ref();
                if key.starts_with("xmlns") || key == "rdf:about" || key == "xml:lang" {
                    continue;
                }
                let value = attribute
                    .normalized_value(quick_xml::XmlVersion::default())
                    .map(std::borrow::Cow::into_owned)
                    .unwrap_or_else(|_| attribute.value.to_string());
                if !is_identifier(super::xml::local(key), &value) {
                    values.push(value);
                }
            }
        }
        super::xml::Node::Close(_) => element.clear(),
    });
    for value in values {
        push_line(out, used, "XMP", &value);
    }
}

/// An XMP document or instance identifier, by its property name or its value's scheme.
fn is_identifier(name: &str, value: &str) -> bool {
    const SCHEMES: &[&str] = &["uuid:", "xmp.did:", "xmp.iid:", "adobe:docid:", "did:"];
    name.ends_with("ID")
        || name.ends_with("Id")
        || SCHEMES
            .iter()
            .any(|scheme| value.trim_start().starts_with(scheme))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xmp_values_without_markup() {
        let mut out = String::new();
        push_xmp(
            &mut out,
            0,
            r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/" xmp:Label="a &amp; b" xmpMM:DocumentID="0180117407206811822AA5F1D8A8DC3B"><xmpMM:InstanceID>4539578763621486</xmpMM:InstanceID><rdf:Seq><rdf:li>xmp.did:4539578763621486</rdf:li></rdf:Seq><dc:description><rdf:Alt><rdf:li xml:lang="x-default">&#26426;密★1年</rdf:li></rdf:Alt></dc:description></rdf:Description></rdf:RDF>"#
                .as_bytes(),
        );
        assert_eq!(out, "XMP: a & b\nXMP: 机密★1年\n");
    }

    #[test]
    fn user_comment_charsets() {
        let mut unicode_le = b"UNICODE\0".to_vec();
        for unit in "机密★5年".encode_utf16() {
            unicode_le.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(decode_user_comment(&unicode_le, true), "机密★5年");
        let mut unicode_be = b"UNICODE\0".to_vec();
        for unit in "内部资料".encode_utf16() {
            unicode_be.extend_from_slice(&unit.to_be_bytes());
        }
        assert_eq!(decode_user_comment(&unicode_be, false), "内部资料");
        let mut ascii = b"ASCII\0\0\0".to_vec();
        ascii.extend_from_slice("秘密★1年".as_bytes());
        assert_eq!(decode_user_comment(&ascii, true), "秘密★1年");
        let mut undefined = vec![0u8; 8];
        let (gbk, _, _) = encoding_rs::GBK.encode("工作秘密");
        undefined.extend_from_slice(&gbk);
        assert_eq!(decode_user_comment(&undefined, true), "工作秘密");
        let mut jis = b"JIS\0\0\0\0\0".to_vec();
        jis.extend_from_slice(b"\x1b$B5!L)\x1b(B");
        assert_eq!(decode_user_comment(&jis, true), "機密");
        // Shorter than its prefix: no panic, whatever it says.
        assert_eq!(decode_user_comment(b"UNI", true), "UNI");
        assert_eq!(decode_user_comment(b"", true), "");
    }

    #[test]
    fn odd_utf16_lengths_and_boms() {
        let mut raw = vec![0xfe, 0xff];
        for unit in "机密".encode_utf16() {
            raw.extend_from_slice(&unit.to_be_bytes());
        }
        raw.push(0x41);
        assert_eq!(decode_utf16(&raw, true), "机密");
        assert_eq!(decode_utf16(&[0x41], true), "");
    }

    #[test]
    fn truncated_and_garbage_containers_do_not_panic() {
        let mut png = PNG_SIGNATURE.to_vec();
        png.extend_from_slice(&[0xff, 0xff, 0xff, 0xf0]);
        png.extend_from_slice(b"tEXtComment\0x");
        let found = read(FileType::Png, &png);
        assert!(found.text.is_empty());
        let jpeg = [0xff, 0xd8, 0xff, 0xfe, 0xff, 0xff, b'a'];
        let found = read(FileType::Jpeg, &jpeg);
        assert_eq!(found.comment, "Comment: a\n");
        for len in 0..jpeg.len() {
            read(FileType::Jpeg, &jpeg[..len]);
        }
        read(FileType::Jpeg, &[0xff, 0xd8, 0xff, 0xfe, 0x00, 0x00]);
        read(FileType::Tiff, b"II*\0\xff\xff\xff\xff");
    }

    #[test]
    fn png_text_chunks_of_all_three_kinds() {
        fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
            let mut out = (data.len() as u32).to_be_bytes().to_vec();
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            out.extend_from_slice(&[0; 4]);
            out
        }
        let mut png = PNG_SIGNATURE.to_vec();
        png.extend(chunk(b"tEXt", b"Title\0Plain"));
        let mut z = b"Comment\0\0".to_vec();
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), Default::default());
        std::io::Write::write_all(&mut encoder, "秘密★6个月".as_bytes()).unwrap();
        z.extend(encoder.finish().unwrap());
        png.extend(chunk(b"zTXt", &z));
        let mut i = b"Description\0\0\0zh\0\xe8\xaf\xb4\xe6\x98\x8e\0".to_vec();
        i.extend_from_slice("内部资料 注意保存".as_bytes());
        png.extend(chunk(b"iTXt", &i));
        png.extend(chunk(b"IEND", b""));
        let found = read(FileType::Png, &png);
        assert_eq!(
            found.text,
            "Title: Plain\nComment: 秘密★6个月\nDescription (说明): 内部资料 注意保存\n"
        );
    }
}
