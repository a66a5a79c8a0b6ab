//! Container lifecycle after placement: keep-alive (pause, then removal of idle containers),
//! removal and its bookkeeping, retired actions, and refilling the stem-cell pool.

use super::config::ModelConfig;
use super::core::Model;
use super::state::{container_mut, Container, Phase};
use super::timers::Timer;
use super::types::{ActionKey, Command, ContainerId, NodeId, Time};

impl Model {
    /// Arm the keep-alive of a container that just became idle (unless an earlier timer is
    /// already set: it re-arms itself when it fires early).
    pub(super) fn become_idle(&mut self, id: ContainerId) {
        let c = container_mut(&mut self.containers, id);
        let due = keepalive_due(&self.config, c);
        if c.timer_at.is_none_or(|t| t > due) {
            c.timer_at = Some(due);
            self.timers.set(due, Timer::KeepAlive(id));
        }
    }

    /// A keep-alive timer set for `at` fired: pause or remove the container if it has been
    /// idle long enough, else wait for its real deadline.
    pub(super) fn keepalive(&mut self, now: Time, at: Time, id: ContainerId) {
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
        let due = keepalive_due(&self.config, &self.containers[&id]);
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

    /// Have the driver remove container `id` now.
    pub(super) fn remove_container(&mut self, now: Time, id: ContainerId) {
        if self.containers.contains_key(&id) {
            self.commands.push_back(Command::Remove { container: id });
            self.release(now, id);
        }
    }

    /// Forget container `id` (removed, or failed and cleaned up by the driver): its memory
    /// is free again, a retired action it ran may go, and stem cells are refilled.
    pub(super) fn release(&mut self, now: Time, id: ContainerId) {
        let Some(c) = self.containers.remove(&id) else {
            return;
        };
        let n = &mut self.nodes[c.node.0];
        n.used_mb -= u64::from(c.memory_mb);
        n.containers -= 1;
        n.ids.remove(id);
        if c.evictable() {
            n.evictable_mb -= u64::from(c.memory_mb);
        }
        if let Some(a) = c.action.and_then(|a| self.actions.get_mut(&a)) {
            a.free.remove(c.node, id);
        }
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
    pub(super) fn replenish_stem_cells(&mut self, now: Time) {
        if self.closed || self.refill_held {
            return;
        }
        for p in self.config.prewarm.clone() {
            for node in (0..self.nodes.len()).map(NodeId) {
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
}

/// When the keep-alive next acts on idle container `c`: its pause, else its removal.
fn keepalive_due(config: &ModelConfig, c: &Container) -> Time {
    let k = config.keepalive;
    match k.pause_after() {
        Some(grace) if !c.paused => c.last_used + grace,
        _ => c.last_used + k.idle_timeout,
    }
}
