//! Shared test parts: a server on a free loopback port, inspectors, and a raw ICAP client
//! that writes bytes by hand and reads answers strictly.
#![allow(dead_code)]

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use baomi_icap::{BlockNotice, Decision, Exchange, IcapConfig, IcapState, Inspector, ObjectKind};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Blocks when any object contains `机密`; remembers what it saw.
#[derive(Default)]
pub struct MarkerInspector {
    pub seen: Mutex<Vec<(String, ObjectKind, Vec<u8>)>>,
    pub users: Mutex<Vec<(Option<String>, Option<std::net::IpAddr>)>>,
    pub delay: Option<Duration>,
    pub fail: bool,
}

impl Inspector for MarkerInspector {
    async fn inspect(&self, ex: Exchange) -> anyhow::Result<Decision> {
        if let Some(d) = self.delay {
            tokio::time::sleep(d).await;
        }
        if self.fail {
            anyhow::bail!("inspector broke");
        }
        self.users
            .lock()
            .unwrap()
            .push((ex.user.clone(), ex.client_ip));
        let mut block = false;
        for o in &ex.objects {
            let mut bytes = Vec::new();
            o.blob.open()?.take(1 << 20).read_to_end(&mut bytes)?;
            if bytes.windows("机密".len()).any(|w| w == "机密".as_bytes()) {
                block = true;
            }
            self.seen
                .lock()
                .unwrap()
                .push((o.name.clone(), o.kind, bytes));
        }
        Ok(if block {
            Decision::Block(BlockNotice {
                incident: "INC-7".into(),
                reasons: vec!["机密 marking".into()],
                level: Some("机密".into()),
                contact: None,
            })
        } else {
            Decision::Allow
        })
    }
}

pub struct Running {
    pub addr: SocketAddr,
    pub state: Arc<IcapState>,
    stop: Option<oneshot::Sender<()>>,
    pub done: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), self.done)
            .await
            .expect("server stops")
            .unwrap()
            .unwrap();
    }
}

pub async fn start<I: Inspector>(config: IcapConfig, inspector: Arc<I>) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Arc::new(config);
    let state = Arc::new(IcapState::new(&config));
    let (tx, rx) = oneshot::channel::<()>();
    let st = state.clone();
    let done = tokio::spawn(baomi_icap::serve_with_state(
        listener,
        config,
        inspector,
        st,
        async move {
            let _ = rx.await;
        },
    ));
    Running {
        addr,
        state,
        stop: Some(tx),
        done,
    }
}

/// An ICAP answer as read off the wire.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The encapsulated HTTP header block(s), as bytes.
    pub http_head: Vec<u8>,
    /// The de-chunked encapsulated body.
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn http_head_str(&self) -> String {
        String::from_utf8_lossy(&self.http_head).into_owned()
    }
    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub struct Client {
    pub r: BufReader<TcpStream>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        Client {
            r: BufReader::new(TcpStream::connect(addr).await.unwrap()),
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.r.get_mut().write_all(bytes).await.unwrap();
    }

    async fn line(&mut self) -> Option<String> {
        let mut l = String::new();
        let n = tokio::time::timeout(Duration::from_secs(20), self.r.read_line(&mut l))
            .await
            .expect("answer within 20 s")
            .ok()?;
        if n == 0 {
            return None;
        }
        Some(l.trim_end_matches(['\r', '\n']).to_owned())
    }

    /// Read one answer; `None` when the server closed the connection instead.
    pub async fn answer(&mut self) -> Option<Answer> {
        let status_line = self.line().await?;
        assert!(
            status_line.starts_with("ICAP/1.0 "),
            "status line: {status_line:?}"
        );
        let status: u16 = status_line[9..12].parse().unwrap();
        let mut headers = Vec::new();
        loop {
            let l = self.line().await.expect("header line");
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').expect("header with colon");
            headers.push((n.to_owned(), v.trim().to_owned()));
        }
        let mut a = Answer {
            status,
            headers,
            http_head: Vec::new(),
            body: Vec::new(),
        };
        if status == 100 {
            return Some(a);
        }
        let enc = a
            .header("Encapsulated")
            .expect("Encapsulated in every answer")
            .to_owned();
        let entries: Vec<(String, usize)> = enc
            .split(',')
            .map(|e| {
                let (n, o) = e.trim().split_once('=').unwrap();
                (n.to_owned(), o.parse().unwrap())
            })
            .collect();
        let (last, off) = entries.last().unwrap().clone();
        let mut head = vec![0u8; off];
        self.r.read_exact(&mut head).await.unwrap();
        a.http_head = head;
        if last != "null-body" {
            loop {
                let size = self.line().await.expect("chunk size");
                let size =
                    usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
                if size == 0 {
                    assert_eq!(self.line().await.unwrap(), "");
                    break;
                }
                let mut chunk = vec![0u8; size];
                self.r.read_exact(&mut chunk).await.unwrap();
                a.body.extend_from_slice(&chunk);
                assert_eq!(self.line().await.unwrap(), "");
            }
        }
        Some(a)
    }

    /// True if the server closes the connection (EOF) within `wait`.
    pub async fn closed_within(&mut self, wait: Duration) -> bool {
        let mut b = [0u8; 1024];
        match tokio::time::timeout(wait, async {
            loop {
                match self.r.read(&mut b).await {
                    Ok(0) | Err(_) => return true,
                    Ok(_) => continue,
                }
            }
        })
        .await
        {
            Ok(c) => c,
            Err(_) => false,
        }
    }
}

/// A REQMOD with the given HTTP request head and body, chunked in pieces of `chunk`,
/// with an optional preview of `preview` bytes.
pub fn reqmod(
    addr: SocketAddr,
    http_head: &str,
    body: Option<&[u8]>,
    preview: Option<usize>,
    allow_204: bool,
) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut icap = format!("REQMOD icap://{addr}/reqmod ICAP/1.0\r\nHost: {addr}\r\n");
    if allow_204 {
        icap.push_str("Allow: 204\r\n");
    }
    let enc = match body {
        Some(_) => format!("req-hdr=0, req-body={}", http_head.len()),
        None => format!("req-hdr=0, null-body={}", http_head.len()),
    };
    icap.push_str(&format!("Encapsulated: {enc}\r\n"));
    let Some(body) = body else {
        icap.push_str("\r\n");
        icap.push_str(http_head);
        return (icap.into_bytes(), None);
    };
    match preview {
        None => {
            icap.push_str("\r\n");
            let mut out = icap.into_bytes();
            out.extend_from_slice(http_head.as_bytes());
            out.extend_from_slice(&chunked(body, 1000));
            out.extend_from_slice(b"0\r\n\r\n");
            (out, None)
        }
        Some(p) => {
            icap.push_str(&format!("Preview: {p}\r\n\r\n"));
            let mut out = icap.into_bytes();
            out.extend_from_slice(http_head.as_bytes());
            let (first, rest) = body.split_at(p.min(body.len()));
            out.extend_from_slice(&chunked(first, 1000));
            if rest.is_empty() {
                out.extend_from_slice(b"0; ieof\r\n\r\n");
                (out, None)
            } else {
                out.extend_from_slice(b"0\r\n\r\n");
                let mut more = chunked(rest, 777);
                more.extend_from_slice(b"0\r\n\r\n");
                (out, Some(more))
            }
        }
    }
}

pub fn chunked(data: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in data.chunks(size.max(1)) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out
}

pub fn post_head(path: &str, ct: &str, len: usize) -> String {
    format!(
        "POST http://upload.example{path} HTTP/1.1\r\nHost: upload.example\r\nContent-Type: {ct}\r\nContent-Length: {len}\r\n\r\n"
    )
}
