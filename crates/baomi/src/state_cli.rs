//! `baomi policy set|history|show|diff`, `baomi dict …` and `baomi passwords …`: the
//! policy's versions, the term lists and the password bank held in the store, which every
//! running `baomi serve` applies within seconds.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use baomi_store::Store;
use clap::Subcommand;

use crate::admin::{console_actor, runtime};

#[derive(Subcommand)]
pub enum DictCommand {
    /// Store a term list (`term[<TAB>weight[<TAB>category]]` per line), replacing one of
    /// the same name. Running servers apply it within seconds.
    Import {
        file: PathBuf,
        /// Its name (default: the file name without extension).
        #[arg(long)]
        name: Option<String>,
    },
    /// List the stored term lists.
    List,
    /// Print a stored term list.
    Export { name: String },
    /// Remove a stored term list.
    Remove { name: String },
}

#[derive(Subcommand)]
pub enum PasswordsCommand {
    /// Store the password bank (one password per line, taken verbatim), sealed with the
    /// evidence key, replacing the stored one. Running servers apply it within seconds.
    Import { file: PathBuf },
    /// How many passwords are stored, by whom and when (never the passwords).
    Status,
    /// Print the stored passwords (to move them to another installation).
    Export,
    /// Remove the stored bank.
    Clear,
}

#[derive(Subcommand)]
pub enum DirectoryCommand {
    /// Store a directory file (TOML `[[user]]` tables or CSV, as `directory.file`) as the
    /// directory every node uses. Running servers apply it within seconds.
    Import { file: PathBuf },
    /// How many people and departments are stored, from where and when.
    Status,
    /// Print the stored directory as a TOML directory file.
    Export,
}

/// `YYYY-MM-DD HH:MM` in Beijing time.
fn local_time(ms: i64) -> String {
    let secs = (ms + baomi_store::LOCAL_OFFSET_MS)
        .div_euclid(1000)
        .rem_euclid(86_400);
    format!(
        "{} {:02}:{:02}",
        baomi_store::local_date(ms),
        secs / 3600,
        secs % 3600 / 60
    )
}

fn internal_domains(config: &baomi_server::ServerConfig) -> Vec<String> {
    config.milter.internal_domains.clone()
}

fn with_store<T>(
    data_dir: &Path,
    url: Option<&str>,
    f: impl AsyncFnOnce(&Store) -> Result<T>,
) -> Result<T> {
    runtime()?.block_on(async {
        let store = Store::open(data_dir, url).await?;
        let out = f(&store).await;
        store.close().await;
        out
    })
}

/// `baomi policy set FILE [--comment]`
pub fn policy_set(
    file: &Path,
    comment: Option<&str>,
    config: &baomi_server::ServerConfig,
    data_dir: &Path,
    url: Option<&str>,
) -> Result<i32> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    baomi_server::live::parse_policy(&text, &internal_domains(config))
        .map_err(|e| anyhow::anyhow!("policy {}: {e}", file.display()))?;
    with_store(data_dir, url, async |store| {
        let set = store.policy_set(&text, &console_actor(), comment).await?;
        if set.unchanged {
            println!("policy unchanged: it is version {} already", set.version);
        } else {
            println!(
                "policy version {} stored; running servers apply it within seconds",
                set.version
            );
        }
        Ok(0)
    })
}

/// `baomi policy history`
pub fn policy_history(data_dir: &Path, url: Option<&str>) -> Result<i32> {
    with_store(data_dir, url, async |store| {
        let history = store.policy_history().await?;
        if history.is_empty() {
            println!("no policy stored yet: the shipped default applies");
        }
        for v in history {
            println!(
                "v{}\t{}\t{}\t{}",
                v.version,
                local_time(v.created_ms),
                v.author,
                v.comment.unwrap_or_default()
            );
        }
        Ok(0)
    })
}

async fn policy_text(store: &Store, version: Option<i64>) -> Result<String> {
    Ok(match version {
        Some(v) => store.policy_version(v).await?.toml,
        None => match store.policy_current().await? {
            Some(p) => p.toml,
            None => baomi_core::policy::DEFAULT_POLICY_TOML.to_owned(),
        },
    })
}

/// `baomi policy show [VERSION]`
pub fn policy_show(version: Option<i64>, data_dir: &Path, url: Option<&str>) -> Result<i32> {
    with_store(data_dir, url, async |store| {
        print!("{}", policy_text(store, version).await?);
        Ok(0)
    })
}

/// `baomi policy diff A [B]`: unified diff from version A to B (default: the active one).
pub fn policy_diff(from: i64, to: Option<i64>, data_dir: &Path, url: Option<&str>) -> Result<i32> {
    with_store(data_dir, url, async |store| {
        let a = policy_text(store, Some(from)).await?;
        let b = policy_text(store, to).await?;
        let to_name = to
            .map(|v| format!("v{v}"))
            .unwrap_or_else(|| "active".into());
        let diff = similar::TextDiff::from_lines(&a, &b);
        print!(
            "{}",
            diff.unified_diff()
                .context_radius(3)
                .header(&format!("v{from}"), &to_name)
        );
        Ok(if a == b { 0 } else { 1 })
    })
}

/// `baomi dict …`
pub fn dict(command: DictCommand, data_dir: &Path, url: Option<&str>) -> Result<i32> {
    match command {
        DictCommand::Import { file, name } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let name = match name {
                Some(n) => n,
                None => file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .context("the file has no name; give --name")?,
            };
            baomi_server::live::check_dictionary(&name, &text)?;
            with_store(data_dir, url, async |store| {
                let changed = store.dictionary_put(&name, &text, &console_actor()).await?;
                let n = baomi_store::state::term_count(&text);
                if changed {
                    println!("{name}: {n} terms stored; running servers apply them within seconds");
                } else {
                    println!("{name}: unchanged ({n} terms)");
                }
                Ok(0)
            })
        }
        DictCommand::List => with_store(data_dir, url, async |store| {
            for d in store.dictionary_list().await? {
                println!(
                    "{}\t{} terms\t{}\t{}",
                    d.name,
                    d.term_count,
                    local_time(d.updated_ms),
                    d.author
                );
            }
            Ok(0)
        }),
        DictCommand::Export { name } => with_store(data_dir, url, async |store| {
            print!("{}", store.dictionary(&name).await?.terms);
            Ok(0)
        }),
        DictCommand::Remove { name } => with_store(data_dir, url, async |store| {
            store.dictionary_remove(&name, &console_actor()).await?;
            println!("{name}: removed");
            Ok(0)
        }),
    }
}

/// `baomi passwords import|status|export|clear`. The bank is sealed with the evidence key of
/// `evidence_dir` (`[gateway] evidence_dir`, else the data directory).
pub fn passwords(
    command: PasswordsCommand,
    data_dir: &Path,
    evidence_dir: Option<&Path>,
    url: Option<&str>,
) -> Result<i32> {
    let vault = || baomi_store::EvidenceVault::open(evidence_dir.unwrap_or(data_dir));
    match command {
        PasswordsCommand::Import { file } => {
            let text = crate::setup::read_password_file(&file)?;
            let entries = baomi_extract::PasswordBank::parse(&text).len() as i64;
            let vault = vault()?;
            with_store(data_dir, url, async |store| {
                if store
                    .password_bank_put(&vault, &text, entries, &console_actor())
                    .await?
                {
                    println!(
                        "password bank: {entries} passwords stored, sealed with the evidence key; \
                         running servers apply it within seconds. The file can be removed."
                    );
                } else {
                    println!("password bank: unchanged ({entries} passwords)");
                }
                Ok(0)
            })
        }
        PasswordsCommand::Status => with_store(data_dir, url, async |store| {
            match store.password_bank_meta().await? {
                Some(m) => println!(
                    "{} passwords\t{}\t{}",
                    m.entries,
                    local_time(m.updated_ms),
                    m.author
                ),
                None => println!("no password bank stored"),
            }
            Ok(0)
        }),
        PasswordsCommand::Export => {
            let vault = vault()?;
            with_store(data_dir, url, async |store| {
                match store.password_bank_text(&vault).await? {
                    Some(text) => {
                        store
                            .audit(
                                &console_actor(),
                                "passwords.export",
                                "password bank",
                                serde_json::json!({}),
                            )
                            .await?;
                        print!("{text}");
                        Ok(0)
                    }
                    None => {
                        eprintln!("no password bank stored");
                        Ok(1)
                    }
                }
            })
        }
        PasswordsCommand::Clear => with_store(data_dir, url, async |store| {
            if store.password_bank_clear(&console_actor()).await? {
                println!("password bank removed");
            } else {
                println!("no password bank stored");
            }
            Ok(0)
        }),
    }
}

/// `baomi directory import|status|export`: the directory held in the store.
pub fn directory(command: DirectoryCommand, data_dir: &Path, url: Option<&str>) -> Result<i32> {
    match command {
        DirectoryCommand::Import { file } => with_store(data_dir, url, async |store| {
            if !crate::setup::store_directory_file(store, &file, &console_actor()).await? {
                println!("directory: unchanged");
            } else {
                println!("directory stored; running servers apply it within seconds");
            }
            Ok(0)
        }),
        DirectoryCommand::Status => with_store(data_dir, url, async |store| {
            match store.directory_meta().await? {
                Some(m) => println!(
                    "{} people\t{} departments\t{}\t{}",
                    m.people,
                    m.departments,
                    local_time(m.updated_ms),
                    m.source
                ),
                None => println!("no directory stored"),
            }
            Ok(0)
        }),
        DirectoryCommand::Export => with_store(data_dir, url, async |store| {
            let Some(text) = store.directory_snapshot().await? else {
                eprintln!("no directory stored");
                return Ok(1);
            };
            let dir = baomi_server::directory::Directory::from_snapshot(&text)?;
            print!("{}", dir.to_toml()?);
            Ok(0)
        }),
    }
}
