//! Rows from counts per time bucket (a minute of Azure 2019 or FaaSRail, a second or a
//! minute of Huawei): each bucket's counts are spread over it ([`super::spread`]), sorted,
//! and turned into invocations; one bucket is in memory at a time.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::spread::{expand_bucket, Dist, Iat, Pending, Values};
use super::{work_params, SharedReport, Work};
use crate::trace::{Invocation, TraceError};

/// One arrival process of the input: a function as one user calls it (FaaSRail has several
/// rows mapped to the same function, each its own entry).
#[derive(Debug, Clone)]
pub struct Entry {
    /// Action name.
    pub function: Arc<str>,
    /// User label.
    pub user: Arc<str>,
    /// Per-invocation duration, ms.
    pub duration: Option<Dist>,
    /// Per-invocation memory, MB.
    pub memory: Option<Dist>,
    /// Parameters every invocation carries besides the drawn ones.
    pub extra: Option<Arc<Map<String, Value>>>,
}

/// The entries of an import, by number.
#[derive(Debug, Default)]
pub struct Entries {
    /// By entry number.
    pub list: Vec<Entry>,
}

impl Values for Entries {
    fn dists(&self, e: u32) -> (Option<&Dist>, Option<&Dist>) {
        match self.list.get(e as usize) {
            Some(x) => (x.duration.as_ref(), x.memory.as_ref()),
            None => (None, None),
        }
    }
}

/// A bucket to expand: its number (for the random streams), start and length.
#[derive(Debug, Clone, Copy)]
pub struct Bucket {
    /// Global bucket number, stable under windows.
    pub number: u64,
    /// Start, ns after the start of the run.
    pub start_ns: u64,
    /// Length, ns (at most 2^36).
    pub len_ns: u64,
}

/// Where buckets come from.
pub trait BucketSource: Send {
    /// The next non-empty-or-empty bucket and its (entry, count) cells; `None` at the end.
    fn next_bucket(&mut self, cells: &mut Vec<(u32, u32)>) -> Result<Option<Bucket>, TraceError>;
    /// The entries cells refer to.
    fn entries(&self) -> &Entries;
}

/// How buckets are expanded.
#[derive(Debug, Clone, Copy)]
pub struct Expansion {
    /// Seed of every stream.
    pub seed: u64,
    /// Law of the gaps.
    pub iat: Iat,
    /// Random rotation of each bucket.
    pub shift: bool,
    /// Where durations go.
    pub work: Work,
}

/// The rows of a [`BucketSource`].
pub struct BucketRows<S> {
    src: S,
    how: Expansion,
    report: SharedReport,
    cells: Vec<(u32, u32)>,
    gaps: Vec<f64>,
    pending: Vec<Pending>,
    pos: usize,
    bucket_start: u64,
    done: bool,
}

impl<S: BucketSource> BucketRows<S> {
    /// Rows of `src`, expanded as `how` says; zero durations are counted in `report`.
    pub fn new(src: S, how: Expansion, report: SharedReport) -> Self {
        BucketRows {
            src,
            how,
            report,
            cells: Vec::new(),
            gaps: Vec::new(),
            pending: Vec::new(),
            pos: 0,
            bucket_start: 0,
            done: false,
        }
    }

    fn row(&self, p: Pending) -> Invocation {
        let e = &self.src.entries().list[p.entry() as usize];
        let duration = (p.duration_ms >= 0.0).then_some(f64::from(p.duration_ms));
        let memory = (p.memory_mb >= 0.0).then_some(f64::from(p.memory_mb));
        let params = match &e.extra {
            None => work_params(self.how.work, duration, memory),
            Some(extra) => {
                let mut m = (**extra).clone();
                let drawn: Value =
                    serde_json::from_str(&work_params(self.how.work, duration, memory))
                        .unwrap_or(Value::Null);
                if let Value::Object(d) = drawn {
                    m.extend(d);
                }
                Value::Object(m).to_string()
            }
        };
        Invocation {
            row: 0,
            at_ns: self.bucket_start + p.offset_ns(),
            function: e.function.clone(),
            user: e.user.clone(),
            params: Some(params.into_boxed_str()),
            blocking: None,
        }
    }
}

impl<S: BucketSource> Iterator for BucketRows<S> {
    type Item = Result<Invocation, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            if let Some(&p) = self.pending.get(self.pos) {
                self.pos += 1;
                if p.duration_ms == 0.0 {
                    if let Ok(mut r) = self.report.lock() {
                        r.zero_durations += 1;
                    }
                }
                return Some(Ok(self.row(p)));
            }
            match self.src.next_bucket(&mut self.cells) {
                Ok(Some(b)) => {
                    expand_bucket(
                        &self.cells,
                        b.number,
                        b.len_ns,
                        self.how.seed,
                        self.how.iat,
                        self.how.shift,
                        self.src.entries(),
                        &mut self.pending,
                        &mut self.gaps,
                    );
                    self.pos = 0;
                    self.bucket_start = b.start_ns;
                }
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
