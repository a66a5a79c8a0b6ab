//! The measurement socket: a UNIX stream socket speaking line-delimited JSON (one request
//! object per line, one reply object per line, in order). docs/monitor.md documents it.
//!
//! A thread per connection (at most [`MAX_CONNECTIONS`]); requests are small and the
//! answers come from memory. A malformed or oversized request gets an error reply; the
//! connection and the server carry on.

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::events::CgroupMap;
use super::files::CgroupPaths;
use super::{MonitorHandle, WindowError};

/// Longest request line accepted, bytes.
pub const MAX_LINE: usize = 64 * 1024;
/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// Longest wait a window request may ask for.
pub const MAX_WAIT: Duration = Duration::from_secs(10);

/// One request (the `op` field selects the variant; unknown fields are ignored).
#[derive(Debug, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Usage of a container in a window.
    Window {
        /// Container id.
        container: String,
        /// Window start, epoch µs.
        start_us: u64,
        /// Window end, epoch µs.
        end_us: u64,
        /// Wait at most this long for a sample at or after the end (default: two periods
        /// plus 10 ms).
        #[serde(default)]
        wait_ms: Option<u64>,
        /// Also return the raw samples of the window (inside it, and one on each side).
        #[serde(default)]
        raw: bool,
    },
    /// Every known container.
    Containers,
    /// The newest samples of a container.
    Latest {
        /// Container id.
        container: String,
    },
    /// Sampler statistics.
    Stats,
    /// Liveness check.
    Ping,
    /// Start sampling a container (same `cgroups` object as the platform's events).
    Watch {
        /// Container id.
        container: String,
        /// Cgroup directories by controller (`memory`, `cpuacct`, `unified`).
        cgroups: CgroupMap,
    },
    /// Stop sampling a container (its history is kept).
    Remove {
        /// Container id.
        container: String,
    },
}

fn error(code: &str, message: impl std::fmt::Display) -> Value {
    json!({"ok": false, "code": code, "error": message.to_string()})
}

fn ok(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.insert("ok".into(), Value::Bool(true));
    }
    v
}

/// Answer one request line.
pub fn answer(monitor: &MonitorHandle, line: &[u8]) -> Value {
    let req: Request = match serde_json::from_slice(line) {
        Ok(r) => r,
        Err(e) => return error("bad_request", format!("bad request: {e}")),
    };
    match req {
        Request::Window {
            container,
            start_us,
            end_us,
            wait_ms,
            raw,
        } => {
            if end_us < start_us {
                return error("bad_request", "end_us is before start_us");
            }
            let wait = wait_ms.map(|ms| Duration::from_millis(ms).min(MAX_WAIT));
            match monitor.measure(&container, start_us, end_us, wait, raw) {
                Ok((w, samples)) => {
                    let mut v = serde_json::to_value(w).unwrap_or(Value::Null);
                    if let Value::Object(m) = &mut v {
                        if raw {
                            m.insert("raw".into(), json!(samples));
                        }
                        m.insert("container".into(), Value::String(container));
                    }
                    ok(v)
                }
                Err(e) => window_error(&e),
            }
        }
        Request::Containers => ok(json!({ "containers": monitor.containers() })),
        Request::Latest { container } => {
            match (monitor.info(&container), monitor.latest(&container)) {
                (Some(info), Some((fast, slow))) => {
                    ok(json!({"container": info, "sample": fast, "slow": slow}))
                }
                _ => window_error(&WindowError::UnknownContainer(container)),
            }
        }
        Request::Stats => ok(json!({ "stats": monitor.stats() })),
        Request::Ping => ok(json!({"version": env!("CARGO_PKG_VERSION")})),
        Request::Watch { container, cgroups } => {
            let paths = cgroups.paths();
            if let Err(why) = watch_allowed(monitor, &container, &paths) {
                return error("forbidden", why);
            }
            match monitor.watch(&container, paths) {
                Ok(()) => ok(json!({})),
                Err(e) => error("cgroup_error", e),
            }
        }
        Request::Remove { container } => {
            if monitor.info(&container).is_none() {
                return window_error(&WindowError::UnknownContainer(container));
            }
            monitor.removed(&container);
            ok(json!({}))
        }
    }
}

/// Whether a socket client may have the monitor sample (and, on v1, reset the watermark
/// of) these directories under this id. Anyone who can open the socket can ask, so: only
/// directories strictly below a `--watch-root` (symlinks and `..` resolved first), and
/// never a different cgroup for a container the monitor already samples (which would
/// repoint a platform's container at someone else's cgroup).
fn watch_allowed(monitor: &MonitorHandle, id: &str, paths: &CgroupPaths) -> Result<(), String> {
    let roots: Vec<PathBuf> = monitor
        .config()
        .watch_roots
        .iter()
        .filter_map(|r| r.canonicalize().ok())
        .collect();
    for dir in [&paths.memory, &paths.cpuacct, &paths.unified]
        .into_iter()
        .flatten()
    {
        if roots.is_empty() {
            return Err(
                "watching a cgroup over the socket is off: start gale monitor with --watch-root DIR \
                 to allow the cgroups below DIR"
                    .into(),
            );
        }
        let real = dir
            .canonicalize()
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        if !roots.iter().any(|r| real.starts_with(r) && real != *r) {
            return Err(format!(
                "{} is not below a --watch-root ({})",
                dir.display(),
                roots
                    .iter()
                    .map(|r| r.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    if let Some(known) = monitor.info(id) {
        let live = matches!(known.state, super::State::Running | super::State::Paused);
        if live && !known.cgroups.compatible(paths) {
            return Err(format!(
                "container {id} is already sampled with other cgroups; a watch cannot repoint it"
            ));
        }
    }
    Ok(())
}

fn window_error(e: &WindowError) -> Value {
    let code = match e {
        WindowError::UnknownContainer(_) => "unknown_container",
        WindowError::Unmeasurable(_) => "unmeasurable",
        WindowError::NoData(_) => "no_data",
    };
    error(code, e)
}

/// What [`LineReader::read_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A complete line is in [`LineReader::line`] (without its newline).
    Complete,
    /// The line was longer than the limit; it was skipped up to its newline.
    TooLong,
    /// End of stream.
    Eof,
}

/// Reads `\n`-terminated lines of bounded length. A read error (such as a read timeout)
/// keeps the partial line, so the next call continues it.
pub struct LineReader<R> {
    inner: BufReader<R>,
    /// The last complete line.
    pub line: Vec<u8>,
    limit: usize,
    too_long: bool,
    done: bool,
}

impl<R: io::Read> LineReader<R> {
    /// Lines of at most `limit` bytes from `r`.
    pub fn new(r: R, limit: usize) -> LineReader<R> {
        LineReader {
            inner: BufReader::new(r),
            line: Vec::new(),
            limit,
            too_long: false,
            done: false,
        }
    }

    /// Read the next line.
    pub fn read_line(&mut self) -> io::Result<Line> {
        if self.done {
            self.line.clear();
            self.too_long = false;
            self.done = false;
        }
        loop {
            let available = self.inner.fill_buf()?;
            if available.is_empty() {
                self.done = true;
                return Ok(if self.too_long {
                    Line::TooLong
                } else if self.line.is_empty() {
                    Line::Eof
                } else {
                    Line::Complete
                });
            }
            let (chunk, end) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], Some(i + 1)),
                None => (available, None),
            };
            if !self.too_long {
                if self.line.len() + chunk.len() > self.limit {
                    self.too_long = true;
                    self.line.clear();
                } else {
                    self.line.extend_from_slice(chunk);
                }
            }
            let used = end.unwrap_or(available.len());
            self.inner.consume(used);
            if end.is_some() {
                self.done = true;
                return Ok(if self.too_long {
                    Line::TooLong
                } else {
                    Line::Complete
                });
            }
        }
    }
}

/// A running socket server.
pub struct Server {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Listen on `path` (creating its directory if missing) and serve `monitor`.
    pub fn start(monitor: MonitorHandle, path: &Path) -> io::Result<Server> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let listener = crate::unix_socket::bind_private(path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("gale-monitor-server".into())
            .spawn(move || accept_loop(listener, monitor, s))?;
        Ok(Server {
            path: path.to_path_buf(),
            stop,
            thread: Some(thread),
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stop accepting, remove the socket file.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept call.
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop_now();
        }
    }
}

fn accept_loop(listener: UnixListener, monitor: MonitorHandle, stop: Arc<AtomicBool>) {
    let open = Arc::new(AtomicUsize::new(0));
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let mut conn = match conn {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("monitor socket: accept: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        if open.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            let reply = error("busy", format!("more than {MAX_CONNECTIONS} connections"));
            let _ = writeln!(conn, "{reply}");
            continue;
        }
        open.fetch_add(1, Ordering::SeqCst);
        let (m, s, o) = (monitor.clone(), stop.clone(), open.clone());
        let spawned = std::thread::Builder::new()
            .name("gale-monitor-conn".into())
            .spawn(move || {
                if let Err(e) = serve(conn, &m, &s) {
                    tracing::debug!("monitor socket: connection: {e}");
                }
                o.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            open.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn serve(conn: UnixStream, monitor: &MonitorHandle, stop: &AtomicBool) -> io::Result<()> {
    // A timeout lets the thread notice a shutdown while the client is silent.
    conn.set_read_timeout(Some(Duration::from_millis(500)))?;
    let mut out = io::BufWriter::new(conn.try_clone()?);
    let mut input = LineReader::new(conn, MAX_LINE);
    loop {
        let reply = match input.read_line() {
            Ok(Line::Eof) => return Ok(()),
            Ok(Line::TooLong) => error(
                "line_too_long",
                format!("request longer than {MAX_LINE} bytes"),
            ),
            Ok(Line::Complete) if input.line.iter().all(u8::is_ascii_whitespace) => continue,
            Ok(Line::Complete) => answer(monitor, &input.line),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        serde_json::to_writer(&mut out, &reply)?;
        out.write_all(b"\n")?;
        out.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_lines() {
        let mut r = LineReader::new(&b"abc\n0123456789\nxy"[..], 5);
        assert_eq!(r.read_line().unwrap(), Line::Complete);
        assert_eq!(r.line, b"abc");
        assert_eq!(r.read_line().unwrap(), Line::TooLong);
        assert_eq!(r.read_line().unwrap(), Line::Complete);
        assert_eq!(r.line, b"xy");
        assert_eq!(r.read_line().unwrap(), Line::Eof);
    }
}
