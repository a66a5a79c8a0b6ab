//! `gale inject` with traces whose functions are more than plain actions: a web action
//! requested with GET (its query parameters reach the action), a three-component sequence
//! (the record is the sequence's activation), a trigger with two rules, one inactive (the
//! record covers the active rule's activation; the inactive one never runs), actions in a
//! package. Deployed and invoked over real HTTP through gale's own platform, whose
//! activation records are then read back to check what the records say.

mod inject_support;

use std::path::Path;
use std::time::Duration;

use inject_support::{converted_rows, inject_ok, PlatformProcess, Rec, Sandbox};
use serde_json::Value;

/// A python:3 action that sleeps `sleep_ms` and passes its input on (so a sequence of
/// them sleeps the first one's `sleep_ms` in each step).
const NAP: &str = concat!(
    "import time\\n",
    "def main(a):\\n",
    "    time.sleep(a['sleep_ms'] / 1000)\\n",
    "    return {'sleep_ms': a['sleep_ms'], 'tag': a.get('tag')}\\n",
);

/// A web action that shows what reached it.
const SHOW: &str = concat!(
    "def main(a):\\n",
    "    return {'n': a.get('n'), 'method': a.get('__ow_method'), 'user': a.get('__ow_user')}\\n",
);

/// A web action that answers only when the request was a GET whose query carried
/// `who=carol` and `n=3` (as strings, as query parameters always are).
const ECHO: &str = concat!(
    "def main(a):\\n",
    "    if a.get('__ow_method') != 'get' or a.get('who') != 'carol' or a.get('n') != '3':\\n",
    "        return {'error': 'not the expected query: %r' % sorted(k for k in a if k[:2] != '__')}\\n",
    "    return {'who': a['who'], 'n': a['n']}\\n",
);

fn trace(sb: &Sandbox) -> std::path::PathBuf {
    let yaml = format!(
        r#"blocking: true
packages:
  - {{name: tools, params: {{tag: from-package}}}}
functions:
  - {{name: echo, kind: "python:3", code: "{ECHO}", web: {{method: GET, extension: json}}}}
  - {{name: tools/nap, kind: "python:3", code: "{NAP}"}}
  - {{name: nap2, kind: "python:3", code: "{NAP}"}}
  - {{name: nap3, kind: "python:3", code: "{NAP}"}}
  - {{name: pipe, kind: sequence, components: [tools/nap, nap2, nap3]}}
  - {{name: slow, kind: "python:3", code: "{NAP}"}}
  - {{name: never, kind: "python:3", code: "{NAP}"}}
  - {{name: tools/guarded, kind: "python:3", code: "{SHOW}", web: {{require_whisk_auth: s3cret}}}}
  - {{name: keyed, kind: "python:3", code: "{SHOW}", web: {{require_whisk_auth: true}}}}
  - name: tick
    kind: trigger
    params: {{sleep_ms: 150}}
    rules: [slow, {{action: never, active: false}}]
invocations:
  - {{at: 0, function: echo, params: {{who: carol, n: 3}}}}
  - {{at: 0.1, function: echo, params: {{who: dave}}}}
  - {{at: 0.2, function: pipe, params: {{sleep_ms: 40}}}}
  - {{at: 0.4, function: pipe, params: {{sleep_ms: 40}}, blocking: false}}
  - {{at: 0.6, function: tick}}
  - {{at: 0.8, function: tick, params: {{sleep_ms: 200}}, blocking: true}}
  - {{at: 1.0, function: tools/guarded, params: {{n: 3}}}}
  - {{at: 1.1, function: keyed, params: {{n: 4}}}}
"#
    );
    sb.write("entities.yaml", &yaml)
}

/// One HTTP/1.1 request on its own connection to `/api/v1/PATH`, with the guest's key or
/// none: the status line and the body.
fn request(p: &PlatformProcess, method: &str, path: &str, key: bool) -> (String, String) {
    use base64::Engine as _;
    use std::io::{Read, Write};
    let addr = p.apihost.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(addr).expect("connect to the platform");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let auth = if key {
        let token = base64::engine::general_purpose::STANDARD.encode(&p.key);
        format!("Authorization: Basic {token}\r\n")
    } else {
        String::new()
    };
    write!(
        conn,
        "{method} /api/v1/{path} HTTP/1.1\r\nHost: {addr}\r\n{auth}\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).expect("read the answer");
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
    // Chunked bodies are not expected from the platform's JSON answers.
    assert!(!head.to_ascii_lowercase().contains("chunked"), "{head}");
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, body.to_string())
}

/// `GET /api/v1/namespaces/_/PATH` as the guest: the JSON answer of a 200.
fn get(p: &PlatformProcess, path: &str) -> Value {
    let (status, body) = request(p, "GET", &format!("namespaces/_/{path}"), true);
    assert!(
        status.starts_with("HTTP/1.1 200"),
        "GET {path}: {status}\n{body}"
    );
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

fn activation(p: &PlatformProcess, id: &str) -> Value {
    get(p, &format!("activations/{id}"))
}

fn annotation<'a>(a: &'a Value, key: &str) -> Option<&'a Value> {
    a["annotations"]
        .as_array()?
        .iter()
        .find(|x| x["key"] == key)
        .map(|x| &x["value"])
}

#[test]
fn web_sequence_and_trigger_rows_through_the_rest_api() {
    let sb = Sandbox::new();
    let platform = PlatformProcess::start(&sb, &[]);
    let trace = trace(&sb);
    let (_, res) = inject_ok(
        &sb,
        &trace,
        &["--apihost", &platform.apihost, "--auth", &platform.key],
    );
    res.assert_rows_are_prefix(8);
    let rec = |i: usize| -> &Rec { &res.records[i] };

    // What gale deployed: the package's parameter, the web annotation, the rules' states.
    let echo = get(&platform, "actions/echo");
    assert_eq!(annotation(&echo, "web-export"), Some(&Value::Bool(true)));
    let pipe = get(&platform, "actions/pipe");
    assert_eq!(
        pipe["exec"]["components"],
        serde_json::json!(["/guest/tools/nap", "/guest/nap2", "/guest/nap3"])
    );
    let rules = get(&platform, "rules");
    let mut states: Vec<(String, String)> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let full = get(&platform, &format!("rules/{}", r["name"].as_str().unwrap()));
            (
                full["name"].as_str().unwrap().to_string(),
                full["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    states.sort();
    assert_eq!(
        states,
        [
            ("tick-never".to_string(), "inactive".to_string()),
            ("tick-slow".into(), "active".into())
        ]
    );

    // The web action: its GET query reached it (it answers an error otherwise); the
    // response is the record's completion, no activation record was fetched, and the id
    // is the header's.
    let web = rec(0);
    assert_eq!(
        (web.entity.as_str(), web.outcome.as_str(), web.http_status),
        ("web", "success", Some(200)),
        "{web:#?}"
    );
    assert!(web.blocking);
    assert_eq!(web.activation_id.len(), 32);
    assert!(web.cold.is_none() && web.duration_ms.is_none(), "{web:#?}");
    let replied = web.sent_us.unwrap() + web.response_us.unwrap();
    assert!((web.end_us.unwrap() - replied).abs() < 0.002, "{web:#?}");
    assert!((web.completion_us.unwrap() - (replied - web.scheduled_us)).abs() < 0.002);
    let a = activation(&platform, &web.activation_id);
    assert_eq!(a["name"], "echo");
    assert_eq!(a["response"]["result"]["who"], "carol");
    // The same action with another query answers an error: the parameters are what it saw.
    let bad = rec(1);
    assert_eq!(
        (bad.entity.as_str(), bad.outcome.as_str(), bad.http_status),
        ("web", "http_error", Some(400)),
        "{bad:#?}"
    );

    // The sequence, blocking and not: the record is the sequence's own activation, which
    // lists its three components; its duration is theirs summed, and the completion covers
    // the three 40 ms naps.
    for i in [2, 3] {
        let r = rec(i);
        assert_eq!(
            (r.entity.as_str(), r.outcome.as_str()),
            ("sequence", "success"),
            "{r:#?}"
        );
        assert_eq!(r.http_status, Some(if i == 2 { 200 } else { 202 }));
        assert!(r.completion_us.unwrap() >= 120_000.0, "{r:#?}");
        assert!(
            r.end_us.unwrap() - r.start_us.unwrap() >= 120_000.0,
            "{r:#?}"
        );
        let seq = activation(&platform, &r.activation_id);
        assert_eq!(seq["name"], "pipe", "{seq:#}");
        assert_eq!(seq["response"]["result"]["tag"], "from-package");
        let ids: Vec<String> = seq["logs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), 3, "{seq:#}");
        let mut sum_ms = 0;
        for (id, name) in ids.iter().zip(["nap", "nap2", "nap3"]) {
            let c = activation(&platform, id);
            assert_eq!(c["name"], name);
            assert_eq!(c["cause"], r.activation_id.as_str());
            sum_ms += c["duration"].as_u64().unwrap();
        }
        // Each figure is whole ms, cut from µs: the sum of three cut values may lose 2 ms.
        let seq_ms = seq["duration"].as_u64().unwrap();
        assert!(seq_ms.abs_diff(sum_ms) <= 3, "{seq_ms} ms vs {sum_ms} ms");
        let recorded = r.duration_ms.unwrap();
        assert!(
            (recorded - sum_ms as f64).abs() < 3.0,
            "record {recorded} ms, components {sum_ms} ms"
        );
    }

    // The fires: each record is the trigger's activation, ends with the active rule's
    // activation (`slow`, 150 ms of sleep from the trigger's parameter, 200 ms from the
    // row's), and the inactive rule's action never ran.
    for (i, nap_ms) in [(4, 150.0), (5, 200.0)] {
        let r = rec(i);
        assert_eq!(
            (r.entity.as_str(), r.outcome.as_str(), r.http_status),
            ("trigger", "success", Some(202)),
            "{r:#?}"
        );
        assert!(!r.blocking, "a fire never blocks: {r:#?}");
        assert!(r.completion_us.unwrap() >= nap_ms * 1000.0, "{r:#?}");
        let fire = activation(&platform, &r.activation_id);
        assert_eq!(fire["name"], "tick");
        let logs = fire["logs"].as_array().unwrap();
        assert_eq!(logs.len(), 1, "one active rule: {fire:#}");
        let line: Value = serde_json::from_str(logs[0].as_str().unwrap()).unwrap();
        assert_eq!(line["rule"], "guest/tick-slow");
        let started = activation(&platform, line["activationId"].as_str().unwrap());
        assert_eq!(started["name"], "slow");
        assert_eq!(started["response"]["result"]["sleep_ms"], nap_ms as u64);
        // The record carries the rule activation's timings: it ended with it.
        let d = started["duration"].as_f64().unwrap();
        assert!((r.duration_ms.unwrap() - d).abs() < 1.5, "{r:#?} vs {d} ms");
        assert!(
            r.end_us.unwrap() - r.start_us.unwrap() >= nap_ms * 1000.0,
            "{r:#?}"
        );
    }
    let never = get(&platform, "activations?name=never");
    assert_eq!(never, serde_json::json!([]), "the inactive rule ran");

    // Web actions that require credentials: a POST (the default) of a package's action
    // carrying the secret, its JSON body's types kept; a POST with the user's key,
    // which the action sees as `__ow_user`. Without them the platform refuses.
    for (i, n, user) in [(6, 3, Value::Null), (7, 4, Value::from("guest"))] {
        let r = rec(i);
        assert_eq!(
            (r.entity.as_str(), r.outcome.as_str(), r.http_status),
            ("web", "success", Some(200)),
            "{r:#?}"
        );
        let result = &activation(&platform, &r.activation_id)["response"]["result"];
        assert_eq!(result["n"], n, "{result}");
        assert_eq!(result["method"], "post");
        assert_eq!(result["user"], user);
    }
    for path in [
        "web/guest/tools/guarded.json",
        "web/guest/default/keyed.json",
    ] {
        let (status, body) = request(&platform, "POST", path, false);
        assert!(status.contains(" 401 "), "{path}: {status}\n{body}");
    }

    let s = &res.summary;
    assert_eq!(s["overall"]["count"], 8);
    assert_eq!(s["overall"]["errors"], 1);
}

/// The example trace runs on the in-process platform, every row succeeds, and each
/// record names what its function is.
#[test]
fn entities_example_trace_runs_every_row() {
    let sb = Sandbox::new();
    let trace = Path::new(env!("CARGO_MANIFEST_DIR")).join("traces/entities.yaml");
    let rows = converted_rows(&sb, &trace);
    assert!(rows.len() > 30, "{} rows", rows.len());
    // The conversion keeps every declaration: it reads back the same.
    let opts = gale::trace::OpenOptions::default();
    let original = gale::trace::open(&trace, &opts).unwrap().header;
    let back = gale::trace::open(&sb.join("converted.yaml"), &opts)
        .unwrap()
        .header;
    assert_eq!(back.functions, original.functions);
    assert_eq!(back.packages, original.packages);
    assert!(original.functions.iter().any(|f| f.web.is_some()));
    let (_, res) = inject_ok(&sb, &trace, &["--speed", "4"]);
    res.assert_rows_are_prefix(rows.len());
    res.assert_all_success();
    for r in &res.records {
        let expected = match r.function.as_str() {
            "greet" => "web",
            "pipeline" => "sequence",
            "upload" => "trigger",
            other => panic!("row {} names {other}", r.row),
        };
        assert_eq!(r.entity, expected, "{r:#?}");
        assert!(r.completion_us.is_some(), "{r:#?}");
    }
    assert!(res.run_yaml.contains("components:"), "{}", res.run_yaml);
}

/// Declarations that do not hold together are refused before anything runs, naming the
/// file, line, column and field.
#[test]
fn bad_entity_declarations_are_located_errors() {
    let sb = Sandbox::new();
    let cases = [
        (
            "seq.yaml",
            "functions:\n  - a\n  - {name: s, kind: sequence, components: [a, zzz]}\n",
            "seq.yaml:3:5: field `components`: sequence `s` names `zzz`, which is not declared",
        ),
        (
            "web.yaml",
            "functions:\n  - name: w\n    web: {method: FETCH}\n",
            "web.yaml:3:19: field `method`: expected GET, POST, PUT, DELETE or PATCH, got `FETCH`",
        ),
        (
            "rule.yaml",
            "functions:\n  - a\n  - name: t\n    kind: trigger\n    rules: [a, ghost]\n",
            "rule.yaml:3:5: field `rules`: a rule of trigger `t` names action `ghost`, which is not declared",
        ),
        (
            "cycle.yaml",
            "functions:\n  - {name: x, kind: sequence, components: [y]}\n  - {name: y, kind: sequence, components: [x]}\n",
            "cycle.yaml:2:5: field `components`: sequences form a cycle: x → y → x",
        ),
        (
            "fire.yaml",
            "functions:\n  - {name: t, kind: trigger, blocking: true}\n",
            "fire.yaml:2:5: field `blocking`: `blocking` does not apply to trigger `t`",
        ),
    ];
    for (name, yaml, expected) in cases {
        let path = sb.write(name, yaml);
        for cmd in [
            vec![
                "trace".into(),
                "check".into(),
                path.clone().into_os_string(),
            ],
            vec!["inject".into(), path.clone().into_os_string()],
        ] {
            let out = sb.run(cmd);
            out.expect_code(2);
            assert!(
                out.stderr.contains(expected),
                "{name}: expected `{expected}` in:\n{}",
                out.stderr
            );
        }
    }
}
