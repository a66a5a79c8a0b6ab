//! `gale inject` under pressure: the in-flight cap (shed / delay), closed loop, and stops by
//! SIGINT/SIGTERM (exit 130, complete records, a second signal cuts the drain short).

mod inject_support;

use std::path::PathBuf;
use std::time::Duration;

use inject_support::{inject_ok, Results, Sandbox};

/// 10 blocking calls 10 ms apart to an action that sleeps 300 ms.
fn burst_trace(sb: &Sandbox) -> PathBuf {
    let mut yaml = String::from(
        "blocking: true\nfunctions:\n  - {name: slow, params: {sleep_ms: 300}}\ninvocations:\n",
    );
    for i in 0..10 {
        yaml += &format!("  - {{at_ms: {}, function: slow}}\n", i * 10);
    }
    sb.write("burst.yaml", &yaml)
}

#[test]
fn over_the_in_flight_cap_invocations_are_shed_and_recorded() {
    let sb = Sandbox::new();
    let trace = burst_trace(&sb);
    let (_, res) = inject_ok(
        &sb,
        &trace,
        &["--max-in-flight", "1", "--on-overload", "shed"],
    );
    res.assert_rows_are_prefix(10);
    // The first call holds the only slot for ≥ 300 ms; the other nine fall due within 100 ms.
    assert_eq!(res.records[0].outcome, "success", "{:?}", res.records[0]);
    for r in &res.records[1..] {
        assert_eq!(r.outcome, "shed", "row {}: {r:?}", r.row);
        assert_eq!(r.sent_us, None, "row {}: a shed row is never sent", r.row);
        assert_eq!(r.http_status, None);
        assert!(r.activation_id.is_empty());
        assert!(r.error.contains("in flight"), "row {}: {}", r.row, r.error);
        assert_eq!(r.scheduled_us, r.row as f64 * 10_000.0);
    }
    assert_eq!(res.summary_outcome("shed"), 9);
    assert_eq!(res.summary["overall"]["count"], 10);
    assert_eq!(res.summary["functions"]["slow"]["outcomes"]["shed"], 9);
}

#[test]
fn over_the_in_flight_cap_invocations_are_delayed_with_delay() {
    let sb = Sandbox::new();
    let trace = burst_trace(&sb);
    let (_, res) = inject_ok(
        &sb,
        &trace,
        &["--max-in-flight", "1", "--on-overload", "delay"],
    );
    res.assert_rows_are_prefix(10);
    res.assert_all_success();
    let lateness: Vec<f64> = res
        .records
        .iter()
        .map(|r| r.lateness_us.expect("every row sent"))
        .collect();
    // One at a time: each waits for the previous 300 ms call.
    assert!(
        lateness[9] >= 250_000.0,
        "last row only {} µs late",
        lateness[9]
    );
    assert!(
        lateness[9] > lateness[1],
        "lateness does not grow: {lateness:?}"
    );
    for w in res.records.windows(2) {
        assert!(
            w[1].sent_us.unwrap() >= w[0].sent_us.unwrap(),
            "sent out of order"
        );
    }
    assert_eq!(res.summary_outcome("shed"), 0);
}

/// `count` cheap rows (1 ms of CPU) at `rate` per second, constant gaps.
fn long_trace(sb: &Sandbox, rate: u32, count: u32) -> PathBuf {
    sb.write(
        "long.yaml",
        &format!(
            "functions:\n  - {{name: f, params: {{cpu_ms: 1}}}}\narrivals:\n\
             \x20 - {{function: f, rate: {rate}, process: constant, count: {count}}}\n"
        ),
    )
}

#[test]
fn closed_loop_stops_at_max_invocations() {
    let sb = Sandbox::new();
    let trace = long_trace(&sb, 1000, 20_000);
    let (_, res) = inject_ok(
        &sb,
        &trace,
        &["--closed-loop", "4", "--max-invocations", "40"],
    );
    res.assert_rows_are_prefix(40);
    res.assert_all_success();
    assert_eq!(res.summary["overall"]["count"], 40);
    assert!(res.run_yaml.contains("mode: closed"), "{}", res.run_yaml);
    assert!(res.run_yaml.contains("closed_loop_users: 4"));
}

#[test]
fn closed_loop_stops_at_duration() {
    let sb = Sandbox::new();
    let trace = long_trace(&sb, 1000, 20_000);
    let (out, res) = inject_ok(
        &sb,
        &trace,
        &["--closed-loop", "4", "--duration", "1s", "--blocking"],
    );
    assert!(!res.records.is_empty(), "no record in a 1 s closed loop");
    assert!(
        res.records.len() < 20_000,
        "the duration did not stop the loop"
    );
    res.assert_rows_are_prefix(res.records.len());
    res.assert_all_success();
    // Nothing is scheduled past the horizon (1 s + some slack for the check-then-send).
    let last = res
        .records
        .iter()
        .map(|r| r.scheduled_us)
        .fold(0.0, f64::max);
    assert!(last <= 1_100_000.0, "row scheduled at {last} µs");
    assert!(
        out.elapsed < Duration::from_secs(10),
        "a 1 s run took {:?}",
        out.elapsed
    );
}

/// Rows at 20/s (open loop) or back to back (closed loop), far more than 1.5 s can send;
/// `sig` after 1.5 s of dispatching.
fn stop_with(sig: i32, extra: &[&str]) {
    let sb = Sandbox::new();
    let trace = long_trace(&sb, 20, 100_000);
    let out_dir = sb.join("out");
    let mut cmd = sb.gale([
        "inject",
        "--no-progress",
        "--quiet",
        "--drain-timeout",
        "10s",
    ]);
    cmd.arg(&trace).arg("--out").arg(&out_dir).args(extra);
    let proc = sb.spawn(cmd);
    proc.wait_for_stderr("INFO deployed ", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(1500));
    proc.signal(sig);
    let out = proc.wait(Duration::from_secs(25));
    out.expect_code(130);

    let res = Results::read(&out_dir);
    let n = res.records.len();
    assert!(n >= 10, "{n} records after 1.5 s");
    assert!(n < 100_000, "the stop did not stop the run");
    res.assert_rows_are_prefix(n);
    res.assert_all_success();
    assert_eq!(res.summary["status"], "interrupted");
    assert_eq!(res.summary["records"], n as u64);
    assert_eq!(res.summary["overall"]["count"], n as u64);
    assert!(out.stdout.contains("interrupted"), "{}", out.stdout);
}

#[test]
fn sigint_stops_dispatching_and_writes_complete_results() {
    stop_with(libc::SIGINT, &[]);
}

#[test]
fn sigterm_stops_dispatching_and_writes_complete_results() {
    stop_with(libc::SIGTERM, &[]);
}

#[test]
fn sigint_stops_a_closed_loop() {
    stop_with(libc::SIGINT, &["--closed-loop", "2"]);
}

/// A signal during start-up (here: the pass that finds the functions of a 1M-row trace that
/// declares none, about a second) ends the run cleanly before anything is sent.
#[test]
fn sigterm_during_start_up_ends_the_run_cleanly() {
    let sb = Sandbox::new();
    let mut csv = String::with_capacity(12_000_000);
    csv.push_str("at_ms,function\n");
    for i in 0..1_000_000u32 {
        csv += &format!("{i},f{}\n", i % 3);
    }
    let trace = sb.write("big.csv", &csv);
    let out_dir = sb.join("out");
    let mut cmd = sb.gale(["inject", "--no-progress", "--quiet"]);
    cmd.arg(&trace).arg("--out").arg(&out_dir);
    let proc = sb.spawn(cmd);
    std::thread::sleep(Duration::from_millis(150));
    assert!(
        !proc.stderr_so_far().contains("INFO deployed "),
        "start-up was over before the signal: the test needs a longer trace"
    );
    proc.signal(libc::SIGTERM);
    let out = proc.wait(Duration::from_secs(30));
    out.expect_code(130);
    let res = Results::read(&out_dir);
    assert_eq!(res.records.len(), 0);
    assert_eq!(res.summary["status"], "interrupted");
}

/// Three blocking calls to an action that sleeps `sleep_ms`, 50 ms apart.
fn slow_trace(sb: &Sandbox, sleep_ms: u32) -> PathBuf {
    sb.write(
        "slow.yaml",
        &format!(
            "blocking: true\nfunctions:\n  - {{name: slow, params: {{sleep_ms: {sleep_ms}}}}}\n\
             invocations:\n\
             \x20 - {{at: 0, function: slow}}\n\
             \x20 - {{at: 0.05, function: slow}}\n\
             \x20 - {{at: 0.1, function: slow}}\n"
        ),
    )
}

#[test]
fn second_sigint_ends_the_drain_and_records_in_flight_as_interrupted() {
    second_sigint_interrupts(&[], 3);
}

#[test]
fn second_sigint_interrupts_closed_loop_users_mid_request() {
    // Two users, each with one 5 s call in flight; the third row is never taken.
    second_sigint_interrupts(&["--closed-loop", "2"], 2);
}

/// `rows` calls in flight when a second SIGINT comes: each is recorded as interrupted.
fn second_sigint_interrupts(extra: &[&str], rows: usize) {
    let sb = Sandbox::new();
    let trace = slow_trace(&sb, 5000);
    let out_dir = sb.join("out");
    let mut cmd = sb.gale(["inject", "--no-progress", "--drain-timeout", "30s"]);
    cmd.arg(&trace).arg("--out").arg(&out_dir).args(extra);
    let proc = sb.spawn(cmd);
    proc.wait_for_stderr("INFO deployed ", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(700));
    proc.signal(libc::SIGINT);
    proc.wait_for_stderr("SIGINT: stopping", Duration::from_secs(5));
    let second = std::time::Instant::now();
    proc.signal(libc::SIGINT);
    let out = proc.wait(Duration::from_secs(25));
    out.expect_code(130);
    assert!(
        second.elapsed() < Duration::from_secs(3),
        "the second SIGINT took {:?} to end the run",
        second.elapsed()
    );
    let res = Results::read(&out_dir);
    res.assert_rows_are_prefix(rows);
    for r in &res.records {
        assert_eq!(r.outcome, "interrupted", "row {}: {r:?}", r.row);
        assert!(r.sent_us.is_some(), "row {} was sent", r.row);
        assert!(!r.error.is_empty());
    }
    assert_eq!(res.summary_outcome("interrupted"), rows as u64);
    assert_eq!(res.summary["status"], "interrupted");
}

/// The drain time is a wait *after the stop request*: a signal that comes once every row
/// has been sent must still wait up to --drain-timeout for the replies in flight.
#[test]
fn drain_timeout_counts_from_the_signal() {
    let sb = Sandbox::new();
    // Every row is sent by ~0.1 s and replies come at ~4 s; the stop comes at ~3 s with
    // 2.5 s of drain allowed, so the replies are due well within the drain.
    let trace = slow_trace(&sb, 4000);
    let out_dir = sb.join("out");
    let mut cmd = sb.gale(["inject", "--no-progress", "--drain-timeout", "2.5s"]);
    cmd.arg(&trace).arg("--out").arg(&out_dir);
    let proc = sb.spawn(cmd);
    proc.wait_for_stderr("INFO deployed ", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(3000));
    proc.signal(libc::SIGINT);
    let out = proc.wait(Duration::from_secs(25));
    out.expect_code(130);
    let res = Results::read(&out_dir);
    res.assert_rows_are_prefix(3);
    res.assert_all_success();
}
