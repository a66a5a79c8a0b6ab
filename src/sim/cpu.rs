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

use crate::model::Time;

/// A job in service, as its owner names it.
pub type JobId = u64;

/// One node's cores.
pub struct Cores {
    cpus: f64,
    /// Service per job since the origin, ns of one core.
    v: f64,
    last: Time,
    /// Jobs in service: finish mark (`v` at which each is done), job, time limit; unordered.
    jobs: Vec<(f64, JobId, Time)>,
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

    /// Bring the counters to `now`.
    fn advance(&mut self, now: Time) {
        let dt = now.since(self.last) as f64;
        if dt > 0.0 {
            let n = self.jobs.len();
            self.v += dt * self.rate(n);
            self.busy += dt * (n as f64).min(self.cpus);
            self.last = now;
        }
    }

    /// Start `work_ns` of CPU work for `job` at `now`, to be cut at `deadline` if not done
    /// by then.
    pub fn add(&mut self, now: Time, job: JobId, work_ns: u64, deadline: Time) {
        self.advance(now);
        self.jobs.push((self.v + work_ns as f64, job, deadline));
    }

    /// Withdraw `job` (its run was cut short); true if it was in service.
    pub fn remove(&mut self, now: Time, job: JobId) -> bool {
        self.advance(now);
        match self.jobs.iter().position(|&(_, j, _)| j == job) {
            Some(i) => {
                self.jobs.swap_remove(i);
                true
            }
            None => false,
        }
    }

    /// When the next job finishes or reaches its time limit, if nothing changes before.
    pub fn next_done(&self) -> Option<Time> {
        let (&(first_mark, _, first_limit), rest) = self.jobs.split_first()?;
        let (mark, limit) = rest
            .iter()
            .fold((first_mark, first_limit), |(m, l), &(jm, _, jl)| {
                (m.min(jm), l.min(jl))
            });
        let left = (mark - self.v).max(0.0);
        let dt = (left / self.rate(self.jobs.len())).ceil();
        Some((self.last + dt as u64).min(limit))
    }

    /// Take the jobs done by `now` into `out`, in finish order (ties by job id).
    pub fn take_done(&mut self, now: Time, out: &mut Vec<JobId>) {
        self.advance(now);
        // Within a nanosecond of service: `next_done` rounds up to whole ns.
        let limit = self.v + 1.0;
        let done = &mut self.done;
        self.jobs.retain(|&(m, j, _)| {
            let finished = m <= limit;
            if finished {
                done.push((m, j));
            }
            !finished
        });
        done.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        out.extend(done.drain(..).map(|(_, j)| j));
    }

    /// Take the jobs whose time limit is `now` or earlier into `out`, by job id (call after
    /// [`Cores::take_done`]: a run done at its limit has made it).
    pub fn take_expired(&mut self, now: Time, out: &mut Vec<JobId>) {
        self.advance(now);
        let first = out.len();
        self.jobs.retain(|&(_, j, d)| {
            let expired = d <= now;
            if expired {
                out.push(j);
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

    #[test]
    fn runs_stretch_only_while_the_node_is_oversubscribed() {
        // Two cores, three 10 ms jobs from 0: each runs at 2/3, all done at 15 ms.
        let mut c = Cores::new(2.0, t(0));
        for j in 1..=3 {
            c.add(t(0), j, 10_000_000, NEVER);
        }
        assert_eq!(drain(&mut c), [(1, 15), (2, 15), (3, 15)]);
        assert!((c.busy_ns(t(15)) - 30e6).abs() < 10.0, "30 ms of core time");
        // Two jobs on two cores: no stretch.
        let mut c = Cores::new(2.0, t(0));
        c.add(t(0), 1, 10_000_000, NEVER);
        c.add(t(0), 2, 4_000_000, NEVER);
        assert_eq!(drain(&mut c), [(2, 4), (1, 10)]);
    }

    #[test]
    fn a_late_arrival_slows_the_others_from_then_on() {
        // One core: job 1 (10 ms) alone for 4 ms, then shares with job 2 (3 ms): job 2 needs
        // 6 ms at half speed (done at 10), job 1 then has 3 ms left alone (done at 13).
        let mut c = Cores::new(1.0, t(0));
        c.add(t(0), 1, 10_000_000, NEVER);
        c.add(t(4), 2, 3_000_000, NEVER);
        assert_eq!(drain(&mut c), [(2, 10), (1, 13)]);
        // A withdrawn job stops sharing.
        let mut c = Cores::new(1.0, t(0));
        c.add(t(0), 1, 10_000_000, NEVER);
        c.add(t(0), 2, 10_000_000, NEVER);
        assert!(c.remove(t(2), 2));
        assert_eq!(drain(&mut c), [(1, 11)]);
    }

    #[test]
    fn a_time_limit_is_an_event_of_the_node_and_cuts_the_job() {
        // One core, two 10 ms jobs (20 ms each when shared); job 2 may run until 12 ms.
        let mut c = Cores::new(1.0, t(0));
        c.add(t(0), 1, 10_000_000, NEVER);
        c.add(t(0), 2, 10_000_000, t(12));
        assert_eq!(c.next_done(), Some(t(12)));
        let (mut done, mut expired) = (Vec::new(), Vec::new());
        c.take_done(t(12), &mut done);
        c.take_expired(t(12), &mut expired);
        assert_eq!((done, expired), (vec![], vec![2]));
        // Job 1 had 6 ms of service by then; alone, it needs 4 more.
        assert_eq!(drain(&mut c), [(1, 16)]);
    }
}
