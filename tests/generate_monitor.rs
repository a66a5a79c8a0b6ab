//! `gale generate` with resource measurements: the in-process monitor on the embedded
//! platform's cgroups, a `gale monitor` daemon over its socket, the raw samples side file,
//! and the refusals when no monitor can be had.

mod generate_support;
mod inject_support;
mod monitor_support;

use std::path::Path;
use std::time::Duration;

use generate_support::{check_samples, Dataset};
use inject_support::Sandbox;

const MIB: f64 = (1 << 20) as f64;

fn generate(sb: &Sandbox, cfg: &Path, out: &Path, extra: &[&std::ffi::OsStr]) -> inject_support::Outcome {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "generate".as_ref(),
        cfg.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--no-progress".as_ref(),
    ];
    args.extend(extra);
    sb.run(args)
}

fn num(row: &[String], i: usize) -> f64 {
    row[i]
        .parse()
        .unwrap_or_else(|_| panic!("column {i} is not a number in {row:?}"))
}

/// Every row measured, the measured CPU and memory following the sampled `cpu_ms` and
/// `mem_mb` of gale's synthetic action.
fn check_resources(d: &Dataset) {
    let c = |n| d.col(n);
    let (p_cpu, p_mem, cpu, peak, mean) = (
        c("p.cpu_ms"),
        c("p.mem_mb"),
        c("cpu_ms"),
        c("mem_peak_bytes"),
        c("mem_mean_bytes"),
    );
    let (pairs_x, pairs_y): (Vec<f64>, Vec<f64>) = d
        .rows
        .iter()
        .map(|r| {
            assert_eq!(r[c("outcome")], "success", "{r:?}");
            assert_eq!(r[c("mem_peak_exact")], "true", "{r:?}");
            assert_eq!(r[c("monitor_missed")], "false", "{r:?}");
            let (want_cpu, want_mem) = (num(r, p_cpu), num(r, p_mem));
            let (got_cpu, got_peak) = (num(r, cpu), num(r, peak));
            // The burn, plus faulting the memory in (system time of the same cgroup): a
            // debug-build runtime takes about 0.5 ms per MiB here.
            assert!(
                got_cpu >= want_cpu - 1.0 && got_cpu <= want_cpu + 0.8 * want_mem + 15.0,
                "cpu {got_cpu} ms for cpu_ms {want_cpu}, mem_mb {want_mem}: {r:?}"
            );
            assert!(
                got_peak >= want_mem * MIB - 256.0 * 1024.0
                    && got_peak <= want_mem * MIB + 12.0 * MIB,
                "peak {got_peak} for mem_mb {want_mem}: {r:?}"
            );
            assert!(num(r, mean) <= got_peak, "{r:?}");
            (want_cpu, got_cpu)
        })
        .unzip();
    let r = pearson(&pairs_x, &pairs_y);
    eprintln!("{} rows; correlation of measured and sampled cpu_ms: {r:.4}", d.rows.len());
    assert!(r > 0.9, "measured CPU does not follow the sampled cpu_ms: r = {r}");
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

#[test]
fn the_monitored_example_runs_and_measures_every_row() {
    let sb = Sandbox::new();
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/generator-monitored.yml");
    let out = sb.join("ds");
    if let Err(why) = monitor_support::platform_cgroups() {
        // The example still runs; it says once why nothing is measured.
        eprintln!("no cgroups here ({why}): checking the unmeasured run only");
        let end = generate(&sb, &cfg, &out, &[]);
        end.expect_code(0);
        assert_eq!(end.stderr.matches("monitor: none (").count(), 1, "{}", end.stderr);
        let d = Dataset::read(&out);
        assert!(d.column("cpu_ms").iter().all(|c| c.is_empty()));
        return;
    }
    let end = generate(&sb, &cfg, &out, &["--samples".as_ref()]);
    end.expect_code(0);
    assert!(end.stderr.contains("monitor: in-process"), "{}", end.stderr);
    assert!(
        end.stderr.contains("monitor: 60 of 60 activations measured"),
        "{}",
        end.stderr
    );
    let d = Dataset::read(&out);
    assert_eq!(d.rows.len(), 25 * 2 + 10);
    check_resources(&d);
    // Cold starts are measured from their cgroup's creation: covered, edges read.
    let (f, cold, exact) = (d.col("function"), d.col("cold"), d.col("cpu_exact"));
    for r in d.rows.iter().filter(|r| r[f] == "cold") {
        assert_eq!((r[cold].as_str(), r[exact].as_str()), ("true", "true"), "{r:?}");
    }
    let lines = check_samples(&out);
    assert!(lines >= d.rows.len(), "{lines} sample lines");
    let run = std::fs::read_to_string(out.join("run.yaml")).unwrap();
    assert!(run.contains("kind: in-process"), "{run}");
}

#[test]
fn gale_monitor_over_its_socket_measures_the_rows() {
    require_platform_cgroups!();
    let sb = Sandbox::new();
    let events = sb.join("events.sock");
    let msock = sb.join("monitor.sock");
    let pcfg = sb.write("platform.yml", &format!("events: {}\n", events.display()));
    let cfg = sb.write(
        "gen.yml",
        "seed: 3\nfunctions:\n  - name: f\n    runs: 12\n    space:\n      \
         cpu_ms: {uniform: [5, 30]}\n      mem_mb: {int: [8, 40]}\n",
    );
    let monitor = sb.spawn({
        let mut c = sb.gale(["monitor", "--period", "5ms", "--events"]);
        c.arg(&events).arg("--socket").arg(&msock);
        c
    });
    monitor_support::wait_for(Duration::from_secs(10), || msock.exists().then_some(()))
        .expect("monitor socket");
    let out = sb.join("ds");
    let end = generate(
        &sb,
        &cfg,
        &out,
        &[
            "--platform-config".as_ref(),
            pcfg.as_os_str(),
            "--monitor".as_ref(),
            msock.as_os_str(),
            "--samples".as_ref(),
        ],
    );
    end.expect_code(0);
    assert!(
        end.stderr
            .contains(&format!("monitor: gale monitor at {}", msock.display())),
        "{}",
        end.stderr
    );
    let d = Dataset::read(&out);
    assert_eq!(d.rows.len(), 12);
    check_resources(&d);
    check_samples(&out);
    monitor.signal(libc::SIGTERM);
    monitor.wait(Duration::from_secs(10)).expect_code(0);
}

#[test]
fn samples_need_a_monitor_and_a_resume_keeps_the_side_file_it_started_with() {
    let sb = Sandbox::new();
    let cfg = sb.write(
        "gen.yml",
        "functions:\n  - {name: f, runs: 3, space: {cpu_ms: {uniform: [0.1, 1]}}}\n",
    );
    let end = generate(
        &sb,
        &cfg,
        &sb.join("a"),
        &["--samples".as_ref(), "--no-monitor".as_ref()],
    );
    end.expect_code(2);
    assert!(end.stderr.contains("--no-monitor"), "{}", end.stderr);
    assert!(!sb.join("a").exists());

    let pcfg = sb.write("platform.yml", "cgroups: false\n");
    let end = generate(
        &sb,
        &cfg,
        &sb.join("b"),
        &["--samples".as_ref(), "--platform-config".as_ref(), pcfg.as_os_str()],
    );
    end.expect_code(2);
    assert!(
        end.stderr.contains("this run has no monitor") && end.stderr.contains("cgroups: false"),
        "{}",
        end.stderr
    );
    assert!(!sb.join("b").exists(), "nothing written");

    // A finished run without samples cannot grow a side file on resume.
    let c = sb.join("c");
    generate(&sb, &cfg, &c, &["--no-monitor".as_ref()]).expect_code(0);
    let end = generate(&sb, &cfg, &c, &["--resume".as_ref(), "--samples".as_ref()]);
    end.expect_code(2);
    assert!(end.stderr.contains("without --samples"), "{}", end.stderr);
    assert!(!c.join("samples.csv").exists());
}
