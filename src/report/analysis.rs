//! `gale report`: read result directories back (one streaming pass each, bounded memory),
//! figure every group, compare runs against the first, evaluate `--check` thresholds.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use super::check::{Check, CHECK_FAILED_EXIT};
use super::group::{GroupFigures, GroupStats, Groups, KEEP_BUDGET, METRICS};
use super::plot;
use super::read::{FileKind, RecordReader};
use super::record::Record;
use super::render;
use super::stats::{compare, Comparison, Metric};

/// The name of the row of every record (parentheses: no column value looks like it).
pub const ALL: &str = "(all)";
/// Most groups per run before the rest are pooled into `(other)`.
pub const MAX_GROUPS: usize = 1000;
/// Values per metric and group kept for comparing runs (a deterministic uniform subsample
/// past that): Mann-Whitney and Hodges–Lehmann run on at most this many per side.
pub const COMPARE_SAMPLE: usize = 2000;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned text for a terminal.
    Table,
    /// GitHub-flavoured Markdown tables.
    Markdown,
    /// One JSON document.
    Json,
    /// One CSV row per run, group and metric.
    Csv,
}

/// Resolved settings of `gale report`.
#[derive(Debug, Clone)]
pub struct ReportSettings {
    /// Result directories (or result files) in order; the first is the comparison baseline.
    pub inputs: Vec<PathBuf>,
    /// The column whose values group the records (`function`, `user`, `node`, `p.size`…).
    pub by: String,
    /// Confidence level of every interval and test (0 < c < 1).
    pub confidence: f64,
    /// Output format.
    pub format: Format,
    /// Thresholds every run must meet.
    pub checks: Vec<Check>,
    /// Treat all inputs as one run (shards of one experiment) instead of comparing them.
    pub merge: bool,
    /// Write the plots of the runs into this directory.
    pub plots: Option<PathBuf>,
}

/// Something that sees every record of every run in the same streaming pass as the
/// statistics (the plots collect their data this way).
pub trait RecordObserver {
    /// The records that follow belong to the run `label`.
    fn begin_run(&mut self, label: &str);
    /// One record; `reader` gives the row's other cells (a dataset's `p.<param>` inputs)
    /// through [`RecordReader::column`] and [`RecordReader::cell`].
    fn record(&mut self, r: &Record, reader: &RecordReader);
}

/// Observes nothing.
pub struct NoObserver;

impl RecordObserver for NoObserver {
    fn begin_run(&mut self, _: &str) {}
    fn record(&mut self, _: &Record, _: &RecordReader) {}
}

impl RecordObserver for plot::PlotData {
    fn begin_run(&mut self, label: &str) {
        plot::PlotData::begin_run(self, label);
    }
    fn record(&mut self, r: &Record, reader: &RecordReader) {
        self.add_read(r, reader);
    }
}

/// The records of one run, accumulated.
pub struct RunStats {
    /// Name in tables: the directory's name.
    pub label: String,
    /// The files read.
    pub files: Vec<PathBuf>,
    /// Records read.
    pub records: u64,
    /// By the `--by` column.
    pub groups: Groups,
    /// Every record.
    pub all: GroupStats,
}

/// An input `gale report` cannot use (exit code 2, like any bad input).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// The result file in a result directory, or the path itself when it is a file.
pub fn result_file(path: &Path) -> Result<PathBuf, InputError> {
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if !path.is_dir() {
        return Err(InputError(format!(
            "{}: no such result directory or file",
            path.display()
        )));
    }
    for name in ["invocations.csv", "dataset.csv"] {
        let f = path.join(name);
        if f.is_file() {
            return Ok(f);
        }
    }
    Err(InputError(format!(
        "{}: not a result directory (no invocations.csv or dataset.csv in it)",
        path.display()
    )))
}

fn label_of(path: &Path) -> String {
    let dir = if path.is_file() {
        path.parent().unwrap_or(path)
    } else {
        path
    };
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Read `inputs` into one run, showing each record to `observer` too.
pub fn read_run(
    label: String,
    inputs: &[PathBuf],
    by: &str,
    sample: usize,
    observer: &mut dyn RecordObserver,
) -> anyhow::Result<RunStats> {
    observer.begin_run(&label);
    let mut run = RunStats {
        label,
        files: Vec::new(),
        records: 0,
        groups: Groups::new(MAX_GROUPS, KEEP_BUDGET, sample),
        all: GroupStats::new(sample),
    };
    for input in inputs {
        let file = result_file(input)?;
        let mut reader = RecordReader::open(&file)?;
        let col = reader.column(by).ok_or_else(|| {
            let kind = match reader.kind() {
                FileKind::Invocations => "invocations file",
                FileKind::Dataset => "dataset",
            };
            InputError(format!(
                "{}: --by {by}: this {kind} has no `{by}` column (it has: {})",
                file.display(),
                reader.header().join(", ")
            ))
        })?;
        let scheduled = reader.kind() == FileKind::Invocations;
        while let Some(r) = reader.next_record() {
            let r = r?;
            // The groups copy the key only for a new group.
            let key = match reader.cell(col) {
                Some("") | None => "(none)",
                Some(k) => k,
            };
            run.groups.add_row(key, &r, scheduled);
            if sample > 0 {
                run.all.add_row(&r, scheduled);
            }
            run.records += 1;
            observer.record(&r, &reader);
        }
        run.files.push(file);
    }
    run.groups.enforce_budget();
    // Without subsamples the whole run is the sum of its groups (half the work per record).
    if sample == 0 {
        run.all = run.groups.merged();
    }
    Ok(run)
}

/// A run's figures as the outputs show them.
#[derive(Debug, Clone, Serialize)]
pub struct RunFigures {
    /// Name in tables.
    pub label: String,
    /// Files read.
    pub files: Vec<String>,
    /// Records read.
    pub records: u64,
    /// Per group, in key order.
    pub groups: Vec<(String, GroupFigures)>,
    /// Every record.
    pub all: GroupFigures,
}

/// One metric of one group, a later run against the first.
#[derive(Debug, Clone, Serialize)]
pub struct ComparisonRow {
    /// The group (`all` for every record).
    pub group: String,
    /// The metric's name.
    pub metric: &'static str,
    /// Its unit.
    pub unit: &'static str,
    /// The baseline run.
    pub baseline: String,
    /// The run compared with it.
    pub run: String,
    /// Median of the baseline (all its values).
    pub median_baseline: f64,
    /// Median of the run (all its values).
    pub median_run: f64,
    /// median_run − median_baseline.
    pub median_diff: f64,
    /// The test and the shift estimate (on the comparison subsamples).
    pub test: Comparison,
}

/// The outcome of one check on one run.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// The expression.
    pub check: String,
    /// The run.
    pub run: String,
    /// The value found (`null`: no values to measure).
    pub value: Option<f64>,
    /// Its unit.
    pub unit: &'static str,
    /// Whether the threshold held.
    pub passed: bool,
}

/// Everything `gale report` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Confidence level of intervals and tests.
    pub confidence: f64,
    /// The grouping column.
    pub by: String,
    /// Per run.
    pub runs: Vec<RunFigures>,
    /// Later runs against the first (empty with one run).
    pub comparisons: Vec<ComparisonRow>,
    /// `--check` results.
    pub checks: Vec<CheckResult>,
}

impl Report {
    /// Whether every check held.
    pub fn checks_passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// `gale report`: build the report, print it in the chosen format to `out`, write the
/// plots when asked; the exit code is 0, or [`CHECK_FAILED_EXIT`] when a check is broken.
pub fn run(settings: &ReportSettings, out: &mut dyn Write) -> anyhow::Result<u8> {
    let report = match &settings.plots {
        Some(dir) => {
            // The plots see the records in the statistics' own pass: one read of the files.
            let mut plots = plot::PlotData::new();
            let report = build(settings, &mut plots)?;
            let opts = plot::Options {
                confidence: settings.confidence,
                ..Default::default()
            };
            let written = plots
                .write_all(dir, &opts)
                .with_context(|| format!("--out {}: cannot draw the plots", dir.display()))?;
            eprintln!(
                "gale: {} plot files in {}",
                written.files.len(),
                dir.display()
            );
            for note in &written.skipped {
                eprintln!("gale: plots: {note}");
            }
            report
        }
        None => build(settings, &mut NoObserver)?,
    };
    let text = match settings.format {
        Format::Table => render::text(&report),
        Format::Markdown => render::markdown(&report),
        Format::Json => render::json(&report),
        Format::Csv => render::csv(&report)?,
    };
    out.write_all(text.as_bytes())?;
    out.flush()?;
    if print_failed_checks(&report.checks) {
        Ok(0)
    } else {
        Ok(CHECK_FAILED_EXIT)
    }
}

/// Read each group of inputs as one run, named by its label (an experiment's point and its
/// repetitions), and build the report: the runs are compared with the first.
pub fn build_groups(
    groups: &[(String, Vec<PathBuf>)],
    settings: &ReportSettings,
    observer: &mut dyn RecordObserver,
) -> anyhow::Result<Report> {
    anyhow::ensure!(!groups.is_empty(), "no result directory given");
    let sample = if groups.len() > 1 { COMPARE_SAMPLE } else { 0 };
    let mut runs = Vec::with_capacity(groups.len());
    for (label, inputs) in groups {
        let run = read_run(label.clone(), inputs, &settings.by, sample, observer)
            .with_context(|| format!("cannot report on {label}"))?;
        runs.push(run);
    }
    Ok(assemble(&runs, settings))
}

/// Say each broken check on stderr; true when every check held.
pub fn print_failed_checks(checks: &[CheckResult]) -> bool {
    let mut all_held = true;
    for c in checks.iter().filter(|c| !c.passed) {
        all_held = false;
        let value = c.value.map_or("no values".to_string(), |v| {
            format!("{} {}", render::num(v), c.unit)
        });
        eprintln!(
            "gale: check failed: `{}` on {}: {}",
            c.check,
            c.run,
            value.trim_end()
        );
    }
    all_held
}

/// The `checks` on the run in `dir` (a result directory just written), read back as
/// `gale report --check` reads it, so both give the same verdict.
pub fn check_dir(dir: &Path, checks: &[Check]) -> anyhow::Result<Vec<CheckResult>> {
    let run = read_run(
        label_of(dir),
        &[dir.to_path_buf()],
        "function",
        0,
        &mut NoObserver,
    )?;
    Ok(checks
        .iter()
        .map(|chk| {
            let (value, passed) = match chk.evaluate(&run.all) {
                Ok(v) => (Some(v), true),
                Err(v) => (v, false),
            };
            CheckResult {
                check: chk.text.clone(),
                run: run.label.clone(),
                value,
                unit: chk.unit(),
                passed,
            }
        })
        .collect())
}

/// A group's key, its stats in the baseline, and in each later run.
type CompareRow<'a> = (String, Option<&'a GroupStats>, Vec<Option<&'a GroupStats>>);

/// Read every input and build the report.
pub fn build(
    settings: &ReportSettings,
    observer: &mut dyn RecordObserver,
) -> anyhow::Result<Report> {
    anyhow::ensure!(!settings.inputs.is_empty(), "no result directory given");
    // Shards of one split (run.yaml says so) are one run, `--merge` or not.
    let merge = settings.merge || super::shards::one_sharded_run(&settings.inputs);
    let runs: Vec<RunStats> = if merge {
        let label = settings
            .inputs
            .iter()
            .map(|p| label_of(p))
            .collect::<Vec<_>>()
            .join("+");
        vec![read_run(
            label,
            &settings.inputs,
            &settings.by,
            0,
            observer,
        )?]
    } else {
        let sample = if settings.inputs.len() > 1 {
            COMPARE_SAMPLE
        } else {
            0
        };
        let mut labels: Vec<String> = Vec::new();
        let mut runs = Vec::new();
        for input in &settings.inputs {
            // Same directory names from different parents stay apart in the tables.
            let mut label = label_of(input);
            if labels.contains(&label) {
                label = input.display().to_string();
            }
            labels.push(label.clone());
            let run = read_run(
                label,
                std::slice::from_ref(input),
                &settings.by,
                sample,
                observer,
            )
            .with_context(|| format!("cannot report on {}", input.display()))?;
            runs.push(run);
        }
        runs
    };
    Ok(assemble(&runs, settings))
}

/// Figures, comparisons and checks of runs already read.
pub fn assemble(runs: &[RunStats], settings: &ReportSettings) -> Report {
    let c = settings.confidence;
    let figures = runs
        .iter()
        .map(|r| RunFigures {
            label: r.label.clone(),
            files: r.files.iter().map(|f| f.display().to_string()).collect(),
            records: r.records,
            groups: r
                .groups
                .iter()
                .map(|(k, g)| (k.to_string(), g.figures(c)))
                .collect(),
            all: r.all.figures(c),
        })
        .collect();
    let mut comparisons = Vec::new();
    if let Some((base, rest)) = runs.split_first() {
        let mut keys: Vec<&str> = base.groups.iter().map(|(k, _)| k).collect();
        for r in rest {
            for (k, _) in r.groups.iter() {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        // Every group, then every record, as ("(all)", baseline, the other runs).
        let mut rows: Vec<CompareRow> = keys
            .iter()
            .map(|k| {
                let others = rest.iter().map(|r| r.groups.get(k)).collect();
                (k.to_string(), base.groups.get(k), others)
            })
            .collect();
        rows.push((
            ALL.to_string(),
            Some(&base.all),
            rest.iter().map(|r| Some(&r.all)).collect(),
        ));
        for (key, base_group, others) in rows {
            for (run, group) in rest.iter().zip(others) {
                let (Some(a), Some(b)) = (base_group, group) else {
                    continue;
                };
                for (i, spec) in METRICS.iter().enumerate() {
                    let (ma, mb) = (a.metric(i), b.metric(i));
                    let Some(test) = compare(ma.sample(), mb.sample(), c) else {
                        continue;
                    };
                    let med = |m: &Metric| {
                        m.describe(&[0.5], c)
                            .map_or(f64::NAN, |d| d.quantiles[0].value)
                    };
                    let (median_baseline, median_run) = (med(ma), med(mb));
                    comparisons.push(ComparisonRow {
                        group: key.clone(),
                        metric: spec.name,
                        unit: spec.unit,
                        baseline: base.label.clone(),
                        run: run.label.clone(),
                        median_baseline,
                        median_run,
                        median_diff: median_run - median_baseline,
                        test,
                    });
                }
            }
        }
    }
    let checks = runs
        .iter()
        .flat_map(|r| {
            settings.checks.iter().map(move |chk| {
                let (value, passed) = match chk.evaluate(&r.all) {
                    Ok(v) => (Some(v), true),
                    Err(v) => (v, false),
                };
                CheckResult {
                    check: chk.text.clone(),
                    run: r.label.clone(),
                    value,
                    unit: chk.unit(),
                    passed,
                }
            })
        })
        .collect();
    Report {
        confidence: c,
        by: settings.by.clone(),
        runs: figures,
        comparisons,
        checks,
    }
}
