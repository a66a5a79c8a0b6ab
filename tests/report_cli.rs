//! `gale report` end to end on real result directories of `gale inject` (embedded platform,
//! synthetic functions): it reproduces the run's summary.json, tells a slower run from the
//! same run, and `--check` exits non-zero exactly when a threshold is broken.

mod inject_support;

use std::path::{Path, PathBuf};

use inject_support::{inject_ok_in, Sandbox};
use serde_json::Value;

/// One function `f` that sleeps `sleep_ms`, and a cheap `g`, `n` invocations each, 40 ms
/// apart, non-blocking (completion comes from the fetched activation).
fn trace(sb: &Sandbox, name: &str, sleep_ms: u32, n: usize) -> PathBuf {
    let mut yaml = format!(
        "functions:\n  - {{name: f, params: {{cpu_ms: 1, sleep_ms: {sleep_ms}}}}}\n  \
         - {{name: g, params: {{cpu_ms: 1}}}}\ninvocations:\n"
    );
    for i in 0..n {
        for (k, f) in ["f", "g"].iter().enumerate() {
            yaml += &format!("  - {{at_ms: {}, function: {f}}}\n", i * 40 + k * 20);
        }
    }
    sb.write(name, &yaml)
}

fn report(sb: &Sandbox, args: &[&Path], extra: &[&str]) -> inject_support::Outcome {
    let mut cmd: Vec<std::ffi::OsString> = vec!["report".into()];
    cmd.extend(args.iter().map(|p| p.as_os_str().to_owned()));
    cmd.extend(extra.iter().map(Into::into));
    sb.run(cmd)
}

fn json(out: &inject_support::Outcome) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}:\n{}", out.stdout))
}

/// The comparison row of `group`/`metric` for run index `run`.
fn verdict(report: &Value, group: &str, metric: &str) -> (String, f64) {
    let row = report["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["group"] == group && c["metric"] == metric)
        .unwrap_or_else(|| panic!("no comparison for {group} {metric}: {report:#}"));
    (
        row["test"]["verdict"].as_str().unwrap().to_string(),
        row["test"]["p_value"].as_f64().unwrap(),
    )
}

#[test]
fn report_reproduces_summary_and_checks_thresholds() {
    let sb = Sandbox::new();
    let t = trace(&sb, "t.yaml", 5, 20);
    let (_, res) = inject_ok_in(&sb, &t, "run", &[]);
    res.assert_all_success();

    let out = report(&sb, &[&res.dir], &["--format", "json"]);
    out.expect_code(0);
    let r = json(&out);
    let run = &r["runs"][0];
    assert_eq!(run["records"], 40);
    // Same records, same code: every figure of summary.json, to the last bit.
    let mut summary_overall = res.summary["overall"].clone();
    assert_eq!(run["all"], summary_overall, "overall figures differ");
    for (name, figs) in run["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (&g[0], &g[1]))
    {
        let name = name.as_str().unwrap();
        assert_eq!(
            figs, &res.summary["functions"][name],
            "figures of {name} differ"
        );
    }
    // Completion includes the 5 ms sleep of f: the report's p50 is a real figure.
    let f = run["groups"][0][1]["completion_ms"]["p50"]["value"]
        .as_f64()
        .unwrap();
    assert!(f >= 5.0, "completion p50 of f = {f} ms");

    // The human table, Markdown and CSV carry the same rows.
    let text = report(&sb, &[&res.dir], &[]);
    text.expect_code(0);
    assert!(text.stdout.contains("completion ms") && text.stdout.contains("(all)"));
    let md = report(&sb, &[&res.dir], &["--format", "markdown"]);
    assert!(md.stdout.contains("| function | metric |"), "{}", md.stdout);
    let csv = report(&sb, &[&res.dir], &["--format", "csv"]);
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(csv.stdout.as_bytes())
        .records()
        .map(|r| r.unwrap())
        .collect();
    assert!(rows.iter().any(|r| &r[1] == "f" && &r[2] == "completion"));

    // Checks: the ones that hold exit 0, a broken one exits 3 and names itself.
    let max = summary_overall["completion_ms"]["max"]
        .take()
        .as_f64()
        .unwrap();
    let ok = report(
        &sb,
        &[&res.dir],
        &[
            "--check",
            &format!("completion.max <= {max}ms"),
            "--check",
            "count == 40",
            "--check",
            "error_rate < 1%",
        ],
    );
    ok.expect_code(0);
    let broken = format!("completion.max < {max}ms");
    let bad = report(
        &sb,
        &[&res.dir],
        &["--check", "count == 40", "--check", &broken],
    );
    bad.expect_code(3);
    assert!(bad.stderr.contains(&broken), "{}", bad.stderr);
    assert!(!bad.stderr.contains("count == 40"), "{}", bad.stderr);
    report(&sb, &[&res.dir], &["--check", "count > 40"]).expect_code(3);
    // A check that cannot parse, or a column that does not exist, is bad input.
    report(&sb, &[&res.dir], &["--check", "completion.p99 < 3 parsecs"]).expect_code(2);
    report(&sb, &[&res.dir], &["--by", "p.size"]).expect_code(2);
    report(&sb, &[&sb.join("missing")], &[]).expect_code(2);
}

#[test]
fn comparison_tells_slower_from_the_same() {
    let sb = Sandbox::new();
    let fast = trace(&sb, "fast.yaml", 2, 25);
    let slow = trace(&sb, "slow.yaml", 60, 25);
    let (_, a) = inject_ok_in(&sb, &fast, "fast", &[]);
    let (_, b) = inject_ok_in(&sb, &slow, "slow", &[]);
    a.assert_all_success();
    b.assert_all_success();

    // A run against itself: identical samples, p = 1.
    let same = report(&sb, &[&a.dir, &a.dir], &["--format", "json"]);
    same.expect_code(0);
    let (v, p) = verdict(&json(&same), "f", "completion");
    assert_eq!((v.as_str(), p), ("no_significant_difference", 1.0));

    // f sleeps 58 ms more in the second run: slower, and the shift interval says by how much.
    let out = report(&sb, &[&a.dir, &b.dir], &["--format", "json"]);
    out.expect_code(0);
    let r = json(&out);
    let (v, p) = verdict(&r, "f", "completion");
    assert_eq!(v, "slower", "p = {p}");
    let row = r["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["group"] == "f" && c["metric"] == "duration")
        .unwrap();
    let lo = row["test"]["shift_ci"]["lo"].as_f64().unwrap();
    assert!(lo > 40.0, "duration shift interval {row:#}");
    // And the other way round.
    let back = json(&report(&sb, &[&b.dir, &a.dir], &["--format", "json"]));
    assert_eq!(verdict(&back, "f", "completion").0, "faster");

    // The human table says it in words.
    let text = report(&sb, &[&a.dir, &b.dir], &[]);
    assert!(text.stdout.contains("slower"), "{}", text.stdout);
    // Merged as shards, the two are one run of 100 records.
    let merged = json(&report(
        &sb,
        &[&a.dir, &b.dir],
        &["--merge", "--format", "json"],
    ));
    assert_eq!(merged["runs"].as_array().unwrap().len(), 1);
    assert_eq!(merged["runs"][0]["records"], 100);
    assert!(merged["comparisons"].as_array().unwrap().is_empty());
}
