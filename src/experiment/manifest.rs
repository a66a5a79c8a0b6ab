//! `manifest.json`: the grid of an experiment's result directory and where each run stands,
//! rewritten atomically after every run, so that an interrupted experiment resumes from it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::grid::Point;

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not run yet (or stopped before it started).
    Pending,
    /// Ran to its end; its directory is complete (its exit code says how it went).
    Done,
    /// Stopped by a signal: run again on `--resume`.
    Interrupted,
    /// Could not run (the error is in `error`): run again on `--resume`.
    Failed,
}

/// One run: a point's repetition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunEntry {
    /// Repetition, from 1.
    pub rep: u32,
    /// Its result directory, relative to the experiment's.
    pub dir: String,
    /// Where it stands.
    pub status: Status,
    /// Its exit code (docs/exit-codes.md) when done.
    pub exit: Option<u8>,
    /// Why it failed.
    pub error: Option<String>,
}

/// One point of the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointEntry {
    /// Position in the grid, from 1.
    pub index: usize,
    /// `key=value,…`: its label in the report.
    pub name: String,
    /// The factors' values.
    pub factors: Vec<(String, String)>,
    /// Platform settings by name (fixed and varied, scaled).
    pub platform: Vec<(String, String)>,
    /// Its runs.
    pub runs: Vec<RunEntry>,
}

/// The manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The experiment's name.
    pub experiment: String,
    /// The file or preset it came from.
    pub source: String,
    /// `--scale`.
    pub scale: f64,
    /// `embedded`, `remote` or `simulate`.
    pub target: String,
    /// Repetitions per point.
    pub repetitions: u32,
    /// The grid, in run order.
    pub points: Vec<PointEntry>,
}

/// File name in the experiment's directory.
pub const FILE: &str = "manifest.json";

impl Manifest {
    /// A manifest with every run pending.
    pub fn new(
        experiment: &str,
        source: &str,
        scale: f64,
        target: &str,
        repetitions: u32,
        grid: &[Point],
    ) -> Manifest {
        Manifest {
            experiment: experiment.to_string(),
            source: source.to_string(),
            scale,
            target: target.to_string(),
            repetitions,
            points: grid
                .iter()
                .map(|p| PointEntry {
                    index: p.index,
                    name: p.name.clone(),
                    factors: p.factors.clone(),
                    platform: p.platform.clone(),
                    runs: (1..=repetitions)
                        .map(|rep| RunEntry {
                            rep,
                            dir: format!("{}/rep{rep}", p.dir_name()),
                            status: Status::Pending,
                            exit: None,
                            error: None,
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// Read `dir/manifest.json`.
    pub fn read(dir: &Path) -> anyhow::Result<Manifest> {
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| {
            crate::UsageError(format!(
                "{}: not an experiment manifest: {e}",
                path.display()
            ))
            .into()
        })
    }

    /// Write `dir/manifest.json` atomically.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        crate::atomic::write_atomic(&dir.join(FILE), text.as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", dir.join(FILE).display()))
    }

    /// Runs done, and runs in all.
    pub fn progress(&self) -> (usize, usize) {
        let runs = self.points.iter().flat_map(|p| &p.runs);
        let all = runs.clone().count();
        (runs.filter(|r| r.status == Status::Done).count(), all)
    }
}
