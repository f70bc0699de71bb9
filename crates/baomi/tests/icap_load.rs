//! A thousand concurrent ICAP connections against a real `baomi serve`: OPTIONS, previews
//! answered 204, marked uploads blocked, 10 MB uploads spooled to disk, clients dribbling
//! their header or body, and garbage. The server answers every well-formed request,
//! closes the slow and the malformed, never holds more connections than its
//! `Max-Connections`, and is left with the file descriptors and spool files it had before.
//!
//! The figures this prints (peak RSS, time) are recorded in RELIABILITY.md §3; the test
//! asserts behaviour only.

#[allow(dead_code)]
mod support {
    pub mod icap;
    pub mod serve;
}

use std::sync::Arc;
use std::time::{Duration, Instant};

use support::icap::{answer, chunked, closed_within, connect, expect, reqmod, reqmod_head, send};
use support::serve::Serve;
use tokio::io::AsyncWriteExt;

const CLIENTS: usize = 1000;
const MAX_CONNECTIONS: usize = 200;
const BIG: usize = 10 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Options,
    Clean,
    Marked,
    Big,
    SlowHeader,
    SlowBody,
    Garbage,
}

/// The mix, per 100 clients: 10 OPTIONS, 40 clean previews, 20 marked uploads, 1 big
/// upload, 10 slow headers, 5 slow bodies, 14 garbage.
fn kind_of(i: usize) -> Kind {
    match i % 100 {
        0..=9 => Kind::Options,
        10..=49 => Kind::Clean,
        50..=69 => Kind::Marked,
        70 => Kind::Big,
        71..=80 => Kind::SlowHeader,
        81..=85 => Kind::SlowBody,
        _ => Kind::Garbage,
    }
}

#[test]
fn a_thousand_connections_are_served_within_max_connections_and_leak_nothing() {
    let spool = tempfile::tempdir().unwrap();
    let serve = Serve::start(
        &format!(
            "[icap]\nmax_connections = {MAX_CONNECTIONS}\nidle_timeout_secs = 2\n\
             spool_threshold_bytes = 1048576\nspool_dir = \"{}\"\n",
            spool.path().display()
        ),
        None,
    );
    let port = serve.icap;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // Warm up what the server opens once (store connections, evidence vault, engine), so
    // the descriptor count before is the steady state.
    rt.block_on(async {
        for i in 0..4_usize {
            let kind = if i.is_multiple_of(2) {
                Kind::Marked
            } else {
                Kind::Clean
            };
            client(port, kind, i, Arc::new(Vec::new())).await.unwrap();
        }
    });
    let fds_before = open_fds(serve.pid());
    let (_, rss_before) = memory(serve.pid());
    let incidents_before = serve.api("/api/v1/incidents")["total"].as_u64().unwrap();

    let big = Arc::new(clean_bytes(BIG));
    let started = Instant::now();
    let results = rt.block_on(async {
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let big = big.clone();
                tokio::spawn(async move {
                    let kind = kind_of(i);
                    let r =
                        tokio::time::timeout(Duration::from_secs(240), client(port, kind, i, big))
                            .await
                            .unwrap_or_else(|_| Err("no end within 240 s".into()));
                    (i, kind, r)
                })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let elapsed = started.elapsed();
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(i, k, r)| r.as_ref().err().map(|e| format!("client {i} ({k:?}): {e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {CLIENTS} clients failed, e.g.:\n{}\n--- serve.log (end)\n{}",
        failures.len(),
        failures[..failures.len().min(12)].join("\n"),
        tail(&serve.log(), 40)
    );

    // Every connection is closed; what the server holds is what it held before.
    let deadline = Instant::now() + Duration::from_secs(20);
    while metric(&serve, "baomi_icap_active_connections") != 0 {
        assert!(Instant::now() < deadline, "connections still open");
        std::thread::sleep(Duration::from_millis(100));
    }
    let fds_after = open_fds(serve.pid());
    assert!(
        fds_after <= fds_before + 8,
        "descriptors: {fds_before} before, {fds_after} after"
    );
    let left: Vec<_> = std::fs::read_dir(spool.path()).unwrap().collect();
    assert!(left.is_empty(), "spool files left: {left:?}");

    let peak = metric(&serve, "baomi_icap_peak_connections");
    assert!(
        peak as usize <= MAX_CONNECTIONS,
        "{peak} connections at once, Max-Connections {MAX_CONNECTIONS}"
    );
    assert!(
        peak as usize >= MAX_CONNECTIONS / 2,
        "the load never came near Max-Connections (peak {peak}): the test proves nothing"
    );
    let marked = results
        .iter()
        .filter(|(_, k, _)| *k == Kind::Marked)
        .count() as u64;
    let incidents = serve.api("/api/v1/incidents")["total"].as_u64().unwrap();
    assert_eq!(
        incidents - incidents_before,
        marked,
        "one incident per marked upload"
    );

    // Still serving after the storm.
    rt.block_on(async {
        client(port, Kind::Options, 0, Arc::new(Vec::new()))
            .await
            .unwrap();
        client(port, Kind::Marked, 1, Arc::new(Vec::new()))
            .await
            .unwrap();
    });
    let (hwm, rss) = memory(serve.pid());
    eprintln!(
        "icap load: {CLIENTS} clients in {:.1} s, peak {peak} connections (max {MAX_CONNECTIONS}), \
         fds {fds_before} → {fds_after}, server RSS {} MB before, peak {} MB, now {} MB",
        elapsed.as_secs_f64(),
        rss_before / 1024,
        hwm / 1024,
        rss / 1024
    );
}

/// One client of `kind`; `Err` says what it got instead of the answer it should get.
async fn client(port: u16, kind: Kind, i: usize, big: Arc<Vec<u8>>) -> Result<(), String> {
    let mut c = connect(port).await?;
    let base = format!("icap://127.0.0.1:{port}/reqmod");
    match kind {
        Kind::Options => {
            send(
                &mut c,
                format!("OPTIONS {base} ICAP/1.0\r\nHost: x\r\n\r\n").as_bytes(),
            )
            .await?;
            let a = answer(&mut c).await?;
            expect(a.status == 200, &a)?;
            let max = a.header("Max-Connections").unwrap_or_default();
            expect(max == MAX_CONNECTIONS.to_string(), &a)
        }
        Kind::Clean => {
            let body = format!("第{i}次普通的工作汇报，没有任何需要保密的内容。\n").repeat(20);
            send(&mut c, &reqmod(&base, "report.txt", body.as_bytes(), true)).await?;
            let a = answer(&mut c).await?;
            expect(a.status == 204, &a)
        }
        Kind::Marked => {
            let body = format!("机密★5年\n关于第{i}批人员调整的通知\n正文内容。\n");
            send(&mut c, &reqmod(&base, "notice.txt", body.as_bytes(), true)).await?;
            let a = answer(&mut c).await?;
            expect(
                a.status == 200 && a.head.starts_with("HTTP/1.1 403") && a.body.contains("BM-"),
                &a,
            )
        }
        Kind::Big => {
            // Preview first; the rest after 100 Continue, in 64 KiB chunks.
            let (preview, rest) = big.split_at(4096);
            let mut first = reqmod_head(&base, "archive.bin", big.len(), Some(4096));
            first.extend_from_slice(&chunked(preview));
            first.extend_from_slice(b"0\r\n\r\n");
            send(&mut c, &first).await?;
            let a = answer(&mut c).await?;
            expect(a.status == 100, &a)?;
            for piece in rest.chunks(64 << 10) {
                send(&mut c, &chunked(piece)).await?;
            }
            send(&mut c, b"0\r\n\r\n").await?;
            let a = answer(&mut c).await?;
            expect(a.status == 204, &a)
        }
        Kind::SlowHeader => {
            // A byte every 300 ms: the header deadline (idle timeout, 2 s) closes it.
            let line = format!("REQMOD {base} ICAP/1.0\r\nHost: x\r\nX-Slow: ");
            let t = Instant::now();
            for b in line.bytes().chain(std::iter::repeat(b'a')) {
                if c.get_mut().write_all(&[b]).await.is_err() {
                    break;
                }
                if closed_within(&mut c, Duration::from_millis(300)).await {
                    return Ok(());
                }
                if t.elapsed() > Duration::from_secs(30) {
                    return Err("a dribbled header held the connection for 30 s".into());
                }
            }
            Ok(())
        }
        Kind::SlowBody => {
            // A well-formed head, then a 1-byte chunk every 200 ms: closed with 408.
            let mut head = reqmod_head(&base, "slow.txt", 100_000, None);
            head.extend_from_slice(b"1\r\nx\r\n");
            send(&mut c, &head).await?;
            let t = Instant::now();
            loop {
                if closed_within(&mut c, Duration::from_millis(200)).await {
                    return Ok(());
                }
                if c.get_mut().write_all(b"1\r\nx\r\n").await.is_err() {
                    return Ok(());
                }
                if t.elapsed() > Duration::from_secs(30) {
                    return Err("a dribbled body held the connection for 30 s".into());
                }
            }
        }
        Kind::Garbage => {
            let mut g = clean_bytes(300 + i % 700);
            if i.is_multiple_of(2) {
                // Half start like a request and go wrong after.
                g.splice(
                    0..0,
                    b"REQMOD icap://x/reqmod ICAP/1.0\r\nEncapsulated: zz\r\n\r\n".to_vec(),
                );
            }
            let _ = c.get_mut().write_all(&g).await;
            if closed_within(&mut c, Duration::from_secs(30)).await {
                Ok(())
            } else {
                Err("garbage was not answered by closing".into())
            }
        }
    }
}

/// Bytes with no text and no structure (xorshift), so the big uploads are clean.
fn clean_bytes(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ n as u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// (VmHWM, VmRSS) in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (kb("VmHWM:"), kb("VmRSS:"))
}

fn metric(serve: &Serve, name: &str) -> u64 {
    let (code, body) = serve.metrics();
    assert_eq!(code, 200);
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
