//! Outlook .msg (MS-OXMSG): a compound file whose properties are streams named
//! `__substg1.0_<id><type>` (type `001F` UTF-16LE, `001E` 8-bit in the message code page,
//! `0102` binary), with recipients and attachments in `__recip_version1.0_#…` and
//! `__attach_version1.0_#…` storages. An attached message is a nested storage
//! (`__substg1.0_3701000D`) holding the same layout again.

use std::io::{Read, Seek};

use baomi_core::PartRole;
use encoding_rs::Encoding;

use crate::{Blob, Ctx, FormatResult};

/// A string or binary property larger than this is not read (bodies are rarely above a few MB;
/// attachments go through the walker's budget instead).
const MAX_PROPERTY: u64 = 64 << 20;
/// Attached messages inside attached messages: deeper than this is refused.
const MAX_EMBEDDED: u32 = 8;

const PR_SUBJECT: u16 = 0x0037;
const PR_BODY: u16 = 0x1000;
const PR_HTML: u16 = 0x1013;
const PR_RTF_COMPRESSED: u16 = 0x1009;
const SENDER_AND_DISPLAY: &[u16] = &[
    0x0C1A, // PR_SENDER_NAME
    0x0C1F, // PR_SENDER_EMAIL_ADDRESS
    0x5D01, // PR_SENDER_SMTP_ADDRESS
    0x0042, // PR_SENT_REPRESENTING_NAME
    0x0065, // PR_SENT_REPRESENTING_EMAIL_ADDRESS
    0x0E04, // PR_DISPLAY_TO
    0x0E03, // PR_DISPLAY_CC
    0x0E02, // PR_DISPLAY_BCC
];
const RECIPIENT: &[u16] = &[
    0x3001, // PR_DISPLAY_NAME
    0x3003, // PR_EMAIL_ADDRESS
    0x39FE, // PR_SMTP_ADDRESS
];
const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;
const PR_ATTACH_FILENAME: u16 = 0x3704;
const PR_DISPLAY_NAME: u16 = 0x3001;
const PR_ATTACH_DATA: u16 = 0x3701;
const PR_MESSAGE_CODEPAGE: u16 = 0x3FFD;
const PR_INTERNET_CPID: u16 = 0x3FDE;

type Cfb<'b> = cfb::CompoundFile<Box<dyn crate::blob::ReadSeek + 'b>>;

pub fn extract(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let mut file = cfb::CompoundFile::open(blob.open()?)?;
    message(&mut file, "", "", 0, cx);
    Ok(())
}

/// One message stored under `storage` (`""` for the root). `sub` prefixes the part names so an
/// attached message's parts sit under its attachment.
fn message(file: &mut Cfb<'_>, storage: &str, sub: &str, nesting: u32, cx: &mut Ctx<'_, '_>) {
    // Top-level properties stream has a 32-byte header, an embedded message's 24.
    let header = if storage.is_empty() { 32 } else { 24 };
    let encoding = code_page(file, storage, header).unwrap_or(encoding_rs::GBK);
    let named = |s: &str| {
        if sub.is_empty() {
            s.to_owned()
        } else {
            format!("{sub}/{s}")
        }
    };

    if let Some(subject) = string_property(file, storage, PR_SUBJECT, encoding) {
        cx.text(&named("subject"), PartRole::Subject, subject);
    }
    let mut people = String::new();
    for &id in SENDER_AND_DISPLAY {
        if let Some(v) = string_property(file, storage, id, encoding) {
            push_line(&mut people, &v);
        }
    }
    for recip in children(file, storage, "__recip_version1.0_#") {
        for &id in RECIPIENT {
            if let Some(v) = string_property(file, &recip, id, encoding) {
                push_line(&mut people, &v);
            }
        }
    }
    cx.text(&named("headers"), PartRole::Metadata, people);

    match string_property(file, storage, PR_BODY, encoding) {
        Some(body) => cx.text(&named("body"), PartRole::Body, lines(&body)),
        None => {
            // Some messages carry only an HTML or RTF body; the HTML and RTF readers take
            // those as nested objects.
            if let Some(html) = read_stream(file, &stream_path(storage, PR_HTML, "0102"))
                .or_else(|| read_stream(file, &stream_path(storage, PR_HTML, "001F")))
            {
                cx.child(&named("body.html"), Blob::from_vec(html));
            } else if let Some(packed) =
                read_stream(file, &stream_path(storage, PR_RTF_COMPRESSED, "0102"))
            {
                match decompress_rtf(&packed) {
                    Ok(rtf) => cx.child(&named("body.rtf"), Blob::from_vec(rtf)),
                    Err(why) => cx.unreadable(&named("body.rtf"), why),
                }
            }
        }
    }

    for (i, attach) in children(file, storage, "__attach_version1.0_#")
        .into_iter()
        .enumerate()
    {
        if cx.should_stop() {
            return;
        }
        let name = [PR_ATTACH_LONG_FILENAME, PR_ATTACH_FILENAME, PR_DISPLAY_NAME]
            .iter()
            .find_map(|&id| string_property(file, &attach, id, encoding))
            .map(|n| n.replace('/', "_"))
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| format!("attachment {}", i + 1));
        let embedded = format!("{attach}/__substg1.0_{PR_ATTACH_DATA:04X}000D");
        if file.is_storage(&embedded) {
            if nesting >= MAX_EMBEDDED {
                cx.unreadable(&named(&name), "attached message nested too deeply");
                continue;
            }
            message(file, &embedded, &named(&name), nesting + 1, cx);
            continue;
        }
        match read_stream(file, &stream_path(&attach, PR_ATTACH_DATA, "0102")) {
            Some(data) => cx.child(&named(&name), Blob::from_vec(data)),
            None => cx.unreadable(
                &named(&name),
                "attachment without data (linked file or OLE object)",
            ),
        }
    }
}

fn push_line(out: &mut String, value: &str) {
    let value = value.trim();
    if !value.is_empty() {
        out.push_str(value);
        out.push('\n');
    }
}

fn lines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

fn stream_path(storage: &str, id: u16, kind: &str) -> String {
    format!("{storage}/__substg1.0_{id:04X}{kind}")
}

/// Sub-storages of `storage` whose names start with `prefix`, in name order.
fn children(file: &Cfb<'_>, storage: &str, prefix: &str) -> Vec<String> {
    let dir = if storage.is_empty() { "/" } else { storage };
    let Ok(entries) = file.read_storage(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .filter(|e| e.is_storage() && e.name().starts_with(prefix))
        .map(|e| format!("{storage}/{}", e.name()))
        .collect();
    out.sort();
    out
}

/// A string property: the Unicode stream if present, else the 8-bit one decoded with the
/// message code page.
fn string_property(
    file: &mut Cfb<'_>,
    storage: &str,
    id: u16,
    encoding: &'static Encoding,
) -> Option<String> {
    if let Some(raw) = read_stream(file, &stream_path(storage, id, "001F")) {
        let (text, _) = encoding_rs::UTF_16LE.decode_without_bom_handling(&raw);
        return Some(text.trim_end_matches('\0').to_owned());
    }
    let raw = read_stream(file, &stream_path(storage, id, "001E"))?;
    let (text, _) = encoding.decode_without_bom_handling(&raw);
    Some(text.trim_end_matches('\0').to_owned())
}

fn read_stream(file: &mut Cfb<'_>, path: &str) -> Option<Vec<u8>> {
    if !file.is_stream(path) {
        return None;
    }
    read_limited(file.open_stream(path).ok()?, MAX_PROPERTY)
}

fn read_limited(stream: impl Read + Seek, max: u64) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    stream.take(max).read_to_end(&mut out).ok()?;
    Some(out)
}

/// The code page of the 8-bit string properties, from the fixed-size entries of the
/// `__properties_version1.0` stream (16 bytes each after a `header`-byte header).
fn code_page(file: &mut Cfb<'_>, storage: &str, header: usize) -> Option<&'static Encoding> {
    let raw = read_stream(file, &format!("{storage}/__properties_version1.0"))?;
    let mut cpid = None;
    for entry in raw.get(header..)?.chunks_exact(16) {
        let kind = u16::from_le_bytes([entry[0], entry[1]]);
        let id = u16::from_le_bytes([entry[2], entry[3]]);
        let value = u32::from_le_bytes([entry[8], entry[9], entry[10], entry[11]]);
        const PT_LONG: u16 = 0x0003;
        if kind != PT_LONG {
            continue;
        }
        if id == PR_MESSAGE_CODEPAGE {
            cpid = Some(value);
            break;
        }
        if id == PR_INTERNET_CPID {
            cpid = Some(value);
        }
    }
    encoding_for(cpid?)
}

/// Windows code page number → encoding, for the pages Chinese offices meet.
fn encoding_for(cpid: u32) -> Option<&'static Encoding> {
    let label: &[u8] = match cpid {
        936 => b"gbk",
        54936 => b"gb18030",
        950 => b"big5",
        65001 => b"utf-8",
        20127 | 1252 | 28591 => b"windows-1252",
        932 => b"shift_jis",
        949 => b"euc-kr",
        1250 => b"windows-1250",
        1251 => b"windows-1251",
        874 => b"windows-874",
        _ => return None,
    };
    Encoding::for_label(label)
}

/// The dictionary every compressed RTF stream starts from (MS-OXRTFCP 2.1.3.1.1).
const RTF_PREBUF: &[u8] = b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

/// PR_RTF_COMPRESSED (MS-OXRTFCP): a 16-byte header, then either the raw RTF (`MELA`) or LZ77
/// with a 4 KiB ring dictionary (`LZFu`): a control byte, LSB first, says for each of the next
/// eight tokens whether it is a literal byte or a big-endian (offset:12, length-2:4) reference.
pub(crate) fn decompress_rtf(packed: &[u8]) -> Result<Vec<u8>, String> {
    const LZFU: u32 = 0x7546_5A4C;
    const MELA: u32 = 0x414C_454D;
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(packed.get(at..at + 4)?.try_into().ok()?))
    };
    let (Some(comp_size), Some(raw_size), Some(kind)) = (word(0), word(4), word(8)) else {
        return Err("compressed RTF body: header truncated".into());
    };
    // compSize counts from the rawSize field; never trust it beyond what is there.
    let end = (comp_size as usize).saturating_add(4).min(packed.len());
    let data = packed.get(16..end).unwrap_or_default();
    let limit = (raw_size as usize).min(MAX_PROPERTY as usize);
    match kind {
        MELA => Ok(data[..data.len().min(limit)].to_vec()),
        LZFU => {
            let mut dict = [0u8; 4096];
            dict[..RTF_PREBUF.len()].copy_from_slice(RTF_PREBUF);
            let mut write = RTF_PREBUF.len();
            let mut out = Vec::with_capacity(limit.min(1 << 20));
            let mut at = 0usize;
            'tokens: while at < data.len() && out.len() < limit {
                let control = data[at];
                at += 1;
                for bit in 0..8 {
                    if at >= data.len() || out.len() >= limit {
                        break 'tokens;
                    }
                    if control & (1 << bit) == 0 {
                        let byte = data[at];
                        at += 1;
                        out.push(byte);
                        dict[write] = byte;
                        write = (write + 1) % dict.len();
                        continue;
                    }
                    let Some(pair) = data.get(at..at + 2) else {
                        break 'tokens;
                    };
                    at += 2;
                    let reference = u16::from_be_bytes([pair[0], pair[1]]);
                    let offset = usize::from(reference >> 4);
                    let length = usize::from(reference & 0xF) + 2;
                    if offset == write {
                        break 'tokens; // the end marker
                    }
                    for i in 0..length {
                        let byte = dict[(offset + i) % dict.len()];
                        out.push(byte);
                        dict[write] = byte;
                        write = (write + 1) % dict.len();
                    }
                }
            }
            Ok(out)
        }
        other => Err(format!(
            "compressed RTF body: unknown compression type {other:#010x}"
        )),
    }
}
