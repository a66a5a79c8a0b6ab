//! Which monitor a run (`gale inject`, `gale generate`) measures with:
//! - `--monitor SOCKET`: a `gale monitor` daemon;
//! - otherwise, when the run started the embedded platform and it puts containers in
//!   cgroups: a monitor in this process, fed straight from the platform's event bus;
//! - otherwise (or with `--no-monitor`): none, and the resource columns stay empty.
//!
//! The choice is logged once and recorded in the run's `run.yaml`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::local::LocalMonitor;
use super::source::{Source, Tally};
use super::MonitorConfig;
use crate::platform::RunningPlatform;

/// What a run asks for (`--monitor`, `--no-monitor`, `--monitor-period`).
#[derive(Debug, Clone)]
pub struct MonitorRequest {
    /// A `gale monitor` socket to ask.
    pub socket: Option<PathBuf>,
    /// No monitor at all.
    pub off: bool,
    /// Sampling period of an in-process monitor.
    pub period: Duration,
    /// How long an in-process monitor keeps samples: at least the longest an activation's
    /// record can take to reach the run after the activation ends.
    pub history: Duration,
}

/// The monitor a run measures with, as `run.yaml` records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MonitorInfo {
    /// A `gale monitor` daemon.
    Socket {
        /// Its socket.
        socket: PathBuf,
    },
    /// A monitor in this process, fed by the embedded platform's events.
    InProcess {
        /// Sampling period, ms.
        period_ms: f64,
        /// The platform's cgroups (`cgroup v1 (cpu, cpuacct, …)`).
        cgroups: String,
        /// Whether v1 memory watermarks are reset (exact peaks).
        peak_reset: bool,
    },
    /// No monitor: the resource columns stay empty.
    None {
        /// Why.
        reason: String,
    },
}

impl std::fmt::Display for MonitorInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MonitorInfo::Socket { socket } => write!(f, "gale monitor at {}", socket.display()),
            MonitorInfo::InProcess {
                period_ms, cgroups, ..
            } => write!(
                f,
                "in-process, every {period_ms} ms, fed by the embedded platform's events ({cgroups})"
            ),
            MonitorInfo::None { reason } => write!(f, "none ({reason})"),
        }
    }
}

/// The monitor of a run: where to send queries, and what to stop at the end.
pub struct RunMonitor {
    /// What was chosen and why.
    pub info: MonitorInfo,
    local: Option<LocalMonitor>,
    /// Queries asked and answered, counted by every [`RunMonitor::source`].
    pub tally: std::sync::Arc<Tally>,
}

impl RunMonitor {
    /// A query source for one consumer (each socket consumer gets its own connection);
    /// `None` without a monitor.
    pub fn source(&self) -> Option<Source> {
        match (&self.info, &self.local) {
            (_, Some(local)) => Some(Source::local(local.handle().clone(), self.tally.clone())),
            (MonitorInfo::Socket { socket }, None) => {
                Some(Source::socket(socket, self.tally.clone()))
            }
            _ => None,
        }
    }

    /// Whether measurements are made at all.
    pub fn is_on(&self) -> bool {
        !matches!(self.info, MonitorInfo::None { .. })
    }

    /// Log how many windows were measured, and stop an in-process monitor.
    pub fn finish(self) {
        let (asked, measured) = self.tally.get();
        if self.is_on() {
            tracing::info!("monitor: {measured} of {asked} activations measured");
        }
        if let Some(local) = self.local {
            local.shutdown();
        }
    }
}

/// Why the embedded platform has no cgroups, in a user's words.
fn why_no_cgroups(platform: &RunningPlatform) -> String {
    if !platform.shared().config.cgroups {
        "the embedded platform runs without cgroups: `cgroups: false` in its config".into()
    } else if !rustix::process::geteuid().is_root() {
        "the embedded platform runs without cgroups: not root".into()
    } else {
        "the embedded platform runs without cgroups: the host's cannot be used (see its log line)"
            .into()
    }
}

/// Choose the run's monitor and start it if it runs here. `embedded` is the run's own
/// platform, when it started one.
pub fn choose(
    req: &MonitorRequest,
    embedded: Option<&RunningPlatform>,
) -> std::io::Result<RunMonitor> {
    let mut local = None;
    let info = if req.off {
        MonitorInfo::None {
            reason: "--no-monitor".into(),
        }
    } else if let Some(socket) = &req.socket {
        if let Some(p) = embedded.filter(|p| p.events_socket().is_none()) {
            tracing::warn!(
                "--monitor {}: the embedded platform serves no lifecycle events (`events: PATH` in \
                 --platform-config), so that monitor learns its containers only by other means; \
                 without --monitor gale measures them in-process{}",
                socket.display(),
                if p.cgroups().is_none() { " (with cgroups)" } else { "" }
            );
        }
        MonitorInfo::Socket {
            socket: socket.clone(),
        }
    } else {
        match embedded {
            None => MonitorInfo::None {
                reason: "the platform is not gale's embedded one here; give --monitor SOCKET"
                    .into(),
            },
            Some(platform) => match platform.cgroups() {
                None => MonitorInfo::None {
                    reason: why_no_cgroups(platform),
                },
                Some(tree) => {
                    // A follower of the platform's events socket may be resetting the same
                    // v1 watermarks; two resetters would each see part of every peak.
                    let peak_reset = platform.events_socket().is_none();
                    let config = MonitorConfig {
                        period: req.period,
                        history: req.history,
                        reset_v1_peak: peak_reset,
                        ..MonitorConfig::default()
                    };
                    local = Some(LocalMonitor::start(config, platform.events())?);
                    MonitorInfo::InProcess {
                        period_ms: req.period.as_secs_f64() * 1000.0,
                        cgroups: tree.describe(),
                        peak_reset,
                    }
                }
            },
        }
    };
    match &info {
        MonitorInfo::None { .. } => {
            tracing::info!("monitor: {info}; resource columns stay empty")
        }
        _ => tracing::info!("monitor: {info}"),
    }
    Ok(RunMonitor {
        info,
        local,
        tally: Default::default(),
    })
}
