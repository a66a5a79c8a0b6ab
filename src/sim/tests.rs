//! The driver end to end, in memory: what the issue's "done means" asks of it.

use std::sync::Arc;

use super::dist::Dist;
use super::driver::{simulate, Settings};
use super::ops::{Op, Operation};
use super::profile::{Phases, Profile};
use super::record::{MemorySink, Outcome};
use crate::model::{ModelConfig, NodeConfig, MS, SECOND};
use crate::trace::{FunctionSpec, Invocation, Rows};

fn settings(nodes: &[(u64, f64)]) -> Settings {
    Settings {
        model: ModelConfig {
            nodes: nodes
                .iter()
                .enumerate()
                .map(|(i, &(memory_mb, cpus))| NodeConfig {
                    name: format!("node{i}").into(),
                    memory_mb,
                    cpus,
                })
                .collect(),
            ..ModelConfig::default()
        },
        limits: Default::default(),
        actions: Default::default(),
        namespace: "guest".into(),
        users: Vec::new(),
        functions: Vec::new(),
        blocking: true,
        profile: Profile {
            dispatch: None,
            defaults: Phases {
                start: Some(Dist::Fixed(50.0)),
                init: Some(Dist::Fixed(10.0)),
                ..Phases::default()
            },
            functions: Default::default(),
        },
        operations: Vec::new(),
        seed: 1,
        sample_period: 0,
    }
}

/// A synthetic function of `memory_mb` burning `cpu_ms` and sleeping `sleep_ms`.
fn function(name: &str, memory_mb: u32, cpu_ms: u32, sleep_ms: u32) -> FunctionSpec {
    let mut f = FunctionSpec::synthetic(name);
    f.memory_mb = Some(memory_mb);
    f.params = serde_json::from_str(&format!(
        r#"{{"cpu_ms": {cpu_ms}, "sleep_ms": {sleep_ms}}}"#
    ))
    .unwrap();
    f
}

fn rows(list: &[(u64, &str)]) -> Rows {
    let rows: Vec<_> = list
        .iter()
        .enumerate()
        .map(|(i, &(at_ms, f))| {
            Ok(Invocation {
                row: i as u64,
                at_ns: at_ms * MS,
                function: Arc::from(f),
                user: Arc::from("u"),
                params: None,
                blocking: None,
            })
        })
        .collect();
    Box::new(rows.into_iter())
}

fn run(s: &Settings, list: &[(u64, &str)]) -> MemorySink {
    let mut sink = MemorySink::default();
    simulate(s, rows(list), &mut sink).unwrap();
    sink.invocations.sort_by_key(|r| r.row);
    sink
}

#[test]
fn cold_then_warm_with_the_modelled_durations() {
    let mut s = settings(&[(1024, 2.0)]);
    s.functions = vec![function("f", 256, 20, 5)];
    let out = run(&s, &[(0, "f"), (1000, "f")]);
    let (a, b) = (&out.invocations[0], &out.invocations[1]);
    // Cold: start 50 + init 10, then 20 of CPU and 5 of sleep; the start counts in it.
    assert_eq!(a.cold, Some(true));
    assert_eq!(a.init_ns, Some(60 * MS));
    assert_eq!((a.start_ns, a.end_ns), (Some(0), Some(85 * MS)));
    assert_eq!(a.wait_ns, Some(0));
    assert_eq!(b.cold, Some(false));
    assert_eq!((b.start_ns, b.end_ns), (Some(1000 * MS), Some(1025 * MS)));
    assert_eq!(b.container, a.container);
    assert!(!a.queued && !b.queued);
}

#[test]
fn the_dispatch_delay_counts_in_the_completion_but_not_in_the_wait() {
    let mut s = settings(&[(1024, 2.0)]);
    s.functions = vec![function("f", 256, 20, 5)];
    s.profile.dispatch = Some(Dist::Fixed(3.0));
    let out = run(&s, &[(0, "f"), (1000, "f")]);
    let (a, b) = (&out.invocations[0], &out.invocations[1]);
    // The platform sees each call 3 ms after it was due; its cold start begins then.
    assert_eq!((a.scheduled_ns, a.start_ns), (0, Some(3 * MS)));
    assert_eq!(a.end_ns, Some(88 * MS));
    assert_eq!(
        a.wait_ns,
        Some(0),
        "wait counts from the platform's receipt"
    );
    assert_eq!((b.start_ns, b.end_ns), (Some(1003 * MS), Some(1028 * MS)));
}

/// Two users declared by the trace are two namespaces: each has its own action (and so
/// its own containers), as `gale inject` deploys them on the embedded platform.
#[test]
fn each_declared_user_has_its_own_action_and_containers() {
    let mut s = settings(&[(4096, 2.0)]);
    s.functions = vec![function("f", 256, 20, 0)];
    s.users = ["a", "b"]
        .iter()
        .map(|n| crate::trace::UserSpec {
            name: (*n).into(),
            namespace: None,
            auth: None,
        })
        .collect();
    let rows: Vec<Invocation> = [(0, "a"), (100, "b"), (200, "a"), (300, "x")]
        .iter()
        .enumerate()
        .map(|(i, &(at_ms, user))| Invocation {
            row: i as u64,
            at_ns: at_ms * MS,
            function: Arc::from("f"),
            user: Arc::from(user),
            params: None,
            blocking: None,
        })
        .collect();
    let mut sink = MemorySink::default();
    simulate(&s, Box::new(rows.into_iter().map(Ok)), &mut sink).unwrap();
    sink.invocations.sort_by_key(|r| r.row);
    let cold: Vec<_> = sink.invocations.iter().map(|r| r.cold.unwrap()).collect();
    // b's first call does not reuse a's idle container; an undeclared user is in the
    // platform's first namespace, a third action.
    assert_eq!(cold, [true, true, false, true]);
    let c: Vec<_> = sink.invocations.iter().map(|r| r.container).collect();
    assert_eq!(c[0], c[2]);
    assert!(c[1] != c[0] && c[3] != c[0] && c[3] != c[1]);
}

#[test]
fn a_run_past_its_time_limit_ends_there_whatever_its_phase() {
    let mut s = settings(&[(4096, 1.0)]);
    let limited = |name: &str, cpu_ms: u32, sleep_ms: u32| {
        let mut f = function(name, 256, cpu_ms, sleep_ms);
        f.timeout_ms = Some(100);
        f
    };
    // Cut while waiting without a core, cut in its CPU phase (stretched by the sharing
    // with `busy`), and one that ends exactly at its limit.
    s.functions = vec![
        limited("sleeper", 0, 500),
        limited("burner", 80, 0),
        limited("exact", 100, 0),
        function("busy", 256, 1000, 0),
    ];
    let out = run(
        &s,
        &[(0, "sleeper"), (0, "burner"), (0, "busy"), (2000, "exact")],
    );
    let r = &out.invocations;
    // Cold starts take 60 ms (start 50 + init 10); runs begin there.
    let ran = |i: usize| r[i].end_ns.unwrap() - r[i].start_ns.unwrap() - r[i].init_ns.unwrap();
    assert_eq!(r[0].outcome, Outcome::DeveloperError);
    assert_eq!(ran(0), 100 * MS);
    assert!(r[0].error.as_deref().unwrap().contains("100 milliseconds"));
    assert_eq!(
        r[1].outcome,
        Outcome::DeveloperError,
        "80 ms of CPU at half speed"
    );
    assert_eq!(ran(1), 100 * MS);
    assert_eq!(r[2].outcome, Outcome::Success);
    assert_eq!(
        r[3].outcome,
        Outcome::Success,
        "done at its limit has made it"
    );
    assert_eq!(ran(3), 100 * MS);
}

#[test]
fn a_queued_invocation_that_lands_on_a_warm_container_is_not_cold() {
    // Room for one container: the second arrival waits for the first's container.
    let mut s = settings(&[(256, 2.0)]);
    s.functions = vec![function("f", 256, 100, 0)];
    let out = run(&s, &[(0, "f"), (1, "f")]);
    let (a, b) = (&out.invocations[0], &out.invocations[1]);
    assert_eq!(a.cold, Some(true));
    assert_eq!(a.end_ns, Some(160 * MS));
    assert!(b.queued, "no node could take it at once");
    assert_eq!(b.cold, Some(false), "it ran in a warm container");
    assert_eq!(b.container, a.container);
    assert_eq!(b.start_ns, Some(160 * MS));
    assert_eq!(
        b.wait_ns,
        Some(159 * MS),
        "the queueing is its wait, not a cold start"
    );
    assert_eq!(b.init_ns, None);
}

#[test]
fn cpu_sharing_stretches_runs_on_an_oversubscribed_node() {
    // Two warm containers run 100 ms of CPU each at the same instant.
    let go = |cpus: f64| {
        let mut s = settings(&[(4096, cpus)]);
        s.functions = vec![function("f", 256, 100, 0), function("g", 256, 100, 0)];
        let out = run(&s, &[(0, "f"), (0, "g"), (1000, "f"), (1000, "g")]);
        let warm = &out.invocations[2..];
        warm.iter()
            .map(|r| (r.end_ns.unwrap() - r.start_ns.unwrap()) / MS)
            .collect::<Vec<_>>()
    };
    // Processor sharing: two runs on one core each progress at half speed.
    assert_eq!(go(1.0), [200, 200]);
    assert_eq!(go(2.0), [100, 100]);
    // One and a half cores: each gets 0.75 of one (133.3 ms, whole ms shown).
    assert_eq!(go(1.5), [133, 133]);
}

#[test]
fn operations_take_effect_at_their_instants() {
    let mut s = settings(&[(4096, 2.0)]);
    s.functions = vec![function("f", 256, 1, 0)];
    s.operations = vec![
        Operation {
            at_ns: 5 * SECOND,
            op: Op::ScaleUp,
            function: "f".into(),
            count: 3,
        },
        Operation {
            at_ns: 8 * SECOND,
            op: Op::Suspend,
            function: "f".into(),
            count: 0,
        },
        Operation {
            at_ns: 9 * SECOND,
            op: Op::Remove,
            function: "f".into(),
            count: 0,
        },
        Operation {
            at_ns: 11 * SECOND,
            op: Op::Deploy,
            function: "f".into(),
            count: 0,
        },
    ];
    let out = run(
        &s,
        &[
            (3000, "f"),
            (6000, "f"),
            (8500, "f"),
            (10_000, "f"),
            (12_000, "f"),
        ],
    );
    // f is deployed only by its deploy operation at 11 s: the first rows fail.
    let outcomes: Vec<_> = out.invocations.iter().map(|r| r.outcome.name()).collect();
    assert_eq!(
        outcomes,
        [
            "internal_error",
            "internal_error",
            "internal_error",
            "internal_error",
            "success"
        ]
    );
    let mut s2 = s.clone();
    s2.operations.retain(|o| o.op != Op::Deploy);
    let out = run(
        &s2,
        &[
            (3000, "f"),
            (6000, "f"),
            (8500, "f"),
            (10_000, "f"),
            (12_000, "f"),
        ],
    );
    let at = |ns: u64| ns as f64 / 1e9;
    let scaled: Vec<_> = out
        .containers
        .iter()
        .filter(|c| c.created_ns == 5 * SECOND)
        .collect();
    assert_eq!(scaled.len(), 3, "three replicas started at 5 s");
    for c in &scaled {
        assert_eq!(c.ready_ns, Some(5 * SECOND + 60 * MS));
        assert_eq!(
            c.removed_ns,
            Some(8 * SECOND),
            "suspended at 8 s: {}",
            at(c.removed_ns.unwrap())
        );
    }
    let r = &out.invocations;
    assert_eq!(r[1].cold, Some(false), "6 s: a scaled-up replica was warm");
    assert_eq!(r[2].cold, Some(true), "8.5 s: after suspend, cold");
    assert_eq!(
        r[3].outcome.name(),
        "internal_error",
        "10 s: removed at 9 s"
    );
}

#[test]
fn the_same_inputs_and_seed_give_the_same_rows() {
    let mut s = settings(&[(1024, 1.0), (1024, 1.0), (512, 2.0)]);
    s.model.placement = crate::model::placement::Policy::Random;
    s.sample_period = SECOND;
    s.profile.defaults.start = Some(Dist::Lognormal {
        mean_ms: 200.0,
        sd_ms: 300.0,
    });
    s.profile.functions.insert(
        "g".into(),
        Phases {
            run: Some(Dist::Exponential { mean_ms: 30.0 }),
            cpu_share: Some(0.5),
            ..Phases::default()
        },
    );
    s.functions = vec![function("f", 256, 40, 10), function("g", 384, 0, 0)];
    let list: Vec<(u64, &str)> = (0..400)
        .map(|i| (i * 7 % 5000 + i * 13, if i % 3 == 0 { "g" } else { "f" }))
        .collect();
    let mut sorted = list.clone();
    sorted.sort();
    let once = |seed| {
        let mut s = s.clone();
        s.seed = seed;
        let out = run(&s, &sorted);
        (out.invocations, out.containers, out.nodes)
    };
    let a = once(1);
    assert_eq!(a, once(1));
    assert_ne!(a.0, once(2).0, "another seed draws other durations");
}
