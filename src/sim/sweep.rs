//! `--sweep key=v1,v2 …`: the grid of every combination of the values, each point a
//! simulation into a directory of its own, run in parallel, then the combined report:
//! `sweep.csv` with one row per point in grid order, `report.txt` (what `gale report` prints
//! for the point directories, each compared with the first) and `plots/` (`gale report`'s
//! figures, one series per point). A point's files depend only on its settings, never on
//! the thread that ran it or the order points finished; the combined files are written
//! after every point, in grid order.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::Context as _;

use super::run::{run, RunSettings};
use crate::atomic::write_atomic;
use crate::report::analysis::{self, Format, NoObserver, ReportSettings};
use crate::report::{plot, render};

/// One swept setting and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The setting (see [`KEYS`]).
    pub key: String,
    /// Its values, in the order given.
    pub values: Vec<String>,
}

/// The settings a sweep can vary: the platform settings by name ([`crate::config::overrides`]).
pub use crate::config::overrides::KEYS;

/// Parse `key=v1,v2`; every value is checked against the key at once.
pub fn parse_axis(s: &str) -> Result<Axis, String> {
    let (key, values) = s
        .split_once('=')
        .ok_or_else(|| format!("expected KEY=V1,V2,…, got `{s}`"))?;
    let key = key.trim().to_string();
    let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
    if values.iter().any(String::is_empty) {
        return Err(format!("`{s}`: empty value"));
    }
    let mut probe = RunSettings::probe();
    for v in &values {
        apply(&mut probe, &key, v)?;
    }
    Ok(Axis { key, values })
}

/// Set `key` to `value` in `s`.
pub fn apply(s: &mut RunSettings, key: &str, value: &str) -> Result<(), String> {
    crate::config::overrides::apply(&mut s.model, &mut s.seed, key, value)
}

/// Every point of the grid: its directory name and settings, first axis slowest.
pub fn points(base: &RunSettings, axes: &[Axis]) -> Result<Vec<(String, RunSettings)>, String> {
    let mut out = vec![(String::new(), base.clone())];
    for axis in axes {
        let mut next = Vec::with_capacity(out.len() * axis.values.len());
        for (name, s) in &out {
            for v in &axis.values {
                let mut s = s.clone();
                apply(&mut s, &axis.key, v)?;
                let part = format!("{}={}", axis.key, v).replace(['/', '\\'], "_");
                let name = if name.is_empty() {
                    part
                } else {
                    format!("{name},{part}")
                };
                next.push((name, s));
            }
        }
        out = next;
    }
    Ok(out)
}

/// What a sweep wrote besides its points' directories.
pub struct SweepDone {
    /// sweep.csv.
    pub csv: PathBuf,
    /// Points run.
    pub points: usize,
    /// report.txt (`None` without invocations.csv).
    pub report: Option<PathBuf>,
    /// Warnings: plots that could not be drawn (the run's files are there regardless).
    pub warnings: Vec<String>,
}

/// One point's outcome, filled in by whichever thread ran it: (summary row, warning).
type PointResult = anyhow::Result<(String, String)>;

/// Run the grid on `threads` threads into `dir` (one directory per point), then the
/// combined report.
pub fn run_sweep(
    base: &RunSettings,
    axes: &[Axis],
    threads: usize,
    dir: &Path,
) -> anyhow::Result<SweepDone> {
    let grid = points(base, axes).map_err(anyhow::Error::msg)?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let next = AtomicUsize::new(0);
    let rows: Mutex<Vec<Option<PointResult>>> = Mutex::new((0..grid.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, grid.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((name, settings)) = grid.get(i) else {
                    break;
                };
                let mut s = settings.clone();
                s.out = Some(dir.join(name));
                let row = run(&s).map(|done| {
                    let warning = match done.plots {
                        Some(Err(e)) => format!("{name}: {e}"),
                        _ => String::new(),
                    };
                    let v = &done.report.summary;
                    let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
                    let p = |k: &str, q: &str| v[k][q].as_f64().unwrap_or(0.0);
                    let row = format!(
                        "{},{},{},{:.6},{},{:.4},{:.1},{:.3},{:.3}",
                        csv_text(name),
                        v["invocations"],
                        v["cold_starts"],
                        f("cold_start_ratio"),
                        v["queued"],
                        f("containers_alive_mean"),
                        f("idle_memory_mb_s"),
                        p("completion", "p50_ms"),
                        p("completion", "p99_ms"),
                    );
                    (row, warning)
                });
                rows.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(row);
            });
        }
    });
    let mut warnings = Vec::new();
    let mut text = String::from(
        "point,invocations,cold_starts,cold_start_ratio,queued,containers_alive_mean,\
         idle_memory_mb_s,completion_p50_ms,completion_p99_ms\n",
    );
    for (i, row) in rows
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .enumerate()
    {
        let row = row.unwrap_or_else(|| Err(anyhow::anyhow!("not run")));
        let (row, warning) = row.with_context(|| format!("sweep point {}", grid[i].0))?;
        text += &row;
        text.push('\n');
        if !warning.is_empty() {
            warnings.push(warning);
        }
    }
    let csv = dir.join("sweep.csv");
    write_atomic(&csv, text.as_bytes()).context("cannot write sweep.csv")?;
    let mut report = None;
    if base.invocations_csv {
        let dirs: Vec<PathBuf> = grid.iter().map(|(name, _)| dir.join(name)).collect();
        let path = dir.join("report.txt");
        write_atomic(&path, combined_report(&grid, &dirs)?.as_bytes())
            .context("cannot write report.txt")?;
        report = Some(path);
        if base.plots {
            let out = dir.join(plot::PLOTS_DIR);
            if let Err(e) = plot::write_dirs_plots(&dirs, &out, &plot::Options::default()) {
                warnings.push(format!("plots of the sweep: {e}"));
            }
        }
    }
    Ok(SweepDone {
        csv,
        points: grid.len(),
        report,
        warnings,
    })
}

/// `gale report` over the points' directories (each compared with the first, per
/// function), with every file named relative to the sweep's directory so that the text
/// does not depend on where the sweep was written.
fn combined_report(grid: &[(String, RunSettings)], dirs: &[PathBuf]) -> anyhow::Result<String> {
    let settings = ReportSettings {
        inputs: dirs.to_vec(),
        by: "function".into(),
        confidence: 0.95,
        format: Format::Table,
        checks: Vec::new(),
        merge: false,
        plots: None,
    };
    let mut report = analysis::build(&settings, &mut NoObserver)?;
    for (run, (name, _)) in report.runs.iter_mut().zip(grid) {
        run.files = vec![format!("{name}/invocations.csv")];
    }
    Ok(render::text(&report))
}

fn csv_text(s: &str) -> String {
    if s.contains([',', '"']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
