//! The monitor's events client against the real embedded platform's lifecycle socket: the
//! snapshot of containers started before it connected, live events, measurements in each
//! container's own cgroup, and a platform restarted on the same socket whose container ids
//! start over (`c1` again, in another cgroup).

mod platform_support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gale::monitor::{events, Monitor, MonitorConfig, MonitorHandle, State};
use platform_support::{annotation, config, start, Client};
use serde_json::{json, Value};

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let give_up = Instant::now() + limit;
    while !f() {
        if Instant::now() > give_up {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    true
}

/// Container, start and end (epoch µs) of an activation record.
fn window_of(record: &Value) -> (String, u64, u64) {
    let get = |k| annotation(record, k).unwrap_or_else(|| panic!("no {k} annotation in {record}"));
    let start = get("gale.startUs").as_u64().unwrap();
    let container = get("gale.container").as_str().unwrap().to_string();
    (
        container,
        start,
        start + get("gale.durationUs").as_u64().unwrap(),
    )
}

/// Invoke `burn` with `params` and measure its activation in `m`; returns the container,
/// cpu ms and memory peak.
async fn measured(
    c: &mut Client,
    m: &MonitorHandle,
    params: Value,
) -> (String, f64, u64, gale::monitor::Window) {
    let r = c.invoke("burn", params).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let (container, start, end) = window_of(&r.json());
    let w = tokio::task::block_in_place(|| {
        m.window_wait(&container, start, end, Duration::from_secs(1))
    })
    .unwrap_or_else(|e| panic!("{container}: {e}"));
    eprintln!(
        "{container} [{start}, {end}]: {w:?}\n  samples {:?}",
        m.samples_around(&container, start, end)
            .iter()
            .map(|s| (s.t_us as i64 - start as i64, s.cpu_ns))
            .collect::<Vec<_>>()
    );
    (container, w.cpu_ms.unwrap(), w.mem_peak_bytes.unwrap(), w)
}

fn cgroup_of(m: &MonitorHandle, id: &str) -> String {
    m.info(id)
        .and_then(|i| i.cgroups.memory)
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_snapshot_live_events_and_a_restarted_platform() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("events.sock");
    let mut cfg = config();
    cfg.events_socket = Some(sock.clone());
    let a = start(cfg.clone()).await;
    let Some(instance_a) = a.cgroups().map(|t| t.instance().to_string()) else {
        eprintln!(
            "skipped: the platform runs without cgroups here (needs root and a memory controller)"
        );
        a.shutdown().await;
        return;
    };
    let mut c = Client::connect(&a).await;
    c.put_action("burn", json!({})).await;
    let first = c.invoke("burn", json!({"sleep_ms": 1})).await.json();
    let (early, ..) = window_of(&first);

    let m = Monitor::start(MonitorConfig {
        period: Duration::from_millis(5),
        ..MonitorConfig::default()
    })
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let follower = events::spawn(m.clone(), &sock, stop.clone()).unwrap();

    // The snapshot brings the container started before the monitor connected, in its own
    // cgroup under this platform instance.
    assert!(
        wait_until(Duration::from_secs(5), || m
            .info(&early)
            .is_some_and(|i| i.state == State::Running)),
        "{early} from the snapshot: {:?}",
        m.containers()
    );
    let path = cgroup_of(&m, &early);
    assert!(
        path.contains(&format!("/gale/{instance_a}/")) && path.ends_with(&format!("/{early}")),
        "{path}"
    );

    // A warm activation, measured in that cgroup: 30 ms of CPU and 16 MiB touched.
    let (id, cpu, peak, w) = measured(&mut c, &m, json!({"cpu_ms": 30, "mem_mb": 16})).await;
    assert_eq!(id, early, "warm: same container");
    // Faulting 16 MiB in costs system time too, a little on an idle VM, much more when its
    // host is busy: bounded by the window's wall time (one single-threaded process).
    let wall = (w.end_us - w.start_us) as f64 / 1000.0;
    assert!(cpu >= 26.0 && cpu <= wall + 5.0, "{w:?}");
    assert!(
        ((16 << 20) - (256 << 10)..(24 << 20)).contains(&peak),
        "{w:?}"
    );
    assert!(w.mem_peak_exact, "{w:?}");

    // Live events: updating the action retires its container (removed; or gone, when the
    // sampler notices its cgroup's removal first), the next call starts another (started),
    // which is measured from its creation on (a cold window).
    c.put_action("burn", json!({"limits": {"memory": 128}}))
        .await;
    assert!(
        wait_until(Duration::from_secs(5), || m
            .info(&early)
            .is_some_and(|i| matches!(i.state, State::Removed | State::Gone))),
        "{:?}",
        m.info(&early)
    );
    let (cold, cpu, _, w) = measured(&mut c, &m, json!({"cpu_ms": 20})).await;
    assert_ne!(cold, early);
    assert!((16.0..50.0).contains(&cpu), "{w:?}");
    // The event carried the cgroup's creation instant: the cold window, which starts at
    // the spawn, is covered from there (attribution's unit tests check the arithmetic).
    let created = m.info(&cold).and_then(|i| i.created_us);
    assert!(
        created.is_some_and(|t| w.start_us <= t && t <= w.end_us),
        "created {created:?}, {w:?}"
    );
    assert!(w.mem_peak_exact, "{w:?}");

    // The platform restarts on the same socket: its container ids start over, in cgroups of
    // another instance. The monitor reconnects, and the reused id is another container.
    drop(c);
    a.shutdown().await;
    let b = start(cfg).await;
    let instance_b = b.cgroups().map(|t| t.instance().to_string()).unwrap();
    assert_ne!(instance_a, instance_b);
    let mut c = Client::connect(&b).await;
    c.put_action("burn", json!({})).await;
    let (again, ..) = window_of(&c.invoke("burn", json!({"sleep_ms": 1})).await.json());
    assert_eq!(
        again, early,
        "container ids start over in a new platform instance"
    );
    assert!(
        wait_until(Duration::from_secs(5), || cgroup_of(&m, &again)
            .contains(&format!("/gale/{instance_b}/"))),
        "the monitor reconnected and took the new {again}: {}",
        cgroup_of(&m, &again)
    );
    assert_eq!(m.info(&again).unwrap().state, State::Running);
    let (id, cpu, _, w) = measured(&mut c, &m, json!({"cpu_ms": 25})).await;
    assert_eq!(id, again);
    assert!((21.0..55.0).contains(&cpu), "{w:?}");
    // Exactness flags depend on the machine's load (a missed tick, a process still running
    // just past an edge): shown, not asserted.
    eprintln!("flags: cpu_exact {} missed {}", w.cpu_exact, w.missed);

    stop.store(true, Ordering::SeqCst);
    follower.join().unwrap();
    drop(c);
    b.shutdown().await;
    m.shutdown();
}
