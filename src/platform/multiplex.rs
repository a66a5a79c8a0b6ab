//! Several activations at once in one action process (`limits.concurrency` above 1).
//!
//! The runtime then tags every line with the activation it belongs to: `<id> <text>` on
//! stdout and stderr, `<id> XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX` on each stream when that
//! activation's output is complete, `<id> <result>` on fd 3 (`<id>` is the `activation_id`
//! of the `/run` line). One reader task owns the three read pipes and sorts lines into the
//! open activations' slots; runs write their `/run` lines under a lock on stdin and wait
//! for their slot to complete. Lines of no open activation (tagged `-`, or of one that timed
//! out) are dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::process::ChildStdin;
use tokio::sync::oneshot;

use super::process::{
    parse_result, trim_newline, Logs, Pipes, Process, RunEnd, RunOutput, SENTINEL_GRACE,
};
use super::runtime::SENTINEL;

/// Where one activation's line exchange goes: the process alone, or its share of a
/// multiplexed one.
pub enum Channel<'a> {
    /// One activation at a time, untagged lines.
    Exclusive(&'a mut Process),
    /// Tagged lines, among other activations.
    Shared(&'a Multiplexed),
}

impl Channel<'_> {
    /// Send `input` for activation `id` and collect its result and logs until `deadline`.
    pub async fn run(
        &mut self,
        id: &str,
        input: &[u8],
        deadline: Instant,
        log_limit: usize,
    ) -> RunOutput {
        match self {
            Channel::Exclusive(process) => process.run(input, deadline, log_limit).await,
            Channel::Shared(mux) => mux.run(id, input, deadline, log_limit).await,
        }
    }
}

/// A process's pipes shared by concurrent activations.
pub struct Multiplexed {
    stdin: tokio::sync::Mutex<ChildStdin>,
    slots: Arc<Mutex<Slots>>,
    reader: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Slots {
    open: HashMap<String, Slot>,
    /// The result pipe closed: the process is gone.
    closed: bool,
}

struct Slot {
    logs: Logs,
    out_done: bool,
    err_done: bool,
    result: Option<RunEnd>,
    /// When the result is in but a sentinel is missing: stop waiting then.
    grace: Option<tokio::time::Instant>,
    done: Option<oneshot::Sender<()>>,
}

impl Slot {
    fn finish(&mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }
}

impl Multiplexed {
    /// Take over `pipes` (from [`Process::take_pipes`]) and start reading them.
    pub fn new(pipes: Pipes) -> Multiplexed {
        let slots = Arc::new(Mutex::new(Slots::default()));
        let Pipes {
            stdin,
            stdout,
            stderr,
            results,
            ..
        } = pipes;
        let reader = tokio::spawn(read(slots.clone(), results, stdout, stderr));
        Multiplexed {
            stdin: tokio::sync::Mutex::new(stdin),
            slots,
            reader,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        lock(&self.slots)
    }

    /// Run activation `id`: see [`Channel::run`].
    pub async fn run(&self, id: &str, input: &[u8], deadline: Instant, limit: usize) -> RunOutput {
        let (tx, rx) = oneshot::channel();
        {
            let mut slots = self.lock();
            if slots.closed {
                return exited(Vec::new());
            }
            slots.open.insert(
                id.to_string(),
                Slot {
                    logs: Logs::new(limit),
                    out_done: false,
                    err_done: false,
                    result: None,
                    grace: None,
                    done: Some(tx),
                },
            );
        }
        let exchange = async {
            {
                // One whole line at a time: the lock keeps lines of concurrent runs apart.
                let mut stdin = self.stdin.lock().await;
                if stdin.write_all(input).await.is_err() {
                    return false;
                }
            }
            rx.await.is_ok()
        };
        let answered = tokio::time::timeout_at(deadline.into(), exchange).await;
        let Some(slot) = self.lock().open.remove(id) else {
            return exited(Vec::new());
        };
        let complete_logs = slot.logs.sentinels >= 2;
        let end = match answered {
            Err(_) => RunEnd::Timeout,
            Ok(_) => slot.result.unwrap_or(RunEnd::Exited),
        };
        RunOutput {
            end,
            logs: slot.logs.lines,
            complete_logs,
        }
    }
}

impl Drop for Multiplexed {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn lock(slots: &Mutex<Slots>) -> MutexGuard<'_, Slots> {
    slots.lock().unwrap_or_else(|p| p.into_inner())
}

fn exited(logs: Vec<String>) -> RunOutput {
    RunOutput {
        end: RunEnd::Exited,
        logs,
        complete_logs: false,
    }
}

/// Split a tagged line into its activation id and the rest.
fn untag(line: &[u8]) -> Option<(&str, &[u8])> {
    let text = trim_newline(line);
    let space = text.iter().position(|&b| b == b' ')?;
    let id = std::str::from_utf8(&text[..space]).ok()?;
    Some((id, &text[space + 1..]))
}

/// The reader task: sort lines into slots until the result pipe closes, then end every
/// open activation as exited.
async fn read<R, O, E>(
    slots: Arc<Mutex<Slots>>,
    mut results: tokio::io::BufReader<R>,
    mut stdout: tokio::io::BufReader<O>,
    mut stderr: tokio::io::BufReader<E>,
) where
    R: tokio::io::AsyncRead + Unpin,
    O: tokio::io::AsyncRead + Unpin,
    E: tokio::io::AsyncRead + Unpin,
{
    let (mut line, mut out_line, mut err_line) = (Vec::new(), Vec::new(), Vec::new());
    let (mut out_open, mut err_open) = (true, true);
    loop {
        let grace = lock(&slots).open.values().filter_map(|s| s.grace).min();
        let grace_sleep = async {
            match grace {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        // Unbiased: a chatty action must not starve the result pipe. A result read before
        // its sentinels waits for them (or the grace) in its slot.
        tokio::select! {
            r = stdout.read_until(b'\n', &mut out_line), if out_open => {
                out_open = matches!(r, Ok(n) if n > 0);
                log_line(&slots, "stdout", &out_line);
                out_line.clear();
            }
            r = stderr.read_until(b'\n', &mut err_line), if err_open => {
                err_open = matches!(r, Ok(n) if n > 0);
                log_line(&slots, "stderr", &err_line);
                err_line.clear();
            }
            r = results.read_until(b'\n', &mut line) => {
                if !matches!(r, Ok(n) if n > 0) || line.last() != Some(&b'\n') {
                    break;
                }
                if let Some((id, rest)) = untag(&line) {
                    if let Some(slot) = lock(&slots).open.get_mut(id) {
                        slot.result = Some(parse_result(rest));
                        if slot.out_done && slot.err_done {
                            slot.finish();
                        } else {
                            slot.grace = Some(tokio::time::Instant::now() + SENTINEL_GRACE);
                        }
                    }
                }
                line.clear();
            }
            _ = grace_sleep => {
                let now = tokio::time::Instant::now();
                for slot in lock(&slots).open.values_mut() {
                    if slot.grace.is_some_and(|g| g <= now) {
                        slot.grace = None;
                        slot.finish();
                    }
                }
            }
        }
    }
    // The process is gone: what the streams still hold are its last words. They may be
    // buffered already, or in the pipes (closed too, so reading them ends).
    drain(&slots, "stdout", &mut stdout, &mut out_line).await;
    drain(&slots, "stderr", &mut stderr, &mut err_line).await;
    let mut slots = lock(&slots);
    slots.closed = true;
    for slot in slots.open.values_mut() {
        slot.finish();
    }
}

/// Read what is left of a stream after the process died, for a moment at most.
async fn drain<B: tokio::io::AsyncBufRead + Unpin>(
    slots: &Mutex<Slots>,
    stream: &str,
    reader: &mut B,
    buf: &mut Vec<u8>,
) {
    let until = tokio::time::Instant::now() + SENTINEL_GRACE;
    loop {
        match tokio::time::timeout_at(until, reader.read_until(b'\n', buf)).await {
            Ok(Ok(n)) if n > 0 => {
                log_line(slots, stream, buf);
                buf.clear();
            }
            _ => return,
        }
    }
}

/// One line of a log stream, to its activation's slot.
fn log_line(slots: &Mutex<Slots>, stream: &str, line: &[u8]) {
    if line.is_empty() {
        return;
    }
    let Some((id, text)) = untag(line) else {
        return;
    };
    let mut slots = lock(slots);
    let Some(slot) = slots.open.get_mut(id) else {
        return;
    };
    if text == SENTINEL.as_bytes() {
        if stream == "stdout" {
            slot.out_done = true;
        } else {
            slot.err_done = true;
        }
        slot.logs.sentinels += 1;
        if slot.out_done && slot.err_done && slot.result.is_some() {
            slot.finish();
        }
    } else {
        slot.logs.push(stream, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_at_their_tag() {
        assert_eq!(
            untag(b"0123abcd hello world\n"),
            Some(("0123abcd", &b"hello world"[..]))
        );
        assert_eq!(
            untag(b"- stray output\n"),
            Some(("-", &b"stray output"[..]))
        );
        assert_eq!(untag(b"id \n"), Some(("id", &b""[..])));
        assert_eq!(untag(b"untagged\n"), None);
    }

    #[test]
    fn a_tagged_result_may_report_a_developer_error() {
        let (_, rest) = untag(b"abc !{\"error\":\"An error has occurred: Error: x\"}\n").unwrap();
        match parse_result(rest) {
            RunEnd::Failed(raw) => {
                assert_eq!(raw.get(), r#"{"error":"An error has occurred: Error: x"}"#)
            }
            _ => panic!("a `!` line is a developer error"),
        }
        let (_, rest) = untag(b"abc {\"ok\":1}\n").unwrap();
        assert!(matches!(parse_result(rest), RunEnd::Result(_)));
        let (_, rest) = untag(b"abc !not json\n").unwrap();
        assert!(matches!(parse_result(rest), RunEnd::NotJson(t) if t == "!not json"));
    }
}
