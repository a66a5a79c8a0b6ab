//! Attribution: what a container used during a time window (an activation), from its
//! sample history.
//!
//! - CPU: the cumulative counter's value at each window edge, linearly interpolated
//!   between the samples around the edge; the difference is the window's CPU time.
//!   The counter itself advances at scheduler ticks and context switches, so the figure is
//!   within about one tick (4 ms at HZ=250) plus half a period of the truth.
//! - Memory peak: with a kernel watermark (v2 ≥ 6.12, or v1 when the monitor owns the
//!   container) the maximum of the per-interval watermarks of the intervals that overlap
//!   the window: no spike is missed, but the window is widened to sample boundaries (at
//!   most one period on each side). Otherwise the maximum of the samples, flagged inexact.
//! - Memory mean: the mean of the samples inside the window (of the two around it when it
//!   falls between two samples).
//! - A container whose cgroup creation instant is known (`History::born_us`: its platform
//!   made the cgroup for it) had every counter at zero before that instant, so a window
//!   starting earlier (a cold start's, which includes the start-up) is covered: its CPU
//!   counter at the start is 0, and the first sample's watermark covers since creation.

use super::history::History;

/// A window's columns in result files (`invocations.csv`, the generator's dataset), in order.
pub const WINDOW_COLUMNS: [&str; 7] = [
    "cpu_ms",
    "mem_peak_bytes",
    "mem_mean_bytes",
    "cpu_exact",
    "mem_peak_exact",
    "monitor_samples",
    "monitor_missed",
];

/// What a container used during a window.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Window {
    /// Window start, epoch µs.
    pub start_us: u64,
    /// Window end, epoch µs.
    pub end_us: u64,
    /// CPU time used in the window, ms (`None`: the container has no CPU counter).
    pub cpu_ms: Option<f64>,
    /// Whether both ends of the CPU figure were read rather than interpolated: at each edge
    /// a sample fell on it, or the container was idle on the outer side (or, at the start,
    /// did not exist yet). Then the figure is the counter's own difference, within the
    /// kernel's accounting; otherwise each edge adds up to half a period of error.
    #[serde(default)]
    pub cpu_exact: bool,
    /// Highest memory usage, bytes.
    pub mem_peak_bytes: Option<u64>,
    /// Whether the peak comes from the kernel watermark (no spike missed) rather than from
    /// the samples.
    pub mem_peak_exact: bool,
    /// Mean memory usage, bytes.
    pub mem_mean_bytes: Option<u64>,
    /// Samples taken inside the window.
    pub samples: u32,
    /// Whether sampler ticks were missed in or around the window, or the history does not
    /// cover the window (it started before the first sample or ended after the last one).
    pub missed: bool,
}

impl Window {
    /// Append the cells of [`WINDOW_COLUMNS`], comma-separated (no leading or trailing
    /// comma); all empty without a window. An exactness flag is empty when its figure is.
    pub fn write_cells(w: Option<&Window>, b: &mut Vec<u8>) {
        use std::io::Write as _;
        let Some(w) = w else {
            b.extend_from_slice(b",,,,,,");
            return;
        };
        fn put<T: std::fmt::Display>(b: &mut Vec<u8>, v: Option<T>) {
            if let Some(v) = v {
                let _ = write!(b, "{v}");
            }
        }
        if let Some(cpu) = w.cpu_ms {
            let _ = write!(b, "{cpu:.3}");
        }
        b.push(b',');
        put(b, w.mem_peak_bytes);
        b.push(b',');
        put(b, w.mem_mean_bytes);
        b.push(b',');
        put(b, w.cpu_ms.map(|_| w.cpu_exact));
        b.push(b',');
        put(b, w.mem_peak_bytes.map(|_| w.mem_peak_exact));
        let _ = write!(b, ",{},{}", w.samples, w.missed);
    }

    /// The same cells, one string each (no cell holds a comma).
    pub fn cells(w: Option<&Window>) -> Vec<String> {
        let mut b = Vec::with_capacity(64);
        Window::write_cells(w, &mut b);
        String::from_utf8_lossy(&b)
            .split(',')
            .map(str::to_string)
            .collect()
    }
}

/// Which counters a container has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    /// A CPU counter.
    pub cpu: bool,
    /// A memory usage counter.
    pub mem: bool,
    /// A resettable memory watermark.
    pub peak: bool,
}

/// Compute the window from the history; `None` when no sample is near it (the history is
/// empty, or the window lies entirely before the first or after the last sample).
pub fn window(h: &History, counters: Counters, start_us: u64, end_us: u64) -> Option<Window> {
    let end_us = end_us.max(start_us);
    let s = &h.fast;
    let (first, last) = (s.front()?, s.back()?);
    // Before its birth the container held nothing: a window starting then is covered, and
    // so is one that ended before the first sample (the monitor learnt of the container
    // late) when the container was idle after it.
    let born = h.born_us.filter(|&b| b <= first.t_us);
    if end_us < born.unwrap_or(first.t_us) || start_us > last.t_us {
        return None;
    }
    let covered = (first.t_us <= start_us || born.is_some()) && last.t_us >= end_us;
    // Samples strictly inside [start, end]; `lo..hi` in the ring.
    let lo = h.first_at_or_after(start_us);
    let hi = h.fast.partition_point(|x| x.t_us <= end_us);
    let inside = hi.saturating_sub(lo) as u32;

    let cpu = counters.cpu.then(|| {
        let from = if born.is_some() {
            start_us
        } else {
            start_us.max(first.t_us)
        };
        let a = cpu_at(h, born, from, Edge::Start);
        let b = cpu_at(h, born, end_us.min(last.t_us), Edge::End);
        ((b.0 - a.0).max(0.0) / 1e6, a.1 && b.1 && covered)
    });

    // The samples whose interval (previous sample, this sample] overlaps the window: from
    // the first at or after start to the first at or after end.
    let cover_lo = lo;
    let cover_hi = (h.first_at_or_after(end_us) + 1).min(s.len());
    // When the window falls between two samples, the pair around it.
    let (m_lo, m_hi) = if inside > 0 {
        (lo, hi)
    } else {
        (lo.saturating_sub(1), (lo + 1).min(s.len()))
    };
    let mem_slice = || s.range(m_lo..m_hi);
    let missed = !covered || s.range(cover_lo..cover_hi).any(|x| x.missed > 0);

    let (mem_peak_bytes, mem_peak_exact, mem_mean_bytes) = if counters.mem {
        let sampled_max = mem_slice().map(|x| x.mem_bytes).max();
        let n = mem_slice().count() as u64;
        let mean = (n > 0).then(|| mem_slice().map(|x| x.mem_bytes).sum::<u64>() / n);
        // The watermark of the sample that opened the window's first interval is not part
        // of the window; the ones from `cover_lo` (exclusive of samples before start) are.
        let exact = counters.peak && covered && cover_hi > cover_lo;
        let peak = if exact {
            s.range(cover_lo..cover_hi)
                .map(|x| x.peak_bytes.max(x.mem_bytes))
                .max()
                .max(sampled_max)
        } else {
            sampled_max
        };
        (peak, exact, mean)
    } else {
        (None, false, None)
    };
    Some(Window {
        start_us,
        end_us,
        cpu_ms: cpu.map(|c| c.0),
        cpu_exact: cpu.is_some_and(|c| c.1),
        mem_peak_bytes,
        mem_peak_exact,
        mem_mean_bytes,
        samples: inside,
        missed,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Edge {
    Start,
    End,
}

/// The CPU counter at a window edge `t` (ns), and whether it was read rather than
/// interpolated.
///
/// A running task's counter lags its true CPU time by up to a tick, and catches up when the
/// task sleeps. So when the container was idle on the outer side of the edge (the counter
/// did not move in the interval beyond the outer sample), the outer sample is exact: the
/// one just before the start, or the one just after the end. Otherwise the value is
/// interpolated linearly between the samples around `t`. Before the first sample of a
/// container born at `born`, the counter was 0 up to `born`, and is interpolated after.
fn cpu_at(h: &History, born: Option<u64>, t: u64, edge: Edge) -> (f64, bool) {
    let s = &h.fast;
    let i = h.first_at_or_after(t);
    let Some(after) = s.get(i) else {
        return (s.back().map_or(0.0, |x| x.cpu_ns as f64), false);
    };
    if after.t_us == t {
        return (after.cpu_ns as f64, true);
    }
    let before = match (i, born) {
        (0, Some(b)) if t <= b => return (0.0, true),
        (0, Some(b)) => (b, 0.0),
        (0, None) => return (after.cpu_ns as f64, false),
        _ => (s[i - 1].t_us, s[i - 1].cpu_ns as f64),
    };
    let idle_outside = match edge {
        Edge::Start => i >= 2 && s[i - 2].cpu_ns == s[i - 1].cpu_ns,
        Edge::End => s.get(i + 1).is_some_and(|n| n.cpu_ns == after.cpu_ns),
    };
    if idle_outside {
        let outer = if edge == Edge::Start {
            before.1
        } else {
            after.cpu_ns as f64
        };
        return (outer, true);
    }
    let span = after.t_us.saturating_sub(before.0).max(1) as f64;
    let frac = t.saturating_sub(before.0) as f64 / span;
    let b = after.cpu_ns as f64;
    (before.1 + (b - before.1) * frac, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Sample;

    fn hist(samples: &[(u64, u64, u64, u64)]) -> History {
        let mut h = History::new(u64::MAX);
        for &(t_us, cpu_ns, mem_bytes, peak_bytes) in samples {
            h.push(Sample {
                t_us,
                cpu_ns,
                mem_bytes,
                peak_bytes,
                missed: 0,
            });
        }
        h
    }

    const ALL: Counters = Counters {
        cpu: true,
        mem: true,
        peak: true,
    };

    #[test]
    fn interpolates_cpu_at_the_edges() {
        // 1 ms of CPU per 10 ms sample interval.
        let h = hist(&[
            (0, 0, 100, 100),
            (10_000, 1_000_000, 100, 100),
            (20_000, 2_000_000, 100, 100),
        ]);
        let w = window(&h, ALL, 5_000, 15_000).unwrap();
        assert!((w.cpu_ms.unwrap() - 1.0).abs() < 1e-9, "{w:?}");
        assert_eq!(w.samples, 1);
        assert!(!w.missed && !w.cpu_exact);
        // Idle before and after: the counter is exact at the outer samples (a running
        // task's counter lags, and catches up when it sleeps).
        let h = hist(&[
            (0, 0, 1, 1),
            (10_000, 0, 1, 1),
            (20_000, 4_000_000, 1, 1),
            (30_000, 9_000_000, 1, 1),
            (40_000, 9_000_000, 1, 1),
        ]);
        let w = window(&h, ALL, 12_000, 25_000).unwrap();
        assert!((w.cpu_ms.unwrap() - 9.0).abs() < 1e-9, "{w:?}");
        assert!(
            w.cpu_exact,
            "both edges idle outside: read, not interpolated"
        );
    }

    #[test]
    fn watermark_catches_a_spike_between_samples() {
        let h = hist(&[
            (0, 0, 100, 100),
            (10_000, 0, 100, 900),
            (20_000, 0, 100, 100),
            (30_000, 0, 100, 100),
        ]);
        let exact = window(&h, ALL, 12_000, 18_000).unwrap();
        // The spike was in (0, 10 ms], before the window's interval (10, 20].
        assert_eq!(
            (exact.mem_peak_bytes, exact.mem_peak_exact),
            (Some(100), true)
        );
        let w = window(&h, ALL, 5_000, 25_000).unwrap();
        assert_eq!((w.mem_peak_bytes, w.mem_peak_exact), (Some(900), true));
        let sampled = window(&h, Counters { peak: false, ..ALL }, 5_000, 25_000).unwrap();
        assert_eq!(
            (sampled.mem_peak_bytes, sampled.mem_peak_exact),
            (Some(100), false)
        );
        assert_eq!(sampled.mem_mean_bytes, Some(100));
    }

    #[test]
    fn a_known_birth_covers_a_window_that_starts_before_the_first_sample() {
        let mut h = hist(&[
            (10_000, 3_000_000, 100, 200),
            (20_000, 5_000_000, 100, 100),
            (30_000, 5_000_000, 100, 100),
        ]);
        let before = window(&h, ALL, 1_000, 20_000).unwrap();
        assert!(before.missed && !before.cpu_exact && !before.mem_peak_exact);
        assert!((before.cpu_ms.unwrap() - 2.0).abs() < 1e-9, "{before:?}");
        h.born_us = Some(5_000);
        let w = window(&h, ALL, 1_000, 20_000).unwrap();
        assert!(!w.missed && w.cpu_exact, "{w:?}");
        assert!((w.cpu_ms.unwrap() - 5.0).abs() < 1e-9, "{w:?}");
        assert_eq!((w.mem_peak_bytes, w.mem_peak_exact), (Some(200), true));
        // A short cold window, over before the monitor's first sample: the container was
        // idle after it, so the first sample holds its total.
        let mut late = hist(&[(10_000, 3_000_000, 100, 300), (20_000, 3_000_000, 100, 100)]);
        assert!(window(&late, ALL, 1_000, 8_000).is_none());
        late.born_us = Some(5_000);
        let w = window(&late, ALL, 1_000, 8_000).unwrap();
        assert!((w.cpu_ms.unwrap() - 3.0).abs() < 1e-9, "{w:?}");
        assert!(w.cpu_exact && !w.missed && w.samples == 0, "{w:?}");
        assert_eq!((w.mem_peak_bytes, w.mem_peak_exact), (Some(300), true));
        assert!(
            window(&late, ALL, 1_000, 4_000).is_none(),
            "over before the birth"
        );
        // Born inside the window's first interval: interpolated from (birth, 0).
        let w = window(&h, ALL, 7_500, 20_000).unwrap();
        assert!((w.cpu_ms.unwrap() - 3.5).abs() < 1e-9, "{w:?}");
        assert!(!w.cpu_exact);
    }

    #[test]
    fn uncovered_and_missed_windows_are_flagged() {
        let mut h = hist(&[(10_000, 0, 100, 0), (20_000, 4_000_000, 300, 0)]);
        assert!(window(&h, ALL, 0, 5_000).is_none());
        assert!(window(&h, ALL, 25_000, 30_000).is_none());
        let w = window(&h, ALL, 5_000, 15_000).unwrap();
        assert!(w.missed && !w.mem_peak_exact);
        h.push(Sample {
            t_us: 40_000,
            cpu_ns: 4_000_000,
            mem_bytes: 200,
            peak_bytes: 0,
            missed: 1,
        });
        let w = window(&h, ALL, 21_000, 39_000).unwrap();
        assert!(w.missed);
        assert_eq!((w.samples, w.mem_mean_bytes), (0, Some(250)));
        assert_eq!(w.cpu_ms, Some(0.0));
        let none = window(&h, Counters::default(), 10_000, 20_000).unwrap();
        assert_eq!((none.cpu_ms, none.mem_peak_bytes), (None, None));
    }
}
