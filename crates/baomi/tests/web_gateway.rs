//! The web gateway end to end, as an operator runs it: real Squid from Debian with its ICAP
//! service pointing at `baomi serve` (the real binary), a local upstream web server, and
//! curl as the user uploading through the proxy.

#[path = "../../baomi-icap/tests/common/mod.rs"]
mod icap;
#[allow(dead_code)]
mod support {
    pub mod serve;
}

use std::process::Command;

use icap::{HttpsUpstream, Squid, TestTls, curl, make_docx, upstream};
use support::serve::{Serve, incident_number, resident_id};

#[test]
fn squid_blocks_marked_uploads_with_an_incident_and_passes_clean_ones() {
    let serve = Serve::start("", None);
    let squid = Squid::start(serve.icap);
    let (up, received) = upstream();
    let proxy = format!("http://127.0.0.1:{}", squid.port);
    let work = tempfile::tempdir().unwrap();

    // A marked .docx uploaded as a form file: the user gets the 403 page with the incident.
    let secret = work.path().join("项目进展.docx");
    make_docx(
        &secret,
        &["机密★1年", "关于某项目进展情况的报告", "一、总体进展顺利。"],
    );
    let (code, page) = curl(&[
        "-x",
        &proxy,
        "-F",
        &format!("file=@{}", secret.display()),
        "-F",
        "title=周报",
        &format!("http://127.0.0.1:{up}/upload"),
    ]);
    assert_eq!(code, 403, "{page}\n{}", serve.log());
    assert!(page.contains("机密") && page.contains("事件编号"), "{page}");
    assert!(
        !page.contains("关于某项目进展情况"),
        "the block page repeats the secret"
    );
    let number = incident_number(&page).expect("incident number on the block page");
    assert!(
        received.lock().unwrap().iter().all(|r| r.1 != "/upload"),
        "the upstream received the blocked upload"
    );

    let inc = serve.api(&format!("/api/v1/incidents/{number}"));
    assert_eq!(inc["channel"], "web");
    assert_eq!(inc["object_name"], "项目进展.docx");
    assert_eq!(inc["object_type"], "docx");
    assert_eq!(inc["source"], "127.0.0.1");
    assert!(
        inc["destination"]
            .as_str()
            .unwrap()
            .contains(&format!("127.0.0.1:{up}/upload"))
    );
    let original = std::fs::read(&secret).unwrap();
    assert_eq!(serve.evidence(&number), original);
    // The evidence file on disk is not the document.
    let hash = inc["evidence"]["hash"].as_str().unwrap();
    let raw = std::fs::read(serve.data().join("evidence").join(&hash[..2]).join(hash)).unwrap();
    assert!(raw.len() > original.len());
    assert!(!raw.windows(17).any(|w| w == b"word/document.xml"));

    // A clean upload reaches the upstream byte-identical.
    let clean = work.path().join("menu.bin");
    let bytes: Vec<u8> = "本周食堂菜单：周一米饭，周二面条。\n"
        .repeat(2000)
        .into_bytes();
    std::fs::write(&clean, &bytes).unwrap();
    let (code, body) = curl(&[
        "-x",
        &proxy,
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        &format!("@{}", clean.display()),
        &format!("http://127.0.0.1:{up}/clean"),
    ]);
    assert_eq!(code, 200, "{body}");
    let got = received.lock().unwrap();
    let r = got
        .iter()
        .find(|r| r.1 == "/clean")
        .expect("upstream got the clean upload");
    assert_eq!(r.3, bytes, "the clean upload was changed on the way");
    drop(got);

    // A forum post with ten resident ID numbers, url-encoded: blocked.
    let ids: Vec<String> = (0..10).map(resident_id).collect();
    let form = format!("subject=名单&content={}", ids.join("%0A"));
    let (code, page) = curl(&[
        "-x",
        &proxy,
        "--data",
        &form,
        &format!("http://127.0.0.1:{up}/forum/post"),
    ]);
    assert_eq!(code, 403, "{page}");
    let n2 = incident_number(&page).unwrap();
    let inc = serve.api(&format!("/api/v1/incidents/{n2}"));
    assert!(
        !inc.to_string().contains(&ids[3]),
        "ID numbers unmasked in the incident"
    );

    // The door's counters are in /metrics next to the verdicts.
    let (code, m) = serve.metrics();
    assert_eq!(code, 200);
    let m = String::from_utf8_lossy(&m);
    let blocks: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("baomi_icap_blocks_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ICAP block counter in /metrics:\n{m}"));
    assert_eq!(blocks, 2, "{m}");
    assert!(
        m.contains("baomi_verdicts_total{channel=\"web\",action=\"block\"} 2"),
        "{m}"
    );
    assert!(m.trim_end().ends_with("# EOF"));

    // The audit chain verifies; changing one stored row breaks it.
    let (code, out) = serve.audit_verify();
    assert_eq!(code, 0, "{out}");
    let db = serve.data().join("baomi.db");
    let status = Command::new("/usr/bin/python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); \
             c.execute(\"UPDATE incidents SET action='allow' WHERE number=?\", (sys.argv[2],)); c.commit()",
        ])
        .arg(&db)
        .arg(&number)
        .status()
        .unwrap();
    assert!(status.success());
    let (code, out) = serve.audit_verify();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&number), "{out}");
}

/// HTTPS through Squid's ssl-bump (squid-openssl): a marked .docx uploaded over HTTPS gets
/// Baomi's block page inside the TLS session (the browser trusts the interception CA) and
/// never reaches the upstream; a clean one arrives byte-identical; the incident records the
/// https URL. A host on the splice list is tunnelled untouched: curl succeeds only with the
/// upstream's own CA, and Baomi sees nothing of it.
#[test]
fn https_uploads_are_inspected_through_ssl_bump_and_spliced_hosts_are_not() {
    let serve = Serve::start("", None);
    let tls = TestTls::make(&["upload.test", "bank.test"]);
    let up = HttpsUpstream::start(&tls);
    let squid = Squid::start_bump(
        serve.icap,
        &tls,
        &["bank.test"],
        &["upload.test", "bank.test"],
    );
    let proxy = format!("http://127.0.0.1:{}", squid.port);
    let ca = tls.ca_crt.to_str().unwrap();
    let work = tempfile::tempdir().unwrap();

    let secret = work.path().join("绝密方案.docx");
    make_docx(
        &secret,
        &["绝密★长期", "关于某工程的实施方案", "一、总体安排。"],
    );
    let url = format!("https://upload.test:{}/drive/upload", up.port);
    let (code, page) = curl(&[
        "-x",
        &proxy,
        "--cacert",
        ca,
        "-F",
        &format!("file=@{}", secret.display()),
        &url,
    ]);
    assert_eq!(code, 403, "{page}\n{}\n{}", squid.log(), serve.log());
    assert!(page.contains("事件编号"), "{page}");
    let number = incident_number(&page).expect("incident number on the block page");
    assert!(
        up.requests().is_empty(),
        "the upstream got {:?}",
        up.requests()
    );
    let inc = serve.api(&format!("/api/v1/incidents/{number}"));
    assert_eq!(inc["object_name"], "绝密方案.docx");
    let dest = inc["destination"].as_str().unwrap();
    assert!(dest.contains(&url), "{dest}");

    // A clean upload over HTTPS: byte-identical at the upstream.
    let clean = work.path().join("menu.bin");
    let bytes = "本周食堂菜单：周一米饭，周二面条。\n"
        .repeat(3000)
        .into_bytes();
    std::fs::write(&clean, &bytes).unwrap();
    let (code, body) = curl(&[
        "-x",
        &proxy,
        "--cacert",
        ca,
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        &format!("@{}", clean.display()),
        &format!("https://upload.test:{}/clean", up.port),
    ]);
    assert_eq!(code, 200, "{body}");
    let got = up.requests();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "POST /clean");
    assert_eq!(got[0].1, bytes, "the clean upload was changed on the way");

    // The spliced host: the upstream's own certificate reaches curl (the interception CA
    // does not verify it), and the marked upload passes Baomi unseen — that is what a
    // splice list means, and why it must stay short.
    let bank = format!("https://bank.test:{}/pay", up.port);
    let seen_before = serve.api("/api/v1/incidents")["total"].clone();
    let (code, _) = curl(&["-x", &proxy, "--cacert", ca, &bank]);
    assert_eq!(
        code, 0,
        "a spliced host verified against the interception CA"
    );
    let (code, body) = curl(&[
        "-x",
        &proxy,
        "--cacert",
        tls.upstream_ca.to_str().unwrap(),
        "-F",
        &format!("file=@{}", secret.display()),
        &bank,
    ]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(up.requests().len(), 2);
    assert_eq!(serve.api("/api/v1/incidents")["total"], seen_before);
}

/// A cloud drive sends a large file as several requests. A marked .docx sent in three
/// `Content-Range` pieces to one upload URL passes the first two (neither holds the whole
/// document) and gets the block page on the third: the upstream never holds the whole file.
/// The same for a WebUploader-style slice upload (multipart, `chunk`/`chunks` fields, pieces
/// out of order). A clean file in pieces passes whole.
#[test]
fn uploads_in_pieces_are_inspected_whole_and_the_last_piece_is_blocked() {
    let serve = Serve::start("", None);
    let squid = Squid::start(serve.icap);
    let (up, received) = upstream();
    let proxy = format!("http://127.0.0.1:{}", squid.port);
    let work = tempfile::tempdir().unwrap();

    let secret = work.path().join("年度计划.docx");
    // Enough text that each third of the zip is a few kilobytes of deflate.
    let filler: Vec<String> = (0..200)
        .map(|i| format!("第{i}项：推进重点工作，落实责任分工，按期完成目标任务。"))
        .collect();
    let mut lines = vec!["机密★5年", "2027年度重点工作计划"];
    lines.extend(filler.iter().map(String::as_str));
    make_docx(&secret, &lines);
    let bytes = std::fs::read(&secret).unwrap();
    let total = bytes.len();
    let cuts = [0, total / 3, 2 * total / 3, total];
    let url = format!("http://127.0.0.1:{up}/drive/session/8f3a/年度计划.docx");
    let put = |i: usize, url: &str| {
        let piece = work.path().join(format!("piece{i}"));
        std::fs::write(&piece, &bytes[cuts[i]..cuts[i + 1]]).unwrap();
        curl(&[
            "-x",
            &proxy,
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/octet-stream",
            "-H",
            &format!(
                "Content-Range: bytes {}-{}/{total}",
                cuts[i],
                cuts[i + 1] - 1
            ),
            "--data-binary",
            &format!("@{}", piece.display()),
            url,
        ])
    };
    for i in 0..2 {
        let (code, body) = put(i, &url);
        assert_eq!(
            code,
            200,
            "piece {i} of the marked file: {body}\n{}",
            serve.log()
        );
    }
    let (code, page) = put(2, &url);
    assert_eq!(code, 403, "the completing piece: {page}\n{}", serve.log());
    assert!(page.contains("机密") && page.contains("事件编号"), "{page}");
    let number = incident_number(&page).expect("incident number");
    let got = received.lock().unwrap();
    let pieces: Vec<_> = got.iter().filter(|r| r.1.starts_with("/drive/")).collect();
    assert_eq!(
        pieces.len(),
        2,
        "the upstream got exactly the first two pieces"
    );
    let held: usize = pieces.iter().map(|r| r.3.len()).sum();
    assert!(held < total, "the upstream holds the whole file");
    drop(got);
    let inc = serve.api(&format!("/api/v1/incidents/{number}"));
    assert_eq!(inc["channel"], "web");
    assert_eq!(inc["object_type"], "docx", "{inc}");
    assert_eq!(
        serve.evidence(&number),
        bytes,
        "the evidence is the whole file"
    );

    // The same file as WebUploader slices, last piece first: blocked when the set is whole.
    let slice = |i: usize| {
        let piece = work.path().join(format!("slice{i}"));
        std::fs::write(&piece, &bytes[cuts[i]..cuts[i + 1]]).unwrap();
        curl(&[
            "-x",
            &proxy,
            "-F",
            "id=WU_FILE_0",
            "-F",
            "name=年度计划.docx",
            "-F",
            "chunks=3",
            "-F",
            &format!("chunk={i}"),
            "-F",
            &format!("file=@{};filename=blob", piece.display()),
            &format!("http://127.0.0.1:{up}/oa/fileupload.do"),
        ])
    };
    for i in [2, 0] {
        let (code, body) = slice(i);
        assert_eq!(code, 200, "slice {i}: {body}\n{}", serve.log());
    }
    let (code, page) = slice(1);
    assert_eq!(code, 403, "the completing slice: {page}\n{}", serve.log());
    let n2 = incident_number(&page).expect("incident number");
    let inc = serve.api(&format!("/api/v1/incidents/{n2}"));
    assert_eq!(inc["object_name"], "年度计划.docx", "{inc}");

    // A clean file in pieces passes, each piece unchanged.
    let clean: Vec<u8> = "食堂本周菜单与开放时间安排。\n".repeat(3000).into_bytes();
    let half = clean.len() / 2;
    let curl_range = |a: usize, b: usize| {
        let piece = work.path().join(format!("clean{a}"));
        std::fs::write(&piece, &clean[a..b]).unwrap();
        curl(&[
            "-x",
            &proxy,
            "-X",
            "PUT",
            "-H",
            &format!("Content-Range: bytes {a}-{}/{}", b - 1, clean.len()),
            "--data-binary",
            &format!("@{}", piece.display()),
            &format!("http://127.0.0.1:{up}/drive/session/c1/menu.txt"),
        ])
    };
    assert_eq!(curl_range(0, half).0, 200);
    assert_eq!(curl_range(half, clean.len()).0, 200);
    let got = received.lock().unwrap();
    let menu: Vec<u8> = got
        .iter()
        .filter(|r| r.1.ends_with("/menu.txt"))
        .flat_map(|r| r.3.clone())
        .collect();
    assert_eq!(menu, clean, "the clean pieces arrived unchanged");
    drop(got);

    let (_, m) = serve.metrics();
    let m = String::from_utf8_lossy(&m);
    let assembled: u64 = m
        .lines()
        .find_map(|l| l.strip_prefix("baomi_icap_uploads_assembled_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no assembled counter in /metrics:\n{m}"));
    assert_eq!(assembled, 3, "{m}");
}
