//! The platform model's driver on the wall clock: feeds it events, executes its commands
//! with real processes (one [`container`](super::container) task per container), and wakes
//! it when it asked to be woken.
//!
//! One mutex guards the model and the tables that map its names to real things
//! (activations waiting for a command, container tasks, action revisions). Executing a
//! command under it only sends on a channel or spawns a task, so it is held for
//! microseconds; processes are never awaited under it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, Notify};

use super::action::Action;
use super::activation::Activation;
use super::cgroups::{ContainerCgroup, NodeCgroup, Usage};
use super::container::{self, Job, RunJob};
use super::invoke::{self, Invocation};
use super::{PlatformConfig, Shared};
use crate::model::{
    ActionKey, ActionSettings, ActionSpec, ActivationRef, Command, ContainerId, ContainerView,
    Event, Model, NodeId, NodeView, Time, MS,
};

/// An activation between `invoke` and its `Run` or `Fail` command.
pub struct Pending {
    /// The invocation.
    pub invocation: Invocation,
    /// Where its record goes.
    pub reply: oneshot::Sender<Arc<Activation>>,
}

struct Inner {
    model: Model,
    pending: HashMap<ActivationRef, Pending>,
    containers: HashMap<ContainerId, mpsc::UnboundedSender<Job>>,
    /// Process group of each started container, to kill busy ones at shutdown.
    pids: HashMap<ContainerId, i32>,
    /// Cgroup of each started container, for its resource figures.
    cgroups: HashMap<ContainerId, Arc<ContainerCgroup>>,
    actions: HashMap<ActionKey, Arc<Action>>,
    next_activation: ActivationRef,
    /// The instant the timer task sleeps until.
    armed: Option<Time>,
}

/// The model and its executor.
pub struct Scheduler {
    inner: Mutex<Inner>,
    origin: Instant,
    wake: Notify,
    /// Each node's cgroup (empty: containers run without cgroups).
    node_cgroups: Vec<Arc<NodeCgroup>>,
}

impl Scheduler {
    /// A scheduler for `config` whose containers go in `node_cgroups` (one per configured
    /// node, or none); call [`Scheduler::spawn_timer`] once it is shared.
    pub fn new(config: &PlatformConfig, node_cgroups: Vec<Arc<NodeCgroup>>) -> Scheduler {
        Scheduler {
            inner: Mutex::new(Inner {
                model: Model::new(config.model.clone(), Time::ZERO),
                pending: HashMap::new(),
                containers: HashMap::new(),
                pids: HashMap::new(),
                cgroups: HashMap::new(),
                actions: HashMap::new(),
                next_activation: ActivationRef(1),
                armed: None,
            }),
            origin: Instant::now(),
            wake: Notify::new(),
            node_cgroups,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Model time now.
    pub fn now(&self) -> Time {
        Time::from_nanos(self.origin.elapsed().as_nanos() as u64)
    }

    /// The wall-clock instant of a model time.
    pub fn instant(&self, t: Time) -> Instant {
        self.origin + Duration::from_nanos(t.as_nanos())
    }

    /// Apply `f` to the model at the current instant, then execute what it commands.
    pub fn step<R>(&self, shared: &Arc<Shared>, f: impl FnOnce(&mut Model, Time) -> R) -> R {
        self.step_inner(shared, |inner, now| f(&mut inner.model, now))
    }

    fn step_inner<R>(&self, shared: &Arc<Shared>, f: impl FnOnce(&mut Inner, Time) -> R) -> R {
        let now = self.now();
        let mut inner = self.lock();
        let out = f(&mut inner, now);
        while let Some(command) = inner.model.poll_command() {
            self.execute(shared, &mut inner, command);
        }
        let next = inner.model.poll_timeout();
        if next.is_some() && (inner.armed.is_none() || next < inner.armed) {
            inner.armed = next;
            self.wake.notify_one();
        }
        out
    }

    /// Submit an admitted invocation; its record arrives on the returned channel.
    pub fn submit(
        &self,
        shared: &Arc<Shared>,
        invocation: Invocation,
    ) -> oneshot::Receiver<Arc<Activation>> {
        let (reply, rx) = oneshot::channel();
        let action = invocation.action.clone();
        self.step_inner(shared, |inner, now| {
            let activation = inner.next_activation;
            inner.next_activation.0 += 1;
            deploy(inner, &action, &shared.config.actions);
            inner
                .pending
                .insert(activation, Pending { invocation, reply });
            inner.model.handle(
                now,
                Event::Invoke {
                    activation,
                    action: ActionKey(action.rev),
                },
            );
        });
        rx
    }

    /// An action revision was deleted or replaced.
    pub fn retire(&self, shared: &Arc<Shared>, rev: u64) {
        self.step(shared, |model, now| model.remove(now, ActionKey(rev)));
    }

    /// Report an event from a container task.
    pub fn report(&self, shared: &Arc<Shared>, event: Event) {
        self.step_inner(shared, |inner, now| {
            // A failed container's task has ended; the model forgets it without a Remove.
            if let Event::Failed(id, _) = &event {
                inner.forget(*id);
            }
            inner.model.handle(now, event)
        });
    }

    /// Remember a started container's process group (killed at shutdown) and cgroup.
    pub fn register(&self, id: ContainerId, pid: i32, cgroup: Option<Arc<ContainerCgroup>>) {
        let mut inner = self.lock();
        inner.pids.insert(id, pid);
        if let Some(cg) = cgroup {
            inner.cgroups.insert(id, cg);
        }
    }

    /// Memory and CPU a container has used, from its cgroup (`None` without cgroups).
    pub fn container_usage(&self, id: ContainerId) -> Option<Usage> {
        let cgroup = self.lock().cgroups.get(&id).cloned()?;
        cgroup.usage().ok()
    }

    /// Memory and CPU all of a node's containers have used, from its cgroup.
    pub fn node_usage(&self, node: NodeId) -> Option<Usage> {
        self.node_cgroups.get(node.0)?.usage().ok()
    }

    /// Kill every container and fail every waiting activation.
    pub fn shutdown(&self, shared: &Arc<Shared>) {
        let pids: Vec<i32> = self.lock().pids.drain().map(|(_, p)| p).collect();
        for pid in pids {
            super::process::kill_group(pid);
        }
        self.step(shared, |model, _| model.shutdown());
    }

    /// The nodes and their reserved resources.
    pub fn nodes(&self) -> Vec<NodeView> {
        self.lock().model.nodes()
    }

    /// Every live container.
    pub fn containers(&self) -> Vec<ContainerView> {
        self.lock().model.containers()
    }

    /// Make sure the model knows `action` (deployed on first use otherwise).
    pub fn ensure_deployed(&self, shared: &Shared, action: &Arc<Action>) {
        deploy(&mut self.lock(), action, &shared.config.actions);
    }

    /// `namespace/name` of an action revision the scheduler still knows.
    pub fn action_path(&self, rev: ActionKey) -> Option<Arc<str>> {
        self.lock().actions.get(&rev).map(|a| a.path.clone())
    }

    fn execute(&self, shared: &Arc<Shared>, inner: &mut Inner, command: Command) {
        match command {
            Command::Start {
                container,
                node,
                kind,
                memory_mb,
                action,
            } => {
                let (tx, rx) = mpsc::unbounded_channel();
                inner.containers.insert(container, tx);
                let action = action.and_then(|a| inner.actions.get(&a).cloned());
                tokio::spawn(container::serve(
                    shared.clone(),
                    container::Spec {
                        id: container,
                        node: shared.config.node_name(node),
                        node_cgroup: self.node_cgroups.get(node.0).cloned(),
                        kind,
                        memory_mb,
                        action,
                    },
                    rx,
                ));
            }
            Command::Init { container, action } => {
                if let Some(action) = inner.actions.get(&action).cloned() {
                    send(inner, container, Job::Init(action));
                }
            }
            Command::Run {
                activation,
                container,
                deadline,
                cold,
            } => {
                if let Some(pending) = inner.pending.remove(&activation) {
                    let job = RunJob {
                        pending,
                        activation,
                        deadline: self.instant(deadline),
                        cold,
                    };
                    send(inner, container, Job::Run(Box::new(job)));
                }
            }
            Command::Pause { container } => send(inner, container, Job::Pause),
            Command::Resume { container } => send(inner, container, Job::Resume),
            Command::Remove { container } => {
                if let Some(tx) = inner.forget(container) {
                    let _ = tx.send(Job::Remove);
                }
            }
            Command::Fail {
                activation,
                failure,
            } => {
                if let Some(p) = inner.pending.remove(&activation) {
                    let record = invoke::failed(shared, &p.invocation, &failure);
                    let _ = p.reply.send(record);
                }
            }
        }
    }

    /// Wake the model when it asked to be woken. The task holds the platform until it is
    /// aborted (by [`super::RunningPlatform`]'s shutdown or drop).
    pub fn spawn_timer(shared: &Arc<Shared>) -> tokio::task::JoinHandle<()> {
        let shared = shared.clone();
        tokio::spawn(async move {
            let s = &shared.scheduler;
            loop {
                let at = {
                    let mut inner = s.lock();
                    // Revisions the model forgot need no Init any more.
                    let Inner { model, actions, .. } = &mut *inner;
                    actions.retain(|k, _| model.knows(*k));
                    let next = inner.model.poll_timeout();
                    inner.armed = next;
                    next.unwrap_or(s.now() + 1000 * MS)
                };
                tokio::select! {
                    _ = tokio::time::sleep_until(s.instant(at).into()) => {}
                    // An earlier timeout was asked for: re-arm for it (a due one ends the
                    // sleep at once); handle_timeout now would re-run the queue for nothing.
                    _ = s.wake.notified() => continue,
                }
                s.step(&shared, |model, now| model.handle_timeout(now));
            }
        })
    }
}

impl Inner {
    /// Drop a container from the tables; its job channel, if it still had one.
    fn forget(&mut self, id: ContainerId) -> Option<mpsc::UnboundedSender<Job>> {
        self.pids.remove(&id);
        self.cgroups.remove(&id);
        self.containers.remove(&id)
    }
}

fn deploy(inner: &mut Inner, action: &Arc<Action>, settings: &BTreeMap<String, ActionSettings>) {
    let key = ActionKey(action.rev);
    if !inner.model.is_deployed(key) {
        let mut spec = spec_of(action);
        if let Some(s) = settings.get(&*action.path) {
            spec = spec.with_settings(s);
        }
        inner.model.deploy(key, spec);
        inner.actions.insert(key, action.clone());
    }
}

fn send(inner: &mut Inner, container: ContainerId, job: Job) {
    if let Some(tx) = inner.containers.get(&container) {
        let _ = tx.send(job);
    }
}

/// The model's view of a stored action.
pub fn spec_of(action: &Action) -> ActionSpec {
    let mut spec = ActionSpec::new(&action.path, &action.exec.kind);
    spec.memory_mb = action.limits.memory;
    spec.concurrency = action.limits.concurrency;
    spec.timeout = action.limits.timeout * MS;
    spec
}
