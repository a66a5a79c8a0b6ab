//! `gale fn`: the admin API of a running gale platform from the command line.

use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use crate::backend::{Credentials, OpenWhisk, OpenWhiskOptions};
use crate::config::wskprops;

/// One admin operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminOp {
    /// The nodes.
    Nodes,
    /// Every live container.
    Containers,
    /// The replicas of an action.
    Discover {
        /// Action name.
        action: String,
    },
    /// Start (`up`) or remove (`down`) replicas of an action.
    Scale {
        /// Action name.
        action: String,
        /// Replicas to start.
        up: Option<u32>,
        /// Replicas to remove.
        down: Option<u32>,
    },
    /// Remove every replica of an action, keeping it deployed.
    Suspend {
        /// Action name.
        action: String,
    },
}

/// `gale fn`'s settings: the operation and where the platform is (unset: wskprops, then
/// `gale platform`'s defaults).
#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// The operation.
    pub op: AdminOp,
    /// API host.
    pub apihost: Option<String>,
    /// `UUID:KEY`.
    pub auth: Option<String>,
    /// Accept self-signed certificates.
    pub insecure: bool,
}

/// Run one operation and print its answer as a table.
pub fn run(args: AdminSettings) -> anyhow::Result<std::process::ExitCode> {
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
        AdminOp::Nodes => ("GET", "nodes".to_string(), String::new()),
        AdminOp::Containers => ("GET", "containers".to_string(), String::new()),
        AdminOp::Discover { action: a } => ("GET", action(a, "replicas"), String::new()),
        AdminOp::Scale {
            action: a,
            up,
            down,
        } => {
            let body = match (up, down) {
                (Some(n), _) => format!("{{\"up\":{n}}}"),
                (_, Some(n)) => format!("{{\"down\":{n}}}"),
                _ => {
                    return Err(
                        crate::UsageError("gale fn scale needs --up N or --down N".into()).into(),
                    )
                }
            };
            ("POST", action(a, "scale"), body)
        }
        AdminOp::Suspend { action: a } => ("POST", action(a, "suspend"), String::new()),
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
