//! `baomi redact` as a user runs it: the real binary on a docx made by LibreOffice. The copy
//! scans clean with `baomi scan`, the summary gives counts and never a value, the input is
//! never overwritten, and bad input is exit code 2 with a message.
use std::path::Path;
use std::process::Command;

const SOFFICE: &str = "/usr/bin/soffice";

const FODT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
 office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.text">
<office:automatic-styles>
<style:style style:name="B" style:family="text"><style:text-properties fo:font-weight="bold"/></style:style>
</office:automatic-styles>
<office:body><office:text>
<text:p>关于走访情况的公示</text:p>
<text:p>身份证号：<text:span text:style-name="B">110105</text:span>19491231002X，手机 13812345678。</text:p>
<text:p>另一位：身份证 310115198001011238，手机 １３９１２３４５６７８。</text:p>
</office:text></office:body></office:document>
"#;

/// The values in FODT, none of which may ever be printed.
const VALUES: &[&str] = &[
    "11010519491231002X",
    "19491231002X",
    "13812345678",
    "310115198001011238",
    "１３９１２３４５６７８",
    "13912345678",
];

fn baomi(data: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_baomi"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .expect("running baomi");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn make_docx(dir: &Path) -> Option<std::path::PathBuf> {
    if !Path::new(SOFFICE).exists() {
        eprintln!("SKIPPED: {SOFFICE} is not installed (apt-get install libreoffice-writer-nogui)");
        return None;
    }
    let src = dir.join("公示.fodt");
    std::fs::write(&src, FODT).expect("write fodt");
    let out = Command::new(SOFFICE)
        .arg(format!(
            "-env:UserInstallation=file://{}",
            dir.join("profile").display()
        ))
        .args([
            "--headless",
            "--norestore",
            "--convert-to",
            "docx",
            "--outdir",
        ])
        .arg(dir)
        .arg(&src)
        .output()
        .expect("run soffice");
    let docx = dir.join("公示.docx");
    assert!(
        docx.exists(),
        "soffice made no docx: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(docx)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn redact_writes_a_copy_that_scans_clean_and_prints_no_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let Some(docx) = make_docx(dir.path()) else {
        return;
    };
    let original = std::fs::read(&docx).expect("read");

    // The original alerts (the test would mean nothing otherwise).
    let (code, stdout, _) = baomi(&data, &["scan", s(&docx), "--format", "json"]);
    assert!(stdout.contains("pii.resident_id"), "{code}: {stdout}");

    let out = dir.path().join("公示-脱敏.docx");
    let (code, stdout, stderr) = baomi(&data, &["redact", s(&docx), "-o", s(&out)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty(), "stdout: {stdout}");
    assert!(
        stderr.contains("已脱敏 4 处：身份证号 2，手机号 2 →"),
        "summary: {stderr}"
    );
    assert!(stderr.contains("公示-脱敏.docx"), "{stderr}");
    for v in VALUES {
        assert!(!stderr.contains(v), "a value was printed: {stderr}");
    }
    assert_eq!(
        std::fs::read(&docx).expect("read"),
        original,
        "input changed"
    );

    let (code, stdout, stderr) = baomi(&data, &["scan", s(&out), "--format", "json"]);
    assert!(!stdout.contains("\"pii."), "left in the copy: {stdout}");
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn redact_refuses_to_overwrite_its_input_and_reports_bad_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");

    let text = dir.path().join("名单.txt");
    std::fs::write(&text, "手机 13812345678\n").expect("write");
    for target in [
        text.clone(),
        dir.path().join(".").join("名单.txt"),
        dir.path().join("data").join("..").join("名单.txt"),
    ] {
        std::fs::create_dir_all(&data).expect("data dir");
        let (code, _, stderr) = baomi(&data, &["redact", s(&text), "-o", s(&target)]);
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains("refusing to overwrite the input"),
            "{stderr}"
        );
        assert!(!stderr.contains("13812345678"), "{stderr}");
    }
    assert_eq!(
        std::fs::read_to_string(&text).expect("read"),
        "手机 13812345678\n"
    );

    // A truncated docx, a PDF: exit 2, a message, no panic, no output file.
    let cases: [(&str, Vec<u8>, &str); 2] = [
        (
            "cut.docx",
            b"PK\x03\x04\x14\x00\x00\x00\x08\x00garbage".to_vec(),
            "damaged or truncated",
        ),
        (
            "a.pdf",
            b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n".to_vec(),
            "PDF: not supported, convert to DOCX first",
        ),
    ];
    for (name, bytes, message) in cases {
        let input = dir.path().join(name);
        std::fs::write(&input, bytes).expect("write");
        let out = dir.path().join(format!("out-{name}"));
        let (code, _, stderr) = baomi(&data, &["redact", s(&input), "-o", s(&out)]);
        assert_eq!(code, 2, "{name}: {stderr}");
        assert!(stderr.contains(message), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert!(!out.exists(), "{name}: output written on error");
    }
}
