//! What `baomi agent` asks the server, under its `scan` token (`Permission::Inspect`, the
//! permission it already sends its events with):
//!
//! - `GET /api/v1/agent/carrier?serial=S`: is the medium with this serial a carrier of the
//!   ledger (台账) that is issued (在用) — the agent's `usb.mode =
//!   "read-only-unless-registered"` mounts it writable then — and its number, state and
//!   holder. An unknown serial is an answer too (`registered: false`), not an error: the
//!   agent caches every answer for the time it is offline.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use baomi_store::CarrierState;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{ApiError, ApiState};
use crate::authz::{Permission, Routes};

pub fn routes() -> Routes<ApiState> {
    Routes::new().get("/api/v1/agent/carrier", Permission::Inspect, carrier)
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
