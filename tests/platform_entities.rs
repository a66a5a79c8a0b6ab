//! Packages, bindings, web actions, sequences, triggers and rules through the REST API,
//! with real `python:3` action processes.

mod platform_support;

use std::time::Duration;

use gale::platform::NamespaceKey;
use platform_support::{annotation, config, start, Client, Resp};
use serde_json::{json, Value};

const NS: &str = "/api/v1/namespaces/_";
/// An echo: the result is the parameters the action received.
const ECHO: &str = "def main(p):\n    return p\n";
const OTHER_KEY: &str =
    "0f4e1c1a-5b7e-4c59-9f83-2d1d3c1e9a01:Abc0123456789Abc0123456789Abc0123456789Abc0123456789Abc012345678";

fn ok(r: &Resp) -> Value {
    assert!(
        (200..300).contains(&r.status),
        "status {}: {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    r.json()
}

async fn put(c: &mut Client, path: &str, body: Value) -> Value {
    let r = c
        .send(
            "PUT",
            &format!("{NS}/{path}?overwrite=true"),
            Some(&body.to_string()),
        )
        .await;
    ok(&r)
}

async fn put_python(c: &mut Client, name: &str, code: &str, extra: Value) -> Value {
    let mut body = json!({"exec": {"kind": "python:3", "code": code}});
    if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
        b.extend(e);
    }
    put(c, &format!("actions/{name}"), body).await
}

fn kv(pairs: &[(&str, Value)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

#[tokio::test]
async fn package_parameters_precedence_and_addressing() {
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;

    let r = c
        .send(
            "PUT",
            &format!("{NS}/actions/nopkg/a"),
            Some(r#"{"exec":{"kind":"python:3","code":"x"}}"#),
        )
        .await;
    assert_eq!(r.status, 404, "an action needs its package to exist");

    let pkg = put(
        &mut c,
        "packages/tools",
        json!({"parameters": kv(&[("a", json!("pkg")), ("b", json!("pkg")), ("c", json!("pkg"))])}),
    )
    .await;
    assert_eq!(pkg["binding"], json!({}));
    let action = put_python(
        &mut c,
        "tools/echo",
        ECHO,
        json!({"parameters": kv(&[("b", json!("action")), ("c", json!("action"))])}),
    )
    .await;
    assert_eq!(action["namespace"], "guest/tools");
    assert_eq!(action["name"], "echo");

    let r = c
        .send(
            "POST",
            &format!("{NS}/actions/tools/echo?blocking=true&result=true"),
            Some(r#"{"c":"invocation"}"#),
        )
        .await;
    let result = ok(&r);
    assert_eq!(result["a"], "pkg");
    assert_eq!(result["b"], "action");
    assert_eq!(result["c"], "invocation");

    // The activation names the package in its path, and `pkg/name` finds it in lists.
    let id = r.header("x-openwhisk-activation-id").unwrap().to_string();
    let a = ok(&c.wait_activation(&id, Duration::from_secs(10)).await);
    assert_eq!(annotation(&a, "path").unwrap(), "guest/tools/echo");
    let listed = ok(&c
        .send("GET", &format!("{NS}/activations?name=tools/echo"), None)
        .await);
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["activationId"] == id.as_str()));

    // GET, lists: the package shows its actions; /actions/tools/ lists them; /actions too.
    let got = ok(&c
        .send("GET", &format!("{NS}/actions/tools/echo"), None)
        .await);
    assert_eq!(got["exec"]["code"], ECHO);
    let pkg = ok(&c.send("GET", &format!("{NS}/packages/tools"), None).await);
    assert_eq!(pkg["actions"][0]["name"], "echo");
    let inside = ok(&c.send("GET", &format!("{NS}/actions/tools/"), None).await);
    assert_eq!(inside.as_array().unwrap().len(), 1);
    assert_eq!(inside[0]["namespace"], "guest/tools");
    let all = ok(&c.send("GET", &format!("{NS}/actions"), None).await);
    assert!(all
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["namespace"] == "guest/tools"));
    let pkgs = ok(&c.send("GET", &format!("{NS}/packages"), None).await);
    assert_eq!(pkgs[0]["name"], "tools");

    // An encoded `/` in one segment is part of a name (an illegal one), not a package path.
    let r = c
        .send(
            "PUT",
            &format!("{NS}/actions/tools%2Fecho"),
            Some(r#"{"exec":{"kind":"python:3","code":"x"}}"#),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = c
        .send("GET", &format!("{NS}/actions/tools%2Fecho"), None)
        .await;
    assert_eq!(r.status, 404);

    // A package with actions is not deleted (409) unless forced... or emptied first.
    let r = c
        .send("DELETE", &format!("{NS}/packages/tools"), None)
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.error(),
        "Package not empty (contains 1 entity). Set force param or delete package contents."
    );
    ok(&c
        .send("DELETE", &format!("{NS}/actions/tools/echo"), None)
        .await);
    let r = c
        .send("GET", &format!("{NS}/actions/tools/echo"), None)
        .await;
    assert_eq!(r.status, 404);
    let deleted = ok(&c
        .send("DELETE", &format!("{NS}/packages/tools"), None)
        .await);
    assert_eq!(deleted["name"], "tools");
    let r = c.send("GET", &format!("{NS}/packages/tools"), None).await;
    assert_eq!(r.status, 404);
    p.shutdown().await;
}

#[tokio::test]
async fn bindings_to_own_and_shared_packages() {
    let mut cfg = config();
    cfg.namespaces.push(NamespaceKey {
        namespace: "other".into(),
        key: OTHER_KEY.into(),
    });
    let p = start(cfg).await;
    let mut guest = Client::connect(&p).await;
    let mut other = Client::connect(&p).await;
    use base64::Engine;
    other.auth = Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(OTHER_KEY)
    ));

    // `other` owns a shared package and a private one.
    put(
        &mut other,
        "packages/shared",
        json!({"publish": true, "parameters": kv(&[("a", json!("bound")), ("b", json!("bound"))])}),
    )
    .await;
    put(&mut other, "packages/private", json!({})).await;
    put_python(&mut other, "shared/echo", ECHO, json!({})).await;

    // guest binds the shared one, adding a parameter over the bound package's.
    let b = put(
        &mut guest,
        "packages/mine",
        json!({"binding": {"namespace": "other", "name": "shared"}, "parameters": kv(&[("b", json!("binding"))])}),
    )
    .await;
    assert_eq!(
        b["binding"],
        json!({"namespace": "other", "name": "shared"})
    );
    assert_eq!(b["actions"][0]["name"], "echo");
    let r = guest
        .send(
            "POST",
            &format!("{NS}/actions/mine/echo?blocking=true&result=true"),
            Some(r#"{"c":"invocation"}"#),
        )
        .await;
    let result = ok(&r);
    assert_eq!(
        (&result["a"], &result["b"], &result["c"]),
        (&json!("bound"), &json!("binding"), &json!("invocation"))
    );
    // The activation is guest's, of other's action.
    let id = r.header("x-openwhisk-activation-id").unwrap().to_string();
    let a = ok(&guest.wait_activation(&id, Duration::from_secs(10)).await);
    assert_eq!(a["namespace"], "guest");
    assert_eq!(annotation(&a, "path").unwrap(), "other/shared/echo");

    // The shared package is readable and invocable directly; the private one is not.
    let got = ok(&guest
        .send("GET", "/api/v1/namespaces/other/packages/shared", None)
        .await);
    assert_eq!(got["publish"], true);
    let r = guest
        .send("GET", "/api/v1/namespaces/other/packages/private", None)
        .await;
    assert_eq!(r.status, 403);
    let r = guest
        .send(
            "POST",
            "/api/v1/namespaces/other/actions/shared/echo?blocking=true&result=true",
            Some("{}"),
        )
        .await;
    assert_eq!(ok(&r)["a"], "bound");
    let r = guest
        .send("PUT", "/api/v1/namespaces/other/packages/x", Some("{}"))
        .await;
    assert_eq!(r.status, 403);
    let r = guest
        .send(
            "PUT",
            &format!("{NS}/packages/bad?overwrite=true"),
            Some(r#"{"binding":{"namespace":"other","name":"private"}}"#),
        )
        .await;
    assert_eq!(r.status, 403, "a private package cannot be bound");
    let r = guest
        .send(
            "PUT",
            &format!("{NS}/packages/bad?overwrite=true"),
            Some(r#"{"binding":{"namespace":"other","name":"none"}}"#),
        )
        .await;
    assert_eq!(
        r.status, 403,
        "another namespace's missing package looks private"
    );
    let r = guest
        .send(
            "PUT",
            &format!("{NS}/packages/bad?overwrite=true"),
            Some(r#"{"binding":{"namespace":"_","name":"none"}}"#),
        )
        .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (400, "Binding references a package that does not exist.")
    );
    let r = guest
        .send(
            "PUT",
            &format!("{NS}/packages/bad?overwrite=true"),
            Some(r#"{"binding":{"namespace":"_","name":"mine"}}"#),
        )
        .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (400, "Cannot bind to another package binding.")
    );
    let r = guest
        .send(
            "PUT",
            &format!("{NS}/actions/mine/x"),
            Some(r#"{"exec":{"kind":"python:3","code":"x"}}"#),
        )
        .await;
    assert_eq!(r.status, 400, "no action can be created in a binding");
    // public=true lists other namespaces' published packages.
    let listed = ok(&guest
        .send("GET", &format!("{NS}/packages?public=true"), None)
        .await);
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"mine") && names.contains(&"shared") && !names.contains(&"private"),
        "{names:?}"
    );
    p.shutdown().await;
}

#[tokio::test]
async fn web_actions_content_types_and_auth() {
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;
    let web = kv(&[("web-export", json!(true))]);
    put_python(&mut c, "echo", ECHO, json!({"annotations": web})).await;
    put_python(&mut c, "hidden", ECHO, json!({})).await;
    put_python(
        &mut c,
        "page",
        "def main(p):\n    return {'text': 'plain ' + p.get('who', '?'), 'html': '<b>hi</b>', 'svg': '<svg/>', 'n': {'x': 1}}\n",
        json!({"annotations": web}),
    )
    .await;
    put_python(
        &mut c,
        "http",
        "def main(p):\n    return {'statusCode': 201, 'headers': {'X-Test': 'yes', 'Content-Type': 'image/png'}, 'body': 'iVBORw0KGgo='}\n",
        json!({"annotations": web}),
    )
    .await;
    put_python(
        &mut c,
        "fails",
        "def main(p):\n    return {'error': {'statusCode': 404, 'headers': {'Content-Type': 'text/plain'}, 'body': 'nope'}}\n",
        json!({"annotations": web}),
    )
    .await;
    put_python(
        &mut c,
        "secret",
        ECHO,
        json!({"annotations": kv(&[("web-export", json!(true)), ("require-whisk-auth", json!("s3cret"))])}),
    )
    .await;
    put_python(
        &mut c,
        "keyed",
        ECHO,
        json!({"annotations": kv(&[("web-export", json!(true)), ("require-whisk-auth", json!(true))])}),
    )
    .await;
    put_python(
        &mut c,
        "raw",
        ECHO,
        json!({"annotations": kv(&[("web-export", json!(true)), ("raw-http", json!(true))])}),
    )
    .await;
    let key = c.auth.take();

    // .json: query and JSON body merged, plus the __ow_ fields.
    let r = c
        .send_with(
            "POST",
            "/api/v1/web/guest/default/echo.json/extra?q=1",
            Some(r#"{"b":2}"#),
            &[("x-custom", "v")],
        )
        .await;
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("x-openwhisk-activation-id").is_some());
    // The extra path projects into the result for .json.
    assert_eq!(r.status, 404, "{}", String::from_utf8_lossy(&r.body));
    let r = c
        .send_with(
            "POST",
            "/api/v1/web/guest/default/echo.json?q=1",
            Some(r#"{"b":2}"#),
            &[("x-custom", "v")],
        )
        .await;
    let v = ok(&r);
    assert_eq!(v["q"], "1");
    assert_eq!(v["b"], 2);
    assert_eq!(v["__ow_method"], "post");
    assert_eq!(v["__ow_headers"]["x-custom"], "v");
    assert_eq!(v["__ow_path"], "");
    // A form body is merged too.
    let r = c
        .send_with(
            "POST",
            "/api/v1/web/guest/default/echo.json",
            Some("f=x+y&g=%21"),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
        .await;
    let v = ok(&r);
    assert_eq!((&v["f"], &v["g"]), (&json!("x y"), &json!("!")));

    // .text / .html / .svg answer the property with their content type.
    let r = c
        .send("GET", "/api/v1/web/guest/default/page.text?who=me", None)
        .await;
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("text/plain; charset=UTF-8"))
    );
    assert_eq!(r.body, b"plain me");
    let r = c
        .send("GET", "/api/v1/web/guest/default/page.html", None)
        .await;
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("text/html; charset=UTF-8"))
    );
    assert_eq!(r.body, b"<b>hi</b>");
    let r = c
        .send("GET", "/api/v1/web/guest/default/page.svg", None)
        .await;
    assert_eq!(
        (r.status, r.header("content-type")),
        (200, Some("image/svg+xml"))
    );
    let r = c
        .send("GET", "/api/v1/web/guest/default/page.json/n", None)
        .await;
    assert_eq!(ok(&r), json!({"x": 1}));

    // .http (and no extension): status, headers, base64 body of a binary type decoded.
    for path in [
        "/api/v1/web/guest/default/http.http",
        "/api/v1/web/guest/default/http",
    ] {
        let r = c.send("GET", path, None).await;
        assert_eq!(r.status, 201);
        assert_eq!(r.header("x-test"), Some("yes"));
        assert_eq!(r.header("content-type"), Some("image/png"));
        assert_eq!(r.body, b"\x89PNG\r\n\x1a\n");
    }

    // An application error answers its `error` value through the extension.
    let r = c
        .send("GET", "/api/v1/web/guest/default/fails.http", None)
        .await;
    assert_eq!((r.status, r.body.as_slice()), (404, &b"nope"[..]));
    assert_eq!(r.header("content-type"), Some("text/plain; charset=UTF-8"));
    // .json needs an object or array; .html a string.
    let r = c
        .send("GET", "/api/v1/web/guest/default/page.json/text", None)
        .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (400, "Response is not valid 'application/json'.")
    );
    let r = c
        .send("GET", "/api/v1/web/guest/default/page.html/n", None)
        .await;
    assert_eq!(r.status, 400);
    // The request cannot set the __ow_ fields.
    let r = c
        .send(
            "GET",
            "/api/v1/web/guest/default/echo.json?__ow_method=put",
            None,
        )
        .await;
    assert_eq!(r.status, 400);
    // A preflight is answered without running the action.
    let before = p
        .shared()
        .activations
        .list("guest", &Default::default())
        .len();
    let r = c
        .send("OPTIONS", "/api/v1/web/guest/default/echo.json", None)
        .await;
    assert_eq!(
        (r.status, r.header("access-control-allow-origin")),
        (200, Some("*"))
    );
    assert_eq!(
        p.shared()
            .activations
            .list("guest", &Default::default())
            .len(),
        before
    );

    // In a package: found by the package's name, not through a binding; the package's
    // parameters apply.
    c.auth = key.clone();
    put(
        &mut c,
        "packages/wp",
        json!({"parameters": kv(&[("from", json!("package"))])}),
    )
    .await;
    put(
        &mut c,
        "packages/wb",
        json!({"binding": {"namespace": "_", "name": "wp"}}),
    )
    .await;
    put_python(&mut c, "wp/echo", ECHO, json!({"annotations": web})).await;
    c.auth = None;
    let r = c.send("GET", "/api/v1/web/guest/wp/echo.json", None).await;
    assert_eq!(ok(&r)["from"], "package");
    let r = c.send("GET", "/api/v1/web/guest/wb/echo.json", None).await;
    assert_eq!(r.status, 404);

    // Not web-exported, unknown: 404.
    let r = c
        .send("GET", "/api/v1/web/guest/default/hidden.json", None)
        .await;
    assert_eq!(r.status, 404);
    let r = c
        .send("GET", "/api/v1/web/guest/default/nothing.json", None)
        .await;
    assert_eq!(r.status, 404);

    // require-whisk-auth: a secret header, or a valid key when `true`.
    let r = c
        .send("GET", "/api/v1/web/guest/default/secret.json", None)
        .await;
    assert_eq!(r.status, 401);
    let r = c
        .send_with(
            "GET",
            "/api/v1/web/guest/default/secret.json",
            None,
            &[("x-require-whisk-auth", "wrong")],
        )
        .await;
    assert_eq!(r.status, 401);
    let r = c
        .send_with(
            "GET",
            "/api/v1/web/guest/default/secret.json",
            None,
            &[("x-require-whisk-auth", "s3cret")],
        )
        .await;
    assert_eq!(r.status, 200);
    let r = c
        .send("GET", "/api/v1/web/guest/default/keyed.json", None)
        .await;
    assert_eq!(r.status, 401);
    c.auth = key.clone();
    let r = c
        .send("GET", "/api/v1/web/guest/default/keyed.json", None)
        .await;
    assert_eq!(ok(&r)["__ow_user"], "guest");
    c.auth = None;

    // raw-http: the query and body come unparsed.
    let r = c
        .send(
            "POST",
            "/api/v1/web/guest/default/raw.json?a=1&b=2",
            Some(r#"{"x":1}"#),
        )
        .await;
    let v = ok(&r);
    assert_eq!(v["__ow_query"], "a=1&b=2");
    // JSON is binary to OpenWhisk's raw mode: base64.
    assert_eq!(v["__ow_body"], "eyJ4IjoxfQ==");
    assert!(v.get("x").is_none() && v.get("a").is_none());
    p.shutdown().await;
}

#[tokio::test]
async fn three_component_sequence() {
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;
    let inc = "def main(p):\n    print('step', p.get('n', 0))\n    return {'n': p.get('n', 0) + 1, 'trail': p.get('trail', '') + p.get('tag', '')}\n";
    put_python(&mut c, "inc1", inc, json!({})).await;
    put(
        &mut c,
        "packages/steps",
        json!({"parameters": kv(&[("tag", json!("p"))])}),
    )
    .await;
    put_python(&mut c, "steps/inc2", inc, json!({})).await;
    put_python(&mut c, "inc3", inc, json!({})).await;
    let seq = put(
        &mut c,
        "actions/seq",
        json!({"exec": {"kind": "sequence", "components": ["/_/inc1", "/guest/steps/inc2", "/guest/inc3"]}}),
    )
    .await;
    assert_eq!(
        seq["exec"]["components"],
        json!(["/guest/inc1", "/guest/steps/inc2", "/guest/inc3"])
    );

    let r = c
        .send(
            "POST",
            &format!("{NS}/actions/seq?blocking=true"),
            Some(r#"{"n":10}"#),
        )
        .await;
    let a = ok(&r);
    assert_eq!(a["response"]["result"], json!({"n": 13, "trail": "p"}));
    assert_eq!(annotation(&a, "kind").unwrap(), "sequence");
    assert_eq!(annotation(&a, "topmost").unwrap(), true);
    assert!(annotation(&a, "limits").is_some());
    let ids: Vec<String> = a["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    let mut sum = 0;
    for (i, id) in ids.iter().enumerate() {
        let comp = ok(&c.wait_activation(id, Duration::from_secs(10)).await);
        assert_eq!(comp["cause"], a["activationId"]);
        assert_eq!(annotation(&comp, "causedBy").unwrap(), "sequence");
        assert_eq!(comp["response"]["result"]["n"], 11 + i as i64);
        assert!(comp["logs"][0]
            .as_str()
            .unwrap()
            .ends_with(&format!("stdout: step {}", 10 + i)));
        sum += comp["duration"].as_u64().unwrap();
    }
    // The sequence's duration is the sum of its components' (each rounded down to ms).
    let d = a["duration"].as_u64().unwrap();
    assert!(d >= sum && d <= sum + 3, "duration {d}, components {sum}");

    // An error in a component stops the sequence with that error.
    put_python(
        &mut c,
        "inc3",
        "def main(p):\n    return {'error': 'stop at ' + str(p['n'])}\n",
        json!({}),
    )
    .await;
    let r = c
        .send(
            "POST",
            &format!("{NS}/actions/seq?blocking=true"),
            Some(r#"{"n":0}"#),
        )
        .await;
    assert_eq!(r.status, 502);
    let a = r.json();
    assert_eq!(a["response"]["result"], json!({"error": "stop at 2"}));
    assert_eq!(a["response"]["status"], "application error");
    assert_eq!(a["logs"].as_array().unwrap().len(), 3);

    // Non-blocking: 202, then the sequence's record appears.
    let r = c
        .send("POST", &format!("{NS}/actions/seq"), Some(r#"{"n":0}"#))
        .await;
    assert_eq!(r.status, 202);
    let id = r.json()["activationId"].as_str().unwrap().to_string();
    let a = ok(&c.wait_activation(&id, Duration::from_secs(20)).await);
    assert_eq!(annotation(&a, "kind").unwrap(), "sequence");

    // Create-time checks: components must exist, must not lead back, malformed is refused.
    let refused = |body: Value| body.to_string();
    for (body, message) in [
        (
            json!({"exec": {"kind": "sequence", "components": ["/_/inc1", "/_/nothing"]}}),
            "Sequence component does not exist.",
        ),
        (
            json!({"exec": {"kind": "sequence", "components": ["/_/inc1", "/_/seq"]}}),
            "Sequence may not refer to itself.",
        ),
    ] {
        let r = c
            .send(
                "PUT",
                &format!("{NS}/actions/seq?overwrite=true"),
                Some(&refused(body)),
            )
            .await;
        assert_eq!((r.status, r.error().as_str()), (400, message));
    }
    // seq2 runs seq: updating seq to run seq2 would make a cycle.
    put(
        &mut c,
        "actions/seq2",
        json!({"exec": {"kind": "sequence", "components": ["/_/seq"]}}),
    )
    .await;
    let r = c
        .send(
            "PUT",
            &format!("{NS}/actions/seq?overwrite=true"),
            Some(&json!({"exec": {"kind": "sequence", "components": ["/_/seq2"]}}).to_string()),
        )
        .await;
    assert_eq!(
        (r.status, r.error().as_str()),
        (400, "Sequence may not refer to itself.")
    );
    let r = c
        .send(
            "PUT",
            &format!("{NS}/actions/bad?overwrite=true"),
            Some(r#"{"exec":{"kind":"sequence","components":["inc1"]}}"#),
        )
        .await;
    assert_eq!(r.status, 400);
    // A component deleted after the sequence was made fails it at run time.
    put_python(&mut c, "gone", ECHO, json!({})).await;
    put(
        &mut c,
        "actions/broken",
        json!({"exec": {"kind": "sequence", "components": ["/_/inc1", "/_/gone"]}}),
    )
    .await;
    ok(&c.send("DELETE", &format!("{NS}/actions/gone"), None).await);
    let r = c
        .send(
            "POST",
            &format!("{NS}/actions/broken?blocking=true"),
            Some("{}"),
        )
        .await;
    assert_eq!(r.status, 502);
    let a = r.json();
    assert_eq!(a["logs"].as_array().unwrap().len(), 1);
    assert_eq!(
        a["response"]["result"]["error"],
        "Sequence component does not exist: /guest/gone."
    );
    p.shutdown().await;
}

#[tokio::test]
async fn trigger_with_two_rules_one_disabled() {
    let p = start(config()).await;
    let mut c = Client::connect(&p).await;
    put_python(
        &mut c,
        "first",
        ECHO,
        json!({"parameters": kv(&[("who", json!("first"))])}),
    )
    .await;
    put_python(&mut c, "second", ECHO, json!({})).await;
    let t = put(
        &mut c,
        "triggers/tick",
        json!({"parameters": kv(&[("a", json!("trigger")), ("b", json!("trigger"))]),
               "annotations": kv(&[("feed", json!("/whisk.system/alarms/alarm"))])}),
    )
    .await;
    assert_eq!(
        annotation(&t, "feed").unwrap(),
        "/whisk.system/alarms/alarm"
    );

    // No rule yet: 204.
    let r = c
        .send("POST", &format!("{NS}/triggers/tick"), Some("{}"))
        .await;
    assert_eq!(r.status, 204);

    let r1 = put(
        &mut c,
        "rules/r1",
        json!({"trigger": "/_/tick", "action": "/_/first"}),
    )
    .await;
    assert_eq!(r1["status"], "active");
    assert_eq!(r1["trigger"], json!({"path": "guest", "name": "tick"}));
    put(
        &mut c,
        "rules/r2",
        json!({"trigger": "tick", "action": "second"}),
    )
    .await;
    let r = c
        .send(
            "POST",
            &format!("{NS}/rules/r2"),
            Some(r#"{"status":"inactive"}"#),
        )
        .await;
    assert_eq!(r.status, 200);
    let r2 = ok(&c.send("GET", &format!("{NS}/rules/r2"), None).await);
    assert_eq!(r2["status"], "inactive");
    let t = ok(&c.send("GET", &format!("{NS}/triggers/tick"), None).await);
    assert_eq!(t["rules"]["guest/r1"]["status"], "active");
    assert_eq!(t["rules"]["guest/r2"]["status"], "inactive");

    let r = c
        .send(
            "POST",
            &format!("{NS}/triggers/tick"),
            Some(r#"{"b":"payload"}"#),
        )
        .await;
    assert_eq!(r.status, 202);
    let tid = r.json()["activationId"].as_str().unwrap().to_string();
    let ta = ok(&c.wait_activation(&tid, Duration::from_secs(10)).await);
    assert_eq!(ta["name"], "tick");
    assert_eq!(
        ta["response"]["result"],
        json!({"a": "trigger", "b": "payload"})
    );
    let logs = ta["logs"].as_array().unwrap();
    assert_eq!(logs.len(), 1, "only the active rule ran: {logs:?}");
    let entry: Value = serde_json::from_str(logs[0].as_str().unwrap()).unwrap();
    assert_eq!(entry["statusCode"], 0);
    assert_eq!(entry["success"], true);
    assert_eq!(entry["rule"], "guest/r1");
    assert_eq!(entry["action"], "guest/first");
    let aid = entry["activationId"].as_str().unwrap();
    let a = ok(&c.wait_activation(aid, Duration::from_secs(20)).await);
    assert_eq!(a["name"], "first");
    assert_eq!(
        a["response"]["result"],
        json!({"a": "trigger", "b": "payload", "who": "first"})
    );

    // Enabling the second rule: both run on the next fire.
    let r = c
        .send(
            "POST",
            &format!("{NS}/rules/r2"),
            Some(r#"{"status":"active"}"#),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = c.send("POST", &format!("{NS}/triggers/tick"), None).await;
    let tid = ok(&r)["activationId"].as_str().unwrap().to_string();
    let ta = ok(&c.wait_activation(&tid, Duration::from_secs(10)).await);
    assert_eq!(ta["logs"].as_array().unwrap().len(), 2);

    // Bad states and references.
    let r = c
        .send(
            "POST",
            &format!("{NS}/rules/r2"),
            Some(r#"{"status":"paused"}"#),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = c
        .send(
            "PUT",
            &format!("{NS}/rules/r3"),
            Some(r#"{"trigger":"nothing","action":"first"}"#),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = c
        .send(
            "PUT",
            &format!("{NS}/rules/r1"),
            Some(r#"{"trigger":"tick","action":"first"}"#),
        )
        .await;
    assert_eq!(r.status, 409);
    let listed = ok(&c.send("GET", &format!("{NS}/rules"), None).await);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    ok(&c.send("DELETE", &format!("{NS}/rules/r1"), None).await);
    ok(&c.send("DELETE", &format!("{NS}/triggers/tick"), None).await);
    let r = c.send("POST", &format!("{NS}/triggers/tick"), None).await;
    assert_eq!(r.status, 404);
    p.shutdown().await;
}
