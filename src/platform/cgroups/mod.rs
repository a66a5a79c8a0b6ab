//! Container cgroups: one tree per platform instance, one cgroup per node below it (the
//! node's capacity), one per container below that (the action's memory limit).
//!
//! Layout, in every hierarchy used (v1: memory, cpu, cpuacct, freezer, pids, separate or
//! co-mounted; v2: the unified hierarchy):
//! `<mount>/<the platform's own cgroup>/gale/<instance>/<node>/<container>`.
//! The tree starts at the platform's *own* cgroup rather than the hierarchy root so that
//! whatever limits the platform itself runs under (a systemd unit, a sandbox) also bind its
//! containers. `<instance>` is `p<pid>-<n>`, unique per platform on the machine; at creation,
//! instance directories whose pid is dead are removed (their processes killed first).
//!
//! Processes join their cgroup themselves: the platform spawns without a fork hook, so it
//! passes the `cgroup.procs` files in [`PROCS_ENV`] and the runtime writes `0` to each before
//! its ack (see `runtime::join_cgroups`). The ack thus certifies "inside the cgroup".
//!
//! Pausing has one entry point, [`pause`] / [`resume`]: the freezer when there is one, else
//! SIGSTOP / SIGCONT of the container's process group (also when there are no cgroups).

mod fs;
pub mod janitor;
pub mod reaper;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::cgroup::{Mode, Mounts};

/// Environment variable carrying the `cgroup.procs` files a runtime joins, `:`-separated.
pub const PROCS_ENV: &str = "GALE_CGROUP_PROCS";

/// v1 controllers gale uses; `memory` is required, the others are used when mounted.
const V1_CONTROLLERS: [&str; 5] = ["memory", "cpu", "cpuacct", "freezer", "pids"];
/// v2 controllers gale enables down the tree when the hierarchy offers them.
const V2_CONTROLLERS: [&str; 3] = ["memory", "cpu", "pids"];
/// CFS period for the node's CPU quota, µs (the kernel default).
const CFS_PERIOD_US: u64 = 100_000;
/// How long a freeze may take to settle before it is reported as failed.
const FREEZE_PATIENCE: Duration = Duration::from_secs(2);

static INSTANCES: AtomicU64 = AtomicU64::new(0);

/// Errors creating or driving cgroups.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// cgroups cannot be used here; the reason says why (the platform runs without them).
    #[error("cgroups unavailable: {0}")]
    Unavailable(String),
    /// A cgroupfs operation failed.
    #[error("cannot {what} {path}: {source}")]
    Io {
        /// The operation (`create`, `write \`1\` to`, …).
        what: String,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The cgroup has no freezer (pause falls back to signals via [`pause`]).
    #[error("no freezer for this cgroup")]
    NoFreezer,
    /// The freezer did not report the frozen state in time.
    #[error("{0} did not reach the frozen state within {FREEZE_PATIENCE:?}")]
    FreezeTimeout(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    V1,
    V2,
}

/// One directory of a cgroup: the controllers it serves (one, several when co-mounted, or
/// `unified`) and its path.
#[derive(Debug, Clone)]
struct Dir {
    keys: Vec<String>,
    path: PathBuf,
}

/// The same cgroup in every hierarchy used.
#[derive(Debug, Clone)]
struct Group {
    flavor: Flavor,
    dirs: Vec<Dir>,
    /// v2 only: controllers enabled for this group's children.
    v2_controllers: Vec<String>,
}

impl Group {
    /// Memory charged now and CPU time used so far.
    fn usage(&self) -> Result<Usage, CgroupError> {
        match self.flavor {
            Flavor::V1 => {
                let memory = self
                    .dir("memory")
                    .ok_or_else(|| CgroupError::Unavailable("no memory controller".into()))?;
                let memory_bytes = fs::read_u64(memory, "memory.usage_in_bytes")?;
                let cpu_ns = match self.dir("cpuacct") {
                    Some(d) => Some(fs::read_u64(d, "cpuacct.usage")?),
                    None => None,
                };
                Ok(Usage {
                    memory_bytes,
                    cpu_ns,
                })
            }
            Flavor::V2 => {
                let dir = &self.dirs[0].path;
                let memory_bytes = if self.has("memory") {
                    fs::read_u64(dir, "memory.current")?
                } else {
                    0
                };
                // cpu.stat's usage_usec is there even without the cpu controller.
                let stat = fs::read(dir, "cpu.stat")?;
                let cpu_ns =
                    crate::cgroup::parse_keyed(stat.as_bytes(), "usage_usec").map(|us| us * 1000);
                Ok(Usage {
                    memory_bytes,
                    cpu_ns,
                })
            }
        }
    }

    fn dir(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|d| d.keys.iter().any(|k| k == controller || k == "unified"))
            .map(|d| d.path.as_path())
    }

    fn has(&self, controller: &str) -> bool {
        match self.flavor {
            Flavor::V1 => self.dir(controller).is_some(),
            Flavor::V2 => self.v2_controllers.iter().any(|c| c == controller),
        }
    }

    /// Create the child `name` in every hierarchy (and, on v2, enable the controllers for
    /// its own children when `delegate`).
    fn child(&self, name: &str, delegate: bool) -> Result<Group, CgroupError> {
        // A name is joined to a path: anything but one plain component (`..`, `a/b`, an
        // absolute path) would create or write cgroups outside this tree.
        let plain = !name.is_empty() && !name.contains(['/', '\0']) && name != "." && name != "..";
        if !plain {
            return Err(CgroupError::Io {
                what: "create".into(),
                path: self.dirs[0].path.join(name),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "a cgroup name must be one plain path component",
                ),
            });
        }
        let mut dirs = Vec::with_capacity(self.dirs.len());
        for d in &self.dirs {
            let path = d.path.join(name);
            fs::mkdir(&path)?;
            dirs.push(Dir {
                keys: d.keys.clone(),
                path,
            });
        }
        let group = Group {
            flavor: self.flavor,
            dirs,
            v2_controllers: self.v2_controllers.clone(),
        };
        if delegate {
            group.enable_v2_controllers()?;
        }
        Ok(group)
    }

    fn enable_v2_controllers(&self) -> Result<(), CgroupError> {
        if self.flavor == Flavor::V2 && !self.v2_controllers.is_empty() {
            let list: Vec<String> = self
                .v2_controllers
                .iter()
                .map(|c| format!("+{c}"))
                .collect();
            fs::write(
                &self.dirs[0].path,
                "cgroup.subtree_control",
                &list.join(" "),
            )?;
        }
        Ok(())
    }

    /// Memory limit (no swap beyond it) and CPU weight; `cpus` also sets a CFS quota.
    fn limit(&self, memory_mb: u64, shares: u64, cpus: Option<f64>) -> Result<(), CgroupError> {
        // Saturating: a wrapped product would be a limit of (almost) nothing.
        let bytes = memory_mb.saturating_mul(1024 * 1024).to_string();
        match self.flavor {
            Flavor::V1 => {
                if let Some(dir) = self.dir("memory") {
                    fs::write(dir, "memory.limit_in_bytes", &bytes)?;
                    // memsw (memory + swap) only exists with swap accounting; equal to the
                    // memory limit it forbids swapping, as OpenWhisk's `--memory-swap` does.
                    if dir.join("memory.memsw.limit_in_bytes").exists() {
                        fs::write(dir, "memory.memsw.limit_in_bytes", &bytes)?;
                    }
                }
                if let Some(dir) = self.dir("cpu") {
                    fs::write(dir, "cpu.shares", &shares.max(2).to_string())?;
                    if let Some(cpus) = cpus {
                        let quota = ((cpus * CFS_PERIOD_US as f64) as u64).max(1000);
                        fs::write(dir, "cpu.cfs_period_us", &CFS_PERIOD_US.to_string())?;
                        fs::write(dir, "cpu.cfs_quota_us", &quota.to_string())?;
                    }
                }
            }
            Flavor::V2 => {
                let dir = &self.dirs[0].path;
                if self.has("memory") {
                    fs::write(dir, "memory.max", &bytes)?;
                    if dir.join("memory.swap.max").exists() {
                        fs::write(dir, "memory.swap.max", "0")?;
                    }
                }
                if self.has("cpu") {
                    fs::write(dir, "cpu.weight", &shares_to_weight(shares).to_string())?;
                    if let Some(cpus) = cpus {
                        let quota = ((cpus * CFS_PERIOD_US as f64) as u64).max(1000);
                        fs::write(dir, "cpu.max", &format!("{quota} {CFS_PERIOD_US}"))?;
                    }
                }
            }
        }
        Ok(())
    }

    fn paths(&self) -> BTreeMap<String, PathBuf> {
        let mut out = BTreeMap::new();
        for d in &self.dirs {
            for k in &d.keys {
                out.insert(k.clone(), d.path.clone());
            }
        }
        out
    }
}

/// The v1 `cpu.shares` → v2 `cpu.weight` conversion runc and crun use.
fn shares_to_weight(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

/// The platform instance's cgroup tree. Dropping it kills what still runs in it and removes
/// every directory it created.
#[derive(Debug)]
pub struct CgroupTree {
    root: Group,
    instance: String,
    /// Removes the tree if this process dies without doing it (see [`reaper`]); dropped
    /// after the tree is removed.
    reaper: Option<reaper::Reaper>,
}

impl CgroupTree {
    /// The tree for this host's cgroups, or why they cannot be used.
    pub fn create() -> Result<CgroupTree, CgroupError> {
        let mounts = Mounts::detect()
            .map_err(|e| CgroupError::Unavailable(format!("cannot read the mount table: {e}")))?;
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        CgroupTree::create_with(&mounts, &own)
    }

    /// The tree for the given mounts; `own_cgroups` is the text of `/proc/self/cgroup`
    /// (where the tree is rooted in each hierarchy).
    pub fn create_with(mounts: &Mounts, own_cgroups: &str) -> Result<CgroupTree, CgroupError> {
        let base = base_group(mounts, own_cgroups)?;
        let gale = base.child("gale", false).map_err(unavailable)?;
        if base.flavor == Flavor::V2 {
            // The platform's own cgroup holds processes (at least the platform), so it can
            // delegate controllers only if it is the root; elsewhere that is refused.
            base.enable_v2_controllers().map_err(unavailable)?;
            gale.enable_v2_controllers().map_err(unavailable)?;
        }
        remove_stale(&gale);
        let instance = format!(
            "p{}-{}",
            std::process::id(),
            INSTANCES.fetch_add(1, Ordering::Relaxed)
        );
        let root = gale.child(&instance, true)?;
        Ok(CgroupTree {
            root,
            instance,
            reaper: None,
        })
    }

    /// Have a reaper process (the gale executable `exe`) remove this tree, its containers
    /// killed, should this process die without dropping it.
    pub fn guard(&mut self, exe: &Path) -> std::io::Result<()> {
        let roots: Vec<PathBuf> = self.root.dirs.iter().map(|d| d.path.clone()).collect();
        self.reaper = Some(reaper::Reaper::spawn(exe, &roots)?);
        Ok(())
    }

    /// `p<pid>-<n>`: this tree's directory name under `gale/`.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Controller → the instance directory (v2: `unified`).
    pub fn paths(&self) -> BTreeMap<String, PathBuf> {
        self.root.paths()
    }

    /// `v1` or `v2` and the controllers whose limits are applied, for the start-up line.
    pub fn describe(&self) -> String {
        match self.root.flavor {
            Flavor::V1 => {
                let keys: Vec<String> = self.paths().into_keys().collect();
                format!("cgroup v1 ({})", keys.join(", "))
            }
            Flavor::V2 if self.root.v2_controllers.is_empty() => {
                "cgroup v2 (no controllers: no limits, freezer only)".into()
            }
            Flavor::V2 => format!("cgroup v2 ({})", self.root.v2_controllers.join(", ")),
        }
    }

    /// The cgroup of node `name`: memory limited to its capacity, CPU to `cpus` cores
    /// (CFS quota) with a proportional share.
    pub fn node(&self, name: &str, memory_mb: u64, cpus: f64) -> Result<NodeCgroup, CgroupError> {
        let group = self.root.child(name, true)?;
        group.limit(memory_mb, (1024.0 * cpus) as u64, Some(cpus))?;
        Ok(NodeCgroup { group, memory_mb })
    }
}

impl Drop for CgroupTree {
    fn drop(&mut self) {
        let roots: Vec<&Path> = self.root.dirs.iter().map(|d| d.path.as_path()).collect();
        if let Err(e) = fs::remove_trees(&roots, Duration::from_secs(2)) {
            tracing::warn!("{e}");
        }
        // Only now: the reaper must not find the tree half removed by us.
        drop(self.reaper.take());
    }
}

fn unavailable(e: CgroupError) -> CgroupError {
    match e {
        CgroupError::Io { path, source, .. } => {
            CgroupError::Unavailable(format!("cannot use {}: {source}", path.display()))
        }
        other => other,
    }
}

/// The platform's own cgroup in every hierarchy gale uses.
fn base_group(mounts: &Mounts, own_cgroups: &str) -> Result<Group, CgroupError> {
    match mounts.mode() {
        Mode::None => Err(CgroupError::Unavailable(
            "no cgroup filesystem is mounted".into(),
        )),
        Mode::V1 | Mode::Hybrid => {
            let mut dirs: Vec<Dir> = Vec::new();
            for ctrl in V1_CONTROLLERS {
                let Some(mount) = mounts.v1_controller(ctrl) else {
                    continue;
                };
                let mount_entry = mounts.v1.iter().find(|m| m.path == mount);
                let own = mount_entry
                    .and_then(|m| own_v1_path(own_cgroups, &m.controllers))
                    .unwrap_or_default();
                let path = join_own(mount, &own);
                match dirs.iter_mut().find(|d| d.path == path) {
                    Some(d) => d.keys.push(ctrl.into()),
                    None => dirs.push(Dir {
                        keys: vec![ctrl.into()],
                        path,
                    }),
                }
            }
            if !dirs.iter().any(|d| d.keys.iter().any(|k| k == "memory")) {
                return Err(CgroupError::Unavailable(
                    "no v1 memory controller is mounted".into(),
                ));
            }
            Ok(Group {
                flavor: Flavor::V1,
                dirs,
                v2_controllers: Vec::new(),
            })
        }
        Mode::V2 => {
            let mount = mounts.unified.clone().unwrap_or_default();
            let own = own_cgroups
                .lines()
                .find_map(|l| l.strip_prefix("0::"))
                .unwrap_or("/");
            let path = join_own(&mount, own);
            let offered =
                std::fs::read_to_string(path.join("cgroup.controllers")).unwrap_or_default();
            let v2_controllers = V2_CONTROLLERS
                .iter()
                .filter(|c| offered.split_whitespace().any(|o| o == **c))
                .map(|c| c.to_string())
                .collect();
            Ok(Group {
                flavor: Flavor::V2,
                dirs: vec![Dir {
                    keys: vec!["unified".into()],
                    path,
                }],
                v2_controllers,
            })
        }
    }
}

/// The path of this process in the v1 hierarchy carrying `controllers`, from
/// `/proc/self/cgroup` lines `id:ctrl,ctrl:path`.
fn own_v1_path(own_cgroups: &str, controllers: &[String]) -> Option<String> {
    own_cgroups.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let listed: Vec<&str> = ctrls.split(',').collect();
        controllers
            .iter()
            .all(|c| listed.contains(&c.as_str()))
            .then(|| path.to_string())
    })
}

fn join_own(mount: &Path, own: &str) -> PathBuf {
    let own = own.trim().trim_start_matches('/');
    if own.is_empty() {
        mount.to_path_buf()
    } else {
        mount.join(own)
    }
}

/// Remove instance directories `p<pid>-<n>` whose platform process is gone.
fn remove_stale(gale: &Group) {
    let stale: Vec<PathBuf> = gale
        .dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(&d.path).ok())
        .flat_map(|entries| entries.flatten())
        .filter(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix('p'))
                .and_then(|n| n.split('-').next())
                .and_then(|p| p.parse::<i32>().ok())
                .is_some_and(|pid| !fs::alive(pid))
        })
        .map(|e| e.path())
        .collect();
    if stale.is_empty() {
        return;
    }
    // All hierarchies at once: a task frozen in one cannot leave the others until thawed.
    match fs::remove_trees(&stale, Duration::from_secs(1)) {
        Ok(()) => tracing::info!("removed {} stale cgroup directories", stale.len()),
        Err(err) => tracing::warn!("stale cgroup left in place: {err}"),
    }
}

/// A node's cgroup; containers are created below it.
#[derive(Debug)]
pub struct NodeCgroup {
    group: Group,
    memory_mb: u64,
}

impl NodeCgroup {
    /// Controller → the node's directory.
    pub fn paths(&self) -> BTreeMap<String, PathBuf> {
        self.group.paths()
    }

    /// Memory charged now and CPU time used so far by all of the node's containers.
    pub fn usage(&self) -> Result<Usage, CgroupError> {
        self.group.usage()
    }

    /// A new container cgroup `id`, limited to `memory_mb` (no swap), with a CPU share
    /// proportional to its memory as OpenWhisk gives (1024 × memory / node memory).
    /// `pids_max` bounds its tasks (a fork bomb), when the pids controller is there.
    pub fn container(
        &self,
        id: &str,
        memory_mb: u64,
        pids_max: u32,
    ) -> Result<ContainerCgroup, CgroupError> {
        let group = self.group.child(id, false)?;
        let shares = 1024 * memory_mb / self.memory_mb.max(1);
        let cg = ContainerCgroup { group };
        cg.group.limit(memory_mb, shares, None)?;
        if cg.group.has("pids") {
            if let Some(dir) = cg.group.dir("pids") {
                fs::write(dir, "pids.max", &pids_max.max(1).to_string())?;
            }
        }
        Ok(cg)
    }
}

/// Memory and CPU used by a container so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Memory charged now, bytes (v1 `memory.usage_in_bytes`, v2 `memory.current`).
    pub memory_bytes: u64,
    /// CPU time consumed, ns (v1 `cpuacct.usage`, v2 `cpu.stat` usage_usec); `None` without
    /// a CPU accounting controller.
    pub cpu_ns: Option<u64>,
}

/// One container's cgroup. Dropping it removes it (in the background inside a tokio runtime).
#[derive(Debug)]
pub struct ContainerCgroup {
    group: Group,
}

impl ContainerCgroup {
    /// Controller → directory (v2: `unified`), as published in lifecycle events.
    pub fn paths(&self) -> BTreeMap<String, PathBuf> {
        self.group.paths()
    }

    /// The `cgroup.procs` files a process writes `0` to in order to join.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.group
            .dirs
            .iter()
            .map(|d| d.path.join("cgroup.procs"))
            .collect()
    }

    /// The value of [`PROCS_ENV`] for a process joining this cgroup.
    pub fn procs_env(&self) -> String {
        let files: Vec<String> = self
            .procs_files()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        files.join(":")
    }

    /// Pids in the cgroup (from the first hierarchy).
    pub fn pids(&self) -> Vec<i32> {
        fs::procs(&self.group.dirs[0].path)
    }

    /// Whether a freezer can pause this cgroup.
    pub fn has_freezer(&self) -> bool {
        match self.group.flavor {
            Flavor::V1 => self.group.dir("freezer").is_some(),
            Flavor::V2 => true,
        }
    }

    /// Freeze every process and wait until the kernel reports the cgroup frozen.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        let (dir, file, on, state_file, frozen) = self.freezer()?;
        fs::write(dir, file, on)?;
        let until = Instant::now() + FREEZE_PATIENCE;
        loop {
            let state = fs::read(dir, state_file)?;
            let done = match self.group.flavor {
                Flavor::V1 => state.trim() == frozen,
                Flavor::V2 => state.lines().any(|l| l.trim() == frozen),
            };
            if done {
                return Ok(());
            }
            if Instant::now() >= until {
                return Err(CgroupError::FreezeTimeout(dir.to_path_buf()));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    /// Let frozen processes run again.
    pub fn thaw(&self) -> Result<(), CgroupError> {
        let (dir, file, ..) = self.freezer()?;
        let off = match self.group.flavor {
            Flavor::V1 => "THAWED",
            Flavor::V2 => "0",
        };
        fs::write(dir, file, off)
    }

    /// (dir, control file, freeze value, state file, frozen state line).
    #[allow(clippy::type_complexity)]
    fn freezer(&self) -> Result<(&Path, &str, &str, &str, &str), CgroupError> {
        match self.group.flavor {
            Flavor::V1 => self
                .group
                .dir("freezer")
                .map(|d| (d, "freezer.state", "FROZEN", "freezer.state", "FROZEN"))
                .ok_or(CgroupError::NoFreezer),
            Flavor::V2 => Ok((
                self.group.dirs[0].path.as_path(),
                "cgroup.freeze",
                "1",
                "cgroup.events",
                "frozen 1",
            )),
        }
    }

    /// Memory charged now and CPU time used so far.
    pub fn usage(&self) -> Result<Usage, CgroupError> {
        self.group.usage()
    }

    /// Kill what still runs inside and remove the directories (blocks, up to 5 s, while
    /// dying processes leave; past that the [`janitor`] keeps trying in the background).
    pub fn remove(mut self) -> Result<(), CgroupError> {
        // Taken out, the directories are not removed a second time by Drop.
        let dirs = std::mem::take(&mut self.group.dirs);
        remove_dirs(&dirs)
    }
}

/// How long a container's removal waits for its killed process to leave before handing
/// the directories to the janitor. Generous: this runs off the runtime's threads.
const REMOVE_PATIENCE: Duration = Duration::from_secs(5);

fn remove_dirs(dirs: &[Dir]) -> Result<(), CgroupError> {
    let paths = dirs.iter().map(|d| d.path.clone()).collect();
    remove_or_defer(paths, REMOVE_PATIENCE)
}

/// Remove `paths`, waiting up to `patience`; directories still busy then (a process slow
/// to exit) go to the janitor instead of staying behind.
fn remove_or_defer(paths: Vec<PathBuf>, patience: Duration) -> Result<(), CgroupError> {
    match fs::remove_trees(&paths, patience) {
        Err(CgroupError::Io { source, path, .. }) if source.raw_os_error() == Some(libc::EBUSY) => {
            tracing::debug!(
                "{} still busy: removal continues in the background",
                path.display()
            );
            janitor::defer(paths);
            Ok(())
        }
        other => other,
    }
}

impl Drop for ContainerCgroup {
    fn drop(&mut self) {
        let dirs = std::mem::take(&mut self.group.dirs);
        if dirs.is_empty() {
            return;
        }
        let work = move || {
            if let Err(e) = remove_dirs(&dirs) {
                tracing::warn!("{e}");
            }
        };
        // The rmdir may have to wait for the killed process to leave: not on a runtime
        // worker thread.
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(work)),
            Err(_) => work(),
        }
    }
}

/// How a container was paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseMethod {
    /// The cgroup freezer.
    Freezer,
    /// SIGSTOP / SIGCONT to the process group.
    Signal,
}

/// Pause a container: its freezer when it has one, else SIGSTOP to process group `pgid`.
pub fn pause(cgroup: Option<&ContainerCgroup>, pgid: i32) -> Result<PauseMethod, CgroupError> {
    match cgroup {
        Some(cg) if cg.has_freezer() => cg.freeze().map(|()| PauseMethod::Freezer),
        _ => signal_group(pgid, libc::SIGSTOP).map(|()| PauseMethod::Signal),
    }
}

/// Resume a container paused by [`pause`].
pub fn resume(cgroup: Option<&ContainerCgroup>, pgid: i32) -> Result<PauseMethod, CgroupError> {
    match cgroup {
        Some(cg) if cg.has_freezer() => cg.thaw().map(|()| PauseMethod::Freezer),
        _ => signal_group(pgid, libc::SIGCONT).map(|()| PauseMethod::Signal),
    }
}

fn signal_group(pgid: i32, signal: i32) -> Result<(), CgroupError> {
    // SAFETY: kill(2) has no memory-safety preconditions; pgid > 0 targets one group only.
    if pgid <= 0 || unsafe { libc::kill(-pgid, signal) } == -1 {
        return Err(CgroupError::Io {
            what: format!("send signal {signal} to"),
            path: PathBuf::from(format!("process group {pgid}")),
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
