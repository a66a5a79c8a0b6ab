//! Lifecycle events on the UNIX socket, for real containers started through the REST API:
//! snapshot then live events, real pids and cgroup paths, socket mode, stale and busy
//! paths, and a stalled subscriber that must not hold the platform back.

mod platform_support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use platform_support::{config, start, Client};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::UnixStream;

async fn next_event(lines: &mut tokio::io::Lines<BufReader<UnixStream>>) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("an event within 10 s")
        .unwrap()
        .expect("socket open");
    serde_json::from_str(&line).unwrap()
}

#[tokio::test]
async fn snapshot_then_live_events_with_cgroup_paths() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("events.sock");
    let mut cfg = config();
    cfg.events_socket = Some(sock.clone());
    let p = start(cfg).await;
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    // Nothing but the socket is left in the directory (the private bind dir is gone).
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

    let mut c = Client::connect(&p).await;
    c.put_action("fib", json!({})).await;
    let first = c.invoke("fib", json!({})).await.json();
    let pid = first["response"]["result"]["pid"].as_i64().unwrap();

    let mut lines = BufReader::new(UnixStream::connect(&sock).await.unwrap()).lines();
    let snap = next_event(&mut lines).await;
    assert_eq!(snap["event"], "started");
    assert_eq!(snap["action"], "guest/fib");
    assert_eq!(snap["node"], "node0");
    assert_eq!(snap["pid"], pid);
    assert!(snap["container"].as_str().unwrap().starts_with('c'));
    assert!(snap["time_us"].as_u64().unwrap() > 1_700_000_000_000_000);
    if let Some(tree) = p.cgroups() {
        // The process is in the cgroup the event names, in every hierarchy.
        let cgroups = snap["cgroups"].as_object().unwrap();
        assert!(cgroups.contains_key("memory"), "{snap}");
        for path in cgroups.values() {
            let procs = std::fs::read_to_string(format!("{}/cgroup.procs", path.as_str().unwrap()))
                .unwrap();
            assert!(procs.lines().any(|l| l == pid.to_string()), "{path}");
            assert!(path.as_str().unwrap().contains(tree.instance()));
        }
        let limit = std::fs::read_to_string(format!(
            "{}/memory.limit_in_bytes",
            cgroups["memory"].as_str().unwrap()
        ))
        .unwrap();
        assert_eq!(limit.trim(), (256u64 << 20).to_string());
    } else {
        eprintln!("no cgroups here: only the event flow is checked");
    }

    // An update retires the container (removed), the next call starts one (started).
    c.put_action("fib", json!({"limits": {"memory": 128}}))
        .await;
    let removed = next_event(&mut lines).await;
    assert_eq!(removed["event"], "removed");
    assert_eq!(removed["container"], snap["container"]);
    c.invoke("fib", json!({})).await;
    let started = next_event(&mut lines).await;
    assert_eq!(started["event"], "started");
    assert_ne!(started["container"], snap["container"]);

    // A second server on the same path is refused while this one lives.
    let mut again = config();
    again.events_socket = Some(sock.clone());
    assert!(gale::platform::start(again).await.is_err());

    p.shutdown().await;
    assert!(!sock.exists(), "socket file removed at shutdown");

    // A stale socket file (nobody listening) is replaced.
    let stale = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    drop(stale);
    let mut cfg = config();
    cfg.events_socket = Some(sock.clone());
    let p = start(cfg).await;
    assert!(UnixStream::connect(&sock).await.is_ok());
    drop(p);
}

#[tokio::test]
async fn a_stalled_subscriber_does_not_block_invocations() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("events.sock");
    let mut cfg = config();
    cfg.events_socket = Some(sock.clone());
    let p = start(cfg).await;
    let mut c = Client::connect(&p).await;
    c.put_action("noop", json!({})).await;
    c.invoke("noop", json!({})).await;

    // Connected, never reading.
    let mut stalled = UnixStream::connect(&sock).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let template = p.events().live()[0].clone();
    let flood = 20_000;
    for _ in 0..flood {
        p.events()
            .publish(template.again(gale::platform::events::EventKind::Paused));
    }
    // The platform goes on serving.
    for _ in 0..20 {
        let r = c.invoke("noop", json!({})).await;
        assert_eq!(r.status, 200);
    }
    // The stalled subscriber was cut off: reading now gives less than everything, then EOF.
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stalled.read_to_end(&mut all))
        .await
        .expect("the dropped subscriber's connection ends")
        .unwrap();
    let received = all.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
    assert!(received < flood, "received {received} of {flood}");
}

#[tokio::test]
async fn without_cgroups_containers_still_run_and_say_so() {
    let mut cfg = config();
    cfg.cgroups = false;
    let p = start(cfg).await;
    assert!(p.cgroups().is_none());
    let mut c = Client::connect(&p).await;
    c.put_action("noop", json!({})).await;
    let r = c.invoke("noop", json!({"mem_mb": 4})).await;
    assert_eq!(r.status, 200);
    let live = p.events().live();
    assert_eq!(live.len(), 1);
    assert!(live[0].cgroups.is_empty());
    assert_eq!(
        i64::from(live[0].pid),
        r.json()["response"]["result"]["pid"].as_i64().unwrap()
    );
    // Pausing falls back to signals on the process group, and the action still answers.
    let pid = live[0].pid;
    use gale::platform::cgroups::{pause, resume, PauseMethod};
    assert_eq!(pause(None, pid).unwrap(), PauseMethod::Signal);
    assert_eq!(resume(None, pid).unwrap(), PauseMethod::Signal);
    assert_eq!(c.invoke("noop", json!({})).await.status, 200);
}

#[tokio::test]
async fn keep_alive_pauses_then_resumes_with_events() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("events.sock");
    let mut cfg = config();
    cfg.events_socket = Some(sock.clone());
    cfg.model.keepalive.pause_grace = Some(50 * gale::model::MS);
    let p = start(cfg).await;
    let mut lines = BufReader::new(UnixStream::connect(&sock).await.unwrap()).lines();
    let mut c = Client::connect(&p).await;
    c.put_action("nap", json!({})).await;
    assert_eq!(c.invoke("nap", json!({})).await.status, 200);
    let started = next_event(&mut lines).await;
    assert_eq!(started["event"], "started");
    let paused = next_event(&mut lines).await;
    assert_eq!(paused["event"], "paused", "{paused}");
    assert_eq!(paused["container"], started["container"]);
    // The paused container is thawed for the next call, which is warm.
    let r = c.invoke("nap", json!({})).await;
    assert_eq!(r.status, 200);
    assert!(
        r.json()["annotations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["key"] != "initTime"),
        "warm: {}",
        r.json()
    );
    let resumed = next_event(&mut lines).await;
    assert_eq!(resumed["event"], "resumed", "{resumed}");
    assert_eq!(resumed["container"], started["container"]);
    p.shutdown().await;
}
