//! The mail door behind a real Postfix (Debian's), mail sent with swaks, detection by
//! Baomi's engine: reject with an incident number, delivery, the hold queue and its
//! release, the message rebuilt byte for byte, and a scanner killed mid-message.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use baomi_milter::{HoldQueue, MailDecision, MailInspector, MilterConfig, serve};
use common::{EngineInspector, Postfix, queued_id};

/// The door served from its own runtime thread, as `baomi serve` would run it.
struct Milter {
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _spool: tempfile::TempDir,
}

impl Milter {
    fn start<I: MailInspector>(inspector: Arc<I>, tune: impl FnOnce(&mut MilterConfig)) -> Milter {
        let spool = tempfile::tempdir().unwrap();
        let mut config = MilterConfig {
            spool_dir: spool.path().to_path_buf(),
            ..MilterConfig::default()
        };
        tune(&mut config);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                serve(listener, Arc::new(config), inspector, async {
                    stopped.await.ok();
                })
                .await
                .unwrap();
            });
        });
        Milter {
            port,
            stop: Some(stop),
            thread: Some(thread),
            _spool: spool,
        }
    }
}

impl Drop for Milter {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn marked_mail(dir: &Path) -> PathBuf {
    let out = dir.join("marked.eml");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/make_marked_mail.py");
    let status = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(&out)
        .status()
        .expect("/usr/bin/python3");
    assert!(
        status.success(),
        "making the marked .docx failed: python3-docx missing? (scripts/deps.sh test)"
    );
    out
}

/// A clean message with everything that could be rebuilt wrongly: folded and tight
/// headers, extra spaces after a colon, raw UTF-8 in a header and the body, lines starting
/// with dots and a line that is only a dot (dot-stuffed by swaks, undone by Postfix), an
/// empty last-but-one line, and `size` bytes of filler. Returns the file and the message
/// swaks sends from it.
fn tricky_mail(dir: &Path, name: &str, subject: &str, size: usize) -> (PathBuf, Vec<u8>) {
    let mut m = Vec::new();
    m.extend_from_slice(
        format!(
            "From: Alice <alice@example.test>\r\n\
             To: bob@example.test\r\n\
             Subject: {subject}\r\n\
             Date: Sat, 21 Nov 2026 08:00:00 +0800\r\n\
             Message-ID: <{name}@example.test>\r\n\
             X-Folded: first part\r\n\tsecond part\r\n   third part\r\n\
             X-Tight:no space\r\n\
             X-Spaces:   three spaces\r\n\
             X-Raw-8bit: 会议纪要 (raw UTF-8)\r\n\
             MIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Content-Transfer-Encoding: 8bit\r\n\
             \r\n\
             各位同事：明天下午开会。\r\n\
             .leading dot\r\n\
             .\r\n\
             ..two dots\r\n"
        )
        .as_bytes(),
    );
    let filler = b"The quick brown fox jumps over the lazy dog 0123456789.\r\n";
    while m.len() < size {
        m.extend_from_slice(filler);
    }
    m.extend_from_slice(b"\r\nlast line");
    let path = dir.join(format!("{name}.eml"));
    std::fs::write(&path, &m).unwrap();
    // swaks ends DATA with CRLF . CRLF after the file's bytes, so the message it sends is
    // the file plus CRLF.
    m.extend_from_slice(b"\r\n");
    (path, m)
}

#[test]
fn marked_docx_in_zip_is_rejected_with_the_incident_number() {
    let inspector = Arc::new(EngineInspector::new());
    let milter = Milter::start(inspector.clone(), |_| {});
    let postfix = Postfix::start(milter.port);
    let data = marked_mail(postfix.root.path());

    let (ok, transcript) = postfix.swaks("bob@example.test", &data);
    assert!(!ok, "swaks must fail: {transcript}");
    let line = transcript
        .lines()
        .find(|l| l.contains("<** ") && l.contains("550"))
        .unwrap_or_else(|| panic!("no 550 in:\n{transcript}\n{}", postfix.log()));
    assert!(
        line.contains("550 5.7.1 Message blocked by Baomi, incident BM-4711"),
        "{line}"
    );
    assert!(line.contains("state-secret-marking"), "{line}");
    assert!(postfix.queue().is_empty(), "a rejected mail is not queued");
    assert!(postfix.delivered().is_empty());
}

#[test]
fn clean_mail_is_delivered_tagged_and_rebuilt_byte_for_byte() {
    let inspector = Arc::new(EngineInspector::new());
    // A small spool threshold so the large message goes through the spool file.
    let milter = Milter::start(inspector.clone(), |c| c.spool_threshold = 64 << 10);
    let postfix = Postfix::start(milter.port);

    for (name, size, spooled) in [("small", 0, false), ("large", 3 << 20, true)] {
        let (data, sent) = tricky_mail(postfix.root.path(), name, &format!("例会 {name}"), size);
        let (ok, transcript) = postfix.swaks("bob@example.test", &data);
        assert!(ok, "{transcript}\n{}", postfix.log());
        let queue_id = queued_id(&transcript).expect("queue id");

        let seen = inspector.seen.lock().unwrap().clone();
        let seen = seen
            .iter()
            .find(|s| s.queue_id.as_deref() == Some(queue_id.as_str()))
            .expect("inspected under its queue id");
        assert_eq!(seen.spooled, spooled, "{name}");
        assert_eq!(seen.sender, "alice@example.test");
        assert_eq!(seen.recipients, ["bob@example.test"]);
        assert_eq!(
            seen.subject.as_deref(),
            Some(format!("例会 {name}").as_str())
        );
        assert_eq!(seen.client_ip, Some([127, 0, 0, 1].into()));
        assert!(seen.helo.is_some());
        let message = &seen.message;
        if message != &sent {
            let at = message.iter().zip(&sent).position(|(a, b)| a != b);
            panic!(
                "{name}: rebuilt message differs at byte {at:?} (lengths {} vs {}):\n{}",
                message.len(),
                sent.len(),
                String::from_utf8_lossy(&message[message.len().saturating_sub(300)..])
            );
        }

        let delivered = postfix.wait_delivered(&format!("<{name}@example.test>"));
        let text = String::from_utf8_lossy(&delivered);
        assert!(
            text.contains("X-Baomi-Verdict: allow"),
            "{name}: {}",
            &text[..800.min(text.len())]
        );
    }
}

/// Postfix's cleanup hands headers and body to milters only once DATA is complete, so a
/// client that goes away mid-DATA costs the milter an abort of the envelope it had seen.
#[test]
fn a_client_gone_mid_data_leaves_nothing_behind_and_the_next_mail_passes() {
    use std::io::{BufRead, BufReader, Write};
    let inspector = Arc::new(EngineInspector::new());
    let milter = Milter::start(inspector.clone(), |c| c.spool_threshold = 64 << 10);
    let postfix = Postfix::start(milter.port);

    let stream = std::net::TcpStream::connect(("127.0.0.1", postfix.smtp_port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut smtp = stream;
    let expect = |code: &str, reader: &mut BufReader<std::net::TcpStream>| loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with(code), "expected {code}, got {line:?}");
        if line.as_bytes().get(3) == Some(&b' ') {
            break;
        }
    };
    expect("220", &mut reader);
    for (cmd, code) in [
        ("EHLO client.example\r\n", "250"),
        ("MAIL FROM:<alice@example.test>\r\n", "250"),
        ("RCPT TO:<bob@example.test>\r\n", "250"),
        ("DATA\r\n", "354"),
    ] {
        smtp.write_all(cmd.as_bytes()).unwrap();
        expect(code, &mut reader);
    }
    smtp.write_all(b"Subject: cut\r\n\r\n").unwrap();
    for _ in 0..4000 {
        smtp.write_all(b"half a message, the client goes away before the dot\r\n")
            .unwrap();
    }
    drop(smtp);
    drop(reader);

    let (data, _) = tricky_mail(postfix.root.path(), "next", "例会", 0);
    let (ok, transcript) = postfix.swaks("bob@example.test", &data);
    assert!(ok, "{transcript}");
    postfix.wait_delivered("<next@example.test>");
    assert_eq!(
        postfix.delivered().len(),
        1,
        "the cut message is not delivered"
    );
    let seen = inspector.seen.lock().unwrap().clone();
    assert!(
        seen.iter().all(|s| s.subject.as_deref() != Some("cut")),
        "the cut message is never inspected"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(milter._spool.path()).unwrap().count() > 0 {
        assert!(Instant::now() < deadline, "spool file left behind");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn quarantined_mail_waits_in_the_hold_queue_until_released() {
    let inspector = Arc::new(EngineInspector::new());
    let milter = Milter::start(inspector.clone(), |_| {});
    let postfix = Postfix::start(milter.port);
    let (data, _) = tricky_mail(postfix.root.path(), "held", "[hold] 例会", 0);

    let (ok, transcript) = postfix.swaks("bob@example.test", &data);
    assert!(ok, "quarantine accepts the mail: {transcript}");
    let queue_id = queued_id(&transcript).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let queue = postfix.queue();
        if queue.contains(&("hold".to_string(), queue_id.clone())) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not held: {queue:?}\n{}",
            postfix.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        postfix.delivered().is_empty(),
        "a held mail is not delivered"
    );

    let hold = HoldQueue::new("/usr/sbin/postsuper", Some(postfix.conf.clone()));
    assert!(hold.release("4F2A1B3C5D").is_err(), "unknown id");
    hold.release(&queue_id).unwrap();
    let delivered = postfix.wait_delivered("<held@example.test>");
    let text = String::from_utf8_lossy(&delivered);
    assert!(
        text.contains("X-Baomi-Verdict: quarantine; incident=BM-"),
        "{text}"
    );
    assert!(postfix.queue().is_empty());
    assert!(matches!(
        hold.delete(&queue_id),
        Err(baomi_milter::HoldQueueError::NotFound(_))
    ));

    // A second held mail is deleted instead.
    let (data, _) = tricky_mail(postfix.root.path(), "held2", "[hold] 二", 0);
    let (ok, transcript) = postfix.swaks("bob@example.test", &data);
    assert!(ok, "{transcript}");
    let queue_id = queued_id(&transcript).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !postfix
        .queue()
        .contains(&("hold".to_string(), queue_id.clone()))
    {
        assert!(Instant::now() < deadline, "not held");
        std::thread::sleep(Duration::from_millis(100));
    }
    hold.delete(&queue_id).unwrap();
    assert!(postfix.queue().is_empty());
    assert_eq!(postfix.delivered().len(), 1);
}

/// The scanner as a separate process, so the test can kill it like a crash would: the
/// test binary runs itself with this (ignored) test selected.
#[test]
#[ignore = "run by scanner_killed_mid_message_makes_postfix_tempfail as a child process"]
fn child_milter_process() {
    let dir = PathBuf::from(
        std::env::var_os("BAOMI_MILTER_CHILD_DIR").expect("only run as a child process"),
    );
    struct Hang(PathBuf);
    impl MailInspector for Hang {
        async fn inspect(&self, mail: baomi_milter::Mail) -> anyhow::Result<MailDecision> {
            std::fs::write(self.0.join("inspecting"), mail.queue_id.unwrap_or_default())?;
            tokio::time::sleep(Duration::from_secs(600)).await;
            Ok(MailDecision::Accept)
        }
    }
    let milter = Milter::start(Arc::new(Hang(dir.clone())), |c| {
        c.inspect_timeout = Duration::from_secs(600)
    });
    std::fs::write(dir.join("port.tmp"), milter.port.to_string()).unwrap();
    std::fs::rename(dir.join("port.tmp"), dir.join("port")).unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

#[test]
fn scanner_killed_mid_message_makes_postfix_tempfail_and_the_mail_stays_with_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_milter_process",
            "--ignored",
            "--nocapture",
        ])
        .env("BAOMI_MILTER_CHILD_DIR", dir.path())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let port = loop {
        if let Ok(p) = std::fs::read_to_string(dir.path().join("port")) {
            break p.parse::<u16>().unwrap();
        }
        assert!(Instant::now() < deadline, "child milter did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    let postfix = Postfix::start(port);
    let (data, _) = tricky_mail(postfix.root.path(), "killed", "例会", 100 << 10);

    let sender = {
        let smtp_port = postfix.smtp_port;
        std::thread::spawn(move || {
            let out = Command::new("swaks")
                .args(["--server", &format!("127.0.0.1:{smtp_port}")])
                .args(["--from", "alice@example.test", "--to", "bob@example.test"])
                .args([
                    "--data",
                    &format!("@{}", data.display()),
                    "--timeout",
                    "120",
                ])
                .output()
                .unwrap();
            (
                out.status.success(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            )
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.path().join("inspecting").exists() {
        assert!(
            Instant::now() < deadline,
            "the child never inspected:\n{}",
            postfix.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let (ok, transcript) = sender.join().unwrap();
    assert!(!ok, "swaks must not succeed: {transcript}");
    let line = transcript
        .lines()
        .find(|l| l.starts_with("<** "))
        .unwrap_or_else(|| panic!("no error reply:\n{transcript}"));
    assert!(line.starts_with("<** 4"), "a temporary failure, not {line}");
    assert!(!transcript.contains("queued as"), "{transcript}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        postfix.queue().is_empty(),
        "nothing left in Postfix's queue"
    );
    assert!(postfix.delivered().is_empty(), "nothing delivered");

    // With the scanner gone for good, the next mail is refused for now as well.
    let (data, _) = tricky_mail(postfix.root.path(), "after", "例会", 0);
    let (ok, transcript) = postfix.swaks("bob@example.test", &data);
    assert!(!ok, "{transcript}");
    assert!(
        transcript.lines().any(|l| l.starts_with("<** 4")),
        "a temporary failure: {transcript}"
    );
    assert!(postfix.queue().is_empty());
    assert!(postfix.delivered().is_empty());
}
