//! `--monitor SOCKET`: join each record with what `gale monitor` measured for its
//! activation (container and time window from the activation record's `gale.*`
//! annotations).
//!
//! Queries run on the record writer's thread, never on the dispatcher's: one persistent
//! connection, one query at a time (records arrive roughly in end order, so one wait for
//! the samples closing a window serves the records behind it).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::record::Record;
use crate::monitor::client::MonitorClient;

/// After a failed connection, wait this long before trying again (records meanwhile get
/// empty monitor columns).
const RETRY: Duration = Duration::from_secs(2);

/// A monitor connection that fills records in.
pub struct Measurer {
    socket: PathBuf,
    client: Option<MonitorClient>,
    next_attempt: Instant,
    warned: bool,
}

impl Measurer {
    /// Connect lazily to the monitor at `socket`.
    pub fn new(socket: PathBuf) -> Measurer {
        Measurer {
            socket,
            client: None,
            next_attempt: Instant::now(),
            warned: false,
        }
    }

    fn warn(&mut self, what: String) {
        if !self.warned {
            tracing::warn!(
                "monitor {}: {what}; monitor columns stay empty while it lasts",
                self.socket.display()
            );
            self.warned = true;
        }
    }

    /// Query the monitor for the record's activation, if it names a container.
    pub fn fill(&mut self, rec: &mut Record) {
        let (Some(container), Some((start, end))) = (rec.container.as_deref(), rec.window_us)
        else {
            return;
        };
        if self.client.is_none() {
            if Instant::now() < self.next_attempt {
                return;
            }
            match MonitorClient::connect(&self.socket) {
                Ok(c) => self.client = Some(c),
                Err(e) => {
                    self.next_attempt = Instant::now() + RETRY;
                    return self.warn(e.to_string());
                }
            }
        }
        let Some(client) = self.client.as_mut() else {
            return;
        };
        match client.window(container, start, end, None) {
            Ok(Ok(w)) => rec.usage = Some(w),
            // No data for this container (unknown to the monitor, unmeasurable): empty columns.
            Ok(Err(refusal)) => tracing::debug!("monitor: {container}: {refusal}"),
            Err(e) => {
                self.client = None;
                self.next_attempt = Instant::now() + RETRY;
                self.warn(e.to_string());
            }
        }
    }
}
