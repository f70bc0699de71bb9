//! One milter connection: the state machine from option negotiation to end of message,
//! for every message of the MTA's SMTP session.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::BytesMut;
use miltr_common::actions::{Action, Continue, Replycode, Skip};
use miltr_common::commands::{
    Body, Connect, Family, Header, Helo, Macro, Mail as MailCmd, Recipient,
};
use miltr_common::encoding::Writable;
use miltr_common::modifications::ModificationResponse;
use miltr_common::modifications::headers::AddHeader;
use miltr_common::modifications::quarantine::Quarantine;
use miltr_common::optneg::{Capability, MacroStage, OptNeg, Protocol};
use miltr_server::{Error, Milter};

use crate::reply;
use crate::spool::Spool;
use crate::{Mail, MailDecision, MailInspector, MilterConfig, MilterStats};

/// Recipients kept per message (Postfix's `smtpd_recipient_limit` is 1000).
const MAX_RECIPIENTS: usize = 10_000;
/// Macros kept per connection; MTAs send a handful.
const MAX_MACROS: usize = 64;

pub(crate) struct Session<I> {
    config: Arc<MilterConfig>,
    inspector: Arc<I>,
    stats: Arc<MilterStats>,
    /// Negotiated `SMFIP_HDR_LEADSPC`: header values carry their leading whitespace, in
    /// both directions.
    lead_space: bool,
    /// Negotiated `SMFIP_SKIP`: the MTA may be told to stop sending body chunks.
    can_skip: bool,
    can_quarantine: bool,
    can_add_headers: bool,
    client_ip: Option<IpAddr>,
    client_name: Option<String>,
    helo: Option<String>,
    macros: HashMap<String, String>,
    message: Option<Message>,
}

struct Message {
    sender: String,
    recipients: Vec<String>,
    subject: Option<String>,
    spool: Spool,
    headers_seen: usize,
    headers_done: bool,
    /// Why the message will not be inspected (too large, spool failure); then the bytes
    /// are no longer kept and end of message gives the fail-mode answer.
    failed: Option<String>,
}

impl<I: MailInspector> Session<I> {
    pub(crate) fn new(
        config: Arc<MilterConfig>,
        inspector: Arc<I>,
        stats: Arc<MilterStats>,
    ) -> Self {
        Session {
            config,
            inspector,
            stats,
            lead_space: false,
            can_skip: false,
            can_quarantine: false,
            can_add_headers: false,
            client_ip: None,
            client_name: None,
            helo: None,
            macros: HashMap::new(),
            message: None,
        }
    }

    fn macro_value(&self, name: &str) -> Option<String> {
        let braced = format!("{{{name}}}");
        self.macros
            .get(name)
            .or_else(|| self.macros.get(&braced))
            .filter(|v| !v.is_empty())
            .cloned()
    }

    /// The message being received, started implicitly when an MTA skipped `MAIL`.
    fn message(&mut self) -> &mut Message {
        let config = &self.config;
        self.message
            .get_or_insert_with(|| Message::new(config, String::new()))
    }

    /// Appends to the message unless it already failed; crossing `max_message` or failing
    /// to spool marks it failed and frees what was kept.
    async fn append(&mut self, bytes: &[u8]) -> Action {
        let config = self.config.clone();
        let max = config.max_message;
        let msg = self.message();
        if msg.failed.is_some() {
            return Continue.into();
        }
        let result = if msg.spool.len() + bytes.len() as u64 > max {
            Err(format!("message larger than {max} bytes, not inspected"))
        } else {
            msg.spool
                .write(bytes)
                .await
                .map_err(|e| format!("spooling the message failed: {e}"))
        };
        if let Err(why) = result {
            tracing::warn!("milter: {why}");
            msg.spool = Spool::new(0, config.spool_dir.clone());
            msg.failed = Some(why.clone());
            MilterStats::bump(&self.stats.failures);
            // Answer now rather than after the whole body has been sent.
            if self.config.fail_open {
                if self.can_skip {
                    return Skip.into();
                }
            } else {
                return tempfail(&why).into();
            }
        }
        Continue.into()
    }

    /// The fail-mode answer: accept, or tempfail so the client keeps the mail.
    fn fail_mode(&self, why: &str) -> ModificationResponse {
        MilterStats::bump(&self.stats.failures);
        if self.config.fail_open {
            tracing::warn!("milter: accepting uninspected mail (fail_open): {why}");
            ModificationResponse::empty_continue()
        } else {
            tracing::warn!("milter: tempfail: {why}");
            ModificationResponse::builder().build(tempfail(why))
        }
    }

    fn header_mods(&self, headers: &[(String, String)], out: &mut Vec<AddHeader>) {
        for (name, value) in headers {
            if !reply::valid_header_name(name) {
                tracing::warn!("milter: not adding header with invalid name {name:?}");
                continue;
            }
            let mut value = reply::header_value(value);
            if self.lead_space {
                value.insert(0, ' ');
            }
            out.push(AddHeader::new(name.as_bytes(), value.as_bytes()));
        }
    }

    fn respond(&self, decision: MailDecision, queue_id: Option<&str>) -> ModificationResponse {
        let id = queue_id.unwrap_or("-");
        let mut headers = Vec::new();
        match decision {
            MailDecision::Accept => {
                tracing::info!(queue_id = id, "milter: accept");
                ModificationResponse::empty_continue()
            }
            MailDecision::AcceptWithHeaders(h) => {
                tracing::info!(queue_id = id, "milter: accept with headers");
                if !self.can_add_headers && !h.is_empty() {
                    tracing::warn!("milter: the MTA does not allow adding headers");
                }
                self.header_mods(&h, &mut headers);
                let mut b = ModificationResponse::builder();
                headers.into_iter().for_each(|h| b.push(h));
                b.contin()
            }
            MailDecision::Reject { text } => {
                tracing::info!(queue_id = id, "milter: reject");
                let text = reply::smtp_text(&text, "Message refused by data leak prevention");
                ModificationResponse::builder().build(Replycode::new([5, 5, 0], [5, 7, 1], &text))
            }
            MailDecision::Tempfail { text } => {
                tracing::info!(queue_id = id, "milter: tempfail");
                ModificationResponse::builder().build(tempfail(&text))
            }
            MailDecision::Quarantine { reason, headers: h } => {
                if !self.can_quarantine {
                    // Accepting would deliver what was meant to be held.
                    return self.fail_mode("quarantine decided, but the MTA does not allow it");
                }
                tracing::info!(queue_id = id, "milter: quarantine");
                self.header_mods(&h, &mut headers);
                let mut b = ModificationResponse::builder();
                headers.into_iter().for_each(|h| b.push(h));
                b.push(Quarantine::new(
                    reply::quarantine_reason(&reason).as_bytes(),
                ));
                b.contin()
            }
        }
    }
}

fn tempfail(text: &str) -> Replycode {
    let text = reply::smtp_text(text, "Message could not be inspected, try again later");
    Replycode::new([4, 5, 1], [4, 7, 1], &text)
}

impl Message {
    fn new(config: &MilterConfig, sender: String) -> Message {
        Message {
            sender,
            recipients: Vec::new(),
            subject: None,
            spool: Spool::new(config.spool_threshold, config.spool_dir.clone()),
            headers_seen: 0,
            headers_done: false,
            failed: None,
        }
    }
}

/// `<addr>` → `addr`.
fn strip_angles(s: &str) -> String {
    let s = s.trim();
    s.strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(s)
        .to_string()
}

/// The raw bytes of a header packet (`name\0value\0`), which miltr only exposes as lossy
/// UTF-8; 8-bit header values must stay as they were.
fn header_raw(header: &Header) -> (Vec<u8>, Vec<u8>) {
    let mut buf = BytesMut::with_capacity(header.len());
    header.write(&mut buf);
    let mut parts = buf[..].split(|&b| b == 0);
    let name = parts.next().unwrap_or(&[]).to_vec();
    let value = parts.next().unwrap_or(&[]).to_vec();
    (name, value)
}

/// A header value with its folding line breaks as CRLF (Postfix sends bare LF).
fn push_crlf_lines(out: &mut Vec<u8>, value: &[u8]) {
    let mut prev = 0u8;
    for &b in value {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
}

fn decode_subject(raw_value: &[u8]) -> Option<String> {
    let mut line = b"Subject:".to_vec();
    line.extend_from_slice(raw_value);
    line.extend_from_slice(b"\r\n");
    let (header, _) = mailparse::parse_header(&line).ok()?;
    Some(header.get_value().trim().to_string())
}

#[async_trait]
impl<I: MailInspector> Milter for Session<I> {
    type Error = Infallible;

    async fn option_negotiation(&mut self, theirs: OptNeg) -> Result<OptNeg, Error<Infallible>> {
        // Everything is wanted (no SMFIP_NO* bits); leading spaces kept; skipping allowed.
        let protocol = theirs.protocol & (Protocol::SMFIP_HDR_LEADSPC | Protocol::SMFIP_SKIP);
        let capabilities =
            theirs.capabilities & (Capability::SMFIF_ADDHDRS | Capability::SMFIF_QUARANTINE);
        self.lead_space = protocol.contains(Protocol::SMFIP_HDR_LEADSPC);
        self.can_skip = protocol.contains(Protocol::SMFIP_SKIP);
        self.can_quarantine = capabilities.contains(Capability::SMFIF_QUARANTINE);
        self.can_add_headers = capabilities.contains(Capability::SMFIF_ADDHDRS);
        let mut ours = OptNeg {
            version: theirs.version.min(6),
            capabilities,
            protocol,
            ..OptNeg::default()
        };
        if ours.version >= 6 {
            // Ask for exactly the macros used; Postfix's defaults include them, but another
            // MTA's may not.
            ours.macro_stages.with_stage(MacroStage::Connect, &["j"]);
            ours.macro_stages
                .with_stage(MacroStage::MailFrom, &["{auth_authen}"]);
            ours.macro_stages.with_stage(MacroStage::Data, &["i"]);
            ours.macro_stages
                .with_stage(MacroStage::EndOfHeaders, &["i"]);
            ours.macro_stages.with_stage(MacroStage::EndOfBody, &["i"]);
        }
        Ok(ours)
    }

    async fn macro_(&mut self, macro_: Macro) -> Result<(), Infallible> {
        for (name, value) in macro_.macros() {
            if self.macros.len() >= MAX_MACROS
                && !self.macros.contains_key(&*String::from_utf8_lossy(name))
            {
                break;
            }
            self.macros.insert(
                String::from_utf8_lossy(name).into_owned(),
                String::from_utf8_lossy(value).into_owned(),
            );
        }
        Ok(())
    }

    async fn connect(&mut self, connect: Connect) -> Result<Action, Infallible> {
        self.client_name = Some(connect.hostname().into_owned()).filter(|h| !h.is_empty());
        self.client_ip = match connect.family {
            Family::Inet | Family::Inet6 => {
                let address = connect.address();
                let address = address.strip_prefix("IPv6:").unwrap_or(&address);
                address.parse().ok()
            }
            _ => None,
        };
        Ok(Continue.into())
    }

    async fn helo(&mut self, helo: Helo) -> Result<Action, Infallible> {
        self.helo = Some(helo.helo().trim_end_matches('\0').to_string());
        Ok(Continue.into())
    }

    async fn mail(&mut self, mail: MailCmd) -> Result<Action, Infallible> {
        let sender = strip_angles(&mail.sender());
        self.message = Some(Message::new(&self.config, sender));
        Ok(Continue.into())
    }

    async fn rcpt(&mut self, recipient: Recipient) -> Result<Action, Infallible> {
        let rcpt = strip_angles(&recipient.recipient());
        let msg = self.message();
        if msg.recipients.len() < MAX_RECIPIENTS {
            msg.recipients.push(rcpt);
        }
        Ok(Continue.into())
    }

    async fn header(&mut self, header: Header) -> Result<Action, Infallible> {
        let (name, value) = header_raw(&header);
        let strip = self.config.strip_own_received;
        let own_host = self.macro_value("j");
        let queue_id = self.macro_value("i");
        let lead_space = self.lead_space;
        let msg = self.message();
        msg.headers_seen += 1;
        if strip && msg.headers_seen == 1 && name.eq_ignore_ascii_case(b"Received") {
            let text = String::from_utf8_lossy(&value);
            let by_us = own_host.is_none_or(|j| text.contains(&format!("by {j}")));
            let ours = queue_id.is_none_or(|i| text.contains(&format!("id {i}")));
            if by_us && ours {
                return Ok(Continue.into());
            }
        }
        if msg.subject.is_none() && name.eq_ignore_ascii_case(b"Subject") {
            msg.subject = decode_subject(&value);
        }
        let mut line = Vec::with_capacity(name.len() + value.len() + 4);
        line.extend_from_slice(&name);
        line.push(b':');
        if !lead_space {
            line.push(b' ');
        }
        push_crlf_lines(&mut line, &value);
        line.extend_from_slice(b"\r\n");
        Ok(self.append(&line).await)
    }

    async fn end_of_header(&mut self) -> Result<Action, Infallible> {
        self.message().headers_done = true;
        Ok(self.append(b"\r\n").await)
    }

    async fn body(&mut self, body: Body) -> Result<Action, Infallible> {
        MilterStats::bump(&self.stats.body_chunks);
        if !self.message().headers_done {
            self.message().headers_done = true;
            let action = self.append(b"\r\n").await;
            if !matches!(action, Action::Continue(_)) {
                return Ok(action);
            }
        }
        Ok(self.append(body.as_bytes()).await)
    }

    async fn end_of_body(&mut self) -> Result<ModificationResponse, Infallible> {
        MilterStats::bump(&self.stats.messages);
        if !self.message().headers_done {
            self.message().headers_done = true;
            self.append(b"\r\n").await;
        }
        let Some(msg) = self.message.take() else {
            return Ok(self.fail_mode("end of message without a message"));
        };
        let queue_id = self.macro_value("i");
        if let Some(why) = msg.failed {
            return Ok(self.fail_mode(&why));
        }
        let blob = match msg.spool.finish().await {
            Ok(b) => b,
            Err(e) => return Ok(self.fail_mode(&format!("spooling the message failed: {e}"))),
        };
        let size = blob.len();
        let mail = Mail {
            queue_id: queue_id.clone(),
            client_ip: self.client_ip,
            client_name: self.client_name.clone(),
            helo: self.helo.clone(),
            auth_user: self.macro_value("auth_authen"),
            sender: msg.sender,
            recipients: msg.recipients,
            subject: msg.subject,
            message: blob,
        };
        tracing::debug!(
            queue_id = queue_id.as_deref().unwrap_or("-"),
            size,
            "milter: inspecting"
        );
        let inspector = self.inspector.clone();
        let mut task = tokio::spawn(async move { inspector.inspect(mail).await });
        let outcome = tokio::time::timeout(self.config.inspect_timeout, &mut task).await;
        let response = match outcome {
            Ok(Ok(Ok(decision))) => self.respond(decision, queue_id.as_deref()),
            Ok(Ok(Err(e))) => self.fail_mode(&format!("inspection failed: {e:#}")),
            Ok(Err(join)) => self.fail_mode(&format!("inspection failed: {join}")),
            Err(_) => {
                task.abort();
                self.fail_mode("inspection timed out")
            }
        };
        Ok(response)
    }

    async fn abort(&mut self) -> Result<(), Infallible> {
        // The SMTP transaction ended without a message (RSET, client gone): drop what was
        // kept; the spool file goes with it. The message stays with the client.
        self.message = None;
        self.macros.remove("i");
        Ok(())
    }

    async fn quit(&mut self) -> Result<(), Infallible> {
        self.message = None;
        Ok(())
    }

    async fn quit_nc(&mut self) -> Result<(), Infallible> {
        // The connection is reused for another SMTP session.
        self.message = None;
        self.macros.clear();
        self.client_ip = None;
        self.client_name = None;
        self.helo = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_values_get_crlf_and_envelope_loses_angles() {
        let mut out = Vec::new();
        push_crlf_lines(&mut out, b" a\n\tb\r\n c");
        assert_eq!(out, b" a\r\n\tb\r\n c");
        assert_eq!(strip_angles("<a@b.c>"), "a@b.c");
        assert_eq!(strip_angles("<>"), "");
        assert_eq!(
            decode_subject(b" =?GB2312?B?vbvNqA==?= x").as_deref(),
            Some("交通 x")
        );
    }
}
