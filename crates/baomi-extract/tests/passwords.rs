//! The password bank on real encrypted files made at test time: zip -P (ZipCrypto), 7-Zip
//! (zip AES-256, 7z content, 7z headers), qpdf --encrypt (PDF), msoffcrypto-tool (agile
//! OOXML) and tests/encrypt_ooxml.py (standard OOXML, msoffcrypto's key derivation), each
//! holding a marked document. RAR archives are the unrar crate's encrypted ones
//! (tests/fixtures/rar: no `rar` tool exists here). Each case: the right bank opens it, the
//! marking is read, the finding names the password's number and never the password; a
//! wrong bank leaves today's finding plus "none of the N bank passwords opened it".

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use baomi_core::{Finding, FindingKind};
use baomi_extract::{Blob, ExtractSummary, Limits, PasswordBank, extract};

mod common;
use common::Collect;

const MARKED: &str = "机密★5年\n关于加强保密工作的通知\n各单位：请严格执行保密规定。\n";
/// The right password: spaces, `#` and Chinese, as surrendered passwords are.
const SECRET: &str = "#保密 2024 pw";
/// For what 7-Zip's zip AES and PDF RC4 take: ASCII (7-Zip refuses other characters for
/// zip AES; 128-bit RC4 PDF passwords are PDFDocEncoding).
const SECRET_ASCII: &str = "#Baomi 2024 pw";
const WRONG: [&str; 3] = ["123456", "unit-standard-1", "wrong 密码"];
/// msoffcrypto-tool's venv (scripts/deps.sh test; `BAOMI_MSOFFCRYPTO_VENV` moves it).
fn msoffcrypto_venv() -> String {
    std::env::var("BAOMI_MSOFFCRYPTO_VENV").unwrap_or_else(|_| "/opt/baomi-msoffcrypto-venv".into())
}

fn bank(passwords: &[&str]) -> Limits {
    Limits {
        passwords: Arc::new(PasswordBank::parse(&passwords.join("\n"))),
        ..Limits::default()
    }
}

/// The bank with the right password third.
fn right_bank() -> Limits {
    bank(&[WRONG[0], WRONG[1], SECRET])
}

fn right_ascii_bank() -> Limits {
    bank(&[WRONG[0], WRONG[1], SECRET_ASCII])
}

fn wrong_bank() -> Limits {
    bank(&WRONG)
}

fn scan_with(path: &Path, limits: &Limits) -> (Collect, ExtractSummary) {
    let mut sink = Collect::default();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let blob = Blob::from_path(path).expect("test file exists");
    let summary = extract(blob, name, limits, &mut sink);
    (sink, summary)
}

fn encrypted(c: &Collect) -> Vec<&Finding> {
    c.findings
        .iter()
        .filter(|f| f.kind == FindingKind::Encrypted)
        .collect()
}

fn text(c: &Collect) -> String {
    c.parts
        .iter()
        .map(|p| p.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// No password of any bank in any finding or part path.
fn no_password_shown(c: &Collect) {
    for f in &c.findings {
        for p in WRONG.iter().chain([&SECRET, &SECRET_ASCII]) {
            assert!(!f.reason.contains(p) && !f.part.contains(p), "{f:?}");
        }
    }
}

/// The right bank opens `path`: one `encrypted` finding at `part` whose reason is `base`
/// plus the bank note, and the marking is read. The wrong bank: not opened, no marking.
fn opens(path: &Path, part: &str, base: &str) {
    opens_with(path, part, base, &right_bank())
}

fn opens_with(path: &Path, part: &str, base: &str, right: &Limits) {
    let (c, _) = scan_with(path, right);
    let enc = encrypted(&c);
    assert_eq!(enc.len(), 1, "{:?}", c.findings);
    assert_eq!(enc[0].part, part);
    assert_eq!(
        enc[0].reason,
        format!("{base}, opened with bank password #3"),
        "{:?}",
        c.findings
    );
    assert!(text(&c).contains("机密★5年"), "{:?}", c.parts);
    no_password_shown(&c);

    let (c, _) = scan_with(path, &wrong_bank());
    let enc = encrypted(&c);
    assert_eq!(enc.len(), 1, "{:?}", c.findings);
    assert_eq!(
        enc[0].reason,
        format!("{base}, none of the 3 bank passwords opened it")
    );
    assert!(!text(&c).contains("机密★5年"));
    no_password_shown(&c);
}

fn tool(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sevenzip() -> &'static str {
    for tool in ["7zz", "7z"] {
        if Command::new(tool).arg("i").output().is_ok() {
            return tool;
        }
    }
    panic!("neither 7zz nor 7z is installed");
}

/// One directory per test process with the marked note as .txt, .docx, .xlsx and .pdf
/// (LibreOffice is slow to start: once).
fn samples() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::write(d.join("note.txt"), MARKED).unwrap();
        std::fs::write(d.join("sheet.csv"), "机密★5年\n人员名单,张三\n").unwrap();
        // The CSV as UTF-8 (filter options: comma, double quote, character set 76).
        for (input, format) in [
            ("note.txt", "docx"),
            ("note.txt", "pdf"),
            ("sheet.csv", "xlsx"),
        ] {
            tool(
                Command::new("soffice")
                    .arg(format!("-env:UserInstallation=file://{}/lo", d.display()))
                    .arg("--infilter=CSV:44,34,76")
                    .args(["--headless", "--convert-to", format, "--outdir"])
                    .arg(d)
                    .arg(d.join(input)),
            );
        }
        dir
    })
    .path()
}

fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(samples().join("note.txt"), dir.path().join("note.txt")).unwrap();
    dir
}

#[test]
fn zipcrypto_entry() {
    let dir = workdir();
    tool(
        Command::new("zip")
            .args(["-q", "-P", SECRET, "enc.zip", "note.txt"])
            .current_dir(dir.path()),
    );
    opens(
        &dir.path().join("enc.zip"),
        "enc.zip/note.txt",
        "zip entry encrypted (ZipCrypto)",
    );
}

#[test]
fn aes_zip_entry() {
    let dir = workdir();
    tool(
        Command::new(sevenzip())
            .args(["a", "-bso0", "-tzip", "-mem=AES256"])
            .arg(format!("-p{SECRET_ASCII}"))
            .args(["aes.zip", "note.txt"])
            .current_dir(dir.path()),
    );
    opens_with(
        &dir.path().join("aes.zip"),
        "aes.zip/note.txt",
        "zip entry encrypted (AES-256)",
        &right_ascii_bank(),
    );
}

#[test]
fn sevenz_encrypted_content() {
    let dir = workdir();
    tool(
        Command::new(sevenzip())
            .args(["a", "-bso0"])
            .arg(format!("-p{SECRET}"))
            .args(["c.7z", "note.txt"])
            .current_dir(dir.path()),
    );
    opens(
        &dir.path().join("c.7z"),
        "c.7z/note.txt",
        "7z entry encrypted (AES-256)",
    );
}

/// 7z AES has no password check: garbage from a wrong key often ends the LZMA stream
/// early, which must not pass for an opened file (it did, one wrong password in ~20,
/// before the length was checked too).
#[test]
fn sevenz_many_wrong_passwords_never_open() {
    let dir = workdir();
    tool(
        Command::new(sevenzip())
            .args(["a", "-bso0"])
            .arg(format!("-p{SECRET}"))
            .args(["c.7z", "note.txt"])
            .current_dir(dir.path()),
    );
    let many: Vec<String> = (0..60).map(|i| format!("wrong-{i}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let (c, _) = scan_with(&dir.path().join("c.7z"), &bank(&refs));
    let enc = encrypted(&c);
    assert_eq!(
        enc[0].reason,
        "7z entry encrypted (AES-256), none of the 60 bank passwords opened it"
    );
    assert_eq!(c.parts.len(), 2, "{:?}", c.parts);
}

#[test]
fn sevenz_encrypted_headers() {
    let dir = workdir();
    std::fs::write(dir.path().join("公开.txt"), "公开内容\n").unwrap();
    tool(
        Command::new(sevenzip())
            .args(["a", "-bso0", "-mhe=on"])
            .arg(format!("-p{SECRET}"))
            .args(["h.7z", "note.txt", "公开.txt"])
            .current_dir(dir.path()),
    );
    let path = dir.path().join("h.7z");
    let (c, _) = scan_with(&path, &right_bank());
    let mut reasons: Vec<(&str, &str)> = encrypted(&c)
        .iter()
        .map(|f| (f.part.as_str(), f.reason.as_str()))
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            (
                "h.7z",
                "7z archive with encrypted headers, opened with bank password #3"
            ),
            (
                "h.7z/note.txt",
                "7z entry encrypted (AES-256), opened with bank password #3"
            ),
            (
                "h.7z/公开.txt",
                "7z entry encrypted (AES-256), opened with bank password #3"
            ),
        ]
    );
    assert!(text(&c).contains("机密★5年"));
    assert!(text(&c).contains("公开内容"));
    no_password_shown(&c);

    let (c, _) = scan_with(&path, &wrong_bank());
    let enc = encrypted(&c);
    assert_eq!(enc.len(), 1, "{:?}", c.findings);
    assert_eq!(
        enc[0].reason,
        "7z archive with encrypted headers, none of the 3 bank passwords opened it"
    );
    assert!(!text(&c).contains("机密★5年"));
}

#[test]
fn pdf_user_password() {
    let dir = workdir();
    let out = dir.path().join("locked.pdf");
    tool(
        Command::new("qpdf")
            .args(["--encrypt", SECRET, "owner-其他", "256", "--"])
            .arg(samples().join("note.pdf"))
            .arg(&out),
    );
    let (c, _) = scan_with(&out, &right_bank());
    let enc = encrypted(&c);
    assert_eq!(enc.len(), 1, "{:?}", c.findings);
    assert_eq!(
        enc[0].reason,
        "PDF encrypted, opened with bank password #3, text extracted"
    );
    let page: String = text(&c).chars().filter(|c| *c != ' ').collect();
    assert!(page.contains("机密★5年"), "{page}");
    no_password_shown(&c);

    let (c, _) = scan_with(&out, &wrong_bank());
    let enc = encrypted(&c);
    assert_eq!(enc.len(), 1, "{:?}", c.findings);
    assert_eq!(
        enc[0].reason,
        "PDF encrypted (password required, no text extracted), none of the 3 bank passwords opened it"
    );
    assert!(!text(&c).contains("机密★5年"));

    // The owner password opens the document too (RC4-128 this time, another algorithm).
    let rc4 = dir.path().join("rc4.pdf");
    tool(
        Command::new("qpdf")
            .args([
                "--allow-weak-crypto",
                "--encrypt",
                "user-x",
                SECRET_ASCII,
                "128",
            ])
            .args(["--use-aes=n", "--"])
            .arg(samples().join("note.pdf"))
            .arg(&rc4),
    );
    let (c, _) = scan_with(&rc4, &right_ascii_bank());
    let enc = encrypted(&c);
    assert!(
        enc[0].reason.contains("opened with bank password #3"),
        "{:?}",
        c.findings
    );
    let page: String = text(&c).chars().filter(|c| *c != ' ').collect();
    assert!(page.contains("机密★5年"), "{page}");
}

fn msoffcrypto(scheme: &str, input: &Path, output: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/encrypt_ooxml.py");
    tool(
        Command::new(format!("{}/bin/python", msoffcrypto_venv()))
            .arg(script)
            .arg(scheme)
            .arg(input)
            .arg(output)
            .arg(SECRET),
    );
}

#[test]
fn ooxml_agile_docx_and_xlsx() {
    let dir = workdir();
    let docx = dir.path().join("报告.docx");
    msoffcrypto("agile", &samples().join("note.docx"), &docx);
    let xlsx = dir.path().join("名单.xlsx");
    msoffcrypto("agile", &samples().join("sheet.xlsx"), &xlsx);
    let base = "password-protected Office document (EncryptionInfo), agile encryption";
    opens(&docx, "报告.docx", base);
    opens(&xlsx, "名单.xlsx", base);
    // The package is read as the document itself, under its own path.
    let (c, _) = scan_with(&docx, &right_bank());
    assert!(
        c.parts
            .iter()
            .any(|p| p.path == "报告.docx/word/document.xml" && p.text.contains("机密★5年")),
        "{:?}",
        c.parts
    );
    assert!(
        c.findings.iter().all(|f| f.kind != FindingKind::Unreadable),
        "{:?}",
        c.findings
    );
}

#[test]
fn ooxml_standard_docx() {
    let dir = workdir();
    let docx = dir.path().join("std.docx");
    msoffcrypto("standard", &samples().join("note.docx"), &docx);
    opens(
        &docx,
        "std.docx",
        "password-protected Office document (EncryptionInfo), standard encryption",
    );
}

/// Word and Excel 97-2003 saved by LibreOffice with the bank's password (RC4, MS-OFFCRYPTO
/// §2.3.6): opened and read as the document itself, nothing left unreadable. The files are
/// committed (tests/fixtures/locked, made by its make.py through LibreOffice's UNO API:
/// `soffice --convert-to` ignores a password option).
#[test]
fn legacy_word_and_excel_rc4() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/locked");
    let dir = workdir();
    let doc = dir.path().join("通知.doc");
    std::fs::copy(fixtures.join("rc4.doc"), &doc).unwrap();
    let xls = dir.path().join("名单.xls");
    std::fs::copy(fixtures.join("rc4.xls"), &xls).unwrap();
    opens(
        &doc,
        "通知.doc",
        "password-protected Word 97-2003 document (RC4)",
    );
    opens(
        &xls,
        "名单.xls",
        "password-protected Excel 97-2003 workbook (RC4)",
    );
    for path in [&doc, &xls] {
        let (c, _) = scan_with(path, &right_bank());
        assert!(
            c.findings.iter().all(|f| f.kind != FindingKind::Unreadable),
            "{:?}",
            c.findings
        );
    }
    let (c, _) = scan_with(&doc, &right_bank());
    assert!(
        text(&c).contains("各单位：请严格执行保密规定。"),
        "{:?}",
        c.parts
    );
    let (c, _) = scan_with(&xls, &right_bank());
    assert!(text(&c).contains("人员名单\t张三"), "{:?}", c.parts);
}

#[test]
fn rar_encrypted_entry_and_headers() {
    let fixture = |name: &str| -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/rar")
            .join(name)
    };
    // crypted.rar: `.gitignore` encrypted with `unrar`.
    let (c, summary) = scan_with(&fixture("crypted.rar"), &bank(&["x", "unrar"]));
    let enc = encrypted(&c);
    assert_eq!(enc.len(), 1, "{:?}", c.findings);
    assert_eq!(enc[0].part, "crypted.rar/.gitignore");
    assert_eq!(
        enc[0].reason,
        "RAR entry encrypted, opened with bank password #2"
    );
    assert!(summary.expanded_bytes > 0);
    assert!(
        c.parts
            .iter()
            .any(|p| p.path == "crypted.rar/.gitignore" && p.text.contains("target")),
        "{:?}",
        c.parts
    );
    let (c, summary) = scan_with(&fixture("crypted.rar"), &bank(&["x", "y"]));
    assert_eq!(
        encrypted(&c)[0].reason,
        "RAR entry encrypted, none of the 2 bank passwords opened it"
    );
    assert_eq!(summary.expanded_bytes, 0);

    // comment-hpw-password.rar: headers encrypted with `password`.
    let path = fixture("comment-hpw-password.rar");
    let (c, summary) = scan_with(&path, &bank(&["password"]));
    let enc = encrypted(&c);
    assert_eq!(
        enc[0].reason, "RAR archive with encrypted headers, opened with bank password #1",
        "{:?}",
        c.findings
    );
    assert!(summary.expanded_bytes > 0, "{:?}", c.findings);
    assert!(c.parts.len() >= 2, "{:?}", c.parts);
    let (c, _) = scan_with(&path, &bank(&["nope"]));
    assert_eq!(
        encrypted(&c)[0].reason,
        "RAR archive with encrypted headers, the one bank password did not open it"
    );
}

/// The bank is tried within the object's time limit: a big bank of wrong passwords on a
/// 7z with encrypted headers (one SHA-256 key derivation of 2^19 rounds per try) stops at
/// the limit, says how many were tried, and the limit is a finding.
#[test]
fn bank_is_bounded_by_the_time_limit() {
    let dir = workdir();
    tool(
        Command::new(sevenzip())
            .args(["a", "-bso0", "-mhe=on"])
            .arg(format!("-p{SECRET}"))
            .args(["h.7z", "note.txt"])
            .current_dir(dir.path()),
    );
    let many: Vec<String> = (0..2000).map(|i| format!("wrong-{i}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let limits = Limits {
        max_time: Duration::from_secs(1),
        ..bank(&refs)
    };
    let start = Instant::now();
    let (c, summary) = scan_with(&dir.path().join("h.7z"), &limits);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(!summary.complete);
    let enc = encrypted(&c);
    assert_eq!(enc.len(), 1, "{:?}", c.findings);
    assert!(
        enc[0]
            .reason
            .contains("bank passwords tried (of 2000) opened it before the time limit"),
        "{}",
        enc[0].reason
    );
    assert!(
        c.findings
            .iter()
            .any(|f| f.kind == FindingKind::Limit && f.reason == "wall time > 1 s"),
        "{:?}",
        c.findings
    );
}

/// Cost of one wrong password per format (release build for BENCHMARKS.md):
/// `cargo test --release -p baomi-extract --test passwords -- --ignored --nocapture cost`.
#[test]
#[ignore]
fn cost_per_password() {
    let dir = workdir();
    let d = dir.path();
    let run = |cmd: &mut Command| tool(cmd.current_dir(d));
    run(Command::new("zip").args(["-q", "-P", SECRET, "zc.zip", "note.txt"]));
    run(Command::new(sevenzip())
        .args(["a", "-bso0", "-tzip", "-mem=AES256"])
        .arg(format!("-p{SECRET_ASCII}"))
        .args(["aes.zip", "note.txt"]));
    run(Command::new(sevenzip())
        .args(["a", "-bso0"])
        .arg(format!("-p{SECRET}"))
        .args(["c.7z", "note.txt"]));
    run(Command::new(sevenzip())
        .args(["a", "-bso0", "-mhe=on"])
        .arg(format!("-p{SECRET}"))
        .args(["h.7z", "note.txt"]));
    run(Command::new("qpdf")
        .args(["--encrypt", SECRET, "o", "256", "--"])
        .arg(samples().join("note.pdf"))
        .arg("aes256.pdf"));
    run(Command::new("qpdf")
        .args(["--encrypt", SECRET, "o", "128", "--use-aes=y", "--"])
        .arg(samples().join("note.pdf"))
        .arg("aes128.pdf"));
    msoffcrypto("agile", &samples().join("note.docx"), &d.join("agile.docx"));
    msoffcrypto(
        "standard",
        &samples().join("note.docx"),
        &d.join("std.docx"),
    );
    let rar = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rar");
    let cases: [(&str, PathBuf); 9] = [
        ("zip ZipCrypto", d.join("zc.zip")),
        ("zip AES-256", d.join("aes.zip")),
        ("7z content (AES-256)", d.join("c.7z")),
        ("7z headers (AES-256)", d.join("h.7z")),
        ("PDF AES-256 (R6)", d.join("aes256.pdf")),
        ("PDF AES-128 (R4)", d.join("aes128.pdf")),
        ("OOXML agile (SHA-512 ×100,000)", d.join("agile.docx")),
        ("OOXML standard (SHA-1 ×50,000)", d.join("std.docx")),
        ("RAR4 encrypted entry", rar.join("crypted.rar")),
    ];
    let n = 20;
    let wrong: Vec<String> = (0..n).map(|i| format!("wrong-{i}")).collect();
    let refs: Vec<&str> = wrong.iter().map(String::as_str).collect();
    let limits = bank(&refs);
    for (what, path) in cases {
        let (_, base) = timed(&path, &Limits::default());
        let (c, with) = timed(&path, &limits);
        assert!(
            encrypted(&c).iter().any(|f| f
                .reason
                .contains(&format!("none of the {n} bank passwords"))),
            "{what}: {:?}",
            c.findings
        );
        let per = (with.saturating_sub(base)).as_secs_f64() * 1000.0 / n as f64;
        println!("{what}: {per:.2} ms per wrong password");
    }
}

fn timed(path: &Path, limits: &Limits) -> (Collect, Duration) {
    let start = Instant::now();
    let (c, _) = scan_with(path, limits);
    (c, start.elapsed())
}
