//! 保密知识测试 (knowledge tests, "quizzes") over REST. The security officer (`Records`)
//! imports question banks (the body is the XLSX), sets quizzes and reads the results (JSON,
//! or `format=xlsx`); every person (`SelfService`) lists the quizzes open to them, starts an
//! attempt and submits it — their own only: another person's attempt is not found.

use std::collections::BTreeMap;

use axum::Extension;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use baomi_records::Format;
use baomi_records::quiz::QuizMember;
use baomi_store::{AttemptState, NewQuiz, Quiz, Store, Taker, now_ms};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiError, ApiState};
use crate::authz::{Permission, Principal, Routes};
use crate::directory::Directory;
use crate::records_api::{download, records_error};

pub fn routes() -> Routes<ApiState> {
    Routes::new()
        .get("/api/v1/quizzes/banks", Permission::Records, list_banks)
        .post("/api/v1/quizzes/banks", Permission::Records, import_bank)
        .get("/api/v1/quizzes/banks/{id}", Permission::Records, get_bank)
        .get("/api/v1/quizzes", Permission::Records, list_quizzes)
        .post("/api/v1/quizzes", Permission::Records, create_quiz)
        .get("/api/v1/quizzes/{id}", Permission::Records, get_quiz)
        .get("/api/v1/quizzes/{id}/results", Permission::Records, results)
        .get("/api/v1/quizzes/mine", Permission::SelfService, mine)
        .post(
            "/api/v1/quizzes/{id}/attempts",
            Permission::SelfService,
            start,
        )
        .get(
            "/api/v1/quizzes/attempts/{id}",
            Permission::SelfService,
            get_attempt,
        )
        .post(
            "/api/v1/quizzes/attempts/{id}/submit",
            Permission::SelfService,
            submit,
        )
}

/// The directory's people as the results need them.
pub fn quiz_members(directory: &Directory) -> Vec<QuizMember> {
    directory
        .people()
        .iter()
        .map(|p| QuizMember {
            name: p.name.clone(),
            department: p.department.clone(),
            left: p.left.clone(),
        })
        .collect()
}

/// Who is taking a quiz: the account, and the person the directory lists for it (by its
/// `account`, else by the display name or the account name), else the account's own name
/// and department.
pub fn taker(directory: &Directory, who: &Principal) -> Result<Taker, ApiError> {
    let a = who.account.as_ref().ok_or_else(|| {
        ApiError(
            StatusCode::FORBIDDEN,
            "knowledge tests are taken by a person's account".into(),
        )
    })?;
    let listed = directory
        .people()
        .iter()
        .find(|p| p.account.as_deref() == Some(a.name.as_str()))
        .or_else(|| a.display_name.as_deref().and_then(|n| directory.person(n)))
        .or_else(|| directory.person(&a.name));
    Ok(match listed {
        Some(p) => Taker {
            account: a.name.clone(),
            person: p.name.clone(),
            department: Some(p.department.clone()),
        },
        None => Taker {
            account: a.name.clone(),
            person: a.display_name.clone().unwrap_or_else(|| a.name.clone()),
            department: a.department.clone(),
        },
    })
}

async fn list_banks(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({ "banks": state.gateway.store.quiz_banks().await? }),
    ))
}

#[derive(Deserialize, Default)]
struct NameParam {
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    name: Option<String>,
}

/// Read a bank's XLSX and keep it whole, or nothing.
pub async fn import_bank_bytes(
    store: &Store,
    name: &str,
    bytes: &[u8],
    actor: &str,
) -> Result<baomi_store::QuizBank, ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "the bank needs a name (name=…)".into(),
        ));
    }
    let questions = baomi_records::quiz::import_bank_xlsx(bytes).map_err(records_error)?;
    Ok(store.import_quiz_bank(name, &questions, actor).await?)
}

/// `POST /api/v1/quizzes/banks?name=…`: the body is the XLSX.
async fn import_bank(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Query(p): Query<NameParam>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let name = p.name.unwrap_or_default();
    let bank = import_bank_bytes(&state.gateway.store, &name, &body, &who.actor).await?;
    Ok((StatusCode::CREATED, Json(json!(bank))).into_response())
}

async fn get_bank(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let (bank, questions) = state.gateway.store.quiz_bank(id).await?;
    Ok(Json(json!({ "bank": bank, "questions": questions })))
}

async fn list_quizzes(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(
        json!({ "quizzes": state.gateway.store.quizzes().await? }),
    ))
}

/// A quiz as the API takes it: the time limit in seconds or in minutes (fractions allowed).
#[derive(Deserialize)]
pub struct QuizBody {
    pub name: String,
    pub bank_id: i64,
    pub draw: i64,
    #[serde(default)]
    pub time_limit_seconds: Option<i64>,
    #[serde(default)]
    pub time_limit_minutes: Option<f64>,
    pub pass_percent: i64,
    pub from_day: String,
    pub to_day: String,
    #[serde(default)]
    pub retakes: i64,
    #[serde(default)]
    pub departments: Vec<String>,
}

impl QuizBody {
    pub fn into_new(self) -> Result<NewQuiz, ApiError> {
        let seconds = match (self.time_limit_seconds, self.time_limit_minutes) {
            (Some(s), None) => s,
            (None, Some(m)) if m.is_finite() && m > 0.0 && m <= 24.0 * 60.0 => {
                (m * 60.0).round() as i64
            }
            (None, Some(_)) => {
                return Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    "time_limit_minutes: more than 0, at most 1440".into(),
                ));
            }
            _ => {
                return Err(ApiError(
                    StatusCode::BAD_REQUEST,
                    "the time limit: time_limit_seconds or time_limit_minutes (one of them)".into(),
                ));
            }
        };
        Ok(NewQuiz {
            name: self.name,
            bank_id: self.bank_id,
            draw: self.draw,
            time_limit_seconds: seconds,
            pass_percent: self.pass_percent,
            from_day: self.from_day,
            to_day: self.to_day,
            retakes: self.retakes,
            departments: self.departments,
        })
    }
}

async fn create_quiz(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Json(b): Json<QuizBody>,
) -> Result<Response, ApiError> {
    let new = b.into_new()?;
    let store = &state.gateway.store;
    // A bank that does not exist is the body's mistake here, not a missing resource.
    if store.quiz_bank(new.bank_id).await.is_err() {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("no question bank {}", new.bank_id),
        ));
    }
    let q = store.create_quiz(&new, &who.actor).await?;
    Ok((StatusCode::CREATED, Json(json!(q))).into_response())
}

async fn get_quiz(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(state.gateway.store.quiz(id).await?)))
}

#[derive(Deserialize, Default)]
struct FormatParam {
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    format: Option<String>,
}

/// `GET /api/v1/quizzes/{id}/results?format=json|xlsx`
async fn results(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
    Query(p): Query<FormatParam>,
) -> Result<Response, ApiError> {
    let gw = &state.gateway;
    let format = p.format.as_deref().unwrap_or("json");
    if format != "json" && format != "xlsx" {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("format {format:?}: json or xlsx"),
        ));
    }
    let stats = baomi_records::quiz::quiz_statistics(&gw.store, id, &quiz_members(&gw.directory()))
        .await
        .map_err(records_error)?;
    if format == "json" {
        return Ok(Json(json!(stats)).into_response());
    }
    let name = format!("{}统计", stats.quiz.fields.name);
    let bytes = tokio::task::spawn_blocking(move || baomi_records::quiz::export_xlsx(&stats))
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(records_error)?;
    Ok(download(bytes, Format::Xlsx, &name))
}

/// A quiz as one person sees it in their list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MyQuiz {
    pub quiz: Quiz,
    pub attempts_used: i64,
    pub attempts_allowed: i64,
    pub best_score: Option<i64>,
    pub passed: bool,
    /// The attempt running now, if any.
    pub running: Option<i64>,
    /// Open today, for this person, attempts left.
    pub can_start: bool,
}

/// The quizzes for this person (their audience), with what they have done.
pub async fn my_quizzes(
    store: &Store,
    t: &Taker,
) -> Result<(Vec<MyQuiz>, Vec<baomi_store::Attempt>), ApiError> {
    let attempts = store.quiz_attempts(None, Some(&t.account)).await?;
    let now = now_ms();
    let mut out = Vec::new();
    for q in store.quizzes().await? {
        let mine: Vec<&baomi_store::Attempt> =
            attempts.iter().filter(|a| a.quiz_id == q.id).collect();
        if !q.covers(t.department.as_deref()) && mine.is_empty() {
            continue;
        }
        let used = mine.len() as i64;
        let running = mine
            .iter()
            .find(|a| a.state == AttemptState::Open)
            .map(|a| a.id);
        let can_start = q.open_at(now)
            && q.covers(t.department.as_deref())
            && (running.is_some() || used < q.attempts_allowed());
        out.push(MyQuiz {
            attempts_used: used,
            attempts_allowed: q.attempts_allowed(),
            best_score: mine.iter().filter_map(|a| a.score).max(),
            passed: mine.iter().any(|a| a.passed == Some(true)),
            running,
            can_start,
            quiz: q,
        });
    }
    Ok((out, attempts))
}

async fn mine(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
) -> Result<Json<Value>, ApiError> {
    let t = taker(&state.gateway.directory(), &who)?;
    let (quizzes, attempts) = my_quizzes(&state.gateway.store, &t).await?;
    Ok(Json(
        json!({ "person": t, "quizzes": quizzes, "attempts": attempts }),
    ))
}

/// `POST /api/v1/quizzes/{id}/attempts`: start (or go back to the running attempt).
async fn start(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let t = taker(&state.gateway.directory(), &who)?;
    let a = state.gateway.store.start_quiz_attempt(id, &t).await?;
    Ok(Json(json!(a)))
}

/// One's own attempt; another person's is not found.
pub async fn own_attempt(
    store: &Store,
    who: &Principal,
    id: i64,
) -> Result<baomi_store::Attempt, ApiError> {
    let a = store.quiz_attempt(id).await?;
    if who.account.as_ref().map(|x| x.name.as_str()) != Some(a.account.as_str()) {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("not found: attempt {id}"),
        ));
    }
    Ok(a)
}

async fn get_attempt(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    state.gateway.store.expire_quiz_attempts().await?;
    Ok(Json(json!(
        own_attempt(&state.gateway.store, &who, id).await?
    )))
}

#[derive(Deserialize)]
struct SubmitBody {
    /// Question id → the letters chosen, as shown (`"A"`, `"ACD"`).
    #[serde(default)]
    answers: BTreeMap<String, String>,
}

/// `question id → letters` with the ids checked as numbers.
pub fn answer_map(raw: BTreeMap<String, String>) -> Result<BTreeMap<i64, String>, ApiError> {
    raw.into_iter()
        .map(|(k, v)| {
            k.trim()
                .parse::<i64>()
                .map(|k| (k, v))
                .map_err(|_| ApiError(StatusCode::BAD_REQUEST, format!("question id {k:?}")))
        })
        .collect()
}

async fn submit(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<i64>,
    Json(b): Json<SubmitBody>,
) -> Result<Json<Value>, ApiError> {
    let store = &state.gateway.store;
    let a = own_attempt(store, &who, id).await?;
    let answers = answer_map(b.answers)?;
    let done = store
        .submit_quiz_attempt(a.id, &a.account, &answers)
        .await?;
    Ok(Json(json!(done)))
}
