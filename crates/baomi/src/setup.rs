//! Building an engine from the data directory: the policy, the term lists and (once
//! registered) the fingerprint registry. Shared by `scan` and `serve`, so both doors judge
//! alike.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use baomi_core::fingerprint::FingerprintIndex;
use baomi_core::policy::Policy;
use baomi_engine::{Engine, EngineConfig, Limits};
use baomi_extract::PasswordBank;

pub fn load_policy(path: &Path) -> Result<Policy> {
    let text =
        fs::read_to_string(path).with_context(|| format!("reading policy {}", path.display()))?;
    Policy::from_toml(&text).map_err(|e| anyhow::anyhow!("policy {}: {e}", path.display()))
}

/// `policy` if given, else DATA_DIR/policy.toml if present, else the shipped default.
pub fn policy(explicit: Option<&Path>, data_dir: &Path) -> Result<Policy> {
    match explicit {
        Some(p) => load_policy(p),
        None => {
            let p = data_dir.join("policy.toml");
            if p.is_file() {
                load_policy(&p)
            } else {
                Ok(Policy::default())
            }
        }
    }
}

/// The lists named on the command line, then DATA_DIR/dictionaries/*.txt, as (name, text).
pub fn dictionaries(extra: &[PathBuf], data_dir: &Path) -> Result<Vec<(String, String)>> {
    let mut files = extra.to_vec();
    if let Ok(entries) = fs::read_dir(data_dir.join("dictionaries")) {
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        found.sort();
        files.extend(found);
    }
    let mut out = Vec::new();
    for f in &files {
        let text =
            fs::read_to_string(f).with_context(|| format!("reading dictionary {}", f.display()))?;
        let name = f
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push((name, text));
    }
    Ok(out)
}

/// The password bank: `explicit` (`--passwords`, `scan.passwords`) if given, else
/// DATA_DIR/passwords.txt if present, else none. Only the count is ever printed.
pub fn passwords(explicit: Option<&Path>, data_dir: &Path) -> Result<Arc<PasswordBank>> {
    let default = data_dir.join("passwords.txt");
    let path = match explicit {
        Some(p) => p,
        None if default.is_file() => &default,
        None => return Ok(Arc::new(PasswordBank::empty())),
    };
    let bank = PasswordBank::load(path)
        .with_context(|| format!("reading password bank {}", path.display()))?;
    warn_if_world_readable(path);
    Ok(Arc::new(bank))
}

pub fn engine(
    policy: Policy,
    dictionaries: Vec<(String, String)>,
    limits: Limits,
    fingerprints: Option<Arc<FingerprintIndex>>,
) -> Result<Engine> {
    Ok(Engine::new(EngineConfig {
        policy,
        dictionaries,
        limits,
        fingerprints,
    })?)
}

/// The files that are an import path into the store (the store holds what nodes run on):
/// `explicit` (`--policy FILE`) is stored as a new version when its text differs from the
/// active one; DATA_DIR/policy.toml, and each DATA_DIR/dictionaries/*.txt, when the store
/// has none yet or the file was modified after the stored version was made (an edit made
/// in the console or with `baomi policy set` later than the file is kept).
pub async fn import_files(
    store: &baomi_store::Store,
    explicit: Option<&Path>,
    data_dir: &Path,
    internal_domains: &[String],
) -> Result<()> {
    let current = store.policy_current().await?;
    let default = data_dir.join("policy.toml");
    let candidate = match explicit {
        Some(p) => Some(p.to_owned()),
        None if default.is_file() => {
            let newer = match &current {
                None => true,
                Some(c) => modified_ms(&default).is_some_and(|m| m > c.meta.created_ms),
            };
            newer.then(|| default.clone())
        }
        None => None,
    };
    if let Some(path) = candidate {
        let text = fs::read_to_string(&path)
            .with_context(|| format!("reading policy {}", path.display()))?;
        baomi_server::live::parse_policy(&text, internal_domains)
            .map_err(|e| anyhow::anyhow!("policy {}: {e}", path.display()))?;
        let set = store
            .policy_set(&text, &format!("file:{}", path.display()), None)
            .await?;
        if !set.unchanged {
            eprintln!(
                "baomi: policy {} stored as version {}",
                path.display(),
                set.version
            );
        }
    }
    let stored: std::collections::HashMap<String, i64> = store
        .dictionary_list()
        .await?
        .into_iter()
        .map(|d| (d.name, d.updated_ms))
        .collect();
    for (name, text) in dictionaries(&[], data_dir)? {
        let path = data_dir.join("dictionaries").join(format!("{name}.txt"));
        let newer = match stored.get(&name) {
            None => true,
            Some(&ms) => modified_ms(&path).is_some_and(|m| m > ms),
        };
        if newer {
            baomi_server::live::check_dictionary(&name, &text)?;
            if store
                .dictionary_put(&name, &text, &format!("file:{}", path.display()))
                .await?
            {
                eprintln!("baomi: dictionary {} stored as {name:?}", path.display());
            }
        }
    }
    Ok(())
}

/// The password bank file as an import path into the store: `explicit` (`scan.passwords`)
/// or DATA_DIR/passwords.txt, stored (sealed with the evidence key) when the store has no
/// bank yet or the file was modified after the stored one. Only the count is printed.
pub async fn import_passwords(
    store: &baomi_store::Store,
    vault: &baomi_store::EvidenceVault,
    explicit: Option<&Path>,
    data_dir: &Path,
) -> Result<()> {
    let default = data_dir.join("passwords.txt");
    let path = match explicit {
        Some(p) => p.to_owned(),
        None if default.is_file() => default,
        None => return Ok(()),
    };
    let newer = match store.password_bank_meta().await? {
        None => true,
        Some(m) => modified_ms(&path).is_some_and(|ms| ms > m.updated_ms),
    };
    if !newer {
        return Ok(());
    }
    let text = read_password_file(&path)?;
    let entries = PasswordBank::parse(&text).len() as i64;
    if store
        .password_bank_put(vault, &text, entries, &format!("file:{}", path.display()))
        .await?
    {
        eprintln!(
            "baomi: password bank {} stored ({entries} passwords, sealed with the evidence key)",
            path.display()
        );
    }
    Ok(())
}

/// The directory file (`directory.file`) as an import path into the store: stored when the
/// store has no directory yet or the file was modified after the stored one (a directory
/// synced from LDAP since is newer and stays).
pub async fn import_directory(store: &baomi_store::Store, file: Option<&Path>) -> Result<()> {
    let Some(path) = file else { return Ok(()) };
    let newer = match store.directory_meta().await? {
        None => true,
        Some(m) => modified_ms(path).is_some_and(|ms| ms > m.updated_ms),
    };
    if newer {
        store_directory_file(store, path, &format!("file:{}", path.display())).await?;
    }
    Ok(())
}

/// Read a directory file (TOML or CSV) and store it; `true` when it changed the store.
pub async fn store_directory_file(
    store: &baomi_store::Store,
    path: &Path,
    actor: &str,
) -> Result<bool> {
    let dir = baomi_server::directory::Directory::load(path)?;
    let (people, departments) = (dir.len() as i64, dir.departments().len() as i64);
    let changed = store
        .directory_put(
            &dir.to_snapshot(),
            people,
            departments,
            &format!("file:{}", path.display()),
            actor,
        )
        .await?;
    if changed {
        eprintln!(
            "baomi: directory {} stored ({people} people, {departments} departments)",
            path.display()
        );
    }
    Ok(changed)
}

/// A password bank file's text, with the warning [`passwords`] gives for a world-readable one.
pub fn read_password_file(path: &Path) -> Result<String> {
    warn_if_world_readable(path);
    fs::read_to_string(path).with_context(|| format!("reading password bank {}", path.display()))
}

fn warn_if_world_readable(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o004 != 0
        {
            eprintln!(
                "baomi: warning: the password bank {} is readable by every user (chmod 600 it)",
                path.display()
            );
        }
    }
}

fn modified_ms(path: &Path) -> Option<i64> {
    let m = fs::metadata(path).ok()?.modified().ok()?;
    Some(m.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as i64)
}

/// Term lists as (name, text).
pub type TermLists = Vec<(String, String)>;

/// What the store holds for a command that judges files without a server (`baomi scan`).
#[derive(Default)]
pub struct StoredState {
    /// The active policy's text (none stored: `None`).
    pub policy: Option<String>,
    pub dictionaries: TermLists,
    /// The password bank, opened with the evidence key.
    pub passwords: Option<Arc<PasswordBank>>,
}

/// The store's state, so a scan decides as the gateway does. Nothing when there is no
/// store yet. `evidence_dir`: where the evidence key is (`[gateway] evidence_dir`).
pub fn stored_state(
    data_dir: &Path,
    evidence_dir: Option<&Path>,
    url: Option<&str>,
) -> Result<StoredState> {
    if url.is_none() && !data_dir.join("baomi.db").exists() {
        return Ok(StoredState::default());
    }
    crate::admin::runtime()?.block_on(async {
        let store = baomi_store::Store::open(data_dir, url)
            .await?
            .with_evidence_root(evidence_dir);
        let policy = store.policy_current().await?.map(|p| p.toml);
        let dictionaries = store
            .dictionaries_all()
            .await?
            .into_iter()
            .map(|d| (d.meta.name, d.terms))
            .collect();
        let passwords = stored_passwords(&store).await?;
        store.close().await;
        Ok(StoredState {
            policy,
            dictionaries,
            passwords,
        })
    })
}

/// The password bank sealed in the store, if one is stored.
pub async fn stored_passwords(store: &baomi_store::Store) -> Result<Option<Arc<PasswordBank>>> {
    // No bank, no key needed: do not create an evidence key just to look.
    if store.password_bank_meta().await?.is_none() {
        return Ok(None);
    }
    let vault = baomi_store::EvidenceVault::open(store.evidence_root())?;
    Ok(store
        .password_bank_text(&vault)
        .await?
        .map(|t| Arc::new(PasswordBank::parse(&t))))
}

/// A scan's password bank: `explicit` (`--passwords`, `scan.passwords`), else the store's,
/// else DATA_DIR/passwords.txt, else none.
pub fn scan_passwords(
    explicit: Option<&Path>,
    stored: Option<Arc<PasswordBank>>,
    data_dir: &Path,
) -> Result<Arc<PasswordBank>> {
    match (explicit, stored) {
        (None, Some(bank)) => Ok(bank),
        _ => passwords(explicit, data_dir),
    }
}

/// A scan's policy: `--policy FILE`, else the store's active version, else
/// DATA_DIR/policy.toml, else the shipped default.
pub fn scan_policy(
    explicit: Option<&Path>,
    stored: Option<&str>,
    data_dir: &Path,
) -> Result<Policy> {
    match (explicit, stored) {
        (None, Some(text)) => {
            Policy::from_toml(text).map_err(|e| anyhow::anyhow!("the stored policy: {e}"))
        }
        _ => policy(explicit, data_dir),
    }
}

/// A scan's term lists: `--dict` files, the store's lists, then DATA_DIR/dictionaries/*.txt
/// not stored under the same name.
pub fn scan_dictionaries(
    extra: &[PathBuf],
    stored: Vec<(String, String)>,
    data_dir: &Path,
) -> Result<Vec<(String, String)>> {
    let mut out = dictionaries(extra, data_dir)?;
    out.retain(|(name, _)| !stored.iter().any(|(n, _)| n == name));
    out.extend(stored);
    Ok(out)
}
