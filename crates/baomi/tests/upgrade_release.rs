//! Stores written by an earlier release's own binary are opened by this one and upgraded
//! in place, SQLite and PostgreSQL. The fixtures under `tests/fixtures/release-1674a86/`
//! were made by `scripts/make-release-fixture.sh` with the `baomi` built from commit
//! 1674a86 (schema 0001–0004: before the publication review, the per-day counts and the
//! search index): that binary added an account and a token, and recorded the incidents of
//! two blocked uploads with their encrypted evidence and its audit entries.
//!
//! After the upgrade: the audit chain of the old entries verifies, the old incidents are
//! listed, counted and found by the new search, their evidence decrypts to the uploaded
//! files, the store check is clean, the old account is there with its role, and new
//! incidents join the old ones.

#[allow(dead_code)]
mod support {
    pub mod serve;
}

use std::path::{Path, PathBuf};
use std::process::Command;

use baomi_store::testing::TempPostgres;
use support::serve::{Serve, baomi, out_text};

const REV: &str = "1674a86";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/release-{REV}"))
}

/// A writable copy of the fixture's data directory `which` (`sqlite` or `postgres`).
fn copy_of(which: &str, into: &Path) -> PathBuf {
    let data = into.join("data");
    let out = Command::new("cp")
        .arg("-a")
        .arg(fixture().join(which))
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", out_text(&out));
    let _ = std::fs::remove_file(data.join("dump.sql"));
    data
}

fn check_upgraded(s: &Serve) {
    let cfg = s.config.to_str().unwrap();
    let out = baomi(&["--config", cfg, "audit", "verify"]);
    assert!(out.status.success(), "{}", out_text(&out));
    let out = baomi(&["--config", cfg, "store", "check", "--verify-evidence"]);
    assert!(out.status.success(), "{}", out_text(&out));
    let out = baomi(&["--config", cfg, "user", "list"]);
    let users = out_text(&out);
    assert!(
        users
            .lines()
            .any(|l| l.contains("old-officer") && l.contains("secadmin")),
        "{users}"
    );

    let page = s.api("/api/v1/incidents");
    assert_eq!(page["total"], 2, "{page}");
    for inc in page["incidents"].as_array().unwrap() {
        let number = inc["number"].as_str().unwrap();
        let name = inc["object_name"].as_str().unwrap();
        let uploaded = std::fs::read(fixture().join("uploads").join(name)).unwrap();
        assert_eq!(s.evidence(number), uploaded, "{number} {name}");
    }
    // The new search and counts were filled from the old rows.
    let found = s.api("/api/v1/incidents?q=notice");
    assert_eq!(found["total"], 1, "{found}");
    let stats = s.api("/api/v1/stats");
    assert!(stats.to_string().contains("\"total\":2"), "{stats}");

    // A new incident joins them.
    let file = s.dir.path().join("new.txt");
    std::fs::write(&file, "秘密★1年\n升级后的第一份通知\n").unwrap();
    let (code, body) = s.curl(&[
        "--data-binary",
        &format!("@{}", file.display()),
        &format!(
            "http://127.0.0.1:{}/api/v1/scan?channel=web&name=new.txt",
            s.http
        ),
    ]);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(s.api("/api/v1/incidents")["total"], 3);
    let out = baomi(&["--config", cfg, "audit", "verify"]);
    assert!(out.status.success(), "{}", out_text(&out));
}

#[test]
fn a_sqlite_store_of_the_earlier_release_is_upgraded_in_place() {
    let work = tempfile::tempdir().unwrap();
    let data = copy_of("sqlite", work.path());
    let s = Serve::start_on(&data, "");
    check_upgraded(&s);
}

#[test]
fn a_postgres_dump_of_the_earlier_release_is_upgraded_in_place() {
    let pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    let out = Command::new("psql")
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-d", &pg.url, "-f"])
        .arg(fixture().join("postgres/dump.sql"))
        .output()
        .expect("psql (postgresql-client)");
    assert!(out.status.success(), "{}", out_text(&out));
    let work = tempfile::tempdir().unwrap();
    let data = copy_of("postgres", work.path());
    let s = Serve::start_on(&data, &format!("[database]\nurl = \"{}\"\n", pg.url));
    check_upgraded(&s);
}
