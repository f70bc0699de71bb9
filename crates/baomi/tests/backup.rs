//! Backup and restore with the real binary, SQLite and PostgreSQL: `baomi backup` while the
//! server runs and records, then `baomi restore` into a fresh data directory (and a fresh
//! database); the audit chain verifies, and the restored server gives back the evidence of
//! a blocked upload byte for byte, also after `baomi rotate-key`. Refused: a non-empty target, a directory that is not a
//! backup, a backup of the other backend. The server warns until a backup was made.

#[allow(dead_code)]
mod support {
    pub mod serve;
}

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use baomi_store::testing::TempPostgres;
use support::serve::{Serve, baomi, free_port, out_text};

const SECRET: &str = "机密★5年\n关于调整边境管控措施的通知\n";

/// Block an upload through the API: an incident with evidence. Its number.
fn blocked_upload(s: &Serve) -> String {
    let (code, body) = s.curl(&[
        "--data-binary",
        SECRET,
        &format!(
            "http://127.0.0.1:{}/api/v1/scan?channel=web&name=通知.txt",
            s.http
        ),
    ]);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["action"], "block", "{v}");
    v["incidents"][0].as_str().unwrap().to_owned()
}

/// `baomi serve` on a restored store, with a fresh token for its security officer.
struct Restored {
    child: Child,
    http: u16,
    token: String,
}

impl Drop for Restored {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_restored(config: &Path) -> Restored {
    let cfg = config.to_str().unwrap();
    let out = baomi(&[
        "--config", cfg, "token", "create", "after", "--user", "officer",
    ]);
    assert!(out.status.success(), "{}", out_text(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let text = std::fs::read_to_string(config).unwrap();
    let http: u16 = text
        .split("http = \"127.0.0.1:")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_baomi"))
        .args(["--config", cfg, "serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let r = Restored { child, http, token };
    let deadline = Instant::now() + Duration::from_secs(60);
    while Command::new("curl")
        .args(["-sf", &format!("http://127.0.0.1:{http}/healthz")])
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "restored server did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    r
}

fn evidence_of(http: u16, token: &str, number: &str) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-sf", "-H", &format!("Authorization: Bearer {token}")])
        .arg(format!(
            "http://127.0.0.1:{http}/api/v1/incidents/{number}/evidence"
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "evidence download failed");
    out.stdout
}

/// A copy of the backup that lost one evidence file restores with exit 1 and names the
/// incident whose evidence is gone.
fn restore_of_a_damaged_copy_names_the_missing_evidence(backup: &Path, work: &Path, number: &str) {
    let damaged = work.join("backup-damaged");
    let out = Command::new("cp")
        .args(["-a"])
        .arg(backup)
        .arg(&damaged)
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut files = Vec::new();
    for fan in std::fs::read_dir(damaged.join("evidence")).unwrap() {
        for f in std::fs::read_dir(fan.unwrap().path()).unwrap() {
            files.push(f.unwrap().path());
        }
    }
    assert!(!files.is_empty());
    for f in &files {
        std::fs::remove_file(f).unwrap();
    }
    let data = work.join("restored-damaged");
    let config = work.join("restored-damaged.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[listen]\nhttp = \"127.0.0.1:{}\"\nicap = \"off\"\nmilter = \"off\"\n",
            data.display(),
            free_port()
        ),
    )
    .unwrap();
    let out = baomi(&[
        "--config",
        config.to_str().unwrap(),
        "restore",
        damaged.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", out_text(&out));
    let text = out_text(&out);
    assert!(text.contains("BACKUP INCOMPLETE"), "{text}");
    assert!(text.contains(&format!("incident {number}")), "{text}");
}

/// Back up a running server, restore into a fresh store; the backup's directory.
fn round_trip(db_line: &str, restore_db_line: &str, work: &Path) -> std::path::PathBuf {
    let s = Serve::start(db_line, None);
    // One of the unit's own files beside the database.
    std::fs::create_dir_all(s.data().join("dictionaries")).unwrap();
    std::fs::write(s.data().join("dictionaries/单位敏感词.txt"), "边境管控\n").unwrap();
    let cfg = s.config.to_str().unwrap().to_owned();
    assert!(
        s.log().contains("has never been backed up"),
        "no warning:\n{}",
        s.log()
    );
    let number = blocked_upload(&s);
    let original = s.evidence(&number);
    assert_eq!(original, SECRET.as_bytes());

    let dest = work.join("backup-1");
    // While the server runs and keeps recording.
    let later = std::thread::scope(|scope| {
        let h = scope.spawn(|| blocked_upload(&s));
        let out = baomi(&["--config", &cfg, "backup", dest.to_str().unwrap()]);
        assert!(out.status.success(), "{}", out_text(&out));
        assert!(
            out_text(&out).contains("evidence key"),
            "{}",
            out_text(&out)
        );
        h.join().unwrap()
    });
    assert!(dest.join("BACKUP.json").is_file());
    assert!(dest.join("evidence.key").is_file());
    assert!(
        dest.join("dictionaries/单位敏感词.txt").is_file(),
        "the unit's files"
    );
    // Not into a directory that holds something.
    let out = baomi(&["--config", &cfg, "backup", dest.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out_text(&out).contains("not empty"), "{}", out_text(&out));

    // Restore into a fresh data directory (and database).
    let data = work.join("restored-data");
    let http = free_port();
    let config = work.join("restored.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[listen]\nhttp = \"127.0.0.1:{http}\"\nicap = \"off\"\nmilter = \"off\"\n{restore_db_line}",
            data.display()
        ),
    )
    .unwrap();
    let rcfg = config.to_str().unwrap();
    let not_a_backup = work.join("empty");
    std::fs::create_dir_all(&not_a_backup).unwrap();
    let out = baomi(&["--config", rcfg, "restore", not_a_backup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out_text(&out).contains("not a complete Baomi backup"));
    let out = baomi(&["--config", rcfg, "restore", dest.to_str().unwrap()]);
    assert!(out.status.success(), "{}", out_text(&out));
    assert!(
        out_text(&out).contains("audit log intact"),
        "{}",
        out_text(&out)
    );
    assert!(
        out_text(&out).contains("evidence complete"),
        "{}",
        out_text(&out)
    );
    if restore_db_line.is_empty() {
        restore_of_a_damaged_copy_names_the_missing_evidence(&dest, work, &number);
    }
    let out = baomi(&["--config", rcfg, "audit", "verify"]);
    assert!(out.status.success(), "{}", out_text(&out));
    // A second restore over it is refused.
    let out = baomi(&["--config", rcfg, "restore", dest.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));

    // A key rotation on the restored store: the old evidence stays readable.
    let out = baomi(&["--config", rcfg, "rotate-key"]);
    assert!(out.status.success(), "{}", out_text(&out));
    assert!(data.join("evidence.keys").read_dir().unwrap().count() == 1);

    drop(s);
    let r = serve_restored(&config);
    assert_eq!(evidence_of(r.http, &r.token, &number), original);
    // The upload made during the backup is there or not, but never half there: when its
    // incident was restored, so was its evidence.
    let (code, _) = {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-H",
                &format!("Authorization: Bearer {}", r.token),
            ])
            .arg(format!(
                "http://127.0.0.1:{}/api/v1/incidents/{later}",
                r.http
            ))
            .output()
            .unwrap();
        (String::from_utf8_lossy(&out.stdout).to_string(), ())
    };
    if code == "200" {
        assert_eq!(evidence_of(r.http, &r.token, &later), SECRET.as_bytes());
    } else {
        assert_eq!(code, "404");
    }
    dest
}

#[test]
fn backup_and_restore_sqlite() {
    let work = tempfile::tempdir().unwrap();
    round_trip("", "", work.path());
}

#[test]
fn backup_and_restore_postgres() {
    let pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    // The restore goes into a second, empty database of the same server.
    let psql = std::fs::read_dir("/usr/lib/postgresql")
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path().join("bin/psql")))
        .find(|p| p.exists())
        .unwrap();
    let mut ready = false;
    for _ in 0..50 {
        let out = Command::new(&psql)
            .arg(&pg.url)
            .args(["-c", "CREATE DATABASE restored"])
            .output()
            .unwrap();
        if out.status.success() {
            ready = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(ready, "PostgreSQL accepts connections");
    let restored_url = match pg.url.rsplit_once('/') {
        Some((server, _db)) => format!("{server}/restored"),
        None => unreachable!(),
    };
    let work = tempfile::tempdir().unwrap();
    let dest = round_trip(
        &format!("[database]\nurl = \"{}\"\n", pg.url),
        &format!("[database]\nurl = \"{restored_url}\"\n"),
        work.path(),
    );
    assert!(dest.join("database.pgdump").is_file());
    // A PostgreSQL backup does not restore into SQLite.
    let other = work.path().join("sqlite-data");
    let out = baomi(&[
        "--data-dir",
        other.to_str().unwrap(),
        "restore",
        dest.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        out_text(&out).contains("PostgreSQL backup"),
        "{}",
        out_text(&out)
    );
}
