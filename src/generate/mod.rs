//! `gale generate`: the dataset generator. Runs functions many times over inputs drawn from
//! declared spaces, measures every run, writes one row each, and checkpoints so that an
//! interrupted run resumes as if never stopped (docs/generator.md).
//!
//! [`config`] reads the YAML; [`space`] and [`rng`] draw inputs; [`plan`] orders runs;
//! [`engine`] invokes and records; [`dataset`] and [`checkpoint`] own the files; [`monitor`]
//! is the seam where resource measurements join the rows.

pub mod checkpoint;
pub mod config;
pub mod dataset;
pub mod engine;
pub mod monitor;
pub mod plan;
pub mod rng;
pub mod space;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use serde::Serialize;

use crate::backend::completion::Poller;
use crate::backend::session::{ClientSettings, Session};
use crate::config::target::TargetFlags;
use crate::config::{ConfigError, Target};
use crate::report::{output, RunClock};
use crate::signals;
use checkpoint::{Counters, State};
use config::Generator;
use dataset::{Appender, Columns};
use engine::{Cadence, End, Engine, Files, Live, Sampler};
use monitor::Monitored;
use plan::Cursor;

/// File names inside the output directory.
pub const DATASET: &str = "dataset.csv";
/// Raw samples side file.
pub const SAMPLES: &str = "samples.csv";
/// The checkpoint.
pub const CHECKPOINT: &str = "checkpoint.json";
/// The resolved run description.
pub const RUN_FILE: &str = output::RUN_FILE;

fn usage(message: String) -> anyhow::Error {
    ConfigError {
        file: None,
        line: None,
        message,
    }
    .into()
}

/// `gale generate`'s settings: what the command line says (docs/generator.md).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The generator config (YAML).
    pub config: PathBuf,
    /// Where the platform is.
    pub target: TargetFlags,
    /// Output directory (default: `datasets/<config file stem>`).
    pub out: Option<PathBuf>,
    /// Keep the monitor's raw samples in samples.csv.
    pub samples: bool,
    /// A `gale monitor` socket to measure with.
    pub monitor: Option<PathBuf>,
    /// No resource measurements at all.
    pub no_monitor: bool,
    /// Sampling period of the in-process monitor.
    pub monitor_period: Duration,
    /// No progress bar.
    pub no_progress: bool,
    /// No plots at the end.
    pub no_plots: bool,
    /// Continue the run in `out` from its checkpoint.
    pub resume: bool,
    /// Checkpoint every N rows (0: by time, signals and the end only).
    pub checkpoint_every: u64,
    /// Checkpoint at least this often.
    pub checkpoint_interval: Duration,
    /// Seed of every draw (overrides the config's).
    pub seed: Option<u64>,
    /// Timeout of one invocation.
    pub request_timeout: Duration,
}

/// `gale generate`: load the config, start or resume, run, report.
pub fn run_cli(args: Settings) -> anyhow::Result<ExitCode> {
    // Signals are watched first: one that comes during start-up (config, platform, deploys)
    // stops the run cleanly before its first row, as it would later.
    let stop = Arc::new(signals::Stop::default());
    let watcher = signals::watch(
        stop.clone(),
        signals::Messages {
            first: "finishing the run in flight, then checkpointing (again to stop at once)".into(),
            second: "abandoning the run in flight (it runs again on resume)".into(),
        },
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("gale-io")
        .enable_all()
        .build()?;
    let g = config::load(&args.config, args.seed)?;
    let fingerprint = g.fingerprint();
    let columns = Columns::of(&g);
    if args.samples && args.no_monitor {
        return Err(usage(
            "--samples writes the resource monitor's raw samples: it cannot go with --no-monitor"
                .into(),
        ));
    }
    if args.out.as_deref() == Some(Path::new("-")) {
        return Err(usage(
            "--out -: a dataset is a directory (dataset.csv, checkpoint.json, run.yaml), not \
             one stream; give a directory"
                .into(),
        ));
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.config));
    let ckpt_path = out.join(CHECKPOINT);
    let resumed = match (args.resume, ckpt_path.exists()) {
        (true, true) => Some(load_state(&ckpt_path, &g, &fingerprint)?),
        (false, true) => {
            return Err(usage(format!(
                "{} holds a run's checkpoint: add --resume to continue it, or give another --out",
                out.display()
            )))
        }
        (_, false) if !is_empty_dir(&out) => {
            return Err(usage(format!(
                "{} exists, is not empty and has no {CHECKPOINT}: give a new or empty directory to --out",
                out.display()
            )))
        }
        (_, false) => None,
    };
    // A resumed run keeps the side file it started with: rows before the checkpoint have
    // their samples there, and the rows after them must too.
    let want_samples = match resumed.as_ref().map(|s| s.samples_bytes.is_some()) {
        Some(false) if args.samples => {
            return Err(usage(format!(
                "{} was started without --samples, so its rows so far have no raw samples; \
                 resume it without --samples, or start a new run with it",
                out.display()
            )));
        }
        Some(kept) => kept,
        None => args.samples,
    };

    if let Some(s) = resumed.as_ref().filter(|s| s.finished) {
        // Even with nothing to run, the dataset must hold what the checkpoint counts.
        reopen(&out, s)?;
        println!(
            "{}: already complete ({} rows); nothing to do",
            out.display(),
            s.counters.rows
        );
        return Ok(ExitCode::SUCCESS);
    }

    let target = crate::config::target::resolve(&args.target)?;
    if let Target::Http(_) = target {
        return Err(usage(
            "--target: a dataset's rows need activation records (wait, init, duration, the \
             container the monitor measures), which an HTTP target does not keep; use \
             `gale inject --target` to load an HTTP target"
                .into(),
        ));
    }
    let client = ClientSettings {
        connections: 4,
        request_timeout: args.request_timeout,
        platform_config: args.target.platform_config.clone(),
        platform_settings: Vec::new(),
    };
    let session = Session::connect(&rt, &target, &[], client)?;
    let specs: Vec<_> = g
        .functions
        .iter()
        .flat_map(|f| {
            f.variants.iter().map(|v| {
                let mut spec = f.spec.clone();
                spec.name = v.action.clone();
                spec.memory_mb = v.memory_mb;
                spec
            })
        })
        .collect();
    let deployed = session.deploy(&rt, &[], &specs)?;
    if deployed.functions > 0 {
        tracing::info!("{deployed} on {}", session.apihost);
    }
    // What gale did not deploy (synthetic actions on a remote platform, `deploy: false`)
    // must be there before the first run, or every row would fail.
    let needed = specs
        .iter()
        .filter(|s| crate::backend::session::must_check(s, &target))
        .map(|s| (0, s.name.clone()))
        .collect();
    if let Err(e) = session.require_functions(
        &rt,
        &needed,
        "the generator runs",
        "create {them} there, or give the function code and `deploy: true`",
    ) {
        session.shutdown();
        return Err(e);
    }

    let run_monitor = crate::monitor::choose::choose(
        &crate::monitor::choose::MonitorRequest {
            socket: args.monitor.clone(),
            off: args.no_monitor,
            period: args.monitor_period,
            history: args.request_timeout + Duration::from_secs(60),
        },
        session.embedded_platform(),
    )
    .context("cannot start the in-process resource monitor")?;
    if want_samples && !run_monitor.is_on() {
        let why = run_monitor.info.to_string();
        run_monitor.finish();
        session.shutdown();
        return Err(usage(format!(
            "--samples writes the resource monitor's raw samples, and this run has no monitor: \
             {why}; give --monitor SOCKET (a `gale monitor`), or run as root on the embedded platform"
        )));
    }
    let monitor = run_monitor
        .source()
        .map(|source| Monitored::new(source, want_samples));
    let (state, files) = match resumed {
        Some(state) => {
            let files = reopen(&out, &state)?;
            (state, files)
        }
        None => {
            let run = RunFile {
                config: args.config.display().to_string(),
                fingerprint: &fingerprint,
                platform: PlatformInfo {
                    target: &target,
                    apihost: &session.apihost,
                    monitor: &run_monitor.info,
                },
                total_rows: g.total_rows(),
                columns: String::from_utf8_lossy(&columns.header())
                    .trim_end()
                    .to_string(),
                generator: &g,
            };
            start_fresh(&out, &g, &fingerprint, &columns, &run, want_samples)?
        }
    };

    let total = g.total_rows();
    let live = Arc::new(Live::default());
    let progress = progress(!args.no_progress, total, state.counters, &live);
    let mut engine = Engine {
        g: &g,
        fingerprint: fingerprint.clone(),
        columns,
        backend: session.backend.clone(),
        files,
        cursor: state.cursor.clone(),
        samplers: state
            .streams
            .iter()
            .map(|s| Sampler::new(s.rng.clone()))
            .collect(),
        counters: state.counters,
        monitor,
        cadence: Cadence {
            every_rows: args.checkpoint_every,
            interval: args.checkpoint_interval,
        },
        signals: stop.subscribe(),
        live,
        poller: Poller::new(args.request_timeout, session.is_embedded()),
        clock: Arc::new(RunClock::start(session.is_embedded())),
    };
    engine.restore_pending();
    tracing::info!(
        "{} {} from row {} of {total}",
        if state.counters.rows > 0 {
            "resuming"
        } else {
            "writing"
        },
        out.display(),
        state.counters.rows
    );
    let end = rt.block_on(engine.run());
    progress.finish();
    watcher.close();
    let counters = engine.counters;
    drop(engine);
    run_monitor.finish();
    session.shutdown();
    rt.shutdown_timeout(Duration::from_secs(1));
    let end = end?;
    println!(
        "dataset: {} ({} of {total} rows; {} failed, {} cold)",
        out.join(DATASET).display(),
        counters.rows,
        counters.failed,
        counters.cold
    );
    if !args.no_plots {
        crate::report::plot::end_of_run(&out);
    }
    Ok(match end {
        // Counted over the whole dataset, resumed parts included.
        End::Finished if counters.rows > 0 && counters.failed == counters.rows => {
            eprintln!(
                "gale: no row succeeded ({} rows, all failed; see the `outcome` and `error` columns)",
                counters.rows
            );
            ExitCode::from(crate::exit::ALL_FAILED)
        }
        End::Finished => ExitCode::SUCCESS,
        End::Interrupted => {
            eprintln!(
                "interrupted: checkpoint written; continue with `gale generate {} --out {} --resume`",
                args.config.display(),
                out.display()
            );
            ExitCode::from(crate::exit::INTERRUPTED)
        }
    })
}

/// `datasets/<config file stem>`.
fn default_out(config: &Path) -> PathBuf {
    let stem = config
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "generator".into());
    Path::new("datasets").join(stem)
}

fn is_empty_dir(dir: &Path) -> bool {
    match std::fs::read_dir(dir) {
        Ok(mut d) => d.next().is_none(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// Load a checkpoint and check it against the config beyond its fingerprint: a plan
/// position that fits, and every stream exactly where that position says it must be.
pub fn load_state(path: &Path, g: &Generator, fingerprint: &str) -> anyhow::Result<State> {
    let state = checkpoint::load(path, fingerprint)?;
    let bad = |why: &str| -> anyhow::Error {
        ConfigError {
            file: Some(path.to_path_buf()),
            line: None,
            message: format!("inconsistent checkpoint: {why}; it cannot be resumed"),
        }
        .into()
    };
    if !state.cursor.fits(g) || state.streams.len() != g.functions.len() {
        return Err(bad("its plan position does not fit the config"));
    }
    let header = Columns::of(g).header().len() as u64;
    if state.dataset_bytes < header || state.counters.rows > g.total_rows() {
        return Err(bad(&format!(
            "it counts {} rows in {} bytes of dataset, less than the {header}-byte header or \
             more rows than the plan's {}",
            state.counters.rows,
            state.dataset_bytes,
            g.total_rows()
        )));
    }
    for (i, (s, f)) in state.streams.iter().zip(&g.functions).enumerate() {
        let point = match state.cursor.pending {
            Some(p) if p.function == i => p.run,
            _ => state.cursor.next_run[i],
        };
        let fresh = rng::function_stream(g.seed, &f.name);
        let expected = 2 * u128::from(f.space.width()) * u128::from(point);
        if s.function != f.name
            || s.rng.get_seed() != fresh.get_seed()
            || s.rng.get_stream() != 0
            || s.rng.get_word_pos() != expected
        {
            return Err(bad(&format!(
                "the stream of `{}` is not at the start of its point {point}",
                f.name
            )));
        }
    }
    Ok(state)
}

/// Take the output directory for this process: an exclusive `flock` on `DIR/.lock`, held
/// as long as the run. Two runs on one directory would interleave rows and checkpoints;
/// the second is refused instead. The kernel drops the lock with the process, however it
/// ends, so a killed run never leaves a stale lock behind.
fn lock_dir(out: &Path) -> anyhow::Result<std::fs::File> {
    let path = out.join(".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(file),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(usage(format!(
            "another `gale generate` is writing {}: wait for it to end (or stop it), or give another --out",
            out.display()
        ))),
        Err(e) => Err(anyhow::Error::new(std::io::Error::from(e))
            .context(format!("cannot lock {}", path.display()))),
    }
}

/// Reopen the files of a resumed run, cut back to the checkpoint's lengths.
fn reopen(out: &Path, state: &State) -> anyhow::Result<Files> {
    let lock = lock_dir(out)?;
    let cut = |name: &str, len: u64, tail: Option<&dataset::Tail>| -> anyhow::Result<Appender> {
        let path = out.join(name);
        Appender::resume(&path, len, tail).map_err(|e| {
            ConfigError {
                file: Some(path.clone()),
                line: None,
                message: format!("cannot continue the dataset: {e}"),
            }
            .into()
        })
    };
    let dataset = cut(DATASET, state.dataset_bytes, state.dataset_tail.as_ref())?;
    let samples = match state.samples_bytes {
        Some(len) => Some(cut(SAMPLES, len, state.samples_tail.as_ref())?),
        None => None,
    };
    Ok(Files {
        dataset,
        samples,
        checkpoint: out.join(CHECKPOINT),
        lock,
    })
}

/// The generator's part of run.yaml.
#[derive(Serialize)]
struct RunFile<'a> {
    config: String,
    fingerprint: &'a str,
    platform: PlatformInfo<'a>,
    total_rows: u64,
    columns: String,
    generator: &'a Generator,
}

#[derive(Serialize)]
struct PlatformInfo<'a> {
    target: &'a Target,
    apihost: &'a str,
    monitor: &'a crate::monitor::choose::MonitorInfo,
}

/// Create the output directory with its files and the first checkpoint, all at once: they
/// are made in a sibling temporary directory renamed into place, so a run killed while
/// starting leaves either nothing or a resumable run.
fn start_fresh(
    out: &Path,
    g: &Generator,
    fingerprint: &str,
    columns: &Columns,
    run: &RunFile<'_>,
    want_samples: bool,
) -> anyhow::Result<(State, Files)> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("--out must name a directory")?;
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    output::write_run_file(
        &tmp,
        output::RunKind::Generate,
        SystemTime::now(),
        None,
        run,
    )?;
    let dataset = Appender::create(&tmp.join(DATASET), &columns.header())?;
    let samples = if want_samples {
        Some(Appender::create(
            &tmp.join(SAMPLES),
            dataset::SAMPLES_HEADER.as_bytes(),
        )?)
    } else {
        None
    };
    let state = State {
        fingerprint: fingerprint.to_string(),
        seed: g.seed,
        total_rows: g.total_rows(),
        cursor: Cursor::new(g),
        streams: g
            .functions
            .iter()
            .map(|f| checkpoint::Stream {
                function: f.name.clone(),
                rng: rng::function_stream(g.seed, &f.name),
            })
            .collect(),
        counters: Counters::default(),
        dataset_bytes: dataset.len(),
        samples_bytes: samples.as_ref().map(Appender::len),
        dataset_tail: Some(dataset.tail().clone()),
        samples_tail: samples.as_ref().map(|s| s.tail().clone()),
        finished: false,
        written_at: crate::timefmt::rfc3339(SystemTime::now()),
    };
    checkpoint::save(&tmp.join(CHECKPOINT), &state)?;
    drop((dataset, samples));
    std::fs::rename(&tmp, out).with_context(|| {
        let _ = std::fs::remove_dir_all(&tmp);
        format!("cannot create {}", out.display())
    })?;
    std::fs::File::open(parent).and_then(|d| d.sync_all())?;
    let files = reopen(out, &state)?;
    Ok((state, files))
}

/// The progress bar: rows written out of the plan's, failures and cold starts.
fn progress(
    wanted: bool,
    total: u64,
    resumed: Counters,
    live: &Arc<Live>,
) -> crate::progress::Progress {
    let live = live.clone();
    crate::progress::Progress::start(
        wanted,
        Arc::new(AtomicU64::new(total)),
        "rows",
        Box::new(move || {
            let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
            (
                resumed.rows + load(&live.rows),
                format!(
                    "failed {} cold {}",
                    resumed.failed + load(&live.failed),
                    resumed.cold + load(&live.cold)
                ),
            )
        }),
    )
}
