//! `gale report` benchmark (run with `cargo bench --bench report`; not a test).
//!
//! Writes an invocations.csv of GALE_BENCH_ROWS records (default 10 000 000) through the
//! results room's own writer: 20 functions, 50 users, 4 nodes, log-normal-ish completion
//! times, 5 % cold starts, 1 % errors, monitor columns filled. Then runs the release `gale`
//! binary over it — `gale report FILE` (table), `--format json`, `--by user` — and prints
//! each run's wall time and peak RSS (the child's `ru_maxrss` from wait4, exact, not
//! sampled). Targets (issue 12): ≤ 10 s and ≤ 128 MB for 10 M rows.
//!
//! The file goes to GALE_BENCH_DIR or the system's temporary directory (~2.3 GB for 10 M
//! rows) and is removed at the end.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use gale::backend::Outcome;
use gale::monitor::Window;
use gale::report::record::{Record, RecordWriter};

/// splitmix64: a cheap deterministic stream for the synthetic records.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
}

fn write_file(path: &Path, rows: u64) {
    let functions: Vec<Arc<str>> = (0..20).map(|i| Arc::from(format!("fn{i:02}"))).collect();
    let users: Vec<Arc<str>> = (0..50).map(|i| Arc::from(format!("user{i}"))).collect();
    let nodes: Vec<Arc<str>> = (0..4).map(|i| Arc::from(format!("node{i}"))).collect();
    let mut rng = Mix(42);
    let mut w = RecordWriter::create(path).expect("create invocations.csv");
    for i in 0..rows {
        let f = (rng.next() % 20) as usize;
        // 1000 invocations/s on the run's clock.
        let scheduled = i * 1_000_000;
        let mut r = Record::unsent(
            i,
            functions[f].clone(),
            users[(rng.next() % 50) as usize].clone(),
            scheduled,
            Outcome::Success,
            "",
        );
        let err = rng.next().is_multiple_of(100);
        let cold = rng.next().is_multiple_of(20);
        let lateness = 20_000 + rng.next() % 200_000;
        let sent = scheduled + lateness;
        // Duration: log-normal around (f+1)·5 ms; exp of a sum of uniforms is cheap and skewed.
        let z = (rng.unit() + rng.unit() + rng.unit() - 1.5) * 2.0;
        let duration_us = (((f + 1) as f64 * 5_000.0) * z.exp()) as u64 + 100;
        let wait_us = 200 + rng.next() % 3_000;
        let init_us = cold.then(|| 150_000 + rng.next() % 100_000);
        let start = sent + 300_000;
        let end = start + (wait_us + init_us.unwrap_or(0) + duration_us) * 1000;
        r.blocking = i % 3 == 0;
        r.sent_ns = Some(sent);
        r.replied_ns = Some(sent + 400_000 + rng.next() % 600_000);
        r.status = Some(202);
        r.activation_id = Some(format!("{:032x}", (rng.next() as u128) << 64 | i as u128));
        if err {
            r.outcome = Outcome::ApplicationError;
            r.error = Some("synthetic failure".into());
        }
        r.cold = Some(cold);
        r.start_ns = Some(start);
        r.end_ns = Some(end);
        r.wait_us = Some(wait_us);
        r.init_us = init_us;
        r.duration_us = Some(duration_us);
        r.node = Some(nodes[f % 4].clone());
        r.container = Some(format!("c{}", rng.next() % 500));
        r.usage = Some(Window {
            start_us: 0,
            end_us: 0,
            cpu_ms: Some(duration_us as f64 / 1e3 * 0.8),
            cpu_exact: true,
            mem_peak_bytes: Some(30_000_000 + rng.next() % 20_000_000),
            mem_peak_exact: true,
            mem_mean_bytes: Some(25_000_000 + rng.next() % 5_000_000),
            samples: 3,
            missed: false,
        });
        w.write(&r).expect("write record");
    }
    w.finish().expect("finish invocations.csv");
}

/// Run `gale ARGS` to its end; returns (wall s, CPU s, peak RSS MB, exit code).
// The child is reaped by wait4 (for its rusage), which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn measure(args: &[&str]) -> (f64, f64, f64, i32) {
    let start = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_gale"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run gale");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on the pid of a child we spawned and have not reaped; both pointers are
    // to live locals of the right types.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    let secs = start.elapsed().as_secs_f64();
    // ru_maxrss is in KiB on Linux.
    let rss_mb = usage.ru_maxrss as f64 * 1024.0 / 1e6;
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
    (secs, cpu, rss_mb, libc::WEXITSTATUS(status))
}

fn main() {
    let rows: u64 = std::env::var("GALE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    // GALE_BENCH_KEEP=FILE reuses (or leaves) the generated file, for profiling.
    if let Some(keep) = std::env::var_os("GALE_BENCH_KEEP") {
        let keep = std::path::PathBuf::from(keep);
        if !keep.exists() {
            write_file(&keep, rows);
        }
        run_all(keep.to_str().expect("UTF-8 path"), rows);
        return;
    }
    let dir = match std::env::var_os("GALE_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .expect("temporary directory");
    let file = dir.path().join("invocations.csv");
    let t = Instant::now();
    write_file(&file, rows);
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    println!(
        "# gale report over {rows} records ({:.2} GB invocations.csv, written in {:.1} s)",
        bytes as f64 / 1e9,
        t.elapsed().as_secs_f64()
    );
    run_all(file.to_str().expect("UTF-8 temporary path"), rows);
}

fn run_all(f: &str, rows: u64) {
    // CPU time as well as wall time: on a shared machine the wall time measures the others'
    // load too; gale report is one thread, so its CPU time is its wall time on an idle core.
    println!(
        "{:<34}  {:>8}  {:>8}  {:>12}  {:>14}",
        "command", "wall s", "CPU s", "peak RSS MB", "records/CPU s"
    );
    for (name, args) in [
        ("gale report FILE", vec!["report", f]),
        (
            "gale report FILE --format json",
            vec!["report", f, "--format", "json"],
        ),
        (
            "gale report FILE --by user",
            vec!["report", f, "--by", "user"],
        ),
    ] {
        let (secs, cpu, rss, code) = measure(&args);
        assert_eq!(code, 0, "{name} failed");
        println!(
            "{name:<34}  {secs:>8.2}  {cpu:>8.2}  {rss:>12.1}  {:>14.0}",
            rows as f64 / cpu
        );
    }
}
