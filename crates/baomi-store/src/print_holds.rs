//! Print jobs held for approval on office computers (migration `0014_print_decisions.sql`).
//!
//! The CUPS backend holds a job whose verdict is `quarantine` (CUPS_BACKEND_HOLD) and
//! queues an event with `local_action = held`; its incident is recorded like any agent
//! event. The security officer decides on the incident — release or cancel — and the
//! decision waits here until the agent of the computer the job is on (the event's
//! `source`, `agent:MACHINE`) fetches it, carries it out against its own cupsd and reports
//! the outcome. One decision per held job; the decision and its outcome are in the audit
//! chain.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, now_ms};

/// What the officer decided for a held print job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrintDecisionKind {
    /// Print it (the agent approves the job once and resumes it in CUPS).
    Release,
    /// Throw it away (the agent cancels it in CUPS).
    Cancel,
}

impl PrintDecisionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrintDecisionKind::Release => "release",
            PrintDecisionKind::Cancel => "cancel",
        }
    }

    pub fn parse(s: &str) -> Option<PrintDecisionKind> {
        match s {
            "release" => Some(PrintDecisionKind::Release),
            "cancel" => Some(PrintDecisionKind::Cancel),
            _ => None,
        }
    }
}

/// One decision and, once the agent reported, its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PrintDecision {
    pub id: i64,
    pub event_id: String,
    pub incident_number: String,
    /// `agent:MACHINE`: the computer whose agent carries it out.
    pub source: String,
    pub decision: PrintDecisionKind,
    pub decided_by: String,
    pub decided_ms: i64,
    pub done_ms: Option<i64>,
    /// What the agent reported: `released`, `canceled`, or why it could not.
    pub outcome: Option<String>,
}

/// A held print job as its incident knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeldPrint {
    pub event_id: String,
    pub source: String,
    pub decision: Option<PrintDecision>,
}

const SELECT: &str = "SELECT id, event_id, incident_number, source, decision, decided_by, \
                      decided_ms, done_ms, outcome FROM print_decisions";

fn from_row(r: &AnyRow) -> Result<PrintDecision> {
    let d: String = r.try_get("decision")?;
    Ok(PrintDecision {
        id: r.try_get("id")?,
        event_id: r.try_get("event_id")?,
        incident_number: r.try_get("incident_number")?,
        source: r.try_get("source")?,
        decision: PrintDecisionKind::parse(&d).unwrap_or(PrintDecisionKind::Cancel),
        decided_by: r.try_get("decided_by")?,
        decided_ms: r.try_get("decided_ms")?,
        done_ms: r.try_get("done_ms")?,
        outcome: r.try_get("outcome")?,
    })
}

impl Store {
    /// The held print job behind an incident (an agent event with `local_action = held`
    /// from an agent), with its decision when one was made; None for any other incident.
    pub async fn held_print(&self, number: &str) -> Result<Option<HeldPrint>> {
        let row = sqlx::query(
            "SELECT event_id, source FROM agent_events \
             WHERE incident_number = $1 AND local_action = 'held' AND source IS NOT NULL",
        )
        .bind(number)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let event_id: String = row.try_get(0)?;
        let source: String = row.try_get(1)?;
        let decision = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE event_id = $1")))
            .bind(&event_id)
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(from_row)
            .transpose()?;
        Ok(Some(HeldPrint {
            event_id,
            source,
            decision,
        }))
    }

    /// Decide on the held print job of incident `number`, once (audited as `print.release`
    /// or `print.cancel`). NotFound when the incident has no held print job; Conflict when
    /// it was decided before.
    pub async fn decide_print(
        &self,
        number: &str,
        decision: PrintDecisionKind,
        actor: &str,
    ) -> Result<PrintDecision> {
        let held = self.held_print(number).await?.ok_or_else(|| {
            StoreError::NotFound(format!(
                "incident {number} has no print job held on a computer"
            ))
        })?;
        if let Some(d) = &held.decision {
            return Err(StoreError::Conflict(format!(
                "the print job of {number} was already decided: {} by {}",
                d.decision.as_str(),
                d.decided_by
            )));
        }
        let now = now_ms();
        let (_guard, mut tx) = self.audit_tx().await?;
        let taken = sqlx::query("SELECT 1 FROM print_decisions WHERE event_id = $1")
            .bind(&held.event_id)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "the print job of {number} was decided meanwhile"
            )));
        }
        sqlx::query(
            "INSERT INTO print_decisions (event_id, incident_number, source, decision, \
             decided_by, decided_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&held.event_id)
        .bind(number)
        .bind(&held.source)
        .bind(decision.as_str())
        .bind(actor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        Store::append_audit(
            &mut tx,
            actor,
            &format!("print.{}", decision.as_str()),
            number,
            &json!({"event_id": held.event_id, "source": held.source}),
        )
        .await?;
        tx.commit().await?;
        self.held_print(number)
            .await?
            .and_then(|h| h.decision)
            .ok_or_else(|| StoreError::NotFound(number.to_owned()))
    }

    /// The decisions the agent of `source` has not carried out yet, oldest first.
    pub async fn print_decisions_waiting(&self, source: &str) -> Result<Vec<PrintDecision>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE source = $1 AND done_ms IS NULL ORDER BY id"
        )))
        .bind(source)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The agent of `source` carried decision `id` out (or could not: `outcome` says why);
    /// audited as `print.done`. Reporting it again changes nothing and returns the record;
    /// another computer's decision is NotFound.
    pub async fn print_decision_done(
        &self,
        id: i64,
        source: &str,
        outcome: &str,
        actor: &str,
    ) -> Result<PrintDecision> {
        let outcome: String = outcome.chars().take(500).collect();
        let (_guard, mut tx) = self.audit_tx().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE id = $1 AND source = $2"
        )))
        .bind(id)
        .bind(source)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("print decision {id} for {source}")))?;
        let current = from_row(&row)?;
        if current.done_ms.is_some() {
            return Ok(current);
        }
        let now = now_ms();
        sqlx::query("UPDATE print_decisions SET done_ms = $1, outcome = $2 WHERE id = $3")
            .bind(now)
            .bind(&outcome)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        Store::append_audit(
            &mut tx,
            actor,
            "print.done",
            &current.incident_number,
            &json!({"decision": current.decision.as_str(), "outcome": outcome,
                    "event_id": current.event_id, "source": source}),
        )
        .await?;
        tx.commit().await?;
        Ok(PrintDecision {
            done_ms: Some(now),
            outcome: Some(outcome),
            ..current
        })
    }
}
