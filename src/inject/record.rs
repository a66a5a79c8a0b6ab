//! One result record per invocation, and the CSV writer of `invocations.csv`.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use crate::backend::{Outcome, Reply};
use crate::monitor::{Window, WINDOW_COLUMNS};

/// The columns of `invocations.csv` before the monitor's ([`WINDOW_COLUMNS`]).
const OWN_COLUMNS: [&str; 17] = [
    "row",
    "function",
    "user",
    "scheduled_us",
    "sent_us",
    "lateness_us",
    "latency_us",
    "response_us",
    "http_status",
    "activation_id",
    "outcome",
    "cold",
    "wait_ms",
    "init_ms",
    "duration_ms",
    "error",
    "container",
];

/// The columns of `invocations.csv`, in order.
pub fn columns() -> impl Iterator<Item = &'static str> {
    OWN_COLUMNS.into_iter().chain(WINDOW_COLUMNS)
}

/// What happened to one invocation. Times are ns after the run's start instant.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Trace row id.
    pub row: u64,
    /// Function name.
    pub function: Arc<str>,
    /// User label.
    pub user: Arc<str>,
    /// When it was due.
    pub scheduled_ns: u64,
    /// When the request was handed to a connection (`None`: never sent).
    pub sent_ns: Option<u64>,
    /// When the reply was complete.
    pub done_ns: Option<u64>,
    /// HTTP status.
    pub status: Option<u16>,
    /// Activation id.
    pub activation_id: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Cold start, when an activation record said.
    pub cold: Option<bool>,
    /// `waitTime`.
    pub wait_ms: Option<u64>,
    /// `initTime`.
    pub init_ms: Option<u64>,
    /// Activation `duration`.
    pub duration_ms: Option<u64>,
    /// Error text.
    pub error: Option<String>,
    /// The container that ran it (`gale.container`).
    pub container: Option<String>,
    /// The activation's start and end, epoch µs (for the monitor query).
    pub window_us: Option<(u64, u64)>,
    /// What the monitor measured in that window.
    pub usage: Option<Window>,
}

impl Record {
    /// A record for an invocation that was not sent.
    pub fn unsent(
        row: u64,
        function: Arc<str>,
        user: Arc<str>,
        scheduled_ns: u64,
        outcome: Outcome,
        error: &str,
    ) -> Record {
        Record {
            row,
            function,
            user,
            scheduled_ns,
            sent_ns: None,
            done_ns: None,
            status: None,
            activation_id: None,
            outcome,
            cold: None,
            wait_ms: None,
            init_ms: None,
            duration_ms: None,
            error: Some(error.to_string()),
            container: None,
            window_us: None,
            usage: None,
        }
    }

    /// Fill the reply's fields in.
    pub fn apply(&mut self, reply: Reply) {
        self.status = reply.status;
        self.outcome = reply.outcome;
        self.error = reply.error;
        self.activation_id = reply.activation_id;
        if let Some(a) = reply.activation {
            self.apply_activation(a);
        }
    }

    /// Fill an activation record's fields in (after a blocking reply or a fetch).
    pub fn apply_activation(&mut self, a: crate::backend::Activation) {
        self.outcome = Outcome::of_status_code(a.status_code);
        self.cold = Some(a.cold());
        self.wait_ms = a.wait_ms;
        self.init_ms = a.init_ms;
        self.duration_ms = Some(a.duration_ms);
        self.window_us = Some(a.window_us());
        self.container = a.container;
        if a.error.is_some() {
            self.error = a.error;
        }
        if self.activation_id.is_none() {
            self.activation_id = Some(a.id);
        }
    }

    /// `sent − scheduled`.
    pub fn lateness_ns(&self) -> Option<u64> {
        self.sent_ns.map(|s| s.saturating_sub(self.scheduled_ns))
    }

    /// `done − scheduled`: latency as the trace intended it (no coordinated omission).
    pub fn latency_ns(&self) -> Option<u64> {
        self.done_ns.map(|d| d.saturating_sub(self.scheduled_ns))
    }

    /// `done − sent`: the platform's response time.
    pub fn response_ns(&self) -> Option<u64> {
        match (self.sent_ns, self.done_ns) {
            (Some(s), Some(d)) => Some(d.saturating_sub(s)),
            _ => None,
        }
    }
}

/// Writes `invocations.csv`, handing the file whole records only: a crash leaves complete
/// lines, a signal leaves everything flushed.
pub struct RecordWriter {
    file: File,
    buf: Vec<u8>,
    rows: u64,
}

// Large enough to make writes cheap, small enough that little is lost on SIGKILL.
const FLUSH_BYTES: usize = 64 * 1024;

/// Append `ns` as microseconds with three decimals.
fn put_us(buf: &mut Vec<u8>, ns: Option<u64>) {
    if let Some(ns) = ns {
        put_u64(buf, ns / 1000);
        let f = ns % 1000;
        let digit = |d: u64| b'0' + d as u8;
        buf.extend_from_slice(&[b'.', digit(f / 100), digit(f / 10 % 10), digit(f % 10)]);
    }
}

/// Decimal digits, without the formatting machinery: the writer puts several numbers in
/// every record, and `write!` costs several times more.
fn put_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

fn put<T: std::fmt::Display>(buf: &mut Vec<u8>, v: Option<T>) {
    if let Some(v) = v {
        let _ = write!(buf, "{v}");
    }
}

/// Append a text field, quoted as RFC 4180 wants when it holds a separator or a quote.
fn put_text(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
        || s.starts_with(' ')
        || s.ends_with(' ')
    {
        buf.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                buf.push(b'"');
            }
            buf.push(b);
        }
        buf.push(b'"');
    } else {
        buf.extend_from_slice(s.as_bytes());
    }
}

impl RecordWriter {
    /// Create the file and write the header.
    pub fn create(path: &Path) -> io::Result<RecordWriter> {
        let file = File::create(path)?;
        let mut w = RecordWriter {
            file,
            buf: Vec::with_capacity(FLUSH_BYTES * 2),
            rows: 0,
        };
        w.buf
            .extend_from_slice(columns().collect::<Vec<_>>().join(",").as_bytes());
        w.buf.push(b'\n');
        w.flush()?;
        Ok(w)
    }

    /// Append one record (buffered).
    pub fn write(&mut self, r: &Record) -> io::Result<()> {
        let b = &mut self.buf;
        put_u64(b, r.row);
        b.push(b',');
        put_text(b, &r.function);
        b.push(b',');
        put_text(b, &r.user);
        b.push(b',');
        put_us(b, Some(r.scheduled_ns));
        b.push(b',');
        put_us(b, r.sent_ns);
        b.push(b',');
        put_us(b, r.lateness_ns());
        b.push(b',');
        put_us(b, r.latency_ns());
        b.push(b',');
        put_us(b, r.response_ns());
        b.push(b',');
        put(b, r.status);
        b.push(b',');
        put_text(b, r.activation_id.as_deref().unwrap_or(""));
        b.push(b',');
        b.extend_from_slice(r.outcome.as_str().as_bytes());
        b.push(b',');
        put(b, r.cold);
        b.push(b',');
        put(b, r.wait_ms);
        b.push(b',');
        put(b, r.init_ms);
        b.push(b',');
        put(b, r.duration_ms);
        b.push(b',');
        if let Some(e) = &r.error {
            put_text(b, &one_line(e));
        }
        b.push(b',');
        put_text(b, r.container.as_deref().unwrap_or(""));
        b.push(b',');
        Window::write_cells(r.usage.as_ref(), b);
        b.push(b'\n');
        self.rows += 1;
        if self.buf.len() >= FLUSH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    /// Hand everything buffered to the file.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.file.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Flush and fsync; returns the number of records written.
    pub fn finish(mut self) -> io::Result<u64> {
        self.flush()?;
        self.file.sync_all()?;
        Ok(self.rows)
    }
}

/// Errors can be long, multi-line bodies: keep records one line each and bounded.
fn one_line(s: &str) -> String {
    let mut t: String = s
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if t.len() > 500 {
        let mut cut = 500;
        while !t.is_char_boundary(cut) {
            cut -= 1;
        }
        t.truncate(cut);
        t.push('…');
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_as_fmt_does() {
        for n in [
            0,
            7,
            9,
            10,
            99,
            100,
            12_345,
            1 << 32,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_u64(&mut b, n);
            assert_eq!(String::from_utf8(b).unwrap(), n.to_string());
            let mut b = Vec::new();
            put_us(&mut b, Some(n));
            assert_eq!(
                String::from_utf8(b).unwrap(),
                format!("{}.{:03}", n / 1000, n % 1000)
            );
        }
    }

    #[test]
    fn writes_complete_csv_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inv.csv");
        let mut w = RecordWriter::create(&path).unwrap();
        let mut r = Record::unsent(
            7,
            "f".into(),
            "u".into(),
            1_500,
            Outcome::Shed,
            "in-flight cap (4) reached",
        );
        w.write(&r).unwrap();
        r.sent_ns = Some(2_000);
        r.done_ns = Some(1_002_000);
        r.status = Some(200);
        r.outcome = Outcome::Success;
        r.error = Some("multi\nline, \"quoted\"".into());
        w.write(&r).unwrap();
        assert_eq!(w.finish().unwrap(), 2);
        let mut rd = csv::Reader::from_path(&path).unwrap();
        assert_eq!(
            rd.headers().unwrap().iter().collect::<Vec<_>>(),
            columns().collect::<Vec<_>>()
        );
        let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
        assert_eq!(&rows[0][10], "shed");
        assert_eq!(&rows[0][4], "");
        assert_eq!(
            (&rows[1][3], &rows[1][5], &rows[1][6], &rows[1][7]),
            ("1.500", "0.500", "1000.500", "1000.000")
        );
        assert_eq!(&rows[1][15], "multi line, \"quoted\"");
        assert_eq!(rows[1].len(), columns().count());
        assert_eq!(&rows[1][17], "");
    }
}
