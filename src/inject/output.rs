//! The result directory: `run.yaml` (the resolved run), `invocations.csv` (written by the
//! writer), `summary.json` and `summary.txt`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context as _;
use serde::Serialize;

use super::engine::RunEnd;
use super::summary::Summary;
use crate::atomic::write_atomic;
use crate::cli::{InjectArgs, OverloadPolicy};
use crate::config::Target;
use crate::monitor::choose::MonitorInfo;
use crate::timefmt;
use crate::trace::{FunctionSpec, TraceHeader, UserSpec};

/// Make the result directory: `--out`, or `results/<timestamp>-<trace name>` (suffixed
/// when taken). An existing `--out` must be empty, so runs never mix.
pub fn create_dir(out: Option<&Path>, trace: &Path, now: SystemTime) -> anyhow::Result<PathBuf> {
    if let Some(dir) = out {
        if dir.exists()
            && std::fs::read_dir(dir)
                .map(|mut d| d.next().is_some())
                .unwrap_or(true)
        {
            anyhow::bail!(
                "{} exists and is not empty; give a new directory to --out",
                dir.display()
            );
        }
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        return Ok(dir.to_path_buf());
    }
    let stem = trace
        .file_stem()
        .or_else(|| trace.components().next_back().map(|c| c.as_os_str()))
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "trace".into());
    let base = Path::new("results").join(format!("{}-{stem}", timefmt::run_dir_name(now)));
    for n in 1.. {
        let dir = if n == 1 {
            base.clone()
        } else {
            PathBuf::from(format!("{}-{n}", base.display()))
        };
        match std::fs::create_dir_all(dir.parent().unwrap_or(Path::new(".")))
            .and_then(|_| std::fs::create_dir(&dir))
        {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
        }
    }
    unreachable!("an unbounded range always yields")
}

#[derive(Serialize)]
struct RunFile<'a> {
    gale_version: &'static str,
    command: Vec<String>,
    started_at: String,
    trace: TraceInfo<'a>,
    platform: PlatformInfo<'a>,
    schedule: Schedule,
    limits: Limits,
}

#[derive(Serialize)]
struct TraceInfo<'a> {
    path: String,
    sources: &'a [String],
    seed: u64,
    blocking: bool,
    functions: &'a [FunctionSpec],
    users: Vec<UserSpec>,
}

#[derive(Serialize)]
struct PlatformInfo<'a> {
    target: &'a Target,
    apihost: &'a str,
    monitor: &'a MonitorInfo,
}

#[derive(Serialize)]
struct Schedule {
    mode: &'static str,
    closed_loop_users: Option<u32>,
    speed: f64,
    duration_s: Option<f64>,
    max_invocations: Option<u64>,
    blocking_override: Option<bool>,
}

#[derive(Serialize)]
struct Limits {
    max_in_flight: u32,
    on_overload: OverloadPolicy,
    connections: u32,
    request_timeout_s: f64,
    fetch_concurrency: u32,
    fetch_timeout_s: f64,
    drain_timeout_s: f64,
}

/// Write `run.yaml`: everything needed to repeat the run (keys redacted), and the monitor
/// it measured with.
#[allow(clippy::too_many_arguments)]
pub fn write_run_file(
    dir: &Path,
    args: &InjectArgs,
    target: &Target,
    apihost: &str,
    monitor: &MonitorInfo,
    header: &TraceHeader,
    functions: &[FunctionSpec],
    started: SystemTime,
) -> anyhow::Result<()> {
    let users = header
        .users
        .iter()
        .map(|u| UserSpec {
            auth: u.auth.as_ref().map(|_| "<redacted>".to_string()),
            ..u.clone()
        })
        .collect();
    let command = redacted_command();
    let run = RunFile {
        gale_version: env!("CARGO_PKG_VERSION"),
        command,
        started_at: timefmt::rfc3339(started),
        trace: TraceInfo {
            path: args.trace.display().to_string(),
            sources: &header.sources,
            seed: header.seed,
            blocking: header.blocking,
            functions,
            users,
        },
        platform: PlatformInfo {
            target,
            apihost,
            monitor,
        },
        schedule: Schedule {
            mode: if args.closed_loop.is_some() {
                "closed"
            } else {
                "open"
            },
            closed_loop_users: args.closed_loop,
            speed: args.speed,
            duration_s: args.duration.map(|d| d.as_secs_f64()),
            max_invocations: args.max_invocations,
            blocking_override: super::blocking_override(args),
        },
        limits: Limits {
            max_in_flight: args.max_in_flight,
            on_overload: args.on_overload,
            connections: args.connections,
            request_timeout_s: args.request_timeout.as_secs_f64(),
            fetch_concurrency: args.fetch_concurrency,
            fetch_timeout_s: args.fetch_timeout.as_secs_f64(),
            drain_timeout_s: args.drain_timeout.as_secs_f64(),
        },
    };
    let yaml = serde_saphyr::to_string(&run).context("cannot render run.yaml")?;
    let text = format!("# gale run description: the resolved settings of this run\n{yaml}");
    write_atomic(&dir.join("run.yaml"), text.as_bytes()).context("cannot write run.yaml")
}

/// This process's command line with `--auth` values replaced by `<redacted>`.
pub fn redacted_command() -> Vec<String> {
    std::env::args()
        .scan(false, |redact_next, a| {
            let shown = if *redact_next {
                "<redacted>".to_string()
            } else {
                a.clone()
            };
            *redact_next = a == "--auth";
            Some(if a.starts_with("--auth=") {
                "--auth=<redacted>".to_string()
            } else {
                shown
            })
        })
        .collect()
}

#[derive(Serialize)]
struct SummaryFile<'a> {
    status: &'static str,
    error: Option<String>,
    started_at: String,
    records: u64,
    #[serde(flatten)]
    summary: &'a Summary,
}

/// Write `summary.json` and `summary.txt`; returns the run status word.
pub fn write_summary(
    dir: &Path,
    summary: &Summary,
    end: &RunEnd,
    records: u64,
    started: SystemTime,
) -> anyhow::Result<&'static str> {
    let status = if end.trace_error.is_some() {
        "trace_error"
    } else if end.completed {
        "completed"
    } else {
        "interrupted"
    };
    let file = SummaryFile {
        status,
        error: end.trace_error.as_ref().map(|e| e.to_string()),
        started_at: timefmt::rfc3339(started),
        records,
        summary,
    };
    let json = serde_json::to_vec_pretty(&file)?;
    write_atomic(&dir.join("summary.json"), &json).context("cannot write summary.json")?;
    write_atomic(&dir.join("summary.txt"), summary.table().as_bytes())
        .context("cannot write summary.txt")?;
    Ok(status)
}
