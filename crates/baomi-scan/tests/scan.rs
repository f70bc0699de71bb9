//! The file-system door: walking, excludes, symlinks, JSON Lines shape, exit codes.

use std::fs;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use baomi_engine::{Engine, EngineConfig};
use baomi_scan::output::{Format, writer};
use baomi_scan::{ScanOptions, scan_to};

/// A `Write` whose bytes the test can read afterwards.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn run(options: &ScanOptions, format: Format) -> (baomi_scan::Summary, String) {
    let engine = Engine::new(EngineConfig::default()).unwrap();
    let buf = Shared::default();
    let mut w = writer(format, Box::new(buf.clone()), false);
    let (summary, result) = scan_to(&engine, options, w.as_mut(), |_| {});
    result.unwrap();
    let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (summary, out)
}

fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("sub/deeper")).unwrap();
    fs::write(dir.path().join("a.txt"), "会议纪要\n").unwrap();
    fs::write(dir.path().join("sub/b.txt"), "通知\n").unwrap();
    fs::write(dir.path().join("sub/deeper/c.log"), "日志\n").unwrap();
    fs::write(dir.path().join(".hidden.txt"), "隐藏文件也要检查\n").unwrap();
    dir
}

#[test]
fn json_lines_has_one_object_per_file_with_the_contract_fields() {
    let dir = tree();
    let opts = ScanOptions {
        paths: vec![dir.path().to_path_buf()],
        threads: 2,
        ..Default::default()
    };
    let (summary, out) = run(&opts, Format::Json);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(summary.files, 4);
    for v in &lines {
        for key in [
            "path",
            "type",
            "declared_type",
            "size",
            "verdict",
            "findings",
            "errors",
        ] {
            assert!(v.get(key).is_some(), "missing {key} in {v}");
        }
    }
    let paths: Vec<&str> = lines.iter().map(|v| v["path"].as_str().unwrap()).collect();
    assert!(
        paths.iter().any(|p| p.ends_with(".hidden.txt")),
        "hidden files are scanned: {paths:?}"
    );
}

#[test]
fn excludes_leave_out_matching_paths() {
    let dir = tree();
    let opts = ScanOptions {
        paths: vec![dir.path().to_path_buf()],
        excludes: vec!["*.log".into(), "sub/b.txt".into()],
        ..Default::default()
    };
    let (summary, out) = run(&opts, Format::Json);
    assert!(!out.contains("c.log"), "{out}");
    assert!(
        !out.contains("b.txt"),
        "anchored to the scanned directory: {out}"
    );
    assert_eq!(summary.files, 2, "{out}");
}

#[cfg(unix)]
#[test]
fn symlinks_are_not_followed_unless_asked() {
    let dir = tree();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("elsewhere.txt"), "外部文件\n").unwrap();
    std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
    let mut opts = ScanOptions {
        paths: vec![dir.path().to_path_buf()],
        ..Default::default()
    };
    let (_, out) = run(&opts, Format::Json);
    assert!(!out.contains("elsewhere.txt"), "{out}");
    opts.follow_symlinks = true;
    let (_, out) = run(&opts, Format::Json);
    assert!(out.contains("elsewhere.txt"), "{out}");
}

#[test]
fn a_missing_path_is_an_error_and_exit_code_2() {
    let opts = ScanOptions {
        paths: vec!["/nonexistent/baomi".into()],
        ..Default::default()
    };
    let (summary, out) = run(&opts, Format::Json);
    assert_eq!(summary.errors, 1);
    assert_eq!(summary.exit_code(), 2);
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(v["path"], "/nonexistent/baomi");
    assert_eq!(v["errors"].as_array().unwrap().len(), 1);
}

#[test]
fn csv_and_html_render_with_a_header_even_when_clean() {
    let dir = tempfile::tempdir().unwrap();
    let opts = ScanOptions {
        paths: vec![dir.path().to_path_buf()],
        ..Default::default()
    };
    let (_, csv) = run(&opts, Format::Csv);
    assert!(
        csv.starts_with("path,type,declared_type,size,verdict,kind,level"),
        "{csv}"
    );
    let (_, html) = run(&opts, Format::Html);
    assert!(
        html.contains("<title>保密检查报告</title>") && html.contains("检查文件数"),
        "{html}"
    );
}
