//! `gale inject`'s input errors and help: bad traces exit 2 and point at file, line and
//! field; a non-empty --out is refused; every subcommand's help is useful.

mod inject_support;

use inject_support::{inject, Sandbox};

/// Inject `name` (written with `text`): must exit 2 and name `where_` and `field`.
fn bad_trace(name: &str, text: &str, where_: &str, field: &str) {
    let sb = Sandbox::new();
    let trace = sb.write(name, text);
    let (out, _) = inject(&sb, &trace, "out", &[]);
    out.expect_code(2);
    let first = out
        .stderr
        .lines()
        .find(|l| l.starts_with("gale: error:"))
        .unwrap_or_else(|| panic!("no error line:\n{}", out.stderr));
    assert!(
        first.contains(where_),
        "error does not name `{where_}`: {first}"
    );
    assert!(
        first.contains(&format!("field `{field}`")),
        "error does not name field `{field}`: {first}"
    );
}

#[test]
fn yaml_with_an_unknown_field_is_refused() {
    bad_trace(
        "unknown.yaml",
        "functions: [f]\ninvocations:\n  - {at: 0, function: f}\n  - {at: 1, function: f, colour: red}\n",
        "unknown.yaml:4:",
        "colour",
    );
}

#[test]
fn yaml_with_an_unknown_top_level_field_is_refused() {
    bad_trace(
        "top.yaml",
        "functions: [f]\nspeed: 3\ninvocations:\n  - {at: 0, function: f}\n",
        "top.yaml:2:",
        "speed",
    );
}

#[test]
fn csv_with_a_non_number_time_is_refused() {
    bad_trace(
        "bad.csv",
        "at,function\n0.1,f\nsoon,f\n0.3,f\n",
        "bad.csv:3",
        "at",
    );
}

#[test]
fn row_naming_an_undeclared_function_is_refused() {
    bad_trace(
        "undeclared.yaml",
        "functions: [f]\ninvocations:\n  - {at: 0, function: f}\n  - {at: 0.1, function: g}\n",
        "undeclared.yaml:4:",
        "function",
    );
}

#[test]
fn missing_trace_is_bad_input() {
    let sb = Sandbox::new();
    let (out, _) = inject(&sb, &sb.join("nope.yaml"), "out", &[]);
    out.expect_code(2);
    assert!(out.stderr.contains("nope.yaml"), "{}", out.stderr);
}

#[test]
fn non_empty_out_dir_is_refused_and_left_alone() {
    let sb = Sandbox::new();
    let trace = sb.write("t.csv", "at,function\n0,f\n");
    let dir = sb.join("taken");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("invocations.csv"), "precious\n").unwrap();
    let (out, _) = inject(&sb, &trace, "taken", &[]);
    assert_ne!(out.code(), 0, "a non-empty --out was accepted");
    assert!(out.stderr.contains("not empty"), "{}", out.stderr);
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["invocations.csv"], "files were added to {dir:?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("invocations.csv")).unwrap(),
        "precious\n"
    );
}

#[test]
fn an_empty_out_dir_is_used() {
    let sb = Sandbox::new();
    let trace = sb.write("t.csv", "at,function\n0,f\n");
    std::fs::create_dir(sb.join("empty")).unwrap();
    let (out, dir) = inject(&sb, &trace, "empty", &[]);
    out.expect_code(0);
    let res = inject_support::Results::read(&dir);
    res.assert_rows_are_prefix(1);
    res.assert_all_success();
}

fn help_mentions(args: &[&str], words: &[&str]) {
    let sb = Sandbox::new();
    let out = sb.run(args);
    out.expect_code(0);
    for w in words {
        assert!(
            out.stdout.contains(w),
            "`gale {}` does not mention {w}:\n{}",
            args.join(" "),
            out.stdout
        );
    }
}

#[test]
fn help_is_useful() {
    help_mentions(
        &["--help"],
        &["inject", "platform", "trace", "--apihost", "wskprops"],
    );
    help_mentions(
        &["inject", "--help"],
        &[
            "--apihost",
            "--auth",
            "--out",
            "--speed",
            "--duration",
            "--max-invocations",
            "--closed-loop",
            "--max-in-flight",
            "--on-overload",
            "--drain-timeout",
            "--blocking",
        ],
    );
    help_mentions(
        &["platform", "--help"],
        &[
            "--listen",
            "--auth",
            "--invocations-per-minute",
            "--concurrent-invocations",
        ],
    );
    help_mentions(&["trace", "--help"], &["check", "convert"]);
}

/// A large CSV (checked as it streams, not at open) with a bad row: the rows before it are
/// run and recorded, then the run ends with exit 2 and a `trace_error` summary. (The CSV is
/// the `invocations_file` of a YAML that declares its functions: given alone to the embedded
/// platform, gale scans it for function names first and reports the error before the run.)
#[test]
fn a_late_trace_error_keeps_the_records_before_it() {
    let sb = Sandbox::new();
    let mut text = String::from("at,function\n0,f\n0.05,f\n0.1,f\nsoon,f\n");
    let comment = format!("# {}\n", "x".repeat(1000));
    while text.len() < 5 << 20 {
        text += &comment;
    }
    sb.write("late.csv", &text);
    let trace = sb.write("late.yaml", "functions: [f]\ninvocations_file: late.csv\n");
    let (out, dir) = inject(&sb, &trace, "out", &[]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("late.csv:5") && out.stderr.contains("field `at`"),
        "{}",
        out.stderr
    );
    let res = inject_support::Results::read(&dir);
    res.assert_rows_are_prefix(3);
    res.assert_all_success();
    assert_eq!(res.summary["status"], "trace_error");
    assert!(
        res.summary["error"]
            .as_str()
            .is_some_and(|e| e.contains("late.csv:5")),
        "{}",
        res.summary
    );
}
