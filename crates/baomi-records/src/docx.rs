//! The clue report as a Word document. The few OOXML parts are written by hand (a form of
//! one table needs no docx crate): Word, WPS and LibreOffice open it, and Baomi's own docx
//! reader reads it back in the tests.

use std::io::{Cursor, Write};

use baomi_store::{ClueCategory, ClueReport, ClueState, local_date};
use zip::write::SimpleFileOptions;

use crate::Result;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Control characters are not allowed in XML 1.0 text.
            c if (c as u32) < 0x20 && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

fn run(text: &str, font: &str, size_half_points: u32, bold: bool) -> String {
    format!(
        "<w:r><w:rPr><w:rFonts w:ascii=\"{font}\" w:hAnsi=\"{font}\" w:eastAsia=\"{font}\"/>{}<w:sz w:val=\"{size_half_points}\"/><w:szCs w:val=\"{size_half_points}\"/></w:rPr><w:t xml:space=\"preserve\">{}</w:t></w:r>",
        if bold { "<w:b/>" } else { "" },
        esc(text)
    )
}

fn para(text: &str, font: &str, size: u32, bold: bool, center: bool) -> String {
    format!(
        "<w:p><w:pPr>{}<w:spacing w:before=\"60\" w:after=\"60\"/></w:pPr>{}</w:p>",
        if center {
            "<w:jc w:val=\"center\"/>"
        } else {
            ""
        },
        run(text, font, size, bold)
    )
}

/// A value cell: every line of the text is a paragraph (an empty value still needs one).
fn value_cell(text: &str) -> String {
    let mut paras: String = text
        .lines()
        .map(|l| para(l, "仿宋", 24, false, false))
        .collect();
    if paras.is_empty() {
        paras = para("", "仿宋", 24, false, false);
    }
    format!("<w:tc><w:tcPr><w:tcW w:w=\"7200\" w:type=\"dxa\"/></w:tcPr>{paras}</w:tc>")
}

fn label_cell(text: &str) -> String {
    format!(
        "<w:tc><w:tcPr><w:tcW w:w=\"2300\" w:type=\"dxa\"/><w:vAlign w:val=\"center\"/></w:tcPr>{}</w:tc>",
        para(text, "宋体", 24, true, true)
    )
}

fn row(label: &str, value: &str, min_height: u32) -> String {
    format!(
        "<w:tr><w:trPr><w:trHeight w:val=\"{min_height}\"/></w:trPr>{}{}</w:tr>",
        label_cell(label),
        value_cell(value)
    )
}

/// `☑手机拍照　☐聊天小程序传输或处理　…`: the form lists every category and ticks one.
pub fn category_line(chosen: ClueCategory) -> String {
    ClueCategory::ALL
        .iter()
        .map(|c| format!("{}{}", if *c == chosen { "☑" } else { "☐" }, c.zh()))
        .collect::<Vec<_>>()
        .join("　")
}

/// The lines under the form: number and version, state, the content hash once issued.
pub fn footer_lines(r: &ClueReport) -> Vec<String> {
    let mut lines = vec![format!(
        "编号：{}　第 {} 版　状态：{}",
        r.number,
        r.version,
        r.state.zh()
    )];
    if let (Some(ms), Some(by)) = (r.issued_ms, &r.issued_by) {
        // Actors are `user:NAME` or `cli:NAME` in the audit log; the form names the person.
        let by = by.split_once(':').map_or(by.as_str(), |(_, n)| n);
        lines.push(format!("报送时间：{}　报送人：{by}", local_date(ms)));
    }
    if let Some(old) = r.supersedes {
        lines.push(format!(
            "本版为更正版本，替代记录 {old}（第 {} 版）",
            r.version - 1
        ));
    }
    match (&r.content_hash, r.state) {
        (Some(h), _) => lines.push(format!("内容摘要（BLAKE3，已记入审计链）：{h}")),
        (None, ClueState::Draft) => lines.push("草稿，尚未报送".into()),
        _ => {}
    }
    lines
}

pub fn clue_report(r: &ClueReport) -> Result<Vec<u8>> {
    let f = &r.fields;
    let mut body = String::new();
    body.push_str(&para(
        "违规问题线索和存在隐患报告表",
        "宋体",
        36,
        true,
        true,
    ));
    body.push_str(
        "<w:tbl><w:tblPr><w:tblW w:w=\"9500\" w:type=\"dxa\"/><w:jc w:val=\"center\"/><w:tblBorders>\
         <w:top w:val=\"single\" w:sz=\"8\"/><w:left w:val=\"single\" w:sz=\"8\"/>\
         <w:bottom w:val=\"single\" w:sz=\"8\"/><w:right w:val=\"single\" w:sz=\"8\"/>\
         <w:insideH w:val=\"single\" w:sz=\"4\"/><w:insideV w:val=\"single\" w:sz=\"4\"/>\
         </w:tblBorders><w:tblLayout w:type=\"fixed\"/></w:tblPr>\
         <w:tblGrid><w:gridCol w:w=\"2300\"/><w:gridCol w:w=\"7200\"/></w:tblGrid>",
    );
    body.push_str(&row("报送单位", &f.reporting_unit, 600));
    body.push_str(&row("发生单位", &f.occurring_unit, 600));
    body.push_str(&row("类别", &category_line(f.category), 600));
    body.push_str(&row("涉及文件及密级", &f.documents, 1200));
    body.push_str(&row("基本事实\n（时间、原因、经过）", &f.facts, 4000));
    body.push_str(&row("补救和整改措施", &f.remedy, 2400));
    body.push_str(&row("关联事件", &f.incidents.join("\n"), 600));
    body.push_str("</w:tbl>");
    for line in footer_lines(r) {
        body.push_str(&para(&line, "仿宋", 20, false, false));
    }
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
         <w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">\
         <w:body>{body}<w:sectPr><w:pgSz w:w=\"11906\" w:h=\"16838\"/>\
         <w:pgMar w:top=\"1440\" w:right=\"1200\" w:bottom=\"1440\" w:left=\"1200\" w:header=\"720\" w:footer=\"720\" w:gutter=\"0\"/>\
         </w:sectPr></w:body></w:document>"
    );
    let content_types = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
        <Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\
        <Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\
        <Default Extension=\"xml\" ContentType=\"application/xml\"/>\
        <Override PartName=\"/word/document.xml\" ContentType=\"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml\"/>\
        <Override PartName=\"/docProps/core.xml\" ContentType=\"application/vnd.openxmlformats-package.core-properties+xml\"/>\
        </Types>";
    let rels = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
        <Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\
        <Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"word/document.xml\"/>\
        <Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties\" Target=\"docProps/core.xml\"/>\
        </Relationships>";
    let core = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n\
         <cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\
         <dc:title>违规问题线索和存在隐患报告表 {}</dc:title><dc:creator>{}</dc:creator></cp:coreProperties>",
        esc(&r.number),
        esc(r.issued_by.as_deref().unwrap_or(&r.created_by))
    );
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in [
        ("[Content_Types].xml", content_types.to_owned()),
        ("_rels/.rels", rels.to_owned()),
        ("docProps/core.xml", core),
        ("word/document.xml", document),
    ] {
        zip.start_file(name, opts).map_err(std::io::Error::other)?;
        zip.write_all(data.as_bytes())?;
    }
    Ok(zip.finish().map_err(std::io::Error::other)?.into_inner())
}
