//! One result record per invocation: the schema of `invocations.csv`, its writer and its
//! reader. `gale inject` (and `gale simulate`) write records through [`RecordWriter`];
//! `gale report` reads them back through [`RecordReader`], so the two cannot drift apart.
//!
//! Times on the run's clock are ns after the run's start instant (run.yaml `started_at`),
//! written as µs with three decimals. Activation timings (`wait_ms`, `init_ms`,
//! `duration_ms`) are kept in µs and written as ms with three decimals.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use super::clock::RunClock;
use crate::backend::{Activation, EntityKind, Fire, Outcome, Reply};
use crate::monitor::{Window, WINDOW_COLUMNS};

/// Version of the `invocations.csv` schema, written to run.yaml as `records_schema`.
/// 1: the first; 2: `start_us`, `end_us`, `completion_us`, `response_us`, `node` (issue
/// 12); 3: `response_bytes` after `http_status`, `entity` after `error`. Readers find columns by name, so files of
/// any version read the same (an absent column is empty).
pub const SCHEMA_VERSION: u32 = 3;

/// The columns of `invocations.csv` before the monitor's ([`WINDOW_COLUMNS`]).
pub const OWN_COLUMNS: [&str; 23] = [
    "row",
    "function",
    "user",
    "blocking",
    "scheduled_us",
    "sent_us",
    "lateness_us",
    "start_us",
    "end_us",
    "completion_us",
    "response_us",
    "http_status",
    "response_bytes",
    "activation_id",
    "outcome",
    "cold",
    "wait_ms",
    "init_ms",
    "duration_ms",
    "node",
    "container",
    "error",
    "entity",
];

/// The columns of `invocations.csv`, in order.
pub fn columns() -> impl Iterator<Item = &'static str> {
    OWN_COLUMNS.into_iter().chain(WINDOW_COLUMNS)
}

/// What happened to one invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Trace row id.
    pub row: u64,
    /// Function name.
    pub function: Arc<str>,
    /// What the row invoked (action, sequence, web action, trigger).
    pub entity: EntityKind,
    /// User label.
    pub user: Arc<str>,
    /// Sent with `?blocking=true`.
    pub blocking: bool,
    /// When it was due, ns on the run's clock.
    pub scheduled_ns: u64,
    /// When the request was handed to a connection (`None`: never sent).
    pub sent_ns: Option<u64>,
    /// When the reply to the invoke request was complete.
    pub replied_ns: Option<u64>,
    /// The activation's start on the run's clock (on a cold start, the start of init).
    pub start_ns: Option<u64>,
    /// The activation's end on the run's clock.
    pub end_ns: Option<u64>,
    /// HTTP status of the invoke request.
    pub status: Option<u16>,
    /// Size of the invoke reply's body, bytes.
    pub response_bytes: Option<u64>,
    /// Activation id.
    pub activation_id: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Cold start, when an activation record said.
    pub cold: Option<bool>,
    /// `waitTime`, µs.
    pub wait_us: Option<u64>,
    /// `initTime`, µs (cold starts only).
    pub init_us: Option<u64>,
    /// Activation `duration`, µs.
    pub duration_us: Option<u64>,
    /// Error text.
    pub error: Option<String>,
    /// The node that ran it (gale's platform and simulator only).
    pub node: Option<Arc<str>>,
    /// The container that ran it.
    pub container: Option<String>,
    /// The activation's start and end, epoch µs on the platform's clock (the monitor's
    /// query window); not written.
    pub window_us: Option<(u64, u64)>,
    /// What the monitor measured in that window.
    pub usage: Option<Window>,
}

impl Record {
    /// A record for an invocation due at `scheduled_ns` that has not been sent (yet).
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
            entity: EntityKind::Action,
            user,
            blocking: false,
            scheduled_ns,
            sent_ns: None,
            replied_ns: None,
            start_ns: None,
            end_ns: None,
            status: None,
            response_bytes: None,
            activation_id: None,
            outcome,
            cold: None,
            wait_us: None,
            init_us: None,
            duration_us: None,
            error: (!error.is_empty()).then(|| error.to_string()),
            node: None,
            container: None,
            window_us: None,
            usage: None,
        }
    }

    /// Fill the reply's fields in; an activation it carries (blocking call) is placed on
    /// the run's clock with `clock`.
    pub fn apply(&mut self, reply: Reply, clock: &RunClock) {
        self.status = reply.status;
        self.response_bytes = reply.body_bytes;
        self.outcome = reply.outcome;
        self.error = reply.error;
        self.activation_id = reply.activation_id;
        if reply.completes && reply.status.is_some() {
            // A plain HTTP function: it ended when its reply did.
            self.end_ns = self.replied_ns;
        }
        if let Some(a) = reply.activation {
            // A blocking reply brackets the activation: it ran between send and reply.
            clock.observe(&a, self.sent_ns, self.replied_ns);
            self.apply_activation(a, clock);
        } else if self.entity == EntityKind::Web && self.outcome == Outcome::Success {
            // A web action's response is its result: the user waited until it came.
            self.end_ns = self.replied_ns;
        }
    }

    /// Fill in a completed trigger fire: it starts with the trigger's activation and ends
    /// with the last rule activation to end, whose timings, container and monitor window
    /// the record carries. The outcome is the first failure among the rules, if any (a
    /// rule that could start nothing counts as an `http_error`, as invoking a missing
    /// action does).
    pub fn apply_fire(&mut self, fire: Fire, clock: &RunClock) {
        let trigger_start = fire.trigger.timings().start_epoch_us;
        let mut failure: Option<(Outcome, String)> = None;
        let mut last: Option<Activation> = None;
        for run in fire.rules {
            match run.result {
                Ok(a) => {
                    if a.status_code != 0 && failure.is_none() {
                        let why = a.error.clone().unwrap_or_default();
                        failure = Some((
                            Outcome::of_status_code(a.status_code),
                            format!("rule {} ({}): {why}", run.rule, run.action),
                        ));
                    }
                    let ends_later = last
                        .as_ref()
                        .is_none_or(|l| a.timings().end_epoch_us > l.timings().end_epoch_us);
                    if ends_later {
                        last = Some(a);
                    }
                }
                Err(why) if failure.is_none() => {
                    let outcome = if why.starts_with("activation record not available") {
                        Outcome::Accepted
                    } else {
                        Outcome::HttpError
                    };
                    failure = Some((
                        outcome,
                        format!("rule {} ({}): {why}", run.rule, run.action),
                    ));
                }
                Err(_) => {}
            }
        }
        let id = self.activation_id.take();
        match last {
            Some(a) => self.apply_activation(a, clock),
            None => self.outcome = Outcome::Success,
        }
        // The record is the fire's: its id, and its start.
        self.activation_id = id;
        self.start_ns = Some(clock.run_ns(trigger_start));
        if let Some((outcome, why)) = failure {
            self.outcome = outcome;
            self.error = Some(why);
        }
    }

    /// Fill an activation record's fields in (after a blocking reply or a fetch).
    pub fn apply_activation(&mut self, a: Activation, clock: &RunClock) {
        let t = a.timings();
        self.outcome = Outcome::of_status_code(a.status_code);
        self.cold = Some(t.cold);
        self.wait_us = t.wait_us;
        self.init_us = t.init_us;
        self.duration_us = Some(t.duration_us);
        self.start_ns = Some(clock.run_ns(t.start_epoch_us));
        self.end_ns = Some(clock.run_ns(t.end_epoch_us));
        self.window_us = Some((t.start_epoch_us, t.end_epoch_us));
        self.container = a.container;
        self.node = a.node.map(Arc::from);
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

    /// `end − scheduled`: what the user of the trace waited for the function's result, for
    /// blocking and non-blocking calls alike (no coordinated omission: counted from the
    /// instant the trace intended, not from the send).
    pub fn completion_ns(&self) -> Option<u64> {
        self.end_ns.map(|e| e.saturating_sub(self.scheduled_ns))
    }

    /// `replied − sent`: the HTTP request's response time (for a non-blocking call, the
    /// time until `202 Accepted`, not until the function finished).
    pub fn response_ns(&self) -> Option<u64> {
        match (self.sent_ns, self.replied_ns) {
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
pub(crate) fn put_us(buf: &mut Vec<u8>, ns: Option<u64>) {
    if let Some(ns) = ns {
        put_u64(buf, ns / 1000);
        put_frac3(buf, ns % 1000);
    }
}

/// Append `us` as milliseconds with three decimals.
fn put_ms(buf: &mut Vec<u8>, us: Option<u64>) {
    put_us(buf, us)
}

fn put_frac3(buf: &mut Vec<u8>, f: u64) {
    let digit = |d: u64| b'0' + d as u8;
    buf.extend_from_slice(&[b'.', digit(f / 100), digit(f / 10 % 10), digit(f % 10)]);
}

/// Decimal digits, without the formatting machinery: the writer puts several numbers in
/// every record, and `write!` costs several times more.
pub(crate) fn put_u64(buf: &mut Vec<u8>, mut n: u64) {
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

fn put_bool(buf: &mut Vec<u8>, v: Option<bool>) {
    match v {
        Some(true) => buf.extend_from_slice(b"true"),
        Some(false) => buf.extend_from_slice(b"false"),
        None => {}
    }
}

/// Append a text field, quoted as RFC 4180 wants when it holds a separator or a quote.
pub(crate) fn put_text(buf: &mut Vec<u8>, s: &str) {
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
        write_record(&mut self.buf, r);
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

/// One record as a CSV line (with its newline).
pub fn write_record(b: &mut Vec<u8>, r: &Record) {
    put_u64(b, r.row);
    b.push(b',');
    put_text(b, &r.function);
    b.push(b',');
    put_text(b, &r.user);
    b.push(b',');
    put_bool(b, Some(r.blocking));
    b.push(b',');
    put_us(b, Some(r.scheduled_ns));
    b.push(b',');
    put_us(b, r.sent_ns);
    b.push(b',');
    put_us(b, r.lateness_ns());
    b.push(b',');
    put_us(b, r.start_ns);
    b.push(b',');
    put_us(b, r.end_ns);
    b.push(b',');
    put_us(b, r.completion_ns());
    b.push(b',');
    put_us(b, r.response_ns());
    b.push(b',');
    if let Some(s) = r.status {
        put_u64(b, s.into());
    }
    b.push(b',');
    if let Some(n) = r.response_bytes {
        put_u64(b, n);
    }
    b.push(b',');
    put_text(b, r.activation_id.as_deref().unwrap_or(""));
    b.push(b',');
    b.extend_from_slice(r.outcome.as_str().as_bytes());
    b.push(b',');
    put_bool(b, r.cold);
    b.push(b',');
    put_ms(b, r.wait_us);
    b.push(b',');
    put_ms(b, r.init_us);
    b.push(b',');
    put_ms(b, r.duration_us);
    b.push(b',');
    put_text(b, r.node.as_deref().unwrap_or(""));
    b.push(b',');
    put_text(b, r.container.as_deref().unwrap_or(""));
    b.push(b',');
    if let Some(e) = &r.error {
        put_text(b, &one_line(e));
    }
    b.push(b',');
    b.extend_from_slice(r.entity.as_str().as_bytes());
    b.push(b',');
    Window::write_cells(r.usage.as_ref(), b);
    b.push(b'\n');
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

pub use super::read::{ReadError, RecordReader};

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
        r.blocking = true;
        r.sent_ns = Some(2_000);
        r.replied_ns = Some(1_002_000);
        r.start_ns = Some(3_000);
        r.end_ns = Some(902_000);
        r.duration_us = Some(899);
        r.status = Some(200);
        r.response_bytes = Some(1234);
        r.outcome = Outcome::Success;
        r.node = Some("n0".into());
        r.error = Some("multi\nline, \"quoted\"".into());
        w.write(&r).unwrap();
        assert_eq!(w.finish().unwrap(), 2);
        let mut rd = csv::Reader::from_path(&path).unwrap();
        assert_eq!(
            rd.headers().unwrap().iter().collect::<Vec<_>>(),
            columns().collect::<Vec<_>>()
        );
        let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
        let col = |name: &str| OWN_COLUMNS.iter().position(|c| *c == name).unwrap();
        assert_eq!(&rows[0][col("outcome")], "shed");
        assert_eq!(&rows[0][col("sent_us")], "");
        assert_eq!(&rows[0][col("blocking")], "false");
        assert_eq!(
            (
                &rows[1][col("scheduled_us")],
                &rows[1][col("lateness_us")],
                &rows[1][col("completion_us")],
                &rows[1][col("response_us")],
                &rows[1][col("duration_ms")],
            ),
            ("1.500", "0.500", "900.500", "1000.000", "0.899")
        );
        assert_eq!(&rows[1][col("error")], "multi line, \"quoted\"");
        assert_eq!(&rows[1][col("node")], "n0");
        assert_eq!(&rows[1][col("response_bytes")], "1234");
        assert_eq!(&rows[0][col("response_bytes")], "");
        assert_eq!(rows[1].len(), columns().count());
    }
}
