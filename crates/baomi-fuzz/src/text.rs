//! Targets on text: the policy and dictionary loaders (files an administrator uploads or
//! edits), and the normaliser with every detector and the decision on arbitrary strings.

use std::sync::{Arc, OnceLock};

use baomi_core::detect::dictionary::Dictionary;
use baomi_core::fingerprint::{AllowSet, Canonical, DocBuilder, FingerprintIndex};
use baomi_core::normalise::Normalizer;
use baomi_core::policy::Policy;
use baomi_core::{Channel, FindingKind, Level, Part, PartRole};
use baomi_engine::{Engine, EngineConfig};

/// What the engine of the `detect` target knows: a dictionary, a regex rule and one
/// registered document, so every detector runs.
const DICTIONARY: &str = "# 词条\t权重\t类别\n涉密人员\t2\t人员\n核心技术\t1\t技术\n作战计划\t3\n";
const POLICY: &str = r#"
[[regex]]
name = "项目代号"
pattern = "[A-Z]{2}-\\d{4}"
level = "internal"
"#;
const REGISTERED: &str = "关于加强涉密载体管理的通知\n各单位要严格执行涉密载体登记、签收、清退制度，\
    不得将涉密载体带出办公场所，不得在互联网计算机上处理涉密信息。";

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        let normalizer = Normalizer::new();
        let norm = normalizer.normalize(REGISTERED);
        let mut doc = DocBuilder::new();
        doc.add_part(&Canonical::of(&norm.text));
        let doc = doc.finish("REG-1", "关于加强涉密载体管理的通知", Level::Secret);
        let index = FingerprintIndex::build([doc], &AllowSet::default());
        Engine::new(EngineConfig {
            policy: Policy::from_toml(POLICY).expect("the target's policy"),
            dictionaries: vec![("fuzz".into(), DICTIONARY.into())],
            fingerprints: Some(Arc::new(index)),
            ..EngineConfig::default()
        })
        .expect("the target's engine")
    })
}

pub(crate) fn policy(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(policy) = Policy::from_toml(s) {
        let _ = policy.rule_names();
        let _ = policy.alert_threshold();
        // A policy that loads builds an engine (its regex rules compile) or says why not.
        let _ = Engine::new(EngineConfig {
            policy,
            ..EngineConfig::default()
        });
    }
}

pub(crate) fn dictionary(data: &[u8]) {
    let content = String::from_utf8_lossy(data);
    let normalizer = Normalizer::new();
    if let Ok(d) = Dictionary::parse("fuzz", &content, &normalizer) {
        for t in &d.terms {
            assert!(!t.term.is_empty(), "an empty term");
        }
        let _ = Engine::new(EngineConfig {
            dictionaries: vec![("fuzz".into(), content.into_owned())],
            ..EngineConfig::default()
        });
    }
}

const ROLES: [PartRole; 6] = [
    PartRole::Body,
    PartRole::HeaderFooter,
    PartRole::Name,
    PartRole::Subject,
    PartRole::Metadata,
    PartRole::Annotation,
];
const CHANNELS: [Channel; 8] = [
    Channel::Scan,
    Channel::Web,
    Channel::Mail,
    Channel::Api,
    Channel::Publish,
    Channel::Chat,
    Channel::Usb,
    Channel::Print,
];

/// The normaliser, every detector, line numbering, masking and the decision. The first
/// byte picks the part's role and first line (a later chunk of a long text has no head).
pub(crate) fn detect(data: &[u8]) {
    let (sel, rest) = match data.split_first() {
        Some((s, r)) => (*s, r),
        None => (0, data),
    };
    let text = String::from_utf8_lossy(rest).into_owned();
    let engine = engine();
    let norm = Normalizer::new().normalize(&text);
    assert!(
        norm.text.len() <= text.len() * 4 + 4,
        "normalised text grew from {} to {} bytes",
        text.len(),
        norm.text.len()
    );
    let part = Part {
        path: "fuzz.txt".into(),
        role: ROLES[sel as usize % ROLES.len()],
        text,
        first_line: if sel & 0x80 != 0 { 1000 } else { 1 },
    };
    let mut findings = Vec::new();
    engine.detect_part(&part, &mut findings);
    for f in &findings {
        if let Some((a, b)) = f.span {
            assert!(
                a <= b && b <= part.text.len(),
                "{:?} span {a}..{b} outside a {}-byte text",
                f.kind,
                part.text.len()
            );
            assert!(
                part.text.is_char_boundary(a) && part.text.is_char_boundary(b),
                "{:?} span {a}..{b} not on character boundaries",
                f.kind
            );
            let _ = baomi_core::mask::mask(f.kind, &part.text[a..b]);
        }
    }
    let _ = baomi_core::mask::mask(
        FindingKind::ALL[sel as usize % FindingKind::ALL.len()],
        &part.text,
    );
    let channel = CHANNELS[sel as usize % CHANNELS.len()];
    let verdict = engine.decide(&findings, channel);
    let _ = engine.alerts(&verdict);
}
