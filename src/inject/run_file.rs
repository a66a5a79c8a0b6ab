//! The injector's part of `run.yaml`: the trace, the platform, the schedule and the limits
//! of the run, resolved, so that the run can be repeated (keys redacted).

use serde::Serialize;

use crate::cli::{InjectArgs, OverloadPolicy};
use crate::config::Target;
use crate::monitor::choose::MonitorInfo;
use crate::trace::{FunctionSpec, TraceHeader, UserSpec};

/// The inject-specific sections of run.yaml.
#[derive(Serialize)]
pub struct Details {
    trace: TraceInfo,
    platform: PlatformInfo,
    schedule: Schedule,
    limits: Limits,
}

#[derive(Serialize)]
struct TraceInfo {
    path: String,
    sources: Vec<String>,
    seed: u64,
    blocking: bool,
    functions: Vec<FunctionSpec>,
    users: Vec<UserSpec>,
}

#[derive(Serialize)]
struct PlatformInfo {
    target: Target,
    apihost: String,
    monitor: MonitorInfo,
}

#[derive(Serialize)]
struct Schedule {
    mode: &'static str,
    closed_loop_users: Option<u32>,
    speed: f64,
    duration_s: Option<f64>,
    max_invocations: Option<u64>,
    blocking_override: Option<bool>,
}

#[derive(Serialize)]
struct Limits {
    max_in_flight: u32,
    on_overload: OverloadPolicy,
    connections: u32,
    request_timeout_s: f64,
    fetch_concurrency: u32,
    fetch_timeout_s: f64,
    drain_timeout_s: f64,
}

/// The sections for this run.
pub fn details(
    args: &InjectArgs,
    target: &Target,
    apihost: &str,
    monitor: &MonitorInfo,
    header: &TraceHeader,
    functions: &[FunctionSpec],
) -> Details {
    let users = header
        .users
        .iter()
        .map(|u| UserSpec {
            auth: u.auth.as_ref().map(|_| "<redacted>".to_string()),
            ..u.clone()
        })
        .collect();
    Details {
        trace: TraceInfo {
            path: args.trace.display().to_string(),
            sources: header.sources.clone(),
            seed: header.seed,
            blocking: header.blocking,
            functions: functions.to_vec(),
            users,
        },
        platform: PlatformInfo {
            target: target.clone(),
            apihost: apihost.to_string(),
            monitor: monitor.clone(),
        },
        schedule: Schedule {
            mode: if args.closed_loop.is_some() {
                "closed"
            } else {
                "open"
            },
            closed_loop_users: args.closed_loop,
            speed: args.speed,
            duration_s: args.duration.map(|d| d.as_secs_f64()),
            max_invocations: args.max_invocations,
            blocking_override: super::blocking_override(args),
        },
        limits: Limits {
            max_in_flight: args.max_in_flight,
            on_overload: args.on_overload,
            connections: args.connections,
            request_timeout_s: args.request_timeout.as_secs_f64(),
            fetch_concurrency: args.fetch_concurrency,
            fetch_timeout_s: args.fetch_timeout.as_secs_f64(),
            drain_timeout_s: args.drain_timeout.as_secs_f64(),
        },
    }
}
