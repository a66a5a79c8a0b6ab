//! A lean HTTP/1.1 client connection: one buffered write per request, responses parsed in
//! place with httparse (Content-Length and chunked bodies), keep-alive.
//!
//! Why not a general client: at tens of thousands of invocations per second the client's
//! CPU per request is the injector's limit, and a generic client spends 2–4× what a single
//! keep-alive exchange needs (see docs/benchmarks.md).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
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

/// A response, body fully read.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `x-openwhisk-activation-id`, when present.
    pub activation_id: Option<String>,
    /// Body bytes (de-chunked).
    pub body: Vec<u8>,
}

/// Why an exchange failed, and whether nothing at all came back (so a request on a reused
/// connection that the server had already closed can be retried safely).
#[derive(Debug)]
pub struct ExchangeError {
    /// The I/O error.
    pub error: io::Error,
    /// No response byte was received.
    pub nothing_received: bool,
}

/// One keep-alive connection.
pub struct Conn {
    stream: Stream,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    /// The server asked to close, or the exchange failed: do not reuse.
    pub broken: bool,
}

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024 * 1024;

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

impl Conn {
    /// Open a connection (and TLS session).
    pub async fn connect(ep: &Endpoint) -> io::Result<Conn> {
        let tcp = TcpStream::connect(&ep.addr).await?;
        tcp.set_nodelay(true)?;
        let stream = match &ep.tls {
            None => Stream::Plain(tcp),
            Some((connector, name)) => {
                Stream::Tls(Box::new(connector.connect(name.clone(), tcp).await?))
            }
        };
        Ok(Conn {
            stream,
            rbuf: Vec::with_capacity(8192),
            wbuf: Vec::with_capacity(1024),
            broken: false,
        })
    }

    /// Send a request and read its response. `head` is the request line and headers
    /// without the final blank line; Content-Length is added here.
    pub async fn exchange(&mut self, head: &[u8], body: &[u8]) -> Result<Response, ExchangeError> {
        self.wbuf.clear();
        self.wbuf.extend_from_slice(head);
        self.wbuf.extend_from_slice(b"Content-Length: ");
        self.wbuf
            .extend_from_slice(body.len().to_string().as_bytes());
        self.wbuf.extend_from_slice(b"\r\n\r\n");
        self.wbuf.extend_from_slice(body);
        self.rbuf.clear();
        let result = self.exchange_inner().await;
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    async fn exchange_inner(&mut self) -> Result<Response, ExchangeError> {
        let fail = |error, rbuf: &Vec<u8>| ExchangeError {
            error,
            nothing_received: rbuf.is_empty(),
        };
        if let Err(e) = self.stream.write_all(&self.wbuf).await {
            return Err(fail(e, &self.rbuf));
        }
        if let Stream::Tls(_) = self.stream {
            if let Err(e) = self.stream.flush().await {
                return Err(fail(e, &self.rbuf));
            }
        }
        // Read until the head parses.
        let (status, activation_id, head_len, framing, close) = loop {
            match parse_head(&self.rbuf) {
                Ok(Some(h)) => break h,
                Ok(None) => {}
                Err(e) => return Err(fail(e, &self.rbuf)),
            }
            if self.rbuf.len() > MAX_HEAD {
                return Err(fail(
                    invalid("response head larger than 64 KiB"),
                    &self.rbuf,
                ));
            }
            if let Err(e) = self.fill().await {
                return Err(fail(e, &self.rbuf));
            }
        };
        if close {
            self.broken = true;
        }
        let body = match framing {
            Framing::Length(n) => {
                if n > MAX_BODY {
                    return Err(fail(
                        invalid(format!("response body of {n} bytes is too large")),
                        &self.rbuf,
                    ));
                }
                while self.rbuf.len() < head_len + n {
                    if let Err(e) = self.fill().await {
                        return Err(fail(e, &self.rbuf));
                    }
                }
                let body = self.rbuf[head_len..head_len + n].to_vec();
                if self.rbuf.len() > head_len + n {
                    // Bytes past the response: the server is not speaking request/response.
                    self.broken = true;
                }
                body
            }
            Framing::Chunked => match self.read_chunked(head_len).await {
                Ok(b) => b,
                Err(e) => return Err(fail(e, &self.rbuf)),
            },
            Framing::UntilClose => {
                self.broken = true;
                loop {
                    match self.fill().await {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                        Err(e) => return Err(fail(e, &self.rbuf)),
                    }
                }
                self.rbuf[head_len..].to_vec()
            }
        };
        Ok(Response {
            status,
            activation_id,
            body,
        })
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

    async fn read_chunked(&mut self, mut pos: usize) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
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
                            return Ok(body);
                        }
                        pos += i + 2;
                        continue;
                    }
                    self.fill().await?;
                }
            }
            if body.len() + size > MAX_BODY {
                return Err(invalid("chunked response body too large"));
            }
            while self.rbuf.len() < pos + size + 2 {
                self.fill().await?;
            }
            body.extend_from_slice(&self.rbuf[pos..pos + size]);
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

type Head = (u16, Option<String>, usize, Framing, bool);

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
            activation_id = std::str::from_utf8(h.value).ok().map(str::to_string);
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
            (status, id.as_deref(), len, close),
            (202, Some("abc"), r.len() - 5, false)
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
        let mut c = Conn::connect(&ep).await.unwrap();
        let head = format!("GET / HTTP/1.1\r\nHost: {}\r\n", ep.host);
        let r = c.exchange(head.as_bytes(), b"").await.unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, b"ok".as_slice()));
        let r = c.exchange(head.as_bytes(), b"").await.unwrap();
        assert_eq!(r.body, b"abcde");
        assert!(!c.broken);
        let r = c.exchange(head.as_bytes(), b"").await.unwrap();
        assert_eq!(r.status, 503);
        assert!(c.broken);
        server.await.unwrap();
    }
}
