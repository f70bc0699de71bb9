//! Dictionaries: user term lists matched with one Aho-Corasick automaton over all terms.
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
        let automaton = if terms.len() <= DFA_MAX_PATTERNS {
            dfa::DFA::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&patterns)
                .map(Matcher::Dfa)
                .or_else(|_| nfa())
        } else {
            nfa()
        }
        .map_err(|e| format!("{} terms: {e}", terms.len()))?;
        let reasons = terms
            .iter()
            .map(|t| format!("dictionary term ({})", t.category))
            .collect();
        Ok(DictionaryDetector {
            automaton: Some(automaton),
            terms,
            reasons,
            fold_case,
        })
    }

    pub fn term_count(&self) -> usize {
        self.terms.len()
    }
}

thread_local! {
    static SLOTS: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The automaton over all terms: a DFA for lists up to [`DFA_MAX_PATTERNS`], else the
/// contiguous NFA (smaller and quicker to build, somewhat slower to scan).
enum Matcher {
    Dfa(dfa::DFA),
    Nfa(contiguous::NFA),
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
                if !boundaries_ok(text.as_bytes(), start, end) {
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
