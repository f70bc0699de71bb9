//! `baomi agent`: arguments, the engine built from the agent's data directory like every
//! other subcommand's (`setup.rs`), then `baomi_agent::run`. The agent's logic lives in
//! `crates/baomi-agent`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use baomi_agent::config::AgentConfig;
use clap::Args;

use crate::{fingerprint, setup};

#[derive(Args)]
pub struct AgentArgs {
    /// A directory to treat as removable media (repeatable; beside `usb.watch`).
    #[arg(long, value_name = "DIR")]
    pub watch: Vec<PathBuf>,
    /// Scan the media mounted now and deliver the queue once, then exit (tests, cron).
    #[arg(long)]
    pub once: bool,
    /// Where sysfs is, for the media's USB vendor, model and serial (tests pass a tree of
    /// their own).
    #[arg(long, value_name = "DIR", default_value = "/sys", hide = true)]
    pub sys: PathBuf,
}

/// `config` is the global `--config`: for `baomi agent` it names the agent's config
/// (`/etc/baomi/agent.toml` by default, or `$BAOMI_AGENT_CONFIG`), not the server's.
pub fn run(args: AgentArgs, config: Option<&Path>, data_dir: Option<PathBuf>) -> Result<i32> {
    let mut cfg = AgentConfig::load(config)?;
    if let Some(d) = data_dir {
        cfg.data_dir = d;
    }
    std::fs::create_dir_all(&cfg.data_dir)?;
    let policy = match cfg.policy.as_deref() {
        None => setup::policy(None, &cfg.data_dir)?,
        Some("server") => {
            tracing::warn!(
                "policy = \"server\" is not supported yet: using DATA_DIR/policy.toml or the default"
            );
            setup::policy(None, &cfg.data_dir)?
        }
        Some(path) => setup::policy(Some(Path::new(path)), &cfg.data_dir)?,
    };
    let dictionaries = setup::dictionaries(&[], &cfg.data_dir)?;
    let limits = baomi_engine::Limits {
        max_time: Duration::from_secs(cfg.usb.inspect_timeout_secs.max(1)),
        passwords: setup::passwords(None, &cfg.data_dir)?,
        ..Default::default()
    };
    let fingerprints = fingerprint::load_index(&cfg.data_dir, None)?;
    let engine = Arc::new(setup::engine(policy, dictionaries, limits, fingerprints)?);
    let opts = baomi_agent::RunOptions {
        watch: args.watch,
        once: args.once,
        sys: args.sys,
    };
    let s = baomi_agent::run(cfg, engine, opts)?;
    eprintln!(
        "baomi agent: {} media, {} files, {} inspected, {} blocked, {} alerted, {} uninspectable; \
         {} delivered, {} waiting, {} refused; {} print decisions carried out",
        s.media,
        s.scan.files,
        s.scan.inspected,
        s.scan.blocked,
        s.scan.alerted,
        s.scan.uninspectable,
        s.delivery.delivered,
        s.delivery.waiting,
        s.delivery.refused,
        s.print_decisions
    );
    Ok(0)
}
