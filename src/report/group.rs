//! Per-group figures of result records: counts by outcome, cold starts, and one streaming
//! [`Metric`] per timing and resource column. Shared by the run's own summary
//! ([`super::summary`]) and by `gale report`, so both compute every figure the same way.
//!
//! Which values enter a metric: timings of the function (completion, response, wait, init,
//! duration, CPU, memory) come from successful invocations only, since a refused or failed
//! invocation's times describe the failure, not the function (failures are counted by
//! outcome instead); lateness (send − scheduled) is the injector's own punctuality and counts
//! every sent invocation.

use std::collections::BTreeMap;

use serde::Serialize;

use super::record::Record;
use super::stats::{Description, Interval, Metric, Quantile, COARSE_DIGITS, FINE_DIGITS};
use crate::backend::Outcome;

/// One measured quantity of a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricSpec {
    /// Name used in tables, JSON keys (with the unit) and `--check`.
    pub name: &'static str,
    /// Unit of the values.
    pub unit: &'static str,
    /// Histogram step in that unit (the resolution past the exact regime).
    step: f64,
}

/// The metrics, in the order tables show them: completion leads.
pub const METRICS: [MetricSpec; 9] = [
    MetricSpec {
        name: "completion",
        unit: "ms",
        step: 0.001,
    },
    MetricSpec {
        name: "response",
        unit: "ms",
        step: 0.001,
    },
    MetricSpec {
        name: "wait",
        unit: "ms",
        step: 0.001,
    },
    MetricSpec {
        name: "init",
        unit: "ms",
        step: 0.001,
    },
    MetricSpec {
        name: "duration",
        unit: "ms",
        step: 0.001,
    },
    MetricSpec {
        name: "lateness",
        unit: "ms",
        step: 0.001,
    },
    MetricSpec {
        name: "cpu",
        unit: "ms",
        step: 0.001,
    },
    MetricSpec {
        name: "mem_peak",
        unit: "MB",
        step: 0.001,
    },
    MetricSpec {
        name: "mem_mean",
        unit: "MB",
        step: 0.001,
    },
];

/// The index of a metric in [`METRICS`] by name.
pub fn metric_index(name: &str) -> Option<usize> {
    METRICS.iter().position(|m| m.name == name)
}

/// The values a record gives each metric (ms, or MB for memory), in [`METRICS`] order.
/// `scheduled`: the record comes from a schedule (inject, simulate), so its lateness means
/// something; a dataset row has none.
fn values(r: &Record, scheduled: bool) -> [Option<f64>; 9] {
    let ms = |ns: Option<u64>| ns.map(|v| v as f64 / 1e6);
    let us_ms = |us: Option<u64>| us.map(|v| v as f64 / 1e3);
    let late = if scheduled { ms(r.lateness_ns()) } else { None };
    if r.outcome != Outcome::Success {
        return [None, None, None, None, None, late, None, None, None];
    }
    let usage = r.usage.as_ref();
    [
        ms(r.completion_ns()),
        ms(r.response_ns()),
        us_ms(r.wait_us),
        us_ms(r.init_us),
        us_ms(r.duration_us),
        late,
        // invocations.csv holds CPU time to the µs: round the same way, so a run's summary
        // and `gale report` on its directory give the same figures.
        usage
            .and_then(|w| w.cpu_ms)
            .map(|c| (c * 1000.0).round() / 1000.0),
        usage.and_then(|w| w.mem_peak_bytes).map(|b| b as f64 / 1e6),
        usage.and_then(|w| w.mem_mean_bytes).map(|b| b as f64 / 1e6),
    ]
}

/// The accumulated records of one group.
#[derive(Debug, Clone)]
pub struct GroupStats {
    count: u64,
    outcomes: [u64; Outcome::ALL.len()],
    cold: u64,
    metrics: Vec<Metric>,
}

impl GroupStats {
    /// An empty group; `sample` > 0 also keeps a comparison subsample of that size per metric.
    pub fn new(sample: usize) -> GroupStats {
        GroupStats {
            count: 0,
            outcomes: [0; Outcome::ALL.len()],
            cold: 0,
            metrics: METRICS
                .iter()
                .map(|m| {
                    let metric = Metric::new(m.step);
                    if sample > 0 {
                        metric.with_sample(sample)
                    } else {
                        metric
                    }
                })
                .collect(),
        }
    }

    /// Count one record of a run's schedule (inject, simulate).
    pub fn add(&mut self, r: &Record) {
        self.add_row(r, true);
    }

    /// Count one record; `scheduled` is false for a dataset row (no lateness).
    pub fn add_row(&mut self, r: &Record, scheduled: bool) {
        self.count += 1;
        self.outcomes[r.outcome.index()] += 1;
        if r.cold == Some(true) {
            self.cold += 1;
        }
        for (m, v) in self.metrics.iter_mut().zip(values(r, scheduled)) {
            if let Some(v) = v {
                m.add(v);
            }
        }
    }

    /// Add another group's records (built without a comparison subsample).
    pub fn merge(&mut self, other: &GroupStats) {
        self.count += other.count;
        for (a, b) in self.outcomes.iter_mut().zip(other.outcomes) {
            *a += b;
        }
        self.cold += other.cold;
        for (a, b) in self.metrics.iter_mut().zip(&other.metrics) {
            a.merge(b);
        }
    }

    /// Records counted.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Records that did not succeed.
    pub fn errors(&self) -> u64 {
        self.count - self.outcomes[Outcome::Success.index()]
    }

    /// The metric at `i` in [`METRICS`].
    pub fn metric(&self, i: usize) -> &Metric {
        &self.metrics[i]
    }

    /// Values kept exactly, over all metrics (the memory the budget watches).
    pub fn kept(&self) -> usize {
        self.metrics.iter().map(Metric::kept_len).sum()
    }

    /// Take each metric of `other`, a group of the same records, whose quantiles are more
    /// precise than this one's (exact, or a histogram with more significant digits); keep
    /// this one's otherwise. Count, mean, variance, min and max are the same either way (up
    /// to the last bits of mean and variance).
    pub fn take_finer(&mut self, other: GroupStats) {
        debug_assert_eq!(self.count, other.count, "not the same records");
        // Exact ranks above any histogram, then more digits above fewer.
        let rank = |m: &Metric| m.histogram_digits().unwrap_or(u8::MAX);
        for (a, b) in self.metrics.iter_mut().zip(other.metrics) {
            if rank(&b) > rank(a) {
                *a = b;
            }
        }
    }

    fn metrics_mut(&mut self) -> impl Iterator<Item = &mut Metric> {
        self.metrics.iter_mut()
    }

    /// The figures at `confidence`.
    pub fn figures(&self, confidence: f64) -> GroupFigures {
        let outcomes = Outcome::ALL
            .iter()
            .filter(|o| self.outcomes[o.index()] > 0)
            .map(|o| (o.as_str(), self.outcomes[o.index()]))
            .collect();
        let d = |i: usize| {
            self.metrics[i]
                .describe(&[0.5, 0.9, 0.99], confidence)
                .map(MetricFigures::of)
        };
        GroupFigures {
            count: self.count,
            errors: self.errors(),
            error_rate: if self.count > 0 {
                self.errors() as f64 / self.count as f64
            } else {
                0.0
            },
            outcomes,
            cold_starts: self.cold,
            completion_ms: d(0),
            response_ms: d(1),
            wait_ms: d(2),
            init_ms: d(3),
            duration_ms: d(4),
            lateness_ms: d(5),
            cpu_ms: d(6),
            mem_peak_mb: d(7),
            mem_mean_mb: d(8),
        }
    }
}

/// A metric's figures as tables and `summary.json` show them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricFigures {
    /// Values the figures rest on.
    pub n: u64,
    /// Mean.
    pub mean: f64,
    /// Student-t confidence interval of the mean (`null`: fewer than 2 values).
    pub mean_ci: Option<Interval>,
    /// Sample standard deviation.
    pub std: Option<f64>,
    /// Coefficient of variation (std / mean).
    pub cv: Option<f64>,
    /// Smallest value.
    pub min: f64,
    /// Median, with its order-statistic confidence interval.
    pub p50: Quantile,
    /// 90th percentile.
    pub p90: Quantile,
    /// 99th percentile.
    pub p99: Quantile,
    /// Largest value (exact).
    pub max: f64,
    /// Quantiles are exact (`false`: from a histogram, see `histogram_digits`).
    pub exact: bool,
    /// Significant digits of the histogram the quantiles come from: 3 (within 0.1 %) or,
    /// for a metric coarsened to bound memory, 2 (within 1 %); `null` when exact.
    pub histogram_digits: Option<u8>,
}

impl MetricFigures {
    fn of(d: Description) -> MetricFigures {
        MetricFigures {
            n: d.n,
            mean: d.mean,
            mean_ci: d.mean_ci,
            std: d.std,
            cv: d.cv,
            min: d.min,
            p50: d.quantiles[0],
            p90: d.quantiles[1],
            p99: d.quantiles[2],
            max: d.max,
            exact: d.exact,
            histogram_digits: d.histogram_digits,
        }
    }

    /// The marker of a quantile from these figures in tables: none when exact, `~` from a
    /// histogram with 3 significant digits (within 0.1 %), `≈` with fewer (within 1 %).
    pub fn marker(&self) -> &'static str {
        match self.histogram_digits {
            None => "",
            Some(d) if d >= FINE_DIGITS => "~",
            Some(_) => "≈",
        }
    }
}

/// The figures of one group (a function, a user, … or the whole run).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupFigures {
    /// Invocations recorded.
    pub count: u64,
    /// Invocations that did not succeed.
    pub errors: u64,
    /// errors / count.
    pub error_rate: f64,
    /// Count per outcome (outcomes that occurred).
    pub outcomes: BTreeMap<&'static str, u64>,
    /// Cold starts reported by activation records.
    pub cold_starts: u64,
    /// Activation end − scheduled instant: what the trace's user waited.
    pub completion_ms: Option<MetricFigures>,
    /// HTTP reply − send of the invoke request (for a non-blocking call, until `202`).
    pub response_ms: Option<MetricFigures>,
    /// The activation's `waitTime`.
    pub wait_ms: Option<MetricFigures>,
    /// The activation's `initTime` (cold starts).
    pub init_ms: Option<MetricFigures>,
    /// The activation's `duration`.
    pub duration_ms: Option<MetricFigures>,
    /// Send − scheduled instant (every sent invocation).
    pub lateness_ms: Option<MetricFigures>,
    /// CPU time measured by the monitor.
    pub cpu_ms: Option<MetricFigures>,
    /// Peak memory measured by the monitor (10⁶ bytes).
    pub mem_peak_mb: Option<MetricFigures>,
    /// Mean memory measured by the monitor (10⁶ bytes).
    pub mem_mean_mb: Option<MetricFigures>,
}

impl GroupFigures {
    /// The figures of metric `i` of [`METRICS`].
    pub fn metric(&self, i: usize) -> Option<&MetricFigures> {
        [
            &self.completion_ms,
            &self.response_ms,
            &self.wait_ms,
            &self.init_ms,
            &self.duration_ms,
            &self.lateness_ms,
            &self.cpu_ms,
            &self.mem_peak_mb,
            &self.mem_mean_mb,
        ][i]
            .as_ref()
    }
}

/// Name of the group that collects records past [`Groups`]' cap.
pub const OTHER: &str = "(other)";

/// Groups by key with a cap on their number and a bound on the memory of their metrics.
///
/// Memory: at most `max_groups` + 1 groups; while the values kept over all groups exceed
/// `budget`, the metrics holding the most values move to histograms, largest first, until
/// half the budget is left; a metric holding fewer than 2048 values is never moved (its
/// histogram would be larger). Small groups therefore stay exact.
///
/// The histograms share a second budget, half the kept values' bytes (`budget` × 4 bytes):
/// a moved metric of at least 8192 values gets a histogram with 3 significant digits
/// (quantiles within 0.1 %, ~45–60 KB) while those fit in it; otherwise, and for metrics of
/// 2048–8191 values, one with 2 (within 1 %, ~6–9 KB). When the 3-digit histograms outgrow
/// their budget, those of the metrics with the fewest values are coarsened to 2 digits
/// until they fit again. A metric with fewer than ~10⁵ values typically has quantile
/// confidence intervals wider than 1 % anyway (95 % interval of the median of an
/// exponential sample: ±1 % at 80 000 values), so the digits go where they are measurable.
///
/// The bound is `budget` × 12 bytes, plus ~9 KB per metric moved to 2 digits, plus the
/// values of metrics too small to move (under 2048 each): for a run of any length, the
/// summary's 200 functions × 9 metrics take at most 8 MB of kept values (or 29 MB of
/// metrics all just under 2048 values) and ~4 + 16 MB of histograms.
#[derive(Debug, Clone)]
pub struct Groups {
    groups: BTreeMap<String, GroupStats>,
    max_groups: usize,
    budget: usize,
    sample: usize,
    since_check: u32,
}

/// Metrics holding fewer kept values than this never move to a 3-digit histogram: it would
/// take more memory (8192 values are 64 KB).
const MIN_SPILL: usize = 8192;

/// Metrics holding fewer kept values than this stay exact whatever the budget: a 2-digit
/// histogram would take about as much memory (2048 values are 16 KB). Without this lower
/// step, a trace with many mid-sized functions (1/k weights over 200) held about 4 times
/// the budget in metrics of 2000–8000 values for much of the run.
const MIN_SPILL_COARSE: usize = 2048;

/// Default bound on values kept exactly over all groups: 4 M values, 32 MB.
pub const KEEP_BUDGET: usize = 4_000_000;

impl Groups {
    /// Empty; see the type's doc for `max_groups`, `budget` and `sample` (per metric).
    pub fn new(max_groups: usize, budget: usize, sample: usize) -> Groups {
        Groups {
            groups: BTreeMap::new(),
            max_groups,
            budget,
            sample,
            since_check: 0,
        }
    }

    /// Count `r` in the group `key` (in [`OTHER`] past the cap).
    pub fn add(&mut self, key: &str, r: &Record) {
        self.add_row(key, r, true);
    }

    /// [`Groups::add`]; `scheduled` is false for a dataset row (no lateness).
    pub fn add_row(&mut self, key: &str, r: &Record, scheduled: bool) {
        let group = if let Some(g) = self.groups.get_mut(key) {
            g
        } else {
            let key = if self.groups.len() < self.max_groups {
                key
            } else {
                OTHER
            };
            self.groups
                .entry(key.to_string())
                .or_insert_with(|| GroupStats::new(self.sample))
        };
        group.add_row(r, scheduled);
        // Checking every record would cost a scan of all metrics each time.
        self.since_check += 1;
        if self.since_check >= 1 << 16 {
            self.since_check = 0;
            self.enforce_budget();
        }
    }

    /// Bytes the 3-digit histograms may take together: half the kept values' budget.
    fn fine_budget(&self) -> usize {
        self.budget * std::mem::size_of::<f64>() / 2
    }

    /// Spill the largest metrics while the kept values exceed the budget, and coarsen the
    /// smallest 3-digit histograms while those exceed theirs.
    pub fn enforce_budget(&mut self) {
        let fine_budget = self.fine_budget();
        let is_fine = |m: &Metric| m.histogram_digits() == Some(FINE_DIGITS);
        let metrics = || self.groups.values().flat_map(|g| g.metrics.iter());
        let total: usize = metrics().map(Metric::kept_len).sum();
        let mut fine: usize = metrics()
            .filter(|m| is_fine(m))
            .map(Metric::hist_bytes)
            .sum();
        if total > self.budget {
            let mut all: Vec<&mut Metric> = self
                .groups
                .values_mut()
                .flat_map(GroupStats::metrics_mut)
                .filter(|m| m.kept_len() > 0)
                .collect();
            all.sort_unstable_by_key(|m| std::cmp::Reverse(m.kept_len()));
            let mut left = total;
            for m in all {
                if left <= self.budget / 2 {
                    break;
                }
                // Largest first: the first to spill, which hold the most values, get the
                // full precision while it fits.
                let kept = m.kept_len();
                if kept >= MIN_SPILL && fine < fine_budget {
                    m.spill();
                    fine += m.hist_bytes();
                } else if kept >= MIN_SPILL_COARSE {
                    m.spill_with(COARSE_DIGITS);
                } else {
                    break;
                }
                left -= kept;
            }
        }
        if fine > fine_budget {
            // Histograms grow with their values' range, and metrics past KEEP_CAP spill
            // on their own at full precision.
            let mut fines: Vec<&mut Metric> = self
                .groups
                .values_mut()
                .flat_map(GroupStats::metrics_mut)
                .filter(|m| is_fine(m))
                .collect();
            fines.sort_unstable_by_key(|m| m.count());
            for m in fines {
                if fine <= fine_budget {
                    break;
                }
                fine -= m.hist_bytes();
                m.coarsen(COARSE_DIGITS);
            }
        }
    }

    /// Every record of every group as one group: what a second stream of all records
    /// would give (figures equal up to the last bits of mean and variance), at a cost per
    /// group rather than per record. Groups built with a comparison subsample cannot merge
    /// theirs: keep a separate whole-run stream for those.
    pub fn merged(&self) -> GroupStats {
        let mut all = GroupStats::new(0);
        for g in self.groups.values() {
            all.merge(g);
        }
        all
    }

    /// The groups by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &GroupStats)> {
        self.groups.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// One group.
    pub fn get(&self, key: &str) -> Option<&GroupStats> {
        self.groups.get(key)
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// No group yet.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(function: &str, completion_ms: u64, outcome: Outcome) -> Record {
        let mut r = Record::unsent(0, function.into(), "u".into(), 0, outcome, "");
        r.sent_ns = Some(0);
        r.replied_ns = Some(1_000);
        r.end_ns = Some(completion_ms * 1_000_000);
        r
    }

    #[test]
    fn budget_spills_the_largest_metrics_first() {
        // Completion only (never sent: no response, no lateness). Budget 20 000 kept values:
        // "big" (25 000) goes over it and moves to its histogram, "small" stays exact.
        let only_completion = |f: &str, ms: u64| {
            let mut r = rec(f, ms, Outcome::Success);
            r.sent_ns = None;
            r
        };
        let mut g = Groups::new(10, 20_000, 0);
        for i in 0..25_000 {
            g.add("big", &only_completion("big", i));
        }
        for i in 0..20 {
            g.add("small", &only_completion("small", i));
        }
        g.enforce_budget();
        let kept: usize = g.iter().map(|(_, s)| s.kept()).sum();
        assert_eq!(kept, 20);
        let big = g.get("big").unwrap().figures(0.95);
        let small = g.get("small").unwrap().figures(0.95);
        assert!(!big.completion_ms.as_ref().unwrap().exact);
        assert!(small.completion_ms.as_ref().unwrap().exact);
        // Spilled or not, counts, mean and max stay exact.
        let c = big.completion_ms.unwrap();
        assert_eq!((c.n, c.mean, c.max), (25_000, 12_499.5, 24_999.0));
        assert!(big.response_ms.is_none() && big.lateness_ms.is_none());
    }

    /// A successful record of `f` with a value in each of the nine metrics, all proportional
    /// to `x_us` (1 µs to 10 s).
    fn full(f: &str) -> Record {
        let mut r = rec(f, 0, Outcome::Success);
        r.usage = Some(crate::monitor::attribution::Window {
            start_us: 0,
            end_us: 0,
            cpu_ms: None,
            cpu_exact: true,
            mem_peak_bytes: None,
            mem_peak_exact: true,
            mem_mean_bytes: None,
            samples: 1,
            missed: false,
        });
        r
    }

    fn set(r: &mut Record, x_us: u64) {
        r.sent_ns = Some(x_us * 100);
        r.replied_ns = Some(x_us * 600);
        r.end_ns = Some(x_us * 1000);
        (r.wait_us, r.init_us, r.duration_us) = (Some(x_us / 2), Some(x_us / 3), Some(x_us));
        let u = r.usage.as_mut().unwrap();
        u.cpu_ms = Some(x_us as f64 / 2000.0);
        (u.mem_peak_bytes, u.mem_mean_bytes) = (Some(x_us * 100), Some(x_us * 50));
    }

    #[test]
    fn histograms_of_many_groups_stay_within_their_budget() {
        // The summary's shape: 200 function groups, the 1 M-value budget, every one of the
        // nine metrics past the 8192 values a 3-digit histogram needs. Each group in turn
        // (as the busiest functions of a trace fill up first), values over 1 µs – 10 s.
        const GROUPS: usize = 200;
        const BUDGET: usize = 1_000_000;
        const MAX_US: u64 = 10_000_000;
        let mut g = Groups::new(GROUPS, BUDGET, 0);
        for k in 0..GROUPS {
            let name = format!("f{k}");
            let mut r = full(&name);
            for i in 0..8200u64 {
                set(&mut r, 1 + (i * 7919 + k as u64 * 104_729) % MAX_US);
                g.add(&name, &r);
            }
        }
        g.enforce_budget();
        let metrics: Vec<&Metric> = g.iter().flat_map(|(_, s)| &s.metrics).collect();
        assert_eq!(metrics.len(), GROUPS * METRICS.len());
        assert!(metrics.iter().all(|m| m.count() == 8200));
        let digits = |d: u8| {
            metrics
                .iter()
                .filter(move |m| m.histogram_digits() == Some(d))
        };
        let fine: usize = digits(FINE_DIGITS).map(|m| m.hist_bytes()).sum();
        let coarse = digits(COARSE_DIGITS).count();
        let kept: usize = metrics.iter().map(|m| m.kept_len()).sum();
        let total: usize = metrics.iter().map(|m| m.hist_bytes()).sum();
        // What a 2-digit histogram of values up to 4 × the largest takes (one more bucket
        // than the metric's own sizing needs).
        let coarse_size = hdrhistogram::Histogram::<u32>::new_with_bounds(1, 4 * MAX_US, 2)
            .unwrap()
            .distinct_values()
            * 4;
        let fine_budget = BUDGET * 4;
        assert!(kept <= BUDGET, "{kept} values kept");
        assert!(
            digits(FINE_DIGITS).count() > 0,
            "the first metrics keep 3 digits"
        );
        assert!(fine <= fine_budget, "3-digit histograms take {fine} B");
        assert!(
            coarse > 1400,
            "{coarse} of {} metrics at 2 digits",
            metrics.len()
        );
        assert_eq!(
            total,
            fine + digits(COARSE_DIGITS).map(|m| m.hist_bytes()).sum::<usize>()
        );
        assert!(
            total <= fine_budget + coarse * coarse_size,
            "histograms take {total} B, {coarse} of them coarse ({coarse_size} B each)"
        );
        // Before the coarse histograms, every spilled metric took a 3-digit one of ~60 KB
        // and an empty one of 8 KB for negative values: 1800 × 68 KB, over 120 MB.
        assert!(total < 20_000_000, "histograms take {total} B");
    }

    #[test]
    fn failures_count_but_stay_out_of_timings() {
        let mut g = GroupStats::new(0);
        g.add(&rec("f", 10, Outcome::Success));
        g.add(&rec("f", 5000, Outcome::DeveloperError));
        let f = g.figures(0.95);
        assert_eq!((f.count, f.errors, f.error_rate), (2, 1, 0.5));
        assert_eq!(f.outcomes.get("developer_error"), Some(&1));
        assert_eq!(f.completion_ms.as_ref().unwrap().max, 10.0);
        assert_eq!(f.lateness_ms.as_ref().unwrap().n, 2);
        let mut d = GroupStats::new(0);
        d.add_row(&rec("f", 10, Outcome::Success), false);
        assert!(
            d.figures(0.95).lateness_ms.is_none(),
            "datasets have no lateness"
        );
    }

    #[test]
    fn groups_past_the_cap_pool_as_other() {
        let mut g = Groups::new(2, KEEP_BUDGET, 0);
        for f in ["a", "b", "c", "d", "a"] {
            g.add(f, &rec(f, 1, Outcome::Success));
        }
        let keys: Vec<&str> = g.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["(other)", "a", "b"]);
        assert_eq!(g.get("a").unwrap().count(), 2);
        assert_eq!(g.get(OTHER).unwrap().count(), 2);
    }
}
