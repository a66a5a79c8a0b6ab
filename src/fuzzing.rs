//! Parse-from-bytes entry points for the fuzz targets in `fuzz/` and the no-panic property
//! tests (tests/parsers_never_panic.rs): one per parser an outsider can reach. Each takes
//! arbitrary bytes; errors are expected, panics and hangs are bugs. The trace readers' own
//! entry points are in [`crate::trace::fuzzing`].

use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::trace::input::Input;

fn input(name: &str, data: &[u8]) -> Input {
    Input::Bytes {
        name: name.into(),
        data: Arc::from(data),
    }
}

/// `data` as a platform config file (config/platform.yml).
pub fn platform_config(data: &[u8]) -> bool {
    let Ok(mut config) = crate::platform::PlatformConfig::new() else {
        return false;
    };
    crate::config::platform_file::load_input(input("fuzz/platform.yml", data), &mut config).is_ok()
}

/// `data` as an experiment file (config/experiments/), then its grid at full and at a small
/// scale, and the trace of each point's built-in workload. Relative files it names resolve in
/// a directory that does not exist.
pub fn experiment_config(data: &[u8]) -> bool {
    let Ok(e) =
        crate::config::experiment::load_input(input("/nonexistent-gale-fuzz/exp.yml", data))
    else {
        return false;
    };
    for scale in [1.0, 0.01] {
        // A grid is the product of the factors' values: only a small one is expanded here.
        let points: usize = e.factors.iter().map(|f| f.values.len().max(1)).product();
        if points > 64 {
            return true;
        }
        if let Ok(grid) = crate::experiment::grid::points(&e, scale) {
            for p in &grid {
                if let crate::config::experiment::WorkloadSource::Builtin(w) = &p.workload {
                    if w.count <= 10_000 && (w.duration as f64 * w.rate) < 1e13 {
                        let _ = crate::experiment::workload::trace_text(w, e.blocking);
                    }
                }
            }
        }
    }
    true
}

/// `data` as a generator config. Relative files it names resolve in a directory that does
/// not exist, so nothing outside is read through them.
pub fn generator_config(data: &[u8]) -> bool {
    crate::generate::config::load_input(input("/nonexistent-gale-fuzz/gen.yml", data), None).is_ok()
}

/// `data` as a generator checkpoint.
pub fn checkpoint(data: &[u8]) -> bool {
    crate::generate::checkpoint::parse(Path::new("fuzz/checkpoint.json"), data, "fp").is_ok()
}

/// `data` as an activation record, through the fast scanner and serde_json; `Err` when the
/// two read it differently (the scanner must agree whenever it accepts).
pub fn activation(data: &[u8]) -> Result<bool, String> {
    crate::backend::Activation::check_scanner(data).map(|a| a.is_some())
}

/// `data` as cgroup control files (single numbers, keyed files) and as a mountinfo table.
pub fn cgroup_files(data: &[u8]) -> usize {
    let mut n = 0;
    if crate::cgroup::parse_single(data).is_some() {
        n += 1;
    }
    for key in ["usage_usec", "total_rss", "file", "anon", "nr_periods", ""] {
        if crate::cgroup::parse_keyed(data, key).is_some() {
            n += 1;
        }
    }
    let mounts = crate::cgroup::Mounts::from_mountinfo(&String::from_utf8_lossy(data));
    let _ = mounts.mode();
    for c in ["memory", "cpuacct", "freezer", "pids"] {
        if mounts.v1_controller(c).is_some() {
            n += 1;
        }
    }
    n + mounts.unified_controllers().len()
}

/// `data` as lines sent to the monitor's socket (each answered by one monitor shared by all
/// calls, as one daemon answers every client).
pub fn monitor_request(data: &[u8]) -> usize {
    static MONITOR: OnceLock<Option<crate::monitor::MonitorHandle>> = OnceLock::new();
    let Some(m) = MONITOR
        .get_or_init(|| crate::monitor::Monitor::start(Default::default()).ok())
        .as_ref()
    else {
        return 0;
    };
    let mut reader =
        crate::monitor::server::LineReader::new(data, crate::monitor::server::MAX_LINE);
    let mut answered = 0;
    while let Ok(line) = reader.read_line() {
        match line {
            crate::monitor::server::Line::Complete => {
                let reply = crate::monitor::server::answer(m, &reader.line);
                answered += usize::from(reply["ok"] == true);
            }
            crate::monitor::server::Line::TooLong => {}
            crate::monitor::server::Line::Eof => break,
        }
    }
    answered
}

/// `data` as the bodies and query strings of the platform's REST API.
pub fn platform_request(data: &[u8]) -> usize {
    crate::platform::api::fuzz_bodies(data)
}
