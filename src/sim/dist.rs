//! Modelled durations: fixed values and the distributions users fit to measurements, sampled
//! by inverse transform from a seeded ChaCha12 stream (portable and exact: the same seed
//! gives the same samples on every machine and release, which rand_distr does not promise).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha12Rng;
use serde::Deserialize;

/// A duration in milliseconds, fixed or drawn from a distribution. Samples below 0 are 0.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Dist {
    /// Always this many ms.
    Fixed(f64),
    /// Exponential with this mean.
    Exponential {
        /// Mean, ms.
        mean_ms: f64,
    },
    /// Normal, truncated at 0.
    Normal {
        /// Mean, ms.
        mean_ms: f64,
        /// Standard deviation, ms.
        sd_ms: f64,
    },
    /// Log-normal with this mean and standard deviation (of the duration itself, not of its
    /// logarithm: the figures papers print).
    Lognormal {
        /// Mean, ms.
        mean_ms: f64,
        /// Standard deviation, ms.
        sd_ms: f64,
    },
    /// Uniform between two values.
    Uniform {
        /// Least, ms.
        min_ms: f64,
        /// Greatest, ms.
        max_ms: f64,
    },
    /// Empirical percentiles (as Azure's duration files give them), interpolated linearly
    /// between the points: a map from percentile (0..=100) to ms. The lowest and highest
    /// points bound the samples.
    Empirical(std::collections::BTreeMap<u32, f64>),
}

impl Dist {
    /// A zero duration.
    pub const ZERO: Dist = Dist::Fixed(0.0);

    /// Check the parameters; the message says which is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        let fine = match self {
            Dist::Fixed(v) => ok(*v),
            Dist::Exponential { mean_ms } => ok(*mean_ms),
            Dist::Normal { mean_ms, sd_ms } | Dist::Lognormal { mean_ms, sd_ms } => {
                ok(*mean_ms) && ok(*sd_ms)
            }
            Dist::Uniform { min_ms, max_ms } => ok(*min_ms) && ok(*max_ms) && min_ms <= max_ms,
            Dist::Empirical(points) => {
                !points.is_empty()
                    && points.keys().all(|&p| p <= 100)
                    && points.values().all(|&v| ok(v))
                    && points
                        .values()
                        .zip(points.values().skip(1))
                        .all(|(a, b)| a <= b)
            }
        };
        if fine {
            Ok(())
        } else {
            Err(format!(
                "expected non-negative, finite milliseconds (min ≤ max; empirical percentiles \
                 0..=100 with non-decreasing values), got {self:?}"
            ))
        }
    }

    /// The mean, ms (the empirical one by the trapezoid rule over its points).
    pub fn mean_ms(&self) -> f64 {
        match self {
            Dist::Fixed(v) => *v,
            Dist::Exponential { mean_ms }
            | Dist::Normal { mean_ms, .. }
            | Dist::Lognormal { mean_ms, .. } => *mean_ms,
            Dist::Uniform { min_ms, max_ms } => (min_ms + max_ms) / 2.0,
            Dist::Empirical(points) => {
                let pts: Vec<(f64, f64)> = points
                    .iter()
                    .map(|(&p, &v)| (p as f64 / 100.0, v))
                    .collect();
                let first = pts[0];
                let last = pts[pts.len() - 1];
                let mut area = first.0 * first.1 + (1.0 - last.0) * last.1;
                for w in pts.windows(2) {
                    area += (w[1].0 - w[0].0) * (w[0].1 + w[1].1) / 2.0;
                }
                area
            }
        }
    }

    /// One sample, in nanoseconds.
    pub fn sample_ns(&self, rng: &mut Stream) -> u64 {
        let ms = match self {
            Dist::Fixed(v) => *v,
            Dist::Exponential { mean_ms } => -mean_ms * rng.open01().ln(),
            Dist::Normal { mean_ms, sd_ms } => mean_ms + sd_ms * rng.standard_normal(),
            Dist::Lognormal { mean_ms, sd_ms } => {
                if *mean_ms <= 0.0 {
                    0.0
                } else {
                    let s2 = (1.0 + (sd_ms / mean_ms).powi(2)).ln();
                    let mu = mean_ms.ln() - s2 / 2.0;
                    (mu + s2.sqrt() * rng.standard_normal()).exp()
                }
            }
            Dist::Uniform { min_ms, max_ms } => min_ms + (max_ms - min_ms) * rng.open01(),
            Dist::Empirical(points) => {
                let u = rng.open01() * 100.0;
                let mut below = None;
                let mut value = *points.values().next_back().unwrap_or(&0.0);
                for (&p, &v) in points {
                    let p = f64::from(p);
                    if u <= p {
                        value = match below {
                            None => v,
                            Some((bp, bv)) if p > bp => bv + (v - bv) * (u - bp) / (p - bp),
                            Some(_) => v,
                        };
                        break;
                    }
                    below = Some((p, v));
                }
                value
            }
        };
        ms_to_ns(ms)
    }
}

/// Milliseconds (f64, possibly negative or not finite) to whole nanoseconds, 0 at least.
pub fn ms_to_ns(ms: f64) -> u64 {
    if ms.is_finite() && ms > 0.0 {
        (ms * 1e6).round().min(u64::MAX as f64) as u64
    } else {
        0
    }
}

/// A seeded random stream (one per function and purpose, so changing one function's model
/// leaves the others' samples as they were).
pub struct Stream(ChaCha12Rng);

impl Stream {
    /// The stream for `name` under the run's `seed`.
    pub fn new(seed: u64, name: &str) -> Stream {
        let mut rng = ChaCha12Rng::seed_from_u64(seed);
        rng.set_stream(crate::model::placement::fnv1a(name.as_bytes()));
        Stream(rng)
    }

    /// Uniform in (0, 1): never 0, so its logarithm is finite.
    pub fn open01(&mut self) -> f64 {
        ((self.0.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal by Box–Muller (one of the pair; the other is dropped so that every
    /// sample costs the same two uniforms).
    pub fn standard_normal(&mut self) -> f64 {
        let (u1, u2) = (self.open01(), self.open01());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_of(d: &Dist, n: usize) -> f64 {
        let mut s = Stream::new(1, "t");
        (0..n)
            .map(|_| d.sample_ns(&mut s) as f64 / 1e6)
            .sum::<f64>()
            / n as f64
    }

    #[test]
    fn sample_means_match_the_parameters() {
        for d in [
            Dist::Exponential { mean_ms: 20.0 },
            Dist::Normal {
                mean_ms: 50.0,
                sd_ms: 5.0,
            },
            Dist::Lognormal {
                mean_ms: 242.66,
                sd_ms: 340.67,
            },
            Dist::Uniform {
                min_ms: 10.0,
                max_ms: 30.0,
            },
            Dist::Empirical([(0, 1.0), (50, 10.0), (100, 19.0)].into_iter().collect()),
        ] {
            d.validate().unwrap();
            let m = mean_of(&d, 200_000);
            let want = d.mean_ms();
            assert!(
                (m - want).abs() / want < 0.03,
                "{d:?}: sample mean {m}, want {want}"
            );
        }
        assert_eq!(mean_of(&Dist::Fixed(7.5), 10), 7.5);
    }

    #[test]
    fn streams_repeat_and_differ_by_name() {
        let d = Dist::Exponential { mean_ms: 5.0 };
        let draw = |seed, name| {
            let mut s = Stream::new(seed, name);
            (0..5).map(|_| d.sample_ns(&mut s)).collect::<Vec<_>>()
        };
        assert_eq!(draw(3, "f"), draw(3, "f"));
        assert_ne!(draw(3, "f"), draw(3, "g"));
        assert_ne!(draw(3, "f"), draw(4, "f"));
    }

    #[test]
    fn bad_parameters_are_named() {
        assert!(Dist::Uniform {
            min_ms: 3.0,
            max_ms: 1.0
        }
        .validate()
        .is_err());
        assert!(Dist::Fixed(-1.0).validate().is_err());
        assert!(
            Dist::Empirical([(50, 9.0), (99, 1.0)].into_iter().collect())
                .validate()
                .is_err()
        );
    }
}
