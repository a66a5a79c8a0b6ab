//! The model driven directly with a fake clock: every lifecycle transition and policy.

use super::autoscale::Policy as Scale;
use super::placement::{Policy as Place, Resource};
use super::*;

const KIND: &str = "gale:synthetic";

/// A driver that answers `Start` and `Init` at once (like an executor with instant
/// containers) and records everything else.
struct Harness {
    model: Model,
    /// Nanoseconds: tests write instants as sums of `MS` and `SECOND`.
    now: u64,
    log: Vec<Command>,
    next_activation: ActivationRef,
    /// Answer Start/Init automatically.
    auto: bool,
}

impl Harness {
    fn new(config: ModelConfig) -> Harness {
        let mut h = Harness {
            model: Model::new(config, Time::ZERO),
            now: 0,
            log: Vec::new(),
            next_activation: ActivationRef(1),
            auto: true,
        };
        h.pump();
        h
    }

    fn nodes(n: usize, memory_mb: u64) -> ModelConfig {
        ModelConfig {
            nodes: (0..n)
                .map(|i| NodeConfig {
                    name: format!("node{i}").into(),
                    memory_mb,
                    cpus: 2.0,
                })
                .collect(),
            ..ModelConfig::default()
        }
    }

    fn t(&self) -> Time {
        Time::from_nanos(self.now)
    }

    fn deploy(&mut self, key: u64, memory_mb: u32) {
        let mut spec = ActionSpec::new(&format!("guest/a{key}"), KIND);
        spec.memory_mb = memory_mb;
        self.model.deploy(ActionKey(key), spec);
    }

    fn pump(&mut self) -> Vec<Command> {
        let mut out = Vec::new();
        while let Some(c) = self.model.poll_command() {
            self.log.push(c.clone());
            match (&c, self.auto) {
                (Command::Start { container, .. }, true) => {
                    self.model.handle(self.t(), Event::Started(*container))
                }
                (Command::Init { container, .. }, true) => {
                    self.model.handle(self.t(), Event::Initialised(*container))
                }
                _ => {}
            }
            out.push(c);
        }
        out
    }

    fn invoke(&mut self, action: u64) -> (ActivationRef, Vec<Command>) {
        let activation = self.next_activation;
        self.next_activation.0 += 1;
        let action = ActionKey(action);
        self.model
            .handle(self.t(), Event::Invoke { activation, action });
        (activation, self.pump())
    }

    fn finish(&mut self, container: ContainerId, activation: ActivationRef) -> Vec<Command> {
        self.model.handle(
            self.t(),
            Event::Finished {
                container,
                activation,
                healthy: true,
            },
        );
        self.pump()
    }

    fn advance(&mut self, to: u64) -> Vec<Command> {
        self.now = to;
        self.model.handle_timeout(self.t());
        self.pump()
    }
}

fn run_of(cmds: &[Command]) -> Option<(ContainerId, bool)> {
    cmds.iter().find_map(|c| match c {
        Command::Run {
            container, cold, ..
        } => Some((*container, *cold)),
        _ => None,
    })
}

fn count(cmds: &[Command], pred: impl Fn(&Command) -> bool) -> usize {
    cmds.iter().filter(|c| pred(c)).count()
}

fn node_of(h: &Harness, c: ContainerId) -> usize {
    h.model.container(c).map(|v| v.node.0).unwrap()
}

#[test]
fn cold_start_then_warm_reuse() {
    let mut h = Harness::new(Harness::nodes(1, 1024));
    h.deploy(1, 256);
    let (a, cmds) = h.invoke(1);
    assert!(matches!(
        cmds[0],
        Command::Start {
            action: Some(ActionKey(1)),
            memory_mb: 256,
            ..
        }
    ));
    assert!(matches!(
        cmds[1],
        Command::Init {
            action: ActionKey(1),
            ..
        }
    ));
    let (c, cold) = run_of(&cmds).unwrap();
    assert!(cold);
    assert_eq!(
        h.model.container(c).unwrap().state,
        ContainerState::Running(1)
    );
    h.now = 5 * MS;
    h.finish(c, a);
    assert_eq!(h.model.container(c).unwrap().state, ContainerState::Idle);
    let (_, cmds) = h.invoke(1);
    assert_eq!(cmds.len(), 1, "a warm run needs no start: {cmds:?}");
    assert_eq!(run_of(&cmds), Some((c, false)));
}

#[test]
fn run_deadline_is_the_action_time_limit() {
    let mut h = Harness::new(Harness::nodes(1, 1024));
    let mut spec = ActionSpec::new("guest/t", KIND);
    spec.timeout = 3 * SECOND;
    h.model.deploy(ActionKey(9), spec);
    h.now = 7 * MS;
    let (_, cmds) = h.invoke(9);
    let deadline = cmds.iter().find_map(|c| match c {
        Command::Run { deadline, .. } => Some(*deadline),
        _ => None,
    });
    assert_eq!(deadline, Some(Time::from_nanos(7 * MS + 3 * SECOND)));
}

#[test]
fn idle_containers_pause_after_the_grace_and_go_after_the_idle_timeout() {
    let mut cfg = Harness::nodes(1, 1024);
    cfg.keepalive = KeepAliveConfig {
        pause_grace: Some(50 * MS),
        idle_timeout: 10 * SECOND,
    };
    let mut h = Harness::new(cfg);
    h.deploy(1, 256);
    let (a, cmds) = h.invoke(1);
    let (c, _) = run_of(&cmds).unwrap();
    h.now = MS;
    h.finish(c, a);
    assert_eq!(h.model.poll_timeout(), Some(Time::from_nanos(51 * MS)));
    assert!(h.advance(50 * MS).is_empty(), "not before the grace");
    assert_eq!(h.advance(51 * MS), [Command::Pause { container: c }]);
    assert_eq!(h.model.container(c).unwrap().state, ContainerState::Paused);
    // Reuse resumes it first, and restarts both clocks.
    h.now = 2 * SECOND;
    let (a, cmds) = h.invoke(1);
    assert_eq!(cmds[0], Command::Resume { container: c });
    assert_eq!(run_of(&cmds), Some((c, false)));
    h.now = 3 * SECOND;
    h.finish(c, a);
    assert!(h
        .advance(3 * SECOND + 10 * SECOND - 1)
        .iter()
        .all(|c| matches!(c, Command::Pause { .. })));
    assert_eq!(h.advance(13 * SECOND), [Command::Remove { container: c }]);
    assert!(h.model.containers().is_empty());
}

#[test]
fn openwhisk_1_0_pause_grace_is_expressible() {
    let mut cfg = Harness::nodes(1, 1024);
    cfg.keepalive.pause_grace = Some(50 * MS);
    cfg.keepalive.idle_timeout = 600 * SECOND;
    let mut h = Harness::new(cfg);
    h.deploy(1, 256);
    let (a, cmds) = h.invoke(1);
    let (c, _) = run_of(&cmds).unwrap();
    h.finish(c, a);
    assert_eq!(h.advance(50 * MS), [Command::Pause { container: c }]);
    assert!(h.advance(599 * SECOND).is_empty());
    assert_eq!(h.advance(600 * SECOND), [Command::Remove { container: c }]);
}

#[test]
fn cold_warming_uses_a_fresh_container_each_time() {
    let mut cfg = Harness::nodes(1, 1024);
    cfg.warming = Warming::Cold;
    let mut h = Harness::new(cfg);
    h.deploy(1, 256);
    let (a, cmds) = h.invoke(1);
    let (c1, cold) = run_of(&cmds).unwrap();
    assert!(cold);
    assert_eq!(h.finish(c1, a), [Command::Remove { container: c1 }]);
    let (_, cmds) = h.invoke(1);
    let (c2, cold) = run_of(&cmds).unwrap();
    assert!(cold && c2 != c1);
    assert!(matches!(cmds[0], Command::Start { .. }));
}

#[test]
fn prewarm_stem_cells_take_cold_starts_and_are_replaced() {
    let mut cfg = Harness::nodes(1, 2048);
    cfg.warming = Warming::Prewarm;
    cfg.prewarm = vec![PrewarmConfig {
        kind: KIND.into(),
        memory_mb: 256,
        count: 2,
    }];
    let mut h = Harness::new(cfg);
    let stems = count(&h.log, |c| matches!(c, Command::Start { action: None, .. }));
    assert_eq!(stems, 2);
    h.deploy(1, 256);
    let (_, cmds) = h.invoke(1);
    // Init of an existing stem cell, no process start for the action; then a replacement.
    assert!(matches!(
        cmds[0],
        Command::Init {
            action: ActionKey(1),
            ..
        }
    ));
    let (c, cold) = run_of(&cmds).unwrap();
    assert!(cold);
    assert!(c.0 <= 2, "a stem cell ran it");
    assert_eq!(
        count(&cmds, |c| matches!(c, Command::Start { action: None, .. })),
        1
    );
    // An action of another memory size cannot use them.
    h.deploy(2, 512);
    let (_, cmds) = h.invoke(2);
    assert!(matches!(
        cmds[0],
        Command::Start {
            action: Some(ActionKey(2)),
            ..
        }
    ));
}

#[test]
fn round_robin_spreads_evenly_over_nodes() {
    let mut cfg = Harness::nodes(3, 4096);
    cfg.placement = Place::RoundRobin;
    let mut h = Harness::new(cfg);
    h.deploy(1, 256);
    let mut per_node = [0; 3];
    for _ in 0..30 {
        let (a, cmds) = h.invoke(1);
        let (c, _) = run_of(&cmds).unwrap();
        per_node[node_of(&h, c)] += 1;
        h.finish(c, a);
    }
    assert_eq!(per_node, [10, 10, 10]);
}

#[test]
fn most_used_packs_and_least_used_spreads() {
    for (policy, expect) in [
        (Place::MostUsed(Resource::Memory), [4, 0]),
        (Place::LeastUsed(Resource::Memory), [2, 2]),
    ] {
        let mut cfg = Harness::nodes(2, 1024);
        cfg.placement = policy;
        let mut h = Harness::new(cfg);
        for k in 1..=4 {
            h.deploy(k, 256);
        }
        let mut per_node = [0; 2];
        for k in 1..=4 {
            let (_, cmds) = h.invoke(k);
            per_node[node_of(&h, run_of(&cmds).unwrap().0)] += 1;
        }
        assert_eq!(per_node, expect, "{}", policy.name());
    }
}

#[test]
fn a_memory_full_node_is_skipped_and_work_queues_when_all_are_full() {
    let mut cfg = Harness::nodes(2, 512);
    cfg.placement = Place::MostUsed(Resource::Memory);
    let mut h = Harness::new(cfg);
    h.deploy(1, 256);
    let runs: Vec<_> = (0..4).map(|_| h.invoke(1)).collect();
    let nodes: Vec<_> = runs
        .iter()
        .map(|(_, c)| node_of(&h, run_of(c).unwrap().0))
        .collect();
    assert_eq!(nodes, [0, 0, 1, 1]);
    // Every node is full of busy containers: the fifth waits, FIFO, then takes the first
    // container that finishes.
    let (_, cmds) = h.invoke(1);
    assert!(cmds.is_empty());
    assert_eq!(h.model.queue_len(), 1);
    let (a2, c2) = (runs[2].0, run_of(&runs[2].1).unwrap().0);
    let cmds = h.finish(c2, a2);
    assert_eq!(run_of(&cmds), Some((c2, false)));
    assert_eq!(h.model.queue_len(), 0);
}

#[test]
fn idle_containers_of_other_actions_are_evicted_lru_first() {
    let mut h = Harness::new(Harness::nodes(1, 512));
    h.deploy(1, 256);
    h.deploy(2, 256);
    h.deploy(3, 256);
    let (a1, c1) = h.invoke(1);
    let c1 = run_of(&c1).unwrap().0;
    let (a2, c2) = h.invoke(2);
    let c2 = run_of(&c2).unwrap().0;
    h.now = MS;
    h.finish(c2, a2);
    h.now = 2 * MS;
    h.finish(c1, a1);
    // Both idle, node full: action 3 evicts the least recently used (c2).
    let (_, cmds) = h.invoke(3);
    assert_eq!(cmds[0], Command::Remove { container: c2 });
    assert!(matches!(
        cmds[1],
        Command::Start {
            action: Some(ActionKey(3)),
            ..
        }
    ));
}

#[test]
fn too_big_fails_at_once() {
    let mut h = Harness::new(Harness::nodes(2, 512));
    h.deploy(1, 1024);
    let (a, cmds) = h.invoke(1);
    assert_eq!(
        cmds,
        [Command::Fail {
            activation: a,
            failure: Failure::TooBig {
                need_mb: 1024,
                largest_mb: 512
            }
        }]
    );
}

#[test]
fn a_failed_start_fails_its_activations_and_frees_the_memory() {
    let mut h = Harness::new(Harness::nodes(1, 256));
    h.auto = false;
    h.deploy(1, 256);
    let (a, cmds) = h.invoke(1);
    let Command::Start { container, .. } = cmds[0] else {
        panic!("{cmds:?}")
    };
    let (b, cmds) = h.invoke(1);
    assert!(cmds.is_empty(), "the node is full: b waits");
    let failure = Failure::Container {
        message: "boom".into(),
        timeout: false,
        internal: false,
        logs: std::sync::Arc::new([]),
    };
    h.model
        .handle(h.t(), Event::Failed(container, failure.clone()));
    let cmds = h.pump();
    assert_eq!(
        cmds[0],
        Command::Fail {
            activation: a,
            failure
        }
    );
    // The memory is free again, so b gets a container of its own.
    assert!(matches!(
        cmds[1],
        Command::Start {
            action: Some(ActionKey(1)),
            ..
        }
    ));
    assert_eq!(h.model.queue_len(), 0);
    let _ = b;
}

#[test]
fn an_unhealthy_container_is_removed() {
    let mut h = Harness::new(Harness::nodes(1, 1024));
    h.deploy(1, 256);
    let (a, cmds) = h.invoke(1);
    let (c, _) = run_of(&cmds).unwrap();
    h.model.handle(
        h.t(),
        Event::Finished {
            container: c,
            activation: a,
            healthy: false,
        },
    );
    assert_eq!(h.pump(), [Command::Remove { container: c }]);
}

#[test]
fn scale_up_discover_scale_down_suspend() {
    let mut cfg = Harness::nodes(2, 2048);
    cfg.placement = Place::RoundRobin;
    let mut h = Harness::new(cfg);
    h.deploy(1, 256);
    h.auto = false;
    assert_eq!(h.model.scale_up(Time::ZERO, ActionKey(1), 3), 3);
    let cmds = h.pump();
    assert_eq!(count(&cmds, |c| matches!(c, Command::Start { .. })), 3);
    let states: Vec<_> = h
        .model
        .discover(ActionKey(1))
        .iter()
        .map(|r| r.state)
        .collect();
    assert_eq!(states, [ContainerState::Starting; 3]);
    for r in h.model.discover(ActionKey(1)) {
        h.model.handle(Time::ZERO, Event::Started(r.id));
        h.model.handle(Time::ZERO, Event::Initialised(r.id));
    }
    h.pump();
    let replicas = h.model.discover(ActionKey(1));
    assert!(replicas.iter().all(|r| r.state == ContainerState::Idle));
    let nodes: std::collections::BTreeSet<_> = replicas.iter().map(|r| r.node).collect();
    assert_eq!(nodes.len(), 2, "round-robin spread the replicas");
    // A warm replica takes the next invocation.
    h.auto = true;
    let (a, cmds) = h.invoke(1);
    let (busy, cold) = run_of(&cmds).unwrap();
    assert!(!cold);
    assert_eq!(h.model.scale_down(Time::ZERO, ActionKey(1), 1), 1);
    assert_eq!(h.model.discover(ActionKey(1)).len(), 2);
    // Suspend: the idle one goes now, the busy one when it finishes; the action stays.
    h.pump();
    assert_eq!(h.model.suspend(Time::ZERO, ActionKey(1)), 2);
    assert_eq!(h.model.discover(ActionKey(1)).len(), 1);
    h.pump();
    assert_eq!(h.finish(busy, a), [Command::Remove { container: busy }]);
    assert!(h.model.discover(ActionKey(1)).is_empty());
    assert!(h.model.is_deployed(ActionKey(1)));
    let (_, cmds) = h.invoke(1);
    assert!(
        run_of(&cmds).unwrap().1,
        "after suspend the next start is cold"
    );
}

#[test]
fn removing_an_action_lets_queued_work_finish() {
    let mut h = Harness::new(Harness::nodes(1, 256));
    h.deploy(1, 256);
    let (a, cmds) = h.invoke(1);
    let (c, _) = run_of(&cmds).unwrap();
    let (_, queued) = h.invoke(1);
    assert!(queued.is_empty());
    h.model.remove(Time::ZERO, ActionKey(1));
    assert!(!h.model.is_deployed(ActionKey(1)));
    // The running container is retired when it finishes; the queued activation gets a
    // container of its own, used once.
    let cmds = h.finish(c, a);
    assert_eq!(cmds[0], Command::Remove { container: c });
    let (c2, cold) = run_of(&cmds).unwrap();
    assert!(cold);
    let b = ActivationRef(h.next_activation.0 - 1);
    assert_eq!(h.finish(c2, b), [Command::Remove { container: c2 }]);
    let (x, cmds) = h.invoke(1);
    assert_eq!(
        cmds,
        [Command::Fail {
            activation: x,
            failure: Failure::NotDeployed
        }]
    );
}

#[test]
fn request_rate_autoscaling_scales_up_and_to_zero() {
    let mut cfg = Harness::nodes(1, 8192);
    cfg.autoscale_period = SECOND;
    let mut h = Harness::new(cfg);
    let mut spec = ActionSpec::new("guest/auto", KIND);
    spec.autoscale = Some(AutoscaleConfig {
        policy: Scale::RequestRate { per_replica: 10.0 },
        min: 0,
        max: 8,
        zero_after: 3 * SECOND,
    });
    h.model.deploy(ActionKey(1), spec);
    // 40 invocations in the first second, each finishing at once.
    for i in 0..40 {
        h.now = i * 20 * MS;
        let (a, cmds) = h.invoke(1);
        let (c, _) = run_of(&cmds).unwrap();
        h.finish(c, a);
    }
    h.advance(SECOND);
    assert_eq!(
        h.model.discover(ActionKey(1)).len(),
        4,
        "40/s at 10/s per replica"
    );
    // Quiet: one replica is kept until zero_after, then none.
    h.advance(2 * SECOND);
    assert_eq!(h.model.discover(ActionKey(1)).len(), 1);
    h.advance(4 * SECOND);
    assert!(h.model.discover(ActionKey(1)).is_empty());
    // Idle timeouts do not fight the autoscaler: replicas it wants stay past them.
    assert!(h.model.is_deployed(ActionKey(1)));
}

#[test]
fn queue_length_autoscaling_follows_the_backlog() {
    let mut cfg = Harness::nodes(1, 8192);
    cfg.autoscale_period = SECOND;
    let mut h = Harness::new(cfg);
    let mut spec = ActionSpec::new("guest/q", KIND);
    spec.autoscale = Some(AutoscaleConfig {
        policy: Scale::QueueLength { per_replica: 1.0 },
        min: 1,
        max: 3,
        zero_after: 0,
    });
    h.model.deploy(ActionKey(1), spec);
    for _ in 0..5 {
        h.invoke(1);
    }
    h.advance(SECOND);
    // Five running (each got a container on demand); the autoscaler caps nothing it did
    // not start, and keeps at least `min` when they finish.
    assert_eq!(h.model.discover(ActionKey(1)).len(), 5);
    let running: Vec<_> = h
        .model
        .discover(ActionKey(1))
        .iter()
        .map(|r| r.id)
        .collect();
    for (i, c) in running.into_iter().enumerate() {
        h.finish(c, ActivationRef(i as u64 + 1));
    }
    h.advance(2 * SECOND);
    assert_eq!(h.model.discover(ActionKey(1)).len(), 1);
}

#[test]
fn the_same_events_give_the_same_commands() {
    let run = || {
        let mut cfg = Harness::nodes(4, 1024);
        cfg.placement = Place::Random;
        cfg.seed = 42;
        let mut h = Harness::new(cfg);
        for k in 1..=3 {
            h.deploy(k, 256);
        }
        for i in 0..40u64 {
            h.now = i * MS;
            let (a, cmds) = h.invoke(i % 3 + 1);
            if let Some((c, _)) = run_of(&cmds) {
                if i % 2 == 0 {
                    h.finish(c, a);
                }
            }
        }
        h.log
    };
    assert_eq!(run(), run());
}

#[test]
fn shutdown_fails_waiting_work_and_removes_everything() {
    let mut h = Harness::new(Harness::nodes(1, 256));
    h.deploy(1, 256);
    h.invoke(1);
    let (b, _) = h.invoke(1);
    h.model.shutdown();
    let cmds = h.pump();
    assert!(cmds.contains(&Command::Fail {
        activation: b,
        failure: Failure::Shutdown
    }));
    assert_eq!(count(&cmds, |c| matches!(c, Command::Remove { .. })), 1);
    assert_eq!(h.model.poll_timeout(), None);
}

/// Two actions that both scale up in the same autoscaling round: the round's order decides
/// which gets the lower container ids and the first pick of the nodes, so it must be defined
/// (it walked a std HashMap, whose order differs between two models in one process).
#[test]
fn two_autoscaled_actions_scale_in_the_same_order_every_run() {
    let run = || {
        let mut cfg = Harness::nodes(3, 8192);
        cfg.autoscale_period = SECOND;
        cfg.placement = Place::LeastUsed(Resource::Memory);
        let mut h = Harness::new(cfg);
        for (key, memory_mb) in [(7u64, 256), (3, 512), (11, 128), (5, 384)] {
            let mut spec = ActionSpec::new(&format!("guest/s{key}"), KIND);
            spec.memory_mb = memory_mb;
            spec.autoscale = Some(AutoscaleConfig {
                policy: Scale::RequestRate { per_replica: 5.0 },
                min: 0,
                max: 8,
                zero_after: 60 * SECOND,
            });
            h.model.deploy(ActionKey(key), spec);
        }
        for i in 0..80u64 {
            h.now = i * 10 * MS;
            let (a, cmds) = h.invoke([7, 3, 11, 5][i as usize % 4]);
            let (c, _) = run_of(&cmds).unwrap();
            h.finish(c, a);
        }
        h.advance(SECOND);
        h.advance(2 * SECOND);
        h.log
    };
    let first = run();
    for _ in 0..8 {
        assert_eq!(first, run());
    }
}

#[test]
fn the_autoscale_timer_is_armed_only_while_some_action_autoscales() {
    let mut cfg = Harness::nodes(1, 1024);
    cfg.autoscale_period = SECOND;
    cfg.keepalive.pause_grace = None;
    let mut h = Harness::new(cfg);
    h.deploy(1, 256);
    assert_eq!(h.model.poll_timeout(), None, "nothing to wake for");
    let (a, cmds) = h.invoke(1);
    h.finish(run_of(&cmds).unwrap().0, a);
    // Only the keep-alive of the idle container.
    assert_eq!(h.model.poll_timeout(), Some(Time::from_nanos(600 * SECOND)));
    let mut spec = ActionSpec::new("guest/auto", KIND);
    spec.autoscale = Some(AutoscaleConfig {
        policy: Scale::QueueLength { per_replica: 1.0 },
        min: 1,
        max: 2,
        zero_after: 0,
    });
    h.model.deploy(ActionKey(2), spec);
    h.now = 5 * MS;
    h.invoke(1);
    assert_eq!(
        h.model.poll_timeout(),
        Some(Time::from_nanos(5 * MS + SECOND))
    );
    // Removed: the round that comes due does not re-arm itself.
    h.model.remove(h.t(), ActionKey(2));
    h.advance(5 * MS + SECOND);
    assert_eq!(h.model.poll_timeout(), Some(Time::from_nanos(600 * SECOND)));
}

/// Evicting a stem cell to make room must not hand the freed memory to its replacement
/// before the container it was freed for: the node would be over-committed.
#[test]
fn eviction_for_a_new_container_is_not_taken_by_a_replacement_stem_cell() {
    let mut cfg = Harness::nodes(1, 768);
    cfg.prewarm = vec![PrewarmConfig {
        kind: KIND.into(),
        memory_mb: 256,
        count: 1,
    }];
    let mut h = Harness::new(cfg);
    for (key, memory_mb) in [(1u64, 128), (2, 512)] {
        let mut spec = ActionSpec::new(&format!("guest/a{key}"), "python:3");
        spec.memory_mb = memory_mb;
        h.model.deploy(ActionKey(key), spec);
    }
    h.now = MS;
    let (a, cmds) = h.invoke(1);
    h.finish(run_of(&cmds).unwrap().0, a);
    // 128 + a 256 stem cell reserved; the 512 MB action evicts the (older) stem cell.
    h.now = 2 * MS;
    let (_, cmds) = h.invoke(2);
    assert!(run_of(&cmds).is_some(), "{cmds:?}");
    let node = &h.model.nodes()[0];
    assert!(node.used_mb <= node.memory_mb, "over-committed: {node:?}");
}
