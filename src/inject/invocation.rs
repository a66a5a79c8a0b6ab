//! One invocation from its send to its record: the request, the reply, the activation
//! fetch of an accepted call, and the record of one cut short by a stop.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Instant;

use tokio::runtime::Handle;
use tokio::sync::{watch, Notify, Semaphore};

use super::clock::now_ns;
use super::engine::{Counters, Route};
use crate::backend::completion::Poller;
use crate::backend::{Call, EntityKind, Outcome, Platform};
use crate::report::{Record, RunClock};
use crate::trace::Invocation;

/// What every invocation of a run shares.
pub(super) struct Ctx<P> {
    pub(super) backend: Arc<P>,
    /// The multi-threaded runtime: activation fetches run there, off the dispatcher.
    pub(super) io: Handle,
    /// Signalled whenever an invocation stops being in flight, when the dispatcher may wait
    /// for that (`--on-overload delay`).
    pub(super) slot_freed: Option<Notify>,
    /// To the writer thread.
    pub(super) records: Sender<Record>,
    pub(super) counters: Arc<Counters>,
    /// Set when a stop's drain time has run out: fetches give up.
    pub(super) abort: watch::Receiver<bool>,
    /// Bounds the activation fetches in flight.
    pub(super) fetch_slots: Semaphore,
    /// Polls the records of accepted invocations.
    pub(super) poller: Poller,
    /// The run's clock: its zero, and where the platform's instants fall on it.
    pub(super) clock: Arc<RunClock>,
    /// Update each action before its invocation (`--force-cold`).
    pub(super) force_cold: bool,
    /// The updates made.
    pub(super) forced: std::sync::Mutex<Vec<super::engine::ForcedCold>>,
}

impl<P: Platform> Ctx<P> {
    /// Hand a record to the writer.
    pub(super) fn emit(&self, rec: Record) {
        if rec.outcome != Outcome::Success {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.counters.recorded.fetch_add(1, Ordering::Relaxed);
        // The writer outlives every task; a send error means it died, and its error is
        // reported when it is joined.
        let _ = self.records.send(rec);
    }

    /// `t` (CLOCK_MONOTONIC ns) as ns after the run's time zero.
    pub(super) fn rel(&self, t: u64) -> u64 {
        self.clock.rel(t)
    }

    /// The run's time zero, CLOCK_MONOTONIC ns.
    pub(super) fn t0(&self) -> u64 {
        self.clock.zero_mono_ns()
    }

    /// An invocation stops being in flight.
    fn release_slot(&self) {
        self.counters.in_flight.fetch_sub(1, Ordering::AcqRel);
        if let Some(freed) = &self.slot_freed {
            freed.notify_one();
        }
    }
}

/// The record of an invocation that was due but never sent.
pub(super) fn not_sent(inv: &Invocation, scheduled_ns: u64, route: &Route, why: &str) -> Record {
    let mut rec = new_record(inv, scheduled_ns, route);
    rec.error = Some(why.to_string());
    rec
}

fn new_record(inv: &Invocation, scheduled_ns: u64, route: &Route) -> Record {
    let mut rec = Record::unsent(
        inv.row,
        inv.function.clone(),
        inv.user.clone(),
        scheduled_ns,
        Outcome::Interrupted,
        "",
    );
    rec.blocking = route.blocking;
    rec.entity = route.entity.kind();
    rec
}

/// An accepted invocation whose activation record (or, for a trigger fire, the records of
/// the activations it started) is still to be fetched.
pub(super) struct Accepted {
    rec: Record,
    user: usize,
    id: String,
    at: Instant,
}

/// Send one invocation and record it, or return it when its activation record is still to
/// be fetched (counted in `fetching` already). Cancelling it (dropping the future) records
/// it as interrupted: that is how a stop ends the requests still in flight.
pub(super) async fn invoke<P: Platform>(
    ctx: &Ctx<P>,
    inv: Invocation,
    scheduled_ns: u64,
    route: Route,
) -> Option<Accepted> {
    let sent = AtomicU64::new(0);
    let user = route.user;
    let call = Call {
        user,
        function: &inv.function,
        params: inv.params.as_deref().unwrap_or("{}"),
        blocking: route.blocking,
        entity: &route.entity,
    };
    let pending = Unfinished {
        ctx,
        inv: &inv,
        scheduled_ns,
        route: &route,
        sent: &sent,
    };
    if ctx.force_cold && matches!(route.entity, crate::backend::Entity::Action) {
        // Before the send, so the invocation finds no warm container; the update's time
        // shows as lateness.
        let started = Instant::now();
        let result = ctx.backend.force_cold(user, &inv.function).await;
        let forced = super::engine::ForcedCold {
            row: inv.row,
            function: inv.function.clone(),
            update_us: started.elapsed().as_micros() as u64,
            error: result.err().map(|e| e.to_string()),
        };
        ctx.forced
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(forced);
    }
    let reply = ctx
        .backend
        .invoke(call, || sent.store(now_ns(), Ordering::Relaxed))
        .await;
    let done = now_ns();
    std::mem::forget(pending);
    let mut rec = new_record(&inv, scheduled_ns, &route);
    let sent = sent.into_inner();
    if sent != 0 {
        ctx.counters.sent.fetch_add(1, Ordering::Relaxed);
        rec.sent_ns = Some(ctx.rel(sent));
    }
    rec.replied_ns = Some(ctx.rel(done));
    rec.apply(reply, &ctx.clock);
    // Counted as fetching before it stops counting as in flight: the drain must never see
    // both at zero while a record is still to come.
    // Only an accepted call needs its id apart from the record.
    let accepted_id = match (&rec.outcome, &rec.activation_id) {
        (Outcome::Accepted, Some(id)) => Some(id.clone()),
        _ => None,
    };
    let accepted = match accepted_id {
        Some(id) => {
            ctx.counters.fetching.fetch_add(1, Ordering::AcqRel);
            Some(Accepted {
                rec,
                user,
                id,
                at: Instant::now(),
            })
        }
        _ => {
            ctx.emit(rec);
            None
        }
    };
    ctx.release_slot();
    accepted
}

/// An invocation whose reply has not come: dropped (its task cancelled by a stop), it
/// records the invocation as interrupted. Costs nothing on the way of a reply, unlike a
/// stop signal every request would have to watch.
struct Unfinished<'a, P: Platform> {
    ctx: &'a Ctx<P>,
    inv: &'a Invocation,
    scheduled_ns: u64,
    route: &'a Route,
    sent: &'a AtomicU64,
}

impl<P: Platform> Drop for Unfinished<'_, P> {
    fn drop(&mut self) {
        let ctx = self.ctx;
        let mut rec = not_sent(
            self.inv,
            self.scheduled_ns,
            self.route,
            "still in flight when the run was stopped",
        );
        let sent = self.sent.load(Ordering::Relaxed);
        if sent != 0 {
            ctx.counters.sent.fetch_add(1, Ordering::Relaxed);
            rec.sent_ns = Some(ctx.rel(sent));
        }
        ctx.emit(rec);
        ctx.release_slot();
    }
}

/// Wait for the activation record of an accepted invocation (adaptive polling, in
/// [`Poller::complete`]) until it is there, the fetch timeout passes, or the run is aborted.
pub(super) async fn fetch<P: Platform>(ctx: Arc<Ctx<P>>, accepted: Accepted) {
    let Accepted { rec, user, id, at } = accepted;
    let mut out = Fetched {
        ctx: &ctx,
        rec,
        stopped: true,
    };
    let mut abort = ctx.abort.clone();
    let function = out.rec.function.clone();
    let slots = Some(&ctx.fetch_slots);
    let backend = &*ctx.backend;
    if out.rec.entity == EntityKind::Trigger {
        let completed = tokio::select! {
            biased;
            _ = abort.wait_for(|a| *a) => return,
            r = ctx.poller.complete_fire(backend, user, &id, &function, at, slots) => r,
        };
        match completed {
            Ok(fire) => {
                // The fire happened before the reply that carried its record.
                let found = ctx.rel(now_ns());
                ctx.clock
                    .observe(&fire.trigger, out.rec.sent_ns, Some(found));
                out.rec.apply_fire(fire, &ctx.clock);
            }
            Err(why) => out.rec.error = Some(why),
        }
        out.stopped = false;
        return;
    }
    let completed = tokio::select! {
        biased;
        _ = abort.wait_for(|a| *a) => return,
        r = ctx.poller.complete(backend, user, &id, &function, at, slots) => r,
    };
    match completed {
        Ok(a) => {
            // The activation ended before the reply that carried its record.
            let found = ctx.rel(now_ns());
            ctx.clock.observe(&a, out.rec.sent_ns, Some(found));
            out.rec.apply_activation(a, &ctx.clock);
        }
        Err(why) => out.rec.error = Some(why),
    }
    out.stopped = false;
}

/// The record of an accepted invocation, written when its fetch ends however it ends: found,
/// given up, stopped, or cancelled with its task.
struct Fetched<'a, P: Platform> {
    ctx: &'a Ctx<P>,
    rec: Record,
    stopped: bool,
}

impl<P: Platform> Drop for Fetched<'_, P> {
    fn drop(&mut self) {
        let mut rec = std::mem::replace(
            &mut self.rec,
            Record::unsent(0, "".into(), "".into(), 0, Outcome::Accepted, ""),
        );
        if self.stopped {
            rec.error = Some("activation record not fetched: the run was stopped".into());
        }
        self.ctx.emit(rec);
        self.ctx.counters.fetching.fetch_sub(1, Ordering::AcqRel);
    }
}
