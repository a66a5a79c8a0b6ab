//! The summary a simulation adds to inject's: cold-start ratio, containers alive on time
//! average (per function and overall), memory-time held by idle containers, queueing delay.
//! Streaming: counters and fixed-size histograms, flat in trace length.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use super::record::{Container, Invocation, Outcome};

/// Per-function and overall accumulators.
pub struct Stats {
    invocations: u64,
    /// By [`Outcome::ALL`]'s order.
    by_outcome: [u64; 4],
    cold: u64,
    ran: u64,
    queued: u64,
    completion_us: Histogram<u64>,
    queue_delay_us: Histogram<u64>,
    /// Per function name, an index into `functions`.
    per_function: BTreeMap<Arc<str>, usize>,
    functions: Vec<FunctionStats>,
    /// The index of each name allocation seen (the driver passes the same few `Arc`s
    /// again and again): a hash of an address instead of a walk comparing names.
    by_address: HashMap<usize, usize, std::hash::BuildHasherDefault<crate::model::IdHasher>>,
    /// Container-ns alive (all containers, stem cells included).
    alive_ns: u128,
    /// MB·ns held by containers alive but not running.
    idle_mb_ns: u128,
    containers: u64,
}

#[derive(Default)]
struct FunctionStats {
    invocations: u64,
    cold: u64,
    alive_ns: u128,
    idle_mb_ns: u128,
}

fn histogram() -> Histogram<u64> {
    // Three significant digits from 1 µs to a year: a few hundred kB, whatever the count.
    Histogram::new_with_bounds(1, 365 * 86_400 * 1_000_000, 3).expect("static bounds")
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            invocations: 0,
            by_outcome: [0; 4],
            cold: 0,
            ran: 0,
            queued: 0,
            completion_us: histogram(),
            queue_delay_us: histogram(),
            per_function: BTreeMap::new(),
            functions: Vec::new(),
            by_address: HashMap::default(),
            alive_ns: 0,
            idle_mb_ns: 0,
            containers: 0,
        }
    }
}

impl Stats {
    /// Count an invocation.
    pub fn invocation(&mut self, r: &Invocation) {
        self.invocations += 1;
        self.by_outcome[r.outcome as usize] += 1;
        let f = self.function(&r.function);
        f.invocations += 1;
        if r.cold == Some(true) {
            f.cold += 1;
            self.cold += 1;
        }
        if r.outcome != Outcome::Throttled && r.end_ns.is_some() {
            self.ran += 1;
        }
        if let Some(c) = r.completion_ns() {
            self.completion_us.saturating_record((c / 1000).max(1));
        }
        if r.queued {
            self.queued += 1;
            if let Some(w) = r.wait_ns {
                self.queue_delay_us.saturating_record((w / 1000).max(1));
            }
        }
    }

    /// Count a container's life, which ended (or was cut) at `end_ns`.
    pub fn container(&mut self, c: &Container, end_ns: u64) {
        let alive = u128::from(c.removed_ns.unwrap_or(end_ns).saturating_sub(c.created_ns));
        let idle = u128::from(c.idle_ns) * u128::from(c.memory_mb);
        self.alive_ns += alive;
        self.idle_mb_ns += idle;
        self.containers += 1;
        if let Some(name) = &c.function {
            let f = self.function(name);
            f.alive_ns += alive;
            f.idle_mb_ns += idle;
        }
    }

    fn function(&mut self, name: &Arc<str>) -> &mut FunctionStats {
        let address = Arc::as_ptr(name) as *const u8 as usize;
        let index = match self.by_address.get(&address) {
            Some(&i) => i,
            None => {
                let next = self.functions.len();
                let i = *self.per_function.entry(name.clone()).or_insert(next);
                if i == next {
                    self.functions.push(FunctionStats::default());
                }
                // The name stays alive in `per_function`, so its address is never reused
                // for another name while this map holds it.
                self.by_address.insert(address, i);
                i
            }
        };
        &mut self.functions[index]
    }

    /// The summary over a run of `horizon_ns` of virtual time.
    pub fn summary(&self, horizon_ns: u64, events: u64) -> Value {
        let horizon = horizon_ns.max(1) as f64;
        let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let pct = |h: &Histogram<u64>| {
            if h.is_empty() {
                Value::Null
            } else {
                json!({
                    "mean_ms": h.mean() / 1000.0,
                    "p50_ms": h.value_at_quantile(0.5) as f64 / 1000.0,
                    "p90_ms": h.value_at_quantile(0.9) as f64 / 1000.0,
                    "p99_ms": h.value_at_quantile(0.99) as f64 / 1000.0,
                    "max_ms": h.max() as f64 / 1000.0,
                })
            }
        };
        let functions: serde_json::Map<String, Value> = self
            .per_function
            .iter()
            .map(|(name, &i)| (name, &self.functions[i]))
            .map(|(name, f)| {
                (
                    name.to_string(),
                    json!({
                        "invocations": f.invocations,
                        "cold_starts": f.cold,
                        "cold_start_ratio": ratio(f.cold, f.invocations),
                        "containers_alive_mean": f.alive_ns as f64 / horizon,
                        "idle_memory_mb_s": f.idle_mb_ns as f64 / 1e9,
                    }),
                )
            })
            .collect();
        // Outcomes that happened, by name.
        let outcomes: BTreeMap<&str, u64> = Outcome::ALL
            .iter()
            .zip(self.by_outcome)
            .filter(|(_, n)| *n > 0)
            .map(|(o, n)| (o.name(), n))
            .collect();
        json!({
            "invocations": self.invocations,
            "outcomes": outcomes,
            "cold_starts": self.cold,
            "cold_start_ratio": ratio(self.cold, self.ran),
            "queued": self.queued,
            "queueing_delay": pct(&self.queue_delay_us),
            "completion": pct(&self.completion_us),
            "containers": self.containers,
            "containers_alive_mean": self.alive_ns as f64 / horizon,
            "idle_memory_mb_s": self.idle_mb_ns as f64 / 1e9,
            "virtual_seconds": horizon_ns as f64 / 1e9,
            "events": events,
            "functions": functions,
        })
    }
}
