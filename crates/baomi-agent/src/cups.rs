//! The CUPS backend (`/usr/lib/cups/backend/baomi`, which runs `baomi cups-backend`): a
//! printer whose device URI is `baomi:/<the real device URI>` has every job inspected here
//! before the real backend sees it.
//!
//! CUPS runs a backend as `DEVICE_URI=baomi:/ipp://… backend JOB USER TITLE COPIES OPTIONS
//! [FILE]` (man 7 backend) with the job on stdin when there is no FILE, and reads its exit
//! code and its `INFO:`/`ERROR:`/`STATE:` lines on stderr. Here:
//! - the job is spooled (bounded by `print.max_job_bytes`) and inspected by the engine;
//!   PostScript, whose CJK text is glyph codes without a Unicode map (what `pdftops` and
//!   drivers write), is turned into two PDFs by Ghostscript through the bounded helper
//!   runner: one with the text (`pdfwrite`) and one with every page an image
//!   (`pdfimage8`), whose image-only pages the PDF path reads by OCR;
//! - allow / audit / alert: the real backend (`$CUPS_SERVERBIN/backend/<scheme>`) runs with
//!   the job, as CUPS would have run it, and its exit code is ours; alert and audit queue an
//!   event;
//! - block: exit [`CUPS_BACKEND_CANCEL`] with `ERROR: 含涉密内容，已阻止打印 (BM-…)`, the job
//!   queued as the event's content;
//! - quarantine: exit [`CUPS_BACKEND_HOLD`]; the job waits in CUPS until the security
//!   officer decides on its incident and the agent carries the decision out ([`carry_out`]:
//!   [`release`] then `lp -i JOB -H resume`, or `cancel JOB`), or an administrator releases
//!   it by hand (`baomi cups-backend --release JOB`, then `lp -i JOB -H resume`);
//! - a job that cannot be inspected in time or at all (a raw printer language, an unreadable
//!   file, a limit): `print.on_timeout` (default cancel).
//!
//! Nothing personal is written to stderr (which CUPS keeps in its error log and shows in
//! `lpstat`): no title, no user, no findings' text — the job id and the event's number only.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use baomi_core::{Action, Channel};
use baomi_engine::{Engine, ObjectReport};
use baomi_extract::helper::{self, HelperLimits};
use baomi_extract::{Blob, FileType};
use serde_json::json;

use crate::config::{AgentConfig, PrintFallback};
use crate::queue::{Event, Queue};

/// Exit codes of a CUPS backend (`cups/backend.h`).
pub const CUPS_BACKEND_OK: i32 = 0;
pub const CUPS_BACKEND_FAILED: i32 = 1;
pub const CUPS_BACKEND_HOLD: i32 = 3;
pub const CUPS_BACKEND_STOP: i32 = 4;
pub const CUPS_BACKEND_CANCEL: i32 = 5;

/// The device-discovery line CUPS reads when it runs backends without arguments
/// (`lpinfo -v`): class, URI scheme, make and model, description.
pub const DISCOVERY: &str = "network baomi \"Unknown\" \"Baomi 保密检查 (wraps another device)\"";

/// The message a blocked job ends with; `lpstat` and the print dialog show it.
pub const BLOCKED_MESSAGE: &str = "含涉密内容，已阻止打印";
/// The message a held job waits with.
pub const HELD_MESSAGE: &str = "含敏感内容，已暂停打印，待保密管理员审批";

/// The arguments CUPS passes after argv[0].
#[derive(Debug, Clone)]
pub struct JobArgs {
    pub job: String,
    pub user: String,
    pub title: String,
    pub copies: String,
    pub options: String,
    /// The job's file when CUPS gives one (raw queues), else the job is on stdin.
    pub file: Option<PathBuf>,
}

impl JobArgs {
    /// `JOB USER TITLE COPIES OPTIONS [FILE]`; anything else is not a CUPS call.
    pub fn parse(args: &[OsString]) -> Result<JobArgs, String> {
        if args.len() != 5 && args.len() != 6 {
            return Err(format!(
                "usage: baomi cups-backend JOB USER TITLE COPIES OPTIONS [FILE] ({} arguments given)",
                args.len()
            ));
        }
        let s = |i: usize| args[i].to_string_lossy().into_owned();
        Ok(JobArgs {
            job: s(0),
            user: s(1),
            title: s(2),
            copies: s(3),
            options: s(4),
            file: args.get(5).map(PathBuf::from),
        })
    }
}

/// What CUPS tells a backend through its environment.
#[derive(Debug, Clone)]
pub struct BackendEnv {
    /// `DEVICE_URI`, else argv[0] when it is a URI (CUPS sets both).
    pub device_uri: Option<String>,
    /// `CUPS_SERVERBIN`, default `/usr/lib/cups`: the real backends are in `backend/`.
    pub server_bin: PathBuf,
    /// `PRINTER`: the queue's name.
    pub printer: Option<String>,
    /// `TMPDIR` (CUPS sets its own), where the job is spooled.
    pub tmp_dir: PathBuf,
}

impl BackendEnv {
    pub fn from_process(argv0: Option<&str>) -> BackendEnv {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        BackendEnv {
            device_uri: var("DEVICE_URI")
                .or_else(|| argv0.filter(|a| a.starts_with("baomi:")).map(str::to_owned)),
            server_bin: var("CUPS_SERVERBIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/usr/lib/cups")),
            printer: var("PRINTER"),
            tmp_dir: std::env::temp_dir(),
        }
    }
}

/// The device behind `baomi:/`: `baomi:/ipp://host/ipp/print` → `ipp://host/ipp/print`,
/// with its scheme. `baomi://…` is accepted too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InnerDevice {
    pub uri: String,
    pub scheme: String,
}

impl InnerDevice {
    pub fn parse(device_uri: &str) -> Result<InnerDevice, String> {
        let rest = device_uri
            .strip_prefix("baomi:")
            .ok_or_else(|| "the device URI does not start with baomi:".to_owned())?;
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        let (scheme, _) = rest
            .split_once(':')
            .ok_or_else(|| "no device after baomi:/ (expected baomi:/SCHEME:…)".to_owned())?;
        let well_formed = !scheme.is_empty()
            && scheme.as_bytes()[0].is_ascii_alphabetic()
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.');
        if !well_formed {
            return Err("the device after baomi:/ has no valid URI scheme".into());
        }
        if scheme == "baomi" {
            return Err("baomi:/ cannot wrap itself".into());
        }
        Ok(InnerDevice {
            uri: rest.to_owned(),
            scheme: scheme.to_owned(),
        })
    }

    /// The URI without a password (`ipp://user:secret@host/` → `ipp://user@host/`), for
    /// events and messages.
    pub fn display(&self) -> String {
        strip_password(&self.uri)
    }
}

fn strip_password(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}@{host}{path}")
        }
        None => uri.to_owned(),
    }
}

/// One line to CUPS (stderr is the backend's message channel).
fn say(prefix: &str, message: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{prefix}: {message}");
}

/// A job spooled from stdin into TMPDIR, removed when dropped.
struct Spool {
    path: PathBuf,
    len: u64,
    /// The job did not fit (`max_job_bytes`, a full disk): what was read past the spool
    /// file, the rest is still on stdin.
    overflow: Option<Vec<u8>>,
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn spool_stdin(dir: &Path, max: u64) -> io::Result<Spool> {
    let path = dir.join(format!("baomi-print-{}", uuid::Uuid::new_v4()));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    let mut spool = Spool {
        path,
        len: 0,
        overflow: None,
    };
    let mut stdin = io::stdin().lock();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = match stdin.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if spool.len + n as u64 > max || file.write_all(&chunk[..n]).is_err() {
            spool.overflow = Some(chunk[..n].to_vec());
            break;
        }
        spool.len += n as u64;
    }
    file.flush()?;
    Ok(spool)
}

/// Where the job is.
enum JobData {
    /// CUPS's own spool file (given as FILE).
    Given(PathBuf),
    Spooled(Spool),
    /// Not spooled at all (TMPDIR unwritable): still on stdin, uninspectable.
    Stdin,
}

impl JobData {
    /// The job's file, when the whole job is in one.
    fn whole_file(&self) -> Option<&Path> {
        match self {
            JobData::Given(p) => Some(p),
            JobData::Spooled(s) if s.overflow.is_none() => Some(&s.path),
            _ => None,
        }
    }
}

/// What the inspection says the job gets.
#[derive(Debug, Clone, PartialEq)]
enum Decision {
    /// The verdict's action (allow, audit, alert, quarantine, block).
    Verdict(Action),
    /// The job could not be inspected (why, in words without personal data).
    Uninspectable(String),
}

/// The job's inspection, with what it was read as.
struct Inspection {
    decision: Decision,
    report: Option<ObjectReport>,
    read_as: &'static str,
}

/// Run one job. Returns the backend's exit code.
pub fn run_job(job: &JobArgs, env: &BackendEnv, cfg: &AgentConfig, engine: Arc<Engine>) -> i32 {
    let Some(device_uri) = env.device_uri.as_deref() else {
        say(
            "ERROR",
            "Baomi: no DEVICE_URI (run by CUPS with a baomi:/… device)",
        );
        return CUPS_BACKEND_FAILED;
    };
    let inner = match InnerDevice::parse(device_uri) {
        Ok(d) => d,
        Err(e) => {
            // A queue set up wrongly: stop it rather than fail every job in turn.
            say("ERROR", &format!("Baomi: bad device URI: {e}"));
            return CUPS_BACKEND_STOP;
        }
    };
    let data = match &job.file {
        Some(f) => JobData::Given(f.clone()),
        None => match spool_stdin(&env.tmp_dir, cfg.print.max_job_bytes) {
            Ok(s) => JobData::Spooled(s),
            Err(e) => {
                say(
                    "WARNING",
                    &format!("Baomi: cannot spool job {}: {e}", job.job),
                );
                JobData::Stdin
            }
        },
    };
    say("STATE", "+baomi-inspecting");
    say("INFO", &format!("保密检查中 (job {})", job.job));
    let printer = env.printer.clone().unwrap_or_default();
    let hash = data.whole_file().and_then(|f| hash_file(f).ok());
    let inspection = if take_release(&cfg.data_dir, &job.job, &printer) {
        None
    } else if let Some(file) = data.whole_file() {
        Some(inspect_with_deadline(
            engine,
            file.to_owned(),
            job.title.clone(),
            Duration::from_secs(cfg.print.inspect_timeout_secs.max(1)),
        ))
    } else {
        Some(Inspection {
            decision: Decision::Uninspectable(format!(
                "the job is larger than print.max_job_bytes ({} bytes) or could not be spooled (disk full?)",
                cfg.print.max_job_bytes
            )),
            report: None,
            read_as: "unknown",
        })
    };
    say("STATE", "-baomi-inspecting");
    let event = |local_action: &str, insp: &Inspection, extra: serde_json::Value| {
        let mut ev = Event::new("print", &job.title, &cfg.machine_name());
        // Who printed: the job's user as CUPS has it (the agent's `person` is who uses the
        // computer, known only when set).
        ev.person = Some(job.user.clone())
            .filter(|u| !u.is_empty())
            .or_else(|| cfg.person.clone());
        ev.department = cfg.department.clone();
        ev.destination = Some(format!("printer:{printer}"));
        ev.local_action = local_action.to_owned();
        ev.details = json!({
            "job_id": job.job,
            "user": job.user,
            "title": job.title,
            "printer": printer,
            "copies": job.copies,
            "device": inner.display(),
            "read_as": insp.read_as,
            "sha256": hash,
            "verdict": insp.report.as_ref().map(|r| r.to_json(false)),
            "note": extra,
        });
        let short = short_number(&ev.id);
        let id = ev.id.clone();
        let pushed = Queue::open(&cfg.queue_dir()).and_then(|q| match data.whole_file() {
            Some(file) => q.push(&mut ev, Some(&mut File::open(file)?)),
            None => q.push(&mut ev, None),
        });
        if let Err(e) = pushed {
            // The decision stands (a block is still a block); the incident is lost, so say so.
            say(
                "WARNING",
                &format!(
                    "Baomi: the incident of job {} could not be queued: {e}",
                    job.job
                ),
            );
        }
        (short, id)
    };
    let Some(insp) = inspection else {
        say("INFO", &format!("保密管理员已批准，打印 (job {})", job.job));
        let released = Inspection {
            decision: Decision::Verdict(Action::Allow),
            report: None,
            read_as: "released",
        };
        event("released", &released, json!("released after approval"));
        return print_with(&inner, env, job, &data, cfg);
    };
    match &insp.decision {
        Decision::Verdict(Action::Block) => {
            let (n, _) = event("blocked", &insp, serde_json::Value::Null);
            say("ERROR", &format!("{BLOCKED_MESSAGE} ({n})"));
            CUPS_BACKEND_CANCEL
        }
        Decision::Verdict(Action::Quarantine) => {
            let (n, id) = event("held", &insp, serde_json::Value::Null);
            if let Err(e) = record_hold(&cfg.data_dir, &job.job, &printer, hash.as_deref(), &n, &id)
            {
                say("WARNING", &format!("Baomi: cannot record the hold: {e}"));
            }
            say("ERROR", &format!("{HELD_MESSAGE} ({n})"));
            CUPS_BACKEND_HOLD
        }
        Decision::Verdict(action) => {
            if *action >= Action::Audit {
                let local = if *action >= Action::Alert {
                    "alerted"
                } else {
                    "audited"
                };
                event(local, &insp, serde_json::Value::Null);
            }
            print_with(&inner, env, job, &data, cfg)
        }
        Decision::Uninspectable(why) => {
            let fallback = cfg.print.on_timeout;
            let (n, _) = event(
                "uninspectable",
                &insp,
                json!({ "why": why, "fallback": fallback_name(fallback) }),
            );
            tracing::warn!(job = %job.job, "print job not inspected: {why}");
            match fallback {
                PrintFallback::Cancel => {
                    say(
                        "ERROR",
                        &format!("无法完成保密检查，已取消打印 ({n}): {why}"),
                    );
                    CUPS_BACKEND_CANCEL
                }
                PrintFallback::Print => {
                    say(
                        "WARNING",
                        &format!("无法完成保密检查，按配置继续打印 ({n}): {why}"),
                    );
                    print_with(&inner, env, job, &data, cfg)
                }
            }
        }
    }
}

fn fallback_name(f: PrintFallback) -> &'static str {
    match f {
        PrintFallback::Cancel => "cancel",
        PrintFallback::Print => "print",
    }
}

/// `BM-` and the first eight characters of the event id: the backend works offline, so the
/// server's incident number (`BM-YYYYMMDD-NNNNNN`) is not known yet; the server keeps the
/// event id with the incident, and the eight characters find it.
pub fn short_number(event_id: &str) -> String {
    let head: String = event_id.chars().filter(|c| *c != '-').take(8).collect();
    format!("BM-{head}")
}

/// Inspect on a thread and give up at `limit` (plus a little for the engine's own time
/// limit, set to the same figure, to end it first and say what it read).
fn inspect_with_deadline(
    engine: Arc<Engine>,
    path: PathBuf,
    title: String,
    limit: Duration,
) -> Inspection {
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(inspect(&engine, &path, &title, started + limit));
    });
    match rx.recv_timeout(limit + Duration::from_secs(5)) {
        Ok(i) => i,
        Err(_) => Inspection {
            decision: Decision::Uninspectable(format!(
                "inspection took longer than print.inspect_timeout_secs ({} s)",
                limit.as_secs()
            )),
            report: None,
            read_as: "unknown",
        },
    }
}

/// What the job's first bytes say it is, before the engine looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobKind {
    PostScript,
    /// A printer language the engine cannot read text from (named).
    PrinterLanguage(&'static str),
    /// Anything else: the engine decides (PDF, text, images …).
    Other,
}

fn job_kind(head: &[u8]) -> JobKind {
    // PJL (HP's job language) wraps PostScript, PCL or PDF: skip its lines to the payload.
    let mut body = head;
    if let Some(rest) = body.strip_prefix(b"\x1b%-12345X") {
        body = rest;
        while body.starts_with(b"@PJL") {
            match body.iter().position(|b| *b == b'\n') {
                Some(i) => body = &body[i + 1..],
                None => return JobKind::PrinterLanguage("PJL"),
            }
        }
    }
    if body.starts_with(b"%!")
        || body.starts_with(b"\x04%!")
        || body.starts_with(b"\xc5\xd0\xd3\xc6")
    {
        return JobKind::PostScript;
    }
    if body.starts_with(b"%PDF") || head.starts_with(b"%PDF") {
        return JobKind::Other;
    }
    if body.starts_with(b"RaS2")
        || body.starts_with(b"RaS3")
        || body.starts_with(b"3SaR")
        || body.starts_with(b"2SaR")
    {
        return JobKind::PrinterLanguage("CUPS/PWG raster");
    }
    if body.starts_with(b"UNIRAST") {
        return JobKind::PrinterLanguage("Apple raster (URF)");
    }
    if body.starts_with(b"\x1bE") || body.starts_with(b"\x1b&") || body.starts_with(b"\x1b*") {
        return JobKind::PrinterLanguage("PCL");
    }
    if body.starts_with(b") HP-PCL XL") || body.starts_with(b"\x27 HP-PCL XL") {
        return JobKind::PrinterLanguage("PCL XL");
    }
    if body.starts_with(b"\x1b%-12345X") || body.starts_with(b"\x1b") {
        return JobKind::PrinterLanguage("an escape-code printer language");
    }
    JobKind::Other
}

/// The engine's name for the job: its title with the extension of what the job is (`报告.docx`
/// printed is PDF by now, and a title often has no extension at all), so the type is never
/// taken for a disguise.
fn object_name(title: &str, kind: FileType) -> String {
    let ext = match kind {
        FileType::Text => "txt",
        FileType::Jpeg => "jpg",
        FileType::Tiff => "tif",
        other => other.as_str(),
    };
    format!("{}.{ext}", title_stem(title))
}

/// The title without its extension.
fn title_stem(title: &str) -> String {
    match title.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty()
                && (1..=5).contains(&ext.len())
                && ext.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            stem.to_owned()
        }
        _ => title.to_owned(),
    }
}

fn inspect(engine: &Engine, path: &Path, title: &str, deadline: Instant) -> Inspection {
    let head = match read_head(path, 4096) {
        Ok(h) => h,
        Err(e) => {
            return Inspection {
                decision: Decision::Uninspectable(format!("the job cannot be read: {e}")),
                report: None,
                read_as: "unknown",
            };
        }
    };
    match job_kind(&head) {
        JobKind::PrinterLanguage(lang) => Inspection {
            decision: Decision::Uninspectable(format!(
                "the job is in {lang}, which Baomi cannot read (use a PostScript or PDF driver for this queue)"
            )),
            report: None,
            read_as: lang,
        },
        JobKind::PostScript => {
            inspect_postscript(engine, path, &object_name(title, FileType::Pdf), deadline)
        }
        JobKind::Other => {
            let blob = match Blob::from_path(path) {
                Ok(b) => b,
                Err(e) => {
                    return Inspection {
                        decision: Decision::Uninspectable(format!("the job cannot be read: {e}")),
                        report: None,
                        read_as: "unknown",
                    };
                }
            };
            let name = object_name(title, baomi_extract::sniff::sniff(&blob));
            let report = inspect_blob(engine, blob, &name, deadline);
            Inspection {
                decision: decide(&report),
                read_as: "engine",
                report: Some(report),
            }
        }
    }
}

/// The engine's own wall-time limit (`Limits::max_time`, set to `print.inspect_timeout_secs`
/// when the backend builds it) ends a slow extraction with a `limit` finding, so a slow job
/// is reported as not inspected rather than cut off silently.
fn inspect_blob(engine: &Engine, blob: Blob, name: &str, deadline: Instant) -> ObjectReport {
    if Instant::now() >= deadline {
        return ObjectReport::failed(name.to_owned(), "no time left for inspection".into());
    }
    engine.inspect(blob, name, Channel::Print)
}

/// The verdict, unless the engine could not read the job: then it is uninspectable (a
/// block or hold found in what was read still wins).
fn decide(report: &ObjectReport) -> Decision {
    let action = report.verdict.action;
    if action >= Action::Quarantine {
        return Decision::Verdict(action);
    }
    if let Some(e) = report.errors.first() {
        return Decision::Uninspectable(e.clone());
    }
    if !report.complete {
        return Decision::Uninspectable(
            "a limit stopped the inspection (time, size or memory)".into(),
        );
    }
    if report.true_type == "binary" {
        return Decision::Uninspectable("the job is in a format Baomi cannot read".into());
    }
    let unreadable = report
        .findings
        .iter()
        .any(|f| f.kind == baomi_core::FindingKind::Unreadable);
    if unreadable && report.text_bytes == 0 {
        return Decision::Uninspectable("the job is damaged or unreadable".into());
    }
    Decision::Verdict(action)
}

/// PostScript: Ghostscript writes it as a PDF with its text and, unless that is already a
/// block, as a PDF of page images for OCR; the stronger verdict counts.
fn inspect_postscript(engine: &Engine, path: &Path, name: &str, deadline: Instant) -> Inspection {
    let mut best: Option<(Decision, ObjectReport)> = None;
    for device in ["pdfwrite", "pdfimage8"] {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let pdf = match ghostscript(path, device, remaining) {
            Ok(pdf) => pdf,
            Err(e) => {
                return Inspection {
                    decision: Decision::Uninspectable(format!(
                        "the PostScript job cannot be converted: {e}"
                    )),
                    report: best.map(|(_, r)| r),
                    read_as: "postscript",
                };
            }
        };
        let report = inspect_blob(engine, Blob::from_vec(pdf), name, deadline);
        let decision = decide(&report);
        let stronger = match (&best, &decision) {
            (None, _) => true,
            (Some((Decision::Uninspectable(_), _)), _) => false,
            (Some(_), Decision::Uninspectable(_)) => true,
            (Some((Decision::Verdict(a), _)), Decision::Verdict(b)) => b > a,
        };
        let done = matches!(decision, Decision::Verdict(Action::Block));
        if stronger {
            best = Some((decision, report));
        }
        if done || matches!(best, Some((Decision::Uninspectable(_), _))) {
            break;
        }
    }
    let (decision, report) = best.expect("at least one pass ran");
    Inspection {
        decision,
        report: Some(report),
        read_as: "postscript",
    }
}

/// Ghostscript (`gs`, the program behind `ps2pdf`) under the helper runner's limits, with
/// `-dSAFER` (no file access beyond the job) and the PDF on stdout.
fn ghostscript(path: &Path, device: &str, wall: Duration) -> Result<Vec<u8>, String> {
    if wall.is_zero() {
        return Err("no time left".into());
    }
    let device_arg = format!("-sDEVICE={device}");
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "-q".as_ref(),
        "-dSAFER".as_ref(),
        "-dBATCH".as_ref(),
        "-dNOPAUSE".as_ref(),
        "-sstdout=%stderr".as_ref(),
        device_arg.as_ref(),
    ];
    if device == "pdfimage8" {
        // 150 dpi gray, as the PDF path renders image-only pages for OCR.
        args.push("-r150".as_ref());
    }
    args.extend(["-sOutputFile=-".as_ref(), "-f".as_ref(), path.as_os_str()]);
    let limits = HelperLimits {
        memory: 1 << 30,
        cpu: wall,
        wall,
        max_output: 512 << 20,
    };
    helper::run("gs", "gs", &args, &limits).map_err(|e| e.to_string())
}

fn read_head(path: &Path, n: usize) -> io::Result<Vec<u8>> {
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match f.read(&mut buf[got..])? {
            0 => break,
            k => got += k,
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// BLAKE3 of the job, hex: the key of a hold's approval (a released job must be the job
/// that was held, byte for byte).
fn hash_file(path: &Path) -> io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    let mut f = File::open(path)?;
    io::copy(&mut f, &mut hasher)?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// Run the real backend with the job, as CUPS would have: `$CUPS_SERVERBIN/backend/SCHEME`
/// with argv[0] and `DEVICE_URI` the inner URI, the same arguments, the job as FILE when
/// CUPS gave one (the backend then makes the copies itself) or on stdin; as root only when
/// CUPS would run it as root (no read and execute permission for others), else as `lp`.
/// `file:` devices have no backend (cupsd writes them itself); they are written here.
fn print_with(
    inner: &InnerDevice,
    env: &BackendEnv,
    job: &JobArgs,
    data: &JobData,
    cfg: &AgentConfig,
) -> i32 {
    if inner.scheme == "file" {
        return write_file_device(inner, data, cfg);
    }
    let program = env.server_bin.join("backend").join(&inner.scheme);
    let meta = match fs::metadata(&program) {
        Ok(m) => m,
        Err(e) => {
            say(
                "ERROR",
                &format!("Baomi: no backend for {}: {e}", inner.scheme),
            );
            return CUPS_BACKEND_STOP;
        }
    };
    let mut command = Command::new(&program);
    command
        .arg0(&inner.uri)
        .env("DEVICE_URI", &inner.uri)
        .args([&job.job, &job.user, &job.title, &job.copies, &job.options]);
    use std::os::unix::fs::PermissionsExt;
    let as_root = meta.permissions().mode() & 0o005 != 0o005;
    // SAFETY: getuid has no preconditions.
    if !as_root && unsafe { libc::getuid() } == 0 {
        match lp_ids() {
            Some((uid, gid)) => {
                command.uid(uid).gid(gid);
            }
            None => {
                say("ERROR", "Baomi: no user lp to run the backend as");
                return CUPS_BACKEND_FAILED;
            }
        }
    }
    let mut feeder = None;
    match data {
        JobData::Given(path) => {
            command.arg(path);
        }
        // The backend reads the job from our stdin, which it inherits.
        JobData::Stdin => {}
        JobData::Spooled(spool) => match &spool.overflow {
            None => match File::open(&spool.path) {
                Ok(f) => {
                    command.stdin(Stdio::from(f));
                }
                Err(e) => {
                    say("ERROR", &format!("Baomi: cannot reopen the job: {e}"));
                    return CUPS_BACKEND_FAILED;
                }
            },
            // Too large to spool whole and printed by `on_timeout = "print"`: the spooled
            // part, then the rest straight from our stdin.
            Some(_) => {
                command.stdin(Stdio::piped());
                feeder = Some(());
            }
        },
    }
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            say(
                "ERROR",
                &format!("Baomi: cannot run the {} backend: {e}", inner.scheme),
            );
            return CUPS_BACKEND_FAILED;
        }
    };
    if feeder.is_some()
        && let (Some(mut stdin), JobData::Spooled(spool)) = (child.stdin.take(), data)
    {
        let fed = (|| -> io::Result<()> {
            io::copy(&mut File::open(&spool.path)?, &mut stdin)?;
            if let Some(over) = &spool.overflow {
                stdin.write_all(over)?;
            }
            io::copy(&mut io::stdin().lock(), &mut stdin)?;
            Ok(())
        })();
        if let Err(e) = fed {
            say(
                "WARNING",
                &format!("Baomi: feeding the job to the backend: {e}"),
            );
        }
    }
    match child.wait() {
        Ok(status) => match status.code() {
            Some(code) => code,
            None => {
                say(
                    "ERROR",
                    &format!(
                        "Baomi: the {} backend died (signal {})",
                        inner.scheme,
                        status.signal().unwrap_or(0)
                    ),
                );
                CUPS_BACKEND_FAILED
            }
        },
        Err(e) => {
            say("ERROR", &format!("Baomi: waiting for the backend: {e}"));
            CUPS_BACKEND_FAILED
        }
    }
}

fn lp_ids() -> Option<(u32, u32)> {
    let name = c"lp";
    // SAFETY: getpwnam with a valid C string; the result is read at once, before any other
    // call that could reuse its static buffer.
    unsafe {
        let pw = libc::getpwnam(name.as_ptr());
        if pw.is_null() {
            None
        } else {
            Some(((*pw).pw_uid, (*pw).pw_gid))
        }
    }
}

/// A `file:` device: the job copied to the path. cupsd only accepts such devices with
/// `FileDevice Yes` (`file:///dev/null` always); behind `baomi:/` the same rule is
/// `print.file_device`.
fn write_file_device(inner: &InnerDevice, data: &JobData, cfg: &AgentConfig) -> i32 {
    let path = inner
        .uri
        .strip_prefix("file://")
        .or_else(|| inner.uri.strip_prefix("file:"))
        .unwrap_or_default();
    if path != "/dev/null" && !cfg.print.file_device {
        say(
            "ERROR",
            "Baomi: file: devices other than file:///dev/null need print.file_device = true",
        );
        return CUPS_BACKEND_STOP;
    }
    let copied = (|| -> io::Result<()> {
        let mut out = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        match data {
            JobData::Given(p) => {
                io::copy(&mut File::open(p)?, &mut out)?;
            }
            JobData::Spooled(spool) => {
                io::copy(&mut File::open(&spool.path)?, &mut out)?;
                if let Some(over) = &spool.overflow {
                    out.write_all(over)?;
                    io::copy(&mut io::stdin().lock(), &mut out)?;
                }
            }
            JobData::Stdin => {
                io::copy(&mut io::stdin().lock(), &mut out)?;
            }
        }
        // /dev/null cannot be synced; a regular file must be on disk before CUPS is told.
        if out.metadata()?.is_file() {
            out.sync_all()?;
        }
        Ok(())
    })();
    match copied {
        Ok(()) => CUPS_BACKEND_OK,
        Err(e) => {
            say("ERROR", &format!("Baomi: writing to the file device: {e}"));
            CUPS_BACKEND_FAILED
        }
    }
}

// ---- Hold for approval -------------------------------------------------------------

fn holds_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("print-holds")
}

fn private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

fn safe_job_id(job: &str) -> Option<&str> {
    (!job.is_empty() && job.len() <= 20 && job.bytes().all(|b| b.is_ascii_digit())).then_some(job)
}

/// Remember a held job: its id, its printer, the hash of its bytes, the event's number
/// and id (what the server's decision names).
fn record_hold(
    data_dir: &Path,
    job: &str,
    printer: &str,
    hash: Option<&str>,
    number: &str,
    event_id: &str,
) -> io::Result<()> {
    let Some(job) = safe_job_id(job) else {
        return Err(io::Error::other("not a CUPS job id"));
    };
    let dir = holds_dir(data_dir);
    private_dir(&dir)?;
    let record = json!({
        "job": job, "printer": printer, "sha": hash, "number": number, "event_id": event_id,
        "approved": false,
    });
    fs::write(dir.join(format!("{job}.json")), record.to_string())
}

/// The job was held and an administrator approved it ([`release`]): print it, once. The
/// key is the CUPS job id on this printer: the job's files are CUPS's (root's), so the
/// user cannot change a held job, and the bytes a filter chain hands the backend may
/// differ between runs (dates), so they cannot be the key.
fn take_release(data_dir: &Path, job: &str, printer: &str) -> bool {
    let Some(job) = safe_job_id(job) else {
        return false;
    };
    let path = holds_dir(data_dir).join(format!("{job}.json"));
    let Ok(text) = fs::read_to_string(&path) else {
        return false;
    };
    let Ok(record) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    let approved = record["approved"] == json!(true) && record["printer"] == json!(printer);
    if approved {
        let _ = fs::remove_file(&path);
    }
    approved
}

/// Approve a held job (run as root by the security officer, after deciding): the next run
/// of the backend for this job prints it without inspecting it again. CUPS must then be
/// told to resume the job (`lp -i JOB -H resume`). Returns the event number the hold was
/// recorded under.
pub fn release(data_dir: &Path, job: &str) -> anyhow::Result<String> {
    let Some(job) = safe_job_id(job) else {
        anyhow::bail!("not a CUPS job id: {job:?}");
    };
    let path = holds_dir(data_dir).join(format!("{job}.json"));
    let text = fs::read_to_string(&path)
        .map_err(|e| anyhow::anyhow!("job {job} is not held by Baomi here ({e})"))?;
    let mut record: serde_json::Value = serde_json::from_str(&text)?;
    record["approved"] = json!(true);
    fs::write(&path, record.to_string())?;
    Ok(record["number"].as_str().unwrap_or_default().to_owned())
}

/// The held job an event id names: its CUPS job id.
fn held_job_of_event(data_dir: &Path, event_id: &str) -> Option<String> {
    let entries = fs::read_dir(holds_dir(data_dir)).ok()?;
    for e in entries.flatten() {
        let Ok(text) = fs::read_to_string(e.path()) else {
            continue;
        };
        let Ok(record) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if record["event_id"] == json!(event_id) {
            return record["job"].as_str().map(str::to_owned);
        }
    }
    None
}

/// Run a CUPS client tool (`lp`, `cancel`) against the local cupsd (`CUPS_SERVER`, when
/// set, as every CUPS client reads it). A tool still running after 30 s (a cupsd that does
/// not answer) is killed: the decision is reported as not carried out rather than keeping
/// the agent's decision thread waiting for ever.
fn cups_tool(program: &str, args: &[&str]) -> Result<(), String> {
    const LIMIT: Duration = Duration::from_secs(30);
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < LIMIT => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{program} {}: no answer within 30 s",
                    args.join(" ")
                ));
            }
            Err(e) => return Err(format!("{program}: {e}")),
        }
    };
    if status.success() {
        return Ok(());
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    Err(format!("{program} {}: {}", args.join(" "), err.trim()))
}

/// Carry out the security officer's decision on the job held under `event_id` (fetched
/// from the server by the agent): `release` approves the job once ([`release`]) and
/// resumes it in CUPS (`lp -i JOB -H resume`: cupsd runs the job again, the backend prints
/// it without inspecting it again); `cancel` cancels it in CUPS (`cancel JOB`) and forgets
/// the hold. Returns what was done, or why it could not be (the outcome the server keeps).
pub fn carry_out(data_dir: &Path, event_id: &str, decision: &str) -> Result<String, String> {
    let job = held_job_of_event(data_dir, event_id)
        .ok_or_else(|| format!("no job is held here under event {event_id}"))?;
    match decision {
        "release" => {
            release(data_dir, &job).map_err(|e| format!("{e:#}"))?;
            cups_tool("lp", &["-i", &job, "-H", "resume"])?;
            Ok(format!("released: job {job} resumed"))
        }
        "cancel" => {
            cups_tool("cancel", &[&job])?;
            let _ = fs::remove_file(holds_dir(data_dir).join(format!("{job}.json")));
            Ok(format!("canceled: job {job}"))
        }
        other => Err(format!("unknown decision {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_names_the_held_job_by_its_event() {
        let dir = tempfile::tempdir().unwrap();
        record_hold(
            dir.path(),
            "77",
            "secure",
            None,
            "BM-abcdef12",
            "abcdef12-0000",
        )
        .unwrap();
        assert_eq!(
            held_job_of_event(dir.path(), "abcdef12-0000").as_deref(),
            Some("77")
        );
        assert!(carry_out(dir.path(), "other-event", "release").is_err());
        assert!(carry_out(dir.path(), "abcdef12-0000", "shred").is_err());
    }

    #[test]
    fn the_inner_device_is_what_follows_baomi() {
        let d = InnerDevice::parse("baomi:/ipp://printer.local/ipp/print").unwrap();
        assert_eq!(d.uri, "ipp://printer.local/ipp/print");
        assert_eq!(d.scheme, "ipp");
        assert_eq!(
            InnerDevice::parse("baomi:/cups-pdf:/").unwrap().scheme,
            "cups-pdf"
        );
        assert_eq!(
            InnerDevice::parse("baomi://file:///dev/null").unwrap().uri,
            "file:///dev/null"
        );
        assert!(InnerDevice::parse("baomi:/").is_err());
        assert!(InnerDevice::parse("baomi:/baomi:/ipp://x").is_err());
        assert!(InnerDevice::parse("ipp://x/").is_err());
        assert!(InnerDevice::parse("baomi:/../../bin/sh:x").is_err());
    }

    #[test]
    fn passwords_do_not_leave_the_uri() {
        let d = InnerDevice::parse("baomi:/ipp://alice:s3cret@printer/ipp/print").unwrap();
        assert_eq!(d.display(), "ipp://alice@printer/ipp/print");
        assert!(!d.display().contains("s3cret"));
        assert_eq!(
            strip_password("socket://10.0.0.5:9100"),
            "socket://10.0.0.5:9100"
        );
    }

    #[test]
    fn printer_languages_are_told_from_documents() {
        assert_eq!(job_kind(b"%!PS-Adobe-3.0\n"), JobKind::PostScript);
        assert_eq!(
            job_kind(b"\x1b%-12345X@PJL JOB\r\n@PJL ENTER LANGUAGE=POSTSCRIPT\n%!PS\n"),
            JobKind::PostScript
        );
        assert_eq!(job_kind(b"%PDF-1.7\n"), JobKind::Other);
        assert_eq!(job_kind(b"\x1bE\x1b&l0O"), JobKind::PrinterLanguage("PCL"));
        assert!(matches!(
            job_kind(b"RaS2PwgRaster\0"),
            JobKind::PrinterLanguage(_)
        ));
        assert_eq!(job_kind(b"plain text"), JobKind::Other);
    }

    #[test]
    fn the_number_is_the_event_ids_head() {
        assert_eq!(
            short_number("0b6f1c1e-8a43-4f6e-9f0e-2d6f3f0e9a11"),
            "BM-0b6f1c1e"
        );
    }

    #[test]
    fn titles_get_the_extension_of_what_the_job_is() {
        assert_eq!(object_name("报告.docx", FileType::Pdf), "报告.pdf");
        assert_eq!(
            object_name("关于……的通知（机密）", FileType::Pdf),
            "关于……的通知（机密）.pdf"
        );
        assert_eq!(object_name("v1.2 final", FileType::Text), "v1.2 final.txt");
    }

    #[test]
    fn a_release_prints_the_held_job_once() {
        let dir = std::env::temp_dir().join(format!("baomi-hold-{}", uuid::Uuid::new_v4()));
        record_hold(
            &dir,
            "42",
            "secure",
            Some("abc"),
            "BM-12345678",
            "12345678-e",
        )
        .unwrap();
        assert!(!take_release(&dir, "42", "secure"), "not approved yet");
        assert_eq!(release(&dir, "42").unwrap(), "BM-12345678");
        assert!(
            !take_release(&dir, "42", "other"),
            "another printer's job 42"
        );
        assert!(take_release(&dir, "42", "secure"));
        assert!(!take_release(&dir, "42", "secure"), "once");
        assert!(release(&dir, "../x").is_err());
        let _ = fs::remove_dir_all(&dir);
    }
}
