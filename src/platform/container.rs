//! One container as a task: it owns the action process and executes, in order, the
//! commands the model gives for it (start, init, run, pause, resume, remove), reporting
//! each completion back to the scheduler.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use super::action::Action;
use super::invoke::{self, ColdStart, Placement};
use super::process::Process;
use super::scheduler::Pending;
use super::Shared;
use crate::model::{ActivationRef, ContainerId, Event};

/// How long a stem cell (no action yet, so no time limit) may take to start.
const STEM_CELL_START_LIMIT: Duration = Duration::from_secs(60);

/// What the container is started as.
pub struct Spec {
    /// Model id.
    pub id: ContainerId,
    /// Node name.
    pub node: Arc<str>,
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

/// The container's life: start the process, then execute jobs until `Remove` (or until the
/// scheduler drops the channel). The process is killed when this returns.
pub async fn serve(shared: Arc<Shared>, spec: Spec, mut jobs: mpsc::UnboundedReceiver<Job>) {
    let scheduler = &shared.scheduler;
    let limit = spec.action.as_ref().map_or(STEM_CELL_START_LIMIT, |a| {
        Duration::from_millis(a.limits.timeout)
    });
    let spawned_at = Instant::now();
    let spawned = SystemTime::now();
    let mut process =
        match Process::spawn(&scheduler.runtime_exe, &spec.kind, spawned_at + limit).await {
            Ok(p) => p,
            Err(e) => {
                let timeout_ms = limit.as_millis() as u64;
                let failure = invoke::start_failure(&e, timeout_ms);
                scheduler.report(&shared, Event::Failed(spec.id, failure));
                return;
            }
        };
    scheduler.register_pid(spec.id, process.pid());
    scheduler.report(&shared, Event::Started(spec.id));
    let placement = Placement {
        node: spec.node.clone(),
        container: spec.id.0,
    };
    // The cold start the next `cold` run reports.
    let mut cold: Option<ColdStart> = None;
    while let Some(job) = jobs.recv().await {
        match job {
            // gale:synthetic needs no code: a started process is an initialised container.
            // Kinds that run code get it here (the init step of the ActionLoop protocol).
            Job::Init(_action) => {
                let began = Instant::now();
                // A container started for its action counts its start in the cold start; a
                // stem cell only the injection of the code.
                let (started, started_at) = if spec.action.is_some() {
                    (spawned, spawned_at)
                } else {
                    (SystemTime::now(), began)
                };
                cold = Some(ColdStart {
                    started,
                    started_at,
                    init_time: started_at.elapsed(),
                });
                scheduler.report(&shared, Event::Initialised(spec.id));
            }
            Job::Run(job) => {
                let RunJob {
                    pending,
                    activation,
                    deadline,
                    cold: was_cold,
                } = *job;
                let start = if was_cold { cold.take() } else { None };
                let (record, healthy) = invoke::run(
                    &shared,
                    &mut process,
                    &pending.invocation,
                    deadline,
                    start,
                    &placement,
                )
                .await;
                let _ = pending.reply.send(record);
                drop(pending.invocation);
                scheduler.report(
                    &shared,
                    Event::Finished {
                        container: spec.id,
                        activation,
                        healthy,
                    },
                );
            }
            Job::Pause => process.signal(libc::SIGSTOP),
            Job::Resume => process.signal(libc::SIGCONT),
            Job::Remove => break,
        }
    }
    process.kill();
}
