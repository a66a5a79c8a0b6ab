//! Soak benchmark (run with `cargo bench --bench soak`; not a test): the embedded platform as
//! its own process (`gale platform`) under an open-loop stream from `gale inject` for a long
//! time, sampled every period so that a leak shows as a slope.
//!
//! Every GALE_SOAK_PERIOD seconds (default 60) it prints, for the platform process: resident
//! memory, open file descriptors, live container processes (its children) and container
//! cgroups (directories below its cgroup tree in the memory hierarchy); for the injector:
//! resident memory and descriptors. At the end it checks that no record was lost (one row in
//! invocations.csv per row of the trace) and prints the outcomes and the slope of each figure
//! between the first and the last sample.
//!
//! Environment: GALE_SOAK_RATE (invocations/s, default 5000), GALE_SOAK_MINUTES (default 30),
//! GALE_SOAK_PERIOD (seconds, default 60), GALE_SOAK_FUNCTIONS (default 4: the stream is split
//! evenly over that many synthetic no-op actions, so the platform keeps several containers
//! busy), GALE_SOAK_REPLICAS (default 8: containers started per action through the scale API
//! before the stream begins), GALE_BENCH_DIR (where the run writes; default the system's
//! temporary directory; GALE_SOAK_KEEP=1 keeps the run's directory). Exit status 1 when records were lost or the injector failed.
//!
//! Why replicas first: an open-loop step from nothing to 5 000/s makes every arrival that
//! finds its action's containers busy start a new one (OpenWhisk's rule), and on two cores
//! the cold starts slow the warm runs, which makes more arrivals find them busy: a storm of
//! hundreds of containers that serves a few hundred calls a second (docs/benchmarks.md).
//! The soak is about what a *served* load leaks, so it starts warm: replicas started before
//! the stream, spread over by `balance: least-loaded` so that none idles into its keep-alive.
//! And the injector holds at most GALE_SOAK_IN_FLIGHT (default 64) invocations outstanding,
//! sending late (`--on-overload delay`, lateness recorded) rather than opening more: a
//! hiccup of the host (another process taking the cores for 100 ms) would otherwise put
//! hundreds of calls in flight at once, more than the node's memory holds containers for,
//! and the platform would evict and restart containers for as long as the load lasts.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

const GALE: &str = env!("CARGO_BIN_EXE_gale");

/// One sample of a process.
#[derive(Clone, Copy, Default)]
struct Proc {
    rss_kb: u64,
    fds: u64,
}

fn sample_proc(pid: u32) -> Proc {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    Proc { rss_kb, fds }
}

/// Processes whose parent is `pid` (the platform's containers).
fn children(pid: u32) -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    // The command name may hold spaces: fields resume after the last ')'.
                    let rest = &s[s.rfind(')')? + 2..];
                    rest.split(' ').nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .count() as u64
}

/// The platform's cgroup tree in the memory hierarchy (`…/gale/p<pid>-<n>`), if any.
fn cgroup_tree(pid: u32) -> Option<PathBuf> {
    let prefix = format!("p{pid}-");
    let mut stack = vec![PathBuf::from("/sys/fs/cgroup/memory")];
    if !stack[0].is_dir() {
        stack[0] = PathBuf::from("/sys/fs/cgroup");
    }
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = e.path();
            if !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&prefix) && dir.file_name().is_some_and(|n| n == "gale") {
                return Some(path);
            }
            if stack.len() < 10_000 {
                stack.push(path);
            }
        }
    }
    None
}

/// Directories below `root`, `root` excluded.
fn count_dirs(root: &Path) -> u64 {
    let mut n = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                n += 1;
                stack.push(e.path());
            }
        }
    }
    n
}

/// Start `gale platform` on a free loopback port; its apihost and key from its first lines.
fn start_platform(dir: &Path) -> (Child, String, String) {
    let config = dir.join("platform.yml");
    std::fs::write(&config, "balance: least-loaded\n").expect("platform config");
    let mut child = Command::new(GALE)
        .args(["platform", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("platform.log")).expect("platform log"))
        .spawn()
        .expect("gale platform starts");
    let stdout = child.stdout.take().expect("stdout");
    use std::io::BufRead;
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line.expect("platform stdout");
        if let Some(rest) = line.strip_prefix("wsk property set --apihost '") {
            let apihost = rest.split('\'').next().unwrap_or_default().to_string();
            let key = line
                .split("--auth '")
                .nth(1)
                .and_then(|r| r.split('\'').next())
                .unwrap_or_default()
                .to_string();
            return (child, apihost, key);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("gale platform printed no address (see {})", dir.display());
}

fn deploy(apihost: &str, key: &str, names: &[String]) {
    use gale::backend::Platform as _;
    let client = gale::backend::OpenWhisk::new(&gale::backend::OpenWhiskOptions {
        apihost: apihost.into(),
        credentials: vec![gale::backend::Credentials {
            namespace: "_".into(),
            auth: key.into(),
        }],
        insecure: false,
        connections: 1,
        request_timeout: Duration::from_secs(10),
    })
    .expect("client");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for name in names {
        let spec = gale::trace::FunctionSpec::synthetic(name);
        rt.block_on(client.deploy(0, &spec))
            .unwrap_or_else(|e| panic!("deploy {name}: {e}"));
    }
}

fn main() {
    let rate: f64 = env_or("GALE_SOAK_RATE", 5000.0);
    let minutes: f64 = env_or("GALE_SOAK_MINUTES", 30.0);
    let period = Duration::from_secs_f64(env_or("GALE_SOAK_PERIOD", 60.0));
    let functions: usize = env_or::<usize>("GALE_SOAK_FUNCTIONS", 4).max(1);
    let base = std::env::var_os("GALE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("gale-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("bench directory");

    let names: Vec<String> = (0..functions).map(|i| format!("soak{i}")).collect();
    let mut trace = String::from("seed: 1\nblocking: true\narrivals:\n");
    for name in &names {
        trace.push_str(&format!(
            "  - {{function: {name}, rate: {}, process: poisson, duration: {}s}}\n",
            rate / functions as f64,
            minutes * 60.0
        ));
    }
    let trace_path = dir.join("soak.yaml");
    std::fs::write(&trace_path, trace).expect("trace");

    let (mut platform, apihost, key) = start_platform(&dir);
    deploy(&apihost, &key, &names);
    let replicas: u32 = env_or("GALE_SOAK_REPLICAS", 8);
    let in_flight: u32 = env_or("GALE_SOAK_IN_FLIGHT", 64);
    if replicas > 0 {
        for name in &names {
            let out = Command::new(GALE)
                .args([
                    "fn",
                    "--apihost",
                    &apihost,
                    "--auth",
                    &key,
                    "scale",
                    name,
                    "--up",
                ])
                .arg(replicas.to_string())
                .output()
                .expect("gale fn scale");
            assert!(
                out.status.success(),
                "gale fn scale {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let out = dir.join("run");
    println!(
        "soak: {rate}/s for {minutes} min over {functions} actions ({replicas} replicas each, balance least-loaded, at most {in_flight} in flight, late rather than shed); gale platform pid {} at {apihost}; results in {}",
        platform.id(),
        out.display()
    );
    let started = Instant::now();
    let mut inject = Command::new(GALE)
        .arg("inject")
        .arg(&trace_path)
        .args([
            "--apihost",
            &apihost,
            "--auth",
            &key,
            "--no-progress",
            "--max-in-flight",
            &in_flight.to_string(),
            "--on-overload",
            "delay",
            "--out",
        ])
        .arg(&out)
        .stdout(std::fs::File::create(dir.join("inject.out")).expect("inject log"))
        .stderr(std::fs::File::create(dir.join("inject.log")).expect("inject log"))
        .spawn()
        .expect("gale inject starts");

    println!(
        "{:>7} {:>10} {:>6} {:>10} {:>8} {:>10} {:>6}",
        "t (s)", "plat RSS", "fds", "processes", "cgroups", "inj RSS", "fds"
    );
    let mut rows: Vec<(f64, Proc, u64, u64, Proc)> = Vec::new();
    let mut next = started;
    let status = loop {
        if let Some(status) = inject.try_wait().expect("wait inject") {
            break status;
        }
        if Instant::now() >= next {
            let t = started.elapsed().as_secs_f64();
            let p = sample_proc(platform.id());
            let procs = children(platform.id());
            let cgroups = cgroup_tree(platform.id())
                .map(|d| count_dirs(&d))
                .unwrap_or(0);
            let i = sample_proc(inject.id());
            println!(
                "{t:>7.0} {:>7} MB {:>6} {procs:>10} {cgroups:>8} {:>7} MB {:>6}",
                p.rss_kb / 1024,
                p.fds,
                i.rss_kb / 1024,
                i.fds
            );
            rows.push((t, p, procs, cgroups, i));
            next += period;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let elapsed = started.elapsed().as_secs_f64();
    let _ = platform.kill();
    let _ = platform.wait();

    let check = Command::new(GALE)
        .args(["trace", "check"])
        .arg(&trace_path)
        .output()
        .expect("gale trace check");
    let text = String::from_utf8_lossy(&check.stdout).to_string()
        + &String::from_utf8_lossy(&check.stderr);
    let expected = trace_rows(&text);
    let (recorded, outcomes) = count_records(&out.join("invocations.csv"));
    println!(
        "inject exited {status} after {elapsed:.0} s; trace rows {}, records {recorded}; outcomes {outcomes:?}",
        expected.map_or("?".into(), |n| n.to_string())
    );
    let count = |kind: &str| {
        outcomes
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(0, |(_, n)| *n)
    };
    println!(
        "served {:.0} invocations/s (successes over the run); shed {} ({:.1} %): {}",
        count("success") as f64 / elapsed,
        count("shed"),
        100.0 * count("shed") as f64 / recorded.max(1) as f64,
        if count("shed") == 0 {
            "the platform kept up"
        } else {
            "the platform did NOT keep up with the rate; the figures below describe an overloaded platform"
        }
    );
    if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
        let span_min = ((last.0 - first.0) / 60.0).max(1e-9);
        println!(
            "from t={:.0}s to t={:.0}s: platform RSS {} → {} MB ({:+.2} MB/min), fds {} → {}, processes {} → {}, cgroups {} → {}; injector RSS {} → {} MB ({:+.2} MB/min), fds {} → {}",
            first.0,
            last.0,
            first.1.rss_kb / 1024,
            last.1.rss_kb / 1024,
            (last.1.rss_kb as f64 - first.1.rss_kb as f64) / 1024.0 / span_min,
            first.1.fds,
            last.1.fds,
            first.2,
            last.2,
            first.3,
            last.3,
            first.4.rss_kb / 1024,
            last.4.rss_kb / 1024,
            (last.4.rss_kb as f64 - first.4.rss_kb as f64) / 1024.0 / span_min,
            first.4.fds,
            last.4.fds,
        );
    }
    let lost = expected.is_none_or(|n| n != recorded);
    if !status.success() || lost {
        eprintln!(
            "soak FAILED: inject {status}, records lost: {lost} (logs in {})",
            dir.display()
        );
        std::process::exit(1);
    }
    if std::env::var_os("GALE_SOAK_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The row count `gale trace check` prints (its `rows  N` line).
fn trace_rows(text: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        (words.next() == Some("rows"))
            .then(|| words.next()?.parse().ok())
            .flatten()
    })
}

/// Rows of invocations.csv and the count of each outcome.
fn count_records(path: &Path) -> (u64, Vec<(String, u64)>) {
    let Ok(mut reader) = csv::Reader::from_path(path) else {
        return (0, Vec::new());
    };
    let col = reader
        .headers()
        .ok()
        .and_then(|h| h.iter().position(|c| c == "outcome"));
    let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
    let mut n = 0;
    for rec in reader.records().flatten() {
        n += 1;
        if let Some(c) = col {
            *counts.entry(rec[c].to_string()).or_default() += 1;
        }
    }
    (n, counts.into_iter().collect())
}
