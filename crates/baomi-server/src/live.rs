//! What a running node decides with, and keeping it current without a restart.
//!
//! The policy, the term lists, the registry of secret documents and the password bank
//! (sealed with the evidence key) live in the store
//! (`baomi_store::state`), each with a version counter. A node runs on one [`Live`]: an
//! engine built from one value of every piece, tagged with those versions. The reload task
//! ([`spawn`]) wakes on a PostgreSQL notification, on a reconnect of the listening
//! connection, or on the poll interval (SQLite's only way; PostgreSQL's safety net),
//! compares the store's versions with its own and, when one moved, builds a new engine off
//! the request path (automata and indexes take seconds for large lists) and swaps it in
//! atomically ([`Gateway::set_live`]). An inspection holds the `Arc<Engine>` it started
//! with, so in-flight inspections finish on the version they started on. A version that
//! fails to build (it cannot, as writes are checked first, but a store edited by hand
//! can) is logged and left: the node keeps deciding with the last good one.
//!
//! The same task writes the node's heartbeat (`GET /api/v1/nodes`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use baomi_core::fingerprint::{AllowSet, FingerprintIndex, RegisteredDoc};
use baomi_core::policy::Policy;
use baomi_engine::{Engine, EngineConfig, Limits};
use baomi_store::{EvidenceVault, NodeBeat, StateVersions, Store};

use crate::gateway::Gateway;

/// An engine and the versions of the state it was built from.
pub struct Live {
    pub engine: Arc<Engine>,
    pub versions: StateVersions,
}

impl Live {
    /// An engine built by hand (tests, tools): it is never replaced by a reload unless a
    /// [`Recipe`] is given to the gateway.
    pub fn fixed(engine: Arc<Engine>) -> Live {
        Live {
            engine,
            versions: StateVersions::default(),
        }
    }
}

/// What a node adds to the stored state to build its engine.
#[derive(Clone)]
pub struct Recipe {
    pub limits: Limits,
    /// The unit's own mail domains, which the policy's `internal` host list includes.
    pub internal_domains: Vec<String>,
    /// Opens the password bank sealed in the store (which then replaces
    /// `limits.passwords`); `None` leaves the bank to `limits`.
    pub vault: Option<Arc<EvidenceVault>>,
}

/// Parse a policy text the way every node will (with the unit's internal domains), so a
/// version is refused before it is stored rather than after every node failed on it.
pub fn parse_policy(toml: &str, internal_domains: &[String]) -> anyhow::Result<Policy> {
    let mut policy = Policy::from_toml(toml).map_err(|e| anyhow::anyhow!("{e}"))?;
    policy
        .extend_internal(internal_domains)
        .map_err(|e| anyhow::anyhow!("milter.internal_domains: {e}"))?;
    Ok(policy)
}

/// Check a term list the way every node will parse it, before it is stored.
pub fn check_dictionary(name: &str, terms: &str) -> anyhow::Result<()> {
    let normalizer = baomi_core::normalise::Normalizer::new();
    baomi_core::detect::dictionary::Dictionary::parse(name, terms, &normalizer)
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("dictionary {name}: {e}"))
}

/// The registry's index, from the store (none when nothing is registered).
pub async fn fingerprint_index(store: &Store) -> anyhow::Result<Option<Arc<FingerprintIndex>>> {
    let entries = store.registry_all().await?;
    if entries.is_empty() {
        return Ok(None);
    }
    let allow = match store.allow_set().await? {
        Some(bytes) => AllowSet::from_bytes(&bytes)
            .map_err(|e| anyhow::anyhow!("the learnt allow corpus is unreadable: {e}"))?,
        None => AllowSet::builtin(),
    };
    let mut docs = Vec::with_capacity(entries.len());
    for e in entries {
        docs.push(
            RegisteredDoc::from_bytes(&e.data)
                .map_err(|err| anyhow::anyhow!("registered document {}: {err}", e.meta.id))?,
        );
    }
    Ok(Some(Arc::new(FingerprintIndex::build(docs, &allow))))
}

/// Build the engine from the state stored now. The versions are read first: a change that
/// lands while the rest is read makes the result newer than its tag, never older, and the
/// next check builds again.
pub async fn build(store: &Store, recipe: &Recipe) -> anyhow::Result<Live> {
    let versions = store.state_versions().await?;
    let policy_text = match store.policy_current().await? {
        Some(p) => p.toml,
        None => baomi_core::policy::DEFAULT_POLICY_TOML.to_owned(),
    };
    let dictionaries: Vec<(String, String)> = store
        .dictionaries_all()
        .await?
        .into_iter()
        .map(|d| (d.meta.name, d.terms))
        .collect();
    let fingerprints = fingerprint_index(store).await?;
    let mut recipe = recipe.clone();
    if let Some(vault) = &recipe.vault
        && let Some(text) = store.password_bank_text(vault).await?
    {
        recipe.limits.passwords = Arc::new(baomi_extract::PasswordBank::parse(&text));
    }
    let engine = tokio::task::spawn_blocking(move || -> anyhow::Result<Engine> {
        let policy = parse_policy(&policy_text, &recipe.internal_domains)
            .with_context(|| format!("policy v{}", versions.policy))?;
        Ok(Engine::new(EngineConfig {
            policy,
            dictionaries,
            limits: recipe.limits,
            fingerprints,
        })?)
    })
    .await??;
    Ok(Live {
        engine: Arc::new(engine),
        versions,
    })
}

/// Who this node is and where it listens, for its heartbeat.
#[derive(Debug, Clone)]
pub struct NodeIdentity {
    pub id: String,
    pub address: String,
}

/// How often a node says it is alive; `GET /api/v1/nodes` calls one silent for three
/// times this long down.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// Keep the gateway's engine current and write the node's heartbeat, until the runtime
/// stops. Reloads only when the gateway was given a [`Recipe`].
pub fn spawn(gateway: Arc<Gateway>, node: NodeIdentity) -> tokio::task::JoinHandle<()> {
    gateway.set_node_id(&node.id);
    tokio::spawn(async move {
        // The node started with the directory file (if any); the store's, when one is
        // stored, is what every node shares.
        if let Err(e) = apply_directory(&gateway).await {
            tracing::error!("the stored directory: {e:#}; keeping the directory file's");
        }
        let poll = Duration::from_secs(gateway.config.node.reload_poll_secs.unwrap_or(
            match gateway.store.backend() {
                baomi_store::Backend::Sqlite => 1,
                baomi_store::Backend::Postgres => 5,
            },
        ));
        let mut watch = gateway.store.state_watch(poll.min(HEARTBEAT)).await;
        let started_ms = baomi_store::now_ms();
        let mut last_beat: Option<Instant> = None;
        // What the last heartbeat said: a swap is told at once, not at the next beat, so
        // the nodes' table (health page) shows a node on the new versions when it is.
        let mut told: Option<StateVersions> = None;
        let mut failed: Option<StateVersions> = None;
        let mut last_check = Instant::now();
        loop {
            let versions = gateway.live().versions;
            if last_beat.is_none_or(|t| t.elapsed() >= HEARTBEAT) || told != Some(versions) {
                let beat = NodeBeat {
                    id: node.id.clone(),
                    address: node.address.clone(),
                    started_ms,
                    versions,
                };
                told = Some(versions);
                if let Err(e) = gateway.store.node_beat(&beat).await {
                    tracing::warn!("node heartbeat: {e}");
                }
                last_beat = Some(Instant::now());
            }
            let wake = watch.wait().await;
            if matches!(wake, baomi_store::state::Wake::Notified(_)) {
                settle(&mut watch).await;
            }
            let due =
                !matches!(wake, baomi_store::state::Wake::Poll) || last_check.elapsed() >= poll;
            if due {
                last_check = Instant::now();
                check(&gateway, gateway.recipe(), &mut failed).await;
            }
        }
    })
}

/// A change announced, more may follow: a bulk registration of ten thousand documents
/// announces every row. Wait until the announcements pause for [`SETTLE_QUIET`], but no
/// longer than [`SETTLE_MAX`] after the first, so a node builds once per burst rather than
/// once per row, and a single change still applies in well under a second.
async fn settle(watch: &mut baomi_store::state::StateWatch) {
    let first = Instant::now();
    while first.elapsed() < SETTLE_MAX {
        match tokio::time::timeout(SETTLE_QUIET, watch.wait()).await {
            Ok(baomi_store::state::Wake::Notified(_)) => continue,
            _ => return,
        }
    }
}

/// How long the announcements of changes must pause before a node builds.
pub const SETTLE_QUIET: Duration = Duration::from_millis(200);
/// The longest a node waits for a burst of announcements to pause.
pub const SETTLE_MAX: Duration = Duration::from_secs(2);

/// Rebuild when the store's versions differ from the running ones (and from a version that
/// already failed to build).
async fn check(gateway: &Gateway, recipe: Option<&Recipe>, failed: &mut Option<StateVersions>) {
    let now = match gateway.store.state_versions().await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!("reading the state's versions: {e}");
            return;
        }
    };
    let running = gateway.live().versions;
    if now == running || Some(now) == *failed {
        return;
    }
    // The directory is not part of the engine: a new one is swapped in on its own.
    let mut applied = running;
    if now.directory != running.directory {
        match apply_directory(gateway).await {
            Ok(()) => applied.directory = now.directory,
            Err(e) => tracing::error!(
                "directory #{}: {e:#}; keeping the one running",
                now.directory
            ),
        }
    }
    let engine_moved = StateVersions {
        directory: 0,
        ..now
    } != StateVersions {
        directory: 0,
        ..running
    };
    let Some(recipe) = recipe.filter(|_| engine_moved) else {
        if applied != running {
            gateway.set_live(Live {
                engine: gateway.engine(),
                versions: applied,
            });
        }
        return;
    };
    let started = Instant::now();
    match build(&gateway.store, recipe).await {
        Ok(mut live) => {
            // The directory applied is the one read above, whatever build() saw since.
            live.versions.directory = applied.directory;
            let v = live.versions;
            gateway.set_live(live);
            *failed = None;
            tracing::info!(
                "state reloaded in {} ms: policy v{} (was v{}), dictionaries #{}, registry #{}, passwords #{}",
                started.elapsed().as_millis(),
                v.policy,
                running.policy,
                v.dictionaries,
                v.registry,
                v.passwords
            );
        }
        Err(e) => {
            *failed = Some(now);
            tracing::error!(
                "state {} cannot be built; still deciding with {}: {e:#}",
                now.tag(),
                running.tag()
            );
        }
    }
}

/// Swap in the directory stored now (nothing stored: the one the node started with stays).
pub async fn apply_directory(gateway: &Gateway) -> anyhow::Result<()> {
    let Some(text) = gateway.store.directory_snapshot().await? else {
        return Ok(());
    };
    let directory =
        tokio::task::spawn_blocking(move || crate::directory::Directory::from_snapshot(&text))
            .await??;
    tracing::info!(people = directory.len(), "directory applied from the store");
    gateway.set_directory(directory);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::istag;

    #[test]
    fn the_istag_names_the_versions_within_32_characters() {
        let small = StateVersions {
            policy: 3,
            dictionaries: 2,
            registry: 7,
            passwords: 1,
            directory: 4,
        };
        assert_eq!(istag(&small), "baomi-p3-d2-r7-k1-u4");
        let big = StateVersions {
            policy: 12_345,
            dictionaries: 123_456,
            registry: 12_345_678,
            passwords: 1_234,
            directory: 123_456,
        };
        let tag = istag(&big);
        assert!(tag.len() <= 32 && tag.starts_with("baomi-h"), "{tag}");
        let next = StateVersions {
            directory: 123_457,
            ..big
        };
        assert_ne!(tag, istag(&next));
    }
}
