//! Injector benchmark (run with `cargo bench --bench injector`; not a test).
//!
//! Against nginx on loopback serving a fixed activation JSON (so the server is never the
//! bottleneck of the comparison), it reports:
//! - closed loop: gale's maximum invocation rate next to wrk's, same server, same number of
//!   connections, each on one core, in alternating rounds, with both tools' CPU per request,
//!   for the OpenWhisk path and the generic HTTP target (`--target`) alike;
//! - open loop: dispatch lateness p50/p99/max at 5k, 20k and 50k invocations/s, and whether
//!   anything was shed, for both paths;
//! - memory: the gale binary's peak RSS replaying CSV traces of two sizes.
//!
//! Environment: GALE_BENCH_SECS (open-loop seconds per rate, default 30), GALE_BENCH_CLOSED_SECS
//! (default 10) in GALE_BENCH_ROUNDS rounds (default 5), GALE_BENCH_RATES (default
//! 5000,20000,50000), GALE_BENCH_CONNS (default 32), GALE_BENCH_SPIN_US (default 50),
//! GALE_BENCH_MEM_ROWS (default 10000000; 0 skips), GALE_BENCH_KEEP (a directory to keep each
//! phase's records in).

use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gale::backend::http_target::HttpClient;
use gale::backend::{Credentials, OpenWhisk, OpenWhiskOptions, Platform};
use gale::config::http_target::{HttpRoute, HttpTarget};
use gale::inject::engine::OverloadPolicy;
use gale::inject::engine::{self, Counters, EngineSettings, Routing, StopFlags};
use gale::report::writer::Writer;
use gale::report::RunClock;
use gale::trace::{Invocation, Rows};

const ACTIVATION: &str = r#"{"namespace":"guest","name":"noop","version":"0.0.1","subject":"guest","publish":false,"activationId":"0123456789abcdef0123456789abcdef","start":1700000000000,"end":1700000000001,"duration":1,"response":{"status":"success","success":true,"result":{},"size":2},"logs":[],"annotations":[{"key":"path","value":"guest/noop"},{"key":"kind","value":"gale:synthetic"},{"key":"timeout","value":false},{"key":"waitTime","value":0}]}"#;
const KEY: &str = gale::platform::GUEST_KEY;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

struct Nginx {
    child: Child,
    port: u16,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGQUIT: the master stops its workers too (SIGKILL would orphan them, still
        // holding our stdout).
        // SAFETY: plain kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGQUIT) };
        let _ = self.child.wait();
    }
}

fn start_nginx(dir: &Path) -> Nginx {
    let port = free_port();
    let conf = format!(
        r#"worker_processes 1;
daemon off;
user root;
error_log {d}/error.log warn;
pid {d}/nginx.pid;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      default_type application/json;
      add_header x-openwhisk-activation-id 0123456789abcdef0123456789abcdef;
      return 200 '{ACTIVATION}';
    }}
  }}
}}
"#,
        d = dir.display()
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).expect("write nginx.conf");
    let nginx = ["/usr/sbin/nginx", "nginx"]
        .into_iter()
        .find(|p| Command::new(p).arg("-v").output().is_ok())
        .unwrap_or_else(|| {
            eprintln!("nginx not found: apt-get install -y nginx-light wrk");
            std::process::exit(1)
        });
    let child = Command::new(nginx)
        .arg("-c")
        .arg(&path)
        .arg("-p")
        .arg(dir)
        .stderr(Stdio::null())
        .spawn()
        .expect("start nginx");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not start; see {}/error.log",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Nginx { child, port }
}

fn wrk(port: u16, conns: u32, secs: u64, dir: &Path) -> f64 {
    let script = dir.join("post.lua");
    let auth = base64_basic(KEY);
    std::fs::write(
        &script,
        format!("wrk.method = \"POST\"\nwrk.body = \"{{}}\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Basic {auth}\"\n"),
    )
    .expect("write post.lua");
    let url = format!("http://127.0.0.1:{port}/api/v1/namespaces/_/actions/noop?blocking=true");
    let mut cmd = Command::new("taskset");
    cmd.args([
        "-c",
        "1",
        "wrk",
        "-t1",
        &format!("-c{conns}"),
        &format!("-d{secs}s"),
        "-s",
    ])
    .arg(&script)
    .arg(&url);
    let out = cmd.output().expect("run wrk (apt-get install -y wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| {
            l.strip_prefix("Requests/sec:")
                .map(|v| v.trim().parse::<f64>().unwrap_or(0.0))
        })
        .unwrap_or_else(|| panic!("unexpected wrk output: {text}"))
}

fn base64_basic(key: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// Rows at a constant rate, generated lazily (no trace file in the way).
fn constant_rows(rate: f64, secs: f64) -> Rows {
    let n = (rate * secs) as u64;
    let f: Arc<str> = Arc::from("noop");
    let u: Arc<str> = Arc::from("bench");
    Box::new((0..n).map(move |i| {
        Ok(Invocation {
            row: i,
            at_ns: (i as f64 * 1e9 / rate) as u64,
            function: f.clone(),
            user: u.clone(),
            params: None,
            blocking: None,
        })
    }))
}

struct Outcome {
    summary: gale::report::summary::Summary,
    shed: u64,
    wall: f64,
}

/// Which client a run uses against the same server.
#[derive(Clone, Copy, PartialEq)]
enum Via {
    /// OpenWhisk REST: `POST /api/v1/namespaces/_/actions/noop?blocking=true`.
    OpenWhisk,
    /// The generic HTTP target: `POST /function/noop`, body `${params}`.
    Http,
}

impl Via {
    fn name(self) -> &'static str {
        match self {
            Via::OpenWhisk => "openwhisk",
            Via::Http => "http",
        }
    }
}

fn openwhisk_client(port: u16, conns: u32) -> Arc<OpenWhisk> {
    Arc::new(
        OpenWhisk::new(&OpenWhiskOptions {
            apihost: format!("http://127.0.0.1:{port}"),
            credentials: vec![Credentials {
                namespace: "_".into(),
                auth: KEY.into(),
            }],
            insecure: false,
            connections: conns,
            request_timeout: Duration::from_secs(30),
        })
        .expect("client"),
    )
}

fn http_client(port: u16, conns: u32) -> Arc<HttpClient> {
    let target = HttpTarget {
        file: "bench".into(),
        default: Some(HttpRoute {
            url: format!("http://127.0.0.1:{port}/function/${{function}}"),
            method: "POST".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: "${params}".into(),
        }),
        functions: Default::default(),
        insecure: false,
    };
    Arc::new(HttpClient::new(&target, conns, Duration::from_secs(30)).expect("client"))
}

#[allow(clippy::too_many_arguments)]
fn run_gale(
    label: &str,
    path: Via,
    port: u16,
    rows: Rows,
    closed: Option<u32>,
    conns: u32,
    duration: Option<Duration>,
    workers: usize,
    dir: &Path,
) -> Outcome {
    match path {
        Via::OpenWhisk => run_engine(
            label,
            openwhisk_client(port, conns),
            rows,
            closed,
            duration,
            workers,
            dir,
        ),
        Via::Http => run_engine(
            label,
            http_client(port, conns),
            rows,
            closed,
            duration,
            workers,
            dir,
        ),
    }
}

fn run_engine<P: Platform>(
    label: &str,
    backend: Arc<P>,
    rows: Rows,
    closed: Option<u32>,
    duration: Option<Duration>,
    workers: usize,
    dir: &Path,
) -> Outcome {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime");
    // GALE_BENCH_KEEP=DIR keeps each run's records as DIR/<closed|rate>.csv for study.
    let csv = match std::env::var_os("GALE_BENCH_KEEP") {
        Some(keep) => std::path::PathBuf::from(keep).join(format!("{label}.csv")),
        None => dir.join("invocations.csv"),
    };
    let writer = Writer::start(&csv, None).expect("writer");
    let counters = Arc::new(Counters::default());
    let settings = EngineSettings {
        speed: 1.0,
        duration,
        max_invocations: None,
        closed_loop: closed,
        max_in_flight: 4096,
        on_overload: OverloadPolicy::Shed,
        fetch_concurrency: 16,
        fetch_timeout: Duration::from_secs(10),
        long_poll: false,
        drain_timeout: Duration::from_secs(5),
        spin: Duration::from_micros(env_or("GALE_BENCH_SPIN_US", 50)),
        force_cold: false,
    };
    let routing = Routing {
        users: Default::default(),
        functions: Default::default(),
        blocking: true,
        blocking_override: Some(true),
    };
    let start = Instant::now();
    engine::run(
        rt.handle(),
        backend,
        rows,
        routing,
        &settings,
        engine::Observers {
            records: writer.tx.clone(),
            counters: counters.clone(),
            flags: Arc::new(StopFlags::default()),
            clock: Arc::new(RunClock::start_after(Duration::from_millis(50), true)),
        },
    )
    .expect("start the engine");
    let wall = start.elapsed().as_secs_f64();
    let (_, acc) = writer.finish().expect("records");
    Outcome {
        summary: acc.summary(),
        shed: counters.shed.load(Ordering::Relaxed),
        wall,
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// User + system CPU seconds of this process, or of its waited-for children.
fn cpu_time_of(who: libc::c_int) -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    unsafe { libc::getrusage(who, &mut ru) };
    ru.ru_utime.tv_sec as f64
        + ru.ru_utime.tv_usec as f64 / 1e6
        + ru.ru_stime.tv_sec as f64
        + ru.ru_stime.tv_usec as f64 / 1e6
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return; // `cargo test --benches` / `cargo bench -- --list` probes
    }
    let open_secs: f64 = env_or("GALE_BENCH_SECS", 30.0);
    let closed_secs: u64 = env_or("GALE_BENCH_CLOSED_SECS", 10);
    let rounds: u64 = env_or("GALE_BENCH_ROUNDS", 5).max(1);
    let conns: u32 = env_or("GALE_BENCH_CONNS", 32);
    let rates: Vec<f64> = std::env::var("GALE_BENCH_RATES")
        .unwrap_or_else(|_| "5000,20000,50000".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let nginx = start_nginx(dir.path());
    // nginx on core 0, the load generator on core 1.
    let _ = Command::new("taskset")
        .args(["-pc", "0", &nginx.child.id().to_string()])
        .output();
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "for p in $(pgrep -P {}); do taskset -pc 0 $p; done",
            nginx.child.id()
        ))
        .output();
    let me = std::process::id().to_string();
    let _ = Command::new("taskset").args(["-apc", "1", &me]).output();
    println!("# gale injector benchmark: nginx (1 worker, core 0) serving a fixed activation; load on core 1");

    // wrk and gale alternate in short rounds: the ratio of each back-to-back pair is robust
    // to the machine's speed drifting (other tenants), where one long run each is not.
    let round_secs = (closed_secs / rounds).max(1);
    println!(
        "\n## closed loop, {conns} connections, {rounds} rounds of {round_secs} s each (wrk, then gale)"
    );
    println!(
        "{:>5}  {:>9}  {:>9}  {:>6}  {:>12}  {:>12}  {:>9}  {:>12}  {:>9}",
        "round",
        "wrk/s",
        "gale/s",
        "ratio",
        "wrk µs CPU",
        "gale µs CPU",
        "http/s",
        "http µs CPU",
        "http/ow"
    );
    let mut ratios = Vec::new();
    let mut http_ratios = Vec::new();
    let (mut wrk_cpus, mut gale_cpus, mut http_cpus) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let wcpu0 = cpu_time_of(libc::RUSAGE_CHILDREN);
        let wrk_rps = wrk(nginx.port, conns, round_secs, dir.path());
        let wrk_cpu = (cpu_time_of(libc::RUSAGE_CHILDREN) - wcpu0) / (wrk_rps * round_secs as f64);
        let closed_run = |path: Via| {
            let cpu0 = cpu_time_of(libc::RUSAGE_SELF);
            let rows = constant_rows(1e9, round_secs as f64 * 2.0);
            let out = run_gale(
                &format!("closed-{}", path.name()),
                path,
                nginx.port,
                rows,
                Some(conns),
                conns,
                Some(Duration::from_secs(round_secs)),
                1,
                dir.path(),
            );
            let count = out.summary.overall.count.max(1) as f64;
            if out.summary.overall.errors > 0 {
                println!(
                    "gale ({}) errors: {}",
                    path.name(),
                    out.summary.overall.errors
                );
            }
            (
                count / out.wall,
                (cpu_time_of(libc::RUSAGE_SELF) - cpu0) / count,
            )
        };
        let (gale_rps, gale_cpu) = closed_run(Via::OpenWhisk);
        let (http_rps, http_cpu) = closed_run(Via::Http);
        println!(
            "{round:>5}  {wrk_rps:>9.0}  {gale_rps:>9.0}  {:>5.2}x  {:>12.1}  {:>12.1}  {http_rps:>9.0}  {:>12.1}  {:>8.2}x",
            gale_rps / wrk_rps,
            wrk_cpu * 1e6,
            gale_cpu * 1e6,
            http_cpu * 1e6,
            http_rps / gale_rps
        );
        ratios.push(gale_rps / wrk_rps);
        http_ratios.push(http_rps / gale_rps);
        wrk_cpus.push(wrk_cpu * 1e6);
        gale_cpus.push(gale_cpu * 1e6);
        http_cpus.push(http_cpu * 1e6);
    }
    println!(
        "median: {:.2}x wrk; CPU per request: wrk {:.1} µs, gale {:.1} µs; HTTP target {:.2}x the OpenWhisk path's rate, {:.1} µs CPU per request",
        median(&mut ratios),
        median(&mut wrk_cpus),
        median(&mut gale_cpus),
        median(&mut http_ratios),
        median(&mut http_cpus)
    );

    // Open loop: gale as `gale inject` runs it, free on both cores (the dispatcher thread
    // carries the requests; 2 I/O workers for what else there is); nginx stays on core 0.
    let _ = Command::new("taskset").args(["-apc", "0,1", &me]).output();
    println!(
        "\n## open loop, {open_secs} s per rate, gale on both cores (lateness = send instant − scheduled instant)"
    );
    println!(
        "{:>9}  {:>8}  {:>9}  {:>7}  {:>7}  {:>8}  {:>6}  {:>7}",
        "path", "rate/s", "achieved", "p50 µs", "p99 µs", "max µs", "shed", "errors"
    );
    for (rate, path) in rates
        .iter()
        .flat_map(|&r| [(r, Via::OpenWhisk), (r, Via::Http)])
    {
        let out = run_gale(
            &format!("open-{}-{rate}", path.name()),
            path,
            nginx.port,
            constant_rows(rate, open_secs),
            None,
            conns.max(64),
            None,
            2,
            dir.path(),
        );
        // Lateness figures are in ms; the table shows µs.
        let late = out.summary.overall.lateness_ms.as_ref().expect("lateness");
        println!(
            "{:>9}  {rate:>8.0}  {:>9.0}  {:>7.1}  {:>7.1}  {:>8.1}  {:>6}  {:>7}",
            path.name(),
            out.summary.overall.count as f64 / out.wall,
            late.p50.value * 1e3,
            late.p99.value * 1e3,
            late.max * 1e3,
            out.shed,
            out.summary.overall.errors
        );
    }
    let mem_rows: u64 = env_or("GALE_BENCH_MEM_ROWS", 10_000_000);
    if mem_rows > 0 {
        println!("\n## memory: `gale inject` replaying CSV traces (closed loop, {conns} users), peak RSS");
        for rows in [mem_rows / 100, mem_rows] {
            let (rss_kb, secs) = replay_csv(nginx.port, rows, conns, dir.path());
            println!(
                "{rows:>10} rows: peak RSS {:>6.1} MB  ({secs:.0} s, {:.0} invocations/s)",
                rss_kb as f64 / 1024.0,
                rows as f64 / secs
            );
        }
    }
    let _ = std::io::stdout().flush();
}

/// Write a CSV trace of `rows` rows and replay it with the gale binary; returns its peak RSS
/// (KiB) and the wall time.
fn replay_csv(port: u16, rows: u64, conns: u32, dir: &Path) -> (i64, f64) {
    let trace = dir.join(format!("mem-{rows}.csv"));
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&trace).expect("trace file"));
        writeln!(w, "at,function,user,params").expect("write");
        for i in 0..rows {
            writeln!(
                w,
                "{}.{:06},noop,u{},\"{{\"\"n\"\":{}}}\"",
                i / 1_000_000,
                i % 1_000_000,
                i % 7,
                i % 100
            )
            .expect("write");
        }
    }
    let out = dir.join(format!("mem-{rows}-out"));
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gale"))
        .args([
            "inject",
            "--no-progress",
            "-q",
            "--apihost",
            &format!("http://127.0.0.1:{port}"),
            "--auth",
            KEY,
        ])
        .args([
            "--closed-loop",
            &conns.to_string(),
            "--connections",
            &conns.to_string(),
            "--out",
        ])
        .arg(&out)
        .arg(&trace)
        .stdout(Stdio::null())
        .spawn()
        .expect("run gale");
    // The child's own high-water mark (VmHWM), read until it exits.
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0i64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            {
                peak_kb = peak_kb.max(kb);
            }
        }
        if let Some(status) = child.try_wait().expect("wait gale") {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let secs = start.elapsed().as_secs_f64();
    assert!(status.success(), "gale inject failed: {status}");
    let _ = std::fs::remove_file(&trace);
    let _ = std::fs::remove_dir_all(&out);
    (peak_kb, secs)
}
