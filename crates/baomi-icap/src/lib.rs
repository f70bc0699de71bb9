//! The ICAP door (RFC 3507): Squid asks "may this upload pass?" and Baomi answers with a
//! `204 No Content` (pass) or an HTTP 403 page (block).
//!
//! This crate knows ICAP framing and HTTP bodies — chunked transfer, preview, multipart
//! forms, url-encoded posts, JSON, gzip — and nothing about detection: it turns one HTTP
//! message into an [`Exchange`] of [`BodyObject`]s and hands it to an [`Inspector`]. Bodies
//! are streamed; anything above [`IcapConfig::spool_threshold`] goes to a temporary file, so
//! memory does not grow with the size of an upload.

use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

mod body;
mod chunked;
mod objects;
mod page;
mod pieces;
mod proto;
mod server;
mod stats;

pub use page::render_block_page;
pub use pieces::PieceLimits;
pub use server::{IcapState, IcapStream, serve, serve_connection, serve_with_state};
pub use stats::{IcapStats, IcapStatsSnapshot};

/// How the door is advertised and what it tolerates.
#[derive(Debug, Clone)]
pub struct IcapConfig {
    /// Shown in OPTIONS (`Service:`) and the block page footer.
    pub service_name: String,
    /// The initial ISTag; change it with [`IcapState::set_istag`] when the policy changes, so
    /// Squid drops cached OPTIONS answers.
    pub istag: String,
    /// Preview size advertised in OPTIONS.
    pub preview_bytes: usize,
    /// Advertised `Max-Connections`; connections beyond it wait in the listen backlog.
    pub max_connections: usize,
    /// Seconds Squid may cache the OPTIONS answer.
    pub options_ttl: u32,
    /// Bodies (and decoded parts) larger than this are written to a temporary file.
    pub spool_threshold: u64,
    /// Where spool files go.
    pub spool_dir: PathBuf,
    /// Bodies larger than this are not inspected: the decision follows `fail_open`, with a
    /// limit reason on the block page.
    pub max_body: u64,
    /// Keep-alive idle time, and how long one read of a slow client may take.
    pub idle_timeout: Duration,
    /// How long the inspector may take for one exchange.
    pub inspect_timeout: Duration,
    /// On an inspector error or timeout (or a body over `max_body`): allow (`true`) or block.
    pub fail_open: bool,
    /// Whom the user should contact, shown on the block page.
    pub contact: String,
    /// Bounds on the pieces of uploads sent in several requests (see `pieces.rs`).
    pub pieces: PieceLimits,
}

impl Default for IcapConfig {
    fn default() -> Self {
        IcapConfig {
            service_name: "baomi".into(),
            istag: "baomi-1".into(),
            preview_bytes: 4096,
            max_connections: 512,
            options_ttl: 3600,
            spool_threshold: 16 << 20,
            spool_dir: std::env::temp_dir(),
            max_body: 1 << 30,
            idle_timeout: Duration::from_secs(60),
            inspect_timeout: Duration::from_secs(90),
            fail_open: false,
            contact: "保密办 / Security Office".into(),
            pieces: PieceLimits::default(),
        }
    }
}

/// Which side of the HTTP exchange Squid hands over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The client's request (uploads, posts): `icap://…/reqmod`.
    Reqmod,
    /// The server's response (downloads): `icap://…/respmod`.
    Respmod,
}

/// One HTTP request (REQMOD) or response (RESPMOD), as objects to inspect.
#[derive(Debug)]
pub struct Exchange {
    pub mode: Mode,
    pub method: String,
    pub url: String,
    pub host: Option<String>,
    /// From `X-Client-IP` (Squid: `icap_send_client_ip on`).
    pub client_ip: Option<IpAddr>,
    /// From `X-Authenticated-User`, decoded (Squid sends base64 of `Local://name` or a
    /// plain name).
    pub user: Option<String>,
    pub objects: Vec<BodyObject>,
    /// Size of the HTTP body as transferred (before Content-Encoding is undone).
    pub body_bytes: u64,
}

/// What a body object is, so the inspector can name and weigh it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    /// A file part of a multipart form.
    FormFile,
    /// The text fields of a form (multipart or url-encoded), one `name=value` per line.
    FormFields,
    /// The string values of a JSON body, one per line.
    Json,
    /// A body taken as it is (PUT, cloud-drive chunk, download).
    Raw,
}

/// One thing found in a body.
pub struct BodyObject {
    /// File name for form files; `form.txt`, `body.json`, the URL's last segment or `body`.
    pub name: String,
    pub kind: ObjectKind,
    pub content_type: Option<String>,
    pub blob: baomi_extract::Blob,
}

impl std::fmt::Debug for BodyObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyObject")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("content_type", &self.content_type)
            .field("bytes", &self.blob.len())
            .finish()
    }
}

/// The inspector's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Block(BlockNotice),
}

/// What the user is told when an upload is stopped. Never the secret itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockNotice {
    /// The incident number the user quotes to the security office.
    pub incident: String,
    /// Kinds of content found, e.g. `机密 marking`, `10 resident ID numbers`.
    pub reasons: Vec<String>,
    /// Highest secrecy level found, in the user's words (`机密`).
    pub level: Option<String>,
    /// Overrides [`IcapConfig::contact`] for this notice.
    pub contact: Option<String>,
}

/// Decides about one exchange. The server implements this on top of the engine and its
/// incident store.
pub trait Inspector: Send + Sync + 'static {
    fn inspect(&self, exchange: Exchange) -> impl Future<Output = anyhow::Result<Decision>> + Send;
}
