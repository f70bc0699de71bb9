//! ICAP bodies are always chunked (RFC 3507 4.4.1); the last chunk of a preview may carry
//! the `ieof` extension, meaning the preview was the whole body.

use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncReadExt};
use tokio::time::Instant;

use crate::proto::{ConnError, bad, read_line};

/// What one call to [`ChunkedReader::next`] produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    /// This many bytes of body were written to the buffer.
    Data(usize),
    /// The zero-size chunk (and its trailers) was read.
    End { ieof: bool },
}

/// A body must bring at least this many bytes in every `timeout` window. Each read making
/// some progress is not enough: a client dribbling a byte every few seconds ("slow POST")
/// would hold its connection, and one of the `Max-Connections` permits, for ever.
const MIN_BYTES_PER_WINDOW: u64 = 1024;

/// Decodes one chunked body, piece by piece, into a caller's buffer: nothing is collected.
#[derive(Debug, Default)]
pub(crate) struct ChunkedReader {
    remaining: u64,
    in_chunk: bool,
    /// When the current rate window began, and the body bytes seen in it.
    window: Option<(Instant, u64)>,
}

impl ChunkedReader {
    /// Each read must make progress within `timeout`; a slow client times out.
    pub async fn next<R: AsyncBufRead + Unpin>(
        &mut self,
        r: &mut R,
        buf: &mut [u8],
        timeout: Duration,
    ) -> Result<Piece, ConnError> {
        if self.remaining == 0 {
            if self.in_chunk {
                let line = read_line(r, 64, Instant::now() + timeout)
                    .await?
                    .ok_or(ConnError::Closed)?;
                if !line.is_empty() {
                    return Err(bad("chunk data longer than its size"));
                }
                self.in_chunk = false;
            }
            let line = read_line(r, 4096, Instant::now() + timeout)
                .await?
                .ok_or(ConnError::Closed)?;
            let (size, ieof) = parse_chunk_size(&line)?;
            if size == 0 {
                // Trailers (rare) end with an empty line.
                for _ in 0..64 {
                    let t = read_line(r, 4096, Instant::now() + timeout)
                        .await?
                        .ok_or(ConnError::Closed)?;
                    if t.is_empty() {
                        return Ok(Piece::End { ieof });
                    }
                }
                return Err(bad("too many trailer lines"));
            }
            self.remaining = size;
            self.in_chunk = true;
        }
        let want = (buf.len() as u64).min(self.remaining) as usize;
        let n = match tokio::time::timeout(timeout, r.read(&mut buf[..want])).await {
            Err(_) => return Err(ConnError::Timeout),
            Ok(res) => res?,
        };
        if n == 0 {
            return Err(ConnError::Closed);
        }
        self.remaining -= n as u64;
        let now = Instant::now();
        let (start, bytes) = self.window.get_or_insert((now, 0));
        *bytes += n as u64;
        if now.duration_since(*start) >= timeout {
            if *bytes < MIN_BYTES_PER_WINDOW {
                return Err(ConnError::Timeout);
            }
            self.window = Some((now, 0));
        }
        Ok(Piece::Data(n))
    }
}

/// `1a3f`, `1a3f; name=value`, `0; ieof`.
pub(crate) fn parse_chunk_size(line: &[u8]) -> Result<(u64, bool), ConnError> {
    let line = std::str::from_utf8(line).map_err(|_| bad("chunk size line is not ASCII"))?;
    let (size, exts) = match line.split_once(';') {
        Some((s, e)) => (s, Some(e)),
        None => (line, None),
    };
    let size = size.trim();
    if size.is_empty() || size.len() > 15 || !size.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("bad chunk size"));
    }
    let size = u64::from_str_radix(size, 16).map_err(|_| bad("bad chunk size"))?;
    let ieof = exts.is_some_and(|e| {
        e.split(';').any(|x| {
            x.split('=')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("ieof")
        })
    });
    Ok((size, ieof))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_sizes_and_extensions() {
        assert_eq!(parse_chunk_size(b"1a").unwrap(), (26, false));
        assert_eq!(parse_chunk_size(b"0; ieof").unwrap(), (0, true));
        assert_eq!(parse_chunk_size(b"0;ieof").unwrap(), (0, true));
        assert_eq!(parse_chunk_size(b"10;name=val;x").unwrap(), (16, false));
        assert_eq!(parse_chunk_size(b"FF ").unwrap(), (255, false));
        assert!(parse_chunk_size(b"").is_err());
        assert!(parse_chunk_size(b"zz").is_err());
        assert!(parse_chunk_size(b"-1").is_err());
        assert!(parse_chunk_size(b"1234567890abcdef0").is_err());
    }

    #[tokio::test]
    async fn decodes_chunks_with_extensions() {
        let data = b"5;x=y\r\nhello\r\n6\r\n world\r\n0; ieof\r\n\r\nNEXT".to_vec();
        let mut r = tokio::io::BufReader::new(&data[..]);
        let mut c = ChunkedReader::default();
        let mut buf = [0u8; 4];
        let mut out = Vec::new();
        loop {
            match c
                .next(&mut r, &mut buf, Duration::from_secs(1))
                .await
                .unwrap()
            {
                Piece::Data(n) => out.extend_from_slice(&buf[..n]),
                Piece::End { ieof } => {
                    assert!(ieof);
                    break;
                }
            }
        }
        assert_eq!(out, b"hello world");
        let mut rest = Vec::new();
        r.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"NEXT");
    }

    #[tokio::test]
    async fn a_dribbled_body_times_out_though_every_read_makes_progress() {
        let (mut client, server) = tokio::io::duplex(64);
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            // One 1-byte chunk every 20 ms: each read is well inside the 100 ms timeout.
            for _ in 0..100 {
                if client.write_all(b"1\r\nx\r\n").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let mut r = tokio::io::BufReader::new(server);
        let mut c = ChunkedReader::default();
        let mut buf = [0u8; 64];
        let started = std::time::Instant::now();
        let got = loop {
            match c.next(&mut r, &mut buf, Duration::from_millis(100)).await {
                Ok(Piece::Data(_)) => continue,
                other => break other,
            }
        };
        assert!(matches!(got, Err(ConnError::Timeout)), "{got:?}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn truncated_chunk_is_closed_not_panic() {
        let data = b"10\r\nshort".to_vec();
        let mut r = tokio::io::BufReader::new(&data[..]);
        let mut c = ChunkedReader::default();
        let mut buf = [0u8; 64];
        let mut got = Ok(Piece::Data(0));
        for _ in 0..4 {
            got = c.next(&mut r, &mut buf, Duration::from_secs(1)).await;
            if got.is_err() {
                break;
            }
        }
        assert!(matches!(got, Err(ConnError::Closed)));
    }
}
