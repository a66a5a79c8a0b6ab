//! The container pool: which process runs an activation.
//!
//! The rest of the platform sees only [`ContainerPool`]'s five operations (acquire, release,
//! discard, retire, shutdown), so the scheduling policy behind them can be replaced (the
//! sans-I/O model of a later issue) without touching the API or the activation code.
//!
//! [`LocalPool`] is OpenWhisk's invoker pool in small: a warm idle container of the same
//! action revision first (most recently used first, concurrency 1); otherwise a new process
//! (a cold start) if the sum of the live containers' memory limits stays within the pool's
//! memory; otherwise the least recently used idle containers of other actions are evicted to
//! make room; otherwise the request waits in a FIFO queue.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::oneshot;

use super::cgroups::{ContainerCgroup, NodeCgroup};
use super::events::{Announced, ContainerEvent, EventBus, EventKind};
use super::process::{Process, SpawnError, SpawnOptions};
use super::runtime::InitBody;

/// Log bytes kept from an init step (OpenWhisk's default log limit).
const INIT_LOG_LIMIT: usize = 10 * 1024 * 1024;

/// What the pool needs to know about the action to run.
#[derive(Debug, Clone)]
pub struct ActionSpec {
    /// Unique per action revision: a container only ever runs one revision.
    pub rev: u64,
    /// Runtime kind (`gale:synthetic`).
    pub kind: Arc<str>,
    /// `limits.memory`, in MB: what the container counts against the pool.
    pub memory_mb: u32,
    /// `ns/name`, for lifecycle events.
    pub path: Arc<str>,
    /// The init step for kinds that run code (sent right after the ack on a cold start).
    pub init: Option<Arc<InitBody>>,
}

/// A live action process owned by whoever acquired it.
pub struct Container {
    /// Pool-wide id (`gale.container` annotation).
    pub id: u64,
    /// The action revision it runs.
    pub rev: u64,
    memory_mb: u32,
    last_used: Instant,
    /// The process.
    pub process: Process,
    /// Its cgroup, when the platform has them (removed after the process is killed).
    pub cgroup: Option<ContainerCgroup>,
    /// Publishes `removed` when the container goes.
    pub announced: Announced,
}

/// A container ready to run, and whether it was started for this request.
pub struct Acquired {
    /// The container.
    pub container: Container,
    /// Present on a cold start.
    pub cold: Option<ColdStart>,
    /// What the init step logged (OpenWhisk shows it with the first activation).
    pub init_logs: Vec<String>,
}

/// Timing of a cold start (OpenWhisk's `initTime`).
#[derive(Debug, Clone, Copy)]
pub struct ColdStart {
    /// Wall-clock instant the process was spawned.
    pub started: SystemTime,
    /// Same instant on the monotonic clock.
    pub started_at: Instant,
    /// Spawn until the runtime's ack.
    pub init_time: Duration,
}

/// Why no container could be had.
#[derive(Debug)]
pub enum AcquireError {
    /// The platform is shutting down.
    Shutdown,
    /// The action's memory limit exceeds the whole pool.
    TooBig {
        /// The action's memory limit, MB.
        need: u32,
        /// The pool's memory, MB.
        capacity: u64,
    },
    /// The process failed to start.
    Spawn {
        /// What happened.
        error: SpawnError,
        /// When the attempt began.
        cold: ColdStart,
    },
}

/// The pool's surface as the rest of the platform uses it.
pub trait ContainerPool: Send + Sync + 'static {
    /// A container for `spec`: warm if one is idle, else a new process ready by `deadline`.
    fn acquire(
        &self,
        spec: &ActionSpec,
        deadline: Instant,
    ) -> impl Future<Output = Result<Acquired, AcquireError>> + Send;
    /// Give back a healthy container after its activation.
    fn release(&self, container: Container);
    /// Give back a container that must not be reused (crashed, timed out): it is killed.
    fn discard(&self, container: Container);
    /// The action revision is gone (deleted or updated): remove its idle containers now
    /// and its busy ones when they come back.
    fn retire(&self, rev: u64);
    /// Kill every container and refuse further requests.
    fn shutdown(&self);
}

/// Settings of [`LocalPool`].
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// The executable that runs action processes.
    pub runtime_exe: PathBuf,
    /// Sum of live containers' memory limits, MB.
    pub memory_mb: u64,
    /// Idle containers are removed after this long unused.
    pub idle_timeout: Duration,
    /// The node's cgroup, containers get theirs below it; `None` runs without cgroups.
    pub cgroups: Option<Arc<NodeCgroup>>,
    /// Where container lifecycle events go.
    pub events: Arc<EventBus>,
    /// Node name, in events.
    pub node: Arc<str>,
}

/// Containers as local processes, scheduled as described in the module docs.
pub struct LocalPool {
    config: PoolConfig,
    state: Mutex<State>,
}

// Moved once per hand-off; boxing would cost an allocation on the warm path instead.
#[allow(clippy::large_enum_variant)]
enum Grant {
    Warm(Container),
    /// Memory was reserved: start a process.
    Cold,
}

struct Waiter {
    rev: u64,
    memory_mb: u32,
    tx: oneshot::Sender<Grant>,
}

#[derive(Default)]
struct State {
    /// Idle containers per revision, most recently used last.
    idle: HashMap<u64, Vec<Container>>,
    /// Live containers (idle, busy or starting) per revision.
    live: HashMap<u64, usize>,
    /// Pids of live started containers, to kill busy ones at shutdown.
    pids: HashMap<u64, i32>,
    retired: HashSet<u64>,
    used_mb: u64,
    waiters: VecDeque<Waiter>,
    next_id: u64,
    closed: bool,
}

impl LocalPool {
    /// A pool; call [`LocalPool::spawn_reaper`] to get idle containers removed.
    pub fn new(config: PoolConfig) -> Arc<LocalPool> {
        Arc::new(LocalPool {
            config,
            state: Mutex::new(State::default()),
        })
    }

    /// Remove idle containers past the idle timeout, periodically, while the pool lives.
    pub fn spawn_reaper(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let pool: Weak<LocalPool> = Arc::downgrade(self);
        let period =
            (self.config.idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(5));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(pool) = pool.upgrade() else { return };
                if !pool.reap_idle(Instant::now()) {
                    return;
                }
            }
        })
    }

    /// Remove idle containers unused for the idle timeout; false once the pool is closed.
    fn reap_idle(&self, now: Instant) -> bool {
        let mut doomed = Vec::new();
        let open = {
            let mut st = self.lock();
            let timeout = self.config.idle_timeout;
            let mut expired = Vec::new();
            for (rev, list) in st.idle.iter_mut() {
                // Oldest first in each list, so stop at the first one still fresh.
                let keep_from = list
                    .iter()
                    .position(|c| now.duration_since(c.last_used) < timeout)
                    .unwrap_or(list.len());
                if keep_from > 0 {
                    expired.push((*rev, list.drain(..keep_from).collect::<Vec<_>>()));
                }
            }
            for (_, list) in expired {
                for c in list {
                    st.forget(&c);
                    doomed.push(c);
                }
            }
            st.idle.retain(|_, l| !l.is_empty());
            if !doomed.is_empty() {
                st.serve_waiters(self.config.memory_mb, &mut doomed);
            }
            !st.closed
        };
        drop(doomed);
        open
    }

    /// Counts for tests and diagnostics: (live containers, idle containers, used MB).
    pub fn stats(&self) -> (usize, usize, u64) {
        let st = self.lock();
        (
            st.live.values().sum(),
            st.idle.values().map(Vec::len).sum(),
            st.used_mb,
        )
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves counters that are still consistent enough
        // to keep serving; refusing every later request would be worse.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn start(&self, spec: &ActionSpec, deadline: Instant) -> Result<Acquired, AcquireError> {
        let started = SystemTime::now();
        let started_at = Instant::now();
        let id = {
            let mut st = self.lock();
            st.next_id += 1;
            st.next_id
        };
        let name = format!("c{id}");
        let spawned = self.spawn(&name, spec, deadline).await;
        let cold = ColdStart {
            started,
            started_at,
            init_time: started_at.elapsed(),
        };
        let mut doomed = Vec::new();
        let result = {
            let mut st = self.lock();
            match spawned {
                Err(error) => {
                    st.unreserve(spec.rev, spec.memory_mb);
                    st.serve_waiters(self.config.memory_mb, &mut doomed);
                    Err(AcquireError::Spawn { error, cold })
                }
                Ok((process, cgroup, init_logs)) => {
                    let started = ContainerEvent {
                        kind: EventKind::Started,
                        time_us: crate::timefmt::epoch_us(SystemTime::now()),
                        container: name,
                        node: self.config.node.to_string(),
                        action: spec.path.to_string(),
                        pid: process.pid(),
                        cgroups: cgroup.as_ref().map(|c| c.paths()).unwrap_or_default(),
                    };
                    let container = Container {
                        id,
                        rev: spec.rev,
                        memory_mb: spec.memory_mb,
                        last_used: Instant::now(),
                        process,
                        cgroup,
                        announced: Announced::new(self.config.events.clone(), started),
                    };
                    if st.closed {
                        st.forget(&container);
                        doomed.push(container);
                        Err(AcquireError::Shutdown)
                    } else {
                        st.pids.insert(container.id, container.process.pid());
                        Ok(Acquired {
                            container,
                            cold: Some(cold),
                            init_logs,
                        })
                    }
                }
            }
        };
        drop(doomed);
        result
    }
}

impl LocalPool {
    /// Create the container's cgroup (if any), start the process inside it, and give it its
    /// code (for kinds that run code).
    async fn spawn(
        &self,
        name: &str,
        spec: &ActionSpec,
        deadline: Instant,
    ) -> Result<(Process, Option<ContainerCgroup>, Vec<String>), SpawnError> {
        let cgroup = match &self.config.cgroups {
            Some(node) => Some(
                node.container(name, u64::from(spec.memory_mb))
                    .map_err(|e| SpawnError::Exec(std::io::Error::other(e.to_string())))?,
            ),
            None => None,
        };
        let options = SpawnOptions {
            cgroup_procs: cgroup.as_ref().map(ContainerCgroup::procs_env),
            env: Vec::new(),
        };
        let mut process =
            Process::spawn(&self.config.runtime_exe, &spec.kind, &options, deadline).await?;
        let logs = match &spec.init {
            Some(body) => {
                process
                    .init(body, deadline, INIT_LOG_LIMIT)
                    .await
                    .map_err(SpawnError::Init)?
                    .logs
            }
            None => Vec::new(),
        };
        Ok((process, cgroup, logs))
    }
}

impl State {
    /// Reserve memory for a new container of `rev`, evicting idle containers of other
    /// revisions (least recently used first) if that makes it fit.
    fn try_reserve(
        &mut self,
        rev: u64,
        memory_mb: u32,
        capacity: u64,
        doomed: &mut Vec<Container>,
    ) -> bool {
        let need = u64::from(memory_mb);
        if self.used_mb + need > capacity {
            let idle_other: u64 = self
                .idle
                .iter()
                .filter(|(r, _)| **r != rev)
                .flat_map(|(_, l)| l.iter())
                .map(|c| u64::from(c.memory_mb))
                .sum();
            if self.used_mb - idle_other + need > capacity {
                return false;
            }
            while self.used_mb + need > capacity {
                let Some(victim_rev) = self
                    .idle
                    .iter()
                    .filter(|(r, l)| **r != rev && !l.is_empty())
                    .min_by_key(|(_, l)| l[0].last_used)
                    .map(|(r, _)| *r)
                else {
                    return false;
                };
                let list = self.idle.get_mut(&victim_rev).expect("victim list exists");
                let victim = list.remove(0);
                if list.is_empty() {
                    self.idle.remove(&victim_rev);
                }
                self.forget(&victim);
                doomed.push(victim);
            }
        }
        self.used_mb += need;
        *self.live.entry(rev).or_default() += 1;
        true
    }

    fn unreserve(&mut self, rev: u64, memory_mb: u32) {
        self.used_mb = self.used_mb.saturating_sub(u64::from(memory_mb));
        if let Some(n) = self.live.get_mut(&rev) {
            *n -= 1;
            if *n == 0 {
                self.live.remove(&rev);
                self.retired.remove(&rev);
            }
        }
    }

    /// Account for a container leaving the pool (the caller drops it, killing it).
    fn forget(&mut self, c: &Container) {
        self.pids.remove(&c.id);
        self.unreserve(c.rev, c.memory_mb);
    }

    /// Hand idle containers or freed memory to queued requests, strictly in order.
    fn serve_waiters(&mut self, capacity: u64, doomed: &mut Vec<Container>) {
        while let Some(head) = self.waiters.front() {
            if head.tx.is_closed() {
                self.waiters.pop_front();
                continue;
            }
            let (rev, memory_mb) = (head.rev, head.memory_mb);
            let warm = self.idle.get_mut(&rev).and_then(Vec::pop);
            let grant = match warm {
                Some(c) => Grant::Warm(c),
                None if self.try_reserve(rev, memory_mb, capacity, doomed) => Grant::Cold,
                None => return,
            };
            let Some(head) = self.waiters.pop_front() else {
                return;
            };
            if let Err(grant) = head.tx.send(grant) {
                // The requester gave up between the check and now: take it back.
                match grant {
                    Grant::Warm(c) => self.idle.entry(c.rev).or_default().push(c),
                    Grant::Cold => self.unreserve(rev, memory_mb),
                }
            }
        }
    }
}

impl ContainerPool for LocalPool {
    async fn acquire(
        &self,
        spec: &ActionSpec,
        deadline: Instant,
    ) -> Result<Acquired, AcquireError> {
        let capacity = self.config.memory_mb;
        if u64::from(spec.memory_mb) > capacity {
            return Err(AcquireError::TooBig {
                need: spec.memory_mb,
                capacity,
            });
        }
        #[allow(clippy::large_enum_variant)]
        enum Next {
            Warm(Container),
            Cold,
            Wait(oneshot::Receiver<Grant>),
        }
        let next = loop {
            let mut doomed = Vec::new();
            // The guard lives only in this block: it must never be held across an await.
            let decided = {
                let mut st = self.lock();
                if st.closed {
                    return Err(AcquireError::Shutdown);
                }
                if let Some(mut c) = st.idle.get_mut(&spec.rev).and_then(Vec::pop) {
                    if c.process.has_exited() {
                        // Died while idle (killed from outside): not this request's problem.
                        st.forget(&c);
                        doomed.push(c);
                        None
                    } else {
                        Some(Next::Warm(c))
                    }
                } else if st.waiters.is_empty()
                    && st.try_reserve(spec.rev, spec.memory_mb, capacity, &mut doomed)
                {
                    // Queued requests come first: a newcomer may not overtake them to a
                    // cold start.
                    Some(Next::Cold)
                } else {
                    let (tx, rx) = oneshot::channel();
                    st.waiters.push_back(Waiter {
                        rev: spec.rev,
                        memory_mb: spec.memory_mb,
                        tx,
                    });
                    Some(Next::Wait(rx))
                }
            };
            drop(doomed);
            if let Some(next) = decided {
                break next;
            }
        };
        let rx = match next {
            Next::Warm(container) => {
                return Ok(Acquired {
                    container,
                    cold: None,
                    init_logs: Vec::new(),
                })
            }
            Next::Cold => return self.start(spec, deadline).await,
            Next::Wait(rx) => rx,
        };
        match rx.await {
            Ok(Grant::Warm(container)) => Ok(Acquired {
                container,
                cold: None,
                init_logs: Vec::new(),
            }),
            Ok(Grant::Cold) => self.start(spec, deadline).await,
            Err(_) => Err(AcquireError::Shutdown),
        }
    }

    fn release(&self, mut container: Container) {
        container.last_used = Instant::now();
        let mut doomed = Vec::new();
        {
            let mut st = self.lock();
            if st.closed || st.retired.contains(&container.rev) {
                st.forget(&container);
                doomed.push(container);
            } else {
                st.idle.entry(container.rev).or_default().push(container);
            }
            if !st.waiters.is_empty() {
                st.serve_waiters(self.config.memory_mb, &mut doomed);
            }
        }
        drop(doomed);
    }

    fn discard(&self, mut container: Container) {
        container.process.kill();
        let mut doomed = vec![];
        {
            let mut st = self.lock();
            st.forget(&container);
            st.serve_waiters(self.config.memory_mb, &mut doomed);
        }
        drop(container);
        drop(doomed);
    }

    fn retire(&self, rev: u64) {
        let mut doomed = Vec::new();
        {
            let mut st = self.lock();
            if let Some(list) = st.idle.remove(&rev) {
                for c in list {
                    st.forget(&c);
                    doomed.push(c);
                }
            }
            if st.live.contains_key(&rev) {
                st.retired.insert(rev);
            }
            st.serve_waiters(self.config.memory_mb, &mut doomed);
        }
        drop(doomed);
    }

    fn shutdown(&self) {
        let (idle, waiters) = {
            let mut st = self.lock();
            st.closed = true;
            for pid in st.pids.values() {
                super::process::kill_group(*pid);
            }
            let idle: Vec<Container> = st.idle.drain().flat_map(|(_, l)| l).collect();
            for c in &idle {
                st.forget(c);
            }
            (idle, std::mem::take(&mut st.waiters))
        };
        drop(waiters);
        drop(idle);
    }
}
