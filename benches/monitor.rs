//! Sampler cost and timing on real cgroups: 10 and 100 containers at 100 Hz and 1 kHz.
//!
//! Reports, per configuration: sampler CPU per container-sample (sampler thread CPU clock
//! divided by fast-tier samples; includes the timer wake-up, the slow tier and the history
//! push), share of one core, tick lateness p50/p99/max and missed ticks; and the bare fast
//! tier read cost (two preads and parses per container, no timer).
//!
//!   cargo bench --bench monitor            # 3 s per configuration
//!   GALE_BENCH_SECONDS=10 cargo bench --bench monitor
//!
//! Needs root and v1 memory/cpuacct hierarchies (creates and removes scratch cgroups).

#[path = "../tests/monitor_support/mod.rs"]
mod monitor_support;

use std::time::{Duration, Instant};

use gale::monitor::files::{FastReader, BUF_LEN};
use gale::monitor::sampler::CPU_PUBLISH_TICKS;
use gale::monitor::{Monitor, MonitorConfig, MonitorHandle, Stats};
use monitor_support::Scratch;

fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// Statistics read just after a tick that published the sampler's CPU time, so that the CPU
/// figure and the sample count describe the same instant (give or take a tick).
fn published_stats(m: &MonitorHandle) -> Stats {
    let give_up = Instant::now() + Duration::from_secs(2);
    while !m.ticks().is_multiple_of(CPU_PUBLISH_TICKS) && Instant::now() < give_up {
        std::thread::sleep(Duration::from_micros(200));
    }
    m.stats()
}

fn main() {
    if let Err(why) = monitor_support::v1_mounts() {
        println!("monitor bench skipped: {why}");
        return;
    }
    let secs: u64 = std::env::var("GALE_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let mut s = Scratch::new("bench");
    let names: Vec<String> = (0..100).map(|i| format!("c{i}")).collect();
    for n in &names {
        s.mkdir(n);
    }
    // A process in every fifth container (their counters then move; idle ones read flat).
    let mut procs: Vec<_> = names
        .iter()
        .step_by(5)
        .map(|n| s.spawn(n, "sleep", &["600"]))
        .collect();

    println!("fast tier, bare reads (memory.usage_in_bytes + cpuacct.usage + watermark):");
    let readers: Vec<FastReader> = names
        .iter()
        .map(|n| FastReader::open(&s.paths(n), true).expect("open"))
        .collect();
    let mut buf = vec![0u8; BUF_LEN];
    let rounds = 2000;
    let c0 = thread_cpu_ns();
    for _ in 0..rounds {
        for r in &readers {
            std::hint::black_box(r.read(&mut buf).expect("read"));
        }
    }
    let per = (thread_cpu_ns() - c0) as f64 / (rounds * readers.len()) as f64 / 1000.0;
    println!(
        "  {per:.2} µs CPU per container-sample ({} samples)",
        rounds * readers.len()
    );
    drop(readers);

    println!(
        "\n{:>10} {:>6} {:>14} {:>12} {:>10} {:>10} {:>10} {:>14}",
        "containers",
        "Hz",
        "µs/ctr-sample",
        "core share",
        "late p50",
        "late p99",
        "late max",
        "missed/ticks"
    );
    for (n, hz) in [(10usize, 100u64), (10, 1000), (100, 100), (100, 1000)] {
        let m = Monitor::start(MonitorConfig {
            period: Duration::from_micros(1_000_000 / hz),
            slow_period: Duration::from_secs(1),
            history: Duration::from_secs(60),
            ..MonitorConfig::default()
        })
        .expect("monitor");
        for name in &names[..n] {
            m.watch(name, s.paths(name)).expect("watch");
        }
        let before = published_stats(&m);
        let t0 = Instant::now();
        std::thread::sleep(Duration::from_secs(secs));
        let after = published_stats(&m);
        let wall = t0.elapsed().as_nanos() as f64;
        m.shutdown();
        let cpu = (after.sampler_cpu_ns - before.sampler_cpu_ns) as f64;
        let samples = (after.container_samples - before.container_samples).max(1) as f64;
        println!(
            "{:>10} {:>6} {:>14.2} {:>11.1}% {:>8} µs {:>7} µs {:>7} µs {:>8}/{}",
            n,
            hz,
            cpu / samples / 1000.0,
            cpu / wall * 100.0,
            after.lateness_p50_us,
            after.lateness_p99_us,
            after.lateness_max_us,
            after.missed_ticks,
            after.ticks
        );
    }
    for p in &mut procs {
        let _ = p.kill();
        let _ = p.wait();
    }
}
