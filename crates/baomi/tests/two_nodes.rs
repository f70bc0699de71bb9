//! Several nodes, as a unit runs them (issue 14 §4): one PostgreSQL (started by the test),
//! two `baomi serve` nodes on it sharing one evidence directory, and Debian's Squid in front
//! with an `adaptation_service_set` over both nodes' ICAP services (`bypass=off`, so a
//! request is never let through uninspected). Each Squid port tries its own node first and
//! the other after it, so the test can send an upload through a chosen node.
//!
//! - A document registered and a policy set through node A apply on node B within 5 s
//!   without a restart. Node B's periodic check is set to a minute, so only PostgreSQL's
//!   notification can make it that fast.
//! - Writes interleaved from both nodes leave one queue of incidents, any node shows any
//!   node's evidence, and `baomi audit verify` passes.
//! - Node A killed: uploads sent to it go on through B, with the same verdicts.
//! - PostgreSQL stopped and started again: B stops what it cannot record, passes clean
//!   uploads, and afterwards applies changes again without a restart.

#[path = "../../baomi-icap/tests/common/mod.rs"]
mod icap;
#[allow(dead_code)]
mod support {
    pub mod serve;
}

use std::path::Path;
use std::time::{Duration, Instant};

use baomi_store::testing::TempPostgres;
use icap::{Squid, curl, upstream};
use support::serve::{Serve, baomi, incident_number};

/// A secret document (invented for this test).
const SECRET: &str = "机密★10年\n\
关于西部输气管道第三加压站扩建工程的批复\n\
某某分公司：\n\
你公司报送的扩建方案收悉。经研究，同意在戈壁东段某处扩建第三加压站，新增压缩机组四台，\
设计输量提高到每年一百二十亿立方米。加压站与调控中心之间敷设两条物理隔离的专用光缆，\
路由分别沿管道伴行路和省道布设。工程总投资核定为十四亿三千万元，分两年安排，\
首年安排八亿元用于土建和机组采购。施工单位须从具备涉密资质的名录中邀请招标，\
全部施工人员进场前完成背景审查。站址坐标、阀室位置、调度频点和值守编组属于国家秘密，\
不得在任何公开文件中出现。请你公司据此抓紧开展初步设计，并于年底前报送审查。\n";

/// The middle of the document, its marking and heading left out.
fn excerpt() -> String {
    SECRET
        .lines()
        .nth(3)
        .unwrap()
        .chars()
        .skip(10)
        .take(240)
        .collect()
}

fn node_config(pg: &TempPostgres, shared: &Path, id: &str) -> String {
    format!(
        "[database]\nurl = \"{}\"\n[gateway]\nevidence_dir = \"{}\"\n[node]\nid = \"{id}\"\nreload_poll_secs = 60\n",
        pg.url,
        shared.display()
    )
}

fn cli(s: &Serve, args: &[&str]) -> String {
    let mut all = vec!["--config", s.config.to_str().unwrap()];
    all.extend_from_slice(args);
    let out = baomi(&all);
    assert!(
        out.status.success(),
        "baomi {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Upload `file` as a form field through the Squid port `proxy` to the upstream.
fn upload(proxy: u16, up: u16, file: &Path, path: &str) -> (u16, String) {
    curl(&[
        "-x",
        &format!("http://127.0.0.1:{proxy}"),
        "-F",
        &format!("file=@{}", file.display()),
        &format!("http://127.0.0.1:{up}{path}"),
    ])
}

/// Upload until the answer is `want`; how long it took (fails after `limit`).
fn until_status(proxy: u16, up: u16, file: &Path, want: u16, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let (code, _) = upload(proxy, up, file, "/poll");
        if code == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "still {code} (not {want}) after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The nodes' heartbeats, as the system administrator (`admin_token`) reads them.
fn nodes(s: &Serve, admin_token: &str) -> Vec<serde_json::Value> {
    let url = format!("http://127.0.0.1:{}/api/v1/nodes", s.http);
    let (code, body) = s.curl_as(admin_token, &[&url]);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    v["nodes"].as_array().unwrap().clone()
}

fn node_up(s: &Serve, admin_token: &str, id: &str) -> Option<bool> {
    nodes(s, admin_token)
        .iter()
        .find(|n| n["id"] == id)
        .map(|n| n["up"].as_bool().unwrap())
}

#[test]
fn two_nodes_on_one_postgresql_behind_squid() {
    let mut pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    let shared = tempfile::Builder::new()
        .prefix("baomi-shared-")
        .tempdir()
        .unwrap();
    let mut a = Serve::start(&node_config(&pg, shared.path(), "node-a"), None);
    let b = Serve::join(&node_config(&pg, shared.path(), "node-b"));
    let (squid, ports) = Squid::start_set(&[a.icap, b.icap]);
    let (via_a, via_b) = (ports[0], ports[1]);
    let (up, received) = upstream();
    let work = tempfile::tempdir().unwrap();
    let out = support::serve::baomi_stdin(
        &[
            "--config",
            a.config.to_str().unwrap(),
            "user",
            "add",
            "ops",
            "--role",
            "sysadmin",
            "--password-stdin",
        ],
        "ops-密码-2026-node",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let admin = cli(&a, &["token", "create", "nodes", "--user", "ops"])
        .trim()
        .to_owned();

    // Both nodes see each other in the heartbeats.
    let t = Instant::now();
    while node_up(&a, &admin, "node-b") != Some(true) || node_up(&b, &admin, "node-a") != Some(true)
    {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{:?}",
            nodes(&a, &admin)
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Before registration the excerpt passes through either node.
    let note = work.path().join("汇编.txt");
    std::fs::write(&note, format!("工作信息汇编\n{}\n", excerpt())).unwrap();
    for port in [via_a, via_b] {
        let (code, page) = upload(port, up, &note, "/before");
        assert_eq!(code, 200, "{page}\n{}", squid.log());
    }

    // Registered through node A's configuration; node B finds it without a restart.
    let doc = work.path().join("批复.txt");
    std::fs::write(&doc, SECRET).unwrap();
    cli(&a, &["fingerprint", "add", doc.to_str().unwrap()]);
    let took = until_status(via_b, up, &note, 403, Duration::from_secs(5));
    eprintln!("registry change through A applied on B after {took:?}");
    assert!(b.log().contains("reload"), "{}", b.log());

    // A term list and a policy version set through A apply on B.
    let terms = work.path().join("工程代号.txt");
    std::fs::write(&terms, "# 工程代号\n青鸾工程\t5\tproject\n").unwrap();
    cli(&a, &["dict", "import", terms.to_str().unwrap()]);
    let policy = format!(
        "{}\n[[rule]]\nname = \"工程代号外发\"\nkinds = [\"keyword\"]\nchannels = [\"web\"]\naction = \"block\"\n",
        String::from_utf8(baomi(&["policy", "default"]).stdout).unwrap()
    );
    let policy_file = work.path().join("policy.toml");
    std::fs::write(&policy_file, &policy).unwrap();
    let memo = work.path().join("memo.txt");
    std::fs::write(&memo, "请把青鸾工程的会议纪要发我一份。").unwrap();
    let (code, page) = upload(via_b, up, &memo, "/memo");
    assert_eq!(
        code, 200,
        "the default policy blocks a term-list hit? {page}"
    );
    let out = cli(
        &a,
        &[
            "policy",
            "set",
            policy_file.to_str().unwrap(),
            "--comment",
            "工程代号不得外发",
        ],
    );
    assert!(out.contains("version 1"), "{out}");
    let took = until_status(via_b, up, &memo, 403, Duration::from_secs(5));
    eprintln!("policy change through A applied on B after {took:?}");
    let (code, page) = upload(via_b, up, &memo, "/memo");
    assert_eq!(code, 403);
    let number = incident_number(&page).expect("incident number on the block page");
    let inc = a.api(&format!("/api/v1/incidents/{number}"));
    assert_eq!(inc["policy_version"], 1, "{inc}");
    // Both nodes report the versions they run.
    let t = Instant::now();
    loop {
        let ns = nodes(&a, &admin);
        let at_v1 = ns.iter().filter(|n| n["versions"]["policy"] == 1).count();
        if at_v1 == 2 {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(20), "{ns:?}");
        std::thread::sleep(Duration::from_millis(500));
    }

    // Writes interleaved from both nodes: two clients at once, each through its own node.
    let secret_file = |i: usize| {
        let p = work.path().join(format!("通知{i}.txt"));
        std::fs::write(&p, format!("秘密★1年\n关于第{i}批设备检修安排的通知\n")).unwrap();
        p
    };
    let files: Vec<_> = (0..12).map(secret_file).collect();
    let numbers: Vec<(u16, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = [via_a, via_b]
            .into_iter()
            .enumerate()
            .map(|(k, port)| {
                let files = &files;
                scope.spawn(move || {
                    (k..files.len())
                        .step_by(2)
                        .map(|i| {
                            let (code, page) = upload(port, up, &files[i], "/notice");
                            assert_eq!(code, 403, "{page}");
                            (port, incident_number(&page).expect("incident number"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(numbers.len(), 12);
    // Each port's set tried its own node first: both nodes decided their half.
    for s in [&a, &b] {
        let (code, m) = s.metrics();
        assert_eq!(code, 200);
        let m = String::from_utf8_lossy(&m);
        let blocks: u64 = m
            .lines()
            .find_map(|l| l.strip_prefix("baomi_icap_blocks_total "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no ICAP block counter:\n{m}"));
        assert!(blocks >= 6, "{blocks} blocks on {}", s.config.display());
    }
    // One queue: every incident from either node is listed by each node.
    for s in [&a, &b] {
        let list = s.api("/api/v1/incidents?limit=100");
        let listed: Vec<&str> = list["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|i| i["number"].as_str())
            .collect();
        for (_, n) in &numbers {
            assert!(listed.contains(&n.as_str()), "{n} not listed: {listed:?}");
        }
    }
    // Evidence kept by either node is shown by the other (one shared vault).
    let (from_b, from_a) = (
        numbers.iter().find(|(p, _)| *p == via_b).unwrap(),
        numbers.iter().find(|(p, _)| *p == via_a).unwrap(),
    );
    for (reader, (_, number)) in [(&a, from_b), (&b, from_a)] {
        let text = String::from_utf8(reader.evidence(number)).unwrap();
        assert!(text.contains("设备检修安排"), "{text}");
    }
    assert!(shared.path().join("evidence.key").is_file());
    assert!(!a.data().join("evidence").exists() && !b.data().join("evidence").exists());
    // The trail of both nodes is one chain.
    let (code, out) = b.audit_verify();
    assert_eq!(code, 0, "{out}");

    // Node A dies. Squid tries the next service of the set: uploads sent to A's port go
    // on through B, with B's verdicts, and nothing passes uninspected.
    a.kill();
    let clean = work.path().join("菜单.txt");
    std::fs::write(&clean, "本周食堂菜单：周一米饭，周二面条。\n").unwrap();
    let mut failed = 0;
    for round in 0..10 {
        let (code, page) = upload(via_a, up, &memo, &format!("/after/{round}"));
        match code {
            403 => assert!(page.contains("事件编号"), "{page}"),
            _ => {
                failed += 1;
                assert!(
                    code >= 500,
                    "a marked upload passed while A was down: {code} {page}"
                );
            }
        }
        let (code, page) = upload(via_a, up, &clean, &format!("/clean/{round}"));
        assert!(
            code == 200 || code >= 500,
            "clean upload answered {code}: {page}"
        );
        failed += usize::from(code != 200);
    }
    assert_eq!(
        failed,
        0,
        "requests failed after node A was killed\n{}",
        squid.log()
    );
    let got = received.lock().unwrap();
    assert!(
        got.iter().all(|r| !r.1.starts_with("/after/")),
        "a blocked upload reached the upstream"
    );
    assert_eq!(
        got.iter().filter(|r| r.1.starts_with("/clean/")).count(),
        10
    );
    drop(got);

    // B shows A as down once its heartbeats stop; the trail still verifies.
    let t = Instant::now();
    while node_up(&b, &admin, "node-a") != Some(false) {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{:?}",
            nodes(&b, &admin)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let (code, out) = b.audit_verify();
    assert_eq!(code, 0, "{out}");

    // PostgreSQL goes away. B still inspects: a clean upload passes, a marked one whose
    // incident cannot be recorded is stopped, never let through. When the database is back,
    // B hears of changes again by itself (its poll is a minute: the listening connection
    // comes back, and B re-reads the versions on reconnecting).
    pg.stop();
    let (code, page) = upload(via_b, up, &clean, "/outage/clean");
    assert_eq!(
        code,
        200,
        "a clean upload during the outage: {page}\n{}",
        b.log()
    );
    let (code, _) = upload(via_b, up, &memo, "/outage/marked");
    assert_ne!(code, 200, "a marked upload passed while the store was down");
    assert!(
        received
            .lock()
            .unwrap()
            .iter()
            .all(|r| r.1 != "/outage/marked"),
        "a marked upload reached the upstream while the store was down"
    );
    pg.start_again().expect("PostgreSQL starts again");
    let later = work.path().join("批复二.txt");
    let second = SECRET
        .replace("第三加压站", "第五加压站")
        .replace("戈壁东段", "河西走廊");
    std::fs::write(&later, &second).unwrap();
    cli(&b, &["fingerprint", "add", later.to_str().unwrap()]);
    let note2 = work.path().join("汇编二.txt");
    let excerpt2: String = second
        .lines()
        .nth(3)
        .unwrap()
        .chars()
        .skip(10)
        .take(240)
        .collect();
    std::fs::write(&note2, format!("工作信息汇编\n{excerpt2}\n")).unwrap();
    let took = until_status(via_b, up, &note2, 403, Duration::from_secs(20));
    eprintln!("registration after the database came back applied after {took:?}");
    let (code, out) = b.audit_verify();
    assert_eq!(code, 0, "{out}");
}
