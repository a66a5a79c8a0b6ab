//! Each built-in preset of `gale experiment`, end to end at a small `--scale` on the embedded
//! platform: every run done, the report comparing the points, and the plots.

mod inject_support;

use std::path::Path;

use inject_support::{Results, Sandbox};
use serde_json::Value;

fn manifest(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest.json"))
        .expect("manifest is JSON")
}

/// Run `--preset NAME --scale F` into `out`; check the manifest (every run done), the
/// report (every point named) and the figures; the manifest is returned.
fn run_preset(sb: &Sandbox, name: &str, scale: &str, points: usize) -> Value {
    let out = sb.join(name);
    let o = sb.run([
        "experiment",
        "--preset",
        name,
        "--scale",
        scale,
        "--out",
        out.to_str().unwrap(),
    ]);
    o.expect_code(0);
    let m = manifest(&out);
    let pts = m["points"].as_array().expect("points");
    assert_eq!(pts.len(), points, "{m}");
    let report = std::fs::read_to_string(out.join("report.txt")).expect("report.txt");
    for p in pts {
        for r in p["runs"].as_array().unwrap() {
            assert_eq!(r["status"], "done", "{r}");
            assert_eq!(r["exit"], 0, "{r}");
            assert!(out
                .join(r["dir"].as_str().unwrap())
                .join("invocations.csv")
                .is_file());
        }
        let name = p["name"].as_str().unwrap();
        assert!(
            report.contains(&format!("== {name}: ")),
            "{name} not in the report"
        );
    }
    // The comparison with confidence intervals: every later point against the first.
    let first = pts[0]["name"].as_str().unwrap();
    assert!(
        report.contains(&format!("== comparison with {first} ")),
        "{report}"
    );
    for fig in ["latency-box", "latency-mean", "latency-cdf"] {
        let png = out.join("plots").join(format!("{fig}.png"));
        assert!(png.is_file(), "{} missing", png.display());
        assert!(std::fs::metadata(&png).unwrap().len() > 1000);
    }
    assert!(
        o.stderr.contains(&format!(
            "[{0}/{0}]",
            points * pts[0]["runs"].as_array().unwrap().len()
        )),
        "{}",
        o.stderr
    );
    m
}

#[test]
fn policies_runs_every_placement_and_warming_mode() {
    let sb = Sandbox::new();
    let m = run_preset(&sb, "policies", "0.01", 9);
    let out = sb.join("policies");
    // Per-node spread: three nodes, so the node figure is drawn.
    assert!(out.join("plots/nodes.png").is_file());
    // `cold` never reuses a container. (At this scale a run's few invocations may come
    // before the stem cells of `prewarm` are up: its effect is the model's and the
    // platform's tests' to check, not this one's.)
    for p in m["points"].as_array().unwrap() {
        let dir = out.join(p["runs"][0]["dir"].as_str().unwrap());
        let r = Results::read(&dir);
        assert!(!r.records.is_empty());
        r.assert_all_success();
        let name = p["name"].as_str().unwrap();
        if name.ends_with("warming=cold") {
            assert!(r.records.iter().all(|x| x.cold == Some(true)), "{name}");
        }
    }
}

#[test]
fn perf_cost_runs_every_pattern_at_every_memory_size() {
    let sb = Sandbox::new();
    let m = run_preset(&sb, "perf-cost", "0.05", 12);
    let out = sb.join("perf-cost");
    for p in m["points"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        let r = Results::read(&out.join(p["runs"][0]["dir"].as_str().unwrap()));
        r.assert_all_success();
        if name.starts_with("pattern=cold") {
            assert!(r.records.iter().all(|x| x.cold == Some(true)), "{name}");
        }
        if name.starts_with("pattern=warm") {
            // One warm-up invocation, then the measured one.
            assert_eq!(r.records.len(), 2, "{name}");
        }
    }
}

#[test]
fn keepalive_probe_finds_the_embedded_platforms_idle_timeout() {
    let sb = Sandbox::new();
    let m = run_preset(&sb, "keepalive-probe", "0.005", 6);
    let out = sb.join("keepalive-probe");
    // At this scale the idle timeout is 3 s; the longest wait (15m × 0.005 = 4.5 s) outlives
    // it: the second invocation is cold.
    let last = m["points"].as_array().unwrap().last().unwrap();
    assert_eq!(last["name"], "wait=15m");
    let r = Results::read(&out.join(last["runs"][0]["dir"].as_str().unwrap()));
    assert_eq!(r.records.len(), 2);
    assert!(
        r.records.iter().all(|x| x.cold == Some(true)),
        "{:?}",
        r.records
    );
}
