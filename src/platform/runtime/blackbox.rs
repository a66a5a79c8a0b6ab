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

/// exec the action's executable; returns only if that fails.
pub fn exec(results: File, image: &Path) -> i32 {
    super::exec_action(results, std::process::Command::new(image), KIND)
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
