//! Bad input gets a clear error, never a panic and never a silently wrong run.

mod inject_support;

use inject_support::Sandbox;

#[test]
fn trace_check_prints_huge_names_without_panicking() {
    let sb = Sandbox::new();
    // The longest action name OpenWhisk allows, and a user label of any length.
    let long = "f".repeat(256);
    let user = "u".repeat(70_000);
    let t = sb.write(
        "long.csv",
        &format!("at,function,user\n0,{long},{user}\n1,g,alice\n"),
    );
    let out = sb.run(["trace".as_ref(), "check".as_ref(), t.as_os_str()]);
    out.expect_code(0);
    assert!(out.stdout.contains('…'), "{}", out.stdout);
    assert!(
        out.stdout.lines().all(|l| l.chars().count() < 200),
        "{}",
        out.stdout
    );
}

#[test]
fn nonsense_limits_are_refused_before_anything_runs() {
    let sb = Sandbox::new();
    let t = sb.write("t.csv", "at,function\n0,f\n");
    for args in [
        ["--max-in-flight", "0"],
        ["--closed-loop", "0"],
        ["--connections", "0"],
        ["--fetch-concurrency", "0"],
        ["--request-timeout", "0s"],
        ["--fetch-timeout", "0ms"],
        ["--duration", "0"],
        ["--speed", "1e-300"],
        ["--speed", "0"],
        ["--speed", "1e9"],
    ] {
        let mut cmd: Vec<std::ffi::OsString> = vec!["inject".into(), t.clone().into()];
        cmd.extend(args.iter().map(Into::into));
        let out = sb.run(cmd);
        assert_eq!(out.code(), 2, "{args:?} accepted:\n{}", out.stderr);
        assert!(out.stderr.contains(args[0]), "{args:?}: {}", out.stderr);
        assert!(!sb.join("results").exists(), "{args:?} started a run");
    }
}

#[test]
fn devices_and_fifos_are_refused_not_read() {
    let sb = Sandbox::new();
    let t = sb.write(
        "zero.yaml",
        "functions:\n  - {name: f, kind: 'python:3', code_file: /dev/zero}\ninvocations:\n  - {at: 0, function: f}\n",
    );
    let out = sb.run(["trace".as_ref(), "check".as_ref(), t.as_os_str()]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
    assert!(out.stderr.contains("code_file"), "{}", out.stderr);

    let fifo = sb.join("trace.csv");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .unwrap();
    let out = sb.run(["trace".as_ref(), "check".as_ref(), fifo.as_os_str()]);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
}

#[test]
fn function_names_never_walk_a_url_path() {
    let sb = Sandbox::new();
    for name in ["..", "../evil", "a/../b", "pkg/.", "a/b/c", " lead"] {
        let t = sb.write("n.csv", &format!("at,function\n0,\"{name}\"\n"));
        let out = sb.run(["trace".as_ref(), "check".as_ref(), t.as_os_str()]);
        assert_eq!(out.code(), 2, "{name:?} accepted: {}", out.stdout);
        assert!(
            out.stderr.contains("not an OpenWhisk action name"),
            "{name:?}: {}",
            out.stderr
        );
    }
    let t = sb.write("ok.csv", "at,function\n0,pkg/my-action@v1.2\n");
    sb.run(["trace".as_ref(), "check".as_ref(), t.as_os_str()])
        .expect_code(0);
}

#[test]
fn a_user_named_guest_uses_the_guest_namespace() {
    let sb = Sandbox::new();
    let t = sb.write(
        "g.yaml",
        "users: [guest, alice]\ninvocations:\n  - {at: 0, function: f, user: guest}\n  - {at: 0.01, function: f, user: alice}\n",
    );
    let (_, res) = inject_support::inject_ok(&sb, &t, &["--no-monitor", "--blocking"]);
    res.assert_all_success();
}

#[test]
fn a_yaml_trace_that_is_not_utf8_names_the_line_and_column() {
    let sb = Sandbox::new();
    let path = sb.join("latin1.yaml");
    // "caf\xe9" in Latin-1: the bad byte is on line 3, column 17.
    std::fs::write(
        &path,
        b"functions:\n  - name: f\n    params: {caf\xe9: 1}\ninvocations:\n  - {at: 0, function: f}\n",
    )
    .unwrap();
    let out = sb.run(["trace".as_ref(), "check".as_ref(), path.as_os_str()]);
    out.expect_code(2);
    assert!(out.stderr.contains("latin1.yaml:3:17"), "{}", out.stderr);
    assert!(out.stderr.contains("UTF-8"), "{}", out.stderr);
    assert!(!out.stderr.contains("IO error"), "{}", out.stderr);
}
