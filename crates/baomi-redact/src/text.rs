//! Plain text, written back in its own encoding.
//!
//! The encoding is found as the extractor finds it (`formats::text::detect_encoding`: BOM,
//! UTF-16 patterns, UTF-8, then a statistical guess such as GBK). Only text that decodes
//! without a single malformed byte is redacted: re-encoding a lossy decode would change bytes
//! that were not personal data, so such a file is refused instead.

use baomi_extract::formats::text::detect_encoding;
use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};

use crate::stream::{Edits, Redactor, mask_chars};
use crate::{Format, RedactError, Redacted, finish};

/// Decoded text and how to write it back.
pub(crate) struct Decoded {
    pub text: String,
    pub encoding: &'static Encoding,
    /// The byte order mark as it was, written again in front.
    pub bom: Vec<u8>,
}

pub(crate) fn decode(bytes: &[u8], encoding: &'static Encoding) -> Result<Decoded, RedactError> {
    let (encoding, bom_len) = match Encoding::for_bom(bytes) {
        Some((enc, len)) => (enc, len),
        None => (encoding, 0),
    };
    let body = &bytes[bom_len..];
    let text = encoding
        .decode_without_bom_handling_and_without_replacement(body)
        .ok_or_else(|| {
            RedactError::Corrupt(format!(
                "the text is not valid {}: redacting it would change bytes that are not \
                 personal data; convert it to UTF-8 first",
                encoding.name()
            ))
        })?
        .into_owned();
    Ok(Decoded {
        text,
        encoding,
        bom: bytes[..bom_len].to_vec(),
    })
}

pub(crate) fn encode(d: &Decoded, text: &str) -> Result<Vec<u8>, RedactError> {
    let mut out = d.bom.clone();
    if d.encoding == UTF_16LE || d.encoding == UTF_16BE {
        // encoding_rs encodes UTF-16 as UTF-8 (the WHATWG rule for forms): write units here.
        for unit in text.encode_utf16() {
            let pair = if d.encoding == UTF_16LE {
                unit.to_le_bytes()
            } else {
                unit.to_be_bytes()
            };
            out.extend_from_slice(&pair);
        }
        return Ok(out);
    }
    if d.encoding == UTF_8 {
        out.extend_from_slice(text.as_bytes());
        return Ok(out);
    }
    let (bytes, _, unmappable) = d.encoding.encode(text);
    if unmappable {
        return Err(RedactError::Corrupt(format!(
            "the redacted text cannot be written back in {}",
            d.encoding.name()
        )));
    }
    out.extend_from_slice(&bytes);
    Ok(out)
}

/// Mask every finding of `text` in place.
pub(crate) fn redact_str(r: &Redactor, text: &str, edits: &mut Edits) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (kind, a, b) in r.findings(text) {
        if a < at {
            continue;
        }
        out.push_str(&text[at..a]);
        let chars: Vec<char> = text[a..b].chars().collect();
        for (c, m) in chars.iter().zip(mask_chars(kind, &chars)) {
            match m {
                Some(m) => out.push_str(&m),
                None => out.push(*c),
            }
        }
        edits.count(kind);
        at = b;
    }
    out.push_str(&text[at..]);
    out
}

pub(crate) fn redact(r: &Redactor, bytes: &[u8]) -> Result<Redacted, RedactError> {
    let d = decode(bytes, detect_encoding(bytes, true))?;
    let mut edits = Edits::default();
    let text = redact_str(r, &d.text, &mut edits);
    let out = if edits.total() == 0 {
        bytes.to_vec()
    } else {
        encode(&d, &text)?
    };
    let format = Format::Text {
        encoding: d.encoding.name(),
    };
    Ok(finish(out, format, edits, Vec::new()))
}
