//! CSV traces: one invocation per record, streamed in bounded memory.
//!
//! Columns (header row required, any order): `at` (seconds) or `at_ms`, `function`,
//! optional `user`, `params` (JSON object text), `blocking`, and `param.NAME` columns.
//! One `ByteRecord` is reused for every record and names are interned, so the reader's
//! memory does not grow with the number of rows.

use std::io::Read;
use std::sync::Arc;

use csv::ByteRecord;
use serde_json::{Map, Value};

use super::catalog::{Catalog, Interner, NameKind};
use super::input::Input;
use super::num;
use super::{Invocation, Rows, TraceError};

/// Lines starting with this byte are comments.
const COMMENT: u8 = b'#';

/// Which column holds what.
#[derive(Debug, Default)]
struct Columns {
    at: Option<usize>,
    at_ms: Option<usize>,
    function: usize,
    user: Option<usize>,
    params: Option<usize>,
    blocking: Option<usize>,
    param_cols: Vec<(usize, String)>,
}

/// Open a CSV trace: the header row is checked now, records are read as the rows are pulled.
pub fn read(input: &Input, catalog: Catalog) -> Result<Rows, TraceError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .comment(Some(COMMENT))
        .buffer_capacity(64 * 1024)
        .from_reader(input.open()?);
    let header = rdr.byte_headers().map_err(|e| csv_error(input, e))?.clone();
    let cols = parse_header(input, &header)?;
    Ok(Box::new(CsvRows {
        rdr,
        rec: ByteRecord::new(),
        cols,
        catalog,
        interner: Interner::default(),
        input: input.clone(),
        last: None,
        done: false,
    }))
}

fn parse_header(input: &Input, header: &ByteRecord) -> Result<Columns, TraceError> {
    let file = input.name();
    // Comment lines may come before the header row.
    let line = header
        .position()
        .and_then(|p| input.line_of_byte(p.byte(), Some(COMMENT)))
        .unwrap_or(1);
    let err = |field: &str, msg: String| TraceError::file(file, msg).at_line(line).field(field);
    if header.is_empty() || header.iter().all(|h| h.trim_ascii().is_empty()) {
        return Err(TraceError::file(
            file,
            "expected a header row naming the columns (at, function, user, params, blocking, \
             param.NAME), got an empty file",
        )
        .at_line(line));
    }
    let mut cols = Columns::default();
    let mut function = None;
    let mut seen: Vec<String> = Vec::new();
    for (i, raw) in header.iter().enumerate() {
        let name = std::str::from_utf8(raw.trim_ascii())
            .map_err(|_| err("?", "expected UTF-8 column names".into()))?
            .to_string();
        if seen.contains(&name) {
            return Err(err(&name, "column appears twice".into()));
        }
        let slot = match name.as_str() {
            "at" => &mut cols.at,
            "at_ms" => &mut cols.at_ms,
            "function" => &mut function,
            "user" => &mut cols.user,
            "params" => &mut cols.params,
            "blocking" => &mut cols.blocking,
            other => match other.strip_prefix("param.") {
                Some(p) if !p.is_empty() => {
                    cols.param_cols.push((i, p.to_string()));
                    seen.push(name);
                    continue;
                }
                _ => {
                    return Err(err(
                        other,
                        "unknown column: expected at, at_ms, function, user, params, blocking \
                         or param.NAME"
                            .into(),
                    ))
                }
            },
        };
        *slot = Some(i);
        seen.push(name);
    }
    match (cols.at, cols.at_ms) {
        (None, None) => return Err(err("at", "missing column: expected `at` or `at_ms`".into())),
        (Some(_), Some(_)) => {
            return Err(err("at_ms", "give `at` or `at_ms`, not both".into()));
        }
        _ => {}
    }
    cols.function = function.ok_or_else(|| err("function", "missing column".into()))?;
    Ok(cols)
}

/// Turn a csv crate error into a located trace error.
fn csv_error(input: &Input, e: csv::Error) -> TraceError {
    let line = e
        .position()
        .and_then(|p| input.line_of_byte(p.byte(), Some(COMMENT)));
    let msg = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("expected {expected_len} fields as in the header row, got {len}"),
        csv::ErrorKind::Io(io) => format!("read error: {io}"),
        _ => e.to_string(),
    };
    let mut err = TraceError::file(input.name(), msg);
    err.line = line;
    err
}

struct CsvRows {
    rdr: csv::Reader<Box<dyn Read + Send>>,
    rec: ByteRecord,
    cols: Columns,
    catalog: Catalog,
    interner: Interner,
    input: Input,
    /// Time and starting byte of the previous record, to enforce the order.
    last: Option<(u64, u64)>,
    done: bool,
}

impl CsvRows {
    /// The record in `self.rec`, which starts at byte `byte`.
    fn row(&mut self, byte: u64) -> Result<Invocation, TraceError> {
        let rec = &self.rec;
        let input = &self.input;
        let err = |field: &str, msg: String| located(input, byte, field, msg);
        let (col, field, digits) = match (self.cols.at, self.cols.at_ms) {
            (Some(c), _) => (c, "at", 9),
            (_, Some(c)) => (c, "at_ms", 6),
            (None, None) => return Err(err("at", "missing column".into())),
        };
        let text = rec.get(col).unwrap_or_default();
        let at_ns = num::decimal_to_ns(text, digits).ok_or_else(|| {
            err(
                field,
                format!(
                    "expected a time after the start, a number from 0 to {} s, got `{}`",
                    num::MAX_SECONDS,
                    String::from_utf8_lossy(text)
                ),
            )
        })?;
        if let Some((prev, prev_byte)) = self.last {
            if at_ns < prev {
                let prev_line = input.line_of_byte(prev_byte, Some(COMMENT)).unwrap_or(0);
                return Err(err(
                    field,
                    format!(
                        "rows must be in non-decreasing time: {} s comes after {} s (line {}); \
                         sort the file",
                        num::format_secs(at_ns),
                        num::format_secs(prev),
                        prev_line
                    ),
                ));
            }
        }
        let fname = rec.get(self.cols.function).unwrap_or_default();
        let function = self
            .interner
            .get(&self.catalog, NameKind::Function, fname)
            .map_err(|m| err("function", m))?;
        let user = match self.cols.user.and_then(|c| rec.get(c)) {
            Some(u) if !u.is_empty() => self
                .interner
                .get(&self.catalog, NameKind::User, u)
                .map_err(|m| err("user", m))?,
            _ => self.catalog.default_user(),
        };
        let params = self.params(byte)?;
        let blocking = match self.cols.blocking.and_then(|c| rec.get(c)) {
            None => None,
            Some(b) => parse_bool(b.trim_ascii()).map_err(|m| err("blocking", m))?,
        };
        self.last = Some((at_ns, byte));
        Ok(Invocation {
            row: 0,
            at_ns,
            function,
            user,
            params,
            blocking,
        })
    }

    fn params(&self, byte: u64) -> Result<Option<Box<str>>, TraceError> {
        let err = |field: &str, msg: String| located(&self.input, byte, field, msg);
        let text = match self.cols.params.and_then(|c| self.rec.get(c)) {
            Some(t) if !t.trim_ascii().is_empty() => {
                Some(json_object_text(t).map_err(|m| err("params", m))?)
            }
            _ => None,
        };
        let mut extra = self
            .cols
            .param_cols
            .iter()
            .filter_map(|(c, name)| Some((name, self.rec.get(*c)?)))
            .filter(|(_, v)| !v.is_empty())
            .peekable();
        if extra.peek().is_none() {
            return Ok(text.map(Box::from));
        }
        let mut map: Map<String, Value> = match text {
            Some(t) => serde_json::from_str(t).map_err(|e| err("params", e.to_string()))?,
            None => Map::new(),
        };
        for (name, v) in extra {
            let v = std::str::from_utf8(v).map_err(|_| {
                err(
                    &format!("param.{name}"),
                    "expected UTF-8 text, got invalid bytes".into(),
                )
            })?;
            map.insert(name.clone(), num::json_or_string(v));
        }
        Ok(Some(Value::Object(map).to_string().into_boxed_str()))
    }
}

/// Check that `bytes` hold exactly one JSON object; return it as text, untouched (so that a
/// converted trace reads back byte for byte).
fn json_object_text(bytes: &[u8]) -> Result<&str, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "expected UTF-8 text".to_string())?;
    let trimmed = text.trim();
    if !trimmed.starts_with('{') {
        return Err(format!(
            "expected a JSON object such as {{\"n\": 3}}, got `{}`",
            shorten(trimmed)
        ));
    }
    serde_json::from_str::<serde::de::IgnoredAny>(trimmed)
        .map_err(|e| format!("expected a JSON object: {e}"))?;
    Ok(trimmed)
}

fn shorten(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// An error about the record starting at byte `byte`.
fn located(input: &Input, byte: u64, field: &str, msg: String) -> TraceError {
    let mut e = TraceError::file(input.name(), msg).field(field);
    e.line = input.line_of_byte(byte, Some(COMMENT));
    e
}

/// `true`/`false` (any case), `1`/`0`; empty means "as the trace says".
pub fn parse_bool(b: &[u8]) -> Result<Option<bool>, String> {
    if b.is_empty() {
        Ok(None)
    } else if b.eq_ignore_ascii_case(b"true") || b == b"1" {
        Ok(Some(true))
    } else if b.eq_ignore_ascii_case(b"false") || b == b"0" {
        Ok(Some(false))
    } else {
        Err(format!(
            "expected true or false, got `{}`",
            String::from_utf8_lossy(b)
        ))
    }
}

impl Iterator for CsvRows {
    type Item = Result<Invocation, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.rdr.read_byte_record(&mut self.rec) {
            Ok(true) => {
                let byte = self.rec.position().map_or(0, |p| p.byte());
                let r = self.row(byte);
                self.done = r.is_err();
                Some(r)
            }
            Ok(false) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(csv_error(&self.input, e)))
            }
        }
    }
}

/// Rows of a CSV trace held in memory, numbered as [`super::open`] numbers them (tests and
/// fuzzing).
pub fn from_bytes(name: &str, data: &[u8]) -> Result<Rows, TraceError> {
    let input = Input::Bytes {
        name: name.into(),
        data: Arc::from(data),
    };
    Ok(super::merge::merge(vec![read(&input, Catalog::open())?]))
}
