//! PDF: text per page and the Info dictionary, with pdf_oxide (in process), falling back to
//! poppler's `pdftotext` run as a separate process (it is GPL, so it is never linked) when
//! pdf_oxide fails or its text looks wrong.
//!
//! Text that is not drawn on the page is read too: annotations (sticky notes, comments,
//! free-text boxes, their authors and rich text) as `page N#annot`, AcroForm field values as
//! `#form`, both [`PartRole::Annotation`]; the Info dictionary as `info` and the XMP packet
//! as `#xmp`, [`PartRole::Metadata`]. pdftotext sees none of it.
//!
//! pdf_oxide decodes subset fonts with ToUnicode maps and the predefined Unicode CMaps well,
//! but mis-decodes the legacy `GBK-EUC-H` family (`身份证` → `啓矸葜`) without any sign of
//! failure, so documents naming those CMaps go to pdftotext directly.

use std::ffi::OsStr;
use std::io::{self, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};

use baomi_core::PartRole;
use pdf_oxide::PdfDocument;
use pdf_oxide::object::Object;

use crate::helper::{self, HelperError};
use crate::{Attempt, Blob, Ctx, FormatResult};

/// Info dictionary keys worth scanning, in output order. Title is also the Subject part.
const INFO_KEYS: &[&str] = &[
    "Title", "Author", "Subject", "Keywords", "Creator", "Producer",
];

/// Info dictionary keys that are dates or flags, not text.
const INFO_SKIP: &[&str] = &["CreationDate", "ModDate", "Trapped"];

/// Annotations read per page, fields per form, nesting of form fields: beyond these a file
/// is built to exhaust us, not written by a person.
const MAX_ANNOTS_PER_PAGE: usize = 2_000;
const MAX_FORM_FIELDS: usize = 10_000;
const MAX_FORM_DEPTH: usize = 32;
/// One annotation or field value is cut here; all hidden text of a document together too.
const MAX_VALUE_BYTES: usize = 64 << 10;
const MAX_HIDDEN_BYTES: usize = 8 << 20;

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
    /// Annotation text per page (page number from 1, text), pages without any left out.
    annotations: Vec<(usize, String)>,
    /// AcroForm field values, `name: value` lines.
    form: String,
    /// Text of the document's XMP metadata packet.
    xmp: String,
    encrypted: bool,
    /// False when encrypted and neither the empty user password nor the bank opened it.
    authenticated: bool,
    /// The bank password (its number, itself) that opened it, for pdftotext too.
    bank: Option<(usize, String)>,
    /// What trying the bank gave, for the `encrypted` finding (empty: not tried).
    bank_note: String,
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

    // pdf_oxide holds every stream it decodes whole in memory (its own cap is 256 MB per
    // stream, and a doubling Vec behind it), with no knob but a process-wide environment
    // variable. So the streams it would decode are inflated here first, into nothing,
    // each up to the per-object budget and all together against the expansion budget.
    let per_stream = cx.object_budget();
    let scan = flate_prescan(&bytes, per_stream);
    if !cx.charge(scan.decoded) {
        return Ok(());
    }
    // pdf_oxide also builds ~4 KB of span structures per text-showing operator of a page
    // (measured: 111 MB for a 1 MiB content stream of 22,000 `Tj`, 375 MB and 42 s for
    // 4 MiB), so a page heavier than the memory budget goes to the helper instead, which
    // its rlimits bound. Nothing is left unread by that, so it is no finding.
    let too_heavy = scan.heaviest > cx.memory_budget();
    if too_heavy && scan.oversized.is_none() {
        tracing::debug!(
            path = cx.path(),
            "PDF page needs ~{} MB in pdf_oxide: read by pdftotext",
            scan.heaviest >> 20
        );
    }
    let oversized = scan.oversized.is_some();
    let oxide = match scan.oversized {
        // Past the expansion budget (ratio to the top-level object): a bomb, as a gzip
        // inflating past it is; extraction stops.
        Some(object) if cx.budget_is_expansion() => {
            cx.budget_exceeded(
                1,
                &format!("PDF stream{object} inflates past {per_stream} bytes"),
            );
            return Ok(());
        }
        Some(object) => {
            cx.limit_here(
                "",
                format!(
                    "PDF stream{object} decodes to more than {} (per-object memory budget); \
                     built-in reader skipped",
                    helper::mb(per_stream)
                ),
            );
            Err("skipped: a stream is larger than the per-object memory budget".to_owned())
        }
        None if too_heavy => Err("skipped: a page is too heavy for the built-in reader".into()),
        None => {
            let owned = bytes.into_owned();
            catch_unwind(AssertUnwindSafe(|| oxide_extract(owned, cx)))
                .unwrap_or_else(|_| Err("pdf_oxide failed on malformed input".to_owned()))
        }
    };

    let encrypted = raw_encrypt || oxide.as_ref().is_ok_and(|o| o.encrypted);
    let mut bank: Option<(usize, String)> = oxide.as_ref().ok().and_then(|o| o.bank.clone());
    let mut bank_note = oxide
        .as_ref()
        .map(|o| o.bank_note.clone())
        .unwrap_or_default();

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

    // A helper that hit its memory or CPU limit is a `limit` finding, not `unreadable`.
    let mut limited = false;
    let (pages, fallback_error) = if oxide_good && oxide_has_text {
        (oxide_pages(&oxide), None)
    } else {
        // A page too heavy for pdf_oxide is read in content order (`-raw`): `-layout`
        // sorts words by position and takes minutes on pages of 20,000 scattered words.
        let raw = too_heavy || oversized;
        let first = pdftotext(blob, cx, raw, bank.as_ref().map(|(_, p)| p.as_str()));
        // pdf_oxide could not try the bank (too heavy, damaged) or none of its passwords
        // opened the file there (pdf_oxide 0.3 fails some owner passwords of RC4 files
        // that poppler accepts): poppler tries the bank.
        let first = match first {
            Err(e) if encrypted && bank.is_none() && !e.is_limit() => {
                let attempt = cx.try_passwords(|cx, password| {
                    pdftotext(blob, cx, raw, Some(password))
                        .ok()
                        .map(|pages| (password.to_owned(), pages))
                });
                bank_note = attempt.note();
                match attempt {
                    Attempt::Opened {
                        index,
                        value: (password, pages),
                    } => {
                        bank = Some((index, password));
                        Ok(pages)
                    }
                    _ => Err(e),
                }
            }
            other => other,
        };
        match first {
            Ok(fallback) => {
                let fallback_has_text = fallback.iter().any(|t| !t.trim().is_empty());
                if fallback_has_text || !oxide_has_text {
                    (fallback, None)
                } else {
                    (oxide_pages(&oxide), None)
                }
            }
            Err(e) if e.is_limit() => {
                cx.limit_here("", e.to_string());
                limited = true;
                (oxide_pages(&oxide), None)
            }
            Err(e) if oxide.is_ok() => (oxide_pages(&oxide), Some(e.to_string())),
            Err(e) => {
                let oxide_err = oxide.err().unwrap_or_default();
                if encrypted {
                    cx.encrypted(
                        "",
                        format!("PDF encrypted (password required, no text extracted){bank_note}"),
                    );
                    return Ok(());
                }
                return Err(format!("PDF does not parse ({oxide_err}; pdftotext: {e})").into());
            }
        }
    };

    if encrypted {
        let text = pages.iter().any(|t| !t.trim().is_empty());
        let how = match &bank {
            Some((index, _)) if text => {
                format!("PDF encrypted, opened with bank password #{index}, text extracted")
            }
            Some((index, _)) => {
                format!("PDF encrypted, opened with bank password #{index}, no text extracted")
            }
            None if text && bank_note.is_empty() => {
                "PDF encrypted (opened with the empty user password, text extracted)".to_owned()
            }
            None if text => "PDF encrypted (text extracted without its password)".to_owned(),
            None => format!("PDF encrypted (password required, no text extracted){bank_note}"),
        };
        cx.encrypted("", how);
    }
    if let Some(e) = &fallback_error {
        tracing::debug!(path = cx.path(), "pdftotext fallback failed: {e}");
    }

    if let Ok(o) = &oxide {
        emit_info(&o.info, cx);
        for (number, text) in &o.annotations {
            cx.text(
                &format!("page {number}#annot"),
                PartRole::Annotation,
                text.clone(),
            );
        }
        cx.text("#form", PartRole::Annotation, o.form.clone());
        cx.text("#xmp", PartRole::Metadata, o.xmp.clone());
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
    if pages.is_empty() && limited {
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
    let mut authenticated = if encrypted {
        // Most "protected" office PDFs only restrict printing/copying: the user password
        // is empty and the text is readable.
        doc.authenticate(b"").unwrap_or(false) && doc.is_authenticated()
    } else {
        true
    };
    let mut bank = None;
    let mut bank_note = String::new();
    if !authenticated {
        // The bank: each password as the user password, then as the owner password
        // (pdf_oxide tries both), which opens the document too.
        let attempt = cx.try_passwords(|_, password| {
            (doc.authenticate(password.as_bytes()).unwrap_or(false) && doc.is_authenticated())
                .then(|| password.to_owned())
        });
        bank_note = attempt.note();
        if let Attempt::Opened { index, value } = attempt {
            authenticated = true;
            bank = Some((index, value));
        }
    }
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
    let mut hidden = HiddenText::default();
    if authenticated {
        // Hidden text is a bonus over the page text: a panic in it loses only itself.
        let read = catch_unwind(AssertUnwindSafe(|| {
            let mut hidden = HiddenText::default();
            for index in 0..pages.len() {
                if hidden.budget_spent() || cx.should_stop() {
                    break;
                }
                let text = hidden.page_annotations(&doc, index);
                if !text.trim().is_empty() {
                    hidden.annotations.push((index + 1, text));
                }
            }
            hidden.read_form_and_xmp(&doc);
            hidden
        }));
        match read {
            Ok(read) => hidden = read,
            Err(_) => tracing::debug!(path = cx.path(), "PDF annotations: reader panicked"),
        }
    }
    Ok(OxideText {
        pages,
        images,
        info,
        annotations: hidden.annotations,
        form: hidden.form,
        xmp: hidden.xmp,
        encrypted,
        authenticated,
        bank,
        bank_note,
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
    // The standard keys in a fixed order, then custom ones (Word exports its custom
    // document properties here, a `密级` property among them) sorted by name.
    let mut custom: Vec<&String> = dict
        .keys()
        .filter(|k| !INFO_KEYS.contains(&k.as_str()) && !INFO_SKIP.contains(&k.as_str()))
        .collect();
    custom.sort();
    let keys = INFO_KEYS
        .iter()
        .copied()
        .chain(custom.into_iter().map(String::as_str));
    let mut out = Vec::new();
    for key in keys.take(1_000) {
        let value = dict
            .get(key)
            .and_then(resolve)
            .and_then(|v| v.as_string().map(decode_pdf_string));
        if let Some(value) = value {
            let value = value.trim().trim_matches('\0').to_owned();
            if !value.is_empty() {
                out.push((key.to_owned(), truncate(&value, MAX_VALUE_BYTES).to_owned()));
            }
        }
    }
    out
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

/// Annotation, form and XMP text of one document, read within [`MAX_HIDDEN_BYTES`].
#[derive(Default)]
struct HiddenText {
    annotations: Vec<(usize, String)>,
    form: String,
    xmp: String,
    used: usize,
}

impl HiddenText {
    fn budget_spent(&self) -> bool {
        self.used >= MAX_HIDDEN_BYTES
    }

    /// Count `text` against the budget and return it cut to a value's maximum.
    fn take<'t>(&mut self, text: &'t str) -> Option<&'t str> {
        let text = text.trim_matches(|c: char| c == '\0' || c.is_whitespace());
        if text.is_empty() || self.budget_spent() {
            return None;
        }
        let text = truncate(text, MAX_VALUE_BYTES);
        self.used += text.len();
        Some(text)
    }

    /// The text of page `index`'s annotations: per annotation its author, subject, contents
    /// and rich text (when it says more than the contents), separated by blank lines.
    /// Widgets are form fields, read from the AcroForm tree instead; links carry no text.
    fn page_annotations(&mut self, doc: &PdfDocument, index: usize) -> String {
        let mut out = String::new();
        let Ok(page) = doc.get_page(index) else {
            return out;
        };
        let Some(annots) = page
            .as_dict()
            .and_then(|d| d.get("Annots"))
            .and_then(|a| resolve(doc, a))
        else {
            return out;
        };
        let Some(annots) = annots.as_array() else {
            return out;
        };
        let mut seen: Vec<String> = Vec::new();
        for annot in annots.iter().take(MAX_ANNOTS_PER_PAGE) {
            let Some(annot) = resolve(doc, annot) else {
                continue;
            };
            let Some(dict) = annot.as_dict() else {
                continue;
            };
            let subtype = dict.get("Subtype").and_then(Object::as_name).unwrap_or("");
            if matches!(subtype, "Widget" | "Link") {
                continue;
            }
            let string = |key: &str| {
                dict.get(key)
                    .and_then(|v| resolve(doc, v))
                    .and_then(|v| v.as_string().map(decode_pdf_string))
            };
            let mut lines = Vec::new();
            if let Some(author) = string("T") {
                lines.push(("Author: ", author));
            }
            if let Some(subject) = string("Subj") {
                lines.push(("Subject: ", subject));
            }
            let contents = string("Contents");
            let rich = dict
                .get("RC")
                .and_then(|v| resolve(doc, v))
                .and_then(|v| rich_text(&v));
            let same = |a: &str, b: &str| squash(a) == squash(b);
            if let Some(contents) = &contents {
                lines.push(("", contents.clone()));
            }
            if let Some(rich) = rich
                && !contents.as_deref().is_some_and(|c| same(c, &rich))
            {
                lines.push(("", rich));
            }
            let mut block = String::new();
            for (label, value) in lines {
                // A popup repeats its parent's note; a reply may repeat the author.
                if label.is_empty() && seen.iter().any(|s| same(s, &value)) {
                    continue;
                }
                let Some(value) = self.take(&value) else {
                    continue;
                };
                if label.is_empty() {
                    seen.push(value.to_owned());
                }
                block.push_str(label);
                block.push_str(value);
                block.push('\n');
            }
            if block
                .lines()
                .any(|l| !l.starts_with("Author: ") && !l.starts_with("Subject: "))
            {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&block);
            }
        }
        out
    }

    /// AcroForm field values as `name: value` lines, and the catalog's XMP packet.
    fn read_form_and_xmp(&mut self, doc: &PdfDocument) {
        let Ok(catalog) = doc.catalog() else {
            return;
        };
        let Some(catalog) = catalog.as_dict() else {
            return;
        };
        if let Some(fields) = catalog
            .get("AcroForm")
            .and_then(|f| resolve(doc, f))
            .and_then(|f| f.as_dict().and_then(|d| d.get("Fields")).cloned())
            .and_then(|f| resolve(doc, &f))
            && let Some(fields) = fields.as_array()
        {
            let mut visited = std::collections::HashSet::new();
            let mut count = 0;
            for field in fields {
                self.form_field(doc, field, "", 0, &mut visited, &mut count);
            }
        }
        let metadata = catalog.get("Metadata").and_then(|m| resolve(doc, m));
        if let Some(stream @ Object::Stream { .. }) = metadata
            && let Ok(packet) = stream.decode_stream_data()
        {
            let text = super::exif::xmp_text(&packet);
            if let Some(text) = self.take(&text) {
                self.xmp = text.to_owned();
            }
        }
    }

    fn form_field(
        &mut self,
        doc: &PdfDocument,
        field: &Object,
        parent: &str,
        depth: usize,
        visited: &mut std::collections::HashSet<pdf_oxide::object::ObjectRef>,
        count: &mut usize,
    ) {
        if depth > MAX_FORM_DEPTH || *count >= MAX_FORM_FIELDS || self.budget_spent() {
            return;
        }
        if let Some(reference) = field.as_reference()
            && !visited.insert(reference)
        {
            return;
        }
        *count += 1;
        let Some(field) = resolve(doc, field) else {
            return;
        };
        let Some(dict) = field.as_dict() else {
            return;
        };
        let partial = dict
            .get("T")
            .and_then(|t| resolve(doc, t))
            .and_then(|t| t.as_string().map(decode_pdf_string))
            .unwrap_or_default();
        let name = match (parent.is_empty(), partial.is_empty()) {
            (true, _) => partial,
            (false, true) => parent.to_owned(),
            (false, false) => format!("{parent}.{partial}"),
        };
        // Text and choice values; check boxes and radio buttons hold names (`/Yes`, `/Off`).
        let value = dict
            .get("V")
            .and_then(|v| resolve(doc, v))
            .map(|v| match v {
                Object::String(bytes) => decode_pdf_string(&bytes),
                Object::Array(items) => items
                    .iter()
                    .filter_map(|i| i.as_string().map(decode_pdf_string))
                    .collect::<Vec<_>>()
                    .join("; "),
                _ => String::new(),
            });
        if let Some(value) = value
            && let Some(value) = self.take(&value)
        {
            let label = if name.is_empty() { "field" } else { &name };
            self.form.push_str(label);
            self.form.push_str(": ");
            self.form.push_str(value);
            self.form.push('\n');
        }
        if let Some(kids) = dict
            .get("Kids")
            .and_then(|k| resolve(doc, k))
            .and_then(|k| k.as_array().cloned())
        {
            for kid in &kids {
                self.form_field(doc, kid, &name, depth + 1, visited, count);
            }
        }
    }
}

/// An object itself, or what its reference points to.
fn resolve(doc: &PdfDocument, obj: &Object) -> Option<Object> {
    match obj.as_reference() {
        Some(r) => doc.load_object(r).ok(),
        None => Some(obj.clone()),
    }
}

/// Text of a rich-text string or stream (`/RC`, XHTML): the markup stripped.
fn rich_text(obj: &Object) -> Option<String> {
    let bytes = match obj {
        Object::String(bytes) => decode_pdf_string(bytes).into_bytes(),
        Object::Stream { .. } => obj.decode_stream_data().ok()?,
        _ => return None,
    };
    let xhtml = super::xml::decode(&bytes);
    let mut text = String::new();
    let _ = super::xml::walk(&xhtml, |node| match node {
        super::xml::Node::Text(t) => text.push_str(t),
        super::xml::Node::Close("p" | "div" | "br" | "li") => text.push('\n'),
        _ => {}
    });
    let text = text.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// Text with all whitespace removed, to compare a note with its rich-text copy.
fn squash(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
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

/// Text per page from `pdftotext -layout -enc UTF-8` (pages end with form feeds), or
/// `-raw` (content-stream order), run under the helper limits of `cx`. A bank `password`
/// goes as both `-opw` and `-upw` (poppler takes no password any other way, so it is in
/// the helper's command line while it runs).
fn pdftotext(
    blob: &Blob,
    cx: &Ctx<'_, '_>,
    raw: bool,
    password: Option<&str>,
) -> Result<Vec<String>, HelperError> {
    let (path, _guard) = blob.on_disk().map_err(|e| HelperError::Spawn {
        helper: "pdftotext".into(),
        error: format!("spool: {e}"),
    })?;
    let mut args: Vec<&OsStr> = vec![
        if raw { "-raw" } else { "-layout" }.as_ref(),
        "-enc".as_ref(),
        "UTF-8".as_ref(),
        "-q".as_ref(),
    ];
    if let Some(password) = password {
        args.extend::<[&OsStr; 4]>([
            "-opw".as_ref(),
            password.as_ref(),
            "-upw".as_ref(),
            password.as_ref(),
        ]);
    }
    args.extend::<[&OsStr; 2]>([path.as_os_str(), "-".as_ref()]);
    let out = helper::run("pdftotext", "pdftotext", &args, &cx.helper_limits())?;
    let text = String::from_utf8_lossy(&out);
    let mut pages: Vec<String> = text.split('\u{c}').map(layout_trim).collect();
    // The last page ends with a form feed too.
    if pages.last().is_some_and(|p| p.is_empty()) {
        pages.pop();
    }
    Ok(pages)
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
        let args: [&OsStr; 9] = [
            "-r".as_ref(),
            "150".as_ref(),
            "-gray".as_ref(),
            "-png".as_ref(),
            "-f".as_ref(),
            page.as_ref(),
            "-l".as_ref(),
            page.as_ref(),
            pdf_path.as_os_str(),
        ];
        let png = match helper::run("pdftoppm", "pdftoppm", &args, &cx.helper_limits()) {
            Ok(png) => png,
            Err(e) if e.is_limit() => {
                cx.limit_here(&format!("page {number}"), e.to_string());
                continue;
            }
            Err(e) => {
                tracing::debug!(path = cx.path(), page = number, "pdftoppm failed: {e}");
                unread.push(number);
                continue;
            }
        };
        let budget = cx.memory_budget();
        let image = match ocr::decode(&png, budget) {
            Ok(image) => image,
            Err(ocr::DecodeError::Limit(reason)) => {
                cx.limit_here(
                    &format!("page {number}"),
                    format!("rendered page: {reason}"),
                );
                continue;
            }
            Err(e) => {
                tracing::debug!(path = cx.path(), page = number, "rendered page: {e}");
                unread.push(number);
                continue;
            }
        };
        drop(png);
        let text = image
            .ok_or_else(|| "page renders as an icon".to_owned())
            .and_then(|image| ocr::recognise(&ocr::prepare(image)));
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

/// Memory pdf_oxide's text extraction takes per `Tj`/`TJ` operator of a page (measured
/// ~4 KB on generated pages of 22,000–88,000 operators; RELIABILITY.md).
const OXIDE_BYTES_PER_TEXT_OP: u64 = 4 << 10;

/// What inflating a PDF's Flate streams (before any parser sees them) found.
#[derive(Debug, Default, PartialEq)]
struct Prescan {
    /// Bytes the scanned streams decode to (the oversized one counted up to the cap).
    decoded: u64,
    /// The largest estimate over the streams of what pdf_oxide needs to read one:
    /// [`OXIDE_BYTES_PER_TEXT_OP`] per text-showing operator plus twice the decoded bytes.
    heaviest: u64,
    /// A stream decodes to more than the per-stream cap: ` (object N)` or empty when the
    /// object number could not be read.
    oversized: Option<String>,
}

/// Inflate every FlateDecode stream that a text reader decodes (content, fonts, forms,
/// object and cross-reference streams; not image XObjects, which only the `pdftoppm`
/// helper renders) into a counter, with constant memory: a 64 KB buffer and zlib's
/// window. Streams are found by their `stream` keyword after a dictionary; the data
/// runs until the zlib stream ends, so a wrong or indirect `/Length` does not matter.
/// Data that is not zlib (encrypted, other filters first) decodes to nothing here.
fn flate_prescan(bytes: &[u8], per_stream: u64) -> Prescan {
    let mut scan = Prescan::default();
    let mut buffer = vec![0u8; 64 << 10];
    let mut from = 0;
    while let Some(found) = memchr::memmem::find(&bytes[from..], b"stream") {
        let at = from + found;
        from = at + 6;
        if at >= 3 && &bytes[at - 3..at] == b"end" {
            continue;
        }
        let before = trim_end(&bytes[..at]);
        if !before.ends_with(b">>") {
            continue;
        }
        // The object's dictionary: from its `obj` keyword (within 64 KB) to here.
        let window = &before[before.len().saturating_sub(64 << 10)..];
        let Some(obj) = memchr::memmem::rfind(window, b"obj") else {
            continue;
        };
        let dict = &window[obj..];
        if memchr::memmem::find(dict, b"/FlateDecode").is_none() || is_image(dict) {
            continue;
        }
        let mut data = &bytes[from..];
        if let Some(rest) = data.strip_prefix(b"\r\n") {
            data = rest;
        } else if let Some(rest) = data.strip_prefix(b"\n").or(data.strip_prefix(b"\r")) {
            data = rest;
        }
        let mut inflate = flate2::read::ZlibDecoder::new(data);
        let mut decoded = 0u64;
        let mut text_ops = 0u64;
        while decoded <= per_stream {
            match inflate.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    decoded += n as u64;
                    // `Tj` and `TJ` (an operator split between two reads is missed).
                    text_ops += memchr::memmem::find_iter(&buffer[..n], b"T")
                        .filter(|&i| matches!(buffer.get(i + 1), Some(b'j' | b'J')))
                        .count() as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        scan.decoded += decoded.min(per_stream);
        let estimate = text_ops
            .saturating_mul(OXIDE_BYTES_PER_TEXT_OP)
            .saturating_add(decoded.saturating_mul(2));
        scan.heaviest = scan.heaviest.max(estimate);
        if decoded > per_stream {
            scan.oversized = Some(object_number(window, obj));
            return scan;
        }
        // Skip what was consumed (a stream's data may contain the word `stream`).
        from += inflate.total_in() as usize;
    }
    scan
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &bytes[..end]
}

/// `/Subtype /Image` in a stream dictionary.
fn is_image(dict: &[u8]) -> bool {
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&dict[from..], b"/Subtype") {
        let rest = &dict[from + i + 8..];
        let rest = &rest[rest.iter().take_while(|b| b.is_ascii_whitespace()).count()..];
        if let Some(after) = rest.strip_prefix(b"/Image")
            && !after.first().is_some_and(u8::is_ascii_alphanumeric)
        {
            return true;
        }
        from += i + 8;
    }
    false
}

/// ` (object 12)` from the `12 0 obj` that ends at `obj` in `window`, or empty.
fn object_number(window: &[u8], obj: usize) -> String {
    let head = trim_end(&window[..obj]);
    let head = trim_end(
        &head[..head
            .iter()
            .rposition(|b| !b.is_ascii_digit())
            .map_or(0, |i| i + 1)],
    );
    let digits: Vec<u8> = head
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    if digits.is_empty() {
        return String::new();
    }
    let number: String = digits.iter().rev().map(|&b| b as char).collect();
    format!(" (object {number})")
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
