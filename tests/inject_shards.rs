//! Sharded runs across hosts: three `gale inject --shard K/3` processes, each in its own
//! network namespace (a host with its own address, reached over a veth pair), replay one
//! trace against a `gale platform` in a fourth namespace, starting together at one
//! `--start-at` instant. Their records, merged by row id, are the unsharded run's rows:
//! same function, user and scheduled instant (and so the same parameters, which rows carry
//! by id). Also: the Kubernetes manifest in config/ is valid against the Kubernetes schemas.
//!
//! Network namespaces need root: the test says so and skips otherwise.

mod inject_support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use inject_support::{Rec, Results};

const TRACE: &str = "\
seed: 11
functions:
  - {name: f0, params: {cpu_ms: 1}}
  - {name: f1, params: {cpu_ms: 1}}
  - {name: f2, params: {cpu_ms: 1}}
  - {name: f3, params: {cpu_ms: 1}}
  - {name: f4, params: {cpu_ms: 1}}
  - {name: f5, params: {cpu_ms: 1}}
arrivals:
  - {function: f0, user: alice, rate: 8, duration: 3s, params: {n: 0}}
  - {function: f1, user: bob, rate: 6, duration: 3s, params: {n: 1}}
  - {function: f2, user: alice, rate: 5, process: uniform, duration: 3s}
  - {function: f3, user: carol, rate: 4, process: constant, duration: 3s}
  - {function: f4, user: bob, rate: 7, duration: 3s, params: {n: 4}}
  - {function: f5, user: carol, rate: 3, duration: 3s}
";

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run a command");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn ip(args: &[&str]) {
    run(Command::new("ip").args(args));
}

/// Four namespaces: P (the platform) joined to I0, I1, I2 by veth pairs 10.77.K.0/24.
struct Net {
    tag: String,
}

impl Net {
    fn new() -> Net {
        let tag = format!("{}", std::process::id() % 100_000);
        let net = Net { tag };
        ip(&["netns", "add", &net.ns("p")]);
        ip(&["-n", &net.ns("p"), "link", "set", "lo", "up"]);
        for k in 0..3 {
            let (a, b) = (format!("gp{}x{k}", net.tag), format!("gi{}x{k}", net.tag));
            ip(&["netns", "add", &net.ns(&format!("i{k}"))]);
            ip(&["link", "add", &a, "type", "veth", "peer", "name", &b]);
            ip(&["link", "set", &a, "netns", &net.ns("p")]);
            ip(&["link", "set", &b, "netns", &net.ns(&format!("i{k}"))]);
            ip(&[
                "-n",
                &net.ns("p"),
                "addr",
                "add",
                &format!("10.77.{k}.1/24"),
                "dev",
                &a,
            ]);
            ip(&["-n", &net.ns("p"), "link", "set", &a, "up"]);
            let ins = net.ns(&format!("i{k}"));
            ip(&[
                "-n",
                &ins,
                "addr",
                "add",
                &format!("10.77.{k}.2/24"),
                "dev",
                &b,
            ]);
            ip(&["-n", &ins, "link", "set", &b, "up"]);
            ip(&["-n", &ins, "link", "set", "lo", "up"]);
        }
        net
    }

    fn ns(&self, which: &str) -> String {
        format!("gale{}{which}", self.tag)
    }

    fn exec(&self, which: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(which), env!("CARGO_BIN_EXE_gale")]);
        c
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth ends in it, and so their peers.
        for n in ["p", "i0", "i1", "i2"] {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns(n)])
                .status();
        }
    }
}

struct Platform(Child);

impl Drop for Platform {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The platform's key in P (not the well-known guest key).
const SHARD_KEY: &str = concat!(
    "5a4d0f3e-1b2c-4d5e-8f90-a1b2c3d4e5f6:",
    "shardKEY00000000000000000000000000000000000000000000000000000000"
);

/// Start `gale platform` in P; returns it and its key.
fn platform(net: &Net) -> (Platform, String) {
    let mut child = net
        .exec("p")
        // Beyond loopback the public guest key is refused (docs/security.md): a key of its own.
        .args(["platform", "--listen", "0.0.0.0:3233", "--auth", SHARD_KEY])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the platform");
    let out = child.stdout.take().expect("stdout");
    let mut key = None;
    for line in BufReader::new(out).lines() {
        let line = line.expect("platform output");
        if let Some(rest) = line.split("--auth '").nth(1) {
            key = rest.split('\'').next().map(str::to_string);
            break;
        }
    }
    (Platform(child), key.expect("the platform printed its key"))
}

fn inject(net: &Net, k: u32, key: &str, trace: &Path, out: &Path, extra: &[String]) -> Child {
    net.exec(&format!("i{k}"))
        .arg("inject")
        .arg(trace)
        .args([
            "--apihost",
            &format!("http://10.77.{k}.1:3233"),
            "--auth",
            key,
        ])
        .args([
            "--no-monitor",
            "--no-progress",
            "--no-plots",
            "--quiet",
            "--blocking",
        ])
        .arg("--out")
        .arg(out)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start an injector")
}

fn finish(child: Child) {
    let out = child.wait_with_output().expect("injector");
    assert!(
        out.status.success(),
        "injector failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn key_of(r: &Rec) -> (u64, String, String, i64) {
    (
        r.row,
        r.function.clone(),
        r.user.clone(),
        r.scheduled_us.round() as i64,
    )
}

#[test]
fn three_shards_in_three_namespaces_merge_into_the_unsharded_run() {
    if rustix::process::geteuid().as_raw() != 0 {
        eprintln!("SKIPPED: network namespaces need root (ip netns); run the suite as root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let trace = tmp.path().join("t.yaml");
    std::fs::write(&trace, TRACE).unwrap();
    let net = Net::new();
    let (_platform, key) = platform(&net);
    // The injector deploys synthetic actions only on its embedded platform: create them on
    // the remote one first, from inside its namespace.
    for f in 0..6 {
        run(Command::new("ip").args([
            "netns",
            "exec",
            &net.ns("p"),
            "curl",
            "-sf",
            "-X",
            "PUT",
            "-u",
            &key,
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"exec":{"kind":"gale:synthetic"},"parameters":[{"key":"cpu_ms","value":1}]}"#,
            &format!("http://127.0.0.1:3233/api/v1/namespaces/_/actions/f{f}?overwrite=true"),
        ]));
    }

    // The whole run, from one host.
    let whole_dir = tmp.path().join("whole");
    finish(inject(&net, 0, &key, &trace, &whole_dir, &[]));

    // Three shards from three hosts, one time zero 3 s ahead (set-up takes well under that).
    let start = SystemTime::now() + Duration::from_secs(3);
    let start_at = gale::timefmt::rfc3339_nanos(start);
    let t0 = Instant::now();
    let dirs: Vec<PathBuf> = (0..3)
        .map(|k| tmp.path().join(format!("shard-{k}")))
        .collect();
    let children: Vec<Child> = (0..3u32)
        .map(|k| {
            let extra = vec![
                "--shard".to_string(),
                format!("{k}/3"),
                "--start-at".to_string(),
                start_at.clone(),
            ];
            inject(&net, k, &key, &trace, &dirs[k as usize], &extra)
        })
        .collect();
    for c in children {
        finish(c);
    }
    assert!(
        t0.elapsed() >= Duration::from_secs(5),
        "the shards waited for --start-at"
    );

    let whole = Results::read(&whole_dir);
    whole.assert_all_success();
    let mut merged: Vec<Rec> = Vec::new();
    for (k, d) in dirs.iter().enumerate() {
        let r = Results::read(d);
        r.assert_all_success();
        assert!(
            r.run_yaml
                .contains(&format!("shard:\n  index: {k}\n  count: 3")),
            "{}",
            r.run_yaml
        );
        assert!(!r.records.is_empty(), "shard {k} sent nothing");
        // A function's rows are all on one shard.
        let fs: std::collections::BTreeSet<&str> =
            r.records.iter().map(|x| x.function.as_str()).collect();
        for other in dirs.iter().filter(|o| *o != d) {
            let o = Results::read(other);
            assert!(o.records.iter().all(|x| !fs.contains(x.function.as_str())));
        }
        merged.extend(r.records);
    }
    merged.sort_by_key(|r| r.row);
    let a: Vec<_> = merged.iter().map(key_of).collect();
    let b: Vec<_> = whole.records.iter().map(key_of).collect();
    assert_eq!(a, b);
    // Rows carry their parameters by id: the trace's row of each id is the same row.
    let rows: Vec<gale::trace::Invocation> = gale::trace::open(&trace, &Default::default())
        .unwrap()
        .rows
        .map(Result::unwrap)
        .collect();
    for r in &merged {
        let t = &rows[r.row as usize];
        assert_eq!(
            (t.function.as_ref(), (t.at_ns as f64 / 1e3).round() as i64),
            (r.function.as_str(), r.scheduled_us.round() as i64)
        );
    }

    // `gale report` over the shard directories reports one run of all the records.
    let out = Command::new(env!("CARGO_BIN_EXE_gale"))
        .arg("report")
        .args(&dirs)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = json["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "{json}");
    assert!(out
        .stdout
        .windows(format!("{}", whole.records.len()).len())
        .any(|w| w == format!("{}", whole.records.len()).as_bytes()));
}

#[test]
fn the_kubernetes_manifest_is_valid() {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/kubernetes-validate-venv/bin/kubernetes-validate");
    if !venv.exists() {
        if std::env::var_os("CI").is_some() {
            panic!("{} is missing: .ci/run installs it", venv.display());
        }
        eprintln!(
            "SKIPPED: {} is missing (bash .ci/run installs it)",
            venv.display()
        );
        return;
    }
    let manifest =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/kubernetes/gale-inject-job.yaml");
    let out = Command::new(&venv)
        .arg("--strict")
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The validator catches a broken manifest (so the pass above means something).
    let text = std::fs::read_to_string(&manifest).unwrap();
    let broken = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        broken.path(),
        text.replace(
            "completionMode: Indexed",
            "completionMode: Indexed\n  completionsMode: 3",
        ),
    )
    .unwrap();
    let out = Command::new(&venv)
        .arg("--strict")
        .arg(broken.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "a misspelt field passed validation");
}
