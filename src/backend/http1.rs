//! A lean HTTP/1.1 client connection: one buffered write per request, responses parsed in
//! place with httparse (Content-Length and chunked bodies), keep-alive.
//!
//! Why not a general client: at tens of thousands of invocations per second the client's
//! CPU per request is the injector's limit, and a generic client spends 2–4× what a single
//! keep-alive exchange needs (see docs/benchmarks.md).

use std::io::{self, Write as _};
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::runtime;
use tokio::time::{Instant, Sleep};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Where requests go.
#[derive(Clone)]
pub struct Endpoint {
    /// `host:port` to connect to.
    pub addr: String,
    /// `Host` header value.
    pub host: String,
    /// TLS connector and server name, for https.
    pub tls: Option<(TlsConnector, ServerName<'static>)>,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Why an exchange failed, and whether anything came back.
#[derive(Debug)]
pub struct ExchangeError {
    /// The I/O error.
    pub error: io::Error,
    /// No response byte was received.
    pub nothing_received: bool,
    /// The deadline passed before the response was complete.
    pub timed_out: bool,
}

/// One keep-alive connection, usable on the runtime that opened it.
pub struct Conn {
    wire: Wire,
    /// Bounds each exchange. With one timeout for every exchange, deadlines only grow: it is
    /// then re-armed only when it fires before the current exchange's deadline (once per
    /// timeout period at most), so an exchange costs no timer operation.
    watchdog: Pin<Box<Sleep>>,
    runtime: runtime::Id,
}

/// The socket and its buffers.
struct Wire {
    stream: Stream,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    /// A chunked body, de-chunked.
    chunked: Vec<u8>,
    /// Where the last response lies in the buffers.
    last: Last,
    /// The server asked to close, or the exchange failed: do not reuse.
    broken: bool,
}

/// The last response: its status, and the ranges of its activation id header and body.
#[derive(Default)]
struct Last {
    status: u16,
    activation_id: Option<Range<usize>>,
    /// In `rbuf`, or all of `chunked` when `None`.
    body: Option<Range<usize>>,
}

/// A response, read in place in its connection's buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResponseRef<'a> {
    /// Status code.
    pub status: u16,
    /// `x-openwhisk-activation-id`, when present.
    pub activation_id: Option<&'a str>,
    /// Body bytes (de-chunked).
    pub body: &'a [u8],
}

const MAX_HEAD: usize = 64 * 1024;
/// The largest response body read: an activation record with OpenWhisk's largest logs
/// (10 MB) and result (1 MB) fits; a larger reply is an error, not a memory hazard.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Buffers that grew past this for one large response are given back before the next
/// exchange, so a few huge replies do not pin their size on every pooled connection.
const KEEP_BUFFER: usize = 256 * 1024;

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

impl Conn {
    /// Open a connection (and TLS session) on the current runtime; `deadline` bounds its
    /// first exchange.
    pub async fn connect(ep: &Endpoint, deadline: Instant) -> io::Result<Conn> {
        let tcp = TcpStream::connect(&ep.addr).await?;
        tcp.set_nodelay(true)?;
        let stream = match &ep.tls {
            None => Stream::Plain(tcp),
            Some((connector, name)) => {
                Stream::Tls(Box::new(connector.connect(name.clone(), tcp).await?))
            }
        };
        Ok(Conn {
            wire: Wire {
                stream,
                rbuf: Vec::with_capacity(8192),
                wbuf: Vec::with_capacity(1024),
                chunked: Vec::new(),
                last: Last::default(),
                broken: false,
            },
            watchdog: Box::pin(tokio::time::sleep_until(deadline)),
            runtime: runtime::Handle::current().id(),
        })
    }

    /// The runtime whose reactor and timer serve this connection.
    pub fn runtime(&self) -> runtime::Id {
        self.runtime
    }

    /// The server asked to close, or an exchange failed: do not reuse.
    pub fn broken(&self) -> bool {
        self.wire.broken
    }

    /// Whether the server has closed this idle connection (or spoken out of turn on it):
    /// then a request must not be written to it. Free when the socket has not become
    /// readable since its last exchange (the reactor's cached readiness is checked first,
    /// without a system call); otherwise one `recv(MSG_PEEK)`. Bytes waiting on a TLS
    /// connection may be a post-handshake message, so only end of stream counts there.
    pub fn peer_closed(&self) -> bool {
        let (tcp, tls) = match &self.wire.stream {
            Stream::Plain(s) => (s, false),
            Stream::Tls(s) => (s.get_ref().0, true),
        };
        let mut byte = [0u8; 1];
        let peeked = tcp.try_io(tokio::io::Interest::READABLE, || {
            rustix::net::recv(
                tcp,
                &mut byte,
                rustix::net::RecvFlags::PEEK | rustix::net::RecvFlags::DONTWAIT,
            )
            .map(|(n, _)| n)
            .map_err(io::Error::from)
        });
        match peeked {
            Ok(0) => true,
            Ok(_) => !tls,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            Err(_) => true,
        }
    }

    /// Send a request and read its response, by `deadline`. `head` writes the request line
    /// and headers without the final blank line; Content-Length is added here. The response
    /// stays in the connection's buffer until the next exchange.
    pub async fn exchange(
        &mut self,
        head: &(dyn Fn(&mut Vec<u8>) + Sync),
        body: &[u8],
        deadline: Instant,
    ) -> Result<ResponseRef<'_>, ExchangeError> {
        let wire = &mut self.wire;
        for buf in [&mut wire.rbuf, &mut wire.chunked] {
            if buf.capacity() > KEEP_BUFFER {
                *buf = Vec::with_capacity(8192.min(KEEP_BUFFER));
            }
        }
        wire.wbuf.clear();
        head(&mut wire.wbuf);
        wire.wbuf.extend_from_slice(b"Content-Length: ");
        let _ = write!(wire.wbuf, "{}\r\n\r\n", body.len());
        wire.wbuf.extend_from_slice(body);
        wire.rbuf.clear();
        // A later deadline than the armed one is checked when the watchdog fires; an
        // earlier one (a shorter timeout than the previous exchange's) needs re-arming now.
        if deadline < self.watchdog.deadline() {
            self.watchdog.as_mut().reset(deadline);
        }
        let result = {
            let mut work = std::pin::pin!(wire.exchange());
            loop {
                tokio::select! {
                    biased;
                    r = &mut work => break r,
                    () = self.watchdog.as_mut() => {
                        if Instant::now() >= deadline {
                            break Err(io::Error::new(
                                io::ErrorKind::TimedOut,
                                "no complete response by the deadline",
                            ));
                        }
                        self.watchdog.as_mut().reset(deadline);
                    }
                }
            }
        };
        match result {
            Ok(()) => Ok(self.wire.response()),
            Err(error) => {
                self.wire.broken = true;
                Err(ExchangeError {
                    timed_out: error.kind() == io::ErrorKind::TimedOut,
                    nothing_received: self.wire.rbuf.is_empty(),
                    error,
                })
            }
        }
    }
}

impl Wire {
    fn response(&self) -> ResponseRef<'_> {
        let last = &self.last;
        ResponseRef {
            status: last.status,
            // Checked as UTF-8 when the head was parsed.
            activation_id: last
                .activation_id
                .clone()
                .and_then(|r| std::str::from_utf8(&self.rbuf[r]).ok()),
            body: match &last.body {
                Some(r) => &self.rbuf[r.clone()],
                None => &self.chunked,
            },
        }
    }

    async fn exchange(&mut self) -> io::Result<()> {
        self.stream.write_all(&self.wbuf).await?;
        if let Stream::Tls(_) = self.stream {
            self.stream.flush().await?;
        }
        // Read until the head parses.
        let (status, activation_id, head_len, framing, close) = loop {
            if let Some(h) = parse_head(&self.rbuf)? {
                break h;
            }
            if self.rbuf.len() > MAX_HEAD {
                return Err(invalid("response head larger than 64 KiB"));
            }
            self.fill().await?;
        };
        if close {
            self.broken = true;
        }
        let body = match framing {
            Framing::Length(n) => {
                if n > MAX_BODY {
                    return Err(invalid(format!("response body of {n} bytes is too large")));
                }
                while self.rbuf.len() < head_len + n {
                    self.fill().await?;
                }
                if self.rbuf.len() > head_len + n {
                    // Bytes past the response: the server is not speaking request/response.
                    self.broken = true;
                }
                Some(head_len..head_len + n)
            }
            Framing::Chunked => {
                self.read_chunked(head_len).await?;
                None
            }
            Framing::UntilClose => {
                self.broken = true;
                loop {
                    match self.fill().await {
                        Ok(()) if self.rbuf.len() - head_len > MAX_BODY => {
                            return Err(invalid(format!(
                                "response body larger than {MAX_BODY} bytes"
                            )))
                        }
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                        Err(e) => return Err(e),
                    }
                }
                Some(head_len..self.rbuf.len())
            }
        };
        self.last = Last {
            status,
            activation_id,
            body,
        };
        Ok(())
    }

    /// Read more bytes; EOF is an error here (the response is incomplete).
    async fn fill(&mut self) -> io::Result<()> {
        let len = self.rbuf.len();
        if self.rbuf.capacity() - len < 4096 {
            self.rbuf.reserve(8192);
        }
        let n = self.stream.read_buf(&mut self.rbuf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed by the server",
            ));
        }
        Ok(())
    }

    /// De-chunk a body into `chunked`.
    async fn read_chunked(&mut self, mut pos: usize) -> io::Result<()> {
        self.chunked.clear();
        loop {
            // Chunk size line.
            let line_end = loop {
                if let Some(i) = find_crlf(&self.rbuf[pos..]) {
                    break pos + i;
                }
                if self.rbuf.len() - pos > 1024 {
                    return Err(invalid("chunk size line too long"));
                }
                self.fill().await?;
            };
            let line = std::str::from_utf8(&self.rbuf[pos..line_end])
                .map_err(|_| invalid("bad chunk size"))?;
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| invalid(format!("bad chunk size `{size_text}`")))?;
            pos = line_end + 2;
            if size == 0 {
                // Trailers end with an empty line.
                loop {
                    if let Some(i) = find_crlf(&self.rbuf[pos..]) {
                        if i == 0 {
                            return Ok(());
                        }
                        pos += i + 2;
                        continue;
                    }
                    self.fill().await?;
                }
            }
            if self.chunked.len() + size > MAX_BODY {
                return Err(invalid("chunked response body too large"));
            }
            while self.rbuf.len() < pos + size + 2 {
                self.fill().await?;
            }
            self.chunked.extend_from_slice(&self.rbuf[pos..pos + size]);
            pos += size + 2;
        }
    }
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

enum Framing {
    Length(usize),
    Chunked,
    UntilClose,
}

type Head = (u16, Option<Range<usize>>, usize, Framing, bool);

/// Parse a response head: status, activation id header, head length, framing, close.
fn parse_head(buf: &[u8]) -> io::Result<Option<Head>> {
    let mut headers = [httparse::EMPTY_HEADER; 48];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(invalid(format!("malformed HTTP response: {e}"))),
    };
    let status = resp.code.unwrap_or(0);
    let mut length = None;
    let mut chunked = false;
    let mut close = resp.version == Some(0);
    let mut activation_id = None;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok());
            length = Some(v.ok_or_else(|| invalid("bad Content-Length"))?);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h
                .value
                .windows(7)
                .any(|w| w.eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            close = h.value.windows(5).any(|w| w.eq_ignore_ascii_case(b"close"));
        } else if h.name.eq_ignore_ascii_case("x-openwhisk-activation-id") {
            // Where the value lies in `buf` (it is a subslice of it).
            let start = h.value.as_ptr() as usize - buf.as_ptr() as usize;
            activation_id = std::str::from_utf8(h.value)
                .is_ok()
                .then(|| start..start + h.value.len());
        }
    }
    // 1xx, 204 and 304 carry no body.
    let framing = if status < 200 || status == 204 || status == 304 {
        Framing::Length(0)
    } else if chunked {
        Framing::Chunked
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    Ok(Some((status, activation_id, head_len, framing, close)))
}

/// Resolve an `http(s)://host[:port]` base into an endpoint.
pub fn endpoint(
    base: &str,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> io::Result<(Endpoint, String)> {
    let (https, rest) = if let Some(r) = base.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = base.strip_prefix("http://") {
        (false, r)
    } else {
        return Err(invalid(format!(
            "`{base}` is not an http:// or https:// URL"
        )));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/').to_string()),
        None => (rest, String::new()),
    };
    if authority.is_empty() {
        return Err(invalid(format!("`{base}` has no host")));
    }
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
        && !authority.ends_with(']');
    let addr = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{}", if https { 443 } else { 80 })
    };
    let tls = if https {
        let config = tls.ok_or_else(|| invalid("https needs a TLS configuration"))?;
        let host = addr
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(&addr)
            .trim_start_matches('[')
            .trim_end_matches(']');
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| invalid(format!("`{host}` is not a valid TLS server name")))?;
        Some((TlsConnector::from(config), name))
    } else {
        None
    };
    Ok((
        Endpoint {
            addr,
            host: authority.to_string(),
            tls,
        },
        path,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_heads() {
        let r = b"HTTP/1.1 202 Accepted\r\nContent-Length: 5\r\nx-openwhisk-activation-id: abc\r\n\r\nhello";
        let (status, id, len, framing, close) = parse_head(r).unwrap().unwrap();
        assert_eq!(
            (status, id.map(|i| &r[i]), len, close),
            (202, Some(&b"abc"[..]), r.len() - 5, false)
        );
        assert!(matches!(framing, Framing::Length(5)));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Le")
            .unwrap()
            .is_none());
        let (_, _, _, framing, close) = parse_head(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert!(matches!(framing, Framing::Chunked) && close);
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n").is_err());
    }

    #[test]
    fn endpoints() {
        let (e, p) = endpoint("http://127.0.0.1:3233", None).unwrap();
        assert_eq!(
            (e.addr.as_str(), e.host.as_str(), p.as_str()),
            ("127.0.0.1:3233", "127.0.0.1:3233", "")
        );
        let (e, p) = endpoint("http://example.org/base/", None).unwrap();
        assert_eq!((e.addr.as_str(), p.as_str()), ("example.org:80", "/base"));
        assert!(endpoint("ftp://x", None).is_err());
        assert!(endpoint("https://x", None).is_err());
        let cfg = crate::backend::tls::client_config(true).unwrap();
        let (e, _) = endpoint("https://whisk.example", Some(cfg)).unwrap();
        assert_eq!(e.addr, "whisk.example:443");
    }

    #[tokio::test]
    async fn exchanges_with_content_length_chunked_and_close() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let replies: [&[u8]; 3] = [
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
                b"HTTP/1.1 503 Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            ];
            let mut buf = vec![0u8; 4096];
            for reply in replies {
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut buf).await.unwrap();
                    got.extend_from_slice(&buf[..n]);
                }
                s.write_all(reply).await.unwrap();
            }
        });
        let (ep, _) = endpoint(&format!("http://{addr}"), None).unwrap();
        let deadline = || Instant::now() + std::time::Duration::from_secs(10);
        let mut c = Conn::connect(&ep, deadline()).await.unwrap();
        let host = ep.host.clone();
        let head = move |b: &mut Vec<u8>| {
            b.extend_from_slice(format!("GET / HTTP/1.1\r\nHost: {host}\r\n").as_bytes())
        };
        let r = c.exchange(&head, b"", deadline()).await.unwrap();
        assert_eq!((r.status, r.body), (200, &b"ok"[..]));
        let r = c.exchange(&head, b"", deadline()).await.unwrap();
        assert_eq!(r.body, b"abcde");
        assert!(!c.broken());
        let r = c.exchange(&head, b"", deadline()).await.unwrap();
        assert_eq!(r.status, 503);
        assert!(c.broken());
        server.await.unwrap();
    }

    #[tokio::test]
    async fn the_deadline_bounds_each_exchange_and_rearms_for_the_next() {
        use std::time::Duration;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Answers the first request after 300 ms, the second never.
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let _ = s.read(&mut buf).await.unwrap();
            tokio::time::sleep(Duration::from_millis(300)).await;
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await
                .unwrap();
            let _ = s.read(&mut buf).await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let (ep, _) = endpoint(&format!("http://{addr}"), None).unwrap();
        let head = |b: &mut Vec<u8>| b.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\n");
        // The watchdog starts armed for 50 ms from now; this exchange may take 2 s.
        let mut c = Conn::connect(&ep, Instant::now() + Duration::from_millis(50))
            .await
            .unwrap();
        let r = c
            .exchange(&head, b"", Instant::now() + Duration::from_secs(2))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "the early watchdog was re-armed, not obeyed");
        let started = Instant::now();
        let e = c
            .exchange(&head, b"", started + Duration::from_millis(200))
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert!(e.timed_out && c.broken(), "{e:?}");
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_millis(600),
            "{took:?}"
        );
        server.abort();
    }
}
