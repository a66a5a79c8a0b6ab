//! Plots benchmark (run with `cargo bench --bench plots`; not a test).
//!
//! Reports:
//! - the one-pass collection: GALE_BENCH_ROWS records (default 10 000 000; 40 functions,
//!   4 nodes, 2 000 containers, one hour of run time) through `PlotData::add`: ns per record
//!   and the process's peak RSS afterwards (VmHWM), which bounds what the figures' inputs
//!   cost at that size;
//! - drawing every figure from those inputs (`write_all`: 5 figures, SVG and PNG);
//! - the end of a run: GALE_BENCH_FILE_ROWS records (default 1 000 000) written to an
//!   `invocations.csv` with the results room's writer, then `write_run_plots` (read back,
//!   collect, draw) on it.
//!
//! The temporary directory is GALE_BENCH_DIR or the system's.

use std::sync::Arc;
use std::time::Instant;

use gale::backend::Outcome;
use gale::report::plot::{write_run_plots, Options, PlotData};
use gale::report::record::RecordWriter;
use gale::report::Record;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident set size of this process, MB (VmHWM).
fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// A cheap, well-mixed pseudo-random stream (splitmix64).
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Fill `r` as the `i`-th of `n` records spread over one hour.
fn fill(r: &mut Record, i: u64, n: u64, mix: &mut Mix, functions: &[Arc<str>], nodes: &[Arc<str>]) {
    let x = mix.next();
    let f = (x % functions.len() as u64) as usize;
    r.function = functions[f].clone();
    r.scheduled_ns = i * 3_600_000_000_000 / n;
    r.sent_ns = Some(r.scheduled_ns + 30_000);
    // Latency: a few ms to ~1 s, heavier for later functions, a tail for cold starts.
    let cold = (x >> 20).is_multiple_of(200);
    let lat_ns = 1_000_000 * (1 + f as u64 * 5)
        + (x >> 40) % 20_000_000
        + if cold { 300_000_000 } else { 0 };
    r.end_ns = Some(r.scheduled_ns + lat_ns);
    r.cold = Some(cold);
    r.outcome = if (x >> 12).is_multiple_of(100) {
        Outcome::ApplicationError
    } else {
        Outcome::Success
    };
    r.node = Some(nodes[((x >> 8) % nodes.len() as u64) as usize].clone());
    let c = r.container.get_or_insert_with(String::new);
    c.clear();
    use std::fmt::Write;
    let _ = write!(c, "c{}", (x >> 30) % 2000);
}

fn main() {
    let rows = env_u64("GALE_BENCH_ROWS", 10_000_000);
    let file_rows = env_u64("GALE_BENCH_FILE_ROWS", 1_000_000);
    let tmp = match std::env::var_os("GALE_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .expect("temporary directory");
    let functions: Vec<Arc<str>> = (0..40)
        .map(|i| Arc::from(format!("fn-{i}").as_str()))
        .collect();
    let nodes: Vec<Arc<str>> = (0..4)
        .map(|i| Arc::from(format!("node{i}").as_str()))
        .collect();
    let user: Arc<str> = Arc::from("guest");
    let rss_before = peak_rss_mb();

    let mut data = PlotData::new();
    data.begin_run("bench");
    let mut r = Record::unsent(
        0,
        functions[0].clone(),
        user.clone(),
        0,
        Outcome::Success,
        "",
    );
    let mut mix = Mix(1);
    let t = Instant::now();
    for i in 0..rows {
        fill(&mut r, i, rows, &mut mix, &functions, &nodes);
        data.add(&r);
    }
    let collect = t.elapsed();
    println!(
        "collect: {rows} records in {:.2} s ({:.0} ns/record, generation included); peak RSS {:.1} MB (before: {:.1} MB)",
        collect.as_secs_f64(),
        collect.as_nanos() as f64 / rows as f64,
        peak_rss_mb(),
        rss_before
    );

    let t = Instant::now();
    let written = data
        .write_all(&tmp.path().join("plots"), &Options::default())
        .expect("plots");
    println!(
        "draw: {} files in {:.2} s; peak RSS {:.1} MB",
        written.files.len(),
        t.elapsed().as_secs_f64(),
        peak_rss_mb()
    );
    drop(data);

    let run = tmp.path().join("run");
    std::fs::create_dir_all(&run).expect("run dir");
    let mut w = RecordWriter::create(&run.join("invocations.csv")).expect("invocations.csv");
    let mut mix = Mix(2);
    for i in 0..file_rows {
        fill(&mut r, i, file_rows, &mut mix, &functions, &nodes);
        r.row = i;
        w.write(&r).expect("write");
    }
    w.finish().expect("finish");
    let size = std::fs::metadata(run.join("invocations.csv")).map_or(0, |m| m.len());
    let t = Instant::now();
    let written = write_run_plots(&run, &Options::default()).expect("run plots");
    println!(
        "end of run: read {file_rows} records ({:.0} MB) and drew {} files in {:.2} s; peak RSS {:.1} MB",
        size as f64 / 1e6,
        written.files.len(),
        t.elapsed().as_secs_f64(),
        peak_rss_mb()
    );
}
