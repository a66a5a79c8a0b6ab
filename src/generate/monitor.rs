//! The join with the resource monitor: the one place where a run's activation meets the
//! monitor's measurements. The run's monitor (a `gale monitor` socket or the in-process one,
//! see `crate::monitor::choose`) plugs in as [`Monitored`]; without one the resource columns
//! stay empty.

use crate::backend::Activation;
use crate::monitor::source::{Measured, Miss, Source};

/// The window a monitor attributes to an activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window<'a> {
    /// Container id (`gale.container`).
    pub container: &'a str,
    /// Start, µs since the epoch (`gale.startUs`).
    pub start_us: u64,
    /// Length, µs (`gale.durationUs`).
    pub duration_us: u64,
}

impl<'a> Window<'a> {
    /// The window of an activation, when its record carries gale's annotations.
    pub fn of(a: &'a Activation) -> Option<Window<'a>> {
        Some(Window {
            container: a.container.as_deref()?,
            start_us: a.start_us?,
            duration_us: a.duration_us?,
        })
    }
}

/// The run's monitor as the generator's measurement source.
pub struct Monitored {
    source: Source,
    raw: bool,
}

impl Monitored {
    /// Measure from `source`, with raw samples when `raw`.
    pub fn new(source: Source, raw: bool) -> Monitored {
        Monitored { source, raw }
    }

    fn measure(&mut self, w: Window<'_>) -> Result<Measured, Miss> {
        let end_us = w.start_us + w.duration_us;
        // The wait for the samples closing the window blocks; not on a runtime worker's
        // schedule (the generator's runtime is multi-threaded).
        tokio::task::block_in_place(|| {
            self.source
                .measure(w.container, w.start_us, end_us, self.raw)
        })
    }
}

/// The resource columns of a run: the measurement, or the reason there is none (for the
/// row's error column). An activation without gale's annotations (a real OpenWhisk) has no
/// window to measure.
pub fn join(
    monitor: Option<&mut Monitored>,
    activation: Option<&Activation>,
) -> (Option<Measured>, Option<String>) {
    let Some(monitor) = monitor else {
        return (None, None);
    };
    match activation.and_then(Window::of) {
        None => (
            None,
            Some(
                "no measurement: the activation record has no gale.container/startUs/durationUs"
                    .into(),
            ),
        ),
        Some(w) => match monitor.measure(w) {
            Ok(m) => (Some(m), None),
            Err(e) => (None, Some(format!("monitor: {e}"))),
        },
    }
}
