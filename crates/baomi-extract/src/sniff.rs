//! True type by content, and declared type by name.
//!
//! [`sniff`] never trusts the name: it reads the head of the object (and, for zip and OLE
//! containers, their directories) to say what the object really is. [`declared_type`] says
//! what the name claims, and [`compatible`] whether the two may honestly go together — a
//! `.docx` that is really a JPEG, or a renamed archive, is a `type_mismatch` finding.

use std::io::{Read, Seek};
use std::panic::{AssertUnwindSafe, catch_unwind};

use file_format::FileFormat;

use crate::{Blob, FileType};

/// How much of the head is read for magic numbers and text heuristics.
const HEAD_LEN: usize = 8 << 10;

/// The true type of a blob, from its content only.
pub fn sniff(blob: &Blob) -> FileType {
    if blob.is_empty() {
        return FileType::Empty;
    }
    let head = match blob.head(HEAD_LEN) {
        Ok(head) => head,
        // An object we cannot even read is as opaque as an unknown binary.
        Err(_) => return FileType::Binary,
    };
    let truncated = (head.len() as u64) < blob.len();
    if let Some(ty) = sniff_magic(&head) {
        // Sniffing runs outside the walker's panic guard, and the container probes parse
        // untrusted directories: a parser panic must only cost us the subtype.
        let probe =
            |f: fn(&Blob) -> FileType| catch_unwind(AssertUnwindSafe(|| f(blob))).unwrap_or(ty);
        return match ty {
            FileType::Zip => probe(zip_subtype),
            FileType::Ole => probe(ole_subtype),
            other => other,
        };
    }
    sniff_text(&head, truncated)
}

/// Formats recognised by a fixed signature in the head.
fn sniff_magic(head: &[u8]) -> Option<FileType> {
    use FileType::*;
    let starts = |sig: &[u8]| head.starts_with(sig);
    let ty = if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") || starts(b"PK\x07\x08") {
        Zip
    } else if starts(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        Ole
    } else if starts(&[0x1F, 0x8B]) {
        Gzip
    } else if head.len() >= 4 && starts(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
        Bzip2
    } else if starts(&[0xFD, b'7', b'z', b'X', b'Z', 0x00]) {
        Xz
    } else if starts(&[0x28, 0xB5, 0x2F, 0xFD]) {
        Zstd
    } else if starts(&[b'7', b'z', 0xBC, 0xAF, 0x27, 0x1C]) {
        SevenZ
    } else if starts(b"Rar!\x1a\x07\x00") || starts(b"Rar!\x1a\x07\x01\x00") {
        Rar
    } else if is_tar(head) {
        Tar
    } else if starts(b"%PDF-") || pdf_marker_near_start(head) {
        Pdf
    } else if starts(b"{\\rtf") {
        Rtf
    } else if starts(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Png
    } else if starts(&[0xFF, 0xD8, 0xFF]) {
        Jpeg
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Gif
    } else if starts(b"II*\x00") || starts(b"MM\x00*") {
        Tiff
    } else if head.len() >= 12 && starts(b"RIFF") && &head[8..12] == b"WEBP" {
        Webp
    } else if is_bmp(head) {
        Bmp
    } else {
        return None;
    };
    Some(ty)
}

/// PDF readers accept `%PDF-` anywhere in the first KiB (some generators prepend junk).
fn pdf_marker_near_start(head: &[u8]) -> bool {
    memchr::memmem::find(&head[..head.len().min(1024)], b"%PDF-").is_some()
        && has_binary_controls(head)
}

/// `ustar` magic at offset 257 (POSIX `ustar\0`, GNU `ustar  \0`), or a v7 header whose
/// checksum is right.
fn is_tar(head: &[u8]) -> bool {
    if head.len() < 512 {
        return false;
    }
    if &head[257..262] == b"ustar" {
        return true;
    }
    // Old v7 tar has no magic; its header checksum (field at 148..156) still holds.
    let Some(stored) = parse_octal(&head[148..156]) else {
        return false;
    };
    let sum: u64 = head[..512]
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as u64
            }
        })
        .sum();
    head[0] != 0 && stored == sum
}

fn parse_octal(field: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(field).ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() {
        return None;
    }
    u64::from_str_radix(s, 8).ok()
}

/// "BM" alone is too weak (text can start with it): also check the reserved fields and the
/// DIB header size.
fn is_bmp(head: &[u8]) -> bool {
    if head.len() < 18 || !head.starts_with(b"BM") {
        return false;
    }
    let reserved_zero = head[6..10].iter().all(|&b| b == 0);
    let dib = u32::from_le_bytes([head[14], head[15], head[16], head[17]]);
    reserved_zero && matches!(dib, 12 | 16 | 40 | 52 | 56 | 64 | 108 | 124)
}

/// Zip-based formats, told apart by their entries: OOXML (`[Content_Types].xml` with
/// `word/`, `xl/` or `ppt/`), ODF (`mimetype` entry), OFD (`OFD.xml`), else plain zip.
fn zip_subtype(blob: &Blob) -> FileType {
    let Ok(reader) = blob.open() else {
        return FileType::Zip;
    };
    match zip_subtype_from_directory(reader) {
        Some(ty) => ty,
        // A zip our reader cannot open may still be recognisable to file-format's own
        // central-directory scan; otherwise it stays a zip (and fails to open as one).
        None => blob
            .open()
            .ok()
            .and_then(|r| FileFormat::from_reader(r).ok())
            .map(|f| match f {
                FileFormat::OfficeOpenXmlDocument => FileType::Docx,
                FileFormat::OfficeOpenXmlSpreadsheet => FileType::Xlsx,
                FileFormat::OfficeOpenXmlPresentation => FileType::Pptx,
                _ => FileType::Zip,
            })
            .unwrap_or(FileType::Zip),
    }
}

fn zip_subtype_from_directory<R: Read + Seek>(reader: R) -> Option<FileType> {
    let mut archive = zip::ZipArchive::new(reader).ok()?;
    let (mut content_types, mut word, mut xl, mut ppt, mut ofd, mut mimetype) =
        (false, false, false, false, false, false);
    for name in archive.file_names() {
        let Ok(name) = name else { continue };
        match name.as_ref() {
            "[Content_Types].xml" => content_types = true,
            "OFD.xml" => ofd = true,
            "mimetype" => mimetype = true,
            _ if name.starts_with("word/") => word = true,
            _ if name.starts_with("xl/") => xl = true,
            _ if name.starts_with("ppt/") => ppt = true,
            _ => {}
        }
    }
    if content_types && word {
        return Some(FileType::Docx);
    }
    if content_types && xl {
        return Some(FileType::Xlsx);
    }
    if content_types && ppt {
        return Some(FileType::Pptx);
    }
    if ofd {
        return Some(FileType::Ofd);
    }
    if mimetype {
        let mut value = Vec::new();
        if let Ok(entry) = archive.by_name("mimetype") {
            // The mimetype entry is a few dozen bytes; never read more than a line's worth.
            let _ = entry.take(128).read_to_end(&mut value);
        }
        let value = String::from_utf8_lossy(&value);
        let value = value.trim();
        if let Some(kind) = value.strip_prefix("application/vnd.oasis.opendocument.") {
            if kind.starts_with("text") {
                return Some(FileType::Odt);
            }
            if kind.starts_with("spreadsheet") {
                return Some(FileType::Ods);
            }
            if kind.starts_with("presentation") {
                return Some(FileType::Odp);
            }
        }
    }
    Some(FileType::Zip)
}

/// OLE compound files: encrypted OOXML, Word, Excel, PowerPoint, Outlook message, or other
/// (WPS, Visio, …), told apart by their streams.
fn ole_subtype(blob: &Blob) -> FileType {
    let Ok(reader) = blob.open() else {
        return FileType::Ole;
    };
    let Ok(file) = cfb::CompoundFile::open(reader) else {
        return FileType::Ole;
    };
    let has = |name: &str| file.exists(format!("/{name}"));
    if has("EncryptionInfo") && has("EncryptedPackage") {
        return FileType::EncryptedOoxml;
    }
    if has("WordDocument") {
        return FileType::Doc;
    }
    if has("Workbook") || has("Book") {
        return FileType::Xls;
    }
    if has("PowerPoint Document") {
        return FileType::Ppt;
    }
    let msg = file.read_root_storage().any(|e| {
        let n = e.name();
        n.starts_with("__substg1.0_") || n.starts_with("__properties_version1.0")
    });
    if msg {
        return FileType::Msg;
    }
    // Streams did not say; the root CLSID (file-format's CFB reader) sometimes does.
    match blob
        .open()
        .ok()
        .and_then(|r| FileFormat::from_reader(r).ok())
    {
        Some(FileFormat::MicrosoftWordDocument) => FileType::Doc,
        Some(FileFormat::MicrosoftExcelSpreadsheet) => FileType::Xls,
        Some(FileFormat::MicrosoftPowerpointPresentation) => FileType::Ppt,
        _ => FileType::Ole,
    }
}

/// Bytes that never occur in text in any of the encodings we accept.
fn is_binary_control(b: u8) -> bool {
    b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x1B)
}

fn has_binary_controls(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| is_binary_control(b))
}

/// Text (plain, HTML, XML, mail, mbox) or binary, from the head.
fn sniff_text(head: &[u8], truncated: bool) -> FileType {
    match decode_head(head, truncated) {
        Some(text) => classify_text(&text),
        None => FileType::Binary,
    }
}

/// The head decoded as text, or `None` if it is not text in any encoding we accept.
fn decode_head(head: &[u8], truncated: bool) -> Option<String> {
    if let Some(rest) = head.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return decode_utf8(rest, truncated);
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return decode_utf16(&head[2..], encoding_rs::UTF_16LE);
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return decode_utf16(&head[2..], encoding_rs::UTF_16BE);
    }
    if let Some(enc) = utf16_without_bom(head) {
        return decode_utf16(head, enc);
    }
    if has_binary_controls(head) {
        return None;
    }
    if let Some(text) = decode_utf8(head, truncated) {
        return Some(text);
    }
    // Legacy Chinese encodings: the control-byte check above already passed. A character
    // (up to 4 bytes in GB18030) may be cut by the end of the head.
    let max_cut = if truncated { 3 } else { 0 };
    for enc in [encoding_rs::GB18030, encoding_rs::BIG5] {
        for cut in 0..=max_cut.min(head.len()) {
            let body = &head[..head.len() - cut];
            if let Some(text) = enc.decode_without_bom_handling_and_without_replacement(body) {
                return Some(text.into_owned());
            }
        }
    }
    None
}

fn decode_utf8(bytes: &[u8], truncated: bool) -> Option<String> {
    match std::str::from_utf8(bytes) {
        Ok(s) => (!s
            .chars()
            .any(|c| (c as u32) < 0x80 && is_binary_control(c as u8)))
        .then(|| s.to_owned()),
        // A multi-byte character cut by the end of the head is not an error.
        Err(e) if truncated && e.error_len().is_none() => {
            decode_utf8(&bytes[..e.valid_up_to()], false)
        }
        Err(_) => None,
    }
}

/// UTF-16 without a BOM: NUL bytes (the high bytes of ASCII-range characters) all on one
/// parity, and the decoded text made mostly of characters text is made of. Chinese text has
/// few NULs (only its spaces, digits and Latin letters), so the count alone is not enough.
fn utf16_without_bom(head: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    if head.len() < 4 {
        return None;
    }
    let even_nuls = head.iter().step_by(2).filter(|&&b| b == 0).count();
    let odd_nuls = head.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
    // At least one character in 50 from the ASCII range, and a few of them.
    let enough = |nuls: usize| nuls >= 2 && nuls * 100 >= head.len();
    let enc = if enough(odd_nuls) && even_nuls * 20 <= odd_nuls {
        encoding_rs::UTF_16LE
    } else if enough(even_nuls) && odd_nuls * 20 <= even_nuls {
        encoding_rs::UTF_16BE
    } else {
        return None;
    };
    let (text, _) = enc.decode_without_bom_handling(&head[..head.len() & !1]);
    let total = text.chars().count();
    let plausible = text.chars().filter(|&c| is_common_text_char(c)).count();
    (plausible * 10 >= total * 9).then_some(enc)
}

/// Characters that make up most real text: ASCII, Latin, general punctuation, CJK, Hangul,
/// full-width forms.
fn is_common_text_char(c: char) -> bool {
    matches!(c as u32,
        0x09 | 0x0A | 0x0D
        | 0x20..=0x7E
        | 0xA0..=0x24F
        | 0x2000..=0x206F
        | 0x2100..=0x27BF
        | 0x3000..=0x9FFF
        | 0xAC00..=0xD7AF
        | 0xFF00..=0xFFEF)
}

fn decode_utf16(bytes: &[u8], enc: &'static encoding_rs::Encoding) -> Option<String> {
    // An odd trailing byte or a cut surrogate pair at the end of the head is not an error.
    let mut end = bytes.len() & !1;
    loop {
        if let Some(text) = enc.decode_without_bom_handling_and_without_replacement(&bytes[..end]) {
            let binary = text
                .chars()
                .any(|c| (c as u32) < 0x20 && is_binary_control(c as u8));
            return (!binary).then(|| text.into_owned());
        }
        if end + 4 <= bytes.len() || end < 2 {
            return None;
        }
        end -= 2;
    }
}

/// Mail, mbox, HTML, XML or plain text, from decoded text.
fn classify_text(text: &str) -> FileType {
    let trimmed = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if trimmed.starts_with("{\\rtf") {
        return FileType::Rtf;
    }
    if let Some(rest) = trimmed.strip_prefix("From ") {
        // mbox: a `From sender date` separator line, then a message's headers.
        if let Some((_, after)) = rest.split_once('\n')
            && header_block_names(after, 1)
        {
            return FileType::Mbox;
        }
    }
    if header_block_names(text, 2) {
        return FileType::Eml;
    }
    if trimmed.starts_with('<') {
        let start: String = trimmed
            .chars()
            .take(1024)
            .collect::<String>()
            .to_lowercase();
        if ["<!doctype html", "<html", "<head", "<body"]
            .iter()
            .any(|m| start.contains(m))
        {
            return FileType::Html;
        }
        if start.starts_with("<?xml") {
            return FileType::Xml;
        }
    }
    FileType::Text
}

/// Header names that mark a mail message (RFC 5322 and MIME).
const MAIL_HEADERS: &[&str] = &[
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "date",
    "received",
    "return-path",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "message-id",
    "reply-to",
    "sender",
    "delivered-to",
    "in-reply-to",
    "references",
    "thread-topic",
    "thread-index",
    "importance",
];

/// True if `text` starts with a header block (lines of `Name: value` and folded
/// continuations, up to a blank line or the end of the head) holding at least `min_known`
/// known mail header names.
fn header_block_names(text: &str, min_known: usize) -> bool {
    let mut known = 0;
    let mut lines = text.split('\n').peekable();
    let mut first = true;
    while let Some(line) = lines.next() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let is_last = lines.peek().is_none();
        if line.starts_with([' ', '\t']) {
            if first {
                return false;
            }
            continue;
        }
        first = false;
        let name = match line.split_once(':') {
            Some((name, _)) if is_header_name(name) => name,
            // The last line of the head may be cut mid-name.
            _ if is_last => break,
            _ => return false,
        };
        let lower = name.to_ascii_lowercase();
        if lower.starts_with("x-") || MAIL_HEADERS.contains(&lower.as_str()) {
            known += 1;
        }
    }
    known >= min_known
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 76 && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
}

/// The type a name claims through its extension, if it has a known one.
pub fn declared_type(name: &str) -> Option<FileType> {
    use FileType::*;
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let (_, ext) = base.rsplit_once('.')?;
    let ext = ext.to_ascii_lowercase();
    let ty = match ext.as_str() {
        "txt" | "text" | "csv" | "tsv" | "log" | "md" | "markdown" | "json" | "jsonl" | "ini"
        | "cfg" | "conf" | "yaml" | "yml" | "toml" | "sql" | "srt" | "tex" | "rst"
        | "properties" | "py" | "rs" | "c" | "h" | "cpp" | "java" | "js" | "ts" | "go" | "sh"
        | "bat" | "ps1" => Text,
        "htm" | "html" | "xhtml" | "shtml" | "mht" | "mhtml" => Html,
        "xml" | "xsl" | "xsd" | "svg" | "plist" | "rss" | "atom" => Xml,
        "rtf" => Rtf,
        "pdf" => Pdf,
        "docx" | "docm" | "dotx" | "dotm" => Docx,
        "xlsx" | "xlsm" | "xltx" | "xltm" | "xlsb" => Xlsx,
        "pptx" | "pptm" | "potx" | "potm" | "ppsx" | "ppsm" => Pptx,
        "odt" | "ott" => Odt,
        "ods" | "ots" => Ods,
        "odp" | "otp" => Odp,
        "ofd" => Ofd,
        "eml" => Eml,
        "mbox" | "mbx" => Mbox,
        "zip" => Zip,
        "tar" => Tar,
        "gz" | "gzip" | "tgz" => Gzip,
        "bz2" | "bzip2" | "tbz" | "tbz2" => Bzip2,
        "xz" | "txz" => Xz,
        "zst" | "zstd" | "tzst" => Zstd,
        "7z" => SevenZ,
        "rar" => Rar,
        "doc" | "dot" | "wps" | "wpt" => Doc,
        "xls" | "xlt" | "et" | "ett" => Xls,
        "ppt" | "pot" | "pps" | "dps" | "dpt" => Ppt,
        "msg" => Msg,
        // Other OLE compound files: Visio, Publisher, Project, installers.
        "vsd" | "vss" | "vst" | "pub" | "mpp" | "msi" | "msp" => Ole,
        "png" => Png,
        "jpg" | "jpeg" | "jpe" | "jfif" => Jpeg,
        "gif" => Gif,
        "bmp" | "dib" => Bmp,
        "tif" | "tiff" => Tiff,
        "webp" => Webp,
        _ => return None,
    };
    Some(ty)
}

/// Whether content of type `actual` may honestly carry a name declaring `declared`
/// (a .csv is text, a .wps is an OLE document, a .docx may be password-protected …).
pub fn compatible(declared: FileType, actual: FileType) -> bool {
    use FileType::*;
    if declared == actual || actual == Empty {
        return true;
    }
    match declared {
        // A name saying "text" fits any text-based content.
        Text => matches!(actual, Html | Xml | Eml | Mbox | Rtf),
        // Saved web pages and .mht files are often mail-like or XML.
        Html => matches!(actual, Text | Xml | Eml),
        Xml => matches!(actual, Text | Html),
        Eml => matches!(actual, Text | Mbox),
        Mbox => matches!(actual, Text | Eml),
        // Word saves HTML and RTF under .doc; WPS reads and writes all of them.
        Doc => matches!(actual, Xls | Ppt | Ole | EncryptedOoxml | Rtf | Html | Docx),
        Xls => matches!(
            actual,
            Doc | Ppt | Ole | EncryptedOoxml | Html | Xlsx | Text
        ),
        Ppt => matches!(actual, Doc | Xls | Ole | EncryptedOoxml | Pptx),
        Msg | Ole => matches!(actual, Doc | Xls | Ppt | Msg | Ole),
        // A password-protected OOXML file is an OLE container holding the encrypted zip; a
        // damaged OOXML file whose parts we could not see is still a zip.
        Docx | Xlsx | Pptx => matches!(actual, EncryptedOoxml | Zip),
        Odt | Ods | Odp | Ofd => actual == Zip,
        // Office and OFD files are zips; a renamed one is still honestly a zip.
        Zip => matches!(actual, Docx | Xlsx | Pptx | Odt | Ods | Odp | Ofd),
        _ => false,
    }
}

/// Extensions of zip-based formats that have no [`FileType`] of their own (Java and Android
/// packages, e-books, …): [`declared_type`] leaves them unknown, and a zip under such a name
/// is not a renamed archive.
pub fn is_zip_based_extension(name: &str) -> bool {
    let Some((_, ext)) = name.rsplit_once('.') else {
        return false;
    };
    ZIP_BASED_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str())
}

const ZIP_BASED_EXTENSIONS: &[&str] = &[
    "jar", "war", "ear", "apk", "aab", "ipa", "xpi", "crx", "epub", "whl", "nupkg", "vsix", "kmz",
    "cbz", "xps", "oxps", "appx", "msix", "sketch", "pages", "numbers", "key", "odg", "otg", "odb",
    "odf", "odc", "odm", "vsdx", "vsdm", "3mf", "thmx", "sxw", "sxc", "sxi",
];

/// Archives, office documents, PDF, OFD and mail: the formats a renamed file hides.
pub fn is_container_or_document(actual: FileType) -> bool {
    use FileType::*;
    matches!(
        actual,
        Rtf | Pdf
            | Docx
            | Xlsx
            | Pptx
            | Odt
            | Ods
            | Odp
            | Ofd
            | Eml
            | Mbox
            | Zip
            | Tar
            | Gzip
            | Bzip2
            | Xz
            | Zstd
            | SevenZ
            | Rar
            | EncryptedOoxml
            | Doc
            | Xls
            | Ppt
            | Msg
    )
}

/// Extensions that claim no type of their own — `.dat`, `.tmp`, `.bin`, `.bak`, a number —
/// and so are a way to hide one: a zip named `temp_0042.dat` is a renamed archive.
pub fn generic_extension(name: &str) -> Option<&str> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let (stem, ext) = base.rsplit_once('.')?;
    if stem.is_empty() || ext.is_empty() {
        return None;
    }
    let lower = ext.to_ascii_lowercase();
    let generic = [
        "dat", "tmp", "temp", "bin", "bak", "old", "cache", "db", "data", "file", "out",
    ]
    .contains(&lower.as_str())
        || ext.bytes().all(|b| b.is_ascii_digit());
    generic.then_some(ext)
}

/// Names Office itself gives to the copies it keeps while saving (`~WRL0001.tmp`,
/// `~WRD0003.tmp`): a document behind `.tmp` there is normal, not a disguise.
pub fn is_office_temp_copy(name: &str) -> bool {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let upper = base.to_ascii_uppercase();
    ["~WRL", "~WRD", "~WRF", "~WRC"]
        .iter()
        .any(|p| upper.starts_with(p))
        && upper.ends_with(".TMP")
        && upper[4..upper.len() - 4]
            .bytes()
            .all(|b| b.is_ascii_digit())
}

/// Types that a file without a known extension should not have: a document or archive with
/// its extension removed is a classic way to slip past filters.
pub fn needs_extension(actual: FileType) -> bool {
    !matches!(actual, FileType::Empty | FileType::Text | FileType::Binary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sniff_bytes(bytes: &[u8]) -> FileType {
        sniff(&Blob::from_vec(bytes.to_vec()))
    }

    #[test]
    fn magic_numbers() {
        assert_eq!(sniff_bytes(b""), FileType::Empty);
        assert_eq!(sniff_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), FileType::Pdf);
        assert_eq!(sniff_bytes(&[0x1F, 0x8B, 8, 0, 0, 0]), FileType::Gzip);
        assert_eq!(sniff_bytes(b"BZh91AY&SY"), FileType::Bzip2);
        assert_eq!(sniff_bytes(b"BZh text"), FileType::Text);
        assert_eq!(sniff_bytes(b"\xfd7zXZ\x00\x00"), FileType::Xz);
        assert_eq!(sniff_bytes(&[0x28, 0xB5, 0x2F, 0xFD, 0]), FileType::Zstd);
        assert_eq!(sniff_bytes(b"7z\xbc\xaf\x27\x1c\x00\x04"), FileType::SevenZ);
        assert_eq!(sniff_bytes(b"Rar!\x1a\x07\x00\xcf"), FileType::Rar);
        assert_eq!(sniff_bytes(b"Rar!\x1a\x07\x01\x00\x33"), FileType::Rar);
        assert_eq!(sniff_bytes(b"{\\rtf1\\ansi"), FileType::Rtf);
        assert_eq!(sniff_bytes(b"\x89PNG\r\n\x1a\n\0\0"), FileType::Png);
        assert_eq!(sniff_bytes(b"\xff\xd8\xff\xe0\0\x10JFIF"), FileType::Jpeg);
        assert_eq!(sniff_bytes(b"GIF89a\x01\0"), FileType::Gif);
        assert_eq!(sniff_bytes(b"II*\0\x08\0\0\0"), FileType::Tiff);
        assert_eq!(sniff_bytes(b"RIFF\0\0\0\0WEBPVP8 "), FileType::Webp);
        assert_eq!(sniff_bytes(b"\x7fELF\x02\x01\x01\0\0\0"), FileType::Binary);
    }

    #[test]
    fn bmp_needs_a_real_header() {
        let mut bmp = b"BM".to_vec();
        bmp.extend_from_slice(&[0x46, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 40, 0, 0, 0]);
        assert_eq!(sniff_bytes(&bmp), FileType::Bmp);
        assert_eq!(sniff_bytes(b"BMW sales report for 2025"), FileType::Text);
    }

    #[test]
    fn ustar_magic_at_257() {
        let mut tar = vec![0u8; 1024];
        tar[..5].copy_from_slice(b"a.txt");
        tar[257..263].copy_from_slice(b"ustar\0");
        assert_eq!(sniff_bytes(&tar), FileType::Tar);
    }

    #[test]
    fn text_encodings() {
        assert_eq!(sniff_bytes("机密★5年 内部资料".as_bytes()), FileType::Text);
        let (gbk, _, _) = encoding_rs::GBK.encode("绝密文件，请勿外传。");
        assert_eq!(sniff_bytes(&gbk), FileType::Text);
        let (big5, _, _) = encoding_rs::BIG5.encode("絕密資料，請勿外傳。");
        assert_eq!(sniff_bytes(&big5), FileType::Text);
        let utf16le: Vec<u8> = "hello, secret report"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(sniff_bytes(&utf16le), FileType::Text);
        let mut bom = vec![0xFF, 0xFE];
        bom.extend("秘密".encode_utf16().flat_map(|u| u.to_le_bytes()));
        assert_eq!(sniff_bytes(&bom), FileType::Text);
        assert_eq!(sniff_bytes(b"abc\x00\x01\x02def"), FileType::Binary);
    }

    #[test]
    fn utf8_cut_at_head_boundary_is_still_text() {
        let mut long = "机".repeat(HEAD_LEN / 3 + 10).into_bytes();
        long.insert(0, b'a'); // shift so the head ends mid-character
        assert_eq!(sniff_bytes(&long), FileType::Text);
    }

    #[test]
    fn markup() {
        assert_eq!(
            sniff_bytes(b"\xef\xbb\xbf  \n<!DOCTYPE html><html><body>x"),
            FileType::Html
        );
        assert_eq!(sniff_bytes(b"<HTML><HEAD>"), FileType::Html);
        assert_eq!(sniff_bytes(b"<?xml version=\"1.0\"?><a/>"), FileType::Xml);
        assert_eq!(
            sniff_bytes(b"<?xml version=\"1.0\"?>\n<html xmlns=\"x\">"),
            FileType::Html
        );
        assert_eq!(sniff_bytes(b"a < b and <html> later"), FileType::Text);
    }

    #[test]
    fn mail_and_mbox() {
        let eml = b"Received: from a by b\r\nFrom: =?GB2312?B?1cXI/Q==?= <a@b.cn>\r\n\
            To: c@d.cn\r\nSubject: hi\r\n  folded\r\nX-Mailer: Foxmail\r\n\r\nbody";
        assert_eq!(sniff_bytes(eml), FileType::Eml);
        assert_eq!(
            sniff_bytes(b"Subject: only one header\n\nbody"),
            FileType::Text
        );
        assert_eq!(
            sniff_bytes(b"Note: from me\nTo do: things\nnot a header line\n"),
            FileType::Text
        );
        let mbox = b"From alice@example.cn Mon Jan  1 00:00:00 2024\nFrom: alice@example.cn\n\
            Subject: x\n\nbody\n";
        assert_eq!(sniff_bytes(mbox), FileType::Mbox);
        assert_eq!(sniff_bytes(b"From here we go\nnothing\n"), FileType::Text);
    }

    #[test]
    fn declared_types() {
        assert_eq!(declared_type("报告.DOCX"), Some(FileType::Docx));
        assert_eq!(declared_type("dir/a.wps"), Some(FileType::Doc));
        assert_eq!(declared_type("表.et"), Some(FileType::Xls));
        assert_eq!(declared_type("演示.dps"), Some(FileType::Ppt));
        assert_eq!(declared_type("x.tgz"), Some(FileType::Gzip));
        assert_eq!(declared_type("a.csv"), Some(FileType::Text));
        assert_eq!(declared_type("a.htm"), Some(FileType::Html));
        assert_eq!(declared_type("photo.JPG"), Some(FileType::Jpeg));
        assert_eq!(declared_type("mail.eml"), Some(FileType::Eml));
        assert_eq!(declared_type("box.mbox"), Some(FileType::Mbox));
        assert_eq!(declared_type("app.jar"), None);
        assert_eq!(declared_type("book.epub"), None);
        assert!(is_zip_based_extension("book.EPUB"));
        assert!(!is_zip_based_extension("a.zip"));
        assert_eq!(declared_type("drawing.vsd"), Some(FileType::Ole));
        assert_eq!(declared_type("README"), None);
        assert_eq!(declared_type("a.unknownext"), None);
    }

    #[test]
    fn compatibility() {
        use FileType::*;
        assert!(compatible(Text, Html));
        assert!(compatible(Text, Eml));
        assert!(compatible(Docx, Docx));
        assert!(compatible(Docx, EncryptedOoxml));
        assert!(compatible(Doc, Xls));
        assert!(compatible(Doc, Ole));
        assert!(compatible(Gzip, Gzip));
        assert!(!compatible(Docx, Jpeg));
        assert!(!compatible(Jpeg, Docx));
        assert!(compatible(Zip, Docx));
        assert!(!compatible(Zip, SevenZ));
        assert!(!compatible(Text, Zip));
        assert!(!compatible(Pdf, Text));
        assert!(!compatible(Tar, Gzip));
    }
}
