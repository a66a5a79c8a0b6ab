//! `gale fn`: the admin API of a running gale platform from the command line.

use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use crate::backend::{Credentials, OpenWhisk, OpenWhiskOptions};
use crate::cli::{FnArgs, FnOp};
use crate::config::wskprops;

/// Run one operation and print its answer as a table.
pub fn run(args: FnArgs) -> anyhow::Result<std::process::ExitCode> {
    let props = wskprops::load()?;
    let apihost = args
        .apihost
        .or(props.apihost)
        .unwrap_or_else(|| "http://127.0.0.1:3233".into());
    let auth = args
        .auth
        .or(props.auth)
        .unwrap_or_else(|| super::GUEST_KEY.into());
    let client = OpenWhisk::new(&OpenWhiskOptions {
        apihost: apihost.clone(),
        credentials: vec![Credentials {
            auth,
            namespace: "_".into(),
        }],
        insecure: args.insecure,
        connections: 1,
        request_timeout: Duration::from_secs(30),
    })?;
    let action = |name: &str, op: &str| {
        format!(
            "namespaces/_/actions/{}/{op}",
            crate::backend::encode_path(name)
        )
    };
    let (method, path, body) = match &args.op {
        FnOp::Nodes => ("GET", "nodes".to_string(), String::new()),
        FnOp::Containers => ("GET", "containers".to_string(), String::new()),
        FnOp::Discover { action: a } => ("GET", action(a, "replicas"), String::new()),
        FnOp::Scale {
            action: a,
            up,
            down,
        } => {
            let body = match (up, down) {
                (Some(n), _) => format!("{{\"up\":{n}}}"),
                (_, Some(n)) => format!("{{\"down\":{n}}}"),
                _ => unreachable!("clap requires --up or --down"),
            };
            ("POST", action(a, "scale"), body)
        }
        FnOp::Suspend { action: a } => ("POST", action(a, "suspend"), String::new()),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let answer = rt
        .block_on(client.admin(method, &path, body.as_bytes()))
        .with_context(|| format!("gale fn against {apihost}"))?;
    print!("{}", render(&answer));
    Ok(std::process::ExitCode::SUCCESS)
}

/// A list of objects as an aligned table (columns from the first object); anything else as
/// `key: value` lines.
fn render(v: &Value) -> String {
    let cell = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    match v {
        Value::Array(rows) => {
            let Some(Value::Object(first)) = rows.first() else {
                return "(none)\n".into();
            };
            // What identifies a row comes first; the rest in the answer's (sorted) order.
            let mut cols: Vec<&String> = first.keys().collect();
            cols.sort_by_key(|c| match c.as_str() {
                "name" => 0,
                "id" => 1,
                _ => 2,
            });
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| cols.iter().map(|c| cell(&r[c.as_str()])).collect())
                .collect();
            let widths: Vec<usize> = cols
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    table
                        .iter()
                        .map(|r| r[i].len())
                        .max()
                        .unwrap_or(0)
                        .max(c.len())
                })
                .collect();
            let line = |cells: Vec<String>| {
                let mut s = cells
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect::<Vec<_>>()
                    .join("  ");
                s.truncate(s.trim_end().len());
                s + "\n"
            };
            let mut out = line(cols.iter().map(|c| c.to_string()).collect());
            for r in table {
                out += &line(r);
            }
            out
        }
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| format!("{k}: {}\n", cell(v)))
            .collect(),
        other => format!("{}\n", cell(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_start_with_the_name() {
        let v = serde_json::json!([
            {"containers": 2, "memory_mb": 2048, "name": "n0", "running": 1},
            {"containers": 0, "memory_mb": 1024, "name": "node-1", "running": 0},
        ]);
        let text = render(&v);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["name", "containers", "memory_mb", "running"]
        );
        assert!(lines[1].starts_with("n0 "), "{text}");
        assert!(lines[2].starts_with("node-1 "), "{text}");
    }
}
