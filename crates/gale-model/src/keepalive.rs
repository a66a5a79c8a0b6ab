//! Keep-alive and eviction: which idle containers make room when a node's memory is full.
//! (The idle timeout and pause grace themselves are timers, set in
//! [`crate::KeepAliveConfig`].)

use super::types::{ContainerId, ContainerView};

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
    /// `idle` would not free enough (then nothing is evicted).
    pub fn victims(self, need_mb: u64, idle: &[ContainerView]) -> Vec<ContainerId> {
        let mut order: Vec<&ContainerView> = idle.iter().collect();
        match self {
            Eviction::LeastRecentlyUsed => order.sort_by_key(|c| (c.last_used, c.id)),
            Eviction::LeastFrequentlyUsed => order.sort_by_key(|c| (c.runs, c.last_used, c.id)),
        }
        let mut freed = 0u64;
        let mut out = Vec::new();
        for c in order {
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
    use crate::ContainerState;

    fn idle(id: u64, last_used: u64, runs: u64) -> ContainerView {
        ContainerView {
            id: ContainerId(id),
            node: crate::NodeId(0),
            action: Some(crate::ActionKey(id)),
            kind: "k".into(),
            memory_mb: 256,
            state: ContainerState::Idle,
            active: 0,
            last_used: crate::Time::from_nanos(last_used),
            runs,
        }
    }

    #[test]
    fn evicts_just_enough_in_order() {
        let c = [idle(1, 30, 1), idle(2, 10, 9), idle(3, 20, 5)];
        let ids = |v: Vec<ContainerId>| v.into_iter().map(|c| c.0).collect::<Vec<_>>();
        assert_eq!(ids(Eviction::LeastRecentlyUsed.victims(300, &c)), [2, 3]);
        assert_eq!(ids(Eviction::LeastFrequentlyUsed.victims(200, &c)), [1]);
        assert!(Eviction::LeastRecentlyUsed.victims(1000, &c).is_empty());
        assert!(Eviction::LeastRecentlyUsed.victims(0, &c).is_empty());
    }
}
