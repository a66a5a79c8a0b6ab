//! The command line, as ripgrep splits it: the flags and their arguments as clap parses them
//! (this file: definitions only, no behaviour), then [`settings`], which turns them into each
//! room's own settings. No room below imports this module (tests/rooms.rs): they take plain
//! settings, so a test, a bench or another front end can drive them without clap. The
//! parsers of values (durations, speeds) are in [`crate::units`], shared with the settings
//! files.

pub mod settings;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::units::{
    parse_confidence, parse_duration, parse_positive_duration, parse_sample_period, parse_speed,
};

/// gale: replay invocation traces against a FaaS platform, measure every invocation.
///
/// With no platform configured, gale starts its embedded OpenWhisk-compatible platform on a
/// free loopback port, so the first run needs nothing else:
///
///   gale inject traces/demo.yaml
///
/// Point it at a real OpenWhisk with --apihost/--auth, or the APIHOST/AUTH lines of
/// ~/.wskprops (or $WSK_CONFIG_FILE), as the wsk CLI reads them.
#[derive(Debug, Parser)]
#[command(
    name = "gale",
    version,
    propagate_version = true,
    max_term_width = 100,
    verbatim_doc_comment
)]
pub struct Cli {
    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// gale's subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay a trace against a platform and record every invocation.
    ///
    /// Each invocation is sent at its scheduled instant (open loop), whatever the platform's
    /// latency; lateness (send − scheduled) and latency from both instants are recorded.
    /// Results go to a new directory: invocations.csv, run.yaml, summary.json.
    ///
    /// Records gain each activation's CPU time and memory (peak, mean) from a resource
    /// monitor: `gale monitor` with --monitor SOCKET, or, as root on the embedded platform,
    /// one started in-process (--no-monitor turns it off).
    ///
    /// Examples:
    ///   gale inject traces/demo.yaml
    ///   gale inject trace.csv --speed 2 --max-invocations 10000
    ///   gale inject traces/faasload/ --apihost https://whisk.example:443 --auth UUID:KEY
    ///   gale inject traces/demo.yaml --closed-loop 32 --duration 20s
    ///   gale inject trace.yaml --platform-config p.yml --monitor /run/gale/monitor.sock
    #[command(verbatim_doc_comment)]
    Inject(InjectArgs),
    /// Run a trace through the platform model in virtual time: what-if runs in seconds.
    ///
    /// The embedded platform's model (nodes, placement, warming, keep-alive, eviction,
    /// prewarm, autoscaling, limits: --platform-config) runs with modelled durations instead
    /// of processes: container start, init and resume from --profile (or the literature's
    /// cold start), runs from the synthetic kind's cpu_ms/sleep_ms or the profile, CPU work
    /// shared between the runs on a node (processor sharing). The result directory matches
    /// `gale inject`'s (invocations.csv, summary.json, run.yaml) plus containers.csv and
    /// nodes.csv. Same inputs and --seed, same bytes.
    ///
    /// Examples:
    ///   gale simulate traces/demo.yaml
    ///   gale simulate trace.csv --platform-config config/platform.yml --out sim/
    ///   gale simulate trace.yaml --profile profile.yml --operations ops.yml --seed 3
    #[command(verbatim_doc_comment)]
    Simulate(SimulateArgs),
    /// Build a dataset: run functions over sampled inputs, one measured row per run.
    ///
    /// The config (YAML) lists functions, each with an input space (uniform, log_uniform,
    /// normal, int, choice; input files in size classes), a number of runs, memory variants,
    /// forced cold starts and pauses, plus one global seed and the order of runs. Every input
    /// comes from a per-function ChaCha12 stream derived from (seed, function name).
    ///
    /// Each row is measured (cpu_ms, mem_peak_bytes, mem_mean_bytes) by a resource monitor:
    /// `gale monitor` with --monitor SOCKET, or, as root on the embedded platform, one
    /// started in-process; --samples also keeps each run's raw samples in samples.csv.
    ///
    /// DIR gets dataset.csv (one row per run), run.yaml and checkpoint.json. The checkpoint
    /// is rewritten every --checkpoint-every rows, every --checkpoint-interval, on SIGINT or
    /// SIGTERM (the run in flight finishes first; a second signal abandons it) and at the end.
    /// --resume continues from it with the same inputs an uninterrupted run would have drawn;
    /// with no checkpoint in DIR, --resume starts a new run (so a service can always pass it).
    ///
    /// Exit codes: 0 complete, 130 interrupted (resumable), 2 bad config or refused
    /// checkpoint, 1 run failure.
    ///
    /// Examples:
    ///   gale generate config/generator.yml                      # → datasets/generator/
    ///   gale generate config/generator.yml --out ds --resume    # start, or continue ds/
    ///   gale generate gen.yml --seed 7 --checkpoint-every 1000 --checkpoint-interval 5m
    ///   gale generate gen.yml --apihost https://whisk.example:443 --auth UUID:KEY
    ///   sudo gale generate config/generator-monitored.yml --samples   # resource columns
    #[command(verbatim_doc_comment)]
    Generate(GenerateArgs),
    /// Run the embedded OpenWhisk-compatible platform alone.
    ///
    /// Any OpenWhisk client can use it: the openwhisk npm package, the wsk CLI, curl.
    ///
    ///   gale platform --listen 127.0.0.1:3233
    ///   wsk property set --apihost http://127.0.0.1:3233 --auth <the key printed at start>
    #[command(verbatim_doc_comment)]
    Platform(PlatformArgs),
    /// Inspect and convert traces.
    #[command(subcommand)]
    Trace(TraceCommand),
    /// Admin operations of a running gale platform: nodes, containers, discover, scale,
    /// suspend.
    ///
    /// Examples:
    ///   gale fn nodes
    ///   gale fn discover fib
    ///   gale fn scale fib --up 3
    ///   gale fn suspend fib
    #[command(name = "fn", verbatim_doc_comment)]
    Fn(FnArgs),
    /// Sample the memory and CPU of function containers; answer per-activation queries.
    ///
    /// A daemon (usually a systemd service) that reads each container's cgroup counters
    /// every --period (memory usage, CPU time, kernel memory watermark) and memory.stat every
    /// --slow-period, keeps --history of samples, and answers on a UNIX socket, for a
    /// container and a time window (an activation), the CPU time, memory peak and mean.
    /// `gale inject --monitor SOCKET` and `gale generate --monitor SOCKET` add those
    /// figures to every record (as root on their embedded platform they run one in-process).
    ///
    /// Containers come from the embedded platform's lifecycle events (--events), from
    /// Docker-style cgroup directories beside a real OpenWhisk invoker (--docker), or are
    /// named (--cgroup).
    ///
    /// Examples:
    ///   gale monitor --events /run/gale/events.sock
    ///   gale monitor --docker --period 5ms --socket /run/gale/monitor.sock
    ///   gale monitor --cgroup job1=/sys/fs/cgroup/memory/jobs/1 --period 1ms --csv samples.csv
    ///   echo '{"op":"containers"}' | socat - UNIX-CONNECT:/run/gale/monitor.sock
    #[command(verbatim_doc_comment)]
    Monitor(MonitorArgs),
    /// Run an experiment: a grid of runs over factors, repeated, ending in a report.
    ///
    /// An experiment file (YAML; docs/experiments.md) names a workload (a trace, or a
    /// built-in one: synthetic functions invoked in a pattern), the target (a fresh embedded
    /// platform per run by default, a remote OpenWhisk, or the simulator), the factors to
    /// vary (platform settings as `gale simulate --sweep` names them, workload keys), and
    /// repetitions. Every point × repetition is a run into OUT/pNN-<point>/repK/;
    /// manifest.json holds the grid; the end is report.txt, report.json and plots/ comparing
    /// the points. Presets: policies (placement × warming, after the FaaS scheduler testbed),
    /// perf-cost and keepalive-probe (after SeBS).
    ///
    /// Ctrl-C stops after the run in flight; --resume with the same --out runs what is left.
    ///
    /// Exit codes: 0 done; 130 stopped (resumable); 2 bad experiment file or options;
    /// 1 a run could not run; 4 no invocation of any run succeeded.
    ///
    /// Examples:
    ///   gale experiment --preset policies --scale 0.1
    ///   gale experiment --preset perf-cost --print > my-perf-cost.yml
    ///   gale experiment my-perf-cost.yml --out results/pc
    ///   gale experiment my-perf-cost.yml --out results/pc --resume
    ///   gale experiment --preset keepalive-probe --apihost https://whisk.example:443 --auth UUID:KEY
    #[command(verbatim_doc_comment)]
    Experiment(ExperimentArgs),
    /// Statistics, comparisons and threshold checks from result directories.
    ///
    /// Reads each DIR's invocations.csv (inject, simulate) or dataset.csv (generate) in one
    /// streaming pass and prints, per function (or --by another column), the count, errors
    /// by outcome, cold starts and, for completion, response, wait, init, duration, lateness,
    /// CPU and memory: n, mean with its Student-t confidence interval, std, CV, p50 with its
    /// order-statistic interval, p90, p99 and max. With several DIRs, each is compared with
    /// the first: difference of medians, Hodges-Lehmann shift with its interval, Mann-Whitney
    /// p, and a verdict (faster / slower / no significant difference). docs/report.md gives
    /// every formula.
    ///
    /// Exit codes: 0 ok; 1 a directory could not be read; 2 bad input (a malformed file or
    /// --check); 3 a --check threshold is broken.
    ///
    /// Examples:
    ///   gale report results/demo-20261206-101500
    ///   gale report results/least-used results/round-robin --format markdown
    ///   gale report results/run --check 'completion.p99 < 300ms' --check 'error_rate < 1%'
    ///   gale report shard-0 shard-1 shard-2 --merge --by node
    ///   gale report results/dataset --by p.size --format csv > by-size.csv
    #[command(verbatim_doc_comment)]
    Report(ReportArgs),
    /// Print a shell completion script for gale to standard output.
    ///
    /// Examples:
    ///   gale completions bash > ~/.local/share/bash-completion/completions/gale
    ///   gale completions zsh > ~/.zfunc/_gale        # with fpath+=~/.zfunc before compinit
    ///   gale completions fish > ~/.config/fish/completions/gale.fish
    ///   gale completions elvish >> ~/.config/elvish/rc.elv
    ///   gale completions powershell >> $PROFILE
    #[command(verbatim_doc_comment)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print gale's man page (roff) to standard output, or a subcommand's.
    ///
    /// Examples:
    ///   gale man | man -l -
    ///   gale man inject > gale-inject.1
    ///   gale man > /usr/local/share/man/man1/gale.1
    #[command(verbatim_doc_comment)]
    Man {
        /// A subcommand (`inject`, `trace`, `fn`…): its own page, gale-COMMAND(1).
        command: Option<String>,
    },
    /// Internal: the action process the embedded platform starts (ActionLoop protocol).
    #[command(name = "__runtime", hide = true)]
    Runtime {
        /// Runtime kind, e.g. gale:synthetic.
        kind: String,
        /// The executable a `blackbox` action runs (its `exec.image`).
        image: Option<std::path::PathBuf>,
    },
}

/// `gale experiment`'s arguments.
#[derive(Debug, Clone, Args)]
pub struct ExperimentArgs {
    /// The experiment file (YAML).
    #[arg(required_unless_present = "preset", conflicts_with = "preset")]
    pub file: Option<PathBuf>,
    /// A built-in experiment: policies, perf-cost or keepalive-probe.
    #[arg(long, value_name = "NAME", value_parser = ["policies", "perf-cost", "keepalive-probe"])]
    pub preset: Option<String>,
    /// Print the experiment (a preset's YAML, to copy and edit) and exit.
    #[arg(long)]
    pub print: bool,
    /// Multiply every count and duration (invocations, repetitions, waits, keep-alive
    /// settings) by F, e.g. 0.05 for a quick look; rates stay, counts stay at least 1.
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    pub scale: f64,
    /// The experiment's directory (default: results/<timestamp>-experiment-<name>).
    #[arg(long, short, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue the experiment in --out: runs done are kept, the others run.
    #[arg(long, requires = "out")]
    pub resume: bool,
    /// Do not print the report table.
    #[arg(long, short)]
    pub quiet: bool,
    /// Do not draw the plots.
    #[arg(long)]
    pub no_plots: bool,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// `gale report`'s arguments.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Result directories (or their invocations.csv / dataset.csv); the first is the
    /// baseline others are compared with.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Group by this column instead of function: user, node, cold, outcome, blocking,
    /// run (a dataset's repetition), p.<param> (a dataset's input), or any other column.
    #[arg(long, default_value = "function", value_name = "COLUMN")]
    pub by: String,
    /// Confidence level of every interval and test, in (0, 1).
    #[arg(long, default_value_t = 0.95, value_parser = parse_confidence)]
    pub confidence: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// A threshold every run must meet, e.g. 'completion.p99 < 300ms', 'error_rate <= 1%',
    /// 'count >= 1000' (repeatable); when one is broken the exit code is 3.
    #[arg(long = "check", value_name = "EXPR")]
    pub checks: Vec<String>,
    /// Treat all DIRs as one run (shards of one experiment) instead of comparing them.
    #[arg(long)]
    pub merge: bool,
    /// Also write the plots (SVG and PNG) into this directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// `gale report --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Aligned text tables.
    Table,
    /// Markdown tables.
    Markdown,
    /// One JSON document.
    Json,
    /// One CSV row per run, group and metric.
    Csv,
}

/// Where to find the platform.
#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// OpenWhisk API host, e.g. https://whisk.example:443 (default: $WSK_CONFIG_FILE or
    /// ~/.wskprops APIHOST; with neither, the embedded platform).
    #[arg(long, value_name = "URL", help_heading = "Platform")]
    pub apihost: Option<String>,
    /// Authorization key UUID:KEY (default: the AUTH line of the wskprops file).
    #[arg(long, value_name = "UUID:KEY", help_heading = "Platform")]
    pub auth: Option<String>,
    /// Accept self-signed TLS certificates (like wsk -i).
    #[arg(long, short = 'i', help_heading = "Platform")]
    pub insecure: bool,
    /// Namespace to use (default `_`: the key's own namespace).
    #[arg(long, default_value = "_", help_heading = "Platform")]
    pub namespace: String,
    /// Use the embedded platform even when a wskprops file names an API host.
    #[arg(long, conflicts_with = "apihost", help_heading = "Platform")]
    pub embedded: bool,
    /// Settings of the embedded platform (nodes, placement, warming, keep-alive…), as
    /// `gale platform --config` takes them: compare policies on the same trace.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "apihost",
        help_heading = "Platform"
    )]
    pub platform_config: Option<PathBuf>,
    /// Call functions as plain HTTP requests (Knative, OpenFaaS, Lambda function URLs, any
    /// web service), as this target file (YAML) says: a URL, method, headers and body
    /// template per function (see docs/injector.md and config/targets/). No activation
    /// records: completion is the reply's end.
    #[arg(
        long = "target",
        value_name = "FILE",
        conflicts_with_all = ["apihost", "auth", "embedded", "platform_config", "namespace"],
        help_heading = "Platform"
    )]
    pub target_file: Option<PathBuf>,
}

/// What to do with an invocation that is due while --max-in-flight are outstanding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOverload {
    /// Record it as `shed` and move on: the schedule stays open loop.
    Shed,
    /// Send it as soon as a slot frees: the delay shows up as lateness.
    Delay,
}

/// `gale inject` arguments.
#[derive(Debug, Clone, Args)]
pub struct InjectArgs {
    /// Trace to replay: a .yaml/.yml or .csv file, or a FaaSLoad trace directory.
    pub trace: PathBuf,
    #[command(flatten)]
    pub target: TargetArgs,

    /// Result directory (default: results/<timestamp>-<trace name>).
    #[arg(long, short, value_name = "DIR", help_heading = "Output")]
    pub out: Option<PathBuf>,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long, help_heading = "Output")]
    pub no_progress: bool,
    /// Do not print the summary table.
    #[arg(long, short, help_heading = "Output")]
    pub quiet: bool,
    /// A threshold the run must meet, as `gale report --check` takes it, e.g.
    /// 'completion.p99 < 300ms', 'error_rate <= 1%' (repeatable); broken: exit code 3.
    #[arg(long = "check", value_name = "EXPR", help_heading = "Output")]
    pub checks: Vec<String>,
    /// Do not draw the default plots (SVG and PNG in <out>/plots/) at the end of the run.
    #[arg(long, help_heading = "Output")]
    pub no_plots: bool,
    /// Join every record with `gale monitor`'s measurement of its activation (cpu_ms,
    /// mem_peak_bytes, mem_mean_bytes…), queried on this socket. Needs activation records
    /// that name their container (gale's platform: `gale.container`). Without it, when the
    /// embedded platform runs containers in cgroups (as root), a monitor runs in-process.
    #[arg(long, value_name = "SOCKET", help_heading = "Output")]
    pub monitor: Option<PathBuf>,
    /// No resource measurements, not even the in-process monitor.
    #[arg(long, conflicts_with = "monitor", help_heading = "Output")]
    pub no_monitor: bool,
    /// Sampling period of the in-process monitor, 1ms to 1s (a `gale monitor` daemon has
    /// its own --period).
    #[arg(long, value_name = "D", default_value = "10ms", value_parser = parse_sample_period,
          conflicts_with_all = ["monitor", "no_monitor"], help_heading = "Output")]
    pub monitor_period: Duration,

    /// Seed for arrival specifications (overrides the trace's).
    #[arg(long, help_heading = "Schedule")]
    pub seed: Option<u64>,
    /// Time scaling: 2 replays twice as fast, 0.5 half as fast.
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed, help_heading = "Schedule")]
    pub speed: f64,
    /// Stop scheduling after this much (scaled) time, e.g. 30s, 5m.
    #[arg(long, value_parser = parse_positive_duration, help_heading = "Schedule")]
    pub duration: Option<Duration>,
    /// Stop after this many invocations.
    #[arg(long, help_heading = "Schedule")]
    pub max_invocations: Option<u64>,
    /// Closed loop: N users, each sending the next row as soon as its previous reply came.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Schedule")]
    pub closed_loop: Option<u32>,
    /// Busy-poll for the last N µs before each instant instead of sleeping: more precise,
    /// more CPU (above 1 000 000/N invocations per second the dispatching thread never
    /// sleeps and keeps a core busy). 0: sleep only (wake-ups then come 20–80 µs late).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 50,
        help_heading = "Schedule"
    )]
    pub spin_us: u32,
    /// Blocking invocations for every row (default: as the trace says, else non-blocking).
    #[arg(long, conflicts_with = "non_blocking", help_heading = "Schedule")]
    pub blocking: bool,
    /// Non-blocking invocations for every row.
    #[arg(long, help_heading = "Schedule")]
    pub non_blocking: bool,
    /// Make every invocation a cold start, as SeBS does: just before each one is sent, its
    /// action is updated (GET, then PUT ?overwrite=true with a new `gale-cold` annotation),
    /// so no warm container matches. Each activation's initTime tells whether it was cold:
    /// <out>/cold-updates.csv lists the updates, their latency and the invocations that
    /// were warm nonetheless. Meant for invocations one at a time; not on --target.
    #[arg(long, help_heading = "Schedule", conflicts_with = "target_file")]
    pub force_cold: bool,
    /// Send only shard K of N (K from 0, as a Kubernetes Indexed Job's completion index):
    /// the rows whose function (or user, --shard-by user) hashes to K. Every function's rows
    /// stay on one shard and keep their row ids, so `gale report` merges the shards' result
    /// directories into the whole run. Give every shard the same --start-at.
    #[arg(long, value_name = "K/N", value_parser = crate::trace::shard::Shard::parse, help_heading = "Schedule")]
    pub shard: Option<(u32, u32)>,
    /// What decides a row's shard: function or user.
    #[arg(long, value_name = "KEY", default_value = "function", value_parser = shard_by,
          requires = "shard", help_heading = "Schedule")]
    pub shard_by: crate::trace::shard::ShardBy,
    /// Start the trace's clock at this wall-clock instant (RFC 3339, e.g.
    /// 2026-12-06T10:00:00Z) instead of just after set-up, so that shards on several hosts
    /// share one time zero (their clocks synchronised, e.g. by NTP).
    #[arg(long, value_name = "RFC3339", value_parser = crate::timefmt::parse_rfc3339,
          conflicts_with = "closed_loop", help_heading = "Schedule")]
    pub start_at: Option<std::time::SystemTime>,

    /// Most invocations outstanding at once.
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Limits")]
    pub max_in_flight: u32,
    /// What to do with an invocation due while --max-in-flight are outstanding.
    #[arg(long, value_enum, default_value_t = OnOverload::Shed, help_heading = "Limits")]
    pub on_overload: OnOverload,
    /// HTTP connections to the platform (keep-alive pool size).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Limits")]
    pub connections: u32,
    /// Timeout of one invoke request.
    #[arg(long, default_value = "75s", value_parser = parse_positive_duration, help_heading = "Limits")]
    pub request_timeout: Duration,
    /// Activation records fetched in parallel after non-blocking invocations.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..), help_heading = "Limits")]
    pub fetch_concurrency: u32,
    /// Give up fetching an activation record after this long.
    #[arg(long, default_value = "120s", value_parser = parse_positive_duration, help_heading = "Limits")]
    pub fetch_timeout: Duration,
    /// On SIGINT/SIGTERM, wait this long for in-flight replies before writing the results.
    #[arg(long, default_value = "10s", value_parser = parse_duration, help_heading = "Limits")]
    pub drain_timeout: Duration,
}

/// `gale simulate` arguments.
#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    /// Trace: a .yaml/.yml or .csv file, or a FaaSLoad trace directory.
    pub trace: PathBuf,
    /// Platform settings (config/platform.yml's format): nodes, policies, keep-alive, ….
    #[arg(long, value_name = "FILE")]
    pub platform_config: Option<PathBuf>,
    /// Modelled durations per function (docs/simulate.md); its entries win over
    /// --profile-from's.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Fit per-function cold-start and run-time distributions from a gale result
    /// directory's invocations.csv (e.g. a short `gale inject` on the embedded platform).
    #[arg(long, value_name = "DIR")]
    pub profile_from: Option<PathBuf>,
    /// Timed FaaS-system operations: deploy, remove, scale_up, scale_down, suspend.
    #[arg(long, value_name = "FILE")]
    pub operations: Option<PathBuf>,
    /// Seed of arrival specifications, placement and every modelled duration (default: the
    /// trace's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Result directory (default: results/<timestamp>-<trace name>).
    #[arg(long, short, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Node utilisation samples (nodes.csv) every this much virtual time; 0 for none.
    #[arg(long, value_name = "D", default_value = "10s", value_parser = parse_duration)]
    pub sample_period: Duration,
    /// Do not write invocations.csv (the summary still counts every invocation; no plots).
    #[arg(long)]
    pub no_invocations: bool,
    /// Do not draw the default plots (SVG and PNG in <out>/plots/; a sweep's comparison in
    /// <out>/plots/ and each point's in its own directory).
    #[arg(long)]
    pub no_plots: bool,
    /// Run a grid: every combination of the values of every --sweep (KEY=V1,V2,…; keys:
    /// placement, balance, warming, eviction, keepalive.idle_timeout,
    /// keepalive.pause_grace, seed, nodes, node.memory, node.cpus, prewarm.count,
    /// prewarm.memory), one directory per point under --out, then sweep.csv,
    /// report.txt (`gale report` of the points against the first) and plots/.
    #[arg(long, value_name = "KEY=V1,V2", value_parser = sweep_axis)]
    pub sweep: Vec<crate::sim::sweep::Axis>,
    /// Threads running sweep points (default: every core). Results do not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Simulate only shard K of N (K from 0) of the trace: the rows whose function (or
    /// user, --shard-by user) hashes to K, as `gale inject --shard` splits it. Each shard
    /// models the whole platform for its rows; run.yaml names the shard and `gale report`
    /// merges the shards' directories into one run.
    #[arg(long, value_name = "K/N", value_parser = crate::trace::shard::Shard::parse)]
    pub shard: Option<(u32, u32)>,
    /// What decides a row's shard: function or user.
    #[arg(long, value_name = "KEY", default_value = "function", value_parser = shard_by,
          requires = "shard")]
    pub shard_by: crate::trace::shard::ShardBy,
    /// Do not print the summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// `gale generate` arguments.
#[derive(Debug, Clone, Args)]
pub struct GenerateArgs {
    /// Generator config (YAML); see docs/generator.md and config/generator.yml.
    pub config: PathBuf,
    #[command(flatten)]
    pub target: TargetArgs,

    /// Output directory (default: datasets/<config file name>). A new run needs it absent
    /// or empty.
    #[arg(long, short, value_name = "DIR", help_heading = "Output")]
    pub out: Option<PathBuf>,
    /// Write the monitor's raw resource samples of each run to DIR/samples.csv, keyed by
    /// run_id (needs a monitor; checkpointed and resumed with the dataset).
    #[arg(long, help_heading = "Output")]
    pub samples: bool,
    /// Measure each run with `gale monitor` on this socket (cpu_ms, mem_peak_bytes,
    /// mem_mean_bytes and exactness columns). Without it, when the embedded platform runs
    /// containers in cgroups (as root), a monitor runs in-process.
    #[arg(long, value_name = "SOCKET", help_heading = "Output")]
    pub monitor: Option<PathBuf>,
    /// No resource measurements, not even the in-process monitor.
    #[arg(long, conflicts_with = "monitor", help_heading = "Output")]
    pub no_monitor: bool,
    /// Sampling period of the in-process monitor, 1ms to 1s. The default is shorter than
    /// inject's: runs go one at a time (few containers to sample), and each row waits for
    /// the sample that closes its window.
    #[arg(long, value_name = "D", default_value = "2ms", value_parser = parse_sample_period,
          conflicts_with_all = ["monitor", "no_monitor"], help_heading = "Output")]
    pub monitor_period: Duration,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long, help_heading = "Output")]
    pub no_progress: bool,
    /// Do not draw the default plots (SVG and PNG in <out>/plots/) at the end of the run.
    #[arg(long, help_heading = "Output")]
    pub no_plots: bool,

    /// Continue the run in DIR from its checkpoint (refused if it belongs to another config
    /// or seed); start a new run when DIR has no checkpoint.
    #[arg(long, help_heading = "Checkpoint")]
    pub resume: bool,
    /// Checkpoint every N rows (0: by time, signals and the end only).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 100,
        help_heading = "Checkpoint"
    )]
    pub checkpoint_every: u64,
    /// Checkpoint at least this often, e.g. 30s, 5m.
    #[arg(long, value_name = "D", default_value = "30s", value_parser = parse_duration, help_heading = "Checkpoint")]
    pub checkpoint_interval: Duration,

    /// Seed of every draw (overrides the config's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Timeout of one invocation (and of fetching its record when the platform answers 202).
    #[arg(long, default_value = "75s", value_parser = parse_positive_duration, help_heading = "Limits")]
    pub request_timeout: Duration,
}

/// `gale platform` arguments.
#[derive(Debug, Clone, Args)]
pub struct PlatformArgs {
    /// Settings file: nodes, policies, warming, keep-alive, prewarm, autoscaling, limits,
    /// keys (see config/platform.yml and docs/platform.md). Flags override it.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on (port 0: a free port, printed at start) [default: 127.0.0.1:3233].
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Node selection: round-robin, least-used-memory, least-used-cpu, most-used-memory,
    /// most-used-cpu, random, home-invoker (default; OpenWhisk's).
    #[arg(long, value_name = "POLICY", value_parser = placement_policy)]
    pub placement: Option<crate::model::placement::Policy>,
    /// Container warming: cold (a fresh container per invocation), prewarm (stem cells),
    /// warm (keep-alive; default).
    #[arg(long, value_name = "STRATEGY", value_parser = warming)]
    pub warming: Option<crate::model::Warming>,
    /// Key of the `guest` namespace, UUID:KEY (default: OpenWhisk standalone's guest key).
    #[arg(long, value_name = "UUID:KEY")]
    pub auth: Option<String>,
    /// Longest wait of a blocking invoke before it answers 202 [default: 60s, OpenWhisk's].
    #[arg(long, value_parser = parse_duration)]
    pub max_blocking_wait: Option<Duration>,
    /// Per-namespace invocations per minute, answered 429 beyond (OpenWhisk deploys 60).
    #[arg(long)]
    pub invocations_per_minute: Option<u32>,
    /// Per-namespace concurrent invocations, answered 429 beyond (OpenWhisk deploys 30).
    #[arg(long)]
    pub concurrent_invocations: Option<u32>,
    /// Stream container lifecycle events (started, paused, resumed, removed, with cgroup
    /// paths) as JSON lines on this UNIX socket (mode 0660), e.g. for `gale monitor`:
    ///   gale platform --events /run/gale/events.sock
    #[arg(long, value_name = "PATH")]
    pub events: Option<PathBuf>,
    /// Run containers without cgroups even when the host allows them (no memory limits;
    /// pausing by SIGSTOP). By default, as root, each container gets its own cgroup.
    #[arg(long)]
    pub no_cgroups: bool,
}

/// `gale fn` arguments.
#[derive(Debug, Clone, Args)]
pub struct FnArgs {
    /// The operation.
    #[command(subcommand)]
    pub op: FnOp,
    /// API host of the gale platform (default: ~/.wskprops APIHOST, else
    /// http://127.0.0.1:3233, where `gale platform` listens by default).
    #[arg(long, value_name = "URL", global = true)]
    pub apihost: Option<String>,
    /// Authorization key UUID:KEY (default: ~/.wskprops AUTH, else the guest key).
    #[arg(long, value_name = "UUID:KEY", global = true)]
    pub auth: Option<String>,
    /// Accept self-signed TLS certificates.
    #[arg(long, short = 'i', global = true)]
    pub insecure: bool,
}

/// `gale fn` operations.
#[derive(Debug, Clone, Subcommand)]
pub enum FnOp {
    /// Nodes: memory capacity and reserved, running activations, containers.
    Nodes,
    /// Every live container and its state.
    Containers,
    /// The replicas of an action and their states.
    Discover {
        /// Action name.
        action: String,
    },
    /// Start or remove replicas of an action.
    Scale {
        /// Action name.
        action: String,
        /// Start this many more replicas (placed, initialised, left warm).
        #[arg(long, conflicts_with = "down", required_unless_present = "down")]
        up: Option<u32>,
        /// Remove this many replicas (idle first; busy ones when they finish).
        #[arg(long)]
        down: Option<u32>,
    },
    /// Remove every replica of an action but keep it deployed (next start is cold).
    Suspend {
        /// Action name.
        action: String,
    },
}

/// `gale monitor` arguments.
#[derive(Debug, Clone, Args)]
pub struct MonitorArgs {
    /// Socket to answer queries on, mode 0660 (default: /run/gale/monitor.sock for root,
    /// else $XDG_RUNTIME_DIR/gale/monitor.sock).
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Sampling period of memory usage, CPU time and watermark, 1ms to 1s. CPU counters
    /// advance at scheduler ticks (4 ms at HZ=250): shorter periods sharpen memory, not CPU.
    #[arg(long, default_value = "10ms", value_parser = parse_sample_period)]
    pub period: Duration,
    /// Period of the memory.stat read (anon, file, inactive_file → working set) per container.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub slow_period: Duration,
    /// How long samples are kept (memory: 40 bytes per sample per container).
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    pub history: Duration,
    /// Follow the embedded platform's container lifecycle events on this socket
    /// (`gale platform --events PATH`); reconnects when the platform restarts.
    #[arg(long, value_name = "SOCKET", help_heading = "Containers")]
    pub events: Option<PathBuf>,
    /// Discover Docker containers by their cgroup directories (`docker/<id>` and
    /// `system.slice/docker-<id>.scope`), as beside an OpenWhisk invoker.
    #[arg(long, help_heading = "Containers")]
    pub docker: bool,
    /// Parent directory of Docker-style container cgroups, inside each hierarchy (repeatable).
    #[arg(
        long = "docker-root",
        value_name = "DIR",
        default_values = ["docker", "system.slice"],
        help_heading = "Containers"
    )]
    pub docker_roots: Vec<String>,
    /// Full rescan period of the Docker-style directories (inotify sees changes at once).
    #[arg(long, default_value = "5s", value_parser = parse_duration, help_heading = "Containers")]
    pub rescan: Duration,
    /// Sample this cgroup: a directory under a cgroup mount or a path inside the
    /// hierarchies, optionally named `ID=PATH` (repeatable).
    #[arg(long = "cgroup", value_name = "[ID=]PATH", help_heading = "Containers")]
    pub cgroups: Vec<String>,
    /// Let socket clients `watch` cgroup directories below DIR (repeatable); without it the
    /// socket's `watch` accepts no cgroup.
    #[arg(long = "watch-root", value_name = "DIR", help_heading = "Containers")]
    pub watch_roots: Vec<PathBuf>,
    /// Write every raw sample to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
    /// Never reset v1 memory.max_usage_in_bytes (window peaks then come from samples only).
    #[arg(long)]
    pub no_peak_reset: bool,
}

/// `gale trace …`.
#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Validate a trace and print what it holds (functions, users, rows, span).
    Check {
        /// The trace (YAML, CSV or FaaSLoad directory).
        trace: PathBuf,
        /// Seed for arrival specifications.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Expand a trace into gale's CSV row format (streamed), e.g. to freeze arrivals.
    Convert {
        /// The trace (YAML, CSV or FaaSLoad directory).
        trace: PathBuf,
        /// Output: NAME.yaml (the whole workload: declarations, and rows in NAME.csv
        /// beside it), a CSV file (rows only), or `-` (CSV rows on standard output).
        #[arg(long, short)]
        out: PathBuf,
        /// Seed for arrival specifications.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Import a public trace's raw files into a gale trace (NAME.yaml + NAME.csv), streamed.
    ///
    /// FORMAT is azure2019 (per-minute counts, duration and memory percentiles: the
    /// release's dNN files or In-Vitro's invocations/durations/memory.csv), azure2021
    /// (app,func,end_timestamp,duration), huawei2023 (requests_second/ or requests_minute/
    /// day tables, function_delay beside them) or faasrail (a spec CSV). INPUT is a file or
    /// a directory holding them. Per-minute counts become arrivals within each minute as the
    /// In-Vitro loader draws them; durations and memory are drawn from the percentile bands.
    /// A summary (functions, rows, span, rate) is printed at the end.
    ///
    /// Examples:
    ///   gale trace import azure2019 azurefunctions-dataset2019/ --days 1 --minutes 540-689 --out az.yaml
    ///   gale trace import azure2021 AzureFunctionsInvocationTraceForTwoWeeksJan2021.txt --out a21.yaml
    ///   gale trace import huawei2023 datasets/private_dataset --days 1 --out hw.yaml
    ///   gale trace import faasrail azure_spec_15rps_5min.csv --iat equidistant --out fr.yaml
    #[command(verbatim_doc_comment)]
    Import(ImportArgs),
    /// Make a smaller trace: the top N functions, or a sample of N that keeps the
    /// distributions of per-function rates and durations; time compression; rate scaling.
    ///
    /// The sample is the first N of one seeded greedy order (each step adds, among --trials
    /// candidates, the function that brings the sample's distributions closest to the whole
    /// trace's in Wasserstein distance), so a smaller sample is a subset of a larger one.
    ///
    /// Examples:
    ///   gale trace shrink az.yaml --sample 200 --out az200.yaml
    ///   gale trace shrink az.yaml --top 50 --compress 10 --scale 0.5 --out quick.yaml
    #[command(verbatim_doc_comment)]
    Shrink {
        /// The trace (any kind `gale trace check` reads).
        trace: PathBuf,
        /// Output: NAME.yaml, its rows in NAME.csv beside it.
        #[arg(long, short, value_name = "NAME.yaml")]
        out: PathBuf,
        /// Keep the N functions with the most rows.
        #[arg(long, value_name = "N", conflicts_with = "sample")]
        top: Option<usize>,
        /// Keep a representative sample of N functions.
        #[arg(long, value_name = "N")]
        sample: Option<usize>,
        /// Candidates tried per step of the sample.
        #[arg(long, default_value_t = 16, requires = "sample")]
        trials: usize,
        /// Seed of the sample and of --scale's thinning.
        #[arg(long, default_value_t = 0)]
        sample_seed: u64,
        /// Divide every time by F (2: the trace runs in half the time, at twice the rate).
        #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = parse_factor)]
        compress: f64,
        /// Multiply the rate by R: below 1 rows are thinned at random (seeded), above 1 each
        /// row is sent ⌊R⌋ or ⌈R⌉ times at its instant.
        #[arg(long, value_name = "R", default_value_t = 1.0, value_parser = parse_factor)]
        scale: f64,
        /// Seed for arrival specifications.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Show a trace's arrivals: per-function rates and inter-arrival statistics (mean, CV,
    /// burstiness), the rate over time as a sparkline, and with --plot as a figure.
    ///
    /// Examples:
    ///   gale trace inspect traces/profiles/sine.yaml
    ///   gale trace inspect az.yaml --top 50 --plot az-rate      # az-rate.svg, az-rate.png
    #[command(verbatim_doc_comment)]
    Inspect {
        /// The trace (any kind `gale trace check` reads).
        trace: PathBuf,
        /// Seed for arrival specifications.
        #[arg(long)]
        seed: Option<u64>,
        /// Functions listed, busiest first.
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// Also draw the rate over time to PATH.svg and PATH.png.
        #[arg(long, value_name = "PATH")]
        plot: Option<PathBuf>,
    },
}

/// `gale trace import`'s arguments.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The format: azure2019, azure2021, huawei2023 or faasrail.
    #[arg(value_parser = import_format)]
    pub format: crate::trace::import::Format,
    /// The release's files, or directories holding them.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Output: NAME.yaml (functions declared) with its rows in NAME.csv beside it.
    #[arg(long, short, value_name = "NAME.yaml")]
    pub out: PathBuf,
    /// Seed of the arrivals within each minute and of the durations and memory drawn.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Law of the gaps between a minute's invocations: exponential (Poisson given the
    /// count), uniform, or equidistant.
    #[arg(long, default_value = "exponential", value_parser = import_iat)]
    pub iat: crate::trace::import::Iat,
    /// Start every minute's first invocation at :00 (In-Vitro without `_shift`): a burst
    /// of every function at once, each minute.
    #[arg(long)]
    pub no_shift: bool,
    /// Days to import, FIRST-LAST or one day, counted from 1.
    #[arg(long, value_name = "A-B", value_parser = parse_range)]
    pub days: Option<(u32, u32)>,
    /// Minutes of each day to import, FIRST-LAST (1 to 1440), as Azure 2019 numbers them;
    /// time 0 is the first minute kept.
    #[arg(long, value_name = "A-B", value_parser = parse_range)]
    pub minutes: Option<(u32, u32)>,
    /// Keep the anonymised hashes whole in function and user names (default: 8-character
    /// prefixes, lengthened only where two would collide).
    #[arg(long)]
    pub keep_names: bool,
    /// Spend each invocation's duration sleeping (sleep_ms) instead of burning CPU (cpu_ms).
    #[arg(long)]
    pub sleep: bool,
}

/// A positive, finite factor (at most a million).
fn parse_factor(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1e6 => Ok(v),
        _ => Err(format!(
            "expected a number above 0 (at most 1000000), got `{s}`"
        )),
    }
}

fn shard_by(s: &str) -> Result<crate::trace::shard::ShardBy, String> {
    use crate::trace::shard::ShardBy;
    one_of(s, ShardBy::parse, &["function", "user"])
}

fn import_format(s: &str) -> Result<crate::trace::import::Format, String> {
    use crate::trace::import::Format;
    one_of(s, Format::parse, &Format::ALL.map(|f| f.name()))
}

fn import_iat(s: &str) -> Result<crate::trace::import::Iat, String> {
    use crate::trace::import::Iat;
    one_of(s, Iat::parse, &Iat::ALL.map(|i| i.name()))
}

/// `A-B` or `A`: an inclusive range of whole numbers from 1.
pub fn parse_range(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("expected FIRST-LAST (e.g. 540-689) or one number, from 1 up, got `{s}`");
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (s.trim(), s.trim()),
    };
    let (a, b): (u32, u32) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if a == 0 || a > b {
        return Err(bad());
    }
    Ok((a, b))
}

/// A value among `all`, read by `parse`.
fn one_of<T>(s: &str, parse: fn(&str) -> Option<T>, all: &[&str]) -> Result<T, String> {
    parse(s).ok_or_else(|| format!("expected one of: {}", all.join(", ")))
}

fn placement_policy(s: &str) -> Result<crate::model::placement::Policy, String> {
    use crate::model::placement::Policy;
    one_of(s, Policy::parse, &Policy::ALL.map(|p| p.name()))
}

fn sweep_axis(s: &str) -> Result<crate::sim::sweep::Axis, String> {
    crate::sim::sweep::parse_axis(s)
}

fn warming(s: &str) -> Result<crate::model::Warming, String> {
    use crate::model::Warming;
    one_of(s, Warming::parse, &Warming::ALL.map(|w| w.name()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
