//! The embedded OpenWhisk-compatible platform: the REST API on loopback, an action and
//! activation store, and actions run as local processes.
//!
//! Layout: [`api`] answers HTTP (routing, auth, one file per resource); [`store`] keeps
//! namespaces and their entities ([`action`], [`package`], [`trigger`] and rules),
//! [`resolve`] finds the action a name means (packages, bindings, sharing), [`activate`]
//! starts it (a sequence runs here), [`activation`] keeps the bounded activation records; [`scheduler`]
//! drives the platform model ([`crate::model`]) on the wall clock and executes its
//! commands, one [`container`] task per container owning a [`process`] (one ActionLoop
//! child); [`invoke`] runs one activation in it; [`runtime`] is the code inside those
//! children; [`limits`] answers OpenWhisk's 429s. Containers live in [`cgroups`] when the host allows
//! it, and their lifecycle is published on the [`events`] bus. docs/platform.md describes the behaviour.

pub mod action;
pub mod activate;
pub mod activation;
pub mod admin_cli;
pub mod api;
pub mod cgroups;
pub mod container;
pub mod events;
pub mod ids;
pub mod invoke;
pub mod limits;
pub mod multiplex;
pub mod package;
pub mod process;
pub mod resolve;
pub mod runtime;
pub mod scheduler;
pub mod serve;
pub mod store;
pub mod trigger;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::model::ModelConfig;
use scheduler::Scheduler;

/// OpenWhisk standalone's guest key, so existing client setups work unchanged.
pub const GUEST_KEY: &str =
    "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP";

/// A namespace and the `UUID:KEY` that owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceKey {
    /// Namespace name (what `_` resolves to for this key).
    pub namespace: String,
    /// `UUID:KEY`, 36 + 1 + 64 characters.
    pub key: String,
}

/// Per-namespace admission limits (OpenWhisk's 429s), as the model's admission rule takes
/// them. `None` = unlimited.
pub use crate::model::admission::Limits;

/// Settings of the embedded platform.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    /// Address to listen on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Namespaces and their keys; the first is printed at start.
    pub namespaces: Vec<NamespaceKey>,
    /// Longest wait of a blocking invoke before it is demoted to 202 (OpenWhisk: 60 s).
    pub max_blocking_wait: Duration,
    /// Admission limits, off by default.
    pub limits: Limits,
    /// The gale executable that runs action processes (`gale __runtime KIND`).
    pub runtime_exe: PathBuf,
    /// Nodes, policies, warming and keep-alive: the platform model's settings.
    pub model: ModelConfig,
    /// Per-action warming and autoscaling, keyed by `namespace/name`.
    pub actions: std::collections::BTreeMap<String, crate::config::platform_file::ActionSettings>,
    /// Activation records kept for GET/list; the oldest are dropped beyond this count.
    pub max_activations: usize,
    /// Put each container in its own cgroup when the host allows it (root, cgroupfs
    /// writable); false runs every container unconfined.
    pub cgroups: bool,
    /// UNIX socket streaming container lifecycle events (`gale platform --events PATH`).
    pub events_socket: Option<PathBuf>,
    /// How action processes are confined (user, namespaces, private /tmp, pids limit).
    pub sandbox: runtime::sandbox::Sandbox,
    /// Connection cap and header-read (idle) timeout of the HTTP server.
    pub serve: serve::ServeLimits,
    /// Bytes of activation logs kept over all records; the oldest records are dropped
    /// beyond it (each record's own logs are capped by its action's `limits.logs`).
    pub max_log_bytes: usize,
    /// Namespaces whose keys see the whole cluster in `/gale/v1/nodes` and `containers`
    /// (others see their own containers only).
    pub admin_namespaces: Vec<String>,
}

impl PlatformConfig {
    /// Defaults: loopback, port 3233, the guest namespace, 60 s blocking wait, no limits,
    /// actions run by the current executable.
    pub fn new() -> std::io::Result<Self> {
        Ok(PlatformConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 3233)),
            namespaces: vec![NamespaceKey {
                namespace: "guest".into(),
                key: GUEST_KEY.into(),
            }],
            max_blocking_wait: Duration::from_secs(60),
            limits: Limits::default(),
            runtime_exe: std::env::current_exe()?,
            model: ModelConfig::default(),
            actions: Default::default(),
            max_activations: 100_000,
            cgroups: true,
            events_socket: None,
            sandbox: Default::default(),
            serve: Default::default(),
            admin_namespaces: vec!["guest".into()],
            max_log_bytes: 256 << 20,
        })
    }

    /// Name of node `id` (`?` for an id no node has).
    pub fn node_name(&self, id: crate::model::NodeId) -> Arc<str> {
        self.model
            .nodes
            .get(id.0)
            .map(|n| n.name.clone())
            .unwrap_or_else(|| "?".into())
    }
}

/// Errors starting or running the platform.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The listen address could not be bound.
    // Not a `source`: the message says the cause already, and a chain would say it twice.
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        error: std::io::Error,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// State shared by the request handlers and the activation tasks.
pub struct Shared {
    /// The configuration the platform was started with.
    pub config: PlatformConfig,
    /// Namespaces, keys, actions.
    pub namespaces: store::Namespaces,
    /// Completed activations.
    pub activations: activation::ActivationStore,
    /// The platform model and its executor.
    pub scheduler: Scheduler,
    /// Container lifecycle events.
    pub events: Arc<events::EventBus>,
}

/// A platform serving in the background of the current tokio runtime. Dropping it without
/// [`RunningPlatform::shutdown`] still kills the action processes and stops the server.
pub struct RunningPlatform {
    /// The bound address.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    timer: tokio::task::JoinHandle<()>,
    /// Dropped after the containers are killed: removes the socket file, then the cgroup tree.
    event_server: Option<events::EventServer>,
    cgroups: Option<cgroups::CgroupTree>,
}

impl RunningPlatform {
    /// `http://ADDR`, what clients use as the API host.
    pub fn api_host(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The lifecycle event bus (subscribe in-process, or use `events_socket`).
    pub fn events(&self) -> &Arc<events::EventBus> {
        &self.shared.events
    }

    /// The lifecycle event socket's path, when serving one.
    pub fn events_socket(&self) -> Option<&std::path::Path> {
        self.event_server.as_ref().map(|s| s.path())
    }

    /// The platform's cgroup tree, when containers run in cgroups.
    pub fn cgroups(&self) -> Option<&cgroups::CgroupTree> {
        self.cgroups.as_ref()
    }

    /// Container counts over all nodes: (live, idle or paused, MB reserved).
    pub fn pool_stats(&self) -> (usize, usize, u64) {
        let s = &self.shared.scheduler;
        let containers = s.containers();
        let idle = containers
            .iter()
            .filter(|c| {
                matches!(
                    c.state,
                    crate::model::ContainerState::Idle | crate::model::ContainerState::Paused
                )
            })
            .count();
        let used = s.nodes().iter().map(|n| n.used_mb).sum();
        (containers.len(), idle, used)
    }

    /// The shared state (scheduler, stores), for admin operations and tests.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stop accepting, end action processes, and wait (a few seconds at most) for the
    /// server to finish the requests in flight.
    pub async fn shutdown(mut self) {
        // Killing the containers first ends running activations at once, so blocking
        // requests answer and connections can close.
        self.shared.scheduler.shutdown(&self.shared);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut server) = self.server.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut server)
                .await
                .is_err()
            {
                server.abort();
            }
        }
        self.timer.abort();
    }
}

impl Drop for RunningPlatform {
    fn drop(&mut self) {
        self.shared.scheduler.shutdown(&self.shared);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.timer.abort();
    }
}

/// Start the platform on the current tokio runtime.
pub async fn start(config: PlatformConfig) -> Result<RunningPlatform, PlatformError> {
    if config.namespaces.is_empty() {
        return Err(PlatformError::Other("no namespace configured".into()));
    }
    for ns in &config.namespaces {
        validate_key(&ns.key)?;
    }
    check_exposure(&config)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|error| PlatformError::Bind {
            addr: config.listen,
            error,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| PlatformError::Other(format!("cannot read the bound address: {e}")))?;
    if config.model.nodes.is_empty() {
        return Err(PlatformError::Other("no node configured".into()));
    }
    let (tree, node_cgroups) = container_cgroups(&config);
    describe_sandbox(&config);
    let events = events::EventBus::new();
    let event_server = match &config.events_socket {
        Some(path) => Some(
            events::serve(events.clone(), path)
                .map_err(|e| PlatformError::Other(format!("cannot serve lifecycle events: {e}")))?,
        ),
        None => None,
    };
    let shared = Arc::new(Shared {
        namespaces: store::Namespaces::new(&config.namespaces, &config.limits),
        activations: activation::ActivationStore::new(config.max_activations, config.max_log_bytes),
        scheduler: Scheduler::new(&config, node_cgroups),
        events,
        config,
    });
    let timer = Scheduler::spawn_timer(&shared);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve::serve(
        listener,
        api::router(shared.clone()),
        shared.config.serve,
        stopped,
    ));
    tracing::debug!("platform listening on {addr}");
    Ok(RunningPlatform {
        addr,
        shared,
        stop: Some(stop),
        server: Some(server),
        timer,
        event_server,
        cgroups: tree,
    })
}

/// Refuse to serve the well-known guest key beyond loopback: anyone who can reach the
/// address could run code as that namespace.
fn check_exposure(config: &PlatformConfig) -> Result<(), PlatformError> {
    if config.listen.ip().is_loopback() {
        return Ok(());
    }
    if let Some(ns) = config.namespaces.iter().find(|n| n.key == GUEST_KEY) {
        return Err(PlatformError::Other(format!(
            "refusing to listen on {} with OpenWhisk's public guest key for namespace `{}`: \
             anyone reaching that address could run code; give every namespace its own key \
             (`namespaces:` in the platform config, or --auth), or listen on loopback",
            config.listen, ns.namespace
        )));
    }
    Ok(())
}

/// Say once how actions are confined, loudly when they are not.
fn describe_sandbox(config: &PlatformConfig) {
    let s = &config.sandbox;
    if !s.enabled {
        tracing::warn!("actions run unconfined: as this process's user, in its namespaces (sandbox disabled by configuration)");
    } else if !runtime::sandbox::privileged() {
        tracing::warn!("not root: actions run as this process's user in its namespaces, with no-new-privs only (see docs/security.md)");
    } else {
        tracing::info!(
            "actions run as uid {} gid {} in their own PID, mount, IPC{} namespaces, read-only files, private /tmp of {} MB, at most {} tasks",
            s.uid,
            s.gid,
            if s.network { "" } else { " and network" },
            s.tmp_mb,
            s.pids_max
        );
    }
}

/// The cgroup tree and one cgroup per configured node, or none (said once, with the reason).
fn container_cgroups(
    config: &PlatformConfig,
) -> (Option<cgroups::CgroupTree>, Vec<Arc<cgroups::NodeCgroup>>) {
    if !config.cgroups {
        tracing::info!("containers run without cgroups (disabled by configuration)");
        return (None, Vec::new());
    }
    let made = cgroups::CgroupTree::create().and_then(|mut tree| {
        if let Err(e) = tree.guard(&config.runtime_exe) {
            tracing::warn!("no reaper for the cgroup tree (a kill -9 would leave paused containers behind): {e}");
        }
        let nodes = config
            .model
            .nodes
            .iter()
            .map(|n| tree.node(&n.name, n.memory_mb, n.cpus).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((tree, nodes))
    });
    match made {
        Ok((tree, nodes)) => {
            tracing::info!(
                "containers run in {} under {}",
                tree.describe(),
                tree.instance()
            );
            (Some(tree), nodes)
        }
        Err(e) => {
            tracing::warn!(
                "containers run without cgroups: no memory limits, pause by signals ({e})"
            );
            (None, Vec::new())
        }
    }
}

/// Entry point of an action process (`gale __runtime KIND [IMAGE]`): speaks the ActionLoop
/// protocol on stdin / fd 3 until stdin closes (or execs the interpreter or the blackbox
/// executable `image` that does). Returns the process exit code.
pub fn runtime_main(kind: &str, image: Option<&std::path::Path>) -> i32 {
    runtime::main(kind, image)
}

/// Check that a key has OpenWhisk's shape: `UUID:KEY` with a 64-character alphanumeric key.
pub fn validate_key(key: &str) -> Result<(), PlatformError> {
    let bad = |why: &str| PlatformError::Other(format!("invalid auth key `{key}`: {why}"));
    let (uuid, secret) = key
        .split_once(':')
        .ok_or_else(|| bad("expected UUID:KEY"))?;
    let groups: Vec<&str> = uuid.split('-').collect();
    let shape = [8, 4, 4, 4, 12];
    let uuid_ok = groups.len() == 5
        && groups
            .iter()
            .zip(shape)
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()));
    if !uuid_ok {
        return Err(bad(
            "the part before `:` must be a UUID such as 23bc46b1-71f6-4ed5-8c54-816aa4f8c502",
        ));
    }
    if secret.len() != 64 || !secret.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(bad("the part after `:` must be 64 letters and digits"));
    }
    Ok(())
}
