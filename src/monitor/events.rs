//! Client of the embedded platform's container lifecycle events: a UNIX stream socket
//! carrying one JSON object per line. On connect the platform sends a `started` event for
//! every live container (a snapshot), then live events:
//!
//! ```text
//! {"event":"started","time_us":1764000000000000,"container":"c12","node":"node0",
//!  "action":"guest/fib","pid":1234,"cgroups":{"memory":"/sys/fs/cgroup/memory/gale/c12",
//!  "cpuacct":"/sys/fs/cgroup/cpuacct/gale/c12"}}
//! ```
//!
//! `event` is `started`, `paused`, `resumed` or `removed`. On v2 `cgroups` is
//! `{"unified": …}`; `{}` when the platform runs without cgroups (the container is recorded
//! as unmeasurable). `created_us`, when present, is when the platform created the cgroups
//! (empty, so every counter was zero then). Unknown keys are ignored; unknown event kinds
//! are logged and skipped.
//!
//! Container ids are unique within one platform instance only: after a platform restart
//! `c1` is another container, which [`MonitorHandle::watch`] tells apart by its cgroup paths.

use std::collections::HashMap;
use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Deserialize;

use super::files::CgroupPaths;
use super::server::{Line, LineReader, MAX_LINE};
use super::MonitorHandle;

/// Cgroup directories by controller name, as the events and the `watch` request carry them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct CgroupMap(pub HashMap<String, PathBuf>);

impl CgroupMap {
    /// The directories the monitor samples: `memory`, `cpuacct` (also when co-mounted as
    /// `cpu,cpuacct`) and `unified`. Other controllers are ignored.
    pub fn paths(&self) -> CgroupPaths {
        let mut p = CgroupPaths::default();
        for (k, v) in &self.0 {
            if k == "unified" {
                p.unified = Some(v.clone());
            } else if k.split(',').any(|c| c == "memory") {
                p.memory = Some(v.clone());
            } else if k.split(',').any(|c| c == "cpuacct") {
                p.cpuacct = Some(v.clone());
            }
        }
        p
    }
}

/// One lifecycle event.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    /// `started`, `paused`, `resumed` or `removed`.
    pub event: String,
    /// Container id (what activation records carry in `gale.container`).
    pub container: String,
    /// When it happened, epoch µs.
    #[serde(default)]
    pub time_us: Option<u64>,
    /// Cgroup directories (on `started`).
    #[serde(default)]
    pub cgroups: CgroupMap,
    /// When the platform created the cgroups, epoch µs.
    #[serde(default)]
    pub created_us: Option<u64>,
}

/// Apply one event line to the monitor. Errors are returned as text for the log.
pub fn apply(monitor: &MonitorHandle, line: &[u8]) -> Result<(), String> {
    let ev: Event = serde_json::from_slice(line).map_err(|e| format!("bad event: {e}"))?;
    match ev.event.as_str() {
        "started" => {
            let paths = ev.cgroups.paths();
            let watched = match ev.created_us {
                Some(t) => monitor.watch_created(&ev.container, paths, t),
                None => monitor.watch(&ev.container, paths),
            };
            match watched {
                // Already removed by the time its event was read (a short-lived container and
                // a busy follower): nothing left to sample, and its removal event follows.
                Err(super::ReadError::Gone) => {
                    tracing::debug!(
                        "monitor: container {} was gone when announced",
                        ev.container
                    );
                    Ok(())
                }
                other => other.map_err(|e| format!("container {}: {e}", ev.container)),
            }
        }
        "paused" => {
            monitor.set_paused(&ev.container, true);
            Ok(())
        }
        "resumed" => {
            monitor.set_paused(&ev.container, false);
            Ok(())
        }
        "removed" => {
            monitor.removed(&ev.container);
            Ok(())
        }
        other => Err(format!("unknown event kind `{other}` (skipped)")),
    }
}

/// Longest pause between two connection attempts: a platform (re)started meanwhile is
/// followed within this, so its first containers are not missed for long.
const MAX_BACKOFF: Duration = Duration::from_millis(250);

/// Follow the events socket at `path` until `stop`: connect (retrying while the platform is
/// not there yet), apply every event, reconnect when the platform goes away. Each connection
/// starts with the platform's snapshot of its live containers, so nothing started while
/// disconnected is missed; a container removed meanwhile is noticed by its cgroup's removal.
pub fn spawn(
    monitor: MonitorHandle,
    path: &Path,
    stop: Arc<AtomicBool>,
) -> io::Result<JoinHandle<()>> {
    let path = path.to_path_buf();
    std::thread::Builder::new()
        .name("gale-monitor-events".into())
        .spawn(move || {
            let first = Duration::from_millis(10);
            let mut backoff = first;
            let mut said_waiting = false;
            while !stop.load(Ordering::SeqCst) {
                match UnixStream::connect(&path) {
                    Ok(conn) => {
                        tracing::info!("monitor: following platform events on {}", path.display());
                        backoff = first;
                        said_waiting = false;
                        if let Err(e) = follow(&monitor, conn, &stop) {
                            tracing::warn!("monitor: events {}: {e}", path.display());
                        }
                    }
                    Err(e) if !said_waiting => {
                        tracing::info!(
                            "monitor: waiting for platform events on {}: {e}",
                            path.display()
                        );
                        said_waiting = true;
                    }
                    Err(_) => {}
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        })
}

fn follow(monitor: &MonitorHandle, conn: UnixStream, stop: &AtomicBool) -> io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut lines = LineReader::new(conn, MAX_LINE);
    while !stop.load(Ordering::SeqCst) {
        match lines.read_line() {
            Ok(Line::Eof) => return Ok(()),
            Ok(Line::TooLong) => {
                tracing::warn!("monitor: event line longer than {MAX_LINE} bytes skipped")
            }
            Ok(Line::Complete) if lines.line.iter().all(u8::is_ascii_whitespace) => {}
            Ok(Line::Complete) => {
                if let Err(e) = apply(monitor, &lines.line) {
                    tracing::warn!("monitor: {e}");
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_maps() {
        let m: CgroupMap =
            serde_json::from_str(r#"{"memory":"/m/c1","cpu,cpuacct":"/c/c1","pids":"/p/c1"}"#)
                .unwrap();
        let p = m.paths();
        assert_eq!(p.memory.as_deref(), Some(Path::new("/m/c1")));
        assert_eq!(p.cpuacct.as_deref(), Some(Path::new("/c/c1")));
        assert_eq!(p.unified, None);
        let v2: CgroupMap = serde_json::from_str(r#"{"unified":"/u/c1"}"#).unwrap();
        assert!(v2.paths().unified.is_some());
        assert!(CgroupMap::default().paths().is_empty());
    }

    #[test]
    fn events_parse_forward_compatibly() {
        let e: Event = serde_json::from_str(
            r#"{"event":"started","time_us":1764000000000000,"container":"c12","node":"node0","action":"guest/fib","pid":1234,"cgroups":{},"future":[1,2]}"#,
        )
        .unwrap();
        assert_eq!((e.event.as_str(), e.container.as_str()), ("started", "c12"));
        assert_eq!(e.created_us, None);
        assert!(e.cgroups.paths().is_empty());
        assert!(serde_json::from_str::<Event>(r#"{"event":"started"}"#).is_err());
    }
}
