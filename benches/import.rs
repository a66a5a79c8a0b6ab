//! `gale trace import` benchmark (run with `cargo bench --bench import`; not a test).
//!
//! 1. Azure 2021: GALE_BENCH_ROWS rows (default 2 000 000) generated in the release's layout
//!    (`app,func,end_timestamp,duration`, 119 apps, 424 functions, ordered by start, 64-hex
//!    ids) and imported by the release `gale` binary. Target (issue 14): ≥ 2 M rows/s.
//! 2. Azure 2019: one day of ~50 000 functions × 1440 minutes (heavy-tailed counts, ~10 M
//!    invocations), with its duration and memory files, imported (expanded to invocations).
//!    Target: ≤ 64 MB peak RSS.
//!
//! Each import runs as a child process; its wall and CPU time and peak RSS come from wait4
//! (`ru_maxrss`, exact). Files go to GALE_BENCH_DIR or the system's temporary directory
//! (~1.5 GB in all) and are removed at the end.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// splitmix64: a cheap deterministic stream for the generated files.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn hex64(&mut self) -> String {
        format!(
            "{:016x}{:016x}{:016x}{:016x}",
            self.next(),
            self.next(),
            self.next(),
            self.next()
        )
    }
}

fn azure2021(path: &Path, rows: u64) {
    let mut rng = Mix(2021);
    let apps: Vec<String> = (0..119).map(|_| rng.hex64()).collect();
    let funcs: Vec<(usize, String)> = (0..424).map(|i| (i % 119, rng.hex64())).collect();
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    writeln!(w, "app,func,end_timestamp,duration").unwrap();
    // 14 days in all, so the start advances by 1 209 600 s / rows on average.
    let step = 1_209_600.0 / rows as f64;
    let mut start = 0.0f64;
    for _ in 0..rows {
        start += step * 2.0 * rng.unit();
        // Durations: p50 ≈ 31 ms, a long tail; some zeros.
        let u = rng.unit();
        let dur = if u < 0.01 {
            0.0
        } else {
            0.031 * (-(1.0 - u).ln() * 1.5).exp2()
        };
        let (a, f) = &funcs[(rng.next() % 424) as usize];
        writeln!(w, "{},{},{:.3},{:.3}", apps[*a], f, start + dur, dur).unwrap();
    }
    w.flush().unwrap();
}

/// One Azure 2019 day: returns the number of invocations it holds.
fn azure2019(dir: &Path, functions: usize) -> u64 {
    let mut rng = Mix(2019);
    let mut total = 0u64;
    let mut inv = std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(dir.join("invocations_per_function_md.anon.d01.csv")).unwrap(),
    );
    let mut dur = std::io::BufWriter::new(
        std::fs::File::create(dir.join("function_durations_percentiles.anon.d01.csv")).unwrap(),
    );
    let mut mem = std::io::BufWriter::new(
        std::fs::File::create(dir.join("app_memory_percentiles.anon.d01.csv")).unwrap(),
    );
    write!(inv, "HashOwner,HashApp,HashFunction,Trigger").unwrap();
    for m in 1..=1440 {
        write!(inv, ",{m}").unwrap();
    }
    writeln!(inv).unwrap();
    writeln!(dur, "HashOwner,HashApp,HashFunction,Average,Count,Minimum,Maximum,percentile_Average_0,percentile_Average_1,percentile_Average_25,percentile_Average_50,percentile_Average_75,percentile_Average_99,percentile_Average_100").unwrap();
    writeln!(mem, "HashOwner,HashApp,SampleCount,AverageAllocatedMb,AverageAllocatedMb_pct1,AverageAllocatedMb_pct5,AverageAllocatedMb_pct25,AverageAllocatedMb_pct50,AverageAllocatedMb_pct75,AverageAllocatedMb_pct95,AverageAllocatedMb_pct99,AverageAllocatedMb_pct100").unwrap();
    let mut owner = rng.hex64();
    let mut app = rng.hex64();
    let mut line = String::with_capacity(8192);
    for i in 0..functions {
        // Apps of about 2.5 functions, owners of about 2 apps.
        if i % 5 == 0 || i % 5 == 3 {
            if i % 2 == 0 {
                owner = rng.hex64();
            }
            app = rng.hex64();
            let base = 50.0 + 300.0 * rng.unit();
            writeln!(
                mem,
                "{owner},{app},100,{base:.0},{:.0},{:.0},{:.0},{:.0},{:.0},{:.0},{:.0},{:.0}",
                base * 0.8,
                base * 0.85,
                base * 0.9,
                base,
                base * 1.1,
                base * 1.2,
                base * 1.3,
                base * 1.5
            )
            .unwrap();
        }
        let func = rng.hex64();
        // Heavy-tailed activity: most functions rare, a few every minute, a very few busy.
        let class = rng.unit();
        line.clear();
        line.push_str(&format!("{owner},{app},{func},http"));
        for _ in 0..1440 {
            let u = rng.unit();
            let n: u64 = if class < 0.6 {
                (u < 0.005) as u64
            } else if class < 0.9 {
                if u < 0.1 {
                    1 + (u * 20.0) as u64
                } else {
                    0
                }
            } else if class < 0.99 {
                1 + (u * 2.0) as u64
            } else {
                (u * 20.0) as u64
            };
            total += n;
            line.push(',');
            line.push_str(&n.to_string());
        }
        writeln!(inv, "{line}").unwrap();
        let p50 = 10.0 + 1000.0 * rng.unit() * rng.unit();
        writeln!(
            dur,
            "{owner},{app},{func},{p50:.0},100,1,{:.0},1,{:.0},{:.0},{p50:.0},{:.0},{:.0},{:.0}",
            p50 * 4.0,
            p50 * 0.1,
            p50 * 0.5,
            p50 * 1.5,
            p50 * 3.0,
            p50 * 4.0
        )
        .unwrap();
    }
    inv.flush().unwrap();
    total
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
    let rss_mb = usage.ru_maxrss as f64 * 1024.0 / 1e6;
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
    (secs, cpu, rss_mb, libc::WEXITSTATUS(status))
}

fn main() {
    let rows: u64 = std::env::var("GALE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let functions: usize = std::env::var("GALE_BENCH_FUNCTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let dir = match std::env::var_os("GALE_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .expect("temporary directory");
    let a21 = dir
        .path()
        .join("AzureFunctionsInvocationTraceForTwoWeeksJan2021.txt");
    let t = Instant::now();
    azure2021(&a21, rows);
    println!(
        "# Azure 2021: {rows} rows generated in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let d19 = dir.path().join("azure2019");
    std::fs::create_dir_all(&d19).unwrap();
    let t = Instant::now();
    let invocations = azure2019(&d19, functions);
    println!(
        "# Azure 2019: {functions} functions x 1440 minutes, {invocations} invocations, generated in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    println!(
        "{:<34}  {:>8}  {:>8}  {:>12}  {:>12}  {:>12}",
        "import", "wall s", "CPU s", "peak RSS MB", "rows/s", "rows/CPU s"
    );
    let out21 = dir.path().join("a21.yaml");
    let out19 = dir.path().join("a19.yaml");
    for (name, args, n) in [
        (
            "azure2021 (2 M rows)",
            vec![
                "trace",
                "import",
                "azure2021",
                a21.to_str().unwrap(),
                "--out",
                out21.to_str().unwrap(),
            ],
            rows,
        ),
        (
            "azure2019 (one day)",
            vec![
                "trace",
                "import",
                "azure2019",
                d19.to_str().unwrap(),
                "--out",
                out19.to_str().unwrap(),
            ],
            invocations,
        ),
    ] {
        let (secs, cpu, rss, code) = measure(&args);
        assert_eq!(code, 0, "{name} failed");
        println!(
            "{name:<34}  {secs:>8.2}  {cpu:>8.2}  {rss:>12.1}  {:>12.0}  {:>12.0}",
            n as f64 / secs,
            n as f64 / cpu
        );
    }
    println!("# targets: azure2021 >= 2 000 000 rows/s; azure2019 day <= 64 MB peak RSS");
}
