//! `gale experiment FILE`: errors in the file name its line and field; every run has a
//! platform of its own; Ctrl-C keeps the runs done and `--resume` runs the rest; presets
//! print as their shipped files.

mod inject_support;

use std::path::Path;
use std::time::{Duration, Instant};

use inject_support::{Results, Sandbox, RUN_LIMIT};

#[test]
fn a_bad_value_names_the_file_line_and_field() {
    let sb = Sandbox::new();
    let file = sb.write(
        "bad.yml",
        "workload:\n  functions: [{name: f}]\nfactors:\n  warming: [cold, warm]\n  placement: [round-robin, fastest]\n",
    );
    let o = sb.run(["experiment", file.to_str().unwrap()]);
    o.expect_code(2);
    assert!(
        o.stderr.contains("bad.yml:5: field `factors.placement`") && o.stderr.contains("fastest"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("round-robin, least-used-memory"),
        "{}",
        o.stderr
    );

    let file = sb.write(
        "typo.yml",
        "workload:\n  functions: [{name: f}]\n  patern: burst\n",
    );
    let o = sb.run(["experiment", file.to_str().unwrap()]);
    o.expect_code(2);
    assert!(o.stderr.contains("typo.yml:3"), "{}", o.stderr);
    assert!(o.stderr.contains("patern"), "{}", o.stderr);

    let file = sb.write("none.yml", "repetitions: 2\n");
    let o = sb.run(["experiment", file.to_str().unwrap()]);
    o.expect_code(2);
    assert!(
        o.stderr.contains("none.yml: expected a `trace:`"),
        "{}",
        o.stderr
    );

    let file = sb.write(
        "key.yml",
        "workload:\n  functions: [{name: f}]\nsettings:\n  keepalive.idle: 1m\n",
    );
    let o = sb.run(["experiment", file.to_str().unwrap()]);
    o.expect_code(2);
    assert!(
        o.stderr
            .contains("key.yml:4: field `settings.keepalive.idle`: unknown key"),
        "{}",
        o.stderr
    );
    assert!(!sb.join("results").exists(), "nothing runs on a bad file");
}

#[test]
fn every_run_starts_on_a_fresh_platform() {
    // Warm keep-alive and a long idle timeout: were the platform shared between points or
    // repetitions, a run's first invocation would find the previous run's warm container.
    let sb = Sandbox::new();
    let file = sb.write(
        "fresh.yml",
        "workload:\n  functions: [{name: f, cpu_ms: 1}]\n  pattern: sequential\n  count: 2\n  gap: 300ms\nsettings:\n  warming: warm\n  keepalive.idle_timeout: 10m\nfactors:\n  seed: [1, 2]\nrepetitions: 2\n",
    );
    let out = sb.join("fresh");
    sb.run([
        "experiment",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ])
    .expect_code(0);
    let mut runs = 0;
    for point in ["p01-seed=1", "p02-seed=2"] {
        for rep in ["rep1", "rep2"] {
            let r = Results::read(&out.join(point).join(rep));
            assert_eq!(r.records.len(), 2);
            assert_eq!(
                r.records[0].cold,
                Some(true),
                "{point}/{rep}: {:?}",
                r.records[0]
            );
            runs += 1;
        }
    }
    assert_eq!(runs, 4);
}

fn done_runs(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("manifest.json"))
        .unwrap_or_default()
        .matches("\"status\": \"done\"")
        .count()
}

#[test]
fn sigint_keeps_the_runs_done_and_resume_runs_the_rest() {
    let sb = Sandbox::new();
    // Three points of about 1.5 s each.
    let file = sb.write(
        "long.yml",
        "workload:\n  functions: [{name: f, cpu_ms: 1}]\n  pattern: probe\n  wait: 1500ms\nfactors:\n  seed: [1, 2, 3]\n",
    );
    let out = sb.join("long");
    let args = [
        "experiment",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ];
    let running = sb.spawn(sb.gale(args));
    let until = Instant::now() + RUN_LIMIT;
    while done_runs(&out) < 1 {
        assert!(
            Instant::now() < until,
            "no run done: {}",
            running.stderr_so_far()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    running.signal(libc::SIGINT);
    let o = running.wait(RUN_LIMIT);
    o.expect_code(130);
    assert!(o.stderr.contains("--resume"), "{}", o.stderr);
    let done = done_runs(&out);
    assert!((1..3).contains(&done), "{done} runs done");
    let first = std::fs::read(out.join("p01-seed=1/rep1/invocations.csv")).unwrap();

    // Without --resume the directory is refused; with it, the rest runs.
    sb.run(args).expect_code(2);
    let o = sb.run(args.iter().copied().chain(["--resume"]));
    o.expect_code(0);
    assert!(
        o.stderr.contains(&format!("{done} done before")),
        "{}",
        o.stderr
    );
    assert_eq!(done_runs(&out), 3);
    assert_eq!(
        std::fs::read(out.join("p01-seed=1/rep1/invocations.csv")).unwrap(),
        first,
        "a run done before is kept as it was"
    );
    for p in ["p01-seed=1", "p02-seed=2", "p03-seed=3"] {
        assert_eq!(Results::read(&out.join(p).join("rep1")).records.len(), 2);
    }
    assert!(out.join("report.txt").is_file());

    // Another experiment in the same directory is refused.
    let other = sb.write("other.yml", "workload:\n  functions: [{name: g}]\n");
    sb.run([
        "experiment",
        other.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--resume",
    ])
    .expect_code(2);
}

#[test]
fn presets_print_as_their_shipped_files() {
    let sb = Sandbox::new();
    for name in ["policies", "perf-cost", "keepalive-probe"] {
        let o = sb.run(["experiment", "--preset", name, "--print"]);
        o.expect_code(0);
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config/experiments")
            .join(format!("{name}.yml"));
        assert_eq!(o.stdout, std::fs::read_to_string(file).unwrap());
    }
}

#[test]
fn the_simulator_runs_the_same_grid_in_virtual_time() {
    let sb = Sandbox::new();
    let file = sb.write(
        "sim.yml",
        "target: simulate\nworkload:\n  functions: [{name: f, cpu_ms: 5}]\n  pattern: sequential\n  count: 20\n  gap: 5s\nfactors:\n  keepalive.idle_timeout: [500ms, 10m]\n",
    );
    let out = sb.join("sim");
    sb.run([
        "experiment",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ])
    .expect_code(0);
    // Invocations 5 s apart: with a 500 ms idle timeout every one is cold, with 10 minutes
    // only the first.
    // The simulator's invocations.csv has a `queued` column more than inject's.
    let colds = |dir: &str| -> (usize, usize) {
        let mut r = csv::Reader::from_path(out.join(dir).join("invocations.csv")).unwrap();
        let col = r
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "cold")
            .unwrap();
        let cells: Vec<String> = r
            .records()
            .map(|x| x.unwrap().get(col).unwrap().to_string())
            .collect();
        (cells.len(), cells.iter().filter(|c| *c == "true").count())
    };
    assert_eq!(colds("p01-keepalive.idle_timeout=500ms/rep1"), (20, 20));
    assert_eq!(colds("p02-keepalive.idle_timeout=10m/rep1"), (20, 1));
    assert!(std::fs::read_to_string(out.join("manifest.json"))
        .unwrap()
        .contains("\"target\": \"simulate\""));
}
