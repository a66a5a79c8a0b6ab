//! `gale trace inspect`: what a trace's arrivals look like, in one streaming pass: per
//! function, rows, rate and inter-arrival statistics (mean, coefficient of variation,
//! burstiness); over time, the rate as a terminal sparkline and as a plot.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use super::{Invocation, TraceError};

/// Buckets kept before two neighbours merge and the width doubles.
const MAX_BUCKETS: usize = 4096;

/// Rows per time bucket, from time 0, in at most [`MAX_BUCKETS`] buckets.
#[derive(Debug, Clone)]
pub struct Timeline {
    width_ns: u64,
    counts: Vec<u64>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            width_ns: 1_000_000_000,
            counts: Vec::new(),
        }
    }
}

impl Timeline {
    /// Count a row at `at_ns`.
    pub fn add(&mut self, at_ns: u64) {
        let mut i = (at_ns / self.width_ns) as usize;
        while i >= MAX_BUCKETS {
            self.counts = self.counts.chunks(2).map(|c| c.iter().sum()).collect();
            self.width_ns *= 2;
            i = (at_ns / self.width_ns) as usize;
        }
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
    }

    /// Width of a bucket, s.
    pub fn width_s(&self) -> f64 {
        self.width_ns as f64 / 1e9
    }

    /// Rows per bucket.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }
}

/// Inter-arrival statistics of one function, updated row by row (Welford's algorithm).
#[derive(Debug, Clone, Default)]
pub struct Gaps {
    /// Rows seen.
    pub rows: u64,
    /// First and last row, ns.
    pub first_ns: u64,
    /// Last row, ns.
    pub last_ns: u64,
    n: u64,
    mean: f64,
    m2: f64,
}

impl Gaps {
    /// Count a row at `at_ns` (rows come in time order).
    pub fn add(&mut self, at_ns: u64) {
        if self.rows == 0 {
            self.first_ns = at_ns;
        } else {
            let gap = (at_ns - self.last_ns) as f64 / 1e9;
            self.n += 1;
            let d = gap - self.mean;
            self.mean += d / self.n as f64;
            self.m2 += d * (gap - self.mean);
        }
        self.rows += 1;
        self.last_ns = at_ns;
    }

    /// Mean gap, s (`None` below two rows).
    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then_some(self.mean)
    }

    /// Standard deviation of the gaps, s (population).
    pub fn std(&self) -> Option<f64> {
        (self.n > 0).then(|| (self.m2 / self.n as f64).sqrt())
    }

    /// Coefficient of variation: 1 for a Poisson process, 0 for equal gaps, above 1 bursty.
    pub fn cv(&self) -> Option<f64> {
        Some(self.std()? / self.mean().filter(|m| *m > 0.0)?)
    }

    /// Burstiness (σ − μ)/(σ + μ) (Goh and Barabási): −1 periodic, 0 Poisson, towards 1
    /// bursty.
    pub fn burstiness(&self) -> Option<f64> {
        let (m, s) = (self.mean()?, self.std()?);
        (m + s > 0.0).then(|| (s - m) / (s + m))
    }
}

/// A whole trace's figures.
#[derive(Debug, Default)]
pub struct Inspection {
    /// All rows.
    pub all: Gaps,
    /// Per function.
    pub functions: HashMap<Arc<str>, Gaps>,
    /// Rows over time.
    pub timeline: Timeline,
}

impl Inspection {
    /// Read `rows` once.
    pub fn of(
        rows: impl Iterator<Item = Result<Invocation, TraceError>>,
    ) -> Result<Inspection, TraceError> {
        let mut me = Inspection::default();
        for r in rows {
            let inv = r?;
            me.all.add(inv.at_ns);
            me.timeline.add(inv.at_ns);
            me.functions.entry(inv.function).or_default().add(inv.at_ns);
        }
        Ok(me)
    }

    /// The report `gale trace inspect` prints: totals, the sparkline, the `top` busiest
    /// functions.
    pub fn table(&self, top: usize) -> String {
        let mut s = String::new();
        let span = self.all.last_ns as f64 / 1e9;
        let _ = writeln!(
            s,
            "rows       {} in {:.3} s ({:.2} /s, {:.1} /min)",
            self.all.rows,
            span,
            self.all.rows as f64 / span.max(1e-9),
            self.all.rows as f64 / span.max(1e-9) * 60.0
        );
        let _ = writeln!(s, "functions  {}", self.functions.len());
        let (line, peak) = sparkline(self.timeline.counts(), 60);
        let per =
            self.timeline.width_s() * (self.timeline.counts().len() as f64 / 60.0).max(1.0).ceil();
        let _ = writeln!(
            s,
            "rate       {line}  (0 to {:.0} s; peak {:.2} /s over {} s)",
            self.timeline.counts().len() as f64 * self.timeline.width_s(),
            peak / per,
            super::num::format_secs((per * 1e9) as u64)
        );
        let _ = writeln!(
            s,
            "gaps       mean {}  CV {}  burstiness {} (all rows)",
            opt(self.all.mean(), "s"),
            opt(self.all.cv(), ""),
            opt(self.all.burstiness(), "")
        );
        let mut fs: Vec<(&Arc<str>, &Gaps)> = self.functions.iter().collect();
        fs.sort_by(|a, b| b.1.rows.cmp(&a.1.rows).then(a.0.cmp(b.0)));
        let width = fs
            .iter()
            .take(top)
            .map(|f| f.0.chars().count())
            .max()
            .unwrap_or(8)
            .clamp(8, 40);
        let _ = writeln!(
            s,
            "\n{:<width$}  {:>10}  {:>10}  {:>12}  {:>7}  {:>10}",
            "function", "rows", "rate/s", "mean gap s", "CV", "burstiness"
        );
        for (name, g) in fs.iter().take(top) {
            let name: String = name.chars().take(40).collect();
            let _ = writeln!(
                s,
                "{name:<width$}  {:>10}  {:>10.3}  {:>12}  {:>7}  {:>10}",
                g.rows,
                g.rows as f64 / span.max(1e-9),
                opt(g.mean(), ""),
                opt(g.cv(), ""),
                opt(g.burstiness(), "")
            );
        }
        if fs.len() > top {
            let _ = writeln!(s, "… {} more functions (--top)", fs.len() - top);
        }
        s
    }
}

fn opt(v: Option<f64>, unit: &str) -> String {
    v.map_or("-".into(), |v| format!("{v:.3}{unit}"))
}

/// `counts` in at most `columns` block characters ▁…█, and the largest column's sum.
pub fn sparkline(counts: &[u64], columns: usize) -> (String, f64) {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    if counts.is_empty() {
        return (String::new(), 0.0);
    }
    let per = counts.len().div_ceil(columns.max(1));
    let cols: Vec<u64> = counts.chunks(per).map(|c| c.iter().sum()).collect();
    let max = cols.iter().copied().max().unwrap_or(0).max(1) as f64;
    let line = cols
        .iter()
        .map(|&c| {
            if c == 0 {
                ' '
            } else {
                BARS[((c as f64 / max) * 7.0).round() as usize]
            }
        })
        .collect();
    (line, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_statistics() {
        let mut g = Gaps::default();
        for t in [0u64, 1, 2, 3, 4] {
            g.add(t * 1_000_000_000);
        }
        assert_eq!(g.mean(), Some(1.0));
        assert_eq!(g.cv(), Some(0.0));
        assert_eq!(g.burstiness(), Some(-1.0));
        let mut one = Gaps::default();
        one.add(5);
        assert_eq!(one.cv(), None);
    }

    #[test]
    fn timeline_merges_to_stay_bounded() {
        let mut t = Timeline::default();
        for s in 0..10_000u64 {
            t.add(s * 1_000_000_000);
        }
        assert!(t.counts().len() <= MAX_BUCKETS);
        assert_eq!(t.width_s(), 4.0);
        assert_eq!(t.counts().iter().sum::<u64>(), 10_000);
        let (line, max) = sparkline(&[0, 1, 2, 4, 8], 5);
        assert_eq!(line, " ▂▃▅█");
        assert_eq!(max, 8.0);
    }
}
