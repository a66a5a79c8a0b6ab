//! Traces: the model, the readers (YAML, CSV, FaaSLoad directories) and arrival specifications.
//!
//! [`open`] reads a trace's header eagerly and returns its rows as one lazy, time-ordered
//! stream: every source (explicit rows, a CSV file, each arrival spec, each FaaSLoad file) is
//! sorted on its own and [`merge`] interleaves them deterministically. Formats are described
//! in docs/trace-format.md.

pub mod arrivals;
pub mod catalog;
mod cli;
pub mod csv;
pub mod entity;
mod error;
pub mod faasload;
pub mod fuzzing;
pub mod import;
pub mod input;
pub mod inspect;
pub mod merge;
mod model;
pub mod num;
pub mod profile;
pub mod read_ahead;
pub mod shard;
pub mod shrink;
pub mod writer;
pub mod yaml;
pub(crate) mod yaml_de;

pub use cli::{
    run_check, run_convert, run_import, run_inspect, run_shrink, ImportSettings, InspectSettings,
    ShrinkSettings,
};
pub use error::TraceError;
pub use model::{
    FunctionSpec, Invocation, PackageSpec, Rows, RuleSpec, Trace, TraceHeader, UserSpec, WebAuth,
    WebExtension, WebMethod, WebSpec, SEQUENCE_KIND, SYNTHETIC_KIND, TRIGGER_KIND,
};
pub use writer::{write_csv, write_csv_ahead, WriteCsvError};

use std::path::Path;

use catalog::Catalog;
use input::Input;

/// Options that change how a trace is opened.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Overrides the trace's seed for arrival specifications.
    pub seed: Option<u64>,
}

/// Open a trace: a `.yaml`/`.yml` file, a `.csv` file, a FaaSLoad trace directory, or a
/// public trace's raw files (`FORMAT:PATH`, or detected: see [`import::detect`]).
/// The header is read now; rows are read lazily as the returned iterator is consumed.
/// Files up to [`yaml::EAGER_BYTES`] are also checked in full now, so that a bad row in a
/// small trace is reported before anything is sent.
pub fn open(path: &Path, opts: &OpenOptions) -> Result<Trace, TraceError> {
    if let Some((format, real)) = import::split_named(path) {
        return open_import(format, &[real], opts);
    }
    if let Some(format) = import::detect(path) {
        return open_import(format, &[path.to_path_buf()], opts);
    }
    let meta = std::fs::metadata(path)
        .map_err(|e| TraceError::file(path, format!("cannot read the trace: {e}")))?;
    if !meta.is_dir() && !meta.is_file() {
        return Err(TraceError::file(
            path,
            "not a regular file or a directory (a FIFO or device would block or never end): \
             expected a .yaml, .yml or .csv file, or a FaaSLoad trace directory",
        ));
    }
    if meta.is_dir() {
        let (header, sources) = faasload::open(path, checked)?;
        return Ok(Trace {
            header,
            rows: merge::merge(sources),
        });
    }
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let input = Input::File(path.to_path_buf());
    match ext.as_deref() {
        Some("yaml" | "yml") => open_yaml(&input, opts),
        Some("csv") => {
            let rows = csv_source(&input, Catalog::open())?;
            Ok(Trace {
                header: TraceHeader {
                    blocking: false,
                    sources: vec![format!("{} (CSV)", path.display())],
                    ..TraceHeader::default()
                },
                rows: merge::merge(vec![rows]),
            })
        }
        _ => Err(TraceError::file(
            path,
            "unknown kind of trace: expected a .yaml, .yml or .csv file, or a FaaSLoad \
             trace directory",
        )),
    }
}

/// Open a public trace's raw files as `format`, with the import defaults (docs/trace-format.md)
/// and `opts.seed` (default 0).
pub fn open_import(
    format: import::Format,
    inputs: &[std::path::PathBuf],
    opts: &OpenOptions,
) -> Result<Trace, TraceError> {
    let settings = import::ImportOptions {
        seed: opts.seed.unwrap_or(0),
        ..import::ImportOptions::default()
    };
    let imported = import::open(format, inputs, &settings)?;
    Ok(Trace {
        header: TraceHeader {
            functions: imported.functions,
            users: Vec::new(),
            packages: Vec::new(),
            blocking: false,
            seed: settings.seed,
            sources: imported.sources,
        },
        rows: merge::merge(vec![imported.rows]),
    })
}

/// Open a YAML trace held in any [`Input`].
pub fn open_yaml(input: &Input, opts: &OpenOptions) -> Result<Trace, TraceError> {
    let opened = yaml::open(input, opts.seed, csv_source)?;
    Ok(Trace {
        header: opened.header,
        rows: merge::merge(opened.sources),
    })
}

/// A CSV file's rows, checked in full first when the file is small.
fn csv_source(input: &Input, catalog: Catalog) -> Result<Rows, TraceError> {
    checked(input, &|| csv::read(input, catalog.clone()))
}

/// Drain one instance of a small file's rows to surface any error now, then return a fresh
/// instance to stream: a cheap full check that keeps memory flat.
fn checked(input: &Input, make: &dyn Fn() -> Result<Rows, TraceError>) -> Result<Rows, TraceError> {
    if input.size().is_some_and(|n| n <= yaml::EAGER_BYTES) {
        for r in make()? {
            r?;
        }
    }
    make()
}
