//! The state nodes run on, held in the store: the policy with its versions (author, time,
//! comment; any two compared), the term lists, and one version counter per piece of state
//! (`state_versions`). A node compares the counters with what it runs on and rebuilds its
//! engine when one moved; on PostgreSQL every change is also announced on the channel
//! [`STATE_CHANNEL`] (triggers and [`Store::policy_set`] call `pg_notify`, delivered at
//! commit). The counters of the registry and the term lists are kept by triggers (migration
//! `0010`), so no write path can change them unnoticed; the policy's counter is the number
//! of its current version.
//!
//! Also the nodes' heartbeat (`nodes`): each `baomi serve` says every few seconds where it
//! listens and which versions it runs on, for `GET /api/v1/nodes` and the health page.

use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{Backend, Result, Store, StoreError, now_ms};

/// The PostgreSQL channel a change of state is announced on; the payload is `kind:version`.
pub const STATE_CHANNEL: &str = "baomi_state";

/// The version of each piece of state. A node runs on one value of this; a change of any
/// field means rebuilding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StateVersions {
    /// The number of the active policy version (0: none stored yet, the shipped default).
    pub policy: i64,
    /// Counts every change of the term lists.
    pub dictionaries: i64,
    /// Counts every change of the registry of secret documents and its allow set.
    pub registry: i64,
    /// Counts every change of the password bank (nodes' heartbeats from before it was in
    /// the store lack it).
    #[serde(default)]
    pub passwords: i64,
    /// Counts every change of the directory (people, departments, groups).
    #[serde(default)]
    pub directory: i64,
}

impl StateVersions {
    /// A short tag naming these versions, e.g. for the ICAP ISTag (at most 32 characters).
    pub fn tag(&self) -> String {
        format!(
            "p{}-d{}-r{}-k{}-u{}",
            self.policy, self.dictionaries, self.registry, self.passwords, self.directory
        )
    }
}

/// One stored version of the policy, without its text.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyVersionMeta {
    pub version: i64,
    pub sha256: String,
    pub author: String,
    pub comment: Option<String>,
    pub created_ms: i64,
}

/// One stored version of the policy with its TOML text.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyVersion {
    #[serde(flatten)]
    pub meta: PolicyVersionMeta,
    pub toml: String,
}

/// What [`Store::policy_set`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PolicySet {
    pub version: i64,
    /// The text was the active version's already: nothing was stored.
    pub unchanged: bool,
}

/// A stored term list, without its terms.
#[derive(Debug, Clone, Serialize)]
pub struct DictionaryMeta {
    pub name: String,
    pub term_count: i64,
    pub sha256: String,
    pub author: String,
    pub updated_ms: i64,
}

/// A stored term list with its text (`term[<TAB>weight[<TAB>category]]` per line).
#[derive(Debug, Clone)]
pub struct StoredDictionary {
    pub meta: DictionaryMeta,
    pub terms: String,
}

/// A node's heartbeat.
#[derive(Debug, Clone, Serialize)]
pub struct NodeBeat {
    pub id: String,
    /// Where its API, ICAP and milter listen (as it says).
    pub address: String,
    pub started_ms: i64,
    pub versions: StateVersions,
}

/// A node as the store last heard of it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeRow {
    pub id: String,
    pub address: String,
    pub started_ms: i64,
    pub seen_ms: i64,
    pub versions: StateVersions,
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Terms in a list: lines that are neither blank nor `#` comments.
pub fn term_count(terms: &str) -> i64 {
    terms
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count() as i64
}

/// A list's name as officers give it: letters, digits, `_`, `-`, `.` and CJK, 1–64 chars.
pub fn valid_dictionary_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=64).contains(&n)
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Store {
    /// The version of each piece of state now.
    pub async fn state_versions(&self) -> Result<StateVersions> {
        let rows = sqlx::query("SELECT kind, version FROM state_versions")
            .fetch_all(self.pool())
            .await?;
        let mut v = StateVersions::default();
        for r in rows {
            let kind: String = r.try_get(0)?;
            let version: i64 = r.try_get(1)?;
            match kind.as_str() {
                "policy" => v.policy = version,
                "dictionaries" => v.dictionaries = version,
                "registry" => v.registry = version,
                "passwords" => v.passwords = version,
                "directory" => v.directory = version,
                _ => {}
            }
        }
        Ok(v)
    }

    /// Store `toml` as the new active policy version, unless it is the active text already.
    /// The caller has checked that it parses (the store does not know the policy's
    /// language). Audited; announced to the nodes.
    pub async fn policy_set(
        &self,
        toml: &str,
        author: &str,
        comment: Option<&str>,
    ) -> Result<PolicySet> {
        let sha = sha256_hex(toml);
        let (_guard, mut tx) = self.audit_tx().await?;
        let current = sqlx::query(
            "SELECT version, sha256 FROM policy_versions ORDER BY version DESC LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let (last, last_sha) = match current {
            Some(r) => (r.try_get::<i64, _>(0)?, Some(r.try_get::<String, _>(1)?)),
            None => (0, None),
        };
        if last_sha.as_deref() == Some(sha.as_str()) {
            return Ok(PolicySet {
                version: last,
                unchanged: true,
            });
        }
        let version = last + 1;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO policy_versions (version, toml, sha256, author, comment, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(version)
        .bind(toml)
        .bind(&sha)
        .bind(author)
        .bind(comment)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE state_versions SET version = $1, changed_ms = $2 WHERE kind = 'policy'",
        )
        .bind(version)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if self.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(STATE_CHANNEL)
                .bind(format!("policy:{version}"))
                .execute(&mut *tx)
                .await?;
        }
        Store::append_audit(
            &mut tx,
            author,
            "policy.set",
            &format!("policy v{version}"),
            &json!({ "version": version, "sha256": sha, "comment": comment }),
        )
        .await?;
        tx.commit().await?;
        Ok(PolicySet {
            version,
            unchanged: false,
        })
    }

    /// The active policy version, if one was ever stored.
    pub async fn policy_current(&self) -> Result<Option<PolicyVersion>> {
        let row = sqlx::query(
            "SELECT version, sha256, author, comment, created_ms, toml FROM policy_versions \
             ORDER BY version DESC LIMIT 1",
        )
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(row_to_policy).transpose()
    }

    /// One stored version.
    pub async fn policy_version(&self, version: i64) -> Result<PolicyVersion> {
        let row = sqlx::query(
            "SELECT version, sha256, author, comment, created_ms, toml FROM policy_versions \
             WHERE version = $1",
        )
        .bind(version)
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(r) => row_to_policy(&r),
            None => Err(StoreError::NotFound(format!("policy version {version}"))),
        }
    }

    /// Every stored version, newest first.
    pub async fn policy_history(&self) -> Result<Vec<PolicyVersionMeta>> {
        let rows = sqlx::query(
            "SELECT version, sha256, author, comment, created_ms FROM policy_versions \
             ORDER BY version DESC",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(row_to_policy_meta).collect()
    }

    /// Store (or replace) the term list `name`. Returns false when the stored text was
    /// the same already (nothing changed, nothing announced). The caller has checked that
    /// it parses. Audited.
    pub async fn dictionary_put(&self, name: &str, terms: &str, author: &str) -> Result<bool> {
        if !valid_dictionary_name(name) {
            return Err(StoreError::Invalid(format!(
                "dictionary name {name:?}: letters, digits, _ - . only, at most 64"
            )));
        }
        let sha = sha256_hex(terms);
        let count = term_count(terms);
        let (_guard, mut tx) = self.audit_tx().await?;
        let old = sqlx::query("SELECT sha256 FROM dictionaries WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        let old_sha: Option<String> = old.map(|r| r.try_get(0)).transpose()?;
        if old_sha.as_deref() == Some(sha.as_str()) {
            return Ok(false);
        }
        let now = now_ms();
        if old_sha.is_some() {
            sqlx::query(
                "UPDATE dictionaries SET terms = $2, term_count = $3, sha256 = $4, author = $5, \
                 updated_ms = $6 WHERE name = $1",
            )
        } else {
            sqlx::query(
                "INSERT INTO dictionaries (name, terms, term_count, sha256, author, updated_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
        }
        .bind(name)
        .bind(terms)
        .bind(count)
        .bind(&sha)
        .bind(author)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        Store::append_audit(
            &mut tx,
            author,
            "dictionary.put",
            name,
            &json!({ "terms": count, "sha256": sha, "replaced": old_sha.is_some() }),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Remove the term list `name`. Audited.
    pub async fn dictionary_remove(&self, name: &str, author: &str) -> Result<()> {
        let (_guard, mut tx) = self.audit_tx().await?;
        let done = sqlx::query("DELETE FROM dictionaries WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("dictionary {name}")));
        }
        Store::append_audit(&mut tx, author, "dictionary.remove", name, &json!({})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The stored term lists, by name, without their terms.
    pub async fn dictionary_list(&self) -> Result<Vec<DictionaryMeta>> {
        let rows = sqlx::query(
            "SELECT name, term_count, sha256, author, updated_ms FROM dictionaries ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(row_to_dict_meta).collect()
    }

    /// Every stored term list with its terms, by name (for building the engine).
    pub async fn dictionaries_all(&self) -> Result<Vec<StoredDictionary>> {
        let rows = sqlx::query(
            "SELECT name, term_count, sha256, author, updated_ms, terms FROM dictionaries \
             ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredDictionary {
                    meta: row_to_dict_meta(r)?,
                    terms: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// One stored term list.
    pub async fn dictionary(&self, name: &str) -> Result<StoredDictionary> {
        let row = sqlx::query(
            "SELECT name, term_count, sha256, author, updated_ms, terms FROM dictionaries \
             WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(r) => Ok(StoredDictionary {
                meta: row_to_dict_meta(&r)?,
                terms: r.try_get(5)?,
            }),
            None => Err(StoreError::NotFound(format!("dictionary {name}"))),
        }
    }

    /// A node says it is alive, where it listens and what it runs on.
    pub async fn node_beat(&self, beat: &NodeBeat) -> Result<()> {
        let versions = serde_json::to_string(&beat.versions).unwrap_or_default();
        sqlx::query(
            "INSERT INTO nodes (id, address, started_ms, seen_ms, versions) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO UPDATE SET address = $2, started_ms = $3, seen_ms = $4, \
             versions = $5",
        )
        .bind(&beat.id)
        .bind(&beat.address)
        .bind(beat.started_ms)
        .bind(now_ms())
        .bind(versions)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every node the store heard of, most recently seen first.
    pub async fn nodes(&self) -> Result<Vec<NodeRow>> {
        let rows = sqlx::query(
            "SELECT id, address, started_ms, seen_ms, versions FROM nodes ORDER BY seen_ms DESC, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let versions: String = r.try_get(4)?;
                Ok(NodeRow {
                    id: r.try_get(0)?,
                    address: r.try_get(1)?,
                    started_ms: r.try_get(2)?,
                    seen_ms: r.try_get(3)?,
                    versions: serde_json::from_str(&versions).unwrap_or_default(),
                })
            })
            .collect()
    }
}

fn row_to_policy_meta(r: &sqlx::any::AnyRow) -> Result<PolicyVersionMeta> {
    Ok(PolicyVersionMeta {
        version: r.try_get(0)?,
        sha256: r.try_get(1)?,
        author: r.try_get(2)?,
        comment: r.try_get(3)?,
        created_ms: r.try_get(4)?,
    })
}

fn row_to_policy(r: &sqlx::any::AnyRow) -> Result<PolicyVersion> {
    Ok(PolicyVersion {
        meta: row_to_policy_meta(r)?,
        toml: r.try_get(5)?,
    })
}

fn row_to_dict_meta(r: &sqlx::any::AnyRow) -> Result<DictionaryMeta> {
    Ok(DictionaryMeta {
        name: r.try_get(0)?,
        term_count: r.try_get(1)?,
        sha256: r.try_get(2)?,
        author: r.try_get(3)?,
        updated_ms: r.try_get(4)?,
    })
}

/// Why [`StateWatch::wait`] returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// A change was announced (`kind:version`).
    Notified(String),
    /// The poll interval passed (SQLite's only way; PostgreSQL's safety net).
    Poll,
    /// The notification connection was lost and is back: anything may have been missed.
    Reconnected,
}

/// Waits for the next moment a node should compare its versions with the store's: a
/// PostgreSQL notification on [`STATE_CHANNEL`], a reconnect of the listening connection,
/// or the poll interval. A node that cannot listen (SQLite, or PostgreSQL refusing the
/// connection) just polls.
pub struct StateWatch {
    listener: Option<sqlx::postgres::PgListener>,
    poll: std::time::Duration,
}

impl Store {
    /// A watch for changes of state, polling every `poll` beside any notifications.
    pub async fn state_watch(&self, poll: std::time::Duration) -> StateWatch {
        let listener = match &self.pg_url {
            Some(url) => match sqlx::postgres::PgListener::connect(url).await {
                Ok(mut l) => match l.listen(STATE_CHANNEL).await {
                    Ok(()) => Some(l),
                    Err(e) => {
                        tracing::warn!("LISTEN {STATE_CHANNEL}: {e}; polling only");
                        None
                    }
                },
                Err(e) => {
                    tracing::warn!("the notification connection: {e}; polling only");
                    None
                }
            },
            None => None,
        };
        StateWatch { listener, poll }
    }
}

impl StateWatch {
    /// Whether changes are announced to this watch (else it only polls).
    pub fn listening(&self) -> bool {
        self.listener.is_some()
    }

    pub async fn wait(&mut self) -> Wake {
        let Some(listener) = self.listener.as_mut() else {
            tokio::time::sleep(self.poll).await;
            return Wake::Poll;
        };
        tokio::select! {
            n = listener.try_recv() => match n {
                Ok(Some(n)) => Wake::Notified(n.payload().to_owned()),
                // sqlx reconnects (and listens again) on the next call.
                Ok(None) => Wake::Reconnected,
                Err(e) => {
                    tracing::warn!("waiting for state notifications: {e}");
                    tokio::time::sleep(self.poll).await;
                    Wake::Reconnected
                }
            },
            _ = tokio::time::sleep(self.poll) => Wake::Poll,
        }
    }
}
