//! SIGINT/SIGTERM for a run: the first signal asks it to stop (finish or drain what is in
//! flight, then write everything), the second to stop waiting. One mechanism for
//! `gale inject`, `gale generate` and `gale simulate`.
//!
//! Signals are watched on a plain thread (signal-hook's iterator) from the first instant of
//! a run, before any runtime exists, so a signal during start-up ends the run cleanly. Hot
//! loops read the two flags (a relaxed load); async code awaits [`Stop::subscribe`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};
use tokio::sync::watch;

/// Stop requests, as flags and as a count to await.
#[derive(Debug)]
pub struct Stop {
    /// A first signal came: stop starting new work.
    pub stop: AtomicBool,
    /// A second signal came: stop waiting for work in flight.
    pub hurry: AtomicBool,
    count: watch::Sender<u32>,
}

impl Default for Stop {
    fn default() -> Self {
        Stop {
            stop: AtomicBool::new(false),
            hurry: AtomicBool::new(false),
            count: watch::channel(0).0,
        }
    }
}

impl Stop {
    /// Record one more stop request (a signal, or a test); returns how many there were.
    pub fn request(&self) -> u32 {
        let n = *self.count.borrow() + 1;
        if n == 1 {
            self.stop.store(true, Ordering::SeqCst);
        } else {
            self.hurry.store(true, Ordering::SeqCst);
        }
        self.count.send_replace(n);
        n
    }

    /// Whether a stop was asked for.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Whether a second stop was asked for.
    pub fn hurried(&self) -> bool {
        self.hurry.load(Ordering::Relaxed)
    }

    /// The count of requests, to await (`wait_for(|n| *n >= 1)`).
    pub fn subscribe(&self) -> watch::Receiver<u32> {
        self.count.subscribe()
    }
}

/// What to tell the user on the first and the second signal.
#[derive(Debug, Clone)]
pub struct Messages {
    /// After "SIGINT: " on the first signal.
    pub first: String,
    /// After "SIGINT again: " on the second.
    pub second: String,
}

/// A running signal watcher; [`Watcher::close`] ends it.
pub struct Watcher(signal_hook::iterator::Handle);

impl Watcher {
    /// Stop watching (the default dispositions come back).
    pub fn close(self) {
        self.0.close();
    }
}

/// Watch SIGINT and SIGTERM for `stop`, logging `messages`.
pub fn watch(stop: Arc<Stop>, messages: Messages) -> std::io::Result<Watcher> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("gale-signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                let name = if sig == SIGINT { "SIGINT" } else { "SIGTERM" };
                if stop.request() == 1 {
                    tracing::warn!("{name}: {}", messages.first);
                } else {
                    tracing::warn!("{name} again: {}", messages.second);
                }
            }
        })?;
    Ok(Watcher(handle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_request_stops_second_hurries() {
        let s = Stop::default();
        let rx = s.subscribe();
        assert!(!s.stopped() && !s.hurried());
        assert_eq!(s.request(), 1);
        assert!(s.stopped() && !s.hurried());
        assert_eq!(*rx.borrow(), 1);
        assert_eq!(s.request(), 2);
        assert!(s.hurried());
        assert_eq!(*rx.borrow(), 2);
    }
}
