//! Debian's `c-icap-client` (package c-icap) against the door, with real detection.

mod common;

use std::process::Command;
use std::sync::Arc;

use baomi_icap::IcapConfig;
use common::*;

fn c_icap_client(port: u16, args: &[&str]) -> String {
    let tool = require_tool("c-icap-client", "c-icap");
    let out = Command::new(tool)
        .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-v"])
        .args(args)
        .output()
        .unwrap();
    // c-icap-client prints the ICAP answer headers on stderr with -v, the body on stdout.
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_icap_client_options_clean_and_marked() {
    let insp = Arc::new(EngineInspector::new());
    let srv = start(IcapConfig::default(), insp.clone()).await;
    let port = srv.addr.port();
    let dir = tempfile::tempdir().unwrap();

    let out = tokio::task::spawn_blocking(move || c_icap_client(port, &["-s", "reqmod"]))
        .await
        .unwrap();
    assert!(out.contains("ICAP/1.0 200 OK"), "{out}");
    assert!(out.contains("Methods: REQMOD"), "{out}");
    assert!(out.contains("Preview: 4096"), "{out}");

    let clean = dir.path().join("clean.docx");
    make_docx(
        &clean,
        &["关于召开年度工作会议的通知", "请各部门按时参加。"],
    );
    let marked = dir.path().join("report.docx");
    make_docx(
        &marked,
        &["机密★1年", "关于某项目进展情况的报告", "正文内容。"],
    );
    let (c, m) = (
        clean.to_str().unwrap().to_owned(),
        marked.to_str().unwrap().to_owned(),
    );

    let out = tokio::task::spawn_blocking(move || {
        c_icap_client(
            port,
            &[
                "-s",
                "reqmod",
                "-f",
                &c,
                "-req",
                "http://upload.example/up/clean.docx",
            ],
        )
    })
    .await
    .unwrap();
    assert!(out.contains("ICAP/1.0 204"), "clean file passes: {out}");

    let out = tokio::task::spawn_blocking(move || {
        c_icap_client(
            port,
            &[
                "-s",
                "reqmod",
                "-f",
                &m,
                "-req",
                "http://upload.example/up/report.docx",
            ],
        )
    })
    .await
    .unwrap();
    assert!(out.contains("ICAP/1.0 200 OK"), "{out}");
    assert!(out.contains("HTTP/1.1 403 Forbidden"), "{out}");
    assert!(
        out.contains("TEST-0001") && out.contains("上传已被拦截"),
        "{out}"
    );
    assert!(out.contains("机密"), "the level is named: {out}");
    assert!(
        !out.contains("关于某项目"),
        "the page never shows the content"
    );
    let seen = insp.seen.lock().unwrap().clone();
    assert_eq!(seen, ["clean.docx", "report.docx"]);
    srv.stop().await;
}
