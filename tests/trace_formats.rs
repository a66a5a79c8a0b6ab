//! The trace readers end to end: each format's happy path, located errors, determinism,
//! merge order, FaaSLoad mapping, the YAML→CSV→read round trip and no-panic properties.

use std::path::{Path, PathBuf};

use gale::trace::{self, Invocation, OpenOptions, TraceError};
use proptest::prelude::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn rows(path: &Path, seed: Option<u64>) -> Result<Vec<Invocation>, TraceError> {
    let t = trace::open(path, &OpenOptions { seed })?;
    t.rows.collect()
}

fn open_err(path: &Path) -> TraceError {
    match trace::open(path, &OpenOptions::default()) {
        Err(e) => e,
        Ok(t) => t
            .rows
            .filter_map(Result::err)
            .next()
            .expect("expected an error"),
    }
}

#[test]
fn yaml_happy_path() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "t.yaml",
        "seed: 1\nblocking: true\nfunctions:\n  - name: f\n    memory_mb: 256\n    params: {cpu_ms: 5}\n  - g\n\
         users: [alice, {name: bob, namespace: bobs}]\n\
         invocations:\n  - {at: 0.5, function: f, params: {n: 3}, blocking: false}\n  - {at_ms: 750, function: g, user: bob}\n  - {at: 2s, function: f}\n",
    );
    let t = trace::open(&p, &OpenOptions::default()).unwrap();
    assert_eq!(t.header.functions.len(), 2);
    assert_eq!(t.header.functions[0].memory_mb, Some(256));
    assert_eq!(t.header.functions[1].kind, trace::SYNTHETIC_KIND);
    assert_eq!(t.header.users[1].namespace.as_deref(), Some("bobs"));
    assert!(t.header.blocking);
    assert_eq!(t.header.seed, 1);
    let r: Vec<Invocation> = t.rows.map(Result::unwrap).collect();
    assert_eq!(r.len(), 3);
    assert_eq!(
        (r[0].row, r[0].at_ns, &*r[0].function, &*r[0].user),
        (0, 500_000_000, "f", "alice")
    );
    assert_eq!(r[0].params.as_deref(), Some(r#"{"n":3}"#));
    assert_eq!(r[0].blocking, Some(false));
    assert_eq!((r[1].at_ns, &*r[1].user), (750_000_000, "bob"));
    assert_eq!(
        (r[2].row, r[2].at_ns, r[2].params.as_deref()),
        (2, 2_000_000_000, None)
    );
}

#[test]
fn csv_happy_path() {
    let d = tempfile::tempdir().unwrap();
    let p = write(
        d.path(),
        "t.csv",
        "# comment\nat_ms,function,user,params,param.n,param.tag,blocking\n\
         0.5,f,,,,,\n1000,f,bob,\"{\"\"a\"\": 1}\",7,x,TRUE\n1000,g,bob,,[1],,0\n",
    );
    let r = rows(&p, None).unwrap();
    assert_eq!(r.len(), 3);
    assert_eq!(
        (r[0].at_ns, &*r[0].user, r[0].params.as_deref()),
        (500_000, "default", None)
    );
    assert_eq!(r[1].params.as_deref(), Some(r#"{"a":1,"n":7,"tag":"x"}"#));
    assert_eq!(r[1].blocking, Some(true));
    assert_eq!(r[2].params.as_deref(), Some(r#"{"n":[1]}"#));
    assert_eq!(r[2].blocking, Some(false));
    assert_eq!(r.iter().map(|i| i.row).collect::<Vec<_>>(), [0, 1, 2]);
}

#[test]
fn faasload_waits_accumulate_and_params_map() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "alice-blur-512-60-2",
        "0.5\ta.jpg\tsigma:2\n\n1.25\tb.jpg\tmode:fast\n",
    );
    write(d.path(), "bob-blur-1024-60-2", "1\tc.jpg\n");
    write(d.path(), "bob-sox-128-60-2", "0.5\td.wav\n");
    write(d.path(), ".hidden", "not a trace");
    let t = trace::open(d.path(), &OpenOptions::default()).unwrap();
    let fns: Vec<_> = t
        .header
        .functions
        .iter()
        .map(|f| (f.name.as_str(), f.memory_mb))
        .collect();
    // MEMORY in the name is metadata (FaaSLoad sets memory at deploy time).
    assert_eq!(fns, [("blur", None), ("sox", None)]);
    let users: Vec<_> = t.header.users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(users, ["alice", "bob"]);
    let r: Vec<Invocation> = t.rows.map(Result::unwrap).collect();
    let got: Vec<_> = r
        .iter()
        .map(|i| (i.at_ns, &*i.user, &*i.function))
        .collect();
    // Ties at 0.5 s: alice's file sorts before bob-sox's.
    assert_eq!(
        got,
        [
            (500_000_000, "alice", "blur"),
            (500_000_000, "bob", "sox"),
            (1_000_000_000, "bob", "blur"),
            (1_750_000_000, "alice", "blur"),
        ]
    );
    let body: serde_json::Value = serde_json::from_str(r[3].params.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"object": "b.jpg", "incont": "alice", "outcont": "alice-blur-out", "mode": "fast"})
    );
}

#[test]
fn errors_name_file_line_column_and_field() {
    let d = tempfile::tempdir().unwrap();
    // (file, content, line, column, field, part of the message)
    type Case<'a> = (&'a str, &'a str, u64, Option<u64>, &'a str, &'a str);
    let cases: &[Case] = &[
        (
            "a.yaml",
            "functions: [f]\narrivals:\n  - {function: f, rate: -3, duration: 1s}\n",
            3,
            Some(25),
            "rate",
            "positive number of invocations per second (at most 1e9), got -3",
        ),
        (
            "b.yaml",
            "arrivals:\n  - function: f\n    rate: abc\n    count: 3\n",
            3,
            Some(11),
            "rate",
            "expected a number",
        ),
        (
            "c.yaml",
            "seed: 1\nbogus: 1\n",
            2,
            Some(1),
            "bogus",
            "unknown field",
        ),
        (
            "d.yaml",
            "invocations:\n  - {at: 1, function: f}\n  - {at: 0.5, function: f}\n",
            3,
            Some(10),
            "at",
            "non-decreasing time: 0.5 s comes after 1 s (line 2)",
        ),
        (
            "e.yaml",
            "functions: [f]\ninvocations:\n  - {at: 1, function: g}\n",
            3,
            Some(23),
            "function",
            "`g` is not declared",
        ),
        (
            "f.yaml",
            "users: [a]\narrivals:\n  - {function: f, user: b, rate: 1, count: 1}\n",
            3,
            Some(25),
            "user",
            "`b` is not declared",
        ),
        (
            "g.yaml",
            "invocations:\n  - {at: 1, function: f, colour: red}\n",
            2,
            Some(26),
            "colour",
            "unknown field",
        ),
        (
            "cf1.yaml",
            "functions:\n  - name: f\n    kind: python:3\n    code_file: missing.py\n",
            2,
            Some(5),
            "code_file",
            "readable UTF-8 regular file of code for `f`",
        ),
        (
            "cf2.yaml",
            "functions:\n  - {name: f, kind: python:3, code: x, code_file: x.py}\n",
            2,
            Some(5),
            "code_file",
            "both `code` and `code_file`",
        ),
        (
            "h.yaml",
            "arrivals:\n  - {function: f, rate: 1}\n",
            2,
            Some(5),
            "duration",
            "`duration` or `count`",
        ),
        (
            "i.yaml",
            "users: [a, a]\n",
            1,
            Some(12),
            "users",
            "declared twice",
        ),
        (
            "j.yaml",
            "invocations_file: nope.csv\n",
            1,
            Some(19),
            "invocations_file",
            "is not a file",
        ),
        (
            "k.yaml",
            "arrivals:\n  - {function: f, rate: 1, count: 1, process: gamma}\n",
            2,
            Some(47),
            "process",
            "unknown variant `gamma`",
        ),
        (
            "a.csv",
            "at,function,colour\n1,f,red\n",
            1,
            None,
            "colour",
            "unknown column",
        ),
        (
            "b.csv",
            "at,function\n1,f\n\nx,f\n",
            4,
            None,
            "at",
            "got `x`",
        ),
        (
            "c.csv",
            "at,function\n2,f\n1,f\n",
            3,
            None,
            "at",
            "non-decreasing",
        ),
        (
            "d.csv",
            "at,function,params\n1,f,[1]\n",
            2,
            None,
            "params",
            "JSON object",
        ),
        (
            "e.csv",
            "at,function,blocking\n1,f,maybe\n",
            2,
            None,
            "blocking",
            "true or false",
        ),
        ("f.csv", "function\nf\n", 1, None, "at", "`at` or `at_ms`"),
        (
            "g.csv",
            "at,function,user\n1,f,\"a\nb\"\n",
            2,
            None,
            "user",
            "control characters",
        ),
    ];
    for (name, text, line, col, field, msg) in cases {
        let p = write(d.path(), name, text);
        let e = open_err(&p);
        assert_eq!(e.file, p, "{name}: {e}");
        assert_eq!(e.line, Some(*line), "{name}: {e}");
        assert_eq!(e.column, *col, "{name}: {e}");
        assert_eq!(e.field.as_deref(), Some(*field), "{name}: {e}");
        assert!(e.message.contains(msg), "{name}: {e}");
        assert!(
            e.to_string()
                .starts_with(&format!("{}:{line}", p.display())),
            "{e}"
        );
    }
    let fl = d.path().join("fl");
    std::fs::create_dir(&fl).unwrap();
    let f = write(&fl, "u-a-1-1-1", "1\ta\n\nx\tb\n");
    let e = open_err(&fl);
    assert_eq!(
        (e.file, e.line, e.field.as_deref()),
        (f, Some(3), Some("WAIT"))
    );
    let bad = write(&fl, "nodash", "1\ta\n");
    assert_eq!(open_err(&fl).file, bad);
}

const ARRIVALS: &str = "seed: 5\narrivals:\n  - {function: f, rate: 50, duration: 10s}\n  - {function: g, rate: 20, process: uniform, count: 100}\n  - {function: h, rate: 4, process: constant, duration: 2s}\ninvocations:\n  - {at: 0, function: x}\n  - {at: 0.5, function: x}\n";

#[test]
fn arrivals_are_deterministic_per_seed() {
    let d = tempfile::tempdir().unwrap();
    let p = write(d.path(), "a.yaml", ARRIVALS);
    let a = rows(&p, None).unwrap();
    assert_eq!(a, rows(&p, None).unwrap());
    assert_eq!(a, rows(&p, Some(5)).unwrap());
    let b = rows(&p, Some(6)).unwrap();
    assert_ne!(a, b);
    assert!(a.windows(2).all(|w| w[0].at_ns <= w[1].at_ns));
    assert_eq!(a.iter().filter(|i| &*i.function == "g").count(), 100);
    assert_eq!(a.iter().filter(|i| &*i.function == "h").count(), 8);
    // The constant spec's first arrival ties the explicit row at 0: explicit rows come first.
    assert_eq!((&*a[0].function, &*a[1].function), ("x", "h"));
    assert_eq!(
        a.iter().map(|i| i.row).collect::<Vec<_>>(),
        (0..a.len() as u64).collect::<Vec<_>>()
    );
}

#[test]
fn big_yaml_streams_from_a_thread_and_reports_late_errors() {
    let d = tempfile::tempdir().unwrap();
    // Long rows reach the streaming threshold with few rows (YAML parsing is slow in debug).
    let n = 18_000;
    let blob = "x".repeat(240);
    let mut text = String::from("invocations:\n");
    for i in 0..n {
        text.push_str(&format!(
            "  - {{at: {i}, function: f{}, params: {{b: {blob}}}}}\n",
            i % 3
        ));
    }
    let p = write(d.path(), "big.yaml", &text);
    assert!(std::fs::metadata(&p).unwrap().len() > trace::yaml::EAGER_BYTES);
    let mut count = 0u64;
    for r in trace::open(&p, &OpenOptions::default()).unwrap().rows {
        let r = r.unwrap();
        assert_eq!(r.row, count);
        count += 1;
    }
    assert_eq!(count, n);
    text.push_str("  - {at: 1, function: f}\n");
    let p = write(d.path(), "big.yaml", &text);
    let t = trace::open(&p, &OpenOptions::default()).expect("large files open lazily");
    let e = t.rows.filter_map(Result::err).next().unwrap();
    assert_eq!((e.line, e.field.as_deref()), (Some(n + 2), Some("at")));
}

#[test]
fn examples_open_and_read() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("traces");
    for (name, min) in [
        ("demo.yaml", 400),
        ("small.csv", 24),
        ("faasload", 6),
        ("arrivals.yaml", 100),
    ] {
        let r = rows(&root.join(name), None).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(r.len() >= min, "{name}: {} rows", r.len());
    }
    // code_file is read at open, relative to the trace file.
    let f = trace::open(&root.join("functions.yaml"), &OpenOptions::default()).unwrap();
    let fib = &f.header.functions[0];
    assert_eq!(fib.kind, "python:3");
    assert!(fib.code_file.is_none());
    assert!(fib.code.as_deref().unwrap().contains("def main(args)"));
    let demo = trace::open(&root.join("demo.yaml"), &OpenOptions::default()).unwrap();
    assert!(demo.header.functions.len() >= 3 && demo.header.users.len() >= 3);
    let last = demo.rows.map(Result::unwrap).last().unwrap();
    assert!(last.at_ns > 15_000_000_000 && last.at_ns < 60_000_000_000);
}

fn csv_round_trip(r: &[Invocation]) -> Vec<Invocation> {
    let mut buf = Vec::new();
    let n = trace::write_csv(r.iter().cloned().map(Ok), &mut buf).unwrap();
    assert_eq!(n, r.len() as u64);
    trace::csv::from_bytes("rt.csv", &buf)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

#[test]
fn converting_the_examples_keeps_every_row() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("traces");
    for name in ["demo.yaml", "small.csv", "faasload", "arrivals.yaml"] {
        let r = rows(&root.join(name), None).unwrap();
        assert_eq!(csv_round_trip(&r), r, "{name}");
    }
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_ ./#\"',-]{0,12}"
}

/// Function names are OpenWhisk action names (no trailing space, no `#`, one `/` at most).
fn action_name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_][a-zA-Z0-9_@.&-]{0,12}"
}

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn yaml_to_csv_to_rows_is_identity(
        gaps in prop::collection::vec((0u32..3_000_000, 0usize..3, 0usize..3, prop::option::of(-5i64..5), prop::option::of(any::<bool>())), 0..40),
        fnames in prop::collection::vec(action_name(), 3),
        unames in prop::collection::vec(name(), 3),
        rate in 0.5f64..200.0,
        seed in any::<u64>(),
    ) {
        let mut text = format!("seed: {seed}\narrivals:\n  - {{function: {}, user: {}, rate: {rate}, count: 30}}\ninvocations:\n",
            yaml_str(&fnames[0]), yaml_str(&unames[1]));
        let mut at_us = 0u64;
        for (gap, f, u, p, b) in &gaps {
            at_us += u64::from(*gap);
            text.push_str(&format!("  - {{at: {}, function: {}, user: {}", at_us as f64 / 1e6, yaml_str(&fnames[*f]), yaml_str(&unames[*u])));
            if let Some(p) = p { text.push_str(&format!(", params: {{n: {p}, s: \"a,b\"}}")); }
            if let Some(b) = b { text.push_str(&format!(", blocking: {b}")); }
            text.push_str("}\n");
        }
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "t.yaml", &text);
        let r = rows(&p, None).unwrap();
        prop_assert_eq!(r.len(), gaps.len() + 30);
        prop_assert_eq!(csv_round_trip(&r), r);
    }

    #[test]
    fn parsers_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = trace::fuzzing::yaml(&data);
        let _ = trace::fuzzing::csv(&data);
        let _ = trace::fuzzing::faasload_line(&data);
    }

    #[test]
    fn parsers_never_panic_on_near_valid_text(
        text in "(seed: [0-9]{1,3}\n)?(invocations:\n(  - \\{at: [-0-9.e]{1,4}, function: [a-z#]{0,3}(, params: \\{[a-z]: [0-9a-z]\\})?\\}\n){0,4})?(arrivals:\n  - \\{function: f, rate: [-0-9.e]{1,4}, (count|duration): [-0-9a-z.]{1,4}(, process: [a-z]{1,8})?\\}\n)?"
    ) {
        let _ = trace::fuzzing::yaml(text.as_bytes());
        let csv = text.replace(": ", ",");
        let _ = trace::fuzzing::csv(format!("at,function,params\n{csv}").as_bytes());
        let _ = trace::fuzzing::faasload_line(text.replace(' ', "\t").as_bytes());
    }
}
