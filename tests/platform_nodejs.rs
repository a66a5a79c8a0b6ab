//! The `nodejs:20` kind end to end: PUT an action with JavaScript code, invoke it blocking,
//! check OpenWhisk's Node.js runtime behaviours (results, Promises, errors, logs, cold and
//! warm, prewarmed stem cells) and concurrent activations in one container.
//!
//! Skipped (with a line on stderr) only when `node` is not installed; .ci/run installs it.

mod platform_support;

use std::time::{Duration, Instant};

use platform_support::{annotation, config, start, Client};
use serde_json::{json, Value};

fn have_node() -> bool {
    let found = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipped: `node` is not installed");
    }
    found
}

async fn put_js(c: &mut Client, name: &str, code: &str, extra: Value) -> Value {
    let mut body = json!({"exec": {"kind": "nodejs:default", "code": code}});
    if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
        b.extend(e);
    }
    let r = c
        .send(
            "PUT",
            &format!("/api/v1/namespaces/_/actions/{name}?overwrite=true"),
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

fn logs(a: &Value) -> Vec<String> {
    a["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn cold_warm_logs_promises_and_env() {
    if !have_node() {
        return;
    }
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;
    let code = r#"
console.log('loading');
function main(params) {
    console.log('hello', params.name || 'stranger');
    console.error('to stderr');
    return {
        greeting: 'Hello ' + (params.name || 'stranger'),
        pid: process.pid,
        env: {
            activation: process.env.__OW_ACTIVATION_ID,
            action: process.env.__OW_ACTION_NAME,
            namespace: process.env.__OW_NAMESPACE,
            deadline: process.env.__OW_DEADLINE,
            greeting: process.env.GREETING,
        },
    };
}
"#;
    let put = put_js(
        &mut c,
        "hello",
        code,
        json!({"parameters": [{"key": "GREETING", "value": "hi", "init": true}]}),
    )
    .await;
    assert_eq!(
        put["exec"]["kind"], "nodejs:20",
        "nodejs:default is stored as nodejs:20"
    );

    let cold = c.invoke("hello", json!({"name": "Ada"})).await;
    assert_eq!(cold.status, 200, "{}", String::from_utf8_lossy(&cold.body));
    let cold = cold.json();
    let result = &cold["response"]["result"];
    assert_eq!(result["greeting"], "Hello Ada");
    assert_eq!(result["env"]["activation"], cold["activationId"]);
    assert_eq!(result["env"]["action"], "/guest/hello");
    assert_eq!(result["env"]["namespace"], "guest");
    assert_eq!(result["env"]["greeting"], "hi");
    assert!(
        result["env"]["deadline"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 1_700_000_000_000
    );
    assert!(
        annotation(&cold, "initTime").is_some(),
        "a cold start has initTime"
    );
    assert_eq!(annotation(&cold, "kind").unwrap(), "nodejs:20");
    let l = logs(&cold);
    assert!(
        l[0].ends_with("stdout: loading"),
        "init output first: {l:?}"
    );
    assert!(l.iter().any(|x| x.ends_with("stdout: hello Ada")), "{l:?}");
    assert!(l.iter().any(|x| x.ends_with("stderr: to stderr")), "{l:?}");
    assert!(!l.iter().any(|x| x.contains("XXX_THE_END")), "{l:?}");

    let warm = c.invoke("hello", json!({})).await.json();
    assert!(
        annotation(&warm, "initTime").is_none(),
        "a warm start has none"
    );
    assert_eq!(
        warm["response"]["result"]["pid"], result["pid"],
        "same process"
    );
    assert_eq!(warm["response"]["result"]["greeting"], "Hello stranger");
    assert_eq!(logs(&warm).len(), 2, "{:?}", logs(&warm));

    // A Promise is awaited; `exports.main` is found too; `undefined` is `{}`.
    put_js(
        &mut c,
        "later",
        "exports.main = (p) => new Promise((ok) => setTimeout(() => { console.log('resolved'); ok({n: p.n * 2}); }, 20));",
        json!({}),
    )
    .await;
    let a = c.invoke("later", json!({"n": 21})).await.json();
    assert_eq!(a["response"]["result"], json!({"n": 42}), "{a}");
    assert!(
        logs(&a).iter().any(|l| l.ends_with("stdout: resolved")),
        "{a}"
    );
    put_js(&mut c, "nothing", "async function main() {}", json!({})).await;
    let a = c.invoke("nothing", json!({})).await.json();
    assert_eq!(a["response"]["status"], "success", "{a}");
    assert_eq!(a["response"]["result"], json!({}));

    // `main` names another entry point; a zip archive with index.js is loaded too.
    put_js(
        &mut c,
        "named",
        "function other() { return {via: 'other'} }",
        json!({"exec": {"kind": "nodejs:20", "code": "function other() { return {via: 'other'} }", "main": "other"}}),
    )
    .await;
    let a = c.invoke("named", json!({})).await.json();
    assert_eq!(a["response"]["result"]["via"], "other", "{a}");
    p.shutdown().await;
}

#[tokio::test]
async fn errors_follow_openwhisk_nodejs() {
    if !have_node() {
        return;
    }
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;

    // A rejected Promise: application error with the serialised reason; the container stays.
    put_js(
        &mut c,
        "reject",
        "function main() { return Promise.reject(new Error('bad input')); }",
        json!({}),
    )
    .await;
    let r = c.invoke("reject", json!({})).await;
    assert_eq!(r.status, 502);
    let a = r.json();
    assert_eq!(a["response"]["status"], "application error", "{a}");
    let error = &a["response"]["result"]["error"];
    assert_eq!(error["name"], "Error");
    assert_eq!(error["message"], "bad input");
    assert!(error["stack"].as_str().unwrap().contains("bad input"));
    let again = c.invoke("reject", json!({})).await.json();
    assert!(
        annotation(&again, "initTime").is_none(),
        "still warm: {again}"
    );
    assert_eq!(
        annotation(&again, "gale.container"),
        annotation(&a, "gale.container")
    );

    // An object with `error`: application error, as returned.
    put_js(
        &mut c,
        "errobj",
        "function main() { return {error: 'nope'} }",
        json!({}),
    )
    .await;
    let a = c.invoke("errobj", json!({})).await.json();
    assert_eq!(a["response"]["status"], "application error");
    assert_eq!(a["response"]["result"], json!({"error": "nope"}));

    // A synchronous throw: developer error, the container is discarded.
    put_js(
        &mut c,
        "throw",
        "function main(p) { if (p.boom) throw new Error('boom'); return {ok: true} }",
        json!({}),
    )
    .await;
    let first = c.invoke("throw", json!({"boom": true})).await.json();
    assert_eq!(
        first["response"]["status"], "action developer error",
        "{first}"
    );
    assert_eq!(
        first["response"]["result"]["error"],
        "An error has occurred: Error: boom"
    );
    assert!(
        logs(&first)
            .iter()
            .any(|l| l.contains("stderr: Error: boom")),
        "{first}"
    );
    let next = c.invoke("throw", json!({})).await.json();
    assert_eq!(next["response"]["result"], json!({"ok": true}));
    assert!(
        annotation(&next, "initTime").is_some(),
        "a new container: {next}"
    );

    // A result that is not an object: developer error with the runtime's message.
    put_js(&mut c, "number", "function main() { return 42 }", json!({})).await;
    let a = c.invoke("number", json!({})).await.json();
    assert_eq!(a["response"]["status"], "action developer error");
    assert_eq!(
        a["response"]["result"]["error"],
        "The action did not return a dictionary."
    );

    // A syntax error, a missing entry point, no code: init fails with the runtime's texts.
    put_js(&mut c, "syntax", "function main( { return 1 }", json!({})).await;
    let a = c.invoke("syntax", json!({})).await.json();
    assert_eq!(a["response"]["status"], "action developer error");
    let message = a["response"]["result"]["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.starts_with("Initialization has failed due to: SyntaxError"),
        "{message}"
    );
    assert!(
        logs(&a)
            .iter()
            .any(|l| l.contains("Error during initialization")),
        "{a}"
    );
    put_js(&mut c, "nomain", "function other() {}", json!({})).await;
    let a = c.invoke("nomain", json!({})).await.json();
    assert_eq!(
        a["response"]["result"]["error"],
        "Initialization has failed due to: Action entrypoint 'main' is not a function."
    );
    put_js(&mut c, "empty", "", json!({})).await;
    let a = c.invoke("empty", json!({})).await.json();
    assert_eq!(
        a["response"]["result"]["error"],
        "Missing main/no code to execute."
    );

    // The process exits: developer error, then a fresh container works.
    put_js(
        &mut c,
        "crash",
        "function main(p) { if (p.die) process.exit(3); return {ok: 1} }",
        json!({}),
    )
    .await;
    let a = c.invoke("crash", json!({"die": true})).await.json();
    assert_eq!(a["response"]["status"], "action developer error");
    assert_eq!(
        a["response"]["result"]["error"],
        "The action did not produce a valid response and exited unexpectedly."
    );
    let a = c.invoke("crash", json!({})).await.json();
    assert_eq!(a["response"]["result"]["ok"], 1);
    p.shutdown().await;
}

/// A zip archive (`binary: true`) with a package.json naming its main module.
#[tokio::test]
async fn zip_archive_action() {
    if !have_node() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("package.json"),
        r#"{"main": "lib/entry.js"}"#,
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("lib")).unwrap();
    std::fs::write(
        dir.path().join("lib/entry.js"),
        "const helper = require('./helper');\nexports.main = (p) => ({sum: helper.add(p.a, p.b)});\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("lib/helper.js"),
        format!(
            "// {}\nexports.add = (a, b) => a + b;\n",
            "padding so deflate has work ".repeat(40)
        ),
    )
    .unwrap();
    // Python's zipfile writes a deflated archive (python3 is needed by the suite anyway).
    let zipped = std::process::Command::new("python3")
        .args([
            "-c",
            "import base64, io, os, sys, zipfile\n\
             buf = io.BytesIO()\n\
             with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED) as z:\n\
             \x20   for root, _, files in os.walk('.'):\n\
             \x20       for f in files:\n\
             \x20           z.write(os.path.join(root, f))\n\
             sys.stdout.write(base64.b64encode(buf.getvalue()).decode())\n",
        ])
        .current_dir(dir.path())
        .output()
        .expect("python3 runs");
    assert!(zipped.status.success());
    let code = String::from_utf8(zipped.stdout).unwrap();
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;
    put_js(
        &mut c,
        "zipped",
        "",
        json!({"exec": {"kind": "nodejs:20", "code": code, "binary": true}}),
    )
    .await;
    let a = c.invoke("zipped", json!({"a": 2, "b": 3})).await.json();
    assert_eq!(a["response"]["result"], json!({"sum": 5}), "{a}");
    p.shutdown().await;
}

/// A prewarmed `nodejs:20` stem cell takes the code at first use: initTime covers only the
/// init, far less than a start from nothing.
#[tokio::test]
async fn prewarmed_nodejs_stem_cell() {
    if !have_node() {
        return;
    }
    let mut cfg = config();
    cfg.model.prewarm = vec![gale::model::PrewarmConfig {
        kind: "nodejs:20".into(),
        memory_mb: 256,
        count: 1,
    }];
    for (name, warming) in [
        ("pre", gale::model::Warming::Prewarm),
        ("cold", gale::model::Warming::Cold),
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
    let deadline = Instant::now() + Duration::from_secs(20);
    while p.events().live().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let live = p.events().live();
    assert_eq!(live.len(), 1, "one stem cell");
    assert_eq!(live[0].action, "", "not yet bound to an action");
    // Processes are pid 1 of their own PID namespace: a container is told by its name.
    let stem = live[0].container.clone();
    let mut c = Client::connect(&p).await;
    let code = "console.log('imported');\nfunction main(p) { return {n: (p.n || 0) + 1, pid: process.pid} }\n";
    let mut init_us = std::collections::HashMap::new();
    for name in ["pre", "cold"] {
        put_js(&mut c, name, code, json!({"limits": {"memory": 256}})).await;
        let a = c.invoke(name, json!({"n": 41})).await.json();
        assert_eq!(a["response"]["result"]["n"], 42, "{a}");
        assert!(logs(&a).iter().any(|l| l.ends_with("imported")), "{a}");
        if name == "pre" {
            assert_eq!(
                annotation(&a, "gale.container").and_then(|v| v.as_str().map(String::from)),
                Some(stem.clone()),
                "ran in the stem cell"
            );
        }
        let init = annotation(&a, "gale.initTimeUs").and_then(|v| v.as_u64());
        init_us.insert(name, init.expect("a cold or prewarm start has initTime"));
    }
    assert!(
        init_us["pre"] < init_us["cold"],
        "prewarm init {} µs vs cold {} µs",
        init_us["pre"],
        init_us["cold"]
    );
    p.shutdown().await;
}

/// `limits.concurrency: 4`: four activations at once in one process, their intervals
/// overlapping, each with its own logs.
#[tokio::test]
async fn four_activations_at_once_in_one_container() {
    if !have_node() {
        return;
    }
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;
    let code = r#"
async function main(p) {
    console.log('start ' + p.i);
    // Long enough that the four overlap however late the loaded machine starts one.
    await new Promise((ok) => setTimeout(ok, 1000));
    process.stdout.write('end ' + p.i + ' (no newline)');
    return {i: p.i, pid: process.pid};
}
"#;
    put_js(&mut c, "slow", code, json!({"limits": {"concurrency": 4}})).await;
    let got = c
        .send("GET", "/api/v1/namespaces/_/actions/slow", None)
        .await
        .json();
    assert_eq!(got["limits"]["concurrency"], 4);
    // Warm the container first, so the four find it ready and none starts another.
    let first = c.invoke("slow", json!({"i": 0})).await.json();
    assert_eq!(first["response"]["result"]["i"], 0, "{first}");
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(Client::connect(&p).await);
    }
    let calls: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            tokio::spawn(async move { c.invoke("slow", json!({"i": i + 1})).await.json() })
        })
        .collect();
    let mut records = Vec::new();
    for call in calls {
        records.push(call.await.unwrap());
    }
    let container = annotation(&first, "gale.container").cloned();
    for (i, a) in records.iter().enumerate() {
        assert_eq!(a["response"]["result"]["i"], i + 1, "{a}");
        assert_eq!(
            a["response"]["result"]["pid"],
            first["response"]["result"]["pid"]
        );
        assert_eq!(
            annotation(a, "gale.container").cloned(),
            container,
            "one container"
        );
        let l = logs(a);
        assert_eq!(l.len(), 2, "its own lines only: {l:?}");
        assert!(l[0].ends_with(&format!("stdout: start {}", i + 1)), "{l:?}");
        assert!(
            l[1].ends_with(&format!("stdout: end {} (no newline)", i + 1)),
            "{l:?}"
        );
    }
    // Every interval overlaps every other: all four ran at once.
    let span = |a: &Value| {
        let start = annotation(a, "gale.startUs").unwrap().as_u64().unwrap();
        (
            start,
            start + annotation(a, "gale.durationUs").unwrap().as_u64().unwrap(),
        )
    };
    let spans: Vec<_> = records.iter().map(span).collect();
    for a in &records {
        for b in &records {
            let ((s1, e1), (s2, e2)) = (span(a), span(b));
            assert!(s1 < e2 && s2 < e1, "intervals overlap: {spans:?}");
        }
    }
    let containers = p.events().live();
    assert_eq!(containers.len(), 1, "one container: {containers:?}");
    p.shutdown().await;
}

/// In a concurrent container, one activation's time limit ends only that activation; a
/// process that dies ends every activation in flight (none waits for its own deadline), and
/// the next call gets a new container.
#[tokio::test]
async fn concurrent_timeouts_and_crashes() {
    if !have_node() {
        return;
    }
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;
    let code = r#"
function main(p) {
    if (p.hang) return new Promise(() => {});
    if (p.die) return new Promise(() => setTimeout(() => process.exit(7), 200));
    if (p.wait) return new Promise((ok) => setTimeout(() => ok({waited: true}), p.wait));
    return {pid: process.pid};
}
"#;
    put_js(
        &mut c,
        "mixed",
        code,
        json!({"limits": {"concurrency": 3, "timeout": 1500}}),
    )
    .await;
    let warm = c.invoke("mixed", json!({})).await.json();
    // Every container's process is pid 1 of its namespace: containers are told by name.
    let pid = annotation(&warm, "gale.container").unwrap();
    let at_once = |params: Vec<Value>| {
        let p = &p;
        async move {
            let mut clients = Vec::new();
            for _ in &params {
                clients.push(Client::connect(p).await);
            }
            let calls: Vec<_> = clients
                .into_iter()
                .zip(params)
                .map(|(mut c, params)| {
                    tokio::spawn(async move { c.invoke("mixed", params).await.json() })
                })
                .collect();
            let mut out = Vec::new();
            for call in calls {
                out.push(call.await.unwrap());
            }
            out
        }
    };
    let r = at_once(vec![json!({"hang": true}), json!({"wait": 100}), json!({})]).await;
    assert_eq!(
        r[0]["response"]["status"], "action developer error",
        "{}",
        r[0]
    );
    assert_eq!(annotation(&r[0], "timeout").unwrap(), true);
    assert_eq!(
        r[1]["response"]["result"],
        json!({"waited": true}),
        "{}",
        r[1]
    );
    assert_eq!(
        annotation(&r[2], "gale.container").unwrap(),
        pid,
        "{}",
        r[2]
    );
    // The timed-out activation dooms its container: the next call starts another.
    let next = c.invoke("mixed", json!({})).await.json();
    assert!(annotation(&next, "initTime").is_some(), "{next}");
    assert_ne!(annotation(&next, "gale.container").unwrap(), pid);

    let r = at_once(vec![
        json!({"die": true}),
        json!({"wait": 10_000}),
        json!({"hang": true}),
    ])
    .await;
    // The exit ends all three at 200 ms: not one reaches its 1.5 s limit (that would be the
    // time-limit message and `timeout: true`).
    for a in &r {
        assert_eq!(a["response"]["status"], "action developer error", "{a}");
        assert_eq!(annotation(a, "timeout").unwrap(), false, "{a}");
        assert_eq!(
            a["response"]["result"]["error"],
            "The action did not produce a valid response and exited unexpectedly.",
            "{a}"
        );
    }
    let after = c.invoke("mixed", json!({})).await.json();
    assert_eq!(after["response"]["status"], "success", "{after}");
    p.shutdown().await;
}
