//! Registered-document fingerprints: edited excerpts are found, unrelated official prose and
//! boilerplate never match, bytes round-trip, the detector reports what the contract says.
use std::sync::Arc;

use baomi_core::detect::fingerprint::FingerprintDetector;
use baomi_core::detect::{Detector, PartView};
use baomi_core::fingerprint::{
    AllowSet, Canonical, DocBuilder, FingerprintIndex, K, MIN_REPORT_CHARS, RegisteredDoc,
};
use baomi_core::normalise::Normalizer;
use baomi_core::policy::Policy;
use baomi_core::{Action, Channel, Finding, FindingKind, Level, PartRole};

const REGISTERED: &str = include_str!("fingerprint/registered.txt");
const ORDINARY: &str = include_str!("fingerprint/ordinary.txt");

struct Doc {
    id: String,
    title: String,
    level: Level,
    text: String,
}

fn registered_docs() -> Vec<Doc> {
    REGISTERED
        .split('@')
        .filter(|s| !s.trim().is_empty())
        .map(|block| {
            let (head, text) = block.split_once('\n').unwrap();
            let f: Vec<&str> = head.split('|').collect();
            Doc {
                id: f[0].into(),
                title: f[1].into(),
                level: Level::parse(f[2]).unwrap(),
                text: text.into(),
            }
        })
        .collect()
}

fn ordinary_docs() -> Vec<String> {
    ORDINARY
        .split('@')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.to_owned())
        .collect()
}

fn canon(text: &str) -> Canonical {
    Canonical::of(&Normalizer::new().normalize(text).text)
}

fn register(doc: &Doc) -> RegisteredDoc {
    let mut b = DocBuilder::new();
    b.add_part(&canon(&doc.text));
    b.finish(&doc.id, &doc.title, doc.level)
}

fn index_with(allow: &AllowSet) -> Arc<FingerprintIndex> {
    Arc::new(FingerprintIndex::build(
        registered_docs().iter().map(register),
        allow,
    ))
}

fn detect(index: &Arc<FingerprintIndex>, text: &str) -> Vec<Finding> {
    let norm = Normalizer::new().normalize(text);
    let part = PartView {
        path: "scan.txt",
        role: PartRole::Body,
        original: text,
        norm: &norm,
        first_line: 1,
    };
    let mut out = Vec::new();
    FingerprintDetector::new(Arc::clone(index)).detect(&part, &mut out);
    out
}

/// SplitMix64: a seeded, dependency-free RNG so every run makes the same trials.
struct Rng(u64);
impl Rng {
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
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// Simplified → Traditional for characters of the test documents (the scan side converts
/// back with the engine's normaliser).
const S2T: &[(char, char)] = &[
    ('关', '關'),
    ('于', '於'),
    ('导', '導'),
    ('弹', '彈'),
    ('试', '試'),
    ('验', '驗'),
    ('务', '務'),
    ('署', '署'),
    ('通', '通'),
    ('单', '單'),
    ('据', '據'),
    ('总', '總'),
    ('划', '劃'),
    ('织', '織'),
    ('发', '發'),
    ('射', '射'),
    ('证', '證'),
    ('飞', '飛'),
    ('机', '機'),
    ('动', '動'),
    ('电', '電'),
    ('环', '環'),
    ('导', '導'),
    ('头', '頭'),
    ('扰', '擾'),
    ('能', '能'),
    ('进', '進'),
    ('点', '點'),
    ('鉴', '鑑'),
    ('挥', '揮'),
    ('测', '測'),
    ('站', '站'),
    ('负', '負'),
    ('责', '責'),
    ('现', '現'),
    ('调', '調'),
    ('须', '須'),
    ('设', '設'),
    ('备', '備'),
    ('联', '聯'),
    ('报', '報'),
    ('态', '態'),
    ('检', '檢'),
    ('查', '查'),
    ('队', '隊'),
    ('营', '營'),
    ('车', '車'),
    ('间', '間'),
    ('实', '實'),
    ('线', '線'),
    ('结', '結'),
    ('达', '達'),
    ('数', '數'),
    ('传', '傳'),
    ('输', '輸'),
    ('专', '專'),
    ('盘', '盤'),
    ('记', '記'),
    ('编', '編'),
    ('号', '號'),
    ('档', '檔'),
    ('复', '複'),
    ('围', '圍'),
    ('无', '無'),
    ('静', '靜'),
    ('协', '協'),
    ('门', '門'),
    ('严', '嚴'),
    ('识', '識'),
    ('级', '級'),
    ('对', '對'),
    ('为', '為'),
    ('练', '練'),
    ('国', '國'),
    ('边', '邊'),
    ('区', '區'),
    ('恐', '恐'),
    ('动', '動'),
    ('经', '經'),
    ('决', '決'),
    ('厅', '廳'),
    ('会', '會'),
    ('总', '總'),
    ('县', '縣'),
    ('开', '開'),
    ('为', '為'),
    ('阶', '階'),
    ('段', '段'),
    ('报', '報'),
    ('员', '員'),
    ('两', '兩'),
    ('建', '建'),
    ('团', '團'),
    ('伙', '夥'),
    ('时', '時'),
    ('统', '統'),
    ('渡', '渡'),
    ('逻', '邏'),
    ('侦', '偵'),
    ('络', '絡'),
    ('组', '組'),
    ('长', '長'),
    ('参', '參'),
    ('战', '戰'),
    ('讯', '訊'),
    ('软', '軟'),
    ('违', '違'),
    ('规', '規'),
    ('责', '責'),
    ('护', '護'),
    ('调', '調'),
    ('况', '況'),
    ('局', '局'),
    ('处', '處'),
    ('厂', '廠'),
    ('储', '儲'),
    ('级', '級'),
    ('装', '裝'),
    ('样', '樣'),
    ('枢', '樞'),
    ('楼', '樓'),
    ('频', '頻'),
    ('环', '環'),
    ('节', '節'),
    ('视', '視'),
    ('题', '題'),
    ('预', '預'),
    ('项', '項'),
    ('财', '財'),
    ('费', '費'),
    ('制', '制'),
    ('业', '業'),
    ('资', '資'),
    ('亏', '虧'),
    ('损', '損'),
    ('产', '產'),
    ('职', '職'),
    ('债', '債'),
    ('权', '權'),
    ('让', '讓'),
    ('价', '價'),
    ('岗', '崗'),
    ('劳', '勞'),
    ('济', '濟'),
    ('补', '補'),
    ('偿', '償'),
    ('准', '準'),
    ('执', '執'),
    ('议', '議'),
    ('审', '審'),
    ('评', '評'),
    ('估', '估'),
    ('变', '變'),
    ('记', '記'),
];

const RANDOM_CJK: &str = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理府研";

/// The trial text: an excerpt of `len` characters of `doc` with light edits, reformatted
/// (spaces, punctuation, line breaks), partly in Traditional characters, between two
/// unrelated paragraphs.
fn edited_excerpt(rng: &mut Rng, doc: &str, len: usize, before: &str, after: &str) -> String {
    let chars: Vec<char> = doc.chars().filter(|c| !c.is_whitespace()).collect();
    let start = rng.below(chars.len() - len);
    let mut excerpt: Vec<char> = chars[start..start + len].to_vec();
    let pool: Vec<char> = RANDOM_CJK.chars().collect();
    // Three changed characters per hundred: substitutions, deletions and insertions.
    let edits = (len * 3).div_ceil(100);
    for _ in 0..edits {
        let at = rng.below(excerpt.len());
        match rng.below(5) {
            0 => {
                excerpt.remove(at);
            }
            1 => excerpt.insert(at, pool[rng.below(pool.len())]),
            _ => excerpt[at] = pool[rng.below(pool.len())],
        }
    }
    let mut out = String::from(before);
    out.push('\n');
    for c in excerpt {
        let c = if rng.chance(0.3) {
            S2T.iter().find(|(s, _)| *s == c).map_or(c, |&(_, t)| t)
        } else {
            c
        };
        out.push(c);
        if rng.chance(0.08) {
            out.push_str([" ", "\n", "，", "　", "\r\n", "、", " - "][rng.below(7)]);
        }
    }
    out.push('\n');
    out.push_str(after);
    out
}

#[test]
fn edited_excerpts_are_found() {
    let index = index_with(&AllowSet::builtin());
    let docs = registered_docs();
    let ordinary = ordinary_docs();
    let mut rng = Rng(0x005E_C2E7);
    let trials = 600;
    let mut found = 0;
    let mut lengths = Vec::new();
    for _ in 0..trials {
        let doc = &docs[rng.below(docs.len())];
        let len = 100 + rng.below(101);
        let before = &ordinary[rng.below(ordinary.len())];
        let after = &ordinary[rng.below(ordinary.len())];
        let text = edited_excerpt(&mut rng, &doc.text, len, before, after);
        let findings = detect(&index, &text);
        if let Some(f) = findings
            .iter()
            .find(|f| f.value.as_deref() == Some(doc.id.as_str()))
        {
            found += 1;
            lengths.push(f.weight);
        }
        for f in &findings {
            assert_eq!(
                f.value.as_deref(),
                Some(doc.id.as_str()),
                "only the excerpted document may match: {f:?}"
            );
        }
    }
    let rate = found as f64 / trials as f64;
    let mean = lengths.iter().sum::<f64>() / lengths.len().max(1) as f64;
    println!(
        "edited excerpts (100–200 chars, 3 edits/100, reformatted, partly Traditional): \
         found {found}/{trials} = {:.1} %, mean matched {mean:.0} characters",
        rate * 100.0
    );
    assert!(rate >= 0.99, "found only {:.1} %", rate * 100.0);
}

#[test]
fn every_fifty_character_run_is_reported() {
    let index = index_with(&AllowSet::builtin());
    let ordinary = ordinary_docs();
    let mut runs = 0;
    for doc in registered_docs() {
        let chars: Vec<char> = canon(&doc.text).text().chars().collect();
        for start in (0..chars.len() - 50).step_by(3) {
            let run: String = chars[start..start + 50].iter().collect();
            let text = format!("{}\n{run}\n{}", ordinary[0], ordinary[1]);
            let findings = detect(&index, &text);
            assert!(
                findings
                    .iter()
                    .any(|f| f.value.as_deref() == Some(doc.id.as_str())
                        && f.weight >= MIN_REPORT_CHARS as f64),
                "50-character run at {start} of {} not reported: {run}",
                doc.id
            );
            runs += 1;
        }
    }
    println!("{runs} verbatim 50-character runs, all reported");
}

#[test]
fn unrelated_official_prose_never_matches() {
    let index = index_with(&AllowSet::builtin());
    let ordinary = ordinary_docs();
    for text in &ordinary {
        assert_eq!(detect(&index, text), vec![], "{text}");
    }
    let all = ordinary.join("\n");
    assert_eq!(detect(&index, &all), vec![]);
}

#[test]
fn boilerplate_in_the_allow_set_never_matches() {
    // A secret document that opens with a long stretch of formula language …
    let boiler = "以习近平新时代中国特色社会主义思想为指导，全面贯彻党的二十大和二十届二中、三中全会精神，\
                  深入贯彻落实习近平总书记重要讲话和重要指示批示精神，坚持稳中求进工作总基调，\
                  完整、准确、全面贯彻新发展理念，着力推动高质量发展。";
    let local = "全市各级机关单位要把防范化解重大风险摆在突出位置，统筹推进各项改革任务，切实维护社会大局稳定。";
    let secret = format!("{boiler}{local}{}", registered_docs()[0].text);
    let doc = Doc {
        id: "doc-boiler".into(),
        title: "t".into(),
        level: Level::Secret,
        text: secret,
    };
    let build = |allow: &AllowSet| Arc::new(FingerprintIndex::build([register(&doc)], allow));
    // Built-in phrases: the formula opening of an ordinary report never matches.
    let report = format!("关于全市经济运行情况的报告\n{boiler}\n今年以来全市经济总体平稳。");
    assert_eq!(detect(&build(&AllowSet::builtin()), &report), vec![]);
    // The same check fails without the allow set, so the test can fail.
    assert!(!detect(&build(&AllowSet::default()), &report).is_empty());

    // Learnt: a sentence two ordinary documents share is boilerplate; one only one ordinary
    // document has is not.
    let ordinary = ordinary_docs();
    let corpus = vec![
        format!("{}{local}", ordinary[0]),
        format!("{local}{}", ordinary[2]),
        ordinary[3].clone(),
    ];
    let learnt = AllowSet::learn(&corpus);
    assert!(learnt.len() > AllowSet::builtin().len());
    let scanned = format!("{}\n{local}\n{}", ordinary[4], ordinary[5]);
    assert!(!detect(&build(&AllowSet::builtin()), &scanned).is_empty());
    assert_eq!(detect(&build(&learnt), &scanned), vec![]);
    // The secret content itself still matches with the learnt set.
    let excerpt: String = registered_docs()[0]
        .text
        .chars()
        .skip(40)
        .take(120)
        .collect();
    assert!(!detect(&build(&learnt), &excerpt).is_empty());
    // And the allow set survives its bytes.
    assert_eq!(AllowSet::from_bytes(&learnt.to_bytes()).unwrap(), learnt);
}

#[test]
fn builtin_phrases_are_long_enough_to_count() {
    let text = include_str!("../src/fingerprint-allow.txt");
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        assert!(canon(line).len() >= K, "{line:?} is shorter than a k-gram");
    }
}

#[test]
fn findings_name_the_document_and_map_to_the_original_text() {
    let index = index_with(&AllowSet::builtin());
    let doc = &registered_docs()[1];
    let excerpt: String = doc.text.chars().skip(60).take(300).collect();
    let text = format!("{}\n{excerpt}\n{}", ordinary_docs()[1], ordinary_docs()[2]);
    let findings = detect(&index, &text);
    assert_eq!(findings.len(), 1, "{findings:?}");
    let f = &findings[0];
    assert_eq!(f.kind, FindingKind::Fingerprint);
    assert_eq!(f.level, Some(Level::Secret));
    assert_eq!(f.value.as_deref(), Some("doc-002"));
    assert!(
        f.reason.contains("边境地区联合反恐行动实施方案"),
        "{}",
        f.reason
    );
    assert!(f.reason.contains("doc-002"), "{}", f.reason);
    let (a, b) = f.span.unwrap();
    let quoted = &text[a..b];
    let canon_excerpt = canon(&excerpt).text();
    let canon_quoted = canon(quoted).text();
    // The longest passage is the excerpt, give or take the winnowing margin.
    assert!(
        canon_quoted.len().abs_diff(canon_excerpt.len()) <= 3 * 11 * 3,
        "{quoted}"
    );
    assert!(
        canon_excerpt.contains(&canon_quoted[..30]) || canon_quoted.contains(&canon_excerpt[..30])
    );
    assert!(
        f.weight >= 0.9 * canon_excerpt.chars().count() as f64,
        "matched {} of {}",
        f.weight,
        canon_excerpt.chars().count()
    );
    assert!(f.confidence > 0.9);
    let coverage = f.coverage.unwrap();
    let doc_chars = canon(&doc.text).len() as f32;
    assert!(
        (coverage - f.weight as f32 / doc_chars).abs() < 0.1,
        "{coverage}"
    );
    // Default policy: a 秘密-or-above document, ≥ 100 characters: block.
    let v = Policy::default().evaluate(&findings, Channel::Mail);
    assert_eq!(v.action, Action::Block);
}

#[test]
fn policy_thresholds_for_fingerprints() {
    let fp = |level: Level, chars: f64, coverage: f32, id: &str| {
        let mut f = Finding::structural(FindingKind::Fingerprint, "p", "r")
            .with_level(level)
            .with_value(id);
        f.weight = chars;
        f.coverage = Some(coverage);
        f
    };
    let policy = Policy::default();
    let act = |fs: &[Finding]| policy.evaluate(fs, Channel::Web).action;
    assert_eq!(act(&[fp(Level::Secret, 60.0, 0.02, "a")]), Action::Alert);
    assert_eq!(act(&[fp(Level::Secret, 120.0, 0.02, "a")]), Action::Block);
    assert_eq!(
        act(&[fp(Level::Confidential, 70.0, 0.12, "a")]),
        Action::Block
    );
    // Two parts of one object with 60 characters each: 120 together.
    assert_eq!(
        act(&[
            fp(Level::Secret, 60.0, 0.03, "a"),
            fp(Level::Secret, 60.0, 0.03, "a")
        ]),
        Action::Block
    );
    // Coverage adds up per document, not across documents.
    assert_eq!(
        act(&[
            fp(Level::Confidential, 50.0, 0.06, "a"),
            fp(Level::Confidential, 45.0, 0.06, "b")
        ]),
        Action::Alert
    );
    assert_eq!(
        act(&[
            fp(Level::Confidential, 50.0, 0.06, "a"),
            fp(Level::Confidential, 45.0, 0.06, "a")
        ]),
        Action::Block
    );
    // Below 秘密 (a registered 工作秘密 document): alert however much matches.
    assert_eq!(
        act(&[fp(Level::WorkSecret, 900.0, 1.0, "a")]),
        Action::Alert
    );
    assert!(
        Policy::from_toml(
            "[[rule]]\nname='x'\nkinds=['fingerprint']\nmin_coverage=1.5\naction='block'"
        )
        .is_err()
    );
}

#[test]
fn registered_documents_round_trip_and_exact_parts_match() {
    let docs: Vec<RegisteredDoc> = registered_docs().iter().map(register).collect();
    for d in &docs {
        let bytes = d.to_bytes();
        assert_eq!(&RegisteredDoc::from_bytes(&bytes).unwrap(), d);
        // Compact: 12 bytes per print plus a little.
        assert!(
            bytes.len() < d.prints.len() * 12 + 200,
            "{} bytes",
            bytes.len()
        );
        assert!(!d.exact.is_empty());
    }
    let mut wrong = docs[0].to_bytes();
    wrong[5] = 7; // k
    let err = RegisteredDoc::from_bytes(&wrong).unwrap_err();
    assert!(err.to_string().contains("register again"), "{err}");

    // The whole text of a registered part, reflowed: an identical part.
    let index = index_with(&AllowSet::builtin());
    let doc = &registered_docs()[2];
    let reflowed: String = doc
        .text
        .chars()
        .flat_map(|c| {
            if c == '。' {
                vec!['。', '\n']
            } else {
                vec![c]
            }
        })
        .collect();
    let findings = detect(&index, &reflowed);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(
        findings[0].reason.starts_with("identical part"),
        "{}",
        findings[0].reason
    );
    assert_eq!(findings[0].coverage, Some(1.0));
    assert_eq!(findings[0].level, Some(Level::Confidential));
}

#[test]
fn garbage_and_tiny_input_give_nothing() {
    let index = index_with(&AllowSet::builtin());
    for text in ["", "★★★", "短", &"\u{0}".repeat(1000), &"的".repeat(10_000)] {
        assert_eq!(detect(&index, text), vec![]);
    }
    let empty = Arc::new(FingerprintIndex::build(Vec::new(), &AllowSet::default()));
    assert!(detect(&empty, &registered_docs()[0].text).is_empty());
}
