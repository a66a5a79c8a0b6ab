//! `/namespaces/{ns}/packages[/{name}]`: list, create/update (plain or binding), get,
//! delete.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::actions::missing;
use super::query::Query;
use super::{read_json_body, reply, Ctx};
use crate::platform::action::valid_name;
use crate::platform::package::{self, Binding, Package, PackagePut};
use crate::platform::resolve::{self, Missing};
use crate::platform::store::Namespace;
use crate::timefmt::epoch_ms;

/// Package bodies carry only parameters and annotations; OpenWhisk allows 1 MB of each.
const MAX_PUT_BODY: usize = 2 * 1024 * 1024;

/// `GET …/packages?limit&skip&count&public`: `owner`'s packages (only the published ones
/// for another namespace); with `public=true` on one's own namespace, other namespaces'
/// published packages too.
pub fn list(ctx: &Ctx<'_>, owner: &Arc<Namespace>, req: Request) -> Response {
    if req.method() != Method::GET {
        return reply::method_not_allowed("GET", ctx.tid);
    }
    let q = Query::parse(req.uri().query());
    let (count, public) = match (q.bool("count"), q.bool("public")) {
        (Ok(c), Ok(p)) => (c.unwrap_or(false), p.unwrap_or(false)),
        (Err(m), _) | (_, Err(m)) => return reply::bad_request(&m, ctx.tid),
    };
    let (limit, skip) = match (q.list_limit("packages"), q.list_skip("packages")) {
        (Ok(l), Ok(s)) => (l, s),
        (Err(m), _) | (_, Err(m)) => return reply::bad_request(&m, ctx.tid),
    };
    let own = Arc::ptr_eq(owner, ctx.ns);
    let mut all: Vec<Arc<Package>> = owner
        .packages
        .list()
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| own || p.publish)
        .collect();
    if own && public {
        for other in ctx.shared.namespaces.all() {
            if !Arc::ptr_eq(other, owner) {
                all.extend(
                    other
                        .packages
                        .list()
                        .into_iter()
                        .map(|(_, p)| p)
                        .filter(|p| p.publish),
                );
            }
        }
    }
    if count {
        return reply::json(StatusCode::OK, &json!({ "packages": all.len() }));
    }
    let page: Vec<Value> = all
        .iter()
        .skip(skip)
        .take(limit)
        .map(|p| package::summary(p))
        .collect();
    reply::json(StatusCode::OK, &page)
}

/// One package of `owner`: GET (also another namespace's published one), PUT, DELETE.
pub async fn entity(ctx: &Ctx<'_>, owner: &Arc<Namespace>, name: &str, req: Request) -> Response {
    match *req.method() {
        Method::GET => get(ctx, owner, name),
        Method::PUT => put(ctx, name, req).await,
        Method::DELETE => delete(ctx, name, req),
        _ => reply::method_not_allowed("GET, PUT, DELETE", ctx.tid),
    }
}

/// The full JSON of `p`, with its actions (the bound package's, for a binding).
fn render(ctx: &Ctx<'_>, owner: &Namespace, p: &Package) -> Value {
    if p.binding.is_some() {
        match resolve::bound(ctx.shared, p) {
            Ok((bound_owner, bound)) => {
                package::full(p, Some(&bound), &bound_owner.actions_in(&bound.name))
            }
            // The bound package is gone or private now: the binding shows only itself.
            Err(_) => package::full(p, None, &[]),
        }
    } else {
        package::full(p, None, &owner.actions_in(&p.name))
    }
}

fn get(ctx: &Ctx<'_>, owner: &Arc<Namespace>, name: &str) -> Response {
    match resolve::package(ctx.ns, owner, name) {
        Ok(p) => reply::json(StatusCode::OK, &render(ctx, owner, &p)),
        Err(m) => missing(ctx, m),
    }
}

async fn put(ctx: &Ctx<'_>, name: &str, req: Request) -> Response {
    let q = Query::parse(req.uri().query());
    let overwrite = match q.bool("overwrite") {
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
    let put = match PackagePut::parse(&body) {
        Ok(p) => p,
        Err(e) => return reply::bad_request(&e.0, ctx.tid),
    };
    let binding = match put.binding(&ctx.ns.name) {
        Ok(b) => b,
        Err(e) => return reply::bad_request(&e.0, ctx.tid),
    };
    let binding = match binding {
        None => None,
        Some((ns, bound)) => match check_binding(ctx, &ns, &bound) {
            Ok(b) => Some(b),
            Err(r) => return r,
        },
    };
    let now = epoch_ms(SystemTime::now());
    let result = ctx.ns.packages.modify(name, |current| match current {
        Some(_) if !overwrite => Err(reply::error(
            StatusCode::CONFLICT,
            "resource already exists",
            ctx.tid,
        )),
        Some(old) => {
            if old.binding.is_none() && binding.is_some() {
                return Err(reply::bad_request(
                    "Cannot change a package into a binding.",
                    ctx.tid,
                ));
            }
            let p = Arc::new(put.update(old, binding, now));
            Ok((Some(p.clone()), p))
        }
        None => {
            let p = Arc::new(put.create(&ctx.ns.name, name, binding, now));
            Ok((Some(p.clone()), p))
        }
    });
    match result {
        Ok((_, p)) => reply::json(StatusCode::OK, &render(ctx, ctx.ns, &p)),
        Err(r) => r,
    }
}

/// A binding may point at a package (not a binding) of one's own namespace or at another
/// namespace's published one, with OpenWhisk's answers otherwise.
fn check_binding(ctx: &Ctx<'_>, ns: &str, name: &str) -> Result<Binding, Response> {
    if !valid_name(ns) || !valid_name(name) {
        return Err(reply::bad_request(
            "The name of the entity contains illegal characters.",
            ctx.tid,
        ));
    }
    let bound = ctx
        .shared
        .namespaces
        .by_name(ns)
        .ok_or(Missing::Forbidden)
        .and_then(|owner| resolve::package(ctx.ns, owner, name));
    match bound {
        Ok(p) if p.binding.is_some() => Err(reply::bad_request(
            "Cannot bind to another package binding.",
            ctx.tid,
        )),
        Ok(p) => Ok(Binding {
            namespace: p.namespace.clone(),
            name: p.name.clone(),
        }),
        Err(Missing::NotFound) => Err(reply::bad_request(
            "Binding references a package that does not exist.",
            ctx.tid,
        )),
        Err(m) => Err(missing(ctx, m)),
    }
}

fn delete(ctx: &Ctx<'_>, name: &str, req: Request) -> Response {
    let force = match Query::parse(req.uri().query()).bool("force") {
        Ok(f) => f.unwrap_or(false),
        Err(m) => return reply::bad_request(&m, ctx.tid),
    };
    let result = ctx.ns.packages.modify(name, |current| match current {
        None => Err(reply::not_found(ctx.tid)),
        Some(p) => {
            let inside = if p.binding.is_some() {
                0
            } else {
                ctx.ns.actions_in(name).len()
            };
            if inside > 0 && !force {
                let s = if inside == 1 { "entity" } else { "entities" };
                return Err(reply::error(
                    StatusCode::CONFLICT,
                    &format!(
                        "Package not empty (contains {inside} {s}). Set force param or delete package contents."
                    ),
                    ctx.tid,
                ));
            }
            Ok((None, ()))
        }
    });
    match result {
        Ok((Some(old), ())) => {
            let body = render(ctx, ctx.ns, &old);
            if old.binding.is_none() {
                for a in ctx.ns.remove_actions_in(name) {
                    ctx.shared.scheduler.retire(ctx.shared, a.rev);
                }
            }
            reply::json(StatusCode::OK, &body)
        }
        Ok((None, ())) => reply::not_found(ctx.tid),
        Err(r) => r,
    }
}
