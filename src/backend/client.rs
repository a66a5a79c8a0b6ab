//! The client of a run's platform: an OpenWhisk REST API (a remote OpenWhisk or the
//! embedded platform) or a generic HTTP target, behind one [`Platform`].

use std::time::Duration;

use super::http_target::HttpClient;
use super::{Activation, BackendError, Call, OpenWhisk, Platform, Reply, TriggerRecord};
use crate::trace::{FunctionSpec, PackageSpec};

/// The platform client a run uses.
pub enum Client {
    /// An OpenWhisk-compatible REST API.
    OpenWhisk(OpenWhisk),
    /// Plain HTTP requests built from a target file.
    Http(HttpClient),
}

impl Client {
    /// The OpenWhisk client, for what only that API offers (checks, pre-flight, admin).
    pub fn openwhisk(&self) -> Option<&OpenWhisk> {
        match self {
            Client::OpenWhisk(c) => Some(c),
            Client::Http(_) => None,
        }
    }
}

impl Platform for Client {
    async fn deploy(&self, user: usize, f: &FunctionSpec) -> Result<(), BackendError> {
        match self {
            Client::OpenWhisk(c) => c.deploy(user, f).await,
            Client::Http(c) => c.deploy(user, f).await,
        }
    }

    async fn force_cold(&self, user: usize, function: &str) -> Result<(), BackendError> {
        match self {
            Client::OpenWhisk(c) => c.force_cold(user, function).await,
            Client::Http(c) => c.force_cold(user, function).await,
        }
    }

    async fn deploy_package(
        &self,
        user: usize,
        package: &PackageSpec,
        replace: bool,
    ) -> Result<(), BackendError> {
        match self {
            Client::OpenWhisk(c) => c.deploy_package(user, package, replace).await,
            Client::Http(c) => c.deploy_package(user, package, replace).await,
        }
    }

    async fn invoke(&self, call: Call<'_>, on_send: impl FnOnce() + Send) -> Reply {
        match self {
            Client::OpenWhisk(c) => c.invoke(call, on_send).await,
            Client::Http(c) => c.invoke(call, on_send).await,
        }
    }

    async fn fetch_activation(
        &self,
        user: usize,
        id: &str,
        wait: Option<Duration>,
    ) -> Result<Option<Activation>, BackendError> {
        match self {
            Client::OpenWhisk(c) => c.fetch_activation(user, id, wait).await,
            Client::Http(c) => c.fetch_activation(user, id, wait).await,
        }
    }

    async fn fetch_trigger_activation(
        &self,
        user: usize,
        id: &str,
        wait: Option<Duration>,
    ) -> Result<Option<TriggerRecord>, BackendError> {
        match self {
            Client::OpenWhisk(c) => c.fetch_trigger_activation(user, id, wait).await,
            Client::Http(c) => c.fetch_trigger_activation(user, id, wait).await,
        }
    }
}
