//! `gale simulate` as a user runs it: result files, determinism to the byte, bad input.

use std::path::Path;

use assert_cmd::Command;

fn gale() -> Command {
    Command::cargo_bin("gale").unwrap()
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every result file but run.yaml, which records the command line (and so the --out path).
const FILES: [&str; 5] = [
    "invocations.csv",
    "containers.csv",
    "nodes.csv",
    "summary.json",
    "summary.txt",
];

#[test]
fn the_same_inputs_and_seed_give_byte_identical_files() {
    let tmp = tempfile::tempdir().unwrap();
    let ops = tmp.path().join("ops.yml");
    std::fs::write(
        &ops,
        "- {at: 5s, op: scale_up, function: thumbnail, count: 2}\n\
         - {at: 12s, op: suspend, function: encode}\n",
    )
    .unwrap();
    let run = |name: &str, seed: &str| {
        let out = tmp.path().join(name);
        gale()
            .current_dir(root())
            .args([
                "simulate",
                "traces/demo.yaml",
                "--platform-config",
                "config/platform.yml",
            ])
            .args([
                "--seed",
                seed,
                "--sample-period",
                "500ms",
                "-q",
                "--operations",
            ])
            .arg(&ops)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        out
    };
    let (a, b, c) = (run("a", "5"), run("b", "5"), run("c", "6"));
    for f in FILES {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(x == y, "{f} differs between two runs with the same seed");
    }
    let csv = std::fs::read_to_string(a.join("invocations.csv")).unwrap();
    assert!(csv.lines().count() > 400, "every invocation has a row");
    assert_ne!(
        csv,
        std::fs::read_to_string(c.join("invocations.csv")).unwrap(),
        "another seed, other arrivals and durations"
    );
    // No file is left under its temporary name.
    let names: Vec<_> = std::fs::read_dir(&a)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".partial")), "{names:?}");
}

#[test]
fn a_bad_profile_is_named_with_its_line_and_exits_2() {
    let tmp = tempfile::tempdir().unwrap();
    let profile = tmp.path().join("p.yml");
    std::fs::write(&profile, "functions:\n  hello:\n    run: {fixed: -3}\n").unwrap();
    let out = gale()
        .current_dir(root())
        .args(["simulate", "traces/demo.yaml", "-q", "--profile"])
        .arg(&profile)
        .arg("--out")
        .arg(tmp.path().join("r"))
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("p.yml") && err.contains("hello: run"), "{err}");
}

#[test]
fn a_function_without_a_run_model_is_refused_with_the_way_out() {
    let tmp = tempfile::tempdir().unwrap();
    let trace = tmp.path().join("t.yaml");
    std::fs::write(
        &trace,
        "functions:\n  - {name: py, kind: 'python:3', code: 'def main(a): return a'}\n\
         invocations:\n  - {at: 0, function: py}\n",
    )
    .unwrap();
    let out = gale()
        .args(["simulate", "-q"])
        .arg(&trace)
        .arg("--out")
        .arg(tmp.path().join("r"))
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("`py`") && err.contains("--profile"), "{err}");
}

#[test]
fn a_sweep_gives_the_same_files_with_one_and_four_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = |threads: &str| {
        let out = tmp.path().join(format!("t{threads}"));
        gale()
            .current_dir(root())
            .args([
                "simulate",
                "traces/demo.yaml",
                "--platform-config",
                "config/platform.yml",
            ])
            .args([
                "--sweep",
                "placement=round-robin,least-used-memory,home-invoker",
            ])
            .args([
                "--sweep",
                "keepalive.idle_timeout=1s,10m",
                "-q",
                "--threads",
                threads,
            ])
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        out
    };
    let (one, four) = (sweep("1"), sweep("4"));
    let csv = std::fs::read_to_string(one.join("sweep.csv")).unwrap();
    assert_eq!(csv.lines().count(), 7, "six points: {csv}");
    assert_eq!(
        csv,
        std::fs::read_to_string(four.join("sweep.csv")).unwrap()
    );
    // The combined report: `gale report` of the points against the first, and its plots.
    let report = std::fs::read_to_string(one.join("report.txt")).unwrap();
    assert_eq!(
        report,
        std::fs::read_to_string(four.join("report.txt")).unwrap()
    );
    assert!(
        report.contains("comparison with placement=round-robin,keepalive.idle_timeout=1s"),
        "{report}"
    );
    assert!(one.join("plots/latency-cdf.png").is_file());
    let mut points = 0;
    for entry in std::fs::read_dir(&one).unwrap() {
        let point = entry.unwrap().path();
        if !point.is_dir() || point.ends_with("plots") {
            continue;
        }
        points += 1;
        let name = point.file_name().unwrap();
        for f in FILES.iter().chain(&["plots/latency-cdf.svg"]) {
            let a = std::fs::read(point.join(f)).unwrap();
            let b = std::fs::read(four.join(name).join(f)).unwrap();
            assert!(a == b, "{f} of {name:?} differs between 1 and 4 threads");
        }
    }
    assert_eq!(points, 6);
    // The idle timeout matters: 1 s keep-alive means more cold starts than 10 min.
    let cold = |point: &str| -> u64 {
        let line = csv
            .lines()
            .find(|l| l.starts_with(&format!("\"{point}")))
            .unwrap();
        line.rsplit("\",")
            .next()
            .unwrap()
            .split(',')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(
        cold("placement=round-robin,keepalive.idle_timeout=1s")
            > cold("placement=round-robin,keepalive.idle_timeout=10m")
    );
}

#[test]
fn a_run_draws_the_plots_unless_told_not_to() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, extra: &[&str]| {
        let out = tmp.path().join(name);
        gale()
            .current_dir(root())
            .args(["simulate", "traces/demo.yaml", "-q"])
            .args(extra)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        out
    };
    let with = run("with", &[]);
    for figure in ["latency-cdf", "latency-box", "timeline", "nodes"] {
        assert!(
            with.join("plots").join(format!("{figure}.png")).is_file(),
            "{figure}"
        );
    }
    assert!(!run("without", &["--no-plots"]).join("plots").exists());
}

/// (row, function) of every record of a result directory's invocations.csv.
fn rows_of(dir: &Path) -> Vec<(u64, String)> {
    let mut r = csv::Reader::from_path(dir.join("invocations.csv")).unwrap();
    let head = r.headers().unwrap().clone();
    let col = |name: &str| head.iter().position(|h| h == name).unwrap();
    let (row, function) = (col("row"), col("function"));
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[row].parse().unwrap(), rec[function].to_string())
        })
        .collect()
}

#[test]
fn shards_split_the_rows_by_function_and_report_merges_them_into_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |name: &str, shard: Option<&str>| {
        let out = tmp.path().join(name);
        let mut cmd = gale();
        cmd.current_dir(root())
            .args(["simulate", "traces/demo.yaml", "--no-plots", "-q"])
            .arg("--out")
            .arg(&out);
        if let Some(s) = shard {
            cmd.args(["--shard", s]);
        }
        cmd.assert().success();
        out
    };
    let whole = run("whole", None);
    let shards: Vec<_> = (0..3)
        .map(|k| run(&format!("shard-{k}"), Some(&format!("{k}/3"))))
        .collect();
    let mut all = rows_of(&whole);
    all.sort();
    let mut merged = Vec::new();
    let mut functions_of = Vec::new();
    for (k, dir) in shards.iter().enumerate() {
        let run_yaml = std::fs::read_to_string(dir.join("run.yaml")).unwrap();
        assert!(
            run_yaml.contains(&format!("shard:\n  index: {k}\n  count: 3\n  by: function")),
            "{run_yaml}"
        );
        let rows = rows_of(dir);
        let names: std::collections::BTreeSet<String> =
            rows.iter().map(|(_, f)| f.clone()).collect();
        functions_of.push(names);
        merged.extend(rows);
    }
    // Each function on exactly one shard; together the shards hold every row once, with
    // the whole trace's row ids.
    for (i, a) in functions_of.iter().enumerate() {
        for b in &functions_of[i + 1..] {
            assert!(a.is_disjoint(b), "{functions_of:?}");
        }
    }
    assert!(
        functions_of.iter().filter(|f| !f.is_empty()).count() >= 2,
        "the demo's four functions fall on at least two of three shards: {functions_of:?}"
    );
    merged.sort();
    assert_eq!(merged, all);

    // `gale report` over the shard directories reports one run of every record.
    let out = gale()
        .arg("report")
        .args(&shards)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = json["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "{json}");
    assert_eq!(runs[0]["records"], all.len(), "{json}");
}
