//! A uniform random subsample of a stream (Vitter's Algorithm R), deterministic: the same
//! stream always gives the same sample, so comparing two result directories twice gives the
//! same p-value.

/// A sample of at most `cap` values from everything added.
#[derive(Debug, Clone)]
pub struct Reservoir {
    cap: usize,
    seen: u64,
    values: Vec<f64>,
    state: u64,
}

/// The fixed seed: any constant works; this one is the first splitmix64 increment.
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

impl Reservoir {
    /// An empty reservoir of `cap` values.
    pub fn new(cap: usize) -> Reservoir {
        Reservoir {
            cap,
            seen: 0,
            values: Vec::new(),
            state: SEED,
        }
    }

    /// splitmix64: a full-period generator good enough to pick sample slots, in three lines
    /// (no RNG crate state to carry per metric).
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Offer one value: the i-th value replaces a random slot with probability cap/i, which
    /// leaves every value seen equally likely to be in the sample.
    pub fn add(&mut self, v: f64) {
        self.seen += 1;
        if self.values.len() < self.cap {
            self.values.push(v);
            return;
        }
        // Multiply-shift maps 64 random bits onto [0, seen) with a bias below seen/2⁶⁴.
        let slot = ((self.next() as u128 * self.seen as u128) >> 64) as u64;
        if (slot as usize) < self.cap {
            self.values[slot as usize] = v;
        }
    }

    /// The sample (all values while fewer than `cap` were added).
    pub fn values(&self) -> &[f64] {
        &self.values
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_below_cap_and_samples_uniformly_above() {
        let mut r = Reservoir::new(100);
        for i in 0..50 {
            r.add(i as f64);
        }
        assert_eq!(r.values().len(), 50);
        for i in 50..100_000 {
            r.add(i as f64);
        }
        assert_eq!(r.values().len(), 100);
        // A uniform sample of 0..100 000 has mean ≈ 50 000 with σ/√100 ≈ 2 887: a
        // sample stuck at the start (mean 50) or end would be far outside 5 σ.
        let mean = r.values().iter().sum::<f64>() / 100.0;
        assert!((mean - 50_000.0).abs() < 5.0 * 2_887.0, "{mean}");
        let mut again = Reservoir::new(100);
        for i in 0..100_000 {
            again.add(i as f64);
        }
        assert_eq!(again.values(), r.values(), "deterministic");
    }
}
