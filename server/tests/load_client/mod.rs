//! The inbox benchmark's HTTP/1.1 client: requests built into their wire bytes before the
//! clock starts, sent one after another over one keep-alive connection, each answer read
//! whole but parsed only for its status and length. A general client (reqwest) spent ~32 µs
//! of CPU per request, on the same two cores as the server it measures; this one spends a
//! few, as a C load generator (`wrk`) would.

use std::io::{Error, ErrorKind, Result};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Headers an answer may carry; the server sends about a dozen.
const MAX_HEADERS: usize = 64;
/// A request not answered within this counts as failed (a stuck server does not hang the
/// benchmark).
const ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// `method path` to `authority` with `headers` and `body`, as the bytes that go on the wire.
pub fn request(
    method: &str,
    authority: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {authority}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method != "GET" {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut wire = head.into_bytes();
    wire.extend_from_slice(body);
    wire
}

/// One keep-alive connection.
pub struct Connection {
    authority: String,
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    pub async fn open(authority: &str) -> Result<Connection> {
        let stream = TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            authority: authority.into(),
            stream,
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    /// Sends `request` and reads its whole answer; returns the status. After an error, or
    /// an answer that closes the connection, the connection is opened again for the next
    /// request (the failed one is not retried).
    pub async fn exchange(&mut self, request: &[u8]) -> Result<u16> {
        let answer = tokio::time::timeout(ANSWER_WITHIN, self.send_and_read(request))
            .await
            .unwrap_or_else(|_| Err(ErrorKind::TimedOut.into()));
        if !matches!(answer, Ok((_, true))) {
            *self = Connection::open(&self.authority).await?;
        }
        answer.map(|(status, _)| status)
    }

    /// The status, and whether the connection may carry another request.
    async fn send_and_read(&mut self, request: &[u8]) -> Result<(u16, bool)> {
        self.stream.write_all(request).await?;
        self.buf.clear();
        loop {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            let parsed = response
                .parse(&self.buf)
                .map_err(|e| Error::new(ErrorKind::InvalidData, e))?;
            if let httparse::Status::Complete(head) = parsed {
                let status = response.code.unwrap_or(0);
                let header = |name: &str| {
                    response
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .and_then(|h| std::str::from_utf8(h.value).ok())
                        .map(str::trim)
                };
                if header("transfer-encoding").is_some() {
                    return Err(Error::new(
                        ErrorKind::InvalidData,
                        "chunked answers are not read",
                    ));
                }
                let reusable =
                    !header("connection").is_some_and(|c| c.eq_ignore_ascii_case("close"));
                // No body: 1xx, 204 and 304 (RFC 9112 §6.3); every other answer here carries
                // a length (the benchmark sends no HEAD).
                let length = if matches!(status, 100..=199 | 204 | 304) {
                    0
                } else {
                    header("content-length")
                        .and_then(|v| v.parse::<usize>().ok())
                        .ok_or_else(|| Error::new(ErrorKind::InvalidData, "no content-length"))?
                };
                while self.buf.len() < head + length {
                    self.read_more().await?;
                }
                return Ok((status, reusable));
            }
            self.read_more().await?;
        }
    }

    async fn read_more(&mut self) -> Result<()> {
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}
