//! `baomi store check`: the records and the evidence vault agree.
//!
//! Evidence is written to the vault before the record that names it is committed (a
//! verdict's incident, a self-inspection's uploaded object, a review's text and files), so a
//! process killed in between leaves a file no record names; a kill during the write itself
//! leaves a partial temporary file; a retention purge killed after its commit leaves files
//! it meant to delete. None of that loses a record. What must never happen is the other
//! direction: a record naming evidence the vault does not have.
//!
//! The check lists both sides and compares. Unreferenced files younger than a grace period
//! are counted but left alone: on a running server they may belong to a record about to be
//! committed. `repair` moves the older ones to `evidence.orphans/` (still encrypted; an
//! officer can look at them or delete the directory) and deletes stale partial files, and
//! records what it did in the audit chain. A missing file cannot be repaired; it is
//! reported, and the command fails.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde_json::json;
use sqlx::Row;

use crate::evidence::{EvidenceVault, VaultEntry};
use crate::{Result, Store};

/// What `baomi store check` found (and, with repair, did).
#[derive(Debug, Default)]
pub struct StoreCheck {
    /// Distinct evidence hashes the records name.
    pub referenced: u64,
    /// Evidence files in the vault.
    pub files: u64,
    /// `"incident BM-…: evidence 3fa2… is not in the vault"`: a record without its evidence.
    pub missing: Vec<String>,
    /// Referenced files that fail decryption or authentication (only with `verify`).
    pub unreadable: Vec<String>,
    /// Files no record names, older than the grace period.
    pub orphans: Vec<String>,
    /// Unreferenced files younger than the grace period, left alone.
    pub recent_unreferenced: u64,
    /// Temporary files of interrupted writes, older than the grace period.
    pub partial: Vec<PathBuf>,
    /// Anything else in the vault directory (reported, never touched).
    pub stray: Vec<PathBuf>,
    /// `repair` moved the orphans and deleted the partial files.
    pub repaired: bool,
}

impl StoreCheck {
    /// No record lacks its evidence and nothing is left to repair.
    pub fn ok(&self) -> bool {
        self.missing.is_empty()
            && self.unreadable.is_empty()
            && (self.repaired || (self.orphans.is_empty() && self.partial.is_empty()))
    }
}

/// How the check runs.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Move orphans aside and delete partial files (audited).
    pub repair: bool,
    /// Decrypt every referenced file (reads the whole vault).
    pub verify: bool,
    /// Unreferenced files younger than this are left alone.
    pub grace: Duration,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            repair: false,
            verify: false,
            grace: Duration::from_secs(600),
        }
    }
}

/// The directory, beside the vault, that repaired orphans are moved to.
pub const ORPHANS_DIR: &str = "evidence.orphans";

impl Store {
    /// Every evidence hash the records name, with who names it (first few).
    pub async fn evidence_references(&self) -> Result<BTreeMap<String, Vec<String>>> {
        // (query, label prefix): each row is (hash, what names it).
        let sources = [
            (
                "SELECT evidence, number FROM incidents WHERE evidence IS NOT NULL",
                "incident",
            ),
            (
                "SELECT evidence, blake3 FROM scan_evidence",
                "self-inspection object",
            ),
            (
                "SELECT text_blake3, CAST(review_id AS TEXT) || ' v' || CAST(version AS TEXT) \
                 FROM review_versions WHERE text_blake3 IS NOT NULL",
                "review text",
            ),
            (
                "SELECT blake3, CAST(review_id AS TEXT) || ' v' || CAST(version AS TEXT) || ' ' || name \
                 FROM review_files",
                "review file",
            ),
            (
                "SELECT scan_blake3, CAST(id AS TEXT) || ' ' || person FROM commitment_signatures \
                 WHERE scan_blake3 IS NOT NULL",
                "commitment scan",
            ),
        ];
        let mut refs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (sql, label) in sources {
            let rows = sqlx::query(sql).fetch_all(self.pool()).await?;
            for r in rows {
                let hash: String = r.try_get(0)?;
                let who: String = r.try_get(1)?;
                let names = refs.entry(hash).or_default();
                if names.len() < 3 {
                    names.push(format!("{label} {who}"));
                }
            }
        }
        Ok(refs)
    }

    /// Compare the records with `vault` (see the module documentation).
    pub async fn check(
        &self,
        vault: &EvidenceVault,
        options: &CheckOptions,
        actor: &str,
    ) -> Result<StoreCheck> {
        let refs = self.evidence_references().await?;
        let mut report = StoreCheck {
            referenced: refs.len() as u64,
            ..StoreCheck::default()
        };
        let now = SystemTime::now();
        let old = |modified: Option<SystemTime>| {
            modified
                .and_then(|m| now.duration_since(m).ok())
                .is_some_and(|age| age >= options.grace)
        };
        let mut present = HashSet::new();
        for entry in vault.entries()? {
            match entry {
                VaultEntry::Evidence { hash, modified } => {
                    report.files += 1;
                    if !refs.contains_key(&hash) {
                        if old(modified) {
                            report.orphans.push(hash.clone());
                        } else {
                            report.recent_unreferenced += 1;
                        }
                    }
                    present.insert(hash);
                }
                VaultEntry::Partial { path, modified } => {
                    if old(modified) {
                        report.partial.push(path);
                    }
                }
                VaultEntry::Other { path } => report.stray.push(path),
            }
        }
        for (hash, names) in &refs {
            if !present.contains(hash) {
                report.missing.push(format!(
                    "{}: evidence {hash} is not in the vault",
                    names.join(", ")
                ));
            } else if options.verify
                && let Err(e) = vault.get(hash, &mut std::io::sink())
            {
                report
                    .unreadable
                    .push(format!("{}: evidence {hash}: {e}", names.join(", ")));
            }
        }
        if options.repair && (!report.orphans.is_empty() || !report.partial.is_empty()) {
            let aside = self.data_dir().join(ORPHANS_DIR);
            for hash in &report.orphans {
                vault.move_to(hash, &aside)?;
            }
            for path in &report.partial {
                match std::fs::remove_file(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
            self.audit(
                actor,
                "store.repair",
                "evidence",
                json!({
                    "orphans_moved": report.orphans.len(),
                    "partial_deleted": report.partial.len(),
                    "to": ORPHANS_DIR,
                }),
            )
            .await?;
            report.repaired = true;
        }
        Ok(report)
    }
}
