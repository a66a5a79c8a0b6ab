//! One metric's streaming accumulator (count, mean, variance, exact min/max, quantiles) and
//! its description with confidence intervals.
//!
//! Memory stays bounded for any number of values: values are kept (exact quantiles) until
//! there are [`KEEP_CAP`] of them or the caller asks to [`Metric::spill`] them to save memory;
//! from then on they live in an HDR histogram with [`FINE_DIGITS`] significant digits, so
//! quantiles are within 0.1 % (or one `unit`, whichever is larger) of the exact ones. A
//! caller short of memory can [`Metric::coarsen`] a histogram (or spill straight into one,
//! [`Metric::spill_with`]) to [`COARSE_DIGITS`]: within 1 %, about 7 times smaller. Count,
//! mean, variance, min and max stay exact in every regime (Welford's update, which does not
//! lose precision the way the sum-of-squares formula does on large values with a small
//! spread).

use hdrhistogram::Histogram;
use serde::Serialize;

use super::dist;
use super::reservoir::Reservoir;

/// Values kept for exact quantiles before a metric moves to its histogram.
pub const KEEP_CAP: usize = 200_000;

/// Significant digits of a histogram at full precision: a quantile within 0.1 % (a bucket
/// is at most 1/1024 of its values wide), ~45–60 KB for values from 1 µs up to 1–10 s.
pub const FINE_DIGITS: u8 = 3;

/// Significant digits of a histogram coarsened to save memory: a quantile within 1 % (a
/// bucket is at most 1/128 of its values wide), ~6–9 KB over the same range.
pub const COARSE_DIGITS: u8 = 2;

/// A closed interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// Lower end.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
}

/// A quantile estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Quantile {
    /// Which quantile (0.5 is the median).
    pub p: f64,
    /// Its estimate: the order statistic `X(⌈n·p⌉)` (nearest rank), except the median of an
    /// even count, which is the mean of the two middle values.
    pub value: f64,
    /// The estimate is the largest value: fewer than `1/(1−p)` samples, so there is no value
    /// above it and it says only "at most the max".
    pub is_max: bool,
    /// Order-statistic confidence interval `[X(j), X(k)]`; `None` when `n` is too small for
    /// one at the requested confidence.
    pub ci: Option<Interval>,
}

/// What a metric's values say, at a confidence level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Description {
    /// Number of values.
    pub n: u64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1 denominator); `None` below 2 values.
    pub std: Option<f64>,
    /// Coefficient of variation, std / mean; `None` without a std or with a zero mean.
    pub cv: Option<f64>,
    /// Smallest value (exact).
    pub min: f64,
    /// Largest value (exact).
    pub max: f64,
    /// Student-t confidence interval of the mean; `None` below 2 values.
    pub mean_ci: Option<Interval>,
    /// The requested quantiles.
    pub quantiles: Vec<Quantile>,
    /// Quantiles are exact (`false`: from a histogram, see `histogram_digits`).
    pub exact: bool,
    /// Significant digits of the histogram the quantiles come from ([`FINE_DIGITS`]: within
    /// 0.1 %, [`COARSE_DIGITS`]: within 1 %); `None` when they are exact.
    pub histogram_digits: Option<u8>,
}

impl Description {
    /// The quantile `p` if it was requested.
    pub fn quantile(&self, p: f64) -> Option<&Quantile> {
        self.quantiles.iter().find(|q| q.p == p)
    }
}

/// The streaming accumulator of one metric.
#[derive(Debug, Clone)]
pub struct Metric {
    n: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
    kept: Vec<f64>,
    /// Histogram regime, in `unit`s.
    hist: Option<Hist>,
    unit: f64,
    reservoir: Option<Reservoir>,
}

/// |values| in `unit`s, negative ones apart: times from another clock can be below zero,
/// and an HDR histogram holds non-negative integers only. Both have the same precision.
#[derive(Debug, Clone)]
struct Hist {
    pos: Histogram<u32>,
    /// Made on the first negative value: result records never have one, and an empty
    /// histogram still costs 1–8 KB.
    neg: Option<Histogram<u32>>,
}

/// An auto-resizing histogram of `digits` significant digits sized for values up to
/// `2 · top`. Auto-resizing alone would start at 2 and grow the counts by `Vec::resize`,
/// whose amortized growth can leave half the buffer unused; a bucket of headroom past the
/// largest value so far (the max of a light-tailed sample grows with the log of its size)
/// makes a later resize rare, for ~6 % more memory.
fn new_hist(digits: u8, top: u64) -> Histogram<u32> {
    let high = top.saturating_mul(2).clamp(2, MAX_STEPS);
    let mut h = Histogram::new_with_bounds(1, high, digits)
        .expect("at most 5 significant digits and a high of at least 2 are valid");
    h.auto(true);
    h
}

/// Largest recorded number of steps, about 2⁶² (146 years in ns), within the range an
/// auto-resizing histogram can grow to: larger values are recorded as this.
const MAX_STEPS: u64 = 4_600_000_000_000_000_000;

impl Hist {
    fn digits(&self) -> u8 {
        self.pos.sigfig()
    }

    fn bytes(&self) -> usize {
        let counts = |h: &Histogram<u32>| h.distinct_values() * std::mem::size_of::<u32>();
        counts(&self.pos) + self.neg.as_ref().map_or(0, counts)
    }

    /// The same counts in a histogram of `digits` (fewer) significant digits.
    fn coarsened(&self, digits: u8) -> Hist {
        let copy = |h: &Histogram<u32>| {
            let mut c = new_hist(digits, h.max());
            add_hist(&mut c, h);
            c
        };
        Hist {
            pos: copy(&self.pos),
            neg: self.neg.as_ref().map(copy),
        }
    }

    /// Add `other`'s counts; `other` must have at least as many digits as `self`.
    fn add(&mut self, other: &Hist) {
        debug_assert!(other.digits() >= self.digits());
        add_hist(&mut self.pos, &other.pos);
        if let Some(o) = &other.neg {
            let digits = self.digits();
            let neg = self.neg.get_or_insert_with(|| new_hist(digits, o.max()));
            add_hist(neg, o);
        }
    }
}

/// Add `src`'s counts into `dst`, which has at most as many significant digits. HDR buckets
/// are power-of-two aligned ranges, so each bucket of a histogram with more digits lies
/// inside one bucket of a histogram with fewer: `add` records each source bucket at its
/// lowest value, which lands in the bucket its values would have, and the result is exactly
/// the histogram of every value recorded at `dst`'s precision. (The other way round, a
/// coarse bucket's count would land at its lowest value and claim a precision it lacks.)
fn add_hist(dst: &mut Histogram<u32>, src: &Histogram<u32>) {
    debug_assert!(dst.sigfig() <= src.sigfig());
    // `add` saturates counts; it fails only when it cannot grow `dst` to `src`'s max.
    if dst.add(src).is_err() {
        for it in src.iter_recorded() {
            dst.saturating_record_n(it.value_iterated_to(), it.count_at_value());
        }
    }
}

impl Metric {
    /// An empty metric whose histogram (if it comes to one) counts in steps of `unit`
    /// (e.g. 0.001 for ms values kept to the µs).
    pub fn new(unit: f64) -> Metric {
        Metric {
            n: 0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            kept: Vec::new(),
            hist: None,
            unit,
            reservoir: None,
        }
    }

    /// Also keep a uniform random subsample of at most `size` values (deterministic: fixed
    /// seed) for comparing runs.
    pub fn with_sample(mut self, size: usize) -> Metric {
        self.reservoir = Some(Reservoir::new(size));
        self
    }

    /// Add one value; non-finite values are ignored (they cannot come from a parsed record).
    pub fn add(&mut self, v: f64) {
        if !v.is_finite() {
            return;
        }
        self.n += 1;
        let delta = v - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (v - self.mean);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        if let Some(r) = &mut self.reservoir {
            r.add(v);
        }
        match &mut self.hist {
            Some(h) => record(h, v, self.unit),
            None => {
                self.kept.push(v);
                if self.kept.len() > KEEP_CAP {
                    self.spill();
                }
            }
        }
    }

    /// Move the kept values into the histogram and free them (quantiles come from a
    /// [`FINE_DIGITS`] histogram, or the coarser one the metric already has).
    pub fn spill(&mut self) {
        self.spill_with(FINE_DIGITS);
    }

    /// [`Metric::spill`] into a histogram of at most `digits` significant digits (at most
    /// 5): one made with `digits`, or the existing one, coarsened to `digits` if it has
    /// more.
    pub fn spill_with(&mut self, digits: u8) {
        self.coarsen(digits);
        // Sized for the values so far (after a merge, both sides').
        let top = if self.n == 0 {
            0
        } else {
            (self.min.abs().max(self.max.abs()) / self.unit) as u64
        };
        let h = self.hist.get_or_insert_with(|| Hist {
            pos: new_hist(digits, top),
            neg: None,
        });
        for v in self.kept.drain(..) {
            record(h, v, self.unit);
        }
        self.kept = Vec::new();
    }

    /// Move the histogram, if there is one with more than `digits` significant digits, to
    /// `digits`: quantiles as if every value had been recorded at that precision. Kept
    /// values stay kept.
    pub fn coarsen(&mut self, digits: u8) {
        if let Some(h) = &mut self.hist {
            if h.digits() > digits {
                *h = h.coarsened(digits);
            }
        }
    }

    /// Significant digits of the histogram; `None` while the values are kept (exact).
    pub fn histogram_digits(&self) -> Option<u8> {
        self.hist.as_ref().map(Hist::digits)
    }

    /// Bytes of the histogram's counts (0 while exact): the memory it takes, up to a few
    /// hundred bytes of bookkeeping.
    pub fn hist_bytes(&self) -> usize {
        self.hist.as_ref().map_or(0, Hist::bytes)
    }

    /// Add everything `other` holds, as if its values had been added here (up to the last
    /// bits of the mean and variance, combined with Chan et al.'s pairwise formula). The
    /// quantiles are as precise as the less precise side: a histogram takes the fewer
    /// significant digits of the two. The comparison subsample is not merged: merge metrics
    /// built without one.
    pub fn merge(&mut self, other: &Metric) {
        if other.n == 0 {
            return;
        }
        let n = self.n + other.n;
        let delta = other.mean - self.mean;
        self.mean += delta * other.n as f64 / n as f64;
        self.m2 += other.m2 + delta * delta * self.n as f64 * other.n as f64 / n as f64;
        self.n = n;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        match (&mut self.hist, &other.hist) {
            (None, None) => {
                self.kept.extend_from_slice(&other.kept);
                if self.kept.len() > KEEP_CAP {
                    self.spill();
                }
            }
            (Some(h), None) => {
                for &v in &other.kept {
                    record(h, v, self.unit);
                }
            }
            (_, Some(o)) => {
                // Coarsen this side first if the other is coarser: counts only go from
                // more digits to fewer (see `add_hist`).
                self.spill_with(o.digits());
                self.hist.as_mut().expect("spilled").add(o);
            }
        }
    }

    /// Values currently kept for exact quantiles.
    pub fn kept_len(&self) -> usize {
        self.kept.len()
    }

    /// Number of values added.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// The comparison subsample (empty without [`Metric::with_sample`]).
    pub fn sample(&self) -> &[f64] {
        self.reservoir.as_ref().map_or(&[], |r| r.values())
    }

    /// Describe the values: the quantiles `ps` and the intervals at `confidence` (0 < c < 1).
    /// `None` when there are no values.
    pub fn describe(&self, ps: &[f64], confidence: f64) -> Option<Description> {
        if self.n == 0 {
            return None;
        }
        let n = self.n;
        // Every rank the figures read: each quantile's estimate and interval ends.
        let plan: Vec<(f64, Option<(u64, u64)>)> = ps
            .iter()
            .map(|&p| (p, quantile_ranks(n, p, confidence)))
            .collect();
        let mut wanted: Vec<u64> = Vec::new();
        for &(p, ci) in &plan {
            if p == 0.5 && n.is_multiple_of(2) {
                wanted.extend([n / 2, n / 2 + 1]);
            } else {
                wanted.push(((n as f64 * p).ceil() as u64).clamp(1, n));
            }
            if let Some((j, k)) = ci {
                wanted.extend([j, k]);
            }
        }
        let ranks = Ranks {
            picked: if self.hist.is_none() {
                pick_ranks(&self.kept, wanted)
            } else {
                Vec::new()
            },
            hist: self.hist.as_ref(),
            n: self.n,
            unit: self.unit,
            min: self.min,
            max: self.max,
        };
        let std = (n >= 2).then(|| (self.m2 / (n - 1) as f64).max(0.0).sqrt());
        let alpha = 1.0 - confidence;
        let mean_ci = std.map(|s| {
            let half = dist::t_quantile(1.0 - alpha / 2.0, (n - 1) as f64) * s / (n as f64).sqrt();
            Interval {
                lo: self.mean - half,
                hi: self.mean + half,
            }
        });
        let quantiles = plan
            .into_iter()
            .map(|(p, ci)| {
                let (value, is_max) = if p == 0.5 && n.is_multiple_of(2) {
                    (0.5 * (ranks.at(n / 2) + ranks.at(n / 2 + 1)), false)
                } else {
                    let k = ((n as f64 * p).ceil() as u64).clamp(1, n);
                    (ranks.at(k), k == n)
                };
                Quantile {
                    p,
                    value,
                    is_max,
                    ci: ci.map(|(j, k)| Interval {
                        lo: ranks.at(j),
                        hi: ranks.at(k),
                    }),
                }
            })
            .collect();
        Some(Description {
            n,
            mean: self.mean,
            std,
            cv: std.and_then(|s| (self.mean != 0.0).then(|| s / self.mean.abs())),
            min: self.min,
            max: self.max,
            mean_ci,
            quantiles,
            exact: self.hist.is_none(),
            histogram_digits: self.histogram_digits(),
        })
    }
}

fn record(h: &mut Hist, v: f64, unit: f64) {
    // + ½ and truncate: round() is a libm call, and this runs once per value.
    let steps = v.abs() / unit + 0.5;
    // Saturate: a value past 2⁶² steps is recorded as that bound.
    let steps = steps.min(MAX_STEPS as f64) as u64;
    let target = if v < 0.0 {
        let digits = h.digits();
        h.neg.get_or_insert_with(|| new_hist(digits, steps))
    } else {
        &mut h.pos
    };
    // `record` grows the auto-resizing histogram (`saturating_record` would clamp to its
    // current range instead); it fails only past the bound above.
    if target.record(steps).is_err() {
        target.saturating_record(steps);
    }
}

/// The k-th smallest value (1-based) from the kept values or the histograms.
struct Ranks<'a> {
    /// (rank, value) of the kept values' ranks asked for, by rank.
    picked: Vec<(u64, f64)>,
    hist: Option<&'a Hist>,
    n: u64,
    unit: f64,
    min: f64,
    max: f64,
}

impl Ranks<'_> {
    fn at(&self, k: u64) -> f64 {
        let k = k.clamp(1, self.n);
        // The extremes are exact in both regimes.
        if k == 1 {
            return self.min;
        }
        if k == self.n {
            return self.max;
        }
        match self.hist {
            None => {
                let i = self.picked.partition_point(|&(r, _)| r < k);
                self.picked[i].1
            }
            Some(Hist { pos, neg }) => {
                let n_neg = neg.as_ref().map_or(0, Histogram::len);
                let v = match neg {
                    Some(neg) if k <= n_neg => -(hist_rank(neg, n_neg - k + 1) as f64) * self.unit,
                    _ => hist_rank(pos, k - n_neg) as f64 * self.unit,
                };
                v.clamp(self.min, self.max)
            }
        }
    }
}

/// The values at `ranks` (1-based) of `kept`, by rank: selections on successively smaller
/// tails of one copy, about three times cheaper than sorting it for the ~10 ranks needed.
fn pick_ranks(kept: &[f64], mut ranks: Vec<u64>) -> Vec<(u64, f64)> {
    ranks.sort_unstable();
    ranks.dedup();
    let mut v = kept.to_vec();
    let mut out = Vec::with_capacity(ranks.len());
    let mut start = 0usize;
    for r in ranks {
        let i = (r - 1) as usize;
        if i >= v.len() {
            break;
        }
        let (_, x, _) = v[start..].select_nth_unstable_by(i - start, f64::total_cmp);
        out.push((r, *x));
        start = i;
    }
    out
}

/// The k-th smallest recorded value (1-based) of a histogram: its bucket's upper edge.
fn hist_rank(h: &Histogram<u32>, k: u64) -> u64 {
    let mut seen = 0u64;
    for it in h.iter_recorded() {
        seen += u64::from(it.count_at_value());
        if seen >= k {
            return h.highest_equivalent(it.value_iterated_to());
        }
    }
    h.max()
}

/// The ranks `(j, k)` of the order-statistic confidence interval `[X(j), X(k)]` of the
/// p-quantile of `n` values at `confidence` (Le Boudec, Theorem 2.1): with B ~ Bin(n, p),
/// `j` is the largest rank with `P(B ≤ j−1) ≤ α/2` and `k` the smallest with
/// `P(B ≥ k) ≤ α/2`, so the interval covers the true quantile with probability
/// `P(j ≤ B ≤ k−1) ≥ 1 − α` for any continuous distribution. `None` when no rank satisfies
/// one of the two (e.g. the median below 6 values at 95 %).
pub fn quantile_ranks(n: u64, p: f64, confidence: f64) -> Option<(u64, u64)> {
    if n == 0 || !(0.0..1.0).contains(&p) || p == 0.0 {
        return None;
    }
    let half = (1.0 - confidence) / 2.0;
    let cdf = |k: u64| dist::binomial_cdf(k, n, p);
    if cdf(0) > half {
        return None;
    }
    // Largest j in [1, n] with cdf(j − 1) ≤ α/2 (cdf increases with j).
    let (mut lo, mut hi) = (1u64, n);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if cdf(mid - 1) <= half {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let j = lo;
    if cdf(n - 1) < 1.0 - half {
        return None;
    }
    // Smallest k in [1, n] with cdf(k − 1) ≥ 1 − α/2, i.e. P(B ≥ k) ≤ α/2.
    let (mut lo, mut hi) = (1u64, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if cdf(mid - 1) >= 1.0 - half {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some((j, lo))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    /// The sample 1..=10 ms plus an outlier: every figure below is worked by hand.
    #[test]
    fn fixed_sample_matches_hand_computation() {
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let mut m = Metric::new(0.001);
        for x in xs {
            m.add(x);
        }
        let d = m.describe(&[0.5, 0.9, 0.99], 0.95).unwrap();
        // mean = 40/8 = 5; Σ(x−5)² = 9+1+1+1+0+0+4+16 = 32; s² = 32/7; s = 2.138090.
        assert_eq!(d.n, 8);
        assert!(close(d.mean, 5.0, 1e-12));
        let s = (32.0f64 / 7.0).sqrt();
        assert!(close(d.std.unwrap(), s, 1e-12));
        assert!(close(d.cv.unwrap(), s / 5.0, 1e-12));
        // t(0.975, 7) = 2.364624; half-width = 2.364624 · 2.138090 / 2.828427 = 1.787488.
        let ci = d.mean_ci.unwrap();
        assert!(close(ci.lo, 5.0 - 1.787488, 2e-6), "{ci:?}");
        assert!(close(ci.hi, 5.0 + 1.787488, 2e-6), "{ci:?}");
        // Median of an even count: (x(4) + x(5)) / 2 = (4 + 5) / 2.
        let med = d.quantile(0.5).unwrap();
        assert_eq!(med.value, 4.5);
        assert!(!med.is_max);
        // n = 8 at 95 %: P(B ≤ 0) = 1/256 ≤ 0.025 < P(B ≤ 1) = 9/256, so j = 1 and k = 8:
        // [x(1), x(8)] = [2, 9], coverage 1 − 2/256.
        assert_eq!(med.ci, Some(Interval { lo: 2.0, hi: 9.0 }));
        // p90: ⌈7.2⌉ = 8 → the max, and so is p99; no interval exists for them at n = 8.
        let p90 = d.quantile(0.9).unwrap();
        assert_eq!((p90.value, p90.is_max, p90.ci), (9.0, true, None));
        assert!(d.quantile(0.99).unwrap().is_max);
        assert!(d.exact);
        assert_eq!((d.min, d.max), (2.0, 9.0));
    }

    #[test]
    fn median_ranks_match_le_boudec_table() {
        // Median at 95 % (ranks worked out with exact binomial sums, Python's math.comb):
        // n < 6 has no interval; n = 6 → [1, 6], n = 10 → [2, 9], n = 20 → [6, 15],
        // n = 50 → [18, 33], n = 100 → [40, 61].
        for n in 1..6 {
            assert_eq!(quantile_ranks(n, 0.5, 0.95), None, "n = {n}");
        }
        assert_eq!(quantile_ranks(6, 0.5, 0.95), Some((1, 6)));
        assert_eq!(quantile_ranks(10, 0.5, 0.95), Some((2, 9)));
        assert_eq!(quantile_ranks(20, 0.5, 0.95), Some((6, 15)));
        assert_eq!(quantile_ranks(50, 0.5, 0.95), Some((18, 33)));
        assert_eq!(quantile_ranks(100, 0.5, 0.95), Some((40, 61)));
        // 99 %: n = 8 is the first with an interval (P(B ≤ 0) = 1/256 ≤ 0.005).
        assert_eq!(quantile_ranks(7, 0.5, 0.99), None);
        assert_eq!(quantile_ranks(8, 0.5, 0.99), Some((1, 8)));
        // p99 at 95 %: the upper rank must exist, P(B ≥ n) = 0.99ⁿ ≤ 0.025, so n ≥ 368;
        // at 368 the interval is [x(360), x(368)].
        assert_eq!(quantile_ranks(367, 0.99, 0.95), None);
        assert_eq!(quantile_ranks(368, 0.99, 0.95), Some((360, 368)));
    }

    #[test]
    fn single_value_has_no_spread() {
        let mut m = Metric::new(1.0);
        m.add(3.0);
        let d = m.describe(&[0.5], 0.95).unwrap();
        assert_eq!(
            (d.n, d.mean, d.std, d.mean_ci, d.cv),
            (1, 3.0, None, None, None)
        );
        assert_eq!(d.quantiles[0].value, 3.0);
        assert!(d.quantiles[0].ci.is_none());
        assert!(Metric::new(1.0).describe(&[0.5], 0.95).is_none());
    }

    #[test]
    fn histogram_regime_stays_within_three_digits() {
        // 1..=300 000 µs as ms: past the keep cap, quantiles come from the histogram.
        let mut exact = Metric::new(0.001);
        let mut spilled = Metric::new(0.001);
        for i in 1..=300_000u64 {
            let v = i as f64 / 1000.0;
            exact.add(v);
            spilled.add(v);
            if i == 10 {
                spilled.spill();
            }
        }
        assert_eq!(exact.kept_len(), 0, "the cap moved values to the histogram");
        let d = exact.describe(&[0.5, 0.9, 0.99], 0.95).unwrap();
        assert!(!d.exact);
        assert!(close(d.mean, 150.0005, 1e-9));
        assert_eq!((d.min, d.max), (0.001, 300.0));
        for q in &d.quantiles {
            let want = (q.p * 300_000.0).ceil() / 1000.0;
            assert!(close(q.value, want, want * 1e-3), "{q:?} vs {want}");
            let ci = q.ci.unwrap();
            assert!(ci.lo <= q.value && q.value <= ci.hi, "{q:?}");
        }
        assert_eq!(d, spilled.describe(&[0.5, 0.9, 0.99], 0.95).unwrap());
    }

    #[test]
    fn merge_equals_adding_everything() {
        // Exact + exact, exact + histogram, histogram + exact: same figures as one stream.
        let xs: Vec<f64> = (0..5000)
            .map(|i| ((i * 7919) % 5003) as f64 / 10.0)
            .collect();
        let mut whole = Metric::new(0.001);
        xs.iter().for_each(|&x| whole.add(x));
        for (cut, spill_a, spill_b) in
            [(1000, false, false), (3000, false, true), (10, true, false)]
        {
            let (mut a, mut b) = (Metric::new(0.001), Metric::new(0.001));
            xs[..cut].iter().for_each(|&x| a.add(x));
            xs[cut..].iter().for_each(|&x| b.add(x));
            if spill_a {
                a.spill();
            }
            if spill_b {
                b.spill();
            }
            a.merge(&b);
            let (dm, dw) = (
                a.describe(&[0.5, 0.9], 0.95).unwrap(),
                whole.describe(&[0.5, 0.9], 0.95).unwrap(),
            );
            assert_eq!((dm.n, dm.min, dm.max), (dw.n, dw.min, dw.max));
            assert!(close(dm.mean, dw.mean, 1e-9) && close(dm.std.unwrap(), dw.std.unwrap(), 1e-9));
            let exact = !(spill_a || spill_b);
            assert_eq!(dm.exact, exact);
            for (qm, qw) in dm.quantiles.iter().zip(&dw.quantiles) {
                let tol = if exact { 0.0 } else { qw.value * 1e-3 };
                assert!(close(qm.value, qw.value, tol), "{qm:?} {qw:?}");
            }
        }
    }

    /// Exponential quantiles with mean 100 ms, in ms, spread so that the smallest is a few
    /// µs and the largest ~1.2 s: every bucket size of the histogram is used.
    fn exponential(n: u64) -> Vec<f64> {
        (0..n)
            .map(|i| {
                // A fixed permutation of the ranks, so that order does not help anything.
                let k = (i * 7919) % n;
                -(1.0 - (k as f64 + 0.5) / n as f64).ln() * 100.0
            })
            .collect()
    }

    const PS: [f64; 7] = [0.01, 0.1, 0.25, 0.5, 0.9, 0.99, 0.999];

    #[test]
    fn coarse_histogram_stays_within_one_percent() {
        let xs = exponential(100_000);
        let (mut exact, mut coarse, mut fine) =
            (Metric::new(0.001), Metric::new(0.001), Metric::new(0.001));
        for (i, &x) in xs.iter().enumerate() {
            exact.add(x);
            coarse.add(x);
            fine.add(x);
            if i == 100 {
                coarse.spill_with(COARSE_DIGITS);
                fine.spill();
            }
        }
        let want = exact.describe(&PS, 0.95).unwrap();
        let got = coarse.describe(&PS, 0.95).unwrap();
        assert!(want.exact && want.histogram_digits.is_none());
        assert!(!got.exact);
        assert_eq!(got.histogram_digits, Some(COARSE_DIGITS));
        assert_eq!((got.n, got.min, got.max), (want.n, want.min, want.max));
        let mut worst = 0.0f64;
        for (g, w) in got.quantiles.iter().zip(&want.quantiles) {
            // Within 1 %, or one step (1 µs) for the smallest values.
            let err = (g.value - w.value).abs();
            assert!(err <= (w.value * 0.01).max(0.001), "{g:?} vs {w:?}");
            worst = worst.max(err / w.value);
        }
        // The precision is really the coarser one: beyond 3 digits' 0.1 % somewhere.
        assert!(worst > 1e-3, "worst relative error {worst}");
        // And the memory is really smaller: 8 times fewer counts per bucket, though the
        // range takes 3 more buckets (1 920 counts against 12 288 here).
        let (c, f) = (coarse.hist_bytes(), fine.hist_bytes());
        assert!(c > 0 && c * 5 < f, "coarse {c} B, fine {f} B");
    }

    #[test]
    fn coarsening_equals_recording_coarse() {
        // Buckets of 2 digits hold whole buckets of 3: coarsening a 3-digit histogram
        // gives exactly what recording every value at 2 digits gives.
        let xs = exponential(50_000);
        let (mut later, mut direct) = (Metric::new(0.001), Metric::new(0.001));
        for (i, &x) in xs.iter().enumerate() {
            later.add(x);
            direct.add(x);
            if i == 10 {
                later.spill();
                direct.spill_with(COARSE_DIGITS);
            }
        }
        later.add(-3.0); // a negative value too
        direct.add(-3.0);
        assert_eq!(later.histogram_digits(), Some(FINE_DIGITS));
        later.coarsen(COARSE_DIGITS);
        assert_eq!(later.histogram_digits(), Some(COARSE_DIGITS));
        assert_eq!(later.describe(&PS, 0.95), direct.describe(&PS, 0.95));
        // Coarsening is one-way, and spilling a coarse metric keeps it coarse.
        later.coarsen(FINE_DIGITS);
        later.spill();
        assert_eq!(later.histogram_digits(), Some(COARSE_DIGITS));
    }

    #[test]
    fn merge_across_precisions_takes_the_coarser() {
        let xs = exponential(40_000);
        let (head, tail) = xs.split_at(15_000);
        let mut whole = Metric::new(0.001);
        xs.iter().for_each(|&x| whole.add(x));
        whole.spill_with(COARSE_DIGITS);
        let want = whole.describe(&PS, 0.95).unwrap();
        // Fine into coarse, coarse into fine, coarse into exact, exact into coarse.
        for (a_digits, b_digits) in [
            (Some(COARSE_DIGITS), Some(FINE_DIGITS)),
            (Some(FINE_DIGITS), Some(COARSE_DIGITS)),
            (None, Some(COARSE_DIGITS)),
            (Some(COARSE_DIGITS), None),
        ] {
            let (mut a, mut b) = (Metric::new(0.001), Metric::new(0.001));
            head.iter().for_each(|&x| a.add(x));
            tail.iter().for_each(|&x| b.add(x));
            if let Some(d) = a_digits {
                a.spill_with(d);
            }
            if let Some(d) = b_digits {
                b.spill_with(d);
            }
            a.merge(&b);
            let got = a.describe(&PS, 0.95).unwrap();
            assert_eq!(got.histogram_digits, Some(COARSE_DIGITS));
            assert_eq!((got.n, got.min, got.max), (want.n, want.min, want.max));
            assert!(close(got.mean, want.mean, 1e-9));
            // The same buckets as one coarse stream: the same quantiles, not just close.
            assert_eq!(got.quantiles, want.quantiles, "{a_digits:?} + {b_digits:?}");
        }
    }

    #[test]
    fn negative_values_keep_their_order_in_the_histogram() {
        let mut m = Metric::new(1.0);
        for v in [-300.0, -200.0, -100.0, 100.0, 200.0] {
            m.add(v);
        }
        m.spill();
        let d = m.describe(&[0.2, 0.4, 0.6], 0.95).unwrap();
        let vals: Vec<f64> = d.quantiles.iter().map(|q| q.value).collect();
        assert_eq!(vals, [-300.0, -200.0, -100.0]);
    }

    #[test]
    fn welford_keeps_precision_on_large_offsets() {
        // Values around 10⁹ with a spread of 1: the textbook Σx² formula loses it all.
        let mut m = Metric::new(1.0);
        for v in [1e9 + 4.0, 1e9 + 7.0, 1e9 + 13.0, 1e9 + 16.0] {
            m.add(v);
        }
        let d = m.describe(&[], 0.95).unwrap();
        assert!(close(d.std.unwrap(), 30.0f64.sqrt(), 1e-6));
    }
}
