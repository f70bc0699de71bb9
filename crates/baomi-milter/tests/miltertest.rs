//! The door driven by Debian's `miltertest` (libmilter's own test client, Lua scripts):
//! another implementation of the MTA side than Postfix and the raw client.

use std::process::Command;
use std::sync::Arc;

use baomi_milter::{Mail, MailDecision, MailInspector, MilterConfig, serve};

struct BySubject;

impl MailInspector for BySubject {
    async fn inspect(&self, mail: Mail) -> anyhow::Result<MailDecision> {
        let body = String::from_utf8(mail.message.bytes()?.into_owned())?;
        anyhow::ensure!(
            body.ends_with("\r\n\r\nhello\r\n"),
            "message rebuilt wrongly: {body:?}"
        );
        Ok(match mail.subject.as_deref() {
            Some("secret") => MailDecision::Reject {
                text: "Baomi incident 42".into(),
            },
            Some("hold") => MailDecision::Quarantine {
                reason: "incident 43".into(),
                headers: vec![],
            },
            _ => MailDecision::AcceptWithHeaders(vec![("X-Baomi-Verdict".into(), "allow".into())]),
        })
    }
}

const SCRIPT: &str = r#"
local function message(port, subject)
  local conn = mt.connect("inet:" .. port .. "@127.0.0.1", 10, 0.2)
  assert(conn, "cannot connect")
  assert(mt.negotiate(conn, nil, nil, nil) == nil, "negotiate")
  assert(mt.conninfo(conn, "client.example", "192.0.2.7") == nil, "conninfo")
  assert(mt.getreply(conn) == SMFIR_CONTINUE, "connect not continued")
  assert(mt.helo(conn, "client.example") == nil, "helo")
  assert(mt.mailfrom(conn, "<alice@example.test>") == nil, "mail")
  assert(mt.getreply(conn) == SMFIR_CONTINUE, "mail not continued")
  assert(mt.rcptto(conn, "<bob@example.test>") == nil, "rcpt")
  assert(mt.getreply(conn) == SMFIR_CONTINUE, "rcpt not continued")
  assert(mt.header(conn, "From", " alice@example.test") == nil, "header")
  assert(mt.header(conn, "Subject", " " .. subject) == nil, "header")
  assert(mt.getreply(conn) == SMFIR_CONTINUE, "header not continued")
  assert(mt.eoh(conn) == nil, "eoh")
  assert(mt.bodystring(conn, "hello\r\n") == nil, "body")
  assert(mt.getreply(conn) == SMFIR_CONTINUE, "body not continued")
  assert(mt.eom(conn) == nil, "eom")
  return conn
end

local port = os.getenv("MILTER_PORT")

local conn = message(port, "clean")
assert(mt.getreply(conn) == SMFIR_CONTINUE, "clean mail not accepted")
assert(mt.eom_check(conn, MT_HDRADD, "X-Baomi-Verdict"), "no verdict header")
mt.disconnect(conn)

conn = message(port, "secret")
assert(mt.getreply(conn) == SMFIR_REPLYCODE, "secret mail: no reply code")
assert(mt.eom_check(conn, MT_SMTPREPLY, "550", "5.7.1", "Baomi incident 42"), "wrong reject")
mt.disconnect(conn)

conn = message(port, "hold")
assert(mt.getreply(conn) == SMFIR_CONTINUE, "held mail not accepted")
assert(mt.eom_check(conn, MT_QUARANTINE, "incident 43"), "not quarantined")
mt.disconnect(conn)

mt.echo("miltertest: all checks passed")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miltertest_sees_accept_reject_and_quarantine() {
    assert!(
        std::path::Path::new("/usr/bin/miltertest").exists(),
        "miltertest is not installed; install the test tools with `scripts/deps.sh test`"
    );
    let spool = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = Arc::new(MilterConfig {
        spool_dir: spool.path().to_path_buf(),
        ..MilterConfig::default()
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, config, Arc::new(BySubject), async {
        stopped.await.ok();
    }));
    let script = spool.path().join("test.lua");
    std::fs::write(&script, SCRIPT).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("miltertest")
            .arg("-s")
            .arg(&script)
            .env("MILTER_PORT", port.to_string())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let transcript = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "miltertest failed:\n{transcript}");
    assert!(transcript.contains("all checks passed"), "{transcript}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
