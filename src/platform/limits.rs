//! Admission limits per namespace, answered 429 as OpenWhisk's controller does. The rule
//! itself is the model's ([`crate::model::admission`]: a calendar-minute window counting
//! refused calls too, then a concurrency limit); here are its counters for many threads,
//! lock-free: one or two atomics per invocation.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use super::Limits;
use crate::model::admission;

/// Counters of one namespace.
#[derive(Debug, Default)]
pub struct Throttle {
    per_minute: Option<u32>,
    concurrent: Option<u32>,
    /// (minute number << 32) | calls counted in that minute.
    window: AtomicU64,
    in_flight: AtomicU32,
}

/// Holds one unit of the namespace's concurrency until dropped (activation completed).
#[derive(Debug)]
pub struct InFlight(Arc<super::store::Namespace>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.throttle.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Throttle {
    /// Counters enforcing `limits`.
    pub fn new(limits: &Limits) -> Self {
        Throttle {
            per_minute: limits.invocations_per_minute,
            concurrent: limits.concurrent_invocations,
            ..Default::default()
        }
    }

    /// The configured limits.
    pub fn limits(&self) -> Limits {
        Limits {
            invocations_per_minute: self.per_minute,
            concurrent_invocations: self.concurrent,
        }
    }

    /// Activations of this namespace currently admitted and not finished.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Count an activation that OpenWhisk does not throttle (a sequence's component, an
    /// action started by a rule) in the namespace's in-flight figure, without a check.
    pub fn admit_unchecked(ns: &Arc<super::store::Namespace>) -> InFlight {
        ns.throttle.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(ns.clone())
    }

    /// Count a call that arrived at `now_ms`; the 429 message if it must be refused.
    pub fn admit(ns: &Arc<super::store::Namespace>, now_ms: u64) -> Result<InFlight, String> {
        let t = &ns.throttle;
        if let Some(allowed) = t.per_minute {
            let minute = admission::minute(now_ms);
            let mut current = t.window.load(Ordering::Relaxed);
            let count = loop {
                let (m, c) = (current >> 32, current & 0xffff_ffff);
                let next_count = if m == minute {
                    c.saturating_add(1).min(u32::MAX as u64)
                } else {
                    1
                };
                let next = (minute << 32) | next_count;
                match t.window.compare_exchange_weak(
                    current,
                    next,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break next_count,
                    Err(seen) => current = seen,
                }
            };
            admission::rate(count, Some(allowed)).map_err(|r| r.to_string())?;
        }
        let before = t.in_flight.fetch_add(1, Ordering::Relaxed);
        let guard = InFlight(ns.clone());
        // Dropping the guard on refusal gives the unit back.
        admission::concurrency(before, t.concurrent).map_err(|r| r.to_string())?;
        Ok(guard)
    }
}
