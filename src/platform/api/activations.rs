//! `/namespaces/{ns}/activations[/{id}[/result|/logs]]`.

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::query::Query;
use super::{reply, Ctx};
use crate::platform::action::valid_name;
use crate::platform::activation::{Extended, ListFilter, LogsView, ResultView, Summary};
use crate::platform::ids::Id;

/// `GET …/activations?name&since&upto&limit&skip&docs&count`.
pub fn list(ctx: &Ctx<'_>, req: Request) -> Response {
    if req.method() != Method::GET {
        return reply::method_not_allowed("GET", ctx.tid);
    }
    let q = Query::parse(req.uri().query());
    let bad = |m: &str| reply::bad_request(m, ctx.tid);
    let (docs, count) = match (q.bool("docs"), q.bool("count")) {
        (Ok(d), Ok(c)) => (d.unwrap_or(false), c.unwrap_or(false)),
        (Err(m), _) | (_, Err(m)) => return bad(&m),
    };
    if docs && count {
        return bad("The parameter 'docs' is not permitted with 'count'.");
    }
    let (limit, skip) = match (q.list_limit("activations"), q.list_skip("activations")) {
        (Ok(l), Ok(s)) => (l, s),
        (Err(m), _) | (_, Err(m)) => return bad(&m),
    };
    let name = match q.get("name") {
        None => None,
        Some(n) => {
            // `action` or `package/action`.
            let parts: Vec<&str> = n.split('/').collect();
            if parts.is_empty() || parts.len() > 2 || !parts.iter().all(|p| valid_name(p)) {
                return bad(&format!(
                    "Parameter may be a 'simple' name or 'package-name/simple' name: {n}"
                ));
            }
            Some(n)
        }
    };
    let epoch = |key: &str| -> Result<Option<u64>, String> {
        match q.get(key) {
            None => Ok(None),
            Some(v) => v
                .parse::<u64>()
                .map(Some)
                .map_err(|_| format!("Parameter is not a valid value for epoch seconds: {v}")),
        }
    };
    let (since, upto) = match (epoch("since"), epoch("upto")) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(m), _) | (_, Err(m)) => return bad(&m),
    };
    let found = ctx
        .shared
        .activations
        .list(&ctx.ns.name, &ListFilter { name, since, upto });
    if count {
        return reply::json(StatusCode::OK, &json!({ "activations": found.len() }));
    }
    let page = found.iter().skip(skip).take(limit);
    if docs {
        let v: Vec<Extended<'_>> = page.map(|a| Extended(a)).collect();
        reply::json(StatusCode::OK, &v)
    } else {
        let v: Vec<Summary<'_>> = page.map(|a| Summary(a)).collect();
        reply::json(StatusCode::OK, &v)
    }
}

/// `GET …/activations/{id}`, `…/result`, `…/logs`. 404 until the activation completed.
/// gale's extension `?gale_wait_ms=N` (at most 10 000) waits up to N ms for it to complete
/// before answering: a long poll, which OpenWhisk does not have (it ignores the parameter).
pub async fn get(ctx: &Ctx<'_>, id: &str, tail: &[&str], req: Request) -> Response {
    if req.method() != Method::GET {
        return reply::method_not_allowed("GET", ctx.tid);
    }
    let Some(id) = Id::parse(id) else {
        if id.len() != 32 {
            return reply::bad_request(
                &format!("Activation id length is {} but must be 32.", id.len()),
                ctx.tid,
            );
        }
        return reply::bad_request("The activation id is not valid.", ctx.tid);
    };
    let wait = Query::parse(req.uri().query())
        .get("gale_wait_ms")
        .and_then(|v| v.parse::<u64>().ok())
        .map(|ms| std::time::Duration::from_millis(ms.min(10_000)));
    let found = match wait {
        Some(w) if !w.is_zero() => ctx.shared.activations.wait_for(&ctx.ns.name, &id, w).await,
        _ => ctx.shared.activations.get(&ctx.ns.name, &id),
    };
    let Some(a) = found else {
        return reply::not_found(ctx.tid);
    };
    match tail {
        [] => reply::json(StatusCode::OK, &Extended(&a)),
        ["result"] => reply::json(StatusCode::OK, &ResultView(&a)),
        ["logs"] => reply::json(StatusCode::OK, &LogsView(&a)),
        _ => reply::not_found(ctx.tid),
    }
}
