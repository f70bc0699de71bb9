//! Baomi's records: what every door's verdict leaves behind, and what officers registered.
//!
//! One [`Store`] over either backend: SQLite in the data directory (the embedded default, no
//! server to install) or PostgreSQL when a `postgres://` URL is configured (several gateway
//! nodes sharing one database). Both run the same SQL through sqlx's `Any` driver; only the
//! migrations differ (`migrations/sqlite`, `migrations/postgres`), and times are integer
//! milliseconds so bucketing by day is the same arithmetic on both.
//!
//! - [`incidents`]: one row per verdict worth recording, with masked findings, the person and
//!   department, and the disposition an officer gives it;
//! - [`evidence`]: the object itself, content-addressed and encrypted at rest on disk;
//! - [`audit`]: an append-only hash chain over every verdict and every change;
//! - [`accounts`]: the console's accounts (三员分立), sessions and the two-person rule;
//! - [`agent_events`]: events delivered by `baomi agent`, recorded once by their id;
//! - [`tokens`]: API tokens, stored only as hashes, bound to an account or inspection-only;
//! - [`ledger`]: the carrier ledger (台账) and each carrier's change of hands;
//! - [`chat_groups`]: the work chat-group registry (工作群): groups, members, checks;
//! - [`commitments`]: secrecy commitments (保密承诺书) — versioned templates and signatures;
//! - [`records`]: self-inspection runs and campaigns, clue reports (frozen once issued);
//! - [`quizzes`]: knowledge tests (保密知识测试): question banks, quizzes, attempts;
//! - [`check`]: the records and the evidence vault agree (`baomi store check`);
//! - [`scan_jobs`]: self-inspection spread over workers — jobs, batches claimed under
//!   leases, one result per file, the index for incremental re-scans;
//! - [`state`]: what nodes run on — the policy's versions, the term lists, the version
//!   counters nodes reload by, and the nodes' heartbeats;
//! - [`registry`]: registered secret documents (fingerprints) and the boilerplate allow set,
//!   kept as opaque bytes that `baomi-core` serialises.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

pub mod accounts;
pub mod agent_events;
pub mod audit;
pub mod backup;
pub mod casework;
pub mod chat_groups;
pub mod check;
pub mod commitments;
pub mod directory;
pub mod evidence;
pub mod incidents;
pub mod ledger;
pub mod password_bank;
pub mod print_holds;
pub mod quizzes;
pub mod records;
pub mod registry;
pub mod reviews;
pub mod scan_jobs;
pub mod state;
#[doc(hidden)]
pub mod testing;
pub mod tokens;

pub use accounts::{Account, AccountStatus, Login, NewAccount, Role};
pub use agent_events::{AgentEventOutcome, AgentEventRecord, NewAgentEvent};
pub use audit::{AuditEntry, AuditFilter, AuditPage, AuditReport};
pub use backup::BackupManifest;
pub use casework::{Comment, SavedView};
pub use chat_groups::{
    ChatCheck, ChatGroup, ChatGroupFilter, ChatGroupUpdate, ChatMember, ChatPlatform, CheckRecord,
    DepartmentGroups, GroupCheck, KnownPerson, MemberImport, NewChatGroup, NewMember,
};
pub use check::{CheckOptions, StoreCheck};
pub use commitments::{
    CommitmentKind, CommitmentTemplate, CommitmentVersion, NewSignature, SignMethod, Signature,
    SignatureScan,
};
pub use directory::DirectoryMeta;
pub use evidence::{EvidenceRef, EvidenceVault};
pub use incidents::{Disposition, Incident, IncidentFilter, IncidentPage, NewIncident, Stats};
pub use ledger::{Carrier, CarrierEvent, CarrierKind, CarrierState, NewCarrier};
pub use password_bank::PasswordBankMeta;
pub use print_holds::{HeldPrint, PrintDecision, PrintDecisionKind};
pub use quizzes::{
    Attempt, AttemptQuestion, AttemptState, NewQuestion, NewQuiz, Question, QuestionKind, Quiz,
    QuizBank, Taker,
};
pub use records::{
    Campaign, CampaignEntry, ClueCategory, ClueFields, ClueReport, ClueState, ImportOutcome,
    NewCampaign, NewRunFile, NewScanRun, RunFileRow, ScanIncidentFile, ScanRun,
};
pub use registry::{RegistryEntry, RegistryMeta};
pub use reviews::{
    ApprovedMatch, Decision, NewReviewVersion, Review, ReviewDetail, ReviewFile, ReviewFilter,
    ReviewState, ReviewStep, ReviewVersion, normalised_text,
};
pub use scan_jobs::{
    BatchDone, ClaimedBatch, FileOutcome, IndexedFile, NewScanJob, QueuedFile, ScanBatchRow,
    ScanFileResult, ScanJobProgress, ScanResultRow, WALK_ALIVE_MS, WALK_LOST, WALK_SIGNAL,
    WALK_STALE_MS,
};
pub use state::{
    DictionaryMeta, NodeBeat, NodeRow, PolicySet, PolicyVersion, PolicyVersionMeta, StateVersions,
    StoredDictionary,
};
pub use tokens::{TokenInfo, TokenScope};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("evidence: {0}")]
    Evidence(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// The thing exists but is not in a state that allows the change (an issued record).
    #[error("{0}")]
    Conflict(String),
    /// The account may not do this (a rule of a workflow, beyond the role table): 403.
    #[error("{0}")]
    Refused(String),
}

pub type Result<T> = std::result::Result<T, StoreError>;

impl StoreError {
    /// The disk under the data directory (or the database's) is full: the write can
    /// succeed again once space returns, without a restart. SQLite says `SQLITE_FULL`
    /// (code 13), PostgreSQL `disk_full` (53100), the file system `ENOSPC`.
    pub fn is_storage_full(&self) -> bool {
        match self {
            StoreError::Io(e) => io_is_full(e),
            StoreError::Db(sqlx::Error::Io(e)) => io_is_full(e),
            StoreError::Db(sqlx::Error::Database(d)) => {
                matches!(d.code().as_deref(), Some("13") | Some("53100"))
                    || d.message().contains("No space left on device")
            }
            _ => false,
        }
    }
}

fn io_is_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The records of one installation.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    data_dir: PathBuf,
    /// Where the evidence vault (its files and keys) lives: the data directory unless
    /// `[gateway] evidence_dir` puts it on a directory the nodes share.
    evidence_root: PathBuf,
    /// Serialises audit appends within this process; PostgreSQL nodes also take an advisory
    /// lock, so two nodes never both extend the chain from the same predecessor.
    audit_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// PostgreSQL's URL, for the connection that listens for changes of state.
    pg_url: Option<std::sync::Arc<str>>,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Open (and create or migrate) the store: `database_url` when given (`postgres://…` or
    /// `sqlite://…`), else `DATA_DIR/baomi.db`.
    pub async fn open(data_dir: &Path, database_url: Option<&str>) -> Result<Store> {
        install_default_drivers();
        if !data_dir.exists() {
            std::fs::create_dir_all(data_dir)?;
            // Incidents, evidence and its key live here: only the service account reads it.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
            }
        }
        let url = match database_url {
            Some(u) => u.to_owned(),
            None => format!("sqlite://{}?mode=rwc", data_dir.join("baomi.db").display()),
        };
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            return Err(StoreError::Invalid(format!(
                "database.url must start with postgres:// or sqlite:// (got {})",
                url.split(':').next().unwrap_or("")
            )));
        };
        let mut options = AnyPoolOptions::new().max_connections(match backend {
            // One writer at a time is all SQLite does anyway; a few readers beside it.
            Backend::Sqlite => 4,
            Backend::Postgres => 16,
        });
        if backend == Backend::Sqlite {
            options = options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;")
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = options.connect(&url).await?;
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        Ok(Store {
            pool,
            backend,
            data_dir: data_dir.to_owned(),
            evidence_root: data_dir.to_owned(),
            audit_lock: Default::default(),
            pg_url: (backend == Backend::Postgres).then(|| url.as_str().into()),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The directory holding the evidence vault: `evidence/`, `evidence.key` and the retired
    /// keys ([`EvidenceVault::open`] takes it).
    pub fn evidence_root(&self) -> &Path {
        &self.evidence_root
    }

    /// Keep the evidence vault in `dir` instead of the data directory (several nodes on one
    /// PostgreSQL share it there); `None` keeps the data directory.
    pub fn with_evidence_root(mut self, dir: Option<&Path>) -> Store {
        if let Some(d) = dir {
            self.evidence_root = d.to_owned();
        }
        self
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The civil date (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's
/// algorithm), so incident numbers and day buckets need no date crate.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Days since 1970-01-01 of a civil date (the inverse of [`civil_from_days`]).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The first millisecond of a `YYYY-MM-DD` day in Beijing time.
pub fn day_start_ms(day: &str) -> Option<i64> {
    let mut parts = day.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400_000 - LOCAL_OFFSET_MS)
}

/// Offices keep Beijing time; day buckets and incident numbers follow it.
pub const LOCAL_OFFSET_MS: i64 = 8 * 3_600_000;

/// `YYYY-MM-DD` of a timestamp in Beijing time.
pub fn local_date(ms: i64) -> String {
    let (y, m, d) = civil_from_days((ms + LOCAL_OFFSET_MS).div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_413), (2025, 11, 21));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        // 2026-11-21 00:30 in Beijing is still the 20th in UTC.
        assert_eq!(local_date(1_795_192_200_000), "2026-11-21");
    }
}
