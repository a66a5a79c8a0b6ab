//! K-way merge of time-ordered row sources into one deterministic stream.
//!
//! Every source (explicit rows, a CSV file, one arrival spec, one FaaSLoad file) is sorted
//! on its own; the merge keeps one pending row per source in a min-heap keyed by
//! (time, source index, position in source), so equal instants come out in source order and
//! the result never depends on timing or hashing. Memory is one row per source.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::{Invocation, Rows, TraceError};

/// One pending row: ordered by time, then source, then position within the source.
struct Head {
    key: (u64, usize, u64),
    inv: Invocation,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

/// The merged stream; yields rows with `row` numbered 0, 1, … in output order and ends
/// after the first error.
pub struct Merge {
    sources: Vec<(Rows, u64)>,
    heap: BinaryHeap<Reverse<Head>>,
    primed: bool,
    next_row: u64,
    pending_error: Option<TraceError>,
    done: bool,
}

impl Merge {
    /// Merge `sources`; their order is the tie-break order.
    pub fn new(sources: Vec<Rows>) -> Self {
        let n = sources.len();
        Merge {
            sources: sources.into_iter().map(|s| (s, 0)).collect(),
            heap: BinaryHeap::with_capacity(n),
            primed: false,
            next_row: 0,
            pending_error: None,
            done: false,
        }
    }

    /// Pull the next row of source `i` into the heap; an error is kept to be yielded next.
    fn refill(&mut self, i: usize) {
        let Some((src, pos)) = self.sources.get_mut(i) else {
            return;
        };
        match src.next() {
            Some(Ok(inv)) => {
                let key = (inv.at_ns, i, *pos);
                *pos += 1;
                self.heap.push(Reverse(Head { key, inv }));
            }
            Some(Err(e)) if self.pending_error.is_none() => self.pending_error = Some(e),
            Some(Err(_)) => {}
            None => {}
        }
    }
}

impl Iterator for Merge {
    type Item = Result<Invocation, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if !self.primed {
            self.primed = true;
            for i in 0..self.sources.len() {
                self.refill(i);
            }
        }
        if let Some(e) = self.pending_error.take() {
            self.done = true;
            return Some(Err(e));
        }
        let Some(Reverse(head)) = self.heap.pop() else {
            self.done = true;
            return None;
        };
        self.refill(head.key.1);
        let mut inv = head.inv;
        inv.row = self.next_row;
        self.next_row += 1;
        Some(Ok(inv))
    }
}

/// A single source needs no heap; it still gets its rows numbered.
pub fn merge(mut sources: Vec<Rows>) -> Rows {
    if sources.len() == 1 {
        if let Some(only) = sources.pop() {
            let mut next_row = 0u64;
            let mut failed = false;
            return Box::new(only.map_while(move |r| {
                if failed {
                    return None;
                }
                Some(match r {
                    Ok(mut inv) => {
                        inv.row = next_row;
                        next_row += 1;
                        Ok(inv)
                    }
                    Err(e) => {
                        failed = true;
                        Err(e)
                    }
                })
            }));
        }
    }
    Box::new(Merge::new(sources))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn inv(at_ns: u64, f: &str) -> Invocation {
        Invocation {
            row: 99,
            at_ns,
            function: Arc::from(f),
            user: Arc::from("u"),
            params: None,
            blocking: None,
        }
    }

    fn src(rows: Vec<Invocation>) -> Rows {
        Box::new(rows.into_iter().map(Ok))
    }

    #[test]
    fn merges_by_time_then_source_then_position() {
        let a = src(vec![inv(1, "a0"), inv(5, "a1"), inv(5, "a2")]);
        let b = src(vec![inv(0, "b0"), inv(5, "b1"), inv(9, "b2")]);
        let c = src(vec![]);
        let out: Vec<_> = merge(vec![a, b, c]).map(Result::unwrap).collect();
        let names: Vec<&str> = out.iter().map(|i| &*i.function).collect();
        assert_eq!(names, ["b0", "a0", "a1", "a2", "b1", "b2"]);
        let rows: Vec<u64> = out.iter().map(|i| i.row).collect();
        assert_eq!(rows, [0, 1, 2, 3, 4, 5]);
    }

    #[test]
    fn stops_after_an_error() {
        let a = src(vec![inv(1, "a0"), inv(2, "a1")]);
        let b: Rows =
            Box::new(vec![Ok(inv(0, "b0")), Err(TraceError::file("x", "bad"))].into_iter());
        let out: Vec<_> = merge(vec![a, b]).collect();
        assert_eq!(out.len(), 2);
        assert!(out[0].is_ok());
        assert!(out[1].is_err());
        let single: Vec<_> = merge(vec![Box::new(
            vec![Err(TraceError::file("x", "bad")), Ok(inv(0, "z"))].into_iter(),
        )])
        .collect();
        assert_eq!(single.len(), 1);
    }
}
