//! The security officer's work on incidents beyond the disposition itself: assignment,
//! comments, dispositions over a whole filter, and saved queue views. Every change is in the
//! audit chain; a bulk disposition writes one entry per incident, so `audit verify` checks
//! each incident's disposition exactly as for a single one.

use serde::Serialize;
use serde_json::json;
use sqlx::{AssertSqlSafe, Row};

use crate::incidents::{Disposition, IncidentFilter};
use crate::{Result, Store, StoreError, now_ms};

/// Incidents one bulk disposition may change; a larger filter must be narrowed first.
pub const MAX_BULK: i64 = 100_000;

#[derive(Debug, Clone, Serialize)]
pub struct Comment {
    pub id: i64,
    pub number: String,
    pub author: String,
    pub created_ms: i64,
    pub body: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct SavedView {
    pub id: i64,
    pub name: String,
    /// The queue's query string (`level=secret&disposition=open`).
    pub query: String,
}

impl Store {
    pub async fn assign_incident(
        &self,
        number: &str,
        assignee: Option<&str>,
        actor: &str,
    ) -> Result<()> {
        let (_guard, mut tx) = self.audit_tx().await?;
        let done = sqlx::query("UPDATE incidents SET assignee = $1 WHERE number = $2")
            .bind(assignee)
            .bind(number)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("incident {number}")));
        }
        Store::append_audit(
            &mut tx,
            actor,
            "incident.assign",
            number,
            &json!({"assignee": assignee}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn add_comment(&self, number: &str, body: &str, actor: &str) -> Result<Comment> {
        let body = body.trim();
        if body.is_empty() {
            return Err(StoreError::Invalid("an empty comment".into()));
        }
        if body.chars().count() > 10_000 {
            return Err(StoreError::Invalid(
                "a comment of more than 10,000 characters".into(),
            ));
        }
        self.incident(number).await?;
        let now = now_ms();
        let (_guard, mut tx) = self.audit_tx().await?;
        let row = sqlx::query(
            "INSERT INTO incident_comments (number, author, created_ms, body) VALUES ($1, $2, $3, $4) \
             RETURNING id",
        )
        .bind(number)
        .bind(actor)
        .bind(now)
        .bind(body)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get(0)?;
        Store::append_audit(
            &mut tx,
            actor,
            "incident.comment",
            number,
            &json!({"comment": id, "hash": blake3::hash(body.as_bytes()).to_hex().to_string()}),
        )
        .await?;
        tx.commit().await?;
        Ok(Comment {
            id,
            number: number.to_owned(),
            author: actor.to_owned(),
            created_ms: now,
            body: body.to_owned(),
        })
    }

    pub async fn comments(&self, number: &str) -> Result<Vec<Comment>> {
        let rows = sqlx::query(
            "SELECT id, number, author, created_ms, body FROM incident_comments WHERE number = $1 \
             ORDER BY id",
        )
        .bind(number)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Comment {
                    id: r.try_get(0)?,
                    number: r.try_get(1)?,
                    author: r.try_get(2)?,
                    created_ms: r.try_get(3)?,
                    body: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// The numbers of every incident a filter matches (ignoring its paging), oldest first.
    pub async fn incident_numbers(&self, filter: &IncidentFilter) -> Result<Vec<String>> {
        let (clause, params) = crate::incidents::where_sql(filter, self.backend());
        let sql = format!(
            "SELECT number FROM incidents{clause} ORDER BY id LIMIT {}",
            MAX_BULK + 1
        );
        let rows = crate::incidents::bind_params(sqlx::query(AssertSqlSafe(sql)), &params)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
    }

    /// Set one disposition on many incidents. `expected` is the count the officer confirmed:
    /// when the set has changed since (new incidents arrived), nothing is changed.
    pub async fn bulk_disposition(
        &self,
        numbers: &[String],
        expected: usize,
        disposition: Disposition,
        note: Option<&str>,
        actor: &str,
    ) -> Result<usize> {
        if numbers.len() != expected {
            return Err(StoreError::Invalid(format!(
                "the selection now holds {} incidents, not the {expected} confirmed; look again",
                numbers.len()
            )));
        }
        if numbers.len() as i64 > MAX_BULK {
            return Err(StoreError::Invalid(format!(
                "more than {MAX_BULK} incidents at once; narrow the filter"
            )));
        }
        let ms = now_ms();
        // One transaction per chunk keeps the audit lock from being held for minutes.
        for chunk in numbers.chunks(500) {
            let (_guard, mut tx) = self.audit_tx().await?;
            for number in chunk {
                let done = sqlx::query(
                    "UPDATE incidents SET disposition = $1, disposition_note = $2, \
                     disposition_by = $3, disposition_ms = $4 WHERE number = $5",
                )
                .bind(disposition.as_str())
                .bind(note)
                .bind(actor)
                .bind(ms)
                .bind(number)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    continue;
                }
                Store::append_audit(
                    &mut tx,
                    actor,
                    "incident.disposition",
                    number,
                    &json!({"disposition": disposition.as_str(), "note": note, "bulk": true}),
                )
                .await?;
            }
            tx.commit().await?;
        }
        Ok(numbers.len())
    }

    pub async fn saved_views(&self, account_id: i64) -> Result<Vec<SavedView>> {
        let rows = sqlx::query(
            "SELECT id, name, query FROM saved_views WHERE account_id = $1 ORDER BY name",
        )
        .bind(account_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SavedView {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    query: r.try_get(2)?,
                })
            })
            .collect()
    }

    pub async fn save_view(&self, account_id: i64, name: &str, query: &str) -> Result<()> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(StoreError::Invalid(
                "a view needs a name of 1–100 characters".into(),
            ));
        }
        sqlx::query("DELETE FROM saved_views WHERE account_id = $1 AND name = $2")
            .bind(account_id)
            .bind(name)
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO saved_views (account_id, name, query, created_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(account_id)
        .bind(name)
        .bind(query)
        .bind(now_ms())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn delete_view(&self, account_id: i64, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM saved_views WHERE account_id = $1 AND id = $2")
            .bind(account_id)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
