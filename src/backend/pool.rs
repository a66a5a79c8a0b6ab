//! A bounded pool of keep-alive HTTP/1.1 connections to one endpoint.

use std::io;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::http1::{Conn, Endpoint, Response};

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// No complete response within the timeout.
    #[error("no response within {0:?}")]
    Timeout(Duration),
    /// The connection could not be opened.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The cause.
        source: io::Error,
    },
    /// The exchange failed mid-way.
    #[error("{0}")]
    Io(io::Error),
}

/// Connections to one endpoint, at most `connections` open at once.
pub struct Pool {
    ep: Endpoint,
    idle: Mutex<Vec<Conn>>,
    slots: Semaphore,
    user_agent: String,
}

impl Pool {
    /// A pool with at most `connections` connections.
    pub fn new(ep: Endpoint, connections: u32) -> Pool {
        Pool {
            ep,
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(connections.max(1) as usize),
            user_agent: format!("gale/{}", env!("CARGO_PKG_VERSION")),
        }
    }

    fn take_idle(&self) -> Option<Conn> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn put_idle(&self, c: Conn) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(c);
    }

    /// Send `method path` with a JSON body. `on_send` runs once a connection slot is held,
    /// right before the request is written: waiting for a slot counts as the caller's delay.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        authorization: &str,
        body: &[u8],
        timeout: Duration,
        on_send: impl FnOnce(),
    ) -> Result<Response, HttpError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| HttpError::Io(io::Error::other("client closed")))?;
        let mut head = Vec::with_capacity(256 + path.len());
        head.extend_from_slice(method.as_bytes());
        head.push(b' ');
        head.extend_from_slice(path.as_bytes());
        head.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        head.extend_from_slice(self.ep.host.as_bytes());
        head.extend_from_slice(b"\r\nAuthorization: ");
        head.extend_from_slice(authorization.as_bytes());
        head.extend_from_slice(
            b"\r\nAccept: application/json\r\nContent-Type: application/json\r\nUser-Agent: ",
        );
        head.extend_from_slice(self.user_agent.as_bytes());
        head.extend_from_slice(b"\r\n");
        on_send();
        let exchange = async {
            // A reused connection the server closed meanwhile fails before any byte comes
            // back; the request never reached the application, so one retry is safe.
            loop {
                let (mut conn, reused) = match self.take_idle() {
                    Some(c) => (c, true),
                    None => {
                        let c =
                            Conn::connect(&self.ep)
                                .await
                                .map_err(|source| HttpError::Connect {
                                    addr: self.ep.addr.clone(),
                                    source,
                                })?;
                        (c, false)
                    }
                };
                match conn.exchange(&head, body).await {
                    Ok(resp) => {
                        if !conn.broken {
                            self.put_idle(conn);
                        }
                        return Ok(resp);
                    }
                    Err(e) if reused && e.nothing_received => continue,
                    Err(e) => return Err(HttpError::Io(e.error)),
                }
            }
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(HttpError::Timeout(timeout)),
        }
    }
}
