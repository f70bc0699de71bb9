//! The doors' parsers, fed a whole conversation: the input is what a client sends on one
//! connection (ICAP requests with their chunked bodies; milter packets), written to the real
//! connection handler over an in-memory pipe while the answer is read.
//!
//! The inspectors here stand in for the engine, which has its own targets: they read every
//! object the door hands over and answer every kind of decision, with texts taken from the
//! input (URLs, subjects, addresses), so the block page and the SMTP reply and header
//! sanitisers meet hostile text as well.
//!
//! Checked: the conversation ends within 8 s of the client closing its side; an ICAP answer
//! starts with `ICAP/1.0 `; no spool file is left behind once the connection is over.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use baomi_icap::{BlockNotice, Decision, Exchange, IcapConfig, IcapState, Inspector};
use baomi_milter::{Mail, MailDecision, MailInspector, MilterConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::runtime::Runtime;

/// Body and message bytes kept in memory; larger ones go to the spool directory, so small
/// inputs reach the spool code too.
const SPOOL_THRESHOLD: u64 = 4 << 10;
/// Bodies larger than this are over the door's limit.
const MAX_BODY: u64 = 256 << 10;

struct Fixture {
    rt: Runtime,
    spool: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture {
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime"),
        spool: tempfile::tempdir().expect("spool directory"),
    })
}

fn spool_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Write `data` on the pipe `client` (then close its writing side) while `server` runs on
/// the other end and the answer is read to its end. Panics when the conversation does not
/// end.
async fn talk<S, F>(data: &[u8], client: S, server: F) -> Vec<u8>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: std::future::Future<Output = ()>,
{
    let (mut rd, mut wr) = tokio::io::split(client);
    let write = async {
        // The server may stop reading early (an error answer and close): that is fine.
        let _ = wr.write_all(data).await;
        let _ = wr.shutdown().await;
    };
    let read = async {
        let mut out = Vec::new();
        let _ = rd.read_to_end(&mut out).await;
        out
    };
    let all = async {
        let ((), (), out) = tokio::join!(server, write, read);
        out
    };
    match tokio::time::timeout(Duration::from_secs(8), all).await {
        Ok(out) => out,
        Err(_) => panic!("conversation still going 8 s after the client closed its side"),
    }
}

struct IcapInspector;

impl Inspector for IcapInspector {
    async fn inspect(&self, exchange: Exchange) -> anyhow::Result<Decision> {
        let mut block = false;
        for object in &exchange.objects {
            let bytes = object.blob.bytes()?;
            if contains(&bytes, b"fail") {
                anyhow::bail!("inspector failure asked for by the input");
            }
            block |= contains(&bytes, b"secret") || contains(&bytes, "秘密".as_bytes());
        }
        if !block {
            return Ok(Decision::Allow);
        }
        Ok(Decision::Block(BlockNotice {
            incident: "BM-20261202-0001".into(),
            reasons: vec![exchange.url.clone(), exchange.method.clone()],
            level: exchange.user.clone(),
            contact: exchange.host.clone(),
        }))
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

pub(crate) fn icap(data: &[u8]) {
    let _ = icap_answer(data);
}

/// The ICAP target, returning what the server answered.
fn icap_answer(data: &[u8]) -> Vec<u8> {
    let f = fixture();
    let config = IcapConfig {
        spool_threshold: SPOOL_THRESHOLD,
        spool_dir: f.spool.path().to_owned(),
        max_body: MAX_BODY,
        idle_timeout: Duration::from_secs(2),
        inspect_timeout: Duration::from_secs(2),
        preview_bytes: 1024,
        ..IcapConfig::default()
    };
    let state = IcapState::new(&config);
    let inspector = IcapInspector;
    let out = f.rt.block_on(async {
        let (client, server_side) = tokio::io::duplex(64 << 10);
        let server = baomi_icap::serve_connection(server_side, &config, &inspector, &state);
        talk(data, client, server).await
    });
    if !out.is_empty() {
        assert!(
            out.starts_with(b"ICAP/1.0 "),
            "answer is not ICAP: {:?}",
            String::from_utf8_lossy(&out[..out.len().min(80)])
        );
    }
    let left = spool_files(f.spool.path());
    assert!(left.is_empty(), "spool files left behind: {left:?}");
    out
}

struct MilterInspector;

impl MailInspector for MilterInspector {
    async fn inspect(&self, mail: Mail) -> anyhow::Result<MailDecision> {
        let bytes = mail.message.bytes()?;
        let subject = mail.subject.clone().unwrap_or_default();
        let first = mail.recipients.first().cloned().unwrap_or_default();
        Ok(match bytes.len() % 6 {
            0 => MailDecision::Accept,
            1 => MailDecision::AcceptWithHeaders(vec![("X-Baomi-Subject".into(), subject)]),
            2 => MailDecision::Reject { text: subject },
            3 => MailDecision::Quarantine {
                reason: subject,
                headers: vec![(first, mail.sender.clone())],
            },
            4 => MailDecision::Tempfail { text: mail.sender },
            _ => anyhow::bail!("inspector failure asked for by the input"),
        })
    }
}

pub(crate) fn milter(data: &[u8]) {
    let _ = milter_answer(data);
}

/// The milter target, returning what the server answered.
fn milter_answer(data: &[u8]) -> Vec<u8> {
    let f = fixture();
    let config = Arc::new(MilterConfig {
        spool_threshold: SPOOL_THRESHOLD,
        spool_dir: f.spool.path().to_owned(),
        max_message: MAX_BODY,
        idle_timeout: Duration::from_secs(2),
        inspect_timeout: Duration::from_secs(2),
        ..MilterConfig::default()
    });
    let inspector = Arc::new(MilterInspector);
    let out = f.rt.block_on(async {
        let (client, server_side) = tokio::io::duplex(64 << 10);
        let server = async {
            let _ = baomi_milter::serve_connection(server_side, config, inspector).await;
        };
        talk(data, client, server).await
    });
    let left = spool_files(f.spool.path());
    assert!(left.is_empty(), "spool files left behind: {left:?}");
    out
}

#[cfg(test)]
mod tests {
    //! The targets reach the doors' real handlers: each seed gets the answer it should.
    use super::*;

    fn seed(target: &str, name: &str) -> Vec<u8> {
        crate::seeds::generated()
            .into_iter()
            .find(|(t, n, _)| *t == target && n == name)
            .map(|(_, _, b)| b)
            .unwrap()
    }

    fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    #[test]
    fn icap_seeds_get_their_answers() {
        let options = text(&icap_answer(&seed("icap", "options.icap")));
        assert!(options.starts_with("ICAP/1.0 200 OK"), "{options}");
        assert!(options.contains("Methods: REQMOD"), "{options}");
        let upload = text(&icap_answer(&seed("icap", "upload.icap")));
        assert!(upload.contains("HTTP/1.1 403 Forbidden"), "{upload}");
        assert!(upload.contains("BM-20261202-0001"), "{upload}");
        let previewed = text(&icap_answer(&seed("icap", "preview.icap")));
        assert!(previewed.contains("403 Forbidden"), "{previewed}");
        let get = text(&icap_answer(&seed("icap", "get.icap")));
        assert!(get.starts_with("ICAP/1.0 204"), "{get}");
        let piped = text(&icap_answer(&seed("icap", "pipelined.icap")));
        assert_eq!(piped.matches("ICAP/1.0 ").count(), 3, "{piped}");
        let garbage = text(&icap_answer(b"HELLO\r\n\r\n"));
        assert!(garbage.starts_with("ICAP/1.0 400"), "{garbage}");
    }

    /// Milter replies are packets: length, command byte. `one.milter` carries a 74-byte
    /// message (74 % 6 = 1: accepted with a header holding the subject).
    #[test]
    fn milter_seeds_get_their_answers() {
        let one = milter_answer(&seed("milter", "one.milter"));
        let mut cmds = Vec::new();
        let mut rest = &one[..];
        while rest.len() >= 5 {
            let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            cmds.push(rest[4]);
            rest = &rest[4 + n.min(rest.len() - 4)..];
        }
        assert_eq!(
            cmds.first(),
            Some(&b'O'),
            "option negotiation first: {cmds:?}"
        );
        assert!(cmds.contains(&b'h'), "a header added: {cmds:?}");
        assert!(text(&one).contains("X-Baomi-Subject"), "{}", text(&one));
        let aborted = milter_answer(&seed("milter", "aborted.milter"));
        assert!(
            !text(&aborted).contains("X-Baomi"),
            "no decision on an aborted message"
        );
    }
}
