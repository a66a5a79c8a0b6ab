//! The state machine's front: the [`Model`], its events in and commands out, and what each
//! event does. Placement is in `schedule.rs`, keep-alive and removal in `lifecycle.rs`, the
//! FaaS-system operations in `ops.rs`.

use std::collections::VecDeque;

use super::balance::{Candidate, ContainerSelector};
use super::config::ModelConfig;
use super::placement::NodeSelector;
use super::state::{action_mut, Actions, Container, Containers, Node, Phase, Queued};
use super::timers::{Timer, Timers};
use super::types::{ActionKey, ActivationRef, Command, ContainerId, Failure, Time};

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

/// The platform model. See the [module docs](super).
pub struct Model {
    pub(super) config: ModelConfig,
    pub(super) nodes: Vec<Node>,
    /// The largest node's memory: activations needing more fail at once.
    largest_mb: u64,
    pub(super) containers: Containers,
    /// Unordered: the autoscaling round sorts its moves (their order decides container ids).
    pub(super) actions: Actions,
    pub(super) queue: VecDeque<Queued>,
    pub(super) commands: VecDeque<Command>,
    pub(super) timers: Timers,
    pub(super) placement: Box<dyn NodeSelector>,
    pub(super) balance: Box<dyn ContainerSelector>,
    pub(super) next_container: u64,
    pub(super) closed: bool,
    /// When the autoscaling timer is set for (only while some deployed action autoscales,
    /// so a model without autoscaling is never woken for nothing).
    pub(super) autoscale_at: Option<Time>,
    /// Some deployed action autoscales (kept by deploy and remove: events must not walk
    /// every action to find out).
    pub(super) autoscale_wanted: bool,
    /// Evictions are making room for a container about to start: stem cells are refilled
    /// after it, not with the memory freed for it.
    pub(super) refill_held: bool,
    /// Buffers of `node_views_for`, reused: a placement allocates nothing.
    pub(super) fit_buffers: Option<super::schedule::Fit>,
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
            containers: Containers::default(),
            actions: Actions::default(),
            queue: VecDeque::new(),
            commands: VecDeque::new(),
            timers: Timers::default(),
            next_container: 1,
            closed: false,
            autoscale_at: None,
            autoscale_wanted: false,
            refill_held: false,
            fit_buffers: None,
        };
        model.replenish_stem_cells(now);
        model
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Feed one event.
    pub fn handle(&mut self, now: Time, event: Event) {
        self.arm_autoscale(now);
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
        self.arm_autoscale(now);
        while let Some((at, timer)) = self.timers.pop_due(now) {
            match timer {
                Timer::KeepAlive(id) => self.keepalive(now, at, id),
                Timer::Autoscale => {
                    self.autoscale_at = None;
                    self.autoscale(now);
                    self.arm_autoscale(now);
                }
            }
        }
        self.drain_queue(now);
    }

    /// Recompute whether some deployed action autoscales (after a deploy or remove).
    pub(super) fn refresh_autoscale_wanted(&mut self) {
        self.autoscale_wanted = self
            .actions
            .values()
            .any(|a| a.spec.autoscale.is_some() && !a.retired);
    }

    /// Set the autoscaling timer one period from `now` if some deployed action autoscales
    /// and it is not set yet.
    pub(super) fn arm_autoscale(&mut self, now: Time) {
        if self.autoscale_wanted && self.autoscale_at.is_none() && !self.closed {
            let at = now + self.config.autoscale_period.max(1);
            self.autoscale_at = Some(at);
            self.timers.set(at, Timer::Autoscale);
        }
    }

    /// Stop: every container is removed and every waiting activation failed.
    pub fn shutdown(&mut self) {
        self.closed = true;
        for q in std::mem::take(&mut self.queue) {
            self.fail(q.activation, Failure::Shutdown);
        }
        let mut ids: Vec<ContainerId> = self.containers.keys().copied().collect();
        ids.sort_unstable();
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

    /// When the next autoscaling round is due (a driver measuring utilisation reports it
    /// just before).
    pub fn autoscale_due(&self) -> Option<Time> {
        self.autoscale_at
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
        let was = c.evictable();
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
                self.settle(id, was);
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
        self.refresh_free(id);
        self.settle(id, false);
        if bound.is_empty() {
            self.become_idle(id);
        }
        let timeout = self.containers[&id]
            .action
            .and_then(|a| self.actions.get(&a))
            .map_or(0, |a| a.spec.timeout);
        for activation in bound {
            self.run(now, id, activation, true, timeout);
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
        let was = c.evictable();
        c.active = c.active.saturating_sub(1);
        c.runs += 1;
        c.last_used = now;
        if !healthy {
            c.doomed = true;
        }
        refresh_free(c, &mut self.actions);
        settle(c, was, &mut self.nodes);
        let (node, idle, doomed) = (c.node, c.active == 0, c.doomed);
        let n = &mut self.nodes[node.0];
        n.active = n.active.saturating_sub(1);
        if idle && doomed {
            self.remove_container(now, id);
        } else if idle {
            self.become_idle(id);
        }
        self.drain_queue(now);
    }

    /// Keep container `id`'s entry in its action's set of free containers in step with
    /// whether it can take an activation now (after its phase, load or doom changed).
    pub(super) fn refresh_free(&mut self, id: ContainerId) {
        refresh_free(&self.containers[&id], &mut self.actions);
    }

    /// Keep the node's evictable memory in step after container `id` changed; it was
    /// evictable before iff `was`.
    pub(super) fn settle(&mut self, id: ContainerId, was: bool) {
        settle(&self.containers[&id], was, &mut self.nodes);
    }

    pub(super) fn fail(&mut self, activation: ActivationRef, failure: Failure) {
        self.commands.push_back(Command::Fail {
            activation,
            failure,
        });
    }
}

/// [`Model::refresh_free`] of a container already in hand (the hot paths hold it: one
/// lookup instead of one per bookkeeping step).
pub(super) fn refresh_free(c: &Container, actions: &mut Actions) {
    let Some(key) = c.action else { return };
    let Some(a) = actions.get_mut(&key) else {
        return;
    };
    if c.has_warm_slot(key, &a.spec) {
        let candidate = Candidate {
            id: c.id,
            active: c.active,
            last_used: c.last_used,
        };
        a.free.upsert(c.node, candidate);
    } else {
        a.free.remove(c.node, c.id);
    }
}

/// [`Model::settle`] of a container already in hand.
pub(super) fn settle(c: &Container, was: bool, nodes: &mut [Node]) {
    let now = c.evictable();
    if now != was {
        let n = &mut nodes[c.node.0];
        if now {
            n.evictable_mb += u64::from(c.memory_mb);
        } else {
            n.evictable_mb -= u64::from(c.memory_mb);
        }
    }
}
