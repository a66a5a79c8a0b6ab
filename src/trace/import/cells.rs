//! Reading the release files: columns found by header name, cells as integers or floats,
//! errors located at file, line, column and field.
//!
//! Release files are plain CSV without quoting (hex ids, numbers), millions of lines: a line
//! without a quote is split at its commas directly (memchr), which costs a fraction of a
//! general CSV parser's byte-by-byte state machine; a line holding a quote is parsed as CSV.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use csv::ByteRecord;

use crate::trace::TraceError;

/// A CSV file of a release, opened with its header row read.
pub struct Table {
    /// The file.
    pub path: PathBuf,
    /// Column names, trimmed.
    pub headers: Vec<String>,
    input: BufReader<File>,
    line: Vec<u8>,
    /// Lines read so far (the number of the last one).
    line_no: u64,
    /// Bytes read so far.
    offset: u64,
    records: u64,
}

impl Table {
    /// Open `path` and read its header row.
    pub fn open(path: &Path) -> Result<Table, TraceError> {
        let file =
            File::open(path).map_err(|e| TraceError::file(path, format!("cannot open: {e}")))?;
        let mut t = Table {
            path: path.to_path_buf(),
            headers: Vec::new(),
            input: BufReader::with_capacity(256 * 1024, file),
            line: Vec::with_capacity(256),
            line_no: 0,
            offset: 0,
            records: 0,
        };
        let mut header = ByteRecord::new();
        if t.read_line(&mut header, None)? {
            t.headers = header
                .iter()
                .map(|h| String::from_utf8_lossy(h.trim_ascii()).into_owned())
                .collect();
            if let Some(first) = t.headers.first_mut() {
                if let Some(rest) = first.strip_prefix('\u{feff}') {
                    *first = rest.trim().to_string();
                }
            }
        }
        if t.headers.iter().all(String::is_empty) {
            return Err(
                TraceError::file(path, "expected a header row, got an empty file").at_line(1),
            );
        }
        Ok(t)
    }

    /// The next non-empty line as a record into `rec`, checked to have `fields` fields;
    /// `Ok(false)` at the end.
    fn read_line(
        &mut self,
        rec: &mut ByteRecord,
        fields: Option<usize>,
    ) -> Result<bool, TraceError> {
        loop {
            self.line.clear();
            let n = self.input.read_until(b'\n', &mut self.line).map_err(|e| {
                TraceError::file(&self.path, format!("read error: {e}")).at_line(self.line_no + 1)
            })?;
            if n == 0 {
                return Ok(false);
            }
            self.line_no += 1;
            let start = self.offset;
            self.offset += n as u64;
            let mut line = self.line.as_slice();
            if let Some(l) = line.strip_suffix(b"\n") {
                line = l;
            }
            if let Some(l) = line.strip_suffix(b"\r") {
                line = l;
            }
            if line.is_empty() {
                continue;
            }
            rec.clear();
            if memchr::memchr(b'"', line).is_none() {
                let mut from = 0;
                for comma in memchr::memchr_iter(b',', line) {
                    rec.push_field(&line[from..comma]);
                    from = comma + 1;
                }
                rec.push_field(&line[from..]);
            } else {
                if line.iter().filter(|&&b| b == b'"').count() % 2 == 1 {
                    return Err(TraceError::file(
                        &self.path,
                        "unbalanced quotes: a quoted cell must end on its own line",
                    )
                    .at_line(self.line_no));
                }
                let mut one = csv::ReaderBuilder::new()
                    .has_headers(false)
                    .flexible(true)
                    .from_reader(line);
                if !one
                    .read_byte_record(rec)
                    .map_err(|e| csv_error(&self.path, e))?
                {
                    continue;
                }
            }
            let mut pos = csv::Position::new();
            pos.set_line(self.line_no)
                .set_byte(start)
                .set_record(self.records);
            rec.set_position(Some(pos));
            self.records += 1;
            if let Some(want) = fields.filter(|&w| w != rec.len()) {
                return Err(TraceError::file(
                    &self.path,
                    format!(
                        "expected {want} fields as in the header row, got {}",
                        rec.len()
                    ),
                )
                .at_line(self.line_no));
            }
            return Ok(true);
        }
    }

    /// The index of column `name`, if present.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }

    /// The index of column `name`, or an error saying it is missing.
    pub fn column(&self, name: &str, what: &str) -> Result<usize, TraceError> {
        self.find(name).ok_or_else(|| {
            TraceError::file(
                &self.path,
                format!("missing column `{name}`: expected {what}"),
            )
            .at_line(1)
            .field(name)
        })
    }

    /// The next record into `rec`; `Ok(false)` at the end.
    pub fn next(&mut self, rec: &mut ByteRecord) -> Result<bool, TraceError> {
        let fields = self.headers.len();
        self.read_line(rec, Some(fields))
    }

    /// An error about column `col` of record `rec`.
    pub fn error(&self, rec: &ByteRecord, col: usize, msg: impl Into<String>) -> TraceError {
        at_cell(
            &self.path,
            rec,
            col,
            self.headers.get(col).map(String::as_str),
            msg,
        )
    }
}

/// An error about column `col` (0-based) of `rec` in `path`.
pub fn at_cell(
    path: &Path,
    rec: &ByteRecord,
    col: usize,
    field: Option<&str>,
    msg: impl Into<String>,
) -> TraceError {
    let line = rec.position().map_or(0, |p| p.line());
    let mut e = TraceError::file(path, msg).at(line, col as u64 + 1);
    e.field = field.map(str::to_string);
    e
}

/// A csv crate error, located.
pub fn csv_error(path: &Path, e: csv::Error) -> TraceError {
    let line = e.position().map(|p| p.line());
    let msg = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("expected {expected_len} fields as in the header row, got {len}"),
        csv::ErrorKind::Io(io) => format!("read error: {io}"),
        _ => e.to_string(),
    };
    let mut err = TraceError::file(path, msg);
    err.line = line;
    err
}

/// A count of invocations: an integer, or a float (derived files write `3.0`) rounded to
/// the nearest integer; empty means none (Huawei leaves inactive functions empty).
pub fn count(cell: &[u8]) -> Result<u32, String> {
    let s = cell.trim_ascii();
    if s.is_empty() {
        return Ok(0);
    }
    if s.iter().all(u8::is_ascii_digit) && s.len() <= 9 {
        return Ok(s.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')));
    }
    let v = number(s)?;
    if v > f64::from(u32::MAX) {
        return Err(format!(
            "expected a count of invocations below 2^32, got `{}`",
            String::from_utf8_lossy(s)
        ));
    }
    Ok(v.round() as u32)
}

/// A finite, non-negative number written as an integer or a float.
pub fn number(cell: &[u8]) -> Result<f64, String> {
    let s = cell.trim_ascii();
    let v = std::str::from_utf8(s)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0);
    v.ok_or_else(|| {
        format!(
            "expected a non-negative number (integer or decimal), got `{}`",
            String::from_utf8_lossy(s)
        )
    })
}

/// Cell `col` of `rec` as UTF-8 text.
pub fn text<'r>(table: &Table, rec: &'r ByteRecord, col: usize) -> Result<&'r str, TraceError> {
    let cell = rec.get(col).unwrap_or_default();
    std::str::from_utf8(cell).map_err(|_| table.error(rec, col, "expected UTF-8 text"))
}

/// The day number in a release file name: `…d05.csv` (Azure) or `day_005.csv` (Huawei).
pub fn day_of(path: &Path) -> Option<u32> {
    let stem = path.file_stem()?.to_str()?;
    let digits = |s: &str| -> Option<u32> {
        let d: String = s.chars().rev().take_while(char::is_ascii_digit).collect();
        if d.is_empty() {
            return None;
        }
        d.chars().rev().collect::<String>().parse().ok()
    };
    if let Some(i) = stem.rfind(".d") {
        return digits(&stem[i + 2..])
            .filter(|_| stem[i + 2..].chars().all(|c| c.is_ascii_digit()));
    }
    stem.strip_prefix("day_").and_then(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> (tempfile::TempDir, Table) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text).unwrap();
        let t = Table::open(&path).unwrap();
        (dir, t)
    }

    #[test]
    fn lines_split_fast_and_quoted_lines_parse_as_csv() {
        let (_d, mut t) =
            table("\u{feff}app , func,x\r\na,b,1\r\n\n\"q,1\",\"say \"\"hi\"\"\",2\nc,,3");
        assert_eq!(t.headers, ["app", "func", "x"]);
        let mut rec = ByteRecord::new();
        let mut rows = Vec::new();
        while t.next(&mut rec).unwrap() {
            let cells: Vec<String> = rec
                .iter()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            rows.push((rec.position().unwrap().line(), cells));
        }
        assert_eq!(
            rows,
            [
                (2, vec!["a".to_string(), "b".into(), "1".into()]),
                (4, vec!["q,1".to_string(), "say \"hi\"".into(), "2".into()]),
                (5, vec!["c".to_string(), "".into(), "3".into()]),
            ]
        );
    }

    #[test]
    fn a_short_row_or_an_open_quote_is_an_error_at_its_line() {
        let mut rec = ByteRecord::new();
        let (_d, mut t) = table("a,b\n1,2\n3\n");
        assert!(t.next(&mut rec).unwrap());
        let e = t.next(&mut rec).unwrap_err().to_string();
        assert!(e.contains(":3") && e.contains("expected 2 fields"), "{e}");
        let (_d, mut t) = table("a,b\n\"1,2\n");
        let e = t.next(&mut rec).unwrap_err().to_string();
        assert!(e.contains(":2") && e.contains("unbalanced quotes"), "{e}");
    }

    #[test]
    fn counts_take_ints_and_floats() {
        assert_eq!(count(b"12"), Ok(12));
        assert_eq!(count(b"171.0"), Ok(171));
        assert_eq!(count(b" 2.6 "), Ok(3));
        assert_eq!(count(b""), Ok(0));
        assert_eq!(count(b"1e3"), Ok(1000));
        assert!(count(b"-1").is_err());
        assert!(count(b"x").is_err());
        assert!(count(b"nan").is_err());
        assert!(count(b"99999999999").is_err());
    }

    #[test]
    fn days_come_from_names() {
        let d = |s: &str| day_of(Path::new(s));
        assert_eq!(d("invocations_per_function_md.anon.d05.csv"), Some(5));
        assert_eq!(d("app_memory_percentiles.anon.d12.csv"), Some(12));
        assert_eq!(d("day_007.csv"), Some(7));
        assert_eq!(d("day_00.csv"), Some(0));
        assert_eq!(d("invocations.csv"), None);
    }
}
