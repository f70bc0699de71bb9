//! Registered-document fingerprints: recognise a registered secret document, or an excerpt
//! of it, whatever it was pasted into and however it was reformatted.
//!
//! **Canonical text.** Fingerprints are taken over the engine's normalised text (NFKC,
//! Traditional → Simplified) reduced to letters, digits and CJK ideographs, Latin lower-cased.
//! Whitespace, punctuation, hard line wraps, stars (★) and the choice of Traditional or
//! Simplified characters therefore never break a match. [`Canonical`] keeps, for every
//! canonical character, its byte offset in the normalised text, so a match maps back to the
//! part's original text through the normaliser's offset map.
//!
//! **Winnowing** (Schleimer, Wilkerson, Aiken 2003). Every k-gram of canonical characters is
//! hashed (a rolling polynomial hash over the code points, then a 64-bit finaliser so the low
//! and high bits are uniform); in every window of `w` consecutive k-gram hashes the
//! rightmost minimum is kept. Both sides (registration and scanning) select the same way, so
//! every window lying wholly inside text the two share selects the same k-gram on both
//! sides: any shared run of at least `t = w + k − 1` characters is guaranteed a common
//! fingerprint, and a shared run of `L` characters has common fingerprints no further than
//! `w − 1` characters from each of its ends.
//!
//! **k = 10, w = 12** (t = 21). Ten canonical characters are a whole clause of Chinese, long
//! enough that two unrelated texts rarely share one by chance once boilerplate is removed
//! (see [`AllowSet`]), short enough that light editing leaves most k-grams intact: with three
//! characters changed per hundred, the unchanged runs average ~30 characters, most longer than
//! `t`, so an edited 100-character excerpt still shares several fingerprints (the test
//! `edited_excerpts_are_found` measures > 99 %). `w = 12` keeps about `2/(w+1)` ≈ 15 % of the
//! k-grams (≈ 1.5 fingerprints per 10 characters: 10,000 documents of 10,000 characters are
//! ~15 million postings, 12 bytes each in the index) and bounds the uncertainty at each end
//! of a match to `w − 1 = 11` characters. A verbatim run of 50 characters has at least two
//! common fingerprints at least `50 − 2(w − 1) = 28` characters apart, which passes the
//! "proven span" filter below, and its extent estimated with the `w − 1` margin is ≥ 50: a
//! 50-character run is always reported.
//!
//! **Matching.** Fingerprints of a part are looked up in the [`FingerprintIndex`]; hits of
//! one registered document are chained into passages along diagonals (scanned position −
//! registered position), tolerating a small drift for inserted or deleted characters and gaps
//! left by edits. A passage counts when its proven span (first to last common k-gram) is at
//! least `2k` characters: one coincidental shared clause is not an excerpt. Its extent is the
//! proven span widened by the winnowing margin (at most `w − 1` characters each side, clipped
//! to both texts). Matched characters are the union of extents in the scanned text; coverage
//! is the union of extents in the registered document over its length.
//!
//! **Exact copies.** A registered document also carries BLAKE3 hashes of the file, of its
//! nested objects that carry text of their own, and of its text parts' canonical text
//! ([`part_hash`]); a scanned object or part with one of those hashes is an identical copy.
//!
//! No text of a registered document is stored: only hashes and positions.

use std::fmt;

use crate::Level;
use crate::normalise::Normalizer;

/// Canonical characters per k-gram.
pub const K: usize = 10;
/// k-grams per winnowing window.
pub const W: usize = 12;
/// Matched characters from which a fingerprint finding is reported.
pub const MIN_REPORT_CHARS: u32 = 50;
/// A passage counts from this proven span (first common k-gram start to last one's end).
const MIN_PROVEN_SPAN: usize = 2 * K;
/// Consecutive hits of one passage are at most this many scanned characters apart: an edit
/// destroys `k` k-grams and winnowing may skip up to `w − 1` more on each side.
const MAX_GAP: usize = 2 * (K + W);
/// A hash registered in more documents than this is boilerplate the allow set missed (a
/// standard header, a formula every document of the registry uses): dropped from the index,
/// which also bounds the cost of one lookup whatever the size of the registry.
pub const MAX_DOCS_PER_HASH: usize = 32;
/// Postings per hash kept (a document repeating one clause many times).
const MAX_POSTINGS_PER_HASH: usize = 64;
/// Hits considered per scanned text: bounds time and memory on hostile input.
const MAX_HITS: usize = 2_000_000;
/// Passages open at once while chaining one document's hits.
const MAX_OPEN_PASSAGES: usize = 32;
/// Serialisation format version of [`RegisteredDoc`] and [`AllowSet`] bytes.
const FORMAT_VERSION: u8 = 1;
const DOC_MAGIC: &[u8; 4] = b"BMFP";
const ALLOW_MAGIC: &[u8; 4] = b"BMAS";
/// Built-in 公文 boilerplate, one phrase per line (see [`AllowSet::builtin`]).
const BUILTIN_ALLOW: &str = include_str!("fingerprint-allow.txt");

/// Why bytes could not be loaded as a registered document or allow set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

// ---------------------------------------------------------------------------------------------
// Canonical text.

/// The canonical character for `c`, or `None` if it is dropped.
#[inline]
pub fn canonical_char(c: char) -> Option<char> {
    if c.is_ascii() {
        c.is_ascii_alphanumeric().then(|| c.to_ascii_lowercase())
    } else if c.is_alphanumeric() {
        if c.is_uppercase() {
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) => Some(l),
                _ => Some(c),
            }
        } else {
            Some(c)
        }
    } else {
        None
    }
}

/// Canonical text of a normalised text, with each character's byte offset in it.
#[derive(Debug, Clone, Default)]
pub struct Canonical {
    chars: Vec<char>,
    /// Byte offset in the normalised text of each canonical character.
    offsets: Vec<u32>,
}

impl Canonical {
    /// Reduce an already normalised text (see [`Normalizer`]).
    pub fn of(normalised: &str) -> Canonical {
        let mut chars = Vec::with_capacity(normalised.len() / 2);
        let mut offsets = Vec::with_capacity(normalised.len() / 2);
        for (i, c) in normalised.char_indices() {
            if let Some(k) = canonical_char(c) {
                chars.push(k);
                offsets.push(i as u32);
            }
        }
        Canonical { chars, offsets }
    }

    pub fn len(&self) -> usize {
        self.chars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// Byte range in the normalised text `normalised` of canonical characters `start..end`.
    pub fn normalised_range(&self, normalised: &str, start: usize, end: usize) -> (usize, usize) {
        if start >= end || end > self.chars.len() {
            return (0, 0);
        }
        let from = self.offsets[start] as usize;
        let last = self.offsets[end - 1] as usize;
        let to = last
            + normalised[last..]
                .chars()
                .next()
                .map_or(0, |c| c.len_utf8());
        (from, to)
    }

    /// Winnowed fingerprints, positions in canonical characters.
    pub fn prints(&self) -> Vec<(u64, u32)> {
        let hashes = gram_hashes(&self.chars);
        let mut out = Vec::with_capacity(hashes.len() * 2 / (W + 1) + 1);
        winnow(&hashes, &mut out);
        out
    }
}

/// BLAKE3 of a part's canonical text, the exact-match key of a text part: the same text in
/// another container or with other spacing gives the same key. Domain-separated from the
/// hashes of object bytes.
pub fn part_hash(canonical: &Canonical) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"baomi part text v1\0");
    let mut buf = [0u8; 4];
    for c in &canonical.chars {
        h.update(c.encode_utf8(&mut buf).as_bytes());
    }
    *h.finalize().as_bytes()
}

/// Multiplier of the rolling hash (odd, so powers never vanish modulo 2^64).
const BASE: u64 = 0x100_0000_01B3;

/// splitmix64 finaliser: spreads the polynomial hash over all 64 bits (winnowing compares
/// whole values, the index buckets by the high bits).
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of every k-gram, rolling: O(1) per character.
fn gram_hashes(chars: &[char]) -> Vec<u64> {
    if chars.len() < K {
        return Vec::new();
    }
    let top = (1..K).fold(1u64, |p, _| p.wrapping_mul(BASE));
    let mut h = 0u64;
    for &c in &chars[..K] {
        h = h.wrapping_mul(BASE).wrapping_add(c as u64 + 1);
    }
    let mut out = Vec::with_capacity(chars.len() - K + 1);
    out.push(mix(h));
    for i in K..chars.len() {
        h = h
            .wrapping_sub((chars[i - K] as u64 + 1).wrapping_mul(top))
            .wrapping_mul(BASE)
            .wrapping_add(chars[i] as u64 + 1);
        out.push(mix(h));
    }
    out
}

/// Robust winnowing: the rightmost minimum of every window of `W` hashes, each selected
/// position once. A text shorter than one window still yields its minimum.
fn winnow(hashes: &[u64], out: &mut Vec<(u64, u32)>) {
    if hashes.is_empty() {
        return;
    }
    let w = W.min(hashes.len());
    let rightmost_min = |from: usize, to: usize| {
        let mut best = from;
        for i in from..=to {
            if hashes[i] <= hashes[best] {
                best = i;
            }
        }
        best
    };
    let mut min = rightmost_min(0, w - 1);
    out.push((hashes[min], min as u32));
    for end in w..hashes.len() {
        let start = end + 1 - w;
        let previous = min;
        if min < start {
            min = rightmost_min(start, end);
        } else if hashes[end] <= hashes[min] {
            min = end;
        }
        if min != previous {
            out.push((hashes[min], min as u32));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Registered documents.

/// One registered document: what the store keeps (as [`RegisteredDoc::to_bytes`]) and the
/// index is built from. Holds hashes and positions only, never the document's text.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredDoc {
    pub id: String,
    pub title: String,
    pub level: Level,
    /// Length of the canonical text.
    pub chars: u32,
    /// Winnowed k-gram hashes with their canonical positions.
    pub prints: Vec<(u64, u32)>,
    /// BLAKE3 of nested objects with text of their own, and [`part_hash`]es.
    pub exact: Vec<[u8; 32]>,
    /// BLAKE3 of the registered file itself (none for a document registered from text): a
    /// scanned object with these bytes, at any depth and under any name, is the file.
    pub file: Option<[u8; 32]>,
}

/// Accumulates the text parts of a document being registered: parts are fingerprinted one
/// by one at consecutive canonical positions, so no k-gram straddles two parts and an excerpt
/// running from one part into the next stays on one diagonal.
#[derive(Debug, Default)]
pub struct DocBuilder {
    chars: u32,
    prints: Vec<(u64, u32)>,
    exact: Vec<[u8; 32]>,
    file: Option<[u8; 32]>,
}

impl DocBuilder {
    pub fn new() -> DocBuilder {
        DocBuilder::default()
    }

    /// Add a part's canonical text; its hash is an exact key when it has at least
    /// [`MIN_REPORT_CHARS`] characters (shorter parts are shared boilerplate too easily).
    pub fn add_part(&mut self, canonical: &Canonical) {
        if canonical.is_empty() {
            return;
        }
        let base = self.chars;
        self.prints.extend(
            canonical
                .prints()
                .into_iter()
                .map(|(h, p)| (h, p.saturating_add(base))),
        );
        self.chars = self
            .chars
            .saturating_add(canonical.len().min(u32::MAX as usize) as u32);
        if canonical.len() >= MIN_REPORT_CHARS as usize {
            self.add_exact(part_hash(canonical));
        }
    }

    pub fn add_exact(&mut self, hash: [u8; 32]) {
        if !self.exact.contains(&hash) {
            self.exact.push(hash);
        }
    }

    /// The hash of the registered file's bytes.
    pub fn set_file(&mut self, hash: [u8; 32]) {
        self.file = Some(hash);
    }

    pub fn chars(&self) -> u32 {
        self.chars
    }

    pub fn finish(self, id: &str, title: &str, level: Level) -> RegisteredDoc {
        RegisteredDoc {
            id: id.to_owned(),
            title: title.to_owned(),
            level,
            chars: self.chars,
            prints: self.prints,
            exact: self.exact,
            file: self.file,
        }
    }
}

fn level_code(level: Level) -> u8 {
    Level::ALL.iter().position(|&l| l == level).unwrap_or(0) as u8
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A bounds-checked reader over serialised bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| FormatError(format!("{}: truncated at byte {}", self.what, self.at)))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, FormatError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn string(&mut self) -> Result<String, FormatError> {
        let n = self.u32()? as usize;
        let what = self.what;
        String::from_utf8(self.take(n)?.to_vec())
            .map_err(|_| FormatError(format!("{what}: a name is not UTF-8")))
    }
    /// A count of items of `size` bytes each, checked against what is left so a corrupt
    /// count cannot make us allocate gigabytes.
    fn count(&mut self, size: usize) -> Result<usize, FormatError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(size) > self.bytes.len() - self.at {
            return Err(FormatError(format!(
                "{}: count {n} exceeds the data",
                self.what
            )));
        }
        Ok(n)
    }
    fn header(&mut self, magic: &[u8; 4]) -> Result<(), FormatError> {
        if self.take(4)? != magic {
            return Err(FormatError(format!(
                "{}: not Baomi fingerprint data",
                self.what
            )));
        }
        let version = self.u8()?;
        if version != FORMAT_VERSION {
            return Err(FormatError(format!(
                "{}: format version {version}, this build reads {FORMAT_VERSION}",
                self.what
            )));
        }
        let (k, w) = (self.u8()? as usize, self.u8()? as usize);
        if (k, w) != (K, W) {
            return Err(FormatError(format!(
                "{}: made with k={k}, w={w}; this build uses k={K}, w={W}: register again",
                self.what
            )));
        }
        Ok(())
    }
    fn end(&self) -> Result<(), FormatError> {
        if self.at != self.bytes.len() {
            return Err(FormatError(format!(
                "{}: {} trailing bytes",
                self.what,
                self.bytes.len() - self.at
            )));
        }
        Ok(())
    }
}

impl RegisteredDoc {
    /// Compact little-endian form: magic `BMFP`, version, k, w, id, title, level, chars,
    /// prints (8 + 4 bytes each), exact hashes (32 bytes each), file hash (flag byte, then
    /// 32 bytes if set).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            32 + self.id.len() + self.title.len() + self.prints.len() * 12 + self.exact.len() * 32,
        );
        out.extend_from_slice(DOC_MAGIC);
        out.extend_from_slice(&[FORMAT_VERSION, K as u8, W as u8]);
        put_str(&mut out, &self.id);
        put_str(&mut out, &self.title);
        out.push(level_code(self.level));
        out.extend_from_slice(&self.chars.to_le_bytes());
        out.extend_from_slice(&(self.prints.len() as u32).to_le_bytes());
        for &(h, p) in &self.prints {
            out.extend_from_slice(&h.to_le_bytes());
            out.extend_from_slice(&p.to_le_bytes());
        }
        out.extend_from_slice(&(self.exact.len() as u32).to_le_bytes());
        for h in &self.exact {
            out.extend_from_slice(h);
        }
        match &self.file {
            Some(h) => {
                out.push(1);
                out.extend_from_slice(h);
            }
            None => out.push(0),
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<RegisteredDoc, FormatError> {
        let mut r = Reader {
            bytes,
            at: 0,
            what: "registered document",
        };
        r.header(DOC_MAGIC)?;
        let id = r.string()?;
        let title = r.string()?;
        let level = *Level::ALL
            .get(r.u8()? as usize)
            .ok_or_else(|| FormatError("registered document: unknown level".into()))?;
        let chars = r.u32()?;
        let n = r.count(12)?;
        let mut prints = Vec::with_capacity(n);
        for _ in 0..n {
            let h = r.u64()?;
            let p = r.u32()?;
            if p >= chars {
                return Err(FormatError(format!(
                    "registered document {id}: position {p} beyond its {chars} characters"
                )));
            }
            prints.push((h, p));
        }
        let n = r.count(32)?;
        let mut exact = Vec::with_capacity(n);
        for _ in 0..n {
            exact.push(r.take(32)?.try_into().expect("32 bytes"));
        }
        let file = match r.u8()? {
            0 => None,
            1 => Some(r.take(32)?.try_into().expect("32 bytes")),
            _ => return Err(FormatError("registered document: bad file flag".into())),
        };
        r.end()?;
        Ok(RegisteredDoc {
            id,
            title,
            level,
            chars,
            prints,
            exact,
            file,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Boilerplate.

/// k-gram hashes of boilerplate, ignored when indexing (and so when matching).
///
/// Rule: a k-gram is boilerplate when it occurs in **at least two documents** of the corpus
/// of ordinary (unclassified) documents. A clause found in one ordinary document only is that
/// document's own content and may well be quoted from a secret one; a clause two independent
/// ordinary documents share is formula language (认真贯彻落实…, 各级各部门要…) that would
/// otherwise tie every registered document to every report. Learning *every* k-gram of the
/// corpus would instead blind Baomi to any secret document that a public one quotes.
/// The built-in phrases ([`AllowSet::builtin`]) are always included, so a fresh install
/// already ignores the worst offenders.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AllowSet {
    /// Sorted, distinct.
    hashes: Vec<u64>,
}

impl AllowSet {
    /// The built-in list of typical 公文 boilerplate phrases (`fingerprint-allow.txt`): every
    /// k-gram of every phrase.
    pub fn builtin() -> AllowSet {
        let normalizer = Normalizer::new();
        let mut hashes = Vec::new();
        for line in BUILTIN_ALLOW.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let c = Canonical::of(&normalizer.normalize(line).text);
            hashes.extend(gram_hashes(&c.chars));
        }
        AllowSet::from_hashes(hashes)
    }

    fn from_hashes(mut hashes: Vec<u64>) -> AllowSet {
        hashes.sort_unstable();
        hashes.dedup();
        AllowSet { hashes }
    }

    /// Learn from a corpus of ordinary documents, one text per document (any text: it is
    /// normalised here), plus the built-in phrases.
    pub fn learn<I, S>(documents: I) -> AllowSet
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let normalizer = Normalizer::new();
        let mut all: Vec<u64> = Vec::new();
        for doc in documents {
            let c = Canonical::of(&normalizer.normalize(doc.as_ref()).text);
            let mut grams = gram_hashes(&c.chars);
            grams.sort_unstable();
            grams.dedup();
            all.extend(grams);
        }
        all.sort_unstable();
        let mut shared = AllowSet::builtin().hashes;
        let mut i = 0;
        while i < all.len() {
            let mut j = i + 1;
            while j < all.len() && all[j] == all[i] {
                j += 1;
            }
            if j - i >= 2 {
                shared.push(all[i]);
            }
            i = j;
        }
        AllowSet::from_hashes(shared)
    }

    pub fn union(&self, other: &AllowSet) -> AllowSet {
        let mut h = self.hashes.clone();
        h.extend_from_slice(&other.hashes);
        AllowSet::from_hashes(h)
    }

    pub fn contains(&self, hash: u64) -> bool {
        self.hashes.binary_search(&hash).is_ok()
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Magic `BMAS`, version, k, w, count, sorted hashes (8 bytes each, little-endian).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(11 + self.hashes.len() * 8);
        out.extend_from_slice(ALLOW_MAGIC);
        out.extend_from_slice(&[FORMAT_VERSION, K as u8, W as u8]);
        out.extend_from_slice(&(self.hashes.len() as u32).to_le_bytes());
        for h in &self.hashes {
            out.extend_from_slice(&h.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<AllowSet, FormatError> {
        let mut r = Reader {
            bytes,
            at: 0,
            what: "allow set",
        };
        r.header(ALLOW_MAGIC)?;
        let n = r.count(8)?;
        let mut hashes = Vec::with_capacity(n);
        for _ in 0..n {
            hashes.push(r.u64()?);
        }
        r.end()?;
        Ok(AllowSet::from_hashes(hashes))
    }
}

// ---------------------------------------------------------------------------------------------
// The index.

/// What the index keeps of a registered document.
#[derive(Debug, Clone, PartialEq)]
pub struct DocMeta {
    pub id: String,
    pub title: String,
    pub level: Level,
    pub chars: u32,
}

/// Hash → postings (document, position), for lookups whose cost does not depend on the
/// size of the registry: the hashes are bucketed by their high bits into a directory sized
/// to the number of postings (about two postings per bucket), each posting stores the low 32
/// bits of its hash as a check, and no hash keeps more than [`MAX_POSTINGS_PER_HASH`]
/// postings. 12 bytes per posting plus 4 per bucket; no per-entry allocation.
#[derive(Debug, Default)]
pub struct FingerprintIndex {
    docs: Vec<DocMeta>,
    /// `64 − directory bits`: bucket of a hash is `hash >> shift`.
    shift: u32,
    /// Start of each bucket in `keys`/`postings`, plus the end.
    directory: Vec<u32>,
    keys: Vec<u32>,
    postings: Vec<(u32, u32)>,
    /// Exact hashes, sorted, with their document and whether it is the whole file's.
    exact: Vec<([u8; 32], u32, bool)>,
    /// Kept for matching: characters of a passage covered by boilerplate k-grams do not
    /// count, so a registered document that strings built-in phrases together (whose
    /// junction k-grams no list can hold) does not match every report that does the same.
    allow: AllowSet,
}

/// A registered document found in a scanned text.
#[derive(Debug, Clone, PartialEq)]
pub struct DocMatch {
    /// Index of the document ([`FingerprintIndex::doc`]).
    pub doc: usize,
    /// Canonical characters of the scanned text inside matched passages.
    pub matched_chars: u32,
    /// Share (0–1) of the registered document's canonical text the passages cover.
    pub coverage: f32,
    /// Canonical range of the longest passage in the scanned text.
    pub longest: (usize, usize),
    pub passages: u32,
}

#[derive(Debug, Clone, Copy)]
struct Passage {
    q0: usize,
    q1: usize,
    r0: usize,
    r1: usize,
}

impl Passage {
    fn diagonal(&self) -> i64 {
        self.q1 as i64 - self.r1 as i64
    }
}

impl FingerprintIndex {
    /// Build from registered documents, ignoring the hashes of `allow` and those in more
    /// than [`MAX_DOCS_PER_HASH`] documents.
    pub fn build<I>(docs: I, allow: &AllowSet) -> FingerprintIndex
    where
        I: IntoIterator<Item = RegisteredDoc>,
    {
        let mut metas = Vec::new();
        let mut all: Vec<(u64, u32, u32)> = Vec::new();
        let mut exact = Vec::new();
        for doc in docs {
            let d = metas.len() as u32;
            all.extend(
                doc.prints
                    .iter()
                    .filter(|(h, _)| !allow.contains(*h))
                    .map(|&(h, p)| (h, d, p)),
            );
            exact.extend(doc.exact.iter().map(|&h| (h, d, false)));
            exact.extend(doc.file.map(|h| (h, d, true)));
            metas.push(DocMeta {
                id: doc.id,
                title: doc.title,
                level: doc.level,
                chars: doc.chars,
            });
        }
        all.sort_unstable();
        exact.sort_unstable();
        exact.dedup();

        // Drop hashes that are everywhere.
        let mut kept: Vec<(u64, u32, u32)> = Vec::with_capacity(all.len());
        let mut i = 0;
        while i < all.len() {
            let mut j = i + 1;
            let mut distinct_docs = 1;
            while j < all.len() && all[j].0 == all[i].0 {
                if all[j].1 != all[j - 1].1 {
                    distinct_docs += 1;
                }
                j += 1;
            }
            if distinct_docs <= MAX_DOCS_PER_HASH {
                kept.extend_from_slice(&all[i..j.min(i + MAX_POSTINGS_PER_HASH)]);
            }
            i = j;
        }
        drop(all);

        // About two postings per bucket: 2^(bits − 1) ≤ postings < 2^bits buckets × 2.
        let bits = (usize::BITS - kept.len().leading_zeros())
            .saturating_sub(1)
            .clamp(4, 30);
        let shift = 64 - bits;
        let mut directory = vec![0u32; (1usize << bits) + 1];
        for &(h, _, _) in &kept {
            directory[(h >> shift) as usize + 1] += 1;
        }
        for b in 1..directory.len() {
            directory[b] += directory[b - 1];
        }
        let keys = kept.iter().map(|&(h, _, _)| h as u32).collect();
        let postings = kept.iter().map(|&(_, d, p)| (d, p)).collect();
        FingerprintIndex {
            docs: metas,
            shift,
            directory,
            keys,
            postings,
            exact,
            allow: allow.clone(),
        }
    }

    pub fn doc_count(&self) -> usize {
        self.docs.len()
    }

    pub fn posting_count(&self) -> usize {
        self.postings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    pub fn doc(&self, i: usize) -> &DocMeta {
        &self.docs[i]
    }

    /// True when some registered document has exact hashes (objects need hashing).
    pub fn has_exact(&self) -> bool {
        !self.exact.is_empty()
    }

    /// The documents an exact hash (of object bytes or [`part_hash`]) belongs to, each with
    /// `true` when it is the hash of the whole registered file.
    pub fn exact_docs(&self, hash: &[u8; 32]) -> impl Iterator<Item = (usize, bool)> + '_ {
        let hash = *hash;
        let start = self.exact.partition_point(|(h, _, _)| *h < hash);
        self.exact[start..]
            .iter()
            .take_while(move |(h, _, _)| *h == hash)
            .map(|&(_, d, file)| (d as usize, file))
    }

    /// Approximate heap size in bytes.
    pub fn heap_bytes(&self) -> usize {
        self.directory.len() * 4
            + self.keys.len() * 4
            + self.postings.len() * 8
            + self.exact.len() * 36
            + self.allow.len() * 8
            + self
                .docs
                .iter()
                .map(|d| d.id.len() + d.title.len() + 64)
                .sum::<usize>()
    }

    fn lookup(&self, hash: u64) -> impl Iterator<Item = (u32, u32)> + '_ {
        let b = (hash >> self.shift) as usize;
        let (from, to) = match (self.directory.get(b), self.directory.get(b + 1)) {
            (Some(&f), Some(&t)) => (f as usize, t as usize),
            _ => (0, 0),
        };
        let key = hash as u32;
        (from..to)
            .filter(move |&i| self.keys[i] == key)
            .map(move |i| self.postings[i])
    }

    /// Registered documents matched in a scanned canonical text with at least
    /// [`MIN_REPORT_CHARS`] matched characters, most matched first.
    pub fn find(&self, canonical: &Canonical) -> Vec<DocMatch> {
        if self.postings.is_empty() || canonical.len() < K {
            return Vec::new();
        }
        let hashes = gram_hashes(&canonical.chars);
        let mut prints = Vec::with_capacity(hashes.len() * 2 / (W + 1) + 1);
        winnow(&hashes, &mut prints);
        let mut hits: Vec<(u32, u32, u32)> = Vec::new();
        'prints: for (h, q) in prints {
            for (d, r) in self.lookup(h) {
                if hits.len() >= MAX_HITS {
                    break 'prints;
                }
                hits.push((d, q, r));
            }
        }
        hits.sort_unstable();
        let mut out = Vec::new();
        let mut i = 0;
        while i < hits.len() {
            let d = hits[i].0;
            let mut j = i;
            while j < hits.len() && hits[j].0 == d {
                j += 1;
            }
            if let Some(m) = self.score(d as usize, &hits[i..j], &hashes) {
                out.push(m);
            }
            i = j;
        }
        out.sort_by(|a, b| {
            b.matched_chars
                .cmp(&a.matched_chars)
                .then(a.doc.cmp(&b.doc))
        });
        out
    }

    /// Chain one document's hits (sorted by scanned position) into passages and measure them.
    fn score(&self, doc: usize, hits: &[(u32, u32, u32)], hashes: &[u64]) -> Option<DocMatch> {
        let qlen = hashes.len() + K - 1;
        let rlen = self.docs[doc].chars as usize;
        let mut open: Vec<Passage> = Vec::new();
        let mut done: Vec<Passage> = Vec::new();
        for &(_, q, r) in hits {
            let (q, r) = (q as usize, r as usize);
            let mut k = 0;
            while k < open.len() {
                if q - open[k].q1 > MAX_GAP {
                    done.push(open.swap_remove(k));
                } else {
                    k += 1;
                }
            }
            let diagonal = q as i64 - r as i64;
            let best = open
                .iter()
                .enumerate()
                .filter(|(_, p)| q > p.q1 && r > p.r1)
                .filter(|(_, p)| {
                    let tolerance = 2 + (q - p.q1) as i64 / 4;
                    (diagonal - p.diagonal()).abs() <= tolerance
                })
                .min_by_key(|(_, p)| (diagonal - p.diagonal()).abs())
                .map(|(i, _)| i);
            match best {
                Some(i) => {
                    open[i].q1 = q;
                    open[i].r1 = r;
                }
                None => {
                    if open.len() >= MAX_OPEN_PASSAGES {
                        let oldest = (0..open.len()).min_by_key(|&i| open[i].q1).unwrap_or(0);
                        done.push(open.swap_remove(oldest));
                    }
                    open.push(Passage {
                        q0: q,
                        q1: q,
                        r0: r,
                        r1: r,
                    });
                }
            }
        }
        done.extend(open);
        let mut scanned: Vec<(usize, usize)> = Vec::new();
        let mut registered: Vec<(usize, usize)> = Vec::new();
        let mut longest = (0, 0);
        for p in done {
            if p.q1 + K - p.q0 < MIN_PROVEN_SPAN {
                continue;
            }
            let left = (W - 1).min(p.q0).min(p.r0);
            let right = (W - 1)
                .min(qlen.saturating_sub(p.q1 + K))
                .min(rlen.saturating_sub(p.r1 + K));
            let q = (p.q0 - left, p.q1 + K + right);
            if q.1 - q.0 > longest.1 - longest.0 {
                longest = q;
            }
            scanned.push(q);
            registered.push((p.r0 - left, (p.r1 + K + right).min(rlen.max(p.r1 + K))));
        }
        let passages = scanned.len() as u32;
        let extent = union_len(&mut scanned);
        let boilerplate = self.boilerplate_chars(&scanned, hashes);
        let matched = extent - boilerplate;
        if matched < MIN_REPORT_CHARS as usize {
            return None;
        }
        let covered = union_len(&mut registered).saturating_sub(boilerplate);
        Some(DocMatch {
            doc,
            matched_chars: matched.min(u32::MAX as usize) as u32,
            coverage: (covered as f64 / rlen.max(1) as f64).min(1.0) as f32,
            longest,
            passages,
        })
    }
}

impl FingerprintIndex {
    /// Characters inside `intervals` (sorted, as [`union_len`] leaves them) covered by a
    /// boilerplate k-gram of the scanned text. Only matched stretches are looked at, so the
    /// cost is paid on matches, not per scanned megabyte.
    fn boilerplate_chars(&self, intervals: &[(usize, usize)], hashes: &[u64]) -> usize {
        if self.allow.is_empty() {
            return 0;
        }
        let mut counted_to = 0;
        let mut total = 0;
        for &(a, b) in intervals {
            let a = a.max(counted_to);
            if a >= b {
                continue;
            }
            let mut covered_to = 0;
            let first = a.saturating_sub(K - 1);
            let grams = hashes.iter().enumerate().take(b).skip(first);
            for (g, &hash) in grams {
                if self.allow.contains(hash) {
                    covered_to = covered_to.max(g + K);
                }
                if g >= a && g < covered_to {
                    total += 1;
                }
            }
            // Characters after the last k-gram start are covered by the grams before them.
            for i in b.min(hashes.len()).max(a)..b {
                if i < covered_to {
                    total += 1;
                }
            }
            counted_to = counted_to.max(b);
        }
        total
    }
}

/// Total length of the union of half-open intervals.
fn union_len(intervals: &mut [(usize, usize)]) -> usize {
    intervals.sort_unstable();
    let mut total = 0;
    let mut current: Option<(usize, usize)> = None;
    for &(a, b) in intervals.iter() {
        match current {
            Some((ca, cb)) if a <= cb => current = Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                total += cb - ca;
                current = Some((a, b));
            }
            None => current = Some((a, b)),
        }
    }
    if let Some((a, b)) = current {
        total += b - a;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(s: &str) -> Canonical {
        Canonical::of(&Normalizer::new().normalize(s).text)
    }

    #[test]
    fn canonical_text_drops_everything_but_letters_and_digits() {
        let c = canon("機密★10年\n关于 Ａｂｃ 的，通知。\r\n（二〇二四）");
        assert_eq!(c.text(), "机密10年关于abc的通知二〇二四");
    }

    #[test]
    fn canonical_offsets_map_back() {
        let norm = "甲 乙，丙";
        let c = Canonical::of(norm);
        assert_eq!(c.text(), "甲乙丙");
        let (a, b) = c.normalised_range(norm, 1, 3);
        assert_eq!(&norm[a..b], "乙，丙");
    }

    #[test]
    fn winnowing_guarantee_holds() {
        // Any window of W hashes has a selected position inside it.
        let chars: Vec<char> = (0..500u32)
            .map(|i| char::from_u32(0x4E00 + (i * 7919) % 2000).unwrap())
            .collect();
        let hashes = gram_hashes(&chars);
        let mut prints = Vec::new();
        winnow(&hashes, &mut prints);
        let positions: Vec<usize> = prints.iter().map(|p| p.1 as usize).collect();
        for start in 0..=hashes.len() - W {
            assert!(
                positions.iter().any(|&p| p >= start && p < start + W),
                "window at {start} has no fingerprint"
            );
        }
        let density = prints.len() as f64 / hashes.len() as f64;
        assert!(density < 0.25 && density > 0.08, "density {density}");
    }

    #[test]
    fn rolling_hash_equals_direct_hash() {
        let chars: Vec<char> = "一二三四五六七八九十甲乙丙丁戊己庚辛".chars().collect();
        let rolled = gram_hashes(&chars);
        for (i, &h) in rolled.iter().enumerate() {
            assert_eq!(h, gram_hashes(&chars[i..i + K])[0]);
        }
    }

    #[test]
    fn union_of_intervals() {
        assert_eq!(union_len(&mut [(0, 10), (5, 15), (20, 25)]), 20);
        assert_eq!(union_len(&mut []), 0);
    }

    #[test]
    fn bad_bytes_are_errors_not_panics() {
        assert!(RegisteredDoc::from_bytes(b"").is_err());
        assert!(RegisteredDoc::from_bytes(b"BMFP\x09").is_err());
        assert!(AllowSet::from_bytes(b"BMAS\x01\x0a\x0c\xff\xff\xff\xff").is_err());
        let doc = RegisteredDoc {
            id: "1".into(),
            title: "t".into(),
            level: Level::Secret,
            chars: 100,
            prints: vec![(5, 3)],
            exact: vec![[7; 32]],
            file: Some([9; 32]),
        };
        let bytes = doc.to_bytes();
        for cut in 0..bytes.len() {
            assert!(RegisteredDoc::from_bytes(&bytes[..cut]).is_err());
        }
        assert_eq!(RegisteredDoc::from_bytes(&bytes).unwrap(), doc);
    }
}
