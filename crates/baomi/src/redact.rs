//! `baomi redact IN -o OUT`: a de-identified copy for publishing (数据脱敏).
//!
//! The work is `baomi_redact::redact`; this only reads, writes and reports. The summary on
//! standard error gives counts per kind and never a value, so the terminal, a CI log or a
//! shell history keeps no personal data.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;

#[derive(Args)]
pub struct RedactArgs {
    /// The document to redact: text, HTML, DOCX or XLSX.
    input: PathBuf,
    /// Where to write the redacted copy (never the input itself).
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
}

pub fn run(args: RedactArgs) -> Result<i32> {
    let RedactArgs { input, output } = args;
    if same_file(&input, &output) {
        bail!(
            "refusing to overwrite the input {}: write the redacted copy elsewhere and keep \
             the original",
            input.display()
        );
    }
    let bytes = fs::read(&input).with_context(|| format!("cannot read {}", input.display()))?;
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A panic message can quote the text it choked on: replace the default hook so a bug
    // can never print personal data to the terminal (the library turns it into an error).
    std::panic::set_hook(Box::new(|_| {
        eprintln!(
            "baomi: internal error while redacting (details withheld: they may quote the document)"
        );
    }));
    let redacted = baomi_redact::redact(&bytes, &name)
        .with_context(|| format!("cannot redact {}", input.display()))?;
    write_atomically(&output, &redacted.bytes)?;

    let mut err = std::io::stderr().lock();
    if redacted.replaced == 0 {
        let _ = writeln!(
            err,
            "未发现个人信息，原样复制 → {} ({})",
            output.display(),
            redacted.format
        );
    } else {
        let kinds: Vec<String> = redacted
            .by_kind
            .iter()
            .map(|(kind, n)| format!("{} {n}", kind.zh()))
            .collect();
        let _ = writeln!(
            err,
            "已脱敏 {} 处：{} → {}",
            redacted.replaced,
            kinds.join("，"),
            output.display()
        );
    }
    if !redacted.not_redacted.is_empty() {
        let _ = writeln!(
            err,
            "注意：以下内容未处理，可能仍含个人信息（图片、嵌入对象），发布前请人工检查："
        );
        for item in &redacted.not_redacted {
            let _ = writeln!(err, "  {item}");
        }
    }
    Ok(0)
}

/// The same file under two names (`a.docx` and `./a.docx`, a hard or symbolic link).
fn same_file(a: &Path, b: &Path) -> bool {
    if a == b {
        return true;
    }
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

/// Write through a temporary file beside `path`, so a failed run leaves no half document.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let tmp = dir.join(format!(".{}.baomi-redact.tmp", file_name.to_string_lossy()));
    fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| {
        let _ = fs::remove_file(&tmp);
        format!("cannot write {}", path.display())
    })
}
