//! Memory is bounded for every object, helpers included (issue 16, section 0): hostile
//! inputs built here, in the test, each must come back as a `limit` finding that names what
//! was refused, never as a panic, an `unreadable` or a silent skip. Inputs are streamed
//! into compressors so the test's own memory stays low; nothing big is committed.

mod common;

use std::io::{Cursor, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use baomi_core::{Finding, FindingKind};
use baomi_extract::helper::{self, HelperError, HelperLimits};
use baomi_extract::{Blob, ExtractSummary, FileType, Limits, extract, extract_as};
use common::Collect;

fn of_kind(c: &Collect, kind: FindingKind) -> Vec<&Finding> {
    c.findings.iter().filter(|f| f.kind == kind).collect()
}

fn run_as(ty: FileType, bytes: Vec<u8>, name: &str, limits: &Limits) -> (Collect, ExtractSummary) {
    let mut c = Collect::default();
    let summary = extract_as(ty, Blob::from_vec(bytes), name, limits, &mut c);
    (c, summary)
}

fn run(bytes: Vec<u8>, name: &str, limits: &Limits) -> (Collect, ExtractSummary) {
    let mut c = Collect::default();
    let summary = extract(Blob::from_vec(bytes), name, limits, &mut c);
    (c, summary)
}

/// Peak resident memory of this process so far (`VmHWM`).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Run one test of this binary alone in a child process (tests here run in parallel, so
/// only a process of its own has a meaningful peak); its stdout.
fn run_alone(test: &str, env: &[(&str, &Path)]) -> String {
    let exe = std::env::current_exe().expect("test binary path");
    let mut command = Command::new(exe);
    command.args([test, "--exact", "--nocapture", "--test-threads=1"]);
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().expect("child runs");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn figure(report: &str, key: &str) -> u64 {
    report
        .split_whitespace()
        .find_map(|w| w.strip_prefix(key))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in child output: {report}"))
}

// ---------------------------------------------------------------------------------------
// PDF flate bomb

/// A one-page PDF whose content stream inflates to `inflated` bytes of text-drawing
/// operators (what made `pdftotext` grow to 15–20 GB). Compressed while it is generated,
/// 1 MiB at a time.
fn pdf_flate_bomb(inflated: u64) -> Vec<u8> {
    let line = b"BT /F1 12 Tf 72 700 Td (secret secret secret secret) Tj ET\n";
    let block: Vec<u8> = line.iter().copied().cycle().take(1 << 20).collect();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let mut left = inflated;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        z.write_all(&block[..n]).expect("deflate");
        left -= n as u64;
    }
    pdf_with_stream(&z.finish().expect("deflate"))
}

/// A PDF of `inflated` bytes of ordinary content: numbered lines at varying positions,
/// which compress about as much as real pages do (not 1000:1).
fn pdf_of_lines(inflated: u64) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let mut written = 0u64;
    let mut i = 0u64;
    while written < inflated {
        let line = format!(
            "BT /F1 12 Tf {} {} Td (secret {}) Tj ET\n",
            i * 7919 % 500,
            i * 104_729 % 700,
            i * 2_654_435_761 % 1_000_000_007
        );
        z.write_all(line.as_bytes()).expect("deflate");
        written += line.len() as u64;
        i += 1;
    }
    pdf_with_stream(&z.finish().expect("deflate"))
}

fn pdf_with_stream(stream: &[u8]) -> Vec<u8> {
    let mut pdf = Vec::new();
    let mut offsets = Vec::new();
    pdf.extend_from_slice(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n");
    let objects: [&[u8]; 3] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
           /Resources << /Font << /F1 5 0 R >> >> >>",
    ];
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(body);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    offsets.push(pdf.len());
    pdf.extend_from_slice(
        format!(
            "4 0 obj\n<< /Length {} /Filter /FlateDecode >>\nstream\n",
            stream.len()
        )
        .as_bytes(),
    );
    pdf.extend_from_slice(stream);
    pdf.extend_from_slice(b"\nendstream\nendobj\n");
    offsets.push(pdf.len());
    pdf.extend_from_slice(
        b"5 0 obj\n<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>\nendobj\n",
    );
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1).as_bytes(),
    );
    for offset in &offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            offsets.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

#[test]
fn pdf_flate_bomb_is_a_limit_not_unreadable() {
    let pdf = pdf_flate_bomb(1 << 30);
    let size = pdf.len();
    let (c, summary) = run(pdf, "bomb.pdf", &Limits::default());
    eprintln!("{size} bytes: {:#?}", c.findings);
    let limits = of_kind(&c, FindingKind::Limit);
    assert!(
        limits.iter().any(|f| f.part == "bomb.pdf"
            && f.reason
                .starts_with("PDF stream (object 4) decodes to more than 64 MB")),
        "{:?}",
        c.findings
    );
    // Whatever the pdftotext fallback met is a limit too, never `unreadable` → audit.
    assert!(
        of_kind(&c, FindingKind::Unreadable).is_empty(),
        "{:?}",
        c.findings
    );
    for f in &limits {
        assert!(
            f.reason.starts_with("PDF stream") || f.reason.starts_with("pdftotext "),
            "{}",
            f.reason
        );
    }
    assert!(!summary.complete);
}

#[test]
fn pdf_flate_bomb_memory_is_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bomb.pdf");
    std::fs::write(&path, pdf_flate_bomb(1 << 30)).expect("write");
    let report = run_alone("pdf_in_child", &[("BAOMI_LIMITS_PDF", &path)]);
    eprintln!("PDF flate bomb alone: {report}");
    assert!(figure(&report, "limits=") >= 1, "{report}");
    // The built-in reader never sees the stream: the pre-scan inflates into a counter.
    assert!(figure(&report, "peak_rss=") < 128 << 20, "{report}");
}

/// Helper for [`pdf_flate_bomb_memory_is_bounded`]: nothing unless a parent test set the
/// path.
#[test]
fn pdf_in_child() {
    let Some(path) = std::env::var_os("BAOMI_LIMITS_PDF") else {
        return;
    };
    let bytes = std::fs::read(&path).expect("read");
    let (c, _) = run(bytes, "bomb.pdf", &Limits::default());
    println!(
        "limits={} unreadable={} peak_rss={}",
        of_kind(&c, FindingKind::Limit).len(),
        of_kind(&c, FindingKind::Unreadable).len(),
        peak_rss()
    );
}

#[test]
fn ordinary_pdf_streams_are_charged_not_refused() {
    // 2 MiB of content: under the per-object budget, read as usual, and its inflated bytes
    // count against the expansion budget.
    let pdf = pdf_of_lines(2 << 20);
    let (c, summary) = run(pdf, "big.pdf", &Limits::default());
    assert!(
        of_kind(&c, FindingKind::Limit).is_empty(),
        "{:?}",
        c.findings
    );
    assert!(
        summary.expanded_bytes >= 2 << 20,
        "{}",
        summary.expanded_bytes
    );
    assert!(c.parts.iter().any(|p| p.text.contains("secret")));
}

#[test]
fn small_pdf_inflating_past_the_ratio_stops_at_the_expansion_budget() {
    // 48 MiB of one repeated line: under the per-object budget, but ~50 KB of file may only
    // expand 200-fold.
    let pdf = pdf_flate_bomb(48 << 20);
    let (c, summary) = run(pdf, "ratio.pdf", &Limits::default());
    let limits = of_kind(&c, FindingKind::Limit);
    assert_eq!(limits.len(), 1, "{:?}", c.findings);
    assert!(
        limits[0].reason.starts_with("expansion ratio")
            && limits[0]
                .reason
                .contains("(PDF stream (object 4) inflates past"),
        "{}",
        limits[0].reason
    );
    assert!(summary.expanded_bytes <= summary.size * Limits::default().max_ratio + 1);
}

// ---------------------------------------------------------------------------------------
// Images

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}

/// A PNG whose header claims `width` × `height` RGB pixels, followed by a few KB of real
/// image data (so it is not skipped as an icon-sized file).
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut png, b"IHDR", &ihdr);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::none());
    z.write_all(&[0u8; 8192]).expect("deflate");
    png_chunk(&mut png, b"IDAT", &z.finish().expect("deflate"));
    png_chunk(&mut png, b"IEND", &[]);
    png
}

#[cfg(feature = "ocr")]
#[test]
fn image_header_claiming_60000_square_is_refused_before_decoding() {
    let (c, summary) = run(png_claiming(60_000, 60_000), "huge.png", &Limits::default());
    let limits = of_kind(&c, FindingKind::Limit);
    assert_eq!(limits.len(), 1, "{:?}", c.findings);
    assert_eq!(limits[0].part, "huge.png");
    assert!(
        limits[0]
            .reason
            .starts_with("png: image 60000×60000 needs "),
        "{}",
        limits[0].reason
    );
    assert!(
        limits[0]
            .reason
            .ends_with("> 64 MB per-object memory budget"),
        "{}",
        limits[0].reason
    );
    assert!(
        of_kind(&c, FindingKind::Unreadable).is_empty(),
        "{:?}",
        c.findings
    );
    assert!(!summary.complete);
}

#[cfg(feature = "ocr")]
#[test]
fn image_within_a_smaller_object_budget_is_refused_too() {
    // 4000 × 3000 RGB (a 12-megapixel photo) needs 48 MB: under the default budget, over 16 MB.
    let limits = Limits {
        max_object_memory: 16 << 20,
        ..Limits::default()
    };
    let (c, _) = run(png_claiming(4000, 3000), "photo.png", &limits);
    let found = of_kind(&c, FindingKind::Limit);
    assert_eq!(found.len(), 1, "{:?}", c.findings);
    assert!(
        found[0].reason.contains("4000×3000 needs 46 MB"),
        "{}",
        found[0].reason
    );
}

// ---------------------------------------------------------------------------------------
// XML parts

/// A docx whose `word/document.xml` is written by `body` into the zip stream.
fn docx_with(body: impl FnOnce(&mut dyn Write)) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    zip.start_file("[Content_Types].xml", options).expect("zip");
    zip.write_all(
        br#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#,
    )
    .expect("zip");
    zip.start_file("word/document.xml", options).expect("zip");
    body(&mut zip);
    zip.finish().expect("zip").into_inner()
}

const DOC_HEAD: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>"#;
const DOC_TAIL: &[u8] = b"</w:t></w:r></w:p></w:body></w:document>";

#[test]
fn docx_with_one_huge_text_node_is_a_limit() {
    // 200 MiB of text in one `w:t`: a few hundred KB compressed.
    let docx = docx_with(|w| {
        w.write_all(DOC_HEAD).unwrap();
        let block = "机密".repeat(1 << 17);
        for _ in 0..(200 << 20) / block.len() {
            w.write_all(block.as_bytes()).unwrap();
        }
        w.write_all(DOC_TAIL).unwrap();
    });
    // At the default limits the ~200 KB file may expand 200-fold: the expansion budget
    // refuses the part from its declared size, before inflating it.
    let (c, summary) = run_as(
        FileType::Docx,
        docx.clone(),
        "huge.docx",
        &Limits::default(),
    );
    let limits = of_kind(&c, FindingKind::Limit);
    assert_eq!(limits.len(), 1, "{:?}", c.findings);
    assert!(
        limits[0].reason.starts_with("word/document.xml: ")
            && limits[0].reason.contains("bytes of XML >"),
        "{}",
        limits[0].reason
    );
    assert!(!summary.complete);
    assert_eq!(summary.expanded_bytes, 0);

    // With the ratio out of the way, the per-object memory budget refuses it: this part
    // only, and extraction goes on.
    let lenient = Limits {
        max_ratio: 1_000_000,
        ..Limits::default()
    };
    let (c, summary) = run_as(FileType::Docx, docx, "huge.docx", &lenient);
    let limits = of_kind(&c, FindingKind::Limit);
    assert_eq!(limits.len(), 1, "{:?}", c.findings);
    assert_eq!(limits[0].part, "huge.docx/word/document.xml");
    assert!(
        limits[0].reason.starts_with("XML part of ")
            && limits[0]
                .reason
                .ends_with("bytes > 64 MB per-object memory budget"),
        "{}",
        limits[0].reason
    );
    assert!(!summary.complete);
}

#[test]
fn docx_with_deeply_nested_elements_is_a_limit() {
    let docx = docx_with(|w| {
        w.write_all(DOC_HEAD).unwrap();
        for _ in 0..100_000 {
            w.write_all(b"<w:sdt>").unwrap();
        }
        w.write_all("机密★5年".as_bytes()).unwrap();
        for _ in 0..100_000 {
            w.write_all(b"</w:sdt>").unwrap();
        }
        w.write_all(DOC_TAIL).unwrap();
    });
    let (c, summary) = run_as(FileType::Docx, docx, "deep.docx", &Limits::default());
    let limits = of_kind(&c, FindingKind::Limit);
    assert_eq!(limits.len(), 1, "{:?}", c.findings);
    assert_eq!(limits[0].part, "deep.docx/word/document.xml");
    assert!(
        limits[0]
            .reason
            .starts_with("XML elements nested deeper than 1000"),
        "{}",
        limits[0].reason
    );
    assert!(
        of_kind(&c, FindingKind::Unreadable).is_empty(),
        "{:?}",
        c.findings
    );
    assert!(!summary.complete);
}

// ---------------------------------------------------------------------------------------
// Zip entries whose declared size lies

/// A zip of one deflated entry `big.bin` of `real` zero bytes whose headers (local and
/// central) are patched to declare `declared` bytes.
fn zip_declaring(real: u64, declared: u32) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("big.bin", options).expect("zip");
    let block = vec![0u8; 1 << 20];
    let mut left = real;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        zip.write_all(&block[..n]).expect("zip");
        left -= n as u64;
    }
    let mut bytes = zip.finish().expect("zip").into_inner();
    // Local file header: uncompressed size at offset 22.
    assert_eq!(&bytes[..4], b"PK\x03\x04");
    bytes[22..26].copy_from_slice(&declared.to_le_bytes());
    // Central directory header: uncompressed size at offset 24.
    let cd = memchr_last(&bytes, b"PK\x01\x02").expect("central directory");
    bytes[cd + 24..cd + 28].copy_from_slice(&declared.to_le_bytes());
    bytes
}

fn memchr_last(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

#[test]
fn zip_entry_claiming_small_but_inflating_big_is_a_limit() {
    // Declares 1 KB, inflates to 300 MiB. The zip reader stops the entry at its claim, so
    // nothing past 1 KB is inflated, and the lie is a limit on that entry.
    let (c, summary) = run(
        zip_declaring(300 << 20, 1024),
        "liar.zip",
        &Limits::default(),
    );
    let limits = of_kind(&c, FindingKind::Limit);
    assert_eq!(limits.len(), 1, "{:?}", c.findings);
    assert_eq!(limits[0].part, "liar.zip/big.bin");
    assert_eq!(
        limits[0].reason,
        "zip entry inflates past its declared size of 1024 bytes"
    );
    assert!(
        of_kind(&c, FindingKind::Unreadable).is_empty(),
        "{:?}",
        c.findings
    );
    assert!(!summary.complete);
}

#[test]
fn zip_entry_claiming_big_is_refused_from_its_header() {
    let (c, summary) = run(
        zip_declaring(4096, 4_000_000_000),
        "claims.zip",
        &Limits::default(),
    );
    let limits = of_kind(&c, FindingKind::Limit);
    assert_eq!(limits.len(), 1, "{:?}", c.findings);
    assert!(
        limits[0]
            .reason
            .ends_with("(big.bin declares 4000000000 bytes)"),
        "{}",
        limits[0].reason
    );
    assert_eq!(summary.expanded_bytes, 0);
}

// ---------------------------------------------------------------------------------------
// Helper processes

fn small() -> HelperLimits {
    HelperLimits {
        memory: 64 << 20,
        cpu: Duration::from_secs(2),
        wall: Duration::from_secs(30),
        max_output: 1 << 20,
    }
}

#[test]
fn helper_allocating_past_its_limit_is_a_memory_limit() {
    // python3 raises MemoryError; a C tool (poppler) would print "Out of memory" and abort.
    let e = helper::run(
        "python3",
        "python3",
        &["-c".as_ref(), "x = bytearray(512 << 20)".as_ref()],
        &small(),
    )
    .unwrap_err();
    assert!(e.is_limit(), "{e}");
    assert_eq!(e.to_string(), "python3 memory > 64 MB");
}

#[test]
fn helper_touching_memory_page_by_page_is_a_memory_limit() {
    // Grows a little at a time, as pdftotext does, until the allocator is refused.
    let script = "chunks = []\nwhile True:\n    chunks.append(b'x' * (1 << 20))\n";
    let e = helper::run(
        "python3",
        "python3",
        &["-c".as_ref(), script.as_ref()],
        &small(),
    )
    .unwrap_err();
    assert!(matches!(e, HelperError::Memory { .. }), "{e}");
}

#[test]
fn helper_spinning_is_a_cpu_limit() {
    let limits = HelperLimits {
        cpu: Duration::from_secs(1),
        ..small()
    };
    let e = helper::run(
        "sh",
        "sh",
        &["-c".as_ref(), "while :; do :; done".as_ref()],
        &limits,
    )
    .unwrap_err();
    assert!(matches!(e, HelperError::Cpu { .. }), "{e}");
    assert_eq!(e.to_string(), "sh CPU time > 1 s");
}

#[test]
fn helper_crash_is_not_a_limit() {
    let e = helper::run(
        "sh",
        "sh",
        &[
            "-c".as_ref(),
            "echo 'Syntax Error: bad xref' >&2; kill -SEGV $$".as_ref(),
        ],
        &small(),
    )
    .unwrap_err();
    assert!(!e.is_limit(), "{e}");
    assert!(e.to_string().contains("signal 11"), "{e}");
}

#[test]
fn pdftotext_under_a_tiny_memory_limit_gives_a_limit_finding() {
    // The real helper, through the PDF format: 24 MiB of text operators with 40 MB for
    // pdftotext. The built-in reader takes the stream (under the object budget) but is
    // distrusted for nothing here, so force the fallback with a legacy CMap name.
    let mut pdf = pdf_of_lines(24 << 20);
    pdf.extend_from_slice(b"% GBK-EUC-H\n");
    let limits = Limits {
        helper_memory: 40 << 20,
        ..Limits::default()
    };
    let (c, _) = run(pdf, "tight.pdf", &limits);
    let found = of_kind(&c, FindingKind::Limit);
    assert!(
        found
            .iter()
            .any(|f| f.part == "tight.pdf" && f.reason == "pdftotext memory > 40 MB"),
        "{:?}",
        c.findings
    );
    assert!(
        of_kind(&c, FindingKind::Unreadable).is_empty(),
        "{:?}",
        c.findings
    );
}
