//! Arrival profiles in YAML traces (the examples in traces/profiles/): each expands to the
//! rate it describes (statistical checks with fixed seeds, at 4 standard deviations), is
//! the same for the same seed, and bad profiles are refused with file, line and field.

use std::path::{Path, PathBuf};

use gale::trace::{self, OpenOptions};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("traces/profiles")
        .join(name)
}

fn times(path: &Path, seed: Option<u64>) -> Vec<f64> {
    trace::open(path, &OpenOptions { seed })
        .unwrap()
        .rows
        .map(|r| r.unwrap().at_ns as f64 / 1e9)
        .collect()
}

fn count(t: &[f64], a: f64, b: f64) -> f64 {
    t.iter().filter(|&&x| x >= a && x < b).count() as f64
}

fn close(obs: f64, exp: f64) -> bool {
    (obs - exp).abs() <= 4.0 * exp.sqrt().max(1.0)
}

#[test]
fn profile_ramp_sine_and_diurnal_follow_their_rates() {
    let t = times(&example("ramp.yaml"), None);
    // rate(t) = 2 + 38 t/60: Λ over [a, b) = 2(b−a) + 38/120 (b² − a²).
    for (a, b) in [(0.0, 20.0), (20.0, 40.0), (40.0, 60.0)] {
        let exp = 2.0 * (b - a) + 38.0 / 120.0 * (b * b - a * a);
        assert!(
            close(count(&t, a, b), exp),
            "ramp [{a},{b}): {} vs {exp}",
            count(&t, a, b)
        );
    }
    let s = times(&example("sine.yaml"), None);
    assert!(close(s.len() as f64, 2400.0), "{}", s.len());
    let high: f64 = (0..4)
        .map(|k| count(&s, 30.0 * k as f64, 30.0 * k as f64 + 15.0))
        .sum();
    let exp_high = 4.0 * 20.0 * 15.0 * (1.0 + 0.8 * 2.0 / std::f64::consts::PI);
    assert!(close(high, exp_high), "{high} vs {exp_high}");
    let d = times(&example("diurnal.yaml"), None);
    // Busiest around 14 h, quietest around 2 h.
    let busy = count(&d, 13.0 * 3600.0, 15.0 * 3600.0);
    let quiet = count(&d, 1.0 * 3600.0, 3.0 * 3600.0);
    assert!(busy > 10.0 * quiet, "{busy} vs {quiet}");
    assert!(close(d.len() as f64, 2.0 * 86_400.0));
}

#[test]
fn profile_bursts_mmpp_and_files() {
    let o = times(&example("onoff.yaml"), None);
    assert!(o.iter().all(|x| x % 15.0 < 5.0));
    // Constant gaps while on: one arrival per 1/30 s of on time, the first at Λ = 1 (1/30 s),
    // the 150th due at the end of the first burst, so sent at the start of the next: 8
    // bursts in 120 s, 150 rows each but the first's 149.
    assert_eq!(o.len(), 8 * 150 - 1);
    assert!(o.contains(&15.0));
    let m = times(&example("mmpp.yaml"), None);
    let (lo, hi) = (
        (0..300)
            .filter(|s| count(&m, *s as f64, *s as f64 + 1.0) <= 6.0)
            .count(),
        (0..300)
            .filter(|s| count(&m, *s as f64, *s as f64 + 1.0) >= 25.0)
            .count(),
    );
    assert!(lo > 100 && hi > 20, "quiet seconds {lo}, busy seconds {hi}");
    assert_eq!(m, times(&example("mmpp.yaml"), None));
    assert_ne!(m, times(&example("mmpp.yaml"), Some(4)));
    let f = times(&example("file.yaml"), None);
    for (a, b, r) in [
        (0.0, 20.0, 5.0),
        (20.0, 40.0, 25.0),
        (40.0, 60.0, 10.0),
        (60.0, 80.0, 40.0),
        (90.0, 120.0, 15.0),
    ] {
        assert!(close(count(&f, a, b), r * (b - a)), "[{a},{b})");
    }
    assert_eq!(count(&f, 80.0, 90.0), 0.0);
}

fn error_of(yaml: &str, extra: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in extra {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let p = dir.path().join("t.yaml");
    std::fs::write(&p, yaml).unwrap();
    match trace::open(&p, &OpenOptions::default()) {
        Err(e) => e.to_string(),
        Ok(mut t) => t
            .rows
            .find_map(|r| r.err())
            .map(|e| e.to_string())
            .unwrap_or_default(),
    }
}

#[test]
fn profile_errors_are_located() {
    let e = error_of("arrivals:\n  - {function: f, rate: 2, duration: 5s, profile: {kind: sine, period: 10s, amplitude: 1.5}}\n", &[]);
    assert!(
        e.contains("t.yaml:2:") && e.contains("field `amplitude`"),
        "{e}"
    );
    let e = error_of("arrivals:\n  - {function: f, duration: 5s, profile: {kind: mmpp, rates: [1, 2], sojourn: [1s]}}\n", &[]);
    assert!(e.contains("field `rates`") && e.contains("as many"), "{e}");
    let e = error_of("arrivals:\n  - {function: f, duration: 5s, profile: {kind: onoff, on_time: 1s, off_time: 1s}}\n", &[]);
    assert!(e.contains("field `rate`"), "{e}");
    let e = error_of(
        "arrivals:\n  - {function: f, rate: 1, duration: 5s, profile: {kind: wave}}\n",
        &[],
    );
    assert!(e.contains("t.yaml:2") && e.contains("wave"), "{e}");
    let e = error_of(
        "arrivals:\n  - {function: f, duration: 5s, profile: {kind: file, path: r.csv}}\n",
        &[("r.csv", "t,rate\n0,1\n2,x\n")],
    );
    assert!(e.contains("r.csv:3:2: field `rate`"), "{e}");
    let e = error_of(
        "arrivals:\n  - {function: f, duration: 5s, profile: {kind: file, path: r.csv}}\n",
        &[("r.csv", "t,rate\n3,1\n2,1\n")],
    );
    assert!(e.contains("r.csv:3:1") && e.contains("increase"), "{e}");
}
