//! Spreading a count of invocations over its minute (or second), as the In-Vitro loader
//! does, and drawing per-invocation durations and memory from percentile bands.
//!
//! Every (entry, bucket) pair draws from its own ChaCha12 streams (see [`stream`]): what a
//! function does in one minute never depends on other functions or other minutes, so a
//! window, a shard or a subset of functions reproduces the same arrivals.

use rand_chacha::ChaCha12Rng;

use crate::trace::arrivals::{rng_for, unit_f64};

/// The law of the gaps between the invocations of one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Iat {
    /// N exponential gaps, scaled to fill the minute exactly (Poisson given N).
    #[default]
    Exponential,
    /// N uniform gaps, scaled to fill the minute exactly.
    Uniform,
    /// Gaps of exactly one N-th of the minute.
    Equidistant,
}

impl Iat {
    /// Every law, by name.
    pub const ALL: [Iat; 3] = [Iat::Exponential, Iat::Uniform, Iat::Equidistant];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Iat::Exponential => "exponential",
            Iat::Uniform => "uniform",
            Iat::Equidistant => "equidistant",
        }
    }

    /// The law named `s`.
    pub fn parse(s: &str) -> Option<Iat> {
        Iat::ALL.into_iter().find(|i| i.name() == s)
    }
}

/// Largest entry number a stream can name (28 bits).
pub const MAX_ENTRIES: u32 = 1 << 28;

/// The stream of entry `entry` in bucket `bucket`: bucket in bits 28–62, entry in bits
/// 0–27, bit 63 clear for arrival times and set for durations and memory, so that changing
/// `--iat` leaves the durations drawn unchanged.
pub fn stream(bucket: u64, entry: u32, values: bool) -> u64 {
    ((values as u64) << 63) | ((bucket & ((1 << 35) - 1)) << 28) | u64::from(entry)
}

/// The offsets (ns from the bucket's start, each below `bucket_ns`) of `n` invocations,
/// unsorted when shifted. `gaps` is scratch space.
pub fn offsets(
    n: u32,
    bucket_ns: u64,
    iat: Iat,
    shift: bool,
    rng: &mut ChaCha12Rng,
    gaps: &mut Vec<f64>,
    mut out: impl FnMut(u64),
) {
    if n == 0 {
        return;
    }
    let len = bucket_ns as f64;
    gaps.clear();
    match iat {
        Iat::Equidistant => gaps.resize(n as usize, 1.0),
        Iat::Exponential => {
            gaps.extend((0..n).map(|_| -(1.0 - unit_f64(rng)).ln()));
        }
        // A zero draw is a zero gap; 1 − u keeps every gap positive so the sum is too.
        Iat::Uniform => gaps.extend((0..n).map(|_| 1.0 - unit_f64(rng))),
    }
    let total: f64 = gaps.iter().sum();
    // The In-Vitro shift: rotate the whole minute by a random offset, so that its first
    // invocation is not at :00 in every function at once.
    let shift_ns = if shift { unit_f64(rng) * len } else { 0.0 };
    let mut at = 0.0;
    for g in gaps.iter() {
        let t = (at / total * len + shift_ns) % len;
        out((t as u64).min(bucket_ns - 1));
        at += g;
    }
}

/// A distribution given by points of its quantile function: (percentile, value), sampled by
/// linear interpolation, which is what drawing a band by its width and then a value
/// uniformly within the band amounts to (In-Vitro's method). Below the first percentile
/// the first value holds (Azure's memory has no 0th percentile).
#[derive(Debug, Clone, PartialEq)]
pub struct Dist {
    points: Box<[(f32, f32)]>,
}

impl Dist {
    /// From (percentile in 0–100, value) points in increasing percentile.
    pub fn new(mut points: Vec<(f32, f32)>) -> Option<Dist> {
        points.retain(|(p, v)| p.is_finite() && v.is_finite());
        if points.is_empty() {
            return None;
        }
        // Percentiles of averages are not always monotone in the data: sort the values so
        // the quantile function is non-decreasing and every draw lies within [min, max].
        let mut values: Vec<f32> = points.iter().map(|p| p.1.max(0.0)).collect();
        values.sort_by(f32::total_cmp);
        for (p, v) in points.iter_mut().zip(values) {
            p.1 = v;
        }
        Some(Dist {
            points: points.into(),
        })
    }

    /// One value.
    pub fn constant(v: f32) -> Dist {
        Dist {
            points: Box::new([(0.0, v.max(0.0)), (100.0, v.max(0.0))]),
        }
    }

    /// The value at quantile `u` in [0, 1).
    pub fn at(&self, u: f64) -> f64 {
        let q = u * 100.0;
        let pts = &self.points;
        let Some(&(p0, v0)) = pts.first() else {
            return 0.0;
        };
        if q <= f64::from(p0) {
            return f64::from(v0);
        }
        for w in pts.windows(2) {
            let ((pa, va), (pb, vb)) = (w[0], w[1]);
            if q <= f64::from(pb) {
                let span = f64::from(pb - pa);
                if span <= 0.0 {
                    return f64::from(vb);
                }
                return f64::from(va) + f64::from(vb - va) * (q - f64::from(pa)) / span;
            }
        }
        f64::from(pts[pts.len() - 1].1)
    }

    /// A value drawn from `rng`.
    pub fn sample(&self, rng: &mut ChaCha12Rng) -> f64 {
        self.at(unit_f64(rng))
    }

    /// The largest value.
    pub fn max(&self) -> f64 {
        self.points.last().map_or(0.0, |p| f64::from(p.1))
    }

    /// Every value multiplied by `k` (memory of an app split over its functions).
    pub fn scaled(&self, k: f32) -> Dist {
        Dist {
            points: self.points.iter().map(|&(p, v)| (p, v * k)).collect(),
        }
    }
}

/// One invocation of a bucket waiting to be sorted: offset and entry packed into one key
/// (offset in the high 36 bits, entry in the low 28), and its drawn values.
#[derive(Debug, Clone, Copy)]
pub struct Pending {
    /// `offset_ns << 28 | entry`.
    pub key: u64,
    /// Drawn duration, ms (negative: none).
    pub duration_ms: f32,
    /// Drawn memory, MB (negative: none).
    pub memory_mb: f32,
}

impl Pending {
    /// Offset from the bucket's start, ns.
    pub fn offset_ns(&self) -> u64 {
        self.key >> 28
    }

    /// The entry.
    pub fn entry(&self) -> u32 {
        (self.key & (u64::from(MAX_ENTRIES) - 1)) as u32
    }
}

/// What each entry draws per invocation.
pub trait Values {
    /// Duration and memory distributions of entry `e`.
    fn dists(&self, e: u32) -> (Option<&Dist>, Option<&Dist>);
}

/// Expand one bucket's (entry, count) cells into `out`, sorted by (offset, entry).
/// `bucket_ns` must be at most 2^36 ns (about 68 s).
#[allow(clippy::too_many_arguments)]
pub fn expand_bucket(
    cells: &[(u32, u32)],
    bucket: u64,
    bucket_ns: u64,
    seed: u64,
    iat: Iat,
    shift: bool,
    values: &dyn Values,
    out: &mut Vec<Pending>,
    gaps: &mut Vec<f64>,
) {
    debug_assert!(bucket_ns <= 1 << 36);
    out.clear();
    for &(e, n) in cells {
        let mut rng = rng_for(seed, stream(bucket, e, false));
        let start = out.len();
        offsets(n, bucket_ns, iat, shift, &mut rng, gaps, |off| {
            out.push(Pending {
                key: (off << 28) | u64::from(e),
                duration_ms: -1.0,
                memory_mb: -1.0,
            })
        });
        let (dur, mem) = values.dists(e);
        if dur.is_some() || mem.is_some() {
            let mut vr = rng_for(seed, stream(bucket, e, true));
            for p in &mut out[start..] {
                if let Some(d) = dur {
                    p.duration_ms = d.sample(&mut vr) as f32;
                }
                if let Some(m) = mem {
                    p.memory_mb = m.sample(&mut vr) as f32;
                }
            }
        }
    }
    out.sort_unstable_by_key(|p| p.key);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(n: u32, iat: Iat, shift: bool, seed: u64) -> Vec<u64> {
        let mut rng = rng_for(seed, 5);
        let mut v = Vec::new();
        offsets(
            n,
            60_000_000_000,
            iat,
            shift,
            &mut rng,
            &mut Vec::new(),
            |t| v.push(t),
        );
        v
    }

    #[test]
    fn unshifted_minutes_start_at_zero_and_fill_the_minute() {
        for iat in Iat::ALL {
            let t = times(100, iat, false, 1);
            assert_eq!(t.len(), 100);
            assert_eq!(t[0], 0, "{iat:?}");
            assert!(t.windows(2).all(|w| w[0] <= w[1]), "{iat:?}");
            assert!(*t.last().unwrap() < 60_000_000_000);
        }
        let eq = times(4, Iat::Equidistant, false, 0);
        assert_eq!(eq, [0, 15_000_000_000, 30_000_000_000, 45_000_000_000]);
    }

    #[test]
    fn shift_moves_the_first_arrival_off_zero() {
        // Over many seeds the earliest arrival of a 1-invocation minute is uniform in the
        // minute: its mean is near 30 s, not 0.
        let mean = (0..2000)
            .map(|s| times(1, Iat::Exponential, true, s)[0] as f64)
            .sum::<f64>()
            / 2000.0;
        assert!((mean / 1e9 - 30.0).abs() < 1.5, "{mean}");
        let eq = times(4, Iat::Equidistant, true, 3);
        let mut sorted = eq.clone();
        sorted.sort_unstable();
        let gaps: Vec<u64> = sorted.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.iter().all(|g| g.abs_diff(15_000_000_000) <= 1),
            "{gaps:?}"
        );
    }

    #[test]
    fn exponential_gaps_have_cv_near_one() {
        let t = times(20_000, Iat::Exponential, false, 9);
        let gaps: Vec<f64> = t.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        let cv = var.sqrt() / mean;
        assert!((cv - 1.0).abs() < 0.05, "{cv}");
        let u = times(20_000, Iat::Uniform, false, 9);
        let gaps: Vec<f64> = u.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        // Uniform gaps: CV = 1/sqrt(3).
        assert!((var.sqrt() / mean - 0.577).abs() < 0.03);
    }

    #[test]
    fn percentile_bands_interpolate() {
        let d = Dist::new(vec![(0.0, 10.0), (50.0, 20.0), (100.0, 40.0)]).unwrap();
        assert_eq!(d.at(0.0), 10.0);
        assert_eq!(d.at(0.25), 15.0);
        assert_eq!(d.at(0.75), 30.0);
        assert_eq!(d.max(), 40.0);
        let mem = Dist::new(vec![(1.0, 100.0), (100.0, 200.0)]).unwrap();
        assert_eq!(mem.at(0.005), 100.0);
        // Draws follow the bands: the median of many draws is the 50th percentile.
        let mut rng = rng_for(1, 1);
        let mut v: Vec<f64> = (0..10_001).map(|_| d.sample(&mut rng)).collect();
        v.sort_by(f64::total_cmp);
        assert!((v[5000] - 20.0).abs() < 0.5, "{}", v[5000]);
        let odd = Dist::new(vec![(0.0, 5.0), (50.0, 3.0), (100.0, 9.0)]).unwrap();
        assert_eq!(odd.at(0.0), 3.0);
        assert!(Dist::new(vec![(0.0, f32::NAN)]).is_none());
    }
}
