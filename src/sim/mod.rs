//! `gale simulate`: the platform model ([`crate::model`]) driven in virtual time.
//!
//! A discrete-event driver ([`driver`]) feeds the same model `gale platform` runs with the
//! trace's arrivals and executes its commands with modelled durations ([`profile`],
//! [`dist`]): container start, init, resume, and runs whose CPU work shares each node's
//! cores by processor sharing ([`cpu`]). Timed FaaS-system operations ([`ops`]) act at
//! their instants. Rows go to a [`record::Sink`]; [`stats`] keeps the summary. Same
//! inputs and seed, same rows: nothing reads a clock, ties go by a sequence number
//! ([`queue`]), and every random stream is seeded per function.

pub mod cpu;
pub mod dist;
pub mod driver;
pub mod fidelity;
pub mod fit;
pub mod ops;
pub mod output;
pub mod profile;
pub mod queue;
pub mod record;
pub mod run;
pub mod stats;
pub mod sweep;

#[cfg(test)]
mod tests;

pub use driver::{simulate, Report, Settings, SimError};
