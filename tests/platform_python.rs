//! The `python:3` kind end to end: PUT an action with code, invoke it blocking, check the
//! OpenWhisk behaviours (results, errors, init failures, `__OW_*` environment, logs).

mod platform_support;

use platform_support::{annotation, config, start, Client};
use serde_json::{json, Value};

async fn put_python(
    c: &mut Client,
    name: &str,
    code: &str,
    extra: Value,
) -> platform_support::Resp {
    let mut body = json!({"exec": {"kind": "python:3", "code": code}});
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
    r
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
async fn hello_params_env_and_logs() {
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;
    let code = r#"
import os, sys
print("loading")
def main(args):
    name = args.get("name", "stranger")
    print("hello", name)
    print("to stderr", file=sys.stderr)
    env = {k: os.environ.get(k) for k in ("__OW_ACTIVATION_ID", "__OW_NAMESPACE",
           "__OW_ACTION_NAME", "__OW_ACTION_VERSION", "__OW_DEADLINE", "__OW_TRANSACTION_ID",
           "GREETING")}
    return {"greeting": "Hello " + name, "env": env, "pid": os.getpid()}
"#;
    let put = put_python(
        &mut c,
        "hello",
        code,
        json!({"parameters": [{"key": "GREETING", "value": "hi", "init": true}]}),
    )
    .await;
    // GET returns the code, unless code=false.
    let got = c
        .send("GET", "/api/v1/namespaces/_/actions/hello", None)
        .await
        .json();
    assert_eq!(got["exec"]["code"], code);
    assert_eq!(got["exec"]["kind"], "python:3");
    assert_eq!(put.json()["exec"]["code"], code);
    let got = c
        .send("GET", "/api/v1/namespaces/_/actions/hello?code=false", None)
        .await
        .json();
    assert!(got["exec"].get("code").is_none());

    let r = c.invoke("hello", json!({"name": "Ada"})).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let cold = r.json();
    let result = &cold["response"]["result"];
    assert_eq!(result["greeting"], "Hello Ada");
    let env = &result["env"];
    assert_eq!(env["__OW_ACTIVATION_ID"], cold["activationId"]);
    assert_eq!(env["__OW_NAMESPACE"], "guest");
    assert_eq!(env["__OW_ACTION_NAME"], "/guest/hello");
    assert_eq!(env["__OW_ACTION_VERSION"], "0.0.1");
    assert_eq!(env["GREETING"], "hi");
    assert!(
        env["__OW_DEADLINE"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 1_700_000_000_000
    );
    assert!(!env["__OW_TRANSACTION_ID"].as_str().unwrap().is_empty());
    assert!(annotation(&cold, "initTime").is_some());
    let l = logs(&cold);
    // The init's output comes first, as OpenWhisk shows it with the first activation.
    assert!(l[0].ends_with("stdout: loading"), "{l:?}");
    assert!(l.iter().any(|x| x.ends_with("stdout: hello Ada")), "{l:?}");
    assert!(l.iter().any(|x| x.ends_with("stderr: to stderr")), "{l:?}");
    assert!(!l.iter().any(|x| x.contains("XXX_THE_END")), "{l:?}");

    let warm = c.invoke("hello", json!({})).await.json();
    assert!(annotation(&warm, "initTime").is_none());
    assert_eq!(warm["response"]["result"]["pid"], result["pid"]);
    assert_eq!(warm["response"]["result"]["greeting"], "Hello stranger");
    assert_eq!(logs(&warm).len(), 2, "{:?}", logs(&warm));
}

#[tokio::test]
async fn errors_follow_openwhisk() {
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;

    // An exception: application error with str(exc), traceback in the logs; the
    // container stays (an application error does not destroy it).
    put_python(
        &mut c,
        "raise",
        "def main(a):\n    raise ValueError('bad input')\n",
        json!({}),
    )
    .await;
    let r = c.invoke("raise", json!({})).await;
    assert_eq!(r.status, 502);
    let a = r.json();
    assert_eq!(a["response"]["status"], "application error");
    assert_eq!(a["response"]["result"]["error"], "bad input");
    assert!(
        logs(&a).iter().any(|l| l.contains("stderr: Traceback")),
        "{:?}",
        logs(&a)
    );
    assert!(logs(&a).iter().any(|l| l.contains("ValueError: bad input")));
    let again = c.invoke("raise", json!({})).await.json();
    assert!(annotation(&again, "initTime").is_none());

    // A result that is not a dictionary: developer error.
    put_python(&mut c, "number", "def main(a):\n    return 42\n", json!({})).await;
    let a = c.invoke("number", json!({})).await.json();
    assert_eq!(a["response"]["status"], "action developer error");

    // A syntax error: init fails with OpenWhisk's message, the details in the logs.
    put_python(&mut c, "syntax", "def main(a)\n    return a\n", json!({})).await;
    let a = c.invoke("syntax", json!({})).await.json();
    assert_eq!(a["response"]["status"], "action developer error");
    assert_eq!(
        a["response"]["result"]["error"],
        "The action failed to generate or locate a binary. See logs for details."
    );
    assert!(
        logs(&a).iter().any(|l| l.contains("SyntaxError")),
        "{:?}",
        logs(&a)
    );

    // No `main`, or a named entry point that is missing / present.
    put_python(&mut c, "nomain", "def other(a):\n    return a\n", json!({})).await;
    let a = c.invoke("nomain", json!({})).await.json();
    assert_eq!(a["response"]["status"], "action developer error");
    assert!(
        logs(&a).iter().any(|l| l.contains("no function `main`")),
        "{:?}",
        logs(&a)
    );
    put_python(
        &mut c,
        "named",
        "def other(a):\n    return {'via': 'other'}\n",
        json!({"exec": {"kind": "python:default", "code": "def other(a):\n    return {'via': 'other'}\n", "main": "other"}}),
    )
    .await;
    let a = c.invoke("named", json!({})).await.json();
    assert_eq!(a["response"]["result"]["via"], "other", "{a}");

    // Empty code: OpenWhisk's "no code" init error.
    put_python(&mut c, "empty", "", json!({})).await;
    let a = c.invoke("empty", json!({})).await.json();
    assert_eq!(
        a["response"]["result"]["error"],
        "Missing main/no code to execute."
    );

    // A crash (the interpreter exits): developer error, then a fresh container works.
    put_python(
        &mut c,
        "crash",
        "import os\ndef main(a):\n    if a.get('die'):\n        os._exit(3)\n    return {'ok': 1}\n",
        json!({}),
    )
    .await;
    let a = c.invoke("crash", json!({"die": true})).await.json();
    assert_eq!(a["response"]["status"], "action developer error");
    let a = c.invoke("crash", json!({})).await.json();
    assert_eq!(a["response"]["result"]["ok"], 1);
}

/// A prewarmed `python:3` stem cell has its interpreter running already: the first call
/// only injects the code (init), far cheaper than starting the interpreter; the code's own
/// import-time output shows in the first activation's logs.
#[tokio::test]
async fn prewarmed_stem_cell_takes_the_code_at_first_use() {
    let mut cfg = config();
    cfg.model.prewarm = vec![gale::model::PrewarmConfig {
        kind: "python:3".into(),
        memory_mb: 256,
        count: 1,
    }];
    cfg.actions.insert(
        "guest/pre".into(),
        gale::config::platform_file::ActionSettings {
            warming: Some(gale::model::Warming::Prewarm),
            autoscale: None,
        },
    );
    cfg.actions.insert(
        "guest/cold".into(),
        gale::config::platform_file::ActionSettings {
            warming: Some(gale::model::Warming::Cold),
            autoscale: None,
        },
    );
    let p = start(cfg).await;
    // The stem cell is up once its `started` event is out.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while p.events().live().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(p.events().live().len(), 1, "one stem cell");
    assert_eq!(
        p.events().live()[0].action,
        "",
        "not yet bound to an action"
    );
    let mut c = Client::connect(&p).await;
    let code = "print('imported')\ndef main(args):\n    return {'n': args.get('n', 0) + 1}\n";
    let mut init_us = std::collections::HashMap::new();
    for name in ["pre", "cold"] {
        put_python(&mut c, name, code, json!({"limits": {"memory": 256}})).await;
        let a = c.invoke(name, json!({"n": 41})).await.json();
        assert_eq!(a["response"]["result"], json!({"n": 42}), "{a}");
        assert!(
            logs(&a).iter().any(|l| l.ends_with("imported")),
            "init logs come with the first activation: {a}"
        );
        let init = annotation(&a, "gale.initTimeUs").and_then(|v| v.as_u64());
        init_us.insert(name, init.expect("a cold or prewarm start has initTime"));
    }
    assert!(
        init_us["pre"] * 2 < init_us["cold"],
        "prewarm init {} µs vs cold {} µs",
        init_us["pre"],
        init_us["cold"]
    );
    p.shutdown().await;
}
