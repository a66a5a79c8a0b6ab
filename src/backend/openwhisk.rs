//! OpenWhisk REST client over gale's lean HTTP/1.1 pool (rustls with ring for https).

use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;

use super::activation::error_text;
use super::fire::TriggerRecord;
use super::http1::{self, ResponseRef};
use super::pool::{HttpError, Pool};
use super::{tls, web, Activation, BackendError, Call, Entity, Outcome, Platform, Reply};
use crate::trace::{FunctionSpec, PackageSpec, WebAuth};

/// A namespace and the key to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Namespace in request paths (`_`: the key's own).
    pub namespace: String,
    /// `UUID:KEY`.
    pub auth: String,
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct OpenWhiskOptions {
    /// API host: `https://host:443`, `http://127.0.0.1:3233`, or a bare host (https, as wsk).
    pub apihost: String,
    /// One entry per user; [`Call::user`] indexes it.
    pub credentials: Vec<Credentials>,
    /// Accept invalid TLS certificates.
    pub insecure: bool,
    /// Most connections (and so requests) open at once.
    pub connections: u32,
    /// Timeout of one invoke request.
    pub request_timeout: Duration,
}

struct User {
    /// Namespace as given (`_`: the key's own), for entity names in request bodies.
    raw_namespace: String,
    /// The same, encoded for paths.
    namespace: String,
    /// `Authorization: Basic …\r\n`.
    authorization: String,
    /// The namespace's name, encoded, for web action URLs (which have no `_`): set by
    /// [`OpenWhisk::resolve_web_namespaces`].
    web_namespace: OnceLock<String>,
}

/// An OpenWhisk REST client.
pub struct OpenWhisk {
    // Invocations and control requests use separate pools, so deploys and activation
    // fetches never queue behind (or take slots from) the load.
    invoke_pool: Pool,
    control_pool: Pool,
    base: String,
    /// Path prefix of the API (`/api/v1`, after any path in the API host URL).
    api_path: String,
    users: Vec<User>,
    request_timeout: Duration,
}

const CONTROL_TIMEOUT: Duration = Duration::from_secs(30);

/// `https://` unless a scheme is given, as the wsk CLI does; no trailing slash.
pub fn normalize_apihost(apihost: &str) -> String {
    let trimmed = apihost.trim().trim_end_matches('/');
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        trimmed.to_string()
    } else {
        format!("https://{trimmed}")
    }
}

/// Percent-encode an entity path (`pkg/name`) for a URL, keeping `/` between segments.
pub fn encode_path(name: &str) -> String {
    let mut out = Vec::with_capacity(name.len());
    encode_path_into(&mut out, name);
    // Only ASCII is written.
    String::from_utf8(out).unwrap_or_default()
}

/// [`encode_path`], appended to a buffer.
fn encode_path_into(out: &mut Vec<u8>, name: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in name.trim_start_matches('/').bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/' | b'@') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

impl OpenWhisk {
    /// Build a client. Fails on an unusable API host, key or TLS setup.
    pub fn new(opts: &OpenWhiskOptions) -> Result<OpenWhisk, BackendError> {
        let base = normalize_apihost(&opts.apihost);
        let tls = if base.starts_with("https://") {
            Some(
                tls::client_config(opts.insecure)
                    .map_err(|e| BackendError::Invalid(format!("TLS setup: {e}")))?,
            )
        } else {
            None
        };
        let (ep, path) =
            http1::endpoint(&base, tls).map_err(|e| BackendError::Invalid(e.to_string()))?;
        let users = opts
            .credentials
            .iter()
            .map(|c| {
                if c.auth.bytes().any(|b| b.is_ascii_control()) {
                    return Err(BackendError::Invalid(
                        "the auth key holds control characters".into(),
                    ));
                }
                let token = base64::engine::general_purpose::STANDARD.encode(c.auth.as_bytes());
                Ok(User {
                    raw_namespace: c.namespace.clone(),
                    namespace: encode_path(&c.namespace),
                    authorization: format!("Authorization: Basic {token}\r\n"),
                    web_namespace: OnceLock::new(),
                })
            })
            .collect::<Result<Vec<_>, BackendError>>()?;
        if users.is_empty() {
            return Err(BackendError::Invalid("no credentials given".into()));
        }
        Ok(OpenWhisk {
            invoke_pool: Pool::new(ep.clone(), opts.connections),
            control_pool: Pool::new(ep, 16),
            base,
            api_path: format!("{path}/api/v1"),
            users,
            request_timeout: opts.request_timeout,
        })
    }

    fn user(&self, index: usize) -> &User {
        // Indexes come from the injector's own user table; fall back rather than panic.
        self.users.get(index).unwrap_or(&self.users[0])
    }

    /// The namespace of credentials `user` as given (`_`: the key's own).
    pub(super) fn raw_namespace(&self, user: usize) -> &str {
        &self.user(user).raw_namespace
    }

    /// Write `<api>/namespaces/<ns>/<collection>/<name>`: the one spelling of an entity's
    /// path (`actions`, `triggers`, `rules`, `packages`), for deploys and for invocations
    /// (written straight into the request buffer).
    fn write_entity_path(&self, b: &mut Vec<u8>, user: &User, collection: &str, name: &str) {
        b.extend_from_slice(self.api_path.as_bytes());
        b.extend_from_slice(b"/namespaces/");
        b.extend_from_slice(user.namespace.as_bytes());
        b.push(b'/');
        b.extend_from_slice(collection.as_bytes());
        b.push(b'/');
        encode_path_into(b, name);
    }

    fn entity_path(&self, user: usize, collection: &str, name: &str, query: &str) -> String {
        let mut path = Vec::new();
        self.write_entity_path(&mut path, self.user(user), collection, name);
        path.extend_from_slice(query.as_bytes());
        // Only ASCII is written.
        String::from_utf8(path).unwrap_or_default()
    }

    /// `PUT` an entity (`?overwrite=true` with `overwrite`).
    pub(super) async fn put_entity(
        &self,
        user: usize,
        collection: &str,
        name: &str,
        body: &serde_json::Value,
        overwrite: bool,
    ) -> Result<(), BackendError> {
        let query = if overwrite { "?overwrite=true" } else { "" };
        self.entity_request("PUT", user, collection, name, query, body)
            .await
    }

    /// `POST` to an entity (a rule's status).
    pub(super) async fn post_entity(
        &self,
        user: usize,
        collection: &str,
        name: &str,
        body: &serde_json::Value,
    ) -> Result<(), BackendError> {
        self.entity_request("POST", user, collection, name, "", body)
            .await
    }

    async fn entity_request(
        &self,
        method: &str,
        user: usize,
        collection: &str,
        name: &str,
        query: &str,
        body: &serde_json::Value,
    ) -> Result<(), BackendError> {
        let path = self.entity_path(user, collection, name, query);
        let body = body.to_string();
        self.control(method, &path, user, body.as_bytes(), |r| {
            status_ok(r).map(|_| ())
        })
        .await?
        .map_err(|e| e.at(self.url(&path)))
    }

    /// Learn the name of every credentials set's namespace, which web action URLs need:
    /// the one given, or for `_` the first that `GET /namespaces` lists for the key.
    pub async fn resolve_web_namespaces(&self) -> Result<(), BackendError> {
        let path = format!("{}/namespaces", self.api_path);
        for (i, u) in self.users.iter().enumerate() {
            if u.web_namespace.get().is_some() {
                continue;
            }
            let name = if u.raw_namespace != "_" {
                u.raw_namespace.clone()
            } else {
                let listed = self
                    .control("GET", &path, i, b"", |r| {
                        status_ok(r).map(serde_json::from_slice::<Vec<String>>)
                    })
                    .await?
                    .map_err(|e| e.at(self.url(&path)))?;
                match listed {
                    Ok(names) if !names.is_empty() => names[0].clone(),
                    _ => {
                        return Err(BackendError::Invalid(format!(
                            "{}: expected a list of namespace names, to address web actions",
                            self.url(&path)
                        )))
                    }
                }
            };
            let _ = u.web_namespace.set(encode_path(&name));
        }
        Ok(())
    }

    /// `<api>/namespaces/<ns>/activations/<id>`, with gale's long-poll wait if any.
    fn activation_path(&self, user: usize, id: &str, wait: Option<Duration>) -> String {
        let mut path = format!(
            "{}/namespaces/{}/activations/{}",
            self.api_path,
            self.user(user).namespace,
            encode_path(id)
        );
        if let Some(w) = wait {
            // Bounded well inside the control timeout.
            let ms = w.as_millis().min(10_000);
            path.push_str(&format!("?gale_wait_ms={ms}"));
        }
        path
    }

    /// A control-plane request (deploy, fetch, check, admin); `read` takes the answer in
    /// place in the connection's buffer.
    /// GET activation `id` of `user` and read it with `parse`: `None` while it is not
    /// stored (404); a reply `parse` refuses is `Invalid`, saying it is not `what`.
    async fn fetch_record<T>(
        &self,
        user: usize,
        id: &str,
        wait: Option<Duration>,
        parse: fn(&[u8]) -> Option<T>,
        what: &str,
    ) -> Result<Option<T>, BackendError> {
        let path = self.activation_path(user, id, wait);
        let answer = self
            .control("GET", &path, user, b"", |r| match r.status {
                404 => Ok(None),
                _ => status_ok(r).map(|body| Some(parse(body))),
            })
            .await?;
        match answer {
            Ok(None) => Ok(None),
            Ok(Some(Some(record))) => Ok(Some(record)),
            Ok(Some(None)) => Err(BackendError::Invalid(format!(
                "{}: the reply is not {what}",
                self.url(&path)
            ))),
            Err(e) => Err(e.at(self.url(&path))),
        }
    }

    async fn control<T>(
        &self,
        method: &str,
        path: &str,
        user: usize,
        body: &[u8],
        read: impl FnOnce(ResponseRef<'_>) -> T,
    ) -> Result<T, BackendError> {
        self.control_pool
            .request(
                method,
                &|b: &mut Vec<u8>| b.extend_from_slice(path.as_bytes()),
                &self.user(user).authorization,
                body,
                CONTROL_TIMEOUT,
                || {},
                read,
            )
            .await
            .map_err(|e| BackendError::Transport {
                url: self.url(path),
                message: e.to_string(),
            })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request to gale's admin API (`/gale/v1/<rest>`, see docs/platform.md) as user 0;
    /// the JSON answer, or the error the platform gave.
    pub async fn admin(
        &self,
        method: &str,
        rest: &str,
        body: &[u8],
    ) -> Result<serde_json::Value, BackendError> {
        let prefix = self.api_path.trim_end_matches("/api/v1");
        let path = format!("{prefix}/gale/v1/{rest}");
        let answer = self
            .control(method, &path, 0, body, |r| {
                status_ok(r).map(serde_json::from_slice::<serde_json::Value>)
            })
            .await?;
        match answer {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(BackendError::Transport {
                url: self.url(&path),
                message: format!("the answer is not JSON: {e}"),
            }),
            Err(e) => Err(e.at(self.url(&path))),
        }
    }

    /// Whether action `name` (`pkg/name` too) exists for `user`: `GET …/actions/NAME`
    /// answers 200, or 404 when it does not; anything else is an error.
    pub async fn action_exists(&self, user: usize, name: &str) -> Result<bool, BackendError> {
        let mut path = Vec::new();
        self.write_entity_path(&mut path, self.user(user), "actions", name);
        // Only ASCII is written.
        let path = String::from_utf8(path).unwrap_or_default();
        self.control("GET", &path, user, b"", |r| match r.status {
            404 => Ok(false),
            _ => status_ok(r).map(|_| true),
        })
        .await?
        .map_err(|e| e.at(self.url(&path)))
    }

    /// [`Platform::force_cold`]: `GET` the action (its code included), then `PUT` it back
    /// with `?overwrite=true` and the annotation `gale-cold` set to a value it never had.
    /// OpenWhisk makes every update a new revision (and a new patch version); its invokers
    /// reuse a warm container only for the revision it was started with.
    pub async fn force_cold(&self, user: usize, name: &str) -> Result<(), BackendError> {
        let path = self.entity_path(user, "actions", name, "");
        let action = self
            .control("GET", &path, user, b"", |r| {
                status_ok(r).map(serde_json::from_slice::<serde_json::Value>)
            })
            .await?
            .map_err(|e| e.at(self.url(&path)))?
            .map_err(|e| BackendError::Transport {
                url: self.url(&path),
                message: format!("the action is not JSON: {e}"),
            })?;
        let body = cold_update(&action, next_nonce()).ok_or_else(|| {
            BackendError::Invalid(format!(
                "{}: the action has no `exec` to update it with",
                self.url(&path)
            ))
        })?;
        self.put_entity(user, "actions", name, &body, true).await
    }

    /// `GET /api/v1/namespaces`: checks that the host answers and the key is accepted.
    pub async fn check(&self, user: usize) -> Result<(), BackendError> {
        let path = format!("{}/namespaces", self.api_path);
        self.control("GET", &path, user, b"", |r| status_ok(r).map(|_| ()))
            .await?
            .map_err(|e| e.at(self.url(&path)))
    }
}

/// The annotation whose value changes on every forced cold start.
pub const COLD_ANNOTATION: &str = "gale-cold";

/// A value no earlier update of this process gave the annotation: the wall clock's ns, kept
/// increasing.
fn next_nonce() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let prev = LAST.fetch_max(now, Ordering::Relaxed);
    if prev >= now {
        LAST.fetch_add(1, Ordering::Relaxed) + 1
    } else {
        now
    }
}

/// The `PUT` body that updates `action` (as `GET` returned it) with only its
/// [`COLD_ANNOTATION`] changed to `nonce`: the fields an action update takes, the others
/// (name, namespace, version, updated) left to the platform.
pub fn cold_update(action: &serde_json::Value, nonce: u64) -> Option<serde_json::Value> {
    let exec = action.get("exec")?.clone();
    let mut body = serde_json::json!({ "exec": exec });
    for key in ["parameters", "limits", "publish"] {
        if let Some(v) = action.get(key) {
            body[key] = v.clone();
        }
    }
    let mut annotations: Vec<serde_json::Value> = action
        .get("annotations")
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .filter(|x| x.get("key").and_then(|k| k.as_str()) != Some(COLD_ANNOTATION))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    annotations.push(serde_json::json!({"key": COLD_ANNOTATION, "value": nonce.to_string()}));
    body["annotations"] = serde_json::Value::Array(annotations);
    Some(body)
}

pub(super) fn error_field(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").map(error_text))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned())
}

/// A non-2xx answer, before its URL is known (built only for an error).
struct StatusError {
    status: u16,
    message: String,
}

impl StatusError {
    fn at(self, url: String) -> BackendError {
        BackendError::Status {
            url,
            status: self.status,
            message: self.message,
        }
    }
}

fn status_ok(r: ResponseRef<'_>) -> Result<&[u8], StatusError> {
    if (200..300).contains(&r.status) {
        Ok(r.body)
    } else {
        Err(StatusError {
            status: r.status,
            message: error_field(r.body),
        })
    }
}

/// Turn an invoke response into a [`Reply`].
pub(crate) fn classify(status: u16, header_id: Option<&str>, body: &[u8]) -> Reply {
    let activation = Activation::from_json(body);
    let activation_id = activation
        .as_ref()
        .map(|a| a.id.clone())
        .or_else(|| header_id.map(str::to_string))
        .or_else(|| {
            serde_json::from_slice::<serde_json::Value>(body)
                .ok()
                .and_then(|v| {
                    v.get("activationId")
                        .and_then(|i| i.as_str())
                        .map(str::to_string)
                })
        });
    let (outcome, error) = match (status, &activation) {
        (202, _) => (Outcome::Accepted, None),
        (200 | 502 | 500, Some(a)) => (Outcome::of_status_code(a.status_code), a.error.clone()),
        // A blocking invoke's 200 carries the activation record; without one nothing says
        // the function ran, let alone succeeded.
        (200, None) => (
            Outcome::HttpError,
            Some(format!(
                "HTTP 200 without an activation record: {}",
                error_field(body)
            )),
        ),
        (429, _) => (Outcome::Throttled, Some(error_field(body))),
        _ => (Outcome::HttpError, Some(error_field(body))),
    };
    Reply {
        status: Some(status),
        activation_id,
        activation,
        outcome,
        error,
        body_bytes: Some(body.len() as u64),
        completes: false,
    }
}

impl Platform for OpenWhisk {
    async fn deploy(&self, user: usize, f: &FunctionSpec) -> Result<(), BackendError> {
        self.deploy_function(user, f).await
    }

    async fn deploy_package(
        &self,
        user: usize,
        package: &PackageSpec,
        replace: bool,
    ) -> Result<(), BackendError> {
        OpenWhisk::deploy_package(self, user, package, replace).await
    }

    async fn force_cold(&self, user: usize, function: &str) -> Result<(), BackendError> {
        OpenWhisk::force_cold(self, user, function).await
    }

    async fn invoke(&self, call: Call<'_>, on_send: impl FnOnce() + Send) -> Reply {
        let u = self.user(call.user);
        let result = match call.entity {
            Entity::Action | Entity::Sequence => {
                let target = |b: &mut Vec<u8>| {
                    self.write_entity_path(b, u, "actions", call.function);
                    b.extend_from_slice(if call.blocking {
                        b"?blocking=true"
                    } else {
                        b"?blocking=false"
                    });
                };
                self.invoke_pool
                    .request(
                        "POST",
                        &target,
                        &u.authorization,
                        call.params.as_bytes(),
                        self.request_timeout,
                        on_send,
                        |r| classify(r.status, r.activation_id, r.body),
                    )
                    .await
            }
            Entity::Trigger => {
                let target = |b: &mut Vec<u8>| {
                    self.write_entity_path(b, u, "triggers", call.function);
                };
                self.invoke_pool
                    .request(
                        "POST",
                        &target,
                        &u.authorization,
                        call.params.as_bytes(),
                        self.request_timeout,
                        on_send,
                        |r| super::fire::classify_fire(r.status, r.body),
                    )
                    .await
            }
            Entity::Web(route) => {
                let namespace = u.web_namespace.get().unwrap_or(&u.namespace);
                let request = web::Request::new(route, call.function, call.params);
                let headers = match (&route.auth, &route.secret_header) {
                    (_, Some(secret)) => secret.as_str(),
                    (Some(WebAuth::Key), None) => u.authorization.as_str(),
                    _ => "",
                };
                let target = |b: &mut Vec<u8>| {
                    b.extend_from_slice(self.api_path.as_bytes());
                    b.extend_from_slice(b"/web/");
                    b.extend_from_slice(namespace.as_bytes());
                    request.write_target(b);
                };
                self.invoke_pool
                    .request(
                        route.method.as_str(),
                        &target,
                        headers,
                        request.body(),
                        self.request_timeout,
                        on_send,
                        |r| web::classify(r.status, r.activation_id, r.body),
                    )
                    .await
            }
        };
        match result {
            Ok(reply) => reply,
            Err(e @ HttpError::Timeout(_)) => Reply::failed(Outcome::Timeout, e.to_string()),
            Err(e) => Reply::failed(Outcome::ConnectError, e.to_string()),
        }
    }

    async fn fetch_trigger_activation(
        &self,
        user: usize,
        id: &str,
        wait: Option<Duration>,
    ) -> Result<Option<TriggerRecord>, BackendError> {
        self.fetch_record(
            user,
            id,
            wait,
            TriggerRecord::from_json,
            "a trigger's activation record",
        )
        .await
    }

    async fn fetch_activation(
        &self,
        user: usize,
        id: &str,
        wait: Option<Duration>,
    ) -> Result<Option<Activation>, BackendError> {
        self.fetch_record(
            user,
            id,
            wait,
            Activation::from_json,
            "an activation record",
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apihost_and_paths() {
        assert_eq!(
            normalize_apihost("whisk.example:443/"),
            "https://whisk.example:443"
        );
        assert_eq!(
            normalize_apihost("http://127.0.0.1:3233"),
            "http://127.0.0.1:3233"
        );
        assert_eq!(encode_path("/pkg/my action&x"), "pkg/my%20action%26x");
    }

    #[test]
    fn classifies_replies() {
        let r = classify(202, None, br#"{"activationId":"abc"}"#);
        assert_eq!(
            (r.outcome, r.activation_id.as_deref()),
            (Outcome::Accepted, Some("abc"))
        );
        let r = classify(429, None, br#"{"error":"Too many requests in the last minute (count: 61, allowed: 60).","code":"x"}"#);
        assert_eq!(r.outcome, Outcome::Throttled);
        assert!(r.error.unwrap().starts_with("Too many requests"));
        let r = classify(502, Some("hdr"), br#"{"activationId":"a1","start":1,"end":2,"response":{"status":"application error","result":{"error":"boom"}},"annotations":[]}"#);
        assert_eq!(
            (r.outcome, r.error.as_deref(), r.activation_id.as_deref()),
            (Outcome::ApplicationError, Some("boom"), Some("a1"))
        );
        let r = classify(
            404,
            None,
            br#"{"error":"The requested resource does not exist."}"#,
        );
        assert_eq!(r.outcome, Outcome::HttpError);
        let r = classify(200, None, b"<html>ok</html>");
        assert_eq!(r.outcome, Outcome::HttpError);
        assert!(r
            .error
            .unwrap()
            .contains("without an activation record: <html>ok"));
        let r = classify(503, None, b"<html>");
        assert_eq!(
            (r.outcome, r.error.as_deref()),
            (Outcome::HttpError, Some("<html>"))
        );
    }
}
