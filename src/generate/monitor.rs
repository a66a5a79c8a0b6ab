//! The join with the resource monitor: the one place where a run's activation meets the
//! monitor's measurements. The run's monitor (a `gale monitor` socket or the in-process one,
//! see `crate::monitor::choose`) plugs in as [`Monitored`]; without one, [`NoMonitor`]
//! leaves the resource columns empty.

use std::sync::Arc;

use crate::backend::Activation;
use crate::monitor::source::{Source, Tally};

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

/// What the monitor measured over an activation's window.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// CPU time, peak and mean memory, exactness flags, sample count, missed flag.
    pub window: crate::monitor::Window,
    /// Raw samples (inside the window and one on each side) for the side file; empty unless
    /// asked for.
    pub samples: Vec<crate::monitor::Sample>,
}

/// A source of measurements.
pub trait Measure {
    /// Measure one window; `Ok(None)` when the source has nothing for it.
    fn measure(&mut self, window: Window<'_>) -> Result<Option<Measurement>, String>;
    /// Whether this source yields anything (raw samples need one that does).
    fn enabled(&self) -> bool;
}

/// No monitor: empty resource columns.
pub struct NoMonitor;

impl Measure for NoMonitor {
    fn measure(&mut self, _: Window<'_>) -> Result<Option<Measurement>, String> {
        Ok(None)
    }
    fn enabled(&self) -> bool {
        false
    }
}

/// A monitor source as the generator's measurement source.
pub struct Monitored {
    source: Source,
    raw: bool,
    tally: Arc<Tally>,
}

impl Monitored {
    /// Measure from `source`, with raw samples when `raw`, counting queries in `tally`.
    pub fn new(source: Source, raw: bool, tally: Arc<Tally>) -> Monitored {
        Monitored { source, raw, tally }
    }
}

impl Measure for Monitored {
    fn measure(&mut self, w: Window<'_>) -> Result<Option<Measurement>, String> {
        let end_us = w.start_us + w.duration_us;
        // The wait for the samples closing the window blocks; not on a runtime worker's
        // schedule (the generator's runtime is multi-threaded).
        let result = tokio::task::block_in_place(|| {
            self.source
                .measure(w.container, w.start_us, end_us, self.raw)
        });
        self.tally.count(result.is_ok());
        result
            .map(|m| {
                Some(Measurement {
                    window: m.window,
                    samples: m.raw,
                })
            })
            .map_err(|e| e.to_string())
    }
    fn enabled(&self) -> bool {
        true
    }
}

/// The resource columns of a run: the measurement, or the reason there is none (for the
/// row's error column). An activation without gale's annotations (a real OpenWhisk) has no
/// window to measure.
pub fn join(
    monitor: &mut dyn Measure,
    activation: Option<&Activation>,
) -> (Option<Measurement>, Option<String>) {
    if !monitor.enabled() {
        return (None, None);
    }
    match activation.and_then(Window::of) {
        None => (
            None,
            Some(
                "no measurement: the activation record has no gale.container/startUs/durationUs"
                    .into(),
            ),
        ),
        Some(w) => match monitor.measure(w) {
            Ok(m) => (m, None),
            Err(e) => (None, Some(format!("monitor: {e}"))),
        },
    }
}
