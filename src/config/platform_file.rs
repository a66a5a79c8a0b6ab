//! config/platform.yml: the embedded platform's settings (nodes, policies, warming,
//! keep-alive, prewarm, autoscaling, limits, keys). docs/platform.md documents every field.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use super::ConfigError;
use crate::model::{self, autoscale, balance, keepalive, placement, Warming, MS};
use crate::platform::{NamespaceKey, PlatformConfig};
use crate::trace::input::Input;
use crate::trace::yaml_de::{from_saphyr, Seconds};
use crate::trace::TraceError;

/// `pause_grace`: a duration or `never`.
#[derive(Debug, Clone, Copy)]
struct Grace(Option<model::Nanos>);

impl<'de> Deserialize<'de> for Grace {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim() == "never" {
            return Ok(Grace(None));
        }
        crate::units::parse_duration(&s)
            .map(|d| Grace(Some(d.as_nanos().min(u128::from(u64::MAX)) as model::Nanos)))
            .map_err(|e| serde::de::Error::custom(format!("{e}, or `never`")))
    }
}

/// A policy or enum name checked against its list.
fn named<'de, D, T>(d: D, parse: fn(&str) -> Option<T>, all: &[&str]) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let s = String::deserialize(d)?;
    parse(&s).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "unknown value `{s}`, expected one of: {}",
            all.join(", ")
        ))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<SocketAddr>,
    max_blocking_wait: Option<Seconds>,
    namespaces: Option<Vec<Namespace>>,
    limits: Option<Limits>,
    nodes: Option<Vec<Node>>,
    placement: Option<PlacementName>,
    balance: Option<BalanceName>,
    warming: Option<WarmingName>,
    keepalive: Option<KeepAlive>,
    eviction: Option<EvictionName>,
    prewarm: Option<Vec<Prewarm>>,
    autoscale_period: Option<Seconds>,
    seed: Option<u64>,
    max_activations: Option<usize>,
    cgroups: Option<bool>,
    events: Option<PathBuf>,
    sandbox: Option<SandboxFile>,
    max_connections: Option<usize>,
    max_logs_mb: Option<u32>,
    header_timeout: Option<Seconds>,
    #[serde(default)]
    actions: BTreeMap<String, Action>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SandboxFile {
    enabled: Option<bool>,
    uid: Option<u32>,
    gid: Option<u32>,
    network: Option<NetworkName>,
    tmp_mb: Option<u32>,
    pids_max: Option<u32>,
}

/// `network: none | host`.
struct NetworkName(bool);

impl<'de> Deserialize<'de> for NetworkName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "none" => Ok(NetworkName(false)),
            "host" => Ok(NetworkName(true)),
            _ => Err(serde::de::Error::custom(format!(
                "unknown value `{s}`, expected one of: none, host"
            ))),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Namespace {
    name: String,
    key: String,
    /// Sees the whole cluster in gale's admin API.
    #[serde(default)]
    admin: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Limits {
    invocations_per_minute: Option<u32>,
    concurrent_invocations: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Node {
    name: String,
    /// MB.
    memory: u64,
    cpus: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeepAlive {
    pause_grace: Option<Grace>,
    idle_timeout: Option<Seconds>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Prewarm {
    kind: KindName,
    /// MB.
    memory: u32,
    count: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Action {
    warming: Option<WarmingName>,
    autoscale: Option<Autoscale>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Autoscale {
    policy: ScaleName,
    /// Per replica: invocations/s (request-rate), activations (queue-length), or the
    /// utilisation 0..1 (utilisation).
    target: f64,
    #[serde(default)]
    min: u32,
    max: u32,
    zero_after: Option<Seconds>,
}

macro_rules! name_type {
    ($t:ident, $inner:ty, $parse:expr, $all:expr) => {
        struct $t($inner);
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                named(d, $parse, &$all).map($t)
            }
        }
    };
}

name_type!(
    PlacementName,
    placement::Policy,
    placement::Policy::parse,
    placement::Policy::ALL.map(|p| p.name())
);
name_type!(
    BalanceName,
    balance::Policy,
    balance::Policy::parse,
    balance::Policy::ALL.map(|p| p.name())
);
name_type!(
    EvictionName,
    keepalive::Eviction,
    keepalive::Eviction::parse,
    keepalive::Eviction::ALL.map(|e| e.name())
);
name_type!(
    WarmingName,
    Warming,
    Warming::parse,
    Warming::ALL.map(|w| w.name())
);
name_type!(
    KindName,
    &'static str,
    crate::platform::runtime::resolve_prewarm_kind,
    crate::platform::runtime::PREWARM_KINDS
);
name_type!(
    ScaleName,
    ScaleKind,
    ScaleKind::parse,
    ["request-rate", "queue-length", "utilisation"]
);

#[derive(Clone, Copy)]
enum ScaleKind {
    Rate,
    Queue,
    Utilisation,
}

impl ScaleKind {
    fn parse(s: &str) -> Option<ScaleKind> {
        match s {
            "request-rate" => Some(ScaleKind::Rate),
            "queue-length" => Some(ScaleKind::Queue),
            "utilisation" | "utilization" => Some(ScaleKind::Utilisation),
            _ => None,
        }
    }
}

/// Per-action settings from the file's `actions:` section, keyed by `namespace/name`; the
/// model owns the type (it applies them when an action is deployed).
pub use crate::model::ActionSettings;

/// Apply the settings in `path` over `config` (defaults stay where the file is silent).
pub fn load(path: &Path, config: &mut PlatformConfig) -> Result<(), ConfigError> {
    load_input(Input::File(path.to_path_buf()), config)
}

/// [`load`] from any input (bytes in memory for the fuzz targets).
pub fn load_input(input: Input, config: &mut PlatformConfig) -> Result<(), ConfigError> {
    let path = input.name().to_path_buf();
    let err = |line: Option<u64>, message: String| ConfigError {
        file: Some(path.clone()),
        line,
        message,
    };
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
    apply(file, config).map_err(|m| err(None, m))
}

/// `gale platform`'s flags: each set one wins over the settings file.
#[derive(Debug, Clone, Default)]
pub struct PlatformFlags {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--auth`: the guest namespace's key.
    pub auth: Option<String>,
    /// `--placement`.
    pub placement: Option<placement::Policy>,
    /// `--warming`.
    pub warming: Option<Warming>,
    /// `--max-blocking-wait`.
    pub max_blocking_wait: Option<Duration>,
    /// `--invocations-per-minute`.
    pub invocations_per_minute: Option<u32>,
    /// `--concurrent-invocations`.
    pub concurrent_invocations: Option<u32>,
    /// `--events`.
    pub events: Option<PathBuf>,
    /// `--no-cgroups`.
    pub no_cgroups: bool,
}

/// Apply `gale platform`'s flags over `config` (they win over the file).
pub fn apply_flags(config: &mut PlatformConfig, args: &PlatformFlags) -> Result<(), ConfigError> {
    let bad = |message: String| ConfigError {
        file: None,
        line: None,
        message,
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(key) = &args.auth {
        crate::platform::validate_key(key).map_err(|e| bad(e.to_string()))?;
        config.namespaces[0].key = key.clone();
    }
    if let Some(policy) = args.placement {
        config.model.placement = policy;
    }
    if let Some(warming) = args.warming {
        config.model.warming = warming;
    }
    if let Some(wait) = args.max_blocking_wait {
        config.max_blocking_wait = wait;
    }
    if args.invocations_per_minute.is_some() {
        config.limits.invocations_per_minute = args.invocations_per_minute;
    }
    if args.concurrent_invocations.is_some() {
        config.limits.concurrent_invocations = args.concurrent_invocations;
    }
    if let Some(path) = &args.events {
        config.events_socket = Some(path.clone());
    }
    if args.no_cgroups {
        config.cgroups = false;
    }
    Ok(())
}

/// The largest node memory, MB: 2^40 MB (1 EiB), far beyond any machine, and its byte count
/// fits a u64 (2^60).
pub const MAX_NODE_MEMORY_MB: u64 = 1 << 40;

/// A node's name becomes a cgroup directory name: one plain path component of letters,
/// digits, `-`, `_` and `.`, not `.` or `..`, at most 64 bytes.
pub fn check_node_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.starts_with('.');
    if ok {
        return Ok(());
    }
    let shown: String = name.chars().take(80).collect();
    Err(format!(
        "nodes: `{}`: a node name is 1 to 64 letters, digits, `-`, `_` or `.`, not starting \
         with `.` (it names the node's cgroup directory)",
        shown.escape_debug()
    ))
}

fn apply(f: File, c: &mut PlatformConfig) -> Result<(), String> {
    if let Some(v) = f.listen {
        c.listen = v;
    }
    if let Some(v) = f.max_blocking_wait {
        c.max_blocking_wait = Duration::from_nanos(v.0);
    }
    if let Some(v) = f.cgroups {
        c.cgroups = v;
    }
    if let Some(v) = f.events {
        c.events_socket = Some(v);
    }
    if let Some(mb) = f.max_logs_mb {
        c.max_log_bytes = (mb as usize) << 20;
    }
    if let Some(n) = f.max_connections {
        if n == 0 {
            return Err("max_connections: expected at least 1".into());
        }
        c.serve.max_connections = n;
    }
    if let Some(t) = f.header_timeout {
        if t.0 == 0 {
            return Err("header_timeout: expected a duration above 0".into());
        }
        c.serve.header_timeout = Duration::from_nanos(t.0);
    }
    if let Some(sb) = f.sandbox {
        let d = &mut c.sandbox;
        d.enabled = sb.enabled.unwrap_or(d.enabled);
        d.uid = sb.uid.unwrap_or(d.uid);
        d.gid = sb.gid.unwrap_or(d.gid);
        d.network = sb.network.map_or(d.network, |n| n.0);
        d.tmp_mb = sb.tmp_mb.unwrap_or(d.tmp_mb);
        d.pids_max = sb.pids_max.unwrap_or(d.pids_max);
        if d.tmp_mb == 0 || d.pids_max == 0 {
            return Err("sandbox: tmp_mb and pids_max must be at least 1".into());
        }
        if d.enabled && d.uid == 0 {
            return Err(
                "sandbox: uid 0 would run actions as root; give an unprivileged uid, or \
                 `enabled: false` to run them unconfined"
                    .into(),
            );
        }
    }
    if let Some(list) = f.namespaces {
        if list.is_empty() {
            return Err("namespaces: expected at least one `name`/`key` entry".into());
        }
        c.namespaces = Vec::new();
        // Listed namespaces are admins only when they say so.
        c.admin_namespaces = Vec::new();
        for ns in list {
            if ns.admin {
                c.admin_namespaces.push(ns.name.clone());
            }
            crate::platform::validate_key(&ns.key)
                .map_err(|e| format!("namespaces: {}: {e}", ns.name))?;
            // One key answers for one namespace, and one namespace has one owner: a second
            // entry would silently shadow the first.
            if let Some(prev) = c.namespaces.iter().find(|p| p.key == ns.key) {
                return Err(format!(
                    "namespaces: {}: the same key is already the key of namespace {}",
                    ns.name, prev.namespace
                ));
            }
            if c.namespaces.iter().any(|p| p.namespace == ns.name) {
                return Err(format!("namespaces: {} is listed twice", ns.name));
            }
            c.namespaces.push(NamespaceKey {
                namespace: ns.name,
                key: ns.key,
            });
        }
    }
    if let Some(l) = f.limits {
        c.limits.invocations_per_minute = l.invocations_per_minute;
        c.limits.concurrent_invocations = l.concurrent_invocations;
    }
    let m = &mut c.model;
    if let Some(nodes) = f.nodes {
        if nodes.is_empty() {
            return Err("nodes: expected at least one node".into());
        }
        m.nodes = Vec::new();
        for n in nodes {
            check_node_name(&n.name)?;
            if m.nodes.iter().any(|p| *p.name == *n.name) {
                return Err(format!("nodes: {} is listed twice", n.name));
            }
            if !(n.cpus > 0.0 && n.cpus.is_finite()) || n.memory == 0 {
                return Err(format!(
                    "nodes: {}: expected memory (MB) and cpus above 0",
                    n.name
                ));
            }
            // The cgroup limit is memory × 2^20 bytes: it must not wrap (to 0).
            if n.memory > MAX_NODE_MEMORY_MB {
                return Err(format!(
                    "nodes: {}: memory {} MB is more than the {MAX_NODE_MEMORY_MB} MB (1 EiB) a \
                     memory limit can express",
                    n.name, n.memory
                ));
            }
            m.nodes.push(model::NodeConfig {
                name: n.name.into(),
                memory_mb: n.memory,
                cpus: n.cpus,
            });
        }
    }
    if let Some(p) = f.placement {
        m.placement = p.0;
    }
    if let Some(b) = f.balance {
        m.balance = b.0;
    }
    if let Some(w) = f.warming {
        m.warming = w.0;
    }
    if let Some(k) = f.keepalive {
        if let Some(g) = k.pause_grace {
            m.keepalive.pause_grace = g.0;
        }
        if let Some(t) = k.idle_timeout {
            m.keepalive.idle_timeout = t.0;
        }
    }
    if let Some(e) = f.eviction {
        m.eviction = e.0;
    }
    if let Some(list) = f.prewarm {
        m.prewarm = list
            .into_iter()
            .map(|p| model::PrewarmConfig {
                kind: p.kind.0.into(),
                memory_mb: p.memory,
                count: p.count,
            })
            .collect();
    }
    if let Some(p) = f.autoscale_period {
        m.autoscale_period = p.0.max(MS);
    }
    if let Some(s) = f.seed {
        m.seed = s;
    }
    if let Some(n) = f.max_activations {
        c.max_activations = n;
    }
    for (name, a) in f.actions {
        let autoscale = match a.autoscale {
            None => None,
            Some(s) => {
                if !(s.target > 0.0 && s.target.is_finite()) || s.max < s.min.max(1) {
                    return Err(format!(
                        "actions: {name}: autoscale expects target > 0 and max ≥ max(min, 1)"
                    ));
                }
                let policy = match s.policy.0 {
                    ScaleKind::Rate => autoscale::Policy::RequestRate {
                        per_replica: s.target,
                    },
                    ScaleKind::Queue => autoscale::Policy::QueueLength {
                        per_replica: s.target,
                    },
                    ScaleKind::Utilisation if s.target <= 1.0 => {
                        autoscale::Policy::Utilisation { target: s.target }
                    }
                    ScaleKind::Utilisation => {
                        return Err(format!(
                            "actions: {name}: a utilisation target is a fraction in (0, 1]"
                        ))
                    }
                };
                Some(model::AutoscaleConfig {
                    policy,
                    min: s.min,
                    max: s.max,
                    zero_after: s.zero_after.map_or(60 * 1000 * MS, |z| z.0),
                })
            }
        };
        c.actions.insert(
            name,
            ActionSettings {
                warming: a.warming.map(|w| w.0),
                autoscale,
            },
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn load_text(text: &str) -> Result<PlatformConfig, ConfigError> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        let mut c = PlatformConfig::new().unwrap();
        load(f.path(), &mut c).map(|_| c)
    }

    #[test]
    fn the_example_configs_load() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let mut c = PlatformConfig::new().unwrap();
        load(&root.join("platform.yml"), &mut c).unwrap();
        assert!(c.model.nodes.len() >= 2);
        assert!(c.cgroups);
        let compare: Vec<_> = std::fs::read_dir(root.join("compare"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(compare.len(), 3, "{compare:?}");
        for path in compare {
            let mut c = PlatformConfig::new().unwrap();
            load(&path, &mut c).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
    }

    #[test]
    fn cgroups_and_events_are_read() {
        let c = load_text("cgroups: false\nevents: /run/gale/events.sock\n").unwrap();
        assert!(!c.cgroups);
        assert_eq!(
            c.events_socket.as_deref(),
            Some(Path::new("/run/gale/events.sock"))
        );
    }

    #[test]
    fn fields_are_applied() {
        let c = load_text(
            "nodes:\n  - {name: a, memory: 1024, cpus: 1}\n  - {name: b, memory: 512, cpus: 0.5}\n\
             placement: most-used-cpu\nwarming: prewarm\nkeepalive: {pause_grace: never, idle_timeout: 2m}\n\
             prewarm: [{kind: 'gale:synthetic', memory: 256, count: 1}]\n\
             actions:\n  guest/f:\n    warming: cold\n    autoscale: {policy: request-rate, target: 5, max: 4}\n",
        )
        .unwrap();
        let m = &c.model;
        assert_eq!(m.nodes[1].memory_mb, 512);
        assert_eq!(m.placement.name(), "most-used-cpu");
        assert_eq!(m.warming, Warming::Prewarm);
        assert_eq!(m.keepalive.pause_grace, None);
        assert_eq!(m.keepalive.idle_timeout, 120 * 1000 * MS);
        assert_eq!(c.actions["guest/f"].warming, Some(Warming::Cold));
        assert!(c.actions["guest/f"].autoscale.is_some());
    }

    #[test]
    fn prewarm_kinds_are_resolved_like_action_kinds() {
        // An action put with `python:default` runs as `python:3`: its stem cells must too.
        let c = load_text("prewarm: [{kind: 'python:default', memory: 256, count: 1}]\n").unwrap();
        assert_eq!(&*c.model.prewarm[0].kind, "python:3");
        let e =
            load_text("warming: prewarm\nprewarm: [{kind: 'cobol:1', memory: 256, count: 1}]\n")
                .unwrap_err();
        let text = e.to_string();
        assert_eq!(e.line, Some(2), "{text}");
        assert!(
            text.contains("kind") && text.contains("cobol:1") && text.contains("python:3"),
            "{text}"
        );
        let c = load_text("prewarm: [{kind: 'nodejs:default', memory: 256, count: 2}]\n").unwrap();
        assert_eq!(&*c.model.prewarm[0].kind, "nodejs:20");
        // A blackbox executable belongs to one action: no stem cells of that kind.
        let e = load_text("prewarm: [{kind: blackbox, memory: 256, count: 1}]\n").unwrap_err();
        assert!(
            e.to_string().ends_with(
                "unknown value `blackbox`, expected one of: gale:synthetic, python:3, nodejs:20"
            ),
            "{e}"
        );
    }

    #[test]
    fn errors_name_the_line_and_what_was_expected() {
        let e = load_text("nodes:\n  - {name: a, memory: 1024, cpus: 1}\nplacement: fastest\n")
            .unwrap_err();
        let text = e.to_string();
        assert_eq!(e.line, Some(3), "{text}");
        assert!(
            text.contains("round-robin") && text.contains("fastest"),
            "{text}"
        );
        let e = load_text("nodez: []\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `nodez`"), "{e}");
        assert_eq!(e.line, Some(1));
        let e = load_text("keepalive: {idle_timeout: soon}\n").unwrap_err();
        assert!(e.to_string().contains("duration"), "{e}");
        let e = load_text("nodes: []\n").unwrap_err();
        assert!(e.to_string().contains("at least one node"), "{e}");
    }

    #[test]
    fn node_names_are_one_plain_path_component() {
        for bad in [
            "../../../evil",
            "a/b",
            "..",
            ".",
            ".hidden",
            "",
            "x\\ny",
            &"n".repeat(65),
        ] {
            let text = format!("nodes:\n  - {{name: {bad:?}, memory: 1024, cpus: 1}}\n");
            let e = load_text(&text).expect_err(bad);
            assert!(e.to_string().contains("a node name is"), "{bad}: {e}");
        }
        let c = load_text("nodes:\n  - {name: node-1.a_b, memory: 1024, cpus: 1}\n").unwrap();
        assert_eq!(&*c.model.nodes[0].name, "node-1.a_b");
        let e = load_text(
            "nodes:\n  - {name: a, memory: 1024, cpus: 1}\n  - {name: a, memory: 512, cpus: 1}\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("listed twice"), "{e}");
    }

    #[test]
    fn node_memory_that_would_wrap_is_refused() {
        // 2^44 MB × 2^20 = 2^64 bytes: the limit wrapped to 0 before.
        let e = load_text("nodes:\n  - {name: a, memory: 17592186044416, cpus: 1}\n").unwrap_err();
        assert!(e.to_string().contains("1 EiB"), "{e}");
        let c = load_text("nodes:\n  - {name: a, memory: 1099511627776, cpus: 1}\n").unwrap();
        assert_eq!(c.model.nodes[0].memory_mb, MAX_NODE_MEMORY_MB);
    }

    #[test]
    fn a_namespace_key_or_name_is_listed_once() {
        let k1 = "11111111-2222-3333-4444-555555555555:".to_string() + &"a".repeat(64);
        let k2 = "11111111-2222-3333-4444-555555555555:".to_string() + &"b".repeat(64);
        let e = load_text(&format!(
            "namespaces:\n  - {{name: alice, key: '{k1}'}}\n  - {{name: bob, key: '{k1}'}}\n"
        ))
        .unwrap_err();
        assert!(
            e.to_string().contains("already the key of namespace alice"),
            "{e}"
        );
        let e = load_text(&format!(
            "namespaces:\n  - {{name: alice, key: '{k1}'}}\n  - {{name: alice, key: '{k2}'}}\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("alice is listed twice"), "{e}");
        let c = load_text(&format!(
            "namespaces:\n  - {{name: alice, key: '{k1}'}}\n  - {{name: bob, key: '{k2}'}}\n"
        ))
        .unwrap();
        assert_eq!(c.namespaces.len(), 2);
    }

    #[test]
    fn a_file_that_is_not_utf8_names_the_line() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"listen: 127.0.0.1:3233\nnodes:\n  - {name: a\xff\xfe, memory: 1, cpus: 1}\n")
            .unwrap();
        let mut c = PlatformConfig::new().unwrap();
        let e = load(f.path(), &mut c).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("UTF-8"), "{text}");
        assert_eq!(e.line, Some(3), "{text}");
    }
}

/// What the platform model needs of a settings file (`gale simulate`, an experiment on the
/// simulator): no listener, no keys, no processes.
#[derive(Debug, Clone)]
pub struct ModelSettings {
    /// The first namespace (the actions' own).
    pub namespace: String,
    /// Nodes and policies.
    pub model: model::ModelConfig,
    /// Admission limits.
    pub limits: crate::model::admission::Limits,
    /// Per-action settings.
    pub actions: BTreeMap<String, ActionSettings>,
}

/// The model's settings from `path` over the defaults (the defaults alone without one).
pub fn load_model(path: Option<&Path>) -> anyhow::Result<ModelSettings> {
    let mut config = PlatformConfig::new()?;
    if let Some(path) = path {
        load(path, &mut config)?;
    }
    Ok(ModelSettings {
        namespace: config.namespaces[0].namespace.clone(),
        model: config.model,
        limits: config.limits,
        actions: config.actions,
    })
}
