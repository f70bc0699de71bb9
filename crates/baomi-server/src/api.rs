//! The REST API (`/api/v1`), `/healthz` and `/metrics`. Everything but `/healthz` needs an
//! API token (`Authorization: Bearer bm_…`, created with `baomi token create`) or a console
//! session, and the permission [`crate::authz::TABLE`] gives the caller's role for the route;
//! the actor written to the audit log for every change is the account or the token.

use std::io::Write;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, MatchedPath, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use baomi_core::{Action, Channel};
use baomi_extract::Blob;
use baomi_store::{Disposition, IncidentFilter, StoreError};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::authz::{self, Permission, Principal, RouteEntry, Routes};
use crate::gateway::{AgentEvent, AgentEventAnswer, Gateway, Who};
use crate::metrics::RouteLabel;

/// Releases and deletes held mail (implemented by the milter door over `postsuper`).
pub trait MailQueue: Send + Sync + 'static {
    fn release(&self, queue_id: &str) -> anyhow::Result<()>;
    fn delete(&self, queue_id: &str) -> anyhow::Result<()>;
}

#[derive(Clone)]
pub struct ApiState {
    pub gateway: Arc<Gateway>,
    pub mail_queue: Option<Arc<dyn MailQueue>>,
}

/// The REST API's routes, each with its permission (see [`crate::authz::TABLE`]).
pub fn routes() -> Routes<ApiState> {
    Routes::new()
        .get("/healthz", Permission::Public, healthz)
        .post("/api/v1/scan", Permission::Inspect, scan)
        .get(
            "/api/v1/incidents",
            Permission::IncidentsRead,
            list_incidents,
        )
        .get(
            "/api/v1/incidents/{number}",
            Permission::IncidentsRead,
            incident,
        )
        .get(
            "/api/v1/incidents/{number}/evidence",
            Permission::Evidence,
            evidence,
        )
        .post(
            "/api/v1/incidents/{number}/disposition",
            Permission::IncidentsWrite,
            disposition,
        )
        .post(
            "/api/v1/incidents/{number}/release",
            Permission::Quarantine,
            release,
        )
        .post(
            "/api/v1/incidents/{number}/delete",
            Permission::Quarantine,
            delete_held,
        )
        .get("/api/v1/stats", Permission::IncidentsRead, stats)
        .get("/api/v1/audit", Permission::Audit, audit_tail)
        .get("/api/v1/nodes", Permission::Health, nodes)
        .get("/api/v1/openapi.json", Permission::ApiDocument, openapi)
        .get("/metrics", Permission::Metrics, metrics)
        .merge(crate::records_api::routes())
        .merge(crate::chat_groups_api::routes())
        .merge(crate::commitments_api::routes())
        .merge(crate::quizzes_api::routes())
        .merge(crate::reviews_api::routes())
        .merge(crate::agent_api::routes())
}

/// The REST API alone (what `baomi serve` answers without the console).
pub fn router(state: ApiState) -> Router {
    app(state, Routes::new()).0
}

/// The HTTP application: the API's routes and `extra` (the console's pages) behind one
/// authentication layer, with the table of every route for tests that walk them.
pub fn app(state: ApiState, extra: Routes<ApiState>) -> (Router, Vec<RouteEntry>) {
    let (router, entries) = routes().merge(extra).into_parts();
    let store = state.gateway.store.clone();
    let tls = state.gateway.config.http.tls();
    let router = router
        .fallback(not_found)
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            authz::authenticate(store.clone(), tls, req, next)
        }))
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state);
    (router, entries)
}

/// Every error of the API is JSON with a message: axum's own refusals of a malformed path,
/// query or body (plain text) are wrapped the same way as ours.
async fn json_errors(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let resp = next.run(req).await;
    let status = resp.status();
    if !api || status.as_u16() < 400 {
        return resp;
    }
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        return resp;
    }
    let body = axum::body::to_bytes(resp.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_owned();
    authz::refuse(
        status,
        if text.is_empty() {
            status.canonical_reason().unwrap_or("error").to_owned()
        } else {
            text
        },
    )
}

async fn not_found(req: Request) -> Response {
    authz::refuse(
        StatusCode::NOT_FOUND,
        format!("no such page or endpoint: {}", req.uri().path()),
    )
}

/// An error as the API reports it: a status and `{"error": "…"}`.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        authz::refuse(self.0, self.1)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => ApiError(StatusCode::NOT_FOUND, e.to_string()),
            StoreError::Invalid(_) => ApiError(StatusCode::BAD_REQUEST, e.to_string()),
            StoreError::Conflict(_) => ApiError(StatusCode::CONFLICT, e.to_string()),
            StoreError::Refused(_) => ApiError(StatusCode::FORBIDDEN, e.to_string()),
            _ => ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}"))
    }
}

fn bad_request(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

async fn count_requests(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    state
        .gateway
        .metrics
        .http_requests
        .get_or_create(&RouteLabel {
            route,
            status: resp.status().as_u16(),
        })
        .inc();
    resp
}

async fn healthz(State(state): State<ApiState>) -> Response {
    match state
        .gateway
        .store
        .incidents(&IncidentFilter {
            limit: Some(1),
            ..Default::default()
        })
        .await
    {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}\n")).into_response(),
    }
}

async fn metrics(State(state): State<ApiState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.gateway.metrics.encode(),
    )
        .into_response()
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
        .into_response()
}

#[derive(Deserialize, Default)]
struct ScanParams {
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    channel: Option<String>,
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    user: Option<String>,
    /// The object's name (file name) for a raw body.
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    name: Option<String>,
    /// Where the content was going (a chat group, a URL).
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    destination: Option<String>,
    /// Where it came from (the chat server, an application); `api` when not given.
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    source: Option<String>,
    /// `baomi agent`'s id for the event: recorded once, a repeated delivery gets the first
    /// answer (`already: true`) without being inspected or recorded again.
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    event_id: Option<String>,
    /// When the event happened (RFC 3339 or milliseconds): the incident's time.
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    at: Option<String>,
    /// What the agent did on its own verdict: `blocked`, `held`, `alerted`,
    /// `uninspectable` or `none`; the incident's action is at least that.
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    local_action: Option<String>,
}

/// An agent's event from the scan parameters, checked; `None` without `event_id`.
fn agent_event(params: &ScanParams) -> Result<Option<AgentEvent>, ApiError> {
    let Some(id) = &params.event_id else {
        if params.at.is_some() || params.local_action.is_some() {
            return Err(bad_request("at and local_action go with event_id"));
        }
        return Ok(None);
    };
    if !baomi_store::agent_events::valid_event_id(id) {
        return Err(bad_request(
            "event_id: 1 to 64 letters, digits and hyphens (a UUID)",
        ));
    }
    let now = baomi_store::now_ms();
    let at_ms = match &params.at {
        None => now,
        Some(at) => baomi_store::agent_events::parse_time_ms(at)
            .filter(|ms| *ms >= 0)
            .ok_or_else(|| {
                bad_request("at: an RFC 3339 time (2026-12-03T10:15:00Z) or milliseconds")
            })?
            // A computer's clock ahead of the server's does not date incidents in the
            // future: beyond five minutes ahead, the time of arrival is taken.
            .min(now + 300_000),
    };
    let floor = match params.local_action.as_deref() {
        None | Some("none") => None,
        Some("blocked") => Some(Action::Block),
        Some("held") => Some(Action::Quarantine),
        Some("alerted") | Some("uninspectable") => Some(Action::Alert),
        Some(_) => {
            return Err(bad_request(
                "local_action: blocked, held, alerted, uninspectable or none",
            ));
        }
    };
    Ok(Some(AgentEvent {
        id: id.clone(),
        at_ms,
        local_action: params.local_action.clone(),
        floor,
    }))
}

/// Collect a request body, in memory up to the spool threshold and in a temporary file
/// beyond it, so an upload's size does not decide the server's memory.
pub(crate) async fn spool<S, E>(mut stream: S, threshold: u64) -> anyhow::Result<Blob>
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut mem: Vec<u8> = Vec::new();
    let mut file: Option<(std::fs::File, tempfile::TempPath)> = None;
    let mut len: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| anyhow::anyhow!("reading the body: {e}"))?;
        len += chunk.len() as u64;
        match &mut file {
            Some((f, _)) => f.write_all(&chunk)?,
            None if (mem.len() + chunk.len()) as u64 > threshold => {
                let (mut f, path) = tempfile::NamedTempFile::new()?.into_parts();
                f.write_all(&mem)?;
                f.write_all(&chunk)?;
                mem = Vec::new();
                file = Some((f, path));
            }
            None => mem.extend_from_slice(&chunk),
        }
    }
    Ok(match file {
        Some((f, path)) => {
            f.sync_data()?;
            Blob::from_temp(path, len)
        }
        None => Blob::from_vec(mem),
    })
}

fn parse_channel(s: Option<&str>) -> Result<Channel, ApiError> {
    Ok(match s.unwrap_or("api") {
        "api" => Channel::Api,
        "web" => Channel::Web,
        "mail" => Channel::Mail,
        "scan" => Channel::Scan,
        "chat" => Channel::Chat,
        "usb" => Channel::Usb,
        "print" => Channel::Print,
        other => return Err(bad_request(format!("unknown channel {other:?}"))),
    })
}

/// The local part of a Matrix user ID (`@zhangsan:unit.cn` → `zhangsan`).
fn matrix_localpart(user: &str) -> Option<&str> {
    let (local, server) = user.strip_prefix('@')?.split_once(':')?;
    (!local.is_empty() && !server.is_empty()).then_some(local)
}

/// `POST /api/v1/scan`: a raw body is one object; a multipart body gives one object per
/// file field (and its text fields as one more object).
async fn scan(
    State(state): State<ApiState>,
    Query(params): Query<ScanParams>,
    headers: HeaderMap,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let gw = &state.gateway;
    let channel = parse_channel(params.channel.as_deref())?;
    let event = agent_event(&params)?;
    let threshold = gw.config.icap.spool_threshold_bytes;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut objects: Vec<(String, Blob)> = Vec::new();
    if content_type.starts_with("multipart/form-data") {
        use axum::extract::FromRequest;
        let mut mp = Multipart::from_request(req, &state)
            .await
            .map_err(|e| bad_request(e.to_string()))?;
        let mut fields = String::new();
        while let Some(field) = mp
            .next_field()
            .await
            .map_err(|e| bad_request(e.to_string()))?
        {
            let field_name = field.name().unwrap_or("").to_owned();
            match field.file_name().map(str::to_owned) {
                Some(file_name) => {
                    let blob = spool(field, threshold).await?;
                    objects.push((file_name, blob));
                }
                None => {
                    let text = field.text().await.map_err(|e| bad_request(e.to_string()))?;
                    fields.push_str(&format!("{field_name}: {text}\n"));
                }
            }
        }
        if !fields.is_empty() {
            objects.push((
                "form-fields.txt".into(),
                Blob::from_vec(fields.into_bytes()),
            ));
        }
    } else {
        let blob = spool(req.into_body().into_data_stream(), threshold).await?;
        objects.push((params.name.clone().unwrap_or_else(|| "upload".into()), blob));
    }
    if objects.is_empty() {
        return Err(bad_request("nothing to inspect: the body is empty"));
    }
    let directory = gw.directory();
    let person = params
        .user
        .as_deref()
        .and_then(|u| directory.web_user(Some(u), None))
        .or_else(|| params.user.as_deref().and_then(|u| directory.mail_user(u)))
        .or_else(|| {
            // A Matrix ID `@zhangsan:unit.cn` is listed as it is, or by its local part
            // (the login the proxy knows too).
            params
                .user
                .as_deref()
                .and_then(matrix_localpart)
                .and_then(|u| directory.web_user(Some(u), None))
        });
    let who = Who {
        user: person.map(|p| p.name.clone()).or(params.user.clone()),
        department: person.map(|p| p.department.clone()),
        source: Some(params.source.clone().unwrap_or_else(|| "api".into())),
        destination: params.destination.clone(),
        queue_id: None,
    };
    if let Some(event) = event {
        if objects.len() != 1 {
            return Err(bad_request(
                "an event (event_id) carries exactly one object",
            ));
        }
        let (name, blob) = objects.pop().expect("one object");
        let event_id = event.id.clone();
        return Ok(Json(
            match gw
                .inspect_agent_event(blob, &name, channel, &who, event)
                .await?
            {
                AgentEventAnswer::Fresh(outcome) => {
                    let mut j = outcome.report.to_json(false);
                    let incidents: Vec<String> =
                        outcome.incident.iter().map(|i| i.number.clone()).collect();
                    if let Some(n) = incidents.first() {
                        j["incident"] = json!(n);
                    }
                    json!({
                        "action": outcome.action,
                        "incidents": incidents,
                        "objects": [j],
                        "event_id": event_id,
                        "already": false,
                    })
                }
                AgentEventAnswer::Seen(seen) => {
                    let mut j = seen.report.clone();
                    if let Some(n) = &seen.incident_number
                        && j.is_object()
                    {
                        j["incident"] = json!(n);
                    }
                    json!({
                        "action": seen.action,
                        "incidents": seen.incident_number.iter().collect::<Vec<_>>(),
                        "objects": [j],
                        "event_id": event_id,
                        "already": true,
                    })
                }
            },
        ));
    }
    let mut reports = Vec::new();
    let mut overall = Action::Allow;
    let mut incidents = Vec::new();
    for (name, blob) in objects {
        let outcome = gw.inspect(blob, &name, channel, &who, None).await?;
        overall = overall.max(outcome.action);
        let mut j = outcome.report.to_json(false);
        if let Some(inc) = &outcome.incident {
            j["incident"] = json!(inc.number);
            incidents.push(inc.number.clone());
        }
        reports.push(j);
    }
    Ok(Json(json!({
        "action": overall,
        "incidents": incidents,
        "objects": reports,
    })))
}

#[derive(Deserialize, Default)]
struct ListParams {
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    from: Option<String>,
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    to: Option<String>,
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    channel: Option<String>,
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    level: Option<String>,
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    department: Option<String>,
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    user: Option<String>,
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    disposition: Option<String>,
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    action: Option<String>,
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    rule: Option<String>,
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    assignee: Option<String>,
    /// Free text on the object name or incident number.
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    q: Option<String>,
    /// `newest` (default), `oldest`, `severity`.
    #[serde(default, deserialize_with = "crate::api::empty_as_none")]
    sort: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// Query parameters sent empty (`?level=`, as an HTML form sends an untouched field) mean
/// "not given".
pub(crate) fn empty_as_none<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<String>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.filter(|s| !s.trim().is_empty()))
}

/// `YYYY-MM-DD` (a Beijing day; `to` is inclusive) or milliseconds since the epoch.
pub fn parse_day(s: &str, end_of_day: bool) -> Option<i64> {
    parse_time(s, end_of_day).ok()
}

fn parse_time(s: &str, end_of_day: bool) -> Result<i64, ApiError> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    let parts: Vec<&str> = s.split('-').collect();
    let bad = || bad_request(format!("{s:?} is neither YYYY-MM-DD nor milliseconds"));
    if parts.len() != 3 {
        return Err(bad());
    }
    let y: i64 = parts[0].parse().map_err(|_| bad())?;
    let m: i64 = parts[1].parse().map_err(|_| bad())?;
    let d: i64 = parts[2].parse().map_err(|_| bad())?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let days = baomi_store::days_from_civil(y, m, d) + i64::from(end_of_day);
    Ok(days * 86_400_000 - baomi_store::LOCAL_OFFSET_MS)
}

impl ListParams {
    fn filter(&self) -> Result<IncidentFilter, ApiError> {
        if let Some(d) = &self.disposition
            && Disposition::parse(d).is_none()
        {
            return Err(bad_request(format!("unknown disposition {d:?}")));
        }
        if let Some(s) = &self.sort
            && !matches!(s.as_str(), "newest" | "oldest" | "severity")
        {
            return Err(bad_request(format!(
                "unknown sort {s:?} (newest, oldest, severity)"
            )));
        }
        Ok(IncidentFilter {
            from_ms: self
                .from
                .as_deref()
                .map(|s| parse_time(s, false))
                .transpose()?,
            to_ms: self
                .to
                .as_deref()
                .map(|s| parse_time(s, true))
                .transpose()?,
            channel: self.channel.clone(),
            level: self.level.clone(),
            department: self.department.clone(),
            user: self.user.clone(),
            disposition: self
                .disposition
                .as_deref()
                .and_then(Disposition::parse)
                .map(|d| d.as_str().to_owned()),
            action: self.action.clone(),
            rule: self.rule.clone(),
            assignee: self.assignee.clone(),
            text: self.q.clone(),
            sort: self.sort.clone(),
            limit: self.limit,
            offset: self.offset,
        })
    }
}

async fn list_incidents(
    State(state): State<ApiState>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let page = state.gateway.store.incidents(&p.filter()?).await?;
    Ok(Json(
        serde_json::to_value(page).map_err(anyhow::Error::from)?,
    ))
}

async fn incident(
    State(state): State<ApiState>,
    Path(number): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let inc = state.gateway.store.incident(&number).await?;
    Ok(Json(
        serde_json::to_value(inc).map_err(anyhow::Error::from)?,
    ))
}

/// The original object, decrypted as it streams out; the download itself is audited.
async fn evidence(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(number): Path<String>,
) -> Result<Response, ApiError> {
    evidence_download(&state, &number, &who.actor).await
}

/// `GET …/evidence` for the API and the console alike.
pub async fn evidence_download(
    state: &ApiState,
    number: &str,
    actor: &str,
) -> Result<Response, ApiError> {
    let number = number.to_owned();
    let gw = state.gateway.clone();
    let inc = gw.store.incident(&number).await?;
    let Some(ev) = inc.evidence.clone() else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!(
                "incident {number} has no evidence (evidence off, or the object was over the size limit)"
            ),
        ));
    };
    if !gw.vault.contains(&ev.hash) {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("evidence of {number} is missing"),
        ));
    }
    gw.store
        .audit(
            actor,
            "evidence.download",
            &number,
            json!({ "hash": ev.hash }),
        )
        .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let vault = gw.vault.clone();
    let hash = ev.hash.clone();
    tokio::task::spawn_blocking(move || {
        let mut w = ChannelWriter { tx: tx.clone() };
        if let Err(e) = vault.get(&hash, &mut w) {
            // The client sees a cut stream rather than a silently short file.
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let is_mail = inc.channel == "mail";
    let file_name = if is_mail {
        format!("{number}.eml")
    } else {
        format!(
            "{number}-{}",
            inc.object_name.as_deref().unwrap_or("evidence.bin")
        )
    };
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if is_mail {
            "message/rfc822"
        } else {
            "application/octet-stream"
        }),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(ev.size as u64));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
        file_name.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '.' && c != '-',
            "_"
        ),
        percent_encode(&file_name)
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[derive(Deserialize)]
struct DispositionBody {
    disposition: String,
    #[serde(default)]
    comment: Option<String>,
}

async fn disposition(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(number): Path<String>,
    Json(body): Json<DispositionBody>,
) -> Result<Json<Value>, ApiError> {
    let d = Disposition::parse(&body.disposition).ok_or_else(|| {
        bad_request(format!(
            "disposition must be violation, false_positive, rectified or open (got {:?})",
            body.disposition
        ))
    })?;
    let inc = state
        .gateway
        .store
        .set_disposition(&number, d, body.comment.as_deref(), &who.actor)
        .await?;
    Ok(Json(
        serde_json::to_value(inc).map_err(anyhow::Error::from)?,
    ))
}

async fn held(state: &ApiState, number: &str) -> Result<(Arc<dyn MailQueue>, String), ApiError> {
    let queue = state
        .mail_queue
        .clone()
        .ok_or_else(|| ApiError(StatusCode::CONFLICT, "the mail door is not running".into()))?;
    let inc = state.gateway.store.incident(number).await?;
    let id = inc.quarantine_id.ok_or_else(|| {
        ApiError(
            StatusCode::CONFLICT,
            format!("incident {number} holds no mail"),
        )
    })?;
    if let Some(s) = inc.quarantine_state {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!("incident {number}: mail already {s}"),
        ));
    }
    Ok((queue, id))
}

async fn release(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(number): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let s = act_on_held(&state, &number, true, &who.actor).await?;
    Ok(Json(json!({ "incident": number, "quarantine_state": s })))
}

async fn delete_held(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(number): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let s = act_on_held(&state, &number, false, &who.actor).await?;
    Ok(Json(json!({ "incident": number, "quarantine_state": s })))
}

/// Release (or delete) the mail an incident holds, and record it; the API and the console
/// both come here.
pub async fn act_on_held(
    state: &ApiState,
    number: &str,
    release: bool,
    actor: &str,
) -> Result<&'static str, ApiError> {
    let (queue, id) = held(state, number).await?;
    tokio::task::spawn_blocking(move || {
        if release {
            queue.release(&id)
        } else {
            queue.delete(&id)
        }
    })
    .await
    .map_err(anyhow::Error::from)??;
    let new_state = if release { "released" } else { "deleted" };
    state
        .gateway
        .store
        .set_quarantine_state(number, new_state, actor)
        .await?;
    Ok(new_state)
}

async fn stats(
    State(state): State<ApiState>,
    Query(p): Query<ListParams>,
) -> Result<Json<Value>, ApiError> {
    let s = state.gateway.store.stats(&p.filter()?).await?;
    Ok(Json(serde_json::to_value(s).map_err(anyhow::Error::from)?))
}

/// The nodes sharing this store, as their heartbeats say (`baomi_server::live`).
async fn nodes(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let store = &state.gateway.store;
    let current = store.state_versions().await?;
    let now = baomi_store::now_ms();
    let stale = 3 * crate::live::HEARTBEAT.as_millis() as i64;
    let nodes: Vec<Value> = store
        .nodes()
        .await?
        .into_iter()
        .map(|n| {
            serde_json::json!({
                "id": n.id,
                "address": n.address,
                "started_ms": n.started_ms,
                "seen_ms": n.seen_ms,
                "versions": n.versions,
                "up": now - n.seen_ms <= stale,
                "current": n.versions == current,
            })
        })
        .collect();
    Ok(Json(
        serde_json::json!({ "current": current, "nodes": nodes }),
    ))
}

#[derive(Deserialize)]
struct AuditParams {
    limit: Option<i64>,
}

async fn audit_tail(
    State(state): State<ApiState>,
    Query(p): Query<AuditParams>,
) -> Result<Json<Value>, ApiError> {
    let entries = state
        .gateway
        .store
        .audit_tail(p.limit.unwrap_or(100).clamp(1, 10_000))
        .await?;
    Ok(Json(
        serde_json::to_value(entries).map_err(anyhow::Error::from)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_bounds_are_beijing_days() {
        // 2026-11-21 00:00 Beijing is 2026-11-20 16:00 UTC.
        let from = parse_time("2026-11-21", false).unwrap();
        assert_eq!(baomi_store::local_date(from), "2026-11-21");
        assert_eq!(baomi_store::local_date(from - 1), "2026-11-20");
        let to = parse_time("2026-11-21", true).unwrap();
        assert_eq!(to - from, 86_400_000);
        assert_eq!(
            parse_time("1795192200000", false).unwrap(),
            1_795_192_200_000
        );
        assert!(parse_time("21/11/2026", false).is_err());
    }

    #[test]
    fn chat_is_a_channel_and_matrix_ids_have_a_local_part() {
        assert_eq!(parse_channel(Some("chat")).unwrap(), Channel::Chat);
        assert_eq!(parse_channel(None).unwrap(), Channel::Api);
        assert_eq!(parse_channel(Some("usb")).unwrap(), Channel::Usb);
        assert_eq!(parse_channel(Some("print")).unwrap(), Channel::Print);
        assert!(parse_channel(Some("fax")).is_err());
        assert_eq!(matrix_localpart("@zhangsan:unit.cn"), Some("zhangsan"));
        assert_eq!(matrix_localpart("@li:matrix.unit.cn:8448"), Some("li"));
        assert_eq!(matrix_localpart("zhangsan"), None);
        assert_eq!(matrix_localpart("@:unit.cn"), None);
        assert_eq!(matrix_localpart("zhangsan@unit.cn"), None);
    }
}
