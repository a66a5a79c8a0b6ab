//! Plots of a run's results: SVG and PNG, drawn with plotters and an embedded font, so they
//! render identically on a machine with no fonts or graphics libraries.
//!
//! Use: feed records once, in a stream, then write every figure that has data.
//! ```no_run
//! use gale::report::plot::{Options, PlotData};
//! let mut data = PlotData::new();
//! data.begin_run("baseline");
//! data.add_file("results/baseline/invocations.csv".as_ref())?; // or data.add(&record) per record
//! let written = data.write_all("results/plots".as_ref(), &Options::default())?;
//! for note in &written.skipped {
//!     eprintln!("plots: {note}");
//! }
//! # Ok::<(), gale::report::plot::PlotError>(())
//! ```
//! Each result directory is a run: `gale report --out` calls [`PlotData::begin_run`] per
//! directory and gets one series per run; `gale inject` and `gale generate` have one run.
//!
//! The figures ([`write_all`](PlotData::write_all) file stems):
//! - `latency-box`: completion latency per function, one box per run (quartiles, Tukey whiskers);
//! - `latency-mean`: mean completion latency per function and run, with its Student-t interval;
//! - `latency-cdf`: CDF of completion latency, one line per run (or per function for one run);
//! - `timeline` (`timeline-<run>` with several runs): sent, completed, failed and cold starts
//!   per second, and latency p50/p90/p99 per second;
//! - `nodes`: invocations (cold starts inside) and distinct containers per node;
//! - `dataset-<param>`: for generator datasets, CPU time, peak memory and duration against an
//!   input parameter.
//!
//! Memory is bounded whatever the input size (see [`collect`]); quantiles come from
//! histograms with 2 significant digits, means and intervals are exact.

mod axis;
pub mod collect;
mod fig_bars;
mod fig_box;
mod fig_cdf;
mod fig_nodes;
mod fig_scatter;
mod fig_timeline;
pub mod files;
mod input;
mod legend;
mod render;
pub mod sketch;
mod tdist;
pub mod timeline;

use std::path::{Path, PathBuf};

pub use collect::{PlotData, RunData};
pub use files::{
    end_of_run, results_file, write_dirs_plots, write_run_plots, DatasetParams, PLOTS_DIR,
};

/// Why plots could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// Nothing to draw: no record at all (the message says what was missing).
    #[error("no plots: {0}")]
    NoData(String),
    /// A result directory has neither `invocations.csv` nor `dataset.csv`.
    #[error("no plots: {0} has no invocations.csv or dataset.csv (not a gale result directory)")]
    NoResults(PathBuf),
    /// A result file could not be read (the message names its file and line).
    #[error("plots: {0}")]
    Read(#[from] crate::report::ReadError),
    /// The output directory could not be made.
    #[error("plots: cannot create directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A figure failed to draw (a plotters or PNG encoder error).
    #[error("plots: drawing {path}: {message}")]
    Draw {
        /// The file being drawn.
        path: PathBuf,
        /// The backend's message.
        message: String,
    },
    /// A figure could not be written.
    #[error("plots: writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The embedded font did not parse (a build problem, not an input one).
    #[error("plots: the embedded font (assets/fonts/DejaVuSans.ttf) is not a valid TrueType font")]
    Font,
}

/// Choices for the figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Confidence level of the whiskers of `latency-mean` (0 < c < 1).
    pub confidence: f64,
    /// Most functions shown in a per-function figure: the ones with the most successful
    /// invocations (the caption says how many were left out).
    pub max_functions: usize,
    /// The input parameter of `dataset-<param>` (a dataset column such as `input_bytes` or
    /// `p.size`); `None` draws one figure per numeric parameter that varies (at most six).
    pub dataset_x: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            confidence: 0.95,
            max_functions: 12,
            dataset_x: None,
        }
    }
}

/// What [`PlotData::write_all`] did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Written {
    /// Files written (SVG and PNG of each figure).
    pub files: Vec<PathBuf>,
    /// Figures not drawn, each with the reason (for the user: "no node names in the records").
    pub skipped: Vec<String>,
}

impl PlotData {
    /// Draw every figure the data supports into `dir` (created if missing), each as SVG and
    /// PNG written atomically. Figures without data are listed in [`Written::skipped`]; an
    /// input with no record at all is [`PlotError::NoData`] rather than a set of blank images.
    pub fn write_all(&self, dir: &Path, opts: &Options) -> Result<Written, PlotError> {
        if self.is_empty() {
            return Err(PlotError::NoData(
                "the input has no invocation records and no dataset rows".to_string(),
            ));
        }
        std::fs::create_dir_all(dir).map_err(|source| PlotError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut out = Written::default();
        // Dataset rows carry completion latency too, so they get the latency figures.
        let has_latency_input = self
            .runs
            .iter()
            .any(|r| r.records > 0 || r.dataset_rows > 0);
        if has_latency_input {
            match fig_box::LatencyBox::new(self, opts) {
                Ok(fig) => out.files.extend(render::render(&fig, dir, "latency-box")?),
                Err(why) => out.skipped.push(format!("latency-box: {why}")),
            }
            match fig_bars::MeanBars::new(self, opts) {
                Ok(fig) => out.files.extend(render::render(&fig, dir, "latency-mean")?),
                Err(why) => out.skipped.push(format!("latency-mean: {why}")),
            }
            match fig_cdf::LatencyCdf::new(self, opts) {
                Ok(fig) => out.files.extend(render::render(&fig, dir, "latency-cdf")?),
                Err(why) => out.skipped.push(format!("latency-cdf: {why}")),
            }
        }
        if self.runs.iter().any(|r| r.records > 0) {
            let stems = run_stems(self);
            for (run, stem) in self.runs.iter().zip(&stems) {
                if run.records == 0 {
                    continue;
                }
                let stem = if self.runs.len() == 1 {
                    "timeline".to_string()
                } else {
                    format!("timeline-{stem}")
                };
                match fig_timeline::Activity::new(run) {
                    Ok(fig) => out.files.extend(render::render(&fig, dir, &stem)?),
                    Err(why) => out.skipped.push(format!("{stem}: {why}")),
                }
            }
            match fig_nodes::Nodes::new(self) {
                Ok(fig) => out.files.extend(render::render(&fig, dir, "nodes")?),
                Err(why) => out.skipped.push(format!("nodes: {why}")),
            }
        }
        if self.runs.iter().any(|r| r.dataset_rows > 0) {
            match fig_scatter::figures(self, opts) {
                Ok(figs) => {
                    for (param, fig) in figs {
                        let stem = format!("dataset-{}", sanitize(&param));
                        out.files.extend(render::render(&fig, dir, &stem)?);
                    }
                }
                Err(why) => out.skipped.push(format!("dataset: {why}")),
            }
        }
        Ok(out)
    }
}

/// File-name-safe, distinct stems for the runs' labels.
fn run_stems(data: &PlotData) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for run in &data.runs {
        let base = sanitize(&run.label);
        let mut stem = base.clone();
        let mut n = 2;
        while seen.contains(&stem) {
            stem = format!("{base}-{n}");
            n += 1;
        }
        seen.push(stem);
    }
    seen
}

/// Keep letters, digits, `.`, `_` and `-`; anything else (a path separator above all) becomes
/// `_`, so a label can never leave the output directory.
fn sanitize(label: &str) -> String {
    let s: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let s = s.trim_start_matches('.').to_string();
    if s.is_empty() {
        "run".to_string()
    } else {
        s
    }
}
