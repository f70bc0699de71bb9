//! Mail, RTF and PDF extraction on real files made at test time with python3's `email`
//! package, LibreOffice, qpdf and zip.

use std::path::{Path, PathBuf};
use std::process::Command;

use baomi_core::{Finding, FindingKind, Part, PartRole};
use baomi_extract::{Blob, FileType, Limits, extract_as};

mod common;
use common::Collect;

impl Collect {
    fn part(&self, path: &str) -> &Part {
        self.parts
            .iter()
            .find(|p| p.path == path && p.role != PartRole::Name)
            .unwrap_or_else(|| {
                panic!(
                    "no part {path}; parts: {:#?}; findings: {:#?}",
                    self.paths(),
                    self.findings
                )
            })
    }

    fn paths(&self) -> Vec<(String, PartRole)> {
        self.parts
            .iter()
            .map(|p| (p.path.clone(), p.role))
            .collect()
    }

    fn has_name(&self, path: &str) -> bool {
        self.parts
            .iter()
            .any(|p| p.path == path && p.role == PartRole::Name)
    }

    fn findings_of(&self, kind: FindingKind) -> Vec<&Finding> {
        self.findings.iter().filter(|f| f.kind == kind).collect()
    }

    fn all_text(&self) -> String {
        self.parts
            .iter()
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn run(ty: FileType, bytes: Vec<u8>, name: &str) -> Collect {
    let mut sink = Collect::default();
    extract_as(
        ty,
        Blob::from_vec(bytes),
        name,
        &Limits::default(),
        &mut sink,
    );
    sink
}

fn run_file(ty: FileType, path: &Path, name: &str) -> Collect {
    let mut sink = Collect::default();
    let blob = Blob::from_path(path).expect("fixture exists");
    extract_as(ty, blob, name, &Limits::default(), &mut sink);
    sink
}

fn tool(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The system python has python-docx; any python3 has `email`.
fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

fn python_script(dir: &Path, script: &str) {
    let file = dir.join("make.py");
    std::fs::write(&file, script).expect("write script");
    tool(Command::new(python()).arg(&file).current_dir(dir));
}

/// `soffice --headless --convert-to <format> <input>` into `dir`, with a private profile so
/// parallel tests do not fight over one.
fn soffice_convert(dir: &Path, input: &Path, format: &str) -> PathBuf {
    let profile = dir.join("lo-profile");
    tool(
        Command::new("soffice")
            .arg(format!(
                "-env:UserInstallation=file://{}",
                profile.display()
            ))
            .args(["--headless", "--convert-to", format, "--outdir"])
            .arg(dir)
            .arg(input),
    );
    let ext = format.split(':').next().unwrap_or(format);
    let out = input.with_extension(ext);
    assert!(out.exists(), "soffice made no {}", out.display());
    out
}

// ---------------------------------------------------------------------------------------
// Mail

const MAIL_SCRIPT: &str = r#"
import email.message, email.policy, email.generator, email.header, base64, io, subprocess, os
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email import encoders

def gbk_subject(text):
    return "=?GBK?B?" + base64.b64encode(text.encode("gbk")).decode() + "?="

# Inner message, attached as message/rfc822.
inner = MIMEText("内层邮件正文：身份证号见附件。", "plain", "utf-8")
inner["Subject"] = email.header.Header("转发：内部资料", "utf-8")
inner["From"] = "wang@example.cn"

outer = MIMEMultipart("mixed")
outer["Subject"] = gbk_subject("关于机密文件的通知")
outer["From"] = "=?GBK?B?" + base64.b64encode("张三".encode("gbk")).decode() + "?= <zhangsan@example.cn>"
outer["To"] = "lisi@example.cn"
outer["Cc"] = "wangwu@example.cn"
outer["Date"] = "Sat, 21 Nov 2026 10:00:00 +0800"

alt = MIMEMultipart("alternative")
plain = MIMEText("请查收附件。\n机密★5年\n第三行", "plain", "gb2312")
del plain["Content-Transfer-Encoding"]
plain.set_payload("请查收附件。\n机密★5年\n第三行".encode("gb2312"))
encoders.encode_quopri(plain) if False else None
import quopri
plain.set_payload(quopri.encodestring("请查收附件。\n机密★5年\n第三行".encode("gb2312")).decode("ascii"))
plain["Content-Transfer-Encoding"] = "quoted-printable"
alt.attach(plain)
html = MIMEText("<html><body><p>HTML正文&amp;说明</p><script>x='隐藏'</script><div>绝密</div></body></html>", "html", "utf-8")
alt.attach(html)
outer.attach(alt)

# Text attachment with an RFC 2231 UTF-8 file name.
att = MIMEBase("application", "octet-stream")
att.set_payload("附件里的文字：秘密".encode("utf-8"))
encoders.encode_base64(att)
att.add_header("Content-Disposition", "attachment", filename=("utf-8", "", "报告.txt"))
outer.attach(att)

# Zip attachment made with zip(1).
with open("note.txt", "w", encoding="utf-8") as f:
    f.write("压缩包内的文字")
subprocess.run(["zip", "-q", "bundle.zip", "note.txt"], check=True)
z = MIMEBase("application", "zip")
z.set_payload(open("bundle.zip", "rb").read())
encoders.encode_base64(z)
z.add_header("Content-Disposition", "attachment", filename=("utf-8", "", "附件.zip"))
outer.attach(z)

# An attachment without a name.
anon = MIMEBase("application", "octet-stream")
anon.set_payload(b"\x00\x01binary")
encoders.encode_base64(anon)
outer.attach(anon)

outer.attach(MIMEMessage(inner))

data = outer.as_bytes()
open("mail.eml", "wb").write(data)

# An mbox of three messages; the second has a body line that needs >From quoting.
import mailbox
mb = mailbox.mbox("box.mbox")
for i, body in enumerate(["first letter", "From the start, second letter", "third letter"], 1):
    m = email.message_from_string(f"Subject: subject {i}\nFrom: user{i}@example.cn\n\nline one\n{body}\n")
    mb.add(m)
mb.flush()
mb.close()
"#;

fn make_mail(dir: &Path) {
    python_script(dir, MAIL_SCRIPT);
}

#[test]
fn eml_subject_headers_bodies_and_attachments() {
    let dir = tempfile::tempdir().unwrap();
    make_mail(dir.path());
    let bytes = std::fs::read(dir.path().join("mail.eml")).unwrap();
    let sink = run(FileType::Eml, bytes, "mail.eml");

    let subject = sink.part("mail.eml/subject");
    assert_eq!(subject.role, PartRole::Subject);
    assert_eq!(subject.text, "关于机密文件的通知");

    let headers = sink.part("mail.eml/headers");
    assert_eq!(headers.role, PartRole::Metadata);
    assert!(
        headers.text.contains("From: 张三 <zhangsan@example.cn>"),
        "{}",
        headers.text
    );
    assert!(headers.text.contains("To: lisi@example.cn"));
    assert!(headers.text.contains("Cc: wangwu@example.cn"));
    assert!(headers.text.contains("Date: Sat, 21 Nov 2026"));

    // GB2312 quoted-printable plain body, line breaks kept.
    let body = sink.part("mail.eml/body");
    assert_eq!(body.role, PartRole::Body);
    assert_eq!(body.text.trim(), "请查收附件。\n机密★5年\n第三行");

    // HTML body: tags gone, script dropped, entities decoded, blocks on their own lines.
    let html = sink.part("mail.eml/body.2");
    assert_eq!(html.role, PartRole::Body);
    assert_eq!(html.text, "HTML正文&说明\n绝密");

    // Attachments are nested objects under decoded names.
    assert!(sink.has_name("mail.eml/报告.txt"), "{:#?}", sink.paths());
    assert!(sink.has_name("mail.eml/附件.zip"), "{:#?}", sink.paths());
    assert!(
        sink.has_name("mail.eml/attachment-3.bin"),
        "{:#?}",
        sink.paths()
    );

    // The attached message is opened in place.
    let inner_subject = sink.part("mail.eml/attached-1.eml/subject");
    assert_eq!(inner_subject.text, "转发：内部资料");
    let inner_body = sink.part("mail.eml/attached-1.eml/body");
    assert!(inner_body.text.contains("内层邮件正文"));
    assert!(
        sink.part("mail.eml/attached-1.eml/headers")
            .text
            .contains("wang@example.cn")
    );
}

/// What Chinese mail clients really send: a Big5 subject, a GBK body with no charset
/// declared, an Outlook-style encoded-word file name inside quotes, and a part whose base64
/// is broken.
const ODD_MAIL_SCRIPT: &str = r#"
import base64
def ew(cs, text):
    return "=?%s?B?%s?=" % (cs, base64.b64encode(text.encode(cs)).decode())
body = "本邮件没有声明字符集，正文为国标扩展编码，内容涉及保密工作。".encode("gbk")
parts = [
 b"From: a@example.cn\r\nTo: b@example.cn\r\nSubject: " + ew("big5", "機密會議紀要").encode()
   + b"\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n",
 b"--XX\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body + b"\r\n",
 b"--XX\r\nContent-Type: application/octet-stream; name=\"" + ew("gbk", "会议纪要.txt").encode()
   + b"\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode("纪要正文".encode()) + b"\r\n",
 b"--XX\r\nContent-Type: application/pdf; name=\"broken.pdf\"\r\n"
   + b"Content-Disposition: attachment; filename=\"broken.pdf\"\r\n"
   + b"Content-Transfer-Encoding: base64\r\n\r\n!!!@@@###\r\n",
 b"--XX--\r\n",
]
open("odd.eml", "wb").write(b"".join(parts))
"#;

#[test]
fn eml_big5_subject_undeclared_gbk_body_encoded_word_name_and_bad_base64() {
    let dir = tempfile::tempdir().unwrap();
    python_script(dir.path(), ODD_MAIL_SCRIPT);
    let bytes = std::fs::read(dir.path().join("odd.eml")).unwrap();
    let sink = run(FileType::Eml, bytes, "odd.eml");
    assert_eq!(sink.part("odd.eml/subject").text, "機密會議紀要");
    assert_eq!(
        sink.part("odd.eml/body").text.trim(),
        "本邮件没有声明字符集，正文为国标扩展编码，内容涉及保密工作。"
    );
    assert!(sink.has_name("odd.eml/会议纪要.txt"), "{:#?}", sink.paths());
    let unreadable = sink.findings_of(FindingKind::Unreadable);
    assert!(
        unreadable
            .iter()
            .any(|f| f.part == "odd.eml/broken.pdf" && f.reason.contains("does not decode")),
        "{:?}",
        sink.findings
    );
}

#[test]
fn eml_cut_in_half_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    make_mail(dir.path());
    let bytes = std::fs::read(dir.path().join("mail.eml")).unwrap();
    let half = bytes[..bytes.len() / 2].to_vec();
    let sink = run(FileType::Eml, half, "mail.eml");
    // The headers and the first body come before the cut.
    assert_eq!(sink.part("mail.eml/subject").text, "关于机密文件的通知");
    assert!(sink.part("mail.eml/body").text.contains("机密★5年"));
    for f in &sink.findings {
        assert!(!f.reason.contains("panic"), "{f:?}");
    }
}

#[test]
fn eml_garbage_is_unreadable_not_a_panic() {
    let garbage: Vec<u8> = (0..4000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let sink = run(FileType::Eml, garbage, "x.eml");
    for f in &sink.findings {
        assert!(!f.reason.contains("parser failed"), "{f:?}");
    }
}

#[test]
fn mbox_messages_become_children() {
    let dir = tempfile::tempdir().unwrap();
    make_mail(dir.path());
    let path = dir.path().join("box.mbox");
    let raw = std::fs::read(&path).unwrap();
    assert!(
        raw.windows(6).any(|w| w == b">From "),
        "fixture should contain a quoted From line"
    );
    let sink = run_file(FileType::Mbox, &path, "box.mbox");
    for i in 1..=3 {
        assert!(
            sink.has_name(&format!("box.mbox/message-{i}.eml")),
            "{:#?}",
            sink.paths()
        );
    }
    assert!(!sink.has_name("box.mbox/message-4.eml"));
}

#[test]
fn mbox_in_memory_splits_into_children() {
    // A body line "From here on" is not a separator (no date); unescaping of ">From " is
    // checked on the message bytes by the unit tests in mail.rs.
    let mbox = b"From a@b Sat Nov 21 10:00:00 2026\nSubject: one\n\n>From here\nbody one\n\nFrom here on, more text\n\nFrom c@d Sat Nov 21 10:00:01 2026\nSubject: two\n\nbody two\n".to_vec();
    let sink = run(FileType::Mbox, mbox, "m.mbox");
    assert!(sink.has_name("m.mbox/message-1.eml"));
    assert!(sink.has_name("m.mbox/message-2.eml"));
    assert!(!sink.has_name("m.mbox/message-3.eml"));
}

#[test]
fn mbox_without_separator_is_unreadable() {
    let sink = run(FileType::Mbox, b"just text\n".to_vec(), "m.mbox");
    assert_eq!(sink.findings_of(FindingKind::Unreadable).len(), 1);
}

// ---------------------------------------------------------------------------------------
// RTF

fn make_rtf(dir: &Path) -> PathBuf {
    python_script(
        dir,
        r#"
import docx
d = docx.Document()
d.sections[0].header.paragraphs[0].text = "机密★5年"
d.add_paragraph("关于二〇二六年度工作安排的通知")
d.add_paragraph("第二段：联系人张三。")
d.core_properties.title = "年度工作通知"
d.core_properties.author = "李四"
d.save("doc.docx")
"#,
    );
    soffice_convert(dir, &dir.join("doc.docx"), "rtf")
}

#[test]
fn rtf_from_libreoffice() {
    let dir = tempfile::tempdir().unwrap();
    let rtf = make_rtf(dir.path());
    let raw = std::fs::read(&rtf).unwrap();
    assert!(
        String::from_utf8_lossy(&raw).contains("\\u"),
        "LibreOffice writes \\uN escapes"
    );
    let sink = run(FileType::Rtf, raw, "doc.rtf");
    let body = sink.part("doc.rtf");
    assert_eq!(body.role, PartRole::Body);
    assert_eq!(
        body.text,
        "关于二〇二六年度工作安排的通知\n第二段：联系人张三。"
    );
    let header = sink.part("doc.rtf/header");
    assert_eq!(header.role, PartRole::HeaderFooter);
    assert!(header.text.contains("机密★5年"), "{}", header.text);
    let title = sink.part("doc.rtf/title");
    assert_eq!(title.role, PartRole::Subject);
    assert_eq!(title.text, "年度工作通知");
    assert!(sink.part("doc.rtf/info").text.contains("author: 李四"));
    assert!(
        sink.findings_of(FindingKind::Unreadable).is_empty(),
        "{:?}",
        sink.findings
    );
}

#[test]
fn rtf_word_style_gbk_escapes() {
    // As Word writes Chinese: \ansicpg936, \fcharset134 fonts, GBK bytes as \'hh (checked by
    // hand: b8 c3 = 该, bb fa = 机, c3 dc = 密).
    let rtf = br"{\rtf1\ansi\ansicpg936\deff0\deflang1033\deflangfe2052{\fonttbl{\f0\fnil\fcharset134 \'cb\'ce\'cc\'e5;}{\f1\fnil\fcharset0 Calibri;}}
{\*\generator Riched20 10.0.19041}\viewkind4\uc1
\pard\f0\fs21\'b8\'c3\'ce\'c4\'bc\'fe\'ce\'aa\'bb\'fa\'c3\'dc\f1\lang2052 ABC\f0\'a1\'ef\par
}";
    let sink = run(FileType::Rtf, rtf.to_vec(), "word.rtf");
    assert_eq!(sink.part("word.rtf").text, "该文件为机密ABC★");
}

#[test]
fn rtf_cut_in_half_keeps_text_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let rtf = make_rtf(dir.path());
    let raw = std::fs::read(&rtf).unwrap();
    // Cut inside the body: after the first paragraph's text.
    let text = String::from_utf8_lossy(&raw);
    let second = text
        .find("\\u31532")
        .expect("second paragraph starts with 第");
    let cut = raw[..second].to_vec();
    let sink = run(FileType::Rtf, cut, "doc.rtf");
    assert!(
        sink.part("doc.rtf")
            .text
            .contains("关于二〇二六年度工作安排的通知")
    );
    let unreadable = sink.findings_of(FindingKind::Unreadable);
    assert_eq!(unreadable.len(), 1, "{:?}", sink.findings);
    assert!(unreadable[0].reason.contains("truncated"));
}

#[test]
fn rtf_garbage_is_unreadable() {
    let sink = run(FileType::Rtf, b"\x00\x01 not rtf".to_vec(), "x.rtf");
    assert_eq!(sink.findings_of(FindingKind::Unreadable).len(), 1);
}

// ---------------------------------------------------------------------------------------
// PDF

/// A three-page PDF: two text pages made by LibreOffice from HTML (CJK through
/// fonts-noto-cjk), then an image-only page (a PNG converted by LibreOffice Draw), joined
/// with qpdf.
fn make_pdfs(dir: &Path) -> PathBuf {
    let html = dir.join("doc.html");
    std::fs::write(
        &html,
        "<html><head><meta charset=\"utf-8\"><title>年度报告</title></head><body>\
         <p>机密★5年</p><p>关于二〇二六年度工作安排的通知</p>\
         <p style=\"page-break-before: always\">第二页：联系人张三</p></body></html>",
    )
    .unwrap();
    let text_pdf = soffice_convert(dir, &html, "pdf");
    python_script(
        dir,
        r#"
import zlib, struct
w, h = 200, 100
raw = b"".join(b"\x00" + bytes([(x * y) % 256 for x in range(w)]) for y in range(h))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
open("scan.png", "wb").write(png)
"#,
    );
    let image_pdf = soffice_convert(dir, &dir.join("scan.png"), "pdf");
    let joined = dir.join("joined.pdf");
    tool(
        Command::new("qpdf")
            .arg("--empty")
            .arg("--pages")
            .arg(&text_pdf)
            .arg(&image_pdf)
            .arg("--")
            .arg(&joined),
    );
    joined
}

#[test]
fn pdf_pages_info_and_image_only_page() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = make_pdfs(dir.path());
    let sink = run_file(FileType::Pdf, &pdf, "doc.pdf");
    let page1 = sink.part("doc.pdf/page 1");
    assert_eq!(page1.role, PartRole::Body);
    assert!(page1.text.contains("机密★5年"), "{}", page1.text);
    assert!(
        page1.text.contains("关于二〇二六年度工作安排的通知"),
        "{}",
        page1.text
    );
    // Line breaks are kept between paragraphs.
    assert!(page1.text.lines().count() >= 2, "{}", page1.text);
    let page2 = sink.part("doc.pdf/page 2");
    assert!(page2.text.contains("第二页：联系人张三"), "{}", page2.text);
    assert!(!page1.text.contains("第二页"));

    let unreadable = sink.findings_of(FindingKind::Unreadable);
    assert_eq!(unreadable.len(), 1, "{:?}", sink.findings);
    assert_eq!(unreadable[0].part, "doc.pdf/page 3");
    assert!(unreadable[0].reason.contains("image-only"));
    assert!(sink.findings_of(FindingKind::Encrypted).is_empty());
}

#[test]
fn pdf_info_title_is_subject() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("doc.html");
    std::fs::write(
        &html,
        "<html><head><meta charset=\"utf-8\"><title>年度报告</title></head>\
         <body><p>正文</p></body></html>",
    )
    .unwrap();
    let pdf = soffice_convert(dir.path(), &html, "pdf");
    let sink = run_file(FileType::Pdf, &pdf, "doc.pdf");
    let title = sink.part("doc.pdf/title");
    assert_eq!(title.role, PartRole::Subject);
    assert_eq!(title.text, "年度报告");
    let info = sink.part("doc.pdf/info");
    assert_eq!(info.role, PartRole::Metadata);
    assert!(info.text.contains("Producer: LibreOffice"), "{}", info.text);
}

#[test]
fn pdf_encrypted_with_empty_user_password_is_flagged_and_read() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = make_pdfs(dir.path());
    for (bits, extra) in [("256", None), ("128", Some("--use-aes=y"))] {
        let out = dir.path().join(format!("enc{bits}.pdf"));
        let mut cmd = Command::new("qpdf");
        cmd.args(["--encrypt", "", "owner-secret", bits]);
        if let Some(extra) = extra {
            cmd.arg(extra);
        }
        cmd.arg("--").arg(&pdf).arg(&out);
        tool(&mut cmd);
        let sink = run_file(FileType::Pdf, &out, "enc.pdf");
        let encrypted = sink.findings_of(FindingKind::Encrypted);
        assert_eq!(encrypted.len(), 1, "{bits}: {:?}", sink.findings);
        assert_eq!(encrypted[0].part, "enc.pdf");
        assert!(
            encrypted[0].reason.contains("text extracted"),
            "{:?}",
            encrypted[0]
        );
        // AES-128 goes through the pdftotext fallback, whose -layout mode may put a space
        // between a digit and a CJK glyph: compare without spaces.
        let page1: String = sink
            .part("enc.pdf/page 1")
            .text
            .chars()
            .filter(|c| *c != ' ')
            .collect();
        assert!(page1.contains("机密★5年"), "{bits}: {page1}");
    }
}

#[test]
fn pdf_with_user_password_is_encrypted_without_text() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = make_pdfs(dir.path());
    let out = dir.path().join("locked.pdf");
    tool(
        Command::new("qpdf")
            .args(["--encrypt", "user-secret", "owner-secret", "256", "--"])
            .arg(&pdf)
            .arg(&out),
    );
    let sink = run_file(FileType::Pdf, &out, "locked.pdf");
    let encrypted = sink.findings_of(FindingKind::Encrypted);
    assert_eq!(encrypted.len(), 1, "{:?}", sink.findings);
    assert!(encrypted[0].reason.contains("password required"));
    assert!(!sink.all_text().contains("机密★5年"));
}

#[test]
fn pdf_cut_in_half_and_garbage_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = make_pdfs(dir.path());
    let raw = std::fs::read(&pdf).unwrap();
    let half = raw[..raw.len() / 2].to_vec();
    let sink = run(FileType::Pdf, half, "half.pdf");
    let has_text = sink
        .parts
        .iter()
        .any(|p| p.path.starts_with("half.pdf/page"));
    let unreadable = sink.findings_of(FindingKind::Unreadable);
    assert!(has_text || !unreadable.is_empty(), "{:?}", sink.findings);
    for f in &sink.findings {
        assert!(!f.reason.contains("parser failed"), "{f:?}");
    }

    let sink = run(
        FileType::Pdf,
        b"%PDF-1.7\n garbage \x00\x01".to_vec(),
        "bad.pdf",
    );
    let unreadable = sink.findings_of(FindingKind::Unreadable);
    assert_eq!(unreadable.len(), 1, "{:?}", sink.findings);
    assert_eq!(unreadable[0].part, "bad.pdf");

    let sink = run(FileType::Pdf, b"not a pdf at all".to_vec(), "x.pdf");
    assert_eq!(sink.findings_of(FindingKind::Unreadable).len(), 1);
}

#[test]
fn pdf_blank_page_is_not_reported_as_image_only() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("blank.txt");
    // A form feed at the end makes LibreOffice start a second, empty page.
    std::fs::write(&txt, "第一页正文\n\u{c}").unwrap();
    let pdf = soffice_convert(dir.path(), &txt, "pdf");
    let sink = run_file(FileType::Pdf, &pdf, "blank.pdf");
    assert!(sink.part("blank.pdf/page 1").text.contains("第一页正文"));
    let pdf_text = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .unwrap();
    let pages = String::from_utf8_lossy(&pdf_text.stdout)
        .matches('\u{c}')
        .count();
    assert_eq!(pages, 2, "fixture should have a blank second page");
    assert!(
        sink.findings_of(FindingKind::Unreadable).is_empty(),
        "{:?}",
        sink.findings
    );
}

/// A hand-built PDF as older Chinese software writes it: a non-embedded STSong-Light font
/// with the predefined `GBK-EUC-H` CMap and GBK bytes in the content stream. CRATES.md saw
/// pdf_oxide mis-decode such a file (this simple one it reads correctly), so these CMaps
/// are routed to pdftotext; either way the text must come out right.
const GBK_PDF_SCRIPT: &str = r#"
text = "身份证号码机密".encode("gbk")
hexs = text.hex().upper()
content = ("BT /F1 24 Tf 72 700 Td <%s> Tj ET" % hexs).encode()
objs = [
 b"<< /Type /Catalog /Pages 2 0 R >>",
 b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
 b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
 b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
 b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /GBK-EUC-H /DescendantFonts [6 0 R] >>",
 b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> /FontDescriptor 7 0 R /DW 1000 >>",
 b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [0 -200 1000 900] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>",
]
out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
offsets = []
for i, o in enumerate(objs, 1):
    offsets.append(len(out))
    out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
xref = len(out)
out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
for off in offsets:
    out += b"%010d 00000 n \n" % off
out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
open("gbk.pdf", "wb").write(out)
"#;

#[test]
fn pdf_gbk_euc_cmap_goes_through_pdftotext() {
    let dir = tempfile::tempdir().unwrap();
    python_script(dir.path(), GBK_PDF_SCRIPT);
    let sink = run_file(FileType::Pdf, &dir.path().join("gbk.pdf"), "gbk.pdf");
    assert_eq!(sink.part("gbk.pdf/page 1").text, "身份证号码机密");
}

#[test]
fn attached_messages_count_towards_the_depth_limit() {
    // Each level wraps the previous message as message/rfc822.
    let mut message = b"Subject: innermost\r\n\r\ndeep body\r\n".to_vec();
    for level in 0..4 {
        let mut outer = format!(
            "Subject: level {level}\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n"
        )
        .into_bytes();
        outer.extend_from_slice(&message);
        message = outer;
    }
    let limits = Limits {
        max_depth: 2,
        ..Limits::default()
    };
    let mut sink = Collect::default();
    extract_as(
        FileType::Eml,
        Blob::from_vec(message),
        "m.eml",
        &limits,
        &mut sink,
    );
    let subjects: Vec<&str> = sink
        .parts
        .iter()
        .filter(|p| p.role == PartRole::Subject)
        .map(|p| p.text.as_str())
        .collect();
    assert_eq!(subjects, vec!["level 3", "level 2", "level 1"]);
    let limits = sink.findings_of(FindingKind::Limit);
    assert_eq!(limits.len(), 1, "{:?}", sink.findings);
    assert_eq!(
        limits[0].part,
        "m.eml/attached-1.eml/attached-2.eml/attached-3.eml"
    );
}
