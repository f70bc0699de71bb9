//! Archives and compression, on files made at test time with the real tools (zip, 7zz, tar,
//! gzip, bzip2, xz, zstd, python3 zipfile). RAR archives come from the unrar crate's own
//! test data (tests/fixtures/rar): no `rar` tool exists to make them here.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use baomi_core::{Finding, FindingKind, PartRole};
use baomi_extract::{Blob, ExtractSummary, Limits, extract};

mod common;
use common::Collect;

impl Collect {
    /// Paths of the name parts: one per object opened, in the order they were opened.
    fn names(&self) -> Vec<&str> {
        self.parts
            .iter()
            .filter(|p| p.role == PartRole::Name)
            .map(|p| p.path.as_str())
            .collect()
    }

    fn of_kind(&self, kind: FindingKind) -> Vec<&Finding> {
        self.findings.iter().filter(|f| f.kind == kind).collect()
    }

    /// Unreadable findings raised by the archive layers (not by leaf formats that other
    /// modules own, such as plain text).
    fn archive_unreadable(&self) -> Vec<&Finding> {
        self.of_kind(FindingKind::Unreadable)
            .into_iter()
            .filter(|f| !f.reason.starts_with("text:"))
            .collect()
    }
}

fn scan_with(path: &Path, limits: &Limits) -> (Collect, ExtractSummary) {
    let mut sink = Collect::default();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let blob = Blob::from_path(path).expect("test file exists");
    let summary = extract(blob, name, limits, &mut sink);
    (sink, summary)
}

fn scan(path: &Path) -> (Collect, ExtractSummary) {
    scan_with(path, &Limits::default())
}

/// Run a shell command in `dir` and insist that it worked.
fn sh(dir: &Path, script: &str) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("sh runs");
    assert!(
        out.status.success(),
        "`{script}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(dir: &Path, rel: &str, content: &str) {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(path, content).expect("write");
}

/// A scratch directory with `a.txt` and `inner/file.txt`.
fn sample_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a.txt", "公开内容\n");
    write(dir.path(), "inner/file.txt", "机密★5年\n");
    dir
}

fn sevenzip() -> &'static str {
    for tool in ["7zz", "7z"] {
        if Command::new(tool).arg("i").output().is_ok() {
            return tool;
        }
    }
    panic!("neither 7zz nor 7z is installed");
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/rar")
        .join(name)
}

#[test]
fn zip_entries_in_order_with_nested_paths() {
    let dir = sample_tree();
    sh(dir.path(), "zip -qr outer.zip a.txt inner");
    let (c, summary) = scan(&dir.path().join("outer.zip"));
    assert_eq!(
        c.names(),
        ["outer.zip", "outer.zip/a.txt", "outer.zip/inner/file.txt"]
    );
    assert_eq!(summary.true_type.as_str(), "zip");
    assert!(summary.complete);
    assert!(c.archive_unreadable().is_empty(), "{:?}", c.findings);
    assert!(c.of_kind(FindingKind::TypeMismatch).is_empty());
    // Both entries were inflated: 13 + 14 bytes of UTF-8.
    assert_eq!(summary.expanded_bytes, 27);
}

#[test]
fn zipcrypto_entry_is_encrypted_not_opened() {
    let dir = sample_tree();
    write(dir.path(), "机密名单.txt", "x\n");
    sh(dir.path(), "zip -q -e -P pw enc.zip a.txt 机密名单.txt");
    let (c, summary) = scan(&dir.path().join("enc.zip"));
    let enc = c.of_kind(FindingKind::Encrypted);
    assert_eq!(enc.len(), 2, "{:?}", c.findings);
    assert_eq!(enc[0].part, "enc.zip/a.txt");
    assert_eq!(enc[0].reason, "zip entry encrypted (ZipCrypto)");
    assert_eq!(enc[1].part, "enc.zip/机密名单.txt");
    // The names are still checked, the content never read.
    assert!(c.names().contains(&"enc.zip/机密名单.txt"));
    assert_eq!(summary.expanded_bytes, 0);
    assert!(c.archive_unreadable().is_empty(), "{:?}", c.findings);
}

#[test]
fn aes_zip_entry_is_encrypted_with_its_method() {
    let dir = sample_tree();
    let tool = sevenzip();
    sh(
        dir.path(),
        &format!("{tool} a -bso0 -tzip -ppw -mem=AES256 aes.zip a.txt"),
    );
    let (c, _) = scan(&dir.path().join("aes.zip"));
    let enc = c.of_kind(FindingKind::Encrypted);
    assert_eq!(enc.len(), 1, "{:?}", c.findings);
    assert_eq!(enc[0].part, "aes.zip/a.txt");
    assert_eq!(enc[0].reason, "zip entry encrypted (AES-256)");
}

#[test]
fn gbk_names_without_utf8_flag_are_decoded() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Python's zipfile writes the cp936 bytes as the name without the UTF-8 flag, as Chinese
    // Windows tools do.
    sh(
        dir.path(),
        r#"python3 - <<'EOF'
import zipfile
class GbkInfo(zipfile.ZipInfo):
    def _encodeFilenameFlags(self):
        return self.filename.encode('cp936'), self.flag_bits
with zipfile.ZipFile('gbk.zip', 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr(GbkInfo('绝密/关于机密事项的通知.txt'), '内容'.encode('utf-8'))
with zipfile.ZipFile('gbk.zip') as z:
    assert z.infolist()[0].flag_bits & 0x800 == 0
EOF"#,
    );
    let (c, _) = scan(&dir.path().join("gbk.zip"));
    assert_eq!(
        c.names(),
        ["gbk.zip", "gbk.zip/绝密/关于机密事项的通知.txt"]
    );
}

#[test]
fn truncated_zip_is_unreadable() {
    let dir = sample_tree();
    sh(dir.path(), "zip -qr full.zip a.txt inner");
    let full = fs::read(dir.path().join("full.zip")).expect("read");
    let cut = dir.path().join("cut.zip");
    fs::write(&cut, &full[..full.len() / 2]).expect("write");
    let (c, summary) = scan(&cut);
    assert_eq!(summary.true_type.as_str(), "zip");
    let bad = c.archive_unreadable();
    assert_eq!(bad.len(), 1, "{:?}", c.findings);
    assert_eq!(bad[0].part, "cut.zip");
    assert!(bad[0].reason.starts_with("zip:"), "{}", bad[0].reason);
}

#[test]
fn corrupt_entry_is_unreadable_and_the_next_entry_still_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "first.txt", &"第一个文件的内容。".repeat(400));
    write(dir.path(), "second.txt", "second\n");
    sh(dir.path(), "zip -q two.zip first.txt second.txt");
    let mut bytes = fs::read(dir.path().join("two.zip")).expect("read");
    // Local header of the first entry: 30 fixed bytes, then the name and extra field.
    let name_len = u16::from_le_bytes([bytes[26], bytes[27]]) as usize;
    let extra_len = u16::from_le_bytes([bytes[28], bytes[29]]) as usize;
    let data = 30 + name_len + extra_len;
    for b in &mut bytes[data + 10..data + 40] {
        *b ^= 0x5A;
    }
    let path = dir.path().join("two.zip");
    fs::write(&path, bytes).expect("write");
    let (c, _) = scan(&path);
    let bad = c.archive_unreadable();
    assert_eq!(bad.len(), 1, "{:?}", c.findings);
    assert_eq!(bad[0].part, "two.zip/first.txt");
    assert!(c.names().contains(&"two.zip/second.txt"), "{:?}", c.names());
}

#[test]
fn sevenz_plain_and_solid() {
    let dir = sample_tree();
    for i in 0..5 {
        write(
            dir.path(),
            &format!("many/f{i}.txt"),
            &"内容".repeat(100 + i),
        );
    }
    let tool = sevenzip();
    sh(
        dir.path(),
        &format!("{tool} a -bso0 -ms=on s.7z a.txt inner many"),
    );
    let (c, summary) = scan(&dir.path().join("s.7z"));
    assert_eq!(summary.true_type.as_str(), "7z");
    let names = c.names();
    assert!(names.contains(&"s.7z/a.txt"), "{names:?}");
    assert!(names.contains(&"s.7z/inner/file.txt"), "{names:?}");
    for i in 0..5 {
        let want = format!("s.7z/many/f{i}.txt");
        assert!(names.contains(&want.as_str()), "{names:?}");
    }
    // No directory entries.
    assert!(!names.contains(&"s.7z/inner"));
    assert!(c.archive_unreadable().is_empty(), "{:?}", c.findings);
    let want: u64 = 27 + (0..5).map(|i| 6 * (100 + i)).sum::<u64>();
    assert_eq!(summary.expanded_bytes, want);
}

#[test]
fn sevenz_encrypted_content_reports_each_entry() {
    let dir = sample_tree();
    let tool = sevenzip();
    sh(
        dir.path(),
        &format!("{tool} a -bso0 -ppw enc.7z a.txt inner"),
    );
    let (c, summary) = scan(&dir.path().join("enc.7z"));
    let mut parts: Vec<&str> = c
        .of_kind(FindingKind::Encrypted)
        .iter()
        .map(|f| f.part.as_str())
        .collect();
    parts.sort();
    assert_eq!(parts, ["enc.7z/a.txt", "enc.7z/inner/file.txt"]);
    assert_eq!(summary.expanded_bytes, 0);
    assert!(c.archive_unreadable().is_empty(), "{:?}", c.findings);
}

#[test]
fn sevenz_encrypted_headers() {
    let dir = sample_tree();
    let tool = sevenzip();
    sh(
        dir.path(),
        &format!("{tool} a -bso0 -ppw -mhe=on hdr.7z a.txt"),
    );
    let (c, _) = scan(&dir.path().join("hdr.7z"));
    let enc = c.of_kind(FindingKind::Encrypted);
    assert_eq!(enc.len(), 1, "{:?}", c.findings);
    assert_eq!(enc[0].part, "hdr.7z");
    assert_eq!(enc[0].reason, "7z archive with encrypted headers");
}

#[test]
fn tar_long_names_gnu_and_pax() {
    let dir = tempfile::tempdir().expect("tempdir");
    let long = format!("{}/{}", "目录".repeat(30), "很长的文件名".repeat(10));
    assert!(long.len() > 100);
    write(dir.path(), &format!("{long}.txt"), "x\n");
    write(dir.path(), "short.txt", "y\n");
    for format in ["gnu", "pax"] {
        sh(
            dir.path(),
            &format!("tar --format={format} -cf {format}.tar short.txt 目录*"),
        );
        let name = format!("{format}.tar");
        let (c, summary) = scan(&dir.path().join(&name));
        assert_eq!(summary.true_type.as_str(), "tar");
        assert_eq!(
            c.names(),
            [
                name.clone(),
                format!("{name}/short.txt"),
                format!("{name}/{long}.txt")
            ],
            "{format}"
        );
        assert!(c.archive_unreadable().is_empty(), "{:?}", c.findings);
    }
}

#[test]
fn single_stream_compressors() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a.txt", &"机密文件 ".repeat(1000));
    sh(
        dir.path(),
        "gzip -kc a.txt > a.txt.gz && bzip2 -kc a.txt > a.txt.bz2 && xz -kc a.txt > a.txt.xz \
         && zstd -qc a.txt > a.txt.zst",
    );
    for (file, ty) in [
        ("a.txt.gz", "gzip"),
        ("a.txt.bz2", "bzip2"),
        ("a.txt.xz", "xz"),
        ("a.txt.zst", "zstd"),
    ] {
        let (c, summary) = scan(&dir.path().join(file));
        assert_eq!(summary.true_type.as_str(), ty);
        assert_eq!(c.names(), [file.to_owned(), format!("{file}/a.txt")]);
        assert_eq!(summary.expanded_bytes, 13_000, "{file}");
        assert!(
            c.archive_unreadable().is_empty(),
            "{file}: {:?}",
            c.findings
        );
    }
}

#[test]
fn multi_member_gzip_is_read_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "p1", "first part\n");
    write(dir.path(), "p2", "second part\n");
    sh(dir.path(), "gzip -c p1 > m.gz && gzip -c p2 >> m.gz");
    let (c, summary) = scan(&dir.path().join("m.gz"));
    assert_eq!(c.names(), ["m.gz", "m.gz/m"]);
    assert_eq!(summary.expanded_bytes, 23);
}

#[test]
fn truncated_gzip_keeps_what_it_decoded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text: String = (0..20_000).map(|i| format!("第{i}行\n")).collect();
    write(dir.path(), "big.txt", &text);
    sh(dir.path(), "gzip -k big.txt");
    let full = fs::read(dir.path().join("big.txt.gz")).expect("read");
    let cut = dir.path().join("big.txt.gz");
    fs::write(&cut, &full[..full.len() * 3 / 4]).expect("write");
    let (c, summary) = scan(&cut);
    assert!(summary.expanded_bytes > 0);
    assert!(c.names().contains(&"big.txt.gz/big.txt"));
    let bad = c.archive_unreadable();
    assert_eq!(bad.len(), 1, "{:?}", c.findings);
    assert_eq!(bad[0].part, "big.txt.gz");
    assert!(
        bad[0].reason.contains("truncated or corrupt"),
        "{}",
        bad[0].reason
    );
}

#[test]
fn garbage_after_gzip_magic_is_unreadable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.gz");
    fs::write(&path, b"\x1f\x8b\x08\x00garbage garbage garbage").expect("write");
    let (c, summary) = scan(&path);
    assert_eq!(summary.expanded_bytes, 0);
    let bad = c.archive_unreadable();
    assert_eq!(bad.len(), 1, "{:?}", c.findings);
    assert!(bad[0].reason.starts_with("gzip:"), "{}", bad[0].reason);
}

#[test]
fn zip_in_tar_in_gzip() {
    let dir = sample_tree();
    sh(
        dir.path(),
        "zip -qr inner.zip inner && tar -cf bundle.tar inner.zip a.txt && gzip bundle.tar",
    );
    let (c, _) = scan(&dir.path().join("bundle.tar.gz"));
    assert_eq!(
        c.names(),
        [
            "bundle.tar.gz",
            "bundle.tar.gz/bundle.tar",
            "bundle.tar.gz/bundle.tar/inner.zip",
            "bundle.tar.gz/bundle.tar/inner.zip/inner/file.txt",
            "bundle.tar.gz/bundle.tar/a.txt",
        ]
    );
    assert!(c.archive_unreadable().is_empty(), "{:?}", c.findings);
}

#[test]
fn tgz_child_is_named_tar() {
    let dir = sample_tree();
    sh(dir.path(), "tar -czf x.tgz a.txt");
    let (c, _) = scan(&dir.path().join("x.tgz"));
    assert_eq!(c.names(), ["x.tgz", "x.tgz/x.tar", "x.tgz/x.tar/a.txt"]);
    assert!(c.of_kind(FindingKind::TypeMismatch).is_empty());
}

#[test]
fn zip_bomb_of_one_gigabyte_is_refused_before_inflating() {
    let dir = tempfile::tempdir().expect("tempdir");
    sh(
        dir.path(),
        "head -c 1073741824 /dev/zero > zeros.bin && zip -q bomb.zip zeros.bin && rm zeros.bin",
    );
    let started = Instant::now();
    let (c, summary) = scan(&dir.path().join("bomb.zip"));
    eprintln!(
        "{} bytes: {:?}, expanded {} bytes",
        summary.size,
        started.elapsed(),
        summary.expanded_bytes
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let limit = c.of_kind(FindingKind::Limit);
    assert_eq!(limit.len(), 1, "{:?}", c.findings);
    assert!(
        limit[0].reason.starts_with("expansion ratio"),
        "{}",
        limit[0].reason
    );
    assert!(!summary.complete);
    // Refused from the declared size: nothing was inflated at all.
    assert_eq!(summary.expanded_bytes, 0);
}

#[test]
fn gzip_bomb_stops_at_the_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    sh(
        dir.path(),
        "head -c 1073741824 /dev/zero | gzip -9 > zeros.gz",
    );
    let started = Instant::now();
    let (c, summary) = scan(&dir.path().join("zeros.gz"));
    eprintln!(
        "{} bytes: {:?}, expanded {} bytes",
        summary.size,
        started.elapsed(),
        summary.expanded_bytes
    );
    let limit = c.of_kind(FindingKind::Limit);
    assert_eq!(limit.len(), 1, "{:?}", c.findings);
    assert!(
        limit[0].reason.starts_with("expansion ratio"),
        "{}",
        limit[0].reason
    );
    // No declared size: it inflated up to the budget (ratio 200 × the ~1 MB file) and no
    // further; the walker spools past 16 MiB, so memory stays flat.
    let budget = summary.size * Limits::default().max_ratio;
    assert!(
        summary.expanded_bytes <= budget,
        "{}",
        summary.expanded_bytes
    );
    assert!(started.elapsed() < Duration::from_secs(60));

    // Memory, measured alone in a child process (tests here run in parallel): the walker
    // spools past 16 MiB, so the ~200 MB inflated never sit in memory.
    let report = run_alone("scan_in_child", dir.path().join("zeros.gz"));
    let peak: u64 = report
        .split_whitespace()
        .find_map(|w| w.strip_prefix("peak_rss="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no figure in child output: {report}"));
    eprintln!("gzip bomb alone: {report}");
    assert!(report.contains("limits=1"), "{report}");
    assert!(peak < 64 << 20, "peak RSS {peak}");
}

/// Run one test of this binary alone in a child process, scanning `path`; its output.
fn run_alone(test: &str, path: PathBuf) -> String {
    let exe = std::env::current_exe().expect("test binary path");
    let out = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("BAOMI_SCAN_IN_CHILD", path)
        .output()
        .expect("child runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Helper for [`run_alone`]: does nothing unless a parent test set the path to scan.
#[test]
fn scan_in_child() {
    let Some(path) = std::env::var_os("BAOMI_SCAN_IN_CHILD") else {
        return;
    };
    let (c, summary) = scan(Path::new(&path));
    println!(
        "limits={} expanded={} peak_rss={}",
        c.of_kind(FindingKind::Limit).len(),
        summary.expanded_bytes,
        peak_rss()
    );
}

#[test]
fn nested_zip_bomb_42_style_is_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tool = sevenzip();
    // 100 MiB of zeros, then 16 copies per level over 3 levels (bzip2 squeezes the repeated
    // deflate streams, as in 42.zip): a 36 KB file that would inflate to 400 GiB.
    sh(
        dir.path(),
        &format!(
            "head -c 104857600 /dev/zero > z.bin && zip -q l0.zip z.bin && rm z.bin \
             && for lvl in 1 2 3; do prev=l$((lvl-1)).zip; files=''; \
                  for i in $(seq 1 16); do cp $prev c$i.zip; files=\"$files c$i.zip\"; done; \
                  {tool} a -bso0 -tzip -mm=BZip2 l$lvl.zip $files && rm $files; done"
        ),
    );
    let started = Instant::now();
    let (c, summary) = scan(&dir.path().join("l3.zip"));
    eprintln!(
        "{} bytes: {:?}, expanded {} bytes",
        summary.size,
        started.elapsed(),
        summary.expanded_bytes
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(summary.size < 100_000, "{}", summary.size);
    let limit = c.of_kind(FindingKind::Limit);
    assert_eq!(limit.len(), 1, "{:?}", c.findings);
    assert!(
        limit[0].reason.starts_with("expansion ratio"),
        "{}",
        limit[0].reason
    );
    // Refused at the first leaf, from its declared size, three layers down.
    assert_eq!(limit[0].part, "l3.zip/c1.zip/c1.zip/c1.zip");
    assert!(!summary.complete);
    assert!(
        summary.expanded_bytes <= summary.size * Limits::default().max_ratio,
        "{}",
        summary.expanded_bytes
    );
}

#[test]
fn nesting_depth_ten_hits_the_depth_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "d0.txt", "deep\n");
    sh(
        dir.path(),
        "zip -q z1.zip d0.txt && for i in $(seq 2 10); do zip -q z$i.zip z$((i-1)).zip; done",
    );
    let (c, _) = scan(&dir.path().join("z10.zip"));
    let limit = c.of_kind(FindingKind::Limit);
    assert_eq!(limit.len(), 1, "{:?}", c.findings);
    assert_eq!(limit[0].reason, "nesting depth 9 > 8");
    let want: Vec<String> = (1..=10).rev().map(|i| format!("z{i}.zip")).collect();
    assert_eq!(limit[0].part, want.join("/"));
}

#[test]
fn rar_plain_solid_and_unicode() {
    for file in ["version.rar", "solid.rar", "unicode.rar"] {
        let (c, summary) = scan(&fixture(file));
        assert_eq!(summary.true_type.as_str(), "rar", "{file}");
        assert!(c.names().len() >= 2, "{file}: {:?}", c.names());
        assert!(summary.expanded_bytes > 0, "{file}");
        assert!(
            c.archive_unreadable().is_empty(),
            "{file}: {:?}",
            c.findings
        );
        assert!(c.of_kind(FindingKind::Encrypted).is_empty(), "{file}");
    }
    let (c, _) = scan(&fixture("version.rar"));
    assert_eq!(c.names(), ["version.rar", "version.rar/VERSION"]);
}

#[test]
fn rar_encrypted_entry_and_encrypted_headers() {
    let (c, summary) = scan(&fixture("crypted.rar"));
    let enc = c.of_kind(FindingKind::Encrypted);
    assert_eq!(enc.len(), 1, "{:?}", c.findings);
    assert_eq!(enc[0].part, "crypted.rar/.gitignore");
    assert_eq!(summary.expanded_bytes, 0);

    let (c, _) = scan(&fixture("comment-hpw-password.rar"));
    let enc = c.of_kind(FindingKind::Encrypted);
    assert_eq!(enc.len(), 1, "{:?}", c.findings);
    assert_eq!(enc[0].part, "comment-hpw-password.rar");
    assert_eq!(enc[0].reason, "RAR archive with encrypted headers");
}

#[test]
fn rar_in_memory_blob_and_garbage_rar() {
    // A nested RAR is an in-memory blob: it is spooled to disk for unrar.
    let dir = tempfile::tempdir().expect("tempdir");
    fs::copy(fixture("version.rar"), dir.path().join("version.rar")).expect("copy");
    sh(dir.path(), "zip -q outer.zip version.rar");
    let (c, _) = scan(&dir.path().join("outer.zip"));
    assert!(
        c.names().contains(&"outer.zip/version.rar/VERSION"),
        "{:?}",
        c.names()
    );

    let path = dir.path().join("bad.rar");
    fs::write(
        &path,
        b"Rar!\x1a\x07\x01\x00 this is not really a rar archive",
    )
    .expect("write");
    let (c, _) = scan(&path);
    let bad = c.archive_unreadable();
    assert_eq!(bad.len(), 1, "{:?}", c.findings);
    assert!(bad[0].reason.starts_with("rar:"), "{}", bad[0].reason);
}

/// Peak resident memory of this test process, in bytes.
fn peak_rss() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[test]
fn damaged_archives_are_findings_not_panics() {
    let dir = sample_tree();
    for i in 0..20 {
        write(
            dir.path(),
            &format!("bulk/{i}.txt"),
            &format!("第{i}份文件 ").repeat(50),
        );
    }
    let tool = sevenzip();
    sh(
        dir.path(),
        &format!(
            "zip -qr d.zip bulk && {tool} a -bso0 d.7z bulk && tar -cf d.tar bulk \
             && gzip -c d.tar > d.tar.gz && bzip2 -c d.tar > d.tar.bz2 && xz -c d.tar > d.tar.xz \
             && zstd -qc d.tar > d.tar.zst"
        ),
    );
    let mut originals: Vec<(String, Vec<u8>)> = [
        "d.zip",
        "d.7z",
        "d.tar",
        "d.tar.gz",
        "d.tar.bz2",
        "d.tar.xz",
        "d.tar.zst",
    ]
    .iter()
    .map(|n| (n.to_string(), fs::read(dir.path().join(n)).expect("read")))
    .collect();
    for rar in ["version.rar", "solid.rar", "crypted.rar"] {
        originals.push((rar.to_string(), fs::read(fixture(rar)).expect("read")));
    }
    let mut damaged = 0;
    for (name, bytes) in &originals {
        let len = bytes.len();
        let mut variants: Vec<Vec<u8>> = [len / 10, len / 3, len / 2, len - 1]
            .iter()
            .map(|&cut| bytes[..cut.max(8)].to_vec())
            .collect();
        // Flip bytes in a spread of places: headers, data, directories.
        for step in 1..=16 {
            let mut flipped = bytes.clone();
            let at = (len * step / 17).max(8).min(len - 1);
            for b in &mut flipped[at..(at + 4).min(len)] {
                *b ^= 0xA5;
            }
            variants.push(flipped);
        }
        for (i, variant) in variants.into_iter().enumerate() {
            let path = dir.path().join(format!("v{i}-{name}"));
            fs::write(&path, variant).expect("write");
            let (c, _) = scan(&path);
            if !c.archive_unreadable().is_empty() {
                damaged += 1;
            }
            for f in c.of_kind(FindingKind::Unreadable) {
                assert!(
                    !f.reason.contains("parser failed"),
                    "{name} variant {i}: {}",
                    f.reason
                );
            }
        }
    }
    // Most damage is noticed (some flips only touch data that nobody checks, like padding).
    assert!(damaged > originals.len() * 10, "{damaged}");
}

#[test]
fn large_rar_entries_are_spooled_to_disk() {
    let (in_memory, expected) = scan(&fixture("solid.rar"));
    // With a tiny spool threshold every entry takes the extract-to-file path.
    let limits = Limits {
        spool_threshold: 1,
        ..Limits::default()
    };
    let (spooled, summary) = scan_with(&fixture("solid.rar"), &limits);
    assert_eq!(spooled.names(), in_memory.names());
    assert_eq!(summary.expanded_bytes, expected.expanded_bytes);
    assert!(summary.expanded_bytes > 0);
    assert!(
        spooled.archive_unreadable().is_empty(),
        "{:?}",
        spooled.findings
    );
}

#[test]
fn sparse_tar_entries_are_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    sh(
        dir.path(),
        "printf '机密' > holes.bin && truncate -s 512K holes.bin && printf 'end' >> holes.bin \
         && tar --format=gnu --sparse -cf s.tar holes.bin",
    );
    let (c, summary) = scan(&dir.path().join("s.tar"));
    assert_eq!(c.names(), ["s.tar", "s.tar/holes.bin"], "{:?}", c.findings);
    assert_eq!(summary.expanded_bytes, (512 << 10) + 3);
}
