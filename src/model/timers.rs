//! The model's timers: a min-heap with lazy cancellation. A timer names a container and the
//! generation it was set in; when the container has moved on (its generation changed), the
//! timer is stale and ignored when it comes due.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::types::{ContainerId, Time};

/// What a timer does when it comes due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Timer {
    /// Pause an idle container (pause grace).
    Pause(ContainerId, u64),
    /// Remove an idle container (idle timeout).
    Expire(ContainerId, u64),
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

    /// The next timer due at `now`, if any.
    pub fn pop_due(&mut self, now: Time) -> Option<Timer> {
        match self.heap.peek() {
            Some(Reverse((t, _))) if *t <= now => self.heap.pop().map(|Reverse((_, timer))| timer),
            _ => None,
        }
    }
}
