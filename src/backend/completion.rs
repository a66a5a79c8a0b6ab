//! Completing an accepted invocation: wait for its activation record.
//!
//! A non-blocking invoke answers `202 Accepted` at once; what its user waits for is the
//! activation's end, which only the activation record tells.
//! - On gale's embedded platform the record is long-polled: one `GET` that the platform
//!   holds until the activation completes (`?gale_wait_ms`, up to 10 s per request). A
//!   non-blocking call then costs exactly two requests, whatever its duration.
//! - OpenWhisk has no long poll, so there the record is polled, adaptively: the first poll
//!   is aimed at the time this function's warm activations recently took on the platform
//!   (`waitTime + duration` of their records), tracked by an estimate that follows a fall
//!   at once and a rise slowly, so it sits near the fast end of what it sees (a miss costs
//!   one more poll; a late aim costs the user's latency); misses back off — immediately
//!   twice, then 1 ms, 2 ms, … up to 2 s. The estimate is learnt from the records' own
//!   timings, not from when a poll found them (a poll that succeeds at once only says the
//!   record was there by then); cold starts are left out of it.
//!
//! A fixed first delay would put a floor under every non-blocking invocation: the old
//! 50 ms one capped a closed loop of no-op calls at 20 per second per user. Both
//! `gale inject` and `gale generate` complete invocations through here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::{Activation, Platform};

/// Longest wait between two polls.
const MAX_DELAY: Duration = Duration::from_secs(2);
/// Below this a wait is a task yield: tokio's timers are 1 ms granular.
const TIMER_FLOOR: Duration = Duration::from_millis(1);
/// Weight of an observation above the estimate (a rise is followed slowly).
const RISE_WEIGHT: f64 = 0.05;
/// Longest wait of one long poll.
const LONG_POLL: Duration = Duration::from_secs(10);
/// Functions whose estimates are kept; past it new functions start from 0.
const MAX_FUNCTIONS: usize = 100_000;

/// The run's record-appearance estimates and polling limits.
#[derive(Debug)]
pub struct Poller {
    estimates: Mutex<HashMap<Arc<str>, f64>>,
    timeout: Duration,
    long_poll: bool,
}

impl Poller {
    /// Give up on a record after `timeout`; `long_poll` when the platform holds a `GET`
    /// until the activation completes (gale's).
    pub fn new(timeout: Duration, long_poll: bool) -> Poller {
        Poller {
            estimates: Mutex::new(HashMap::new()),
            timeout,
            long_poll,
        }
    }

    /// How long a record of `function` recently took to appear after its acceptance, s.
    fn estimate(&self, function: &str) -> f64 {
        self.estimates
            .lock()
            .ok()
            .and_then(|m| m.get(function).copied())
            .unwrap_or(0.0)
    }

    fn learn(&self, function: &Arc<str>, seconds: f64) {
        let Ok(mut m) = self.estimates.lock() else {
            return;
        };
        if let Some(e) = m.get_mut(function) {
            if seconds < *e {
                *e = seconds;
            } else {
                *e += RISE_WEIGHT * (seconds - *e);
            }
        } else if m.len() < MAX_FUNCTIONS {
            m.insert(function.clone(), seconds);
        }
    }

    /// Wait for the record of activation `id` (of `function`, accepted at `accepted`),
    /// sending each poll as `user`, at most `slots` polls of the run at once. Errors say
    /// why no record came (timeout, with the last transport or HTTP error).
    pub async fn complete<P: Platform>(
        &self,
        platform: &P,
        user: usize,
        id: &str,
        function: &Arc<str>,
        accepted: Instant,
        slots: Option<&Semaphore>,
    ) -> Result<Activation, String> {
        let give_up = accepted + self.timeout;
        if self.long_poll {
            return self.long_poll(platform, user, id, give_up, slots).await;
        }
        // Aim a little early: a miss costs one poll, a late aim costs the user's latency.
        let mut next = accepted + Duration::from_secs_f64(self.estimate(function) * 0.9);
        let mut gap = Duration::ZERO;
        let mut last_error = None;
        loop {
            if next.saturating_duration_since(Instant::now()) >= TIMER_FLOOR {
                tokio::time::sleep_until(next.min(give_up).into()).await;
            } else {
                // Below the timer's granularity: poll now (spinning until the aim would take
                // the CPU the platform needs, when both share a machine).
                tokio::task::yield_now().await;
            }
            let result = {
                let _slot = match slots {
                    Some(s) => s.acquire().await.ok(),
                    None => None,
                };
                platform.fetch_activation(user, id, None).await
            };
            match result {
                Ok(Some(a)) => {
                    let t = a.timings();
                    if !t.cold {
                        let busy_us = t.wait_us.unwrap_or(0) + t.duration_us;
                        self.learn(function, busy_us as f64 / 1e6);
                    }
                    return Ok(a);
                }
                Ok(None) => {}
                Err(e) => last_error = Some(e.to_string()),
            }
            if Instant::now() >= give_up {
                let why = last_error.unwrap_or_else(|| "not found".into());
                return Err(format!(
                    "activation record not available after {:?}: {why}",
                    self.timeout
                ));
            }
            gap = (gap * 2).clamp(TIMER_FLOOR / 4, MAX_DELAY);
            next = Instant::now() + gap;
        }
    }
}

impl Poller {
    /// Long polls until the record comes or `give_up`.
    async fn long_poll<P: Platform>(
        &self,
        platform: &P,
        user: usize,
        id: &str,
        give_up: Instant,
        slots: Option<&Semaphore>,
    ) -> Result<Activation, String> {
        let mut last_error = None;
        loop {
            let left = give_up.saturating_duration_since(Instant::now());
            let result = {
                let _slot = match slots {
                    Some(s) => s.acquire().await.ok(),
                    None => None,
                };
                platform
                    .fetch_activation(user, id, Some(left.min(LONG_POLL)))
                    .await
            };
            match result {
                Ok(Some(a)) => return Ok(a),
                Ok(None) => {}
                Err(e) => {
                    last_error = Some(e.to_string());
                    // A failing platform is not asked again at once.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            if Instant::now() >= give_up {
                let why = last_error.unwrap_or_else(|| "not found".into());
                return Err(format!(
                    "activation record not available after {:?}: {why}",
                    self.timeout
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_follow_observations() {
        let p = Poller::new(Duration::from_secs(1), false);
        let f: Arc<str> = "f".into();
        assert_eq!(p.estimate("f"), 0.0);
        p.learn(&f, 0.1);
        assert!((p.estimate("f") - 0.1).abs() < 1e-12);
        // A rise is followed slowly, a fall at once.
        p.learn(&f, 0.2);
        assert!((p.estimate("f") - 0.105).abs() < 1e-12);
        p.learn(&f, 0.01);
        assert!((p.estimate("f") - 0.01).abs() < 1e-12);
    }
}
