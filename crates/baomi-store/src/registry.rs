//! The registry of secret documents officers registered, and the boilerplate allow set.
//! The fingerprints themselves are opaque bytes serialised by `baomi-core`; this module only
//! keeps them, with what an officer needs to list and remove them.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::{Result, Store, StoreError, now_ms};

/// What `baomi fingerprint list` shows.
#[derive(Debug, Clone, Serialize)]
pub struct RegistryMeta {
    pub id: String,
    pub title: String,
    pub level: String,
    /// The file it was registered from.
    pub source_name: String,
    /// Canonical characters fingerprinted.
    pub chars: i64,
    pub added_ms: i64,
}

/// A registered document with its serialised fingerprints.
#[derive(Debug, Clone)]
pub struct RegistryEntry {
    pub meta: RegistryMeta,
    pub data: Vec<u8>,
}

impl Store {
    /// Register (or re-register, replacing) a document.
    pub async fn registry_put(&self, entry: &RegistryEntry, actor: &str) -> Result<()> {
        self.registry_put_many(std::slice::from_ref(entry), actor)
            .await
    }

    /// Register (or re-register, replacing) several documents in one transaction: all or
    /// none, one commit, and one change for the nodes to apply (`baomi fingerprint import`
    /// of a directory would otherwise make every node rebuild its index once per document).
    /// Each document is audited on its own.
    pub async fn registry_put_many(&self, entries: &[RegistryEntry], actor: &str) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let (_guard, mut tx) = self.audit_tx().await?;
        for entry in entries {
            let m = &entry.meta;
            sqlx::query("DELETE FROM fp_documents WHERE id = $1")
                .bind(&m.id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO fp_documents (id, title, level, source_name, chars, added_ms, data) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&m.id)
            .bind(&m.title)
            .bind(&m.level)
            .bind(&m.source_name)
            .bind(m.chars)
            .bind(m.added_ms)
            .bind(entry.data.as_slice())
            .execute(&mut *tx)
            .await?;
            Store::append_audit(
                &mut tx,
                actor,
                "fingerprint.add",
                &m.id,
                &json!({"title": m.title, "level": m.level, "source": m.source_name, "chars": m.chars}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn registry_list(&self) -> Result<Vec<RegistryMeta>> {
        let rows = sqlx::query(
            "SELECT id, title, level, source_name, chars, added_ms FROM fp_documents ORDER BY added_ms, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(row_to_meta).collect()
    }

    /// Every registered document with its fingerprints, for building the index.
    pub async fn registry_all(&self) -> Result<Vec<RegistryEntry>> {
        let rows = sqlx::query(
            "SELECT id, title, level, source_name, chars, added_ms, data FROM fp_documents ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RegistryEntry {
                    meta: row_to_meta(r)?,
                    data: r.try_get(6)?,
                })
            })
            .collect()
    }

    pub async fn registry_remove(&self, id: &str, actor: &str) -> Result<()> {
        let (_guard, mut tx) = self.audit_tx().await?;
        let done = sqlx::query("DELETE FROM fp_documents WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("registered document {id}")));
        }
        Store::append_audit(&mut tx, actor, "fingerprint.remove", id, &json!({})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replace the learnt boilerplate allow set.
    pub async fn allow_set_put(&self, data: &[u8], documents: i64, actor: &str) -> Result<()> {
        let (_guard, mut tx) = self.audit_tx().await?;
        sqlx::query("DELETE FROM fp_allow WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO fp_allow (id, documents, updated_ms, data) VALUES (1, $1, $2, $3)",
        )
        .bind(documents)
        .bind(now_ms())
        .bind(data)
        .execute(&mut *tx)
        .await?;
        Store::append_audit(
            &mut tx,
            actor,
            "fingerprint.allow_corpus",
            "allow-set",
            &json!({ "documents": documents, "bytes": data.len() }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The learnt allow set, if one was learnt.
    pub async fn allow_set(&self) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT data FROM fp_allow WHERE id = 1")
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }
}

fn row_to_meta(r: &sqlx::any::AnyRow) -> Result<RegistryMeta> {
    Ok(RegistryMeta {
        id: r.try_get(0)?,
        title: r.try_get(1)?,
        level: r.try_get(2)?,
        source_name: r.try_get(3)?,
        chars: r.try_get(4)?,
        added_ms: r.try_get(5)?,
    })
}
