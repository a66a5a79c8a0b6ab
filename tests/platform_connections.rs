//! The platform's HTTP server bounds its connections (issue 15): a client that sends
//! nothing is closed after the header-read timeout, and past the connection cap a new
//! connection is answered 503 at once instead of holding a descriptor. On the old code
//! (axum's serve, neither limit) silent sockets stayed open forever and 20 000 of them
//! exhausted the platform's file descriptors.

mod platform_support;

use std::time::{Duration, Instant};

use platform_support::{config, start, Client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Read until the server closes; how long that took.
async fn closed_after(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let t = Instant::now();
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout(limit, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Some(t.elapsed()),
            Ok(Ok(_)) => continue,
            Err(_) => return None,
        }
    }
}

#[tokio::test]
async fn silent_connections_are_closed_and_capped() {
    let mut cfg = config();
    cfg.serve.header_timeout = Duration::from_millis(500);
    cfg.serve.max_connections = 4;
    let p = start(cfg).await;
    let mut silent = Vec::new();
    for _ in 0..4 {
        silent.push(TcpStream::connect(p.addr).await.unwrap());
    }
    // Let the server take all four.
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The fifth is over the cap: a 503 and a close, at once.
    let mut fifth = TcpStream::connect(p.addr).await.unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), fifth.read_to_end(&mut reply))
        .await
        .expect("answered at once")
        .unwrap();
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    // A partial request head does not hold a connection either.
    silent[0]
        .write_all(b"GET /api/v1 HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    for s in &mut silent {
        let took = closed_after(s, Duration::from_secs(10)).await;
        assert!(took.is_some(), "a silent connection stayed open");
    }
    // Their slots are free again: an ordinary client is served.
    let mut c = Client::connect(&p).await;
    assert_eq!(c.send("GET", "/api/v1/namespaces", None).await.status, 200);
    p.shutdown().await;
}

/// An idle keep-alive connection is served as long as it keeps asking within the timeout.
#[tokio::test]
async fn keep_alive_connections_keep_working_within_the_timeout() {
    let mut cfg = config();
    cfg.serve.header_timeout = Duration::from_secs(2);
    let p = start(cfg).await;
    let mut c = Client::connect(&p).await;
    for _ in 0..3 {
        assert_eq!(c.send("GET", "/api/v1/namespaces", None).await.status, 200);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    p.shutdown().await;
}
