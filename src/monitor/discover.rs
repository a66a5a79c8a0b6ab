//! Finding containers without a platform feed: Docker-style cgroup directories (so the
//! monitor works beside a real OpenWhisk invoker) and explicit `--cgroup` paths.
//!
//! Docker puts a container in `<root>/<64 hex id>` (cgroupfs driver) or
//! `<root>/docker-<64 hex id>.scope` (systemd driver), with root `docker` or `system.slice`,
//! in every v1 controller hierarchy or once in the unified one. inotify on those roots sees
//! each mkdir as it happens (the directory exists before the container's process is moved
//! into it, so the first sample comes before the first activation); a slow rescan catches
//! whatever inotify could not (a root created later, a full event queue).

use std::collections::HashMap;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rustix::fs::inotify;

use super::files::CgroupPaths;
use super::MonitorHandle;
use crate::cgroup::Mounts;

/// The container id in a Docker-style directory name: 64 hex digits, alone or as
/// `<prefix>-<id>.scope`.
pub fn docker_id(name: &str) -> Option<&str> {
    let is_id = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if is_id(name) {
        return Some(name);
    }
    let stem = name.strip_suffix(".scope")?;
    let id = &stem[stem.rfind('-')? + 1..];
    is_id(id).then_some(id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hierarchy {
    Memory,
    Cpuacct,
    Unified,
}

fn paths_for(h: Hierarchy, dir: PathBuf) -> CgroupPaths {
    let mut p = CgroupPaths::default();
    match h {
        Hierarchy::Memory => p.memory = Some(dir),
        Hierarchy::Cpuacct => p.cpuacct = Some(dir),
        Hierarchy::Unified => p.unified = Some(dir),
    }
    p
}

/// The hierarchies containers are sampled in: the v1 memory and cpuacct ones when mounted,
/// else the unified one.
fn hierarchies(mounts: &Mounts) -> Vec<(Hierarchy, PathBuf)> {
    let mut out = Vec::new();
    if let Some(m) = mounts.v1_controller("memory") {
        out.push((Hierarchy::Memory, m.to_path_buf()));
    }
    if let Some(c) = mounts.v1_controller("cpuacct") {
        out.push((Hierarchy::Cpuacct, c.to_path_buf()));
    }
    if out.is_empty() {
        if let Some(u) = &mounts.unified {
            out.push((Hierarchy::Unified, u.clone()));
        }
    }
    out
}

/// Resolve a `--cgroup [ID=]PATH` argument. PATH is either a directory under a cgroup mount
/// (`/sys/fs/cgroup/memory/gale/x`) or a path inside the hierarchies (`/gale/x`); the
/// container is then sampled in every hierarchy where that directory exists. ID defaults
/// to the path inside the hierarchies.
pub fn resolve_explicit(mounts: &Mounts, arg: &str) -> Result<(String, CgroupPaths), String> {
    let (id, path) = match arg.split_once('=') {
        Some((id, path)) if !id.is_empty() && !id.contains('/') => (Some(id), path),
        _ => (None, arg),
    };
    let hier = hierarchies(mounts);
    let mut all: Vec<&Path> = mounts.v1.iter().map(|m| m.path.as_path()).collect();
    all.extend(mounts.unified.as_deref());
    // The longest mount prefix wins (`/sys/fs/cgroup/unified` over a v2 `/sys/fs/cgroup`).
    let rel = all
        .iter()
        .filter_map(|m| Path::new(path).strip_prefix(m).ok())
        .min_by_key(|r| r.as_os_str().len())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(path.trim_start_matches('/')));
    let mut paths = CgroupPaths::default();
    for (h, mount) in &hier {
        let dir = mount.join(&rel);
        if dir.is_dir() {
            paths.merge(&paths_for(*h, dir));
        }
    }
    if paths.is_empty() {
        return Err(format!(
            "--cgroup {arg}: no directory `{}` in the cgroup hierarchies ({})",
            rel.display(),
            hier.iter()
                .map(|(_, m)| m.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let id = id.map_or_else(|| format!("/{}", rel.display()), str::to_string);
    Ok((id, paths))
}

/// Docker-style discovery settings.
#[derive(Debug, Clone)]
pub struct DockerDiscovery {
    /// Parent directories inside each hierarchy (default `docker`, `system.slice`).
    pub roots: Vec<String>,
    /// Full rescan period.
    pub rescan: Duration,
}

impl Default for DockerDiscovery {
    fn default() -> Self {
        DockerDiscovery {
            roots: vec!["docker".into(), "system.slice".into()],
            rescan: Duration::from_secs(5),
        }
    }
}

struct Watcher {
    monitor: MonitorHandle,
    inotify: OwnedFd,
    dirs: Vec<(Hierarchy, PathBuf)>,
    wds: HashMap<i32, usize>,
    watched: Vec<bool>,
}

impl Watcher {
    fn found(&self, h: Hierarchy, dir: &Path, name: &str) {
        if let Some(id) = docker_id(name) {
            if let Err(e) = self.monitor.observe(id, paths_for(h, dir.join(name))) {
                tracing::debug!("monitor: docker container {id}: {e}");
            }
        }
    }

    /// Add missing watches and observe every container directory present.
    fn rescan(&mut self) {
        for i in 0..self.dirs.len() {
            let (h, dir) = self.dirs[i].clone();
            if !self.watched[i] {
                let flags = inotify::WatchFlags::CREATE
                    | inotify::WatchFlags::MOVED_TO
                    | inotify::WatchFlags::ONLYDIR;
                if let Ok(wd) = inotify::add_watch(&self.inotify, &dir, flags) {
                    self.wds.insert(wd, i);
                    self.watched[i] = true;
                }
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                if let Some(name) = e.file_name().to_str() {
                    self.found(h, &dir, name);
                }
            }
        }
    }

    /// Handle pending events; true when events were lost and a rescan is due now.
    fn drain(&mut self, buf: &mut [MaybeUninit<u8>]) -> bool {
        let mut lost = false;
        let mut reader = inotify::Reader::new(self.inotify.as_fd(), buf);
        loop {
            let ev = match reader.next() {
                Ok(ev) => ev,
                Err(_) => return lost,
            };
            if ev.events().contains(inotify::ReadFlags::QUEUE_OVERFLOW) {
                lost = true;
                continue;
            }
            if ev.events().contains(inotify::ReadFlags::IGNORED) {
                // The root itself went away; watch it again when it comes back.
                if let Some(i) = self.wds.remove(&ev.wd()) {
                    self.watched[i] = false;
                }
                continue;
            }
            let (Some(&i), Some(name)) = (self.wds.get(&ev.wd()), ev.file_name()) else {
                continue;
            };
            if let Ok(name) = name.to_str() {
                let (h, dir) = self.dirs[i].clone();
                self.found(h, &dir, name);
            }
        }
    }
}

/// Watch the Docker-style roots of every sampled hierarchy until `stop`.
pub fn spawn_docker(
    monitor: MonitorHandle,
    mounts: &Mounts,
    cfg: DockerDiscovery,
    stop: Arc<AtomicBool>,
) -> io::Result<JoinHandle<()>> {
    let dirs: Vec<(Hierarchy, PathBuf)> = hierarchies(mounts)
        .into_iter()
        .flat_map(|(h, m)| {
            cfg.roots
                .iter()
                .map(move |r| (h, m.join(r)))
                .collect::<Vec<_>>()
        })
        .collect();
    if dirs.is_empty() {
        return Err(io::Error::other(
            "no cgroup hierarchy to discover containers in",
        ));
    }
    let fd = inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK)?;
    let mut w = Watcher {
        monitor,
        inotify: fd,
        watched: vec![false; dirs.len()],
        dirs,
        wds: HashMap::new(),
    };
    tracing::info!(
        "monitor: discovering Docker-style containers in {}",
        w.dirs
            .iter()
            .map(|(_, d)| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    w.rescan();
    std::thread::Builder::new()
        .name("gale-monitor-docker".into())
        .spawn(move || {
            super::sampler::favour_current_thread();
            let mut buf = vec![MaybeUninit::<u8>::uninit(); 64 * 1024];
            let mut next_scan = Instant::now() + cfg.rescan;
            while !stop.load(Ordering::SeqCst) {
                let mut fds = [rustix::event::PollFd::new(
                    &w.inotify,
                    rustix::event::PollFlags::IN,
                )];
                let timeout = rustix::event::Timespec {
                    tv_sec: 0,
                    tv_nsec: 200_000_000,
                };
                let _ = rustix::event::poll(&mut fds, Some(&timeout));
                let lost = w.drain(&mut buf);
                if lost || Instant::now() >= next_scan {
                    w.rescan();
                    next_scan = Instant::now() + cfg.rescan;
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_ids_in_both_driver_layouts() {
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert_eq!(docker_id(id), Some(id));
        assert_eq!(docker_id(&format!("docker-{id}.scope")), Some(id));
        assert_eq!(docker_id(&format!("cri-containerd-{id}.scope")), Some(id));
        assert_eq!(docker_id("docker-abc.scope"), None);
        assert_eq!(docker_id("cgroup.procs"), None);
        assert_eq!(docker_id(&id[1..]), None);
    }
}
