//! The carrier ledger (台账) as the spreadsheet offices keep: export with the usual columns,
//! import an office's existing table by its header names (the column order and extra
//! columns do not matter). An import checks every row first and records nothing when any
//! row is wrong, naming the row and the problem.

use std::io::Cursor;

use baomi_store::{Carrier, CarrierKind, CarrierState, NewCarrier, local_date};
use calamine::{Data, Reader, Xlsx};
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook};

use crate::{Error, Result};

/// The export's columns, in order.
pub const COLUMNS: [&str; 13] = [
    "序号",
    "编号",
    "类型",
    "名称型号/文件标题",
    "序列号",
    "密级",
    "份数/份号",
    "来源",
    "责任人",
    "使用部门",
    "启用日期",
    "状态",
    "最近变更",
];

/// The header names an office table may use for each field.
const HEADERS: &[(&str, &[&str])] = &[
    ("number", &["编号", "载体编号", "统一编号"]),
    ("kind", &["类型", "载体类型", "类别"]),
    (
        "name",
        &[
            "名称型号/文件标题",
            "名称型号",
            "名称",
            "文件标题",
            "标题",
            "品牌型号",
        ],
    ),
    ("serial", &["序列号", "设备序列号", "SN"]),
    ("level", &["密级"]),
    ("copies", &["份数/份号", "份数", "份号"]),
    ("source", &["来源", "来文单位"]),
    ("responsible", &["责任人", "保管人", "使用人"]),
    ("department", &["使用部门", "部门", "使用单位"]),
    ("since_day", &["启用日期", "登记日期", "日期"]),
    ("state", &["状态"]),
];

fn text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_owned(),
        Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
        // Excel's day serial: days since 1899-12-30.
        Data::DateTime(dt) => {
            let (y, m, d) = baomi_store::civil_from_days(dt.as_f64().floor() as i64 - 25_569);
            format!("{y:04}-{m:02}-{d:02}")
        }
        other => other.to_string().trim().to_owned(),
    }
}

/// The rows of an office's ledger table, checked, with the state each carrier is in.
pub fn import_xlsx(bytes: &[u8]) -> Result<Vec<(NewCarrier, CarrierState)>> {
    let mut wb: Xlsx<_> = Xlsx::new(Cursor::new(bytes))
        .map_err(|e| Error::Invalid(format!("not a readable XLSX: {e}")))?;
    let sheet = wb
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| Error::Invalid("the workbook has no sheet".into()))?;
    let range = wb
        .worksheet_range(&sheet)
        .map_err(|e| Error::Invalid(format!("sheet {sheet}: {e}")))?;
    let rows: Vec<Vec<String>> = range.rows().map(|r| r.iter().map(text).collect()).collect();
    // The header row: the first with 编号 and 密级 in it (titles may stand above it).
    let (h, header) = rows
        .iter()
        .enumerate()
        .find(|(_, r)| r.iter().any(|c| c.contains("编号")) && r.iter().any(|c| c.contains("密级")))
        .ok_or_else(|| Error::Invalid("no header row with 编号 and 密级".into()))?;
    let col = |field: &str| -> Option<usize> {
        let names = HEADERS.iter().find(|(f, _)| *f == field)?.1;
        header.iter().position(|c| names.contains(&c.as_str()))
    };
    for required in ["number", "name", "level", "responsible"] {
        if col(required).is_none() {
            let names = HEADERS.iter().find(|(f, _)| *f == required).unwrap().1;
            return Err(Error::Invalid(format!("no column {}", names[0])));
        }
    }
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (i, r) in rows.iter().enumerate().skip(h + 1) {
        let get = |field: &str| {
            col(field)
                .and_then(|c| r.get(c))
                .cloned()
                .unwrap_or_default()
        };
        if r.iter().all(|c| c.is_empty()) {
            continue;
        }
        let line = i + 1;
        let opt = |field: &str| Some(get(field)).filter(|s| !s.is_empty());
        let kind = match get("kind").as_str() {
            "" => Some(CarrierKind::Document),
            k => CarrierKind::parse(k),
        };
        let Some(kind) = kind else {
            problems.push(format!(
                "row {line}: 类型 {:?} is not one of 计算机/移动存储介质/纸质文件/光盘/其他",
                get("kind")
            ));
            continue;
        };
        let Some(state) = CarrierState::parse(&get("state")) else {
            problems.push(format!(
                "row {line}: 状态 {:?} is not one of 在册/在用/清退/销毁/归档",
                get("state")
            ));
            continue;
        };
        let c = NewCarrier {
            number: get("number"),
            kind,
            name: get("name"),
            serial: opt("serial"),
            level: get("level"),
            copies: opt("copies"),
            source: opt("source"),
            responsible: get("responsible"),
            department: opt("department"),
            since_day: opt("since_day"),
        };
        for (what, v) in [
            ("编号", &c.number),
            ("名称", &c.name),
            ("密级", &c.level),
            ("责任人", &c.responsible),
        ] {
            if v.is_empty() {
                problems.push(format!("row {line}: {what} is empty"));
            }
        }
        if out
            .iter()
            .any(|(o, _): &(NewCarrier, _)| o.number == c.number)
        {
            problems.push(format!("row {line}: 编号 {} twice", c.number));
        }
        out.push((c, state));
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems.join("; ")));
    }
    Ok(out)
}

/// The ledger as a spreadsheet: A4 landscape, 宋体 headings, the header on every page.
pub fn export_xlsx(carriers: &[(Carrier, Option<String>)]) -> Result<Vec<u8>> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("涉密载体台账")?;
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
    ws.merge_range(0, 0, 0, COLUMNS.len() as u16 - 1, "涉密载体台账", &title)?;
    for (c, name) in COLUMNS.iter().enumerate() {
        ws.write_string_with_format(1, c as u16, *name, &head)?;
    }
    let widths = [
        6.0, 14.0, 12.0, 28.0, 18.0, 8.0, 10.0, 14.0, 10.0, 14.0, 12.0, 8.0, 28.0,
    ];
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    for (i, (k, last)) in carriers.iter().enumerate() {
        let r = i as u32 + 2;
        let f = &k.fields;
        let level =
            baomi_core::Level::parse(&f.level).map_or(f.level.clone(), |l| l.zh().to_owned());
        let cells = [
            (i + 1).to_string(),
            f.number.clone(),
            f.kind.zh().to_owned(),
            f.name.clone(),
            f.serial.clone().unwrap_or_default(),
            level,
            f.copies.clone().unwrap_or_default(),
            f.source.clone().unwrap_or_default(),
            f.responsible.clone(),
            f.department.clone().unwrap_or_default(),
            f.since_day.clone().unwrap_or_default(),
            k.state.zh().to_owned(),
            last.clone().unwrap_or_else(|| local_date(k.updated_ms)),
        ];
        for (c, v) in cells.iter().enumerate() {
            ws.write_string_with_format(r, c as u16, v, &cell)?;
        }
    }
    ws.set_paper_size(9);
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(1, 1)?;
    ws.set_footer("&C第 &P 页，共 &N 页");
    Ok(wb.save_to_buffer()?)
}
