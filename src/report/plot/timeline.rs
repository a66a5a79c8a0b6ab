//! Per-second activity of one run, in bounded memory: buckets start one second wide and
//! double their width (merging neighbours) whenever the run outgrows [`MAX_BUCKETS`], so a
//! day-long trace costs the same as a minute-long one.

use super::sketch::Coarse;

/// Most buckets kept; past it the bucket width doubles. 1024 buckets with a 1 KB latency
/// histogram each is ~1 MB per run.
pub const MAX_BUCKETS: usize = 1024;

/// What happened in one time bucket.
#[derive(Debug, Clone, Default)]
pub struct Bucket {
    /// Requests sent in the bucket.
    pub sent: u64,
    /// Activations that ended in the bucket.
    pub completed: u64,
    /// Invocations scheduled in the bucket that did not succeed.
    pub failed: u64,
    /// Cold starts among activations that ended in the bucket.
    pub cold: u64,
    /// Completion latency of successful invocations scheduled in the bucket.
    pub latency: Coarse,
}

impl Bucket {
    fn merge(&mut self, other: &Bucket) {
        self.sent += other.sent;
        self.completed += other.completed;
        self.failed += other.failed;
        self.cold += other.cold;
        self.latency.merge(&other.latency);
    }
}

/// A run's timeline.
#[derive(Debug, Clone)]
pub struct Timeline {
    width_us: f64,
    buckets: Vec<Bucket>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            width_us: 1e6,
            buckets: Vec::new(),
        }
    }
}

impl Timeline {
    /// Bucket width, seconds.
    pub fn width_s(&self) -> f64 {
        self.width_us / 1e6
    }

    /// The buckets, the first starting at the run's start instant.
    pub fn buckets(&self) -> &[Bucket] {
        &self.buckets
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// The bucket that holds instant `us` (µs since the run's start), widening as needed.
    /// Negative or non-finite instants (a remote clock's offset gone wrong) are dropped.
    pub fn at(&mut self, us: f64) -> Option<&mut Bucket> {
        if !us.is_finite() || us < 0.0 {
            return None;
        }
        let mut index = (us / self.width_us) as usize;
        while index >= MAX_BUCKETS {
            self.widen();
            index = (us / self.width_us) as usize;
        }
        if index >= self.buckets.len() {
            self.buckets.resize_with(index + 1, Bucket::default);
        }
        Some(&mut self.buckets[index])
    }

    fn widen(&mut self) {
        self.width_us *= 2.0;
        let old = std::mem::take(&mut self.buckets);
        let mut pairs = old.chunks(2);
        self.buckets = pairs
            .by_ref()
            .map(|pair| {
                let mut b = pair[0].clone();
                if let Some(second) = pair.get(1) {
                    b.merge(second);
                }
                b
            })
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widens_and_keeps_every_count() {
        let mut t = Timeline::default();
        for s in 0..5000u64 {
            t.at(s as f64 * 1e6 + 0.5e6).unwrap().sent += 1;
        }
        assert!(t.buckets().len() <= MAX_BUCKETS);
        assert_eq!(t.width_s(), 8.0);
        assert_eq!(t.buckets().iter().map(|b| b.sent).sum::<u64>(), 5000);
        assert_eq!(t.buckets()[0].sent, 8);
        assert!(t.at(-1.0).is_none() && t.at(f64::NAN).is_none());
    }
}
