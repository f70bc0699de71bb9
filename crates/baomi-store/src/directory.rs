//! The directory held in the store: one snapshot (JSON, written by the server crate, which
//! knows its shape) of the people, departments and groups, from the directory file or the
//! LDAP sync. Every node applies a new snapshot without a restart (`state_versions` kind
//! `directory`, migration 0015); the store only keeps it, counts it and tells an unchanged
//! one from a new one.

use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{Result, Store, now_ms};

/// The stored directory, without its people.
#[derive(Debug, Clone, Serialize)]
pub struct DirectoryMeta {
    pub people: i64,
    pub departments: i64,
    /// Where it came from: `file:PATH`, `ldap:URL`.
    pub source: String,
    pub updated_ms: i64,
}

impl Store {
    /// Store `snapshot` (`people` people, `departments` departments) from `source` as the
    /// directory every node uses. `false`: it is the stored one already (a sync that found
    /// nothing new writes nothing). Audited with the counts.
    pub async fn directory_put(
        &self,
        snapshot: &str,
        people: i64,
        departments: i64,
        source: &str,
        actor: &str,
    ) -> Result<bool> {
        let sha: String = Sha256::digest(snapshot.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let (_guard, mut tx) = self.audit_tx().await?;
        let old: Option<String> = sqlx::query("SELECT sha256 FROM directory WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        if old.as_deref() == Some(sha.as_str()) {
            return Ok(false);
        }
        if old.is_some() {
            sqlx::query(
                "UPDATE directory SET snapshot = $1, people = $2, departments = $3, sha256 = $4, \
                 source = $5, updated_ms = $6 WHERE id = 1",
            )
        } else {
            sqlx::query(
                "INSERT INTO directory (id, snapshot, people, departments, sha256, source, \
                 updated_ms) VALUES (1, $1, $2, $3, $4, $5, $6)",
            )
        }
        .bind(snapshot)
        .bind(people)
        .bind(departments)
        .bind(&sha)
        .bind(source)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        Store::append_audit(
            &mut tx,
            actor,
            "directory.set",
            source,
            &json!({ "people": people, "departments": departments, "replaced": old.is_some() }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The stored directory's counts and source, if one is stored.
    pub async fn directory_meta(&self) -> Result<Option<DirectoryMeta>> {
        let row = sqlx::query(
            "SELECT people, departments, source, updated_ms FROM directory WHERE id = 1",
        )
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(DirectoryMeta {
                people: r.try_get(0)?,
                departments: r.try_get(1)?,
                source: r.try_get(2)?,
                updated_ms: r.try_get(3)?,
            })
        })
        .transpose()
    }

    /// The stored snapshot, if one is stored.
    pub async fn directory_snapshot(&self) -> Result<Option<String>> {
        let row = sqlx::query("SELECT snapshot FROM directory WHERE id = 1")
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| r.try_get(0).map_err(Into::into)).transpose()
    }

    /// Remove the stored directory (nodes keep the one they run until restarted with a
    /// file). `false`: none was stored. Audited.
    pub async fn directory_clear(&self, actor: &str) -> Result<bool> {
        let (_guard, mut tx) = self.audit_tx().await?;
        let gone = sqlx::query("DELETE FROM directory WHERE id = 1")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if gone == 0 {
            return Ok(false);
        }
        Store::append_audit(&mut tx, actor, "directory.clear", "directory", &json!({})).await?;
        tx.commit().await?;
        Ok(true)
    }
}
