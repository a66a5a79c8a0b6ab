//! Templates of the generic HTTP target: a URL, header values and a body with `${function}`,
//! `${params}` and `${params.NAME}` placeholders, parsed once and rendered per invocation
//! straight into the request buffer.
//!
//! `${…}` rather than `{…}`: bodies are usually JSON, whose braces would otherwise all need
//! escaping. `$$` is a literal `$`.

use std::fmt;

/// Where a template is used: how a value is written into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// URL path and query: values percent-encoded (`${function}` keeps its `/`).
    Url,
    /// A header value: values as text (strings without quotes), line breaks as spaces.
    Header,
    /// The request body: `${params.NAME}` as JSON (strings quoted), `${function}` as text.
    Body,
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Function,
    Params,
    Param(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// A template that does not parse: what is wrong, at which byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TemplateError {}

impl Template {
    /// Parse `text`.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(i) = rest.find('$') {
            lit.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(r) = after.strip_prefix('$') {
                lit.push('$');
                rest = r;
            } else if let Some(r) = after.strip_prefix('{') {
                let end = r
                    .find('}')
                    .ok_or_else(|| TemplateError(format!("`${{` without its `}}` in `{text}`")))?;
                let name = r[..end].trim();
                let part = match name {
                    "function" => Part::Function,
                    "params" => Part::Params,
                    _ => match name.strip_prefix("params.") {
                        Some(p) if !p.is_empty() => Part::Param(p.to_string()),
                        _ => {
                            return Err(TemplateError(format!(
                                "unknown placeholder `${{{name}}}` in `{text}`: expected \
                                 ${{function}}, ${{params}} or ${{params.NAME}} ($$ for a `$`)"
                            )))
                        }
                    },
                };
                if !lit.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut lit)));
                }
                parts.push(part);
                rest = &r[end + 1..];
            } else {
                lit.push('$');
                rest = after;
            }
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        Ok(Template { parts })
    }

    /// Whether rendering needs the parameters parsed (a `${params.NAME}`).
    pub fn uses_param_fields(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Param(_)))
    }

    /// Whether it has placeholders other than `${function}`.
    pub fn uses_params(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Params | Part::Param(_)))
    }

    /// Whether it is exactly `${params}`: the parameters' text is the whole output.
    pub fn is_params(&self) -> bool {
        self.parts == [Part::Params]
    }

    /// The template with `${function}` replaced by `function` (written as `context` wants),
    /// the rest kept: a per-function template resolved once.
    pub fn with_function(&self, function: &str, context: Context) -> Template {
        let mut parts: Vec<Part> = Vec::with_capacity(self.parts.len());
        for p in &self.parts {
            let text = match p {
                Part::Function => {
                    let mut b = Vec::new();
                    write_function(&mut b, function, context);
                    String::from_utf8_lossy(&b).into_owned()
                }
                Part::Text(t) => t.clone(),
                other => {
                    parts.push(other.clone());
                    continue;
                }
            };
            match parts.last_mut() {
                Some(Part::Text(t)) => t.push_str(&text),
                _ => parts.push(Part::Text(text)),
            }
        }
        Template { parts }
    }

    /// Split a URL template (after [`with_function`]) into its origin,
    /// `scheme://host[:port]`, which must be literal (one connection pool serves it), and the
    /// path-and-query template (`/` when the URL has none).
    ///
    /// [`with_function`]: Template::with_function
    pub fn split_origin(&self) -> Result<(String, Template), TemplateError> {
        let first = match self.parts.first() {
            Some(Part::Text(t)) => t.as_str(),
            _ => "",
        };
        let Some(scheme_end) = first.find("://") else {
            return Err(TemplateError(format!(
                "`{}` does not start with http:// or https://",
                self.source_hint()
            )));
        };
        let after = scheme_end + 3;
        let path_at = first[after..].find(['/', '?']).map(|i| after + i);
        let (origin, mut rest) = match path_at {
            Some(i) => (first[..i].to_string(), first[i..].to_string()),
            None if self.parts.len() == 1 => (first.to_string(), "/".to_string()),
            None => {
                return Err(TemplateError(format!(
                    "`{}`: the host cannot hold ${{params}} placeholders (only ${{function}})",
                    self.source_hint()
                )))
            }
        };
        if rest.starts_with('?') {
            rest.insert(0, '/');
        }
        let mut parts = vec![Part::Text(rest)];
        parts.extend(self.parts.iter().skip(1).cloned());
        Ok((origin, Template { parts }))
    }

    /// The template's text, placeholders shown as written, for messages.
    fn source_hint(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.clone(),
                Part::Function => "${function}".into(),
                Part::Params => "${params}".into(),
                Part::Param(n) => format!("${{params.{n}}}"),
            })
            .collect()
    }

    /// The text of a template without parameter placeholders (after [`with_function`]).
    ///
    /// [`with_function`]: Template::with_function
    pub fn literal(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                _ => return None,
            }
        }
        Some(out)
    }

    /// Append the rendering for `function` with parameters `params` (a JSON object's text;
    /// `fields`: the same, parsed, when [`uses_param_fields`]). A missing parameter is
    /// `null` in a body and empty elsewhere.
    ///
    /// [`uses_param_fields`]: Template::uses_param_fields
    pub fn render(
        &self,
        out: &mut Vec<u8>,
        context: Context,
        function: &str,
        params: &str,
        fields: Option<&serde_json::Map<String, serde_json::Value>>,
    ) {
        for p in &self.parts {
            match p {
                Part::Text(t) => out.extend_from_slice(t.as_bytes()),
                Part::Function => write_function(out, function, context),
                Part::Params => match context {
                    Context::Url => percent_encode(out, params.as_bytes(), false),
                    Context::Header => write_header_text(out, params),
                    Context::Body => out.extend_from_slice(params.as_bytes()),
                },
                Part::Param(name) => {
                    let value = fields.and_then(|m| m.get(name));
                    match (context, value) {
                        (Context::Body, None) => out.extend_from_slice(b"null"),
                        (Context::Body, Some(v)) => {
                            // Serialising a Value into a Vec cannot fail.
                            let _ = serde_json::to_writer(&mut *out, v);
                        }
                        (_, None) => {}
                        (Context::Url, Some(v)) => {
                            percent_encode(out, value_text(v).as_bytes(), false)
                        }
                        (Context::Header, Some(v)) => write_header_text(out, &value_text(v)),
                    }
                }
            }
        }
    }
}

/// A value as text: a string without its quotes, anything else as JSON.
fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn write_function(out: &mut Vec<u8>, function: &str, context: Context) {
    match context {
        Context::Url => percent_encode(out, function.as_bytes(), true),
        Context::Header => write_header_text(out, function),
        Context::Body => out.extend_from_slice(function.as_bytes()),
    }
}

/// A header value cannot hold a line break (it would start another header).
fn write_header_text(out: &mut Vec<u8>, text: &str) {
    out.extend(
        text.bytes()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
}

/// RFC 3986 unreserved characters stay, the rest is `%XX`; `/` stays when `keep_slash`.
fn percent_encode(out: &mut Vec<u8>, bytes: &[u8], keep_slash: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &str, context: Context, params: &str) -> String {
        let t = Template::parse(t).unwrap();
        let fields: Option<serde_json::Map<String, serde_json::Value>> =
            serde_json::from_str(params).ok();
        let mut out = Vec::new();
        t.render(&mut out, context, "pkg/fib", params, fields.as_ref());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn placeholders_render_per_context() {
        let p = r#"{"n":30,"name":"a b/c","deep":{"x":[1]}}"#;
        assert_eq!(
            render(
                "/function/${function}?n=${params.n}&s=${params.name}",
                Context::Url,
                p
            ),
            "/function/pkg/fib?n=30&s=a%20b%2Fc"
        );
        assert_eq!(
            render(
                r#"{"n": ${params.n}, "s": ${params.name}, "d": ${params.deep}, "m": ${params.missing}}"#,
                Context::Body,
                p
            ),
            r#"{"n": 30, "s": "a b/c", "d": {"x":[1]}, "m": null}"#
        );
        assert_eq!(render("${params}", Context::Body, p), p);
        assert_eq!(
            render("${function}.default.example.com", Context::Header, p),
            "pkg/fib.default.example.com"
        );
        assert_eq!(render("x${params.missing}y", Context::Header, p), "xy");
        assert_eq!(render("cost: $$5 $x", Context::Body, p), "cost: $5 $x");
        assert_eq!(
            render("${params.name}", Context::Header, r#"{"name":"a\r\nX: y"}"#),
            "a  X: y"
        );
    }

    #[test]
    fn bad_templates_say_what_was_expected() {
        let e = Template::parse("/f/${fn}").unwrap_err().to_string();
        assert!(
            e.contains("unknown placeholder `${fn}`") && e.contains("${params.NAME}"),
            "{e}"
        );
        assert!(Template::parse("/f/${function")
            .unwrap_err()
            .0
            .contains("without its"));
        assert!(Template::parse("${params.}").is_err());
    }

    #[test]
    fn a_function_is_resolved_once() {
        let t = Template::parse("http://${function}.ns.example/${params.n}").unwrap();
        let r = t.with_function("fib", Context::Url);
        assert_eq!(r.literal(), None);
        assert!(r.uses_param_fields());
        let t = Template::parse("http://${function}.ns.example:8080").unwrap();
        assert_eq!(
            t.with_function("fib", Context::Url).literal().as_deref(),
            Some("http://fib.ns.example:8080")
        );
        assert!(Template::parse("${params}").unwrap().is_params());
    }

    #[test]
    fn urls_split_into_a_literal_origin_and_a_path() {
        let split = |t: &str| {
            Template::parse(t)
                .unwrap()
                .with_function("fib", Context::Url)
                .split_origin()
        };
        let (o, rest) = split("http://gw:8080/function/${function}?n=${params.n}").unwrap();
        assert_eq!(o, "http://gw:8080");
        let mut b = Vec::new();
        rest.render(
            &mut b,
            Context::Url,
            "fib",
            "{}",
            Some(&serde_json::Map::new()),
        );
        assert_eq!(b, b"/function/fib?n=");
        let (o, rest) = split("https://${function}.lambda-url.example").unwrap();
        assert_eq!(
            (o.as_str(), rest.literal().as_deref()),
            ("https://fib.lambda-url.example", Some("/"))
        );
        let (_, rest) = split("http://h?x=1").unwrap();
        assert_eq!(rest.literal().as_deref(), Some("/?x=1"));
        assert!(split("http://h${params.n}").unwrap_err().0.contains("host"));
        assert!(split("ftp-ish/${function}").is_err());
    }
}
