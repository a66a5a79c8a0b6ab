//! Parse-from-bytes entry points for the fuzz targets in `fuzz/` (and the no-panic
//! property tests): each reads at most [`MAX_ROWS`] rows and discards them.

use std::sync::Arc;

use super::input::Input;
use super::{csv, faasload, open_yaml, OpenOptions, TraceError};

/// Rows read per input: arrival specs can describe endless streams. The first rows already
/// run every spec's generator and the merge; more would only repeat them, at the cost of
/// the fuzzer's speed (10 000 rows made the YAML target 30 times slower).
pub const MAX_ROWS: usize = 100;

fn drain(rows: super::Rows) -> Result<usize, TraceError> {
    let mut n = 0;
    for r in rows.take(MAX_ROWS) {
        r?;
        n += 1;
    }
    Ok(n)
}

/// Read `data` as a YAML trace; the number of rows read.
pub fn yaml(data: &[u8]) -> Result<usize, TraceError> {
    let input = Input::Bytes {
        name: "fuzz.yaml".into(),
        data: Arc::from(data),
    };
    drain(open_yaml(&input, &OpenOptions::default())?.rows)
}

/// Read `data` as a CSV trace; the number of rows read.
pub fn csv(data: &[u8]) -> Result<usize, TraceError> {
    drain(csv::from_bytes("fuzz.csv", data)?)
}

/// Read `data` as one FaaSLoad trace file (every line) and its first line as a file name.
pub fn faasload_line(data: &[u8]) -> Result<usize, TraceError> {
    if let Some(first) = data.split(|&b| b == b'\n').next() {
        let _ = faasload::parse_name(&String::from_utf8_lossy(first));
    }
    let input = Input::Bytes {
        name: "u-a-1-1-1".into(),
        data: Arc::from(data),
    };
    let name = faasload::parse_name("u-a-1-1-1")
        .ok_or_else(|| TraceError::file("u-a-1-1-1", "bad name"))?;
    drain(faasload::file_rows(&input, name)?)
}
