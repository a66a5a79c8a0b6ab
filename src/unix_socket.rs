//! Binding a UNIX stream socket that is never more open than mode 0660, shared by the
//! monitor's measurement socket and the platform's lifecycle-event socket.

use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Why a socket could not be bound.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// Another server answers on the path.
    #[error("{0}: another server is already listening there")]
    InUse(PathBuf),
    /// The path exists and is not a socket.
    #[error("{0}: exists and is not a socket (refusing to replace it)")]
    NotSocket(PathBuf),
    /// A filesystem or socket operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

impl From<BindError> for io::Error {
    fn from(e: BindError) -> io::Error {
        let kind = match &e {
            BindError::InUse(_) => io::ErrorKind::AddrInUse,
            BindError::NotSocket(_) => io::ErrorKind::AlreadyExists,
            BindError::Io { source, .. } => source.kind(),
        };
        io::Error::new(kind, e.to_string())
    }
}

/// Bind `path` with mode 0660, never exposing a more open socket: bind inside a private
/// (0700) directory next to it, chmod, then rename into place. A stale socket file (nobody
/// accepting) is replaced; a live socket, or anything that is not a socket, is an error.
/// The listener is blocking.
pub fn bind_private(path: &Path) -> Result<UnixListener, BindError> {
    let io = |source| BindError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if UnixStream::connect(path).is_ok() {
                return Err(BindError::InUse(path.to_path_buf()));
            }
            // Nobody answers: a stale file from a server that died; replaced below.
        }
        Ok(_) => return Err(BindError::NotSocket(path.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    // Unique per call (pid and instant), so two binds in one process never share it.
    let private = dir.join(format!(
        ".{}.{}.{}",
        name.unwrap_or_default(),
        std::process::id(),
        crate::timefmt::epoch_us(SystemTime::now())
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .map_err(|e| BindError::Io {
            path: private.clone(),
            source: e,
        })?;
    let inner = private.join("sock");
    let bound = (|| {
        let listener = UnixListener::bind(&inner)?;
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o660))?;
        std::fs::rename(&inner, path)?;
        Ok(listener)
    })();
    let _ = std::fs::remove_file(&inner);
    let _ = std::fs::remove_dir(&private);
    bound.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_0660_replaces_stale_and_refuses_live_or_non_socket() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("s.sock");

        let stale = UnixListener::bind(&sock).unwrap();
        drop(stale);
        let live = bind_private(&sock).unwrap();
        let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o660);
        assert!(matches!(bind_private(&sock), Err(BindError::InUse(_))));
        drop(live);

        let file = dir.path().join("plain");
        std::fs::write(&file, b"keep me").unwrap();
        assert!(matches!(bind_private(&file), Err(BindError::NotSocket(_))));
        assert_eq!(std::fs::read(&file).unwrap(), b"keep me");

        // No private directory is left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }
}
