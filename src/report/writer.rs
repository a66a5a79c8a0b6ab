//! The writer thread: records → `invocations.csv` and the running summary.

use std::path::Path;
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use super::measure::Measurer;
use super::record::{Record, RecordWriter};
use super::summary::Accumulator;

const POLL_EVERY: Duration = Duration::from_millis(10);

/// A writer thread and the channel feeding it.
pub struct Writer {
    /// Send records here.
    pub tx: Sender<Record>,
    thread: JoinHandle<std::io::Result<(u64, Accumulator)>>,
}

impl Writer {
    /// Create the CSV file and start the thread; with a monitor, each record is joined
    /// with its measurement first.
    pub fn start(path: &Path, mut monitor: Option<Measurer>) -> std::io::Result<Writer> {
        let mut out = RecordWriter::create(path)?;
        let (tx, rx) = mpsc::channel::<Record>();
        let thread = std::thread::Builder::new()
            .name("gale-writer".into())
            .spawn(move || {
                lower_thread_priority();
                let mut acc = Accumulator::default();
                // Poll rather than block: a blocked receiver makes every sender pay a futex
                // wake-up (a syscall per invocation); polling keeps senders to a queue push.
                loop {
                    let mut disconnected = false;
                    loop {
                        match rx.try_recv() {
                            Ok(mut rec) => {
                                if let Some(m) = monitor.as_mut() {
                                    m.fill(&mut rec);
                                }
                                acc.add(&rec);
                                out.write(&rec)?;
                            }
                            Err(mpsc::TryRecvError::Empty) => break,
                            Err(mpsc::TryRecvError::Disconnected) => {
                                disconnected = true;
                                break;
                            }
                        }
                    }
                    out.flush()?;
                    if disconnected {
                        break;
                    }
                    std::thread::sleep(POLL_EVERY);
                }
                Ok((out.finish()?, acc))
            })?;
        Ok(Writer { tx, thread })
    }

    /// Wait until every sender is gone and everything is on disk.
    pub fn finish(self) -> std::io::Result<(u64, Accumulator)> {
        drop(self.tx);
        self.thread
            .join()
            .map_err(|_| std::io::Error::other("the record writer thread panicked"))?
    }
}

/// Lower the calling thread's CPU priority (nice +10). Bulk threads (trace reader, record
/// writer) work in bursts; niced, they never delay the dispatcher or the I/O threads.
pub fn lower_thread_priority() {
    // SAFETY: plain syscalls on the calling thread; failure only costs precision.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}
