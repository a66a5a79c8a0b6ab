//! gale's own admin API (not OpenWhisk's): the model's FaaS operations and resource figures.
//!
//! - `GET  /gale/v1/nodes`: nodes with capacity, reserved memory, running activations, and
//!   measured memory and CPU (from the node's cgroup);
//! - `GET  /gale/v1/containers`: every live container, its state and measured usage;
//! - `GET  /gale/v1/namespaces/{ns}/actions/{name}/replicas`: discover;
//! - `POST /gale/v1/namespaces/{ns}/actions/{name}/scale` with `{"up": n}` or `{"down": n}`;
//! - `POST /gale/v1/namespaces/{ns}/actions/{name}/suspend`.
//!
//! Same authentication as the OpenWhisk API; actions are those of the caller's namespace.
//! `nodes` and `containers` are the whole cluster only for an admin namespace; any other
//! key sees its own containers and its own share of each node (issue 15: bob must not see
//! alice's containers and usage).

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{reply, Ctx};
use crate::model::{ContainerView, NodeView};
use crate::platform::cgroups::Usage;

const MAX_BODY: usize = 4096;

/// Route `/gale/v1/<rest>`.
pub async fn route(ctx: &Ctx<'_>, rest: &[&str], req: Request) -> Response {
    let s = &ctx.shared.scheduler;
    let method = req.method().clone();
    match (rest, &method) {
        (["nodes"], &Method::GET) if is_admin(ctx) => ok(Value::Array(
            s.nodes()
                .iter()
                .map(|n| node_json(n, s.node_usage(n.id)))
                .collect(),
        )),
        (["nodes"], &Method::GET) => ok(own_nodes_json(ctx)),
        (["containers"], &Method::GET) => ok(containers_json(ctx, &visible(ctx, s.containers()))),
        (["namespaces", ns, "actions", name, op], _) => {
            if let Err(r) = super::check_namespace(ctx, ns) {
                return r;
            }
            let name = super::query::decode(name, false).into_owned();
            let Some(action) = ctx.ns.action(&name) else {
                return reply::not_found(ctx.tid);
            };
            if &*action.exec.kind == crate::platform::action::SEQUENCE {
                return reply::bad_request(
                    "A sequence runs in its components' containers, not in its own.",
                    ctx.tid,
                );
            }
            s.ensure_deployed(ctx.shared, &action);
            let rev = crate::model::ActionKey(action.rev);
            match (*op, &method) {
                ("replicas", &Method::GET) => {
                    let replicas = s.step(ctx.shared, |m, _| m.discover(rev));
                    ok(containers_json(ctx, &replicas))
                }
                ("scale", &Method::POST) => {
                    #[derive(Deserialize)]
                    #[serde(deny_unknown_fields)]
                    struct Scale {
                        up: Option<u32>,
                        down: Option<u32>,
                    }
                    let body = match super::read_json_body(req, MAX_BODY, ctx.tid).await {
                        Ok(b) => b,
                        Err(r) => return r,
                    };
                    let scale = match serde_json::from_slice::<Scale>(&body) {
                        Ok(Scale {
                            up: Some(n),
                            down: None,
                        }) => Ok(n as i64),
                        Ok(Scale {
                            up: None,
                            down: Some(n),
                        }) => Ok(-(n as i64)),
                        Ok(_) => Err("expected exactly one of `up` or `down`".to_string()),
                        Err(e) => Err(format!("expected {{\"up\": n}} or {{\"down\": n}}: {e}")),
                    };
                    match scale {
                        Ok(n) if n >= 0 => {
                            let started =
                                s.step(ctx.shared, |m, now| m.scale_up(now, rev, n as u32));
                            ok(json!({ "started": started }))
                        }
                        Ok(n) => {
                            let removed =
                                s.step(ctx.shared, |m, now| m.scale_down(now, rev, (-n) as u32));
                            ok(json!({ "removed": removed }))
                        }
                        Err(m) => reply::bad_request(&m, ctx.tid),
                    }
                }
                ("suspend", &Method::POST) => {
                    let removed = s.step(ctx.shared, |m, now| m.suspend(now, rev));
                    ok(json!({ "removed": removed }))
                }
                _ => reply::not_found(ctx.tid),
            }
        }
        _ => reply::not_found(ctx.tid),
    }
}

/// Whether the caller's namespace has the cluster view (`admin: true` in the platform
/// config; the built-in `guest` when no namespaces are configured).
fn is_admin(ctx: &Ctx<'_>) -> bool {
    ctx.shared
        .config
        .admin_namespaces
        .iter()
        .any(|a| **a == *ctx.ns.name)
}

/// The namespace an action path (`/ns/name` or `/ns/pkg/name`) belongs to.
fn owner(path: &str) -> &str {
    path.trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
}

/// The containers the caller may see: all for an admin, else those running its own
/// actions (not another tenant's, nor unbound stem cells).
fn visible(ctx: &Ctx<'_>, list: Vec<ContainerView>) -> Vec<ContainerView> {
    if is_admin(ctx) {
        return list;
    }
    let s = &ctx.shared.scheduler;
    list.into_iter()
        .filter(|c| {
            c.action
                .and_then(|a| s.action_path(a))
                .is_some_and(|p| owner(&p) == &*ctx.ns.name)
        })
        .collect()
}

/// Nodes as a tenant sees them: their capacity, and only its own containers' share and
/// measured usage.
fn own_nodes_json(ctx: &Ctx<'_>) -> Value {
    let s = &ctx.shared.scheduler;
    let mine = visible(ctx, s.containers());
    Value::Array(
        s.nodes()
            .iter()
            .map(|n| {
                let on: Vec<&ContainerView> = mine.iter().filter(|c| c.node == n.id).collect();
                let mut usage: Option<Usage> = None;
                for c in &on {
                    if let Some(u) = s.container_usage(c.id) {
                        let acc = usage.get_or_insert(Usage {
                            memory_bytes: 0,
                            cpu_ns: Some(0),
                        });
                        acc.memory_bytes += u.memory_bytes;
                        acc.cpu_ns = acc.cpu_ns.zip(u.cpu_ns).map(|(a, b)| a + b);
                    }
                }
                let mut v = json!({
                    "name": &*n.name,
                    "memory_mb": n.memory_mb,
                    "used_mb": on.iter().map(|c| u64::from(c.memory_mb)).sum::<u64>(),
                    "cpus": n.cpus,
                    "active": on.iter().map(|c| c.active).sum::<u32>(),
                    "containers": on.len(),
                });
                add_usage(&mut v, usage);
                v
            })
            .collect(),
    )
}

fn ok(v: Value) -> Response {
    reply::json(StatusCode::OK, &v)
}

fn node_json(n: &NodeView, usage: Option<Usage>) -> Value {
    let mut v = json!({
        "name": &*n.name,
        "memory_mb": n.memory_mb,
        "used_mb": n.used_mb,
        "evictable_mb": n.evictable_mb,
        "cpus": n.cpus,
        "active": n.active,
        "containers": n.containers,
    });
    add_usage(&mut v, usage);
    v
}

/// What the cgroup measured (`null` without cgroups): `memory_bytes` charged now,
/// `cpu_ms` used so far.
fn add_usage(v: &mut Value, usage: Option<Usage>) {
    if let Value::Object(o) = v {
        o.insert("memory_bytes".into(), json!(usage.map(|u| u.memory_bytes)));
        o.insert(
            "cpu_ms".into(),
            json!(usage
                .and_then(|u| u.cpu_ns)
                .map(|ns| (ns / 1000) as f64 / 1000.0)),
        );
    }
}

fn containers_json(ctx: &Ctx<'_>, list: &[ContainerView]) -> Value {
    let s = &ctx.shared.scheduler;
    Value::Array(
        list.iter()
            .map(|c| {
                let mut v = json!({
                    "id": c.id.to_string(),
                    "node": &*ctx.shared.config.node_name(c.node),
                    "action": c.action.and_then(|a| s.action_path(a)).map(|p| p.to_string()),
                    "kind": &*c.kind,
                    "memory_mb": c.memory_mb,
                    "state": c.state.name(),
                    "active": c.active,
                    "runs": c.runs,
                    "idle_ms": s.now().since(c.last_used) / 1_000_000,
                });
                add_usage(&mut v, s.container_usage(c.id));
                v
            })
            .collect(),
    )
}
