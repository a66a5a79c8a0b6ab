//! The grid: every combination of the factors' values, first factor slowest, each point with
//! its name, its platform settings and its workload, shrunk by `--scale`.

use crate::config::experiment::{
    is_count_key, is_duration_key, Experiment, WorkloadSource, WORKLOAD_KEYS,
};

/// One point of the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// 1-based position in the grid.
    pub index: usize,
    /// `key=value,key=value` (`base` for an experiment without factors).
    pub name: String,
    /// The factors' values at this point, as written.
    pub factors: Vec<(String, String)>,
    /// Platform settings by name, fixed ones first (scaled).
    pub platform: Vec<(String, String)>,
    /// The workload: a trace or a built-in one with the point's values.
    pub workload: WorkloadSource,
}

impl Point {
    /// The point's directory name: its index, then its name, file-name safe.
    pub fn dir_name(&self) -> String {
        let safe: String = self
            .name
            .chars()
            .map(|c| {
                if c == '/' || c == '\\' || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        format!("p{:02}-{safe}", self.index)
    }
}

/// A value shrunk by `scale` when its key is a count or a duration.
pub fn scaled(key: &str, value: &str, scale: f64) -> String {
    if scale == 1.0 {
        return value.to_string();
    }
    if is_duration_key(key) {
        if let Ok(d) = crate::units::parse_duration(value) {
            return format!("{}ns", (d.as_nanos() as f64 * scale).round() as u64);
        }
    }
    if is_count_key(key) {
        if let Ok(n) = value.parse::<u64>() {
            return ((n as f64 * scale).ceil() as u64).max(1).to_string();
        }
    }
    value.to_string()
}

/// Every point of `e`, with counts and durations multiplied by `scale` (0 < scale ≤ 1 in
/// use; the names keep the values as written).
pub fn points(e: &Experiment, scale: f64) -> Result<Vec<Point>, String> {
    let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for f in &e.factors {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                f.values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((f.key.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    let mut base_workload = e.workload.clone();
    if let WorkloadSource::Builtin(w) = &mut base_workload {
        // Durations and counts the file left at their defaults shrink too.
        w.count = ((w.count as f64 * scale).ceil() as u64).max(1);
        w.duration = (w.duration as f64 * scale).round() as u64;
        w.gap = (w.gap as f64 * scale).round() as u64;
        w.wait = (w.wait as f64 * scale).round() as u64;
    }
    let mut out = Vec::with_capacity(combos.len());
    for (i, combo) in combos.into_iter().enumerate() {
        let mut platform = Vec::new();
        let mut workload = base_workload.clone();
        for (key, value) in e.settings.iter().chain(combo.iter()) {
            let value = scaled(key, value, scale);
            if WORKLOAD_KEYS.contains(&key.as_str()) {
                if let WorkloadSource::Builtin(w) = &mut workload {
                    w.set(key, &value)?;
                }
            } else {
                platform.push((key.clone(), value));
            }
        }
        let name = if combo.is_empty() {
            "base".to_string()
        } else {
            combo
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        out.push(Point {
            index: i + 1,
            name,
            factors: combo,
            platform,
            workload,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaling_shrinks_durations_and_counts_only() {
        assert_eq!(scaled("wait", "10s", 0.1), "1000000000ns");
        assert_eq!(scaled("count", "30", 0.05), "2");
        assert_eq!(scaled("count", "3", 0.01), "1");
        assert_eq!(scaled("placement", "random", 0.1), "random");
        assert_eq!(scaled("keepalive.idle_timeout", "1m", 0.5), "30000000000ns");
        assert_eq!(scaled("wait", "10s", 1.0), "10s");
    }
}
