//! The client side of a FaaS platform: what the injector needs from it, the OpenWhisk REST
//! client that provides it (for a remote OpenWhisk and for the embedded platform alike), and
//! the generic HTTP target (any function URL: Knative, OpenFaaS, Lambda function URLs).
//!
//! The injector only sees [`Platform`]; the HTTP library behind it is this module's business,
//! so a leaner client can replace the current one where client CPU becomes the limit.

mod activation;
pub mod client;
pub mod completion;
pub mod deploy;
mod entity;
pub mod fire;
pub mod http1;
pub mod http_target;
mod openwhisk;
mod outcome;
pub mod pool;
mod scan;
pub mod session;
pub mod template;
pub mod tls;
mod web;

pub use activation::{Activation, Timings};
pub use client::Client;
pub use entity::{Entity, EntityKind, WebRoute};
pub use fire::{Fire, RuleRun, TriggerRecord};
pub use openwhisk::{encode_path, Credentials, OpenWhisk, OpenWhiskOptions};
pub use outcome::{Outcome, Reply};

use std::future::Future;

use crate::trace::{FunctionSpec, PackageSpec};

/// Errors of control-plane operations (deploy, fetch). Invocations never error: their
/// failures are [`Outcome`]s recorded like any other result.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// No HTTP answer (refused, reset, timed out, TLS failure).
    #[error("{url}: {message}")]
    Transport {
        /// The request URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The platform answered with an error status.
    #[error("{url}: HTTP {status}: {message}")]
    Status {
        /// The request URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// The `error` field of the body, or the body.
        message: String,
    },
    /// A setting cannot work with this platform.
    #[error("{0}")]
    Invalid(String),
}

/// One invocation as the backend sends it.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// Which credentials (user) to send it as: an index into the backend's credentials.
    pub user: usize,
    /// Action (or trigger) name, possibly `pkg/name`.
    pub function: &'a str,
    /// JSON object text of the parameters.
    pub params: &'a str,
    /// Wait for the result (`?blocking=true`; actions and sequences only).
    pub blocking: bool,
    /// What `function` is, and so which request reaches it.
    pub entity: &'a Entity,
}

/// What the injector needs from a FaaS platform.
pub trait Platform: Send + Sync + 'static {
    /// Create or replace a function for a user: an action, a sequence (its components
    /// must exist), or a trigger with its rules (their actions must exist).
    fn deploy(
        &self,
        user: usize,
        function: &FunctionSpec,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// Create a package for a user: replaced with the given parameters (`replace`), or
    /// created empty unless it exists already.
    fn deploy_package(
        &self,
        user: usize,
        package: &PackageSpec,
        replace: bool,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// Make the next invocation of action `function` a cold start, as SeBS does: update the
    /// action in place (its annotation `gale-cold` gets a new value, code and settings
    /// unchanged), so that its warm containers, bound to the old revision, no longer match.
    fn force_cold(
        &self,
        user: usize,
        function: &str,
    ) -> impl Future<Output = Result<(), BackendError>> + Send;
    /// Send one invocation. `on_send` is called with nothing in between the call and the
    /// moment the request is handed to the connection, so the caller can timestamp it.
    fn invoke(
        &self,
        call: Call<'_>,
        on_send: impl FnOnce() + Send,
    ) -> impl Future<Output = Reply> + Send;
    /// Fetch the record of an activation; `Ok(None)` while it is not available yet. With
    /// `wait`, a platform that can (gale's) holds the request up to that long for the
    /// activation to complete.
    fn fetch_activation(
        &self,
        user: usize,
        id: &str,
        wait: Option<std::time::Duration>,
    ) -> impl Future<Output = Result<Option<Activation>, BackendError>> + Send;
    /// Fetch a trigger's activation record with the rules it reached, as
    /// [`Platform::fetch_activation`] does.
    fn fetch_trigger_activation(
        &self,
        user: usize,
        id: &str,
        wait: Option<std::time::Duration>,
    ) -> impl Future<Output = Result<Option<TriggerRecord>, BackendError>> + Send;
}
