//! `--csv FILE`: every raw sample, one line each, written by its own thread so the sampler
//! only pays a bounded-queue push (rows are dropped, and counted, if the disk falls behind).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::history::{Sample, SlowSample};
use super::Container;

/// The columns of the raw-sample CSV file.
pub const COLUMNS: &str =
    "t_us,container,tier,cpu_ns,mem_bytes,peak_bytes,missed,anon,file,inactive_file,working_set";

/// One row for the writer.
pub enum CsvRow {
    /// A fast-tier sample.
    Fast(Arc<Container>, Sample),
    /// A slow-tier sample.
    Slow(Arc<Container>, SlowSample),
}

/// The open file, before its thread starts.
pub struct CsvSink {
    out: BufWriter<File>,
}

// About a second of samples for 100 containers at 1 kHz.
const QUEUE: usize = 131_072;

impl CsvSink {
    /// Create the file and write the header.
    pub fn create(path: &Path) -> io::Result<CsvSink> {
        let file = File::create(path).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
        })?;
        let mut out = BufWriter::with_capacity(256 * 1024, file);
        writeln!(out, "{COLUMNS}")?;
        Ok(CsvSink { out })
    }

    /// Start the writer thread; it ends (flushing) when every sender is dropped.
    pub fn spawn(self) -> io::Result<(SyncSender<CsvRow>, JoinHandle<()>)> {
        let (tx, rx) = sync_channel::<CsvRow>(QUEUE);
        let mut out = self.out;
        let thread = std::thread::Builder::new()
            .name("gale-monitor-csv".into())
            .spawn(move || {
                let mut failed = false;
                for row in rx {
                    if failed {
                        continue;
                    }
                    let r = match row {
                        CsvRow::Fast(c, s) => writeln!(
                            out,
                            "{},{},fast,{},{},{},{},,,,",
                            s.t_us,
                            c.id(),
                            s.cpu_ns,
                            s.mem_bytes,
                            s.peak_bytes,
                            s.missed
                        ),
                        CsvRow::Slow(c, s) => writeln!(
                            out,
                            "{},{},slow,,,,,{},{},{},{}",
                            s.t_us,
                            c.id(),
                            s.stat.anon,
                            s.stat.file,
                            s.stat.inactive_file,
                            s.working_set
                        ),
                    };
                    if let Err(e) = r {
                        tracing::error!("monitor: raw-sample CSV: {e}; no more rows are written");
                        failed = true;
                    }
                }
                if let Err(e) = out.flush() {
                    tracing::error!("monitor: raw-sample CSV: {e}");
                }
            })?;
        Ok((tx, thread))
    }
}
