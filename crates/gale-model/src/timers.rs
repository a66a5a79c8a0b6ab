//! The model's timers: a min-heap with lazy cancellation. A container's keep-alive timer is
//! valid only while the container still records that instant as its next one; other entries
//! are stale and ignored when they come due. A container re-arms only when its deadline moves
//! earlier, so the heap holds a few entries per container, not one per activation.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::types::{ContainerId, Time};

/// What a timer does when it comes due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// The keep-alive of an idle container: pause it after the grace, remove it after the
    /// idle timeout.
    KeepAlive(ContainerId),
    /// Evaluate the autoscaling policies.
    Autoscale,
}

#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Time, Timer)>>,
}

impl Timers {
    pub fn set(&mut self, at: Time, timer: Timer) {
        self.heap.push(Reverse((at, timer)));
    }

    /// The earliest pending instant (stale timers included: waking early is harmless).
    pub fn next(&self) -> Option<Time> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    /// The next timer due at `now`, with the instant it was set for.
    pub fn pop_due(&mut self, now: Time) -> Option<(Time, Timer)> {
        match self.heap.peek() {
            Some(Reverse((t, _))) if *t <= now => self.heap.pop().map(|Reverse(entry)| entry),
            _ => None,
        }
    }
}
