//! Printing through CUPS (issue 13 §3): the `baomi:/…` backend, first invoked directly as
//! cupsd invokes a backend (DEVICE_URI, CUPS_SERVERBIN with a real inner backend, JOB USER
//! TITLE COPIES OPTIONS [FILE], the job on stdin or as FILE), then behind a real cupsd
//! started here with its own configuration, printed to with `lp`; a held job released by
//! the security officer in the console of a real `baomi serve` (and another canceled
//! through the API), carried out by `baomi agent --once` against that cupsd.
//!
//! The documents are made by real tools: LibreOffice writes the PDFs from text whose first
//! lines are a copy number and a marking (DOMAIN.md §3), poppler's `pdftops` the PostScript
//! (what CUPS's filters hand a PostScript printer's backend).

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use baomi_agent::queue::Queue;

#[allow(dead_code)]
mod support {
    pub mod serve;
}

use support::serve::{OFFICER_PASSWORD, Serve};

const SOFFICE: &str = "/usr/bin/soffice";

const MARKED_TEXT: &str = "000123\n机密★5年\n关于开展年度保密检查工作的通知\n各部门：请于本月底前完成自查，并将结果报保密办。\n";
const CLEAN_TEXT: &str = "关于组织春季运动会的通知\n各部门：请于本月底前报名，地点在体育馆。\n";

/// The test documents, made once.
struct Docs {
    _dir: tempfile::TempDir,
    marked_pdf: PathBuf,
    clean_pdf: PathBuf,
    marked_ps: PathBuf,
    clean_ps: PathBuf,
}

fn tools_missing() -> Option<&'static str> {
    [SOFFICE, "/usr/bin/pdftops", "/usr/bin/gs"]
        .into_iter()
        .find(|tool| !Path::new(tool).exists())
}

fn docs() -> Option<&'static Docs> {
    static DOCS: OnceLock<Option<Docs>> = OnceLock::new();
    DOCS.get_or_init(|| {
        if let Some(tool) = tools_missing() {
            eprintln!(
                "SKIPPED: {tool} is not installed (scripts/deps.sh test: libreoffice-writer-nogui, poppler-utils, ghostscript)"
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("marked.txt"), MARKED_TEXT).unwrap();
        fs::write(dir.path().join("clean.txt"), CLEAN_TEXT).unwrap();
        let out = Command::new(SOFFICE)
            .arg(format!(
                "-env:UserInstallation=file://{}",
                dir.path().join("profile").display()
            ))
            .args(["--headless", "--norestore", "--convert-to", "pdf", "--outdir"])
            .arg(dir.path())
            .arg(dir.path().join("marked.txt"))
            .arg(dir.path().join("clean.txt"))
            .output()
            .expect("run soffice");
        let marked_pdf = dir.path().join("marked.pdf");
        let clean_pdf = dir.path().join("clean.pdf");
        assert!(
            marked_pdf.exists() && clean_pdf.exists(),
            "soffice made no PDF: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ps = |pdf: &Path| {
            let ps = pdf.with_extension("ps");
            let st = Command::new("pdftops").arg(pdf).arg(&ps).status().unwrap();
            assert!(st.success(), "pdftops failed");
            ps
        };
        let (marked_ps, clean_ps) = (ps(&marked_pdf), ps(&clean_pdf));
        Some(Docs {
            _dir: dir,
            marked_pdf,
            clean_pdf,
            marked_ps,
            clean_ps,
        })
    })
    .as_ref()
}

/// A backend's world: the agent's config and data, a CUPS_SERVERBIN whose `backend/`
/// holds a real inner backend (`copyto:PATH`, a shell script that writes the job it is
/// given — as FILE or on stdin — to PATH, and its arguments and DEVICE_URI beside it).
struct World {
    dir: tempfile::TempDir,
    config: PathBuf,
    data: PathBuf,
    server_bin: PathBuf,
}

const COPYTO: &str = r#"#!/bin/sh
out="${DEVICE_URI#copyto:}"
printf '%s\n' "$DEVICE_URI" "$1" "$2" "$3" "$4" "$5" "$#" > "$out.args"
if [ "$#" -ge 6 ]; then cat "$6" > "$out"; else cat > "$out"; fi
"#;

impl World {
    fn new(extra_config: &str) -> World {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("agent");
        fs::create_dir_all(&data).unwrap();
        let config = dir.path().join("agent.toml");
        fs::write(
            &config,
            format!(
                "data_dir = \"{}\"\nmachine = \"pc-print-01\"\n{extra_config}",
                data.display()
            ),
        )
        .unwrap();
        let server_bin = dir.path().join("serverbin");
        fs::create_dir_all(server_bin.join("backend")).unwrap();
        let copyto = server_bin.join("backend/copyto");
        fs::write(&copyto, COPYTO).unwrap();
        // 0700: CUPS (and Baomi after it) runs it as the user running the backend.
        fs::set_permissions(&copyto, fs::Permissions::from_mode(0o700)).unwrap();
        World {
            dir,
            config,
            data,
            server_bin,
        }
    }

    fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Run the backend as cupsd does: `DEVICE_URI`, `CUPS_SERVERBIN`, `PRINTER`, a private
    /// TMPDIR; the job as FILE when `as_file`, else on stdin.
    fn backend(&self, uri: &str, job: &str, title: &str, input: &Path, as_file: bool) -> Run {
        let tmp = self.dir.path().join("tmp");
        fs::create_dir_all(&tmp).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_baomi"));
        cmd.arg("cups-backend")
            .args([job, "alice", title, "1", "media=a4"])
            .env("DEVICE_URI", uri)
            .env("CUPS_SERVERBIN", &self.server_bin)
            .env("PRINTER", "secure")
            .env("TMPDIR", &tmp)
            .env("BAOMI_AGENT_CONFIG", &self.config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if as_file {
            cmd.arg(input).stdin(Stdio::null());
        } else {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("run baomi cups-backend");
        if !as_file {
            let bytes = fs::read(input).unwrap();
            let mut stdin = child.stdin.take().unwrap();
            // A backend may stop reading early (a cancel); a broken pipe is not an error here.
            let _ = stdin.write_all(&bytes);
        }
        let out = child.wait_with_output().unwrap();
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        // Whatever happened, the spool is cleaned up.
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0, "spool left behind");
        run
    }

    fn queue(&self) -> Queue {
        Queue::open(&self.data.join("queue")).unwrap()
    }
}

#[derive(Debug)]
struct Run {
    code: i32,
    stderr: String,
}

impl Run {
    /// Nothing personal on CUPS's message channel: not the title, not the user.
    fn assert_discreet(&self, title: &str) {
        assert!(
            !self.stderr.contains(title),
            "title leaked: {}",
            self.stderr
        );
        assert!(
            !self.stderr.contains("alice"),
            "user leaked: {}",
            self.stderr
        );
    }
}

#[test]
fn without_arguments_the_backend_names_itself_for_discovery() {
    let out = Command::new(env!("CARGO_BIN_EXE_baomi"))
        .arg("cups-backend")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "network baomi \"Unknown\" \"Baomi 保密检查 (wraps another device)\""
    );
}

#[test]
fn a_marked_pdf_is_canceled_and_queued_with_the_job_as_content() {
    let Some(d) = docs() else { return };
    let w = World::new("");
    let out = w.out("out.pdf");
    let uri = format!("baomi:/copyto:{}", out.display());
    let title = "年度检查通知.pdf";
    let r = w.backend(&uri, "17", title, &d.marked_pdf, true);
    assert_eq!(r.code, 5, "{r:?}");
    let line = r
        .stderr
        .lines()
        .find(|l| l.starts_with("ERROR: 含涉密内容，已阻止打印 (BM-"))
        .unwrap_or_else(|| panic!("no block message: {}", r.stderr));
    r.assert_discreet(title);
    assert!(!out.exists(), "the inner backend must not have run");

    let q = w.queue();
    let pending = q.pending().unwrap();
    assert_eq!(pending.len(), 1);
    let ev = &pending[0];
    assert_eq!(ev.channel, "print");
    assert_eq!(ev.local_action, "blocked");
    assert_eq!(ev.name, title);
    assert_eq!(ev.machine, "pc-print-01");
    assert_eq!(ev.person.as_deref(), Some("alice"));
    assert_eq!(ev.destination.as_deref(), Some("printer:secure"));
    assert_eq!(ev.details["job_id"], "17");
    assert_eq!(ev.details["printer"], "secure");
    assert_eq!(ev.details["verdict"]["verdict"], "block");
    // The number on the user's screen is the event's.
    let short: String = ev.id.chars().filter(|c| *c != '-').take(8).collect();
    assert!(
        line.contains(&format!("(BM-{short})")),
        "{line} vs {}",
        ev.id
    );
    let mut content = Vec::new();
    q.content(ev, &mut content).unwrap();
    assert_eq!(
        content,
        fs::read(&d.marked_pdf).unwrap(),
        "the job, decrypted"
    );
}

#[test]
fn a_clean_pdf_reaches_the_real_backend_unchanged() {
    let Some(d) = docs() else { return };
    let w = World::new("");
    let out = w.out("out.pdf");
    let uri = format!("baomi:/copyto:{}", out.display());
    // On stdin, as CUPS sends a filtered job.
    let r = w.backend(&uri, "18", "运动会.pdf", &d.clean_pdf, false);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(fs::read(&out).unwrap(), fs::read(&d.clean_pdf).unwrap());
    let args = fs::read_to_string(w.out("out.pdf.args")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    // The inner backend sees its own URI, the same arguments, and no FILE (stdin).
    assert_eq!(
        args,
        [
            format!("copyto:{}", out.display()).as_str(),
            "18",
            "alice",
            "运动会.pdf",
            "1",
            "media=a4",
            "5"
        ]
    );
    assert!(
        w.queue().pending().unwrap().is_empty(),
        "a clean job is no event"
    );

    // As FILE (a raw queue): the inner backend gets the same FILE.
    let r = w.backend(&uri, "19", "运动会.pdf", &d.clean_pdf, true);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(fs::read(&out).unwrap(), fs::read(&d.clean_pdf).unwrap());
    assert!(
        fs::read_to_string(w.out("out.pdf.args"))
            .unwrap()
            .ends_with("6\n")
    );
}

#[test]
fn postscript_is_read_through_ghostscript() {
    let Some(d) = docs() else { return };
    let w = World::new("");
    let out = w.out("out.ps");
    let uri = format!("baomi:/copyto:{}", out.display());
    let r = w.backend(&uri, "20", "通知", &d.marked_ps, false);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(
        r.stderr.contains("ERROR: 含涉密内容，已阻止打印 (BM-"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
    let pending = w.queue().pending().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].details["read_as"], "postscript");

    let r = w.backend(&uri, "21", "运动会", &d.clean_ps, false);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(fs::read(&out).unwrap(), fs::read(&d.clean_ps).unwrap());
}

#[test]
fn what_cannot_be_read_gets_on_timeout_cancel_by_default_print_when_configured() {
    let w = World::new("");
    let out = w.out("out.bin");
    let uri = format!("baomi:/copyto:{}", out.display());
    let garbage = w.out("garbage.bin");
    // Random bytes: no known format.
    let bytes: Vec<u8> = (0u32..20_000)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(&garbage, &bytes).unwrap();
    let r = w.backend(&uri, "30", "x", &garbage, false);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(
        r.stderr
            .contains("ERROR: 无法完成保密检查，已取消打印 (BM-"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
    let pending = w.queue().pending().unwrap();
    assert_eq!(pending[0].local_action, "uninspectable");

    // PCL, what a Windows driver sends: named in the message.
    let pcl = w.out("job.pcl");
    fs::write(
        &pcl,
        b"\x1bE\x1b&l26A\x1b&l0O\x1b(s0p12h10v0s0b3T Hello\x0c\x1bE",
    )
    .unwrap();
    let r = w.backend(&uri, "31", "x", &pcl, true);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(r.stderr.contains("PCL"), "{}", r.stderr);

    // A truncated PDF: damaged, not a crash.
    let Some(d) = docs() else { return };
    let cut = w.out("cut.pdf");
    let pdf = fs::read(&d.clean_pdf).unwrap();
    fs::write(&cut, &pdf[..pdf.len() / 3]).unwrap();
    let r = w.backend(&uri, "32", "x", &cut, true);
    assert!(r.code == 5 || r.code == 0, "{r:?}");
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);

    let lenient = World::new("[print]\non_timeout = \"print\"\n");
    let out = lenient.out("out.bin");
    let uri = format!("baomi:/copyto:{}", out.display());
    let r = lenient.backend(&uri, "33", "x", &garbage, false);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr
            .contains("WARNING: 无法完成保密检查，按配置继续打印"),
        "{}",
        r.stderr
    );
    assert_eq!(fs::read(&out).unwrap(), bytes);
    assert_eq!(
        lenient.queue().pending().unwrap().len(),
        1,
        "still an event"
    );
}

#[test]
fn a_job_larger_than_the_spool_allows_is_not_inspected() {
    let Some(d) = docs() else { return };
    let w = World::new("[print]\nmax_job_bytes = 1000\n");
    let out = w.out("out.pdf");
    let uri = format!("baomi:/copyto:{}", out.display());
    let r = w.backend(&uri, "40", "x", &d.clean_pdf, false);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(r.stderr.contains("max_job_bytes"), "{}", r.stderr);

    // Printed anyway when configured so, whole: the spooled part and the rest of stdin.
    let w = World::new("[print]\nmax_job_bytes = 1000\non_timeout = \"print\"\n");
    let out = w.out("out.pdf");
    let uri = format!("baomi:/copyto:{}", out.display());
    let r = w.backend(&uri, "41", "x", &d.clean_pdf, false);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(fs::read(&out).unwrap(), fs::read(&d.clean_pdf).unwrap());
}

#[test]
fn quarantine_holds_the_job_until_an_administrator_releases_it() {
    let Some(d) = docs() else { return };
    let w = World::new("");
    fs::write(
        w.data.join("policy.toml"),
        "alert_at = \"alert\"\n[[rule]]\nname = \"hold-marked-prints\"\nkinds = [\"marking\"]\nmin_level = \"confidential\"\naction = \"quarantine\"\nseverity = \"high\"\n",
    )
    .unwrap();
    let out = w.out("out.pdf");
    let uri = format!("baomi:/copyto:{}", out.display());
    let r = w.backend(&uri, "50", "x", &d.marked_pdf, true);
    assert_eq!(r.code, 3, "CUPS_BACKEND_HOLD: {r:?}");
    assert!(
        r.stderr
            .contains("ERROR: 含敏感内容，已暂停打印，待保密管理员审批 (BM-"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
    assert_eq!(w.queue().pending().unwrap()[0].local_action, "held");

    // Resumed without approval: held again.
    let r = w.backend(&uri, "50", "x", &d.marked_pdf, true);
    assert_eq!(r.code, 3, "{r:?}");

    let rel = Command::new(env!("CARGO_BIN_EXE_baomi"))
        .args(["cups-backend", "--release", "50"])
        .env("BAOMI_AGENT_CONFIG", &w.config)
        .output()
        .unwrap();
    assert_eq!(rel.status.code(), Some(0), "{rel:?}");
    assert!(String::from_utf8_lossy(&rel.stdout).contains("lp -i 50 -H resume"));
    let r = w.backend(&uri, "50", "x", &d.marked_pdf, true);
    assert_eq!(r.code, 0, "released: {r:?}");
    assert_eq!(fs::read(&out).unwrap(), fs::read(&d.marked_pdf).unwrap());
    // Once: the next run of job 50 is inspected again.
    let r = w.backend(&uri, "50", "x", &d.marked_pdf, true);
    assert_eq!(r.code, 3, "{r:?}");
    let unknown = Command::new(env!("CARGO_BIN_EXE_baomi"))
        .args(["cups-backend", "--release", "51"])
        .env("BAOMI_AGENT_CONFIG", &w.config)
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2), "not held: {unknown:?}");
}

#[test]
fn a_wrong_device_uri_stops_the_queue_with_a_reason() {
    let Some(d) = docs() else { return };
    let w = World::new("");
    for uri in [
        "baomi:/",
        "baomi:/nosuchbackend:/x",
        "baomi:/baomi:/copyto:/x",
    ] {
        let r = w.backend(uri, "60", "x", &d.clean_pdf, true);
        assert_eq!(r.code, 4, "{uri}: {r:?}");
        assert!(r.stderr.contains("ERROR: Baomi:"), "{}", r.stderr);
    }
    // A file device needs print.file_device (cupsd's FileDevice); /dev/null never does.
    let r = w.backend(
        "baomi:/file:///tmp/baomi-nope.pdf",
        "61",
        "x",
        &d.clean_pdf,
        true,
    );
    assert_eq!(r.code, 4, "{r:?}");
    let r = w.backend("baomi:/file:///dev/null", "62", "x", &d.clean_pdf, true);
    assert_eq!(r.code, 0, "{r:?}");
}

// ---- A real cupsd ------------------------------------------------------------------

struct Cupsd {
    dir: tempfile::TempDir,
    port: u16,
    child: std::process::Child,
}

impl Drop for Cupsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

use baomi_testkit::free_port;

impl Cupsd {
    /// cupsd with its own ServerRoot, spool, cache, state and logs under a temp dir,
    /// listening on localhost:PORT without authentication; ServerBin has the system's
    /// filters and helpers, and backend/ holds `baomi` (the installed wrapper's text,
    /// pointing at this build) beside the system's backends.
    fn start(agent_config: &Path) -> Option<Cupsd> {
        if !Path::new("/usr/sbin/cupsd").exists() || !Path::new("/usr/bin/lp").exists() {
            eprintln!(
                "SKIPPED: cupsd/lp not installed (scripts/deps.sh test: cups-daemon, cups-client)"
            );
            return None;
        }
        // /proc/self belongs to the effective user.
        if std::os::unix::fs::MetadataExt::uid(&fs::metadata("/proc/self").unwrap()) != 0 {
            eprintln!("SKIPPED: the cupsd test runs cupsd as root (it runs 0700 backends as root)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in [
            "conf/ppd",
            "spool/tmp",
            "cache",
            "state/certs",
            "log",
            "serverbin/backend",
        ] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        let sb = root.join("serverbin");
        for e in fs::read_dir("/usr/lib/cups").unwrap() {
            let e = e.unwrap();
            if e.file_name() != "backend" {
                std::os::unix::fs::symlink(e.path(), sb.join(e.file_name())).unwrap();
            }
        }
        for e in fs::read_dir("/usr/lib/cups/backend").unwrap() {
            let e = e.unwrap();
            std::os::unix::fs::symlink(e.path(), sb.join("backend").join(e.file_name())).unwrap();
        }
        let wrapper = sb.join("backend/baomi");
        fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec {} cups-backend \"$@\"\n",
                env!("CARGO_BIN_EXE_baomi")
            ),
        )
        .unwrap();
        fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o700)).unwrap();
        let port = free_port();
        let p = |s: &str| root.join(s).display().to_string();
        fs::write(
            root.join("conf/cups-files.conf"),
            format!(
                "ServerRoot {}\nRequestRoot {}\nTempDir {}\nCacheDir {}\nStateDir {}\n\
                 ServerBin {}\nDataDir /usr/share/cups\nErrorLog {}\nAccessLog {}\nPageLog {}\n\
                 FileDevice Yes\nSetEnv BAOMI_AGENT_CONFIG {}\nUser lp\nGroup lp\nSystemGroup root\n",
                p("conf"),
                p("spool"),
                p("spool/tmp"),
                p("cache"),
                p("state"),
                p("serverbin"),
                p("log/error_log"),
                p("log/access_log"),
                p("log/page_log"),
                agent_config.display()
            ),
        )
        .unwrap();
        fs::write(
            root.join("conf/cupsd.conf"),
            format!(
                "LogLevel debug\nListen 127.0.0.1:{port}\nServerName localhost\nBrowsing No\n\
                 BrowseLocalProtocols none\nWebInterface No\nDefaultAuthType None\n\
                 PreserveJobHistory Yes\nPreserveJobFiles No\nDefaultPolicy open\n\
                 <Location />\n  Order allow,deny\n  Allow all\n</Location>\n\
                 <Policy open>\n  <Limit All>\n    Order deny,allow\n    Allow all\n  </Limit>\n</Policy>\n"
            ),
        )
        .unwrap();
        let child = Command::new("/usr/sbin/cupsd")
            .arg("-f")
            .arg("-c")
            .arg(root.join("conf/cupsd.conf"))
            .arg("-s")
            .arg(root.join("conf/cups-files.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start cupsd");
        let c = Cupsd { dir, port, child };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "cupsd did not listen: {}",
                c.error_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(c)
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn error_log(&self) -> String {
        fs::read_to_string(self.dir.path().join("log/error_log")).unwrap_or_default()
    }

    /// A CUPS client tool against this cupsd; its stdout, panicking with stderr on failure.
    fn tool(&self, program: &str, args: &[&str]) -> String {
        let out = Command::new(program)
            .arg("-h")
            .arg(self.host())
            .args(args)
            .env("CUPS_SERVER", self.host())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.error_log()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `lp`, returning the job id.
    fn print(&self, printer: &str, file: &Path) -> String {
        let out = self.tool("lp", &["-d", printer, &file.display().to_string()]);
        // "request id is secure-1 (1 file(s))"
        out.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{printer}-")))
            .unwrap_or_else(|| panic!("no job id in {out:?}"))
            .to_owned()
    }

    /// Wait until the job has left the queue; `lpstat -l` of the completed jobs then.
    fn wait_done(&self, printer: &str, job: &str) -> String {
        let start = Instant::now();
        loop {
            let open = self.tool("lpstat", &["-o", printer]);
            if !open.contains(&format!("{printer}-{job} ")) {
                return self.tool("lpstat", &["-W", "completed", "-l", "-o", printer]);
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "job {job} still queued: {open}\n{}",
                self.error_log()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

#[test]
fn through_a_real_cupsd_marked_jobs_are_canceled_with_the_reason_and_clean_ones_print() {
    let Some(d) = docs() else { return };
    let w = World::new("[print]\nfile_device = true\n");
    let Some(cups) = Cupsd::start(&w.config) else {
        return;
    };
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("out.pdf");
    cups.tool(
        "lpadmin",
        &[
            "-p",
            "secure",
            "-E",
            "-v",
            &format!("baomi:/file://{}", out.display()),
        ],
    );

    let job = cups.print("secure", &d.marked_pdf);
    let done = cups.wait_done("secure", &job);
    assert!(!out.exists(), "a blocked job must not reach the device");
    let log = cups.error_log();
    assert!(
        log.contains("含涉密内容，已阻止打印 (BM-"),
        "the reason in cupsd's log: {log}"
    );
    let printer = cups.tool("lpstat", &["-l", "-p", "secure"]);
    assert!(
        printer.contains("含涉密内容，已阻止打印 (BM-") || done.contains("含涉密内容"),
        "lpstat shows the reason: {printer}\n{done}"
    );
    let pending = w.queue().pending().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].local_action, "blocked");
    assert_eq!(pending[0].details["job_id"], job.as_str());
    assert_eq!(pending[0].destination.as_deref(), Some("printer:secure"));
    let mut content = Vec::new();
    w.queue().content(&pending[0], &mut content).unwrap();
    assert_eq!(content, fs::read(&d.marked_pdf).unwrap());
    // The printer is still accepting and enabled: a cancel stops the job, not the queue.
    assert!(
        printer.contains("enabled") || printer.contains("idle"),
        "{printer}"
    );

    let job = cups.print("secure", &d.clean_pdf);
    cups.wait_done("secure", &job);
    assert_eq!(
        fs::read(&out).unwrap(),
        fs::read(&d.clean_pdf).unwrap(),
        "the clean job printed whole: {}",
        cups.error_log()
    );
    assert_eq!(
        w.queue().pending().unwrap().len(),
        1,
        "no event for the clean job"
    );
}

/// The quarantine policy of the hold tests: marked prints are held for approval.
const HOLD_POLICY: &str = "alert_at = \"alert\"\n[[rule]]\nname = \"hold-marked-prints\"\nkinds = [\"marking\"]\nmin_level = \"confidential\"\naction = \"quarantine\"\nseverity = \"high\"\n";

#[test]
fn through_a_real_cupsd_a_held_job_is_released_or_canceled_by_the_officer_on_the_server() {
    let Some(d) = docs() else { return };
    let serve = Serve::start("", None);
    let w = World::new(&format!(
        "server = \"http://127.0.0.1:{}\"\ntoken = \"{}\"\n[print]\nfile_device = true\n",
        serve.http, serve.scan_token
    ));
    fs::write(w.data.join("policy.toml"), HOLD_POLICY).unwrap();
    let Some(cups) = Cupsd::start(&w.config) else {
        return;
    };
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("out.pdf");
    cups.tool(
        "lpadmin",
        &[
            "-p",
            "secure",
            "-E",
            "-v",
            &format!("baomi:/file://{}", out.display()),
        ],
    );
    // The agent on the same computer, once (as its loop would every
    // print.decision_poll_secs), talking to this cupsd.
    let agent_once = || {
        let o = Command::new(env!("CARGO_BIN_EXE_baomi"))
            .args(["agent", "--once", "--config"])
            .arg(&w.config)
            .env("CUPS_SERVER", cups.host())
            .env("BAOMI_LOG", "baomi_agent=info")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{said}");
        said
    };
    let held = |job: &str| {
        let start = Instant::now();
        loop {
            let pending = w.queue().pending().unwrap();
            if pending
                .iter()
                .any(|e| e.local_action == "held" && e.details["job_id"] == job)
            {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "job {job} not held: {}",
                cups.error_log()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        // Held in CUPS: still in the queue, not printed.
        std::thread::sleep(Duration::from_secs(1));
        let open = cups.tool("lpstat", &["-o", "secure"]);
        assert!(open.contains(&format!("secure-{job} ")), "{open}");
        assert!(!out.exists(), "a held job must not reach the device");
    };
    // The newest print incident (each held job is one).
    let newest_incident = || -> String {
        let list = serve.api("/api/v1/incidents?channel=print&limit=100");
        let incidents = list["incidents"].as_array().cloned().unwrap_or_default();
        assert!(!incidents.is_empty(), "{list}");
        incidents[0]["number"].as_str().unwrap().to_owned()
    };
    let decide =
        |number: &str, what: &str| serve.post(&format!("/api/v1/incidents/{number}/print-{what}"));

    // 1. A marked job is held; the agent delivers its incident.
    let job = cups.print("secure", &d.marked_pdf);
    held(&job);
    let said = agent_once();
    assert!(said.contains("1 delivered"), "{said}");
    let number = newest_incident();
    // Nothing was decided yet: the agent has nothing to carry out.
    let (code, waiting) = serve.curl_as(
        &serve.scan_token,
        &[&format!(
            "http://127.0.0.1:{}/api/v1/agent/print-decisions?machine=pc-print-01",
            serve.http
        )],
    );
    assert_eq!(code, 200);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&waiting).unwrap()["decisions"],
        serde_json::json!([])
    );
    // A mail incident's release is not a print release, and a scan token cannot decide.
    let (code, body) = serve.curl_as(
        &serve.scan_token,
        &[
            "-X",
            "POST",
            &format!(
                "http://127.0.0.1:{}/api/v1/incidents/{number}/print-release",
                serve.http
            ),
        ],
    );
    assert_eq!(code, 403, "{}", String::from_utf8_lossy(&body));

    // 2. The security officer sees the held job on the incident's page and releases it
    //    there; the agent resumes it in CUPS; it prints.
    let console = Console::officer(&serve);
    let page = console.page(&format!("/incidents/{number}"));
    assert!(page.contains("打印作业已暂停，待审批"), "{page}");
    assert!(page.contains("pc-print-01"), "{page}");
    assert!(page.contains("id=\"print-release\""), "{page}");
    assert!(page.contains("id=\"print-cancel\""), "{page}");
    let (code, location) = console.post(&format!("/incidents/{number}/print-release"));
    assert_eq!(code, 303, "{location}");
    assert!(location.contains("done="), "{location}");
    let page = console.page(&format!("/incidents/{number}"));
    assert!(
        page.contains("已批准打印，等待该计算机的终端代理执行"),
        "{page}"
    );
    assert!(
        !page.contains("id=\"print-release\""),
        "decided: no buttons: {page}"
    );
    let (code, body) = decide(&number, "cancel");
    assert_eq!(code, 409, "decided once: {body}");
    let said = agent_once();
    eprintln!("{said}");
    assert!(said.contains("1 print decisions carried out"), "{said}");
    cups.wait_done("secure", &job);
    assert_eq!(
        fs::read(&out).unwrap(),
        fs::read(&d.marked_pdf).unwrap(),
        "the released job printed whole: {}",
        cups.error_log()
    );
    let page = console.page(&format!("/incidents/{number}"));
    assert!(page.contains("已批准，终端已恢复打印"), "{page}");
    assert!(page.contains("released: job"), "{page}");
    let (_, trail) = serve.audit_tail();
    assert!(trail.contains("print.release"), "{trail}");
    assert!(trail.contains("print.done"), "{trail}");
    assert!(trail.contains("released: job"), "{trail}");
    // The release was once: the event the backend queued says so.
    let said = agent_once();
    assert!(said.contains("0 print decisions carried out"), "{said}");

    // 3. Another marked job, canceled by the officer: it never prints.
    fs::remove_file(&out).unwrap();
    let job2 = cups.print("secure", &d.marked_pdf);
    assert_ne!(job2, job);
    held(&job2);
    agent_once();
    let number2 = newest_incident();
    assert_ne!(number2, number);
    let (code, body) = decide(&number2, "cancel");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["decision"], "cancel", "{body}");
    let said = agent_once();
    assert!(said.contains("1 print decisions carried out"), "{said}");
    let done = cups.wait_done("secure", &job2);
    assert!(!out.exists(), "a canceled job must not print");
    assert!(done.contains(&format!("secure-{job2}")), "{done}");
    let (_, trail) = serve.audit_tail();
    assert!(trail.contains("print.cancel"), "{trail}");
    assert!(trail.contains("canceled: job"), "{trail}");
    // An incident without a held print job has nothing to release.
    let (code, _) = decide("BM-20000101-000001", "release");
    assert_eq!(code, 404);
    let (code, v) = serve.audit_verify();
    assert_eq!(code, 0, "{v}");
}

/// The console as the security officer's browser: a session from the login form, then
/// pages and same-origin form posts with its cookie. Returns (status, location, body).
struct Console {
    base: String,
    cookie: String,
}

impl Console {
    fn curl(&self, args: &[&str]) -> (u16, String, String) {
        let out = Command::new("curl")
            .args(["-s", "-i", "-H"])
            .arg(format!("Origin: {}", self.base))
            .arg("-H")
            .arg(format!("Cookie: {}", self.cookie))
            .args(args)
            .output()
            .expect("curl");
        let raw = String::from_utf8_lossy(&out.stdout).into_owned();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let header = |name: &str| {
            head.lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                })
                .unwrap_or_default()
        };
        let cookie = header("set-cookie");
        (
            status,
            if cookie.is_empty() {
                header("location")
            } else {
                cookie
            },
            body.to_owned(),
        )
    }

    fn officer(serve: &Serve) -> Console {
        let mut c = Console {
            base: format!("http://127.0.0.1:{}", serve.http),
            cookie: String::new(),
        };
        let (status, cookie, body) = c.curl(&[
            "-X",
            "POST",
            "--data-urlencode",
            "username=officer",
            "--data-urlencode",
            &format!("password={OFFICER_PASSWORD}"),
            "--data-urlencode",
            "next=/",
            &format!("{}/login", c.base),
        ]);
        assert_eq!(status, 303, "{body}");
        c.cookie = cookie.split(';').next().unwrap().to_owned();
        assert!(c.cookie.starts_with("baomi_session="), "{}", c.cookie);
        c
    }

    fn page(&self, path: &str) -> String {
        let (status, _, body) = self.curl(&[&format!("{}{path}", self.base)]);
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    fn post(&self, path: &str) -> (u16, String) {
        let (status, location, _) = self.curl(&["-X", "POST", &format!("{}{path}", self.base)]);
        (status, location)
    }
}
