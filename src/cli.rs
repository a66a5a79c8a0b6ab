//! Command-line definitions (clap) only: no behaviour lives here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// Examples:
    ///   gale inject traces/demo.yaml
    ///   gale inject trace.csv --speed 2 --max-invocations 10000
    ///   gale inject traces/faasload/ --apihost https://whisk.example:443 --auth UUID:KEY
    ///   gale inject traces/demo.yaml --closed-loop 32 --duration 20s
    #[command(verbatim_doc_comment)]
    Inject(InjectArgs),
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
    /// Internal: the action process the embedded platform starts (ActionLoop protocol).
    #[command(name = "__runtime", hide = true)]
    Runtime {
        /// Runtime kind, e.g. gale:synthetic.
        kind: String,
    },
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
}

/// What to do with an invocation that is due while --max-in-flight are outstanding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OverloadPolicy {
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

    /// Seed for arrival specifications (overrides the trace's).
    #[arg(long, help_heading = "Schedule")]
    pub seed: Option<u64>,
    /// Time scaling: 2 replays twice as fast, 0.5 half as fast.
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed, help_heading = "Schedule")]
    pub speed: f64,
    /// Stop scheduling after this much (scaled) time, e.g. 30s, 5m.
    #[arg(long, value_parser = parse_duration, help_heading = "Schedule")]
    pub duration: Option<Duration>,
    /// Stop after this many invocations.
    #[arg(long, help_heading = "Schedule")]
    pub max_invocations: Option<u64>,
    /// Closed loop: N users, each sending the next row as soon as its previous reply came.
    #[arg(long, value_name = "N", help_heading = "Schedule")]
    pub closed_loop: Option<u32>,
    /// Spin for the last N µs before each instant instead of sleeping (at most a quarter of
    /// the gap between instants): more precise, more CPU. 0: sleep only (wake-ups then come
    /// 20–80 µs late on an idle machine).
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

    /// Most invocations outstanding at once.
    #[arg(long, default_value_t = 4096, help_heading = "Limits")]
    pub max_in_flight: u32,
    /// What to do with an invocation due while --max-in-flight are outstanding.
    #[arg(long, value_enum, default_value_t = OverloadPolicy::Shed, help_heading = "Limits")]
    pub on_overload: OverloadPolicy,
    /// HTTP connections to the platform (keep-alive pool size).
    #[arg(long, default_value_t = 256, help_heading = "Limits")]
    pub connections: u32,
    /// Timeout of one invoke request.
    #[arg(long, default_value = "75s", value_parser = parse_duration, help_heading = "Limits")]
    pub request_timeout: Duration,
    /// Activation records fetched in parallel after non-blocking invocations.
    #[arg(long, default_value_t = 16, help_heading = "Limits")]
    pub fetch_concurrency: u32,
    /// Give up fetching an activation record after this long.
    #[arg(long, default_value = "120s", value_parser = parse_duration, help_heading = "Limits")]
    pub fetch_timeout: Duration,
    /// On SIGINT/SIGTERM, wait this long for in-flight replies before writing the results.
    #[arg(long, default_value = "10s", value_parser = parse_duration, help_heading = "Limits")]
    pub drain_timeout: Duration,
}

/// `gale platform` arguments.
#[derive(Debug, Clone, Args)]
pub struct PlatformArgs {
    /// Address to listen on (port 0: a free port, printed at start).
    #[arg(long, default_value = "127.0.0.1:3233")]
    pub listen: SocketAddr,
    /// Key of the `guest` namespace, UUID:KEY (default: OpenWhisk standalone's guest key).
    #[arg(long, value_name = "UUID:KEY")]
    pub auth: Option<String>,
    /// Longest wait of a blocking invoke before it answers 202 (OpenWhisk: 60s).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub max_blocking_wait: Duration,
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
        /// Output CSV file (`-` for standard output).
        #[arg(long, short)]
        out: PathBuf,
        /// Seed for arrival specifications.
        #[arg(long)]
        seed: Option<u64>,
    },
}

fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "expected a positive number such as 2 or 0.5, got `{s}`"
        )),
    }
}

/// Parse `1.5s`, `250ms`, `10us`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("expected a duration such as 30s, 250ms or 2m, got `{s}`"))?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "ns" => 1e-9,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{s}` (use ns, us, ms, s, m or h)"
            ))
        }
    };
    let secs = value * scale;
    if !secs.is_finite() || !(0.0..=1e12).contains(&secs) {
        return Err(format!("duration `{s}` is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }
}
