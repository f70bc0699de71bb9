//! Carrying queued events to the server: each pending event's content is posted to the
//! server's `POST /api/v1/scan` with `event_id`, `at`, `local_action`, `channel`, `user`,
//! `name`, `destination` and `source=agent:MACHINE`, under the `scan` token.
//!
//! Outcomes per event:
//! - 2xx: the server has it (`already: true` when an earlier delivery's answer was lost —
//!   the server de-duplicates by the event id): removed from the queue; the incident number
//!   the server gave it (`BM-YYYYMMDD-NNNNNN`) is noted in `DATA_DIR/incident-numbers.jsonl`
//!   and written into the notice left on the medium, if it is still there
//!   ([`crate::usb::note_incident_number`]), so the user can quote the server's number;
//! - 4xx other than 408 and 429: the server will never take it as it is (a bad token is a
//!   401 though, and that is the unit's configuration, not the event): 401/403 keep it
//!   waiting like a server fault; any other 4xx moves it to `bad/` with the reason logged;
//! - anything else (no connection, 5xx, 408, 429, a timeout): it waits; the loop backs off
//!   from 1 s, doubling to 5 min, with jitter, and never drops an event.

use std::fs;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

use crate::config::AgentConfig;
use crate::queue::{Event, Queue};

/// The client and where it sends.
pub struct Deliverer {
    http: ureq::Agent,
    base: String,
    token: Option<String>,
    machine: String,
    data_dir: PathBuf,
}

/// What one pass over the queue did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub delivered: usize,
    pub waiting: usize,
    pub refused: usize,
}

/// One event's delivery.
#[derive(Debug)]
enum Sent {
    Delivered {
        already: bool,
        incidents: Vec<String>,
    },
    /// Try again later (the reason is for the log).
    Later(String),
    /// The server refuses this event for good.
    Refused(String),
}

impl Deliverer {
    /// None when the config names no server (the agent works alone then).
    pub fn new(cfg: &AgentConfig) -> anyhow::Result<Option<Deliverer>> {
        let Some(server) = &cfg.server else {
            return Ok(None);
        };
        let http = http_agent(cfg, Duration::from_secs(600))?;
        Ok(Some(Deliverer {
            http,
            base: server.trim_end_matches('/').to_owned(),
            token: cfg.token()?,
            machine: cfg.machine_name(),
            data_dir: cfg.data_dir.clone(),
        }))
    }

    /// Try every pending event once, oldest first. Stops at the first "later" (the server
    /// is down or busy: the rest would fail alike).
    pub fn pass(&self, queue: &Queue) -> anyhow::Result<Pass> {
        let pending = queue.pending()?;
        let mut pass = Pass::default();
        let total = pending.len();
        for (i, ev) in pending.into_iter().enumerate() {
            match self.send(queue, &ev) {
                Sent::Delivered { already, incidents } => {
                    tracing::info!(
                        event = %ev.id,
                        already,
                        incidents = %incidents.join(","),
                        "delivered to the server"
                    );
                    if let Some(number) = incidents.first() {
                        crate::usb::note_incident_number(&self.data_dir, &ev, number);
                    }
                    queue.done(&ev)?;
                    pass.delivered += 1;
                }
                Sent::Refused(why) => {
                    tracing::error!(event = %ev.id, reason = %why, "the server refused the event for good; moved to bad/");
                    queue.set_aside(&ev, &why)?;
                    pass.refused += 1;
                }
                Sent::Later(why) => {
                    tracing::warn!(event = %ev.id, reason = %why, "delivery failed; will retry");
                    pass.waiting = total - i;
                    break;
                }
            }
        }
        Ok(pass)
    }

    /// The security officer's decisions on print jobs held on this computer, not carried
    /// out yet: `(id, event_id, decision)`.
    pub fn print_decisions(&self) -> anyhow::Result<Vec<(i64, String, String)>> {
        let mut req = self
            .http
            .get(format!("{}/api/v1/agent/print-decisions", self.base))
            .query("machine", &self.machine);
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let mut r = req.call()?;
        let status = r.status().as_u16();
        let mut text = String::new();
        r.body_mut()
            .as_reader()
            .take(1 << 20)
            .read_to_string(&mut text)?;
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if status != 200 {
            anyhow::bail!("{status} {}", reason(&v, &text));
        }
        Ok(v["decisions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| {
                        Some((
                            d["id"].as_i64()?,
                            d["event_id"].as_str()?.to_owned(),
                            d["decision"].as_str()?.to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Tell the server what became of decision `id`.
    pub fn print_decision_done(&self, id: i64, outcome: &str) -> anyhow::Result<()> {
        let mut req = self
            .http
            .post(format!(
                "{}/api/v1/agent/print-decisions/{id}/done",
                self.base
            ))
            .query("machine", &self.machine)
            .query("outcome", outcome);
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        let mut r = req.send_empty()?;
        let status = r.status().as_u16();
        if status != 200 {
            let mut text = String::new();
            let _ = r
                .body_mut()
                .as_reader()
                .take(64 * 1024)
                .read_to_string(&mut text);
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            anyhow::bail!("{status} {}", reason(&v, &text));
        }
        Ok(())
    }

    /// Fetch the officer's decisions on held print jobs and carry each out against the
    /// local cupsd ([`crate::cups::carry_out`]), reporting every outcome. A decision whose
    /// outcome could not be reported is fetched again next time; carrying it out again is
    /// harmless (the approval is once, the job is gone or printing). Returns how many were
    /// carried out.
    pub fn print_pass(&self) -> anyhow::Result<usize> {
        let decisions = self.print_decisions()?;
        let mut n = 0;
        for (id, event_id, decision) in decisions {
            let outcome = match crate::cups::carry_out(&self.data_dir, &event_id, &decision) {
                Ok(done) => {
                    tracing::warn!(event = %event_id, %decision, %done, "held print job: the security officer's decision carried out");
                    done
                }
                Err(why) => {
                    tracing::error!(event = %event_id, %decision, reason = %why, "held print job: the decision could not be carried out");
                    format!("failed: {why}")
                }
            };
            self.print_decision_done(id, &outcome)?;
            n += 1;
        }
        Ok(n)
    }

    fn send(&self, queue: &Queue, ev: &Event) -> Sent {
        let body: Vec<u8> = if ev.content.is_some() {
            let mut b = Vec::new();
            if let Err(e) = queue.content(ev, &mut b) {
                // The content is gone or damaged (disk error): deliver what is known,
                // which still records the event; the details say why.
                tracing::error!(event = %ev.id, %e, "queued content unreadable; sending the event without it");
                b = describe(ev, Some(&format!("{e:#}"))).into_bytes();
            }
            b
        } else {
            describe(ev, None).into_bytes()
        };
        let mut req = self
            .http
            .post(format!("{}/api/v1/scan", self.base))
            .query("channel", &ev.channel)
            .query("name", &ev.name)
            .query("event_id", &ev.id)
            .query("at", &ev.at)
            .query("source", format!("agent:{}", self.machine))
            .content_type("application/octet-stream");
        if !ev.local_action.is_empty() {
            req = req.query("local_action", &ev.local_action);
        }
        if let Some(u) = &ev.person {
            req = req.query("user", u);
        }
        if let Some(d) = &ev.destination {
            req = req.query("destination", d);
        }
        if let Some(t) = &self.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        match req.send(&body[..]) {
            Ok(mut r) => {
                let status = r.status().as_u16();
                let mut text = String::new();
                let _ = r
                    .body_mut()
                    .as_reader()
                    .take(64 * 1024)
                    .read_to_string(&mut text);
                let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                match status {
                    200..=299 => Sent::Delivered {
                        already: v["already"].as_bool().unwrap_or(false),
                        incidents: v["incidents"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|i| i.as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    },
                    401 | 403 | 408 | 429 => Sent::Later(format!("{status} {}", reason(&v, &text))),
                    400..=499 => Sent::Refused(format!("{status} {}", reason(&v, &text))),
                    _ => Sent::Later(format!("{status} {}", reason(&v, &text))),
                }
            }
            Err(e) => Sent::Later(e.to_string()),
        }
    }
}

/// The HTTP client for the server: the config's private CA, if any; a connection within
/// 10 s; every request within `whole`.
pub(crate) fn http_agent(cfg: &AgentConfig, whole: Duration) -> anyhow::Result<ureq::Agent> {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(ca) = &cfg.ca_cert {
        let pem = fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
        let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            anyhow::bail!("{}: no certificate in it", ca.display());
        }
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
    }
    let http: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(tls.build())
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_global(Some(whole))
        .build()
        .into();
    Ok(http)
}

/// The server's `{"error": …}`, masked (an error may quote what it was given), short.
fn reason(v: &serde_json::Value, text: &str) -> String {
    let s = v["error"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| text.chars().take(200).collect());
    mask_numbers(&s)
}

/// Runs of six or more digits or letters-and-digits that look like identifiers (ID card,
/// phone, card numbers) become `*`: a server's error may quote a parameter.
fn mask_numbers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().filter(char::is_ascii_digit).count() >= 6 {
            out.extend(std::iter::repeat_n('*', run.chars().count()));
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The body sent for an event without content (a file that could not be read, or too
/// large to keep): what is known of it, as text.
pub fn describe(ev: &Event, extra: Option<&str>) -> String {
    let mut s = format!(
        "baomi agent 事件 / event\nchannel: {}\nname: {}\nlocal_action: {}\nat: {}\nmachine: {}\n",
        ev.channel, ev.name, ev.local_action, ev.at, ev.machine
    );
    if let Some(d) = &ev.destination {
        s.push_str(&format!("destination: {d}\n"));
    }
    if !ev.details.is_null() {
        s.push_str(&format!("details: {}\n", ev.details));
    }
    if let Some(x) = extra {
        s.push_str(&format!("note: {x}\n"));
    }
    s
}

/// The wait before the next try after `failures` failures in a row: 1 s doubling to
/// 5 min, each with up to a quarter more at random (so a hundred agents coming back after
/// a server outage do not all knock at once).
pub fn backoff(failures: u32) -> Duration {
    let base = 1u64 << failures.min(9);
    let secs = base.min(300);
    let jitter_ms = (uuid::Uuid::new_v4().as_u128() % (secs as u128 * 250 + 1)) as u64;
    Duration::from_millis(secs * 1000 + jitter_ms)
}

/// Where refused events go (beside the queue).
pub fn bad_dir(queue: &Queue) -> PathBuf {
    queue.dir().join("bad")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_five_minutes_with_jitter() {
        let d0 = backoff(0);
        assert!(d0 >= Duration::from_secs(1) && d0 <= Duration::from_millis(1250));
        let d3 = backoff(3);
        assert!(d3 >= Duration::from_secs(8) && d3 <= Duration::from_secs(10));
        for n in [9, 10, 30, u32::MAX] {
            let d = backoff(n);
            assert!(
                d >= Duration::from_secs(300) && d <= Duration::from_secs(375),
                "{n}: {d:?}"
            );
        }
    }

    #[test]
    fn a_contentless_event_is_described() {
        let mut ev = Event::new("usb", "报告.docx", "pc-01");
        ev.local_action = "uninspectable".into();
        ev.details = serde_json::json!({"error": "Permission denied"});
        let s = describe(&ev, None);
        assert!(
            s.contains("报告.docx")
                && s.contains("uninspectable")
                && s.contains("Permission denied")
        );
    }

    #[test]
    fn reasons_are_masked() {
        assert_eq!(
            mask_numbers("bad user 13812345678, id 11010519491231002X"),
            "bad user ***********, id ******************"
        );
        assert_eq!(
            mask_numbers("unknown channel \"x\""),
            "unknown channel \"x\""
        );
    }

    #[test]
    fn no_server_no_deliverer() {
        assert!(Deliverer::new(&AgentConfig::default()).unwrap().is_none());
    }
}
