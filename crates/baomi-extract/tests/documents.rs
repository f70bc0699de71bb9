//! Document extraction on real files: the OOXML and ODF fixtures are made by LibreOffice at
//! test time from the flat-ODF sources in `tests/fixtures/documents/` (headers, runs split by
//! formatting, tracked deletion, hidden text, comments, footnotes, text box, table, sheets,
//! speaker notes); text files are encoded with encoding_rs; the OFD package is assembled by
//! hand following GB/T 33190 (no OFD producer is available here).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use baomi_core::{Finding, FindingKind, Part, PartRole};
use baomi_extract::{Blob, FileType, Limits, extract_as};

mod common;
use common::Collect;

impl Collect {
    /// Text of all parts with `role` whose path ends with `suffix`, joined by newlines.
    fn text(&self, role: PartRole, suffix: &str) -> String {
        self.parts
            .iter()
            .filter(|p| p.role == role && p.path.ends_with(suffix))
            .map(|p| p.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn all(&self, role: PartRole) -> String {
        self.text(role, "")
    }

    fn has_finding(&self, kind: FindingKind) -> bool {
        self.findings.iter().any(|f| f.kind == kind)
    }

    /// Findings about the content (the type-mismatch check belongs to sniffing, not here).
    fn problems(&self) -> Vec<&Finding> {
        self.findings
            .iter()
            .filter(|f| f.kind != FindingKind::TypeMismatch)
            .collect()
    }

    fn describe(&self) -> String {
        let mut s = String::new();
        for p in &self.parts {
            s.push_str(&format!(
                "{:?} {} line {}: {:?}\n",
                p.role, p.path, p.first_line, p.text
            ));
        }
        for f in &self.findings {
            s.push_str(&format!("finding {:?} {}: {}\n", f.kind, f.part, f.reason));
        }
        s
    }
}

fn run_with(ty: FileType, blob: Blob, name: &str, limits: &Limits) -> Collect {
    let mut sink = Collect::default();
    extract_as(ty, blob, name, limits, &mut sink);
    sink
}

fn run(ty: FileType, bytes: Vec<u8>, name: &str) -> Collect {
    run_with(ty, Blob::from_vec(bytes), name, &Limits::default())
}

// ---------------------------------------------------------------------------------------
// LibreOffice fixtures

/// Directory holding `doc.docx`, `doc.odt`, `sheet.xlsx`, `slides.pptx`, converted once per
/// test run by LibreOffice with its own profile (so a running office does not interfere).
fn office_fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("baomi-docs-fixtures-")
            .tempdir()
            .expect("temp dir")
            .keep();
        let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/documents");
        let profile = format!("-env:UserInstallation=file://{}/profile", dir.display());
        for (source, format) in [
            ("doc.fodt", "docx"),
            ("doc.fodt", "odt"),
            ("sheet.fods", "xlsx"),
            ("slides.fodp", "pptx"),
        ] {
            let output = Command::new("soffice")
                .arg(&profile)
                .args(["--headless", "--convert-to", format, "--outdir"])
                .arg(&dir)
                .arg(sources.join(source))
                .output()
                .expect("soffice (LibreOffice) must be installed to make the fixtures");
            let stem = source.split('.').next().unwrap_or(source);
            let made = dir.join(format!("{stem}.{format}"));
            assert!(
                made.exists(),
                "soffice did not make {}: {}",
                made.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        // The office profile is only needed while converting; the fixtures stay.
        let _ = std::fs::remove_dir_all(dir.join("profile"));
        dir
    })
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(office_fixtures().join(name)).expect("fixture")
}

#[test]
fn docx_header_body_runs_and_annotations() {
    let out = run(FileType::Docx, fixture("doc.docx"), "doc.docx");
    let dump = out.describe();
    let header = out.text(PartRole::HeaderFooter, "word/header1.xml");
    assert!(header.contains("机密★10年"), "{dump}");
    assert!(
        out.all(PartRole::HeaderFooter).contains("页脚文字"),
        "{dump}"
    );

    let body = out.text(PartRole::Body, "word/document.xml");
    // 机 and 密 are in two runs (different formatting): they must join.
    assert!(body.contains("本文件属于机密资料"), "{dump}");
    // Paragraphs are lines; the first line is the first paragraph.
    assert_eq!(body.lines().next(), Some("第一行标题"), "{dump}");
    // Text box content once (mc:Choice read, mc:Fallback skipped), table cells present.
    assert_eq!(body.matches("文本框里的内容").count(), 1, "{dump}");
    assert!(body.contains("110101199003071234"), "{dump}");
    // Deleted and hidden text are not body text…
    assert!(!body.contains("已删除的绝密内容"), "{dump}");
    assert!(!body.contains("隐藏的秘密文字"), "{dump}");
    assert!(body.contains("保留文字结尾。"), "{dump}");
    // …but separate Annotation parts.
    let deleted = out.text(PartRole::Annotation, "word/document.xml#deleted");
    assert_eq!(deleted, "已删除的绝密内容", "{dump}");
    let hidden = out.text(PartRole::Annotation, "word/document.xml#hidden");
    assert_eq!(hidden, "隐藏的秘密文字", "{dump}");
    assert!(
        out.text(PartRole::Annotation, "word/comments.xml")
            .contains("批注内容请核实"),
        "{dump}"
    );
    assert!(
        out.text(PartRole::Annotation, "word/footnotes.xml")
            .contains("脚注说明文字"),
        "{dump}"
    );

    // Properties: title is the Subject, custom property and keywords are metadata.
    assert_eq!(out.all(PartRole::Subject), "关于年度预算的通知", "{dump}");
    let meta = out.all(PartRole::Metadata);
    assert!(meta.contains("密级: 秘密"), "{dump}");
    assert!(meta.contains("内部资料"), "{dump}");
    assert!(out.problems().is_empty(), "{dump}");
}

#[test]
fn odt_header_from_styles_and_content() {
    let out = run(FileType::Odt, fixture("doc.odt"), "doc.odt");
    let dump = out.describe();
    assert!(
        out.text(PartRole::HeaderFooter, "styles.xml")
            .contains("机密★10年"),
        "{dump}"
    );
    let body = out.text(PartRole::Body, "content.xml");
    assert_eq!(body.lines().next(), Some("第一行标题"), "{dump}");
    assert!(body.contains("本文件属于机密资料"), "{dump}");
    assert!(body.contains("文本框里的内容"), "{dump}");
    assert!(body.contains("身份证号\t110101199003071234"), "{dump}");
    assert!(!body.contains("已删除的绝密内容"), "{dump}");
    assert!(!body.contains("批注内容请核实"), "{dump}");
    let notes = out.text(PartRole::Annotation, "content.xml#annotations");
    assert!(
        notes.contains("批注内容请核实") && notes.contains("脚注说明文字"),
        "{dump}"
    );
    assert!(
        !notes.contains("王五"),
        "annotation author is not text: {dump}"
    );
    assert_eq!(
        out.text(PartRole::Annotation, "content.xml#deleted"),
        "已删除的绝密内容",
        "{dump}"
    );
    assert_eq!(out.all(PartRole::Subject), "关于年度预算的通知", "{dump}");
    assert!(out.all(PartRole::Metadata).contains("密级: 秘密"), "{dump}");
}

#[test]
fn xlsx_cells_sheets_header_and_comments() {
    let out = run(FileType::Xlsx, fixture("sheet.xlsx"), "sheet.xlsx");
    let dump = out.describe();
    let first = out.text(PartRole::Body, "sheet.xlsx/人员名单");
    assert!(
        first.contains("张三\t110101199003071234\t12345.5"),
        "{dump}"
    );
    assert_eq!(first.lines().next(), Some("姓名\t身份证号\t工资"), "{dump}");
    assert!(
        out.text(PartRole::Body, "sheet.xlsx/第二页")
            .contains("13800138000"),
        "{dump}"
    );
    let names = out.text(PartRole::Body, "xl/workbook.xml#sheets");
    assert_eq!(names, "人员名单\n第二页", "{dump}");
    let header = out.text(PartRole::HeaderFooter, "人员名单#header-footer");
    assert!(header.lines().any(|l| l == "秘密★5年"), "{dump}");
    assert!(
        out.all(PartRole::Annotation).contains("工资需复核"),
        "{dump}"
    );
    assert_eq!(out.all(PartRole::Subject), "人员名单", "{dump}");
}

#[test]
fn pptx_slides_in_order_and_notes() {
    let out = run(FileType::Pptx, fixture("slides.pptx"), "slides.pptx");
    let dump = out.describe();
    let bodies: Vec<&Part> = out
        .parts
        .iter()
        .filter(|p| p.role == PartRole::Body && p.path.contains("ppt/slides/"))
        .collect();
    assert_eq!(bodies.len(), 2, "{dump}");
    assert_eq!(bodies[0].text, "第一张幻灯片\n项目进度汇报", "{dump}");
    assert_eq!(bodies[1].text, "第二张幻灯片", "{dump}");
    let notes = out.all(PartRole::Annotation);
    assert!(notes.contains("演讲者备注：涉密内容不要外传"), "{dump}");
    // Master placeholders only hold prompts: not reported.
    assert!(
        !out.all(PartRole::HeaderFooter).contains("Click to edit"),
        "{dump}"
    );
    assert_eq!(out.all(PartRole::Subject), "汇报材料", "{dump}");
}

// ---------------------------------------------------------------------------------------
// Broken and nested packages

/// Copy a zip, replacing or adding entries.
fn rewrite_zip(source: &[u8], change: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::{Cursor, Read};
    let mut input = zip::ZipArchive::new(Cursor::new(source)).expect("zip");
    let mut output = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for i in 0..input.len() {
        let mut entry = input.by_index(i).expect("entry");
        let name = entry.name().expect("entry name").into_owned();
        if change.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read");
        output.start_file(name, options).expect("start");
        output.write_all(&data).expect("write");
    }
    for (name, data) in change {
        output.start_file(*name, options).expect("start");
        output.write_all(data).expect("write");
    }
    output.finish().expect("finish").into_inner()
}

#[test]
fn truncated_docx_is_unreadable_not_a_panic() {
    let bytes = fixture("doc.docx");
    let half = bytes[..bytes.len() / 2].to_vec();
    let out = run(FileType::Docx, half, "cut.docx");
    let dump = out.describe();
    assert!(out.has_finding(FindingKind::Unreadable), "{dump}");
    assert!(out.parts.iter().all(|p| p.role == PartRole::Name), "{dump}");
}

#[test]
fn docx_with_cut_document_xml_keeps_text_read_so_far() {
    let bytes = fixture("doc.docx");
    let document = {
        use std::io::{Cursor, Read};
        let mut zip = zip::ZipArchive::new(Cursor::new(&bytes)).expect("zip");
        let mut entry = zip.by_name("word/document.xml").expect("document");
        let mut text = String::new();
        entry.read_to_string(&mut text).expect("read");
        text
    };
    let cut_at = document.find("保留文字").expect("marker");
    let broken = rewrite_zip(
        &bytes,
        &[("word/document.xml", &document.as_bytes()[..cut_at])],
    );
    let out = run(FileType::Docx, broken, "broken.docx");
    let dump = out.describe();
    assert!(
        out.text(PartRole::Body, "word/document.xml")
            .contains("本文件属于机密资料"),
        "{dump}"
    );
    assert!(
        out.findings
            .iter()
            .any(|f| f.kind == FindingKind::Unreadable && f.part.ends_with("word/document.xml")),
        "{dump}"
    );
    // The rest of the package is still read.
    assert!(
        out.all(PartRole::HeaderFooter).contains("机密★10年"),
        "{dump}"
    );
}

#[test]
fn long_docx_body_comes_in_chunks_with_line_numbers() {
    let bytes = fixture("doc.docx");
    let paragraphs: String = (1..=3000)
        .map(|n| format!("<w:p><w:r><w:t>第{n}段 机</w:t></w:r><w:r><w:t>密材料</w:t></w:r></w:p>"))
        .collect();
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{paragraphs}</w:body></w:document>"#
    );
    let long = rewrite_zip(&bytes, &[("word/document.xml", document.as_bytes())]);
    let limits = Limits {
        text_chunk: 4096,
        ..Limits::default()
    };
    let out = run_with(FileType::Docx, Blob::from_vec(long), "long.docx", &limits);
    let chunks: Vec<&Part> = out
        .parts
        .iter()
        .filter(|p| p.role == PartRole::Body && p.path.ends_with("word/document.xml"))
        .collect();
    assert!(chunks.len() > 5, "{} chunks", chunks.len());
    let mut line = 1;
    for chunk in &chunks {
        assert_eq!(chunk.first_line, line);
        let first = chunk.text.lines().next().unwrap_or("");
        assert_eq!(first, format!("第{line}段 机密材料"));
        line += chunk.text.matches('\n').count() as u32;
    }
    assert_eq!(
        chunks.last().map(|c| c.text.lines().last()),
        Some(Some("第3000段 机密材料"))
    );
}

#[test]
fn embedded_objects_are_handed_to_the_walker() {
    let outer = fixture("doc.docx");
    let inner = fixture("doc.odt");
    let nested = rewrite_zip(&outer, &[("word/embeddings/附件.odt", &inner)]);
    let out = run(FileType::Docx, nested, "outer.docx");
    let dump = out.describe();
    assert!(
        out.parts
            .iter()
            .any(|p| p.role == PartRole::Name && p.path == "outer.docx/word/embeddings/附件.odt"),
        "{dump}"
    );
}

#[test]
fn encrypted_odf_is_reported() {
    let manifest = br#"<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"><manifest:encryption-data manifest:checksum-type="SHA1/1K" manifest:checksum="x"/></manifest:file-entry></manifest:manifest>"#;
    let odt = rewrite_zip(&fixture("doc.odt"), &[("META-INF/manifest.xml", manifest)]);
    let out = run(FileType::Odt, odt, "locked.odt");
    assert!(
        out.has_finding(FindingKind::Encrypted),
        "{}",
        out.describe()
    );
}

// ---------------------------------------------------------------------------------------
// OFD

/// A small OFD package, hand-made according to GB/T 33190-2016: OFD.xml → Doc_0/Document.xml
/// → one page and one template page; characters of the marking in separate TextObjects on one
/// baseline, as converters often write them.
fn ofd_package() -> Vec<u8> {
    const NS: &str = "http://www.ofdspec.org/2016";
    let ofd = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ofd:OFD xmlns:ofd="{NS}" Version="1.0" DocType="OFD">
  <ofd:DocBody>
    <ofd:DocInfo>
      <ofd:DocID>4A1B2C3D</ofd:DocID>
      <ofd:Title>关于加强保密管理的通知</ofd:Title>
      <ofd:Author>办公室</ofd:Author>
      <ofd:Subject>保密管理</ofd:Subject>
      <ofd:Keywords><ofd:Keyword>保密</ofd:Keyword><ofd:Keyword>通知</ofd:Keyword></ofd:Keywords>
      <ofd:CustomDatas><ofd:CustomData Name="密级">秘密</ofd:CustomData></ofd:CustomDatas>
    </ofd:DocInfo>
    <ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>
  </ofd:DocBody>
</ofd:OFD>"#
    );
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ofd:Document xmlns:ofd="{NS}">
  <ofd:CommonData>
    <ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>
    <ofd:PublicRes>PublicRes.xml</ofd:PublicRes>
    <ofd:MaxUnitID>20</ofd:MaxUnitID>
    <ofd:TemplatePage ID="2" BaseLoc="Tpls/Tpl_0/Content.xml"/>
  </ofd:CommonData>
  <ofd:Pages>
    <ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/>
  </ofd:Pages>
  <ofd:Annotations>Annots/Annotations.xml</ofd:Annotations>
  <ofd:Attachments>Attachs/Attachments.xml</ofd:Attachments>
</ofd:Document>"#
    );
    let page = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ofd:Page xmlns:ofd="{NS}">
  <ofd:Template TemplateID="2" ZOrder="Background"/>
  <ofd:Content>
    <ofd:Layer ID="3">
      <ofd:TextObject ID="4" Boundary="20 25 6 6" Font="10" Size="5"><ofd:TextCode X="0" Y="5">机</ofd:TextCode></ofd:TextObject>
      <ofd:TextObject ID="5" Boundary="26 25 6 6" Font="10" Size="5"><ofd:TextCode X="0" Y="5">密</ofd:TextCode></ofd:TextObject>
      <ofd:TextObject ID="6" Boundary="32 25 6 6" Font="10" Size="5"><ofd:TextCode X="0" Y="5">★</ofd:TextCode></ofd:TextObject>
      <ofd:TextObject ID="7" Boundary="38 25 20 6" Font="10" Size="5"><ofd:TextCode X="0" Y="5">10年</ofd:TextCode></ofd:TextObject>
      <ofd:TextObject ID="8" Boundary="20 60 170 20" Font="10" Size="4"><ofd:TextCode X="0" Y="4" DeltaX="g 9 4">各单位：请于月底前完成自查。</ofd:TextCode><ofd:TextCode X="0" Y="12">联系人身份证号110101199003071234</ofd:TextCode></ofd:TextObject>
    </ofd:Layer>
  </ofd:Content>
</ofd:Page>"#
    );
    let template = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ofd:Page xmlns:ofd="{NS}"><ofd:Content><ofd:Layer ID="11">
  <ofd:TextObject ID="12" Boundary="90 285 40 6" Font="10" Size="3.5"><ofd:TextCode X="0" Y="4">内部资料 注意保存</ofd:TextCode></ofd:TextObject>
</ofd:Layer></ofd:Content></ofd:Page>"#
    );
    let public_res = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ofd:Res xmlns:ofd="{NS}" BaseLoc="Res"><ofd:Fonts><ofd:Font ID="10" FontName="宋体" FamilyName="宋体"/></ofd:Fonts></ofd:Res>"#
    );
    let annotation_index = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ofd:Annotations xmlns:ofd="{NS}"><ofd:Page PageID="1"><ofd:FileLoc>Page_0/Annotation.xml</ofd:FileLoc></ofd:Page></ofd:Annotations>"#
    );
    let annotation = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ofd:PageAnnot xmlns:ofd="{NS}"><ofd:Annot ID="21" Type="Highlight" Creator="审核人"><ofd:Appearance Boundary="20 100 80 10">
  <ofd:TextObject ID="22" Boundary="0 0 80 10" Font="10" Size="4"><ofd:TextCode X="0" Y="5">批注：此段涉密请核实</ofd:TextCode></ofd:TextObject>
</ofd:Appearance></ofd:Annot></ofd:PageAnnot>"#
    );
    let attachment_index = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ofd:Attachments xmlns:ofd="{NS}"><ofd:Attachment ID="31" Name="附件说明" Format="txt" Visible="true"><ofd:FileLoc>附件说明.txt</ofd:FileLoc></ofd:Attachment></ofd:Attachments>"#
    );
    let attachment = "附件：人员名单见另册。".to_owned();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, body) in [
        ("Doc_0/Annots/Annotations.xml", &annotation_index),
        ("Doc_0/Annots/Page_0/Annotation.xml", &annotation),
        ("Doc_0/Attachs/Attachments.xml", &attachment_index),
        ("Doc_0/Attachs/附件说明.txt", &attachment),
        ("OFD.xml", &ofd),
        ("Doc_0/Document.xml", &document),
        ("Doc_0/PublicRes.xml", &public_res),
        ("Doc_0/Pages/Page_0/Content.xml", &page),
        ("Doc_0/Tpls/Tpl_0/Content.xml", &template),
    ] {
        zip.start_file(name, options).expect("start");
        zip.write_all(body.as_bytes()).expect("write");
    }
    zip.finish().expect("finish").into_inner()
}

#[test]
fn ofd_pages_templates_and_docinfo() {
    let out = run(FileType::Ofd, ofd_package(), "通知.ofd");
    let dump = out.describe();
    let page = out.text(PartRole::Body, "Doc_0/Pages/Page_0/Content.xml");
    assert_eq!(
        page, "机密★10年\n各单位：请于月底前完成自查。\n联系人身份证号110101199003071234",
        "{dump}"
    );
    assert_eq!(
        out.all(PartRole::HeaderFooter),
        "内部资料 注意保存",
        "{dump}"
    );
    assert_eq!(
        out.all(PartRole::Annotation),
        "批注：此段涉密请核实",
        "{dump}"
    );
    let attached = out.text(PartRole::Body, "Doc_0/Attachs/附件说明.txt");
    assert_eq!(attached, "附件：人员名单见另册。", "{dump}");
    assert_eq!(
        out.all(PartRole::Subject),
        "关于加强保密管理的通知",
        "{dump}"
    );
    let meta = out.all(PartRole::Metadata);
    assert!(
        meta.contains("办公室") && meta.contains("保密") && meta.contains("密级: 秘密"),
        "{dump}"
    );
    assert!(out.problems().is_empty(), "{dump}");
}

#[test]
fn ofd_without_document_is_unreadable() {
    let out = run(FileType::Ofd, b"PK\x03\x04 not really".to_vec(), "bad.ofd");
    assert!(
        out.has_finding(FindingKind::Unreadable),
        "{}",
        out.describe()
    );
}

// ---------------------------------------------------------------------------------------
// Plain text

const SAMPLE: &str = "机密★10年\n关于加强保密管理工作的通知\n各单位：为进一步做好保密工作，现将有关事项通知如下。\n一、严格执行国家秘密载体管理规定，不得在非涉密计算机上处理涉密信息。\n二、联系人张三，电话一三八零零一三八零零零。\n";

#[test]
fn gbk_text_decodes() {
    let (bytes, _, _) = encoding_rs::GBK.encode(SAMPLE);
    let out = run(FileType::Text, bytes.into_owned(), "gbk.txt");
    assert_eq!(out.all(PartRole::Body), SAMPLE);
}

#[test]
fn big5_text_decodes() {
    let traditional = "機密★10年\n關於加強保密管理工作的通知\n各單位：為進一步做好保密工作，現將有關事項通知如下。\n一、嚴格執行國家秘密載體管理規定，不得在非涉密電腦上處理涉密資訊。\n";
    let (bytes, _, _) = encoding_rs::BIG5.encode(traditional);
    let out = run(FileType::Text, bytes.into_owned(), "big5.txt");
    assert_eq!(out.all(PartRole::Body), traditional);
}

fn utf16(text: &str, little_endian: bool, bom: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    if bom {
        bytes.extend_from_slice(if little_endian {
            &[0xFF, 0xFE]
        } else {
            &[0xFE, 0xFF]
        });
    }
    for unit in text.encode_utf16() {
        let pair = if little_endian {
            unit.to_le_bytes()
        } else {
            unit.to_be_bytes()
        };
        bytes.extend_from_slice(&pair);
    }
    bytes
}

#[test]
fn utf16_text_decodes_with_and_without_bom() {
    let out = run(FileType::Text, utf16(SAMPLE, true, true), "le.txt");
    assert_eq!(out.all(PartRole::Body), SAMPLE);
    let out = run(FileType::Text, utf16(SAMPLE, false, true), "be.txt");
    assert_eq!(out.all(PartRole::Body), SAMPLE);
    // Without BOM: recognised by the NUL bytes of its ASCII characters.
    let log =
        "2024-05-01 10:00:00 INFO user=zhangsan action=export file=report.docx 机密\r\n".repeat(20);
    let out = run(FileType::Text, utf16(&log, true, false), "nobom.log");
    assert_eq!(out.all(PartRole::Body), log.replace("\r\n", "\n"));
}

#[test]
fn bomless_utf16_chinese_decodes_and_legacy_text_is_not_taken_for_it() {
    let out = run(FileType::Text, utf16(SAMPLE, true, false), "le.txt");
    assert_eq!(out.all(PartRole::Body), SAMPLE);
    let out = run(FileType::Text, utf16(SAMPLE, false, false), "be.txt");
    assert_eq!(out.all(PartRole::Body), SAMPLE);
    // Even-length GBK text must still be read as GBK.
    let even = if encoding_rs::GBK.encode(SAMPLE).0.len().is_multiple_of(2) {
        SAMPLE.to_owned()
    } else {
        format!("{SAMPLE}x")
    };
    let (bytes, _, _) = encoding_rs::GBK.encode(&even);
    let out = run(FileType::Text, bytes.into_owned(), "gbk.txt");
    assert_eq!(out.all(PartRole::Body), even);
}

#[test]
fn crlf_becomes_lf() {
    let out = run(
        FileType::Text,
        "机密\r\n正文\r\n".as_bytes().to_vec(),
        "crlf.txt",
    );
    assert_eq!(out.all(PartRole::Body), "机密\n正文\n");
}

/// A text larger than `text_chunk` comes in several parts, cut at line ends, with the line
/// number each starts at; together they are the whole text.
fn check_streaming(bytes: Vec<u8>, expected: &str) {
    let mut file = tempfile::NamedTempFile::new().expect("temp");
    file.write_all(&bytes).expect("write");
    let limits = Limits {
        text_chunk: 4096,
        ..Limits::default()
    };
    let blob = Blob::from_path(file.path()).expect("blob");
    let out = run_with(FileType::Text, blob, "big.log", &limits);
    let parts: Vec<&Part> = out
        .parts
        .iter()
        .filter(|p| p.role == PartRole::Body)
        .collect();
    assert!(
        parts.len() > 10,
        "expected many chunks, got {}",
        parts.len()
    );
    let mut line = 1u32;
    let mut joined = String::new();
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(part.first_line, line, "chunk {i}");
        if i + 1 < parts.len() {
            assert!(
                part.text.ends_with('\n'),
                "chunk {i} is not cut at a line end"
            );
        }
        // Each chunk starts with a whole line: line N of the source.
        let first = part.text.lines().next().unwrap_or("");
        assert_eq!(
            Some(first),
            expected.lines().nth(line as usize - 1),
            "chunk {i}"
        );
        line += part.text.matches('\n').count() as u32;
        joined.push_str(&part.text);
    }
    assert_eq!(joined, expected);
}

fn big_text() -> String {
    (1..=6000)
        .map(|n| format!("第{n}行 记录 机密文件传输日志 user{n}\n"))
        .collect()
}

#[test]
fn large_utf8_text_streams_in_chunks() {
    let text = big_text();
    check_streaming(text.clone().into_bytes(), &text);
}

#[test]
fn large_gbk_and_utf16_text_stream_in_chunks() {
    let text = big_text();
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    check_streaming(gbk.into_owned(), &text);
    check_streaming(utf16(&text, true, true), &text);
}

// ---------------------------------------------------------------------------------------
// HTML and XML

#[test]
fn html_title_meta_body_and_charset() {
    let page = r#"<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">
<title>关于&nbsp;保密检查的通知</title>
<meta name="keywords" content="机密,内部">
<meta name="author" content="办公室">
<style>p { color: red } .x:before { content: "<b>样式</b>" }</style>
<script>var s = "<p>脚本里的机密</p>"; if (a < b) {}</script>
</head><body>
<div>机密★10年</div>
<p>各单位：
   请于月底前完成&amp;提交&#x62A5;&#21578;。</p>
<!-- 注释里的内容 -->
<table><tr><td>姓名</td><td>身份证号</td></tr><tr><td>张三</td><td>110101199003071234</td></tr></table>
<p>a &lt; b<br>下一行</p>
</body></html>"#;
    let (bytes, _, _) = encoding_rs::GBK.encode(page);
    let out = run(FileType::Html, bytes.into_owned(), "notice.html");
    let dump = out.describe();
    assert_eq!(out.all(PartRole::Subject), "关于 保密检查的通知", "{dump}");
    assert_eq!(out.all(PartRole::Metadata), "机密,内部\n办公室", "{dump}");
    let body = out.all(PartRole::Body);
    assert_eq!(body.lines().next(), Some("机密★10年"), "{dump}");
    assert!(
        body.contains("各单位： 请于月底前完成&提交报告。"),
        "{dump}"
    );
    assert!(body.contains("张三\t110101199003071234"), "{dump}");
    assert!(body.contains("a < b\n下一行"), "{dump}");
    let unclosed = run(
        FileType::Html,
        "<table><tr><td>姓名<td>张三<tr><td>电话<td>13800138000</table>"
            .as_bytes()
            .to_vec(),
        "t.html",
    );
    assert_eq!(
        unclosed.all(PartRole::Body),
        "姓名\t张三\n电话\t13800138000"
    );
    for absent in ["脚本", "样式", "注释", "color"] {
        assert!(!body.contains(absent), "{absent} leaked: {dump}");
    }
}

#[test]
fn generic_xml_gives_text_nodes_only() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
<record id="7"><level>机密</level><name>张三</name><note><![CDATA[身份证 110101199003071234]]></note><bomb>&b;</bomb></record>"#;
    let out = run(FileType::Xml, xml.as_bytes().to_vec(), "r.xml");
    let body = out.all(PartRole::Body);
    assert_eq!(body, "机密\n张三\n身份证 110101199003071234\n&b;\n");
    assert!(!body.contains("aaaaaaaaaa"), "entities must not expand");
}

#[test]
fn flat_odf_sniffed_as_xml_is_read_as_odf() {
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/documents");
    let fodt = std::fs::read(sources.join("doc.fodt")).expect("fodt");
    let out = run(FileType::Xml, fodt, "doc.fodt");
    let dump = out.describe();
    assert_eq!(
        out.all(PartRole::HeaderFooter),
        "机密★10年\n页脚文字",
        "{dump}"
    );
    let body = out.all(PartRole::Body);
    assert_eq!(body.lines().next(), Some("第一行标题"), "{dump}");
    assert!(
        !body.contains("机密★10年") && !body.contains("已删除的绝密内容"),
        "{dump}"
    );
    assert_eq!(out.all(PartRole::Subject), "关于年度预算的通知", "{dump}");
    let fods = std::fs::read(sources.join("sheet.fods")).expect("fods");
    let out = run(FileType::Xml, fods, "sheet.fods");
    let dump = out.describe();
    assert!(
        out.all(PartRole::Body)
            .contains("张三\t110101199003071234\t12345.5"),
        "{dump}"
    );
    assert!(
        out.all(PartRole::HeaderFooter).contains("秘密★5年"),
        "{dump}"
    );
    assert!(
        out.all(PartRole::Annotation).contains("工资需复核"),
        "{dump}"
    );
}

#[test]
fn malformed_xml_keeps_text_and_reports() {
    let out = run(
        FileType::Xml,
        b"<a><b>\xe6\x9c\xba\xe5\xaf\x86</b><c>cut".to_vec(),
        "cut.xml",
    );
    assert!(
        out.all(PartRole::Body).contains("机密"),
        "{}",
        out.describe()
    );
    assert!(
        out.has_finding(FindingKind::Unreadable),
        "{}",
        out.describe()
    );
}

// ---------------------------------------------------------------------------------------
// Robustness

/// Damaged copies of every fixture (cut at many lengths, bytes overwritten) must give text
/// or findings, never a parser panic (the walker turns those into "parser failed").
#[test]
fn damaged_documents_never_panic() {
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/documents");
    let mut samples: Vec<(FileType, Vec<u8>)> = vec![
        (FileType::Docx, fixture("doc.docx")),
        (FileType::Odt, fixture("doc.odt")),
        (FileType::Xlsx, fixture("sheet.xlsx")),
        (FileType::Pptx, fixture("slides.pptx")),
        (FileType::Ofd, ofd_package()),
        (
            FileType::Xml,
            std::fs::read(sources.join("doc.fodt")).expect("fodt"),
        ),
    ];
    let html = "<html><title>标题</title><body><p>机密&#x4E2D;<td a='>'>x</td><script>1<2</script>";
    samples.push((FileType::Html, html.as_bytes().to_vec()));
    let (gbk, _, _) = encoding_rs::GBK.encode(SAMPLE);
    samples.push((FileType::Text, gbk.into_owned()));
    let mut seed = 0x9E37_79B9_u32;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed as usize
    };
    for (ty, bytes) in samples {
        let mut variants: Vec<Vec<u8>> = Vec::new();
        for step in 1..12 {
            variants.push(bytes[..bytes.len() * step / 12].to_vec());
        }
        for _ in 0..30 {
            let mut damaged = bytes.clone();
            for _ in 0..8 {
                let at = next() % damaged.len();
                damaged[at] = next() as u8;
            }
            variants.push(damaged);
        }
        for damaged in variants {
            let out = run(ty, damaged, "damaged");
            assert!(
                !out.findings
                    .iter()
                    .any(|f| f.reason.contains("parser failed")),
                "{ty}: {}",
                out.describe()
            );
        }
    }
}

/// The hand-made OFD package is the fuzz seed of the `ofd` target:
/// `cargo test -p baomi-extract --test documents -- --ignored write_fuzz_seed`.
#[test]
#[ignore = "writes fuzz/corpus/ofd/hand-made.ofd"]
fn write_fuzz_seed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/ofd");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hand-made.ofd"), ofd_package()).unwrap();
}
