//! The run's own summary, accumulated as records are written: per function, blocking and
//! non-blocking apart when a run mixes them, and overall; printed as a table
//! (`summary.txt`) and written as `summary.json` with the same figures.
//!
//! Every figure comes from [`super::group`] (the code `gale report` uses), so `gale report`
//! on a result directory reproduces this summary. Completion latency leads; failed
//! invocations are counted by outcome and kept out of the timing percentiles.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::group::{GroupFigures, Groups, MetricFigures, METRICS, OTHER};
use super::record::Record;
use super::render::num;
use super::stats::{Quantile, FINE_DIGITS};

/// Past this many functions, the rest are summed up as one `(other)` row.
const MAX_FUNCTION_ROWS: usize = 200;
/// Values kept exactly over the per-function groups (and again over the blocking kinds):
/// 1 M values, 8 MB each, so the injector's memory stays small and flat in trace length;
/// beyond, the largest metrics move to histograms, 3-digit ones within 4 MB and 2-digit
/// ones past it (see [`Groups`]).
const SUMMARY_BUDGET: usize = 1_000_000;
/// Confidence level of the summary's intervals.
pub const SUMMARY_CONFIDENCE: f64 = 0.95;

const ALL: &str = "all";
const BLOCKING: &str = "blocking";
const NON_BLOCKING: &str = "non_blocking";

/// The summary of a run (`summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Wall time from the first scheduled instant to the last reply or activation end, s.
    pub elapsed_s: f64,
    /// Invocations sent per second of elapsed time.
    pub sent_per_s: f64,
    /// Confidence level of every interval below.
    pub confidence: f64,
    /// Whole run.
    pub overall: GroupFigures,
    /// Blocking and non-blocking invocations apart (`blocking`, `non_blocking`), when the run
    /// has both; `null` otherwise.
    pub by_blocking: Option<BTreeMap<String, GroupFigures>>,
    /// Per function (at most 200; the rest under `(other)`).
    pub functions: BTreeMap<String, GroupFigures>,
}

/// Accumulates records as they are written.
pub struct Accumulator {
    /// Blocking and non-blocking apart.
    kinds: Groups,
    functions: Groups,
    sent: u64,
    first_ns: Option<u64>,
    last_ns: u64,
}

impl Default for Accumulator {
    fn default() -> Self {
        Accumulator {
            kinds: Groups::new(2, SUMMARY_BUDGET, 0),
            functions: Groups::new(MAX_FUNCTION_ROWS, SUMMARY_BUDGET, 0),
            sent: 0,
            first_ns: None,
            last_ns: 0,
        }
    }
}

impl Accumulator {
    /// Count one record.
    pub fn add(&mut self, r: &Record) {
        self.kinds
            .add(if r.blocking { BLOCKING } else { NON_BLOCKING }, r);
        self.functions.add(&r.function, r);
        if r.sent_ns.is_some() {
            self.sent += 1;
        }
        self.first_ns = Some(
            self.first_ns
                .map_or(r.scheduled_ns, |f| f.min(r.scheduled_ns)),
        );
        self.last_ns = self.last_ns.max(
            r.end_ns
                .or(r.replied_ns)
                .or(r.sent_ns)
                .unwrap_or(r.scheduled_ns),
        );
    }

    /// The summary so far; elapsed time spans the records seen.
    pub fn summary(&self) -> Summary {
        let c = SUMMARY_CONFIDENCE;
        let elapsed_s =
            self.last_ns
                .saturating_sub(self.first_ns.unwrap_or(0).min(self.last_ns)) as f64
                / 1e9;
        // The sum of the function rows, as `gale report` computes its `(all)` row: the
        // same figures to the last bit.
        let mut overall = self.functions.merged();
        // A function row coarsened to bound memory would coarsen the whole run's too; the
        // kinds hold the same records in at most two groups, whose histograms keep 3 digits.
        if (0..METRICS.len()).any(|i| {
            overall
                .metric(i)
                .histogram_digits()
                .is_some_and(|d| d < FINE_DIGITS)
        }) {
            overall.take_finer(self.kinds.merged());
        }
        let overall = overall.figures(c);
        let by_blocking = match (self.kinds.get(BLOCKING), self.kinds.get(NON_BLOCKING)) {
            (Some(b), Some(nb)) => Some(BTreeMap::from([
                (BLOCKING.to_string(), b.figures(c)),
                (NON_BLOCKING.to_string(), nb.figures(c)),
            ])),
            _ => None,
        };
        Summary {
            elapsed_s,
            sent_per_s: if elapsed_s > 0.0 {
                self.sent as f64 / elapsed_s
            } else {
                0.0
            },
            confidence: c,
            overall,
            by_blocking,
            functions: self
                .functions
                .iter()
                .map(|(k, g)| (k.to_string(), g.figures(c)))
                .collect(),
        }
    }
}

/// A percentile cell: `~` or `≈` from a histogram ([`MetricFigures::marker`]), `*` when it
/// is the max.
fn q(m: Option<&MetricFigures>, pick: fn(&MetricFigures) -> &Quantile) -> String {
    match m {
        Some(m) => {
            let q = pick(m);
            format!(
                "{}{}{}",
                m.marker(),
                num(q.value),
                if q.is_max { "*" } else { "" }
            )
        }
        None => "-".into(),
    }
}

impl Summary {
    /// The human table: one row per function, the blocking kinds apart when mixed, and the
    /// whole run; then what the markers mean.
    pub fn table(&self) -> String {
        let mut rows: Vec<Vec<String>> = vec![[
            "function",
            "count",
            "errors",
            "cold",
            "completion ms n",
            "p50",
            "p90",
            "p99",
            "max",
            "response ms p50",
            "p99",
            "wait ms p50",
            "init ms p50",
            "duration ms p50",
            "lateness ms p99",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()];
        let line = |name: &str, f: &GroupFigures| {
            let c = f.completion_ms.as_ref();
            vec![
                name.to_string(),
                f.count.to_string(),
                f.errors.to_string(),
                f.cold_starts.to_string(),
                c.map_or("0".into(), |m| m.n.to_string()),
                q(c, |m| &m.p50),
                q(c, |m| &m.p90),
                q(c, |m| &m.p99),
                c.map_or("-".into(), |m| num(m.max)),
                q(f.response_ms.as_ref(), |m| &m.p50),
                q(f.response_ms.as_ref(), |m| &m.p99),
                q(f.wait_ms.as_ref(), |m| &m.p50),
                q(f.init_ms.as_ref(), |m| &m.p50),
                q(f.duration_ms.as_ref(), |m| &m.p50),
                q(f.lateness_ms.as_ref(), |m| &m.p99),
            ]
        };
        for (name, f) in &self.functions {
            rows.push(line(name, f));
        }
        let body = rows.len();
        if let Some(kinds) = &self.by_blocking {
            for (name, f) in kinds {
                rows.push(line(&format!("({})", name.replace('_', "-")), f));
            }
        }
        rows.push(line(ALL, &self.overall));
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let rule = "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1));
        let mut out = String::new();
        for (i, r) in rows.iter().enumerate() {
            if i == 1 || i == body {
                out.push_str(&rule);
                out.push('\n');
            }
            for (c, cell) in r.iter().enumerate() {
                let pad = " ".repeat(widths[c] - cell.chars().count());
                if c == 0 {
                    let _ = write!(out, "{cell}{pad}");
                } else {
                    let _ = write!(out, "  {pad}{cell}");
                }
            }
            out.push('\n');
        }
        let outcomes: Vec<String> = self
            .overall
            .outcomes
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(out, "outcomes: {}", outcomes.join(", "));
        let _ = writeln!(
            out,
            "completion = activation end - scheduled instant; response = invoke request's reply - send \
             (202 for non-blocking calls); timings of successful invocations only"
        );
        let _ = writeln!(
            out,
            "*: the max (fewer than 10 values for p90, 100 for p99); ~: from a histogram with 3 \
             significant digits (within 0.1 %); ≈: with 2 (within 1 %, to bound memory)"
        );
        if self.functions.contains_key(OTHER) {
            let _ = writeln!(out, "{OTHER}: functions past the first {MAX_FUNCTION_ROWS}");
        }
        let _ = writeln!(
            out,
            "elapsed {:.2} s, {:.1} invocations/s sent",
            self.elapsed_s, self.sent_per_s
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Outcome;

    fn rec(f: &str, scheduled: u64, sent: u64, done: u64, outcome: Outcome) -> Record {
        let mut r = Record::unsent(0, f.into(), "u".into(), scheduled, outcome, "");
        r.sent_ns = Some(sent);
        r.replied_ns = Some(sent + 200_000);
        r.end_ns = Some(done);
        r.cold = Some(false);
        r
    }

    #[test]
    fn figures_counts_and_markers() {
        let mut acc = Accumulator::default();
        for i in 0..100u64 {
            // completion (i+1) ms, 10 µs late, reply 0.2 ms after send.
            let s = i * 1_000_000;
            acc.add(&rec(
                "a",
                s,
                s + 10_000,
                s + (i + 1) * 1_000_000,
                Outcome::Success,
            ));
        }
        // A failure with a huge completion must not enter the percentiles.
        acc.add(&rec("b", 0, 1_000, 9_000_000_000, Outcome::Throttled));
        let mut shed = Record::unsent(1, "b".into(), "u".into(), 5, Outcome::Shed, "cap");
        shed.cold = None;
        acc.add(&shed);
        let s = acc.summary();
        assert_eq!(s.overall.count, 102);
        assert_eq!(s.overall.errors, 2);
        assert_eq!(s.overall.outcomes.get("shed"), Some(&1));
        assert_eq!(s.by_blocking, None, "one kind only");
        let a = s.functions["a"].completion_ms.as_ref().unwrap();
        // 1..=100 ms: median (50 + 51) / 2, p90 = x(90), p99 = x(99), max exact.
        assert_eq!(
            (a.n, a.p50.value, a.p90.value, a.p99.value),
            (100, 50.5, 90.0, 99.0)
        );
        assert_eq!(a.max, 100.0);
        assert!(!a.p99.is_max && a.exact);
        let all = s.overall.completion_ms.as_ref().unwrap();
        assert_eq!((all.n, all.max), (100, 100.0), "failures excluded");
        let late = s.overall.lateness_ms.as_ref().unwrap();
        assert_eq!(late.n, 101, "lateness counts every sent invocation");
        assert!((s.functions["a"].response_ms.as_ref().unwrap().p50.value - 0.2).abs() < 1e-9);
        let table = s.table();
        assert!(table.contains("all") && table.contains("shed 1"), "{table}");
    }

    #[test]
    fn small_samples_say_p99_is_the_max() {
        let mut acc = Accumulator::default();
        for i in 0..79u64 {
            acc.add(&rec("f", 0, 0, (i + 1) * 1_000_000, Outcome::Success));
        }
        let s = acc.summary();
        let c = s.overall.completion_ms.as_ref().unwrap();
        assert!(c.p99.is_max && !c.p90.is_max);
        assert_eq!(c.p99.value, 79.0);
        assert!(s.table().contains("79.00*"), "{}", s.table());
    }

    #[test]
    fn mixed_runs_split_blocking_kinds() {
        let mut acc = Accumulator::default();
        for i in 0..10u64 {
            let mut r = rec("f", 0, 0, (i + 1) * 1_000_000, Outcome::Success);
            r.blocking = i % 2 == 0;
            acc.add(&r);
        }
        let s = acc.summary();
        let kinds = s.by_blocking.as_ref().unwrap();
        assert_eq!(kinds["blocking"].count, 5);
        assert_eq!(
            kinds["non_blocking"].completion_ms.as_ref().unwrap().max,
            10.0
        );
        assert!(s.table().contains("(non-blocking)"));
    }

    #[test]
    fn whole_run_keeps_three_digits_when_function_rows_are_coarsened() {
        // 40 functions of 8200 invocations each, in turn, six metrics each with values over
        // 1 µs – 10 s: past the 1 M-value budget the first functions to fill up move to
        // 3-digit histograms until those take 4 MB, the next ones to 2-digit histograms.
        let mut acc = Accumulator::default();
        let mut completions = Vec::new();
        for f in 0..40u64 {
            let name = format!("f{f}");
            for i in 0..8200u64 {
                let x = 1 + (i * 7919 + f * 104_729) % 10_000_000;
                let mut r = rec(&name, 0, x * 100, x * 1000, Outcome::Success);
                r.replied_ns = Some(x * 600);
                (r.wait_us, r.init_us, r.duration_us) = (Some(x / 2), Some(x / 3), Some(x));
                acc.add(&r);
                completions.push(x as f64 / 1000.0);
            }
        }
        let s = acc.summary();
        let digits = |f: &GroupFigures| f.completion_ms.as_ref().unwrap().histogram_digits;
        let rows: Vec<Option<u8>> = s.functions.values().map(digits).collect();
        for d in [None, Some(FINE_DIGITS), Some(2)] {
            assert!(rows.contains(&d), "no function row with {d:?}: {rows:?}");
        }
        // The whole run comes from the blocking kinds, at full precision.
        let all = s.overall.completion_ms.as_ref().unwrap();
        assert_eq!(all.histogram_digits, Some(FINE_DIGITS));
        assert_eq!(all.n, 40 * 8200);
        completions.sort_unstable_by(f64::total_cmp);
        for q in [&all.p90, &all.p99] {
            let want = completions[(all.n as f64 * q.p).ceil() as usize - 1];
            assert!((q.value - want).abs() <= want * 1e-3, "{q:?} vs {want}");
        }
        let table = s.table();
        assert!(table.contains('≈') && table.contains('~'), "{table}");
    }

    #[test]
    fn caps_function_rows() {
        let mut acc = Accumulator::default();
        for i in 0..(MAX_FUNCTION_ROWS + 5) {
            acc.add(&rec(&format!("f{i}"), 0, 1, 2, Outcome::Success));
        }
        let s = acc.summary();
        assert_eq!(s.functions.len(), MAX_FUNCTION_ROWS + 1);
        assert_eq!(s.functions[OTHER].count, 5);
    }
}
