//! `/namespaces/{ns}/actions[/{package}][/{name}]`: list, create/update, get, delete, invoke.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::extract::Request;
use axum::http::header::HeaderValue;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::query::Query;
use super::{read_json_body, reply, Ctx};
use crate::platform::action::{
    valid_name, ActionPut, Rendered, View, MAX_SEQUENCE_LENGTH, SEQUENCE,
};
use crate::platform::activate::{self, Start};
use crate::platform::activation::{Activation, Extended, Status};
use crate::platform::ids::Id;
use crate::platform::limits::Throttle;
use crate::platform::resolve::{self, Missing};
use crate::platform::store::Namespace;
use crate::timefmt::epoch_ms;

/// OpenWhisk's invoke payload limit.
const MAX_INVOKE_BODY: usize = 1_048_576;
/// Action PUT bodies may carry code (OpenWhisk allows 48 MB of it).
const MAX_PUT_BODY: usize = 50 * 1024 * 1024;
/// Upper bound of the `timeout` query parameter of a blocking invoke, ms.
const MAX_BLOCKING_TIMEOUT_MS: u64 = 60_000;

/// `GET …/actions?limit&skip&count`.
pub async fn list(ctx: &Ctx<'_>, req: Request) -> Response {
    if req.method() != Method::GET {
        return reply::method_not_allowed("GET", ctx.tid);
    }
    let q = Query::parse(req.uri().query());
    let count = match q.bool("count") {
        Ok(c) => c.unwrap_or(false),
        Err(m) => return reply::bad_request(&m, ctx.tid),
    };
    let (limit, skip) = match (q.list_limit("actions"), q.list_skip("actions")) {
        (Ok(l), Ok(s)) => (l, s),
        (Err(m), _) | (_, Err(m)) => return reply::bad_request(&m, ctx.tid),
    };
    let all = ctx.ns.actions();
    if count {
        return reply::json(StatusCode::OK, &json!({ "actions": all.len() }));
    }
    let page: Vec<Rendered<'_>> = all
        .iter()
        .skip(skip)
        .take(limit)
        .map(|a| Rendered(a, View::Summary))
        .collect();
    reply::json(StatusCode::OK, &page)
}

/// `GET …/actions/{package}/`: the actions of a package (of the bound one, for a binding).
pub async fn list_package(ctx: &Ctx<'_>, package: &str, req: Request) -> Response {
    if req.method() != Method::GET {
        return reply::method_not_allowed("GET", ctx.tid);
    }
    let q = Query::parse(req.uri().query());
    let (limit, skip) = match (q.list_limit("actions"), q.list_skip("actions")) {
        (Ok(l), Ok(s)) => (l, s),
        (Err(m), _) | (_, Err(m)) => return reply::bad_request(&m, ctx.tid),
    };
    let Some(p) = ctx.ns.packages.get(package) else {
        return reply::not_found(ctx.tid);
    };
    let all = if p.binding.is_some() {
        match resolve::bound(ctx.shared, &p) {
            Ok((owner, bound)) => owner.actions_in(&bound.name),
            Err(m) => return missing(ctx, m),
        }
    } else {
        ctx.ns.actions_in(package)
    };
    let page: Vec<Rendered<'_>> = all
        .iter()
        .skip(skip)
        .take(limit)
        .map(|a| Rendered(a, View::Summary))
        .collect();
    reply::json(StatusCode::OK, &page)
}

/// The answer to a name that does not resolve.
pub fn missing(ctx: &Ctx<'_>, m: Missing) -> Response {
    match m {
        Missing::NotFound => reply::not_found(ctx.tid),
        Missing::Forbidden => reply::error(
            StatusCode::FORBIDDEN,
            "The supplied authentication is not authorized to access this resource.",
            ctx.tid,
        ),
    }
}

/// One action (`name` or `package/name`) of namespace `owner`: PUT, GET, DELETE, POST
/// (invoke). Only GET and POST reach here for another namespace's (published) package.
pub async fn entity(ctx: &Ctx<'_>, owner: &Arc<Namespace>, name: &str, req: Request) -> Response {
    match *req.method() {
        Method::POST => invoke(ctx, owner, name, req).await,
        Method::GET => get(ctx, owner, name, req),
        Method::PUT => put(ctx, name, req).await,
        Method::DELETE => delete(ctx, name),
        _ => reply::method_not_allowed("GET, PUT, POST, DELETE", ctx.tid),
    }
}

fn get(ctx: &Ctx<'_>, owner: &Arc<Namespace>, name: &str, req: Request) -> Response {
    let q = Query::parse(req.uri().query());
    let code = match q.bool("code") {
        Ok(c) => c.unwrap_or(true),
        Err(m) => return reply::bad_request(&m, ctx.tid),
    };
    match resolve::action(ctx.shared, ctx.ns, &owner.name, name) {
        Ok(t) => reply::json(
            StatusCode::OK,
            &Rendered(&t.action, if code { View::Full } else { View::NoCode }),
        ),
        Err(m) => missing(ctx, m),
    }
}

async fn put(ctx: &Ctx<'_>, name: &str, req: Request) -> Response {
    let q = Query::parse(req.uri().query());
    let overwrite = match q.bool("overwrite") {
        Ok(o) => o.unwrap_or(false),
        Err(m) => return reply::bad_request(&m, ctx.tid),
    };
    let (namespace, simple): (Arc<str>, &str) = match name.split_once('/') {
        None => (ctx.ns.name.clone(), name),
        Some((pkg, simple)) => {
            if !valid_name(pkg) || !valid_name(simple) {
                return illegal_name(ctx);
            }
            // An action lives in a package of its own namespace, never in a binding.
            match ctx.ns.packages.get(pkg) {
                None => return reply::not_found(ctx.tid),
                Some(p) if p.binding.is_some() => {
                    return reply::bad_request(
                        "Cannot create or update an action in a package binding.",
                        ctx.tid,
                    )
                }
                Some(_) => (format!("{}/{pkg}", ctx.ns.name).into(), simple),
            }
        }
    };
    if !valid_name(simple) {
        return illegal_name(ctx);
    }
    let body = match read_json_body(req, MAX_PUT_BODY, ctx.tid).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let put = match ActionPut::parse(&body) {
        Ok(p) => p,
        Err(e) => return reply::bad_request(&e.0, ctx.tid),
    };
    if let Some(components) = put.sequence_components() {
        let own = format!("/{namespace}/{simple}");
        if let Err(m) = check_sequence(ctx, &own, components) {
            return reply::bad_request(m, ctx.tid);
        }
    }
    let now = epoch_ms(SystemTime::now());
    let ns_name = namespace;
    let result = ctx.ns.modify(name, |current| match current {
        Some(_) if !overwrite => Err(reply::error(
            StatusCode::CONFLICT,
            "resource already exists",
            ctx.tid,
        )),
        Some(old) => match put.update(old, now) {
            Ok(a) => {
                let a = Arc::new(a);
                Ok((Some(a.clone()), a))
            }
            Err(e) => Err(reply::bad_request(&e.0, ctx.tid)),
        },
        None => match put.create(&ns_name, simple, now) {
            Ok(a) => {
                let a = Arc::new(a);
                Ok((Some(a.clone()), a))
            }
            Err(e) => Err(reply::bad_request(&e.0, ctx.tid)),
        },
    });
    match result {
        Ok((old, new)) => {
            if let Some(old) = old {
                // A new revision: the old one's containers must not serve it.
                ctx.shared.scheduler.retire(ctx.shared, old.rev);
            }
            reply::json(StatusCode::OK, &Rendered(&new, View::Full))
        }
        Err(r) => r,
    }
}

/// OpenWhisk's create-time checks of a sequence `own` (`/ns/[pkg/]name`): every component
/// resolves, no component leads back to the sequence itself, and at most
/// [`MAX_SEQUENCE_LENGTH`] actions run in all (nested sequences expanded). Malformed names
/// are left to the PUT's own parsing.
fn check_sequence(ctx: &Ctx<'_>, own: &str, components: &[String]) -> Result<(), &'static str> {
    fn expand(
        ctx: &Ctx<'_>,
        own: &str,
        components: &[Arc<str>],
        depth: usize,
        count: &mut usize,
    ) -> Result<(), &'static str> {
        for c in components {
            if !c.starts_with('/') {
                continue;
            }
            if **c == *own {
                return Err("Sequence may not refer to itself.");
            }
            let target = resolve::qualified(ctx.shared, ctx.ns, c)
                .map_err(|_| "Sequence component does not exist.")?;
            let a = &target.action;
            if &*a.exec.kind == SEQUENCE {
                if depth >= MAX_SEQUENCE_LENGTH {
                    return Err("Too many actions in the sequence.");
                }
                expand(ctx, own, &a.exec.components, depth + 1, count)?;
            } else {
                *count += 1;
            }
            if *count > MAX_SEQUENCE_LENGTH {
                return Err("Too many actions in the sequence.");
            }
        }
        Ok(())
    }
    let root = own.split('/').nth(1).unwrap_or("");
    let normalised: Vec<Arc<str>> = components
        .iter()
        .map(|c| match c.strip_prefix("/_/") {
            Some(rest) => format!("/{root}/{rest}").into(),
            None => c.as_str().into(),
        })
        .collect();
    let mut count = 0;
    expand(ctx, own, &normalised, 0, &mut count)
}

fn illegal_name(ctx: &Ctx<'_>) -> Response {
    reply::bad_request(
        "The name of the entity contains illegal characters.",
        ctx.tid,
    )
}

fn delete(ctx: &Ctx<'_>, name: &str) -> Response {
    let result = ctx.ns.modify(name, |current| match current {
        Some(_) => Ok((None, ())),
        None => Err(()),
    });
    match result {
        Ok((Some(old), ())) => {
            ctx.shared.scheduler.retire(ctx.shared, old.rev);
            reply::json(StatusCode::OK, &Rendered(&old, View::Full))
        }
        _ => reply::not_found(ctx.tid),
    }
}

async fn invoke(ctx: &Ctx<'_>, owner: &Arc<Namespace>, name: &str, req: Request) -> Response {
    let received = Instant::now();
    let q = Query::parse(req.uri().query());
    let (blocking, result_only) = match (q.bool("blocking"), q.bool("result")) {
        (Ok(b), Ok(r)) => (b.unwrap_or(false), r.unwrap_or(false)),
        (Err(m), _) | (_, Err(m)) => return reply::bad_request(&m, ctx.tid),
    };
    let wait_ms = match q.get("timeout") {
        None => MAX_BLOCKING_TIMEOUT_MS,
        Some(v) => match v.parse::<u64>() {
            Ok(n) if (1..=MAX_BLOCKING_TIMEOUT_MS).contains(&n) => n,
            _ => {
                return reply::bad_request(
                    &format!(
                        "Timeout must be number of milliseconds up to {MAX_BLOCKING_TIMEOUT_MS}."
                    ),
                    ctx.tid,
                )
            }
        },
    };
    let body = match read_json_body(req, MAX_INVOKE_BODY, ctx.tid).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let params: Map<String, Value> = if body.iter().all(u8::is_ascii_whitespace) {
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
    // OpenWhisk checks the throttles before it looks the action up.
    let admission = match Throttle::admit(ctx.ns, epoch_ms(SystemTime::now())) {
        Ok(a) => a,
        Err(m) => return reply::error(StatusCode::TOO_MANY_REQUESTS, &m, ctx.tid),
    };
    let target = match resolve::action(ctx.shared, ctx.ns, &owner.name, name) {
        Ok(t) => t,
        Err(m) => return missing(ctx, m),
    };
    if target.redefines_final(&params) {
        return reply::bad_request(
            "Request defines parameters that are not allowed (e.g., reserved properties).",
            ctx.tid,
        );
    }
    let id = Id::generate();
    let rx = activate::launch(
        ctx.shared,
        Start {
            id,
            caller: ctx.ns.clone(),
            target,
            params,
            transaction_id: ctx.tid.to_string(),
            received,
            admission,
            cause: None,
        },
    );
    if !blocking {
        return accepted(&id);
    }
    let wait = Duration::from_millis(wait_ms).min(ctx.shared.config.max_blocking_wait);
    match tokio::time::timeout(wait, rx).await {
        Ok(Ok(activation)) => completed(&activation, result_only),
        // Not done in time: the activation goes on and is fetchable later (OpenWhisk's 202).
        Ok(Err(_)) | Err(_) => accepted(&id),
    }
}

fn with_activation_id(mut r: Response, id: &Id) -> Response {
    if let Ok(v) = HeaderValue::from_str(id.as_str()) {
        r.headers_mut().insert(&reply::ACTIVATION_ID, v);
    }
    r
}

/// 202 `{"activationId"}` with the activation id header.
pub fn accepted(id: &Id) -> Response {
    with_activation_id(
        reply::json(StatusCode::ACCEPTED, &json!({ "activationId": id })),
        id,
    )
}

/// A blocking invoke's answer from the finished record.
pub fn completed(a: &Activation, result_only: bool) -> Response {
    let status = match a.status {
        Status::Success => StatusCode::OK,
        Status::ApplicationError | Status::DeveloperError => StatusCode::BAD_GATEWAY,
        Status::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let r = if result_only {
        reply::json_bytes(status, a.result.get().as_bytes().to_vec())
    } else {
        reply::json(status, &Extended(a))
    };
    with_activation_id(r, &a.id)
}
