//! Requesting a web action: its URL after the namespace (`/{package|default}/{action}.{ext}`),
//! the row's parameters as a query string (GET) or a JSON body, and what the response says.
//! The response is the result: no activation record is fetched, unless the platform
//! answered `202 Response not yet ready` (the activation outlived the blocking wait).

use super::entity::WebRoute;
use super::openwhisk::{encode_path, error_field};
use super::{Outcome, Reply};
use crate::trace::WebMethod;

/// One web request, built before it is sent (so the send's timestamp does not include it).
pub struct Request<'a> {
    package: Option<&'a str>,
    action: &'a str,
    extension: &'static str,
    /// `?k=v&…` for GET (empty when there are no parameters).
    query: String,
    /// The JSON body for the other methods.
    body: &'a str,
}

impl<'a> Request<'a> {
    /// The request for `function` (`action` or `pkg/action`) with the row's `params`.
    pub fn new(route: &WebRoute, function: &'a str, params: &'a str) -> Request<'a> {
        let (package, action) = match function.split_once('/') {
            Some((p, a)) => (Some(p), a),
            None => (None, function),
        };
        let (query, body) = match route.method {
            WebMethod::Get => (query_string(params), ""),
            _ => (String::new(), params),
        };
        Request {
            package,
            action,
            extension: route.extension.as_str(),
            query,
            body,
        }
    }

    /// Append `/{package|default}/{action}.{ext}[?query]`.
    pub fn write_target(&self, b: &mut Vec<u8>) {
        b.push(b'/');
        b.extend_from_slice(encode_path(self.package.unwrap_or("default")).as_bytes());
        b.push(b'/');
        b.extend_from_slice(encode_path(self.action).as_bytes());
        b.push(b'.');
        b.extend_from_slice(self.extension.as_bytes());
        b.extend_from_slice(self.query.as_bytes());
    }

    /// The request body.
    pub fn body(&self) -> &[u8] {
        self.body.as_bytes()
    }
}

/// `?k=v&…` of a JSON object's fields: strings as they are, other values as JSON text
/// (so they arrive at the action as strings, as any query parameter does).
fn query_string(params: &str) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(params)
    else {
        return String::new();
    };
    let mut out = String::new();
    for (k, v) in &map {
        out.push(if out.is_empty() { '?' } else { '&' });
        form_encode(&mut out, k);
        out.push('=');
        match v {
            serde_json::Value::String(s) => form_encode(&mut out, s),
            other => form_encode(&mut out, &other.to_string()),
        }
    }
    out
}

fn form_encode(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

/// A web action's response as a [`Reply`]: a 2xx or 3xx answer (what the action made of
/// its result) is a success, `202` an activation still running (its record is fetched),
/// `429` throttled, any other status an HTTP error. The activation id comes from the
/// `x-openwhisk-activation-id` header.
pub fn classify(status: u16, header_id: Option<&str>, body: &[u8]) -> Reply {
    let (outcome, error) = match status {
        202 if header_id.is_some() => (Outcome::Accepted, None),
        200..=399 => (Outcome::Success, None),
        429 => (Outcome::Throttled, Some(error_field(body))),
        _ => (Outcome::HttpError, Some(error_field(body))),
    };
    Reply {
        status: Some(status),
        activation_id: header_id.map(str::to_string),
        activation: None,
        outcome,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::WebExtension;

    fn route(method: WebMethod) -> WebRoute {
        WebRoute {
            method,
            extension: WebExtension::Json,
            auth: None,
            secret_header: None,
        }
    }

    #[test]
    fn targets_and_queries() {
        let r = Request::new(
            &route(WebMethod::Get),
            "tools/resize",
            r#"{"n":3,"who":"a b&c","ok":true}"#,
        );
        let mut b = Vec::new();
        r.write_target(&mut b);
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "/tools/resize.json?n=3&ok=true&who=a%20b%26c"
        );
        assert!(r.body().is_empty());
        let r = Request::new(&route(WebMethod::Post), "hello", r#"{"n":3}"#);
        let mut b = Vec::new();
        r.write_target(&mut b);
        assert_eq!(String::from_utf8(b).unwrap(), "/default/hello.json");
        assert_eq!(r.body(), br#"{"n":3}"#);
    }

    #[test]
    fn responses() {
        let r = classify(200, Some("a1"), b"{}");
        assert_eq!(
            (r.outcome, r.activation_id.as_deref()),
            (Outcome::Success, Some("a1"))
        );
        assert_eq!(classify(202, Some("a1"), b"").outcome, Outcome::Accepted);
        let r = classify(
            401,
            None,
            br#"{"error":"The resource requires authentication, which was not supplied with the request","code":"x"}"#,
        );
        assert_eq!(r.outcome, Outcome::HttpError);
        assert!(r.error.unwrap().starts_with("The resource requires"));
        assert_eq!(classify(429, None, b"").outcome, Outcome::Throttled);
    }
}
