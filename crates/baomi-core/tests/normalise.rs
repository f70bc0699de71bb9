//! Normalisation: what the text becomes, and that every span maps back to exactly the original
//! characters it came from.

use baomi_core::normalise::{Normalizer, table_build_time};
use std::time::Instant;

fn norm(s: &str) -> String {
    Normalizer::new().normalize(s).text
}

#[test]
fn text_is_normalised() {
    let cases: &[(&str, &str)] = &[
        // Traditional → Simplified, single characters.
        ("絕密", "绝密"),
        ("機密★十年", "机密★十年"),
        ("秘密", "秘密"),
        ("國家祕密", "国家秘密"),
        // Full-width letters, digits, punctuation → ASCII (NFKC).
        ("ＴＯＰ　ＳＥＣＲＥＴ", "TOP SECRET"),
        ("密级：机密★１０年", "密级:机密★10年"),
        ("机密＊5年", "机密*5年"),
        ("㈠总体要求", "(一)总体要求"),
        ("⑴第一条", "(1)第一条"),
        // Kangxi radicals are compatibility forms of ideographs.
        ("\u{2F9E}\u{2F49}", "车月"),
        // Zero-width and other invisible characters disappear.
        ("机\u{200B}密", "机密"),
        ("机\u{FEFF}密\u{200D}★\u{2060}1\u{00AD}年", "机密★1年"),
        ("秘\u{202E}密", "秘密"),
        ("⭐\u{FE0F}", "⭐"),
        // Spaces between/next to CJK or stars disappear, others collapse to one.
        ("机 密 ★ 5 年", "机密★5年"),
        ("机\u{3000}密\u{00A0}★\t5\u{2003}年", "机密★5年"),
        ("   秘密   ", "秘密"),
        ("TOP  \t SECRET", "TOP SECRET"),
        ("Rust 实现 fast", "Rust实现fast"),
        ("a \u{200B} b", "a b"),
        // Lines are kept; other line breaks become \n.
        ("秘密\n机密\r\n绝密", "秘密\n机密\r\n绝密"),
        ("秘密\u{2028}机密\u{000C}绝密", "秘密\n机密\n绝密"),
        ("第一页\n \n第二页", "第一页\n\n第二页"),
        // Case is kept.
        ("Confidential", "Confidential"),
        ("  TOP SECRET  \n  x y  ", "TOP SECRET\nx y"),
        ("", ""),
    ];
    for (input, expected) in cases {
        assert_eq!(&norm(input), expected, "normalising {input:?}");
    }
}

/// Find `needle` in the normalised text and return the original text it maps back to.
fn original_of(input: &str, needle: &str) -> String {
    let n = Normalizer::new().normalize(input);
    let start = n
        .text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in {:?}", n.text));
    let (s, e) = n.original_range(start, start + needle.len());
    input[s..e].to_owned()
}

#[test]
fn spans_map_to_exact_original_characters() {
    let cases: &[(&str, &str, &str)] = &[
        // (original, match in normalised text, expected original text of the match)
        ("前言 机 密 ★ 5 年 后记", "机密★5年", "机 密 ★ 5 年"),
        ("前言 機密★５年 后记", "机密★5年", "機密★５年"),
        ("xx 絕\u{200B}密 yy", "绝密", "絕\u{200B}密"),
        ("密级：  秘密", "密级:秘密", "密级：  秘密"),
        ("密级：  秘密", "秘密", "秘密"),
        ("密级：  秘密", "密级:", "密级："),
        (
            "（一）　ＴＯＰ　ＳＥＣＲＥＴ　",
            "TOP SECRET",
            "ＴＯＰ　ＳＥＣＲＥＴ",
        ),
        ("见㈠条", "(一)", "㈠"),
        ("见㈠条", "见(", "见㈠"),
        ("见㈠条", "一", "㈠"),
        ("见㈠条", ")条", "㈠条"),
        ("ａ，，ｂ", ",", "，"),
        ("ａ，，ｂ", ",,b", "，，ｂ"),
        ("abc  def", "c d", "c  d"),
        ("plain ascii text", "ascii", "ascii"),
        ("尾部\u{200B}", "尾部", "尾部"),
        ("\u{FEFF}秘密", "秘密", "秘密"),
        ("机\u{1D400}密", "机A密", "机\u{1D400}密"),
        ("𠀀秘密", "秘密", "秘密"),
    ];
    for (input, needle, expected) in cases {
        assert_eq!(
            &original_of(input, needle),
            expected,
            "span of {needle:?} in {input:?}"
        );
    }
}

#[test]
fn every_span_lands_on_character_boundaries() {
    let inputs = [
        "机 密 ★ 5 年\n（一）ＴＯＰ　ＳＥＣＲＥＴ\u{200B}\u{FEFF} ㈠㈡ ①② 絕密 機密 ﬁle …",
        "　　关于做好保密工作的通知\r\n密 级：秘 密\u{3000}\u{3000}\n\u{2028}x  y\t\tz 𝐀𝐁 😀",
    ];
    for input in inputs {
        let n = Normalizer::new().normalize(input);
        let bounds: Vec<usize> = n
            .text
            .char_indices()
            .map(|(i, _)| i)
            .chain([n.text.len()])
            .collect();
        for (a, &s) in bounds.iter().enumerate() {
            for &e in &bounds[a..] {
                let (os, oe) = n.original_range(s, e);
                assert!(os <= oe && oe <= input.len(), "{s}..{e} → {os}..{oe}");
                assert!(
                    input.is_char_boundary(os) && input.is_char_boundary(oe),
                    "{s}..{e} → {os}..{oe} not on char boundaries of {input:?}"
                );
                if s < e {
                    assert!(os < oe, "non-empty {s}..{e} mapped to empty {os}..{oe}");
                }
            }
        }
        // The whole text maps to the original, minus removed characters at the edges.
        let (os, oe) = n.original_range(0, n.text.len());
        assert!(os <= 6 && oe + 6 >= input.len());
    }
}

#[test]
fn table_builds_quickly() {
    let _ = Normalizer::new();
    let t = table_build_time();
    eprintln!(
        "normalisation table build time: {:.1} ms",
        t.as_secs_f64() * 1e3
    );
    // Generous bound for debug builds; release builds take a few tens of milliseconds.
    let limit_ms = if cfg!(debug_assertions) {
        3000.0
    } else {
        100.0
    };
    assert!(t.as_secs_f64() * 1e3 < limit_ms, "table build took {t:?}");
}

/// Throughput over ~10 MB of Chinese prose (about 1 MB in debug builds). Run with
/// `cargo test --release -p baomi-core --test normalise -- --nocapture throughput`.
#[test]
fn throughput() {
    let mut corpus = String::new();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/prose");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("prose corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    for f in files {
        corpus.push_str(&std::fs::read_to_string(f).expect("read prose"));
    }
    assert!(corpus.len() > 10_000);
    let target = if cfg!(debug_assertions) {
        1 << 20
    } else {
        10 << 20
    };
    let mut text = String::with_capacity(target + corpus.len());
    while text.len() < target {
        text.push_str(&corpus);
    }
    let normalizer = Normalizer::new();
    // Normalise in parts of ~64 KiB, as the engine sees them.
    let chunks: Vec<&str> = text.split_inclusive("\n\n").collect();
    let started = Instant::now();
    let mut out_bytes = 0;
    for _ in 0..3 {
        for chunk in &chunks {
            out_bytes += normalizer.normalize(chunk).text.len();
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let mb_s = 3.0 * text.len() as f64 / secs / 1e6;
    eprintln!(
        "normalise: {:.1} MB x3 in {:.3} s = {:.0} MB/s ({} parts)",
        text.len() as f64 / 1e6,
        secs,
        mb_s,
        chunks.len()
    );
    assert!(out_bytes > 0);
    let whole = normalizer.normalize(&text);
    eprintln!(
        "offset map: {} checkpoints for {} bytes",
        whole.checkpoint_count(),
        text.len()
    );
}

/// Pseudo-random mixes of the characters normalisation changes: every normalised range maps
/// to a range of the original on character boundaries, in order, and a non-empty range maps
/// to a non-empty one.
#[test]
fn random_inputs_map_to_boundaries() {
    let tokens: &[&str] = &[
        "机",
        "密",
        "絕",
        "★",
        " ",
        "  ",
        "\t",
        "\u{3000}",
        "\u{00A0}",
        "\u{200B}",
        "\u{FEFF}",
        "\u{00AD}",
        "\n",
        "\r\n",
        "\u{2028}",
        "\u{000C}",
        "Ａ",
        "a",
        "1",
        "１",
        "，",
        ",",
        "㈠",
        "①",
        "ﬁ",
        "…",
        "𝐀",
        "😀",
        "𠀀",
        "⭐\u{FE0F}",
        "x y",
    ];
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let normalizer = Normalizer::new();
    for _ in 0..2000 {
        let len = (next() % 10) as usize;
        let input: String = (0..len)
            .map(|_| tokens[(next() % tokens.len() as u64) as usize])
            .collect();
        let n = normalizer.normalize(&input);
        // Normalising twice changes nothing: dictionary terms are normalised like the text.
        assert_eq!(
            normalizer.normalize(&n.text).text,
            n.text,
            "not idempotent on {input:?}"
        );
        let bounds: Vec<usize> = n
            .text
            .char_indices()
            .map(|(i, _)| i)
            .chain([n.text.len()])
            .collect();
        let mut last_start = 0;
        for (a, &s) in bounds.iter().enumerate() {
            let (os, _) = n.original_range(s, s);
            assert!(os >= last_start, "starts go backwards in {input:?}");
            last_start = os;
            for &e in &bounds[a..] {
                let (os, oe) = n.original_range(s, e);
                assert!(
                    os <= oe
                        && oe <= input.len()
                        && input.is_char_boundary(os)
                        && input.is_char_boundary(oe),
                    "{s}..{e} → {os}..{oe} in {input:?} → {:?}",
                    n.text
                );
                assert!(s == e || os < oe, "{s}..{e} → empty in {input:?}");
            }
        }
    }
}
