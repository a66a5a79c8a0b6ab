//! Action entities: the PUT body, validation with OpenWhisk's messages, create/update
//! merging, and the JSON shapes of GET, list and DELETE.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::runtime;

/// `limits` of an action, with OpenWhisk's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ActionLimits {
    /// Time limit, ms.
    pub timeout: u64,
    /// Memory limit, MB.
    pub memory: u32,
    /// Log limit, MB.
    pub logs: u32,
    /// Activations per container at once.
    pub concurrency: u32,
}

impl Default for ActionLimits {
    fn default() -> Self {
        ActionLimits {
            timeout: 60_000,
            memory: 256,
            logs: 10,
            concurrency: 1,
        }
    }
}

/// Bounds of `limits` (OpenWhisk's deployed defaults).
pub mod bounds {
    /// ms
    pub const TIMEOUT: (i64, i64) = (100, 300_000);
    /// MB
    pub const MEMORY: (i64, i64) = (128, 512);
    /// MB
    pub const LOGS: (i64, i64) = (0, 10);
    /// activations per container (OpenWhisk's ansible `local` environment allows 500; only
    /// kinds that run activations concurrently go above 1, see
    /// [`crate::platform::runtime::runs_concurrently`])
    pub const CONCURRENCY: (i64, i64) = (1, 500);
}

/// `exec` of an action.
#[derive(Debug, Clone, PartialEq)]
pub struct Exec {
    /// Runtime kind, resolved (`gale:default` → `gale:synthetic`).
    pub kind: Arc<str>,
    /// Code, if any was given (the synthetic kind needs none).
    pub code: Option<String>,
    /// Whether `code` is base64.
    pub binary: bool,
    /// Entry point name, if given.
    pub main: Option<String>,
    /// The fully qualified actions (`/ns/[pkg/]name`) of a `sequence`; empty otherwise.
    pub components: Vec<Arc<str>>,
    /// The executable a `blackbox` action runs (an absolute path).
    pub image: Option<Arc<str>>,
}

/// The kind of a sequence action: run by the platform itself, never in a container.
pub const SEQUENCE: &str = "sequence";

/// OpenWhisk's limit on the actions one sequence may run (nested ones counted).
pub const MAX_SEQUENCE_LENGTH: usize = 50;

/// One `{"key":…, "value":…}` parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Param {
    /// Name.
    pub key: String,
    /// Value.
    pub value: Value,
    /// Init-time parameter (OpenWhisk passes these as environment, not in `value`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub init: bool,
}

/// An annotation: same shape as a parameter, without `init`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Annotation {
    /// Name.
    pub key: String,
    /// Value.
    pub value: Value,
}

/// A stored action (one revision of it).
#[derive(Debug)]
pub struct Action {
    /// Resolved namespace.
    pub namespace: Arc<str>,
    /// Action name.
    pub name: Arc<str>,
    /// Semantic version, patch-bumped on update.
    pub version: Arc<str>,
    /// `publish` flag (stored and echoed, without effect).
    pub publish: bool,
    /// Runtime and code.
    pub exec: Exec,
    /// Default parameters.
    pub parameters: Vec<Param>,
    /// Limits.
    pub limits: ActionLimits,
    /// Annotations.
    pub annotations: Vec<Annotation>,
    /// Last update, epoch ms.
    pub updated: u64,
    /// Unique revision number: containers are bound to one revision.
    pub rev: u64,
    /// `ns/name`, as the `path` annotation and `__OW_ACTION_NAME` (with a leading slash) use.
    pub path: Arc<str>,
    /// Run parameters (non-init defaults), merged under each invocation's.
    pub defaults: Map<String, Value>,
    /// Whether bound parameters are `final` (cannot be redefined by an invocation).
    pub final_params: bool,
    /// The init step, for kinds that run code; shared by every cold start of this revision.
    pub init: Option<Arc<runtime::InitBody>>,
}

/// The PUT body; every field optional, unknown fields ignored as OpenWhisk does.
#[derive(Debug, Default, Deserialize)]
pub struct ActionPut {
    exec: Option<ExecPut>,
    parameters: Option<Vec<Param>>,
    limits: Option<LimitsPut>,
    version: Option<String>,
    publish: Option<bool>,
    annotations: Option<Vec<Annotation>>,
    #[serde(rename = "delAnnotations")]
    del_annotations: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
struct ExecPut {
    kind: String,
    code: Option<String>,
    binary: Option<bool>,
    main: Option<String>,
    components: Option<Vec<String>>,
    image: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct LimitsPut {
    timeout: Option<i64>,
    memory: Option<i64>,
    logs: Option<i64>,
    concurrency: Option<i64>,
}

/// A rejected PUT: status 400 with this message (or 413 when `too_large`).
#[derive(Debug)]
pub struct PutError(pub String);

static REVISIONS: AtomicU64 = AtomicU64::new(1);

/// Whether `name` is a valid OpenWhisk entity name (one rule, kept with the traces that
/// name actions too).
pub fn valid_name(name: &str) -> bool {
    crate::trace::catalog::valid_entity_name(name)
}

impl ActionPut {
    /// Parse a PUT body (empty = `{}`).
    pub fn parse(body: &[u8]) -> Result<ActionPut, PutError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(ActionPut::default());
        }
        serde_json::from_slice(body)
            .map_err(|e| PutError(format!("The request content was malformed:\n{e}")))
    }

    /// The components this body gives a sequence, as written (`None` when it defines no
    /// sequence).
    pub fn sequence_components(&self) -> Option<&[String]> {
        self.exec
            .as_ref()
            .filter(|e| e.kind.eq_ignore_ascii_case(SEQUENCE))
            .map(|e| e.components.as_deref().unwrap_or_default())
    }

    /// A new action from this body.
    pub fn create(self, namespace: &Arc<str>, name: &str, now_ms: u64) -> Result<Action, PutError> {
        let exec = match &self.exec {
            Some(e) => resolve_exec(e, root_namespace(namespace))?,
            None => return Err(PutError("exec undefined".into())),
        };
        let limits = merge_limits(ActionLimits::default(), self.limits.as_ref())?;
        check_concurrency(&exec, &limits)?;
        let mut annotations = vec![Annotation {
            key: "provide-api-key".into(),
            value: Value::Bool(false),
        }];
        merge_annotations(&mut annotations, self.annotations.unwrap_or_default(), &[]);
        set_exec_annotation(&mut annotations, &exec.kind);
        Ok(build(
            namespace,
            name,
            self.version.unwrap_or_else(|| "0.0.1".into()),
            self.publish.unwrap_or(false),
            exec,
            self.parameters.unwrap_or_default(),
            limits,
            annotations,
            now_ms,
        ))
    }

    /// The next revision of `old`, merged field by field as OpenWhisk's update does.
    pub fn update(self, old: &Action, now_ms: u64) -> Result<Action, PutError> {
        let exec = match &self.exec {
            Some(e) => resolve_exec(e, root_namespace(&old.namespace))?,
            None => old.exec.clone(),
        };
        let limits = merge_limits(old.limits, self.limits.as_ref())?;
        check_concurrency(&exec, &limits)?;
        let mut annotations = old.annotations.clone();
        merge_annotations(
            &mut annotations,
            self.annotations.unwrap_or_default(),
            &self.del_annotations.unwrap_or_default(),
        );
        set_exec_annotation(&mut annotations, &exec.kind);
        Ok(build(
            &old.namespace,
            &old.name,
            self.version.unwrap_or_else(|| bump_patch(&old.version)),
            self.publish.unwrap_or(old.publish),
            exec,
            self.parameters.unwrap_or_else(|| old.parameters.clone()),
            limits,
            annotations,
            now_ms,
        ))
    }
}

#[allow(clippy::too_many_arguments)]
fn build(
    namespace: &Arc<str>,
    name: &str,
    version: String,
    publish: bool,
    exec: Exec,
    parameters: Vec<Param>,
    limits: ActionLimits,
    annotations: Vec<Annotation>,
    updated: u64,
) -> Action {
    let defaults = parameters
        .iter()
        .filter(|p| !p.init)
        .map(|p| (p.key.clone(), p.value.clone()))
        .collect();
    let final_params = annotations
        .iter()
        .any(|a| a.key == "final" && truthy(&a.value));
    let init = runtime::runs_code(&exec.kind).then(|| {
        Arc::new(runtime::InitBody {
            name: format!("/{namespace}/{name}"),
            main: exec.main.clone().unwrap_or_default(),
            code: exec.code.clone().unwrap_or_default(),
            binary: exec.binary,
            env: parameters
                .iter()
                .filter(|p| p.init)
                .map(|p| (p.key.clone(), env_value(&p.value)))
                .collect(),
            concurrency: limits.concurrency,
        })
    });
    Action {
        namespace: namespace.clone(),
        name: name.into(),
        version: version.into(),
        publish,
        exec,
        parameters,
        limits,
        annotations,
        updated,
        rev: REVISIONS.fetch_add(1, Ordering::Relaxed),
        path: format!("{namespace}/{name}").into(),
        defaults,
        final_params,
        init,
    }
}

impl Action {
    /// The init parameters as environment variables (`"init": true` parameters), stringified
    /// as OpenWhisk's `/init` `env` does.
    pub fn init_env(&self) -> Vec<(String, String)> {
        self.parameters
            .iter()
            .filter(|p| p.init)
            .map(|p| (p.key.clone(), env_value(&p.value)))
            .collect()
    }
}

/// An init parameter as an environment value, as OpenWhisk stringifies it: strings as they
/// are, null as empty, anything else as compact JSON.
fn env_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The namespace part of an action's `namespace` (`guest` of `guest/pkg`).
fn root_namespace(namespace: &str) -> &str {
    namespace.split('/').next().unwrap_or(namespace)
}

/// Whether an annotation value turns its flag on (OpenWhisk: anything but null and false).
pub fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(false))
}

/// A sequence component as stored: `/ns/[pkg/]name`, `_` resolved to `namespace`.
fn sequence_component(name: &str, namespace: &str) -> Result<Arc<str>, PutError> {
    let bad = || {
        PutError(format!(
            "The sequence component '{name}' is not a fully qualified action name (/namespace/[package/]action)."
        ))
    };
    let parts: Vec<&str> = name.strip_prefix('/').ok_or_else(bad)?.split('/').collect();
    if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| valid_name(p)) {
        return Err(bad());
    }
    let ns = if parts[0] == "_" { namespace } else { parts[0] };
    Ok(format!("/{ns}/{}", parts[1..].join("/")).into())
}

fn resolve_exec(e: &ExecPut, namespace: &str) -> Result<Exec, PutError> {
    if e.kind.eq_ignore_ascii_case(SEQUENCE) {
        let components = e.components.as_deref().unwrap_or_default();
        if components.is_empty() {
            return Err(PutError(
                "The sequence must have at least one component.".into(),
            ));
        }
        if components.len() > MAX_SEQUENCE_LENGTH {
            return Err(PutError("Too many actions in the sequence.".into()));
        }
        return Ok(Exec {
            kind: SEQUENCE.into(),
            code: None,
            binary: false,
            main: None,
            components: components
                .iter()
                .map(|c| sequence_component(c, namespace))
                .collect::<Result<_, _>>()?,
            image: None,
        });
    }
    let Some(kind) = runtime::resolve_kind(&e.kind) else {
        let valid: Vec<String> = runtime::SUPPORTED_KINDS
            .iter()
            .map(|k| format!("'{k}'"))
            .collect();
        return Err(PutError(format!(
            "The specified runtime '{}' is not supported by this platform. Valid values are: {}.",
            e.kind,
            valid.join(", ")
        )));
    };
    let binary = e.binary.unwrap_or_else(|| {
        e.code
            .as_deref()
            .is_some_and(|c| !c.is_empty() && c.len() % 4 == 0 && looks_base64(c))
    });
    let image = if kind == runtime::blackbox::KIND {
        let Some(image) = e.image.as_deref() else {
            return Err(PutError(
                "blackbox actions need \"image\": the absolute path of an executable that speaks the ActionLoop protocol.".into(),
            ));
        };
        if e.code.as_deref().is_some_and(|c| !c.is_empty()) {
            return Err(PutError(
                "blackbox actions run the executable named by \"image\"; \"code\" is not supported.".into(),
            ));
        }
        runtime::blackbox::check_image(image).map_err(PutError)?;
        Some(image.into())
    } else {
        None
    };
    Ok(Exec {
        kind: kind.into(),
        code: e.code.clone(),
        binary,
        main: e.main.clone(),
        components: Vec::new(),
        image,
    })
}

/// Refuse `limits.concurrency` above 1 for a kind whose process runs one activation at a
/// time (OpenWhisk too allows it for Node.js only).
fn check_concurrency(exec: &Exec, limits: &ActionLimits) -> Result<(), PutError> {
    if limits.concurrency > 1 && !runtime::runs_concurrently(&exec.kind) {
        return Err(PutError(format!(
            "requirement failed: concurrency {} exceeds allowed threshold of 1 for kind '{}' (only '{}' runs activations concurrently)",
            limits.concurrency,
            exec.kind,
            runtime::nodejs::KIND
        )));
    }
    Ok(())
}

fn looks_base64(s: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).is_ok()
}

fn check(
    value: i64,
    (min, max): (i64, i64),
    what: impl Fn(i64) -> String,
    unit: &str,
) -> Result<(), PutError> {
    if value < min {
        return Err(PutError(format!(
            "requirement failed: {} below allowed threshold of {min}{unit}",
            what(value)
        )));
    }
    if value > max {
        return Err(PutError(format!(
            "requirement failed: {} exceeds allowed threshold of {max}{unit}",
            what(value)
        )));
    }
    Ok(())
}

fn merge_limits(base: ActionLimits, put: Option<&LimitsPut>) -> Result<ActionLimits, PutError> {
    let Some(put) = put else { return Ok(base) };
    let mut out = base;
    if let Some(t) = put.timeout {
        check(
            t,
            bounds::TIMEOUT,
            |v| format!("duration {v} milliseconds"),
            " milliseconds",
        )?;
        out.timeout = t as u64;
    }
    if let Some(m) = put.memory {
        check(m, bounds::MEMORY, |v| format!("memory size {v} MB"), " MB")?;
        out.memory = m as u32;
    }
    if let Some(l) = put.logs {
        check(l, bounds::LOGS, |v| format!("log size {v} MB"), " MB")?;
        out.logs = l as u32;
    }
    if let Some(c) = put.concurrency {
        check(c, bounds::CONCURRENCY, |v| format!("concurrency {v}"), "")?;
        out.concurrency = c as u32;
    }
    Ok(out)
}

/// Add `add` over `into` (same key replaced in place), then drop the keys in `delete`.
pub fn merge_annotations(into: &mut Vec<Annotation>, add: Vec<Annotation>, delete: &[String]) {
    for a in add {
        match into.iter_mut().find(|x| x.key == a.key) {
            Some(existing) => existing.value = a.value,
            None => into.push(a),
        }
    }
    into.retain(|a| !delete.contains(&a.key));
}

fn set_exec_annotation(into: &mut Vec<Annotation>, kind: &str) {
    merge_annotations(
        into,
        vec![Annotation {
            key: "exec".into(),
            value: Value::String(kind.into()),
        }],
        &[],
    );
}

/// `0.0.1` → `0.0.2`: the version of an updated entity.
/// The patch number is incremented as a decimal string, so no size of number wraps
/// (`1.2.18446744073709551615` → `1.2.18446744073709551616`, not `1.2.0`).
pub fn bump_patch(version: &str) -> String {
    let parts: Vec<&str> = version.split('.').collect();
    let numeric = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if parts.len() != 3 || !parts.iter().all(numeric) {
        return "0.0.1".into();
    }
    let mut patch = parts[2].as_bytes().to_vec();
    let mut i = patch.len();
    loop {
        if i == 0 {
            patch.insert(0, b'1');
            break;
        }
        i -= 1;
        if patch[i] == b'9' {
            patch[i] = b'0';
        } else {
            patch[i] += 1;
            break;
        }
    }
    let patch = String::from_utf8(patch).unwrap_or_else(|_| "1".into());
    format!("{}.{}.{patch}", parts[0], parts[1])
}

/// How much of an action to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Everything, code included.
    Full,
    /// Everything but `exec.code` (`?code=false`).
    NoCode,
    /// The list summary: no parameters, `exec` reduced to `{"binary":…}`.
    Summary,
}

/// An action rendered as JSON in one of the [`View`]s.
pub struct Rendered<'a>(pub &'a Action, pub View);

impl Serialize for Rendered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Rendered(a, view) = *self;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("namespace", &*a.namespace)?;
        m.serialize_entry("name", &*a.name)?;
        m.serialize_entry("version", &*a.version)?;
        m.serialize_entry("publish", &a.publish)?;
        m.serialize_entry("exec", &ExecView(&a.exec, view))?;
        m.serialize_entry("annotations", &a.annotations)?;
        if view != View::Summary {
            m.serialize_entry("parameters", &a.parameters)?;
        }
        m.serialize_entry("limits", &a.limits)?;
        m.serialize_entry("updated", &a.updated)?;
        m.end()
    }
}

struct ExecView<'a>(&'a Exec, View);

impl Serialize for ExecView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let ExecView(e, view) = *self;
        let mut m = s.serialize_map(None)?;
        if view != View::Summary {
            m.serialize_entry("kind", &*e.kind)?;
            if view == View::Full {
                if let Some(code) = &e.code {
                    m.serialize_entry("code", code)?;
                }
            }
            if let Some(main) = &e.main {
                m.serialize_entry("main", main)?;
            }
            if !e.components.is_empty() {
                m.serialize_entry("components", &e.components)?;
            }
            if let Some(image) = &e.image {
                m.serialize_entry("image", &**image)?;
            }
        }
        m.serialize_entry("binary", &e.binary)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(json: &str) -> ActionPut {
        ActionPut::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn names() {
        for ok in ["a", "hello", "a b", "x@y.z", "a-", "_x"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", " a", "a ", "a/b", "-a", &"a".repeat(257)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn create_update_merge() {
        let ns: Arc<str> = "guest".into();
        let a = put(r#"{"exec":{"kind":"gale:synthetic"},"parameters":[{"key":"cpu_ms","value":5}],"limits":{"memory":128}}"#)
            .create(&ns, "f", 1)
            .unwrap();
        assert_eq!(&*a.version, "0.0.1");
        assert_eq!(a.limits.memory, 128);
        assert_eq!(a.limits.timeout, 60_000);
        assert_eq!(a.annotations[0].key, "provide-api-key");
        assert!(a
            .annotations
            .iter()
            .any(|x| x.key == "exec" && x.value == "gale:synthetic"));
        let b = put(r#"{"limits":{"timeout":1000},"annotations":[{"key":"x","value":1}]}"#)
            .update(&a, 2)
            .unwrap();
        assert_eq!(&*b.version, "0.0.2");
        for (from, to) in [
            ("1.2.18446744073709551615", "1.2.18446744073709551616"),
            ("0.0.9", "0.0.10"),
            ("3.4.199", "3.4.200"),
            ("1.2", "0.0.1"),
            ("1.x.3", "0.0.1"),
        ] {
            assert_eq!(bump_patch(from), to, "{from}");
        }
        assert_eq!(b.limits.memory, 128);
        assert_eq!(b.limits.timeout, 1000);
        assert_eq!(b.parameters, a.parameters);
        assert_ne!(a.rev, b.rev);
        let c = put(r#"{"delAnnotations":["x"]}"#).update(&b, 3).unwrap();
        assert!(!c.annotations.iter().any(|x| x.key == "x"));
    }

    #[test]
    fn nodejs_kinds_and_concurrency() {
        let ns: Arc<str> = "guest".into();
        for kind in ["nodejs:default", "nodejs", "NodeJS:20"] {
            let body =
                format!(r#"{{"exec":{{"kind":"{kind}","code":"function main(p){{return p}}"}}}}"#);
            let a = put(&body).create(&ns, "f", 1).unwrap();
            assert_eq!(&*a.exec.kind, "nodejs:20", "{kind}");
            assert_eq!(a.init.as_ref().unwrap().concurrency, 1);
        }
        let a = put(r#"{"exec":{"kind":"nodejs:20","code":"x"},"limits":{"concurrency":4}}"#)
            .create(&ns, "f", 1)
            .unwrap();
        assert_eq!(a.limits.concurrency, 4);
        assert_eq!(a.init.as_ref().unwrap().concurrency, 4);
        // Changing the kind keeps the limits, which then no longer fit.
        let err = put(r#"{"exec":{"kind":"python:3","code":"x"}}"#)
            .update(&a, 2)
            .unwrap_err();
        assert!(err.0.contains("for kind 'python:3'"), "{}", err.0);
    }

    #[test]
    fn blackbox_needs_an_executable_image() {
        let ns: Arc<str> = "guest".into();
        let dir = tempfile::tempdir().unwrap();
        let exe = dir.path().join("loop.sh");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let body = |image: &str| format!(r#"{{"exec":{{"kind":"blackbox","image":"{image}"}}}}"#);
        let a = put(&body(exe.to_str().unwrap()))
            .create(&ns, "f", 1)
            .unwrap();
        assert_eq!(a.exec.image.as_deref(), exe.to_str());
        assert!(a.init.is_none(), "a blackbox executable gets no init line");
        let json = serde_json::to_value(Rendered(&a, View::Full)).unwrap();
        assert_eq!(json["exec"]["image"], exe.to_str().unwrap());
        for (image, says) in [
            ("relative/loop.sh", "is not absolute"),
            (plain.to_str().unwrap(), "is not an executable regular file"),
            ("/nonexistent/gale-loop", "cannot be used"),
        ] {
            let err = put(&body(image)).create(&ns, "f", 1).unwrap_err();
            assert!(err.0.contains(says), "{image}: {}", err.0);
        }
        let err = put(r#"{"exec":{"kind":"blackbox"}}"#)
            .create(&ns, "f", 1)
            .unwrap_err();
        assert!(err.0.contains("need \"image\""), "{}", err.0);
    }

    #[test]
    fn limit_messages() {
        let ns: Arc<str> = "guest".into();
        let cases = [
            (r#"{"memory":1024}"#, "requirement failed: memory size 1024 MB exceeds allowed threshold of 512 MB"),
            (r#"{"memory":64}"#, "requirement failed: memory size 64 MB below allowed threshold of 128 MB"),
            (r#"{"timeout":600000}"#, "requirement failed: duration 600000 milliseconds exceeds allowed threshold of 300000 milliseconds"),
            (r#"{"concurrency":501}"#, "requirement failed: concurrency 501 exceeds allowed threshold of 500"),
            (r#"{"concurrency":2}"#, "requirement failed: concurrency 2 exceeds allowed threshold of 1 for kind 'gale:synthetic' (only 'nodejs:20' runs activations concurrently)"),
            (r#"{"logs":11}"#, "requirement failed: log size 11 MB exceeds allowed threshold of 10 MB"),
        ];
        for (limits, message) in cases {
            let body = format!(r#"{{"exec":{{"kind":"gale:synthetic"}},"limits":{limits}}}"#);
            let err = put(&body).create(&ns, "f", 1).unwrap_err();
            assert_eq!(err.0, message);
        }
        let err = put(r#"{"exec":{"kind":"java:8","code":"x"}}"#)
            .create(&ns, "f", 1)
            .unwrap_err();
        assert_eq!(
            err.0,
            "The specified runtime 'java:8' is not supported by this platform. Valid values are: 'gale:synthetic', 'python:3', 'nodejs:20', 'blackbox'."
        );
        assert_eq!(
            put("{}").create(&ns, "f", 1).unwrap_err().0,
            "exec undefined"
        );
    }
}
