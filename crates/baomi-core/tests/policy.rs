//! Policy: the shipped default on synthetic findings, thresholds, filters, errors; custom
//! regex rules.
use baomi_core::detect::regex_rule::RegexDetector;
use baomi_core::detect::{Detector, PartView};
use baomi_core::normalise::Normalizer;
use baomi_core::policy::{DEFAULT_POLICY_TOML, Policy};
use baomi_core::{Action, Channel, Finding, FindingKind, Level, PartRole, Severity, Verdict};

fn finding(kind: FindingKind, value: &str) -> Finding {
    Finding::at(kind, "doc.txt", value, (0, value.len()), 0.95, "test").with_value(value)
}

fn marking(level: Level, confidence: f32) -> Finding {
    let mut f = Finding::at(
        FindingKind::Marking,
        "doc.txt",
        level.zh(),
        (0, level.zh().len()),
        confidence,
        "test",
    )
    .with_level(level);
    f.value = None;
    f
}

fn keyword(term: &str, weight: f64, category: &str) -> Finding {
    let mut f = finding(FindingKind::Keyword, term);
    f.weight = weight;
    f.rule = Some(category.to_owned());
    f
}

fn many(kind: FindingKind, count: usize) -> Vec<Finding> {
    (0..count)
        .map(|i| finding(kind, &format!("{:011}", 13_800_000_000u64 + i as u64)))
        .collect()
}

fn eval(findings: &[Finding]) -> Verdict {
    Policy::default().evaluate(findings, Channel::Scan)
}

#[test]
fn default_policy_is_the_shipped_file() {
    let p = Policy::default();
    assert_eq!(
        p.rules.len(),
        Policy::from_toml(DEFAULT_POLICY_TOML).unwrap().rules.len()
    );
    assert!(p.rules.len() >= 14);
    assert_eq!(p.rule_names()[0], "state-secret-marking-high");
    assert_eq!(p.rule_names().len(), p.rules.len());
    assert!(p.regex.is_empty());
    assert_eq!(p.alert_threshold(), Action::Alert);
    assert_eq!(eval(&[]), Verdict::default());
}

#[test]
fn state_secret_markings_block() {
    for (level, severity, rule) in [
        (
            Level::TopSecret,
            Severity::Critical,
            "state-secret-marking-high",
        ),
        (
            Level::Secret,
            Severity::Critical,
            "state-secret-marking-high",
        ),
        (Level::Confidential, Severity::High, "state-secret-marking"),
    ] {
        let v = eval(&[marking(level, 0.9)]);
        assert_eq!(v.action, Action::Block, "{level}");
        assert_eq!(v.severity, severity, "{level}");
        assert_eq!(v.rules[0], rule, "{level}");
    }
    // A doubtful marking (a mention in prose) is not enough.
    assert_eq!(
        eval(&[marking(Level::TopSecret, 0.3)]).action,
        Action::Allow
    );
}

#[test]
fn other_markings_alert() {
    for level in [
        Level::CommercialSecret,
        Level::WorkSecret,
        Level::Internal,
        Level::Sensitive,
    ] {
        let v = eval(&[marking(level, 0.9)]);
        assert_eq!(v.action, Action::Alert, "{level}");
        assert_eq!(v.rules, vec!["restricted-marking".to_owned()], "{level}");
    }
}

#[test]
fn personal_data_counts_distinct_values() {
    let ids = many(FindingKind::ResidentId, 10);
    let v = eval(&ids[..9]);
    assert_eq!(v.action, Action::Audit);
    assert_eq!(v.rules, vec!["personal-data".to_owned()]);
    let v = eval(&ids);
    assert_eq!(v.action, Action::Block);
    assert_eq!(v.severity, Severity::High);
    assert_eq!(
        v.rules,
        vec!["bulk-personal-data".to_owned(), "personal-data".to_owned()]
    );
    // Ten findings but only five distinct IDs: counted once each.
    let repeated: Vec<Finding> = ids[..5].iter().chain(&ids[..5]).cloned().collect();
    assert_eq!(eval(&repeated).action, Action::Audit);
    // IDs and bank cards add up.
    let mut mixed = many(FindingKind::ResidentId, 5);
    mixed.extend(many(FindingKind::BankCard, 5));
    assert_eq!(eval(&mixed).action, Action::Block);
    // Weak findings (below 0.5) are not counted.
    let weak: Vec<Finding> = ids
        .iter()
        .cloned()
        .map(|mut f| {
            f.confidence = 0.3;
            f
        })
        .collect();
    assert_eq!(eval(&weak).action, Action::Allow);
}

#[test]
fn phone_numbers_alert_in_bulk_only() {
    let mut phones = many(FindingKind::Mobile, 49);
    assert_eq!(eval(&phones).action, Action::Allow);
    phones.push(finding(FindingKind::Phone, "010-62345678"));
    let v = eval(&phones);
    assert_eq!(v.action, Action::Alert);
    assert_eq!(v.rules, vec!["bulk-phone-numbers".to_owned()]);
}

#[test]
fn structural_findings() {
    for (kind, action) in [
        (FindingKind::Encrypted, Action::Alert),
        (FindingKind::Limit, Action::Alert),
        (FindingKind::TypeMismatch, Action::Alert),
        (FindingKind::Unreadable, Action::Audit),
    ] {
        let f = Finding::structural(kind, "a.zip", "test");
        assert_eq!(eval(&[f]).action, action, "{kind}");
    }
}

#[test]
fn keyword_scores() {
    assert_eq!(eval(&[keyword("导弹", 0.5, "军工")]).action, Action::Allow);
    let v = eval(&[keyword("导弹", 1.0, "军工")]);
    assert_eq!(v.action, Action::Audit);
    assert_eq!(v.rules, vec!["keywords".to_owned()]);
    // 4 + 4 + 2 = 10: every occurrence counts toward the score.
    let v = eval(&[
        keyword("导弹", 4.0, "军工"),
        keyword("导弹", 4.0, "军工"),
        keyword("卫星", 2.0, "军工"),
    ]);
    assert_eq!(v.action, Action::Alert);
    assert_eq!(
        v.rules,
        vec!["keywords-high".to_owned(), "keywords".to_owned()]
    );
}

#[test]
fn fingerprint_and_regex() {
    let mut fp = finding(FindingKind::Fingerprint, "doc-1").with_level(Level::Secret);
    fp.weight = 150.0;
    let v = eval(&[fp.clone()]);
    assert_eq!((v.action, v.severity), (Action::Block, Severity::Critical));
    fp.weight = 60.0;
    assert_eq!(eval(&[fp]).action, Action::Alert);
    assert_eq!(
        eval(&[finding(FindingKind::Regex, "XM-2024-AB")]).action,
        Action::Alert
    );
}

#[test]
fn verdict_is_strongest_rule_first() {
    let mut findings = vec![
        Finding::structural(FindingKind::Unreadable, "x", "t"),
        marking(Level::Internal, 0.9),
        marking(Level::Secret, 0.9),
    ];
    findings.extend(many(FindingKind::ResidentId, 3));
    let v = eval(&findings);
    assert_eq!(v.action, Action::Block);
    assert_eq!(v.severity, Severity::Critical);
    assert_eq!(
        v.rules,
        vec![
            "state-secret-marking-high",
            "state-secret-marking",
            "restricted-marking",
            "personal-data",
            "unreadable",
        ]
    );
}

const CUSTOM: &str = r#"
alert_at = "block"

[[rule]]
name = "mail-only"
kinds = ["pii.email"]
channels = ["mail"]
action = "quarantine"
severity = "medium"

[[rule]]
name = "export-control"
kinds = ["keyword"]
categories = ["出口管制"]
min_confidence = 0.9
action = "block"
severity = "high"

[[regex]]
name = "project-codename"
pattern = 'XM-\d{4}-[A-Z]{2}'
level = "internal"
confidence = 0.9
"#;

#[test]
fn channel_and_category_filters() {
    let p = Policy::from_toml(CUSTOM).unwrap();
    assert_eq!(p.alert_threshold(), Action::Block);
    let mail = [finding(FindingKind::Email, "a@example.com")];
    assert_eq!(p.evaluate(&mail, Channel::Scan).action, Action::Allow);
    assert_eq!(p.evaluate(&mail, Channel::Web).action, Action::Allow);
    assert_eq!(p.evaluate(&mail, Channel::Mail).action, Action::Quarantine);

    let other = [keyword("光刻机", 5.0, "其他")];
    assert_eq!(p.evaluate(&other, Channel::Api).action, Action::Allow);
    let listed = [keyword("光刻机", 5.0, "出口管制")];
    assert_eq!(p.evaluate(&listed, Channel::Api).action, Action::Block);
    let mut unsure = listed[0].clone();
    unsure.confidence = 0.5;
    assert_eq!(p.evaluate(&[unsure], Channel::Api).action, Action::Allow);
}

#[test]
fn regex_rules_find_and_name_matches() {
    let p = Policy::from_toml(CUSTOM).unwrap();
    assert_eq!(p.regex.len(), 1);
    let detector = RegexDetector::new(&p.regex).unwrap();
    let text = "项目 XM-2024-AB 与 XM-2025-CD 的进度";
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
    let texts: Vec<&str> = out.iter().map(|f| f.text.as_str()).collect();
    assert_eq!(texts, vec!["XM-2024-AB", "XM-2025-CD"]);
    assert!(out.iter().all(|f| f.kind == FindingKind::Regex
        && f.rule.as_deref() == Some("project-codename")
        && f.level == Some(Level::Internal)
        && f.confidence == 0.9));
    let (s, e) = out[1].span.unwrap();
    assert_eq!(&text[s..e], "XM-2025-CD");
}

#[test]
fn bad_policies_are_clear_errors() {
    let rule = |body: &str| format!("[[rule]]\nname = \"r\"\nkinds = [\"marking\"]\n{body}");
    for (toml, expect) in [
        (rule("action = \"block\"\ncolour = \"red\""), "colour"),
        (rule("action = \"deny\""), "deny"),
        (rule("action = \"block\"\nseverity = \"huge\""), "huge"),
        (
            rule("action = \"block\"\nmin_level = \"classified\""),
            "classified",
        ),
        (rule("action = \"block\"\nchannels = [\"fax\"]"), "fax"),
        (
            rule("action = \"block\"\nmin_confidence = 1.5"),
            "min_confidence",
        ),
        (rule(""), "action"),
        (
            "[[rule]]\nname = \"r\"\nkinds = [\"pii.ssn\"]\naction = \"block\"".to_owned(),
            "pii.ssn",
        ),
        (
            "[[rule]]\nname = \"r\"\nkinds = []\naction = \"block\"".to_owned(),
            "kinds",
        ),
        (
            format!(
                "{}\n{}",
                rule("action = \"block\""),
                rule("action = \"audit\"")
            ),
            "twice",
        ),
        ("alert_at = \"loud\"".to_owned(), "loud"),
        ("unknown_top = 1".to_owned(), "unknown_top"),
        ("[[rule]\nname=".to_owned(), "TOML parse error"),
        (
            "[[regex]]\nname = \"bad\"\npattern = 'a(b'".to_owned(),
            "bad",
        ),
        (
            "[[regex]]\nname = \"k\"\npattern = 'ab'\nkind = \"pii.ssn\"".to_owned(),
            "unknown kind",
        ),
        (
            "[[regex]]\nname = \"k\"\npattern = 'ab'\nflags = \"i\"".to_owned(),
            "flags",
        ),
    ] {
        match Policy::from_toml(&toml) {
            Ok(_) => panic!("accepted:\n{toml}"),
            Err(e) => assert!(e.contains(expect), "error for\n{toml}\nwas: {e}"),
        }
    }
}

#[test]
fn huge_regex_is_refused() {
    // Size limits: a pattern whose compiled program is enormous is an error, not an OOM.
    let toml = "[[regex]]\nname = \"huge\"\npattern = '\\w{1000}\\w{1000}\\w{1000}'\n";
    let err = Policy::from_toml(toml).unwrap_err();
    assert!(err.contains("huge"), "{err}");
}
