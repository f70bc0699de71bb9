//! Findings' reasons in Chinese. A detector writes its reason once, in English, from a small
//! set of clause forms ("★ and period", "checksum ok, region 44, valid birth date",
//! "zip entry encrypted (AES)"); [`zh`] turns each clause into Chinese by its form, keeping
//! the values (codes, numbers, titles) as they are. The console, the HTML report and the
//! human report all call this one function, so a reason reads the same everywhere.
//!
//! A clause of a form not listed here stays in English rather than being guessed at; the
//! tests run every detector and every extraction failure in the test suites through this
//! table and fail on English left over.

use std::sync::OnceLock;

use regex::Regex;

/// (pattern over one clause, Chinese with `$1`… for the captured values).
const CLAUSES: &[(&str, &str)] = &[
    // Markings.
    (r"^★ and period$", "★及保密期限"),
    (r"^level and ★$", "密级及★"),
    (r"^密级 label$", "“密级”标注"),
    (r"^standalone line$", "独占一行"),
    (r"^document head$", "文件首部"),
    (r"^header part$", "页眉页脚"),
    (r"^level in file name$", "文件名中的密级"),
    (r"^level in subject$", "主题中的密级"),
    (r"^marking$", "密级标志"),
    (
        r"^marking form in quotation marks \(mention\)(?: ×(\d+))?$",
        "引号内的密级样式（提及，非标志）",
    ),
    (
        r"^marking form in a sentence \(mention\)(?: ×(\d+))?$",
        "句中提及的密级样式（非标志）",
    ),
    (
        r"^marking form given as an example \(mention\)(?: ×(\d+))?$",
        "作为示例的密级样式（非标志）",
    ),
    // Personal data.
    (r"^checksum ok$", "校验位正确"),
    (r"^region (\d+)$", "地区代码 $1"),
    (r"^valid birth date$", "出生日期有效"),
    (r"^legacy 15-digit$", "15 位旧身份证号"),
    (r"^mobile prefix (\d+)$", "手机号段 $1"),
    (r"^formatted$", "带分隔格式"),
    (r"^context: (.+)$", "上下文词“$1”"),
    (r"^no context$", "附近无上下文词"),
    (r"^area code (\d+) in parentheses$", "括号内区号 $1"),
    (r"^area code (\d+)$", "区号 $1"),
    (r"^Luhn ok$", "Luhn 校验通过"),
    (r"^UnionPay$", "银联卡"),
    (r"^GB 32100 check ok$", "符合 GB 32100 校验"),
    (r"^passport format$", "护照号格式"),
    (r"^plate format$", "车牌号格式"),
    (r"^address format$", "地址格式"),
    (
        r"^(?:mainland travel permit|travel permit)[a-z ]*format$",
        "通行证号格式",
    ),
    (r"^e-?mail(?: address)?(?: format)?$", "电子邮箱格式"),
    // Dictionaries, regex rules, registered documents.
    (r"^dictionary term \((.+)\) ×(\d+)$", "词典词条（$1）×$2"),
    (r"^dictionary term \((.+)\)$", "词典词条（$1）"),
    (r"^dictionary term ×(\d+)$", "词典词条 ×$1"),
    (r"^dictionary term$", "词典词条"),
    (r"^rule (.+) ×(\d+)$", "自定义规则 $1 ×$2"),
    (r"^rule (.+)$", "自定义规则 $1"),
    (
        r"^identical file: registered document «(.*)» \((.*)\)$",
        "与登记文件《$1》（$2）完全相同",
    ),
    (
        r"^identical part: registered document «(.*)» \((.*)\)$",
        "含有与登记文件《$1》（$2）完全相同的部分",
    ),
    (
        r"^registered document «(.*)» \((.*)\): (\d+) characters matched$",
        "与登记文件《$1》（$2）相同 $3 字",
    ),
    (r"^(\d+) characters$", "$1 字"),
    (r"^(\d+)% of the document$", "占原文 $1%"),
    (r"^longest passage (\d+) characters$", "最长连续段落 $1 字"),
    // Extraction facts: types, encryption, limits, damage.
    (
        r"^name says (\S+), content is (\S+)$",
        "扩展名为 $1，实际内容为 $2",
    ),
    (
        r"^no extension, content is (\S+)$",
        "无扩展名，实际内容为 $1",
    ),
    (
        r"^name says \.(\S+) \(no type\), content is (\S+)$",
        "扩展名 .$1 不表明类型（通用扩展名），实际内容为 $2",
    ),
    (r"^nesting depth (\d+) > (\d+)$", "嵌套层数 $1 > $2"),
    (r"^expanded bytes (\d+) > (\d+)$", "解压后字节数 $1 > $2"),
    (r"^expansion ratio (\d+):1 > (\d+):1$", "压缩比 $1:1 > $2:1"),
    (r"^parts (\d+) > (\d+)$", "部件数 $1 > $2"),
    (r"^wall time > (\d+) s$", "检测用时 > $1 秒"),
    (r"^(\S+) memory > (\d+) MB$", "$1 内存 > $2 MB"),
    (r"^(\S+) CPU time > (\d+) s$", "$1 CPU 时间 > $2 秒"),
    (r"^(\S+) timed out after (\d+) s$", "$1 超时（$2 秒）"),
    (r"^zip entry encrypted \((.+)\)$", "zip 条目已加密（$1）"),
    (r"^encrypted zip entry$", "zip 条目已加密"),
    (r"^7z entry encrypted \((.+)\)$", "7z 条目已加密（$1）"),
    (
        r"^7z (?:archive|headers) encrypted(?: \((.+)\))?$",
        "7z 压缩包已加密",
    ),
    (r"^RAR entry encrypted$", "RAR 条目已加密"),
    (
        r"^RAR archive with encrypted headers$",
        "RAR 压缩包已加密（含文件列表）",
    ),
    (
        r"^7z archive with encrypted headers$",
        "7z 压缩包已加密（含文件列表）",
    ),
    // The password bank (baomi-extract/src/passwords.rs): a clause after the encrypted one.
    (
        r"^opened with bank password #(\d+)$",
        "已用密码库第 $1 号密码打开",
    ),
    (
        r"^none of the (\d+) bank passwords opened it$",
        "密码库的 $1 个密码均未能打开",
    ),
    (
        r"^the one bank password did not open it$",
        "密码库中的 1 个密码未能打开",
    ),
    (
        r"^none of the (\d+) bank passwords tried \(of (\d+)\) opened it before the time limit$",
        "时限内试了密码库 $2 个密码中的 $1 个，均未能打开",
    ),
    (
        r"^bank passwords are not tried on PowerPoint 97-2003 encryption$",
        "密码库不适用于 PowerPoint 97-2003 加密",
    ),
    (r"^bank passwords not tried: (.+)$", "未试密码库：$1"),
    (
        r"^password-protected (Word|Excel|PowerPoint) 97-2003 (?:document|workbook|presentation) \((.+)\)$",
        "$1 97-2003 文件已加密（$2）",
    ),
    (
        r"^password-protected (Word|Excel|PowerPoint) 97-2003 (?:document|workbook|presentation)$",
        "$1 97-2003 文件已加密",
    ),
    (
        r"^password-protected Office document \(EncryptionInfo\)$",
        "Office 文档已加密（EncryptionInfo）",
    ),
    (r"^agile encryption$", "Agile 加密"),
    (r"^standard encryption$", "Standard 加密"),
    (r"^text extracted$", "已提取文字"),
    (r"^no text extracted$", "未能提取文字"),
    (
        r"^PDF encrypted \(text extracted without its password\)$",
        "PDF 已加密（无需密码即提取了文字）",
    ),
    (r"^RAR archive encrypted.*$", "RAR 压缩包已加密"),
    (
        r"^PDF encrypted \(opened with the empty user password, text extracted\)$",
        "PDF 已加密（以空用户密码打开，已提取文字）",
    ),
    (
        r"^PDF encrypted \(password required, no text extracted\)$",
        "PDF 已加密（需要密码，未能提取文字）",
    ),
    (r"^PDF encrypted$", "PDF 已加密"),
    (r"^encrypted OOXML.*$", "Office 文档已加密"),
    (
        r"^(?:password-protected|encrypted) (\S+)(?: \((.+)\))?$",
        "$1 已加密",
    ),
    (r"^image-only page$", "仅含图像的页面"),
    (r"^image-only pages ([\d, ]+)$", "仅含图像的页面 $1"),
    (r"^OCR found no text$", "OCR 未识别出文字"),
    (
        r"^not read \(built without OCR\)$",
        "未识别（程序未包含 OCR）",
    ),
    (r"^image too large.*$", "图像过大"),
    (
        r"^(\S+): parser failed on malformed input.*$",
        "$1：格式损坏，解析失败",
    ),
    (r"^PDF damaged.*$", "PDF 已损坏，未能提取文字"),
    (
        r"^PDF has no pages that could be read$",
        "PDF 没有可读的页面",
    ),
    (r"^(\S+): (.*)$", "$1：$2"),
];

fn compiled() -> &'static [(Regex, &'static str)] {
    static TABLE: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    TABLE.get_or_init(|| {
        CLAUSES
            .iter()
            .filter_map(|(p, zh)| Regex::new(p).ok().map(|r| (r, *zh)))
            .collect()
    })
}

/// One clause in Chinese, or `None` when its form is unknown.
fn clause_zh(clause: &str) -> Option<String> {
    for (re, zh) in compiled() {
        if let Some(caps) = re.captures(clause) {
            let mut out = String::new();
            caps.expand(zh, &mut out);
            // `$1：$2` is the catch-all for "format: detail": translate the detail too.
            if zh.starts_with("$1：") {
                let detail = caps.get(2).map_or("", |m| m.as_str());
                return Some(format!(
                    "{}：{}",
                    caps.get(1).map_or("", |m| m.as_str()),
                    zh_or_same(detail)
                ));
            }
            return Some(out);
        }
    }
    None
}

fn zh_or_same(text: &str) -> String {
    split_clauses(text)
        .into_iter()
        .map(|c| clause_zh(c).unwrap_or_else(|| c.to_owned()))
        .collect::<Vec<_>>()
        .join("，")
}

/// Clauses are separated by ", " outside parentheses and «» quotes.
fn split_clauses(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < text.len() {
        let c = text[i..].chars().next().unwrap_or(' ');
        match c {
            '(' | '«' | '（' => depth += 1,
            ')' | '»' | '）' => depth -= 1,
            ',' if depth <= 0 && bytes.get(i + 1) == Some(&b' ') => {
                out.push(&text[start..i]);
                start = i + 2;
            }
            _ => {}
        }
        i += c.len_utf8();
    }
    out.push(&text[start..]);
    out
}

/// A reason in Chinese: every clause of a known form translated, values kept.
pub fn zh(reason: &str) -> String {
    if reason.is_empty() {
        return String::new();
    }
    // Whole-reason forms first: a clause split would cut them apart.
    if let Some(whole) = clause_zh(reason) {
        return whole;
    }
    zh_or_same(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_in_chinese_with_their_values() {
        assert_eq!(zh("★ and period"), "★及保密期限");
        assert_eq!(
            zh("checksum ok, region 44, valid birth date"),
            "校验位正确，地区代码 44，出生日期有效"
        );
        assert_eq!(
            zh("mobile prefix 138, context: 电话"),
            "手机号段 138，上下文词“电话”"
        );
        assert_eq!(zh("nesting depth 9 > 8"), "嵌套层数 9 > 8");
        assert_eq!(
            zh("name says docx, content is zip"),
            "扩展名为 docx，实际内容为 zip"
        );
        assert_eq!(
            zh(
                "registered document «某项目实施方案» (FP-1): 812 characters matched, 20% of \
                the document, longest passage 300 characters"
            ),
            "与登记文件《某项目实施方案》（FP-1）相同 812 字，占原文 20%，最长连续段落 300 字"
        );
        assert_eq!(
            zh("PDF encrypted (password required, no text extracted)"),
            "PDF 已加密（需要密码，未能提取文字）"
        );
        // An unknown form stays as written rather than being guessed at.
        assert_eq!(zh("something new"), "something new");
    }
}
