//! Completing an accepted invocation: poll its activation record until it is there.
//!
//! A non-blocking invoke answers `202 Accepted` at once; what its user waits for is the
//! activation's end, which only the activation record tells. OpenWhisk has no long poll,
//! so the record is polled, adaptively: the first poll comes after the time records of the
//! same function took to appear recently (an exponentially weighted mean, 0 at first), and
//! misses back off — immediately twice (a poll's own round trip paces them), then 1 ms,
//! 2 ms, … up to 2 s. A fixed first delay would put a floor under every non-blocking
//! invocation: the old 50 ms one capped a closed loop of no-op calls at 20 per second per
//! user. Both `gale inject` and `gale generate` complete invocations through here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::{Activation, Platform};

/// Longest wait between two polls.
const MAX_DELAY: Duration = Duration::from_secs(2);
/// Below this a wait is a task yield: tokio's timers are 1 ms granular.
const TIMER_FLOOR: Duration = Duration::from_millis(1);
/// Weight of a new observation in the per-function estimate.
const EWMA_WEIGHT: f64 = 0.2;
/// Functions whose estimates are kept; past it new functions start from 0.
const MAX_FUNCTIONS: usize = 100_000;

/// The run's record-appearance estimates and polling limits.
#[derive(Debug)]
pub struct Poller {
    estimates: Mutex<HashMap<Arc<str>, f64>>,
    timeout: Duration,
}

impl Poller {
    /// Give up on a record after `timeout`.
    pub fn new(timeout: Duration) -> Poller {
        Poller {
            estimates: Mutex::new(HashMap::new()),
            timeout,
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
            *e += EWMA_WEIGHT * (seconds - *e);
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
        // Aim a little early: a miss costs one poll, a late aim costs the user's latency.
        let mut next = accepted + Duration::from_secs_f64(self.estimate(function) * 0.9);
        let mut gap = Duration::ZERO;
        let mut last_error = None;
        loop {
            if next.saturating_duration_since(Instant::now()) >= TIMER_FLOOR {
                tokio::time::sleep_until(next.min(give_up).into()).await;
            } else {
                tokio::task::yield_now().await;
            }
            let result = {
                let _slot = match slots {
                    Some(s) => s.acquire().await.ok(),
                    None => None,
                };
                platform.fetch_activation(user, id).await
            };
            match result {
                Ok(Some(a)) => {
                    self.learn(function, accepted.elapsed().as_secs_f64());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_follow_observations() {
        let p = Poller::new(Duration::from_secs(1));
        let f: Arc<str> = "f".into();
        assert_eq!(p.estimate("f"), 0.0);
        p.learn(&f, 0.1);
        assert!((p.estimate("f") - 0.1).abs() < 1e-12);
        p.learn(&f, 0.2);
        assert!((p.estimate("f") - 0.12).abs() < 1e-12);
    }
}
