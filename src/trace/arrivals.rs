//! Arrival specifications: a rate and an inter-arrival law that expand, lazily and
//! deterministically, into invocation rows.
//!
//! Each spec draws from its own ChaCha12 stream: key = the trace seed (little-endian in the
//! first 8 of 32 key bytes, the rest zero), stream = the spec's index in `arrivals:`. Both are
//! fixed by the ChaCha definition, so the rows are the same on every platform and every
//! version of the `rand` crates; adding a spec never changes the rows of the others.

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use super::num::{self, MAX_NS};
use super::profile::{Profile, TimeChanged};
use super::{Invocation, TraceError};

/// How the gaps between two arrivals are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Process {
    /// Exponential gaps of mean `1/rate` (a Poisson process); the first arrival comes one
    /// gap after `start`.
    #[default]
    Poisson,
    /// Gaps uniform in `[0, 2/rate)`; the first arrival comes one gap after `start`.
    Uniform,
    /// Gaps of exactly `1/rate`, the first arrival at `start`.
    Constant,
}

impl std::fmt::Display for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Process::Poisson => "poisson",
            Process::Uniform => "uniform",
            Process::Constant => "constant",
        })
    }
}

/// One validated arrival specification.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrivalSpec {
    /// Function invoked.
    pub function: Arc<str>,
    /// User the invocations belong to.
    pub user: Arc<str>,
    /// Mean invocations per second (positive, finite).
    pub rate: f64,
    /// Gap law.
    pub process: Process,
    /// First instant of the spec's window, ns after the start of the run.
    pub start_ns: u64,
    /// Length of the window; arrivals at or past `start + duration` are not produced.
    pub duration_ns: Option<u64>,
    /// Most arrivals produced.
    pub count: Option<u64>,
    /// Body of every invocation (JSON object text).
    pub params: Option<Box<str>>,
    /// Blocking override of every invocation.
    pub blocking: Option<bool>,
    /// A time-varying rate ([`super::profile`]); `rate` is then unused.
    pub profile: Option<Profile>,
}

/// The rows of one spec, produced on demand.
pub struct Arrivals {
    spec: ArrivalSpec,
    rng: ChaCha12Rng,
    changed: Option<TimeChanged>,
    produced: u64,
    offset_secs: f64,
    origin: String,
    done: bool,
}

/// The RNG of spec number `stream` under `seed` (see the module documentation).
pub fn rng_for(seed: u64, stream: u64) -> ChaCha12Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    let mut rng = ChaCha12Rng::from_seed(key);
    rng.set_stream(stream);
    rng
}

/// A uniform draw in `[0, 1)` from the top 53 bits of one `u64`.
pub fn unit_f64(rng: &mut ChaCha12Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// An exponential draw of rate `rate` by inverting the CDF: `-ln(1-u)/rate`, finite since
/// `1-u` is in `(0, 1]`.
pub fn exponential(rng: &mut ChaCha12Rng, rate: f64) -> f64 {
    -(1.0 - unit_f64(rng)).ln() / rate
}

/// Expand `spec`, drawing from stream `stream` of `seed`; `origin` names the spec in errors.
/// A profile's own random draws (MMPP states) come from stream `stream | 2^62`, so the gaps
/// drawn are the same with or without one.
pub fn expand(spec: ArrivalSpec, seed: u64, stream: u64, origin: String) -> Arrivals {
    let changed = spec
        .profile
        .clone()
        .map(|p| TimeChanged::new(p, rng_for(seed, stream | (1 << 62))));
    Arrivals {
        changed,
        rng: rng_for(seed, stream),
        spec,
        produced: 0,
        offset_secs: 0.0,
        origin,
        done: false,
    }
}

impl Arrivals {
    fn next_offset_ns(&mut self) -> Option<u64> {
        if let Some(tc) = &mut self.changed {
            // Gaps of mean 1 in operational time (see `profile`).
            let g = match self.spec.process {
                Process::Poisson => exponential(&mut self.rng, 1.0),
                Process::Uniform => unit_f64(&mut self.rng) * 2.0,
                Process::Constant => 1.0,
            };
            // A profile that has ended (a last rate of zero) ends the spec.
            return Some(tc.advance(g).and_then(num::secs_to_ns).unwrap_or(u64::MAX));
        }
        let rate = self.spec.rate;
        match self.spec.process {
            Process::Constant => num::f64_to_ns(self.produced as f64 * 1e9 / rate),
            Process::Poisson => {
                self.offset_secs += exponential(&mut self.rng, rate);
                num::secs_to_ns(self.offset_secs)
            }
            Process::Uniform => {
                self.offset_secs += unit_f64(&mut self.rng) * 2.0 / rate;
                num::secs_to_ns(self.offset_secs)
            }
        }
    }
}

impl Iterator for Arrivals {
    type Item = Result<Invocation, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.spec.count.is_some_and(|c| self.produced >= c) {
            self.done = true;
            return None;
        }
        let offset = self.next_offset_ns();
        if offset == Some(u64::MAX) {
            self.done = true;
            return None;
        }
        if let (Some(off), Some(d)) = (offset, self.spec.duration_ns) {
            if off >= d {
                self.done = true;
                return None;
            }
        }
        let at_ns = offset.and_then(|o| o.checked_add(self.spec.start_ns));
        let Some(at_ns) = at_ns.filter(|&t| t <= MAX_NS) else {
            self.done = true;
            return Some(Err(TraceError::file(
                &self.origin,
                format!(
                    "arrival spec runs past {} s after the start: give it a `duration` or a \
                     smaller `count`",
                    num::MAX_SECONDS
                ),
            )));
        };
        self.produced += 1;
        Some(Ok(Invocation {
            row: 0,
            at_ns,
            function: self.spec.function.clone(),
            user: self.spec.user.clone(),
            params: self.spec.params.clone(),
            blocking: self.spec.blocking,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(process: Process, rate: f64) -> ArrivalSpec {
        ArrivalSpec {
            function: Arc::from("f"),
            user: Arc::from("u"),
            rate,
            process,
            start_ns: 0,
            duration_ns: None,
            count: Some(100_000),
            params: None,
            blocking: None,
            profile: None,
        }
    }

    fn times(s: ArrivalSpec, seed: u64, stream: u64) -> Vec<u64> {
        expand(s, seed, stream, "t".into())
            .map(|r| r.unwrap().at_ns)
            .collect()
    }

    #[test]
    fn same_seed_same_rows_other_seed_or_stream_other_rows() {
        let a = times(spec(Process::Poisson, 50.0), 7, 0);
        assert_eq!(a, times(spec(Process::Poisson, 50.0), 7, 0));
        assert_ne!(a, times(spec(Process::Poisson, 50.0), 8, 0));
        assert_ne!(a, times(spec(Process::Poisson, 50.0), 7, 1));
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn rates_hold_over_a_long_expansion() {
        for p in [Process::Poisson, Process::Uniform, Process::Constant] {
            let t = times(spec(p, 200.0), 42, 3);
            assert_eq!(t.len(), 100_000);
            let mean_gap = *t.last().unwrap() as f64 / 1e9 / t.len() as f64;
            let want = 1.0 / 200.0;
            assert!(
                (mean_gap - want).abs() / want < 0.02,
                "{p:?}: mean gap {mean_gap}, want {want}"
            );
        }
    }

    #[test]
    fn poisson_gaps_look_exponential() {
        // For an exponential law, P(gap > mean) = e^-1 ≈ 0.368; uniform gaps give 0.5.
        let t = times(spec(Process::Poisson, 10.0), 1, 0);
        let over = t.windows(2).filter(|w| w[1] - w[0] > 100_000_000).count() as f64;
        let frac = over / (t.len() - 1) as f64;
        assert!((frac - (-1f64).exp()).abs() < 0.01, "{frac}");
    }

    #[test]
    fn constant_is_equidistant_from_start_and_duration_is_half_open() {
        let mut s = spec(Process::Constant, 4.0);
        s.count = None;
        s.start_ns = 1_000_000_000;
        s.duration_ns = Some(1_000_000_000);
        assert_eq!(
            times(s, 0, 0),
            [1_000_000_000, 1_250_000_000, 1_500_000_000, 1_750_000_000]
        );
    }

    #[test]
    fn runaway_specs_end_with_an_error() {
        let mut s = spec(Process::Constant, 1e-10);
        s.count = Some(10);
        let out: Vec<_> = expand(s, 0, 0, "t".into()).collect();
        assert_eq!(out.len(), 2);
        assert!(out[1].is_err());
    }

    #[test]
    fn rng_stream_is_pinned() {
        // Guards portability: these words change only if the ChaCha12 definition or our
        // seeding changes, which would silently change every user's expanded traces.
        assert_eq!(rng_for(7, 0).next_u64(), 0xd3fc_baad_63e7_f21f);
        assert_eq!(rng_for(7, 3).next_u64(), 0xdd2d_50f9_4054_b779);
        assert_ne!(rng_for(7, 1).next_u64(), rng_for(7, 0).next_u64());
    }
}
