//! The trace's rows, read on a thread of their own and handed to the dispatcher in batches,
//! so parsing never delays a dispatch.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::time::Duration;

use crate::trace::{Invocation, Rows, TraceError};

type Batch = Vec<Result<Invocation, TraceError>>;

/// `--max-invocations` as an iterator bound (none: unbounded).
pub fn row_limit(limit: Option<u64>) -> usize {
    limit
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX)
}

// Rows cross threads in batches: one wake-up per batch instead of one per row.
const BATCH: usize = 256;

/// Stream rows from the trace on their own thread, so parsing never delays a dispatch.
pub(super) fn spawn_reader(rows: Rows, limit: Option<u64>) -> std::io::Result<RowStream> {
    let (tx, rx): (SyncSender<Batch>, _) = mpsc::sync_channel(32);
    std::thread::Builder::new()
        .name("gale-reader".into())
        .spawn(move || {
            crate::report::writer::lower_thread_priority();
            let mut batch = Vec::with_capacity(BATCH);
            for item in rows.take(row_limit(limit)) {
                let stop = item.is_err();
                batch.push(item);
                let full = batch.len() == BATCH || stop;
                if full && (!hand_over(&tx, std::mem::take(&mut batch)) || stop) {
                    return;
                }
                if batch.capacity() == 0 {
                    batch.reserve(BATCH);
                }
            }
            hand_over(&tx, batch);
        })?;
    Ok(RowStream {
        rx,
        current: Vec::new().into_iter(),
    })
}

/// Queue a batch; false when the consumer is gone. A full queue is polled rather than
/// waited on: a sender blocked in the channel makes every receive pay a wake-up (a syscall
/// and an interrupt, tens of µs on a VM) on the dispatching thread, and the queue holds
/// thousands of rows, far more than a few ms of sending takes.
fn hand_over(tx: &SyncSender<Batch>, mut batch: Batch) -> bool {
    loop {
        match tx.try_send(batch) {
            Ok(()) => return true,
            Err(mpsc::TrySendError::Disconnected(_)) => return false,
            Err(mpsc::TrySendError::Full(b)) => {
                batch = b;
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// The rows, one at a time, as the reader thread produced them.
pub(super) struct RowStream {
    rx: Receiver<Batch>,
    current: std::vec::IntoIter<Result<Invocation, TraceError>>,
}

/// What the stream holds right now.
pub(super) enum Poll {
    /// The next row (or the trace's error).
    Row(Result<Invocation, TraceError>),
    /// The reader is behind: nothing yet.
    Empty,
    /// The trace is over.
    End,
}

impl RowStream {
    /// The next row if one is ready, without waiting.
    pub(super) fn poll_row(&mut self) -> Poll {
        loop {
            if let Some(item) = self.current.next() {
                return Poll::Row(item);
            }
            match self.rx.try_recv() {
                Ok(batch) => self.current = batch.into_iter(),
                Err(mpsc::TryRecvError::Disconnected) => return Poll::End,
                Err(mpsc::TryRecvError::Empty) => return Poll::Empty,
            }
        }
    }

    /// The next row, without blocking the calling runtime thread: when the reader is behind
    /// (rare: it is far faster than any dispatch rate), wait on the runtime's timer so the
    /// thread's sockets are still served.
    pub(super) async fn next_row(&mut self) -> Option<Result<Invocation, TraceError>> {
        next_row_from(|| self.poll_row()).await
    }
}

/// The next row from `poll`, waiting on the runtime's timer while it is empty.
pub(super) async fn next_row_from(
    mut poll: impl FnMut() -> Poll,
) -> Option<Result<Invocation, TraceError>> {
    loop {
        match poll() {
            Poll::Row(item) => return Some(item),
            Poll::End => return None,
            Poll::Empty => tokio::time::sleep(Duration::from_micros(100)).await,
        }
    }
}
