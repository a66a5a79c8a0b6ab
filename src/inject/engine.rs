//! The injector engine: a reader thread streams trace rows, a dispatcher thread releases
//! them at their instants (open loop) or N user tasks send them back to back (closed loop),
//! and a writer thread turns replies into records.
//!
//! In the open loop the dispatcher thread also carries the requests: it runs a
//! single-threaded runtime of its own, writes each request at its instant and reads the
//! replies between instants. Nothing crosses a thread between an instant and its send, so
//! the send is as punctual as the thread's own wake-up (see docs/benchmarks.md).
//!
//! Every invocation ends as exactly one record: sent and answered, failed, shed at the
//! in-flight cap, or interrupted by a stop.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::{watch, Notify, Semaphore};

use super::clock::{now_ns, Alarm};
use super::invocation::{fetch, invoke, not_sent, Ctx};
pub use super::rows::row_limit;
use super::rows::{next_row_from, spawn_reader, RowStream};
use crate::backend::completion::Poller;
use crate::backend::{Entity, Outcome, Platform};
use crate::report::{Record, RunClock};
pub use crate::signals::Stop as StopFlags;
use crate::trace::{Invocation, Rows, TraceError};

/// What to do with an invocation that is due while `max_in_flight` are outstanding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverloadPolicy {
    /// Record it as `shed` and move on: the schedule stays open loop.
    Shed,
    /// Send it as soon as a slot frees: the delay shows up as lateness.
    Delay,
}

/// How the engine schedules and bounds a run.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Time scaling (2: twice as fast).
    pub speed: f64,
    /// Stop scheduling after this much scaled time.
    pub duration: Option<Duration>,
    /// Stop after this many rows.
    pub max_invocations: Option<u64>,
    /// Closed loop with this many users instead of the trace's instants.
    pub closed_loop: Option<u32>,
    /// Most invocations outstanding.
    pub max_in_flight: u32,
    /// What to do with a due invocation when at the cap.
    pub on_overload: OverloadPolicy,
    /// Activation fetches in parallel.
    pub fetch_concurrency: u32,
    /// Give up fetching an activation after this long.
    pub fetch_timeout: Duration,
    /// The platform holds an activation `GET` until it completes (gale's own).
    pub long_poll: bool,
    /// After a stop request, wait this long for in-flight work.
    pub drain_timeout: Duration,
    /// The dispatcher spins (instead of sleeping) for the last this much before an instant.
    pub spin: Duration,
    /// Update each action just before its invocation so that the invocation is a cold
    /// start ([`Platform::force_cold`]).
    pub force_cold: bool,
}

/// One forced cold start: the update before an invocation.
#[derive(Debug, Clone)]
pub struct ForcedCold {
    /// The invocation's row.
    pub row: u64,
    /// Its function.
    pub function: Arc<str>,
    /// How long the update took (GET and PUT of the action), µs.
    pub update_us: u64,
    /// Why it failed (the invocation was sent regardless).
    pub error: Option<String>,
}

/// How each row is sent: which credentials, to what, and whether blocking.
pub struct Routing {
    /// User label → credentials index (absent: 0).
    pub users: HashMap<Arc<str>, usize>,
    /// What the trace says of each function it declares (absent: an action with no
    /// blocking default).
    pub functions: HashMap<Arc<str>, FunctionRoute>,
    /// Trace default.
    pub blocking: bool,
    /// Command-line override for every row.
    pub blocking_override: Option<bool>,
}

/// How rows reach one function.
#[derive(Debug, Clone, Default)]
pub struct FunctionRoute {
    /// The function's blocking default.
    pub blocking: Option<bool>,
    /// What it is: action, sequence, web action or trigger.
    pub entity: Entity,
}

/// Where one row goes.
pub(super) struct Route {
    pub(super) user: usize,
    pub(super) blocking: bool,
    pub(super) entity: Entity,
}

impl Routing {
    fn route(&self, inv: &Invocation) -> Route {
        let user = self.users.get(&inv.user).copied().unwrap_or(0);
        let f = self.functions.get(&inv.function);
        let asked = self
            .blocking_override
            .or(inv.blocking)
            .or_else(|| f.and_then(|f| f.blocking))
            .unwrap_or(self.blocking);
        let entity = f.map(|f| f.entity.clone()).unwrap_or_default();
        Route {
            user,
            blocking: entity.blocking(asked),
            entity,
        }
    }
}

/// Live counters, read by the progress reporter.
#[derive(Debug, Default)]
pub struct Counters {
    /// Requests handed to a connection.
    pub sent: AtomicU64,
    /// Records produced.
    pub recorded: AtomicU64,
    /// Records that are not `success`.
    pub errors: AtomicU64,
    /// Shed at the in-flight cap.
    pub shed: AtomicU64,
    /// Requests outstanding.
    pub in_flight: AtomicU32,
    /// Activation records being fetched.
    pub fetching: AtomicU32,
}

/// How a run ended.
#[derive(Debug)]
pub struct RunEnd {
    /// The trace ran out (or a limit was reached) without a stop request.
    pub completed: bool,
    /// A trace error that ended the run early.
    pub trace_error: Option<TraceError>,
    /// The forced cold starts, in the order they were made (`--force-cold`).
    pub forced: Vec<ForcedCold>,
}

/// Where a run reports: records, live counters, and the stop flags it obeys.
pub struct Observers {
    /// Every record is sent here.
    pub records: Sender<Record>,
    /// Live counters (progress).
    pub counters: Arc<Counters>,
    /// Stop requests (signals).
    pub flags: Arc<StopFlags>,
    /// The run's clock; its zero is the trace's time zero.
    pub clock: Arc<RunClock>,
}

/// Run a trace to the end (or to a stop). Records go to `obs.records`; returns how it ended.
/// `rt` carries closed-loop users and activation fetches; the calling thread becomes the
/// open-loop dispatcher. Fails, before anything is sent, only if the dispatcher's runtime or
/// the reader thread cannot be started (out of threads or file descriptors).
pub fn run<P: Platform>(
    rt: &Handle,
    backend: Arc<P>,
    rows: Rows,
    routing: Routing,
    settings: &EngineSettings,
    obs: Observers,
) -> io::Result<RunEnd> {
    // The dispatcher's own runtime: one thread, this one.
    let local = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let Observers {
        records,
        counters,
        flags,
        clock,
    } = obs;
    let (abort_tx, abort_rx) = watch::channel(false);
    let ctx = Arc::new(Ctx {
        backend,
        io: rt.clone(),
        slot_freed: (settings.on_overload == OverloadPolicy::Delay).then(Notify::new),
        records,
        counters: counters.clone(),
        abort: abort_rx,
        fetch_slots: Semaphore::new(settings.fetch_concurrency.max(1) as usize),
        poller: Poller::new(settings.fetch_timeout, settings.long_poll),
        clock,
        force_cold: settings.force_cold,
        forced: Mutex::new(Vec::new()),
    });
    let input = spawn_reader(rows, settings.max_invocations)?;
    let (trace_error, users) = local.block_on(async {
        let alarm = Alarm::new();
        let (open_error, closed_error, users) = match settings.closed_loop {
            None => (
                dispatch_open(&ctx, &alarm, input, &routing, settings, &flags).await,
                None,
                Vec::new(),
            ),
            Some(n) => {
                let spin = settings.spin.as_nanos() as u64;
                let _ = alarm.wait_until(ctx.t0(), spin, &flags.stop).await;
                let (error, users) = dispatch_closed(rt, &ctx, input, routing, settings, &flags, n);
                (None, Some(error), users)
            }
        };
        drain(&counters, &flags, &users, settings.drain_timeout, &abort_tx).await;
        let error = open_error.or_else(|| {
            closed_error.and_then(|e| e.lock().unwrap_or_else(|p| p.into_inner()).take())
        });
        (error, users)
    });
    // Open-loop requests still in flight (after a stop) are cancelled with the runtime that
    // carries them, and record themselves as interrupted.
    drop(local);
    // Cancelled users and stopped fetches finish at once; their records come before we return.
    while !idle(&counters, &users) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let forced = std::mem::take(&mut *ctx.forced.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(RunEnd {
        completed: !flags.stop.load(Ordering::Relaxed) && trace_error.is_none(),
        trace_error,
        forced,
    })
}

/// Nothing in flight, nothing being fetched, every closed-loop user done.
fn idle(counters: &Counters, users: &[tokio::task::JoinHandle<()>]) -> bool {
    counters.in_flight.load(Ordering::Acquire) == 0
        && counters.fetching.load(Ordering::Acquire) == 0
        && users.iter().all(|u| u.is_finished())
}

/// Wait for in-flight requests and fetches: without a stop, every request ends by itself
/// (request and fetch timeouts). After one, wait at most the drain time from the moment the
/// stop is seen, or until a second signal, then stop what is left: fetches are told to stop,
/// closed-loop users are cancelled, and the caller cancels the open-loop requests (each
/// records itself as interrupted). Runs on the dispatcher's runtime, which carries the
/// open-loop requests.
async fn drain(
    counters: &Counters,
    flags: &StopFlags,
    users: &[tokio::task::JoinHandle<()>],
    drain_timeout: Duration,
    abort: &watch::Sender<bool>,
) {
    let mut drain_deadline = None;
    loop {
        if idle(counters, users) {
            return;
        }
        if flags.stop.load(Ordering::Relaxed) && drain_deadline.is_none() {
            drain_deadline = Some(now_ns() + drain_timeout.as_nanos() as u64);
        }
        if flags.hurry.load(Ordering::Relaxed) || drain_deadline.is_some_and(|d| now_ns() >= d) {
            let _ = abort.send(true);
            users.iter().for_each(|u| u.abort());
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn dispatch_open<P: Platform>(
    ctx: &Arc<Ctx<P>>,
    alarm: &Alarm,
    mut input: RowStream,
    routing: &Routing,
    settings: &EngineSettings,
    flags: &StopFlags,
) -> Option<TraceError> {
    let spin = settings.spin.as_nanos() as u64;
    let horizon = settings.duration.map(|d| d.as_nanos() as u64);
    let cap = settings.max_in_flight.max(1);
    let counters = &ctx.counters;
    while let Some(item) = input.next_row().await {
        let inv = match item {
            Ok(inv) => inv,
            Err(e) => return Some(e),
        };
        let scheduled = (inv.at_ns as f64 / settings.speed) as u64;
        if horizon.is_some_and(|h| scheduled > h) {
            break;
        }
        let deadline = ctx.t0().saturating_add(scheduled);
        if alarm
            .wait_until(deadline, spin, &flags.stop)
            .await
            .is_none()
        {
            break;
        }
        // Behind schedule (after a stall), what is due goes out back to back; this lets the
        // replies in every 128 sends, so the backlog does not fill the in-flight cap.
        tokio::task::consume_budget().await;
        let route = routing.route(&inv);
        if counters.in_flight.load(Ordering::Acquire) >= cap {
            match settings.on_overload {
                OverloadPolicy::Shed => {
                    counters.shed.fetch_add(1, Ordering::Relaxed);
                    let why = format!("not sent: {cap} invocations already in flight");
                    let mut rec = not_sent(&inv, scheduled, &route, &why);
                    rec.outcome = Outcome::Shed;
                    ctx.emit(rec);
                    continue;
                }
                OverloadPolicy::Delay => {
                    while counters.in_flight.load(Ordering::Acquire) >= cap {
                        if flags.stop.load(Ordering::Relaxed) {
                            // It was due: it gets a record, like everything that was due.
                            ctx.emit(not_sent(
                                &inv,
                                scheduled,
                                &route,
                                "not sent: the run was stopped while waiting for a free slot",
                            ));
                            return None;
                        }
                        // Replies come in on this very thread: wait on the runtime (a
                        // stored notification makes a missed one impossible; the timeout
                        // only re-checks the stop flag).
                        let wait = Duration::from_millis(50);
                        match &ctx.slot_freed {
                            Some(freed) => {
                                let _ = tokio::time::timeout(wait, freed.notified()).await;
                            }
                            None => tokio::time::sleep(wait).await,
                        }
                    }
                }
            }
        }
        counters.in_flight.fetch_add(1, Ordering::AcqRel);
        let ctx = ctx.clone();
        start_here(async move {
            if let Some(accepted) = invoke(&ctx, inv, scheduled, route).await {
                let io = ctx.io.clone();
                io.spawn(fetch(ctx, accepted));
            }
        });
    }
    None
}

/// Run a future on the calling thread up to its first wait, then hand the rest to the
/// current runtime as a task. The request is thus written at once, not when the scheduler
/// gets to a new task (after every other ready one).
fn start_here(fut: impl Future<Output = ()> + Send + 'static) {
    let mut fut = Box::pin(fut);
    // The wakers registered during this poll are replaced when the task first runs, and
    // that run re-checks every readiness, so no wake-up can be lost.
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    if fut.as_mut().poll(&mut cx).is_pending() {
        tokio::spawn(fut);
    }
}

fn dispatch_closed<P: Platform>(
    rt: &Handle,
    ctx: &Arc<Ctx<P>>,
    input: RowStream,
    routing: Routing,
    settings: &EngineSettings,
    flags: &Arc<StopFlags>,
    users: u32,
) -> (
    Arc<Mutex<Option<TraceError>>>,
    Vec<tokio::task::JoinHandle<()>>,
) {
    // Users take rows straight from the reader's stream, so no feeder thread has to wake
    // them row by row. The lock covers one non-blocking pop: a user that finds the reader
    // behind waits on the runtime's timer outside it, never blocking an I/O worker (which
    // carries fetches too).
    let input = Arc::new(Mutex::new(input));
    let error = Arc::new(Mutex::new(None));
    let routing = Arc::new(routing);
    let horizon = settings.duration.map(|d| d.as_nanos() as u64);
    let tasks = (0..users.max(1))
        .map(|_| {
            let (ctx, input, error, routing, flags) = (
                ctx.clone(),
                input.clone(),
                error.clone(),
                routing.clone(),
                flags.clone(),
            );
            rt.spawn(async move {
                while !flags.stop.load(Ordering::Relaxed) {
                    let next = next_row_from(|| {
                        input.lock().unwrap_or_else(|p| p.into_inner()).poll_row()
                    })
                    .await;
                    let inv = match next {
                        None => break,
                        Some(Ok(inv)) => inv,
                        Some(Err(e)) => {
                            *error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            break;
                        }
                    };
                    let scheduled = now_ns().saturating_sub(ctx.t0());
                    if horizon.is_some_and(|h| scheduled > h) {
                        break;
                    }
                    // A row taken just as a stop came was due: it gets a record, so row ids
                    // stay contiguous.
                    let route = routing.route(&inv);
                    if flags.stop.load(Ordering::Relaxed) {
                        ctx.emit(not_sent(
                            &inv,
                            scheduled,
                            &route,
                            "not sent: the run was stopped",
                        ));
                        break;
                    }
                    ctx.counters.in_flight.fetch_add(1, Ordering::AcqRel);
                    // A user waits for the activation record too before its next call.
                    if let Some(accepted) = invoke(&ctx, inv, scheduled, route).await {
                        fetch(ctx.clone(), accepted).await;
                    }
                }
            })
        })
        .collect();
    (error, tasks)
}
