//! Load balancing across the warm containers of one action on one node.

use super::types::{ContainerId, Time};

/// What a balancing policy knows of a warm container: a copy of three numbers, so a
/// placement among many warm containers builds no views (building them was a tenth of
/// a simulation's time, measured with perf).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// The container.
    pub id: ContainerId,
    /// Activations running in it.
    pub active: u32,
    /// When it last started or finished an activation.
    pub last_used: Time,
}

/// The container-selection policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// The most recently used container (OpenWhisk's): the others age out and are removed.
    MostRecentlyUsed,
    /// The container running the fewest activations (then the most recently used): spreads
    /// load when an action allows concurrency above 1.
    LeastLoaded,
    /// Each warm container in turn (by id).
    RoundRobin,
}

impl Policy {
    /// Config name.
    pub fn name(self) -> &'static str {
        match self {
            Policy::MostRecentlyUsed => "most-recently-used",
            Policy::LeastLoaded => "least-loaded",
            Policy::RoundRobin => "round-robin",
        }
    }

    /// Every policy.
    pub const ALL: [Policy; 3] = [
        Policy::MostRecentlyUsed,
        Policy::LeastLoaded,
        Policy::RoundRobin,
    ];

    /// The policy named `name`.
    pub fn parse(name: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.name() == name)
    }

    /// A selector implementing this policy.
    pub fn build(self) -> Box<dyn ContainerSelector> {
        match self {
            Policy::MostRecentlyUsed => Box::new(MostRecentlyUsed),
            Policy::LeastLoaded => Box::new(LeastLoaded),
            Policy::RoundRobin => Box::new(RoundRobin { last: None }),
        }
    }
}

/// A container-selection policy.
pub trait ContainerSelector: Send {
    /// One of `candidates` (warm containers of the action with a free slot; never empty).
    fn select(&mut self, candidates: &[Candidate]) -> ContainerId;
}

struct MostRecentlyUsed;

impl ContainerSelector for MostRecentlyUsed {
    fn select(&mut self, c: &[Candidate]) -> ContainerId {
        c.iter()
            .max_by_key(|v| (v.last_used, v.id))
            .map(|v| v.id)
            .unwrap_or(c[0].id)
    }
}

struct LeastLoaded;

impl ContainerSelector for LeastLoaded {
    fn select(&mut self, c: &[Candidate]) -> ContainerId {
        c.iter()
            .min_by_key(|v| (v.active, std::cmp::Reverse(v.last_used), v.id))
            .map(|v| v.id)
            .unwrap_or(c[0].id)
    }
}

struct RoundRobin {
    last: Option<ContainerId>,
}

impl ContainerSelector for RoundRobin {
    fn select(&mut self, c: &[Candidate]) -> ContainerId {
        let next = c
            .iter()
            .filter(|v| self.last.is_none_or(|l| v.id > l))
            .min_by_key(|v| v.id)
            .or_else(|| c.iter().min_by_key(|v| v.id))
            .map(|v| v.id)
            .unwrap_or(c[0].id);
        self.last = Some(next);
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(id: u64, active: u32, last_used: u64) -> Candidate {
        Candidate {
            id: ContainerId(id),
            active,
            last_used: Time::from_nanos(last_used),
        }
    }

    #[test]
    fn policies_pick_as_documented() {
        let c = [view(1, 0, 10), view(2, 1, 30), view(3, 0, 20)];
        assert_eq!(Policy::MostRecentlyUsed.build().select(&c), ContainerId(2));
        assert_eq!(Policy::LeastLoaded.build().select(&c), ContainerId(3));
        let mut rr = Policy::RoundRobin.build();
        let picks: Vec<_> = (0..4).map(|_| rr.select(&c).0).collect();
        assert_eq!(picks, [1, 2, 3, 1]);
        for p in Policy::ALL {
            assert_eq!(Policy::parse(p.name()), Some(p));
        }
    }
}
