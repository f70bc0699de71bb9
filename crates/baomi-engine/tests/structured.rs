//! Structured text decoded before detection: a chat-tool export in JSON that writes Chinese
//! as `\uXXXX` escapes, and JSON Lines under a generic extension, are read as their string
//! values, each named by its JSON pointer — the escaped full-width colon before a mobile
//! number no longer hides it, nor an escaped marking at the head of a message.

use baomi_core::{Channel, FindingKind, Level};
use baomi_engine::{Engine, EngineConfig, ObjectReport};
use baomi_extract::Blob;

fn inspect(bytes: &[u8], name: &str) -> ObjectReport {
    let engine = Engine::new(EngineConfig::default()).expect("engine");
    engine.inspect(Blob::from_vec(bytes.to_vec()), name, Channel::Scan)
}

/// `s` with every non-ASCII character as a `\uXXXX` escape (surrogate pairs beyond the BMP),
/// the way many exporters write JSON.
fn escaped(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c == '\n' {
            out.push_str("\\n");
        } else if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

#[test]
fn escaped_json_export_gives_its_phone_number_and_its_pointer() {
    let doc = format!(
        r#"{{"chat":"{}","messages":[{{"sender":"{}","content":"{}"}},{{"sender":"{}","content":"{}"}}]}}"#,
        escaped("项目协调群"),
        escaped("张三"),
        escaped("明天上午九点开会"),
        escaped("李四"),
        escaped("有事打我电话：13812345678"),
    );
    assert!(doc.contains("\\uff1a13812345678"), "{doc}");
    let r = inspect(doc.as_bytes(), "export.json");
    let phone = r
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::Mobile)
        .unwrap_or_else(|| panic!("no mobile number in {:#?}", r.findings));
    assert_eq!(phone.part, "export.json#/messages/1/content");
    assert_eq!(phone.text, "13812345678");
}

#[test]
fn json_lines_under_a_generic_extension_give_an_escaped_marking() {
    let lines = [
        format!(r#"{{"ts":1,"text":"{}"}}"#, escaped("大家好")),
        format!(
            r#"{{"ts":2,"text":"{}"}}"#,
            escaped("机密★5年\n关于某项目进展情况的通报\n各单位：现将有关情况通报如下。")
        ),
    ];
    let r = inspect(lines.join("\n").as_bytes(), "chat.log");
    let marking = r
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::Marking)
        .unwrap_or_else(|| panic!("no marking in {:#?}", r.findings));
    assert_eq!(marking.part, "chat.log#/1/text");
    assert_eq!(marking.level, Some(Level::Secret));
}

#[test]
fn text_that_only_starts_like_json_stays_text() {
    let text = "{会议纪要}\n联系电话：13812345678\n";
    let r = inspect(text.as_bytes(), "notes.txt");
    let phone = r
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::Mobile)
        .expect("the number in plain text");
    assert_eq!(phone.part, "notes.txt");
    assert_eq!(phone.line, Some(2));
}

/// The same trap in the other text-ish formats: each decodes the character before the
/// boundary check sees it.
#[test]
fn entities_quoted_printable_and_rtf_escapes_do_not_hide_a_number() {
    let mobile = |r: &ObjectReport| {
        r.findings
            .iter()
            .find(|f| f.kind == FindingKind::Mobile)
            .map(|f| f.text.clone())
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "page.html",
            "<html><body><p>联系电话&#xff1a;13812345678</p></body></html>".into(),
        ),
        (
            "page2.html",
            "<html><body><p>联系电话&#65306;13812345678</p></body></html>".into(),
        ),
        (
            "data.xml",
            "<?xml version=\"1.0\"?><r><tel>电话&#xFF1A;13812345678</tel></r>".into(),
        ),
        (
            "list.csv",
            "姓名,电话\n\"张三\",\"电话：13812345678\"\n".into(),
        ),
        (
            "note.eml",
            b"From: a@example.test\r\nTo: b@example.test\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
=E7=94=B5=E8=AF=9D=EF=BC=9A13812345678\r\n"
                .to_vec(),
        ),
        (
            "memo.rtf",
            b"{\\rtf1\\ansi\\ansicpg936 {\\fonttbl{\\f0\\fnil\\fcharset134 SimSun;}}\\f0 \\'b5\\'e7\\'bb\\'b0\\'a3\\'ba13812345678\\par}"
                .to_vec(),
        ),
    ];
    for (name, bytes) in cases {
        let r = inspect(&bytes, name);
        assert_eq!(
            mobile(&r).as_deref(),
            Some("13812345678"),
            "{name}: {:#?}",
            r.findings
        );
    }
}
