//! `/etc/baomi/agent.toml` (or `--config FILE`, or `BAOMI_AGENT_CONFIG`): the agent's and the
//! CUPS backend's settings. Every key is optional; without a `server` the agent works alone
//! and keeps its incidents in its queue. The shipped example is `packaging/agent.toml.example`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Where the config is read from when no `--config` is given.
pub const DEFAULT_PATH: &str = "/etc/baomi/agent.toml";
/// The environment variable that names the config file.
pub const ENV_VAR: &str = "BAOMI_AGENT_CONFIG";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// The Baomi server (`https://baomi.unit.cn:8443`); none: work alone.
    pub server: Option<String>,
    /// A `scan`-scoped API token, inline …
    pub token: Option<String>,
    /// … or in a file readable by root only (preferred).
    pub token_file: Option<PathBuf>,
    /// A private CA for the server's certificate (PEM).
    pub ca_cert: Option<PathBuf>,
    /// Who uses this computer, its department and name. Defaults: the logged-in user, the
    /// server's directory, the host name.
    pub person: Option<String>,
    pub department: Option<String>,
    pub machine: Option<String>,
    /// The agent's own state: `queue/`, the incremental-scan index, the engine's data
    /// (policy, dictionaries, fingerprints as `baomi scan --data-dir` reads them).
    pub data_dir: PathBuf,
    /// Blocked files, encrypted (the server's evidence scheme). Default `DATA_DIR/quarantine`.
    pub quarantine: Option<PathBuf>,
    /// Where the policy comes from: `"server"` (fetched and refreshed every
    /// `policy_refresh_secs`, the last good copy kept in DATA_DIR for offline use) or the
    /// path of a policy TOML file. Default: the server when there is one, else DATA_DIR's.
    pub policy: Option<String>,
    pub policy_refresh_secs: u64,
    /// Whom to ask, written into the notice left in a blocked file's place and shown in
    /// desktop notifications (`保密办 王某 分机 8001`).
    pub contact: String,
    /// The computer is classified (涉密计算机): `baomi traces` looks for internet use on it
    /// and counts every unregistered medium it finds as an alert.
    pub classified: bool,
    pub usb: UsbConfig,
    pub print: PrintConfig,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            server: None,
            token: None,
            token_file: None,
            ca_cert: None,
            person: None,
            department: None,
            machine: None,
            data_dir: PathBuf::from("/var/lib/baomi-agent"),
            quarantine: None,
            policy: None,
            policy_refresh_secs: 300,
            contact: "本单位保密办".into(),
            classified: false,
            usb: UsbConfig::default(),
            print: PrintConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsbConfig {
    /// `"inspect"` (default): files written to removable media are inspected after they are
    /// closed; `"read-only-unless-registered"`: media whose serial is not registered are
    /// mounted read-only.
    pub mode: UsbMode,
    /// Mount points treated as removable media whatever udisks2 says (tests, odd setups).
    pub watch: Vec<PathBuf>,
    /// Serials of media registered for this computer (beside the server's carrier ledger).
    pub registered: Vec<String>,
    /// Longest time one file's inspection may take before its default applies.
    pub inspect_timeout_secs: u64,
    /// Files larger than this are not copied into the quarantine whole; they are still
    /// inspected and, when blocked, removed from the medium (the incident says so).
    pub quarantine_max_bytes: u64,
}

impl Default for UsbConfig {
    fn default() -> Self {
        UsbConfig {
            mode: UsbMode::Inspect,
            watch: Vec::new(),
            registered: Vec::new(),
            inspect_timeout_secs: 60,
            quarantine_max_bytes: 2 << 30,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum UsbMode {
    #[default]
    Inspect,
    ReadOnlyUnlessRegistered,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrintConfig {
    /// Longest time one job's inspection may take; then `on_timeout` applies.
    pub inspect_timeout_secs: u64,
    /// What a job gets when it cannot be inspected in time or at all: `"cancel"` (default,
    /// fail closed) or `"print"`.
    pub on_timeout: PrintFallback,
    /// Largest job spooled for inspection (the CUPS backend's disk use); a larger job is
    /// not inspected and gets `on_timeout`.
    pub max_job_bytes: u64,
    /// Allow `baomi:/file:///PATH` devices other than `file:///dev/null` (cupsd's
    /// `FileDevice`; the backend writes them itself, as root).
    pub file_device: bool,
    /// How often the agent asks the server for the security officer's decisions on held
    /// jobs (release or cancel), in seconds.
    pub decision_poll_secs: u64,
}

impl Default for PrintConfig {
    fn default() -> Self {
        PrintConfig {
            inspect_timeout_secs: 120,
            on_timeout: PrintFallback::Cancel,
            max_job_bytes: 512 << 20,
            file_device: false,
            decision_poll_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PrintFallback {
    #[default]
    Cancel,
    Print,
}

impl AgentConfig {
    /// Read the config: `explicit`, else `$BAOMI_AGENT_CONFIG`, else the default path; a
    /// missing default file means all defaults, a missing named file is an error.
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<AgentConfig> {
        let named = explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os(ENV_VAR).map(PathBuf::from));
        let path = named.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_PATH));
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && named.is_none() => {
                Ok(AgentConfig::default())
            }
            Err(e) => Err(anyhow::anyhow!("{}: {e}", path.display())),
        }
    }

    pub fn parse(text: &str) -> anyhow::Result<AgentConfig> {
        Ok(toml::from_str(text)?)
    }

    pub fn queue_dir(&self) -> PathBuf {
        self.data_dir.join("queue")
    }

    pub fn quarantine_dir(&self) -> PathBuf {
        self.quarantine
            .clone()
            .unwrap_or_else(|| self.data_dir.join("quarantine"))
    }

    /// The API token, from `token` or `token_file` (trimmed).
    pub fn token(&self) -> anyhow::Result<Option<String>> {
        if let Some(t) = &self.token {
            return Ok(Some(t.trim().to_owned()));
        }
        match &self.token_file {
            Some(f) => Ok(Some(
                std::fs::read_to_string(f)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?
                    .trim()
                    .to_owned(),
            )),
            None => Ok(None),
        }
    }

    /// This computer's name: `machine`, else the host name.
    pub fn machine_name(&self) -> String {
        if let Some(m) = &self.machine {
            return m.clone();
        }
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_owned())
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_all_defaults_and_unknown_keys_are_refused() {
        let c = AgentConfig::parse("").unwrap();
        assert_eq!(c.usb.mode, UsbMode::Inspect);
        assert_eq!(c.queue_dir(), PathBuf::from("/var/lib/baomi-agent/queue"));
        assert!(AgentConfig::parse("sevrer = \"x\"").is_err());
        let c = AgentConfig::parse(
            "server = \"https://b:8443\"\n[usb]\nmode = \"read-only-unless-registered\"\nwatch = [\"/media/u\"]\n",
        )
        .unwrap();
        assert_eq!(c.usb.mode, UsbMode::ReadOnlyUnlessRegistered);
        assert_eq!(c.usb.watch, vec![PathBuf::from("/media/u")]);
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    /// Every key the shipped example names (commented out) is a real key: uncommented, the
    /// example parses.
    #[test]
    fn the_shipped_example_names_real_keys() {
        let text = include_str!("../../../packaging/agent.toml.example");
        let uncommented: String = text
            .lines()
            .map(|l| {
                let t = l.strip_prefix("# ").unwrap_or(l);
                let is_key = t.split_once(" = ").is_some_and(|(k, _)| {
                    !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                });
                if is_key { t.to_owned() } else { l.to_owned() }
            })
            .collect::<Vec<_>>()
            .join("\n");
        // `token` and `token_file` are alternatives; both parse.
        let c = AgentConfig::parse(&uncommented).unwrap();
        assert_eq!(c.server.as_deref(), Some("https://baomi.unit.cn:8443"));
        assert_eq!(c.usb.registered, vec!["E0D55EA5741".to_owned()]);
        assert_eq!(c.usb.quarantine_max_bytes, 2_147_483_648);
    }
}
