//! `baomi traces`: arguments, the agent config's `classified` and registered serials, then
//! `baomi_agent::traces::collect`; the output and, with `--report-to`/`--report-file`, the
//! same run report `baomi scan` sends (each trace one entry, see `Trace::to_run_entry`).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use baomi_agent::config::AgentConfig;
use baomi_agent::traces::{self, TraceKind, TraceOptions};
use clap::Args;

use crate::records;

#[derive(Args)]
pub struct TracesArgs {
    /// One JSON object per trace (JSON Lines), times in RFC 3339.
    #[arg(long)]
    pub json: bool,
    /// A Windows registry hive collected from a machine (SYSTEM, NTUSER.DAT; told apart by
    /// content); repeatable. Without --root only the named files are read.
    #[arg(long, value_name = "FILE")]
    pub hive: Vec<PathBuf>,
    /// A browser profile directory (or its History / places.sqlite); repeatable.
    #[arg(long, value_name = "DIR")]
    pub browser_profile: Vec<PathBuf>,
    /// Read this Linux system instead of the live one (a mounted disk image).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// The machine is classified (涉密计算机): look for internet use, and count unregistered
    /// media as alerts. Default: the agent config's `classified`.
    #[arg(long)]
    pub classified: bool,
    /// A domain of the internal network (`unit.gov.cn`), whose hosts are not internet use;
    /// repeatable. Private addresses and single-label names always are internal.
    #[arg(long, value_name = "DOMAIN")]
    pub internal_domain: Vec<String>,
    /// Do not ask journalctl (kernel log files, udev and sysfs are still read).
    #[arg(long)]
    pub no_journal: bool,
    #[command(flatten)]
    pub report: records::ReportArgs,
}

/// `config` is the global `--config`; for `baomi traces`, as for `baomi agent`, it names the
/// agent's config (default /etc/baomi/agent.toml, or $BAOMI_AGENT_CONFIG).
pub fn run(args: TracesArgs, config: Option<&Path>, data_dir: Option<PathBuf>) -> Result<i32> {
    let agent = match AgentConfig::load(config) {
        Ok(c) => c,
        Err(e) if config.is_some() => return Err(e),
        // The default config is root's; a plain user still gets a reading, told what is
        // missing.
        Err(e) => {
            let how = if args.classified {
                ""
            } else {
                "，按非涉密计算机检查（涉密计算机请加 --classified）"
            };
            eprintln!("baomi: 未读到终端配置（{e:#}）{how}");
            AgentConfig::default()
        }
    };
    let options = TraceOptions {
        root: args.root.clone(),
        hives: args.hive.clone(),
        browser_profiles: args.browser_profile.clone(),
        classified: args.classified || agent.classified,
        registered_serials: agent.usb.registered.clone(),
        internal_domains: args.internal_domain.clone(),
        journal: !args.no_journal,
    };
    let found = traces::collect(&options);
    let mut out = io::BufWriter::new(io::stdout());
    let written = if args.json {
        found.write_json(&mut out)
    } else {
        found.write_human(&mut out)
    };
    match written {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other.context("writing the traces")?,
    }
    out.flush().ok();
    if args.report.wanted() {
        report(&args, &options, &found, data_dir)?;
    }
    Ok(found.exit_code())
}

/// Write (and with `--report-to` send) the run report: one entry per trace.
fn report(
    args: &TracesArgs,
    options: &TraceOptions,
    found: &traces::Traces,
    data_dir: Option<PathBuf>,
) -> Result<()> {
    let data_dir = crate::data_dir(data_dir)?;
    let mut read: Vec<PathBuf> = options.hives.clone();
    read.extend(options.browser_profiles.iter().cloned());
    if let Some(r) = &options.root {
        read.push(r.clone());
    } else if read.is_empty() {
        read.push(PathBuf::from("/"));
    }
    let (header, path, default) = records::start(&args.report, &read, &data_dir)?;
    let mut w = baomi_scan::run::RunWriter::create(&path, &header, args.report.token.as_deref())
        .with_context(|| format!("creating {}", path.display()))?;
    let mut summary = baomi_scan::Summary::default();
    for t in &found.traces {
        let entry = t.to_run_entry();
        w.entry(entry, t.alerts)
            .with_context(|| format!("writing {}", path.display()))?;
        summary.files += 1;
        if t.kind == TraceKind::Error {
            summary.errors += 1;
        } else {
            summary.findings += 1;
        }
        if t.alerts {
            summary.alerting_files += 1;
        }
    }
    w.finish(&summary, baomi_store::now_ms())
        .with_context(|| format!("writing {}", path.display()))?;
    records::send(&args.report, &path, default, &[]);
    Ok(())
}
