//! Where a trace file's bytes come from: a file on disk, or memory (tests and fuzzing).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::TraceError;

/// A readable trace file that can be opened more than once (a small file is checked in full
/// before its rows are streamed, and a YAML file is read once for its header, once for rows).
#[derive(Debug, Clone)]
pub enum Input {
    /// A file on disk.
    File(PathBuf),
    /// Bytes in memory, named `name` in errors.
    Bytes {
        /// Name used in errors and to resolve relative paths.
        name: PathBuf,
        /// The content.
        data: Arc<[u8]>,
    },
}

impl Input {
    /// The name errors use.
    pub fn name(&self) -> &Path {
        match self {
            Input::File(p) => p,
            Input::Bytes { name, .. } => name,
        }
    }

    /// A fresh reader from the first byte.
    pub fn open(&self) -> Result<Box<dyn Read + Send>, TraceError> {
        match self {
            Input::File(p) => std::fs::File::open(p)
                .map(|f| Box::new(f) as Box<dyn Read + Send>)
                .map_err(|e| TraceError::file(p, format!("cannot open: {e}"))),
            Input::Bytes { data, .. } => Ok(Box::new(std::io::Cursor::new(data.clone()))),
        }
    }

    /// Size in bytes, when known.
    pub fn size(&self) -> Option<u64> {
        match self {
            Input::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Input::Bytes { data, .. } => Some(data.len() as u64),
        }
    }

    /// The 1-based line of the first record at or after byte `offset`: blank lines and, when
    /// `comment` is set, lines starting with it are skipped, as the csv crate skips them
    /// (its record positions point before them). Only errors need it, so it reads the
    /// content again rather than tracking lines on every record.
    pub fn line_of_byte(&self, offset: u64, comment: Option<u8>) -> Option<u64> {
        let mut reader = std::io::BufReader::new(self.open().ok()?);
        let (mut newlines, mut pos) = (0u64, 0u64);
        let (mut line_start, mut in_comment) = (true, false);
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Some(newlines + 1),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => return None,
            };
            for &b in buf.get(..n)? {
                pos += 1;
                if b == b'\n' {
                    newlines += 1;
                    line_start = true;
                    in_comment = false;
                    continue;
                }
                if pos > offset && !in_comment && b != b'\r' {
                    if line_start && comment == Some(b) {
                        in_comment = true;
                    } else {
                        return Some(newlines + 1);
                    }
                }
                line_start = false;
            }
        }
    }

    /// Line `line` (1-based) of the content, for error messages only.
    pub fn line_text(&self, line: u64) -> Option<String> {
        use std::io::BufRead;
        let reader = std::io::BufReader::new(self.open().ok()?);
        let index = usize::try_from(line.checked_sub(1)?).ok()?;
        reader.lines().nth(index)?.ok()
    }
}
