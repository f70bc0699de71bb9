//! The OCR **tuning** set: generated photographed pages (see `ocr_pages/mod.rs`), half of them
//! marked with every period form, half unmarked prose that mentions levels and years. This is
//! the set the marking repair (`formats/ocr_marking.rs`) may be tuned on; its figures are not
//! the ones reported: those come from the held-out set (`ocr_heldout.rs`), which has other
//! seeds and other fonts and is never used to tune.
//!
//! Slow (a Tesseract run per page), so ignored by default. Run it in release:
//! `OMP_THREAD_LIMIT=1 cargo test --release -p baomi-extract --features ocr --test ocr_trials -- --ignored --nocapture`
//! `OCR_TRIALS_PAGES=N` makes a smaller set, `OCR_TRIALS_KEEP=<dir>` keeps the images,
//! `OCR_TRIALS_WORKERS=N` reads with N threads (default 2).
#![cfg(feature = "ocr")]

mod common;
mod ocr_pages;

use ocr_pages::{SetSpec, run_set};

/// The tuning set: its own seed, Noto Sans only (the held-out set has none of these fonts).
fn tuning_set(pages: usize) -> SetSpec {
    SetSpec {
        seed: 0x005E_C2E7_2026,
        simplified_fonts: &["Noto Sans CJK SC", "Noto Sans Mono CJK SC"],
        traditional_fonts: &["Noto Sans CJK TC"],
        pages,
        unmarked_every: 2,
        dpi: (100, 200),
        jpeg_quality: (40, 80),
        max_rotation: 5.0,
        max_perspective: 0.02,
        min_light: 0.6,
    }
}

#[test]
#[ignore = "slow: a Tesseract run per generated page; run in release with --ignored"]
fn tuning_set_markings_are_found_and_prose_is_not_marked() {
    let pages = std::env::var("OCR_TRIALS_PAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(60);
    let outcome = run_set("tuning set", &tuning_set(pages));
    assert_eq!(
        outcome.false_markings, 0,
        "false markings on unmarked pages"
    );
    assert!(
        outcome.recall() >= 0.97,
        "marking found on {:.1} % of marked pages, need 97 %",
        outcome.recall() * 100.0
    );
}
