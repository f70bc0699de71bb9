//! The mail gateway end to end, as an operator runs it: real Postfix from Debian with
//! `smtpd_milters` pointing at `baomi serve` (the real binary), mail sent with swaks.

#[path = "../../baomi-milter/tests/common/mod.rs"]
mod postfix;
#[allow(dead_code)]
mod support {
    pub mod serve;
}

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use postfix::{Postfix, queued_id};
use support::serve::{Serve, incident_number, resident_id};

/// The case files' mail: a marked .docx inside a zip attachment (python-docx, zipfile).
fn marked_mail(dir: &Path) -> PathBuf {
    let out = dir.join("marked.eml");
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../baomi-milter/tests/data/make_marked_mail.py");
    let status = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(&out)
        .status()
        .expect("/usr/bin/python3");
    assert!(
        status.success(),
        "python3-docx missing? (scripts/deps.sh test)"
    );
    out
}

fn plain_mail(dir: &Path, name: &str, subject: &str, body: &str) -> PathBuf {
    let out = dir.join(name);
    let text = format!(
        "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: {subject}\r\n\
         Date: Sat, 21 Nov 2026 08:00:00 +0800\r\nMessage-ID: <{name}@example.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
    );
    std::fs::write(&out, text).unwrap();
    out
}

#[test]
fn postfix_rejects_with_the_incident_and_the_original_is_restorable() {
    let serve = Serve::start("", None);
    let pf = Postfix::start(serve.milter);
    let work = tempfile::tempdir().unwrap();

    // A marked docx in a zip: 550 5.7.1 naming the incident.
    let marked = marked_mail(work.path());
    let (ok, transcript) = pf.swaks("bob@example.test", &marked);
    assert!(!ok, "the marked mail was accepted:\n{transcript}");
    assert!(
        transcript.contains("550 5.7.1"),
        "{transcript}\n{}",
        serve.log()
    );
    let number = incident_number(&transcript).expect("incident number in the rejection");
    let inc = serve.api(&format!("/api/v1/incidents/{number}"));
    assert_eq!(inc["channel"], "mail");
    assert_eq!(inc["action"], "block");
    assert_eq!(inc["level"], "secret");
    assert!(
        inc["destination"]
            .as_str()
            .unwrap()
            .contains("bob@example.test")
    );
    assert!(
        inc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["part"].as_str().unwrap_or("").contains("通知.docx")),
        "{inc}"
    );
    // The restore: the stored original is what swaks sent (swaks ends DATA with CRLF . CRLF,
    // so the message is the file and a final CRLF).
    let mut sent = std::fs::read(&marked).unwrap();
    sent.extend_from_slice(b"\r\n");
    assert_eq!(
        serve.evidence(&number),
        sent,
        "restored mail differs from what was sent"
    );
    // And on disk it is not readable.
    let evidence_file = find_files(&serve.data().join("evidence"));
    assert_eq!(evidence_file.len(), 1);
    let raw = std::fs::read(&evidence_file[0]).unwrap();
    assert!(!contains(&raw, b"Subject:") && !contains(&raw, "请查收".as_bytes()));
    assert!(pf.queue().is_empty(), "a rejected mail was queued");

    // A clean mail is delivered, untouched but for Postfix's own headers.
    let clean = plain_mail(
        work.path(),
        "clean.eml",
        "weekly menu",
        "本周食堂菜单：周一米饭。",
    );
    let (ok, transcript) = pf.swaks("bob@example.test", &clean);
    assert!(ok, "{transcript}\n{}", serve.log());
    let delivered = pf.wait_delivered("weekly menu");
    assert!(contains(&delivered, "本周食堂菜单".as_bytes()));

    // Ten resident ID numbers: blocked too (bulk personal data).
    let ids: String = (0..10)
        .map(|i| format!("人员{i} {}\r\n", resident_id(i)))
        .collect();
    let list = plain_mail(work.path(), "ids.eml", "list", &ids);
    let (ok, transcript) = pf.swaks("bob@example.test", &list);
    assert!(!ok && transcript.contains("550 5.7.1"), "{transcript}");
    let n2 = incident_number(&transcript).unwrap();
    let inc = serve.api(&format!("/api/v1/incidents/{n2}"));
    let shown = inc.to_string();
    assert!(
        !shown.contains(&resident_id(4)),
        "an ID number is shown unmasked: {shown}"
    );

    let (code, out) = serve.audit_verify();
    assert_eq!(code, 0, "{out}");
}

#[test]
fn quarantined_mail_waits_in_the_hold_queue_until_released_through_the_api() {
    // Mail with a state-secret marking is held for the officer instead of bounced.
    let policy = r#"
alert_at = "alert"
[[rule]]
name = "hold-marked-mail"
kinds = ["marking"]
min_level = "confidential"
action = "quarantine"
severity = "high"
channels = ["mail"]
"#;
    // Postfix's config dir is only known once it starts; the server needs it for postsuper.
    let milter_port = support::serve::free_port();
    let pf = Postfix::start(milter_port);
    let extra = format!("[milter]\npostfix_config_dir = \"{}\"\n", pf.conf.display());
    let serve = Serve::start_with_milter_port(&extra, Some(policy), milter_port);
    let work = tempfile::tempdir().unwrap();

    let marked = marked_mail(work.path());
    let (ok, transcript) = pf.swaks("bob@example.test", &marked);
    assert!(ok, "a held mail is accepted: {transcript}\n{}", serve.log());
    let queue_id = queued_id(&transcript).expect("queue id");
    let held = pf.queue();
    assert!(
        held.iter().any(|(q, id)| q == "hold" && *id == queue_id),
        "not in the hold queue: {held:?}"
    );
    let page = serve.api("/api/v1/incidents?channel=mail&action=quarantine");
    let inc = &page["incidents"][0];
    assert_eq!(inc["quarantine_id"], queue_id.as_str());
    let number = inc["number"].as_str().unwrap().to_owned();
    assert!(pf.delivered().is_empty());

    let (code, v) = serve.post(&format!("/api/v1/incidents/{number}/release"));
    assert_eq!(code, 200, "{v}\n{}", serve.log());
    let delivered = pf.wait_delivered("marked-1@example.test");
    assert!(
        contains(&delivered, b"X-Baomi-Verdict: quarantine"),
        "{}",
        String::from_utf8_lossy(&delivered)
    );
    let inc = serve.api(&format!("/api/v1/incidents/{number}"));
    assert_eq!(inc["quarantine_state"], "released");
    // Releasing twice is refused.
    assert_eq!(
        serve.post(&format!("/api/v1/incidents/{number}/release")).0,
        409
    );
    let (_, tail) = serve.audit_tail();
    assert!(tail.contains("quarantine.release"), "{tail}");
    let (code, out) = serve.audit_verify();
    assert_eq!(code, 0, "{out}");
}

#[test]
fn killing_the_scanner_mid_message_makes_postfix_tempfail() {
    let mut serve = Serve::start("", None);
    let pf = Postfix::start(serve.milter);
    let work = tempfile::tempdir().unwrap();
    // A message large enough that the kill lands while it is being transferred or inspected.
    let big: String = "普通的工作汇报内容，没有任何涉密信息。\r\n".repeat(400_000);
    let mail = plain_mail(work.path(), "big.eml", "report", &big);
    let child = {
        let mail = mail.clone();
        let port = pf.smtp_port;
        std::thread::spawn(move || {
            Command::new("swaks")
                .args([
                    "--server",
                    &format!("127.0.0.1:{port}"),
                    "--from",
                    "alice@example.test",
                ])
                .args(["--to", "bob@example.test", "--timeout", "120", "--data"])
                .arg(format!("@{}", mail.display()))
                .output()
                .unwrap()
        })
    };
    // Kill baomi (SIGKILL) once Postfix holds a milter connection to it for this session.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !milter_connected(serve.milter) {
        assert!(
            Instant::now() < deadline,
            "Postfix never connected to the milter"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    serve.kill();
    let out = child.join().unwrap();
    let transcript = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success(),
        "accepted with the scanner gone:\n{transcript}"
    );
    assert!(
        transcript.contains("<** 4") || transcript.contains(" 451 "),
        "{transcript}"
    );
    assert!(pf.queue().is_empty());
    assert!(pf.delivered().is_empty());
}

/// An established TCP connection to the milter port (`ss` from iproute2).
fn milter_connected(port: u16) -> bool {
    let out = Command::new("ss")
        .args(["-Htn", "state", "established"])
        .output()
        .expect("ss (iproute2)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.contains(&format!("127.0.0.1:{port} ")))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn find_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(find_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}
