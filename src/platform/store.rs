//! Namespaces, their keys and their actions.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::Engine;

use super::action::Action;
use super::limits::Throttle;
use super::{Limits, NamespaceKey};

/// A namespace: its key, its actions, its admission counters.
#[derive(Debug)]
pub struct Namespace {
    /// Name (what `_` resolves to).
    pub name: Arc<str>,
    /// `UUID:KEY`.
    pub key: String,
    /// The exact `Authorization` header value clients send, precomputed so the common case
    /// is one string comparison.
    pub auth_header: String,
    /// Admission counters.
    pub throttle: Throttle,
    actions: RwLock<HashMap<Arc<str>, Arc<Action>>>,
}

impl Namespace {
    /// A namespace with no actions.
    pub fn new(key: &NamespaceKey, limits: &Limits) -> Self {
        Namespace {
            name: key.namespace.as_str().into(),
            key: key.key.clone(),
            auth_header: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(&key.key)
            ),
            throttle: Throttle::new(limits),
            actions: RwLock::new(HashMap::new()),
        }
    }

    /// The current revision of an action.
    pub fn action(&self, name: &str) -> Option<Arc<Action>> {
        self.read().get(name).cloned()
    }

    /// All actions, newest update first.
    pub fn actions(&self) -> Vec<Arc<Action>> {
        let mut all: Vec<Arc<Action>> = self.read().values().cloned().collect();
        all.sort_by(|a, b| b.updated.cmp(&a.updated).then(b.rev.cmp(&a.rev)));
        all
    }

    /// Apply `f` to the current revision (if any) under the write lock: the decision to
    /// create, update or refuse and the store update are one atomic step.
    pub fn modify<T, E>(
        &self,
        name: &str,
        f: impl FnOnce(Option<&Arc<Action>>) -> Result<(Option<Arc<Action>>, T), E>,
    ) -> Result<(Option<Arc<Action>>, T), E> {
        let mut map = self.actions.write().unwrap_or_else(|p| p.into_inner());
        let current = map.get(name);
        let (new, out) = f(current)?;
        let old = match new {
            Some(action) => map.insert(action.name.clone(), action),
            None => map.remove(name),
        };
        Ok((old, out))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Arc<str>, Arc<Action>>> {
        self.actions.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// All namespaces of the platform.
#[derive(Debug)]
pub struct Namespaces {
    list: Vec<Arc<Namespace>>,
}

impl Namespaces {
    /// From the configured keys.
    pub fn new(keys: &[NamespaceKey], limits: &Limits) -> Self {
        Namespaces {
            list: keys
                .iter()
                .map(|k| Arc::new(Namespace::new(k, limits)))
                .collect(),
        }
    }

    /// The namespace whose `Authorization` header this is.
    pub fn by_auth_header(&self, header: &[u8]) -> Option<&Arc<Namespace>> {
        if let Some(ns) = self
            .list
            .iter()
            .find(|n| n.auth_header.as_bytes() == header)
        {
            return Some(ns);
        }
        // Slow path: other spellings of the same credentials ("basic", extra spaces).
        let text = std::str::from_utf8(header).ok()?.trim();
        let (scheme, rest) = text.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()?;
        self.list.iter().find(|n| n.key.as_bytes() == decoded)
    }
}
