//! Running one activation: get a container from the pool, exchange one ActionLoop line with
//! it, turn the outcome into an OpenWhisk activation record, store it.

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
use super::pool::{AcquireError, ActionSpec, ContainerPool};
use super::process::{InitError, InitFailure, RunEnd, SpawnError, MAX_RESULT_BYTES};
use super::Shared;
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

/// Run an admitted invocation to completion and store its record.
pub async fn execute(shared: Arc<Shared>, inv: Invocation) -> Arc<Activation> {
    let action = &inv.action;
    let limit = Duration::from_millis(action.limits.timeout);
    let spec = ActionSpec {
        rev: action.rev,
        kind: action.exec.kind.clone(),
        memory_mb: action.limits.memory,
        path: action.path.clone(),
        init: action.init.clone(),
    };
    let acquired = shared.pool.acquire(&spec, Instant::now() + limit).await;
    let mut acquired = match acquired {
        Ok(a) => a,
        Err(err) => {
            let (outcome, start, start_at, init) = failed_start(err, action.limits.timeout);
            return finish(&shared, &inv, outcome, start, start_at, init, None);
        }
    };
    // A cold start's interval begins at the spawn (OpenWhisk: at /init), so `duration`
    // includes the init time and `waitTime` is the queueing before it.
    let (start, start_at, init) = match acquired.cold {
        Some(cold) => (cold.started, cold.started_at, Some(cold.init_time)),
        None => (SystemTime::now(), Instant::now(), None),
    };
    let run_start = Instant::now();
    let deadline_ms = (epoch_ms(SystemTime::now()) + action.limits.timeout).to_string();
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
        shared.pool.release(acquired.container);
        let outcome = Outcome::error(
            Status::InternalError,
            "Failed to encode the activation input.",
        );
        return finish(&shared, &inv, outcome, start, start_at, init, None);
    }
    line.push(b'\n');
    let log_limit = action.limits.logs as usize * 1024 * 1024;
    let output = acquired
        .container
        .process
        .run(&line, run_start + limit, log_limit)
        .await;
    let container_id = acquired.container.id;
    let (mut outcome, healthy) = match output.end {
        RunEnd::Result(raw) => {
            let o = classify(raw);
            let healthy = o.status != Status::DeveloperError;
            (o, healthy)
        }
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
    outcome.logs = match std::mem::take(&mut acquired.init_logs) {
        init if init.is_empty() => output.logs,
        init => init.into_iter().chain(output.logs).collect(),
    };
    if !output.complete_logs && outcome.status == Status::DeveloperError {
        outcome.logs.push(format!(
            "{} stderr: The action did not initialize or run as expected. Log data might be missing.",
            crate::timefmt::rfc3339_nanos(SystemTime::now())
        ));
    }
    // OpenWhisk destroys a container after any developer error: its state is unknown.
    if healthy {
        shared.pool.release(acquired.container);
    } else {
        shared.pool.discard(acquired.container);
    }
    finish(
        &shared,
        &inv,
        outcome,
        start,
        start_at,
        init,
        Some(container_id),
    )
}

/// The record of an activation whose container could not be had.
fn failed_start(
    err: AcquireError,
    timeout_ms: u64,
) -> (Outcome, SystemTime, Instant, Option<Duration>) {
    match err {
        AcquireError::Spawn { error, cold } => {
            let outcome = match error {
                SpawnError::Exited => init_failed(InitFailure::Exited.into(), timeout_ms),
                SpawnError::Timeout => init_failed(InitFailure::Timeout.into(), timeout_ms),
                SpawnError::Init(e) => init_failed(e, timeout_ms),
                SpawnError::Exec(e) => {
                    tracing::error!("cannot start an action process: {e}");
                    Outcome::error(
                        Status::InternalError,
                        &format!("Failed to provision resources to run the action. ({e})"),
                    )
                }
            };
            (outcome, cold.started, cold.started_at, Some(cold.init_time))
        }
        AcquireError::TooBig { need, capacity } => (
            Outcome::error(
                Status::InternalError,
                &format!(
                    "Failed to provision resources to run the action. (memory limit {need} MB exceeds the pool's {capacity} MB)"
                ),
            ),
            SystemTime::now(),
            Instant::now(),
            None,
        ),
        AcquireError::Shutdown => (
            Outcome::error(Status::InternalError, "The platform is shutting down."),
            SystemTime::now(),
            Instant::now(),
            None,
        ),
    }
}

/// OpenWhisk's record of a failed init: a developer error, the runtime's message (or the
/// crash or timeout text), and what the init logged.
fn init_failed(e: InitError, timeout_ms: u64) -> Outcome {
    let mut o = match e.kind {
        InitFailure::Refused(m) => Outcome::error(Status::DeveloperError, &m),
        InitFailure::BadAnswer(body) => Outcome::error(
            Status::DeveloperError,
            &format!("The action failed during initialization: {body}"),
        ),
        InitFailure::Exited => Outcome::error(
            Status::DeveloperError,
            "The action did not initialize and exited unexpectedly.",
        ),
        InitFailure::Timeout => {
            let mut o = Outcome::error(
                Status::DeveloperError,
                &format!("The action exceeded its time limits of {timeout_ms} milliseconds during initialization."),
            );
            o.timeout = true;
            o
        }
    };
    o.logs = e.logs;
    o
}

fn finish(
    shared: &Shared,
    inv: &Invocation,
    outcome: Outcome,
    start: SystemTime,
    start_at: Instant,
    init: Option<Duration>,
    container: Option<u64>,
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
        container,
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
