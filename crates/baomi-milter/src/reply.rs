//! What goes back to the MTA is checked here: SMTP reply texts, added header fields and
//! quarantine reasons come from the inspector and may contain anything.

/// SMTP reply text: printable ASCII on one line (non-ASCII becomes `?`: a non-SMTPUTF8
/// session has no way to carry it), `%` doubled because Postfix and libmilter treat a
/// reply text as a format string, at most 400 bytes so the whole reply line stays below
/// SMTP's 512.
pub(crate) fn smtp_text(text: &str, fallback: &str) -> String {
    let mut out = String::with_capacity(text.len().min(400));
    for c in text.trim().chars() {
        let c = match c {
            '\r' | '\n' | '\t' => ' ',
            ' '..='~' => c,
            _ => '?',
        };
        if out.len() + 2 > 400 {
            break;
        }
        if c == '%' {
            out.push_str("%%");
        } else {
            out.push(c);
        }
    }
    if out.trim().is_empty() {
        fallback.to_string()
    } else {
        out
    }
}

/// A header field name: printable ASCII without `:` or space (RFC 5322 ftext).
pub(crate) fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 76
        && name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

/// A header field value on one line; non-ASCII text is carried in RFC 2047 encoded words
/// (UTF-8, base64) so the added field is valid in any message.
pub(crate) fn header_value(value: &str) -> String {
    let one_line: String = value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let one_line = one_line.trim();
    if one_line.is_ascii() {
        return one_line.to_string();
    }
    // Each encoded word at most 75 characters: 12 of framing, 60 of base64 = 45 bytes,
    // cut at character boundaries.
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in one_line.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(encoded_word(&chunk));
            chunk.clear();
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(encoded_word(&chunk));
    }
    words.join(" ")
}

fn encoded_word(text: &str) -> String {
    format!("=?UTF-8?B?{}?=", base64(text.as_bytes()))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A quarantine reason: one line without control characters, at most 200 bytes (Postfix
/// logs it with the held message).
pub(crate) fn quarantine_reason(reason: &str) -> String {
    let mut out = String::new();
    for c in reason.trim().chars() {
        let c = if c.is_control() { ' ' } else { c };
        if out.len() + c.len_utf8() > 200 {
            break;
        }
        out.push(c);
    }
    if out.is_empty() {
        "held by Baomi".to_string()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_text_is_one_printable_line_with_percent_escaped() {
        assert_eq!(
            smtp_text("incident 42:\r\n100% 机密", "x"),
            "incident 42:  100%% ??"
        );
        assert_eq!(smtp_text("  ", "fallback"), "fallback");
        assert!(smtp_text(&"a".repeat(1000), "x").len() <= 400);
    }

    #[test]
    fn header_values_encode_non_ascii_and_names_are_checked() {
        assert_eq!(header_value("alert; incident=7\r\n"), "alert; incident=7");
        assert_eq!(header_value("机密"), "=?UTF-8?B?5py65a+G?=");
        let long = header_value(&"机密★10年".repeat(20));
        assert!(
            long.split(' ')
                .all(|w| w.len() <= 75 && w.starts_with("=?UTF-8?B?"))
        );
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
        assert!(valid_header_name("X-Baomi-Verdict"));
        assert!(!valid_header_name("X Baomi"));
        assert!(!valid_header_name("X:B"));
        assert!(!valid_header_name(""));
    }
}
