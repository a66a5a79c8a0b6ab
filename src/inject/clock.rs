//! Monotonic time in nanoseconds and a precise absolute-deadline wait.
//!
//! tokio's timers are 1 ms granular and fire 1–2 ms late, so the dispatcher thread waits with
//! `clock_nanosleep(TIMER_ABSTIME)` at 1 ns timer slack until shortly before a deadline and
//! spins the rest (measured on this kind of machine: the sleep alone wakes 20–80 µs late).

use std::num::NonZeroU64;
use std::sync::atomic::{AtomicBool, Ordering};

use rustix::thread::{clock_nanosleep_absolute, ClockId};
use rustix::time::{clock_gettime, Timespec};

/// Nanoseconds on CLOCK_MONOTONIC (the clock `std::time::Instant` uses on Linux).
#[inline]
pub fn now_ns() -> u64 {
    let t = clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// How a waiting thread reaches its deadlines.
#[derive(Debug, Clone, Copy)]
pub struct Waiter {
    /// Spin (instead of sleeping) for the last this many ns before a deadline.
    pub spin_ns: u64,
}

impl Waiter {
    /// Make the calling thread's sleeps exact (timer slack 1 ns instead of 50 µs).
    pub fn tune_current_thread() {
        // Failure only costs precision (e.g. under a seccomp filter): carry on.
        let _ = rustix::thread::set_current_timer_slack(NonZeroU64::new(1));
    }

    /// Wait until `deadline_ns` (CLOCK_MONOTONIC) or until `stop` is set.
    /// Returns the instant it returned at, or `None` if stopped.
    pub fn wait_until(&self, deadline_ns: u64, stop: &AtomicBool) -> Option<u64> {
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
            let remaining = deadline_ns - now;
            if remaining > self.spin_ns {
                let wake = deadline_ns - self.spin_ns;
                let wake = wake.min(now + CHECK_NS);
                let ts = Timespec {
                    tv_sec: (wake / 1_000_000_000) as i64,
                    tv_nsec: (wake % 1_000_000_000) as i64,
                };
                // EINTR just loops.
                let _ = clock_nanosleep_absolute(ClockId::Monotonic, &ts);
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

/// Lower the calling thread's CPU priority (nice +10). Bulk threads (trace reader, record
/// writer) work in bursts; niced, they never delay the dispatcher or the I/O threads.
pub fn yield_priority_of_current_thread() {
    // SAFETY: plain syscalls on the calling thread; failure only costs precision.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_until_deadline_and_honours_stop() {
        let stop = AtomicBool::new(false);
        let w = Waiter { spin_ns: 50_000 };
        let start = now_ns();
        let deadline = start + 2_000_000;
        let woke = w.wait_until(deadline, &stop).unwrap();
        assert!(woke >= deadline, "woke before the deadline");
        stop.store(true, Ordering::Relaxed);
        assert_eq!(w.wait_until(now_ns() + 10_000_000_000, &stop), None);
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
