//! A simulation from a trace file to a result directory: the files of `gale inject`'s
//! directory that make sense in virtual time (invocations.csv, run.yaml, summary.json,
//! summary.txt) plus containers.csv and nodes.csv.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Serialize;

use super::driver::{simulate, Report, Settings};
use super::ops::Operation;
use super::output::FileSink;
use super::profile::Profile;
use crate::atomic::write_atomic;
use crate::model::admission::Limits;
use crate::model::{ActionSettings, ModelConfig, Nanos};
use crate::report::output::{write_run_file, RunKind};
use crate::report::plot::{write_run_plots, Options as PlotOptions, Written};
use crate::trace::shard::Shard;

/// A simulation as the command line asks for it, resolved.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// The trace.
    pub trace: PathBuf,
    /// Result directory (`None`: results/<timestamp>-<trace name>).
    pub out: Option<PathBuf>,
    /// Write invocations.csv.
    pub invocations_csv: bool,
    /// Draw the default plots into `plots/` (needs invocations.csv).
    pub plots: bool,
    /// Seed override.
    pub seed: Option<u64>,
    /// Namespace of the actions.
    pub namespace: String,
    /// The model's settings.
    pub model: ModelConfig,
    /// Admission limits.
    pub limits: Limits,
    /// Per-action settings.
    pub actions: BTreeMap<String, ActionSettings>,
    /// Durations.
    pub profile: Profile,
    /// Timed operations.
    pub operations: Vec<Operation>,
    /// Node sampling period.
    pub sample_period: Nanos,
    /// Only this shard of the trace's rows (and the functions it invokes).
    pub shard: Option<Shard>,
}

impl RunSettings {
    /// Settings that only serve to check a swept value against its key.
    pub fn probe() -> RunSettings {
        RunSettings {
            trace: PathBuf::new(),
            out: None,
            invocations_csv: false,
            plots: false,
            seed: None,
            namespace: "guest".into(),
            model: ModelConfig::default(),
            limits: Limits::default(),
            actions: BTreeMap::new(),
            profile: Profile::default(),
            operations: Vec::new(),
            sample_period: 0,
            shard: None,
        }
    }
}

/// A finished simulation.
pub struct Done {
    /// The directory.
    pub dir: PathBuf,
    /// Counters.
    pub report: Report,
    /// summary.txt's text.
    pub table: String,
    /// Wall-clock seconds it took (without the plots).
    pub wall_s: f64,
    /// The plots drawn, or why they could not be (`None`: not asked for). A figure that
    /// cannot be drawn never fails the run: its files are on disk and `gale report` reads
    /// them.
    pub plots: Option<Result<Written, String>>,
}

/// The simulation's own settings in run.yaml (after the room's kind, command and origin).
#[derive(Serialize)]
struct RunFile<'a> {
    trace: &'a str,
    seed: u64,
    namespace: &'a str,
    nodes: Vec<String>,
    placement: &'static str,
    placement_seed: u64,
    balance: &'static str,
    warming: &'static str,
    pause_grace_s: Option<f64>,
    idle_timeout_s: f64,
    eviction: &'static str,
    sample_period_s: f64,
    operations: usize,
    cpu_sharing: &'static str,
    /// Which part of a sharded run this is (`gale report` merges the shards); absent for a
    /// whole run.
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<Shard>,
}

/// Run the simulation described by `s`.
pub fn run(s: &RunSettings) -> anyhow::Result<Done> {
    let began = std::time::Instant::now();
    let mut opened = crate::trace::open(&s.trace, &crate::trace::OpenOptions { seed: s.seed })?;
    let mut functions = opened.header.functions.clone();
    if let Some(shard) = s.shard {
        opened.rows = shard.filter(opened.rows);
        // As `gale inject --shard` deploys: only the functions this shard invokes.
        functions.retain(|f| shard.deploys(&f.name));
    }
    let seed = s.seed.unwrap_or(opened.header.seed);
    let mut model = s.model.clone();
    // --seed reseeds random placement too; without it placement draws from the platform
    // file's `seed`, as `gale platform` (and `gale inject` on it) does.
    if let Some(n) = s.seed {
        model.seed = n;
    }
    let settings = Settings {
        model,
        limits: s.limits.clone(),
        actions: s.actions.clone(),
        namespace: s.namespace.clone(),
        users: opened.header.users.clone(),
        functions,
        blocking: opened.header.blocking,
        profile: s.profile.clone(),
        operations: s.operations.clone(),
        seed,
        sample_period: s.sample_period,
    };
    let dir = match (&s.out, s.shard) {
        // The default directory names its shard, so that the shards of a run sit side by side.
        (None, Some(shard)) => crate::report::output::create_dir(
            None,
            &shard_stem(&s.trace, shard),
            std::time::SystemTime::now(),
        )?,
        (out, _) => crate::report::output::create_dir(
            out.as_deref(),
            &s.trace,
            std::time::SystemTime::now(),
        )?,
    };
    write_run(&dir, s, &settings)?;
    let mut sink = FileSink::create(&dir, s.invocations_csv)
        .with_context(|| format!("cannot create the result files in {}", dir.display()))?;
    let report = simulate(&settings, opened.rows, &mut sink)?;
    let shared = sink
        .finish()
        .with_context(|| format!("cannot write the result files in {}", dir.display()))?
        .summary();
    // The room's summary (what inject's has) with its status words, and the simulation's
    // own figures under `simulation`.
    let mut json = serde_json::json!({
        "status": "completed",
        "error": null,
        "started_at": crate::timefmt::rfc3339_micros(std::time::UNIX_EPOCH),
        "records": report.invocations,
    });
    if let (Some(obj), serde_json::Value::Object(figures)) =
        (json.as_object_mut(), serde_json::to_value(&shared)?)
    {
        obj.extend(figures);
        obj.insert("simulation".into(), report.summary.clone());
    }
    let text = serde_json::to_string_pretty(&json)? + "\n";
    write_atomic(&dir.join("summary.json"), text.as_bytes())
        .context("cannot write summary.json")?;
    let table = format!(
        "{}\nsimulation:\n{}",
        shared.table(),
        table(&report.summary)
    );
    write_atomic(&dir.join("summary.txt"), table.as_bytes()).context("cannot write summary.txt")?;
    let wall_s = began.elapsed().as_secs_f64();
    let plots = (s.plots && s.invocations_csv)
        .then(|| write_run_plots(&dir, &PlotOptions::default()).map_err(|e| e.to_string()));
    Ok(Done {
        dir,
        report,
        table,
        wall_s,
        plots,
    })
}

fn write_run(dir: &Path, s: &RunSettings, settings: &Settings) -> anyhow::Result<()> {
    let m = &settings.model;
    let trace = s.trace.display().to_string();
    let run = RunFile {
        trace: &trace,
        seed: settings.seed,
        namespace: &s.namespace,
        nodes: m
            .nodes
            .iter()
            .map(|n| format!("{} ({} MB, {} cpus)", n.name, n.memory_mb, n.cpus))
            .collect(),
        placement: m.placement.name(),
        placement_seed: m.seed,
        balance: m.balance.name(),
        warming: m.warming.name(),
        pause_grace_s: m.keepalive.pause_after().map(|g| g as f64 / 1e9),
        idle_timeout_s: m.keepalive.idle_timeout as f64 / 1e9,
        eviction: m.eviction.name(),
        sample_period_s: s.sample_period as f64 / 1e9,
        operations: s.operations.len(),
        cpu_sharing: "processor-sharing",
        shard: s.shard,
    };
    // Virtual time starts at the epoch: every `*_us` counts from the simulation's 0.
    write_run_file(dir, RunKind::Simulate, std::time::UNIX_EPOCH, None, &run)
}

/// The trace's path with `-shard-K-of-N` added to its file stem: the default result
/// directory's name of a shard.
fn shard_stem(trace: &Path, shard: Shard) -> PathBuf {
    let stem = trace
        .file_stem()
        .or_else(|| trace.components().next_back().map(|c| c.as_os_str()))
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "trace".into());
    PathBuf::from(format!("{stem}-shard-{}-of-{}", shard.index, shard.count))
}

/// The human summary.
pub fn table(v: &serde_json::Value) -> String {
    let f = |k: &str| v[k].as_f64().unwrap_or(0.0);
    let u = |k: &str| v[k].as_u64().unwrap_or(0);
    let mut out = format!(
        "invocations          {}\ncold starts          {} ({:.2} %)\nqueued               {}\n\
         containers           {} (mean alive {:.2})\nidle memory          {:.1} MB·s\n\
         virtual time         {:.3} s\n",
        u("invocations"),
        u("cold_starts"),
        100.0 * f("cold_start_ratio"),
        u("queued"),
        u("containers"),
        f("containers_alive_mean"),
        f("idle_memory_mb_s"),
        f("virtual_seconds"),
    );
    for (name, key) in [
        ("completion", "completion"),
        ("queueing delay", "queueing_delay"),
    ] {
        let p = &v[key];
        if !p.is_null() {
            out += &format!(
                "{name:<20} mean {:.3} ms, p50 {:.3}, p99 {:.3}, max {:.3}\n",
                p["mean_ms"].as_f64().unwrap_or(0.0),
                p["p50_ms"].as_f64().unwrap_or(0.0),
                p["p99_ms"].as_f64().unwrap_or(0.0),
                p["max_ms"].as_f64().unwrap_or(0.0),
            );
        }
    }
    if let Some(o) = v["outcomes"].as_object() {
        for (k, n) in o {
            out += &format!("  {k:<18} {n}\n");
        }
    }
    out
}
