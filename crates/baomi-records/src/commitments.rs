//! 保密承诺书签署情况: the overview of secrecy commitments as a spreadsheet (XLSX) and as CSV —
//! one row per person and template (签署 or 未签署, with the version signed), and the
//! departures without a leaving commitment on a second sheet. The rows are computed by the
//! server against the directory; this module only renders them.

use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook};

use crate::Result;

/// One person and one template: signed (which version, when, how) or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitmentRow {
    pub department: String,
    pub person: String,
    /// 承诺书 (the template's title)
    pub title: String,
    /// 类别: 上岗 / 涉密岗位 / 离岗
    pub kind: String,
    /// The template's current version.
    pub current_version: i64,
    /// The version this person signed last, if any.
    pub signed_version: Option<i64>,
    pub signed_day: Option<String>,
    /// 在线签署 / 纸质签署
    pub method: Option<String>,
}

impl CommitmentRow {
    /// 状态 as an officer reads it.
    pub fn status(&self) -> String {
        match self.signed_version {
            Some(v) if v == self.current_version => "已签署".into(),
            Some(v) => format!("未签署当前版（已签第 {v} 版）"),
            None => "未签署".into(),
        }
    }
}

/// A person who left the unit without a leaving commitment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartureRow {
    pub department: String,
    pub person: String,
    /// 离岗日期
    pub left: String,
}

pub const COLUMNS: [&str; 9] = [
    "序号",
    "部门",
    "姓名",
    "承诺书",
    "类别",
    "当前版本",
    "状态",
    "签署日期",
    "签署方式",
];

fn cells(i: usize, r: &CommitmentRow) -> [String; 9] {
    [
        (i + 1).to_string(),
        r.department.clone(),
        r.person.clone(),
        r.title.clone(),
        r.kind.clone(),
        format!("第 {} 版", r.current_version),
        r.status(),
        r.signed_day.clone().unwrap_or_default(),
        r.method.clone().unwrap_or_default(),
    ]
}

/// CSV, UTF-8 with a BOM so that Excel opens the Chinese right; header row = [`COLUMNS`].
pub fn to_csv(rows: &[CommitmentRow]) -> Result<Vec<u8>> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(COLUMNS)?;
        for (i, r) in rows.iter().enumerate() {
            w.write_record(cells(i, r))?;
        }
        w.flush()?;
    }
    Ok(out)
}

/// The workbook: sheet 签署情况 (every person × template), sheet 离岗未签承诺 (departures).
pub fn to_xlsx(
    unit: Option<&str>,
    rows: &[CommitmentRow],
    departures: &[DepartureRow],
) -> Result<Vec<u8>> {
    let mut wb = Workbook::new();
    let title = Format::new()
        .set_font_name("宋体")
        .set_font_size(16)
        .set_bold()
        .set_align(FormatAlign::Center);
    let head = Format::new()
        .set_font_name("宋体")
        .set_bold()
        .set_text_wrap()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter);
    let cell = Format::new()
        .set_font_name("仿宋")
        .set_text_wrap()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::VerticalCenter);
    let heading = match unit {
        Some(u) if !u.trim().is_empty() => format!("{u}保密承诺书签署情况"),
        _ => "保密承诺书签署情况".to_owned(),
    };

    let ws = wb.add_worksheet();
    ws.set_name("签署情况")?;
    ws.merge_range(0, 0, 0, COLUMNS.len() as u16 - 1, &heading, &title)?;
    for (c, name) in COLUMNS.iter().enumerate() {
        ws.write_string_with_format(1, c as u16, *name, &head)?;
    }
    for (c, w) in [6.0, 16.0, 10.0, 24.0, 10.0, 10.0, 24.0, 12.0, 10.0]
        .iter()
        .enumerate()
    {
        ws.set_column_width(c as u16, *w)?;
    }
    for (i, r) in rows.iter().enumerate() {
        for (c, v) in cells(i, r).iter().enumerate() {
            ws.write_string_with_format(i as u32 + 2, c as u16, v, &cell)?;
        }
    }
    ws.set_paper_size(9);
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(1, 1)?;
    ws.set_footer("&C第 &P 页，共 &N 页");

    let ws = wb.add_worksheet();
    ws.set_name("离岗未签承诺")?;
    ws.merge_range(0, 0, 0, 3, "已离岗但未签署离岗保密承诺书的人员", &title)?;
    for (c, name) in ["序号", "部门", "姓名", "离岗日期"].iter().enumerate() {
        ws.write_string_with_format(1, c as u16, *name, &head)?;
    }
    for (c, w) in [6.0, 16.0, 10.0, 12.0].iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    for (i, d) in departures.iter().enumerate() {
        let r = i as u32 + 2;
        let row = [
            (i + 1).to_string(),
            d.department.clone(),
            d.person.clone(),
            d.left.clone(),
        ];
        for (c, v) in row.iter().enumerate() {
            ws.write_string_with_format(r, c as u16, v, &cell)?;
        }
    }
    ws.set_paper_size(9);
    Ok(wb.save_to_buffer()?)
}
