//! Connecting a run to its platform: start the embedded one if needed, build the client
//! with one set of credentials per user, check the platform answers, deploy functions.
//! Shared by `gale inject` and `gale generate`.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::task::JoinSet;

use crate::backend::{Credentials, OpenWhisk, OpenWhiskOptions, Platform};
use crate::config::Target;
use crate::platform::{self, NamespaceKey, PlatformConfig, RunningPlatform};
use crate::trace::{FunctionSpec, UserSpec, SYNTHETIC_KIND};

/// Client settings a run passes to [`Session::connect`].
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// HTTP connections to the platform (keep-alive pool size).
    pub connections: u32,
    /// Timeout of one invoke request.
    pub request_timeout: std::time::Duration,
    /// Settings file of the embedded platform (`--platform-config`).
    pub platform_config: Option<std::path::PathBuf>,
}

/// A connected platform.
pub struct Session {
    /// The client.
    pub backend: Arc<OpenWhisk>,
    /// API host in use.
    pub apihost: String,
    /// User label → credentials index.
    pub users: HashMap<Arc<str>, usize>,
    /// The embedded platform and the runtime it runs on, when started here.
    embedded: Option<(tokio::runtime::Runtime, RunningPlatform)>,
}

/// A fresh, well-formed OpenWhisk key (`UUID:64 alphanumerics`) for an embedded namespace,
/// from the system's random source: a key derived from the user's name would be known to
/// anyone who knows the name. The run holds it in memory only (run.yaml redacts keys).
fn random_key() -> anyhow::Result<String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 8 + 4 + 3 + 3 + 12 + 64];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system's random source failed"))?;
    const HEX: &[u8] = b"0123456789abcdef";
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut it = bytes.iter();
    let mut pick = |set: &[u8], n: usize| -> String {
        // 256 is not a multiple of 62: the bias (< 2 %) costs a fraction of a bit of the
        // key's 380 bits.
        it.by_ref()
            .take(n)
            .map(|b| set[*b as usize % set.len()] as char)
            .collect()
    };
    let uuid = format!(
        "{}-{}-4{}-8{}-{}",
        pick(HEX, 8),
        pick(HEX, 4),
        pick(HEX, 3),
        pick(HEX, 3),
        pick(HEX, 12)
    );
    Ok(format!("{uuid}:{}", pick(ALNUM, 64)))
}

impl Session {
    /// Connect to the target (starting the embedded platform if that is the target).
    pub fn connect(
        rt: &tokio::runtime::Runtime,
        target: &Target,
        declared_users: &[UserSpec],
        client: ClientSettings,
    ) -> anyhow::Result<Session> {
        let mut credentials = Vec::new();
        let mut users = HashMap::new();
        let mut embedded = None;
        let apihost = match target {
            Target::Embedded => {
                let mut cfg = PlatformConfig::new()
                    .context("cannot locate the gale executable to run actions")?;
                if let Some(file) = &client.platform_config {
                    crate::config::platform_file::load(file, &mut cfg)?;
                }
                cfg.listen = SocketAddr::from(([127, 0, 0, 1], 0));
                credentials.push(Credentials {
                    namespace: "_".into(),
                    auth: cfg.namespaces[0].key.clone(),
                });
                for u in declared_users {
                    let namespace = u.namespace.clone().unwrap_or_else(|| u.name.clone());
                    // A namespace the platform already has (`guest`, or one of its config)
                    // is used with its own key; a new one gets the user's or a fresh one.
                    let existing = cfg.namespaces.iter().find(|n| n.namespace == namespace);
                    let key = match (existing, &u.auth) {
                        (Some(n), Some(auth)) if *auth != n.key => anyhow::bail!(
                            "user `{}`: namespace `{namespace}` exists on the embedded platform \
                             with another key than the trace's `auth`",
                            u.name
                        ),
                        (Some(n), _) => n.key.clone(),
                        (None, Some(auth)) => auth.clone(),
                        (None, None) => random_key()?,
                    };
                    if existing.is_none() {
                        cfg.namespaces.push(NamespaceKey {
                            namespace: namespace.clone(),
                            key: key.clone(),
                        });
                    }
                    users.insert(Arc::from(u.name.as_str()), credentials.len());
                    credentials.push(Credentials {
                        namespace: "_".into(),
                        auth: key,
                    });
                }
                let prt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("gale-platform")
                    .enable_all()
                    .build()?;
                let running = prt
                    .block_on(platform::start(cfg))
                    .context("cannot start the embedded platform")?;
                let host = format!("http://{}", running.addr);
                tracing::info!("embedded platform on {host}");
                embedded = Some((prt, running));
                host
            }
            Target::Remote {
                apihost,
                auth,
                namespace,
                ..
            } => {
                credentials.push(Credentials {
                    namespace: namespace.clone(),
                    auth: auth.clone(),
                });
                for u in declared_users {
                    if let Some(key) = &u.auth {
                        users.insert(Arc::from(u.name.as_str()), credentials.len());
                        let ns = u.namespace.clone().unwrap_or_else(|| "_".into());
                        credentials.push(Credentials {
                            namespace: ns,
                            auth: key.clone(),
                        });
                    }
                }
                apihost.clone()
            }
        };
        let insecure = matches!(target, Target::Remote { insecure: true, .. });
        let backend = OpenWhisk::new(&OpenWhiskOptions {
            apihost: apihost.clone(),
            credentials,
            insecure,
            connections: client.connections,
            request_timeout: client.request_timeout,
        })?;
        let session = Session {
            backend: Arc::new(backend),
            apihost,
            users,
            embedded,
        };
        let check = rt.block_on(session.backend.check(0));
        if let Err(e) = check {
            let mut hint = match target {
                Target::Remote { source, .. } => {
                    format!(" (API host from {source}; --embedded uses gale's own platform)")
                }
                Target::Embedded => String::new(),
            };
            if !insecure && e.to_string().contains("invalid peer certificate") {
                hint += "; for a self-signed certificate, pass --insecure (as `wsk -i`)";
            }
            anyhow::bail!("the platform does not answer: {e}{hint}");
        }
        Ok(session)
    }

    /// Whether the platform is gale's embedded one.
    pub fn is_embedded(&self) -> bool {
        self.embedded.is_some()
    }

    /// The embedded platform started here (for an in-process monitor fed by its lifecycle
    /// events).
    pub fn embedded_platform(&self) -> Option<&RunningPlatform> {
        self.embedded.as_ref().map(|(_, p)| p)
    }

    /// Deploy the functions for every credentials set in use. Synthetic functions are only
    /// deployed on the embedded platform; elsewhere they must already exist.
    pub fn deploy(
        &self,
        rt: &tokio::runtime::Runtime,
        functions: &[FunctionSpec],
    ) -> anyhow::Result<usize> {
        let user_indexes: BTreeSet<usize> = std::iter::once(0)
            .chain(self.users.values().copied())
            .collect();
        let mut set = JoinSet::new();
        let mut deployed = 0;
        // Thousands of functions must not mean thousands of connections at once.
        let slots = Arc::new(tokio::sync::Semaphore::new(16));
        for f in functions.iter().filter(|f| f.deploy) {
            if f.kind == SYNTHETIC_KIND && !self.is_embedded() {
                tracing::warn!(
                    "function `{}` is synthetic (kind {SYNTHETIC_KIND}), which only gale's embedded platform runs: \
                     assuming it already exists on {}",
                    f.name,
                    self.apihost
                );
                continue;
            }
            for &u in &user_indexes {
                let (backend, f, slots) = (self.backend.clone(), f.clone(), slots.clone());
                let task = async move {
                    let _slot = slots.acquire().await;
                    backend
                        .deploy(u, &f)
                        .await
                        .with_context(|| format!("cannot deploy `{}`", f.name))
                };
                set.spawn_on(task, rt.handle());
                deployed += 1;
            }
        }
        rt.block_on(async {
            while let Some(r) = set.join_next().await {
                r??;
            }
            anyhow::Ok(())
        })?;
        Ok(deployed)
    }

    /// Stop the embedded platform (its action processes end with it).
    pub fn shutdown(self) {
        if let Some((prt, running)) = self.embedded {
            prt.block_on(running.shutdown());
            prt.shutdown_timeout(std::time::Duration::from_secs(2));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_keys_are_valid_and_distinct() {
        let a = random_key().unwrap();
        let b = random_key().unwrap();
        assert_ne!(a, b);
        platform::validate_key(&a).unwrap();
        platform::validate_key(&b).unwrap();
    }
}
