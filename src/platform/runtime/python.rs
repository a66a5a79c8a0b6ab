//! The `python:3` kind: the gale binary prepares the process (result pipe on fd 3,
//! parent-death signal, cgroup membership: see [`super::main`]), then replaces itself with
//! `python3 -u` running the launcher embedded here, which speaks the protocol.

use std::fs::File;

/// The kind name, as used in `exec.kind` (`python:default` is an alias).
pub const KIND: &str = "python:3";

/// Environment variable naming the Python interpreter (default `python3` from `PATH`).
pub const PYTHON_ENV: &str = "GALE_PYTHON";

/// The launcher: ack, init, then one `main(args)` call per activation.
pub const LAUNCHER: &str = include_str!("python_launcher.py");

/// exec the interpreter with the launcher; returns only if that fails.
pub fn exec(results: File) -> i32 {
    let python = std::env::var_os(PYTHON_ENV).unwrap_or_else(|| "python3".into());
    let mut cmd = std::process::Command::new(python);
    cmd.arg("-u")
        .arg("-c")
        .arg(LAUNCHER)
        .env("PYTHONIOENCODING", "UTF-8");
    super::exec_action(results, cmd, KIND)
}
