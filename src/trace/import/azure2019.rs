//! Azure Functions 2019: `invocations_per_function_md.anon.dNN.csv` (per-minute counts),
//! `function_durations_percentiles.anon.dNN.csv` and `app_memory_percentiles.anon.dNN.csv`,
//! or In-Vitro's derived `invocations.csv`, `durations.csv`, `memory.csv` (reordered hash
//! columns, float cells, minute labels from an offset such as 540, memory per function).
//!
//! Files are recognised by their header, not their name. Invocation files are read twice:
//! once for the functions (so that they are declared before any row), then one day at a
//! time, regrouped by minute through [`super::wide::Transposer`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use csv::ByteRecord;

use super::buckets::{Bucket, BucketRows, BucketSource, Entries, Entry, Expansion};
use super::cells::{self, Table};
use super::names::Namer;
use super::spread::{Dist, MAX_ENTRIES};
use super::wide::Transposer;
use super::{memory_limit, ImportOptions, Imported, SharedReport};
use crate::trace::model::FunctionSpec;
use crate::trace::TraceError;

const MINUTE_NS: u64 = 60_000_000_000;
const DURATION_PCTS: [(f32, &str); 7] = [
    (0.0, "percentile_Average_0"),
    (1.0, "percentile_Average_1"),
    (25.0, "percentile_Average_25"),
    (50.0, "percentile_Average_50"),
    (75.0, "percentile_Average_75"),
    (99.0, "percentile_Average_99"),
    (100.0, "percentile_Average_100"),
];
const MEMORY_PCTS: [(f32, &str); 8] = [
    (1.0, "AverageAllocatedMb_pct1"),
    (5.0, "AverageAllocatedMb_pct5"),
    (25.0, "AverageAllocatedMb_pct25"),
    (50.0, "AverageAllocatedMb_pct50"),
    (75.0, "AverageAllocatedMb_pct75"),
    (95.0, "AverageAllocatedMb_pct95"),
    (99.0, "AverageAllocatedMb_pct99"),
    (100.0, "AverageAllocatedMb_pct100"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Invocations,
    Durations,
    Memory,
}

/// The files of the release found among the inputs, by kind and day.
#[derive(Default)]
struct Files {
    invocations: BTreeMap<u32, PathBuf>,
    durations: BTreeMap<u32, PathBuf>,
    memory: BTreeMap<u32, PathBuf>,
}

fn kind_of(headers: &[String]) -> Option<Kind> {
    let has = |n: &str| headers.iter().any(|h| h == n);
    if has("percentile_Average_50") {
        Some(Kind::Durations)
    } else if has("AverageAllocatedMb_pct50") {
        Some(Kind::Memory)
    } else if has("HashFunction") && headers.iter().any(|h| minute_label(h).is_some()) {
        Some(Kind::Invocations)
    } else {
        None
    }
}

fn minute_label(h: &str) -> Option<u32> {
    h.parse::<u32>().ok().filter(|m| (1..=1440).contains(m))
}

/// Whether `path` (a file, or a directory holding one) looks like Azure 2019.
pub fn recognises(headers: &[String]) -> bool {
    kind_of(headers).is_some()
}

fn collect(inputs: &[PathBuf]) -> Result<Files, TraceError> {
    let mut files = Files::default();
    let mut add = |path: &Path, explicit: bool| -> Result<(), TraceError> {
        let table = Table::open(path)?;
        let Some(kind) = kind_of(&table.headers) else {
            if explicit {
                return Err(TraceError::file(
                    path,
                    "not an Azure 2019 file: expected the columns of invocations \
                     (HashFunction, 1…1440), durations (percentile_Average_*) or memory \
                     (AverageAllocatedMb_pct*)",
                )
                .at_line(1));
            }
            return Ok(());
        };
        let map = match kind {
            Kind::Invocations => &mut files.invocations,
            Kind::Durations => &mut files.durations,
            Kind::Memory => &mut files.memory,
        };
        // Derived files carry no day: they are one excerpt, day 1.
        let day = cells::day_of(path).unwrap_or(1);
        if let Some(other) = map.insert(day, path.to_path_buf()) {
            return Err(TraceError::file(
                path,
                format!(
                    "two files of the same kind for day {day}: this one and {}",
                    other.display()
                ),
            ));
        }
        Ok(())
    };
    for input in inputs {
        if input.is_dir() {
            let mut list: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|e| TraceError::file(input, format!("cannot list: {e}")))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "csv"))
                .collect();
            list.sort();
            for p in list {
                add(&p, false)?;
            }
        } else {
            add(input, true)?;
        }
    }
    if files.invocations.is_empty() {
        return Err(TraceError::file(
            &inputs[0],
            "no Azure 2019 invocation counts found: expected \
             invocations_per_function_md.anon.dNN.csv (or In-Vitro's invocations.csv)",
        ));
    }
    Ok(files)
}

/// 128 bits of SHA-256 over the parts: a compact key that cannot collide in practice.
fn key(parts: &[&[u8]]) -> [u8; 16] {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        ctx.update(&(p.len() as u64).to_le_bytes());
        ctx.update(p);
    }
    let d = ctx.finish();
    let mut k = [0u8; 16];
    k.copy_from_slice(&d.as_ref()[..16]);
    k
}

/// The functions and apps of the selected days.
struct Registry {
    by_key: HashMap<[u8; 16], u32>,
    apps: HashMap<[u8; 16], u32>,
    app_of: Vec<u32>,
    app_functions: Vec<u32>,
    entries: Entries,
}

struct HashCols {
    owner: usize,
    app: usize,
    function: usize,
}

fn hash_cols(t: &Table, with_function: bool) -> Result<(usize, usize, Option<usize>), TraceError> {
    let owner = t.column("HashOwner", "the owner hash of each row")?;
    let app = t.column("HashApp", "the app hash of each row")?;
    let function = if with_function {
        Some(t.column("HashFunction", "the function hash of each row")?)
    } else {
        t.find("HashFunction")
    };
    Ok((owner, app, function))
}

fn invocation_cols(t: &Table) -> Result<HashCols, TraceError> {
    let (owner, app, function) = hash_cols(t, true)?;
    Ok(HashCols {
        owner,
        app,
        function: function.unwrap_or(0),
    })
}

fn prescan(paths: &[(u32, PathBuf)], opts: &ImportOptions) -> Result<Registry, TraceError> {
    let mut reg = Registry {
        by_key: HashMap::new(),
        apps: HashMap::new(),
        app_of: Vec::new(),
        app_functions: Vec::new(),
        entries: Entries::default(),
    };
    let mut namer = Namer::new(opts.names);
    let mut user_namer = Namer::new(opts.names);
    let mut users: HashMap<[u8; 16], Arc<str>> = HashMap::new();
    let mut rec = ByteRecord::new();
    for (_, path) in paths {
        let mut t = Table::open(path)?;
        let c = invocation_cols(&t)?;
        while t.next(&mut rec)? {
            let owner = cells::text(&t, &rec, c.owner)?;
            let app = cells::text(&t, &rec, c.app)?;
            let func = cells::text(&t, &rec, c.function)?;
            let k = key(&[owner.as_bytes(), app.as_bytes(), func.as_bytes()]);
            if reg.by_key.contains_key(&k) {
                continue;
            }
            if reg.entries.list.len() as u32 >= MAX_ENTRIES {
                return Err(t.error(&rec, c.function, "more than 2^28 functions"));
            }
            let ak = key(&[owner.as_bytes(), app.as_bytes()]);
            let next_app = reg.apps.len() as u32;
            let app_idx = *reg.apps.entry(ak).or_insert(next_app);
            if app_idx as usize == reg.app_functions.len() {
                reg.app_functions.push(0);
            }
            reg.app_functions[app_idx as usize] += 1;
            reg.app_of.push(app_idx);
            let ok = key(&[owner.as_bytes()]);
            let user = users
                .entry(ok)
                .or_insert_with(|| user_namer.name(&[owner]))
                .clone();
            reg.by_key.insert(k, reg.entries.list.len() as u32);
            reg.entries.list.push(Entry {
                function: namer.name(&[app, func]),
                user,
                duration: None,
                memory: None,
                extra: None,
            });
        }
    }
    Ok(reg)
}

fn percentiles(
    t: &Table,
    rec: &ByteRecord,
    cols: &[(f32, usize)],
) -> Result<Option<Dist>, TraceError> {
    let mut points = Vec::with_capacity(cols.len());
    for &(p, c) in cols {
        let v = cells::number(rec.get(c).unwrap_or_default()).map_err(|m| t.error(rec, c, m))?;
        points.push((p, v as f32));
    }
    Ok(Dist::new(points))
}

fn load_durations(path: &Path, reg: &mut Registry) -> Result<u32, TraceError> {
    let mut t = Table::open(path)?;
    let (owner, app, function) = hash_cols(&t, true)?;
    let function = function.unwrap_or(0);
    let cols = DURATION_PCTS
        .iter()
        .map(|&(p, n)| Ok((p, t.column(n, "duration percentiles in ms")?)))
        .collect::<Result<Vec<_>, TraceError>>()?;
    let mut rec = ByteRecord::new();
    let mut found = 0;
    while t.next(&mut rec)? {
        let k = key(&[
            rec.get(owner).unwrap_or_default(),
            rec.get(app).unwrap_or_default(),
            rec.get(function).unwrap_or_default(),
        ]);
        let Some(&e) = reg.by_key.get(&k) else {
            continue;
        };
        let d = percentiles(&t, &rec, &cols)?;
        let entry = &mut reg.entries.list[e as usize];
        if entry.duration.is_none() && d.is_some() {
            found += 1;
        }
        entry.duration = d;
    }
    Ok(found)
}

fn load_memory(path: &Path, reg: &mut Registry) -> Result<u32, TraceError> {
    let mut t = Table::open(path)?;
    let (owner, app, function) = hash_cols(&t, false)?;
    let cols = MEMORY_PCTS
        .iter()
        .map(|&(p, n)| Ok((p, t.column(n, "memory percentiles in MB")?)))
        .collect::<Result<Vec<_>, TraceError>>()?;
    let mut rec = ByteRecord::new();
    let mut per_app: HashMap<u32, Dist> = HashMap::new();
    let mut found = 0;
    while t.next(&mut rec)? {
        let o = rec.get(owner).unwrap_or_default();
        let a = rec.get(app).unwrap_or_default();
        if let Some(fc) = function {
            // Derived layout: already one row per function (the app's memory split).
            let k = key(&[o, a, rec.get(fc).unwrap_or_default()]);
            if let Some(&e) = reg.by_key.get(&k) {
                let m = percentiles(&t, &rec, &cols)?;
                let entry = &mut reg.entries.list[e as usize];
                if entry.memory.is_none() && m.is_some() {
                    found += 1;
                }
                entry.memory = m;
            }
        } else if let Some(&ai) = reg.apps.get(&key(&[o, a])) {
            if let Some(d) = percentiles(&t, &rec, &cols)? {
                per_app.insert(ai, d);
            }
        }
    }
    if function.is_none() {
        // The release gives memory per app: split it evenly over the app's functions, as
        // In-Vitro's sampler does.
        for (e, entry) in reg.entries.list.iter_mut().enumerate() {
            let ai = reg.app_of[e];
            if let Some(d) = per_app.get(&ai) {
                let n = reg.app_functions[ai as usize].max(1);
                entry.memory = Some(d.scaled(1.0 / n as f32));
                found += 1;
            }
        }
    }
    Ok(found)
}

/// The file of `map` for `day`: that day's, else the latest before it, else the first.
fn for_day(map: &BTreeMap<u32, PathBuf>, day: u32) -> Option<&PathBuf> {
    map.range(..=day)
        .next_back()
        .or_else(|| map.iter().next())
        .map(|(_, p)| p)
}

/// Open Azure 2019 inputs.
pub fn open(
    inputs: &[PathBuf],
    opts: &ImportOptions,
    report: SharedReport,
) -> Result<Imported, TraceError> {
    let files = collect(inputs)?;
    let days: Vec<(u32, PathBuf)> = files
        .invocations
        .iter()
        .filter(|(d, _)| opts.days.is_none_or(|(a, b)| (a..=b).contains(*d)))
        .map(|(d, p)| (*d, p.clone()))
        .collect();
    if days.is_empty() {
        let found: Vec<String> = files.invocations.keys().map(u32::to_string).collect();
        return Err(TraceError::file(
            &inputs[0],
            format!(
                "no invocation counts for the days asked (--days); days found: {}",
                found.join(", ")
            ),
        ));
    }
    let mut reg = prescan(&days, opts)?;
    let first_day = days[0].0;
    let mut notes = Vec::new();
    let n = reg.entries.list.len();
    match for_day(&files.durations, first_day) {
        Some(p) => {
            let found = load_durations(p, &mut reg)? as usize;
            if found < n {
                notes.push(format!(
                    "{} of {n} functions have no duration percentiles in {}: their rows \
                     carry no duration",
                    n - found,
                    p.display()
                ));
            }
        }
        None => notes.push("no duration percentiles given: rows carry no duration".into()),
    }
    match for_day(&files.memory, first_day) {
        Some(p) => {
            let found = load_memory(p, &mut reg)? as usize;
            if found < n {
                notes.push(format!(
                    "{} of {n} functions have no memory percentiles in {}: their rows \
                     carry no memory",
                    n - found,
                    p.display()
                ));
            }
        }
        None => notes.push("no memory percentiles given: rows carry no memory".into()),
    }
    let functions: Vec<FunctionSpec> = reg
        .entries
        .list
        .iter()
        .map(|e| {
            let mut f = FunctionSpec::synthetic(&e.function);
            f.memory_mb = e.memory.as_ref().map(|m| memory_limit(m.max()));
            f
        })
        .collect();
    if let Ok(mut r) = report.lock() {
        r.known_functions = functions.len();
        r.notes.extend(notes);
    }
    let first_labels = window_labels(&days[0].1, opts)?;
    let m0 = first_labels.first().map_or(1, |&(l, _)| l);
    let src = DaySource {
        days: days.into(),
        first_day,
        first_minute: m0,
        opts: opts.clone(),
        by_key: reg.by_key,
        entries: reg.entries,
        current: None,
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

/// The (label, column) pairs of a file's minutes inside `--minutes`, by label.
fn window_labels(path: &Path, opts: &ImportOptions) -> Result<Vec<(u32, usize)>, TraceError> {
    let t = Table::open(path)?;
    Ok(labels(&t, opts).0)
}

/// (label, column) of the minutes inside the window, sorted, and the columns outside it.
fn labels(t: &Table, opts: &ImportOptions) -> (Vec<(u32, usize)>, Vec<usize>) {
    let mut inside = Vec::new();
    let mut outside = Vec::new();
    for (c, h) in t.headers.iter().enumerate() {
        if let Some(m) = minute_label(h) {
            if opts.minutes.is_none_or(|(a, b)| (a..=b).contains(&m)) {
                inside.push((m, c));
            } else {
                outside.push(c);
            }
        }
    }
    inside.sort_unstable();
    (inside, outside)
}

struct Day {
    day: u32,
    transposer: Transposer,
    labels: Vec<u32>,
    next: usize,
}

struct DaySource {
    days: VecDeque<(u32, PathBuf)>,
    first_day: u32,
    first_minute: u32,
    opts: ImportOptions,
    by_key: HashMap<[u8; 16], u32>,
    entries: Entries,
    current: Option<Day>,
    report: SharedReport,
}

impl DaySource {
    fn load(&mut self, day: u32, path: &Path) -> Result<Day, TraceError> {
        let mut t = Table::open(path)?;
        let c = invocation_cols(&t)?;
        let (inside, outside) = labels(&t, &self.opts);
        let io = |e: std::io::Error| TraceError::file(path, format!("temporary file: {e}"));
        let mut tr = Transposer::new(inside.len()).map_err(io)?;
        let mut rec = ByteRecord::new();
        let mut left_out = 0u64;
        while t.next(&mut rec)? {
            let k = key(&[
                rec.get(c.owner).unwrap_or_default(),
                rec.get(c.app).unwrap_or_default(),
                rec.get(c.function).unwrap_or_default(),
            ]);
            let Some(&e) = self.by_key.get(&k) else {
                return Err(t.error(
                    &rec,
                    c.function,
                    "function not seen when the file was first read (did it change?)",
                ));
            };
            for (b, &(_, col)) in inside.iter().enumerate() {
                let n = cells::count(rec.get(col).unwrap_or_default())
                    .map_err(|m| t.error(&rec, col, m))?;
                if n > 0 {
                    tr.push(b, e, n).map_err(io)?;
                }
            }
            for &col in &outside {
                left_out += u64::from(
                    cells::count(rec.get(col).unwrap_or_default())
                        .map_err(|m| t.error(&rec, col, m))?,
                );
            }
        }
        if left_out > 0 {
            if let Ok(mut r) = self.report.lock() {
                r.outside_window += left_out;
            }
        }
        Ok(Day {
            day,
            transposer: tr,
            labels: inside.into_iter().map(|(l, _)| l).collect(),
            next: 0,
        })
    }
}

impl BucketSource for DaySource {
    fn next_bucket(&mut self, cells: &mut Vec<(u32, u32)>) -> Result<Option<Bucket>, TraceError> {
        loop {
            if let Some(d) = &mut self.current {
                if let Some(&label) = d.labels.get(d.next) {
                    let b = d.next;
                    d.next += 1;
                    d.transposer
                        .take(b, cells)
                        .map_err(|e| TraceError::file("<temporary file>", e.to_string()))?;
                    let minute = u64::from(d.day - self.first_day) * 1440 + u64::from(label)
                        - u64::from(self.first_minute);
                    return Ok(Some(Bucket {
                        number: u64::from(d.day) * 1440 + u64::from(label - 1),
                        start_ns: minute * MINUTE_NS,
                        len_ns: MINUTE_NS,
                    }));
                }
                self.current = None;
            }
            let Some((day, path)) = self.days.pop_front() else {
                return Ok(None);
            };
            self.current = Some(self.load(day, &path)?);
        }
    }

    fn entries(&self) -> &Entries {
        &self.entries
    }
}
