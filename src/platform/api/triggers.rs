//! `/namespaces/{ns}/triggers[/{name}]`: list, create/update, get, delete, fire.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::actions::accepted;
use super::query::Query;
use super::{read_json_body, reply, Ctx};
use crate::platform::action::valid_name;
use crate::platform::trigger::{self, TriggerPut};
use crate::timefmt::epoch_ms;

/// Trigger bodies: parameters and annotations (1 MB each in OpenWhisk).
const MAX_PUT_BODY: usize = 2 * 1024 * 1024;
/// A fire's payload is an invocation payload.
const MAX_FIRE_BODY: usize = 1_048_576;

/// `GET …/triggers?limit&skip&count`.
pub fn list(ctx: &Ctx<'_>, req: Request) -> Response {
    if req.method() != Method::GET {
        return reply::method_not_allowed("GET", ctx.tid);
    }
    let q = Query::parse(req.uri().query());
    let count = match q.bool("count") {
        Ok(c) => c.unwrap_or(false),
        Err(m) => return reply::bad_request(&m, ctx.tid),
    };
    let (limit, skip) = match (q.list_limit("triggers"), q.list_skip("triggers")) {
        (Ok(l), Ok(s)) => (l, s),
        (Err(m), _) | (_, Err(m)) => return reply::bad_request(&m, ctx.tid),
    };
    let all = ctx.ns.triggers.list();
    if count {
        return reply::json(StatusCode::OK, &json!({ "triggers": all.len() }));
    }
    let page: Vec<Value> = all
        .iter()
        .skip(skip)
        .take(limit)
        .map(|(_, t)| {
            trigger::summary(
                &t.namespace,
                &t.name,
                &t.version,
                t.publish,
                t.updated,
                &t.annotations,
            )
        })
        .collect();
    reply::json(StatusCode::OK, &page)
}

/// One trigger: GET, PUT, DELETE, POST (fire).
pub async fn entity(ctx: &Ctx<'_>, name: &str, req: Request) -> Response {
    match *req.method() {
        Method::GET => match ctx.ns.triggers.get(name) {
            Some(t) => reply::json(
                StatusCode::OK,
                &trigger::trigger_json(&t, Some(&trigger::rules_of(ctx.ns, name))),
            ),
            None => reply::not_found(ctx.tid),
        },
        Method::PUT => put(ctx, name, req).await,
        Method::DELETE => match ctx.ns.triggers.modify(name, |current| match current {
            Some(_) => Ok((None, ())),
            None => Err(()),
        }) {
            Ok((Some(old), ())) => reply::json(StatusCode::OK, &trigger::trigger_json(&old, None)),
            _ => reply::not_found(ctx.tid),
        },
        Method::POST => fire(ctx, name, req).await,
        _ => reply::method_not_allowed("GET, PUT, POST, DELETE", ctx.tid),
    }
}

async fn put(ctx: &Ctx<'_>, name: &str, req: Request) -> Response {
    let overwrite = match Query::parse(req.uri().query()).bool("overwrite") {
        Ok(o) => o.unwrap_or(false),
        Err(m) => return reply::bad_request(&m, ctx.tid),
    };
    if !valid_name(name) {
        return reply::bad_request(
            "The name of the entity contains illegal characters.",
            ctx.tid,
        );
    }
    let body = match read_json_body(req, MAX_PUT_BODY, ctx.tid).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let put: TriggerPut = match trigger::parse(&body) {
        Ok(p) => p,
        Err(e) => return reply::bad_request(&e.0, ctx.tid),
    };
    let now = epoch_ms(SystemTime::now());
    let result = ctx.ns.triggers.modify(name, |current| match current {
        Some(_) if !overwrite => Err(reply::error(
            StatusCode::CONFLICT,
            "resource already exists",
            ctx.tid,
        )),
        Some(old) => {
            let t = Arc::new(put.update(old, now));
            Ok((Some(t.clone()), t))
        }
        None => {
            let t = Arc::new(put.create(&ctx.ns.name, name, now));
            Ok((Some(t.clone()), t))
        }
    });
    match result {
        Ok((_, t)) => reply::json(StatusCode::OK, &trigger::trigger_json(&t, None)),
        Err(r) => r,
    }
}

async fn fire(ctx: &Ctx<'_>, name: &str, req: Request) -> Response {
    let body = match read_json_body(req, MAX_FIRE_BODY, ctx.tid).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let payload: Map<String, Value> = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice(&body) {
            Ok(p) => p,
            Err(e) => {
                return reply::bad_request(
                    &format!("The request content was malformed:\n{e}"),
                    ctx.tid,
                )
            }
        }
    };
    let Some(t) = ctx.ns.triggers.get(name) else {
        return reply::not_found(ctx.tid);
    };
    match trigger::fire(ctx.shared, ctx.ns, &t, payload, ctx.tid) {
        Some(id) => accepted(&id),
        None => {
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::NO_CONTENT;
            r
        }
    }
}
