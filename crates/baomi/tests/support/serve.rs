//! `baomi serve` as a child process for end-to-end tests: free loopback ports, its own data
//! directory and config file, an API token, stopped (SIGTERM) on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use baomi_testkit::free_port;

pub struct Serve {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub config: PathBuf,
    pub http: u16,
    pub icap: u16,
    pub milter: u16,
    /// The security officer's token.
    pub token: String,
    /// An inspection-only token (what Prometheus scrapes `/metrics` with).
    pub scan_token: String,
    child: Child,
}

/// The password of the `officer` (secadmin) account every test server has.
pub const OFFICER_PASSWORD: &str = "officer-密码-2026";

/// `baomi` with `input` on standard input.
pub fn baomi_stdin(args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_baomi"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running baomi");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{input}\n").as_bytes())
        .unwrap();
    child.wait_with_output().expect("baomi ends")
}

pub fn baomi(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_baomi"))
        .args(args)
        .output()
        .expect("running baomi")
}

impl Serve {
    /// Start with `extra` appended to the generated baomi.toml and `policy` (if any) as
    /// DATA_DIR/policy.toml.
    pub fn start(extra: &str, policy: Option<&str>) -> Serve {
        Serve::start_with_milter_port(extra, policy, free_port())
    }

    pub fn start_with_milter_port(extra: &str, policy: Option<&str>, milter: u16) -> Serve {
        Serve::start_with(extra, policy, milter, None, true)
    }

    /// Another node on a store an earlier [`Serve`] created (`extra` names the shared
    /// database): the `officer` account exists already, so only tokens are made.
    pub fn join(extra: &str) -> Serve {
        Serve::start_with(extra, None, free_port(), None, false)
    }

    /// Start with DATA as the data directory (a small file system of its own, say).
    pub fn start_on(data: &Path, extra: &str) -> Serve {
        Serve::start_with(extra, None, free_port(), Some(data.to_owned()), true)
    }

    fn start_with(
        extra: &str,
        policy: Option<&str>,
        milter: u16,
        data: Option<PathBuf>,
        create_officer: bool,
    ) -> Serve {
        let dir = tempfile::Builder::new()
            .prefix("baomi-serve-")
            .tempdir()
            .unwrap();
        let data = data.unwrap_or_else(|| dir.path().join("data"));
        std::fs::create_dir_all(&data).unwrap();
        if let Some(p) = policy {
            std::fs::write(data.join("policy.toml"), p).unwrap();
        }
        let (http, icap) = (free_port(), free_port());
        let config = dir.path().join("baomi.toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = \"{}\"\n[listen]\nhttp = \"127.0.0.1:{http}\"\nicap = \"127.0.0.1:{icap}\"\nmilter = \"127.0.0.1:{milter}\"\n{extra}",
                data.display()
            ),
        )
        .unwrap();
        let cfg = config.to_str().unwrap();
        // The security officer's token: incidents, evidence, quarantine.
        if create_officer {
            add_officer(cfg);
        }
        let out = baomi(&[
            "--config", cfg, "token", "create", "e2e", "--user", "officer",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let out = baomi(&["--config", cfg, "token", "create", "prometheus"]);
        assert!(out.status.success());
        let scan_token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let child = spawn_serve(dir.path(), &config);
        let s = Serve {
            dir,
            data,
            config,
            http,
            icap,
            milter,
            token,
            scan_token,
            child,
        };
        s.wait_up();
        s
    }

    fn wait_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (code, _) = self.curl(&[&format!("http://127.0.0.1:{}/healthz", self.http)]);
            if code == 200 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "baomi serve did not come up:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Start `baomi serve` again on the same data directory and ports (after [`kill`]).
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn_serve(self.dir.path(), &self.config);
        self.wait_up();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    /// curl with the officer's token; returns (status, body).
    pub fn curl(&self, args: &[&str]) -> (u16, Vec<u8>) {
        self.curl_as(&self.token, args)
    }

    /// `/metrics`, scraped with the inspection-only token.
    pub fn metrics(&self) -> (u16, Vec<u8>) {
        let url = format!("http://127.0.0.1:{}/metrics", self.http);
        self.curl_as(&self.scan_token, &[&url])
    }

    /// curl with `token`; returns (status, body).
    pub fn curl_as(&self, token: &str, args: &[&str]) -> (u16, Vec<u8>) {
        let out = Command::new("curl")
            .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-H"])
            .arg(format!("Authorization: Bearer {token}"))
            .args(args)
            .output()
            .expect("curl");
        let mut body = out.stdout;
        let nl = body.iter().rposition(|&b| b == b'\n').unwrap_or(0);
        let status = String::from_utf8_lossy(&body[nl..])
            .trim()
            .parse()
            .unwrap_or(0);
        body.truncate(nl);
        (status, body)
    }

    pub fn api(&self, path: &str) -> serde_json::Value {
        let (code, body) = self.curl(&[&format!("http://127.0.0.1:{}{path}", self.http)]);
        assert_eq!(code, 200, "{path}: {}", String::from_utf8_lossy(&body));
        serde_json::from_slice(&body).unwrap()
    }

    pub fn post(&self, path: &str) -> (u16, serde_json::Value) {
        let (code, body) = self.curl(&[
            "-X",
            "POST",
            &format!("http://127.0.0.1:{}{path}", self.http),
        ]);
        (code, serde_json::from_slice(&body).unwrap_or_default())
    }

    pub fn evidence(&self, number: &str) -> Vec<u8> {
        let (code, body) = self.curl(&[&format!(
            "http://127.0.0.1:{}/api/v1/incidents/{number}/evidence",
            self.http
        )]);
        assert_eq!(code, 200, "{}", String::from_utf8_lossy(&body));
        body
    }

    /// `baomi audit verify` on this server's store: (exit code, output).
    pub fn audit_verify(&self) -> (i32, String) {
        let out = baomi(&["--config", self.config.to_str().unwrap(), "audit", "verify"]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// `baomi audit tail` on the server (root on the machine reads the trail).
    pub fn audit_tail(&self) -> (i32, String) {
        let out = baomi(&[
            "--config",
            self.config.to_str().unwrap(),
            "audit",
            "tail",
            "-n",
            "20",
        ]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    /// SIGKILL: the scanner dies, nothing is shut down cleanly.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The server's process id (to kill it from another thread).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn data(&self) -> &Path {
        &self.data
    }
}

/// The `officer` (secadmin) account, with [`OFFICER_PASSWORD`].
fn add_officer(cfg: &str) {
    let out = baomi_stdin(
        &[
            "--config",
            cfg,
            "user",
            "add",
            "officer",
            "--role",
            "secadmin",
            "--display-name",
            "王保密",
            "--password-stdin",
        ],
        OFFICER_PASSWORD,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `baomi serve` with DIR/serve.log (appended to) as its log.
fn spawn_serve(dir: &Path, config: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("serve.log"))
        .unwrap();
    Command::new(env!("CARGO_BIN_EXE_baomi"))
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env("BAOMI_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

impl Drop for Serve {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}

/// SIGTERM, up to 15 s to exit cleanly (a server flushes and removes its files), then SIGKILL.
pub fn stop_child(child: &mut std::process::Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The incident number in a text (`BM-YYYYMMDD-NNNNNN`).
pub fn incident_number(text: &str) -> Option<String> {
    let at = text.find("BM-")?;
    let n: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    (n.len() == 18).then_some(n)
}

/// A valid resident ID number (GB 11643 check digit) for test person `i`.
pub fn resident_id(i: u32) -> String {
    let body = format!("11010519900307{:03}", 100 + i);
    let w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body
        .bytes()
        .zip(w)
        .map(|(b, w)| (b - b'0') as u32 * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

/// stdout and stderr of a finished command, for assertion messages.
pub fn out_text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A DOCX made by LibreOffice from `text` (one paragraph per line), in `dir`. The
/// LibreOffice profile goes beside `dir`, not into it (a scanned tree stays as written).
pub fn soffice_docx(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let src = dir.join(format!("{name}.txt"));
    std::fs::write(&src, text).unwrap();
    // The LibreOffice profile goes beside the scanned tree, not into it.
    let profile = dir.parent().unwrap().join("lo-profile");
    let st = Command::new("soffice")
        .arg(format!(
            "-env:UserInstallation=file://{}",
            profile.display()
        ))
        .args([
            "--headless",
            "--convert-to",
            "docx:MS Word 2007 XML",
            "--outdir",
        ])
        .arg(dir)
        .arg(&src)
        .output()
        .expect("soffice (LibreOffice) must be installed");
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    std::fs::remove_file(&src).unwrap();
    dir.join(format!("{name}.docx"))
}
