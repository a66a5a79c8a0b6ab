//! The event queue: a min-heap on (instant, sequence number). Events due at the same instant
//! come out in the order they were pushed, whatever the heap's layout, so a run depends only
//! on its inputs and seed.
//!
//! A four-ary heap on one 128-bit key (the instant's nanoseconds, then the sequence
//! number): half as many levels as std's binary heap, the four children of a node side by
//! side in memory, one comparison per pair of entries. The binary heap's pop was the largest
//! single item of a simulation's profile (13 %, perf); a radix heap, tried too, was slower.

use crate::model::Time;

/// Children per node.
const ARITY: usize = 4;

fn key(at: Time, seq: u64) -> u128 {
    (u128::from(at.as_nanos()) << 64) | u128::from(seq)
}

fn instant(key: u128) -> Time {
    Time::from_nanos((key >> 64) as u64)
}

/// Pending events in virtual time.
pub struct EventQueue<E> {
    heap: Vec<(u128, E)>,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: Vec::new(),
            next_seq: 0,
        }
    }
}

impl<E> EventQueue<E> {
    /// Schedule `event` at `at`.
    pub fn push(&mut self, at: Time, event: E) {
        let k = key(at, self.next_seq);
        self.next_seq += 1;
        self.heap.push((k, event));
        let mut i = self.heap.len() - 1;
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if self.heap[parent].0 <= k {
                break;
            }
            self.heap.swap(i, parent);
            i = parent;
        }
    }

    /// The instant of the earliest event.
    pub fn peek_time(&self) -> Option<Time> {
        self.heap.first().map(|&(k, _)| instant(k))
    }

    /// The earliest event (the first pushed among those at the earliest instant).
    pub fn pop(&mut self) -> Option<(Time, E)> {
        let last = self.heap.pop()?;
        if self.heap.is_empty() {
            return Some((instant(last.0), last.1));
        }
        let (k, event) = std::mem::replace(&mut self.heap[0], last);
        let n = self.heap.len();
        let moving = self.heap[0].0;
        let mut i = 0;
        loop {
            let first = ARITY * i + 1;
            if first >= n {
                break;
            }
            let mut best = first;
            let mut best_key = self.heap[first].0;
            for c in first + 1..(first + ARITY).min(n) {
                let ck = self.heap[c].0;
                if ck < best_key {
                    best = c;
                    best_key = ck;
                }
            }
            if best_key >= moving {
                break;
            }
            self.heap.swap(i, best);
            i = best;
        }
        Some((instant(k), event))
    }

    /// Events pending.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Events ever pushed.
    pub fn pushed(&self) -> u64 {
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_ties_in_push_order() {
        let mut q = EventQueue::default();
        let t = Time::from_nanos;
        for (at, name) in [(5, "a"), (1, "b"), (5, "c"), (1, "d"), (3, "e"), (5, "f")] {
            q.push(t(at), name);
        }
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, ["b", "d", "e", "a", "c", "f"]);
        assert!(q.is_empty());
        assert_eq!(q.pushed(), 6);
    }

    /// Against a sort of every (instant, sequence) pair: random pushes at or after the
    /// instant reached, pops, peeks, and a few pushes below it.
    #[test]
    fn the_same_order_as_sorting_under_a_simulation_s_pattern() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut q = EventQueue::default();
        let mut reference = std::collections::BTreeSet::new();
        let mut now = 0u64;
        for seq in 0..200_000u64 {
            let r = next();
            if r % 3 == 0 && !reference.is_empty() {
                let peeked = q.peek_time().map(Time::as_nanos);
                let (at, s) = reference.pop_first().unwrap();
                assert_eq!(peeked, Some(at));
                assert_eq!(q.pop(), Some((Time::from_nanos(at), s)));
                now = now.max(at);
            } else {
                // Mostly near now, sometimes far, sometimes at now, rarely below it.
                let at = match r % 50 {
                    0 => now.saturating_sub(r % 1000),
                    1..=10 => now,
                    11..=15 => now + (r >> 20) % 1_000_000_000_000,
                    _ => now + (r >> 20) % 100_000,
                };
                q.push(Time::from_nanos(at), seq);
                reference.insert((at, seq));
            }
            assert_eq!(q.len(), reference.len());
        }
        while let Some((at, s)) = reference.pop_first() {
            assert_eq!(q.pop(), Some((Time::from_nanos(at), s)));
        }
        assert!(q.pop().is_none() && q.is_empty());
    }
}
