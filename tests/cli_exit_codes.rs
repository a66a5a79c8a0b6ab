//! The exit codes of docs/exit-codes.md as a script sees them: a run whose every invocation
//! failed, a broken --check, bad input refused before anything starts.

mod inject_support;

use inject_support::{inject, Results, Sandbox};

#[test]
fn a_run_in_which_every_invocation_failed_exits_4() {
    let sb = Sandbox::new();
    let trace = sb.write(
        "fail.yaml",
        "functions:\n  - {name: f, params: {fail: true}}\ninvocations:\n  - {at: 0, function: f}\n  - {at: 0.02, function: f}\n  - {at: 0.04, function: f}\n",
    );
    let (out, dir) = inject(&sb, &trace, "out", &[]);
    out.expect_code(4);
    assert!(
        out.stderr.contains("no invocation succeeded")
            && out.stderr.contains("application_error 3"),
        "{}",
        out.stderr
    );
    // The results are written all the same.
    let res = Results::read(&dir);
    res.assert_rows_are_prefix(3);
    assert_eq!(res.with_outcome("application_error").len(), 3);
    assert_eq!(res.summary["status"], "completed");
}

#[test]
fn one_success_is_enough_for_0() {
    let sb = Sandbox::new();
    let trace = sb.write(
        "mixed.yaml",
        "functions:\n  - {name: bad, params: {fail: true}}\n  - good\ninvocations:\n  - {at: 0, function: bad}\n  - {at: 0.02, function: good}\n",
    );
    let (out, dir) = inject(&sb, &trace, "out", &[]);
    out.expect_code(0);
    let res = Results::read(&dir);
    assert_eq!(res.with_outcome("success").len(), 1);
    assert_eq!(res.with_outcome("application_error").len(), 1);
}

#[test]
fn a_broken_check_exits_3_and_a_kept_one_0() {
    let sb = Sandbox::new();
    let trace = sb.write("t.csv", "at,function\n0,f\n0.02,f\n");
    let (out, dir) = inject(
        &sb,
        &trace,
        "broken",
        &["--check", "count >= 2", "--check", "count > 1000"],
    );
    out.expect_code(3);
    assert!(
        out.stderr.contains("check failed: `count > 1000`") && !out.stderr.contains("`count >= 2`"),
        "{}",
        out.stderr
    );
    Results::read(&dir).assert_rows_are_prefix(2);
    // `gale report` gives the same verdict on the same directory.
    let report = sb.run([
        "report".as_ref(),
        dir.as_os_str(),
        "--check".as_ref(),
        "count > 1000".as_ref(),
    ]);
    report.expect_code(3);

    let (out, _) = inject(
        &sb,
        &trace,
        "kept",
        &["--check", "count == 2", "--check", "error_rate < 1%"],
    );
    out.expect_code(0);
    assert!(!out.stderr.contains("check failed"), "{}", out.stderr);
}

#[test]
fn a_bad_check_is_refused_before_the_run() {
    let sb = Sandbox::new();
    let trace = sb.write("t.csv", "at,function\n0,f\n");
    let (out, dir) = inject(&sb, &trace, "out", &["--check", "completion.p99 < fast"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("--check `completion.p99 < fast`"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("embedded platform on"),
        "the platform started: {}",
        out.stderr
    );
    assert!(!dir.exists(), "a result directory was made");
}

#[test]
fn a_non_empty_out_is_refused_before_the_platform_starts() {
    let sb = Sandbox::new();
    let trace = sb.write("t.csv", "at,function\n0,f\n");
    let taken = sb.join("taken");
    std::fs::create_dir(&taken).unwrap();
    std::fs::write(taken.join("keep"), "x").unwrap();
    let (out, _) = inject(&sb, &trace, "taken", &[]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("exists and is not empty"),
        "{}",
        out.stderr
    );
    // Nothing started: no platform, no deployment, no monitor, one error line only.
    for started in ["embedded platform on", "deployed", "monitor"] {
        assert!(
            !out.stderr.contains(started),
            "`{started}` before the refusal:\n{}",
            out.stderr
        );
    }
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);

    // A file where the directory should be.
    sb.write("file", "x");
    let (out, _) = inject(&sb, &trace, "file", &[]);
    out.expect_code(2);
    assert!(out.stderr.contains("not a directory"), "{}", out.stderr);
}

#[test]
fn out_dash_is_refused_not_a_directory_named_dash() {
    let sb = Sandbox::new();
    let trace = sb.write("t.csv", "at,function\n0,f\n");
    let out = sb.run(["inject", "t.csv", "--out", "-", "--no-progress"]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("--out -") && out.stderr.contains("directory"),
        "{}",
        out.stderr
    );
    assert!(!sb.join("-").exists(), "a directory named `-` was made");
    let _ = trace;
    sb.write(
        "gen.yml",
        "seed: 1\nfunctions:\n  - {name: f, runs: 1, space: {cpu_ms: {uniform: [0.1, 1]}}}\n",
    );
    let out = sb.run(["generate", "gen.yml", "--out", "-", "--no-progress"]);
    out.expect_code(2);
    assert!(out.stderr.contains("--out -"), "{}", out.stderr);
    assert!(!sb.join("-").exists());
}

#[test]
fn a_wsk_config_file_that_does_not_exist_is_an_error() {
    let sb = Sandbox::new();
    let trace = sb.write("t.csv", "at,function\n0,f\n");
    let missing = sb.join("no-such.wskprops");
    let mut cmd = sb.gale(["inject", "t.csv", "--no-progress", "--out", "out"]);
    cmd.env("WSK_CONFIG_FILE", &missing);
    let out = sb.run_cmd(cmd);
    out.expect_code(2);
    assert!(
        out.stderr.contains(&*missing.to_string_lossy()) && out.stderr.contains("WSK_CONFIG_FILE"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("embedded platform on"),
        "fell back: {}",
        out.stderr
    );
    // --embedded says what the user wants: the variable is not read.
    let mut cmd = sb.gale([
        "inject",
        "t.csv",
        "--no-progress",
        "--quiet",
        "--no-plots",
        "--out",
        "emb",
        "--embedded",
    ]);
    cmd.env("WSK_CONFIG_FILE", &missing);
    sb.run_cmd(cmd).expect_code(0);
    let _ = trace;
}
