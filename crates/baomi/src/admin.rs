//! `baomi audit …` and `baomi token …`: the officer's and administrator's commands on the
//! store.

use std::path::Path;

use anyhow::Result;
use baomi_store::Store;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the audit chain and every incident against it; exit 1 when anything was altered.
    Verify,
    /// Print the newest entries.
    Tail {
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: i64,
    },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create an API token; the secret is printed once and stored only as a hash.
    Create { name: String },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token by its id.
    Revoke { id: i64 },
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// The actor written to the audit log for commands run at the console.
pub fn console_actor() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

pub fn audit(cmd: AuditCommand, data_dir: &Path, url: Option<&str>) -> Result<i32> {
    runtime()?.block_on(async {
        match cmd {
            AuditCommand::Verify => {
                let store = Store::open(data_dir, url).await?;
                let report = store.verify_audit().await?;
                if report.ok() {
                    println!(
                        "audit log intact: {} entries, {} incidents checked",
                        report.entries, report.incidents_checked
                    );
                    Ok(0)
                } else {
                    println!(
                        "AUDIT LOG OR INCIDENTS ALTERED: {} problem(s) in {} entries, {} incidents",
                        report.problems.len(),
                        report.entries,
                        report.incidents_checked
                    );
                    for p in &report.problems {
                        println!("  {p}");
                    }
                    Ok(1)
                }
            }
            AuditCommand::Tail { lines } => {
                let store = Store::open(data_dir, url).await?;
                let mut entries = store.audit_tail(lines).await?;
                entries.reverse();
                for e in entries {
                    println!(
                        "{:>6}  {}  {:<22} {:<26} {}  {}",
                        e.seq,
                        baomi_store::local_date(e.ts_ms),
                        e.action,
                        e.subject,
                        e.actor,
                        e.detail
                    );
                }
                Ok(0)
            }
        }
    })
}

pub fn token(cmd: TokenCommand, data_dir: &Path, url: Option<&str>) -> Result<i32> {
    runtime()?.block_on(async {
        match cmd {
            TokenCommand::Create { name } => {
                let store = Store::open(data_dir, url).await?;
                let (info, secret) = store.create_token(&name, &console_actor()).await?;
                eprintln!(
                    "token {} ({}) created; it is shown only now:",
                    info.id, info.name
                );
                println!("{secret}");
                Ok(0)
            }
            TokenCommand::List => {
                let store = Store::open(data_dir, url).await?;
                for t in store.tokens().await? {
                    println!(
                        "{:>4}  {:<24} created {}  last used {}{}",
                        t.id,
                        t.name,
                        baomi_store::local_date(t.created_ms),
                        t.last_used_ms
                            .map(baomi_store::local_date)
                            .unwrap_or_else(|| "never".into()),
                        if t.revoked { "  REVOKED" } else { "" }
                    );
                }
                Ok(0)
            }
            TokenCommand::Revoke { id } => {
                let store = Store::open(data_dir, url).await?;
                store.revoke_token(id, &console_actor()).await?;
                println!("token {id} revoked");
                Ok(0)
            }
        }
    })
}
