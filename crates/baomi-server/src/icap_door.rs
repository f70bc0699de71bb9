//! The ICAP door's wiring: each object Squid hands over (a form's file, its fields, a JSON
//! body, a raw upload) goes through the gateway; the strongest outcome decides, and a block
//! names the incident so the user can quote it to the security office.

use std::sync::Arc;

use baomi_core::{Action, Channel};
use baomi_icap::{BlockNotice, Decision, Exchange, IcapConfig, Inspector, Mode};

use crate::gateway::{Gateway, Who};

pub struct IcapInspector {
    pub gateway: Arc<Gateway>,
}

pub fn icap_config(gw: &Gateway) -> IcapConfig {
    let c = &gw.config;
    IcapConfig {
        service_name: "baomi".into(),
        // Changes with every reload (`Gateway::set_live`).
        istag: crate::gateway::istag(&gw.live().versions),
        preview_bytes: c.icap.preview_bytes,
        max_connections: c.icap.max_connections,
        spool_threshold: c.icap.spool_threshold_bytes,
        spool_dir: c.icap.spool_dir.clone().unwrap_or_else(std::env::temp_dir),
        max_body: c.icap.max_body_bytes,
        idle_timeout: std::time::Duration::from_secs(c.icap.idle_timeout_secs),
        inspect_timeout: std::time::Duration::from_secs(c.icap.inspect_timeout_secs),
        fail_open: c.gateway.fail_open,
        contact: c.gateway.contact.clone(),
        pieces: baomi_icap::PieceLimits {
            max_bytes: c.icap.pieces_max_bytes,
            max_uploads: c.icap.pieces_max_uploads,
            max_age: std::time::Duration::from_secs(c.icap.pieces_max_age_secs),
        },
        ..IcapConfig::default()
    }
}

impl Inspector for IcapInspector {
    async fn inspect(&self, ex: Exchange) -> anyhow::Result<Decision> {
        let gw = &self.gateway;
        let directory = gw.directory();
        let person = directory.web_user(ex.user.as_deref(), ex.client_ip);
        let who = Who {
            user: person.map(|p| p.name.clone()).or_else(|| ex.user.clone()),
            department: person.map(|p| p.department.clone()),
            source: ex.client_ip.map(|ip| ip.to_string()),
            destination: Some(match ex.mode {
                Mode::Reqmod => format!("{} {}", ex.method, ex.url),
                Mode::Respmod => format!("download {}", ex.url),
            }),
            queue_id: None,
        };
        let mut incidents = Vec::new();
        let mut reasons = Vec::new();
        let mut level = None;
        let mut strongest = Action::Allow;
        for obj in ex.objects {
            let outcome = gw
                .inspect(obj.blob, &obj.name, Channel::Web, &who, None)
                .await?;
            strongest = strongest.max(outcome.action);
            // A proxy cannot hold an upload for later: quarantine stops it like a block.
            if outcome.action >= Action::Quarantine {
                if let Some(inc) = &outcome.incident {
                    incidents.push(inc.number.clone());
                }
                for r in outcome.reasons() {
                    if !reasons.contains(&r) {
                        reasons.push(r);
                    }
                }
                level = level.max(outcome.level());
            }
        }
        if strongest < Action::Quarantine {
            return Ok(Decision::Allow);
        }
        Ok(Decision::Block(BlockNotice {
            incident: if incidents.is_empty() {
                "-".into()
            } else {
                incidents.join(", ")
            },
            reasons,
            level: level.map(|l| l.zh().to_owned()),
            contact: None,
        }))
    }
}
