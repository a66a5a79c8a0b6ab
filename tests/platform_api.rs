//! The REST API against OpenWhisk's status codes, headers, error strings and JSON shapes.

mod platform_support;

use std::time::Duration;

use platform_support::{annotation, config, start, Client};
use serde_json::json;

const NS: &str = "/api/v1/namespaces/_";

#[tokio::test]
async fn meta_auth_and_namespaces() {
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;

    let r = c.send("GET", "/ping", None).await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"pong"[..]));
    let r = c.send("GET", "/api/v1", None).await;
    assert_eq!(r.json()["description"], "OpenWhisk API");
    assert_eq!(r.json()["api_version"], "1.0.0");
    let r = c.send("GET", "/", None).await;
    assert_eq!(r.json()["api_paths"], json!(["/api/v1"]));
    assert_eq!(r.json()["runtimes"]["gale"][0]["kind"], "gale:synthetic");

    let r = c.send("GET", "/api/v1/namespaces", None).await;
    assert_eq!((r.status, r.json()), (200, json!(["guest"])));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("x-request-id").map(str::len), Some(32));

    // The client's transaction id is reused.
    let r = c
        .send_with(
            "GET",
            "/api/v1/namespaces",
            None,
            &[("x-request-id", "my-tid-1")],
        )
        .await;
    assert_eq!(r.header("x-request-id"), Some("my-tid-1"));

    let auth = c.auth.take();
    let r = c.send("GET", &format!("{NS}/actions"), None).await;
    assert_eq!(r.status, 401);
    assert_eq!(
        r.error(),
        "The resource requires authentication, which was not supplied with the request"
    );
    assert_eq!(
        r.header("www-authenticate"),
        Some("Basic realm=\"OpenWhisk secure realm\"")
    );
    assert_eq!(r.json()["code"].as_str(), r.header("x-request-id"));
    c.auth = Some("Basic Zm9vOmJhcg==".into());
    let r = c.send("GET", &format!("{NS}/actions"), None).await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (401, "The supplied authentication is invalid")
    );
    c.auth = auth;

    let r = c
        .send("GET", "/api/v1/namespaces/other/actions", None)
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.error(),
        "The supplied authentication is not authorized to access this resource."
    );
    let r = c
        .send("GET", "/api/v1/namespaces/guest/actions", None)
        .await;
    assert_eq!(r.status, 200);
    let r = c.send("GET", "/api/v1/nothing", None).await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (404, "The requested resource does not exist.")
    );
    let r = c.send("GET", &format!("{NS}/limits"), None).await;
    assert_eq!(r.json()["maxActionMemory"], 536_870_912);
    assert!(r.json().get("invocationsPerMinute").is_none());
    let r = c.send("GET", &format!("{NS}/triggers"), None).await;
    assert_eq!((r.status, r.json()), (200, json!([])));
    p.shutdown().await;
}

#[tokio::test]
async fn action_crud() {
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;
    let body = json!({"exec": {"kind": "gale:synthetic", "code": "ignored"},
        "parameters": [{"key": "cpu_ms", "value": 1}], "limits": {"memory": 128},
        "annotations": [{"key": "web-export", "value": true}]})
    .to_string();

    // The JS client's trailing `?`.
    let r = c
        .send("PUT", &format!("{NS}/actions/hello?"), Some(&body))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let a = r.json();
    assert_eq!(a["namespace"], "guest");
    assert_eq!(a["name"], "hello");
    assert_eq!(a["version"], "0.0.1");
    assert_eq!(
        a["exec"],
        json!({"kind": "gale:synthetic", "code": "ignored", "binary": false})
    );
    assert_eq!(
        a["limits"],
        json!({"timeout": 60000, "memory": 128, "logs": 10, "concurrency": 1})
    );
    assert_eq!(a["parameters"], json!([{"key": "cpu_ms", "value": 1}]));
    assert_eq!(annotation(&a, "provide-api-key"), Some(&json!(false)));
    assert_eq!(annotation(&a, "exec"), Some(&json!("gale:synthetic")));
    assert_eq!(annotation(&a, "web-export"), Some(&json!(true)));
    assert!(a["updated"].as_u64().unwrap() > 1_600_000_000_000);

    let r = c
        .send("PUT", &format!("{NS}/actions/hello"), Some(&body))
        .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (409, "resource already exists")
    );

    let r = c
        .send(
            "PUT",
            &format!("{NS}/actions/hello?overwrite=true"),
            Some(r#"{"limits":{"timeout":1000}}"#),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["version"], "0.0.2");
    assert_eq!(r.json()["limits"]["memory"], 128);
    assert_eq!(r.json()["limits"]["timeout"], 1000);
    assert_eq!(r.json()["exec"]["code"], "ignored");

    let r = c
        .send("GET", &format!("{NS}/actions/hello?code=false"), None)
        .await;
    assert_eq!(r.status, 200);
    assert!(r.json()["exec"].get("code").is_none());
    let r = c.send("GET", &format!("{NS}/actions/hello"), None).await;
    assert_eq!(r.json()["exec"]["code"], "ignored");

    c.send("PUT", &format!("{NS}/actions/second"), Some(&body))
        .await;
    let r = c.send("GET", &format!("{NS}/actions"), None).await;
    let list = r.json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["name"], "second", "newest first");
    assert_eq!(list[0]["exec"], json!({"binary": false}));
    assert!(list[0].get("parameters").is_none());
    let r = c
        .send("GET", &format!("{NS}/actions?limit=1&skip=1"), None)
        .await;
    assert_eq!(r.json()[0]["name"], "hello");
    let r = c
        .send("GET", &format!("{NS}/actions?count=true"), None)
        .await;
    assert_eq!(r.json(), json!({"actions": 2}));

    // Errors, each with OpenWhisk's text.
    let cases: &[(&str, &str, Option<&str>, u16, &str)] = &[
        ("GET", "/actions?limit=201", None, 400, "The value '201' is not in the range of 0 to 200 for actions."),
        ("GET", "/actions?limit=x", None, 400, "The value 'x' is not an integer for actions."),
        ("GET", "/actions?skip=-1", None, 400, "The value '-1' is not greater than or equal to 0 for actions."),
        ("GET", "/actions/missing", None, 404, "The requested resource does not exist."),
        ("DELETE", "/actions/missing", None, 404, "The requested resource does not exist."),
        ("PUT", "/actions/new", Some("{}"), 400, "exec undefined"),
        ("PUT", "/actions/new", Some(r#"{"exec":{"kind":"java:8","code":"x"}}"#), 400,
            "The specified runtime 'java:8' is not supported by this platform. Valid values are: 'gale:synthetic', 'python:3', 'nodejs:20', 'blackbox'."),
        ("PUT", "/actions/new", Some(r#"{"exec":{"kind":"gale:synthetic"},"limits":{"memory":1024}}"#), 400,
            "requirement failed: memory size 1024 MB exceeds allowed threshold of 512 MB"),
        ("PUT", "/actions/new", Some(r#"{"exec":{"kind":"gale:synthetic"},"limits":{"timeout":600000}}"#), 400,
            "requirement failed: duration 600000 milliseconds exceeds allowed threshold of 300000 milliseconds"),
        ("PUT", "/actions/new", Some(r#"{"exec":{"kind":"gale:synthetic"},"limits":{"concurrency":2}}"#), 400,
            "requirement failed: concurrency 2 exceeds allowed threshold of 1 for kind 'gale:synthetic' (only 'nodejs:20' runs activations concurrently)"),
        ("POST", "/actions/missing?blocking=true", None, 404, "The requested resource does not exist."),
        ("POST", "/actions/hello?blocking=true&timeout=0", None, 400, "Timeout must be number of milliseconds up to 60000."),
        ("POST", "/actions/hello?blocking=true&timeout=60001", None, 400, "Timeout must be number of milliseconds up to 60000."),
        ("GET", "/activations/abc", None, 400, "Activation id length is 3 but must be 32."),
        ("GET", "/activations/0123456789abcdef0123456789abcdef", None, 404, "The requested resource does not exist."),
        ("GET", "/activations?docs=true&count=true", None, 400, "The parameter 'docs' is not permitted with 'count'."),
        ("GET", "/activations?since=yesterday", None, 400, "Parameter is not a valid value for epoch seconds: yesterday"),
    ];
    for (method, path, body, status, message) in cases {
        let r = c.send(method, &format!("{NS}{path}"), *body).await;
        assert_eq!(
            (r.status, r.error().as_str()),
            (*status, *message),
            "{method} {path}"
        );
        assert_eq!(
            r.header("content-type"),
            Some("application/json"),
            "{method} {path}"
        );
    }
    let r = c
        .send_with(
            "PUT",
            &format!("{NS}/actions/new"),
            Some("{}"),
            &[("content-type", "text/plain")],
        )
        .await;
    assert_eq!(r.status, 415);
    let r = c
        .send("POST", &format!("{NS}/actions/hello"), Some("[1"))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.error().starts_with("The request content was malformed:"));

    let r = c.send("DELETE", &format!("{NS}/actions/hello"), None).await;
    assert_eq!((r.status, r.json()["name"].as_str()), (200, Some("hello")));
    let r = c.send("GET", &format!("{NS}/actions/hello"), None).await;
    assert_eq!(r.status, 404);
    p.shutdown().await;
}

#[tokio::test]
async fn invoke_and_activations() {
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;
    assert_eq!(
        c.put_action("echo", json!({"parameters": [{"key": "sleep_ms", "value": 1}, {"key": "stdout", "value": "default"}]}))
            .await
            .status,
        200
    );

    // Blocking: the full extended record.
    let r = c
        .invoke("echo", json!({"stdout": "hello\nworld", "stderr": "oops"}))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let a = r.json();
    let id = a["activationId"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    assert!(id
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    assert_eq!(r.header("x-openwhisk-activation-id"), Some(id.as_str()));
    for key in [
        "namespace",
        "name",
        "version",
        "subject",
        "publish",
        "start",
        "end",
        "duration",
        "logs",
        "annotations",
    ] {
        assert!(a.get(key).is_some(), "missing {key}");
    }
    assert_eq!(a["subject"], "guest");
    assert_eq!(a["response"]["status"], "success");
    assert_eq!(a["response"]["success"], true);
    assert!(a["response"].get("statusCode").is_none());
    assert_eq!(
        a["response"]["result"]["sleep_ms"], 1,
        "action default parameter"
    );
    assert!(a["response"]["size"].as_u64().unwrap() > 10);
    let logs: Vec<&str> = a["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(logs.len(), 3, "{logs:?}");
    assert!(logs.iter().any(|l| l.ends_with(" stdout: hello")));
    assert!(logs.iter().any(|l| l.ends_with(" stdout: world")));
    assert!(logs.iter().any(|l| l.ends_with(" stderr: oops")));
    assert_eq!(
        &logs[0][30..31],
        " ",
        "timestamp padded to 30 characters: {}",
        logs[0]
    );
    assert!(!logs.iter().any(|l| l.contains("XXX_THE_END")));
    assert_eq!(annotation(&a, "path"), Some(&json!("guest/echo")));
    assert_eq!(annotation(&a, "kind"), Some(&json!("gale:synthetic")));
    assert_eq!(annotation(&a, "timeout"), Some(&json!(false)));
    assert!(annotation(&a, "waitTime").is_some());
    assert!(annotation(&a, "initTime").is_some(), "first call is cold");
    assert!(annotation(&a, "limits").is_some());
    assert_eq!(annotation(&a, "gale.node"), Some(&json!("node0")));

    // result=true: only the result.
    let r = c
        .send(
            "POST",
            &format!("{NS}/actions/echo?blocking=true&result=true"),
            Some(r#"{"cpu_ms":1}"#),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["cpu_ms"], 1);
    assert!(r.header("x-openwhisk-activation-id").is_some());

    // Application error: 502 with the activation, or just {"error"} with result=true.
    let r = c.invoke("echo", json!({"error": "boom"})).await;
    assert_eq!(r.status, 502);
    assert_eq!(r.json()["response"]["status"], "application error");
    assert_eq!(r.json()["response"]["result"], json!({"error": "boom"}));
    let r = c
        .send(
            "POST",
            &format!("{NS}/actions/echo?blocking=true&result=true"),
            Some(r#"{"cpu_ms":"x"}"#),
        )
        .await;
    assert_eq!(r.status, 502);
    assert!(r.json()["error"].as_str().unwrap().contains("cpu_ms"));

    // Non-blocking: 202 and the id, then the record once stored.
    let r = c
        .send(
            "POST",
            &format!("{NS}/actions/echo"),
            Some(r#"{"sleep_ms":50}"#),
        )
        .await;
    assert_eq!(r.status, 202);
    let id2 = r.json()["activationId"].as_str().unwrap().to_string();
    assert_eq!(r.header("x-openwhisk-activation-id"), Some(id2.as_str()));
    let r = c.wait_activation(&id2, Duration::from_secs(10)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["activationId"], id2.as_str());

    let r = c
        .send("GET", &format!("{NS}/activations/{id}/result"), None)
        .await;
    let v = r.json();
    assert_eq!(v["success"], true);
    assert_eq!(v["status"], "success");
    assert!(v["result"].is_object() && v["size"].is_u64());
    let r = c
        .send("GET", &format!("{NS}/activations/{id}/logs"), None)
        .await;
    assert_eq!(r.json()["logs"].as_array().unwrap().len(), 3);

    let r = c
        .send("GET", &format!("{NS}/activations?name=echo&limit=2"), None)
        .await;
    let list = r.json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["activationId"], id2.as_str(), "newest first");
    assert!(list[0].get("response").is_none() && list[0].get("logs").is_none());
    assert_eq!(list[0]["statusCode"], 0);
    let r = c
        .send("GET", &format!("{NS}/activations?docs=true&limit=1"), None)
        .await;
    assert!(r.json()[0]["response"].is_object());
    let r = c
        .send("GET", &format!("{NS}/activations?count=true"), None)
        .await;
    assert_eq!(r.json(), json!({"activations": 5}));
    let r = c
        .send("GET", &format!("{NS}/activations?name=other"), None)
        .await;
    assert_eq!(r.json(), json!([]));
    let future = u64::MAX / 2;
    let r = c
        .send("GET", &format!("{NS}/activations?since={future}"), None)
        .await;
    assert_eq!(r.json(), json!([]));

    // 1 MiB + 1 byte of body.
    let big = format!("{{\"x\":\"{}\"}}", "a".repeat(1_048_577 - 8));
    assert_eq!(big.len(), 1_048_577);
    let r = c
        .send("POST", &format!("{NS}/actions/echo"), Some(&big))
        .await;
    assert_eq!(r.status, 413);
    assert_eq!(
        r.error(),
        "Request larger than allowed: 1048577 > 1048576 bytes."
    );
    p.shutdown().await;
}

/// gale's long poll: `?gale_wait_ms=N` answers as soon as the activation completes, and a
/// 404 only after waiting N ms for one that has not.
#[tokio::test]
async fn activation_long_poll() {
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;
    assert_eq!(c.put_action("slow", json!({})).await.status, 200);
    let r = c
        .send(
            "POST",
            &format!("{NS}/actions/slow"),
            Some(r#"{"sleep_ms":400}"#),
        )
        .await;
    assert_eq!(r.status, 202);
    let id = r.json()["activationId"].as_str().unwrap().to_string();

    // A short wait ends with 404 no sooner than asked.
    let t = std::time::Instant::now();
    let r = c
        .send(
            "GET",
            &format!("{NS}/activations/{id}?gale_wait_ms=50"),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    assert!(
        t.elapsed() >= Duration::from_millis(50),
        "{:?}",
        t.elapsed()
    );

    // A long one returns the record, once the function is done.
    let r = c
        .send(
            "GET",
            &format!("{NS}/activations/{id}?gale_wait_ms=10000"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let a = r.json();
    assert_eq!(a["activationId"], id.as_str());
    assert!(a["duration"].as_u64().unwrap() >= 400, "{a}");
    // Another namespace's id is not waited for nor shown: a fresh id is just 404.
    let r = c
        .send(
            "GET",
            &format!("{NS}/activations/0123456789abcdef0123456789abcdef?gale_wait_ms=20"),
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    p.shutdown().await;
}
