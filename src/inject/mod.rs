//! The injector: replay a trace against a platform and record every invocation.
//!
//! [`run_cli`] wires the parts: [`crate::backend::session`] connects to the platform and
//! deploys, [`engine`] schedules and sends, the results room ([`crate::report`]) records,
//! sums up and lays out the result directory.

pub mod clock;
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
use crate::cli::InjectArgs;
use crate::report::{measure, output, writer, RunClock};
use crate::signals;
use crate::trace::{self, FunctionSpec, OpenOptions};
use engine::{Counters, EngineSettings, Routing, StopFlags};

/// Setup headroom between the engine's start and the trace's time zero.
const LEAD: Duration = Duration::from_millis(20);

/// `gale inject`: resolve the settings, run, write the result directory, print the summary.
pub fn run_cli(args: InjectArgs) -> anyhow::Result<ExitCode> {
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
    let target = crate::config::target::resolve(&args.target)?;
    let open_opts = OpenOptions { seed: args.seed };
    let trace = trace::open(&args.trace, &open_opts)?;
    let header = trace.header.clone();

    // Functions to deploy: the declared ones; for a trace that declares none, the embedded
    // platform gets a synthetic function per name the rows use (one streaming pass).
    let mut functions = header.functions.clone();
    let embedded = target == crate::config::Target::Embedded;
    let total = Arc::new(AtomicU64::new(0));
    if functions.is_empty() && embedded {
        let (names, rows) = scan_functions(&args.trace, &open_opts, args.max_invocations)?;
        functions = names.iter().map(|n| FunctionSpec::synthetic(n)).collect();
        total.store(rows, Ordering::Relaxed);
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("gale-io")
        .enable_all()
        .build()?;
    let client = session::ClientSettings {
        connections: args.connections,
        request_timeout: args.request_timeout,
        platform_config: args.target.platform_config.clone(),
    };
    let session = session::Session::connect(&rt, &target, &header.users, client)?;
    let deployed = session.deploy(&rt, &functions)?;
    tracing::info!("{} function deployments on {}", deployed, session.apihost);

    let monitor = start_monitor(&args, &session)?;

    // The trace's time zero, on our clock and the wall clock: every record time counts
    // from it. The embedded platform reads this host's clock; a remote one's offset is
    // estimated as the run goes (report::clock).
    let clock = Arc::new(RunClock::start_after(LEAD, session.is_embedded()));
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
    if show_progress && total.load(Ordering::Relaxed) == 0 {
        count_rows_in_background(&args.trace, &open_opts, args.max_invocations, total.clone());
    }
    let progress = progress(show_progress, &counters, total);

    let routing = Routing {
        users: session.users.clone(),
        function_blocking: functions
            .iter()
            .filter_map(|f| f.blocking.map(|b| (Arc::from(f.name.as_str()), b)))
            .collect::<HashMap<_, _>>(),
        blocking: header.blocking,
        blocking_override: blocking_override(&args),
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
        spin: Duration::from_micros(args.spin_us.into()),
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
    Ok(if end.completed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(130)
    })
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
    args: &InjectArgs,
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

/// `--blocking`/`--non-blocking`: the mode forced on every row, if any.
pub fn blocking_override(args: &InjectArgs) -> Option<bool> {
    match (args.blocking, args.non_blocking) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    }
}

/// One streaming pass over the trace: the function names it uses and its row count.
fn scan_functions(
    path: &std::path::Path,
    opts: &OpenOptions,
    limit: Option<u64>,
) -> anyhow::Result<(BTreeSet<String>, u64)> {
    let trace = trace::open(path, opts)?;
    let mut names = BTreeSet::new();
    let mut rows = 0u64;
    for item in trace.rows.take(engine::row_limit(limit)) {
        let inv = item?;
        rows += 1;
        if !names.contains(&*inv.function) {
            names.insert(inv.function.to_string());
        }
    }
    Ok((names, rows))
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
