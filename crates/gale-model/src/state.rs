//! The model's records: what it tracks per node, container, action and queued activation.

use std::collections::HashMap;
use std::sync::Arc;

use super::balance::Candidate;
use super::config::ActionSpec;
use super::types::{
    ActionKey, ActivationRef, ContainerId, ContainerState, ContainerView, NodeId, Time,
};

/// What the model tracks per node (name, capacity and cores are in the config).
#[derive(Default)]
pub(super) struct Node {
    pub used_mb: u64,
    /// Memory of its evictable containers (kept in step by `Model::settle`).
    pub evictable_mb: u64,
    /// Its containers: making room walks these, not every container of every node. (A
    /// set of its evictable ones changed on every activation's start and end, a visible
    /// part of a simulation's time; this one changes when a container comes or goes.)
    pub ids: IdSet,
    pub active: u32,
    pub containers: u32,
}

/// A container the model asked for, until it is removed or fails.
pub(super) struct Container {
    pub id: ContainerId,
    pub node: NodeId,
    pub kind: Arc<str>,
    pub memory_mb: u32,
    pub action: Option<ActionKey>,
    pub phase: Phase,
    pub active: u32,
    /// Activations waiting for this container's start or init.
    pub bound: Vec<ActivationRef>,
    pub last_used: Time,
    pub runs: u64,
    /// The instant of its valid keep-alive timer, if one is set.
    pub timer_at: Option<Time>,
    pub paused: bool,
    /// Removed once its running activations finish; never given new ones.
    pub doomed: bool,
}

/// How far a container has come (paused and busy are orthogonal to `Ready`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Starting,
    Initialising,
    Prewarmed,
    Ready,
}

impl Container {
    /// As the policies and the admin API see it.
    pub fn view(&self) -> ContainerView {
        let state = match self.phase {
            Phase::Starting => ContainerState::Starting,
            Phase::Initialising => ContainerState::Initialising,
            Phase::Prewarmed => ContainerState::Prewarmed,
            Phase::Ready if self.active > 0 => ContainerState::Running(self.active),
            Phase::Ready if self.paused => ContainerState::Paused,
            Phase::Ready => ContainerState::Idle,
        };
        ContainerView {
            id: self.id,
            node: self.node,
            action: self.action,
            kind: self.kind.clone(),
            memory_mb: self.memory_mb,
            state,
            active: self.active,
            last_used: self.last_used,
            runs: self.runs,
        }
    }

    /// Ready for `key` with a free activation slot (and not on its way out).
    pub fn has_warm_slot(&self, key: ActionKey, spec: &ActionSpec) -> bool {
        self.action == Some(key)
            && self.phase == Phase::Ready
            && !self.doomed
            && self.active < spec.concurrency.max(1)
    }

    /// A started stem cell that an action of `spec` can take.
    pub fn is_stem_cell_for(&self, spec: &ActionSpec) -> bool {
        self.phase == Phase::Prewarmed
            && self.action.is_none()
            && self.kind == spec.kind
            && self.memory_mb == spec.memory_mb
    }

    /// Idle, paused or prewarmed with nothing bound: removable to make room.
    pub fn evictable(&self) -> bool {
        self.active == 0
            && self.bound.is_empty()
            && matches!(self.phase, Phase::Ready | Phase::Prewarmed)
    }
}

/// A deployed (or retired but still referenced) action revision.
pub(super) struct Action {
    /// Shared: a placement holds it while it changes the model (a clone of the spec was a
    /// visible part of every placement).
    pub spec: Arc<ActionSpec>,
    /// Removed (or replaced by a newer revision): its containers are single-use and it
    /// disappears once nothing refers to it.
    pub retired: bool,
    pub queued: u32,
    pub arrivals: u64,
    pub last_arrival: Option<Time>,
    /// The driver's measured utilisation for the next autoscaling round.
    pub utilisation: Option<f64>,
    /// Its containers that can take an activation now ([`Container::has_warm_slot`]), by
    /// node: a placement asks whether a node has one, and takes the ones on its node,
    /// without walking the others (kept by [`crate::Model`]'s `refresh_free`).
    pub free: FreeSets,
}

/// A small set of container ids in no order: a node holds a few dozen containers at most,
/// and a scan of one short vector, a push and a swap-remove cost less than keeping it
/// sorted (the shifts of a sorted vector's insert and remove, and before them a B-tree's
/// walk, were a visible part of a simulation's time, measured with perf). Nothing depends
/// on its order: the balance and eviction policies order candidates by total keys of
/// their own, and listings sort.
#[derive(Default, Clone, Debug)]
pub(super) struct IdSet(Vec<ContainerId>);

impl IdSet {
    pub fn insert(&mut self, id: ContainerId) {
        if !self.0.contains(&id) {
            self.0.push(id);
        }
    }

    pub fn remove(&mut self, id: ContainerId) {
        if let Some(at) = self.0.iter().position(|&x| x == id) {
            self.0.swap_remove(at);
        }
    }

    /// In no particular order.
    pub fn iter(&self) -> impl Iterator<Item = ContainerId> + '_ {
        self.0.iter().copied()
    }
}

/// An action's free containers per node, each with what the balance policy reads of it (a
/// [`Candidate`], kept up to date by `refresh_free` whenever the container's load or last
/// use changes): a placement hands its node's slice to the policy as it is, where it used
/// to look every free container up (a twentieth of a simulation's time, measured with
/// perf). In no order within a node, as [`IdSet`]. A node's entry stays when it empties: a
/// container running one activation at a time leaves and rejoins its set on every
/// activation, and the entries are bounded by the nodes the action ever ran on.
#[derive(Default, Debug)]
pub(super) struct FreeSets(
    HashMap<NodeId, Vec<Candidate>, std::hash::BuildHasherDefault<IdHasher>>,
);

impl FreeSets {
    /// Add `c` to its node's set, or bring its entry up to date.
    pub fn upsert(&mut self, node: NodeId, c: Candidate) {
        let set = self.0.entry(node).or_default();
        match set.iter_mut().find(|x| x.id == c.id) {
            Some(x) => *x = c,
            None => set.push(c),
        }
    }

    pub fn remove(&mut self, node: NodeId, id: ContainerId) {
        if let Some(set) = self.0.get_mut(&node) {
            if let Some(at) = set.iter().position(|x| x.id == id) {
                set.swap_remove(at);
            }
        }
    }

    /// Whether `node` has a free container.
    pub fn any_on(&self, node: NodeId) -> bool {
        self.0.get(&node).is_some_and(|s| !s.is_empty())
    }

    /// `node`'s free containers, in no particular order.
    pub fn on(&self, node: NodeId) -> &[Candidate] {
        self.0.get(&node).map_or(&[], Vec::as_slice)
    }

    /// Every free container, by node then id.
    pub fn all_sorted(&self, out: &mut Vec<ContainerId>) {
        let mut nodes: Vec<NodeId> = self.0.keys().copied().collect();
        nodes.sort_unstable();
        for n in nodes {
            let first = out.len();
            out.extend(self.on(n).iter().map(|c| c.id));
            out[first..].sort_unstable();
        }
    }
}

/// An activation waiting in the FIFO queue for a node that can take it.
pub(super) struct Queued {
    pub activation: ActivationRef,
    pub action: ActionKey,
}

/// Hashes ids with one multiplication per word (FxHash's constant): ids are distinct
/// integers the model (or a driver) hands out itself, so they need no protection from
/// crafted keys, and std's SipHash was a large part of every lookup.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_usize(&mut self, n: usize) {
        // Not the default's byte by byte (node ids are usize).
        self.write_u64(n as u64);
    }
}

/// The live containers by id. Unordered: whatever depends on an order (shutdown, scaling
/// down, listings, the first stem cell of a node) sorts or takes the least id itself.
pub(super) type Containers =
    std::collections::HashMap<ContainerId, Container, std::hash::BuildHasherDefault<IdHasher>>;

pub(super) fn container_mut(containers: &mut Containers, id: ContainerId) -> &mut Container {
    containers
        .get_mut(&id)
        .expect("the model only names containers it holds")
}

/// The actions by key. Unordered (a hash of the key is one multiplication, a B-tree's walk
/// was a visible part of every placement): the autoscaling round, the one walk whose order
/// decides anything, sorts its moves by key.
pub(super) type Actions = HashMap<ActionKey, Action, std::hash::BuildHasherDefault<IdHasher>>;

pub(super) fn action_mut(actions: &mut Actions, key: ActionKey) -> &mut Action {
    actions
        .get_mut(&key)
        .expect("the model only names actions it holds")
}
