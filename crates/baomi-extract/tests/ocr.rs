//! OCR of images and image-only PDF pages, on real rendered pages: a LibreOffice notice with
//! `机密★10年` on its second line, rendered by poppler at 150 dpi, then "photographed"
//! (rotated, noisy, JPEG) with ImageMagick, put into an image-only PDF and into a docx.
//! The real marking detector must find the `secret` marking in the OCR text.
#![cfg(feature = "ocr")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use baomi_core::detect::marking::MarkingDetector;
use baomi_core::detect::{Detector, PartView};
use baomi_core::model::{FindingKind, Level, Part};
use baomi_core::normalise::Normalizer;
use baomi_extract::{Blob, Limits, extract};
use common::Collect;

const NOTICE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
 office:version="1.2" office:mimetype="application/vnd.oasis.opendocument.text">
<office:automatic-styles><style:style style:name="P1" style:family="paragraph">
<style:text-properties fo:font-size="16pt" style:font-name-asian="Noto Sans CJK SC"/>
</style:style></office:automatic-styles>
<office:body><office:text>
<text:p text:style-name="P1">关于加强办公网络安全管理的通知</text:p>
<text:p text:style-name="P1">机密★10年</text:p>
<text:p text:style-name="P1">各部门：为进一步加强网络安全管理，现将有关事项通知如下。请各单位认真贯彻执行。</text:p>
</office:text></office:body></office:document>
"#;

fn run(command: &mut Command) {
    let status = command.status().expect("tool runs");
    assert!(status.success(), "{command:?} failed: {status}");
}

/// Fixtures made once per test run: (dir, page.png, photo.jpg, scan.pdf, picture.docx).
struct Fixtures {
    _dir: tempfile::TempDir,
    page_png: PathBuf,
    photo_jpg: PathBuf,
    scan_pdf: PathBuf,
    docx: PathBuf,
}

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::write(d.join("notice.fodt"), NOTICE).expect("write fodt");
        run(Command::new("soffice")
            .args(["--headless", "--convert-to", "pdf", "--outdir"])
            .arg(d)
            .arg(d.join("notice.fodt"))
            .env("HOME", d));
        // Only the top of the A4 page carries text: crop to it like a photo of a notice.
        run(Command::new("pdftoppm")
            .args(["-r", "150", "-png", "-singlefile", "-x", "0", "-y", "0"])
            .args(["-W", "1240", "-H", "600"])
            .arg(d.join("notice.pdf"))
            .arg(d.join("page")));
        let page_png = d.join("page.png");
        let photo_jpg = d.join("photo.jpg");
        run(Command::new("convert")
            .arg(&page_png)
            // Seeded noise: the same "photo" every run, so the test cannot flake on a lucky draw.
            .args([
                "-seed",
                "7",
                "-rotate",
                "3",
                "-attenuate",
                "0.3",
                "+noise",
                "Gaussian",
            ])
            .args(["-quality", "60"])
            .arg(&photo_jpg));
        let scan_pdf = d.join("scan.pdf");
        run(Command::new("img2pdf")
            .arg(&page_png)
            .arg("-o")
            .arg(&scan_pdf));
        let docx = d.join("picture.docx");
        run(Command::new("/usr/bin/python3").arg("-c").arg(format!(
            "import docx\nd = docx.Document()\nd.add_paragraph('见附图')\n\
             d.add_picture({:?})\nd.save({:?})",
            page_png.display().to_string(),
            docx.display().to_string()
        )));
        Fixtures {
            _dir: dir,
            page_png,
            photo_jpg,
            scan_pdf,
            docx,
        }
    })
}

fn extract_file(path: &Path) -> Collect {
    let name = path.file_name().and_then(|n| n.to_str()).expect("name");
    let mut sink = Collect::default();
    let blob = Blob::from_path(path).expect("open fixture");
    let started = Instant::now();
    extract(blob, name, &Limits::default(), &mut sink);
    eprintln!(
        "{name}: extracted in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    sink
}

fn markings(part: &Part) -> Vec<Level> {
    let norm = Normalizer::new().normalize(&part.text);
    let view = PartView {
        path: &part.path,
        role: part.role,
        original: &part.text,
        norm: &norm,
        first_line: part.first_line,
    };
    let mut out = Vec::new();
    MarkingDetector::new().detect(&view, &mut out);
    out.into_iter()
        .filter(|f| f.kind == FindingKind::Marking)
        .filter_map(|f| f.level)
        .collect()
}

fn ocr_part<'a>(sink: &'a Collect, path: &str) -> &'a Part {
    let paths: Vec<&str> = sink.parts.iter().map(|p| p.path.as_str()).collect();
    sink.parts
        .iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| {
            panic!(
                "no part {path}; parts: {paths:?}, findings: {:?}",
                sink.findings
            )
        })
}

#[test]
fn rendered_page_png_gives_ocr_part_with_secret_marking() {
    let sink = extract_file(&fixtures().page_png);
    let part = ocr_part(&sink, "page.png#ocr");
    eprintln!("OCR text: {}", part.text);
    assert!(part.text.contains("通知"), "{}", part.text);
    assert!(markings(part).contains(&Level::Secret), "{}", part.text);
    assert!(sink.findings.is_empty(), "{:?}", sink.findings);
}

#[test]
fn photographed_jpeg_still_gives_secret_marking() {
    let sink = extract_file(&fixtures().photo_jpg);
    let part = ocr_part(&sink, "photo.jpg#ocr");
    eprintln!("OCR text: {}", part.text);
    assert!(markings(part).contains(&Level::Secret), "{}", part.text);
}

#[test]
fn image_only_pdf_page_is_read_by_ocr() {
    let sink = extract_file(&fixtures().scan_pdf);
    let part = ocr_part(&sink, "scan.pdf/page 1#ocr");
    assert!(markings(part).contains(&Level::Secret), "{}", part.text);
    assert!(
        !sink
            .findings
            .iter()
            .any(|f| f.kind == FindingKind::Unreadable),
        "{:?}",
        sink.findings
    );
}

#[test]
fn picture_in_docx_is_read_by_ocr() {
    let sink = extract_file(&fixtures().docx);
    let part = ocr_part(&sink, "picture.docx/word/media/image1.png#ocr");
    assert!(markings(part).contains(&Level::Secret), "{}", part.text);
}

#[test]
fn tiny_icon_gives_no_part_and_no_finding() {
    let dir = tempfile::tempdir().expect("tempdir");
    let icon = dir.path().join("icon.png");
    run(Command::new("convert")
        .args([
            "-size",
            "32x32",
            "plasma:",
            "-define",
            "png:compression-level=0",
        ])
        .arg(&icon));
    let sink = extract_file(&icon);
    assert!(
        !sink.parts.iter().any(|p| p.path.ends_with("#ocr")),
        "{:?}",
        sink.parts
    );
    assert!(sink.findings.is_empty(), "{:?}", sink.findings);
}

#[test]
fn corrupt_png_is_unreadable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(&fixtures().page_png).expect("read page");
    // Keep the signature and header, garble the compressed pixel data.
    let mut corrupt = bytes[..4096].to_vec();
    corrupt.extend(std::iter::repeat_n(0xA5u8, 8192));
    let path = dir.path().join("broken.png");
    std::fs::write(&path, corrupt).expect("write");
    let sink = extract_file(&path);
    assert!(
        !sink.parts.iter().any(|p| p.path.ends_with("#ocr")),
        "{:?}",
        sink.parts
    );
    let unreadable: Vec<_> = sink
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Unreadable)
        .collect();
    assert_eq!(unreadable.len(), 1, "{:?}", sink.findings);
    assert_eq!(unreadable[0].part, "broken.png");
    assert!(
        unreadable[0].reason.contains("does not decode"),
        "{}",
        unreadable[0].reason
    );
}
