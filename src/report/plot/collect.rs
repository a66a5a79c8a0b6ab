//! The one streaming pass: every record updates a few bounded summaries of its run, and
//! nothing else is kept. Memory per run: one [`Latencies`] per function (≈ 10–25 KB; at most
//! [`MAX_FUNCTIONS`], the rest pooled), the [`Timeline`] (≤ 1 MB), per-node counters with a
//! hash per distinct container (8 bytes each), and for datasets a reservoir of at most
//! [`RESERVOIR`] rows per function.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use super::input::{DatasetView, RecordView};
use super::sketch::Latencies;
use super::timeline::Timeline;
use crate::report::Record;

/// Functions tracked separately per run; later ones share the group [`OTHER_FUNCTIONS`]. Far
/// more than a figure can show, but it bounds a 100 000-function Azure trace.
pub const MAX_FUNCTIONS: usize = 2000;
/// The group that pools functions past [`MAX_FUNCTIONS`].
pub const OTHER_FUNCTIONS: &str = "(other functions)";
/// Dataset rows kept per function and run for scatter plots (uniform reservoir sample).
pub const RESERVOIR: usize = 2000;

/// Invocations and containers seen on one node.
#[derive(Debug, Clone, Default)]
pub struct NodeCounts {
    /// Invocations that named this node.
    pub invocations: u64,
    /// Of those, cold starts.
    pub cold: u64,
    /// Distinct containers (hashes of their names: 8 bytes each instead of the name).
    pub containers: HashSet<u64>,
}

/// A dataset row kept for the scatter plots.
#[derive(Debug, Clone)]
pub struct Point {
    /// Parameter values by index into [`PlotData::params`]; NaN where absent.
    pub params: Vec<f64>,
    /// CPU time, ms (NaN: not measured).
    pub cpu_ms: f64,
    /// Peak memory, bytes (NaN: not measured).
    pub mem_peak_bytes: f64,
    /// Activation duration, ms (NaN: unknown).
    pub duration_ms: f64,
}

/// A uniform sample of at most [`RESERVOIR`] points (Vitter's algorithm R), seeded from the
/// row count so the same input always draws the same figure.
#[derive(Debug, Clone, Default)]
pub struct Reservoir {
    /// Rows offered.
    pub seen: u64,
    /// Rows kept.
    pub points: Vec<Point>,
}

impl Reservoir {
    fn offer(&mut self, p: Point) {
        self.seen += 1;
        if self.points.len() < RESERVOIR {
            self.points.push(p);
            return;
        }
        let j = splitmix64(self.seen) % self.seen;
        if let Some(slot) = self.points.get_mut(j as usize) {
            *slot = p;
        }
    }
}

/// One step of splitmix64: a well-mixed hash of the counter, enough for a reservoir's choices.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Everything the figures need about one run (one result directory).
#[derive(Debug, Clone, Default)]
pub struct RunData {
    /// The run's label in legends and file names.
    pub label: String,
    /// RecordView records read.
    pub records: u64,
    /// Of those, not successful.
    pub failed: u64,
    /// Completion latency of successful invocations, per function.
    pub functions: HashMap<Box<str>, Latencies>,
    /// Completion latency of all successful invocations.
    pub all: Latencies,
    /// Per-second activity.
    pub timeline: Timeline,
    /// Per-node counts (node names are the embedded platform's).
    pub nodes: BTreeMap<String, NodeCounts>,
    /// Dataset rows read.
    pub dataset_rows: u64,
    /// Dataset samples per function.
    pub dataset: BTreeMap<String, Reservoir>,
}

impl RunData {
    fn add(&mut self, inv: &RecordView) {
        self.records += 1;
        let start = inv.sent_us.unwrap_or(inv.scheduled_us);
        if let Some(sent) = inv.sent_us {
            if let Some(b) = self.timeline.at(sent) {
                b.sent += 1;
            }
        }
        if let Some(end) = inv.end_us {
            if let Some(b) = self.timeline.at(end) {
                b.completed += 1;
            }
        }
        // A cold start is marked when its request went out: that is when the user began to pay.
        if inv.cold == Some(true) {
            if let Some(b) = self.timeline.at(start) {
                b.cold += 1;
            }
        }
        if !inv.success {
            self.failed += 1;
            if let Some(b) = self.timeline.at(inv.scheduled_us) {
                b.failed += 1;
            }
        } else if let Some(us) = inv.completion_us {
            let ms = us / 1000.0;
            self.function_mut(inv.function).add(ms);
            self.all.add(ms);
            if let Some(b) = self.timeline.at(inv.scheduled_us) {
                b.latency.add(ms);
            }
        }
        if let Some(node) = inv.node.filter(|n| !n.is_empty()) {
            let counts = match self.nodes.get_mut(node) {
                Some(c) => c,
                None => self.nodes.entry(node.to_string()).or_default(),
            };
            counts.invocations += 1;
            counts.cold += u64::from(inv.cold == Some(true));
            if let Some(c) = inv.container.filter(|c| !c.is_empty()) {
                let mut h = DefaultHasher::new();
                c.hash(&mut h);
                counts.containers.insert(h.finish());
            }
        }
    }

    fn function_mut(&mut self, name: &str) -> &mut Latencies {
        let key = if self.functions.contains_key(name) || self.functions.len() < MAX_FUNCTIONS {
            name
        } else {
            OTHER_FUNCTIONS
        };
        if !self.functions.contains_key(key) {
            self.functions.insert(key.into(), Latencies::default());
        }
        self.functions.get_mut(key).expect("inserted above")
    }

    /// Functions with at least one latency sample, most samples first (ties by name).
    pub fn functions_by_count(&self) -> Vec<(&str, &Latencies)> {
        let mut v: Vec<_> = self
            .functions
            .iter()
            .filter(|(_, l)| l.count() > 0)
            .map(|(k, l)| (&**k, l))
            .collect();
        v.sort_by(|a, b| b.1.count().cmp(&a.1.count()).then(a.0.cmp(b.0)));
        v
    }
}

/// The inputs of every figure, filled in one streaming pass over one or more runs.
#[derive(Debug, Clone, Default)]
pub struct PlotData {
    pub(super) runs: Vec<RunData>,
    /// Names of the dataset parameters seen, in order of first appearance.
    pub(super) params: Vec<String>,
    /// The input columns of the dataset file being read, with the header they belong to
    /// (see [`PlotData::add_read`](super::files)).
    pub(super) dataset_cols: Option<(Vec<String>, super::files::DatasetParams)>,
}

impl PlotData {
    /// No runs yet.
    pub fn new() -> PlotData {
        PlotData::default()
    }

    /// Start a new run (one result directory); later records belong to it. Its label is used
    /// in legends and, sanitised, in file names.
    pub fn begin_run(&mut self, label: &str) {
        self.runs.push(RunData {
            label: label.to_string(),
            ..RunData::default()
        });
    }

    fn current(&mut self) -> &mut RunData {
        if self.runs.is_empty() {
            self.begin_run("run");
        }
        self.runs.last_mut().expect("a run was just begun")
    }

    /// Add one invocation record (`invocations.csv` of inject or simulate) to the current run.
    pub fn add(&mut self, rec: &Record) {
        self.current().add(&RecordView::from(rec));
    }

    /// Add one generator dataset record (`dataset.csv`) to the current run, with its numeric
    /// input parameters by column name (see [`super::files::DatasetParams`]).
    pub fn add_dataset(&mut self, rec: &Record, params: &[(&str, f64)]) {
        self.add_dataset_row(&DatasetView::of(rec, params));
    }

    #[cfg(test)]
    pub(super) fn add_invocation(&mut self, inv: &RecordView) {
        self.current().add(inv);
    }

    pub(super) fn add_dataset_row(&mut self, row: &DatasetView) {
        let mut values = vec![f64::NAN; self.params.len()];
        for &(name, v) in row.params {
            let i = match self.params.iter().position(|p| p == name) {
                Some(i) => i,
                None => {
                    self.params.push(name.to_string());
                    values.push(f64::NAN);
                    self.params.len() - 1
                }
            };
            values[i] = v;
        }
        let point = Point {
            params: values,
            cpu_ms: row.cpu_ms.unwrap_or(f64::NAN),
            mem_peak_bytes: row.mem_peak_bytes.unwrap_or(f64::NAN),
            duration_ms: row.duration_ms.unwrap_or(f64::NAN),
        };
        let run = self.current();
        run.dataset_rows += 1;
        if !row.success {
            run.failed += 1;
            return;
        }
        // Dataset rows have no schedule (each run is sent when the previous ended), so they
        // feed the per-function latency figures but not the timeline.
        if let Some(ms) = row.completion_ms {
            run.function_mut(row.function).add(ms);
            run.all.add(ms);
        }
        let reservoir = match run.dataset.get_mut(row.function) {
            Some(r) => r,
            None => run.dataset.entry(row.function.to_string()).or_default(),
        };
        reservoir.offer(point);
    }

    /// The functions a per-function figure shows: those with the most latency samples over
    /// all runs (ties by name), at most `max`; and how many had samples in all.
    pub fn top_functions(&self, max: usize) -> (Vec<String>, usize) {
        let mut totals: HashMap<&str, u64> = HashMap::new();
        for run in &self.runs {
            for (name, l) in run.functions_by_count() {
                *totals.entry(name).or_default() += l.count();
            }
        }
        let mut v: Vec<(&str, u64)> = totals.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let all = v.len();
        (
            v.into_iter()
                .take(max)
                .map(|(n, _)| n.to_string())
                .collect(),
            all,
        )
    }

    /// The runs, in the order they were begun.
    pub fn runs(&self) -> &[RunData] {
        &self.runs
    }

    /// Whether no record or dataset row was added.
    pub fn is_empty(&self) -> bool {
        self.runs
            .iter()
            .all(|r| r.records == 0 && r.dataset_rows == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv<'a>(function: &'a str, t_s: f64, ok: bool, node: &'a str, c: &'a str) -> RecordView<'a> {
        RecordView {
            function,
            scheduled_us: t_s * 1e6,
            sent_us: Some(t_s * 1e6 + 50.0),
            end_us: Some(t_s * 1e6 + 20_000.0),
            completion_us: Some(20_000.0),
            success: ok,
            cold: Some(c == "c0"),
            node: Some(node),
            container: Some(c),
        }
    }

    #[test]
    fn one_pass_fills_groups_timeline_and_nodes() {
        let mut d = PlotData::new();
        d.add_invocation(&inv("f", 0.1, true, "n0", "c0"));
        d.add_invocation(&inv("f", 0.2, true, "n0", "c1"));
        d.add_invocation(&inv("g", 1.5, false, "n1", "c2"));
        let run = &d.runs()[0];
        assert_eq!(run.label, "run");
        assert_eq!((run.records, run.failed), (3, 1));
        let by = run.functions_by_count();
        assert_eq!(by.len(), 1, "a failed invocation is no latency sample");
        assert_eq!((by[0].0, by[0].1.count()), ("f", 2));
        assert_eq!(run.all.mean(), Some(20.0));
        let b = run.timeline.buckets();
        assert_eq!((b[0].sent, b[0].completed, b[0].cold), (2, 2, 1));
        assert_eq!((b[1].sent, b[1].failed), (1, 1));
        assert_eq!(run.nodes["n0"].invocations, 2);
        assert_eq!(run.nodes["n0"].containers.len(), 2);
        assert_eq!(run.nodes["n1"].containers.len(), 1);
    }

    #[test]
    fn functions_past_the_cap_are_pooled() {
        let mut d = PlotData::new();
        d.begin_run("a");
        for i in 0..MAX_FUNCTIONS + 5 {
            let name = format!("f{i}");
            d.add_invocation(&inv(&name, 0.0, true, "", ""));
        }
        let run = &d.runs()[0];
        assert_eq!(run.functions.len(), MAX_FUNCTIONS + 1);
        assert_eq!(run.functions[OTHER_FUNCTIONS].count(), 5);
        assert!(run.nodes.is_empty(), "empty node names are not nodes");
    }

    #[test]
    fn reservoir_stays_bounded_and_keeps_named_params() {
        let mut d = PlotData::new();
        for i in 0..(RESERVOIR as u64 * 3) {
            let params = [("input_bytes", i as f64), ("p.n", 2.0 * i as f64)];
            d.add_dataset_row(&DatasetView {
                function: "f",
                params: &params,
                success: true,
                completion_ms: Some(4.0),
                cpu_ms: Some(1.0),
                mem_peak_bytes: None,
                duration_ms: Some(3.0),
            });
        }
        let r = &d.runs()[0].dataset["f"];
        assert_eq!(r.seen, RESERVOIR as u64 * 3);
        assert_eq!(r.points.len(), RESERVOIR);
        assert_eq!(d.params, ["input_bytes", "p.n"]);
        // A uniform sample of 0..6000 keeps some rows from the last third.
        assert!(r.points.iter().any(|p| p.params[0] >= 4000.0));
        assert!(r.points.iter().all(|p| p.params[1] == 2.0 * p.params[0]));
        assert!(r.points[0].mem_peak_bytes.is_nan());
        assert_eq!(d.runs()[0].functions["f"].count(), RESERVOIR as u64 * 3);
    }
}
