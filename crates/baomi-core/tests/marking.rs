//! The marking detector: every form × disguise it must find, the mentions it must not, and a
//! corpus of real-sounding secrecy-work prose that must yield no marking at all.

use baomi_core::detect::marking::MarkingDetector;
use baomi_core::detect::{Detector, PartView};
use baomi_core::model::{Finding, FindingKind, Level, PartRole};
use baomi_core::normalise::Normalizer;

use Level::*;
use PartRole::*;

fn detect(role: PartRole, text: &str) -> Vec<Finding> {
    let norm = Normalizer::new().normalize(text);
    let part = PartView {
        path: "doc",
        role,
        original: text,
        norm: &norm,
        first_line: 1,
    };
    let mut out = Vec::new();
    MarkingDetector::new().detect(&part, &mut out);
    out
}

/// (role, text, level, reason, the original text the finding must cover)
type Case = (PartRole, &'static str, Level, &'static str, &'static str);

#[rustfmt::skip]
const POSITIVE: &[Case] = &[
    // 密级★期限, anywhere in any part.
    (Body, "本通知为机密★10年，请妥善保管。", Secret, "★ and period", "机密★10年"),
    (Body, "秘密★6个月", Confidential, "★ and period", "秘密★6个月"),
    (Body, "绝密★长期", TopSecret, "★ and period", "绝密★长期"),
    (Body, "机密★2027年12月31日", Secret, "★ and period", "机密★2027年12月31日"),
    (Body, "机密★2027-12-31", Secret, "★ and period", "机密★2027-12-31"),
    (Body, "绝密★启用前", TopSecret, "★ and period", "绝密★启用前"),
    (Body, "秘密★解密条件：项目验收后", Confidential, "★ and period", "秘密★解密条件：项目验收后"),
    (Body, "机密★项目验收后 其他", Secret, "★ and period", "机密★项目验收后"),
    (Body, "秘密★五年", Confidential, "★ and period", "秘密★五年"),
    (Body, "文件末尾 机密★", Secret, "level and ★", "机密★"),
    // Stars of every kind.
    (Body, "机密☆5年", Secret, "★ and period", "机密☆5年"),
    (Body, "机密*5年", Secret, "★ and period", "机密*5年"),
    (Body, "机密＊5年", Secret, "★ and period", "机密＊5年"),
    (Body, "机密✱5年", Secret, "★ and period", "机密✱5年"),
    (Body, "机密✶5年", Secret, "★ and period", "机密✶5年"),
    (Body, "机密⭐5年", Secret, "★ and period", "机密⭐5年"),
    (Body, "机密※5年", Secret, "★ and period", "机密※5年"),
    // Disguises: Traditional, full-width, spaces, separators, invisible characters.
    (Body, "絕密★長期", TopSecret, "★ and period", "絕密★長期"),
    (Body, "前文 機密★１０年 后文", Secret, "★ and period", "機密★１０年"),
    (Body, "正文 机 密 ★ 5 年 正文", Secret, "★ and period", "机 密 ★ 5 年"),
    (Body, "机\u{3000}密\u{3000}★\u{3000}５\u{3000}年", Secret, "★ and period", "机\u{3000}密\u{3000}★\u{3000}５\u{3000}年"),
    (Body, "机.密★5年", Secret, "★ and period", "机.密★5年"),
    (Body, "机·密★5年", Secret, "★ and period", "机·密★5年"),
    (Body, "机-_密★5年", Secret, "★ and period", "机-_密★5年"),
    (Body, "机\u{200B}密★5年", Secret, "★ and period", "机\u{200B}密★5年"),
    // Non-state levels with a star.
    (Body, "工作秘密★2年", WorkSecret, "★ and period", "工作秘密★2年"),
    (Body, "商业秘密★长期", CommercialSecret, "★ and period", "商业秘密★长期"),
    // 密级 labels.
    (Body, "密级：秘密", Confidential, "密级 label", "密级：秘密"),
    (Body, "密 级：机密", Secret, "密级 label", "密 级：机密"),
    (Body, "密级:绝密", TopSecret, "密级 label", "密级:绝密"),
    (Body, "项目名称\t密级\t秘密\t负责人", Confidential, "密级 label", "密级\t秘密"),
    (Body, "【密级】机密", Secret, "密级 label", "密级】机密"),
    (Body, "密级：内部", Internal, "密级 label", "密级：内部"),
    (Body, "密级：工作秘密", WorkSecret, "密级 label", "密级：工作秘密"),
    (Body, "密级：商业秘密", CommercialSecret, "密级 label", "密级：商业秘密"),
    (Body, "密級：機密", Secret, "密级 label", "密級：機密"),
    (Body, "密级：秘.密", Confidential, "密级 label", "密级：秘.密"),
    // A label with star and period is one finding with the best reason.
    (Body, "密级：机密★5年", Secret, "★ and period", "密级：机密★5年"),
    // Standalone lines.
    (Body, "关于加强管理的通知\n秘密\n正文内容如下", Confidential, "standalone line", "秘密"),
    (Body, "一\n二\n三\n四\n五\n六\n【机密】\n正文", Secret, "standalone line", "机密"),
    (Body, "一\n二\n三\n四\n五\n六\n绝密 启用前\n正文", TopSecret, "standalone line", "绝密 启用前"),
    (Body, "一\n二\n三\n四\n五\n六\n（絕 密）\n正文", TopSecret, "standalone line", "絕 密"),
    (Body, "一\n二\n三\n四\n五\n六\n机·密\n正文", Secret, "standalone line", "机·密"),
    (Body, "一\n二\n三\n四\n五\n六\n工作秘密\n正文", WorkSecret, "standalone line", "工作秘密"),
    (Body, "一\n二\n三\n四\n五\n六\n内部资料 注意保存\n正文", Internal, "standalone line", "内部资料 注意保存"),
    (Body, "一\n二\n三\n四\n五\n六\n内部使用\n正文", Internal, "standalone line", "内部使用"),
    (Body, "一\n二\n三\n四\n五\n六\n敏感信息\n正文", Sensitive, "standalone line", "敏感信息"),
    (Body, "一\n二\n三\n四\n五\n六\n商业秘密\n正文", CommercialSecret, "standalone line", "商业秘密"),
    // Document head: copy number, level at the start of a line in the first lines.
    (Body, "000123\n机密  特急\n关于开展检查的通知", Secret, "document head", "机密"),
    (Body, "份号：000123\n秘密\n特急", Confidential, "standalone line", "秘密"),
    (Body, "000123 机密\n关于开展检查的通知", Secret, "document head", "机密"),
    (Body, "TOP SECRET\nProject notes", TopSecret, "document head", "TOP SECRET"),
    (Body, "\nCONFIDENTIAL\nMinutes of the meeting", Confidential, "document head", "CONFIDENTIAL"),
    // Header and footer parts.
    (HeaderFooter, "秘密", Confidential, "header part", "秘密"),
    (HeaderFooter, "  機 密  ", Secret, "header part", "機 密"),
    (HeaderFooter, "机密  某某单位文件", Secret, "header part", "机密"),
    (HeaderFooter, "绝密★启用前", TopSecret, "★ and period", "绝密★启用前"),
    (HeaderFooter, "SECRET", Secret, "header part", "SECRET"),
    (HeaderFooter, "INTERNAL USE ONLY", Internal, "header part", "INTERNAL USE ONLY"),
    (HeaderFooter, "内部资料", Internal, "header part", "内部资料"),
    // File names.
    (Name, "关于开展检查的通知（机密）.docx", Secret, "level in file name", "机密"),
    (Name, "【秘密】2025年工作要点.docx", Confidential, "level in file name", "秘密"),
    (Name, "[绝密]方案.pdf", TopSecret, "level in file name", "绝密"),
    (Name, "简报(内部资料).docx", Internal, "level in file name", "内部资料"),
    (Name, "机密_关于调整编制的请示.docx", Secret, "level in file name", "机密"),
    (Name, "关于调整编制的通知-秘密.pdf", Confidential, "level in file name", "秘密"),
    (Name, "材料/機密 关于调整编制的请示.docx", Secret, "level in file name", "機密"),
    (Name, "（工作秘密）考核办法.xlsx", WorkSecret, "level in file name", "工作秘密"),
    (Name, "report_CONFIDENTIAL.pdf", Confidential, "level in file name", "CONFIDENTIAL"),
    (Name, "minutes (secret).docx", Secret, "level in file name", "secret"),
    (Name, "Top Secret - plan.docx", TopSecret, "level in file name", "Top Secret"),
    (Name, "plan (confidential).docx", Confidential, "level in file name", "confidential"),
    (Name, "机密★5年_方案.docx", Secret, "★ and period", "机密★5年"),
    // Subjects.
    (Subject, "【机密】关于开展检查的通知", Secret, "level in subject", "机密"),
    (Subject, "转发：关于开展检查的通知-秘密", Confidential, "level in subject", "秘密"),
    (Subject, "Fwd: [SECRET] budget", Secret, "level in subject", "SECRET"),
];

#[test]
fn finds_every_form_and_disguise() {
    let mut failures = Vec::new();
    for &(role, text, level, reason, covered) in POSITIVE {
        let found = detect(role, text);
        let ok = found.len() == 1
            && found[0].level == Some(level)
            && found[0].reason == reason
            && found[0].text == covered;
        if !ok {
            failures.push(format!(
                "{role:?} {text:?}: expected one {level:?} {reason:?} on {covered:?}, got {:?}",
                found
                    .iter()
                    .map(|f| (f.level, f.reason.as_str(), f.text.as_str(), f.confidence))
                    .collect::<Vec<_>>()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn confidence_follows_the_form() {
    let conf = |role, text| detect(role, text)[0].confidence;
    assert_eq!(conf(Body, "机密★5年"), 0.95);
    assert_eq!(conf(Body, "机密★"), 0.85);
    assert_eq!(conf(Body, "密级：秘密"), 0.9);
    assert_eq!(conf(Body, "一\n二\n三\n四\n五\n六\n秘密"), 0.8);
    assert_eq!(conf(HeaderFooter, "秘密"), 0.9);
}

#[test]
fn spans_point_into_the_original() {
    let text = "前言。\n正文 機 密 ★ １０ 年 正文";
    let found = detect(Body, text);
    assert_eq!(found.len(), 1);
    let (s, e) = found[0].span.expect("span");
    assert_eq!(&text[s..e], "機 密 ★ １０ 年");
}

#[test]
fn one_finding_per_occurrence() {
    let found = detect(Body, "首页：机密★5年\n……\n末页：秘密★1年\n附件 绝密★长期");
    let levels: Vec<_> = found.iter().map(|f| f.level).collect();
    assert_eq!(levels, [Some(Secret), Some(Confidential), Some(TopSecret)]);
}

/// Mentions of the words in prose: none of these is a marking.
#[rustfmt::skip]
const MENTIONS: &[(PartRole, &str)] = &[
    // English level words in ordinary lower-case names are words, not markings.
    (Name, "notice-secret.docx"),
    (Name, "secret-santa.xlsx"),
    (Name, "confidential_draft_v2.docx"),
    (Body, "全体干部要保守国家秘密。"),
    (Body, "秘密级以上的文件要登记。"),
    (Body, "属于机密、秘密、绝密的文件一律不得复印。"),
    (Body, "不得在互联网上处理涉及国家秘密的信息。"),
    (Body, "工作秘密的管理参照本规定执行。"),
    (Body, "标注密级"),
    (Body, "定密工作"),
    (Body, "绝密级文件由专人管理。"),
    (Body, "机密文件柜配备密码锁。"),
    (Body, "秘密载体"),
    (Body, "正确标注密级和保密期限。"),
    (Body, "密级、保密期限和知悉范围"),
    (Body, "机密级、秘密级文件"),
    (Body, "密级：绝密级不超过三十年、机密级不超过二十年"),
    (Body, "密级：内部管理要求如下"),
    (Body, "国家秘密的密级：绝密、机密、秘密三级。"),
    (Body, "内部资料的管理"),
    (Body, "商业秘密受法律保护。"),
    (Body, "秘密\u{FF0C}机密和绝密三个密级"),
    (HeaderFooter, "第 3 页 共 10 页"),
    (HeaderFooter, "保密工作简报"),
    (HeaderFooter, "保守国家秘密 人人有责"),
    (HeaderFooter, "第 1 页 保守秘密"),
    (HeaderFooter, "单位 工作秘密管理"),
    (Name, "保守国家秘密宣传材料.docx"),
    (Name, "秘密载体管理规定.pdf"),
    (Name, "secretary_notes.docx"),
    (Name, "工作秘密管理办法.docx"),
    (Subject, "关于做好国家秘密载体清查工作的通知"),
    (Body, "The SECRET to good tea is patience."),
    // A table counting documents by level, as a sheet's first rows.
    (Body, "密级\t数量\n绝密\t0\n机密\t3\n秘密\t16"),
    (Body, "绝密 0 机密 3 秘密 16"),
    (Body, "机密 秘密 绝密 三个密级"),
    (Body, "密级\t期限\n绝密\t30年\n机密\t20年\n秘密\t10年"),
    (Body, "绝密 ——涉及国家安全核心利益的事项"),
    (Body, "机密 关于开展检查的通知"),
    (HeaderFooter, "Secret garden"),
    (Body, "一\n二\n三\n四\n五\n六\nSECRET"),
];

#[test]
fn mentions_are_not_markings() {
    let mut failures = Vec::new();
    for &(role, text) in MENTIONS {
        let found = detect(role, text);
        if !found.is_empty() {
            failures.push(format!("{role:?} {text:?}: {found:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "mentions taken for markings:\n{}",
        failures.join("\n")
    );
}

fn prose_corpus() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/prose");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("prose corpus directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read prose");
            (p.display().to_string(), text)
        })
        .collect()
}

#[test]
fn prose_corpus_is_big_enough() {
    let corpus = prose_corpus();
    assert!(corpus.len() >= 6, "{} prose files", corpus.len());
    let chars: usize = corpus.iter().map(|(_, t)| t.chars().count()).sum();
    assert!(chars >= 8000, "{chars} characters of prose");
    // It must actually be dense with the words the detector looks for.
    let all: String = corpus.iter().map(|(_, t)| t.as_str()).collect();
    for word in [
        "秘密",
        "机密",
        "绝密",
        "密级",
        "工作秘密",
        "内部资料",
        "商业秘密",
    ] {
        assert!(all.matches(word).count() >= 3, "corpus has few {word}");
    }
}

#[test]
fn prose_corpus_has_no_markings() {
    let mut failures = Vec::new();
    let mut check = |what: &str, role: PartRole, text: &str| {
        for f in detect(role, text) {
            failures.push(format!("{what} as {role:?}: {:?} {:?}", f.text, f.reason));
        }
    };
    for (name, text) in prose_corpus() {
        // The whole file as one body (its first lines are a document head).
        check(&name, Body, &text);
        // Every line as its own part: every line is then a first line.
        for (i, line) in text.lines().enumerate() {
            check(&format!("{name}:{}", i + 1), Body, line);
            check(&format!("{name}:{}", i + 1), Annotation, line);
        }
        // Windows of five lines, so every line is once in a document head.
        let lines: Vec<&str> = text.lines().collect();
        for (i, window) in lines.windows(5).enumerate() {
            check(&format!("{name}:{}+5", i + 1), Body, &window.join("\n"));
        }
        // The title as a mail subject or a file name (a document is often sent or saved
        // under its title).
        let title = text.lines().next().unwrap_or_default();
        check(&format!("{name}: {title}"), Subject, title);
        check(&format!("{name}: {title}"), Name, &format!("{title}.docx"));
    }
    assert!(
        failures.is_empty(),
        "markings found in prose:\n{}",
        failures.join("\n")
    );
}

/// Normalise + detect over ~10 MB of prose (about 1 MB in debug builds). Run with
/// `cargo test --release -p baomi-core --test marking -- --nocapture throughput`.
#[test]
fn throughput() {
    let corpus: String = prose_corpus().into_iter().map(|(_, t)| t).collect();
    let target = if cfg!(debug_assertions) {
        1 << 20
    } else {
        10 << 20
    };
    let mut text = String::with_capacity(target + corpus.len());
    while text.len() < target {
        text.push_str(&corpus);
    }
    // Plant one marking per ~100 KB so the detector has something to report.
    let parts: Vec<String> = text
        .as_bytes()
        .chunks(100_000)
        .map(|c| format!("{}\n秘密★5年\n", String::from_utf8_lossy(c)))
        .collect();
    let normalizer = Normalizer::new();
    let detector = MarkingDetector::new();
    let started = std::time::Instant::now();
    let mut findings = Vec::new();
    let mut bytes = 0;
    for p in &parts {
        bytes += p.len();
        let norm = normalizer.normalize(p);
        let view = PartView {
            path: "bench",
            role: Body,
            original: p,
            norm: &norm,
            first_line: 1,
        };
        detector.detect(&view, &mut findings);
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "normalise + marking: {:.1} MB in {:.3} s = {:.0} MB/s, {} findings",
        bytes as f64 / 1e6,
        secs,
        bytes as f64 / secs / 1e6,
        findings.len()
    );
    assert_eq!(findings.len(), parts.len());
    assert!(
        findings
            .iter()
            .all(|f| f.level == Some(Confidential) && f.text == "秘密★5年")
    );
}

/// Pseudo-random strings of the characters that matter (level words, stars, separators,
/// brackets, spaces, invisible and full-width characters): no panic, spans always slice the
/// original at character boundaries, and the finding text is what the span covers.
#[test]
fn random_inputs_never_break_spans() {
    let tokens: &[&str] = &[
        "机密",
        "秘密",
        "绝密",
        "機密",
        "絕密",
        "工作",
        "商业",
        "内部",
        "资料",
        "注意保存",
        "敏感信息",
        "密级",
        "密級",
        "级",
        "★",
        "☆",
        "*",
        "＊",
        "※",
        "⭐",
        "5年",
        "１０年",
        "6个月",
        "长期",
        "启用前",
        "解密条件",
        "2027年12月31日",
        "：",
        ":",
        "【",
        "】",
        "（",
        "）",
        "(",
        ")",
        "[",
        "]",
        "_",
        "-",
        ".",
        "·",
        " ",
        "  ",
        "\u{3000}",
        "\u{200B}",
        "\u{FEFF}",
        "\u{00AD}",
        "\n",
        "\r\n",
        "\t",
        "TOP SECRET",
        "SECRET",
        "secret",
        "CONFIDENTIAL",
        "INTERNAL USE ONLY",
        "㈠",
        "①",
        "份号",
        "000123",
        "，",
        "。",
        "、",
        "关于",
        "通知",
        "文件",
        ".docx",
        "/",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let normalizer = Normalizer::new();
    let detector = MarkingDetector::new();
    let mut total = 0;
    for _ in 0..3000 {
        let len = (next() % 12) as usize;
        let text: String = (0..len)
            .map(|_| tokens[(next() % tokens.len() as u64) as usize])
            .collect();
        let norm = normalizer.normalize(&text);
        for role in [Body, HeaderFooter, Name, Subject, Metadata, Annotation] {
            let view = PartView {
                path: "fuzz",
                role,
                original: &text,
                norm: &norm,
                first_line: 1,
            };
            let mut out = Vec::new();
            detector.detect(&view, &mut out);
            for f in &out {
                let (s, e) = f.span.expect("span");
                assert!(s < e && text.is_char_boundary(s) && text.is_char_boundary(e));
                assert_eq!(f.text, text[s..e]);
                // Markings carry their level; mentions are weightless keywords without one.
                match f.kind {
                    FindingKind::Marking => assert!(f.level.is_some()),
                    _ => {
                        assert_eq!(f.kind, FindingKind::Keyword);
                        assert!(f.level.is_none() && f.weight == 0.0);
                    }
                }
            }
            total += out.len();
        }
    }
    // The alphabet is dense with level words and stars: some findings must come out.
    assert!(total > 100, "only {total} findings");
}

/// A later chunk of a large streamed text has no document head: its first lines are the
/// middle of the file, so only forms that are markings anywhere may fire there.
#[test]
fn document_head_rule_applies_only_to_the_start_of_a_part() {
    let text = "000123\n机密 特急\n关于开展专项检查的通知\n";
    let norm = Normalizer::new().normalize(text);
    let run = |first_line| {
        let part = PartView {
            path: "big.log",
            role: Body,
            original: text,
            norm: &norm,
            first_line,
        };
        let mut out = Vec::new();
        MarkingDetector::new().detect(&part, &mut out);
        out
    };
    let head = run(1);
    assert_eq!(head.len(), 1, "{head:?}");
    assert_eq!(head[0].level, Some(Secret));
    assert_eq!(head[0].reason, "document head");
    assert!(run(40_001).is_empty());
}
