//! The monitor join: fill each record with what the run's monitor (a `gale monitor` socket,
//! or the in-process one) measured for its activation (container and time window from the
//! activation record's `gale.*` annotations).
//!
//! Queries run on the record writer's thread, never on the dispatcher's, one at a time
//! (records arrive roughly in end order, so one wait for the samples closing a window
//! serves the records behind it).

use super::record::Record;
use crate::monitor::source::{Miss, Source};

/// A monitor source that fills records in.
pub struct Measurer {
    source: Source,
    warned: bool,
}

impl Measurer {
    /// Fill records from `source`.
    pub fn new(source: Source) -> Measurer {
        Measurer {
            source,
            warned: false,
        }
    }

    /// Query the monitor for the record's activation, if it names a container.
    pub fn fill(&mut self, rec: &mut Record) {
        let (Some(container), Some((start, end))) = (rec.container.as_deref(), rec.window_us)
        else {
            return;
        };
        match self.source.measure(container, start, end, false) {
            Ok(m) => rec.usage = Some(m.window),
            // No data for this container (unknown to the monitor, unmeasurable): empty columns.
            Err(Miss::Refused(why)) => tracing::debug!("monitor: {container}: {why}"),
            Err(e @ Miss::Unreachable(_)) => {
                if !self.warned {
                    tracing::warn!("{e}; monitor columns stay empty while it lasts");
                    self.warned = true;
                }
            }
        }
    }
}
