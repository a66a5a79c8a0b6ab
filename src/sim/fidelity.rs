//! How close a simulation comes to a measured run of the same trace and platform settings:
//! the figures of issue 13's fidelity criteria, read from the two result directories'
//! invocations.csv.
//!
//! - cold starts: the count of successful cold invocations in each, and the relative
//!   difference `|sim − real| / real`;
//! - completion latency (end − scheduled, successful invocations): the two-sample
//!   Kolmogorov–Smirnov distance `sup_x |F_real(x) − F_sim(x)|` of the empirical CDFs;
//! - per node: the invocations each node ran, and the largest relative difference over the
//!   nodes (`|sim − real| / real`, a node the real run never used counts as 1 if the
//!   simulation used it).
//!
//! The targets (issue 13) are [`COLD_TARGET`], [`KS_TARGET`] and [`NODE_TARGET`].

use std::collections::BTreeMap;
use std::path::Path;

use crate::backend::Outcome;
use crate::report::{ReadError, RecordReader};

/// Cold-start counts within 5 %.
pub const COLD_TARGET: f64 = 0.05;
/// Completion-latency CDFs within a Kolmogorov–Smirnov distance of 0.1.
pub const KS_TARGET: f64 = 0.1;
/// Per-node invocation counts within 5 %.
pub const NODE_TARGET: f64 = 0.05;

/// What one result directory holds for the comparison.
#[derive(Debug, Clone, Default)]
pub struct Side {
    /// Invocation records.
    pub invocations: u64,
    /// Successful ones.
    pub successful: u64,
    /// Successful cold starts.
    pub cold: u64,
    /// Completion latency of every successful invocation, ms, sorted.
    pub completion_ms: Vec<f64>,
    /// Successful invocations per node.
    pub nodes: BTreeMap<String, u64>,
}

impl Side {
    /// Read `dir/invocations.csv` (or the file itself).
    pub fn read(dir: &Path) -> Result<Side, ReadError> {
        let file = if dir.is_file() {
            dir.to_path_buf()
        } else {
            dir.join("invocations.csv")
        };
        let mut reader = RecordReader::open(&file)?;
        let mut side = Side::default();
        while let Some(r) = reader.next_record() {
            let r = r?;
            side.invocations += 1;
            let (Outcome::Success, Some(c)) = (r.outcome, r.completion_ns()) else {
                continue;
            };
            side.successful += 1;
            side.cold += u64::from(r.cold == Some(true));
            side.completion_ms.push(c as f64 / 1e6);
            if let Some(n) = &r.node {
                *side.nodes.entry(n.to_string()).or_default() += 1;
            }
        }
        side.completion_ms.sort_by(f64::total_cmp);
        Ok(side)
    }
}

/// The comparison of a simulation with a measured run.
#[derive(Debug, Clone)]
pub struct Fidelity {
    /// The measured run.
    pub real: Side,
    /// The simulation.
    pub sim: Side,
    /// Kolmogorov–Smirnov distance of the completion-latency distributions.
    pub ks: f64,
}

impl Fidelity {
    /// Compare the simulation in `sim` with the measured run in `real`.
    pub fn compare(real: &Path, sim: &Path) -> Result<Fidelity, ReadError> {
        let (real, sim) = (Side::read(real)?, Side::read(sim)?);
        let ks = ks_distance(&real.completion_ms, &sim.completion_ms);
        Ok(Fidelity { real, sim, ks })
    }

    /// `|sim − real| / real` of the cold-start counts (0 when both are 0).
    pub fn cold_error(&self) -> f64 {
        relative(self.real.cold, self.sim.cold)
    }

    /// The largest `|sim − real| / real` of the per-node counts.
    pub fn node_error(&self) -> f64 {
        let names = self.real.nodes.keys().chain(self.sim.nodes.keys());
        names
            .map(|n| {
                let r = self.real.nodes.get(n).copied().unwrap_or(0);
                let s = self.sim.nodes.get(n).copied().unwrap_or(0);
                relative(r, s)
            })
            .fold(0.0, f64::max)
    }

    /// Every criterion met.
    pub fn meets(&self) -> bool {
        self.cold_error() <= COLD_TARGET && self.ks <= KS_TARGET && self.node_error() <= NODE_TARGET
    }

    /// Per-node counts as `node0 120/118 node1 …` (real/sim).
    pub fn nodes_text(&self) -> String {
        let mut names: Vec<&String> = self
            .real
            .nodes
            .keys()
            .chain(self.sim.nodes.keys())
            .collect();
        names.sort();
        names.dedup();
        names
            .iter()
            .map(|n| {
                let r = self.real.nodes.get(*n).copied().unwrap_or(0);
                let s = self.sim.nodes.get(*n).copied().unwrap_or(0);
                format!("{n} {r}/{s}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn relative(real: u64, sim: u64) -> f64 {
    match (real, sim) {
        (0, 0) => 0.0,
        (0, _) => 1.0,
        _ => real.abs_diff(sim) as f64 / real as f64,
    }
}

/// The two-sample Kolmogorov–Smirnov distance of two sorted samples: the largest gap
/// between their empirical CDFs, evaluated after every distinct value (1 when one sample
/// is empty and the other is not).
pub fn ks_distance(a: &[f64], b: &[f64]) -> f64 {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return 0.0,
        (true, false) | (false, true) => return 1.0,
        _ => {}
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0, 0, 0.0f64);
    while i < a.len() && j < b.len() {
        // Step past every copy of the smaller value in both samples, so ties move both
        // CDFs at once.
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / na - j as f64 / nb).abs());
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ks_distance_of_known_samples() {
        assert_eq!(ks_distance(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 0.0);
        // Disjoint: the CDFs are 1 apart once the lower sample is done.
        assert_eq!(ks_distance(&[1.0, 2.0], &[3.0, 4.0]), 1.0);
        // F_a(2) = 1/2, F_b(2) = 0; F_a(3) = 1, F_b(3) = 1/2: 1/2.
        assert_eq!(ks_distance(&[1.0, 2.0, 3.0, 4.0], &[3.0, 4.0]), 0.5);
        // Ties move both: at 1 the CDFs are 2/3 and 1/3.
        let d = ks_distance(&[1.0, 1.0, 5.0], &[1.0, 5.0, 5.0]);
        assert!((d - 1.0 / 3.0).abs() < 1e-12, "{d}");
        assert_eq!(ks_distance(&[], &[1.0]), 1.0);
    }

    #[test]
    fn relative_errors_count_a_node_only_one_side_used() {
        assert_eq!(relative(100, 95), 0.05);
        assert_eq!(relative(0, 3), 1.0);
        assert_eq!(relative(0, 0), 0.0);
    }
}
