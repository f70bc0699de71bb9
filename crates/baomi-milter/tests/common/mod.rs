//! A real Postfix from Debian, started per test on loopback with its own configuration,
//! queue and data directories in a temporary directory, delivering to a maildir there.

#![allow(dead_code)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use baomi_core::{Action, Channel};
use baomi_engine::{Engine, EngineConfig};
use baomi_milter::{Mail, MailDecision, MailInspector};

/// Fails the test with a clear message when a tool the test needs is missing.
pub fn require_tools(tools: &[&str]) {
    for tool in tools {
        let found = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
            .iter()
            .any(|d| Path::new(d).join(tool).exists());
        assert!(
            found,
            "`{tool}` is not installed; install the test tools with `scripts/deps.sh test` \
             (Debian packages postfix, swaks, miltertest, python3-docx)"
        );
    }
    let uid = Command::new("id").arg("-u").output().expect("run id");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "the Postfix tests start Postfix, which needs root"
    );
}

pub use baomi_testkit::free_port;

pub struct Postfix {
    pub root: tempfile::TempDir,
    pub conf: PathBuf,
    pub smtp_port: u16,
    pub inbox: PathBuf,
}

impl Postfix {
    /// Starts Postfix with `smtpd_milters = inet:127.0.0.1:MILTER_PORT`, fail-closed.
    pub fn start(milter_port: u16) -> Postfix {
        Postfix::gateway(milter_port, "")
    }

    /// The gateway with `extra` lines appended to main.cf (limits, for load tests).
    pub fn gateway(milter_port: u16, extra: &str) -> Postfix {
        Postfix::boot(&format!(
            "virtual_mailbox_domains = example.test
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_minimum_uid = 1
virtual_mailbox_limit = 0
smtpd_milters = inet:127.0.0.1:{milter_port}
milter_default_action = tempfail
milter_protocol = 6
{extra}"
        ))
    }

    /// A sending MTA (no milter) that relays all mail to `next_hop_port` on loopback and
    /// retries deferred mail every second or two, as the sender's own server would.
    /// It starts holding its mail (`defer_transports = smtp`) until [`Postfix::release`].
    pub fn relay(next_hop_port: u16, extra: &str) -> Postfix {
        Postfix::boot(&format!(
            "relayhost = [127.0.0.1]:{next_hop_port}
defer_transports = smtp
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
{extra}"
        ))
    }

    fn boot(role_lines: &str) -> Postfix {
        require_tools(&["postfix", "postqueue", "postsuper", "swaks"]);
        let root = tempfile::Builder::new()
            .prefix("baomi-postfix-")
            .tempdir()
            .unwrap();
        let dir = root.path();
        run("chmod", &["755", path(dir)]);
        let conf = dir.join("conf");
        for d in ["conf", "queue", "data", "mail"] {
            std::fs::create_dir(dir.join(d)).unwrap();
        }
        run("chown", &["postfix", path(&dir.join("data"))]);
        run("chown", &["nobody:nogroup", path(&dir.join("mail"))]);
        let smtp_port = free_port();
        let d = dir.display();
        std::fs::write(
            conf.join("main.cf"),
            format!(
                "compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
maillog_file_prefixes = {d}
maillog_file = {d}/maillog
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = mx.baomi.test
mydomain = baomi.test
myorigin = baomi.test
mydestination =
mynetworks = 127.0.0.0/8
relay_domains =
smtpd_recipient_restrictions = permit_mynetworks, reject
virtual_mailbox_base = {d}/mail
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
disable_dns_lookups = yes
smtp_dns_support_level = disabled
message_size_limit = 209715200
{role_lines}
"
            ),
        )
        .unwrap();
        std::fs::write(conf.join("master.cf"), master_cf(smtp_port)).unwrap();
        let start = Command::new("postfix")
            .args(["-c", path(&conf), "start"])
            .output()
            .unwrap();
        let postfix = Postfix {
            inbox: dir.join("mail/inbox"),
            root,
            conf,
            smtp_port,
        };
        assert!(
            start.status.success(),
            "postfix start failed: {}\n{}",
            String::from_utf8_lossy(&start.stderr),
            postfix.log()
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", smtp_port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "Postfix smtpd did not listen: {}",
                postfix.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        postfix
    }

    /// Submit FILE as a message from the local machine (`sendmail -t`: recipients from its
    /// headers), into this instance's queue.
    pub fn sendmail(&self, file: &Path) {
        let out = Command::new("/usr/sbin/sendmail")
            .args(["-C", path(&self.conf), "-t", "-f", "alice@example.test"])
            .stdin(std::fs::File::open(file).unwrap())
            .output()
            .unwrap();
        assert!(out.status.success(), "sendmail: {}", transcript(&out));
    }

    /// A relay's held mail goes out at once (all of it in parallel, up to the limits).
    pub fn release(&self) {
        run(
            "postconf",
            &["-c", path(&self.conf), "-e", "defer_transports ="],
        );
        run("postfix", &["-c", path(&self.conf), "reload"]);
        self.flush();
    }

    /// `postqueue -f`: try every deferred message now.
    pub fn flush(&self) {
        run("postqueue", &["-c", path(&self.conf), "-f"]);
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.path().join("maillog")).unwrap_or_default()
    }

    /// Sends FILE's bytes as the message with swaks; returns (success, transcript).
    pub fn swaks(&self, to: &str, data: &Path) -> (bool, String) {
        let out = Command::new("swaks")
            .args([
                "--server",
                &format!("127.0.0.1:{}", self.smtp_port),
                "--from",
                "alice@example.test",
                "--to",
                to,
                "--data",
                &format!("@{}", path(data)),
                "--timeout",
                "120",
            ])
            .output()
            .unwrap();
        (out.status.success(), transcript(&out))
    }

    /// `postqueue -j`: (queue_name, queue_id) of every queued message.
    pub fn queue(&self) -> Vec<(String, String)> {
        let out = Command::new("postqueue")
            .args(["-c", path(&self.conf), "-j"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v["queue_name"].as_str().unwrap().to_string(),
                    v["queue_id"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    /// Messages delivered to the maildir, as files.
    pub fn delivered(&self) -> Vec<Vec<u8>> {
        let Ok(dir) = std::fs::read_dir(self.inbox.join("new")) else {
            return Vec::new();
        };
        dir.map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect()
    }

    /// Waits until a delivered message contains `needle`.
    pub fn wait_delivered(&self, needle: &str) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(m) = self
                .delivered()
                .into_iter()
                .find(|m| String::from_utf8_lossy(m).contains(needle))
            {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "no delivered message contains {needle:?}; queue {:?}; log:\n{}",
                self.queue(),
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("postfix")
            .args(["-c", path(&self.conf), "stop"])
            .output();
    }
}

/// Every service chroot-free (the queue is in a temporary directory), smtpd on `port`.
fn master_cf(port: u16) -> String {
    format!(
        "{port} inet n - n - - smtpd
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
virtual unix - n n - - virtual
lmtp unix - - n - - lmtp
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"
    )
}

pub fn queued_id(transcript: &str) -> Option<String> {
    let at = transcript.find("queued as ")?;
    Some(transcript[at + 10..].split_whitespace().next()?.to_string())
}

fn transcript(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(out.status.success(), "{cmd} {args:?}: {}", transcript(&out));
}

/// What the test inspector saw of one message.
#[derive(Debug, Clone)]
pub struct Seen {
    pub queue_id: Option<String>,
    pub message: Vec<u8>,
    pub spooled: bool,
    pub sender: String,
    pub recipients: Vec<String>,
    pub subject: Option<String>,
    pub client_ip: Option<std::net::IpAddr>,
    pub helo: Option<String>,
}

/// The test inspector with real detection: Baomi's engine on the message, a made-up
/// incident number for every block.
pub struct EngineInspector {
    engine: Arc<Engine>,
    next_incident: AtomicU64,
    /// Every inspected message.
    pub seen: Mutex<Vec<Seen>>,
}

impl EngineInspector {
    pub fn new() -> EngineInspector {
        EngineInspector {
            engine: Arc::new(Engine::new(EngineConfig::default()).unwrap()),
            next_incident: AtomicU64::new(4711),
            seen: Mutex::new(Vec::new()),
        }
    }
}

impl MailInspector for EngineInspector {
    async fn inspect(&self, mail: Mail) -> anyhow::Result<MailDecision> {
        self.seen.lock().unwrap().push(Seen {
            queue_id: mail.queue_id.clone(),
            message: mail.message.bytes()?.into_owned(),
            spooled: mail.message.path().is_some(),
            sender: mail.sender.clone(),
            recipients: mail.recipients.clone(),
            subject: mail.subject.clone(),
            client_ip: mail.client_ip,
            helo: mail.helo.clone(),
        });
        let engine = self.engine.clone();
        let blob = mail.message.clone();
        let report =
            tokio::task::spawn_blocking(move || engine.inspect(blob, "message.eml", Channel::Mail))
                .await?;
        let incident = format!("BM-{}", self.next_incident.fetch_add(1, Ordering::SeqCst));
        let subject = mail.subject.unwrap_or_default();
        Ok(if report.verdict.action >= Action::Block {
            MailDecision::Reject {
                text: format!(
                    "Message blocked by Baomi, incident {incident} ({})",
                    report.verdict.rules.join(", ")
                ),
            }
        } else if subject.contains("[hold]") {
            MailDecision::Quarantine {
                reason: format!("incident {incident}"),
                headers: vec![(
                    "X-Baomi-Verdict".into(),
                    format!("quarantine; incident={incident}"),
                )],
            }
        } else {
            MailDecision::AcceptWithHeaders(vec![(
                "X-Baomi-Verdict".into(),
                report.verdict.action.as_str().to_string(),
            )])
        })
    }
}
