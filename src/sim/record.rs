//! What a simulation produces, row by row, and where it goes: a [`Sink`] (files through
//! the result directory, or memory in tests).

use std::borrow::Cow;
use std::sync::Arc;

/// How an invocation ended (the names of invocations.csv's `outcome` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Ran and returned.
    Success,
    /// Exceeded its time limit (OpenWhisk: developer error, the container is dropped).
    DeveloperError,
    /// The platform could not run it (too big for every node, not deployed).
    InternalError,
    /// Refused by the namespace's admission limits (429).
    Throttled,
}

impl Outcome {
    /// Every outcome, in declaration order (`as usize` indexes it).
    pub const ALL: [Outcome; 4] = [
        Outcome::Success,
        Outcome::DeveloperError,
        Outcome::InternalError,
        Outcome::Throttled,
    ];

    /// Column value.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::DeveloperError => "developer_error",
            Outcome::InternalError => "internal_error",
            Outcome::Throttled => "throttled",
        }
    }
}

/// One invocation. Instants are ns after the run's start (virtual time 0).
///
/// The names it shares with the simulation (function, node) are borrowed: a sink that keeps
/// a record takes an owned copy ([`Invocation::into_owned`]). Cloning them for every record
/// that only passes through a sink was a visible part of a simulation's time (their
/// reference counts are atomic).
#[derive(Debug, Clone, PartialEq)]
pub struct Invocation<'a> {
    /// Trace row id.
    pub row: u64,
    /// Function.
    pub function: Cow<'a, Arc<str>>,
    /// User.
    pub user: Arc<str>,
    /// Blocking.
    pub blocking: bool,
    /// When it was due (and, in virtual time, sent: lateness is 0).
    pub scheduled_ns: u64,
    /// The activation's start (cold: the container's start; warm: the run's), if it ran.
    pub start_ns: Option<u64>,
    /// The activation's end, if it ran.
    pub end_ns: Option<u64>,
    /// How it ended.
    pub outcome: Outcome,
    /// It waited for a container's start or init.
    pub cold: Option<bool>,
    /// It waited in the platform's queue for a node that could take it.
    pub queued: bool,
    /// From arrival to the activation's start, ns.
    pub wait_ns: Option<u64>,
    /// Container start and init before it, ns (cold only).
    pub init_ns: Option<u64>,
    /// Node name.
    pub node: Option<Cow<'a, Arc<str>>>,
    /// Container id (`c<N>`).
    pub container: Option<u64>,
    /// Error text.
    pub error: Option<String>,
    /// CPU work it did, ns of one core.
    pub cpu_ns: Option<u64>,
}

impl<'a> Invocation<'a> {
    /// An invocation that did not run: refused, or failed before a container took it. Only
    /// what it was (and whether it queued) is known; every timing of a run is `None`.
    pub fn not_run(
        row: u64,
        function: &'a Arc<str>,
        user: Arc<str>,
        blocking: bool,
        scheduled_ns: u64,
        outcome: Outcome,
        error: String,
    ) -> Invocation<'a> {
        Invocation {
            row,
            function: Cow::Borrowed(function),
            user,
            blocking,
            scheduled_ns,
            start_ns: None,
            end_ns: None,
            outcome,
            cold: None,
            queued: false,
            wait_ns: None,
            init_ns: None,
            node: None,
            container: None,
            error: Some(error),
            cpu_ns: None,
        }
    }

    /// The same record, owning its names.
    pub fn into_owned(self) -> Invocation<'static> {
        Invocation {
            function: Cow::Owned(self.function.into_owned()),
            node: self.node.map(|n| Cow::Owned(n.into_owned())),
            row: self.row,
            user: self.user,
            blocking: self.blocking,
            scheduled_ns: self.scheduled_ns,
            start_ns: self.start_ns,
            end_ns: self.end_ns,
            outcome: self.outcome,
            cold: self.cold,
            queued: self.queued,
            wait_ns: self.wait_ns,
            init_ns: self.init_ns,
            container: self.container,
            error: self.error,
            cpu_ns: self.cpu_ns,
        }
    }

    /// End − scheduled: what the trace's user waited.
    pub fn completion_ns(&self) -> Option<u64> {
        self.end_ns.map(|e| e.saturating_sub(self.scheduled_ns))
    }

    /// HTTP status the platform would have answered.
    pub fn http_status(&self) -> u16 {
        match (self.outcome, self.blocking) {
            (Outcome::Throttled, _) => 429,
            (_, false) => 202,
            (Outcome::Success, true) => 200,
            (Outcome::DeveloperError, true) => 502,
            (Outcome::InternalError, true) => 500,
        }
    }
}

/// One container's life.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    /// Id (`c<N>`).
    pub id: u64,
    /// Function it ran (`None`: a stem cell never used).
    pub function: Option<Arc<str>>,
    /// Node name.
    pub node: Arc<str>,
    /// Memory reserved, MB.
    pub memory_mb: u32,
    /// Start command, ns.
    pub created_ns: u64,
    /// Ready for its function (started and initialised), ns.
    pub ready_ns: Option<u64>,
    /// Removed (memory released), ns; `None` if alive at the end.
    pub removed_ns: Option<u64>,
    /// Activations it ran.
    pub runs: u64,
    /// Time with at least one activation running, ns.
    pub busy_ns: u64,
    /// Time alive and ready but not running (idle, paused, prewarmed), ns.
    pub idle_ns: u64,
}

/// One node at one sampling instant, with the CPU use averaged over the interval before.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSample {
    /// Instant, ns.
    pub at_ns: u64,
    /// Node name.
    pub node: Arc<str>,
    /// Capacity, MB.
    pub memory_mb: u64,
    /// Reserved by live containers, MB.
    pub reserved_mb: u64,
    /// Live containers.
    pub containers: u32,
    /// Activations running.
    pub running: u32,
    /// Cores.
    pub cpus: f64,
    /// Mean cores busy over the interval.
    pub cpu_busy: f64,
    /// Activations waiting in the platform's queue (platform-wide).
    pub queued: usize,
}

/// Where rows go, in the order they happen.
pub trait Sink {
    /// An invocation completed (or was refused or failed).
    fn invocation(&mut self, r: &Invocation) -> std::io::Result<()>;
    /// A container was removed, or was alive at the end.
    fn container(&mut self, c: &Container) -> std::io::Result<()>;
    /// A node sample.
    fn node(&mut self, s: &NodeSample) -> std::io::Result<()>;
}

/// Everything in memory (tests, small runs).
#[derive(Debug, Default)]
pub struct MemorySink {
    /// Invocations, in completion order.
    pub invocations: Vec<Invocation<'static>>,
    /// Containers, in removal order.
    pub containers: Vec<Container>,
    /// Node samples.
    pub nodes: Vec<NodeSample>,
}

impl Sink for MemorySink {
    fn invocation(&mut self, r: &Invocation) -> std::io::Result<()> {
        self.invocations.push(r.clone().into_owned());
        Ok(())
    }
    fn container(&mut self, c: &Container) -> std::io::Result<()> {
        self.containers.push(c.clone());
        Ok(())
    }
    fn node(&mut self, s: &NodeSample) -> std::io::Result<()> {
        self.nodes.push(s.clone());
        Ok(())
    }
}
