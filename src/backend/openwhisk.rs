//! OpenWhisk REST client over gale's lean HTTP/1.1 pool (rustls with ring for https).

use std::time::Duration;

use base64::Engine as _;
use serde_json::json;

use super::activation::error_text;
use super::http1::{self, ResponseRef};
use super::pool::{HttpError, Pool};
use super::{tls, Activation, BackendError, Call, Outcome, Platform, Reply};
use crate::trace::FunctionSpec;

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
    namespace: String,
    authorization: String,
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
                    namespace: encode_path(&c.namespace),
                    authorization: format!("Basic {token}"),
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

    /// Write `<api>/namespaces/<ns>/actions/<name>`: the one spelling of an action's path,
    /// for deploys and for invocations (written straight into the request buffer).
    fn write_action_path(&self, b: &mut Vec<u8>, user: &User, name: &str) {
        b.extend_from_slice(self.api_path.as_bytes());
        b.extend_from_slice(b"/namespaces/");
        b.extend_from_slice(user.namespace.as_bytes());
        b.extend_from_slice(b"/actions/");
        encode_path_into(b, name);
    }

    /// A control-plane request (deploy, fetch, check, admin); `read` takes the answer in
    /// place in the connection's buffer.
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

    /// `GET /api/v1/namespaces`: checks that the host answers and the key is accepted.
    pub async fn check(&self, user: usize) -> Result<(), BackendError> {
        let path = format!("{}/namespaces", self.api_path);
        self.control("GET", &path, user, b"", |r| status_ok(r).map(|_| ()))
            .await?
            .map_err(|e| e.at(self.url(&path)))
    }
}

fn error_field(body: &[u8]) -> String {
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
    }
}

impl Platform for OpenWhisk {
    async fn deploy(&self, user: usize, f: &FunctionSpec) -> Result<(), BackendError> {
        let mut path = Vec::new();
        self.write_action_path(&mut path, self.user(user), &f.name);
        path.extend_from_slice(b"?overwrite=true");
        // Only ASCII is written.
        let path = String::from_utf8(path).unwrap_or_default();
        let mut exec = json!({ "kind": f.kind });
        if let Some(code) = &f.code {
            exec["code"] = json!(code);
        }
        let parameters: Vec<_> = f
            .params
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        let mut limits = serde_json::Map::new();
        if let Some(m) = f.memory_mb {
            limits.insert("memory".into(), json!(m));
        }
        if let Some(t) = f.timeout_ms {
            limits.insert("timeout".into(), json!(t));
        }
        let body = json!({ "exec": exec, "parameters": parameters, "limits": limits }).to_string();
        self.control("PUT", &path, user, body.as_bytes(), |r| {
            status_ok(r).map(|_| ())
        })
        .await?
        .map_err(|e| e.at(self.url(&path)))
    }

    async fn invoke(&self, call: Call<'_>, on_send: impl FnOnce() + Send) -> Reply {
        let u = self.user(call.user);
        let target = |b: &mut Vec<u8>| {
            self.write_action_path(b, u, call.function);
            b.extend_from_slice(if call.blocking {
                b"?blocking=true"
            } else {
                b"?blocking=false"
            });
        };
        let result = self
            .invoke_pool
            .request(
                "POST",
                &target,
                &u.authorization,
                call.params.as_bytes(),
                self.request_timeout,
                on_send,
                |r| classify(r.status, r.activation_id, r.body),
            )
            .await;
        match result {
            Ok(reply) => reply,
            Err(e @ HttpError::Timeout(_)) => Reply::failed(Outcome::Timeout, e.to_string()),
            Err(e) => Reply::failed(Outcome::ConnectError, e.to_string()),
        }
    }

    async fn fetch_activation(
        &self,
        user: usize,
        id: &str,
        wait: Option<Duration>,
    ) -> Result<Option<Activation>, BackendError> {
        let u = self.user(user);
        let mut path = format!(
            "{}/namespaces/{}/activations/{}",
            self.api_path,
            u.namespace,
            encode_path(id)
        );
        if let Some(w) = wait {
            // Bounded well inside the control timeout.
            let ms = w.as_millis().min(10_000);
            path.push_str(&format!("?gale_wait_ms={ms}"));
        }
        let answer = self
            .control("GET", &path, user, b"", |r| match r.status {
                404 => Ok(None),
                _ => status_ok(r).map(|body| Some(Activation::from_json(body))),
            })
            .await?;
        match answer {
            Ok(None) => Ok(None),
            Ok(Some(Some(a))) => Ok(Some(a)),
            Ok(Some(None)) => Err(BackendError::Invalid(format!(
                "{}: the reply is not an activation record",
                self.url(&path)
            ))),
            Err(e) => Err(e.at(self.url(&path))),
        }
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
