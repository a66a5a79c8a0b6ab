//! `gale inject --monitor`: records joined with the monitor's per-activation figures.
//!
//! The embedded platform's own cgroups and lifecycle events are another issue's work, so
//! here the whole `gale inject` process tree (injector, embedded platform, action
//! processes) runs in one scratch cgroup, and a stand-in events feed maps every container
//! id the platform may hand out to that cgroup. A window then measures the tree during one
//! activation: the synthetic action's known CPU burn and memory show up in it. With the
//! platform's events socket, pass it to `gale monitor --events` instead of the stand-in.

mod inject_support;
mod monitor_support;

use std::process::Command;
use std::time::Duration;

use inject_support::{Results, Sandbox};
use monitor_support::{started_event, FakeEvents, Scratch};

const TRACE: &str = "
blocking: true
functions:
  - name: light
    memory_mb: 128
    # Sleeps past a few sampling periods (5 ms): a shorter window may hold no sample.
    params: {cpu_ms: 2, mem_mb: 0, sleep_ms: 20}
  - name: heavy
    memory_mb: 256
    params: {cpu_ms: 80, mem_mb: 48, sleep_ms: 0}
invocations:
  - {at: 0.3, function: light}
  - {at: 0.6, function: heavy}
  - {at: 0.9, function: light}
  - {at: 1.2, function: heavy}
  - {at: 1.5, function: light}
";

#[test]
fn inject_records_carry_the_monitors_measurements() {
    let _ = require_v1!();
    let mut s = Scratch::new("inject");
    s.mkdir("tree");
    let sandbox = Sandbox::new();
    let trace = sandbox.write("trace.yaml", TRACE);
    let events: Vec<String> = (0..64)
        .map(|i| started_event(&format!("c{i}"), &s.paths("tree")))
        .collect();
    let feed = FakeEvents::start(sandbox.join("events.sock"), events);
    let sock = sandbox.join("monitor.sock");
    let monitor = sandbox.spawn({
        let mut c = sandbox.gale(["monitor", "--period", "5ms", "--events"]);
        c.arg(&feed.path).arg("--socket").arg(&sock);
        c
    });
    monitor_support::wait_for(Duration::from_secs(10), || sock.exists().then_some(()))
        .expect("monitor socket");

    let moves: String = s
        .dirs("tree")
        .iter()
        .map(|d| format!("echo $$ > '{}/cgroup.procs' && ", d.display()))
        .collect();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{moves}exec \"$@\""))
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_gale"))
        .args(["inject", "--no-progress", "-q", "--out", "out", "--monitor"])
        .arg(&sock)
        .arg(&trace)
        .current_dir(sandbox.path())
        .env("HOME", sandbox.path())
        .env_remove("WSK_CONFIG_FILE")
        .env_remove("RUST_LOG");
    sandbox.run_cmd(cmd).expect_code(0);
    monitor.signal(libc::SIGTERM);
    drop(feed);

    let res = Results::read(&sandbox.join("out"));
    assert_eq!(res.records.len(), 5);
    for r in &res.records {
        assert_eq!(r.outcome, "success", "{r:?}");
        assert!(r.container.starts_with('c'), "{r:?}");
        assert!(r.monitor_samples.unwrap() > 0, "{r:?}");
        let cpu = r.cpu_ms.unwrap();
        let peak = r.mem_peak_bytes.unwrap();
        eprintln!(
            "{} {} cpu {cpu:.1} ms peak {peak} mean {:?} exact {:?} samples {:?}",
            r.function, r.container, r.mem_mean_bytes, r.mem_peak_exact, r.monitor_samples
        );
        if r.function == "heavy" {
            // The action burns 80 ms on its thread clock; the tree also runs the platform.
            assert!((76.0..400.0).contains(&cpu), "{r:?}");
        }
    }
    // A cold start's window also holds the new process's start-up (page cache of the
    // executable, the runtime's own memory): compare warm windows only.
    let warm_peaks = |f: &str| {
        res.records
            .iter()
            .filter(|r| r.function == f && r.cold == Some(false))
            .map(|r| r.mem_peak_bytes.unwrap())
            .collect::<Vec<_>>()
    };
    let (heavy, light) = (warm_peaks("heavy"), warm_peaks("light"));
    assert!(!heavy.is_empty() && !light.is_empty(), "{:?}", res.records);
    // The heavy action touches 48 MiB more than the light one, and frees it.
    let extra = heavy
        .iter()
        .min()
        .unwrap()
        .saturating_sub(*light.iter().max().unwrap());
    assert!(
        (40 << 20..80 << 20).contains(&extra),
        "heavy − light peak = {extra} bytes"
    );
}
