//! Fidelity of `gale simulate` against the embedded platform (run with
//! `cargo bench --bench fidelity`; not a test: it takes about 2.5 minutes per case).
//!
//! For each placement (GALE_FIDELITY_PLACEMENTS, default
//! `round-robin,least-used-memory,home-invoker`) and warming mode (GALE_FIDELITY_WARMING,
//! default `warm,prewarm`):
//! 1. `gale inject TRACE --platform-config CFG`: the trace on the embedded platform (real
//!    processes, the wall clock; as root each container in its cgroups and measured by the
//!    in-process monitor);
//! 2. `gale simulate TRACE --platform-config CFG --profile-from <that run>`;
//! 3. the comparison of the two result directories (`gale::sim::fidelity`): cold starts,
//!    the Kolmogorov–Smirnov distance of the completion latencies, invocations per node.
//!
//! TRACE is GALE_FIDELITY_TRACE or traces/fidelity.yaml; CFG is GALE_FIDELITY_CONFIG or
//! config/fidelity.yml with its `placement:` and `warming:` lines set per case. The result
//! directories stay in GALE_BENCH_DIR when it is set (else a temporary directory). Prints
//! one Markdown row per case with the machine's 1-minute load average after it and the real
//! run's p99 of start − scheduled over warm activations (the platform's own delay: tens of
//! milliseconds or more mean the host was saturated and every run slowed together, which a
//! simulation drawing durations independently does not reproduce).

use std::path::{Path, PathBuf};
use std::process::Command;

use gale::sim::fidelity::{Fidelity, COLD_TARGET, KS_TARGET, NODE_TARGET};

fn list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `base` with its top-level `placement:` and `warming:` lines replaced.
fn config(base: &str, placement: &str, warming: &str) -> String {
    let mut out = String::new();
    for line in base.lines() {
        if line.starts_with("placement:") {
            out += &format!("placement: {placement}\n");
        } else if line.starts_with("warming:") {
            out += &format!("warming: {warming}\n");
        } else {
            out += line;
            out.push('\n');
        }
    }
    out
}

fn gale(args: &[&str], dir: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_gale"))
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run gale");
    assert!(status.success(), "gale {args:?} failed: {status}");
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let trace = std::env::var("GALE_FIDELITY_TRACE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("traces/fidelity.yaml"));
    let base_file = std::env::var("GALE_FIDELITY_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("config/fidelity.yml"));
    let base = std::fs::read_to_string(&base_file).expect("read the platform config");
    let tmp = tempfile::tempdir().expect("temporary directory");
    let out = std::env::var("GALE_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| tmp.path().to_path_buf());
    std::fs::create_dir_all(&out).expect("create the output directory");
    let trace = trace.to_string_lossy().into_owned();
    println!(
        "fidelity: {trace}, {}; targets: cold starts within {:.0} %, KS ≤ {KS_TARGET}, \
         per-node counts within {:.0} %",
        base_file.display(),
        COLD_TARGET * 100.0,
        NODE_TARGET * 100.0
    );
    println!(
        "\n| placement | warming | invocations | cold starts real / sim (Δ) | completion KS | \
         invocations per node real / sim | max node Δ | met | load | real delay p99 |\n\
         |---|---|---|---|---|---|---|---|---|---|"
    );
    let mut all = true;
    for placement in list(
        "GALE_FIDELITY_PLACEMENTS",
        "round-robin,least-used-memory,home-invoker",
    ) {
        for warming in list("GALE_FIDELITY_WARMING", "warm,prewarm") {
            let case = format!("{placement}-{warming}");
            let cfg = out.join(format!("{case}.yml"));
            std::fs::write(&cfg, config(&base, &placement, &warming)).expect("write config");
            let (real, sim) = (
                out.join(format!("{case}-real")),
                out.join(format!("{case}-sim")),
            );
            for d in [&real, &sim] {
                let _ = std::fs::remove_dir_all(d);
            }
            let cfg = cfg.to_string_lossy().into_owned();
            let (real_s, sim_s) = (real.to_string_lossy(), sim.to_string_lossy());
            gale(
                &[
                    "inject",
                    &trace,
                    "--platform-config",
                    &cfg,
                    "--no-plots",
                    "-q",
                    "--out",
                    &real_s,
                ],
                root,
            );
            gale(
                &[
                    "simulate",
                    &trace,
                    "--platform-config",
                    &cfg,
                    "--profile-from",
                    &real_s,
                    "--no-plots",
                    "-q",
                    "--out",
                    &sim_s,
                ],
                root,
            );
            let f = Fidelity::compare(&real, &sim).expect("read both runs");
            all &= f.meets();
            let delay = match gale::sim::fit::fit(&real).ok().and_then(|p| p.dispatch) {
                Some(gale::sim::dist::Dist::Empirical(points)) => points.get(&99).copied(),
                _ => None,
            };
            println!(
                "| {placement} | {warming} | {} / {} | {} / {} ({:.1} %) | {:.3} | {} | {:.1} % \
                 | {} | {} | {:.1} ms |",
                f.real.invocations,
                f.sim.invocations,
                f.real.cold,
                f.sim.cold,
                f.cold_error() * 100.0,
                f.ks,
                f.nodes_text(),
                f.node_error() * 100.0,
                if f.meets() { "yes" } else { "no" },
                load_average(),
                delay.unwrap_or(f64::NAN),
            );
        }
    }
    println!(
        "\nevery criterion met in every case: {}",
        if all { "yes" } else { "no" }
    );
}

/// The 1-minute load average.
fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace().next().unwrap_or("?").to_string()
}
