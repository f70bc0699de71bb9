//! End to end, as a user runs it: `baomi scan --format json` over the corpus that
//! `tests/corpus/make.sh` builds with real tools (LibreOffice, zip, 7-Zip, tar, Python's
//! email package). What each file must give is `tests/corpus/EXPECTED.md`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The corpus, built once per test run.
fn corpus() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("baomi-corpus-{}", std::process::id()));
        let status = Command::new("bash")
            .arg(repo_root().join("tests/corpus/make.sh"))
            .arg(&dir)
            .status()
            .expect("running tests/corpus/make.sh");
        assert!(status.success(), "tests/corpus/make.sh failed");
        dir
    })
}

struct Scan {
    reports: HashMap<String, Value>,
    exit: i32,
}

fn scan(args: &[&str]) -> Scan {
    static DATA: OnceLock<tempfile::TempDir> = OnceLock::new();
    let data = DATA.get_or_init(|| tempfile::tempdir().unwrap());
    let out = Command::new(env!("CARGO_BIN_EXE_baomi"))
        .arg("--data-dir")
        .arg(data.path())
        .arg("scan")
        .args(args)
        .args(["--format", "json", "--no-progress"])
        .output()
        .expect("running baomi");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8 output");
    let mut reports = HashMap::new();
    for line in stdout.lines() {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON line {line}: {e}"));
        let name = Path::new(v["path"].as_str().unwrap())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        reports.insert(name, v);
    }
    Scan {
        reports,
        exit: out.status.code().unwrap_or(-1),
    }
}

fn whole_corpus() -> &'static Scan {
    static SCAN: OnceLock<Scan> = OnceLock::new();
    SCAN.get_or_init(|| scan(&[corpus().to_str().unwrap()]))
}

fn report(name: &str) -> &'static Value {
    whole_corpus()
        .reports
        .get(name)
        .unwrap_or_else(|| panic!("no report for {name}"))
}

fn findings<'a>(r: &'a Value, kind: &str) -> Vec<&'a Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

/// A finding of `kind` (and `level`) whose part path ends with `part_suffix`.
fn has(r: &Value, kind: &str, level: Option<&str>, part_suffix: &str) -> bool {
    findings(r, kind).iter().any(|f| {
        level.is_none_or(|l| f["level"] == l)
            && f["part"].as_str().unwrap_or("").ends_with(part_suffix)
    })
}

fn dump(r: &Value) -> String {
    serde_json::to_string_pretty(&r["findings"]).unwrap()
}

#[test]
fn secret_notice_docx_marking_in_header_and_head() {
    let r = report("notice-secret.docx");
    assert!(
        has(r, "marking", Some("secret"), "word/header1.xml"),
        "{}",
        dump(r)
    );
    assert!(
        has(r, "marking", Some("secret"), "word/document.xml"),
        "{}",
        dump(r)
    );
    assert_eq!(findings(r, "pii.resident_id").len(), 0, "{}", dump(r));
    assert_eq!(r["verdict"], "block");
    assert_eq!(r["type"], "docx");
}

#[test]
fn clean_report_full_of_mentions_has_no_marking() {
    let r = report("report-clean.docx");
    assert!(findings(r, "marking").is_empty(), "{}", dump(r));
    assert!(r["verdict"] != "block", "{r}");
}

#[test]
fn odt_header_from_styles() {
    let r = report("minutes.odt");
    assert!(
        has(r, "marking", Some("confidential"), "styles.xml"),
        "{}",
        dump(r)
    );
}

#[test]
fn xlsx_twelve_ids_exactly_twelve_mobiles_masked() {
    let r = report("table.xlsx");
    let ids = findings(r, "pii.resident_id");
    assert_eq!(ids.len(), 12, "{}", dump(r));
    assert_eq!(findings(r, "pii.mobile").len(), 12, "{}", dump(r));
    assert!(findings(r, "marking").is_empty(), "{}", dump(r));
    // Masked by default: the middle digits never reach the output.
    for f in ids {
        let t = f["text"].as_str().unwrap();
        assert!(t.contains('*'), "unmasked ID in output: {t}");
    }
    assert_eq!(r["verdict"], "block", "10 or more IDs block");
}

#[test]
fn pptx_internal_marking_on_slide() {
    let r = report("slides.pptx");
    assert!(
        has(r, "marking", Some("internal"), "ppt/slides/slide1.xml"),
        "{}",
        dump(r)
    );
}

#[test]
fn pdf_marking_in_text_layer() {
    let r = report("notice.pdf");
    assert!(has(r, "marking", Some("secret"), ""), "{}", dump(r));
    assert_eq!(r["type"], "pdf");
}

#[test]
fn legacy_word_excel_and_wps() {
    let r = report("notice-secret.doc");
    assert_eq!(r["type"], "doc");
    let header = findings(r, "marking");
    assert!(
        header
            .iter()
            .any(|f| f["level"] == "secret" && f["part"].as_str().unwrap().contains("header")),
        "{}",
        dump(r)
    );
    assert_eq!(r["verdict"], "block");
    let r = report("table.xls");
    assert_eq!(findings(r, "pii.resident_id").len(), 12, "{}", dump(r));
    assert_eq!(findings(r, "pii.mobile").len(), 12, "{}", dump(r));
    let r = report("通知.wps");
    assert!(findings(r, "type_mismatch").is_empty(), "{}", dump(r));
    assert!(
        findings(r, "marking")
            .iter()
            .any(|f| f["level"] == "secret"),
        "{}",
        dump(r)
    );
}

#[test]
fn marking_in_file_name_only() {
    let r = report("关于调整人员的通知（秘密）.txt");
    let m = findings(r, "marking");
    assert_eq!(m.len(), 1, "{}", dump(r));
    assert_eq!(m[0]["level"], "confidential");
}

#[test]
fn gbk_traditional_and_utf16_texts() {
    let r = report("gbk-notice.txt");
    let m = findings(r, "marking");
    assert!(
        m.iter()
            .any(|f| f["level"] == "top_secret" && f["line"] == 1),
        "{}",
        dump(r)
    );
    // Evidence shows what was written (Traditional), not the normalised form.
    assert!(
        m.iter()
            .any(|f| f["text"].as_str().unwrap().contains("絕密")),
        "{}",
        dump(r)
    );
    let r = report("utf16.txt");
    assert!(
        findings(r, "marking")
            .iter()
            .any(|f| f["level"] == "confidential" && f["line"] == 2),
        "{}",
        dump(r)
    );
}

#[test]
fn renamed_and_extensionless_docx() {
    let r = report("holiday-photo.jpg");
    assert_eq!(r["type"], "docx");
    assert_eq!(r["declared_type"], "jpeg");
    assert!(!findings(r, "type_mismatch").is_empty(), "{}", dump(r));
    assert!(
        has(r, "marking", Some("secret"), "word/header1.xml"),
        "{}",
        dump(r)
    );
    let r = report("noext");
    assert_eq!(r["type"], "docx");
    assert!(
        has(r, "marking", Some("secret"), "word/header1.xml"),
        "{}",
        dump(r)
    );
}

#[test]
fn archives_gbk_names_7z_targz() {
    for name in ["bundle.zip", "bundle.7z", "bundle.tar.gz"] {
        let r = report(name);
        assert!(
            has(
                r,
                "marking",
                Some("secret"),
                "notice-secret.docx/word/header1.xml"
            ),
            "{name}: {}",
            dump(r)
        );
        assert!(
            findings(r, "marking")
                .iter()
                .any(|f| f["level"] == "confidential"
                    && f["part"]
                        .as_str()
                        .unwrap()
                        .ends_with("关于调整人员的通知（秘密）.txt")),
            "{name}: the GBK entry name must decode: {}",
            dump(r)
        );
        assert_eq!(
            findings(r, "pii.resident_id").len(),
            12,
            "{name}: {}",
            dump(r)
        );
    }
}

#[test]
fn encrypted_archives() {
    for name in ["secret-locked.zip", "secret-aes.7z", "aes.zip"] {
        let r = report(name);
        assert!(!findings(r, "encrypted").is_empty(), "{name}: {}", dump(r));
        assert!(
            r["verdict"] == "alert" || r["verdict"] == "block",
            "{name}: {r}"
        );
    }
}

#[test]
fn docx_in_zip_in_eml() {
    let r = report("leak.eml");
    assert!(
        has(
            r,
            "marking",
            Some("secret"),
            "leak.eml/材料.zip/重点项目核查通知.docx/word/header1.xml"
        ),
        "{}",
        dump(r)
    );
    assert_eq!(r["type"], "eml");
}

#[test]
fn mbox_ids_and_subject_marking() {
    let r = report("inbox.mbox");
    assert_eq!(findings(r, "pii.resident_id").len(), 3, "{}", dump(r));
    assert!(
        findings(r, "marking").iter().any(
            |f| f["level"] == "confidential" && f["part"].as_str().unwrap().contains("message")
        ),
        "{}",
        dump(r)
    );
}

#[test]
fn bombs_deep_nesting_and_garbage_are_findings() {
    let r = report("bomb.zip");
    assert!(!findings(r, "limit").is_empty(), "{}", dump(r));
    let r = report("deep.zip");
    let limits = findings(r, "limit");
    assert!(
        limits.iter().any(|f| f["reason"]
            .as_str()
            .unwrap()
            .contains("nesting depth 9 > 8")),
        "{}",
        dump(r)
    );
    assert!(
        findings(r, "marking").is_empty(),
        "beyond the depth limit: {}",
        dump(r)
    );
    for name in ["truncated.docx", "garbage.pdf"] {
        let r = report(name);
        assert!(!findings(r, "unreadable").is_empty(), "{name}: {}", dump(r));
    }
}

#[test]
fn whole_corpus_exits_1_and_lists_every_file() {
    let s = whole_corpus();
    assert_eq!(s.exit, 1);
    assert!(
        s.reports.len() >= 22,
        "{:?}",
        s.reports.keys().collect::<Vec<_>>()
    );
}

#[test]
fn deeper_limit_reaches_the_secret() {
    let path = corpus().join("deep.zip");
    let s = scan(&[path.to_str().unwrap(), "--max-depth", "12"]);
    let r = &s.reports["deep.zip"];
    assert!(
        has(r, "marking", Some("secret"), "deep-secret.txt"),
        "{}",
        dump(r)
    );
}

#[test]
fn show_values_unmasks_personal_data() {
    let path = corpus().join("table.xlsx");
    let s = scan(&[path.to_str().unwrap(), "--show-values"]);
    let r = &s.reports["table.xlsx"];
    assert!(
        findings(r, "pii.resident_id")
            .iter()
            .any(|f| f["text"].as_str().unwrap().contains("440106196911096174")),
        "{}",
        dump(r)
    );
}
