//! A throwaway PostgreSQL server for tests: Debian's binaries, a cluster in a temporary
//! directory, trust authentication on a free loopback port, stopped on drop. Tests of the
//! PostgreSQL backend run against the real thing, with nothing to set up by hand.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TempPostgres {
    pub url: String,
    bin: PathBuf,
    data: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

/// `postgres` on `data`, listening on loopback `port`, once it accepts connections.
fn run_server(
    bin: &std::path::Path,
    data: &std::path::Path,
    socket_dir: &std::path::Path,
    port: u16,
) -> Result<Child, String> {
    let child = as_postgres(bin.join("postgres"))
        .arg("-D")
        .arg(data)
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-k"])
        .arg(socket_dir)
        .args(["-c", "fsync=off", "-c", "full_page_writes=off"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("postgres: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err("postgres did not start within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Accepting TCP is not yet accepting logins; the first connect retries below.
    std::thread::sleep(Duration::from_millis(300));
    Ok(child)
}

fn bin_dir() -> Result<PathBuf, String> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "PostgreSQL is not installed (scripts/deps.sh test installs it)".to_string())?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .ok_or_else(|| "no /usr/lib/postgresql/*/bin/initdb".to_string())
}

/// Run as the `postgres` user when we are root (initdb refuses root).
fn as_postgres(program: PathBuf) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl TempPostgres {
    pub fn start() -> Result<TempPostgres, String> {
        let bin = bin_dir()?;
        let dir = tempfile::Builder::new()
            .prefix("baomi-pg-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let data = dir.path().join("data");
        if is_root() {
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .map_err(|e| e.to_string())?;
        }
        let out = as_postgres(bin.join("initdb"))
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data)
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let child = run_server(&bin, &data, dir.path(), port)?;
        Ok(TempPostgres {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            bin,
            data,
            dir,
            port,
            child,
        })
    }

    /// Shut the server down (fast: clients are disconnected), as an outage would.
    pub fn stop(&mut self) {
        self.shutdown("fast");
    }

    /// Start it again on the same data and port after [`TempPostgres::stop`].
    pub fn start_again(&mut self) -> Result<(), String> {
        self.child = run_server(&self.bin, &self.data, self.dir.path(), self.port)?;
        Ok(())
    }

    fn shutdown(&mut self, mode: &str) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = as_postgres(self.bin.join("pg_ctl"))
            .args(["-m", mode, "-D"])
            .arg(&self.data)
            .arg("stop")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// A store on this server with its files in `dir`, retried for up to 10 s while the
    /// server finishes starting (it accepts connections a moment after its port opens).
    pub async fn open_store(&self, dir: &std::path::Path) -> crate::Store {
        for _ in 0..50 {
            match crate::Store::open(dir, Some(&self.url)).await {
                Ok(s) => return s,
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
        panic!("PostgreSQL accepts no connections at {}", self.url);
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        self.shutdown("immediate");
    }
}
