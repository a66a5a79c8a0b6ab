//! A monitor inside the process that runs the embedded platform, fed straight from the
//! platform's lifecycle event bus: no socket and no second process. `gale inject` and
//! `gale generate` start one when their embedded platform puts containers in cgroups.
//!
//! The feed applies the same event lines as the `--events` socket client
//! ([`super::events::apply`]): the bus's snapshot of live containers first, then every event.
//! If the bus drops the feed (it fell a whole queue behind), it subscribes again and starts
//! over from a fresh snapshot, as the socket client does when it reconnects.
//!
//! The feed is a thread of its own, favoured like the sampler, woken by each publish: a
//! short cold start is only measurable if its container is watched before it is over, so
//! the feed must not wait for a busy runtime worker.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use super::{events, Monitor, MonitorConfig, MonitorHandle};
use crate::platform::events::EventBus;

/// A running in-process monitor and its feed.
pub struct LocalMonitor {
    monitor: MonitorHandle,
    stop: Arc<AtomicBool>,
}

fn apply_logged(monitor: &MonitorHandle, line: &str) {
    if let Err(e) = events::apply(monitor, line.trim_end().as_bytes()) {
        tracing::warn!("monitor: {e}");
    }
}

/// Follow the bus until told to stop or until the bus is gone (the platform stopped).
fn feed(monitor: MonitorHandle, bus: Weak<EventBus>, stop: Arc<AtomicBool>) {
    super::sampler::favour_current_thread();
    // Holding only a weak reference lets the platform drop the bus, which ends the
    // subscription and this thread.
    while let Some(mut sub) = bus.upgrade().map(|b| b.subscribe()) {
        for line in sub.snapshot.drain(..) {
            apply_logged(&monitor, &line);
        }
        while let Some(line) = sub.events.blocking_recv() {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            apply_logged(&monitor, &line);
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
        tracing::warn!(
            "monitor: fell behind the platform's lifecycle events; following again from a fresh snapshot"
        );
    }
}

impl LocalMonitor {
    /// Start the sampler with `config` and follow `bus`.
    pub fn start(config: MonitorConfig, bus: &Arc<EventBus>) -> std::io::Result<LocalMonitor> {
        let monitor = Monitor::start(config)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (m, b, s) = (monitor.clone(), Arc::downgrade(bus), stop.clone());
        // Not joined: it ends at the next event after `stop`, or when the platform drops
        // the bus, whichever comes first; it holds nothing that needs an orderly end.
        std::thread::Builder::new()
            .name("gale-monitor-feed".into())
            .spawn(move || feed(m, b, s))?;
        Ok(LocalMonitor { monitor, stop })
    }

    /// The monitor (query it with `measure`, `window`, `window_wait`, `samples_around`).
    pub fn handle(&self) -> &MonitorHandle {
        &self.monitor
    }

    /// Stop following the platform and stop the sampler.
    pub fn shutdown(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.monitor.shutdown();
    }
}
