//! What every door shares: inspect an object with the engine, and when the verdict is worth
//! it, keep the object as encrypted evidence and record an incident naming the person and
//! department. Doors call [`Gateway::inspect`] and translate the [`Outcome`] into their
//! protocol's answer; they never look at findings themselves.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use baomi_core::{Action, Channel, Level};
use baomi_engine::{Context, Engine, ObjectReport};
use baomi_extract::Blob;
use baomi_store::{EvidenceVault, Incident, NewIncident, StateVersions, Store};
use serde_json::Value;

use crate::config::ServerConfig;
use crate::directory::Directory;
use crate::live::{Live, Recipe};
use crate::metrics::{Metrics, RecordFailureLabel, VerdictLabel};

/// Who sent an object, and where it was going.
#[derive(Debug, Clone, Default)]
pub struct Who {
    pub user: Option<String>,
    pub department: Option<String>,
    pub source: Option<String>,
    pub destination: Option<String>,
    /// The mail's queue id: a quarantined message is released or deleted by it.
    pub queue_id: Option<String>,
}

/// The result of inspecting one object at a door.
#[derive(Debug)]
pub struct Outcome {
    pub report: ObjectReport,
    /// The action after any cap (internal mail); what the door must do.
    pub action: Action,
    pub incident: Option<Incident>,
    /// The versions of state that decided.
    pub versions: StateVersions,
}

impl Outcome {
    /// The highest classification level among the findings.
    pub fn level(&self) -> Option<Level> {
        self.report.findings.iter().filter_map(|f| f.level).max()
    }

    /// Short, secret-free descriptions of why (finding kinds with their Chinese names),
    /// for block pages and rejections.
    pub fn reasons(&self) -> Vec<String> {
        let mut kinds: Vec<_> = self.report.findings.iter().map(|f| f.kind).collect();
        kinds.sort_by_key(|k| k.as_str());
        kinds.dedup();
        kinds
            .into_iter()
            .map(|k| format!("{} ({})", k.zh(), k.as_str()))
            .collect()
    }
}

/// What `baomi agent` says about an event beside its content (`POST /api/v1/scan` with
/// `event_id`).
#[derive(Debug, Clone)]
pub struct AgentEvent {
    /// The id the agent assigned; the server records each once.
    pub id: String,
    /// When it happened on the computer (milliseconds since the epoch).
    pub at_ms: i64,
    /// What the agent did on its own verdict (`blocked`, `alerted`, `uninspectable` …).
    pub local_action: Option<String>,
    /// The least action to record (from `local_action`).
    pub floor: Option<Action>,
}

/// The answer to an agent's event: inspected and recorded now, or recorded before.
#[derive(Debug)]
pub enum AgentEventAnswer {
    Fresh(Box<Outcome>),
    Seen(baomi_store::AgentEventRecord),
}

pub struct Gateway {
    /// The engine and the versions of state it was built from; replaced whole by a reload
    /// ([`crate::live`]). Read it once per object: the object is decided by one version.
    live: ArcSwap<Live>,
    /// How to rebuild the engine from the store; none: the engine given is kept.
    recipe: std::sync::OnceLock<Recipe>,
    /// This node's id in the heartbeats (`nodes`), once the reload task started.
    node_id: std::sync::OnceLock<String>,
    pub store: Store,
    pub vault: Arc<EvidenceVault>,
    /// The people and departments; replaced whole by a directory sync.
    directory: ArcSwap<Directory>,
    pub metrics: Arc<Metrics>,
    pub config: Arc<ServerConfig>,
}

impl Gateway {
    pub fn new(
        live: Live,
        store: Store,
        vault: Arc<EvidenceVault>,
        directory: Directory,
        metrics: Arc<Metrics>,
        config: Arc<ServerConfig>,
    ) -> Gateway {
        Gateway {
            live: ArcSwap::from_pointee(live),
            recipe: std::sync::OnceLock::new(),
            node_id: std::sync::OnceLock::new(),
            store,
            vault,
            directory: ArcSwap::from_pointee(directory),
            metrics,
            config,
        }
    }

    /// The engine deciding now.
    pub fn engine(&self) -> Arc<Engine> {
        self.live.load().engine.clone()
    }

    /// The engine deciding now with the versions it was built from.
    pub fn live(&self) -> Arc<Live> {
        self.live.load_full()
    }

    /// Replace the engine (a reload). Inspections under way keep the one they started with.
    /// The ICAP door's ISTag follows, so Squid forgets answers of the old version.
    pub fn set_live(&self, live: Live) {
        let tag = istag(&live.versions);
        self.live.store(Arc::new(live));
        if let Some(icap) = self.metrics.icap.get() {
            icap.set_istag(tag);
        }
    }

    /// Let the reload task rebuild the engine from the store with `recipe`.
    pub fn set_recipe(&self, recipe: Recipe) {
        let _ = self.recipe.set(recipe);
    }

    pub fn recipe(&self) -> Option<&Recipe> {
        self.recipe.get()
    }

    /// The id this node's heartbeat goes by (set once by [`crate::live::spawn`]), so a page
    /// can tell this node from the others in `Store::nodes`.
    pub fn node_id(&self) -> Option<&str> {
        self.node_id.get().map(String::as_str)
    }

    pub fn set_node_id(&self, id: &str) {
        let _ = self.node_id.set(id.to_owned());
    }

    /// The directory now.
    pub fn directory(&self) -> Arc<Directory> {
        self.directory.load_full()
    }

    /// Replace the directory (a sync).
    pub fn set_directory(&self, directory: Directory) {
        self.directory.store(Arc::new(directory));
    }

    /// Inspect `blob` (named `name`) arriving on `channel`; record an incident when the
    /// action reaches the configured threshold. `cap` lowers the action (internal mail).
    pub async fn inspect(
        &self,
        blob: Blob,
        name: &str,
        channel: Channel,
        who: &Who,
        cap: Option<Action>,
    ) -> anyhow::Result<Outcome> {
        let ctx = self.policy_context(channel, who, None);
        let (mut outcome, blob) = self.evaluate(blob, name, ctx, cap, None).await?;
        if self.worth_recording(&outcome) {
            match self.record(&outcome, blob, name, channel, who).await {
                Ok(incident) => outcome.incident = Some(incident),
                Err(e) => return Err(self.record_failed(channel, e)),
            }
        }
        Ok(outcome)
    }

    /// An event from `baomi agent` (a file written to removable media, a print job),
    /// recorded exactly once by the id the agent assigned: a repeated delivery is answered
    /// with the first result, without inspecting or recording again. The incident is dated
    /// when the event happened; `floor` raises the action to what the agent already did on
    /// its own verdict (a file it moved off a medium is recorded as blocked even where the
    /// server's policy differs).
    pub async fn inspect_agent_event(
        &self,
        blob: Blob,
        name: &str,
        channel: Channel,
        who: &Who,
        event: AgentEvent,
    ) -> anyhow::Result<AgentEventAnswer> {
        if let Some(seen) = self.store.agent_event(&event.id).await? {
            return Ok(AgentEventAnswer::Seen(seen));
        }
        let ctx = self.policy_context(channel, who, Some(event.at_ms.div_euclid(1000)));
        let (outcome, blob) = self.evaluate(blob, name, ctx, None, event.floor).await?;
        let incident = if self.worth_recording(&outcome) {
            match self.new_incident(&outcome, blob, name, channel, who).await {
                Ok(new) => Some(new),
                Err(e) => return Err(self.record_failed(channel, e)),
            }
        } else {
            None
        };
        let new_event = baomi_store::NewAgentEvent {
            event_id: event.id,
            action: outcome.action.as_str().into(),
            report: outcome.report.to_json(false),
            local_action: event.local_action,
            source: who.source.clone(),
            happened_ms: event.at_ms,
        };
        let recorded = self
            .store
            .record_agent_event(new_event, incident, channel.as_str())
            .await
            .map_err(|e| self.record_failed(channel, e.into()))?;
        if recorded.already {
            return Ok(AgentEventAnswer::Seen(recorded.record));
        }
        let mut outcome = outcome;
        outcome.incident = recorded.incident;
        Ok(AgentEventAnswer::Fresh(Box::new(outcome)))
    }

    /// What the policy's conditions may ask about an object: the person (and their groups,
    /// from the directory), their department, where it was going, and when.
    fn policy_context(&self, channel: Channel, who: &Who, at: Option<i64>) -> Context {
        let directory = self.directory();
        let groups = who
            .user
            .as_deref()
            .and_then(|u| directory.person(u))
            .map(|p| p.groups.clone())
            .unwrap_or_default();
        let destinations = match (&who.destination, channel) {
            // The milter's recipients, `a@x.cn, b@y.cn`.
            (Some(d), Channel::Mail) => d
                .split(',')
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty())
                .collect(),
            (Some(d), _) => vec![d.clone()],
            (None, _) => Vec::new(),
        };
        Context {
            channel,
            person: who.user.clone(),
            department: who.department.clone(),
            groups,
            destinations,
            attachments: Vec::new(),
            at,
        }
    }

    /// Recorded: what reaches `record_from`, and every use of a policy exception (an
    /// exception lets something through that a rule would have stopped; the officer must be
    /// able to see each time it did).
    fn worth_recording(&self, outcome: &Outcome) -> bool {
        let action = outcome.action;
        (action != Action::Allow && action >= self.config.record_from())
            || !outcome.report.verdict.exceptions.is_empty()
    }

    /// The engine's verdict, counted in the metrics; `cap` lowers the action, `floor`
    /// raises it.
    async fn evaluate(
        &self,
        blob: Blob,
        name: &str,
        ctx: Context,
        cap: Option<Action>,
        floor: Option<Action>,
    ) -> anyhow::Result<(Outcome, Blob)> {
        let channel = ctx.channel;
        let started = Instant::now();
        let label = Metrics::channel(channel.as_str());
        self.metrics.objects.get_or_create(&label).inc();
        self.metrics.bytes.get_or_create(&label).inc_by(blob.len());
        let live = self.live();
        let engine = live.engine.clone();
        let (report, blob) = {
            let name = name.to_owned();
            tokio::task::spawn_blocking(move || {
                let r = engine.inspect_in(blob.clone(), &name, &ctx);
                (r, blob)
            })
            .await?
        };
        let mut action = report.verdict.action;
        if let Some(cap) = cap {
            action = action.min(cap);
        }
        if let Some(floor) = floor {
            action = action.max(floor);
        }
        self.metrics
            .scan_seconds
            .get_or_create(&label)
            .observe(started.elapsed().as_secs_f64());
        self.metrics
            .verdicts
            .get_or_create(&VerdictLabel {
                channel: channel.as_str().into(),
                action: action.as_str().into(),
            })
            .inc();
        Ok((
            Outcome {
                report,
                action,
                incident: None,
                versions: live.versions,
            },
            blob,
        ))
    }

    /// An incident that cannot be recorded is never let through unrecorded: the error goes
    /// back to the door, which applies its fail mode (block page, tempfail). Say why, in a
    /// line an operator can act on, and count it.
    fn record_failed(&self, channel: Channel, e: anyhow::Error) -> anyhow::Error {
        let full = storage_full(&e);
        self.metrics
            .record_failures
            .get_or_create(&RecordFailureLabel {
                channel: channel.as_str().into(),
                cause: if full { "disk_full" } else { "error" }.into(),
            })
            .inc();
        if full {
            tracing::error!(
                channel = channel.as_str(),
                "cannot record the incident: no space left on the data directory's disk \
                 (evidence in {}); the door fails closed until space returns ({e:#})",
                self.vault.dir().display()
            );
        } else {
            tracing::error!(
                channel = channel.as_str(),
                "cannot record the incident; the door applies its fail mode: {e:#}"
            );
        }
        e
    }

    async fn record(
        &self,
        outcome: &Outcome,
        blob: Blob,
        name: &str,
        channel: Channel,
        who: &Who,
    ) -> anyhow::Result<Incident> {
        let new = self.new_incident(outcome, blob, name, channel, who).await?;
        Ok(self.store.record_incident(new, channel.as_str()).await?)
    }

    /// The incident to record: the object kept as evidence (when configured and not too
    /// large), the masked findings, who and where.
    async fn new_incident(
        &self,
        outcome: &Outcome,
        blob: Blob,
        name: &str,
        channel: Channel,
        who: &Who,
    ) -> anyhow::Result<NewIncident> {
        let r = &outcome.report;
        let evidence = if self.config.gateway.evidence
            && blob.len() <= self.config.gateway.evidence_max_bytes
        {
            let vault = self.vault.clone();
            let e = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
                let mut reader = blob.open()?;
                Ok(vault.put(&mut reader)?)
            })
            .await??;
            Some(e)
        } else {
            None
        };
        let json = r.to_json(false);
        let new = NewIncident {
            channel: channel.as_str().into(),
            user: who.user.clone(),
            department: who.department.clone(),
            source: who.source.clone(),
            destination: who.destination.clone(),
            object_name: Some(name.to_owned()),
            object_size: Some(r.size as i64),
            object_type: Some(r.true_type.clone()),
            action: outcome.action.as_str().into(),
            severity: serde_json::to_value(r.verdict.severity)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            level: outcome.level().map(|l| l.as_str().to_owned()),
            // Every use of an exception is on the incident, beside the rules it lowered.
            rules: r
                .verdict
                .rules
                .iter()
                .cloned()
                .chain(
                    r.verdict
                        .exceptions
                        .iter()
                        .map(|e| format!("exception:{e}")),
                )
                .collect(),
            findings: json.get("findings").cloned().unwrap_or(Value::Null),
            evidence,
            quarantine_id: if outcome.action == Action::Quarantine {
                who.queue_id.clone()
            } else {
                None
            },
            policy_version: Some(outcome.versions.policy),
        };
        Ok(new)
    }
}

/// True when an error comes from a full disk (store or evidence vault).
fn storage_full(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<baomi_store::StoreError>()
            .is_some_and(|s| s.is_storage_full())
            || c.downcast_ref::<std::io::Error>().is_some_and(|io| {
                io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(28)
            })
    })
}

/// The ICAP ISTag for a version of state: it changes with every piece of state, so a proxy
/// caching adaptation results re-asks after any of them changed. RFC 3507 allows 32
/// characters; counters that have grown past that are replaced by a hash of them.
pub fn istag(v: &StateVersions) -> String {
    let tag = format!("baomi-{}", v.tag());
    if tag.len() <= 32 {
        return tag;
    }
    let hash = blake3::hash(tag.as_bytes()).to_hex();
    format!("baomi-h{}", &hash[..25])
}
