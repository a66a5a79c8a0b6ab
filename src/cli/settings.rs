//! From the command line's arguments to each room's settings: the only place that knows
//! both. Parsing that can fail here (a `--check` expression) fails as bad input (exit 2).

use crate::cli::{
    ExperimentArgs, FnArgs, FnOp, GenerateArgs, ImportArgs, InjectArgs, MonitorArgs, OnOverload,
    PlatformArgs, ReportArgs, ReportFormat, TargetArgs, TraceCommand,
};
use crate::config::platform_file::PlatformFlags;
use crate::config::target::TargetFlags;
use crate::inject::engine::OverloadPolicy;
use crate::monitor::run::DaemonSettings;
use crate::platform::admin_cli::{AdminOp, AdminSettings};
use crate::report::analysis::{Format, ReportSettings};
use crate::report::check::{Check, CheckError};

impl From<TargetArgs> for TargetFlags {
    fn from(a: TargetArgs) -> Self {
        TargetFlags {
            apihost: a.apihost,
            auth: a.auth,
            insecure: a.insecure,
            namespace: a.namespace,
            embedded: a.embedded,
            platform_config: a.platform_config,
            target_file: a.target_file,
        }
    }
}

fn checks(texts: &[String]) -> Result<Vec<Check>, CheckError> {
    texts.iter().map(|c| Check::parse(c)).collect()
}

impl InjectArgs {
    /// `gale inject`'s settings; a `--check` that does not parse is an error.
    pub fn into_settings(self) -> Result<crate::inject::Settings, CheckError> {
        Ok(crate::inject::Settings {
            checks: checks(&self.checks)?,
            trace: self.trace,
            target: self.target.into(),
            out: self.out,
            no_progress: self.no_progress,
            quiet: self.quiet,
            no_plots: self.no_plots,
            monitor: self.monitor,
            no_monitor: self.no_monitor,
            monitor_period: self.monitor_period,
            seed: self.seed,
            speed: self.speed,
            duration: self.duration,
            max_invocations: self.max_invocations,
            closed_loop: self.closed_loop,
            spin: std::time::Duration::from_micros(self.spin_us.into()),
            blocking_override: match (self.blocking, self.non_blocking) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            max_in_flight: self.max_in_flight,
            on_overload: match self.on_overload {
                OnOverload::Shed => OverloadPolicy::Shed,
                OnOverload::Delay => OverloadPolicy::Delay,
            },
            connections: self.connections,
            request_timeout: self.request_timeout,
            fetch_concurrency: self.fetch_concurrency,
            fetch_timeout: self.fetch_timeout,
            drain_timeout: self.drain_timeout,
            shard: self.shard,
            shard_by: self.shard_by,
            start_at: self.start_at,
            platform_settings: Vec::new(),
            force_cold: self.force_cold,
        })
    }
}

impl From<ExperimentArgs> for crate::experiment::Settings {
    fn from(a: ExperimentArgs) -> Self {
        crate::experiment::Settings {
            source: match (a.preset, a.file) {
                (Some(name), _) => crate::experiment::Source::Preset(name),
                (None, file) => crate::experiment::Source::File(file.unwrap_or_default()),
            },
            scale: a.scale,
            out: a.out,
            resume: a.resume,
            print: a.print,
            target: a.target.into(),
            quiet: a.quiet,
            no_plots: a.no_plots,
        }
    }
}

impl From<GenerateArgs> for crate::generate::Settings {
    fn from(a: GenerateArgs) -> Self {
        crate::generate::Settings {
            config: a.config,
            target: a.target.into(),
            out: a.out,
            samples: a.samples,
            monitor: a.monitor,
            no_monitor: a.no_monitor,
            monitor_period: a.monitor_period,
            no_progress: a.no_progress,
            no_plots: a.no_plots,
            resume: a.resume,
            checkpoint_every: a.checkpoint_every,
            checkpoint_interval: a.checkpoint_interval,
            seed: a.seed,
            request_timeout: a.request_timeout,
        }
    }
}

impl PlatformArgs {
    /// The flags that override the settings file (`--config`, returned apart).
    pub fn into_flags(self) -> (Option<std::path::PathBuf>, PlatformFlags) {
        (
            self.config,
            PlatformFlags {
                listen: self.listen,
                auth: self.auth,
                placement: self.placement,
                warming: self.warming,
                max_blocking_wait: self.max_blocking_wait,
                invocations_per_minute: self.invocations_per_minute,
                concurrent_invocations: self.concurrent_invocations,
                events: self.events,
                no_cgroups: self.no_cgroups,
            },
        )
    }
}

impl From<MonitorArgs> for DaemonSettings {
    fn from(a: MonitorArgs) -> Self {
        DaemonSettings {
            socket: a.socket,
            period: a.period,
            slow_period: a.slow_period,
            history: a.history,
            events: a.events,
            docker: a.docker,
            docker_roots: a.docker_roots,
            rescan: a.rescan,
            cgroups: a.cgroups,
            csv: a.csv,
            no_peak_reset: a.no_peak_reset,
            watch_roots: a.watch_roots,
        }
    }
}

impl From<FnArgs> for AdminSettings {
    fn from(a: FnArgs) -> Self {
        AdminSettings {
            op: match a.op {
                FnOp::Nodes => AdminOp::Nodes,
                FnOp::Containers => AdminOp::Containers,
                FnOp::Discover { action } => AdminOp::Discover { action },
                FnOp::Scale { action, up, down } => AdminOp::Scale { action, up, down },
                FnOp::Suspend { action } => AdminOp::Suspend { action },
            },
            apihost: a.apihost,
            auth: a.auth,
            insecure: a.insecure,
        }
    }
}

impl ReportArgs {
    /// `gale report`'s settings; a `--check` that does not parse is an error.
    pub fn into_settings(self) -> Result<ReportSettings, CheckError> {
        Ok(ReportSettings {
            checks: checks(&self.checks)?,
            inputs: self.dirs,
            by: self.by,
            confidence: self.confidence,
            format: match self.format {
                ReportFormat::Table => Format::Table,
                ReportFormat::Markdown => Format::Markdown,
                ReportFormat::Json => Format::Json,
                ReportFormat::Csv => Format::Csv,
            },
            merge: self.merge,
            plots: self.out,
        })
    }
}

impl From<ImportArgs> for crate::trace::ImportSettings {
    fn from(a: ImportArgs) -> Self {
        use crate::trace::import::{ImportOptions, NameMode, Work};
        crate::trace::ImportSettings {
            format: a.format,
            inputs: a.inputs,
            options: ImportOptions {
                seed: a.seed,
                iat: a.iat,
                shift: !a.no_shift,
                days: a.days,
                minutes: a.minutes,
                names: if a.keep_names {
                    NameMode::Keep
                } else {
                    NameMode::Short
                },
                work: if a.sleep { Work::Sleep } else { Work::Cpu },
            },
            out: a.out,
        }
    }
}

impl TraceCommand {
    /// `gale trace shrink`'s settings.
    ///
    /// # Panics
    /// When called on another subcommand (the caller matches `Shrink` first).
    pub fn shrink_settings(self) -> crate::trace::ShrinkSettings {
        match self {
            TraceCommand::Shrink {
                trace,
                out,
                top,
                sample,
                trials,
                sample_seed,
                compress,
                scale,
                seed,
            } => crate::trace::ShrinkSettings {
                trace,
                out,
                top,
                sample,
                trials,
                sample_seed,
                compress,
                scale,
                seed,
            },
            other => unreachable!("shrink settings of {other:?}"),
        }
    }

    /// `gale trace inspect`'s settings.
    ///
    /// # Panics
    /// When called on another subcommand (the caller matches `Inspect` first).
    pub fn inspect_settings(self) -> crate::trace::InspectSettings {
        match self {
            TraceCommand::Inspect {
                trace,
                seed,
                top,
                plot,
            } => crate::trace::InspectSettings {
                trace,
                seed,
                top,
                plot,
            },
            other => unreachable!("inspect settings of {other:?}"),
        }
    }
}
