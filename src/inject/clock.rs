//! Monotonic time in nanoseconds and a precise absolute-deadline wait for a task.
//!
//! tokio's timers are 1 ms granular and fire 1–2 ms late. [`Alarm`] instead arms a timerfd
//! (nanosecond resolution, no timer slack) registered with the runtime's reactor, so the
//! waiting task's thread keeps serving its sockets, and polls the reactor without sleeping
//! for the last stretch before the deadline.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::time::{
    clock_gettime, timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags,
    TimerfdTimerFlags, Timespec,
};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// Nanoseconds on CLOCK_MONOTONIC (the clock `std::time::Instant` uses on Linux).
#[inline]
pub fn now_ns() -> u64 {
    let t = clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn timespec(ns: u64) -> Timespec {
    Timespec {
        tv_sec: (ns / 1_000_000_000) as i64,
        tv_nsec: (ns % 1_000_000_000) as i64,
    }
}

/// Precise waits for a task on a tokio runtime.
pub struct Alarm {
    /// `None` when no timerfd could be made: waits then sleep on tokio's timer (1 ms late)
    /// and poll for the rest, so timing degrades but the run goes on.
    timer: Option<AsyncFd<OwnedFd>>,
}

impl Alarm {
    /// An alarm registered with the current runtime's reactor. Must be called from within a
    /// runtime.
    pub fn new() -> Alarm {
        let make = || -> io::Result<AsyncFd<OwnedFd>> {
            let fd = timerfd_create(
                TimerfdClockId::Monotonic,
                TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
            )?;
            // SAFETY: the OwnedFd moves into the AsyncFd, which owns it (open, unchanged)
            // for the AsyncFd's whole life.
            unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
                .map_err(|e| e.into_parts().1)
        };
        let timer = make()
            .map_err(|e| tracing::warn!("no timerfd ({e}): dispatch timing will be coarse"))
            .ok();
        Alarm { timer }
    }

    /// Wait until `deadline_ns` (CLOCK_MONOTONIC) or until `stop` is set; other tasks of the
    /// runtime run meanwhile. Sleeps until `spin_ns` before the deadline, then yields to the
    /// runtime (which polls its reactor without blocking) until the deadline.
    /// Returns the instant it returned at, or `None` if stopped.
    pub async fn wait_until(
        &self,
        deadline_ns: u64,
        spin_ns: u64,
        stop: &AtomicBool,
    ) -> Option<u64> {
        // Wake at least every 50 ms to notice `stop` during long gaps.
        const CHECK_NS: u64 = 50_000_000;
        loop {
            if stop.load(Ordering::Relaxed) {
                return None;
            }
            let now = now_ns();
            if now >= deadline_ns {
                return Some(now);
            }
            if deadline_ns - now > spin_ns {
                let wake = (deadline_ns - spin_ns).min(now + CHECK_NS);
                self.sleep_until(wake).await;
            } else {
                tokio::task::yield_now().await;
            }
        }
    }

    async fn sleep_until(&self, wake_ns: u64) {
        let Some(timer) = &self.timer else {
            let left = wake_ns.saturating_sub(now_ns());
            return tokio::time::sleep(std::time::Duration::from_nanos(left)).await;
        };
        let spec = Itimerspec {
            it_interval: timespec(0),
            it_value: timespec(wake_ns),
        };
        // A deadline already past fires at once; an error (none is expected with these
        // arguments) just makes the caller poll.
        if timerfd_settime(timer.get_ref(), TimerfdTimerFlags::ABSTIME, &spec).is_err() {
            return tokio::task::yield_now().await;
        }
        loop {
            let Ok(mut ready) = timer.readable().await else {
                return tokio::task::yield_now().await;
            };
            // Reading the expiry count disarms the readiness; WouldBlock means it was stale.
            let mut count = [0u8; 8];
            match ready.try_io(|fd| Ok(rustix::io::read(fd.get_ref(), &mut count)?)) {
                Ok(_) => return,
                Err(_would_block) => continue,
            }
        }
    }
}

impl Default for Alarm {
    fn default() -> Self {
        Alarm::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn waits_until_deadline_and_honours_stop() {
        let stop = AtomicBool::new(false);
        let alarm = Alarm::new();
        assert!(alarm.timer.is_some());
        for spin in [0, 50_000] {
            let deadline = now_ns() + 2_000_000;
            let woke = alarm.wait_until(deadline, spin, &stop).await.unwrap();
            assert!(woke >= deadline, "woke before the deadline");
        }
        // A deadline in the past returns at once.
        assert!(alarm.wait_until(0, 0, &stop).await.is_some());
        stop.store(true, Ordering::Relaxed);
        assert_eq!(
            alarm.wait_until(now_ns() + 10_000_000_000, 0, &stop).await,
            None
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn other_tasks_run_while_waiting() {
        let stop = AtomicBool::new(false);
        let alarm = Alarm::new();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move { tx.send(now_ns()) });
        let deadline = now_ns() + 5_000_000;
        alarm.wait_until(deadline, 1_000_000, &stop).await.unwrap();
        let ran_at = rx.await.unwrap();
        assert!(ran_at < deadline, "the other task waited for the alarm");
    }

    #[test]
    fn monotonic_matches_std_instant_clock() {
        let a = now_ns();
        let i = std::time::Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let b = now_ns();
        let elapsed = i.elapsed().as_nanos() as u64;
        assert!(b - a >= 5_000_000 && (b - a).abs_diff(elapsed) < 2_000_000);
    }
}
