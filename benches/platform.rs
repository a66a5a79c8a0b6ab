//! Embedded-platform benchmark (run with `cargo bench --bench platform`; not a test, asserts
//! nothing about speed). Client and platform share one 2-worker tokio runtime on loopback;
//! actions are the real `gale` binary (`gale __runtime gale:synthetic`) with no parameters.
//!
//! It reports:
//! - warm latency: blocking `result=true` invokes of a no-op action, sequential on one
//!   keep-alive connection; p50/p99 per round of GALE_BENCH_CALLS calls, and the median of
//!   the rounds (the machine is shared: one round can be unlucky);
//! - warm throughput: closed loop with 1, 4 and 16 connections for GALE_BENCH_SECS each;
//! - cold start: GALE_BENCH_COLD times, update the action (a new revision retires its
//!   container) and invoke it: spawn-to-ack (`gale.initTimeUs`) and end-to-end p50/p99,
//!   with each container in its own cgroup (when the host allows it) and without cgroups;
//! - python:3 and nodejs:20: cold starts (spawn + interpreter start + init of a one-line
//!   action), then warm sequential latency of the same action (nodejs:20 is skipped, with a
//!   line saying so, when `node` is not installed);
//! - nodejs:20 concurrency: an action that awaits 20 ms (I/O-like), 8 connections in a
//!   closed loop, with `limits.concurrency` 1 (a container per concurrent call) and 8 (one
//!   container takes all eight): invocations/s and containers used.
//!
//! Environment: GALE_BENCH_CALLS (default 2000), GALE_BENCH_ROUNDS (5), GALE_BENCH_SECS (3),
//! GALE_BENCH_COLD (100), GALE_BENCH_PY_COLD (30), GALE_BENCH_NODE_COLD (30), GALE_BENCH_SANDBOX
//! (`off` runs actions unconfined, to measure what the sandbox costs).

use std::time::{Duration, Instant};

use bytes::Bytes;
use gale::platform::{PlatformConfig, RunningPlatform, GUEST_KEY};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

const INVOKE: &str = "/api/v1/namespaces/_/actions/noop?blocking=true&result=true";
const INVOKE_FULL: &str = "/api/v1/namespaces/_/actions/noop?blocking=true";
const PUT: &str = "/api/v1/namespaces/_/actions/noop?overwrite=true";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One keep-alive HTTP/1 connection.
struct Client {
    sender: SendRequest<Full<Bytes>>,
    host: String,
    auth: String,
}

impl Client {
    async fn connect(p: &RunningPlatform) -> Client {
        let stream = tokio::net::TcpStream::connect(p.addr)
            .await
            .expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(conn);
        use base64::Engine;
        Client {
            sender,
            host: p.addr.to_string(),
            auth: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(GUEST_KEY)
            ),
        }
    }

    async fn send(&mut self, method: &str, path: &str, body: &'static str) -> (u16, Bytes) {
        let req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host)
            .header("authorization", &self.auth)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .expect("request");
        self.sender.ready().await.expect("connection ready");
        let resp = self.sender.send_request(req).await.expect("response");
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        (status, body)
    }

    async fn invoke(&mut self) {
        let (status, body) = self.send("POST", INVOKE, "{}").await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    }
}

/// The `q` quantile of sorted samples.
fn pct(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

async fn warm_latency(p: &RunningPlatform) {
    let calls: usize = env_or("GALE_BENCH_CALLS", 2000);
    let rounds: usize = env_or("GALE_BENCH_ROUNDS", 5);
    let mut c = Client::connect(p).await;
    for _ in 0..500 {
        c.invoke().await;
    }
    let (mut p50s, mut p99s) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let samples = timed_calls(&mut c, calls).await;
        let (p50, p99) = (pct(&samples, 0.5), pct(&samples, 0.99));
        println!(
            "  round {round}: p50 {} p90 {} p99 {} max {}",
            us(p50),
            us(pct(&samples, 0.9)),
            us(p99),
            us(samples[samples.len() - 1])
        );
        p50s.push(p50);
        p99s.push(p99);
    }
    println!(
        "warm sequential blocking invoke ({rounds} x {calls} calls): median p50 {} p99 {}",
        us(median(p50s)),
        us(median(p99s))
    );
    // The HTTP part alone (same client, same connection), and where the activation's own
    // interval (pipes to the action and back) stands, from the record's annotations.
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        let (status, _) = c.send("GET", "/ping", "").await;
        samples.push(t.elapsed());
        assert_eq!(status, 200);
    }
    samples.sort();
    let mut runs = Vec::with_capacity(calls);
    for _ in 0..calls {
        let (_, body) = c.send("POST", INVOKE_FULL, "{}").await;
        runs.push(Duration::from_micros(annotation_us(
            &body,
            "gale.durationUs",
        )));
    }
    runs.sort();
    println!(
        "  for reference: GET /ping p50 {}; activation duration (gale.durationUs) p50 {}",
        us(pct(&samples, 0.5)),
        us(pct(&runs, 0.5))
    );
}

/// A µs annotation of a full activation record.
fn annotation_us(record: &[u8], key: &str) -> u64 {
    let record: serde_json::Value = serde_json::from_slice(record).expect("JSON record");
    record["annotations"]
        .as_array()
        .and_then(|a| a.iter().find(|kv| kv["key"] == key))
        .and_then(|kv| kv["value"].as_u64())
        .unwrap_or_else(|| panic!("no {key} annotation"))
}

async fn warm_throughput(p: &RunningPlatform) {
    let secs: u64 = env_or("GALE_BENCH_SECS", 3);
    for conns in [1usize, 4, 16] {
        let mut clients = Vec::new();
        for _ in 0..conns {
            let mut c = Client::connect(p).await;
            // Warm every connection's container before the clock starts.
            c.invoke().await;
            clients.push(c);
        }
        let until = Instant::now() + Duration::from_secs(secs);
        let started = Instant::now();
        let tasks: Vec<_> = clients
            .into_iter()
            .map(|mut c| {
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while Instant::now() < until {
                        c.invoke().await;
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.expect("client task");
        }
        let (live, _, _) = p.pool_stats();
        println!(
            "warm throughput, {conns:>2} connections, closed loop: {:.0} invocations/s ({live} containers)",
            total as f64 / started.elapsed().as_secs_f64()
        );
    }
}

const SYNTHETIC: &str = r#"{"exec":{"kind":"gale:synthetic"}}"#;
const PYTHON: &str = r#"{"exec":{"kind":"python:3","code":"def main(args):\n    return args\n"}}"#;
const NODEJS: &str =
    r#"{"exec":{"kind":"nodejs:20","code":"function main(params) { return params; }"}}"#;
const NODEJS_WAIT_1: &str = r#"{"exec":{"kind":"nodejs:20","code":"const main = () => new Promise((ok) => setTimeout(() => ok({}), 20));"},"limits":{"concurrency":1}}"#;
const NODEJS_WAIT_8: &str = r#"{"exec":{"kind":"nodejs:20","code":"const main = () => new Promise((ok) => setTimeout(() => ok({}), 20));"},"limits":{"concurrency":8}}"#;

/// Closed-loop throughput of an action awaiting 20 ms, 8 connections, for a concurrency of 1
/// and of 8 per container.
async fn node_concurrency(p: &RunningPlatform) {
    let secs: u64 = env_or("GALE_BENCH_SECS", 3);
    for (limit, body) in [(1, NODEJS_WAIT_1), (8, NODEJS_WAIT_8)] {
        let mut c = Client::connect(p).await;
        let (status, _) = c.send("PUT", PUT, body).await;
        assert_eq!(status, 200);
        let mut clients = vec![c];
        for _ in 1..8 {
            clients.push(Client::connect(p).await);
        }
        // Warm up: one call alone, then every connection once at the same time, so the
        // containers exist before the clock starts. (The model places a call only on a
        // ready container: a burst on a cold action starts a container per call.)
        clients[0].invoke().await;
        let warmed: Vec<_> = clients
            .into_iter()
            .map(|mut c| {
                tokio::spawn(async move {
                    c.invoke().await;
                    c
                })
            })
            .collect();
        let mut clients = Vec::new();
        for w in warmed {
            clients.push(w.await.expect("warm-up"));
        }
        let until = Instant::now() + Duration::from_secs(secs);
        let started = Instant::now();
        let tasks: Vec<_> = clients
            .into_iter()
            .map(|mut c| {
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while Instant::now() < until {
                        c.invoke().await;
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let mut total = 0;
        for t in tasks {
            total += t.await.expect("client task");
        }
        // Containers of this revision (the newest action key) only.
        let all = p.shared().scheduler.containers();
        let newest = all.iter().filter_map(|c| c.action).max();
        let containers = all.iter().filter(|c| c.action == newest).count();
        println!(
            "nodejs:20 awaiting 20 ms, 8 connections, concurrency {limit}: {:.0} invocations/s ({containers} containers)",
            total as f64 / started.elapsed().as_secs_f64()
        );
    }
}

async fn cold_start(p: &RunningPlatform, n: usize, action: &'static str, label: &str) {
    let mut c = Client::connect(p).await;
    let (mut init, mut e2e) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for _ in 0..n {
        let (status, _) = c.send("PUT", PUT, action).await;
        assert_eq!(status, 200);
        let t = Instant::now();
        let (status, body) = c.send("POST", INVOKE_FULL, "{}").await;
        e2e.push(t.elapsed());
        assert_eq!(status, 200);
        init.push(Duration::from_micros(annotation_us(
            &body,
            "gale.initTimeUs",
        )));
    }
    init.sort();
    e2e.sort();
    println!(
        "cold start, {label} ({n} updates + invokes): spawn-to-ready p50 {} p99 {}; end-to-end p50 {} p99 {}",
        us(pct(&init, 0.5)),
        us(pct(&init, 0.99)),
        us(pct(&e2e, 0.5)),
        us(pct(&e2e, 0.99))
    );
}

/// `calls` sequential invocations, each one's latency, sorted.
async fn timed_calls(c: &mut Client, calls: usize) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        c.invoke().await;
        samples.push(t.elapsed());
    }
    samples.sort();
    samples
}

/// Warm sequential latency of whatever `noop` is now.
async fn warm_p50(p: &RunningPlatform, calls: usize, label: &str) {
    let mut c = Client::connect(p).await;
    for _ in 0..50 {
        c.invoke().await;
    }
    let samples = timed_calls(&mut c, calls).await;
    println!(
        "warm sequential blocking invoke, {label} ({calls} calls): p50 {} p99 {}",
        us(pct(&samples, 0.5)),
        us(pct(&samples, 0.99))
    );
}

async fn platform(cgroups: bool) -> RunningPlatform {
    let mut config = PlatformConfig::new().expect("config");
    config.listen = "127.0.0.1:0".parse().expect("address");
    config.runtime_exe = env!("CARGO_BIN_EXE_gale").into();
    config.cgroups = cgroups;
    // GALE_BENCH_SANDBOX=off: actions unconfined, for the cost of the sandbox (docs/security.md).
    config.sandbox.enabled = std::env::var("GALE_BENCH_SANDBOX").map_or(true, |v| v != "off");
    gale::platform::start(config)
        .await
        .expect("platform starts")
}

fn main() {
    // `cargo bench` passes `--bench`; nothing here takes arguments.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let p = platform(true).await;
        let confined = match (p.cgroups().is_some(), p.shared().config.sandbox.enabled) {
            (true, true) => "in cgroups, sandboxed",
            (true, false) => "in cgroups, sandbox off",
            (false, true) => "cgroups unavailable here, sandboxed",
            (false, false) => "cgroups unavailable here, sandbox off",
        };
        let mut c = Client::connect(&p).await;
        let (status, _) = c.send("PUT", PUT, SYNTHETIC).await;
        assert_eq!(status, 200);
        drop(c);
        warm_latency(&p).await;
        warm_throughput(&p).await;
        let n: usize = env_or("GALE_BENCH_COLD", 100);
        cold_start(&p, n, SYNTHETIC, &format!("gale:synthetic, {confined}")).await;
        let py: usize = env_or("GALE_BENCH_PY_COLD", 30);
        cold_start(&p, py, PYTHON, &format!("python:3, {confined}")).await;
        warm_p50(&p, 1000, "python:3").await;
        let node_found = std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if node_found {
            let node: usize = env_or("GALE_BENCH_NODE_COLD", 30);
            cold_start(&p, node, NODEJS, &format!("nodejs:20, {confined}")).await;
            warm_p50(&p, 1000, "nodejs:20").await;
            node_concurrency(&p).await;
        } else {
            println!("nodejs:20: skipped, `node` is not installed");
        }
        p.shutdown().await;
        let p = platform(false).await;
        cold_start(&p, n, SYNTHETIC, "gale:synthetic, no cgroups").await;
        p.shutdown().await;
    });
}
