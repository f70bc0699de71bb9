//! The accept loop and one connection's request loop.

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use baomi_extract::Blob;
use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::body::AsyncSpool;
use crate::chunked::{ChunkedReader, Piece};
use crate::objects::{BodyInfo, split_body};
use crate::pieces::{Outcome, PieceRequest, Uploads};
use crate::proto::{
    BodyOf, ConnError, HttpHead, IcapHead, bad, parse_encapsulated, parse_http_request,
    parse_http_response, read_head,
};
use crate::{
    BlockNotice, Decision, Exchange, IcapConfig, IcapStats, Inspector, Mode, ObjectKind,
    render_block_page,
};

/// What the running door shares with its owner: counters, and the ISTag, which the owner
/// changes when the policy changes.
#[derive(Debug)]
pub struct IcapState {
    /// Shared with the blocking threads that keep upload pieces.
    pub stats: Arc<IcapStats>,
    istag: RwLock<String>,
    uploads: Arc<Uploads>,
}

impl IcapState {
    pub fn new(config: &IcapConfig) -> IcapState {
        IcapState {
            stats: Arc::new(IcapStats::default()),
            istag: RwLock::new(config.istag.clone()),
            uploads: Arc::new(Uploads::default()),
        }
    }

    /// Uploads in pieces in progress, and the bytes held for them.
    pub fn uploads_held(&self) -> (usize, u64) {
        self.uploads.held()
    }

    pub fn istag(&self) -> String {
        self.istag.read().map(|t| t.clone()).unwrap_or_default()
    }

    /// A new ISTag makes Squid re-read OPTIONS and forget adaptation results of the old one.
    pub fn set_istag(&self, tag: impl Into<String>) {
        if let Ok(mut t) = self.istag.write() {
            *t = tag.into();
        }
    }
}

/// Serve ICAP on `listener` until `shutdown` completes, then let requests in flight finish.
pub async fn serve<I: Inspector>(
    listener: TcpListener,
    config: Arc<IcapConfig>,
    inspector: Arc<I>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let state = Arc::new(IcapState::new(&config));
    serve_with_state(listener, config, inspector, state, shutdown).await
}

/// [`serve`] with a state the caller keeps (statistics, ISTag changes).
pub async fn serve_with_state<I: Inspector>(
    listener: TcpListener,
    config: Arc<IcapConfig>,
    inspector: Arc<I>,
    state: Arc<IcapState>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("ICAP accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        stream.set_nodelay(true).ok();
        IcapStats::bump(&state.stats.connections);
        let open = state
            .stats
            .active_connections
            .fetch_add(1, Ordering::Relaxed)
            + 1;
        state
            .stats
            .peak_connections
            .fetch_max(open, Ordering::Relaxed);
        let (config, inspector, state, stop) = (
            config.clone(),
            inspector.clone(),
            state.clone(),
            stop_rx.clone(),
        );
        tasks.spawn(async move {
            let _permit = permit;
            tracing::debug!("ICAP connection from {peer}");
            connection(stream, &config, &*inspector, &state, stop).await;
            state
                .stats
                .active_connections
                .fetch_sub(1, Ordering::Relaxed);
        });
        while tasks.try_join_next().is_some() {}
    }
    let _ = stop_tx.send(true);
    let grace = config.inspect_timeout + config.idle_timeout;
    if tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        tasks.abort_all();
    }
    Ok(())
}

/// A byte stream ICAP can be spoken on: a TCP connection, or an in-memory pipe in tests and
/// the fuzz targets.
pub trait IcapStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> IcapStream for T {}

type Conn<S> = BufReader<S>;

/// Serve the requests of one connection already accepted (the accept loop of [`serve`]
/// does this for each client), until the client closes it or an error ends it.
pub async fn serve_connection<S: IcapStream, I: Inspector>(
    stream: S,
    config: &IcapConfig,
    inspector: &I,
    state: &IcapState,
) {
    // Kept until the connection ends: a dropped sender reads as "stop".
    let (stop_tx, stop_rx) = watch::channel(false);
    connection(stream, config, inspector, state, stop_rx).await;
    drop(stop_tx);
}

async fn connection<S: IcapStream, I: Inspector>(
    stream: S,
    config: &IcapConfig,
    inspector: &I,
    state: &IcapState,
    mut stop: watch::Receiver<bool>,
) {
    let mut conn = BufReader::with_capacity(64 << 10, stream);
    loop {
        if *stop.borrow() {
            return;
        }
        let head = tokio::select! {
            h = read_head(&mut conn, config.idle_timeout) => h,
            _ = stop.changed() => return,
        };
        let result = match head {
            Ok(None) => return,
            Ok(Some(head)) => request(&mut conn, head, config, inspector, state).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(true) => continue,
            Ok(false) => return,
            Err(e) => {
                IcapStats::bump(&state.stats.errors);
                let status = match &e {
                    ConnError::Bad(code, msg) => {
                        tracing::info!("ICAP request rejected: {code} {msg}");
                        Some(*code)
                    }
                    ConnError::Timeout => {
                        tracing::info!("ICAP client timed out");
                        Some(408)
                    }
                    ConnError::Closed => None,
                    ConnError::Io(err) => {
                        tracing::info!("ICAP connection error: {err}");
                        None
                    }
                };
                if let Some(code) = status {
                    let msg = simple_response(code, &state.istag(), true);
                    let _ = tokio::time::timeout(
                        Duration::from_secs(2),
                        conn.get_mut().write_all(msg.as_bytes()),
                    )
                    .await;
                }
                let _ = conn.get_mut().shutdown().await;
                return;
            }
        }
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        404 => "ICAP Service Not Found",
        405 => "Method Not Allowed For Service",
        408 => "Request Timeout",
        500 => "Server Error",
        501 => "Method Not Implemented",
        505 => "ICAP Version Not Supported",
        _ => "Error",
    }
}

fn simple_response(code: u16, istag: &str, close: bool) -> String {
    format!(
        "ICAP/1.0 {code} {}\r\nISTag: \"{istag}\"\r\nServer: Baomi-ICAP\r\nEncapsulated: null-body=0\r\n{}\r\n",
        reason(code),
        if close { "Connection: close\r\n" } else { "" }
    )
}

/// One ICAP request. `Ok(true)`: the connection stays open for the next one.
async fn request<S: IcapStream, I: Inspector>(
    conn: &mut Conn<S>,
    head: IcapHead,
    config: &IcapConfig,
    inspector: &I,
    state: &IcapState,
) -> Result<bool, ConnError> {
    let mode = match head.service() {
        "reqmod" => Mode::Reqmod,
        "respmod" => Mode::Respmod,
        _ => return Err(ConnError::Bad(404, format!("no service {}", head.uri))),
    };
    let keep = !head.wants_close();
    match head.method.as_str() {
        "OPTIONS" => {
            IcapStats::bump(&state.stats.options);
            // OPTIONS may carry an opt-body; we never need it, so refuse rather than guess.
            if let Some(enc) = head.header("Encapsulated")
                && !enc.trim().eq_ignore_ascii_case("null-body=0")
            {
                return Err(bad("OPTIONS with a body"));
            }
            let msg = options_response(mode, config, &state.istag(), keep);
            conn.get_mut().write_all(msg.as_bytes()).await?;
            Ok(keep)
        }
        "REQMOD" | "RESPMOD" => {
            let wanted = if head.method == "REQMOD" {
                Mode::Reqmod
            } else {
                Mode::Respmod
            };
            if wanted != mode {
                return Err(ConnError::Bad(
                    405,
                    format!("{} on {}", head.method, head.uri),
                ));
            }
            IcapStats::bump(match mode {
                Mode::Reqmod => &state.stats.reqmod,
                Mode::Respmod => &state.stats.respmod,
            });
            modify(conn, head, mode, config, inspector, state).await?;
            Ok(keep)
        }
        _ => Err(ConnError::Bad(501, format!("method {}", head.method))),
    }
}

fn options_response(mode: Mode, config: &IcapConfig, istag: &str, keep: bool) -> String {
    let method = match mode {
        Mode::Reqmod => "REQMOD",
        Mode::Respmod => "RESPMOD",
    };
    format!(
        "ICAP/1.0 200 OK\r\n\
         Methods: {method}\r\n\
         Service: {} (Baomi DLP)\r\n\
         Service-ID: {}\r\n\
         ISTag: \"{istag}\"\r\n\
         Max-Connections: {}\r\n\
         Options-TTL: {}\r\n\
         Allow: 204\r\n\
         Preview: {}\r\n\
         Transfer-Preview: *\r\n\
         X-Include: X-Client-IP, X-Authenticated-User\r\n\
         Server: Baomi-ICAP\r\n\
         Encapsulated: null-body=0\r\n{}\r\n",
        config.service_name,
        config.service_name,
        config.max_connections,
        config.options_ttl,
        config.preview_bytes,
        if keep { "" } else { "Connection: close\r\n" },
    )
}

/// The encapsulated message as received, kept to echo it back when the client did not
/// offer `Allow: 204`.
struct Received {
    headers: Vec<u8>,
    req_hdr: Option<(usize, usize)>,
    res_hdr: Option<(usize, usize)>,
    body: Option<Blob>,
}

/// What the door decided before asking the inspector.
enum Early {
    /// The body went over `max_body` (or could not be spooled): decide by the fail mode.
    Limit(String),
}

async fn modify<S: IcapStream, I: Inspector>(
    conn: &mut Conn<S>,
    head: IcapHead,
    mode: Mode,
    config: &IcapConfig,
    inspector: &I,
    state: &IcapState,
) -> Result<(), ConnError> {
    let enc = parse_encapsulated(
        head.header("Encapsulated")
            .ok_or_else(|| bad("no Encapsulated header"))?,
    )?;
    match (mode, enc.body) {
        (Mode::Reqmod, Some(BodyOf::Response)) => return Err(bad("REQMOD with a res-body")),
        (Mode::Respmod, Some(BodyOf::Request)) => return Err(bad("RESPMOD with a req-body")),
        _ => {}
    }
    if mode == Mode::Reqmod && enc.req_hdr.is_none() {
        return Err(bad("REQMOD without req-hdr"));
    }
    if mode == Mode::Respmod && enc.res_hdr.is_none() {
        return Err(bad("RESPMOD without res-hdr"));
    }
    if enc.body_offset > 256 << 10 {
        return Err(bad("encapsulated headers too large"));
    }
    let mut headers = vec![0u8; enc.body_offset];
    match tokio::time::timeout(config.idle_timeout, conn.read_exact(&mut headers)).await {
        Err(_) => return Err(ConnError::Timeout),
        Ok(r) => {
            r?;
        }
    }
    let req = match enc.req_hdr {
        Some((a, b)) => Some(parse_http_request(&headers[a..b])?),
        None => None,
    };
    let res = match enc.res_hdr {
        Some((a, b)) => Some(parse_http_response(&headers[a..b])?),
        None => None,
    };

    // Receive the body: preview first if the client sent one.
    let preview = head.preview()?;
    let mut early = None;
    let mut in_preview = false;
    let mut body = None;
    if enc.body.is_some() {
        let mut spool = AsyncSpool::new(config.spool_threshold, &config.spool_dir);
        let mut over = false;
        let mut buf = vec![0u8; 64 << 10];
        let mut complete = false;
        if preview.is_some() {
            complete = receive(conn, &mut spool, &mut over, &mut buf, config, state).await?;
            in_preview = complete;
            if !complete {
                conn.get_mut()
                    .write_all(b"ICAP/1.0 100 Continue\r\n\r\n")
                    .await?;
            }
        }
        if !complete {
            receive(conn, &mut spool, &mut over, &mut buf, config, state).await?;
        }
        if over {
            IcapStats::bump(&state.stats.over_limit);
            early = Some(Early::Limit(format!(
                "body larger than {} bytes / 内容超过 {} 字节，未能检查",
                config.max_body, config.max_body
            )));
        } else {
            body = Some(spool.finish().await.map_err(ConnError::Io)?);
        }
    }

    let http = match mode {
        Mode::Reqmod => req.as_ref(),
        Mode::Respmod => res.as_ref(),
    };
    let info = body_info(mode, req.as_ref(), http);
    let body_bytes = body.as_ref().map(|b| b.len()).unwrap_or(0);
    let received = Received {
        headers,
        req_hdr: enc.req_hdr,
        res_hdr: enc.res_hdr,
        body: body.clone(),
    };

    let decision = match early {
        Some(Early::Limit(reason)) => fail_mode(config, reason, state, false),
        None => {
            let objects = match body {
                None => Ok(Ok(Vec::new())),
                Some(b) => {
                    let (info, cfg) = (info.clone(), config.clone());
                    let (uploads, stats) = (state.uploads.clone(), state.stats.clone());
                    let req = req.clone().filter(|_| mode == Mode::Reqmod);
                    let client = head
                        .header("X-Authenticated-User")
                        .and_then(decode_user)
                        .or_else(|| head.header("X-Client-IP").map(|v| v.trim().to_owned()))
                        .unwrap_or_else(|| "-".into());
                    tokio::task::spawn_blocking(move || {
                        let raw = b.clone();
                        let objects = split_body(b, &info, &cfg)?;
                        let Some(req) = req else {
                            return Ok(Ok(objects));
                        };
                        // A piece's bytes are the body as sent, unless it was compressed
                        // for the transfer: then the decoded body the parser made.
                        let decoded = info.content_encoding.is_some().then(|| {
                            objects
                                .iter()
                                .find(|o| o.kind == ObjectKind::Raw)
                                .map(|o| &o.blob)
                        });
                        let body = match decoded {
                            Some(d) => d.cloned(),
                            None => Some(raw),
                        };
                        let r = PieceRequest {
                            req: &req,
                            url: &info.url,
                            client,
                            body: body.as_ref(),
                            content_type: info.content_type.as_deref(),
                        };
                        Ok(match uploads.handle(&r, objects, &cfg, &stats) {
                            Outcome::Inspect(objects) => Ok(objects),
                            Outcome::Limit(reason) => Err(reason),
                        })
                    })
                    .await
                    .unwrap_or_else(|e| Err(format!("body parser failed: {e}")))
                }
            };
            // Err: the body parser's limit; Ok(Err): a bound on upload pieces.
            match objects {
                Err(reason) => {
                    IcapStats::bump(&state.stats.over_limit);
                    fail_mode(config, reason, state, false)
                }
                Ok(Err(reason)) => fail_mode(config, reason, state, false),
                Ok(Ok(objects)) => {
                    let exchange = Exchange {
                        mode,
                        method: req.as_ref().map(|r| r.method.clone()).unwrap_or_default(),
                        url: info.url.clone(),
                        host: req.as_ref().and_then(|r| r.header("Host")),
                        client_ip: head
                            .header("X-Client-IP")
                            .and_then(|v| v.trim().parse::<IpAddr>().ok()),
                        user: head.header("X-Authenticated-User").and_then(decode_user),
                        objects,
                        body_bytes,
                    };
                    match tokio::time::timeout(config.inspect_timeout, inspector.inspect(exchange))
                        .await
                    {
                        Ok(Ok(d)) => d,
                        Ok(Err(e)) => {
                            tracing::warn!("inspector failed: {e:#}");
                            fail_mode(config, "inspection failed / 检查失败".into(), state, true)
                        }
                        Err(_) => {
                            tracing::warn!("inspector timed out");
                            fail_mode(
                                config,
                                "inspection timed out / 检查超时".into(),
                                state,
                                true,
                            )
                        }
                    }
                }
            }
        }
    };

    let istag = state.istag();
    match decision {
        Decision::Allow if head.allows_204() || in_preview => {
            IcapStats::bump(&state.stats.no_content);
            let msg = format!(
                "ICAP/1.0 204 No Content\r\nISTag: \"{istag}\"\r\nServer: Baomi-ICAP\r\nEncapsulated: null-body=0\r\n\r\n"
            );
            conn.get_mut().write_all(msg.as_bytes()).await?;
        }
        Decision::Allow => {
            if enc.body.is_some() && received.body.is_none() {
                // Over the limit with fail-open, and the client cannot take a 204: the body
                // was not kept, so it cannot be echoed.
                return Err(ConnError::Bad(500, "body over limit, no Allow: 204".into()));
            }
            IcapStats::bump(&state.stats.echoed);
            echo(conn, mode, &received, &istag).await?;
        }
        Decision::Block(notice) => {
            IcapStats::bump(&state.stats.blocks);
            tracing::info!(
                incident = %notice.incident,
                "ICAP {} blocked",
                if mode == Mode::Reqmod { "request" } else { "response" }
            );
            let page = render_block_page(&notice, &config.contact);
            block(conn, &page, &istag).await?;
        }
    }
    conn.get_mut().flush().await?;
    Ok(())
}

/// Read one chunked body (or the rest of it) into the spool; past `max_body` bytes are
/// counted and dropped. Returns whether the body ended with `ieof`.
async fn receive<S: IcapStream>(
    conn: &mut Conn<S>,
    spool: &mut AsyncSpool,
    over: &mut bool,
    buf: &mut [u8],
    config: &IcapConfig,
    state: &IcapState,
) -> Result<bool, ConnError> {
    let mut chunks = ChunkedReader::default();
    loop {
        match chunks.next(conn, buf, config.idle_timeout).await? {
            Piece::Data(n) => {
                state
                    .stats
                    .body_bytes
                    .fetch_add(n as u64, Ordering::Relaxed);
                if *over {
                    continue;
                }
                if spool.len() + n as u64 > config.max_body {
                    *over = true;
                    // Release memory and disk now; the rest of the body is only drained.
                    *spool = AsyncSpool::new(config.spool_threshold, &config.spool_dir);
                    continue;
                }
                spool.write(&buf[..n]).await.map_err(ConnError::Io)?;
            }
            Piece::End { ieof } => return Ok(ieof),
        }
    }
}

fn body_info(mode: Mode, req: Option<&HttpHead>, http: Option<&HttpHead>) -> BodyInfo {
    let url = req.map(|r| r.target.clone()).unwrap_or_default();
    let url = match (req, url.starts_with('/')) {
        (Some(r), true) => match r.header("Host") {
            Some(h) => format!("http://{h}{url}"),
            None => url,
        },
        _ => url,
    };
    let _ = mode;
    BodyInfo {
        content_type: http.and_then(|h| h.header("Content-Type")),
        content_encoding: http.and_then(|h| h.header("Content-Encoding")),
        disposition: http
            .and_then(|h| h.header_bytes("Content-Disposition"))
            .map(|v| v.to_vec()),
        url,
    }
}

static DOOR_INCIDENTS: AtomicU64 = AtomicU64::new(0);

/// The decision when the inspector could not give one (error, timeout) or the body could
/// not be inspected (limit).
fn fail_mode(config: &IcapConfig, reason: String, state: &IcapState, inspector: bool) -> Decision {
    if inspector {
        IcapStats::bump(&state.stats.errors);
        IcapStats::bump(&state.stats.inspector_failures);
    }
    if config.fail_open {
        tracing::warn!("ICAP fail-open: allowing ({reason})");
        return Decision::Allow;
    }
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let n = DOOR_INCIDENTS.fetch_add(1, Ordering::Relaxed);
    Decision::Block(BlockNotice {
        incident: format!("ICAP-{secs}-{n}"),
        reasons: vec![reason],
        level: None,
        contact: None,
    })
}

/// `X-Authenticated-User`: Squid sends base64 of `Local://name` (or `LDAP://…`), some
/// clients a plain name.
fn decode_user(v: &str) -> Option<String> {
    let v = v.trim();
    if v.is_empty() {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(v)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| !s.is_empty() && !s.chars().any(char::is_control));
    let name = decoded.unwrap_or_else(|| v.to_owned());
    let name = match name.split_once("://") {
        Some((scheme, rest))
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric()) =>
        {
            rest.to_owned()
        }
        _ => name,
    };
    (!name.is_empty()).then_some(name)
}

/// ICAP 200 carrying an HTTP 403 with the block page, for REQMOD (request satisfaction) and
/// RESPMOD alike.
async fn block<S: IcapStream>(
    conn: &mut Conn<S>,
    page: &str,
    istag: &str,
) -> Result<(), ConnError> {
    let http = format!(
        "HTTP/1.1 403 Forbidden\r\n\
         Content-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\n\
         Cache-Control: no-store\r\n\
         X-Baomi: blocked\r\n\
         Connection: close\r\n\r\n",
        page.len()
    );
    let msg = format!(
        "ICAP/1.0 200 OK\r\nISTag: \"{istag}\"\r\nServer: Baomi-ICAP\r\nEncapsulated: res-hdr=0, res-body={}\r\n\r\n{http}{:x}\r\n{page}\r\n0\r\n\r\n",
        http.len(),
        page.len(),
    );
    conn.get_mut().write_all(msg.as_bytes()).await?;
    Ok(())
}

/// Send the message back unmodified (the client did not allow 204).
async fn echo<S: IcapStream>(
    conn: &mut Conn<S>,
    mode: Mode,
    got: &Received,
    istag: &str,
) -> Result<(), ConnError> {
    let hdr = match mode {
        Mode::Reqmod => got.req_hdr,
        Mode::Respmod => got.res_hdr,
    };
    let (a, b) = hdr.unwrap_or((0, 0));
    let http = &got.headers[a..b];
    let (hname, bname) = match mode {
        Mode::Reqmod => ("req-hdr", "req-body"),
        Mode::Respmod => ("res-hdr", "res-body"),
    };
    let encapsulated = match &got.body {
        Some(_) => format!("{hname}=0, {bname}={}", http.len()),
        None => format!("{hname}=0, null-body={}", http.len()),
    };
    let head = format!(
        "ICAP/1.0 200 OK\r\nISTag: \"{istag}\"\r\nServer: Baomi-ICAP\r\nEncapsulated: {encapsulated}\r\n\r\n"
    );
    let w = conn.get_mut();
    w.write_all(head.as_bytes()).await?;
    w.write_all(http).await?;
    let Some(body) = &got.body else {
        return Ok(());
    };
    match body {
        Blob::Mem(v) => {
            for c in v.chunks(64 << 10) {
                write_chunk(w, c).await?;
            }
        }
        Blob::File { path, .. } => {
            let mut f = tokio::fs::File::open(path).await.map_err(ConnError::Io)?;
            let mut buf = vec![0u8; 64 << 10];
            loop {
                let n = f.read(&mut buf).await.map_err(ConnError::Io)?;
                if n == 0 {
                    break;
                }
                write_chunk(w, &buf[..n]).await?;
            }
        }
    }
    w.write_all(b"0\r\n\r\n").await?;
    Ok(())
}

async fn write_chunk<S: IcapStream>(w: &mut S, data: &[u8]) -> Result<(), ConnError> {
    w.write_all(format!("{:x}\r\n", data.len()).as_bytes())
        .await?;
    w.write_all(data).await?;
    w.write_all(b"\r\n").await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_header_forms() {
        let b = base64::engine::general_purpose::STANDARD.encode("Local://zhangsan");
        assert_eq!(decode_user(&b).as_deref(), Some("zhangsan"));
        let b = base64::engine::general_purpose::STANDARD.encode("李四");
        assert_eq!(decode_user(&b).as_deref(), Some("李四"));
        assert_eq!(decode_user("wangwu").as_deref(), Some("wangwu"));
        assert_eq!(decode_user("Local://zhao").as_deref(), Some("zhao"));
        assert_eq!(decode_user(" "), None);
    }
}
