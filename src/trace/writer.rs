//! gale's CSV row format, written as rows stream by: `at,function,user,params,blocking`.
//!
//! `at` is written as exact decimal seconds (`num::format_secs`) and `params` verbatim, so
//! reading the output back yields the very same rows.

use std::io::Write;

use super::{num, Invocation, TraceError};

/// Why writing a trace as CSV stopped.
#[derive(Debug, thiserror::Error)]
pub enum WriteCsvError {
    /// The trace being read is bad.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// The output could not be written.
    #[error("cannot write the CSV output: {0}")]
    Io(#[from] std::io::Error),
}

/// The header row of gale's CSV format.
pub const CSV_COLUMNS: [&str; 5] = ["at", "function", "user", "params", "blocking"];

/// Write `rows` as gale CSV to `out`; returns the number of rows written.
pub fn write_csv<W: Write>(
    rows: impl Iterator<Item = Result<Invocation, TraceError>>,
    out: W,
) -> Result<u64, WriteCsvError> {
    let mut w = csv::WriterBuilder::new()
        .buffer_capacity(64 * 1024)
        .from_writer(out);
    w.write_record(CSV_COLUMNS).map_err(csv_io)?;
    let mut n = 0u64;
    let mut at = String::with_capacity(24);
    for r in rows {
        let inv = r?;
        at.clear();
        num::push_decimal(&mut at, inv.at_ns, 9);
        let blocking = match inv.blocking {
            None => "",
            Some(true) => "true",
            Some(false) => "false",
        };
        w.write_record([
            at.as_bytes(),
            inv.function.as_bytes(),
            inv.user.as_bytes(),
            inv.params.as_deref().unwrap_or("").as_bytes(),
            blocking.as_bytes(),
        ])
        .map_err(csv_io)?;
        n += 1;
    }
    w.flush()?;
    Ok(n)
}

fn csv_io(e: csv::Error) -> WriteCsvError {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => WriteCsvError::Io(io),
        other => WriteCsvError::Io(std::io::Error::other(format!("{other:?}"))),
    }
}
