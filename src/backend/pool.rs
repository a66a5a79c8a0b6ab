//! A bounded pool of keep-alive HTTP/1.1 connections to one endpoint.

use std::io;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::http1::{Conn, Endpoint, ResponseRef};

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

    /// An idle connection of the current runtime that the server has not closed.
    /// Connections of another runtime (an earlier run's, possibly shut down) cannot serve
    /// this one, and closed ones cannot serve at all: both are dropped.
    fn take_idle(&self, runtime: tokio::runtime::Id) -> Option<Conn> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(c) = idle.pop() {
            if c.runtime() == runtime && !c.peer_closed() {
                return Some(c);
            }
        }
        None
    }

    fn put_idle(&self, c: Conn) {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).push(c);
    }

    /// Send `method target` with a JSON body; `target` writes the request target (path and
    /// query). `on_send` runs once a connection slot is held, right before the request is
    /// written: waiting for a slot counts as the caller's delay. `read` gets the response
    /// where it lies, in the connection's buffer. Must run on a tokio runtime.
    #[allow(clippy::too_many_arguments)]
    pub async fn request<T>(
        &self,
        method: &str,
        target: &(dyn Fn(&mut Vec<u8>) + Sync),
        authorization: &str,
        body: &[u8],
        timeout: Duration,
        on_send: impl FnOnce(),
        read: impl FnOnce(ResponseRef<'_>) -> T,
    ) -> Result<T, HttpError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| HttpError::Io(io::Error::other("client closed")))?;
        // Written straight into the connection's buffer: no allocation per request.
        let head = |b: &mut Vec<u8>| {
            b.extend_from_slice(method.as_bytes());
            b.push(b' ');
            target(b);
            b.extend_from_slice(b" HTTP/1.1\r\nHost: ");
            b.extend_from_slice(self.ep.host.as_bytes());
            b.extend_from_slice(b"\r\nAuthorization: ");
            b.extend_from_slice(authorization.as_bytes());
            b.extend_from_slice(
                b"\r\nAccept: application/json\r\nContent-Type: application/json\r\nUser-Agent: ",
            );
            b.extend_from_slice(self.user_agent.as_bytes());
            b.extend_from_slice(b"\r\n");
        };
        on_send();
        let deadline = Instant::now() + timeout;
        let runtime = tokio::runtime::Handle::current().id();
        // Never sent twice: an invocation is not idempotent, and once a byte of it is
        // written nothing proves the server did not act on it. Connections the server has
        // closed are set aside before anything is written (`take_idle`); a failure after
        // the write is the request's, recorded as such.
        let mut conn = match self.take_idle(runtime) {
            Some(c) => c,
            None => {
                let connect = Conn::connect(&self.ep, deadline);
                match tokio::time::timeout_at(deadline, connect).await {
                    Ok(Ok(c)) => c,
                    Ok(Err(source)) => {
                        return Err(HttpError::Connect {
                            addr: self.ep.addr.clone(),
                            source,
                        })
                    }
                    Err(_) => return Err(HttpError::Timeout(timeout)),
                }
            }
        };
        match conn.exchange(&head, body, deadline).await {
            Ok(resp) => {
                let out = read(resp);
                if !conn.broken() {
                    self.put_idle(conn);
                }
                Ok(out)
            }
            Err(e) if e.timed_out => Err(HttpError::Timeout(timeout)),
            Err(e) if e.nothing_received => Err(HttpError::Io(io::Error::new(
                e.error.kind(),
                format!(
                    "{} before any response: the request was sent and may have run",
                    e.error
                ),
            ))),
            Err(e) => Err(HttpError::Io(e.error)),
        }
    }
}
