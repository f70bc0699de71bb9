//! `baomi audit …`, `baomi token …` and `baomi user …`: the commands run on the server
//! itself, where root is trusted (the bootstrap of 三员分立 accounts happens here).

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
pub enum StoreCommand {
    /// Compare the records with the evidence vault. Exit 0: consistent; 1: a record lacks
    /// its evidence, a file fails to decrypt, or orphans are left (without --repair).
    Check {
        /// Move evidence no record names to DATA_DIR/evidence.orphans/ (still encrypted)
        /// and delete the partial files of interrupted writes; audited.
        #[arg(long)]
        repair: bool,
        /// Also decrypt every referenced file (reads the whole vault).
        #[arg(long)]
        verify_evidence: bool,
        /// Unreferenced files younger than this many seconds are left alone: on a running
        /// server they may belong to a record about to be committed.
        #[arg(long, default_value_t = 600, value_name = "SECONDS")]
        grace: u64,
    },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create an API token; the secret is printed once and stored only as a hash.
    Create {
        name: String,
        /// Act as this account, with its role (a console account).
        #[arg(long, value_name = "ACCOUNT", conflicts_with = "scope")]
        user: Option<String>,
        /// `scan`: may only submit objects for inspection (chat gateways, agents, scanners).
        /// The default when no --user is given.
        #[arg(long, value_parser = ["scan"])]
        scope: Option<String>,
    },
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
    let user = ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(account_of_this_process);
    format!("cli:{user}")
}

/// The account name of this process's user (from /etc/passwd), for services and cron jobs
/// that run without USER in their environment; `uid N` when the name is not known.
fn account_of_this_process() -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return "unknown".into();
    };
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|line| {
                let mut f = line.split(':');
                let name = f.next()?;
                (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_owned())
            })
        })
        .unwrap_or_else(|| format!("uid {uid}"))
}

/// `baomi backup DEST`
pub fn backup(
    dest: &Path,
    data_dir: &Path,
    evidence_dir: Option<&Path>,
    url: Option<&str>,
) -> Result<i32> {
    runtime()?.block_on(async {
        let store = Store::open(data_dir, url)
            .await?
            .with_evidence_root(evidence_dir);
        let m = store.backup(dest, url, &console_actor()).await?;
        println!(
            "backed up to {}: database ({}, schema {}), {} evidence files ({} bytes) and the \
             evidence key, {} other files",
            dest.display(),
            m.backend,
            m.schema_version,
            m.evidence_files,
            m.evidence_bytes,
            m.other_files
        );
        println!(
            "keep it offline: it holds the evidence key, which decrypts every piece of evidence"
        );
        Ok(0)
    })
}

/// `baomi store check`
pub fn store(
    cmd: StoreCommand,
    data_dir: &Path,
    evidence_dir: Option<&Path>,
    url: Option<&str>,
) -> Result<i32> {
    let StoreCommand::Check {
        repair,
        verify_evidence,
        grace,
    } = cmd;
    runtime()?.block_on(async {
        let store = Store::open(data_dir, url)
            .await?
            .with_evidence_root(evidence_dir);
        let vault = baomi_store::EvidenceVault::open(store.evidence_root())?;
        let options = baomi_store::CheckOptions {
            repair,
            verify: verify_evidence,
            grace: std::time::Duration::from_secs(grace),
        };
        let r = store.check(&vault, &options, &console_actor()).await?;
        println!(
            "{} evidence files, {} referenced by the records",
            r.files, r.referenced
        );
        for m in &r.missing {
            println!("  MISSING {m}");
        }
        for u in &r.unreadable {
            println!("  UNREADABLE {u}");
        }
        let verb = if r.repaired {
            "moved to evidence.orphans/"
        } else {
            "left"
        };
        if !r.orphans.is_empty() {
            println!("{} file(s) no record names, {verb}:", r.orphans.len());
            for h in &r.orphans {
                println!("  orphan {h}");
            }
        }
        if !r.partial.is_empty() {
            let verb = if r.repaired { "deleted" } else { "left" };
            println!(
                "{} partial file(s) of interrupted writes, {verb}:",
                r.partial.len()
            );
            for p in &r.partial {
                println!("  partial {}", p.display());
            }
        }
        if r.recent_unreferenced > 0 {
            println!(
                "{} unreferenced file(s) younger than {grace} s left alone (writes in flight?)",
                r.recent_unreferenced
            );
        }
        for p in &r.stray {
            println!("  not evidence, left alone: {}", p.display());
        }
        if r.ok() {
            println!("store consistent");
            Ok(0)
        } else if !r.missing.is_empty() || !r.unreadable.is_empty() {
            println!("STORE INCONSISTENT: restore the missing evidence from a backup");
            Ok(1)
        } else {
            println!("run with --repair to move the orphans aside and delete partial files");
            Ok(1)
        }
    })
}

/// `baomi rotate-key`
pub fn rotate_key(data_dir: &Path, evidence_dir: Option<&Path>, url: Option<&str>) -> Result<i32> {
    runtime()?.block_on(async {
        let store = Store::open(data_dir, url)
            .await?
            .with_evidence_root(evidence_dir);
        let (old, new) = baomi_store::evidence::rotate_key(store.evidence_root())?;
        store
            .audit(
                &console_actor(),
                "evidence.rotate_key",
                "evidence.key",
                serde_json::json!({"retired": old, "new": new}),
            )
            .await?;
        println!(
            "new evidence key {new}; the old key {old} is kept in {} to read older evidence. \
             Restart baomi serve, then run baomi backup: the backup must hold both.",
            store
                .evidence_root()
                .join(baomi_store::evidence::RETIRED_KEYS)
                .display()
        );
        Ok(0)
    })
}

/// `baomi restore SRC`: then open the store (migrating an older schema) and check the chain.
pub fn restore(src: &Path, data_dir: &Path, url: Option<&str>) -> Result<i32> {
    runtime()?.block_on(async {
        let m = baomi_store::backup::restore(src, data_dir, url).await?;
        let store = Store::open(data_dir, url).await?;
        let now = store.schema_version().await?;
        let report = store.verify_audit().await?;
        println!(
            "restored the backup of {} (Baomi {}, schema {}) into {}{}",
            baomi_store::local_date(m.created_ms),
            m.version,
            m.schema_version,
            data_dir.display(),
            if now > m.schema_version {
                format!(", upgraded to schema {now}")
            } else {
                String::new()
            }
        );
        let mut code = 0;
        if report.ok() {
            println!("audit log intact: {} entries", report.entries);
        } else {
            println!(
                "AUDIT LOG OR INCIDENTS ALTERED in the backup: {} problem(s)",
                report.problems.len()
            );
            code = 1;
        }
        // The vault was copied after the database snapshot; every file the snapshot names
        // must have come with it, and decrypt with the restored keys.
        let vault = baomi_store::EvidenceVault::open(data_dir)?;
        let options = baomi_store::CheckOptions {
            verify: true,
            ..Default::default()
        };
        let check = store.check(&vault, &options, &console_actor()).await?;
        if check.missing.is_empty() && check.unreadable.is_empty() {
            println!(
                "evidence complete: {} files, all {} referenced decrypt",
                check.files, check.referenced
            );
        } else {
            println!(
                "BACKUP INCOMPLETE: {} referenced evidence file(s) missing, {} unreadable",
                check.missing.len(),
                check.unreadable.len()
            );
            for m in check.missing.iter().chain(&check.unreadable) {
                println!("  {m}");
            }
            code = 1;
        }
        Ok(code)
    })
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
            TokenCommand::Create {
                name,
                user,
                scope: _,
            } => {
                let store = Store::open(data_dir, url).await?;
                let account = match &user {
                    Some(u) => Some(store.account(u).await?),
                    None => None,
                };
                let (info, secret) = store
                    .create_token(&name, account.as_ref(), &console_actor())
                    .await?;
                let what = match &account {
                    Some(a) => format!("acts as {} ({})", a.name, a.role.zh()),
                    None => "inspection only (scope scan)".to_owned(),
                };
                eprintln!(
                    "token {} ({}) created, {what}; it is shown only now:",
                    info.id, info.name
                );
                println!("{secret}");
                Ok(0)
            }
            TokenCommand::List => {
                let store = Store::open(data_dir, url).await?;
                for t in store.tokens().await? {
                    let scope = match &t.account {
                        Some(a) => format!("user:{a}"),
                        None => "scan".to_owned(),
                    };
                    println!(
                        "{:>4}  {:<24} {:<16} created {}  last used {}{}",
                        t.id,
                        t.name,
                        scope,
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

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create an active console account (the bootstrap; in the console, accounts are
    /// proposed by the system administrator and approved by a security officer).
    Add {
        name: String,
        /// sysadmin (系统管理员), secadmin (安全保密管理员), auditor (安全审计员), or a
        /// publication-review role: drafter (拟稿人), reviewer (部门审核), director
        /// (办公室审核), approver (分管领导审批); or staff (工作人员: own commitments and
        /// knowledge tests only).
        #[arg(long, value_parser = ["sysadmin", "secadmin", "auditor", "drafter", "reviewer", "director", "approver", "staff"])]
        role: String,
        #[arg(long)]
        department: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from standard input (one line).
        #[arg(long, required_unless_present = "ldap", conflicts_with = "ldap")]
        password_stdin: bool,
        /// The account signs in with the directory's password ([directory.ldap]): no
        /// local password (the same as `baomi user auth NAME ldap` afterwards).
        #[arg(long)]
        ldap: bool,
    },
    /// List accounts with their role and state.
    List,
    /// Disable an account, end its sessions and revoke its tokens.
    Disable { name: String },
    /// Set an account's password (and unlock it).
    Passwd {
        name: String,
        /// Read the password from standard input (one line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Where an account's password is checked: `ldap` (a bind as the person to
    /// [directory.ldap]; the local password is dropped, the second factor and the lock
    /// stay) or `local` (a password of its own, read with --password-stdin).
    Auth {
        name: String,
        #[arg(value_parser = ["ldap", "local"])]
        auth: String,
        /// With `local`: read the account's new password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
    },
}

fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        anyhow::bail!("no password on standard input");
    }
    Ok(password)
}

pub fn user(cmd: UserCommand, data_dir: &Path, url: Option<&str>) -> Result<i32> {
    runtime()?.block_on(async {
        let store = Store::open(data_dir, url).await?;
        match cmd {
            UserCommand::Add {
                name,
                role,
                department,
                display_name,
                password_stdin: _,
                ldap,
            } => {
                let role = baomi_store::Role::parse(&role)
                    .ok_or_else(|| anyhow::anyhow!("unknown role {role}"))?;
                let (auth, password) = if ldap {
                    (baomi_store::accounts::Auth::Ldap, String::new())
                } else {
                    (baomi_store::accounts::Auth::Local, read_password()?)
                };
                let acc = store
                    .create_account_with_auth(
                        &baomi_store::NewAccount {
                            name,
                            role,
                            display_name,
                            department,
                            password,
                        },
                        true,
                        auth,
                        &console_actor(),
                    )
                    .await?;
                println!(
                    "account {} created: {} ({}){}",
                    acc.name,
                    acc.role.zh(),
                    acc.role,
                    if ldap {
                        ", signs in with the directory's password"
                    } else {
                        ""
                    }
                );
                Ok(0)
            }
            UserCommand::List => {
                for a in store.accounts().await? {
                    let mut notes = Vec::new();
                    if let Some(r) = a.pending_role {
                        notes.push(format!("role change to {r} pending"));
                    }
                    if a.pending_password {
                        notes.push("password reset pending".to_owned());
                    }
                    if a.locked_at(baomi_store::now_ms()) {
                        notes.push("locked".to_owned());
                    }
                    if a.totp_enabled {
                        notes.push("TOTP".to_owned());
                    }
                    if a.auth == baomi_store::accounts::Auth::Ldap {
                        notes.push("LDAP".to_owned());
                    }
                    println!(
                        "{:<20} {:<9} {:<9} {:<16} {}{}",
                        a.name,
                        a.role.as_str(),
                        a.status.as_str(),
                        a.department.as_deref().unwrap_or("-"),
                        a.display_name.as_deref().unwrap_or(""),
                        if notes.is_empty() {
                            String::new()
                        } else {
                            format!("  ({})", notes.join(", "))
                        }
                    );
                }
                Ok(0)
            }
            UserCommand::Disable { name } => {
                store.disable_account(&name, &console_actor()).await?;
                println!("account {name} disabled; its sessions and tokens ended");
                Ok(0)
            }
            UserCommand::Passwd {
                name,
                password_stdin: _,
            } => {
                let password = read_password()?;
                store
                    .set_password(&name, &password, &console_actor())
                    .await?;
                println!("password of {name} set");
                Ok(0)
            }
            UserCommand::Auth {
                name,
                auth,
                password_stdin,
            } => {
                use baomi_store::accounts::Auth;
                let auth = Auth::parse(&auth).ok_or_else(|| anyhow::anyhow!("auth {auth}"))?;
                let password = match (auth, password_stdin) {
                    (Auth::Local, true) => Some(read_password()?),
                    (Auth::Local, false) => anyhow::bail!(
                        "a local account needs a password: baomi user auth {name} local \
                         --password-stdin"
                    ),
                    (Auth::Ldap, true) => {
                        anyhow::bail!("an LDAP account has no password here: no --password-stdin")
                    }
                    (Auth::Ldap, false) => None,
                };
                store
                    .set_auth(&name, auth, password.as_deref(), &console_actor())
                    .await?;
                match auth {
                    Auth::Ldap => println!(
                        "{name} signs in with the directory's password (LDAP bind, \
                         [directory.ldap]); the local password is gone"
                    ),
                    Auth::Local => println!("{name} signs in with the password just set"),
                }
                Ok(0)
            }
        }
    })
}
