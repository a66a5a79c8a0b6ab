//! The platform model's driver in virtual time: the twin of platform/scheduler.rs. It feeds
//! the model arrivals from the trace and the completions of what it commanded, executes
//! each command by scheduling its end after a modelled duration, and wakes the model at the
//! instants it asks for. Single-threaded; nothing reads a clock.
//!
//! Order within an instant: events in the order they were scheduled, then the trace's
//! arrivals due then (in row order). The model's commands are executed in the order polled.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::model::admission::{Admission, Limits};
use crate::model::{
    ActionKey, ActionSettings, ActionSpec, ActivationRef, ContainerId, Event, Model, ModelConfig,
    Nanos, Time, MS,
};
use crate::trace::{FunctionSpec, Rows, UserSpec};

use super::cpu::Cores;
use super::dist::Stream;
use super::ops::{Op, Operation};
use super::profile::{FunctionModel, Overrides, Profile, Work};
use super::queue::EventQueue;
use super::record::{self, Outcome, Sink};
use super::stats::Stats;

mod commands;
mod runs;

/// Everything a simulation needs, resolved (no command-line types).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Nodes and policies.
    pub model: ModelConfig,
    /// Admission limits per namespace.
    pub limits: Limits,
    /// Per-action overrides, keyed `namespace/name`.
    pub actions: BTreeMap<String, ActionSettings>,
    /// The platform's first namespace (`guest`): the actions of rows whose user the trace
    /// does not declare.
    pub namespace: String,
    /// Users the trace declares: each has its own namespace (its `namespace`, else its
    /// name) holding its own copy of every function, as `gale inject` deploys them on the
    /// embedded platform; their actions are distinct (containers, placement, limits).
    pub users: Vec<UserSpec>,
    /// Functions the trace declares (others are deployed as synthetic on first use).
    pub functions: Vec<FunctionSpec>,
    /// Blocking mode of rows that do not say.
    pub blocking: bool,
    /// Modelled durations.
    pub profile: Profile,
    /// Timed operations, in time order.
    pub operations: Vec<Operation>,
    /// Seed of every modelled duration (the model's random placement has its own,
    /// `model.seed`).
    pub seed: u64,
    /// Node samples every this long (0: none).
    pub sample_period: Nanos,
}

/// Why a simulation could not run.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A function's runs have no model.
    #[error(
        "function `{0}` is not of the synthetic kind and the profile gives no `run` for it: \
         add one with --profile FILE or fit one with --profile-from DIR"
    )]
    NoRunModel(String),
    /// An operation names a function the trace does not.
    #[error("operation at {at_s} s: function `{function}` is not in the trace")]
    UnknownFunction {
        /// Instant, s.
        at_s: f64,
        /// Name.
        function: String,
    },
    /// A trace row could not be read.
    #[error(transparent)]
    Trace(#[from] crate::trace::TraceError),
    /// The sink failed.
    #[error("cannot write the results: {0}")]
    Io(#[from] std::io::Error),
}

impl SimError {
    /// The trace, profile or operations are wrong (exit code 2), not the run.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            SimError::NoRunModel(_) | SimError::UnknownFunction { .. } | SimError::Trace(_)
        )
    }
}

/// What a finished simulation reports besides its rows.
#[derive(Debug, Clone)]
pub struct Report {
    /// The summary (JSON object).
    pub summary: serde_json::Value,
    /// Events processed.
    pub events: u64,
    /// Invocations read from the trace.
    pub invocations: u64,
    /// Virtual time simulated, ns.
    pub horizon_ns: u64,
}

enum Ev {
    Started(ContainerId),
    Initialised(ContainerId),
    /// A run's resume delay is over: its CPU phase begins.
    RunBegin(Slot),
    /// The node's next CPU completion, if still armed for this instant.
    Cpu(usize),
    /// A run's waiting phase is over.
    RunEnd(Slot),
    /// An exact run (see `cpu.rs`) is over, if it still is one.
    ExactEnd(Slot),
    /// A run's time limit, while it resumes or waits without a core (a run in its CPU
    /// phase meets its limit through its node's `Cpu` event).
    Deadline(Slot),
    ModelTimer,
    Sample,
    Operation(usize),
    /// A row reaches the platform after the profile's dispatch delay.
    Arrive(Box<crate::trace::Invocation>),
}

/// An in-flight activation's slot and generation (stale events carry an old generation).
#[derive(Clone, Copy, PartialEq, Eq)]
struct Slot {
    index: u32,
    gen: u32,
}

impl Slot {
    fn job(self) -> u64 {
        (u64::from(self.gen) << 32) | u64::from(self.index)
    }
    fn of_job(job: u64) -> Slot {
        Slot {
            index: job as u32,
            gen: (job >> 32) as u32,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Waiting,
    Resuming,
    /// In its CPU phase, sharing its node's cores: the node's events end it.
    Cpu,
    /// In its CPU phase (or past it) at full speed: the end of its run is scheduled.
    Exact,
    Sleep,
}

struct Flight {
    gen: u32,
    live: bool,
    row: u64,
    func: u32,
    /// Taken by its record.
    user: Option<Arc<str>>,
    blocking: bool,
    /// The row's scheduled instant.
    arrived: Time,
    /// When it reached the platform (after the dispatch delay): `wait` counts from here.
    received: Time,
    queued: bool,
    overrides: Option<Overrides>,
    container: u64,
    node: usize,
    cold: bool,
    cold_began: Time,
    run_start: Time,
    /// The end of its time limit.
    deadline: Time,
    work: Work,
    phase: Phase,
}

struct Func {
    name: Arc<str>,
    /// Index of its namespace in `Sim::namespaces`.
    ns: u32,
    spec: ActionSpec,
    model: FunctionModel,
    rng: Stream,
    /// Current revision in the model (`None`: not deployed).
    key: Option<ActionKey>,
    revision: u32,
    autoscaled: bool,
    /// Activations running now, and their time integral since the last autoscaling round.
    running: u32,
    running_since: Time,
    running_ns: f64,
}

struct Ctr {
    func: Option<u32>,
    node: usize,
    memory_mb: u32,
    created: Time,
    cold_began: Option<Time>,
    ready: Option<Time>,
    resume_until: Time,
    active: u32,
    runs: u64,
    since: Time,
    busy_ns: u64,
    idle_ns: u64,
}

/// Hashing of the driver's own ids (containers, actions by namespace and name).
type IdHash = std::hash::BuildHasherDefault<crate::model::IdHasher>;

/// Action keys carry the function's index in their low half, its revision in the high.
fn key_of(func: u32, revision: u32) -> ActionKey {
    ActionKey((u64::from(revision) << 32) | u64::from(func))
}

fn func_of(key: ActionKey) -> u32 {
    key.0 as u32
}

/// The simulation.
pub struct Sim<'s, S: Sink> {
    settings: &'s Settings,
    model: Model,
    queue: EventQueue<Ev>,
    now: Time,
    funcs: Vec<Func>,
    /// Each action's index in `funcs`, per namespace by function name (looked up by the
    /// row's `&str`: no clone of its name per arrival).
    by_name: Vec<HashMap<Arc<str>, u32, IdHash>>,
    /// Namespaces: the platform's first, then each declared user's (deduplicated).
    namespaces: Vec<Arc<str>>,
    /// The namespace of each declared user (others use namespace 0).
    user_ns: HashMap<Arc<str>, u32>,
    /// Functions named by a `deploy` operation start undeployed.
    deployed_later: Vec<String>,
    flights: Vec<Flight>,
    free: Vec<u32>,
    in_flight: usize,
    containers: HashMap<u64, Ctr, IdHash>,
    cores: Vec<Cores>,
    cpu_armed: Vec<Option<Time>>,
    cpu_done: Vec<u64>,
    /// Scratch for the jobs an arrival on a node made share its cores, reused.
    cpu_shared: Vec<u64>,
    node_names: Vec<Arc<str>>,
    sample_busy: Vec<f64>,
    /// Per namespace, as the platform's limits are.
    admission: HashMap<u32, Admission>,
    model_armed: Option<Time>,
    last_round: Time,
    stem_rng: Stream,
    dispatch_rng: Stream,
    /// Rows read but still in their dispatch delay.
    dispatching: usize,
    stats: Stats,
    sink: &'s mut S,
    events: u64,
    rows_read: u64,
    ops_pending: usize,
}

impl<'s, S: Sink> Sim<'s, S> {
    /// A simulation of `settings` writing to `sink`.
    pub fn new(settings: &'s Settings, sink: &'s mut S) -> Result<Sim<'s, S>, SimError> {
        // The model's own seed (random placement) is the platform's, as on `gale platform`.
        let model = Model::new(settings.model.clone(), Time::ZERO);
        let nodes = settings.model.nodes.len();
        let mut sim = Sim {
            settings,
            model,
            queue: EventQueue::default(),
            now: Time::ZERO,
            funcs: Vec::new(),
            by_name: Vec::new(),
            namespaces: vec![settings.namespace.as_str().into()],
            user_ns: HashMap::new(),
            deployed_later: settings
                .operations
                .iter()
                .filter(|o| o.op == Op::Deploy)
                .map(|o| o.function.clone())
                .collect(),
            flights: Vec::new(),
            free: Vec::new(),
            in_flight: 0,
            containers: HashMap::default(),
            cores: settings
                .model
                .nodes
                .iter()
                .map(|n| Cores::new(n.cpus, Time::ZERO))
                .collect(),
            cpu_armed: vec![None; nodes],
            cpu_done: Vec::new(),
            cpu_shared: Vec::new(),
            node_names: settings
                .model
                .nodes
                .iter()
                .map(|n| n.name.clone())
                .collect(),
            sample_busy: vec![0.0; nodes],
            admission: HashMap::new(),
            model_armed: None,
            last_round: Time::ZERO,
            stem_rng: Stream::new(settings.seed, "\0stem-cells"),
            dispatch_rng: Stream::new(settings.seed, "\0dispatch"),
            dispatching: 0,
            stats: Stats::default(),
            sink,
            events: 0,
            rows_read: 0,
            ops_pending: settings.operations.len(),
        };
        for u in &settings.users {
            let ns: Arc<str> = u.namespace.as_deref().unwrap_or(&u.name).into();
            let index = match sim.namespaces.iter().position(|n| *n == ns) {
                Some(i) => i,
                None => {
                    sim.namespaces.push(ns);
                    sim.namespaces.len() - 1
                }
            };
            sim.user_ns.insert(u.name.as_str().into(), index as u32);
        }
        // Every declared function in every namespace, as inject deploys them.
        for f in &settings.functions {
            for ns in 0..sim.namespaces.len() as u32 {
                sim.function(ns, f)?;
            }
        }
        for (i, op) in settings.operations.iter().enumerate() {
            if !sim.funcs.iter().any(|f| *f.name == *op.function) {
                return Err(SimError::UnknownFunction {
                    at_s: op.at_ns as f64 / 1e9,
                    function: op.function.clone(),
                });
            }
            sim.queue.push(Time::from_nanos(op.at_ns), Ev::Operation(i));
        }
        if settings.sample_period > 0 {
            sim.queue
                .push(Time::from_nanos(settings.sample_period), Ev::Sample);
        }
        sim.pump();
        Ok(sim)
    }

    /// Register (and deploy, unless a `deploy` operation comes later) a function in
    /// namespace `ns`.
    fn function(&mut self, ns: u32, f: &FunctionSpec) -> Result<u32, SimError> {
        let name: Arc<str> = f.name.as_str().into();
        if let Some(&i) = self.by_name.get(ns as usize).and_then(|m| m.get(&name)) {
            return Ok(i);
        }
        let model = FunctionModel::resolve(&self.settings.profile, &f.name, &f.kind, &f.params)
            .ok_or_else(|| SimError::NoRunModel(f.name.clone()))?;
        let path = format!("{}/{}", self.namespaces[ns as usize], f.name);
        let mut spec = ActionSpec::new(&path, &f.kind);
        if let Some(m) = f.memory_mb {
            spec.memory_mb = m;
        }
        if let Some(t) = f.timeout_ms {
            spec.timeout = u64::from(t) * MS;
        }
        if let Some(s) = self.settings.actions.get(&path) {
            spec = spec.with_settings(s);
        }
        let index = self.funcs.len() as u32;
        self.funcs.push(Func {
            name: name.clone(),
            ns,
            autoscaled: spec.autoscale.is_some(),
            spec,
            model,
            // Keyed by the action's path: each namespace's copy draws its own durations.
            rng: Stream::new(self.settings.seed, &path),
            key: None,
            revision: 0,
            running: 0,
            running_since: Time::ZERO,
            running_ns: 0.0,
        });
        if self.by_name.len() <= ns as usize {
            self.by_name.resize_with(ns as usize + 1, HashMap::default);
        }
        self.by_name[ns as usize].insert(name, index);
        if !self.deployed_later.contains(&f.name) {
            self.deploy(index);
        }
        Ok(index)
    }

    fn deploy(&mut self, func: u32) {
        let f = &mut self.funcs[func as usize];
        if f.key.is_some() {
            return;
        }
        f.revision += 1;
        let key = key_of(func, f.revision);
        f.key = Some(key);
        let spec = f.spec.clone();
        self.model.deploy(key, spec);
    }

    /// Run `rows` to the end; the summary.
    pub fn run(mut self, mut rows: Rows) -> Result<Report, SimError> {
        let mut next = rows.next().transpose()?;
        loop {
            let row_due = next.as_ref().map(|r| Time::from_nanos(r.at_ns));
            let event_due = self.queue.peek_time();
            let arrival_first = match (row_due, event_due) {
                (Some(r), Some(e)) => r < e,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if arrival_first {
                let row = next.take().expect("checked above");
                self.now = Time::from_nanos(row.at_ns);
                match &self.settings.profile.dispatch {
                    // Without a dispatch delay (the default) the row arrives as it is due,
                    // with no event of its own.
                    None => self.arrive(row)?,
                    Some(d) => {
                        let at = self.now + d.sample_ns(&mut self.dispatch_rng);
                        self.dispatching += 1;
                        self.queue.push(at, Ev::Arrive(Box::new(row)));
                    }
                }
                next = rows.next().transpose()?;
            } else {
                // Nothing left to arrive, run or operate: idle keep-alive and autoscaling
                // timers alone do not extend the run.
                if next.is_none()
                    && self.in_flight == 0
                    && self.dispatching == 0
                    && self.ops_pending == 0
                {
                    break;
                }
                let Some((at, ev)) = self.queue.pop() else {
                    break;
                };
                self.now = self.now.max(at);
                self.handle(ev)?;
            }
            self.events += 1;
            self.pump();
        }
        self.finish()
    }

    fn finish(mut self) -> Result<Report, SimError> {
        let end = self.now;
        let mut alive: Vec<(u64, Ctr)> = self.containers.drain().collect();
        alive.sort_by_key(|(id, _)| *id);
        for (id, c) in alive {
            self.close_container(id, c, None)?;
        }
        let summary = self.stats.summary(end.as_nanos(), self.events);
        Ok(Report {
            summary,
            events: self.events,
            invocations: self.rows_read,
            horizon_ns: end.as_nanos(),
        })
    }

    fn arrive(&mut self, row: crate::trace::Invocation) -> Result<(), SimError> {
        self.rows_read += 1;
        // Most traces declare no users: no hash of the user's name then.
        let ns = if self.user_ns.is_empty() {
            0
        } else {
            self.user_ns.get(&row.user).copied().unwrap_or(0)
        };
        let known = self.by_name.get(ns as usize);
        let func = match known.and_then(|m| m.get(&*row.function)) {
            Some(&i) => i,
            None => self.function(ns, &FunctionSpec::synthetic(&row.function))?,
        };
        let blocking = row.blocking.unwrap_or(self.settings.blocking);
        let limited = self.settings.limits != Limits::default();
        if limited {
            let limits = self.settings.limits.clone();
            let adm = self
                .admission
                .entry(ns)
                .or_insert_with(|| Admission::new(limits));
            if let Err(refusal) = adm.admit(self.now.as_nanos() / 1_000_000) {
                let error = refusal.to_string();
                return self.unrun(&row, func, blocking, Outcome::Throttled, error);
            }
        }
        let Some(key) = self.funcs[func as usize].key else {
            self.release_admission(func);
            let error = "The requested resource does not exist.".into();
            return self.unrun(&row, func, blocking, Outcome::InternalError, error);
        };
        let flight = Flight {
            gen: 0,
            live: true,
            row: row.row,
            func,
            user: Some(row.user),
            blocking,
            arrived: Time::from_nanos(row.at_ns),
            received: self.now,
            queued: false,
            overrides: row.params.as_deref().and_then(Overrides::parse),
            container: 0,
            node: 0,
            cold: false,
            cold_began: self.now,
            run_start: self.now,
            deadline: Time::from_nanos(u64::MAX),
            work: Work::default(),
            phase: Phase::Waiting,
        };
        let slot = self.alloc(flight);
        let before = self.model.queue_len();
        self.model.handle(
            self.now,
            Event::Invoke {
                activation: ActivationRef(u64::from(slot.index)),
                action: key,
            },
        );
        if self.model.queue_len() > before {
            self.flights[slot.index as usize].queued = true;
        }
        Ok(())
    }

    /// Record an invocation that did not run.
    fn unrun(
        &mut self,
        row: &crate::trace::Invocation,
        func: u32,
        blocking: bool,
        outcome: Outcome,
        error: String,
    ) -> Result<(), SimError> {
        let r = record::Invocation::not_run(
            row.row,
            &self.funcs[func as usize].name,
            row.user.clone(),
            blocking,
            row.at_ns,
            outcome,
            error,
        );
        runs::emit(&mut self.stats, self.sink, &r)
    }

    fn alloc(&mut self, mut flight: Flight) -> Slot {
        self.in_flight += 1;
        match self.free.pop() {
            Some(index) => {
                let old = &self.flights[index as usize];
                flight.gen = old.gen.wrapping_add(1);
                self.flights[index as usize] = flight;
                Slot {
                    index,
                    gen: self.flights[index as usize].gen,
                }
            }
            None => {
                let index = self.flights.len() as u32;
                self.flights.push(flight);
                Slot { index, gen: 0 }
            }
        }
    }

    /// The live flight of `slot`, if the event is not stale.
    fn flight(&self, slot: Slot) -> Option<&Flight> {
        self.flights
            .get(slot.index as usize)
            .filter(|f| f.live && f.gen == slot.gen)
    }

    fn slot_of(&self, activation: ActivationRef) -> Slot {
        let index = activation.0 as u32;
        Slot {
            index,
            gen: self.flights[index as usize].gen,
        }
    }

    fn handle(&mut self, ev: Ev) -> Result<(), SimError> {
        match ev {
            Ev::Started(c) => self.model.handle(self.now, Event::Started(c)),
            Ev::Initialised(c) => {
                if let Some(ctr) = self.containers.get_mut(&c.0) {
                    ctr.ready = Some(self.now);
                    ctr.since = self.now;
                }
                self.model.handle(self.now, Event::Initialised(c))
            }
            Ev::RunBegin(slot) => {
                if self.flight(slot).is_some() {
                    self.begin_cpu(slot);
                }
            }
            Ev::Cpu(node) => {
                if self.cpu_armed[node] == Some(self.now) {
                    self.cpu_armed[node] = None;
                    self.cpu_due(node)?;
                }
            }
            Ev::RunEnd(slot) => {
                if self.flight(slot).is_some_and(|f| f.phase == Phase::Sleep) {
                    self.end_run(slot, Outcome::Success, None)?;
                }
            }
            Ev::ExactEnd(slot) => {
                if self.flight(slot).is_some_and(|f| f.phase == Phase::Exact) {
                    self.end_run(slot, Outcome::Success, None)?;
                }
            }
            Ev::Deadline(slot) => {
                let phase = self.flight(slot).map(|f| f.phase);
                if phase == Some(Phase::Exact) {
                    // Cut in its CPU phase, or after it (then it is gone from the cores).
                    let node = self.flights[slot.index as usize].node;
                    self.cores[node].remove(self.now, slot.job());
                }
                if matches!(phase, Some(Phase::Resuming | Phase::Sleep | Phase::Exact)) {
                    self.time_out(slot)?;
                }
            }
            Ev::ModelTimer => {
                if self.model_armed == Some(self.now) {
                    self.model_armed = None;
                    if self.model.autoscale_due().is_some_and(|t| t <= self.now) {
                        self.observe_utilisation();
                    }
                    self.model.handle_timeout(self.now);
                }
            }
            Ev::Sample => self.sample()?,
            Ev::Arrive(row) => {
                self.dispatching -= 1;
                self.arrive(*row)?;
            }
            Ev::Operation(i) => {
                self.ops_pending -= 1;
                self.operate(&self.settings.operations[i]);
            }
        }
        Ok(())
    }

    /// Execute what the model commands, then re-arm its timer.
    fn pump(&mut self) {
        while let Some(c) = self.model.poll_command() {
            self.execute(c);
        }
        if let Some(t) = self.model.poll_timeout() {
            if self.model_armed.is_none_or(|a| t < a) {
                let at = t.max(self.now);
                self.model_armed = Some(at);
                self.queue.push(at, Ev::ModelTimer);
            }
        }
    }
}

/// Run a whole simulation: `settings` over `rows`, rows to `sink`.
pub fn simulate<S: Sink>(
    settings: &Settings,
    rows: Rows,
    sink: &mut S,
) -> Result<Report, SimError> {
    Sim::new(settings, sink)?.run(rows)
}
