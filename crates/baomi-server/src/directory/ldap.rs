//! The directory from LDAP / Active Directory (`[directory.ldap]` in baomi.toml).
//!
//! A service account binds and reads people, departments (the OU tree) and groups under the
//! configured base DNs, with paged searches; the result becomes a [`Directory`] that
//! replaces the gateway's whole ([`spawn_sync`]). Sync runs at start and every
//! `sync_minutes`: incremental (`modifyTimestamp>=` the newest time seen) where the server
//! gives `modifyTimestamp`, with a full re-read every `full_sync_every` syncs (deletions are
//! only seen on a full read); a server without the attribute gets a full re-read each time,
//! and the log says so. A failed sync keeps the last good directory: the error is logged
//! and counted in [`SyncStatus`], the directory is never emptied by it.
//!
//! Console login ([`authenticate`]): the service account searches the person by account
//! (the typed name escaped for the filter, RFC 4515), then a second connection binds as
//! the person's DN with the typed password. The password is never stored. Roles may come
//! from groups (`[directory.ldap.roles]`); a person in two role groups gets none (the login
//! is refused and audited, and every sync logs such people). [`console_login`] hands the
//! bind to the store's login ([`baomi_store::Store::login_with`]), which applies the lock,
//! the second factor and the account's state as for a local password: accounts with
//! `auth = 'ldap'` (`baomi user auth NAME ldap`) always, and with `console_login = true`
//! anyone in exactly one role group, whose account is created at the first login.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use baomi_store::Role;
use baomi_store::accounts::{DirectoryCheck, DirectoryLogin, DirectoryPerson, DirectoryRole};
use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use serde::Deserialize;

use super::{Directory, Person};

/// `[directory.ldap]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldaps://host[:636]`, or `ldap://host[:389]` with StartTLS (see `starttls`).
    pub url: String,
    /// StartTLS on an `ldap://` URL. Default true; false sends passwords in clear text and is
    /// only for a server on the same machine.
    pub starttls: bool,
    /// PEM file of the CA that signed the server's certificate; default: the system's roots.
    pub ca_file: Option<PathBuf>,
    /// The service account that reads the directory (`cn=baomi,ou=services,dc=unit,dc=cn`).
    pub bind_dn: String,
    /// A file holding its password (one line; keep it mode 0600).
    pub password_file: Option<PathBuf>,
    /// Where people, departments and groups are searched (subtree).
    pub base_dns: Vec<String>,
    /// Minutes between syncs (at least 1).
    pub sync_minutes: u64,
    /// Incremental syncs between two full re-reads (0: always full).
    pub full_sync_every: u32,
    /// Seconds for a connection or one operation.
    pub timeout_secs: u64,
    /// Entries per page of a paged search (Active Directory answers at most 1000 at once).
    pub page_size: i32,
    /// Console login for the directory's people: a person in exactly one role group
    /// (`roles`) signs in with the directory password and gets an account (`auth = ldap`)
    /// at the first login. Without it only accounts made LDAP ones one by one
    /// (`baomi user auth NAME ldap`) bind; local accounts stay local either way (keep one
    /// as the way in while the directory is down).
    pub console_login: bool,
    pub people: PeopleMap,
    pub departments: DepartmentMap,
    pub groups: GroupMap,
    /// Roles from groups: role name (`sysadmin`, `secadmin`, `auditor`, …) → the group's DN
    /// or name. Mutually exclusive: a person in two of them gets no role.
    pub roles: BTreeMap<String, String>,
}

/// `[directory.ldap.people]`: which entries are people, and which attribute is what.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeopleMap {
    pub filter: String,
    /// The login (also the proxy user name): `uid`, AD `sAMAccountName`.
    pub account: String,
    /// The name shown (`displayName`, falling back to `cn`).
    pub name: String,
    /// Mail addresses; AD's `proxyAddresses` values lose their `smtp:` prefix.
    pub mail: Vec<String>,
    /// `ou`: the department is the path of the entry's OUs (`市局/办公室/保密科`); any other
    /// value names an attribute holding it (`departmentNumber`, AD `department`).
    pub department: String,
    /// OU names left out of the path (`people`, `users`: containers, not departments).
    pub ignore_ous: Vec<String>,
    /// Host names or MAC addresses of the person's computers (none by default).
    pub machines: Option<String>,
    /// Groups listed on the person (`memberOf`: AD, OpenLDAP's memberof overlay).
    pub member_of: Option<String>,
}

/// `[directory.ldap.departments]`: the OU tree.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DepartmentMap {
    pub filter: String,
}

/// `[directory.ldap.groups]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GroupMap {
    pub filter: String,
    pub name: String,
    /// Attributes holding members' DNs (`member`, `uniqueMember`).
    pub member: Vec<String>,
    /// Attributes holding members' accounts (`memberUid` of posixGroup).
    pub member_uid: Vec<String>,
}

impl Default for LdapConfig {
    fn default() -> Self {
        LdapConfig {
            url: String::new(),
            starttls: true,
            ca_file: None,
            bind_dn: String::new(),
            password_file: None,
            base_dns: Vec::new(),
            sync_minutes: 15,
            full_sync_every: 24,
            timeout_secs: 30,
            page_size: 500,
            console_login: false,
            people: PeopleMap::default(),
            departments: DepartmentMap::default(),
            groups: GroupMap::default(),
            roles: BTreeMap::new(),
        }
    }
}

impl Default for PeopleMap {
    fn default() -> Self {
        PeopleMap {
            filter: "(|(objectClass=inetOrgPerson)(&(objectCategory=person)(objectClass=user)))"
                .into(),
            account: "uid".into(),
            name: "displayName".into(),
            mail: vec!["mail".into()],
            department: "ou".into(),
            ignore_ous: vec!["people".into(), "users".into()],
            machines: None,
            member_of: None,
        }
    }
}

impl Default for DepartmentMap {
    fn default() -> Self {
        DepartmentMap {
            filter: "(objectClass=organizationalUnit)".into(),
        }
    }
}

impl Default for GroupMap {
    fn default() -> Self {
        GroupMap {
            filter: "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=posixGroup)(objectClass=group))".into(),
            name: "cn".into(),
            member: vec!["member".into(), "uniqueMember".into()],
            member_uid: vec!["memberUid".into()],
        }
    }
}

impl LdapConfig {
    /// What a sync cannot start without, said before the server listens.
    pub fn check(&self) -> anyhow::Result<()> {
        let url = self.url.to_ascii_lowercase();
        if !(url.starts_with("ldap://") || url.starts_with("ldaps://")) {
            anyhow::bail!(
                "directory.ldap.url: {:?} is not ldap://… or ldaps://…",
                self.url
            );
        }
        if self.base_dns.is_empty() {
            anyhow::bail!("directory.ldap.base_dns: at least one base DN");
        }
        for role in self.roles.keys() {
            if Role::parse(role).is_none() {
                anyhow::bail!("directory.ldap.roles: unknown role {role:?}");
            }
        }
        if self.console_login && self.roles.is_empty() {
            anyhow::bail!(
                "directory.ldap.console_login needs [directory.ldap.roles]: the role groups \
                 decide who gets an account"
            );
        }
        Ok(())
    }

    fn password(&self) -> anyhow::Result<String> {
        match &self.password_file {
            Some(p) => Ok(std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("directory.ldap.password_file {}: {e}", p.display()))?
                .trim_end_matches(['\r', '\n'])
                .to_owned()),
            None => Ok(String::new()),
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
}

// ---------------------------------------------------------------------------------------
// Filters and DNs.

/// A value for an LDAP search filter (RFC 4515): `*`, `(`, `)`, `\` and NUL escaped, so
/// what a person types at the login form cannot change the filter.
pub fn filter_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// The RDNs of a DN (RFC 4514), each as (attribute type lower-cased, value unescaped), from
/// the entry up to the root. A multi-valued RDN (`a=1+b=2`) gives each of its parts.
pub fn parse_dn(dn: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut bytes = Vec::new();
    let mut key = String::new();
    let mut in_value = false;
    let mut chars = dn.chars().peekable();
    let push = |key: &mut String, bytes: &mut Vec<u8>, out: &mut Vec<(String, String)>| {
        let k = key.trim().to_ascii_lowercase();
        let v = String::from_utf8_lossy(bytes).trim().to_owned();
        if !k.is_empty() {
            out.push((k, v));
        }
        key.clear();
        bytes.clear();
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_value => {
                let a = chars.next();
                match a {
                    Some(h1)
                        if h1.is_ascii_hexdigit()
                            && chars.peek().is_some_and(|c| c.is_ascii_hexdigit()) =>
                    {
                        let h2 = chars.next().unwrap_or('0');
                        let n = u8::from_str_radix(&format!("{h1}{h2}"), 16).unwrap_or(b'?');
                        bytes.push(n);
                    }
                    Some(other) => {
                        let mut b = [0u8; 4];
                        bytes.extend_from_slice(other.encode_utf8(&mut b).as_bytes());
                    }
                    None => {}
                }
            }
            '=' if !in_value => in_value = true,
            ',' | ';' | '+' if in_value => {
                push(&mut key, &mut bytes, &mut out);
                in_value = false;
            }
            c if in_value => {
                let mut b = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
            c => key.push(c),
        }
    }
    if in_value {
        push(&mut key, &mut bytes, &mut out);
    }
    out
}

/// A DN in one comparable form: types lower-cased, values unescaped and lower-cased.
pub fn normal_dn(dn: &str) -> String {
    parse_dn(dn)
        .into_iter()
        .map(|(k, v)| format!("{k}={}", v.to_lowercase()))
        .collect::<Vec<_>>()
        .join(",")
}

/// The department of an entry from its DN: the `ou` RDNs above the entry, from the top down,
/// joined with `/` (`uid=x,ou=保密科,ou=办公室,ou=市局,dc=unit,dc=cn` → `市局/办公室/保密科`),
/// leaving out the OU names in `ignore` (containers such as `people`). `include_self`:
/// the entry is itself an OU (the department tree).
pub fn dn_department(dn: &str, ignore: &[String], include_self: bool) -> String {
    let rdns = parse_dn(dn);
    let skip = usize::from(!include_self);
    let mut ous: Vec<&str> = rdns
        .iter()
        .skip(skip)
        .filter(|(k, _)| k == "ou")
        .map(|(_, v)| v.as_str())
        .filter(|v| !ignore.iter().any(|i| i.eq_ignore_ascii_case(v)))
        .collect();
    ous.reverse();
    ous.join("/")
}

/// The first RDN's value (`cn=保密办,ou=groups,…` → `保密办`).
fn first_rdn_value(dn: &str) -> String {
    parse_dn(dn)
        .into_iter()
        .next()
        .map(|(_, v)| v)
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Reading the directory.

fn attr<'a>(e: &'a SearchEntry, name: &str) -> &'a [String] {
    e.attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
        .unwrap_or(&[])
}

fn first(e: &SearchEntry, name: &str) -> Option<String> {
    attr(e, name)
        .first()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// A stable key for an entry across renames: `entryUUID` (OpenLDAP), `objectGUID` (AD,
/// binary), else the DN.
fn entry_id(e: &SearchEntry) -> String {
    if let Some(u) = first(e, "entryUUID") {
        return u;
    }
    if let Some((_, v)) = e
        .bin_attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("objectGUID"))
        && let Some(b) = v.first()
    {
        return b.iter().map(|x| format!("{x:02x}")).collect();
    }
    normal_dn(&e.dn)
}

/// One person as read, before groups are joined.
#[derive(Debug, Clone)]
struct RawPerson {
    dn: String,
    account: String,
    name: String,
    department: String,
    mails: Vec<String>,
    machines: Vec<String>,
    member_of: Vec<String>,
}

#[derive(Debug, Clone)]
struct RawGroup {
    name: String,
    /// Normalised member DNs.
    members: BTreeSet<String>,
    /// Member accounts (memberUid), lower-cased.
    member_uids: BTreeSet<String>,
}

/// What the last reads gave, kept between syncs for the incremental ones.
#[derive(Debug, Default, Clone)]
struct Snapshot {
    /// Entry id → person.
    people: HashMap<String, RawPerson>,
    departments: BTreeSet<String>,
    /// Normalised group DN → group.
    groups: BTreeMap<String, RawGroup>,
    /// The newest `modifyTimestamp` seen among people (`20261203145500Z`).
    newest: Option<String>,
    /// Whether the server gives `modifyTimestamp` at all.
    timestamps: bool,
}

impl RawPerson {
    fn from_entry(e: &SearchEntry, map: &PeopleMap) -> Option<RawPerson> {
        let account = first(e, &map.account)?;
        let name = first(e, &map.name)
            .or_else(|| first(e, "cn"))
            .unwrap_or_else(|| account.clone());
        let department = if map.department.eq_ignore_ascii_case("ou") {
            dn_department(&e.dn, &map.ignore_ous, false)
        } else {
            first(e, &map.department).unwrap_or_default()
        };
        let mut mails = Vec::new();
        for a in &map.mail {
            for v in attr(e, a) {
                let v = v.trim();
                // AD proxyAddresses: `SMTP:primary@x`, `smtp:alias@x`, `X400:…`.
                let v = match v.split_once(':') {
                    Some((p, rest)) if p.eq_ignore_ascii_case("smtp") => rest,
                    Some(_) if !v.contains('@') || v.find(':') < v.find('@') => continue,
                    _ => v,
                };
                let v = v.to_lowercase();
                if !v.is_empty() && !mails.contains(&v) {
                    mails.push(v);
                }
            }
        }
        let machines = map
            .machines
            .as_deref()
            .map(|a| attr(e, a).to_vec())
            .unwrap_or_default();
        let member_of = map
            .member_of
            .as_deref()
            .map(|a| attr(e, a).to_vec())
            .unwrap_or_default();
        Some(RawPerson {
            dn: e.dn.clone(),
            account,
            name,
            department,
            mails,
            machines,
            member_of,
        })
    }
}

/// A connection bound as `dn`.
async fn connect(cfg: &LdapConfig) -> anyhow::Result<Ldap> {
    let mut settings = LdapConnSettings::new().set_conn_timeout(cfg.timeout());
    let plain = cfg.url.to_ascii_lowercase().starts_with("ldap://");
    if plain && cfg.starttls {
        settings = settings.set_starttls(true);
    }
    if let Some(ca) = &cfg.ca_file {
        settings = settings.set_config(Arc::new(tls_config(ca)?));
    }
    let (conn, ldap) = LdapConnAsync::with_settings(settings, &cfg.url)
        .await
        .map_err(|e| anyhow::anyhow!("LDAP {}: {e}", cfg.url))?;
    ldap3::drive!(conn);
    Ok(ldap)
}

fn tls_config(ca: &std::path::Path) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca)
        .map_err(|e| anyhow::anyhow!("directory.ldap.ca_file {}: {e}", ca.display()))?
    {
        let cert =
            cert.map_err(|e| anyhow::anyhow!("directory.ldap.ca_file {}: {e}", ca.display()))?;
        roots
            .add(cert)
            .map_err(|e| anyhow::anyhow!("directory.ldap.ca_file {}: {e}", ca.display()))?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

async fn service_bind(cfg: &LdapConfig) -> anyhow::Result<Ldap> {
    let mut ldap = connect(cfg).await?;
    let password = cfg.password()?;
    if !cfg.bind_dn.is_empty() {
        ldap.with_timeout(cfg.timeout())
            .simple_bind(&cfg.bind_dn, &password)
            .await
            .map_err(|e| anyhow::anyhow!("LDAP bind as {}: {e}", cfg.bind_dn))?
            .success()
            .map_err(|e| anyhow::anyhow!("LDAP bind as {}: {e}", cfg.bind_dn))?;
    }
    Ok(ldap)
}

/// Every entry under every base DN matching `filter`, paged.
async fn search_all(
    ldap: &mut Ldap,
    cfg: &LdapConfig,
    filter: &str,
    attrs: Vec<String>,
) -> anyhow::Result<Vec<SearchEntry>> {
    let mut out = Vec::new();
    for base in &cfg.base_dns {
        let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(cfg.page_size.max(1))),
        ];
        let mut s = ldap
            .with_timeout(cfg.timeout())
            .streaming_search_with(adapters, base, Scope::Subtree, filter, attrs.clone())
            .await
            .map_err(|e| anyhow::anyhow!("LDAP search {filter} under {base}: {e}"))?;
        while let Some(e) = s
            .next()
            .await
            .map_err(|e| anyhow::anyhow!("LDAP search {filter} under {base}: {e}"))?
        {
            out.push(SearchEntry::construct(e));
        }
        s.finish()
            .await
            .success()
            .map_err(|e| anyhow::anyhow!("LDAP search {filter} under {base}: {e}"))?;
    }
    Ok(out)
}

fn people_attrs(map: &PeopleMap) -> Vec<String> {
    let mut a = vec![
        map.account.clone(),
        map.name.clone(),
        "cn".into(),
        "entryUUID".into(),
        "objectGUID".into(),
        "modifyTimestamp".into(),
    ];
    a.extend(map.mail.iter().cloned());
    if !map.department.eq_ignore_ascii_case("ou") {
        a.push(map.department.clone());
    }
    a.extend(map.machines.iter().cloned());
    a.extend(map.member_of.iter().cloned());
    a
}

fn group_attrs(map: &GroupMap) -> Vec<String> {
    let mut a = vec![map.name.clone()];
    a.extend(map.member.iter().cloned());
    a.extend(map.member_uid.iter().cloned());
    a
}

fn raw_group(e: &SearchEntry, map: &GroupMap) -> RawGroup {
    RawGroup {
        name: first(e, &map.name).unwrap_or_else(|| first_rdn_value(&e.dn)),
        members: map
            .member
            .iter()
            .flat_map(|a| attr(e, a))
            .map(|d| normal_dn(d))
            .collect(),
        member_uids: map
            .member_uid
            .iter()
            .flat_map(|a| attr(e, a))
            .map(|u| u.trim().to_lowercase())
            .collect(),
    }
}

/// How one sync went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    pub people: usize,
    pub departments: usize,
    pub groups: usize,
    /// People entries read this time (all on a full read, the changed ones otherwise).
    pub read: usize,
    pub full: bool,
    /// Accounts of people in several role groups (`roles`): they get no role (logged).
    pub role_conflicts: Vec<String>,
}

/// The sync's state between rounds: what was read, and how the rounds went.
pub struct Syncer {
    cfg: LdapConfig,
    snapshot: Option<Snapshot>,
    rounds: u64,
    /// The file directory (TOML/CSV) and the host table, merged under LDAP's people.
    base: Vec<Person>,
    hosts: Option<super::hosts::Hosts>,
    pub status: Arc<Mutex<SyncStatus>>,
}

/// What `baomi serve` knows about the LDAP sync (logged; counted).
#[derive(Debug, Default, Clone)]
pub struct SyncStatus {
    pub ok: u64,
    pub failed: u64,
    pub last_ok_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last: Option<SyncReport>,
}

impl Syncer {
    pub fn new(cfg: LdapConfig) -> Syncer {
        Syncer {
            cfg,
            snapshot: None,
            rounds: 0,
            base: Vec::new(),
            hosts: None,
            status: Arc::new(Mutex::new(SyncStatus::default())),
        }
    }

    /// People from the TOML/CSV directory kept beside LDAP's (a person of the same name
    /// is LDAP's; the file's IPs, machines and proxy logins are added to them).
    pub fn with_file_people(mut self, people: Vec<Person>) -> Syncer {
        self.base = people;
        self
    }

    pub fn with_hosts(mut self, hosts: super::hosts::Hosts) -> Syncer {
        self.hosts = Some(hosts);
        self
    }

    /// One round: read (fully or incrementally) and build the directory. On an error the
    /// state read before is kept as it was, so the next round starts from it again.
    pub async fn sync(&mut self) -> anyhow::Result<(Directory, SyncReport)> {
        let result = self.read().await;
        let mut st = self.status.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok((snap, read, full)) => {
                self.rounds += 1;
                let dir = self.build(&snap);
                let report = SyncReport {
                    people: snap.people.len(),
                    departments: snap.departments.len(),
                    groups: snap.groups.len(),
                    read,
                    full,
                    role_conflicts: self.role_conflicts(&snap),
                };
                self.snapshot = Some(snap);
                st.ok += 1;
                st.last_ok_ms = Some(baomi_store::now_ms());
                st.last_error = None;
                st.last = Some(report.clone());
                Ok((dir, report))
            }
            Err(e) => {
                st.failed += 1;
                st.last_error = Some(format!("{e:#}"));
                Err(e)
            }
        }
    }

    async fn read(&self) -> anyhow::Result<(Snapshot, usize, bool)> {
        let cfg = &self.cfg;
        let mut ldap = service_bind(cfg).await?;
        let prev = self.snapshot.clone();
        let full = match &prev {
            None => true,
            Some(p) => {
                !p.timestamps
                    || p.newest.is_none()
                    || cfg.full_sync_every == 0
                    || self
                        .rounds
                        .is_multiple_of(u64::from(cfg.full_sync_every + 1))
            }
        };
        let mut snap = if full {
            Snapshot::default()
        } else {
            prev.clone().unwrap_or_default()
        };
        let filter = match (&prev, full) {
            (Some(p), false) => format!(
                "(&{}(modifyTimestamp>={}))",
                cfg.people.filter,
                filter_value(p.newest.as_deref().unwrap_or("19700101000000Z"))
            ),
            _ => cfg.people.filter.clone(),
        };
        let people = search_all(&mut ldap, cfg, &filter, people_attrs(&cfg.people)).await?;
        let read = people.len();
        let mut any_stamp = prev.as_ref().is_some_and(|p| p.timestamps && !full);
        for e in &people {
            if let Some(ts) = first(e, "modifyTimestamp") {
                any_stamp = true;
                if snap.newest.as_deref().is_none_or(|n| ts.as_str() > n) {
                    snap.newest = Some(ts);
                }
            }
            if let Some(p) = RawPerson::from_entry(e, &cfg.people) {
                snap.people.insert(entry_id(e), p);
            }
        }
        snap.timestamps = any_stamp || (people.is_empty() && prev.is_some_and(|p| p.timestamps));
        if full && !people.is_empty() && !snap.timestamps {
            tracing::info!(
                "directory: the LDAP server gives no modifyTimestamp: every sync is a full re-read"
            );
        }
        // Departments and groups are few: read whole every time.
        snap.departments = search_all(&mut ldap, cfg, &cfg.departments.filter, vec!["ou".into()])
            .await?
            .iter()
            .map(|e| dn_department(&e.dn, &cfg.people.ignore_ous, true))
            .filter(|d| !d.is_empty())
            .collect();
        snap.groups = search_all(&mut ldap, cfg, &cfg.groups.filter, group_attrs(&cfg.groups))
            .await?
            .iter()
            .map(|e| (normal_dn(&e.dn), raw_group(e, &cfg.groups)))
            .collect();
        let _ = ldap.unbind().await;
        Ok((snap, read, full))
    }

    /// People in several role groups, with a warning for each: 三员 are mutually exclusive,
    /// so such a person gets no role at the console until the groups are fixed.
    fn role_conflicts(&self, snap: &Snapshot) -> Vec<String> {
        if self.cfg.roles.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for p in snap.people.values() {
            if let RoleFrom::Conflict(roles) =
                role_from(&self.cfg.roles, &role_group_keys(p, &snap.groups))
            {
                let roles: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                tracing::warn!(
                    account = p.account,
                    dn = p.dn,
                    roles = ?roles,
                    "directory: person in several role groups (三员 are mutually exclusive): \
                     no administrative role is given until they are in one"
                );
                out.push(p.account.clone());
            }
        }
        out.sort();
        out
    }

    fn build(&self, snap: &Snapshot) -> Directory {
        let mut people: Vec<Person> = Vec::with_capacity(snap.people.len() + self.base.len());
        let mut ordered: Vec<&RawPerson> = snap.people.values().collect();
        ordered.sort_by(|a, b| {
            a.department
                .cmp(&b.department)
                .then(a.account.cmp(&b.account))
        });
        for p in ordered {
            let groups = person_groups(p, &snap.groups);
            let mut person = Person {
                name: p.name.clone(),
                department: p.department.clone(),
                ips: Vec::new(),
                mails: p.mails.clone(),
                proxy_users: vec![p.account.clone()],
                machines: p.machines.clone(),
                groups,
                account: Some(p.account.clone()),
                left: None,
            };
            if let Some(f) = self.base.iter().find(|f| {
                f.name == p.name
                    || f.proxy_users
                        .iter()
                        .any(|u| u.eq_ignore_ascii_case(&p.account))
            }) {
                person.ips.extend(f.ips.iter().copied());
                for (to, from) in [
                    (&mut person.mails, &f.mails),
                    (&mut person.proxy_users, &f.proxy_users),
                    (&mut person.machines, &f.machines),
                    (&mut person.groups, &f.groups),
                ] {
                    for v in from {
                        if !to.iter().any(|x| x.eq_ignore_ascii_case(v)) {
                            to.push(v.clone());
                        }
                    }
                }
            }
            people.push(person);
        }
        for f in &self.base {
            if !people.iter().any(|p| p.name == f.name) {
                people.push(f.clone());
            }
        }
        if let Some(h) = &self.hosts {
            h.apply(&mut people);
        }
        let mut departments: BTreeSet<String> = snap.departments.clone();
        departments.extend(people.iter().map(|p| p.department.clone()));
        departments.remove("");
        Directory::new(people).with_departments(departments.into_iter().collect())
    }
}

/// What [`role_from`] compares the role groups with: the normalised DNs and lower-cased
/// names of the groups `p` is in, and the DNs listed on the person (`memberOf`).
fn role_group_keys(p: &RawPerson, groups: &BTreeMap<String, RawGroup>) -> BTreeSet<String> {
    let dn = normal_dn(&p.dn);
    let account = p.account.to_lowercase();
    let mut out = BTreeSet::new();
    for (key, g) in groups {
        if g.members.contains(&dn) || g.member_uids.contains(&account) {
            out.insert(key.clone());
            out.insert(g.name.to_lowercase());
        }
    }
    out.extend(p.member_of.iter().map(|m| normal_dn(m)));
    out
}

/// The names of the groups `p` is in: by member DN, by memberUid, or listed on the person.
fn person_groups(p: &RawPerson, groups: &BTreeMap<String, RawGroup>) -> Vec<String> {
    let dn = normal_dn(&p.dn);
    let account = p.account.to_lowercase();
    let mut out: BTreeSet<String> = groups
        .values()
        .filter(|g| g.members.contains(&dn) || g.member_uids.contains(&account))
        .map(|g| g.name.clone())
        .collect();
    for m in &p.member_of {
        out.insert(
            groups
                .get(&normal_dn(m))
                .map(|g| g.name.clone())
                .unwrap_or_else(|| first_rdn_value(m)),
        );
    }
    out.into_iter().collect()
}

/// Sync from LDAP at start and every `sync_minutes` until `stop`, handing each good
/// directory to `set` (the gateway's `set_directory`); a failed round keeps the last good
/// directory (logged, counted in the returned status). Nothing when `[directory.ldap]` is
/// not set. The file directory's people and the host table (`[directory] hosts`,
/// `dhcp_leases`) are merged in at every round.
pub fn spawn_sync(
    config: &crate::config::ServerConfig,
    set: impl Fn(Directory) + Send + Sync + 'static,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Option<Arc<Mutex<SyncStatus>>> {
    let cfg = config.directory.ldap.clone()?;
    let mut syncer = Syncer::new(cfg.clone());
    if let Some(f) = &config.directory.file {
        match Directory::load(f) {
            Ok(d) => syncer = syncer.with_file_people(d.people().to_vec()),
            Err(e) => tracing::warn!("directory: {e:#}"),
        }
    }
    match super::hosts::Hosts::from_config(&config.directory) {
        Ok(Some(h)) => syncer = syncer.with_hosts(h),
        Ok(None) => {}
        Err(e) => tracing::warn!("directory: {e:#}"),
    }
    let status = syncer.status.clone();
    tokio::spawn(async move {
        let every = Duration::from_secs(cfg.sync_minutes.max(1) * 60);
        loop {
            run_round(&mut syncer, &set).await;
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    });
    Some(status)
}

/// One sync round, handing a good directory to `set` and logging either way.
pub async fn run_round(syncer: &mut Syncer, set: impl FnOnce(Directory)) {
    match syncer.sync().await {
        Ok((dir, r)) => {
            tracing::info!(
                people = r.people,
                departments = r.departments,
                groups = r.groups,
                read = r.read,
                full = r.full,
                "directory: synced from LDAP"
            );
            set(dir);
        }
        Err(e) => {
            let failed = syncer.status.lock().map(|s| s.failed).unwrap_or(0);
            tracing::warn!(
                failures = failed,
                "directory: LDAP sync failed, the last good directory stays: {e:#}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Console login.

/// A role from the groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleFrom {
    /// No role groups configured: the account's own role stands.
    NotMapped,
    /// In exactly one role group.
    One(Role),
    /// In no role group.
    None,
    /// In several: none is given (三员 stay apart).
    Conflict(Vec<Role>),
}

/// The person behind a successful bind.
#[derive(Debug, Clone)]
pub struct LdapUser {
    pub dn: String,
    pub account: String,
    pub name: String,
    pub department: String,
    pub groups: Vec<String>,
    pub role: RoleFrom,
}

/// Why a login by LDAP did not succeed.
#[derive(Debug)]
pub enum AuthError {
    /// No such person, or the wrong password: the caller must not say which.
    Denied,
    /// The server could not be asked (down, the service account refused, …).
    Unavailable(anyhow::Error),
}

/// Check `account`'s `password` by binding as the person's DN, found by a search with the
/// service account (the account escaped for the filter). An empty password is refused
/// before any bind (an LDAP bind with an empty password is an unauthenticated bind that
/// many servers accept).
pub async fn authenticate(
    cfg: &LdapConfig,
    account: &str,
    password: &str,
) -> Result<LdapUser, AuthError> {
    if password.is_empty() || account.trim().is_empty() {
        return Err(AuthError::Denied);
    }
    let mut ldap = service_bind(cfg).await.map_err(AuthError::Unavailable)?;
    let filter = format!(
        "(&{}({}={}))",
        cfg.people.filter,
        cfg.people.account,
        filter_value(account.trim())
    );
    let found = search_all(&mut ldap, cfg, &filter, people_attrs(&cfg.people))
        .await
        .map_err(AuthError::Unavailable)?;
    let [entry] = found.as_slice() else {
        if found.len() > 1 {
            tracing::warn!(
                "console login: {} entries for account {account:?}: refused",
                found.len()
            );
        }
        return Err(AuthError::Denied);
    };
    let Some(person) = RawPerson::from_entry(entry, &cfg.people) else {
        return Err(AuthError::Denied);
    };
    let groups_filter = {
        let dn = filter_value(&entry.dn);
        let mut alts: Vec<String> = cfg
            .groups
            .member
            .iter()
            .map(|a| format!("({a}={dn})"))
            .collect();
        alts.extend(
            cfg.groups
                .member_uid
                .iter()
                .map(|a| format!("({a}={})", filter_value(&person.account))),
        );
        format!("(&{}(|{}))", cfg.groups.filter, alts.concat())
    };
    let groups: BTreeMap<String, RawGroup> =
        search_all(&mut ldap, cfg, &groups_filter, group_attrs(&cfg.groups))
            .await
            .map_err(AuthError::Unavailable)?
            .iter()
            .map(|e| (normal_dn(&e.dn), raw_group(e, &cfg.groups)))
            .collect();
    let _ = ldap.unbind().await;
    // The password, on a connection of its own.
    let mut user = connect(cfg).await.map_err(AuthError::Unavailable)?;
    let bound = user
        .with_timeout(cfg.timeout())
        .simple_bind(&entry.dn, password)
        .await
        .map_err(|e| AuthError::Unavailable(anyhow::anyhow!("LDAP bind: {e}")))?;
    let _ = user.unbind().await;
    match bound.rc {
        0 => {}
        // invalidCredentials; also inappropriateAuthentication, unwillingToPerform.
        49 | 48 | 53 => return Err(AuthError::Denied),
        rc => {
            return Err(AuthError::Unavailable(anyhow::anyhow!(
                "LDAP bind as {}: result {rc} {}",
                entry.dn,
                bound.text
            )));
        }
    }
    let mut role_groups: BTreeSet<String> = groups.keys().cloned().collect();
    role_groups.extend(groups.values().map(|g| g.name.to_lowercase()));
    role_groups.extend(person.member_of.iter().map(|m| normal_dn(m)));
    let role = role_from(&cfg.roles, &role_groups);
    let group_names = person_groups(&person, &groups);
    Ok(LdapUser {
        dn: entry.dn.clone(),
        account: person.account,
        name: person.name,
        department: person.department,
        groups: group_names,
        role,
    })
}

impl RoleFrom {
    /// The same for the store's login: `None` names the roles that come from groups.
    pub fn to_store(&self, roles: &BTreeMap<String, String>) -> DirectoryRole {
        match self {
            RoleFrom::NotMapped => DirectoryRole::NotMapped,
            RoleFrom::One(r) => DirectoryRole::One(*r),
            RoleFrom::None => DirectoryRole::None {
                mapped: roles.keys().filter_map(|r| Role::parse(r)).collect(),
            },
            RoleFrom::Conflict(r) => DirectoryRole::Conflict(r.clone()),
        }
    }
}

/// The directory's part of a console login, for [`baomi_store::Store::login_with`]: the
/// bind as the person (awaited only when the account is an LDAP one, or unknown and
/// `console_login` allows creating it), and the role its groups give.
pub fn console_login<'a>(
    cfg: &'a LdapConfig,
    account: &'a str,
    password: &'a str,
) -> DirectoryLogin<'a> {
    DirectoryLogin {
        create_accounts: cfg.console_login,
        check: Box::pin(async move {
            match authenticate(cfg, account, password).await {
                Ok(u) => DirectoryCheck::Verified(DirectoryPerson {
                    role: u.role.to_store(&cfg.roles),
                    dn: u.dn,
                    display_name: u.name,
                    department: u.department,
                }),
                Err(AuthError::Denied) => DirectoryCheck::Wrong,
                Err(AuthError::Unavailable(e)) => DirectoryCheck::Unavailable(format!("{e:#}")),
            }
        }),
    }
}

/// The role from the groups a person is in (`groups`: normalised DNs and lower-cased names).
pub fn role_from(roles: &BTreeMap<String, String>, groups: &BTreeSet<String>) -> RoleFrom {
    if roles.is_empty() {
        return RoleFrom::NotMapped;
    }
    let mut found: Vec<Role> = roles
        .iter()
        .filter(|(_, g)| {
            let g = if g.contains('=') {
                normal_dn(g)
            } else {
                g.trim().to_lowercase()
            };
            groups.contains(&g)
        })
        .filter_map(|(r, _)| Role::parse(r))
        .collect();
    found.sort_by_key(|r| r.as_str());
    found.dedup();
    // The staff group is usually everybody: a role of its own only for those in no other.
    if found.len() > 1 {
        found.retain(|r| *r != Role::Staff);
    }
    match found.len() {
        0 => RoleFrom::None,
        1 => RoleFrom::One(found[0]),
        _ => RoleFrom::Conflict(found),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_are_escaped() {
        assert_eq!(filter_value("zhangsan"), "zhangsan");
        assert_eq!(filter_value("*"), "\\2a");
        assert_eq!(filter_value("a)(uid=*"), "a\\29\\28uid=\\2a");
        assert_eq!(filter_value("x\\y\0"), "x\\5cy\\00");
        assert_eq!(filter_value("张三(办公室)"), "张三\\28办公室\\29");
        // An injection attempt stays one value of one equality filter.
        let f = format!(
            "(&(objectClass=person)(uid={}))",
            filter_value("*)(|(uid=*")
        );
        assert_eq!(f, "(&(objectClass=person)(uid=\\2a\\29\\28|\\28uid=\\2a))");
        assert_eq!(f.matches('(').count(), f.matches(')').count());
    }

    #[test]
    fn dn_to_department() {
        let none: Vec<String> = Vec::new();
        let dn = "uid=zhangsan,ou=保密科,ou=办公室,ou=市局,dc=unit,dc=cn";
        assert_eq!(dn_department(dn, &none, false), "市局/办公室/保密科");
        // The OU itself, for the tree.
        assert_eq!(
            dn_department("ou=保密科,ou=办公室,dc=unit,dc=cn", &none, true),
            "办公室/保密科"
        );
        // Containers left out; AD's upper-case types; escaped commas and hex-escaped UTF-8.
        let ignore = vec!["people".to_owned()];
        assert_eq!(
            dn_department(
                "CN=Zhang\\, San,OU=People,OU=\\E8\\B4\\A2\\E5\\8A\\A1\\E5\\A4\\84,DC=unit,DC=cn",
                &ignore,
                false
            ),
            "财务处"
        );
        assert_eq!(dn_department("cn=admin,dc=unit,dc=cn", &none, false), "");
        assert_eq!(
            parse_dn("cn=a\\+b+uid=x,ou=o"),
            vec![
                ("cn".to_owned(), "a+b".to_owned()),
                ("uid".to_owned(), "x".to_owned()),
                ("ou".to_owned(), "o".to_owned())
            ]
        );
        assert_eq!(
            normal_dn("UID=ZhangSan, OU=办公室,DC=Unit"),
            "uid=zhangsan,ou=办公室,dc=unit"
        );
    }

    #[test]
    fn roles_are_exclusive() {
        let roles: BTreeMap<String, String> = [
            ("sysadmin", "cn=baomi-sysadmin,ou=groups,dc=unit,dc=cn"),
            ("secadmin", "baomi-secadmin"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(
            role_from(&roles, &set(&["cn=baomi-sysadmin,ou=groups,dc=unit,dc=cn"])),
            RoleFrom::One(Role::Sysadmin)
        );
        assert_eq!(
            role_from(&roles, &set(&["baomi-secadmin"])),
            RoleFrom::One(Role::Secadmin)
        );
        assert_eq!(role_from(&roles, &set(&["other"])), RoleFrom::None);
        assert_eq!(
            role_from(
                &roles,
                &set(&[
                    "baomi-secadmin",
                    "cn=baomi-sysadmin,ou=groups,dc=unit,dc=cn"
                ])
            ),
            RoleFrom::Conflict(vec![Role::Secadmin, Role::Sysadmin])
        );
        assert_eq!(
            role_from(&BTreeMap::new(), &set(&["x"])),
            RoleFrom::NotMapped
        );
        // Everybody is in the staff group: another role group wins over it.
        let mut roles = roles;
        roles.insert("staff".into(), "all-staff".into());
        assert_eq!(
            role_from(&roles, &set(&["all-staff", "baomi-secadmin"])),
            RoleFrom::One(Role::Secadmin)
        );
        assert_eq!(
            role_from(&roles, &set(&["all-staff"])),
            RoleFrom::One(Role::Staff)
        );
        assert_eq!(
            role_from(
                &roles,
                &set(&[
                    "all-staff",
                    "baomi-secadmin",
                    "cn=baomi-sysadmin,ou=groups,dc=unit,dc=cn"
                ])
            ),
            RoleFrom::Conflict(vec![Role::Secadmin, Role::Sysadmin])
        );
    }
}
