//! Hidden content: PDF annotations, form values and metadata, image EXIF/comment/text
//! chunks. The files are made at test time: a PDF written byte by byte (annotations of every
//! kind that matters), a PDF exported by LibreOffice with its comments, images by ImageMagick
//! with their metadata written by exiftool.

use std::path::Path;
use std::process::Command;

use baomi_core::{Part, PartRole};
use baomi_extract::{Blob, FileType, Limits, extract_as};

mod common;
use common::Collect;

fn run(ty: FileType, bytes: Vec<u8>, name: &str) -> Collect {
    let mut sink = Collect::default();
    extract_as(
        ty,
        Blob::from_vec(bytes),
        name,
        &Limits::default(),
        &mut sink,
    );
    sink
}

fn part<'a>(sink: &'a Collect, path: &str) -> &'a Part {
    sink.parts
        .iter()
        .find(|p| p.path == path && p.role != PartRole::Name)
        .unwrap_or_else(|| {
            let paths: Vec<_> = sink.parts.iter().map(|p| (&p.path, p.role)).collect();
            panic!(
                "no part {path}; parts: {paths:#?}; findings: {:#?}",
                sink.findings
            )
        })
}

fn tool(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (scripts/deps.sh test installs it)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------
// PDF

/// `<FEFF…>`: a PDF text string in UTF-16BE with its byte order mark.
fn utf16_hex(text: &str) -> String {
    let mut hex = String::from("<FEFF");
    for unit in text.encode_utf16() {
        hex.push_str(&format!("{unit:04X}"));
    }
    hex.push('>');
    hex
}

/// A PDF from its objects (numbered from 1; the first is the catalog, `info` the Info
/// dictionary's number), with a correct cross-reference table.
fn build_pdf(objects: &[String], info: usize) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (index, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", index + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info {info} 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// One clean page; a sticky note with author and popup, a free-text box whose rich text
/// repeats its contents, a link, a text field (also a widget on the page) with a parent
/// field, and a custom Info key.
fn annotated_pdf() -> Vec<u8> {
    let content = "BT /F1 12 Tf 72 720 Td (Quarterly meeting agenda) Tj ET";
    let rich = format!(
        "<?xml version=\"1.0\"?><body xmlns=\"http://www.w3.org/1999/xhtml\"><p>{}</p></body>",
        "联系人身份证 11010519491231002X"
    );
    let objects = vec![
        // 1 catalog
        "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [10 0 R] >> >>".to_owned(),
        // 2 pages
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        // 3 page
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
         /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R \
         /Annots [6 0 R 7 0 R 8 0 R 9 0 R 11 0 R] >>"
            .to_owned(),
        // 4 font
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        // 5 content
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        // 6 sticky note
        format!(
            "<< /Type /Annot /Subtype /Text /Rect [100 700 120 720] /T {} /Contents {} \
             /Popup 7 0 R >>",
            utf16_hex("张三"),
            utf16_hex("机密★1年 内部讨论稿")
        ),
        // 7 its popup, repeating the note
        format!(
            "<< /Type /Annot /Subtype /Popup /Parent 6 0 R /Rect [120 600 300 700] \
             /Contents {} >>",
            utf16_hex("机密★1年 内部讨论稿")
        ),
        // 8 free text with rich text
        format!(
            "<< /Type /Annot /Subtype /FreeText /Rect [72 500 300 540] /DA (/F1 10 Tf) \
             /Contents {} /RC {} >>",
            utf16_hex("联系人身份证 11010519491231002X"),
            utf16_hex(&rich)
        ),
        // 9 link
        "<< /Type /Annot /Subtype /Link /Rect [72 400 200 420] \
         /A << /S /URI /URI (http://example.com/) >> >>"
            .to_owned(),
        // 10 parent field
        format!(
            "<< /T (applicant) /Kids [11 0 R] /V {} >>",
            utf16_hex("王五")
        ),
        // 11 text field and its widget
        format!(
            "<< /Type /Annot /Subtype /Widget /FT /Tx /Parent 10 0 R /T (level) \
             /V {} /Rect [72 300 300 320] /P 3 0 R >>",
            utf16_hex("秘密★6个月")
        ),
        // 12 info
        format!(
            "<< /Title (Agenda) /Classification {} /CreationDate (D:20240101000000Z) >>",
            utf16_hex("工作秘密")
        ),
    ];
    build_pdf(&objects, 12)
}

#[test]
fn pdf_annotations_form_values_and_custom_info() {
    let sink = run(FileType::Pdf, annotated_pdf(), "agenda.pdf");
    let page = part(&sink, "agenda.pdf/page 1");
    assert_eq!(page.role, PartRole::Body);
    assert!(page.text.contains("Quarterly meeting agenda"), "{page:?}");
    assert!(
        !page.text.contains("机密"),
        "the page itself is clean: {page:?}"
    );

    let annot = part(&sink, "agenda.pdf/page 1#annot");
    assert_eq!(annot.role, PartRole::Annotation);
    // The note once (its popup and the free text's rich-text copy are not repeated), with
    // its author; the link and the widget are not annotations with text.
    assert_eq!(
        annot.text,
        "Author: 张三\n机密★1年 内部讨论稿\n\n联系人身份证 11010519491231002X\n"
    );

    let form = part(&sink, "agenda.pdf#form");
    assert_eq!(form.role, PartRole::Annotation);
    assert_eq!(form.text, "applicant: 王五\napplicant.level: 秘密★6个月\n");

    let info = part(&sink, "agenda.pdf/info");
    assert_eq!(info.role, PartRole::Metadata);
    assert_eq!(info.text, "Title: Agenda\nClassification: 工作秘密\n");
}

/// Office "protected" PDFs: encrypted, opened with the empty user password. The annotation
/// and field strings are encrypted too and must come out decrypted.
#[test]
fn pdf_annotations_of_an_encrypted_pdf() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = dir.path().join("plain.pdf");
    let encrypted = dir.path().join("encrypted.pdf");
    std::fs::write(&plain, annotated_pdf()).expect("write pdf");
    tool(
        Command::new("qpdf")
            .args(["--encrypt", "", "owner-secret", "256", "--print=none", "--"])
            .arg(&plain)
            .arg(&encrypted),
    );
    let sink = run(
        FileType::Pdf,
        std::fs::read(&encrypted).unwrap(),
        "encrypted.pdf",
    );
    let annot = part(&sink, "encrypted.pdf/page 1#annot");
    assert!(annot.text.contains("机密★1年 内部讨论稿"), "{annot:?}");
    let form = part(&sink, "encrypted.pdf#form");
    assert!(form.text.contains("秘密★6个月"), "{form:?}");

    // The annotations compressed into object streams, linearized.
    let packed = dir.path().join("packed.pdf");
    tool(
        Command::new("qpdf")
            .args(["--object-streams=generate", "--linearize"])
            .arg(&plain)
            .arg(&packed),
    );
    let sink = run(FileType::Pdf, std::fs::read(&packed).unwrap(), "packed.pdf");
    let annot = part(&sink, "packed.pdf/page 1#annot");
    assert!(annot.text.contains("机密★1年 内部讨论稿"), "{annot:?}");
    assert!(part(&sink, "packed.pdf#form").text.contains("秘密★6个月"));
}

#[test]
fn pdf_with_garbage_annotations_does_not_panic() {
    let content = "BT /F1 12 Tf 72 720 Td (Hello) Tj ET";
    let objects = vec![
        "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [6 0 R 99 0 R (x)] >> >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        // Annots is a number, not an array.
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] \
         /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R /Annots 7 >>"
            .to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}\nendstream",
            content.len()
        ),
        // A field that is its own kid, with a value of the wrong type.
        "<< /T (loop) /Kids [6 0 R] /V 42 >>".to_owned(),
        "<< /Producer (test) >>".to_owned(),
    ];
    let sink = run(FileType::Pdf, build_pdf(&objects, 7), "odd.pdf");
    assert!(part(&sink, "odd.pdf/page 1").text.contains("Hello"));
    assert!(
        sink.parts.iter().all(|p| !p.path.contains('#')),
        "no hidden text in this one: {:?}",
        sink.parts
    );
}

/// A flat ODF text with a comment, exported to PDF by LibreOffice with its notes.
const COMMENTED_FODT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:dc="http://purl.org/dc/elements/1.1/"
 office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.text">
<office:body><office:text>
<text:p>季度工作安排<office:annotation><dc:creator>李四</dc:creator><dc:date>2024-01-01T00:00:00</dc:date><text:p>机密★1年 内部讨论稿</text:p></office:annotation>如下。</text:p>
</office:text></office:body></office:document>
"#;

pub fn libreoffice_commented_pdf(dir: &Path) -> Vec<u8> {
    let source = dir.join("commented.fodt");
    std::fs::write(&source, COMMENTED_FODT).expect("write fodt");
    let profile = dir.join("lo-profile");
    tool(
        Command::new("soffice")
            .arg(format!(
                "-env:UserInstallation=file://{}",
                profile.display()
            ))
            .args([
                "--headless",
                "--convert-to",
                r#"pdf:writer_pdf_Export:{"ExportNotes":{"type":"boolean","value":"true"}}"#,
                "--outdir",
            ])
            .arg(dir)
            .arg(&source),
    );
    std::fs::read(dir.join("commented.pdf")).expect("soffice made no PDF")
}

#[test]
fn pdf_comment_exported_by_libreoffice() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pdf = libreoffice_commented_pdf(dir.path());
    let sink = run(FileType::Pdf, pdf, "commented.pdf");
    let page = part(&sink, "commented.pdf/page 1");
    assert!(page.text.contains("季度工作安排"), "{page:?}");
    assert!(!page.text.contains("机密"), "{page:?}");
    let annot = part(&sink, "commented.pdf/page 1#annot");
    assert_eq!(annot.role, PartRole::Annotation);
    assert!(annot.text.contains("机密★1年 内部讨论稿"), "{annot:?}");
    assert!(annot.text.contains("Author: 李四"), "{annot:?}");
    assert_eq!(annot.text.matches("内部讨论稿").count(), 1, "{annot:?}");
}

// ---------------------------------------------------------------------------------------
// Images

/// A 200×100 white image with ImageMagick, with a comment (`-set comment`).
fn magick(dir: &Path, name: &str, comment: Option<&str>) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut cmd = Command::new("convert");
    cmd.args(["-size", "200x100", "xc:white"]);
    if let Some(comment) = comment {
        cmd.args(["-set", "comment", comment]);
    }
    tool(cmd.arg(&path));
    path
}

fn exiftool(path: &Path, tags: &[&str]) {
    tool(
        Command::new("exiftool")
            .args(["-q", "-overwrite_original", "-charset", "exif=utf8"])
            .args(tags)
            .arg(path),
    );
}

#[test]
fn jpeg_exif_text_fields_and_comment_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jpg = magick(dir.path(), "photo.jpg", Some("会议纪要 第3稿"));
    exiftool(
        &jpg,
        &[
            "-XPComment=机密★5年",
            "-XPTitle=年度计划",
            "-ImageDescription=内部资料",
            "-UserComment=联系人身份证 11010519491231002X",
            "-Artist=张三",
            "-Copyright=某单位",
        ],
    );
    let sink = run(FileType::Jpeg, std::fs::read(&jpg).unwrap(), "photo.jpg");
    let exif = part(&sink, "photo.jpg#exif");
    assert_eq!(exif.role, PartRole::Metadata);
    assert_eq!(
        exif.text,
        "ImageDescription: 内部资料\nArtist: 张三\nCopyright: 某单位\n\
         UserComment: 联系人身份证 11010519491231002X\nXPTitle: 年度计划\nXPComment: 机密★5年\n"
    );
    let comment = part(&sink, "photo.jpg#comment");
    assert_eq!(comment.role, PartRole::Metadata);
    assert_eq!(comment.text, "Comment: 会议纪要 第3稿\n");
}

#[test]
fn jpeg_user_comment_in_ascii_and_xmp_description() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jpg = magick(dir.path(), "plain.jpg", None);
    // exiftool writes a plain-ASCII UserComment with the ASCII prefix.
    exiftool(
        &jpg,
        &["-UserComment=TOP SECRET", "-XMP-dc:Description=绝密★长期"],
    );
    let sink = run(FileType::Jpeg, std::fs::read(&jpg).unwrap(), "plain.jpg");
    assert_eq!(
        part(&sink, "plain.jpg#exif").text,
        "UserComment: TOP SECRET\n"
    );
    let xmp = part(&sink, "plain.jpg#xmp");
    assert!(xmp.text.contains("XMP: 绝密★长期\n"), "{xmp:?}");
}

#[test]
fn png_text_chunks_and_xmp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let png = magick(dir.path(), "shot.png", Some("秘密★1年"));
    exiftool(
        &png,
        &["-PNG:Title=标题 内部使用", "-XMP-dc:Description=绝密★长期"],
    );
    let sink = run(FileType::Png, std::fs::read(&png).unwrap(), "shot.png");
    let text = part(&sink, "shot.png#text");
    assert_eq!(text.role, PartRole::Metadata);
    // ImageMagick's own timestamps are left out.
    assert_eq!(text.text, "comment: 秘密★1年\nTitle: 标题 内部使用\n");
    assert!(part(&sink, "shot.png#xmp").text.contains("绝密★长期"));
}

#[test]
fn tiff_xp_comment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tif = magick(dir.path(), "scan.tif", None);
    exiftool(&tif, &["-XPComment=机密★5年", "-XPSubject=专项工作"]);
    let sink = run(FileType::Tiff, std::fs::read(&tif).unwrap(), "scan.tif");
    let exif = part(&sink, "scan.tif#exif");
    assert!(exif.text.contains("XPComment: 机密★5年\n"), "{exif:?}");
    assert!(exif.text.contains("XPSubject: 专项工作\n"), "{exif:?}");
}

#[test]
fn images_without_metadata_have_no_metadata_parts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jpg = magick(dir.path(), "bare.jpg", None);
    let sink = run(FileType::Jpeg, std::fs::read(&jpg).unwrap(), "bare.jpg");
    assert!(
        sink.parts.iter().all(|p| p.role != PartRole::Metadata),
        "{:?}",
        sink.parts
    );
}
