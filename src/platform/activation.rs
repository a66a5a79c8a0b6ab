//! Activation records: what an activation produced, OpenWhisk's JSON views of it, and the
//! bounded in-memory store they are fetched from.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

use super::action::ActionLimits;
use super::ids::Id;

/// OpenWhisk's activation status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 0
    Success,
    /// 1: the action returned `{"error":…}`.
    ApplicationError,
    /// 2: timeout, crash, bad output.
    DeveloperError,
    /// 3: the platform failed.
    InternalError,
}

impl Status {
    /// The numeric code (`statusCode`).
    pub fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::ApplicationError => 1,
            Status::DeveloperError => 2,
            Status::InternalError => 3,
        }
    }

    /// The `response.status` text.
    pub fn text(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::ApplicationError => "application error",
            Status::DeveloperError => "action developer error",
            Status::InternalError => "whisk internal error",
        }
    }
}

/// What an activation is of: OpenWhisk records triggers and sequences as activations too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// An action run in a container.
    Action,
    /// A sequence: its components have their own activations (listed in `logs`).
    Sequence,
    /// A trigger fire: `logs` has one JSON line per rule it started.
    Trigger,
}

/// A completed activation.
#[derive(Debug)]
pub struct Activation {
    /// Id (32 hex).
    pub id: Id,
    /// Invoking namespace, resolved.
    pub namespace: Arc<str>,
    /// Action name.
    pub name: Arc<str>,
    /// Action version.
    pub version: Arc<str>,
    /// `ns/name`.
    pub path: Arc<str>,
    /// Runtime kind.
    pub kind: Arc<str>,
    /// Action limits at invocation.
    pub limits: ActionLimits,
    /// Epoch ms: init start on a cold start, run start otherwise.
    pub start: u64,
    /// Epoch ms.
    pub end: u64,
    /// Epoch µs of `start` (`gale.startUs`), so a monitor window can be finer than 1 ms.
    pub start_us: u64,
    /// Outcome.
    pub status: Status,
    /// The result object, verbatim.
    pub result: Box<RawValue>,
    /// Log lines.
    pub logs: Vec<String>,
    /// The time limit was reached.
    pub timeout: bool,
    /// Receipt to start, µs.
    pub wait_us: u64,
    /// Cold start: spawn to ready, µs.
    pub init_us: Option<u64>,
    /// Start to end, µs (includes init on a cold start).
    pub duration_us: u64,
    /// Node that ran it (`None` if it never got a container).
    pub node: Option<Arc<str>>,
    /// Container that ran it (`None` if none could be started).
    pub container: Option<u64>,
    /// The sequence whose component this is (OpenWhisk's `cause`).
    pub cause: Option<Id>,
    /// Action, sequence or trigger.
    pub entity: Entity,
}

impl Activation {
    /// `end − start`, ms; for a sequence, the sum of its components' durations, as
    /// OpenWhisk records it.
    pub fn duration_ms(&self) -> u64 {
        match self.entity {
            Entity::Sequence => self.duration_us / 1000,
            _ => self.end.saturating_sub(self.start),
        }
    }

    fn size(&self) -> usize {
        self.result.get().len()
    }
}

/// The extended JSON of OpenWhisk (blocking invoke, GET, `docs=true`).
pub struct Extended<'a>(pub &'a Activation);
/// The list summary (`docs=false`): no response, logs or subject; top-level `statusCode`.
pub struct Summary<'a>(pub &'a Activation);
/// `GET …/result`: `{result, success, status, size}`.
pub struct ResultView<'a>(pub &'a Activation);
/// `GET …/logs`: `{logs}`.
pub struct LogsView<'a>(pub &'a Activation);

struct Response<'a>(&'a Activation);
struct Annotations<'a>(&'a Activation);

fn kv<S: SerializeSeq, T: Serialize + ?Sized>(
    seq: &mut S,
    key: &str,
    value: &T,
) -> Result<(), S::Error> {
    #[derive(Serialize)]
    struct Kv<'k, T: Serialize + ?Sized> {
        key: &'k str,
        value: &'k T,
    }
    seq.serialize_element(&Kv { key, value })
}

impl Serialize for Annotations<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut seq = s.serialize_seq(None)?;
        kv(&mut seq, "path", &*a.path)?;
        if a.entity == Entity::Trigger {
            return seq.end();
        }
        if a.cause.is_some() {
            kv(&mut seq, "causedBy", "sequence")?;
        }
        if a.entity == Entity::Sequence {
            kv(&mut seq, "kind", "sequence")?;
            if a.cause.is_none() {
                kv(&mut seq, "topmost", &true)?;
            }
            kv(&mut seq, "limits", &a.limits)?;
            kv(&mut seq, "waitTime", &(a.wait_us / 1000))?;
            kv(&mut seq, "gale.startUs", &a.start_us)?;
            kv(&mut seq, "gale.durationUs", &a.duration_us)?;
            return seq.end();
        }
        kv(&mut seq, "kind", &*a.kind)?;
        kv(&mut seq, "limits", &a.limits)?;
        kv(&mut seq, "timeout", &a.timeout)?;
        kv(&mut seq, "waitTime", &(a.wait_us / 1000))?;
        if let Some(init) = a.init_us {
            kv(&mut seq, "initTime", &(init / 1000))?;
        }
        if let Some(node) = &a.node {
            kv(&mut seq, "gale.node", &**node)?;
        }
        if let Some(c) = a.container {
            kv(&mut seq, "gale.container", &format_args!("c{c}"))?;
        }
        kv(&mut seq, "gale.startUs", &a.start_us)?;
        kv(&mut seq, "gale.waitTimeUs", &a.wait_us)?;
        if let Some(init) = a.init_us {
            kv(&mut seq, "gale.initTimeUs", &init)?;
        }
        kv(&mut seq, "gale.durationUs", &a.duration_us)?;
        seq.end()
    }
}

impl Serialize for Response<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("status", a.status.text())?;
        m.serialize_entry("success", &(a.status == Status::Success))?;
        m.serialize_entry("result", &*a.result)?;
        m.serialize_entry("size", &a.size())?;
        m.end()
    }
}

fn common<M: SerializeMap>(m: &mut M, a: &Activation) -> Result<(), M::Error> {
    m.serialize_entry("namespace", &*a.namespace)?;
    m.serialize_entry("name", &*a.name)?;
    m.serialize_entry("version", &*a.version)?;
    Ok(())
}

impl Serialize for Extended<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut m = s.serialize_map(None)?;
        common(&mut m, a)?;
        m.serialize_entry("subject", &*a.namespace)?;
        m.serialize_entry("publish", &false)?;
        m.serialize_entry("activationId", &a.id)?;
        m.serialize_entry("start", &a.start)?;
        m.serialize_entry("end", &a.end)?;
        m.serialize_entry("duration", &a.duration_ms())?;
        if let Some(cause) = &a.cause {
            m.serialize_entry("cause", cause)?;
        }
        m.serialize_entry("response", &Response(a))?;
        m.serialize_entry("logs", &a.logs)?;
        m.serialize_entry("annotations", &Annotations(a))?;
        m.end()
    }
}

impl Serialize for Summary<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut m = s.serialize_map(None)?;
        common(&mut m, a)?;
        m.serialize_entry("publish", &false)?;
        m.serialize_entry("annotations", &Annotations(a))?;
        m.serialize_entry("activationId", &a.id)?;
        m.serialize_entry("start", &a.start)?;
        m.serialize_entry("end", &a.end)?;
        m.serialize_entry("duration", &a.duration_ms())?;
        if let Some(cause) = &a.cause {
            m.serialize_entry("cause", cause)?;
        }
        m.serialize_entry("statusCode", &a.status.code())?;
        m.end()
    }
}

impl Serialize for ResultView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("result", &*a.result)?;
        m.serialize_entry("success", &(a.status == Status::Success))?;
        m.serialize_entry("status", a.status.text())?;
        m.serialize_entry("size", &a.size())?;
        m.end()
    }
}

impl Serialize for LogsView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry("logs", &self.0.logs)?;
        m.end()
    }
}

/// Filter of an activation listing.
#[derive(Debug, Default)]
pub struct ListFilter<'a> {
    /// Only this action name: `name` (top-level, or any package's action of that name
    /// when OpenWhisk's own filter would match it too) or `package/name`.
    pub name: Option<&'a str>,
    /// `start >= since` (epoch ms).
    pub since: Option<u64>,
    /// `start <= upto` (epoch ms).
    pub upto: Option<u64>,
}

/// `name` matches the action's name; `pkg/name` the last two segments of its path.
fn name_matches(a: &Activation, name: &str) -> bool {
    match name.split_once('/') {
        None => *a.name == *name,
        Some(_) => a
            .path
            .strip_suffix(name)
            .is_some_and(|head| head.ends_with('/')),
    }
}

/// The last `capacity` activations, by id and in completion order.
pub struct ActivationStore {
    capacity: usize,
    /// Bytes of log text kept over all records; the oldest records go first beyond it.
    log_budget: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_id: HashMap<Id, Arc<Activation>>,
    order: VecDeque<Id>,
    /// Log bytes of the records held (see [`log_bytes`]).
    log_bytes: usize,
    /// Long polls waiting for an activation to complete (gale's `gale_wait_ms`).
    waiters: HashMap<Id, Vec<tokio::sync::oneshot::Sender<()>>>,
}

/// The memory a record's logs take: their text plus a `String`'s bookkeeping per line.
fn log_bytes(a: &Activation) -> usize {
    a.logs.iter().map(|l| l.len() + 24).sum()
}

/// Most ids with long polls waiting at once; past it a poll answers at once (404).
const MAX_WAITED_IDS: usize = 100_000;

impl ActivationStore {
    /// A store keeping at most `capacity` records and `log_budget` bytes of their logs (the
    /// oldest are dropped first).
    pub fn new(capacity: usize, log_budget: usize) -> Self {
        ActivationStore {
            capacity: capacity.max(1),
            log_budget,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Log bytes held now (for tests and the admin view).
    pub fn log_bytes(&self) -> usize {
        self.lock().log_bytes
    }

    /// Records held now.
    pub fn len(&self) -> usize {
        self.lock().order.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Store a completed activation.
    pub fn insert(&self, a: Arc<Activation>) {
        let mut inner = self.lock();
        let bytes = log_bytes(&a);
        // Memory is bounded by both the count and the log bytes (a record's own logs are
        // capped by its action's `limits.logs`; 80 records of 10 MB were 800 MB before).
        while inner.order.len() >= self.capacity
            || (!inner.order.is_empty() && inner.log_bytes + bytes > self.log_budget)
        {
            let Some(old) = inner.order.pop_front() else {
                break;
            };
            if let Some(gone) = inner.by_id.remove(&old) {
                inner.log_bytes -= log_bytes(&gone);
            }
        }
        inner.log_bytes += bytes;
        inner.order.push_back(a.id);
        if let Some(waiting) = inner.waiters.remove(&a.id) {
            for w in waiting {
                let _ = w.send(());
            }
        }
        inner.by_id.insert(a.id, a);
    }

    /// A stored activation of `namespace`, waiting up to `wait` for it to complete (a
    /// long poll: a client waiting for a non-blocking activation's end sends one request
    /// instead of polling).
    pub async fn wait_for(
        &self,
        namespace: &str,
        id: &Id,
        wait: std::time::Duration,
    ) -> Option<Arc<Activation>> {
        let rx = {
            let mut inner = self.lock();
            if let Some(a) = inner.by_id.get(id) {
                return Some(a.clone()).filter(|a| &*a.namespace == namespace);
            }
            if inner.waiters.len() >= MAX_WAITED_IDS && !inner.waiters.contains_key(id) {
                return None;
            }
            let (tx, rx) = tokio::sync::oneshot::channel();
            inner.waiters.entry(*id).or_default().push(tx);
            rx
        };
        if tokio::time::timeout(wait, rx).await.is_err() {
            // Given up: take this poll's (now closed) sender out with any other closed one.
            let mut inner = self.lock();
            if let Some(w) = inner.waiters.get_mut(id) {
                w.retain(|tx| !tx.is_closed());
                if w.is_empty() {
                    inner.waiters.remove(id);
                }
            }
        }
        self.get(namespace, id)
    }

    /// A stored activation of `namespace`.
    pub fn get(&self, namespace: &str, id: &Id) -> Option<Arc<Activation>> {
        self.lock()
            .by_id
            .get(id)
            .filter(|a| &*a.namespace == namespace)
            .cloned()
    }

    /// Matching activations of `namespace`, newest `start` first.
    pub fn list(&self, namespace: &str, filter: &ListFilter<'_>) -> Vec<Arc<Activation>> {
        let mut found: Vec<Arc<Activation>> = {
            let inner = self.lock();
            inner
                .order
                .iter()
                .rev()
                .filter_map(|id| inner.by_id.get(id))
                .filter(|a| &*a.namespace == namespace)
                .filter(|a| filter.name.is_none_or(|n| name_matches(a, n)))
                .filter(|a| filter.since.is_none_or(|s| a.start >= s))
                .filter(|a| filter.upto.is_none_or(|u| a.start <= u))
                .cloned()
                .collect()
        };
        // Completion order is nearly start order; the stable sort only fixes overlaps.
        found.sort_by_key(|a| std::cmp::Reverse(a.start));
        found
    }
}
