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
use super::stats::{Description, Interval, Metric, Quantile};
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
    /// Quantiles are exact (`false`: from a histogram with 3 significant digits).
    pub exact: bool,
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

/// Groups by key with a cap on their number and a bound on the values kept exactly.
///
/// Memory: at most `max_groups` + 1 groups; while the values kept over all groups exceed
/// `budget`, the metrics holding the most values move to their histograms (3 significant
/// digits, ~60 KB each), largest first, until half the budget is left; a metric holding
/// fewer than 8192 values is never moved (its histogram would be larger). Small groups
/// therefore stay exact and the big ones, whose quantiles a histogram gives within 0.1 %,
/// do not. The bound is `budget` values plus 60 KB per moved metric; a run with very many
/// mid-sized groups can exceed the budget by up to 64 KB per metric.
#[derive(Debug, Clone)]
pub struct Groups {
    groups: BTreeMap<String, GroupStats>,
    max_groups: usize,
    budget: usize,
    sample: usize,
    since_check: u32,
}

/// Metrics holding fewer kept values than this stay exact whatever the budget: their
/// histogram would take more memory (8192 values are 64 KB).
const MIN_SPILL: usize = 8192;

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

    /// Spill the largest metrics while the kept values exceed the budget.
    pub fn enforce_budget(&mut self) {
        let total: usize = self.groups.values().map(GroupStats::kept).sum();
        if total <= self.budget {
            return;
        }
        let mut all: Vec<&mut Metric> = self
            .groups
            .values_mut()
            .flat_map(GroupStats::metrics_mut)
            .filter(|m| m.kept_len() > 0)
            .collect();
        all.sort_unstable_by_key(|m| std::cmp::Reverse(m.kept_len()));
        let mut left = total;
        for m in all {
            // A histogram takes ~60 KB: spilling fewer values than that would grow memory.
            if left <= self.budget / 2 || m.kept_len() < MIN_SPILL {
                break;
            }
            left -= m.kept_len();
            m.spill();
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
