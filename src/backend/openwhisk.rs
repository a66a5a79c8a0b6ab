//! OpenWhisk REST client (reqwest, rustls with ring, no proxy, bounded connections).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde_json::json;
use tokio::sync::Semaphore;

use super::activation::error_text;
use super::{Activation, BackendError, Call, Outcome, Platform, Reply};
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
    authorization: HeaderValue,
}

/// An OpenWhisk REST client.
pub struct OpenWhisk {
    http: reqwest::Client,
    base: String,
    users: Vec<User>,
    // reqwest opens a new connection whenever none is idle; this bounds them.
    slots: Arc<Semaphore>,
    request_timeout: Duration,
}

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
fn encode_path(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.trim_start_matches('/').bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/' | b'@') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl OpenWhisk {
    /// Build a client. Fails on an unusable key or TLS setup.
    pub fn new(opts: &OpenWhiskOptions) -> Result<OpenWhisk, BackendError> {
        // reqwest is built without a default crypto provider; ring keeps the build C-free.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(opts.connections as usize)
            .pool_idle_timeout(Duration::from_secs(90))
            .tls_danger_accept_invalid_certs(opts.insecure)
            .build()
            .map_err(|e| BackendError::Invalid(format!("cannot build the HTTP client: {e}")))?;
        let users = opts
            .credentials
            .iter()
            .map(|c| {
                let token = base64::engine::general_purpose::STANDARD.encode(c.auth.as_bytes());
                let authorization = HeaderValue::from_str(&format!("Basic {token}"))
                    .map_err(|_| BackendError::Invalid("the auth key holds characters not allowed in a header".into()))?;
                Ok(User { namespace: encode_path(&c.namespace), authorization })
            })
            .collect::<Result<Vec<_>, BackendError>>()?;
        if users.is_empty() {
            return Err(BackendError::Invalid("no credentials given".into()));
        }
        Ok(OpenWhisk {
            http,
            base: format!("{}/api/v1", normalize_apihost(&opts.apihost)),
            users,
            slots: Arc::new(Semaphore::new(opts.connections.max(1) as usize)),
            request_timeout: opts.request_timeout,
        })
    }

    fn user(&self, index: usize) -> &User {
        // Indexes come from the injector's own user table; fall back rather than panic.
        self.users.get(index).unwrap_or(&self.users[0])
    }

    fn action_url(&self, user: &User, name: &str) -> String {
        format!("{}/namespaces/{}/actions/{}", self.base, user.namespace, encode_path(name))
    }

    /// `GET /api/v1/namespaces`: checks that the host answers and the key is accepted.
    pub async fn check(&self, user: usize) -> Result<(), BackendError> {
        let url = format!("{}/namespaces", self.base);
        let resp = self
            .http
            .get(&url)
            .header(AUTHORIZATION, self.user(user).authorization.clone())
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| transport(&url, &e))?;
        status_ok(&url, resp).await.map(|_| ())
    }
}

fn transport(url: &str, e: &reqwest::Error) -> BackendError {
    BackendError::Transport { url: url.to_string(), message: error_chain(e) }
}

/// reqwest's Display hides the cause ("error sending request"); the chain says why.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn error_field(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").map(error_text))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned())
}

async fn status_ok(url: &str, resp: reqwest::Response) -> Result<bytes::Bytes, BackendError> {
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(|e| transport(url, &e))?;
    if (200..300).contains(&status) {
        Ok(body)
    } else {
        Err(BackendError::Status { url: url.to_string(), status, message: error_field(&body) })
    }
}

/// Turn an invoke response into a [`Reply`].
pub(crate) fn classify(status: u16, header_id: Option<String>, body: &[u8]) -> Reply {
    let activation = Activation::from_json(body);
    let activation_id = activation.as_ref().map(|a| a.id.clone()).or(header_id).or_else(|| {
        serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("activationId").and_then(|i| i.as_str()).map(str::to_string))
    });
    let (outcome, error) = match (status, &activation) {
        (202, _) => (Outcome::Accepted, None),
        (200 | 502 | 500, Some(a)) => (Outcome::of_status_code(a.status_code), a.error.clone()),
        (200, None) => (Outcome::Success, None),
        (429, _) => (Outcome::Throttled, Some(error_field(body))),
        _ => (Outcome::HttpError, Some(error_field(body))),
    };
    Reply { status: Some(status), activation_id, activation, outcome, error }
}

impl Platform for OpenWhisk {
    async fn deploy(&self, user: usize, f: &FunctionSpec) -> Result<(), BackendError> {
        let u = self.user(user);
        let url = format!("{}?overwrite=true", self.action_url(u, &f.name));
        let mut exec = json!({ "kind": f.kind });
        if let Some(code) = &f.code {
            exec["code"] = json!(code);
        }
        let parameters: Vec<_> = f.params.iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
        let mut limits = serde_json::Map::new();
        if let Some(m) = f.memory_mb {
            limits.insert("memory".into(), json!(m));
        }
        if let Some(t) = f.timeout_ms {
            limits.insert("timeout".into(), json!(t));
        }
        let body = json!({ "exec": exec, "parameters": parameters, "limits": limits });
        let resp = self
            .http
            .put(&url)
            .header(AUTHORIZATION, u.authorization.clone())
            .json(&body)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| transport(&url, &e))?;
        status_ok(&url, resp).await.map(|_| ())
    }

    async fn invoke(&self, call: Call<'_>, on_send: impl FnOnce() + Send) -> Reply {
        let u = self.user(call.user);
        let url = format!("{}?blocking={}", self.action_url(u, call.function), call.blocking);
        let request = self
            .http
            .post(&url)
            .header(AUTHORIZATION, u.authorization.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(call.params.to_string())
            .timeout(self.request_timeout);
        // Waiting for a connection slot is the injector's delay, so it happens before `sent`.
        let _slot = match self.slots.acquire().await {
            Ok(permit) => permit,
            Err(_) => return Reply::failed(Outcome::ConnectError, "client closed".into()),
        };
        on_send();
        let resp = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Reply::failed(Outcome::Timeout, error_chain(&e)),
            Err(e) => return Reply::failed(Outcome::ConnectError, error_chain(&e)),
        };
        let status = resp.status().as_u16();
        let header_id = resp
            .headers()
            .get("x-openwhisk-activation-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match resp.bytes().await {
            Ok(body) => classify(status, header_id, &body),
            Err(e) if e.is_timeout() => Reply::failed(Outcome::Timeout, error_chain(&e)),
            Err(e) => Reply::failed(Outcome::ConnectError, error_chain(&e)),
        }
    }

    async fn fetch_activation(&self, user: usize, id: &str) -> Result<Option<Activation>, BackendError> {
        let u = self.user(user);
        let url = format!("{}/namespaces/{}/activations/{}", self.base, u.namespace, encode_path(id));
        let resp = self
            .http
            .get(&url)
            .header(AUTHORIZATION, u.authorization.clone())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| transport(&url, &e))?;
        if resp.status().as_u16() == 404 {
            return Ok(None);
        }
        let body = status_ok(&url, resp).await?;
        Activation::from_json(&body)
            .map(Some)
            .ok_or_else(|| BackendError::Invalid(format!("{url}: the reply is not an activation record")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apihost_and_paths() {
        assert_eq!(normalize_apihost("whisk.example:443/"), "https://whisk.example:443");
        assert_eq!(normalize_apihost("http://127.0.0.1:3233"), "http://127.0.0.1:3233");
        assert_eq!(encode_path("/pkg/my action&x"), "pkg/my%20action%26x");
    }

    #[test]
    fn classifies_replies() {
        let r = classify(202, None, br#"{"activationId":"abc"}"#);
        assert_eq!((r.outcome, r.activation_id.as_deref()), (Outcome::Accepted, Some("abc")));
        let r = classify(429, None, br#"{"error":"Too many requests in the last minute (count: 61, allowed: 60).","code":"x"}"#);
        assert_eq!(r.outcome, Outcome::Throttled);
        assert!(r.error.unwrap().starts_with("Too many requests"));
        let r = classify(502, Some("hdr".into()), br#"{"activationId":"a1","start":1,"end":2,"response":{"status":"application error","result":{"error":"boom"}},"annotations":[]}"#);
        assert_eq!((r.outcome, r.error.as_deref(), r.activation_id.as_deref()), (Outcome::ApplicationError, Some("boom"), Some("a1")));
        let r = classify(404, None, br#"{"error":"The requested resource does not exist."}"#);
        assert_eq!(r.outcome, Outcome::HttpError);
        let r = classify(503, None, b"<html>");
        assert_eq!((r.outcome, r.error.as_deref()), (Outcome::HttpError, Some("<html>")));
    }
}
