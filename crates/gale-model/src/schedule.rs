//! Scheduling: a node for each activation (the placement policy over the nodes that can take
//! it), then on that node a warm container (the balance policy), a stem cell, or a new
//! container after eviction; and the FIFO queue of activations no node can take yet.

use std::sync::Arc;

use super::config::{ActionSpec, Warming};
use super::core::{refresh_free, settle, Model};
use super::keepalive::Idle;
use super::state::{container_mut, Container, Phase};
use super::types::{
    ActionKey, ActivationRef, Command, ContainerId, Failure, NodeId, NodeView, Time,
};

/// The nodes as one activation finds them (see [`Model::node_views_for`]). Its vectors are
/// the model's reusable buffers: hand it back with [`Model::recycle`].
#[derive(Default)]
pub(super) struct Fit {
    /// Every node, with `evictable_mb`, `warm` and `fits` filled in.
    pub nodes: Vec<NodeView>,
    /// The action's warm containers with a free slot, by node then id (empty after a probe:
    /// a placement reads its node's free containers from the action).
    pub warm: Vec<ContainerId>,
    /// Per node, its first stem cell the action can take (only with prewarm warming).
    pub stem: Vec<Option<ContainerId>>,
}

impl Model {
    /// Try to start `activation` now; false if no node can take it yet.
    pub(super) fn place(&mut self, now: Time, activation: ActivationRef, key: ActionKey) -> bool {
        let Some(action) = self.actions.get(&key) else {
            self.fail(activation, Failure::NotDeployed);
            return true;
        };
        let spec = Arc::clone(&action.spec);
        let warming = self.warming_of(&spec, action.retired);
        let (chosen, fit) = self.choose(Some(key), &spec, warming);
        let Some(node) = chosen else {
            self.recycle(fit);
            return false;
        };
        let stem = fit.stem.get(node.0).copied().flatten();
        self.recycle(fit);
        // The node's free containers, with what the balance policy reads, as kept.
        let warm = match (warming, self.actions.get(&key)) {
            (Warming::Cold, _) | (_, None) => &[][..],
            (_, Some(a)) => a.free.on(node),
        };
        let chosen = match warm {
            [] => None,
            // One warm container on the node needs no balancing.
            [one] => Some(one.id),
            many => Some(self.balance.select(many)),
        };
        if let Some(id) = chosen {
            self.run(now, id, activation, false, spec.timeout);
            return true;
        }
        if let Some(id) = stem {
            let c = container_mut(&mut self.containers, id);
            let was = c.evictable();
            c.action = Some(key);
            c.phase = Phase::Initialising;
            c.bound.push(activation);
            self.settle(id, was);
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
        // Stem cells evicted above are replaced only with memory left after this start.
        self.replenish_stem_cells(now);
        true
    }

    /// How an activation of `spec` is warmed: a retired action's containers are single-use.
    fn warming_of(&self, spec: &ActionSpec, retired: bool) -> Warming {
        if retired {
            Warming::Cold
        } else {
            spec.warming.unwrap_or(self.config.warming)
        }
    }

    /// The node for an activation of `spec` (`key` `None`: room for a new container only),
    /// and the [`Fit`] whose `warm` and `stem` say what that node offers. A policy that
    /// probes nodes in an order of its own ([`NodeSelector::probe`]) is asked node by node,
    /// from the running totals, without the views of every node (`fit.nodes` is then not
    /// filled in); prewarm warming, which looks for stem cells in every container, and the
    /// load-aware policies get every node's view.
    pub(super) fn choose(
        &mut self,
        key: Option<ActionKey>,
        spec: &ActionSpec,
        warming: Warming,
    ) -> (Option<NodeId>, Fit) {
        if warming != Warming::Prewarm {
            let warm_key = key.filter(|_| warming != Warming::Cold);
            let need = u64::from(spec.memory_mb);
            let free = warm_key.and_then(|k| self.actions.get(&k)).map(|a| &a.free);
            let (nodes, configured) = (&self.nodes, &self.config.nodes);
            // The memory test first: it is arithmetic, the free set's is a lookup.
            let mut fits = |i: usize| {
                configured[i].memory_mb.saturating_sub(nodes[i].used_mb) + nodes[i].evictable_mb
                    >= need
                    || free.is_some_and(|f| f.any_on(NodeId(i)))
            };
            #[cfg(debug_assertions)]
            let expected: Vec<bool> = (0..nodes.len()).map(&mut fits).collect();
            if let Some(choice) = self.placement.probe(spec, self.nodes.len(), &mut fits) {
                let mut fit = self.fit_buffers.take().unwrap_or_default();
                fit.stem.clear();
                fit.warm.clear();
                // Debug builds (the tests) check the probe against the full views. (A
                // placement reads the chosen node's free containers from the action.)
                #[cfg(debug_assertions)]
                {
                    let mut warm = Vec::new();
                    if let (Some(node), Some(f)) = (choice, free) {
                        warm.extend(f.on(node).iter().map(|c| c.id));
                    }
                    self.fit_buffers = Some(fit);
                    let full = self.node_views_for(key, spec, warming);
                    let got: Vec<bool> = full.nodes.iter().map(|v| v.fits).collect();
                    assert_eq!(got, expected, "probed fits out of step with the views");
                    let on_chosen: Vec<ContainerId> = full
                        .warm
                        .iter()
                        .copied()
                        .filter(|id| Some(self.containers[id].node) == choice)
                        .collect();
                    warm.sort_unstable();
                    assert_eq!(warm, on_chosen, "free containers of the chosen node");
                    return (choice, full);
                }
                #[cfg(not(debug_assertions))]
                return (choice, fit);
            }
        }
        let fit = self.node_views_for(key, spec, warming);
        let choice = self.placement.select(spec, &fit.nodes);
        (choice, fit)
    }

    /// The action's containers with a free slot, by node then id (none for `None`).
    fn collect_warm(&self, key: Option<ActionKey>, out: &mut Vec<ContainerId>) {
        out.clear();
        if let Some(a) = key.and_then(|k| self.actions.get(&k)) {
            a.free.all_sorted(out);
        }
    }

    /// The nodes as an activation of `spec` finds them. `key` `None` asks for room for a new
    /// container only (scaling up): no warm containers or stem cells then. This runs for
    /// every placement, so it walks only the action's ready containers (and the containers
    /// only when prewarmed stem cells are wanted), reading each node's evictable memory from
    /// its running total.
    pub(super) fn node_views_for(
        &mut self,
        key: Option<ActionKey>,
        spec: &ActionSpec,
        warming: Warming,
    ) -> Fit {
        let mut fit = self.fit_buffers.take().unwrap_or_default();
        if fit.nodes.len() != self.nodes.len() {
            fit.nodes = self.bare_node_views();
        }
        for (v, n) in fit.nodes.iter_mut().zip(&self.nodes) {
            v.used_mb = n.used_mb;
            v.evictable_mb = n.evictable_mb;
            v.active = n.active;
            v.containers = n.containers;
            v.warm = false;
        }
        fit.stem.clear();
        let warm_key = key.filter(|_| warming != Warming::Cold);
        let mut warm = std::mem::take(&mut fit.warm);
        self.collect_warm(warm_key, &mut warm);
        for id in &warm {
            fit.nodes[self.containers[id].node.0].warm = true;
        }
        fit.warm = warm;
        if key.is_some() && warming == Warming::Prewarm {
            fit.stem.resize(self.nodes.len(), None);
            // Each node's stem cell of least id.
            for c in self.containers.values() {
                let slot = &mut fit.stem[c.node.0];
                if c.is_stem_cell_for(spec) && slot.is_none_or(|s| c.id < s) {
                    *slot = Some(c.id);
                }
            }
        }
        let need = u64::from(spec.memory_mb);
        for v in &mut fit.nodes {
            let stem = fit.stem.get(v.id.0).is_some_and(Option::is_some);
            v.fits = v.warm || stem || self.free_mb(v.id) + v.evictable_mb >= need;
        }
        #[cfg(debug_assertions)]
        self.check_running_totals(warm_key, spec, &fit);
        fit
    }

    /// Give `node_views_for`'s buffers back for the next placement.
    pub(super) fn recycle(&mut self, fit: Fit) {
        self.fit_buffers = Some(fit);
    }

    /// Debug builds (the tests) check the running totals against a walk of every container.
    #[cfg(debug_assertions)]
    fn check_running_totals(&self, warm_key: Option<ActionKey>, spec: &ActionSpec, fit: &Fit) {
        let mut evictable = vec![0u64; self.nodes.len()];
        let mut warm = Vec::new();
        for c in self.containers.values() {
            if c.evictable() {
                evictable[c.node.0] += u64::from(c.memory_mb);
            }
            if warm_key.is_some_and(|k| c.has_warm_slot(k, spec)) {
                warm.push(c.id);
            }
        }
        let kept: Vec<u64> = self.nodes.iter().map(|n| n.evictable_mb).collect();
        assert_eq!(kept, evictable, "evictable memory out of step");
        for (i, n) in self.nodes.iter().enumerate() {
            let mut walked: Vec<ContainerId> = self
                .containers
                .values()
                .filter(|c| c.node.0 == i && c.evictable())
                .map(|c| c.id)
                .collect();
            walked.sort_unstable();
            let mut kept: Vec<ContainerId> = n
                .ids
                .iter()
                .filter(|id| self.containers[id].evictable())
                .collect();
            kept.sort_unstable();
            assert_eq!(kept, walked, "evictable containers of node {i} out of step");
            let on_node = self.containers.values().filter(|c| c.node.0 == i).count();
            assert_eq!(n.ids.iter().count(), on_node, "containers of node {i}");
        }
        let mut listed = fit.warm.clone();
        listed.sort_unstable();
        warm.sort_unstable();
        assert_eq!(listed, warm, "free set out of step");
    }

    /// Evict idle containers on `node` until `need_mb` is free (no-op if it already is).
    pub(super) fn make_room(&mut self, now: Time, node: NodeId, need_mb: u32) {
        let free = self.free_mb(node);
        let need = u64::from(need_mb);
        if free >= need {
            return;
        }
        let mut idle: Vec<Idle> = self.nodes[node.0]
            .ids
            .iter()
            .map(|id| &self.containers[&id])
            .filter(|c| c.evictable())
            .map(|c| Idle {
                id: c.id,
                memory_mb: c.memory_mb,
                last_used: c.last_used,
                runs: c.runs,
            })
            .collect();
        self.refill_held = true;
        for id in self.config.eviction.victims(need - free, &mut idle) {
            self.remove_container(now, id);
        }
        self.refill_held = false;
    }

    /// Memory of `node` not reserved by any container, MB.
    pub(super) fn free_mb(&self, node: NodeId) -> u64 {
        self.config.nodes[node.0]
            .memory_mb
            .saturating_sub(self.nodes[node.0].used_mb)
    }

    /// Reserve memory on `node` and have the driver start a container (a stem cell when
    /// `action` is `None`).
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
        let n = &mut self.nodes[node.0];
        n.used_mb += u64::from(memory_mb);
        n.containers += 1;
        n.ids.insert(id);
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
    /// Run `activation` in ready container `id`, resuming it if paused, to be cut `timeout`
    /// from now; `cold` when it waited for the container's start or init.
    pub(super) fn run(
        &mut self,
        now: Time,
        id: ContainerId,
        activation: ActivationRef,
        cold: bool,
        timeout: u64,
    ) {
        let c = container_mut(&mut self.containers, id);
        let was = c.evictable();
        c.active += 1;
        c.last_used = now;
        if c.paused {
            c.paused = false;
            self.commands.push_back(Command::Resume { container: id });
        }
        self.nodes[c.node.0].active += 1;
        settle(c, was, &mut self.nodes);
        refresh_free(c, &mut self.actions);
        self.commands.push_back(Command::Run {
            activation,
            container: id,
            deadline: now + timeout,
            cold,
        });
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
}
