//! Node selection: which node (invoker) takes an activation.
//!
//! Every policy only chooses among the nodes that can take the activation now
//! ([`NodeView::fits`]): that is the capacity guard. `None` means no node can, and the
//! activation waits in the queue.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha12Rng;

use super::config::ActionSpec;
use super::types::{NodeId, NodeView};

/// The resource a load-aware policy compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// Reserved memory over capacity.
    Memory,
    /// Running activations per core; nodes already at one per core are avoided while
    /// another node has room.
    Cpu,
}

/// The placement policies, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Next node in turn.
    RoundRobin,
    /// The least loaded node (spreads).
    LeastUsed(Resource),
    /// The most loaded node that still fits (packs, freeing whole nodes).
    MostUsed(Resource),
    /// Uniformly at random (seeded ChaCha12: runs repeat).
    Random,
    /// OpenWhisk's sharding balancer: a home node from the action's name hash, then
    /// step-wise overflow by a step coprime with the node count.
    HomeInvoker,
}

impl Policy {
    /// Config name: `round-robin`, `least-used-memory`, `most-used-cpu`, `random`,
    /// `home-invoker`, ….
    pub fn name(self) -> &'static str {
        match self {
            Policy::RoundRobin => "round-robin",
            Policy::LeastUsed(Resource::Memory) => "least-used-memory",
            Policy::LeastUsed(Resource::Cpu) => "least-used-cpu",
            Policy::MostUsed(Resource::Memory) => "most-used-memory",
            Policy::MostUsed(Resource::Cpu) => "most-used-cpu",
            Policy::Random => "random",
            Policy::HomeInvoker => "home-invoker",
        }
    }

    /// Every policy, for help texts and parsing.
    pub const ALL: [Policy; 7] = [
        Policy::RoundRobin,
        Policy::LeastUsed(Resource::Memory),
        Policy::LeastUsed(Resource::Cpu),
        Policy::MostUsed(Resource::Memory),
        Policy::MostUsed(Resource::Cpu),
        Policy::Random,
        Policy::HomeInvoker,
    ];

    /// The policy named `name` (`least-used` alone means by memory).
    pub fn parse(name: &str) -> Option<Policy> {
        match name {
            "least-used" => Some(Policy::LeastUsed(Resource::Memory)),
            "most-used" => Some(Policy::MostUsed(Resource::Memory)),
            _ => Policy::ALL.into_iter().find(|p| p.name() == name),
        }
    }

    /// A selector implementing this policy.
    pub fn build(self, seed: u64) -> Box<dyn NodeSelector> {
        match self {
            Policy::RoundRobin => Box::new(RoundRobin { next: 0 }),
            Policy::LeastUsed(r) => Box::new(ByLoad {
                resource: r,
                most: false,
            }),
            Policy::MostUsed(r) => Box::new(ByLoad {
                resource: r,
                most: true,
            }),
            Policy::Random => Box::new(Random(ChaCha12Rng::seed_from_u64(seed))),
            Policy::HomeInvoker => Box::new(HomeInvoker {
                steps: Vec::new(),
                for_nodes: 0,
            }),
        }
    }
}

/// A node-selection policy.
pub trait NodeSelector: Send {
    /// The node for an activation of `action`, among `nodes` whose `fits` is true.
    fn select(&mut self, action: &ActionSpec, nodes: &[NodeView]) -> Option<NodeId>;

    /// The same choice for a policy that takes the first fitting node in an order of its
    /// own (round-robin, home-invoker), asking `fits` about nodes one at a time: `Some` of
    /// what [`NodeSelector::select`] would return on views with those `fits`, with the same
    /// effect on the policy's state, or `None` (without any effect) when the policy needs
    /// every node's view. The model places most activations this way without building the
    /// views of every node (a simulation of 100 nodes spent most of its time there).
    fn probe(
        &mut self,
        _action: &ActionSpec,
        _nodes: usize,
        _fits: &mut dyn FnMut(usize) -> bool,
    ) -> Option<Option<NodeId>> {
        None
    }
}

struct RoundRobin {
    next: usize,
}

impl NodeSelector for RoundRobin {
    fn select(&mut self, action: &ActionSpec, nodes: &[NodeView]) -> Option<NodeId> {
        self.probe(action, nodes.len(), &mut |i| nodes[i].fits)
            .flatten()
    }

    fn probe(
        &mut self,
        _: &ActionSpec,
        n: usize,
        fits: &mut dyn FnMut(usize) -> bool,
    ) -> Option<Option<NodeId>> {
        let Some(found) = (0..n).map(|i| (self.next + i) % n).find(|&i| fits(i)) else {
            return Some(None);
        };
        self.next = (found + 1) % n;
        Some(Some(NodeId(found)))
    }
}

struct ByLoad {
    resource: Resource,
    most: bool,
}

impl ByLoad {
    fn load(&self, n: &NodeView) -> f64 {
        match self.resource {
            Resource::Memory => n.memory_load(),
            Resource::Cpu => n.cpu_load(),
        }
    }
}

impl NodeSelector for ByLoad {
    fn select(&mut self, _: &ActionSpec, nodes: &[NodeView]) -> Option<NodeId> {
        let fitting = || nodes.iter().filter(|n| n.fits);
        // The CPU guard: a node with a free core beats any node without one.
        let has_core = |n: &&NodeView| f64::from(n.active) + 1.0 <= n.cpus;
        let pool: Vec<&NodeView> = match self.resource {
            Resource::Cpu if fitting().any(|n| has_core(&n)) => {
                fitting().filter(has_core).collect()
            }
            _ => fitting().collect(),
        };
        // Ties go to the lowest index, so packing fills node0 first and runs repeat.
        let mut best: Option<&NodeView> = None;
        for n in pool {
            best = match best {
                None => Some(n),
                Some(b) => {
                    let (ln, lb) = (self.load(n), self.load(b));
                    let better = if self.most { ln > lb } else { ln < lb };
                    Some(if better { n } else { b })
                }
            };
        }
        best.map(|n| n.id)
    }
}

struct Random(ChaCha12Rng);

impl NodeSelector for Random {
    fn select(&mut self, _: &ActionSpec, nodes: &[NodeView]) -> Option<NodeId> {
        let count = nodes.iter().filter(|n| n.fits).count();
        if count == 0 {
            return None;
        }
        // Multiply-shift maps 64 random bits onto 0..count without a modulo bias worth naming.
        let pick = ((u128::from(self.0.next_u64()) * count as u128) >> 64) as usize;
        nodes.iter().filter(|n| n.fits).nth(pick).map(|n| n.id)
    }
}

struct HomeInvoker {
    /// `coprime_steps(for_nodes)`, computed once per node count, not per placement.
    steps: Vec<usize>,
    for_nodes: usize,
}

impl NodeSelector for HomeInvoker {
    fn select(&mut self, action: &ActionSpec, nodes: &[NodeView]) -> Option<NodeId> {
        self.probe(action, nodes.len(), &mut |i| nodes[i].fits)
            .flatten()
    }

    fn probe(
        &mut self,
        action: &ActionSpec,
        n: usize,
        fits: &mut dyn FnMut(usize) -> bool,
    ) -> Option<Option<NodeId>> {
        if n == 0 {
            return Some(None);
        }
        let hash = fnv1a(action.name.as_bytes());
        let home = (hash % n as u64) as usize;
        if self.for_nodes != n {
            self.steps = coprime_steps(n);
            self.for_nodes = n;
        }
        let steps = &self.steps;
        let step = steps[(hash % steps.len() as u64) as usize];
        // home, home + step, … modulo n, by addition: a division per node probed showed.
        let mut node = home;
        for _ in 0..n {
            if fits(node) {
                return Some(Some(NodeId(node)));
            }
            node += step;
            if node >= n {
                node -= n;
            }
        }
        Some(None)
    }
}

/// Step sizes that visit every node: the numbers in 1..=n coprime with n (OpenWhisk uses
/// its pairwise-coprime list the same way).
fn coprime_steps(n: usize) -> Vec<usize> {
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let steps: Vec<usize> = (1..=n).filter(|&s| gcd(s, n) == 1).collect();
    if steps.is_empty() {
        vec![1]
    } else {
        steps
    }
}

/// FNV-1a, 64 bits: stable across platforms and releases, unlike std's hasher.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(loads: &[(u64, u32, bool)]) -> Vec<NodeView> {
        loads
            .iter()
            .enumerate()
            .map(|(i, &(used, active, fits))| NodeView {
                id: NodeId(i),
                name: format!("n{i}").into(),
                memory_mb: 1024,
                used_mb: used,
                evictable_mb: 0,
                cpus: 2.0,
                active,
                containers: 0,
                fits,
                warm: false,
            })
            .collect()
    }

    fn spec(name: &str) -> ActionSpec {
        ActionSpec::new(name, "gale:synthetic")
    }

    #[test]
    fn round_robin_cycles_and_skips_full_nodes() {
        let mut p = Policy::RoundRobin.build(0);
        let ns = nodes(&[(0, 0, true), (0, 0, false), (0, 0, true)]);
        let picks: Vec<_> = (0..4)
            .map(|_| p.select(&spec("a"), &ns).map(|n| n.0).unwrap())
            .collect();
        assert_eq!(picks, [0, 2, 0, 2]);
        assert_eq!(
            p.select(&spec("a"), &nodes(&[(0, 0, false)])).map(|n| n.0),
            None
        );
    }

    #[test]
    fn least_and_most_used_by_memory() {
        let ns = nodes(&[
            (512, 0, true),
            (256, 0, true),
            (900, 0, false),
            (768, 0, true),
        ]);
        let least = Policy::LeastUsed(Resource::Memory)
            .build(0)
            .select(&spec("a"), &ns)
            .map(|n| n.0);
        let most = Policy::MostUsed(Resource::Memory)
            .build(0)
            .select(&spec("a"), &ns)
            .map(|n| n.0);
        assert_eq!((least, most), (Some(1), Some(3)));
    }

    #[test]
    fn cpu_policies_keep_a_free_core_when_they_can() {
        // Node 0 has both cores busy: most-used-cpu packs onto node 1, not past node 0's cores.
        let ns = nodes(&[(0, 2, true), (0, 1, true), (0, 0, true)]);
        let most = Policy::MostUsed(Resource::Cpu)
            .build(0)
            .select(&spec("a"), &ns)
            .map(|n| n.0);
        let least = Policy::LeastUsed(Resource::Cpu)
            .build(0)
            .select(&spec("a"), &ns)
            .map(|n| n.0);
        assert_eq!((most, least), (Some(1), Some(2)));
        // When every node is at its cores, the least loaded still takes it.
        let ns = nodes(&[(0, 3, true), (0, 2, true)]);
        assert_eq!(
            Policy::MostUsed(Resource::Cpu)
                .build(0)
                .select(&spec("a"), &ns)
                .map(|n| n.0),
            Some(0)
        );
    }

    #[test]
    fn random_is_seeded_and_only_picks_fitting_nodes() {
        let ns = nodes(&[(0, 0, true), (0, 0, false), (0, 0, true), (0, 0, true)]);
        let run = |seed| {
            let mut p = Policy::Random.build(seed);
            (0..200)
                .map(|_| p.select(&spec("a"), &ns).map(|n| n.0).unwrap())
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        assert!(!a.contains(&1));
        for node in [0, 2, 3] {
            let hits = a.iter().filter(|&&n| n == node).count();
            assert!((40..=95).contains(&hits), "node {node}: {hits} of 200");
        }
    }

    #[test]
    fn home_invoker_is_stable_and_steps_over_full_nodes() {
        let all = nodes(&[(0, 0, true); 5]);
        let mut p = Policy::HomeInvoker.build(0);
        let home = p.select(&spec("guest/fib"), &all).map(|n| n.0).unwrap();
        assert_eq!(p.select(&spec("guest/fib"), &all).map(|n| n.0), Some(home));
        // Different actions land on different homes.
        let homes: std::collections::HashSet<_> = (0..20)
            .map(|i| p.select(&spec(&format!("guest/f{i}")), &all).unwrap())
            .collect();
        assert!(homes.len() >= 3);
        // The home is full: the next node by the action's step takes it, never a full one.
        let mut full = all.clone();
        full[home].fits = false;
        let over = p.select(&spec("guest/fib"), &full).map(|n| n.0).unwrap();
        assert_ne!(over, home);
        let none = nodes(&[(0, 0, false); 5]);
        assert_eq!(p.select(&spec("guest/fib"), &none).map(|n| n.0), None);
    }

    #[test]
    fn names_round_trip() {
        for p in Policy::ALL {
            assert_eq!(Policy::parse(p.name()), Some(p));
        }
        assert_eq!(
            Policy::parse("least-used"),
            Some(Policy::LeastUsed(Resource::Memory))
        );
        assert_eq!(Policy::parse("nope"), None);
    }
}
