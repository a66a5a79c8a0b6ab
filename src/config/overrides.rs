//! Platform settings by name, `key=value`: the one mechanism behind `gale simulate --sweep`,
//! an experiment's `settings:` and its platform factors. A key names a field of the
//! platform's settings file (docs/platform.md) the way the file nests it
//! (`keepalive.idle_timeout`), and a value is written as the file writes it.

use std::sync::Arc;

use crate::model::{
    balance, keepalive, placement, ModelConfig, NodeConfig, PrewarmConfig, Warming,
};

/// The settings a key can set.
pub const KEYS: [&str; 12] = [
    "placement",
    "balance",
    "warming",
    "eviction",
    "keepalive.idle_timeout",
    "keepalive.pause_grace",
    "seed",
    "nodes",
    "node.memory",
    "node.cpus",
    "prewarm.count",
    "prewarm.memory",
];

/// Set `key` to `value` in `model`; `seed` is the run's seed (the simulator's, or the
/// random placement's on a platform).
pub fn apply(
    model: &mut ModelConfig,
    seed: &mut Option<u64>,
    key: &str,
    value: &str,
) -> Result<(), String> {
    let bad = |what: &str, all: &[&str]| {
        format!(
            "{key}: unknown {what} `{value}`, expected one of: {}",
            all.join(", ")
        )
    };
    let m = model;
    match key {
        "placement" => {
            m.placement = placement::Policy::parse(value)
                .ok_or_else(|| bad("policy", &placement::Policy::ALL.map(|p| p.name())))?
        }
        "balance" => {
            m.balance = balance::Policy::parse(value)
                .ok_or_else(|| bad("policy", &balance::Policy::ALL.map(|p| p.name())))?
        }
        "warming" => {
            m.warming = Warming::parse(value)
                .ok_or_else(|| bad("warming", &Warming::ALL.map(|w| w.name())))?
        }
        "eviction" => {
            m.eviction = keepalive::Eviction::parse(value)
                .ok_or_else(|| bad("order", &keepalive::Eviction::ALL.map(|e| e.name())))?
        }
        "keepalive.idle_timeout" => m.keepalive.idle_timeout = duration(key, value)?,
        "keepalive.pause_grace" => {
            m.keepalive.pause_grace = if value == "never" {
                None
            } else {
                Some(duration(key, value)?)
            }
        }
        "seed" => {
            *seed = Some(
                value
                    .parse()
                    .map_err(|_| format!("seed: expected an integer, got `{value}`"))?,
            )
        }
        // N nodes like the first one (node0, node1…): placement policies need a choice.
        "nodes" => {
            let n: usize = number(key, value, 1.0, 1024.0)? as usize;
            let first = m.nodes.first().cloned().unwrap_or(NodeConfig {
                name: "node0".into(),
                memory_mb: 32 * 1024,
                cpus: 2.0,
            });
            m.nodes = (0..n)
                .map(|i| NodeConfig {
                    name: Arc::from(format!("node{i}")),
                    ..first.clone()
                })
                .collect();
        }
        "node.memory" => {
            let mb = number(key, value, 1.0, 1u64.wrapping_shl(40) as f64)? as u64;
            m.nodes.iter_mut().for_each(|n| n.memory_mb = mb);
        }
        "node.cpus" => {
            let cpus = number(key, value, 0.01, 4096.0)?;
            m.nodes.iter_mut().for_each(|n| n.cpus = cpus);
        }
        // One stem-cell entry for synthetic actions (the built-in workloads' kind).
        "prewarm.count" | "prewarm.memory" => {
            if m.prewarm.is_empty() {
                m.prewarm.push(PrewarmConfig {
                    kind: Arc::from("gale:synthetic"),
                    memory_mb: 256,
                    count: 1,
                });
            }
            let p = &mut m.prewarm[0];
            if key == "prewarm.count" {
                p.count = number(key, value, 0.0, 1024.0)? as u32;
            } else {
                p.memory_mb = number(key, value, 1.0, 1048576.0)? as u32;
            }
        }
        _ => {
            return Err(format!(
                "unknown setting `{key}`: expected one of {}",
                KEYS.join(", ")
            ))
        }
    }
    Ok(())
}

/// Whether `key` is a duration-valued setting (scaled by an experiment's `--scale`).
pub fn is_duration(key: &str) -> bool {
    matches!(key, "keepalive.idle_timeout" | "keepalive.pause_grace")
}

fn duration(key: &str, value: &str) -> Result<u64, String> {
    crate::units::parse_duration(value)
        .map(|d| d.as_nanos().min(u128::from(u64::MAX)) as u64)
        .map_err(|e| format!("{key}: {e}"))
}

fn number(key: &str, value: &str, lo: f64, hi: f64) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(v) if v.is_finite() && (lo..=hi).contains(&v) => Ok(v),
        _ => Err(format!(
            "{key}: expected a number from {lo} to {hi}, got `{value}`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_set_their_fields_and_refuse_bad_values() {
        let mut m = ModelConfig::default();
        let mut seed = None;
        apply(&mut m, &mut seed, "nodes", "3").unwrap();
        apply(&mut m, &mut seed, "node.memory", "2048").unwrap();
        apply(&mut m, &mut seed, "prewarm.count", "2").unwrap();
        apply(&mut m, &mut seed, "warming", "prewarm").unwrap();
        apply(&mut m, &mut seed, "keepalive.idle_timeout", "2s").unwrap();
        apply(&mut m, &mut seed, "seed", "9").unwrap();
        assert_eq!(m.nodes.len(), 3);
        assert_eq!(&*m.nodes[2].name, "node2");
        assert!(m.nodes.iter().all(|n| n.memory_mb == 2048));
        assert_eq!(m.prewarm[0].count, 2);
        assert_eq!(m.warming, Warming::Prewarm);
        assert_eq!(m.keepalive.idle_timeout, 2_000_000_000);
        assert_eq!(seed, Some(9));
        assert!(apply(&mut m, &mut seed, "nodes", "0").is_err());
        assert!(apply(&mut m, &mut seed, "warming", "tepid")
            .unwrap_err()
            .contains("cold, prewarm, warm"));
        assert!(apply(&mut m, &mut seed, "colour", "red")
            .unwrap_err()
            .contains("unknown setting"));
    }
}
