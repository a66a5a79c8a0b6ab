//! `/namespaces/{ns}/rules[/{name}]`: list, create/update, get, delete, enable/disable.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};

use super::actions::missing;
use super::query::Query;
use super::{read_json_body, reply, Ctx};
use crate::platform::action::valid_name;
use crate::platform::resolve;
use crate::platform::trigger::{self, FullName, Rule, RulePut};
use crate::timefmt::epoch_ms;

const MAX_PUT_BODY: usize = 1024 * 1024;

/// `GET …/rules?limit&skip&count`.
pub fn list(ctx: &Ctx<'_>, req: Request) -> Response {
    if req.method() != Method::GET {
        return reply::method_not_allowed("GET", ctx.tid);
    }
    let q = Query::parse(req.uri().query());
    let count = match q.bool("count") {
        Ok(c) => c.unwrap_or(false),
        Err(m) => return reply::bad_request(&m, ctx.tid),
    };
    let (limit, skip) = match (q.list_limit("rules"), q.list_skip("rules")) {
        (Ok(l), Ok(s)) => (l, s),
        (Err(m), _) | (_, Err(m)) => return reply::bad_request(&m, ctx.tid),
    };
    let all = ctx.ns.rules.list();
    if count {
        return reply::json(StatusCode::OK, &json!({ "rules": all.len() }));
    }
    let page: Vec<Value> = all
        .iter()
        .skip(skip)
        .take(limit)
        .map(|(_, r)| trigger::rule_json(r))
        .collect();
    reply::json(StatusCode::OK, &page)
}

/// One rule: GET, PUT, DELETE, POST (`{"status":"active"|"inactive"}`).
pub async fn entity(ctx: &Ctx<'_>, name: &str, req: Request) -> Response {
    match *req.method() {
        Method::GET => match ctx.ns.rules.get(name) {
            Some(r) => reply::json(StatusCode::OK, &trigger::rule_json(&r)),
            None => reply::not_found(ctx.tid),
        },
        Method::PUT => put(ctx, name, req).await,
        Method::DELETE => match ctx.ns.rules.modify(name, |current| match current {
            Some(_) => Ok((None, ())),
            None => Err(()),
        }) {
            Ok((Some(old), ())) => reply::json(StatusCode::OK, &trigger::rule_json(&old)),
            _ => reply::not_found(ctx.tid),
        },
        Method::POST => set_state(ctx, name, req).await,
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
    let put: RulePut = match trigger::parse(&body) {
        Ok(p) => p,
        Err(e) => return reply::bad_request(&e.0, ctx.tid),
    };
    if let Some(s) = put.status.as_deref() {
        if !matches!(s, "" | "active" | "inactive") {
            return reply::bad_request("Rule status must be 'active' or 'inactive'.", ctx.tid);
        }
    }
    let old = ctx.ns.rules.get(name);
    if old.is_some() && !overwrite {
        return conflict(ctx);
    }
    // On update, a missing trigger or action keeps the old one.
    let names = (
        put.trigger
            .as_deref()
            .map(|t| FullName::parse(t, &ctx.ns.name, false))
            .or_else(|| old.as_ref().map(|r| Some(r.trigger.clone()))),
        put.action
            .as_deref()
            .map(|a| FullName::parse(a, &ctx.ns.name, true))
            .or_else(|| old.as_ref().map(|r| Some(r.action.clone()))),
    );
    let (trigger_name, action_name) = match names {
        (Some(Some(t)), Some(Some(a))) => (t, a),
        (None, _) | (_, None) => {
            return reply::bad_request(
                "A rule needs a trigger and an action: {\"trigger\":…,\"action\":…}.",
                ctx.tid,
            )
        }
        _ => {
            return reply::bad_request(
                "The name of the entity contains illegal characters.",
                ctx.tid,
            )
        }
    };
    // The trigger must be of the rule's namespace; the action must exist and be visible.
    if *trigger_name.path != *ctx.ns.name || ctx.ns.triggers.get(&trigger_name.name).is_none() {
        return reply::not_found(ctx.tid);
    }
    if let Err(m) = resolve::qualified(ctx.shared, ctx.ns, &format!("/{}", action_name.qualified()))
    {
        return missing(ctx, m);
    }
    let now = epoch_ms(SystemTime::now());
    let result = ctx.ns.rules.modify(name, |current| match current {
        Some(_) if !overwrite => Err(conflict(ctx)),
        Some(old) => {
            let r = Arc::new(put.update(old, trigger_name, action_name, now));
            Ok((Some(r.clone()), r))
        }
        None => {
            let r = Arc::new(put.create(&ctx.ns.name, name, trigger_name, action_name, now));
            Ok((Some(r.clone()), r))
        }
    });
    match result {
        Ok((_, r)) => reply::json(StatusCode::OK, &trigger::rule_json(&r)),
        Err(r) => r,
    }
}

fn conflict(ctx: &Ctx<'_>) -> Response {
    reply::error(StatusCode::CONFLICT, "resource already exists", ctx.tid)
}

async fn set_state(ctx: &Ctx<'_>, name: &str, req: Request) -> Response {
    #[derive(Deserialize)]
    struct State {
        status: Option<String>,
    }
    let body = match read_json_body(req, MAX_PUT_BODY, ctx.tid).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let state: State = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            return reply::bad_request(&format!("The request content was malformed:\n{e}"), ctx.tid)
        }
    };
    let active = match state.status.as_deref() {
        Some("active") => true,
        Some("inactive") => false,
        _ => return reply::bad_request("Rule status must be 'active' or 'inactive'.", ctx.tid),
    };
    let now = epoch_ms(SystemTime::now());
    let result = ctx.ns.rules.modify(name, |current| match current {
        None => Err(reply::not_found(ctx.tid)),
        Some(r) if r.active == active => Ok((Some(r.clone()), ())),
        Some(r) => Ok((
            Some(Arc::new(Rule {
                namespace: r.namespace.clone(),
                name: r.name.clone(),
                version: r.version.clone(),
                publish: r.publish,
                annotations: r.annotations.clone(),
                active,
                trigger: r.trigger.clone(),
                action: r.action.clone(),
                updated: now,
            })),
            (),
        )),
    });
    match result {
        // OpenWhisk completes with the bare status: Pekko renders its reason as text.
        Ok(_) => {
            let mut r = Response::new(axum::body::Body::from("OK"));
            r.headers_mut().insert(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("text/plain; charset=UTF-8"),
            );
            r
        }
        Err(r) => r,
    }
}
