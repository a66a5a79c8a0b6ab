//! Web actions: `/api/v1/web/{namespace}/{package|default}/{action}[.ext][/path]`.
//!
//! No key is needed unless the action is annotated `require-whisk-auth`. The request
//! becomes the action's parameters as OpenWhisk builds them (query, then the JSON or form
//! body over it, then `__ow_method`, `__ow_headers`, `__ow_path`; `raw-http` passes
//! `__ow_query` and `__ow_body` instead of parsing), and the result becomes the response
//! by extension: `.json` the result (or the property the extra path names), `.text`,
//! `.html`, `.svg` its `text`, `html`, `svg` property, `.http` (the default) an
//! `{statusCode, headers, body}` object.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{Map, Value};

use super::query::{decode, Query};
use super::reply;
use crate::platform::action::truthy;
use crate::platform::activate::{self, Start};
use crate::platform::activation::{Activation, Status};
use crate::platform::ids::Id;
use crate::platform::limits::Throttle;
use crate::platform::resolve;
use crate::platform::Shared;
use crate::timefmt::epoch_ms;

/// OpenWhisk's payload limit applies to web requests too.
const MAX_BODY: usize = 1_048_576;

/// The response form a URL's extension asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ext {
    Json,
    Http,
    Text,
    Html,
    Svg,
}

impl Ext {
    fn parse(s: &str) -> Option<Ext> {
        Some(match s {
            "json" => Ext::Json,
            "http" => Ext::Http,
            "text" => Ext::Text,
            "html" => Ext::Html,
            "svg" => Ext::Svg,
            _ => return None,
        })
    }

    /// The result property a non-http extension answers with, and its content type.
    fn projection(self) -> Option<(&'static str, &'static str)> {
        match self {
            Ext::Text => Some(("text", "text/plain")),
            Ext::Html => Some(("html", "text/html; charset=UTF-8")),
            Ext::Svg => Some(("svg", "image/svg+xml")),
            Ext::Json | Ext::Http => None,
        }
    }
}

/// `action.ext` → (action, ext); a name without a known extension is `.http`.
fn split_extension(segment: &str) -> (&str, Ext) {
    if let Some((name, ext)) = segment.rsplit_once('.') {
        if let Some(e) = Ext::parse(ext) {
            return (name, e);
        }
    }
    (segment, Ext::Http)
}

fn unauthorized(tid: &str) -> Response {
    reply::error(
        StatusCode::UNAUTHORIZED,
        "The resource requires authentication, which was not supplied with the request",
        tid,
    )
}

/// Answer a web action request; `rest` is the path after `/api/v1/web/`.
pub async fn handle(shared: &Arc<Shared>, rest: &[&str], req: Request, tid: &str) -> Response {
    let received = Instant::now();
    let [ns, pkg, action_segment, extra @ ..] = rest else {
        return reply::not_found(tid);
    };
    let Some(owner) = shared.namespaces.by_name(&decode(ns, false)).cloned() else {
        return reply::not_found(tid);
    };
    let (action_name, ext) = split_extension(action_segment);
    let action_name = decode(action_name, false);
    let name = match *pkg {
        "default" => action_name.into_owned(),
        p => format!("{}/{action_name}", decode(p, false)),
    };
    // Web actions run on behalf of their owner.
    let target = match resolve::action(shared, &owner, &owner.name, &name) {
        Ok(t) => t,
        Err(_) => return reply::not_found(tid),
    };
    let annotation = |key: &str| {
        target
            .action
            .annotations
            .iter()
            .find(|a| a.key == key)
            .map(|a| a.value.clone())
    };
    if !annotation("web-export").is_some_and(|v| truthy(&v)) {
        return reply::not_found(tid);
    }
    let raw = annotation("raw-http").is_some_and(|v| truthy(&v));
    let user = match annotation("require-whisk-auth") {
        None | Some(Value::Bool(false)) | Some(Value::Null) => None,
        Some(Value::Bool(true)) => match req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|h| shared.namespaces.by_auth_header(h.as_bytes()))
        {
            Some(ns) => Some(ns.name.clone()),
            None => return unauthorized(tid),
        },
        Some(secret) => {
            let expected = match &secret {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let given = req
                .headers()
                .get("x-require-whisk-auth")
                .and_then(|v| v.to_str().ok());
            if given != Some(expected.as_str()) {
                return unauthorized(tid);
            }
            None
        }
    };
    let method = req.method().as_str().to_ascii_lowercase();
    let mut headers = Map::new();
    for (k, v) in req.headers() {
        if let Ok(v) = v.to_str() {
            headers.insert(k.as_str().to_string(), Value::String(v.to_string()));
        }
    }
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let raw_query = req.uri().query().unwrap_or("").to_string();
    let ow_path = if extra.is_empty() {
        String::new()
    } else {
        format!("/{}", extra.join("/"))
    };
    let body = match read_body(req, tid).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut params = Map::new();
    if raw {
        params.insert("__ow_query".into(), Value::String(raw_query));
        params.insert(
            "__ow_body".into(),
            Value::String(body_text(&body, &content_type)),
        );
    } else {
        for (k, v) in query_pairs(&raw_query) {
            params.insert(k, Value::String(v));
        }
        if !body.is_empty() {
            if content_type == "application/json" {
                match serde_json::from_slice::<Value>(&body) {
                    Ok(Value::Object(m)) => params.extend(m),
                    Ok(other) => {
                        params.insert("__ow_body".into(), other);
                    }
                    Err(e) => {
                        return reply::bad_request(
                            &format!("The request content was malformed:\n{e}"),
                            tid,
                        )
                    }
                }
            } else if content_type == "application/x-www-form-urlencoded" {
                let text = String::from_utf8_lossy(&body);
                for (k, v) in query_pairs(&text) {
                    params.insert(k, Value::String(v));
                }
            } else {
                params.insert(
                    "__ow_body".into(),
                    Value::String(body_text(&body, &content_type)),
                );
            }
        }
    }
    if target.redefines_final(&params) {
        return reply::bad_request(
            "Request defines parameters that are not allowed (e.g., reserved properties).",
            tid,
        );
    }
    params.insert("__ow_method".into(), Value::String(method));
    params.insert("__ow_headers".into(), Value::Object(headers));
    params.insert("__ow_path".into(), Value::String(ow_path.clone()));
    if let Some(user) = user {
        params.insert("__ow_user".into(), Value::String(user.to_string()));
    }
    let admission = match Throttle::admit(&owner, epoch_ms(SystemTime::now())) {
        Ok(a) => a,
        Err(m) => return reply::error(StatusCode::TOO_MANY_REQUESTS, &m, tid),
    };
    let id = Id::generate();
    let rx = activate::launch(
        shared,
        Start {
            id,
            caller: owner.clone(),
            target,
            params,
            transaction_id: tid.to_string(),
            received,
            admission,
            cause: None,
        },
    );
    let wait: Duration = shared.config.max_blocking_wait;
    let activation = match tokio::time::timeout(wait, rx).await {
        Ok(Ok(a)) => a,
        Ok(Err(_)) | Err(_) => return super::actions::accepted(&id),
    };
    let projection: Vec<String> = extra
        .iter()
        .map(|s| decode(s, false).into_owned())
        .collect();
    let mut r = respond(&activation, ext, &projection, tid);
    if let Ok(v) = HeaderValue::from_str(activation.id.as_str()) {
        r.headers_mut().insert(&reply::ACTIVATION_ID, v);
    }
    r
}

async fn read_body(req: Request, tid: &str) -> Result<Vec<u8>, Response> {
    let mut body = req.into_body();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            reply::bad_request(&format!("Failed extracting request body. {e}"), tid)
        })?;
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > MAX_BODY {
                return Err(reply::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!(
                        "Request larger than allowed: {} > {MAX_BODY} bytes.",
                        out.len() + data.len()
                    ),
                    tid,
                ));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

/// A body as the action sees it: text as is, binary content base64-encoded.
fn body_text(body: &[u8], content_type: &str) -> String {
    match std::str::from_utf8(body) {
        Ok(s) if !is_binary(content_type) => s.to_string(),
        _ => base64::engine::general_purpose::STANDARD.encode(body),
    }
}

/// Content types whose bodies travel base64-encoded (OpenWhisk: not text, JSON or XML).
fn is_binary(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    !(ct.is_empty()
        || ct.starts_with("text/")
        || ct.contains("json")
        || ct.contains("xml")
        || ct.contains("javascript")
        || ct.contains("x-www-form-urlencoded"))
}

fn query_pairs(raw: &str) -> Vec<(String, String)> {
    let q = Query::parse(Some(raw));
    q.pairs()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn error_body(status: StatusCode, message: &str, tid: &str) -> Response {
    reply::error(status, message, tid)
}

/// The response of a finished web activation.
fn respond(a: &Activation, ext: Ext, projection: &[String], tid: &str) -> Response {
    let result: Value = serde_json::from_str(a.result.get()).unwrap_or(Value::Null);
    match a.status {
        Status::Success => {}
        status => {
            let message = result
                .get("error")
                .map(|e| match e {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_else(|| "The action did not produce a valid response.".into());
            let code = match status {
                Status::ApplicationError => StatusCode::BAD_REQUEST,
                Status::DeveloperError => StatusCode::BAD_GATEWAY,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            return error_body(code, &message, tid);
        }
    }
    if ext == Ext::Http {
        return http_response(&result, tid);
    }
    // Non-http extensions: the extra path projects into the result.
    let mut value = &result;
    let default_field = ext.projection().map(|(f, _)| f.to_string());
    let path: Vec<String> = if projection.is_empty() {
        default_field.into_iter().collect()
    } else {
        projection.to_vec()
    };
    for key in &path {
        match value.get(key) {
            Some(v) => value = v,
            None => {
                return error_body(
                    StatusCode::NOT_FOUND,
                    &format!("Property '{key}' not found in the result."),
                    tid,
                )
            }
        }
    }
    match ext.projection() {
        None => reply::json(StatusCode::OK, value),
        Some((_, content_type)) => {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => {
                    let media = content_type.split(';').next().unwrap_or(content_type);
                    return error_body(
                        StatusCode::BAD_REQUEST,
                        &format!("Response is not valid '{media}'."),
                        tid,
                    );
                }
            };
            with_type(StatusCode::OK, content_type, text.into_bytes())
        }
    }
}

fn with_type(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r
}

/// `.http`: `{statusCode, headers, body}`; a string body of a binary content type is
/// base64 and is decoded; an object or array body is JSON.
fn http_response(result: &Value, tid: &str) -> Response {
    let invalid = |what: &str| {
        error_body(
            StatusCode::BAD_REQUEST,
            &format!("Response is not valid '{what}'."),
            tid,
        )
    };
    let Some(obj) = result.as_object() else {
        return invalid("message/http");
    };
    let body = obj.get("body");
    let status = match obj.get("statusCode").or_else(|| obj.get("code")) {
        None if body.is_none() => StatusCode::NO_CONTENT,
        None => StatusCode::OK,
        Some(v) => match v
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .and_then(|n| StatusCode::from_u16(n).ok())
        {
            Some(s) => s,
            None => return invalid("message/http"),
        },
    };
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
    let mut content_type: Option<String> = None;
    if let Some(h) = obj.get("headers") {
        let Some(h) = h.as_object() else {
            return invalid("message/http");
        };
        for (k, v) in h {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return invalid("message/http"),
            };
            let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(&text),
            ) else {
                return invalid("message/http");
            };
            if name == CONTENT_TYPE {
                content_type = Some(text.clone());
            }
            headers.push((name, value));
        }
    }
    let (bytes, default_type) = match body {
        None | Some(Value::Null) => (Vec::new(), None),
        Some(Value::String(s)) => {
            let ct = content_type.as_deref().unwrap_or("text/html");
            if is_binary(ct.split(';').next().unwrap_or(ct).trim()) {
                match base64::engine::general_purpose::STANDARD.decode(s.trim()) {
                    Ok(b) => (b, None),
                    Err(_) => return invalid(ct),
                }
            } else {
                (s.clone().into_bytes(), Some("text/html; charset=UTF-8"))
            }
        }
        Some(other) => (other.to_string().into_bytes(), Some("application/json")),
    };
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = status;
    for (k, v) in headers {
        r.headers_mut().append(k, v);
    }
    if content_type.is_none() {
        if let Some(d) = default_type {
            r.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(d));
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions() {
        assert_eq!(split_extension("hello.json"), ("hello", Ext::Json));
        assert_eq!(split_extension("hello"), ("hello", Ext::Http));
        assert_eq!(split_extension("a.b.text"), ("a.b", Ext::Text));
        assert_eq!(split_extension("v1.2"), ("v1.2", Ext::Http));
    }

    #[test]
    fn binary_types() {
        assert!(is_binary("image/png"));
        assert!(is_binary("application/octet-stream"));
        assert!(!is_binary("text/plain"));
        assert!(!is_binary("application/json"));
        assert!(!is_binary("image/svg+xml"));
    }
}
