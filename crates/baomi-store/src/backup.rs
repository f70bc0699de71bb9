//! Backup and restore of a whole store: the database as a consistent snapshot taken while
//! the server runs (SQLite `VACUUM INTO`; PostgreSQL `pg_dump`), then the evidence vault
//! (content-addressed files that never change, so copying them after the snapshot gives
//! every file the snapshot refers to), the evidence key, and the unit's other files in the
//! data directory (policy, dictionaries, scan reports not yet imported). `BACKUP.json` is
//! written last: a directory without it is not a complete backup.
//!
//! A restore goes into an empty data directory (and, for PostgreSQL, an empty database);
//! opening the store afterwards runs the migrations, so a backup of an older release is
//! upgraded in place. Every backup is in the audit chain, which is also how `baomi serve`
//! knows whether the evidence key has ever been backed up.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{Backend, Result, Store, StoreError, now_ms};

/// What `BACKUP.json` says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupManifest {
    pub format: String,
    pub created_ms: i64,
    /// The Baomi release that made it.
    pub version: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// The database's file in the backup: `baomi.db` or `database.pgdump`.
    pub database: String,
    /// The newest schema migration applied when the backup was made.
    pub schema_version: i64,
    pub evidence_files: u64,
    pub evidence_bytes: u64,
    pub other_files: u64,
}

const FORMAT: &str = "baomi-backup 1";
const MANIFEST: &str = "BACKUP.json";
const SQLITE_FILE: &str = "baomi.db";
const PG_FILE: &str = "database.pgdump";
const KEY_FILE: &str = "evidence.key";

/// The data directory's own database files, which are never copied as files.
fn is_database_file(name: &str) -> bool {
    name == SQLITE_FILE || name.starts_with("baomi.db-")
}

fn refuse(msg: impl Into<String>) -> StoreError {
    StoreError::Invalid(msg.into())
}

/// An empty directory (made when absent), private to the service account.
fn empty_dir(dir: &Path, what: &str) -> Result<()> {
    if dir.exists() {
        if fs::read_dir(dir)?.next().is_some() {
            return Err(refuse(format!(
                "{what} {} is not empty; give a new or empty directory",
                dir.display()
            )));
        }
    } else {
        fs::create_dir_all(dir)?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Copy the regular files under `from` to `to` (keeping the tree), skipping what `skip`
/// says; returns (files, bytes).
fn copy_tree(from: &Path, to: &Path, skip: &dyn Fn(&Path) -> bool) -> Result<(u64, u64)> {
    let mut files = 0;
    let mut bytes = 0;
    let Ok(entries) = fs::read_dir(from) else {
        return Ok((0, 0));
    };
    for e in entries {
        let e = e?;
        let path = e.path();
        if skip(&path) {
            continue;
        }
        let kind = e.file_type()?;
        let target = to.join(e.file_name());
        if kind.is_dir() {
            fs::create_dir_all(&target)?;
            let (f, b) = copy_tree(&path, &target, skip)?;
            files += f;
            bytes += b;
        } else if kind.is_file() {
            bytes += fs::copy(&path, &target)?;
            files += 1;
        }
    }
    Ok((files, bytes))
}

/// `pg_dump`/`pg_restore`: from `$PATH`, else Debian's newest `/usr/lib/postgresql/*/bin`.
fn pg_tool(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    if on_path {
        return PathBuf::from(name);
    }
    let mut found: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path().join("bin").join(name)))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| PathBuf::from(name))
}

fn run_tool(mut cmd: Command, what: &str) -> Result<()> {
    let out = cmd.output().map_err(|e| {
        refuse(format!(
            "{what} could not be started ({e}); install postgresql-client"
        ))
    })?;
    if !out.status.success() {
        return Err(refuse(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

impl Store {
    /// The newest migration applied to this database.
    pub async fn schema_version(&self) -> Result<i64> {
        use sqlx::Row;
        let row = sqlx::query("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<Option<i64>, _>(0)?.unwrap_or(0))
    }

    /// Back the store up into `dest` (new or empty), while it is in use. `database_url`
    /// is the PostgreSQL URL the store was opened with (for `pg_dump`).
    pub async fn backup(
        &self,
        dest: &Path,
        database_url: Option<&str>,
        actor: &str,
    ) -> Result<BackupManifest> {
        empty_dir(dest, "the backup directory")?;
        let data = self.data_dir().to_owned();
        let vault = self.evidence_root().to_owned();
        if dest.canonicalize()?.starts_with(data.canonicalize()?) {
            return Err(refuse(
                "the backup directory must be outside the data directory",
            ));
        }
        // 1. The database, consistent as of now.
        let database = match self.backend() {
            Backend::Sqlite => {
                let file = dest.join(SQLITE_FILE);
                sqlx::query("VACUUM INTO $1")
                    .bind(file.to_string_lossy().into_owned())
                    .execute(self.pool())
                    .await?;
                SQLITE_FILE
            }
            Backend::Postgres => {
                let url = database_url.ok_or_else(|| refuse("no PostgreSQL URL"))?;
                let mut cmd = Command::new(pg_tool("pg_dump"));
                cmd.args(["--format=custom", "--no-owner", "--file"])
                    .arg(dest.join(PG_FILE))
                    .arg(url);
                tokio::task::spawn_blocking(move || run_tool(cmd, "pg_dump"))
                    .await
                    .map_err(|e| refuse(e.to_string()))??;
                PG_FILE
            }
        };
        // 2. Everything else, after the snapshot: the vault only grows, so every file the
        //    snapshot refers to is there.
        let (evidence_files, evidence_bytes, other_files) = {
            let dest = dest.to_owned();
            tokio::task::spawn_blocking(move || -> Result<(u64, u64, u64)> {
                fs::create_dir_all(dest.join("evidence"))?;
                let (ef, eb) = copy_tree(&vault.join("evidence"), &dest.join("evidence"), &|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(".tmp"))
                })?;
                let (mut of, _) = copy_tree(&data, &dest, &|p| {
                    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    p.parent() == Some(data.as_path())
                        && (name == "evidence" || is_database_file(name))
                })?;
                // A vault on a shared directory (`[gateway] evidence_dir`): its keys come
                // into the backup beside the data directory's files, where restore puts them.
                if vault != data {
                    fs::copy(vault.join(KEY_FILE), dest.join(KEY_FILE))?;
                    let retired = vault.join(crate::evidence::RETIRED_KEYS);
                    if retired.is_dir() {
                        let to = dest.join(crate::evidence::RETIRED_KEYS);
                        fs::create_dir_all(&to)?;
                        of += copy_tree(&retired, &to, &|_| false)?.0;
                    }
                    of += 1;
                }
                Ok((ef, eb, of))
            })
            .await
            .map_err(|e| refuse(e.to_string()))??
        };
        if !dest.join(KEY_FILE).is_file() {
            return Err(refuse(
                "the evidence key was not copied; the backup is incomplete",
            ));
        }
        let manifest = BackupManifest {
            format: FORMAT.into(),
            created_ms: now_ms(),
            version: env!("CARGO_PKG_VERSION").into(),
            backend: match self.backend() {
                Backend::Sqlite => "sqlite",
                Backend::Postgres => "postgres",
            }
            .into(),
            database: database.into(),
            schema_version: self.schema_version().await?,
            evidence_files,
            evidence_bytes,
            other_files,
        };
        let text = serde_json::to_string_pretty(&manifest).map_err(|e| refuse(e.to_string()))?;
        fs::write(dest.join(MANIFEST), text)?;
        self.audit(
            actor,
            "store.backup",
            &dest.display().to_string(),
            json!({"backend": manifest.backend, "schema_version": manifest.schema_version,
                   "evidence_files": evidence_files, "evidence_bytes": evidence_bytes,
                   "key": true}),
        )
        .await?;
        Ok(manifest)
    }

    /// When the evidence key was last backed up (`baomi backup`), if ever.
    pub async fn last_backup_ms(&self) -> Result<Option<i64>> {
        let page = self
            .audit_search(&crate::AuditFilter {
                action: Some("store.backup".into()),
                limit: Some(1),
                ..Default::default()
            })
            .await?;
        Ok(page.entries.first().map(|e| e.ts_ms))
    }
}

/// Read a backup's manifest: a directory without one is not a (complete) backup.
pub fn read_manifest(src: &Path) -> Result<BackupManifest> {
    let text = fs::read_to_string(src.join(MANIFEST)).map_err(|_| {
        refuse(format!(
            "{} has no {MANIFEST}: not a complete Baomi backup",
            src.display()
        ))
    })?;
    let m: BackupManifest =
        serde_json::from_str(&text).map_err(|e| refuse(format!("{MANIFEST} is damaged: {e}")))?;
    if m.format != FORMAT {
        return Err(refuse(format!(
            "{MANIFEST} is of format {:?}; this Baomi restores {FORMAT:?}",
            m.format
        )));
    }
    Ok(m)
}

/// Restore the backup in `src` into `data_dir` (new or empty) and, for a PostgreSQL
/// backup, into the empty database at `database_url`. Open the store afterwards to
/// upgrade its schema and check it.
pub async fn restore(
    src: &Path,
    data_dir: &Path,
    database_url: Option<&str>,
) -> Result<BackupManifest> {
    let m = read_manifest(src)?;
    match (m.backend.as_str(), database_url) {
        ("sqlite", Some(_)) => {
            return Err(refuse(
                "this is a SQLite backup, but [database] url names PostgreSQL; restore it with the embedded database (no url)",
            ));
        }
        ("postgres", None) => {
            return Err(refuse(
                "this is a PostgreSQL backup: set [database] url to an empty PostgreSQL database to restore into",
            ));
        }
        _ => {}
    }
    empty_dir(data_dir, "the data directory")?;
    let (src_dir, data) = (src.to_owned(), data_dir.to_owned());
    tokio::task::spawn_blocking(move || -> Result<()> {
        copy_tree(&src_dir, &data, &|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            p.parent() == Some(src_dir.as_path()) && (name == MANIFEST || name == PG_FILE)
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(data.join(KEY_FILE), fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    })
    .await
    .map_err(|e| refuse(e.to_string()))??;
    if let Some(url) = database_url {
        let mut cmd = Command::new(pg_tool("pg_restore"));
        cmd.args(["--no-owner", "--exit-on-error", "--dbname"])
            .arg(url)
            .arg(src.join(PG_FILE));
        tokio::task::spawn_blocking(move || run_tool(cmd, "pg_restore (into an empty database)"))
            .await
            .map_err(|e| refuse(e.to_string()))??;
    }
    Ok(m)
}
