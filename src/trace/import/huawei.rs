//! Huawei 2023 (SoCC'23; public and private releases): one directory per metric, one
//! `day_NNN.csv` per day, wide rows `day,time,<function ids…>` with `time` in seconds since
//! the trace start and empty cells for inactive functions. Requests per second are used
//! when present (private), else per minute (public); `function_delay_second` or
//! `function_delay_minute` beside them gives each bucket's mean execution time (ms), read in
//! step with the requests. Rows are time steps, so they stream without regrouping.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use csv::ByteRecord;

use super::buckets::{Bucket, BucketRows, BucketSource, Entries, Entry, Expansion};
use super::cells::{self, Table};
use super::names::Namer;
use super::spread::{Dist, MAX_ENTRIES};
use super::{ImportOptions, Imported, SharedReport};
use crate::trace::catalog::DEFAULT_USER;
use crate::trace::model::FunctionSpec;
use crate::trace::TraceError;

/// Whether a header is a Huawei wide table's.
pub fn recognises(headers: &[String]) -> bool {
    headers.len() > 2 && headers[0] == "day" && headers[1] == "time"
}

/// Day files of one metric directory, by day number.
fn day_files(dir: &Path) -> Result<BTreeMap<u32, PathBuf>, TraceError> {
    let mut out = BTreeMap::new();
    for e in
        std::fs::read_dir(dir).map_err(|e| TraceError::file(dir, format!("cannot list: {e}")))?
    {
        let p = e.map_err(|e| TraceError::file(dir, e.to_string()))?.path();
        if p.is_file() && p.extension().is_some_and(|x| x == "csv") {
            if let Some(d) = cells::day_of(&p) {
                out.insert(d, p);
            }
        }
    }
    Ok(out)
}

struct Plan {
    requests: Vec<(u32, PathBuf)>,
    delays: BTreeMap<u32, PathBuf>,
    bucket_s: u64,
}

fn plan(inputs: &[PathBuf], opts: &ImportOptions) -> Result<Plan, TraceError> {
    let mut requests = BTreeMap::new();
    let mut delays = BTreeMap::new();
    let mut bucket_s = 60;
    for input in inputs {
        if input.is_file() {
            let d = cells::day_of(input).unwrap_or(requests.len() as u32);
            if input
                .parent()
                .is_some_and(|p| p.to_string_lossy().contains("second"))
            {
                bucket_s = 1;
            }
            requests.insert(d, input.clone());
            continue;
        }
        let sub = |n: &str| input.join(n);
        let (req_dir, delay_dir) = if sub("requests_second").is_dir() {
            bucket_s = 1;
            (sub("requests_second"), Some(sub("function_delay_second")))
        } else if sub("requests_minute").is_dir() {
            (sub("requests_minute"), Some(sub("function_delay_minute")))
        } else {
            if input.to_string_lossy().contains("second") {
                bucket_s = 1;
            }
            (input.clone(), None)
        };
        requests.extend(day_files(&req_dir)?);
        if let Some(d) = delay_dir.filter(|d| d.is_dir()) {
            delays.extend(day_files(&d)?);
        }
    }
    // gale counts days from 1; the release's day_000 is day 1.
    let requests: Vec<(u32, PathBuf)> = requests
        .into_iter()
        .filter(|(d, _)| opts.days.is_none_or(|(a, b)| (a..=b).contains(&(d + 1))))
        .collect();
    if requests.is_empty() {
        return Err(TraceError::file(
            &inputs[0],
            "no Huawei request tables found for the days asked: expected requests_second/ or \
             requests_minute/ with day_NNN.csv files (day,time,<function ids>)",
        ));
    }
    Ok(Plan {
        requests,
        delays,
        bucket_s,
    })
}

/// Open Huawei 2023 inputs.
pub fn open(
    inputs: &[PathBuf],
    opts: &ImportOptions,
    report: SharedReport,
) -> Result<Imported, TraceError> {
    let plan = plan(inputs, opts)?;
    // Functions are the columns of every selected request table, in order of appearance.
    let mut namer = Namer::new(opts.names);
    let mut entries = Entries::default();
    let mut by_id: HashMap<String, u32> = HashMap::new();
    let user: Arc<str> = Arc::from(DEFAULT_USER);
    for (_, p) in &plan.requests {
        let t = Table::open(p)?;
        if !recognises(&t.headers) {
            return Err(TraceError::file(
                p,
                "expected a Huawei table: a header `day,time,<function ids…>`",
            )
            .at_line(1));
        }
        for h in &t.headers[2..] {
            if !by_id.contains_key(h) {
                if entries.list.len() as u32 >= MAX_ENTRIES {
                    return Err(TraceError::file(p, "more than 2^28 functions"));
                }
                by_id.insert(h.clone(), entries.list.len() as u32);
                entries.list.push(Entry {
                    function: namer.name(&[h]),
                    user: user.clone(),
                    duration: None,
                    memory: None,
                    extra: None,
                });
            }
        }
    }
    let functions: Vec<FunctionSpec> = entries
        .list
        .iter()
        .map(|e| FunctionSpec::synthetic(&e.function))
        .collect();
    if let Ok(mut r) = report.lock() {
        r.known_functions = functions.len();
        if plan.delays.is_empty() {
            r.notes
                .push("no function_delay table beside the requests: rows carry no duration".into());
        }
    }
    let src = Source {
        files: plan.requests.into(),
        delays: plan.delays,
        bucket_s: plan.bucket_s,
        opts: opts.clone(),
        by_id,
        entries,
        current: None,
        origin: None,
        last_time: None,
        rec: ByteRecord::new(),
        report: report.clone(),
    };
    let how = Expansion {
        seed: opts.seed,
        iat: opts.iat,
        shift: opts.shift,
        work: opts.work,
    };
    Ok(Imported {
        functions,
        rows: Box::new(BucketRows::new(src, how, report.clone())),
        report,
        sources: Vec::new(),
    })
}

/// A table being read: its file, and for each column the entry it counts (`None` for
/// `day` and `time`).
struct Open {
    table: Table,
    entry_of: Vec<Option<u32>>,
    delay: Option<Delay>,
}

/// The function-delay table of the same day, read in step.
struct Delay {
    table: Table,
    entry_of: Vec<Option<u32>>,
    rec: ByteRecord,
    /// Time of the row in `rec`, once read; `None` at the end.
    time: Option<f64>,
    started: bool,
}

impl Delay {
    /// Advance to the last row at or before `t`; its values become the entries' durations.
    fn apply(&mut self, t: f64, entries: &mut Entries) -> Result<(), TraceError> {
        loop {
            if !self.started {
                self.started = true;
                self.time = self.read()?;
            }
            let Some(time) = self.time else {
                return Ok(());
            };
            if time > t {
                return Ok(());
            }
            for (c, e) in self.entry_of.iter().enumerate() {
                let Some(e) = e else { continue };
                let cell = self.rec.get(c).unwrap_or_default();
                let d = if cell.trim_ascii().is_empty() {
                    None
                } else {
                    let v = cells::number(cell).map_err(|m| self.table.error(&self.rec, c, m))?;
                    Some(Dist::constant(v as f32))
                };
                entries.list[*e as usize].duration = d;
            }
            self.time = self.read()?;
        }
    }

    fn read(&mut self) -> Result<Option<f64>, TraceError> {
        if !self.table.next(&mut self.rec)? {
            return Ok(None);
        }
        let t = cells::number(self.rec.get(1).unwrap_or_default())
            .map_err(|m| self.table.error(&self.rec, 1, m))?;
        Ok(Some(t))
    }
}

struct Source {
    files: VecDeque<(u32, PathBuf)>,
    delays: BTreeMap<u32, PathBuf>,
    bucket_s: u64,
    opts: ImportOptions,
    by_id: HashMap<String, u32>,
    entries: Entries,
    current: Option<Open>,
    origin: Option<u64>,
    last_time: Option<u64>,
    rec: ByteRecord,
    report: SharedReport,
}

impl Source {
    fn columns(&self, t: &Table) -> Vec<Option<u32>> {
        t.headers
            .iter()
            .enumerate()
            .map(|(i, h)| {
                if i < 2 {
                    None
                } else {
                    self.by_id.get(h).copied()
                }
            })
            .collect()
    }
}

impl BucketSource for Source {
    fn next_bucket(
        &mut self,
        cells_out: &mut Vec<(u32, u32)>,
    ) -> Result<Option<Bucket>, TraceError> {
        loop {
            let Some(open) = &mut self.current else {
                let Some((day, path)) = self.files.pop_front() else {
                    return Ok(None);
                };
                let table = Table::open(&path)?;
                let entry_of = self.columns(&table);
                // Durations hold within a day's table only: a day without one has none.
                for e in &mut self.entries.list {
                    e.duration = None;
                }
                let delay = match self.delays.get(&day) {
                    Some(p) => {
                        let t = Table::open(p)?;
                        let entry_of = self.columns(&t);
                        Some(Delay {
                            table: t,
                            entry_of,
                            rec: ByteRecord::new(),
                            time: None,
                            started: false,
                        })
                    }
                    None => None,
                };
                self.current = Some(Open {
                    table,
                    entry_of,
                    delay,
                });
                continue;
            };
            if !open.table.next(&mut self.rec)? {
                self.current = None;
                continue;
            }
            let rec = &self.rec;
            let secs = cells::number(rec.get(1).unwrap_or_default())
                .map_err(|m| open.table.error(rec, 1, m))?;
            let time = secs.floor() as u64;
            if let Some(last) = self.last_time {
                if time < last {
                    return Err(open.table.error(
                        rec,
                        1,
                        format!("rows must be in increasing time: {time} s comes after {last} s"),
                    ));
                }
            }
            self.last_time = Some(time);
            let minute = (time % 86_400) / 60 + 1;
            let inside = self
                .opts
                .minutes
                .is_none_or(|(a, b)| (u64::from(a)..=u64::from(b)).contains(&minute));
            cells_out.clear();
            for (c, e) in open.entry_of.iter().enumerate() {
                let Some(e) = e else { continue };
                let n = cells::count(rec.get(c).unwrap_or_default())
                    .map_err(|m| open.table.error(rec, c, m))?;
                if n > 0 {
                    cells_out.push((*e, n));
                }
            }
            if !inside {
                let n: u64 = cells_out.iter().map(|&(_, n)| u64::from(n)).sum();
                if let Ok(mut r) = self.report.lock() {
                    r.outside_window += n;
                }
                continue;
            }
            if let Some(d) = &mut open.delay {
                d.apply(secs, &mut self.entries)?;
            }
            let origin = *self.origin.get_or_insert(time);
            return Ok(Some(Bucket {
                number: time / self.bucket_s,
                start_ns: (time - origin) * 1_000_000_000,
                len_ns: self.bucket_s * 1_000_000_000,
            }));
        }
    }

    fn entries(&self) -> &Entries {
        &self.entries
    }
}
