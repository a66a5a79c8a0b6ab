//! gale's admin views per namespace (issue 15): with bob's key, `/gale/v1/containers` and
//! `/gale/v1/nodes` show bob's containers and bob's share only, never alice's; an admin
//! namespace sees the cluster. On the old code bob saw alice's containers and usage.

mod platform_support;

use gale::platform::NamespaceKey;
use platform_support::{config, start, Client};
use serde_json::{json, Value};

const ALICE: &str = concat!(
    "aaaaaaaa-0000-0000-0000-000000000001:",
    "aliceKEY00000000000000000000000000000000000000000000000000000000"
);
const BOB: &str = concat!(
    "bbbbbbbb-0000-0000-0000-000000000002:",
    "bobKEY0000000000000000000000000000000000000000000000000000000000"
);

async fn as_user(p: &gale::platform::RunningPlatform, key: &str) -> Client {
    use base64::Engine;
    let mut c = Client::connect(p).await;
    c.auth = Some(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(key)
    ));
    c
}

async fn get(c: &mut Client, what: &str) -> Value {
    let r = c.send("GET", &format!("/gale/v1/{what}"), None).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    r.json()
}

#[tokio::test]
async fn a_tenant_sees_its_own_containers_only() {
    let mut cfg = config();
    for (ns, key) in [("alice", ALICE), ("bob", BOB)] {
        cfg.namespaces.push(NamespaceKey {
            namespace: ns.into(),
            key: key.into(),
        });
    }
    let p = start(cfg).await;
    let mut alice = as_user(&p, ALICE).await;
    let mut bob = as_user(&p, BOB).await;
    let mut admin = Client::connect(&p).await;
    let put = alice
        .send(
            "PUT",
            "/api/v1/namespaces/_/actions/secret",
            Some(
                &json!({"exec": {"kind": "gale:synthetic"}, "limits": {"memory": 256}}).to_string(),
            ),
        )
        .await;
    assert_eq!(put.status, 200);
    let r = alice
        .send(
            "POST",
            "/api/v1/namespaces/_/actions/secret?blocking=true",
            Some("{}"),
        )
        .await;
    assert_eq!(r.status, 200);

    let seen = get(&mut alice, "containers").await;
    assert_eq!(seen.as_array().unwrap().len(), 1, "{seen}");
    assert_eq!(seen[0]["action"], "alice/secret", "{seen}");
    assert_eq!(get(&mut bob, "containers").await, json!([]));
    assert_eq!(
        get(&mut admin, "containers")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let nodes = get(&mut bob, "nodes").await;
    let n = &nodes[0];
    assert_eq!(
        (&n["containers"], &n["used_mb"], &n["active"]),
        (&json!(0), &json!(0), &json!(0)),
        "{n}"
    );
    assert!(
        n["memory_mb"].as_u64().unwrap() > 0,
        "capacity is public: {n}"
    );
    assert!(n.get("evictable_mb").is_none(), "{n}");
    let nodes = get(&mut alice, "nodes").await;
    assert_eq!(
        (&nodes[0]["containers"], &nodes[0]["used_mb"]),
        (&json!(1), &json!(256)),
        "{nodes}"
    );
    let nodes = get(&mut admin, "nodes").await;
    assert!(
        nodes[0].get("evictable_mb").is_some(),
        "the cluster view: {nodes}"
    );
    p.shutdown().await;
}
