//! Keep-alive and eviction: which idle containers make room when a node's memory is full.
//! (The idle timeout and pause grace themselves are timers, set in
//! [`crate::KeepAliveConfig`].)

use super::types::{ContainerId, Time};

/// What an eviction order reads of an idle container: four numbers, so making room copies
/// no container's views (their shared kind names cost an atomic count each, a visible part
/// of a simulation's time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Idle {
    /// The container.
    pub id: ContainerId,
    /// Memory it frees, MB.
    pub memory_mb: u32,
    /// When it last started or finished an activation.
    pub last_used: Time,
    /// Activations it ran.
    pub runs: u64,
}

/// Eviction orders under memory pressure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Eviction {
    /// Least recently used first (OpenWhisk's).
    #[default]
    LeastRecentlyUsed,
    /// Fewest activations run first (keeps the popular actions' containers).
    LeastFrequentlyUsed,
}

impl Eviction {
    /// Every order.
    pub const ALL: [Eviction; 2] = [Eviction::LeastRecentlyUsed, Eviction::LeastFrequentlyUsed];

    /// Config name.
    pub fn name(self) -> &'static str {
        match self {
            Eviction::LeastRecentlyUsed => "lru",
            Eviction::LeastFrequentlyUsed => "lfu",
        }
    }

    /// The order named `name`.
    pub fn parse(name: &str) -> Option<Eviction> {
        Eviction::ALL.into_iter().find(|e| e.name() == name)
    }

    /// Containers to remove, in order, until `need_mb` is freed; empty if even all of
    /// `idle` would not free enough (then nothing is evicted). Sorts `idle` in this order.
    pub fn victims(self, need_mb: u64, idle: &mut [Idle]) -> Vec<ContainerId> {
        match self {
            Eviction::LeastRecentlyUsed => idle.sort_unstable_by_key(|c| (c.last_used, c.id)),
            Eviction::LeastFrequentlyUsed => {
                idle.sort_unstable_by_key(|c| (c.runs, c.last_used, c.id))
            }
        }
        let mut freed = 0u64;
        let mut out = Vec::new();
        for c in idle.iter() {
            if freed >= need_mb {
                break;
            }
            freed += u64::from(c.memory_mb);
            out.push(c.id);
        }
        if freed >= need_mb {
            out
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle(id: u64, last_used: u64, runs: u64) -> Idle {
        Idle {
            id: ContainerId(id),
            memory_mb: 256,
            last_used: Time::from_nanos(last_used),
            runs,
        }
    }

    #[test]
    fn evicts_just_enough_in_order() {
        let c = [idle(1, 30, 1), idle(2, 10, 9), idle(3, 20, 5)];
        let ids = |v: Vec<ContainerId>| v.into_iter().map(|c| c.0).collect::<Vec<_>>();
        let victims = |e: Eviction, need| e.victims(need, &mut c.clone());
        assert_eq!(ids(victims(Eviction::LeastRecentlyUsed, 300)), [2, 3]);
        assert_eq!(ids(victims(Eviction::LeastFrequentlyUsed, 200)), [1]);
        assert!(victims(Eviction::LeastRecentlyUsed, 1000).is_empty());
        assert!(victims(Eviction::LeastRecentlyUsed, 0).is_empty());
    }
}
