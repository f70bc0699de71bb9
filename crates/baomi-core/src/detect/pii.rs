//! Chinese personal data (DOMAIN.md §4): resident IDs, mobile and landline numbers, bank
//! cards, unified social credit codes, passports and travel permits, licence plates, e-mail.
//!
//! Speed matters (every byte of every document goes through here), so the detector does not
//! run a dozen regexes. It walks the normalised text once, cutting it into maximal ASCII
//! alphanumeric tokens; runs of digit tokens joined by a single space or dash form a *chain*
//! (`138 1234 5678`, `6222-0200-…`), and candidates are validated by hand: region code, real
//! birth date and ISO 7064 check for IDs, Luhn for cards, GB 32100 check for USCC. E-mail
//! addresses are found from their `@` with memchr before the token walk.
//!
//! Weak kinds (USCC, passport/permit, plate, e-mail, legacy IDs) need context words near them
//! to be believed; a valid 18-character ID is strong on its own.

use aho_corasick::{AhoCorasick, MatchKind};

use super::{Detector, PartView};
use crate::{Finding, FindingKind};

/// Context words, and whether each one makes a bare 15-digit number credible as a legacy ID.
/// Both colon forms are listed because the normaliser folds full-width `：` to `:`.
const CONTEXT_WORDS: &[(&str, bool)] = &[
    ("身份证", true),
    ("证件号", true),
    ("护照", false),
    ("通行证", false),
    ("车牌", false),
    ("号牌", false),
    ("手机", false),
    ("电话", false),
    ("联系方式", false),
    ("银行卡", false),
    ("卡号", false),
    ("账号", false),
    ("开户", false),
    ("姓名：", true),
    ("姓名:", true),
    ("住址：", true),
    ("住址:", true),
    ("户籍", true),
    ("开房", true),
    ("入住", true),
    ("信用代码", false),
    ("邮箱", false),
    ("电子邮件", false),
];

/// How far around a candidate context words are looked for, in characters.
const CONTEXT_CHARS: usize = 20;

/// The 31 provincial abbreviations that start a mainland licence plate.
const PLATE_PROVINCES: &str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8; 11] = b"10X98765432";

const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Tokens per chain tried as one number: a 19-digit card as 4-4-4-4-3 is the longest form.
const MAX_CHAIN_TOKENS: usize = 5;

pub struct PiiDetector {
    context: AhoCorasick,
    /// Birth years after this are not real; fixed when the detector is built.
    current_year: u32,
}

impl Default for PiiDetector {
    fn default() -> Self {
        PiiDetector::new()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TokenClass {
    /// Only ASCII digits.
    Digits,
    /// Digits then one final `X`/`x` (the check character of a resident ID).
    DigitsX,
    /// Anything else alphanumeric (letters mixed in).
    Other,
}

#[derive(Clone, Copy)]
struct Token {
    start: usize,
    end: usize,
    class: TokenClass,
}

/// A validated candidate, with its span in the normalised text.
struct Candidate {
    kind: FindingKind,
    start: usize,
    end: usize,
    confidence: f32,
    reason: String,
    value: String,
}

/// The context word found near a candidate.
#[derive(Clone, Copy)]
struct Context {
    word: &'static str,
    supports_id: bool,
}

impl PiiDetector {
    pub fn new() -> PiiDetector {
        let words: Vec<&str> = CONTEXT_WORDS.iter().map(|(w, _)| *w).collect();
        // A fixed word list of a few dozen bytes: building cannot fail.
        let context = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(words)
            .expect("static context word list builds");
        PiiDetector {
            context,
            current_year: current_year(),
        }
    }

    /// The first context word within [`CONTEXT_CHARS`] characters of `start..end`.
    fn context_near(&self, text: &str, start: usize, end: usize) -> Option<Context> {
        let before = text.get(..start)?;
        let window_start = before
            .char_indices()
            .rev()
            .nth(CONTEXT_CHARS - 1)
            .map_or(0, |(i, _)| i);
        let after = text.get(end..)?;
        let window_end = after
            .char_indices()
            .nth(CONTEXT_CHARS)
            .map_or(text.len(), |(i, _)| end + i);
        let window = text.get(window_start..window_end)?;
        // The nearest word names what the number is: in `手机：…，身份证：…` the ID's
        // context is 身份证, not the 手机 a few characters further back.
        let (rel_start, rel_end) = (start - window_start, end - window_start);
        self.context
            .find_iter(window)
            .min_by_key(|m| {
                if m.end() <= rel_start {
                    rel_start - m.end()
                } else {
                    m.start().saturating_sub(rel_end)
                }
            })
            .map(|m| {
                let (word, supports_id) = CONTEXT_WORDS[m.pattern().as_usize()];
                Context { word, supports_id }
            })
    }

    fn scan(&self, text: &str, out: &mut Vec<Candidate>) {
        let bytes = text.as_bytes();
        let emails = self.find_emails(text, out);
        let mut next_email = 0;
        let mut chain: Vec<Token> = Vec::with_capacity(8);
        let mut i = 0;
        while i < bytes.len() {
            if !bytes[i].is_ascii_alphanumeric() {
                i += 1;
                // Chinese text is bytes ≥ 0x80 (every byte of a CJK character or full-width
                // punctuation): skip them eight at a time, a word whose high bits are all set.
                while let Some(word) = bytes.get(i..i + 8) {
                    let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
                    if word & 0x8080_8080_8080_8080 != 0x8080_8080_8080_8080 {
                        break;
                    }
                    i += 8;
                }
                continue;
            }
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let end = i;
            while next_email < emails.len() && emails[next_email].1 <= start {
                next_email += 1;
            }
            if next_email < emails.len() && emails[next_email].0 <= start {
                // Inside an e-mail address already reported: `13812345678@qq.com` is one
                // address, not an address and a phone number.
                self.flush_chain(text, &chain, out);
                chain.clear();
                i = emails[next_email].1.max(end);
                continue;
            }
            let class = classify(&bytes[start..end]);
            let token = Token { start, end, class };
            if class == TokenClass::Other {
                self.flush_chain(text, &chain, out);
                chain.clear();
                if let Some(resume) = self.check_word(text, token, out) {
                    i = resume;
                }
                continue;
            }
            let joins = chain.last().is_some_and(|last| {
                last.class == TokenClass::Digits
                    && start == last.end + 1
                    && matches!(bytes[last.end], b' ' | b'-')
            });
            if !joins {
                self.flush_chain(text, &chain, out);
                chain.clear();
            }
            chain.push(token);
        }
        self.flush_chain(text, &chain, out);
    }

    /// Interpret a chain of digit tokens greedily: at each token, the longest run of tokens
    /// that forms a valid number wins; tokens that start nothing are skipped.
    fn flush_chain(&self, text: &str, chain: &[Token], out: &mut Vec<Candidate>) {
        let mut i = 0;
        while i < chain.len() {
            let last = (i + MAX_CHAIN_TOKENS).min(chain.len()) - 1;
            let found = (i..=last)
                .rev()
                .find_map(|j| self.interpret(text, &chain[i..=j]).map(|c| (j, c)));
            match found {
                Some((j, candidate)) => {
                    out.push(candidate);
                    i = j + 1;
                }
                None => i += 1,
            }
        }
    }

    /// One run of digit tokens as a single number, or nothing.
    fn interpret(&self, text: &str, tokens: &[Token]) -> Option<Candidate> {
        let bytes = text.as_bytes();
        let first = tokens.first()?;
        let last = tokens.last()?;
        let (start, end) = (first.start, last.end);
        if is_decimal_part(bytes, start, end) {
            return None;
        }
        let total: usize = tokens.iter().map(|t| t.end - t.start).sum();
        if tokens.len() == 1 && (7..=8).contains(&total) {
            return self.parenthesised_landline(text, start, end);
        }
        // Every other valid number has 10 (landline) to 19 (card; `0086` + mobile is 15)
        // digits: most digit runs in prose (dates, amounts, page numbers) stop here, before
        // any allocation.
        if !(10..=19).contains(&total) {
            return None;
        }
        let mut digits = String::with_capacity(end - start);
        for t in tokens {
            digits.push_str(&text[t.start..t.end]);
        }
        digits.make_ascii_uppercase();
        let has_x = digits.ends_with('X');
        let plus = start > 0 && bytes[start - 1] == b'+';
        let ctx = self.context_near(text, start, end);
        let lens: Vec<usize> = tokens.iter().map(|t| t.end - t.start).collect();

        if tokens.len() == 1 {
            return self.interpret_compact(&digits, start, end, plus, ctx);
        }

        // Multi-token forms.
        let separators: Vec<u8> = tokens.windows(2).map(|w| bytes[w[0].end]).collect();
        if !has_x {
            // Mobile: [86|0086] 3-4-4, 3-8, or prefix + 11.
            let prefixed = matches!(&text[first.start..first.end], "86" | "0086");
            let rest = if prefixed { &lens[1..] } else { &lens[..] };
            let rest_digits = &digits[digits.len() - rest.iter().sum::<usize>()..];
            let shape_ok = matches!(rest, [3, 4, 4] | [3, 8]) || (prefixed && rest == [11]);
            if shape_ok && is_mobile(rest_digits.as_bytes()) {
                let start = if prefixed && plus { start - 1 } else { start };
                return Some(mobile_candidate(
                    start,
                    end,
                    rest_digits,
                    true,
                    prefixed,
                    ctx,
                ));
            }
            // Landline: area-local[-extension].
            if (2..=3).contains(&tokens.len())
                && is_area_code(&digits.as_bytes()[..lens[0]])
                && (7..=8).contains(&lens[1])
                && !matches!(digits.as_bytes()[lens[0]], b'0' | b'1')
                && (separators[0] == b'-' || ctx.is_some())
                && (tokens.len() == 2 || (separators[1] == b'-' && (1..=5).contains(&lens[2])))
            {
                let area = &digits[..lens[0]];
                let (confidence, reason) = match ctx {
                    Some(c) => (0.85, format!("area code {area}, context: {}", c.word)),
                    None => (0.6, format!("area code {area}")),
                };
                return Some(Candidate {
                    kind: FindingKind::Phone,
                    start,
                    end,
                    confidence,
                    reason,
                    value: digits,
                });
            }
            // Bank card in groups of four (the last group may be shorter).
            let (body, tail) = lens.split_at(lens.len() - 1);
            if tokens.len() >= 4
                && body.iter().all(|&l| l == 4)
                && (3..=4).contains(&tail[0])
                && (16..=19).contains(&digits.len())
                && luhn(digits.as_bytes())
            {
                return Some(card_candidate(start, end, digits, true, ctx));
            }
        }
        // Resident ID written 6-8-4.
        if lens == [6, 8, 4]
            && let Some(reason) = check_resident_id(digits.as_bytes(), self.current_year)
        {
            return Some(id_candidate(start, end, digits, reason, ctx));
        }
        None
    }

    /// A local number after an area code in parentheses: `(010)62345678`, `(0571) 87061234`
    /// (full-width parentheses are ASCII after normalisation).
    fn parenthesised_landline(&self, text: &str, start: usize, end: usize) -> Option<Candidate> {
        let b = text.as_bytes();
        if matches!(b[start], b'0' | b'1') {
            return None;
        }
        let mut close = start.checked_sub(1)?;
        if b[close] == b' ' {
            close = close.checked_sub(1)?;
        }
        if b[close] != b')' {
            return None;
        }
        let area_start = b[..close]
            .iter()
            .rposition(|c| !c.is_ascii_digit())
            .map_or(0, |i| i + 1);
        let open = area_start.checked_sub(1)?;
        if b[open] != b'(' || !is_area_code(&b[area_start..close]) {
            return None;
        }
        let area = &text[area_start..close];
        let ctx = self.context_near(text, open, end);
        let (confidence, reason) = match ctx {
            Some(c) => (0.85, format!("area code {area}, context: {}", c.word)),
            None => (0.7, format!("area code {area} in parentheses")),
        };
        Some(Candidate {
            kind: FindingKind::Phone,
            start: open,
            end,
            confidence,
            reason,
            value: format!("{area}{}", &text[start..end]),
        })
    }

    /// A single token of digits (maybe ending in X) without separators.
    fn interpret_compact(
        &self,
        digits: &str,
        start: usize,
        end: usize,
        plus: bool,
        ctx: Option<Context>,
    ) -> Option<Candidate> {
        let b = digits.as_bytes();
        let has_x = digits.ends_with('X');
        match b.len() {
            18 => {
                if let Some(reason) = check_resident_id(b, self.current_year) {
                    return Some(id_candidate(start, end, digits.to_owned(), reason, ctx));
                }
                if has_x {
                    return uscc_candidate(start, end, digits, ctx);
                }
                // An all-digit 18-character number: a UnionPay or clearly labelled card
                // beats a USCC; otherwise a valid USCC beats a plain Luhn pass.
                let card_ctx = ctx.is_some_and(|c| matches!(c.word, "银行卡" | "卡号" | "开户"));
                let is_luhn = luhn(b);
                if is_luhn && (digits.starts_with("62") || card_ctx) {
                    return Some(card_candidate(start, end, digits.to_owned(), false, ctx));
                }
                if let Some(c) = uscc_candidate(start, end, digits, ctx) {
                    return Some(c);
                }
                is_luhn.then(|| card_candidate(start, end, digits.to_owned(), false, ctx))
            }
            _ if has_x => None,
            15 => {
                if let Some(rest) = digits.strip_prefix("0086")
                    && is_mobile(rest.as_bytes())
                {
                    return Some(mobile_candidate(start, end, rest, false, true, ctx));
                }
                let ctx = ctx.filter(|c| c.supports_id)?;
                let reason = check_legacy_id(b)?;
                Some(Candidate {
                    kind: FindingKind::ResidentId,
                    start,
                    end,
                    confidence: 0.7,
                    reason: format!("{reason}, context: {}", ctx.word),
                    value: digits.to_owned(),
                })
            }
            13 => {
                let rest = digits.strip_prefix("86")?;
                is_mobile(rest.as_bytes()).then(|| {
                    let start = if plus { start - 1 } else { start };
                    mobile_candidate(start, end, rest, false, true, ctx)
                })
            }
            16 | 17 | 19 => {
                luhn(b).then(|| card_candidate(start, end, digits.to_owned(), false, ctx))
            }
            11 if is_mobile(b) => Some(mobile_candidate(start, end, digits, false, false, ctx)),
            10..=12 => {
                // A landline without its dash is just a number unless the text says so.
                let ctx = ctx?;
                let area_len = area_code_len(b)?;
                let local = &b[area_len..];
                if (7..=8).contains(&local.len()) && !matches!(local[0], b'0' | b'1') {
                    Some(Candidate {
                        kind: FindingKind::Phone,
                        start,
                        end,
                        confidence: 0.8,
                        reason: format!("area code {}, context: {}", &digits[..area_len], ctx.word),
                        value: digits.to_owned(),
                    })
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// A token with letters in it: USCC, passport or permit, licence plate. Returns where to
    /// resume scanning when it consumed text beyond the token (a plate written `京A·12345`).
    fn check_word(&self, text: &str, token: Token, out: &mut Vec<Candidate>) -> Option<usize> {
        let word = &text[token.start..token.end];
        let b = word.as_bytes();
        let (start, end) = (token.start, token.end);
        if b.len() == 18 {
            if let Some(c) = uscc_candidate(start, end, word, self.context_near(text, start, end)) {
                out.push(c);
            }
            return None;
        }
        let province = text[..start]
            .chars()
            .next_back()
            .filter(|c| PLATE_PROVINCES.contains(*c));
        if let Some(province) = province {
            let plate_start = start - province.len_utf8();
            if b.len() == 1 && b[0].is_ascii_uppercase() {
                // `京A·12345`, `京A 12345`, `京A-12345`.
                let rest = &text[end..];
                let sep_len = ["·", "•", " ", "-"]
                    .iter()
                    .find(|s| rest.starts_with(**s))
                    .map(|s| s.len())?;
                let serial_start = end + sep_len;
                let serial_len = text.as_bytes()[serial_start..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .count();
                let serial_end = serial_start + serial_len;
                let serial = &text[serial_start..serial_end];
                if is_plate_serial(serial) {
                    let value = format!("{province}{word}{serial}");
                    out.push(self.plate_candidate(text, plate_start, serial_end, value));
                    return Some(serial_end);
                }
                return None;
            }
            if b[0].is_ascii_uppercase() && is_plate_serial(&word[1..]) {
                let value = format!("{province}{word}");
                out.push(self.plate_candidate(text, plate_start, end, value));
                return None;
            }
        }
        if b.len() == 9
            && let Some(what) = passport_kind(b)
        {
            let ctx = self.context_near(text, start, end);
            let (confidence, reason) = weak(what, ctx);
            out.push(Candidate {
                kind: FindingKind::Passport,
                start,
                end,
                confidence,
                reason,
                value: word.to_owned(),
            });
        }
        None
    }

    fn plate_candidate(&self, text: &str, start: usize, end: usize, value: String) -> Candidate {
        let (confidence, reason) = weak("plate format", self.context_near(text, start, end));
        Candidate {
            kind: FindingKind::Plate,
            start,
            end,
            confidence,
            reason,
            value,
        }
    }

    /// E-mail addresses, found from each `@`. Returns their spans (sorted) so the token walk
    /// can skip the digits inside them.
    fn find_emails(&self, text: &str, out: &mut Vec<Candidate>) -> Vec<(usize, usize)> {
        let bytes = text.as_bytes();
        let mut spans = Vec::new();
        let mut resume = 0;
        for at in memchr::memchr_iter(b'@', bytes) {
            if at < resume {
                continue;
            }
            let is_local =
                |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-');
            let is_domain = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-');
            let mut start = at;
            while start > resume && is_local(bytes[start - 1]) {
                start -= 1;
            }
            while start < at && !bytes[start].is_ascii_alphanumeric() {
                start += 1;
            }
            let mut end = at + 1;
            while end < bytes.len() && is_domain(bytes[end]) {
                end += 1;
            }
            while end > at + 1 && matches!(bytes[end - 1], b'.' | b'-') {
                end -= 1;
            }
            if start == at || end <= at + 1 {
                continue;
            }
            let domain = &text[at + 1..end];
            let Some((host, tld)) = domain.rsplit_once('.') else {
                continue;
            };
            if host.is_empty()
                || !host.as_bytes()[0].is_ascii_alphanumeric()
                || tld.len() < 2
                || !tld.bytes().all(|c| c.is_ascii_alphabetic())
            {
                continue;
            }
            let (confidence, reason) = weak("address format", self.context_near(text, start, end));
            out.push(Candidate {
                kind: FindingKind::Email,
                start,
                end,
                confidence,
                reason,
                value: text[start..end].to_ascii_lowercase(),
            });
            spans.push((start, end));
            resume = end;
        }
        spans
    }
}

impl Detector for PiiDetector {
    fn name(&self) -> &'static str {
        "pii"
    }

    fn detect(&self, part: &PartView<'_>, out: &mut Vec<Finding>) {
        let mut candidates = Vec::new();
        self.scan(&part.norm.text, &mut candidates);
        for c in candidates {
            let (start, end) = part.norm.original_range(c.start, c.end);
            // A span that does not land on the original text would be a normaliser bug;
            // skipping it beats panicking on a user's document.
            if part.original.get(start..end).is_none() {
                continue;
            }
            out.push(
                Finding::at(
                    c.kind,
                    part.path,
                    part.original,
                    (start, end),
                    c.confidence,
                    c.reason,
                )
                .with_value(c.value),
            );
        }
    }
}

fn classify(token: &[u8]) -> TokenClass {
    let (body, last) = match token.split_last() {
        Some((last, body)) => (body, *last),
        None => return TokenClass::Other,
    };
    if !body.iter().all(u8::is_ascii_digit) {
        return TokenClass::Other;
    }
    match last {
        b'0'..=b'9' => TokenClass::Digits,
        b'X' | b'x' if !body.is_empty() => TokenClass::DigitsX,
        _ => TokenClass::Other,
    }
}

/// Confidence and reason for the weak kinds: low alone, high with a context word.
fn weak(what: &str, ctx: Option<Context>) -> (f32, String) {
    match ctx {
        Some(c) => (0.85, format!("{what}, context: {}", c.word)),
        None => (0.35, format!("{what}, no context")),
    }
}

fn with_context(reason: String, ctx: Option<Context>) -> String {
    match ctx {
        Some(c) => format!("{reason}, context: {}", c.word),
        None => reason,
    }
}

fn id_candidate(
    start: usize,
    end: usize,
    value: String,
    reason: String,
    ctx: Option<Context>,
) -> Candidate {
    Candidate {
        kind: FindingKind::ResidentId,
        start,
        end,
        confidence: if ctx.is_some() { 0.99 } else { 0.95 },
        reason: with_context(reason, ctx),
        value,
    }
}

fn mobile_candidate(
    start: usize,
    end: usize,
    digits: &str,
    grouped: bool,
    prefixed: bool,
    ctx: Option<Context>,
) -> Candidate {
    let (confidence, reason) = match (ctx, prefixed || grouped) {
        (Some(c), _) => (
            0.9,
            format!("mobile prefix {}, context: {}", &digits[..3], c.word),
        ),
        (None, true) => (0.75, format!("mobile prefix {}, formatted", &digits[..3])),
        (None, false) => (0.6, format!("mobile prefix {}", &digits[..3])),
    };
    Candidate {
        kind: FindingKind::Mobile,
        start,
        end,
        confidence,
        reason,
        value: digits.to_owned(),
    }
}

fn card_candidate(
    start: usize,
    end: usize,
    digits: String,
    grouped: bool,
    ctx: Option<Context>,
) -> Candidate {
    let union_pay = digits.starts_with("62");
    let mut confidence: f32 = if union_pay { 0.7 } else { 0.5 };
    if grouped {
        confidence += 0.1;
    }
    let mut reason = String::from(if union_pay {
        "Luhn ok, UnionPay"
    } else {
        "Luhn ok"
    });
    if let Some(c) = ctx {
        confidence = confidence.max(0.9);
        reason = format!("{reason}, context: {}", c.word);
    }
    Candidate {
        kind: FindingKind::BankCard,
        start,
        end,
        confidence,
        reason,
        value: digits,
    }
}

fn uscc_candidate(start: usize, end: usize, code: &str, ctx: Option<Context>) -> Option<Candidate> {
    if !check_uscc(code.as_bytes()) {
        return None;
    }
    let (confidence, reason) = weak("GB 32100 check ok", ctx);
    Some(Candidate {
        kind: FindingKind::Uscc,
        start,
        end,
        confidence,
        reason,
        value: code.to_owned(),
    })
}

/// Digits right after `<digit>.` or right before `.<digit>` belong to a decimal number
/// (`3.13812345678`, an amount, a version), not to an identifier.
fn is_decimal_part(b: &[u8], start: usize, end: usize) -> bool {
    let before = start >= 2 && b[start - 1] == b'.' && b[start - 2].is_ascii_digit();
    let after = end + 1 < b.len() && b[end] == b'.' && b[end + 1].is_ascii_digit();
    before || after
}

fn is_mobile(b: &[u8]) -> bool {
    b.len() == 11
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
        && b.iter().all(u8::is_ascii_digit)
}

/// Length of the area code a landline number starts with: `010`, `02x` are three digits,
/// every other code (`0371`, `0755`…) four.
fn area_code_len(b: &[u8]) -> Option<usize> {
    match b {
        [b'0', b'1' | b'2', ..] => Some(3),
        [b'0', b'3'..=b'9', ..] => Some(4),
        _ => None,
    }
}

fn is_area_code(b: &[u8]) -> bool {
    area_code_len(b) == Some(b.len())
}

fn digit(b: u8) -> u32 {
    u32::from(b - b'0')
}

fn two_digits(b: &[u8]) -> u32 {
    digit(b[0]) * 10 + digit(b[1])
}

/// Two-digit province codes of resident IDs (71, 81, 82: residence permits of Taiwan,
/// Hong Kong and Macao residents).
pub fn is_province_code(code: u32) -> bool {
    matches!(code, 11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 71 | 81 | 82)
}

fn is_real_date(year: u32, month: u32, day: u32) -> bool {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// Validates an 18-character resident ID (17 digits + digit or uppercase `X`); returns the
/// reason on success.
pub fn check_resident_id(b: &[u8], current_year: u32) -> Option<String> {
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let province = two_digits(&b[..2]);
    if !is_province_code(province) {
        return None;
    }
    let year = two_digits(&b[6..8]) * 100 + two_digits(&b[8..10]);
    let (month, day) = (two_digits(&b[10..12]), two_digits(&b[12..14]));
    if !(1900..=current_year).contains(&year) || !is_real_date(year, month, day) {
        return None;
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(&c, w)| digit(c) * w)
        .sum();
    let expected = ID_CHECK[(sum % 11) as usize];
    if b[17].to_ascii_uppercase() != expected {
        return None;
    }
    // The reason is shown even when values are masked: it says the date was checked, not
    // what it is (a birth date is personal data too).
    Some(format!(
        "checksum ok, region {province:02}, valid birth date"
    ))
}

/// Validates a legacy 15-digit ID (region, YYMMDD in the 1900s, no check digit).
fn check_legacy_id(b: &[u8]) -> Option<String> {
    if b.len() != 15 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let province = two_digits(&b[..2]);
    let year = 1900 + two_digits(&b[6..8]);
    let (month, day) = (two_digits(&b[8..10]), two_digits(&b[10..12]));
    (is_province_code(province) && is_real_date(year, month, day))
        .then(|| format!("legacy 15-digit, region {province:02}, valid birth date"))
}

/// Luhn check over ASCII digits.
pub fn luhn(b: &[u8]) -> bool {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &c)| {
            let d = digit(c);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The GB 32100-2015 check character for the first 17 characters of a USCC.
pub fn uscc_check_char(first17: &[u8]) -> Option<u8> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0;
    for (&c, w) in first17.iter().zip(USCC_WEIGHTS) {
        let value = USCC_ALPHABET.iter().position(|&a| a == c)? as u32;
        sum += value * w;
    }
    Some(USCC_ALPHABET[((31 - sum % 31) % 31) as usize])
}

/// A unified social credit code: registration authority, category, six-digit region code,
/// then the check character.
pub fn check_uscc(b: &[u8]) -> bool {
    b.len() == 18
        && b"123456789ANY".contains(&b[0])
        && b[1].is_ascii_alphanumeric()
        && b[2..8].iter().all(u8::is_ascii_digit)
        && uscc_check_char(&b[..17]) == Some(b[17])
}

/// Passport (E/G + 8 digits, E + letter + 7 digits) or Mainland travel permit for HK/Macao
/// residents (C + 8 digits or C + letter + 7 digits).
fn passport_kind(b: &[u8]) -> Option<&'static str> {
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    match b {
        [b'E' | b'G', rest @ ..] if digits(rest) => Some("passport format"),
        [b'E', l, rest @ ..] if l.is_ascii_uppercase() && digits(rest) => Some("passport format"),
        [b'C', rest @ ..] if digits(rest) => Some("HK/Macao permit format"),
        [b'C', l, rest @ ..] if l.is_ascii_uppercase() && digits(rest) => {
            Some("HK/Macao permit format")
        }
        _ => None,
    }
}

/// The part of a plate after the province and the city letter: five characters (mostly
/// digits; `I` and `O` are never used) or six for new-energy vehicles (`D`/`F` first or last).
fn is_plate_serial(s: &str) -> bool {
    let b = s.as_bytes();
    let ok_char =
        |c: &u8| (c.is_ascii_uppercase() && !matches!(c, b'I' | b'O')) || c.is_ascii_digit();
    let digit_count = b.iter().filter(|c| c.is_ascii_digit()).count();
    match b.len() {
        5 => b.iter().all(ok_char) && digit_count >= 3,
        6 => {
            let small =
                matches!(b[0], b'D' | b'F') && b[1..].iter().all(ok_char) && digit_count >= 4;
            let large = matches!(b[5], b'D' | b'F') && b[..5].iter().all(u8::is_ascii_digit);
            small || large
        }
        _ => false,
    }
}

/// The current calendar year (UTC), for the upper bound of birth years.
fn current_year() -> u32 {
    let (year, _, _) = crate::civil::civil_from_days(crate::civil::now_unix().div_euclid(86_400));
    u32::try_from(year).unwrap_or(2026).max(2026)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_year_is_plausible() {
        let y = current_year();
        assert!((2026..2200).contains(&y), "{y}");
    }

    #[test]
    fn luhn_known_values() {
        assert!(luhn(b"4111111111111111"));
        assert!(!luhn(b"4111111111111112"));
    }
}
