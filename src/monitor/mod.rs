//! `gale monitor`: sample the memory and CPU of function containers from their cgroups and
//! answer, for an activation's time window, how much it used.
//!
//! The in-process API is [`Monitor::start`] → [`MonitorHandle`]: `watch` a container's
//! cgroups, mark it `removed`, ask for a `window`. Everything else is a thin layer on it:
//! [`events`] (the embedded platform's lifecycle feed), [`discover`] (Docker-style cgroup
//! directories), [`server`] (the UNIX socket) and [`client`] (its client). [`sampler`] is the
//! one thread that reads the files ([`files`]) into each container's [`history`];
//! [`attribution`] turns a history into a [`Window`].
//!
//! Runs (`gale inject`, `gale generate`) measure through [`source`] (a daemon's socket or an
//! in-process handle), chosen by [`choose`]; [`local`] is the in-process monitor fed by the
//! embedded platform's event bus.

pub mod attribution;
pub mod choose;
pub mod client;
pub mod csv_out;
pub mod discover;
pub mod events;
pub mod files;
pub mod history;
pub mod local;
pub mod notify;
pub mod run;
pub mod sampler;
pub mod server;
pub mod source;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

pub use attribution::{Counters, Window, WINDOW_COLUMNS};
pub use files::{CgroupPaths, ReadError};
pub use history::{History, Sample, SlowSample};

/// How the monitor samples.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// Fast-tier period (memory usage, CPU time, watermark): 1 ms to 1 s.
    pub period: Duration,
    /// Slow-tier period per container (memory.stat).
    pub slow_period: Duration,
    /// How long samples are kept.
    pub history: Duration,
    /// Reset the v1 memory watermark (`memory.max_usage_in_bytes`, global to the cgroup) of
    /// containers this monitor owns (platform-fed and explicit ones; never Docker-discovered
    /// ones, whose watermark others may read).
    pub reset_v1_peak: bool,
    /// Stream every raw sample to this CSV file.
    pub csv: Option<PathBuf>,
    /// The socket's `watch` accepts only cgroup directories below these (none: no socket
    /// watch of a cgroup at all).
    pub watch_roots: Vec<PathBuf>,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            period: Duration::from_millis(10),
            slow_period: Duration::from_secs(1),
            history: Duration::from_secs(600),
            reset_v1_peak: true,
            csv: None,
            watch_roots: Vec::new(),
        }
    }
}

/// Lifecycle state of a container as the monitor knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Sampled.
    Running,
    /// Paused by its platform (still sampled: a paused container reads flat).
    Paused,
    /// Its platform said it was removed; history kept.
    Removed,
    /// Its cgroup disappeared (ENODEV); the final values are kept.
    Gone,
    /// Known, but without cgroups to sample.
    Unmeasurable,
}

/// What the monitor knows about one container.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ContainerInfo {
    /// Container id.
    pub id: String,
    /// Lifecycle state.
    pub state: State,
    /// Its cgroup directories.
    pub cgroups: CgroupPaths,
    /// When the monitor learnt of it, epoch µs.
    pub first_us: u64,
    /// When its platform created its cgroups (counters zero), epoch µs, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_us: Option<u64>,
    /// Samples held.
    pub samples: usize,
    /// Oldest and newest sample time held, epoch µs.
    pub oldest_us: Option<u64>,
    /// Newest sample time, epoch µs.
    pub latest_us: Option<u64>,
    /// Which counters it has.
    pub cpu: bool,
    /// Whether it has a memory counter.
    pub mem: bool,
    /// Whether window peaks come from a kernel watermark.
    pub peak_exact: bool,
}

/// A container the monitor tracks (shared by the sampler and the queries).
pub struct Container {
    id: String,
    meta: Mutex<Meta>,
    history: Mutex<History>,
}

struct Meta {
    state: State,
    cgroups: CgroupPaths,
    counters: Counters,
    first_us: u64,
    owned: bool,
}

impl Container {
    fn lock_meta(&self) -> std::sync::MutexGuard<'_, Meta> {
        self.meta.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Its history (locked).
    pub fn history(&self) -> std::sync::MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn set_state(&self, state: State) {
        self.lock_meta().state = state;
    }

    fn info(&self) -> ContainerInfo {
        let m = self.lock_meta();
        let h = self.history();
        ContainerInfo {
            id: self.id.clone(),
            state: m.state,
            cgroups: m.cgroups.clone(),
            first_us: m.first_us,
            created_us: h.born_us,
            samples: h.fast.len(),
            oldest_us: h.fast.front().map(|s| s.t_us),
            latest_us: h.latest().map(|s| s.t_us),
            cpu: m.counters.cpu,
            mem: m.counters.mem,
            peak_exact: m.counters.peak,
        }
    }
}

/// Why a window query has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// No container with that id is (or was, within the history) known.
    #[error("unknown container `{0}`")]
    UnknownContainer(String),
    /// The container has no cgroups to sample.
    #[error("container `{0}` is not measurable (no cgroups)")]
    Unmeasurable(String),
    /// No sample near the window (before the first or after the last one kept).
    #[error("no samples of `{0}` near the window")]
    NoData(String),
}

/// Sampler statistics.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stats {
    /// Fast-tier period, µs.
    pub period_us: u64,
    /// Containers sampled now.
    pub sampled: usize,
    /// Containers known (including removed ones still in the history).
    pub known: usize,
    /// Ticks served.
    pub ticks: u64,
    /// Ticks missed (the sampler was late by more than a period).
    pub missed_ticks: u64,
    /// Container-samples taken (fast tier).
    pub container_samples: u64,
    /// Slow-tier reads.
    pub slow_samples: u64,
    /// Sampler thread CPU time, ns, as of the sampler's latest tick that is a multiple of
    /// [`sampler::CPU_PUBLISH_TICKS`] (or its end).
    pub sampler_cpu_ns: u64,
    /// Tick lateness p50, µs.
    pub lateness_p50_us: u64,
    /// Tick lateness p99, µs.
    pub lateness_p99_us: u64,
    /// Tick lateness max, µs.
    pub lateness_max_us: u64,
    /// Raw-sample CSV rows dropped because the writer fell behind.
    pub csv_dropped: u64,
}

pub(crate) struct Shared {
    config: MonitorConfig,
    containers: RwLock<HashMap<String, Arc<Container>>>,
    commands: Mutex<Sender<sampler::Command>>,
    stop: AtomicBool,
    stats: sampler::SharedStats,
    csv_dropped: AtomicU64,
}

/// The running monitor: a sampler thread and the registry of containers.
pub struct Monitor;

/// A handle on a running monitor; cheap to clone, usable from any thread.
#[derive(Clone)]
pub struct MonitorHandle {
    shared: Arc<Shared>,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

/// Wall-clock now, epoch µs (CLOCK_REALTIME: the clock of activation records).
pub fn now_us() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Realtime);
    t.tv_sec as u64 * 1_000_000 + t.tv_nsec as u64 / 1000
}

/// A container's window from the samples held now, with its raw samples when `raw` (one
/// history lock for both).
fn attribute(
    c: &Container,
    start_us: u64,
    end_us: u64,
    raw: bool,
) -> Result<(Window, Vec<Sample>), WindowError> {
    let (counters, unmeasurable) = {
        let m = c.lock_meta();
        (
            m.counters,
            m.state == State::Unmeasurable || m.cgroups.is_empty(),
        )
    };
    if unmeasurable {
        return Err(WindowError::Unmeasurable(c.id.clone()));
    }
    let h = c.history();
    let window = attribution::window(&h, counters, start_us, end_us)
        .ok_or_else(|| WindowError::NoData(c.id.clone()))?;
    let samples = if raw {
        h.around(start_us, end_us).copied().collect()
    } else {
        Vec::new()
    };
    Ok((window, samples))
}

impl Monitor {
    /// Start the sampler thread (and the CSV writer if configured).
    pub fn start(config: MonitorConfig) -> std::io::Result<MonitorHandle> {
        let (tx, rx) = std::sync::mpsc::channel();
        let csv = match &config.csv {
            Some(path) => Some(csv_out::CsvSink::create(path)?),
            None => None,
        };
        let shared = Arc::new(Shared {
            config,
            containers: RwLock::new(HashMap::new()),
            commands: Mutex::new(tx),
            stop: AtomicBool::new(false),
            stats: sampler::SharedStats::default(),
            csv_dropped: AtomicU64::new(0),
        });
        let mut threads = Vec::new();
        let csv_tx = match csv {
            Some(sink) => {
                let (tx, thread) = sink.spawn()?;
                threads.push(thread);
                Some(tx)
            }
            None => None,
        };
        let s = shared.clone();
        threads.push(
            std::thread::Builder::new()
                .name("gale-sampler".into())
                .spawn(move || sampler::run(s, rx, csv_tx))?,
        );
        Ok(MonitorHandle {
            shared,
            threads: Arc::new(Mutex::new(threads)),
        })
    }
}

impl MonitorHandle {
    /// The configuration it runs with.
    pub fn config(&self) -> &MonitorConfig {
        &self.shared.config
    }

    /// Start sampling a container the caller owns (platform-fed or explicit). Calling it
    /// again for a known id adds cgroup directories it lacked (v1 controllers appear one by
    /// one). The first sample is taken before this returns.
    pub fn watch(&self, id: &str, cgroups: CgroupPaths) -> Result<(), ReadError> {
        self.watch_as(id, cgroups, true, None)
    }

    /// [`watch`](Self::watch) a container whose cgroups its platform created empty at
    /// `created_us` (epoch µs): every counter was zero then, so windows that start before the
    /// first sample (a cold start's) are still covered.
    pub fn watch_created(
        &self,
        id: &str,
        cgroups: CgroupPaths,
        created_us: u64,
    ) -> Result<(), ReadError> {
        self.watch_as(id, cgroups, true, Some(created_us))
    }

    /// [`watch`](Self::watch) for a container the monitor only observes (Docker-discovered):
    /// its v1 watermark is never reset.
    pub fn observe(&self, id: &str, cgroups: CgroupPaths) -> Result<(), ReadError> {
        self.watch_as(id, cgroups, false, None)
    }

    fn new_container(&self, id: &str, cgroups: &CgroupPaths, owned: bool) -> Arc<Container> {
        Arc::new(Container {
            id: id.to_string(),
            meta: Mutex::new(Meta {
                state: State::Running,
                cgroups: cgroups.clone(),
                counters: Counters::default(),
                first_us: now_us(),
                owned,
            }),
            history: Mutex::new(History::new(self.shared.config.history.as_micros() as u64)),
        })
    }

    fn send(&self, command: sampler::Command) {
        let _ = self
            .shared
            .commands
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(command);
    }

    fn watch_as(
        &self,
        id: &str,
        cgroups: CgroupPaths,
        owned: bool,
        born_us: Option<u64>,
    ) -> Result<(), ReadError> {
        let mut map = self
            .shared
            .containers
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let known = map.get(id).cloned();
        // The same container again: fill in directories it lacked. Anything else under a
        // known id (a platform restarted with fresh ids, a removed container's id reused,
        // other directories) is a new container: its history must not mix with the old one.
        let same = known.as_ref().filter(|c| {
            let m = c.lock_meta();
            matches!(m.state, State::Running | State::Paused) && m.cgroups.compatible(&cgroups)
        });
        let container = match same {
            Some(c) => {
                let mut m = c.lock_meta();
                if let Some(b) = born_us {
                    c.history().born_us.get_or_insert(b);
                }
                if !m.cgroups.merge(&cgroups) {
                    return Ok(());
                }
                m.owned |= owned;
                drop(m);
                c.clone()
            }
            None => {
                if let Some(old) = known {
                    if matches!(old.lock_meta().state, State::Running | State::Paused) {
                        old.set_state(State::Removed);
                        self.send(sampler::Command::Remove(old));
                    }
                }
                let c = self.new_container(id, &cgroups, owned);
                c.history().born_us = born_us;
                map.insert(id.to_string(), c.clone());
                c
            }
        };
        drop(map);
        let (paths, owned) = {
            let m = container.lock_meta();
            (m.cgroups.clone(), m.owned)
        };
        if paths.is_empty() {
            container.set_state(State::Unmeasurable);
            return Ok(());
        }
        let target = match sampler::Target::open(
            container.clone(),
            &paths,
            owned && self.shared.config.reset_v1_peak,
        ) {
            Ok(t) => t,
            Err(e) => {
                container.set_state(if matches!(e, ReadError::Gone) {
                    State::Gone
                } else {
                    State::Unmeasurable
                });
                return Err(e);
            }
        };
        container.lock_meta().counters = target.counters();
        self.send(sampler::Command::Add(Box::new(target)));
        Ok(())
    }

    /// Set a container's lifecycle state from its platform (paused, resumed).
    pub fn set_paused(&self, id: &str, paused: bool) {
        if let Some(c) = self.container(id) {
            let mut m = c.lock_meta();
            if matches!(m.state, State::Running | State::Paused) {
                m.state = if paused {
                    State::Paused
                } else {
                    State::Running
                };
            }
        }
    }

    /// The container was removed by its platform: one last sample, then sampling stops.
    /// Its history stays for the configured age.
    pub fn removed(&self, id: &str) {
        if let Some(c) = self.container(id) {
            let was = {
                let mut m = c.lock_meta();
                let was = m.state;
                if matches!(was, State::Running | State::Paused | State::Unmeasurable) {
                    m.state = State::Removed;
                }
                was
            };
            if matches!(was, State::Running | State::Paused) {
                self.send(sampler::Command::Remove(c));
            }
        }
    }

    /// A known container by id.
    pub fn container(&self, id: &str) -> Option<Arc<Container>> {
        self.shared
            .containers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// All known containers.
    pub fn containers(&self) -> Vec<ContainerInfo> {
        let list: Vec<Arc<Container>> = self
            .shared
            .containers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        let mut infos: Vec<ContainerInfo> = list.iter().map(|c| c.info()).collect();
        infos.sort_by(|a, b| a.id.cmp(&b.id));
        infos
    }

    /// Information on one container.
    pub fn info(&self, id: &str) -> Option<ContainerInfo> {
        self.container(id).map(|c| c.info())
    }

    /// The newest fast and slow samples of a container.
    pub fn latest(&self, id: &str) -> Option<(Option<Sample>, Option<SlowSample>)> {
        let c = self.container(id)?;
        let h = c.history();
        Some((h.latest().copied(), h.slow.back().copied()))
    }

    /// What a container used in `[start_us, end_us]` (epoch µs), from the samples held now.
    pub fn window(&self, id: &str, start_us: u64, end_us: u64) -> Result<Window, WindowError> {
        let c = self
            .container(id)
            .ok_or_else(|| WindowError::UnknownContainer(id.to_string()))?;
        attribute(&c, start_us, end_us, false).map(|(w, _)| w)
    }

    /// The raw fast samples of a window: those inside it and the one on each side, oldest
    /// first (what [`window`](Self::window) computed from). Empty for an unknown container.
    pub fn samples_around(&self, id: &str, start_us: u64, end_us: u64) -> Vec<Sample> {
        self.container(id).map_or_else(Vec::new, |c| {
            c.history().around(start_us, end_us).copied().collect()
        })
    }

    /// [`window`](Self::window), after waiting (at most `max_wait`) until samples one period
    /// past the window's end are in (the samples closing the window, and the one after them
    /// that tells whether the container went idle).
    pub fn window_wait(
        &self,
        id: &str,
        start_us: u64,
        end_us: u64,
        max_wait: Duration,
    ) -> Result<Window, WindowError> {
        self.measure(id, start_us, end_us, Some(max_wait), false)
            .map(|(w, _)| w)
    }

    /// The one query of runs and of the socket: [`window_wait`](Self::window_wait) with
    /// `wait` (by default two periods and 10 ms: the closing samples of a window that just
    /// ended are due within a period), and, when `raw`, the samples it was computed from
    /// (those of [`samples_around`](Self::samples_around), read under the same lock).
    pub fn measure(
        &self,
        id: &str,
        start_us: u64,
        end_us: u64,
        wait: Option<Duration>,
        raw: bool,
    ) -> Result<(Window, Vec<Sample>), WindowError> {
        let period = self.shared.config.period;
        let give_up =
            std::time::Instant::now() + wait.unwrap_or(period * 2 + Duration::from_millis(10));
        let step = (period / 2).max(Duration::from_micros(500));
        let past_end = end_us + period.as_micros() as u64;
        loop {
            let Some(c) = self.container(id) else {
                return Err(WindowError::UnknownContainer(id.to_string()));
            };
            let live = matches!(c.lock_meta().state, State::Running | State::Paused);
            let have_end = c.history().latest().is_some_and(|s| s.t_us >= past_end);
            if !live || have_end || std::time::Instant::now() >= give_up {
                return attribute(&c, start_us, end_us, raw);
            }
            std::thread::sleep(step);
        }
    }

    /// Ticks the sampler has served: one atomic load, for callers that only watch progress
    /// (see [`stats`](Self::stats) for everything).
    pub fn ticks(&self) -> u64 {
        self.shared.stats.ticks()
    }

    /// Sampler statistics.
    pub fn stats(&self) -> Stats {
        let mut s = self.shared.stats.snapshot();
        s.period_us = self.shared.config.period.as_micros() as u64;
        s.known = self
            .shared
            .containers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .len();
        s.csv_dropped = self.shared.csv_dropped.load(Ordering::Relaxed);
        s
    }

    /// Stop the sampler (and flush the CSV file). Idempotent.
    pub fn shutdown(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let threads: Vec<_> =
            std::mem::take(&mut *self.threads.lock().unwrap_or_else(|p| p.into_inner()));
        for t in threads {
            let _ = t.join();
        }
    }

    /// Whether [`shutdown`](Self::shutdown) was called.
    pub fn is_stopped(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    /// Drop removed and gone containers whose newest sample is older than the history age.
    pub(crate) fn purge(&self, now_us: u64) {
        let age = self.shared.config.history.as_micros() as u64;
        let mut map = self
            .shared
            .containers
            .write()
            .unwrap_or_else(|p| p.into_inner());
        map.retain(|_, c| {
            let (dead, first_us) = {
                let m = c.lock_meta();
                (matches!(m.state, State::Removed | State::Gone), m.first_us)
            };
            let latest = c.history().latest().map_or(first_us, |s| s.t_us);
            !(dead && latest + age < now_us)
        });
    }
}
