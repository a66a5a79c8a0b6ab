//! The injector: replay a trace against a platform and record every invocation.
//!
//! [`run_cli`] wires the parts: [`crate::session`] connects to the platform and deploys,
//! [`engine`] schedules and sends, [`writer`] records, [`summary`] sums up, [`output`]
//! lays out the result directory.

pub mod clock;
pub mod engine;
mod invocation;
pub mod measure;
pub mod output;
pub mod progress;
pub mod record;
mod rows;
pub mod summary;
pub mod writer;

use std::collections::{BTreeSet, HashMap};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::cli::InjectArgs;
use crate::session;
use crate::trace::{self, FunctionSpec, OpenOptions};
use engine::{Counters, EngineSettings, Routing, StopFlags};

/// `gale inject`: resolve the settings, run, write the result directory, print the summary.
pub fn run_cli(args: InjectArgs) -> anyhow::Result<ExitCode> {
    // Signals are watched first: one that comes during start-up (trace scan, platform,
    // deploys) ends the run cleanly, with its result directory, before the first send.
    let flags = Arc::new(StopFlags::default());
    let signals = watch_signals(flags.clone(), args.drain_timeout)?;
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

    let started = SystemTime::now();
    let out_dir = output::create_dir(args.out.as_deref(), &args.trace, started)?;
    output::write_run_file(
        &out_dir,
        &args,
        &target,
        &session.apihost,
        &monitor.info,
        &header,
        &functions,
        started,
    )?;
    let measurer = monitor.source().map(measure::Measurer::new);
    let writer =
        writer::Writer::start(&out_dir.join("invocations.csv"), measurer).with_context(|| {
            format!(
                "cannot create {}",
                out_dir.join("invocations.csv").display()
            )
        })?;

    let counters = Arc::new(Counters::default());
    let show_progress = !args.no_progress && std::io::stderr().is_terminal();
    if show_progress && total.load(Ordering::Relaxed) == 0 {
        count_rows_in_background(&args.trace, &open_opts, args.max_invocations, total.clone());
    }
    let progress = progress::Progress::start(counters.clone(), total, show_progress);

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
        drain_timeout: args.drain_timeout,
        lead: Duration::from_millis(20),
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
        },
    )
    .context("cannot start the injector's threads")?;
    progress.finish();
    signals.close();
    let (records, acc) = writer.finish().context("cannot write invocations.csv")?;
    let summary = acc.summary();
    let status = output::write_summary(&out_dir, &summary, &end, records, started)?;
    if !args.quiet {
        print!("{}", summary.table());
    }
    println!(
        "results: {} ({records} records, {status})",
        out_dir.display()
    );
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

/// SIGINT/SIGTERM: the first stops dispatching and drains, the second stops waiting.
fn watch_signals(
    flags: Arc<StopFlags>,
    drain: Duration,
) -> anyhow::Result<signal_hook::iterator::Handle> {
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    let handle = signals.handle();
    std::thread::Builder::new().name("gale-signals".into()).spawn(move || {
        for sig in signals.forever() {
            let name = if sig == SIGINT { "SIGINT" } else { "SIGTERM" };
            if !flags.stop.swap(true, Ordering::SeqCst) {
                tracing::warn!("{name}: stopping; waiting up to {drain:?} for replies in flight (again to stop now)");
            } else {
                tracing::warn!("{name} again: not waiting any longer");
                flags.hurry.store(true, Ordering::SeqCst);
            }
        }
    })?;
    Ok(handle)
}
