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
    let mut w = CsvRows::new(out)?;
    for r in rows {
        w.row(&r?)?;
    }
    Ok(w.finish()?)
}

/// [`write_csv`], with the rows read on a thread of their own
/// ([`super::read_ahead::for_each_ahead`]) while this one formats and writes.
pub fn write_csv_ahead<W: Write>(rows: super::Rows, out: W) -> Result<u64, WriteCsvError> {
    let mut w = CsvRows::new(out)?;
    super::read_ahead::for_each_ahead(rows, |inv| w.row(inv).map_err(WriteCsvError::Io))?;
    Ok(w.finish()?)
}

/// gale CSV rows written one at a time, after the header.
///
/// Written by hand rather than through the csv crate's writer (a tenth of an import's time
/// went to its per-field state machine): the same bytes, since a field is quoted exactly
/// when the csv crate's `QuoteStyle::Necessary` would (it holds a comma, a quote, CR or LF;
/// quotes inside are doubled) and a row never has a single empty field.
pub struct CsvRows<W: Write> {
    w: std::io::BufWriter<W>,
    line: Vec<u8>,
    at: String,
    n: u64,
}

impl<W: Write> CsvRows<W> {
    /// A writer to `out`; the header row is written at once.
    pub fn new(out: W) -> std::io::Result<Self> {
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, out);
        w.write_all(CSV_COLUMNS.join(",").as_bytes())?;
        w.write_all(b"\n")?;
        Ok(CsvRows {
            w,
            line: Vec::with_capacity(256),
            at: String::with_capacity(24),
            n: 0,
        })
    }

    /// Write one row.
    pub fn row(&mut self, inv: &Invocation) -> std::io::Result<()> {
        self.at.clear();
        num::push_decimal(&mut self.at, inv.at_ns, 9);
        let blocking = match inv.blocking {
            None => "",
            Some(true) => "true",
            Some(false) => "false",
        };
        let line = &mut self.line;
        line.clear();
        line.extend_from_slice(self.at.as_bytes());
        for field in [
            &*inv.function,
            &*inv.user,
            inv.params.as_deref().unwrap_or(""),
            blocking,
        ] {
            line.push(b',');
            push_field(line, field.as_bytes());
        }
        line.push(b'\n');
        self.n += 1;
        self.w.write_all(line)
    }

    /// Flush; the number of rows written.
    pub fn finish(mut self) -> std::io::Result<u64> {
        self.w.flush()?;
        Ok(self.n)
    }
}

/// `field` as one CSV field: verbatim, or quoted with its quotes doubled when it holds a
/// comma, a quote, CR or LF. Not the report room's `put_text`, which also quotes a leading
/// or trailing space: converted traces stay byte for byte what the csv crate wrote.
fn push_field(out: &mut Vec<u8>, field: &[u8]) {
    if !field
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
    {
        out.extend_from_slice(field);
        return;
    }
    out.push(b'"');
    for part in field.split_inclusive(|&b| b == b'"') {
        out.extend_from_slice(part);
        if part.last() == Some(&b'"') {
            out.push(b'"');
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What the csv crate writes for the same record (the format's reference).
    fn by_csv_crate(fields: &[&str]) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        w.write_record(fields).unwrap();
        w.into_inner().unwrap()
    }

    fn ours(fields: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_field(&mut out, f.as_bytes());
        }
        out.push(b'\n');
        out
    }

    #[test]
    fn quoting_matches_the_csv_crate_on_the_usual_cases() {
        for fields in [
            ["0.5", "f", "u", r#"{"cpu_ms":31,"mem_mb":2}"#, ""],
            ["1", "a,b", "", "", "true"],
            ["2", "say \"hi\"", "line\nbreak", "cr\r", "false"],
            ["3", "\"", "\"\"", ",", "\r\n"],
        ] {
            assert_eq!(ours(&fields), by_csv_crate(&fields), "{fields:?}");
        }
    }

    proptest! {
        #[test]
        fn quoting_matches_the_csv_crate(fields in proptest::collection::vec("[a-z,\"\r\n {}:0-9]{0,12}", 5)) {
            let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
            prop_assert_eq!(ours(&refs), by_csv_crate(&refs));
        }
    }
}
