//! The platform model: scheduling and container lifecycle as a sans-I/O state machine.
//!
//! Nothing here reads a clock, touches a socket or starts a process. A driver feeds events
//! in (an invocation arrived, a container started, an activation finished, time passed) and
//! drains [`Command`]s out (start a container on a node, initialise it, run an activation
//! in it, pause, resume, remove, fail an activation). Time is always an argument:
//! [`Model::poll_timeout`] says when the model next wants [`Model::handle_timeout`].
//!
//! `gale platform` executes the commands with real processes and cgroups on the wall clock;
//! a simulator can execute them in virtual time with modelled durations. Both therefore run
//! the same policy code, and tests drive the model directly with a fake clock.
//!
//! Structure, as OpenWhisk's controller and invokers: every invocation first gets a node
//! (the [`placement`] policy, over the nodes that can take it), then on that node a warm
//! container of the action (the [`balance`] policy), else a prewarmed stem cell of its kind,
//! else a new container, evicting idle containers under memory pressure ([`keepalive`]).
//! When no node can take it, it waits in a FIFO queue. [`autoscale`] policies add or remove
//! replicas on a period; the FaaS-system operations (deploy, remove, discover, scale_up,
//! scale_down, suspend) are methods of [`Model`].

#![forbid(unsafe_code)]

pub mod admission;
pub mod autoscale;
pub mod balance;
pub mod config;
mod core;
pub mod keepalive;
mod lifecycle;
mod ops;
pub mod placement;
mod schedule;
mod state;
mod timers;
mod types;

pub use self::config::{
    ActionSettings, ActionSpec, AutoscaleConfig, KeepAliveConfig, ModelConfig, NodeConfig,
    PrewarmConfig, Warming,
};
pub use self::core::{Event, Model};
pub use self::state::IdHasher;
pub use self::types::{
    ActionKey, ActivationRef, Command, ContainerId, ContainerState, ContainerView, Failure, Nanos,
    NodeId, NodeView, Replica, Time,
};

/// Nanoseconds in a millisecond, for readable durations in model time.
pub const MS: Nanos = 1_000_000;
/// Nanoseconds in a second.
pub const SECOND: Nanos = 1_000_000_000;

#[cfg(test)]
mod tests;
