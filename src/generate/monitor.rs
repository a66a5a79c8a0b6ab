//! The join with the resource monitor: the one place where a run's activation meets the
//! monitor's measurements. The monitor client (`crate::monitor::client`, `--monitor SOCKET`)
//! plugs in by implementing [`Measure`]; without it, [`NoMonitor`] leaves the resource
//! columns empty.

use crate::backend::Activation;

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

/// One raw resource sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When, µs since the epoch.
    pub t_us: u64,
    /// Cumulative CPU time of the container at that instant, ms.
    pub cpu_ms: f64,
    /// Memory in use, bytes.
    pub mem_bytes: u64,
}

/// What the monitor measured over an activation's window.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// CPU time spent in the window, ms.
    pub cpu_ms: f64,
    /// Peak memory, bytes.
    pub mem_peak_bytes: u64,
    /// Mean memory, bytes.
    pub mem_mean_bytes: u64,
    /// Whether the CPU figure is exact (read at the window's ends) or interpolated.
    pub cpu_exact: bool,
    /// Whether the memory figures come from a kernel peak counter or from samples.
    pub mem_exact: bool,
    /// Raw samples inside the window (for the side file; may be empty).
    pub samples: Vec<Sample>,
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
