//! Bounded summaries of latency samples: what lets one pass over ten million rows feed box
//! plots, CDFs and per-second percentiles in a few megabytes.
//!
//! - [`Latencies`]: an HDR histogram with 2 significant digits (every quantile within 1 % of
//!   the true value, which no figure can show) plus the exact count, min, max, mean and
//!   variance (Welford), so means and their intervals are exact.
//! - [`Coarse`]: 256 logarithmic bins of ratio 1.1 (±5 %), small enough to keep one per
//!   timeline bucket and to merge when the timeline widens its buckets.

use hdrhistogram::Histogram;

/// Latency samples of one group (a function in a run, or a whole run). Values are ms.
#[derive(Debug, Clone)]
pub struct Latencies {
    /// Samples in µs (integer); 2 significant digits.
    hist: Histogram<u64>,
    count: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies {
            hist: Histogram::new(2).expect("2 significant digits is a valid HDR precision"),
            count: 0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

/// The five numbers of a box plot plus what lies beyond its whiskers.
#[derive(Debug, Clone, PartialEq)]
pub struct BoxStats {
    /// First quartile, ms.
    pub q1: f64,
    /// Median, ms.
    pub median: f64,
    /// Third quartile, ms.
    pub q3: f64,
    /// Lowest sample within 1.5 IQR below q1, ms.
    pub whisker_lo: f64,
    /// Highest sample within 1.5 IQR above q3, ms.
    pub whisker_hi: f64,
    /// Samples beyond the whiskers, one per histogram bucket (the exact min and max among
    /// them), ms.
    pub outliers: Vec<f64>,
}

impl Latencies {
    /// Add one sample, ms. Negative or non-finite values are ignored: a clock step on a remote
    /// platform must not poison a figure.
    pub fn add(&mut self, ms: f64) {
        if !ms.is_finite() || ms < 0.0 {
            return;
        }
        let us = (ms * 1000.0).round() as u64;
        // `record` grows the auto-resizing histogram; `saturating_record` would clamp every
        // value to its initial tiny range. It fails only past i64::MAX / 2 µs.
        if self.hist.record(us).is_err() {
            self.hist.saturating_record(us);
        }
        self.count += 1;
        let delta = ms - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (ms - self.mean);
        self.min = self.min.min(ms);
        self.max = self.max.max(ms);
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Exact mean, ms (`None` when empty).
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then_some(self.mean)
    }

    /// Exact sample standard deviation, ms (`None` below two samples).
    pub fn std(&self) -> Option<f64> {
        (self.count > 1).then(|| (self.m2 / (self.count - 1) as f64).sqrt())
    }

    /// Exact smallest sample, ms.
    pub fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min)
    }

    /// Exact largest sample, ms.
    pub fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }

    /// Quantile `q` in [0, 1], ms, clamped to the exact min and max.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let v = self.hist.value_at_quantile(q) as f64 / 1000.0;
        Some(v.clamp(self.min, self.max))
    }

    /// Box-plot figures (Tukey's 1.5 IQR whiskers), from the histogram.
    pub fn box_stats(&self) -> Option<BoxStats> {
        let (q1, median, q3) = (
            self.quantile(0.25)?,
            self.quantile(0.5)?,
            self.quantile(0.75)?,
        );
        let iqr = q3 - q1;
        let (lo_fence, hi_fence) = (q1 - 1.5 * iqr, q3 + 1.5 * iqr);
        let mut whisker_lo = q1;
        let mut whisker_hi = q3;
        let mut outliers = Vec::new();
        for (ms, _) in self.buckets() {
            if ms < lo_fence || ms > hi_fence {
                outliers.push(ms);
            } else {
                whisker_lo = whisker_lo.min(ms);
                whisker_hi = whisker_hi.max(ms);
            }
        }
        Some(BoxStats {
            q1,
            median,
            q3,
            whisker_lo,
            whisker_hi,
            outliers,
        })
    }

    /// The recorded buckets in increasing order: (representative value ms, count). The first
    /// and last carry the exact min and max, so a CDF starts and ends where the data does.
    pub fn buckets(&self) -> Vec<(f64, u64)> {
        let mut out: Vec<(f64, u64)> = self
            .hist
            .iter_recorded()
            .map(|it| {
                let v = self.hist.median_equivalent(it.value_iterated_to()) as f64 / 1000.0;
                (v.clamp(self.min, self.max), it.count_at_value())
            })
            .collect();
        if let Some(first) = out.first_mut() {
            first.0 = self.min;
        }
        if let Some(last) = out.last_mut() {
            last.0 = self.max;
        }
        out
    }
}

/// Number of [`Coarse`] bins.
const COARSE_BINS: usize = 256;
/// Ratio between consecutive [`Coarse`] bin edges.
const COARSE_RATIO: f64 = 1.1;
/// Lower edge of bin 1, µs; bin 0 holds everything below it.
const COARSE_FLOOR_US: f64 = 1.0;

/// A small fixed log histogram of latencies (µs from 1 µs to ~11 h at ±5 %).
#[derive(Clone)]
pub struct Coarse {
    bins: Box<[u32; COARSE_BINS]>,
    count: u64,
}

impl Default for Coarse {
    fn default() -> Self {
        Coarse {
            bins: Box::new([0; COARSE_BINS]),
            count: 0,
        }
    }
}

impl std::fmt::Debug for Coarse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Coarse {{ count: {} }}", self.count)
    }
}

impl Coarse {
    /// Add one sample, ms (non-finite and negative values ignored).
    pub fn add(&mut self, ms: f64) {
        if !ms.is_finite() || ms < 0.0 {
            return;
        }
        let us = ms * 1000.0;
        let bin = if us < COARSE_FLOOR_US {
            0
        } else {
            (1 + ((us / COARSE_FLOOR_US).ln() / COARSE_RATIO.ln()) as usize).min(COARSE_BINS - 1)
        };
        // u32 per bin: saturating, since one bin of one bucket cannot plausibly hold 4 G samples
        // and wrapping would be a silent lie.
        self.bins[bin] = self.bins[bin].saturating_add(1);
        self.count += 1;
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Merge another histogram into this one.
    pub fn merge(&mut self, other: &Coarse) {
        for (a, b) in self.bins.iter_mut().zip(other.bins.iter()) {
            *a = a.saturating_add(*b);
        }
        self.count += other.count;
    }

    /// Quantile `q` in [0, 1], ms: the geometric middle of the bin that holds it.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, &n) in self.bins.iter().enumerate() {
            seen += u64::from(n);
            if seen >= rank {
                let us = if i == 0 {
                    COARSE_FLOOR_US / 2.0
                } else {
                    COARSE_FLOOR_US * COARSE_RATIO.powf(i as f64 - 0.5)
                };
                return Some(us / 1000.0);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_are_exact_and_quantiles_within_one_percent() {
        let mut l = Latencies::default();
        for i in 1..=1000 {
            l.add(i as f64 * 0.5);
        }
        assert_eq!(l.count(), 1000);
        assert!((l.mean().unwrap() - 250.25).abs() < 1e-9);
        // Sample std of 0.5 * (1..=1000): 0.5 * sqrt(1000 * 1001 / 12).
        let want = 0.5 * (1000.0f64 * 1001.0 / 12.0).sqrt();
        assert!((l.std().unwrap() - want).abs() < 1e-9);
        assert_eq!((l.min(), l.max()), (Some(0.5), Some(500.0)));
        for (q, want) in [(0.25, 125.0), (0.5, 250.0), (0.9, 450.0)] {
            let got = l.quantile(q).unwrap();
            assert!((got / want - 1.0).abs() < 0.01, "q{q}: {got} vs {want}");
        }
    }

    #[test]
    fn box_stats_split_outliers_by_tukey_fences() {
        let mut l = Latencies::default();
        for _ in 0..100 {
            l.add(10.0);
            l.add(12.0);
        }
        l.add(1000.0);
        let b = l.box_stats().unwrap();
        assert!((b.q1 - 10.0).abs() < 0.1 && (b.q3 - 12.0).abs() < 0.1);
        assert!(b.whisker_hi < 13.0);
        assert_eq!(b.outliers, vec![1000.0]);
        let buckets = l.buckets();
        assert_eq!(buckets.iter().map(|b| b.1).sum::<u64>(), 201);
        assert_eq!(buckets.last().unwrap().0, 1000.0);
    }

    #[test]
    fn empty_and_bad_samples_give_nothing() {
        let mut l = Latencies::default();
        l.add(f64::NAN);
        l.add(-1.0);
        assert_eq!(l.count(), 0);
        assert!(l.box_stats().is_none() && l.mean().is_none() && l.buckets().is_empty());
        assert!(Coarse::default().quantile(0.5).is_none());
    }

    #[test]
    fn coarse_quantiles_within_its_bin_width_and_merge_adds() {
        let mut a = Coarse::default();
        let mut b = Coarse::default();
        for i in 1..=100 {
            a.add(i as f64);
            b.add(1000.0);
        }
        let p50 = a.quantile(0.5).unwrap();
        assert!((p50 / 50.0 - 1.0).abs() < 0.06, "{p50}");
        a.merge(&b);
        assert_eq!(a.count(), 200);
        let p99 = a.quantile(0.99).unwrap();
        assert!((p99 / 1000.0 - 1.0).abs() < 0.06, "{p99}");
        // Below the floor and far above the top land in the end bins instead of panicking.
        a.add(0.0);
        a.add(1e12);
        assert_eq!(a.count(), 202);
    }
}
