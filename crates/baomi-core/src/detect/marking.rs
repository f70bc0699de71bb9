//! Classification markings (密级标志): `机密★10年`, `密级：秘密`, a level word alone on a line,
//! in a page header, at the head of a document, in a file name or a mail subject.
//!
//! Markings are structural; mentions are not. Reports about secrecy work are full of the
//! words (`保守国家秘密`, `秘密级以上的文件`, `属于机密、秘密、绝密的文件`), so a level word only
//! counts when it stands where a marking stands: with a star and a period, behind a `密级`
//! label, alone on a line, at the head of a document or a header, or in a name. See DOMAIN.md
//! §3.
//!
//! The detector works on the normalised text (Traditional → Simplified, full-width → ASCII,
//! spaces next to CJK removed), so `機 密 ★ ５ 年` is seen as `机密★5年`, and maps spans back
//! to the original.
//!
//! ## Mentions of the form
//!
//! Training material, inspection notes and rules quote the `level★period` form to teach it.
//! In running text (`Body` and `Annotation` parts) a form is a **mention** when
//! - it stands in quotation marks (`“ ” ‘ ’ " ' 「 」 『 』 《 》 〈 〉`; `＂` is `"` after
//!   NFKC), unless it is a field value after a quoted or ASCII key (`"level":"机密★5年"`);
//! - it is on one of the six lines after an example cue (`样例：`, `示例`,
//!   `格式如下：`, `标注方法如下：`, `例1：`; a sentence ending in `。` closes the examples);
//! - words after it make it the object of a sentence (`…等字样`, `…的文件`, `…、秘密★10年`,
//!   `…是什么意思`) or explain it (`，表示…`);
//! - its sentence holds a cue (`例如`, `标注`, `应当`, `写成`, `漏标`, …) or `如`/`即` stands
//!   right before it;
//! - or it is glued to the prose before it (`对机密★10年文件`, `第二行为…`).
//!
//! It stays a **marking** when a document declares itself (`本通知为机密★10年`), when it
//! stands at the start of a line, after a copy number or urgency, a field label (`首页：`),
//! an opening bracket (`…的通知（机密★5年）`) or a space (`XX单位文件  机密★10年`), and
//! always in headers and footers, names, subjects, metadata, `密级` labels and the first
//! five lines of an OCR'd part (`#ocr`, noisy: the position decides there). A standalone
//! level line is a mention only inside an example block. When in doubt it is a marking:
//! losing a real one is worse than a false alarm.
//!
//! A mention is reported as a `keyword` finding with rule [`MENTION_RULE`], weight 0, no
//! level and confidence 0.3, one per distinct form and part with a count. Weight 0 keeps
//! it out of every `min_score` rule (the default policy's keyword rules), so by default a
//! mention never audits, alerts or blocks; a policy can still act on it with
//! `kinds = ["keyword"], categories = ["marking-mention"]`.

use std::sync::OnceLock;

use memchr::memmem;
use regex::Regex;

use super::{Detector, PartView};
use crate::Finding;
use crate::model::{FindingKind, Level, PartRole};
use crate::normalise::is_star;

/// The three state-secret levels.
const STATE_WORDS: &[(&str, Level)] = &[
    ("绝密", Level::TopSecret),
    ("机密", Level::Secret),
    ("秘密", Level::Confidential),
];

/// Markings that are not state secrets, longest first so `内部资料注意保存` wins over `内部资料`.
/// They count only in structural positions.
const OTHER_WORDS: &[(&str, Level)] = &[
    ("内部资料注意保存", Level::Internal),
    ("工作秘密", Level::WorkSecret),
    ("商业秘密", Level::CommercialSecret),
    ("内部资料", Level::Internal),
    ("内部使用", Level::Internal),
    ("内部文件", Level::Internal),
    ("敏感信息", Level::Sensitive),
];

/// Words that are a level only behind a `密级` label (`密级：内部`).
const LABEL_ONLY_WORDS: &[(&str, Level)] = &[("内部", Level::Internal), ("敏感", Level::Sensitive)];

/// English markings, longest first.
const ENGLISH_WORDS: &[(&str, Level)] = &[
    ("INTERNAL USE ONLY", Level::Internal),
    ("TOP SECRET", Level::TopSecret),
    ("CONFIDENTIAL", Level::Confidential),
    ("SECRET", Level::Secret),
];

/// Characters a disguise puts between the characters of a level word (`机.密`, `机·密`).
fn is_word_separator(c: char) -> bool {
    matches!(
        c,
        '.' | '·'
            | '-'
            | '_'
            | '—'
            | '~'
            | '/'
            | '\\'
            | '|'
            | '・'
            | '•'
            | '‧'
            | '\''
            | '"'
            | ' '
            | '^'
            | '`'
            | '+'
    )
}

/// Characters trimmed from both ends of a line before asking whether it is just a level word.
fn is_line_trim(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '【' | '】'
                | '('
                | ')'
                | '['
                | ']'
                | '{'
                | '}'
                | '<'
                | '>'
                | '「'
                | '」'
                | '『'
                | '』'
                | '《'
                | '》'
                | '〈'
                | '〉'
                | '〔'
                | '〕'
                | '"'
                | '\''
                | '“'
                | '”'
                | '‘'
                | '’'
                | ':'
                | '·'
                | '.'
                | '-'
                | '—'
                | '_'
                | '='
                | '|'
                | '#'
                | '•'
        )
}

/// Characters between `密级` and the level in a label (`密级：秘密`, `【密级】秘密`, `密级|秘密`).
fn is_label_separator(c: char) -> bool {
    matches!(
        c,
        ':' | '】' | ']' | ')' | '|' | '=' | '>' | '〕' | '」' | ' ' | '\t'
    )
}

/// Separators between a level and the rest of a file name or subject (`机密_关于….docx`).
fn is_name_separator(c: char) -> bool {
    matches!(c, '_' | '-' | ' ' | '.' | '—' | '·' | '+' | '~')
}

fn open_bracket_close(c: char) -> Option<char> {
    Some(match c {
        '(' => ')',
        '[' => ']',
        '【' => '】',
        '〔' => '〕',
        '「' => '」',
        '『' => '』',
        '《' => '》',
        '<' => '>',
        '{' => '}',
        '〖' => '〗',
        _ => return None,
    })
}

/// Match `word` at the start of `s`, allowing up to two separators between its characters
/// when `allow_sep`. Returns the byte length matched.
fn match_word(s: &str, word: &str, allow_sep: bool, ignore_ascii_case: bool) -> Option<usize> {
    let mut pos = 0;
    for (i, wc) in word.chars().enumerate() {
        if i > 0 && allow_sep && !wc.is_ascii() {
            for _ in 0..2 {
                match s[pos..].chars().next() {
                    Some(c) if is_word_separator(c) => pos += c.len_utf8(),
                    _ => break,
                }
            }
        }
        let c = s[pos..].chars().next()?;
        let same = if ignore_ascii_case {
            c.eq_ignore_ascii_case(&wc)
        } else {
            c == wc
        };
        if !same {
            return None;
        }
        pos += c.len_utf8();
    }
    Some(pos)
}

/// Match `word` ending at the end of `s` (same rules as [`match_word`]). Returns the byte
/// length matched.
fn match_word_back(s: &str, word: &str, allow_sep: bool, ignore_ascii_case: bool) -> Option<usize> {
    let mut end = s.len();
    let n = word.chars().count();
    for (i, wc) in word.chars().rev().enumerate() {
        let c = s[..end].chars().next_back()?;
        let same = if ignore_ascii_case {
            c.eq_ignore_ascii_case(&wc)
        } else {
            c == wc
        };
        if !same {
            return None;
        }
        end -= c.len_utf8();
        if i + 1 < n && allow_sep && !wc.is_ascii() {
            for _ in 0..2 {
                match s[..end].chars().next_back() {
                    Some(c) if is_word_separator(c) => end -= c.len_utf8(),
                    _ => break,
                }
            }
        }
    }
    Some(s.len() - end)
}

/// The first word of `sets` that starts `s`: (level, byte length).
fn level_prefix(s: &str, sets: &[&[(&str, Level)]], ignore_case: bool) -> Option<(Level, usize)> {
    sets.iter()
        .flat_map(|set| set.iter())
        .find_map(|&(word, level)| match_word(s, word, true, ignore_case).map(|len| (level, len)))
}

/// The first word of `sets` that ends `s`: (level, byte length).
fn level_suffix(s: &str, sets: &[&[(&str, Level)]], ignore_case: bool) -> Option<(Level, usize)> {
    sets.iter()
        .flat_map(|set| set.iter())
        .find_map(|&(word, level)| {
            match_word_back(s, word, true, ignore_case).map(|len| (level, len))
        })
}

/// A period of secrecy at the start of `s` (`10年`, `6个月`, `长期`, `启用前`, a date,
/// `解密条件…`). Returns its byte length.
fn period_len(s: &str) -> Option<usize> {
    static PERIOD: OnceLock<Option<Regex>> = OnceLock::new();
    let re = PERIOD
        .get_or_init(|| {
            Regex::new(concat!(
                r"^(?:长期|永久|启用前|公布前|",
                r#"解密(?:条件|时间)[^\s,;。，；、)\]】"”’」』》]{0,40}|"#,
                r"\d{4}年\d{1,2}月(?:\d{1,2}日)?(?:前|止)?|",
                r"\d{4}[-./]\d{1,2}[-./]\d{1,2}(?:前|止)?|",
                r"[0-9一二三四五六七八九十两〇百]{1,4}(?:个月|年|月|天))"
            ))
            .ok()
        })
        .as_ref()?;
    re.find(s).map(|m| m.end())
}

/// Text after a star that is not a recognised period but reads as a short condition
/// (`机密★项目验收后`): up to a delimiter or a space in the original, at most 30 characters.
fn condition_len(part: &PartView<'_>, from: usize) -> Option<usize> {
    let s = &part.norm.text[from..];
    let mut len = 0;
    for (count, c) in s.chars().enumerate() {
        // Normalisation drops the space in `机密★项目验收后 其他`; the original still has it.
        if count > 0 && original_space_before(part, from + len, from + len + c.len_utf8()) {
            break;
        }
        if c.is_whitespace()
            || matches!(
                c,
                ',' | ';' | '。' | '、' | ')' | ']' | '】' | '"' | '”' | '!' | '?' | '」' | '》'
            )
            || is_star(c)
        {
            break;
        }
        if count >= 30 {
            return None;
        }
        len += c.len_utf8();
    }
    (len > 0).then_some(len)
}

/// A marking found in the normalised text, before mapping and de-duplication.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    start: usize,
    end: usize,
    level: Level,
    confidence: f32,
    reason: &'static str,
    /// The `level★period` form is part of it (set by [`star_form`], kept by [`merge`]).
    star: bool,
    /// A `密级` label is part of it.
    label: bool,
}

#[derive(Default)]
pub struct MarkingDetector {}

impl MarkingDetector {
    pub fn new() -> MarkingDetector {
        MarkingDetector {}
    }
}

impl Detector for MarkingDetector {
    fn name(&self) -> &'static str {
        "marking"
    }

    fn detect(&self, part: &PartView<'_>, out: &mut Vec<Finding>) {
        let mut found: Vec<Candidate> = Vec::new();

        scan_stars_and_labels(part, &mut found);

        match part.role {
            PartRole::Name | PartRole::Subject => scan_name(part, &mut found),
            PartRole::HeaderFooter => scan_lines(part, LinePlace::Header, &mut found),
            PartRole::Body => scan_lines(part, LinePlace::Body, &mut found),
            PartRole::Metadata | PartRole::Annotation => {
                scan_lines(part, LinePlace::Other, &mut found)
            }
        }

        let merged = merge(found);
        // Quoted, in-sentence and example forms in running text are mentions (DOMAIN.md §3).
        let running_text = matches!(part.role, PartRole::Body | PartRole::Annotation);
        let mut mentions: Vec<Mention> = Vec::new();
        for c in merged {
            let span = part.norm.original_range(c.start, c.end);
            if span.0 >= span.1
                || span.1 > part.original.len()
                || !part.original.is_char_boundary(span.0)
                || !part.original.is_char_boundary(span.1)
            {
                continue; // cannot happen with a consistent offset map; never panic on it
            }
            if running_text && let Some(reason) = mention_reason(part, &c) {
                let value = &part.norm.text[c.start..c.end];
                match mentions.iter_mut().find(|m| m.value == value) {
                    Some(m) => m.count += 1,
                    None => mentions.push(Mention {
                        value: value.to_owned(),
                        span,
                        reason,
                        count: 1,
                    }),
                }
                continue;
            }
            out.push(
                Finding::at(
                    FindingKind::Marking,
                    part.path,
                    part.original,
                    span,
                    c.confidence,
                    c.reason,
                )
                .with_level(c.level),
            );
        }
        for m in mentions {
            let mut f = Finding::at(
                FindingKind::Keyword,
                part.path,
                part.original,
                m.span,
                MENTION_CONFIDENCE,
                m.reason,
            )
            .with_value(m.value);
            f.rule = Some(MENTION_RULE.to_owned());
            f.weight = 0.0;
            f.count = m.count;
            out.push(f);
        }
    }
}

/// Overlapping candidates are one marking: keep the best reason and level, cover both spans.
fn merge(mut found: Vec<Candidate>) -> Vec<Candidate> {
    found.sort_by_key(|c| (c.start, c.end));
    let mut merged: Vec<Candidate> = Vec::with_capacity(found.len());
    for c in found {
        match merged.last_mut() {
            Some(last) if c.start < last.end => {
                let (start, end) = (last.start.min(c.start), last.end.max(c.end));
                let (star, label) = (last.star || c.star, last.label || c.label);
                if c.confidence > last.confidence {
                    *last = c;
                }
                last.start = start;
                last.end = end;
                last.star = star;
                last.label = label;
            }
            _ => merged.push(c),
        }
    }
    merged
}

/// The forms that count anywhere in any part: `level★period` and `密级：level`. Both contain
/// `密`, so the scan jumps from one `密` to the next.
fn scan_stars_and_labels(part: &PartView<'_>, found: &mut Vec<Candidate>) {
    let text = part.norm.text.as_str();
    let finder = memmem::Finder::new("密".as_bytes());
    for at in finder.find_iter(text.as_bytes()) {
        let after = at + "密".len();
        star_form(part, after, found);
        label_form(part, at, found);
    }
}

/// `密` ends at `after`: is it the end of a level word followed by a star?
fn star_form(part: &PartView<'_>, after: usize, found: &mut Vec<Candidate>) {
    let text = part.norm.text.as_str();
    let rest = &text[after..];
    let Some(star) = rest.chars().next().filter(|&c| is_star(c)) else {
        return;
    };
    let before = &text[..after];
    let Some((mut level, word_len)) = level_suffix(before, &[STATE_WORDS], false) else {
        return;
    };
    let mut start = after - word_len;
    // `工作秘密★…` and `商业秘密★…` are those markings, not 秘密.
    if level == Level::Confidential {
        for &(prefix, other) in &[
            ("工作", Level::WorkSecret),
            ("商业", Level::CommercialSecret),
        ] {
            if let Some(len) = match_word_back(&text[..start], prefix, true, false) {
                start -= len;
                level = other;
                break;
            }
        }
    }
    let star_end = after + star.len_utf8();
    // Normalisation keeps a space between an ASCII star and a digit (`机 密 * 20 年`).
    let after_star =
        star_end + text[star_end..].len() - text[star_end..].trim_start_matches(' ').len();
    let tail = &text[after_star..];
    let (end, confidence, reason) =
        match period_len(tail).or_else(|| condition_len(part, after_star)) {
            Some(len) => (after_star + len, 0.95, "★ and period"),
            None => (star_end, 0.85, "level and ★"),
        };
    found.push(Candidate {
        star: true,
        label: false,
        start,
        end,
        level,
        confidence,
        reason,
    });
}

/// `密` at `at`: is it the start of a `密级` label followed by a level?
fn label_form(part: &PartView<'_>, at: usize, found: &mut Vec<Candidate>) {
    let text = part.norm.text.as_str();
    let Some(label_len) = match_word(&text[at..], "密级", true, false) else {
        return;
    };
    // `秘密级`, `机密级`, `绝密级` are mentions of a level, not a label.
    if matches!(text[..at].chars().next_back(), Some('绝' | '机' | '秘')) {
        return;
    }
    let mut pos = at + label_len;
    let mut separators = 0;
    while let Some(c) = text[pos..].chars().next() {
        if !is_label_separator(c) || separators >= 3 {
            break;
        }
        pos += c.len_utf8();
        separators += 1;
    }
    let value = &text[pos..];
    let Some((level, len)) =
        level_prefix(value, &[OTHER_WORDS, STATE_WORDS, LABEL_ONLY_WORDS], false)
    else {
        return;
    };
    let mut end = pos + len;
    // Without a visible separator (`密级 秘密` in a table cell loses its space to
    // normalisation) the original must have had whitespace there.
    if separators == 0 && !original_space_before(part, pos, end) {
        return;
    }
    // The level must end there: `密级：秘密` or `密级：秘密 保密期限：…`, not
    // `密级：绝密级不超过三十年` or `密级：内部管理要求`.
    let terminated = match text[end..].chars().next() {
        None => true,
        Some(c) => {
            // Punctuation ends it, except the enumeration comma of a list of levels
            // (`密级：绝密、机密、秘密三级`).
            (!is_ideograph(c) && c != '、')
                || is_star(c)
                || period_len(&text[end..]).is_some()
                || original_space_after(part, pos, end)
        }
    };
    if !terminated {
        return;
    }
    if let Some(len) = period_len(&text[end..]) {
        end += len;
    }
    found.push(Candidate {
        star: false,
        label: true,
        start: at,
        end,
        level,
        confidence: 0.9,
        reason: "密级 label",
    });
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum LinePlace {
    Body,
    Header,
    Other,
}

/// CJK ideographs (not CJK punctuation): a level followed by one continues a word.
fn is_ideograph(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{3FFFF}')
}

/// What follows the level on the second line of an official document.
const URGENCY: &[&str] = &["特急", "加急", "特提", "平急", "急件"];

/// Lines longer than this cannot be a standalone marking (longest: a level, a star and a
/// date or condition, with some brackets).
const MAX_MARKING_LINE: usize = 120;

/// Standalone lines, document head, header lines, English markings.
fn scan_lines(part: &PartView<'_>, place: LinePlace, found: &mut Vec<Candidate>) {
    let text = part.norm.text.as_str();
    let mut non_empty = 0usize;
    let mut line_start = 0;
    // (non-empty line number, candidate), filtered below.
    let mut line_found: Vec<(usize, Candidate)> = Vec::new();
    for line in text.split('\n') {
        let offset = line_start;
        line_start += line.len() + 1;
        let (trim_start, trimmed) = trim_line(line);
        if trimmed.is_empty() {
            continue;
        }
        non_empty += 1;
        let in_head = place == LinePlace::Body && non_empty <= 5 && part.first_line == 1;
        if !in_head && trimmed.len() > MAX_MARKING_LINE {
            continue;
        }
        let base = offset + trim_start;
        let (reason, confidence) = match place {
            LinePlace::Header => ("header part", 0.9),
            _ => ("standalone line", 0.8),
        };

        // A level word, alone or with a period.
        if trimmed.len() <= MAX_MARKING_LINE {
            if let Some((level, len)) = level_prefix(trimmed, &[OTHER_WORDS, STATE_WORDS], false) {
                let rest = &trimmed[len..];
                let period = if rest.is_empty() {
                    Some(0)
                } else {
                    period_len(rest).filter(|&p| p == rest.len())
                };
                if let Some(p) = period {
                    line_found.push((
                        non_empty,
                        Candidate {
                            star: false,
                            label: false,
                            start: base,
                            end: base + len + p,
                            level,
                            confidence,
                            reason,
                        },
                    ));
                    continue;
                }
            }
            // English markings: whole line, upper case, in headers and document heads only.
            let english = if place == LinePlace::Header || in_head {
                ENGLISH_WORDS.iter().find(|&&(w, _)| w == trimmed)
            } else {
                None
            };
            if let Some(&(_, level)) = english {
                line_found.push((
                    non_empty,
                    Candidate {
                        star: false,
                        label: false,
                        start: base,
                        end: base + trimmed.len(),
                        level,
                        confidence: if in_head { 0.85 } else { confidence },
                        reason: if in_head { "document head" } else { reason },
                    },
                ));
                continue;
            }
        }

        // A line starting with a level (after a copy number) followed by a space in the
        // original, a star or a period: the top-left position of an official document, or a
        // header line such as `机密  XX单位文件`.
        if in_head || place == LinePlace::Header {
            let after_copy = skip_copy_number(trimmed);
            let head = &trimmed[after_copy..];
            if let Some((level, len)) = level_prefix(head, &[OTHER_WORDS, STATE_WORDS], false) {
                let start = base + after_copy;
                let end = start + len;
                let rest = &head[len..];
                let spaced = original_space_after(part, start, end);
                let period_then_end = period_len(rest)
                    .is_some_and(|p| p == rest.len() || original_space_after(part, start, end + p));
                let marked = if place == LinePlace::Header {
                    // A header line such as `机密  某某单位文件`; but a row of a table counting
                    // documents by level (`绝密 0 机密 3 秘密 16`) is not a marking.
                    let table_row = rest.starts_with(|c: char| c.is_ascii_digit())
                        && period_len(rest).is_none()
                        || STATE_WORDS.iter().any(|(w, _)| rest.contains(w));
                    rest.is_empty()
                        || rest.starts_with(is_star)
                        || period_then_end
                        || (spaced && !table_row)
                } else {
                    // The head of an official document (GB/T 9704): the copy number, then the
                    // level with its period, then the urgency. Prose that merely starts with a
                    // level word and a space (`绝密 ——涉及…`) is not enough.
                    rest.is_empty()
                        || rest.starts_with(is_star)
                        || period_then_end
                        || (spaced && URGENCY.iter().any(|u| rest.starts_with(u)))
                };
                if marked {
                    let end = end + period_len(rest).unwrap_or(0);
                    line_found.push((
                        non_empty,
                        Candidate {
                            star: false,
                            label: false,
                            start,
                            end,
                            level,
                            confidence: if place == LinePlace::Header {
                                0.9
                            } else {
                                0.85
                            },
                            reason: if place == LinePlace::Header {
                                "header part"
                            } else {
                                "document head"
                            },
                        },
                    ));
                    continue;
                }
            }
        }

        // A header or footer line ending with a level set off by a space: `第1页 秘密`.
        let suffix = if place == LinePlace::Header {
            level_suffix(trimmed, &[OTHER_WORDS, STATE_WORDS], false)
        } else {
            None
        };
        if let Some((level, len)) = suffix {
            let end = base + trimmed.len();
            let start = end - len;
            let before = trimmed[..trimmed.len() - len].chars().next_back();
            let longer_word = ends_a_longer_word(&trimmed[..trimmed.len() - len]);
            let set_off = before.is_some_and(|c| c == ' ' || c == '|')
                || original_space_before(part, start, end);
            if set_off && !longer_word {
                line_found.push((
                    non_empty,
                    Candidate {
                        star: false,
                        label: false,
                        start,
                        end,
                        level,
                        confidence: 0.9,
                        reason: "header part",
                    },
                ));
            }
        }
    }

    // Several lines with different levels close together are a list or a table about the
    // levels (`绝密 30年` / `机密 20年` / `秘密 10年`), not markings: a document carries one.
    const NEAR: usize = 5;
    // `line_found` is in line order: only the neighbours within NEAR lines need a look.
    for (i, &(line, c)) in line_found.iter().enumerate() {
        let differs = |&&(other_line, other): &&(usize, Candidate)| {
            other.level != c.level && line.abs_diff(other_line) <= NEAR
        };
        let before = line_found[..i]
            .iter()
            .rev()
            .take_while(|(l, _)| line - l <= NEAR)
            .any(|x| differs(&x));
        let after = line_found[i + 1..]
            .iter()
            .take_while(|(l, _)| l - line <= NEAR)
            .any(|x| differs(&x));
        if !before && !after {
            found.push(c);
        }
    }
}

/// Trim spaces and bracket-like punctuation; returns (bytes trimmed at the start, rest).
fn trim_line(line: &str) -> (usize, &str) {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let left = line.trim_start_matches(is_line_trim);
    let trimmed = left.trim_end_matches(is_line_trim);
    (line.len() - left.len(), trimmed)
}

/// Length of a leading copy number (`000123`, `份号:000123`, `No.000123`) and the spaces after.
fn skip_copy_number(line: &str) -> usize {
    let mut pos = 0;
    for prefix in ["份号:", "份号", "No.", "NO."] {
        if let Some(rest) = line.strip_prefix(prefix) {
            pos = line.len() - rest.len();
            break;
        }
    }
    let digits = line[pos..].bytes().take_while(u8::is_ascii_digit).count();
    if !(3..=8).contains(&digits) {
        return 0;
    }
    pos += digits;
    pos + line[pos..].len() - line[pos..].trim_start().len()
}

/// Whether the original text has whitespace right after the normalised range `start..end`
/// (normalisation drops spaces next to CJK, but `机密 关于…` at the head of a document or in
/// a file name is a level followed by a space).
fn original_space_after(part: &PartView<'_>, start: usize, end: usize) -> bool {
    let (_, orig_end) = part.norm.original_range(start, end);
    part.original
        .get(orig_end..)
        .and_then(|s| s.chars().next())
        .is_some_and(|c| c.is_whitespace() && c != '\n' && c != '\r')
}

/// Whether the original text has whitespace right before the normalised offset `start`.
fn original_space_before(part: &PartView<'_>, start: usize, end: usize) -> bool {
    let (orig_start, _) = part.norm.original_range(start, end);
    part.original
        .get(..orig_start)
        .and_then(|s| s.chars().next_back())
        .is_some_and(|c| c.is_whitespace() && c != '\n' && c != '\r')
}

/// File names and subjects: `（机密）`, `【秘密】`, `机密_关于….docx`, `关于…-秘密.pdf`.
fn scan_name(part: &PartView<'_>, found: &mut Vec<Candidate>) {
    let text = part.norm.text.as_str();
    let reason = if part.role == PartRole::Name {
        "level in file name"
    } else {
        "level in subject"
    };
    let words: &[&[(&str, Level)]] = &[OTHER_WORDS, STATE_WORDS, ENGLISH_WORDS];
    let push = |found: &mut Vec<Candidate>, start: usize, end: usize, level: Level| {
        found.push(Candidate {
            star: false,
            label: false,
            start,
            end,
            level,
            confidence: 0.9,
            reason,
        });
    };

    // Brackets anywhere: the content is a level, optionally with a star and a period.
    let mut search = 0;
    while let Some((open_at, open)) = text[search..]
        .char_indices()
        .map(|(i, c)| (search + i, c))
        .find(|&(_, c)| open_bracket_close(c).is_some())
    {
        search = open_at + open.len_utf8();
        let Some(close) = open_bracket_close(open) else {
            continue;
        };
        let Some(close_rel) = text[search..].find(close) else {
            continue;
        };
        let inner = &text[search..search + close_rel];
        let content = inner.trim();
        if content.is_empty() || content.len() > 80 {
            continue;
        }
        let lead = inner.len() - inner.trim_start().len();
        if let Some((level, len)) = level_prefix(content, words, true) {
            let rest = &content[len..];
            let rest_ok = rest.is_empty()
                || period_len(rest) == Some(rest.len())
                || rest.chars().next().is_some_and(is_star);
            if rest_ok {
                let start = search + lead;
                push(found, start, start + content.len(), level);
            }
        }
    }

    // Each path component: the level at the start or end of the stem, set off by a separator.
    let mut comp_start = 0;
    for comp in text.split(['/', '\\']) {
        let base = comp_start;
        comp_start += comp.len() + 1;
        let stem = if part.role == PartRole::Name {
            strip_extension(comp)
        } else {
            comp
        };
        let lead = stem.len() - stem.trim_start_matches(is_line_trim).len();
        let stem_t = stem.trim_matches(is_line_trim);
        if stem_t.is_empty() {
            continue;
        }
        let s0 = base + lead;
        if let Some((level, len)) = level_prefix(stem_t, words, true) {
            let next = stem_t[len..].chars().next();
            let set_off = match next {
                None => true,
                Some(c) => is_name_separator(c) || is_star(c),
            } || original_space_after(part, s0, s0 + len);
            // Lower-case English at the start of a name must be a whole word.
            let word_end = !next.is_some_and(|c| c.is_ascii_alphanumeric());
            if set_off && word_end && shouts(&text[s0..s0 + len]) {
                push(found, s0, s0 + len, level);
            }
        }
        if let Some((level, len)) = level_suffix(stem_t, words, true) {
            let start = s0 + stem_t.len() - len;
            let prev = stem_t[..stem_t.len() - len].chars().next_back();
            let set_off = match prev {
                None => true,
                Some(c) => is_name_separator(c),
            } || original_space_before(part, start, start + len);
            let word_start = !prev.is_some_and(|c| c.is_ascii_alphanumeric());
            let inside_longer = ends_a_longer_word(&stem_t[..stem_t.len() - len]);
            if set_off && word_start && !inside_longer && shouts(&text[start..start + len]) {
                push(found, start, start + len, level);
            }
        }
    }
}

/// An English level word set off in a name counts only when capitalised
/// (`report-SECRET.docx`, `Top Secret - plan.docx`): all-lower-case `notice-secret.docx` or
/// `secret-santa.xlsx` is an ordinary name. Brackets are marking enough for any case.
/// Chinese words always pass.
fn shouts(word: &str) -> bool {
    let has_letters = word.bytes().any(|b| b.is_ascii_alphabetic());
    !has_letters || word.bytes().any(|b| b.is_ascii_uppercase())
}

/// Whether a level word found at the end of a text is the tail of 工作秘密 or 商业秘密, given
/// the text before it: `…工作秘密` must not also count as 秘密.
fn ends_a_longer_word(before: &str) -> bool {
    level_suffix(
        before,
        &[&[
            ("工作", Level::WorkSecret),
            ("商业", Level::CommercialSecret),
        ]],
        false,
    )
    .is_some()
}

/// `报告.docx` → `报告`; leaves names without a short ASCII extension alone.
fn strip_extension(name: &str) -> &str {
    match name.rfind('.') {
        Some(dot)
            if dot > 0
                && (1..=5).contains(&(name.len() - dot - 1))
                && name[dot + 1..].bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            &name[..dot]
        }
        _ => name,
    }
}

// ---------------------------------------------------------------------------------------------
// Mentions: the marking form quoted, used in a sentence, or shown as an example.

/// The `rule` (category) of a mention finding: a `keyword` with weight 0 and no level, so the
/// default policy's keyword rules (`min_score`) never act on mentions alone.
pub const MENTION_RULE: &str = "marking-mention";

/// Confidence of a mention finding (it is not a marking; policies filter on this too).
const MENTION_CONFIDENCE: f32 = 0.3;

/// The mentions of one part, one per distinct normalised form, with a count.
struct Mention {
    value: String,
    span: (usize, usize),
    reason: &'static str,
    count: u32,
}

const QUOTED: &str = "marking form in quotation marks (mention)";
const IN_SENTENCE: &str = "marking form in a sentence (mention)";
const EXAMPLE: &str = "marking form given as an example (mention)";

fn is_open_quote(c: char) -> bool {
    matches!(
        c,
        '“' | '‘' | '"' | '\'' | '「' | '『' | '《' | '〝' | '〈' | '‚' | '„'
    )
}

fn is_close_quote(c: char) -> bool {
    matches!(
        c,
        '”' | '’' | '"' | '\'' | '」' | '』' | '》' | '〞' | '〟' | '〉'
    )
}

/// Ends of a sentence in normalised text (full-width forms are ASCII after NFKC, `。` stays).
fn is_sentence_end(c: char) -> bool {
    matches!(c, '。' | '!' | '?' | ';' | '．')
}

/// Words in the sentence before a form that say it is being taught, prescribed or discussed,
/// not applied: `例如`, `标注为`, `应当标注`, `写成`, `漏标`. Checked on normalised
/// (Simplified) text, so `標註` and `應當` count too.
const SENTENCE_CUES: &[&str] = &[
    "例如", "比如", "譬如", "诸如", "示例", "样例", "举例", "范例", "样式", "式样", "格式", "写法",
    "写作", "写成", "写为", "标注", "标明", "标识", "标示", "标记", "标为", "标有", "标着", "注明",
    "写明", "应当", "应该", "误写", "漏标", "错标", "什么", "是否", "判断",
];

/// Words right before a form (after quotes, brackets, colons and spaces) that introduce an
/// example: `如机密★5年`, `即秘密★10年`, `例：`.
const IMMEDIATE_CUES: &[&str] = &["如", "即", "例", "像", "若"];

/// Words right after a form that make it the object of a sentence: `…等字样`, `…的文件`,
/// `…、秘密★10年`, `…是什么意思`.
const AFTER_CUES: &[&str] = &[
    "等", "的", "字样", "之类", "形式", "格式", "样式", "标志", "标识", "这样", "一类", "和", "或",
    "及", "与", "、", "以上", "以下", "分别", "是", "表示", "代表", "属于",
];

/// Words after a comma or colon that explain a form: `机密★10年：表示…`.
const EXPLAINING: &[&str] = &["表示", "代表", "是指", "指", "意思", "意味着", "即"];

/// A document speaking of itself declares its own level: `本通知为机密★10年`, `本件属秘密★5年`.
const SELF_REFERENCES: &[&str] = &[
    "本通知",
    "本文件",
    "本文",
    "本件",
    "本材料",
    "本报告",
    "本函",
    "本方案",
    "本资料",
    "本纪要",
    "本简报",
    "本表",
    "本文档",
    "本页",
    "此件",
    "本请示",
    "本批复",
    "本决定",
    "本意见",
    "本试卷",
    "本试题",
    "本载体",
    "本册",
];
const SELF_VERBS: &[&str] = &["为", "属", "属于", "系", "是", "定为", "列为", "密级为"];

/// Words that make a line announce examples on the lines after it (`样例：`, `格式如下：`,
/// `（三）标注示例`).
const EXAMPLE_WORDS: &[&str] = &[
    "示例", "样例", "举例", "范例", "例如", "比如", "譬如", "例子",
];
const FORMAT_WORDS: &[&str] = &[
    "样式",
    "式样",
    "格式",
    "写法",
    "模板",
    "参照以下",
    "如下所示",
];
const MARKING_WORDS: &[&str] = &["标注", "标志", "标识", "标明", "密级"];

/// How many lines after an example cue are examples (a copy number, the form, the urgency, a
/// title), unless a sentence ends the example sooner.
const EXAMPLE_LINES: usize = 6;

/// Whether a (normalised) line announces examples on the following lines.
fn is_example_cue_line(line: &str) -> bool {
    let core = line.trim();
    if core.contains("附件") {
        return false; // `附件：报送格式` lists attachments; the next document may follow
    }
    let colon = core.ends_with(':');
    let t = core.trim_end_matches(':').trim_end();
    let follows = colon || t.ends_with("如下");
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    let short = t.chars().count() <= 12;
    // `例：`, `例1：`, `例二：`
    let example_n = t.strip_prefix('例').is_some_and(|r| {
        r.chars()
            .all(|c| c.is_ascii_digit() || "一二三四五六七八九十".contains(c))
    });
    (has(EXAMPLE_WORDS) && (follows || short))
        || (has(FORMAT_WORDS) && follows)
        || (has(MARKING_WORDS) && follows)
        || (colon && example_n)
}

/// Whether the line starting at `line_start` (normalised text) is one of the examples an
/// example cue introduces: a cue line (`示例：`, `格式如下：`) is followed by up to
/// [`EXAMPLE_LINES`] lines of examples, and a sentence (a line ending in `。` or longer than
/// 40 characters) closes them. Looked up backwards from the candidate's line, so a long text
/// costs nothing beyond the few lines above its candidates.
fn follows_example_cue(text: &str, line_start: usize) -> bool {
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |i| line_start + i);
    let line = text[line_start..line_end].trim_end_matches('\r');
    if line.trim().is_empty() || is_example_cue_line(line) {
        return false;
    }
    let mut next_start = line_start;
    for _ in 0..EXAMPLE_LINES {
        if next_start == 0 {
            return false;
        }
        let end = next_start - 1; // the '\n' ending the line above
        let start = text[..end].rfind('\n').map_or(0, |i| i + 1);
        let above = text[start..end].trim_end_matches('\r');
        if is_example_cue_line(above) {
            return true;
        }
        let t = above.trim();
        if !t.is_empty() && (t.ends_with('。') || t.chars().count() > 40) {
            return false;
        }
        next_start = start;
    }
    false
}

/// Why a candidate in running text is a mention, or `None` for a marking.
fn mention_reason(part: &PartView<'_>, c: &Candidate) -> Option<&'static str> {
    // A label (`密级：机密★5年`) is a marking wherever it stands.
    if c.label {
        return None;
    }
    let text = part.norm.text.as_str();
    let line_start = text[..c.start].rfind('\n').map_or(0, |i| i + 1);
    // OCR'd head lines are noisy (stray glyphs before the level, a quote-like speck): the
    // position decides there.
    if part.path.ends_with("#ocr") && part.first_line == 1 {
        let lines_before = text[..line_start]
            .split('\n')
            .filter(|l| !l.trim().is_empty())
            .count();
        if lines_before < 5 {
            return None;
        }
    }
    if follows_example_cue(text, line_start) {
        return Some(EXAMPLE);
    }
    if !c.star {
        return None; // standalone level words keep their own rules
    }
    let line_end = text[c.end..].find('\n').map_or(text.len(), |i| c.end + i);
    let before = &text[line_start..c.start];
    let after = text[c.end..line_end].trim_end_matches('\r');
    // The sentence the form stands in, up to it.
    let sentence = before.rfind(is_sentence_end).map_or(before, |i| {
        &before[i + before[i..].chars().next().map_or(1, char::len_utf8)..]
    });
    let has_cue = SENTENCE_CUES.iter().any(|w| sentence.contains(w));

    // 1. In quotation marks — unless it is a field value (`"密级":"机密★5年"`, `level="…"`).
    let b = before.trim_end();
    let a = after.trim_start();
    let open_before = b.chars().next_back().is_some_and(is_open_quote);
    let close_after = a.chars().next().is_some_and(is_close_quote);
    if open_before || close_after {
        let before_quote =
            b[..b.len() - b.chars().next_back().map_or(0, char::len_utf8)].trim_end();
        // A key before `:`/`=` that is quoted or ASCII (`"密级":"…"`, `level="…"`), not
        // Chinese prose introducing a quotation (`问：“…”`).
        let key_end = before_quote
            .strip_suffix([':', '='])
            .map(|k| k.trim_end().chars().next_back());
        let field_value = open_before
            && !has_cue
            && key_end.is_some_and(|k| k.is_some_and(|k| k == '"' || k.is_ascii_alphanumeric()));
        if !field_value {
            return Some(QUOTED);
        }
        return None;
    }

    // 2. Followed by words that make it the object of a sentence.
    let a_words = a.trim_start_matches([')', ']', '】', '〕', ' ']);
    if AFTER_CUES.iter().any(|w| a_words.starts_with(w)) {
        return Some(IN_SENTENCE);
    }
    // …or explained: `（1）绝密★长期，表示…`, `机密★10年：指…`.
    let explained = a_words.trim_start_matches([',', ':', ' ']);
    if a_words.len() != explained.len() && EXPLAINING.iter().any(|w| explained.starts_with(w)) {
        return Some(EXAMPLE);
    }

    // 3. Preceded by a word that introduces an example, anywhere in its sentence or right
    //    before it.
    let lead = sentence.trim_end_matches(|ch: char| {
        ch.is_whitespace() || matches!(ch, ':' | '(' | '[' | '【' | '〔' | ',')
    });
    if has_cue || IMMEDIATE_CUES.iter().any(|w| lead.ends_with(w)) {
        return Some(EXAMPLE);
    }

    // 4. A document declaring its own level: `本通知为机密★10年，请妥善保管。`
    let sentence_t = sentence.trim_end();
    if SELF_REFERENCES.iter().any(|w| sentence_t.contains(w))
        && SELF_VERBS.iter().any(|w| sentence_t.ends_with(w))
    {
        return None;
    }

    // 5. Structural positions on the line: in brackets after a title (`…的通知（机密★5年）`),
    //    after a field label (`首页：`, `XPComment:`), after a copy number or urgency, or set
    //    off by a space (`XX单位文件  机密★10年`, a PDF line joining header and title).
    let last = b.chars().next_back();
    if matches!(last, Some('(' | '[' | '【' | '〔'))
        || last == Some(':')
        || b.is_empty()
        || b.bytes().all(|x| x.is_ascii_digit() || x == b' ')
        || URGENCY.iter().any(|u| b.ends_with(u))
        || original_space_before(part, c.start, c.end)
    {
        return None;
    }

    // 6. Glued to the prose before it: a running sentence (`对机密★10年文件`, `第二行为…`).
    if last.is_some_and(|ch| is_ideograph(ch) || matches!(ch, ',' | '、')) {
        return Some(IN_SENTENCE);
    }
    None
}
