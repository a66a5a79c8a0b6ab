//! The reaper: a small process (`gale __runtime gale:reaper`) that outlives a platform killed
//! without a chance to clean up (kill -9, an OOM kill) and removes its cgroup tree.
//!
//! A paused container is frozen: its processes cannot act on the parent-death SIGKILL until
//! thawed, so without help they would stay, frozen with their cgroups, until another
//! platform starts in the same parent. The reaper holds the read end of a pipe whose write
//! end only the platform has (close-on-exec, so no action inherits it): when the platform
//! dies, the kernel closes that end, the reaper's read returns end-of-file, and it thaws,
//! kills and removes every directory of the instance tree, then exits. An orderly shutdown
//! removes the tree itself first; the reaper then finds nothing to do.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The internal runtime kind that runs the reaper.
pub const REAPER_KIND: &str = "gale:reaper";
/// Environment variable carrying the instance directories to remove, `:`-separated.
pub const REAP_ENV: &str = "GALE_REAP";

/// How long the reaper retries removing a tree whose processes are still exiting.
const PATIENCE: Duration = Duration::from_secs(10);

/// The platform's side: dropping it closes the pipe (the reaper then exits).
#[derive(Debug)]
pub struct Reaper {
    pipe: Option<OwnedFd>,
    child: Option<Child>,
}

impl Reaper {
    /// Start the reaper of `roots` with the gale executable `exe`.
    pub fn spawn(exe: &Path, roots: &[PathBuf]) -> std::io::Result<Reaper> {
        let mut fds = [0i32; 2];
        // SAFETY: fds is a valid two-element array for pipe2 to fill.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded: both descriptors are open and owned by nobody else.
        let (read_end, write_end) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let list: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
        use std::os::unix::process::CommandExt;
        let child = Command::new(exe)
            .args(["__runtime", REAPER_KIND])
            .env_clear()
            .env(REAP_ENV, list.join(":"))
            // The read end becomes its stdin (dup2 clears close-on-exec there only).
            .stdin(Stdio::from(read_end))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            // Its own group: a signal to the platform's group (Ctrl-C) does not reach it.
            .process_group(0)
            .spawn()?;
        Ok(Reaper {
            pipe: Some(write_end),
            child: Some(child),
        })
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        drop(self.pipe.take());
        if let Some(mut child) = self.child.take() {
            // It exits at once once the tree is gone; collect it without blocking the drop.
            match child.try_wait() {
                Ok(Some(_)) => {}
                _ => {
                    let _ = std::thread::Builder::new()
                        .name("gale-reaper-wait".into())
                        .spawn(move || child.wait());
                }
            }
        }
    }
}

/// The reaper process: wait for the platform to go, then remove its tree. Returns the exit
/// code.
pub fn main() -> i32 {
    // Interrupts meant for the platform's terminal or unit must not end the reaper first.
    // SAFETY: setting signal dispositions to SIG_IGN has no memory-safety preconditions.
    unsafe {
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE] {
            libc::signal(sig, libc::SIG_IGN);
        }
    }
    let roots: Vec<PathBuf> = std::env::var(REAP_ENV)
        .unwrap_or_default()
        .split(':')
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .collect();
    let mut stdin = std::io::stdin().lock();
    let mut buf = [0u8; 64];
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    let present: Vec<&PathBuf> = roots.iter().filter(|r| r.exists()).collect();
    if present.is_empty() {
        return 0;
    }
    match super::fs::remove_trees(&present, PATIENCE) {
        Ok(()) => {
            eprintln!(
                "gale reaper: the platform ended without cleaning up; removed its containers and cgroups ({})",
                present[0].display()
            );
            0
        }
        Err(e) => {
            eprintln!("gale reaper: {e}");
            1
        }
    }
}
