//! The generic HTTP target: each invocation is one HTTP request built from the target
//! file's templates (config::http_target), sent over gale's lean HTTP/1.1 pool. The reply
//! is the function's completion: there is no activation record to fetch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use super::http1::{self, ResponseRef};
use super::pool::{HttpError, Pool};
use super::template::{Context, Template};
use super::{tls, Activation, BackendError, Call, Entity, Outcome, Platform, Reply, TriggerRecord};
use crate::config::http_target::{HttpRoute, HttpTarget};
use crate::trace::{FunctionSpec, PackageSpec};

/// Error text kept from a failed reply's body.
const ERROR_BYTES: usize = 300;

/// One function's request, resolved: its pool, and templates with `${function}` filled in.
struct Route {
    pool: Arc<Pool>,
    method: String,
    /// Path and query.
    target: Template,
    /// `Host` value: the file's `Host` header, else the URL's host.
    host: Option<String>,
    headers: Vec<(String, Template)>,
    body: Template,
    /// Some template reads `${params.NAME}`: the parameters are parsed per invocation.
    fields: bool,
    /// The file sets its own `User-Agent`.
    own_agent: bool,
}

/// Client of a generic HTTP target.
pub struct HttpClient {
    target: HttpTarget,
    tls: Option<Arc<rustls::ClientConfig>>,
    connections: u32,
    request_timeout: Duration,
    /// Per function, resolved on first use.
    routes: RwLock<HashMap<Arc<str>, Arc<Route>>>,
    /// One pool per origin (`scheme://host:port`).
    pools: Mutex<HashMap<String, Arc<Pool>>>,
}

impl HttpClient {
    /// A client with at most `connections` connections per origin.
    pub fn new(
        target: &HttpTarget,
        connections: u32,
        request_timeout: Duration,
    ) -> Result<HttpClient, BackendError> {
        let needs_tls = target
            .default
            .iter()
            .chain(target.functions.values())
            .any(|r| r.url.starts_with("https://"));
        let tls = if needs_tls {
            Some(
                tls::client_config(target.insecure)
                    .map_err(|e| BackendError::Invalid(format!("TLS setup: {e}")))?,
            )
        } else {
            None
        };
        let client = HttpClient {
            target: target.clone(),
            tls,
            connections,
            request_timeout,
            routes: RwLock::new(HashMap::new()),
            pools: Mutex::new(HashMap::new()),
        };
        // Every listed function's URL is resolved now: a bad one fails before the run.
        for name in target.functions.keys() {
            client.route(name)?;
        }
        Ok(client)
    }

    /// Whether the target file says how to call `function`.
    pub fn has_route(&self, function: &str) -> bool {
        self.target.route(function).is_some()
    }

    /// The resolved request of `function`.
    fn route(&self, function: &str) -> Result<Arc<Route>, BackendError> {
        if let Some(r) = self
            .routes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(function)
        {
            return Ok(r.clone());
        }
        let spec = self.target.route(function).ok_or_else(|| {
            BackendError::Invalid(format!(
                "{}: no `url` for function `{function}` (and no top-level `url`)",
                self.target.file.display()
            ))
        })?;
        let route = Arc::new(self.resolve(function, spec)?);
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        // Bounded like any per-function table: past it, routes are resolved per call.
        if routes.len() < 100_000 {
            routes.insert(Arc::from(function), route.clone());
        }
        Ok(route)
    }

    fn resolve(&self, function: &str, spec: &HttpRoute) -> Result<Route, BackendError> {
        let invalid =
            |e: String| BackendError::Invalid(format!("{}: {e}", self.target.file.display()));
        let parse = |t: &str, cx| {
            Template::parse(t)
                .map(|t| t.with_function(function, cx))
                .map_err(|e| invalid(e.to_string()))
        };
        let (origin, target) = parse(&spec.url, Context::Url)?
            .split_origin()
            .map_err(|e| invalid(e.to_string()))?;
        let mut host = None;
        let mut headers = Vec::new();
        for (name, value) in &spec.headers {
            let t = parse(value, Context::Header)?;
            match (name.eq_ignore_ascii_case("host"), t.literal()) {
                (true, Some(h)) => host = Some(h),
                (true, None) => {
                    return Err(invalid(format!(
                        "header `{name}`: the Host cannot hold ${{params}} placeholders"
                    )))
                }
                (false, _) => headers.push((name.clone(), t)),
            }
        }
        let body = parse(&spec.body, Context::Body)?;
        let own_agent = headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("user-agent"));
        let fields = target.uses_param_fields()
            || body.uses_param_fields()
            || headers.iter().any(|(_, t)| t.uses_param_fields());
        Ok(Route {
            pool: self.pool(&origin)?,
            method: spec.method.clone(),
            target,
            host,
            headers,
            body,
            fields,
            own_agent,
        })
    }

    fn pool(&self, origin: &str) -> Result<Arc<Pool>, BackendError> {
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = pools.get(origin) {
            return Ok(p.clone());
        }
        let tls = origin
            .starts_with("https://")
            .then(|| self.tls.clone())
            .flatten();
        let (ep, _) = http1::endpoint(origin, tls)
            .map_err(|e| BackendError::Invalid(format!("{origin}: {e}")))?;
        let pool = Arc::new(Pool::new(ep, self.connections));
        pools.insert(origin.to_string(), pool.clone());
        Ok(pool)
    }
}

/// Turn a reply into a [`Reply`]: 2xx is success, 429 throttled, anything else an HTTP
/// error with the start of the body as its text.
fn classify(r: ResponseRef<'_>) -> Reply {
    let (outcome, error) = match r.status {
        200..=299 => (Outcome::Success, None),
        429 => (Outcome::Throttled, Some(error_text(r.status, r.body))),
        _ => (Outcome::HttpError, Some(error_text(r.status, r.body))),
    };
    Reply {
        status: Some(r.status),
        activation_id: None,
        activation: None,
        outcome,
        error,
        body_bytes: Some(r.body.len() as u64),
        completes: true,
    }
}

fn error_text(status: u16, body: &[u8]) -> String {
    let cut = &body[..body.len().min(ERROR_BYTES)];
    let text = String::from_utf8_lossy(cut);
    let text = text.trim();
    if text.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {text}")
    }
}

impl Platform for HttpClient {
    async fn deploy(&self, _user: usize, f: &FunctionSpec) -> Result<(), BackendError> {
        Err(BackendError::Invalid(format!(
            "cannot deploy `{}`: an HTTP target has no deployment API; deploy it yourself",
            f.name
        )))
    }

    async fn force_cold(&self, _user: usize, function: &str) -> Result<(), BackendError> {
        Err(BackendError::Invalid(format!(
            "cannot force a cold start of `{function}`: an HTTP target has no API to update a \
             function"
        )))
    }

    async fn deploy_package(
        &self,
        _user: usize,
        package: &PackageSpec,
        _replace: bool,
    ) -> Result<(), BackendError> {
        Err(BackendError::Invalid(format!(
            "cannot create package `{}`: packages exist only on OpenWhisk, not on an HTTP target",
            package.name
        )))
    }

    async fn invoke(&self, call: Call<'_>, on_send: impl FnOnce() + Send) -> Reply {
        if !matches!(call.entity, Entity::Action) {
            // Session::deploy refuses such traces; this guards any other caller.
            return Reply::failed(
                Outcome::HttpError,
                format!(
                    "`{}` is an OpenWhisk entity (web action, sequence or trigger): an HTTP \
                     target only calls plain functions",
                    call.function
                ),
            );
        }
        let route = match self.route(call.function) {
            Ok(r) => r,
            Err(e) => return Reply::failed(Outcome::HttpError, e.to_string()),
        };
        let fields: Option<serde_json::Map<String, serde_json::Value>> = if route.fields {
            serde_json::from_str(call.params).ok()
        } else {
            None
        };
        let body_buf;
        let body: &[u8] = if route.body.is_params() {
            call.params.as_bytes()
        } else {
            let mut b = Vec::with_capacity(call.params.len() + 64);
            route.body.render(
                &mut b,
                Context::Body,
                call.function,
                call.params,
                fields.as_ref(),
            );
            body_buf = b;
            &body_buf
        };
        let pool = &route.pool;
        let head = |b: &mut Vec<u8>| {
            b.extend_from_slice(route.method.as_bytes());
            b.push(b' ');
            route
                .target
                .render(b, Context::Url, call.function, call.params, fields.as_ref());
            b.extend_from_slice(b" HTTP/1.1\r\nHost: ");
            b.extend_from_slice(route.host.as_deref().unwrap_or(pool.host()).as_bytes());
            b.extend_from_slice(b"\r\n");
            if !route.own_agent {
                b.extend_from_slice(b"User-Agent: ");
                b.extend_from_slice(pool.user_agent().as_bytes());
                b.extend_from_slice(b"\r\n");
            }
            for (name, value) in &route.headers {
                b.extend_from_slice(name.as_bytes());
                b.extend_from_slice(b": ");
                value.render(
                    b,
                    Context::Header,
                    call.function,
                    call.params,
                    fields.as_ref(),
                );
                b.extend_from_slice(b"\r\n");
            }
        };
        match pool
            .send(&head, body, self.request_timeout, on_send, classify)
            .await
        {
            Ok(reply) => reply,
            Err(e @ HttpError::Timeout(_)) => Reply::failed(Outcome::Timeout, e.to_string()),
            Err(e) => Reply::failed(Outcome::ConnectError, e.to_string()),
        }
    }

    async fn fetch_activation(
        &self,
        _user: usize,
        id: &str,
        _wait: Option<Duration>,
    ) -> Result<Option<Activation>, BackendError> {
        Err(BackendError::Invalid(format!(
            "activation {id}: an HTTP target keeps no activation records"
        )))
    }

    async fn fetch_trigger_activation(
        &self,
        _user: usize,
        id: &str,
        _wait: Option<Duration>,
    ) -> Result<Option<TriggerRecord>, BackendError> {
        Err(BackendError::Invalid(format!(
            "trigger activation {id}: an HTTP target has no triggers"
        )))
    }
}
