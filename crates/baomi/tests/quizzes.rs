//! Knowledge tests (保密知识测试) end to end, with the real binary: a question bank made by
//! LibreOffice from an office's table (单选, 多选 and 判断 questions) is imported through the
//! API; a bank with bad rows is refused with their row numbers and nothing is kept, and a
//! file that is no workbook at all is refused too. Staff accounts (`baomi user add --role
//! staff`) take the test through the REST API: one passes, one fails twice (the retake
//! counts, a third attempt is refused), a quiz for one department refuses someone from
//! another, and a submission after the time limit (a 2-second quiz, submitted after limit +
//! grace) is refused and recorded as 超时未交 with 0. The results per person and per
//! department against the directory are asserted exactly, and the XLSX export is read back.
//! Then once in Chromium: the officer imports a bad then a good bank from the form and sets
//! a test; a staff member starts it, sees the time left, answers and sees the score with the
//! right answers and 解析; the officer reads the results page; screenshots.

#[allow(dead_code)]
mod support {
    pub mod browser;
    pub mod office;
    pub mod people;
    pub mod serve;
}

use support::office::xlsx_from_csv;

use std::path::Path;
use std::process::Command;

use fantoccini::Locator;
use serde_json::{Value, json};
use support::browser::{browser, chromedriver, click_nav, login, logout, shot, text, text_of};
use support::people::{get, json_of, post_json, staff_token, start_with_directory, url};
use support::serve::{OFFICER_PASSWORD, Serve};

const PASSWORD: &str = "staff-password-2026";

const DIRECTORY: &str = r#"
[[user]]
name = "张三"
department = "办公室"
account = "zhangsan"

[[user]]
name = "李四"
department = "办公室"
account = "lisi"

[[user]]
name = "王五"
department = "财务处"

[[user]]
name = "赵六"
department = "财务处"
account = "zhaoliu"

[[user]]
name = "钱七"
department = "保密科"
left = "2026-11-25"
"#;

/// The bank as an office keeps it: 题型, 题目, 选项A–D, 答案, 解析 (true/false answered
/// 对/错 without options).
const BANK_CSV: &str = "题型,题目,选项A,选项B,选项C,选项D,答案,解析
单选,国家秘密的密级分为几级？,两级,三级,四级,,B,国家秘密分为绝密、机密、秘密三级
多选,下列哪些行为违反保密规定？,涉密计算机连接互联网,在内网处理涉密文件,用微信传送涉密文件,私自复制涉密文件,ACD,内网处理涉密文件是允许的
判断,涉密文件可以通过普通邮件传递。,,,,,错,涉密文件须通过机要渠道传递
判断,涉密计算机不得连接互联网。,,,,,对,
";

/// Row 3's answer is not among its options, row 4's kind is unknown (the header is row 1).
const BAD_CSV: &str = "题型,题目,选项A,选项B,选项C,选项D,答案,解析
单选,国家秘密的密级分为几级？,两级,三级,四级,,B,
单选,答案不在选项中的题,甲,乙,,,D,
问答,什么是国家秘密？,甲,乙,,,A,
";

fn start() -> Serve {
    start_with_directory(DIRECTORY, "[records]\nunit = \"某市某局\"\n")
}

/// A staff account (工作人员) and its token.
fn staff(s: &Serve, name: &str, display: &str, dept: &str) -> String {
    staff_token(s, name, display, dept, PASSWORD)
}

/// Stem → the texts of the right options.
fn key() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("国家秘密的密级分为几级？", vec!["三级"]),
        (
            "下列哪些行为违反保密规定？",
            vec![
                "涉密计算机连接互联网",
                "用微信传送涉密文件",
                "私自复制涉密文件",
            ],
        ),
        ("涉密文件可以通过普通邮件传递。", vec!["错误"]),
        ("涉密计算机不得连接互联网。", vec!["正确"]),
    ]
}

fn right_texts(stem: &str) -> Vec<&'static str> {
    key()
        .into_iter()
        .find(|(s, _)| *s == stem)
        .unwrap_or_else(|| panic!("a stem not in the bank: {stem}"))
        .1
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn import_bank(s: &Serve, name: &str, file: &Path) -> (u16, Value) {
    let (code, out) = s.curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "--data-binary",
        &format!("@{}", file.display()),
        &url(s, &format!("/api/v1/quizzes/banks?name={}", encode(name))),
    ]);
    (code, json_of(&out))
}

fn today() -> String {
    let out = Command::new("date")
        .env("TZ", "Asia/Shanghai")
        .arg("+%F")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `question id → letters` for an attempt: right everywhere, except the stems in `wrong`,
/// answered with one wrong option (a multiple choice: only its first right option).
fn answers(attempt: &Value, wrong: &[&str]) -> Value {
    let mut m = serde_json::Map::new();
    for q in attempt["questions"].as_array().unwrap() {
        let stem = q["stem"].as_str().unwrap();
        let right = right_texts(stem);
        let options: Vec<&str> = q["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_str().unwrap())
            .collect();
        let letter = |i: usize| ((b'A' + i as u8) as char).to_string();
        let right_letters: String = options
            .iter()
            .enumerate()
            .filter(|(_, o)| right.contains(o))
            .map(|(i, _)| letter(i))
            .collect();
        let chosen = if !wrong.contains(&stem) {
            right_letters
        } else if q["kind"] == "multiple" {
            right_letters[..1].to_owned()
        } else {
            let i = options.iter().position(|o| !right.contains(o)).unwrap();
            letter(i)
        };
        m.insert(q["id"].to_string(), json!(chosen));
    }
    json!({ "answers": m })
}

fn start_attempt(s: &Serve, tok: &str, quiz: i64) -> (u16, Value) {
    post_json(
        s,
        tok,
        &format!("/api/v1/quizzes/{quiz}/attempts"),
        &json!({}),
    )
}

fn submit(s: &Serve, tok: &str, attempt: &Value, body: &Value) -> (u16, Value) {
    post_json(
        s,
        tok,
        &format!("/api/v1/quizzes/attempts/{}/submit", attempt["id"]),
        body,
    )
}

fn dept<'a>(stats: &'a Value, name: &str) -> &'a Value {
    stats["departments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["department"] == name)
        .unwrap_or_else(|| panic!("{name} in {stats}"))
}

/// (expected, took, passed, pass rate, average, missing) of a department line.
fn line(d: &Value) -> (i64, i64, i64, f64, f64, i64) {
    (
        d["expected"].as_i64().unwrap(),
        d["took"].as_i64().unwrap(),
        d["passed"].as_i64().unwrap(),
        d["pass_rate"].as_f64().unwrap(),
        d["average"].as_f64().unwrap(),
        d["missing"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn knowledge_tests_through_the_api() {
    let s = start();
    let work = tempfile::tempdir().unwrap();
    let zhang = staff(&s, "zhangsan", "张三", "办公室");
    let li = staff(&s, "lisi", "李四", "办公室");
    let zhao = staff(&s, "zhaoliu", "赵六", "财务处");

    // A bank with bad rows: refused with their row numbers, nothing kept.
    let bad = xlsx_from_csv(work.path(), "bad", BAD_CSV);
    let (code, e) = import_bank(&s, "坏题库", &bad);
    assert_eq!(code, 400, "{e}");
    let msg = e["error"].as_str().unwrap();
    assert!(
        msg.contains("row 3: 答案 D is not among the options"),
        "{msg}"
    );
    assert!(msg.contains("row 4: 题型 \"问答\""), "{msg}");
    assert!(!msg.contains("row 2"), "{msg}");
    // Not a workbook at all.
    let garbage = work.path().join("garbage.xlsx");
    std::fs::write(&garbage, b"PK\x03\x04 this is no workbook").unwrap();
    let (code, e) = import_bank(&s, "坏题库", &garbage);
    assert_eq!(code, 400, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("not a readable XLSX"),
        "{e}"
    );
    assert_eq!(s.api("/api/v1/quizzes/banks")["banks"], json!([]));

    // The good bank: four questions of the three kinds.
    let good = xlsx_from_csv(work.path(), "bank", BANK_CSV);
    let (code, bank) = import_bank(&s, "2026年保密知识题库", &good);
    assert_eq!(code, 201, "{bank}");
    assert_eq!(
        (
            &bank["questions"],
            &bank["single"],
            &bank["multiple"],
            &bank["true_false"]
        ),
        (&json!(4), &json!(1), &json!(1), &json!(2))
    );
    let bank_id = bank["id"].as_i64().unwrap();
    let b = s.api(&format!("/api/v1/quizzes/banks/{bank_id}"));
    let qs = b["questions"].as_array().unwrap();
    assert_eq!(qs[1]["answer"], "ACD");
    assert_eq!(qs[2]["kind"], "true_false");
    assert_eq!(qs[2]["options"], json!(["正确", "错误"]));
    assert_eq!(qs[2]["answer"], "B", "错 is the second option, 错误");
    assert_eq!(qs[0]["explanation"], "国家秘密分为绝密、机密、秘密三级");
    // The same name again: refused.
    assert_eq!(import_bank(&s, "2026年保密知识题库", &good).0, 409);

    // A staff account does not see the officer's side.
    assert_eq!(get(&s, &zhang, "/api/v1/quizzes/banks").0, 403);
    assert_eq!(get(&s, &zhang, "/api/v1/quizzes").0, 403);

    // The test for everyone: all four questions, 60 to pass, one retake.
    let (code, all) = post_json(
        &s,
        &s.token,
        "/api/v1/quizzes",
        &json!({"name": "2026年度全员保密知识测试", "bank_id": bank_id, "draw": 4,
                "time_limit_minutes": 30, "pass_percent": 60, "from_day": today(),
                "to_day": today(), "retakes": 1}),
    );
    assert_eq!(code, 201, "{all}");
    let all_id = all["id"].as_i64().unwrap();
    assert_eq!(all["time_limit_seconds"], 1800);
    // Bad quizzes: more questions than the bank has, an unknown bank.
    let (code, e) = post_json(
        &s,
        &s.token,
        "/api/v1/quizzes",
        &json!({"name": "抽五题", "bank_id": bank_id, "draw": 5, "time_limit_minutes": 30,
                "pass_percent": 60, "from_day": today(), "to_day": today()}),
    );
    assert_eq!(code, 400, "{e}");
    let (code, _) = post_json(
        &s,
        &s.token,
        "/api/v1/quizzes",
        &json!({"name": "无题库", "bank_id": 9999, "draw": 1, "time_limit_minutes": 30,
                "pass_percent": 60, "from_day": today(), "to_day": today()}),
    );
    assert_eq!(code, 422);

    // 张三 sees it open, starts: four questions, no answers shown while it runs.
    let (code, mine) = get(&s, &zhang, "/api/v1/quizzes/mine");
    assert_eq!(code, 200);
    let mine = json_of(&mine);
    assert_eq!(mine["person"]["person"], "张三");
    assert_eq!(mine["person"]["department"], "办公室");
    assert_eq!(mine["quizzes"][0]["can_start"], true);
    assert_eq!(mine["quizzes"][0]["attempts_allowed"], 2);
    let (code, a) = start_attempt(&s, &zhang, all_id);
    assert_eq!(code, 200, "{a}");
    let qs = a["questions"].as_array().unwrap();
    assert_eq!(qs.len(), 4);
    assert!(
        qs.iter()
            .all(|q| q["answer"].is_null() && q["explanation"].is_null())
    );
    let tf = qs.iter().find(|q| q["kind"] == "true_false").unwrap();
    assert_eq!(tf["options"], json!(["正确", "错误"]));
    // Another person's attempt is not theirs to see or hand in.
    assert_eq!(
        get(&s, &li, &format!("/api/v1/quizzes/attempts/{}", a["id"])).0,
        404
    );
    assert_eq!(submit(&s, &li, &a, &answers(&a, &[])).0, 404);
    // Everything right: 100, passed, the right answers and 解析 shown now.
    let (code, r) = submit(&s, &zhang, &a, &answers(&a, &[]));
    assert_eq!(code, 200, "{r}");
    assert_eq!(
        (&r["state"], &r["correct"], &r["score"], &r["passed"]),
        (&json!("submitted"), &json!(4), &json!(100), &json!(true))
    );
    let single = r["questions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["kind"] == "single")
        .unwrap();
    assert_eq!(single["explanation"], "国家秘密分为绝密、机密、秘密三级");
    assert_eq!(single["right"], true);
    // Handing in twice: refused.
    assert_eq!(submit(&s, &zhang, &a, &answers(&a, &[])).0, 409);

    // 李四: three wrong (25, failed), the retake two wrong (50, failed), no third attempt.
    let (_, a1) = start_attempt(&s, &li, all_id);
    let (code, r1) = submit(
        &s,
        &li,
        &a1,
        &answers(
            &a1,
            &[
                "下列哪些行为违反保密规定？",
                "涉密文件可以通过普通邮件传递。",
                "国家秘密的密级分为几级？",
            ],
        ),
    );
    assert_eq!(code, 200, "{r1}");
    assert_eq!(
        (&r1["correct"], &r1["score"], &r1["passed"]),
        (&json!(1), &json!(25), &json!(false))
    );
    let multi = r1["questions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["kind"] == "multiple")
        .unwrap();
    assert_eq!(
        multi["right"], false,
        "one right option of three: no credit"
    );
    assert_eq!(multi["answer"].as_str().unwrap().len(), 3);
    let (code, a2) = start_attempt(&s, &li, all_id);
    assert_eq!(code, 200);
    assert_ne!(a2["id"], a1["id"]);
    let (_, r2) = submit(
        &s,
        &li,
        &a2,
        &answers(
            &a2,
            &["下列哪些行为违反保密规定？", "涉密计算机不得连接互联网。"],
        ),
    );
    assert_eq!((&r2["score"], &r2["passed"]), (&json!(50), &json!(false)));
    let (code, e) = start_attempt(&s, &li, all_id);
    assert_eq!(code, 409, "{e}");
    assert!(e["error"].as_str().unwrap().contains("2 attempts"), "{e}");
    let (_, li_mine) = get(&s, &li, "/api/v1/quizzes/mine");
    let li_mine = json_of(&li_mine);
    assert_eq!(li_mine["quizzes"][0]["attempts_used"], 2);
    assert_eq!(li_mine["quizzes"][0]["best_score"], 50);
    assert_eq!(li_mine["quizzes"][0]["can_start"], false);
    assert_eq!(li_mine["attempts"].as_array().unwrap().len(), 2);

    // A 2-second test for 财务处 only: 张三 (办公室) may not start it; 赵六 hands in after the
    // limit and the grace (1 s): refused, 超时未交, 0.
    let (code, short) = post_json(
        &s,
        &s.token,
        "/api/v1/quizzes",
        &json!({"name": "财务处限时测验", "bank_id": bank_id, "draw": 2,
                "time_limit_seconds": 2, "pass_percent": 60, "from_day": today(),
                "to_day": today(), "departments": ["财务处"]}),
    );
    assert_eq!(code, 201, "{short}");
    let short_id = short["id"].as_i64().unwrap();
    assert_eq!(start_attempt(&s, &zhang, short_id).0, 403);
    let (code, z) = start_attempt(&s, &zhao, short_id);
    assert_eq!(code, 200, "{z}");
    assert_eq!(
        z["deadline_ms"].as_i64().unwrap() - z["started_ms"].as_i64().unwrap(),
        2000
    );
    std::thread::sleep(std::time::Duration::from_millis(3600));
    let (code, e) = submit(&s, &zhao, &z, &answers(&z, &[]));
    assert_eq!(code, 409, "{e}");
    assert!(e["error"].as_str().unwrap().contains("超时未交"), "{e}");
    let (_, late) = get(&s, &zhao, &format!("/api/v1/quizzes/attempts/{}", z["id"]));
    let late = json_of(&late);
    assert_eq!(
        (&late["state"], &late["score"], &late["passed"]),
        (&json!("timed_out"), &json!(0), &json!(false))
    );
    assert!(late["submitted_ms"].is_null(), "{late}");
    assert_eq!(start_attempt(&s, &zhao, short_id).0, 409, "no retake");

    // The results against the directory: 钱七 left before the test and is not expected, 王五
    // and 赵六 (财务处) have not taken the test for everyone.
    let st = s.api(&format!("/api/v1/quizzes/{all_id}/results"));
    let names: Vec<&str> = st["departments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["department"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["办公室", "财务处"], "{st}");
    assert_eq!(line(dept(&st, "办公室")), (2, 2, 1, 50.0, 75.0, 0));
    assert_eq!(line(dept(&st, "财务处")), (2, 0, 0, 0.0, 0.0, 2));
    assert_eq!(line(&st["total"]), (4, 2, 1, 50.0, 75.0, 2));
    let people: Vec<(&str, &str, i64, bool, i64)> = st["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["person"].as_str().unwrap(),
                p["department"].as_str().unwrap(),
                p["best_score"].as_i64().unwrap(),
                p["passed"].as_bool().unwrap(),
                p["attempts"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        people,
        [
            ("张三", "办公室", 100, true, 1),
            ("李四", "办公室", 50, false, 2)
        ]
    );
    let missing: Vec<&str> = st["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(missing, ["王五", "赵六"]);
    let st2 = s.api(&format!("/api/v1/quizzes/{short_id}/results"));
    assert_eq!(line(&st2["total"]), (2, 1, 0, 0.0, 0.0, 1), "{st2}");
    assert_eq!(st2["people"][0]["person"], "赵六");
    assert_eq!(st2["people"][0]["timed_out"], 1);
    assert_eq!(st2["missing"][0]["name"], "王五");
    assert_eq!(
        get(
            &s,
            &s.token,
            &format!("/api/v1/quizzes/{all_id}/results?format=pdf")
        )
        .0,
        400
    );

    // The export, read back.
    let (code, xlsx) = get(
        &s,
        &s.token,
        &format!("/api/v1/quizzes/{all_id}/results?format=xlsx"),
    );
    assert_eq!(code, 200);
    use calamine::Reader;
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(xlsx)).unwrap();
    let rows = |wb: &mut calamine::Xlsx<_>, sheet: &str| -> Vec<Vec<String>> {
        wb.worksheet_range(sheet)
            .unwrap()
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    };
    let sheet = rows(&mut wb, "统计");
    assert_eq!(sheet[0][0], "保密知识测试统计表");
    assert!(
        sheet[1][0].contains("2026年度全员保密知识测试") && sheet[1][0].contains("30 分钟"),
        "{:?}",
        sheet[1]
    );
    assert_eq!(
        sheet[2],
        [
            "部门",
            "应参加人数",
            "参加人数",
            "合格人数",
            "合格率",
            "平均分",
            "未参加人数"
        ]
    );
    assert_eq!(sheet[3], ["办公室", "2", "2", "1", "50.0%", "75", "0"]);
    assert_eq!(sheet[4], ["财务处", "2", "0", "0", "0.0%", "0", "2"]);
    assert_eq!(sheet[5], ["合计", "4", "2", "1", "50.0%", "75", "2"]);
    let scores = rows(&mut wb, "成绩");
    assert_eq!(scores[1][..6], ["张三", "办公室", "100", "合格", "1", "0"]);
    assert_eq!(scores[2][..6], ["李四", "办公室", "50", "不合格", "2", "0"]);
    assert_eq!(scores.len(), 3);
    let missing = rows(&mut wb, "未参加");
    assert_eq!(missing[1], ["王五", "财务处"]);
    assert_eq!(missing[2], ["赵六", "财务处"]);

    // The audit trail: the import, the quizzes, every score and the timeout; it verifies.
    let (code, trail) = s.audit_tail();
    assert_eq!(code, 0);
    assert!(
        trail.contains("quiz.submit") && trail.contains("quiz.timed_out"),
        "{trail}"
    );
    let (code, out) = s.audit_verify();
    assert_eq!(code, 0, "{out}");
}

/// A table's text with its cells separated by single spaces.
fn words(t: &str) -> String {
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Tick the options of every question on the attempt page: right ones, except for the
/// stems in `wrong` (their first wrong option, or one right option of a multiple choice).
async fn answer_in_page(c: &fantoccini::Client, wrong: &[&str]) {
    for q in c.find_all(Locator::Css("section.question")).await.unwrap() {
        let stem_line = q
            .find(Locator::Css("p.stem"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let (stem, right) = key()
            .into_iter()
            .find(|(s, _)| stem_line.contains(s))
            .unwrap_or_else(|| panic!("{stem_line}"));
        let mut done = false;
        for label in q.find_all(Locator::Css("label.option")).await.unwrap() {
            let t = label.text().await.unwrap();
            // `B. 三级`
            let option = t.split_once(". ").map_or(t.as_str(), |(_, o)| o).trim();
            let is_right = right.contains(&option);
            let pick = if wrong.contains(&stem) {
                !done && (is_right == (right.len() > 1))
            } else {
                is_right
            };
            if pick {
                label
                    .find(Locator::Css("input"))
                    .await
                    .unwrap()
                    .click()
                    .await
                    .unwrap();
                done = true;
            }
        }
    }
}

#[tokio::test]
async fn knowledge_tests_in_chromium() {
    let s = start();
    let base = format!("http://127.0.0.1:{}", s.http);
    let work = tempfile::tempdir().unwrap();
    staff(&s, "zhangsan", "张三", "办公室");
    let bad = xlsx_from_csv(work.path(), "bad-bank", BAD_CSV);
    let good = xlsx_from_csv(work.path(), "bank", BANK_CSV);

    let (_driver, port) = chromedriver();
    let c = browser(port).await;

    // The officer: a bad bank is refused with its rows in Chinese, then the good one.
    login(&c, &base, "officer", OFFICER_PASSWORD).await;
    c.goto(&format!("{base}/quizzes")).await.unwrap();
    let page = text(&c).await;
    assert!(
        page.contains("导入题库") && page.contains("还没有题库"),
        "{page}"
    );
    c.find(Locator::Id("bank-file"))
        .await
        .unwrap()
        .send_keys(bad.to_str().unwrap())
        .await
        .unwrap();
    click_nav(&c, Locator::Id("bank-submit")).await;
    let flash = text_of(&c, Locator::Css(".flash")).await;
    assert!(flash.contains("题库未导入"), "{flash}");
    assert!(
        flash.contains("第 3 行：答案 D 不在选项范围内") && flash.contains("第 4 行"),
        "{flash}"
    );
    assert!(text(&c).await.contains("还没有题库"));
    shot(&c, "quizzes-01-bank-rejected").await;
    c.find(Locator::Id("bank-name"))
        .await
        .unwrap()
        .send_keys("2026年保密知识题库")
        .await
        .unwrap();
    c.find(Locator::Id("bank-file"))
        .await
        .unwrap()
        .send_keys(good.to_str().unwrap())
        .await
        .unwrap();
    click_nav(&c, Locator::Id("bank-submit")).await;
    let flash = text_of(&c, Locator::Css(".flash")).await;
    assert!(
        flash.contains("题库已导入") && flash.contains("2026年保密知识题库"),
        "{flash}"
    );
    let banks = text_of(&c, Locator::Id("qz-banks")).await;
    assert!(banks.contains("2026年保密知识题库"), "{banks}");

    // A test from the form: four questions, 30 minutes, no retake.
    c.find(Locator::Id("quiz-name"))
        .await
        .unwrap()
        .send_keys("2026年度全员保密知识测试")
        .await
        .unwrap();
    for (id, v) in [("quiz-draw", "4"), ("quiz-retakes", "0")] {
        let el = c.find(Locator::Id(id)).await.unwrap();
        el.clear().await.unwrap();
        el.send_keys(v).await.unwrap();
    }
    click_nav(&c, Locator::Id("quiz-submit")).await;
    let page = text(&c).await;
    assert!(
        page.contains("测试已设置") && page.contains("2026年度全员保密知识测试"),
        "{page}"
    );
    let quiz_path = c.current_url().await.unwrap().path().to_owned();
    assert!(quiz_path.starts_with("/quizzes/"), "{quiz_path}");
    c.goto(&format!("{base}/quizzes")).await.unwrap();
    let list = text_of(&c, Locator::Id("qz-quizzes")).await;
    assert!(
        list.contains("每人抽 4 题") && list.contains("30 分钟") && list.contains("全体人员"),
        "{list}"
    );
    shot(&c, "quizzes-02-officer").await;
    logout(&c).await;

    // 张三 starts it from his tab, sees the time left, answers one question wrong.
    login(&c, &base, "zhangsan", PASSWORD).await;
    c.goto(&format!("{base}/my/quizzes")).await.unwrap();
    let page = text(&c).await;
    assert!(
        page.contains("2026年度全员保密知识测试") && page.contains("未参加"),
        "{page}"
    );
    shot(&c, "quizzes-03-my-tests").await;
    let quiz_id = quiz_path.trim_start_matches("/quizzes/");
    click_nav(&c, Locator::Id(&format!("start-{quiz_id}"))).await;
    assert!(
        c.current_url()
            .await
            .unwrap()
            .path()
            .starts_with("/my/quizzes/attempts/")
    );
    // The script counts down in m:ss.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let left = text_of(&c, Locator::Id("quiz-left")).await;
    assert!(
        left.starts_with("29:") || left == "30:00",
        "time left: {left}"
    );
    let page = text(&c).await;
    assert!(page.contains("剩余时间") && page.contains("多选"), "{page}");
    assert_eq!(
        c.find_all(Locator::Css("section.question"))
            .await
            .unwrap()
            .len(),
        4
    );
    answer_in_page(&c, &["涉密计算机不得连接互联网。"]).await;
    shot(&c, "quizzes-04-attempt").await;
    click_nav(&c, Locator::Id("quiz-submit")).await;
    let page = text(&c).await;
    assert!(page.contains("已交卷"), "{page}");
    assert_eq!(text_of(&c, Locator::Id("quiz-score")).await, "75");
    let result = text_of(&c, Locator::Id("quiz-result")).await;
    assert!(
        result.contains("合格") && !result.contains("不合格"),
        "{result}"
    );
    assert!(page.contains("答对 3 / 4"), "{page}");
    assert!(
        page.contains("答案与解析") && page.contains("涉密文件须通过机要渠道传递"),
        "{page}"
    );
    shot(&c, "quizzes-05-score").await;
    c.goto(&format!("{base}/my/quizzes")).await.unwrap();
    let mine = text_of(&c, Locator::Id("my-quizzes")).await;
    assert!(
        mine.contains("1 / 1") && mine.contains("答题次数已用完"),
        "{mine}"
    );
    // The officer's page is not his.
    c.goto(&format!("{base}/quizzes")).await.unwrap();
    assert!(text(&c).await.contains("403"));
    logout(&c).await;

    // The officer reads the results.
    login(&c, &base, "officer", OFFICER_PASSWORD).await;
    c.goto(&format!("{base}{quiz_path}")).await.unwrap();
    let depts = words(&text_of(&c, Locator::Id("qz-departments")).await);
    assert!(
        depts.contains("办公室 2 1 1 100.0% 75.0 1"),
        "张三 took it, 李四 has not: {depts}"
    );
    assert!(depts.contains("合计 4 1 1 100.0% 75.0 3"), "{depts}");
    let people = text_of(&c, Locator::Id("qz-people")).await;
    assert!(people.contains("张三") && people.contains("75"), "{people}");
    let missing = words(&text_of(&c, Locator::Id("qz-missing")).await);
    assert!(
        missing.contains("李四") && missing.contains("王五、赵六"),
        "{missing}"
    );
    shot(&c, "quizzes-06-results").await;
    let _ = c.close().await;
    let (code, out) = s.audit_verify();
    assert_eq!(code, 0, "{out}");
}
