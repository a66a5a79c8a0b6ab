//! Warm-path figures (not a pass/fail test; run with
//! `cargo test --test platform_bench -- --ignored --nocapture`): blocking invokes of a no-op
//! synthetic action over keep-alive loopback connections, client in the same process.

mod platform_support;

use std::time::{Duration, Instant};

use platform_support::{config, start, Client};
use serde_json::json;

const PATH: &str = "/api/v1/namespaces/_/actions/noop?blocking=true&result=true";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: prints figures, asserts nothing about speed"]
async fn warm_invoke_latency_and_throughput() {
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;
    c.put_action("noop", json!({})).await;
    for _ in 0..200 {
        assert_eq!(c.send("POST", PATH, Some("{}")).await.status, 200);
    }
    let mut samples = Vec::with_capacity(2000);
    for _ in 0..2000 {
        let t = Instant::now();
        let r = c.send("POST", PATH, Some("{}")).await;
        samples.push(t.elapsed());
        assert_eq!(r.status, 200);
    }
    samples.sort();
    let pct = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "sequential warm blocking invoke, 2000 calls: p50 {:?} p90 {:?} p99 {:?} max {:?}",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        samples[samples.len() - 1]
    );

    for conns in [1usize, 4, 16] {
        let until = Instant::now() + Duration::from_secs(3);
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let mut c = Client::connect(&p).await;
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < until {
                    assert_eq!(c.send("POST", PATH, Some("{}")).await.status, 200);
                    n += 1;
                }
                n
            }));
        }
        let mut total = 0;
        for t in tasks {
            total += t.await.unwrap();
        }
        let (live, _, _) = p.pool_stats();
        println!(
            "{conns} connections, closed loop, 3 s: {:.0} invocations/s ({live} containers)",
            total as f64 / 3.0
        );
    }
    p.shutdown().await;
}
