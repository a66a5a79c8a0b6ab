//! The simulation's result files: `invocations.csv` (inject's columns, schema v2, then
//! `queued`), `containers.csv` (each container's life) and `nodes.csv` (utilisation over
//! time). Each is written to `NAME.partial` and renamed when complete, so a directory never
//! holds half a file under its final name.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::record::{Container, Invocation, NodeSample, Sink};

/// invocations.csv's columns: the v2 schema shared with inject, then the simulator's own.
pub const INVOCATION_COLUMNS: [&str; 29] = [
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
    "activation_id",
    "outcome",
    "cold",
    "wait_ms",
    "init_ms",
    "duration_ms",
    "node",
    "container",
    "error",
    "cpu_ms",
    "mem_peak_bytes",
    "mem_mean_bytes",
    "cpu_exact",
    "mem_peak_exact",
    "monitor_samples",
    "monitor_missed",
    "queued",
];

/// containers.csv's columns.
pub const CONTAINER_COLUMNS: &str =
    "container,function,node,memory_mb,created_us,ready_us,removed_us,runs,busy_ms,idle_ms";

/// nodes.csv's columns.
pub const NODE_COLUMNS: &str =
    "at_us,node,memory_mb,reserved_mb,containers,running,cpus,cpu_busy,cpu_util,queued";

const FLUSH_BYTES: usize = 256 * 1024;

struct Csv {
    file: File,
    buf: Vec<u8>,
    partial: PathBuf,
    path: PathBuf,
}

impl Csv {
    fn create(path: PathBuf, header: &str) -> io::Result<Csv> {
        let partial = path.with_extension("csv.partial");
        let file = File::create(&partial)?;
        let mut buf = Vec::with_capacity(FLUSH_BYTES * 2);
        buf.extend_from_slice(header.as_bytes());
        buf.push(b'\n');
        Ok(Csv {
            file,
            buf,
            partial,
            path,
        })
    }

    fn row_done(&mut self) -> io::Result<()> {
        self.buf.push(b'\n');
        if self.buf.len() >= FLUSH_BYTES {
            self.file.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    fn finish(mut self) -> io::Result<()> {
        self.file.write_all(&self.buf)?;
        self.file.sync_all()?;
        std::fs::rename(&self.partial, &self.path)
    }
}

/// Writes the three files of a result directory.
pub struct FileSink {
    invocations: Option<Csv>,
    containers: Csv,
    nodes: Csv,
}

impl FileSink {
    /// Create the files in `dir`; without `invocations`, no invocations.csv (the summary
    /// still counts every invocation).
    pub fn create(dir: &Path, invocations: bool) -> io::Result<FileSink> {
        Ok(FileSink {
            invocations: if invocations {
                Some(Csv::create(
                    dir.join("invocations.csv"),
                    &INVOCATION_COLUMNS.join(","),
                )?)
            } else {
                None
            },
            containers: Csv::create(dir.join("containers.csv"), CONTAINER_COLUMNS)?,
            nodes: Csv::create(dir.join("nodes.csv"), NODE_COLUMNS)?,
        })
    }

    /// Flush, sync and give every file its final name.
    pub fn finish(self) -> io::Result<()> {
        if let Some(i) = self.invocations {
            i.finish()?;
        }
        self.containers.finish()?;
        self.nodes.finish()
    }
}

impl Sink for FileSink {
    fn invocation(&mut self, r: &Invocation) -> io::Result<()> {
        let Some(csv) = self.invocations.as_mut() else {
            return Ok(());
        };
        let b = &mut csv.buf;
        put_u64(b, r.row);
        b.push(b',');
        put_text(b, &r.function);
        b.push(b',');
        put_text(b, &r.user);
        b.extend_from_slice(if r.blocking { b",true," } else { b",false," });
        put_us(b, Some(r.scheduled_ns));
        b.push(b',');
        // Sent at the scheduled instant: virtual time is never late.
        put_us(b, Some(r.scheduled_ns));
        b.extend_from_slice(b",0.000,");
        put_us(b, r.start_ns);
        b.push(b',');
        put_us(b, r.end_ns);
        b.push(b',');
        put_us(b, r.completion_ns());
        b.push(b',');
        // A blocking reply comes when the activation ends; a 202 comes at once.
        let response = if r.blocking {
            r.completion_ns()
        } else {
            Some(0)
        };
        put_us(b, response.filter(|_| r.end_ns.is_some() || !r.blocking));
        b.push(b',');
        put_u64(b, u64::from(r.http_status()));
        b.push(b',');
        // Activation ids are the platform's; a simulation names none.
        b.push(b',');
        b.extend_from_slice(r.outcome.name().as_bytes());
        b.push(b',');
        match r.cold {
            Some(true) => b.extend_from_slice(b"true"),
            Some(false) => b.extend_from_slice(b"false"),
            None => {}
        }
        b.push(b',');
        put_ms(b, r.wait_ns);
        b.push(b',');
        put_ms(b, r.init_ns);
        b.push(b',');
        put_ms(b, r.start_ns.zip(r.end_ns).map(|(s, e)| e - s));
        b.push(b',');
        if let Some(n) = &r.node {
            put_text(b, n);
        }
        b.push(b',');
        if let Some(c) = r.container {
            b.push(b'c');
            put_u64(b, c);
        }
        b.push(b',');
        if let Some(e) = &r.error {
            put_text(b, e);
        }
        b.push(b',');
        put_ms(b, r.cpu_ns);
        // No memory measurements; the CPU figure is the modelled work, exactly.
        b.extend_from_slice(b",,,");
        b.extend_from_slice(if r.cpu_ns.is_some() { b"true" } else { b"" });
        b.extend_from_slice(b",,,,");
        b.extend_from_slice(if r.queued { b"true" } else { b"false" });
        csv.row_done()
    }

    fn container(&mut self, c: &Container) -> io::Result<()> {
        let b = &mut self.containers.buf;
        b.push(b'c');
        put_u64(b, c.id);
        b.push(b',');
        if let Some(f) = &c.function {
            put_text(b, f);
        }
        b.push(b',');
        put_text(b, &c.node);
        b.push(b',');
        put_u64(b, u64::from(c.memory_mb));
        b.push(b',');
        put_us(b, Some(c.created_ns));
        b.push(b',');
        put_us(b, c.ready_ns);
        b.push(b',');
        put_us(b, c.removed_ns);
        b.push(b',');
        put_u64(b, c.runs);
        b.push(b',');
        put_ms(b, Some(c.busy_ns));
        b.push(b',');
        put_ms(b, Some(c.idle_ns));
        self.containers.row_done()
    }

    fn node(&mut self, s: &NodeSample) -> io::Result<()> {
        let b = &mut self.nodes.buf;
        put_us(b, Some(s.at_ns));
        b.push(b',');
        put_text(b, &s.node);
        let _ = write!(
            b,
            ",{},{},{},{},{},{:.4},{:.4},{}",
            s.memory_mb,
            s.reserved_mb,
            s.containers,
            s.running,
            s.cpus,
            s.cpu_busy,
            s.cpu_busy / s.cpus,
            s.queued
        );
        self.nodes.row_done()
    }
}

/// `ns` as µs with three decimals (ns precision).
fn put_us(buf: &mut Vec<u8>, ns: Option<u64>) {
    if let Some(ns) = ns {
        put_fixed3(buf, ns / 1000, ns % 1000);
    }
}

/// `ns` as ms with three decimals (µs precision, truncated).
fn put_ms(buf: &mut Vec<u8>, ns: Option<u64>) {
    if let Some(ns) = ns {
        put_fixed3(buf, ns / 1_000_000, ns / 1000 % 1000);
    }
}

fn put_fixed3(buf: &mut Vec<u8>, whole: u64, thousandths: u64) {
    put_u64(buf, whole);
    let f = thousandths;
    let digit = |d: u64| b'0' + d as u8;
    buf.extend_from_slice(&[b'.', digit(f / 100), digit(f / 10 % 10), digit(f % 10)]);
}

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

/// A text field, quoted as RFC 4180 wants when it holds a separator or a quote.
fn put_text(buf: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
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
