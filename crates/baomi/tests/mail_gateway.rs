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

/// 200 messages with attachments sent at once by the sender's MTA (a relay Postfix) into
/// the gateway Postfix; `baomi serve` is killed with SIGKILL once it has body chunks of
/// messages in flight. The gateway tempfails what was in flight, the relay keeps it and
/// retries, and after the restart every message arrives exactly once, each one inspected
/// (its `X-Baomi-Verdict` header: every message carries one resident ID, policy `audit`).
#[test]
fn two_hundred_sessions_killed_mid_body_lose_nothing_and_deliver_nothing_uninspected() {
    const MESSAGES: usize = 200;
    let mut serve = Serve::start("", None);
    // Beyond Postfix's defaults: 300 processes, no per-client connection limit (anvil).
    // Each session pauses 10 s at DATA (as slow senders do), so the relay's sessions, which
    // it opens over a few seconds (more on a loaded machine), are all open at once when
    // their bodies come.
    let gateway = Postfix::gateway(
        serve.milter,
        "default_process_limit = 300\nsmtpd_client_connection_count_limit = 0\n\
         smtpd_client_connection_rate_limit = 0\nsmtpd_client_message_rate_limit = 0\n\
         smtpd_data_restrictions = sleep 10, permit\n",
    );
    let relay = Postfix::relay(
        gateway.smtp_port,
        "default_process_limit = 300\ndefault_destination_concurrency_limit = 250\n\
         initial_destination_concurrency = 250\nsmtp_destination_concurrency_limit = 250\n\
         smtp_connection_cache_on_demand = no\n",
    );
    let work = tempfile::tempdir().unwrap();
    // A 600 KB attachment each (a blank disk image: no text, cheap to inspect), so the
    // bodies take ten or more 64 KiB chunks and are in flight for a while.
    let attachment = base64_lines(&vec![0u8; 600_000]);
    for i in 0..MESSAGES {
        let file = work.path().join(format!("m{i}.eml"));
        std::fs::write(
            &file,
            format!(
                "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: report {i}\r\n\
                 Message-ID: <load-{i}@example.test>\r\nMIME-Version: 1.0\r\n\
                 Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
                 --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
                 第{i}份报表，联系人身份证号：{}\r\n\
                 --b\r\nContent-Type: application/octet-stream; name=\"data{i}.bin\"\r\n\
                 Content-Transfer-Encoding: base64\r\n\
                 Content-Disposition: attachment; filename=\"data{i}.bin\"\r\n\r\n\
                 {attachment}--b--\r\n",
                resident_id(i as u32)
            ),
        )
        .unwrap();
        relay.sendmail(&file);
    }
    // Held: every message reaches the relay's deferred queue (defer_transports).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let q = relay.queue();
        let deferred = q.iter().filter(|(name, _)| name == "deferred").count();
        if deferred == MESSAGES && q.len() == MESSAGES {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the relay holds {deferred} of {MESSAGES} ({} listed)",
            q.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // All at once; kill as soon as the first body chunks have arrived (polling a busy
    // server can miss a narrower window, such as "190 open and bodies arriving").
    relay.release();
    let deadline = Instant::now() + Duration::from_secs(120);
    let (active, chunks, answered, peak) = loop {
        let m = milter_metrics(&serve);
        if m.1 > 0 {
            serve.kill();
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "no body chunk arrived (active, chunks, answered, peak) = {m:?}\n{}\n{}",
            warnings(&relay.log()),
            warnings(&gateway.log())
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(
        peak >= 190 && active >= 150 && (answered as usize) < MESSAGES,
        "not mid-body with the sessions open at the kill: (active, chunks, answered, peak) = \
         ({active}, {chunks}, {answered}, {peak})"
    );
    eprintln!(
        "milter kill: {active} sessions open, {chunks} body chunks in, {answered} messages \
         answered, peak {peak} sessions at the kill"
    );

    // The relay is told 4xx for what was in flight and keeps it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !relay.log().contains("status=deferred") {
        assert!(
            Instant::now() < deadline,
            "nothing deferred:\n{}",
            relay.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    serve.restart();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if gateway.delivered().len() >= MESSAGES && relay.queue().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {MESSAGES} delivered; relay queue {}; gateway log:\n{}",
            gateway.delivered().len(),
            relay.queue().len(),
            tail_lines(&gateway.log(), 30)
        );
        relay.flush();
        std::thread::sleep(Duration::from_secs(1));
    }
    let delivered = gateway.delivered();
    let mut ids: Vec<String> = delivered
        .iter()
        .map(|m| {
            let text = String::from_utf8_lossy(m);
            assert!(
                text.contains("X-Baomi-Verdict: audit"),
                "delivered without inspection:\n{}",
                &text[..text.len().min(600)]
            );
            let at = text.find("<load-").expect("Message-ID");
            text[at..at + text[at..].find('>').unwrap()].to_owned()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), MESSAGES, "every message once");
    assert_eq!(delivered.len(), MESSAGES, "no message twice");
}

/// (active sessions, body chunks, messages answered, peak sessions) from `/metrics`.
fn milter_metrics(serve: &Serve) -> (u64, u64, u64, u64) {
    let (_, body) = serve.metrics();
    let text = String::from_utf8_lossy(&body);
    let get = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or(0)
    };
    (
        get("baomi_milter_active_connections"),
        get("baomi_milter_body_chunks_total"),
        get("baomi_milter_messages_total"),
        get("baomi_milter_peak_connections"),
    )
}

/// Base64 in 76-character lines, as mail clients write attachments.
fn base64_lines(bytes: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::new();
    for line in b64.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push_str("\r\n");
    }
    out
}

fn warnings(log: &str) -> String {
    let w: Vec<&str> = log.lines().filter(|l| l.contains("warning")).collect();
    w[..w.len().min(10)].join("\n")
}

fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
