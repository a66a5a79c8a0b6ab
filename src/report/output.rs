//! The result directory: `run.yaml` (the resolved run), `invocations.csv` (written by the
//! writer), `summary.json` and `summary.txt`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context as _;
use serde::Serialize;

use super::clock::OffsetEstimate;
use super::summary::Summary;
use crate::atomic::write_atomic;
use crate::timefmt;

/// Make the result directory: `out`, or `results/<timestamp>-<input name>` (suffixed
/// when taken). An existing `out` must be empty, so runs never mix.
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

/// What kind of run wrote a result directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// `gale inject`.
    Inject,
    /// `gale generate`.
    Generate,
    /// `gale simulate`.
    Simulate,
}

#[derive(Serialize)]
struct RunFile<'a, D: Serialize> {
    gale_version: &'static str,
    kind: RunKind,
    command: Vec<String>,
    /// The run's zero instant, to the µs: every `*_us` time of the records counts from it.
    started_at: String,
    /// How the platform's clock (activation start/end) relates to the run's clock.
    clock_offset: Option<OffsetEstimate>,
    #[serde(flatten)]
    details: &'a D,
}

/// Write `run.yaml`: what kind of run, the command (keys redacted), the run's zero instant
/// and the platform clock's offset, then the subcommand's own resolved settings
/// (`details`, flattened). Written again at the end of a run, when the offset is known.
pub fn write_run_file<D: Serialize>(
    dir: &Path,
    kind: RunKind,
    started: SystemTime,
    clock_offset: Option<OffsetEstimate>,
    details: &D,
) -> anyhow::Result<()> {
    let run = RunFile {
        gale_version: env!("CARGO_PKG_VERSION"),
        kind,
        command: redacted_command(),
        started_at: timefmt::rfc3339_micros(started),
        clock_offset,
        details,
    };
    let yaml = serde_saphyr::to_string(&run).context("cannot render run.yaml")?;
    let text = format!("# gale run description: the resolved settings of this run\n{yaml}");
    write_atomic(&dir.join(RUN_FILE), text.as_bytes()).context("cannot write run.yaml")
}

/// File name of the run description.
pub const RUN_FILE: &str = "run.yaml";

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
    status: &'a str,
    error: Option<&'a str>,
    started_at: String,
    records: u64,
    #[serde(flatten)]
    summary: &'a Summary,
}

/// Write `summary.json` and `summary.txt`. `status` is the run's ending word
/// (`completed`, `interrupted`, `trace_error`, …) and `error` what ended it early.
pub fn write_summary(
    dir: &Path,
    summary: &Summary,
    status: &str,
    error: Option<&str>,
    records: u64,
    started: SystemTime,
) -> anyhow::Result<()> {
    let file = SummaryFile {
        status,
        error,
        started_at: timefmt::rfc3339_micros(started),
        records,
        summary,
    };
    let json = serde_json::to_vec_pretty(&file)?;
    write_atomic(&dir.join("summary.json"), &json).context("cannot write summary.json")?;
    write_atomic(&dir.join("summary.txt"), summary.table().as_bytes())
        .context("cannot write summary.txt")
}
