//! A work chat group's member list from the CSV an export gives (a WeChat/企业微信/钉钉
//! member export, or a table typed by hand): a header row with Chinese or English column
//! names (姓名/群昵称/手机号/账号/邮箱/入群时间 …), UTF-8 (with or without a BOM) or GBK.
//! All or nothing: a row that is not a member (a wrong number of cells, neither a name nor a
//! nickname, a phone that is no number, a date that is no date, bytes that decode to
//! nothing) rejects the whole file with its line number.

use baomi_store::NewMember;
use baomi_store::chat_groups::check_member;

use crate::{Error, Result};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Col {
    Name,
    Nickname,
    Phone,
    Account,
    Mail,
    Joined,
}

fn column(header: &str) -> Option<Col> {
    let h: String = header
        .trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-' | '*'))
        .collect::<String>()
        .to_lowercase();
    Some(match h.as_str() {
        "姓名" | "真实姓名" | "成员姓名" | "名字" | "name" | "realname" | "fullname" => {
            Col::Name
        }
        "群昵称" | "昵称" | "群名片" | "备注名" | "nickname" | "nick" | "displayname" => {
            Col::Nickname
        }
        "手机号" | "手机" | "手机号码" | "电话" | "联系电话" | "phone" | "mobile" | "tel" => {
            Col::Phone
        }
        "账号" | "帐号" | "用户名" | "微信号" | "工号" | "userid" | "account" | "user"
        | "login" => Col::Account,
        "邮箱" | "电子邮箱" | "邮件" | "mail" | "email" => Col::Mail,
        "入群时间" | "加入时间" | "入群日期" | "joined" | "joinedat" | "jointime" | "joinday" => {
            Col::Joined
        }
        _ => return None,
    })
}

/// The text of the file: UTF-8 (a BOM is dropped), else GBK (GB18030); bytes neither
/// decodes are refused.
fn decode(bytes: &[u8]) -> Result<String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(s.to_owned());
    }
    match encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(bytes) {
        Some(s) => Ok(s.into_owned()),
        None => {
            // Name the line of the first undecodable byte.
            let valid = std::str::from_utf8(bytes)
                .err()
                .map_or(0, |e| e.valid_up_to());
            let line = bytes[..valid].iter().filter(|&&b| b == b'\n').count() + 1;
            Err(Error::Invalid(format!(
                "第 {line} 行 (line {line}): neither UTF-8 nor GBK text; nothing was imported"
            )))
        }
    }
}

/// Read a member list; `Err(Invalid)` names the line and imports nothing.
pub fn parse_members(bytes: &[u8]) -> Result<Vec<NewMember>> {
    let text = decode(bytes)?;
    if text.contains('\0') {
        let line = text[..text.find('\0').unwrap_or(0)].matches('\n').count() + 1;
        return Err(Error::Invalid(format!(
            "第 {line} 行 (line {line}): binary bytes, not a CSV member list; nothing was imported"
        )));
    }
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut header: Option<Vec<Option<Col>>> = None;
    let mut out = Vec::new();
    for rec in rd.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            Error::Invalid(format!(
                "第 {line} 行 (line {line}): {e}; nothing was imported"
            ))
        })?;
        let line = rec.position().map_or(0, |p| p.line());
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let Some(cols) = &header else {
            let cols: Vec<Option<Col>> = rec.iter().map(column).collect();
            if !cols
                .iter()
                .any(|c| matches!(c, Some(Col::Name) | Some(Col::Nickname)))
            {
                return Err(Error::Invalid(format!(
                    "第 {line} 行 (line {line}): the header row names no 姓名 (name) or 群昵称 \
                     (nickname) column; nothing was imported"
                )));
            }
            header = Some(cols);
            continue;
        };
        if rec.len() != cols.len() {
            return Err(Error::Invalid(format!(
                "第 {line} 行 (line {line}): {} cells, the header row has {}; nothing was imported",
                rec.len(),
                cols.len()
            )));
        }
        let mut m = NewMember::default();
        for (cell, col) in rec.iter().zip(cols) {
            let v = Some(cell.to_owned()).filter(|s| !s.is_empty());
            match col {
                Some(Col::Name) => m.name = v,
                Some(Col::Nickname) => m.nickname = v,
                Some(Col::Phone) => m.phone = v,
                Some(Col::Account) => m.account = v,
                Some(Col::Mail) => m.mail = v,
                Some(Col::Joined) => m.joined_day = v,
                None => {}
            }
        }
        let m = check_member(&m).map_err(|e| {
            Error::Invalid(format!(
                "第 {line} 行 (line {line}): {e}; nothing was imported"
            ))
        })?;
        out.push(m);
    }
    if header.is_none() {
        return Err(Error::Invalid(
            "the file is empty: a header row (姓名,群昵称,手机号 …) and one row per member".into(),
        ));
    }
    if out.is_empty() {
        return Err(Error::Invalid(
            "the file has a header row but no members".into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_header_gbk() {
        let text = "姓名,群昵称,手机号,入群时间\n张三,老张,13812345678,2026/3/5\n,访客A,,\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        let m = parse_members(&gbk).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].name.as_deref(), Some("张三"));
        assert_eq!(m[0].phone.as_deref(), Some("138****5678"));
        assert_eq!(m[0].joined_day.as_deref(), Some("2026-03-05"));
        assert_eq!(m[1].name, None);
        assert_eq!(m[1].nickname.as_deref(), Some("访客A"));
    }

    #[test]
    fn english_header_with_bom() {
        let m =
            parse_members(b"\xEF\xBB\xBFName,Nickname,Email\r\nLi Si,,li@example.cn\r\n").unwrap();
        assert_eq!(m[0].mail.as_deref(), Some("li@example.cn"));
    }

    #[test]
    fn garbage_rows_are_named() {
        let e = parse_members("姓名,手机号\n张三,13812345678\n李四,not-a-phone\n".as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("第 3 行"), "{e}");
        let e = parse_members("姓名,手机号\n张三,13812345678\n王五\n".as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("第 3 行"), "{e}");
        let e = parse_members(b"\xff\xfe\x00\x00garbage")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line"), "{e}");
        assert!(parse_members("手机号\n138\n".as_bytes()).is_err());
        assert!(parse_members(b"").is_err());
    }
}
