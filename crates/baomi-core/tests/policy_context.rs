//! Policy by person, department, group, destination, attachments and time; exceptions that
//! lower a verdict, each use named; the errors a unit's officer will make writing them.
use baomi_core::policy::{Attachment, Context, Policy};
use baomi_core::{Action, Channel, Finding, FindingKind, Level};

fn marking(level: Level) -> Finding {
    Finding::at(
        FindingKind::Marking,
        "notice.docx",
        level.zh(),
        (0, level.zh().len()),
        0.95,
        "test",
    )
    .with_level(level)
}

/// 2026-12-03 (a Thursday) 10:00 Beijing time.
const THU_10: i64 = 1_796_263_200;

const UNIT: &str = r#"
[hosts]
internal = ["unit.gov.cn", "10.0.0.0/8"]
superior = ["bureau.gov.cn"]

[[rule]]
name = "secret-marking"
kinds = ["marking"]
min_level = "confidential"
action = "block"
severity = "high"

[[rule]]
name = "marking-to-cloud-drive"
kinds = ["marking"]
min_level = "internal"
destinations = ["cloud_drives"]
action = "block"
severity = "high"

[[rule]]
name = "many-attachments-outside"
channels = ["mail"]
not_destinations = ["internal", "superior"]
min_attachments = 5
action = "alert"

[[rule]]
name = "encrypted-archive-after-hours"
channels = ["mail"]
attachment_types = ["archive"]
encrypted_attachment = true
hours = ["18:00-08:00"]
action = "alert"

[[rule]]
name = "weekend-uploads-by-finance"
channels = ["web"]
departments = ["市局/财务处"]
days = ["weekend"]
action = "audit"

[[exception]]
name = "bmb-to-bureau"
reason = "保密办向上级机关报送, 2026-11-20 王局长批准"
departments = ["市局/保密办"]
destinations = ["superior"]
channels = ["mail"]
rules = ["secret-marking"]
action = "audit"
expires = "2027-12-31"

[[exception]]
name = "old-project"
reason = "项目组临时报送, 已结束"
groups = ["项目组"]
expires = "2026-06-30"
"#;

fn ctx(channel: Channel) -> Context {
    Context {
        channel,
        at: Some(THU_10),
        ..Context::default()
    }
}

#[test]
fn an_exception_lowers_only_where_it_applies_and_is_named() {
    let p = Policy::from_toml(UNIT).unwrap();
    let secret = [marking(Level::Confidential)];

    // The secrecy office's sub-department mailing the bureau: recorded, not blocked.
    let mut c = ctx(Channel::Mail);
    c.department = Some("市局/保密办/机要科".into());
    c.destinations = vec!["chu@bureau.gov.cn".into()];
    let v = p.evaluate_in(&secret, &c);
    assert_eq!(v.action, Action::Audit);
    assert_eq!(v.exceptions, vec!["bmb-to-bureau".to_owned()]);
    assert_eq!(v.rules, vec!["secret-marking".to_owned()]);

    // The same office mailing a webmail address: blocked, no exception used.
    c.destinations = vec!["someone@qq.com".into()];
    let v = p.evaluate_in(&secret, &c);
    assert_eq!(v.action, Action::Block);
    assert!(v.exceptions.is_empty());

    // A clerk of another department to the bureau: blocked.
    c.department = Some("市局/办公室".into());
    c.destinations = vec!["chu@bureau.gov.cn".into()];
    assert_eq!(p.evaluate_in(&secret, &c).action, Action::Block);

    // Through the web door the exception (mail only) does not apply.
    let mut w = ctx(Channel::Web);
    w.department = Some("市局/保密办".into());
    w.destinations = vec!["POST https://bureau.gov.cn/upload".into()];
    assert_eq!(p.evaluate_in(&secret, &w).action, Action::Block);
}

#[test]
fn an_expired_exception_no_longer_applies_and_is_reported() {
    let p = Policy::from_toml(UNIT).unwrap();
    let mut c = ctx(Channel::Web);
    c.groups = vec!["项目组".into()];
    let why = p.explain(&[marking(Level::Secret)], &c);
    assert_eq!(why.verdict.action, Action::Block);
    assert!(why.verdict.exceptions.is_empty());
    assert_eq!(why.expired, vec!["old-project".to_owned()]);

    // On its last day it still applied.
    c.at = Some(THU_10 - 156 * 86_400); // 2026-06-30
    let why = p.explain(&[marking(Level::Secret)], &c);
    assert_eq!(why.verdict.action, Action::Audit);
    assert_eq!(why.verdict.exceptions, vec!["old-project".to_owned()]);
}

#[test]
fn destinations_decide_a_lower_marking() {
    let p = Policy::from_toml(UNIT).unwrap();
    let internal = [marking(Level::Internal)];
    let mut c = ctx(Channel::Web);
    c.destinations = vec!["PUT https://d.pcs.baidu.com/rest/2.0/pcs/file".into()];
    let v = p.evaluate_in(&internal, &c);
    assert_eq!(v.action, Action::Block);
    assert_eq!(v.rules, vec!["marking-to-cloud-drive".to_owned()]);
    c.destinations = vec!["POST https://oa.unit.gov.cn/upload".into()];
    assert_eq!(p.evaluate_in(&internal, &c).action, Action::Allow);
}

#[test]
fn rules_on_facts_alone_attachments_and_time() {
    let p = Policy::from_toml(UNIT).unwrap();
    let att = |t: &str, encrypted: bool| Attachment {
        name: format!("f.{t}"),
        true_type: t.into(),
        size: 1000,
        encrypted,
    };
    let mut c = ctx(Channel::Mail);
    c.destinations = vec!["a@unit.gov.cn".into(), "b@163.com".into()];
    c.attachments = (0..5).map(|_| att("docx", false)).collect();
    let v = p.evaluate_in(&[], &c);
    assert_eq!(v.action, Action::Alert);
    assert_eq!(v.rules, vec!["many-attachments-outside".to_owned()]);
    // All recipients inside (unit and superior): nothing.
    c.destinations = vec!["a@unit.gov.cn".into(), "b@bureau.gov.cn".into()];
    assert_eq!(p.evaluate_in(&[], &c).action, Action::Allow);

    // An encrypted 7z at 10:00 is fine by this rule; at 21:00 it alerts.
    c.attachments = vec![att("7z", true)];
    assert_eq!(p.evaluate_in(&[], &c).action, Action::Allow);
    c.at = Some(THU_10 + 11 * 3600);
    let v = p.evaluate_in(&[], &c);
    assert_eq!(v.rules, vec!["encrypted-archive-after-hours".to_owned()]);

    // Finance uploading on Saturday: recorded; on Thursday: nothing.
    let mut w = ctx(Channel::Web);
    w.department = Some("市局/财务处".into());
    assert_eq!(p.evaluate_in(&[], &w).action, Action::Allow);
    w.at = Some(THU_10 + 2 * 86_400);
    assert_eq!(p.evaluate_in(&[], &w).action, Action::Audit);
}

#[test]
fn the_old_channel_only_evaluation_is_unchanged() {
    let p = Policy::from_toml(UNIT).unwrap();
    let secret = [marking(Level::Confidential)];
    assert_eq!(p.evaluate(&secret, Channel::Mail).action, Action::Block);
    // Unknown destination: `not_destinations` rules apply (fail closed), but this one also
    // needs 5 attachments.
    assert_eq!(p.evaluate(&[], Channel::Mail).action, Action::Allow);
}

#[test]
fn mistakes_are_refused_with_the_rule_named() {
    let err = |toml: &str| Policy::from_toml(toml).unwrap_err();
    let e = err(
        "[[rule]]\nname = \"r\"\nkinds = [\"marking\"]\ndestination = [\"x.cn\"]\naction = \"block\"\n",
    );
    assert!(
        e.contains("\"r\"") && e.contains("unknown key `destination`"),
        "{e}"
    );
    let e = err("[[rule]]\nname = \"r\"\naction = \"block\"\n");
    assert!(e.contains("`kinds` is empty"), "{e}");
    let e = err("[[rule]]\nname = \"r\"\ndestinations = [\"clouddrives\"]\naction = \"block\"\n");
    assert!(
        e.contains("no host list") && e.contains("cloud_drives"),
        "{e}"
    );
    let e = err("[[rule]]\nname = \"r\"\npeople = [\"张三\"]\nmin_count = 3\naction = \"block\"\n");
    assert!(e.contains("need `kinds`"), "{e}");
    let rule = "[[rule]]\nname = \"r\"\nkinds = [\"marking\"]\naction = \"block\"\n";
    let e = err(&format!(
        "{rule}[[exception]]\nname = \"x\"\npeople = [\"张三\"]\nreason = \"\"\n"
    ));
    assert!(e.contains("reason"), "{e}");
    let e = err(&format!(
        "{rule}[[exception]]\nname = \"x\"\npeople = [\"张三\"]\nreason = \"r\"\nexpires = \"2027/01/01\"\n"
    ));
    assert!(e.contains("not a date"), "{e}");
    let e = err(&format!(
        "{rule}[[exception]]\nname = \"x\"\npeople = [\"张三\"]\nreason = \"r\"\nrules = [\"nope\"]\n"
    ));
    assert!(e.contains("no rule named"), "{e}");
    let e = err(&format!(
        "{rule}[[exception]]\nname = \"x\"\nreason = \"r\"\n"
    ));
    assert!(e.contains("say where it applies"), "{e}");
    let e = err("[hosts]\n\"bad name\" = [\"x.cn\"]\n");
    assert!(e.contains("list name"), "{e}");
}

#[test]
fn the_server_extends_the_internal_list() {
    let mut p = Policy::from_toml(
        "[[rule]]\nname = \"out\"\nkinds = [\"marking\"]\nnot_destinations = [\"internal\"]\naction = \"block\"\n",
    )
    .unwrap();
    let mut c = ctx(Channel::Mail);
    c.destinations = vec!["a@branch.example.cn".into()];
    let f = [marking(Level::Internal)];
    assert_eq!(p.evaluate_in(&f, &c).action, Action::Block);
    p.extend_internal(&["example.cn".into()]).unwrap();
    assert_eq!(p.evaluate_in(&f, &c).action, Action::Allow);
}
