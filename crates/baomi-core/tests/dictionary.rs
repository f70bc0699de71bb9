//! Dictionaries: file format, normalisation of terms, matching, load time of large lists.
use std::time::Instant;

use baomi_core::detect::dictionary::{Dictionary, DictionaryDetector};
use baomi_core::detect::{Detector, PartView};
use baomi_core::normalise::Normalizer;
use baomi_core::{Finding, FindingKind, PartRole};

fn detect(detector: &DictionaryDetector, text: &str) -> Vec<Finding> {
    let norm = Normalizer::new().normalize(text);
    let part = PartView {
        path: "doc.txt",
        role: PartRole::Body,
        original: text,
        norm: &norm,
        first_line: 1,
    };
    let mut out = Vec::new();
    detector.detect(&part, &mut out);
    out
}

fn parse(name: &str, content: &str) -> Result<Dictionary, String> {
    Dictionary::parse(name, content, &Normalizer::new())
}

/// `count` distinct CJK terms of 2–6 characters from a fixed linear congruential generator.
fn generated_terms(count: usize) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as u32
    };
    let mut terms = Vec::with_capacity(count);
    while terms.len() < count {
        let len = 2 + next() % 5;
        let term: String = (0..len)
            .map(|_| char::from_u32(0x4E00 + next() % 0x51A5).unwrap())
            .collect();
        if seen.insert(term.clone()) {
            terms.push(term);
        }
    }
    terms
}

#[test]
fn file_format() {
    let content = "\u{feff}# 涉密项目代号\n\n导弹\t5\t军工\r\n卫星\t2.5\n  \n# comment\n光刻机\n导弹\t3\t其他\n";
    let d = parse("tech", content).unwrap();
    assert_eq!(d.name, "tech");
    let terms: Vec<(&str, f64, &str)> = d
        .terms
        .iter()
        .map(|t| (t.term.as_str(), t.weight, t.category.as_str()))
        .collect();
    assert_eq!(
        terms,
        vec![
            ("导弹", 5.0, "军工"),
            ("卫星", 2.5, "tech"),
            ("光刻机", 1.0, "tech"),
        ]
    );
    // A duplicate with a higher weight wins, with its category.
    let d = parse("x", "密码\t1\n密码\t4\tcrypto\n").unwrap();
    assert_eq!(d.terms.len(), 1);
    assert_eq!(d.terms[0].weight, 4.0);
    assert_eq!(d.terms[0].category, "crypto");
}

#[test]
fn bad_weight_is_an_error_with_line_number() {
    let err = parse("x", "# header\n导弹\t5\n卫星\theavy\n").unwrap_err();
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("heavy"), "{err}");
    assert!(parse("x", "导弹\t-1\n").unwrap_err().contains("line 1"));
    assert!(parse("x", "导弹\tNaN\n").is_err());
    assert!(
        parse("x", "导弹\t1\ta\tb\n")
            .unwrap_err()
            .contains("line 1")
    );
}

#[test]
fn matches_carry_weight_category_and_value() {
    let a = parse("军工", "导弹\t5\n核潜艇\t8\t舰艇\n").unwrap();
    let b = parse("商业", "报价单\t2\n").unwrap();
    let detector = DictionaryDetector::new(vec![a, b]);
    let text = "关于核潜艇与导弹的报价单";
    let f = detect(&detector, text);
    let got: Vec<(&str, f64, Option<&str>, Option<&str>)> = f
        .iter()
        .map(|f| {
            (
                f.text.as_str(),
                f.weight,
                f.rule.as_deref(),
                f.value.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("核潜艇", 8.0, Some("舰艇"), Some("核潜艇")),
            ("导弹", 5.0, Some("军工"), Some("导弹")),
            ("报价单", 2.0, Some("商业"), Some("报价单")),
        ]
    );
    assert!(f.iter().all(|f| f.kind == FindingKind::Keyword));
    let (s, e) = f[1].span.unwrap();
    assert_eq!(&text[s..e], "导弹");
}

#[test]
fn longest_term_wins() {
    let d = parse("x", "秘密\n国家秘密\t3\n").unwrap();
    let detector = DictionaryDetector::new(vec![d]);
    let f = detect(&detector, "属于国家秘密");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].text, "国家秘密");
    assert_eq!(f[0].weight, 3.0);
}

#[test]
fn ascii_terms_are_case_insensitive_with_word_boundaries() {
    let d = parse("en", "Top Secret\nABC\n").unwrap();
    let detector = DictionaryDetector::new(vec![d]);
    let f = detect(&detector, "marked TOP SECRET here");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].text, "TOP SECRET");
    assert!(detect(&detector, "ABCD and XABC").is_empty());
    let f = detect(&detector, "abc, 项目abc启动");
    assert_eq!(
        (f.len(), f[0].count),
        (1, 2),
        "one finding per term, with its count: {f:?}"
    );
}

#[test]
fn cjk_terms_need_no_boundaries() {
    let d = parse("x", "机密\n").unwrap();
    let detector = DictionaryDetector::new(vec![d]);
    let f = detect(&detector, "这是机密文件机密");
    assert_eq!((f.len(), f[0].count), (1, 2), "{f:?}");
}

#[test]
fn occurrences_are_counted_and_weighted_once_per_term_and_part() {
    let d = parse(
        "x",
        "涉密	2
载体
",
    )
    .unwrap();
    let detector = DictionaryDetector::new(vec![d]);
    let f = detect(&detector, "涉密载体，涉密人员，涉密网络");
    assert_eq!(f.len(), 2, "{f:?}");
    let sheme = f.iter().find(|f| f.text == "涉密").unwrap();
    assert_eq!(sheme.count, 3);
    assert_eq!(sheme.weight, 6.0, "the score counts every occurrence");
    assert_eq!(
        sheme.span,
        Some((0, "涉密".len())),
        "located at the first occurrence"
    );
    assert!(sheme.reason.ends_with("×3"), "{}", sheme.reason);
}

#[test]
fn traditional_term_matches_simplified_text() {
    let d = parse("x", "機密文件\t7\n").unwrap();
    assert_eq!(d.terms[0].term, "机密文件");
    let detector = DictionaryDetector::new(vec![d]);
    let f = detect(&detector, "附件为机密文件");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].weight, 7.0);
    // And the other way round: a Simplified term finds Traditional text.
    let detector = DictionaryDetector::new(vec![parse("x", "机密文件\n").unwrap()]);
    let f = detect(&detector, "附件為機密文件");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].text, "機密文件");
}

#[test]
fn hundred_thousand_terms_load_quickly() {
    let terms = generated_terms(100_000);
    let content: String = terms
        .iter()
        .enumerate()
        .map(|(i, t)| format!("{t}\t{}\n", 1 + i % 5))
        .collect();
    let start = Instant::now();
    let d = parse("big", &content).unwrap();
    let parsed = start.elapsed();
    let detector = DictionaryDetector::new(vec![d]);
    let total = start.elapsed();
    eprintln!(
        "100k terms ({} bytes): parse {parsed:?}, parse + automaton {total:?} ({} build)",
        content.len(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    // Terms that normalise to the same text (a Traditional and a Simplified spelling) merge.
    let normalizer = Normalizer::new();
    let normalised: Vec<String> = terms.iter().map(|t| normalizer.normalize(t).text).collect();
    let distinct: std::collections::HashSet<&String> = normalised.iter().collect();
    assert_eq!(detector.term_count(), distinct.len());
    // The brief's bar is 1 s in release; the unoptimised test build gets more room.
    let limit = if cfg!(debug_assertions) { 10.0 } else { 1.0 };
    assert!(total.as_secs_f64() < limit, "{total:?}");
    // Every term is findable: spot-check a few.
    for (t, n) in terms.iter().zip(&normalised).step_by(9_973) {
        let f = detect(&detector, &format!("前文{t}后文"));
        assert!(f.iter().any(|f| f.value.as_ref() == Some(n)), "{t}");
    }
}

/// Measurement behind the choice of automaton kind (run with `--ignored --nocapture` in
/// release): scan speed of a DFA vs the default contiguous NFA over 10k and 100k terms.
#[test]
#[ignore = "measurement, not a check"]
fn measure_dfa_vs_nfa() {
    use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
    let prose = "根据工作安排，现将有关事项通知如下，请各单位认真贯彻落实，确保按期完成任务。";
    let text = prose.repeat(10_000_000 / prose.len());
    for count in [10_000, 100_000] {
        let terms = generated_terms(count);
        let kinds = [
            Some(AhoCorasickKind::DFA),
            Some(AhoCorasickKind::ContiguousNFA),
            Some(AhoCorasickKind::NoncontiguousNFA),
        ];
        for (kind, prefilter) in kinds.into_iter().flat_map(|k| [(k, true), (k, false)]) {
            if count > 20_000 && kind == Some(AhoCorasickKind::DFA) {
                continue;
            }
            let start = Instant::now();
            let Ok(ac) = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .prefilter(prefilter)
                .kind(kind)
                .build(&terms)
            else {
                eprintln!("{count} terms {kind:?}: build failed");
                continue;
            };
            let built = start.elapsed();
            let start = Instant::now();
            let n = ac.find_iter(&text).count();
            let scanned = start.elapsed();
            eprintln!(
                "{count} terms {kind:?} prefilter {prefilter}: build {built:?}, {} MB scanned in {scanned:?} ({n} matches), heap {} KB",
                text.len() / 1_000_000,
                ac.memory_usage() / 1024
            );
        }
    }
}
