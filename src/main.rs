//! gale's binary: parse the command line, call the library, map errors to exit codes.
//!
//! Exit codes: 0 success; 1 the run failed (platform unreachable, I/O error); 2 bad usage or
//! bad input (trace, config, a malformed result file); 3 a `gale report --check` threshold
//! broken; 130 interrupted by SIGINT or SIGTERM (results still written).

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use gale::cli::{Cli, Command, PlatformArgs, SimulateArgs, TraceCommand};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Runtime { kind, image } = &cli.command {
        // Action processes stay lean: no logging setup, no tokio runtime.
        let code = gale::platform::runtime_main(kind, image.as_deref());
        return ExitCode::from(code.clamp(0, 255) as u8);
    }
    init_logging(cli.verbose);
    let result = match cli.command {
        Command::Inject(args) => args
            .into_settings()
            .map_err(anyhow::Error::from)
            .and_then(gale::inject::run_cli),
        Command::Simulate(args) => run_simulate(args),
        Command::Experiment(args) => gale::experiment::run_cli(args.into()),
        Command::Generate(args) => gale::generate::run_cli(args.into()),
        Command::Platform(args) => run_platform(args),
        Command::Trace(TraceCommand::Check { trace, seed }) => gale::trace::run_check(&trace, seed),
        Command::Trace(TraceCommand::Convert { trace, out, seed }) => {
            gale::trace::run_convert(&trace, &out, seed)
        }
        Command::Trace(TraceCommand::Import(args)) => gale::trace::run_import(args.into()),
        Command::Trace(cmd @ TraceCommand::Shrink { .. }) => {
            gale::trace::run_shrink(cmd.shrink_settings())
        }
        Command::Trace(cmd @ TraceCommand::Inspect { .. }) => {
            gale::trace::run_inspect(cmd.inspect_settings())
        }
        Command::Fn(args) => gale::platform::admin_cli::run(args.into()),
        Command::Monitor(args) => gale::monitor::run::run_cli(args.into()),
        Command::Report(args) => {
            args.into_settings()
                .map_err(anyhow::Error::from)
                .and_then(|settings| {
                    let code =
                        gale::report::analysis::run(&settings, &mut std::io::stdout().lock())?;
                    Ok(ExitCode::from(code))
                })
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "gale", &mut script);
            print_bytes(&script)
        }
        Command::Man { command } => man_page(command.as_deref()),
        Command::Runtime { .. } => unreachable!("handled above"),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("gale: error: {}", error_chain(&err));
            ExitCode::from(gale::exit_code_of(&err))
        }
    }
}

/// The error and its causes on one line, `a: b: c`, each said once: an error whose own text
/// already ends with its cause's (`cannot listen on X: Address in use`) does not repeat it.
fn error_chain(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.ends_with(&part) || text.contains(&format!("{part}: ")) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// `gale man [COMMAND]`: the roff page of gale, or of one subcommand as gale-COMMAND(1).
fn man_page(command: Option<&str>) -> anyhow::Result<ExitCode> {
    let root = Cli::command();
    let page = match command {
        None => root,
        Some(name) => {
            let Some(sub) = root
                .get_subcommands()
                .find(|c| c.get_name() == name && !c.is_hide_set())
            else {
                let names: Vec<&str> = root
                    .get_subcommands()
                    .filter(|c| !c.is_hide_set())
                    .map(|c| c.get_name())
                    .collect();
                return Err(gale::config::ConfigError {
                    file: None,
                    line: None,
                    message: format!(
                        "no subcommand `{name}`; expected one of: {}",
                        names.join(", ")
                    ),
                }
                .into());
            };
            // clap names are `'static` (without its `string` feature); this process prints
            // one page and exits.
            let full: &'static str = Box::leak(format!("gale-{name}").into_boxed_str());
            sub.clone()
                .name(full)
                .bin_name(format!("gale {name}"))
                .display_name(full)
        }
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page).render(&mut roff)?;
    print_bytes(&roff)
}

/// Write generated text to stdout; a reader that stopped early (`| head`) is not an error.
fn print_bytes(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "gale=info",
        1 => "gale=debug",
        _ => "gale=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // Under journald (JOURNAL_STREAM set) the journal adds its own timestamps and colours
    // would show as escape codes.
    let journald = std::env::var_os("JOURNAL_STREAM").is_some();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(!journald && colour_on_stderr());
    if journald {
        builder.without_time().init();
    } else {
        builder.init();
    }
}

/// Colour only on a terminal, and never with `NO_COLOR` set to a non-empty value
/// (no-color.org). clap's help and errors follow the same rule on their own.
fn colour_on_stderr() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::IsTerminal::is_terminal(&std::io::stderr())
}

fn run_platform(args: PlatformArgs) -> anyhow::Result<ExitCode> {
    let (file, flags) = args.into_flags();
    let mut config = gale::platform::PlatformConfig::new()?;
    if let Some(file) = &file {
        gale::config::platform_file::load(file, &mut config)?;
    }
    gale::config::platform_file::apply_flags(&mut config, &flags)?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let platform = gale::platform::start(config.clone()).await?;
        let ns = &config.namespaces[0];
        println!("gale platform listening on http://{}", platform.addr);
        println!("namespace: {}", ns.namespace);
        if let Some(path) = platform.events_socket() {
            println!("lifecycle events: {}", path.display());
        }
        println!(
            "wsk property set --apihost 'http://{}' --auth '{}'",
            platform.addr, ns.key
        );
        wait_for_shutdown_signal().await;
        tracing::info!("shutting down");
        platform.shutdown().await;
        anyhow::Ok(ExitCode::SUCCESS)
    })
}

async fn wait_for_shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Resolve `gale simulate`'s flags and files into the simulator's settings, then run it.
fn run_simulate(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let mut platform = gale::platform::PlatformConfig::new()?;
    if let Some(file) = &args.platform_config {
        gale::config::platform_file::load(file, &mut platform)?;
    }
    let mut profile = match &args.profile_from {
        Some(dir) => gale::sim::fit::fit(dir)?,
        None => gale::sim::profile::Profile::default(),
    };
    if let Some(file) = &args.profile {
        profile.merge(gale::sim::profile::Profile::load(file)?);
    }
    let operations = match &args.operations {
        Some(file) => gale::sim::ops::load(file)?,
        None => Vec::new(),
    };
    let run = gale::sim::run::RunSettings {
        trace: args.trace,
        out: args.out,
        invocations_csv: !args.no_invocations,
        plots: !args.no_plots,
        seed: args.seed,
        namespace: platform.namespaces[0].namespace.clone(),
        model: platform.model,
        limits: platform.limits,
        actions: platform.actions,
        profile,
        operations,
        sample_period: args.sample_period.as_nanos().min(u128::from(u64::MAX)) as u64,
        shard: args.shard.map(|(index, count)| gale::trace::shard::Shard {
            index,
            count,
            by: args.shard_by,
        }),
    };
    if !args.sweep.is_empty() {
        let threads = args.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        let dir = match &run.out {
            Some(d) => d.clone(),
            None => {
                gale::report::output::create_dir(None, &run.trace, std::time::SystemTime::now())?
            }
        };
        let done = gale::sim::sweep::run_sweep(&run, &args.sweep, threads, &dir)?;
        if !args.quiet {
            print!("{}", std::fs::read_to_string(&done.csv)?);
        }
        for w in &done.warnings {
            eprintln!("warning: {w}");
        }
        eprintln!(
            "gale: sweep of {} points: {} (sweep.csv{})",
            done.points,
            dir.display(),
            match (done.report.is_some(), run.plots) {
                (true, true) => ", report.txt, plots/",
                (true, false) => ", report.txt",
                (false, _) => "",
            }
        );
        return Ok(ExitCode::SUCCESS);
    }
    let done = gale::sim::run::run(&run)?;
    if !args.quiet {
        println!("{}", done.table);
    }
    match &done.plots {
        Some(Ok(w)) => println!(
            "plots: {} ({} figures, SVG and PNG)",
            done.dir.join(gale::report::plot::PLOTS_DIR).display(),
            w.files.len() / 2
        ),
        Some(Err(e)) => eprintln!("warning: {e}"),
        None => {}
    }
    eprintln!(
        "gale: simulated {} invocations ({} events, {:.1} s of virtual time) in {:.3} s: {}",
        done.report.invocations,
        done.report.events,
        done.report.horizon_ns as f64 / 1e9,
        done.wall_s,
        done.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
