//! API tokens: shown once when created, stored only as a BLAKE3 hash, so a copy of the
//! database does not hand out access to the API.

use chacha20poly1305::aead::{OsRng, rand_core::RngCore};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::{Result, Store, StoreError, now_ms};

#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub created_ms: i64,
    pub last_used_ms: Option<i64>,
    pub revoked: bool,
}

fn token_hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

impl Store {
    /// Create a token named `name`; the returned secret is never stored.
    pub async fn create_token(&self, name: &str, actor: &str) -> Result<(TokenInfo, String)> {
        let mut raw = [0u8; 24];
        OsRng.fill_bytes(&mut raw);
        let secret = format!(
            "bm_{}",
            raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let created_ms = now_ms();
        let row = sqlx::query(
            "INSERT INTO api_tokens (name, token_hash, created_ms) VALUES ($1, $2, $3) RETURNING id",
        )
        .bind(name)
        .bind(token_hash(&secret))
        .bind(created_ms)
        .fetch_one(self.pool())
        .await?;
        let id: i64 = row.try_get(0)?;
        self.audit(actor, "token.create", name, json!({ "id": id }))
            .await?;
        Ok((
            TokenInfo {
                id,
                name: name.to_owned(),
                created_ms,
                last_used_ms: None,
                revoked: false,
            },
            secret,
        ))
    }

    /// The token's name when `secret` is a live token.
    pub async fn check_token(&self, secret: &str) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT id, name FROM api_tokens WHERE token_hash = $1 AND revoked = 0")
                .bind(token_hash(secret))
                .fetch_optional(self.pool())
                .await?;
        let Some(row) = row else { return Ok(None) };
        let id: i64 = row.try_get(0)?;
        sqlx::query("UPDATE api_tokens SET last_used_ms = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(Some(row.try_get(1)?))
    }

    pub async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query(
            "SELECT id, name, created_ms, last_used_ms, revoked FROM api_tokens ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    created_ms: r.try_get(2)?,
                    last_used_ms: r.try_get(3)?,
                    revoked: r.try_get::<i64, _>(4)? != 0,
                })
            })
            .collect()
    }

    pub async fn revoke_token(&self, id: i64, actor: &str) -> Result<()> {
        let done = sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("token {id}")));
        }
        self.audit(actor, "token.revoke", &id.to_string(), json!({}))
            .await?;
        Ok(())
    }
}
