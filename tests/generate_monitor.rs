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

fn generate(
    sb: &Sandbox,
    cfg: &Path,
    out: &Path,
    extra: &[&std::ffi::OsStr],
) -> inject_support::Outcome {
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

/// Every row measured, within bounds that hold however busy the machine is: the measured CPU
/// at least the burn and at most the window's wall time, the peak at least the touched
/// memory. How well the CPU figure follows the inputs is printed, not asserted: on a busy VM
/// the page faults' system time inflates many times over (R² fell to 0.49 at load 20), so
/// the exact check is against the action's own clock ([`check_cpu_against_the_action`]).
fn check_resources(d: &Dataset) {
    let c = |n| d.col(n);
    let (p_cpu, p_mem, cpu, peak, mean, duration) = (
        c("p.cpu_ms"),
        c("p.mem_mb"),
        c("cpu_ms"),
        c("mem_peak_bytes"),
        c("mem_mean_bytes"),
        c("duration_ms"),
    );
    let points: Vec<(f64, f64, f64)> = d
        .rows
        .iter()
        .map(|r| {
            assert_eq!(r[c("outcome")], "success", "{r:?}");
            assert_eq!(r[c("mem_peak_exact")], "true", "{r:?}");
            assert!(
                ["true", "false"].contains(&r[c("monitor_missed")].as_str()),
                "{r:?}"
            );
            assert!(
                ["true", "false"].contains(&r[c("cpu_exact")].as_str()),
                "{r:?}"
            );
            let (want_cpu, want_mem) = (num(r, p_cpu), num(r, p_mem));
            let (got_cpu, got_peak) = (num(r, cpu), num(r, peak));
            // At least the burn (an interpolated edge is off by up to a tick, 4 ms at
            // HZ=250); at most what one single-threaded process can use in its window.
            let wall = num(r, duration);
            assert!(
                got_cpu >= want_cpu - 4.0 && got_cpu <= wall + 5.0,
                "cpu {got_cpu} ms for cpu_ms {want_cpu} in {wall} ms: {r:?}"
            );
            assert!(
                got_peak >= want_mem * MIB - 256.0 * 1024.0
                    && got_peak <= want_mem * MIB + 12.0 * MIB,
                "peak {got_peak} for mem_mb {want_mem}: {r:?}"
            );
            assert!(num(r, mean) <= got_peak, "{r:?}");
            (want_cpu, want_mem, got_cpu)
        })
        .collect();
    let (coef, r2) = least_squares(&points);
    eprintln!(
        "{} rows: cpu_ms ≈ {:.2} + {:.3}·p.cpu_ms + {:.3}·p.mem_mb, R² {r2:.4} (printed, not checked)",
        d.rows.len(),
        coef[0],
        coef[1],
        coef[2]
    );
}

/// The monitor's CPU figure of each warm run against the ground truth taken in the same
/// conditions: the action's own process CPU clock over its run (`process_cpu_ns` in the
/// activation's result, page faults included), read back from the platform. Both count the
/// same scheduler time, so a busy machine inflates both alike. What may differ: each window
/// edge read or interpolated between samples `period_ms` apart, lagging by up to a tick
/// (4 ms at HZ=250), and the runtime's own handling of the request. Cold runs are left out:
/// their window also holds the runtime's start-up, which the action's clock does not see.
fn check_cpu_against_the_action(
    d: &Dataset,
    platform: &inject_support::PlatformProcess,
    period_ms: f64,
) {
    let c = |n| d.col(n);
    let (cpu, cold, id) = (c("cpu_ms"), c("cold"), c("activation_id"));
    let mut checked = 0;
    let mut worst: f64 = 0.0;
    for r in d.rows.iter().filter(|r| r[cold] == "false") {
        let activation = get_json(
            platform,
            &format!("/api/v1/namespaces/_/activations/{}", r[id]),
        );
        let truth = activation["response"]["result"]["process_cpu_ns"]
            .as_f64()
            .unwrap_or_else(|| panic!("no process_cpu_ns in {activation}"))
            / 1e6;
        let got = num(r, cpu);
        let slack = 2.0 * (period_ms + 4.0) + 1.0 + 0.05 * truth;
        assert!(
            (got - truth).abs() <= slack,
            "monitor {got:.2} ms, the action's own clock {truth:.2} ms (slack {slack:.1}): {r:?}"
        );
        worst = worst.max((got - truth).abs());
        checked += 1;
    }
    eprintln!("{checked} warm runs: monitor within {worst:.2} ms of the action's own CPU clock");
    assert!(
        checked >= d.rows.len() / 2,
        "{checked} warm runs of {}",
        d.rows.len()
    );
}

/// GET `path` from a `gale platform` process with its key: the body as JSON (HTTP/1.1 over a
/// plain socket: one request, `Connection: close`).
fn get_json(platform: &inject_support::PlatformProcess, path: &str) -> serde_json::Value {
    use base64::Engine;
    use std::io::{Read, Write};
    let addr = platform.apihost.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the platform");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(&platform.key);
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).expect("reply");
    let reply = String::from_utf8_lossy(&reply);
    let (head, body) = reply.split_once("\r\n\r\n").expect("a header");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    // Bodies may come chunked: take the JSON object between the first `{` and the last `}`.
    let (from, to) = (
        body.find('{').expect("JSON"),
        body.rfind('}').expect("JSON"),
    );
    serde_json::from_str(&body[from..=to]).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// Least squares of z on (1, x, y): the coefficients and R².
fn least_squares(points: &[(f64, f64, f64)]) -> ([f64; 3], f64) {
    let mut a = [[0.0f64; 4]; 3];
    for &(x, y, z) in points {
        let terms = [1.0, x, y];
        for (line, ti) in a.iter_mut().zip(terms) {
            for (v, tj) in line.iter_mut().zip(terms) {
                *v += ti * tj;
            }
            line[3] += ti * z;
        }
    }
    // Gauss-Jordan on the 3×3 normal equations.
    for col in 0..3 {
        let pivot = (col..3)
            .max_by(|&p, &q| a[p][col].abs().total_cmp(&a[q][col].abs()))
            .unwrap();
        a.swap(col, pivot);
        let pivot_row = a[col];
        for (r, row) in a.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (v, p) in row.iter_mut().zip(pivot_row).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    let coef = [a[0][3] / a[0][0], a[1][3] / a[1][1], a[2][3] / a[2][2]];
    let n = points.len() as f64;
    let mean = points.iter().map(|p| p.2).sum::<f64>() / n;
    let (mut ss_res, mut ss_tot) = (0.0, 0.0);
    for &(x, y, z) in points {
        let fit = coef[0] + coef[1] * x + coef[2] * y;
        ss_res += (z - fit).powi(2);
        ss_tot += (z - mean).powi(2);
    }
    (coef, 1.0 - ss_res / ss_tot)
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
        assert_eq!(
            end.stderr.matches("monitor: none (").count(),
            1,
            "{}",
            end.stderr
        );
        let d = Dataset::read(&out);
        assert!(d.column("cpu_ms").iter().all(|c| c.is_empty()));
        return;
    }
    let end = generate(&sb, &cfg, &out, &["--samples".as_ref()]);
    end.expect_code(0);
    assert!(end.stderr.contains("monitor: in-process"), "{}", end.stderr);
    assert!(
        end.stderr
            .contains("monitor: 60 of 60 activations measured"),
        "{}",
        end.stderr
    );
    let d = Dataset::read(&out);
    assert_eq!(d.rows.len(), 25 * 2 + 10);
    check_resources(&d);
    let (f, cold) = (d.col("function"), d.col("cold"));
    for r in d.rows.iter().filter(|r| r[f] == "cold") {
        assert_eq!(r[cold], "true", "{r:?}");
    }
    let lines = check_samples(&out);
    assert!(lines >= d.rows.len(), "{lines} sample lines");
    let run = std::fs::read_to_string(out.join("run.yaml")).unwrap();
    assert!(run.contains("kind: in-process"), "{run}");
}

/// The deployment the monitor is built for: `gale platform`, `gale monitor` and `gale
/// generate` as three processes, the platform telling the monitor of its containers over the
/// events socket; every warm run's CPU figure checked against the action's own clock.
#[test]
fn gale_monitor_over_its_socket_measures_the_rows_of_a_separate_platform() {
    require_platform_cgroups!();
    let sb = Sandbox::new();
    let events = sb.join("events.sock");
    let msock = sb.join("monitor.sock");
    let platform = inject_support::PlatformProcess::start(
        &sb,
        &["--events", events.to_str().expect("UTF-8 path")],
    );
    // gale deploys synthetic functions only on the platform it starts itself.
    platform.deploy_synthetic("f");
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
            "--apihost".as_ref(),
            platform.apihost.as_ref(),
            "--auth".as_ref(),
            platform.key.as_ref(),
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
    check_cpu_against_the_action(&d, &platform, 5.0);
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
        &[
            "--samples".as_ref(),
            "--platform-config".as_ref(),
            pcfg.as_os_str(),
        ],
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
