//! A blocking client of the measurement socket: one persistent connection, one request at
//! a time (replies come in request order).

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use super::{Sample, Window};

/// An error reply of the monitor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Refusal {
    /// Machine-readable code (`unknown_container`, `no_data`, `unmeasurable`, `bad_request`…).
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

/// A connection to a monitor.
pub struct MonitorClient {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    line: String,
}

impl MonitorClient {
    /// Connect to the socket at `path`.
    pub fn connect(path: &Path) -> io::Result<MonitorClient> {
        let writer = UnixStream::connect(path).map_err(|e| {
            io::Error::new(e.kind(), format!("monitor socket {}: {e}", path.display()))
        })?;
        // A monitor that stops answering must not hang the caller forever.
        writer.set_read_timeout(Some(Duration::from_secs(15)))?;
        Ok(MonitorClient {
            reader: BufReader::new(writer.try_clone()?),
            writer,
            line: String::new(),
        })
    }

    /// Send one request object, return the reply object (`ok` true or false).
    pub fn request(&mut self, req: &Value) -> io::Result<Value> {
        let mut text = serde_json::to_vec(req).map_err(io::Error::other)?;
        text.push(b'\n');
        self.writer.write_all(&text)?;
        self.line.clear();
        if self.reader.read_line(&mut self.line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the monitor closed the connection",
            ));
        }
        serde_json::from_str(&self.line)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("bad reply: {e}")))
    }

    /// A request whose `ok` reply is returned, and whose error reply becomes a [`Refusal`].
    pub fn call(&mut self, req: &Value) -> io::Result<Result<Value, Refusal>> {
        let v = self.request(req)?;
        if v.get("ok").and_then(Value::as_bool) == Some(true) {
            return Ok(Ok(v));
        }
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        Ok(Err(Refusal {
            code: s("code"),
            message: s("error"),
        }))
    }

    /// Usage of `container` in `[start_us, end_us]`; `wait` bounds how long the monitor
    /// waits for the sample closing the window (`None`: its default).
    pub fn window(
        &mut self,
        container: &str,
        start_us: u64,
        end_us: u64,
        wait: Option<Duration>,
    ) -> io::Result<Result<Window, Refusal>> {
        Ok(self
            .window_raw(container, start_us, end_us, wait, false)?
            .map(|(w, _)| w))
    }

    /// [`window`](Self::window), with the window's raw samples when `raw` (inside it, and
    /// one on each side; empty otherwise).
    pub fn window_raw(
        &mut self,
        container: &str,
        start_us: u64,
        end_us: u64,
        wait: Option<Duration>,
        raw: bool,
    ) -> io::Result<Result<(Window, Vec<Sample>), Refusal>> {
        let mut req =
            json!({"op": "window", "container": container, "start_us": start_us, "end_us": end_us});
        if let Some(w) = wait {
            req["wait_ms"] = json!(w.as_millis() as u64);
        }
        if raw {
            req["raw"] = json!(true);
        }
        let bad = |e: serde_json::Error| {
            io::Error::new(io::ErrorKind::InvalidData, format!("bad window reply: {e}"))
        };
        Ok(match self.call(&req)? {
            Ok(mut v) => {
                let samples = match v.get_mut("raw").map(Value::take) {
                    Some(list) => serde_json::from_value(list).map_err(bad)?,
                    None => Vec::new(),
                };
                Ok((serde_json::from_value(v).map_err(bad)?, samples))
            }
            Err(r) => Err(r),
        })
    }
}
