//! Containers as real processes: warm reuse, cold starts, synthetic parameters, time limits,
//! crashes, retirement on update, FIFO queueing, idle removal, blocking demotion, shutdown.

mod platform_support;

use std::time::{Duration, Instant};

use platform_support::{annotation, config, start, Client};
use serde_json::json;

#[tokio::test]
async fn warm_reuse_and_synthetic_parameters() {
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;
    c.put_action("noop", json!({})).await;

    let cold = c.invoke("noop", json!({})).await.json();
    let warm = c.invoke("noop", json!({})).await.json();
    assert!(annotation(&cold, "initTime").is_some());
    assert!(
        annotation(&warm, "initTime").is_none(),
        "second call is warm"
    );
    assert_eq!(
        annotation(&cold, "gale.container"),
        annotation(&warm, "gale.container")
    );
    assert_eq!(
        cold["response"]["result"]["pid"],
        warm["response"]["result"]["pid"]
    );
    let us = |a: &serde_json::Value, k: &str| annotation(a, k).and_then(|v| v.as_u64()).unwrap();
    assert!(
        us(&warm, "gale.durationUs") < us(&cold, "gale.durationUs"),
        "warm {} µs vs cold {} µs",
        us(&warm, "gale.durationUs"),
        us(&cold, "gale.durationUs")
    );

    let r = c
        .invoke("noop", json!({"cpu_ms": 40, "mem_mb": 32, "sleep_ms": 20}))
        .await
        .json();
    let res = &r["response"]["result"];
    let burned = res["burned_cpu_ns"].as_u64().unwrap();
    assert!(
        (40_000_000..70_000_000).contains(&burned),
        "burned {burned} ns for 40 ms"
    );
    assert!(res["wall_ns"].as_u64().unwrap() >= 60_000_000);
    assert_eq!(res["mem_mb"], 32);
    assert_eq!(p.pool_stats().0, 1, "one container served all of it");
    p.shutdown().await;
}

#[tokio::test]
async fn time_limit_and_crash_are_developer_errors() {
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;
    c.put_action("slow", json!({"limits": {"timeout": 300}}))
        .await;

    let t = Instant::now();
    let r = c.invoke("slow", json!({"sleep_ms": 5000})).await;
    assert!(t.elapsed() < Duration::from_secs(3));
    assert_eq!(r.status, 502);
    let a = r.json();
    assert_eq!(a["response"]["status"], "action developer error");
    assert_eq!(
        a["response"]["result"]["error"],
        "The action exceeded its time limits of 300 milliseconds."
    );
    assert_eq!(annotation(&a, "timeout"), Some(&json!(true)));
    let pid = c.invoke("slow", json!({})).await.json();
    assert!(
        annotation(&pid, "initTime").is_some(),
        "the killed container was replaced"
    );

    let r = c
        .invoke("slow", json!({"exit_code": 3, "stdout": "last words"}))
        .await;
    assert_eq!(r.status, 502);
    let a = r.json();
    assert_eq!(
        a["response"]["result"]["error"],
        "The action did not produce a valid response and exited unexpectedly."
    );
    let logs = a["logs"].as_array().unwrap();
    assert!(
        logs.iter()
            .any(|l| l.as_str().unwrap().ends_with("stdout: last words")),
        "{logs:?}"
    );
    assert!(logs
        .iter()
        .any(|l| l.as_str().unwrap().ends_with("Log data might be missing.")));
    let next = c.invoke("slow", json!({})).await;
    assert_eq!(next.status, 200, "the platform stays healthy");
    assert!(annotation(&next.json(), "initTime").is_some());
    p.shutdown().await;
}

#[tokio::test]
async fn update_retires_containers_and_idle_ones_go_away() {
    let mut cfg = config();
    cfg.model.keepalive.idle_timeout = 400 * gale::model::MS;
    let p = start(cfg).await;
    let mut c = Client::connect(&p).await;
    c.put_action("f", json!({})).await;
    c.invoke("f", json!({})).await;
    assert!(annotation(&c.invoke("f", json!({})).await.json(), "initTime").is_none());
    c.put_action("f", json!({"parameters": [{"key": "cpu_ms", "value": 1}]}))
        .await;
    let after = c.invoke("f", json!({})).await.json();
    assert!(
        annotation(&after, "initTime").is_some(),
        "a new revision starts cold"
    );
    assert_eq!(after["version"], "0.0.2");
    assert_eq!(
        p.pool_stats().0,
        1,
        "the old revision's container was removed"
    );

    let deadline = Instant::now() + Duration::from_secs(5);
    while p.pool_stats().0 > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        p.pool_stats(),
        (0, 0, 0),
        "idle container removed after the idle timeout"
    );
    c.send("DELETE", "/api/v1/namespaces/_/actions/f", None)
        .await;
    p.shutdown().await;
}

#[tokio::test]
async fn full_pool_queues_fifo() {
    let mut cfg = config();
    cfg.model.nodes[0].memory_mb = 256;
    let p = start(cfg).await;
    let mut c = Client::connect(&p).await;
    c.put_action("a", json!({"limits": {"memory": 256}})).await;
    c.put_action("b", json!({"limits": {"memory": 256}})).await;
    c.invoke("a", json!({})).await; // a's container now holds the whole pool

    let mut c1 = Client::connect(&p).await;
    let mut c2 = Client::connect(&p).await;
    let first = tokio::spawn(async move { c1.invoke("a", json!({"sleep_ms": 300})).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = tokio::spawn(async move { c2.invoke("a", json!({"sleep_ms": 10})).await });
    tokio::time::sleep(Duration::from_millis(50)).await;
    // b needs a's memory: a's idle container is evicted once both a calls are done.
    let third = c.invoke("b", json!({})).await.json();
    let (first, second) = (first.await.unwrap().json(), second.await.unwrap().json());
    assert_eq!(first["response"]["status"], "success");
    assert_eq!(second["response"]["status"], "success");
    let wait = annotation(&second, "waitTime").unwrap().as_u64().unwrap();
    assert!(
        wait >= 150,
        "the second call waited for the first: waitTime {wait} ms"
    );
    assert_eq!(
        annotation(&first, "gale.container"),
        annotation(&second, "gale.container")
    );
    assert_eq!(third["response"]["status"], "success");
    assert!(annotation(&third, "initTime").is_some());
    let (live, _, used) = p.pool_stats();
    assert_eq!((live, used), (1, 256));
    p.shutdown().await;
}

#[tokio::test]
async fn blocking_beyond_max_wait_is_demoted_to_202() {
    let mut cfg = config();
    cfg.max_blocking_wait = Duration::from_millis(300);
    let p = start(cfg).await;
    let mut c = Client::connect(&p).await;
    c.put_action("sleepy", json!({})).await;
    let t = Instant::now();
    let r = c.invoke("sleepy", json!({"sleep_ms": 1000})).await;
    assert_eq!(r.status, 202);
    assert!(t.elapsed() < Duration::from_millis(900));
    let id = r.json()["activationId"].as_str().unwrap().to_string();
    assert_eq!(r.header("x-openwhisk-activation-id"), Some(id.as_str()));
    let r = c
        .send(
            "GET",
            &format!("/api/v1/namespaces/_/activations/{id}"),
            None,
        )
        .await;
    assert_eq!(r.status, 404, "not stored before completion");
    let r = c.wait_activation(&id, Duration::from_secs(10)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["response"]["result"]["sleep_ms"], 1000);

    // `timeout` shortens the wait further.
    let r = c
        .send(
            "POST",
            "/api/v1/namespaces/_/actions/sleepy?blocking=true&timeout=50",
            Some(r#"{"sleep_ms":200}"#),
        )
        .await;
    assert_eq!(r.status, 202);
    p.shutdown().await;
}

#[tokio::test]
async fn shutdown_kills_action_processes() {
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;
    c.put_action("f", json!({})).await;
    let pid = c.invoke("f", json!({})).await.json()["response"]["result"]["pid"]
        .as_u64()
        .unwrap();
    c.send(
        "POST",
        "/api/v1/namespaces/_/actions/f",
        Some(r#"{"sleep_ms":60000}"#),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let t = Instant::now();
    p.shutdown().await;
    assert!(t.elapsed() < Duration::from_secs(3));
    // The process is killed (it may linger as a zombie until reaped, but not run).
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let running = state
            .split(") ")
            .nth(1)
            .is_some_and(|s| !s.starts_with('Z'));
        if !running {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "process {pid} still running: {state}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
