//! Whether a medium is registered, for `usb.mode = "read-only-unless-registered"`: its
//! serial in the agent's config (`usb.registered`), or an issued carrier (在用) of the
//! server's carrier ledger (台账), asked at `GET /api/v1/agent/carrier?serial=S` when the
//! medium appears.
//!
//! Every answer of the server — yes or no — is kept in `DATA_DIR/carriers.json`, so an
//! agent that cannot reach the server (offline, the server down) decides by the last answer
//! it had for that serial. The question has a time limit ([`ASK_TIMEOUT`]) and a default: a
//! serial the server never answered for, and that the config does not list, is not
//! registered (read-only: the mode fails closed).

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::AgentConfig;
use crate::usb::Medium;

/// How long the agent waits for the server's answer before it uses its cache.
pub const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// Where a registration decision came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// `usb.registered` in the config.
    Config,
    /// The server's ledger, answered now.
    Server,
    /// The server's last answer, kept (the server was not reachable).
    Cache,
    /// No serial, no server and nothing kept.
    Unknown,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::Server => "server",
            Source::Cache => "cache",
            Source::Unknown => "unknown",
        }
    }
}

/// The server's answer for one serial, as kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// In the ledger at all.
    pub registered: bool,
    /// Issued: may be written to.
    pub writable: bool,
    #[serde(default)]
    pub number: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub holder: Option<String>,
    /// When the server said so (RFC 3339).
    pub answered: String,
}

/// The decision for one medium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// May be mounted writable.
    pub writable: bool,
    pub source: Source,
    /// The server's answer behind it (`Server`, `Cache`).
    pub answer: Option<Answer>,
}

/// The agent's view of the ledger: its config, the server, the kept answers.
pub struct Carriers {
    http: Option<(ureq::Agent, String, Option<String>)>,
    cache_path: PathBuf,
    cache: HashMap<String, Answer>,
}

impl Carriers {
    pub fn new(cfg: &AgentConfig) -> anyhow::Result<Carriers> {
        let http = match &cfg.server {
            Some(server) => Some((
                crate::deliver::http_agent(cfg, ASK_TIMEOUT)?,
                server.trim_end_matches('/').to_owned(),
                cfg.token()?,
            )),
            None => None,
        };
        let cache_path = cfg.data_dir.join("carriers.json");
        let cache = fs::read(&cache_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Ok(Carriers {
            http,
            cache_path,
            cache,
        })
    }

    /// Whether `medium` may be written to: in the config's list, else as the server says
    /// now, else as it said last time, else not.
    pub fn check(&mut self, cfg: &AgentConfig, medium: &Medium) -> Registration {
        if medium.registered(cfg) {
            return Registration {
                writable: true,
                source: Source::Config,
                answer: None,
            };
        }
        let Some(serial) = medium.serial().map(|s| s.trim().to_ascii_uppercase()) else {
            return Registration {
                writable: false,
                source: Source::Unknown,
                answer: None,
            };
        };
        match self.ask(&serial) {
            Ok(answer) => {
                if self.cache.get(&serial) != Some(&answer) {
                    self.cache.insert(serial.clone(), answer.clone());
                    self.save();
                }
                Registration {
                    writable: answer.writable,
                    source: Source::Server,
                    answer: Some(answer),
                }
            }
            Err(why) => {
                let kept = self.cache.get(&serial).cloned();
                tracing::warn!(serial = %serial, reason = %why, kept = kept.is_some(), "cannot ask the server whether the medium is registered; using the last answer");
                match kept {
                    Some(answer) => Registration {
                        writable: answer.writable,
                        source: Source::Cache,
                        answer: Some(answer),
                    },
                    None => Registration {
                        writable: false,
                        source: Source::Unknown,
                        answer: None,
                    },
                }
            }
        }
    }

    fn ask(&self, serial: &str) -> Result<Answer, String> {
        let Some((http, base, token)) = &self.http else {
            return Err("no server configured".into());
        };
        let mut req = http
            .get(format!("{base}/api/v1/agent/carrier"))
            .query("serial", serial);
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let mut resp = req.call().map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let mut text = String::new();
        let _ = resp
            .body_mut()
            .as_reader()
            .take(64 * 1024)
            .read_to_string(&mut text);
        if status != 200 {
            return Err(format!("the server answered {status}"));
        }
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let s = |k: &str| v[k].as_str().map(str::to_owned);
        Ok(Answer {
            registered: v["registered"].as_bool().unwrap_or(false),
            writable: v["writable"].as_bool().unwrap_or(false),
            number: s("number"),
            state: s("state"),
            holder: s("holder"),
            answered: crate::queue::now_rfc3339(),
        })
    }

    fn save(&self) {
        let bytes = serde_json::to_vec_pretty(&self.cache).unwrap_or_default();
        let tmp = self.cache_path.with_extension("json.tmp");
        let saved = fs::write(&tmp, bytes).and_then(|()| fs::rename(&tmp, &self.cache_path));
        if let Err(e) = saved {
            tracing::warn!(%e, "cannot keep the server's answer about the medium (offline decisions use the config only)");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mounts::Device;

    fn medium(serial: Option<&str>) -> Medium {
        Medium {
            mount_point: "/media/u/K".into(),
            device: serial.map(|s| Device {
                serial: Some(s.into()),
                ..Default::default()
            }),
            source: "/dev/sdb1".into(),
            explicit: false,
            is_mount: true,
        }
    }

    #[test]
    fn without_a_server_the_config_and_the_kept_answers_decide() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = AgentConfig {
            data_dir: dir.path().to_owned(),
            ..Default::default()
        };
        cfg.usb.registered = vec!["CFG-1".into()];
        let kept = HashMap::from([
            (
                "LEDGER-1".to_owned(),
                Answer {
                    registered: true,
                    writable: true,
                    number: Some("YD-001".into()),
                    state: Some("issued".into()),
                    holder: Some("张三".into()),
                    answered: "2026-12-01T00:00:00Z".into(),
                },
            ),
            (
                "RETURNED-1".to_owned(),
                Answer {
                    registered: true,
                    writable: false,
                    number: Some("YD-002".into()),
                    state: Some("returned".into()),
                    holder: None,
                    answered: "2026-12-01T00:00:00Z".into(),
                },
            ),
        ]);
        fs::write(
            dir.path().join("carriers.json"),
            serde_json::to_vec(&kept).unwrap(),
        )
        .unwrap();
        let mut c = Carriers::new(&cfg).unwrap();
        let r = c.check(&cfg, &medium(Some("cfg-1")));
        assert_eq!((r.writable, r.source), (true, Source::Config));
        // Serials are kept upper-case; sysfs may say either.
        let r = c.check(&cfg, &medium(Some("ledger-1")));
        assert_eq!((r.writable, r.source), (true, Source::Cache));
        assert_eq!(r.answer.unwrap().number.as_deref(), Some("YD-001"));
        let r = c.check(&cfg, &medium(Some("RETURNED-1")));
        assert_eq!((r.writable, r.source), (false, Source::Cache));
        let r = c.check(&cfg, &medium(Some("NEVER-SEEN")));
        assert_eq!((r.writable, r.source), (false, Source::Unknown));
        let r = c.check(&cfg, &medium(None));
        assert_eq!((r.writable, r.source), (false, Source::Unknown));
    }

    #[test]
    fn a_server_that_does_not_answer_in_time_leaves_the_decision_to_the_cache() {
        // A listener that accepts and never answers.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let cfg = AgentConfig {
            data_dir: dir.path().to_owned(),
            server: Some(format!("http://127.0.0.1:{port}")),
            token: Some("t".into()),
            ..Default::default()
        };
        let mut c = Carriers::new(&cfg).unwrap();
        let started = std::time::Instant::now();
        let r = c.check(&cfg, &medium(Some("X1")));
        assert!(started.elapsed() < ASK_TIMEOUT + Duration::from_secs(2));
        assert_eq!((r.writable, r.source), (false, Source::Unknown));
        drop(l);
    }
}
