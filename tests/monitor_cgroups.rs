//! The monitor against real cgroups on this host (root, v1 hierarchies): measurement
//! accuracy against a process's own accounting, removal (ENODEV), Docker-style discovery
//! latency, and the v2 path where a v2 hierarchy with controllers exists.

mod monitor_support;

use std::time::Duration;

use gale::monitor::{self, CgroupPaths, Monitor, MonitorConfig, State};
use monitor_support::{wait_for, Scratch, Worker};

fn start(period_ms: u64) -> monitor::MonitorHandle {
    Monitor::start(MonitorConfig {
        period: Duration::from_millis(period_ms),
        slow_period: Duration::from_millis(100),
        ..MonitorConfig::default()
    })
    .expect("monitor")
}

/// Memory usage just before `t_us` (the newest sample at or before it).
fn usage_before(m: &monitor::MonitorHandle, id: &str, t_us: u64) -> u64 {
    let c = m.container(id).expect("known");
    let h = c.history();
    let i = h.first_at_or_after(t_us + 1);
    assert!(i > 0, "no sample before {t_us}");
    h.fast[i - 1].mem_bytes
}

const TICK_MS: f64 = 4.0; // HZ=250
const BATCH: u64 = 256 * 1024; // memcg per-CPU charge batch
                               // 64 MiB of anonymous memory needs 128 KiB of page tables, which v1 charges too (kmem).
const PAGE_TABLES_64M: u64 = 128 * 1024;

#[test]
fn measures_known_cpu_and_memory_within_a_tick_and_a_charge_batch() {
    let _ = require_v1!();
    let mut s = Scratch::new("accuracy");
    s.mkdir("c");
    let mut w = Worker::start(&s, "c");
    let period = 5;
    let m = start(period);
    m.watch("acc", s.paths("c")).unwrap();
    std::thread::sleep(Duration::from_millis(30));
    for (alloc, burn) in [(64u32, 200u32), (0, 60)] {
        let r = w.run(alloc, burn, false);
        let win = m
            .window_wait("acc", r.start_us, r.end_us, Duration::from_millis(200))
            .unwrap();
        let truth_ms = r.cpu_ns as f64 / 1e6;
        let cpu = win.cpu_ms.unwrap();
        eprintln!(
            "alloc {alloc} MiB burn {burn} ms: {win:?}; worker: cpu {truth_ms:.3} ms, rss +{}",
            r.rss_delta
        );
        assert!(
            (cpu - truth_ms).abs() <= TICK_MS,
            "cpu {cpu:.3} ms vs worker's own {truth_ms:.3} ms"
        );
        // Ticks may be missed on a loaded 2-core machine (the flag says so); most are taken.
        assert!(win.samples as u64 >= (r.end_us - r.start_us) / 1000 / period / 2);
        let base = usage_before(&m, "acc", r.start_us);
        let grown = win.mem_peak_bytes.unwrap().saturating_sub(base);
        let extra = if alloc > 0 { PAGE_TABLES_64M } else { 0 };
        assert!(
            grown.abs_diff(r.rss_delta) <= BATCH + extra,
            "peak − baseline {grown} vs worker rss +{}",
            r.rss_delta
        );
        assert!(win.mem_peak_exact, "v1 watermark owned by the monitor");
    }
    m.shutdown();
}

#[test]
fn the_watermark_catches_a_spike_shorter_than_a_period() {
    let _ = require_v1!();
    let mut s = Scratch::new("spike");
    s.mkdir("c");
    let mut w = Worker::start(&s, "c");
    let m = start(250);
    m.watch("spike", s.paths("c")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // Allocate 48 MiB and free it again, all well within one 250 ms period.
    let r = w.run(48, 5, true);
    let win = m
        .window_wait("spike", r.start_us, r.end_us, Duration::from_secs(1))
        .unwrap();
    let base = usage_before(&m, "spike", r.start_us);
    let grown = win.mem_peak_bytes.unwrap().saturating_sub(base);
    eprintln!("{win:?} base {base} rss +{}", r.rss_delta);
    assert!(win.mem_peak_exact);
    assert!(
        grown + BATCH >= r.rss_delta,
        "the peak missed the spike: +{grown} vs +{}",
        r.rss_delta
    );
    m.shutdown();
}

#[test]
fn a_removed_cgroup_is_noticed_and_its_final_values_kept() {
    let _ = require_v1!();
    let mut s = Scratch::new("removed");
    s.mkdir("c");
    let mut w = Worker::start(&s, "c");
    let m = start(2);
    m.watch("gone", s.paths("c")).unwrap();
    let r = w.run(16, 40, false);
    let before = m
        .window_wait("gone", r.start_us, r.end_us, Duration::from_millis(100))
        .unwrap();
    drop(w);
    let last_cpu = m.latest("gone").unwrap().0.unwrap().cpu_ns;
    s.remove("c");
    let state = wait_for(Duration::from_secs(2), || {
        let st = m.info("gone").unwrap().state;
        (st == State::Gone).then_some(st)
    });
    assert_eq!(state, Some(State::Gone), "ENODEV not noticed");
    let (fast, _) = m.latest("gone").unwrap();
    assert!(fast.unwrap().cpu_ns >= last_cpu, "final values kept");
    let after = m.window("gone", r.start_us, r.end_us).unwrap();
    let truth = r.cpu_ns as f64 / 1e6;
    for w in [before, after] {
        assert!(
            (w.cpu_ms.unwrap() - truth).abs() <= TICK_MS,
            "{w:?} vs {truth}"
        );
    }
    assert_eq!(m.stats().sampled, 0);
    m.shutdown();
}

#[test]
fn docker_style_directories_are_sampled_within_10_ms_of_creation() {
    let _ = require_v1!();
    let mut s = Scratch::new("docker");
    s.mkdir("docker");
    s.mkdir("system.slice");
    let m = start(10);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let root = s.rel.display().to_string();
    let disc = monitor::discover::DockerDiscovery {
        roots: vec![format!("{root}/docker"), format!("{root}/system.slice")],
        rescan: Duration::from_secs(5),
    };
    let mounts = gale::cgroup::Mounts::detect().unwrap();
    let thread = monitor::discover::spawn_docker(m.clone(), &mounts, disc, stop.clone()).unwrap();
    let id1 = format!("{:064x}", 0xabcdefu64 + u64::from(std::process::id()));
    let id2 = format!("{:064x}", 0x123456u64 + u64::from(std::process::id()));
    for (id, sub) in [
        (&id1, format!("docker/{id1}")),
        (&id2, format!("system.slice/docker-{id2}.scope")),
    ] {
        // Docker (runc) creates the memory directory first, then the cpuacct one. A cgroup
        // mkdir can take milliseconds (it waits for the global cgroup mutex, which parallel
        // tests' rmdirs hold); the directory appears at its end.
        let called = monitor::now_us();
        s.mkdir_in(0, &sub);
        let created = monitor::now_us();
        s.mkdir_in(1, &sub);
        let info = wait_for(Duration::from_secs(2), || {
            m.info(id).filter(|i| i.samples > 0 && i.cpu && i.mem)
        })
        .unwrap_or_else(|| panic!("{sub} not discovered: {:?}", m.info(id)));
        let first = m.container(id).unwrap().history().fast[0].t_us;
        eprintln!(
            "{sub}: mkdir took {} µs; first sample {} µs after it returned",
            created - called,
            first as i64 - created as i64
        );
        assert!(first >= called && first <= created + 10_000, "{info:?}");
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    thread.join().unwrap();
    m.shutdown();
}

#[test]
fn v2_hierarchy_with_controllers_is_sampled_when_available() {
    let mounts = gale::cgroup::Mounts::detect().unwrap();
    let Some(unified) = mounts.unified.clone() else {
        eprintln!("skipped: no cgroup2 mount");
        return;
    };
    let ctrl = mounts.unified_controllers();
    if !ctrl.iter().any(|c| c == "memory") || !rustix::process::geteuid().is_root() {
        eprintln!(
            "skipped: the cgroup2 mount at {} has controllers {ctrl:?} (needs memory, and root); the v2 readers are tested on captured files in src/monitor/files.rs",
            unified.display()
        );
        return;
    }
    let dir = unified.join(monitor_support::unique("v2"));
    std::fs::create_dir(&dir).unwrap();
    struct Rm(std::path::PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            monitor_support::remove_cgroup(&self.0);
        }
    }
    let _rm = Rm(dir.clone());
    let m = start(5);
    m.watch(
        "v2",
        CgroupPaths {
            unified: Some(dir),
            ..CgroupPaths::default()
        },
    )
    .unwrap();
    let info = m.info("v2").unwrap();
    assert!(info.cpu && info.mem, "{info:?}");
    m.shutdown();
}

#[test]
fn a_reused_id_in_other_cgroups_is_a_new_container() {
    let _ = require_v1!();
    let mut s = Scratch::new("reuse");
    s.mkdir("old");
    s.mkdir("new");
    let m = start(5);
    m.watch("c1", s.paths("old")).unwrap();
    // Directories appearing one by one complete the same container.
    m.watch("c1", s.paths("old")).unwrap();
    let before = m.info("c1").unwrap();
    std::thread::sleep(Duration::from_millis(30));
    assert!(m.info("c1").unwrap().samples > before.samples);
    // Another platform instance hands out `c1` again, in other directories: a new
    // container with its own (fresh) history, sampled from its own cgroup.
    let created = monitor::now_us();
    m.watch_created("c1", s.paths("new"), created).unwrap();
    let info = m.info("c1").unwrap();
    assert_eq!(info.cgroups, s.paths("new"));
    assert_eq!(
        (info.state, info.created_us),
        (State::Running, Some(created))
    );
    assert!(
        info.oldest_us.unwrap() >= created,
        "no sample of the old c1 kept"
    );
    // A removed container's id announced again is new as well.
    m.removed("c1");
    let removed_at = monitor::now_us();
    m.watch("c1", s.paths("new")).unwrap();
    let again = m.info("c1").unwrap();
    assert_eq!((again.state, again.created_us), (State::Running, None));
    assert!(again.oldest_us.unwrap() >= removed_at);
    m.shutdown();
}
