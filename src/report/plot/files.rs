//! Filling [`PlotData`] from result directories, and the two entry points the commands call:
//! [`write_run_plots`] at the end of `gale inject` / `gale generate`, and [`write_dirs_plots`]
//! for `gale report --out DIR` over several runs. Each file is read once, streaming.

use std::path::{Path, PathBuf};

use super::{Options, PlotData, PlotError, Written};
use crate::report::{FileKind, ReadError, Record, RecordReader};

/// Where a run's figures go inside its result directory.
pub const PLOTS_DIR: &str = "plots";

/// The numeric input columns of a dataset file: the action's `memory_mb`, `input_bytes`,
/// `body_bytes` and every `p.<name>` parameter.
#[derive(Debug, Clone, Default)]
pub struct DatasetParams {
    cols: Vec<(String, usize)>,
}

impl DatasetParams {
    /// Find the input columns in a reader's header (none for an invocations file).
    pub fn of(reader: &RecordReader) -> DatasetParams {
        if reader.kind() != FileKind::Dataset {
            return DatasetParams::default();
        }
        let cols = reader
            .header()
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                matches!(h.as_str(), "memory_mb" | "input_bytes" | "body_bytes")
                    || h.starts_with("p.")
            })
            .map(|(i, h)| (h.clone(), i))
            .collect();
        DatasetParams { cols }
    }

    /// The current row's numeric parameters, into `out` (cleared first). A cell that is empty
    /// or not a number (a categorical parameter) is left out: it has no place on an axis.
    pub fn values<'s>(&'s self, reader: &RecordReader, out: &mut Vec<(&'s str, f64)>) {
        out.clear();
        for (name, i) in &self.cols {
            if let Some(v) = reader
                .cell(*i)
                .and_then(|c| c.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite())
            {
                out.push((name.as_str(), v));
            }
        }
    }
}

/// The records file of a result directory: `invocations.csv` (inject, simulate), else
/// `dataset.csv` (generate).
pub fn results_file(dir: &Path) -> Result<PathBuf, PlotError> {
    ["invocations.csv", "dataset.csv"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
        .ok_or_else(|| PlotError::NoResults(dir.to_path_buf()))
}

impl PlotData {
    /// Add the record a [`RecordReader`] just returned, whatever its file kind: a dataset
    /// row's numeric inputs are taken from the reader's current row. For a caller that reads
    /// the files itself (`gale report` computes its statistics in the same pass).
    pub fn add_read(&mut self, rec: &Record, reader: &RecordReader) {
        if reader.kind() != FileKind::Dataset {
            self.add(rec);
            return;
        }
        // The columns are found once per header, not per row.
        let (header, params) = match self.dataset_cols.take() {
            Some((h, p)) if h.as_slice() == reader.header() => (h, p),
            _ => (reader.header().to_vec(), DatasetParams::of(reader)),
        };
        let mut values = Vec::new();
        params.values(reader, &mut values);
        self.add_dataset(rec, &values);
        drop(values);
        self.dataset_cols = Some((header, params));
    }

    /// Stream one result file (`invocations.csv` or `dataset.csv`) into the current run;
    /// returns the number of rows read. A bad row stops the read with its file and line.
    pub fn add_file(&mut self, path: &Path) -> Result<u64, ReadError> {
        let mut reader = RecordReader::open(path)?;
        let params = DatasetParams::of(&reader);
        let dataset = reader.kind() == FileKind::Dataset;
        let mut values = Vec::new();
        let mut rows = 0;
        while let Some(rec) = reader.next_record() {
            let rec = rec?;
            if dataset {
                params.values(&reader, &mut values);
                self.add_dataset(&rec, &values);
            } else {
                self.add(&rec);
            }
            rows += 1;
        }
        Ok(rows)
    }
}

/// The default figures of one run: read its records and write them into
/// `run_dir/plots/`. What `gale inject` and `gale generate` call at the end of a run (unless
/// `--no-plots`).
pub fn write_run_plots(run_dir: &Path, opts: &Options) -> Result<Written, PlotError> {
    let mut data = PlotData::new();
    data.begin_run(&label_of(run_dir));
    data.add_file(&results_file(run_dir)?)?;
    data.write_all(&run_dir.join(PLOTS_DIR), opts)
}

/// The end of `gale inject` / `gale generate`: write the run's default figures and say where
/// they are. A figure that cannot be drawn never fails the run: its records are on disk
/// already, and `gale report --out` can draw them later.
pub fn end_of_run(run_dir: &Path) {
    match write_run_plots(run_dir, &Options::default()) {
        Ok(w) => {
            for note in &w.skipped {
                tracing::debug!("plot skipped: {note}");
            }
            println!(
                "plots: {} ({} figures, SVG and PNG)",
                run_dir.join(PLOTS_DIR).display(),
                w.files.len() / 2
            );
        }
        Err(e) => eprintln!("warning: {e}"),
    }
}

/// Figures comparing several runs (one result directory each, one series per run, labelled
/// with the directory's name), written into `out`: `gale report --out DIR`.
pub fn write_dirs_plots(
    dirs: &[PathBuf],
    out: &Path,
    opts: &Options,
) -> Result<Written, PlotError> {
    let mut data = PlotData::new();
    let mut labels: Vec<String> = Vec::new();
    for dir in dirs {
        let base = label_of(dir);
        let mut label = base.clone();
        let mut n = 2;
        while labels.contains(&label) {
            label = format!("{base} ({n})");
            n += 1;
        }
        data.begin_run(&label);
        data.add_file(&results_file(dir)?)?;
        labels.push(label);
    }
    data.write_all(out, opts)
}

/// A run's label: its directory's name (what the user typed, without the path to it).
fn label_of(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && n != "." && n != "..")
        .or_else(|| {
            std::fs::canonicalize(dir)
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        })
        .unwrap_or_else(|| "run".to_string())
}
