//! `gale inject --force-cold` against a `gale platform` process (a remote platform to gale):
//! each invocation follows an update of its action, finds no warm container, and says so
//! in its activation's initTime; cold-updates.csv lists the updates and their latency. The
//! same trace without the option reuses a warm container, so the check can fail.

mod inject_support;

use inject_support::{inject, PlatformProcess, Results, Sandbox};

/// Four blocking invocations of `f`, a second apart (each done before the next).
fn four_rows(sb: &Sandbox) -> std::path::PathBuf {
    sb.write(
        "four.csv",
        "at_ms,function,blocking\n0,f,true\n1000,f,true\n2000,f,true\n3000,f,true\n",
    )
}

#[test]
fn every_invocation_is_cold_and_the_updates_are_listed() {
    let sb = Sandbox::new();
    let platform = PlatformProcess::start(&sb, &["--no-cgroups"]);
    platform.deploy_synthetic("f");
    let trace = four_rows(&sb);
    let remote = ["--apihost", &platform.apihost, "--auth", &platform.key];

    let (o, dir) = inject(&sb, &trace, "warm", &remote);
    o.expect_code(0);
    let warm = Results::read(&dir);
    warm.assert_all_success();
    assert!(
        warm.records[1..].iter().any(|r| r.cold == Some(false)),
        "without --force-cold a container is reused: {:?}",
        warm.records
    );

    let args: Vec<&str> = remote.iter().copied().chain(["--force-cold"]).collect();
    let (o, dir) = inject(&sb, &trace, "forced", &args);
    o.expect_code(0);
    let forced = Results::read(&dir);
    forced.assert_all_success();
    for r in &forced.records {
        assert_eq!(r.cold, Some(true), "{r:?}");
        assert!(r.init_ms.is_some_and(|ms| ms > 0.0), "{r:?}");
    }
    let mut containers: Vec<&str> = forced
        .records
        .iter()
        .map(|r| r.container.as_str())
        .collect();
    containers.sort();
    containers.dedup();
    assert_eq!(
        containers.len(),
        4,
        "a new container each time: {containers:?}"
    );
    assert!(
        o.stderr.contains("forced cold starts: 4 updates")
            && o.stderr.contains("0 invocations were warm nonetheless"),
        "{}",
        o.stderr
    );
    let updates = std::fs::read_to_string(dir.join("cold-updates.csv")).unwrap();
    let lines: Vec<&str> = updates.lines().collect();
    assert_eq!(lines[0], "row,function,update_ms,cold,init_ms,error");
    assert_eq!(lines.len(), 5, "{updates}");
    for (i, line) in lines[1..].iter().enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells[0], i.to_string());
        assert_eq!(cells[1], "f");
        assert!(cells[2].parse::<f64>().unwrap() > 0.0, "{line}");
        assert_eq!(cells[3], "true", "{line}");
        assert_eq!(cells[5], "\"\"", "{line}");
    }
}

#[test]
fn the_experiments_cold_pattern_forces_cold_starts_on_a_remote_target() {
    let sb = Sandbox::new();
    let platform = PlatformProcess::start(&sb, &["--no-cgroups"]);
    platform.deploy_synthetic("f");
    let file = sb.write(
        "cold.yml",
        "workload:\n  functions: [{name: f}]\n  count: 3\n  gap: 700ms\nfactors:\n  pattern: [cold, sequential]\n",
    );
    let out = sb.join("exp");
    let o = sb.run([
        "experiment",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
        "--apihost",
        &platform.apihost,
        "--auth",
        &platform.key,
    ]);
    o.expect_code(0);
    let cold = Results::read(&out.join("p01-pattern=cold/rep1"));
    assert_eq!(cold.records.len(), 3);
    assert!(
        cold.records.iter().all(|r| r.cold == Some(true)),
        "{:?}",
        cold.records
    );
    assert!(out.join("p01-pattern=cold/rep1/cold-updates.csv").is_file());
    let seq = Results::read(&out.join("p02-pattern=sequential/rep1"));
    assert!(!out
        .join("p02-pattern=sequential/rep1/cold-updates.csv")
        .exists());
    assert!(
        seq.records.iter().any(|r| r.cold == Some(false)),
        "{:?}",
        seq.records
    );

    // Platform settings cannot vary on a platform gale does not run.
    let bad = sb.write(
        "bad.yml",
        "workload:\n  functions: [{name: f}]\nfactors:\n  placement: [random, round-robin]\n",
    );
    let o = sb.run([
        "experiment",
        bad.to_str().unwrap(),
        "--apihost",
        &platform.apihost,
        "--auth",
        &platform.key,
    ]);
    o.expect_code(2);
    assert!(
        o.stderr
            .contains("factor `placement` is a platform setting"),
        "{}",
        o.stderr
    );
}

#[test]
fn the_keepalive_probe_measures_the_remote_platforms_own_keep_alive() {
    // The preset's embedded keep-alive (idle_timeout 10m, scaled to 1.2 s here) is ignored
    // on a remote target: the `gale platform` process keeps its default 10 minutes, so even
    // the longest wait (15m × 0.002 = 1.8 s) finds the container warm.
    let sb = Sandbox::new();
    let platform = PlatformProcess::start(&sb, &["--no-cgroups"]);
    platform.deploy_synthetic("probe");
    let out = sb.join("probe");
    let o = sb.run([
        "experiment",
        "--preset",
        "keepalive-probe",
        "--scale",
        "0.002",
        "--out",
        out.to_str().unwrap(),
        "-q",
        "--apihost",
        &platform.apihost,
        "--auth",
        &platform.key,
    ]);
    o.expect_code(0);
    assert!(
        o.stderr.contains("ignored on a remote target"),
        "{}",
        o.stderr
    );
    let last = Results::read(&out.join("p06-wait=15m/rep1"));
    assert_eq!(last.records.len(), 2);
    assert_eq!(last.records[1].cold, Some(false), "{:?}", last.records);
}
