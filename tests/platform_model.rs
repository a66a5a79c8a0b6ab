//! The platform model on real processes: warming strategies, placement over nodes, pause
//! and idle removal, admin operations. Every policy is also unit-tested in src/model with a
//! fake clock; these tests check that the executor does what the model commands.

mod platform_support;

use std::time::{Duration, Instant};

use gale::model::{placement, NodeConfig, PrewarmConfig, Warming, MS};
use gale::platform::PlatformConfig;
use platform_support::{annotation, config, start, Client};
use serde_json::{json, Value};

fn nodes(c: &mut PlatformConfig, n: usize, memory_mb: u64) {
    c.model.nodes = (0..n)
        .map(|i| NodeConfig {
            name: format!("node{i}").into(),
            memory_mb,
            cpus: 1.0,
        })
        .collect();
}

fn us(a: &Value, key: &str) -> Option<u64> {
    annotation(a, key).and_then(Value::as_u64)
}

fn node(a: &Value) -> String {
    annotation(a, "gale.node")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

async fn admin(c: &mut Client, method: &str, path: &str, body: Option<&str>) -> Value {
    let r = c.send(method, &format!("/gale/v1/{path}"), body).await;
    assert_eq!(
        r.status,
        200,
        "{method} {path}: {}",
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}

#[tokio::test]
async fn cold_prewarm_and_warm_differ_in_init_time() {
    let mut cfg = config();
    cfg.model.prewarm = vec![PrewarmConfig {
        kind: "gale:synthetic".into(),
        memory_mb: 256,
        count: 1,
    }];
    for (name, warming) in [
        ("cold", Warming::Cold),
        ("pre", Warming::Prewarm),
        ("warm", Warming::Warm),
    ] {
        cfg.actions.insert(
            format!("guest/{name}"),
            gale::config::platform_file::ActionSettings {
                warming: Some(warming),
                autoscale: None,
            },
        );
    }
    let p = start(cfg).await;
    let mut c = Client::connect(&p).await;
    // Let the stem cell come up before the first call.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let list = admin(&mut c, "GET", "containers", None).await;
        if list
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["state"] == "prewarmed")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut init = std::collections::HashMap::new();
    for name in ["cold", "pre", "warm"] {
        c.put_action(name, json!({})).await;
        let mut times = Vec::new();
        for _ in 0..4 {
            let a = c.invoke(name, json!({})).await.json();
            assert_eq!(a["response"]["status"], "success", "{a}");
            times.push(us(&a, "gale.initTimeUs"));
        }
        init.insert(name, times);
    }
    // Cold: every call starts a process. Warm: only the first. Prewarm: the first only
    // injects the action into a running stem cell.
    let cold = &init["cold"];
    assert!(cold.iter().all(Option::is_some), "{cold:?}");
    let warm = &init["warm"];
    assert!(
        warm[0].is_some() && warm[1..].iter().all(Option::is_none),
        "{warm:?}"
    );
    let pre = &init["pre"];
    assert!(
        pre[0].is_some() && pre[1..].iter().all(Option::is_none),
        "{pre:?}"
    );
    let mut cold_sorted: Vec<u64> = cold.iter().flatten().copied().collect();
    cold_sorted.sort();
    let cold_median = cold_sorted[cold_sorted.len() / 2];
    let pre_init = pre[0].unwrap_or(u64::MAX);
    assert!(
        pre_init * 4 < cold_median,
        "prewarm init {pre_init} µs vs cold {cold_median} µs"
    );
    p.shutdown().await;
}

#[tokio::test]
async fn round_robin_spreads_evenly_over_nodes() {
    let mut cfg = config();
    nodes(&mut cfg, 3, 1024);
    cfg.model.placement = placement::Policy::RoundRobin;
    let p = start(cfg).await;
    let mut c = Client::connect(&p).await;
    c.put_action("rr", json!({})).await;
    let mut per_node = std::collections::BTreeMap::new();
    for _ in 0..30 {
        let a = c.invoke("rr", json!({})).await.json();
        *per_node.entry(node(&a)).or_insert(0) += 1;
    }
    assert_eq!(
        per_node.into_iter().collect::<Vec<_>>(),
        [
            ("node0".to_string(), 10),
            ("node1".to_string(), 10),
            ("node2".to_string(), 10)
        ]
    );
    p.shutdown().await;
}

#[tokio::test]
async fn most_used_packs_and_skips_a_full_node() {
    let mut cfg = config();
    nodes(&mut cfg, 2, 512);
    cfg.model.placement = placement::Policy::MostUsed(placement::Resource::Memory);
    let p = start(cfg).await;
    let mut c = Client::connect(&p).await;
    c.put_action("slow", json!({})).await;
    // Three concurrent 256 MB activations on two 512 MB nodes: node0 takes two (packing),
    // then it is full of busy containers and node1 takes the third.
    let mut calls = Vec::new();
    for _ in 0..3 {
        let mut c = Client::connect(&p).await;
        calls.push(tokio::spawn(async move {
            c.invoke("slow", json!({"sleep_ms": 600})).await.json()
        }));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut placed = Vec::new();
    for call in calls {
        placed.push(node(&call.await.unwrap()));
    }
    placed.sort();
    assert_eq!(placed, ["node0", "node0", "node1"]);
    let nodes = admin(&mut c, "GET", "nodes", None).await;
    assert_eq!(nodes[0]["used_mb"], 512);
    assert_eq!(nodes[1]["used_mb"], 256);
    p.shutdown().await;
}

fn process_state(pid: u64) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the parenthesised command name.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Whether the container of process `pid` is paused: its freezer says frozen, or, without
/// one, the process is stopped.
fn is_paused(p: &gale::platform::RunningPlatform, pid: u64) -> bool {
    let live = p.events().live();
    let cgroups = live
        .iter()
        .find(|e| e.pid as u64 == pid)
        .map(|e| &e.cgroups);
    let read = |dir: &std::path::PathBuf, file: &str| {
        std::fs::read_to_string(dir.join(file)).unwrap_or_default()
    };
    match cgroups {
        Some(cg) if cg.contains_key("freezer") => {
            read(&cg["freezer"], "freezer.state").trim() == "FROZEN"
        }
        Some(cg) if cg.contains_key("unified") => read(&cg["unified"], "cgroup.events")
            .lines()
            .any(|l| l.trim() == "frozen 1"),
        _ => process_state(pid) == Some('T'),
    }
}

#[tokio::test]
async fn idle_containers_are_paused_then_removed_on_time() {
    let mut cfg = config();
    cfg.model.keepalive.pause_grace = Some(100 * MS);
    cfg.model.keepalive.idle_timeout = 500 * MS;
    let p = start(cfg).await;
    let mut c = Client::connect(&p).await;
    c.put_action("idle", json!({})).await;
    let a = c.invoke("idle", json!({})).await.json();
    let pid = a["response"]["result"]["pid"].as_u64().unwrap();
    let done = Instant::now();
    let state_of = |list: &Value| -> Option<String> {
        list.as_array()?
            .first()
            .map(|c| c["state"].as_str().unwrap_or_default().to_string())
    };
    let mut seen = Vec::new();
    let mut paused_at = None;
    let mut gone_at = None;
    while done.elapsed() < Duration::from_secs(3) && gone_at.is_none() {
        let list = admin(&mut c, "GET", "containers", None).await;
        let state = state_of(&list);
        if state.as_deref() == Some("paused") && paused_at.is_none() {
            paused_at = Some(done.elapsed());
            // The process really is frozen (or stopped, without a freezer).
            let deadline = Instant::now() + Duration::from_millis(500);
            while !is_paused(&p, pid) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            assert!(is_paused(&p, pid), "pid {pid} is paused");
        }
        if state.is_none() {
            gone_at = Some(done.elapsed());
        }
        if seen.last() != Some(&state) {
            seen.push(state);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let paused_at = paused_at.unwrap_or_else(|| panic!("never paused: {seen:?}"));
    let gone_at = gone_at.unwrap_or_else(|| panic!("never removed: {seen:?}"));
    assert!(
        paused_at >= Duration::from_millis(90),
        "paused after {paused_at:?}"
    );
    assert!(
        gone_at >= Duration::from_millis(490),
        "removed after {gone_at:?}"
    );
    assert!(
        gone_at < Duration::from_millis(1500),
        "removed after {gone_at:?}"
    );
    // The process is gone too.
    let deadline = Instant::now() + Duration::from_secs(2);
    while process_state(pid).is_some_and(|s| s != 'Z') && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        process_state(pid).is_none_or(|s| s == 'Z'),
        "pid {pid} still runs"
    );
    p.shutdown().await;
}

#[tokio::test]
async fn scale_up_discover_scale_down_suspend() {
    let mut cfg = config();
    nodes(&mut cfg, 2, 2048);
    cfg.model.placement = placement::Policy::RoundRobin;
    let p = start(cfg).await;
    let mut c = Client::connect(&p).await;
    c.put_action("svc", json!({})).await;
    let r = admin(
        &mut c,
        "POST",
        "namespaces/_/actions/svc/scale",
        Some(r#"{"up":4}"#),
    )
    .await;
    assert_eq!(r["started"], 4);
    let deadline = Instant::now() + Duration::from_secs(5);
    let replicas = loop {
        let list = admin(&mut c, "GET", "namespaces/_/actions/svc/replicas", None).await;
        let list = list.as_array().unwrap().clone();
        if list.iter().all(|r| r["state"] == "idle") || Instant::now() > deadline {
            break list;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(replicas.len(), 4);
    assert!(replicas
        .iter()
        .all(|r| r["state"] == "idle" && r["action"] == "guest/svc"));
    let on_node1 = replicas.iter().filter(|r| r["node"] == "node1").count();
    assert_eq!(on_node1, 2, "round-robin placed the replicas");
    // A scaled-up replica serves the next call warm.
    let a = c.invoke("svc", json!({})).await.json();
    assert!(annotation(&a, "initTime").is_none(), "{a}");
    let r = admin(
        &mut c,
        "POST",
        "namespaces/_/actions/svc/scale",
        Some(r#"{"down":1}"#),
    )
    .await;
    assert_eq!(r["removed"], 1);
    let list = admin(&mut c, "GET", "namespaces/_/actions/svc/replicas", None).await;
    assert_eq!(list.as_array().unwrap().len(), 3);
    let r = admin(&mut c, "POST", "namespaces/_/actions/svc/suspend", None).await;
    assert_eq!(r["removed"], 3);
    let list = admin(&mut c, "GET", "namespaces/_/actions/svc/replicas", None).await;
    assert!(list.as_array().unwrap().is_empty());
    // Still deployed: the next call starts cold.
    let a = c.invoke("svc", json!({})).await.json();
    assert!(annotation(&a, "initTime").is_some());
    // Bad requests are refused with what was expected.
    let r = c
        .send(
            "POST",
            "/gale/v1/namespaces/_/actions/svc/scale",
            Some(r#"{"up":1,"down":1}"#),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.error().contains("exactly one of"), "{}", r.error());
    let r = c
        .send("GET", "/gale/v1/namespaces/_/actions/nope/replicas", None)
        .await;
    assert_eq!(r.status, 404);
    // The namespace segment is percent-decoded, as in the OpenWhisk API; another is refused.
    admin(
        &mut c,
        "GET",
        "namespaces/gu%65st/actions/svc/replicas",
        None,
    )
    .await;
    let r = c
        .send(
            "GET",
            "/gale/v1/namespaces/other/actions/svc/replicas",
            None,
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.error(),
        "The supplied authentication is not authorized to access this resource."
    );
    c.auth = None;
    assert_eq!(c.send("GET", "/gale/v1/nodes", None).await.status, 401);
    p.shutdown().await;
}

#[test]
fn gale_fn_talks_to_a_running_platform() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let p = rt.block_on(start(config()));
    let host = p.api_host();
    rt.block_on(async {
        let mut c = Client::connect(&p).await;
        c.put_action("cli", json!({})).await;
    });
    // An empty wskprops file: nothing of the machine's own settings leaks in (a missing
    // one would be an error).
    let props = tempfile::NamedTempFile::new().unwrap();
    let gale = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gale"))
            .arg("fn")
            .args(args)
            .args(["--apihost", &host])
            .env("WSK_CONFIG_FILE", props.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = gale(&["scale", "cli", "--up", "2"]);
    assert!(ok && out.contains("started: 2"), "{out}");
    let (ok, out) = gale(&["discover", "cli"]);
    assert!(ok && out.matches("guest/cli").count() == 2, "{out}");
    let (ok, out) = gale(&["nodes"]);
    assert!(
        ok && out.contains("node0") && out.contains("used_mb"),
        "{out}"
    );
    let (ok, out) = gale(&["suspend", "nope"]);
    assert!(!ok && out.contains("404"), "{out}");
    rt.block_on(p.shutdown());
}

/// The admin API's resource figures come from the cgroups: a container that burned 30 ms of
/// CPU shows at least that much, and so does its node.
#[tokio::test]
async fn containers_and_nodes_report_measured_usage() {
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;
    c.put_action("burn", json!({})).await;
    let a = c
        .invoke("burn", json!({"cpu_ms": 30, "mem_mb": 8}))
        .await
        .json();
    assert_eq!(a["response"]["status"], "success", "{a}");
    let list = admin(&mut c, "GET", "containers", None).await;
    let nodes = admin(&mut c, "GET", "nodes", None).await;
    if p.cgroups().is_none() {
        eprintln!("no cgroups here: figures are null");
        assert!(list[0]["cpu_ms"].is_null() && nodes[0]["cpu_ms"].is_null());
        return;
    }
    let cpu = list[0]["cpu_ms"].as_f64().expect("cpu_ms");
    assert!(cpu >= 29.0, "container cpu_ms {cpu}");
    assert!(list[0]["memory_bytes"].as_u64().unwrap() > 0, "{list}");
    let node_cpu = nodes[0]["cpu_ms"].as_f64().expect("node cpu_ms");
    assert!(node_cpu >= cpu - 0.001, "node {node_cpu} < container {cpu}");
    p.shutdown().await;
}
