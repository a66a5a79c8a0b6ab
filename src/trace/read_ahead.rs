//! Reading a trace on a thread of its own while the caller writes: parsing (and an
//! importer's reordering) and formatting the output each take about half of a conversion's
//! time, so on two cores the two halves overlap. Rows travel in batches through a bounded
//! channel: memory stays bounded (a few batches), order is kept, and an error arrives in
//! its place, after the rows before it.

use std::sync::mpsc::{sync_channel, Receiver};

use super::{Invocation, Rows, TraceError};

type Item = Result<Invocation, TraceError>;

/// Rows per batch: small enough to stay below the allocator's mmap threshold, big enough
/// that the channel's cost vanishes per row.
const BATCH: usize = 512;
/// Batches in flight.
const DEPTH: usize = 4;

/// `rows`, read ahead on a thread named `gale-read`. When the thread cannot be started the
/// rows are read in place instead.
pub fn read_ahead(rows: Rows) -> Rows {
    let (tx, rx) = sync_channel::<Vec<Item>>(DEPTH);
    let (give, take) = sync_channel::<Rows>(1);
    let spawned = std::thread::Builder::new()
        .name("gale-read".into())
        .spawn(move || {
            let Ok(mut rows) = take.recv() else {
                return;
            };
            loop {
                let mut batch = Vec::with_capacity(BATCH);
                batch.extend(rows.by_ref().take(BATCH));
                let last = batch.len() < BATCH;
                if batch.is_empty() || tx.send(batch).is_err() || last {
                    return;
                }
            }
        });
    if spawned.is_err() {
        return rows;
    }
    // The rows go over only once the thread runs, so a failed spawn cannot lose them.
    if let Err(back) = give.send(rows) {
        return back.0;
    }
    Box::new(ReadAhead {
        rx,
        batch: Vec::new().into_iter(),
    })
}

struct ReadAhead {
    rx: Receiver<Vec<Item>>,
    batch: std::vec::IntoIter<Item>,
}

impl Iterator for ReadAhead {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.batch.next() {
                return Some(item);
            }
            self.batch = self.rx.recv().ok()?.into_iter();
        }
    }
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

    #[test]
    fn rows_and_errors_arrive_in_order_and_nothing_more() {
        for n in [0u64, 1, 511, 512, 513, 5000] {
            let direct: Vec<String> = (0..n).map(|i| format!("{:?}", row(i))).collect();
            let ahead: Vec<String> = read_ahead(Box::new((0..n).map(row)))
                .map(|r| format!("{r:?}"))
                .collect();
            assert_eq!(ahead, direct, "{n} rows");
        }
    }

    #[test]
    fn a_consumer_that_stops_early_stops_the_reader() {
        let mut rows = read_ahead(Box::new((0..).map(row)));
        assert_eq!(rows.next().unwrap().unwrap().row, 0);
        drop(rows);
        // The reader thread ends at its next send; nothing to join, nothing hangs.
    }
}
