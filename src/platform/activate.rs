//! Starting an activation of a resolved action: a container activation through the
//! scheduler, or a sequence, which the platform runs itself component after component
//! (each with its own activation, `cause` = the sequence's) as OpenWhisk's controller does.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tokio::sync::oneshot;

use super::action::{MAX_SEQUENCE_LENGTH, SEQUENCE};
use super::activation::{Activation, Entity, Status};
use super::ids::Id;
use super::invoke::Invocation;
use super::limits::{InFlight, Throttle};
use super::resolve::{self, Target};
use super::store::Namespace;
use super::Shared;
use crate::timefmt::{epoch_ms, epoch_us};

/// An admitted request to run a resolved action.
pub struct Start {
    /// The activation id it will have.
    pub id: Id,
    /// The invoking namespace.
    pub caller: Arc<Namespace>,
    /// What to run.
    pub target: Target,
    /// The invocation's own parameters (package and action defaults go under them).
    pub params: Map<String, Value>,
    /// Transaction id.
    pub transaction_id: String,
    /// When the request was received.
    pub received: Instant,
    /// The namespace's concurrency slot, held until the record is stored.
    pub admission: InFlight,
    /// The sequence this runs inside, if any.
    pub cause: Option<Id>,
}

/// Start `start`; its record arrives on the returned channel (and is stored either way).
pub fn launch(shared: &Arc<Shared>, start: Start) -> oneshot::Receiver<Arc<Activation>> {
    if &*start.target.action.exec.kind == SEQUENCE {
        let (tx, rx) = oneshot::channel();
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut budget = MAX_SEQUENCE_LENGTH;
            let record = sequence(&shared, start, &mut budget).await;
            let _ = tx.send(record);
        });
        return rx;
    }
    let params = start.target.params(start.params);
    shared.scheduler.submit(
        shared,
        Invocation {
            id: start.id,
            namespace: start.caller.name.clone(),
            action: start.target.action,
            params,
            transaction_id: start.transaction_id,
            received: start.received,
            admission: start.admission,
            cause: start.cause,
        },
    )
}

/// How one component ended, as far as the sequence cares.
struct Step {
    status: Status,
    result: Box<RawValue>,
}

fn error_step(message: &str) -> Step {
    let text = serde_json::json!({ "error": message }).to_string();
    Step {
        status: Status::ApplicationError,
        result: RawValue::from_string(text).unwrap_or_else(|_| empty()),
    }
}

fn empty() -> Box<RawValue> {
    RawValue::from_string("{}".into()).expect("{} is JSON")
}

/// Run a sequence; `budget` is how many more actions it (and the sequences around it)
/// may run. Boxed: sequences nest.
fn sequence<'a>(
    shared: &'a Arc<Shared>,
    start: Start,
    budget: &'a mut usize,
) -> Pin<Box<dyn Future<Output = Arc<Activation>> + Send + 'a>> {
    Box::pin(async move {
        let began = SystemTime::now();
        let began_at = Instant::now();
        let seq = start.target.action.clone();
        // The sequence's own defaults apply to its input, under the invocation's.
        let mut input = start.target.package_params.clone();
        input.extend(seq.defaults.iter().map(|(k, v)| (k.clone(), v.clone())));
        input.extend(start.params);
        let mut ids = Vec::with_capacity(seq.exec.components.len());
        let mut duration_us = 0u64;
        let mut last = Step {
            status: Status::Success,
            result: RawValue::from_string(Value::Object(input.clone()).to_string())
                .unwrap_or_else(|_| empty()),
        };
        for component in &seq.exec.components {
            if *budget == 0 {
                last = error_step("Too many actions in the sequence.");
                break;
            }
            *budget -= 1;
            let target = match resolve::qualified(shared, &start.caller, component) {
                Ok(t) => t,
                Err(_) => {
                    last = error_step(&format!("Sequence component does not exist: {component}."));
                    break;
                }
            };
            let id = Id::generate();
            let inner = Start {
                id,
                caller: start.caller.clone(),
                target,
                params: std::mem::take(&mut input),
                transaction_id: start.transaction_id.clone(),
                received: Instant::now(),
                admission: Throttle::admit_unchecked(&start.caller),
                cause: Some(start.id),
            };
            let record = if &*inner.target.action.exec.kind == SEQUENCE {
                sequence(shared, inner, budget).await
            } else {
                match launch(shared, inner).await {
                    Ok(r) => r,
                    Err(_) => {
                        last = error_step("The platform is shutting down.");
                        last.status = Status::InternalError;
                        break;
                    }
                }
            };
            ids.push(record.id.to_string());
            duration_us += record.duration_us;
            last = Step {
                status: record.status,
                result: record.result.clone(),
            };
            if record.status != Status::Success {
                break;
            }
            // The next component's input is this one's result (an object; anything else
            // passes nothing).
            input = serde_json::from_str(record.result.get()).unwrap_or_default();
        }
        let end = SystemTime::now();
        let activation = Arc::new(Activation {
            id: start.id,
            namespace: start.caller.name.clone(),
            name: seq.name.clone(),
            version: seq.version.clone(),
            path: seq.path.clone(),
            kind: seq.exec.kind.clone(),
            limits: seq.limits,
            start: epoch_ms(began),
            start_us: epoch_us(began),
            end: epoch_ms(end).max(epoch_ms(began)),
            status: last.status,
            result: last.result,
            logs: ids,
            timeout: false,
            wait_us: began_at
                .saturating_duration_since(start.received)
                .as_micros() as u64,
            init_us: None,
            duration_us,
            node: None,
            container: None,
            cause: start.cause,
            entity: Entity::Sequence,
        });
        shared.activations.insert(activation.clone());
        drop(start.admission);
        activation
    })
}
