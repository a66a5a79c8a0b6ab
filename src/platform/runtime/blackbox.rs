//! The `blackbox` kind: an executable the user brings, named by absolute path in
//! `exec.image`, that speaks the ActionLoop protocol itself (ack on fd 3 when
//! `__OW_WAIT_FOR_ACK` is set, one `/run` line per activation on stdin, sentinels, one
//! result line on fd 3). The gale binary prepares the process as for every kind (result
//! pipe on fd 3, parent-death signal, cgroup membership: see [`super::main`]) and then
//! replaces itself with that executable. It gets no init line: like an ActionLoop `exec`,
//! it never sees `/init`; the action's init parameters are its environment instead.

use std::fs::File;
use std::path::Path;

/// The kind name, as used in `exec.kind`.
pub const KIND: &str = "blackbox";

/// The action's executable, opened by the wrapper before it drops privileges.
pub struct Opened {
    /// Inherited by the action (not close-on-exec): a `#!` script's interpreter opens it
    /// through `/proc/self/fd`.
    fd: std::os::fd::OwnedFd,
}

/// Open `image` for [`exec`]: the descriptor reaches the file even when the sandbox user
/// cannot traverse its directory.
pub fn open(image: &Path) -> std::io::Result<Opened> {
    use std::os::fd::AsRawFd;
    let file = File::open(image)?;
    let fd = std::os::fd::OwnedFd::from(file);
    // SAFETY: F_SETFD on a descriptor we own only clears its close-on-exec flag.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Opened { fd })
}

/// exec the action's executable; returns only if that fails.
pub fn exec(results: File, image: Opened) -> i32 {
    use std::os::fd::IntoRawFd;
    // The descriptor outlives this process image: it is how the kernel (or the script's
    // interpreter) reaches the file.
    let fd = image.fd.into_raw_fd();
    let path = if std::path::Path::new("/proc/self/fd").is_dir() {
        format!("/proc/self/fd/{fd}")
    } else {
        format!("/dev/fd/{fd}")
    };
    super::exec_action(results, std::process::Command::new(path), KIND)
}

/// Why `image` cannot be a blackbox action's executable, if it cannot.
pub fn check_image(image: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let path = Path::new(image);
    if !path.is_absolute() {
        return Err(format!(
            "blackbox actions need \"image\": the absolute path of an executable that speaks the ActionLoop protocol; '{image}' is not absolute."
        ));
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(()),
        Ok(_) => Err(format!(
            "The blackbox image '{image}' is not an executable regular file."
        )),
        Err(e) => Err(format!("The blackbox image '{image}' cannot be used: {e}.")),
    }
}
