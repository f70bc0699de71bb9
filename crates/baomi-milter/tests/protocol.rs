//! The milter protocol spoken by a raw client, packet by packet, as Postfix speaks it:
//! negotiation, each command's answer, end-of-message actions, and the failure paths
//! (inspector error, panic, timeout, oversize, a connection cut mid-body, silence).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baomi_milter::{Mail, MailDecision, MailInspector, MilterConfig, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// What the inspector saw of one message.
#[derive(Debug, Clone)]
struct Seen {
    queue_id: Option<String>,
    sender: String,
    recipients: Vec<String>,
    subject: Option<String>,
    helo: Option<String>,
    client_ip: Option<std::net::IpAddr>,
    client_name: Option<String>,
    auth_user: Option<String>,
    len: u64,
    spool_path: Option<PathBuf>,
    head: Vec<u8>,
}

/// Decides by subject, so each test names the answer it wants.
#[derive(Default)]
struct Scripted {
    seen: Mutex<Vec<Seen>>,
    calls: AtomicUsize,
}

impl MailInspector for Scripted {
    async fn inspect(&self, mail: Mail) -> anyhow::Result<MailDecision> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let head = mail.message.head(64 << 10)?.into_owned();
        let spool_path = mail.message.path().map(Path::to_path_buf);
        if let Some(p) = &spool_path {
            assert!(p.exists(), "spool file must exist while inspected");
        }
        self.seen.lock().unwrap().push(Seen {
            queue_id: mail.queue_id.clone(),
            sender: mail.sender.clone(),
            recipients: mail.recipients.clone(),
            subject: mail.subject.clone(),
            helo: mail.helo.clone(),
            client_ip: mail.client_ip,
            client_name: mail.client_name.clone(),
            auth_user: mail.auth_user.clone(),
            len: mail.message.len(),
            spool_path,
            head,
        });
        let subject = mail.subject.unwrap_or_default();
        Ok(match subject.as_str() {
            "reject" => MailDecision::Reject {
                text: "Baomi incident 2026-000042: 100% secret".into(),
            },
            "tempfail" => MailDecision::Tempfail {
                text: "busy".into(),
            },
            "hold" => MailDecision::Quarantine {
                reason: "incident 7".into(),
                headers: vec![("X-Baomi-Verdict".into(), "quarantine; incident=7".into())],
            },
            "error" => anyhow::bail!("detector failed"),
            "panic" => panic!("inspector bug"),
            "slow" => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                MailDecision::Accept
            }
            "plain" => MailDecision::Accept,
            _ => MailDecision::AcceptWithHeaders(vec![(
                "X-Baomi-Verdict".into(),
                "allow; 检查".into(),
            )]),
        })
    }
}

struct Running {
    addr: std::net::SocketAddr,
    inspector: Arc<Scripted>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _spool: tempfile::TempDir,
    spool_dir: PathBuf,
}

async fn start(tune: impl FnOnce(&mut MilterConfig)) -> Running {
    let spool = tempfile::tempdir().unwrap();
    let mut config = MilterConfig {
        spool_dir: spool.path().to_path_buf(),
        inspect_timeout: Duration::from_secs(2),
        ..MilterConfig::default()
    };
    tune(&mut config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let inspector = Arc::new(Scripted::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(
        listener,
        Arc::new(config),
        inspector.clone(),
        async {
            stopped.await.ok();
        },
    ));
    Running {
        addr,
        inspector,
        stop: Some(stop),
        task,
        spool_dir: spool.path().to_path_buf(),
        _spool: spool,
    }
}

/// A milter client speaking the wire format: 4-byte length, command byte, data.
struct Client {
    stream: TcpStream,
}

const ADDHDRS: u32 = 0x01;
const QUARANTINE: u32 = 0x20;
const HDR_LEADSPC: u32 = 0x10_0000;
const SKIP: u32 = 0x400;

impl Client {
    async fn connect(addr: std::net::SocketAddr) -> Client {
        Client {
            stream: TcpStream::connect(addr).await.unwrap(),
        }
    }

    async fn send(&mut self, cmd: u8, data: &[u8]) {
        let mut packet = ((data.len() + 1) as u32).to_be_bytes().to_vec();
        packet.push(cmd);
        packet.extend_from_slice(data);
        self.stream.write_all(&packet).await.unwrap();
    }

    async fn recv(&mut self) -> (u8, Vec<u8>) {
        let mut len = [0u8; 4];
        tokio::time::timeout(Duration::from_secs(20), self.stream.read_exact(&mut len))
            .await
            .expect("no answer from the milter")
            .expect("milter closed the connection");
        let mut packet = vec![0u8; u32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut packet).await.unwrap();
        (packet[0], packet[1..].to_vec())
    }

    async fn expect_continue(&mut self, cmd: u8, data: &[u8]) {
        self.send(cmd, data).await;
        let (code, _) = self.recv().await;
        assert_eq!(code, b'c', "answer to {:?}", cmd as char);
    }

    /// Postfix's offer: protocol 6, every action, every protocol bit.
    async fn negotiate(&mut self) -> (u32, u32, u32, Vec<u8>) {
        let mut offer = 6u32.to_be_bytes().to_vec();
        offer.extend_from_slice(&0x1ffu32.to_be_bytes());
        offer.extend_from_slice(&0x1f_ffffu32.to_be_bytes());
        self.send(b'O', &offer).await;
        let (code, data) = self.recv().await;
        assert_eq!(code, b'O');
        let word = |i: usize| u32::from_be_bytes(data[i..i + 4].try_into().unwrap());
        (word(0), word(4), word(8), data[12..].to_vec())
    }

    /// Connection, HELO, envelope and headers, as Postfix sends them (macros first).
    async fn envelope(&mut self, subject: &str) {
        self.send(b'D', b"Cj\0mx.baomi.test\0").await;
        self.expect_continue(b'C', b"client.example\x004\x04\xd2192.0.2.7\0")
            .await;
        self.expect_continue(b'H', b"client.example\0").await;
        self.send(b'D', b"M{auth_authen}\0alice\0").await;
        self.expect_continue(b'M', b"<alice@example.test>\0SIZE=100\0")
            .await;
        self.expect_continue(b'R', b"<bob@example.test>\0").await;
        self.expect_continue(b'R', b"<carol@example.test>\0").await;
        self.send(b'D', b"Ti\x004A2C98C027\0").await;
        self.expect_continue(b'T', b"").await;
        self.expect_continue(b'L', b"From\0 Alice <alice@example.test>\0")
            .await;
        let subject_header = format!("Subject\0 {subject}\0");
        self.expect_continue(b'L', subject_header.as_bytes()).await;
        self.expect_continue(b'L', b"X-Folded\0 one\n\ttwo\0").await;
        self.expect_continue(b'L', b"X-Tight\0x\0").await;
        self.expect_continue(b'N', b"").await;
    }

    /// End of message: every packet up to the final action.
    async fn end_of_message(&mut self) -> Vec<(u8, Vec<u8>)> {
        self.send(b'D', b"Ei\x004A2C98C027\0").await;
        self.send(b'E', b"").await;
        let mut answers = Vec::new();
        loop {
            let (code, data) = self.recv().await;
            answers.push((code, data));
            if matches!(code, b'c' | b'a' | b'r' | b't' | b'y' | b'd') {
                return answers;
            }
        }
    }

    async fn message(&mut self, subject: &str, body: &[u8]) -> Vec<(u8, Vec<u8>)> {
        self.negotiate().await;
        self.envelope(subject).await;
        for chunk in body.chunks(65535) {
            self.expect_continue(b'B', chunk).await;
        }
        self.end_of_message().await
    }
}

fn reply_text(answers: &[(u8, Vec<u8>)]) -> String {
    let (code, data) = answers.last().unwrap();
    assert_eq!(*code, b'y', "expected a reply code, got {answers:?}");
    String::from_utf8_lossy(data)
        .trim_end_matches('\0')
        .to_string()
}

#[tokio::test]
async fn negotiation_asks_for_everything_with_leading_spaces_and_the_needed_actions() {
    let run = start(|_| {}).await;
    let mut c = Client::connect(run.addr).await;
    let (version, actions, protocol, macros) = c.negotiate().await;
    assert_eq!(version, 6);
    assert_eq!(actions, ADDHDRS | QUARANTINE);
    assert_eq!(
        protocol,
        HDR_LEADSPC | SKIP,
        "no SMFIP_NO* bits: every event is wanted"
    );
    let macros = String::from_utf8_lossy(&macros);
    assert!(macros.contains("{auth_authen}"), "{macros}");
    assert!(macros.contains('i'), "{macros}");
}

#[tokio::test]
async fn a_clean_message_is_rebuilt_exactly_and_accepted_with_a_header() {
    let run = start(|_| {}).await;
    let mut c = Client::connect(run.addr).await;
    let answers = c
        .message(
            "=?UTF-8?B?5py65a+G?= hello",
            b"line 1\r\n.dot\r\n\r\nlast\r\n",
        )
        .await;
    // One added header (leading space because SMFIP_HDR_LEADSPC), then continue.
    assert_eq!(answers.len(), 2, "{answers:?}");
    assert_eq!(answers[0].0, b'h');
    assert_eq!(
        answers[0].1,
        b"X-Baomi-Verdict\0 =?UTF-8?B?YWxsb3c7IOajgOafpQ==?=\0".to_vec()
    );
    assert_eq!(answers[1].0, b'c');
    let seen = run.inspector.seen.lock().unwrap()[0].clone();
    assert_eq!(
        String::from_utf8(seen.head).unwrap(),
        "From: Alice <alice@example.test>\r\n\
         Subject: =?UTF-8?B?5py65a+G?= hello\r\n\
         X-Folded: one\r\n\ttwo\r\n\
         X-Tight:x\r\n\
         \r\n\
         line 1\r\n.dot\r\n\r\nlast\r\n"
    );
    assert_eq!(seen.subject.as_deref(), Some("机密 hello"));
    assert_eq!(seen.queue_id.as_deref(), Some("4A2C98C027"));
    assert_eq!(seen.sender, "alice@example.test");
    assert_eq!(seen.recipients, ["bob@example.test", "carol@example.test"]);
    assert_eq!(seen.helo.as_deref(), Some("client.example"));
    assert_eq!(seen.client_ip, Some("192.0.2.7".parse().unwrap()));
    assert_eq!(seen.client_name.as_deref(), Some("client.example"));
    assert_eq!(seen.auth_user.as_deref(), Some("alice"));
    assert!(seen.spool_path.is_none(), "a small message stays in memory");
}

#[tokio::test]
async fn decisions_become_the_right_milter_answers() {
    let run = start(|_| {}).await;

    let mut c = Client::connect(run.addr).await;
    let answers = c.message("reject", b"x\r\n").await;
    assert_eq!(
        reply_text(&answers),
        "550 5.7.1 Baomi incident 2026-000042: 100%% secret"
    );

    let mut c = Client::connect(run.addr).await;
    let answers = c.message("tempfail", b"x\r\n").await;
    assert_eq!(reply_text(&answers), "451 4.7.1 busy");

    let mut c = Client::connect(run.addr).await;
    let answers = c.message("hold", b"x\r\n").await;
    let codes: Vec<u8> = answers.iter().map(|a| a.0).collect();
    assert_eq!(codes, b"hqc");
    assert_eq!(answers[0].1, b"X-Baomi-Verdict\0 quarantine; incident=7\0");
    assert_eq!(answers[1].1, b"incident 7\0");

    let mut c = Client::connect(run.addr).await;
    let answers = c.message("plain", b"x\r\n").await;
    assert_eq!(answers.iter().map(|a| a.0).collect::<Vec<_>>(), b"c");
}

#[tokio::test]
async fn inspector_error_panic_and_timeout_tempfail_when_fail_closed() {
    let run = start(|_| {}).await;
    for subject in ["error", "panic", "slow"] {
        let started = Instant::now();
        let mut c = Client::connect(run.addr).await;
        let answers = c.message(subject, b"x\r\n").await;
        let text = reply_text(&answers);
        assert!(text.starts_with("451 4.7.1 "), "{subject}: {text}");
        assert!(started.elapsed() < Duration::from_secs(10), "{subject}");
    }
    // The server survived all three.
    let mut c = Client::connect(run.addr).await;
    assert_eq!(c.message("plain", b"x\r\n").await.last().unwrap().0, b'c');
}

#[tokio::test]
async fn inspector_error_accepts_when_fail_open() {
    let run = start(|c| c.fail_open = true).await;
    let mut c = Client::connect(run.addr).await;
    let answers = c.message("error", b"x\r\n").await;
    assert_eq!(answers.iter().map(|a| a.0).collect::<Vec<_>>(), b"c");
}

#[tokio::test]
async fn several_messages_on_one_connection_with_an_abort_between() {
    let run = start(|_| {}).await;
    let mut c = Client::connect(run.addr).await;
    c.negotiate().await;
    c.envelope("first").await;
    c.expect_continue(b'B', b"one\r\n").await;
    // RSET: Postfix sends abort, no answer expected.
    c.send(b'A', b"").await;
    c.expect_continue(b'M', b"<x@example.test>\0").await;
    c.expect_continue(b'R', b"<y@example.test>\0").await;
    c.expect_continue(b'L', b"Subject\0 second\0").await;
    c.expect_continue(b'N', b"").await;
    c.expect_continue(b'B', b"two\r\n").await;
    let answers = c.end_of_message().await;
    assert_eq!(answers.last().unwrap().0, b'c');
    let seen = run.inspector.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "the aborted message is never inspected");
    assert_eq!(seen[0].head, b"Subject: second\r\n\r\ntwo\r\n");
    assert_eq!(seen[0].sender, "x@example.test");
    assert_eq!(seen[0].recipients, ["y@example.test"]);
}

#[tokio::test]
async fn a_connection_cut_mid_body_leaves_no_spool_file_and_the_server_keeps_serving() {
    let run = start(|c| c.spool_threshold = 1000).await;
    let mut c = Client::connect(run.addr).await;
    c.negotiate().await;
    c.envelope("cut").await;
    c.expect_continue(b'B', &[b'a'; 5000]).await;
    assert_eq!(
        std::fs::read_dir(&run.spool_dir).unwrap().count(),
        1,
        "the message is spooled"
    );
    // Half a packet, then the connection goes away.
    c.stream
        .write_all(&[0, 0, 0x10, 0, b'B', b'x'])
        .await
        .unwrap();
    drop(c);
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_dir(&run.spool_dir).unwrap().count() > 0 {
        assert!(Instant::now() < deadline, "spool file left behind");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(run.inspector.calls.load(Ordering::SeqCst), 0);
    let mut c = Client::connect(run.addr).await;
    assert_eq!(c.message("plain", b"x\r\n").await.last().unwrap().0, b'c');
}

#[tokio::test]
async fn garbage_and_oversized_packets_close_only_that_connection() {
    let run = start(|_| {}).await;
    let mut c = Client::connect(run.addr).await;
    // A length far beyond any milter packet.
    c.stream
        .write_all(&[0x7f, 0xff, 0xff, 0xff, b'B'])
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), c.stream.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "the connection is closed");
    let mut c = Client::connect(run.addr).await;
    c.send(b'?', b"\xff\xfe").await;
    let n = tokio::time::timeout(Duration::from_secs(5), c.stream.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "an unknown command closes the connection");
    let mut c = Client::connect(run.addr).await;
    assert_eq!(c.message("plain", b"x\r\n").await.last().unwrap().0, b'c');
}

#[tokio::test]
async fn a_100_mb_message_streams_to_one_spool_file() {
    let run = start(|c| c.spool_threshold = 1 << 20).await;
    let mut c = Client::connect(run.addr).await;
    let line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n";
    let chunk: Vec<u8> = line
        .iter()
        .copied()
        .cycle()
        .take(line.len() * 800)
        .collect();
    c.negotiate().await;
    c.envelope("big").await;
    let mut sent = 0usize;
    while sent < 100 << 20 {
        c.expect_continue(b'B', &chunk).await;
        sent += chunk.len();
    }
    let answers = c.end_of_message().await;
    assert_eq!(answers.last().unwrap().0, b'c');
    let seen = run.inspector.seen.lock().unwrap()[0].clone();
    let headers_len = seen.head.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(seen.len, (headers_len + sent) as u64);
    let path = seen.spool_path.expect("spooled");
    assert!(path.starts_with(&run.spool_dir));
    assert!(!path.exists(), "spool file deleted after inspection");
}

#[tokio::test]
async fn a_message_over_max_message_tempfails_at_once_without_inspection() {
    let run = start(|c| {
        c.max_message = 100_000;
        c.spool_threshold = 10_000;
    })
    .await;
    let mut c = Client::connect(run.addr).await;
    c.negotiate().await;
    c.envelope("too big").await;
    c.expect_continue(b'B', &[b'a'; 60_000]).await;
    c.send(b'B', &[b'a'; 60_000]).await;
    let (code, data) = c.recv().await;
    assert_eq!(code, b'y');
    let text = String::from_utf8_lossy(&data);
    assert!(
        text.starts_with("451 4.7.1 message larger than 100000 bytes"),
        "{text}"
    );
    // Whatever the MTA still sends, end of message repeats the answer.
    let answers = c.end_of_message().await;
    assert!(reply_text(&answers).starts_with("451 4.7.1"));
    assert_eq!(run.inspector.calls.load(Ordering::SeqCst), 0);
    assert_eq!(std::fs::read_dir(&run.spool_dir).unwrap().count(), 0);

    // Fail-open: skip the rest of the body and accept.
    let run = start(|c| {
        c.max_message = 100_000;
        c.fail_open = true;
    })
    .await;
    let mut c = Client::connect(run.addr).await;
    c.negotiate().await;
    c.envelope("too big").await;
    c.expect_continue(b'B', &[b'a'; 60_000]).await;
    c.send(b'B', &[b'a'; 60_000]).await;
    assert_eq!(c.recv().await.0, b's', "SMFIR_SKIP");
    assert_eq!(c.end_of_message().await.last().unwrap().0, b'c');
}

#[tokio::test]
async fn a_silent_mta_is_disconnected_after_the_idle_timeout() {
    let run = start(|c| c.idle_timeout = Duration::from_millis(300)).await;
    let mut c = Client::connect(run.addr).await;
    c.negotiate().await;
    let started = Instant::now();
    let mut buf = [0u8; 8];
    let n = tokio::time::timeout(Duration::from_secs(5), c.stream.read(&mut buf))
        .await
        .expect("still connected after 5 s")
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn serve_returns_after_shutdown() {
    let mut run = start(|c| c.shutdown_grace = Duration::from_millis(200)).await;
    // An idle connection must not hold the shutdown beyond the grace period.
    let mut c = Client::connect(run.addr).await;
    c.negotiate().await;
    run.stop.take().unwrap().send(()).unwrap();
    let result = tokio::time::timeout(Duration::from_secs(5), &mut run.task)
        .await
        .expect("serve did not return");
    result.unwrap().unwrap();
    assert!(
        TcpStream::connect(run.addr).await.is_err(),
        "listener closed"
    );
}

#[tokio::test]
async fn the_mtas_own_received_header_is_dropped_a_previous_hops_is_kept() {
    let run = start(|_| {}).await;
    let mut c = Client::connect(run.addr).await;
    c.negotiate().await;
    c.send(b'D', b"Cj\0mx.baomi.test\0").await;
    c.expect_continue(b'C', b"client.example\x004\x04\xd2192.0.2.7\0")
        .await;
    c.expect_continue(b'M', b"<alice@example.test>\0").await;
    c.expect_continue(b'R', b"<bob@example.test>\0").await;
    c.send(b'D', b"Ti\x004A2C98C027\0").await;
    c.expect_continue(b'T', b"").await;
    // What Sendmail sends first: its own Received header for this message.
    c.expect_continue(
        b'L',
        b"Received\0 from client.example [192.0.2.7]\n\tby mx.baomi.test (8.17.1) with ESMTP id 4A2C98C027\0",
    )
    .await;
    c.expect_continue(
        b'L',
        b"Received\0 from pc.example by relay.example.test with ESMTP id 99AA\0",
    )
    .await;
    c.expect_continue(b'L', b"Subject\0 plain\0").await;
    c.expect_continue(b'N', b"").await;
    c.expect_continue(b'B', b"x\r\n").await;
    assert_eq!(c.end_of_message().await.last().unwrap().0, b'c');
    let seen = run.inspector.seen.lock().unwrap()[0].clone();
    assert_eq!(
        String::from_utf8(seen.head).unwrap(),
        "Received: from pc.example by relay.example.test with ESMTP id 99AA\r\n\
         Subject: plain\r\n\r\nx\r\n"
    );
}
