//! Connecting a run to its platform: start the embedded one if needed, build the client
//! with one set of credentials per user, check the platform answers, deploy functions.
//! Shared by `gale inject` and `gale generate`.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use tokio::task::JoinSet;

use crate::backend::deploy::{self, Step};
use crate::backend::http_target::HttpClient;
use crate::backend::{BackendError, Client, Credentials, OpenWhisk, OpenWhiskOptions, Platform};
use crate::config::Target;
use crate::platform::{self, NamespaceKey, PlatformConfig, RunningPlatform};
use crate::trace::{FunctionSpec, PackageSpec, UserSpec, SYNTHETIC_KIND};

/// One deployment request, run on the I/O runtime.
type DeployTask =
    std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send + 'static>>;

/// Client settings a run passes to [`Session::connect`].
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// HTTP connections to the platform (keep-alive pool size).
    pub connections: u32,
    /// Timeout of one invoke request.
    pub request_timeout: std::time::Duration,
    /// Settings file of the embedded platform (`--platform-config`).
    pub platform_config: Option<std::path::PathBuf>,
    /// Settings of the embedded platform by name, applied over the file in order
    /// ([`crate::config::overrides`]: an experiment's point).
    pub platform_settings: Vec<(String, String)>,
}

/// A connected platform.
pub struct Session {
    /// The client.
    pub backend: Arc<Client>,
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

/// Why a run cannot use the platform, from the error of its first request.
fn check_failure(target: &Target, apihost: &str, e: &BackendError) -> String {
    match e {
        BackendError::Status {
            status: code @ (401 | 403),
            ..
        } => {
            let key_from = match target {
                Target::Remote { source, .. } if source != "command line" => {
                    format!(
                        "--auth, or the AUTH line of {}",
                        source.trim_start_matches("APIHOST from ")
                    )
                }
                _ => "--auth (or the AUTH line of the wskprops file)".to_string(),
            };
            format!(
                "the platform at {apihost} refused the key (HTTP {code}): the key is wrong for \
                 this API host; check {key_from}"
            )
        }
        _ => {
            let mut hint = match target {
                Target::Remote { source, .. } => {
                    format!(" (API host from {source}; --embedded uses gale's own platform)")
                }
                Target::Embedded | Target::Http(_) => String::new(),
            };
            let insecure = matches!(target, Target::Remote { insecure: true, .. });
            if !insecure && e.to_string().contains("invalid peer certificate") {
                hint += "; for a self-signed certificate, pass --insecure (as `wsk -i`)";
            }
            format!("the platform does not answer: {e}{hint}")
        }
    }
}

/// Whether [`Session::deploy`] creates `f` on the platform: functions declared with
/// `deploy: true`, synthetic ones only on the embedded platform (no other runs them), and
/// none on an HTTP target (it has no deployment API).
pub fn deploys(f: &FunctionSpec, target: &Target) -> bool {
    match target {
        Target::Embedded => f.deploy,
        Target::Remote { .. } => f.deploy && f.kind != SYNTHETIC_KIND,
        Target::Http(_) => false,
    }
}

/// Most names a pre-flight error lists.
const LIST_AT_MOST: usize = 20;

/// Whether `f`, not deployed by gale, must be looked for on the platform before the run:
/// on an HTTP target, only when the target file has no `url` for every function.
pub fn must_check(f: &FunctionSpec, target: &Target) -> bool {
    if f.is_trigger() {
        // Pre-flight asks the actions API; a trigger gale does not deploy is not an action
        // (a missing one fails its fires, recorded as errors).
        return false;
    }
    match target {
        Target::Http(t) => t.default.is_none(),
        _ => !deploys(f, target),
    }
}

/// An HTTP target only sends the requests its target file describes: packages, web
/// actions, sequences and triggers exist only on OpenWhisk, so a trace declaring any of
/// them is refused (bad input) rather than run with a different meaning.
pub fn refuse_entities_on_http(
    packages: &[PackageSpec],
    functions: &[FunctionSpec],
    target: &str,
) -> anyhow::Result<()> {
    let mut entities: Vec<String> = packages
        .iter()
        .map(|p| format!("package `{}`", p.name))
        .collect();
    for f in functions {
        if f.web.is_some() {
            entities.push(format!("web action `{}`", f.name));
        } else if f.is_sequence() {
            entities.push(format!("sequence `{}`", f.name));
        } else if f.is_trigger() {
            entities.push(format!("trigger `{}`", f.name));
        }
    }
    if entities.is_empty() {
        return Ok(());
    }
    // Bad input (exit 2): this trace and this target file cannot go together.
    Err(crate::UsageError(format!(
        "the HTTP target {target} cannot run this trace: it declares {} (OpenWhisk entities; \
         an HTTP target only calls the URLs of its target file). Run it against OpenWhisk or \
         the embedded platform, or remove them from the trace",
        entities.join(", ")
    ))
    .into())
}

/// What [`Session::deploy`] did: so many functions, each for so many namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deployed {
    /// Distinct functions deployed.
    pub functions: usize,
    /// Namespaces (credentials sets) each was deployed in.
    pub namespaces: usize,
}

impl std::fmt::Display for Deployed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plural = |n: usize, one: &'static str, many: &'static str| {
            format!("{n} {}", if n == 1 { one } else { many })
        };
        let functions = plural(self.functions, "function", "functions");
        if self.namespaces <= 1 || self.functions == 0 {
            write!(f, "deployed {functions}")
        } else {
            write!(
                f,
                "deployed {functions} × {} ({} deployments)",
                plural(self.namespaces, "namespace", "namespaces"),
                self.functions * self.namespaces
            )
        }
    }
}

impl Session {
    /// Connect to the target (starting the embedded platform if that is the target).
    pub fn connect(
        rt: &tokio::runtime::Runtime,
        target: &Target,
        declared_users: &[UserSpec],
        client: ClientSettings,
    ) -> anyhow::Result<Session> {
        if let Target::Http(t) = target {
            let client = HttpClient::new(t, client.connections, client.request_timeout)?;
            return Ok(Session {
                backend: Arc::new(Client::Http(client)),
                apihost: t.file.display().to_string(),
                users: HashMap::new(),
                embedded: None,
            });
        }
        let mut credentials = Vec::new();
        let mut users = HashMap::new();
        let mut embedded = None;
        let apihost = match target {
            Target::Http(_) => unreachable!("returned above"),
            Target::Embedded => {
                let mut cfg = PlatformConfig::new()
                    .context("cannot locate the gale executable to run actions")?;
                if let Some(file) = &client.platform_config {
                    crate::config::platform_file::load(file, &mut cfg)?;
                }
                let mut seed = None;
                for (key, value) in &client.platform_settings {
                    crate::config::overrides::apply(&mut cfg.model, &mut seed, key, value)
                        .map_err(|message| crate::config::ConfigError {
                            file: None,
                            line: None,
                            message,
                        })?;
                }
                if let Some(seed) = seed {
                    cfg.model.seed = seed;
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
            backend: Arc::new(Client::OpenWhisk(backend)),
            apihost,
            users,
            embedded,
        };
        let Some(ow) = session.backend.openwhisk() else {
            unreachable!("an OpenWhisk client was built above")
        };
        if let Err(e) = rt.block_on(ow.check(0)) {
            anyhow::bail!(check_failure(target, &session.apihost, &e));
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

    /// Deploy the packages and functions for every credentials set in use, in an order
    /// that makes each valid ([`deploy::phases`]): packages, actions, sequences, triggers
    /// with their rules. Synthetic functions are only deployed on the embedded platform;
    /// elsewhere they must already exist. When a function is a web action, the names of
    /// the namespaces (which web URLs need) are learnt too. An HTTP target deploys nothing
    /// and refuses a trace with OpenWhisk entities ([`refuse_entities_on_http`]).
    pub fn deploy(
        &self,
        rt: &tokio::runtime::Runtime,
        packages: &[PackageSpec],
        functions: &[FunctionSpec],
    ) -> anyhow::Result<Deployed> {
        let ow = match &*self.backend {
            Client::OpenWhisk(ow) => ow,
            Client::Http(_) => {
                refuse_entities_on_http(packages, functions, &self.apihost)?;
                if functions.iter().any(|f| f.deploy) {
                    tracing::info!(
                        "an HTTP target has no deployment API: the trace's functions are called as \
                         they are served"
                    );
                }
                return Ok(Deployed {
                    functions: 0,
                    namespaces: 1,
                });
            }
        };
        let user_indexes = self.user_indexes();
        let implied = deploy::implied_packages(packages, functions);
        let mut deployed = Deployed {
            functions: 0,
            namespaces: user_indexes.len(),
        };
        // Thousands of functions must not mean thousands of connections at once.
        let slots = Arc::new(tokio::sync::Semaphore::new(16));
        for phase in deploy::phases(packages, &implied, functions) {
            let mut set = JoinSet::new();
            for step in phase {
                if let Step::Function(f) = step {
                    if f.kind == SYNTHETIC_KIND && !self.is_embedded() {
                        tracing::debug!(
                            "function `{}` is synthetic (kind {SYNTHETIC_KIND}), which only gale's embedded platform runs: \
                             not deployed on {}; it must exist there",
                            f.name,
                            self.apihost
                        );
                        continue;
                    }
                    deployed.functions += 1;
                }
                for &u in &user_indexes {
                    let (backend, slots) = (self.backend.clone(), slots.clone());
                    let task: DeployTask = match step {
                        Step::Package(p, replace) => {
                            let p = p.clone();
                            Box::pin(async move {
                                let _slot = slots.acquire().await;
                                backend
                                    .deploy_package(u, &p, replace)
                                    .await
                                    .with_context(|| format!("cannot create package `{}`", p.name))
                            })
                        }
                        Step::Function(f) => {
                            let f = f.clone();
                            Box::pin(async move {
                                let _slot = slots.acquire().await;
                                backend
                                    .deploy(u, &f)
                                    .await
                                    .with_context(|| format!("cannot deploy `{}`", f.name))
                            })
                        }
                    };
                    set.spawn_on(task, rt.handle());
                }
            }
            rt.block_on(async {
                while let Some(r) = set.join_next().await {
                    r??;
                }
                anyhow::Ok(())
            })?;
        }
        if functions.iter().any(|f| f.web.is_some()) {
            rt.block_on(ow.resolve_web_namespaces())
                .context("cannot learn the namespaces' names, which web action URLs need")?;
        }
        Ok(deployed)
    }

    /// Every credentials index in use: 0 (the run's own) and the users'.
    pub fn user_indexes(&self) -> BTreeSet<usize> {
        std::iter::once(0)
            .chain(self.users.values().copied())
            .collect()
    }

    /// Which of `needed` (credentials index, function) do not exist on the
    /// platform, as `function` (or `function (as user N)` beyond the run's own key),
    /// sorted. Asked before the first invocation, 16 at a time.
    pub fn missing_functions(
        &self,
        rt: &tokio::runtime::Runtime,
        needed: &BTreeSet<(usize, String)>,
    ) -> anyhow::Result<Vec<String>> {
        if let Client::Http(http) = &*self.backend {
            let mut missing: Vec<String> = needed
                .iter()
                .filter(|(_, f)| !http.has_route(f))
                .map(|(_, f)| format!("{f} (no `url` for it in {})", self.apihost))
                .collect();
            missing.dedup();
            return Ok(missing);
        }
        let slots = Arc::new(tokio::sync::Semaphore::new(16));
        let mut set = JoinSet::new();
        for (user, name) in needed {
            let (backend, slots, user, name) =
                (self.backend.clone(), slots.clone(), *user, name.clone());
            set.spawn_on(
                async move {
                    let _slot = slots.acquire().await;
                    let exists = match backend.openwhisk() {
                        Some(ow) => ow.action_exists(user, &name).await,
                        None => Ok(true),
                    };
                    (user, name, exists)
                },
                rt.handle(),
            );
        }
        let labels: HashMap<usize, &str> =
            self.users.iter().map(|(l, &i)| (i, l.as_ref())).collect();
        rt.block_on(async {
            let mut missing = Vec::new();
            while let Some(r) = set.join_next().await {
                let (user, name, exists) = r?;
                if !exists.with_context(|| format!("cannot check that `{name}` exists"))? {
                    missing.push(match labels.get(&user) {
                        Some(label) if user != 0 => format!("{name} (as user {label})"),
                        _ => name,
                    });
                }
            }
            missing.sort();
            missing.dedup();
            anyhow::Ok(missing)
        })
    }

    /// Pre-flight: stop here, naming them, when any of `needed` (credentials index,
    /// function) does not exist on the platform. `what` says who needs them ("the trace
    /// invokes"), `remedy` how to get them there.
    pub fn require_functions(
        &self,
        rt: &tokio::runtime::Runtime,
        needed: &BTreeSet<(usize, String)>,
        what: &str,
        remedy: &str,
    ) -> anyhow::Result<()> {
        if needed.is_empty() {
            return Ok(());
        }
        let missing = self.missing_functions(rt, needed)?;
        if missing.is_empty() {
            return Ok(());
        }
        let mut list = missing
            .iter()
            .take(LIST_AT_MOST)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        if missing.len() > LIST_AT_MOST {
            list += &format!(" and {} more", missing.len() - LIST_AT_MOST);
        }
        let (count, are, them) = match missing.len() {
            1 => ("1 function".to_string(), "is", "it"),
            n => (format!("{n} functions"), "are", "them"),
        };
        let remedy = remedy.replace("{them}", them);
        anyhow::bail!(
            "{count} {what} {are} not on the platform at {}: {list}; nothing was invoked \
             ({remedy})",
            self.apihost
        )
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
