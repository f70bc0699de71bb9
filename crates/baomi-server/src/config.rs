//! `baomi.toml`: everything `baomi serve` can be told. Every field has a default, so the
//! server runs with no file at all on the embedded SQLite store; command-line flags override
//! the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Database, evidence, keys, policy.toml, dictionaries/ and the fingerprint registry.
    pub data_dir: Option<PathBuf>,
    pub listen: Listen,
    pub database: Database,
    pub gateway: Gateway,
    pub icap: Icap,
    pub milter: Milter,
    pub directory: Directory,
    pub console: Console,
    pub http: Http,
    pub records: Records,
    pub scan: Scan,
    pub node: Node,
}

/// `[node]`: this node among several on one PostgreSQL (`GET /api/v1/nodes`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Node {
    /// A stable name for this node. Default: the host name and the HTTP port.
    pub id: Option<String>,
    /// How often (seconds) the node looks for a changed policy, term list or registry when
    /// it has no notification channel (SQLite: the only way; PostgreSQL: the safety net
    /// beside LISTEN/NOTIFY). Default 1 on SQLite, 5 on PostgreSQL.
    pub reload_poll_secs: Option<u64>,
}

/// `[scan]`: how objects are opened, for every door alike.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scan {
    /// The password bank (one password per line, UTF-8) tried on encrypted archives and
    /// documents. Default: DATA_DIR/passwords.txt if present.
    pub passwords: Option<PathBuf>,
}

/// `[records]`: what the forms say about the unit itself.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Records {
    /// The unit's name (报送单位 of clue reports, the heading of the statistics table).
    pub unit: String,
}

/// HTTPS on the HTTP listener: both files set, or neither.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Http {
    /// PEM certificate chain.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub tls_key: Option<PathBuf>,
}

impl Http {
    /// Served over TLS: secure cookies with the `__Host-` prefix.
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Console {
    /// Largest file the security officer may upload to "test a file" (bytes).
    pub test_max_bytes: u64,
    /// Language of the pages for people who have not chosen one: `zh` or `en`.
    pub default_language: String,
}

impl Default for Console {
    fn default() -> Self {
        Console {
            test_max_bytes: 100 << 20,
            default_language: "zh".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Listen {
    pub http: SocketAddr,
    /// `off` turns a door off.
    pub icap: String,
    pub milter: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Database {
    /// `postgres://user@host/db`; unset means SQLite in the data directory.
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Gateway {
    /// The weakest action that becomes an incident (`audit`, `alert`, `quarantine`, `block`).
    pub record_from: String,
    /// Keep the inspected object as encrypted evidence with each incident.
    pub evidence: bool,
    /// Objects larger than this are recorded without evidence (the incident says so).
    pub evidence_max_bytes: u64,
    /// Where the encrypted evidence and its key live, when not in the data directory:
    /// several nodes on one PostgreSQL point this at one shared directory (NFS, CephFS), so
    /// any node shows the evidence any node kept.
    pub evidence_dir: Option<PathBuf>,
    /// Incidents and their evidence older than this are deleted (0 keeps them for ever).
    pub retention_days: u32,
    /// On an internal error or timeout: let the traffic pass (true) or stop it (false).
    pub fail_open: bool,
    /// Who to contact, shown on block pages and in mail rejections.
    pub contact: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Icap {
    pub preview_bytes: usize,
    pub max_connections: usize,
    pub inspect_timeout_secs: u64,
    pub idle_timeout_secs: u64,
    pub max_body_bytes: u64,
    pub spool_threshold_bytes: u64,
    /// Where spooled bodies go; the system temp dir when unset.
    pub spool_dir: Option<PathBuf>,
    /// Uploads sent in pieces (Content-Range, tus, slice uploads): bytes held on the spool
    /// for all uploads in progress, how many at once, and how long one may sit idle.
    pub pieces_max_bytes: u64,
    pub pieces_max_uploads: usize,
    pub pieces_max_age_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Milter {
    pub inspect_timeout_secs: u64,
    pub max_message_bytes: u64,
    /// Mail whose recipients are all in these domains is internal: its policy is the
    /// `internal_action_cap` below instead of the mail channel's.
    pub internal_domains: Vec<String>,
    /// The strongest action applied to internal-only mail (`alert` by default: classified
    /// mail between colleagues on the intranet is recorded, not bounced).
    pub internal_action_cap: String,
    /// `postsuper` for releasing and deleting held mail.
    pub postsuper: PathBuf,
    /// Postfix's configuration directory when it is not the default.
    pub postfix_config_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Directory {
    /// Users and departments: a `.toml` or `.csv` file (see `directory.rs`). With `[directory.ldap]`
    /// its people are kept beside LDAP's (their IPs, machines and logins added to LDAP's
    /// person of the same name or account).
    pub file: Option<PathBuf>,
    /// The directory from LDAP / Active Directory (`directory/ldap.rs`).
    pub ldap: Option<crate::directory::ldap::LdapConfig>,
    /// Host table: `ip,machine,person` CSV (`directory/hosts.rs`).
    pub hosts: Option<PathBuf>,
    /// DHCP leases files (ISC dhcpd.leases or dnsmasq), re-read at every sync.
    pub dhcp_leases: Vec<PathBuf>,
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            http: "127.0.0.1:8080".parse().expect("address"),
            icap: "127.0.0.1:1344".into(),
            milter: "127.0.0.1:8899".into(),
        }
    }
}

impl Default for Gateway {
    fn default() -> Self {
        Gateway {
            record_from: "alert".into(),
            evidence: true,
            evidence_max_bytes: 1 << 30,
            evidence_dir: None,
            retention_days: 365,
            fail_open: false,
            contact: "本单位保密办公室 / the security office".into(),
        }
    }
}

impl Default for Icap {
    fn default() -> Self {
        Icap {
            preview_bytes: 4096,
            max_connections: 512,
            inspect_timeout_secs: 90,
            idle_timeout_secs: 60,
            max_body_bytes: 4 << 30,
            spool_threshold_bytes: 16 << 20,
            spool_dir: None,
            pieces_max_bytes: 2 << 30,
            pieces_max_uploads: 1024,
            pieces_max_age_secs: 3600,
        }
    }
}

impl Default for Milter {
    fn default() -> Self {
        Milter {
            inspect_timeout_secs: 120,
            max_message_bytes: 200 << 20,
            internal_domains: Vec::new(),
            internal_action_cap: "alert".into(),
            postsuper: "/usr/sbin/postsuper".into(),
            postfix_config_dir: None,
        }
    }
}

impl ServerConfig {
    pub fn load(path: &Path) -> anyhow::Result<ServerConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        ServerConfig::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> anyhow::Result<ServerConfig> {
        let c: ServerConfig = toml::from_str(text)?;
        c.check()?;
        Ok(c)
    }

    pub fn check(&self) -> anyhow::Result<()> {
        self.icap_addr()?;
        self.milter_addr()?;
        for (what, v) in [
            ("gateway.record_from", &self.gateway.record_from),
            (
                "milter.internal_action_cap",
                &self.milter.internal_action_cap,
            ),
        ] {
            if baomi_core::Action::parse(v).is_none() {
                anyhow::bail!(
                    "{what}: unknown action {v:?} (allow, audit, alert, quarantine, block)"
                );
            }
        }
        if let Some(l) = &self.directory.ldap {
            l.check()?;
        }
        if self.http.tls_cert.is_some() != self.http.tls_key.is_some() {
            anyhow::bail!("http.tls_cert and http.tls_key go together: set both or neither");
        }
        Ok(())
    }

    pub fn icap_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        door_addr("listen.icap", &self.listen.icap)
    }

    pub fn milter_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        door_addr("listen.milter", &self.listen.milter)
    }

    pub fn record_from(&self) -> baomi_core::Action {
        baomi_core::Action::parse(&self.gateway.record_from).unwrap_or(baomi_core::Action::Alert)
    }
}

fn door_addr(what: &str, v: &str) -> anyhow::Result<Option<SocketAddr>> {
    if v.is_empty() || v == "off" {
        return Ok(None);
    }
    v.parse()
        .map(Some)
        .map_err(|_| anyhow::anyhow!("{what}: {v:?} is not HOST:PORT or off"))
}

/// The sample shipped in the repository parses and equals the defaults where it is silent.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_config_parses() {
        let text = include_str!("../../../baomi.toml.example");
        let c = ServerConfig::parse(text).unwrap();
        assert_eq!(c.listen.http.port(), 8080);
        assert_eq!(c.icap_addr().unwrap().unwrap().port(), 1344);
        let off = ServerConfig::parse("[listen]\nmilter = \"off\"\n").unwrap();
        assert_eq!(off.milter_addr().unwrap(), None);
        assert!(ServerConfig::parse("[gateway]\nrecord_from = \"maybe\"\n").is_err());
        assert!(ServerConfig::parse("[gateway]\nfail_opne = true\n").is_err());
    }
}
