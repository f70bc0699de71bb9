//! Normalisation: full-width → ASCII (NFKC), Traditional → Simplified, invisible characters
//! and spacing tricks removed, with an offset map back to the original text.
//!
//! Detectors match on the normalised text and report spans in the original, so every change
//! made here is recorded in a compact offset map ([`Normalized::original_range`]).
//!
//! Speed: neither NFKC nor OpenCC runs per character at scan time. A dense table over the
//! Basic Multilingual Plane (one `u32` per code point) is built once from both, and the scan
//! is a single pass that copies unchanged stretches (ASCII and already-simplified CJK) as whole
//! slices. Only single-character Traditional → Simplified conversions are used: phrase
//! conversions would change the number of characters and blur the offset map, and detection
//! does not need them.
//!
//! Known simplification: NFKC is applied character by character, so combining sequences are
//! decomposed-and-recomposed per character only (no canonical composition across characters).
//! Chinese text and the ASCII markings the detectors look for are not affected.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use unicode_normalization::UnicodeNormalization;

/// Normalised text plus the map back to the original.
pub struct Normalized {
    pub text: String,
    /// Checkpoints sorted by `norm` (non-decreasing) and `orig` (non-decreasing). The segment
    /// from one checkpoint to the next is either linear (normalised bytes = original bytes
    /// shifted by a constant) or atomic (the normalised bytes came from the original bytes as
    /// a whole, e.g. `，` → `,`, `㈠` → `(一)`, a removed run of spaces). Implicit linear
    /// checkpoint at (0, 0); the last checkpoint is always linear.
    checkpoints: Vec<Checkpoint>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Checkpoint {
    norm: u32,
    orig: u32,
    atomic: bool,
}

impl Normalized {
    /// Text that needs no normalisation (already normalised, or for tests): identity map.
    pub fn identity(text: String) -> Normalized {
        Normalized {
            text,
            checkpoints: Vec::new(),
        }
    }

    /// Map a byte range of the normalised text to the byte range of the original it came from.
    /// A range covering characters that were removed *inside* it (spaces, zero-width chars)
    /// covers them in the original too; removed characters just outside it are not included.
    pub fn original_range(&self, start: usize, end: usize) -> (usize, usize) {
        let orig_start = self.map_start(start);
        let orig_end = self.map_end(end.max(start));
        (orig_start, orig_end.max(orig_start))
    }

    /// The original offset where the normalised character starting at `x` came from.
    fn map_start(&self, x: usize) -> usize {
        let x32 = x as u32;
        // Last checkpoint with norm <= x: after zero-length removed runs at x, so a match
        // starting at x does not start with the removed characters.
        let idx = self.checkpoints.partition_point(|c| c.norm <= x32);
        if idx == 0 {
            return x;
        }
        let cp = self.checkpoints[idx - 1];
        if cp.atomic {
            cp.orig as usize
        } else {
            cp.orig as usize + (x - cp.norm as usize)
        }
    }

    /// The original offset where the normalised character ending at `x` ended.
    fn map_end(&self, x: usize) -> usize {
        let x32 = x as u32;
        // Last checkpoint with norm < x: before zero-length removed runs at x.
        let idx = self.checkpoints.partition_point(|c| c.norm < x32);
        if idx == 0 {
            return x;
        }
        let cp = self.checkpoints[idx - 1];
        if cp.atomic {
            // An atomic segment is always closed by a following checkpoint.
            match self.checkpoints.get(idx) {
                Some(next) => next.orig as usize,
                None => cp.orig as usize,
            }
        } else {
            cp.orig as usize + (x - cp.norm as usize)
        }
    }

    /// Number of checkpoints in the offset map (for tests and memory estimates).
    pub fn checkpoint_count(&self) -> usize {
        self.checkpoints.len()
    }
}

// ---------------------------------------------------------------------------------------------
// The character table.

/// Low 21 bits: the mapped code point, or an index into `multi` when `F_MULTI` is set.
const MAP_MASK: u32 = 0x1F_FFFF;
/// The (first) output character is CJK or a star: spaces next to it are removed.
const F_CJK: u32 = 1 << 21;
/// The output is more than one character: index into `CharTable::multi`.
const F_MULTI: u32 = 1 << 22;
/// Invisible character, removed (zero-width, soft hyphen, bidi controls, variation selectors).
const F_REMOVE: u32 = 1 << 23;
/// Horizontal whitespace (after NFKC): collapsed or removed depending on its neighbours.
const F_SPACE: u32 = 1 << 24;

struct CharTable {
    entries: Vec<u32>,
    multi: Vec<Box<str>>,
    build_time: Duration,
}

static TABLE: OnceLock<CharTable> = OnceLock::new();

fn table() -> &'static CharTable {
    TABLE.get_or_init(CharTable::build)
}

/// How long building the character table took (it is built once per process).
pub fn table_build_time() -> Duration {
    table().build_time
}

/// Star characters used in `密级★期限` markings and their look-alikes. The normaliser keeps them
/// as written (NFKC already turns `＊` into `*`); detectors use this to recognise them.
pub fn is_star(c: char) -> bool {
    matches!(
        c,
        '*' | '★' | '☆' | '\u{2726}'
            ..='\u{273A}' // ✦ ✧ ✩ ✪ … ✱ ✲ ✳ ✴ ✵ ✶ ✷ ✸ ✹ ✺
            | '⭐'
            | '\u{2B51}' // ⭑
            | '\u{2B52}' // ⭒
            | '※'
            | '\u{2217}' // ∗
            | '\u{204E}' // ⁎
            | '\u{066D}' // ٭
            | '\u{22C6}' // ⋆
    )
}

/// CJK characters (ideographs, radicals, kana, CJK punctuation) — spaces next to them carry no
/// meaning in Chinese text and are a common disguise (`机 密 ★ 5 年`).
pub fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{2E80}'..='\u{2FDF}'
        | '\u{3001}'..='\u{303F}'
        | '\u{3040}'..='\u{33FF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{FE30}'..='\u{FE4F}'
        | '\u{FF00}'..='\u{FFEF}'
        | '\u{20000}'..='\u{3FFFF}')
}

/// Characters that are invisible and removed outright.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' // soft hyphen
        | '\u{034F}' // combining grapheme joiner
        | '\u{061C}'
        | '\u{115F}'..='\u{1160}'
        | '\u{17B4}'..='\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{200B}'..='\u{200F}' // zero-width space/joiners, LRM/RLM
        | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{206F}'
        | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}' // variation selectors
        | '\u{FEFF}' // BOM / zero-width no-break space
        | '\u{FFA0}')
}

fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

fn is_horizontal_space(c: char) -> bool {
    c.is_whitespace() && !is_line_break(c)
}

/// Zero-width spaces are not `char::is_whitespace`; they are handled as invisible.
fn class_of(c: char) -> u32 {
    if is_cjk(c) || (is_star(c) && c != '*') {
        F_CJK
    } else {
        0
    }
}

impl CharTable {
    fn build() -> CharTable {
        let started = Instant::now();
        let mut entries = vec![0u32; 0x1_0000];
        let mut multi: Vec<Box<str>> = Vec::new();

        // Step 1: NFKC per code point, plus our own rules for invisible and space characters.
        let mut nfkc_out: Vec<Option<String>> = vec![None; 0x1_0000];
        let mut needs_t2s: Vec<u32> = Vec::new();
        for cp in 0..0x1_0000u32 {
            let Some(c) = char::from_u32(cp) else {
                continue; // surrogates never occur in a &str
            };
            if is_invisible(c) {
                entries[cp as usize] = F_REMOVE;
                continue;
            }
            if is_horizontal_space(c) {
                entries[cp as usize] = F_SPACE | (' ' as u32);
                continue;
            }
            if is_line_break(c) {
                // Lines matter to detectors; every line break becomes `\n` except `\r`, which
                // is kept so `\r\n` stays two bytes for two bytes.
                let mapped = if c == '\r' { '\r' } else { '\n' };
                entries[cp as usize] = mapped as u32;
                continue;
            }
            let mapped: String = if cp < 0x80 {
                c.to_string()
            } else {
                std::iter::once(c).nfkc().collect()
            };
            if mapped.chars().any(is_cjk) {
                needs_t2s.push(cp);
            }
            nfkc_out[cp as usize] = Some(mapped);
        }

        // Step 2: Traditional → Simplified, single characters only, in one OpenCC call with
        // a line break between characters so that no phrase can match across two of them.
        if let Ok(opencc) =
            ferrous_opencc::OpenCC::from_config(ferrous_opencc::config::BuiltinConfig::T2s)
        {
            let mut joined = String::with_capacity(needs_t2s.len() * 4);
            for &cp in &needs_t2s {
                if let Some(s) = &nfkc_out[cp as usize] {
                    joined.push_str(s);
                }
                joined.push('\n');
            }
            let converted = opencc.convert(&joined);
            let pieces: Vec<&str> = converted.split('\n').collect();
            if pieces.len() == needs_t2s.len() + 1 {
                for (&cp, piece) in needs_t2s.iter().zip(pieces) {
                    nfkc_out[cp as usize] = Some(piece.to_owned());
                }
            } else {
                // Should not happen (no dictionary entry contains a line break); fall back to
                // converting one by one so the table stays right.
                for &cp in &needs_t2s {
                    if let Some(s) = &nfkc_out[cp as usize] {
                        let one = opencc.convert(s);
                        nfkc_out[cp as usize] = Some(one);
                    }
                }
            }
        }

        // Step 3: encode.
        for cp in 0..0x1_0000u32 {
            let Some(out) = nfkc_out[cp as usize].take() else {
                continue;
            };
            let mut chars = out.chars();
            let entry = match (chars.next(), chars.next()) {
                (None, _) => F_REMOVE,
                (Some(one), None) => {
                    if is_horizontal_space(one) {
                        F_SPACE | ' ' as u32
                    } else if is_invisible(one) {
                        F_REMOVE
                    } else {
                        class_of(one) | one as u32
                    }
                }
                (Some(first), Some(_)) => {
                    let idx = multi.len() as u32;
                    multi.push(out.into_boxed_str());
                    class_of(first) | F_MULTI | idx
                }
            };
            entries[cp as usize] = entry;
        }

        CharTable {
            entries,
            multi,
            build_time: started.elapsed(),
        }
    }

    /// Entry for a character outside the BMP: NFKC computed on the fly (rare: mathematical
    /// alphanumerics, emoji, CJK extension B and later).
    fn astral(c: char) -> Astral {
        if is_invisible(c) {
            return Astral::Remove;
        }
        let cls = class_of(c);
        // Only a few astral blocks have compatibility mappings; skip NFKC for the rest.
        let has_compat = matches!(c, '\u{1D400}'..='\u{1D7FF}' | '\u{1F100}'..='\u{1F2FF}' | '\u{2F800}'..='\u{2FA1F}' | '\u{E0000}'..='\u{E007F}');
        if !has_compat {
            return Astral::Same(cls);
        }
        let mapped: String = std::iter::once(c).nfkc().collect();
        let mut it = mapped.chars();
        match (it.next(), it.next()) {
            (Some(one), None) if one == c => Astral::Same(cls),
            (None, _) => Astral::Remove,
            _ => {
                let first = mapped.chars().next().map(class_of).unwrap_or(0);
                Astral::Mapped(mapped, first)
            }
        }
    }
}

enum Astral {
    Same(u32),
    Remove,
    Mapped(String, u32),
}

/// Decode the char starting at byte `i` of valid UTF-8; returns (code point, byte length).
#[inline(always)]
fn decode_at(bytes: &[u8], i: usize) -> (u32, usize) {
    let b0 = bytes[i] as u32;
    if b0 < 0x80 {
        (b0, 1)
    } else if b0 < 0xE0 {
        (((b0 & 0x1F) << 6) | (bytes[i + 1] as u32 & 0x3F), 2)
    } else if b0 < 0xF0 {
        (
            ((b0 & 0x0F) << 12)
                | ((bytes[i + 1] as u32 & 0x3F) << 6)
                | (bytes[i + 2] as u32 & 0x3F),
            3,
        )
    } else {
        (
            ((b0 & 0x07) << 18)
                | ((bytes[i + 1] as u32 & 0x3F) << 12)
                | ((bytes[i + 2] as u32 & 0x3F) << 6)
                | (bytes[i + 3] as u32 & 0x3F),
            4,
        )
    }
}

#[derive(Default)]
pub struct Normalizer {}

/// Output buffer plus offset-map bookkeeping for one normalisation pass.
struct Writer<'a> {
    src: &'a str,
    out: String,
    checkpoints: Vec<Checkpoint>,
    /// Start of the stretch of `src` not yet copied that maps to itself.
    pending: usize,
}

impl Writer<'_> {
    #[inline]
    fn flush(&mut self, upto: usize) {
        if self.pending < upto {
            self.out.push_str(&self.src[self.pending..upto]);
        }
        self.pending = upto;
    }

    fn push_checkpoint(&mut self, orig: usize, atomic: bool) {
        let cp = Checkpoint {
            norm: self.out.len() as u32,
            orig: orig as u32,
            atomic,
        };
        if let Some(last) = self
            .checkpoints
            .last_mut()
            .filter(|last| last.norm == cp.norm && last.orig == cp.orig)
        {
            // A zero-length segment carries no information: keep the newer meaning.
            *last = cp;
            return;
        }
        self.checkpoints.push(cp);
    }

    /// Replace `src[from..to]` (already flushed up to `from`) by `replacement` as one unit.
    fn replace(&mut self, from: usize, to: usize, replacement: &str) {
        self.flush(from);
        if replacement.len() == to - from && replacement.chars().count() <= 1 {
            // Same byte length, one character for one: offsets stay valid, no checkpoint.
            self.out.push_str(replacement);
        } else {
            self.push_checkpoint(from, true);
            self.out.push_str(replacement);
            self.push_checkpoint(to, false);
        }
        self.pending = to;
    }

    /// The class (`F_CJK` or 0) of the last character written.
    fn last_class(&self, tab: &CharTable) -> u32 {
        match self.out.chars().next_back() {
            // Start of the text or of a line: leading spaces are dropped.
            None | Some('\n') | Some('\r') => F_CJK,
            Some(c) if (c as u32) < 0x1_0000 => tab.entries[c as usize] & F_CJK,
            Some(c) => class_of(c),
        }
    }
}

impl Normalizer {
    pub fn new() -> Normalizer {
        // Build the table now rather than on the first part scanned.
        let _ = table();
        Normalizer {}
    }

    pub fn normalize(&self, text: &str) -> Normalized {
        // Offsets are stored as u32. Extraction limits keep parts far below 4 GiB; a larger
        // text is passed through unnormalised rather than given a wrong offset map.
        if text.len() >= u32::MAX as usize {
            return Normalized {
                text: text.to_owned(),
                checkpoints: Vec::new(),
            };
        }
        let tab = table();
        let bytes = text.as_bytes();
        let mut w = Writer {
            src: text,
            out: String::with_capacity(text.len()),
            checkpoints: Vec::new(),
            pending: 0,
        };
        let n = bytes.len();
        let mut i = 0;
        while i < n {
            let b = bytes[i];
            if b < 0x80 {
                match b {
                    b' ' | b'\t' => {
                        // Fast path: one space between two ASCII non-space characters.
                        if b == b' '
                            && i > 0
                            && i + 1 < n
                            && bytes[i - 1] < 0x80
                            && bytes[i + 1] < 0x80
                            && !bytes[i - 1].is_ascii_whitespace()
                            && !bytes[i + 1].is_ascii_whitespace()
                        {
                            i += 1;
                            continue;
                        }
                        i = self.space_run(&mut w, tab, i);
                    }
                    0x0B | 0x0C => {
                        w.replace(i, i + 1, "\n");
                        i += 1;
                    }
                    _ => i += 1,
                }
                continue;
            }
            let (cp, len) = decode_at(bytes, i);
            if cp < 0x1_0000 {
                let entry = tab.entries[cp as usize];
                if entry & !F_CJK == cp {
                    i += len;
                    continue;
                }
                if entry & (F_SPACE | F_REMOVE) != 0 {
                    i = self.space_run(&mut w, tab, i);
                    continue;
                }
                if entry & F_MULTI != 0 {
                    let s = &tab.multi[(entry & MAP_MASK) as usize];
                    w.replace(i, i + len, s);
                } else {
                    let mut buf = [0u8; 4];
                    let c = char::from_u32(entry & MAP_MASK).unwrap_or('\u{FFFD}');
                    w.replace(i, i + len, c.encode_utf8(&mut buf));
                }
                i += len;
            } else {
                let c = char::from_u32(cp).unwrap_or('\u{FFFD}');
                match CharTable::astral(c) {
                    Astral::Same(_) => {}
                    Astral::Remove => {
                        i = self.space_run(&mut w, tab, i);
                        continue;
                    }
                    Astral::Mapped(s, _) => w.replace(i, i + len, &s),
                }
                i += len;
            }
        }
        w.flush(n);
        Normalized {
            text: w.out,
            checkpoints: w.checkpoints,
        }
    }

    /// Handle a run of horizontal spaces and invisible characters starting at `start`;
    /// returns the index after the run.
    fn space_run(&self, w: &mut Writer<'_>, tab: &CharTable, start: usize) -> usize {
        let bytes = w.src.as_bytes();
        let n = bytes.len();
        let mut j = start;
        let mut has_space = false;
        // Class of the character after the run; a line break or the end of the text counts
        // like CJK: spaces at the edges of a line carry nothing.
        let mut next_class = F_CJK;
        while j < n {
            let (cp, len) = decode_at(bytes, j);
            let entry = if cp < 0x1_0000 {
                tab.entries[cp as usize]
            } else {
                match char::from_u32(cp).map(CharTable::astral) {
                    Some(Astral::Remove) => F_REMOVE,
                    Some(Astral::Same(cls)) | Some(Astral::Mapped(_, cls)) => cls,
                    None => 0,
                }
            };
            if entry & F_SPACE != 0 {
                has_space = true;
            } else if entry & F_REMOVE == 0 {
                next_class = if char::from_u32(cp).is_some_and(is_line_break) {
                    F_CJK
                } else {
                    entry & F_CJK
                };
                break;
            }
            j += len;
        }
        w.flush(start);
        let remove_all = !has_space || next_class != 0 || w.last_class(tab) != 0;
        if remove_all {
            w.replace(start, j, "");
        } else if j - start == 1 && bytes[start] == b' ' {
            // A single ASCII space stays as it is: part of the pending identity stretch.
        } else {
            w.replace(start, j, " ");
        }
        j
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let n = Normalizer::new().normalize(input);
        assert_eq!(n.text, expected, "normalising {input:?}");
    }

    #[test]
    fn basics() {
        check("机 密 ★ 5 年", "机密★5年");
        check("絕密", "绝密");
        check("ＡＢＣ１２３", "ABC123");
        check("TOP  SECRET", "TOP SECRET");
        check("a\u{200B}b", "ab");
    }
}
