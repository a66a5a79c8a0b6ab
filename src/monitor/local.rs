//! A monitor inside the process that runs the embedded platform, fed straight from the
//! platform's lifecycle event bus: no socket and no second process. `gale inject` and
//! `gale generate` start one when their embedded platform puts containers in cgroups.
//!
//! The feed applies the same event lines as the `--events` socket client
//! ([`super::events::apply`]): the bus's snapshot of live containers first, then every event.
//! If the bus drops the feed (it fell a whole queue behind), it subscribes again and starts
//! over from a fresh snapshot, as the socket client does when it reconnects.

use std::sync::Arc;

use super::{events, Monitor, MonitorConfig, MonitorHandle};
use crate::platform::events::EventBus;

/// A running in-process monitor and its feed.
pub struct LocalMonitor {
    monitor: MonitorHandle,
    feed: tokio::task::JoinHandle<()>,
}

fn apply_logged(monitor: &MonitorHandle, line: &str) {
    if let Err(e) = events::apply(monitor, line.trim_end().as_bytes()) {
        tracing::warn!("monitor: {e}");
    }
}

impl LocalMonitor {
    /// Start the sampler with `config` and follow `bus` on the runtime `rt` (the platform's
    /// own, so events are applied as soon as they are published).
    pub fn start(
        config: MonitorConfig,
        bus: Arc<EventBus>,
        rt: &tokio::runtime::Handle,
    ) -> std::io::Result<LocalMonitor> {
        let monitor = Monitor::start(config)?;
        let m = monitor.clone();
        let feed = rt.spawn(async move {
            loop {
                let mut sub = bus.subscribe();
                for line in sub.snapshot.drain(..) {
                    apply_logged(&m, &line);
                }
                while let Some(line) = sub.events.recv().await {
                    apply_logged(&m, &line);
                }
                tracing::warn!(
                    "monitor: fell behind the platform's lifecycle events; following again from a fresh snapshot"
                );
            }
        });
        Ok(LocalMonitor { monitor, feed })
    }

    /// The monitor (query it with `window`, `window_wait`, `samples_around`).
    pub fn handle(&self) -> &MonitorHandle {
        &self.monitor
    }

    /// Stop following the platform and stop the sampler.
    pub fn shutdown(self) {
        self.feed.abort();
        self.monitor.shutdown();
    }
}

impl Drop for LocalMonitor {
    fn drop(&mut self) {
        self.feed.abort();
    }
}
