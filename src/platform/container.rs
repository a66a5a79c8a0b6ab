//! One container as a task: it owns the action process (and its cgroup, when the platform
//! has them) and executes, in order, the commands the model gives for it (start, init, run,
//! pause, resume, remove), reporting each completion back to the scheduler and announcing
//! the lifecycle on the event bus.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use super::action::Action;
use super::cgroups::{self, ContainerCgroup, NodeCgroup};
use super::events::{Announced, ContainerEvent, EventKind};
use super::invoke::{self, ColdStart, Placement};
use super::multiplex::{Channel, Multiplexed};
use super::process::{Process, SpawnError, SpawnOptions};
use super::runtime;
use super::scheduler::Pending;
use super::Shared;
use crate::model::{ActivationRef, ContainerId, Event};

/// How long a stem cell (no action yet, so no time limit) may take to start.
const STEM_CELL_START_LIMIT: Duration = Duration::from_secs(60);
/// Log bytes kept from an init step (OpenWhisk's default log limit).
const INIT_LOG_LIMIT: usize = 10 * 1024 * 1024;

/// What the container is started as.
pub struct Spec {
    /// Model id.
    pub id: ContainerId,
    /// Node name.
    pub node: Arc<str>,
    /// The node's cgroup, when the platform runs containers in cgroups.
    pub node_cgroup: Option<Arc<NodeCgroup>>,
    /// Runtime kind.
    pub kind: Arc<str>,
    /// Memory limit, MB.
    pub memory_mb: u32,
    /// The action it is started for (`None`: a prewarmed stem cell).
    pub action: Option<Arc<Action>>,
}

/// A command for the container, in model order.
pub enum Job {
    /// Take on this action.
    Init(Arc<Action>),
    /// Run an activation.
    Run(Box<RunJob>),
    /// Freeze.
    Pause,
    /// Thaw.
    Resume,
    /// Stop and go away.
    Remove,
}

/// A `Run` command with what it needs.
pub struct RunJob {
    /// The activation waiting for it.
    pub pending: Pending,
    /// Its model name.
    pub activation: ActivationRef,
    /// End of its time limit.
    pub deadline: Instant,
    /// It waited for this container's start or init.
    pub cold: bool,
}

/// A started container: the process, its cgroup, and its `removed` announcement (published
/// when this is dropped, whatever the exit path).
struct Live {
    process: Process,
    /// Set once the container is bound to an action that runs activations concurrently:
    /// the process's pipes, shared by its runs.
    shared: Option<Arc<Multiplexed>>,
    cgroup: Option<Arc<ContainerCgroup>>,
    announced: Announced,
}

/// The container's life: start the process, then execute jobs until `Remove` (or until the
/// scheduler drops the channel). The process is killed and its cgroup removed when this
/// returns.
pub async fn serve(shared: Arc<Shared>, spec: Spec, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let scheduler = &shared.scheduler;
    let limit = spec.action.as_ref().map_or(STEM_CELL_START_LIMIT, |a| {
        Duration::from_millis(a.limits.timeout)
    });
    let spawned_at = Instant::now();
    let spawned = SystemTime::now();
    let mut live = match start(&shared, &spec, spawned_at + limit).await {
        Ok(live) => live,
        Err(e) => {
            let failure = invoke::start_failure(e, limit.as_millis() as u64);
            scheduler.report(&shared, Event::Failed(spec.id, failure));
            return;
        }
    };
    scheduler.register(spec.id, live.process.pid(), live.cgroup.clone());
    scheduler.report(&shared, Event::Started(spec.id));
    let placement = Placement {
        node: spec.node.clone(),
        container: spec.id.0,
    };
    // The cold start the next `cold` run reports, and what its init logged.
    let mut cold: Option<(ColdStart, Vec<String>)> = None;
    // Runs of a concurrent container, each a task of its own.
    let mut running = tokio::task::JoinSet::new();
    loop {
        let job = tokio::select! {
            job = jobs.recv() => job,
            Some(_) = running.join_next(), if !running.is_empty() => continue,
        };
        let Some(job) = job else { break };
        match job {
            Job::Init(action) => {
                let began = Instant::now();
                // A container started for its action counts its start in the cold start; a
                // stem cell only the injection of the code.
                let (started, started_at) = if spec.action.is_some() {
                    (spawned, spawned_at)
                } else {
                    (SystemTime::now(), began)
                };
                // gale:synthetic needs no code; kinds that run code get it here (the init
                // step of the ActionLoop protocol), within the action's time limit.
                let logs = match &action.init {
                    None => Vec::new(),
                    Some(body) => {
                        let limit = Duration::from_millis(action.limits.timeout);
                        match live.process.init(body, began + limit, INIT_LOG_LIMIT).await {
                            Ok(out) => out.logs,
                            Err(e) => {
                                let failure = invoke::start_failure(
                                    SpawnError::Init(e),
                                    action.limits.timeout,
                                );
                                scheduler.report(&shared, Event::Failed(spec.id, failure));
                                break;
                            }
                        }
                    }
                };
                if action.limits.concurrency > 1 && runtime::runs_concurrently(&action.exec.kind) {
                    // From here on the runtime tags its lines (it read the concurrency in
                    // the init line).
                    live.shared = live
                        .process
                        .take_pipes()
                        .map(|p| Arc::new(Multiplexed::new(p)));
                }
                let start = ColdStart {
                    started,
                    started_at,
                    init_time: started_at.elapsed(),
                };
                cold = Some((start, logs));
                scheduler.report(&shared, Event::Initialised(spec.id));
            }
            Job::Run(job) => {
                let RunJob {
                    pending,
                    activation,
                    deadline,
                    cold: was_cold,
                } = *job;
                let (start, init_logs) = match cold.take() {
                    Some((start, logs)) if was_cold => (Some(start), logs),
                    _ => (None, Vec::new()),
                };
                let Some(mux) = live.shared.clone() else {
                    let (record, healthy) = invoke::run(
                        &shared,
                        Channel::Exclusive(&mut live.process),
                        &pending.invocation,
                        deadline,
                        start,
                        init_logs,
                        &placement,
                    )
                    .await;
                    finished(&shared, spec.id, activation, pending, record, healthy);
                    continue;
                };
                let (shared, placement, id) = (shared.clone(), placement.clone(), spec.id);
                running.spawn(async move {
                    let (record, healthy) = invoke::run(
                        &shared,
                        Channel::Shared(&mux),
                        &pending.invocation,
                        deadline,
                        start,
                        init_logs,
                        &placement,
                    )
                    .await;
                    finished(&shared, id, activation, pending, record, healthy);
                });
            }
            Job::Pause => live.freeze(true).await,
            Job::Resume => live.freeze(false).await,
            Job::Remove => break,
        }
    }
    live.process.kill();
    // Runs still in flight see the process gone and end (as exited) at once.
    while running.join_next().await.is_some() {}
    drop(live.shared.take());
    if let Some(cg) = live.cgroup.take().and_then(|cg| Arc::try_unwrap(cg).ok()) {
        // rmdir waits for the killed process to leave: off the runtime's threads, and
        // before `removed` is announced so that followers see the cgroup gone.
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(e) = cg.remove() {
                tracing::warn!("{e}");
            }
        })
        .await;
    }
}

/// Hand a run's record to its waiter and tell the model the container has a free slot.
fn finished(
    shared: &Arc<Shared>,
    container: ContainerId,
    activation: ActivationRef,
    pending: Pending,
    record: Arc<super::activation::Activation>,
    healthy: bool,
) {
    let _ = pending.reply.send(record);
    drop(pending.invocation);
    shared.scheduler.report(
        shared,
        Event::Finished {
            container,
            activation,
            healthy,
        },
    );
}

/// Create the container's cgroup (if the node has one), start the process inside it, and
/// announce it.
async fn start(shared: &Shared, spec: &Spec, deadline: Instant) -> Result<Live, SpawnError> {
    let name = format!("c{}", spec.id.0);
    let created = SystemTime::now();
    let cgroup = match &spec.node_cgroup {
        Some(node) => Some(Arc::new(
            node.container(
                &name,
                u64::from(spec.memory_mb),
                shared.config.sandbox.pids_max,
            )
            .map_err(|e| SpawnError::Exec(std::io::Error::other(e.to_string())))?,
        )),
        None => None,
    };
    let action = spec.action.as_deref();
    let image = action.and_then(|a| a.exec.image.clone());
    if &*spec.kind == runtime::blackbox::KIND && image.is_none() {
        // The model starts stem cells without an action; config refuses blackbox ones.
        return Err(SpawnError::Exec(std::io::Error::other(
            "a blackbox container needs its action's executable",
        )));
    }
    let options = SpawnOptions {
        cgroup_procs: cgroup.as_deref().map(ContainerCgroup::procs_env),
        env: match (&image, action) {
            (Some(_), Some(a)) => a.init_env(),
            _ => Vec::new(),
        },
        image,
        sandbox: Some(shared.config.sandbox),
    };
    let process =
        Process::spawn(&shared.config.runtime_exe, &spec.kind, &options, deadline).await?;
    let started = ContainerEvent {
        kind: EventKind::Started,
        time_us: crate::timefmt::epoch_us(SystemTime::now()),
        container: name,
        node: spec.node.to_string(),
        action: spec
            .action
            .as_ref()
            .map(|a| a.path.to_string())
            .unwrap_or_default(),
        pid: process.pid(),
        cgroups: cgroup.as_ref().map(|c| c.paths()).unwrap_or_default(),
        created_us: cgroup.as_ref().map(|_| crate::timefmt::epoch_us(created)),
    };
    Ok(Live {
        process,
        shared: None,
        cgroup,
        announced: Announced::new(shared.events.clone(), started),
    })
}

impl Live {
    /// Pause (`true`) or resume the container: its freezer, else signals to its process
    /// group. Freezing waits for the kernel to settle, so it runs off the runtime's threads.
    async fn freeze(&mut self, on: bool) {
        let cgroup = self.cgroup.clone();
        let pgid = self.process.pid();
        let done = tokio::task::spawn_blocking(move || {
            if on {
                cgroups::pause(cgroup.as_deref(), pgid)
            } else {
                cgroups::resume(cgroup.as_deref(), pgid)
            }
        })
        .await;
        match done {
            Ok(Ok(_)) => self.announced.publish(if on {
                EventKind::Paused
            } else {
                EventKind::Resumed
            }),
            Ok(Err(e)) => tracing::warn!("cannot {} a container: {e}", verb(on)),
            Err(e) => tracing::warn!("cannot {} a container: {e}", verb(on)),
        }
    }
}

fn verb(pause: bool) -> &'static str {
    if pause {
        "pause"
    } else {
        "resume"
    }
}
