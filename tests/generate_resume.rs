//! `gale generate` interrupted and resumed on the embedded platform: SIGINT, SIGTERM and
//! SIGKILL at seeded random moments, then the resumed dataset compared row for row with an
//! uninterrupted run of the same config, and the raw samples side file checked against it
//! (no run's samples lost, repeated or left from a cut run).

mod generate_support;
mod inject_support;
mod monitor_support;

use std::path::Path;
use std::time::{Duration, Instant};

use generate_support::{check_samples, checkpoint_state, Dataset};
use inject_support::Sandbox;

/// About 260 tiny rows: memory variants, a cold start per run, input files, every sampler.
fn config(sb: &Sandbox) -> std::path::PathBuf {
    std::fs::create_dir_all(sb.join("in/test")).unwrap();
    std::fs::create_dir_all(sb.join("in/small")).unwrap();
    sb.write("in/test/t.txt", "t\n");
    sb.write("in/small/a.txt", &"a".repeat(700));
    sb.write("in/small/b.txt", &"b".repeat(900));
    sb.write(
        "gen.yml",
        "seed: 4242\norder: shuffled\nfunctions:\n\
         - name: a\n  runs: 60\n  memory_mb: [128, 256]\n  params: {sleep_ms: 1}\n  space:\n    \
           cpu_ms: {uniform: [0.2, 2]}\n    mem_mb: {int: [1, 4]}\n\
         - name: b\n  runs: 100\n  space:\n    cpu_ms: {log_uniform: [0.1, 2]}\n    \
           x: {normal: {mean: 0, std: 1}}\n    mode: {choice: [p, q, r], weights: [1, 2, 3]}\n\
         - name: c\n  runs: 40\n  cold_start: true\n  inputs:\n    pass: content\n    \
           classes: {test: [in/test], small: [in/small]}\n",
    )
}

const TOTAL: usize = 60 * 2 + 100 + 40;

/// A tiny seeded generator for the kill schedule (reproducible, no dependency).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// Run `cfg` into `out` with `--resume` and `extra`, killing it `kills` times with SIGINT,
/// SIGTERM and SIGKILL in turn (each of them mid-run and at start-up over ten kills) at
/// seeded random moments, then resume it to its end. Checks after every clean stop that the
/// files hold exactly what the checkpoint counts, and after every kill that the dataset is
/// whole rows. Returns how many kills landed mid-run.
fn interrupt_repeatedly(
    sb: &Sandbox,
    cfg: &Path,
    out: &Path,
    extra: &[&str],
    kills: usize,
    total: usize,
) -> usize {
    let mut lcg = Lcg(0x5eed);
    let signals = [libc::SIGINT, libc::SIGTERM, libc::SIGKILL];
    let mut interrupted = 0;
    let mut finished = false;
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "generate".as_ref(),
        cfg.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--resume".as_ref(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    for attempt in 0..kills {
        let before = rows_in(out);
        let sig = signals[attempt % 3];
        let mut cmd = sb.gale(&args);
        cmd.args(["--checkpoint-every", "7"]);
        let running = sb.spawn(cmd);
        // Every fourth kill lands at a random moment of start-up; the others once the run has
        // written a new row, a random 0-250 ms later (mid-run, whatever the machine's speed).
        if attempt % 4 == 3 {
            std::thread::sleep(Duration::from_millis(lcg.next() % 150));
        } else {
            running.wait_for_stderr("from row", Duration::from_secs(20));
            let start_len = dataset_len(out);
            let until = Instant::now() + Duration::from_secs(20);
            while dataset_len(out) <= start_len && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(2));
            }
            std::thread::sleep(Duration::from_millis(lcg.next() % 250));
        }
        running.signal(sig);
        let end = running.wait(Duration::from_secs(30));
        if end.status.success() {
            finished = true;
            break;
        }
        match sig {
            libc::SIGKILL => assert_eq!(
                std::os::unix::process::ExitStatusExt::signal(&end.status),
                Some(libc::SIGKILL)
            ),
            _ => {
                end.expect_code(130);
                // A clean stop leaves exactly the checkpointed rows (and samples).
                let state = checkpoint_state(out);
                let len = |f: &str| std::fs::metadata(out.join(f)).unwrap().len();
                assert_eq!(
                    state["dataset_bytes"].as_u64(),
                    Some(len("dataset.csv")),
                    "attempt {attempt}"
                );
                if let Some(n) = state["samples_bytes"].as_u64() {
                    assert_eq!(n, len("samples.csv"), "attempt {attempt}");
                }
            }
        }
        if out.join("dataset.csv").exists() {
            // Whole rows only, whatever the signal (a SIGKILL may leave rows past the
            // checkpoint: resume trims them).
            let now = Dataset::read(out).rows.len();
            if now > before && now < total {
                interrupted += 1;
            }
        }
    }
    if !finished {
        sb.run(&args).expect_code(0);
    }
    eprintln!("{interrupted} of {kills} kills landed mid-run");
    interrupted
}

/// `got` has exactly the run ids and inputs of the uninterrupted `expected`.
fn assert_same_runs(got: &Dataset, expected: &Dataset, total: usize) {
    assert_eq!(got.header, expected.header);
    assert_eq!(got.rows.len(), total, "row count");
    let ids: Vec<String> = (0..total).map(|i| i.to_string()).collect();
    assert_eq!(
        got.column("run_id"),
        ids,
        "run ids: none lost, none repeated"
    );
    for (i, (g, e)) in got.inputs().iter().zip(expected.inputs()).enumerate() {
        assert_eq!(g, &e, "row {i}: inputs differ from the uninterrupted run");
    }
    assert!(got.column("outcome").iter().all(|o| *o == "success"));
}

#[test]
fn killed_and_resumed_runs_equal_an_uninterrupted_run() {
    let sb = Sandbox::new();
    let cfg = config(&sb);
    let reference = sb.join("reference");
    sb.run([
        "generate".as_ref(),
        cfg.as_os_str(),
        "--out".as_ref(),
        reference.as_os_str(),
    ])
    .expect_code(0);
    let expected = Dataset::read(&reference);
    assert_eq!(expected.rows.len(), TOTAL);

    let out = sb.join("interrupted");
    let interrupted = interrupt_repeatedly(&sb, &cfg, &out, &[], 10, TOTAL);
    assert!(interrupted >= 5, "only {interrupted} kills landed mid-run");
    assert_same_runs(&Dataset::read(&out), &expected, TOTAL);
    let state = checkpoint_state(&out);
    assert_eq!(state["finished"], true);
    assert_eq!(state["counters"]["rows"].as_u64(), Some(TOTAL as u64));
}

#[test]
fn killed_and_resumed_runs_keep_the_samples_side_file_exact() {
    require_platform_cgroups!();
    let sb = Sandbox::new();
    let cfg = sb.write(
        "gen.yml",
        "seed: 99\norder: interleaved\nfunctions:\n\
         - name: a\n  runs: 30\n  memory_mb: [128, 256]\n  space:\n    \
           cpu_ms: {uniform: [0.5, 4]}\n    mem_mb: {int: [1, 8]}\n    sleep_ms: {uniform: [0, 15]}\n\
         - name: c\n  runs: 15\n  cold_start: true\n  space:\n    cpu_ms: {uniform: [0.5, 3]}\n",
    );
    let total = 30 * 2 + 15;
    let reference = sb.join("reference");
    sb.run([
        "generate".as_ref(),
        cfg.as_os_str(),
        "--out".as_ref(),
        reference.as_os_str(),
        "--samples".as_ref(),
    ])
    .expect_code(0);
    let expected = Dataset::read(&reference);
    check_samples(&reference);

    let out = sb.join("interrupted");
    let interrupted = interrupt_repeatedly(&sb, &cfg, &out, &["--samples"], 9, total);
    assert!(interrupted >= 5, "only {interrupted} kills landed mid-run");
    let got = Dataset::read(&out);
    assert_same_runs(&got, &expected, total);
    // Every measured run has its samples once, in run order; nothing of a cut run is left.
    let lines = check_samples(&out);
    assert!(lines >= total, "{lines} sample lines for {total} runs");
    let (cpu, error) = (got.col("cpu_ms"), got.col("error"));
    let unmeasured: Vec<&Vec<String>> = got.rows.iter().filter(|r| r[cpu].is_empty()).collect();
    assert!(unmeasured.is_empty(), "unmeasured rows: {unmeasured:?}");
    let _ = error;
    let state = checkpoint_state(&out);
    assert_eq!(
        state["samples_bytes"].as_u64(),
        Some(std::fs::metadata(out.join("samples.csv")).unwrap().len())
    );
}

fn dataset_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("dataset.csv")).map_or(0, |m| m.len())
}

fn rows_in(dir: &Path) -> usize {
    if dir.join("dataset.csv").exists() {
        Dataset::read(dir).rows.len()
    } else {
        0
    }
}

#[test]
fn one_signal_finishes_the_run_in_flight_a_second_abandons_it() {
    let sb = Sandbox::new();
    let cfg = sb.write(
        "slow.yml",
        "functions:\n  - {name: slow, runs: 2, params: {sleep_ms: 1500}, space: {k: {int: [0, 9]}}}\n",
    );
    let out = sb.join("out");
    let args = [
        "generate".as_ref(),
        cfg.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--resume".as_ref(),
    ];

    // One SIGINT during row 0: the row completes and is kept.
    let running = sb.spawn(sb.gale(args));
    running.wait_for_stderr("INFO deployed ", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    running.signal(libc::SIGINT);
    let end = running.wait(Duration::from_secs(20));
    end.expect_code(130);
    assert!(end.stderr.contains("--resume"), "{}", end.stderr);
    assert_eq!(Dataset::read(&out).rows.len(), 1);

    // Two SIGINTs during row 1: it is abandoned at once, not written.
    let running = sb.spawn(sb.gale(args));
    running.wait_for_stderr("INFO deployed ", Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(300));
    running.signal(libc::SIGINT);
    std::thread::sleep(Duration::from_millis(50));
    let second = Instant::now();
    running.signal(libc::SIGINT);
    let end = running.wait(Duration::from_secs(20));
    end.expect_code(130);
    assert!(
        second.elapsed() < Duration::from_millis(1200),
        "the second signal must not wait for the 1.5 s row"
    );
    assert_eq!(Dataset::read(&out).rows.len(), 1);
    assert_eq!(checkpoint_state(&out)["cursor"]["next_row"], 1);

    // Resume runs row 1 with the input it would have had.
    sb.run(args).expect_code(0);
    let d = Dataset::read(&out);
    assert_eq!(d.column("run_id"), ["0", "1"]);
    let reference = sb.join("ref");
    let fast = sb.write(
        "fast.yml",
        "functions:\n  - {name: slow, runs: 2, params: {sleep_ms: 1500}, space: {k: {int: [0, 9]}}}\n",
    );
    sb.run([
        "generate".as_ref(),
        fast.as_os_str(),
        "--out".as_ref(),
        reference.as_os_str(),
    ])
    .expect_code(0);
    assert_eq!(d.inputs(), Dataset::read(&reference).inputs());
}
