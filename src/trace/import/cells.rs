//! Reading the release files: columns found by header name, cells as integers or floats,
//! errors located at file, line, column and field.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use csv::ByteRecord;

use crate::trace::TraceError;

/// A CSV file of a release, opened with its header row read.
pub struct Table {
    /// The file.
    pub path: PathBuf,
    /// Column names, trimmed.
    pub headers: Vec<String>,
    /// The records after the header.
    pub reader: csv::Reader<BufReader<File>>,
}

impl Table {
    /// Open `path` and read its header row.
    pub fn open(path: &Path) -> Result<Table, TraceError> {
        let file =
            File::open(path).map_err(|e| TraceError::file(path, format!("cannot open: {e}")))?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .buffer_capacity(256 * 1024)
            .from_reader(BufReader::with_capacity(256 * 1024, file));
        let headers = reader
            .byte_headers()
            .map_err(|e| csv_error(path, e))?
            .iter()
            .map(|h| String::from_utf8_lossy(h.trim_ascii()).into_owned())
            .collect::<Vec<_>>();
        if headers.iter().all(String::is_empty) {
            return Err(
                TraceError::file(path, "expected a header row, got an empty file").at_line(1),
            );
        }
        Ok(Table {
            path: path.to_path_buf(),
            headers,
            reader,
        })
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
        self.reader
            .read_byte_record(rec)
            .map_err(|e| csv_error(&self.path, e))
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
