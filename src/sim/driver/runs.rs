//! A run in virtual time: its resume delay, its CPU phase on the node's shared cores, its
//! waiting phase, its time limit, and its end (the record, the model's `Finished`).

use std::borrow::Cow;

use crate::model::{ActivationRef, ContainerId, Event, Time, MS};
use crate::sim::record::{self, Outcome, Sink};
use crate::sim::stats::Stats;

use super::{Ev, Phase, Sim, SimError, Slot};

impl<S: Sink> Sim<'_, S> {
    pub(super) fn start_run(
        &mut self,
        activation: ActivationRef,
        container: ContainerId,
        deadline: Time,
        cold: bool,
    ) {
        let now = self.now;
        let slot = self.slot_of(activation);
        let Some(c) = self.containers.get_mut(&container.0) else {
            return;
        };
        if c.active == 0 {
            // Idle (or prewarmed) until now.
            c.idle_ns += now.since(c.since);
            c.since = now;
        }
        c.active += 1;
        c.runs += 1;
        let (node, cold_began, resume_until) = (c.node, c.cold_began, c.resume_until);
        let f = &mut self.flights[slot.index as usize];
        f.container = container.0;
        f.node = node;
        f.cold = cold;
        f.cold_began = if cold { cold_began.unwrap_or(now) } else { now };
        f.run_start = now.max(resume_until);
        let func = f.func as usize;
        let over = f.overrides;
        let fun = &mut self.funcs[func];
        fun.running_ns += f64::from(fun.running) * now.since(fun.running_since) as f64;
        fun.running_since = now;
        fun.running += 1;
        let work = fun.model.run.work(over.as_ref(), &mut fun.rng);
        let f = &mut self.flights[slot.index as usize];
        f.work = work;
        f.deadline = deadline;
        if f.run_start > now {
            f.phase = Phase::Resuming;
            let at = f.run_start;
            self.phase_until(slot, at, Ev::RunBegin(slot));
        } else {
            self.begin_cpu(slot);
        }
    }

    /// Schedule the end of a phase that needs no core at `at`, or the run's time limit if
    /// that comes first (a run that ends exactly at its limit has made it).
    pub(super) fn phase_until(&mut self, slot: Slot, at: Time, ev: Ev) {
        let deadline = self.flights[slot.index as usize].deadline;
        if at <= deadline {
            self.queue.push(at, ev);
        } else {
            self.queue.push(deadline.max(self.now), Ev::Deadline(slot));
        }
    }

    pub(super) fn begin_cpu(&mut self, slot: Slot) {
        let f = &mut self.flights[slot.index as usize];
        if f.work.cpu_ns == 0 {
            f.phase = Phase::Sleep;
            let at = self.now + f.work.wait_ns;
            self.phase_until(slot, at, Ev::RunEnd(slot));
            return;
        }
        let (node, cpu, deadline) = (f.node, f.work.cpu_ns, f.deadline);
        let end = self.now + cpu + f.work.wait_ns;
        let mut shared = std::mem::take(&mut self.cpu_shared);
        let exact = self.cores[node].add(self.now, slot.job(), cpu, deadline, &mut shared);
        // Runs that were exact until now share the node's cores: their scheduled ends are
        // void, the node's events end their CPU phases.
        for job in shared.drain(..) {
            let other = Slot::of_job(job);
            if self.flight(other).is_some() {
                self.flights[other.index as usize].phase = Phase::Cpu;
            }
        }
        self.cpu_shared = shared;
        if exact {
            self.flights[slot.index as usize].phase = Phase::Exact;
            self.phase_until(slot, end, Ev::ExactEnd(slot));
        } else {
            self.flights[slot.index as usize].phase = Phase::Cpu;
            self.arm_cpu(node);
        }
    }

    /// The run reached its time limit: it ends as a developer error (its container is
    /// retired by the model, as on the platform).
    pub(super) fn time_out(&mut self, slot: Slot) -> Result<(), SimError> {
        let func = self.flights[slot.index as usize].func as usize;
        let limit = self.funcs[func].spec.timeout / MS;
        let error = format!("The action exceeded its time limits of {limit} milliseconds.");
        self.end_run(slot, Outcome::DeveloperError, Some(error))
    }

    pub(super) fn arm_cpu(&mut self, node: usize) {
        if let Some(t) = self.cores[node].next_done() {
            if self.cpu_armed[node].is_none_or(|a| t < a) {
                let at = t.max(self.now);
                self.cpu_armed[node] = Some(at);
                self.queue.push(at, Ev::Cpu(node));
            }
        }
    }

    /// The node's armed instant came: end the CPU phases done by now, then cut those at
    /// their time limit.
    pub(super) fn cpu_due(&mut self, node: usize) -> Result<(), SimError> {
        let mut done = std::mem::take(&mut self.cpu_done);
        self.cores[node].take_done(self.now, &mut done);
        for job in done.drain(..) {
            self.cpu_finished(Slot::of_job(job))?;
        }
        self.cores[node].take_expired(self.now, &mut done);
        for job in done.drain(..) {
            self.time_out(Slot::of_job(job))?;
        }
        self.cpu_done = done;
        self.arm_cpu(node);
        Ok(())
    }

    pub(super) fn cpu_finished(&mut self, slot: Slot) -> Result<(), SimError> {
        let Some(f) = self.flight(slot) else {
            return Ok(());
        };
        let wait = f.work.wait_ns;
        self.flights[slot.index as usize].phase = Phase::Sleep;
        if wait == 0 {
            self.end_run(slot, Outcome::Success, None)
        } else {
            self.phase_until(slot, self.now + wait, Ev::RunEnd(slot));
            Ok(())
        }
    }

    pub(super) fn end_run(
        &mut self,
        slot: Slot,
        outcome: Outcome,
        error: Option<String>,
    ) -> Result<(), SimError> {
        let now = self.now;
        let f = &self.flights[slot.index as usize];
        let (container, func) = (f.container, f.func as usize);
        let fun = &mut self.funcs[func];
        fun.running_ns += f64::from(fun.running) * now.since(fun.running_since) as f64;
        fun.running_since = now;
        fun.running -= 1;
        if let Some(c) = self.containers.get_mut(&container) {
            c.active -= 1;
            if c.active == 0 {
                c.busy_ns += now.since(c.since);
                c.since = now;
            }
        }
        self.free_slot(slot);
        self.release_admission(func as u32);
        self.model.handle(
            now,
            Event::Finished {
                container: ContainerId(container),
                activation: ActivationRef(u64::from(slot.index)),
                healthy: outcome == Outcome::Success,
            },
        );
        // The freed slot keeps its fields until the next arrival takes it.
        let f = &mut self.flights[slot.index as usize];
        let start = if f.cold { f.cold_began } else { f.run_start };
        let record = record::Invocation {
            row: f.row,
            function: Cow::Borrowed(&self.funcs[func].name),
            user: f.user.take().unwrap_or_default(),
            blocking: f.blocking,
            scheduled_ns: f.arrived.as_nanos(),
            start_ns: Some(start.as_nanos()),
            end_ns: Some(now.as_nanos()),
            outcome,
            cold: Some(f.cold),
            queued: f.queued,
            wait_ns: Some(start.since(f.received)),
            init_ns: f.cold.then(|| f.run_start.since(f.cold_began)),
            node: Some(Cow::Borrowed(&self.node_names[f.node])),
            container: Some(container),
            error,
            cpu_ns: Some(f.work.cpu_ns),
        };
        emit(&mut self.stats, self.sink, &record)
    }

    pub(super) fn fail(&mut self, slot: Slot, error: String) -> Result<(), SimError> {
        let func = self.flights[slot.index as usize].func;
        self.free_slot(slot);
        self.release_admission(func);
        // The freed slot keeps its fields until the next arrival takes it.
        let f = &mut self.flights[slot.index as usize];
        let mut record = record::Invocation::not_run(
            f.row,
            &self.funcs[f.func as usize].name,
            f.user.take().unwrap_or_default(),
            f.blocking,
            f.arrived.as_nanos(),
            Outcome::InternalError,
            error,
        );
        record.queued = f.queued;
        // OpenWhisk records a failed activation as ending when it failed.
        record.start_ns = Some(self.now.as_nanos());
        record.end_ns = Some(self.now.as_nanos());
        emit(&mut self.stats, self.sink, &record)
    }

    pub(super) fn free_slot(&mut self, slot: Slot) {
        let f = &mut self.flights[slot.index as usize];
        f.live = false;
        f.overrides = None;
        self.free.push(slot.index);
        self.in_flight -= 1;
    }

    pub(super) fn release_admission(&mut self, func: u32) {
        let ns = self.funcs[func as usize].ns;
        if let Some(a) = self.admission.get_mut(&ns) {
            a.finished();
        }
    }
}

/// Count `r` in the summary and hand it to the sink. (A function of the two fields, not a
/// method: the record borrows names from the simulation's other fields.)
pub(super) fn emit<S: Sink>(
    stats: &mut Stats,
    sink: &mut S,
    r: &record::Invocation,
) -> Result<(), SimError> {
    stats.invocation(r);
    sink.invocation(r)?;
    Ok(())
}
