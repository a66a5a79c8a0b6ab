//! The FaaS-system operations (deploy, remove, discover, scale_up, scale_down, suspend),
//! read-only views for the admin API, and the autoscaling round.

use super::autoscale::Stats;
use super::config::{ActionSpec, Warming};
use super::core::Model;
use super::state::{container_mut, Action, Phase};
use super::types::{ActionKey, ContainerId, ContainerView, NodeId, NodeView, Replica, Time};

impl Model {
    /// Deploy (or replace the settings of) an action revision.
    pub fn deploy(&mut self, key: ActionKey, spec: ActionSpec) {
        match self.actions.get_mut(&key) {
            Some(a) => a.spec = std::sync::Arc::new(spec),
            None => {
                self.actions.insert(
                    key,
                    Action {
                        spec: std::sync::Arc::new(spec),
                        retired: false,
                        queued: 0,
                        arrivals: 0,
                        last_arrival: None,
                        utilisation: None,
                        free: Default::default(),
                    },
                );
            }
        }
        self.refresh_autoscale_wanted();
    }

    /// Remove an action revision (deleted or replaced): its idle containers go now, busy
    /// ones when their activations finish; activations already queued still run, each in a
    /// container of its own.
    pub fn remove(&mut self, now: Time, key: ActionKey) {
        let Some(a) = self.actions.get_mut(&key) else {
            return;
        };
        a.retired = true;
        self.refresh_autoscale_wanted();
        self.suspend(now, key);
        self.forget_retired(Some(key));
    }

    /// Whether the model still holds `key` (deployed, or removed but still referenced).
    pub fn knows(&self, key: ActionKey) -> bool {
        self.actions.contains_key(&key)
    }

    /// Whether `key` is deployed (and not removed).
    pub fn is_deployed(&self, key: ActionKey) -> bool {
        self.actions.get(&key).is_some_and(|a| !a.retired)
    }

    /// The utilisation of `key`'s replicas measured over the current autoscaling period
    /// (0..=1: busy share of their capacity), for the utilisation policy's next round, as a
    /// metrics server feeds Kubernetes' HPA. Without it the policy counts running
    /// activations at the round's instant.
    pub fn observe_utilisation(&mut self, key: ActionKey, utilisation: f64) {
        if let Some(a) = self.actions.get_mut(&key) {
            a.utilisation = Some(utilisation.max(0.0));
        }
    }

    /// Whether some deployed action autoscales (a driver measuring utilisation for the
    /// autoscaler needs to only then).
    pub fn autoscales(&self) -> bool {
        self.autoscale_wanted
    }

    /// The replicas of an action and their states.
    pub fn discover(&self, key: ActionKey) -> Vec<Replica> {
        let mut r: Vec<Replica> = self
            .containers
            .values()
            .filter(|c| c.action == Some(key))
            .map(|c| c.view())
            .collect();
        r.sort_unstable_by_key(|v| v.id);
        r
    }

    /// Start `n` more replicas (placed by the placement policy, initialised, left idle).
    /// Returns how many could be placed.
    pub fn scale_up(&mut self, now: Time, key: ActionKey, n: u32) -> u32 {
        let Some(spec) = self
            .actions
            .get(&key)
            .filter(|a| !a.retired)
            .map(|a| a.spec.clone())
        else {
            return 0;
        };
        let mut started = 0;
        for _ in 0..n {
            let (chosen, fit) = self.choose(None, &spec, Warming::Cold);
            self.recycle(fit);
            let Some(node) = chosen else {
                break;
            };
            self.make_room(now, node, spec.memory_mb);
            self.start_container(now, node, &spec.kind, spec.memory_mb, Some(key));
            self.replenish_stem_cells(now);
            started += 1;
        }
        started
    }

    /// Remove up to `n` replicas: idle ones first (least recently used first), then busy
    /// ones once they finish. Returns how many will go.
    pub fn scale_down(&mut self, now: Time, key: ActionKey, n: u32) -> u32 {
        let removed = self.remove_idle(now, key, n);
        let mut doomed = 0;
        // Busy ones in id order (oldest first).
        let mut busy: Vec<ContainerId> = self
            .containers
            .values()
            .filter(|c| c.action == Some(key) && !c.doomed)
            .map(|c| c.id)
            .collect();
        busy.sort_unstable();
        for id in busy {
            let c = container_mut(&mut self.containers, id);
            if removed + doomed >= n {
                break;
            }
            if c.action == Some(key) && !c.doomed {
                c.doomed = true;
                doomed += 1;
                if let Some(a) = self.actions.get_mut(&key) {
                    a.free.remove(c.node, c.id);
                }
            }
        }
        removed + doomed
    }

    /// Remove every replica (busy ones when they finish) but keep the deployment: the next
    /// invocation starts cold.
    pub fn suspend(&mut self, now: Time, key: ActionKey) -> u32 {
        self.scale_down(now, key, u32::MAX)
    }

    /// The nodes and their reserved resources.
    pub fn nodes(&self) -> Vec<NodeView> {
        self.bare_node_views()
    }

    /// The nodes as configured with what the model tracks of them; `fits` and `warm` are
    /// left for the caller to fill in.
    pub(super) fn bare_node_views(&self) -> Vec<NodeView> {
        let configured = self.config.nodes.iter().zip(&self.nodes);
        configured
            .enumerate()
            .map(|(id, (cfg, n))| NodeView {
                id: NodeId(id),
                name: cfg.name.clone(),
                memory_mb: cfg.memory_mb,
                used_mb: n.used_mb,
                evictable_mb: n.evictable_mb,
                cpus: cfg.cpus,
                active: n.active,
                containers: n.containers,
                fits: false,
                warm: false,
            })
            .collect()
    }

    /// Every live container.
    pub fn containers(&self) -> Vec<ContainerView> {
        let mut all: Vec<ContainerView> = self.containers.values().map(|c| c.view()).collect();
        all.sort_unstable_by_key(|v| v.id);
        all
    }

    /// One container.
    pub fn container(&self, id: ContainerId) -> Option<ContainerView> {
        self.containers.get(&id).map(|c| c.view())
    }

    /// Remove up to `n` idle (or paused) replicas of `key`, least recently used first.
    fn remove_idle(&mut self, now: Time, key: ActionKey, n: u32) -> u32 {
        let mut idle: Vec<(Time, ContainerId)> = self
            .containers
            .values()
            .filter(|c| c.action == Some(key) && c.phase == Phase::Ready && c.active == 0)
            .map(|c| (c.last_used, c.id))
            .collect();
        idle.sort();
        let mut removed = 0;
        for (_, id) in idle.into_iter().take(n as usize) {
            self.remove_container(now, id);
            removed += 1;
        }
        removed
    }

    /// One autoscaling round: each autoscaled action moves toward its policy's count.
    pub(super) fn autoscale(&mut self, now: Time) {
        let period_s = self.config.autoscale_period as f64 / 1e9;
        let mut moves = Vec::new();
        for (&key, a) in self.actions.iter_mut() {
            let arrivals = std::mem::take(&mut a.arrivals);
            let utilisation = a.utilisation.take();
            let Some(cfg) = a.spec.autoscale.clone().filter(|_| !a.retired) else {
                continue;
            };
            let live = self
                .containers
                .values()
                .filter(|c| c.action == Some(key) && !c.doomed);
            let (replicas, active) = live.fold((0u32, 0u32), |(r, act), c| (r + 1, act + c.active));
            let stats = Stats {
                replicas,
                active,
                queued: a.queued,
                arrivals,
                period_s,
                concurrency: a.spec.concurrency,
                utilisation,
            };
            let mut want = cfg
                .policy
                .desired(&stats)
                .clamp(cfg.min, cfg.max.max(cfg.min));
            let quiet = a
                .last_arrival
                .is_none_or(|t| now.since(t) >= cfg.zero_after);
            if want == 0 && !quiet {
                want = 1;
            }
            if want != replicas {
                moves.push((key, replicas, want));
            }
        }
        // The walk above is in the hash map's order; the moves, in key order.
        moves.sort_unstable_by_key(|&(key, _, _)| key);
        for (key, have, want) in moves {
            if want > have {
                self.scale_up(now, key, want - have);
            } else {
                self.remove_idle(now, key, have - want);
            }
        }
    }
}
