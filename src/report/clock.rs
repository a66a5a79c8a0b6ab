//! The run's clock: where records place the platform's instants.
//!
//! Every time in a record is ns after the run's start instant. The injector's own instants
//! (scheduled, sent, replied) are read on CLOCK_MONOTONIC; an activation's start and end are
//! the platform's wall clock (epoch µs from gale's platform, epoch ms from OpenWhisk). The
//! run's zero is therefore taken on both clocks at once, and a remote platform's clock
//! offset is estimated from the invocations themselves:
//!
//! an activation runs between the send of its request and the reply that carries it, so
//! with θ = platform clock − our clock, every blocking reply gives
//! `end − replied ≤ θ ≤ start − sent` (widened by 1 ms for OpenWhisk's ms resolution). The
//! clock keeps the intersection of these intervals; its midpoint is the estimate and its
//! half-width the error bound, both written to run.yaml. The embedded platform shares the
//! host's clock: its offset is 0 by construction.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::backend::Activation;

/// The run's zero on both clocks, and the platform's clock offset.
#[derive(Debug)]
pub struct RunClock {
    /// The run's zero, CLOCK_MONOTONIC ns.
    zero_mono_ns: u64,
    /// The run's zero, epoch ns.
    zero_epoch_ns: u64,
    offset: Mutex<Offset>,
}

#[derive(Debug, Clone, Copy)]
struct Offset {
    /// The platform shares our clock: nothing to estimate.
    fixed: bool,
    /// Largest lower bound of θ seen, ns.
    lo: i64,
    /// Smallest upper bound of θ seen, ns.
    hi: i64,
    /// Brackets that contributed.
    samples: u64,
}

/// The estimated offset of the platform's clock, for run.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OffsetEstimate {
    /// Platform clock − gale's clock, ms (0 when the clocks are the same).
    pub estimate_ms: f64,
    /// Half-width of the interval the invocations allow, ms (`None`: no bracket yet, or
    /// the brackets disagreed, e.g. because the platform's clock drifted during the run).
    pub bound_ms: Option<f64>,
    /// Invocations whose send/reply bracket was used.
    pub samples: u64,
    /// How it was obtained: `same-clock` (embedded platform) or `bracket`.
    pub method: &'static str,
}

/// CLOCK_MONOTONIC now, ns.
pub fn mono_now_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

impl RunClock {
    /// Take the run's zero now. `same_clock`: the platform reads this host's wall clock.
    pub fn start(same_clock: bool) -> RunClock {
        // Read the wall clock between two monotonic reads and take the middle: the pairing
        // error is then half the (sub-µs) gap.
        let a = mono_now_ns();
        let wall = SystemTime::now();
        let b = mono_now_ns();
        let epoch = wall
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        RunClock::at(a + (b - a) / 2, epoch, same_clock)
    }

    /// Take the run's zero `lead` from now (set-up headroom before the first instant).
    pub fn start_after(lead: std::time::Duration, same_clock: bool) -> RunClock {
        let now = RunClock::start(same_clock);
        let lead = lead.as_nanos() as u64;
        RunClock::at(
            now.zero_mono_ns + lead,
            now.zero_epoch_ns + lead,
            same_clock,
        )
    }

    /// A clock whose zero is `zero_mono_ns` on CLOCK_MONOTONIC and `zero_epoch_ns` on the
    /// wall clock (tests, simulations).
    pub fn at(zero_mono_ns: u64, zero_epoch_ns: u64, same_clock: bool) -> RunClock {
        RunClock {
            zero_mono_ns,
            zero_epoch_ns,
            offset: Mutex::new(Offset {
                fixed: same_clock,
                lo: i64::MIN,
                hi: i64::MAX,
                samples: 0,
            }),
        }
    }

    /// The run's zero, CLOCK_MONOTONIC ns.
    pub fn zero_mono_ns(&self) -> u64 {
        self.zero_mono_ns
    }

    /// The run's zero on the wall clock.
    pub fn zero_wall(&self) -> SystemTime {
        UNIX_EPOCH + std::time::Duration::from_nanos(self.zero_epoch_ns)
    }

    /// A CLOCK_MONOTONIC instant as ns on the run's clock.
    pub fn rel(&self, mono_ns: u64) -> u64 {
        mono_ns.saturating_sub(self.zero_mono_ns)
    }

    /// Narrow the offset estimate with an activation that ran between `sent` and
    /// `replied` (run-clock ns).
    pub fn observe(&self, a: &Activation, sent: Option<u64>, replied: Option<u64>) {
        let (Some(sent), Some(replied)) = (sent, replied) else {
            return;
        };
        let Ok(mut o) = self.offset.lock() else {
            return;
        };
        if o.fixed {
            return;
        }
        let t = a.timings();
        // OpenWhisk's start/end are whole ms: the true instant may lie up to 1 ms later.
        let slack_ns: i64 = if a.start_us.is_some() { 0 } else { 1_000_000 };
        let epoch = |us: u64| (us as i128 * 1000 - self.zero_epoch_ns as i128) as i64;
        let hi = epoch(t.start_epoch_us) + slack_ns - sent as i64;
        let lo = epoch(t.end_epoch_us) - replied as i64;
        o.lo = o.lo.max(lo);
        o.hi = o.hi.min(hi);
        o.samples += 1;
    }

    fn offset_ns(&self) -> i64 {
        let Ok(o) = self.offset.lock() else {
            return 0;
        };
        if o.fixed || o.samples == 0 {
            return 0;
        }
        // The middle of the interval; of the disagreement when brackets are inconsistent
        // (the platform's clock drifted), which run.yaml then reports without a bound.
        ((o.lo as i128 + o.hi as i128) / 2) as i64
    }

    /// An instant on the platform's clock (epoch µs) as ns on the run's clock (0 if it
    /// falls before the run's zero).
    pub fn run_ns(&self, platform_epoch_us: u64) -> u64 {
        let ns = platform_epoch_us as i128 * 1000
            - self.zero_epoch_ns as i128
            - self.offset_ns() as i128;
        ns.clamp(0, u64::MAX as i128) as u64
    }

    /// The offset as estimated so far.
    pub fn offset(&self) -> OffsetEstimate {
        let o = self.offset.lock().map(|o| *o).unwrap_or(Offset {
            fixed: false,
            lo: 0,
            hi: 0,
            samples: 0,
        });
        if o.fixed {
            return OffsetEstimate {
                estimate_ms: 0.0,
                bound_ms: Some(0.0),
                samples: 0,
                method: "same-clock",
            };
        }
        OffsetEstimate {
            estimate_ms: self.offset_ns() as f64 / 1e6,
            bound_ms: (o.samples > 0 && o.lo <= o.hi).then(|| (o.hi - o.lo) as f64 / 2e6),
            samples: o.samples,
            method: "bracket",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activation(start_ms: u64, end_ms: u64) -> Activation {
        Activation {
            start_ms,
            end_ms,
            duration_ms: end_ms - start_ms,
            ..Activation::default()
        }
    }

    #[test]
    fn same_clock_maps_epoch_to_run_time() {
        let c = RunClock::at(5_000, 1_000_000_000_000, true);
        assert_eq!(c.run_ns(1_000_000_123), 123_000);
        assert_eq!(c.run_ns(1), 0, "before the zero clamps");
        assert_eq!(c.rel(7_000), 2_000);
        assert_eq!(c.offset().method, "same-clock");
    }

    #[test]
    fn brackets_bound_a_remote_offset() {
        // The platform's clock runs 250 ms ahead of ours; zero at epoch 1 000 s.
        let zero = 1_000_000_000_000u64;
        let c = RunClock::at(0, zero, false);
        // Sent at 10 ms, replied at 30 ms (run clock); it ran 15..25 ms of true time,
        // i.e. 265..275 ms on the platform's clock.
        let a = activation(1_000_265, 1_000_275);
        c.observe(&a, Some(10_000_000), Some(30_000_000));
        let o = c.offset();
        // θ ∈ [275 − 30, 265 + 1 − 10] = [245, 256] ms.
        assert_eq!(o.samples, 1);
        assert!((o.estimate_ms - 250.5).abs() < 1e-9, "{o:?}");
        assert!((o.bound_ms.unwrap() - 5.5).abs() < 1e-9, "{o:?}");
        // The activation's end lands at 24.5 ms on the run clock, within its bracket.
        let end = c.run_ns(1_000_275_000);
        assert!((10_000_000..=30_000_000).contains(&end), "{end}");
    }
}
