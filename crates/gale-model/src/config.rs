//! Settings of the model: nodes, policies, warming, keep-alive, prewarm, autoscaling.
//! Plain values in model time; src/config reads them from config/platform.yml.

use std::sync::Arc;

use super::types::Nanos;
use super::{MS, SECOND};

/// How containers are kept between activations (per platform, overridable per action).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Warming {
    /// A fresh container per activation, removed after it.
    Cold,
    /// Prewarmed stem cells take cold starts (code injected at first use); then as `Warm`.
    Prewarm,
    /// Keep-alive: containers stay for reuse until the idle timeout.
    #[default]
    Warm,
}

impl Warming {
    /// Every strategy.
    pub const ALL: [Warming; 3] = [Warming::Cold, Warming::Prewarm, Warming::Warm];

    /// The strategy named `name`.
    pub fn parse(name: &str) -> Option<Warming> {
        Warming::ALL.into_iter().find(|w| w.name() == name)
    }

    /// The config name (`cold`, `prewarm`, `warm`).
    pub fn name(self) -> &'static str {
        match self {
            Warming::Cold => "cold",
            Warming::Prewarm => "prewarm",
            Warming::Warm => "warm",
        }
    }
}

/// One node (invoker).
#[derive(Debug, Clone, PartialEq)]
pub struct NodeConfig {
    /// Name (`gale.node` in activation records).
    pub name: Arc<str>,
    /// Memory for containers, MB (OpenWhisk's invoker `user-memory`).
    pub memory_mb: u64,
    /// CPU share in cores.
    pub cpus: f64,
}

/// Keep-alive of idle containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAliveConfig {
    /// Idle containers are paused this long after their last activation (`None`: never).
    /// OpenWhisk today: 10 s; OpenWhisk 1.0: 50 ms.
    pub pause_grace: Option<Nanos>,
    /// Idle (or paused) containers are removed this long after their last activation
    /// (OpenWhisk: 10 min).
    pub idle_timeout: Nanos,
}

impl KeepAliveConfig {
    /// The pause grace if it takes effect: a grace not shorter than the idle timeout never
    /// pauses (the container is removed first).
    pub fn pause_after(&self) -> Option<Nanos> {
        self.pause_grace.filter(|&g| g < self.idle_timeout)
    }
}

impl Default for KeepAliveConfig {
    fn default() -> Self {
        KeepAliveConfig {
            pause_grace: Some(10 * SECOND),
            idle_timeout: 600 * SECOND,
        }
    }
}

/// Stem cells of one kind kept ready on every node.
#[derive(Debug, Clone, PartialEq)]
pub struct PrewarmConfig {
    /// Runtime kind.
    pub kind: Arc<str>,
    /// Their memory limit, MB: only actions with this limit can use them (as OpenWhisk).
    pub memory_mb: u32,
    /// How many per node.
    pub count: u32,
}

/// Autoscaling of one action's replicas.
#[derive(Debug, Clone, PartialEq)]
pub struct AutoscaleConfig {
    /// The policy computing the desired replica count.
    pub policy: super::autoscale::Policy,
    /// Replicas never fall below this (0 allows scale to zero).
    pub min: u32,
    /// Replicas never exceed this.
    pub max: u32,
    /// With `min` 0: scale to zero after this long without an invocation.
    pub zero_after: Nanos,
}

/// A deployed action as the model needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionSpec {
    /// `namespace/name`, hashed by home-invoker placement.
    pub name: Arc<str>,
    /// Runtime kind.
    pub kind: Arc<str>,
    /// Memory limit, MB.
    pub memory_mb: u32,
    /// Activations a container runs at once.
    pub concurrency: u32,
    /// Time limit of one activation.
    pub timeout: Nanos,
    /// Overrides the platform's warming.
    pub warming: Option<Warming>,
    /// Autoscaling, off when `None` (containers follow demand and keep-alive).
    pub autoscale: Option<AutoscaleConfig>,
}

impl ActionSpec {
    /// An action with OpenWhisk's default limits (256 MB, concurrency 1, 60 s).
    pub fn new(name: &str, kind: &str) -> ActionSpec {
        ActionSpec {
            name: name.into(),
            kind: kind.into(),
            memory_mb: 256,
            concurrency: 1,
            timeout: 60 * SECOND,
            warming: None,
            autoscale: None,
        }
    }

    /// This action with the platform file's per-action overrides applied.
    pub fn with_settings(mut self, settings: &ActionSettings) -> ActionSpec {
        self.warming = settings.warming;
        self.autoscale = settings.autoscale.clone();
        self
    }
}

/// Per-action overrides (config/platform.yml's `actions:` section, keyed by
/// `namespace/name`), applied when the action is deployed to the model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActionSettings {
    /// Overrides the platform's warming.
    pub warming: Option<Warming>,
    /// Autoscaling of the action's replicas.
    pub autoscale: Option<AutoscaleConfig>,
}

/// Everything the model is configured with.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// The nodes (at least one).
    pub nodes: Vec<NodeConfig>,
    /// Node selection.
    pub placement: super::placement::Policy,
    /// Choice among an action's warm containers on a node.
    pub balance: super::balance::Policy,
    /// Default warming.
    pub warming: Warming,
    /// Keep-alive.
    pub keepalive: KeepAliveConfig,
    /// Which idle containers go first when a node needs memory.
    pub eviction: super::keepalive::Eviction,
    /// Stem cells per node (used when warming is `prewarm`).
    pub prewarm: Vec<PrewarmConfig>,
    /// How often autoscaling policies are evaluated.
    pub autoscale_period: Nanos,
    /// Seed of the random placement policy.
    pub seed: u64,
}

impl Default for ModelConfig {
    /// One node of 32 GiB and 2 cores, home-invoker placement, warm keep-alive with
    /// OpenWhisk's current timings, no stem cells.
    fn default() -> Self {
        ModelConfig {
            nodes: vec![NodeConfig {
                name: "node0".into(),
                memory_mb: 32 * 1024,
                cpus: 2.0,
            }],
            placement: super::placement::Policy::HomeInvoker,
            balance: super::balance::Policy::MostRecentlyUsed,
            warming: Warming::Warm,
            keepalive: KeepAliveConfig::default(),
            eviction: super::keepalive::Eviction::LeastRecentlyUsed,
            prewarm: Vec::new(),
            autoscale_period: 1000 * MS,
            seed: 0,
        }
    }
}
