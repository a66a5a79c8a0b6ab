//! Simulator speed (run with `cargo bench --bench simulate`; not a test).
//!
//! Generates a trace in memory (Poisson arrivals over GALE_SIM_FUNCTIONS functions, default
//! 200, at GALE_SIM_RATE invocations per virtual second, default 2000; runs drawn from a
//! per-function exponential, half of each on a core (GALE_SIM_CPU_SHARE, default 0.5), 256 MB
//! each, the literature's cold start) and simulates it on
//! 100 nodes of 4 cores and 8 GB with the default policies (home-invoker placement, 10 min
//! keep-alive), single-threaded. Prints invocations and events per wall second and per CPU
//! second (this process's user + system time: on a shared, loaded machine the wall clock
//! also counts the time other processes held the core) and the peak RSS of each case, each
//! measured in a child process of its own so that one case's peak does not hide another's:
//! - GALE_SIM_SIZES (default `1000000,100000000`) invocations each,
//! - without output (summary only) and writing invocations.csv (+ containers, nodes) to
//!   GALE_BENCH_DIR or the system's temporary directory.

use std::sync::Arc;
use std::time::Instant;

use gale::model::{ModelConfig, NodeConfig};
use gale::sim::dist::{Dist, Stream};
use gale::sim::driver::{simulate, Settings};
use gale::sim::output::FileSink;
use gale::sim::profile::{Phases, Profile};
use gale::sim::record::{Container, Invocation, NodeSample, Sink};
use gale::trace::{FunctionSpec, Rows};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Counts rows, keeps nothing.
#[derive(Default)]
struct Discard(u64);

impl Sink for Discard {
    fn invocation(&mut self, _: &Invocation) -> std::io::Result<()> {
        self.0 += 1;
        Ok(())
    }
    fn container(&mut self, _: &Container) -> std::io::Result<()> {
        Ok(())
    }
    fn node(&mut self, _: &NodeSample) -> std::io::Result<()> {
        Ok(())
    }
}

fn settings(functions: u64) -> Settings {
    let mut profile = Profile::default();
    let mut rng = Stream::new(99, "bench");
    // The part of each run spent on a core (processor-shared with the node's other runs);
    // 0: runs only wait, as dslab-faas's `ignored` CPU policy has them.
    let cpu_share = std::env::var("GALE_SIM_CPU_SHARE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.5);
    let mut specs = Vec::new();
    for i in 0..functions {
        let name = format!("f{i}");
        // Mean run lengths spread log-uniformly from 1 ms to 1 s.
        let mean_ms = 10f64.powf(3.0 * rng.open01());
        profile.functions.insert(
            name.clone(),
            Phases {
                run: Some(Dist::Exponential { mean_ms }),
                cpu_share: Some(cpu_share),
                ..Phases::default()
            },
        );
        specs.push(FunctionSpec::synthetic(&name));
    }
    Settings {
        model: ModelConfig {
            nodes: (0..100)
                .map(|i| NodeConfig {
                    name: format!("node{i}").into(),
                    memory_mb: 8192,
                    cpus: 4.0,
                })
                .collect(),
            ..ModelConfig::default()
        },
        limits: Default::default(),
        actions: Default::default(),
        namespace: "guest".into(),
        users: Vec::new(),
        functions: specs,
        blocking: false,
        profile,
        operations: Vec::new(),
        seed: 1,
        sample_period: 60_000_000_000,
    }
}

/// `n` Poisson arrivals at `rate`/s over `functions` functions (Zipf-like popularity: the
/// k-th function gets weight 1/k), drawn with Walker's alias method (one uniform per row).
fn rows(n: u64, rate: f64, functions: u64) -> Rows {
    let names: Vec<Arc<str>> = (0..functions).map(|i| Arc::from(format!("f{i}"))).collect();
    let weights: Vec<f64> = (1..=functions).map(|k| 1.0 / k as f64).collect();
    let (keep, alias) = alias_table(&weights);
    let user: Arc<str> = Arc::from("u");
    let mut rng = Stream::new(7, "arrivals");
    let mut t = 0.0f64;
    Box::new((0..n).map(move |row| {
        t += -rng.open01().ln() / rate;
        let u = rng.open01() * keep.len() as f64;
        let i = (u as usize).min(keep.len() - 1);
        let f = if u - (i as f64) < keep[i] {
            i
        } else {
            alias[i]
        };
        Ok(gale::trace::Invocation {
            row,
            at_ns: (t * 1e9) as u64,
            function: names[f].clone(),
            user: user.clone(),
            params: None,
            blocking: None,
        })
    }))
}

/// Walker's alias table of `weights` (Vose's construction): column `i` keeps `i` with
/// probability `keep[i]`, else gives `alias[i]`.
fn alias_table(weights: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let n = weights.len();
    let total: f64 = weights.iter().sum();
    let mut keep: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
    let mut alias: Vec<usize> = (0..n).collect();
    let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| keep[i] < 1.0);
    while let (Some(s), Some(&l)) = (small.pop(), large.last()) {
        alias[s] = l;
        keep[l] -= 1.0 - keep[s];
        if keep[l] < 1.0 {
            large.pop();
            small.push(l);
        }
    }
    // What is left is 1 up to rounding.
    for i in small.into_iter().chain(large) {
        keep[i] = 1.0;
    }
    (keep, alias)
}

/// User + system CPU time of this process, s.
fn cpu_s() -> f64 {
    // SAFETY: getrusage only fills the struct it is given; RUSAGE_SELF is always valid.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// One case in this process: `n` invocations, with or without files.
fn case(n: u64, write: bool) {
    let functions = env("GALE_SIM_FUNCTIONS", 200);
    let rate = env("GALE_SIM_RATE", 2000) as f64;
    let settings = settings(functions);
    let began = Instant::now();
    let cpu_began = cpu_s();
    let report = if write {
        let base = std::env::var_os("GALE_BENCH_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let dir = tempfile::tempdir_in(base).expect("a temporary directory");
        let mut sink = FileSink::create(dir.path(), true).expect("result files");
        let r = simulate(&settings, rows(n, rate, functions), &mut sink).expect("simulation");
        sink.finish().expect("result files");
        let bytes = std::fs::metadata(dir.path().join("invocations.csv")).map_or(0, |m| m.len());
        eprintln!("  invocations.csv: {:.1} MB", bytes as f64 / 1e6);
        r
    } else {
        let mut sink = Discard::default();
        simulate(&settings, rows(n, rate, functions), &mut sink).expect("simulation")
    };
    let wall = began.elapsed().as_secs_f64();
    let cpu = cpu_s() - cpu_began;
    println!(
        "{:>11} invocations {:<12} {:>7.2} s wall {:>7.2} s CPU  {:>6.3} M inv/s \
         ({:.3} per CPU s)  {:>6.3} M events/s ({:.3} per CPU s)  peak RSS {:>6.1} MB  \
         ({} events, {:.0} s virtual, cold-start ratio {:.4})",
        n,
        if write { "writing CSV" } else { "summary only" },
        wall,
        cpu,
        n as f64 / wall / 1e6,
        n as f64 / cpu / 1e6,
        report.events as f64 / wall / 1e6,
        report.events as f64 / cpu / 1e6,
        peak_rss_mb(),
        report.events,
        report.horizon_ns as f64 / 1e9,
        report.summary["cold_start_ratio"].as_f64().unwrap_or(0.0),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let (Some(n), Some(w)) = (args.iter().position(|a| a == "--case"), args.last()) {
        let n: u64 = args[n + 1].parse().expect("--case N write");
        case(n, w == "write");
        return;
    }
    let sizes = std::env::var("GALE_SIM_SIZES").unwrap_or_else(|_| "1000000,100000000".into());
    println!(
        "gale simulate: 100 nodes × 4 cores, {} functions, {} inv/s (virtual), single-threaded",
        env("GALE_SIM_FUNCTIONS", 200),
        env("GALE_SIM_RATE", 2000)
    );
    let exe = std::env::current_exe().expect("this benchmark's path");
    for n in sizes
        .split(',')
        .filter_map(|s| s.trim().parse::<u64>().ok())
    {
        for write in ["none", "write"] {
            let status = std::process::Command::new(&exe)
                .args(["--case", &n.to_string(), write])
                .status()
                .expect("the benchmark re-runs itself per case");
            assert!(status.success(), "case {n} {write} failed");
        }
    }
}
