//! Container cgroups whose removal outlasted its patience. A killed process stays in its
//! cgroup until it has freed its memory, and rmdir fails with EBUSY until then; on a host
//! at load 70 that took longer than the 5 s a removal waits (the soak benchmark saw
//! hundreds of directories left behind in 15 minutes). Instead of leaking them, the
//! directories are handed here: one thread retries them, killing whatever is still listed,
//! until they go or [`GIVE_UP`] passes (then a warning names each). The platform's tree is
//! removed whole at shutdown (and by the reaper if the platform dies), whatever is left.

use std::path::PathBuf;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::fs;

/// How long a deferred directory is retried before a warning gives it up.
pub const GIVE_UP: Duration = Duration::from_secs(600);
/// Pause between rounds of retries.
const ROUND: Duration = Duration::from_millis(250);

struct Queue {
    pending: Mutex<Vec<(Vec<PathBuf>, Instant)>>,
    wake: Condvar,
}

fn queue() -> &'static Queue {
    static QUEUE: OnceLock<Queue> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let q = Queue {
            pending: Mutex::new(Vec::new()),
            wake: Condvar::new(),
        };
        let started = std::thread::Builder::new()
            .name("gale-cgroup-janitor".into())
            .spawn(run);
        if let Err(e) = started {
            tracing::warn!("cannot start the cgroup janitor ({e}): busy cgroups stay behind");
        }
        q
    })
}

/// Retry removing `dirs` (one container's directories, one per hierarchy) in the background.
pub fn defer(dirs: Vec<PathBuf>) {
    let q = queue();
    let mut pending = q.pending.lock().unwrap_or_else(|p| p.into_inner());
    pending.push((dirs, Instant::now()));
    q.wake.notify_one();
}

/// Containers whose directories are still waiting to be removed.
pub fn pending() -> usize {
    queue()
        .pending
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .len()
}

fn run() {
    let q = queue();
    loop {
        let batch = {
            let mut pending = q.pending.lock().unwrap_or_else(|p| p.into_inner());
            while pending.is_empty() {
                pending = q.wake.wait(pending).unwrap_or_else(|p| p.into_inner());
            }
            std::mem::take(&mut *pending)
        };
        let mut again = Vec::new();
        for (dirs, since) in batch {
            match fs::remove_trees(&dirs, Duration::ZERO) {
                Ok(()) => {}
                Err(e) if since.elapsed() >= GIVE_UP => {
                    tracing::warn!("{e} (given up after {} s)", GIVE_UP.as_secs())
                }
                Err(_) => again.push((dirs, since)),
            }
        }
        if !again.is_empty() {
            q.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(again);
            std::thread::sleep(ROUND);
        }
    }
}
