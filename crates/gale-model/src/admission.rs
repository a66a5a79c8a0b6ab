//! Admission per namespace, as OpenWhisk's controller answers 429: a fixed calendar-minute
//! window that counts refused calls too, checked before a concurrency limit that admits
//! while `in flight < allowed`. The rule is pure; `gale platform` keeps its counters in
//! atomics and asks [`rate`] and [`concurrency`] for the verdict, `gale simulate` keeps them
//! in an [`Admission`].

/// Per-namespace limits. `None` is unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// Invocations per calendar minute (OpenWhisk deploys 60).
    pub invocations_per_minute: Option<u32>,
    /// Concurrent activations in flight (OpenWhisk deploys 30).
    pub concurrent_invocations: Option<u32>,
}

/// Why a call was refused (the 429's message is its `Display`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The calendar minute's count, this call included, passed the limit.
    PerMinute {
        /// Calls counted in the minute, this one included.
        count: u64,
        /// The limit.
        allowed: u32,
    },
    /// Too many activations in flight when the call arrived.
    Concurrent {
        /// Activations in flight before this one.
        count: u32,
        /// The limit.
        allowed: u32,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // OpenWhisk's wording, which clients match on.
        match self {
            Refusal::PerMinute { count, allowed } => write!(
                f,
                "Too many requests in the last minute (count: {count}, allowed: {allowed})."
            ),
            Refusal::Concurrent { count, allowed } => write!(
                f,
                "Too many concurrent requests in flight (count: {count}, allowed: {allowed})."
            ),
        }
    }
}

/// The calendar minute an instant in milliseconds falls in (the rate window's key).
pub fn minute(now_ms: u64) -> u64 {
    now_ms / 60_000
}

/// The rate verdict for the `count`-th call of a minute (refused calls count too).
pub fn rate(count: u64, allowed: Option<u32>) -> Result<(), Refusal> {
    match allowed {
        Some(allowed) if count > u64::from(allowed) => Err(Refusal::PerMinute { count, allowed }),
        _ => Ok(()),
    }
}

/// The concurrency verdict for a call arriving with `in_flight` activations admitted and
/// not finished.
pub fn concurrency(in_flight: u32, allowed: Option<u32>) -> Result<(), Refusal> {
    match allowed {
        Some(allowed) if in_flight >= allowed => Err(Refusal::Concurrent {
            count: in_flight,
            allowed,
        }),
        _ => Ok(()),
    }
}

/// The counters of one namespace for a single-threaded driver.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    limits: Limits,
    window: (u64, u64),
    in_flight: u32,
}

impl Admission {
    /// Counters enforcing `limits`.
    pub fn new(limits: Limits) -> Admission {
        Admission {
            limits,
            window: (0, 0),
            in_flight: 0,
        }
    }

    /// Count a call arriving at `now_ms`; on `Ok` it holds a unit of concurrency until
    /// [`Admission::finished`].
    pub fn admit(&mut self, now_ms: u64) -> Result<(), Refusal> {
        if self.limits.invocations_per_minute.is_some() {
            let m = minute(now_ms);
            self.window = if self.window.0 == m {
                (m, self.window.1.saturating_add(1))
            } else {
                (m, 1)
            };
            rate(self.window.1, self.limits.invocations_per_minute)?;
        }
        concurrency(self.in_flight, self.limits.concurrent_invocations)?;
        self.in_flight += 1;
        Ok(())
    }

    /// An admitted activation completed.
    pub fn finished(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// Activations admitted and not finished.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minute_window_counts_refusals_and_resets() {
        let mut a = Admission::new(Limits {
            invocations_per_minute: Some(2),
            concurrent_invocations: None,
        });
        assert!(a.admit(0).is_ok());
        assert!(a.admit(10).is_ok());
        let refused = a.admit(59_999).unwrap_err();
        assert_eq!(
            refused,
            Refusal::PerMinute {
                count: 3,
                allowed: 2
            }
        );
        assert!(refused
            .to_string()
            .starts_with("Too many requests in the last minute"));
        // The next calendar minute starts from zero.
        assert!(a.admit(60_000).is_ok());
    }

    #[test]
    fn concurrency_admits_below_the_limit_only() {
        let mut a = Admission::new(Limits {
            invocations_per_minute: None,
            concurrent_invocations: Some(1),
        });
        assert!(a.admit(0).is_ok());
        assert_eq!(
            a.admit(0),
            Err(Refusal::Concurrent {
                count: 1,
                allowed: 1
            })
        );
        a.finished();
        assert!(a.admit(0).is_ok());
        assert_eq!(a.in_flight(), 1);
    }
}
