//! Running one activation in a ready container: exchange one ActionLoop line with it, turn
//! the outcome into an OpenWhisk activation record, store it. (Which container runs it is
//! the scheduler's business.)

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::action::Action;
use super::activation::{Activation, Status};
use super::ids::Id;
use super::limits::InFlight;
use super::multiplex::Channel;
use super::process::{InitError, InitFailure, RunEnd, SpawnError, MAX_RESULT_BYTES};
use super::Shared;
use crate::model::Failure;
use crate::timefmt::epoch_ms;

/// An admitted invocation, ready to run.
pub struct Invocation {
    /// Its activation id.
    pub id: Id,
    /// Invoking namespace.
    pub namespace: Arc<str>,
    /// The action revision current at receipt.
    pub action: Arc<Action>,
    /// Invocation parameters (merged over the action's defaults when run).
    pub params: Map<String, Value>,
    /// Transaction id, passed to the action.
    pub transaction_id: String,
    /// When the controller received it.
    pub received: Instant,
    /// Holds the namespace's concurrency slot until the record is stored.
    pub admission: InFlight,
    /// The sequence this is a component of.
    pub cause: Option<Id>,
}

/// The `/run` body of the ActionLoop protocol.
#[derive(Serialize)]
struct RunBody<'a> {
    value: &'a Map<String, Value>,
    namespace: &'a str,
    action_name: &'a str,
    action_version: &'a str,
    activation_id: &'a Id,
    transaction_id: &'a str,
    /// Epoch ms as a *string*, as OpenWhisk's invoker sends it.
    deadline: &'a str,
}

/// Everything about an activation except where it ran.
struct Outcome {
    status: Status,
    result: Box<RawValue>,
    logs: Vec<String>,
    timeout: bool,
}

fn error_result(message: &str) -> Box<RawValue> {
    let text = serde_json::to_string(&serde_json::json!({ "error": message }))
        .unwrap_or_else(|_| "{\"error\":\"internal error\"}".into());
    RawValue::from_string(text).unwrap_or_else(|_| empty_object())
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".into()).expect("{} is JSON")
}

impl Outcome {
    fn error(status: Status, message: &str) -> Outcome {
        Outcome {
            status,
            result: error_result(message),
            logs: Vec::new(),
            timeout: false,
        }
    }
}

/// Classify a result line: an object with an `error` field is an application error, any
/// other object or an array is a success, anything else a developer error.
fn classify(raw: Box<RawValue>) -> Outcome {
    #[derive(Deserialize)]
    struct Probe {
        error: Option<IgnoredAny>,
    }
    let text = raw.get().trim_start();
    let status = if text.starts_with('{') {
        match serde_json::from_str::<Probe>(raw.get()) {
            Ok(Probe { error: Some(_) }) => Status::ApplicationError,
            _ => Status::Success,
        }
    } else if text.starts_with('[') {
        Status::Success
    } else {
        return Outcome::error(
            Status::DeveloperError,
            &format!(
                "The action did not produce a valid JSON response: {}",
                raw.get()
            ),
        );
    };
    Outcome {
        status,
        result: raw,
        logs: Vec::new(),
        timeout: false,
    }
}

/// Where an activation ran: the node and container named in its record.
#[derive(Debug, Clone)]
pub struct Placement {
    /// Node name (`gale.node`).
    pub node: Arc<str>,
    /// Container number (`gale.container` is `c<N>`).
    pub container: u64,
}

/// Timing of a cold start (OpenWhisk's `initTime`).
#[derive(Debug, Clone, Copy)]
pub struct ColdStart {
    /// Wall-clock instant the start began (process spawn, or the init of a stem cell).
    pub started: SystemTime,
    /// Same instant on the monotonic clock.
    pub started_at: Instant,
    /// Until the container was ready for this action.
    pub init_time: Duration,
}

/// Run an admitted invocation in a ready process (over `channel`) and store its record.
/// Returns the record and whether the container may be reused (OpenWhisk destroys it after
/// any developer error: its state is unknown).
pub async fn run(
    shared: &Shared,
    mut channel: Channel<'_>,
    inv: &Invocation,
    deadline: Instant,
    cold: Option<ColdStart>,
    init_logs: Vec<String>,
    placement: &Placement,
) -> (Arc<Activation>, bool) {
    let action = &inv.action;
    // A cold start's interval begins at the start (OpenWhisk: at /init), so `duration`
    // includes the init time and `waitTime` is the queueing before it.
    let (start, start_at, init) = match cold {
        Some(cold) => (cold.started, cold.started_at, Some(cold.init_time)),
        None => (SystemTime::now(), Instant::now(), None),
    };
    let deadline_ms = (epoch_ms(SystemTime::now())
        + deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as u64)
        .to_string();
    let action_name = format!("/{}", action.path);
    let merged;
    let value = if action.defaults.is_empty() {
        &inv.params
    } else {
        let mut m = action.defaults.clone();
        m.extend(inv.params.iter().map(|(k, v)| (k.clone(), v.clone())));
        merged = m;
        &merged
    };
    let mut line = Vec::with_capacity(256);
    let body = RunBody {
        value,
        namespace: &inv.namespace,
        action_name: &action_name,
        action_version: &action.version,
        activation_id: &inv.id,
        transaction_id: &inv.transaction_id,
        deadline: &deadline_ms,
    };
    if serde_json::to_writer(&mut line, &body).is_err() {
        let outcome = Outcome::error(
            Status::InternalError,
            "Failed to encode the activation input.",
        );
        let record = finish(shared, inv, outcome, start, start_at, init, Some(placement));
        return (record, true);
    }
    line.push(b'\n');
    let log_limit = action.limits.logs as usize * 1024 * 1024;
    let output = channel
        .run(inv.id.as_str(), &line, deadline, log_limit)
        .await;
    let (mut outcome, healthy) = match output.end {
        RunEnd::Result(raw) => {
            let o = classify(raw);
            let healthy = o.status != Status::DeveloperError;
            (o, healthy)
        }
        RunEnd::Failed(result) => (
            Outcome {
                status: Status::DeveloperError,
                result,
                logs: Vec::new(),
                timeout: false,
            },
            false,
        ),
        RunEnd::NotJson(body) => (
            Outcome::error(
                Status::DeveloperError,
                &format!("The action did not produce a valid JSON response: {body}"),
            ),
            false,
        ),
        RunEnd::TooLarge(len, cut) => (
            Outcome::error(
                Status::ApplicationError,
                &format!(
                    "The action produced a response that exceeded the allowed length: {len} > {MAX_RESULT_BYTES} bytes. The truncated response was: {cut}"
                ),
            ),
            true,
        ),
        RunEnd::Exited => (
            Outcome::error(
                Status::DeveloperError,
                "The action did not produce a valid response and exited unexpectedly.",
            ),
            false,
        ),
        RunEnd::Timeout => {
            let mut o = Outcome::error(
                Status::DeveloperError,
                &format!(
                    "The action exceeded its time limits of {} milliseconds.",
                    action.limits.timeout
                ),
            );
            o.timeout = true;
            (o, false)
        }
    };
    outcome.logs = match init_logs {
        init if init.is_empty() => output.logs,
        init => init.into_iter().chain(output.logs).collect(),
    };
    if !output.complete_logs && outcome.status == Status::DeveloperError {
        outcome.logs.push(format!(
            "{} stderr: The action did not initialize or run as expected. Log data might be missing.",
            crate::timefmt::rfc3339_nanos(SystemTime::now())
        ));
    }
    let record = finish(shared, inv, outcome, start, start_at, init, Some(placement));
    (record, healthy)
}

/// The record of an activation that did not run, stored.
pub fn failed(shared: &Shared, inv: &Invocation, failure: &Failure) -> Arc<Activation> {
    let outcome = match failure {
        Failure::Container {
            message,
            timeout,
            internal,
            logs,
        } => {
            let status = if *internal {
                Status::InternalError
            } else {
                Status::DeveloperError
            };
            let mut o = Outcome::error(status, message);
            o.timeout = *timeout;
            o.logs = logs.to_vec();
            o
        }
        Failure::TooBig { need_mb, largest_mb } => Outcome::error(
            Status::InternalError,
            &format!(
                "Failed to provision resources to run the action. (memory limit {need_mb} MB exceeds the largest node's {largest_mb} MB)"
            ),
        ),
        Failure::NotDeployed => Outcome::error(
            Status::InternalError,
            "The action was removed before it could run.",
        ),
        Failure::Shutdown => Outcome::error(Status::InternalError, "The platform is shutting down."),
    };
    finish(
        shared,
        inv,
        outcome,
        SystemTime::now(),
        Instant::now(),
        None,
        None,
    )
}

/// OpenWhisk's record of a container that could not start or initialise for an action with
/// time limit `timeout_ms`: a developer error with the runtime's message (or the crash or
/// timeout text) and what the init logged; an internal error when the platform failed.
pub fn start_failure(error: SpawnError, timeout_ms: u64) -> Failure {
    let init = match error {
        SpawnError::Exited => InitFailure::Exited.into(),
        SpawnError::Timeout => InitFailure::Timeout.into(),
        SpawnError::Init(e) => e,
        SpawnError::Exec(e) => {
            tracing::error!("cannot start an action process: {e}");
            return Failure::Container {
                message: format!("Failed to provision resources to run the action. ({e})").into(),
                timeout: false,
                internal: true,
                logs: Arc::new([]),
            };
        }
    };
    let InitError { kind, logs } = init;
    let (message, timeout) = match kind {
        InitFailure::Refused(m) => (m, false),
        InitFailure::BadAnswer(body) => (
            format!("The action failed during initialization: {body}"),
            false,
        ),
        InitFailure::Exited => (
            "The action did not initialize and exited unexpectedly.".to_string(),
            false,
        ),
        InitFailure::Timeout => (
            format!(
                "The action exceeded its time limits of {timeout_ms} milliseconds during initialization."
            ),
            true,
        ),
    };
    Failure::Container {
        message: message.into(),
        timeout,
        internal: false,
        logs: logs.into(),
    }
}

fn finish(
    shared: &Shared,
    inv: &Invocation,
    outcome: Outcome,
    start: SystemTime,
    start_at: Instant,
    init: Option<Duration>,
    placement: Option<&Placement>,
) -> Arc<Activation> {
    let end_at = Instant::now();
    let duration = end_at.saturating_duration_since(start_at);
    let start_ms = epoch_ms(start);
    let activation = Arc::new(Activation {
        id: inv.id,
        namespace: inv.namespace.clone(),
        name: inv.action.name.clone(),
        version: inv.action.version.clone(),
        path: inv.action.path.clone(),
        kind: inv.action.exec.kind.clone(),
        limits: inv.action.limits,
        start: start_ms,
        start_us: crate::timefmt::epoch_us(start),
        end: start_ms + duration.as_millis() as u64,
        status: outcome.status,
        result: outcome.result,
        logs: outcome.logs,
        timeout: outcome.timeout,
        wait_us: start_at.saturating_duration_since(inv.received).as_micros() as u64,
        init_us: init.map(|d| d.as_micros() as u64),
        duration_us: duration.as_micros() as u64,
        node: placement.map(|p| p.node.clone()),
        container: placement.map(|p| p.container),
        cause: inv.cause,
        entity: super::activation::Entity::Action,
    });
    shared.activations.insert(activation.clone());
    activation
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.into()).unwrap()
    }

    #[test]
    fn classifies_results() {
        assert_eq!(classify(raw(r#"{"a":1}"#)).status, Status::Success);
        assert_eq!(classify(raw(r#"[1]"#)).status, Status::Success);
        assert_eq!(
            classify(raw(r#"{"error":"x"}"#)).status,
            Status::ApplicationError
        );
        assert_eq!(
            classify(raw(r#"{"b":{"error":1}}"#)).status,
            Status::Success
        );
        assert_eq!(classify(raw(r#""text""#)).status, Status::DeveloperError);
    }
}
