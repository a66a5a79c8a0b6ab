//! A built-in workload as a trace file (docs/trace-format.md), so that its runs go through
//! `gale inject` and `gale simulate` exactly as a user's trace does. JSON is YAML: the file
//! is written as JSON text with a `.yaml` name.

use serde_json::{json, Value};

use crate::config::experiment::{Pattern, Workload};

/// The trace of `w`: its functions and their invocations in time order.
pub fn trace_text(w: &Workload, blocking: bool) -> String {
    let functions: Vec<Value> = w
        .functions
        .iter()
        .map(|f| {
            let mut v = json!({
                "name": f.name,
                "memory_mb": f.memory,
                "params": {"cpu_ms": f.cpu_ms, "mem_mb": f.mem_mb, "sleep_ms": f.sleep_ms},
            });
            if let Some(kind) = &f.kind {
                v["kind"] = json!(kind);
            }
            if let Some(code) = &f.code {
                v["code"] = json!(code);
            }
            v
        })
        .collect();
    let mut doc = json!({
        "seed": 1,
        "blocking": blocking,
        "functions": functions,
    });
    if w.pattern == Pattern::Poisson {
        doc["arrivals"] = Value::Array(
            w.functions
                .iter()
                .map(|f| {
                    json!({
                        "function": f.name,
                        "rate": w.rate,
                        "process": "poisson",
                        "duration": format!("{}ms", w.duration as f64 / 1e6),
                    })
                })
                .collect(),
        );
    } else {
        let mut rows: Vec<(u64, usize, &str)> = Vec::new();
        for (i, f) in w.functions.iter().enumerate() {
            for at in instants(w) {
                rows.push((at, i, &f.name));
            }
        }
        rows.sort();
        doc["invocations"] = Value::Array(
            rows.into_iter()
                .map(|(at, _, name)| json!({"at_ms": at as f64 / 1e6, "function": name}))
                .collect(),
        );
    }
    let mut text = String::from(
        "# Written by `gale experiment` from a built-in workload (docs/experiments.md).\n",
    );
    text += &serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

/// When one function is invoked, ns from the trace's start.
fn instants(w: &Workload) -> Vec<u64> {
    match w.pattern {
        Pattern::Poisson => Vec::new(),
        Pattern::Burst => vec![0; w.count as usize],
        Pattern::Sequential | Pattern::Cold => {
            (0..w.count).map(|i| i.saturating_mul(w.gap)).collect()
        }
        // The first one warms a container; the `count` measured ones follow.
        Pattern::Warm => (0..=w.count).map(|i| i.saturating_mul(w.gap)).collect(),
        Pattern::Probe => vec![0, w.wait],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::experiment::WorkloadFunction;

    fn workload(pattern: Pattern) -> Workload {
        Workload {
            functions: vec![WorkloadFunction {
                name: "f".into(),
                memory: 128,
                cpu_ms: 1.0,
                mem_mb: 0.0,
                sleep_ms: 0.0,
                kind: None,
                code: None,
            }],
            pattern,
            count: 3,
            rate: 2.0,
            duration: 1_000_000_000,
            gap: 10_000_000,
            wait: 5_000_000_000,
        }
    }

    #[test]
    fn patterns_give_their_instants() {
        assert_eq!(instants(&workload(Pattern::Burst)), vec![0, 0, 0]);
        assert_eq!(
            instants(&workload(Pattern::Sequential)),
            vec![0, 10_000_000, 20_000_000]
        );
        assert_eq!(instants(&workload(Pattern::Warm)).len(), 4);
        assert_eq!(instants(&workload(Pattern::Probe)), vec![0, 5_000_000_000]);
        let text = trace_text(&workload(Pattern::Poisson), true);
        assert!(text.contains("\"process\": \"poisson\""), "{text}");
    }
}
