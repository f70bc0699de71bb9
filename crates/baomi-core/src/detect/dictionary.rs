//! Dictionaries: user term lists matched with one Aho-Corasick automaton over all terms
//! (daachorse's character-wise double array by default; see [`Backend`]).
//!
//! File format, one entry per line: `term[<TAB>weight[<TAB>category]]`. Lines starting with
//! `#` and blank lines are ignored; a UTF-8 BOM is allowed. Terms are normalised with the
//! engine's normaliser, so 機密 in a list matches 机密 in a document. The weight (default 1.0)
//! feeds the policy's `min_score`; the category (default: the dictionary's name) is the
//! finding's `rule`, which the policy's `categories` filter on.

use std::borrow::Cow;
use std::collections::HashMap;

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::contiguous;
use aho_corasick::{Anchored, MatchKind, dfa};
use daachorse::{CharwiseDoubleArrayAhoCorasick, CharwiseDoubleArrayAhoCorasickBuilder};

use super::{Detector, PartView};
use crate::normalise::Normalizer;
use crate::{Finding, FindingKind};

/// Up to this many patterns a DFA is used: it scans ~30% faster than the contiguous NFA
/// (measured: 10k CJK terms, 9 MB of prose, 25 ms vs 35 ms) but takes ~5 KB per term of
/// memory (49 MB at 10k) and 4× the build time, so larger lists use the NFA.
const DFA_MAX_PATTERNS: usize = 10_000;

/// One term of a dictionary, already normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    pub term: String,
    pub weight: f64,
    pub category: String,
}

/// One term list: `term[<TAB>weight[<TAB>category]]` per line.
#[derive(Debug, Clone)]
pub struct Dictionary {
    pub name: String,
    pub terms: Vec<Term>,
}

impl Dictionary {
    pub fn parse(name: &str, content: &str, normalizer: &Normalizer) -> Result<Dictionary, String> {
        let content = content.strip_prefix('\u{feff}').unwrap_or(content);
        let mut terms: Vec<Term> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for (number, line) in content.lines().enumerate() {
            let line_no = number + 1;
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let mut fields = line.split('\t');
            let raw_term = fields.next().unwrap_or_default().trim();
            let weight = match fields.next().map(str::trim) {
                None | Some("") => 1.0,
                Some(w) => match w.parse::<f64>() {
                    Ok(w) if w.is_finite() && w >= 0.0 => w,
                    _ => {
                        return Err(format!(
                            "line {line_no}: bad weight {w:?} (expected a number ≥ 0)"
                        ));
                    }
                },
            };
            let category = match fields.next().map(str::trim) {
                None | Some("") => name.to_owned(),
                Some(c) => c.to_owned(),
            };
            if fields.next().is_some() {
                return Err(format!(
                    "line {line_no}: too many fields (expected term<TAB>weight<TAB>category)"
                ));
            }
            let term = normalizer.normalize(raw_term).text;
            if term.is_empty() {
                continue;
            }
            match index.get(&term) {
                Some(&i) => {
                    if weight > terms[i].weight {
                        terms[i].weight = weight;
                        terms[i].category = category;
                    }
                }
                None => {
                    index.insert(term.clone(), terms.len());
                    terms.push(Term {
                        term,
                        weight,
                        category,
                    });
                }
            }
        }
        Ok(Dictionary {
            name: name.to_owned(),
            terms,
        })
    }
}

pub struct DictionaryDetector {
    /// `None` only when there are no terms at all. Built over the terms with ASCII letters
    /// lowercased: aho-corasick's own `ascii_case_insensitive` makes building a 100k-term
    /// automaton 2.5× slower (measured), so case is folded here and in the scanned text.
    automaton: Option<Matcher>,
    /// Pattern id → term.
    terms: Vec<Term>,
    /// Pattern id → finding reason, formatted once: a dense text yields hundreds of
    /// thousands of matches and formatting each showed in profiles.
    reasons: Vec<String>,
    /// Some term contains an ASCII letter, so scanned text must be ASCII-lowercased.
    fold_case: bool,
    /// Pattern id → the term begins or ends with an ASCII word character and so needs
    /// [`boundaries_ok`]; most Chinese terms do not, and skip the check.
    edged: Vec<bool>,
}

impl DictionaryDetector {
    /// Builds the detector. Panics only if the automaton exceeds aho-corasick's limits
    /// (more than `u32::MAX` states: gigabytes of terms); [`DictionaryDetector::try_new`]
    /// reports that as an error instead.
    pub fn new(dictionaries: Vec<Dictionary>) -> DictionaryDetector {
        DictionaryDetector::try_new(dictionaries)
            .expect("dictionary automaton within aho-corasick limits")
    }

    pub fn try_new(dictionaries: Vec<Dictionary>) -> Result<DictionaryDetector, String> {
        DictionaryDetector::try_with_backend(dictionaries, Backend::default())
    }

    /// Builds the detector on a chosen automaton; for benchmarks comparing them
    /// (`cargo bench -p baomi-core --bench detect -- dictionary_backend`).
    #[doc(hidden)]
    pub fn try_with_backend(
        dictionaries: Vec<Dictionary>,
        backend: Backend,
    ) -> Result<DictionaryDetector, String> {
        // Merge all dictionaries; a term in two lists keeps its highest weight. ASCII case is
        // folded in the key because matching ignores ASCII case.
        let mut terms: Vec<Term> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for term in dictionaries.into_iter().flat_map(|d| d.terms) {
            let key = term.term.to_ascii_lowercase();
            match index.get(&key) {
                Some(&i) => {
                    if term.weight > terms[i].weight {
                        terms[i] = term;
                    }
                }
                None => {
                    index.insert(key, terms.len());
                    terms.push(term);
                }
            }
        }
        if terms.is_empty() {
            return Ok(DictionaryDetector {
                automaton: None,
                terms,
                reasons: Vec::new(),
                fold_case: false,
                edged: Vec::new(),
            });
        }
        let fold_case = terms
            .iter()
            .any(|t| t.term.bytes().any(|c| c.is_ascii_alphabetic()));
        let patterns: Vec<String> = terms.iter().map(|t| t.term.to_ascii_lowercase()).collect();
        let nfa = || {
            contiguous::NFA::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&patterns)
                .map(Matcher::Nfa)
        };
        // The DFA can exceed its size limits on unusual lists; the contiguous NFA then still
        // works.
        let automaton = match backend {
            Backend::Daachorse => CharwiseDoubleArrayAhoCorasickBuilder::new()
                .match_kind(daachorse::MatchKind::LeftmostLongest)
                .build_with_values(patterns.iter().zip(0u32..))
                .map(Matcher::Charwise)
                .map_err(|e| format!("{} terms: {e}", terms.len()))?,
            Backend::AhoCorasickNfa => nfa().map_err(|e| format!("{} terms: {e}", terms.len()))?,
            Backend::AhoCorasick => if terms.len() <= DFA_MAX_PATTERNS {
                dfa::DFA::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&patterns)
                    .map(Matcher::Dfa)
                    .or_else(|_| nfa())
            } else {
                nfa()
            }
            .map_err(|e| format!("{} terms: {e}", terms.len()))?,
        };
        let reasons = terms
            .iter()
            .map(|t| format!("dictionary term ({})", t.category))
            .collect();
        let edge_word = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_');
        let edged = terms
            .iter()
            .map(|t| {
                let b = t.term.as_bytes();
                edge_word(b.first().copied()) || edge_word(b.last().copied())
            })
            .collect();
        Ok(DictionaryDetector {
            automaton: Some(automaton),
            terms,
            reasons,
            fold_case,
            edged,
        })
    }

    pub fn term_count(&self) -> usize {
        self.terms.len()
    }

    /// Heap bytes of the automaton (for the benchmark's record of each backend).
    #[doc(hidden)]
    pub fn automaton_bytes(&self) -> usize {
        match &self.automaton {
            None => 0,
            Some(Matcher::Dfa(a)) => a.memory_usage(),
            Some(Matcher::Nfa(a)) => a.memory_usage(),
            Some(Matcher::Charwise(a)) => a.heap_bytes(),
        }
    }
}

thread_local! {
    static SLOTS: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Which automaton matches the terms. All give the same findings (tested below); daachorse
/// is the default because it is the fastest on Chinese text at every size we measured and
/// builds in a fraction of the time and memory (BENCHMARKS.md, `dictionary_backend`).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Backend {
    /// aho-corasick: a DFA up to [`DFA_MAX_PATTERNS`] terms, else its contiguous NFA.
    AhoCorasick,
    /// aho-corasick's contiguous NFA at any size.
    AhoCorasickNfa,
    /// daachorse's character-wise double-array automaton: one step per character (one per
    /// CJK character instead of three bytes), a small table that stays in cache.
    #[default]
    Daachorse,
}

/// The automaton over all terms.
enum Matcher {
    Dfa(dfa::DFA),
    Nfa(contiguous::NFA),
    Charwise(CharwiseDoubleArrayAhoCorasick<u32>),
}

/// Every leftmost-longest, non-overlapping match in `hay`, as `(pattern, start, end)`.
///
/// This drives the automaton a byte at a time instead of through `find_iter`: in dense
/// Chinese text a dictionary of common words matches every few characters, and restarting
/// a search per match cost half the scan time (measured: 155 → 297 MB/s, same matches).
/// Leftmost-longest automata enter the dead state once the longest match starting at the
/// leftmost position is known; the search then resumes right after that match.
fn leftmost_longest<A: Automaton>(
    a: &A,
    hay: &[u8],
    on_match: &mut impl FnMut(usize, usize, usize),
) {
    let Ok(start) = a.start_state(Anchored::No) else {
        return;
    };
    let mut sid = start;
    let mut at = 0;
    // (pattern, end) of the longest match seen since the last restart.
    let mut pending: Option<(usize, usize)> = None;
    while at < hay.len() {
        sid = a.next_state(Anchored::No, sid, hay[at]);
        at += 1;
        if !a.is_special(sid) {
            continue;
        }
        if a.is_dead(sid) {
            if let Some((pid, end)) = pending.take() {
                let len = a.pattern_len(aho_corasick::PatternID::new_unchecked(pid));
                on_match(pid, end - len, end);
                at = end;
            }
            sid = start;
        } else if a.is_match(sid) {
            pending = Some((a.match_pattern(sid, 0).as_usize(), at));
        }
    }
    if let Some((pid, end)) = pending {
        let len = a.pattern_len(aho_corasick::PatternID::new_unchecked(pid));
        on_match(pid, end - len, end);
    }
}

/// ASCII letters and digits at a term's edge need a word boundary in the text (so `ABC`
/// does not match inside `ABCD`); CJK characters never do: Chinese has no spaces.
#[inline]
fn boundaries_ok(text: &[u8], start: usize, end: usize) -> bool {
    let edge_word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let left_ok = !edge_word(text[start]) || start == 0 || !edge_word(text[start - 1]);
    let right_ok = !edge_word(text[end - 1]) || end == text.len() || !edge_word(text[end]);
    left_ok && right_ok
}

impl Detector for DictionaryDetector {
    fn name(&self) -> &'static str {
        "dictionary"
    }

    fn detect(&self, part: &PartView<'_>, out: &mut Vec<Finding>) {
        let Some(automaton) = &self.automaton else {
            return;
        };
        let text = part.norm.text.as_str();
        // ASCII lowercasing keeps every byte offset, so matches map back unchanged.
        let folded: Cow<'_, str> = if self.fold_case && text.bytes().any(|c| c.is_ascii_uppercase())
        {
            Cow::Owned(text.to_ascii_lowercase())
        } else {
            Cow::Borrowed(text)
        };
        // One finding per distinct term in the part (first occurrence, with the count):
        // a common term in a long document is one line of a report, not thousands, and
        // building a finding per occurrence would dominate the scan time.
        let mut hits: Vec<(usize, u32, usize, usize)> = Vec::new(); // (term, count, start, end)
        SLOTS.with_borrow_mut(|slot| {
            // term → 1 + index into `hits` (0: not seen in this part). Kept per thread and
            // cleared only where touched, so a small part costs nothing per term.
            if slot.len() < self.terms.len() {
                slot.resize(self.terms.len(), 0);
            }
            let mut on_match = |id: usize, start: usize, end: usize| {
                if self.edged[id] && !boundaries_ok(text.as_bytes(), start, end) {
                    return;
                }
                match slot[id] {
                    0 => {
                        hits.push((id, 1, start, end));
                        slot[id] = hits.len() as u32;
                    }
                    i => hits[i as usize - 1].1 += 1,
                }
            };
            match automaton {
                Matcher::Dfa(a) => leftmost_longest(a, folded.as_bytes(), &mut on_match),
                Matcher::Nfa(a) => leftmost_longest(a, folded.as_bytes(), &mut on_match),
                Matcher::Charwise(a) => {
                    for m in a.leftmost_find_iter(folded.as_ref()) {
                        on_match(m.value() as usize, m.start(), m.end());
                    }
                }
            }
            for &(id, ..) in &hits {
                slot[id] = 0;
            }
        });
        for (id, count, s, e) in hits {
            let term = &self.terms[id];
            let (start, end) = part.norm.original_range(s, e);
            if part.original.get(start..end).is_none() {
                continue;
            }
            let reason = if count > 1 {
                format!("{} ×{count}", self.reasons[id])
            } else {
                self.reasons[id].clone()
            };
            let mut finding = Finding::at(
                FindingKind::Keyword,
                part.path,
                part.original,
                (start, end),
                1.0,
                reason,
            )
            .with_value(term.term.clone());
            finding.rule = Some(term.category.clone());
            finding.weight = term.weight * f64::from(count);
            finding.count = count;
            out.push(finding);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PartRole;

    /// (term, count, span) of each finding, sorted.
    type Hits = Vec<(String, u32, Option<(usize, usize)>)>;

    fn findings(backend: Backend, terms: &str, text: &str) -> Hits {
        let normalizer = Normalizer::new();
        let dictionary = Dictionary::parse("t", terms, &normalizer).unwrap();
        let detector = DictionaryDetector::try_with_backend(vec![dictionary], backend).unwrap();
        let norm = normalizer.normalize(text);
        let part = PartView {
            path: "a.txt",
            role: PartRole::Body,
            original: text,
            norm: &norm,
            first_line: 1,
        };
        let mut out = Vec::new();
        detector.detect(&part, &mut out);
        let mut got: Vec<_> = out
            .into_iter()
            .map(|f| (f.value.unwrap_or_default(), f.count, f.span))
            .collect();
        got.sort();
        got
    }

    #[test]
    fn every_backend_finds_the_same_terms() {
        // Overlapping terms (leftmost-longest), ASCII needing word boundaries, case folding,
        // Traditional and full-width forms in the text, a term at the very end.
        let terms = "涉密\n涉密载体\n载体管理\n密码\nVPN\nabc\n核心技术\n技术\n";
        let text = "涉密载体管理规定：涉密人员不得使用vpn或ＶＰＮ翻墙，abcd不算，ABC算。\n\
                    核心技術資料與密碼本屬於涉密載體。最后一个词是技术";
        let reference = findings(Backend::AhoCorasick, terms, text);
        assert!(
            reference.iter().any(|(v, n, _)| v == "涉密载体" && *n == 2),
            "{reference:?}"
        );
        assert!(
            reference.iter().any(|(v, n, _)| v == "VPN" && *n == 2),
            "{reference:?}"
        );
        assert!(
            reference.iter().any(|(v, n, _)| v == "abc" && *n == 1),
            "{reference:?}"
        );
        assert!(
            !reference.iter().any(|(v, ..)| v == "载体管理"),
            "{reference:?}"
        );
        for backend in [Backend::AhoCorasickNfa, Backend::Daachorse] {
            assert_eq!(findings(backend, terms, text), reference, "{backend:?}");
        }
    }

    #[test]
    fn every_backend_agrees_on_generated_prose() {
        // A few thousand random two-to-four character terms over a pool of common
        // characters, against text drawn from the same pool: dense, overlapping matches.
        let pool: Vec<char> = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研质".chars().collect();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut terms = String::new();
        for _ in 0..3000 {
            let len = 2 + next(3);
            terms.extend((0..len).map(|_| pool[next(pool.len())]));
            terms.push('\n');
        }
        let text: String = (0..60_000)
            .map(|i| {
                if i % 97 == 96 {
                    '\n'
                } else {
                    pool[next(pool.len())]
                }
            })
            .collect();
        let reference = findings(Backend::AhoCorasick, &terms, &text);
        assert!(reference.len() > 100, "{}", reference.len());
        for backend in [Backend::AhoCorasickNfa, Backend::Daachorse] {
            assert_eq!(findings(backend, &terms, &text), reference, "{backend:?}");
        }
    }
}
