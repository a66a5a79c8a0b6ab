//! `gale monitor` as a daemon: the monitor, its discovery sources, the socket, systemd
//! readiness and watchdog, and a graceful stop on SIGTERM/SIGINT.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::discover::{self, DockerDiscovery};
use super::notify::Notifier;
use super::server::Server;
use super::{events, Monitor, MonitorConfig};
use crate::cgroup::Mounts;
use crate::config::ConfigError;

/// The socket path when none is given: `/run/gale/monitor.sock` for root, else
/// `$XDG_RUNTIME_DIR/gale/monitor.sock` (or `/tmp/gale-<uid>/monitor.sock` without it).
pub fn default_socket() -> PathBuf {
    let uid = rustix::process::getuid();
    if uid.is_root() {
        return PathBuf::from("/run/gale/monitor.sock");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("gale/monitor.sock"),
        _ => PathBuf::from(format!("/tmp/gale-{}/monitor.sock", uid.as_raw())),
    }
}

fn usage(message: String) -> anyhow::Error {
    anyhow::Error::new(ConfigError {
        file: None,
        line: None,
        message,
    })
}

/// `gale monitor`'s settings.
#[derive(Debug, Clone)]
pub struct DaemonSettings {
    /// Socket to answer queries on (default: [`default_socket`]).
    pub socket: Option<PathBuf>,
    /// Sampling period of the fast counters.
    pub period: Duration,
    /// Period of the memory.stat read per container.
    pub slow_period: Duration,
    /// How long samples are kept.
    pub history: Duration,
    /// Follow the embedded platform's lifecycle events on this socket.
    pub events: Option<PathBuf>,
    /// Discover Docker-style container cgroups.
    pub docker: bool,
    /// Parent directories of Docker-style cgroups inside each hierarchy.
    pub docker_roots: Vec<String>,
    /// Full rescan period of the Docker-style directories.
    pub rescan: Duration,
    /// Cgroups named on the command line, `[ID=]PATH`.
    pub cgroups: Vec<String>,
    /// Write every raw sample to this CSV file.
    pub csv: Option<PathBuf>,
    /// Never reset v1 memory.max_usage_in_bytes.
    pub no_peak_reset: bool,
    /// Directories below which socket clients may `watch` cgroups (empty: none).
    pub watch_roots: Vec<PathBuf>,
}

/// Run `gale monitor` until SIGTERM or SIGINT.
pub fn run_cli(args: DaemonSettings) -> anyhow::Result<ExitCode> {
    if args.slow_period < args.period {
        return Err(usage(
            "--slow-period must not be shorter than --period".into(),
        ));
    }
    let mounts = Mounts::detect().context("cannot read /proc/self/mountinfo")?;
    tracing::info!(
        "cgroup layout: {} (v1: {}; unified: {})",
        mounts.mode(),
        mounts.v1.len(),
        mounts
            .unified
            .as_ref()
            .map_or("none".into(), |p| p.display().to_string())
    );
    let explicit = args
        .cgroups
        .iter()
        .map(|a| discover::resolve_explicit(&mounts, a).map_err(usage))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if explicit.is_empty() && args.events.is_none() && !args.docker {
        tracing::warn!("no container source (--events, --docker or --cgroup): containers come only from `watch` requests");
    }

    let monitor = Monitor::start(MonitorConfig {
        period: args.period,
        slow_period: args.slow_period,
        history: args.history,
        reset_v1_peak: !args.no_peak_reset,
        csv: args.csv.clone(),
        watch_roots: args.watch_roots.clone(),
    })
    .context("cannot start the sampler")?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    for (id, paths) in explicit {
        monitor
            .watch(&id, paths)
            .with_context(|| format!("cannot sample cgroup {id}"))?;
        tracing::info!("monitor: sampling {id}");
    }
    let mut threads = Vec::new();
    if let Some(path) = &args.events {
        threads.push(events::spawn(monitor.clone(), path, stop.clone())?);
    }
    if args.docker {
        let cfg = DockerDiscovery {
            roots: args.docker_roots.clone(),
            rescan: args.rescan,
        };
        threads.push(discover::spawn_docker(
            monitor.clone(),
            &mounts,
            cfg,
            stop.clone(),
        )?);
    }
    let socket = args.socket.clone().unwrap_or_else(default_socket);
    let server = Server::start(monitor.clone(), &socket)
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    tracing::info!(
        "monitor: listening on {} (period {:?}, slow tier {:?}, history {:?})",
        socket.display(),
        args.period,
        args.slow_period,
        args.history
    );

    let notifier = Notifier::from_env();
    notifier.notify("READY=1");
    let watchdog = Notifier::watchdog_interval();
    let mut next_ping = Instant::now();
    let mut next_status = Instant::now();
    let mut last_ticks = 0;
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(50));
        let now = Instant::now();
        if let Some(every) = watchdog.filter(|_| now >= next_ping) {
            // Only ping while the sampler makes progress: a stuck sampler should be
            // restarted by systemd.
            let ticks = monitor.ticks();
            if ticks > last_ticks {
                notifier.notify("WATCHDOG=1");
                next_ping = now + every;
                last_ticks = ticks;
            }
        }
        if now >= next_status {
            let s = monitor.stats();
            notifier.notify(&format!(
                "STATUS={} containers sampled, {} missed ticks, lateness p99 {} µs",
                s.sampled, s.missed_ticks, s.lateness_p99_us
            ));
            next_status = now + Duration::from_secs(10);
        }
    }
    notifier.notify("STOPPING=1");
    tracing::info!("monitor: stopping");
    server.shutdown();
    for t in threads {
        let _ = t.join();
    }
    monitor.shutdown();
    let s = monitor.stats();
    tracing::info!(
        "monitor: {} ticks, {} missed, {} container-samples, sampler CPU {:.1} ms",
        s.ticks,
        s.missed_ticks,
        s.container_samples,
        s.sampler_cpu_ns as f64 / 1e6
    );
    Ok(ExitCode::SUCCESS)
}
