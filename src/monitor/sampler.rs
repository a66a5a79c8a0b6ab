//! The sampler: one thread, woken by a periodic timerfd on absolute CLOCK_MONOTONIC
//! deadlines (no drift), reads every container's fast tier each tick and a few containers'
//! slow tier, spread so that each is read about once per slow period.
//!
//! A tick that comes late by more than a period is not caught up: the timerfd's expiry
//! count says how many were missed, they are counted, and the next sample carries the count.
//! The loop allocates nothing per sample: fds stay open, one buffer is reused, samples are
//! fixed-size values pushed into rings (which grow only until they reach their age bound).

use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};

use rustix::time::{
    timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags,
    Timespec,
};

use super::csv_out::CsvRow;
use super::files::{CgroupPaths, FastReader, ReadError, SlowReader, BUF_LEN};
use super::history::{Sample, SlowSample};
use super::{now_us, Container, Counters, Shared, State, Stats};

/// What the handle asks of the sampler.
pub enum Command {
    /// Start sampling (replacing any target of the same container).
    Add(Box<Target>),
    /// Take a last sample and stop.
    Remove(Arc<Container>),
}

/// One sampled container: its open files.
pub struct Target {
    container: Arc<Container>,
    fast: FastReader,
    slow: Option<SlowReader>,
    counters: Counters,
    warned: bool,
}

impl Target {
    /// Open the files, and take the first sample at once (so a container is sampled as soon
    /// as it is discovered, not one period later).
    pub fn open(
        container: Arc<Container>,
        paths: &CgroupPaths,
        reset_v1_peak: bool,
    ) -> Result<Target, ReadError> {
        let fast = FastReader::open(paths, reset_v1_peak)?;
        let slow = SlowReader::open(paths);
        let mut buf = vec![0u8; BUF_LEN];
        let first = fast.read(&mut buf)?;
        let counters = Counters {
            cpu: first.cpu_ns.is_some(),
            mem: first.mem_bytes.is_some(),
            peak: first.peak_bytes.is_some(),
        };
        let t = Target {
            container,
            fast,
            slow,
            counters,
            warned: false,
        };
        t.container.history().push(to_sample(now_us(), first, 0));
        Ok(t)
    }

    /// Which counters it has.
    pub fn counters(&self) -> Counters {
        self.counters
    }
}

fn to_sample(t_us: u64, r: super::files::FastReading, missed: u32) -> Sample {
    Sample {
        t_us,
        cpu_ns: r.cpu_ns.unwrap_or(0),
        mem_bytes: r.mem_bytes.unwrap_or(0),
        peak_bytes: r.peak_bytes.unwrap_or(0),
        missed,
    }
}

/// How often (in ticks) the sampler publishes its thread CPU time: reading that clock is a
/// syscall, and the figure is only read by `stats` requests and status lines.
pub const CPU_PUBLISH_TICKS: u64 = 16;

/// Counters the sampler publishes.
pub(crate) struct SharedStats {
    sampled: AtomicU64,
    ticks: AtomicU64,
    missed: AtomicU64,
    samples: AtomicU64,
    slow: AtomicU64,
    cpu_ns: AtomicU64,
    /// Recorded into by the sampler each tick (uncontended but for a rare `stats` read).
    lateness: Mutex<hdrhistogram::Histogram<u64>>,
}

impl Default for SharedStats {
    fn default() -> Self {
        SharedStats {
            sampled: AtomicU64::new(0),
            ticks: AtomicU64::new(0),
            missed: AtomicU64::new(0),
            samples: AtomicU64::new(0),
            slow: AtomicU64::new(0),
            cpu_ns: AtomicU64::new(0),
            lateness: Mutex::new(
                hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3)
                    .expect("static histogram bounds"),
            ),
        }
    }
}

impl SharedStats {
    /// Ticks served so far; the CPU time read after it is at least as new as its last
    /// multiple of [`CPU_PUBLISH_TICKS`].
    pub(crate) fn ticks(&self) -> u64 {
        self.ticks.load(Ordering::Acquire)
    }

    fn lock_lateness(&self) -> std::sync::MutexGuard<'_, hdrhistogram::Histogram<u64>> {
        self.lateness.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let ticks = self.ticks();
        // Copy under the lock (a memcpy), walk the buckets outside it: the sampler records
        // into it every tick.
        let hist = self.lock_lateness().clone();
        Stats {
            sampled: self.sampled.load(Ordering::Relaxed) as usize,
            ticks,
            missed_ticks: self.missed.load(Ordering::Relaxed),
            container_samples: self.samples.load(Ordering::Relaxed),
            slow_samples: self.slow.load(Ordering::Relaxed),
            sampler_cpu_ns: self.cpu_ns.load(Ordering::Relaxed),
            lateness_p50_us: hist.value_at_quantile(0.5),
            lateness_p99_us: hist.value_at_quantile(0.99),
            lateness_max_us: hist.max(),
            ..Stats::default()
        }
    }
}

fn mono_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

fn timespec(ns: u64) -> Timespec {
    Timespec {
        tv_sec: (ns / 1_000_000_000) as i64,
        tv_nsec: (ns % 1_000_000_000) as i64,
    }
}

/// Favour the calling thread (nice −10) where allowed: the sampler's and the discovery's
/// timeliness is the measurement, and their CPU use is small. Without the privilege the
/// thread runs at normal priority.
pub(crate) fn favour_current_thread() {
    let tid = rustix::thread::gettid();
    let _ = rustix::process::setpriority_process(Some(tid), -10);
}

/// The sampler thread's body.
pub(crate) fn run(
    shared: Arc<Shared>,
    commands: Receiver<Command>,
    csv: Option<SyncSender<CsvRow>>,
) {
    // Exact wake-ups: the default 50 µs timer slack would be most of the lateness budget.
    let _ = rustix::thread::set_current_timer_slack(NonZeroU64::new(1));
    favour_current_thread();
    let period_ns = (shared.config.period.as_nanos() as u64).max(100_000);
    let timer = match timerfd_create(TimerfdClockId::Monotonic, TimerfdFlags::CLOEXEC) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!("monitor: cannot create the sampling timer: {e}");
            return;
        }
    };
    let start = mono_ns() + period_ns;
    let spec = Itimerspec {
        it_interval: timespec(period_ns),
        it_value: timespec(start),
    };
    if let Err(e) = timerfd_settime(&timer, TimerfdTimerFlags::ABSTIME, &spec) {
        tracing::error!("monitor: cannot arm the sampling timer: {e}");
        return;
    }
    let mut targets: Vec<Target> = Vec::new();
    let mut buf = vec![0u8; BUF_LEN];
    let mut expirations: u64 = 0;
    let mut pending_missed: u32 = 0;
    let mut slow_cursor = 0usize;
    let slow_ticks = (shared.config.slow_period.as_nanos() as u64 / period_ns).max(1);
    let mut slow_credit = 0u64;
    let cpu0 = thread_cpu_ns();
    let purge_every = (1_000_000_000 / period_ns).max(1);
    let handle = super::MonitorHandle {
        shared: shared.clone(),
        threads: Arc::default(),
    };
    let shared = &*shared;
    let mut count = [0u8; 8];
    while !shared.stop.load(Ordering::Relaxed) {
        match rustix::io::read(&timer, &mut count) {
            Ok(8) => {}
            Ok(_) | Err(rustix::io::Errno::INTR) => continue,
            Err(e) => {
                tracing::error!("monitor: sampling timer failed: {e}");
                return;
            }
        }
        let woke = mono_ns();
        let n = u64::from_ne_bytes(count).max(1);
        expirations += n;
        let due = start + (expirations - 1) * period_ns;
        let _ = shared
            .stats
            .lock_lateness()
            .record(woke.saturating_sub(due) / 1000 + 1);
        if n > 1 {
            pending_missed = pending_missed.saturating_add((n - 1) as u32);
            shared.stats.missed.fetch_add(n - 1, Ordering::Relaxed);
        }
        loop {
            match commands.try_recv() {
                Ok(Command::Add(t)) => {
                    targets.retain(|x| !Arc::ptr_eq(&x.container, &t.container));
                    targets.push(*t);
                }
                Ok(Command::Remove(c)) => {
                    if let Some(i) = targets.iter().position(|x| Arc::ptr_eq(&x.container, &c)) {
                        let mut t = targets.swap_remove(i);
                        let _ = sample_one(&mut t, &mut buf, 0, csv.as_ref(), shared);
                    }
                }
                Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
            }
        }
        // Fast tier.
        let mut i = 0;
        while i < targets.len() {
            if sample_one(
                &mut targets[i],
                &mut buf,
                pending_missed,
                csv.as_ref(),
                shared,
            ) {
                i += 1;
            } else {
                let t = targets.swap_remove(i);
                t.container.set_state(State::Gone);
                // Routine: every container ends this way.
                tracing::debug!(
                    "monitor: container {} is gone (cgroup removed)",
                    t.container.id
                );
            }
        }
        pending_missed = 0;
        // Slow tier: about len/slow_ticks targets per tick, round robin.
        slow_credit += targets.len() as u64;
        let mut budget = slow_credit / slow_ticks;
        slow_credit %= slow_ticks;
        while budget > 0 && !targets.is_empty() {
            slow_cursor %= targets.len();
            slow_one(&mut targets[slow_cursor], &mut buf, csv.as_ref(), shared);
            slow_cursor += 1;
            budget -= 1;
        }
        // Only the sampler writes `ticks`; the CPU time is stored before the tick that
        // carries it is published (see `SharedStats::ticks`).
        let ticks = shared.stats.ticks.load(Ordering::Relaxed) + 1;
        if ticks.is_multiple_of(CPU_PUBLISH_TICKS) {
            shared
                .stats
                .cpu_ns
                .store(thread_cpu_ns() - cpu0, Ordering::Relaxed);
        }
        shared.stats.ticks.store(ticks, Ordering::Release);
        shared
            .stats
            .sampled
            .store(targets.len() as u64, Ordering::Relaxed);
        if ticks.is_multiple_of(purge_every) {
            handle.purge(now_us());
        }
    }
    shared
        .stats
        .cpu_ns
        .store(thread_cpu_ns() - cpu0, Ordering::Relaxed);
}

/// Read one target's fast tier; false when its cgroup is gone (final values are kept).
fn sample_one(
    t: &mut Target,
    buf: &mut [u8],
    missed: u32,
    csv: Option<&SyncSender<CsvRow>>,
    shared: &Shared,
) -> bool {
    let t_us = now_us();
    match t.fast.read(buf) {
        Ok(r) => {
            let s = to_sample(t_us, r, missed);
            t.container.history().push(s);
            shared.stats.samples.fetch_add(1, Ordering::Relaxed);
            if let Some(tx) = csv {
                if tx.try_send(CsvRow::Fast(t.container.clone(), s)).is_err() {
                    shared.csv_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            true
        }
        Err(ReadError::Gone) => false,
        Err(e) => {
            if !t.warned {
                tracing::warn!("monitor: container {}: {e}", t.container.id);
                t.warned = true;
            }
            true
        }
    }
}

fn slow_one(t: &mut Target, buf: &mut [u8], csv: Option<&SyncSender<CsvRow>>, shared: &Shared) {
    let Some(slow) = &t.slow else { return };
    let t_us = now_us();
    match slow.read(buf) {
        Ok(stat) => {
            let usage = t.container.history().latest().map_or(0, |s| s.mem_bytes);
            let s = SlowSample {
                t_us,
                stat,
                working_set: usage.saturating_sub(stat.inactive_file),
            };
            t.container.history().push_slow(s);
            shared.stats.slow.fetch_add(1, Ordering::Relaxed);
            if let Some(tx) = csv {
                if tx.try_send(CsvRow::Slow(t.container.clone(), s)).is_err() {
                    shared.csv_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Err(ReadError::Gone) => {}
        Err(e) => {
            if !t.warned {
                tracing::warn!("monitor: container {}: {e}", t.container.id);
                t.warned = true;
            }
        }
    }
}
