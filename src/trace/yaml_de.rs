//! The YAML trace schema as serde types, and turning serde-saphyr errors into located
//! [`TraceError`]s that name the field.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};
use serde_saphyr::{Location, Spanned};

use super::arrivals::Process;
use super::input::Input;
use super::model::{FunctionSpec, PackageSpec, UserSpec};
use super::num;
use super::TraceError;

/// The whole document as the header pass sees it: `invocations` is skipped, not stored.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDoc {
    /// Seed of the arrival specs.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Default blocking mode.
    #[serde(default)]
    pub blocking: Option<bool>,
    /// Declared functions.
    #[serde(default)]
    pub functions: Vec<Spanned<Named<FunctionSpec>>>,
    /// Declared users.
    #[serde(default)]
    pub users: Vec<Spanned<Named<UserSpec>>>,
    /// Declared packages.
    #[serde(default)]
    pub packages: Vec<Spanned<Named<PackageSpec>>>,
    /// Arrival specifications.
    #[serde(default)]
    pub arrivals: Vec<Spanned<RawArrival>>,
    /// Explicit rows (read by the row pass).
    #[serde(default)]
    pub invocations: Option<de::IgnoredAny>,
    /// A CSV file of rows, relative to the YAML file.
    #[serde(default)]
    pub invocations_file: Option<Spanned<String>>,
}

/// One entry of `arrivals:`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArrival {
    pub function: Spanned<String>,
    #[serde(default)]
    pub user: Option<Spanned<String>>,
    #[serde(default)]
    pub rate: Option<Spanned<f64>>,
    #[serde(default)]
    pub process: Process,
    #[serde(default)]
    pub profile: Option<Spanned<RawProfile>>,
    #[serde(default)]
    pub start: Option<Spanned<Seconds>>,
    #[serde(default)]
    pub duration: Option<Spanned<Seconds>>,
    #[serde(default)]
    pub count: Option<Spanned<u64>>,
    #[serde(default)]
    pub params: Option<Map<String, Value>>,
    #[serde(default)]
    pub blocking: Option<bool>,
}

/// An arrival spec's `profile:` (docs/trace-format.md).
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum RawProfile {
    /// From `rate` to `to` over `over` (default: the spec's duration).
    Ramp {
        to: f64,
        #[serde(default)]
        over: Option<Seconds>,
    },
    /// `rate · (1 + amplitude · sin(2π t / period + phase))`.
    Sine {
        period: Seconds,
        amplitude: f64,
        #[serde(default)]
        phase: f64,
    },
    /// A sine of one day whose peak is `peak` after the spec's start.
    Diurnal {
        amplitude: f64,
        #[serde(default)]
        peak: Option<Seconds>,
    },
    /// `rate` for `on_time`, silence for `off_time`, repeated (not `on`/`off`: YAML reads
    /// those as booleans).
    Onoff { on_time: Seconds, off_time: Seconds },
    /// Markov-modulated Poisson: rates per state, mean time in each state.
    Mmpp {
        rates: Vec<f64>,
        sojourn: Vec<Seconds>,
    },
    /// A CSV file `t,rate` (relative to the trace file).
    File { path: String },
}

/// One entry of `invocations:`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRow {
    #[serde(default)]
    pub at: Option<Spanned<Seconds>>,
    #[serde(default)]
    pub at_ms: Option<Spanned<f64>>,
    pub function: Spanned<String>,
    #[serde(default)]
    pub user: Option<Spanned<String>>,
    #[serde(default)]
    pub params: Option<Map<String, Value>>,
    #[serde(default)]
    pub blocking: Option<bool>,
}

/// A non-negative time in nanoseconds, written as seconds (`1.5`) or a duration (`250ms`).
#[derive(Debug, Clone, Copy)]
pub struct Seconds(pub u64);

const SECONDS_EXPECTED: &str = "a duration such as 30s, 250ms, 2m or a number of seconds";

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Seconds;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(SECONDS_EXPECTED)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Seconds, E> {
                num::secs_to_ns(v).map(Seconds).ok_or_else(|| {
                    E::custom(format!(
                        "expected {SECONDS_EXPECTED} from 0 to {} s, got {v}",
                        num::MAX_SECONDS
                    ))
                })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
                self.visit_f64(v as f64)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
                self.visit_f64(v as f64)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Seconds, E> {
                let d = crate::units::parse_duration(v).map_err(E::custom)?;
                match u64::try_from(d.as_nanos()) {
                    Ok(ns) if ns <= num::MAX_NS => Ok(Seconds(ns)),
                    _ => Err(E::custom(format!(
                        "expected at most {} s, got `{v}`",
                        num::MAX_SECONDS
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Something that can be written as just its name (`users: [alice, bob]`).
pub trait FromName {
    /// The entry a bare name stands for.
    fn from_name(name: &str) -> Self;
}

impl FromName for FunctionSpec {
    fn from_name(name: &str) -> Self {
        FunctionSpec::synthetic(name)
    }
}

impl FromName for PackageSpec {
    fn from_name(name: &str) -> Self {
        PackageSpec {
            name: name.to_string(),
            params: Map::new(),
        }
    }
}

impl FromName for UserSpec {
    fn from_name(name: &str) -> Self {
        UserSpec {
            name: name.to_string(),
            namespace: None,
            auth: None,
        }
    }
}

/// A list entry written either as a bare name or as a full mapping.
pub struct Named<T>(pub T);

impl<'de, T: FromName + Deserialize<'de>> Deserialize<'de> for Named<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: FromName + Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Named<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a name or a mapping with a `name` field")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Named<T>, E> {
                Ok(Named(T::from_name(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Named<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Named)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A located error about a value whose position serde-saphyr recorded.
pub fn at(input: &Input, loc: &Location, field: &str, msg: impl Into<String>) -> TraceError {
    let mut e = TraceError::file(input.name(), msg).field(field);
    if loc.line() > 0 {
        e = e.at(loc.line(), loc.column());
    }
    e
}

/// A serde-saphyr error as a trace error: location from the parser, field from the message
/// (`unknown field `x``) or, failing that, from the key left of the error on its line.
pub fn from_saphyr(input: &Input, e: &serde_saphyr::Error) -> TraceError {
    // The reader's decoding failure carries no position: find the first bad byte ourselves.
    if let serde_saphyr::Error::IOError { cause } = e {
        if cause.kind() == std::io::ErrorKind::InvalidData {
            if let Some((line, column)) = input.open().ok().and_then(first_invalid_utf8) {
                return TraceError::file(
                    input.name(),
                    "not valid UTF-8 text (YAML files are UTF-8): check the file's encoding",
                )
                .at(line, column);
            }
        }
    }
    let mut msg = e.without_snippet().to_string();
    if let Some(i) = msg.rfind(" at line ") {
        let tail = msg.get(i + " at line ".len()..).unwrap_or_default();
        if tail
            .chars()
            .all(|c| c.is_ascii_digit() || ", column".contains(c))
        {
            msg.truncate(i);
        }
    }
    let msg = clarify(&msg);
    let mut err = TraceError::file(input.name(), msg);
    if let Some(loc) = e.location().filter(|l| l.line() > 0) {
        err = err.at(loc.line(), loc.column());
        err.field = field_in_message(&err.message).or_else(|| {
            let text = input.line_text(loc.line())?;
            key_left_of(&text, loc.column())
        });
    } else {
        err.field = field_in_message(&err.message);
    }
    err
}

/// Line and column (1-based, in characters) of the first byte of `r` that is not UTF-8,
/// read line by line (never the whole file at once).
pub fn first_invalid_utf8(r: impl std::io::Read) -> Option<(u64, u64)> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(r);
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).ok()? == 0 {
            return None;
        }
        number += 1;
        if let Err(e) = std::str::from_utf8(&line) {
            let valid = std::str::from_utf8(&line[..e.valid_up_to()]).ok()?;
            return Some((number, valid.chars().count() as u64 + 1));
        }
    }
}

/// Say what was expected where the parser's wording is terse.
fn clarify(msg: &str) -> String {
    match msg {
        "invalid floating point" => "expected a number".to_string(),
        "invalid integer" | "invalid unsigned integer" => "expected a whole number".to_string(),
        "invalid boolean" => "expected true or false".to_string(),
        "invalid u64" | "invalid u32" => "expected a whole number from 0 up".to_string(),
        "expected mapping start" => "expected a mapping (`key: value` pairs)".to_string(),
        "expected sequence start" => "expected a list".to_string(),
        other => other.to_string(),
    }
}

fn field_in_message(msg: &str) -> Option<String> {
    let start = msg.find("field `")? + "field `".len();
    let len = msg.get(start..)?.find('`')?;
    msg.get(start..start + len).map(str::to_string)
}

/// The mapping key written just before 1-based character column `column` of `line`:
/// `  rate: -3` at the column of `-3` gives `rate`.
fn key_left_of(line: &str, column: u64) -> Option<String> {
    let prefix: String = line
        .chars()
        .take(usize::try_from(column.saturating_sub(1)).ok()?)
        .collect();
    let before_colon = prefix.trim_end().strip_suffix(':')?;
    let key: String = before_colon
        .chars()
        .rev()
        .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    (!key.is_empty()).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_left_of_values() {
        assert_eq!(key_left_of("  rate: -3", 9).as_deref(), Some("rate"));
        assert_eq!(key_left_of("  - {at: x, f: y}", 10).as_deref(), Some("at"));
        assert_eq!(key_left_of("  - x", 5), None);
        assert_eq!(
            field_in_message("unknown field `g`, expected").as_deref(),
            Some("g")
        );
    }
}
