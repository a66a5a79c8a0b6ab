//! The dataset: `dataset.csv`, one row per run, and the optional raw resource samples side
//! file `samples.csv` keyed by run id. Both are append-only files written one whole row per
//! `write`, and cut back to a checkpoint's length on resume.
//!
//! Columns are fixed at start from the config: the run's identity, one `p.<name>` column per
//! parameter any function samples (the union, in order of first appearance; empty where a
//! function does not have that parameter), the outcome and timings, then the monitor's
//! columns (empty without a monitor) and the error text.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::config::Generator;
use crate::backend::Outcome;
use crate::monitor::source::Measured;
use crate::monitor::{Window, WINDOW_COLUMNS};

/// Columns before the parameters.
pub const HEAD: [&str; 8] = [
    "run_id",
    "function",
    "action",
    "memory_mb",
    "run",
    "input_class",
    "input_bytes",
    "body_bytes",
];

/// Columns after the parameters, before the monitor's ([`WINDOW_COLUMNS`]) and `error`.
pub const RUN_COLUMNS: [&str; 8] = [
    "outcome",
    "cold",
    "wait_ms",
    "init_ms",
    "duration_ms",
    "completion_ms",
    "response_ms",
    "activation_id",
];

/// Columns after the parameters.
pub fn tail_columns() -> impl Iterator<Item = &'static str> {
    RUN_COLUMNS
        .into_iter()
        .chain(WINDOW_COLUMNS)
        .chain(["error"])
}

/// Header of the samples side file.
pub const SAMPLES_HEADER: &str = "run_id,t_us,rel_us,cpu_ns,mem_bytes,peak_bytes,missed\n";

/// The parameter columns of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Columns {
    /// Parameter names (without the `p.` prefix), in column order.
    pub params: Vec<String>,
}

impl Columns {
    /// The union of every function's sampled parameters and input parameters, in order of
    /// first appearance (functions in config order, each function's parameters in name
    /// order, its input parameter last).
    pub fn of(g: &Generator) -> Columns {
        let mut params: Vec<String> = Vec::new();
        for f in &g.functions {
            let names = f.space.params.iter().map(|(n, _)| n);
            for n in names.chain(f.space.inputs.as_ref().map(|i| &i.param)) {
                if !params.contains(n) {
                    params.push(n.clone());
                }
            }
        }
        Columns { params }
    }

    /// The CSV header line.
    pub fn header(&self) -> Vec<u8> {
        let names = HEAD
            .iter()
            .map(|s| s.to_string())
            .chain(self.params.iter().map(|p| format!("p.{p}")))
            .chain(tail_columns().map(str::to_string));
        record(names)
    }

    /// Column index of a parameter.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.params.iter().position(|p| p == name)
    }
}

/// What one row holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    /// Position in the plan.
    pub run_id: u64,
    /// Function name.
    pub function: String,
    /// Action invoked (the variant's).
    pub action: String,
    /// The variant's memory limit.
    pub memory_mb: Option<u32>,
    /// Run index within the function.
    pub run: u64,
    /// `(size class, file bytes)` when the function has input files.
    pub input: Option<(String, u64)>,
    /// Size of the invocation's JSON body.
    pub body_bytes: usize,
    /// One value per [`Columns::params`] entry (`None`: not a parameter of this function).
    pub params: Vec<Option<Value>>,
    /// How the invocation ended.
    pub outcome: Option<Outcome>,
    /// Cold start.
    pub cold: Option<bool>,
    /// waitTime, µs.
    pub wait_us: Option<u64>,
    /// initTime, µs.
    pub init_us: Option<u64>,
    /// duration, µs.
    pub duration_us: Option<u64>,
    /// Send → the activation's end, µs (what the run waited for the function).
    pub completion_us: Option<u64>,
    /// Send → the invoke request's reply, µs.
    pub response_us: Option<u64>,
    /// Activation id.
    pub activation_id: Option<String>,
    /// The monitor's measurement of the activation.
    pub measured: Option<Measured>,
    /// Error text.
    pub error: Option<String>,
}

/// µs as ms with three decimals (exact: no float rounding).
pub fn ms(us: u64) -> String {
    format!("{}.{:03}", us / 1000, us % 1000)
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// A parameter value as a cell: strings bare, numbers and booleans as JSON writes them
/// (shortest text that reads back to the same float).
pub fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Row {
    /// The row as one CSV line.
    pub fn to_csv(&self) -> Vec<u8> {
        let w = self.measured.as_ref().map(|m| &m.window);
        let fields = [
            self.run_id.to_string(),
            self.function.clone(),
            self.action.clone(),
            opt(self.memory_mb),
            self.run.to_string(),
            opt(self.input.as_ref().map(|i| &i.0)),
            opt(self.input.as_ref().map(|i| i.1)),
            self.body_bytes.to_string(),
        ]
        .into_iter()
        .chain(
            self.params
                .iter()
                .map(|p| p.as_ref().map(cell).unwrap_or_default()),
        )
        .chain([
            opt(self.outcome.map(Outcome::as_str)),
            opt(self.cold),
            opt(self.wait_us.map(ms)),
            opt(self.init_us.map(ms)),
            opt(self.duration_us.map(ms)),
            opt(self.completion_us.map(ms)),
            opt(self.response_us.map(ms)),
            opt(self.activation_id.as_ref()),
        ])
        .chain(Window::cells(w))
        .chain([opt(self.error.as_ref())]);
        record(fields)
    }

    /// The row's raw samples as side-file lines (empty without samples): epoch time, time
    /// from the activation's start (negative for the sample before it), the container's
    /// cumulative CPU counter, memory usage, the watermark since the previous sample (empty
    /// without one) and the ticks missed before it.
    pub fn samples_csv(&self) -> Vec<u8> {
        let Some(m) = &self.measured else {
            return Vec::new();
        };
        let (cpu, mem) = (m.window.cpu_ms.is_some(), m.window.mem_peak_bytes.is_some());
        let mut out = Vec::with_capacity(m.raw.len() * 64);
        for s in &m.raw {
            let rel = s.t_us as i128 - i128::from(m.window.start_us);
            // Numbers only, so no field needs CSV quoting; writing to a Vec cannot fail.
            let _ = writeln!(
                out,
                "{},{},{rel},{},{},{},{}",
                self.run_id,
                s.t_us,
                Blank(cpu.then_some(s.cpu_ns)),
                Blank(mem.then_some(s.mem_bytes)),
                Blank((s.peak_bytes > 0).then_some(s.peak_bytes)),
                s.missed
            );
        }
        out
    }
}

/// A number, or an empty cell.
struct Blank(Option<u64>);

impl std::fmt::Display for Blank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(v) => write!(f, "{v}"),
            None => Ok(()),
        }
    }
}

fn record(fields: impl IntoIterator<Item = String>) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::with_capacity(256));
    // Writing to a Vec cannot fail.
    let _ = w.write_record(fields.into_iter().collect::<Vec<_>>());
    w.into_inner().unwrap_or_default()
}

/// An append-only file whose length is tracked, so a checkpoint can record it and a resume
/// cut the file back to it.
pub struct Appender {
    file: File,
    path: PathBuf,
    len: u64,
    tail: Tail,
}

/// The last whole write of an [`Appender`] (a row, or the header): its length and SHA-256.
/// A checkpoint keeps it so that a resume can check, before cutting the file back, that
/// the bytes it keeps are the ones it wrote: a file rewritten by another tool (CRLF line
/// ends, re-quoted fields) has its rows elsewhere, and cutting it at the recorded length
/// would glue half a row to the next.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tail {
    /// Length of the last write.
    pub bytes: u64,
    /// Its SHA-256, hex.
    pub sha256: String,
}

impl Tail {
    fn of(bytes: &[u8]) -> Tail {
        let d = ring::digest::digest(&ring::digest::SHA256, bytes);
        Tail {
            bytes: bytes.len() as u64,
            sha256: d.as_ref().iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

impl Appender {
    /// Create `path` (it must not exist) with `header` as its first bytes, synced.
    pub fn create(path: &Path, header: &[u8]) -> io::Result<Appender> {
        let mut file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(path)?;
        file.write_all(header)?;
        file.sync_data()?;
        Ok(Appender {
            file,
            path: path.to_path_buf(),
            len: header.len() as u64,
            tail: Tail::of(header),
        })
    }

    /// Open `path` to continue at byte `len`, dropping what lies past it (a partial row, or
    /// rows written after the checkpoint). Refuses a file shorter than `len`: rows the
    /// checkpoint counts would be missing.
    /// `tail` (from the checkpoint, when it has one) must match the bytes just before
    /// `len`; otherwise the file is left untouched and the resume refused.
    pub fn resume(path: &Path, len: u64, tail: Option<&Tail>) -> io::Result<Appender> {
        use std::os::unix::fs::FileExt as _;
        let file = OpenOptions::new().append(true).read(true).open(path)?;
        let actual = file.metadata()?.len();
        let invalid = |m: String| io::Error::new(io::ErrorKind::InvalidData, m);
        if actual < len {
            return Err(invalid(format!(
                "{} holds {actual} bytes but the checkpoint counts {len}: rows are missing",
                path.display()
            )));
        }
        let tail = match tail {
            Some(t) => {
                if t.bytes > len || t.bytes > 64 * 1024 * 1024 {
                    return Err(invalid(format!(
                        "the checkpoint's last row ({} bytes) does not fit in its {len} bytes",
                        t.bytes
                    )));
                }
                let mut kept = vec![0; t.bytes as usize];
                file.read_exact_at(&mut kept, len - t.bytes)?;
                if Tail::of(&kept) != *t {
                    return Err(invalid(format!(
                        "{} was changed after the checkpoint (the last row it counts is not \
                         where it was written; was the file rewritten, e.g. with CRLF line ends \
                         or re-quoted fields?): it is left as it is; restore the file gale \
                         wrote, or start a new run",
                        path.display()
                    )));
                }
                t.clone()
            }
            // A checkpoint of an older gale: nothing to check against.
            None => Tail {
                bytes: 0,
                sha256: String::new(),
            },
        };
        file.set_len(len)?;
        file.sync_data()?;
        Ok(Appender {
            file,
            path: path.to_path_buf(),
            len,
            tail,
        })
    }

    /// The last whole write, for a checkpoint.
    pub fn tail(&self) -> &Tail {
        &self.tail
    }

    /// Append `bytes` with one write.
    pub fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.file.write_all(bytes)?;
        self.len += bytes.len() as u64;
        self.tail = Tail::of(bytes);
        Ok(())
    }

    /// Flush to disk (before a checkpoint records the length).
    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written (not even a header).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_whole_csv_lines_with_exact_times() {
        let cols = Columns {
            params: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            String::from_utf8(cols.header()).unwrap(),
            format!(
                "{},p.a,p.b,{}\n",
                HEAD.join(","),
                tail_columns().collect::<Vec<_>>().join(",")
            )
        );
        let row = Row {
            run_id: 3,
            function: "f".into(),
            action: "f-m128".into(),
            memory_mb: Some(128),
            params: vec![Some(Value::from(0.1 + 0.2)), None],
            outcome: Some(Outcome::Success),
            cold: Some(true),
            wait_us: Some(1234),
            error: Some("a, \"quoted\"\nerror".into()),
            ..Row::default()
        };
        let line = String::from_utf8(row.to_csv()).unwrap();
        assert!(
            line.starts_with("3,f,f-m128,128,0,,,0,0.30000000000000004,,success,true,1.234,"),
            "{line}"
        );
        assert!(line.ends_with(",\"a, \"\"quoted\"\"\nerror\"\n"), "{line}");
        assert_eq!(ms(5), "0.005");
    }

    #[test]
    fn measured_rows_and_their_samples() {
        let window = crate::monitor::Window {
            start_us: 1_000,
            end_us: 31_000,
            cpu_ms: Some(12.3456),
            cpu_exact: true,
            mem_peak_bytes: Some(4096),
            mem_peak_exact: false,
            mem_mean_bytes: Some(2048),
            samples: 2,
            missed: false,
        };
        let at = |t_us, cpu_ns, mem_bytes, peak_bytes| crate::monitor::Sample {
            t_us,
            cpu_ns,
            mem_bytes,
            peak_bytes,
            missed: 0,
        };
        let row = Row {
            run_id: 9,
            measured: Some(Measured {
                window,
                raw: vec![at(500, 7, 1024, 0), at(10_500, 9, 4096, 8192)],
            }),
            ..Row::default()
        };
        let line = String::from_utf8(row.to_csv()).unwrap();
        assert!(
            line.ends_with(",12.346,4096,2048,true,false,2,false,\n"),
            "{line}"
        );
        assert_eq!(
            String::from_utf8(row.samples_csv()).unwrap(),
            "9,500,-500,7,1024,,0\n9,10500,9500,9,4096,8192,0\n"
        );
        assert!(Row::default().samples_csv().is_empty());
        assert_eq!(SAMPLES_HEADER.split(',').count(), 7);
    }

    #[test]
    fn samples_without_counters_have_empty_cells() {
        let row = Row {
            run_id: 5,
            measured: Some(Measured {
                window: crate::monitor::Window {
                    start_us: 1_000,
                    end_us: 2_000,
                    cpu_ms: None,
                    cpu_exact: false,
                    mem_peak_bytes: None,
                    mem_peak_exact: false,
                    mem_mean_bytes: None,
                    samples: 1,
                    missed: true,
                },
                raw: vec![crate::monitor::Sample {
                    t_us: 100,
                    cpu_ns: 7,
                    mem_bytes: 9,
                    peak_bytes: 0,
                    missed: 3,
                }],
            }),
            ..Row::default()
        };
        assert_eq!(
            String::from_utf8(row.samples_csv()).unwrap(),
            "5,100,-900,,,,3\n"
        );
    }

    #[test]
    fn resume_cuts_back_and_refuses_a_short_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.csv");
        let mut a = Appender::create(&p, b"h\n").unwrap();
        a.append(b"1\n").unwrap();
        let (keep, tail) = (a.len(), a.tail().clone());
        a.append(b"2\n3").unwrap();
        drop(a);
        let mut b = Appender::resume(&p, keep, Some(&tail)).unwrap();
        b.append(b"2\n").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"h\n1\n2\n");
        assert!(Appender::resume(&p, 100, None).is_err());
        assert!(Appender::create(&p, b"h\n").is_err(), "never overwrites");
    }

    #[test]
    fn resume_refuses_a_file_rewritten_after_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.csv");
        let mut a = Appender::create(&p, b"run_id,x\n").unwrap();
        a.append(b"0,\"a\"\n").unwrap();
        a.append(b"1,b\n").unwrap();
        let (keep, tail) = (a.len(), a.tail().clone());
        drop(a);
        // A CSV tool rewrote it: CRLF line ends, the same rows, other offsets.
        let rewritten = b"run_id,x\r\n0,a\r\n1,b\r\n2,c\r\n";
        std::fs::write(&p, rewritten).unwrap();
        let e = Appender::resume(&p, keep, Some(&tail)).err().unwrap();
        assert!(
            e.to_string().contains("changed after the checkpoint"),
            "{e}"
        );
        assert_eq!(std::fs::read(&p).unwrap(), rewritten, "left untouched");
    }
}
