//! The bounded sample history of one container: a ring of fixed-size samples, trimmed by
//! age, so memory stays bounded whatever the run length.

use std::collections::VecDeque;

use super::files::MemStat;

/// One fast-tier sample. Fixed size (40 bytes), so the history is a flat ring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sample {
    /// When it was read, epoch µs (CLOCK_REALTIME, the clock activation records use).
    pub t_us: u64,
    /// Cumulative CPU time, ns (0 when the container has no CPU counter).
    pub cpu_ns: u64,
    /// Memory usage, bytes (0 when the container has no memory counter).
    pub mem_bytes: u64,
    /// Kernel high watermark over the interval since the previous sample, bytes; 0 when no
    /// resettable watermark is available.
    pub peak_bytes: u64,
    /// Sampler ticks missed just before this sample (the interval is longer than a period).
    pub missed: u32,
}

/// One slow-tier sample (memory.stat).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SlowSample {
    /// When it was read, epoch µs.
    pub t_us: u64,
    /// The parsed figures.
    #[serde(flatten)]
    pub stat: MemStat,
    /// `usage − inactive_file`, clamped at 0 (cAdvisor's and docker stats' working set);
    /// approximate: memory.stat is flushed lazily and may trail the usage.
    pub working_set: u64,
}

/// Samples of one container, oldest first.
#[derive(Debug, Default)]
pub struct History {
    /// Fast-tier samples, in time order.
    pub fast: VecDeque<Sample>,
    /// Slow-tier samples, in time order.
    pub slow: VecDeque<SlowSample>,
    /// When the cgroup was created, epoch µs, if known (its platform made it for this
    /// container): before that instant every counter was zero, so a window that starts
    /// earlier is still covered.
    pub born_us: Option<u64>,
    max_age_us: u64,
}

impl History {
    /// An empty history keeping samples for `max_age_us`.
    pub fn new(max_age_us: u64) -> History {
        History {
            fast: VecDeque::new(),
            slow: VecDeque::new(),
            born_us: None,
            max_age_us,
        }
    }

    /// Append a fast sample and drop those older than the maximum age. Samples whose time
    /// would go backwards (a realtime clock step) are dropped, so the ring stays sorted.
    pub fn push(&mut self, s: Sample) {
        push_in_order(&mut self.fast, s, |s| s.t_us, self.max_age_us);
    }

    /// Append a slow sample (same trimming).
    pub fn push_slow(&mut self, s: SlowSample) {
        push_in_order(&mut self.slow, s, |s| s.t_us, self.max_age_us);
    }

    /// The newest fast sample.
    pub fn latest(&self) -> Option<&Sample> {
        self.fast.back()
    }

    /// Index of the first sample with `t_us >= t`.
    pub fn first_at_or_after(&self, t: u64) -> usize {
        self.fast.partition_point(|s| s.t_us < t)
    }

    /// The raw samples of a window `[start_us, end_us]`: those inside it, plus the last one
    /// before and the first one after (what edge interpolation uses), oldest first.
    pub fn around(&self, start_us: u64, end_us: u64) -> impl Iterator<Item = &Sample> {
        let lo = self.first_at_or_after(start_us).saturating_sub(1);
        let hi = (self.fast.partition_point(|s| s.t_us <= end_us) + 1).min(self.fast.len());
        self.fast.range(lo..hi.max(lo))
    }
}

/// Append `s` unless it is older than the newest sample, then drop samples more than
/// `max_age_us` older than it.
fn push_in_order<T>(ring: &mut VecDeque<T>, s: T, t_us: fn(&T) -> u64, max_age_us: u64) {
    let now = t_us(&s);
    if ring.back().is_some_and(|b| t_us(b) > now) {
        return;
    }
    ring.push_back(s);
    let horizon = now.saturating_sub(max_age_us);
    while ring.front().is_some_and(|f| t_us(f) < horizon) {
        ring.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: u64) -> Sample {
        Sample {
            t_us: t,
            ..Sample::default()
        }
    }

    #[test]
    fn trims_by_age_and_stays_sorted() {
        let mut h = History::new(100);
        for t in [10, 50, 120, 130] {
            h.push(at(t));
        }
        assert_eq!(
            h.fast.iter().map(|s| s.t_us).collect::<Vec<_>>(),
            [50, 120, 130]
        );
        h.push(at(125));
        assert_eq!(h.latest().unwrap().t_us, 130);
        assert_eq!(h.first_at_or_after(121), 2);
        assert_eq!(h.first_at_or_after(500), 3);
        assert_eq!(std::mem::size_of::<Sample>(), 40);
    }

    #[test]
    fn around_a_window_holds_its_samples_and_one_each_side() {
        let mut h = History::new(u64::MAX);
        let times = |h: &History, a, b| h.around(a, b).map(|s| s.t_us).collect::<Vec<_>>();
        assert!(times(&h, 0, 10).is_empty());
        for t in [10, 20, 30, 40, 50] {
            h.push(at(t));
        }
        assert_eq!(times(&h, 25, 42), [20, 30, 40, 50]);
        assert_eq!(times(&h, 20, 40), [10, 20, 30, 40, 50]);
        assert_eq!(times(&h, 21, 22), [20, 30]);
        assert_eq!(times(&h, 0, 5), [10]);
        assert_eq!(times(&h, 55, 60), [50]);
    }
}
