//! Shared test parts: a server on a free loopback port, inspectors, and a raw ICAP client
//! that writes bytes by hand and reads answers strictly.
#![allow(dead_code)]

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use baomi_icap::{BlockNotice, Decision, Exchange, IcapConfig, IcapState, Inspector, ObjectKind};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Blocks when any object contains `机密`; remembers what it saw.
#[derive(Default)]
pub struct MarkerInspector {
    pub seen: Mutex<Vec<(String, ObjectKind, Vec<u8>)>>,
    pub users: Mutex<Vec<(Option<String>, Option<std::net::IpAddr>)>>,
    pub delay: Option<Duration>,
    pub fail: bool,
}

impl Inspector for MarkerInspector {
    async fn inspect(&self, ex: Exchange) -> anyhow::Result<Decision> {
        if let Some(d) = self.delay {
            tokio::time::sleep(d).await;
        }
        if self.fail {
            anyhow::bail!("inspector broke");
        }
        self.users
            .lock()
            .unwrap()
            .push((ex.user.clone(), ex.client_ip));
        let mut block = false;
        for o in &ex.objects {
            let mut bytes = Vec::new();
            o.blob.open()?.take(1 << 20).read_to_end(&mut bytes)?;
            if bytes.windows("机密".len()).any(|w| w == "机密".as_bytes()) {
                block = true;
            }
            self.seen
                .lock()
                .unwrap()
                .push((o.name.clone(), o.kind, bytes));
        }
        Ok(if block {
            Decision::Block(BlockNotice {
                incident: "INC-7".into(),
                reasons: vec!["机密 marking".into()],
                level: Some("机密".into()),
                contact: None,
            })
        } else {
            Decision::Allow
        })
    }
}

pub struct Running {
    pub addr: SocketAddr,
    pub state: Arc<IcapState>,
    stop: Option<oneshot::Sender<()>>,
    pub done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), self.done)
            .await
            .expect("server stops")
            .unwrap()
            .unwrap();
    }
}

pub async fn start<I: Inspector>(config: IcapConfig, inspector: Arc<I>) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Arc::new(config);
    let state = Arc::new(IcapState::new(&config));
    let (tx, rx) = oneshot::channel::<()>();
    let st = state.clone();
    let done = tokio::spawn(baomi_icap::serve_with_state(
        listener,
        config,
        inspector,
        st,
        async move {
            let _ = rx.await;
        },
    ));
    Running {
        addr,
        state,
        stop: Some(tx),
        done,
    }
}

/// An ICAP answer as read off the wire.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The encapsulated HTTP header block(s), as bytes.
    pub http_head: Vec<u8>,
    /// The de-chunked encapsulated body.
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn http_head_str(&self) -> String {
        String::from_utf8_lossy(&self.http_head).into_owned()
    }
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub struct Client {
    pub r: BufReader<TcpStream>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        Client {
            r: BufReader::new(TcpStream::connect(addr).await.unwrap()),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.r.get_mut().write_all(bytes).await.unwrap();
    }

    async fn line(&mut self) -> Option<String> {
        let mut l = String::new();
        let n = tokio::time::timeout(Duration::from_secs(20), self.r.read_line(&mut l))
            .await
            .expect("answer within 20 s")
            .ok()?;
        if n == 0 {
            return None;
        }
        Some(l.trim_end_matches(['\r', '\n']).to_owned())
    }

    /// Read one answer; `None` when the server closed the connection instead.
    pub async fn answer(&mut self) -> Option<Answer> {
        let status_line = self.line().await?;
        assert!(
            status_line.starts_with("ICAP/1.0 "),
            "status line: {status_line:?}"
        );
        let status: u16 = status_line[9..12].parse().unwrap();
        let mut headers = Vec::new();
        loop {
            let l = self.line().await.expect("header line");
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').expect("header with colon");
            headers.push((n.to_owned(), v.trim().to_owned()));
        }
        let mut a = Answer {
            status,
            headers,
            http_head: Vec::new(),
            body: Vec::new(),
        };
        if status == 100 {
            return Some(a);
        }
        let enc = a
            .header("Encapsulated")
            .expect("Encapsulated in every answer")
            .to_owned();
        let entries: Vec<(String, usize)> = enc
            .split(',')
            .map(|e| {
                let (n, o) = e.trim().split_once('=').unwrap();
                (n.to_owned(), o.parse().unwrap())
            })
            .collect();
        let (last, off) = entries.last().unwrap().clone();
        let mut head = vec![0u8; off];
        self.r.read_exact(&mut head).await.unwrap();
        a.http_head = head;
        if last != "null-body" {
            loop {
                let size = self.line().await.expect("chunk size");
                let size =
                    usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
                if size == 0 {
                    assert_eq!(self.line().await.unwrap(), "");
                    break;
                }
                let mut chunk = vec![0u8; size];
                self.r.read_exact(&mut chunk).await.unwrap();
                a.body.extend_from_slice(&chunk);
                assert_eq!(self.line().await.unwrap(), "");
            }
        }
        Some(a)
    }

    /// True if the server closes the connection (EOF) within `wait`.
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let mut b = [0u8; 1024];
        tokio::time::timeout(wait, async {
            loop {
                match self.r.read(&mut b).await {
                    Ok(0) | Err(_) => return true,
                    Ok(_) => continue,
                }
            }
        })
        .await
        .unwrap_or_default()
    }
}

/// A REQMOD with the given HTTP request head and body, chunked in pieces of `chunk`,
/// with an optional preview of `preview` bytes.
pub fn reqmod(
    addr: SocketAddr,
    http_head: &str,
    body: Option<&[u8]>,
    preview: Option<usize>,
    allow_204: bool,
) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut icap = format!("REQMOD icap://{addr}/reqmod ICAP/1.0\r\nHost: {addr}\r\n");
    if allow_204 {
        icap.push_str("Allow: 204\r\n");
    }
    let enc = match body {
        Some(_) => format!("req-hdr=0, req-body={}", http_head.len()),
        None => format!("req-hdr=0, null-body={}", http_head.len()),
    };
    icap.push_str(&format!("Encapsulated: {enc}\r\n"));
    let Some(body) = body else {
        icap.push_str("\r\n");
        icap.push_str(http_head);
        return (icap.into_bytes(), None);
    };
    match preview {
        None => {
            icap.push_str("\r\n");
            let mut out = icap.into_bytes();
            out.extend_from_slice(http_head.as_bytes());
            out.extend_from_slice(&chunked(body, 1000));
            out.extend_from_slice(b"0\r\n\r\n");
            (out, None)
        }
        Some(p) => {
            icap.push_str(&format!("Preview: {p}\r\n\r\n"));
            let mut out = icap.into_bytes();
            out.extend_from_slice(http_head.as_bytes());
            let (first, rest) = body.split_at(p.min(body.len()));
            out.extend_from_slice(&chunked(first, 1000));
            if rest.is_empty() {
                out.extend_from_slice(b"0; ieof\r\n\r\n");
                (out, None)
            } else {
                out.extend_from_slice(b"0\r\n\r\n");
                let mut more = chunked(rest, 777);
                more.extend_from_slice(b"0\r\n\r\n");
                (out, Some(more))
            }
        }
    }
}

pub fn chunked(data: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in data.chunks(size.max(1)) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out
}

pub fn post_head(path: &str, ct: &str, len: usize) -> String {
    format!(
        "POST http://upload.example{path} HTTP/1.1\r\nHost: upload.example\r\nContent-Type: {ct}\r\nContent-Length: {len}\r\n\r\n"
    )
}

/// Real detection: the engine with the shipped default policy, blocking at `Action::Block`.
pub struct EngineInspector {
    pub engine: Arc<baomi_engine::Engine>,
    /// Names of the objects inspected, in order.
    pub seen: Mutex<Vec<String>>,
    /// Client addresses the exchanges came with.
    pub clients: Mutex<Vec<Option<std::net::IpAddr>>>,
}

impl EngineInspector {
    pub fn new() -> EngineInspector {
        EngineInspector {
            engine: Arc::new(
                baomi_engine::Engine::new(baomi_engine::EngineConfig::default()).unwrap(),
            ),
            seen: Mutex::new(Vec::new()),
            clients: Mutex::new(Vec::new()),
        }
    }
}

impl Inspector for EngineInspector {
    async fn inspect(&self, ex: Exchange) -> anyhow::Result<Decision> {
        let mut reasons = Vec::new();
        let mut level = None;
        self.clients.lock().unwrap().push(ex.client_ip);
        for o in ex.objects {
            self.seen.lock().unwrap().push(o.name.clone());
            let engine = self.engine.clone();
            let report = tokio::task::spawn_blocking(move || {
                engine.inspect(o.blob, &o.name, baomi_core::Channel::Web)
            })
            .await?;
            if report.verdict.action >= baomi_core::Action::Block {
                reasons.extend(report.verdict.rules.iter().cloned());
                level = level.max(report.findings.iter().filter_map(|f| f.level).max());
            }
        }
        Ok(if reasons.is_empty() {
            Decision::Allow
        } else {
            Decision::Block(BlockNotice {
                incident: "TEST-0001".into(),
                reasons,
                level: level.map(|l| l.zh().to_owned()),
                contact: None,
            })
        })
    }
}

/// The path of a system tool, or a failure that says which package provides it.
pub fn require_tool(tool: &str, package: &str) -> std::path::PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin"] {
        let p = std::path::Path::new(dir).join(tool);
        if p.exists() {
            return p;
        }
    }
    panic!("`{tool}` is missing: install the Debian package `{package}` (scripts/deps.sh test)");
}

/// A resident ID number with a valid MOD 11-2 check character.
pub fn resident_id(region: &str, birth: &str, seq: u32) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: &[u8; 11] = b"10X98765432";
    let base = format!("{region}{birth}{seq:03}");
    let sum: u32 = base
        .bytes()
        .zip(W)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    format!("{base}{}", C[(sum % 11) as usize] as char)
}

/// A .docx made by python-docx with the given paragraphs.
pub fn make_docx(path: &std::path::Path, paragraphs: &[&str]) {
    let py = require_tool("python3", "python3-docx");
    let script = format!(
        "import docx,sys\nd=docx.Document()\nfor p in {:?}: d.add_paragraph(p)\nd.save(sys.argv[1])\n",
        paragraphs
    );
    let st = std::process::Command::new(py)
        .arg("-c")
        .arg(script)
        .arg(path)
        .status()
        .unwrap();
    assert!(
        st.success(),
        "python-docx (Debian python3-docx) must make {path:?}"
    );
}

/// What the local upstream HTTP server received: (method, path, headers, body).
pub type Received = Arc<Mutex<Vec<(String, String, String, Vec<u8>)>>>;

/// A small HTTP/1.1 upstream on a free port that records every request and answers 200.
pub fn upstream() -> (u16, Received) {
    use std::io::{BufRead, BufReader as StdBufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let got: Received = Arc::default();
    let g = got.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { continue };
            let g = g.clone();
            std::thread::spawn(move || {
                let mut r = StdBufReader::new(s.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                let lower = head.to_ascii_lowercase();
                let mut body = Vec::new();
                if let Some(i) = lower.find("content-length:") {
                    let n: usize = lower[i + 15..]
                        .lines()
                        .next()
                        .unwrap()
                        .trim()
                        .parse()
                        .unwrap();
                    body.resize(n, 0);
                    r.read_exact(&mut body).unwrap();
                } else if lower.contains("transfer-encoding: chunked") {
                    loop {
                        let mut l = String::new();
                        r.read_line(&mut l).unwrap();
                        let n =
                            usize::from_str_radix(l.trim().split(';').next().unwrap(), 16).unwrap();
                        let mut c = vec![0u8; n + 2];
                        if n == 0 {
                            let mut end = String::new();
                            r.read_line(&mut end).unwrap();
                            break;
                        }
                        r.read_exact(&mut c).unwrap();
                        body.extend_from_slice(&c[..n]);
                    }
                }
                let mut first = head.lines().next().unwrap_or("").split(' ');
                let method = first.next().unwrap_or("").to_owned();
                let path = first.next().unwrap_or("").to_owned();
                g.lock().unwrap().push((method, path, head.clone(), body));
                let mut s = s;
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\nConnection: close\r\n\r\nreceived",
                );
            });
        }
    });
    (port, got)
}

pub use baomi_testkit::free_port;

/// The lines every test Squid has: its files in `dir`, no cache, quick shutdown, every
/// client allowed.
fn housekeeping(dir: &std::path::Path) -> String {
    let d = dir.display();
    format!(
        "pid_filename {d}/squid.pid\n\
         cache_log {d}/cache.log\n\
         access_log stdio:{d}/access.log\n\
         cache_store_log none\n\
         coredump_dir {d}\n\
         cache deny all\n\
         cache_mem 8 MB\n\
         shutdown_lifetime 0 seconds\n\
         http_access allow all\n"
    )
}

/// Squid from Debian, in the foreground, with its config, logs and pid in a temp dir;
/// killed when dropped.
pub struct Squid {
    pub child: std::process::Child,
    pub dir: tempfile::TempDir,
    /// Port where requests go through the ICAP service.
    pub port: u16,
    /// Port where requests bypass ICAP (for latency comparisons).
    pub plain_port: u16,
}

impl Squid {
    pub fn start(icap_port: u16) -> Squid {
        use std::os::unix::fs::PermissionsExt;
        let squid = require_tool("squid", "squid");
        let dir = tempfile::tempdir().unwrap();
        // Squid drops root privileges to its cache_effective_user, which must write here.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let (port, plain_port) = (free_port(), free_port());
        let base = housekeeping(dir.path());
        let conf = format!(
            "http_port 127.0.0.1:{port} name=icap_port\n\
             http_port 127.0.0.1:{plain_port} name=plain_port\n\
             {base}\
             acl via_icap myportname icap_port\n\
             icap_enable on\n\
             icap_send_client_ip on\n\
             icap_send_client_username on\n\
             icap_client_username_header X-Authenticated-User\n\
             icap_preview_enable on\n\
             icap_persistent_connections on\n\
             icap_service baomi_req reqmod_precache bypass=0 icap://127.0.0.1:{icap_port}/reqmod\n\
             adaptation_access baomi_req allow via_icap\n\
             adaptation_access baomi_req deny all\n"
        );
        Squid::run(squid, dir, conf, port, plain_port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("cache.log")).unwrap_or_default()
    }

    /// Squid in front of several Baomi nodes, as README "Several nodes" configures it: one
    /// essential (`bypass=off`) ICAP service per node and, for each node, a port whose
    /// `adaptation_service_set` tries that node first and the others after it in order.
    /// Returns the Squid and its ports, `ports[i]` going to `icap_ports[i]` first.
    pub fn start_set(icap_ports: &[u16]) -> (Squid, Vec<u16>) {
        use std::fmt::Write;
        use std::os::unix::fs::PermissionsExt;
        let squid = require_tool("squid", "squid");
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let ports: Vec<u16> = icap_ports.iter().map(|_| free_port()).collect();
        let base = housekeeping(dir.path());
        let mut conf = format!(
            "{base}\
             icap_enable on\n\
             icap_send_client_ip on\n\
             icap_preview_enable on\n\
             icap_persistent_connections on\n\
             icap_service_failure_limit 1\n"
        );
        for (i, p) in icap_ports.iter().enumerate() {
            writeln!(
                conf,
                "icap_service node{i} reqmod_precache bypass=off icap://127.0.0.1:{p}/reqmod"
            )
            .unwrap();
        }
        for (i, port) in ports.iter().enumerate() {
            let order: Vec<String> = (0..icap_ports.len())
                .map(|k| format!("node{}", (i + k) % icap_ports.len()))
                .collect();
            writeln!(
                conf,
                "http_port 127.0.0.1:{port} name=port{i}\n\
                 acl at_port{i} myportname port{i}\n\
                 adaptation_service_set nodes_from{i} {}\n\
                 adaptation_access nodes_from{i} allow at_port{i}\n\
                 adaptation_access nodes_from{i} deny all",
                order.join(" ")
            )
            .unwrap();
        }
        (Squid::run(squid, dir, conf, ports[0], ports[0]), ports)
    }

    /// Squid (OpenSSL flavour) intercepting HTTPS with ssl-bump, configured as README
    /// "HTTPS" says: peek at step 1, splice the hosts in `splice`, bump the rest with
    /// certificates signed by `tls.ca_pem`; the upstream is trusted through `tls.upstream_ca`;
    /// `hosts` resolve to loopback. CONNECT itself is not sent to ICAP.
    pub fn start_bump(icap_port: u16, tls: &TestTls, splice: &[&str], hosts: &[&str]) -> Squid {
        use std::os::unix::fs::PermissionsExt;
        let squid = require_tool("squid", "squid-openssl");
        let certgen = std::path::Path::new("/usr/lib/squid/security_file_certgen");
        assert!(
            certgen.exists(),
            "security_file_certgen missing: install squid-openssl (scripts/deps.sh test)"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let db = dir.path().join("ssl_db");
        let out = std::process::Command::new(certgen)
            .args(["-c", "-s"])
            .arg(&db)
            .args(["-M", "4MB"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let chown = std::process::Command::new("chown")
            .args(["-R", "proxy:proxy"])
            .arg(&db)
            .status()
            .unwrap();
        assert!(chown.success());
        let hosts_file = dir.path().join("hosts");
        std::fs::write(&hosts_file, format!("127.0.0.1 {}\n", hosts.join(" "))).unwrap();
        let port = free_port();
        let base = housekeeping(dir.path());
        let splice_acl = if splice.is_empty() {
            String::new()
        } else {
            format!(
                "acl no_bump ssl::server_name {}\nssl_bump splice no_bump\n",
                splice.join(" ")
            )
        };
        let conf = format!(
            "http_port 127.0.0.1:{port} ssl-bump tls-cert={ca} generate-host-certificates=on dynamic_cert_mem_cache_size=4MB\n\
             sslcrtd_program {certgen} -s {db} -M 4MB\n\
             sslcrtd_children 3 startup=1 idle=1\n\
             acl step1 at_step SslBump1\n\
             ssl_bump peek step1\n\
             {splice_acl}\
             ssl_bump bump all\n\
             tls_outgoing_options cafile={upstream_ca}\n\
             hosts_file {hosts}\n\
             {base}\
             acl CONNECT method CONNECT\n\
             icap_enable on\n\
             icap_send_client_ip on\n\
             icap_preview_enable on\n\
             icap_persistent_connections on\n\
             icap_service baomi_req reqmod_precache bypass=0 icap://127.0.0.1:{icap_port}/reqmod\n\
             adaptation_access baomi_req deny CONNECT\n\
             adaptation_access baomi_req allow all\n",
            ca = tls.ca_pem.display(),
            certgen = certgen.display(),
            db = db.display(),
            upstream_ca = tls.upstream_ca.display(),
            hosts = hosts_file.display(),
        );
        Squid::run(squid, dir, conf, port, port)
    }

    fn run(
        squid: std::path::PathBuf,
        dir: tempfile::TempDir,
        conf: String,
        port: u16,
        plain_port: u16,
    ) -> Squid {
        let conf_path = dir.path().join("squid.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = std::process::Command::new(squid)
            .arg("-N")
            .arg("-f")
            .arg(&conf_path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start squid");
        let mut s = Squid {
            child,
            dir,
            port,
            plain_port,
        };
        let t = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(st)) = s.child.try_wait() {
                panic!("squid exited ({st}); cache.log:\n{}", s.log());
            }
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "squid did not listen; cache.log:\n{}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }
}

/// The certificates of an HTTPS test: the interception CA (made by
/// `scripts/make-interception-ca.sh`), and an upstream CA with a server certificate for
/// `names`, as a site's own PKI would be.
pub struct TestTls {
    pub dir: tempfile::TempDir,
    /// Key and certificate, for Squid's `tls-cert=`.
    pub ca_pem: std::path::PathBuf,
    /// The interception CA's certificate, what office browsers trust.
    pub ca_crt: std::path::PathBuf,
    pub upstream_ca: std::path::PathBuf,
    pub server_crt: std::path::PathBuf,
    pub server_key: std::path::PathBuf,
}

impl TestTls {
    pub fn make(names: &[&str]) -> TestTls {
        use std::process::Command;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scripts/make-interception-ca.sh");
        let out = Command::new("bash")
            .arg(script)
            .arg(d)
            .args(["2", "Baomi test interception CA"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .current_dir(d)
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509", "-new", "-sha256", "-days", "2"];
        ca.extend(ec);
        ca.extend([
            "-subj",
            "/CN=upstream test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
            "-keyout",
            "up-ca.key",
            "-out",
            "up-ca.crt",
        ]);
        openssl(&ca);
        let mut csr = vec!["req", "-new"];
        csr.extend(ec);
        csr.extend([
            "-subj",
            "/CN=upstream",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ]);
        openssl(&csr);
        let sans: Vec<String> = names.iter().map(|n| format!("DNS:{n}")).collect();
        std::fs::write(
            d.join("ext.cnf"),
            format!(
                "subjectAltName={},IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
                sans.join(",")
            ),
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "up-ca.crt",
            "-CAkey",
            "up-ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-sha256",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.crt",
        ]);
        // Squid reads the CA as the proxy user after dropping root.
        let _ = Command::new("chmod")
            .args(["644"])
            .arg(d.join("baomi-interception-ca.pem"))
            .status();
        TestTls {
            ca_pem: d.join("baomi-interception-ca.pem"),
            ca_crt: d.join("baomi-interception-ca.crt"),
            upstream_ca: d.join("up-ca.crt"),
            server_crt: d.join("server.crt"),
            server_key: d.join("server.key"),
            dir,
        }
    }
}

/// The HTTPS upstream (`tests/data/https_upstream.py`): its port, and the directory where
/// each request it received is a file (request line, then body). Killed when dropped.
pub struct HttpsUpstream {
    pub port: u16,
    pub received: tempfile::TempDir,
    child: std::process::Child,
}

impl HttpsUpstream {
    pub fn start(tls: &TestTls) -> HttpsUpstream {
        use std::io::BufRead;
        let received = tempfile::tempdir().unwrap();
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../baomi-icap/tests/data/https_upstream.py");
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .arg(&tls.server_crt)
            .arg(&tls.server_key)
            .arg(received.path())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("upstream port");
        HttpsUpstream {
            port,
            received,
            child,
        }
    }

    /// (request line, body) of every request received, in order.
    pub fn requests(&self) -> Vec<(String, Vec<u8>)> {
        let mut names: Vec<_> = std::fs::read_dir(self.received.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_none())
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                let data = std::fs::read(p).unwrap();
                let nl = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
                (
                    String::from_utf8_lossy(&data[..nl]).into_owned(),
                    data.get(nl + 1..).unwrap_or_default().to_vec(),
                )
            })
            .collect()
    }
}

impl Drop for HttpsUpstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Squid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run curl with `args`; returns (HTTP status, body).
pub fn curl(args: &[&str]) -> (u16, String) {
    let tool = require_tool("curl", "curl");
    let out = std::process::Command::new(tool)
        .args([
            "-sS",
            "-H",
            "Expect:",
            "--max-time",
            "60",
            "-w",
            "\n%{http_code}",
        ])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}
