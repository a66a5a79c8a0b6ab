//! FaaSRail specs (`faasrail-loadgen/artifacts/*.csv`): `avg,mapped_wreq,<minute columns>`,
//! one row per Azure function mapped to a benchmark request; `mapped_wreq` is JSON
//! `{"mean": ms, "bench": name, "payload": JSON text}`; each further column counts the
//! requests of one experiment minute (its label, such as `1-288`, names the trace minutes
//! it stands for). Each row is its own arrival process; rows mapped to the same benchmark
//! invoke the same function, with the row's payload as parameters.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use csv::ByteRecord;
use serde_json::{Map, Value};

use super::buckets::{Bucket, BucketRows, BucketSource, Entries, Entry, Expansion};
use super::cells::{self, Table};
use super::names::Namer;
use super::spread::{Dist, MAX_ENTRIES};
use super::wide::Transposer;
use super::{ImportOptions, Imported, NameMode, SharedReport};
use crate::trace::catalog::DEFAULT_USER;
use crate::trace::model::FunctionSpec;
use crate::trace::TraceError;

const MINUTE_NS: u64 = 60_000_000_000;

/// Whether a header is a FaaSRail spec's.
pub fn recognises(headers: &[String]) -> bool {
    headers.iter().any(|h| h == "mapped_wreq")
}

#[derive(serde::Deserialize)]
struct Mapped {
    mean: f64,
    bench: String,
    #[serde(default)]
    payload: Option<Value>,
}

/// Open a FaaSRail spec.
pub fn open(
    inputs: &[PathBuf],
    opts: &ImportOptions,
    report: SharedReport,
) -> Result<Imported, TraceError> {
    let [path] = inputs else {
        return Err(TraceError::file(
            &inputs[0],
            "expected one FaaSRail spec file (avg,mapped_wreq,<minute columns>)",
        ));
    };
    if opts.days.is_some() {
        return Err(TraceError::file(
            path,
            "--days does not apply to a FaaSRail spec (its columns are experiment minutes; use --minutes)",
        ));
    }
    let mut t = Table::open(path)?;
    let wreq = t.column("mapped_wreq", "the mapped request of each row (JSON)")?;
    let minutes: Vec<(u32, usize)> = t
        .headers
        .iter()
        .enumerate()
        .filter(|(i, h)| *i != wreq && h.as_str() != "avg")
        .enumerate()
        .map(|(j, (c, _))| (j as u32 + 1, c))
        .filter(|(j, _)| opts.minutes.is_none_or(|(a, b)| (a..=b).contains(j)))
        .collect();
    let io = |e: std::io::Error| TraceError::file(path, format!("temporary file: {e}"));
    let mut tr = Transposer::new(minutes.len()).map_err(io)?;
    let mut entries = Entries::default();
    let mut namer = Namer::new(NameMode::Keep);
    let mut names: HashMap<String, Arc<str>> = HashMap::new();
    let mut functions: Vec<FunctionSpec> = Vec::new();
    let user: Arc<str> = Arc::from(DEFAULT_USER);
    let mut rec = ByteRecord::new();
    while t.next(&mut rec)? {
        let text = cells::text(&t, &rec, wreq)?;
        let m: Mapped = serde_json::from_str(text).map_err(|e| {
            t.error(
                &rec,
                wreq,
                format!("expected JSON {{\"mean\": ms, \"bench\": name, \"payload\": …}}: {e}"),
            )
        })?;
        if !(m.mean.is_finite() && m.mean >= 0.0) || m.bench.is_empty() {
            return Err(t.error(
                &rec,
                wreq,
                "expected a non-negative `mean` and a `bench` name",
            ));
        }
        let extra = match m.payload {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => match serde_json::from_str::<Value>(&s) {
                Ok(Value::Object(o)) => Some(o),
                _ => Some(Map::from_iter([("payload".to_string(), Value::String(s))])),
            },
            Some(Value::Object(o)) => Some(o),
            Some(other) => Some(Map::from_iter([("payload".to_string(), other)])),
        };
        let function = match names.get(&m.bench) {
            Some(f) => f.clone(),
            None => {
                let f = namer.name(&[&m.bench]);
                names.insert(m.bench.clone(), f.clone());
                functions.push(FunctionSpec::synthetic(&f));
                f
            }
        };
        let e = entries.list.len() as u32;
        if e >= MAX_ENTRIES {
            return Err(t.error(&rec, wreq, "more than 2^28 rows"));
        }
        entries.list.push(Entry {
            function,
            user: user.clone(),
            duration: Some(Dist::constant(m.mean as f32)),
            memory: None,
            extra: extra.map(Arc::new),
        });
        for (b, &(_, col)) in minutes.iter().enumerate() {
            let n = cells::count(rec.get(col).unwrap_or_default())
                .map_err(|msg| t.error(&rec, col, msg))?;
            if n > 0 {
                tr.push(b, e, n).map_err(io)?;
            }
        }
    }
    if let Ok(mut r) = report.lock() {
        r.known_functions = functions.len();
    }
    let src = Source {
        tr,
        minutes: minutes.iter().map(|m| m.0).collect(),
        next: 0,
        entries,
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

struct Source {
    tr: Transposer,
    minutes: Vec<u32>,
    next: usize,
    entries: Entries,
}

impl BucketSource for Source {
    fn next_bucket(&mut self, cells: &mut Vec<(u32, u32)>) -> Result<Option<Bucket>, TraceError> {
        let Some(&minute) = self.minutes.get(self.next) else {
            return Ok(None);
        };
        let first = self.minutes[0];
        self.tr
            .take(self.next, cells)
            .map_err(|e| TraceError::file("<temporary file>", e.to_string()))?;
        self.next += 1;
        Ok(Some(Bucket {
            number: u64::from(minute),
            start_ns: u64::from(minute - first) * MINUTE_NS,
            len_ns: MINUTE_NS,
        }))
    }

    fn entries(&self) -> &Entries {
        &self.entries
    }
}
