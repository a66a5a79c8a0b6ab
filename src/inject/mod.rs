//! The injector: replay a trace against a platform and record every invocation.
//!
//! [`run_cli`] wires the parts: [`crate::backend::session`] connects to the platform and
//! deploys, [`engine`] schedules and sends, the results room ([`crate::report`]) records,
//! sums up and lays out the result directory.

pub mod clock;
mod cold_updates;
pub mod engine;
mod invocation;
mod rows;
mod run_file;

use std::collections::{BTreeSet, HashMap};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::backend::session;
use crate::backend::Entity;
use crate::config::target::TargetFlags;
use crate::report::check::Check;
use crate::report::{measure, output, writer, RunClock};
use crate::signals;
use crate::trace::{self, FunctionSpec, OpenOptions};
use engine::{Counters, EngineSettings, FunctionRoute, OverloadPolicy, Routing, StopFlags};

/// Setup headroom between the engine's start and the trace's time zero.
const LEAD: Duration = Duration::from_millis(20);

/// `gale inject`'s settings: what the command line says, parsed (docs/injector.md has
/// every option).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The trace: a YAML or CSV file, or a FaaSLoad directory.
    pub trace: std::path::PathBuf,
    /// Where the platform is (resolved with the wskprops file at the start).
    pub target: TargetFlags,
    /// The result directory (default: `results/<timestamp>-<trace>`).
    pub out: Option<std::path::PathBuf>,
    /// No progress bar.
    pub no_progress: bool,
    /// No summary table.
    pub quiet: bool,
    /// Thresholds the run must meet.
    pub checks: Vec<Check>,
    /// No plots at the end.
    pub no_plots: bool,
    /// A `gale monitor` socket to measure with.
    pub monitor: Option<std::path::PathBuf>,
    /// No resource measurements at all.
    pub no_monitor: bool,
    /// Sampling period of the in-process monitor.
    pub monitor_period: Duration,
    /// Seed for arrival specifications (overrides the trace's).
    pub seed: Option<u64>,
    /// Time scaling (2: twice as fast).
    pub speed: f64,
    /// Stop scheduling after this much scaled time.
    pub duration: Option<Duration>,
    /// Stop after this many invocations.
    pub max_invocations: Option<u64>,
    /// Closed loop with this many users.
    pub closed_loop: Option<u32>,
    /// Busy-poll this long before each instant.
    pub spin: Duration,
    /// Blocking (`Some(true)`) or not for every row, whatever the trace says.
    pub blocking_override: Option<bool>,
    /// Most invocations outstanding.
    pub max_in_flight: u32,
    /// What to do with an invocation due at the cap.
    pub on_overload: OverloadPolicy,
    /// Keep-alive connections to the platform.
    pub connections: u32,
    /// Timeout of one invoke request.
    pub request_timeout: Duration,
    /// Activation records fetched in parallel.
    pub fetch_concurrency: u32,
    /// Give up on an activation record after this long.
    pub fetch_timeout: Duration,
    /// After a stop, wait this long for replies.
    pub drain_timeout: Duration,
    /// Send only shard K of N: `(K, N)`.
    pub shard: Option<(u32, u32)>,
    /// What decides a row's shard.
    pub shard_by: trace::shard::ShardBy,
    /// The wall-clock instant of the trace's time zero, shared by the shards of a run.
    pub start_at: Option<std::time::SystemTime>,
    /// Settings of the embedded platform by name, over `--platform-config`
    /// ([`crate::config::overrides`]; an experiment's point).
    pub platform_settings: Vec<(String, String)>,
    /// Make every invocation of an action a cold start: update the action just before it
    /// is sent, and check each activation's `initTime` (`--force-cold`).
    pub force_cold: bool,
}

/// A finished `gale inject` run.
#[derive(Debug)]
pub struct Finished {
    /// Its exit code (docs/exit-codes.md).
    pub code: u8,
    /// Its result directory.
    pub dir: std::path::PathBuf,
}

/// `gale inject`: resolve the settings, run, write the result directory, print the summary.
pub fn run_cli(args: Settings) -> anyhow::Result<ExitCode> {
    run(args).map(|f| ExitCode::from(f.code))
}

/// [`run_cli`], saying where the results went.
pub fn run(args: Settings) -> anyhow::Result<Finished> {
    // Signals are watched first: one that comes during start-up (trace scan, platform,
    // deploys) ends the run cleanly, with its result directory, before the first send.
    let flags = Arc::new(StopFlags::default());
    let signals = signals::watch(
        flags.clone(),
        signals::Messages {
            first: format!(
                "stopping; waiting up to {:?} for replies in flight (again to stop now)",
                args.drain_timeout
            ),
            second: "not waiting any longer".into(),
        },
    )?;
    // Refused before anything starts: an --out that cannot take the results.
    let checks = &args.checks;
    output::check_out(args.out.as_deref())?;
    let target = crate::config::target::resolve(&args.target)?;
    let open_opts = OpenOptions { seed: args.seed };
    let mut trace = trace::open(&args.trace, &open_opts)?;
    let shard = args.shard.map(|(index, count)| trace::shard::Shard {
        index,
        count,
        by: args.shard_by,
    });
    if let Some(s) = shard {
        trace.rows = s.filter(trace.rows);
    }
    let header = trace.header.clone();

    // Functions to deploy: the declared ones; for a trace that declares none, the embedded
    // platform gets a synthetic function per name the rows use. Functions gale does not
    // deploy must exist on the platform: the rows are scanned (one streaming pass) for the
    // (user, function) pairs to check before the first invocation.
    let mut functions = header.functions.clone();
    let embedded = target == crate::config::Target::Embedded;
    let http = matches!(target, crate::config::Target::Http(_));
    if http && args.blocking_override == Some(false) {
        return Err(crate::UsageError(
            "--non-blocking: an HTTP target's functions answer when they are done (there is \
             no activation record to fetch later)"
                .into(),
        )
        .into());
    }
    let total = Arc::new(AtomicU64::new(0));
    let bare = functions.is_empty();
    let to_check: BTreeSet<&str> = functions
        .iter()
        .filter(|f| session::must_check(f, &target))
        .map(|f| f.name.as_str())
        .collect();
    let check_bare =
        bare && !embedded && session::must_check(&FunctionSpec::synthetic(""), &target);
    let mut uses = BTreeSet::new();
    if (bare && embedded) || check_bare || !to_check.is_empty() {
        let (pairs, rows) = scan_uses(&args.trace, &open_opts, args.max_invocations, shard)?;
        // The scan saw this shard's rows only: its total is the progress bar's.
        total.store(rows, Ordering::Relaxed);
        if bare && embedded {
            let names: BTreeSet<&str> = pairs.iter().map(|(_, f)| f.as_str()).collect();
            functions = names.into_iter().map(FunctionSpec::synthetic).collect();
        } else {
            uses = pairs
                .into_iter()
                .filter(|(_, f)| bare || to_check.contains(f.as_str()))
                .collect();
        }
    }
    // A shard deploys only the functions it invokes (all of them when split by user).
    if let Some(s) = shard {
        functions.retain(|f| s.deploys(&f.name));
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("gale-io")
        .enable_all()
        .build()?;
    let client = session::ClientSettings {
        connections: args.connections,
        request_timeout: args.request_timeout,
        platform_config: args.target.platform_config.clone(),
        platform_settings: args.platform_settings.clone(),
    };
    let session = session::Session::connect(&rt, &target, &header.users, client)?;
    let deployed = session.deploy(&rt, &header.packages, &functions)?;
    if deployed.functions > 0 {
        tracing::info!("{deployed} on {}", session.apihost);
    }
    preflight(&rt, &session, uses)?;

    let monitor = start_monitor(&args, &session)?;

    // The trace's time zero, on our clock and the wall clock: every record time counts
    // from it. The embedded platform reads this host's clock; a remote one's offset is
    // estimated as the run goes (report::clock).
    let clock = Arc::new(match args.start_at {
        Some(at) => start_at(at, session.is_embedded())?,
        None => RunClock::start_after(LEAD, session.is_embedded()),
    });
    let started = clock.zero_wall();
    let out_dir = output::create_dir(args.out.as_deref(), &args.trace, started)?;
    let details = run_file::details(
        &args,
        &target,
        &session.apihost,
        &monitor.info,
        &header,
        &functions,
    );
    output::write_run_file(&out_dir, output::RunKind::Inject, started, None, &details)?;
    let measurer = monitor.source().map(measure::Measurer::new);
    let writer =
        writer::Writer::start(&out_dir.join("invocations.csv"), measurer).with_context(|| {
            format!(
                "cannot create {}",
                out_dir.join("invocations.csv").display()
            )
        })?;

    let counters = Arc::new(Counters::default());
    let show_progress = !args.no_progress;
    if show_progress && shard.is_none() && total.load(Ordering::Relaxed) == 0 {
        count_rows_in_background(&args.trace, &open_opts, args.max_invocations, total.clone());
    }
    let progress = progress(show_progress, &counters, total);

    let routing = Routing {
        users: session.users.clone(),
        functions: functions
            .iter()
            .map(|f| {
                let route = FunctionRoute {
                    blocking: f.blocking,
                    entity: Entity::of(f),
                };
                (Arc::from(f.name.as_str()), route)
            })
            .collect::<HashMap<_, _>>(),
        blocking: header.blocking,
        // A plain HTTP function answers when it is done.
        blocking_override: if http {
            Some(true)
        } else {
            args.blocking_override
        },
    };
    let settings = EngineSettings {
        speed: args.speed,
        duration: args.duration,
        max_invocations: args.max_invocations,
        closed_loop: args.closed_loop,
        max_in_flight: args.max_in_flight,
        on_overload: args.on_overload,
        fetch_concurrency: args.fetch_concurrency,
        fetch_timeout: args.fetch_timeout,
        long_poll: session.is_embedded(),
        drain_timeout: args.drain_timeout,
        spin: args.spin,
        force_cold: args.force_cold,
    };
    let end = engine::run(
        rt.handle(),
        session.backend.clone(),
        trace.rows,
        routing,
        &settings,
        engine::Observers {
            records: writer.tx.clone(),
            counters: counters.clone(),
            flags: flags.clone(),
            clock: clock.clone(),
        },
    )
    .context("cannot start the injector's threads")?;
    progress.finish();
    signals.close();
    let (records, acc) = writer.finish().context("cannot write invocations.csv")?;
    // The platform clock's offset is known best now: run.yaml says it.
    output::write_run_file(
        &out_dir,
        output::RunKind::Inject,
        started,
        Some(clock.offset()),
        &details,
    )?;
    let summary = acc.summary();
    let status = if end.trace_error.is_some() {
        "trace_error"
    } else if end.completed {
        "completed"
    } else {
        "interrupted"
    };
    let error = end.trace_error.as_ref().map(|e| e.to_string());
    output::write_summary(
        &out_dir,
        &summary,
        status,
        error.as_deref(),
        records,
        started,
    )?;
    if !args.quiet {
        print!("{}", summary.table());
    }
    if args.force_cold {
        cold_updates::write(&out_dir, &end.forced)?;
    }
    println!(
        "results: {} ({records} records, {status})",
        out_dir.display()
    );
    if !args.no_plots {
        crate::report::plot::end_of_run(&out_dir);
    }
    monitor.finish();
    session.shutdown();
    rt.shutdown_timeout(Duration::from_secs(1));
    if let Some(e) = end.trace_error {
        return Err(
            anyhow::Error::new(e).context("the trace has an error; records up to it were written")
        );
    }
    if !end.completed {
        return Ok(Finished {
            code: crate::exit::INTERRUPTED,
            dir: out_dir,
        });
    }
    let succeeded = summary
        .overall
        .outcomes
        .get("success")
        .copied()
        .unwrap_or(0);
    if records > 0 && succeeded == 0 {
        eprintln!(
            "gale: no invocation succeeded ({records} records: {})",
            outcome_counts(&summary.overall.outcomes)
        );
        return Ok(Finished {
            code: crate::exit::ALL_FAILED,
            dir: out_dir,
        });
    }
    if !checks.is_empty() {
        let results = crate::report::analysis::check_dir(&out_dir, checks)?;
        if !crate::report::analysis::print_failed_checks(&results) {
            return Ok(Finished {
                code: crate::exit::CHECK_FAILED,
                dir: out_dir,
            });
        }
    }
    Ok(Finished {
        code: crate::exit::SUCCESS,
        dir: out_dir,
    })
}

/// `http_error 10, timeout 2`.
fn outcome_counts(outcomes: &std::collections::BTreeMap<&'static str, u64>) -> String {
    outcomes
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A run clock whose zero is the wall-clock instant `at` (`--start-at`), refused when that
/// instant has passed: the shards of a run must start together, and a late one would send
/// its first rows late.
fn start_at(at: std::time::SystemTime, same_clock: bool) -> anyhow::Result<RunClock> {
    let now = RunClock::start(same_clock);
    let now_epoch = now
        .zero_wall()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let at_epoch = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let ahead = at_epoch
        .checked_sub(now_epoch)
        .filter(|&d| d >= LEAD.as_nanos() as u64);
    let Some(ahead) = ahead else {
        anyhow::bail!(
            "--start-at {} has passed (now {}): give an instant at least {:?} ahead",
            crate::timefmt::rfc3339_micros(at),
            crate::timefmt::rfc3339_micros(now.zero_wall()),
            LEAD
        );
    };
    tracing::info!(
        "the trace starts at {} ({:.1} s from now)",
        crate::timefmt::rfc3339_micros(at),
        ahead as f64 / 1e9
    );
    Ok(RunClock::at(
        now.zero_mono_ns() + ahead,
        at_epoch,
        same_clock,
    ))
}

/// The progress bar: recorded invocations out of the trace's rows, and the live counters.
fn progress(
    wanted: bool,
    counters: &Arc<Counters>,
    total: Arc<AtomicU64>,
) -> crate::progress::Progress {
    let c = counters.clone();
    crate::progress::Progress::start(
        wanted,
        total,
        "invocations",
        Box::new(move || {
            let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
            (
                load(&c.recorded),
                format!(
                    "sent {} in-flight {} fetching {} errors {} shed {}",
                    load(&c.sent),
                    c.in_flight.load(Ordering::Relaxed),
                    c.fetching.load(Ordering::Relaxed),
                    load(&c.errors),
                    load(&c.shed),
                ),
            )
        }),
    )
}

/// The run's resource monitor: `--monitor`, else in-process on the embedded platform's
/// cgroups, else none. It keeps samples for as long as a record can take to arrive.
fn start_monitor(
    args: &Settings,
    session: &session::Session,
) -> anyhow::Result<crate::monitor::choose::RunMonitor> {
    let request = crate::monitor::choose::MonitorRequest {
        socket: args.monitor.clone(),
        off: args.no_monitor,
        period: args.monitor_period,
        history: args.fetch_timeout.max(args.request_timeout) + Duration::from_secs(60),
    };
    crate::monitor::choose::choose(&request, session.embedded_platform())
        .context("cannot start the in-process resource monitor")
}

/// (user label, function) pairs that the rows use.
type Uses = BTreeSet<(Arc<str>, String)>;

/// One streaming pass over the trace: the (user, function) pairs its rows use, and its row
/// count.
fn scan_uses(
    path: &std::path::Path,
    opts: &OpenOptions,
    limit: Option<u64>,
    shard: Option<trace::shard::Shard>,
) -> anyhow::Result<(Uses, u64)> {
    let mut trace = trace::open(path, opts)?;
    if let Some(s) = shard {
        trace.rows = s.filter(trace.rows);
    }
    let mut pairs = BTreeSet::new();
    let mut last: Option<(Arc<str>, Arc<str>)> = None;
    let mut rows = 0u64;
    for item in trace.rows.take(engine::row_limit(limit)) {
        let inv = item?;
        rows += 1;
        // Rows of one pair often come in runs: skip the set for a repeat.
        if last
            .as_ref()
            .is_some_and(|(u, f)| Arc::ptr_eq(u, &inv.user) && Arc::ptr_eq(f, &inv.function))
        {
            continue;
        }
        pairs.insert((inv.user.clone(), inv.function.to_string()));
        last = Some((inv.user, inv.function));
    }
    Ok((pairs, rows))
}

/// Pre-flight: every function the rows invoke that gale did not deploy must exist on the
/// platform, or the run stops here, naming them, before its first invocation.
fn preflight(
    rt: &tokio::runtime::Runtime,
    session: &session::Session,
    uses: Uses,
) -> anyhow::Result<()> {
    let needed = uses
        .into_iter()
        .map(|(user, f)| (session.users.get(&user).copied().unwrap_or(0), f))
        .collect();
    session.require_functions(
        rt,
        &needed,
        "the trace invokes",
        "create {them} there, or declare {them} in the trace with code and `deploy: true`",
    )
}

/// Count rows for the progress bar without holding the run up; errors are the run's to report.
fn count_rows_in_background(
    path: &std::path::Path,
    opts: &OpenOptions,
    limit: Option<u64>,
    total: Arc<AtomicU64>,
) {
    let (path, opts) = (path.to_path_buf(), opts.clone());
    let _ = std::thread::Builder::new()
        .name("gale-count".into())
        .spawn(move || {
            if let Ok(trace) = trace::open(&path, &opts) {
                let n = trace.rows.take(engine::row_limit(limit)).count();
                total.store(n as u64, Ordering::Relaxed);
            }
        });
}
