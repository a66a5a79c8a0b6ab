//! `/namespaces` and `/namespaces/{ns}/limits`.

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::{reply, Ctx};
use crate::platform::action::bounds;

/// `GET /namespaces`: the caller's namespace, as a one-element array.
pub fn list(ctx: &Ctx<'_>, method: &Method) -> Response {
    if method != Method::GET {
        return reply::method_not_allowed("GET", ctx.tid);
    }
    reply::json(StatusCode::OK, &[&*ctx.ns.name])
}

/// `GET /namespaces/{ns}/limits`. Unlimited admission limits are left out.
pub fn limits(ctx: &Ctx<'_>, method: &Method) -> Response {
    if method != Method::GET {
        return reply::method_not_allowed("GET", ctx.tid);
    }
    let configured = ctx.ns.throttle.limits();
    let mut m = Map::new();
    if let Some(n) = configured.invocations_per_minute {
        m.insert("invocationsPerMinute".into(), json!(n));
    }
    if let Some(n) = configured.concurrent_invocations {
        m.insert("concurrentInvocations".into(), json!(n));
    }
    let mb = 1024 * 1024;
    for (key, value) in [
        ("firesPerMinute", 60),
        ("minActionMemory", bounds::MEMORY.0 * mb),
        ("maxActionMemory", bounds::MEMORY.1 * mb),
        ("minActionLogs", bounds::LOGS.0 * mb),
        ("maxActionLogs", bounds::LOGS.1 * mb),
        ("minActionTimeout", bounds::TIMEOUT.0),
        ("maxActionTimeout", bounds::TIMEOUT.1),
        ("minActionConcurrency", bounds::CONCURRENCY.0),
        ("maxActionConcurrency", bounds::CONCURRENCY.1),
    ] {
        m.insert(key.into(), json!(value));
    }
    // A byte size as text, as OpenWhisk writes it (the swagger types it a string).
    m.insert("maxParameterSize".into(), json!("1048576 B"));
    reply::json(StatusCode::OK, &Value::Object(m))
}
