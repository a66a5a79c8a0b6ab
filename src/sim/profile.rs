//! What each function costs in virtual time: its container start (the cold start), the
//! injection of its code (init), a resume from pause, and its run. Resolved per function
//! from, in order: the profile file's entry for it, the profile's `defaults`, and the
//! built-ins (the literature's cold start, the synthetic kind's own parameters).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::dist::{ms_to_ns, Dist};
use crate::config::ConfigError;
use crate::trace::input::Input;
use crate::trace::yaml_de::from_saphyr;

/// The cold start when nothing is measured: Azure's in Wang et al., "Peeking Behind the
/// Curtains of Serverless Platforms" (ATC'18), mean 242.66 ms, sd 340.67 ms, drawn
/// log-normal (a skewed, positive distribution with those moments).
pub const LITERATURE_START: Dist = Dist::Lognormal {
    mean_ms: 242.66,
    sd_ms: 340.67,
};

/// The phases of one function (or the defaults of all): any may be left out.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phases {
    /// Container start, from the start command to a running process.
    pub start: Option<Dist>,
    /// Code injection into a started container.
    pub init: Option<Dist>,
    /// Thawing a paused container before a run.
    pub resume: Option<Dist>,
    /// One run on an idle node.
    pub run: Option<Dist>,
    /// Share of `run` that needs a core (the rest waits without one, e.g. on I/O); 1 when
    /// left out.
    pub cpu_share: Option<f64>,
}

/// A profile file (`gale simulate --profile`), or one fitted by `--profile-from`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// From an invocation's scheduled instant until the platform starts handling it (the
    /// injector, HTTP and the API path on a measured platform); none when left out.
    #[serde(default)]
    pub dispatch: Option<Dist>,
    /// For every function without its own value.
    #[serde(default)]
    pub defaults: Phases,
    /// Per function, by the trace's function name.
    #[serde(default)]
    pub functions: BTreeMap<String, Phases>,
}

impl Profile {
    /// Read a profile file; errors name the file, line and field.
    pub fn load(path: &Path) -> Result<Profile, ConfigError> {
        let input = Input::File(path.to_path_buf());
        let located = |e: crate::trace::TraceError| ConfigError {
            file: Some(path.to_path_buf()),
            line: e.line,
            message: match &e.field {
                Some(field) => format!("field `{field}`: {}", e.message),
                None => e.message,
            },
        };
        let reader = input.open().map_err(located)?;
        let mut options = serde_saphyr::Options::default();
        options.with_snippet = false;
        let profile: Profile = serde_saphyr::from_reader_with_options(reader, options)
            .map_err(|e| located(from_saphyr(&input, &e)))?;
        profile.validate().map_err(|message| ConfigError {
            file: Some(path.to_path_buf()),
            line: None,
            message,
        })?;
        Ok(profile)
    }

    /// Lay `other` over this profile: each phase `other` gives wins.
    pub fn merge(&mut self, other: Profile) {
        fn over(base: &mut Phases, top: Phases) {
            base.start = top.start.or(base.start.take());
            base.init = top.init.or(base.init.take());
            base.resume = top.resume.or(base.resume.take());
            base.run = top.run.or(base.run.take());
            base.cpu_share = top.cpu_share.or(base.cpu_share);
        }
        self.dispatch = other.dispatch.or(self.dispatch.take());
        over(&mut self.defaults, other.defaults);
        for (name, phases) in other.functions {
            over(self.functions.entry(name).or_default(), phases);
        }
    }

    /// Check every distribution and share.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(d) = &self.dispatch {
            d.validate().map_err(|m| format!("dispatch: {m}"))?;
        }
        let named = std::iter::once(("defaults", &self.defaults))
            .chain(self.functions.iter().map(|(k, v)| (k.as_str(), v)));
        for (name, p) in named {
            for (phase, d) in [
                ("start", &p.start),
                ("init", &p.init),
                ("resume", &p.resume),
                ("run", &p.run),
            ] {
                if let Some(d) = d {
                    d.validate().map_err(|m| format!("{name}: {phase}: {m}"))?;
                }
            }
            if let Some(s) = p.cpu_share {
                if !(0.0..=1.0).contains(&s) {
                    return Err(format!("{name}: cpu_share: expected 0..=1, got {s}"));
                }
            }
        }
        Ok(())
    }
}

/// How a run's length is decided.
#[derive(Debug, Clone, PartialEq)]
pub enum RunModel {
    /// The synthetic kind: `cpu_ms` of CPU work (stretched when the node's cores are
    /// shared), then `sleep_ms` without a core. Rows may override both in their params.
    Synthetic {
        /// CPU work, ms.
        cpu_ms: f64,
        /// Sleep, ms.
        sleep_ms: f64,
    },
    /// A drawn duration, `cpu_share` of it needing a core (first), the rest not.
    Drawn {
        /// The distribution.
        dist: Dist,
        /// 0..=1.
        cpu_share: f64,
    },
}

/// A function's resolved model.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionModel {
    /// Container start.
    pub start: Dist,
    /// Init.
    pub init: Dist,
    /// Resume from pause.
    pub resume: Dist,
    /// Run.
    pub run: RunModel,
}

impl FunctionModel {
    /// Resolve the model of function `name` of runtime `kind` with default parameters
    /// `params`; `None` when its run has no model (not synthetic and not in the profile).
    pub fn resolve(
        profile: &Profile,
        name: &str,
        kind: &str,
        params: &Map<String, Value>,
    ) -> Option<FunctionModel> {
        let own = profile.functions.get(name);
        let pick = |f: fn(&Phases) -> &Option<Dist>| {
            own.and_then(|p| f(p).clone())
                .or_else(|| f(&profile.defaults).clone())
        };
        let synthetic = kind == crate::trace::SYNTHETIC_KIND;
        let (cpu_ms, sleep_ms) = (number(params, "cpu_ms"), number(params, "sleep_ms"));
        let run = match pick(|p| &p.run) {
            // The share: the function's own entry, else what a synthetic function declares
            // it does (a drawn run of a function that sleeps 90 % of the time must not
            // hold a core all along), else the defaults', else all of it.
            Some(dist) => RunModel::Drawn {
                dist,
                cpu_share: own
                    .and_then(|p| p.cpu_share)
                    .or_else(|| {
                        (synthetic && cpu_ms + sleep_ms > 0.0).then(|| cpu_ms / (cpu_ms + sleep_ms))
                    })
                    .or(profile.defaults.cpu_share)
                    .unwrap_or(1.0),
            },
            None if synthetic => RunModel::Synthetic { cpu_ms, sleep_ms },
            None => return None,
        };
        Some(FunctionModel {
            start: pick(|p| &p.start).unwrap_or(LITERATURE_START),
            init: pick(|p| &p.init).unwrap_or(Dist::ZERO),
            resume: pick(|p| &p.resume).unwrap_or(Dist::ZERO),
            run,
        })
    }
}

/// A numeric parameter, 0 when absent or not a number (as the synthetic action reads it).
fn number(params: &Map<String, Value>, key: &str) -> f64 {
    params
        .get(key)
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite() && *v >= 0.0)
        .unwrap_or(0.0)
}

/// A run's two phases, in ns: work that needs a core, then time that does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Work {
    /// CPU work at one core.
    pub cpu_ns: u64,
    /// Waiting (sleep, I/O) after it.
    pub wait_ns: u64,
}

/// Per-invocation overrides from a row's params: `cpu_ms`/`sleep_ms` for the synthetic
/// kind (as the action itself reads them), `duration_ms` for a run of any kind.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Overrides {
    /// `cpu_ms`.
    pub cpu_ms: Option<f64>,
    /// `sleep_ms`.
    pub sleep_ms: Option<f64>,
    /// `duration_ms`.
    pub duration_ms: Option<f64>,
}

impl Overrides {
    /// Read them from a row's params text; `None` when it sets none.
    pub fn parse(params: &str) -> Option<Overrides> {
        // Most rows carry no override: skip the JSON parse for them.
        if !["cpu_ms", "sleep_ms", "duration_ms"]
            .iter()
            .any(|k| params.contains(k))
        {
            return None;
        }
        let map: Map<String, Value> = serde_json::from_str(params).ok()?;
        let get = |k: &str| map.get(k).and_then(Value::as_f64).filter(|v| v.is_finite());
        Some(Overrides {
            cpu_ms: get("cpu_ms"),
            sleep_ms: get("sleep_ms"),
            duration_ms: get("duration_ms"),
        })
    }
}

impl RunModel {
    /// The work of one run, drawing from `rng` when the model is a distribution.
    pub fn work(&self, over: Option<&Overrides>, rng: &mut super::dist::Stream) -> Work {
        match self {
            RunModel::Synthetic { cpu_ms, sleep_ms } => {
                let cpu = over.and_then(|o| o.cpu_ms).unwrap_or(*cpu_ms);
                let sleep = over.and_then(|o| o.sleep_ms).unwrap_or(*sleep_ms);
                match over.and_then(|o| o.duration_ms) {
                    Some(d) => split(ms_to_ns(d), 1.0),
                    None => Work {
                        cpu_ns: ms_to_ns(cpu),
                        wait_ns: ms_to_ns(sleep),
                    },
                }
            }
            RunModel::Drawn { dist, cpu_share } => {
                let total = match over.and_then(|o| o.duration_ms) {
                    Some(d) => ms_to_ns(d),
                    None => dist.sample_ns(rng),
                };
                split(total, *cpu_share)
            }
        }
    }
}

fn split(total: u64, cpu_share: f64) -> Work {
    // + ½ and truncate: round() is a libm call, once per run (the product is not negative).
    let cpu_ns = (total as f64 * cpu_share + 0.5) as u64;
    Work {
        cpu_ns: cpu_ns.min(total),
        wait_ns: total - cpu_ns.min(total),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_function_takes_its_own_then_the_defaults_then_the_builtins() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            f,
            "defaults:\n  init: {{fixed: 30}}\n  run: {{exponential: {{mean_ms: 5}}}}\n\
             functions:\n  slow:\n    run: {{fixed: 100}}\n    cpu_share: 0.25\n"
        )
        .unwrap();
        let p = Profile::load(f.path()).unwrap();
        let slow = FunctionModel::resolve(&p, "slow", "python:3", &Map::new()).unwrap();
        assert_eq!(
            slow.run,
            RunModel::Drawn {
                dist: Dist::Fixed(100.0),
                cpu_share: 0.25
            }
        );
        assert_eq!(slow.init, Dist::Fixed(30.0));
        assert_eq!(slow.start, LITERATURE_START);
        let mut rng = super::super::dist::Stream::new(0, "x");
        let w = slow.run.work(None, &mut rng);
        assert_eq!((w.cpu_ns, w.wait_ns), (25_000_000, 75_000_000));
        // Without a profile, only the synthetic kind has a run model.
        let none = Profile::default();
        assert!(FunctionModel::resolve(&none, "f", "python:3", &Map::new()).is_none());
        let params: Map<String, Value> =
            serde_json::from_str(r#"{"cpu_ms": 4, "sleep_ms": 6}"#).unwrap();
        let syn = FunctionModel::resolve(&none, "f", crate::trace::SYNTHETIC_KIND, &params);
        let w = syn
            .unwrap()
            .run
            .work(Overrides::parse(r#"{"cpu_ms": 9}"#).as_ref(), &mut rng);
        assert_eq!((w.cpu_ns, w.wait_ns), (9_000_000, 6_000_000));
        // A drawn run of a synthetic function (a fitted profile) without a measured share
        // takes the share its parameters declare, 4 of 10 ms here, before the defaults'.
        let fitted = Profile {
            defaults: Phases {
                run: Some(Dist::Fixed(20.0)),
                cpu_share: Some(0.9),
                ..Phases::default()
            },
            ..Profile::default()
        };
        let kind = crate::trace::SYNTHETIC_KIND;
        let drawn = FunctionModel::resolve(&fitted, "f", kind, &params).unwrap();
        let w = drawn.run.work(None, &mut rng);
        assert_eq!((w.cpu_ns, w.wait_ns), (8_000_000, 12_000_000));
        let other = FunctionModel::resolve(&fitted, "f", "python:3", &params).unwrap();
        assert_eq!(other.run.work(None, &mut rng).cpu_ns, 18_000_000);
    }

    #[test]
    fn bad_profiles_name_the_line_or_function() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "functions:\n  g:\n    run: {{gamma: 3}}\n").unwrap();
        let e = Profile::load(f.path()).unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "functions:\n  g:\n    cpu_share: 2\n").unwrap();
        let e = Profile::load(f.path()).unwrap_err().to_string();
        assert!(e.contains("g: cpu_share"), "{e}");
    }
}
