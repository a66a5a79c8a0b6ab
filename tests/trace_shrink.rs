//! `gale trace shrink` (top N, nested representative samples, compression, scaling) and
//! `gale trace inspect` (statistics, sparkline, plot), run as the binary.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use gale::trace::{self, Invocation, OpenOptions};

fn gale(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gale"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn rows(p: &Path) -> Vec<Invocation> {
    trace::open(p, &OpenOptions::default())
        .unwrap()
        .rows
        .map(Result::unwrap)
        .collect()
}

/// 300 functions with heavy-tailed row counts and varied durations, over 100 s.
fn big_trace(dir: &Path) -> std::path::PathBuf {
    let mut rows: Vec<(u64, String, u64)> = Vec::new();
    for f in 0..300u64 {
        let n = 1 + (1000 / (f + 1));
        for k in 0..n {
            rows.push((
                (k * 100_000 / n + f * 7) % 100_000,
                format!("fn{f:03}"),
                1 + (f * 37) % 500,
            ));
        }
    }
    rows.sort();
    let mut text = String::from("at_ms,function,param.cpu_ms\n");
    for (t, f, d) in rows {
        let _ = writeln!(text, "{t},{f},{d}");
    }
    let p = dir.join("big.csv");
    std::fs::write(&p, text).unwrap();
    p
}

fn functions(rows: &[Invocation]) -> BTreeSet<String> {
    rows.iter().map(|r| r.function.to_string()).collect()
}

#[test]
fn shrink_samples_are_deterministic_and_nested() {
    let dir = tempfile::tempdir().unwrap();
    let big = big_trace(dir.path());
    let all = rows(&big);
    let s = |n: &str, out: &str, seed: &str| {
        let o = dir.path().join(out);
        let (code, _, err) = gale(&[
            "trace",
            "shrink",
            big.to_str().unwrap(),
            "--sample",
            n,
            "--sample-seed",
            seed,
            "--out",
            o.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        rows(&o)
    };
    let (a20, b20, a60) = (
        s("20", "a20.yaml", "1"),
        s("20", "b20.yaml", "1"),
        s("60", "a60.yaml", "1"),
    );
    assert_eq!(a20, b20);
    assert_eq!(functions(&a20).len(), 20);
    assert!(functions(&a20).is_subset(&functions(&a60)));
    assert_ne!(functions(&a20), functions(&s("20", "c20.yaml", "2")));
    // The sample keeps each kept function's rows unchanged (times, parameters).
    let kept = functions(&a20);
    let want: Vec<(u64, String, Option<Box<str>>)> = all
        .iter()
        .filter(|r| kept.contains(&*r.function))
        .map(|r| (r.at_ns, r.function.to_string(), r.params.clone()))
        .collect();
    let got: Vec<(u64, String, Option<Box<str>>)> = a20
        .iter()
        .map(|r| (r.at_ns, r.function.to_string(), r.params.clone()))
        .collect();
    assert_eq!(got, want);
    // A sample spreads over busy and quiet functions; the top 20 are the 20 busiest.
    let o = dir.path().join("top.yaml");
    let (code, _, err) = gale(&[
        "trace",
        "shrink",
        big.to_str().unwrap(),
        "--top",
        "20",
        "--out",
        o.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let top: BTreeSet<String> = (0..20).map(|f| format!("fn{f:03}")).collect();
    assert_eq!(functions(&rows(&o)), top);
    assert!(functions(&a20).iter().any(|f| !top.contains(f)));
}

#[test]
fn shrink_compresses_time_and_scales_the_rate() {
    let dir = tempfile::tempdir().unwrap();
    let big = big_trace(dir.path());
    let all = rows(&big);
    let o = dir.path().join("fast.yaml");
    let (code, _, err) = gale(&[
        "trace",
        "shrink",
        big.to_str().unwrap(),
        "--compress",
        "4",
        "--out",
        o.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let fast = rows(&o);
    assert_eq!(fast.len(), all.len());
    assert!(fast
        .iter()
        .zip(&all)
        .all(|(f, a)| f.at_ns == (a.at_ns as f64 / 4.0).round() as u64));
    for (scale, lo, hi) in [("0.5", 0.45, 0.55), ("2.5", 2.45, 2.55)] {
        let o = dir.path().join(format!("s{scale}.yaml"));
        let (code, _, err) = gale(&[
            "trace",
            "shrink",
            big.to_str().unwrap(),
            "--scale",
            scale,
            "--out",
            o.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        let r = rows(&o).len() as f64 / all.len() as f64;
        assert!((lo..hi).contains(&r), "scale {scale}: {r}");
    }
    let (code, _, err) = gale(&[
        "trace",
        "shrink",
        big.to_str().unwrap(),
        "--scale",
        "0",
        "--out",
        "x.yaml",
    ]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn inspect_prints_statistics_and_draws_the_rate() {
    let dir = tempfile::tempdir().unwrap();
    let trace = Path::new(env!("CARGO_MANIFEST_DIR")).join("traces/profiles/onoff.yaml");
    let plot = dir.path().join("rate");
    let (code, out, err) = gale(&[
        "trace",
        "inspect",
        trace.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rows       1199"), "{out}");
    assert!(out.contains('█') && out.contains("burstiness"), "{out}");
    // Constant gaps while on, silence while off: one function, CV well above 1.
    let line = out.lines().find(|l| l.starts_with("f ")).expect(&out);
    let cv: f64 = line.split_whitespace().nth(4).unwrap().parse().unwrap();
    assert!(cv > 1.5, "{line}");
    for ext in ["svg", "png"] {
        let p = plot.with_extension(ext);
        assert!(
            std::fs::metadata(&p).unwrap().len() > 1000,
            "{}",
            p.display()
        );
    }
}
