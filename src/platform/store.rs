//! Namespaces, their keys and their actions.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use base64::Engine;

use super::action::Action;
use super::limits::Throttle;
use super::package::Package;
use super::trigger::{Rule, Trigger};
use super::{Limits, NamespaceKey};

/// A namespace: its key, its entities (actions, packages, triggers, rules), its admission
/// counters.
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
    /// Keyed by `name` or `package/name`.
    actions: RwLock<HashMap<Arc<str>, Arc<Action>>>,
    /// Packages and bindings.
    pub packages: Table<Package>,
    /// Triggers.
    pub triggers: Table<Trigger>,
    /// Rules.
    pub rules: Table<Rule>,
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
            packages: Table::default(),
            triggers: Table::default(),
            rules: Table::default(),
        }
    }

    /// The current revision of an action (`name`, or `package/name` inside a package).
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
            Some(action) => map.insert(name.into(), action),
            None => map.remove(name),
        };
        Ok((old, out))
    }

    /// The actions inside package `package`, newest update first.
    pub fn actions_in(&self, package: &str) -> Vec<Arc<Action>> {
        let mut all: Vec<Arc<Action>> = self
            .read()
            .iter()
            .filter(|(k, _)| k.split_once('/').is_some_and(|(p, _)| p == package))
            .map(|(_, a)| a.clone())
            .collect();
        all.sort_by(|a, b| b.updated.cmp(&a.updated).then(b.rev.cmp(&a.rev)));
        all
    }

    /// Remove every action of `package` (a forced package delete); returns them.
    pub fn remove_actions_in(&self, package: &str) -> Vec<Arc<Action>> {
        let mut map = self.actions.write().unwrap_or_else(|p| p.into_inner());
        let keys: Vec<Arc<str>> = map
            .keys()
            .filter(|k| k.split_once('/').is_some_and(|(p, _)| p == package))
            .cloned()
            .collect();
        keys.iter().filter_map(|k| map.remove(k)).collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Arc<str>, Arc<Action>>> {
        self.actions.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// Entities other than actions share this shape: stored by name, listed newest first.
pub trait Stored {
    /// Last update, epoch ms (the list order).
    fn updated(&self) -> u64;
}

/// One kind of entity of a namespace, behind a lock held only to copy an `Arc`.
#[derive(Debug)]
pub struct Table<T> {
    map: RwLock<HashMap<Arc<str>, Arc<T>>>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            map: RwLock::new(HashMap::new()),
        }
    }
}

impl<T: Stored> Table<T> {
    /// The entity named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<T>> {
        self.map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// All entities, newest update first (ties by name, for a stable order).
    pub fn list(&self) -> Vec<(Arc<str>, Arc<T>)> {
        let mut all: Vec<(Arc<str>, Arc<T>)> = self
            .map
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all.sort_by(|a, b| b.1.updated().cmp(&a.1.updated()).then(a.0.cmp(&b.0)));
        all
    }

    /// Apply `f` to the current entity (if any) under the write lock, storing what it
    /// returns (`None` deletes); returns the previous entity and `f`'s output.
    pub fn modify<R, E>(
        &self,
        name: &str,
        f: impl FnOnce(Option<&Arc<T>>) -> Result<(Option<Arc<T>>, R), E>,
    ) -> Result<(Option<Arc<T>>, R), E> {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        let (new, out) = f(map.get(name))?;
        let old = match new {
            Some(v) => map.insert(name.into(), v),
            None => map.remove(name),
        };
        Ok((old, out))
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

    /// The namespace named `name`.
    pub fn by_name(&self, name: &str) -> Option<&Arc<Namespace>> {
        self.list.iter().find(|n| &*n.name == name)
    }

    /// Every namespace, in configuration order.
    pub fn all(&self) -> &[Arc<Namespace>] {
        &self.list
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
