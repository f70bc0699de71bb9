//! Internet mail: single messages (.eml, RFC 5322 + MIME) and mbox files.
//!
//! A message yields its subject (role Subject), its address headers (Metadata), every
//! text body (Body; HTML reduced to text) and every attachment as a nested object.
//! Attached messages (`message/rfc822`) are opened here, recursively, so their parts keep
//! the path of the outer message (`mail.eml/attached-1.eml/body`).

use std::io::BufRead;

use baomi_core::{Finding, FindingKind, PartRole};
use encoding_rs::Encoding;
use mailparse::{DispositionType, MailHeaderMap, ParsedMail};

use crate::{Blob, Ctx, FormatResult};

/// Address and date headers worth scanning: display names and addresses are text too.
const META_HEADERS: &[&str] = &["From", "Sender", "Reply-To", "To", "Cc", "Bcc", "Date"];

pub fn extract_eml(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let bytes = blob.bytes()?;
    let mut state = MessageState::default();
    extract_message(&bytes, "", 0, &mut state, cx)
}

/// Counters shared by one top-level message and the messages attached to it, so names
/// stay unique along the whole path.
#[derive(Default)]
struct MessageState {
    attachments: usize,
    attached_messages: usize,
}

/// Extract one message whose parts go under `prefix` (empty, or `attached-1.eml/`).
fn extract_message(
    raw: &[u8],
    prefix: &str,
    nesting: u32,
    state: &mut MessageState,
    cx: &mut Ctx<'_, '_>,
) -> FormatResult {
    let mail = match mailparse::parse_mail(raw) {
        Ok(mail) => mail,
        Err(err) => {
            // The MIME structure is broken somewhere: keep what the headers say, and
            // report the rest as unreadable rather than dropping the message.
            let (headers, _) = mailparse::parse_headers(raw)
                .map_err(|e| format!("mail headers do not parse: {e}"))?;
            emit_headers(&headers, prefix, cx);
            cx.unreadable(
                prefix.trim_end_matches('/'),
                format!("malformed MIME: {err}"),
            );
            return Ok(());
        }
    };
    emit_headers(&mail.headers, prefix, cx);
    let mut bodies = 0usize;
    walk_part(&mail, prefix, nesting, &mut bodies, state, cx);
    Ok(())
}

fn emit_headers(headers: &[mailparse::MailHeader<'_>], prefix: &str, cx: &mut Ctx<'_, '_>) {
    if let Some(subject) = headers.get_first_value("Subject") {
        cx.text(&format!("{prefix}subject"), PartRole::Subject, subject);
    }
    let mut meta = String::new();
    for name in META_HEADERS {
        for value in headers.get_all_values(name) {
            let value = value.trim();
            if !value.is_empty() {
                meta.push_str(name);
                meta.push_str(": ");
                meta.push_str(value);
                meta.push('\n');
            }
        }
    }
    cx.text(&format!("{prefix}headers"), PartRole::Metadata, meta);
}

/// Walk the MIME tree depth first: bodies become text parts, leaves that are not bodies
/// become nested objects.
fn walk_part(
    part: &ParsedMail<'_>,
    prefix: &str,
    nesting: u32,
    bodies: &mut usize,
    state: &mut MessageState,
    cx: &mut Ctx<'_, '_>,
) {
    if cx.should_stop() {
        return;
    }
    let mime = part.ctype.mimetype.to_ascii_lowercase();
    if mime.starts_with("multipart/") {
        if part.subparts.is_empty() {
            // A multipart without a usable boundary: treat the raw body as text so nothing
            // written in it goes unseen.
            let raw = part.get_body_raw().unwrap_or_default();
            let text = decode_text(&raw, declared_charset(part));
            if !text.trim().is_empty() {
                emit_body(text, prefix, bodies, cx);
            }
        }
        for sub in &part.subparts {
            walk_part(sub, prefix, nesting, bodies, state, cx);
            if cx.should_stop() {
                return;
            }
        }
        return;
    }

    let disposition = part.get_content_disposition();
    let is_attachment = matches!(disposition.disposition, DispositionType::Attachment);
    let file_name = attachment_name(part, &disposition.params);

    let decoded = match part.get_body_raw() {
        Ok(bytes) => bytes,
        Err(err) => {
            let what = file_name.clone().unwrap_or_else(|| mime.clone());
            let sub = format!("{prefix}{what}");
            cx.unreadable(
                sub.trim_end_matches('/'),
                format!("MIME part does not decode: {err}"),
            );
            return;
        }
    };

    if mime == "message/rfc822" || mime == "message/global" {
        state.attached_messages += 1;
        let name = format!("attached-{}.eml", state.attached_messages);
        let inner_prefix = format!("{prefix}{name}/");
        // Attached messages count as nesting levels, like any other container, but
        // running out of depth here skips only this branch (as the walker does).
        let depth = cx.depth() + nesting + 1;
        let max = cx.limits().max_depth;
        if depth > max {
            let f = Finding::structural(
                FindingKind::Limit,
                format!("{}/{}", cx.path(), inner_prefix.trim_end_matches('/')),
                format!("nesting depth {depth} > {max}"),
            );
            cx.finding(f);
            return;
        }
        if let Err(err) = extract_message(&decoded, &inner_prefix, nesting + 1, state, cx) {
            cx.unreadable(&format!("{prefix}{name}"), err.to_string());
        }
        return;
    }

    let is_text_body = !is_attachment && (mime == "text/plain" || mime == "text/html");
    // A text part with a file name but no disposition is usually an inline body; any other
    // leaf (images, documents, unknown types) is an attached object.
    if is_text_body {
        let text = decode_text(&decoded, declared_charset(part));
        let text = if mime == "text/html" {
            super::html::parse_html(&text).body
        } else {
            text
        };
        emit_body(text, prefix, bodies, cx);
        return;
    }

    state.attachments += 1;
    let name = file_name.unwrap_or_else(|| format!("attachment-{}.bin", state.attachments));
    cx.child(&format!("{prefix}{name}"), Blob::from_vec(decoded));
}

fn emit_body(text: String, prefix: &str, bodies: &mut usize, cx: &mut Ctx<'_, '_>) {
    *bodies += 1;
    let sub = if *bodies == 1 {
        format!("{prefix}body")
    } else {
        format!("{prefix}body.{bodies}")
    };
    cx.text(&sub, PartRole::Body, normalise_newlines(&text));
}

fn normalise_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// The charset label the part declares, if any (mailparse defaults to us-ascii when none
/// is given, which hides the difference we need).
fn declared_charset(part: &ParsedMail<'_>) -> Option<String> {
    part.headers
        .get_first_value("Content-Type")
        .and_then(|_| part.ctype.params.get("charset").cloned())
}

/// The attachment's file name, from Content-Disposition `filename` (RFC 2231 decoded by
/// mailparse) or Content-Type `name`, with any leftover encoded words decoded and path
/// separators removed (a name is one path segment).
fn attachment_name(
    part: &ParsedMail<'_>,
    disposition_params: &std::collections::BTreeMap<String, String>,
) -> Option<String> {
    let raw = disposition_params
        .get("filename")
        .or_else(|| part.ctype.params.get("name"))?;
    let decoded = if raw.contains("=?") {
        decode_encoded_words(raw)
    } else {
        raw.clone()
    };
    let base = decoded
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(&decoded)
        .trim()
        .to_owned();
    if base.is_empty() || base == "." || base == ".." {
        None
    } else {
        Some(base)
    }
}

/// Decode RFC 2047 encoded words that mail clients put inside quoted parameters (not
/// allowed by the RFC, but what Outlook and Foxmail send).
fn decode_encoded_words(value: &str) -> String {
    let header = format!("X: {value}\n");
    match mailparse::parse_header(header.as_bytes()) {
        Ok((h, _)) => h.get_value(),
        Err(_) => value.to_owned(),
    }
}

/// Bytes of a text part to a string: the declared charset when it decodes cleanly, else a
/// guess (mail from Chinese clients often declares nothing, or gb2312 for GBK/GB18030).
pub(crate) fn decode_text(bytes: &[u8], declared: Option<String>) -> String {
    // Valid multi-byte UTF-8 is almost never GBK or Big5 text by accident, while UTF-8 sent
    // under a stale "gb2312" label decodes as GBK without errors, into mojibake.
    if !bytes.is_ascii()
        && let Ok(text) = std::str::from_utf8(bytes)
    {
        return text.to_owned();
    }
    if let Some(label) = declared.as_deref()
        && let Some(enc) = Encoding::for_label(label.trim().as_bytes())
    {
        // A declared "us-ascii" over 8-bit bytes is a lie; fall through to guessing.
        let ascii_lie = label.eq_ignore_ascii_case("us-ascii") && !bytes.is_ascii();
        if !ascii_lie {
            let (text, _, had_errors) = enc.decode(bytes);
            if !had_errors {
                return text.into_owned();
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.to_owned();
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Allow);
    detector.feed(bytes, true);
    let enc = detector.guess(None, chardetng::Utf8Detection::Allow);
    enc.decode(bytes).0.into_owned()
}

/// An mbox: messages separated by `From ` lines. Messages are read one at a time, so only
/// one message is held in memory however big the mailbox.
pub fn extract_mbox(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let mut reader = std::io::BufReader::new(blob.open()?);
    let mut count = 0usize;
    let found = split_mbox(&mut reader, |message| {
        count += 1;
        cx.child(&format!("message-{count}.eml"), Blob::from_vec(message));
        !cx.should_stop()
    })?;
    if !found {
        return Err("not an mbox: no 'From ' separator line".into());
    }
    Ok(())
}

/// Split an mbox into messages, unescaping `>From ` lines, calling `on_message` with each
/// one as soon as it is complete (it returns false to stop). Returns whether the input
/// had a separator line at all.
fn split_mbox(
    reader: &mut dyn BufRead,
    mut on_message: impl FnMut(Vec<u8>) -> bool,
) -> std::io::Result<bool> {
    let mut message: Vec<u8> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut previous_blank = true;
    let mut seen_separator = false;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if is_separator(&line, previous_blank) {
            // An empty message (two separators in a row) is skipped, not emitted.
            if seen_separator
                && trim_mbox_gap(&mut message)
                && !on_message(std::mem::take(&mut message))
            {
                return Ok(true);
            }
            message.clear();
            seen_separator = true;
            previous_blank = false;
            continue;
        }
        previous_blank = line == b"\n" || line == b"\r\n";
        // mboxrd/mboxo quoting: ">From " (and ">>From " …) lose one '>'.
        let quoted = line.iter().take_while(|&&b| b == b'>').count();
        if quoted > 0 && line[quoted..].starts_with(b"From ") {
            message.extend_from_slice(&line[1..]);
        } else {
            message.extend_from_slice(&line);
        }
    }
    if seen_separator && trim_mbox_gap(&mut message) {
        on_message(message);
    }
    Ok(seen_separator)
}

/// `From sender date…`: RFC 4155 puts it after a blank line (or at the start); writers that
/// forget the blank line still write a date, so a line with a time in it is accepted too.
/// A body line like "From here on…" is neither.
fn is_separator(line: &[u8], previous_blank: bool) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else {
        return false;
    };
    let has_digit = rest.iter().any(u8::is_ascii_digit);
    let tokens = rest
        .split(|b| b.is_ascii_whitespace())
        .filter(|t| !t.is_empty())
        .count();
    let has_time = rest
        .windows(3)
        .any(|w| w[0].is_ascii_digit() && w[1] == b':' && w[2].is_ascii_digit());
    (previous_blank && tokens >= 2 && has_digit) || (tokens >= 3 && has_time)
}

/// Drop the blank line that separates messages (it belongs to the mbox, not the message);
/// false if nothing but blank lines is left.
fn trim_mbox_gap(message: &mut Vec<u8>) -> bool {
    if message.ends_with(b"\r\n\r\n") {
        message.truncate(message.len() - 2);
    } else if message.ends_with(b"\n\n") {
        message.truncate(message.len() - 1);
    }
    message.iter().any(|b| !b.is_ascii_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(mbox: &[u8]) -> (bool, Vec<String>) {
        let mut messages = Vec::new();
        let found = split_mbox(&mut &mbox[..], |m| {
            messages.push(String::from_utf8(m).unwrap());
            true
        })
        .unwrap();
        (found, messages)
    }

    #[test]
    fn mbox_splits_and_unescapes() {
        let mbox = b"From a@b Sat Nov 21 10:00:00 2026\nSubject: one\n\n>From here\n>>From x\nFrom here on, text\n\nFrom c@d Sat Nov 21 10:00:01 2026\nSubject: two\n\nbody two\n";
        let (found, messages) = split(mbox);
        assert!(found);
        assert_eq!(
            messages,
            vec![
                "Subject: one\n\nFrom here\n>From x\nFrom here on, text\n".to_owned(),
                "Subject: two\n\nbody two\n".to_owned(),
            ]
        );
    }

    #[test]
    fn mbox_skips_empty_messages() {
        let mbox = b"From a@b Sat Nov 21 10:00:00 2026\n\nFrom c@d Sat Nov 21 10:00:01 2026\nSubject: two\n\nbody\n";
        let (_, messages) = split(mbox);
        assert_eq!(messages, vec!["Subject: two\n\nbody\n".to_owned()]);
    }

    #[test]
    fn mbox_without_separator_is_not_an_mbox() {
        let (found, messages) = split(b"Subject: x\n\nbody\n");
        assert!(!found);
        assert!(messages.is_empty());
    }

    #[test]
    fn html_blocks_become_lines_and_scripts_vanish() {
        let html = "<html><head><title>t</title><style>p{}</style></head><body>\
                    <p>机密&#9733;5年</p><script>var x='秘密';</script><div>第二&amp;段</div></body></html>";
        let text = super::super::html::parse_html(html).body;
        assert_eq!(text, "机密★5年\n第二&段");
    }

    #[test]
    fn html_random_input_never_panics() {
        let tokens = [
            "<",
            ">",
            "</",
            "<script>",
            "</script",
            "<!--",
            "-->",
            "&",
            "&#",
            "&#x",
            ";",
            "机密",
            "p",
            "br",
            " ",
            "\n",
            "&amp;",
            "&#99999999;",
            "&#xD800;",
            "<td>",
            "<style",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..3000 {
            let mut input = String::new();
            for _ in 0..30 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                input.push_str(tokens[(seed >> 33) as usize % tokens.len()]);
            }
            let _ = super::super::html::parse_html(&input);
        }
    }

    #[test]
    fn undeclared_gbk_is_guessed() {
        let (bytes, _, _) =
            encoding_rs::GBK.encode("关于年度工作总结的通知，请各部门按时提交材料。");
        let text = decode_text(&bytes, None);
        assert!(text.contains("年度工作总结"), "{text}");
    }

    #[test]
    fn utf8_under_a_gb2312_label_is_utf8() {
        let text = decode_text("机密★5年".as_bytes(), Some("gb2312".into()));
        assert_eq!(text, "机密★5年");
    }

    #[test]
    fn wrong_charset_label_falls_back_to_detection() {
        let (bytes, _, _) = encoding_rs::GBK.encode("这是一封测试邮件，内容涉及保密工作的安排。");
        let text = decode_text(&bytes, Some("utf-8".into()));
        assert!(text.contains("保密工作"), "{text}");
    }
}
