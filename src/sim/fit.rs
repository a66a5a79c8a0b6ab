//! `--profile-from DIR`: a profile fitted from a gale result directory's invocations.csv
//! (a few minutes measured on the real platform, then simulate weeks).
//!
//! Per function, from its successful activations: `start` is the empirical distribution of
//! the cold starts' `init_ms` (on gale's platform and OpenWhisk, `initTime` runs from the
//! container's start to ready, so it holds both the process start and the code injection;
//! `init` is therefore 0), `run` the empirical distribution of the warm activations'
//! `duration_ms` (of the cold ones' `duration_ms − init_ms` when none ran warm), and
//! `cpu_share` the measured CPU time over the run time when the monitor measured it (else
//! 1). Every whole percentile is kept. `defaults.start` pools every function's cold starts
//! (for stem cells and functions never seen cold).
//! `dispatch` is the empirical distribution, over every function's warm activations, of
//! start − scheduled: the injector's lateness, HTTP and the platform's own hand-off to a
//! warm container, which a simulation otherwise leaves out of every completion.
//!
//! The measured runs include whatever CPU contention the measured run had; the simulation
//! then shares cores on top, so fit from a run that did not oversubscribe its nodes.

use std::collections::BTreeMap;
use std::path::Path;

use super::dist::Dist;
use super::profile::{Phases, Profile};
use crate::backend::Outcome;
use crate::report::RecordReader;

/// Every whole percentile: a measured run on a quiet machine is narrow (a 22 ms function
/// spreads over about a millisecond), and eleven points interpolated linearly moved its
/// body enough to be seen in a Kolmogorov–Smirnov distance.
const PERCENTILES: std::ops::RangeInclusive<u32> = 0..=100;

#[derive(Default)]
struct Samples {
    start_ms: Vec<f64>,
    /// Runs of warm activations.
    run_ms: Vec<f64>,
    /// Runs of cold ones (after their init): used only when no warm run was measured, as
    /// a fresh process's first run is slower (by 1–2 ms for gale:synthetic, measured).
    cold_run_ms: Vec<f64>,
    cpu_ms: f64,
    cpu_run_ms: f64,
}

/// Fit a profile from `dir/invocations.csv`.
pub fn fit(dir: &Path) -> Result<Profile, crate::report::ReadError> {
    let mut reader = RecordReader::open(&dir.join("invocations.csv"))?;
    let mut by_function: BTreeMap<String, Samples> = BTreeMap::new();
    let mut all_starts = Vec::new();
    let mut dispatch_ms = Vec::new();
    while let Some(r) = reader.next_record() {
        let r = r?;
        let (Outcome::Success, Some(duration_us)) = (r.outcome, r.duration_us) else {
            continue;
        };
        if let (Some(false), Some(start)) = (r.cold, r.start_ns) {
            dispatch_ms.push(start.saturating_sub(r.scheduled_ns) as f64 / 1e6);
        }
        let s = by_function.entry(r.function.to_string()).or_default();
        let init_us = if r.cold == Some(true) {
            r.init_us
        } else {
            None
        };
        if let Some(i) = init_us {
            s.start_ms.push(i as f64 / 1e3);
            all_starts.push(i as f64 / 1e3);
        }
        let run_ms = duration_us.saturating_sub(init_us.unwrap_or(0)) as f64 / 1e3;
        if init_us.is_some() {
            s.cold_run_ms.push(run_ms);
        } else {
            s.run_ms.push(run_ms);
        }
        if let Some(cpu) = r.usage.as_ref().and_then(|u| u.cpu_ms) {
            s.cpu_ms += cpu;
            s.cpu_run_ms += run_ms;
        }
    }
    let mut profile = Profile {
        dispatch: empirical(&mut dispatch_ms),
        defaults: Phases {
            start: empirical(&mut all_starts),
            init: Some(Dist::ZERO),
            ..Phases::default()
        },
        functions: BTreeMap::new(),
    };
    for (name, mut s) in by_function {
        let cpu_share = if s.cpu_run_ms > 0.0 {
            Some((s.cpu_ms / s.cpu_run_ms).clamp(0.0, 1.0))
        } else {
            None
        };
        profile.functions.insert(
            name,
            Phases {
                start: empirical(&mut s.start_ms),
                init: Some(Dist::ZERO),
                resume: None,
                run: empirical(&mut s.run_ms).or_else(|| empirical(&mut s.cold_run_ms)),
                cpu_share,
            },
        );
    }
    Ok(profile)
}

/// The empirical distribution of `samples` at [`PERCENTILES`] (linear between order
/// statistics); `None` without samples.
fn empirical(samples: &mut [f64]) -> Option<Dist> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let last = (samples.len() - 1) as f64;
    let points = PERCENTILES
        .map(|p| {
            let x = last * f64::from(p) / 100.0;
            let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
            let v = samples[lo] + (samples[hi] - samples[lo]) * (x - lo as f64);
            (p, v)
        })
        .collect();
    Some(Dist::Empirical(points))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::record::{Record, RecordWriter};

    #[test]
    fn fits_cold_starts_and_run_times_per_function() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = RecordWriter::create(&dir.path().join("invocations.csv")).unwrap();
        for i in 0..101u64 {
            let mut r = Record::unsent(i, "f".into(), "u".into(), i * 1000, Outcome::Success, "");
            r.error = None;
            let cold = i % 10 == 0;
            r.cold = Some(cold);
            // Runs of i ms; cold ones add a start of 100 + i ms.
            r.init_us = cold.then_some((100 + i) * 1000);
            r.duration_us = Some(i * 1000 + r.init_us.unwrap_or(0));
            // Warm ones start 2 ms + i µs after they were due.
            r.start_ns = Some(i * 1000 + 2_000_000 + i * 1000);
            w.write(&r).unwrap();
        }
        let mut failed =
            Record::unsent(999, "f".into(), "u".into(), 0, Outcome::DeveloperError, "x");
        failed.duration_us = Some(9_999_000);
        w.write(&failed).unwrap();
        w.finish().unwrap();
        let p = fit(dir.path()).unwrap();
        let f = &p.functions["f"];
        let Some(Dist::Empirical(run)) = &f.run else {
            panic!("{f:?}")
        };
        // Warm runs only: 1..=99 ms without the multiples of 10 (90 of them).
        assert_eq!((run[&0], run[&50], run[&100]), (1.0, 50.0, 99.0));
        let Some(Dist::Empirical(start)) = &f.start else {
            panic!("{f:?}")
        };
        assert_eq!((start[&0], start[&100]), (100.0, 200.0));
        assert_eq!(f.init, Some(Dist::ZERO));
        assert_eq!(f.cpu_share, None, "no CPU measured");
        let Some(Dist::Empirical(dispatch)) = &p.dispatch else {
            panic!("{p:?}")
        };
        // 90 warm ones: i = 1..=99 without the multiples of 10; the first is 2.001 ms.
        assert_eq!((dispatch[&0], dispatch[&100]), (2.001, 2.099));
        p.validate().unwrap();
    }
}
