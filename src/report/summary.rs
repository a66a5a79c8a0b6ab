//! Streaming statistics over records: per function and overall, printed as a table and
//! written as `summary.json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::record::Record;
use crate::backend::Outcome;

/// Past this many functions, the rest are summed up as one `(other)` row: per-function
/// histograms cost ~100 KB each and Azure-like traces name thousands of functions.
const MAX_FUNCTION_ROWS: usize = 200;
const OTHER: &str = "(other)";

/// Latency-like histograms in ns, from 1 ns to 1 h.
fn histogram(sigfig: u8) -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, sigfig)
        .expect("static histogram bounds are valid")
}

struct Stats {
    count: u64,
    outcomes: [u64; Outcome::ALL.len()],
    cold: u64,
    latency: Histogram<u64>,
    response: Histogram<u64>,
    lateness: Histogram<u64>,
}

impl Stats {
    fn new(sigfig: u8) -> Stats {
        Stats {
            count: 0,
            outcomes: [0; Outcome::ALL.len()],
            cold: 0,
            latency: histogram(sigfig),
            response: histogram(sigfig),
            lateness: histogram(sigfig),
        }
    }

    fn add(&mut self, r: &Record) {
        self.count += 1;
        self.outcomes[r.outcome.index()] += 1;
        if r.cold == Some(true) {
            self.cold += 1;
        }
        // Saturate rather than fail: a value past 1 h is recorded as 1 h.
        let rec = |h: &mut Histogram<u64>, v: Option<u64>| {
            if let Some(v) = v {
                h.saturating_record(v.max(1));
            }
        };
        rec(&mut self.latency, r.completion_ns());
        rec(&mut self.response, r.response_ns());
        rec(&mut self.lateness, r.lateness_ns());
    }
}

/// Percentiles of one quantity, in ms (latencies) or µs (lateness).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest value.
    pub max: f64,
}

fn percentiles(h: &Histogram<u64>, unit_ns: f64) -> Option<Percentiles> {
    if h.is_empty() {
        return None;
    }
    let q = |p: f64| h.value_at_quantile(p) as f64 / unit_ns;
    Some(Percentiles {
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        max: h.max() as f64 / unit_ns,
    })
}

/// Figures for one function, or for the whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    /// Invocations recorded.
    pub count: u64,
    /// Count per outcome kind (kinds that occurred).
    pub outcomes: BTreeMap<&'static str, u64>,
    /// Invocations that did not succeed.
    pub errors: u64,
    /// Cold starts reported by activation records.
    pub cold_starts: u64,
    /// Completion latency (activation end − scheduled instant), ms.
    pub completion_ms: Option<Percentiles>,
    /// Latency from the send instant (response time), ms.
    pub response_ms: Option<Percentiles>,
    /// Send − scheduled, µs.
    pub lateness_us: Option<Percentiles>,
}

impl Figures {
    fn of(s: &Stats) -> Figures {
        let outcomes: BTreeMap<_, _> = Outcome::ALL
            .iter()
            .filter(|o| s.outcomes[o.index()] > 0)
            .map(|o| (o.as_str(), s.outcomes[o.index()]))
            .collect();
        Figures {
            count: s.count,
            errors: s.count - s.outcomes[Outcome::Success.index()],
            outcomes,
            cold_starts: s.cold,
            completion_ms: percentiles(&s.latency, 1e6),
            response_ms: percentiles(&s.response, 1e6),
            lateness_us: percentiles(&s.lateness, 1e3),
        }
    }
}

/// The summary of a run (`summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Wall time from the start instant to the last reply, s.
    pub elapsed_s: f64,
    /// Invocations sent per second of elapsed time.
    pub sent_per_s: f64,
    /// Whole run.
    pub overall: Figures,
    /// Per function (at most 200; the rest under `(other)`).
    pub functions: BTreeMap<String, Figures>,
}

/// Accumulates records as they are written.
pub struct Accumulator {
    overall: Stats,
    functions: BTreeMap<Arc<str>, Stats>,
    sent: u64,
    first_ns: Option<u64>,
    last_ns: u64,
}

impl Default for Accumulator {
    fn default() -> Self {
        Accumulator {
            overall: Stats::new(3),
            functions: BTreeMap::new(),
            sent: 0,
            first_ns: None,
            last_ns: 0,
        }
    }
}

impl Accumulator {
    /// Count one record.
    pub fn add(&mut self, r: &Record) {
        self.overall.add(r);
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
        let key: Arc<str> = if self.functions.contains_key(&r.function)
            || self.functions.len() < MAX_FUNCTION_ROWS
        {
            r.function.clone()
        } else {
            Arc::from(OTHER)
        };
        self.functions
            .entry(key)
            .or_insert_with(|| Stats::new(2))
            .add(r);
    }

    /// The summary so far; elapsed time spans the records seen.
    pub fn summary(&self) -> Summary {
        let elapsed_s =
            self.last_ns
                .saturating_sub(self.first_ns.unwrap_or(0).min(self.last_ns)) as f64
                / 1e9;
        Summary {
            elapsed_s,
            sent_per_s: if elapsed_s > 0.0 {
                self.sent as f64 / elapsed_s
            } else {
                0.0
            },
            overall: Figures::of(&self.overall),
            functions: self
                .functions
                .iter()
                .map(|(k, v)| (k.to_string(), Figures::of(v)))
                .collect(),
        }
    }
}

fn fmt_p(p: Option<Percentiles>, parts: &[fn(&Percentiles) -> f64]) -> Vec<String> {
    parts
        .iter()
        .map(|f| match p {
            Some(p) => {
                let v = f(&p);
                if v >= 100.0 {
                    format!("{v:.0}")
                } else if v >= 10.0 {
                    format!("{v:.1}")
                } else {
                    format!("{v:.2}")
                }
            }
            None => "-".into(),
        })
        .collect()
}

impl Summary {
    /// The human table: one row per function and a total.
    pub fn table(&self) -> String {
        let lat: [fn(&Percentiles) -> f64; 4] = [|p| p.p50, |p| p.p90, |p| p.p99, |p| p.max];
        let late: [fn(&Percentiles) -> f64; 3] = [|p| p.p50, |p| p.p99, |p| p.max];
        let mut rows: Vec<Vec<String>> = vec![vec![
            "function".into(),
            "count".into(),
            "errors".into(),
            "cold".into(),
            "completion ms p50".into(),
            "p90".into(),
            "p99".into(),
            "max".into(),
            "response ms p50".into(),
            "p90".into(),
            "p99".into(),
            "max".into(),
            "lateness µs p50".into(),
            "p99".into(),
            "max".into(),
        ]];
        let mut line = |name: &str, f: &Figures| {
            let mut r = vec![
                name.to_string(),
                f.count.to_string(),
                f.errors.to_string(),
                f.cold_starts.to_string(),
            ];
            r.extend(fmt_p(f.completion_ms, &lat));
            r.extend(fmt_p(f.response_ms, &lat));
            r.extend(fmt_p(f.lateness_us, &late));
            rows.push(r);
        };
        for (name, f) in &self.functions {
            line(name, f);
        }
        line("all", &self.overall);
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for (i, r) in rows.iter().enumerate() {
            for (c, cell) in r.iter().enumerate() {
                let pad = widths[c] - cell.chars().count();
                if c == 0 {
                    let _ = write!(out, "{cell}{}", " ".repeat(pad));
                } else {
                    let _ = write!(out, "  {}{cell}", " ".repeat(pad));
                }
            }
            out.push('\n');
            if i == 0 || i == rows.len() - 2 {
                out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
                out.push('\n');
            }
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
            "elapsed {:.2} s, {:.1} invocations/s sent",
            self.elapsed_s, self.sent_per_s
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(f: &str, scheduled: u64, sent: u64, done: u64, outcome: Outcome) -> Record {
        let mut r = Record::unsent(0, f.into(), "u".into(), scheduled, outcome, "");
        r.sent_ns = Some(sent);
        r.replied_ns = Some(done);
        r.end_ns = Some(done);
        r.cold = Some(false);
        r
    }

    #[test]
    fn percentiles_and_counts() {
        let mut acc = Accumulator::default();
        for i in 0..100u64 {
            // latency from scheduled = (i+1) ms + 10 µs lateness
            let s = i * 1_000_000;
            acc.add(&rec(
                "a",
                s,
                s + 10_000,
                s + (i + 1) * 1_000_000,
                Outcome::Success,
            ));
        }
        acc.add(&rec("b", 0, 1_000, 2_000, Outcome::Throttled));
        let mut shed = Record::unsent(1, "b".into(), "u".into(), 5, Outcome::Shed, "cap");
        shed.cold = None;
        acc.add(&shed);
        let s = acc.summary();
        assert_eq!(s.overall.count, 102);
        assert_eq!(s.overall.errors, 2);
        assert_eq!(s.overall.outcomes.get("shed"), Some(&1));
        let a = &s.functions["a"];
        let lat = a.completion_ms.unwrap();
        assert!((lat.p50 - 50.0).abs() < 0.5, "{lat:?}");
        assert!((lat.max - 100.0).abs() < 0.5, "{lat:?}");
        assert!((a.lateness_us.unwrap().p99 - 10.0).abs() < 0.1);
        let table = s.table();
        assert!(table.contains("all") && table.contains("shed 1"), "{table}");
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
