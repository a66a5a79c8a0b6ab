//! Importers of public FaaS traces: Azure Functions 2019 and 2021, Huawei 2023 and FaaSRail
//! specs, read in their release layouts (and In-Vitro's derived 2019 layout) and turned into
//! one lazy, time-ordered stream of rows, like any other trace.
//!
//! Every importer parses columns by header name, accepts integer or float cells, keeps
//! nothing per row (per-minute formats hold one minute's invocations at a time) and reports
//! bad cells with file, line, column and field. `gale trace import` writes the stream as a
//! YAML trace plus a CSV file of rows; [`super::open`] also reads raw inputs directly
//! (`azure2021:PATH`, or detected). Formats and choices are described in docs/trace-format.md.

mod azure2019;
mod azure2021;
mod buckets;
mod cells;
mod detect;
mod faasrail;
mod fast_hash;
mod huawei;
pub mod names;
pub mod spread;
pub mod wide;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::model::FunctionSpec;
use super::{Invocation, Rows, TraceError};

pub use detect::{detect, split_named};
pub use spread::Iat;

/// A public trace format gale imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Azure Functions 2019: per-minute counts, duration and memory percentiles.
    Azure2019,
    /// Azure Functions 2021: one row per invocation (`app,func,end_timestamp,duration`).
    Azure2021,
    /// Huawei 2023 (public and private): wide per-second or per-minute request tables.
    Huawei2023,
    /// FaaSRail's spec CSV: requests per experiment minute per mapped workload.
    FaasRail,
}

impl Format {
    /// Every format, in the order help texts list them.
    pub const ALL: [Format; 4] = [
        Format::Azure2019,
        Format::Azure2021,
        Format::Huawei2023,
        Format::FaasRail,
    ];

    /// The name used on the command line and in `FORMAT:PATH`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Azure2019 => "azure2019",
            Format::Azure2021 => "azure2021",
            Format::Huawei2023 => "huawei2023",
            Format::FaasRail => "faasrail",
        }
    }

    /// The format named `s` (case-insensitive).
    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How an imported duration is spent by gale's synthetic action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Work {
    /// Burn the duration as CPU time (`cpu_ms`), as In-Vitro's busy loop does.
    #[default]
    Cpu,
    /// Sleep for it (`sleep_ms`): no CPU, for platforms smaller than the trace.
    Sleep,
}

impl Work {
    /// The synthetic action's parameter that takes the duration.
    pub fn param(self) -> &'static str {
        match self {
            Work::Cpu => "cpu_ms",
            Work::Sleep => "sleep_ms",
        }
    }
}

/// How anonymised names become action names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameMode {
    /// Prefixes of the hashes, lengthened only where two would collide.
    #[default]
    Short,
    /// The whole hashes (joined by `-`).
    Keep,
}

/// Settings of an import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Seed of the arrivals drawn within each minute and of durations and memory.
    pub seed: u64,
    /// How invocations are spread within a minute (or second) of counts.
    pub iat: Iat,
    /// Rotate each minute's arrivals by a random offset so that they do not all start at :00.
    pub shift: bool,
    /// Days to import (1-based, inclusive); `None`: all.
    pub days: Option<(u32, u32)>,
    /// Minutes of each day to import (1-based, inclusive, as the 2019 headers number them).
    pub minutes: Option<(u32, u32)>,
    /// Short or kept names.
    pub names: NameMode,
    /// Where durations go.
    pub work: Work,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            seed: 0,
            iat: Iat::Exponential,
            shift: true,
            days: None,
            minutes: None,
            names: NameMode::Short,
            work: Work::Cpu,
        }
    }
}

/// What an import found, filled in while its rows are read; complete once they are drained.
#[derive(Debug, Default)]
pub struct Report {
    /// Functions declared before any row was read ([`Imported::functions`]), counted only:
    /// a day of Azure 2019 declares 50 000, and a second copy of them would cost ~15 MB.
    pub known_functions: usize,
    /// Functions found while the rows stream by (Azure 2021), in the order first seen; they
    /// come after the known ones in the header.
    pub functions: Vec<FunctionSpec>,
    /// Rows produced.
    pub invocations: u64,
    /// Time of the first and last row, ns.
    pub first_ns: Option<u64>,
    /// Time of the last row, ns.
    pub last_ns: u64,
    /// Invocations with a zero duration (kept; they run as no-ops).
    pub zero_durations: u64,
    /// Records left out because they fall outside `--days`/`--minutes`.
    pub outside_window: u64,
    /// Other facts worth a line in the summary.
    pub notes: Vec<String>,
}

/// The imported rows, counted for the summary without taking the report's lock per row:
/// the counts go into it at the end (or when the rows are dropped unfinished).
struct Counted {
    rows: Rows,
    report: SharedReport,
    n: u64,
    first: Option<u64>,
    last: u64,
}

impl Counted {
    fn flush(&mut self) {
        if self.n == 0 {
            return;
        }
        if let Ok(mut r) = self.report.lock() {
            r.invocations += self.n;
            if r.first_ns.is_none() {
                r.first_ns = self.first;
            }
            r.last_ns = self.last;
        }
        self.n = 0;
    }
}

impl Iterator for Counted {
    type Item = Result<Invocation, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = self.rows.next();
        match &next {
            Some(Ok(inv)) => {
                self.n += 1;
                self.first.get_or_insert(inv.at_ns);
                self.last = inv.at_ns;
            }
            Some(Err(_)) | None => self.flush(),
        }
        next
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.flush();
    }
}

impl Report {
    /// The summary `gale trace import` prints at the end.
    pub fn summary(&self, format: Format) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let first = self.first_ns.unwrap_or(0);
        let span_s = (self.last_ns.saturating_sub(first)) as f64 / 1e9;
        let _ = writeln!(s, "imported   {format}");
        let _ = writeln!(
            s,
            "functions  {}",
            self.known_functions + self.functions.len()
        );
        let _ = writeln!(s, "rows       {}", self.invocations);
        let _ = writeln!(
            s,
            "span       {} s to {} s ({:.1} min)",
            super::num::format_secs(first),
            super::num::format_secs(self.last_ns),
            span_s / 60.0
        );
        // Over whole minutes of the trace: a trace of one minute has a rate per minute.
        let minutes = ((self.last_ns as f64 / 60e9).floor() + 1.0).max(1.0);
        let _ = writeln!(
            s,
            "rate       {:.1} /min ({:.2} /s) from 0 to the end of the last minute",
            self.invocations as f64 / minutes,
            self.invocations as f64 / (minutes * 60.0)
        );
        if self.zero_durations > 0 {
            let _ = writeln!(
                s,
                "zero       {} rows with a zero duration (kept; they run as no-ops)",
                self.zero_durations
            );
        }
        if self.outside_window > 0 {
            let _ = writeln!(
                s,
                "window     {} records outside --days/--minutes left out",
                self.outside_window
            );
        }
        for n in &self.notes {
            let _ = writeln!(s, "note       {n}");
        }
        s
    }
}

/// A shared handle on an import's [`Report`], updated by its rows.
pub type SharedReport = Arc<Mutex<Report>>;

/// An import in progress: the rows to drain and the report they fill.
pub struct Imported {
    /// Functions known before any row is read (all but Azure 2021's, which are found
    /// as rows stream by).
    pub functions: Vec<FunctionSpec>,
    /// The rows, time-ordered, lazily read.
    pub rows: Rows,
    /// Filled as rows are read.
    pub report: SharedReport,
    /// What was read, for run.yaml and summaries.
    pub sources: Vec<String>,
}

/// Open `inputs` as `format`.
pub fn open(
    format: Format,
    inputs: &[PathBuf],
    opts: &ImportOptions,
) -> Result<Imported, TraceError> {
    if inputs.is_empty() {
        return Err(TraceError::file(
            format.name(),
            "expected at least one input file or directory",
        ));
    }
    for p in inputs {
        if !p.exists() {
            return Err(TraceError::file(p, "no such file or directory"));
        }
    }
    if let (Some((a, b)), _) | (_, Some((a, b))) = (opts.days, opts.minutes) {
        if a == 0 || a > b {
            return Err(TraceError::file(
                inputs[0].as_path(),
                format!("expected a range FIRST-LAST of numbers from 1 up, got {a}-{b}"),
            ));
        }
    }
    let report: SharedReport = Arc::default();
    let mut imported = match format {
        Format::Azure2021 => azure2021::open(inputs, opts, report.clone())?,
        Format::Azure2019 => azure2019::open(inputs, opts, report.clone())?,
        Format::Huawei2023 => huawei::open(inputs, opts, report.clone())?,
        Format::FaasRail => faasrail::open(inputs, opts, report.clone())?,
    };
    let rows = std::mem::replace(&mut imported.rows, Box::new(std::iter::empty()));
    imported.rows = Box::new(Counted {
        rows,
        report: report.clone(),
        n: 0,
        first: None,
        last: 0,
    });
    imported.sources = inputs
        .iter()
        .map(|p| format!("{} ({format})", p.display()))
        .collect();
    Ok(imported)
}

/// `{"cpu_ms":D,"mem_mb":M}` and the like: a JSON object of finite numbers, written
/// without serde_json on the per-row path.
pub(crate) fn work_params(work: Work, duration_ms: Option<f64>, memory_mb: Option<f64>) -> String {
    let mut s = String::with_capacity(40);
    push_work_params(&mut s, work, duration_ms, memory_mb);
    s
}

/// [`work_params`] appended to `s` (an importer reuses one buffer for millions of rows).
pub(crate) fn push_work_params(
    s: &mut String,
    work: Work,
    duration_ms: Option<f64>,
    memory_mb: Option<f64>,
) {
    let start = s.len();
    s.push('{');
    if let Some(d) = duration_ms {
        s.push('"');
        s.push_str(work.param());
        s.push_str("\":");
        push_number(s, d);
    }
    if let Some(m) = memory_mb {
        if s.len() > start + 1 {
            s.push(',');
        }
        s.push_str("\"mem_mb\":");
        push_number(s, m);
    }
    s.push('}');
}

/// A non-negative number with at most three decimals (µs for ms, KB for MB), no trailing
/// zeros: enough for a synthetic action, and short.
fn push_number(s: &mut String, v: f64) {
    let milli = (v.max(0.0) * 1000.0).round() as u64;
    crate::trace::num::push_decimal(s, milli, 3);
}

/// The memory limit to declare for a function whose invocations touch up to `peak_mb`:
/// room for the runtime beside it, in steps of 64 MB, at least 128 MB.
pub(crate) fn memory_limit(peak_mb: f64) -> u32 {
    let need = peak_mb.max(0.0) + 32.0;
    let steps = (need / 64.0).ceil() as u32;
    (steps * 64).max(128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_short_json() {
        assert_eq!(
            work_params(Work::Cpu, Some(31.0), Some(171.5)),
            r#"{"cpu_ms":31,"mem_mb":171.5}"#
        );
        assert_eq!(
            work_params(Work::Sleep, Some(0.0004), None),
            r#"{"sleep_ms":0}"#
        );
        assert_eq!(
            work_params(Work::Cpu, None, Some(2.25)),
            r#"{"mem_mb":2.25}"#
        );
        let v: serde_json::Value =
            serde_json::from_str(&work_params(Work::Cpu, Some(1.2345), Some(3.0))).unwrap();
        assert_eq!(v["cpu_ms"], 1.235);
        assert_eq!(memory_limit(0.0), 128);
        assert_eq!(memory_limit(171.0), 256);
        assert_eq!(memory_limit(1000.0), 1088);
    }

    #[test]
    fn formats_by_name() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.name()), Some(f));
        }
        assert_eq!(Format::parse("Azure2019"), Some(Format::Azure2019));
        assert_eq!(Format::parse("azure"), None);
    }
}
