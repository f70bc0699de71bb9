//! The run report: what one self-inspection run (`baomi scan --report-to / --report-file`)
//! hands to the server, over the network or on a USB stick.
//!
//! JSON Lines, UTF-8, one object per line with one key saying what the line is:
//! ```text
//! {"run":  {"format":"baomi-scan-run","version":1,"run_id":…,"person":…,"department":…,
//!           "machine":…,"started_ms":…,"paths":[…],"baomi_version":…}}
//! {"file": {"seq":1,"path":…,"type":…,"size":…,"verdict":…,"findings":[…masked…],
//!           "alerts":false,"level":null,"blake3":null,…}}            one per file
//! {"walk_error": {"path":…,"message":…}}                             one per walk error
//! {"end":  {"finished_ms":…,"files":N,"walk_errors":M,"summary":{…},"exit_code":…,
//!           "digest":<blake3 of every byte before this line>,"mac":<or null>}}
//! ```
//! Findings are masked exactly as `--format json` prints them and no file content is in the
//! report: it may travel on removable media. The `digest` makes a truncated or edited file
//! fail to import as a whole; the `mac`, present when the run was made with a token, is
//! keyed by that token, so an edit cannot be hidden by recomputing the digest without it.
//! Files that reach the alert threshold carry their BLAKE3 hash, so evidence uploaded
//! separately (`--with-evidence`) can be matched to them.

use std::fs::File;
use std::io::{self, BufRead, BufWriter, Read, Write};
use std::path::Path;

use baomi_core::{Action, FindingKind, Level};
use baomi_engine::ObjectReport;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::output::ReportWriter;
use crate::{Summary, WalkError};

pub const FORMAT: &str = "baomi-scan-run";
pub const VERSION: u32 = 1;

/// Who ran the scan, where, and over what.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunHeader {
    pub format: String,
    pub version: u32,
    /// Chosen by the scanning machine (random), so importing the same run twice is noticed.
    pub run_id: String,
    pub person: Option<String>,
    pub department: Option<String>,
    pub machine: String,
    pub started_ms: i64,
    pub paths: Vec<String>,
    #[serde(default)]
    pub baomi_version: String,
}

/// One scanned file, as the server keeps it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunFile {
    pub seq: u64,
    pub path: String,
    #[serde(rename = "type", default)]
    pub true_type: String,
    #[serde(default)]
    pub size: u64,
    pub verdict: Action,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub rules: Vec<String>,
    /// The highest classification level among the file's markings.
    #[serde(default)]
    pub level: Option<Level>,
    /// Masked findings, as `--format json` prints them.
    #[serde(default)]
    pub findings: Vec<Value>,
    #[serde(default)]
    pub errors: Vec<String>,
    /// The verdict reached the scanning policy's alert threshold.
    #[serde(default)]
    pub alerts: bool,
    /// BLAKE3 of the file's bytes, for files that alert.
    #[serde(default)]
    pub blake3: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunEnd {
    pub finished_ms: i64,
    pub files: u64,
    #[serde(default)]
    pub walk_errors: u64,
    pub summary: Value,
    pub exit_code: i32,
    pub digest: String,
    #[serde(default)]
    pub mac: Option<String>,
}

/// A run read back and checked: the header, every file that has a finding, an error or an
/// alert (clean files are only counted), and the end line.
#[derive(Debug, Clone)]
pub struct Run {
    pub header: RunHeader,
    pub flagged: Vec<RunFile>,
    pub clean_files: u64,
    pub walk_errors: Vec<(String, String)>,
    pub end: RunEnd,
}

/// Why a report file cannot be imported. Nothing of it is imported then.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("not a Baomi scan report: {0}")]
    NotARun(String),
    #[error("scan report version {0} is newer than this Baomi reads (1)")]
    Version(u32),
    #[error("the scan report is truncated: {0}")]
    Truncated(String),
    #[error("the scan report was changed after it was written ({0})")]
    Altered(String),
    #[error("reading the scan report: {0}")]
    Io(#[from] io::Error),
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The MAC key of a token: derived from the token's stored hash (BLAKE3 of the token, in
/// hex), so the server, which keeps only that hash, can check it.
pub fn mac_key(token_hash_hex: &str) -> [u8; 32] {
    blake3::derive_key("baomi scan-run mac v1", token_hash_hex.as_bytes())
}

/// The token's stored hash, as `baomi-store` computes it.
pub fn token_hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

fn mac(key: &[u8; 32], digest: &str) -> String {
    blake3::keyed_hash(key, digest.as_bytes())
        .to_hex()
        .to_string()
}

impl Run {
    /// Whether the run's MAC was made with the token whose stored hash is given.
    pub fn signed_by(&self, token_hash_hex: &str) -> bool {
        match &self.end.mac {
            Some(m) => {
                let expected = mac(&mac_key(token_hash_hex), &self.end.digest);
                // Both are hex of fixed length; a constant-time compare is cheap.
                expected.len() == m.len()
                    && expected
                        .bytes()
                        .zip(m.bytes())
                        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                        == 0
            }
            None => false,
        }
    }

    /// Read and check a report: the first line must be a run header, the last an end line
    /// whose digest covers every byte before it and whose counts match what was read.
    pub fn read(input: impl Read) -> Result<Run, RunError> {
        let mut reader = io::BufReader::new(input);
        let mut hasher = blake3::Hasher::new();
        let mut line = Vec::new();
        let mut header: Option<RunHeader> = None;
        let mut flagged = Vec::new();
        let mut clean_files = 0u64;
        let mut walk_errors = Vec::new();
        let mut number = 0u64;
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line)?;
            if n == 0 {
                return Err(RunError::Truncated(format!(
                    "no end line after {number} lines"
                )));
            }
            number += 1;
            let value: Value = serde_json::from_slice(&line).map_err(|e| {
                if line.last() != Some(&b'\n') {
                    RunError::Truncated(format!("line {number} is cut off"))
                } else if number == 1 {
                    RunError::NotARun(format!("line 1 is not JSON ({e})"))
                } else {
                    RunError::Altered(format!("line {number} is not JSON: {e}"))
                }
            })?;
            let Value::Object(mut map) = value else {
                return Err(RunError::NotARun(format!("line {number} is not an object")));
            };
            if number == 1 {
                let h = map
                    .remove("run")
                    .ok_or_else(|| RunError::NotARun("line 1 has no \"run\" header".into()))?;
                let h: RunHeader = serde_json::from_value(h)
                    .map_err(|e| RunError::NotARun(format!("header: {e}")))?;
                if h.format != FORMAT {
                    return Err(RunError::NotARun(format!("format {:?}", h.format)));
                }
                if h.version > VERSION {
                    return Err(RunError::Version(h.version));
                }
                header = Some(h);
                hasher.update(&line);
                continue;
            }
            if let Some(end) = map.remove("end") {
                let end: RunEnd = serde_json::from_value(end)
                    .map_err(|e| RunError::Altered(format!("end line: {e}")))?;
                let digest = hasher.finalize().to_hex().to_string();
                if digest != end.digest {
                    return Err(RunError::Altered("digest mismatch".into()));
                }
                let read = clean_files + flagged.len() as u64;
                if read != end.files || walk_errors.len() as u64 != end.walk_errors {
                    return Err(RunError::Altered(format!(
                        "{read} files listed, the end line says {}",
                        end.files
                    )));
                }
                let mut rest = Vec::new();
                reader.read_to_end(&mut rest)?;
                if rest.iter().any(|b| !b.is_ascii_whitespace()) {
                    return Err(RunError::Altered("text after the end line".into()));
                }
                let header = header.expect("line 1 was the header");
                return Ok(Run {
                    header,
                    flagged,
                    clean_files,
                    walk_errors,
                    end,
                });
            }
            hasher.update(&line);
            if let Some(file) = map.remove("file") {
                let file: RunFile = serde_json::from_value(file)
                    .map_err(|e| RunError::Altered(format!("line {number}: {e}")))?;
                if file.findings.is_empty() && file.errors.is_empty() && !file.alerts {
                    clean_files += 1;
                } else {
                    flagged.push(file);
                }
            } else if let Some(w) = map.remove("walk_error") {
                let text = |k: &str| w.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                walk_errors.push((text("path"), text("message")));
            } else {
                return Err(RunError::Altered(format!("line {number}: unknown record")));
            }
        }
    }
}

/// Writes the run report while the scan runs, beside the ordinary output.
pub struct RunWriter {
    out: BufWriter<File>,
    hasher: blake3::Hasher,
    mac_key: Option<[u8; 32]>,
    seq: u64,
    files: u64,
    walk_errors: u64,
    error: Option<io::Error>,
    /// (path, BLAKE3) of the files that block, for `--with-evidence`.
    blocking: Vec<(String, String)>,
}

impl RunWriter {
    /// Start a report at `path` (created, or truncated) with its header. `token`, when the
    /// run has one, keys the MAC.
    pub fn create(path: &Path, header: &RunHeader, token: Option<&str>) -> io::Result<RunWriter> {
        let file = File::create(path)?;
        let mut w = RunWriter {
            out: BufWriter::new(file),
            hasher: blake3::Hasher::new(),
            mac_key: token.map(|t| mac_key(&token_hash(t))),
            seq: 0,
            files: 0,
            walk_errors: 0,
            error: None,
            blocking: Vec::new(),
        };
        w.line(&json!({ "run": header }))?;
        Ok(w)
    }

    fn line(&mut self, v: &Value) -> io::Result<()> {
        let mut bytes = serde_json::to_vec(v).map_err(io::Error::other)?;
        bytes.push(b'\n');
        self.hasher.update(&bytes);
        self.out.write_all(&bytes)
    }

    /// Add one file's report (masked, without content).
    pub fn file(&mut self, report: &ObjectReport, alerts: bool) -> io::Result<()> {
        self.seq += 1;
        self.files += 1;
        let mut v = report.to_json(false);
        let level = report
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::Marking)
            .filter_map(|f| f.level)
            .max();
        v["seq"] = json!(self.seq);
        v["alerts"] = json!(alerts);
        v["level"] = json!(level);
        if alerts {
            let hash = file_hash(Path::new(&report.path)).ok();
            if let Some(h) = &hash
                && report.verdict.action >= Action::Quarantine
            {
                self.blocking.push((report.path.clone(), h.clone()));
            }
            v["blake3"] = json!(hash);
        }
        self.line(&json!({ "file": v }))
    }

    /// Add an entry that is not a scanned file but has a file's shape (`path`, `type`,
    /// `verdict`, masked `findings`, …): `baomi traces` sends each trace this way, so the
    /// server records it as it records a file, without a second format.
    pub fn entry(&mut self, mut v: Value, alerts: bool) -> io::Result<()> {
        self.seq += 1;
        self.files += 1;
        v["seq"] = json!(self.seq);
        v["alerts"] = json!(alerts);
        if v.get("level").is_none() {
            v["level"] = Value::Null;
        }
        self.line(&json!({ "file": v }))
    }

    pub fn walk_error(&mut self, error: &WalkError) -> io::Result<()> {
        self.walk_errors += 1;
        self.line(&json!({"walk_error": {"path": error.path, "message": error.message}}))
    }

    /// Write the end line and flush; the report is complete only after this. Returns the
    /// files that block, as (path, BLAKE3).
    pub fn finish(
        mut self,
        summary: &Summary,
        finished_ms: i64,
    ) -> io::Result<Vec<(String, String)>> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let digest = self.hasher.finalize().to_hex().to_string();
        let mac = self.mac_key.map(|k| mac(&k, &digest));
        let end = json!({"end": {
            "finished_ms": finished_ms,
            "files": self.files,
            "walk_errors": self.walk_errors,
            "summary": summary,
            "exit_code": summary.exit_code(),
            "digest": digest,
            "mac": mac,
        }});
        let mut bytes = serde_json::to_vec(&end).map_err(io::Error::other)?;
        bytes.push(b'\n');
        self.out.write_all(&bytes)?;
        self.out.flush()?;
        self.out.get_ref().sync_all()?;
        Ok(self.blocking)
    }
}

/// BLAKE3 of a file's bytes, in hex.
pub fn file_hash(path: &Path) -> io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    hasher.update_reader(File::open(path)?)?;
    Ok(hasher.finalize().to_hex().to_string())
}

/// A [`ReportWriter`] that feeds the ordinary output and the run report alike.
pub struct Tee<'a> {
    pub output: &'a mut dyn ReportWriter,
    pub run: &'a mut RunWriter,
}

impl ReportWriter for Tee<'_> {
    fn report(&mut self, report: &ObjectReport, alerts: bool) -> io::Result<()> {
        if self.run.error.is_none()
            && let Err(e) = self.run.file(report, alerts)
        {
            self.run.error = Some(e);
        }
        self.output.report(report, alerts)
    }

    fn walk_error(&mut self, error: &WalkError) -> io::Result<()> {
        if self.run.error.is_none()
            && let Err(e) = self.run.walk_error(error)
        {
            self.run.error = Some(e);
        }
        self.output.walk_error(error)
    }

    fn finish(&mut self, summary: &Summary) -> io::Result<()> {
        self.output.finish(summary)
    }
}

/// A random run id (128 bits, hex), from the OS.
pub fn new_run_id() -> io::Result<String> {
    let mut bytes = [0u8; 16];
    File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(to_hex(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> RunHeader {
        RunHeader {
            format: FORMAT.into(),
            version: VERSION,
            run_id: "r1".into(),
            person: Some("张三".into()),
            department: Some("办公室".into()),
            machine: "BGS-PC01".into(),
            started_ms: 1,
            paths: vec!["/home".into()],
            baomi_version: "test".into(),
        }
    }

    fn write(token: Option<&str>) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run.jsonl");
        let mut w = RunWriter::create(&p, &header(), token).unwrap();
        w.walk_error(&WalkError {
            path: "/x".into(),
            message: "denied".into(),
        })
        .unwrap();
        w.finish(&Summary::default(), 2).unwrap();
        std::fs::read(p).unwrap()
    }

    #[test]
    fn reads_back_what_it_wrote() {
        let bytes = write(Some("tok"));
        let run = Run::read(&bytes[..]).unwrap();
        assert_eq!(run.header, header());
        assert_eq!(run.walk_errors.len(), 1);
        assert!(run.signed_by(&token_hash("tok")));
        assert!(!run.signed_by(&token_hash("other")));
        assert!(
            !Run::read(&write(None)[..])
                .unwrap()
                .signed_by(&token_hash("tok"))
        );
    }

    #[test]
    fn truncation_and_edits_are_refused() {
        let bytes = write(None);
        for cut in [0, 10, bytes.len() / 2, bytes.len() - 2] {
            let err = Run::read(&bytes[..cut]).unwrap_err();
            assert!(
                matches!(err, RunError::Truncated(_) | RunError::NotARun(_)),
                "cut at {cut}: {err}"
            );
        }
        let text = String::from_utf8(bytes)
            .unwrap()
            .replace("denied", "dENIED");
        assert!(matches!(
            Run::read(text.as_bytes()).unwrap_err(),
            RunError::Altered(_)
        ));
    }
}
