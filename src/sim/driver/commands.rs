//! What the model commands, executed in virtual time (container starts, inits, resumes,
//! removals, failures), the scenario's timed FaaS-system operations, the utilisation the
//! autoscaler reads, and the records of containers and node samples.

use crate::model::{Command, Failure, Time};
use crate::sim::ops::{Op, Operation};
use crate::sim::profile::LITERATURE_START;
use crate::sim::record::{self, Sink};

use super::{func_of, Ctr, Ev, Sim, SimError};

impl<S: Sink> Sim<'_, S> {
    /// Apply `op` to the function in every namespace.
    pub(super) fn operate(&mut self, op: &Operation) {
        let copies: Vec<u32> = (0..self.funcs.len() as u32)
            .filter(|&i| *self.funcs[i as usize].name == *op.function)
            .collect();
        for func in copies {
            self.operate_on(func, op);
        }
    }

    pub(super) fn operate_on(&mut self, func: u32, op: &Operation) {
        let key = self.funcs[func as usize].key;
        let now = self.now;
        match (op.op, key) {
            (Op::Deploy, _) => self.deploy(func),
            (_, None) => {}
            (Op::Remove, Some(k)) => {
                self.model.remove(now, k);
                self.funcs[func as usize].key = None;
            }
            (Op::ScaleUp, Some(k)) => {
                self.model.scale_up(now, k, op.count);
            }
            (Op::ScaleDown, Some(k)) => {
                self.model.scale_down(now, k, op.count);
            }
            (Op::Suspend, Some(k)) => {
                self.model.suspend(now, k);
            }
        }
    }

    /// Give the model each autoscaled function's utilisation since the last round: the time
    /// integral of its running activations over its replicas' slots.
    pub(super) fn observe_utilisation(&mut self) {
        let period = self.now.since(self.last_round).max(1) as f64;
        self.last_round = self.now;
        for i in 0..self.funcs.len() {
            let f = &mut self.funcs[i];
            f.running_ns += f64::from(f.running) * self.now.since(f.running_since) as f64;
            f.running_since = self.now;
            let integral = std::mem::take(&mut f.running_ns);
            let (Some(key), true) = (f.key, f.autoscaled) else {
                continue;
            };
            let slots = f.spec.concurrency.max(1) as f64;
            let replicas = self.model.discover(key).len().max(1) as f64;
            self.model
                .observe_utilisation(key, integral / period / (replicas * slots));
        }
    }

    pub(super) fn execute(&mut self, command: Command) {
        let now = self.now;
        match command {
            Command::Start {
                container,
                node,
                memory_mb,
                action,
                ..
            } => {
                let func = action.map(func_of);
                let d = match func {
                    Some(f) => {
                        let f = &mut self.funcs[f as usize];
                        f.model.start.sample_ns(&mut f.rng)
                    }
                    None => {
                        let stem = self.settings.profile.defaults.start.as_ref();
                        stem.unwrap_or(&LITERATURE_START)
                            .sample_ns(&mut self.stem_rng)
                    }
                };
                self.containers.insert(
                    container.0,
                    Ctr {
                        func,
                        node: node.0,
                        memory_mb,
                        created: now,
                        cold_began: func.map(|_| now),
                        ready: None,
                        resume_until: now,
                        active: 0,
                        runs: 0,
                        since: now,
                        busy_ns: 0,
                        idle_ns: 0,
                    },
                );
                self.queue.push(now + d, Ev::Started(container));
            }
            Command::Init { container, action } => {
                let func = func_of(action);
                if let Some(c) = self.containers.get_mut(&container.0) {
                    if c.func.is_none() {
                        // A stem cell: its cold start begins with the code injection, and
                        // the time it sat prewarmed was idle.
                        c.idle_ns += now.since(c.since);
                        c.cold_began = Some(now);
                    }
                    c.func = Some(func);
                    c.ready = None;
                }
                let f = &mut self.funcs[func as usize];
                let d = f.model.init.sample_ns(&mut f.rng);
                self.queue.push(now + d, Ev::Initialised(container));
            }
            Command::Run {
                activation,
                container,
                deadline,
                cold,
            } => self.start_run(activation, container, deadline, cold),
            Command::Pause { .. } => {}
            Command::Resume { container } => {
                if let Some(c) = self.containers.get_mut(&container.0) {
                    if let Some(func) = c.func {
                        let f = &mut self.funcs[func as usize];
                        c.resume_until = now + f.model.resume.sample_ns(&mut f.rng);
                    }
                }
            }
            Command::Remove { container } => {
                if let Some(c) = self.containers.remove(&container.0) {
                    // The sink's error resurfaces at the next write; removal cannot fail.
                    let _ = self.close_container(container.0, c, Some(now));
                }
            }
            Command::Fail {
                activation,
                failure,
            } => {
                let slot = self.slot_of(activation);
                let error = match &failure {
                    Failure::TooBig {
                        need_mb,
                        largest_mb,
                    } => format!(
                        "The action needs {need_mb} MB; the largest node has {largest_mb} MB."
                    ),
                    Failure::Container { message, .. } => message.to_string(),
                    Failure::NotDeployed => "The requested resource does not exist.".into(),
                    Failure::Shutdown => "The platform is shutting down.".into(),
                };
                let _ = self.fail(slot, error);
            }
        }
    }

    pub(super) fn close_container(
        &mut self,
        id: u64,
        mut c: Ctr,
        removed: Option<Time>,
    ) -> Result<(), SimError> {
        let end = removed.unwrap_or(self.now);
        if c.active > 0 {
            c.busy_ns += end.since(c.since);
        } else if c.ready.is_some() || c.func.is_none() {
            c.idle_ns += end.since(c.since);
        }
        let r = record::Container {
            id,
            function: c.func.map(|f| self.funcs[f as usize].name.clone()),
            node: self.node_names[c.node].clone(),
            memory_mb: c.memory_mb,
            created_ns: c.created.as_nanos(),
            ready_ns: c.ready.map(Time::as_nanos),
            removed_ns: removed.map(Time::as_nanos),
            runs: c.runs,
            busy_ns: c.busy_ns,
            idle_ns: c.idle_ns,
        };
        self.stats.container(&r, end.as_nanos());
        self.sink.container(&r)?;
        Ok(())
    }

    pub(super) fn sample(&mut self) -> Result<(), SimError> {
        let period = self.settings.sample_period;
        let views = self.model.nodes();
        let queued = self.model.queue_len();
        for (i, v) in views.iter().enumerate() {
            let busy = self.cores[i].busy_ns(self.now);
            let s = record::NodeSample {
                at_ns: self.now.as_nanos(),
                node: v.name.clone(),
                memory_mb: v.memory_mb,
                reserved_mb: v.used_mb,
                containers: v.containers,
                running: v.active,
                cpus: self.cores[i].cpus(),
                cpu_busy: (busy - self.sample_busy[i]) / period as f64,
                queued,
            };
            self.sample_busy[i] = busy;
            self.sink.node(&s)?;
        }
        self.queue.push(self.now + period, Ev::Sample);
        Ok(())
    }
}
