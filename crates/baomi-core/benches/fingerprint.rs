//! Registered-document fingerprints: lookup throughput against registries of 100, 1,000 and
//! 10,000 documents, and the time to load 10,000 documents from their bytes and build the
//! index.
//!
//! `cargo bench -p baomi-core --bench fingerprint -- fingerprint`
//!
//! Registered documents are synthetic: ~10,000 characters drawn at random from the CJK block
//! (so their k-grams are distinct and the index holds all of them, the worst case for size).
//! The scanned text is ~1 MB of official prose from `bench/prose.txt` with a 300-character
//! excerpt of a registered document every ~20 KB, so lookups mostly miss, as in real traffic,
//! and matching is exercised too. Throughput counts bytes of scanned (normalised) text and
//! includes canonicalisation, winnowing, lookups and chaining.

use std::hint::black_box;
use std::time::{Duration, Instant};

use baomi_core::Level;
use baomi_core::fingerprint::{AllowSet, Canonical, DocBuilder, FingerprintIndex, RegisteredDoc};
use baomi_core::normalise::Normalizer;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const PROSE: &str = include_str!("../../../bench/prose.txt");
const DOC_CHARS: usize = 10_000;
const SCAN_BYTES: usize = 1_000_000;

struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn doc_text(seed: u64) -> String {
    let mut rng = SplitMix64(seed);
    (0..DOC_CHARS)
        .map(|i| {
            if i % 37 == 36 {
                '。'
            } else {
                char::from_u32(0x4E00 + rng.below(0x51A5) as u32).unwrap()
            }
        })
        .collect()
}

fn register(i: usize, text: &str) -> RegisteredDoc {
    let mut b = DocBuilder::new();
    b.add_part(&Canonical::of(text));
    b.finish(
        &format!("doc-{i}"),
        &format!("synthetic {i}"),
        Level::Secret,
    )
}

fn scanned_text(registered: &[String]) -> String {
    let lines: Vec<&str> = PROSE
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    let mut rng = SplitMix64(0xF1_2024);
    let mut text = String::new();
    let mut next_excerpt = 20_000;
    while text.len() < SCAN_BYTES {
        text.push_str(lines[rng.below(lines.len())]);
        text.push('\n');
        if text.len() > next_excerpt {
            let doc = &registered[rng.below(registered.len())];
            let start = rng.below(DOC_CHARS - 300);
            text.extend(doc.chars().skip(start).take(300));
            text.push('\n');
            next_excerpt += 20_000;
        }
    }
    text
}

fn benches(c: &mut Criterion) {
    let normalizer = Normalizer::new();
    let allow = AllowSet::builtin();
    let texts: Vec<String> = (0..10_000u64).map(|i| doc_text(i + 1)).collect();
    let started = Instant::now();
    let docs: Vec<RegisteredDoc> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| register(i, t))
        .collect();
    let bytes: Vec<Vec<u8>> = docs.iter().map(RegisteredDoc::to_bytes).collect();
    eprintln!(
        "fingerprint bench: 10,000 documents of {DOC_CHARS} characters fingerprinted in {:.1} s, \
         {:.0} MB as bytes",
        started.elapsed().as_secs_f64(),
        bytes.iter().map(Vec::len).sum::<usize>() as f64 / 1e6
    );

    let mut group = c.benchmark_group("fingerprint");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for n in [100usize, 1_000, 10_000] {
        let index = FingerprintIndex::build(docs[..n].iter().cloned(), &allow);
        let scanned = normalizer.normalize(&scanned_text(&texts[..n])).text;
        let found = index.find(&Canonical::of(&scanned)).len();
        eprintln!(
            "fingerprint bench: {n} documents, {} postings, index {:.0} MB, {found} documents \
             found in {:.1} MB scanned",
            index.posting_count(),
            index.heap_bytes() as f64 / 1e6,
            scanned.len() as f64 / 1e6
        );
        group.throughput(Throughput::Bytes(scanned.len() as u64));
        group.bench_function(format!("lookup_{n}_docs"), |b| {
            b.iter(|| black_box(index.find(&Canonical::of(black_box(&scanned)))).len())
        });
    }
    group.throughput(Throughput::Elements(bytes.len() as u64));
    group.bench_function("load_and_build_10000_docs", |b| {
        b.iter(|| {
            let docs = bytes
                .iter()
                .map(|b| RegisteredDoc::from_bytes(b).expect("valid bytes"));
            black_box(FingerprintIndex::build(docs, &allow)).posting_count()
        })
    });
    group.finish();
}

criterion_group!(fingerprint, benches);
criterion_main!(fingerprint);
