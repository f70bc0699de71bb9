//! The statistics table as the spreadsheet offices hand in: the form's merged header
//! (涉及文件 over 国家秘密 {绝密, 机密, 秘密}, 工作秘密, 其他), 宋体 headings and 仿宋 body,
//! A4 landscape, one page wide, the header repeated on every printed page.

use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook};

use crate::{Result, SelfInspectionTable};

pub fn self_inspection(table: &SelfInspectionTable) -> Result<Vec<u8>> {
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("自查自纠情况统计表")?;

    let title = Format::new()
        .set_font_name("宋体")
        .set_font_size(18)
        .set_bold()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter);
    let subtitle = Format::new()
        .set_font_name("仿宋")
        .set_font_size(11)
        .set_align(FormatAlign::Left)
        .set_align(FormatAlign::VerticalCenter);
    let head = Format::new()
        .set_font_name("宋体")
        .set_font_size(11)
        .set_bold()
        .set_text_wrap()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter);
    let cell = Format::new()
        .set_font_name("仿宋")
        .set_font_size(11)
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter);
    let text = Format::new()
        .set_font_name("仿宋")
        .set_font_size(11)
        .set_text_wrap()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Left)
        .set_align(FormatAlign::VerticalCenter);
    let total_cell = cell.clone().set_bold();
    let total_text = text.clone().set_bold();

    ws.merge_range(0, 0, 0, 10, &table.title(), &title)?;
    ws.set_row_height(0, 32)?;
    ws.merge_range(1, 0, 1, 10, &table.subtitle(), &subtitle)?;

    // Three header rows (2..=4).
    for (col, name) in [
        (0u16, "单位/部门"),
        (1, "自查人数"),
        (2, "检查工作群数"),
        (3, "检查小程序数"),
        (4, "上报线索数"),
        (10, "主要整改措施"),
    ] {
        ws.merge_range(2, col, 4, col, name, &head)?;
    }
    ws.merge_range(2, 5, 2, 9, "涉及文件", &head)?;
    ws.merge_range(3, 5, 3, 7, "国家秘密", &head)?;
    ws.merge_range(3, 8, 4, 8, "工作秘密", &head)?;
    ws.merge_range(3, 9, 4, 9, "其他", &head)?;
    ws.write_string_with_format(4, 5, "绝密", &head)?;
    ws.write_string_with_format(4, 6, "机密", &head)?;
    ws.write_string_with_format(4, 7, "秘密", &head)?;

    let widths = [22.0, 10.0, 12.0, 12.0, 11.0, 8.0, 8.0, 8.0, 10.0, 8.0, 40.0];
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }

    let body = table
        .rows
        .iter()
        .map(|x| (x, false))
        .chain(std::iter::once((&table.total, true)));
    // Data from row 5, under the three header rows.
    for (r, (row, total)) in (5u32..).zip(body) {
        let (c, t) = if total {
            (&total_cell, &total_text)
        } else {
            (&cell, &text)
        };
        ws.write_string_with_format(r, 0, &row.department, t)?;
        let numbers = [
            row.people as f64,
            row.chat_groups as f64,
            row.mini_programs as f64,
            row.clues as f64,
            row.top_secret as f64,
            row.secret as f64,
            row.confidential as f64,
            row.work_secret as f64,
            row.other as f64,
        ];
        for (i, n) in numbers.iter().enumerate() {
            ws.write_number_with_format(r, i as u16 + 1, *n, c)?;
        }
        ws.write_string_with_format(r, 10, &row.measures, t)?;
    }

    ws.set_paper_size(9); // A4
    ws.set_landscape();
    ws.set_print_fit_to_pages(1, 0);
    ws.set_print_center_horizontally(true);
    ws.set_repeat_rows(2, 4)?;
    ws.set_margins(0.5, 0.5, 0.6, 0.6, 0.3, 0.3);
    ws.set_footer("&C第 &P 页，共 &N 页");
    Ok(wb.save_to_buffer()?)
}
