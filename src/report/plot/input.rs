//! What the plots read from one result row: a borrowed view, so a reader can hand over each
//! row of a streamed file without allocating, and so the figures do not depend on every
//! column of the record schema.

/// One invocation, as the plots need it (columns of `invocations.csv`, schema v2).
///
/// Times are µs since the run's start instant; `None` where the record leaves the cell empty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Invocation<'a> {
    /// Function (action) name.
    pub function: &'a str,
    /// When the trace wanted it sent.
    pub scheduled_us: f64,
    /// When the request went out (`None`: never sent, e.g. shed).
    pub sent_us: Option<f64>,
    /// When the activation ended on the run's clock.
    pub end_us: Option<f64>,
    /// Activation end − scheduled instant: what the trace's user waited.
    pub completion_us: Option<f64>,
    /// Whether the outcome was `success`; only successes enter latency figures, as in the
    /// summary, so a fast error cannot pull a latency distribution down.
    pub success: bool,
    /// Cold start, when the platform said.
    pub cold: Option<bool>,
    /// The invoker node (embedded platform only).
    pub node: Option<&'a str>,
    /// The container that ran it (embedded platform only).
    pub container: Option<&'a str>,
}

/// One generator dataset row: measured resources against the sampled input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DatasetRow<'a> {
    /// Function name.
    pub function: &'a str,
    /// Numeric input parameters by name: `input_bytes`, `body_bytes` and every `p.<name>`
    /// column whose cell is a number (the `p.` prefix kept, so names match the columns).
    /// A parameter missing from a row is simply absent.
    pub params: &'a [(&'a str, f64)],
    /// Whether the outcome was `success`.
    pub success: bool,
    /// CPU time of the activation, ms (monitor).
    pub cpu_ms: Option<f64>,
    /// Peak memory of the container during the activation, bytes (monitor).
    pub mem_peak_bytes: Option<f64>,
    /// The activation's own duration, ms.
    pub duration_ms: Option<f64>,
}
