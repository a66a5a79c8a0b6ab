//! `gale trace convert` keeps the workload: converting a trace and replaying the result runs
//! the same functions (kind, code, memory, default parameters), for the same users (their
//! own namespaces), with the same per-invocation parameters, at the same instants.

mod inject_support;

use std::path::Path;

use gale::trace::{self, OpenOptions};
use inject_support::{inject_ok_in, Sandbox};

fn convert(sb: &Sandbox, input: &Path, out: &str) -> inject_support::Outcome {
    let out = sb.join(out);
    sb.run([
        std::ffi::OsStr::new("trace"),
        "convert".as_ref(),
        input.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
}

fn demo() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("traces/demo.yaml")
}

#[test]
fn converting_to_yaml_keeps_declarations_and_rows() {
    let sb = Sandbox::new();
    for example in [
        "traces/demo.yaml",
        "traces/functions.yaml",
        "traces/arrivals.yaml",
    ] {
        let input = Path::new(env!("CARGO_MANIFEST_DIR")).join(example);
        convert(&sb, &input, "c.yaml").expect_code(0);
        let opts = OpenOptions::default();
        let (a, b) = (
            trace::open(&input, &opts).unwrap(),
            trace::open(&sb.join("c.yaml"), &opts).unwrap(),
        );
        assert_eq!(a.header.functions, b.header.functions, "{example}");
        assert_eq!(a.header.users, b.header.users, "{example}");
        assert_eq!(a.header.blocking, b.header.blocking, "{example}");
        let (ra, rb): (Vec<_>, Vec<_>) = (
            a.rows.map(Result::unwrap).collect(),
            b.rows.map(Result::unwrap).collect(),
        );
        assert_eq!(ra, rb, "{example}");
    }
}

#[test]
fn a_converted_trace_replays_the_same_workload() {
    let sb = Sandbox::new();
    convert(&sb, &demo(), "demo2.yaml").expect_code(0);
    let args = ["--speed", "10", "--max-invocations", "120", "--no-monitor"];
    let (_, a) = inject_ok_in(&sb, &demo(), "orig", &args);
    let (_, b) = inject_ok_in(&sb, &sb.join("demo2.yaml"), "conv", &args);
    a.assert_all_success();
    b.assert_all_success();
    assert_eq!(a.records.len(), 120);
    let key = |r: &inject_support::Rec| {
        (
            r.row,
            r.function.clone(),
            r.user.clone(),
            r.scheduled_us,
            r.blocking,
        )
    };
    let (ka, kb): (Vec<_>, Vec<_>) = (
        a.records.iter().map(key).collect(),
        b.records.iter().map(key).collect(),
    );
    assert_eq!(ka, kb);
    // The same deployments: every function with its kind, memory and defaults.
    let section = |y: &str| y[y.find("functions:").unwrap()..y.find("users:").unwrap()].to_string();
    assert_eq!(section(&a.run_yaml), section(&b.run_yaml));
}

#[test]
fn a_csv_output_that_would_lose_the_workload_is_refused() {
    let sb = Sandbox::new();
    let out = convert(&sb, &demo(), "demo.csv");
    out.expect_code(1);
    assert!(out.stderr.contains("NAME.yaml"), "{}", out.stderr);
    assert!(!sb.join("demo.csv").exists());
    // A trace whose functions carry only defaults converts to CSV with them folded in.
    let t = sb.write(
        "p.yaml",
        "blocking: true\nfunctions:\n  - {name: f, params: {cpu_ms: 3, n: 1}}\ninvocations:\n  - {at: 0, function: f, params: {n: 2}}\n",
    );
    convert(&sb, &t, "p.csv").expect_code(0);
    let text = std::fs::read_to_string(sb.join("p.csv")).unwrap();
    assert!(text.contains(r#""{""cpu_ms"":3,""n"":2}",true"#), "{text}");
    // Never over something that is not a regular file.
    let out = convert(&sb, &t, "/dev/null");
    assert_ne!(out.code(), 0);
    assert!(Path::new("/dev/null").exists());
}
