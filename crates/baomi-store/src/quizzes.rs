//! 保密知识测试: knowledge tests, called quizzes here so they are not confused with the
//! code's tests. A question bank (题库) holds single-choice, multiple-choice and true/false
//! questions (单选/多选/判断), imported whole (the XLSX reading is in `baomi-records`); a quiz
//! draws N questions per person from one bank, with a time limit, a pass mark, a window of
//! days, retakes and an audience (everyone or departments).
//!
//! An attempt freezes what the person was shown: the drawn questions' ids and the order of
//! each one's options. It is scored at once on submission: one point per question answered
//! exactly (a multiple-choice question needs every right option and no wrong one), the score
//! is the percentage of points, rounded. A submission later than the deadline plus
//! [`grace_ms`] (network delay) is refused and the attempt recorded as 超时未交 with score 0;
//! answers are not saved before submission, so nothing of a late attempt counts (an open
//! attempt found past its deadline is closed the same way). Each person may make
//! `1 + retakes` attempts; the best one counts. Bank imports, quiz creation and every
//! attempt's end (score or timeout) are in the audit chain.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store, StoreError, day_start_ms, local_date, now_ms};

/// How late a submission may arrive after the deadline and still count (network delay): a
/// tenth of the time limit, at least 1 s and at most 30 s (a 30-minute quiz: 30 s).
pub fn grace_ms(time_limit_ms: i64) -> i64 {
    (time_limit_ms / 10).clamp(1_000, 30_000)
}
/// Option letters: at most six options (A–F).
pub const LETTERS: [char; 6] = ['A', 'B', 'C', 'D', 'E', 'F'];

/// 题型
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// 单选
    Single,
    /// 多选
    Multiple,
    /// 判断
    TrueFalse,
}

impl QuestionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            QuestionKind::Single => "single",
            QuestionKind::Multiple => "multiple",
            QuestionKind::TrueFalse => "true_false",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            QuestionKind::Single => "单选",
            QuestionKind::Multiple => "多选",
            QuestionKind::TrueFalse => "判断",
        }
    }

    /// By its contract name or the words a question-bank table uses.
    pub fn parse(s: &str) -> Option<QuestionKind> {
        Some(match s.trim() {
            "single" | "单选" | "单选题" | "单项选择" | "单项选择题" => {
                QuestionKind::Single
            }
            "multiple" | "多选" | "多选题" | "多项选择" | "多项选择题" | "不定项" => {
                QuestionKind::Multiple
            }
            "true_false" | "判断" | "判断题" | "是非题" => QuestionKind::TrueFalse,
            _ => return None,
        })
    }
}

/// The two options of every true/false question.
pub const TRUE_FALSE: [&str; 2] = ["正确", "错误"];

/// A question as imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewQuestion {
    pub kind: QuestionKind,
    /// 题目
    pub stem: String,
    /// The options' texts, A first (true/false: 正确, 错误).
    pub options: Vec<String>,
    /// The right options' letters, in order: `A`, `ABD` (true/false: `A` true, `B` false).
    pub answer: String,
    /// 解析
    #[serde(default)]
    pub explanation: Option<String>,
    /// 分类 (知识点)
    #[serde(default)]
    pub category: Option<String>,
}

impl NewQuestion {
    /// Why the question cannot be kept, if it cannot.
    pub fn problem(&self) -> Option<String> {
        if self.stem.trim().is_empty() {
            return Some("题目 is empty".into());
        }
        let n = self.options.len();
        match self.kind {
            QuestionKind::TrueFalse if self.options != TRUE_FALSE => {
                return Some("a true/false question has the options 正确, 错误".into());
            }
            QuestionKind::Single | QuestionKind::Multiple if !(2..=6).contains(&n) => {
                return Some(format!("{n} options: a choice question has 2 to 6 (A–F)"));
            }
            _ => {}
        }
        if self.options.iter().any(|o| o.trim().is_empty()) {
            return Some("an option between A and the last one is empty".into());
        }
        let letters: Vec<char> = self.answer.chars().collect();
        if letters.is_empty() {
            return Some("答案 is empty".into());
        }
        if let Some(c) = letters.iter().find(|c| !LETTERS[..n].contains(c)) {
            return Some(format!(
                "答案 {c} is not among the options (A–{})",
                LETTERS[n - 1]
            ));
        }
        let mut sorted = letters.clone();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted != letters {
            return Some(format!("答案 {} is not in letter order", self.answer));
        }
        match self.kind {
            QuestionKind::Single | QuestionKind::TrueFalse if letters.len() != 1 => Some(format!(
                "答案 {}: a {} question has one right option",
                self.answer,
                self.kind.zh()
            )),
            QuestionKind::Multiple if letters.len() < 2 => Some(format!(
                "答案 {}: a 多选 question has at least two right options",
                self.answer
            )),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Question {
    pub id: i64,
    pub seq: i64,
    #[serde(flatten)]
    pub fields: NewQuestion,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuizBank {
    pub id: i64,
    pub name: String,
    /// How many questions, and of each kind.
    pub questions: i64,
    pub single: i64,
    pub multiple: i64,
    pub true_false: i64,
    pub created_ms: i64,
    pub created_by: String,
}

/// A quiz as an officer sets it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NewQuiz {
    pub name: String,
    pub bank_id: i64,
    /// Questions drawn per person.
    pub draw: i64,
    /// 时限, seconds.
    pub time_limit_seconds: i64,
    /// 合格分数线, percent.
    pub pass_percent: i64,
    /// The window, `YYYY-MM-DD` (Beijing days, both included).
    pub from_day: String,
    pub to_day: String,
    /// Attempts beyond the first.
    #[serde(default)]
    pub retakes: i64,
    /// Department paths (a department also covers those under it); empty: everyone.
    #[serde(default)]
    pub departments: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Quiz {
    pub id: i64,
    #[serde(flatten)]
    pub fields: NewQuiz,
    pub bank_name: String,
    pub created_ms: i64,
    pub created_by: String,
}

impl Quiz {
    /// Whether a person of `department` (a path, or none known) is in the audience.
    pub fn covers(&self, department: Option<&str>) -> bool {
        in_audience(&self.fields.departments, department)
    }

    /// Whether `ms` falls in the window.
    pub fn open_at(&self, ms: i64) -> bool {
        let day = local_date(ms);
        self.fields.from_day <= day && day <= self.fields.to_day
    }

    /// How many attempts a person may make.
    pub fn attempts_allowed(&self) -> i64 {
        1 + self.fields.retakes
    }
}

/// Whether `department` is one of `departments` or under one of them (`局/办公室/保密科` is
/// under `局/办公室`); everyone when the list is empty.
pub fn in_audience(departments: &[String], department: Option<&str>) -> bool {
    if departments.is_empty() {
        return true;
    }
    let Some(d) = department else { return false };
    departments.iter().any(|a| {
        d == a
            || d.strip_prefix(a.as_str())
                .is_some_and(|r| r.starts_with('/'))
    })
}

/// Who takes a quiz: the account, and the person and department the directory knows.
#[derive(Debug, Clone, Serialize)]
pub struct Taker {
    pub account: String,
    pub person: String,
    pub department: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptState {
    /// 答题中
    Open,
    /// 已交卷
    Submitted,
    /// 超时未交
    TimedOut,
}

impl AttemptState {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptState::Open => "open",
            AttemptState::Submitted => "submitted",
            AttemptState::TimedOut => "timed_out",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            AttemptState::Open => "答题中",
            AttemptState::Submitted => "已交卷",
            AttemptState::TimedOut => "超时未交",
        }
    }

    fn parse(s: &str) -> AttemptState {
        match s {
            "submitted" => AttemptState::Submitted,
            "timed_out" => AttemptState::TimedOut,
            _ => AttemptState::Open,
        }
    }
}

/// One drawn question as the person sees it: options in the order shown, letters A… by that
/// order. `answer`, `right` and `explanation` are filled only once the attempt has ended.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptQuestion {
    pub id: i64,
    pub kind: QuestionKind,
    pub stem: String,
    pub options: Vec<String>,
    /// The letters the person chose (as shown), once submitted.
    pub chosen: Option<String>,
    /// The right letters (as shown).
    pub answer: Option<String>,
    pub right: Option<bool>,
    pub explanation: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    pub id: i64,
    pub quiz_id: i64,
    pub quiz_name: String,
    pub account: String,
    pub person: String,
    pub department: Option<String>,
    pub started_ms: i64,
    pub deadline_ms: i64,
    pub submitted_ms: Option<i64>,
    pub state: AttemptState,
    /// Questions answered exactly.
    pub correct: Option<i64>,
    pub total: i64,
    /// Percent, rounded.
    pub score: Option<i64>,
    pub passed: Option<bool>,
    pub pass_percent: i64,
    pub questions: Vec<AttemptQuestion>,
}

#[derive(Serialize, Deserialize)]
struct Drawn {
    id: i64,
    order: Vec<usize>,
}

/// A small generator seeded from the system's randomness (the drawing need not be
/// cryptographic; it must differ between people and attempts).
struct Draw(u64);

impl Draw {
    fn new(salt: &str) -> Draw {
        let mut seed = [0u8; 16];
        if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
            use std::io::Read;
            let _ = f.read_exact(&mut seed);
        }
        let mut h = blake3::Hasher::new();
        h.update(&seed);
        h.update(salt.as_bytes());
        h.update(&now_ms().to_le_bytes());
        let out = h.finalize();
        Draw(u64::from_le_bytes(out.as_bytes()[..8].try_into().unwrap_or([7; 8])) | 1)
    }

    /// splitmix64
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

fn clean(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

const SELECT_QUIZ: &str = "SELECT q.id, q.name, q.bank_id, q.draw, q.time_limit_s, q.pass_percent, \
     q.from_day, q.to_day, q.retakes, q.departments, q.created_ms, q.created_by, b.name AS bank_name \
     FROM quizzes q JOIN quiz_banks b ON b.id = q.bank_id";

fn quiz_from_row(r: &AnyRow) -> Result<Quiz> {
    let departments: String = r.try_get("departments")?;
    Ok(Quiz {
        id: r.try_get("id")?,
        fields: NewQuiz {
            name: r.try_get("name")?,
            bank_id: r.try_get("bank_id")?,
            draw: r.try_get("draw")?,
            time_limit_seconds: r.try_get("time_limit_s")?,
            pass_percent: r.try_get("pass_percent")?,
            from_day: r.try_get("from_day")?,
            to_day: r.try_get("to_day")?,
            retakes: r.try_get("retakes")?,
            departments: serde_json::from_str(&departments).unwrap_or_default(),
        },
        bank_name: r.try_get("bank_name")?,
        created_ms: r.try_get("created_ms")?,
        created_by: r.try_get("created_by")?,
    })
}

fn question_from_row(r: &AnyRow) -> Result<Question> {
    let kind: String = r.try_get("kind")?;
    let options: String = r.try_get("options")?;
    Ok(Question {
        id: r.try_get("id")?,
        seq: r.try_get("seq")?,
        fields: NewQuestion {
            kind: QuestionKind::parse(&kind).unwrap_or(QuestionKind::Single),
            stem: r.try_get("stem")?,
            options: serde_json::from_str(&options).unwrap_or_default(),
            answer: r.try_get("answer")?,
            explanation: r.try_get("explanation")?,
            category: r.try_get("category")?,
        },
    })
}

/// The right letters as shown, for a question whose options were shown in `order`.
fn shown_answer(q: &NewQuestion, order: &[usize]) -> String {
    let right: Vec<usize> = q
        .answer
        .chars()
        .filter_map(|c| LETTERS.iter().position(|l| *l == c))
        .collect();
    order
        .iter()
        .enumerate()
        .filter(|(_, orig)| right.contains(orig))
        .map(|(shown, _)| LETTERS[shown])
        .collect()
}

/// Chosen letters, normalised: upper case, in order, without repeats or separators.
fn normalise_choice(s: &str) -> String {
    let mut v: Vec<char> = s
        .chars()
        .map(|c| c.to_ascii_uppercase())
        .filter(|c| !matches!(c, ',' | '，' | ' ' | '、' | ';'))
        .collect();
    v.sort_unstable();
    v.dedup();
    v.into_iter().collect()
}

/// Percent of `correct` out of `total`, rounded half up.
pub fn percent(correct: i64, total: i64) -> i64 {
    if total <= 0 {
        0
    } else {
        (correct * 200 + total) / (total * 2)
    }
}

const SELECT_ATTEMPT: &str = "SELECT a.id, a.quiz_id, a.account, a.person, a.department, a.started_ms, \
     a.deadline_ms, a.questions, a.answers, a.submitted_ms, a.state, a.correct, a.score, a.passed, \
     q.name AS quiz_name, q.pass_percent FROM quiz_attempts a JOIN quizzes q ON q.id = a.quiz_id";

impl Store {
    /// Import a question bank whole: every question is checked first and nothing is kept
    /// when one is wrong (the error names its place, 1-based).
    pub async fn import_quiz_bank(
        &self,
        name: &str,
        questions: &[NewQuestion],
        actor: &str,
    ) -> Result<QuizBank> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(StoreError::Invalid("题库名称: 1 to 100 characters".into()));
        }
        if questions.is_empty() {
            return Err(StoreError::Invalid("the bank has no question".into()));
        }
        for (i, q) in questions.iter().enumerate() {
            if let Some(p) = q.problem() {
                return Err(StoreError::Invalid(format!("question {}: {p}", i + 1)));
            }
        }
        let now = now_ms();
        let (_guard, mut tx) = self.audit_tx().await?;
        if sqlx::query("SELECT 1 FROM quiz_banks WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .is_some()
        {
            return Err(StoreError::Conflict(format!(
                "a question bank named {name} exists"
            )));
        }
        let id: i64 = sqlx::query(
            "INSERT INTO quiz_banks (name, created_ms, created_by) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name)
        .bind(now)
        .bind(actor)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        for (i, q) in questions.iter().enumerate() {
            sqlx::query(
                "INSERT INTO quiz_questions (bank_id, seq, kind, stem, options, answer, explanation, \
                 category) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(id)
            .bind(i as i64 + 1)
            .bind(q.kind.as_str())
            .bind(q.stem.trim())
            .bind(serde_json::to_string(&q.options).unwrap_or_default())
            .bind(&q.answer)
            .bind(clean(&q.explanation))
            .bind(clean(&q.category))
            .execute(&mut *tx)
            .await?;
        }
        let count = |k: QuestionKind| questions.iter().filter(|q| q.kind == k).count();
        Store::append_audit(
            &mut tx,
            actor,
            "quiz.bank_import",
            name,
            &json!({"id": id, "questions": questions.len(),
                    "single": count(QuestionKind::Single),
                    "multiple": count(QuestionKind::Multiple),
                    "true_false": count(QuestionKind::TrueFalse)}),
        )
        .await?;
        tx.commit().await?;
        self.quiz_bank(id).await.map(|(b, _)| b)
    }

    /// The banks, newest first, with their counts.
    pub async fn quiz_banks(&self) -> Result<Vec<QuizBank>> {
        let rows = sqlx::query(
            "SELECT b.id, b.name, b.created_ms, b.created_by, \
             (SELECT COUNT(*) FROM quiz_questions x WHERE x.bank_id = b.id) AS n, \
             (SELECT COUNT(*) FROM quiz_questions x WHERE x.bank_id = b.id AND x.kind = 'single') AS s, \
             (SELECT COUNT(*) FROM quiz_questions x WHERE x.bank_id = b.id AND x.kind = 'multiple') AS m, \
             (SELECT COUNT(*) FROM quiz_questions x WHERE x.bank_id = b.id AND x.kind = 'true_false') AS t \
             FROM quiz_banks b ORDER BY b.id DESC",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(QuizBank {
                    id: r.try_get("id")?,
                    name: r.try_get("name")?,
                    questions: r.try_get("n")?,
                    single: r.try_get("s")?,
                    multiple: r.try_get("m")?,
                    true_false: r.try_get("t")?,
                    created_ms: r.try_get("created_ms")?,
                    created_by: r.try_get("created_by")?,
                })
            })
            .collect()
    }

    /// A bank and its questions in their order.
    pub async fn quiz_bank(&self, id: i64) -> Result<(QuizBank, Vec<Question>)> {
        let bank = self
            .quiz_banks()
            .await?
            .into_iter()
            .find(|b| b.id == id)
            .ok_or_else(|| StoreError::NotFound(format!("question bank {id}")))?;
        let rows = sqlx::query(
            "SELECT id, seq, kind, stem, options, answer, explanation, category FROM quiz_questions \
             WHERE bank_id = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        let qs = rows.iter().map(question_from_row).collect::<Result<_>>()?;
        Ok((bank, qs))
    }

    /// Set a quiz: its bank must hold at least the questions drawn.
    pub async fn create_quiz(&self, new: &NewQuiz, actor: &str) -> Result<Quiz> {
        let name = new.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(StoreError::Invalid("测试名称: 1 to 100 characters".into()));
        }
        if new.draw < 1 || new.draw > 500 {
            return Err(StoreError::Invalid(
                "题目数量 (draw): 1 to 500 questions per person".into(),
            ));
        }
        if new.time_limit_seconds < 1 || new.time_limit_seconds > 24 * 3600 {
            return Err(StoreError::Invalid(
                "时限 (time_limit_seconds): 1 second to 24 hours".into(),
            ));
        }
        if !(0..=100).contains(&new.pass_percent) {
            return Err(StoreError::Invalid(
                "合格分数线 (pass_percent): 0 to 100".into(),
            ));
        }
        if !(0..=100).contains(&new.retakes) {
            return Err(StoreError::Invalid("补考次数 (retakes): 0 to 100".into()));
        }
        let (Some(from), Some(to)) = (day_start_ms(&new.from_day), day_start_ms(&new.to_day))
        else {
            return Err(StoreError::Invalid(
                "from_day and to_day are dates (YYYY-MM-DD)".into(),
            ));
        };
        if to < from {
            return Err(StoreError::Invalid(
                "the window ends before it begins".into(),
            ));
        }
        let departments: Vec<String> = new
            .departments
            .iter()
            .map(|d| d.trim().trim_end_matches('/').to_owned())
            .filter(|d| !d.is_empty())
            .collect();
        let (bank, _) = self.quiz_bank(new.bank_id).await?;
        if bank.questions < new.draw {
            return Err(StoreError::Invalid(format!(
                "the bank {} has {} questions; {} cannot be drawn",
                bank.name, bank.questions, new.draw
            )));
        }
        let now = now_ms();
        let (_guard, mut tx) = self.audit_tx().await?;
        if sqlx::query("SELECT 1 FROM quizzes WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .is_some()
        {
            return Err(StoreError::Conflict(format!("a quiz named {name} exists")));
        }
        let id: i64 = sqlx::query(
            "INSERT INTO quizzes (name, bank_id, draw, time_limit_s, pass_percent, from_day, to_day, \
             retakes, departments, created_ms, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
        )
        .bind(name)
        .bind(new.bank_id)
        .bind(new.draw)
        .bind(new.time_limit_seconds)
        .bind(new.pass_percent)
        .bind(new.from_day.trim())
        .bind(new.to_day.trim())
        .bind(new.retakes)
        .bind(serde_json::to_string(&departments).unwrap_or_default())
        .bind(now)
        .bind(actor)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        Store::append_audit(
            &mut tx,
            actor,
            "quiz.create",
            name,
            &json!({"id": id, "bank": bank.name, "draw": new.draw,
                    "time_limit_seconds": new.time_limit_seconds, "pass_percent": new.pass_percent,
                    "from": new.from_day, "to": new.to_day, "retakes": new.retakes,
                    "departments": departments}),
        )
        .await?;
        tx.commit().await?;
        self.quiz(id).await
    }

    pub async fn quiz(&self, id: i64) -> Result<Quiz> {
        let row = sqlx::query(AssertSqlSafe(format!("{SELECT_QUIZ} WHERE q.id = $1")))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("quiz {id}")))?;
        quiz_from_row(&row)
    }

    /// Every quiz, newest first.
    pub async fn quizzes(&self) -> Result<Vec<Quiz>> {
        let rows = sqlx::query(AssertSqlSafe(format!("{SELECT_QUIZ} ORDER BY q.id DESC")))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(quiz_from_row).collect()
    }

    /// Close the open attempts whose time (and grace) is over, as 超时未交 with score 0.
    pub async fn expire_quiz_attempts(&self) -> Result<usize> {
        let now = now_ms();
        let rows = sqlx::query(
            "SELECT a.id, a.account, q.name, a.started_ms, a.deadline_ms FROM quiz_attempts a JOIN quizzes q ON q.id = a.quiz_id \
             WHERE a.state = 'open' AND a.deadline_ms < $1",
        )
        .bind(now)
        .fetch_all(self.pool())
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let (_guard, mut tx) = self.audit_tx().await?;
        let mut n = 0;
        for r in rows {
            let id: i64 = r.try_get(0)?;
            let account: String = r.try_get(1)?;
            let quiz: String = r.try_get(2)?;
            let (started, deadline): (i64, i64) = (r.try_get(3)?, r.try_get(4)?);
            if now <= deadline + grace_ms(deadline - started) {
                continue;
            }
            let done = sqlx::query(
                "UPDATE quiz_attempts SET state = 'timed_out', correct = 0, score = 0, passed = 0 \
                 WHERE id = $1 AND state = 'open'",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                n += 1;
                Store::append_audit(
                    &mut tx,
                    "system",
                    "quiz.timed_out",
                    &quiz,
                    &json!({"attempt": id, "account": account, "score": 0, "submitted": false}),
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Start an attempt: the questions drawn and their options shuffled (true/false keeps
    /// 正确, 错误), frozen with the deadline. An attempt still running is returned as it is.
    pub async fn start_quiz_attempt(&self, quiz_id: i64, taker: &Taker) -> Result<Attempt> {
        let quiz = self.quiz(quiz_id).await?;
        self.expire_quiz_attempts().await?;
        let now = now_ms();
        if !quiz.open_at(now) {
            return Err(StoreError::Conflict(format!(
                "{} is open from {} to {}",
                quiz.fields.name, quiz.fields.from_day, quiz.fields.to_day
            )));
        }
        if !quiz.covers(taker.department.as_deref()) {
            return Err(StoreError::Refused(format!(
                "{} is for {}; {} is not among them",
                quiz.fields.name,
                quiz.fields.departments.join("、"),
                taker.department.as_deref().unwrap_or("（未登记部门）")
            )));
        }
        let (_guard, mut tx) = self.audit_tx().await?;
        let rows =
            sqlx::query("SELECT id, state FROM quiz_attempts WHERE quiz_id = $1 AND account = $2")
                .bind(quiz_id)
                .bind(&taker.account)
                .fetch_all(&mut *tx)
                .await?;
        let mut used = 0;
        for r in &rows {
            used += 1;
            let state: String = r.try_get(1)?;
            if state == "open" {
                let id: i64 = r.try_get(0)?;
                drop(tx);
                return self.quiz_attempt(id).await;
            }
        }
        if used >= quiz.attempts_allowed() {
            return Err(StoreError::Conflict(format!(
                "{}: all {} attempts are used",
                quiz.fields.name,
                quiz.attempts_allowed()
            )));
        }
        let ids: Vec<(i64, String)> =
            sqlx::query("SELECT id, kind FROM quiz_questions WHERE bank_id = $1 ORDER BY seq")
                .bind(quiz.fields.bank_id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<_>>()?;
        let options: BTreeMap<i64, usize> =
            sqlx::query("SELECT id, options FROM quiz_questions WHERE bank_id = $1")
                .bind(quiz.fields.bank_id)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| {
                    let o: String = r.try_get(1)?;
                    let n = serde_json::from_str::<Vec<String>>(&o).map_or(0, |v| v.len());
                    Ok((r.try_get(0)?, n))
                })
                .collect::<Result<_>>()?;
        let mut rng = Draw::new(&format!("{}:{}:{used}", quiz_id, taker.account));
        let mut pool = ids;
        rng.shuffle(&mut pool);
        pool.truncate(quiz.fields.draw as usize);
        let drawn: Vec<Drawn> = pool
            .into_iter()
            .map(|(id, kind)| {
                let n = options.get(&id).copied().unwrap_or(0);
                let mut order: Vec<usize> = (0..n).collect();
                if kind != "true_false" {
                    rng.shuffle(&mut order);
                }
                Drawn { id, order }
            })
            .collect();
        let deadline = now + quiz.fields.time_limit_seconds * 1000;
        let id: i64 = sqlx::query(
            "INSERT INTO quiz_attempts (quiz_id, account, person, department, started_ms, \
             deadline_ms, questions, state) VALUES ($1, $2, $3, $4, $5, $6, $7, 'open') RETURNING id",
        )
        .bind(quiz_id)
        .bind(&taker.account)
        .bind(&taker.person)
        .bind(&taker.department)
        .bind(now)
        .bind(deadline)
        .bind(serde_json::to_string(&drawn).unwrap_or_default())
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        tx.commit().await?;
        self.quiz_attempt(id).await
    }

    /// Submit the answers (`question id → letters as shown`) and score at once. Too late
    /// (past the deadline and [`grace_ms`]): the attempt is closed as 超时未交 with score 0
    /// and the submission refused (`Conflict`). Only the attempt's own account submits.
    pub async fn submit_quiz_attempt(
        &self,
        attempt_id: i64,
        account: &str,
        answers: &BTreeMap<i64, String>,
    ) -> Result<Attempt> {
        let now = now_ms();
        let a = self.quiz_attempt(attempt_id).await?;
        if a.account != account {
            return Err(StoreError::NotFound(format!("attempt {attempt_id}")));
        }
        if a.state != AttemptState::Open {
            return Err(StoreError::Conflict(format!(
                "attempt {attempt_id} has ended ({})",
                a.state.zh()
            )));
        }
        // Check the answers against what was shown before anything is written.
        let mut chosen: BTreeMap<i64, String> = BTreeMap::new();
        for (qid, letters) in answers {
            let Some(q) = a.questions.iter().find(|q| q.id == *qid) else {
                return Err(StoreError::Invalid(format!(
                    "question {qid} is not in this attempt"
                )));
            };
            let l = normalise_choice(letters);
            let n = q.options.len();
            if let Some(c) = l.chars().find(|c| !LETTERS[..n].contains(c)) {
                return Err(StoreError::Invalid(format!(
                    "question {qid}: {c} is not an option (A–{})",
                    LETTERS[n - 1]
                )));
            }
            if q.kind != QuestionKind::Multiple && l.chars().count() > 1 {
                return Err(StoreError::Invalid(format!(
                    "question {qid} is {}: one option only",
                    q.kind.zh()
                )));
            }
            if !l.is_empty() {
                chosen.insert(*qid, l);
            }
        }
        let drawn = self.drawn(attempt_id).await?;
        let late = now > a.deadline_ms + grace_ms(a.deadline_ms - a.started_ms);
        let (_guard, mut tx) = self.audit_tx().await?;
        if late {
            let done = sqlx::query(
                "UPDATE quiz_attempts SET state = 'timed_out', correct = 0, score = 0, passed = 0 \
                 WHERE id = $1 AND state = 'open'",
            )
            .bind(attempt_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                Store::append_audit(
                    &mut tx,
                    &format!("user:{account}"),
                    "quiz.timed_out",
                    &a.quiz_name,
                    &json!({"attempt": attempt_id, "account": account, "score": 0,
                            "submitted": true, "late_ms": now - a.deadline_ms}),
                )
                .await?;
                tx.commit().await?;
            }
            return Err(StoreError::Conflict(format!(
                "超时未交: the time limit ended at {} (Beijing time), {} s ago; the attempt is recorded as timed out with score 0",
                clock(a.deadline_ms),
                (now - a.deadline_ms) / 1000
            )));
        }
        let bank: BTreeMap<i64, Question> = {
            let mut m = BTreeMap::new();
            for d in &drawn {
                let r = sqlx::query(
                    "SELECT id, seq, kind, stem, options, answer, explanation, category \
                     FROM quiz_questions WHERE id = $1",
                )
                .bind(d.id)
                .fetch_one(&mut *tx)
                .await?;
                m.insert(d.id, question_from_row(&r)?);
            }
            m
        };
        let correct = drawn
            .iter()
            .filter(|d| {
                bank.get(&d.id).is_some_and(|q| {
                    chosen.get(&d.id).map(String::as_str)
                        == Some(&shown_answer(&q.fields, &d.order))
                })
            })
            .count() as i64;
        let total = drawn.len() as i64;
        let score = percent(correct, total);
        let passed = score >= a.pass_percent;
        let done = sqlx::query(
            "UPDATE quiz_attempts SET state = 'submitted', answers = $1, submitted_ms = $2, \
             correct = $3, score = $4, passed = $5 WHERE id = $6 AND state = 'open'",
        )
        .bind(serde_json::to_string(&chosen).unwrap_or_default())
        .bind(now)
        .bind(correct)
        .bind(score)
        .bind(i64::from(passed))
        .bind(attempt_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "attempt {attempt_id} was submitted meanwhile"
            )));
        }
        Store::append_audit(
            &mut tx,
            &format!("user:{account}"),
            "quiz.submit",
            &a.quiz_name,
            &json!({"attempt": attempt_id, "account": account, "correct": correct,
                    "total": total, "score": score, "passed": passed}),
        )
        .await?;
        tx.commit().await?;
        self.quiz_attempt(attempt_id).await
    }

    async fn drawn(&self, attempt_id: i64) -> Result<Vec<Drawn>> {
        let r = sqlx::query("SELECT questions FROM quiz_attempts WHERE id = $1")
            .bind(attempt_id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("attempt {attempt_id}")))?;
        let text: String = r.try_get(0)?;
        serde_json::from_str(&text)
            .map_err(|e| StoreError::Invalid(format!("attempt {attempt_id}: {e}")))
    }

    /// An attempt with its questions as shown (right answers only once it has ended).
    pub async fn quiz_attempt(&self, id: i64) -> Result<Attempt> {
        let row = sqlx::query(AssertSqlSafe(format!("{SELECT_ATTEMPT} WHERE a.id = $1")))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("attempt {id}")))?;
        let mut a = attempt_from_row(&row)?;
        let drawn: Vec<Drawn> = {
            let text: String = row.try_get("questions")?;
            serde_json::from_str(&text).unwrap_or_default()
        };
        let answers: BTreeMap<i64, String> = row
            .try_get::<Option<String>, _>("answers")?
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let ended = a.state != AttemptState::Open;
        for d in drawn {
            let r = sqlx::query(
                "SELECT id, seq, kind, stem, options, answer, explanation, category \
                 FROM quiz_questions WHERE id = $1",
            )
            .bind(d.id)
            .fetch_one(self.pool())
            .await?;
            let q = question_from_row(&r)?.fields;
            let options = d
                .order
                .iter()
                .map(|&i| q.options.get(i).cloned().unwrap_or_default())
                .collect();
            let answer = shown_answer(&q, &d.order);
            let chosen = answers.get(&d.id).cloned();
            a.questions.push(AttemptQuestion {
                id: d.id,
                kind: q.kind,
                stem: q.stem,
                options,
                right: ended.then(|| chosen.as_deref() == Some(answer.as_str())),
                chosen: if ended { chosen } else { None },
                answer: ended.then_some(answer),
                explanation: if ended { q.explanation } else { None },
            });
        }
        a.total = a.questions.len() as i64;
        Ok(a)
    }

    /// The attempts of one quiz (`quiz`) or of one account (`account`), newest first,
    /// without their questions.
    pub async fn quiz_attempts(
        &self,
        quiz: Option<i64>,
        account: Option<&str>,
    ) -> Result<Vec<Attempt>> {
        self.expire_quiz_attempts().await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{SELECT_ATTEMPT} WHERE ($1 < 0 OR a.quiz_id = $1) AND ($2 = '' OR a.account = $2) \
             ORDER BY a.id DESC"
        )))
        .bind(quiz.unwrap_or(-1))
        .bind(account.unwrap_or(""))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let mut a = attempt_from_row(r)?;
                let text: String = r.try_get("questions")?;
                a.total = serde_json::from_str::<Vec<Drawn>>(&text).map_or(0, |v| v.len() as i64);
                Ok(a)
            })
            .collect()
    }
}

fn attempt_from_row(r: &AnyRow) -> Result<Attempt> {
    let state: String = r.try_get("state")?;
    let passed: Option<i64> = r.try_get("passed")?;
    Ok(Attempt {
        id: r.try_get("id")?,
        quiz_id: r.try_get("quiz_id")?,
        quiz_name: r.try_get("quiz_name")?,
        account: r.try_get("account")?,
        person: r.try_get("person")?,
        department: r.try_get("department")?,
        started_ms: r.try_get("started_ms")?,
        deadline_ms: r.try_get("deadline_ms")?,
        submitted_ms: r.try_get("submitted_ms")?,
        state: AttemptState::parse(&state),
        correct: r.try_get("correct")?,
        total: 0,
        score: r.try_get("score")?,
        passed: passed.map(|p| p != 0),
        pass_percent: r.try_get("pass_percent")?,
        questions: Vec::new(),
    })
}

/// `HH:MM:SS` in Beijing time.
fn clock(ms: i64) -> String {
    let s = (ms + crate::LOCAL_OFFSET_MS).rem_euclid(86_400_000) / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(kind: QuestionKind, options: &[&str], answer: &str) -> NewQuestion {
        NewQuestion {
            kind,
            stem: "题".into(),
            options: options.iter().map(|s| s.to_string()).collect(),
            answer: answer.into(),
            explanation: None,
            category: None,
        }
    }

    #[test]
    fn shown_answers_follow_the_order() {
        let m = q(QuestionKind::Multiple, &["a", "b", "c", "d"], "AC");
        // Shown: c, a, d, b → the right ones (a, c) are shown as B and A.
        assert_eq!(shown_answer(&m, &[2, 0, 3, 1]), "AB");
        assert_eq!(shown_answer(&m, &[0, 1, 2, 3]), "AC");
        assert_eq!(normalise_choice("c, a"), "AC");
        assert_eq!(percent(2, 3), 67);
        assert_eq!(percent(1, 2), 50);
    }

    #[test]
    fn problems() {
        assert!(
            q(QuestionKind::Single, &["a", "b"], "C")
                .problem()
                .unwrap()
                .contains("not among")
        );
        assert!(
            q(QuestionKind::Single, &["a", "b"], "AB")
                .problem()
                .is_some()
        );
        assert!(
            q(QuestionKind::Multiple, &["a", "b"], "A")
                .problem()
                .is_some()
        );
        assert!(
            q(QuestionKind::TrueFalse, &TRUE_FALSE, "B")
                .problem()
                .is_none()
        );
        assert!(in_audience(&["局/办公室".into()], Some("局/办公室/保密科")));
        assert!(!in_audience(&["局/办公室".into()], Some("局/办公室二")));
    }
}
