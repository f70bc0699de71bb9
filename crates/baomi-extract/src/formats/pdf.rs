//! PDF: text per page and the Info dictionary, with pdf_oxide (in process), falling back to
//! poppler's `pdftotext` run as a separate process (it is GPL, so it is never linked) when
//! pdf_oxide fails or its text looks wrong.
//!
//! pdf_oxide decodes subset fonts with ToUnicode maps and the predefined Unicode CMaps well,
//! but mis-decodes the legacy `GBK-EUC-H` family (`身份证` → `啓矸葜`) without any sign of
//! failure, so documents naming those CMaps go to pdftotext directly.

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use baomi_core::PartRole;
use pdf_oxide::PdfDocument;
use pdf_oxide::object::Object;

use crate::{Blob, Ctx, FormatResult};

/// Info dictionary keys worth scanning, in output order. Title is also the Subject part.
const INFO_KEYS: &[&str] = &[
    "Title", "Author", "Subject", "Keywords", "Creator", "Producer",
];

/// CMap names of legacy CJK byte encodings pdf_oxide decodes wrongly.
const LEGACY_CJK_CMAPS: &[&[u8]] = &[
    b"EUC-H",
    b"EUC-V",
    b"GBK2K",
    b"GBKp-",
    b"GBpc-",
    b"B5pc-",
    b"ETen-B5",
    b"HKscs-B5",
    b"ETenms-B5",
    b"RKSJ-",
    b"KSCms-UHC",
    b"CNS-EUC",
];

/// Why an image-only page stays unread.
#[cfg(feature = "ocr")]
const NO_OCR_TEXT: &str = "OCR found no text";
#[cfg(not(feature = "ocr"))]
const NO_OCR_TEXT: &str = "not read (built without OCR)";

/// What pdf_oxide made of a document.
struct OxideText {
    pages: Vec<Result<String, String>>,
    /// Per page without text: whether it draws images (`None`: could not tell). Blank
    /// pages are not image-only pages.
    images: Vec<Option<bool>>,
    info: Vec<(String, String)>,
    encrypted: bool,
    /// False when encrypted and the empty user password did not open it.
    authenticated: bool,
}

pub fn extract(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let bytes = blob.bytes()?;
    let head = &bytes[..bytes.len().min(1024)];
    if memchr::memmem::find(head, b"%PDF-").is_none() {
        return Err("not a PDF: no %PDF- header".into());
    }
    let raw_encrypt = trailer_mentions_encrypt(&bytes);
    let legacy_cmap = LEGACY_CJK_CMAPS
        .iter()
        .any(|name| memchr::memmem::find(&bytes, name).is_some());

    let owned = bytes.into_owned();
    let oxide = catch_unwind(AssertUnwindSafe(|| oxide_extract(owned, cx)))
        .unwrap_or_else(|_| Err("pdf_oxide failed on malformed input".to_owned()));

    let encrypted = raw_encrypt || oxide.as_ref().is_ok_and(|o| o.encrypted);

    // Decide whether pdf_oxide's text can be trusted page by page.
    let oxide_good = match &oxide {
        Ok(o) => {
            !legacy_cmap
                && o.authenticated
                && !o.pages.is_empty()
                && o.pages
                    .iter()
                    .all(|p| p.as_ref().is_ok_and(|t| looks_right(t)))
        }
        Err(_) => false,
    };
    let oxide_has_text = oxide.as_ref().is_ok_and(|o| {
        o.pages
            .iter()
            .any(|p| p.as_ref().is_ok_and(|t| !t.trim().is_empty()))
    });

    let (pages, fallback_error) = if oxide_good && oxide_has_text {
        (oxide_pages(&oxide), None)
    } else {
        match pdftotext(blob, cx.limits().max_time) {
            Ok(fallback) => {
                let fallback_has_text = fallback.iter().any(|t| !t.trim().is_empty());
                if fallback_has_text || !oxide_has_text {
                    (fallback, None)
                } else {
                    (oxide_pages(&oxide), None)
                }
            }
            Err(e) if oxide.is_ok() => (oxide_pages(&oxide), Some(e)),
            Err(e) => {
                let oxide_err = oxide.err().unwrap_or_default();
                if encrypted {
                    cx.encrypted("", "PDF encrypted (password required, no text extracted)");
                    return Ok(());
                }
                return Err(format!("PDF does not parse ({oxide_err}; pdftotext: {e})").into());
            }
        }
    };

    if encrypted {
        let how = if pages.iter().any(|t| !t.trim().is_empty()) {
            "PDF encrypted (opened with the empty user password, text extracted)"
        } else {
            "PDF encrypted (password required, no text extracted)"
        };
        cx.encrypted("", how);
    }
    if let Some(e) = &fallback_error {
        tracing::debug!(path = cx.path(), "pdftotext fallback failed: {e}");
    }

    if let Ok(o) = &oxide {
        emit_info(&o.info, cx);
    }

    let any_text = pages.iter().any(|t| !t.trim().is_empty());
    if !any_text
        && !encrypted
        && let Some(e) = &fallback_error
    {
        // pdf_oxide opened something but found no text, and poppler could not read the
        // file: it is damaged, not merely scanned.
        let oxide_errors: Vec<&str> = match &oxide {
            Ok(o) => o
                .pages
                .iter()
                .filter_map(|p| p.as_ref().err())
                .map(String::as_str)
                .collect(),
            Err(_) => Vec::new(),
        };
        let detail = oxide_errors
            .first()
            .map_or(String::new(), |e| format!("{e}; "));
        cx.unreadable(
            "",
            format!("PDF damaged, no text extracted ({detail}pdftotext: {e})"),
        );
        return Ok(());
    }
    if pages.is_empty() && !encrypted {
        cx.unreadable("", "PDF has no pages that could be read");
        return Ok(());
    }
    let page_images: &[Option<bool>] = match &oxide {
        Ok(o) if o.images.len() == pages.len() => &o.images,
        _ => &[],
    };
    let mut image_only = Vec::new();
    for (index, text) in pages.into_iter().enumerate() {
        if cx.should_stop() {
            break;
        }
        let number = index + 1;
        if text.trim().is_empty() {
            // A page known to draw no image is blank, not a scan.
            if page_images.get(index) != Some(&Some(false)) {
                image_only.push(number);
            }
            continue;
        }
        cx.text(&format!("page {number}"), PartRole::Body, text);
    }
    let image_only = ocr_pages(blob, image_only, cx);
    match image_only.as_slice() {
        [] => {}
        [page] => cx.unreadable(
            &format!("page {page}"),
            format!("image-only page, {NO_OCR_TEXT}"),
        ),
        pages => {
            let list: Vec<String> = pages.iter().map(usize::to_string).collect();
            cx.unreadable(
                "",
                format!("image-only pages {}, {NO_OCR_TEXT}", list.join(", ")),
            );
        }
    }
    Ok(())
}

fn oxide_pages(oxide: &Result<OxideText, String>) -> Vec<String> {
    match oxide {
        Ok(o) => o
            .pages
            .iter()
            .map(|p| p.as_ref().map(|t| clean(t)).unwrap_or_default())
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn clean(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

fn oxide_extract(bytes: Vec<u8>, cx: &mut Ctx<'_, '_>) -> Result<OxideText, String> {
    let doc = PdfDocument::from_bytes(bytes).map_err(|e| e.to_string())?;
    let encrypted = doc.is_encrypted();
    let authenticated = if encrypted {
        // Most "protected" office PDFs only restrict printing/copying: the user password
        // is empty and the text is readable.
        doc.authenticate(b"").unwrap_or(false) && doc.is_authenticated()
    } else {
        true
    };
    let info = if authenticated {
        read_info(&doc)
    } else {
        Vec::new()
    };
    let count = if authenticated {
        doc.page_count().map_err(|e| e.to_string())?
    } else {
        0
    };
    let mut pages = Vec::with_capacity(count.min(10_000));
    let mut images = Vec::with_capacity(count.min(10_000));
    for index in 0..count {
        if cx.should_stop() {
            break;
        }
        let text = catch_unwind(AssertUnwindSafe(|| doc.extract_text(index)))
            .map_err(|_| "page text extraction panicked".to_owned())
            .and_then(|r| r.map_err(|e| e.to_string()));
        let has_images = match &text {
            Ok(t) if !t.trim().is_empty() => Some(false),
            _ => catch_unwind(AssertUnwindSafe(|| doc.page_image_handles(index)))
                .ok()
                .and_then(Result::ok)
                .map(|handles| !handles.is_empty()),
        };
        pages.push(text);
        images.push(has_images);
    }
    Ok(OxideText {
        pages,
        images,
        info,
        encrypted,
        authenticated,
    })
}

fn read_info(doc: &PdfDocument) -> Vec<(String, String)> {
    let resolve = |obj: &Object| -> Option<Object> {
        match obj.as_reference() {
            Some(r) => doc.load_object(r).ok(),
            None => Some(obj.clone()),
        }
    };
    let Some(info) = doc
        .trailer()
        .as_dict()
        .and_then(|t| t.get("Info"))
        .and_then(resolve)
    else {
        return Vec::new();
    };
    let Some(dict) = info.as_dict() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for key in INFO_KEYS {
        let value = dict
            .get(*key)
            .and_then(resolve)
            .and_then(|v| v.as_string().map(decode_pdf_string));
        if let Some(value) = value {
            let value = value.trim().trim_matches('\0').to_owned();
            if !value.is_empty() {
                out.push(((*key).to_owned(), value));
            }
        }
    }
    out
}

fn emit_info(info: &[(String, String)], cx: &mut Ctx<'_, '_>) {
    if let Some((_, title)) = info.iter().find(|(k, _)| k == "Title") {
        cx.text("title", PartRole::Subject, title.clone());
    }
    let mut meta = String::new();
    for (key, value) in info {
        meta.push_str(key);
        meta.push_str(": ");
        meta.push_str(value);
        meta.push('\n');
    }
    cx.text("info", PartRole::Metadata, meta);
}

/// A PDF text string: UTF-16 with a BOM, UTF-8 with a BOM, else PDFDocEncoding — but
/// Chinese producers often write raw UTF-8 or GBK there, so try those before Latin-1.
fn decode_pdf_string(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return encoding_rs::UTF_16BE
            .decode_without_bom_handling(rest)
            .0
            .into_owned();
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return encoding_rs::UTF_16LE
            .decode_without_bom_handling(rest)
            .0
            .into_owned();
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.to_owned();
    }
    let (gbk, _, had_errors) = encoding_rs::GBK.decode(bytes);
    if !had_errors {
        return gbk.into_owned();
    }
    bytes.iter().map(|&b| b as char).collect()
}

/// `/Encrypt` in the last trailer or cross-reference stream dictionary (the tail of the
/// file), so an encrypted PDF is reported even when no parser can open it.
fn trailer_mentions_encrypt(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(64 << 10)..];
    memchr::memmem::find(tail, b"/Encrypt").is_some()
}

/// Whether extracted text looks like real text: no replacement characters, and mostly
/// letters, digits, CJK, punctuation and spaces rather than control or private-use junk.
fn looks_right(text: &str) -> bool {
    if text.contains('\u{fffd}') {
        return false;
    }
    let mut total = 0usize;
    let mut readable = 0usize;
    for c in text.chars() {
        if c.is_whitespace() {
            continue;
        }
        total += 1;
        let private_use = matches!(c, '\u{e000}'..='\u{f8ff}');
        if !c.is_control() && !private_use {
            readable += 1;
        }
    }
    total == 0 || readable * 10 >= total * 9
}

/// Text per page from `pdftotext -layout -enc UTF-8` (pages end with form feeds), killed
/// after `timeout`.
fn pdftotext(blob: &Blob, timeout: Duration) -> Result<Vec<String>, String> {
    let (path, _guard) = blob.on_disk().map_err(|e| format!("spool: {e}"))?;
    let mut command = Command::new("pdftotext");
    command
        .args(["-layout", "-enc", "UTF-8", "-q"])
        .arg(&path)
        .arg("-");
    let out = run_tool("pdftotext", command, timeout)?;
    let text = String::from_utf8_lossy(&out);
    let mut pages: Vec<String> = text.split('\u{c}').map(layout_trim).collect();
    // The last page ends with a form feed too.
    if pages.last().is_some_and(|p| p.is_empty()) {
        pages.pop();
    }
    Ok(pages)
}

/// Run a poppler tool, collecting its stdout; killed after `timeout`.
fn run_tool(name: &str, mut command: Command, timeout: Duration) -> Result<Vec<u8>, String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {name}: {e}"))?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| format!("{name}: no stdout"))?;
    // Read on a thread so a full pipe cannot block the child while we wait for it.
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = reader.join();
                return Err(format!("{name} timed out after {} s", timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("{name}: {e}")),
        }
    };
    let out = reader.join().map_err(|_| format!("{name} reader failed"))?;
    if !status.success() {
        return Err(format!("{name} exited with {status}"));
    }
    Ok(out)
}

/// OCR of image-only pages: each is rendered by poppler's `pdftoppm` (a separate process,
/// GPL, never linked) at 150 dpi gray and read by Tesseract as part `page N#ocr`. Returns
/// the pages that still gave no text.
#[cfg(feature = "ocr")]
fn ocr_pages(blob: &Blob, pages: Vec<usize>, cx: &mut Ctx<'_, '_>) -> Vec<usize> {
    use super::image as ocr;
    if pages.is_empty() {
        // Spooling an in-memory PDF to disk is only worth it when there is a page to OCR.
        return pages;
    }
    let (pdf_path, _spool) = match blob.on_disk() {
        Ok(on_disk) => on_disk,
        Err(e) => {
            tracing::debug!(path = cx.path(), "spool for pdftoppm failed: {e}");
            return pages;
        }
    };
    let mut unread = Vec::new();
    for number in pages {
        if cx.should_stop() {
            unread.push(number);
            continue;
        }
        let page = number.to_string();
        let mut command = Command::new("pdftoppm");
        command
            .args(["-r", "150", "-gray", "-png", "-f", &page, "-l", &page])
            .arg(&pdf_path);
        let text = run_tool("pdftoppm", command, cx.limits().max_time)
            .and_then(|png| ocr::decode(&png))
            .and_then(|image| image.ok_or_else(|| "page renders as an icon".to_owned()))
            .and_then(|image| ocr::recognise(&ocr::prepare(&image)));
        match text {
            Ok(text) if !text.trim().is_empty() => {
                cx.text(&format!("page {number}#ocr"), PartRole::Body, text);
            }
            Ok(_) => unread.push(number),
            Err(e) => {
                tracing::debug!(path = cx.path(), page = number, "page OCR failed: {e}");
                unread.push(number);
            }
        }
    }
    unread
}

#[cfg(not(feature = "ocr"))]
fn ocr_pages(_blob: &Blob, pages: Vec<usize>, _cx: &mut Ctx<'_, '_>) -> Vec<usize> {
    pages
}

/// `-layout` pads lines with spaces to keep columns: drop the trailing ones.
fn layout_trim(page: &str) -> String {
    let mut out = String::with_capacity(page.len());
    for line in page.lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.trim_matches('\n').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacement_and_private_use_text_is_not_right() {
        assert!(looks_right("机密★5年 第一页"));
        assert!(!looks_right("abc\u{fffd}def"));
        assert!(!looks_right("\u{e001}\u{e002}\u{e003}ab"));
    }

    #[test]
    fn info_strings_decode() {
        assert_eq!(
            decode_pdf_string(&[0xFE, 0xFF, 0x67, 0x3A, 0x5B, 0xC6]),
            "机密"
        );
        assert_eq!(decode_pdf_string("标题".as_bytes()), "标题");
        assert_eq!(decode_pdf_string(b"Title"), "Title");
    }
}
