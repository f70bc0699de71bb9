//! The data directory's disk fills up while `baomi serve` runs (a 24 MB tmpfs, filled by
//! another file): a marked upload gets the block page and a marked mail a tempfail — never
//! passed unrecorded — with a log line naming the full disk and a metric; clean traffic,
//! which records nothing, still passes. When space returns the same server records again:
//! no restart, the incident and its evidence are whole, the audit chain verifies.
//!
//! Mounting needs root (CI runs as root); elsewhere the test says so and stops.

#[path = "../../baomi-milter/tests/common/mod.rs"]
mod postfix;
#[allow(dead_code)]
mod support {
    pub mod icap;
    pub mod serve;
}

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use postfix::Postfix;
use support::icap::{answer, connect, reqmod, send};
use support::serve::{Serve, incident_number};

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .ok()?;
        out.status.success().then(|| Tmpfs(dir.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Write FILE until the disk says no space; returns the bytes written.
fn fill(file: &Path) -> u64 {
    let mut f = std::fs::File::create(file).unwrap();
    let block = vec![0x5a_u8; 1 << 20];
    let mut n = 0;
    loop {
        match f.write(&block) {
            Ok(0) => break,
            Ok(w) => n += w as u64,
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(28), "filling: {e}");
                break;
            }
        }
    }
    // The last partial blocks too: small writes until nothing fits.
    while f.write(&block[..512]).is_ok_and(|w| w > 0) {}
    n
}

/// A REQMOD of a text upload; (ICAP status, encapsulated HTTP status line, page).
fn upload(port: u16, name: &str, text: &str) -> (u16, String, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = connect(port).await.unwrap();
        let base = format!("icap://127.0.0.1:{port}/reqmod");
        send(&mut c, &reqmod(&base, name, text.as_bytes(), true))
            .await
            .unwrap();
        let a = answer(&mut c).await.unwrap();
        let status_line = a.head.lines().next().unwrap_or("").to_owned();
        (a.status, status_line, a.body)
    })
}

fn mail(dir: &Path, name: &str, body: &str) -> PathBuf {
    let out = dir.join(name);
    std::fs::write(
        &out,
        format!(
            "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: {name}\r\n\
             Message-ID: <{name}@example.test>\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
             {body}\r\n"
        ),
    )
    .unwrap();
    out
}

fn metric_value(serve: &Serve, line_start: &str) -> u64 {
    let (code, body) = serve.metrics();
    let text = format!("{code} {}", String::from_utf8_lossy(&body));
    text.lines()
        .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {line_start} in /metrics:\n{text}\n{}", serve.log()))
}

#[test]
fn a_full_data_disk_fails_closed_and_recovery_needs_no_restart() {
    if !is_root() {
        eprintln!("disk_full: skipped, mounting a tmpfs needs root");
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let _fs = Tmpfs::mount(&data, "24m").expect("mount -t tmpfs");
    let serve = Serve::start_on(&data, "");
    let pf = Postfix::start(serve.milter);
    let work = tempfile::tempdir().unwrap();
    let secret = "机密★5年\n关于调整人员编制的通知\n各单位：现将有关事项通知如下。\n";
    let clean = "关于召开年度工作总结会的通知\n请各部门准时参加。\n";

    // Room on the disk: blocked with an incident.
    let (status, http, page) = upload(serve.icap, "before.txt", secret);
    assert_eq!((status, http.as_str()), (200, "HTTP/1.1 403 Forbidden"));
    assert!(incident_number(&page).is_some(), "{page}");

    // The disk fills up.
    let filler = data.join("filler.bin");
    let filled = fill(&filler);
    assert!(filled > 0);

    // A marked upload: the block page, not a pass; the reason is the failed inspection.
    let (status, http, page) = upload(serve.icap, "while-full.txt", secret);
    assert_eq!(
        (status, http.as_str()),
        (200, "HTTP/1.1 403 Forbidden"),
        "{page}"
    );
    assert!(page.contains("检查失败"), "{page}");
    // A marked mail: 451, the client keeps it; nothing queued or delivered.
    let (ok, transcript) = pf.swaks("bob@example.test", &mail(work.path(), "while-full", secret));
    assert!(!ok, "accepted while the disk was full:\n{transcript}");
    assert!(transcript.contains("<** 451"), "{transcript}");
    assert!(pf.delivered().is_empty());
    // Clean traffic records nothing and still passes.
    let (status, _, _) = upload(serve.icap, "clean.txt", clean);
    assert_eq!(status, 204);

    let log = serve.log();
    assert!(
        log.contains("no space left on the data directory's disk"),
        "no log line names the full disk:\n{log}"
    );
    assert!(
        metric_value(
            &serve,
            "baomi_record_failures_total{channel=\"web\",cause=\"disk_full\"}"
        ) >= 1
    );
    assert!(
        metric_value(
            &serve,
            "baomi_record_failures_total{channel=\"mail\",cause=\"disk_full\"}"
        ) >= 1
    );

    // Space returns; the same process records again.
    std::fs::remove_file(&filler).unwrap();
    let (status, http, page) = upload(serve.icap, "after.txt", secret);
    assert_eq!((status, http.as_str()), (200, "HTTP/1.1 403 Forbidden"));
    let number = incident_number(&page).expect("an incident once space returned");
    assert_eq!(serve.evidence(&number), secret.as_bytes());
    let (ok, transcript) = pf.swaks("bob@example.test", &mail(work.path(), "after", secret));
    assert!(!ok);
    assert!(transcript.contains("<** 550"), "{transcript}");
    assert!(incident_number(&transcript).is_some(), "{transcript}");

    let (code, out) = serve.audit_verify();
    assert_eq!(code, 0, "{out}");
    let check =
        support::serve::baomi(&["--config", serve.config.to_str().unwrap(), "store", "check"]);
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}
