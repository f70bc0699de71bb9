//! ICAP over a real TCP socket, with a hand-written client sending raw bytes.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use baomi_icap::{IcapConfig, IcapStats, ObjectKind};
use common::*;

fn marked_body(len: usize, marker_at: usize) -> Vec<u8> {
    let mut b = vec![b'a'; len];
    let m = "机密★10年".as_bytes();
    b[marker_at..marker_at + m.len()].copy_from_slice(m);
    b
}

#[tokio::test]
async fn options_advertises_the_service() {
    let insp = Arc::new(MarkerInspector::default());
    let cfg = IcapConfig {
        istag: "policy-42".into(),
        max_connections: 77,
        ..Default::default()
    };
    let srv = start(cfg, insp).await;
    let mut c = Client::connect(srv.addr).await;
    c.send(
        format!(
            "OPTIONS icap://{}/reqmod ICAP/1.0\r\nHost: x\r\n\r\n",
            srv.addr
        )
        .as_bytes(),
    )
    .await;
    let a = c.answer().await.unwrap();
    assert_eq!(a.status, 200);
    assert_eq!(a.header("Methods"), Some("REQMOD"));
    assert_eq!(a.header("ISTag"), Some("\"policy-42\""));
    assert_eq!(a.header("Preview"), Some("4096"));
    assert_eq!(a.header("Transfer-Preview"), Some("*"));
    assert_eq!(a.header("Allow"), Some("204"));
    assert_eq!(a.header("Max-Connections"), Some("77"));
    assert_eq!(a.header("Options-TTL"), Some("3600"));
    assert_eq!(a.header("Encapsulated"), Some("null-body=0"));
    assert!(a.header("Service").unwrap().contains("baomi"));

    // Same connection: the respmod service, then an ISTag change is visible.
    srv.state.set_istag("policy-43");
    c.send(
        format!(
            "OPTIONS icap://{}/respmod ICAP/1.0\r\nHost: x\r\n\r\n",
            srv.addr
        )
        .as_bytes(),
    )
    .await;
    let a = c.answer().await.unwrap();
    assert_eq!(a.header("Methods"), Some("RESPMOD"));
    assert_eq!(a.header("ISTag"), Some("\"policy-43\""));

    // Unknown service: 404.
    let mut c = Client::connect(srv.addr).await;
    c.send(
        format!(
            "OPTIONS icap://{}/nosuch ICAP/1.0\r\nHost: x\r\n\r\n",
            srv.addr
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(c.answer().await.unwrap().status, 404);
    srv.stop().await;
}

#[tokio::test]
async fn preview_then_continue_then_block_page() {
    let insp = Arc::new(MarkerInspector::default());
    let srv = start(IcapConfig::default(), insp.clone()).await;
    // The marking lies after the 4096-byte preview: only the full body shows it.
    let body = marked_body(10_000, 8_000);
    let head = post_head("/upload", "application/octet-stream", body.len());
    let (first, rest) = reqmod(srv.addr, &head, Some(&body), Some(4096), true);
    let mut c = Client::connect(srv.addr).await;
    c.send(&first).await;
    let a = c.answer().await.unwrap();
    assert_eq!(a.status, 100, "preview without ieof asks for the rest");
    c.send(&rest.unwrap()).await;
    let a = c.answer().await.unwrap();
    assert_eq!(a.status, 200);
    assert!(
        a.header("Encapsulated")
            .unwrap()
            .starts_with("res-hdr=0, res-body=")
    );
    assert!(a.http_head_str().starts_with("HTTP/1.1 403 Forbidden\r\n"));
    let page = a.body_str();
    assert!(
        page.contains("INC-7") && page.contains("上传已被拦截") && page.contains("Upload blocked")
    );
    assert!(!page.contains("10年"), "the page never repeats the content");
    let seen = insp.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, "upload");
    assert_eq!(seen[0].1, ObjectKind::Raw);
    assert_eq!(seen[0].2, body, "inspector saw the whole body");
    assert_eq!(IcapStats::get(&srv.state.stats.blocks), 1);
    srv.stop().await;
}

#[tokio::test]
async fn clean_body_after_continue_is_204() {
    let insp = Arc::new(MarkerInspector::default());
    let srv = start(IcapConfig::default(), insp).await;
    let body = vec![b'x'; 9000];
    let head = post_head("/a", "text/plain", body.len());
    let (first, rest) = reqmod(srv.addr, &head, Some(&body), Some(100), true);
    let mut c = Client::connect(srv.addr).await;
    c.send(&first).await;
    assert_eq!(c.answer().await.unwrap().status, 100);
    c.send(&rest.unwrap()).await;
    let a = c.answer().await.unwrap();
    assert_eq!(a.status, 204);
    assert!(a.header("ISTag").is_some());
    srv.stop().await;
}

#[tokio::test]
async fn ieof_preview_is_answered_without_continue() {
    let insp = Arc::new(MarkerInspector::default());
    let srv = start(IcapConfig::default(), insp.clone()).await;
    let mut c = Client::connect(srv.addr).await;
    // Whole body inside the preview, clean, and no Allow: 204: a 204 is still allowed in
    // answer to a preview.
    let body = b"hello world".to_vec();
    let head = post_head("/a", "text/plain", body.len());
    let (first, rest) = reqmod(srv.addr, &head, Some(&body), Some(4096), false);
    assert!(rest.is_none());
    assert!(first.ends_with(b"0; ieof\r\n\r\n"));
    c.send(&first).await;
    let a = c.answer().await.unwrap();
    assert_eq!(a.status, 204, "204 inside preview");
    // A marked body, whole in the preview: blocked, still no 100 Continue.
    let body = marked_body(200, 50);
    let head = post_head("/a", "text/plain", body.len());
    let (first, _) = reqmod(srv.addr, &head, Some(&body), Some(4096), true);
    c.send(&first).await;
    let a = c.answer().await.unwrap();
    assert_eq!(a.status, 200);
    assert!(a.http_head_str().contains("403"));
    srv.stop().await;
}

#[tokio::test]
async fn keep_alive_serves_many_requests_and_echoes_without_allow_204() {
    let insp = Arc::new(MarkerInspector::default());
    let srv = start(IcapConfig::default(), insp).await;
    let mut c = Client::connect(srv.addr).await;
    for i in 0..5 {
        c.send(format!("OPTIONS icap://{}/reqmod ICAP/1.0\r\n\r\n", srv.addr).as_bytes())
            .await;
        assert_eq!(c.answer().await.unwrap().status, 200);

        let body = format!("clean body {i}").into_bytes();
        let head = post_head("/x", "text/plain", body.len());
        c.send(&reqmod(srv.addr, &head, Some(&body), None, true).0)
            .await;
        assert_eq!(c.answer().await.unwrap().status, 204);

        let body = marked_body(3000, 2000);
        let head = post_head("/x", "text/plain", body.len());
        c.send(&reqmod(srv.addr, &head, Some(&body), None, true).0)
            .await;
        assert_eq!(c.answer().await.unwrap().status, 200);

        // A GET: no body at all.
        let get = "GET http://upload.example/ HTTP/1.1\r\nHost: upload.example\r\n\r\n";
        c.send(&reqmod(srv.addr, get, None, None, true).0).await;
        assert_eq!(c.answer().await.unwrap().status, 204);

        // Without Allow: 204 the message comes back unmodified.
        let body: Vec<u8> = (0..70_000u32).map(|i| (i % 256) as u8).collect();
        let head = post_head("/y", "application/octet-stream", body.len());
        c.send(&reqmod(srv.addr, &head, Some(&body), None, false).0)
            .await;
        let a = c.answer().await.unwrap();
        assert_eq!(a.status, 200);
        assert_eq!(
            a.header("Encapsulated").unwrap(),
            format!("req-hdr=0, req-body={}", head.len())
        );
        assert_eq!(a.http_head_str(), head);
        assert_eq!(a.body, body);
    }
    assert_eq!(IcapStats::get(&srv.state.stats.connections), 1);
    srv.stop().await;
}

#[tokio::test]
async fn malformed_requests_get_400_and_the_server_goes_on() {
    let insp = Arc::new(MarkerInspector::default());
    let srv = start(IcapConfig::default(), insp).await;
    let cases: Vec<Vec<u8>> = vec![
        b"HELLO\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        format!("REQMOD icap://{}/reqmod ICAP/1.0\r\nEncapsulated: req-body=0, req-hdr=9\r\n\r\n", srv.addr).into_bytes(),
        format!("REQMOD icap://{}/reqmod ICAP/1.0\r\n\r\n", srv.addr).into_bytes(),
        format!("REQMOD icap://{}/reqmod ICAP/1.0\r\nEncapsulated: req-hdr=0, req-body=10\r\n\r\nNOT HTTP\r\n", srv.addr).into_bytes(),
        format!("REQMOD icap://{}/reqmod ICAP/1.0\r\nEncapsulated: req-hdr=0, req-body=37\r\n\r\nPOST http://h/ HTTP/1.1\r\nHost: h\r\n\r\nzz\r\nabc\r\n", srv.addr).into_bytes(),
        b"REQMOD icap://h/reqmod ICAP/1.0\r\nBad Header Line\r\n\r\n".to_vec(),
    ];
    for (i, case) in cases.iter().enumerate() {
        let mut c = Client::connect(srv.addr).await;
        c.send(case).await;
        let a = c
            .answer()
            .await
            .unwrap_or_else(|| panic!("case {i}: an answer"));
        assert_eq!(a.status, 400, "case {i}");
        assert!(
            c.closed_within(Duration::from_secs(5)).await,
            "case {i}: closed after 400"
        );
    }
    // REQMOD sent to the respmod service.
    let mut c = Client::connect(srv.addr).await;
    c.send(
        format!(
            "REQMOD icap://{}/respmod ICAP/1.0\r\nEncapsulated: null-body=0\r\n\r\n",
            srv.addr
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(c.answer().await.unwrap().status, 405);
    // The next connection is served normally.
    let mut c = Client::connect(srv.addr).await;
    c.send(format!("OPTIONS icap://{}/reqmod ICAP/1.0\r\n\r\n", srv.addr).as_bytes())
        .await;
    assert_eq!(c.answer().await.unwrap().status, 200);
    assert!(IcapStats::get(&srv.state.stats.errors) >= 8);
    srv.stop().await;
}

#[tokio::test]
async fn truncated_chunk_closes_and_the_server_goes_on() {
    let insp = Arc::new(MarkerInspector::default());
    let srv = start(IcapConfig::default(), insp.clone()).await;
    let head = post_head("/t", "text/plain", 256);
    let mut c = Client::connect(srv.addr).await;
    c.send(format!("REQMOD icap://{}/reqmod ICAP/1.0\r\nAllow: 204\r\nEncapsulated: req-hdr=0, req-body={}\r\n\r\n{head}100\r\nonly a few bytes", srv.addr, head.len()).as_bytes()).await;
    c.r.get_mut().shutdown().await.unwrap();
    assert!(c.closed_within(Duration::from_secs(5)).await);
    assert!(
        insp.seen.lock().unwrap().is_empty(),
        "a truncated body is never inspected as whole"
    );
    let mut c = Client::connect(srv.addr).await;
    let (req, _) = reqmod(
        srv.addr,
        &post_head("/t", "text/plain", 2),
        Some(b"ok"),
        None,
        true,
    );
    c.send(&req).await;
    assert_eq!(c.answer().await.unwrap().status, 204);
    srv.stop().await;
}

use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn slow_clients_time_out() {
    let insp = Arc::new(MarkerInspector::default());
    let cfg = IcapConfig {
        idle_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    let srv = start(cfg, insp).await;
    // Half a request head, then silence.
    let mut c = Client::connect(srv.addr).await;
    c.send(b"REQMOD icap://h/reqmod ICAP/1.0\r\nHost:").await;
    let t = Instant::now();
    let a = c.answer().await;
    assert!(a.is_none() || a.unwrap().status == 408);
    assert!(t.elapsed() < Duration::from_secs(5));
    // A body that stalls mid-chunk.
    let head = post_head("/s", "text/plain", 1000);
    let mut c = Client::connect(srv.addr).await;
    c.send(format!("REQMOD icap://h/reqmod ICAP/1.0\r\nEncapsulated: req-hdr=0, req-body={}\r\n\r\n{head}3e8\r\nabc", head.len()).as_bytes()).await;
    let t = Instant::now();
    assert!(c.closed_within(Duration::from_secs(5)).await);
    assert!(t.elapsed() >= Duration::from_millis(400));
    // An idle keep-alive connection is closed too.
    let mut c = Client::connect(srv.addr).await;
    assert!(c.closed_within(Duration::from_secs(5)).await);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_connections() {
    let insp = Arc::new(MarkerInspector {
        delay: Some(Duration::from_millis(50)),
        ..Default::default()
    });
    let srv = start(IcapConfig::default(), insp).await;
    let addr = srv.addr;
    let mut tasks = Vec::new();
    for i in 0..200 {
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(addr).await;
            let blocked = i % 3 == 0;
            let body = if blocked {
                marked_body(5000, 4500)
            } else {
                vec![b'z'; 5000]
            };
            let head = post_head("/c", "text/plain", body.len());
            let (first, rest) = reqmod(addr, &head, Some(&body), Some(1024), true);
            c.send(&first).await;
            assert_eq!(c.answer().await.unwrap().status, 100);
            c.send(&rest.unwrap()).await;
            let a = c.answer().await.unwrap();
            assert_eq!(a.status, if blocked { 200 } else { 204 }, "connection {i}");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(IcapStats::get(&srv.state.stats.connections), 200);
    assert_eq!(IcapStats::get(&srv.state.stats.blocks), 67);
    assert_eq!(IcapStats::get(&srv.state.stats.no_content), 133);
    srv.stop().await;
}

async fn one_request(cfg: IcapConfig, insp: MarkerInspector, body: &[u8]) -> common::Answer {
    let srv = start(cfg, Arc::new(insp)).await;
    let mut c = Client::connect(srv.addr).await;
    let head = post_head("/f", "text/plain", body.len());
    c.send(&reqmod(srv.addr, &head, Some(body), None, true).0)
        .await;
    let a = c.answer().await.unwrap();
    srv.stop().await;
    a
}

#[tokio::test]
async fn fail_closed_and_fail_open() {
    let broken = || MarkerInspector {
        fail: true,
        ..Default::default()
    };
    let slow = || MarkerInspector {
        delay: Some(Duration::from_secs(5)),
        ..Default::default()
    };
    let closed = IcapConfig {
        inspect_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let open = IcapConfig {
        fail_open: true,
        ..closed.clone()
    };
    let a = one_request(closed.clone(), broken(), b"clean").await;
    assert_eq!(a.status, 200);
    assert!(a.body_str().contains("检查失败"));
    let t = Instant::now();
    let a = one_request(closed.clone(), slow(), b"clean").await;
    assert_eq!(a.status, 200);
    assert!(a.body_str().contains("检查超时"));
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(
        one_request(open.clone(), broken(), b"clean").await.status,
        204
    );
    assert_eq!(
        one_request(open.clone(), slow(), b"clean").await.status,
        204
    );

    // Over max_body: not inspected; the fail mode decides, with a limit reason.
    let big = vec![b'q'; 50_000];
    let small = |c: &IcapConfig| IcapConfig {
        max_body: 10_000,
        ..c.clone()
    };
    let a = one_request(small(&closed), MarkerInspector::default(), &big).await;
    assert_eq!(a.status, 200);
    assert!(a.body_str().contains("10000"), "{}", a.body_str());
    let a = one_request(small(&open), MarkerInspector::default(), &big).await;
    assert_eq!(a.status, 204);
}

#[tokio::test]
async fn respmod_blocks_a_marked_download() {
    let insp = Arc::new(MarkerInspector::default());
    let srv = start(IcapConfig::default(), insp.clone()).await;
    let req =
        "GET http://files.example/d/%E9%80%9A%E7%9F%A5.txt HTTP/1.1\r\nHost: files.example\r\n\r\n";
    let body = marked_body(600, 100);
    let res = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut msg = format!(
        "RESPMOD icap://{}/respmod ICAP/1.0\r\nAllow: 204\r\nEncapsulated: req-hdr=0, res-hdr={}, res-body={}\r\n\r\n{req}{res}",
        srv.addr,
        req.len(),
        req.len() + res.len()
    )
    .into_bytes();
    msg.extend_from_slice(&chunked(&body, 256));
    msg.extend_from_slice(b"0\r\n\r\n");
    let mut c = Client::connect(srv.addr).await;
    c.send(&msg).await;
    let a = c.answer().await.unwrap();
    assert_eq!(a.status, 200);
    assert!(a.http_head_str().starts_with("HTTP/1.1 403"));
    assert_eq!(insp.seen.lock().unwrap()[0].0, "通知.txt");
    srv.stop().await;
}

#[tokio::test]
async fn multipart_upload_user_and_client_ip_reach_the_inspector() {
    let insp = Arc::new(MarkerInspector::default());
    let srv = start(IcapConfig::default(), insp.clone()).await;
    let body = "--BB\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--BB\r\nContent-Disposition: form-data; name=\"file\"; filename=\"报告.txt\"\r\nContent-Type: text/plain\r\n\r\n正文\r\n--BB--\r\n";
    let head = post_head("/up", "multipart/form-data; boundary=BB", body.len());
    let (req, _) = reqmod(srv.addr, &head, Some(body.as_bytes()), None, true);
    // Add X-Client-IP and X-Authenticated-User the way Squid does.
    let user = "TG9jYWw6Ly96aGFuZ3Nhbg=="; // base64("Local://zhangsan")
    let req = String::from_utf8(req).unwrap().replacen(
        "Allow: 204\r\n",
        &format!("Allow: 204\r\nX-Client-IP: 10.1.2.3\r\nX-Authenticated-User: {user}\r\n"),
        1,
    );
    let mut c = Client::connect(srv.addr).await;
    c.send(req.as_bytes()).await;
    assert_eq!(c.answer().await.unwrap().status, 204);
    let seen = insp.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        (seen[0].0.as_str(), seen[0].1),
        ("报告.txt", ObjectKind::FormFile)
    );
    assert_eq!(seen[0].2, "正文".as_bytes());
    assert_eq!(
        (seen[1].0.as_str(), seen[1].1),
        ("form.txt", ObjectKind::FormFields)
    );
    assert_eq!(seen[1].2, b"note=hello\n");
    let users = insp.users.lock().unwrap().clone();
    assert_eq!(users[0].0.as_deref(), Some("zhangsan"));
    assert_eq!(users[0].1, Some("10.1.2.3".parse().unwrap()));
    srv.stop().await;
}

#[tokio::test]
async fn large_bodies_are_spooled_and_the_spool_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = IcapConfig {
        spool_threshold: 4096,
        spool_dir: dir.path().to_owned(),
        ..Default::default()
    };
    let insp = Arc::new(MarkerInspector::default());
    let srv = start(cfg, insp.clone()).await;
    let body = marked_body(300_000, 250_000);
    let head = post_head("/big.bin", "application/octet-stream", body.len());
    let mut c = Client::connect(srv.addr).await;
    c.send(&reqmod(srv.addr, &head, Some(&body), None, true).0)
        .await;
    assert_eq!(c.answer().await.unwrap().status, 200);
    assert_eq!(insp.seen.lock().unwrap()[0].0, "big.bin");
    srv.stop().await;
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "spool files removed"
    );
}

#[tokio::test]
async fn max_connections_is_enforced() {
    let insp = Arc::new(MarkerInspector::default());
    let cfg = IcapConfig {
        max_connections: 2,
        ..Default::default()
    };
    let srv = start(cfg, insp).await;
    let options = format!("OPTIONS icap://{}/reqmod ICAP/1.0\r\n\r\n", srv.addr);
    let mut a = Client::connect(srv.addr).await;
    let mut b = Client::connect(srv.addr).await;
    for c in [&mut a, &mut b] {
        c.send(options.as_bytes()).await;
        assert_eq!(c.answer().await.unwrap().status, 200);
    }
    // A third connection waits in the backlog while two are open...
    let mut third = Client::connect(srv.addr).await;
    third.send(options.as_bytes()).await;
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(
        Duration::from_millis(300),
        tokio::io::AsyncReadExt::read(&mut third.r, &mut byte),
    )
    .await;
    assert!(early.is_err(), "no answer beyond Max-Connections");
    assert_eq!(srv.state.stats.snapshot().active_connections, 2);
    // ...and is served as soon as one closes.
    drop(a);
    assert_eq!(third.answer().await.unwrap().status, 200);
    let snap = srv.state.stats.snapshot();
    assert_eq!((snap.connections, snap.options), (3, 3));
    srv.stop().await;
}

#[tokio::test]
async fn gzip_json_body_is_decoded_before_inspection() {
    use std::io::Write;
    let insp = Arc::new(MarkerInspector::default());
    let srv = start(IcapConfig::default(), insp.clone()).await;
    // A JSON post with the marking only as \u escapes, gzip-compressed on the wire.
    let json = br#"{"post":{"title":"\u673a\u5bc6\u2605\u0035\u5e74","body":"x"}}"#;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(json).unwrap();
    let gz = gz.finish().unwrap();
    let head = format!(
        "POST http://bbs.example/api/post HTTP/1.1\r\nHost: bbs.example\r\nContent-Type: application/json; charset=utf-8\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        gz.len()
    );
    let mut c = Client::connect(srv.addr).await;
    c.send(&reqmod(srv.addr, &head, Some(&gz), Some(4096), true).0)
        .await;
    let a = c.answer().await.unwrap();
    assert_eq!(a.status, 200, "blocked inside the preview (ieof)");
    let seen = insp.seen.lock().unwrap().clone();
    assert_eq!(seen[0].0, "body.json");
    assert_eq!(seen[0].1, ObjectKind::Json);
    // serde_json's map is sorted by key: "body" before "title".
    assert_eq!(String::from_utf8_lossy(&seen[0].2), "x\n机密★5年\n");
    srv.stop().await;
}
