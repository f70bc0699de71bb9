//! The console's accounts (三员分立), their sessions and the two-person rule.
//!
//! An account holds exactly one role — one of the three administrative ones (system
//! administrator, security officer, auditor) or one of the four business roles of the
//! publication secrecy review (drafter, department reviewer, office director, leader) — and
//! the database refuses any other value. After the bootstrap on the server
//! itself (`baomi user add`, where root is trusted), what a system administrator does to an
//! account in the console (create it, change its role, reset its password) is only a
//! *proposal* kept in the `pending_*` columns until a security officer, who is not the
//! proposer, approves it. Both steps are in the audit chain.
//!
//! Passwords are Argon2id PHC strings; five failed logins lock an account for fifteen
//! minutes; sessions are server-side rows keyed by the hash of the cookie's secret and end
//! after thirty idle minutes. The optional second factor is TOTP (RFC 6238, 30 s, 6 digits).
//!
//! An account's password is checked here (`auth = 'local'`) or by the unit's directory
//! (`auth = 'ldap'`, [`Auth`]): then nothing of the password is kept, the caller binds to
//! LDAP and hands the outcome in ([`Store::login_with`], [`DirectoryCheck`]); the lock, the
//! second factor, the state and the audit are the same for both. The directory may also
//! give the role (its role groups) and create the account at the person's first login.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, password_hash::rand_core::OsRng};
use chacha20poly1305::aead::rand_core::RngCore;
use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Result, Store, StoreError, now_ms};

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Failed logins in a row that lock an account.
pub const MAX_FAILED_LOGINS: i64 = 5;
/// How long a locked account stays locked.
pub const LOCK_MS: i64 = 15 * 60 * 1000;
/// A session unused this long has ended.
pub const SESSION_IDLE_MS: i64 = 30 * 60 * 1000;
/// `last_seen_ms` is written at most this often, so every page view is not a write.
const SESSION_TOUCH_MS: i64 = 30 * 1000;

/// An account's role. Mutually exclusive: an account has exactly one. The first three are
/// the administrative roles of 三员分立; the other four are the business roles of the
/// publication secrecy review (信息发布保密审查), who see that workflow and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 系统管理员: accounts, tokens, nodes and health. Sees no business data.
    Sysadmin,
    /// 安全保密管理员: incidents, evidence, policy, registry, reports; approves account changes.
    Secadmin,
    /// 安全审计员: reads and verifies the audit trail. Changes nothing.
    Auditor,
    /// 拟稿人: submits texts and files for publication review.
    Drafter,
    /// 部门自审: the first review, in the drafter's own department.
    Reviewer,
    /// 办公室审核: the office's review (保密办/办公室).
    Director,
    /// 分管领导审批: the leader's approval, the last step.
    Approver,
    /// 工作人员: an ordinary employee. Signs their own secrecy commitments and takes the
    /// knowledge tests; sees no business data and administers nothing.
    Staff,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Sysadmin,
        Role::Secadmin,
        Role::Auditor,
        Role::Drafter,
        Role::Reviewer,
        Role::Director,
        Role::Approver,
        Role::Staff,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Sysadmin => "sysadmin",
            Role::Secadmin => "secadmin",
            Role::Auditor => "auditor",
            Role::Drafter => "drafter",
            Role::Reviewer => "reviewer",
            Role::Director => "director",
            Role::Approver => "approver",
            Role::Staff => "staff",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            Role::Sysadmin => "系统管理员",
            Role::Secadmin => "安全保密管理员",
            Role::Auditor => "安全审计员",
            Role::Drafter => "拟稿人",
            Role::Reviewer => "部门审核人",
            Role::Director => "办公室审核人",
            Role::Approver => "分管领导",
            Role::Staff => "工作人员",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            Role::Sysadmin => "System administrator",
            Role::Secadmin => "Security officer",
            Role::Auditor => "Security auditor",
            Role::Drafter => "Drafter",
            Role::Reviewer => "Department reviewer",
            Role::Director => "Office reviewer",
            Role::Approver => "Approving leader",
            Role::Staff => "Staff member",
        }
    }

    /// One of the three administrative roles (三员), as opposed to a business role.
    pub fn is_administrative(self) -> bool {
        matches!(self, Role::Sysadmin | Role::Secadmin | Role::Auditor)
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Proposed by a system administrator, not yet approved: cannot log in.
    Pending,
    Active,
    Disabled,
    /// A proposal the security officer turned down.
    Rejected,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Pending => "pending",
            AccountStatus::Active => "active",
            AccountStatus::Disabled => "disabled",
            AccountStatus::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> AccountStatus {
        match s {
            "active" => AccountStatus::Active,
            "disabled" => AccountStatus::Disabled,
            "rejected" => AccountStatus::Rejected,
            _ => AccountStatus::Pending,
        }
    }
}

/// Where an account's password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// The Argon2id hash in the store.
    Local,
    /// A bind as the person in the unit's LDAP directory (`[directory.ldap]`); the store
    /// keeps no password.
    Ldap,
}

impl Auth {
    pub fn as_str(self) -> &'static str {
        match self {
            Auth::Local => "local",
            Auth::Ldap => "ldap",
        }
    }

    pub fn parse(s: &str) -> Option<Auth> {
        match s {
            "local" => Some(Auth::Local),
            "ldap" => Some(Auth::Ldap),
            _ => None,
        }
    }
}

/// `password_hash` of an account without a local password: no PHC string, so nothing
/// verifies against it.
const NO_PASSWORD: &str = "!";

/// What the directory said about a login (an LDAP bind as the person), for
/// [`Store::login_with`].
#[derive(Debug, Clone)]
pub enum DirectoryCheck {
    /// The password is right: this is the person.
    Verified(DirectoryPerson),
    /// No such person or the wrong password.
    Wrong,
    /// The directory could not be asked (down, the service account refused, …).
    Unavailable(String),
}

/// The person behind a successful directory login.
#[derive(Debug, Clone)]
pub struct DirectoryPerson {
    pub dn: String,
    pub display_name: String,
    pub department: String,
    pub role: DirectoryRole,
}

/// The role the directory's groups give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryRole {
    /// No role groups configured: the account's own role stands.
    NotMapped,
    /// In exactly one role group.
    One(Role),
    /// In none of the role groups; `mapped` are the roles that come from groups (an
    /// account holding one of them has lost it; any other role stands).
    None { mapped: Vec<Role> },
    /// In several role groups: no role at all (三员 stay apart).
    Conflict(Vec<Role>),
}

/// The directory's part in a login: the check (a future, awaited only when the account
/// is an LDAP one or unknown) and whether an unknown name may become an account.
pub struct DirectoryLogin<'a> {
    /// A person the directory knows who is in exactly one role group gets an account
    /// (`auth = 'ldap'`) at the first login.
    pub create_accounts: bool,
    pub check: std::pin::Pin<Box<dyn std::future::Future<Output = DirectoryCheck> + Send + 'a>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub display_name: Option<String>,
    pub department: Option<String>,
    pub role: Role,
    pub status: AccountStatus,
    pub must_change_password: bool,
    /// A role change waiting for approval.
    pub pending_role: Option<Role>,
    /// A password reset waiting for approval.
    pub pending_password: bool,
    pub pending_by: Option<String>,
    pub pending_ms: Option<i64>,
    pub created_ms: i64,
    pub created_by: String,
    pub approved_by: Option<String>,
    pub approved_ms: Option<i64>,
    pub failed_logins: i64,
    pub locked_until_ms: Option<i64>,
    pub totp_enabled: bool,
    pub last_login_ms: Option<i64>,
    /// Where the password is checked.
    pub auth: Auth,
    /// The person's DN at the last LDAP login.
    pub directory_dn: Option<String>,
}

impl Account {
    /// Whether anything about this account waits for a security officer.
    pub fn has_pending_change(&self) -> bool {
        self.status == AccountStatus::Pending
            || self.pending_role.is_some()
            || self.pending_password
    }

    /// `cli:root` or `user:wang`: the name written to the audit log for this account's acts.
    pub fn actor(&self) -> String {
        format!("user:{}", self.name)
    }

    pub fn locked_at(&self, now: i64) -> bool {
        self.locked_until_ms.is_some_and(|t| t > now)
    }
}

/// What `baomi user add` or a proposal gives.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub name: String,
    pub role: Role,
    pub display_name: Option<String>,
    pub department: Option<String>,
    pub password: String,
}

/// How a login attempt ended.
#[derive(Debug)]
pub enum Login {
    Ok(Box<Account>),
    /// Unknown name, wrong password or wrong code: the caller must not say which.
    Denied,
    /// Right password, but the account has TOTP and no (or a wrong) code was given.
    NeedsCode,
    /// Locked after too many failures, until this time.
    Locked(i64),
    /// Pending approval, disabled or rejected.
    Inactive(AccountStatus),
    /// The account's password is checked by the directory, which could not be asked (or
    /// LDAP login is not configured).
    Unavailable,
    /// The directory knows the person, but gives no role: in none of the role groups (an
    /// unknown name, or an account whose role came from a group it has left).
    NoRole,
    /// The person is in several role groups: no role is given while that lasts.
    RoleConflict(Vec<Role>),
}

const SELECT_ACCOUNT: &str = "SELECT id, name, display_name, department, role, status, \
    must_change_password, pending_role, pending_password_hash, pending_by, pending_ms, \
    created_ms, created_by, approved_by, approved_ms, failed_logins, locked_until_ms, \
    totp_enabled, last_login_ms, auth, directory_dn FROM accounts";

fn row_to_account(row: &AnyRow) -> Result<Account> {
    let role: String = row.try_get(4)?;
    let status: String = row.try_get(5)?;
    let pending_role: Option<String> = row.try_get(7)?;
    let pending_password: Option<String> = row.try_get(8)?;
    Ok(Account {
        id: row.try_get(0)?,
        name: row.try_get(1)?,
        display_name: row.try_get(2)?,
        department: row.try_get(3)?,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Invalid(format!("account with unknown role {role:?}")))?,
        status: AccountStatus::parse(&status),
        must_change_password: row.try_get::<i64, _>(6)? != 0,
        pending_role: pending_role.as_deref().and_then(Role::parse),
        pending_password: pending_password.is_some(),
        pending_by: row.try_get(9)?,
        pending_ms: row.try_get(10)?,
        created_ms: row.try_get(11)?,
        created_by: row.try_get(12)?,
        approved_by: row.try_get(13)?,
        approved_ms: row.try_get(14)?,
        failed_logins: row.try_get(15)?,
        locked_until_ms: row.try_get(16)?,
        totp_enabled: row.try_get::<i64, _>(17)? != 0,
        last_login_ms: row.try_get(18)?,
        auth: {
            let auth: String = row.try_get(19)?;
            Auth::parse(&auth)
                .ok_or_else(|| StoreError::Invalid(format!("account with unknown auth {auth:?}")))?
        },
        directory_dn: row.try_get(20)?,
    })
}

/// An Argon2id PHC string for `password`, after checking its length.
pub fn hash_password(password: &str) -> Result<String> {
    check_password(password)?;
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Invalid(format!("password hashing: {e}")))
}

pub fn check_password(password: &str) -> Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(StoreError::Invalid(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// An LDAP account's password is the directory's: it is not set here.
fn no_local_password(acc: &Account) -> Result<()> {
    match acc.auth {
        Auth::Local => Ok(()),
        Auth::Ldap => Err(StoreError::Invalid(format!(
            "{} signs in with the directory's password (auth = ldap): it is changed in the \
             directory, or the account is made local first (baomi user auth {} local)",
            acc.name, acc.name
        ))),
    }
}

/// Account names: what people type at the login form and what the audit log shows.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "account name {name:?}: 1–64 letters, digits, '.', '_', '-' or '@'"
        )))
    }
}

fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    chacha20poly1305::aead::OsRng.fill_bytes(&mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

fn secret_hash(secret: &str) -> String {
    blake3::hash(secret.as_bytes()).to_hex().to_string()
}

/// The TOTP of an account (RFC 6238: SHA-1, 6 digits, 30 s, ±1 step of clock skew).
pub fn totp(secret_base32: &str, account: &str) -> Result<totp_rs::TOTP> {
    let secret = totp_rs::Secret::Encoded(secret_base32.to_owned())
        .to_bytes()
        .map_err(|e| StoreError::Invalid(format!("TOTP secret: {e:?}")))?;
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret,
        Some("Baomi".to_owned()),
        account.to_owned(),
    )
    .map_err(|e| StoreError::Invalid(format!("TOTP: {e}")))
}

fn totp_ok(secret: &str, account: &str, code: &str) -> bool {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    totp(secret, account)
        .ok()
        .and_then(|t| t.check_current(&code).ok())
        .unwrap_or(false)
}

impl Store {
    pub async fn account_count(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) FROM accounts")
            .fetch_one(self.pool())
            .await?
            .try_get(0)?)
    }

    pub async fn accounts(&self) -> Result<Vec<Account>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT_ACCOUNT} ORDER BY name"
        )))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(row_to_account).collect()
    }

    pub async fn account(&self, name: &str) -> Result<Account> {
        self.account_where("name = $1", name).await
    }

    pub async fn account_by_id(&self, id: i64) -> Result<Account> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT_ACCOUNT} WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("account {id}")))?;
        row_to_account(&row)
    }

    async fn account_where(&self, clause: &'static str, value: &str) -> Result<Account> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT_ACCOUNT} WHERE {clause}"
        )))
        .bind(value)
        .fetch_optional(self.pool())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("account {value}")))?;
        row_to_account(&row)
    }

    /// Create an account. `active` only for the bootstrap on the server itself; a console
    /// proposal is created pending and needs [`Store::approve_account`].
    pub async fn create_account(
        &self,
        new: &NewAccount,
        active: bool,
        actor: &str,
    ) -> Result<Account> {
        self.create_account_with_auth(new, active, Auth::Local, actor)
            .await
    }

    /// [`Store::create_account`] with where its password is checked: for [`Auth::Ldap`]
    /// `new.password` is not used and nothing of a password is stored.
    pub async fn create_account_with_auth(
        &self,
        new: &NewAccount,
        active: bool,
        auth: Auth,
        actor: &str,
    ) -> Result<Account> {
        check_name(&new.name)?;
        let hash = match auth {
            Auth::Local => hash_password(&new.password)?,
            Auth::Ldap => NO_PASSWORD.to_owned(),
        };
        let (_guard, mut tx) = self.audit_tx().await?;
        let exists: i64 = sqlx::query("SELECT COUNT(*) FROM accounts WHERE name = $1")
            .bind(&new.name)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if exists > 0 {
            return Err(StoreError::Invalid(format!(
                "an account named {:?} exists already",
                new.name
            )));
        }
        let now = now_ms();
        let status = if active { "active" } else { "pending" };
        sqlx::query(
            "INSERT INTO accounts (name, display_name, department, role, status, password_hash, \
             must_change_password, pending_by, pending_ms, created_ms, created_by, auth) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&new.name)
        .bind(new.display_name.as_deref())
        .bind(new.department.as_deref())
        .bind(new.role.as_str())
        .bind(status)
        .bind(&hash)
        // A proposed account's first password was chosen by someone else.
        .bind(i64::from(!active && auth == Auth::Local))
        .bind((!active).then_some(actor))
        .bind((!active).then_some(now))
        .bind(now)
        .bind(actor)
        .bind(auth.as_str())
        .execute(&mut *tx)
        .await?;
        let action = if active {
            "account.create"
        } else {
            "account.propose"
        };
        Store::append_audit(
            &mut tx,
            actor,
            action,
            &new.name,
            &json!({
                "role": new.role.as_str(),
                "department": new.department,
                "display_name": new.display_name,
                "auth": auth.as_str(),
            }),
        )
        .await?;
        tx.commit().await?;
        self.account(&new.name).await
    }

    /// Propose a new role for an account (takes effect when approved).
    pub async fn propose_role(&self, name: &str, role: Role, actor: &str) -> Result<Account> {
        let acc = self.account(name).await?;
        if acc.role == role {
            return Err(StoreError::Invalid(format!(
                "{name} already has the role {role}"
            )));
        }
        let (_guard, mut tx) = self.audit_tx().await?;
        sqlx::query(
            "UPDATE accounts SET pending_role = $1, pending_by = $2, pending_ms = $3 WHERE name = $4",
        )
        .bind(role.as_str())
        .bind(actor)
        .bind(now_ms())
        .bind(name)
        .execute(&mut *tx)
        .await?;
        Store::append_audit(
            &mut tx,
            actor,
            "account.propose_role",
            name,
            &json!({"from": acc.role.as_str(), "to": role.as_str()}),
        )
        .await?;
        tx.commit().await?;
        self.account(name).await
    }

    /// Propose a password reset (takes effect when approved; the owner must then change it).
    pub async fn propose_password(
        &self,
        name: &str,
        password: &str,
        actor: &str,
    ) -> Result<Account> {
        no_local_password(&self.account(name).await?)?;
        let hash = hash_password(password)?;
        let (_guard, mut tx) = self.audit_tx().await?;
        sqlx::query(
            "UPDATE accounts SET pending_password_hash = $1, pending_by = $2, pending_ms = $3 \
             WHERE name = $4",
        )
        .bind(&hash)
        .bind(actor)
        .bind(now_ms())
        .bind(name)
        .execute(&mut *tx)
        .await?;
        Store::append_audit(&mut tx, actor, "account.propose_password", name, &json!({})).await?;
        tx.commit().await?;
        self.account(name).await
    }

    /// A security officer approves what waits on `name`. The approver must be an active
    /// security officer other than the proposer and the account itself.
    pub async fn approve_account(&self, name: &str, approver: &Account) -> Result<Account> {
        self.decide_account(name, approver, true).await
    }

    pub async fn reject_account(&self, name: &str, approver: &Account) -> Result<Account> {
        self.decide_account(name, approver, false).await
    }

    async fn decide_account(
        &self,
        name: &str,
        approver: &Account,
        approve: bool,
    ) -> Result<Account> {
        let acc = self.account(name).await?;
        if approver.role != Role::Secadmin || approver.status != AccountStatus::Active {
            return Err(StoreError::Invalid(
                "only an active security officer approves account changes".into(),
            ));
        }
        if !acc.has_pending_change() {
            return Err(StoreError::Invalid(format!(
                "nothing waits for approval on {name}"
            )));
        }
        if approver.name == acc.name || acc.pending_by.as_deref() == Some(&approver.actor()) {
            return Err(StoreError::Invalid(
                "a change is approved by someone other than its proposer and its subject".into(),
            ));
        }
        let actor = approver.actor();
        let now = now_ms();
        let (_guard, mut tx) = self.audit_tx().await?;
        let detail = json!({
            "status": acc.status.as_str(),
            "role": acc.pending_role.map(Role::as_str),
            "password_reset": acc.pending_password,
            "proposed_by": acc.pending_by,
        });
        if approve {
            let status = if acc.status == AccountStatus::Pending {
                "active"
            } else {
                acc.status.as_str()
            };
            sqlx::query(
                "UPDATE accounts SET status = $1, role = COALESCE(pending_role, role), \
                 password_hash = COALESCE(pending_password_hash, password_hash), \
                 must_change_password = CASE WHEN pending_password_hash IS NULL \
                   THEN must_change_password ELSE 1 END, \
                 failed_logins = 0, locked_until_ms = NULL, \
                 pending_role = NULL, pending_password_hash = NULL, pending_by = NULL, \
                 pending_ms = NULL, approved_by = $2, approved_ms = $3 WHERE name = $4",
            )
            .bind(status)
            .bind(&actor)
            .bind(now)
            .bind(name)
            .execute(&mut *tx)
            .await?;
            if acc.pending_role.is_some() {
                // A new role is a new person in the system: old sessions must not keep the old one.
                sqlx::query("DELETE FROM sessions WHERE account_id = $1")
                    .bind(acc.id)
                    .execute(&mut *tx)
                    .await?;
            }
        } else {
            let status = if acc.status == AccountStatus::Pending {
                "rejected"
            } else {
                acc.status.as_str()
            };
            sqlx::query(
                "UPDATE accounts SET status = $1, pending_role = NULL, pending_password_hash = NULL, \
                 pending_by = NULL, pending_ms = NULL WHERE name = $2",
            )
            .bind(status)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        }
        let action = if approve {
            "account.approve"
        } else {
            "account.reject"
        };
        Store::append_audit(&mut tx, &actor, action, name, &detail).await?;
        tx.commit().await?;
        self.account(name).await
    }

    /// Disable an account at once (taking a right away needs no second person) and end its
    /// sessions and tokens.
    pub async fn disable_account(&self, name: &str, actor: &str) -> Result<Account> {
        let acc = self.account(name).await?;
        let (_guard, mut tx) = self.audit_tx().await?;
        sqlx::query("UPDATE accounts SET status = 'disabled' WHERE id = $1")
            .bind(acc.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE account_id = $1")
            .bind(acc.id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE api_tokens SET revoked = 1 WHERE account_id = $1")
            .bind(acc.id)
            .execute(&mut *tx)
            .await?;
        Store::append_audit(&mut tx, actor, "account.disable", name, &json!({})).await?;
        tx.commit().await?;
        self.account(name).await
    }

    /// Set a password directly: the owner changing their own, or root on the server
    /// (`baomi user passwd`). Also unlocks the account.
    pub async fn set_password(&self, name: &str, password: &str, actor: &str) -> Result<()> {
        let acc = self.account(name).await?;
        no_local_password(&acc)?;
        let hash = hash_password(password)?;
        let (_guard, mut tx) = self.audit_tx().await?;
        sqlx::query(
            "UPDATE accounts SET password_hash = $1, must_change_password = 0, failed_logins = 0, \
             locked_until_ms = NULL WHERE id = $2",
        )
        .bind(&hash)
        .bind(acc.id)
        .execute(&mut *tx)
        .await?;
        Store::append_audit(&mut tx, actor, "account.password", name, &json!({})).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Check a login with the store's own password. An LDAP account gets
    /// [`Login::Unavailable`] here (audited): its password is checked through
    /// [`Store::login_with`].
    pub async fn login(&self, name: &str, password: &str, code: Option<&str>) -> Result<Login> {
        self.login_with(name, password, code, None).await
    }

    /// Check a login: a local account's password against its hash; an LDAP account's (and
    /// an unknown name's, when `directory.create_accounts`) by awaiting `directory.check`.
    /// Then, for both, the second factor, the account's state, and the role the directory
    /// gives. Failures count toward the lock (the directory's too); the lock, the failures,
    /// a role taken from the directory, a role conflict and an account the directory
    /// created are audited.
    pub async fn login_with(
        &self,
        name: &str,
        password: &str,
        code: Option<&str>,
        directory: Option<DirectoryLogin<'_>>,
    ) -> Result<Login> {
        let row = sqlx::query("SELECT password_hash, totp_secret FROM accounts WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else {
            return self.login_unknown(name, password, directory).await;
        };
        let hash: String = row.try_get(0)?;
        let secret: Option<String> = row.try_get(1)?;
        let acc = self.account(name).await?;
        let now = now_ms();
        if acc.locked_at(now) {
            self.audit(&acc.actor(), "login.locked_out", name, json!({}))
                .await?;
            return Ok(Login::Locked(acc.locked_until_ms.unwrap_or(now)));
        }
        let mut person = None;
        match acc.auth {
            Auth::Local => {
                if !verify_password(&hash, password) {
                    self.login_failed(&acc, "password").await?;
                    return Ok(Login::Denied);
                }
            }
            Auth::Ldap => {
                let check = match directory {
                    Some(d) if !password.is_empty() => d.check.await,
                    Some(_) => DirectoryCheck::Wrong,
                    None => DirectoryCheck::Unavailable(
                        "LDAP login is not configured ([directory.ldap])".into(),
                    ),
                };
                match check {
                    DirectoryCheck::Verified(p) => person = Some(p),
                    DirectoryCheck::Wrong => {
                        self.login_failed(&acc, "directory password").await?;
                        return Ok(Login::Denied);
                    }
                    DirectoryCheck::Unavailable(e) => {
                        self.directory_unavailable(name, &e).await?;
                        return Ok(Login::Unavailable);
                    }
                }
            }
        }
        if acc.totp_enabled {
            match (code.filter(|c| !c.trim().is_empty()), &secret) {
                (None, _) => return Ok(Login::NeedsCode),
                (Some(c), Some(s)) if totp_ok(s, name, c) => {}
                _ => {
                    self.login_failed(&acc, "second factor").await?;
                    return Ok(Login::Denied);
                }
            }
        }
        if acc.status != AccountStatus::Active {
            self.audit(
                &acc.actor(),
                "login.inactive",
                name,
                json!({"status": acc.status.as_str()}),
            )
            .await?;
            return Ok(Login::Inactive(acc.status));
        }
        if let Some(p) = &person
            && let Some(refused) = self.directory_role(&acc, p).await?
        {
            return Ok(refused);
        }
        let (_guard, mut tx) = self.audit_tx().await?;
        sqlx::query(
            "UPDATE accounts SET failed_logins = 0, locked_until_ms = NULL, last_login_ms = $1 \
             WHERE id = $2",
        )
        .bind(now)
        .bind(acc.id)
        .execute(&mut *tx)
        .await?;
        let detail = match &person {
            Some(p) => {
                // What the directory says of the person now.
                sqlx::query(
                    "UPDATE accounts SET directory_dn = $1, \
                     display_name = COALESCE($2, display_name), \
                     department = COALESCE($3, department) WHERE id = $4",
                )
                .bind(&p.dn)
                .bind(Some(p.display_name.as_str()).filter(|s| !s.is_empty()))
                .bind(Some(p.department.as_str()).filter(|s| !s.is_empty()))
                .bind(acc.id)
                .execute(&mut *tx)
                .await?;
                json!({"auth": "ldap", "dn": p.dn})
            }
            None => json!({}),
        };
        Store::append_audit(&mut tx, &acc.actor(), "login", name, &detail).await?;
        tx.commit().await?;
        Ok(Login::Ok(Box::new(self.account(name).await?)))
    }

    /// A name with no account: unknown, unless the directory knows the person and their role
    /// group, which creates the account (`auth = 'ldap'`).
    async fn login_unknown(
        &self,
        name: &str,
        password: &str,
        directory: Option<DirectoryLogin<'_>>,
    ) -> Result<Login> {
        let directory = directory
            .filter(|d| d.create_accounts && !password.is_empty() && check_name(name).is_ok());
        let Some(d) = directory else {
            // Spend the same time as for a real account, so timing does not tell names apart.
            let _ = verify_password(DUMMY_HASH, password);
            self.audit(
                &format!("login:{name}"),
                "login.failed",
                name,
                json!({"reason": "unknown account"}),
            )
            .await?;
            return Ok(Login::Denied);
        };
        let p = match d.check.await {
            DirectoryCheck::Verified(p) => p,
            DirectoryCheck::Wrong => {
                self.audit(
                    &format!("login:{name}"),
                    "login.failed",
                    name,
                    json!({"reason": "unknown account", "directory": "refused"}),
                )
                .await?;
                return Ok(Login::Denied);
            }
            DirectoryCheck::Unavailable(e) => {
                self.directory_unavailable(name, &e).await?;
                return Ok(Login::Unavailable);
            }
        };
        let role = match &p.role {
            DirectoryRole::One(r) => *r,
            DirectoryRole::Conflict(roles) => {
                self.role_conflict(name, None, &p.dn, roles).await?;
                return Ok(Login::RoleConflict(roles.clone()));
            }
            DirectoryRole::None { .. } | DirectoryRole::NotMapped => {
                self.audit(
                    &format!("login:{name}"),
                    "login.failed",
                    name,
                    json!({"reason": "in no role group of the directory", "dn": p.dn}),
                )
                .await?;
                return Ok(Login::NoRole);
            }
        };
        let now = now_ms();
        let (_guard, mut tx) = self.audit_tx().await?;
        let exists: i64 = sqlx::query("SELECT COUNT(*) FROM accounts WHERE name = $1")
            .bind(name)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if exists > 0 {
            // Made by a login at the same moment: that one stands, this one tries again.
            drop(tx);
            return Ok(Login::Denied);
        }
        sqlx::query(
            "INSERT INTO accounts (name, display_name, department, role, status, password_hash, \
             created_ms, created_by, approved_by, approved_ms, auth, directory_dn, last_login_ms) \
             VALUES ($1, $2, $3, $4, 'active', $5, $6, 'directory', 'directory', $6, 'ldap', $7, $6)",
        )
        .bind(name)
        .bind(Some(p.display_name.as_str()).filter(|s| !s.is_empty()))
        .bind(Some(p.department.as_str()).filter(|s| !s.is_empty()))
        .bind(role.as_str())
        .bind(NO_PASSWORD)
        .bind(now)
        .bind(&p.dn)
        .execute(&mut *tx)
        .await?;
        Store::append_audit(
            &mut tx,
            "directory",
            "account.create_from_directory",
            name,
            &json!({
                "role": role.as_str(),
                "auth": "ldap",
                "dn": p.dn,
                "department": p.department,
                "display_name": p.display_name,
            }),
        )
        .await?;
        Store::append_audit(
            &mut tx,
            &format!("user:{name}"),
            "login",
            name,
            &json!({"auth": "ldap", "dn": p.dn}),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            account = name,
            role = role.as_str(),
            dn = p.dn,
            "console: account created at its first LDAP login"
        );
        Ok(Login::Ok(Box::new(self.account(name).await?)))
    }

    /// The role the directory gives an existing LDAP account: taken over when it is one
    /// role group's (audited, the old sessions ended); `Some` refusal when the person is in
    /// several role groups or has left the group of the account's role.
    async fn directory_role(&self, acc: &Account, p: &DirectoryPerson) -> Result<Option<Login>> {
        match &p.role {
            DirectoryRole::NotMapped => Ok(None),
            DirectoryRole::One(r) if *r == acc.role => Ok(None),
            DirectoryRole::One(r) => {
                let (_guard, mut tx) = self.audit_tx().await?;
                sqlx::query("UPDATE accounts SET role = $1 WHERE id = $2")
                    .bind(r.as_str())
                    .bind(acc.id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM sessions WHERE account_id = $1")
                    .bind(acc.id)
                    .execute(&mut *tx)
                    .await?;
                Store::append_audit(
                    &mut tx,
                    "directory",
                    "account.role_from_directory",
                    &acc.name,
                    &json!({"from": acc.role.as_str(), "to": r.as_str(), "dn": p.dn}),
                )
                .await?;
                tx.commit().await?;
                tracing::info!(
                    account = acc.name,
                    from = acc.role.as_str(),
                    to = r.as_str(),
                    "console: role taken from the directory's role group"
                );
                Ok(None)
            }
            DirectoryRole::Conflict(roles) => {
                self.role_conflict(&acc.name, Some(acc), &p.dn, roles)
                    .await?;
                Ok(Some(Login::RoleConflict(roles.clone())))
            }
            DirectoryRole::None { mapped } if mapped.contains(&acc.role) => {
                let (_guard, mut tx) = self.audit_tx().await?;
                sqlx::query("DELETE FROM sessions WHERE account_id = $1")
                    .bind(acc.id)
                    .execute(&mut *tx)
                    .await?;
                Store::append_audit(
                    &mut tx,
                    &format!("login:{}", acc.name),
                    "login.failed",
                    &acc.name,
                    &json!({
                        "reason": "no longer in the role group",
                        "role": acc.role.as_str(),
                        "dn": p.dn,
                    }),
                )
                .await?;
                tx.commit().await?;
                tracing::warn!(
                    account = acc.name,
                    role = acc.role.as_str(),
                    "console: login refused, the person is no longer in the role's LDAP group"
                );
                Ok(Some(Login::NoRole))
            }
            DirectoryRole::None { .. } => Ok(None),
        }
    }

    /// A person in several role groups: refused, sessions ended, warned and audited.
    async fn role_conflict(
        &self,
        name: &str,
        acc: Option<&Account>,
        dn: &str,
        roles: &[Role],
    ) -> Result<()> {
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        tracing::warn!(
            account = name,
            dn,
            roles = ?names,
            "console: login refused, the person is in several role groups of the directory \
             (三员 are mutually exclusive): no role is given until they are in one"
        );
        let (_guard, mut tx) = self.audit_tx().await?;
        if let Some(acc) = acc {
            sqlx::query("DELETE FROM sessions WHERE account_id = $1")
                .bind(acc.id)
                .execute(&mut *tx)
                .await?;
        }
        Store::append_audit(
            &mut tx,
            &format!("login:{name}"),
            "login.role_conflict",
            name,
            &json!({"roles": names, "dn": dn}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn directory_unavailable(&self, name: &str, error: &str) -> Result<()> {
        tracing::warn!(account = name, "console: LDAP login not possible: {error}");
        self.audit(
            &format!("login:{name}"),
            "login.failed",
            name,
            json!({"reason": "directory unavailable", "error": error}),
        )
        .await?;
        Ok(())
    }

    /// Where `name`'s password is checked from now on. To the directory: the local password
    /// is dropped. Back to local: `password` becomes the account's password.
    pub async fn set_auth(
        &self,
        name: &str,
        auth: Auth,
        password: Option<&str>,
        actor: &str,
    ) -> Result<Account> {
        let acc = self.account(name).await?;
        if acc.auth == auth {
            return Err(StoreError::Invalid(format!(
                "{name} signs in with auth = {} already",
                auth.as_str()
            )));
        }
        let hash = match auth {
            Auth::Ldap => NO_PASSWORD.to_owned(),
            Auth::Local => hash_password(password.ok_or_else(|| {
                StoreError::Invalid(format!(
                    "{name}: an account that signs in locally needs a password"
                ))
            })?)?,
        };
        let (_guard, mut tx) = self.audit_tx().await?;
        sqlx::query(
            "UPDATE accounts SET auth = $1, password_hash = $2, pending_password_hash = NULL, \
             must_change_password = 0, failed_logins = 0, locked_until_ms = NULL WHERE id = $3",
        )
        .bind(auth.as_str())
        .bind(&hash)
        .bind(acc.id)
        .execute(&mut *tx)
        .await?;
        Store::append_audit(
            &mut tx,
            actor,
            "account.auth",
            name,
            &json!({"from": acc.auth.as_str(), "to": auth.as_str()}),
        )
        .await?;
        tx.commit().await?;
        self.account(name).await
    }

    async fn login_failed(&self, acc: &Account, what: &str) -> Result<()> {
        let failed = acc.failed_logins + 1;
        let (_guard, mut tx) = self.audit_tx().await?;
        Store::append_audit(
            &mut tx,
            &format!("login:{}", acc.name),
            "login.failed",
            &acc.name,
            &json!({"reason": what, "failures": failed}),
        )
        .await?;
        if failed >= MAX_FAILED_LOGINS {
            let until = now_ms() + LOCK_MS;
            sqlx::query(
                "UPDATE accounts SET failed_logins = 0, locked_until_ms = $1 WHERE id = $2",
            )
            .bind(until)
            .bind(acc.id)
            .execute(&mut *tx)
            .await?;
            Store::append_audit(
                &mut tx,
                "system",
                "account.locked",
                &acc.name,
                &json!({"failures": failed, "until_ms": until}),
            )
            .await?;
        } else {
            sqlx::query("UPDATE accounts SET failed_logins = $1 WHERE id = $2")
                .bind(failed)
                .bind(acc.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Start TOTP enrolment: a new secret (base32) kept unconfirmed until [`Store::confirm_totp`].
    pub async fn begin_totp(&self, name: &str) -> Result<String> {
        let secret = totp_rs::Secret::generate_secret().to_encoded().to_string();
        sqlx::query("UPDATE accounts SET totp_secret = $1 WHERE name = $2 AND totp_enabled = 0")
            .bind(&secret)
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(secret)
    }

    /// The unconfirmed secret of an enrolment in progress.
    pub async fn pending_totp_secret(&self, name: &str) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT totp_secret FROM accounts WHERE name = $1 AND totp_enabled = 0")
                .bind(name)
                .fetch_optional(self.pool())
                .await?;
        Ok(match row {
            Some(r) => r.try_get(0)?,
            None => None,
        })
    }

    /// Finish enrolment with a code from the authenticator; false when the code is wrong.
    pub async fn confirm_totp(&self, name: &str, code: &str) -> Result<bool> {
        let Some(secret) = self.pending_totp_secret(name).await? else {
            return Ok(false);
        };
        if !totp_ok(&secret, name, code) {
            return Ok(false);
        }
        let (_guard, mut tx) = self.audit_tx().await?;
        sqlx::query("UPDATE accounts SET totp_enabled = 1 WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        Store::append_audit(
            &mut tx,
            &format!("user:{name}"),
            "account.totp_enable",
            name,
            &json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A new session for an account that just logged in; returns the cookie's secret.
    pub async fn create_session(&self, account: &Account) -> Result<String> {
        let secret = random_hex(32);
        let now = now_ms();
        sqlx::query(
            "INSERT INTO sessions (id_hash, account_id, created_ms, last_seen_ms) VALUES ($1, $2, $3, $3)",
        )
        .bind(secret_hash(&secret))
        .bind(account.id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(secret)
    }

    /// The account behind a session cookie, if the session is live and the account active.
    /// An idle session is deleted here.
    pub async fn session(&self, secret: &str) -> Result<Option<Account>> {
        let id_hash = secret_hash(secret);
        let row = sqlx::query("SELECT account_id, last_seen_ms FROM sessions WHERE id_hash = $1")
            .bind(&id_hash)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let account_id: i64 = row.try_get(0)?;
        let last_seen: i64 = row.try_get(1)?;
        let now = now_ms();
        if now - last_seen > SESSION_IDLE_MS {
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                .bind(&id_hash)
                .execute(self.pool())
                .await?;
            return Ok(None);
        }
        let acc = self.account_by_id(account_id).await?;
        if acc.status != AccountStatus::Active {
            return Ok(None);
        }
        if now - last_seen > SESSION_TOUCH_MS {
            // Best effort, like a token's last use: with the disk full the console must
            // still open (read-only) for the administrator who is fixing it.
            if let Err(e) = sqlx::query("UPDATE sessions SET last_seen_ms = $1 WHERE id_hash = $2")
                .bind(now)
                .bind(&id_hash)
                .execute(self.pool())
                .await
            {
                tracing::warn!("session of account {account_id}: last use not recorded: {e}");
            }
        }
        Ok(Some(acc))
    }

    pub async fn end_session(&self, secret: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(secret_hash(secret))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Make a session look idle since `ms_ago` (for tests of the idle timeout).
    #[doc(hidden)]
    pub async fn age_sessions(&self, ms_ago: i64) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_ms = $1")
            .bind(now_ms() - ms_ago)
            .execute(self.pool())
            .await?;
        Ok(())
    }
}

/// An Argon2id hash of a random string, verified against when the account does not exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$9vTvfbw0jj9CixBNr0VD3pX2u3pkFb1wE9f7N1S7Yzc";
