//! The OpenWhisk REST API subset: routing, authentication, request bodies.
//!
//! One handler routes by path segments instead of axum's router: every error must be an
//! OpenWhisk JSON body (axum's extractor rejections are plain text), and a hand-written
//! match is the leanest dispatch on the hot invoke path.

// Handlers return the finished error `Response` as their `Err`: it is built once, on a
// path that ends the request, so its size does not matter.
#![allow(clippy::result_large_err)]

mod actions;
mod activations;
mod admin;
mod meta;
mod namespaces;
mod packages;
pub mod query;
pub mod reply;
mod rules;
mod triggers;
mod web;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{HeaderValue, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt;

use super::ids::Id;
use super::store::Namespace;
use super::Shared;
use query::decode;

static CORS_ORIGIN: HeaderValue = HeaderValue::from_static("*");
static CORS_METHODS: HeaderValue = HeaderValue::from_static("GET, DELETE, POST, PUT, HEAD");
static CORS_HEADERS: HeaderValue = HeaderValue::from_static(
    "Authorization, Origin, X-Requested-With, Content-Type, Accept, User-Agent",
);

/// The axum router: everything goes through [`handle`].
pub fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(shared)
}

/// Per-request context handed to the resource handlers.
pub struct Ctx<'a> {
    /// Platform state.
    pub shared: &'a Arc<Shared>,
    /// Transaction id (`X-Request-ID`, and `code` of error bodies).
    pub tid: &'a str,
    /// The authenticated namespace.
    pub ns: &'a Arc<Namespace>,
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let tid = transaction_id(req.headers());
    let mut response = route(&shared, req, &tid).await;
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&tid) {
        h.insert(&reply::REQUEST_ID, v);
    }
    h.insert("access-control-allow-origin", CORS_ORIGIN.clone());
    h.insert("access-control-allow-methods", CORS_METHODS.clone());
    h.insert("access-control-allow-headers", CORS_HEADERS.clone());
    response
}

/// The client's `X-Request-ID` if it is a sane token (the JS client forwards
/// `__OW_TRANSACTION_ID` there), else a fresh id.
fn transaction_id(headers: &HeaderMap) -> String {
    if let Some(v) = headers
        .get(&reply::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
    {
        if (1..=64).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return v.to_string();
        }
    }
    Id::generate().as_str().to_string()
}

async fn route(shared: &Arc<Shared>, req: Request, tid: &str) -> Response {
    let path = req.uri().path().to_string();
    // `/actions/pkg/` lists a package's actions; `/actions/pkg` is the action `pkg`.
    let trailing_slash = path.len() > 1 && path.ends_with('/');
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let segments: &[&str] = match segments.as_slice() {
        // A trailing slash addresses the same resource (Pekko's pathEndOrSingleSlash).
        [rest @ .., ""] if !rest.is_empty() => rest,
        s => s,
    };
    match segments {
        [""] | [] => return meta::root(req.method(), shared, tid),
        ["ping"] => return meta::ping(req.method(), tid),
        ["api", "v1"] => return meta::api_info(req.method(), tid),
        // Web actions need no key unless the action asks for one.
        ["api", "v1", "web", rest @ ..] => return web::handle(shared, rest, req, tid).await,
        ["api", "v1", ..] | ["gale", "v1", ..] => {}
        _ => return reply::not_found(tid),
    }
    if req.method() == Method::OPTIONS {
        return Response::new(Body::empty());
    }
    let ns = match authenticate(shared, req.headers(), tid) {
        Ok(ns) => ns.clone(),
        Err(r) => return r,
    };
    let ctx = Ctx {
        shared,
        tid,
        ns: &ns,
    };
    if segments[0] == "gale" {
        return admin::route(&ctx, &segments[2..], req).await;
    }
    match &segments[2..] {
        ["namespaces"] => namespaces::list(&ctx, req.method()),
        ["namespaces", ns_name, rest @ ..] => {
            if check_namespace(&ctx, ns_name).is_err() {
                return foreign(&ctx, ns_name, rest, req).await;
            }
            let name = |s: &str| decode(s, false).into_owned();
            let owner = &ns;
            match rest {
                ["actions"] => actions::list(&ctx, req).await,
                ["actions", pkg] if trailing_slash => {
                    actions::list_package(&ctx, &name(pkg), req).await
                }
                // An encoded `/` inside one segment is not a package separator.
                ["actions", a] | ["actions", a, _] | ["actions", _, a] if encoded_slash(a) => {
                    if req.method() == Method::PUT {
                        reply::bad_request(
                            "The name of the entity contains illegal characters.",
                            tid,
                        )
                    } else {
                        reply::not_found(tid)
                    }
                }
                ["actions", action] => actions::entity(&ctx, owner, &name(action), req).await,
                ["actions", pkg, action] => {
                    let full = format!("{}/{}", name(pkg), name(action));
                    actions::entity(&ctx, owner, &full, req).await
                }
                ["activations"] => activations::list(&ctx, req),
                ["activations", id, tail @ ..] => activations::get(&ctx, id, tail, req).await,
                ["limits"] => namespaces::limits(&ctx, req.method()),
                ["packages"] => packages::list(&ctx, owner, req),
                ["packages", p] => packages::entity(&ctx, owner, &name(p), req).await,
                ["triggers"] => triggers::list(&ctx, req),
                ["triggers", t] => triggers::entity(&ctx, &name(t), req).await,
                ["rules"] => rules::list(&ctx, req),
                ["rules", r] => rules::entity(&ctx, &name(r), req).await,
                _ => reply::not_found(tid),
            }
        }
        _ => reply::not_found(tid),
    }
}

/// Another namespace's path: only its published packages and their actions can be read
/// and invoked (OpenWhisk's sharing); anything else is 403.
async fn foreign(ctx: &Ctx<'_>, ns_name: &str, rest: &[&str], req: Request) -> Response {
    let forbidden = || {
        reply::error(
            StatusCode::FORBIDDEN,
            "The supplied authentication is not authorized to access this resource.",
            ctx.tid,
        )
    };
    let Some(owner) = ctx
        .shared
        .namespaces
        .by_name(&decode(ns_name, false))
        .cloned()
    else {
        return forbidden();
    };
    let name = |s: &str| decode(s, false).into_owned();
    let method = req.method().clone();
    match (rest, method) {
        (["packages"], Method::GET) => packages::list(ctx, &owner, req),
        (["packages", p], Method::GET) => packages::entity(ctx, &owner, &name(p), req).await,
        (["actions", pkg, action], Method::GET | Method::POST) => {
            let full = format!("{}/{}", name(pkg), name(action));
            actions::entity(ctx, &owner, &full, req).await
        }
        _ => forbidden(),
    }
}

/// Whether a raw path segment holds a percent-encoded `/` (checked without decoding: this
/// is on the invoke path).
fn encoded_slash(segment: &str) -> bool {
    segment
        .as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'2' && (w[2] == b'F' || w[2] == b'f'))
}

/// Refuse a path naming (percent-encoded) another namespace than the caller's; `_` is the
/// caller's own.
fn check_namespace(ctx: &Ctx<'_>, segment: &str) -> Result<(), Response> {
    let name = decode(segment, false);
    if name == "_" || *name == *ctx.ns.name {
        Ok(())
    } else {
        Err(reply::error(
            StatusCode::FORBIDDEN,
            "The supplied authentication is not authorized to access this resource.",
            ctx.tid,
        ))
    }
}

fn authenticate<'s>(
    shared: &'s Shared,
    headers: &HeaderMap,
    tid: &str,
) -> Result<&'s Arc<Namespace>, Response> {
    let unauthorized = |message: &str| {
        let mut r = reply::error(StatusCode::UNAUTHORIZED, message, tid);
        r.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("Basic realm=\"OpenWhisk secure realm\""),
        );
        r
    };
    match headers.get(AUTHORIZATION) {
        None => Err(unauthorized(
            "The resource requires authentication, which was not supplied with the request",
        )),
        Some(h) => shared
            .namespaces
            .by_auth_header(h.as_bytes())
            .ok_or_else(|| unauthorized("The supplied authentication is invalid")),
    }
}

/// Bodies refused as too large are still read (and dropped) up to this size.
const DRAIN_LIMIT: u64 = 64 * 1024 * 1024;

async fn discard(mut body: Body) {
    let mut seen = 0u64;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            seen += data.len() as u64;
            if seen > DRAIN_LIMIT {
                return;
            }
        }
    }
}

/// Read a JSON request body of at most `limit` bytes. Empty bodies are accepted whatever
/// their content type; others must be `application/json` (415 otherwise, as OpenWhisk).
pub async fn read_json_body(req: Request, limit: usize, tid: &str) -> Result<Vec<u8>, Response> {
    let too_large = |n: u64| {
        reply::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("Request larger than allowed: {n} > {limit} bytes."),
            tid,
        )
    };
    let headers = req.headers();
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared {
        if n > limit as u64 {
            // Read the body anyway: closing on a client still writing makes it see EPIPE
            // instead of our 413.
            if n <= DRAIN_LIMIT {
                discard(req.into_body()).await;
            }
            return Err(too_large(n));
        }
    }
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        });
    let unsupported = || {
        reply::error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The request's Content-Type is not supported. Expected:\napplication/json",
            tid,
        )
    };
    if is_json == Some(false) && declared != Some(0) {
        return Err(unsupported());
    }
    let mut body = req.into_body();
    let mut out = Vec::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            reply::bad_request(&format!("Failed extracting request body. {e}"), tid)
        })?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                let seen = (out.len() + data.len()) as u64;
                discard(body).await;
                return Err(too_large(seen));
            }
            out.extend_from_slice(&data);
        }
    }
    let empty = out.iter().all(u8::is_ascii_whitespace);
    if !empty && is_json != Some(true) {
        return Err(unsupported());
    }
    Ok(out)
}

/// Arbitrary bytes as every request body the API parses (actions, packages, triggers, rules:
/// created, then applied as an update of what was created) and as a query string and a
/// path segment; for the fuzz targets and the no-panic property tests. Returns how many
/// parses succeeded.
pub fn fuzz_bodies(data: &[u8]) -> usize {
    use crate::platform::action::ActionPut;
    use crate::platform::package::PackagePut;
    use crate::platform::trigger::{FullName, RulePut, TriggerPut};
    let ns: Arc<str> = "guest".into();
    let mut ok = 0;
    if let Ok(put) = serde_json::from_slice::<ActionPut>(data) {
        if let Ok(a) = put.create(&ns, "f", 1) {
            ok += 1;
            if let Ok(again) = serde_json::from_slice::<ActionPut>(data) {
                ok += usize::from(again.update(&a, 2).is_ok());
            }
        }
    }
    if let Ok(put) = serde_json::from_slice::<PackagePut>(data) {
        let p = put.create(&ns, "p", None, 1);
        if let Ok(again) = serde_json::from_slice::<PackagePut>(data) {
            let _ = again.update(&p, None, 2);
        }
        ok += 1;
    }
    if let Ok(put) = serde_json::from_slice::<TriggerPut>(data) {
        let t = put.create(&ns, "t", 1);
        if let Ok(again) = serde_json::from_slice::<TriggerPut>(data) {
            let _ = again.update(&t, 2);
        }
        ok += 1;
    }
    let text = String::from_utf8_lossy(data);
    if let (Ok(put), Some(trigger), Some(action)) = (
        serde_json::from_slice::<RulePut>(data),
        FullName::parse("t", "guest", false),
        FullName::parse(&text, "guest", true),
    ) {
        let _ = put.create(&ns, "r", trigger, action, 1);
        ok += 1;
    }
    let q = query::Query::parse(Some(&text));
    let _ = q;
    ok += usize::from(!decode(&text, true).is_empty());
    ok
}
