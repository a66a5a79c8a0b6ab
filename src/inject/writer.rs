//! The writer thread: records → `invocations.csv` and the running summary.

use std::path::Path;
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::record::{Record, RecordWriter};
use super::summary::Accumulator;

const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// A writer thread and the channel feeding it.
pub struct Writer {
    /// Send records here.
    pub tx: Sender<Record>,
    thread: JoinHandle<std::io::Result<(u64, Accumulator)>>,
}

impl Writer {
    /// Create the CSV file and start the thread.
    pub fn start(path: &Path) -> std::io::Result<Writer> {
        let mut out = RecordWriter::create(path)?;
        let (tx, rx) = mpsc::channel::<Record>();
        let thread = std::thread::Builder::new().name("gale-writer".into()).spawn(move || {
            let mut acc = Accumulator::default();
            let mut last_flush = Instant::now();
            loop {
                // Records reach the disk within ~100 ms even in a quiet run, without a
                // syscall per record in a busy one.
                match rx.recv_timeout(FLUSH_EVERY) {
                    Ok(rec) => {
                        acc.add(&rec);
                        out.write(&rec)?;
                        if last_flush.elapsed() >= FLUSH_EVERY {
                            out.flush()?;
                            last_flush = Instant::now();
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        out.flush()?;
                        last_flush = Instant::now();
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            Ok((out.finish()?, acc))
        })?;
        Ok(Writer { tx, thread })
    }

    /// Wait until every sender is gone and everything is on disk.
    pub fn finish(self) -> std::io::Result<(u64, Accumulator)> {
        drop(self.tx);
        self.thread.join().map_err(|_| std::io::Error::other("the record writer thread panicked"))?
    }
}
