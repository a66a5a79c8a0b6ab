//! An experiment file (docs/experiments.md): the workload (a trace, or a built-in one), the
//! target, fixed platform settings, the factors to vary and their values, repetitions and the
//! report. Parsed here into plain data; `src/experiment` runs it. Every error names the file,
//! the line and the field, and says what was expected.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::{Location, Spanned};

use super::overrides;
use super::ConfigError;
use crate::trace::input::Input;
use crate::trace::yaml_de::{from_saphyr, Seconds};
use crate::trace::TraceError;

/// Where an experiment's runs go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// A fresh embedded platform per run (the default).
    Embedded,
    /// The OpenWhisk that `--apihost`/`--auth` or the wskprops file names.
    Remote,
    /// `gale simulate`: the platform model in virtual time.
    Simulate,
}

impl TargetKind {
    /// The file's name for it.
    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Embedded => "embedded",
            TargetKind::Remote => "remote",
            TargetKind::Simulate => "simulate",
        }
    }
}

/// How a built-in workload invokes each of its functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Poisson arrivals at `rate` per second for `duration`.
    Poisson,
    /// `count` invocations, `gap` apart.
    Sequential,
    /// `count` invocations at the same instant.
    Burst,
    /// One invocation to warm a container, then `count`, `gap` apart.
    Warm,
    /// `count` invocations, `gap` apart, each one a cold start.
    Cold,
    /// Invoke, stay idle for `wait`, invoke again: is the second one cold?
    Probe,
}

impl Pattern {
    /// Every pattern.
    pub const ALL: [Pattern; 6] = [
        Pattern::Poisson,
        Pattern::Sequential,
        Pattern::Burst,
        Pattern::Warm,
        Pattern::Cold,
        Pattern::Probe,
    ];

    /// Its name in files.
    pub fn name(self) -> &'static str {
        match self {
            Pattern::Poisson => "poisson",
            Pattern::Sequential => "sequential",
            Pattern::Burst => "burst",
            Pattern::Warm => "warm",
            Pattern::Cold => "cold",
            Pattern::Probe => "probe",
        }
    }

    /// The pattern named `name`.
    pub fn parse(name: &str) -> Option<Pattern> {
        Pattern::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// One function of a built-in workload: a `gale:synthetic` action.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadFunction {
    /// Action name.
    pub name: String,
    /// Memory limit, MB.
    #[serde(default = "default_memory")]
    pub memory: u32,
    /// CPU work per invocation, ms.
    #[serde(default)]
    pub cpu_ms: f64,
    /// Memory touched per invocation, MB.
    #[serde(default)]
    pub mem_mb: f64,
    /// Idle wait per invocation ("I/O"), ms.
    #[serde(default)]
    pub sleep_ms: f64,
    /// OpenWhisk exec kind (default `gale:synthetic`): a real OpenWhisk runs its own kinds.
    #[serde(default)]
    pub kind: Option<String>,
    /// Inline code, for kinds that run code.
    #[serde(default)]
    pub code: Option<String>,
}

fn default_memory() -> u32 {
    256
}

/// A built-in workload: synthetic functions invoked in a pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// The functions.
    pub functions: Vec<WorkloadFunction>,
    /// How each is invoked.
    pub pattern: Pattern,
    /// Invocations per function (sequential, burst, warm, cold).
    pub count: u64,
    /// Per function, per second (poisson).
    pub rate: f64,
    /// Length of the arrivals (poisson), ns.
    pub duration: u64,
    /// Between two invocations of a function (sequential, warm, cold), ns.
    pub gap: u64,
    /// Idle time between a probe's two invocations, ns.
    pub wait: u64,
}

/// Most invocations per function of a built-in workload's explicit rows (its trace is written
/// whole; a longer run is a `poisson` pattern, whose arrivals are generated as it goes).
pub const MAX_COUNT: u64 = 1_000_000;

/// Most points in a grid.
pub const MAX_POINTS: usize = 10_000;

/// The workload keys a factor or `workload:` can set (the others are platform settings).
pub const WORKLOAD_KEYS: [&str; 7] = [
    "pattern", "memory", "count", "rate", "duration", "gap", "wait",
];

impl Workload {
    /// Set one workload key from its text.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let dur = |v: &str| {
            crate::units::parse_duration(v)
                .map(|d| d.as_nanos().min(u128::from(u64::MAX)) as u64)
                .map_err(|e| format!("{key}: {e}"))
        };
        match key {
            "pattern" => {
                self.pattern = Pattern::parse(value).ok_or_else(|| {
                    format!(
                        "pattern: unknown pattern `{value}`, expected one of: {}",
                        Pattern::ALL.map(Pattern::name).join(", ")
                    )
                })?
            }
            "memory" => {
                let mb: u32 = value
                    .parse()
                    .ok()
                    .filter(|m| (1..=1 << 20).contains(m))
                    .ok_or_else(|| {
                        format!("memory: expected MB from 1 to 1048576, got `{value}`")
                    })?;
                self.functions.iter_mut().for_each(|f| f.memory = mb);
            }
            "count" => {
                self.count = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_COUNT).contains(n))
                    .ok_or_else(|| {
                        format!("count: expected an integer from 1 to {MAX_COUNT}, got `{value}`")
                    })?
            }
            "rate" => {
                self.rate = value
                    .parse()
                    .ok()
                    .filter(|r: &f64| r.is_finite() && *r > 0.0)
                    .ok_or_else(|| format!("rate: expected a number > 0, got `{value}`"))?
            }
            "duration" => self.duration = dur(value)?,
            "gap" => self.gap = dur(value)?,
            "wait" => self.wait = dur(value)?,
            _ => {
                return Err(format!(
                    "unknown workload key `{key}`: expected one of {}",
                    WORKLOAD_KEYS.join(", ")
                ))
            }
        }
        Ok(())
    }
}

/// Whether a key is a duration (shrunk by `--scale`).
pub fn is_duration_key(key: &str) -> bool {
    matches!(key, "duration" | "gap" | "wait") || overrides::is_duration(key)
}

/// Whether a key is a count (shrunk by `--scale`).
pub fn is_count_key(key: &str) -> bool {
    key == "count"
}

/// The workload: a trace file or a built-in one.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkloadSource {
    /// A trace (YAML, CSV or a FaaSLoad directory), resolved against the experiment file.
    Trace(PathBuf),
    /// A built-in workload.
    Builtin(Workload),
}

/// One factor: a key and its values in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Factor {
    /// A platform setting ([`overrides::KEYS`]) or a workload key ([`WORKLOAD_KEYS`]).
    pub key: String,
    /// Its values, as written.
    pub values: Vec<String>,
}

/// A parsed experiment file.
#[derive(Debug, Clone, PartialEq)]
pub struct Experiment {
    /// Its name (the file's stem when it has none).
    pub name: String,
    /// The workload.
    pub workload: WorkloadSource,
    /// Where its runs go.
    pub target: TargetKind,
    /// A platform settings file under the settings (embedded and simulate).
    pub platform_config: Option<PathBuf>,
    /// Fixed settings, by name, in file order (platform or workload keys).
    pub settings: Vec<(String, String)>,
    /// The factors, first one slowest.
    pub factors: Vec<Factor>,
    /// Runs per point.
    pub repetitions: u32,
    /// The report's grouping column.
    pub report_by: String,
    /// The report's confidence level.
    pub confidence: f64,
    /// Blocking invocations (default: yes, one request per invocation).
    pub blocking: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    trace: Option<Spanned<String>>,
    workload: Option<Spanned<RawWorkload>>,
    target: Option<Spanned<String>>,
    platform_config: Option<Spanned<String>>,
    #[serde(default)]
    settings: Ordered,
    #[serde(default)]
    factors: Ordered,
    repetitions: Option<Spanned<u32>>,
    #[serde(default)]
    report: Option<RawReport>,
    blocking: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    functions: Vec<WorkloadFunction>,
    pattern: Option<String>,
    count: Option<u64>,
    rate: Option<f64>,
    duration: Option<Seconds>,
    gap: Option<Seconds>,
    wait: Option<Seconds>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    by: Option<String>,
    confidence: Option<Spanned<f64>>,
}

/// A scalar written as text, a number or a boolean.
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value (text, number or boolean)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// One value or a list of them.
struct Values(Vec<String>);

impl<'de> Deserialize<'de> for Values {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Values;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value or a list of values")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Values, E> {
                Ok(Values(vec![v.to_string()]))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Values, E> {
                Ok(Values(vec![v.to_string()]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Values, E> {
                Ok(Values(vec![v.to_string()]))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Values, E> {
                Ok(Values(vec![v.to_string()]))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Values, E> {
                Ok(Values(vec![v.to_string()]))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Values, A::Error> {
                let mut out = Vec::new();
                while let Some(Scalar(v)) = seq.next_element()? {
                    out.push(v);
                }
                Ok(Values(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A mapping kept in file order, each key with where it was written.
#[derive(Default)]
struct Ordered(Vec<(Spanned<String>, Vec<String>)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of setting names to values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut out: Vec<(Spanned<String>, Vec<String>)> = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    if out.iter().any(|(k, _)| k.value == key.value) {
                        return Err(de::Error::custom(format!("`{}` is given twice", key.value)));
                    }
                    let Values(v) = map.next_value()?;
                    out.push((key, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The built-in workload's defaults, before the file's values.
fn default_workload(functions: Vec<WorkloadFunction>) -> Workload {
    Workload {
        functions,
        pattern: Pattern::Sequential,
        count: 10,
        rate: 1.0,
        duration: 10_000_000_000,
        gap: 100_000_000,
        wait: 1_000_000_000,
    }
}

/// Read the experiment file at `path`.
pub fn load(path: &Path) -> Result<Experiment, ConfigError> {
    load_input(Input::File(path.to_path_buf()))
}

/// [`load`] from any input; relative paths in it are resolved against its name's directory.
pub fn load_input(input: Input) -> Result<Experiment, ConfigError> {
    let path = input.name().to_path_buf();
    let located = |e: TraceError| {
        let message = match &e.field {
            Some(field) => format!("field `{field}`: {}", e.message),
            None => e.message,
        };
        ConfigError {
            file: Some(path.clone()),
            line: e.line,
            message,
        }
    };
    let at = |loc: &Location, field: &str, message: String| ConfigError {
        file: Some(path.clone()),
        line: (loc.line() > 0).then(|| loc.line()),
        message: format!("field `{field}`: {message}"),
    };
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    let reader = input.open().map_err(located)?;
    let file: File = serde_saphyr::from_reader_with_options(reader, options)
        .map_err(|e| located(from_saphyr(&input, &e)))?;
    let _ = file.description;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let whole = |message: &str| ConfigError {
        file: Some(path.clone()),
        line: None,
        message: message.to_string(),
    };
    let workload = match (file.trace, file.workload) {
        (Some(t), None) => WorkloadSource::Trace(base.join(&t.value)),
        (None, Some(w)) => {
            let loc = w.referenced;
            let w = w.value;
            if w.functions.is_empty() {
                return Err(at(
                    &loc,
                    "workload.functions",
                    "expected at least one function".into(),
                ));
            }
            let mut b = default_workload(w.functions);
            if let Some(p) = &w.pattern {
                b.set("pattern", p)
                    .map_err(|m| at(&loc, "workload.pattern", m))?;
            }
            if let Some(n) = w.count {
                b.set("count", &n.to_string())
                    .map_err(|m| at(&loc, "workload.count", m))?;
            }
            if let Some(r) = w.rate {
                b.set("rate", &r.to_string())
                    .map_err(|m| at(&loc, "workload.rate", m))?;
            }
            if let Some(d) = w.duration {
                b.duration = d.0;
            }
            if let Some(d) = w.gap {
                b.gap = d.0;
            }
            if let Some(d) = w.wait {
                b.wait = d.0;
            }
            WorkloadSource::Builtin(b)
        }
        (Some(t), Some(_)) => {
            return Err(at(
                &t.referenced,
                "trace",
                "give a `trace` or a `workload`, not both".into(),
            ))
        }
        (None, None) => {
            return Err(whole(
                "expected a `trace:` (a trace file) or a `workload:` (a built-in workload)",
            ))
        }
    };
    let target = match &file.target {
        None => TargetKind::Embedded,
        Some(t) => match t.value.as_str() {
            "embedded" => TargetKind::Embedded,
            "remote" | "openwhisk" => TargetKind::Remote,
            "simulate" => TargetKind::Simulate,
            other => {
                return Err(at(
                    &t.referenced,
                    "target",
                    format!(
                        "unknown target `{other}`, expected one of: embedded, remote, simulate"
                    ),
                ))
            }
        },
    };
    // Every key and value is checked now: a typo fails before the first run, not at point 7.
    let mut probe_model = crate::model::ModelConfig::default();
    let mut probe_seed = None;
    let mut probe_workload = match &workload {
        WorkloadSource::Builtin(w) => Some(w.clone()),
        WorkloadSource::Trace(_) => None,
    };
    let mut check = |section: &str,
                     key: &Spanned<String>,
                     value: &str|
     -> Result<(), ConfigError> {
        let field = format!("{section}.{}", key.value);
        let k = key.value.as_str();
        let result = if WORKLOAD_KEYS.contains(&k) {
            match &mut probe_workload {
                Some(w) => w.set(k, value),
                None => Err(format!(
                    "`{k}` is a key of a built-in workload; this experiment replays a trace"
                )),
            }
        } else {
            overrides::apply(&mut probe_model, &mut probe_seed, k, value).map_err(|m| {
                if m.starts_with("unknown setting") {
                    format!(
                        "unknown key `{k}`: expected a platform setting ({}) or a workload key ({})",
                        overrides::KEYS.join(", "),
                        WORKLOAD_KEYS.join(", ")
                    )
                } else {
                    m
                }
            })
        };
        result.map_err(|m| at(&key.referenced, &field, m))
    };
    let mut settings = Vec::new();
    for (key, values) in &file.settings.0 {
        let [value] = values.as_slice() else {
            return Err(at(
                &key.referenced,
                &format!("settings.{}", key.value),
                "expected one value (a list of values is a factor)".into(),
            ));
        };
        check("settings", key, value)?;
        settings.push((key.value.clone(), value.clone()));
    }
    let mut factors = Vec::new();
    for (key, values) in &file.factors.0 {
        if values.is_empty() {
            return Err(at(
                &key.referenced,
                &format!("factors.{}", key.value),
                "expected at least one value".into(),
            ));
        }
        for v in values {
            check("factors", key, v)?;
        }
        if settings.iter().any(|(k, _)| *k == key.value) {
            return Err(at(
                &key.referenced,
                &format!("factors.{}", key.value),
                "also fixed in `settings`: give it in one place".into(),
            ));
        }
        factors.push(Factor {
            key: key.value.clone(),
            values: values.clone(),
        });
    }
    let points = factors
        .iter()
        .try_fold(1usize, |n, f| n.checked_mul(f.values.len()))
        .filter(|&n| n <= MAX_POINTS);
    if points.is_none() {
        return Err(whole(&format!(
            "the factors make more than {MAX_POINTS} points (the product of their numbers of \
             values): split the experiment"
        )));
    }
    let repetitions = match &file.repetitions {
        None => 1,
        Some(r) if (1..=1000).contains(&r.value) => r.value,
        Some(r) => {
            return Err(at(
                &r.referenced,
                "repetitions",
                format!("expected 1 to 1000, got {}", r.value),
            ))
        }
    };
    let (report_by, confidence) = match file.report {
        None => ("function".to_string(), 0.95),
        Some(r) => {
            let c = match r.confidence {
                None => 0.95,
                Some(c) if c.value > 0.0 && c.value < 1.0 => c.value,
                Some(c) => {
                    return Err(at(
                        &c.referenced,
                        "report.confidence",
                        format!("expected a level in (0, 1), got {}", c.value),
                    ))
                }
            };
            (r.by.unwrap_or_else(|| "function".into()), c)
        }
    };
    if target == TargetKind::Remote {
        if let Some(p) = &file.platform_config {
            return Err(at(&p.referenced, "platform_config", "a remote target has its own settings: this file's platform settings apply to `embedded` and `simulate`".into()));
        }
        if let Some((key, _)) = file
            .factors
            .0
            .iter()
            .find(|(k, _)| !WORKLOAD_KEYS.contains(&k.value.as_str()))
        {
            return Err(at(&key.referenced, &format!("factors.{}", key.value), "a platform setting cannot be varied on a remote target (its operator sets it): only workload keys".into()));
        }
    }
    let name = file.name.unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "experiment".into())
    });
    Ok(Experiment {
        name,
        workload,
        target,
        platform_config: file.platform_config.map(|p| base.join(p.value)),
        settings,
        factors,
        repetitions,
        report_by,
        confidence,
        blocking: file.blocking.unwrap_or(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Experiment, ConfigError> {
        load_input(Input::Bytes {
            name: "dir/exp.yml".into(),
            data: std::sync::Arc::from(text.as_bytes()),
        })
    }

    #[test]
    fn factors_keep_their_order_and_paths_resolve_against_the_file() {
        let e = parse(
            "trace: t.yaml\nplatform_config: p.yml\nsettings: {nodes: 2}\nfactors:\n  warming: [cold, warm]\n  placement: random\n  seed: [1, 2, 3]\nrepetitions: 4\n",
        )
        .unwrap();
        assert_eq!(e.workload, WorkloadSource::Trace("dir/t.yaml".into()));
        assert_eq!(e.platform_config, Some("dir/p.yml".into()));
        let keys: Vec<&str> = e.factors.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["warming", "placement", "seed"]);
        assert_eq!(e.factors[2].values, ["1", "2", "3"]);
        assert_eq!(e.settings, [("nodes".to_string(), "2".to_string())]);
        assert_eq!(e.repetitions, 4);
        assert_eq!(e.name, "exp");
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let e = parse("trace: t.yaml\nfactors:\n  memory: [128]\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.message.contains("factors.memory"), "{e}");
        let e = parse("workload:\n  functions: [{name: f}]\nrepetitions: 0\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let e = parse("workload:\n  functions: [{name: f}]\nfactors:\n  seed: [1]\n  seed: [2]\n")
            .unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
        assert!(e.to_string().contains("duplicate"), "{e}");
        let e = parse(
            "target: remote\nworkload:\n  functions: [{name: f}]\nfactors:\n  warming: [cold]\n",
        )
        .unwrap_err();
        assert_eq!(e.line, Some(5), "{e}");
    }
}
