//! An HTTP body turned into the objects a user meant to send: the files of a multipart
//! form, the text of a form or a JSON document, files hidden as base64 inside JSON, or the
//! raw body. Runs on a blocking thread and reads the body as a stream from memory or its
//! spool file; every object above the spool threshold is itself spooled.

use std::io::{self, Read, Write};

use baomi_extract::Blob;
use base64::Engine as _;
use memchr::memmem;
use serde_json::Value;

use crate::body::Spool;
use crate::{BodyObject, IcapConfig, ObjectKind};

/// What the door knows about a body from its HTTP headers.
#[derive(Debug, Default, Clone)]
pub(crate) struct BodyInfo {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    /// Raw `Content-Disposition` value (may carry a GBK file name).
    pub disposition: Option<Vec<u8>>,
    pub url: String,
}

/// Why a body could not be cut into objects; decided by the fail mode.
pub(crate) type LimitReason = String;

const READ: usize = 64 << 10;

/// Cut a body into objects. `Err` only when a limit stops the work (decoded size over
/// `max_body`) or the spool fails; malformed forms fall back to the raw body so nothing is
/// skipped.
pub(crate) fn split_body(
    body: Blob,
    info: &BodyInfo,
    cfg: &IcapConfig,
) -> Result<Vec<BodyObject>, LimitReason> {
    if body.is_empty() {
        return Ok(Vec::new());
    }
    let body = decode_content_encoding(body, info.content_encoding.as_deref(), cfg)?;
    let ct = info.content_type.clone();
    let main = ct
        .as_deref()
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let raw = |body: Blob| -> Vec<BodyObject> {
        vec![BodyObject {
            name: raw_name(info),
            kind: ObjectKind::Raw,
            content_type: ct.clone(),
            blob: body,
        }]
    };
    if main.starts_with("multipart/") {
        if let Some(b) = ct.as_deref().and_then(boundary) {
            match split_multipart(&body, b.as_bytes(), cfg) {
                Ok(objs) if !objs.is_empty() => return Ok(objs),
                Ok(_) => {}
                Err(e) => tracing::debug!("multipart body not parsed ({e}); inspecting it raw"),
            }
        }
        return Ok(raw(body));
    }
    if main == "application/x-www-form-urlencoded" {
        return match url_decode_form(&body, cfg) {
            Ok(blob) => Ok(vec![BodyObject {
                name: "form.txt".into(),
                kind: ObjectKind::FormFields,
                content_type: Some("text/plain; charset=utf-8".into()),
                blob,
            }]),
            Err(e) => Err(format!("cannot spool form: {e}")),
        };
    }
    let is_json = main == "application/json" || main == "text/json" || main.ends_with("+json");
    if is_json
        && body.len() <= cfg.spool_threshold
        && let Ok(bytes) = body.bytes()
        && let Ok(v) = serde_json::from_slice::<Value>(&bytes)
    {
        drop(bytes);
        return json_objects(&v, cfg).map_err(|e| format!("cannot spool JSON: {e}"));
    }
    Ok(raw(body))
}

/// Undo `Content-Encoding: gzip|deflate`, reading at most `max_body` decoded bytes. A body
/// that claims an encoding but does not decode is inspected as it came (the engine reports
/// what it is).
fn decode_content_encoding(
    body: Blob,
    encoding: Option<&str>,
    cfg: &IcapConfig,
) -> Result<Blob, LimitReason> {
    let enc = encoding.unwrap_or("").trim().to_ascii_lowercase();
    if !matches!(enc.as_str(), "gzip" | "x-gzip" | "deflate") {
        return Ok(body);
    }
    match inflate(&body, &enc, cfg) {
        Ok(Some(decoded)) => Ok(decoded),
        Ok(None) => Ok(body),
        Err(reason) => Err(reason),
    }
}

/// `Ok(None)`: the body does not decode, inspect it as it came.
fn inflate(body: &Blob, enc: &str, cfg: &IcapConfig) -> Result<Option<Blob>, LimitReason> {
    let Ok(input) = body.open() else {
        return Ok(None);
    };
    let reader: Box<dyn Read + '_> = if enc == "deflate" {
        let head = body.head(2).map(|h| h.into_owned()).unwrap_or_default();
        let zlib = head.len() == 2
            && head[0] & 0x0f == 8
            && (u16::from(head[0]) << 8 | u16::from(head[1])) % 31 == 0;
        if zlib {
            Box::new(flate2::read::ZlibDecoder::new(input))
        } else {
            Box::new(flate2::read::DeflateDecoder::new(input))
        }
    } else {
        Box::new(flate2::read::MultiGzDecoder::new(input))
    };
    let mut spool = Spool::new(cfg.spool_threshold, &cfg.spool_dir);
    let cap = cfg.max_body;
    let mut reader = reader.take(cap + 1);
    let mut buf = vec![0u8; READ];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                tracing::debug!("Content-Encoding {enc} does not decode ({e}); inspecting raw");
                return Ok(None);
            }
        };
        spool
            .write_all(&buf[..n])
            .map_err(|e| format!("cannot spool decoded body: {e}"))?;
        if spool.len() > cap {
            return Err(format!(
                "decoded body ({enc}) larger than {cap} bytes / 解压后超过 {cap} 字节"
            ));
        }
    }
    spool
        .finish()
        .map(Some)
        .map_err(|e| format!("cannot spool decoded body: {e}"))
}

/// The raw body's name: `Content-Disposition` file name, else the URL's last path segment,
/// else `body`.
fn raw_name(info: &BodyInfo) -> String {
    if let Some(d) = &info.disposition
        && let Some(n) = disposition_filename(d)
    {
        return n;
    }
    let path = info
        .url
        .split_once("://")
        .map(|(_, r)| r.find('/').map(|i| &r[i..]).unwrap_or(""))
        .unwrap_or(&info.url);
    let path = path.split(['?', '#']).next().unwrap_or("");
    let seg = path.rsplit('/').next().unwrap_or("");
    let seg = percent_encoding::percent_decode_str(seg).collect::<Vec<u8>>();
    let seg = decode_name_bytes(&seg);
    if seg.trim().is_empty() {
        "body".into()
    } else {
        seg
    }
}

/// The `boundary` parameter of a multipart content type.
fn boundary(ct: &str) -> Option<String> {
    for p in ct.split(';').skip(1) {
        let (k, v) = p.split_once('=')?;
        if k.trim().eq_ignore_ascii_case("boundary") {
            let v = v.trim().trim_matches('"');
            if !v.is_empty() && v.len() <= 200 {
                return Some(v.to_owned());
            }
        }
    }
    None
}

enum Boundary {
    /// The closing delimiter, or the end of the body.
    Last,
    /// Another part starts at this offset.
    Next(usize),
    /// The boundary string appeared inside content.
    NotOne,
}

/// A part being read.
enum Current {
    /// Preamble, or a part we do not keep.
    Skip,
    File {
        spool: Spool,
        name: String,
        content_type: Option<String>,
    },
    /// A text field; its value goes straight into the fields text.
    Field,
}

/// Stream a multipart body part by part: file parts become their own objects (spooled
/// above the threshold), text fields are gathered as `name=value` lines into one object.
/// A body cut short ends its last part where the bytes end.
fn split_multipart(blob: &Blob, boundary: &[u8], cfg: &IcapConfig) -> io::Result<Vec<BodyObject>> {
    let mut r = blob.open()?;
    let mut delim = b"\r\n--".to_vec();
    delim.extend_from_slice(boundary);
    let finder = memmem::Finder::new(&delim);
    // The first boundary has no CR LF before it; pretend it has.
    let mut buf: Vec<u8> = b"\r\n".to_vec();
    let mut eof = false;
    let mut objects = Vec::new();
    let mut fields = Spool::new(cfg.spool_threshold, &cfg.spool_dir);
    let mut cur = Current::Skip;

    let fill = |buf: &mut Vec<u8>, r: &mut dyn Read, eof: &mut bool| -> io::Result<()> {
        let old = buf.len();
        buf.resize(old + READ, 0);
        let n = r.read(&mut buf[old..])?;
        buf.truncate(old + n);
        if n == 0 {
            *eof = true;
        }
        Ok(())
    };

    'parts: loop {
        if let Some(i) = finder.find(&buf) {
            let after = i + delim.len();
            // A delimiter is followed by `--` (the last one) or by optional padding and a
            // line end; anything else means the bytes were content.
            let next = loop {
                let tail = &buf[after..];
                if tail.len() < 2 && !eof {
                    fill(&mut buf, &mut r, &mut eof)?;
                    continue;
                }
                if tail.starts_with(b"--") {
                    break Boundary::Last;
                }
                let ws = tail
                    .iter()
                    .take_while(|&&b| b == b' ' || b == b'\t')
                    .count();
                match (tail.get(ws), tail.get(ws + 1)) {
                    (Some(b'\n'), _) => break Boundary::Next(after + ws + 1),
                    (Some(b'\r'), Some(b'\n')) => break Boundary::Next(after + ws + 2),
                    (Some(b'\r'), None) | (None, _) if !eof && tail.len() < 1024 => {
                        fill(&mut buf, &mut r, &mut eof)?;
                    }
                    (None, _) | (Some(b'\r'), None) => break Boundary::Last,
                    _ => break Boundary::NotOne,
                }
            };
            if let Boundary::NotOne = next {
                emit(&mut cur, &buf[..after], &mut fields)?;
                buf.drain(..after);
                continue;
            }
            emit(&mut cur, &buf[..i], &mut fields)?;
            finish(
                std::mem::replace(&mut cur, Current::Skip),
                &mut objects,
                &mut fields,
            )?;
            let Boundary::Next(start) = next else {
                break;
            };
            buf.drain(..start);
            let hdr_end = loop {
                if buf.starts_with(b"\r\n") {
                    break 2;
                }
                if let Some(j) = memmem::find(&buf, b"\r\n\r\n") {
                    break j + 4;
                }
                if buf.len() > 16 << 10 || eof {
                    break 'parts;
                }
                fill(&mut buf, &mut r, &mut eof)?;
            };
            cur = start_part(&buf[..hdr_end], &mut fields, cfg)?;
            buf.drain(..hdr_end);
            continue;
        }
        if eof {
            emit(&mut cur, &buf, &mut fields)?;
            finish(
                std::mem::replace(&mut cur, Current::Skip),
                &mut objects,
                &mut fields,
            )?;
            break;
        }
        // Keep a tail that may be the start of the next delimiter.
        let keep = delim.len() - 1;
        if buf.len() > keep {
            let cut = buf.len() - keep;
            emit(&mut cur, &buf[..cut], &mut fields)?;
            buf.drain(..cut);
        }
        fill(&mut buf, &mut r, &mut eof)?;
    }
    finish(cur, &mut objects, &mut fields)?;
    if fields.len() > 0 {
        objects.push(BodyObject {
            name: "form.txt".into(),
            kind: ObjectKind::FormFields,
            content_type: Some("text/plain; charset=utf-8".into()),
            blob: fields.finish()?,
        });
    }
    Ok(objects)
}

fn emit(cur: &mut Current, data: &[u8], fields: &mut Spool) -> io::Result<()> {
    match cur {
        Current::Skip => Ok(()),
        Current::File { spool, .. } => spool.write_all(data),
        Current::Field => fields.write_all(data),
    }
}

fn finish(cur: Current, objects: &mut Vec<BodyObject>, fields: &mut Spool) -> io::Result<()> {
    match cur {
        Current::Skip => {}
        Current::Field => fields.write_all(b"\n")?,
        Current::File {
            spool,
            name,
            content_type,
        } => {
            // An empty file input: browsers send `filename=""` and no bytes.
            if spool.len() == 0 && name.is_empty() {
                return Ok(());
            }
            objects.push(BodyObject {
                name: if name.is_empty() {
                    "upload".into()
                } else {
                    name
                },
                kind: ObjectKind::FormFile,
                content_type,
                blob: spool.finish()?,
            });
        }
    }
    Ok(())
}

fn start_part(headers: &[u8], fields: &mut Spool, cfg: &IcapConfig) -> io::Result<Current> {
    let mut disposition: Option<&[u8]> = None;
    let mut content_type = None;
    for line in headers.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = &line[..colon];
        let value = line[colon + 1..].trim_ascii();
        if name.eq_ignore_ascii_case(b"content-disposition") {
            disposition = Some(value);
        } else if name.eq_ignore_ascii_case(b"content-type") {
            content_type = Some(String::from_utf8_lossy(value).into_owned());
        }
    }
    let params = disposition.map(disposition_params).unwrap_or_default();
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_slice())
    };
    let filename = get("filename*")
        .and_then(decode_ext_value)
        .or_else(|| get("filename").map(decode_name_bytes));
    match filename {
        Some(name) => Ok(Current::File {
            spool: Spool::new(cfg.spool_threshold, &cfg.spool_dir),
            name: basename(&name),
            content_type,
        }),
        None => {
            let field = get("name").map(decode_name_bytes).unwrap_or_default();
            fields.write_all(field.as_bytes())?;
            fields.write_all(b"=")?;
            Ok(Current::Field)
        }
    }
}

/// The file name of a `Content-Disposition` value (`filename*=` preferred).
pub(crate) fn disposition_filename(v: &[u8]) -> Option<String> {
    let params = disposition_params(v);
    let get = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_slice())
    };
    get("filename*")
        .and_then(decode_ext_value)
        .or_else(|| get("filename").map(decode_name_bytes))
        .map(|n| basename(&n))
        .filter(|n| !n.is_empty())
}

/// `form-data; name="f"; filename="机密.docx"` → [(name, f), (filename, 机密.docx)], as raw
/// bytes: browsers put raw UTF-8 (or GBK) inside the quotes.
fn disposition_params(v: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut i = match memchr::memchr(b';', v) {
        Some(i) => i + 1,
        None => return out,
    };
    while i < v.len() {
        while i < v.len() && (v[i] == b' ' || v[i] == b'\t' || v[i] == b';') {
            i += 1;
        }
        let start = i;
        while i < v.len() && v[i] != b'=' && v[i] != b';' {
            i += 1;
        }
        let name = String::from_utf8_lossy(v[start..i].trim_ascii()).into_owned();
        if i >= v.len() || v[i] == b';' {
            continue;
        }
        i += 1; // '='
        while i < v.len() && (v[i] == b' ' || v[i] == b'\t') {
            i += 1;
        }
        let mut value = Vec::new();
        if i < v.len() && v[i] == b'"' {
            i += 1;
            while i < v.len() && v[i] != b'"' {
                // Only `\"` is an escape: Windows paths keep their backslashes.
                if v[i] == b'\\' && v.get(i + 1) == Some(&b'"') {
                    i += 1;
                }
                value.push(v[i]);
                i += 1;
            }
            i += 1;
        } else {
            let s = i;
            while i < v.len() && v[i] != b';' {
                i += 1;
            }
            value.extend_from_slice(v[s..i].trim_ascii());
        }
        if !name.is_empty() {
            out.push((name, value));
        }
    }
    out
}

/// RFC 5987 `charset'lang'pct-encoded` → text.
fn decode_ext_value(v: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(v).ok()?;
    let mut it = s.splitn(3, '\'');
    let (charset, _lang, value) = (it.next()?, it.next()?, it.next()?);
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(value).collect();
    let enc =
        encoding_rs::Encoding::for_label(charset.trim().as_bytes()).unwrap_or(encoding_rs::UTF_8);
    Some(enc.decode_without_bom_handling(&bytes).0.into_owned())
}

/// A file name as sent: UTF-8 if it is, else GB18030 (old Windows browsers, GBK pages);
/// `%XX`-encoded UTF-8 (some upload scripts) is decoded.
fn decode_name_bytes(v: &[u8]) -> String {
    let s = match std::str::from_utf8(v) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::GB18030
            .decode_without_bom_handling(v)
            .0
            .into_owned(),
    };
    if s.contains('%') {
        let d: Vec<u8> = percent_encoding::percent_decode_str(&s).collect();
        if let Ok(d) = String::from_utf8(d)
            && !d.is_ascii()
        {
            return d;
        }
    }
    s
}

/// `C:\Users\x\机密.docx` → `机密.docx`.
fn basename(name: &str) -> String {
    name.rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .trim()
        .to_owned()
}

/// `a=1&b=%E6%9C%BA+x` → `a=1\nb=机 x\n`, streamed through a spool.
fn url_decode_form(body: &Blob, cfg: &IcapConfig) -> io::Result<Blob> {
    let mut r = body.open()?;
    let mut spool = Spool::new(cfg.spool_threshold, &cfg.spool_dir);
    let mut inb = vec![0u8; READ];
    let mut out = Vec::with_capacity(READ + 4);
    // Pending `%` escape: how many hex digits seen and their bytes.
    let mut pct: Option<Vec<u8>> = None;
    loop {
        let n = r.read(&mut inb)?;
        if n == 0 {
            break;
        }
        for &b in &inb[..n] {
            if let Some(p) = &mut pct {
                if b.is_ascii_hexdigit() {
                    p.push(b);
                    if p.len() == 2 {
                        let hex = std::str::from_utf8(p).unwrap_or("00");
                        out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                        pct = None;
                    }
                    continue;
                }
                out.push(b'%');
                out.extend_from_slice(p);
                pct = None;
            }
            match b {
                b'+' => out.push(b' '),
                b'%' => pct = Some(Vec::with_capacity(2)),
                b'&' => out.push(b'\n'),
                _ => out.push(b),
            }
        }
        if out.len() >= READ {
            spool.write_all(&out)?;
            out.clear();
        }
    }
    if let Some(p) = pct {
        out.push(b'%');
        out.extend_from_slice(&p);
    }
    out.push(b'\n');
    spool.write_all(&out)?;
    spool.finish()
}

/// The string (and number) values of a JSON document, one per line, as `body.json`; long
/// base64 strings that decode to a file become objects of their own, named by a sibling
/// `filename`/`name` field when there is one.
fn json_objects(v: &Value, cfg: &IcapConfig) -> io::Result<Vec<BodyObject>> {
    let mut text = Spool::new(cfg.spool_threshold, &cfg.spool_dir);
    let mut objects = Vec::new();
    let mut failed: Option<io::Error> = None;
    // The same walk as JSON files get in baomi-extract: every string and number in order.
    baomi_extract::formats::json::walk(v, &mut |j| {
        if failed.is_some() {
            return;
        }
        if let Some(bytes) = decode_base64_file(j.text) {
            let name = j
                .siblings
                .and_then(|m| {
                    ["filename", "fileName", "file_name", "name", "title"]
                        .iter()
                        .find_map(|k| m.get(*k).and_then(Value::as_str))
                })
                .map(basename)
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| format!("body.json#{}", j.key.unwrap_or("body")));
            objects.push(BodyObject {
                name,
                kind: ObjectKind::FormFile,
                content_type: None,
                blob: Blob::from_vec(bytes),
            });
        } else if let Err(e) = text
            .write_all(j.text.as_bytes())
            .and_then(|()| text.write_all(b"\n"))
        {
            failed = Some(e);
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    if text.len() > 0 {
        objects.insert(
            0,
            BodyObject {
                name: "body.json".into(),
                kind: ObjectKind::Json,
                content_type: Some("text/plain; charset=utf-8".into()),
                blob: text.finish()?,
            },
        );
    }
    Ok(objects)
}

/// A long string that is base64 (optionally a `data:…;base64,` URL) of at least a few
/// hundred bytes: an uploaded file carried inside JSON.
fn decode_base64_file(s: &str) -> Option<Vec<u8>> {
    const MIN_CHARS: usize = 256;
    if s.len() < MIN_CHARS {
        return None;
    }
    let s = match s.strip_prefix("data:") {
        Some(rest) => rest.split_once(";base64,")?.1,
        None => s,
    };
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.len() < MIN_CHARS
        || !compact
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
    {
        return None;
    }
    // Text that happens to be all letters and digits (hex digests, long words) is not base64
    // of a file: real base64 mixes cases and digits.
    let has_upper = compact.bytes().any(|b| b.is_ascii_uppercase());
    let has_lower = compact.bytes().any(|b| b.is_ascii_lowercase());
    if !(has_upper && has_lower) {
        return None;
    }
    let cfg = base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent);
    let std = base64::engine::GeneralPurpose::new(&base64::alphabet::STANDARD, cfg);
    let url = base64::engine::GeneralPurpose::new(&base64::alphabet::URL_SAFE, cfg);
    std.decode(&compact).or_else(|_| url.decode(&compact)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> IcapConfig {
        IcapConfig::default()
    }

    fn text(b: &Blob) -> String {
        let mut s = Vec::new();
        b.open().unwrap().read_to_end(&mut s).unwrap();
        String::from_utf8_lossy(&s).into_owned()
    }

    fn info(ct: &str) -> BodyInfo {
        BodyInfo {
            content_type: Some(ct.into()),
            url: "http://x/up".into(),
            ..Default::default()
        }
    }

    #[test]
    fn multipart_files_and_fields() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n\xe6\x9c\xba\xe5\xaf\x86\xe2\x98\x851\xe5\xb9\xb4\r\n--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"C:\\\\dir\\\\a.txt\"\r\nContent-Type: text/plain\r\n\r\nline1\r\n--XyZnot\r\nline2\r\n--XyZ\r\nContent-Disposition: form-data; name=\"g\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A.txt\r\n\r\nB\r\n--XyZ\r\nContent-Disposition: form-data; name=\"h\"; filename=\"\xbb\xe1\xd2\xe9.txt\"\r\n\r\nC\r\n--XyZ\r\nContent-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n\r\n\r\n--XyZ--\r\nepilogue";
        let objs = split_body(
            Blob::from_vec(body.to_vec()),
            &info("multipart/form-data; boundary=XyZ"),
            &cfg(),
        )
        .unwrap();
        let names: Vec<_> = objs.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["a.txt", "报告.txt", "会议.txt", "form.txt"]);
        assert_eq!(text(&objs[0].blob), "line1\r\n--XyZnot\r\nline2");
        assert_eq!(objs[0].content_type.as_deref(), Some("text/plain"));
        assert_eq!(text(&objs[1].blob), "B");
        assert_eq!(objs[3].kind, ObjectKind::FormFields);
        assert_eq!(text(&objs[3].blob), "title=机密★1年\n");
    }

    #[test]
    fn multipart_spools_large_files_and_streams_across_reads() {
        let mut c = cfg();
        c.spool_threshold = 1000;
        let dir = tempfile::tempdir().unwrap();
        c.spool_dir = dir.path().to_owned();
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut body =
            b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\n\r\n"
                .to_vec();
        body.extend_from_slice(&big);
        body.extend_from_slice(b"\r\n--b--\r\n");
        let objs = split_body(
            Blob::from_vec(body),
            &info("multipart/form-data; boundary=\"b\""),
            &c,
        )
        .unwrap();
        assert_eq!(objs.len(), 1);
        assert!(objs[0].blob.path().is_some(), "spooled to disk");
        assert_eq!(objs[0].blob.bytes().unwrap().as_ref(), &big[..]);
    }

    #[test]
    fn truncated_multipart_keeps_what_arrived() {
        let body = b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"t.txt\"\r\n\r\n\xe7\xbb\x9d\xe5\xaf\x86 part";
        let objs = split_body(
            Blob::from_vec(body.to_vec()),
            &info("multipart/form-data; boundary=b"),
            &cfg(),
        )
        .unwrap();
        assert_eq!(objs[0].name, "t.txt");
        assert_eq!(text(&objs[0].blob), "绝密 part");
    }

    #[test]
    fn urlencoded_form_is_decoded_lines() {
        let body = b"subject=%E6%9C%BA%E5%AF%86+notice&id=11010519491231002X&bad=%zz%4";
        let objs = split_body(
            Blob::from_vec(body.to_vec()),
            &info("application/x-www-form-urlencoded; charset=UTF-8"),
            &cfg(),
        )
        .unwrap();
        assert_eq!(objs.len(), 1);
        assert_eq!(objs[0].name, "form.txt");
        assert_eq!(
            text(&objs[0].blob),
            "subject=机密 notice\nid=11010519491231002X\nbad=%zz%4\n"
        );
    }

    #[test]
    fn json_strings_escapes_and_base64_files() {
        let file: Vec<u8> = (0..600u32).map(|i| (i * 7 % 256) as u8).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&file);
        let body = format!(
            r#"{{"title":"\u673a\u5bc6\u2605\u0031\u5e74","n":110105194912310021,"att":{{"fileName":"x/报告.docx","data":"{b64}"}},"ok":true}}"#
        );
        let objs = split_body(
            Blob::from_vec(body.into_bytes()),
            &info("application/json"),
            &cfg(),
        )
        .unwrap();
        assert_eq!(objs[0].name, "body.json");
        let t = text(&objs[0].blob);
        assert!(t.contains("机密★1年\n"), "{t}");
        assert!(t.contains("110105194912310021\n"), "{t}");
        assert!(!t.contains(&b64));
        assert_eq!(objs[1].name, "报告.docx");
        assert_eq!(objs[1].blob.bytes().unwrap().as_ref(), &file[..]);
    }

    #[test]
    fn raw_bodies_named_from_url_or_disposition() {
        let mut i = info("application/octet-stream");
        i.url = "http://pan.example/api/upload/%E6%8A%A5%E5%91%8A.pdf?part=3".into();
        let objs = split_body(Blob::from_vec(b"abc".to_vec()), &i, &cfg()).unwrap();
        assert_eq!(objs[0].name, "报告.pdf");
        assert_eq!(objs[0].kind, ObjectKind::Raw);
        i.disposition = Some(b"attachment; filename=\"a.docx\"".to_vec());
        let objs = split_body(Blob::from_vec(b"abc".to_vec()), &i, &cfg()).unwrap();
        assert_eq!(objs[0].name, "a.docx");
        i.disposition = None;
        i.url = "http://h/".into();
        let objs = split_body(Blob::from_vec(b"abc".to_vec()), &i, &cfg()).unwrap();
        assert_eq!(objs[0].name, "body");
    }

    #[test]
    fn gzip_is_decoded_with_a_cap() {
        use flate2::write::GzEncoder;
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b"a=%E7%A7%98%E5%AF%86&b=2").unwrap();
        let gz = e.finish().unwrap();
        let mut i = info("application/x-www-form-urlencoded");
        i.content_encoding = Some("gzip".into());
        let objs = split_body(Blob::from_vec(gz), &i, &cfg()).unwrap();
        assert_eq!(text(&objs[0].blob), "a=秘密\nb=2\n");

        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&vec![b'x'; 100_000]).unwrap();
        let z = e.finish().unwrap();
        let mut i = info("text/plain");
        i.content_encoding = Some("deflate".into());
        let mut c = cfg();
        c.max_body = 10_000;
        let err = split_body(Blob::from_vec(z.clone()), &i, &c).unwrap_err();
        assert!(err.contains("10000"), "{err}");
        let objs = split_body(Blob::from_vec(z), &i, &cfg()).unwrap();
        assert_eq!(objs[0].blob.len(), 100_000);
    }
}
