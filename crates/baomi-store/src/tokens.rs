//! API tokens: shown once when created, stored only as a BLAKE3 hash, so a copy of the
//! database does not hand out access to the API.
//!
//! A token either acts as an account (scope `account`: the account's one role, and nothing
//! once the account is disabled) or may only submit objects for inspection (scope `scan`:
//! chat gateways, agents, scanners). Tokens made before accounts existed are `scan` tokens.

use chacha20poly1305::aead::{OsRng, rand_core::RngCore};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;

use crate::{Result, Store, StoreError, now_ms};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    /// Only the inspection endpoints.
    Scan,
    /// Whatever its account's role may do.
    Account,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Scan => "scan",
            TokenScope::Account => "account",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub scope: TokenScope,
    /// The account a `account`-scoped token acts as.
    pub account: Option<String>,
    #[serde(skip)]
    pub account_id: Option<i64>,
    pub created_ms: i64,
    pub last_used_ms: Option<i64>,
    pub revoked: bool,
}

const SELECT_TOKEN: &str = "SELECT t.id, t.name, t.scope, a.name, t.account_id, t.created_ms, \
    t.last_used_ms, t.revoked FROM api_tokens t LEFT JOIN accounts a ON a.id = t.account_id";

fn row_to_token(r: &sqlx::any::AnyRow) -> Result<TokenInfo> {
    let scope: String = r.try_get(2)?;
    Ok(TokenInfo {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        scope: if scope == "account" {
            TokenScope::Account
        } else {
            TokenScope::Scan
        },
        account: r.try_get(3)?,
        account_id: r.try_get(4)?,
        created_ms: r.try_get(5)?,
        last_used_ms: r.try_get(6)?,
        revoked: r.try_get::<i64, _>(7)? != 0,
    })
}

fn token_hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

impl Store {
    /// Create a token named `name` acting as `account` (or inspection-only when `None`);
    /// the returned secret is never stored.
    pub async fn create_token(
        &self,
        name: &str,
        account: Option<&crate::Account>,
        actor: &str,
    ) -> Result<(TokenInfo, String)> {
        if let Some(a) = account
            && a.status != crate::AccountStatus::Active
        {
            return Err(StoreError::Invalid(format!(
                "account {} is {}, not active",
                a.name,
                a.status.as_str()
            )));
        }
        let scope = if account.is_some() {
            TokenScope::Account
        } else {
            TokenScope::Scan
        };
        let mut raw = [0u8; 24];
        OsRng.fill_bytes(&mut raw);
        let secret = format!(
            "bm_{}",
            raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let created_ms = now_ms();
        let row = sqlx::query(
            "INSERT INTO api_tokens (name, token_hash, created_ms, scope, account_id) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(name)
        .bind(token_hash(&secret))
        .bind(created_ms)
        .bind(scope.as_str())
        .bind(account.map(|a| a.id))
        .fetch_one(self.pool())
        .await?;
        let id: i64 = row.try_get(0)?;
        self.audit(
            actor,
            "token.create",
            name,
            json!({ "id": id, "scope": scope.as_str(), "account": account.map(|a| &a.name) }),
        )
        .await?;
        Ok((
            TokenInfo {
                id,
                name: name.to_owned(),
                scope,
                account: account.map(|a| a.name.clone()),
                account_id: account.map(|a| a.id),
                created_ms,
                last_used_ms: None,
                revoked: false,
            },
            secret,
        ))
    }

    /// The token when `secret` is a live token.
    pub async fn check_token(&self, secret: &str) -> Result<Option<TokenInfo>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT_TOKEN} WHERE t.token_hash = $1 AND t.revoked = 0"
        )))
        .bind(token_hash(secret))
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let info = row_to_token(&row)?;
        // Bookkeeping only: a token must keep working when the write cannot be made (a
        // full disk), or /metrics, which reports the full disk, could not be read.
        if let Err(e) = sqlx::query("UPDATE api_tokens SET last_used_ms = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(info.id)
            .execute(self.pool())
            .await
        {
            tracing::warn!("token {}: last use not recorded: {e}", info.name);
        }
        Ok(Some(info))
    }

    /// Names and stored hashes of the tokens not revoked: the keys a signed self-inspection
    /// report may have been made with.
    pub async fn active_token_hashes(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT name, token_hash FROM api_tokens WHERE revoked = 0")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    pub async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT_TOKEN} ORDER BY t.id")))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(row_to_token).collect()
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
