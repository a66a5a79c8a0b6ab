//! Real cgroups, real processes: these need root (they say so and pass vacuously without;
//! the project's test machine runs them as root).

use std::process::{Child, Command};
use std::time::Duration;

use super::*;

fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("not root: cgroup test skipped");
    }
    root
}

/// A shell that joins `cg` itself (as the runtime does), then runs `script`.
fn spawn_in(cg: &ContainerCgroup, script: &str) -> Child {
    let joins: Vec<String> = cg
        .procs_files()
        .iter()
        .map(|f| format!("echo $$ > {}", f.display()))
        .collect();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("{} && {script}", joins.join(" && ")))
        .process_group(0)
        .spawn()
        .expect("sh");
    // Wait until it is in.
    let pid = child.id() as i32;
    for _ in 0..500 {
        if cg.pids().contains(&pid) {
            return child;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("child never joined its cgroup");
}

use std::os::unix::process::CommandExt;

#[test]
fn memory_limit_kills_an_allocation_past_it() {
    if !root() {
        return;
    }
    let tree = CgroupTree::create().expect("cgroups usable as root");
    let node = tree.node("node0", 512, 1.0).unwrap();
    let cg = node.container("c1", 64, 512).unwrap();
    let mem = cg.paths()["memory"].clone();
    assert_eq!(
        fs::read_u64(&mem, "memory.limit_in_bytes").unwrap(),
        64 << 20
    );
    let mut child = spawn_in(
        &cg,
        "exec python3 -c 'x = b\"a\" * (200 << 20); print(len(x))'",
    );
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    // The kernel's OOM killer did it, inside this cgroup.
    let oom = fs::read(&mem, "memory.oom_control").unwrap();
    assert!(
        oom.lines()
            .any(|l| l.starts_with("oom_kill ") && l != "oom_kill 0"),
        "{oom}"
    );
    // Within the limit, the same program runs.
    let mut child = spawn_in(&cg, "exec python3 -c 'x = b\"a\" * (16 << 20)'");
    assert!(child.wait().unwrap().success());
}

#[test]
fn freeze_stops_cpu_and_thaw_resumes_it() {
    if !root() {
        return;
    }
    let tree = CgroupTree::create().unwrap();
    let node = tree.node("node0", 512, 2.0).unwrap();
    let cg = node.container("c1", 128, 512).unwrap();
    let mut child = spawn_in(&cg, "while :; do :; done");
    std::thread::sleep(Duration::from_millis(50));
    cg.freeze().unwrap();
    let a = cg.usage().unwrap().cpu_ns.unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let b = cg.usage().unwrap().cpu_ns.unwrap();
    assert_eq!(a, b, "CPU advanced while frozen");
    cg.thaw().unwrap();
    // Resumed: the loop gets CPU again, as soon as a busy machine gives it some.
    let until = std::time::Instant::now() + Duration::from_secs(60);
    let mut c = b;
    while c <= b + 20_000_000 {
        assert!(
            std::time::Instant::now() < until,
            "CPU did not resume: {b} → {c}"
        );
        std::thread::sleep(Duration::from_millis(20));
        c = cg.usage().unwrap().cpu_ns.unwrap();
    }
    assert!(cg.usage().unwrap().memory_bytes > 0);
    let dirs: Vec<PathBuf> = cg.paths().into_values().collect();
    cg.remove().unwrap();
    assert!(child.wait().is_ok());
    for d in dirs {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

#[test]
fn a_frozen_container_is_removed_from_every_hierarchy() {
    // Removing a paused container (keep-alive pause, then platform shutdown) must thaw it
    // before waiting for it to leave its other hierarchies: frozen tasks cannot die.
    if !root() {
        return;
    }
    let tree = CgroupTree::create().unwrap();
    let node = tree.node("node0", 512, 1.0).unwrap();
    let cg = node.container("c1", 64, 512).unwrap();
    let mut child = spawn_in(&cg, "exec sleep 60");
    cg.freeze().unwrap();
    let dirs: Vec<PathBuf> = cg.paths().into_values().collect();
    cg.remove()
        .expect("a frozen container's cgroups are removed");
    assert!(child.wait().is_ok());
    for d in dirs {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

#[test]
fn a_removal_that_outlasts_its_patience_is_finished_by_the_janitor() {
    // A killed process stays in its cgroup until it has freed its memory; rmdir meanwhile
    // fails with EBUSY. Freeing 2 GiB takes far longer than the microseconds between the
    // kill and the first rmdir, so a removal that gives up (as a 5 s patience did at load
    // 70 in the soak benchmark) would leave the directory behind.
    if !root() {
        return;
    }
    let tree = CgroupTree::create().unwrap();
    let node = tree.node("node0", 4096, 1.0).unwrap();
    let cg = node.container("c1", 4096, 512).unwrap();
    let mut child = spawn_in(
        &cg,
        "exec python3 -c 'import time; x = b\"a\" * (2 << 30); print(len(x), flush=True); time.sleep(60)'",
    );
    let charged = |cg: &ContainerCgroup| cg.usage().map(|u| u.memory_bytes).unwrap_or(0);
    let until = std::time::Instant::now() + Duration::from_secs(60);
    while charged(&cg) < 2 << 30 {
        assert!(
            std::time::Instant::now() < until,
            "the child never filled 2 GiB"
        );
        assert!(child.try_wait().unwrap().is_none(), "the child died");
        std::thread::sleep(Duration::from_millis(20));
    }
    let dirs: Vec<PathBuf> = cg.paths().into_values().collect();
    match fs::remove_trees(&dirs, Duration::ZERO) {
        Err(CgroupError::Io { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(libc::EBUSY), "{source}")
        }
        other => panic!("removed at the first try, before the process left: {other:?}"),
    }
    assert!(dirs.iter().any(|d| d.exists()));
    // Still busy when the patience ends (none here): the janitor takes over and nothing
    // stays behind.
    remove_or_defer(dirs.clone(), Duration::ZERO).expect("handed to the janitor");
    let until = std::time::Instant::now() + Duration::from_secs(120);
    while dirs.iter().any(|d| d.exists()) {
        assert!(
            std::time::Instant::now() < until,
            "still there after 120 s ({} pending in the janitor)",
            janitor::pending()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(cg);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
}

#[test]
fn signal_fallback_pauses_a_process_group() {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("while :; do :; done")
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    assert_eq!(pause(None, pid).unwrap(), PauseMethod::Signal);
    let state = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap()
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(state(), "T");
    assert_eq!(resume(None, pid).unwrap(), PauseMethod::Signal);
    std::thread::sleep(Duration::from_millis(20));
    assert_ne!(state(), "T");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn tree_drop_removes_everything_and_instances_do_not_collide() {
    if !root() {
        return;
    }
    let a = CgroupTree::create().unwrap();
    let b = CgroupTree::create().unwrap();
    assert_ne!(a.instance(), b.instance());
    let na = a.node("node0", 256, 1.0).unwrap();
    let nb = b.node("node0", 256, 1.0).unwrap();
    let ca = na.container("c1", 128, 512).unwrap();
    let cb = nb.container("c1", 128, 512).unwrap();
    assert_ne!(ca.paths()["memory"], cb.paths()["memory"]);
    let mut child = spawn_in(&ca, "sleep 30");
    let roots: Vec<PathBuf> = a.paths().into_values().collect();
    std::mem::forget(ca); // as if the container's own removal never ran
    drop(na);
    drop(a);
    for r in &roots {
        assert!(!r.exists(), "{} left behind", r.display());
    }
    child.wait().unwrap();
    assert!(cb.paths()["memory"].exists());
}

#[test]
fn stale_instances_of_dead_platforms_are_removed() {
    if !root() {
        return;
    }
    let tree = CgroupTree::create().unwrap();
    // A dead pid: a child that has exited and been reaped.
    let mut dead = Command::new("true").spawn().unwrap();
    let pid = dead.id();
    dead.wait().unwrap();
    let gale = tree.paths()["memory"].parent().unwrap().to_path_buf();
    let stale = gale.join(format!("p{pid}-0"));
    std::fs::create_dir_all(stale.join("node0").join("c9")).unwrap();
    // A live-looking one (our own pid) must be kept.
    let _second = CgroupTree::create().unwrap();
    assert!(!stale.exists(), "stale instance kept");
    assert!(tree.paths()["memory"].exists());
}

#[test]
fn unavailable_without_mounts() {
    let err = CgroupTree::create_with(&Mounts::default(), "").unwrap_err();
    assert!(
        matches!(&err, CgroupError::Unavailable(m) if m.contains("no cgroup")),
        "{err}"
    );
    let only_cpu = Mounts::from_mountinfo(
        "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n",
    );
    let err = CgroupTree::create_with(&only_cpu, "").unwrap_err();
    assert!(err.to_string().contains("memory"), "{err}");
}

#[test]
fn own_cgroup_paths_are_respected() {
    let own = "4:memory:/sandbox/x\n1:cpu:/\n0::/user.slice\n";
    assert_eq!(
        own_v1_path(own, &["memory".to_string()]).as_deref(),
        Some("/sandbox/x")
    );
    assert_eq!(own_v1_path(own, &["cpu".to_string()]).as_deref(), Some("/"));
    assert_eq!(
        join_own(Path::new("/sys/fs/cgroup/memory"), "/sandbox/x"),
        PathBuf::from("/sys/fs/cgroup/memory/sandbox/x")
    );
    assert_eq!(shares_to_weight(1024), 39);
    assert_eq!(shares_to_weight(2), 1);
}

#[test]
fn v2_tree_freezes_on_a_controllerless_unified_mount() {
    if !root() {
        return;
    }
    let Some(unified) = Mounts::detect().unwrap().unified else {
        return;
    };
    // The unified hierarchy alone, as on a pure v2 host (here it has no controllers).
    let mounts = Mounts {
        v1: Vec::new(),
        unified: Some(unified),
    };
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let tree = CgroupTree::create_with(&mounts, &own).unwrap();
    let node = tree.node("node0", 256, 1.0).unwrap();
    let cg = node.container("c1", 128, 512).unwrap();
    assert!(cg.paths().contains_key("unified"));
    let mut child = spawn_in(&cg, "while :; do :; done");
    cg.freeze().unwrap();
    let a = cg.usage().unwrap().cpu_ns.unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(a, cg.usage().unwrap().cpu_ns.unwrap());
    cg.thaw().unwrap();
    drop(cg);
    child.wait().unwrap();
}

#[test]
fn a_node_name_never_leaves_the_tree() {
    if !root() {
        return;
    }
    let tree = CgroupTree::create().expect("cgroups usable as root");
    let base = tree.paths()["memory"].clone();
    let escape = format!("gale-escape-test-{}", std::process::id());
    for name in [
        format!("../../../{escape}"),
        "..".into(),
        "a/b".into(),
        String::new(),
    ] {
        let e = tree.node(&name, 512, 1.0).expect_err(&name);
        assert!(e.to_string().contains("one plain path component"), "{e}");
    }
    // Nothing was created next to or above the instance directory.
    for up in base.ancestors().take(4) {
        assert!(!up.join(&escape).exists(), "{}", up.display());
    }
    assert!(!base.join("a").exists());
}
