//! Hidden content end to end: what a reviewer does not see on the page or in the pixels —
//! a PDF comment exported by LibreOffice, a photo's Windows comment and EXIF user comment
//! written by exiftool — gives the same findings as visible text would, on the part that
//! holds it.
use std::path::Path;
use std::process::Command;

use baomi_core::{Channel, FindingKind, Level};
use baomi_engine::{Engine, EngineConfig, ObjectReport};
use baomi_extract::Blob;

fn tool(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (scripts/deps.sh test installs it)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn inspect(path: &Path, name: &str) -> ObjectReport {
    let engine = Engine::new(EngineConfig::default()).expect("engine");
    engine.inspect(Blob::from_path(path).expect("file"), name, Channel::Scan)
}

const COMMENTED_FODT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:dc="http://purl.org/dc/elements/1.1/"
 office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.text">
<office:body><office:text>
<text:p>关于季度工作安排的说明</text:p>
<text:p>请各部门按时提交材料<office:annotation><dc:creator>李四</dc:creator><dc:date>2024-01-01T00:00:00</dc:date><text:p>机密★1年 内部讨论稿</text:p></office:annotation>。</text:p>
</office:text></office:body></office:document>
"#;

#[test]
fn marking_in_a_pdf_comment_is_found_on_the_annotation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("agenda.fodt");
    std::fs::write(&source, COMMENTED_FODT).expect("write fodt");
    let profile = dir.path().join("lo-profile");
    tool(
        Command::new("soffice")
            .arg(format!(
                "-env:UserInstallation=file://{}",
                profile.display()
            ))
            .args([
                "--headless",
                "--convert-to",
                r#"pdf:writer_pdf_Export:{"ExportNotes":{"type":"boolean","value":"true"}}"#,
                "--outdir",
            ])
            .arg(dir.path())
            .arg(&source),
    );
    let report = inspect(&dir.path().join("agenda.pdf"), "agenda.pdf");
    let markings: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Marking)
        .collect();
    assert_eq!(markings.len(), 1, "{:#?}", report.findings);
    assert_eq!(markings[0].part, "agenda.pdf/page 1#annot");
    assert_eq!(markings[0].level, Some(Level::Secret));

    // The same document exported without its notes is clean.
    let plain = dir.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    tool(
        Command::new("soffice")
            .arg(format!(
                "-env:UserInstallation=file://{}",
                profile.display()
            ))
            .args(["--headless", "--convert-to", "pdf", "--outdir"])
            .arg(&plain)
            .arg(&source),
    );
    let report = inspect(&plain.join("agenda.pdf"), "agenda.pdf");
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.kind != FindingKind::Marking),
        "{:#?}",
        report.findings
    );
}

#[test]
fn marking_and_personal_data_in_photo_metadata() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jpg = dir.path().join("photo.jpg");
    tool(
        Command::new("convert")
            .args(["-size", "200x100", "xc:white"])
            .arg(&jpg),
    );
    tool(
        Command::new("exiftool")
            .args(["-q", "-overwrite_original", "-XPComment=机密★5年"])
            .arg("-UserComment=身份证号 11010519491231002X 110105194912310029 11010519491231002X")
            .arg(&jpg),
    );
    let report = inspect(&jpg, "photo.jpg");
    let marking = report
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::Marking)
        .unwrap_or_else(|| panic!("no marking: {:#?}", report.findings));
    assert_eq!(marking.part, "photo.jpg#exif");
    assert_eq!(marking.level, Some(Level::Secret));
    let ids: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::ResidentId)
        .collect();
    // The one with a wrong check digit is not an ID.
    assert!(!ids.is_empty(), "{:#?}", report.findings);
    assert!(ids.iter().all(|f| f.part == "photo.jpg#exif"));
    assert!(ids.iter().all(|f| f.text == "11010519491231002X"));
}
