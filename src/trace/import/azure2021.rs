//! Azure Functions 2021: `app,func,end_timestamp,duration` (seconds), one row per
//! invocation. The arrival is `end_timestamp − duration`, computed exactly in integer
//! nanoseconds from the decimal text. Functions are keyed on (app, func): func ids are
//! unique only within an app. The release is ordered by start, not by end; rows that come
//! up to [`REORDER_NS`] early are put back in order through a small heap, and a row earlier
//! than that is an error naming its line. Zero durations are kept and counted.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;

use csv::ByteRecord;

use super::cells::Table;
use super::fast_hash::FastMap;
use super::names::Namer;
use super::{push_work_params, ImportOptions, Imported, SharedReport};
use crate::trace::model::FunctionSpec;
use crate::trace::{num, Invocation, TraceError};

/// How far out of start order a row may come and still be put back in place.
pub const REORDER_NS: u64 = 10_000_000_000;

/// The columns, by name.
pub const COLUMNS: [&str; 4] = ["app", "func", "end_timestamp", "duration"];

/// Whether a header is Azure 2021's.
pub fn recognises(headers: &[String]) -> bool {
    COLUMNS.iter().all(|c| headers.iter().any(|h| h == c))
}

struct Cols {
    app: usize,
    func: usize,
    end: usize,
    duration: usize,
}

/// One row waiting in the reorder heap: (start, sequence, entry, duration).
type Held = Reverse<(u64, u64, u32, u64)>;

struct Azure2021Rows {
    files: VecDeque<PathBuf>,
    table: Option<(Table, Cols)>,
    rec: ByteRecord,
    heap: BinaryHeap<Held>,
    seq: u64,
    newest: u64,
    emitted: Option<u64>,
    origin: u64,
    opts: ImportOptions,
    keys: FastMap<Box<[u8]>, u32>,
    key_buf: Vec<u8>,
    params: String,
    entries: Vec<(Arc<str>, Arc<str>)>,
    users: FastMap<Box<[u8]>, Arc<str>>,
    namer: Namer,
    user_namer: Namer,
    report: SharedReport,
    done: bool,
}

/// Open Azure 2021 inputs (read in the order given, as one stream).
pub fn open(
    inputs: &[PathBuf],
    opts: &ImportOptions,
    report: SharedReport,
) -> Result<Imported, TraceError> {
    for p in inputs {
        if p.is_dir() {
            return Err(TraceError::file(
                p,
                "expected the Azure 2021 trace file (AzureFunctionsInvocationTraceForTwoWeeksJan2021.txt), got a directory",
            ));
        }
        let t = Table::open(p)?;
        for c in COLUMNS {
            t.column(c, "Azure 2021's columns app, func, end_timestamp, duration")?;
        }
    }
    let (d0, m0) = (
        opts.days.map_or(1, |d| d.0) as u64,
        opts.minutes.map_or(1, |m| m.0) as u64,
    );
    let rows = Azure2021Rows {
        files: inputs.iter().cloned().collect(),
        table: None,
        rec: ByteRecord::new(),
        heap: BinaryHeap::new(),
        seq: 0,
        newest: 0,
        emitted: None,
        origin: ((d0 - 1) * 86_400 + (m0 - 1) * 60) * 1_000_000_000,
        opts: opts.clone(),
        keys: FastMap::default(),
        key_buf: Vec::new(),
        params: String::with_capacity(40),
        entries: Vec::new(),
        users: FastMap::default(),
        namer: Namer::new(opts.names),
        user_namer: Namer::new(opts.names),
        report: report.clone(),
        done: false,
    };
    Ok(Imported {
        functions: Vec::new(),
        rows: Box::new(rows),
        report,
        sources: Vec::new(),
    })
}

impl Azure2021Rows {
    fn inside(opts: &ImportOptions, origin: u64, start_ns: u64) -> bool {
        let secs = start_ns / 1_000_000_000;
        let day = (secs / 86_400 + 1) as u32;
        let minute = ((secs % 86_400) / 60 + 1) as u32;
        opts.days.is_none_or(|(a, b)| (a..=b).contains(&day))
            && opts.minutes.is_none_or(|(a, b)| (a..=b).contains(&minute))
            && start_ns >= origin
    }

    /// Read the next record into the heap; `Ok(false)` when every file is read.
    fn read_one(&mut self) -> Result<bool, TraceError> {
        loop {
            if self.table.is_none() {
                let Some(path) = self.files.pop_front() else {
                    return Ok(false);
                };
                let t = Table::open(&path)?;
                let cols = Cols {
                    app: t.column("app", "the app id")?,
                    func: t.column("func", "the function id")?,
                    end: t.column("end_timestamp", "the end time in seconds")?,
                    duration: t.column("duration", "the duration in seconds")?,
                };
                self.table = Some((t, cols));
            }
            let Some((t, c)) = &mut self.table else {
                continue;
            };
            if !t.next(&mut self.rec)? {
                self.table = None;
                continue;
            }
            let rec = &self.rec;
            let secs = |col: usize, what: &str| {
                num::decimal_to_ns(rec.get(col).unwrap_or_default(), 9).ok_or_else(|| {
                    t.error(
                        rec,
                        col,
                        format!(
                            "expected {what} in seconds, a number from 0 to {}, got `{}`",
                            num::MAX_SECONDS,
                            String::from_utf8_lossy(rec.get(col).unwrap_or_default())
                        ),
                    )
                })
            };
            let end = secs(c.end, "the end time")?;
            let dur = secs(c.duration, "the duration")?;
            let Some(start) = end
                .checked_sub(dur)
                .filter(|&s| Self::inside(&self.opts, self.origin, s))
            else {
                if let Ok(mut r) = self.report.lock() {
                    r.outside_window += 1;
                }
                continue;
            };
            if let Some(last) = self.emitted {
                if start < last {
                    return Err(t.error(
                        rec,
                        c.end,
                        format!(
                            "rows must be ordered by start (end_timestamp − duration) to \
                             within {} s: this row starts at {} s, after a row starting at \
                             {} s was already taken; sort the file by start",
                            REORDER_NS / 1_000_000_000,
                            num::format_secs(start),
                            num::format_secs(last)
                        ),
                    ));
                }
            }
            let app = rec.get(c.app).unwrap_or_default();
            let func = rec.get(c.func).unwrap_or_default();
            self.key_buf.clear();
            self.key_buf.extend_from_slice(app);
            self.key_buf.push(0);
            self.key_buf.extend_from_slice(func);
            let entry = match self.keys.get(self.key_buf.as_slice()) {
                Some(&e) => e,
                None => {
                    let text = |col: usize| {
                        std::str::from_utf8(rec.get(col).unwrap_or_default())
                            .map_err(|_| t.error(rec, col, "expected UTF-8 text"))
                    };
                    let (app_s, func_s) = (text(c.app)?, text(c.func)?);
                    if app_s.is_empty() || func_s.is_empty() {
                        let col = if app_s.is_empty() { c.app } else { c.func };
                        return Err(t.error(rec, col, "expected an id, got an empty cell"));
                    }
                    let user = match self.users.get(app) {
                        Some(u) => u.clone(),
                        None => {
                            let u = self.user_namer.name(&[app_s]);
                            self.users.insert(app.into(), u.clone());
                            u
                        }
                    };
                    let name = self.namer.name(&[app_s, func_s]);
                    if let Ok(mut r) = self.report.lock() {
                        r.functions.push(FunctionSpec::synthetic(&name));
                    }
                    let e = self.entries.len() as u32;
                    self.entries.push((name, user));
                    self.keys.insert(self.key_buf.clone().into_boxed_slice(), e);
                    e
                }
            };
            self.heap.push(Reverse((start, self.seq, entry, dur)));
            self.seq += 1;
            self.newest = self.newest.max(start);
            return Ok(true);
        }
    }

    fn emit(&mut self, (start, _, entry, dur): (u64, u64, u32, u64)) -> Invocation {
        self.emitted = Some(start);
        if dur == 0 {
            if let Ok(mut r) = self.report.lock() {
                r.zero_durations += 1;
            }
        }
        let (function, user) = &self.entries[entry as usize];
        self.params.clear();
        push_work_params(&mut self.params, self.opts.work, Some(dur as f64 / 1e6), None);
        Invocation {
            row: 0,
            at_ns: start - self.origin,
            function: function.clone(),
            user: user.clone(),
            params: Some(Box::from(self.params.as_str())),
            blocking: None,
        }
    }
}

impl Iterator for Azure2021Rows {
    type Item = Result<Invocation, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            if let Some(Reverse(top)) = self.heap.peek() {
                if top.0.saturating_add(REORDER_NS) <= self.newest {
                    let Reverse(top) = self.heap.pop()?;
                    return Some(Ok(self.emit(top)));
                }
            }
            match self.read_one() {
                Ok(true) => {}
                Ok(false) => {
                    let Reverse(top) = self.heap.pop().or_else(|| {
                        self.done = true;
                        None
                    })?;
                    // Input exhausted: drain the heap in order.
                    self.newest = u64::MAX;
                    return Some(Ok(self.emit(top)));
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
