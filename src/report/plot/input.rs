//! What the plots read from one record: a borrowed view of the few fields the figures use,
//! taken from the results room's [`Record`] so the figures follow the record schema.

use crate::backend::Outcome;
use crate::report::Record;

/// One invocation, as the plots need it. Times are µs since the run's start instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct RecordView<'a> {
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
    /// The invoker node (embedded platform and simulator only).
    pub node: Option<&'a str>,
    /// The container that ran it.
    pub container: Option<&'a str>,
}

impl<'a> From<&'a Record> for RecordView<'a> {
    fn from(r: &'a Record) -> RecordView<'a> {
        let us = |ns: u64| ns as f64 / 1000.0;
        RecordView {
            function: &r.function,
            scheduled_us: us(r.scheduled_ns),
            sent_us: r.sent_ns.map(us),
            end_us: r.end_ns.map(us),
            completion_us: r.completion_ns().map(us),
            success: r.outcome == Outcome::Success,
            cold: r.cold,
            node: r.node.as_deref(),
            container: r.container.as_deref(),
        }
    }
}

/// One generator dataset row: measured resources against the sampled input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct DatasetView<'a> {
    /// Function name.
    pub function: &'a str,
    /// Numeric input parameters by column name.
    pub params: &'a [(&'a str, f64)],
    /// Whether the outcome was `success`.
    pub success: bool,
    /// Send → activation end, ms.
    pub completion_ms: Option<f64>,
    /// CPU time of the activation, ms (monitor).
    pub cpu_ms: Option<f64>,
    /// Peak memory of the container during the activation, bytes (monitor).
    pub mem_peak_bytes: Option<f64>,
    /// The activation's own duration, ms.
    pub duration_ms: Option<f64>,
}

impl<'a> DatasetView<'a> {
    /// The view of a dataset record with its numeric parameters.
    pub fn of(r: &'a Record, params: &'a [(&'a str, f64)]) -> DatasetView<'a> {
        let usage = r.usage.as_ref();
        DatasetView {
            function: &r.function,
            params,
            success: r.outcome == Outcome::Success,
            completion_ms: r.completion_ns().map(|ns| ns as f64 / 1e6),
            cpu_ms: usage.and_then(|u| u.cpu_ms),
            mem_peak_bytes: usage.and_then(|u| u.mem_peak_bytes).map(|b| b as f64),
            duration_ms: r.duration_us.map(|us| us as f64 / 1000.0),
        }
    }
}
