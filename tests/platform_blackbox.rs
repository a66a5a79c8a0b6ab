//! `blackbox` actions: a user's own executable, named by absolute path in `exec.image`,
//! speaking the ActionLoop protocol itself. Here a POSIX shell script does.

mod platform_support;

use std::os::unix::fs::PermissionsExt;

use platform_support::{annotation, config, start, Client};
use serde_json::{json, Value};

/// The ActionLoop protocol in sh: ack when asked, then per `/run` line some log lines, the
/// sentinels, and one result line on fd 3 (the input echoed, or an error, or an exit).
const SCRIPT: &str = r#"#!/bin/sh
echo "starting" >&2
# In its own PID namespace every container's process is pid 1: a boot id tells them apart.
boot=$(cat /proc/sys/kernel/random/uuid)
if [ -n "$__OW_WAIT_FOR_ACK" ]; then echo '{"ok":true}' >&3; fi
while read -r line; do
  echo "run in $$"
  echo "a warning" >&2
  case "$line" in
    *'"exit":true'*) exit 4 ;;
  esac
  echo "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
  echo "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX" >&2
  case "$line" in
    *'"fail":true'*) echo '{"error":"asked to fail"}' >&3 ;;
    *) printf '{"input":%s,"pid":%s,"boot":"%s","greeting":"%s"}\n' "$line" "$$" "$boot" "$GREETING" >&3 ;;
  esac
done
"#;

fn logs(a: &Value) -> Vec<String> {
    a["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_shell_script_speaking_the_protocol_runs_as_an_action() {
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("loop.sh");
    std::fs::write(&exe, SCRIPT).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let image = exe.to_str().unwrap();

    let p = start(config()).await;
    let mut c = Client::connect(&p).await;
    let body = json!({
        "exec": {"kind": "blackbox", "image": image},
        "parameters": [{"key": "GREETING", "value": "hi", "init": true}, {"key": "d", "value": 1}],
    });
    let r = c
        .send(
            "PUT",
            "/api/v1/namespaces/_/actions/box",
            Some(&body.to_string()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["exec"]["image"], image);
    assert_eq!(r.json()["exec"]["kind"], "blackbox");

    let cold = c.invoke("box", json!({"x": 1})).await;
    assert_eq!(cold.status, 200, "{}", String::from_utf8_lossy(&cold.body));
    let cold = cold.json();
    let result = &cold["response"]["result"];
    assert_eq!(result["input"]["value"], json!({"d": 1, "x": 1}), "{cold}");
    assert_eq!(result["input"]["action_name"], "/guest/box");
    assert_eq!(result["input"]["activation_id"], cold["activationId"]);
    assert_eq!(
        result["greeting"], "hi",
        "init parameters are its environment"
    );
    assert!(annotation(&cold, "initTime").is_some());
    let l = logs(&cold);
    let ran = format!("stdout: run in {}", result["pid"]);
    assert!(l.iter().any(|x| x.ends_with(&ran)), "{l:?}");
    assert!(l.iter().any(|x| x.ends_with("stderr: a warning")), "{l:?}");

    let warm = c.invoke("box", json!({})).await.json();
    assert!(annotation(&warm, "initTime").is_none(), "{warm}");
    assert_eq!(
        warm["response"]["result"]["pid"], result["pid"],
        "same process"
    );

    let failed = c.invoke("box", json!({"fail": true})).await;
    assert_eq!(failed.status, 502);
    assert_eq!(failed.json()["response"]["status"], "application error");

    let exited = c.invoke("box", json!({"exit": true})).await.json();
    assert_eq!(
        exited["response"]["status"], "action developer error",
        "{exited}"
    );
    assert_eq!(
        exited["response"]["result"]["error"],
        "The action did not produce a valid response and exited unexpectedly."
    );
    let again = c.invoke("box", json!({})).await.json();
    assert_eq!(
        again["response"]["status"], "success",
        "a new container: {again}"
    );
    assert_ne!(again["response"]["result"]["boot"], result["boot"]);

    // The image must exist and be executable; code is not for blackbox actions.
    for (bad, says) in [
        (
            json!({"kind": "blackbox", "image": "loop.sh"}),
            "is not absolute",
        ),
        (
            json!({"kind": "blackbox", "image": "/nonexistent/loop"}),
            "cannot be used",
        ),
        (
            json!({"kind": "blackbox", "image": image, "code": "echo"}),
            "\"code\" is not supported",
        ),
    ] {
        let r = c
            .send(
                "PUT",
                "/api/v1/namespaces/_/actions/bad?overwrite=true",
                Some(&json!({"exec": bad}).to_string()),
            )
            .await;
        assert_eq!(r.status, 400);
        assert!(r.error().contains(says), "{}", r.error());
    }
    p.shutdown().await;
}
