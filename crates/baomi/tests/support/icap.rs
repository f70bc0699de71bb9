//! A raw ICAP client for tests that talk to `baomi serve`'s ICAP door without Squid:
//! requests are written byte by byte as Squid would, answers are read strictly.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub type Conn = BufReader<TcpStream>;

pub async fn connect(port: u16) -> Result<Conn, String> {
    TcpStream::connect(("127.0.0.1", port))
        .await
        .map(BufReader::new)
        .map_err(|e| format!("connect: {e}"))
}

pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub head: String,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

pub fn expect(ok: bool, a: &Answer) -> Result<(), String> {
    if ok {
        return Ok(());
    }
    Err(format!(
        "unexpected answer {} {:?} {}",
        a.status,
        a.headers,
        a.head.lines().next().unwrap_or("")
    ))
}

pub async fn send(c: &mut Conn, bytes: &[u8]) -> Result<(), String> {
    c.get_mut()
        .write_all(bytes)
        .await
        .map_err(|e| format!("send: {e}"))
}

async fn line(c: &mut Conn) -> Result<String, String> {
    let mut l = String::new();
    match c.read_line(&mut l).await {
        Ok(0) => Err("closed before the answer".into()),
        Ok(_) => Ok(l.trim_end().to_owned()),
        Err(e) => Err(format!("read: {e}")),
    }
}

/// One ICAP answer: status, headers, and the encapsulated HTTP head and de-chunked body.
pub async fn answer(c: &mut Conn) -> Result<Answer, String> {
    let status_line = line(c).await?;
    let status = status_line
        .strip_prefix("ICAP/1.0 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("status line {status_line:?}"))?;
    let mut a = Answer {
        status,
        headers: Vec::new(),
        head: String::new(),
        body: String::new(),
    };
    loop {
        let l = line(c).await?;
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            a.headers.push((n.to_owned(), v.trim().to_owned()));
        }
    }
    let Some(enc) = a.header("Encapsulated") else {
        return Ok(a);
    };
    let (last, off) = enc
        .rsplit(',')
        .next()
        .and_then(|e| e.trim().split_once('='))
        .and_then(|(n, o)| Some((n.to_owned(), o.parse::<usize>().ok()?)))
        .ok_or_else(|| format!("Encapsulated {enc:?}"))?;
    let mut head = vec![0u8; off];
    c.read_exact(&mut head).await.map_err(|e| e.to_string())?;
    a.head = String::from_utf8_lossy(&head).into_owned();
    if last != "null-body" {
        let mut body = Vec::new();
        loop {
            let size = line(c).await?;
            let size = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| format!("chunk size {size:?}"))?;
            let mut chunk = vec![0u8; size + 2];
            c.read_exact(&mut chunk).await.map_err(|e| e.to_string())?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
        a.body = String::from_utf8_lossy(&body).into_owned();
    }
    Ok(a)
}

/// True when the server closes the connection (EOF or reset) within `wait`; an answer it
/// sends first (400, 408) is read and dropped.
pub async fn closed_within(c: &mut Conn, wait: Duration) -> bool {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(wait, async {
        loop {
            match c.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => continue,
            }
        }
    })
    .await
    .unwrap_or(false)
}

/// The ICAP head of a REQMOD carrying a POST of `len` bytes named `name`.
pub fn reqmod_head(base: &str, name: &str, len: usize, preview: Option<usize>) -> Vec<u8> {
    let http = format!(
        "POST http://drive.example/upload?name={name} HTTP/1.1\r\nHost: drive.example\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {len}\r\n\r\n"
    );
    let preview = preview
        .map(|p| format!("Preview: {p}\r\n"))
        .unwrap_or_default();
    let mut out = format!(
        "REQMOD {base} ICAP/1.0\r\nHost: 127.0.0.1\r\nAllow: 204\r\n{preview}\
         Encapsulated: req-hdr=0, req-body={}\r\n\r\n",
        http.len()
    )
    .into_bytes();
    out.extend_from_slice(http.as_bytes());
    out
}

/// A whole REQMOD with `body` as the preview and `ieof` (the body fits the preview).
pub fn reqmod(base: &str, name: &str, body: &[u8], ieof: bool) -> Vec<u8> {
    let mut out = reqmod_head(base, name, body.len(), Some(4096));
    out.extend_from_slice(&chunked(body));
    out.extend_from_slice(if ieof {
        b"0; ieof\r\n\r\n"
    } else {
        b"0\r\n\r\n"
    });
    out
}

pub fn chunked(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}
