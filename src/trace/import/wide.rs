//! Regrouping a wide table (one row per function, one column per minute) by minute without
//! holding it: cells are appended to per-minute blocks in an unlinked temporary file and
//! read back one minute at a time.
//!
//! A day of Azure 2019 is ~50 000 functions × 1440 minutes; as a dense array of counts it
//! would take 288 MB. Here memory is one block buffer per minute (at most 6 MB in all: a
//! day's 1440 minutes get a page each) plus the offsets of the blocks written, whatever the
//! number of non-zero cells.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;

/// Bytes of one (entry, count) cell.
const CELL: usize = 8;
/// Total bytes of the block buffers (a day's import must stay within 64 MB in all).
const BUFFERS: usize = 6 << 20;

/// Cells grouped by bucket.
pub struct Transposer {
    file: File,
    block: usize,
    bufs: Vec<Vec<u8>>,
    blocks: Vec<Vec<u64>>,
    len: u64,
}

impl Transposer {
    /// A transposer for `buckets` buckets, its file in the system's temporary directory.
    pub fn new(buckets: usize) -> io::Result<Transposer> {
        let file = anonymous_file()?;
        let per = (BUFFERS / buckets.max(1)).clamp(256, 4096);
        let block = per / CELL * CELL;
        Ok(Transposer {
            file,
            block,
            bufs: (0..buckets).map(|_| Vec::new()).collect(),
            blocks: vec![Vec::new(); buckets],
            len: 0,
        })
    }

    /// Add `count` invocations of `entry` to `bucket`.
    pub fn push(&mut self, bucket: usize, entry: u32, count: u32) -> io::Result<()> {
        let block = self.block;
        let Some(buf) = self.bufs.get_mut(bucket) else {
            return Err(io::Error::other(format!("bucket {bucket} out of range")));
        };
        if buf.capacity() == 0 {
            buf.reserve_exact(block);
        }
        buf.extend_from_slice(&entry.to_le_bytes());
        buf.extend_from_slice(&count.to_le_bytes());
        if buf.len() >= block {
            self.file.write_all_at(buf, self.len)?;
            self.blocks[bucket].push(self.len);
            self.len += buf.len() as u64;
            buf.clear();
        }
        Ok(())
    }

    /// The cells of `bucket`, in the order pushed, into `out`; the bucket's buffer is freed.
    pub fn take(&mut self, bucket: usize, out: &mut Vec<(u32, u32)>) -> io::Result<()> {
        out.clear();
        let mut block = vec![0u8; self.block];
        for &at in self
            .blocks
            .get(bucket)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            self.file.read_exact_at(&mut block, at)?;
            cells(&block, out);
        }
        if let Some(buf) = self.bufs.get_mut(bucket) {
            cells(buf, out);
            *buf = Vec::new();
        }
        Ok(())
    }
}

fn cells(bytes: &[u8], out: &mut Vec<(u32, u32)>) {
    for c in bytes.chunks_exact(CELL) {
        let e = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let n = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
        out.push((e, n));
    }
}

/// A read-write file with no name: created in the temporary directory and unlinked at
/// once, so it disappears with the process whatever happens.
fn anonymous_file() -> io::Result<File> {
    let dir = std::env::temp_dir();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    for i in 0..100u32 {
        let path = dir.join(format!(".gale-import-{}-{nanos}-{i}", std::process::id()));
        match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                std::fs::remove_file(&path)?;
                f.flush()?;
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot create a temporary file in {}: {e}", dir.display()),
                ))
            }
        }
    }
    Err(io::Error::other("cannot create a temporary file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_come_back_by_bucket_in_order() {
        let mut t = Transposer::new(3).unwrap();
        let mut want: Vec<Vec<(u32, u32)>> = vec![Vec::new(); 3];
        for i in 0..20_000u32 {
            let b = (i * 7 % 3) as usize;
            t.push(b, i, i % 5 + 1).unwrap();
            want[b].push((i, i % 5 + 1));
        }
        let mut out = Vec::new();
        for (b, w) in want.iter().enumerate() {
            t.take(b, &mut out).unwrap();
            assert_eq!(&out, w);
        }
        assert!(t.push(3, 0, 1).is_err());
    }
}
