//! gale: a workload injector and dataset generator for Function-as-a-Service platforms.
//!
//! The binary (`src/main.rs`) parses the command line and calls into these modules:
//! - [`trace`]: the trace model and its readers (YAML, CSV, FaaSLoad directories, arrival specs);
//! - [`backend`]: the client side of a platform (OpenWhisk REST), used by the injector;
//! - [`inject`]: the injector engine (open/closed loop dispatch, records, summary);
//! - [`model`]: the platform model (sans-I/O scheduling and container lifecycle);
//! - [`platform`]: the embedded OpenWhisk-compatible platform;
//! - [`monitor`]: the cgroup sampler and its measurement socket;
//! - [`cgroup`]: where the cgroup hierarchies are mounted (shared by platform and monitor);
//! - [`unix_socket`]: binding the monitor's and the platform's sockets (mode 0660);
//! - [`config`]: run settings, `~/.wskprops`, the resolved run description.
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod atomic;
pub mod backend;
pub mod cgroup;
pub mod cli;
pub mod config;
pub mod experiment;
pub mod fuzzing;
pub mod generate;
pub mod inject;
pub use gale_model as model;
pub mod monitor;
pub mod platform;
pub mod progress;
pub mod regular_file;
pub mod report;
pub mod signals;
pub mod sim;
pub mod timefmt;
pub mod trace;
pub mod units;
pub mod unix_socket;

/// The exit codes a script can rely on; docs/exit-codes.md is their one table.
pub mod exit {
    /// The run did what was asked, every check held.
    pub const SUCCESS: u8 = 0;
    /// The run could not start or finish: platform unreachable, key refused, functions
    /// missing on the platform, deploy failed, I/O error.
    pub const FAILURE: u8 = 1;
    /// Bad usage or bad input: command line, trace, configuration, result file.
    pub const BAD_INPUT: u8 = 2;
    /// A `--check` threshold is broken.
    pub const CHECK_FAILED: u8 = 3;
    /// The run went through, but no invocation (or dataset row) succeeded.
    pub const ALL_FAILED: u8 = 4;
    /// Stopped by SIGINT or SIGTERM; results are written.
    pub const INTERRUPTED: u8 = 130;
}

/// A command line that parsed but cannot be carried out as given (exit code 2), e.g. a
/// result directory that is not empty.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Exit code for an error that reached `main`: 2 for bad input, 1 for anything else.
pub fn exit_code_of(err: &anyhow::Error) -> u8 {
    let bad_input = |e: &(dyn std::error::Error + 'static)| {
        e.is::<trace::TraceError>()
            || e.is::<UsageError>()
            || e.is::<config::ConfigError>()
            || e.is::<report::check::CheckError>()
            || e.is::<report::analysis::InputError>()
            || e.downcast_ref::<report::ReadError>()
                .is_some_and(|r| !matches!(r, report::ReadError::Io { .. }))
            || e.downcast_ref::<sim::SimError>()
                .is_some_and(sim::SimError::is_bad_input)
    };
    if err.chain().any(bad_input) {
        exit::BAD_INPUT
    } else {
        exit::FAILURE
    }
}
