//! Closed loop of no-op calls on the embedded platform, blocking against non-blocking (run
//! with `cargo bench --bench completion`; not a test, asserts nothing about speed).
//!
//! A non-blocking call is complete when its activation record can be read, so a closed-loop
//! user that waits for completion pays the `202`, then polls. This measures what that costs
//! against blocking calls, end to end through the real `gale inject` binary: rounds alternate
//! the two modes (the machine is shared), with 1 and 8 users, and the median of the rounds'
//! invocations per second is reported with the ratio non-blocking / blocking.
//!
//! Environment: GALE_BENCH_ROUNDS (default 3), GALE_BENCH_SECS (4).

use std::path::Path;
use std::process::Command;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const TRACE: &str = "\
functions:
  - {name: noop, params: {cpu_ms: 0, mem_mb: 0, sleep_ms: 0}}
arrivals:
  - {function: noop, rate: 100000, count: 5000000}
";

/// One `gale inject --closed-loop USERS` run: invocations per second and the count.
fn run(dir: &Path, users: u32, blocking: bool, secs: u64, round: usize) -> (f64, u64) {
    let out = dir.join(format!("r{round}-{users}-{blocking}"));
    let status = Command::new(env!("CARGO_BIN_EXE_gale"))
        .args(["inject", "--quiet", "--no-monitor"])
        .arg(dir.join("noop.yaml"))
        .args(["--closed-loop", &users.to_string()])
        .args(["--duration", &format!("{secs}s")])
        .arg(if blocking {
            "--blocking"
        } else {
            "--non-blocking"
        })
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run gale inject");
    assert!(status.success(), "gale inject failed");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary"))
            .expect("json");
    let ok = summary["overall"]["outcomes"]["success"]
        .as_u64()
        .unwrap_or(0);
    (ok as f64 / secs as f64, ok)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = env_or("GALE_BENCH_ROUNDS", 3);
    let secs: u64 = env_or("GALE_BENCH_SECS", 4);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("noop.yaml"), TRACE).expect("trace");
    println!(
        "closed loop, no-op synthetic action, embedded platform, {secs} s per run, {rounds} rounds"
    );
    for users in [1u32, 8] {
        let (mut b, mut nb) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            let (rb, nb_) = (
                run(dir.path(), users, true, secs, round),
                run(dir.path(), users, false, secs, round),
            );
            println!(
                "  {users} user(s) round {round}: blocking {:.0}/s ({} calls), non-blocking {:.0}/s ({} calls)",
                rb.0, rb.1, nb_.0, nb_.1
            );
            b.push(rb.0);
            nb.push(nb_.0);
        }
        let (mb, mnb) = (median(b), median(nb));
        println!(
            "{users} user(s): blocking {mb:.0}/s, non-blocking {mnb:.0}/s: ratio {:.2}",
            mnb / mb
        );
    }
}
