//! The `nodejs:20` kind: the gale binary prepares the process (result pipe on fd 3,
//! parent-death signal, cgroup membership: see [`super::main`]), then replaces itself with
//! `node` running the launcher embedded here, which speaks the protocol and follows
//! OpenWhisk's Node.js runtime (see the launcher's header and docs/platform.md).

use std::fs::File;

/// The kind name, as used in `exec.kind` (`nodejs:default` and `nodejs` are aliases).
pub const KIND: &str = "nodejs:20";

/// Environment variable naming the Node.js executable (default `node` from `PATH`).
pub const NODE_ENV: &str = "GALE_NODE";

/// The launcher: ack, init, then one `main(params)` call per activation (several at once
/// when the action's `limits.concurrency` is above 1).
pub const LAUNCHER: &str = include_str!("nodejs_launcher.js");

/// exec Node.js with the launcher; returns only if that fails.
pub fn exec(results: File) -> i32 {
    let node = std::env::var_os(NODE_ENV).unwrap_or_else(|| "node".into());
    let mut cmd = std::process::Command::new(node);
    cmd.arg("-e").arg(LAUNCHER);
    super::exec_action(results, cmd, KIND)
}
