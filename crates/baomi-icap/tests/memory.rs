//! Memory stays bounded for a 1 GB upload. A measurement, not a timed test:
//! `cargo test -p baomi-icap --release --test memory -- --ignored --nocapture`.

mod common;

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use baomi_icap::{Decision, Exchange, IcapConfig, Inspector};
use common::*;
use tokio::io::AsyncWriteExt;

/// Reads every object to the end, as the engine would, and allows.
#[derive(Default)]
struct ReadAll {
    bytes: AtomicU64,
    names: std::sync::Mutex<Vec<String>>,
}

impl Inspector for ReadAll {
    async fn inspect(&self, ex: Exchange) -> anyhow::Result<Decision> {
        for o in ex.objects {
            self.names.lock().unwrap().push(o.name.clone());
            let n = tokio::task::spawn_blocking(move || -> std::io::Result<u64> {
                let mut r = o.blob.open()?;
                let mut buf = vec![0u8; 1 << 16];
                let mut n = 0;
                loop {
                    let k = r.read(&mut buf)?;
                    if k == 0 {
                        return Ok(n);
                    }
                    n += k as u64;
                }
            })
            .await??;
            self.bytes.fetch_add(n, Ordering::Relaxed);
        }
        Ok(Decision::Allow)
    }
}

fn peak_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement: 1 GB through the door"]
async fn one_gigabyte_multipart_upload_keeps_memory_bounded() {
    const SIZE: u64 = 1 << 30;
    let insp = Arc::new(ReadAll::default());
    let cfg = IcapConfig {
        max_body: 2 << 30,
        ..Default::default()
    };
    let srv = start(cfg, insp.clone()).await;
    let before = peak_rss_kib();
    let t = Instant::now();

    let prefix = b"--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.iso\"\r\nContent-Type: application/octet-stream\r\n\r\n";
    let suffix = b"\r\n--BOUNDARY--\r\n";
    let total = prefix.len() as u64 + SIZE + suffix.len() as u64;
    let head = post_head(
        "/upload",
        "multipart/form-data; boundary=BOUNDARY",
        total as usize,
    );
    let mut c = Client::connect(srv.addr).await;
    c.send(
        format!(
            "REQMOD icap://{}/reqmod ICAP/1.0\r\nAllow: 204\r\nPreview: 4096\r\nEncapsulated: req-hdr=0, req-body={}\r\n\r\n{head}",
            srv.addr,
            head.len()
        )
        .as_bytes(),
    )
    .await;
    // Preview: the first 4096 bytes of the body.
    let mut block = vec![0u8; 1 << 16];
    for (i, b) in block.iter_mut().enumerate() {
        *b = (i * 31 % 251) as u8;
    }
    let mut body_head = prefix.to_vec();
    body_head.extend_from_slice(&block[..4096 - prefix.len()]);
    c.send(&chunked(&body_head, 4096)).await;
    c.send(b"0\r\n\r\n").await;
    assert_eq!(c.answer().await.unwrap().status, 100);
    let mut left = SIZE - (4096 - prefix.len() as u64);
    let w = c.r.get_mut();
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        w.write_all(format!("{n:x}\r\n").as_bytes()).await.unwrap();
        w.write_all(&block[..n]).await.unwrap();
        w.write_all(b"\r\n").await.unwrap();
        left -= n as u64;
    }
    c.send(&chunked(suffix, 100)).await;
    c.send(b"0\r\n\r\n").await;
    let a = c.answer().await.unwrap();
    assert_eq!(a.status, 204);
    let secs = t.elapsed().as_secs_f64();
    let peak = peak_rss_kib();
    assert_eq!(insp.bytes.load(Ordering::Relaxed), SIZE);
    assert_eq!(*insp.names.lock().unwrap(), ["big.iso"]);
    println!(
        "1 GiB multipart upload: {secs:.1} s ({:.0} MB/s), peak RSS {} MiB (before: {} MiB)",
        SIZE as f64 / secs / 1e6,
        peak / 1024,
        before / 1024
    );
    assert!(peak < 256 * 1024, "peak RSS {peak} KiB");
    srv.stop().await;
}
