//! File-level helpers for cgroupfs: write a control file with a message naming it, read a
//! number, kill a cgroup's processes, remove a directory tree deepest first.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::CgroupError;

/// Write `value` to `dir/file`.
pub fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    std::fs::write(&path, value).map_err(|source| CgroupError::Io {
        what: format!("write `{value}` to"),
        path,
        source,
    })
}

/// Read `dir/file` as text.
pub fn read(dir: &Path, file: &str) -> Result<String, CgroupError> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).map_err(|source| CgroupError::Io {
        what: "read".into(),
        path,
        source,
    })
}

/// Read `dir/file` as one unsigned number.
pub fn read_u64(dir: &Path, file: &str) -> Result<u64, CgroupError> {
    let text = read(dir, file)?;
    crate::cgroup::parse_single(text.as_bytes()).ok_or_else(|| CgroupError::Io {
        what: "parse a number from".into(),
        path: dir.join(file),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, text.trim().to_string()),
    })
}

/// `mkdir`, accepting an existing directory.
pub fn mkdir(dir: &Path) -> Result<(), CgroupError> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(CgroupError::Io {
            what: "create".into(),
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Pids listed in `dir/cgroup.procs` (empty when the directory is gone).
pub fn procs(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_default()
}

/// SIGKILL every process of `dir` (a frozen cgroup must be thawed first for them to die).
pub fn kill_procs(dir: &Path) {
    for pid in procs(dir) {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
}

/// Directories under `root` (itself included), deepest first.
pub fn subtree(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(e.path());
                }
            }
        }
        out.push(dir);
    }
    // Parents were pushed before their children: reversing puts children first.
    out.reverse();
    out
}

/// Kill what runs in the subtrees of `roots` and remove them, deepest first. Every subtree is
/// thawed and killed before any is removed: with v1's separate hierarchies, a task frozen in
/// the freezer hierarchy cannot die, so removing its memory directory before thawing its
/// freezer directory would wait in vain. A cgroup whose last task is still exiting refuses
/// rmdir with EBUSY for a moment, hence the bounded retry. The first error is returned after
/// trying every root.
pub fn remove_trees<P: AsRef<Path>>(roots: &[P], patience: Duration) -> Result<(), CgroupError> {
    let trees: Vec<Vec<PathBuf>> = roots.iter().map(|r| subtree(r.as_ref())).collect();
    for dir in trees.iter().flatten() {
        thaw_v1(dir);
        kill_procs(dir);
    }
    let until = Instant::now() + patience;
    let mut first_error = None;
    for dirs in &trees {
        if let Err(e) = remove_dirs(dirs, until) {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Remove `dirs` (children first), retrying on EBUSY until `until`. Each retry thaws and
/// kills whatever is still listed, then waits a little longer than the last time (1 ms
/// doubling to 64 ms): on a loaded machine a killed process can take hundreds of
/// milliseconds to leave (its memory is freed first), and a fixed short spin gave up on
/// it, leaving the directory behind.
fn remove_dirs(dirs: &[PathBuf], until: Instant) -> Result<(), CgroupError> {
    for dir in dirs {
        let mut pause = Duration::from_millis(1);
        loop {
            match std::fs::remove_dir(dir) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(_) if Instant::now() < until => {
                    thaw_v1(dir);
                    kill_procs(dir);
                    std::thread::sleep(pause.min(until.saturating_duration_since(Instant::now())));
                    pause = (pause * 2).min(Duration::from_millis(64));
                }
                Err(source) => {
                    return Err(CgroupError::Io {
                        what: "remove".into(),
                        path: dir.clone(),
                        source,
                    })
                }
            }
        }
    }
    Ok(())
}

/// Thaw a v1 freezer cgroup (no-op elsewhere): frozen tasks cannot act on SIGKILL.
fn thaw_v1(dir: &Path) {
    if dir.join("freezer.state").exists() {
        let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
    }
    if dir.join("cgroup.freeze").exists() {
        let _ = std::fs::write(dir.join("cgroup.freeze"), "0");
    }
}

/// Whether process `pid` exists.
pub fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence and permission.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}
