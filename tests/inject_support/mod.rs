//! Helpers shared by the `gale inject` end-to-end tests: a sandbox per test (its own HOME,
//! no WSK_CONFIG_FILE, a scratch directory), bounded runs of the real binary, and readers
//! for the result directory (`invocations.csv`, `summary.json`, `run.yaml`).
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

/// OpenWhisk standalone's guest key, the embedded platform's default.
pub const GUEST_KEY: &str = gale::platform::GUEST_KEY;

/// The longest any single `gale` run may take in these tests (debug build, shared cores).
/// A guard against a hang, not a speed check: the 155-row generator example took over 40 s
/// while the suite ran in parallel at load average 60-120 on 2 cores.
pub const RUN_LIMIT: Duration = Duration::from_secs(180);

/// A test's private world: HOME (so no ~/.wskprops leaks in) and a scratch directory for
/// traces and result directories.
pub struct Sandbox {
    home: tempfile::TempDir,
    dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            home: tempfile::tempdir().expect("temp HOME"),
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The scratch directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path in the scratch directory (not created).
    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Write `text` to `name` in the scratch directory; returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, text).expect("write test file");
        path
    }

    /// `gale ARGS…` with the sandbox's environment, run in the scratch directory.
    pub fn gale<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gale"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.home.path())
            .env_remove("WSK_CONFIG_FILE")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        cmd
    }

    /// Start `cmd` with stdout/stderr going to files in the scratch directory (no pipe can
    /// fill up and stall it).
    pub fn spawn(&self, mut cmd: Command) -> Running {
        let stdout = tempfile::Builder::new()
            .prefix("stdout-")
            .tempfile_in(self.dir.path())
            .unwrap()
            .into_temp_path()
            .keep()
            .unwrap();
        let stderr = stdout.with_file_name(
            stdout
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace("stdout", "stderr"),
        );
        cmd.stdout(File::create(&stdout).unwrap())
            .stderr(File::create(&stderr).unwrap());
        let child = cmd.spawn().expect("spawn gale");
        Running {
            child: Some(child),
            stdout,
            stderr,
            started: Instant::now(),
        }
    }

    /// Run `gale ARGS…` to its end (at most [`RUN_LIMIT`]).
    pub fn run<I, S>(&self, args: I) -> Outcome
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.run_cmd(self.gale(args))
    }

    /// Run a prepared command to its end (at most [`RUN_LIMIT`]).
    pub fn run_cmd(&self, cmd: Command) -> Outcome {
        self.spawn(cmd).wait(RUN_LIMIT)
    }
}

/// A `gale` process started by a test; killed if dropped while still running.
pub struct Running {
    child: Option<Child>,
    stdout: PathBuf,
    stderr: PathBuf,
    started: Instant,
}

impl Running {
    /// Its process id.
    pub fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    /// Send `sig` to it.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the id of a child this test started and has not reaped yet.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.pid());
    }

    /// Stderr so far.
    pub fn stderr_so_far(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Wait until stderr contains `needle` (panics after `within`).
    pub fn wait_for_stderr(&self, needle: &str, within: Duration) {
        let until = Instant::now() + within;
        while !self.stderr_so_far().contains(needle) {
            assert!(
                Instant::now() < until,
                "`{needle}` not on stderr within {within:?}; stderr:\n{}",
                self.stderr_so_far()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Wait for the process to end; kill it and fail the test after `limit`.
    pub fn wait(mut self, limit: Duration) -> Outcome {
        let mut child = self.child.take().expect("running");
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if self.started.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "gale still running after {limit:?}; stderr:\n{}",
                    self.stderr_so_far()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let elapsed = self.started.elapsed();
        let out = Outcome {
            status,
            stdout: std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            stderr: std::fs::read_to_string(&self.stderr).unwrap_or_default(),
            elapsed,
        };
        assert!(
            !out.stderr.contains("panicked") && !out.stdout.contains("panicked"),
            "gale panicked:\n{}",
            out.stderr
        );
        out
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// How a finished `gale` run ended.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Outcome {
    /// The exit code (panics if killed by a signal).
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("gale died of a signal: {:?}\n{}", self.status, self.stderr))
    }

    /// Assert the exit code, showing the output when it differs.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            code,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// One line of `invocations.csv`.
#[derive(Debug, Clone, Deserialize)]
pub struct Rec {
    pub row: u64,
    pub function: String,
    pub user: String,
    pub blocking: bool,
    pub scheduled_us: f64,
    pub sent_us: Option<f64>,
    pub lateness_us: Option<f64>,
    pub start_us: Option<f64>,
    pub end_us: Option<f64>,
    pub completion_us: Option<f64>,
    pub response_us: Option<f64>,
    pub http_status: Option<u16>,
    pub response_bytes: Option<u64>,
    pub activation_id: String,
    pub outcome: String,
    pub cold: Option<bool>,
    pub wait_ms: Option<f64>,
    pub init_ms: Option<f64>,
    pub duration_ms: Option<f64>,
    pub node: String,
    pub container: String,
    pub error: String,
    pub entity: String,
    pub cpu_ms: Option<f64>,
    pub mem_peak_bytes: Option<u64>,
    pub mem_mean_bytes: Option<u64>,
    pub cpu_exact: Option<bool>,
    pub mem_peak_exact: Option<bool>,
    pub monitor_samples: Option<u32>,
    pub monitor_missed: Option<bool>,
}

/// The columns `invocations.csv` must have, in order.
pub const COLUMNS: [&str; 30] = [
    "row",
    "function",
    "user",
    "blocking",
    "scheduled_us",
    "sent_us",
    "lateness_us",
    "start_us",
    "end_us",
    "completion_us",
    "response_us",
    "http_status",
    "response_bytes",
    "activation_id",
    "outcome",
    "cold",
    "wait_ms",
    "init_ms",
    "duration_ms",
    "node",
    "container",
    "error",
    "entity",
    "cpu_ms",
    "mem_peak_bytes",
    "mem_mean_bytes",
    "cpu_exact",
    "mem_peak_exact",
    "monitor_samples",
    "monitor_missed",
];

/// A result directory, read back.
pub struct Results {
    pub dir: PathBuf,
    /// Records sorted by row id.
    pub records: Vec<Rec>,
    pub summary: Value,
    pub run_yaml: String,
}

impl Results {
    /// Read `dir`: the header and every line of invocations.csv must parse, the file must end
    /// with a complete line, and summary.json / run.yaml must exist.
    pub fn read(dir: &Path) -> Results {
        let csv_path = dir.join("invocations.csv");
        let raw = std::fs::read_to_string(&csv_path)
            .unwrap_or_else(|e| panic!("{}: {e}", csv_path.display()));
        assert!(raw.ends_with('\n'), "invocations.csv ends mid-line");
        let mut reader = csv::Reader::from_reader(raw.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .expect("header")
            .iter()
            .map(String::from)
            .collect();
        assert_eq!(header, COLUMNS, "invocations.csv columns");
        let mut records: Vec<Rec> = reader
            .deserialize()
            .enumerate()
            .map(|(i, r)| r.unwrap_or_else(|e| panic!("invocations.csv record {i}: {e}")))
            .collect();
        records.sort_by_key(|r| r.row);
        let summary_path = dir.join("summary.json");
        let summary: Value = serde_json::from_slice(
            &std::fs::read(&summary_path)
                .unwrap_or_else(|e| panic!("{}: {e}", summary_path.display())),
        )
        .expect("summary.json is JSON");
        let run_yaml = std::fs::read_to_string(dir.join("run.yaml")).expect("run.yaml");
        Results {
            dir: dir.to_path_buf(),
            records,
            summary,
            run_yaml,
        }
    }

    /// Row ids must be exactly 0..n, each once.
    pub fn assert_rows_are_prefix(&self, n: usize) {
        let rows: Vec<u64> = self.records.iter().map(|r| r.row).collect();
        let expected: Vec<u64> = (0..n as u64).collect();
        assert_eq!(rows, expected, "row ids are not exactly 0..{n} once each");
    }

    /// Records with outcome `kind`.
    pub fn with_outcome(&self, kind: &str) -> Vec<&Rec> {
        self.records.iter().filter(|r| r.outcome == kind).collect()
    }

    /// `summary.json` overall count of outcome `kind` (0 when absent).
    pub fn summary_outcome(&self, kind: &str) -> u64 {
        self.summary["overall"]["outcomes"][kind]
            .as_u64()
            .unwrap_or(0)
    }

    /// Panic with every record that is not `success`.
    pub fn assert_all_success(&self) {
        let bad: Vec<&Rec> = self
            .records
            .iter()
            .filter(|r| r.outcome != "success")
            .collect();
        assert!(bad.is_empty(), "records that did not succeed: {bad:#?}");
    }
}

/// Run `gale inject TRACE --out DIR EXTRA…` (no progress bar, quiet); returns the run and the
/// result directory path.
pub fn inject(sb: &Sandbox, trace: &Path, out: &str, extra: &[&str]) -> (Outcome, PathBuf) {
    let dir = sb.join(out);
    let mut args: Vec<std::ffi::OsString> = vec!["inject".into(), trace.into()];
    args.extend(["--out".into(), dir.clone().into()]);
    args.extend(["--no-progress".into(), "--quiet".into()]);
    args.extend(extra.iter().map(Into::into));
    (sb.run(args), dir)
}

/// `inject` that must exit 0; returns the results.
pub fn inject_ok(sb: &Sandbox, trace: &Path, extra: &[&str]) -> (Outcome, Results) {
    inject_ok_in(sb, trace, "out", extra)
}

/// `inject` into result directory `out` that must exit 0; returns the results.
pub fn inject_ok_in(sb: &Sandbox, trace: &Path, out: &str, extra: &[&str]) -> (Outcome, Results) {
    let (out, dir) = inject(sb, trace, out, extra);
    out.expect_code(0);
    (out, Results::read(&dir))
}

/// The rows `gale trace convert` yields for `trace` (as NAME.yaml: the CSV beside it).
pub fn converted_rows(sb: &Sandbox, trace: &Path) -> Vec<csv::StringRecord> {
    let yaml = sb.join("converted.yaml");
    let out = sb.run([
        std::ffi::OsStr::new("trace"),
        "convert".as_ref(),
        trace.as_os_str(),
        "--out".as_ref(),
        yaml.as_os_str(),
    ]);
    out.expect_code(0);
    csv::Reader::from_path(sb.join("converted.csv"))
        .expect("converted CSV")
        .records()
        .map(|r| r.expect("converted CSV"))
        .collect()
}

/// A `gale platform` on a free loopback port, started by a test (killed on drop).
pub struct PlatformProcess {
    proc: Running,
    /// `http://127.0.0.1:PORT`.
    pub apihost: String,
    /// The guest namespace's key.
    pub key: String,
}

impl PlatformProcess {
    /// Start `gale platform --listen 127.0.0.1:0 EXTRA…` and read its address and key from
    /// the lines it prints.
    pub fn start(sb: &Sandbox, extra: &[&str]) -> PlatformProcess {
        let mut cmd = sb.gale(["platform", "--listen", "127.0.0.1:0"]);
        cmd.args(extra);
        let proc = sb.spawn(cmd);
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let text = std::fs::read_to_string(&proc.stdout).unwrap_or_default();
            if let Some(line) = text
                .lines()
                .find(|l| l.starts_with("wsk property set") && l.ends_with('\''))
            {
                let apihost = between(line, "--apihost '", "'");
                let key = between(line, "--auth '", "'");
                let listening = text
                    .lines()
                    .find_map(|l| l.strip_prefix("gale platform listening on "))
                    .expect("listening line");
                assert_eq!(listening, apihost);
                assert!(apihost.starts_with("http://127.0.0.1:"), "{apihost}");
                return PlatformProcess { proc, apihost, key };
            }
            assert!(
                Instant::now() < until,
                "gale platform printed no address; stdout:\n{text}\nstderr:\n{}",
                proc.stderr_so_far()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Create or replace synthetic action `name` in the guest namespace, with gale's own
    /// OpenWhisk client (the injector deploys synthetic functions only on the embedded
    /// platform).
    pub fn deploy_synthetic(&self, name: &str) {
        use gale::backend::Platform as _;
        let client = gale::backend::OpenWhisk::new(&gale::backend::OpenWhiskOptions {
            apihost: self.apihost.clone(),
            credentials: vec![gale::backend::Credentials {
                namespace: "_".into(),
                auth: self.key.clone(),
            }],
            insecure: false,
            connections: 1,
            request_timeout: Duration::from_secs(10),
        })
        .expect("client");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let spec = gale::trace::FunctionSpec::synthetic(name);
        rt.block_on(client.deploy(0, &spec))
            .unwrap_or_else(|e| panic!("deploy {name}: {e}"));
    }
}

fn between(line: &str, start: &str, end: &str) -> String {
    let from = line
        .find(start)
        .unwrap_or_else(|| panic!("{start} in {line}"))
        + start.len();
    let len = line[from..].find(end).expect("closing quote");
    line[from..from + len].to_string()
}
