//! The `python:3` kind: the gale binary prepares the process (result pipe on fd 3,
//! parent-death signal, cgroup membership: see [`super::main`]), then replaces itself with
//! `python3 -u` running the launcher embedded here, which speaks the protocol.

use std::fs::File;
use std::os::unix::process::CommandExt;

/// The kind name, as used in `exec.kind` (`python:default` is an alias).
pub const KIND: &str = "python:3";

/// Environment variable naming the Python interpreter (default `python3` from `PATH`).
pub const PYTHON_ENV: &str = "GALE_PYTHON";

/// The launcher: ack, init, then one `main(args)` call per activation.
pub const LAUNCHER: &str = include_str!("python_launcher.py");

/// exec the interpreter with the launcher; returns only if that fails.
pub fn exec(results: File) -> i32 {
    // fd 3 must survive the exec: it was placed by dup2 (no close-on-exec), and leaking the
    // File's ownership keeps it from being closed here.
    std::mem::forget(results);
    let python = std::env::var_os(PYTHON_ENV).unwrap_or_else(|| "python3".into());
    let err = std::process::Command::new(&python)
        .arg("-u")
        .arg("-c")
        .arg(LAUNCHER)
        .env_remove(crate::platform::process::RESULT_FD_ENV)
        .env_remove(crate::platform::process::PARENT_PID_ENV)
        .env_remove(crate::platform::cgroups::PROCS_ENV)
        .env("PYTHONIOENCODING", "UTF-8")
        .exec();
    eprintln!(
        "gale __runtime python:3: cannot run `{}`: {err}",
        python.to_string_lossy()
    );
    1
}
