//! YAML traces: declarations, arrival specs and explicit rows in one file.
//!
//! The file is read twice. The header pass deserializes everything except `invocations`,
//! which it skips without storing. The row pass walks the document again and hands each
//! element of `invocations` to a sink as soon as it is parsed: a small file's rows are
//! collected then and there (so every error shows at open), a large file's rows are parsed
//! on a reader thread and passed through a bounded channel, so a YAML list of a million rows
//! is never held in memory.

use std::fmt;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::arrivals::{self, ArrivalSpec};
use super::catalog::{self, Catalog, Interner, NameKind};
use super::input::Input;
use super::model::{FunctionSpec, TraceHeader, UserSpec};
use super::yaml_de::{at, from_saphyr, RawArrival, RawDoc, RawRow};
use super::{num, Invocation, Rows, TraceError};

/// Files up to this size have their rows parsed at open time.
pub const EAGER_BYTES: u64 = 4 << 20;
const BATCH: usize = 1024;

/// A YAML trace's header and its row sources, in tie-break order: explicit rows,
/// `invocations_file`, then one source per arrival spec.
pub struct Opened {
    /// What the trace declares.
    pub header: TraceHeader,
    /// Sorted row sources, to be merged.
    pub sources: Vec<Rows>,
}

fn options() -> serde_saphyr::Options {
    let mut o = serde_saphyr::Options::default();
    o.with_snippet = false;
    let mut b = serde_saphyr::Budget::default();
    // Traces are long by nature: only nesting and alias limits protect anything here,
    // since rows are streamed rather than built into a tree.
    b.max_reader_input_bytes = None;
    b.max_events = usize::MAX;
    b.max_nodes = usize::MAX;
    b.max_total_scalar_bytes = usize::MAX;
    o.budget = Some(b);
    o
}

/// Read a YAML trace: header now, rows as described in the module documentation.
/// `csv_source` opens `invocations_file` (checked in full first when small).
pub fn open(
    input: &Input,
    seed_override: Option<u64>,
    csv_source: impl Fn(&Input, Catalog) -> Result<Rows, TraceError>,
) -> Result<Opened, TraceError> {
    let mut doc: RawDoc = serde_saphyr::from_reader_with_options(input.open()?, options())
        .map_err(|e| from_saphyr(input, &e))?;
    for f in &mut doc.functions {
        read_code_file(input, f)?;
    }
    let functions = declared(input, doc.functions, "functions", |f: &FunctionSpec| {
        &f.name
    })?;
    let users = declared(input, doc.users, "users", |u: &UserSpec| &u.name)?;
    let catalog = Catalog::declared(&functions, &users);
    let seed = seed_override.or(doc.seed).unwrap_or(0);
    let mut sources: Vec<Rows> = Vec::new();
    let mut described = vec![format!("{} (YAML)", input.name().display())];
    if doc.invocations.is_some() {
        sources.push(rows(input, catalog.clone())?);
    }
    if let Some(file) = &doc.invocations_file {
        let base = input.name().parent().unwrap_or(std::path::Path::new(""));
        let path = base.join(&file.value);
        let csv = Input::File(path.clone());
        if !path.is_file() {
            return Err(at(
                input,
                &file.referenced,
                "invocations_file",
                format!(
                    "expected a CSV file of rows, `{}` is not a file",
                    path.display()
                ),
            ));
        }
        sources.push(csv_source(&csv, catalog.clone())?);
        described.push(format!("{} (CSV rows)", path.display()));
    }
    for (i, raw) in doc.arrivals.into_iter().enumerate() {
        let origin = format!("{}:{}", input.name().display(), raw.referenced.line());
        let spec = arrival(input, &catalog, raw)?;
        described.push(format!(
            "arrivals[{i}]: {} by {}, {} at {}/s",
            spec.function, spec.user, spec.process, spec.rate
        ));
        sources.push(Box::new(arrivals::expand(spec, seed, i as u64, origin)));
    }
    let header = TraceHeader {
        functions,
        users,
        blocking: doc.blocking.unwrap_or(false),
        seed,
        sources: described,
    };
    Ok(Opened { header, sources })
}

/// Replace a function's `code_file` by the file's text (relative to the trace file).
fn read_code_file(
    input: &Input,
    f: &mut Spanned<super::yaml_de::Named<FunctionSpec>>,
) -> Result<(), TraceError> {
    let spec = &mut f.value.0;
    let Some(file) = spec.code_file.take() else {
        return Ok(());
    };
    if spec.code.is_some() {
        return Err(at(
            input,
            &f.referenced,
            "code_file",
            format!(
                "function `{}` has both `code` and `code_file`; expected one of them",
                spec.name
            ),
        ));
    }
    let base = input.name().parent().unwrap_or(std::path::Path::new(""));
    let path = base.join(&file);
    let code = crate::regular_file::read_text(&path, crate::regular_file::MAX_CODE_BYTES).map_err(
        |e| {
            at(
                input,
                &f.referenced,
                "code_file",
                format!(
                    "expected a readable UTF-8 regular file of code for `{}`, `{}`: {e}",
                    spec.name,
                    path.display()
                ),
            )
        },
    )?;
    spec.code = Some(code);
    Ok(())
}

/// Unwrap a declaration list, refusing bad and duplicate names.
fn declared<T>(
    input: &Input,
    list: Vec<Spanned<super::yaml_de::Named<T>>>,
    field: &str,
    name_of: impl Fn(&T) -> &String,
) -> Result<Vec<T>, TraceError> {
    let mut seen: std::collections::HashMap<String, u64> = Default::default();
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        let name = name_of(&item.value.0);
        let what = field.trim_end_matches('s');
        let checked = if what == "function" {
            catalog::check_function_name(name)
        } else {
            catalog::check_name(name, what)
        };
        checked.map_err(|m| at(input, &item.referenced, field, m))?;
        if let Some(first) = seen.insert(name.clone(), item.referenced.line()) {
            return Err(at(
                input,
                &item.referenced,
                field,
                format!("{what} `{name}` is declared twice (first on line {first})"),
            ));
        }
        out.push(item.value.0);
    }
    Ok(out)
}

/// Validate one arrival spec.
fn arrival(
    input: &Input,
    catalog: &Catalog,
    raw: Spanned<RawArrival>,
) -> Result<ArrivalSpec, TraceError> {
    let line = raw.referenced;
    let a = raw.value;
    catalog
        .check_function(&a.function.value)
        .map_err(|m| at(input, &a.function.referenced, "function", m))?;
    let user = match &a.user {
        Some(u) => {
            catalog
                .check_user(&u.value)
                .map_err(|m| at(input, &u.referenced, "user", m))?;
            Arc::from(u.value.as_str())
        }
        None => catalog.default_user(),
    };
    let rate = a.rate.value;
    // Past one arrival per nanosecond, times stop advancing: surely a typo.
    if !(rate.is_finite() && rate > 0.0 && rate <= 1e9) {
        return Err(at(
            input,
            &a.rate.referenced,
            "rate",
            format!(
                "expected a positive number of invocations per second (at most 1e9), \
                 got {rate}"
            ),
        ));
    }
    if a.duration.is_none() && a.count.is_none() {
        return Err(at(
            input,
            &line,
            "duration",
            "expected `duration` or `count` (or both), so that the arrivals end",
        ));
    }
    let start_ns = a.start.map_or(0, |s| s.value.0);
    let duration_ns = a.duration.map(|d| d.value.0);
    if start_ns.saturating_add(duration_ns.unwrap_or(0)) > num::MAX_NS {
        return Err(at(
            input,
            &line,
            "duration",
            format!(
                "expected the spec to end within {} s of the start",
                num::MAX_SECONDS
            ),
        ));
    }
    Ok(ArrivalSpec {
        function: Arc::from(a.function.value.as_str()),
        user,
        rate,
        process: a.process,
        start_ns,
        duration_ns,
        count: a.count.map(|c| c.value),
        params: a
            .params
            .map(|p| serde_json::Value::Object(p).to_string().into()),
        blocking: a.blocking,
    })
}

/// Where parsed rows go; `false` from `emit` stops the parse.
struct Sink<'a> {
    input: &'a Input,
    catalog: Catalog,
    interner: Interner,
    last: Option<(u64, u64)>,
    emit: &'a mut dyn FnMut(Result<Invocation, TraceError>) -> bool,
    stopped: bool,
}

impl Sink<'_> {
    fn accept(&mut self, raw: Spanned<RawRow>) -> bool {
        let r = self.convert(raw);
        let failed = r.is_err();
        let go_on = (self.emit)(r) && !failed;
        self.stopped = !go_on;
        go_on
    }

    fn convert(&mut self, raw: Spanned<RawRow>) -> Result<Invocation, TraceError> {
        let input = self.input;
        let line = raw.referenced;
        let r = raw.value;
        let (at_ns, loc, field) = match (&r.at, &r.at_ms) {
            (Some(a), None) => (a.value.0, a.referenced, "at"),
            (None, Some(ms)) => {
                let ns = num::f64_to_ns(ms.value * 1e6).ok_or_else(|| {
                    at(
                        input,
                        &ms.referenced,
                        "at_ms",
                        format!(
                            "expected milliseconds from 0 to {} s, got {}",
                            num::MAX_SECONDS,
                            ms.value
                        ),
                    )
                })?;
                (ns, ms.referenced, "at_ms")
            }
            (Some(_), Some(ms)) => {
                return Err(at(
                    input,
                    &ms.referenced,
                    "at_ms",
                    "give `at` or `at_ms`, not both",
                ))
            }
            (None, None) => {
                return Err(at(
                    input,
                    &line,
                    "at",
                    "expected `at` (seconds after the start) or `at_ms`",
                ))
            }
        };
        if let Some((prev, prev_line)) = self.last {
            if at_ns < prev {
                return Err(at(
                    input,
                    &loc,
                    field,
                    format!(
                        "invocations must be in non-decreasing time: {} s comes after {} s \
                         (line {prev_line}); sort them",
                        num::format_secs(at_ns),
                        num::format_secs(prev)
                    ),
                ));
            }
        }
        self.last = Some((at_ns, line.line()));
        let function = self
            .interner
            .get(
                &self.catalog,
                NameKind::Function,
                r.function.value.as_bytes(),
            )
            .map_err(|m| at(input, &r.function.referenced, "function", m))?;
        let user = match &r.user {
            Some(u) => self
                .interner
                .get(&self.catalog, NameKind::User, u.value.as_bytes())
                .map_err(|m| at(input, &u.referenced, "user", m))?,
            None => self.catalog.default_user(),
        };
        Ok(Invocation {
            row: 0,
            at_ns,
            function,
            user,
            params: r
                .params
                .map(|p| serde_json::Value::Object(p).to_string().into()),
            blocking: r.blocking,
        })
    }
}

/// The document with only `invocations` looked at.
struct DocSeed<'s, 'a>(&'s mut Sink<'a>);

impl<'de> DeserializeSeed<'de> for DocSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DocSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "invocations" {
                map.next_value_seed(RowsSeed(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// The `invocations` list, element by element.
struct RowsSeed<'s, 'a>(&'s mut Sink<'a>);

impl<'de> DeserializeSeed<'de> for RowsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RowsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of invocations")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(row) = seq.next_element::<Spanned<RawRow>>()? {
            if !self.0.accept(row) {
                return Err(de::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

/// Run the row pass, handing results to `emit`.
fn row_pass(
    input: &Input,
    catalog: Catalog,
    emit: &mut dyn FnMut(Result<Invocation, TraceError>) -> bool,
) {
    let mut sink = Sink {
        input,
        catalog,
        interner: Interner::default(),
        last: None,
        emit,
        stopped: false,
    };
    let result = input.open().and_then(|r| {
        serde_saphyr::with_deserializer_from_reader_with_options(r, options(), |de| {
            DocSeed(&mut sink).deserialize(de)
        })
        .map_err(|e| from_saphyr(input, &e))
    });
    if let Err(e) = result {
        if !sink.stopped {
            (sink.emit)(Err(e));
        }
    }
}

/// The explicit rows: collected now for a small file, streamed from a thread otherwise.
fn rows(input: &Input, catalog: Catalog) -> Result<Rows, TraceError> {
    if input.size().is_some_and(|n| n <= EAGER_BYTES) {
        let mut all = Vec::new();
        let mut first_error = None;
        row_pass(input, catalog, &mut |r| match r {
            Ok(inv) => {
                all.push(inv);
                true
            }
            Err(e) => {
                first_error = Some(e);
                false
            }
        });
        return match first_error {
            Some(e) => Err(e),
            None => Ok(Box::new(all.into_iter().map(Ok))),
        };
    }
    let (tx, rx) = sync_channel::<Msg>(8);
    let owned = input.clone();
    std::thread::Builder::new()
        .name("gale-yaml-rows".into())
        .spawn(move || stream_rows(&owned, catalog, tx))
        .map_err(|e| {
            TraceError::file(input.name(), format!("cannot start the YAML reader: {e}"))
        })?;
    Ok(Box::new(Streamed {
        rx,
        batch: Vec::new().into_iter(),
        ended: false,
    }))
}

enum Msg {
    Rows(Vec<Result<Invocation, TraceError>>),
    End,
}

fn stream_rows(input: &Input, catalog: Catalog, tx: SyncSender<Msg>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut connected = true;
    row_pass(input, catalog, &mut |r| {
        batch.push(r);
        if batch.len() >= BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            connected = tx.send(Msg::Rows(full)).is_ok();
        }
        connected
    });
    if connected {
        let _ = tx.send(Msg::Rows(batch));
        let _ = tx.send(Msg::End);
    }
}

struct Streamed {
    rx: Receiver<Msg>,
    batch: std::vec::IntoIter<Result<Invocation, TraceError>>,
    ended: bool,
}

impl Iterator for Streamed {
    type Item = Result<Invocation, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.batch.next() {
                return Some(r);
            }
            if self.ended {
                return None;
            }
            match self.rx.recv() {
                Ok(Msg::Rows(b)) => self.batch = b.into_iter(),
                Ok(Msg::End) => self.ended = true,
                Err(_) => {
                    self.ended = true;
                    return Some(Err(TraceError::file(
                        "<yaml reader>",
                        "the YAML row reader stopped unexpectedly",
                    )));
                }
            }
        }
    }
}
