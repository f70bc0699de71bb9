//! Events delivered by `baomi agent` (files written to removable media, print jobs), each
//! recorded once by the id the agent assigned (migration `0009_agent_events.sql`).
//!
//! The agent's queue delivers at least once (an answer lost on the way means the event is
//! sent again); this table makes the whole exactly once. The incident and the event's row
//! are written in one audit transaction, and the row is looked up inside it, so two
//! deliveries of the same event racing each other cannot both record: the second finds the
//! first's row and gets its result.

use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::incidents::{Incident, NewIncident};
use crate::{Result, Store, StoreError, now_ms};

/// What the server answered for an agent's event the first time.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentEventRecord {
    pub event_id: String,
    pub incident_id: Option<i64>,
    pub incident_number: Option<String>,
    /// The action the server decided (`allow`, `alert`, `block` …).
    pub action: String,
    /// The object's report as first answered (findings masked).
    pub report: Value,
    /// What the agent did on its own verdict (`blocked`, `alerted`, `uninspectable` …).
    pub local_action: Option<String>,
    pub source: Option<String>,
    /// When it happened on the computer, and when the server first received it.
    pub happened_ms: i64,
    pub received_ms: i64,
}

/// An event to remember, with what the server made of it.
#[derive(Debug, Clone)]
pub struct NewAgentEvent {
    pub event_id: String,
    pub action: String,
    pub report: Value,
    pub local_action: Option<String>,
    pub source: Option<String>,
    pub happened_ms: i64,
}

/// The result of [`Store::record_agent_event`].
#[derive(Debug)]
pub struct AgentEventOutcome {
    pub record: AgentEventRecord,
    /// The incident written now (none when the event was already there, or not worth one).
    pub incident: Option<Incident>,
    /// The event id had been recorded before: nothing was written.
    pub already: bool,
}

/// An id the agent may assign: what a UUID holds, at most 64 characters.
pub fn valid_event_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

const SELECT: &str = "SELECT event_id, incident_id, incident_number, action, report, local_action, \
                      source, happened_ms, received_ms FROM agent_events WHERE event_id = $1";

fn row_to_record(row: &AnyRow) -> Result<AgentEventRecord> {
    let report: String = row.try_get(4)?;
    Ok(AgentEventRecord {
        event_id: row.try_get(0)?,
        incident_id: row.try_get(1)?,
        incident_number: row.try_get(2)?,
        action: row.try_get(3)?,
        report: serde_json::from_str(&report).unwrap_or(Value::Null),
        local_action: row.try_get(5)?,
        source: row.try_get(6)?,
        happened_ms: row.try_get(7)?,
        received_ms: row.try_get(8)?,
    })
}

impl Store {
    /// The recorded result of an agent's event, if it was delivered before.
    pub async fn agent_event(&self, event_id: &str) -> Result<Option<AgentEventRecord>> {
        sqlx::query(SELECT)
            .bind(event_id)
            .fetch_optional(self.pool())
            .await?
            .map(|r| row_to_record(&r))
            .transpose()
    }

    /// Record an agent's event once: its incident (when given, dated `happened_ms`, the
    /// time it happened on the computer) and its row, in one transaction. When the id is
    /// already recorded nothing is written and the first result is returned.
    pub async fn record_agent_event(
        &self,
        event: NewAgentEvent,
        incident: Option<NewIncident>,
        actor: &str,
    ) -> Result<AgentEventOutcome> {
        if !valid_event_id(&event.event_id) {
            return Err(StoreError::Invalid(format!(
                "not an event id: {:?}",
                event.event_id.chars().take(80).collect::<String>()
            )));
        }
        let (_guard, mut tx) = self.audit_tx().await?;
        if let Some(row) = sqlx::query(SELECT)
            .bind(&event.event_id)
            .fetch_optional(&mut *tx)
            .await?
        {
            let record = row_to_record(&row)?;
            tx.rollback().await?;
            return Ok(AgentEventOutcome {
                record,
                incident: None,
                already: true,
            });
        }
        let received_ms = now_ms();
        let incident = match incident {
            Some(new) => {
                Some(Store::insert_incident(&mut tx, new, event.happened_ms, actor).await?)
            }
            None => None,
        };
        sqlx::query(
            "INSERT INTO agent_events (event_id, incident_id, incident_number, action, report, \
             local_action, source, happened_ms, received_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&event.event_id)
        .bind(incident.as_ref().map(|i| i.id))
        .bind(incident.as_ref().map(|i| i.number.clone()))
        .bind(&event.action)
        .bind(event.report.to_string())
        .bind(event.local_action.as_deref())
        .bind(event.source.as_deref())
        .bind(event.happened_ms)
        .bind(received_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(AgentEventOutcome {
            record: AgentEventRecord {
                event_id: event.event_id,
                incident_id: incident.as_ref().map(|i| i.id),
                incident_number: incident.as_ref().map(|i| i.number.clone()),
                action: event.action,
                report: event.report,
                local_action: event.local_action,
                source: event.source,
                happened_ms: event.happened_ms,
                received_ms,
            },
            incident,
            already: false,
        })
    }
}

/// Milliseconds since the epoch of an RFC 3339 time (`2026-12-03T10:15:00Z`,
/// `2026-12-03T18:15:00.250+08:00`), or of a plain millisecond count.
pub fn parse_time_ms(s: &str) -> Option<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut frac_ms = 0i64;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let ms_digits: String = r[..digits].chars().chain("000".chars()).take(3).collect();
        frac_ms = ms_digits.parse().ok()?;
        rest = &r[digits..];
    }
    let offset_ms = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || !matches!(rb[0], b'+' | b'-') || rb[3] != b':' {
                return None;
            }
            let oh: i64 = rest[1..3].parse().ok()?;
            let om: i64 = rest[4..6].parse().ok()?;
            let o = (oh * 60 + om) * 60_000;
            if rb[0] == b'-' { -o } else { o }
        }
    };
    let days = crate::days_from_civil(y, mo, d);
    Some((days * 86_400 + h * 3600 + mi * 60 + sec) * 1000 + frac_ms - offset_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_with_offsets_and_fractions() {
        assert_eq!(parse_time_ms("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_time_ms("1970-01-01T08:00:01.25+08:00"), Some(1250));
        assert_eq!(parse_time_ms("1970-01-01T00:00:00-01:00"), Some(3_600_000));
        assert_eq!(parse_time_ms("1234"), Some(1234));
        for bad in [
            "",
            "2026-13-01T00:00:00Z",
            "2026-12-01",
            "2026-12-01T00:00:00",
            "2026-12-01T00:00:00+8",
            "２０２６-12-01T00:00:00Z",
        ] {
            assert_eq!(parse_time_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn event_ids_are_uuid_like() {
        assert!(valid_event_id("0b6f1c1e-8a43-4f6e-9f0e-2d6f3f0e9a11"));
        assert!(!valid_event_id(""));
        assert!(!valid_event_id("a/b"));
        assert!(!valid_event_id(&"a".repeat(65)));
    }
}
