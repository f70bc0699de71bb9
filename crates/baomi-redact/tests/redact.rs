//! Redaction end to end, on documents made by LibreOffice: the redacted copy scans clean with
//! the engine and the default policy (no `pii.*` finding left), the text around the personal
//! data and the formatting stay, the copy still opens in LibreOffice, and bad input gets a
//! clear error.
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use baomi_core::{Channel, Finding, FindingKind, Part};
use baomi_engine::{Engine, EngineConfig, Limits};
use baomi_extract::{Blob, Sink};
use baomi_redact::{Format, RedactError, redact};

const SOFFICE: &str = "/usr/bin/soffice";

/// LibreOffice, or `None` (and a message) where it is not installed.
fn soffice() -> Option<&'static str> {
    if Path::new(SOFFICE).exists() {
        Some(SOFFICE)
    } else {
        eprintln!(
            "SKIPPED: {SOFFICE} is not installed (apt-get install libreoffice-writer-nogui libreoffice-calc-nogui)"
        );
        None
    }
}

/// Convert `src` with LibreOffice into `dir`, returning the output file.
fn convert(dir: &Path, src: &Path, to: &str, ext: &str, infilter: Option<&str>) -> PathBuf {
    let mut cmd = Command::new(SOFFICE);
    // A profile of its own: tests run in parallel and LibreOffice locks its profile.
    let profile = dir.join(format!("profile-{ext}"));
    cmd.arg(format!(
        "-env:UserInstallation=file://{}",
        profile.display()
    ))
    .args(["--headless", "--norestore"]);
    if let Some(f) = infilter {
        cmd.arg(format!("--infilter={f}"));
    }
    let outdir = dir.join(format!("out-{ext}"));
    cmd.args(["--convert-to", to, "--outdir"])
        .arg(&outdir)
        .arg(src);
    let out = cmd.output().expect("run soffice");
    let stem = src
        .file_stem()
        .expect("stem")
        .to_string_lossy()
        .into_owned();
    let result = outdir.join(format!("{stem}.{ext}"));
    assert!(
        result.exists(),
        "soffice made no {}: {}",
        result.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    result
}

fn pii_after_scan(bytes: &[u8], name: &str) -> Vec<(FindingKind, String)> {
    let engine = Engine::new(EngineConfig::default()).expect("engine");
    let report = engine.inspect(Blob::from_vec(bytes.to_vec()), name, Channel::Scan);
    report
        .findings
        .iter()
        .filter(|f| f.kind.is_personal_data())
        .map(|f| (f.kind, f.part.clone()))
        .collect()
}

/// All text parts the extractor gives, joined: what a reader of the document sees.
fn extracted_text(bytes: &[u8], name: &str) -> String {
    struct Collect(String);
    impl Sink for Collect {
        fn part(&mut self, part: Part) {
            self.0.push_str(&part.text);
            self.0.push('\n');
        }
        fn finding(&mut self, _: Finding) {}
    }
    let mut sink = Collect(String::new());
    baomi_extract::extract(
        Blob::from_vec(bytes.to_vec()),
        name,
        &Limits::default(),
        &mut sink,
    );
    sink.0
}

/// The text with the characters a mask may change taken out: what must be identical before
/// and after redaction.
fn non_personal(text: &str) -> String {
    text.chars()
        .filter(|c| {
            !(c.is_ascii_alphanumeric()
                || matches!(c, '*' | '＊' | '０'..='９' | 'Ａ'..='Ｚ' | 'ａ'..='ｚ'))
        })
        .collect()
}

fn zip_names(bytes: &[u8]) -> Vec<String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("zip");
    (0..zip.len())
        .map(|i| {
            zip.by_index(i)
                .expect("entry")
                .name()
                .expect("name")
                .into_owned()
        })
        .collect()
}

fn zip_entry(bytes: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("zip");
    let mut s = String::new();
    zip.by_name(name)
        .expect("entry")
        .read_to_string(&mut s)
        .expect("utf-8");
    s
}

const LETTER_FODT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
 xmlns:xlink="http://www.w3.org/1999/xlink"
 xmlns:dc="http://purl.org/dc/elements/1.1/"
 xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
 office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.text">
<office:meta><dc:title>走访记录</dc:title><dc:description>联系人手机13712345678</dc:description></office:meta>
<office:styles/>
<office:automatic-styles>
<style:style style:name="B" style:family="text"><style:text-properties fo:font-weight="bold"/></style:style>
</office:automatic-styles>
<office:master-styles><style:master-page style:name="Standard">
<style:header><text:p>服务热线 13912345678</text:p></style:header>
</style:master-page></office:master-styles>
<office:body><office:text>
<text:p>身份证号：<text:span text:style-name="B">110105</text:span>19491231002X 请核对</text:p>
<text:p>手机：１３８１２３４５６７８，谢谢。</text:p>
<text:p>来信请寄 <text:a xlink:href="mailto:zhangsan@example.com">zhangsan@example.com</text:a> 收</text:p>
<text:p>银行卡号 6222 0212 3456 7890 128 已登记<text:note text:note-class="footnote"><text:note-body><text:p>备案人身份证 310115198001011238</text:p></text:note-body></text:note></text:p>
<text:p>会议纪要正文保持不变。<office:annotation><dc:creator>王五</dc:creator><dc:date>2024-01-01T00:00:00</dc:date><text:p>回电 13612345678</text:p></office:annotation></text:p>
<text:p>附注见文末<text:note text:note-class="endnote"><text:note-body><text:p>经办人手机 13512345678</text:p></text:note-body></text:note>。</text:p>
</office:text></office:body></office:document>
"#;

#[test]
fn docx_made_by_libreoffice_scans_clean_and_keeps_its_runs() {
    if soffice().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("letter.fodt");
    std::fs::write(&src, LETTER_FODT).expect("write");
    let docx = convert(dir.path(), &src, "docx", "docx", None);
    let original = std::fs::read(&docx).expect("read");

    let before = pii_after_scan(&original, "letter.docx");
    for kind in [
        FindingKind::ResidentId,
        FindingKind::Mobile,
        FindingKind::Email,
        FindingKind::BankCard,
    ] {
        assert!(
            before.iter().any(|(k, _)| *k == kind),
            "the original must hold {kind}: {before:?}"
        );
    }

    let out = redact(&original, "letter.docx").expect("redact");
    assert_eq!(out.format, Format::Docx);
    assert_eq!(out.by_kind.get(&FindingKind::ResidentId), Some(&2));
    // Body (full width), header, comment, endnote, document description.
    assert_eq!(
        out.by_kind.get(&FindingKind::Mobile),
        Some(&5),
        "{:?}",
        out.by_kind
    );
    assert!(out.by_kind.contains_key(&FindingKind::Email));
    assert!(out.by_kind.contains_key(&FindingKind::BankCard));
    assert_eq!(out.replaced, out.by_kind.values().sum::<usize>());

    let after = pii_after_scan(&out.bytes, "letter.docx");
    assert!(after.is_empty(), "personal data left: {after:?}");

    // The same entries in the same order.
    assert_eq!(zip_names(&out.bytes), zip_names(&original));

    // The bold run still holds the (kept) first six digits, in bold; the rest is masked in
    // its own run.
    let xml = zip_entry(&out.bytes, "word/document.xml");
    assert!(
        xml.contains("<w:b/></w:rPr><w:t>110105</w:t>"),
        "bold run lost: {xml}"
    );
    assert!(xml.contains("********002X"), "{xml}");
    assert!(!xml.contains("19491231002X"));
    for part in [
        "word/comments.xml",
        "word/endnotes.xml",
        "word/header1.xml",
        "docProps/core.xml",
    ] {
        let before = zip_entry(&original, part);
        let after = zip_entry(&out.bytes, part);
        assert_ne!(before, after, "{part} not redacted");
        assert_eq!(non_personal(&before), non_personal(&after), "{part}");
    }
    // The mailto link in the relationships is masked too.
    let rels = zip_entry(&out.bytes, "word/_rels/document.xml.rels");
    assert!(rels.contains("mailto:z***@example.com"), "{rels}");
    assert!(!rels.contains("zhangsan"));

    // Everything that is not personal data reads the same.
    let text_before = extracted_text(&original, "letter.docx");
    let text_after = extracted_text(&out.bytes, "letter.docx");
    assert_eq!(non_personal(&text_before), non_personal(&text_after));
    assert!(
        text_after.contains("身份证号：110105********002X 请核对"),
        "{text_after}"
    );
    assert!(
        text_after.contains("１３８＊＊＊＊５６７８"),
        "{text_after}"
    );
    assert!(text_after.contains("会议纪要正文保持不变。"));

    // LibreOffice still opens it.
    let redacted = dir.path().join("redacted.docx");
    std::fs::write(&redacted, &out.bytes).expect("write");
    let txt = convert(
        dir.path(),
        &redacted,
        "txt:Text (encoded):UTF8",
        "txt",
        None,
    );
    let txt = std::fs::read_to_string(txt).expect("txt");
    assert!(txt.contains("110105********002X"), "{txt}");
    assert!(txt.contains("会议纪要正文保持不变"), "{txt}");
}

#[test]
fn xlsx_numeric_phone_becomes_a_masked_inline_string() {
    if soffice().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("通讯录.csv");
    std::fs::write(
        &src,
        "姓名,手机,身份证,城市\n张三,13812345678,11010519491231002X,北京\n李四,13912345678,,上海\n",
    )
    .expect("write");
    // 44 = comma, 34 = double quote, 76 = UTF-8.
    let xlsx = convert(
        dir.path(),
        &src,
        "xlsx:Calc MS Excel 2007 XML",
        "xlsx",
        Some("CSV:44,34,76"),
    );
    let original = std::fs::read(&xlsx).expect("read");
    let sheet_before = zip_entry(&original, "xl/worksheets/sheet1.xml");
    assert!(
        sheet_before.contains("<v>13812345678</v>"),
        "LibreOffice should store the phone as a number: {sheet_before}"
    );
    assert!(!pii_after_scan(&original, "通讯录.xlsx").is_empty());

    let out = redact(&original, "通讯录.xlsx").expect("redact");
    assert_eq!(out.format, Format::Xlsx);
    assert_eq!(out.by_kind.get(&FindingKind::Mobile), Some(&2));
    assert_eq!(out.by_kind.get(&FindingKind::ResidentId), Some(&1));
    let after = pii_after_scan(&out.bytes, "通讯录.xlsx");
    assert!(after.is_empty(), "personal data left: {after:?}");

    let sheet = zip_entry(&out.bytes, "xl/worksheets/sheet1.xml");
    assert!(!sheet.contains("13812345678"));
    assert!(
        sheet.contains(r#"t="inlineStr"><is><t>138****5678</t></is>"#),
        "{sheet}"
    );
    // The sheet's name and the workbook are untouched.
    assert_eq!(
        zip_entry(&out.bytes, "xl/workbook.xml"),
        zip_entry(&original, "xl/workbook.xml")
    );
    let shared = zip_entry(&out.bytes, "xl/sharedStrings.xml");
    assert!(
        shared.contains("110105********002X") && shared.contains("北京"),
        "{shared}"
    );

    // LibreOffice reads the cells back.
    let redacted = dir.path().join("redacted.xlsx");
    std::fs::write(&redacted, &out.bytes).expect("write");
    let csv = convert(
        dir.path(),
        &redacted,
        "csv:Text - txt - csv (StarCalc):44,34,76",
        "csv",
        None,
    );
    let csv = std::fs::read_to_string(csv).expect("csv");
    assert!(
        csv.contains("张三,138****5678,110105********002X,北京"),
        "{csv}"
    );
}

#[test]
fn html_made_by_libreoffice_masks_text_and_mailto() {
    if soffice().is_none() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("notice.fodt");
    std::fs::write(&src, LETTER_FODT).expect("write");
    let html = convert(dir.path(), &src, "html", "html", None);
    let original = std::fs::read(&html).expect("read");
    assert!(!pii_after_scan(&original, "notice.html").is_empty());
    let out = redact(&original, "notice.html").expect("redact");
    assert!(matches!(out.format, Format::Html { .. }));
    let after = pii_after_scan(&out.bytes, "notice.html");
    assert!(after.is_empty(), "personal data left: {after:?}");
    let page = String::from_utf8(out.bytes.clone()).expect("utf-8");
    assert!(page.contains("mailto:z***@example.com"), "{page}");
    assert!(!page.contains("zhangsan"));
    assert_eq!(
        non_personal(&String::from_utf8_lossy(&original)),
        non_personal(&page)
    );
}

#[test]
fn html_attributes_and_markup_are_kept_byte_for_byte() {
    let page = concat!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>通知</title></head>\n",
        "<body>\n<p class=note>手机：138 <b>1234</b> 5678</p>\n",
        "<a href=\"mailto:zhangsan@example.com\" title=\"联系 13912345678\">写信</a>\n",
        "<img src=\"a.png\" alt='身份证 11010519491231002X'>\n",
        "<input value=13712345678>\n",
        "<!-- 旧号码 13612345678 -->\n",
        "<script>var x = \"13512345678\";</script>\n",
        "</body></html>\n"
    );
    let out = redact(page.as_bytes(), "notice.html").expect("redact");
    let expected = page
        .replace("138 <b>1234</b> 5678", "138 <b>****</b> 5678")
        .replace("mailto:zhangsan@", "mailto:z***@")
        .replace("联系 13912345678", "联系 139****5678")
        .replace("11010519491231002X", "110105********002X")
        .replace("value=13712345678", "value=137****5678")
        .replace("旧号码 13612345678", "旧号码 136****5678");
    assert_eq!(String::from_utf8(out.bytes).expect("utf-8"), expected);
    assert_eq!(out.by_kind.get(&FindingKind::Mobile), Some(&4));
    assert_eq!(out.by_kind.get(&FindingKind::Email), Some(&1));
    assert_eq!(out.by_kind.get(&FindingKind::ResidentId), Some(&1));
}

#[test]
fn text_keeps_its_encoding() {
    let text = "联系人：张三，手机 13812345678，身份证 11010519491231002X。\r\n其余不变。\r\n";
    let masked = "联系人：张三，手机 138****5678，身份证 110105********002X。\r\n其余不变。\r\n";

    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let out = redact(&gbk, "名单.txt").expect("gbk");
    assert_eq!(out.format, Format::Text { encoding: "GBK" });
    assert_eq!(out.bytes, encoding_rs::GBK.encode(masked).0.into_owned());
    assert!(pii_after_scan(&out.bytes, "名单.txt").is_empty());

    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(text.as_bytes());
    let out = redact(&bom, "a.txt").expect("utf-8 bom");
    assert_eq!(&out.bytes[..3], b"\xEF\xBB\xBF");
    assert_eq!(&out.bytes[3..], masked.as_bytes());

    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let out = redact(&utf16, "a.txt").expect("utf-16");
    assert_eq!(
        out.format,
        Format::Text {
            encoding: "UTF-16LE"
        }
    );
    let expected: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(masked.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    assert_eq!(out.bytes, expected);

    // Full-width digits are found through normalisation and masked in full width.
    let out = redact("电话：１３８１２３４５６７８".as_bytes(), "a.txt").expect("full width");
    assert_eq!(
        String::from_utf8(out.bytes).expect("utf-8"),
        "电话：１３８＊＊＊＊５６７８"
    );
}

#[test]
fn clean_input_comes_back_unchanged() {
    let text = "会议纪要：第3季度，共12项，金额 1,234,567 元。".as_bytes();
    let out = redact(text, "a.txt").expect("redact");
    assert_eq!(out.replaced, 0);
    assert_eq!(out.bytes, text);
}

fn truncated_or_skip(dir: &Path) -> Option<Vec<u8>> {
    soffice()?;
    let src = dir.join("t.fodt");
    std::fs::write(&src, LETTER_FODT).expect("write");
    let docx = std::fs::read(convert(dir, &src, "docx", "docx", None)).expect("read");
    Some(docx)
}

#[test]
fn bad_input_gets_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    if let Some(docx) = truncated_or_skip(dir.path()) {
        let cut = &docx[..docx.len() / 2];
        let err = redact(cut, "cut.docx").expect_err("truncated");
        assert!(matches!(err, RedactError::Corrupt(_)), "{err:?}");
        assert!(err.to_string().contains("damaged or truncated"), "{err}");

        // A docx whose document.xml is cut inside a tag.
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let mut zip = zip::ZipArchive::new(Cursor::new(&docx[..])).expect("zip");
        for i in 0..zip.len() {
            let mut e = zip.by_index(i).expect("entry");
            let name = e.name().expect("name").into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).expect("read");
            if name == "word/document.xml" {
                data.truncate(data.len() - 40);
                data.extend_from_slice(b"<w:p");
            }
            w.start_file(name, zip::write::SimpleFileOptions::default())
                .expect("start");
            w.write_all(&data).expect("write");
        }
        let broken = w.finish().expect("finish").into_inner();
        let err = redact(&broken, "broken.docx").expect_err("malformed");
        assert!(
            err.to_string().contains("word/document.xml: malformed XML"),
            "{err}"
        );
    }

    // A zip that is no Office document.
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("readme.txt", zip::write::SimpleFileOptions::default())
        .expect("start");
    w.write_all(b"hello").expect("write");
    let plain_zip = w.finish().expect("finish").into_inner();
    let err = redact(&plain_zip, "files.zip").expect_err("plain zip");
    assert!(matches!(err, RedactError::Unsupported(_)), "{err:?}");
    assert!(err.to_string().contains("not a DOCX or XLSX"), "{err}");
    let err = redact(&plain_zip, "report.docx").expect_err("zip named docx");
    assert!(err.to_string().contains("not a readable DOCX"), "{err}");

    // A password-protected docx: the OLE container Office writes, with its two streams.
    let enc = dir.path().join("enc.docx");
    {
        let mut file = cfb::create(&enc).expect("cfb");
        for name in ["EncryptionInfo", "EncryptedPackage"] {
            let mut s = file.create_stream(format!("/{name}")).expect("stream");
            s.write_all(&[7u8; 512]).expect("write");
        }
        file.flush().expect("flush");
    }
    let err = redact(&std::fs::read(&enc).expect("read"), "enc.docx").expect_err("encrypted");
    assert!(matches!(err, RedactError::Encrypted(_)), "{err:?}");
    assert!(err.to_string().contains("password"), "{err}");

    // PDF is refused, not faked.
    let err = redact(b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n", "a.pdf").expect_err("pdf");
    assert_eq!(
        err.to_string().split(" (").next(),
        Some("PDF: not supported, convert to DOCX first")
    );

    // Garbage, an image, nothing.
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    assert!(redact(&garbage, "x.bin").is_err());
    assert!(redact(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "a.png").is_err());
    assert!(redact(b"", "a.txt").is_err());
}
