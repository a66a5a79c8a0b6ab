//! The progress bar: a 10 Hz reporter thread reading the engine's counters, so the
//! dispatch path never touches indicatif's lock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::engine::Counters;

/// A running progress reporter.
pub struct Progress {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Start reporting on stderr (hidden when stderr is not a terminal). `total` is set
    /// when the row count becomes known (0: unknown).
    pub fn start(counters: Arc<Counters>, total: Arc<AtomicU64>, enabled: bool) -> Progress {
        let done = Arc::new(AtomicBool::new(false));
        if !enabled {
            return Progress { done, thread: None };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
        let style = ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{wide_bar}] {pos}/{len} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        let flag = done.clone();
        let thread = std::thread::Builder::new()
            .name("gale-progress".into())
            .spawn(move || {
                let start = Instant::now();
                let mut last = (Instant::now(), 0u64);
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    let recorded = counters.recorded.load(Ordering::Relaxed);
                    let sent = counters.sent.load(Ordering::Relaxed);
                    let t = total.load(Ordering::Relaxed);
                    if t > 0 && bar.length() != Some(t) {
                        bar.set_length(t);
                    }
                    bar.set_position(recorded);
                    let now = Instant::now();
                    let dt = now.duration_since(last.0).as_secs_f64();
                    let rate = if dt > 0.0 {
                        (sent.saturating_sub(last.1)) as f64 / dt
                    } else {
                        0.0
                    };
                    if dt >= 1.0 || start.elapsed() < Duration::from_secs(1) {
                        last = (now, sent);
                    }
                    bar.set_message(format!(
                        "sent {sent} ({rate:.0}/s) in-flight {} fetching {} errors {} shed {}",
                        counters.in_flight.load(Ordering::Relaxed),
                        counters.fetching.load(Ordering::Relaxed),
                        counters.errors.load(Ordering::Relaxed),
                        counters.shed.load(Ordering::Relaxed),
                    ));
                }
                bar.finish_and_clear();
            })
            .ok();
        Progress { done, thread }
    }

    /// Stop and clear the bar.
    pub fn finish(mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
