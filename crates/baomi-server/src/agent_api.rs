//! What `baomi agent` asks the server, under its `scan` token (`Permission::Inspect`, the
//! permission it already sends its events with):
//!
//! - `GET /api/v1/agent/carrier?serial=S`: is the medium with this serial a carrier of the
//!   ledger (台账) that is issued (在用) — the agent's `usb.mode =
//!   "read-only-unless-registered"` mounts it writable then — and its number, state and
//!   holder. An unknown serial is an answer too (`registered: false`), not an error: the
//!   agent caches every answer for the time it is offline.
//! - `GET /api/v1/agent/print-decisions?machine=M`: the security officer's decisions on
//!   print jobs held on that computer (release or cancel) not carried out yet, and
//!   `POST /api/v1/agent/print-decisions/{id}/done?machine=M&outcome=…` when the agent has
//!   carried one out against its cupsd.
//!
//! And for the security officer (`Permission::Quarantine`, as for held mail):
//! `POST /api/v1/incidents/{number}/print-release` and `…/print-cancel` decide on the print
//! job an incident's agent event held (`local_action = held`); the decision waits for the
//! computer's agent (`baomi_store::print_holds`). Both audited.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use baomi_store::{CarrierState, PrintDecisionKind};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiError, ApiState};
use crate::authz::{Permission, Principal, Routes};

pub fn routes() -> Routes<ApiState> {
    Routes::new()
        .get("/api/v1/agent/carrier", Permission::Inspect, carrier)
        .get(
            "/api/v1/agent/print-decisions",
            Permission::Inspect,
            print_decisions,
        )
        .post(
            "/api/v1/agent/print-decisions/{id}/done",
            Permission::Inspect,
            print_decision_done,
        )
        .post(
            "/api/v1/incidents/{number}/print-release",
            Permission::Quarantine,
            print_release,
        )
        .post(
            "/api/v1/incidents/{number}/print-cancel",
            Permission::Quarantine,
            print_cancel,
        )
}

#[derive(Deserialize)]
struct SerialParam {
    serial: String,
}

/// A serial as sysfs gives it: printable ASCII without spaces, at most 128 characters.
fn valid_serial(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic())
}

/// `GET /api/v1/agent/carrier?serial=S`.
async fn carrier(
    State(state): State<ApiState>,
    Query(q): Query<SerialParam>,
) -> Result<Json<Value>, ApiError> {
    let serial = q.serial.trim();
    if !valid_serial(serial) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "serial: 1 to 128 printable characters without spaces".into(),
        ));
    }
    let store = &state.gateway.store;
    let Some(c) = store.carrier_by_serial(serial).await? else {
        return Ok(Json(json!({
            "serial": serial,
            "registered": false,
            "writable": false,
        })));
    };
    let (_, events) = store.carrier(&c.fields.number).await?;
    // Who has it: the last issue's holder while it is out, else the person responsible.
    let holder = if c.state == CarrierState::Issued {
        events
            .iter()
            .rev()
            .find(|e| e.event == CarrierState::Issued)
            .and_then(|e| e.holder.clone())
    } else {
        None
    }
    .unwrap_or_else(|| c.fields.responsible.clone());
    Ok(Json(json!({
        "serial": serial,
        "registered": true,
        // Written to only while it is issued to someone: a carrier in the cabinet (在册),
        // returned, destroyed or archived is read-only wherever it is plugged in.
        "writable": c.state == CarrierState::Issued,
        "number": c.fields.number,
        "kind": c.fields.kind,
        "level": c.fields.level,
        "state": c.state,
        "state_zh": c.state.zh(),
        "holder": holder,
        "department": c.fields.department,
    })))
}

#[derive(Deserialize)]
struct MachineParam {
    machine: String,
}

#[derive(Deserialize)]
struct DoneParams {
    machine: String,
    outcome: String,
}

/// The agent's source as its events carry it: `agent:MACHINE`.
fn agent_source(machine: &str) -> Result<String, ApiError> {
    let m = machine.trim();
    if m.is_empty() || m.chars().count() > 100 || m.chars().any(char::is_control) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "machine: 1 to 100 characters".into(),
        ));
    }
    Ok(format!("agent:{m}"))
}

/// `GET /api/v1/agent/print-decisions?machine=M`.
async fn print_decisions(
    State(state): State<ApiState>,
    Query(q): Query<MachineParam>,
) -> Result<Json<Value>, ApiError> {
    let source = agent_source(&q.machine)?;
    let waiting = state.gateway.store.print_decisions_waiting(&source).await?;
    Ok(Json(json!({ "decisions": waiting })))
}

/// `POST /api/v1/agent/print-decisions/{id}/done?machine=M&outcome=…`.
async fn print_decision_done(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(id): Path<i64>,
    Query(q): Query<DoneParams>,
) -> Result<Json<Value>, ApiError> {
    let source = agent_source(&q.machine)?;
    if q.outcome.trim().is_empty() {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "outcome: required".into(),
        ));
    }
    let d = state
        .gateway
        .store
        .print_decision_done(id, &source, q.outcome.trim(), &who.actor)
        .await?;
    Ok(Json(json!(d)))
}

async fn decide(
    state: ApiState,
    who: Principal,
    number: String,
    kind: PrintDecisionKind,
) -> Result<Json<Value>, ApiError> {
    let d = state
        .gateway
        .store
        .decide_print(&number, kind, &who.actor)
        .await?;
    Ok(Json(json!(d)))
}

/// `POST /api/v1/incidents/{number}/print-release`: print the held job (once).
async fn print_release(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(number): Path<String>,
) -> Result<Json<Value>, ApiError> {
    decide(state, who, number, PrintDecisionKind::Release).await
}

/// `POST /api/v1/incidents/{number}/print-cancel`: throw the held job away.
async fn print_cancel(
    State(state): State<ApiState>,
    Extension(who): Extension<Principal>,
    Path(number): Path<String>,
) -> Result<Json<Value>, ApiError> {
    decide(state, who, number, PrintDecisionKind::Cancel).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_are_printable_and_bounded() {
        assert!(valid_serial("E0D55EA5741"));
        assert!(valid_serial("0951:1666-AA_01"));
        assert!(!valid_serial(""));
        assert!(!valid_serial("a b"));
        assert!(!valid_serial("序列号"));
        assert!(!valid_serial(&"x".repeat(129)));
    }
}
