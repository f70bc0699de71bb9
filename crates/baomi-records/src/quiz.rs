//! 保密知识测试: a question bank read from an office's XLSX (columns by header name: 题型,
//! 题目, 选项A…选项F, 答案, 解析, 分类; all rows or none, a bad row named by its row number
//! in the sheet), and a quiz's results — per person (the best attempt counts) and per
//! department (应参加人数, 参加人数, 合格人数, 合格率, 平均分; who has not taken it, against the
//! directory) — exported as XLSX.

use std::collections::BTreeMap;
use std::io::Cursor;

use baomi_store::quizzes::{LETTERS, TRUE_FALSE, in_audience};
use baomi_store::{AttemptState, NewQuestion, QuestionKind, Quiz, Store, local_date};
use calamine::{Data, Reader, Xlsx};
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook};
use serde::Serialize;

use crate::{Error, Result, UNREGISTERED};

const KIND: &[&str] = &["题型", "题目类型", "试题类型", "类型"];
const STEM: &[&str] = &["题目", "题干", "试题", "题目内容", "试题内容", "问题"];
const ANSWER: &[&str] = &["答案", "正确答案", "标准答案", "参考答案"];
const EXPLANATION: &[&str] = &["解析", "答案解析", "试题解析", "说明"];
const CATEGORY: &[&str] = &["分类", "知识点", "类别", "章节"];

fn text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_owned(),
        Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
        Data::Bool(true) => "正确".into(),
        Data::Bool(false) => "错误".into(),
        other => other.to_string().trim().to_owned(),
    }
}

fn header_key(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '：' | ':' | '*' | '（' | '）' | '(' | ')'))
        .collect::<String>()
        .to_uppercase()
}

/// The column of option `letter`: 选项A, 选项 A, A选项, A.
fn option_column(header: &[String], letter: char) -> Option<usize> {
    let names = [
        format!("选项{letter}"),
        format!("{letter}选项"),
        letter.to_string(),
        format!("答案{letter}"),
    ];
    header
        .iter()
        .position(|h| names.iter().any(|n| header_key(h) == *n))
}

fn is_true(s: &str) -> Option<bool> {
    match s.trim().to_uppercase().as_str() {
        "对" | "正确" | "√" | "✓" | "✔" | "是" | "T" | "TRUE" | "Y" | "V" => Some(true),
        "错" | "错误" | "×" | "✗" | "✘" | "X" | "否" | "F" | "FALSE" | "N" => Some(false),
        _ => None,
    }
}

/// The questions of a bank's sheet, checked. A row with 题目 and everything else empty is a
/// mistake, not a blank row.
pub fn import_bank_xlsx(bytes: &[u8]) -> Result<Vec<NewQuestion>> {
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
    // The sheet's own row numbers (a sheet may begin below row 1).
    let first_row = range.start().map_or(0, |(r, _)| r as usize);
    let rows: Vec<Vec<String>> = range.rows().map(|r| r.iter().map(text).collect()).collect();
    let find = |r: &[String], names: &[&str]| {
        r.iter()
            .position(|c| names.iter().any(|n| header_key(c) == header_key(n)))
    };
    let (h, header) = rows
        .iter()
        .enumerate()
        .find(|(_, r)| find(r, STEM).is_some() && find(r, ANSWER).is_some())
        .ok_or_else(|| {
            Error::Invalid("no header row with 题目 and 答案 (the first sheet is read)".into())
        })?;
    let kind_col = find(header, KIND);
    let stem_col = find(header, STEM).unwrap_or(0);
    let answer_col = find(header, ANSWER).unwrap_or(0);
    let explanation_col = find(header, EXPLANATION);
    let category_col = find(header, CATEGORY);
    let option_cols: Vec<Option<usize>> =
        LETTERS.iter().map(|l| option_column(header, *l)).collect();
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (i, r) in rows.iter().enumerate().skip(h + 1) {
        if r.iter().all(|c| c.is_empty()) {
            continue;
        }
        let line = first_row + i + 1;
        let get = |c: Option<usize>| c.and_then(|c| r.get(c)).cloned().unwrap_or_default();
        let stem = get(Some(stem_col));
        if stem.is_empty() {
            problems.push(format!("row {line}: 题目 is empty"));
            continue;
        }
        // Options up to the last one given; a gap before it is a mistake.
        let given: Vec<String> = option_cols.iter().map(|c| get(*c)).collect();
        let last = given.iter().rposition(|o| !o.is_empty());
        let options: Vec<String> = match last {
            Some(l) => given[..=l].to_vec(),
            None => Vec::new(),
        };
        if let Some(gap) = options.iter().position(|o| o.is_empty()) {
            problems.push(format!(
                "row {line}: 选项{} is empty but a later option is given",
                LETTERS[gap]
            ));
            continue;
        }
        let answer_text = get(Some(answer_col));
        let kind_text = get(kind_col);
        let kind = if kind_text.is_empty() {
            // Without 题型: 对/错 answers are true/false, several letters a multiple choice.
            if is_true(&answer_text).is_some()
                && options.len() <= 2
                && !answer_text.chars().all(|c| c.is_ascii_alphabetic())
            {
                Some(QuestionKind::TrueFalse)
            } else if answer_text
                .chars()
                .filter(|c| c.is_ascii_alphabetic())
                .count()
                > 1
            {
                Some(QuestionKind::Multiple)
            } else {
                Some(QuestionKind::Single)
            }
        } else {
            QuestionKind::parse(&kind_text)
        };
        let Some(kind) = kind else {
            problems.push(format!(
                "row {line}: 题型 {kind_text:?} is not one of 单选/多选/判断"
            ));
            continue;
        };
        let (options, answer) = if kind == QuestionKind::TrueFalse {
            // 对/错 …, or a letter of the options the sheet gives (正确/错误 in some order).
            let truth = is_true(&answer_text).or_else(|| {
                let l = answer_text.trim().to_uppercase();
                let idx = LETTERS.iter().position(|c| l == c.to_string())?;
                match options.get(idx) {
                    Some(o) => is_true(o),
                    None if options.is_empty() && idx < 2 => Some(idx == 0),
                    None => None,
                }
            });
            let Some(truth) = truth else {
                problems.push(format!(
                    "row {line}: 答案 {answer_text:?} of a 判断 question is not 对/错 (正确/错误, √/×)"
                ));
                continue;
            };
            (
                TRUE_FALSE.iter().map(|s| s.to_string()).collect(),
                if truth { "A" } else { "B" }.to_owned(),
            )
        } else {
            let mut letters: Vec<char> = answer_text
                .chars()
                .filter(|c| !matches!(c, ',' | '，' | '、' | ' ' | ';' | '；'))
                .map(|c| c.to_ascii_uppercase())
                .collect();
            letters.sort_unstable();
            letters.dedup();
            (options, letters.into_iter().collect())
        };
        let q = NewQuestion {
            kind,
            stem,
            options,
            answer,
            explanation: Some(get(explanation_col)).filter(|s| !s.is_empty()),
            category: Some(get(category_col)).filter(|s| !s.is_empty()),
        };
        if let Some(p) = q.problem() {
            problems.push(format!("row {line}: {p}"));
            continue;
        }
        out.push(q);
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems.join("; ")));
    }
    if out.is_empty() {
        return Err(Error::Invalid(
            "the sheet has no question under its header".into(),
        ));
    }
    Ok(out)
}

/// A person of the directory, as the quiz results need them.
#[derive(Debug, Clone)]
pub struct QuizMember {
    pub name: String,
    pub department: String,
    /// The day they left the unit, if they did.
    pub left: Option<String>,
}

/// One person's result: the best of their ended attempts.
#[derive(Debug, Clone, Serialize)]
pub struct PersonResult {
    pub person: String,
    pub account: String,
    pub department: String,
    /// Attempts ended (submitted or timed out).
    pub attempts: i64,
    pub best_score: i64,
    pub passed: bool,
    /// When the best attempt ended (or began, for a timeout).
    pub best_ms: i64,
    pub timed_out: i64,
}

/// One department's line (and the total's).
#[derive(Debug, Clone, Serialize, Default)]
pub struct DepartmentResult {
    pub department: String,
    /// 应参加人数: the directory's people of the audience in this department.
    pub expected: i64,
    /// 参加人数
    pub took: i64,
    /// 合格人数
    pub passed: i64,
    /// 合格率, percent of those who took it (one decimal).
    pub pass_rate: f64,
    /// 平均分 of the best attempts (one decimal).
    pub average: f64,
    /// 未参加人数
    pub missing: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Missing {
    pub name: String,
    pub department: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuizStatistics {
    pub quiz: Quiz,
    pub departments: Vec<DepartmentResult>,
    pub total: DepartmentResult,
    pub people: Vec<PersonResult>,
    /// The audience's people of the directory without an ended attempt.
    pub missing: Vec<Missing>,
    /// Attempts running now.
    pub running: i64,
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn line(
    department: &str,
    expected: i64,
    people: &[&PersonResult],
    missing: i64,
) -> DepartmentResult {
    let took = people.len() as i64;
    let passed = people.iter().filter(|p| p.passed).count() as i64;
    let sum: i64 = people.iter().map(|p| p.best_score).sum();
    DepartmentResult {
        department: department.to_owned(),
        expected,
        took,
        passed,
        pass_rate: if took == 0 {
            0.0
        } else {
            round1(passed as f64 * 100.0 / took as f64)
        },
        average: if took == 0 {
            0.0
        } else {
            round1(sum as f64 / took as f64)
        },
        missing,
    }
}

/// A quiz's results against the directory.
pub async fn quiz_statistics(
    store: &Store,
    quiz_id: i64,
    members: &[QuizMember],
) -> Result<QuizStatistics> {
    let quiz = store.quiz(quiz_id).await?;
    let attempts = store.quiz_attempts(Some(quiz_id), None).await?;
    let running = attempts
        .iter()
        .filter(|a| a.state == AttemptState::Open)
        .count() as i64;
    // Best per account (a person is their account; the directory gives the name).
    let mut best: BTreeMap<String, PersonResult> = BTreeMap::new();
    for a in attempts.iter().filter(|a| a.state != AttemptState::Open) {
        let score = a.score.unwrap_or(0);
        let ended = a.submitted_ms.unwrap_or(a.deadline_ms);
        let e = best
            .entry(a.account.clone())
            .or_insert_with(|| PersonResult {
                person: a.person.clone(),
                account: a.account.clone(),
                department: a
                    .department
                    .clone()
                    .unwrap_or_else(|| UNREGISTERED.to_owned()),
                attempts: 0,
                best_score: -1,
                passed: false,
                best_ms: ended,
                timed_out: 0,
            });
        e.attempts += 1;
        if a.state == AttemptState::TimedOut {
            e.timed_out += 1;
        }
        if score > e.best_score {
            e.best_score = score;
            e.best_ms = ended;
        }
        e.passed |= a.passed == Some(true);
    }
    let mut people: Vec<PersonResult> = best.into_values().collect();
    people.sort_by(|a, b| {
        (a.department.as_str(), a.person.as_str()).cmp(&(b.department.as_str(), b.person.as_str()))
    });
    let audience: Vec<&QuizMember> = members
        .iter()
        .filter(|m| in_audience(&quiz.fields.departments, Some(&m.department)))
        .filter(|m| {
            m.left
                .as_deref()
                .is_none_or(|l| l >= quiz.fields.from_day.as_str())
        })
        .collect();
    let missing: Vec<Missing> = audience
        .iter()
        .filter(|m| !people.iter().any(|p| p.person == m.name))
        .map(|m| Missing {
            name: m.name.clone(),
            department: m.department.clone(),
        })
        .collect();
    let mut names: Vec<String> = audience.iter().map(|m| m.department.clone()).collect();
    names.extend(people.iter().map(|p| p.department.clone()));
    names.sort();
    names.dedup();
    let departments = names
        .iter()
        .map(|d| {
            let expected = audience.iter().filter(|m| &m.department == d).count() as i64;
            let here: Vec<&PersonResult> = people.iter().filter(|p| &p.department == d).collect();
            let gone = missing.iter().filter(|m| &m.department == d).count() as i64;
            line(d, expected, &here, gone)
        })
        .collect();
    let all: Vec<&PersonResult> = people.iter().collect();
    let total = line("合计", audience.len() as i64, &all, missing.len() as i64);
    Ok(QuizStatistics {
        quiz,
        departments,
        total,
        people,
        missing,
        running,
    })
}

/// The department table's columns.
pub const COLUMNS: [&str; 7] = [
    "部门",
    "应参加人数",
    "参加人数",
    "合格人数",
    "合格率",
    "平均分",
    "未参加人数",
];

fn pct(x: f64) -> String {
    format!("{x:.1}%")
}

/// The results as a workbook: 统计 (per department and the total), 成绩 (each person's best
/// attempt), 未参加 (who has not taken it).
pub fn export_xlsx(s: &QuizStatistics) -> Result<Vec<u8>> {
    let mut wb = Workbook::new();
    let title = Format::new()
        .set_font_name("宋体")
        .set_font_size(16)
        .set_bold()
        .set_align(FormatAlign::Center);
    let head = Format::new()
        .set_font_name("宋体")
        .set_bold()
        .set_border(FormatBorder::Thin)
        .set_align(FormatAlign::Center);
    let cell = Format::new()
        .set_font_name("仿宋")
        .set_border(FormatBorder::Thin);
    let q = &s.quiz.fields;
    let sub = format!(
        "{} — 题库：{}，每人 {} 题，时限 {}，合格线 {} 分，补考 {} 次，{} 至 {}",
        q.name,
        s.quiz.bank_name,
        q.draw,
        limit_words(q.time_limit_seconds),
        q.pass_percent,
        q.retakes,
        q.from_day,
        q.to_day
    );

    let ws = wb.add_worksheet();
    ws.set_name("统计")?;
    ws.merge_range(
        0,
        0,
        0,
        COLUMNS.len() as u16 - 1,
        "保密知识测试统计表",
        &title,
    )?;
    ws.merge_range(1, 0, 1, COLUMNS.len() as u16 - 1, &sub, &cell)?;
    for (c, h) in COLUMNS.iter().enumerate() {
        ws.write_string_with_format(2, c as u16, *h, &head)?;
    }
    for (i, d) in s
        .departments
        .iter()
        .chain(std::iter::once(&s.total))
        .enumerate()
    {
        let r = 3 + i as u32;
        ws.write_string_with_format(r, 0, &d.department, &cell)?;
        for (c, n) in [d.expected, d.took, d.passed].iter().enumerate() {
            ws.write_number_with_format(r, 1 + c as u16, *n as f64, &cell)?;
        }
        ws.write_string_with_format(r, 4, pct(d.pass_rate), &cell)?;
        ws.write_number_with_format(r, 5, d.average, &cell)?;
        ws.write_number_with_format(r, 6, d.missing as f64, &cell)?;
    }
    ws.set_column_width(0, 24)?;
    for c in 1..COLUMNS.len() as u16 {
        ws.set_column_width(c, 12)?;
    }

    let ws = wb.add_worksheet();
    ws.set_name("成绩")?;
    for (c, h) in [
        "姓名",
        "部门",
        "最好成绩",
        "是否合格",
        "答题次数",
        "其中超时",
        "最好成绩时间",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string_with_format(0, c as u16, *h, &head)?;
    }
    for (i, p) in s.people.iter().enumerate() {
        let r = 1 + i as u32;
        ws.write_string_with_format(r, 0, &p.person, &cell)?;
        ws.write_string_with_format(r, 1, &p.department, &cell)?;
        ws.write_number_with_format(r, 2, p.best_score as f64, &cell)?;
        ws.write_string_with_format(r, 3, if p.passed { "合格" } else { "不合格" }, &cell)?;
        ws.write_number_with_format(r, 4, p.attempts as f64, &cell)?;
        ws.write_number_with_format(r, 5, p.timed_out as f64, &cell)?;
        ws.write_string_with_format(r, 6, local_date(p.best_ms), &cell)?;
    }
    ws.set_column_width(0, 12)?;
    ws.set_column_width(1, 24)?;
    ws.set_column_width(6, 14)?;

    let ws = wb.add_worksheet();
    ws.set_name("未参加")?;
    ws.write_string_with_format(0, 0, "姓名", &head)?;
    ws.write_string_with_format(0, 1, "部门", &head)?;
    for (i, m) in s.missing.iter().enumerate() {
        ws.write_string_with_format(1 + i as u32, 0, &m.name, &cell)?;
        ws.write_string_with_format(1 + i as u32, 1, &m.department, &cell)?;
    }
    ws.set_column_width(0, 12)?;
    ws.set_column_width(1, 24)?;
    Ok(wb.save_to_buffer()?)
}

/// `30 分钟`, `90 秒`, `1 分 30 秒`.
pub fn limit_words(seconds: i64) -> String {
    match (seconds / 60, seconds % 60) {
        (0, s) => format!("{s} 秒"),
        (m, 0) => format!("{m} 分钟"),
        (m, s) => format!("{m} 分 {s} 秒"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workbook(rows: &[&[&str]]) -> Vec<u8> {
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        ws.write_string(0, 0, "2026年保密知识题库").unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                if !v.is_empty() {
                    ws.write_string(r as u32 + 1, c as u16, *v).unwrap();
                }
            }
        }
        wb.save_to_buffer().unwrap()
    }

    const HEAD: &[&str] = &[
        "序号", "题型", "题目", "选项A", "选项B", "选项C", "选项D", "答案", "解析",
    ];

    #[test]
    fn reads_each_kind_and_names_the_bad_row() {
        let ok = workbook(&[
            HEAD,
            &[
                "1",
                "单选题",
                "密级分几级？",
                "两级",
                "三级",
                "四级",
                "",
                "B",
                "绝密、机密、秘密",
            ],
            &[
                "2",
                "多选",
                "哪些违规？",
                "连互联网",
                "内网处理",
                "微信传送",
                "",
                "a,c",
                "",
            ],
            &[
                "3",
                "判断",
                "涉密文件可以普通邮寄。",
                "",
                "",
                "",
                "",
                "×",
                "",
            ],
            &[
                "4",
                "判断题",
                "涉密计算机不得连接互联网。",
                "正确",
                "错误",
                "",
                "",
                "A",
                "",
            ],
        ]);
        let qs = import_bank_xlsx(&ok).unwrap();
        assert_eq!(qs.len(), 4);
        assert_eq!(
            (qs[0].kind, qs[0].answer.as_str()),
            (QuestionKind::Single, "B")
        );
        assert_eq!(qs[0].options.len(), 3);
        assert_eq!(qs[0].explanation.as_deref(), Some("绝密、机密、秘密"));
        assert_eq!(
            (qs[1].kind, qs[1].answer.as_str()),
            (QuestionKind::Multiple, "AC")
        );
        assert_eq!(
            (qs[2].kind, qs[2].answer.as_str()),
            (QuestionKind::TrueFalse, "B")
        );
        assert_eq!(qs[3].answer, "A");
        let bad = workbook(&[
            HEAD,
            &["1", "单选", "密级分几级？", "两级", "三级", "", "", "B", ""],
            &["2", "单选", "答案不在选项中", "甲", "乙", "", "", "D", ""],
            &["3", "问答", "未知题型", "甲", "乙", "", "", "A", ""],
            &["4", "单选", "", "甲", "乙", "", "", "A", ""],
        ]);
        let e = import_bank_xlsx(&bad).unwrap_err().to_string();
        // The title is row 1, the header row 2: the second question is row 4.
        assert!(e.contains("row 4: 答案 D is not among the options"), "{e}");
        assert!(e.contains("row 5: 题型 \"问答\""), "{e}");
        assert!(e.contains("row 6: 题目 is empty"), "{e}");
        assert!(!e.contains("row 3"), "{e}");
    }
}
