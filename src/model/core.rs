//! The state machine: events in, commands out.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use super::balance::ContainerSelector;
use super::config::{ActionSpec, ModelConfig, Warming};
use super::placement::NodeSelector;
use super::timers::{Timer, Timers};
use super::types::{
    ActionKey, ActivationRef, Command, ContainerId, ContainerState, ContainerView, Failure, NodeId,
    NodeView, Time,
};

/// Inputs of the model, each with the instant it happened (see [`Model::handle`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An admitted invocation of a deployed action.
    Invoke {
        /// The driver's name for it.
        activation: ActivationRef,
        /// The action revision.
        action: ActionKey,
    },
    /// A `Start`ed container is up.
    Started(ContainerId),
    /// An `Init` completed.
    Initialised(ContainerId),
    /// A `Start` or `Init` failed: the container is gone (the driver has cleaned it up).
    Failed(ContainerId, Failure),
    /// A `Run` ended. `healthy` false (crash, timeout, bad output) retires the container.
    Finished {
        /// The container.
        container: ContainerId,
        /// The activation.
        activation: ActivationRef,
        /// Whether the container may be reused.
        healthy: bool,
    },
}

/// What the model tracks per node (name, capacity and cores are in the config).
#[derive(Default)]
pub(super) struct Node {
    pub used_mb: u64,
    pub active: u32,
    pub containers: u32,
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Starting,
    Initialising,
    Prewarmed,
    Ready,
}

impl Container {
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

pub(super) struct Action {
    pub spec: ActionSpec,
    /// Removed (or replaced by a newer revision): its containers are single-use and it
    /// disappears once nothing refers to it.
    pub retired: bool,
    pub queued: u32,
    pub arrivals: u64,
    pub last_arrival: Option<Time>,
}

/// The nodes as one activation finds them (see [`Model::node_views_for`]).
pub(super) struct Fit {
    /// Every node, with `evictable_mb`, `warm` and `fits` filled in.
    pub nodes: Vec<NodeView>,
    /// The action's warm containers with a free slot, in id order.
    pub warm: Vec<ContainerId>,
    /// Per node, its first stem cell the action can take (only with prewarm warming).
    pub stem: Vec<Option<ContainerId>>,
}

struct Queued {
    activation: ActivationRef,
    action: ActionKey,
}

/// The platform model. See the [module docs](super).
pub struct Model {
    pub(super) config: ModelConfig,
    pub(super) nodes: Vec<Node>,
    /// The largest node's memory: activations needing more fail at once.
    largest_mb: u64,
    pub(super) containers: BTreeMap<ContainerId, Container>,
    pub(super) actions: HashMap<ActionKey, Action>,
    queue: VecDeque<Queued>,
    commands: VecDeque<Command>,
    pub(super) timers: Timers,
    placement: Box<dyn NodeSelector>,
    balance: Box<dyn ContainerSelector>,
    next_container: u64,
    closed: bool,
}

impl Model {
    /// A model at instant `now`; prewarmed stem cells are requested at once.
    pub fn new(config: ModelConfig, now: Time) -> Model {
        let nodes = config.nodes.iter().map(|_| Node::default()).collect();
        let largest_mb = config.nodes.iter().map(|n| n.memory_mb).max().unwrap_or(0);
        let mut model = Model {
            placement: config.placement.build(config.seed),
            balance: config.balance.build(),
            config,
            nodes,
            largest_mb,
            containers: BTreeMap::new(),
            actions: HashMap::new(),
            queue: VecDeque::new(),
            commands: VecDeque::new(),
            timers: Timers::default(),
            next_container: 1,
            closed: false,
        };
        model.replenish_stem_cells(now);
        model
            .timers
            .set(now + model.config.autoscale_period, Timer::Autoscale);
        model
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Feed one event.
    pub fn handle(&mut self, now: Time, event: Event) {
        match event {
            Event::Invoke { activation, action } => self.invoke(now, activation, action),
            Event::Started(c) => self.started(now, c),
            Event::Initialised(c) => self.initialised(now, c),
            Event::Failed(c, failure) => self.failed(now, c, failure),
            Event::Finished {
                container,
                activation: _,
                healthy,
            } => self.finished(now, container, healthy),
        }
    }

    /// The next command to execute, in order.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// When the model next wants [`Model::handle_timeout`] (it may be called earlier).
    pub fn poll_timeout(&self) -> Option<Time> {
        if self.closed {
            None
        } else {
            self.timers.next()
        }
    }

    /// Fire the timers due at `now`: pause grace, idle timeout, autoscaling.
    pub fn handle_timeout(&mut self, now: Time) {
        while let Some((at, timer)) = self.timers.pop_due(now) {
            match timer {
                Timer::KeepAlive(id) => self.keepalive(now, at, id),
                Timer::Autoscale => {
                    self.autoscale(now);
                    self.timers
                        .set(now + self.config.autoscale_period.max(1), Timer::Autoscale);
                }
            }
        }
        self.drain_queue(now);
    }

    /// Stop: every container is removed and every waiting activation failed.
    pub fn shutdown(&mut self) {
        self.closed = true;
        for q in std::mem::take(&mut self.queue) {
            self.fail(q.activation, Failure::Shutdown);
        }
        let ids: Vec<ContainerId> = self.containers.keys().copied().collect();
        for id in ids {
            if let Some(c) = self.containers.remove(&id) {
                for a in c.bound {
                    self.fail(a, Failure::Shutdown);
                }
                self.commands.push_back(Command::Remove { container: id });
            }
        }
        for n in &mut self.nodes {
            *n = Node::default();
        }
    }

    /// Activations waiting for a node or container.
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    fn invoke(&mut self, now: Time, activation: ActivationRef, key: ActionKey) {
        if self.closed {
            self.fail(activation, Failure::Shutdown);
            return;
        }
        let Some(action) = self.actions.get_mut(&key) else {
            self.fail(activation, Failure::NotDeployed);
            return;
        };
        action.arrivals += 1;
        action.last_arrival = Some(now);
        let need = action.spec.memory_mb;
        if u64::from(need) > self.largest_mb {
            self.fail(
                activation,
                Failure::TooBig {
                    need_mb: need,
                    largest_mb: self.largest_mb,
                },
            );
            return;
        }
        // FIFO: nobody overtakes activations already waiting.
        if self.queue.is_empty() && self.place(now, activation, key) {
            return;
        }
        action_mut(&mut self.actions, key).queued += 1;
        self.queue.push_back(Queued {
            activation,
            action: key,
        });
    }

    fn started(&mut self, now: Time, id: ContainerId) {
        let Some(c) = self.containers.get_mut(&id) else {
            return;
        };
        c.last_used = now;
        match c.action {
            Some(action) => {
                c.phase = Phase::Initialising;
                self.commands.push_back(Command::Init {
                    container: id,
                    action,
                });
            }
            None => {
                c.phase = Phase::Prewarmed;
                self.drain_queue(now);
            }
        }
    }

    fn initialised(&mut self, now: Time, id: ContainerId) {
        let Some(c) = self.containers.get_mut(&id) else {
            return;
        };
        c.phase = Phase::Ready;
        c.last_used = now;
        let bound = std::mem::take(&mut c.bound);
        if bound.is_empty() {
            self.become_idle(id);
        }
        for activation in bound {
            self.run(now, id, activation, true);
        }
        self.drain_queue(now);
    }

    fn failed(&mut self, now: Time, id: ContainerId, failure: Failure) {
        let Some(c) = self.containers.get_mut(&id) else {
            return;
        };
        for a in std::mem::take(&mut c.bound) {
            self.fail(a, failure.clone());
        }
        self.release(now, id);
        self.drain_queue(now);
    }

    fn finished(&mut self, now: Time, id: ContainerId, healthy: bool) {
        let Some(c) = self.containers.get_mut(&id) else {
            return;
        };
        c.active = c.active.saturating_sub(1);
        c.runs += 1;
        c.last_used = now;
        if !healthy {
            c.doomed = true;
        }
        let (node, idle, doomed) = (c.node, c.active == 0, c.doomed);
        let n = &mut self.nodes[node];
        n.active = n.active.saturating_sub(1);
        if idle && doomed {
            self.remove_container(now, id);
        } else if idle {
            self.become_idle(id);
        }
        self.drain_queue(now);
    }

    /// Try to start `activation` now; false if no node can take it yet.
    fn place(&mut self, now: Time, activation: ActivationRef, key: ActionKey) -> bool {
        let Some(action) = self.actions.get(&key) else {
            self.fail(activation, Failure::NotDeployed);
            return true;
        };
        let spec = action.spec.clone();
        let warming = self.warming_of(&spec, action.retired);
        let fit = self.node_views_for(Some(key), &spec, warming);
        let Some(node) = self.placement.select(&spec, &fit.nodes) else {
            return false;
        };
        if fit.nodes[node].warm {
            let candidates: Vec<ContainerView> = fit
                .warm
                .iter()
                .map(|id| &self.containers[id])
                .filter(|c| c.node == node)
                .map(Container::view)
                .collect();
            let id = self.balance.select(&candidates);
            self.run(now, id, activation, false);
            return true;
        }
        if let Some(id) = fit.stem[node] {
            let c = container_mut(&mut self.containers, id);
            c.action = Some(key);
            c.phase = Phase::Initialising;
            c.bound.push(activation);
            self.commands.push_back(Command::Init {
                container: id,
                action: key,
            });
            self.replenish_stem_cells(now);
            return true;
        }
        self.make_room(now, node, spec.memory_mb);
        let id = self.start_container(now, node, &spec.kind, spec.memory_mb, Some(key));
        let c = container_mut(&mut self.containers, id);
        c.bound.push(activation);
        c.doomed = warming == Warming::Cold;
        true
    }

    pub(super) fn warming_of(&self, spec: &ActionSpec, retired: bool) -> Warming {
        if retired {
            Warming::Cold
        } else {
            spec.warming.unwrap_or(self.config.warming)
        }
    }

    /// The nodes as an activation of `spec` finds them, from one pass over the containers
    /// (this runs for every placement). `key` `None` asks for room for a new container only
    /// (scaling up): no warm containers or stem cells then.
    pub(super) fn node_views_for(
        &self,
        key: Option<ActionKey>,
        spec: &ActionSpec,
        warming: Warming,
    ) -> Fit {
        let mut nodes = self.bare_node_views();
        let mut warm = Vec::new();
        let mut stem = vec![None; nodes.len()];
        let warm_key = key.filter(|_| warming != Warming::Cold);
        let want_stem = key.is_some() && warming == Warming::Prewarm;
        for c in self.containers.values() {
            let v = &mut nodes[c.node];
            if c.evictable() {
                v.evictable_mb += u64::from(c.memory_mb);
            }
            if warm_key.is_some_and(|k| c.has_warm_slot(k, spec)) {
                v.warm = true;
                warm.push(c.id);
            }
            if want_stem && stem[c.node].is_none() && c.is_stem_cell_for(spec) {
                stem[c.node] = Some(c.id);
            }
        }
        let need = u64::from(spec.memory_mb);
        for v in &mut nodes {
            v.fits = v.warm || stem[v.id].is_some() || self.free_mb(v.id) + v.evictable_mb >= need;
        }
        Fit { nodes, warm, stem }
    }

    /// Evict idle containers on `node` until `need_mb` is free (no-op if it already is).
    pub(super) fn make_room(&mut self, now: Time, node: NodeId, need_mb: u32) {
        let free = self.free_mb(node);
        let need = u64::from(need_mb);
        if free >= need {
            return;
        }
        let idle: Vec<ContainerView> = self
            .containers
            .values()
            .filter(|c| c.node == node && c.evictable())
            .map(Container::view)
            .collect();
        for id in self.config.eviction.victims(need - free, &idle) {
            self.remove_container(now, id);
        }
    }

    /// Memory of `node` not reserved by any container, MB.
    fn free_mb(&self, node: NodeId) -> u64 {
        self.config.nodes[node]
            .memory_mb
            .saturating_sub(self.nodes[node].used_mb)
    }

    pub(super) fn start_container(
        &mut self,
        now: Time,
        node: NodeId,
        kind: &Arc<str>,
        memory_mb: u32,
        action: Option<ActionKey>,
    ) -> ContainerId {
        let id = ContainerId(self.next_container);
        self.next_container += 1;
        let n = &mut self.nodes[node];
        n.used_mb += u64::from(memory_mb);
        n.containers += 1;
        self.containers.insert(
            id,
            Container {
                id,
                node,
                kind: kind.clone(),
                memory_mb,
                action,
                phase: Phase::Starting,
                active: 0,
                bound: Vec::new(),
                last_used: now,
                runs: 0,
                timer_at: None,
                paused: false,
                doomed: false,
            },
        );
        self.commands.push_back(Command::Start {
            container: id,
            node,
            kind: kind.clone(),
            memory_mb,
            action,
        });
        id
    }

    pub(super) fn placement_select(
        &mut self,
        spec: &ActionSpec,
        views: &[NodeView],
    ) -> Option<NodeId> {
        self.placement.select(spec, views)
    }

    fn run(&mut self, now: Time, id: ContainerId, activation: ActivationRef, cold: bool) {
        let c = container_mut(&mut self.containers, id);
        c.active += 1;
        c.last_used = now;
        if c.paused {
            c.paused = false;
            self.commands.push_back(Command::Resume { container: id });
        }
        let timeout = c
            .action
            .and_then(|a| self.actions.get(&a))
            .map(|a| a.spec.timeout)
            .unwrap_or(0);
        self.nodes[c.node].active += 1;
        self.commands.push_back(Command::Run {
            activation,
            container: id,
            deadline: now.saturating_add(timeout),
            cold,
        });
    }

    /// When the keep-alive next acts on idle container `c`: its pause, else its removal.
    fn keepalive_due(&self, c: &Container) -> Time {
        let k = self.config.keepalive;
        match k.pause_after() {
            Some(grace) if !c.paused => c.last_used + grace,
            _ => c.last_used + k.idle_timeout,
        }
    }

    /// Arm the keep-alive of a container that just became idle (unless an earlier timer is
    /// already set: it re-arms itself when it fires early).
    pub(super) fn become_idle(&mut self, id: ContainerId) {
        let due = self.keepalive_due(&self.containers[&id]);
        let c = container_mut(&mut self.containers, id);
        if c.timer_at.is_none_or(|t| t > due) {
            c.timer_at = Some(due);
            self.timers.set(due, Timer::KeepAlive(id));
        }
    }

    /// A keep-alive timer set for `at` fired: pause or remove the container if it has been
    /// idle long enough, else wait for its real deadline.
    fn keepalive(&mut self, now: Time, at: Time, id: ContainerId) {
        let Some(c) = self.containers.get_mut(&id) else {
            return;
        };
        if c.timer_at != Some(at) {
            return;
        }
        c.timer_at = None;
        if c.phase != Phase::Ready || c.active > 0 {
            // Busy: its next finish re-arms it.
            return;
        }
        let due = self.keepalive_due(&self.containers[&id]);
        if due > now {
            self.become_idle(id);
            return;
        }
        let c = container_mut(&mut self.containers, id);
        if !c.paused && self.config.keepalive.pause_after().is_some() {
            c.paused = true;
            self.commands.push_back(Command::Pause { container: id });
            self.become_idle(id);
            return;
        }
        let owned_by_autoscaler = c
            .action
            .and_then(|a| self.actions.get(&a))
            .is_some_and(|a| a.spec.autoscale.is_some() && !a.retired);
        if !owned_by_autoscaler {
            self.remove_container(now, id);
        }
    }

    pub(super) fn remove_container(&mut self, now: Time, id: ContainerId) {
        if self.containers.contains_key(&id) {
            self.commands.push_back(Command::Remove { container: id });
            self.release(now, id);
        }
    }

    /// Forget container `id` (removed, or failed and cleaned up by the driver): its memory
    /// is free again, a retired action it ran may go, and stem cells are refilled.
    fn release(&mut self, now: Time, id: ContainerId) {
        let Some(c) = self.containers.remove(&id) else {
            return;
        };
        let n = &mut self.nodes[c.node];
        n.used_mb -= u64::from(c.memory_mb);
        n.containers -= 1;
        self.forget_retired(c.action);
        self.replenish_stem_cells(now);
    }

    /// Drop a retired action once no container or queued activation refers to it.
    pub(super) fn forget_retired(&mut self, key: Option<ActionKey>) {
        let Some(key) = key else { return };
        let unused = self
            .actions
            .get(&key)
            .is_some_and(|a| a.retired && a.queued == 0)
            && !self.containers.values().any(|c| c.action == Some(key));
        if unused {
            self.actions.remove(&key);
        }
    }

    /// Start stem cells until each node has its configured count (as memory allows).
    fn replenish_stem_cells(&mut self, now: Time) {
        if self.closed {
            return;
        }
        for p in self.config.prewarm.clone() {
            for node in 0..self.nodes.len() {
                let have = self
                    .containers
                    .values()
                    .filter(|c| {
                        c.node == node
                            && c.action.is_none()
                            && c.kind == p.kind
                            && c.memory_mb == p.memory_mb
                    })
                    .count() as u32;
                for _ in have..p.count {
                    if self.free_mb(node) < u64::from(p.memory_mb) {
                        break;
                    }
                    self.start_container(now, node, &p.kind, p.memory_mb, None);
                }
            }
        }
    }

    /// Place queued activations in order until one cannot be placed.
    pub(super) fn drain_queue(&mut self, now: Time) {
        while let Some(front) = self.queue.front() {
            let (activation, key) = (front.activation, front.action);
            if !self.place(now, activation, key) {
                break;
            }
            self.queue.pop_front();
            if let Some(a) = self.actions.get_mut(&key) {
                a.queued -= 1;
            }
            self.forget_retired(Some(key));
        }
    }

    fn fail(&mut self, activation: ActivationRef, failure: Failure) {
        self.commands.push_back(Command::Fail {
            activation,
            failure,
        });
    }
}

fn container_mut(
    containers: &mut BTreeMap<ContainerId, Container>,
    id: ContainerId,
) -> &mut Container {
    containers
        .get_mut(&id)
        .expect("the model only names containers it holds")
}

fn action_mut(actions: &mut HashMap<ActionKey, Action>, key: ActionKey) -> &mut Action {
    actions
        .get_mut(&key)
        .expect("the model only names actions it holds")
}
