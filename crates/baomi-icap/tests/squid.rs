//! Real Squid in front of the door, real curl uploads, real detection (baomi-engine).

mod common;

use std::sync::Arc;

use baomi_icap::{IcapConfig, IcapStats};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn squid_blocks_marked_and_bulk_personal_data_and_passes_clean_uploads() {
    let insp = Arc::new(EngineInspector::new());
    let srv = start(IcapConfig::default(), insp.clone()).await;
    let (up_port, received) = upstream();
    let icap_port = srv.addr.port();
    let state = srv.state.clone();

    tokio::task::spawn_blocking(move || {
        let squid = Squid::start(icap_port);
        let proxy = format!("http://127.0.0.1:{}", squid.port);
        let dir = tempfile::tempdir().unwrap();
        let url = |p: &str| format!("http://127.0.0.1:{up_port}{p}");

        // (a) A marked .docx in a multipart upload: the 403 page; the upstream never sees it.
        let marked = dir.path().join("关于项目进展的报告.docx");
        make_docx(
            &marked,
            &["机密★1年", "关于某项目进展情况的报告", "正文第一段。"],
        );
        let (code, page) = curl(&[
            "-x",
            &proxy,
            "-F",
            &format!("file=@{}", marked.display()),
            "-F",
            "comment=请审阅",
            &url("/upload/a"),
        ]);
        assert_eq!(
            code,
            403,
            "marked upload blocked; squid log:\n{}",
            squid.log()
        );
        assert!(
            page.contains("上传已被拦截") && page.contains("Upload blocked"),
            "{page}"
        );
        assert!(
            page.contains("TEST-0001") && page.contains("机密"),
            "{page}"
        );
        assert!(
            !page.contains("项目进展情况"),
            "the page never shows the content"
        );

        // (b) Clean uploads reach the upstream byte-identical: a raw binary POST larger than
        // the preview, and a clean .docx in a form.
        let raw: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
            .collect();
        let raw_path = dir.path().join("data.bin");
        std::fs::write(&raw_path, &raw).unwrap();
        let (code, body) = curl(&[
            "-x",
            &proxy,
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            &format!("@{}", raw_path.display()),
            &url("/upload/b"),
        ]);
        assert_eq!(
            (code, body.as_str()),
            (200, "received"),
            "squid log:\n{}",
            squid.log()
        );
        let clean = dir.path().join("通知.docx");
        make_docx(
            &clean,
            &["关于召开年度工作会议的通知", "请各部门按时参加。"],
        );
        let (code, _) = curl(&[
            "-x",
            &proxy,
            "-F",
            &format!("file=@{}", clean.display()),
            &url("/upload/c"),
        ]);
        assert_eq!(code, 200);

        // (c) A forum post with ten valid resident ID numbers.
        let ids: Vec<String> = (0..10)
            .map(|i| resident_id("110105", "19800101", 100 + i))
            .collect();
        let content = format!("报名名单：\n{}", ids.join("\n"));
        let (code, page) = curl(&[
            "-x",
            &proxy,
            "--data-urlencode",
            "title=报名表",
            "--data-urlencode",
            &format!("content={content}"),
            &url("/forum/post"),
        ]);
        assert_eq!(code, 403, "bulk personal data blocked");
        assert!(page.contains("TEST-0001"));
        assert!(
            !ids.iter().any(|id| page.contains(id.as_str())),
            "IDs never shown"
        );

        // The same post with two IDs passes (audit only).
        let (code, _) = curl(&[
            "-x",
            &proxy,
            "--data-urlencode",
            &format!("content={}\n{}", ids[0], ids[1]),
            &url("/forum/ok"),
        ]);
        assert_eq!(code, 200);

        let got = received.lock().unwrap();
        let paths: Vec<&str> = got.iter().map(|r| r.1.as_str()).collect();
        assert_eq!(
            paths,
            ["/upload/b", "/upload/c", "/forum/ok"],
            "blocked requests never arrive"
        );
        assert_eq!(got[0].3, raw, "clean upload byte-identical");
        let docx = std::fs::read(&clean).unwrap();
        assert!(
            got[1].3.windows(docx.len()).any(|w| w == docx),
            "clean .docx intact in the form"
        );
        drop(got);
        assert!(
            std::fs::read_to_string(squid.dir.path().join("access.log"))
                .unwrap()
                .contains("/upload/a"),
            "the blocked request went through squid"
        );
    })
    .await
    .unwrap();

    let seen = insp.seen.lock().unwrap().clone();
    assert!(
        seen.contains(&"关于项目进展的报告.docx".to_owned()),
        "{seen:?}"
    );
    assert!(seen.contains(&"form.txt".to_owned()), "{seen:?}");
    let clients = insp.clients.lock().unwrap().clone();
    assert!(
        clients
            .iter()
            .all(|c| *c == Some("127.0.0.1".parse().unwrap())),
        "icap_send_client_ip: {clients:?}"
    );
    assert_eq!(IcapStats::get(&state.stats.blocks), 2);
    assert!(
        IcapStats::get(&state.stats.options) >= 1,
        "squid asked OPTIONS"
    );
    srv.stop().await;
}
