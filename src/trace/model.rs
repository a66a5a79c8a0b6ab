//! The trace model: what a trace declares (functions, users) and the invocations it yields.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The exec kind of gale's synthetic action: burns `cpu_ms`, touches `mem_mb`, sleeps `sleep_ms`.
pub const SYNTHETIC_KIND: &str = "gale:synthetic";

/// The kind of a function that chains others (OpenWhisk's `exec.kind: sequence`).
pub const SEQUENCE_KIND: &str = "sequence";

/// The kind of a trace entry that is a trigger, not an action: rows fire it.
pub const TRIGGER_KIND: &str = "trigger";

/// How to deploy one function (an OpenWhisk action) on a platform gale manages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionSpec {
    /// Action name (may contain a package: `pkg/name`).
    pub name: String,
    /// OpenWhisk exec kind, e.g. `gale:synthetic` (the default) or `python:3`.
    #[serde(default = "default_kind")]
    pub kind: String,
    /// Inline action code, for kinds that run code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// A file holding the code, relative to the trace file; read into `code` when the trace
    /// is opened (so this is `None` afterwards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_file: Option<std::path::PathBuf>,
    /// Action memory limit in MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
    /// Action time limit in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u32>,
    /// Default parameters of the action; an invocation's parameters override them.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Whether gale deploys the action before the run (false: it must already exist).
    #[serde(default = "yes")]
    pub deploy: bool,
    /// Blocking invocations for this function; `None` takes the trace default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocking: Option<bool>,
    /// Deploy it as a web action and invoke it through its web URL (`web: true` or a
    /// mapping); `None`: through the actions API.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::entity::web_field"
    )]
    pub web: Option<WebSpec>,
    /// `kind: sequence`: the functions of the trace it chains, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
    /// `kind: trigger`: the rules that start actions when rows fire it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleSpec>,
}

fn default_kind() -> String {
    SYNTHETIC_KIND.to_string()
}

fn yes() -> bool {
    true
}

impl FunctionSpec {
    /// A synthetic function with no default parameters (a no-op until invoked with some).
    pub fn synthetic(name: &str) -> Self {
        FunctionSpec {
            name: name.to_string(),
            kind: default_kind(),
            code: None,
            code_file: None,
            memory_mb: None,
            timeout_ms: None,
            params: serde_json::Map::new(),
            deploy: true,
            blocking: None,
            web: None,
            components: Vec::new(),
            rules: Vec::new(),
        }
    }

    /// `kind: sequence`.
    pub fn is_sequence(&self) -> bool {
        self.kind == SEQUENCE_KIND
    }

    /// `kind: trigger`: rows fire it rather than invoke it.
    pub fn is_trigger(&self) -> bool {
        self.kind == TRIGGER_KIND
    }

    /// The package part of `pkg/name`.
    pub fn package(&self) -> Option<&str> {
        self.name.split_once('/').map(|(p, _)| p)
    }
}

/// How rows request a web action: `/api/v1/web/{namespace}/{package}/{action}.{extension}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebSpec {
    /// HTTP method; GET sends the row's parameters as the query string, the others as a
    /// JSON body.
    #[serde(default)]
    pub method: WebMethod,
    /// The URL's extension, which says how the platform turns the result into a response.
    #[serde(default)]
    pub extension: WebExtension,
    /// OpenWhisk's `require-whisk-auth` annotation: `true` (requests carry the user's key)
    /// or a secret (requests carry it in `X-Require-Whisk-Auth`); absent: no credentials.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "super::entity::auth_field"
    )]
    pub require_whisk_auth: Option<WebAuth>,
}

/// The HTTP method of a web action request (read in any case).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum WebMethod {
    /// Parameters in the query string (every value arrives as a string).
    Get,
    /// Parameters as a JSON body (types kept).
    #[default]
    Post,
    /// As POST.
    Put,
    /// As POST.
    Delete,
    /// As POST.
    Patch,
}

impl WebMethod {
    /// Every method, in the order errors list them.
    pub const ALL: [WebMethod; 5] = [
        WebMethod::Get,
        WebMethod::Post,
        WebMethod::Put,
        WebMethod::Delete,
        WebMethod::Patch,
    ];

    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            WebMethod::Get => "GET",
            WebMethod::Post => "POST",
            WebMethod::Put => "PUT",
            WebMethod::Delete => "DELETE",
            WebMethod::Patch => "PATCH",
        }
    }
}

/// A web action URL's extension (OpenWhisk's content extensions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebExtension {
    /// The result as JSON (an object or array).
    #[default]
    Json,
    /// The result is `{statusCode, headers, body}`.
    Http,
    /// The result's `text` property as text/plain.
    Text,
    /// The result's `html` property as text/html.
    Html,
    /// The result's `svg` property as image/svg+xml.
    Svg,
}

impl WebExtension {
    /// The extension as written in the URL, without the dot.
    pub fn as_str(self) -> &'static str {
        match self {
            WebExtension::Json => "json",
            WebExtension::Http => "http",
            WebExtension::Text => "text",
            WebExtension::Html => "html",
            WebExtension::Svg => "svg",
        }
    }
}

/// What a web action requires of its callers (`require-whisk-auth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebAuth {
    /// A valid key (basic auth): the user's.
    Key,
    /// This secret in the `X-Require-Whisk-Auth` header.
    Secret(String),
}

impl Serialize for WebAuth {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            WebAuth::Key => s.serialize_bool(true),
            WebAuth::Secret(secret) => s.serialize_str(secret),
        }
    }
}

/// A rule of a trigger: when the trigger fires, the rule (if active) starts its action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleSpec {
    /// Rule name; default `TRIGGER-ACTION` (`/` in the action written `-`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A function of the trace (not a trigger).
    pub action: String,
    /// Deployed active (true) or inactive: an inactive rule starts nothing.
    #[serde(skip_serializing_if = "is_true")]
    pub active: bool,
}

fn is_true(b: &bool) -> bool {
    *b
}

impl RuleSpec {
    /// The rule's name on the platform.
    pub fn name_for(&self, trigger: &str) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => format!("{trigger}-{}", self.action.replace('/', "-")),
        }
    }
}

/// A package the trace's functions live in, with its default parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageSpec {
    /// Package name (no `/`).
    pub name: String,
    /// Default parameters of every action in it, under the action's own.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub params: serde_json::Map<String, serde_json::Value>,
}

/// A user (tenant) of the trace. On the embedded platform each user gets its own namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    /// Name used in records and, by default, as the namespace.
    pub name: String,
    /// OpenWhisk namespace (defaults to `_`, the auth key's own namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `UUID:KEY` for this user; when absent the run's key is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
}

/// Everything a trace declares before its invocations.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TraceHeader {
    /// Functions the trace uses. Empty means "not declared": names seen in rows are accepted
    /// and deployed as synthetic functions on the embedded platform.
    pub functions: Vec<FunctionSpec>,
    /// Users the trace declares (may be empty; users seen in rows are then accepted as labels).
    pub users: Vec<UserSpec>,
    /// Packages the trace declares (with their parameters); packages that functions name
    /// without declaring them are created empty.
    pub packages: Vec<PackageSpec>,
    /// Default for `blocking` when neither the function nor the row says.
    pub blocking: bool,
    /// Seed used to expand arrival specifications.
    pub seed: u64,
    /// Human-readable description of the sources (for run.yaml and summaries).
    pub sources: Vec<String>,
}

/// One invocation to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation {
    /// Row id: position in the merged, time-ordered trace (0-based).
    pub row: u64,
    /// Scheduled instant, nanoseconds after the start of the run.
    pub at_ns: u64,
    /// Function (action) name.
    pub function: Arc<str>,
    /// User / tenant label.
    pub user: Arc<str>,
    /// Request body: a JSON object's text (`None` sends `{}`).
    pub params: Option<Box<str>>,
    /// Per-row override of blocking mode.
    pub blocking: Option<bool>,
}

/// A stream of invocations in non-decreasing `at_ns` order.
pub type Rows = Box<dyn Iterator<Item = Result<Invocation, super::TraceError>> + Send>;

/// An opened trace: its header plus a lazy stream of rows.
pub struct Trace {
    /// What the trace declares.
    pub header: TraceHeader,
    /// The invocations, read lazily (never all in memory).
    pub rows: Rows,
}
