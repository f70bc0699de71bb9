//! The milter door's wiring: one message is one object (the whole original .eml, so the
//! evidence is the restorable original); sender and recipients are looked up in the
//! directory; mail only to internal domains gets its own, capped policy; the action becomes
//! a milter answer that names the incident.

use std::sync::Arc;

use baomi_core::{Action, Channel};
use baomi_milter::{HoldQueue, Mail, MailDecision, MailInspector, MilterConfig};

use crate::api::MailQueue;
use crate::gateway::{Gateway, Who};

pub struct MilterInspector {
    pub gateway: Arc<Gateway>,
}

pub fn milter_config(gw: &Gateway) -> MilterConfig {
    let c = &gw.config;
    MilterConfig {
        spool_threshold: c.icap.spool_threshold_bytes,
        max_message: c.milter.max_message_bytes,
        inspect_timeout: std::time::Duration::from_secs(c.milter.inspect_timeout_secs),
        fail_open: c.gateway.fail_open,
        ..MilterConfig::default()
    }
}

fn domain(address: &str) -> String {
    address
        .trim()
        .trim_matches(['<', '>'])
        .rsplit_once('@')
        .map(|(_, d)| d.to_lowercase())
        .unwrap_or_default()
}

/// True when every recipient is in one of the internal domains (or a subdomain of one).
pub fn is_internal(recipients: &[String], internal_domains: &[String]) -> bool {
    !internal_domains.is_empty()
        && !recipients.is_empty()
        && recipients.iter().all(|r| {
            let d = domain(r);
            internal_domains.iter().any(|i| {
                let i = i.trim().to_lowercase();
                d == i || d.ends_with(&format!(".{i}"))
            })
        })
}

impl MailInspector for MilterInspector {
    async fn inspect(&self, mail: Mail) -> anyhow::Result<MailDecision> {
        let gw = &self.gateway;
        let directory = gw.directory();
        let person = directory
            .mail_user(&mail.sender)
            .or_else(|| mail.client_ip.and_then(|ip| directory.ip_user(ip)));
        let internal = is_internal(&mail.recipients, &gw.config.milter.internal_domains);
        let cap = internal
            .then(|| Action::parse(&gw.config.milter.internal_action_cap).unwrap_or(Action::Alert));
        let who = Who {
            user: person
                .map(|p| p.name.clone())
                .or_else(|| Some(mail.sender.clone()).filter(|s| !s.is_empty())),
            department: person.map(|p| p.department.clone()),
            source: Some(match mail.client_ip {
                Some(ip) => format!("{} [{ip}]", mail.sender),
                None => mail.sender.clone(),
            }),
            destination: Some(mail.recipients.join(", ")),
            queue_id: mail.queue_id.clone(),
        };
        let outcome = gw
            .inspect(mail.message, "message.eml", Channel::Mail, &who, cap)
            .await?;
        let number = outcome.incident.as_ref().map(|i| i.number.clone());
        let tag = |action: &str| {
            let mut v = action.to_owned();
            if let Some(n) = &number {
                v.push_str(&format!("; incident={n}"));
            }
            if internal {
                v.push_str("; internal");
            }
            vec![("X-Baomi-Verdict".to_owned(), v)]
        };
        Ok(match outcome.action {
            Action::Allow => MailDecision::Accept,
            Action::Audit | Action::Alert => {
                MailDecision::AcceptWithHeaders(tag(outcome.action.as_str()))
            }
            Action::Quarantine => MailDecision::Quarantine {
                reason: format!(
                    "Baomi incident {}",
                    number.as_deref().unwrap_or("(not recorded)")
                ),
                headers: tag("quarantine"),
            },
            Action::Block => {
                // SMTP replies are ASCII: the kinds in English, the incident number to quote.
                let mut kinds: Vec<&str> = outcome
                    .report
                    .findings
                    .iter()
                    .map(|f| f.kind.as_str())
                    .collect();
                kinds.sort_unstable();
                kinds.dedup();
                MailDecision::Reject {
                    text: format!(
                        "Message refused by the secrecy policy ({}); incident {}; contact your security office",
                        kinds.join(", "),
                        number.as_deref().unwrap_or("not recorded")
                    ),
                }
            }
        })
    }
}

/// Held mail released and deleted through Postfix's `postsuper`.
pub struct PostfixHold(pub HoldQueue);

impl MailQueue for PostfixHold {
    fn release(&self, queue_id: &str) -> anyhow::Result<()> {
        Ok(self.0.release(queue_id)?)
    }

    fn delete(&self, queue_id: &str) -> anyhow::Result<()> {
        Ok(self.0.delete(queue_id)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_mail_is_all_recipients_in_internal_domains() {
        let internal = vec!["example.gov.cn".to_string()];
        let r = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(is_internal(
            &r(&["a@example.gov.cn", "<B@Mail.Example.gov.cn>"]),
            &internal
        ));
        assert!(!is_internal(
            &r(&["a@example.gov.cn", "x@qq.com"]),
            &internal
        ));
        assert!(!is_internal(&r(&["a@notexample.gov.cn"]), &internal));
        assert!(!is_internal(&r(&["a@example.gov.cn"]), &[]));
        assert!(!is_internal(&[], &internal));
    }
}
