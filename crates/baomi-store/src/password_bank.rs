//! The password bank (密码库) held in the store: the unit's passwords for encrypted archives
//! and documents, one text (one password per line), applied by every node like the policy
//! and the term lists (`state_versions` kind `passwords`, migration 0013). It is sealed with
//! the evidence key ([`EvidenceVault::seal`]) so a copy of the database alone does not give
//! the passwords away, and only a count ever reaches a log, the audit trail or a screen.

use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::{EvidenceVault, Result, Store, now_ms};

/// What [`EvidenceVault::seal`] binds the bank's ciphertext to.
const PURPOSE: &str = "password bank";

/// The stored bank, without its passwords.
#[derive(Debug, Clone, Serialize)]
pub struct PasswordBankMeta {
    pub entries: i64,
    pub author: String,
    pub updated_ms: i64,
}

impl Store {
    /// Store `text` (one password per line, as `baomi scan --passwords` reads it, `entries`
    /// of them) as the bank every node uses. `false`: the stored bank is this text already.
    /// Audited with the count only.
    pub async fn password_bank_put(
        &self,
        vault: &EvidenceVault,
        text: &str,
        entries: i64,
        author: &str,
    ) -> Result<bool> {
        let digest = vault.digest(text.as_bytes());
        let (_guard, mut tx) = self.audit_tx().await?;
        let old: Option<String> = sqlx::query("SELECT digest FROM password_bank WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?
            .map(|r| r.try_get(0))
            .transpose()?;
        if old.as_deref() == Some(digest.as_str()) {
            return Ok(false);
        }
        let sealed = vault.seal(PURPOSE, text.as_bytes());
        if old.is_some() {
            sqlx::query(
                "UPDATE password_bank SET sealed = $1, entries = $2, digest = $3, author = $4, \
                 updated_ms = $5 WHERE id = 1",
            )
        } else {
            sqlx::query(
                "INSERT INTO password_bank (id, sealed, entries, digest, author, updated_ms) \
                 VALUES (1, $1, $2, $3, $4, $5)",
            )
        }
        .bind(sealed)
        .bind(entries)
        .bind(&digest)
        .bind(author)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        Store::append_audit(
            &mut tx,
            author,
            "passwords.set",
            "password bank",
            &json!({ "entries": entries, "replaced": old.is_some() }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The stored bank's count, author and time, if one is stored.
    pub async fn password_bank_meta(&self) -> Result<Option<PasswordBankMeta>> {
        let row = sqlx::query("SELECT entries, author, updated_ms FROM password_bank WHERE id = 1")
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| {
            Ok(PasswordBankMeta {
                entries: r.try_get(0)?,
                author: r.try_get(1)?,
                updated_ms: r.try_get(2)?,
            })
        })
        .transpose()
    }

    /// The stored bank's text, opened with the evidence key, if one is stored.
    pub async fn password_bank_text(&self, vault: &EvidenceVault) -> Result<Option<String>> {
        let row = sqlx::query("SELECT sealed FROM password_bank WHERE id = 1")
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let sealed: Vec<u8> = row.try_get(0)?;
        let plain = vault.unseal(PURPOSE, &sealed)?;
        String::from_utf8(plain).map(Some).map_err(|_| {
            crate::StoreError::Evidence("the sealed password bank is not UTF-8".into())
        })
    }

    /// Remove the stored bank (nodes then try no passwords, or the file they were started
    /// with). `false`: none was stored. Audited.
    pub async fn password_bank_clear(&self, author: &str) -> Result<bool> {
        let (_guard, mut tx) = self.audit_tx().await?;
        let gone = sqlx::query("DELETE FROM password_bank WHERE id = 1")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if gone == 0 {
            return Ok(false);
        }
        Store::append_audit(
            &mut tx,
            author,
            "passwords.clear",
            "password bank",
            &json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
