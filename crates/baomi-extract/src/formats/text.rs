//! Plain text: find the encoding (BOM, BOM-less UTF-16, UTF-8, else a statistical guess among
//! the legacy encodings: GB18030/GBK, Big5, …), decode, and hand the text on. Large files are
//! streamed in chunks cut at line ends, so a 1 GB log never sits in memory as a whole.

use std::io::Read;

use baomi_core::PartRole;
use chardetng::{EncodingDetector, Iso2022JpDetection, Utf8Detection};
use encoding_rs::{CoderResult, Decoder, Encoding};

use super::json;
use crate::{Blob, Ctx, FormatResult};

/// Bytes looked at to choose the encoding of a streamed file.
const DETECT_BYTES: usize = 1 << 20;
/// Raw read size while streaming.
const READ_BLOCK: usize = 64 << 10;

pub fn extract(blob: &Blob, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let chunk = cx.limits().text_chunk.max(1024);
    // JSON is decoded as a whole (its escapes hide what it says), so a JSON-looking text up
    // to the JSON size bound is read in one piece rather than streamed.
    let whole = blob.len() <= chunk as u64
        || (blob.len() <= json::MAX_JSON_BYTES as u64 && looks_like_json(&blob.head(64)?));
    if whole {
        let bytes = blob.bytes()?.into_owned();
        // The common case, UTF-8 without a BOM, takes the buffer as it is: one validation
        // pass (SIMD: std's validator took 7 % of a plain-text scan on Chinese text) and no
        // copy (the scan is memory-bound on large text trees).
        if Encoding::for_bom(&bytes).is_none()
            && utf16_by_nul_pattern(&bytes).is_none()
            && simdutf8::basic::from_utf8(&bytes).is_ok()
        {
            // SAFETY: validated as UTF-8 just above.
            let text = unsafe { String::from_utf8_unchecked(bytes) };
            emit_text_or_json(unify_line_ends(text), cx);
            return Ok(());
        }
        let encoding = detect_encoding(&bytes, true);
        emit_text_or_json(decode_all(&bytes, encoding), cx);
        return Ok(());
    }
    stream(blob, chunk, cx)
}

/// The first non-blank byte (after a UTF-8 BOM) opens an object or an array.
fn looks_like_json(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    matches!(
        head.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    )
}

/// JSON and JSON Lines become their values, each a part named by its pointer; anything
/// else (and JSON too large to parse within the memory budget) is one text, chunked.
fn emit_text_or_json(text: String, cx: &mut Ctx<'_, '_>) {
    // A parsed tree takes several times its text: parse only what the budget allows.
    let fits = (text.len() as u64).saturating_mul(6) <= cx.memory_budget();
    if fits
        && looks_like_json(text.as_bytes())
        && let Some(docs) = json::parse(&text)
        && json::emit(&docs, cx)
    {
        return;
    }
    emit_chunked(cx, "", PartRole::Body, text);
}

/// Decode a whole buffer in `encoding`, dropping a BOM of that encoding and turning CRLF
/// line ends into `\n`.
pub fn decode_all(bytes: &[u8], encoding: &'static Encoding) -> String {
    let (text, _) = encoding.decode_with_bom_removal(bytes);
    unify_line_ends(text.into_owned())
}

/// Emit a document text that may be large (a long report, a big sheet) in pieces of about
/// `text_chunk` bytes cut at line ends, each with the line it starts at, as plain text is.
pub fn emit_chunked(cx: &mut Ctx<'_, '_>, sub: &str, role: PartRole, text: String) {
    let chunk = cx.limits().text_chunk.max(1024);
    if text.len() <= chunk {
        cx.text(sub, role, text);
        return;
    }
    let mut rest = text.as_str();
    let mut line = 1u32;
    while !rest.is_empty() {
        let bytes = rest.as_bytes();
        let limit = chunk.min(bytes.len());
        let cut = if limit == bytes.len() {
            limit
        } else {
            match memchr::memrchr(b'\n', &bytes[..limit]) {
                Some(nl) => nl + 1,
                None => {
                    memchr::memchr(b'\n', &bytes[limit..]).map_or(bytes.len(), |nl| limit + nl + 1)
                }
            }
        };
        let (piece, tail) = rest.split_at(cut);
        cx.text_from_line(sub, role, piece.to_owned(), line);
        let lines = memchr::memchr_iter(b'\n', piece.as_bytes()).count();
        line = line.saturating_add(u32::try_from(lines).unwrap_or(u32::MAX));
        rest = tail;
        if cx.should_stop() {
            return;
        }
    }
}

/// `\r\n` → `\n`, so "a level standing alone on a line" looks the same in Windows files.
fn unify_line_ends(text: String) -> String {
    if text.contains('\r') {
        text.replace("\r\n", "\n")
    } else {
        text
    }
}

/// Guess the encoding of `head`, the start of a text (`complete` when it is the whole text).
pub fn detect_encoding(head: &[u8], complete: bool) -> &'static Encoding {
    if let Some((encoding, _)) = Encoding::for_bom(head) {
        return encoding;
    }
    if let Some(encoding) = utf16_by_nul_pattern(head) {
        return encoding;
    }
    match std::str::from_utf8(head) {
        Ok(_) => return encoding_rs::UTF_8,
        // A prefix may end in the middle of a multi-byte sequence: still UTF-8.
        Err(e) if !complete && e.error_len().is_none() => return encoding_rs::UTF_8,
        Err(_) => {}
    }
    if let Some(encoding) = utf16_by_cjk_units(head) {
        return encoding;
    }
    let mut detector = EncodingDetector::new(Iso2022JpDetection::Deny);
    detector.feed(head, complete);
    detector.guess(None, Utf8Detection::Allow)
}

/// BOM-less UTF-16 of mostly ASCII text has a NUL in every other byte. (BOM-less UTF-16 of
/// pure CJK text has no such pattern and is left to the statistical guess.)
fn utf16_by_nul_pattern(head: &[u8]) -> Option<&'static Encoding> {
    let sample = &head[..head.len().min(4096) & !1];
    let pairs = sample.len() / 2;
    if pairs < 2 {
        return None;
    }
    let even_nuls = sample.iter().step_by(2).filter(|&&b| b == 0).count();
    let odd_nuls = sample
        .iter()
        .skip(1)
        .step_by(2)
        .filter(|&&b| b == 0)
        .count();
    let many = pairs * 3 / 10;
    let few = pairs / 20;
    if odd_nuls > many && even_nuls <= few {
        Some(encoding_rs::UTF_16LE)
    } else if even_nuls > many && odd_nuls <= few {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    }
}

/// BOM-less UTF-16 of Chinese text: read as 16-bit units, nearly all are CJK ideographs,
/// CJK or full-width punctuation, or ASCII text characters. Bytes of GBK, Big5 or UTF-8 text
/// read that way fall all over the code space, so a 90 % threshold does not mistake them.
fn utf16_by_cjk_units(head: &[u8]) -> Option<&'static Encoding> {
    let sample = &head[..head.len().min(4096) & !1];
    let units = sample.len() / 2;
    if units < 8 {
        return None;
    }
    let plausible = |unit: u16| matches!(unit, 0x4E00..=0x9FFF | 0x3000..=0x303F | 0xFF00..=0xFFEF | 0x0020..=0x007E | 0x0009 | 0x000A | 0x000D | 0x2000..=0x206F);
    let score = |little: bool| {
        sample
            .chunks_exact(2)
            .map(|pair| {
                let bytes = [pair[0], pair[1]];
                if little {
                    u16::from_le_bytes(bytes)
                } else {
                    u16::from_be_bytes(bytes)
                }
            })
            .filter(|&unit| plausible(unit))
            .count()
    };
    let needed = units * 9 / 10;
    if score(true) >= needed {
        Some(encoding_rs::UTF_16LE)
    } else if score(false) >= needed {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    }
}

/// Stream a large text: the encoding is chosen from the first MiB; the decoder keeps state
/// across reads, so multi-byte sequences and UTF-16 pairs split between reads decode right.
fn stream(blob: &Blob, chunk: usize, cx: &mut Ctx<'_, '_>) -> FormatResult {
    let mut reader = blob.open()?;
    let mut head = Vec::with_capacity(DETECT_BYTES.min(chunk));
    (&mut reader)
        .take(DETECT_BYTES.min(chunk) as u64)
        .read_to_end(&mut head)?;
    let encoding = detect_encoding(&head, false);
    let mut chunker = Chunker {
        decoder: encoding.new_decoder_with_bom_removal(),
        pending: String::new(),
        first_line: 1,
        chunk,
    };
    chunker.feed(&head, false, cx);
    drop(head);
    let mut block = vec![0u8; READ_BLOCK];
    loop {
        if cx.should_stop() {
            return Ok(());
        }
        let n = match reader.read(&mut block) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        chunker.feed(&block[..n], false, cx);
    }
    chunker.feed(&[], true, cx);
    Ok(())
}

/// Decoded text waiting to be emitted, cut into chunks at line ends.
struct Chunker {
    decoder: Decoder,
    pending: String,
    /// Line number of the first line in `pending`.
    first_line: u32,
    chunk: usize,
}

impl Chunker {
    fn feed(&mut self, mut bytes: &[u8], last: bool, cx: &mut Ctx<'_, '_>) {
        loop {
            let room = self
                .decoder
                .max_utf8_buffer_length(bytes.len())
                .unwrap_or(bytes.len() * 3 + 16);
            self.pending.reserve(room);
            let (result, read, _) = self
                .decoder
                .decode_to_string(bytes, &mut self.pending, last);
            bytes = &bytes[read..];
            while self.pending.len() >= self.chunk {
                self.emit_up_to_line_end(cx);
            }
            if result == CoderResult::InputEmpty {
                break;
            }
        }
        if last && !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.emit(rest, cx);
        }
    }

    /// Emit about a chunk of `pending`, cut after the last line end within the first `chunk`
    /// bytes (or after the first line end beyond, or all of it: a line longer than a chunk
    /// still has to reach the detectors).
    fn emit_up_to_line_end(&mut self, cx: &mut Ctx<'_, '_>) {
        let bytes = self.pending.as_bytes();
        let limit = self.chunk.min(bytes.len());
        let cut = match memchr::memrchr(b'\n', &bytes[..limit]) {
            Some(nl) => nl + 1,
            None => memchr::memchr(b'\n', &bytes[limit..]).map_or(bytes.len(), |nl| limit + nl + 1),
        };
        let rest = self.pending.split_off(cut);
        let piece = std::mem::replace(&mut self.pending, rest);
        self.emit(piece, cx);
    }

    fn emit(&mut self, piece: String, cx: &mut Ctx<'_, '_>) {
        let lines = memchr::memchr_iter(b'\n', piece.as_bytes()).count();
        let first_line = self.first_line;
        self.first_line = first_line.saturating_add(u32::try_from(lines).unwrap_or(u32::MAX));
        cx.text_from_line("", PartRole::Body, unify_line_ends(piece), first_line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_bom_and_nul_patterns() {
        assert_eq!(
            detect_encoding(b"\xEF\xBB\xBFabc", true),
            encoding_rs::UTF_8
        );
        assert_eq!(
            detect_encoding(b"\xFF\xFEa\0b\0", true),
            encoding_rs::UTF_16LE
        );
        assert_eq!(
            detect_encoding(b"a\0b\0c\0d\0", true),
            encoding_rs::UTF_16LE
        );
        assert_eq!(
            detect_encoding(b"\0a\0b\0c\0d", true),
            encoding_rs::UTF_16BE
        );
        assert_eq!(detect_encoding("机密".as_bytes(), true), encoding_rs::UTF_8);
    }

    #[test]
    fn truncated_utf8_prefix_is_still_utf8() {
        let bytes = "机密文件".as_bytes();
        assert_eq!(detect_encoding(&bytes[..4], false), encoding_rs::UTF_8);
    }
}
