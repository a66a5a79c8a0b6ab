//! The built-in presets: the files in config/experiments/, compiled in, so a preset and its
//! file are one definition (`gale experiment --preset NAME --print` shows it).

use std::path::PathBuf;

/// The presets' names.
pub const NAMES: [&str; 3] = ["policies", "perf-cost", "keepalive-probe"];

/// A preset's YAML text.
pub fn text(name: &str) -> Option<&'static str> {
    match name {
        "policies" => Some(include_str!("../../config/experiments/policies.yml")),
        "perf-cost" => Some(include_str!("../../config/experiments/perf-cost.yml")),
        "keepalive-probe" => Some(include_str!("../../config/experiments/keepalive-probe.yml")),
        _ => None,
    }
}

/// The name errors give a preset: its file in the source tree.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from(format!("config/experiments/{name}.yml"))
}
