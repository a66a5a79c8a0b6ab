//! A paused (frozen) container does not outlive a platform killed with SIGKILL: the reaper
//! process thaws, kills and removes the platform's cgroup tree. On the old code the frozen
//! action stayed, in state D with ppid 1, with its cgroups, until another platform started
//! in the same parent. Needs root (cgroups); passes vacuously without.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gale::platform::GUEST_KEY;

fn request(host: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(GUEST_KEY);
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic {auth}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The platform's instance directories, `<mount>/<own cgroup>/gale/p<pid>-*`, in every
/// hierarchy (the child shares this test's cgroups).
fn instance_dirs(pid: u32) -> Vec<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let prefix = format!("p{pid}-");
    let mut out = Vec::new();
    for mount in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let name = mount.file_name().to_string_lossy().into_owned();
        let path = own.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
            let hit =
                ctrls.split(',').any(|c| c == name) || (ctrls.is_empty() && name == "unified");
            hit.then(|| path.trim_start_matches('/').to_string())
        });
        let Some(path) = path else { continue };
        let gale = mount.path().join(path).join("gale");
        for e in std::fs::read_dir(&gale).into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                out.push(e.path());
            }
        }
    }
    out
}

fn alive(pid: i32) -> bool {
    // A zombie is dead for our purpose; /proc/PID/stat's third field says which.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

#[test]
fn a_frozen_container_dies_with_a_killed_platform() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: reaper test skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("platform.yml");
    std::fs::write(&cfg, "keepalive: {pause_grace: 50ms, idle_timeout: 10m}\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gale"))
        .args(["platform", "--listen", "127.0.0.1:0", "--config"])
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start gale platform");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let host = first
        .trim()
        .strip_prefix("gale platform listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .to_string();
    let (status, body) = request(
        &host,
        "PUT",
        "/api/v1/namespaces/_/actions/f",
        r#"{"exec":{"kind":"gale:synthetic"}}"#,
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = request(
        &host,
        "POST",
        "/api/v1/namespaces/_/actions/f?blocking=true",
        "{}",
    );
    assert_eq!(status, 200, "{body}");
    let pid = serde_json::from_str::<serde_json::Value>(&body).unwrap()["response"]["result"]["pid"]
        .as_i64()
        .unwrap() as i32;
    // Wait for the pause (grace 50 ms).
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, list) = request(&host, "GET", "/gale/v1/containers", "");
        if list.contains("\"paused\"") {
            break;
        }
        assert!(Instant::now() < until, "never paused: {list}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let dirs = instance_dirs(child.id());
    assert!(!dirs.is_empty(), "the platform's cgroup tree");
    assert!(alive(pid));
    child.kill().unwrap();
    child.wait().unwrap();
    let until = Instant::now() + Duration::from_secs(15);
    while (alive(pid) || dirs.iter().any(|d| d.exists())) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(pid), "the frozen action {pid} outlived its platform");
    for d in &dirs {
        assert!(!d.exists(), "{} left behind", d.display());
    }
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("gale reaper"), "{err}");
}
