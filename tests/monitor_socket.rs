//! The measurement socket and the `gale monitor` daemon: protocol replies (including to
//! malformed input), socket mode, the platform events feed, sd_notify, SIGTERM.

mod monitor_support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use gale::monitor::client::MonitorClient;
use gale::monitor::server::Server;
use gale::monitor::{Monitor, MonitorConfig, State};
use monitor_support::{started_event, wait_for, FakeEvents, Scratch, Worker};
use serde_json::{json, Value};

fn raw(conn: &mut BufReader<UnixStream>, line: &[u8]) -> Value {
    conn.get_mut().write_all(line).unwrap();
    let mut reply = String::new();
    conn.read_line(&mut reply).unwrap();
    serde_json::from_str(&reply).unwrap()
}

#[test]
fn protocol_answers_and_survives_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("m.sock");
    let m = Monitor::start(MonitorConfig::default()).unwrap();
    let server = Server::start(m.clone(), &sock).unwrap();
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    assert!(
        Server::start(m.clone(), &sock).is_err(),
        "a live socket is not replaced"
    );

    let mut conn = BufReader::new(UnixStream::connect(&sock).unwrap());
    let bad = raw(&mut conn, b"{not json\n");
    assert_eq!(
        (bad["ok"].as_bool(), bad["code"].as_str()),
        (Some(false), Some("bad_request"))
    );
    let long = vec![b'x'; gale::monitor::server::MAX_LINE + 10];
    let mut req = long.clone();
    req.push(b'\n');
    assert_eq!(raw(&mut conn, &req)["code"], "line_too_long");
    assert_eq!(raw(&mut conn, b"{\"op\":\"fly\"}\n")["code"], "bad_request");
    let w = raw(
        &mut conn,
        b"{\"op\":\"window\",\"container\":\"nope\",\"start_us\":1,\"end_us\":2}\n",
    );
    assert_eq!(w["code"], "unknown_container");
    assert_eq!(
        raw(
            &mut conn,
            b"{\"op\":\"window\",\"container\":\"x\",\"start_us\":5,\"end_us\":2}\n"
        )["code"],
        "bad_request"
    );
    let ping = raw(&mut conn, b"{\"op\":\"ping\",\"future_field\":1}\n");
    assert_eq!(ping["ok"], true);
    assert_eq!(
        raw(&mut conn, b"{\"op\":\"stats\"}\n")["stats"]["period_us"],
        10_000
    );
    assert_eq!(
        raw(&mut conn, b"{\"op\":\"containers\"}\n")["containers"],
        json!([])
    );
    let unmeasurable = raw(
        &mut conn,
        b"{\"op\":\"watch\",\"container\":\"u\",\"cgroups\":{}}\n",
    );
    assert_eq!(unmeasurable["ok"], true);
    let w = raw(
        &mut conn,
        b"{\"op\":\"window\",\"container\":\"u\",\"start_us\":1,\"end_us\":2}\n",
    );
    assert_eq!(w["code"], "unmeasurable");
    assert_eq!(
        raw(&mut conn, b"{\"op\":\"remove\",\"container\":\"zz\"}\n")["code"],
        "unknown_container"
    );
    drop(conn);
    server.shutdown();
    assert!(!sock.exists(), "socket removed on shutdown");
    m.shutdown();
}

#[test]
fn platform_events_drive_the_monitor() {
    let _ = require_v1!();
    let mut s = Scratch::new("events");
    s.mkdir("c1");
    let mut w = Worker::start(&s, "c1");
    let dir = tempfile::tempdir().unwrap();
    let lines = vec![
        started_event("c1", &s.paths("c1")),
        "garbage line".into(),
        r#"{"event":"started","container":"c2","cgroups":{},"node":"n"}"#.into(),
        r#"{"event":"migrated","container":"c1"}"#.into(),
        r#"{"event":"paused","container":"c1"}"#.into(),
        r#"{"event":"resumed","container":"c1"}"#.into(),
    ];
    let feed = FakeEvents::start(dir.path().join("events.sock"), lines);
    let m = Monitor::start(MonitorConfig {
        period: Duration::from_millis(5),
        ..MonitorConfig::default()
    })
    .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let t = gale::monitor::events::spawn(m.clone(), &feed.path, stop.clone()).unwrap();
    wait_for(Duration::from_secs(3), || m.info("c2")).expect("events applied");
    assert_eq!(m.info("c2").unwrap().state, State::Unmeasurable);
    assert_eq!(m.info("c1").unwrap().state, State::Running);
    let r = w.run(8, 30, false);
    let sock = dir.path().join("m.sock");
    let server = Server::start(m.clone(), &sock).unwrap();
    let mut client = MonitorClient::connect(&sock).unwrap();
    let win = client
        .window("c1", r.start_us, r.end_us, None)
        .unwrap()
        .unwrap();
    assert!(
        (win.cpu_ms.unwrap() - r.cpu_ns as f64 / 1e6).abs() <= 4.0,
        "{win:?}"
    );
    m.removed("c1");
    assert_eq!(m.info("c1").unwrap().state, State::Removed);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    t.join().unwrap();
    server.shutdown();
    m.shutdown();
}

#[test]
fn daemon_serves_explicit_cgroups_notifies_systemd_and_stops_on_sigterm() {
    let _ = require_v1!();
    let mut s = Scratch::new("daemon");
    s.mkdir("job");
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("run/monitor.sock");
    let csv = dir.path().join("samples.csv");
    let notify = UnixDatagram::bind(dir.path().join("notify")).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let cg = format!("job1=/{}/job", s.rel.display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_gale"))
        .args(["monitor", "--period", "2ms", "--cgroup", &cg, "--socket"])
        .arg(&sock)
        .arg("--csv")
        .arg(&csv)
        .env("NOTIFY_SOCKET", dir.path().join("notify"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let n = notify.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"READY=1");
    let mut client = MonitorClient::connect(&sock).unwrap();
    let list = client.call(&json!({"op": "containers"})).unwrap().unwrap();
    assert_eq!(list["containers"][0]["id"], "job1");
    assert_eq!(list["containers"][0]["cpu"], true);
    std::thread::sleep(Duration::from_millis(50));
    let latest = client
        .call(&json!({"op": "latest", "container": "job1"}))
        .unwrap()
        .unwrap();
    assert!(latest["sample"]["t_us"].as_u64().unwrap() > 0);
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = wait_for(Duration::from_secs(10), || child.try_wait().unwrap()).expect("exit");
    assert!(status.success(), "{status:?}");
    let mut states = Vec::new();
    notify
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    while let Ok(n) = notify.recv(&mut buf) {
        states.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(states.iter().any(|s| s == "STOPPING=1"), "{states:?}");
    assert!(!sock.exists());
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(gale::monitor::csv_out::COLUMNS));
    assert!(lines.filter(|l| l.contains(",job1,fast,")).count() >= 10);
    assert!(text.ends_with('\n'));
}

#[test]
fn bad_arguments_are_usage_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_gale"))
        .args(["monitor", "--period", "5s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--period"));
    let out = Command::new(env!("CARGO_BIN_EXE_gale"))
        .args(["monitor", "--cgroup", "/no/such/gale-cgroup"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// config/systemd/gale-monitor.service's command line runs as written (socket moved to a
/// scratch directory) and speaks sd_notify as Type=notify expects.
#[test]
fn the_systemd_units_command_line_runs() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/systemd/gale-monitor.service"
    ))
    .unwrap();
    assert!(unit.contains("Type=notify") && unit.contains("WatchdogSec="));
    let exec = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .expect("ExecStart");
    let mut words = exec.split_whitespace();
    assert!(words.next().unwrap().ends_with("/gale"));
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("monitor.sock");
    let mut args: Vec<String> = words.map(String::from).collect();
    let i = args.iter().position(|a| a == "--socket").expect("--socket");
    args[i + 1] = sock.display().to_string();
    let notify = UnixDatagram::bind(dir.path().join("notify")).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_gale"))
        .args(&args)
        .env("NOTIFY_SOCKET", dir.path().join("notify"))
        .env("WATCHDOG_USEC", "200000")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 256];
    let mut seen = Vec::new();
    while !seen.iter().any(|s: &String| s == "WATCHDOG=1") {
        let n = notify.recv(&mut buf).expect("sd_notify messages");
        seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert_eq!(seen[0], "READY=1");
    let mut client = MonitorClient::connect(&sock).unwrap();
    assert_eq!(
        client.call(&json!({"op": "ping"})).unwrap().unwrap()["ok"],
        true
    );
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = wait_for(Duration::from_secs(10), || child.try_wait().unwrap()).expect("exit");
    assert!(status.success());
}

/// A socket client may only watch cgroups below a `--watch-root`, and never repoint a
/// container the monitor already samples (issue 15: any client could reset the v1
/// watermark of any cgroup it named, or point a platform's container at another cgroup).
#[test]
fn socket_watches_stay_below_the_watch_roots() {
    let _ = require_v1!();
    let mut s = Scratch::new("roots");
    s.mkdir("allowed");
    s.mkdir("allowed/c1");
    s.mkdir("other");
    let roots = s.dirs("allowed");
    let m = Monitor::start(MonitorConfig {
        watch_roots: roots.clone(),
        ..MonitorConfig::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("m.sock");
    let server = Server::start(m.clone(), &sock).unwrap();
    let mut conn = BufReader::new(UnixStream::connect(&sock).unwrap());
    let watch =
        |conn: &mut BufReader<UnixStream>, id: &str, paths: &gale::monitor::files::CgroupPaths| {
            let line = json!({"op": "watch", "container": id, "cgroups": {
            "memory": paths.memory, "cpuacct": paths.cpuacct}});
            raw(conn, format!("{line}\n").as_bytes())
        };
    let ok = watch(&mut conn, "c1", &s.paths("allowed/c1"));
    assert_eq!(ok["ok"], true, "{ok}");
    // Outside the roots, a root itself, and `..` out of a root: refused, nothing sampled.
    let outside = watch(&mut conn, "x", &s.paths("other"));
    assert_eq!(outside["code"], "forbidden", "{outside}");
    let root_itself = watch(&mut conn, "y", &s.paths("allowed"));
    assert_eq!(root_itself["code"], "forbidden", "{root_itself}");
    let mut dotdot = s.paths("allowed/c1");
    dotdot.memory = dotdot.memory.map(|p| p.join("../../other"));
    dotdot.cpuacct = dotdot.cpuacct.map(|p| p.join("../../other"));
    let escaped = watch(&mut conn, "z", &dotdot);
    assert_eq!(escaped["code"], "forbidden", "{escaped}");
    assert!(m.info("x").is_none() && m.info("y").is_none() && m.info("z").is_none());
    // A known container cannot be pointed at another cgroup, even one below a root.
    s.mkdir("allowed/c2");
    let repoint = watch(&mut conn, "c1", &s.paths("allowed/c2"));
    assert_eq!(repoint["code"], "forbidden", "{repoint}");
    assert_eq!(m.info("c1").unwrap().cgroups, s.paths("allowed/c1"));
    drop(conn);
    server.shutdown();

    // Without any root, the socket watches no cgroup at all.
    let m2 = Monitor::start(MonitorConfig::default()).unwrap();
    let sock2 = dir.path().join("m2.sock");
    let server2 = Server::start(m2.clone(), &sock2).unwrap();
    let mut conn = BufReader::new(UnixStream::connect(&sock2).unwrap());
    let off = watch(&mut conn, "c1", &s.paths("allowed/c1"));
    assert_eq!(off["code"], "forbidden", "{off}");
    assert!(
        off["error"].as_str().unwrap().contains("--watch-root"),
        "{off}"
    );
    drop(conn);
    server2.shutdown();
    m2.shutdown();
    m.shutdown();
}
