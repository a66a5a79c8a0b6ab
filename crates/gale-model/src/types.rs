//! The model's vocabulary: identifiers, commands, failures and read-only views.

use std::sync::Arc;

/// A span of model time in nanoseconds (time limits, keep-alive, periods). Spans add to a
/// [`Time`]; two instants cannot be added.
pub type Nanos = u64;

/// An instant of model time: nanoseconds since an origin the driver chooses (its start, or
/// 0 in virtual time). Only differences matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(u64);

impl Time {
    /// The origin.
    pub const ZERO: Time = Time(0);
    /// The last representable instant (sums saturate to it).
    pub const MAX: Time = Time(u64::MAX);

    /// The instant `n` nanoseconds after the origin.
    pub const fn from_nanos(n: u64) -> Time {
        Time(n)
    }

    /// Nanoseconds since the origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// The span from `earlier` to this instant, 0 if `earlier` is later.
    pub fn since(self, earlier: Time) -> Nanos {
        self.0.saturating_sub(earlier.0)
    }
}

impl std::ops::Add<Nanos> for Time {
    type Output = Time;
    /// Saturating: a deadline past the end of time is the end of time.
    fn add(self, span: Nanos) -> Time {
        Time(self.0.saturating_add(span))
    }
}

impl std::ops::AddAssign<Nanos> for Time {
    fn add_assign(&mut self, span: Nanos) {
        *self = *self + span;
    }
}

/// A deployed action revision, as the driver names it (the platform's action revision).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ActionKey(pub u64);

/// An activation, as the driver names it; the model only passes it back in commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ActivationRef(pub u64);

/// A node (an OpenWhisk invoker): its index in [`crate::ModelConfig::nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NodeId(pub usize);

impl std::fmt::Display for ActionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::fmt::Display for ActivationRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A container, unique for the model's lifetime (`c<N>` in activation records).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerId(pub u64);

impl std::fmt::Display for ContainerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// What the driver must do. Commands for one container must be executed in the order they
/// are polled (a `Resume` before the `Run` that follows it).
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Start a container process on `node`, answered by `started` or `failed`.
    Start {
        /// The new container.
        container: ContainerId,
        /// Where.
        node: NodeId,
        /// Runtime kind.
        kind: Arc<str>,
        /// Its memory limit, MB.
        memory_mb: u32,
        /// `None` for a prewarmed stem cell; otherwise an `Init` for this action follows.
        action: Option<ActionKey>,
    },
    /// Give a started container its action's code, answered by `initialised` or `failed`.
    Init {
        /// The container.
        container: ContainerId,
        /// The action it will run from now on.
        action: ActionKey,
    },
    /// Run an activation in a ready container, answered by `finished`.
    Run {
        /// The activation.
        activation: ActivationRef,
        /// The container.
        container: ContainerId,
        /// The action's time limit runs out at this instant: the executor ends the run.
        deadline: Time,
        /// The activation waited for this container's start or init (a cold start).
        cold: bool,
    },
    /// Freeze an idle container (it keeps its memory).
    Pause {
        /// The container.
        container: ContainerId,
    },
    /// Thaw a paused container.
    Resume {
        /// The container.
        container: ContainerId,
    },
    /// Kill a container and release its resources. Its id is never reused.
    Remove {
        /// The container.
        container: ContainerId,
    },
    /// The activation will not run.
    Fail {
        /// The activation.
        activation: ActivationRef,
        /// Why.
        failure: Failure,
    },
}

/// Why an activation did not run.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The action needs more memory than any node has.
    TooBig {
        /// The action's memory limit, MB.
        need_mb: u32,
        /// The largest node's memory, MB.
        largest_mb: u64,
    },
    /// The container it waited for could not start or initialise.
    Container {
        /// The executor's description (OpenWhisk's message for the case).
        message: Arc<str>,
        /// The failure was the time limit running out.
        timeout: bool,
        /// The platform failed (no resources, no executable), not the action.
        internal: bool,
        /// What the container logged before failing (OpenWhisk shows init logs).
        logs: Arc<[String]>,
    },
    /// The action it targets is not deployed (removed while the activation was queued).
    NotDeployed,
    /// The model is shutting down.
    Shutdown,
}

/// Lifecycle state of a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    /// The process is being started.
    Starting,
    /// The action's code is being injected.
    Initialising,
    /// A started stem cell waiting for an action (prewarm).
    Prewarmed,
    /// Ready, running `n` activations (n ≥ 1).
    Running(u32),
    /// Ready and idle.
    Idle,
    /// Frozen after the pause grace; resumed on reuse.
    Paused,
}

impl ContainerState {
    /// Lower-case name for tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            ContainerState::Starting => "starting",
            ContainerState::Initialising => "initialising",
            ContainerState::Prewarmed => "prewarmed",
            ContainerState::Running(_) => "running",
            ContainerState::Idle => "idle",
            ContainerState::Paused => "paused",
        }
    }
}

/// A container as [`crate::Model::discover`] and the policies see it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerView {
    /// Id.
    pub id: ContainerId,
    /// Node it lives on.
    pub node: NodeId,
    /// Action it runs (`None` for a stem cell).
    pub action: Option<ActionKey>,
    /// Runtime kind.
    pub kind: Arc<str>,
    /// Memory limit, MB.
    pub memory_mb: u32,
    /// State.
    pub state: ContainerState,
    /// Activations running in it now.
    pub active: u32,
    /// Last time it started or finished an activation (or became ready).
    pub last_used: Time,
    /// Activations it has run.
    pub runs: u64,
}

/// One replica of an action, as `discover` lists it.
pub type Replica = ContainerView;

/// A node as the placement policies see it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeView {
    /// Index.
    pub id: NodeId,
    /// Name from the config.
    pub name: Arc<str>,
    /// Memory capacity, MB.
    pub memory_mb: u64,
    /// Memory reserved by live containers, MB.
    pub used_mb: u64,
    /// Of which idle, paused or prewarmed containers that could be evicted, MB.
    pub evictable_mb: u64,
    /// CPU share (cores).
    pub cpus: f64,
    /// Activations running on the node.
    pub active: u32,
    /// Live containers.
    pub containers: u32,
    /// Whether the node can take the activation being placed now (a warm container with a
    /// free slot, a matching stem cell, or memory, possibly after eviction).
    pub fits: bool,
    /// Whether it has a warm container of the action with a free slot.
    pub warm: bool,
}

impl NodeView {
    /// Share of memory reserved, 0..=1.
    pub fn memory_load(&self) -> f64 {
        if self.memory_mb == 0 {
            1.0
        } else {
            self.used_mb as f64 / self.memory_mb as f64
        }
    }

    /// Running activations per core.
    pub fn cpu_load(&self) -> f64 {
        if self.cpus <= 0.0 {
            f64::INFINITY
        } else {
            f64::from(self.active) / self.cpus
        }
    }
}
