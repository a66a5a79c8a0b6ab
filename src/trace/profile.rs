//! Time-varying arrival rates: ramps, sine and diurnal profiles, on/off bursts,
//! Markov-modulated Poisson processes and rate profiles read from a file.
//!
//! Any profile combines with any gap law by time change: gaps are drawn with mean 1 in
//! *operational time* Λ(t) = ∫₀ᵗ rate(s) ds (exponential for `poisson`, uniform in [0, 2)
//! for `uniform`, exactly 1 for `constant`) and mapped back through Λ⁻¹. A Poisson gap law
//! thus gives a non-homogeneous Poisson process of intensity rate(t); a constant one puts
//! one arrival per unit of Λ, following the rate deterministically.
//!
//! The rate is a sequence of segments, each with a closed-form Λ (constant, linear, sine),
//! produced lazily: on/off and MMPP profiles repeat forever without being stored.

use std::f64::consts::TAU;

use rand_chacha::ChaCha12Rng;

use super::arrivals::{exponential, unit_f64};

/// A rate profile, in invocations per second, over the spec's window (t = 0 at `start`).
#[derive(Debug, Clone, PartialEq)]
pub enum Profile {
    /// From `from` to `to`, linearly over `over` seconds, then `to`.
    Ramp {
        /// Rate at t = 0.
        from: f64,
        /// Rate at t = `over` and after.
        to: f64,
        /// Length of the ramp, s.
        over: f64,
    },
    /// `mean · (1 + amplitude · sin(2π t / period + phase))`; diurnal is a sine of one day.
    Sine {
        /// Mean rate.
        mean: f64,
        /// Relative amplitude, 0 to 1.
        amplitude: f64,
        /// Period, s.
        period: f64,
        /// Phase at t = 0, radians.
        phase: f64,
    },
    /// `rate` for `on` seconds, nothing for `off` seconds, again and again.
    OnOff {
        /// Rate while on.
        rate: f64,
        /// Length of an on period, s.
        on: f64,
        /// Length of an off period, s.
        off: f64,
    },
    /// A Markov-modulated Poisson process: state i holds rate `rates[i]` for an
    /// exponential time of mean `sojourn[i]` s, then moves to another state chosen uniformly
    /// (with two states: the other one). Starts in state 0.
    Mmpp {
        /// Rate in each state.
        rates: Vec<f64>,
        /// Mean time in each state, s.
        sojourn: Vec<f64>,
    },
    /// Piecewise constant: `steps[i].1` from `steps[i].0` s to the next step's time; the last
    /// holds on. Before the first step: nothing.
    Steps {
        /// (time s, rate), in increasing time.
        steps: Vec<(f64, f64)>,
    },
}

impl Profile {
    /// The mean rate a long expansion should show (for MMPP, weighted by the time spent in
    /// each state; for a ramp, the rate past its end).
    pub fn long_run_rate(&self) -> f64 {
        match self {
            Profile::Ramp { to, .. } => *to,
            Profile::Sine { mean, .. } => *mean,
            Profile::OnOff { rate, on, off } => rate * on / (on + off),
            Profile::Mmpp { rates, sojourn } => {
                // Uniform jumps: the embedded chain is uniform over the states, so the time
                // fraction of a state is proportional to its mean sojourn.
                let total: f64 = sojourn.iter().sum();
                rates.iter().zip(sojourn).map(|(r, s)| r * s).sum::<f64>() / total
            }
            Profile::Steps { steps } => steps.last().map_or(0.0, |s| s.1),
        }
    }

    /// The rate at `t` for a deterministic profile (`None` for MMPP, whose rate is drawn).
    pub fn rate_at(&self, t: f64) -> Option<f64> {
        Some(match self {
            Profile::Ramp { from, to, over } => {
                if t >= *over {
                    *to
                } else {
                    from + (to - from) * t / over
                }
            }
            Profile::Sine {
                mean,
                amplitude,
                period,
                phase,
            } => mean * (1.0 + amplitude * (TAU * t / period + phase).sin()),
            Profile::OnOff { rate, on, off } => {
                if t.rem_euclid(on + off) < *on {
                    *rate
                } else {
                    0.0
                }
            }
            Profile::Mmpp { .. } => return None,
            Profile::Steps { steps } => steps
                .iter()
                .take_while(|s| s.0 <= t)
                .last()
                .map_or(0.0, |s| s.1),
        })
    }
}

/// Rate over one segment [start, end).
#[derive(Debug, Clone, Copy)]
enum Shape {
    Constant(f64),
    /// rate(t) = r0 + slope · (t − start)
    Linear {
        r0: f64,
        slope: f64,
    },
    Sine {
        mean: f64,
        amplitude: f64,
        omega: f64,
        phase: f64,
    },
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    start: f64,
    end: f64,
    shape: Shape,
}

impl Segment {
    /// Λ from `a` to `b` within the segment.
    fn integral(&self, a: f64, b: f64) -> f64 {
        match self.shape {
            Shape::Constant(r) => r * (b - a),
            Shape::Linear { r0, slope } => {
                let (x, y) = (a - self.start, b - self.start);
                r0 * (y - x) + slope * (y * y - x * x) / 2.0
            }
            Shape::Sine {
                mean,
                amplitude,
                omega,
                phase,
            } => {
                mean * ((b - a)
                    - amplitude / omega * ((omega * b + phase).cos() - (omega * a + phase).cos()))
            }
        }
    }

    /// The t in [a, end] with Λ(a, t) = g, given Λ(a, end) ≥ g.
    fn solve(&self, a: f64, g: f64) -> f64 {
        match self.shape {
            Shape::Constant(r) => a + g / r,
            Shape::Linear { r0, slope } => {
                let x = a - self.start;
                let ra = r0 + slope * x;
                if slope.abs() < 1e-15 {
                    return a + g / ra;
                }
                // slope/2 · d² + ra · d − g = 0, the root in [0, end − a]; written to avoid
                // cancellation when slope is small.
                let disc = (ra * ra + 2.0 * slope * g).max(0.0);
                a + 2.0 * g / (ra + disc.sqrt())
            }
            Shape::Sine { .. } => {
                // Λ is non-decreasing: bisection on [a, end] to well below a nanosecond.
                let (mut lo, mut hi) = (a, self.end);
                for _ in 0..200 {
                    let mid = 0.5 * (lo + hi);
                    if self.integral(a, mid) < g {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                    if hi - lo < 1e-10 {
                        break;
                    }
                }
                hi
            }
        }
    }
}

/// The segments of a profile, one after another, forever (or to the last step).
struct Segments {
    profile: Profile,
    next_start: f64,
    index: u64,
    state: usize,
    rng: ChaCha12Rng,
}

impl Segments {
    fn next(&mut self) -> Option<Segment> {
        let start = self.next_start;
        let seg = match &self.profile {
            Profile::Ramp { from, to, over } => match self.index {
                0 if *over > 0.0 => Segment {
                    start,
                    end: *over,
                    shape: Shape::Linear {
                        r0: *from,
                        slope: (to - from) / over,
                    },
                },
                0 | 1 => Segment {
                    start,
                    end: f64::INFINITY,
                    shape: Shape::Constant(*to),
                },
                _ => return None,
            },
            Profile::Sine {
                mean,
                amplitude,
                period,
                phase,
            } => {
                // One period per segment keeps the bisection bracket short.
                Segment {
                    start,
                    end: start + period,
                    shape: Shape::Sine {
                        mean: *mean,
                        amplitude: *amplitude,
                        omega: TAU / period,
                        phase: *phase,
                    },
                }
            }
            Profile::OnOff { rate, on, off } => {
                let on_now = self.index.is_multiple_of(2);
                Segment {
                    start,
                    end: start + if on_now { *on } else { *off },
                    shape: Shape::Constant(if on_now { *rate } else { 0.0 }),
                }
            }
            Profile::Mmpp { rates, sojourn } => {
                if self.index > 0 {
                    let n = rates.len();
                    if n > 1 {
                        let jump = 1 + (unit_f64(&mut self.rng) * (n - 1) as f64) as usize;
                        self.state = (self.state + jump.min(n - 1)) % n;
                    }
                }
                let stay = exponential(&mut self.rng, 1.0 / sojourn[self.state]);
                Segment {
                    start,
                    end: start + stay,
                    shape: Shape::Constant(rates[self.state]),
                }
            }
            Profile::Steps { steps } => {
                let i = self.index as usize;
                if i == 0 && steps.first().is_some_and(|s| s.0 > 0.0) && start == 0.0 {
                    // Silence before the first step: a zero segment, then the steps.
                    self.next_start = steps[0].0;
                    return Some(Segment {
                        start: 0.0,
                        end: steps[0].0,
                        shape: Shape::Constant(0.0),
                    });
                }
                let (t, r) = *steps.get(i)?;
                let end = steps.get(i + 1).map_or(f64::INFINITY, |s| s.0);
                Segment {
                    start: t.max(start),
                    end,
                    shape: Shape::Constant(r),
                }
            }
        };
        self.index += 1;
        self.next_start = seg.end;
        Some(seg)
    }
}

/// Arrival offsets (seconds from the window's start) for a profile and a gap law, lazily.
pub struct TimeChanged {
    segments: Segments,
    current: Option<Segment>,
    t: f64,
}

impl TimeChanged {
    /// Offsets for `profile`; `states` draws MMPP sojourns and jumps (its own stream, so
    /// that the gaps' stream is the same with or without a profile).
    pub fn new(profile: Profile, states: ChaCha12Rng) -> TimeChanged {
        let mut segments = Segments {
            profile,
            next_start: 0.0,
            index: 0,
            state: 0,
            rng: states,
        };
        let current = segments.next();
        TimeChanged {
            segments,
            current,
            t: 0.0,
        }
    }

    /// The instant `g` units of operational time after the previous one; `None` once the
    /// profile has ended (its last rate is zero for ever) or past 10⁹ s.
    pub fn advance(&mut self, mut g: f64) -> Option<f64> {
        loop {
            let seg = self.current?;
            if self.t > 1e9 {
                return None;
            }
            let left = if seg.end.is_finite() {
                seg.integral(self.t, seg.end)
            } else {
                f64::INFINITY
            };
            // An arrival due at a segment's end belongs to the next segment, so on/off bursts
            // stay within their half-open on periods.
            // (Within a nanosecond of the end, rounding decides nothing: the next segment.)
            // A segment with no rate (an off period) holds no arrival, even one of g = 0.
            if left >= g
                && left > 0.0
                && !(left.is_infinite() && matches!(seg.shape, Shape::Constant(r) if r <= 0.0))
            {
                let t = seg.solve(self.t, g).max(self.t);
                if !(seg.end.is_finite() && t >= seg.end - 1e-9) {
                    self.t = t;
                    return Some(t);
                }
            }
            if !seg.end.is_finite() {
                return None;
            }
            g = (g - left).max(0.0);
            self.t = seg.end;
            self.current = self.segments.next();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::arrivals::rng_for;

    fn poisson(profile: Profile, horizon: f64, seed: u64) -> Vec<f64> {
        let mut tc = TimeChanged::new(profile, rng_for(seed, 1 << 62));
        let mut gaps = rng_for(seed, 0);
        let mut out = Vec::new();
        while let Some(t) = tc.advance(exponential(&mut gaps, 1.0)) {
            if t >= horizon {
                break;
            }
            out.push(t);
        }
        out
    }

    fn count_in(t: &[f64], a: f64, b: f64) -> f64 {
        t.iter().filter(|&&x| x >= a && x < b).count() as f64
    }

    /// |observed − expected| within 4 standard deviations of a Poisson count.
    fn close(obs: f64, exp: f64) -> bool {
        (obs - exp).abs() <= 4.0 * exp.sqrt().max(1.0)
    }

    #[test]
    fn ramp_counts_follow_the_integral() {
        let t = poisson(
            Profile::Ramp {
                from: 10.0,
                to: 110.0,
                over: 100.0,
            },
            100.0,
            3,
        );
        for (a, b) in [(0.0, 25.0), (25.0, 50.0), (50.0, 75.0), (75.0, 100.0)] {
            let exp = 10.0 * (b - a) + 0.5 * (b * b - a * a);
            assert!(
                close(count_in(&t, a, b), exp),
                "[{a},{b}): {} vs {exp}",
                count_in(&t, a, b)
            );
        }
        assert!(t.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn sine_counts_follow_the_phase() {
        let p = Profile::Sine {
            mean: 50.0,
            amplitude: 0.8,
            period: 20.0,
            phase: 0.0,
        };
        let t = poisson(p.clone(), 2000.0, 5);
        assert!(close(t.len() as f64, 100_000.0));
        // Half periods: the first half (sin > 0) carries 1 + 2·0.8/π times the mean.
        let mut q = [0.0; 4];
        for x in &t {
            q[((x % 20.0) / 5.0) as usize] += 1.0;
        }
        let exp_high = 50.0 * 10.0 * 100.0 * (1.0 + 0.8 * 2.0 / std::f64::consts::PI);
        let exp_low = 50.0 * 10.0 * 100.0 * (1.0 - 0.8 * 2.0 / std::f64::consts::PI);
        assert!(close(q[0] + q[1], exp_high), "{q:?} {exp_high}");
        assert!(close(q[2] + q[3], exp_low), "{q:?} {exp_low}");
        assert_eq!(p.rate_at(5.0), Some(90.0));
    }

    #[test]
    fn on_off_is_silent_when_off() {
        let t = poisson(
            Profile::OnOff {
                rate: 100.0,
                on: 2.0,
                off: 3.0,
            },
            500.0,
            7,
        );
        assert!(t.iter().all(|x| x % 5.0 < 2.0));
        assert!(close(t.len() as f64, 100.0 * 2.0 * 100.0));
    }

    #[test]
    fn mmpp_mean_rate_is_the_time_weighted_rate() {
        let p = Profile::Mmpp {
            rates: vec![5.0, 100.0],
            sojourn: vec![8.0, 2.0],
        };
        let want = p.long_run_rate();
        assert!((want - 24.0).abs() < 1e-12);
        let t = poisson(p.clone(), 20_000.0, 11);
        let rate = t.len() as f64 / 20_000.0;
        // The count's variance is inflated by the state process: a 5 % band is ~4 sigma.
        assert!((rate - want).abs() / want < 0.05, "{rate} vs {want}");
        // Bursty: the index of dispersion of counts in 1-s windows is well above Poisson's 1.
        let mut c = vec![0.0; 20_000];
        for x in &t {
            c[*x as usize] += 1.0;
        }
        let m = c.iter().sum::<f64>() / c.len() as f64;
        let v = c.iter().map(|x| (x - m).powi(2)).sum::<f64>() / c.len() as f64;
        assert!(v / m > 5.0, "dispersion {}", v / m);
        // Same seed, same arrivals.
        assert_eq!(poisson(p.clone(), 100.0, 11), poisson(p, 100.0, 11));
    }

    #[test]
    fn steps_hold_each_rate_and_start_silent() {
        let p = Profile::Steps {
            steps: vec![(10.0, 20.0), (30.0, 0.0), (40.0, 50.0)],
        };
        let t = poisson(p.clone(), 60.0, 13);
        assert_eq!(count_in(&t, 0.0, 10.0), 0.0);
        assert!(close(count_in(&t, 10.0, 30.0), 400.0));
        assert_eq!(count_in(&t, 30.0, 40.0), 0.0);
        assert!(close(count_in(&t, 40.0, 60.0), 1000.0));
        assert_eq!(p.rate_at(35.0), Some(0.0));
        let ended = Profile::Steps {
            steps: vec![(0.0, 10.0), (5.0, 0.0)],
        };
        let t = poisson(ended, 1e6, 1);
        assert!(t.iter().all(|&x| x < 5.0) && !t.is_empty());
    }

    #[test]
    fn constant_gaps_follow_the_rate_exactly() {
        let mut tc = TimeChanged::new(
            Profile::Ramp {
                from: 0.0,
                to: 10.0,
                over: 10.0,
            },
            rng_for(0, 0),
        );
        // Λ(t) = t²/2 on the ramp: the n-th arrival is at sqrt(2n).
        for n in 1..=20 {
            let t = tc.advance(1.0).unwrap();
            assert!((t - (2.0 * n as f64).sqrt()).abs() < 1e-9, "{n}: {t}");
        }
    }
}
