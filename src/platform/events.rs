//! Container lifecycle events: an in-process bus the platform publishes to, and a UNIX
//! socket that streams them to local followers (`gale monitor`).
//!
//! Wire format (docs/platform.md, "Lifecycle events"): one JSON object per line,
//! `{"event":"started","time_us":…,"container":"c12","node":"node0","action":"guest/fib",
//! "pid":1234,"cgroups":{"memory":"/sys/fs/cgroup/memory/…/c12",…}}`, `event` one of
//! `started`, `paused`, `resumed`, `removed`. A new connection first receives a `started`
//! event for every live container (the snapshot), then live events.
//!
//! Publishing never waits: each subscriber has a bounded queue, and one that falls behind by
//! a whole queue is disconnected (one log line) rather than slowing the platform.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

/// Events a subscriber may lag behind before it is dropped.
pub const QUEUE: usize = 1024;
/// A subscriber that does not take a line for this long is disconnected.
const WRITE_PATIENCE: Duration = Duration::from_secs(10);

/// What happened to a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// The process acked inside its cgroup.
    Started,
    /// Frozen (or stopped).
    Paused,
    /// Running again.
    Resumed,
    /// Killed and its cgroup removed.
    Removed,
}

/// One lifecycle event, serialised as one line of the socket protocol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerEvent {
    /// What happened.
    #[serde(rename = "event")]
    pub kind: EventKind,
    /// When, µs since the Unix epoch.
    pub time_us: u64,
    /// Container id (`c12`), as in activation records.
    pub container: String,
    /// Node name.
    pub node: String,
    /// `ns/name` of the action it runs; empty for a stem cell.
    pub action: String,
    /// Process id (also the process group).
    pub pid: i32,
    /// Controller → cgroup directory (`unified` on v2); empty without cgroups.
    pub cgroups: BTreeMap<String, PathBuf>,
    /// When the container's cgroups were created (empty: every counter zero), µs since the
    /// Unix epoch; absent without cgroups. A monitor uses it to cover windows that start
    /// before its first sample (a cold start's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_us: Option<u64>,
}

impl ContainerEvent {
    /// The same container, another kind, now.
    pub fn again(&self, kind: EventKind) -> ContainerEvent {
        ContainerEvent {
            kind,
            time_us: crate::timefmt::epoch_us(SystemTime::now()),
            ..self.clone()
        }
    }

    fn line(&self) -> Arc<str> {
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push('\n');
        s.into()
    }
}

struct Subscriber {
    id: u64,
    tx: mpsc::Sender<Arc<str>>,
}

#[derive(Default)]
struct BusState {
    /// Started events of live containers, by container id: the snapshot.
    live: BTreeMap<String, ContainerEvent>,
    subscribers: Vec<Subscriber>,
    next_id: u64,
}

/// The in-process event bus.
#[derive(Default)]
pub struct EventBus {
    state: Mutex<BusState>,
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("EventBus")
            .field("live", &st.live.len())
            .field("subscribers", &st.subscribers.len())
            .finish()
    }
}

/// A subscription: the live containers at subscribe time, then every later event.
pub struct Subscription {
    /// `started` lines of the containers live when subscribing.
    pub snapshot: Vec<Arc<str>>,
    /// Later events, one line each; ends when the bus drops this subscriber.
    pub events: mpsc::Receiver<Arc<str>>,
}

impl EventBus {
    /// An empty bus.
    pub fn new() -> Arc<EventBus> {
        Arc::new(EventBus::default())
    }

    fn lock(&self) -> MutexGuard<'_, BusState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publish `event` to every subscriber without waiting; keep the live set.
    pub fn publish(&self, event: ContainerEvent) {
        let mut st = self.lock();
        let line = (!st.subscribers.is_empty()).then(|| event.line());
        match event.kind {
            EventKind::Removed => {
                st.live.remove(&event.container);
            }
            EventKind::Started => {
                st.live.insert(event.container.clone(), event);
            }
            EventKind::Paused | EventKind::Resumed => {}
        }
        if let Some(line) = line {
            st.subscribers
                .retain(|s| match s.tx.try_send(line.clone()) {
                    Ok(()) => true,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        tracing::warn!(
                        "lifecycle events: subscriber {} fell {QUEUE} events behind; disconnected",
                        s.id
                    );
                        false
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                });
        }
    }

    /// Subscribe: the snapshot and the live stream, with nothing lost or repeated between.
    pub fn subscribe(&self) -> Subscription {
        let (tx, rx) = mpsc::channel(QUEUE);
        let mut st = self.lock();
        let snapshot = st.live.values().map(ContainerEvent::line).collect();
        st.next_id += 1;
        let id = st.next_id;
        st.subscribers.push(Subscriber { id, tx });
        Subscription {
            snapshot,
            events: rx,
        }
    }

    /// Containers currently live (their `started` events).
    pub fn live(&self) -> Vec<ContainerEvent> {
        self.lock().live.values().cloned().collect()
    }
}

/// Publishes `started` when made and `removed` when dropped: a container holds one for its
/// whole life, so every exit path announces the removal.
pub struct Announced {
    bus: Arc<EventBus>,
    started: ContainerEvent,
}

impl Announced {
    /// Publish `started` and keep the event for the rest of the container's life.
    pub fn new(bus: Arc<EventBus>, started: ContainerEvent) -> Announced {
        bus.publish(started.clone());
        Announced { bus, started }
    }

    /// Publish another event of this container (`paused`, `resumed`).
    pub fn publish(&self, kind: EventKind) {
        self.bus.publish(self.started.again(kind));
    }
}

impl Drop for Announced {
    fn drop(&mut self) {
        self.bus.publish(self.started.again(EventKind::Removed));
    }
}

/// Errors starting the event socket.
pub type ServeError = crate::unix_socket::BindError;

/// The listening event socket; dropping it stops serving and removes the socket file.
pub struct EventServer {
    path: PathBuf,
    inode: (u64, u64),
    task: tokio::task::JoinHandle<()>,
}

impl EventServer {
    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for EventServer {
    fn drop(&mut self) {
        self.task.abort();
        // Only our own socket: another server may have replaced a path we thought stale.
        if let Ok(meta) = std::fs::symlink_metadata(&self.path) {
            if (meta.dev(), meta.ino()) == self.inode {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// Serve `bus` on a UNIX stream socket at `path` (mode 0660), on the current tokio runtime.
pub fn serve(bus: Arc<EventBus>, path: &Path) -> Result<EventServer, ServeError> {
    let io = |source| ServeError::Io {
        path: path.to_path_buf(),
        source,
    };
    let listener = crate::unix_socket::bind_private(path)?;
    let listener = listener
        .set_nonblocking(true)
        .and_then(|()| tokio::net::UnixListener::from_std(listener))
        .map_err(io)?;
    let meta = std::fs::symlink_metadata(path).map_err(io)?;
    let task = tokio::spawn(accept_loop(listener, bus));
    Ok(EventServer {
        path: path.to_path_buf(),
        inode: (meta.dev(), meta.ino()),
        task,
    })
}

async fn accept_loop(listener: tokio::net::UnixListener, bus: Arc<EventBus>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(follow(stream, bus.subscribe()));
            }
            Err(e) => {
                tracing::warn!("lifecycle events: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Stream one subscription to one connection until either side goes.
async fn follow(mut stream: tokio::net::UnixStream, mut sub: Subscription) {
    for line in sub.snapshot.drain(..) {
        if !write_line(&mut stream, &line).await {
            return;
        }
    }
    while let Some(line) = sub.events.recv().await {
        if !write_line(&mut stream, &line).await {
            return;
        }
    }
}

async fn write_line(stream: &mut tokio::net::UnixStream, line: &str) -> bool {
    matches!(
        tokio::time::timeout(WRITE_PATIENCE, stream.write_all(line.as_bytes())).await,
        Ok(Ok(()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind, c: &str) -> ContainerEvent {
        ContainerEvent {
            kind,
            time_us: 1_764_000_000_000_000,
            container: c.into(),
            node: "node0".into(),
            action: "guest/fib".into(),
            pid: 1234,
            cgroups: BTreeMap::from([(
                "memory".to_string(),
                PathBuf::from("/sys/fs/cgroup/memory/gale/p1-0/node0/c12"),
            )]),
            created_us: None,
        }
    }

    #[test]
    fn wire_shape() {
        assert_eq!(
            &*event(EventKind::Started, "c12").line(),
            "{\"event\":\"started\",\"time_us\":1764000000000000,\"container\":\"c12\",\"node\":\"node0\",\"action\":\"guest/fib\",\"pid\":1234,\"cgroups\":{\"memory\":\"/sys/fs/cgroup/memory/gale/p1-0/node0/c12\"}}\n"
        );
    }

    #[test]
    fn creation_instant_is_sent_when_known() {
        let mut e = event(EventKind::Started, "c12");
        e.created_us = Some(1_763_999_999_999_000);
        assert!(e.line().ends_with(",\"created_us\":1763999999999000}\n"));
    }

    #[test]
    fn snapshot_then_live_and_slow_subscribers_are_dropped() {
        let bus = EventBus::new();
        let a = Announced::new(bus.clone(), event(EventKind::Started, "c1"));
        let mut sub = bus.subscribe();
        assert_eq!(sub.snapshot.len(), 1);
        a.publish(EventKind::Paused);
        drop(a);
        assert!(sub.events.try_recv().unwrap().contains("\"paused\""));
        assert!(sub.events.try_recv().unwrap().contains("\"removed\""));
        assert!(bus.live().is_empty());
        // Nobody reads this one: publishing goes on, and it is dropped after QUEUE events.
        let stalled = bus.subscribe();
        for i in 0..QUEUE + 10 {
            bus.publish(event(EventKind::Started, &format!("c{i}")));
        }
        assert_eq!(bus.lock().subscribers.len(), 0);
        drop(stalled);
    }
}
