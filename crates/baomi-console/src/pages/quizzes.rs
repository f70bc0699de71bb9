//! 保密知识测试 in the console. The security officer (`/quizzes`): the question banks (an
//! XLSX imported whole, a bad file refused with its row numbers and nothing kept), the
//! quizzes set on them with each one's participation, and one quiz's results
//! (`/quizzes/{id}`: per department against the directory, per person, who has not taken
//! it, the XLSX export). Every person (`/my/quizzes`): the tests open to them and their own
//! results; an attempt's page shows the drawn questions with the time left (a small script,
//! `assets/quiz.js`, counts down and hands the answers in when the time is up), and once
//! handed in the score, pass or fail and the right answers with 解析. The rules (drawing,
//! scoring, the deadline, retakes) are the store's; the REST module's functions are reused.

use askama::Template;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use baomi_server::api::{ApiError, ApiState};
use baomi_server::authz::Principal;
use baomi_server::quizzes_api::{self as api, QuizBody};
use baomi_store::{Attempt, AttemptState, QuestionKind, StoreError, local_date, now_ms};
use serde::Deserialize;

use super::{Chrome, PageError, PageResult, back_to, back_with_error, when};
use crate::i18n::Tr;

/// The largest bank file taken (an XLSX of a few thousand questions is well under this).
const MAX_BANK_BYTES: u64 = 16 << 20;

#[derive(Deserialize, Default)]
pub struct Flash {
    done: Option<String>,
    error: Option<String>,
}

fn api_error(e: ApiError) -> PageError {
    PageError(e.0, e.1)
}

fn kind_label(t: Tr, k: QuestionKind) -> &'static str {
    t.t(match k {
        QuestionKind::Single => "qz.kind.single",
        QuestionKind::Multiple => "qz.kind.multiple",
        QuestionKind::TrueFalse => "qz.kind.true_false",
    })
}

fn state_label(t: Tr, s: AttemptState) -> &'static str {
    t.t(match s {
        AttemptState::Open => "qz.state.open",
        AttemptState::Submitted => "qz.state.submitted",
        AttemptState::TimedOut => "qz.state.timed_out",
    })
}

fn state_class(s: AttemptState) -> &'static str {
    match s {
        AttemptState::Open => "st-pending",
        AttemptState::Submitted => "st-active",
        AttemptState::TimedOut => "dec-reject",
    }
}

/// `30 分钟` / `30 min`.
fn limit(t: Tr, seconds: i64) -> String {
    if t.is_zh() {
        baomi_records::quiz::limit_words(seconds)
    } else {
        match (seconds / 60, seconds % 60) {
            (0, s) => format!("{s} s"),
            (m, 0) => format!("{m} min"),
            (m, s) => format!("{m} min {s} s"),
        }
    }
}

fn window(t: Tr, from: &str, to: &str) -> String {
    format!("{from} {} {to}", t.t("qz.to"))
}

fn audience(t: Tr, departments: &[String]) -> String {
    if departments.is_empty() {
        t.t("qz.everyone").to_owned()
    } else {
        departments.join("、")
    }
}

/// Where a quiz's window stands today: (label, badge class).
fn phase(t: Tr, q: &baomi_store::Quiz) -> (&'static str, &'static str) {
    let today = local_date(now_ms());
    if today < q.fields.from_day {
        (t.t("qz.phase.later"), "st-off")
    } else if today > q.fields.to_day {
        (t.t("qz.phase.over"), "st-off")
    } else {
        (t.t("qz.phase.open"), "st-active")
    }
}

fn pct(x: f64) -> String {
    format!("{x:.1}%")
}

/// The bank reader's and the store's problems in Chinese, for the Chinese page (the words
/// come from `baomi_records::quiz::import_bank_xlsx` and `NewQuestion::problem`).
fn problems_in_words(t: Tr, text: &str) -> String {
    if !t.is_zh() {
        return text.to_owned();
    }
    const PHRASES: &[(&str, &str)] = &[
        ("not a readable XLSX: ", "不是可读取的 XLSX 文件："),
        (
            "no header row with 题目 and 答案 (the first sheet is read)",
            "没有找到含“题目”和“答案”的表头行（只读取第一个工作表）",
        ),
        (
            "the sheet has no question under its header",
            "表头下面没有题目",
        ),
        ("题目 is empty", "题目为空"),
        ("答案 is empty", "答案为空"),
        (
            " is empty but a later option is given",
            " 为空，但其后还有选项",
        ),
        (" is not one of 单选/多选/判断", " 不是 单选/多选/判断 之一"),
        (
            " of a 判断 question is not 对/错 (正确/错误, √/×)",
            " 不是判断题的答案（应为 对/错、正确/错误 或 √/×）",
        ),
        (" is not among the options ", " 不在选项范围内"),
        (" is not in letter order", " 未按字母顺序"),
        (
            ": a 单选 question has one right option",
            "：单选题只能有一个正确答案",
        ),
        (
            ": a 判断 question has one right option",
            "：判断题只能有一个正确答案",
        ),
        (
            ": a 多选 question has at least two right options",
            "：多选题至少要有两个正确答案",
        ),
        (
            " options: a choice question has 2 to 6 (A–F)",
            " 个选项：选择题须有 2 至 6 个选项（A–F）",
        ),
        (
            "an option between A and the last one is empty",
            "A 与最后一个选项之间有空选项",
        ),
        (
            "a true/false question has the options 正确, 错误",
            "判断题的选项应为 正确、错误",
        ),
        ("; ", "；"),
    ];
    let mut s = text.to_owned();
    for (en, zh) in PHRASES {
        s = s.replace(en, zh);
    }
    // `row 4: …` → `第 4 行：…`
    let mut out = String::with_capacity(s.len());
    let mut rest = s.as_str();
    while let Some(i) = rest.find("row ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 4..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        if !digits.is_empty() && after[digits.len()..].starts_with(": ") {
            out.push_str(&format!("第 {digits} 行："));
            rest = &after[digits.len() + 2..];
        } else {
            out.push_str("row ");
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

pub struct Choice {
    pub value: String,
    pub label: String,
}

pub struct BankRow {
    pub id: i64,
    pub name: String,
    pub questions: i64,
    pub single: i64,
    pub multiple: i64,
    pub true_false: i64,
    pub created: String,
    pub by: String,
}

pub struct QuizRow {
    pub id: i64,
    pub name: String,
    pub bank: String,
    pub draw: i64,
    pub limit: String,
    pub pass: i64,
    pub window: String,
    pub phase: &'static str,
    pub phase_class: &'static str,
    pub retakes: i64,
    pub audience: String,
    pub expected: i64,
    pub took: i64,
    pub passed: i64,
    pub pass_rate: String,
}

#[derive(Template)]
#[template(path = "quizzes.html")]
struct OfficerPage {
    c: Chrome,
    banks: Vec<BankRow>,
    quizzes: Vec<QuizRow>,
    bank_choices: Vec<Choice>,
    departments: Vec<String>,
    today: String,
}

/// `GET /quizzes`: the banks, the quizzes with their participation, the forms.
pub async fn overview(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(f): Query<Flash>,
) -> PageResult {
    let c = Chrome::new(&state, &p, &headers, "daily.tab.quizzes", "/chat-groups")
        .flash_from(f.done.as_deref(), f.error.as_deref());
    let t = c.t;
    let gw = &state.gateway;
    let banks = gw.store.quiz_banks().await?;
    let members = api::quiz_members(&gw.directory());
    let mut quizzes = Vec::new();
    for q in gw.store.quizzes().await? {
        let s = baomi_records::quiz::quiz_statistics(&gw.store, q.id, &members)
            .await
            .map_err(|e| api_error(baomi_server::records_api::records_error(e)))?;
        let (phase, phase_class) = phase(t, &q);
        quizzes.push(QuizRow {
            id: q.id,
            name: q.fields.name.clone(),
            bank: q.bank_name.clone(),
            draw: q.fields.draw,
            limit: limit(t, q.fields.time_limit_seconds),
            pass: q.fields.pass_percent,
            window: window(t, &q.fields.from_day, &q.fields.to_day),
            phase,
            phase_class,
            retakes: q.fields.retakes,
            audience: audience(t, &q.fields.departments),
            expected: s.total.expected,
            took: s.total.took,
            passed: s.total.passed,
            pass_rate: if s.total.took == 0 {
                "-".into()
            } else {
                pct(s.total.pass_rate)
            },
        });
    }
    quizzes.reverse();
    Ok(crate::render(&OfficerPage {
        bank_choices: banks
            .iter()
            .map(|b| Choice {
                value: b.id.to_string(),
                label: format!("{}（{} {}）", b.name, b.questions, t.t("qz.questions_unit")),
            })
            .collect(),
        banks: banks
            .iter()
            .map(|b| BankRow {
                id: b.id,
                name: b.name.clone(),
                questions: b.questions,
                single: b.single,
                multiple: b.multiple,
                true_false: b.true_false,
                created: when(b.created_ms),
                by: b.created_by.clone(),
            })
            .collect(),
        quizzes,
        departments: gw.directory().departments(),
        today: local_date(now_ms()),
        c,
    }))
}

/// `POST /quizzes/banks` (multipart: `name`, `file`): a bank imported whole, or nothing.
pub async fn import_bank(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    mp: axum::extract::Multipart,
) -> PageResult {
    let t = Chrome::new(&state, &p, &headers, "daily.tab.quizzes", "/quizzes").t;
    let (file, fields) = super::policy::upload(mp, MAX_BANK_BYTES).await?;
    let Some((file_name, blob)) = file else {
        return Ok(back_with_error("/quizzes", "qz.no_file"));
    };
    let bytes = blob
        .bytes()
        .map_err(|e| PageError(StatusCode::BAD_REQUEST, e.to_string()))?;
    // Without a name the bank is named after its file.
    let name = fields
        .iter()
        .find(|(k, _)| k == "name")
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            file_name
                .rsplit_once('.')
                .map_or(file_name.as_str(), |(stem, _)| stem)
                .to_owned()
        });
    match api::import_bank_bytes(&state.gateway.store, &name, &bytes, &p.actor).await {
        Ok(b) => Ok(back_to(
            "/quizzes",
            &format!(
                "{}{}（{} {}）",
                t.t("qz.bank_imported"),
                b.name,
                b.questions,
                t.t("qz.questions_unit")
            ),
        )),
        Err(e) if e.0.is_client_error() => Ok(back_with_error(
            "/quizzes",
            &format!("{}{}", t.t("qz.bank_rejected"), problems_in_words(t, &e.1)),
        )),
        Err(e) => Err(api_error(e)),
    }
}

#[derive(Deserialize)]
pub struct QuizForm {
    bank_id: String,
    name: String,
    draw: String,
    minutes: String,
    pass_percent: String,
    from_day: String,
    to_day: String,
    #[serde(default)]
    retakes: String,
    #[serde(default)]
    departments: String,
}

/// `POST /quizzes`: a new quiz.
pub async fn create(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Form(f): Form<QuizForm>,
) -> PageResult {
    let int = |s: &str| s.trim().parse::<i64>().ok();
    let (Some(bank_id), Some(draw), Some(minutes), Some(pass)) = (
        int(&f.bank_id),
        int(&f.draw),
        f.minutes.trim().parse::<f64>().ok(),
        int(&f.pass_percent),
    ) else {
        return Ok(back_with_error("/quizzes", "qz.bad_number"));
    };
    let retakes = if f.retakes.trim().is_empty() {
        0
    } else {
        match int(&f.retakes) {
            Some(n) => n,
            None => return Ok(back_with_error("/quizzes", "qz.bad_number")),
        }
    };
    let departments: Vec<String> = f
        .departments
        .split(['、', ',', '，', ';', '；', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let body = QuizBody {
        name: f.name.trim().to_owned(),
        bank_id,
        draw,
        time_limit_seconds: None,
        time_limit_minutes: Some(minutes),
        pass_percent: pass,
        from_day: f.from_day.trim().to_owned(),
        to_day: f.to_day.trim().to_owned(),
        retakes,
        departments,
    };
    let new = match body.into_new() {
        Ok(n) => n,
        Err(e) => return Ok(back_with_error("/quizzes", &e.1)),
    };
    match state.gateway.store.create_quiz(&new, &p.actor).await {
        Ok(q) => Ok(back_to(&format!("/quizzes/{}", q.id), "qz.created")),
        Err(StoreError::Invalid(e) | StoreError::Conflict(e) | StoreError::NotFound(e)) => {
            Ok(back_with_error("/quizzes", &e))
        }
        Err(e) => Err(e.into()),
    }
}

pub struct DeptRow {
    pub department: String,
    pub expected: i64,
    pub took: i64,
    pub passed: i64,
    pub pass_rate: String,
    pub average: String,
    pub missing: i64,
}

fn dept_row(d: &baomi_records::quiz::DepartmentResult, t: Tr) -> DeptRow {
    DeptRow {
        department: if d.department == "合计" {
            t.t("qz.total").to_owned()
        } else {
            d.department.clone()
        },
        expected: d.expected,
        took: d.took,
        passed: d.passed,
        pass_rate: if d.took == 0 {
            "-".into()
        } else {
            pct(d.pass_rate)
        },
        average: if d.took == 0 {
            "-".into()
        } else {
            format!("{:.1}", d.average)
        },
        missing: d.missing,
    }
}

pub struct PersonRow {
    pub person: String,
    pub account: String,
    pub department: String,
    pub best: i64,
    pub passed: bool,
    pub attempts: i64,
    pub timed_out: i64,
    pub day: String,
}

pub struct MissingLine {
    pub department: String,
    pub names: String,
    pub count: usize,
}

#[derive(Template)]
#[template(path = "quiz.html")]
struct ResultsPage {
    c: Chrome,
    id: i64,
    name: String,
    bank: String,
    draw: i64,
    limit: String,
    pass: i64,
    window: String,
    phase: &'static str,
    phase_class: &'static str,
    retakes: i64,
    audience: String,
    created: String,
    created_by: String,
    running: i64,
    departments: Vec<DeptRow>,
    total: DeptRow,
    people: Vec<PersonRow>,
    missing: Vec<MissingLine>,
    missing_count: usize,
}

/// `GET /quizzes/{id}`: the results against the directory.
pub async fn results(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(f): Query<Flash>,
) -> PageResult {
    let c = Chrome::new(&state, &p, &headers, "daily.tab.quizzes", "/chat-groups")
        .flash_from(f.done.as_deref(), f.error.as_deref());
    let t = c.t;
    let gw = &state.gateway;
    let s =
        baomi_records::quiz::quiz_statistics(&gw.store, id, &api::quiz_members(&gw.directory()))
            .await
            .map_err(|e| api_error(baomi_server::records_api::records_error(e)))?;
    let q = &s.quiz;
    let (phase, phase_class) = phase(t, q);
    let mut missing: Vec<MissingLine> = Vec::new();
    for m in &s.missing {
        match missing.iter_mut().find(|l| l.department == m.department) {
            Some(l) => {
                l.names.push('、');
                l.names.push_str(&m.name);
                l.count += 1;
            }
            None => missing.push(MissingLine {
                department: m.department.clone(),
                names: m.name.clone(),
                count: 1,
            }),
        }
    }
    Ok(crate::render(&ResultsPage {
        id,
        name: q.fields.name.clone(),
        bank: q.bank_name.clone(),
        draw: q.fields.draw,
        limit: limit(t, q.fields.time_limit_seconds),
        pass: q.fields.pass_percent,
        window: window(t, &q.fields.from_day, &q.fields.to_day),
        phase,
        phase_class,
        retakes: q.fields.retakes,
        audience: audience(t, &q.fields.departments),
        created: when(q.created_ms),
        created_by: q.created_by.clone(),
        running: s.running,
        departments: s.departments.iter().map(|d| dept_row(d, t)).collect(),
        total: dept_row(&s.total, t),
        people: s
            .people
            .iter()
            .map(|r| PersonRow {
                person: r.person.clone(),
                account: r.account.clone(),
                department: r.department.clone(),
                best: r.best_score,
                passed: r.passed,
                attempts: r.attempts,
                timed_out: r.timed_out,
                day: when(r.best_ms),
            })
            .collect(),
        missing_count: s.missing.len(),
        missing,
        c,
    }))
}

pub struct MyRow {
    pub id: i64,
    pub name: String,
    pub draw: i64,
    pub limit: String,
    pub pass: i64,
    pub to_day: String,
    pub used: i64,
    pub allowed: i64,
    pub best: String,
    pub passed: bool,
    pub can_start: bool,
    pub running: bool,
    /// Why it cannot be started, when it cannot.
    pub why_not: &'static str,
}

pub struct AttemptRow {
    pub id: i64,
    pub quiz: String,
    pub started: String,
    pub state: &'static str,
    pub state_class: &'static str,
    pub score: String,
    pub passed: Option<bool>,
}

fn attempt_row(t: Tr, a: &Attempt) -> AttemptRow {
    AttemptRow {
        id: a.id,
        quiz: a.quiz_name.clone(),
        started: when(a.started_ms),
        state: state_label(t, a.state),
        state_class: state_class(a.state),
        score: a.score.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
        passed: a.passed,
    }
}

#[derive(Template)]
#[template(path = "my_quizzes.html")]
struct MyPage {
    c: Chrome,
    person: String,
    department: String,
    quizzes: Vec<MyRow>,
    attempts: Vec<AttemptRow>,
}

/// `GET /my/quizzes`: the tests open to this person and their own results.
pub async fn mine(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Query(f): Query<Flash>,
) -> PageResult {
    let c = Chrome::new(&state, &p, &headers, "my.tab.quizzes", "/my/commitments")
        .flash_from(f.done.as_deref(), f.error.as_deref());
    let t = c.t;
    let gw = &state.gateway;
    let who = api::taker(&gw.directory(), &p).map_err(api_error)?;
    let (quizzes, attempts) = api::my_quizzes(&gw.store, &who).await.map_err(api_error)?;
    let today = local_date(now_ms());
    let rows = quizzes
        .iter()
        .map(|m| {
            let q = &m.quiz.fields;
            let why_not = if m.can_start {
                ""
            } else if today < q.from_day {
                "qz.why.later"
            } else if today > q.to_day {
                "qz.why.over"
            } else if !m.quiz.covers(who.department.as_deref()) {
                "qz.why.audience"
            } else {
                "qz.why.used"
            };
            MyRow {
                id: m.quiz.id,
                name: q.name.clone(),
                draw: q.draw,
                limit: limit(t, q.time_limit_seconds),
                pass: q.pass_percent,
                to_day: q.to_day.clone(),
                used: m.attempts_used,
                allowed: m.attempts_allowed,
                best: m
                    .best_score
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                passed: m.passed,
                can_start: m.can_start,
                running: m.running.is_some(),
                why_not: if why_not.is_empty() { "" } else { t.t(why_not) },
            }
        })
        .collect();
    Ok(crate::render(&MyPage {
        person: who.person.clone(),
        department: who.department.clone().unwrap_or_default(),
        quizzes: rows,
        attempts: attempts.iter().map(|a| attempt_row(t, a)).collect(),
        c,
    }))
}

/// `POST /my/quizzes/{id}/start`: start (or go back to) an attempt.
pub async fn start(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
) -> PageResult {
    let gw = &state.gateway;
    let who = api::taker(&gw.directory(), &p).map_err(api_error)?;
    match gw.store.start_quiz_attempt(id, &who).await {
        Ok(a) => Ok(axum::response::IntoResponse::into_response(
            axum::response::Redirect::to(&format!("/my/quizzes/attempts/{}", a.id)),
        )),
        Err(StoreError::Conflict(m)) if m.contains("attempts are used") => {
            Ok(back_with_error("/my/quizzes", "qz.why.used"))
        }
        Err(StoreError::Conflict(m)) if m.contains("is open from") => {
            Ok(back_with_error("/my/quizzes", "qz.not_open"))
        }
        Err(StoreError::Refused(_)) => Ok(back_with_error("/my/quizzes", "qz.why.audience")),
        Err(e) => Err(e.into()),
    }
}

pub struct OptionView {
    pub letter: char,
    pub text: String,
    pub chosen: bool,
    pub right: bool,
}

pub struct QuestionView {
    pub n: usize,
    pub id: i64,
    pub kind: &'static str,
    pub multiple: bool,
    pub stem: String,
    pub options: Vec<OptionView>,
    pub chosen: String,
    pub answer: String,
    pub right: bool,
    pub explanation: String,
}

#[derive(Template)]
#[template(path = "quiz_attempt.html")]
struct AttemptPage {
    c: Chrome,
    id: i64,
    quiz: String,
    person: String,
    open: bool,
    timed_out: bool,
    seconds_left: i64,
    limit: String,
    deadline: String,
    total: i64,
    correct: i64,
    score: i64,
    pass: i64,
    passed: bool,
    submitted: String,
    questions: Vec<QuestionView>,
}

/// `GET /my/quizzes/attempts/{id}`: one's own attempt — the questions while it runs, the
/// score and the right answers once it has ended.
pub async fn attempt(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(f): Query<Flash>,
) -> PageResult {
    let c = Chrome::new(&state, &p, &headers, "my.tab.quizzes", "/my/commitments")
        .flash_from(f.done.as_deref(), f.error.as_deref());
    let t = c.t;
    let store = &state.gateway.store;
    store.expire_quiz_attempts().await?;
    let a = api::own_attempt(store, &p, id).await.map_err(api_error)?;
    let quiz = store.quiz(a.quiz_id).await?;
    let open = a.state == AttemptState::Open;
    let letters = baomi_store::quizzes::LETTERS;
    let questions = a
        .questions
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let chosen = q.chosen.clone().unwrap_or_default();
            let answer = q.answer.clone().unwrap_or_default();
            QuestionView {
                n: i + 1,
                id: q.id,
                kind: kind_label(t, q.kind),
                multiple: q.kind == QuestionKind::Multiple,
                stem: q.stem.clone(),
                options: q
                    .options
                    .iter()
                    .enumerate()
                    .map(|(j, o)| OptionView {
                        letter: letters[j],
                        text: o.clone(),
                        chosen: chosen.contains(letters[j]),
                        right: answer.contains(letters[j]),
                    })
                    .collect(),
                right: q.right == Some(true),
                chosen: if chosen.is_empty() {
                    t.t("qz.unanswered").to_owned()
                } else {
                    chosen
                },
                answer,
                explanation: q.explanation.clone().unwrap_or_default(),
            }
        })
        .collect();
    Ok(crate::render(&AttemptPage {
        id,
        quiz: a.quiz_name.clone(),
        person: a.person.clone(),
        open,
        timed_out: a.state == AttemptState::TimedOut,
        seconds_left: ((a.deadline_ms - now_ms()) / 1000).max(0),
        limit: limit(t, quiz.fields.time_limit_seconds),
        deadline: when(a.deadline_ms),
        total: a.total,
        correct: a.correct.unwrap_or(0),
        score: a.score.unwrap_or(0),
        pass: a.pass_percent,
        passed: a.passed == Some(true),
        submitted: a.submitted_ms.map(when).unwrap_or_default(),
        questions,
        c,
    }))
}

/// `POST /my/quizzes/attempts/{id}`: the answers (`q<question id>` = a letter, repeated for
/// a multiple choice), scored at once; too late, 超时未交.
pub async fn submit(
    State(state): State<ApiState>,
    Extension(p): Extension<Principal>,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let page = format!("/my/quizzes/attempts/{id}");
    let store = &state.gateway.store;
    let a = api::own_attempt(store, &p, id).await.map_err(api_error)?;
    let mut raw = std::collections::BTreeMap::<String, String>::new();
    for (k, v) in pairs {
        if let Some(qid) = k.strip_prefix('q') {
            raw.entry(qid.to_owned()).or_default().push_str(v.trim());
        }
    }
    let answers = match api::answer_map(raw) {
        Ok(m) => m,
        Err(e) => return Ok(back_with_error(&page, &e.1)),
    };
    match store.submit_quiz_attempt(a.id, &a.account, &answers).await {
        Ok(_) => Ok(back_to(&page, "qz.submitted")),
        Err(StoreError::Conflict(m)) if m.contains("超时未交") => {
            Ok(back_with_error(&page, "qz.late"))
        }
        Err(StoreError::Conflict(_)) => Ok(back_with_error(&page, "qz.already_ended")),
        Err(StoreError::Invalid(m)) => Ok(back_with_error(&page, &m)),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn bank_problems_read_in_chinese() {
        let zh = Tr { lang: Lang::Zh };
        let e = "row 4: 答案 D is not among the options (A–B); row 5: 题型 \"问答\" is not one of 单选/多选/判断; row 6: 题目 is empty";
        assert_eq!(
            problems_in_words(zh, e),
            "第 4 行：答案 D 不在选项范围内(A–B)；第 5 行：题型 \"问答\" 不是 单选/多选/判断 之一；第 6 行：题目为空"
        );
        let en = Tr { lang: Lang::En };
        assert_eq!(problems_in_words(en, e), e);
    }
}
