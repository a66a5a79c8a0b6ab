//! Timed FaaS-system operations (faas-sim's `FaasSystem`): at an instant, deploy, remove,
//! scale up, scale down or suspend a function. Read from a YAML list:
//!
//! ```yaml
//! - {at: 30s, op: scale_up, function: thumbnail, count: 3}
//! - {at: 2m, op: suspend, function: thumbnail}
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::config::ConfigError;
use crate::trace::input::Input;
use crate::trace::yaml_de::{from_saphyr, Seconds};

/// What an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Deploy the function (a function with a `deploy` is not deployed before it; after a
    /// `remove` it comes back as a new revision, cold).
    Deploy,
    /// Remove it: idle containers go now, busy ones when they finish; invocations until its
    /// next `deploy` fail as not deployed.
    Remove,
    /// Start `count` more replicas.
    ScaleUp,
    /// Remove `count` replicas (idle first).
    ScaleDown,
    /// Remove every replica, keep the deployment.
    Suspend,
}

impl Op {
    /// YAML name.
    pub fn name(self) -> &'static str {
        match self {
            Op::Deploy => "deploy",
            Op::Remove => "remove",
            Op::ScaleUp => "scale_up",
            Op::ScaleDown => "scale_down",
            Op::Suspend => "suspend",
        }
    }
}

/// One timed operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// Instant, ns after the start.
    pub at_ns: u64,
    /// What.
    pub op: Op,
    /// The trace's function name.
    pub function: String,
    /// Replicas (scale_up, scale_down).
    pub count: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    at: Seconds,
    op: Op,
    function: String,
    count: Option<u32>,
}

/// Read an operations file; in time order (a stable sort keeps the file's order within an
/// instant).
pub fn load(path: &Path) -> Result<Vec<Operation>, ConfigError> {
    let input = Input::File(path.to_path_buf());
    let err = |line: Option<u64>, message: String| ConfigError {
        file: Some(path.to_path_buf()),
        line,
        message,
    };
    let located = |e: crate::trace::TraceError| {
        let message = match &e.field {
            Some(field) => format!("field `{field}`: {}", e.message),
            None => e.message,
        };
        err(e.line, message)
    };
    let reader = input.open().map_err(located)?;
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    let raw: Vec<serde_saphyr::Spanned<Raw>> =
        serde_saphyr::from_reader_with_options(reader, options)
            .map_err(|e| located(from_saphyr(&input, &e)))?;
    let mut ops = Vec::with_capacity(raw.len());
    for r in raw {
        let line = Some(r.referenced.line());
        let r = r.value;
        let count = match (r.op, r.count) {
            (Op::ScaleUp | Op::ScaleDown, Some(n)) if n > 0 => n,
            (Op::ScaleUp | Op::ScaleDown, _) => {
                return Err(err(
                    line,
                    format!(
                        "{}: expected `count`, a number of replicas above 0",
                        r.op.name()
                    ),
                ))
            }
            (_, Some(_)) => return Err(err(line, format!("{}: takes no `count`", r.op.name()))),
            (_, None) => 0,
        };
        ops.push(Operation {
            at_ns: r.at.0,
            op: r.op,
            function: r.function,
            count,
        });
    }
    ops.sort_by_key(|o| o.at_ns);
    Ok(ops)
}
