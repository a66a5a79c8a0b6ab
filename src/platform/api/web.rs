//! Web actions: `/api/v1/web/{namespace}/{package|default}/{action}[.ext][/path]`.
//!
//! No key is needed unless the action is annotated `require-whisk-auth`. The request
//! becomes the action's parameters as OpenWhisk's controller builds them (`__ow_method`,
//! `__ow_headers`, `__ow_path`, then the query, then a JSON or form body over it; `raw-http`
//! passes `__ow_query` and `__ow_body` instead of parsing), and the result (of an application
//! error: its `error` value) becomes the response by extension: `.json` the result (or the
//! property the extra path names), `.text`, `.html`, `.svg` its `text`, `html`, `svg`
//! property, `.http` (the default) an `{statusCode, headers, body}` object.

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

/// The fields the platform sets from the request.
const RESERVED: [&str; 6] = [
    "__ow_method",
    "__ow_headers",
    "__ow_path",
    "__ow_user",
    "__ow_query",
    "__ow_body",
];

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

    /// The result property an extension answers by default (`.text` its `text`, …).
    fn default_property(self) -> Option<&'static str> {
        match self {
            Ext::Text => Some("text"),
            Ext::Html => Some("html"),
            Ext::Svg => Some("svg"),
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
    // Web actions run on behalf of their owner; OpenWhisk does not look them up through a
    // binding.
    if pkg != &"default"
        && owner
            .packages
            .get(&decode(pkg, false))
            .is_some_and(|p| p.binding.is_some())
    {
        return reply::not_found(tid);
    }
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
    // A preflight gets the CORS headers (added to every answer) unless the action handles
    // OPTIONS itself.
    if req.method() == axum::http::Method::OPTIONS
        && !annotation("web-custom-options").is_some_and(|v| truthy(&v))
    {
        return Response::new(Body::empty());
    }
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
        // JSON travels base64-encoded here: OpenWhisk treats it as binary.
        let text = if content_type == "application/json" {
            base64::engine::general_purpose::STANDARD.encode(&body)
        } else {
            body_text(&body, &content_type)
        };
        params.insert("__ow_body".into(), Value::String(text));
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
    // The request may not set the `__ow_` fields, nor redefine a final action's parameters.
    if !raw && (target.redefines_final(&params) || RESERVED.iter().any(|k| params.contains_key(*k)))
    {
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
        Ok(Err(_)) | Err(_) => {
            let mut r = reply::error(StatusCode::ACCEPTED, "Response not yet ready.", tid);
            if let Ok(v) = HeaderValue::from_str(id.as_str()) {
                r.headers_mut().insert(&reply::ACTIVATION_ID, v);
            }
            return r;
        }
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

/// The response of a finished web activation. A success answers its result and an
/// application error its `error` value, each through the extension's transcoder (so an
/// action can answer `{"error":{"statusCode":404,…}}` as an HTTP 404); any other failure is
/// a 400.
fn respond(a: &Activation, ext: Ext, projection: &[String], tid: &str) -> Response {
    let result: Value = serde_json::from_str(a.result.get()).unwrap_or(Value::Null);
    let path: Vec<String> = match a.status {
        Status::Success if ext == Ext::Http || projection.is_empty() => ext
            .default_property()
            .map(|f| vec![f.to_string()])
            .unwrap_or_default(),
        Status::Success => projection.to_vec(),
        Status::ApplicationError => vec!["error".to_string()],
        _ => {
            return error_body(
                StatusCode::BAD_REQUEST,
                "There was an error processing your request.",
                tid,
            )
        }
    };
    let mut value = &result;
    for key in &path {
        match value.get(key) {
            Some(v) => value = v,
            None => {
                return error_body(
                    StatusCode::NOT_FOUND,
                    "Response does not include requested property.",
                    tid,
                )
            }
        }
    }
    let invalid = |media: &str| {
        error_body(
            StatusCode::BAD_REQUEST,
            &format!("Response is not valid '{media}'."),
            tid,
        )
    };
    match (ext, value) {
        (Ext::Http, v) => http_response(v, tid),
        (Ext::Json, v @ (Value::Object(_) | Value::Array(_))) => reply::json(StatusCode::OK, v),
        (Ext::Json, _) => invalid("application/json"),
        (Ext::Html, Value::String(s)) => with_type(
            StatusCode::OK,
            "text/html; charset=UTF-8",
            s.clone().into_bytes(),
        ),
        (Ext::Html, _) => invalid("text/html"),
        (Ext::Svg, Value::String(s)) => {
            with_type(StatusCode::OK, "image/svg+xml", s.clone().into_bytes())
        }
        (Ext::Svg, _) => invalid("image/svg+xml"),
        (Ext::Text, v) => {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Object(_) | Value::Array(_) => {
                    serde_json::to_string_pretty(v).unwrap_or_default()
                }
                other => other.to_string(),
            };
            with_type(
                StatusCode::OK,
                "text/plain; charset=UTF-8",
                text.into_bytes(),
            )
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

/// Header values of an `.http` result: strings, numbers, booleans, or arrays of them (one
/// header each).
fn header_values(v: &Value, out: &mut Vec<String>) -> bool {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Bool(b) => out.push(b.to_string()),
        Value::Array(items) => return items.iter().all(|i| header_values(i, out)),
        _ => return false,
    }
    true
}

fn is_json_family(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

/// `.http`: `{statusCode, headers, body}`. A string body is text of its content type
/// (`text/html` by default) or, for a binary or JSON content type, base64 that is decoded;
/// any other body is JSON and needs a JSON content type. No body (or `""`) answers 204
/// unless a status is given.
fn http_response(result: &Value, tid: &str) -> Response {
    let invalid = || {
        error_body(
            StatusCode::BAD_REQUEST,
            "Response is not valid 'message/http'.",
            tid,
        )
    };
    let mismatch = || {
        error_body(
            StatusCode::BAD_REQUEST,
            "Response type in header did not match generated content type.",
            tid,
        )
    };
    let Some(obj) = result.as_object() else {
        return invalid();
    };
    let status = match obj.get("statusCode") {
        None => None,
        Some(v) => match v
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .and_then(|n| StatusCode::from_u16(n).ok())
        {
            Some(s) => Some(s),
            None => return invalid(),
        },
    };
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
    let mut content_type: Option<String> = None;
    if let Some(h) = obj.get("headers") {
        let Some(h) = h.as_object() else {
            return invalid();
        };
        for (k, v) in h {
            let mut values = Vec::new();
            if !header_values(v, &mut values) {
                return invalid();
            }
            let Ok(name) = HeaderName::from_bytes(k.as_bytes()) else {
                return invalid();
            };
            for text in values {
                if name == CONTENT_TYPE {
                    content_type = Some(text);
                    continue;
                }
                let Ok(value) = HeaderValue::from_str(&text) else {
                    return invalid();
                };
                headers.push((name.clone(), value));
            }
        }
    }
    let media = content_type
        .as_deref()
        .map(|c| c.split(';').next().unwrap_or(c).trim().to_ascii_lowercase());
    let (status, bytes, ct) = match obj.get("body") {
        None | Some(Value::Null) => (status.unwrap_or(StatusCode::NO_CONTENT), Vec::new(), None),
        Some(Value::String(s)) if s.is_empty() => {
            (status.unwrap_or(StatusCode::NO_CONTENT), Vec::new(), None)
        }
        Some(Value::String(s)) => {
            let media = media.as_deref().unwrap_or("text/html");
            if is_binary(media) || is_json_family(media) {
                match base64::engine::general_purpose::STANDARD.decode(s.trim()) {
                    Ok(b) => (
                        status.unwrap_or(StatusCode::OK),
                        b,
                        Some(content_type.clone().unwrap_or_else(|| media.to_string())),
                    ),
                    Err(_) => return mismatch(),
                }
            } else {
                let ct = match &content_type {
                    Some(c) if c.contains("charset") => c.clone(),
                    Some(c) => format!("{c}; charset=UTF-8"),
                    None => "text/html; charset=UTF-8".to_string(),
                };
                (
                    status.unwrap_or(StatusCode::OK),
                    s.clone().into_bytes(),
                    Some(ct),
                )
            }
        }
        Some(other) => {
            let media = media.as_deref().unwrap_or("application/json");
            if !is_json_family(media) {
                return mismatch();
            }
            (
                status.unwrap_or(StatusCode::OK),
                other.to_string().into_bytes(),
                Some(
                    content_type
                        .clone()
                        .unwrap_or_else(|| "application/json".into()),
                ),
            )
        }
    };
    let mut r = Response::new(Body::from(bytes));
    *r.status_mut() = status;
    for (k, v) in headers {
        r.headers_mut().append(k, v);
    }
    if let Some(ct) = ct.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(CONTENT_TYPE, ct);
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
