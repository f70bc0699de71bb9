//! `baomi`: the command line. Thin by design: argument parsing and wiring only; the work is
//! done by the library crates (see ARCHITECTURE.md).

use std::fs;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use baomi_scan::ScanOptions;
use baomi_scan::output::{self, Format};
use clap::{Args, Parser, Subcommand};

mod admin;
mod agent;
mod cups_backend;
mod fingerprint;
mod policy_test;
mod records;
mod redact;
mod serve;
mod setup;
mod state_cli;
mod traces;
mod worker;

/// Every scanned file allocates a few buffers of its own size (bytes, text, normalised text);
/// glibc's allocator serves those with mmap/munmap and the page faults and mm-lock
/// contention of two workers showed in profiles. mimalloc keeps and reuses them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "baomi",
    version,
    about = "保密: keep classified and personal information from leaking"
)]
struct Cli {
    /// Data directory (database, fingerprint registry, policy, dictionaries, evidence, keys).
    /// Default: $BAOMI_DATA_DIR, else the platform data directory.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Server configuration (TOML, see baomi.toml.example): its data_dir and database.url
    /// apply to every subcommand.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Inspect files and directories (self-inspection, 保密自查).
    Scan(Box<ScanArgs>),
    /// Inspect the batches `baomi scan PATH --queue` put in the store: any number of
    /// workers, on any machine sharing the database and seeing the files under the same
    /// paths; a batch whose worker dies is taken over when its lease runs out.
    Worker(worker::WorkerArgs),
    /// Run the gateway: REST API, ICAP for web proxies, milter for mail servers.
    Serve(serve::ServeArgs),
    /// Register secret documents, so copies and excerpts of them are recognised.
    Fingerprint {
        #[command(subcommand)]
        command: fingerprint::FingerprintCommand,
    },
    /// Check the tamper-evident audit log.
    Audit {
        #[command(subcommand)]
        command: admin::AuditCommand,
    },
    /// Check that every record has its evidence and every evidence file a record (after a
    /// crash, a restore, a disk problem); repair what can be repaired.
    Store {
        #[command(subcommand)]
        command: admin::StoreCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: admin::TokenCommand,
    },
    /// Manage console accounts on the server itself (三员 and the publication review's roles).
    User {
        #[command(subcommand)]
        command: admin::UserCommand,
    },
    /// The directory (people, departments, groups) held in the store: import, status, export.
    Directory {
        #[command(subcommand)]
        command: state_cli::DirectoryCommand,
    },
    /// The password bank held in the store (sealed): import, status, export, clear.
    Passwords {
        #[command(subcommand)]
        command: state_cli::PasswordsCommand,
    },
    /// Term lists held in the store (dictionaries): import, list, export, remove.
    Dict {
        #[command(subcommand)]
        command: state_cli::DictCommand,
    },
    /// The policy: its stored versions, set a new one, check or test a file.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Self-inspection campaigns: import report files, start a campaign, see who reported.
    Campaign {
        #[command(subcommand)]
        command: records::CampaignCommand,
    },
    /// The ledger of classified carriers (台账): import an office's table, export it.
    Ledger {
        #[command(subcommand)]
        command: records::LedgerCommand,
    },
    /// Make the records: the self-inspection statistics table, clue reports.
    Report {
        #[command(subcommand)]
        command: records::ReportCommand,
    },
    /// Write a copy with personal data masked, for publishing (数据脱敏).
    Redact(redact::RedactArgs),
    /// Back up the store while it runs: database snapshot, evidence, its key, the unit's files.
    Backup {
        /// A new or empty directory (outside the data directory; keep it offline).
        dest: PathBuf,
    },
    /// Start a new evidence key; the old one is kept in DATA_DIR/evidence.keys/ so older
    /// evidence stays readable. Restart `baomi serve` afterwards, then make a backup.
    RotateKey,
    /// The office computer's agent: inspects files written to removable media, keeps
    /// blocked ones in an encrypted quarantine, reports to the server. `--config` names the
    /// agent's config (default /etc/baomi/agent.toml, or $BAOMI_AGENT_CONFIG).
    Agent(agent::AgentArgs),
    /// The CUPS backend for `baomi:/…` devices (run by /usr/lib/cups/backend/baomi).
    #[command(hide = true)]
    CupsBackend(cups_backend::CupsBackendArgs),
    /// The traces a secrecy inspection looks for (保密检查): USB storage ever attached and, on
    /// a classified machine, internet use; on this Linux machine, a mounted image (--root),
    /// or Windows hives and browser profiles collected from one. `--config` names the
    /// agent's config, as for `baomi agent`.
    Traces(Box<traces::TracesArgs>),
    /// Restore a backup into an empty data directory (and empty PostgreSQL database).
    Restore {
        /// A directory made by `baomi backup`.
        src: PathBuf,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Print the shipped default policy (a starting point for your own).
    Default,
    /// Check a policy file and print its rules.
    Check { file: PathBuf },
    /// What the policy decides for a file sent by someone to somewhere, and which rules and
    /// exceptions decided it.
    Test(policy_test::PolicyTestArgs),
    /// Store a policy file as the new active version (checked first); running servers
    /// apply it within seconds.
    Set {
        file: PathBuf,
        /// Why it changed (kept with the version).
        #[arg(long)]
        comment: Option<String>,
    },
    /// The stored versions: number, time, author, comment.
    History,
    /// Print a stored version (default: the active one).
    Show { version: Option<i64> },
    /// What changed from version A to version B (default: the active one).
    Diff { from: i64, to: Option<i64> },
}

#[derive(Args)]
struct ScanArgs {
    /// Files or directories to scan.
    #[arg(required_unless_present = "queue_status")]
    paths: Vec<PathBuf>,
    /// Walk the paths and enqueue their files as a job in the store, in batches, for
    /// `baomi worker` processes to inspect (files unchanged since the last inspection —
    /// same size and mtime — are left out); prints the job's id.
    #[arg(long, conflicts_with = "queue_status")]
    queue: bool,
    /// With --queue: files per batch.
    #[arg(long, value_name = "N", default_value_t = 100, requires = "queue")]
    batch_files: usize,
    /// With --queue: at most this many MiB of files per batch.
    #[arg(long, value_name = "MIB", default_value_t = 256, requires = "queue")]
    batch_mb: u64,
    /// With --queue: enqueue every file, unchanged or not.
    #[arg(long, requires = "queue")]
    full: bool,
    /// Where a queued job stands (default: the newest): files done of all, files/s, ETA,
    /// workers, incidents.
    #[arg(long, value_name = "ID")]
    queue_status: Option<Option<i64>>,
    /// With --queue-status: print a line every second until the job is finished.
    #[arg(long, requires = "queue_status")]
    wait: bool,
    /// Output format: human, json (JSON Lines), csv, html.
    #[arg(long, default_value = "human")]
    format: String,
    /// Write the report to this file instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Policy file (TOML). Default: the store's active version (`baomi policy set`), else
    /// DATA_DIR/policy.toml if present, else the shipped default.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Term list (`term[<TAB>weight[<TAB>category]]` per line); repeatable. Lists in
    /// DATA_DIR/dictionaries/*.txt are always loaded.
    #[arg(long, value_name = "FILE")]
    dict: Vec<PathBuf>,
    /// Leave out paths matching this glob (gitignore syntax); repeatable.
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Follow symbolic links (off by default).
    #[arg(long)]
    follow_symlinks: bool,
    /// Show personal data unmasked in the report.
    #[arg(long)]
    show_values: bool,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// No progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Wall-time limit per file in seconds.
    #[arg(long, value_name = "SECS")]
    time_limit: Option<u64>,
    /// Maximum nesting depth of containers.
    #[arg(long, value_name = "N")]
    max_depth: Option<u32>,
    /// Password bank: one password per line (UTF-8, verbatim, blank lines skipped, no
    /// comments), tried on encrypted zip/7z/RAR/PDF/Office files. Default:
    /// DATA_DIR/passwords.txt if present.
    #[arg(long, value_name = "FILE")]
    passwords: Option<PathBuf>,
    #[command(flatten)]
    report: records::ReportArgs,
}

fn main() -> ExitCode {
    limit_openmp_threads();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BAOMI_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(io::stderr)
        .init();
    // Malformed input must never print a panic trace at the user: the walker turns a parser
    // panic into an `unreadable` finding; keep the message for debugging only.
    std::panic::set_hook(Box::new(|info| tracing::debug!("parser panic: {info}")));
    let cli = Cli::parse_from(cups_backend::argv());
    match run(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("baomi: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Baomi runs one inspection per core; Tesseract's OpenMP threads inside each OCR call only
/// fight those workers (measured: 20 page images on 2 cores, 34 s with 26 s of system time;
/// 7.9 s with one OpenMP thread). libgomp reads `OMP_THREAD_LIMIT` when it is loaded, before
/// `main`, so the process re-executes itself once with the variable set. A value the user
/// set is kept.
fn limit_openmp_threads() {
    #[cfg(unix)]
    if std::env::var_os("OMP_THREAD_LIMIT").is_none()
        && let Ok(exe) = std::env::current_exe()
    {
        use std::os::unix::process::CommandExt;
        // `exec` only returns if it failed: then run on, with OpenMP's default.
        let _ = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("OMP_THREAD_LIMIT", "1")
            // CUPS passes the device URI as argv[0] (see `cups_backend::argv`).
            .arg0(std::env::args_os().next().unwrap_or_default())
            .exec();
    }
}

fn run(cli: Cli) -> Result<i32> {
    // `baomi agent --config FILE` names the agent's config, not the server's.
    let command = match cli.command {
        Command::Agent(args) => return agent::run(args, cli.config.as_deref(), cli.data_dir),
        Command::CupsBackend(args) => {
            return cups_backend::run(args, cli.config.as_deref(), cli.data_dir);
        }
        Command::Traces(args) => return traces::run(*args, cli.config.as_deref(), cli.data_dir),
        c => c,
    };
    let config = match &cli.config {
        Some(f) => baomi_server::ServerConfig::load(f)?,
        None => baomi_server::ServerConfig::default(),
    };
    let data_dir = data_dir(cli.data_dir.or_else(|| config.data_dir.clone()))?;
    let url = config.database.url.clone();
    let evidence_dir = config.gateway.evidence_dir.clone();
    let evidence_dir = evidence_dir.as_deref();
    match command {
        Command::Scan(mut args) => {
            if args.passwords.is_none() {
                args.passwords = config.scan.passwords.clone();
            }
            scan(*args, &data_dir, evidence_dir, url.as_deref())
        }
        Command::Fingerprint { command } => fingerprint::run(command, &data_dir, url.as_deref()),
        Command::Serve(args) => serve::serve(args, config, &data_dir),
        Command::Audit { command } => admin::audit(command, &data_dir, url.as_deref()),
        Command::Store { command } => {
            admin::store(command, &data_dir, evidence_dir, url.as_deref())
        }
        Command::Token { command } => admin::token(command, &data_dir, url.as_deref()),
        Command::User { command } => admin::user(command, &data_dir, url.as_deref()),
        Command::Campaign { command } => records::campaign(command, &config, &data_dir),
        Command::Report { command } => records::report(command, &config, &data_dir),
        Command::Ledger { command } => records::ledger(command, &config, &data_dir),
        Command::Redact(args) => redact::run(args),
        Command::Backup { dest } => admin::backup(&dest, &data_dir, evidence_dir, url.as_deref()),
        Command::Restore { src } => admin::restore(&src, &data_dir, url.as_deref()),
        Command::RotateKey => admin::rotate_key(&data_dir, evidence_dir, url.as_deref()),
        Command::Agent(_) => unreachable!("baomi agent is run before the server config is read"),
        Command::CupsBackend(_) => {
            unreachable!("baomi cups-backend is run before the server config is read")
        }
        Command::Traces(_) => unreachable!("baomi traces is run before the server config is read"),
        Command::Policy {
            command: PolicyCommand::Default,
        } => {
            print!("{}", baomi_core::policy::DEFAULT_POLICY_TOML);
            Ok(0)
        }
        Command::Policy {
            command: PolicyCommand::Test(args),
        } => policy_test::run(args, &data_dir, url.as_deref()),
        Command::Policy {
            command: PolicyCommand::Set { file, comment },
        } => state_cli::policy_set(
            &file,
            comment.as_deref(),
            &config,
            &data_dir,
            url.as_deref(),
        ),
        Command::Policy {
            command: PolicyCommand::History,
        } => state_cli::policy_history(&data_dir, url.as_deref()),
        Command::Policy {
            command: PolicyCommand::Show { version },
        } => state_cli::policy_show(version, &data_dir, url.as_deref()),
        Command::Policy {
            command: PolicyCommand::Diff { from, to },
        } => state_cli::policy_diff(from, to, &data_dir, url.as_deref()),
        Command::Dict { command } => state_cli::dict(command, &data_dir, url.as_deref()),
        Command::Directory { command } => state_cli::directory(command, &data_dir, url.as_deref()),
        Command::Passwords { command } => {
            state_cli::passwords(command, &data_dir, evidence_dir, url.as_deref())
        }
        Command::Worker(args) => worker::run(args, &config, &data_dir, url.as_deref()),
        Command::Policy {
            command: PolicyCommand::Check { file },
        } => {
            let policy = setup::load_policy(&file)?;
            println!(
                "{}: ok, {} rules, {} regex rules",
                file.display(),
                policy.rule_names().len(),
                policy.regex.len()
            );
            for name in policy.rule_names() {
                println!("  {name}");
            }
            for ex in &policy.exceptions {
                let until = ex.expires.as_deref().unwrap_or("no expiry");
                println!("  exception {}: {} (until {until})", ex.name, ex.reason);
            }
            Ok(0)
        }
    }
}

/// `--data-dir`, else `$BAOMI_DATA_DIR`, else `$XDG_DATA_HOME/baomi` or `~/.local/share/baomi`.
fn data_dir(flag: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(d) = flag {
        return Ok(d);
    }
    if let Some(d) = std::env::var_os("BAOMI_DATA_DIR") {
        return Ok(PathBuf::from(d));
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME") {
        return Ok(PathBuf::from(d).join("baomi"));
    }
    match std::env::var_os("HOME") {
        Some(h) => Ok(PathBuf::from(h).join(".local/share/baomi")),
        None => bail!("no data directory: pass --data-dir or set BAOMI_DATA_DIR"),
    }
}

fn scan(
    args: ScanArgs,
    data_dir: &Path,
    evidence_dir: Option<&Path>,
    url: Option<&str>,
) -> Result<i32> {
    if args.queue || args.queue_status.is_some() {
        return worker::scan_command(&args, data_dir, url);
    }
    let format = Format::parse(&args.format)
        .with_context(|| format!("unknown format {:?} (human, json, csv, html)", args.format))?;
    let stored = setup::stored_state(data_dir, evidence_dir, url)?;
    let policy = setup::scan_policy(args.policy.as_deref(), stored.policy.as_deref(), data_dir)?;
    let dictionaries = setup::scan_dictionaries(&args.dict, stored.dictionaries, data_dir)?;
    let mut limits = baomi_engine::Limits::default();
    if let Some(t) = args.time_limit {
        limits.max_time = Duration::from_secs(t);
    }
    if let Some(d) = args.max_depth {
        limits.max_depth = d;
    }
    limits.passwords =
        setup::scan_passwords(args.passwords.as_deref(), stored.passwords, data_dir)?;
    let fingerprints = fingerprint::load_index(data_dir, url)?;
    let engine = setup::engine(policy, dictionaries, limits, fingerprints)?;

    let out: Box<dyn Write + Send> = match &args.output {
        Some(p) => Box::new(io::BufWriter::new(
            fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(io::BufWriter::new(io::stdout())),
    };
    let mut writer = output::writer(format, out, args.show_values);
    let options = ScanOptions {
        paths: args.paths.clone(),
        excludes: args.exclude.clone(),
        follow_symlinks: args.follow_symlinks,
        threads: args.threads,
    };
    let progress = (!args.no_progress && io::stderr().is_terminal()).then(|| {
        let pb = indicatif_bar();
        pb.enable_steady_tick(Duration::from_millis(200));
        pb
    });
    // The run report for the server, written beside the ordinary output.
    let mut run = match args.report.wanted() {
        true => {
            let (header, path, default) = records::start(&args.report, &args.paths, data_dir)?;
            let w =
                baomi_scan::run::RunWriter::create(&path, &header, args.report.token.as_deref())
                    .with_context(|| format!("creating {}", path.display()))?;
            Some((w, path, default))
        }
        false => None,
    };
    let mut tee;
    let sink: &mut dyn output::ReportWriter = match &mut run {
        Some((w, _, _)) => {
            tee = baomi_scan::run::Tee {
                output: writer.as_mut(),
                run: w,
            };
            &mut tee
        }
        None => writer.as_mut(),
    };
    let (summary, written) = baomi_scan::scan_to(&engine, &options, sink, |s| {
        if let Some(pb) = &progress {
            pb.set_message(format!(
                "{} files, {}, {} findings",
                s.files,
                output::human_bytes(s.bytes),
                s.findings
            ));
        }
    });
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    if let Some((w, path, default)) = run {
        let blocking = w
            .finish(&summary, baomi_store::now_ms())
            .with_context(|| format!("writing {}", path.display()))?;
        records::send(&args.report, &path, default, &blocking);
    }
    match written {
        // A closed pipe (`baomi scan … | head`) is not worth a message.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(summary.exit_code()),
        Err(e) => return Err(e).context("writing the report"),
        Ok(()) => {}
    }
    if format != Format::Human && io::stderr().is_terminal() {
        eprintln!(
            "baomi: {} files, {} alerting, {} errors",
            summary.files, summary.alerting_files, summary.errors
        );
    }
    Ok(summary.exit_code())
}

fn indicatif_bar() -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    pb
}
