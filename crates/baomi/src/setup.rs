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
