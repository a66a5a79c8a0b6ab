//! Reading result files back: `invocations.csv` (inject, simulate) and `dataset.csv`
//! (generate), one [`Record`] at a time, in bounded memory.
//!
//! Columns are found by header name, so files with extra columns (a dataset's `p.<param>`
//! inputs, the monitor's) read the same; [`RecordReader::cell`] gives any other column of
//! the current row. A bad cell is an error naming the file, line and column.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::record::Record;
use crate::backend::Outcome;
use crate::monitor::Window;

/// A result file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Opening or reading failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The CSV structure is broken (unbalanced quotes, ragged rows).
    #[error("{path}:{line}: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What the CSV reader said.
        message: String,
    },
    /// A required column is missing from the header.
    #[error("{path}:1: no `{column}` column: not a gale result file ({expected})")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column.
        column: &'static str,
        /// What kind of file was expected.
        expected: &'static str,
    },
    /// A cell does not hold what its column holds.
    #[error("{path}:{line}: column `{column}`: {message}")]
    Cell {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// The column.
        column: String,
        /// What was expected and found.
        message: String,
    },
}

/// Which kind of result file a reader reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `invocations.csv` of inject or simulate.
    Invocations,
    /// `dataset.csv` of generate.
    Dataset,
}

// Column indexes of the fields a Record holds.
#[derive(Default)]
struct Cols {
    row: Option<usize>,
    function: usize,
    user: Option<usize>,
    blocking: Option<usize>,
    scheduled: Option<usize>,
    sent: Option<usize>,
    start: Option<usize>,
    end: Option<usize>,
    completion: Option<usize>,
    response: Option<usize>,
    status: Option<usize>,
    activation_id: Option<usize>,
    outcome: usize,
    cold: Option<usize>,
    wait: Option<usize>,
    init: Option<usize>,
    duration: Option<usize>,
    node: Option<usize>,
    container: Option<usize>,
    error: Option<usize>,
    cpu_ms: Option<usize>,
    mem_peak: Option<usize>,
    mem_mean: Option<usize>,
    cpu_exact: Option<usize>,
    peak_exact: Option<usize>,
    samples: Option<usize>,
    missed: Option<usize>,
}

/// Streams the records of one result file.
pub struct RecordReader {
    path: PathBuf,
    kind: FileKind,
    csv: csv::Reader<BufReader<File>>,
    header: Vec<String>,
    index: HashMap<String, usize>,
    cols: Cols,
    raw: csv::ByteRecord,
    names: Interner,
}

/// Function, user and node names repeat on every row: share one allocation per name.
#[derive(Default)]
struct Interner {
    map: HashMap<Box<[u8]>, Arc<str>>,
}

impl Interner {
    // Past this many names, new ones are not kept (an adversarial file cannot grow it).
    const CAP: usize = 1 << 16;

    fn get(&mut self, b: &[u8]) -> Arc<str> {
        if let Some(a) = self.map.get(b) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(String::from_utf8_lossy(b).as_ref());
        if self.map.len() < Self::CAP {
            self.map.insert(b.into(), a.clone());
        }
        a
    }
}

impl RecordReader {
    /// Open a result file; its kind is told by its header.
    pub fn open(path: &Path) -> Result<RecordReader, ReadError> {
        let io_err = |source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        if !file.metadata().map_err(io_err)?.is_file() {
            return Err(io_err(io::Error::other("not a regular file")));
        }
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(BufReader::with_capacity(256 * 1024, file));
        let header: Vec<String> = csv
            .headers()
            .map_err(|e| csv_error(path, &e))?
            .iter()
            .map(str::to_string)
            .collect();
        let index: HashMap<String, usize> = header
            .iter()
            .enumerate()
            .map(|(i, h)| (h.clone(), i))
            .collect();
        let find = |n: &str| index.get(n).copied();
        let kind = if find("run_id").is_some() && find("scheduled_us").is_none() {
            FileKind::Dataset
        } else {
            FileKind::Invocations
        };
        let expected = match kind {
            FileKind::Invocations => "invocations.csv",
            FileKind::Dataset => "dataset.csv",
        };
        let need = |n: &'static str| {
            find(n).ok_or(ReadError::MissingColumn {
                path: path.to_path_buf(),
                column: n,
                expected,
            })
        };
        let cols = Cols {
            row: find("row").or(find("run_id")),
            function: need("function")?,
            user: find("user"),
            blocking: find("blocking"),
            scheduled: match kind {
                FileKind::Invocations => Some(need("scheduled_us")?),
                FileKind::Dataset => None,
            },
            sent: find("sent_us"),
            start: find("start_us"),
            end: find("end_us"),
            completion: find("completion_us").or(find("completion_ms")),
            response: find("response_us").or(find("response_ms")),
            status: find("http_status"),
            activation_id: find("activation_id"),
            outcome: need("outcome")?,
            cold: find("cold"),
            wait: find("wait_ms"),
            init: find("init_ms"),
            duration: find("duration_ms"),
            node: find("node"),
            container: find("container"),
            error: find("error"),
            cpu_ms: find("cpu_ms"),
            mem_peak: find("mem_peak_bytes"),
            mem_mean: find("mem_mean_bytes"),
            cpu_exact: find("cpu_exact"),
            peak_exact: find("mem_peak_exact"),
            samples: find("monitor_samples"),
            missed: find("monitor_missed"),
        };
        Ok(RecordReader {
            path: path.to_path_buf(),
            kind,
            csv,
            header,
            index,
            cols,
            raw: csv::ByteRecord::new(),
            names: Interner::default(),
        })
    }

    /// The file's kind.
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// The header's column names.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The index of a column by name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// A cell of the row last returned by [`RecordReader::next_record`], as text.
    pub fn cell(&self, index: usize) -> Option<&str> {
        self.raw
            .get(index)
            .and_then(|b| std::str::from_utf8(b).ok())
    }

    /// The next record; `None` at the end of the file.
    pub fn next_record(&mut self) -> Option<Result<Record, ReadError>> {
        match self.csv.read_byte_record(&mut self.raw) {
            Ok(false) => None,
            Ok(true) => Some(self.decode()),
            Err(e) => Some(Err(csv_error(&self.path, &e))),
        }
    }

    fn line(&self) -> u64 {
        self.raw.position().map_or(0, |p| p.line())
    }

    fn bad(&self, col: usize, message: String) -> ReadError {
        ReadError::Cell {
            path: self.path.clone(),
            line: self.line(),
            column: self.header.get(col).cloned().unwrap_or_default(),
            message,
        }
    }

    fn bytes(&self, col: Option<usize>) -> &[u8] {
        col.and_then(|c| self.raw.get(c)).unwrap_or(b"")
    }

    /// A decimal cell with up to three decimals, scaled by 1000 (µs → ns, ms → µs).
    fn milli(&self, col: Option<usize>) -> Result<Option<u64>, ReadError> {
        let b = self.bytes(col);
        if b.is_empty() {
            return Ok(None);
        }
        parse_milli(b).map(Some).ok_or_else(|| {
            self.bad(
                col.unwrap_or(0),
                format!(
                    "expected a number ≥ 0 with at most 3 decimals, found `{}`",
                    String::from_utf8_lossy(b)
                ),
            )
        })
    }

    fn uint(&self, col: Option<usize>) -> Result<Option<u64>, ReadError> {
        let b = self.bytes(col);
        if b.is_empty() {
            return Ok(None);
        }
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(|| {
                self.bad(
                    col.unwrap_or(0),
                    format!(
                        "expected a whole number, found `{}`",
                        String::from_utf8_lossy(b)
                    ),
                )
            })
    }

    fn float(&self, col: Option<usize>) -> Result<Option<f64>, ReadError> {
        let b = self.bytes(col);
        if b.is_empty() {
            return Ok(None);
        }
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or_else(|| {
                self.bad(
                    col.unwrap_or(0),
                    format!("expected a number, found `{}`", String::from_utf8_lossy(b)),
                )
            })
    }

    fn flag(&self, col: Option<usize>) -> Result<Option<bool>, ReadError> {
        match self.bytes(col) {
            b"" => Ok(None),
            b"true" => Ok(Some(true)),
            b"false" => Ok(Some(false)),
            other => Err(self.bad(
                col.unwrap_or(0),
                format!(
                    "expected true or false, found `{}`",
                    String::from_utf8_lossy(other)
                ),
            )),
        }
    }

    fn text(&self, col: Option<usize>) -> Option<String> {
        let b = self.bytes(col);
        (!b.is_empty()).then(|| String::from_utf8_lossy(b).into_owned())
    }

    fn decode(&mut self) -> Result<Record, ReadError> {
        let c = &self.cols;
        let outcome_b = self.bytes(Some(c.outcome));
        let outcome = Outcome::ALL
            .into_iter()
            .find(|o| o.as_str().as_bytes() == outcome_b)
            .ok_or_else(|| {
                self.bad(
                    c.outcome,
                    format!(
                        "expected an outcome ({}), found `{}`",
                        Outcome::ALL.map(Outcome::as_str).join(", "),
                        String::from_utf8_lossy(outcome_b)
                    ),
                )
            })?;
        let row = self.uint(c.row)?.unwrap_or(0);
        let function_b = self.bytes(Some(c.function)).to_vec();
        let user_b = self.bytes(c.user).to_vec();
        let node_b = self.bytes(c.node).to_vec();
        let blocking = self.flag(c.blocking)?;
        let mut rec = Record::unsent(
            row,
            self.names.get(&function_b),
            self.names.get(&user_b),
            0,
            outcome,
            "",
        );
        rec.blocking = blocking.unwrap_or(self.kind == FileKind::Dataset);
        match self.kind {
            FileKind::Invocations => {
                rec.scheduled_ns = self.milli(c.scheduled)?.unwrap_or(0);
                rec.sent_ns = self.milli(c.sent)?;
                rec.start_ns = self.milli(c.start)?;
                rec.end_ns = self.milli(c.end)?;
                let response = self.milli(c.response)?;
                rec.replied_ns = match (rec.sent_ns, response) {
                    (Some(s), Some(r)) => Some(s + r),
                    _ => None,
                };
                // Files that carry completion without an end (none written by gale today)
                // still give their completion.
                if rec.end_ns.is_none() {
                    rec.end_ns = self.milli(c.completion)?.map(|v| rec.scheduled_ns + v);
                }
            }
            FileKind::Dataset => {
                // A dataset row is one sequential, blocking run: its send is its own zero.
                // completion_ms / response_ms are ms: scale µs → ns.
                rec.sent_ns = Some(0);
                rec.end_ns = self.milli(c.completion)?.map(|us| us * 1000);
                rec.replied_ns = self.milli(c.response)?.map(|us| us * 1000);
            }
        }
        rec.status = self.uint(c.status)?.map(|s| s.min(u16::MAX as u64) as u16);
        rec.activation_id = self.text(c.activation_id);
        rec.cold = self.flag(c.cold)?;
        rec.wait_us = self.milli(c.wait)?;
        rec.init_us = self.milli(c.init)?;
        rec.duration_us = self.milli(c.duration)?;
        rec.node = (!node_b.is_empty()).then(|| self.names.get(&node_b));
        rec.container = self.text(c.container);
        rec.error = self.text(c.error);
        let cpu_ms = self.float(c.cpu_ms)?;
        let mem_peak_bytes = self.uint(c.mem_peak)?;
        let mem_mean_bytes = self.uint(c.mem_mean)?;
        if cpu_ms.is_some() || mem_peak_bytes.is_some() || mem_mean_bytes.is_some() {
            rec.usage = Some(Window {
                start_us: 0,
                end_us: 0,
                cpu_ms,
                cpu_exact: self.flag(c.cpu_exact)?.unwrap_or(false),
                mem_peak_bytes,
                mem_peak_exact: self.flag(c.peak_exact)?.unwrap_or(false),
                mem_mean_bytes,
                samples: self.uint(c.samples)?.unwrap_or(0).min(u32::MAX as u64) as u32,
                missed: self.flag(c.missed)?.unwrap_or(false),
            });
        }
        Ok(rec)
    }
}

/// `123.456` → 123 456; `7` → 7 000. `None` for anything else (signs, exponents, more than
/// three decimals, overflow).
pub fn parse_milli(b: &[u8]) -> Option<u64> {
    let (int, frac) = match b.iter().position(|&c| c == b'.') {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &b[..0]),
    };
    if int.is_empty() || frac.len() > 3 || !int.iter().chain(frac).all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in int {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    let mut f: u64 = 0;
    for i in 0..3 {
        f = f * 10 + frac.get(i).map_or(0, |&d| u64::from(d - b'0'));
    }
    v.checked_mul(1000)?.checked_add(f)
}

fn csv_error(path: &Path, e: &csv::Error) -> ReadError {
    let line = e.position().map_or(0, |p| p.line());
    match e.kind() {
        csv::ErrorKind::Io(io) => ReadError::Io {
            path: path.to_path_buf(),
            source: io::Error::new(io.kind(), io.to_string()),
        },
        _ => ReadError::Csv {
            path: path.to_path_buf(),
            line,
            message: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::clock::RunClock;
    use crate::report::record::RecordWriter;

    #[test]
    fn parses_fixed_point_cells() {
        assert_eq!(parse_milli(b"0"), Some(0));
        assert_eq!(parse_milli(b"12.5"), Some(12_500));
        assert_eq!(parse_milli(b"12.345"), Some(12_345));
        assert_eq!(parse_milli(b"12.3456"), None);
        assert_eq!(parse_milli(b"-1"), None);
        assert_eq!(parse_milli(b"1e3"), None);
        assert_eq!(parse_milli(b".5"), None);
        assert_eq!(parse_milli(b"99999999999999999999"), None);
    }

    #[test]
    fn reads_back_what_the_writer_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("invocations.csv");
        let mut w = RecordWriter::create(&path).unwrap();
        let clock = RunClock::at(0, 0, true);
        let mut a = Record::unsent(
            3,
            "f,1".into(),
            "alice".into(),
            1_234_567,
            Outcome::Interrupted,
            "",
        );
        a.blocking = true;
        a.sent_ns = Some(1_300_000);
        a.replied_ns = Some(9_000_000);
        let act = crate::backend::Activation {
            id: "abc".into(),
            status_code: 0,
            start_us: Some(2_000),
            duration_us: Some(5_000),
            init_us: Some(1_500),
            init_ms: Some(1),
            wait_us: Some(300),
            node: Some("n1".into()),
            container: Some("c7".into()),
            ..Default::default()
        };
        a.apply_activation(act, &clock);
        a.usage = Some(Window {
            start_us: 0,
            end_us: 0,
            cpu_ms: Some(4.5),
            cpu_exact: true,
            mem_peak_bytes: Some(1 << 20),
            mem_peak_exact: false,
            mem_mean_bytes: Some(1 << 19),
            samples: 3,
            missed: false,
        });
        let b = Record::unsent(4, "g".into(), "bob".into(), 5, Outcome::Shed, "cap \"4\"");
        w.write(&a).unwrap();
        w.write(&b).unwrap();
        w.finish().unwrap();

        let mut r = RecordReader::open(&path).unwrap();
        assert_eq!(r.kind(), FileKind::Invocations);
        let got_a = r.next_record().unwrap().unwrap();
        let got_b = r.next_record().unwrap().unwrap();
        assert!(r.next_record().is_none());
        let mut want_a = a.clone();
        want_a.window_us = None;
        if let Some(u) = want_a.usage.as_mut() {
            u.start_us = 0;
            u.end_us = 0;
        }
        assert_eq!(got_a, want_a);
        assert_eq!(got_a.completion_ns(), Some(7_000_000 - 1_234_567));
        assert_eq!(got_b, b);
    }

    #[test]
    fn bad_cells_name_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("invocations.csv");
        let header: Vec<&str> = crate::report::record::columns().collect();
        let mut row = vec![""; header.len()];
        row[0] = "1";
        row[1] = "f";
        row[4] = "1.0";
        row[13] = "success";
        row[15] = "soon";
        std::fs::write(&path, format!("{}\n{}\n", header.join(","), row.join(","))).unwrap();
        let mut r = RecordReader::open(&path).unwrap();
        let e = r.next_record().unwrap().unwrap_err().to_string();
        assert!(e.contains(":2: column `wait_ms`"), "{e}");
        std::fs::write(&path, "a,b\n1,2\n").unwrap();
        let e = RecordReader::open(&path).err().unwrap().to_string();
        assert!(e.contains("no `function` column"), "{e}");
    }
}
