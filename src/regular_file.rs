//! Reading files that users name (action code, generator inputs, traces): regular files
//! only, and never more than a stated size. A FIFO would block a run forever and
//! `/dev/zero` would grow memory without end; both are refused with a clear reason.

use std::io::Read;
use std::path::Path;

/// OpenWhisk's largest action code (48 MB); also the bound for inputs passed by content.
pub const MAX_CODE_BYTES: u64 = 48 * 1024 * 1024;

/// Why a named file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Opening or reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A directory, FIFO, socket or device.
    #[error("not a regular file")]
    NotRegular,
    /// Larger than the limit.
    #[error("larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// Not UTF-8 text.
    #[error("not UTF-8 text")]
    NotText,
}

/// The text of a regular file of at most `limit` bytes.
pub fn read_text(path: &Path, limit: u64) -> Result<String, FileError> {
    let bytes = read(path, limit)?;
    String::from_utf8(bytes).map_err(|_| FileError::NotText)
}

/// The bytes of a regular file of at most `limit` bytes. The file is opened without
/// blocking (a FIFO with no writer would block the open itself), checked, then read with
/// the limit enforced on what is actually read, not on the size it claims.
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(FileError::NotRegular);
    }
    if meta.len() > limit {
        return Err(FileError::TooLarge { limit });
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(FileError::TooLarge { limit });
    }
    Ok(out)
}

/// Whether `path` is a regular file (following links), with the reason if not.
pub fn check(path: &Path) -> Result<(), FileError> {
    let meta = std::fs::metadata(path)?;
    if meta.file_type().is_file() {
        Ok(())
    } else {
        Err(FileError::NotRegular)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_devices_fifos_and_large_files() {
        assert!(matches!(
            read(Path::new("/dev/zero"), 10),
            Err(FileError::NotRegular)
        ));
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
        assert!(matches!(read(&fifo, 10), Err(FileError::NotRegular)));
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 11]).unwrap();
        assert!(matches!(
            read(&big, 10),
            Err(FileError::TooLarge { limit: 10 })
        ));
        assert_eq!(read_text(&big, 11).unwrap(), "x".repeat(11));
    }
}
