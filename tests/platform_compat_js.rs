//! The official `openwhisk` npm client (tests/compat-js) against `gale platform`.
//!
//! Needs `node` (≥ 18) and `npm`; runs `npm ci` when node_modules is missing. Fails, with a
//! message, when node is not installed: a compatibility test that silently passes would
//! hide exactly what it exists to catch.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gale::platform::GUEST_KEY;

/// A `gale platform` child, killed on drop.
struct Platform {
    child: Child,
    api_host: String,
    /// Kept open: the platform prints more lines after the address.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Platform {
    fn start(extra: &[&str]) -> Platform {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gale"))
            .args(["platform", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start gale platform");
        let stdout = child.stdout.take().unwrap();
        let mut first = String::new();
        let mut stdout = BufReader::new(stdout);
        stdout.read_line(&mut first).unwrap();
        let api_host = first
            .trim()
            .strip_prefix("gale platform listening on ")
            .unwrap_or_else(|| panic!("unexpected first line from gale platform: {first:?}"))
            .to_string();
        Platform {
            child,
            api_host,
            _stdout: stdout,
        }
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        // SIGTERM first so the platform shuts down its action processes itself.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn require_tool(name: &str) {
    match Command::new(name).arg("--version").output() {
        Ok(out) if out.status.success() => {}
        _ => panic!(
            "`{name}` is required for the openwhisk npm client compatibility test \
             (install Node.js 18 or later with npm), and was not found or failed to run"
        ),
    }
}

/// Run `cmd` to completion within `limit`; returns (success, combined output).
fn run_bounded(cmd: &mut Command, limit: Duration) -> (bool, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let until = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let text = format!(
        "{}{}",
        out_thread.join().unwrap_or_default(),
        err_thread.join().unwrap_or_default()
    );
    match status {
        Some(s) => (s.success(), text),
        None => (false, format!("{text}\n(killed after {limit:?})")),
    }
}

fn compat_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/compat-js")
}

#[test]
fn openwhisk_npm_client_works_against_gale_platform() {
    require_tool("node");
    require_tool("npm");
    let dir = compat_dir();
    if !dir.join("node_modules/openwhisk").exists() {
        let (ok, out) = run_bounded(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir),
            Duration::from_secs(180),
        );
        assert!(ok, "npm ci failed in {}:\n{out}", dir.display());
    }
    let main = Platform::start(&["--max-blocking-wait", "1s"]);
    let limited = Platform::start(&["--invocations-per-minute", "2"]);
    let (ok, out) = run_bounded(
        Command::new("node")
            .arg("--test")
            .current_dir(&dir)
            .env("__OW_API_HOST", &main.api_host)
            .env("__OW_API_KEY", GUEST_KEY)
            .env("GALE_LIMITED_API_HOST", &limited.api_host)
            .env_remove("__OW_NAMESPACE"),
        Duration::from_secs(120),
    );
    assert!(ok, "node --test failed:\n{out}");
    assert!(out.contains("# fail 0"), "unexpected node output:\n{out}");
    assert!(
        out.contains("# skipped 0"),
        "a scenario was skipped:\n{out}"
    );
}
