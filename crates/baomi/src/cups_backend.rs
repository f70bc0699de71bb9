//! `baomi cups-backend`: the CUPS backend behind `baomi:/…` device URIs, run by
//! `/usr/lib/cups/backend/baomi` (`exec baomi cups-backend "$@"`, installed by
//! `scripts/install.sh --agent`). Arguments and the engine here; the backend's logic is
//! `baomi_agent::cups`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use baomi_agent::config::AgentConfig;
use baomi_agent::cups;
use clap::Args;

use crate::{fingerprint, setup};

#[derive(Args)]
pub struct CupsBackendArgs {
    /// What CUPS passes: JOB USER TITLE COPIES OPTIONS [FILE]; none: print the discovery
    /// line. `--release JOB`: an administrator approves a held job (then `lp -i JOB -H
    /// resume`).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<OsString>,
}

/// CUPS runs a backend with argv[0] set to the device URI. When `baomi` itself is the
/// backend (a symlink rather than the wrapper script), that is how it knows: the
/// arguments are then read as `baomi cups-backend ARGS`.
pub fn argv() -> Vec<OsString> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    if args
        .first()
        .is_some_and(|a| a.to_string_lossy().starts_with("baomi:"))
    {
        let uri = args[0].clone();
        args.splice(0..1, [OsString::from("baomi"), "cups-backend".into()]);
        if std::env::var_os("DEVICE_URI").is_none() {
            // SAFETY: at the start of main, before any thread is started.
            unsafe { std::env::set_var("DEVICE_URI", uri) };
        }
    }
    args
}

/// `config` is the global `--config`: for the backend, like `baomi agent`, it names the
/// agent's config (`/etc/baomi/agent.toml` by default, or `$BAOMI_AGENT_CONFIG`).
pub fn run(args: CupsBackendArgs, config: Option<&Path>, data_dir: Option<PathBuf>) -> Result<i32> {
    if args.args.is_empty() {
        println!("{}", cups::DISCOVERY);
        return Ok(0);
    }
    let load = || -> Result<AgentConfig> {
        let mut cfg = AgentConfig::load(config)?;
        if let Some(d) = &data_dir {
            cfg.data_dir = d.clone();
        }
        Ok(cfg)
    };
    if args.args.len() == 2 && args.args[0] == "--release" {
        let cfg = load()?;
        let job = args.args[1].to_string_lossy();
        let number = cups::release(&cfg.data_dir, &job)?;
        println!("job {job} ({number}) approved; now resume it: lp -i {job} -H resume");
        return Ok(0);
    }
    let job = match cups::JobArgs::parse(&args.args) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("ERROR: {e}");
            return Ok(cups::CUPS_BACKEND_FAILED);
        }
    };
    let env = cups::BackendEnv::from_process(None);
    // Without its config or engine the backend cannot inspect: the job gets what a job that
    // cannot be inspected gets, cancel (the config that could say otherwise is the
    // unreadable one).
    let built = load().and_then(|cfg| {
        let engine = engine(&cfg)?;
        Ok((cfg, engine))
    });
    let (cfg, engine) = match built {
        Ok(b) => b,
        Err(e) => {
            eprintln!(
                "ERROR: 无法完成保密检查，已取消打印 (job {}): Baomi: {e:#}",
                job.job
            );
            return Ok(cups::CUPS_BACKEND_CANCEL);
        }
    };
    Ok(cups::run_job(&job, &env, &cfg, engine))
}

/// The engine as `baomi agent` builds it from the agent's data directory, with the print
/// job's time limit.
fn engine(cfg: &AgentConfig) -> Result<Arc<baomi_engine::Engine>> {
    let policy = match cfg.policy.as_deref() {
        None | Some("server") => setup::policy(None, &cfg.data_dir)?,
        Some(path) => setup::policy(Some(Path::new(path)), &cfg.data_dir)?,
    };
    let dictionaries = setup::dictionaries(&[], &cfg.data_dir)?;
    let limits = baomi_engine::Limits {
        max_time: Duration::from_secs(cfg.print.inspect_timeout_secs.max(1)),
        passwords: setup::passwords(None, &cfg.data_dir)?,
        ..Default::default()
    };
    let fingerprints = fingerprint::load_index(&cfg.data_dir, None)?;
    Ok(Arc::new(setup::engine(
        policy,
        dictionaries,
        limits,
        fingerprints,
    )?))
}
