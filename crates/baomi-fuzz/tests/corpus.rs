//! Every fuzz target over its committed seeds (`fuzz/corpus/<target>/`) and the minimised
//! inputs of the crashes, hangs and out-of-memory cases fuzzing found
//! (`fuzz/regressions/<target>/`): what libFuzzer runs, without libFuzzer, on every
//! `cargo test`. A target fails by panicking (or, for a panic in Baomi's own code, by
//! aborting the test process with the panic's message).

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.is_file());
    files.sort();
    files
}

fn run_all(sub: &str) -> usize {
    let mut n = 0;
    for t in baomi_fuzz::TARGETS {
        for file in inputs(&fuzz_dir().join(sub).join(t.name)) {
            let data = std::fs::read(&file).unwrap();
            eprintln!("{} < {}", t.name, file.display());
            baomi_fuzz::run(t.name, &data);
            n += 1;
        }
    }
    n
}

#[test]
fn every_target_has_a_harness_and_seeds() {
    for t in baomi_fuzz::TARGETS {
        let harness = fuzz_dir()
            .join("fuzz_targets")
            .join(format!("{}.rs", t.name));
        let text = std::fs::read_to_string(&harness)
            .unwrap_or_else(|e| panic!("{}: {e}", harness.display()));
        assert!(
            text.contains(&format!("baomi_fuzz::run(\"{}\"", t.name)),
            "{} does not run target {}",
            harness.display(),
            t.name
        );
        let seeds = inputs(&fuzz_dir().join("corpus").join(t.name));
        assert!(!seeds.is_empty(), "no seeds for target {}", t.name);
    }
}

#[test]
fn seeds_pass_every_target() {
    assert!(run_all("corpus") >= baomi_fuzz::TARGETS.len());
}

#[test]
fn past_findings_stay_fixed() {
    // Zero is fine before the first finding; the directory exists from the start.
    assert!(fuzz_dir().join("regressions").is_dir());
    run_all("regressions");
}

/// The generated seeds are the ones committed (regenerate with
/// `cargo run -p baomi-fuzz --example seeds -- fuzz/corpus`).
#[test]
fn generated_seeds_are_committed() {
    for (target, name, bytes) in baomi_fuzz::seeds::generated() {
        let path = fuzz_dir().join("corpus").join(target).join(&name);
        let committed = std::fs::read(&path).unwrap_or_default();
        assert!(
            committed == bytes,
            "{} differs from its generator",
            path.display()
        );
    }
}

/// Small variations of every seed, the way a fuzzer starts: truncations and byte flips.
/// Deterministic, so a failure here reproduces.
#[test]
fn truncated_and_flipped_seeds() {
    for t in baomi_fuzz::TARGETS {
        if t.name == "image" || t.name == "walk" {
            continue; // OCR per variant is slow; the format targets cover their parsers.
        }
        for file in inputs(&fuzz_dir().join("corpus").join(t.name)) {
            let data = std::fs::read(&file).unwrap();
            let mut variants = vec![data[..data.len() / 2].to_vec()];
            let mut flipped = data.clone();
            let mut x: u32 = 0x9e37_79b9 ^ data.len() as u32;
            for _ in 0..8.min(flipped.len()) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let i = x as usize % flipped.len();
                flipped[i] ^= 1 << (x % 8);
            }
            variants.push(flipped);
            for v in variants {
                baomi_fuzz::run(t.name, &v);
            }
        }
    }
}
