//! `gale experiment`: a grid of runs over factors, repeated, ending in a report
//! (docs/experiments.md).
//!
//! The experiment file (or a built-in preset, [`presets`]) is parsed in
//! [`crate::config::experiment`]; [`grid`] makes its points; each point × repetition is one
//! `gale inject` run (a fresh embedded platform each time, or the remote OpenWhisk) or one
//! `gale simulate` run, into a directory of its own; [`manifest`] records the grid and where
//! each run stands (a stopped experiment resumes from it); the end is `gale report` over the
//! points, each point's repetitions read as one run, with the report room's plots.

pub mod grid;
pub mod manifest;
pub mod presets;
pub mod workload;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::config::experiment::{Experiment, Pattern, TargetKind, WorkloadSource, WORKLOAD_KEYS};
use crate::config::target::TargetFlags;
use crate::report::analysis::{self, Format, ReportSettings};
use crate::report::{output, plot, render};
use crate::signals;
use grid::Point;
use manifest::{Manifest, Status};

/// Where the experiment comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// An experiment file.
    File(PathBuf),
    /// A built-in preset, by name.
    Preset(String),
}

/// `gale experiment`'s settings, resolved from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The experiment.
    pub source: Source,
    /// Multiplies every count and duration of the workload and the settings (0 < F ≤ 1).
    pub scale: f64,
    /// The experiment's directory (default: results/<timestamp>-<name>).
    pub out: Option<PathBuf>,
    /// Continue the experiment in `out`: runs done are kept, the others run.
    pub resume: bool,
    /// Print the experiment's file (a preset's YAML) and stop.
    pub print: bool,
    /// The platform: `--apihost`/`--auth` (or wskprops) make it a remote target.
    pub target: TargetFlags,
    /// No report table on stdout.
    pub quiet: bool,
    /// No plots.
    pub no_plots: bool,
}

/// The experiment's text and its name for errors.
fn source_text(source: &Source) -> anyhow::Result<(String, PathBuf)> {
    match source {
        Source::File(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| crate::config::ConfigError {
                file: Some(path.clone()),
                line: None,
                message: format!("cannot read the experiment file: {e}"),
            })?;
            Ok((text, path.clone()))
        }
        Source::Preset(name) => {
            let text = presets::text(name).ok_or_else(|| {
                crate::UsageError(format!(
                    "no preset `{name}`; expected one of: {}",
                    presets::NAMES.join(", ")
                ))
            })?;
            Ok((text.to_string(), presets::path(name)))
        }
    }
}

/// `gale experiment`: run every point × repetition, then the report.
pub fn run_cli(s: Settings) -> anyhow::Result<ExitCode> {
    let (text, name) = source_text(&s.source)?;
    if s.print {
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    if !(s.scale > 0.0 && s.scale <= 1.0) {
        return Err(crate::UsageError(format!("--scale {}: expected 0 < F ≤ 1", s.scale)).into());
    }
    // Parsed from the text read once, the one experiment.yml keeps.
    let input = crate::trace::input::Input::Bytes {
        name: name.clone(),
        data: Arc::from(text.as_bytes()),
    };
    let mut exp = crate::config::experiment::load_input(input)?;
    // Repetitions are a count too: a quick look runs each point fewer times (at least once).
    exp.repetitions = ((f64::from(exp.repetitions) * s.scale).ceil() as u32).max(1);
    let target = effective_target(&exp, &s.target)?;
    let grid = grid::points(&exp, s.scale).map_err(crate::UsageError)?;
    // The run's stop flag is watched from here on: a signal between two runs stops the
    // experiment as one during a run does (each run watches for itself as well).
    let stop = Arc::new(signals::Stop::default());
    let watcher = signals::watch(
        stop.clone(),
        signals::Messages {
            first: "stopping the experiment after the run in flight (re-run with --resume to \
                    continue)"
                .into(),
            second: "stopping the run in flight now".into(),
        },
    )?;

    let dir = experiment_dir(&s, &exp.name)?;
    let source = match &s.source {
        Source::File(p) => p.display().to_string(),
        Source::Preset(n) => format!("preset {n}"),
    };
    let mut manifest = if s.resume && dir.join(manifest::FILE).is_file() {
        let old = Manifest::read(&dir)?;
        let stored = std::fs::read_to_string(dir.join("experiment.yml")).unwrap_or_default();
        if stored != text || old.scale != s.scale || old.target != target.kind.name() {
            return Err(crate::UsageError(format!(
                "--resume: {} holds another experiment (its experiment.yml, --scale or target \
                 differ from this one's): give a new --out, or the same file and options",
                dir.display()
            ))
            .into());
        }
        old
    } else {
        crate::atomic::write_atomic(&dir.join("experiment.yml"), text.as_bytes())
            .with_context(|| format!("cannot write {}", dir.join("experiment.yml").display()))?;
        Manifest::new(
            &exp.name,
            &source,
            s.scale,
            target.kind.name(),
            exp.repetitions,
            &grid,
        )
    };
    manifest.write(&dir)?;

    let total = grid.len() * exp.repetitions as usize;
    let (done_before, _) = manifest.progress();
    eprintln!(
        "gale: experiment `{}`: {} points × {} repetitions = {total} runs ({}{}) in {}",
        exp.name,
        grid.len(),
        exp.repetitions,
        target.kind.name(),
        if done_before > 0 {
            format!(", {done_before} done before")
        } else {
            String::new()
        },
        dir.display()
    );
    let mut interrupted = false;
    let mut n = 0;
    'points: for (p, point) in grid.iter().enumerate() {
        let trace = match &point.workload {
            WorkloadSource::Trace(t) => t.clone(),
            WorkloadSource::Builtin(w) => {
                let path = dir.join(point.dir_name()).join("workload.yaml");
                std::fs::create_dir_all(dir.join(point.dir_name()))?;
                crate::atomic::write_atomic(
                    &path,
                    workload::trace_text(w, exp.blocking).as_bytes(),
                )?;
                path
            }
        };
        for r in 0..exp.repetitions as usize {
            n += 1;
            if manifest.points[p].runs[r].status == Status::Done {
                continue;
            }
            if stop.stopped() {
                interrupted = true;
                break 'points;
            }
            let rel = manifest.points[p].runs[r].dir.clone();
            let run_dir = dir.join(&rel);
            // A run that did not finish left a partial directory: it runs again from empty.
            if run_dir.exists() {
                std::fs::remove_dir_all(&run_dir)
                    .with_context(|| format!("cannot remove {}", run_dir.display()))?;
            }
            eprintln!(
                "gale: [{n}/{total}] point {} of {}: {}, repetition {} of {}",
                p + 1,
                grid.len(),
                point.name,
                r + 1,
                exp.repetitions
            );
            let result = run_one(&exp, &target, point, &trace, &run_dir);
            let entry = &mut manifest.points[p].runs[r];
            match result {
                Ok(code) if code == crate::exit::INTERRUPTED => {
                    entry.status = Status::Interrupted;
                    interrupted = true;
                }
                Ok(code) => {
                    entry.status = Status::Done;
                    entry.exit = Some(code);
                }
                Err(e) => {
                    entry.status = Status::Failed;
                    entry.error = Some(format!("{e:#}"));
                    manifest.write(&dir)?;
                    watcher.close();
                    return Err(e.context(format!(
                        "point {} ({}), repetition {}",
                        p + 1,
                        point.name,
                        r + 1
                    )));
                }
            }
            manifest.write(&dir)?;
            if interrupted {
                break 'points;
            }
        }
    }
    watcher.close();
    let (done, all) = manifest.progress();
    if done > 0 {
        report(&exp, &manifest, &dir, s.quiet, s.no_plots)?;
    }
    if interrupted || done < all {
        eprintln!(
            "gale: experiment stopped: {done} of {all} runs done; continue with: gale experiment \
             {} --out {} --resume",
            match &s.source {
                Source::File(p) => p.display().to_string(),
                Source::Preset(n) => format!("--preset {n}"),
            } + &if s.scale != 1.0 {
                format!(" --scale {}", s.scale)
            } else {
                String::new()
            },
            dir.display()
        );
        return Ok(ExitCode::from(crate::exit::INTERRUPTED));
    }
    eprintln!("gale: experiment done: {all} runs in {}", dir.display());
    let all_failed = manifest
        .points
        .iter()
        .flat_map(|p| &p.runs)
        .all(|r| r.exit == Some(crate::exit::ALL_FAILED));
    Ok(ExitCode::from(if all_failed {
        crate::exit::ALL_FAILED
    } else {
        crate::exit::SUCCESS
    }))
}

/// The experiment's directory: `--out` (empty, or the one to resume), else a new one.
fn experiment_dir(s: &Settings, name: &str) -> anyhow::Result<PathBuf> {
    match &s.out {
        Some(dir) if s.resume => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            Ok(dir.clone())
        }
        Some(dir) => {
            if dir.join(manifest::FILE).is_file() {
                return Err(crate::UsageError(format!(
                    "--out {}: an experiment is there already: add --resume to continue it, or \
                     give a new directory",
                    dir.display()
                ))
                .into());
            }
            output::create_dir(Some(dir), Path::new(name), std::time::SystemTime::now())
        }
        None => output::create_dir(
            None,
            Path::new(&format!("experiment-{name}")),
            std::time::SystemTime::now(),
        ),
    }
}

/// The target the runs use.
struct RunTarget {
    kind: TargetKind,
    /// For inject runs.
    flags: TargetFlags,
}

/// The file's target, unless the command line names an OpenWhisk (`--apihost`, `--target`):
/// then the runs go there, and the platform settings, which its operator owns, cannot vary.
fn effective_target(exp: &Experiment, flags: &TargetFlags) -> anyhow::Result<RunTarget> {
    let remote_flags = flags.apihost.is_some() || flags.target_file.is_some();
    let kind = if remote_flags {
        TargetKind::Remote
    } else if flags.embedded {
        TargetKind::Embedded
    } else {
        exp.target
    };
    match kind {
        TargetKind::Remote => {
            if let Some(f) = exp
                .factors
                .iter()
                .find(|f| !WORKLOAD_KEYS.contains(&f.key.as_str()))
            {
                return Err(crate::UsageError(format!(
                    "factor `{}` is a platform setting: it can vary on the embedded platform or \
                     the simulator, not on a remote OpenWhisk (its operator sets it)",
                    f.key
                ))
                .into());
            }
            for (key, value) in &exp.settings {
                if !WORKLOAD_KEYS.contains(&key.as_str()) {
                    tracing::warn!("setting `{key}: {value}` is the embedded platform's: ignored on a remote target");
                }
            }
            let resolved = crate::config::target::resolve(flags)?;
            if resolved == crate::config::Target::Embedded {
                return Err(crate::UsageError(
                    "target remote: no OpenWhisk is configured: give --apihost and --auth, or \
                     APIHOST and AUTH in the wskprops file"
                        .into(),
                )
                .into());
            }
            Ok(RunTarget {
                kind,
                flags: flags.clone(),
            })
        }
        TargetKind::Embedded | TargetKind::Simulate => {
            let mut flags = flags.clone();
            flags.embedded = true;
            flags.apihost = None;
            flags.auth = None;
            if flags.platform_config.is_none() {
                flags.platform_config = exp.platform_config.clone();
            }
            Ok(RunTarget { kind, flags })
        }
    }
}

/// One run into `run_dir`; its exit code.
fn run_one(
    exp: &Experiment,
    target: &RunTarget,
    point: &Point,
    trace: &Path,
    run_dir: &Path,
) -> anyhow::Result<u8> {
    let mut platform = point.platform.clone();
    if target.kind == TargetKind::Remote {
        platform.clear();
    }
    // A cold pattern: every invocation gets a fresh container; the embedded platform and
    // the simulator by their own `cold` warming, a remote OpenWhisk by an update of the
    // action before each invocation (`gale inject --force-cold`).
    let mut force_cold = false;
    if let WorkloadSource::Builtin(w) = &point.workload {
        if w.pattern == Pattern::Cold {
            if target.kind == TargetKind::Remote {
                force_cold = true;
            } else {
                platform.push(("warming".into(), "cold".into()));
            }
        }
    }
    if target.kind == TargetKind::Simulate {
        let base =
            crate::config::platform_file::load_model(target.flags.platform_config.as_deref())?;
        let mut settings = crate::sim::run::RunSettings::probe();
        settings.trace = trace.to_path_buf();
        settings.out = Some(run_dir.to_path_buf());
        settings.invocations_csv = true;
        settings.namespace = base.namespace;
        settings.model = base.model;
        settings.limits = base.limits;
        settings.actions = base.actions;
        settings.sample_period = 1_000_000_000;
        for (k, v) in &platform {
            crate::sim::sweep::apply(&mut settings, k, v).map_err(crate::UsageError)?;
        }
        crate::sim::run::run(&settings)?;
        return Ok(crate::exit::SUCCESS);
    }
    let settings = crate::inject::Settings {
        trace: trace.to_path_buf(),
        target: target.flags.clone(),
        out: Some(run_dir.to_path_buf()),
        no_progress: true,
        quiet: true,
        checks: Vec::new(),
        no_plots: true,
        monitor: None,
        no_monitor: false,
        monitor_period: Duration::from_millis(10),
        seed: None,
        speed: 1.0,
        duration: None,
        max_invocations: None,
        closed_loop: None,
        spin: Duration::from_micros(50),
        blocking_override: Some(exp.blocking),
        max_in_flight: 4096,
        on_overload: crate::inject::engine::OverloadPolicy::Shed,
        connections: 64,
        request_timeout: Duration::from_secs(75),
        fetch_concurrency: 16,
        fetch_timeout: Duration::from_secs(120),
        drain_timeout: Duration::from_secs(10),
        shard: None,
        shard_by: crate::trace::shard::ShardBy::Function,
        start_at: None,
        platform_settings: platform,
        force_cold,
    };
    Ok(crate::inject::run(settings)?.code)
}

/// `gale report` over the points done: each point's repetitions are one run, compared with
/// the first point; report.txt, report.json and plots/ in the experiment's directory.
fn report(
    exp: &Experiment,
    manifest: &Manifest,
    dir: &Path,
    quiet: bool,
    no_plots: bool,
) -> anyhow::Result<()> {
    let groups: Vec<(String, Vec<PathBuf>)> = manifest
        .points
        .iter()
        .map(|p| {
            let dirs = p
                .runs
                .iter()
                .filter(|r| r.status == Status::Done)
                .map(|r| dir.join(&r.dir))
                .collect::<Vec<_>>();
            (p.name.clone(), dirs)
        })
        .filter(|(_, dirs)| !dirs.is_empty())
        .collect();
    let settings = ReportSettings {
        inputs: Vec::new(),
        by: exp.report_by.clone(),
        confidence: exp.confidence,
        format: Format::Table,
        checks: Vec::new(),
        merge: false,
        plots: None,
    };
    let mut data = plot::PlotData::new();
    let mut report = analysis::build_groups(&groups, &settings, &mut data)?;
    // File names relative to the experiment's directory: the text does not depend on where
    // it was written.
    for run in &mut report.runs {
        for f in &mut run.files {
            if let Ok(rel) = Path::new(f.as_str()).strip_prefix(dir) {
                *f = rel.display().to_string();
            }
        }
    }
    let text = render::text(&report);
    crate::atomic::write_atomic(&dir.join("report.txt"), text.as_bytes())
        .context("cannot write report.txt")?;
    crate::atomic::write_atomic(&dir.join("report.json"), render::json(&report).as_bytes())
        .context("cannot write report.json")?;
    if !quiet {
        print!("{text}");
    }
    if !no_plots {
        let opts = plot::Options {
            confidence: exp.confidence,
            ..Default::default()
        };
        match data.write_all(&dir.join(plot::PLOTS_DIR), &opts) {
            Ok(w) => {
                eprintln!(
                    "gale: report: {} (report.txt, report.json, plots/: {} figures, SVG and PNG)",
                    dir.display(),
                    w.files.len() / 2
                );
                for note in &w.skipped {
                    tracing::debug!("plot skipped: {note}");
                }
            }
            Err(e) => eprintln!("warning: {e}"),
        }
    }
    Ok(())
}
