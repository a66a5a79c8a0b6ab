//! Action runtimes: the code that runs *inside* an action process (`gale __runtime KIND`).
//!
//! A runtime speaks the ActionLoop protocol with the platform (see docs/platform.md):
//! - at start it joins the cgroups named in `GALE_CGROUP_PROCS` (so the ack certifies that
//!   the process is confined), then writes the ack line `{"ok":true}` on fd 3;
//! - the first stdin line may be an init line `{"init":{…}}` ([`InitBody`], OpenWhisk's
//!   `/init` body): the runtime loads the code and answers `{"ok":true}` or `{"error":"…"}`
//!   on fd 3, after the sentinels, as for an activation. A container started without an
//!   action (a prewarmed stem cell) gets its code this way at first use;
//! - per activation it reads one JSON line on stdin (the `/run` body), writes whatever log
//!   text it wants on stdout/stderr, then the sentinel line on both streams, then exactly one
//!   JSON line on fd 3 (the result);
//! - it exits when stdin closes.
//!
//! The sentinels are written *before* the result so that, once the platform has read the
//! result, both sentinels are already sitting in the pipes: the warm path needs no extra
//! wake-up to collect logs.

pub mod blackbox;
pub mod nodejs;
pub mod python;
pub mod sandbox;
pub mod synthetic;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, Write};
use std::os::fd::{FromRawFd, OwnedFd};

use serde::{Deserialize, Serialize};

/// The line that ends each activation's output on stdout and on stderr (OpenWhisk's).
pub const SENTINEL: &str = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX";

/// Kinds this build can run.
pub const SUPPORTED_KINDS: &[&str] = &[synthetic::KIND, python::KIND, nodejs::KIND, blackbox::KIND];

/// Kinds that can have prewarmed stem cells: all but `blackbox`, whose executable belongs
/// to one action.
pub const PREWARM_KINDS: &[&str] = &[synthetic::KIND, python::KIND, nodejs::KIND];

/// The kind an action or a stem cell declared as `kind` runs as (ASCII case ignored): one of
/// [`SUPPORTED_KINDS`], or an alias of one (`gale:default`, `python:default`,
/// `nodejs:default`, `nodejs`); `None` for a kind this build cannot run.
pub fn resolve_kind(kind: &str) -> Option<&'static str> {
    let kind = kind.to_ascii_lowercase();
    match kind.as_str() {
        "gale:default" => Some(synthetic::KIND),
        "python:default" => Some(python::KIND),
        "nodejs:default" | "nodejs" => Some(nodejs::KIND),
        k => SUPPORTED_KINDS.iter().copied().find(|s| *s == k),
    }
}

/// [`resolve_kind`] for a prewarm entry: `None` also for a kind without stem cells.
pub fn resolve_prewarm_kind(kind: &str) -> Option<&'static str> {
    resolve_kind(kind).filter(|k| PREWARM_KINDS.contains(k))
}

/// Kinds that take code (and so an init step).
pub fn runs_code(kind: &str) -> bool {
    kind == python::KIND || kind == nodejs::KIND
}

/// Kinds whose process runs several activations at once (`limits.concurrency` above 1), as
/// OpenWhisk allows for Node.js only.
pub fn runs_concurrently(kind: &str) -> bool {
    kind == nodejs::KIND
}

/// The init line's body, close to OpenWhisk's `/init` `value`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitBody {
    /// Action name (`/ns/name`), for messages.
    #[serde(default)]
    pub name: String,
    /// Entry point (`main` when empty).
    #[serde(default)]
    pub main: String,
    /// Source text, or a base64 zip archive when `binary`.
    #[serde(default)]
    pub code: String,
    /// Whether `code` is a base64 archive.
    #[serde(default)]
    pub binary: bool,
    /// Environment to export before the code loads (init parameters, stringified).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Activations the process may run at once (`limits.concurrency`); above 1 the runtime
    /// tags every output line with its activation id (see docs/platform.md).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub concurrency: u32,
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// The message OpenWhisk's runtimes answer to a second init.
pub const INIT_TWICE: &str = "Cannot initialize the action more than once.";

/// Run the ActionLoop for `kind` (a `blackbox` kind runs `image`); returns the process exit
/// code.
pub fn main(kind: &str, image: Option<&std::path::Path>) -> i32 {
    if kind == crate::platform::cgroups::reaper::REAPER_KIND {
        return crate::platform::cgroups::reaper::main();
    }
    if !SUPPORTED_KINDS.contains(&kind) {
        eprintln!(
            "gale __runtime: unknown runtime kind `{kind}` (supported: {})",
            SUPPORTED_KINDS.join(", ")
        );
        return 2;
    }
    let Some(results) = result_pipe() else {
        eprintln!(
            "gale __runtime: fd 3 is not open; this command is started by `gale platform`, \
             which passes the result pipe as fd 3"
        );
        return 2;
    };
    if let Err(e) = join_cgroups() {
        eprintln!("gale __runtime: cannot join the container's cgroup: {e}");
        return 1;
    }
    let sandbox = std::env::var(sandbox::SANDBOX_ENV)
        .ok()
        .and_then(|t| sandbox::Sandbox::from_env(&t));
    // The blackbox executable is opened before the user change: the sandbox user may not be
    // allowed into its directory.
    let image = match (kind, image) {
        (blackbox::KIND, Some(image)) => match blackbox::open(image) {
            Ok(opened) => Some(opened),
            Err(e) => {
                eprintln!(
                    "gale __runtime blackbox: cannot open {}: {e}",
                    image.display()
                );
                return 1;
            }
        },
        (blackbox::KIND, None) => {
            eprintln!("gale __runtime blackbox: expected the executable's path after the kind");
            return 2;
        }
        _ => None,
    };
    if let Err(e) = sandbox::enter(sandbox.as_ref(), kind != synthetic::KIND) {
        eprintln!("gale __runtime {kind}: cannot confine the action: {e}");
        return 1;
    }
    match (kind, image) {
        (python::KIND, _) => return python::exec(results),
        (nodejs::KIND, _) => return nodejs::exec(results),
        (blackbox::KIND, Some(image)) => return blackbox::exec(results, image),
        _ => {}
    }
    match action_loop(results, synthetic::run) {
        Ok(()) => 0,
        Err(err) => {
            // A closed result pipe means the platform went away: nothing left to do.
            if err.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("gale __runtime: {err}");
            }
            1
        }
    }
}

/// Replace this process with `cmd` (an interpreter and its launcher, or a blackbox
/// executable), keeping fd 3 and dropping the variables meant for this wrapper only; returns
/// only if the exec fails. The one place where an action program is started, so options that
/// apply to every kind go here.
fn exec_action(results: File, cmd: std::process::Command, kind: &str) -> i32 {
    use std::os::unix::process::CommandExt;
    // fd 3 must survive the exec: it was placed by dup2 (no close-on-exec), and leaking the
    // File's ownership keeps it from being closed here.
    std::mem::forget(results);
    let program = cmd.get_program().to_string_lossy().into_owned();
    // Looked up as the user the action now is: a PATH entry it cannot reach (an interpreter
    // under root's home) is skipped, as a shell would.
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into());
    let Some(resolved) = sandbox::find_program(cmd.get_program(), &path) else {
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        eprintln!(
            "gale __runtime {kind}: no `{program}` on PATH ({path}) that user {uid} may execute"
        );
        return 1;
    };
    let mut exec = std::process::Command::new(resolved);
    exec.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => exec.env(k, v),
            None => exec.env_remove(k),
        };
    }
    // The platform already passed a scrubbed environment; what was meant for this wrapper
    // goes too.
    for var in [
        crate::platform::process::RESULT_FD_ENV,
        crate::platform::process::PARENT_PID_ENV,
        crate::platform::cgroups::PROCS_ENV,
        sandbox::SANDBOX_ENV,
        python::PYTHON_ENV,
        nodejs::NODE_ENV,
    ] {
        exec.env_remove(var);
    }
    let err = exec.env("HOME", "/tmp").env("TMPDIR", "/tmp").exec();
    eprintln!("gale __runtime {kind}: cannot run `{program}`: {err}");
    1
}

/// fd 3 as a file, if it is open. The platform passes the result pipe under the number in
/// `GALE_RESULT_FD` (it spawns without a fork hook, so it cannot place it itself); it is
/// moved to fd 3 here, where the ActionLoop protocol wants it.
fn result_pipe() -> Option<File> {
    if let Some(fd) = std::env::var(crate::platform::process::RESULT_FD_ENV)
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
    {
        if fd != 3 {
            // SAFETY: dup2/close on descriptors this fresh process inherited for this purpose.
            unsafe {
                if libc::dup2(fd, 3) == -1 {
                    return None;
                }
                libc::close(fd);
            }
        }
        die_with_parent();
    }
    // SAFETY: F_GETFD only queries the descriptor table; it cannot affect memory safety.
    let open = unsafe { libc::fcntl(3, libc::F_GETFD) } != -1;
    if !open {
        return None;
    }
    // SAFETY: fd 3 is open (checked above) and nothing else in this process owns it: the
    // platform created it for us alone.
    Some(File::from(unsafe { OwnedFd::from_raw_fd(3) }))
}

/// Move this process into every cgroup listed in `GALE_CGROUP_PROCS` (`:`-separated
/// `cgroup.procs` files), before any action code runs.
fn join_cgroups() -> std::io::Result<()> {
    let Some(list) = std::env::var_os(crate::platform::cgroups::PROCS_ENV) else {
        return Ok(());
    };
    let list = list.to_string_lossy().into_owned();
    for file in list.split(':').filter(|f| !f.is_empty()) {
        std::fs::write(file, "0")
            .map_err(|e| std::io::Error::new(e.kind(), format!("{file}: {e}")))?;
    }
    Ok(())
}

/// Die with the platform even if it is killed without a chance to clean up; if it is
/// already gone (it died before the signal was armed), exit now.
fn die_with_parent() {
    // SAFETY: prctl/getppid only affect this process.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let expected = std::env::var(crate::platform::process::PARENT_PID_ENV)
        .ok()
        .and_then(|v| v.parse::<i32>().ok());
    if expected.is_some_and(|pid| pid != unsafe { libc::getppid() }) {
        std::process::exit(1);
    }
}

/// Read activations from stdin until it closes; `run` turns one `/run` body into a result.
fn action_loop(
    mut results: File,
    run: fn(&serde_json::Value) -> serde_json::Value,
) -> std::io::Result<()> {
    results.write_all(b"{\"ok\":true}\n")?;
    let stdin = std::io::stdin();
    let mut stdin = stdin.lock();
    let mut line = Vec::with_capacity(4096);
    let mut initialised = false;
    loop {
        line.clear();
        if stdin.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let result = match serde_json::from_slice::<serde_json::Value>(&line) {
            // The synthetic kind has no code: an init only has to be the first one.
            Ok(body) if body.get("init").is_some() => {
                let twice = std::mem::replace(&mut initialised, true);
                if twice {
                    serde_json::json!({ "error": INIT_TWICE })
                } else {
                    serde_json::json!({ "ok": true })
                }
            }
            Ok(body) => run(&body),
            Err(err) => serde_json::json!({ "error": format!("bad activation input: {err}") }),
        };
        let mut out = std::io::stdout().lock();
        writeln!(out, "{SENTINEL}")?;
        out.flush()?;
        drop(out);
        let mut err = std::io::stderr().lock();
        writeln!(err, "{SENTINEL}")?;
        drop(err);
        let mut bytes = serde_json::to_vec(&result).unwrap_or_else(|_| b"{}".to_vec());
        bytes.push(b'\n');
        results.write_all(&bytes)?;
    }
}
