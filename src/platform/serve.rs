//! The HTTP/1 accept loop: hyper's connection driver with a header-read timeout (which is
//! also the idle timeout of a keep-alive connection: its clock starts whenever the server
//! waits for a request's head) and a cap on open connections. axum's `serve` has neither,
//! and 20 000 silent sockets once exhausted the platform's file descriptors.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// Limits of the accept loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Connections open at once; beyond, a new connection gets a 503 and is closed.
    pub max_connections: usize,
    /// Longest wait for a request's head (and so the longest idle keep-alive time).
    pub header_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            max_connections: 4096,
            header_timeout: Duration::from_secs(30),
        }
    }
}

impl ServeLimits {
    /// The cap actually used: the configured one, but never more than half the descriptors
    /// this process may open (the other half is for action processes' pipes and files).
    pub fn effective_max_connections(&self) -> usize {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit fills a valid struct.
        let nofile = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
            lim.rlim_cur as usize
        } else {
            1024
        };
        self.max_connections.clamp(1, (nofile / 2).max(16))
    }
}

const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
connection: close\r\ncontent-length: 66\r\n\r\n\
{\"error\":\"Too many open connections: try again later.\",\"code\":0}\n";

/// Serve `app` on `listener` until `stop` fires, then let the open connections finish
/// their request in flight and close.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: ServeLimits,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let cap = limits.effective_max_connections();
    let slots = Arc::new(Semaphore::new(cap));
    let (closing, closing_rx) = watch::channel(false);
    let service = TowerToHyperService::new(app);
    loop {
        let accepted = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, _) = match accepted {
            Ok(s) => s,
            Err(e) => {
                // EMFILE and the like: wait a little rather than spin.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Small responses on keep-alive connections: Nagle would only add latency.
        let _ = stream.set_nodelay(true);
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(async move {
                let mut stream = stream;
                let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(BUSY)).await;
            });
            continue;
        };
        let service = service.clone();
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let closed = async move {
                // The guard wait_for returns must not live across an await: drop it here.
                let _ = closing.wait_for(|c| *c).await.map(|_| ());
            };
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = closed => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
            drop(slot);
        });
    }
    let _ = closing.send(true);
    // Every slot back means every connection has ended.
    let _ = slots.acquire_many(cap as u32).await;
}
