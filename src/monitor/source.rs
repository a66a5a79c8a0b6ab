//! Where a run's measurements come from: a `gale monitor` daemon over its socket, or a
//! monitor in this process. Both answer the one question the injector and the generator
//! ask, [`Source::measure`]: what did this container use during this window.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::MonitorClient;
use super::{MonitorHandle, Sample, Window};

/// After a failed connection to a monitor socket, wait this long before trying again.
const RETRY: Duration = Duration::from_secs(2);
/// Longest wait of an in-process query for its container's announcement.
const LOCAL_WAIT: Duration = Duration::from_secs(1);

/// A window's measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// The figures.
    pub window: Window,
    /// The raw samples (inside the window and one on each side), when asked for.
    pub raw: Vec<Sample>,
}

/// Why a window has no measurement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Miss {
    /// The monitor answered that it has nothing for this window (unknown container, no
    /// cgroups, no samples near it).
    #[error("{0}")]
    Refused(String),
    /// The monitor could not be asked (its socket is down); tried again later.
    #[error("monitor unreachable: {0}")]
    Unreachable(String),
}

/// A monitor to ask, counting every query in its run's [`Tally`].
pub struct Source {
    via: Via,
    tally: Arc<Tally>,
}

enum Via {
    /// A `gale monitor` daemon: one persistent connection, re-made after failures.
    Socket {
        /// Its socket.
        path: PathBuf,
        /// The connection, when up.
        client: Option<MonitorClient>,
        /// No connection attempt before this.
        next_attempt: Instant,
    },
    /// A monitor in this process.
    Local(MonitorHandle),
}

impl Source {
    /// The daemon listening on `path` (connected on first use).
    pub fn socket(path: &Path, tally: Arc<Tally>) -> Source {
        let via = Via::Socket {
            path: path.to_path_buf(),
            client: None,
            next_attempt: Instant::now(),
        };
        Source { via, tally }
    }

    /// A monitor in this process.
    pub fn local(monitor: MonitorHandle, tally: Arc<Tally>) -> Source {
        Source {
            via: Via::Local(monitor),
            tally,
        }
    }

    /// What `container` used in `[start_us, end_us]` (epoch µs), once the samples closing
    /// the window are in; with its raw samples when `raw`.
    pub fn measure(
        &mut self,
        container: &str,
        start_us: u64,
        end_us: u64,
        raw: bool,
    ) -> Result<Measured, Miss> {
        let result = self.via.measure(container, start_us, end_us, raw);
        self.tally.count(result.is_ok());
        result
    }
}

impl Via {
    fn measure(
        &mut self,
        container: &str,
        start_us: u64,
        end_us: u64,
        raw: bool,
    ) -> Result<Measured, Miss> {
        match self {
            Via::Local(m) => {
                // Every container of the platform is announced on its bus: one not known yet
                // is late (the feed is behind on a busy machine), not foreign.
                let give_up = Instant::now() + LOCAL_WAIT;
                while m.container(container).is_none() && Instant::now() < give_up {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let (window, raw) = m
                    .measure(container, start_us, end_us, None, raw)
                    .map_err(|e| Miss::Refused(e.to_string()))?;
                Ok(Measured { window, raw })
            }
            Via::Socket {
                path,
                client,
                next_attempt,
            } => {
                if client.is_none() {
                    if Instant::now() < *next_attempt {
                        return Err(Miss::Unreachable(format!(
                            "{}: not connected",
                            path.display()
                        )));
                    }
                    match MonitorClient::connect(path) {
                        Ok(c) => *client = Some(c),
                        Err(e) => {
                            *next_attempt = Instant::now() + RETRY;
                            return Err(Miss::Unreachable(e.to_string()));
                        }
                    }
                }
                let Some(c) = client.as_mut() else {
                    return Err(Miss::Unreachable("not connected".into()));
                };
                match c.window_raw(container, start_us, end_us, None, raw) {
                    Ok(Ok((window, raw))) => Ok(Measured { window, raw }),
                    Ok(Err(refusal)) => Err(Miss::Refused(refusal.to_string())),
                    Err(e) => {
                        *client = None;
                        *next_attempt = Instant::now() + RETRY;
                        Err(Miss::Unreachable(format!("{}: {e}", path.display())))
                    }
                }
            }
        }
    }
}

/// How many windows a run asked for and how many were measured (for its closing log line).
#[derive(Debug, Default)]
pub struct Tally {
    asked: AtomicU64,
    measured: AtomicU64,
}

impl Tally {
    /// Count one query and its result.
    pub fn count(&self, measured: bool) {
        self.asked.fetch_add(1, Ordering::Relaxed);
        if measured {
            self.measured.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `(asked, measured)` so far.
    pub fn get(&self) -> (u64, u64) {
        (
            self.asked.load(Ordering::Relaxed),
            self.measured.load(Ordering::Relaxed),
        )
    }
}
