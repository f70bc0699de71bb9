//! kill -9 of `baomi serve` while it records: incidents, their evidence and the audit chain
//! are written by several clients at once, the server is killed at an arbitrary moment,
//! then checked and restarted — in a loop, on SQLite and on PostgreSQL.
//!
//! After every kill: `baomi audit verify` passes; `baomi store check` finds no record
//! without its evidence (orphan files of writes the kill interrupted are allowed, and
//! `--repair` moves them aside, after which the check is clean); every upload the server
//! had answered "blocked, incident N" before the kill is in the restarted server with its
//! evidence byte for byte.

#[allow(dead_code)]
mod support {
    pub mod serve;
}

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use baomi_store::testing::TempPostgres;
use support::serve::{Serve, baomi, out_text};

const ROUNDS: usize = 6;
const WRITERS: usize = 3;

/// A blocked upload, unique per (round, writer, i), about 200 KB so that writing its
/// evidence takes long enough for kills to land in the middle of some.
fn upload(round: usize, writer: usize, i: usize) -> String {
    let mut s = format!("机密★5年\n关于第{round}轮第{writer}组第{i}份材料的通知\n");
    let line = format!("第{round}-{writer}-{i}号 各单位要严格执行涉密载体登记、签收、清退制度。\n");
    while s.len() < 200 << 10 {
        s.push_str(&line);
    }
    s
}

/// Upload `text` as `name` through the API (via a file in `dir`); the incident number of
/// the block, or `None` when the server did not answer (it was killed).
fn blocked_upload(s: &Serve, dir: &std::path::Path, name: &str, text: &str) -> Option<String> {
    let file = dir.join("u.txt");
    std::fs::write(&file, text).unwrap();
    let (code, body) = s.curl(&[
        "--data-binary",
        &format!("@{}", file.display()),
        &format!(
            "http://127.0.0.1:{}/api/v1/scan?channel=web&name={name}",
            s.http
        ),
    ]);
    if code != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["action"], "block", "{v}");
    Some(v["incidents"][0].as_str().unwrap().to_owned())
}

fn store_check(s: &Serve, extra: &[&str]) -> (i32, String) {
    let mut args = vec![
        "--config",
        s.config.to_str().unwrap(),
        "store",
        "check",
        "--grace",
        "0",
    ];
    args.extend_from_slice(extra);
    let out = baomi(&args);
    (out.status.code().unwrap_or(-1), out_text(&out))
}

fn crash_loop(db_line: &str) {
    let mut s = Serve::start(db_line, None);
    // (incident number, what was uploaded) for every upload answered before a kill.
    let acknowledged: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    let mut interrupted = 0;
    for round in 0..ROUNDS {
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            for w in 0..WRITERS {
                let (s, stop, acknowledged) = (&s, &stop, &acknowledged);
                scope.spawn(move || {
                    let dir = tempfile::tempdir().unwrap();
                    for i in 0.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let text = upload(round, w, i);
                        let name = format!("通知{round}-{w}-{i}.txt");
                        let Some(number) = blocked_upload(s, dir.path(), &name, &text) else {
                            break; // the server is gone
                        };
                        acknowledged.lock().unwrap().push((number, text));
                    }
                });
            }
            // An arbitrary moment, different each round, once the writers are going.
            std::thread::sleep(Duration::from_millis(700 + (round as u64 * 373) % 1300));
            let killed = std::process::Command::new("kill")
                .args(["-9", &s.pid().to_string()])
                .status()
                .unwrap();
            assert!(killed.success());
            stop.store(true, Ordering::Relaxed);
        });
        s.kill(); // reaps the killed process

        let (code, out) = s.audit_verify();
        assert_eq!(code, 0, "round {round}: audit verify after kill -9:\n{out}");
        let (code, out) = store_check(&s, &["--verify-evidence"]);
        assert!(
            !out.contains("MISSING"),
            "round {round}: a record without evidence:\n{out}"
        );
        assert!(!out.contains("UNREADABLE"), "round {round}:\n{out}");
        if code != 0 {
            // Only orphans or partial files: evidence written, its record not committed.
            assert!(
                out.contains("orphan") || out.contains("partial"),
                "round {round}:\n{out}"
            );
            interrupted += 1;
            let (code, out) = store_check(&s, &["--repair"]);
            assert_eq!(code, 0, "round {round}: repair:\n{out}");
            let (_, tail) = s.audit_tail();
            assert!(
                tail.contains("store.repair"),
                "the repair is not in the trail:\n{tail}"
            );
            let (code, out) = store_check(&s, &[]);
            assert_eq!(code, 0, "round {round}: check after repair:\n{out}");
            assert!(out.contains("store consistent"), "{out}");
        }
        s.restart();
    }
    // Nothing answered before a kill was lost: every acknowledged incident is there with
    // its evidence, byte for byte.
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(
        acknowledged.len() >= ROUNDS,
        "too few uploads went through to test anything: {}",
        acknowledged.len()
    );
    for (number, text) in &acknowledged {
        assert_eq!(s.evidence(number), text.as_bytes(), "incident {number}");
    }
    let (code, out) = s.audit_verify();
    assert_eq!(code, 0, "{out}");
    eprintln!(
        "crash loop ({}): {ROUNDS} kills, {} uploads acknowledged, {interrupted} kill(s) left orphans or partial files",
        if db_line.is_empty() {
            "SQLite"
        } else {
            "PostgreSQL"
        },
        acknowledged.len()
    );
}

#[test]
fn kill_9_while_recording_sqlite() {
    crash_loop("");
}

#[test]
fn kill_9_while_recording_postgres() {
    let pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    crash_loop(&format!("[database]\nurl = \"{}\"\n", pg.url));
}

/// The other direction, which a crash must never cause but a disk or an operator can: a
/// record whose evidence is gone is named, and no repair hides it.
#[test]
fn store_check_names_a_record_without_its_evidence() {
    let mut s = Serve::start("", None);
    let number = blocked_upload(&s, s.dir.path(), "a.txt", &upload(0, 0, 0)).expect("blocked");
    s.kill();
    let (code, out) = store_check(&s, &["--verify-evidence"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 evidence files, 1 referenced"), "{out}");
    // Remove the one evidence file; leave something that is not evidence beside it.
    let vault = s.data().join("evidence");
    let shard = std::fs::read_dir(&vault)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.path().is_dir())
        .unwrap()
        .path();
    for f in std::fs::read_dir(&shard).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    std::fs::write(vault.join("notes.txt"), "x").unwrap();
    for extra in [&[][..], &["--repair"][..]] {
        let (code, out) = store_check(&s, extra);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains(&format!("MISSING incident {number}")), "{out}");
        assert!(out.contains("not evidence, left alone"), "{out}");
        assert!(out.contains("STORE INCONSISTENT"), "{out}");
    }
    assert!(vault.join("notes.txt").exists());
}
