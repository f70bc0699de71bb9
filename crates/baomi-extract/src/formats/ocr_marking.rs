//! Markings on photographed pages, read from their structure. Tesseract's Chinese models have
//! no `★` in their character set, so on a photo `机密★5年` comes out as `机密` + some glyph +
//! `5年`, and which glyph depends on the font, the light and the angle (广, 友, 女, 太, 雪,
//! …), often read with high confidence: a list of the glyphs seen on some trial pages only
//! repairs those pages. Instead:
//!
//! 1. **Candidate** ([`candidate`]) — in the head lines of the page (the first
//!    [`HEAD_LINES`] topmost lines, where 公文 and exam papers carry
//!    the marking), a line that starts (after a copy number at most) with a level word (with
//!    the OCR confusions of the level words themselves, [`LEVEL_WORDS`], or with the level
//!    character among Tesseract's own alternatives for the symbol), then one glyph, then
//!    something ending like a period within a few glyphs.
//! 2. **Confirmation** ([`confirmed`]) — a second Tesseract pass over that line alone, cut
//!    from the page, restricted to the characters of markings ([`WHITELIST`]: level words,
//!    `*` and `※` — the star shapes the models know, since `★` is not in them — digits and
//!    the period characters). There, a star can only come out as a star shape, a digit
//!    misread as 吕 as a digit, 机宿 as 机密; and the second reading must be exactly a level
//!    word, **one** star shape and a valid period form ([`read_period`]: `N年`, `N个月`,
//!    `长期`, `启用前`, `解密条件…`, `YYYY年M月D日`, two-digit years, spaced digits), with
//!    as many glyphs as the first reading had (a line of prose squeezed into the restricted
//!    characters loses or changes glyphs and does not pass).
//!
//! A confirmed line is rewritten to the canonical form (`机密★5年`) in the OCR text, so the
//! ordinary marking detector finds it (and still judges quotation and prose itself). Every
//! other line is left as Tesseract read it.
//!
//! The evidence comes from Tesseract's result iterator (per-symbol text, confidence and
//! alternatives, with `lstm_choice_mode=2`), which the `tesseract` crate does not expose:
//! [`Engine`] drives the C API of `tesseract-sys` directly, the unsafe code kept to its
//! methods.

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use image::GrayImage;
// The `tesseract` crate's own re-export of the C API's bindings (tesseract-sys).
use tesseract::plumbing::tesseract_sys as tess;

/// Lines at the top of a page searched for a marking: copy number, marking, urgency, title.
pub(crate) const HEAD_LINES: usize = 6;
/// The characters of the second pass: level words (Simplified and Traditional), the star
/// shapes in the models' character sets, digits, the period forms' characters, the colon
/// of `解密条件：`, and the urgency words that may follow on the same line.
pub(crate) const WHITELIST: &str =
    "绝絕机機秘密*※0123456789年个個月长長期启啓用前解条條件时時间間日：:特急加";
/// At most this many glyphs after the period on a marking line: an urgency word (`特急`,
/// `加急`) or noise, not a sentence.
const MAX_TRAILING_GLYPHS: usize = 3;
/// At most this many glyphs before the level word: the six-digit copy number (份号), or up
/// to [`MAX_LEADING_NOISE`] specks read as glyphs.
const MAX_LEADING_GLYPHS: usize = 8;
const MAX_LEADING_NOISE: usize = 2;
/// In the first reading, the period ends within this many glyphs after the star position.
const MAX_PERIOD_GLYPHS: usize = 12;

/// One recognised symbol: its text (one character, rarely more), Tesseract's confidence in
/// it (0–100), and the alternatives Tesseract considered (best first, may be empty).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Glyph {
    pub text: String,
    pub confidence: f32,
    pub choices: Vec<String>,
}

/// One text line: Tesseract's own text of it (without the line break), its symbols, its box
/// (left, top, right, bottom in pixels), and whether a paragraph starts with it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OcrLine {
    pub text: String,
    pub glyphs: Vec<Glyph>,
    pub bounds: (i32, i32, i32, i32),
    pub starts_paragraph: bool,
}

/// A recognised page: its lines in reading order, its height, Tesseract's mean confidence.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OcrPage {
    pub lines: Vec<OcrLine>,
    pub height: i32,
    pub mean_confidence: i32,
}

impl OcrPage {
    /// The page's text: lines joined by line breaks, a blank line between paragraphs, as
    /// Tesseract's `GetUTF8Text` lays it out.
    pub(crate) fn text(&self) -> String {
        let mut text = String::new();
        for (index, line) in self.lines.iter().enumerate() {
            if index > 0 && line.starts_paragraph {
                text.push('\n');
            }
            text.push_str(&line.text);
            text.push('\n');
        }
        text
    }

    /// Indexes of the head lines that are marking candidates: among the [`HEAD_LINES`]
    /// topmost lines of the page by their box (not by reading order: a marking at the top
    /// right is often read after the left column), whatever the page's size (a photo may be
    /// cropped to the head of the page).
    pub(crate) fn candidates(&self) -> Vec<usize> {
        let mut by_top: Vec<usize> = (0..self.lines.len()).collect();
        by_top.sort_by_key(|&index| self.lines[index].bounds.1);
        by_top.truncate(HEAD_LINES);
        by_top.sort_unstable();
        by_top
            .into_iter()
            .filter(|&index| candidate(&self.lines[index].glyphs).is_some())
            .collect()
    }

    /// Read every candidate line again with `engine`, restricted to [`WHITELIST`], from
    /// `gray` (the image the page was read from), and rewrite the confirmed ones to their
    /// canonical form. Returns how many lines were rewritten.
    pub(crate) fn repair_markings(
        &mut self,
        engine: &mut Engine,
        gray: &GrayImage,
    ) -> Result<usize, String> {
        let candidates = self.candidates();
        if candidates.is_empty() {
            return Ok(0);
        }
        let mut restricted = false;
        let mut repaired = 0;
        for index in candidates {
            let line = &mut self.lines[index];
            if let Some(text) = confirmed_alone(&line.glyphs) {
                tracing::debug!(read = %line.text, repaired = %text, "OCR marking line repaired");
                line.text = text;
                repaired += 1;
                continue;
            }
            if !restricted {
                engine.restrict_to_marking_line()?;
                restricted = true;
            }
            let Some(crop) = crop_line(gray, line.bounds) else {
                continue;
            };
            let second = engine.read(&crop)?;
            let glyphs: Vec<Glyph> = second.lines.into_iter().flat_map(|l| l.glyphs).collect();
            if let Some(text) = confirmed(&line.glyphs, &glyphs) {
                tracing::debug!(read = %line.text, repaired = %text, "OCR marking line repaired");
                line.text = text;
                repaired += 1;
            }
        }
        Ok(repaired)
    }
}

/// The line's box with a margin of half its height, cut from the page (a copy).
fn crop_line(
    gray: &GrayImage,
    (left, top, right, bottom): (i32, i32, i32, i32),
) -> Option<GrayImage> {
    let margin = (bottom - top).max(8) / 2;
    let x0 = u32::try_from((left - margin).max(0)).ok()?;
    let y0 = u32::try_from((top - margin).max(0)).ok()?;
    let x1 = u32::try_from(right + margin).ok()?.min(gray.width());
    let y1 = u32::try_from(bottom + margin).ok()?.min(gray.height());
    (x1 > x0 + 8 && y1 > y0 + 8)
        .then(|| image::imageops::crop_imm(gray, x0, y0, x1 - x0, y1 - y0).to_image())
}

/// The level words and the characters OCR takes them for, from the shapes of the characters
/// (not from trial pages): a character sharing the component that carries most of the ink and
/// the same frame. 密 (宀 over 必 over 山) is read as other 宀-topped characters of the same
/// density: 宿 害 容 寄 蜜 宓 察; 机 (木 + 几) as 杌 朳 饥 肌 矶 (the same 几) or 札 (木 + a
/// hook); 绝 (纟 + 色) as 纯 绍 络 给 统 (纟 + a right part of the same width); 秘 (禾 + 必)
/// as 祕 泌 铋 (the same 必) or 私 秋 (禾 + a light right part). Traditional 絕 機 with the
/// same reasoning (經 絡 給 統; 璣 磯 譏 饑). Whatever else Tesseract read, its own choices
/// for the symbol are looked at too ([`reads_as`]).
pub(crate) const LEVEL_WORDS: &[LevelWord] = &[
    LevelWord {
        canonical: "绝密",
        first: &[
            '绝', '絕', '纯', '绍', '络', '给', '统', '經', '絡', '給', '統',
        ],
    },
    LevelWord {
        canonical: "机密",
        first: &[
            '机', '機', '杌', '朳', '饥', '肌', '矶', '札', '璣', '磯', '譏', '饑',
        ],
    },
    LevelWord {
        canonical: "秘密",
        first: &['秘', '祕', '泌', '铋', '私', '秋'],
    },
];

/// The second character of every level word, 密, and its shape-alikes (see [`LEVEL_WORDS`]).
const MI_LIKE: &[char] = &['密', '宿', '害', '容', '寄', '蜜', '宓', '察'];

/// Glyphs that end a period form in a first reading: 年 月 日, 期 (and its left part 其),
/// 前, 件/條/条 of 解密条件.
const PERIOD_ENDS: &[char] = &['年', '月', '日', '期', '其', '前', '件', '条', '條'];

/// A level word: its canonical spelling and the characters its first character is read as.
pub(crate) struct LevelWord {
    pub canonical: &'static str,
    pub first: &'static [char],
}

/// Characters that are a star's shape, in or out of the models' character sets.
fn is_star_shape(c: char) -> bool {
    matches!(
        c,
        '★' | '☆'
            | '*'
            | '＊'
            | '※'
            | '✱'
            | '✲'
            | '✳'
            | '⁎'
            | '✦'
            | '✧'
            | '✩'
            | '✪'
            | '✫'
            | '✬'
            | '✭'
            | '✮'
            | '✯'
            | '✰'
    )
}

/// True when the glyph's text is exactly one character of `set`.
fn one_of(text: &str, set: &[char]) -> bool {
    let mut chars = text.chars();
    matches!((chars.next(), chars.next()), (Some(c), None) if set.contains(&c))
}

/// True when the glyph was read as one of `set`, or Tesseract considered one of `set` for it.
fn reads_as(glyph: &Glyph, set: &[char]) -> bool {
    one_of(&glyph.text, set) || glyph.choices.iter().any(|choice| one_of(choice, set))
}

/// A star shape as read or among the alternatives.
fn reads_as_star(glyph: &Glyph) -> bool {
    let star = |s: &str| s.chars().count() == 1 && s.chars().all(is_star_shape);
    star(&glyph.text) || glyph.choices.iter().any(|choice| star(choice))
}

/// The digit a glyph stands for: a digit as read, a glyph of a digit's shape (`O` `o` `〇`
/// for 0, `l` `I` `|` for 1: the same strokes in Latin script), or a digit among the
/// alternatives Tesseract considered for it.
fn digit_of(glyph: &Glyph) -> Option<char> {
    let shape = |c: char| match c {
        '0'..='9' => Some(c),
        '０'..='９' => char::from_digit(u32::from(c) - u32::from('０'), 10),
        'O' | 'o' | '〇' => Some('0'),
        'l' | 'I' | '|' => Some('1'),
        _ => None,
    };
    let mut chars = glyph.text.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && let Some(digit) = shape(c)
    {
        return Some(digit);
    }
    glyph.choices.iter().find_map(|choice| {
        let mut chars = choice.chars();
        match (chars.next(), chars.next()) {
            (Some(c @ '0'..='9'), None) => Some(c),
            _ => None,
        }
    })
}

/// Glyphs without the spaces Tesseract sometimes returns as symbols.
fn visible(glyphs: &[Glyph]) -> Vec<&Glyph> {
    glyphs
        .iter()
        .filter(|g| !g.text.trim().is_empty())
        .collect()
}

/// A period form at the start of `glyphs`: its canonical text and how many glyphs it takes.
pub(crate) fn read_period(glyphs: &[&Glyph]) -> Option<(String, usize)> {
    let is = |index: usize, set: &[char]| glyphs.get(index).is_some_and(|g| reads_as(g, set));
    // Words: 长期 (期 is read as its left part 其), 启用前, 永久.
    for (word, alikes) in [
        ("长期", [&['长', '長'][..], &['期', '其']]),
        ("永久", [&['永'][..], &['久']]),
    ] {
        if is(0, alikes[0]) && is(1, alikes[1]) {
            return Some((word.to_owned(), 2));
        }
    }
    if is(0, &['启', '啓']) && is(1, &['用']) && is(2, &['前']) {
        return Some(("启用前".to_owned(), 3));
    }
    // 解密条件… / 解密时间…: the condition runs to the end of the line.
    if is(0, &['解']) && is(1, MI_LIKE) && is(2, &['条', '條', '时', '時']) {
        let word = if is(2, &['条', '條']) {
            "条件"
        } else {
            "时间"
        };
        return Some((format!("解密{word}"), 4.min(glyphs.len())));
    }
    // Numbers: N年, N个月, YYYY年M月D日 (and two-digit years: 29年6月30日).
    let digits = |from: usize| -> (String, usize) {
        let mut number = String::new();
        let mut index = from;
        while let Some(digit) = glyphs.get(index).and_then(|g| digit_of(g)) {
            if number.len() == 4 {
                break;
            }
            number.push(digit);
            index += 1;
        }
        (number, index)
    };
    let (number, after) = digits(0);
    if number.is_empty() {
        return None;
    }
    if is(after, &['个', '個']) && is(after + 1, &['月']) && number.len() <= 2 {
        return Some((format!("{number}个月"), after + 2));
    }
    if !is(after, &['年']) {
        return None;
    }
    let (month, after_month) = digits(after + 1);
    if !month.is_empty() && month.len() <= 2 && is(after_month, &['月']) {
        let (day, after_day) = digits(after_month + 1);
        if !day.is_empty() && day.len() <= 2 && is(after_day, &['日']) {
            return Some((format!("{number}年{month}月{day}日"), after_day + 1));
        }
        return Some((format!("{number}年{month}月"), after_month + 1));
    }
    // A bare four-digit year is a date without its month, not a period.
    (number.len() <= 2).then(|| (format!("{number}年"), after + 1))
}

/// Where the level word starts in a line's visible glyphs, which one it is, and what came
/// before it, if the line may be a marking line: only a copy number (digits) or a couple of
/// specks before it, never a sentence or an opening quotation mark.
fn level_word_at(glyphs: &[&Glyph]) -> Option<(usize, &'static LevelWord)> {
    let start = (0..glyphs.len().saturating_sub(1)).find(|&i| {
        LEVEL_WORDS.iter().any(|w| reads_as(glyphs[i], w.first)) && reads_as(glyphs[i + 1], MI_LIKE)
    })?;
    let before = &glyphs[..start];
    let noise = before.iter().filter(|g| digit_of(g).is_none()).count();
    let quoted = before.iter().any(|g| {
        g.text
            .chars()
            .any(|c| matches!(c, '"' | '“' | '”' | '‘' | '’' | '「' | '『' | '《' | '\''))
    });
    if start > MAX_LEADING_GLYPHS || noise > MAX_LEADING_NOISE || quoted {
        return None;
    }
    Some((start, level_of(glyphs[start])?.0))
}

/// Which level word a glyph begins, and whether that is what Tesseract read (`true`) or only
/// one of the alternatives it weighed (`false`). The character read comes first: 秘 read
/// with 机 among its alternatives is 秘密; only a glyph read as none of them is taken by its
/// alternatives, best first.
fn level_of(glyph: &Glyph) -> Option<(&'static LevelWord, bool)> {
    if let Some(word) = LEVEL_WORDS.iter().find(|w| one_of(&glyph.text, w.first)) {
        return Some((word, true));
    }
    glyph.choices.iter().find_map(|choice| {
        LEVEL_WORDS
            .iter()
            .find(|w| one_of(choice, w.first))
            .map(|w| (w, false))
    })
}

/// A first reading of a head line with a marking's shape: the level word (at this index of
/// the visible glyphs), one glyph for the star, and a period ending within a few glyphs.
pub(crate) fn candidate(glyphs: &[Glyph]) -> Option<usize> {
    let glyphs = visible(glyphs);
    let (start, _) = level_word_at(&glyphs)?;
    let slot = glyphs.get(start + 2)?;
    // A digit or a period's first character right after the level word: no star at all.
    if digit_of(slot).is_some() && !reads_as_star(slot) {
        return None;
    }
    let rest = &glyphs[start + 3..];
    let end = rest
        .iter()
        .take(MAX_PERIOD_GLYPHS)
        .rposition(|g| reads_as(g, PERIOD_ENDS))?;
    // 解密条件 is followed by its condition; everything else by an urgency word at most.
    let condition = rest.first().is_some_and(|g| reads_as(g, &['解']));
    (condition || rest.len() - end - 1 <= MAX_TRAILING_GLYPHS).then_some(start)
}

/// Characters that join a level word to a number in prose (`绝密级30年`, `机密为10年`,
/// `秘密满5年`, `机密的3年`), and punctuation: in the star position they make a phrase, not a
/// marking, whatever the restricted reading says.
const PROSE_JOINERS: &[char] = &[
    '级', '為', '为', '满', '滿', '的', '期', '限', '内', '內', '至', '后', '後', '起', '、', '，',
    ',', '。', '：', ':', '（', '(',
];

/// The canonical text of a marking line, from its first reading and the restricted second
/// reading (see the module's documentation), or `None` when the second reading does not
/// confirm a marking. The restricted reading confirms the star in one of two ways: it reads
/// a star shape there (`*`, `※`), or it drops exactly that glyph — none of the marking's
/// characters fits it — and reads the rest, as many glyphs as before, as a level word and a
/// period.
pub(crate) fn confirmed(first: &[Glyph], second: &[Glyph]) -> Option<String> {
    let first = visible(first);
    let second = visible(second);
    let (first_start, _) = level_word_at(&first)?;
    let slot = first.get(first_start + 2)?;
    if reads_as(slot, PROSE_JOINERS) && !reads_as_star(slot) {
        return None;
    }
    let (start, second_level) = level_word_at(&second)?;
    // The level: what either reading read (the first, unrestricted one before the second),
    // before what either only weighed.
    let level = match (level_of(first[first_start]), level_of(second[start])) {
        (Some((word, true)), _) => word,
        (_, Some((word, true))) => word,
        (Some((word, false)), _) => word,
        _ => second_level,
    };
    let star_read = reads_as_star(second.get(start + 2)?);
    let period_at = if star_read { start + 3 } else { start + 2 };
    let (period, period_len) = read_period(&second[period_at..])?;
    let end = period_at + period_len;
    let condition = period.starts_with("解密");
    if !condition && second.len() - end > MAX_TRAILING_GLYPHS {
        return None;
    }
    // The same glyphs from the level word on in both readings: with the star read, ±1 (a
    // speck, a split digit); with the star dropped, one or two fewer.
    let (first_rest, second_rest) = (first.len() - first_start, second.len() - start);
    let counts_agree = if star_read {
        first_rest.abs_diff(second_rest) <= 1
    } else {
        // (none fewer: the first reading merged the star with a digit, `机密妇5年` for
        // `机密★15年`, read `机密15年` when restricted)
        (0..=2).contains(&(first_rest as isize - second_rest as isize))
    };
    if !condition && !counts_agree {
        return None;
    }
    let text = |glyphs: &[&Glyph]| glyphs.iter().map(|g| g.text.as_str()).collect::<String>();
    let before = text(&first[..first_start]);
    // After the period: the first reading's text (the condition of 解密条件, an urgency word),
    // which the restricted reading could not spell.
    let after = if condition {
        // The condition starts after 件 / 间 (and a colon) in the first reading.
        let from = first[first_start..]
            .iter()
            .position(|g| reads_as(g, &['件', '间', '間']))
            .map_or(first.len(), |p| first_start + p + 1);
        text(&first[from..])
    } else {
        let trailing = second.len() - end;
        text(&first[first.len().saturating_sub(trailing).max(first_start)..])
    };
    let space = |s: &str| if s.is_empty() || condition { "" } else { " " };
    Some(format!(
        "{before}{}{}★{period}{}{after}",
        if before.is_empty() { "" } else { " " },
        level.canonical,
        space(&after)
    ))
}

/// Below this confidence (0–100) a symbol the first reading read is not taken as read by
/// [`confirmed_alone`].
const SURE_CONFIDENCE: f32 = 60.0;

/// The canonical text of a marking line the first reading alone shows whole: the level word
/// read as such (its own characters, 密 as 密, each at [`SURE_CONFIDENCE`] or more), one glyph
/// in the star position that is no prose joiner, digit or punctuation, and right after it a
/// period form read from the symbols' own text (no alternatives), with at most an urgency
/// word after it. Nothing but the star is then in doubt, and the star is the one glyph the
/// models cannot read; a second reading restricted to the marking's characters adds nothing
/// there (and on such lines it was seen to lose the level word or a digit).
pub(crate) fn confirmed_alone(first: &[Glyph]) -> Option<String> {
    // Only what was read: alternatives are dropped, so every digit is a digit's shape.
    let read: Vec<Glyph> = visible(first)
        .into_iter()
        .map(|g| Glyph {
            text: g.text.clone(),
            confidence: g.confidence,
            choices: Vec::new(),
        })
        .collect();
    let glyphs: Vec<&Glyph> = read.iter().collect();
    let (start, level) = level_word_at(&glyphs)?;
    let (word, mi, slot) = (glyphs[start], glyphs[start + 1], glyphs.get(start + 2)?);
    let sure = |g: &Glyph| g.confidence >= SURE_CONFIDENCE;
    if !sure(word) || !sure(mi) || !one_of(&mi.text, &['密']) {
        return None;
    }
    let slot_char = {
        let mut chars = slot.text.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => c,
            _ => return None,
        }
    };
    if PROSE_JOINERS.contains(&slot_char)
        || digit_of(slot).is_some()
        || slot_char.is_ascii_punctuation()
        || !(slot_char.is_alphanumeric() || is_star_shape(slot_char))
    {
        return None;
    }
    let (period, period_len) = read_period(&glyphs[start + 3..])?;
    let end = start + 3 + period_len;
    if glyphs[start + 3..end].iter().any(|g| !sure(g)) {
        return None;
    }
    let condition = period.starts_with("解密");
    if !condition && glyphs.len() - end > MAX_TRAILING_GLYPHS {
        return None;
    }
    let text = |glyphs: &[&Glyph]| glyphs.iter().map(|g| g.text.as_str()).collect::<String>();
    let before = text(&glyphs[..start]);
    let after = if condition {
        let from = glyphs[start..]
            .iter()
            .position(|g| one_of(&g.text, &['件', '间', '間']))
            .map_or(glyphs.len(), |p| start + p + 1);
        text(&glyphs[from..])
    } else {
        text(&glyphs[end..])
    };
    let space = |s: &str| if s.is_empty() || condition { "" } else { " " };
    Some(format!(
        "{before}{}{}★{period}{}{after}",
        if before.is_empty() { "" } else { " " },
        level.canonical,
        space(&after)
    ))
}

/// Tesseract's engine, freed when dropped.
pub(crate) struct Engine(*mut tess::TessBaseAPI);

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: the handle came from TessBaseAPICreate and is deleted once, here.
        unsafe { tess::TessBaseAPIDelete(self.0) }
    }
}

/// Frees a result iterator when dropped.
struct Results(*mut tess::TessResultIterator);

impl Drop for Results {
    fn drop(&mut self) {
        // SAFETY: the iterator came from TessBaseAPIGetIterator and is deleted once, here.
        unsafe { tess::TessResultIteratorDelete(self.0) }
    }
}

/// Take a string Tesseract allocated for us (freed here), or `""` for null.
///
/// # Safety
/// `raw` is null or a string from a `Tess*GetUTF8Text` call that was not freed yet.
unsafe fn owned_text(raw: *mut c_char) -> String {
    if raw.is_null() {
        return String::new();
    }
    // SAFETY: non-null, NUL-terminated and ours to free (the contract above).
    let text = unsafe { CStr::from_ptr(raw) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: as above; freed exactly once.
    unsafe { tess::TessDeleteText(raw) };
    text
}

impl Engine {
    /// Load `languages` (Tesseract's data from its default place), with per-symbol choices.
    pub(crate) fn new(languages: &str) -> Result<Self, String> {
        let language = CString::new(languages).map_err(|_| "bad language name".to_owned())?;
        // SAFETY: a fresh handle, checked for null; `language` outlives the call.
        let engine = Engine(unsafe { tess::TessBaseAPICreate() });
        if engine.0.is_null() {
            return Err("Tesseract could not be created".to_owned());
        }
        // SAFETY: live handle; the data path may be null (Tesseract's default).
        if unsafe { tess::TessBaseAPIInit3(engine.0, ptr::null(), language.as_ptr()) } != 0 {
            return Err(format!("Tesseract with {languages} is not available"));
        }
        // Mode 2: for each symbol, the characters the network weighed for it.
        engine.set(c"lstm_choice_mode", "2")?;
        Ok(engine)
    }

    fn set(&self, name: &CStr, value: &str) -> Result<(), String> {
        let value = CString::new(value).map_err(|_| "bad variable value".to_owned())?;
        // SAFETY: live handle; both strings outlive the call (Tesseract copies them).
        if unsafe { tess::TessBaseAPISetVariable(self.0, name.as_ptr(), value.as_ptr()) } == 0 {
            return Err(format!("Tesseract refused {}", name.to_string_lossy()));
        }
        Ok(())
    }

    /// From now on read single lines, restricted to [`WHITELIST`] (the second pass).
    fn restrict_to_marking_line(&mut self) -> Result<(), String> {
        self.set(c"tessedit_char_whitelist", WHITELIST)?;
        // SAFETY: live handle; the mode is one of Tesseract's constants.
        unsafe { tess::TessBaseAPISetPageSegMode(self.0, tess::TessPageSegMode_PSM_SINGLE_LINE) };
        Ok(())
    }

    /// Recognise a grayscale image and return it line by line, each line with its symbols'
    /// confidences and alternatives.
    pub(crate) fn read(&mut self, gray: &GrayImage) -> Result<OcrPage, String> {
        let width = i32::try_from(gray.width()).map_err(|_| "image too wide".to_owned())?;
        let height = i32::try_from(gray.height()).map_err(|_| "image too high".to_owned())?;
        // SAFETY: every call gets the live handle `self.0`, pointers to buffers that outlive
        // the call (`gray`'s pixels, which Tesseract copies in SetImage; the four box
        // integers), and the iterator only while its guard keeps it alive (the guard is
        // dropped before `self` can be used again). Strings Tesseract allocates go through
        // `owned_text`; the choice iterator's strings belong to it and are copied before it
        // moves on.
        unsafe {
            tess::TessBaseAPISetImage(self.0, gray.as_raw().as_ptr(), width, height, 1, width);
            // The true resolution is unknown; 300 dpi is what Tesseract is tuned for and
            // silences its "invalid resolution" guess.
            tess::TessBaseAPISetSourceResolution(self.0, 300);
            if tess::TessBaseAPIRecognize(self.0, ptr::null_mut()) != 0 {
                return Err("Tesseract recognition failed".to_owned());
            }
            let mut page = OcrPage {
                lines: Vec::new(),
                height,
                mean_confidence: tess::TessBaseAPIMeanTextConf(self.0),
            };
            let results = Results(tess::TessBaseAPIGetIterator(self.0));
            if results.0.is_null() {
                return Ok(page);
            }
            let at_start = |level| {
                tess::TessPageIteratorIsAtBeginningOf(
                    tess::TessResultIteratorGetPageIteratorConst(results.0),
                    level,
                ) != 0
            };
            loop {
                if at_start(tess::TessPageIteratorLevel_RIL_TEXTLINE) || page.lines.is_empty() {
                    let (mut left, mut top, mut right, mut bottom) = (0, 0, 0, 0);
                    tess::TessPageIteratorBoundingBox(
                        tess::TessResultIteratorGetPageIteratorConst(results.0),
                        tess::TessPageIteratorLevel_RIL_TEXTLINE,
                        &mut left,
                        &mut top,
                        &mut right,
                        &mut bottom,
                    );
                    let text = owned_text(tess::TessResultIteratorGetUTF8Text(
                        results.0,
                        tess::TessPageIteratorLevel_RIL_TEXTLINE,
                    ));
                    page.lines.push(OcrLine {
                        text: text.trim_end_matches(['\n', '\r']).to_owned(),
                        glyphs: Vec::new(),
                        bounds: (left, top, right, bottom),
                        starts_paragraph: at_start(tess::TessPageIteratorLevel_RIL_PARA),
                    });
                }
                let raw_symbol = tess::TessResultIteratorGetUTF8Text(
                    results.0,
                    tess::TessPageIteratorLevel_RIL_SYMBOL,
                );
                // Null where the iterator stands on no word (an empty block): there Tesseract's
                // ChoiceIterator asserts and aborts the process, so no choices are asked for.
                let has_word = !raw_symbol.is_null();
                let text = owned_text(raw_symbol);
                let confidence = tess::TessResultIteratorConfidence(
                    results.0,
                    tess::TessPageIteratorLevel_RIL_SYMBOL,
                );
                let mut choices = Vec::new();
                let choice = if has_word {
                    tess::TessResultIteratorGetChoiceIterator(results.0)
                } else {
                    ptr::null_mut()
                };
                if !choice.is_null() {
                    loop {
                        let raw = tess::TessChoiceIteratorGetUTF8Text(choice);
                        if !raw.is_null() {
                            choices.push(CStr::from_ptr(raw).to_string_lossy().into_owned());
                        }
                        if tess::TessChoiceIteratorNext(choice) == 0 {
                            break;
                        }
                    }
                    tess::TessChoiceIteratorDelete(choice);
                }
                if let Some(line) = page.lines.last_mut() {
                    line.glyphs.push(Glyph {
                        text,
                        confidence,
                        choices,
                    });
                }
                if tess::TessResultIteratorNext(results.0, tess::TessPageIteratorLevel_RIL_SYMBOL)
                    == 0
                {
                    break;
                }
            }
            // Lines Tesseract found but could not read (empty text) carry nothing.
            page.lines.retain(|line| !line.text.trim().is_empty());
            Ok(page)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line read cleanly (confidence 95, no alternatives) except where `overrides` says
    /// (glyph index, alternatives).
    fn glyphs(text: &str, overrides: &[(usize, &[&str])]) -> Vec<Glyph> {
        text.chars()
            .enumerate()
            .map(|(index, c)| {
                let over = overrides.iter().find(|o| o.0 == index);
                Glyph {
                    text: c.to_string(),
                    confidence: 95.0,
                    choices: over
                        .map_or_else(Vec::new, |o| o.1.iter().map(|s| (*s).to_owned()).collect()),
                }
            })
            .collect()
    }

    fn plain(text: &str) -> Vec<Glyph> {
        glyphs(text, &[])
    }

    #[test]
    fn a_level_word_one_glyph_and_a_period_is_a_candidate() {
        for read in [
            "机密广10年",
            "绝密太长期",
            "秘密女6个月",
            "绝密业启用前",
            "机密雪2029年6月30日",
            "秘密友29年6月30日",
            "機密犬1 0年",
            "絕密火長期",
            "000123绝密妇长期",
            "机密广10年特急",
            "秘密坟]年",
            "机密广解密条件：项目验收后",
            // Level-word confusions by shape, and by Tesseract's own alternatives.
            "机宿广5年",
            "肌蜜广5年",
        ] {
            assert!(candidate(&plain(read)).is_some(), "{read}");
        }
        let line = glyphs("机和业5年", &[(1, &["和", "党", "密"])]);
        assert_eq!(candidate(&line), Some(0));
    }

    #[test]
    fn prose_and_starless_lines_are_no_candidates() {
        for read in [
            "机密10年",
            "机密大事",
            "机密文3份",
            "秘书大10岁",
            "根据规定机密广10年",
            "例“机密广10年”",
            "机密广10年以上的文件一律不得复印",
            "绝密级事项保密期限一般不超过30年以上",
            "关于2026年度机密载体清查工作的通知",
        ] {
            assert_eq!(candidate(&plain(read)), None, "{read}");
        }
    }

    #[test]
    fn the_restricted_second_reading_confirms_and_canonicalises() {
        for (first, second, canonical) in [
            ("机密广10年", "机密*10年", "机密★10年"),
            ("绝密太长其", "绝密※长期", "绝密★长期"),
            ("秘密女吕个月", "秘密*6个月", "秘密★6个月"),
            (
                "机宿雪2029年6月30日",
                "机密*2029年6月30日",
                "机密★2029年6月30日",
            ),
            ("絕密火長期", "絕密*長期", "绝密★长期"),
            ("機密犬1 0年", "機密*1 0年", "机密★10年"),
            ("绝密业启用前", "绝密*启用前", "绝密★启用前"),
            ("000123绝密妇长期", "000123绝密*长期", "000123 绝密★长期"),
            ("机密广10年特急", "机密*10年特急", "机密★10年 特急"),
            // The star dropped by the restricted pass: none of the marking's characters.
            ("绝密太长期", "绝密长期", "绝密★长期"),
            ("秘密坟]年", "秘密1年", "秘密★1年"),
            ("秘密文符用前", "秘密啓用前", "秘密★启用前"),
            (
                "机密六2037年3月26日",
                "机密2037年3月26日",
                "机密★2037年3月26日",
            ),
            (
                "秘密女解密条件：会议结束后",
                "秘密*解密条件：",
                "秘密★解密条件：会议结束后",
            ),
        ] {
            assert_eq!(
                confirmed(&plain(first), &plain(second)).as_deref(),
                Some(canonical),
                "{first} / {second}"
            );
        }
    }

    #[test]
    fn a_second_reading_without_a_star_or_with_other_glyphs_confirms_nothing() {
        for (first, second) in [
            // No star shape where the star should be: a real character there.
            ("机密广10年", "机密机10年"),
            // A prose joiner in the star position, even when the restricted pass drops it.
            ("机密级10年", "机密10年"),
            ("机密满5年", "机密5年"),
            ("绝密为长期", "绝密长期"),
            // Prose squeezed into the marking's characters: glyphs lost or no period.
            ("机密级事项保密期限30年", "机密*期30年"),
            ("机密级事项保密期限30年", "机密*期限机密30年"),
            ("机密广10年", "机密*10"),
            ("机密广2029年", "机密*2029年"),
            // Two glyphs in the star position.
            ("机密广大10年", "机密**10年"),
        ] {
            assert_eq!(
                confirmed(&plain(first), &plain(second)),
                None,
                "{first} / {second}"
            );
        }
    }

    #[test]
    fn a_first_reading_that_shows_the_whole_marking_confirms_alone() {
        for (read, canonical) in [
            ("秘密太2 5 年", "秘密★25年"),
            ("机密妇5 年", "机密★5年"),
            ("绝密友长期", "绝密★长期"),
            ("機密犬6個月", "机密★6个月"),
            ("机密广10年特急", "机密★10年 特急"),
            ("000123绝密妇启用前", "000123 绝密★启用前"),
        ] {
            assert_eq!(
                confirmed_alone(&plain(read)).as_deref(),
                Some(canonical),
                "{read}"
            );
        }
        for read in [
            // Prose: a joiner or a word in the star position, no period right after it.
            "绝密级30年",
            "机密为10年",
            "秘密载体管理5年规划",
            "机密文件保存10年，到期后按规定程序解密。",
            "秘密文件借阅登记（6个月）",
            "机密广10年以上的文件一律不得复印",
            // Digits only by their alternatives, or 密 only by its shape: not read whole.
            "秘密女吕年",
            "机宿广5年",
            // No glyph in the star position, or a digit there.
            "机密10年",
            "机密110年",
        ] {
            assert_eq!(confirmed_alone(&plain(read)), None, "{read}");
        }
        // Read with low confidence: the second reading decides.
        let mut unsure = plain("秘密太25年");
        unsure[4].confidence = 30.0;
        assert_eq!(confirmed_alone(&unsure), None);
    }

    #[test]
    fn period_forms() {
        let read = |s: &str| {
            let line = plain(s);
            let refs: Vec<&Glyph> = line.iter().collect();
            read_period(&refs)
        };
        assert_eq!(read("10年"), Some(("10年".to_owned(), 3)));
        assert_eq!(
            read("1 0年"),
            None,
            "spaces are dropped before, by `visible`"
        );
        assert_eq!(read("6个月"), Some(("6个月".to_owned(), 3)));
        assert_eq!(read("6個月"), Some(("6个月".to_owned(), 3)));
        assert_eq!(read("长期"), Some(("长期".to_owned(), 2)));
        assert_eq!(read("長期"), Some(("长期".to_owned(), 2)));
        assert_eq!(read("启用前"), Some(("启用前".to_owned(), 3)));
        assert_eq!(read("啓用前"), Some(("启用前".to_owned(), 3)));
        assert_eq!(
            read("2029年6月30日"),
            Some(("2029年6月30日".to_owned(), 10))
        );
        assert_eq!(read("29年6月30日"), Some(("29年6月30日".to_owned(), 8)));
        assert_eq!(read("2027年12月"), Some(("2027年12月".to_owned(), 8)));
        assert_eq!(read("1O年"), Some(("10年".to_owned(), 3)));
        assert_eq!(read("解密条件"), Some(("解密条件".to_owned(), 4)));
        assert_eq!(read("2029年"), None);
        assert_eq!(read("年"), None);
        assert_eq!(read("123个月"), None);
        assert_eq!(read("工作"), None);
        // A digit misread as a glyph counts when Tesseract weighed the digit for it.
        let line = glyphs("吕年", &[(0, &["吕", "5"])]);
        let refs: Vec<&Glyph> = line.iter().collect();
        assert_eq!(read_period(&refs), Some(("5年".to_owned(), 2)));
    }

    #[test]
    fn only_head_lines_are_candidates() {
        let line = |text: &str, top: i32| OcrLine {
            text: text.to_owned(),
            glyphs: plain(text),
            bounds: (100, top, 600, top + 40),
            starts_paragraph: true,
        };
        let body = "各部门：为进一步加强网络安全管理，现将有关事项通知如下。";
        let mut lines = vec![
            // Read after the left column, but at the top of the page: a head line.
            line("关于加强办公网络安全管理的通知", 200),
            line("机密广10年", 100),
        ];
        lines.extend((0..5).map(|n| line(body, 300 + 100 * n)));
        lines.push(line("秘密女5年", 1500));
        let page = OcrPage {
            lines,
            height: 3000,
            mean_confidence: 90,
        };
        assert_eq!(page.candidates(), vec![1]);
        assert!(
            page.text()
                .starts_with("关于加强办公网络安全管理的通知\n\n机密广10年\n\n"),
            "{}",
            page.text()
        );
    }

    /// Two photographed pages: a page of the tuning set (`tests/ocr_trials.rs`, page 4:
    /// Noto Sans CJK SC 16pt at 126 dpi, rotated +3.5°, perspective, light falling to 65 %,
    /// JPEG 46) marked `绝密★长期` at the top right, which Tesseract reads as `绝密太长期`;
    /// and a page head of prose with levels and years (150 dpi, rotated 2.2°, JPEG 60).
    const HEAD_MARKED: &[u8] = include_bytes!("../../tests/fixtures/ocr/head-marked.jpg");
    const HEAD_PROSE: &[u8] = include_bytes!("../../tests/fixtures/ocr/head-prose.jpg");

    fn read_fixture(bytes: &[u8]) -> (Engine, OcrPage, GrayImage) {
        let image = crate::formats::image::decode(bytes, 256 << 20)
            .expect("fixture decodes")
            .expect("fixture is no icon");
        let gray = crate::formats::image::prepare(image);
        let mut engine = Engine::new(crate::formats::image::LANGUAGES).expect("Tesseract");
        let page = engine.read(&gray).expect("Tesseract reads the fixture");
        (engine, page, gray)
    }

    /// For looking at failures of the tuning set (never the held-out set): the head lines
    /// of each image in `OCR_DEBUG` (paths separated by `:`), their symbols and alternatives,
    /// the candidates and their second readings.
    /// `OCR_DEBUG=a.jpg:b.jpg cargo test -p baomi-extract --lib debug_dump -- --ignored --nocapture`
    #[test]
    #[ignore = "a tool: prints what Tesseract read on the images in OCR_DEBUG"]
    fn debug_dump() {
        let paths = std::env::var("OCR_DEBUG").unwrap_or_default();
        for path in paths.split(':').filter(|p| !p.is_empty()) {
            let bytes = std::fs::read(path).expect("read image");
            let (mut engine, page, gray) = read_fixture(&bytes);
            eprintln!("== {path}: mean confidence {}", page.mean_confidence);
            let mut by_top: Vec<&OcrLine> = page.lines.iter().collect();
            by_top.sort_by_key(|l| l.bounds.1);
            for line in by_top.iter().take(HEAD_LINES) {
                let glyphs: Vec<String> = line
                    .glyphs
                    .iter()
                    .map(|g| format!("{}{:.0}{:?}", g.text, g.confidence, g.choices))
                    .collect();
                eprintln!(
                    "  {:?} {:?}\n    {}",
                    line.bounds,
                    line.text,
                    glyphs.join(" ")
                );
            }
            let candidates = page.candidates();
            engine.restrict_to_marking_line().expect("restrict");
            for index in candidates {
                let line = &page.lines[index];
                let Some(crop) = crop_line(&gray, line.bounds) else {
                    continue;
                };
                let second = engine.read(&crop).expect("second reading");
                let glyphs: Vec<Glyph> = second.lines.into_iter().flat_map(|l| l.glyphs).collect();
                let text: String = glyphs
                    .iter()
                    .map(|g| format!("{}{:.0}{:?}", g.text, g.confidence, g.choices))
                    .collect::<Vec<_>>()
                    .join(" ");
                eprintln!(
                    "  candidate {:?}\n    second: {text}\n    confirmed: {:?}",
                    line.text,
                    confirmed(&line.glyphs, &glyphs)
                );
            }
        }
    }

    #[test]
    fn a_photographed_marking_is_confirmed_by_the_second_reading() {
        let (mut engine, mut page, gray) = read_fixture(HEAD_MARKED);
        let read = page.text();
        assert!(
            read.contains("印发年度保密工作要点"),
            "the page is read: {read}"
        );
        assert!(!read.contains('★'), "Tesseract has no ★: {read}");
        assert_eq!(page.candidates().len(), 1, "one candidate in {read}");
        assert!(
            page.lines[page.candidates()[0]]
                .glyphs
                .iter()
                .any(|g| g.choices.len() > 1),
            "the result iterator gives alternatives"
        );
        assert_eq!(page.repair_markings(&mut engine, &gray), Ok(1), "{read}");
        assert!(page.text().contains("绝密★长期"), "{}", page.text());
        assert!(
            page.text().contains("印发年度保密工作要点"),
            "the rest is kept"
        );
    }

    #[test]
    fn photographed_prose_with_levels_and_years_is_left_alone() {
        let (mut engine, mut page, gray) = read_fixture(HEAD_PROSE);
        let before = page.text();
        assert!(before.contains("机密级"), "{before}");
        assert_eq!(page.repair_markings(&mut engine, &gray), Ok(0));
        assert_eq!(page.text(), before);
    }
}
