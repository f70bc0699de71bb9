//! ICAP request heads and the encapsulated HTTP header blocks.

use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::time::Instant;

/// Why a connection stops.
#[derive(Debug)]
pub(crate) enum ConnError {
    /// The request cannot be understood: answer with this status, then close.
    Bad(u16, String),
    /// The client was too slow.
    Timeout,
    /// The client went away mid-request (truncated body, reset).
    Closed,
    Io(std::io::Error),
}

impl From<std::io::Error> for ConnError {
    fn from(e: std::io::Error) -> Self {
        match e.kind() {
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::BrokenPipe => ConnError::Closed,
            _ => ConnError::Io(e),
        }
    }
}

pub(crate) fn bad(msg: impl Into<String>) -> ConnError {
    ConnError::Bad(400, msg.into())
}

/// Longest header line and whole header block we accept; Squid's are a few hundred bytes.
const MAX_LINE: usize = 16 << 10;
const MAX_HEAD: usize = 64 << 10;

/// Read one line (without its CR LF or bare LF), at most `max` bytes, before `deadline`.
/// `Ok(None)`: the connection closed before the first byte.
pub(crate) async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    max: usize,
    deadline: Instant,
) -> Result<Option<Vec<u8>>, ConnError> {
    let mut line = Vec::new();
    loop {
        let buf = match tokio::time::timeout_at(deadline, r.fill_buf()).await {
            Err(_) => return Err(ConnError::Timeout),
            Ok(res) => res?,
        };
        if buf.is_empty() {
            return if line.is_empty() {
                Ok(None)
            } else {
                Err(ConnError::Closed)
            };
        }
        match memchr::memchr(b'\n', buf) {
            Some(i) => {
                line.extend_from_slice(&buf[..i]);
                r.consume(i + 1);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.len() > max {
                    return Err(bad("line too long"));
                }
                return Ok(Some(line));
            }
            None => {
                let n = buf.len();
                line.extend_from_slice(buf);
                r.consume(n);
                if line.len() > max {
                    return Err(bad("line too long"));
                }
            }
        }
    }
}

/// An ICAP request line and its headers.
#[derive(Debug)]
pub(crate) struct IcapHead {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
}

impl IcapHead {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The service name: the last path segment of the ICAP URI (`icap://h:1344/reqmod?x`).
    pub fn service(&self) -> &str {
        let rest = self
            .uri
            .split_once("://")
            .map(|(_, r)| r)
            .unwrap_or(&self.uri);
        let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("");
        let path = path.split(['?', '#']).next().unwrap_or("");
        path.trim_end_matches('/').rsplit('/').next().unwrap_or("")
    }

    pub fn preview(&self) -> Result<Option<u64>, ConnError> {
        match self.header("Preview") {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| bad("bad Preview header")),
        }
    }

    pub fn allows_204(&self) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("Allow"))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim() == "204")
    }

    pub fn wants_close(&self) -> bool {
        self.header("Connection")
            .is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    }
}

/// Read a request head: request line and headers up to the empty line. The first line may
/// wait `idle` (keep-alive); the rest of the head must arrive within `idle` of its first
/// byte, so a client dribbling a header cannot hold a connection forever.
/// `Ok(None)`: the client closed the connection between requests.
pub(crate) async fn read_head<R: AsyncBufRead + Unpin>(
    r: &mut R,
    idle: Duration,
) -> Result<Option<IcapHead>, ConnError> {
    // Wait for the first byte under the idle timeout.
    match tokio::time::timeout(idle, r.fill_buf()).await {
        Err(_) => return Ok(None),
        Ok(Err(e)) => return Err(e.into()),
        Ok(Ok([])) => return Ok(None),
        Ok(Ok(_)) => {}
    }
    let deadline = Instant::now() + idle;
    let mut first = None;
    // Tolerate stray empty lines between requests (a client's extra CRLF).
    for _ in 0..4 {
        match read_line(r, MAX_LINE, deadline).await? {
            None => return Ok(None),
            Some(l) if l.is_empty() => continue,
            Some(l) => {
                first = Some(l);
                break;
            }
        }
    }
    let first = first.ok_or_else(|| bad("no request line"))?;
    let first = String::from_utf8(first).map_err(|_| bad("request line is not UTF-8"))?;
    let mut parts = first.split_ascii_whitespace();
    let (Some(method), Some(uri), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("malformed request line"));
    };
    if !version.eq_ignore_ascii_case("ICAP/1.0") {
        if version.to_ascii_uppercase().starts_with("ICAP/") {
            return Err(ConnError::Bad(505, "ICAP version not supported".into()));
        }
        return Err(bad("not an ICAP request"));
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut total = first.len();
    loop {
        let line = read_line(r, MAX_LINE, deadline)
            .await?
            .ok_or(ConnError::Closed)?;
        total += line.len() + 2;
        if total > MAX_HEAD {
            return Err(bad("header block too large"));
        }
        if line.is_empty() {
            break;
        }
        let line = String::from_utf8_lossy(&line).into_owned();
        if line.starts_with([' ', '\t']) {
            // Obsolete line folding: continue the previous header's value.
            match headers.last_mut() {
                Some((_, v)) => {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                None => return Err(bad("continuation line without a header")),
            }
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad("header line without a colon"))?;
        if name.is_empty() || name.contains([' ', '\t']) {
            return Err(bad("malformed header name"));
        }
        headers.push((name.to_owned(), value.trim().to_owned()));
        if headers.len() > 200 {
            return Err(bad("too many headers"));
        }
    }
    Ok(Some(IcapHead {
        method: method.to_owned(),
        uri: uri.to_owned(),
        headers,
    }))
}

/// The `Encapsulated` header: which HTTP parts follow and where.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Encapsulated {
    pub req_hdr: Option<(usize, usize)>,
    pub res_hdr: Option<(usize, usize)>,
    /// Offset where the header blocks end and the body (or nothing) starts.
    pub body_offset: usize,
    /// Whose body follows; `None` for `null-body`.
    pub body: Option<BodyOf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyOf {
    Request,
    Response,
}

/// Parse `req-hdr=0, res-hdr=137, res-body=296`. Offsets must rise, header parts come
/// first, and exactly one body entry (`req-body`, `res-body`, `null-body`) ends the list.
pub(crate) fn parse_encapsulated(v: &str) -> Result<Encapsulated, ConnError> {
    let mut entries = Vec::new();
    for item in v.split(',') {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (name, off) = item
            .split_once('=')
            .ok_or_else(|| bad("bad Encapsulated entry"))?;
        let off: usize = off
            .trim()
            .parse()
            .map_err(|_| bad("bad Encapsulated offset"))?;
        entries.push((name.trim().to_ascii_lowercase(), off));
    }
    let Some((last, body_offset)) = entries.last().cloned() else {
        return Err(bad("empty Encapsulated header"));
    };
    let body = match last.as_str() {
        "req-body" => Some(BodyOf::Request),
        "res-body" => Some(BodyOf::Response),
        "null-body" => None,
        _ => return Err(bad("Encapsulated must end with a body entry")),
    };
    let mut enc = Encapsulated {
        body_offset,
        body,
        ..Default::default()
    };
    let mut prev = 0usize;
    for (i, (name, off)) in entries.iter().enumerate() {
        if *off < prev || (i == 0 && *off != 0) {
            return Err(bad("Encapsulated offsets out of order"));
        }
        prev = *off;
        if i + 1 == entries.len() {
            break;
        }
        let end = entries[i + 1].1;
        let slot = match name.as_str() {
            "req-hdr" => &mut enc.req_hdr,
            "res-hdr" => &mut enc.res_hdr,
            _ => return Err(bad("unknown or misplaced Encapsulated entry")),
        };
        if slot.is_some() {
            return Err(bad("duplicate Encapsulated entry"));
        }
        *slot = Some((*off, end));
    }
    Ok(enc)
}

/// The parts of an encapsulated HTTP header block the door needs.
#[derive(Debug, Default, Clone)]
pub(crate) struct HttpHead {
    /// Request: method; response: empty.
    pub method: String,
    /// Request: target (absolute URL from Squid); response: empty.
    pub target: String,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl HttpHead {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).trim().to_owned())
    }

    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

const MAX_HTTP_HEADERS: usize = 256;

pub(crate) fn parse_http_request(block: &[u8]) -> Result<HttpHead, ConnError> {
    let mut hs = vec![httparse::EMPTY_HEADER; MAX_HTTP_HEADERS];
    let mut req = httparse::Request::new(&mut hs);
    match req.parse(block) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(bad("malformed encapsulated HTTP request header")),
    }
    Ok(HttpHead {
        method: req.method.unwrap_or_default().to_owned(),
        target: req.path.unwrap_or_default().to_owned(),
        headers: req
            .headers
            .iter()
            .map(|h| (h.name.to_owned(), h.value.to_vec()))
            .collect(),
    })
}

pub(crate) fn parse_http_response(block: &[u8]) -> Result<HttpHead, ConnError> {
    let mut hs = vec![httparse::EMPTY_HEADER; MAX_HTTP_HEADERS];
    let mut res = httparse::Response::new(&mut hs);
    match res.parse(block) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(bad("malformed encapsulated HTTP response header")),
    }
    Ok(HttpHead {
        headers: res
            .headers
            .iter()
            .map(|h| (h.name.to_owned(), h.value.to_vec()))
            .collect(),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encapsulated_forms() {
        let e = parse_encapsulated("req-hdr=0, req-body=120").unwrap();
        assert_eq!(e.req_hdr, Some((0, 120)));
        assert_eq!(e.body, Some(BodyOf::Request));
        assert_eq!(e.body_offset, 120);
        let e = parse_encapsulated("req-hdr=0, res-hdr=100, res-body=250").unwrap();
        assert_eq!(e.req_hdr, Some((0, 100)));
        assert_eq!(e.res_hdr, Some((100, 250)));
        assert_eq!(e.body, Some(BodyOf::Response));
        let e = parse_encapsulated("null-body=0").unwrap();
        assert_eq!(e.body, None);
        assert_eq!(e.body_offset, 0);
        assert!(parse_encapsulated("req-body=0, req-hdr=5").is_err());
        assert!(parse_encapsulated("req-hdr=10, req-body=5").is_err());
        assert!(parse_encapsulated("req-hdr=0").is_err());
        assert!(parse_encapsulated("req-hdr=x, null-body=3").is_err());
        assert!(parse_encapsulated("").is_err());
    }

    #[test]
    fn service_from_uri() {
        let h = |u: &str| IcapHead {
            method: "OPTIONS".into(),
            uri: u.into(),
            headers: vec![],
        };
        assert_eq!(h("icap://127.0.0.1:1344/reqmod").service(), "reqmod");
        assert_eq!(h("icap://h/respmod?x=1").service(), "respmod");
        assert_eq!(h("icap://h/").service(), "");
        assert_eq!(h("icap://h").service(), "");
    }
}
