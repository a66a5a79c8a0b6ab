//! One metric's streaming accumulator (count, mean, variance, exact min/max, quantiles) and
//! its description with confidence intervals.
//!
//! Memory stays bounded for any number of values: values are kept (exact quantiles) until
//! there are [`KEEP_CAP`] of them or the caller asks to [`Metric::spill`] them to save memory;
//! from then on they live in an HDR histogram with 3 significant digits, so quantiles are
//! within 0.1 % (or one `unit`, whichever is larger) of the exact ones. Count, mean, variance,
//! min and max stay exact in both regimes (Welford's update, which does not lose precision
//! the way the sum-of-squares formula does on large values with a small spread).

use hdrhistogram::Histogram;
use serde::Serialize;

use super::dist;
use super::reservoir::Reservoir;

/// Values kept for exact quantiles before a metric moves to its histogram.
pub const KEEP_CAP: usize = 200_000;

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
    /// Quantiles are exact (`false`: from the 3-significant-digit histogram).
    pub exact: bool,
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
    /// Histogram regime: |values| in `unit`s, negative values apart (times from another
    /// clock can be below zero; an HDR histogram holds non-negative integers only).
    hist: Option<(Histogram<u32>, Histogram<u32>)>,
    unit: f64,
    reservoir: Option<Reservoir>,
}

fn new_hist() -> Histogram<u32> {
    Histogram::new(3).expect("3 significant digits is a valid precision")
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

    /// Move the kept values into the histogram and free them (quantiles become 3-digit).
    pub fn spill(&mut self) {
        let h = self.hist.get_or_insert_with(|| (new_hist(), new_hist()));
        for v in self.kept.drain(..) {
            record(h, v, self.unit);
        }
        self.kept = Vec::new();
    }

    /// Add everything `other` holds, as if its values had been added here (up to the last
    /// bits of the mean and variance, combined with Chan et al.'s pairwise formula). The
    /// comparison subsample is not merged: merge metrics built without one.
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
            (_, Some((pos, neg))) => {
                self.spill();
                let h = self.hist.as_mut().expect("spilled");
                // Same precision and unit on both sides: `add` only fails on a count
                // overflow, which u32 counts of a 4-billion-row file could reach.
                if h.0.add(pos).is_err() || h.1.add(neg).is_err() {
                    for it in pos.iter_recorded() {
                        h.0.saturating_record_n(it.value_iterated_to(), it.count_at_value());
                    }
                    for it in neg.iter_recorded() {
                        h.1.saturating_record_n(it.value_iterated_to(), it.count_at_value());
                    }
                }
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
        })
    }
}

fn record(h: &mut (Histogram<u32>, Histogram<u32>), v: f64, unit: f64) {
    // + ½ and truncate: round() is a libm call, and this runs once per value.
    let steps = v.abs() / unit + 0.5;
    // Saturate: a value past 2⁶² steps (e.g. 146 years in ns) is recorded as that bound.
    let steps = steps.min(4.6e18) as u64;
    let target = if v < 0.0 { &mut h.1 } else { &mut h.0 };
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
    hist: Option<&'a (Histogram<u32>, Histogram<u32>)>,
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
            Some((pos, neg)) => {
                let n_neg = neg.len();
                let v = if k <= n_neg {
                    -(hist_rank(neg, n_neg - k + 1) as f64) * self.unit
                } else {
                    hist_rank(pos, k - n_neg) as f64 * self.unit
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
