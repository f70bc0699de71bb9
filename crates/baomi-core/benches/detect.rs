//! Detector throughput on ≥ 10 MB of generated Chinese official prose.
//!
//! `cargo bench -p baomi-core --bench detect`
//!
//! The text and the 10,000-term dictionary come from the same deterministic generator as
//! `bench/gen_text.py` (same SplitMix64 stream over `bench/prose.txt`), so the text here is a
//! prefix of the corpus `bench/compare.sh` scans and the term list is identical to its
//! `terms.txt`. Keep the two generators in step.
//!
//! Groups (throughput in bytes of original text):
//! - `normalise`: `Normalizer::normalize` over every document;
//! - `detect_all`: normalise, then marking, personal-data and dictionary detectors.

use std::collections::{BTreeMap, HashSet};
use std::hint::black_box;
use std::time::Duration;

use baomi_core::PartRole;
use baomi_core::detect::dictionary::{Backend, Dictionary, DictionaryDetector};
use baomi_core::detect::marking::MarkingDetector;
use baomi_core::detect::pii::PiiDetector;
use baomi_core::detect::{Detector, PartView};
use baomi_core::normalise::Normalizer;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const PROSE: &str = include_str!("../../../bench/prose.txt");
const TEXT_SEED: u64 = 0x9704_2012;
const TERMS_SEED: u64 = 0xB40_3141;
const TERMS_FROM_TEXT: usize = 500;
const TERM_COUNT: usize = 10_000;
/// At least this many bytes of text (decimal megabytes, as gen_text.py counts).
const TEXT_BYTES: usize = 10_000_000;

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK_CHARS: &[u8; 11] = b"10X98765432";
const ID_REGIONS: [&str; 8] = [
    "110105", "310104", "440106", "330106", "510107", "420106", "370102", "610113",
];
const MOBILE_PREFIXES: [&str; 8] = ["138", "139", "150", "151", "186", "187", "135", "177"];

/// SplitMix64, as in gen_text.py: the two must produce the same stream.
struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        // n is a small list length; the modulo bias is irrelevant for a benchmark.
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
}

/// `bench/prose.txt`: `## section` headers, `#` comments, one entry per other line.
fn load_prose() -> BTreeMap<&'static str, Vec<&'static str>> {
    let mut sections: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut current: Option<&str> = None;
    for line in PROSE.lines() {
        if let Some(name) = line.strip_prefix("## ") {
            current = Some(name.trim());
            sections.entry(name.trim()).or_default();
        } else if line.starts_with('#') || line.trim().is_empty() {
            continue;
        } else {
            let section = current.expect("prose.txt: entry before the first section");
            sections.entry(section).or_default().push(line);
        }
    }
    sections
}

fn section<'a>(
    prose: &'a BTreeMap<&'static str, Vec<&'static str>>,
    name: &str,
) -> &'a [&'static str] {
    match prose.get(name) {
        Some(entries) if !entries.is_empty() => entries,
        _ => panic!("prose.txt: section {name:?} missing or empty"),
    }
}

fn resident_id(rng: &mut SplitMix64) -> String {
    let region = rng.pick(&ID_REGIONS);
    let year = 1950 + rng.below(55);
    let month = 1 + rng.below(12);
    let day = 1 + rng.below(28);
    let sequence = rng.below(1000);
    let first17 = format!("{region}{year:04}{month:02}{day:02}{sequence:03}");
    let total: u32 = first17
        .bytes()
        .zip(ID_WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    let check = char::from(ID_CHECK_CHARS[(total % 11) as usize]);
    format!("{first17}{check}")
}

fn mobile(rng: &mut SplitMix64) -> String {
    let prefix = rng.pick(&MOBILE_PREFIXES);
    format!("{prefix}{:08}", rng.below(100_000_000))
}

/// Documents in gen_text.py's order until at least `min_bytes` of text.
fn documents(prose: &BTreeMap<&'static str, Vec<&'static str>>, min_bytes: usize) -> Vec<String> {
    let titles = section(prose, "titles");
    let body = section(prose, "body");
    let traditional = section(prose, "traditional");
    let markings = section(prose, "markings");
    let given = section(prose, "given");
    let surnames: Vec<char> = section(prose, "surnames")[0].chars().collect();

    let mut rng = SplitMix64::new(TEXT_SEED);
    let mut documents = Vec::new();
    let mut total = 0;
    while total < min_bytes {
        let mut lines: Vec<String> = vec![format!("{:06}", rng.below(1_000_000))];
        if rng.below(100) < 5 {
            lines.push(rng.pick(markings).to_owned());
        }
        lines.push(rng.pick(titles).to_owned());
        for _ in 0..20 + rng.below(40) {
            let source = if rng.below(100) < 10 {
                traditional
            } else {
                body
            };
            let mut paragraph = rng.pick(source).to_owned();
            let extra = rng.below(100);
            if extra < 3 {
                let surname = surnames[rng.below(surnames.len())];
                let name = format!("{surname}{}", rng.pick(given));
                let id = resident_id(&mut rng);
                let phone = mobile(&mut rng);
                paragraph.push_str(&format!("联系人：{name}，身份证号{id}，手机{phone}。"));
            } else if extra < 6 {
                paragraph.push_str(&format!("联系电话：{}。", mobile(&mut rng)));
            }
            lines.push(paragraph);
        }
        let mut document = lines.join("\n");
        document.push('\n');
        total += document.len();
        documents.push(document);
    }
    documents
}

fn is_ideograph(ch: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&ch)
}

/// The 10,000-term list of gen_text.py: 500 words cut from the prose, the rest random.
fn terms(prose: &BTreeMap<&'static str, Vec<&'static str>>, count: usize) -> Vec<String> {
    let body = section(prose, "body");
    let pool: Vec<char> = section(prose, "pool")[0].chars().collect();
    let mut rng = SplitMix64::new(TERMS_SEED);
    let mut chosen = Vec::with_capacity(count);
    let mut seen = HashSet::new();

    let mut attempts = 0;
    while chosen.len() < TERMS_FROM_TEXT.min(count) && attempts < 100_000 {
        attempts += 1;
        let chars: Vec<char> = rng.pick(body).chars().collect();
        let length = 2 + rng.below(5);
        let start = rng.below(chars.len().saturating_sub(length).max(1));
        let term: String = chars.iter().skip(start).take(length).collect();
        if term.chars().count() == length
            && term.chars().all(is_ideograph)
            && seen.insert(term.clone())
        {
            chosen.push(term);
        }
    }
    while chosen.len() < count {
        let length = 2 + rng.below(5);
        let term: String = (0..length).map(|_| pool[rng.below(pool.len())]).collect();
        if seen.insert(term.clone()) {
            chosen.push(term);
        }
    }
    chosen
}

/// `BAOMI_BENCH_DUMP=DIR` writes the bench's text and terms, to check them against
/// `gen_text.py` output (`cmp DIR/text.txt <(cat OUT/doc-*.txt | head -c N)`).
fn dump(dir: &std::path::Path, documents: &[String], term_list: &[String]) {
    let write = |name: &str, content: String| {
        let path = dir.join(name);
        if let Err(error) = std::fs::write(&path, content) {
            panic!("cannot write {}: {error}", path.display());
        }
    };
    write("text.txt", documents.concat());
    write(
        "terms.txt",
        term_list.iter().map(|t| format!("{t}\n")).collect(),
    );
}

fn benches(c: &mut Criterion) {
    let prose = load_prose();
    let documents = documents(&prose, TEXT_BYTES);
    let total_bytes: usize = documents.iter().map(String::len).sum();
    let term_list = terms(&prose, TERM_COUNT);
    assert_eq!(term_list.len(), TERM_COUNT, "term generator fell short");
    if let Some(dir) = std::env::var_os("BAOMI_BENCH_DUMP") {
        dump(std::path::Path::new(&dir), &documents, &term_list);
    }

    let normalizer = Normalizer::new();
    let dictionary = Dictionary::parse("bench-10k", &(term_list.join("\n") + "\n"), &normalizer)
        .expect("the generated term list parses");
    let detectors: Vec<Box<dyn Detector>> = vec![
        Box::new(MarkingDetector::new()),
        Box::new(PiiDetector::new()),
        Box::new(DictionaryDetector::new(vec![dictionary])),
    ];
    eprintln!(
        "detect bench: {} documents, {:.1} MB, {} terms, detectors: {}",
        documents.len(),
        total_bytes as f64 / 1e6,
        term_list.len(),
        detectors
            .iter()
            .map(|d| d.name())
            .collect::<Vec<_>>()
            .join(", ")
    );

    let mut group = c.benchmark_group("normalise");
    group.throughput(Throughput::Bytes(total_bytes as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("official_prose_10MB", |b| {
        b.iter(|| {
            for document in &documents {
                black_box(normalizer.normalize(black_box(document)));
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("detect_all");
    group.throughput(Throughput::Bytes(total_bytes as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("official_prose_10MB_10k_terms", |b| {
        let mut findings = Vec::new();
        b.iter(|| {
            findings.clear();
            for (index, document) in documents.iter().enumerate() {
                let norm = normalizer.normalize(document);
                let path = format!("doc-{index:05}.txt");
                let part = PartView {
                    path: &path,
                    role: PartRole::Body,
                    original: document,
                    norm: &norm,
                    first_line: 1,
                };
                for detector in &detectors {
                    detector.detect(&part, &mut findings);
                }
            }
            black_box(findings.len())
        })
    });
    group.finish();

    // Each detector alone over already-normalised text: where the time of detect_all goes.
    let normalised: Vec<_> = documents.iter().map(|d| normalizer.normalize(d)).collect();
    let mut group = c.benchmark_group("detector");
    group.throughput(Throughput::Bytes(total_bytes as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for detector in &detectors {
        group.bench_function(detector.name(), |b| {
            let mut findings = Vec::new();
            b.iter(|| {
                findings.clear();
                for (document, norm) in documents.iter().zip(&normalised) {
                    let part = PartView {
                        path: "doc.txt",
                        role: PartRole::Body,
                        original: document,
                        norm,
                        first_line: 1,
                    };
                    detector.detect(&part, &mut findings);
                }
                black_box(findings.len())
            })
        });
    }
    group.finish();

    // The dictionary on each automaton, 10k and 100k terms (the 100k list extends the 10k
    // one with more random terms from the same pool): same findings, different speed.
    let mut group = c.benchmark_group("dictionary_backend");
    group.throughput(Throughput::Bytes(total_bytes as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    for count in [TERM_COUNT, 10 * TERM_COUNT] {
        let list = terms(&prose, count);
        for backend in [
            Backend::AhoCorasick,
            Backend::AhoCorasickNfa,
            Backend::Daachorse,
        ] {
            let dictionary = Dictionary::parse("bench", &(list.join("\n") + "\n"), &normalizer)
                .expect("the generated term list parses");
            let built = std::time::Instant::now();
            let detector = DictionaryDetector::try_with_backend(vec![dictionary], backend)
                .expect("the automaton builds");
            eprintln!(
                "{count} terms, {backend:?}: built in {:?}, {:.1} MB",
                built.elapsed(),
                detector.automaton_bytes() as f64 / 1e6
            );
            group.bench_function(format!("{count}_terms/{backend:?}"), |b| {
                let mut findings = Vec::new();
                b.iter(|| {
                    findings.clear();
                    for (document, norm) in documents.iter().zip(&normalised) {
                        let part = PartView {
                            path: "doc.txt",
                            role: PartRole::Body,
                            original: document,
                            norm,
                            first_line: 1,
                        };
                        detector.detect(&part, &mut findings);
                    }
                    black_box(findings.len())
                })
            });
        }
    }
    group.finish();
}

criterion_group!(detect, benches);
criterion_main!(detect);
