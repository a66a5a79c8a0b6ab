//! The generic HTTP target file (`gale inject --target FILE`): how to call each function as
//! a plain HTTP request (Knative services, OpenFaaS's `/function/NAME`, Lambda function
//! URLs, any web service). docs/injector.md documents every field.
//!
//! ```yaml
//! kind: http
//! url: http://127.0.0.1:8080/function/${function}
//! method: POST
//! headers: {Content-Type: application/json}
//! body: ${params}
//! functions:
//!   resize: {url: "http://10.0.0.5/resize?width=${params.width}", method: GET, body: ""}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

use super::ConfigError;
use crate::backend::template::{Context, Template};
use crate::trace::input::Input;
use crate::trace::yaml_de::from_saphyr;
use crate::trace::TraceError;

/// The request of one function, as templates (checked when the file was read).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpRoute {
    /// `http(s)://host[:port]/path?query`, with `${function}` and, past the host,
    /// `${params…}` placeholders.
    pub url: String,
    /// HTTP method.
    pub method: String,
    /// Header name → value template, in order (credentials redacted in run.yaml).
    #[serde(serialize_with = "redacted")]
    pub headers: Vec<(String, String)>,
    /// Body template.
    pub body: String,
}

/// Headers as a mapping, with the values of those that carry credentials
/// (`Authorization`, cookies, anything named like a key, token or secret) redacted: a
/// target's run.yaml, like an OpenWhisk run's, never holds a key.
fn redacted<S: serde::Serializer>(headers: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(Some(headers.len()))?;
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        let secret = ["authorization", "cookie", "key", "token", "secret", "auth"]
            .iter()
            .any(|w| lower.contains(w));
        map.serialize_entry(name, if secret { "<redacted>" } else { value.as_str() })?;
    }
    map.end()
}

/// A generic HTTP target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpTarget {
    /// The file it was read from.
    pub file: PathBuf,
    /// The request of every function not listed in `functions` (none: only listed
    /// functions can be invoked).
    pub default: Option<HttpRoute>,
    /// Per-function requests.
    pub functions: BTreeMap<String, HttpRoute>,
    /// Accept invalid TLS certificates.
    pub insecure: bool,
}

impl HttpTarget {
    /// The request of `function`, if the file gives one.
    pub fn route(&self, function: &str) -> Option<&HttpRoute> {
        self.functions.get(function).or(self.default.as_ref())
    }
}

/// A template string, checked as it is read (so an error has its line).
#[derive(Debug, Clone)]
struct Checked(String);

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Template::parse(&s).map_err(serde::de::Error::custom)?;
        Ok(Checked(s))
    }
}

/// A URL template: parses, and its host is literal once `${function}` is known.
#[derive(Debug, Clone)]
struct Url(String);

impl<'de> Deserialize<'de> for Url {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let t = Template::parse(&s).map_err(serde::de::Error::custom)?;
        let (origin, _) = t
            .with_function("f", Context::Url)
            .split_origin()
            .map_err(serde::de::Error::custom)?;
        if !(origin.starts_with("http://") || origin.starts_with("https://")) {
            return Err(serde::de::Error::custom(format!(
                "`{s}`: expected an http:// or https:// URL"
            )));
        }
        Ok(Url(s))
    }
}

/// An HTTP method token.
#[derive(Debug, Clone)]
struct Method(String);

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(serde::de::Error::custom(format!(
                "`{s}` is not an HTTP method (GET, POST, PUT…)"
            )));
        }
        Ok(Method(s.to_ascii_uppercase()))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    kind: Kind,
    url: Option<Url>,
    method: Option<Method>,
    #[serde(default)]
    headers: BTreeMap<String, Checked>,
    body: Option<Checked>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    functions: BTreeMap<String, Function>,
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Http,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Function {
    url: Option<Url>,
    method: Option<Method>,
    #[serde(default)]
    headers: BTreeMap<String, Checked>,
    body: Option<Checked>,
}

/// Read a target file.
pub fn load(path: &Path) -> Result<HttpTarget, ConfigError> {
    let err = |line: Option<u64>, message: String| ConfigError {
        file: Some(path.to_path_buf()),
        line,
        message,
    };
    let input = Input::File(path.to_path_buf());
    let located = |e: TraceError| {
        let message = match &e.field {
            Some(field) => format!("field `{field}`: {}", e.message),
            None => e.message,
        };
        err(e.line, message)
    };
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    let reader = input.open().map_err(located)?;
    let file: File = serde_saphyr::from_reader_with_options(reader, options)
        .map_err(|e| located(from_saphyr(&input, &e)))?;
    let Kind::Http = file.kind;
    for name in file
        .headers
        .keys()
        .chain(file.functions.values().flat_map(|f| f.headers.keys()))
    {
        check_header_name(name).map_err(|m| err(None, m))?;
    }
    let method = file.method.map_or_else(|| "POST".to_string(), |m| m.0);
    let headers: Vec<(String, String)> = file.headers.into_iter().map(|(k, v)| (k, v.0)).collect();
    let body = file.body.map_or_else(|| "${params}".to_string(), |b| b.0);
    let default = file.url.map(|url| HttpRoute {
        url: url.0,
        method: method.clone(),
        headers: headers.clone(),
        body: body.clone(),
    });
    let mut functions = BTreeMap::new();
    for (name, f) in file.functions {
        let url = match (f.url, &default) {
            (Some(u), _) => u.0,
            (None, Some(d)) => d.url.clone(),
            (None, None) => {
                return Err(err(
                    None,
                    format!(
                        "functions: `{name}` has no `url`, and there is no top-level `url` to \
                         fall back on"
                    ),
                ))
            }
        };
        // A function's headers are added to the top-level ones, replacing same names.
        let mut merged = headers.clone();
        for (k, v) in f.headers {
            merged.retain(|(h, _)| !h.eq_ignore_ascii_case(&k));
            merged.push((k, v.0));
        }
        functions.insert(
            name,
            HttpRoute {
                url,
                method: f.method.map_or_else(|| method.clone(), |m| m.0),
                headers: merged,
                body: f.body.map_or_else(|| body.clone(), |b| b.0),
            },
        );
    }
    if default.is_none() && functions.is_empty() {
        return Err(err(
            None,
            "no `url`: give a top-level `url` template, or a `url` per entry of `functions`".into(),
        ));
    }
    Ok(HttpTarget {
        file: path.to_path_buf(),
        default,
        functions,
        insecure: file.insecure,
    })
}

/// A header name gale can send: an HTTP token, and not one gale writes itself.
fn check_header_name(name: &str) -> Result<(), String> {
    let token = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if !token {
        return Err(format!("headers: `{name}` is not a valid header name"));
    }
    if ["content-length", "transfer-encoding", "connection"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
    {
        return Err(format!(
            "headers: `{name}` is written by gale itself (requests are HTTP/1.1 keep-alive \
             with a Content-Length)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<HttpTarget, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.yml");
        std::fs::write(&p, text).unwrap();
        load(&p)
    }

    #[test]
    fn defaults_and_overrides() {
        let t = load_text(
            "kind: http\nurl: http://gw:8080/function/${function}\nheaders: {X-A: a, Host: gw}\n\
             functions:\n  fib:\n    method: get\n    headers: {host: fib.example}\n    body: ''\n",
        )
        .unwrap();
        let d = t.route("other").unwrap();
        assert_eq!((d.method.as_str(), d.body.as_str()), ("POST", "${params}"));
        let f = t.route("fib").unwrap();
        assert_eq!(f.method, "GET");
        assert_eq!(f.url, "http://gw:8080/function/${function}");
        assert_eq!(
            f.headers,
            [
                ("X-A".to_string(), "a".to_string()),
                ("host".into(), "fib.example".into())
            ]
        );
        assert_eq!(f.body, "");
    }

    #[test]
    fn errors_name_the_line_and_field() {
        let e = load_text("kind: http\nurl: http://gw/${fn}\n").unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("unknown placeholder"), "{e}");
        let e = load_text("kind: http\nurl: http://gw/\nmethod: 'PO ST'\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e = load_text("kind: lambda\nurl: http://gw/\n").unwrap_err();
        assert_eq!(e.line, Some(1), "{e}");
        let e = load_text("kind: http\nurl: http://gw/\ncolour: red\n").unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        let e = load_text("kind: http\nurl: http://gw${params.x}/\n").unwrap_err();
        assert!(e.message.contains("host"), "{e}");
        let e = load_text("kind: http\nfunctions: {f: {method: GET}}\n").unwrap_err();
        assert!(e.message.contains("no `url`"), "{e}");
        let e =
            load_text("kind: http\nurl: http://gw/\nheaders: {Content-Length: '3'}\n").unwrap_err();
        assert!(e.message.contains("written by gale"), "{e}");
    }
}
