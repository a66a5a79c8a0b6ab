//! The trace model: what a trace declares (functions, users) and the invocations it yields.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The exec kind of gale's synthetic action: burns `cpu_ms`, touches `mem_mb`, sleeps `sleep_ms`.
pub const SYNTHETIC_KIND: &str = "gale:synthetic";

/// How to deploy one function (an OpenWhisk action) on a platform gale manages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionSpec {
    /// Action name (may contain a package: `pkg/name`).
    pub name: String,
    /// OpenWhisk exec kind, e.g. `gale:synthetic` (the default) or `python:3`.
    #[serde(default = "default_kind")]
    pub kind: String,
    /// Inline action code, for kinds that run code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// A file holding the code, relative to the trace file; read into `code` when the trace
    /// is opened (so this is `None` afterwards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_file: Option<std::path::PathBuf>,
    /// Action memory limit in MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    /// Action time limit in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u32>,
    /// Default parameters of the action; an invocation's parameters override them.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Whether gale deploys the action before the run (false: it must already exist).
    #[serde(default = "yes")]
    pub deploy: bool,
    /// Blocking invocations for this function; `None` takes the trace default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocking: Option<bool>,
}

fn default_kind() -> String {
    SYNTHETIC_KIND.to_string()
}

fn yes() -> bool {
    true
}

impl FunctionSpec {
    /// A synthetic function with no default parameters (a no-op until invoked with some).
    pub fn synthetic(name: &str) -> Self {
        FunctionSpec {
            name: name.to_string(),
            kind: default_kind(),
            code: None,
            code_file: None,
            memory_mb: None,
            timeout_ms: None,
            params: serde_json::Map::new(),
            deploy: true,
            blocking: None,
        }
    }
}

/// A user (tenant) of the trace. On the embedded platform each user gets its own namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// Name used in records and, by default, as the namespace.
    pub name: String,
    /// OpenWhisk namespace (defaults to `_`, the auth key's own namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `UUID:KEY` for this user; when absent the run's key is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
}

/// Everything a trace declares before its invocations.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TraceHeader {
    /// Functions the trace uses. Empty means "not declared": names seen in rows are accepted
    /// and deployed as synthetic functions on the embedded platform.
    pub functions: Vec<FunctionSpec>,
    /// Users the trace declares (may be empty; users seen in rows are then accepted as labels).
    pub users: Vec<UserSpec>,
    /// Default for `blocking` when neither the function nor the row says.
    pub blocking: bool,
    /// Seed used to expand arrival specifications.
    pub seed: u64,
    /// Human-readable description of the sources (for run.yaml and summaries).
    pub sources: Vec<String>,
}

/// One invocation to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// Row id: position in the merged, time-ordered trace (0-based).
    pub row: u64,
    /// Scheduled instant, nanoseconds after the start of the run.
    pub at_ns: u64,
    /// Function (action) name.
    pub function: Arc<str>,
    /// User / tenant label.
    pub user: Arc<str>,
    /// Request body: a JSON object's text (`None` sends `{}`).
    pub params: Option<Box<str>>,
    /// Per-row override of blocking mode.
    pub blocking: Option<bool>,
}

/// A stream of invocations in non-decreasing `at_ns` order.
pub type Rows = Box<dyn Iterator<Item = Result<Invocation, super::TraceError>> + Send>;

/// An opened trace: its header plus a lazy stream of rows.
pub struct Trace {
    /// What the trace declares.
    pub header: TraceHeader,
    /// The invocations, read lazily (never all in memory).
    pub rows: Rows,
}
