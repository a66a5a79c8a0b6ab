//! The embedded OpenWhisk-compatible platform: the REST API on loopback, an action and
//! activation store, and actions run as local processes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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

/// Per-namespace admission limits (OpenWhisk's 429s). `None` = unlimited.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    /// Invocations per calendar minute (OpenWhisk deploys 60).
    pub invocations_per_minute: Option<u32>,
    /// Concurrent activations in flight (OpenWhisk deploys 30).
    pub concurrent_invocations: Option<u32>,
}

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
        })
    }
}

/// Errors starting or running the platform.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// A platform serving in the background of the current tokio runtime.
pub struct RunningPlatform {
    /// The bound address.
    pub addr: SocketAddr,
}

impl RunningPlatform {
    /// Stop accepting, end action processes, and wait for the server to finish.
    pub async fn shutdown(self) {}
}

/// Start the platform on the current tokio runtime.
pub async fn start(config: PlatformConfig) -> Result<RunningPlatform, PlatformError> {
    let _ = config;
    Err(PlatformError::Other(
        "the embedded platform is not written yet".into(),
    ))
}

/// Entry point of an action process (`gale __runtime KIND`): speaks the ActionLoop protocol
/// on stdin / fd 3 until stdin closes. Returns the process exit code.
pub fn runtime_main(kind: &str) -> i32 {
    eprintln!("unknown runtime kind {kind}");
    2
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
