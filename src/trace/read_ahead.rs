//! Reading a trace on a thread of its own while the caller writes: parsing (and an
//! importer's reordering) and formatting the output each take about half of a conversion's
//! time, so on two cores the two halves overlap. Rows travel in batches through a bounded
//! channel: memory stays bounded (a few batches), order is kept, and an error arrives in
//! its place, after the rows before it.
//!
//! The caller sees each row by reference and the batch goes back to the reading thread,
//! which drops its rows there: every row's allocations are freed by the thread that made
//! them. Freed on the other thread, they would land in that thread's allocator cache while
//! the reader's every allocation took glibc's slow path (a fifth of an Azure 2021 import's
//! time went to `_int_malloc` and `_int_free` that way).

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use super::{Invocation, Rows, TraceError};

type Item = Result<Invocation, TraceError>;

/// Rows per batch: small enough to stay below the allocator's mmap threshold, big enough
/// that the channel's cost vanishes per row.
const BATCH: usize = 512;
/// Batches in flight.
const DEPTH: usize = 4;

/// Read `rows` on a thread named `gale-read` and give each to `each`, in order, on this
/// thread; stop at the first error (`each`'s, or the rows' own, converted); the number of
/// rows given. When the thread cannot be started the rows are read in place instead.
pub fn for_each_ahead<E: From<TraceError>>(
    rows: Rows,
    mut each: impl FnMut(&Invocation) -> Result<(), E>,
) -> Result<u64, E> {
    let (tx, rx) = sync_channel::<Vec<Item>>(DEPTH);
    // Room for every batch there is, so that handing one back never blocks.
    let (back_tx, back_rx) = sync_channel::<Vec<Item>>(DEPTH + 2);
    let (give, take) = sync_channel::<Rows>(1);
    let spawned = std::thread::Builder::new()
        .name("gale-read".into())
        .spawn(move || {
            if let Ok(rows) = take.recv() {
                read(rows, &tx, &back_rx);
            }
        });
    let mut n = 0;
    let mut rows = rows;
    if let Ok(thread) = spawned {
        // The rows go over only once the thread runs, so a failed spawn cannot lose them.
        match give.send(rows) {
            Ok(()) => {
                let n = consume(&rx, &back_tx, each)?;
                // The channel closed: the reader has ended, or died (a bug) and the rows
                // stopped short; the caller must not take them for all.
                return match thread.join() {
                    Ok(()) => Ok(n),
                    Err(_) => Err(E::from(TraceError::file(
                        std::path::Path::new("<reading thread>"),
                        "the thread reading the trace stopped unexpectedly",
                    ))),
                };
            }
            Err(back) => rows = back.0,
        }
    }
    for r in rows {
        each(&r?)?;
        n += 1;
    }
    Ok(n)
}

/// The reading thread: fill batches (reusing those handed back, whose rows it drops) until
/// the rows end or the caller stops listening.
fn read(mut rows: Rows, tx: &SyncSender<Vec<Item>>, back: &Receiver<Vec<Item>>) {
    loop {
        let mut batch = back.try_recv().unwrap_or_default();
        batch.clear();
        batch.extend(rows.by_ref().take(BATCH));
        let last = batch.len() < BATCH;
        if batch.is_empty() || tx.send(batch).is_err() || last {
            return;
        }
    }
}

fn consume<E: From<TraceError>>(
    rx: &Receiver<Vec<Item>>,
    back: &SyncSender<Vec<Item>>,
    mut each: impl FnMut(&Invocation) -> Result<(), E>,
) -> Result<u64, E> {
    let mut n = 0;
    while let Ok(mut batch) = rx.recv() {
        for i in 0..batch.len() {
            let result = match &batch[i] {
                Ok(inv) => each(inv),
                Err(_) => match batch.swap_remove(i) {
                    Err(e) => Err(E::from(e)),
                    Ok(_) => unreachable!("the item was an error"),
                },
            };
            result?;
            n += 1;
        }
        // If the reader has ended, the batch is dropped here: nothing more comes anyway.
        let _ = back.try_send(batch);
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn row(i: u64) -> Item {
        if i == 2500 {
            return Err(TraceError::file(std::path::Path::new("t.csv"), "bad row"));
        }
        Ok(Invocation {
            row: i,
            at_ns: i * 1000,
            function: Arc::from("f"),
            user: Arc::from("u"),
            params: None,
            blocking: None,
        })
    }

    /// What `for_each_ahead` gives: the rows' debug forms, then the error that stopped it.
    fn seen(rows: Rows) -> (Vec<String>, Result<u64, String>) {
        let mut got = Vec::new();
        let r = for_each_ahead(rows, |inv| -> Result<(), TraceError> {
            got.push(format!("{inv:?}"));
            Ok(())
        })
        .map_err(|e| e.to_string());
        (got, r)
    }

    #[test]
    fn rows_and_errors_arrive_in_order_and_nothing_more() {
        for n in [0u64, 1, 511, 512, 513, 2499, 2501, 5000] {
            let mut direct = Vec::new();
            let mut stop = Ok(n);
            for i in 0..n {
                match row(i) {
                    Ok(inv) => direct.push(format!("{inv:?}")),
                    Err(e) => {
                        stop = Err(e.to_string());
                        break;
                    }
                }
            }
            let (got, r) = seen(Box::new((0..n).map(row)));
            assert_eq!(got, direct, "{n} rows");
            assert_eq!(r, stop, "{n} rows");
        }
    }

    #[test]
    fn a_reader_that_dies_is_an_error_not_a_short_trace() {
        let rows = (0..2000u64).map(|i| {
            assert!(i != 1500, "a bug in a reader");
            row(i)
        });
        let (got, r) = seen(Box::new(rows));
        // Whole batches before the failing one arrive; the error says the rest is missing.
        assert_eq!(got.len(), 1024);
        assert!(r.unwrap_err().contains("stopped unexpectedly"));
    }

    #[test]
    fn a_consumer_that_stops_early_stops_the_reader() {
        let mut calls = 0;
        let r = for_each_ahead(Box::new((0..).map(row)), |_| {
            calls += 1;
            if calls == 10 {
                Err(TraceError::file(std::path::Path::new("x"), "enough"))
            } else {
                Ok(())
            }
        });
        assert!(r.is_err());
        assert_eq!(calls, 10);
        // The reader thread ends at its next send; nothing to join, nothing hangs.
    }
}
