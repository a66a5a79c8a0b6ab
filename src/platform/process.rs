//! One container: a child process speaking the ActionLoop protocol (stdin in, fd 3 out,
//! stdout/stderr captured as logs). Spawning, running one activation, killing.

use std::future::Future;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

use super::runtime::{InitBody, SENTINEL};

/// How long to wait for the sentinels once the result is in. The gale runtimes write them
/// before the result, so this only matters for a runtime that forgets them.
pub(super) const SENTINEL_GRACE: Duration = Duration::from_millis(50);

/// The largest result accepted (OpenWhisk's 1 MB).
pub const MAX_RESULT_BYTES: usize = 1_048_576;

/// A running action process.
pub struct Process {
    child: Child,
    pid: i32,
    /// Set once the exit status was collected: the pid may then belong to someone else.
    reaped: bool,
    /// Its pipes, until [`Process::take_pipes`] hands them to a
    /// [`Multiplexed`](super::multiplex::Multiplexed) channel.
    pipes: Option<Pipes>,
}

/// The pipes of an action process and the line buffers reading them.
pub struct Pipes {
    pub(super) stdin: ChildStdin,
    pub(super) stdout: BufReader<ChildStdout>,
    pub(super) stderr: BufReader<ChildStderr>,
    pub(super) results: BufReader<pipe::Receiver>,
    line: Vec<u8>,
    out_line: Vec<u8>,
    err_line: Vec<u8>,
}

/// Why a process could not be started.
#[derive(Debug)]
pub enum SpawnError {
    /// The executable could not be started at all (a platform problem).
    Exec(std::io::Error),
    /// It started but exited or refused before its ack.
    Exited,
    /// No ack within the action's time limit.
    Timeout,
    /// It acked but its init step failed (see [`Process::init`]).
    Init(InitError),
}

/// How a process is started besides its kind: the one place for what confines or
/// parametrises an action process (issue 15's user and namespaces belong here too).
#[derive(Debug, Clone, Default)]
pub struct SpawnOptions {
    /// `cgroup.procs` files the runtime joins before its ack (`GALE_CGROUP_PROCS`).
    pub cgroup_procs: Option<String>,
    /// The executable a `blackbox` runtime execs (`gale __runtime blackbox IMAGE`).
    pub image: Option<Arc<str>>,
    /// Extra environment (a blackbox action's init parameters, which it gets no init line
    /// for).
    pub env: Vec<(String, String)>,
    /// How the process is confined (`None`: not at all).
    pub sandbox: Option<super::runtime::sandbox::Sandbox>,
}

/// The only variables of the platform's environment an action process gets (scrubbed: no
/// credentials, no `APIHOST`/`AUTH`, nothing of the platform's own settings).
const PASSED_ENV: [&str; 6] = ["PATH", "LANG", "LC_ALL", "TZ", "GALE_PYTHON", "GALE_NODE"];

/// Why an init step failed; the log lines it produced are kept for the activation record.
#[derive(Debug)]
pub struct InitError {
    /// What happened.
    pub kind: InitFailure,
    /// Log lines written during init.
    pub logs: Vec<String>,
}

/// The ways an init step fails.
#[derive(Debug, PartialEq, Eq)]
pub enum InitFailure {
    /// The runtime answered `{"error": message}` (OpenWhisk's init-failure texts).
    Refused(String),
    /// The process died during init.
    Exited,
    /// The deadline passed.
    Timeout,
    /// The answer was neither `{"ok":true}` nor an error object.
    BadAnswer(String),
}

impl From<InitFailure> for InitError {
    fn from(kind: InitFailure) -> Self {
        InitError {
            kind,
            logs: Vec::new(),
        }
    }
}

/// A successful init: what it logged.
#[derive(Debug)]
pub struct InitOutput {
    /// Log lines written during init (OpenWhisk shows them with the first activation).
    pub logs: Vec<String>,
}

/// How one activation ended, from the process's point of view.
pub enum RunEnd {
    /// A result line arrived (not yet interpreted).
    Result(Box<RawValue>),
    /// A line arrived that is not JSON.
    NotJson(String),
    /// The runtime reported a developer error (a result line prefixed with `!`, e.g. the
    /// Node.js runtime's `An error has occurred: …` for a synchronous throw) with this
    /// result.
    Failed(Box<RawValue>),
    /// The result is larger than [`MAX_RESULT_BYTES`].
    TooLarge(usize, String),
    /// The process closed its result pipe or stdin: it died.
    Exited,
    /// The deadline passed; the process must be killed.
    Timeout,
}

/// An activation's outcome plus its log lines.
pub struct RunOutput {
    /// How it ended.
    pub end: RunEnd,
    /// Log lines, formatted as OpenWhisk's (`<time> stdout: text`).
    pub logs: Vec<String>,
    /// Whether both sentinels were seen.
    pub complete_logs: bool,
}

impl Process {
    /// Start `exe __runtime kind` and wait for its ack (up to `deadline`).
    pub async fn spawn(
        exe: &Path,
        kind: &str,
        options: &SpawnOptions,
        deadline: Instant,
    ) -> Result<Process, SpawnError> {
        let (read_end, write_end) = result_pipe().map_err(SpawnError::Exec)?;
        let write_fd = write_end.as_raw_fd();
        let mut cmd = Command::new(exe);
        cmd.arg("__runtime").arg(kind);
        if let Some(image) = &options.image {
            cmd.arg(&**image);
        }
        cmd.env_clear()
            .envs(
                PASSED_ENV
                    .iter()
                    .filter_map(|k| Some((k, std::env::var_os(k)?))),
            )
            .envs(options.env.iter().map(|(k, v)| (k, v)))
            .env("__OW_WAIT_FOR_ACK", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        // No fork hook: without one, std spawns with posix_spawn (vfork-style), which does
        // not copy the page tables of this large, busy process; a fork would stall its other
        // threads (the injector's, when embedded) on the mm lock for milliseconds. The child
        // moves the result pipe to fd 3 and sets its parent-death signal itself.
        cmd.env(RESULT_FD_ENV, write_fd.to_string())
            .env(PARENT_PID_ENV, std::process::id().to_string());
        if let Some(procs) = &options.cgroup_procs {
            cmd.env(super::cgroups::PROCS_ENV, procs);
        }
        if let Some(sandbox) = &options.sandbox {
            cmd.env(super::runtime::sandbox::SANDBOX_ENV, sandbox.to_env());
        }
        let child = {
            // The write end must be inheritable during this spawn only: concurrent spawns
            // wait, and it is closed before the lock is released.
            let _spawning = SPAWN_LOCK.lock().unwrap_or_else(|p| p.into_inner());
            set_cloexec(write_fd, false).map_err(SpawnError::Exec)?;
            let spawned = cmd.spawn();
            drop(write_end);
            spawned
        };
        let mut child = child.map_err(SpawnError::Exec)?;
        let pid = child.id().map(|p| p as i32).unwrap_or(0);
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(SpawnError::Exec(std::io::Error::other(
                "child pipes missing",
            )));
        };
        let results = pipe::Receiver::from_owned_fd(read_end).map_err(SpawnError::Exec)?;
        let mut pipes = Pipes {
            stdin,
            stdout: BufReader::new(stdout),
            stderr: BufReader::new(stderr),
            results: BufReader::with_capacity(16 * 1024, results),
            line: Vec::with_capacity(1024),
            out_line: Vec::new(),
            err_line: Vec::new(),
        };
        let ack = tokio::time::timeout_at(deadline.into(), async {
            pipes.line.clear();
            pipes.results.read_until(b'\n', &mut pipes.line).await
        })
        .await;
        let process = Process {
            child,
            pid,
            reaped: false,
            pipes: Some(pipes),
        };
        match ack {
            Err(_) => Err(SpawnError::Timeout),
            Ok(Ok(n)) if n > 0 && process.pipes.as_ref().is_some_and(|p| is_ack(&p.line)) => {
                Ok(process)
            }
            Ok(_) => Err(SpawnError::Exited),
        }
    }

    /// Give the process its code: one init line, answered like an activation (logs, then
    /// sentinels, then `{"ok":true}` or `{"error":…}` on fd 3). On failure the process must
    /// be discarded.
    pub async fn init(
        &mut self,
        body: &InitBody,
        deadline: Instant,
        log_limit: usize,
    ) -> Result<InitOutput, InitError> {
        #[derive(serde::Serialize)]
        struct Line<'a> {
            init: &'a InitBody,
        }
        let mut line = serde_json::to_vec(&Line { init: body }).map_err(|e| InitError {
            kind: InitFailure::BadAnswer(format!("cannot encode the init body: {e}")),
            logs: Vec::new(),
        })?;
        line.push(b'\n');
        let out = self.run(&line, deadline, log_limit).await;
        let kind = match out.end {
            RunEnd::Result(raw) => {
                #[derive(serde::Deserialize)]
                struct Answer {
                    ok: Option<bool>,
                    error: Option<serde_json::Value>,
                }
                match serde_json::from_str::<Answer>(raw.get()) {
                    Ok(Answer { ok: Some(true), .. }) => return Ok(InitOutput { logs: out.logs }),
                    Ok(Answer {
                        error: Some(serde_json::Value::String(m)),
                        ..
                    }) => InitFailure::Refused(m),
                    Ok(Answer { error: Some(e), .. }) => InitFailure::Refused(e.to_string()),
                    _ => InitFailure::BadAnswer(raw.get().to_string()),
                }
            }
            RunEnd::NotJson(text) | RunEnd::TooLarge(_, text) => InitFailure::BadAnswer(text),
            RunEnd::Failed(raw) => InitFailure::BadAnswer(raw.get().to_string()),
            RunEnd::Exited => InitFailure::Exited,
            RunEnd::Timeout => InitFailure::Timeout,
        };
        Err(InitError {
            kind,
            logs: out.logs,
        })
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Whether the process has already exited (checked without blocking).
    pub fn has_exited(&mut self) -> bool {
        match self.child.try_wait() {
            Ok(None) => false,
            Ok(Some(_)) => {
                self.reaped = true;
                true
            }
            Err(_) => true,
        }
    }

    /// The pipes, for a channel that runs several activations at once; afterwards
    /// [`Process::run`] answers [`RunEnd::Exited`].
    pub fn take_pipes(&mut self) -> Option<Pipes> {
        self.pipes.take()
    }

    /// Run one activation: send `input` (one line, ending in `\n`) and collect the result
    /// and the logs until `deadline`. `log_limit` caps the bytes of log text kept.
    pub async fn run(&mut self, input: &[u8], deadline: Instant, log_limit: usize) -> RunOutput {
        let mut logs = Logs::new(log_limit);
        let mut out_done = false;
        let mut err_done = false;
        let Some(pipes) = self.pipes.as_mut() else {
            return RunOutput {
                end: RunEnd::Exited,
                logs: Vec::new(),
                complete_logs: false,
            };
        };
        let ran = tokio::time::timeout_at(
            deadline.into(),
            pipes.exchange(input, &mut logs, &mut out_done, &mut err_done),
        )
        .await;
        let end = match ran {
            Err(_) => RunEnd::Timeout,
            Ok(end) => end,
        };
        RunOutput {
            end,
            complete_logs: logs.sentinels >= 2,
            logs: logs.lines,
        }
    }

    /// Kill the whole process group now (the reaping happens in the background).
    pub fn kill(&mut self) {
        if !self.reaped {
            kill_group(self.pid);
        }
        let _ = self.child.start_kill();
    }
}

impl Pipes {
    async fn exchange(
        &mut self,
        input: &[u8],
        logs: &mut Logs,
        out_done: &mut bool,
        err_done: &mut bool,
    ) -> RunEnd {
        let Pipes {
            stdin,
            stdout,
            stderr,
            results,
            line,
            out_line,
            err_line,
            ..
        } = self;
        line.clear();
        // Write and read concurrently: a big input must not deadlock against a child that
        // is already printing.
        let mut written = false;
        let mut result: Option<RunEnd> = None;
        let mut grace: Option<tokio::time::Instant> = None;
        loop {
            if result.is_some() && *out_done && *err_done {
                break;
            }
            let grace_sleep = async {
                match grace {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                r = results.read_until(b'\n', line), if result.is_none() => {
                    result = Some(match r {
                        Ok(n) if n > 0 && line.last() == Some(&b'\n') => parse_result(line),
                        _ => RunEnd::Exited,
                    });
                    if matches!(result, Some(RunEnd::Exited)) {
                        // Whatever the streams still hold is this activation's last words.
                        drain_now(stdout, out_line, "stdout", logs, out_done);
                        drain_now(stderr, err_line, "stderr", logs, err_done);
                        break;
                    }
                    grace = Some(tokio::time::Instant::now() + SENTINEL_GRACE);
                }
                w = stdin.write_all(input), if !written => {
                    if w.is_err() {
                        return RunEnd::Exited;
                    }
                    written = true;
                }
                r = stdout.read_until(b'\n', out_line), if !*out_done => {
                    take_line(r, out_line, "stdout", logs, out_done);
                }
                r = stderr.read_until(b'\n', err_line), if !*err_done => {
                    take_line(r, err_line, "stderr", logs, err_done);
                }
                _ = grace_sleep => break,
            }
        }
        result.unwrap_or(RunEnd::Exited)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // kill_on_drop only reaches the child itself; its own children share its group.
        if !self.reaped {
            kill_group(self.pid);
        }
    }
}

/// SIGKILL a process group by its leader's pid.
pub fn kill_group(pid: i32) {
    if pid > 0 {
        // SAFETY: kill(2) has no memory-safety preconditions; a stale pid is harmless
        // because the group leader is never reaped before this runs (tokio reaps later).
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
}

fn is_ack(line: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Ack {
        ok: bool,
    }
    serde_json::from_slice::<Ack>(line)
        .map(|a| a.ok)
        .unwrap_or(false)
}

/// Interpret one result line (without the tag of a multiplexed channel).
pub(super) fn parse_result(line: &[u8]) -> RunEnd {
    let text = trim_newline(line);
    if let Some(failed) = text.strip_prefix(b"!") {
        return match std::str::from_utf8(failed)
            .ok()
            .and_then(|s| serde_json::from_str::<Box<RawValue>>(s).ok())
        {
            Some(raw) => RunEnd::Failed(raw),
            None => RunEnd::NotJson(String::from_utf8_lossy(text).into_owned()),
        };
    }
    if text.len() > MAX_RESULT_BYTES {
        let cut = String::from_utf8_lossy(&text[..MAX_RESULT_BYTES]).into_owned();
        return RunEnd::TooLarge(text.len(), cut);
    }
    match std::str::from_utf8(text)
        .ok()
        .and_then(|s| serde_json::from_str::<Box<RawValue>>(s).ok())
    {
        Some(raw) => RunEnd::Result(raw),
        None => RunEnd::NotJson(String::from_utf8_lossy(text).into_owned()),
    }
}

pub(super) fn trim_newline(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &line[..end]
}

fn take_line(
    read: std::io::Result<usize>,
    buf: &mut Vec<u8>,
    stream: &str,
    logs: &mut Logs,
    done: &mut bool,
) {
    match read {
        Ok(n) if n > 0 => {
            let text = trim_newline(buf);
            if text == SENTINEL.as_bytes() {
                logs.sentinels += 1;
                *done = true;
            } else {
                logs.push(stream, text);
            }
            buf.clear();
        }
        // EOF or a read error: nothing more will come from this stream.
        _ => *done = true,
    }
}

/// Collect complete lines already buffered or readable without waiting.
fn drain_now<R: tokio::io::AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    buf: &mut Vec<u8>,
    stream: &str,
    logs: &mut Logs,
    done: &mut bool,
) {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    while !*done {
        let mut fut = std::pin::pin!(reader.read_until(b'\n', buf));
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(r) => take_line(r, buf, stream, logs, done),
            std::task::Poll::Pending => break,
        }
    }
}

/// Log lines of one activation, capped in bytes like OpenWhisk's `limits.logs`.
pub(super) struct Logs {
    pub(super) lines: Vec<String>,
    bytes: usize,
    limit: usize,
    truncated: bool,
    /// Sentinel lines seen (2 = both streams ended properly).
    pub(super) sentinels: u8,
}

impl Logs {
    pub(super) fn new(limit: usize) -> Self {
        Logs {
            lines: Vec::new(),
            bytes: 0,
            limit,
            truncated: false,
            sentinels: 0,
        }
    }

    pub(super) fn push(&mut self, stream: &str, text: &[u8]) {
        if self.truncated {
            return;
        }
        self.bytes += text.len();
        if self.bytes > self.limit {
            self.truncated = true;
            self.lines.push(format!(
                "{} stderr: Logs were truncated because the total bytes size exceeds the limit of {} bytes.",
                crate::timefmt::rfc3339_nanos(SystemTime::now()),
                self.limit
            ));
            return;
        }
        self.lines.push(format!(
            "{:<30} {stream}: {}",
            crate::timefmt::rfc3339_nanos(SystemTime::now()),
            String::from_utf8_lossy(text)
        ));
    }
}

/// Environment variable naming the child's inherited result-pipe descriptor.
pub const RESULT_FD_ENV: &str = "GALE_RESULT_FD";
/// Environment variable naming the platform's pid (the child checks it is still alive).
pub const PARENT_PID_ENV: &str = "GALE_PARENT_PID";

static SPAWN_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn set_cloexec(fd: i32, on: bool) -> std::io::Result<()> {
    // SAFETY: F_SETFD on a descriptor we own changes only its close-on-exec flag.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, if on { libc::FD_CLOEXEC } else { 0 }) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A pipe for results: the read end stays here, the write end becomes the child's fd 3.
/// Both ends are close-on-exec so no other child inherits them; the write end is kept off
/// fds 0–2, which the child's stdio setup would overwrite before our dup2 runs.
fn result_pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a valid two-element array for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    let (read_end, mut write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    if write_end.as_raw_fd() < 3 {
        // SAFETY: F_DUPFD_CLOEXEC on an open descriptor returns a new one we own.
        let moved = unsafe { libc::fcntl(write_end.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10) };
        if moved == -1 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: moved is a fresh descriptor owned by nobody else.
        write_end = unsafe { OwnedFd::from_raw_fd(moved) };
    }
    Ok((read_end, write_end))
}
