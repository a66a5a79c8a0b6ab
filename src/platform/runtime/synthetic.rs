//! The `gale:synthetic` action: burns CPU, touches memory and sleeps as its parameters say.
//!
//! Parameters (numbers, default 0): `cpu_ms` of CPU time measured on the thread CPU clock
//! (so a descheduled process still burns the full amount), `mem_mb` MiB allocated and
//! written page by page (so they are resident, not just reserved), `sleep_ms` of sleep.
//! Test hooks: `fail: true` or `error: "text"` returns an application error; `stdout` /
//! `stderr` strings are printed as log lines; `exit_code: N` ends the process at once
//! (a crash, as seen by the platform).

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

/// The kind name, as used in `exec.kind`.
pub const KIND: &str = "gale:synthetic";

/// Caps that keep a typo from taking the machine down; beyond them the action answers an
/// application error instead of trying.
const MAX_CPU_MS: f64 = 3_600_000.0;
const MAX_SLEEP_MS: f64 = 3_600_000.0;
const MAX_MEM_MB: f64 = 1_048_576.0;

/// Run one activation: `body` is the ActionLoop `/run` body, parameters in `body.value`.
pub fn run(body: &Value) -> Value {
    let empty = Map::new();
    let params = match body.get("value") {
        Some(Value::Object(map)) => map,
        None | Some(Value::Null) => &empty,
        Some(_) => return error("the activation's `value` must be an object"),
    };
    match run_params(params) {
        Ok(result) => result,
        Err(message) => error(&message),
    }
}

fn error(message: &str) -> Value {
    json!({ "error": message })
}

fn run_params(params: &Map<String, Value>) -> Result<Value, String> {
    let cpu_ms = number(params, "cpu_ms", MAX_CPU_MS)?;
    let mem_mb = number(params, "mem_mb", MAX_MEM_MB)?;
    let sleep_ms = number(params, "sleep_ms", MAX_SLEEP_MS)?;
    log_param(params, "stdout", &mut std::io::stdout().lock())?;
    log_param(params, "stderr", &mut std::io::stderr().lock())?;
    if let Some(code) = params.get("exit_code") {
        let code = code
            .as_i64()
            .ok_or("`exit_code` must be an integer")?
            .clamp(0, 255);
        let _ = std::io::stdout().flush();
        std::process::exit(code as i32);
    }
    match params.get("fail") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => {}
        Some(Value::Bool(true)) => return Err("synthetic failure requested by `fail`".into()),
        Some(_) => return Err("`fail` must be a boolean".into()),
    }
    match params.get("error") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => return Err(text.clone()),
        Some(_) => return Err("`error` must be a string".into()),
    }

    let started = Instant::now();
    let process_started = process_cpu_time();
    let bytes = (mem_mb * 1024.0 * 1024.0) as usize;
    let memory = if bytes > 0 {
        Some(TouchedMemory::new(bytes)?)
    } else {
        None
    };
    let burned = burn_cpu(Duration::from_secs_f64(cpu_ms / 1000.0));
    if sleep_ms > 0.0 {
        std::thread::sleep(Duration::from_secs_f64(sleep_ms / 1000.0));
    }
    drop(memory);
    let process_cpu = process_cpu_time().saturating_sub(process_started);
    Ok(json!({
        "cpu_ms": params.get("cpu_ms").cloned().unwrap_or(json!(0)),
        "mem_mb": params.get("mem_mb").cloned().unwrap_or(json!(0)),
        "sleep_ms": params.get("sleep_ms").cloned().unwrap_or(json!(0)),
        "burned_cpu_ns": burned.as_nanos() as u64,
        "wall_ns": started.elapsed().as_nanos() as u64,
        "process_cpu_ns": process_cpu.as_nanos() as u64,
        "pid": std::process::id(),
    }))
}

/// A non-negative number parameter, 0 when absent or null.
fn number(params: &Map<String, Value>, key: &str, max: f64) -> Result<f64, String> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(0.0),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if (0.0..=max).contains(&v) => Ok(v),
            _ => Err(format!("`{key}` must be a number between 0 and {max}")),
        },
        Some(other) => Err(format!("`{key}` must be a number, not {other}")),
    }
}

fn log_param(params: &Map<String, Value>, key: &str, out: &mut dyn Write) -> Result<(), String> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(text)) => {
            // One log line per text line; a line must not look like the sentinel.
            for line in text.lines() {
                let line = if line == super::SENTINEL {
                    "<sentinel>"
                } else {
                    line
                };
                writeln!(out, "{line}").map_err(|e| format!("cannot write {key}: {e}"))?;
            }
            Ok(())
        }
        Some(_) => Err(format!("`{key}` must be a string")),
    }
}

/// CPU time of the calling thread.
fn thread_cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// CPU time of the whole process (user and system, every thread): what the container's
/// cgroup is charged for the run, page faults of the memory touch included, so a monitor's
/// figure can be checked against it exactly on a busy machine.
fn process_cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Spin until this thread has used `amount` of CPU; returns what was actually used.
fn burn_cpu(amount: Duration) -> Duration {
    let start = thread_cpu_time();
    if amount.is_zero() {
        return Duration::ZERO;
    }
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    loop {
        // A few microseconds of integer work between clock reads: the clock read is a
        // syscall, so reading it every iteration would burn the CPU in the kernel instead.
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
        let used = thread_cpu_time().saturating_sub(start);
        if used >= amount {
            return used;
        }
    }
}

/// Anonymous memory mapped and written page by page, unmapped on drop. mmap rather than the
/// allocator so that freeing really returns the pages (glibc keeps mid-sized blocks).
struct TouchedMemory {
    ptr: *mut libc::c_void,
    len: usize,
}

impl TouchedMemory {
    fn new(len: usize) -> Result<Self, String> {
        // SAFETY: an anonymous private mapping with no address hint has no preconditions.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(format!(
                "cannot allocate {} MiB: {}",
                len >> 20,
                std::io::Error::last_os_error()
            ));
        }
        let page = 4096;
        let base = ptr.cast::<u8>();
        for offset in (0..len).step_by(page) {
            // SAFETY: offset < len, inside the mapping just created; volatile so the
            // writes are not optimised away.
            unsafe { base.add(offset).write_volatile(1) };
        }
        Ok(TouchedMemory { ptr, len })
    }
}

impl Drop for TouchedMemory {
    fn drop(&mut self) {
        // SAFETY: ptr/len describe a mapping this value owns and nothing borrows.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burns_cpu_on_the_thread_clock() {
        let out = run(&json!({"value": {"cpu_ms": 20}}));
        let burned = out["burned_cpu_ns"].as_u64().unwrap();
        assert!((20_000_000..60_000_000).contains(&burned), "{out}");
    }

    #[test]
    fn bad_parameters_are_application_errors() {
        for value in [
            json!({"cpu_ms": "x"}),
            json!({"mem_mb": -1}),
            json!({"sleep_ms": 1e12}),
            json!({"fail": true}),
            json!({"error": "boom"}),
            json!({"fail": 3}),
        ] {
            let out = run(&json!({ "value": value }));
            assert!(out["error"].is_string(), "{value} gave {out}");
        }
        assert_eq!(run(&json!({"value": {"error": "boom"}}))["error"], "boom");
        assert!(run(&json!({"value": [1]}))["error"].is_string());
    }

    #[test]
    fn touches_memory() {
        let out = run(&json!({"value": {"mem_mb": 8}}));
        assert_eq!(out["mem_mb"], 8);
        assert!(out.get("error").is_none());
    }
}
