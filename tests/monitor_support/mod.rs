//! Helpers for the monitor tests and benchmark: real scratch cgroups (unique names, always
//! removed, processes killed first, even when a test fails) and a child process that
//! allocates and burns known amounts inside one.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use gale::cgroup::Mounts;
use gale::monitor::CgroupPaths;

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A name no other test (or test process) uses.
pub fn unique(tag: &str) -> String {
    format!(
        "gale-test-{}-{}-{tag}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// The v1 memory and cpuacct mounts, or why the tests cannot run here.
pub fn v1_mounts() -> Result<(PathBuf, PathBuf), String> {
    if !rustix::process::geteuid().is_root() {
        return Err("not root: cannot create cgroups".into());
    }
    let m = Mounts::detect().map_err(|e| e.to_string())?;
    match (m.v1_controller("memory"), m.v1_controller("cpuacct")) {
        (Some(mem), Some(cpu)) => Ok((mem.to_path_buf(), cpu.to_path_buf())),
        _ => Err("no v1 memory and cpuacct hierarchies".into()),
    }
}

/// Skip (with the reason printed) when real v1 cgroups are not available.
#[macro_export]
macro_rules! require_v1 {
    () => {
        match monitor_support::v1_mounts() {
            Ok(m) => m,
            Err(why) => {
                eprintln!("skipped: {why}");
                return;
            }
        }
    };
}

/// Whether the embedded platform can run containers in cgroups here (the very check it
/// makes at start), or why not.
pub fn platform_cgroups() -> Result<(), String> {
    if !rustix::process::geteuid().is_root() {
        return Err("not root: the embedded platform runs without cgroups".into());
    }
    gale::platform::cgroups::CgroupTree::create()
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Skip (with the reason printed) when the embedded platform cannot use cgroups here.
#[macro_export]
macro_rules! require_platform_cgroups {
    () => {
        if let Err(why) = monitor_support::platform_cgroups() {
            eprintln!("skipped: {why}");
            return;
        }
    };
}

/// A directory tree created in the memory and cpuacct hierarchies; removed on drop
/// (deepest first, after killing every process in it).
pub struct Scratch {
    /// Top directory, relative to each hierarchy.
    pub rel: PathBuf,
    mounts: Vec<PathBuf>,
    created: Vec<PathBuf>,
}

impl Scratch {
    /// Create `<mount>/<rel>` in both hierarchies.
    pub fn new(tag: &str) -> Scratch {
        let (mem, cpu) = v1_mounts().expect("v1 cgroups");
        let mut s = Scratch {
            rel: PathBuf::from(unique(tag)),
            mounts: vec![mem, cpu],
            created: Vec::new(),
        };
        s.mkdir("");
        s
    }

    /// `<mount>/<rel>/<sub>` for each hierarchy (memory first).
    pub fn dirs(&self, sub: &str) -> Vec<PathBuf> {
        self.mounts
            .iter()
            .map(|m| {
                let d = m.join(&self.rel);
                if sub.is_empty() {
                    d
                } else {
                    d.join(sub)
                }
            })
            .collect()
    }

    /// Create `<rel>/<sub>` in both hierarchies; returns the directories.
    pub fn mkdir(&mut self, sub: &str) -> Vec<PathBuf> {
        let dirs = self.dirs(sub);
        for d in &dirs {
            std::fs::create_dir(d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
            self.created.push(d.clone());
        }
        dirs
    }

    /// Create `<rel>/<sub>` in one hierarchy only (0 memory, 1 cpuacct).
    pub fn mkdir_in(&mut self, which: usize, sub: &str) -> PathBuf {
        let d = self.dirs(sub).swap_remove(which);
        std::fs::create_dir(&d).unwrap_or_else(|e| panic!("mkdir {}: {e}", d.display()));
        self.created.push(d.clone());
        d
    }

    /// The monitor's view of `<rel>/<sub>`.
    pub fn paths(&self, sub: &str) -> CgroupPaths {
        let d = self.dirs(sub);
        CgroupPaths {
            memory: Some(d[0].clone()),
            cpuacct: Some(d[1].clone()),
            unified: None,
        }
    }

    /// Remove `<rel>/<sub>` now (killing its processes).
    pub fn remove(&mut self, sub: &str) {
        for d in self.dirs(sub) {
            remove_cgroup(&d);
            self.created.retain(|c| c != &d);
        }
    }

    /// Start `program args…` inside `<rel>/<sub>` (moved in before it execs).
    pub fn spawn(&self, sub: &str, program: &str, args: &[&str]) -> Child {
        let moves: String = self
            .dirs(sub)
            .iter()
            .map(|d| format!("echo $$ > '{}/cgroup.procs' && ", d.display()))
            .collect();
        Command::new("sh")
            .arg("-c")
            .arg(format!("{moves}exec \"$@\""))
            .arg("sh")
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn sh")
    }
}

fn kill_all(dir: &Path) {
    if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            if let Some(p) = rustix::process::Pid::from_raw(pid) {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            }
        }
    }
}

/// Kill every process in `dir` (and below), then rmdir it, retrying while they die.
pub fn remove_cgroup(dir: &Path) {
    if !dir.exists() {
        return;
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup(&e.path());
            }
        }
    }
    let give_up = Instant::now() + Duration::from_secs(5);
    loop {
        kill_all(dir);
        match std::fs::remove_dir(dir) {
            Ok(()) => return,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) if Instant::now() > give_up => {
                eprintln!("warning: cannot remove {}: {e}", dir.display());
                return;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for d in self.created.iter().rev() {
            remove_cgroup(d);
        }
    }
}

/// A child that, on each `go` line, allocates `alloc_mib` MiB (touched), burns `burn_ms` of
/// CPU, optionally frees, and reports the window it measured itself.
pub const WORKER: &str = r#"
import sys, time, json
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096
print('ready', flush=True)
keep = []
for line in sys.stdin:
    alloc_mib, burn_ms, free = line.split()
    t0 = time.time_ns() // 1000
    c0 = time.process_time_ns()
    r0 = rss()
    b = b'\x01' * (int(alloc_mib) << 20)
    r1 = rss()
    while time.process_time_ns() - c0 < int(burn_ms) * 1000000:
        pass
    if free != '1':
        keep.append(b)
    del b
    c1 = time.process_time_ns()
    t1 = time.time_ns() // 1000
    print(json.dumps({'start_us': t0, 'end_us': t1, 'cpu_ns': c1 - c0, 'rss_delta': max(0, r1 - r0)}), flush=True)
"#;

/// What the worker measured itself.
#[derive(Debug, serde::Deserialize)]
pub struct Report {
    pub start_us: u64,
    pub end_us: u64,
    pub cpu_ns: u64,
    pub rss_delta: u64,
}

/// A running worker.
pub struct Worker {
    pub child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    /// Start the worker in `<rel>/<sub>` and wait until it is ready.
    pub fn start(s: &Scratch, sub: &str) -> Worker {
        let mut child = s.spawn(sub, "python3", &["-c", WORKER]);
        let stdin = child.stdin.take().expect("stdin");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        stdout.read_line(&mut line).expect("worker start");
        assert_eq!(line.trim(), "ready");
        Worker {
            child,
            stdin,
            stdout,
        }
    }

    /// Run one round and return the worker's own report.
    pub fn run(&mut self, alloc_mib: u32, burn_ms: u32, free: bool) -> Report {
        writeln!(self.stdin, "{alloc_mib} {burn_ms} {}", u8::from(free)).expect("worker stdin");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("worker report");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("worker said {line:?}: {e}"))
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Poll `f` every millisecond until it returns `Some` or `limit` passes.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let give_up = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > give_up {
            return None;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A stand-in for the embedded platform's lifecycle events socket: every connection gets
/// `lines` (one JSON event each), then stays open until the feed is dropped. Replace it by
/// the platform's own `--events` socket to run the same tests end to end.
pub struct FakeEvents {
    pub path: PathBuf,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeEvents {
    pub fn start(path: PathBuf, lines: Vec<String>) -> FakeEvents {
        let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind events");
        listener.set_nonblocking(true).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut open = Vec::new();
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        for l in &lines {
                            let _ = writeln!(conn, "{l}");
                        }
                        open.push(conn);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        FakeEvents {
            path,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeEvents {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A `started` event line for container `id` in `paths`.
pub fn started_event(id: &str, paths: &CgroupPaths) -> String {
    let mut cg = serde_json::Map::new();
    if let Some(m) = &paths.memory {
        cg.insert("memory".into(), m.display().to_string().into());
    }
    if let Some(c) = &paths.cpuacct {
        cg.insert("cpuacct".into(), c.display().to_string().into());
    }
    if let Some(u) = &paths.unified {
        cg.insert("unified".into(), u.display().to_string().into());
    }
    serde_json::json!({"event": "started", "time_us": gale::monitor::now_us(), "container": id,
        "node": "node0", "action": "guest/test", "pid": 1, "cgroups": cg})
    .to_string()
}
