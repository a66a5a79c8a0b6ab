//! `gale inject --target FILE`: any function URL driven as plain HTTP. A small axum server
//! on loopback plays the functions (an OpenFaaS-style gateway and a Knative-style service
//! told apart by Host) and records every request it gets, as the ground truth the records
//! are checked against.

mod inject_support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use inject_support::{inject, Results, Sandbox};

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: HashMap<String, String>,
    body: String,
    /// How long the server held it before answering.
    held: Duration,
}

struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    rt: Option<tokio::runtime::Runtime>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// `/function/echo`: sleeps `sleep_ms` of its JSON body, answers `size` bytes; `boom`
/// answers 500, `busy` 429; `/resize`: answers the query back. Everything is recorded.
async fn handle(seen: Arc<Mutex<Vec<Seen>>>, req: Request) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = String::from_utf8_lossy(&body).into_owned();
    let params: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let (status, reply) = match target.as_str() {
        "/function/echo" => {
            let sleep = params["sleep_ms"].as_u64().unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(sleep)).await;
            let size = params["size"].as_u64().unwrap_or(0) as usize;
            (StatusCode::OK, "e".repeat(size))
        }
        "/function/boom" => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "kaput: out of spoons".into(),
        ),
        "/function/busy" => (StatusCode::TOO_MANY_REQUESTS, "slow down".into()),
        t if t.starts_with("/resize") => (StatusCode::OK, t.to_string()),
        _ => (StatusCode::NOT_FOUND, "no such function".into()),
    };
    seen.lock().unwrap().push(Seen {
        method,
        target,
        headers,
        body,
        held: start.elapsed(),
    });
    Response::builder()
        .status(status)
        .body(Body::from(reply))
        .unwrap()
}

fn start_server() -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let s = seen.clone();
    let app = axum::Router::new().fallback(move |req: Request| handle(s.clone(), req));
    rt.spawn(async move { axum::serve(listener, app).await });
    Server {
        addr,
        seen,
        rt: Some(rt),
    }
}

fn target_file(sb: &Sandbox, addr: SocketAddr) -> std::path::PathBuf {
    sb.write(
        "target.yml",
        &format!(
            "kind: http\n\
             url: http://{addr}/function/${{function}}\n\
             headers:\n  Content-Type: application/json\n  X-Gale-Name: ${{params.name}}\n\
             functions:\n\
             \x20 resize:\n\
             \x20   url: http://{addr}/resize?width=${{params.width}}&height=${{params.height}}\n\
             \x20   method: GET\n\
             \x20   headers: {{Host: '${{function}}.default.example.com'}}\n\
             \x20   body: ''\n"
        ),
    )
}

const TRACE: &str = "functions: [echo, boom, busy, resize]
invocations:
  - {at: 0, function: echo, params: {sleep_ms: 60, size: 1000}}
  - {at: 0.01, function: echo, params: {sleep_ms: 0, size: 10, name: a b}}
  - {at: 0.02, function: boom}
  - {at: 0.03, function: busy}
  - {at: 0.04, function: resize, params: {width: 640, height: 480}}
";

#[test]
fn requests_follow_the_templates_and_records_the_replies() {
    let sb = Sandbox::new();
    let server = start_server();
    let target = target_file(&sb, server.addr);
    let trace = sb.write("t.yaml", TRACE);
    let (out, dir) = inject(&sb, &trace, "out", &["--target", target.to_str().unwrap()]);
    out.expect_code(0);
    let seen = server.seen.lock().unwrap().clone();
    // One request per invocation: no deploy, no activation fetch.
    assert_eq!(seen.len(), 5, "{seen:#?}");
    let res = Results::read(&dir);
    res.assert_rows_are_prefix(5);
    let by_target = |t: &str| seen.iter().filter(|s| s.target == t).collect::<Vec<_>>();

    let echo = by_target("/function/echo");
    assert_eq!(echo.len(), 2);
    for s in &echo {
        assert_eq!(s.method, "POST");
        assert_eq!(s.headers["content-type"], "application/json");
        assert_eq!(s.headers["host"], server.addr.to_string());
        assert!(s.headers["user-agent"].starts_with("gale/"), "{s:?}");
    }
    let slow = echo
        .iter()
        .find(|s| s.body.contains("\"sleep_ms\":60"))
        .expect("slow echo");
    let body: serde_json::Value = serde_json::from_str(&slow.body).unwrap();
    assert_eq!(body, serde_json::json!({"sleep_ms": 60, "size": 1000}));
    assert_eq!(slow.headers["x-gale-name"], "");
    let named = echo
        .iter()
        .find(|s| s.body.contains("\"size\":10"))
        .expect("named echo");
    assert_eq!(named.headers["x-gale-name"], "a b");

    let resize = by_target("/resize?width=640&height=480");
    assert_eq!(resize.len(), 1, "{seen:#?}");
    assert_eq!(resize[0].method, "GET");
    assert_eq!(resize[0].headers["host"], "resize.default.example.com");
    assert_eq!(resize[0].body, "");

    // Records: completion = reply end − scheduled, at least what the server held it.
    let r0 = &res.records[0];
    assert_eq!(
        (r0.outcome.as_str(), r0.http_status, r0.response_bytes),
        ("success", Some(200), Some(1000))
    );
    assert!(r0.blocking && r0.activation_id.is_empty() && r0.cold.is_none());
    let completion = r0.completion_us.expect("completion");
    let held_us = slow.held.as_secs_f64() * 1e6;
    assert!(
        completion >= held_us,
        "completion {completion} µs < server's {held_us} µs"
    );
    assert!(completion >= 60_000.0, "{completion}");
    let end = r0.end_us.expect("end");
    assert!((end - r0.scheduled_us - completion).abs() < 0.01, "{r0:?}");
    let reply_end = r0.sent_us.unwrap() + r0.response_us.unwrap();
    assert!(
        (end - reply_end).abs() < 0.01,
        "end is not the reply's end: {r0:?}"
    );
    assert_eq!(res.records[1].response_bytes, Some(10));

    let boom = &res.records[2];
    assert_eq!(
        (boom.outcome.as_str(), boom.http_status),
        ("http_error", Some(500))
    );
    assert!(
        boom.error.contains("HTTP 500: kaput: out of spoons"),
        "{boom:?}"
    );
    assert_eq!(boom.response_bytes, Some(20));
    let busy = &res.records[3];
    assert_eq!(
        (busy.outcome.as_str(), busy.http_status),
        ("throttled", Some(429))
    );
    let resized = &res.records[4];
    assert_eq!(resized.outcome, "success");
    assert_eq!(
        resized.response_bytes,
        Some("/resize?width=640&height=480".len() as u64)
    );

    assert_eq!(res.summary_outcome("success"), 3);
    assert!(res.run_yaml.contains("kind: http"), "{}", res.run_yaml);
    assert!(
        res.run_yaml.contains("records_schema: 3"),
        "{}",
        res.run_yaml
    );
}

#[test]
fn an_unreachable_target_fails_every_invocation_and_exits_4() {
    let sb = Sandbox::new();
    // A port nobody listens on: bound, then closed.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let target = target_file(&sb, addr);
    let trace = sb.write("t.csv", "at,function\n0,echo\n0.01,echo\n");
    let (out, dir) = inject(&sb, &trace, "out", &["--target", target.to_str().unwrap()]);
    out.expect_code(4);
    let res = Results::read(&dir);
    assert_eq!(
        res.with_outcome("connect_error").len(),
        2,
        "{:?}",
        res.records
    );
    assert!(res
        .records
        .iter()
        .all(|r| r.completion_us.is_none() && r.response_bytes.is_none()));
}

#[test]
fn a_function_without_a_url_is_named_before_the_run() {
    let sb = Sandbox::new();
    let server = start_server();
    let target = sb.write(
        "listed.yml",
        &format!(
            "kind: http\nfunctions:\n  echo: {{url: 'http://{}/function/echo'}}\n",
            server.addr
        ),
    );
    let trace = sb.write("t.csv", "at,function\n0,echo\n0.01,resize\n");
    let (out, dir) = inject(&sb, &trace, "out", &["--target", target.to_str().unwrap()]);
    out.expect_code(1);
    assert!(
        out.stderr
            .contains("1 function the trace invokes is not on the platform")
            && out.stderr.contains("resize (no `url` for it in"),
        "{}",
        out.stderr
    );
    assert!(server.seen.lock().unwrap().is_empty(), "something was sent");
    assert!(!dir.exists());
}

#[test]
fn bad_target_files_and_flags_are_bad_input() {
    let sb = Sandbox::new();
    let trace = sb.write("t.csv", "at,function\n0,echo\n");
    let bad = sb.write("bad.yml", "kind: http\nurl: http://127.0.0.1:1/${fn}\n");
    let (out, _) = inject(&sb, &trace, "a", &["--target", bad.to_str().unwrap()]);
    out.expect_code(2);
    assert!(
        out.stderr.contains("bad.yml:2") && out.stderr.contains("unknown placeholder `${fn}`"),
        "{}",
        out.stderr
    );
    let ok = sb.write("ok.yml", "kind: http\nurl: http://127.0.0.1:1/\n");
    let (out, _) = inject(
        &sb,
        &trace,
        "b",
        &["--target", ok.to_str().unwrap(), "--non-blocking"],
    );
    out.expect_code(2);
    assert!(out.stderr.contains("--non-blocking"), "{}", out.stderr);
    let (out, _) = inject(
        &sb,
        &trace,
        "c",
        &["--target", ok.to_str().unwrap(), "--apihost", "http://x"],
    );
    out.expect_code(2);
    assert!(out.stderr.contains("cannot be used with"), "{}", out.stderr);
}

#[test]
fn the_example_target_files_load() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/targets");
    let mut n = 0;
    for e in std::fs::read_dir(&root).unwrap() {
        let p = e.unwrap().path();
        let t = gale::config::http_target::load(&p).unwrap_or_else(|e| panic!("{e}"));
        assert!(t.default.is_some() || !t.functions.is_empty());
        n += 1;
    }
    assert!(n >= 2);
}

#[test]
fn a_trace_with_openwhisk_entities_is_refused_before_anything_is_sent() {
    let sb = Sandbox::new();
    let server = start_server();
    let target = target_file(&sb, server.addr);
    let trace = sb.write(
        "entities.yaml",
        "packages:\n\
         \x20 - {name: media}\n\
         functions:\n\
         \x20 - {name: echo}\n\
         \x20 - {name: greet, web: {method: GET, extension: json}}\n\
         \x20 - {name: media/resize}\n\
         \x20 - {name: pipeline, kind: sequence, components: [media/resize, echo]}\n\
         \x20 - {name: upload, kind: trigger, rules: [echo]}\n\
         invocations:\n\
         \x20 - {at: 0, function: echo}\n\
         \x20 - {at: 0.01, function: pipeline}\n",
    );
    let (out, dir) = inject(&sb, &trace, "out", &["--target", target.to_str().unwrap()]);
    out.expect_code(2);
    for named in [
        "cannot run this trace",
        "package `media`",
        "web action `greet`",
        "sequence `pipeline`",
        "trigger `upload`",
    ] {
        assert!(out.stderr.contains(named), "{named}: {}", out.stderr);
    }
    assert!(server.seen.lock().unwrap().is_empty(), "something was sent");
    assert!(!dir.exists());
}
