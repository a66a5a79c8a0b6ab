//! The progress bar of a long run: a 10 Hz reporter thread that reads the run's counters
//! through a status closure, so the run's own path never touches indicatif's lock. Hidden
//! when stderr is not a terminal (scripts, CI, journald).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What the bar shows at a tick: the position and a message.
pub type Status = Box<dyn FnMut() -> (u64, String) + Send>;

/// A running progress reporter.
pub struct Progress {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Start reporting on stderr when `wanted` and stderr is a terminal. `total` may be
    /// set later (0: unknown yet); `unit` names what is counted ("invocations", "rows").
    pub fn start(wanted: bool, total: Arc<AtomicU64>, unit: &str, mut status: Status) -> Progress {
        let done = Arc::new(AtomicBool::new(false));
        if !(wanted && std::io::stderr().is_terminal()) {
            return Progress { done, thread: None };
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(10));
        let template = format!("{{elapsed_precise}} [{{wide_bar}}] {{pos}}/{{len}} {unit} {{per_sec}} ETA {{eta}} {{msg}}");
        let style = ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        let flag = done.clone();
        let mut first = true;
        let thread = std::thread::Builder::new()
            .name("gale-progress".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    let t = total.load(Ordering::Relaxed);
                    if t > 0 && bar.length() != Some(t) {
                        bar.set_length(t);
                    }
                    let (pos, msg) = status();
                    bar.set_position(pos);
                    if first {
                        // Rate and ETA from this process's work, not a resumed count.
                        bar.reset_eta();
                        first = false;
                    }
                    bar.set_message(msg);
                    std::thread::sleep(Duration::from_millis(100));
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

impl Drop for Progress {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}
