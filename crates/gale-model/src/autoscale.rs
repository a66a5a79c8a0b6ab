//! Autoscaling policies: the desired replica count of an action, evaluated every
//! `autoscale_period` from what happened in it.

/// What a policy sees of one action over the last period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Live replicas (starting or ready).
    pub replicas: u32,
    /// Activations running now.
    pub active: u32,
    /// Activations of the action waiting in the queue.
    pub queued: u32,
    /// Invocations that arrived during the period.
    pub arrivals: u64,
    /// The period, seconds.
    pub period_s: f64,
    /// Activations a replica runs at once.
    pub concurrency: u32,
    /// Mean utilisation of the replicas over the period (busy share of their capacity,
    /// 0..=1 per replica), when the driver measures it (a metrics server: `gale simulate`
    /// integrates CPU use); `None` falls back to the running activations at the instant.
    pub utilisation: Option<f64>,
}

/// The autoscaling policies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Policy {
    /// Knative-style: replicas = arrival rate / the rate one replica should take.
    RequestRate {
        /// Invocations per second per replica.
        per_replica: f64,
    },
    /// Replicas = (running + queued) / the work one replica should hold.
    QueueLength {
        /// Activations (running or waiting) per replica.
        per_replica: f64,
    },
    /// Kubernetes HPA: replicas = ceil(replicas × utilisation / target), utilisation being
    /// running activations over replica slots.
    Utilisation {
        /// Target utilisation, 0 < target ≤ 1.
        target: f64,
    },
}

impl Policy {
    /// Config name.
    pub fn name(&self) -> &'static str {
        match self {
            Policy::RequestRate { .. } => "request-rate",
            Policy::QueueLength { .. } => "queue-length",
            Policy::Utilisation { .. } => "utilisation",
        }
    }

    /// The replica count this policy wants (before min/max clamping).
    pub fn desired(&self, s: &Stats) -> u32 {
        let want = match *self {
            Policy::RequestRate { per_replica } => {
                let rate = s.arrivals as f64 / s.period_s.max(1e-9);
                rate / per_replica.max(1e-9)
            }
            Policy::QueueLength { per_replica } => {
                f64::from(s.active + s.queued) / per_replica.max(1e-9)
            }
            Policy::Utilisation { target } => {
                let slots = f64::from(s.replicas.max(1) * s.concurrency.max(1));
                // Queued work is demand a measured utilisation cannot see yet.
                let utilisation = match s.utilisation {
                    Some(u) => u + f64::from(s.queued) / slots,
                    None => f64::from(s.active + s.queued) / slots,
                };
                f64::from(s.replicas.max(1)) * utilisation / target.clamp(1e-9, 1.0)
            }
        };
        // A tenth of a replica is noise, not demand.
        (want - 0.1).ceil().clamp(0.0, f64::from(u32::MAX)) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(replicas: u32, active: u32, queued: u32, arrivals: u64) -> Stats {
        Stats {
            replicas,
            active,
            queued,
            arrivals,
            period_s: 2.0,
            concurrency: 1,
            utilisation: None,
        }
    }

    #[test]
    fn desired_counts() {
        let rate = Policy::RequestRate { per_replica: 10.0 };
        assert_eq!(rate.desired(&stats(1, 0, 0, 100)), 5); // 50/s
        assert_eq!(rate.desired(&stats(1, 0, 0, 0)), 0);
        let queue = Policy::QueueLength { per_replica: 2.0 };
        assert_eq!(queue.desired(&stats(1, 3, 4, 0)), 4);
        let hpa = Policy::Utilisation { target: 0.5 };
        assert_eq!(hpa.desired(&stats(4, 4, 0, 0)), 8); // 100 % busy at a 50 % target
        assert_eq!(hpa.desired(&stats(4, 1, 0, 0)), 2);
        assert_eq!(hpa.desired(&stats(4, 0, 0, 0)), 0);
        // A measured 75 % over the period wins over the instant's count.
        let measured = Stats {
            utilisation: Some(0.75),
            ..stats(4, 0, 0, 0)
        };
        assert_eq!(hpa.desired(&measured), 6);
    }
}
