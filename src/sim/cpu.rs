//! CPU sharing on a node: egalitarian processor sharing. A run's CPU work needs one core;
//! with `n` runs in their CPU phase on a node of `c` cores each progresses at
//! `min(1, c / n)` core-seconds per second, so a run stretches by `n / c` while the node is
//! oversubscribed and not at all while it is not. (Linux CFS shares cores between equal
//! runnable threads this way, to within its scheduling granularity.)
//!
//! Kept with the classic virtual-time trick: every job in service receives the same
//! service, so the node keeps one counter `v` (service each job has received since the
//! node's origin) and each job finishes when `v` reaches its finish mark. The marks sit in a
//! plain vector: a node has a handful of runs in their CPU phase, and scanning a few marks
//! costs less than keeping a tree and an index ordered. Each job also carries its run's
//! time limit, so that the node's next event is its next completion or its next expiry and
//! a run needs no timer event of its own.
//!
//! Most jobs never share: while a node runs no more jobs than it has cores, each runs at
//! full speed and ends exactly its work after it starts. Such a job is *exact*: its owner
//! schedules the end of its whole run at once, and the node drops it silently when `v`
//! passes its mark, with no completion event (on the benchmark's workload that removed a
//! third of all events). A job that would oversubscribe the node turns every exact job
//! into a *shared* one ([`Cores::add`] lists them): from then on their ends are the node's
//! events, as before.

use crate::model::Time;

/// A job in service, as its owner names it.
pub type JobId = u64;

/// A job in service.
#[derive(Clone, Copy)]
struct Job {
    /// `v` at which it is done.
    mark: f64,
    id: JobId,
    /// Its run's time limit.
    limit: Time,
    /// It ends at its mark without an event of the node (see the module docs).
    exact: bool,
}

/// One node's cores.
pub struct Cores {
    cpus: f64,
    /// Service per job since the origin, ns of one core.
    v: f64,
    last: Time,
    /// Jobs in service, unordered.
    jobs: Vec<Job>,
    /// Scratch for `take_done`, reused.
    done: Vec<(f64, JobId)>,
    /// Core-ns used since the origin.
    busy: f64,
}

impl Cores {
    /// A node with `cpus` cores (fractions allowed), idle at `now`.
    pub fn new(cpus: f64, now: Time) -> Cores {
        Cores {
            cpus: cpus.max(1e-9),
            v: 0.0,
            last: now,
            jobs: Vec::new(),
            done: Vec::new(),
            busy: 0.0,
        }
    }

    /// Service rate of each job with `n` in service.
    fn rate(&self, n: usize) -> f64 {
        if n == 0 {
            0.0
        } else {
            (self.cpus / n as f64).min(1.0)
        }
    }

    /// Bring the counters to `now`, dropping the exact jobs done by then.
    fn advance(&mut self, now: Time) {
        let dt = now.since(self.last) as f64;
        let n = self.jobs.len();
        if n as f64 > self.cpus {
            // Oversubscribed: no exact jobs, and each end is an event, so `n` held over `dt`.
            self.v += dt * self.rate(n);
            self.busy += dt * self.cpus;
            self.last = now;
            return;
        }
        // Every job at full speed; exact ones may end within `dt`, without an event.
        if dt > 0.0 {
            let start = self.v;
            self.v += dt;
            let mut busy = 0.0;
            for j in &self.jobs {
                busy += (j.mark - start).clamp(0.0, dt);
            }
            self.busy += busy;
            self.last = now;
        }
        // Within a nanosecond: ends are whole ns, marks are not.
        let done = self.v + 1.0;
        self.jobs.retain(|j| !(j.exact && j.mark <= done));
    }

    /// Start `work_ns` of CPU work for `job` at `now`, to be cut at `deadline` if not done
    /// by then. True if the job is exact (it ends at `now + work_ns` and the caller
    /// schedules that end itself); false if it shares the node's cores, and then every job
    /// that was exact until now and is no longer is added to `shared`.
    pub fn add(
        &mut self,
        now: Time,
        job: JobId,
        work_ns: u64,
        deadline: Time,
        shared: &mut Vec<JobId>,
    ) -> bool {
        self.advance(now);
        let exact = (self.jobs.len() + 1) as f64 <= self.cpus;
        if !exact {
            for j in &mut self.jobs {
                if j.exact {
                    j.exact = false;
                    shared.push(j.id);
                }
            }
        }
        self.jobs.push(Job {
            mark: self.v + work_ns as f64,
            id: job,
            limit: deadline,
            exact,
        });
        exact
    }

    /// Withdraw `job` (its run was cut short); true if it was in service.
    pub fn remove(&mut self, now: Time, job: JobId) -> bool {
        self.advance(now);
        match self.jobs.iter().position(|j| j.id == job) {
            Some(i) => {
                self.jobs.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// When the next shared job finishes or reaches its time limit, if nothing changes
    /// before (exact jobs need no event).
    pub fn next_done(&self) -> Option<Time> {
        let mut next: Option<(f64, Time)> = None;
        for j in self.jobs.iter().filter(|j| !j.exact) {
            next = Some(match next {
                None => (j.mark, j.limit),
                Some((m, l)) => (m.min(j.mark), l.min(j.limit)),
            });
        }
        let (mark, limit) = next?;
        let left = (mark - self.v).max(0.0);
        let dt = (left / self.rate(self.jobs.len())).ceil();
        Some((self.last + dt as u64).min(limit))
    }

    /// Take the shared jobs done by `now` into `out`, in finish order (ties by job id).
    pub fn take_done(&mut self, now: Time, out: &mut Vec<JobId>) {
        self.advance(now);
        // Within a nanosecond of service: `next_done` rounds up to whole ns.
        let limit = self.v + 1.0;
        let done = &mut self.done;
        self.jobs.retain(|j| {
            let finished = !j.exact && j.mark <= limit;
            if finished {
                done.push((j.mark, j.id));
            }
            !finished
        });
        done.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        out.extend(done.drain(..).map(|(_, j)| j));
    }

    /// Take the shared jobs whose time limit is `now` or earlier into `out`, by job id
    /// (call after [`Cores::take_done`]: a run done at its limit has made it).
    pub fn take_expired(&mut self, now: Time, out: &mut Vec<JobId>) {
        self.advance(now);
        let first = out.len();
        self.jobs.retain(|j| {
            let expired = !j.exact && j.limit <= now;
            if expired {
                out.push(j.id);
            }
            !expired
        });
        out[first..].sort_unstable();
    }

    /// Jobs in service.
    pub fn running(&self) -> usize {
        self.jobs.len()
    }

    /// Core-ns used from the origin to `now`.
    pub fn busy_ns(&mut self, now: Time) -> f64 {
        self.advance(now);
        self.busy
    }

    /// Cores.
    pub fn cpus(&self) -> f64 {
        self.cpus
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEVER: Time = Time::from_nanos(u64::MAX);

    fn t(ms: u64) -> Time {
        Time::from_nanos(ms * 1_000_000)
    }

    fn drain(c: &mut Cores) -> Vec<(JobId, u64)> {
        let mut done = Vec::new();
        while let Some(at) = c.next_done() {
            let mut out = Vec::new();
            c.take_done(at, &mut out);
            done.extend(out.into_iter().map(|j| (j, at.as_nanos() / 1_000_000)));
        }
        done
    }

    /// Add a job of `ms`; whether it is exact, and the jobs it made shared.
    fn add(c: &mut Cores, at: Time, job: JobId, ms: u64, limit: Time) -> (bool, Vec<JobId>) {
        let mut shared = Vec::new();
        let exact = c.add(at, job, ms * 1_000_000, limit, &mut shared);
        (exact, shared)
    }

    #[test]
    fn runs_stretch_only_while_the_node_is_oversubscribed() {
        // Two cores, three 10 ms jobs from 0: the first two are exact until the third
        // makes all three share; each then runs at 2/3, all done at 15 ms.
        let mut c = Cores::new(2.0, t(0));
        assert_eq!(add(&mut c, t(0), 1, 10, NEVER), (true, vec![]));
        assert_eq!(add(&mut c, t(0), 2, 10, NEVER), (true, vec![]));
        assert_eq!(add(&mut c, t(0), 3, 10, NEVER), (false, vec![1, 2]));
        assert_eq!(drain(&mut c), [(1, 15), (2, 15), (3, 15)]);
        assert!((c.busy_ns(t(15)) - 30e6).abs() < 10.0, "30 ms of core time");
        // Two jobs on two cores: no stretch, no event; they leave when done.
        let mut c = Cores::new(2.0, t(0));
        assert_eq!(add(&mut c, t(0), 1, 10, NEVER), (true, vec![]));
        assert_eq!(add(&mut c, t(0), 2, 4, NEVER), (true, vec![]));
        assert_eq!(c.next_done(), None);
        assert!(
            (c.busy_ns(t(6)) - 10e6).abs() < 10.0,
            "6 + 4 ms of core time"
        );
        assert_eq!(c.running(), 1);
        assert!(
            (c.busy_ns(t(20)) - 14e6).abs() < 10.0,
            "10 + 4 ms of core time"
        );
        assert_eq!(c.running(), 0);
    }

    #[test]
    fn a_late_arrival_slows_the_others_from_then_on() {
        // One core: job 1 (10 ms) alone for 4 ms, then shares with job 2 (3 ms): job 2 needs
        // 6 ms at half speed (done at 10), job 1 then has 3 ms left alone (done at 13).
        let mut c = Cores::new(1.0, t(0));
        assert_eq!(add(&mut c, t(0), 1, 10, NEVER), (true, vec![]));
        assert_eq!(add(&mut c, t(4), 2, 3, NEVER), (false, vec![1]));
        assert_eq!(drain(&mut c), [(2, 10), (1, 13)]);
        // An exact job done before the next one arrives shares nothing.
        let mut c = Cores::new(1.0, t(0));
        assert_eq!(add(&mut c, t(0), 1, 3, NEVER), (true, vec![]));
        assert_eq!(add(&mut c, t(3), 2, 3, NEVER), (true, vec![]));
        // A withdrawn job stops sharing.
        let mut c = Cores::new(1.0, t(0));
        add(&mut c, t(0), 1, 10, NEVER);
        add(&mut c, t(0), 2, 10, NEVER);
        assert!(c.remove(t(2), 2));
        assert_eq!(drain(&mut c), [(1, 11)]);
    }

    #[test]
    fn a_time_limit_is_an_event_of_the_node_and_cuts_the_job() {
        // One core, two 10 ms jobs (20 ms each when shared); job 2 may run until 12 ms.
        let mut c = Cores::new(1.0, t(0));
        add(&mut c, t(0), 1, 10, NEVER);
        add(&mut c, t(0), 2, 10, t(12));
        assert_eq!(c.next_done(), Some(t(12)));
        let (mut done, mut expired) = (Vec::new(), Vec::new());
        c.take_done(t(12), &mut done);
        c.take_expired(t(12), &mut expired);
        assert_eq!((done, expired), (vec![], vec![2]));
        // Job 1 had 6 ms of service by then; alone, it needs 4 more.
        assert_eq!(drain(&mut c), [(1, 16)]);
    }
}
