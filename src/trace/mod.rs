//! Traces: the model, the readers (YAML, CSV, FaaSLoad directories) and arrival specifications.

mod error;
mod model;

pub use error::TraceError;
pub use model::{FunctionSpec, Invocation, Rows, Trace, TraceHeader, UserSpec, SYNTHETIC_KIND};

use std::path::Path;

/// Options that change how a trace is opened.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Overrides the trace's seed for arrival specifications.
    pub seed: Option<u64>,
}

/// Open a trace: a `.yaml`/`.yml` file, a `.csv` file, or a FaaSLoad trace directory.
/// The header is read now; rows are read lazily as the returned iterator is consumed.
pub fn open(path: &Path, opts: &OpenOptions) -> Result<Trace, TraceError> {
    let _ = opts;
    Err(TraceError::file(path, "trace readers are not written yet"))
}

/// `gale trace …` (check, convert).
pub fn run_cli(cmd: crate::cli::TraceCommand) -> anyhow::Result<std::process::ExitCode> {
    let _ = cmd;
    anyhow::bail!("gale trace is not written yet")
}
