//! Unauthenticated endpoints: `/`, `/api/v1`, `/ping`.

use axum::body::Body;
use axum::http::header::{HeaderValue, CONTENT_TYPE};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::reply;
use crate::platform::action::bounds;
use crate::platform::runtime::SUPPORTED_KINDS;
use crate::platform::Shared;

/// `GET /`: what OpenWhisk's controller describes there, with gale's runtimes.
pub fn root(method: &Method, shared: &Shared, tid: &str) -> Response {
    if method != Method::GET {
        return reply::method_not_allowed("GET", tid);
    }
    let limits = &shared.config.limits;
    let mut l = json!({
        "triggers_per_minute": 60,
        "sequence_length": 50,
        "min_action_duration": bounds::TIMEOUT.0,
        "max_action_duration": bounds::TIMEOUT.1,
        "min_action_memory": bounds::MEMORY.0 * 1024 * 1024,
        "max_action_memory": bounds::MEMORY.1 * 1024 * 1024,
        "min_action_logs": bounds::LOGS.0 * 1024 * 1024,
        "max_action_logs": bounds::LOGS.1 * 1024 * 1024,
    });
    if let Some(n) = limits.invocations_per_minute {
        l["actions_per_minute"] = json!(n);
    }
    if let Some(n) = limits.concurrent_invocations {
        l["concurrent_actions"] = json!(n);
    }
    let runtimes: Vec<_> = SUPPORTED_KINDS
        .iter()
        .enumerate()
        .map(|(i, k)| json!({"kind": k, "default": i == 0, "deprecated": false, "attached": false, "requireMain": false}))
        .collect();
    reply::json(
        StatusCode::OK,
        &json!({
            "description": "OpenWhisk",
            "api_paths": ["/api/v1"],
            "limits": l,
            "runtimes": { "gale": runtimes },
            "gale": { "version": env!("CARGO_PKG_VERSION") },
        }),
    )
}

/// `GET /api/v1`.
pub fn api_info(method: &Method, tid: &str) -> Response {
    if method != Method::GET {
        return reply::method_not_allowed("GET", tid);
    }
    reply::json(
        StatusCode::OK,
        &json!({
            "description": "OpenWhisk API",
            "api_version": "1.0.0",
            "api_version_path": "v1",
            "build": "gale",
            "buildno": env!("CARGO_PKG_VERSION"),
            "swagger_paths": {"ui": "/docs", "api-docs": "/api-docs"},
        }),
    )
}

/// `GET /ping`: `pong`, as plain text like OpenWhisk's.
pub fn ping(method: &Method, tid: &str) -> Response {
    if method != Method::GET {
        return reply::method_not_allowed("GET", tid);
    }
    let mut r = Response::new(Body::from("pong"));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    r
}
