//! Building responses: JSON bodies, OpenWhisk error bodies, the headers every response has.

use axum::body::Body;
use axum::http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

/// `x-openwhisk-activation-id`, on invoke responses.
pub static ACTIVATION_ID: HeaderName = HeaderName::from_static("x-openwhisk-activation-id");
/// `x-request-id`, the transaction id, on every response.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

static JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A JSON response from already-encoded bytes.
pub fn json_bytes(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, JSON.clone());
    r
}

/// A JSON response.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => json_bytes(status, body),
        Err(e) => {
            tracing::error!("cannot encode a response: {e}");
            json_bytes(
                StatusCode::INTERNAL_SERVER_ERROR,
                br#"{"error":"Internal Server Error"}"#.to_vec(),
            )
        }
    }
}

/// OpenWhisk's error body `{"error": message, "code": transaction id}`.
pub fn error(status: StatusCode, message: &str, tid: &str) -> Response {
    #[derive(Serialize)]
    struct ErrorBody<'a> {
        error: &'a str,
        code: &'a str,
    }
    json(
        status,
        &ErrorBody {
            error: message,
            code: tid,
        },
    )
}

/// 404 with OpenWhisk's default text.
pub fn not_found(tid: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "The requested resource does not exist.",
        tid,
    )
}

/// 400 with `message`.
pub fn bad_request(message: &str, tid: &str) -> Response {
    error(StatusCode::BAD_REQUEST, message, tid)
}

/// 405 naming the methods the path supports.
pub fn method_not_allowed(allowed: &str, tid: &str) -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("HTTP method not allowed, supported methods: {allowed}"),
        tid,
    )
}
