//! The simulation's result files: `invocations.csv` (the results room's record, as inject
//! writes it, then `queued`), `containers.csv` (each container's life) and `nodes.csv`
//! (utilisation over time). Each is written to `NAME.partial` and renamed when complete, so a directory never
//! holds half a file under its final name.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::record::{Container, Invocation, NodeSample, Outcome, Sink};
use crate::monitor::Window;
use crate::report::record::{columns, put_text, put_u64, put_us, write_record, Record};
use crate::report::summary::Accumulator;

/// The simulator's column after the shared schema's (gale report finds columns by name).
pub const QUEUED_COLUMN: &str = "queued";

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
    summary: Accumulator,
    containers: Csv,
    nodes: Csv,
}

impl FileSink {
    /// Create the files in `dir`; without `invocations`, no invocations.csv (the summary
    /// still counts every invocation).
    pub fn create(dir: &Path, invocations: bool) -> io::Result<FileSink> {
        Ok(FileSink {
            invocations: if invocations {
                let header: Vec<&str> = columns().chain([QUEUED_COLUMN]).collect();
                Some(Csv::create(dir.join("invocations.csv"), &header.join(","))?)
            } else {
                None
            },
            summary: Accumulator::default(),
            containers: Csv::create(dir.join("containers.csv"), CONTAINER_COLUMNS)?,
            nodes: Csv::create(dir.join("nodes.csv"), NODE_COLUMNS)?,
        })
    }

    /// Flush, sync and give every file its final name; the shared summary of the records.
    pub fn finish(self) -> io::Result<Accumulator> {
        if let Some(i) = self.invocations {
            i.finish()?;
        }
        self.containers.finish()?;
        self.nodes.finish()?;
        Ok(self.summary)
    }
}

impl Sink for FileSink {
    fn invocation(&mut self, r: &Invocation) -> io::Result<()> {
        let record = to_record(r);
        self.summary.add(&record);
        let Some(csv) = self.invocations.as_mut() else {
            return Ok(());
        };
        write_record(&mut csv.buf, &record);
        csv.buf.pop();
        csv.buf
            .extend_from_slice(if r.queued { b",true" } else { b",false" });
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

/// The results room's record of a simulated invocation: sent at its scheduled instant
/// (virtual time is never late); a blocking reply comes when the activation ends, a 202 at
/// once; no activation id (ids are a platform's); `cpu_ms` is the modelled CPU work,
/// exact, with no memory figures and no samples.
pub fn to_record(r: &Invocation) -> Record {
    let replied = if r.blocking { r.end_ns } else { None }.or(Some(r.scheduled_ns));
    Record {
        row: r.row,
        function: Arc::clone(&r.function),
        // The model runs actions; web actions, sequences and triggers are not modelled.
        entity: crate::backend::EntityKind::Action,
        user: r.user.clone(),
        blocking: r.blocking,
        scheduled_ns: r.scheduled_ns,
        sent_ns: Some(r.scheduled_ns),
        replied_ns: replied,
        start_ns: r.start_ns,
        end_ns: r.end_ns,
        status: Some(r.http_status()),
        // No HTTP exchange: the model has no reply bodies.
        response_bytes: None,
        activation_id: None,
        outcome: match r.outcome {
            Outcome::Success => crate::backend::Outcome::Success,
            Outcome::DeveloperError => crate::backend::Outcome::DeveloperError,
            Outcome::InternalError => crate::backend::Outcome::InternalError,
            Outcome::Throttled => crate::backend::Outcome::Throttled,
        },
        cold: r.cold,
        wait_us: r.wait_ns.map(|n| n / 1000),
        init_us: r.init_ns.map(|n| n / 1000),
        duration_us: r.start_ns.zip(r.end_ns).map(|(s, e)| (e - s) / 1000),
        error: r.error.clone(),
        node: r.node.as_deref().cloned(),
        container: r.container.map(|c| format!("c{c}")),
        window_us: None,
        usage: r
            .cpu_ns
            .zip(r.start_ns.zip(r.end_ns))
            .map(|(cpu, (s, e))| Window {
                start_us: s / 1000,
                end_us: e / 1000,
                cpu_ms: Some(cpu as f64 / 1e6),
                cpu_exact: true,
                mem_peak_bytes: None,
                mem_peak_exact: false,
                mem_mean_bytes: None,
                samples: 0,
                missed: false,
            }),
    }
}

/// `ns` as ms with three decimals (µs precision, truncated).
fn put_ms(buf: &mut Vec<u8>, ns: Option<u64>) {
    put_us(buf, ns.map(|n| n / 1000));
}
