//! The mail door: a milter server that Postfix (or Sendmail) asks about every message, so
//! Baomi can accept, tag, reject, quarantine or tempfail it.
//!
//! The door knows the milter protocol and mail, nothing about detection: it rebuilds each
//! message into a [`Mail`], hands it to a [`MailInspector`], and turns the
//! [`MailDecision`] back into milter replies.
//!
//! # What Postfix sends, and how the message is rebuilt
//!
//! Postfix (3.7, `milter_protocol = 6`) gives the milter the message as it stored it in
//! its queue file, not the client's bytes: header by header, then the body in chunks.
//! Observed with a real Postfix and `swaks --data FILE` (see `tests/postfix.rs`):
//!
//! - **Headers** come one `SMFIC_HEADER` per field, name and value apart. This door asks
//!   for `SMFIP_HDR_LEADSPC`, so the value keeps every byte after the colon, the leading
//!   space included (without it Postfix would eat one space and a value written `Name:x`
//!   could not be told from `Name: x`). Folded fields arrive with their line breaks as a
//!   bare LF (`\n\t…`); the door writes them back as CRLF. An MTA that does not offer
//!   `SMFIP_HDR_LEADSPC` gets one space put back after every colon.
//! - **Postfix's own `Received:` header is not sent** to `smtpd_milters`: the first
//!   header the milter sees is the client's first. An MTA that does send its own first
//!   (Sendmail prepends it) has it dropped here (`strip_own_received`, on by default):
//!   the first field, when it is a `Received:` whose value names this MTA (`by` + macro
//!   `j`) and this message's queue id (macro `i`).
//! - Macros come in `SMFIC_MACRO` packets before the command they belong to; Postfix
//!   sends `i` (queue id) from DATA on, with every header and at end of message.
//! - The **end of headers** (`SMFIC_EOH`) becomes the empty CRLF line.
//! - **Body chunks** (at most 64 KiB each) are the body with CRLF line ends, SMTP
//!   dot-stuffing undone, ending with the CRLF of the last line; they are appended as they
//!   are. A message always ends in CRLF: SMTP ends DATA with CRLF `.` CRLF (`swaks --data
//!   FILE` sends the file, then CRLF `.` CRLF, so the message is the file plus CRLF).
//!
//! With that, the rebuilt message is byte-identical to what the client sent after the
//! DATA command (without the final `.`), as long as Postfix's cleanup did not change the
//! message. It changes it when the client leaves out headers it adds (`Date:`,
//! `Message-ID:`, `From:` for local clients), when `local_header_rewrite_clients` lets it
//! qualify addresses in headers (`user` → `user@myorigin`), when a header line is longer
//! than `line_length_limit` (2048) or headers exceed `header_size_limit`, and for bare LF
//! line ends in the body, which Postfix stores as lines and sends with CRLF. Those
//! changes are what the next hop would receive too.
//!
//! 8-bit header values (raw UTF-8) pass through unchanged: the door keeps the bytes of
//! each header packet, not a decoded string.
//!
//! # Postfix configuration
//!
//! ```text
//! smtpd_milters = inet:127.0.0.1:10025       # the door's listen address
//! non_smtpd_milters = inet:127.0.0.1:10025   # mail submitted with sendmail(1) on the host
//! milter_default_action = tempfail           # scanner down or dead: client keeps the mail
//! milter_protocol = 6
//! milter_content_timeout = 300s              # above the door's inspect_timeout (120 s)
//! ```
//!
//! # Failure
//!
//! Every path ends in a defined milter answer: an inspector error, panic or timeout, a
//! spool failure and a message above `max_message` give the fail-mode answer
//! (`fail_open`: accept; otherwise 451 4.7.1, so the client keeps the mail and retries).
//! A scanner that dies leaves Postfix with a broken milter connection, which Postfix
//! answers with `milter_default_action` — set it to `tempfail` (fail-closed).

use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use miltr_server::Server;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::compat::TokioAsyncReadCompatExt;

mod hold;
mod idle;
mod reply;
mod session;
mod spool;
mod stats;

pub use baomi_extract::Blob;
pub use hold::{HoldQueue, HoldQueueError};
pub use stats::MilterStats;

/// Largest milter packet accepted. Body chunks are at most 64 KiB, but one header field
/// may be up to Postfix's `header_size_limit` (100 KiB).
const MAX_PACKET: usize = 4 << 20;

/// How the door runs. `Default` is what `baomi serve` uses with no configuration.
#[derive(Debug, Clone)]
pub struct MilterConfig {
    /// Message bytes kept in memory before the message is spooled to a file.
    pub spool_threshold: u64,
    pub spool_dir: PathBuf,
    /// Larger messages are not inspected; they get the fail-mode answer with a reason.
    pub max_message: u64,
    /// How long the MTA may stay silent in the middle of a conversation. Postfix keeps the
    /// milter connection open while its SMTP client is idle (up to `smtpd_timeout`, 300 s),
    /// so this should be longer than that.
    pub idle_timeout: Duration,
    /// Time for one inspection; keep it below Postfix's `milter_content_timeout` (300 s).
    pub inspect_timeout: Duration,
    /// Inspector error, timeout or oversize message: accept (true) or tempfail 451
    /// (false, fail-closed).
    pub fail_open: bool,
    /// Leave out the MTA's own `Received:` header from [`Mail::message`], so the message
    /// is what the client sent.
    pub strip_own_received: bool,
    /// Connections served at once; one more is closed at once, and Postfix answers its
    /// client with `milter_default_action`. Bounds memory to about
    /// `max_connections × spool_threshold`.
    pub max_connections: usize,
    /// On shutdown, how long conversations in progress may go on before they are cut.
    pub shutdown_grace: Duration,
}

impl Default for MilterConfig {
    fn default() -> Self {
        MilterConfig {
            spool_threshold: 16 << 20,
            spool_dir: std::env::temp_dir(),
            max_message: 1 << 30,
            idle_timeout: Duration::from_secs(600),
            inspect_timeout: Duration::from_secs(120),
            fail_open: false,
            strip_own_received: true,
            max_connections: 256,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// One message, the object the inspector sees.
pub struct Mail {
    /// The MTA's queue id (macro `i`), which names the message in the MTA's logs and in
    /// the hold queue.
    pub queue_id: Option<String>,
    pub client_ip: Option<IpAddr>,
    /// The client's host name as the MTA resolved it (Postfix: `unknown` if it did not).
    pub client_name: Option<String>,
    pub helo: Option<String>,
    /// The SASL login name (macro `{auth_authen}`), when the client authenticated.
    pub auth_user: Option<String>,
    /// Envelope sender, without `<>` (empty for bounces).
    pub sender: String,
    /// Envelope recipients, without `<>`, in the order given.
    pub recipients: Vec<String>,
    /// The first `Subject:`, encoded words decoded.
    pub subject: Option<String>,
    /// The message as received: header lines, an empty line, the body; rebuilt as
    /// described in the crate documentation. In a spool file above `spool_threshold`; the
    /// file is deleted when the last clone of the blob is dropped, so an inspector that
    /// keeps the message as evidence copies it (or keeps a clone) before it returns.
    pub message: Blob,
}

/// What to do with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailDecision {
    Accept,
    /// Accept and add header fields (e.g. `X-Baomi-Verdict: alert; incident=…`).
    AcceptWithHeaders(Vec<(String, String)>),
    /// `550 5.7.1 <text>`: the client gets the mail back. Name the incident in the text.
    Reject {
        text: String,
    },
    /// Accept into the MTA's hold queue (Postfix: `postqueue -j` shows it with
    /// `queue_name` `hold`) until [`HoldQueue::release`] or [`HoldQueue::delete`].
    Quarantine {
        reason: String,
        headers: Vec<(String, String)>,
    },
    /// `451 4.7.1 <text>`: the client keeps the mail and tries again later.
    Tempfail {
        text: String,
    },
}

/// The detection side of the door. Called once per message, concurrently for different
/// connections; runs in its own task, so a panic is an inspection failure, not a crash.
pub trait MailInspector: Send + Sync + 'static {
    fn inspect(&self, mail: Mail) -> impl Future<Output = anyhow::Result<MailDecision>> + Send;
}

/// Speak the milter protocol on one connection already accepted (the accept loop of
/// [`serve`] does this for each MTA connection; tests and the fuzz targets use a pipe).
pub async fn serve_connection<S, I>(
    stream: S,
    config: Arc<MilterConfig>,
    inspector: Arc<I>,
) -> Result<(), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
    I: MailInspector,
{
    connection(stream, config, inspector, Arc::default()).await
}

async fn connection<S, I>(
    stream: S,
    config: Arc<MilterConfig>,
    inspector: Arc<I>,
    stats: Arc<MilterStats>,
) -> Result<(), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send,
    I: MailInspector,
{
    let idle = config.idle_timeout;
    let mut session = session::Session::new(config, inspector, stats);
    let mut server = Server::new(&mut session, false, MAX_PACKET);
    let stream = idle::IdleTimeout::new(stream, idle).compat();
    server
        .handle_connection(stream)
        .await
        .map_err(|e| e.to_string())
}

/// Serves milter connections from `listener` until `shutdown` completes; then stops
/// accepting, lets conversations in progress finish for `shutdown_grace`, and cuts the
/// rest (their MTA applies its default action).
pub async fn serve<I: MailInspector>(
    listener: TcpListener,
    config: Arc<MilterConfig>,
    inspector: Arc<I>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with_stats(listener, config, inspector, Arc::default(), shutdown).await
}

/// [`serve`] with counters the caller keeps (`/metrics`).
pub async fn serve_with_stats<I: MailInspector>(
    listener: TcpListener,
    config: Arc<MilterConfig>,
    inspector: Arc<I>,
    stats: Arc<MilterStats>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!("milter accept: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Ok(permit) = permits.clone().try_acquire_owned() else {
                    MilterStats::bump(&stats.refused_connections);
                    tracing::warn!(%peer, "milter: too many connections, closing this one");
                    continue;
                };
                let config = config.clone();
                let inspector = inspector.clone();
                let stats = stats.clone();
                connections.spawn(async move {
                    let _permit = permit;
                    stats.opened();
                    stream.set_nodelay(true).ok();
                    if let Err(e) = connection(stream, config, inspector, stats.clone()).await {
                        tracing::debug!(%peer, "milter connection ended: {e}");
                    }
                    stats.closed();
                });
            }
        }
    }
    drop(listener);
    let grace = config.shutdown_grace;
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            "milter shutdown: cutting {} connection(s) still open",
            connections.len()
        );
        connections.shutdown().await;
    }
    Ok(())
}
