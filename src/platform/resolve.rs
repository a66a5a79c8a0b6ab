//! Finding the action an invocation names: `name` or `package/name` in a namespace, through
//! bindings, with OpenWhisk's visibility rule (another namespace's entities are visible only
//! inside its published packages) and its parameter precedence
//! (bound package < binding < action < invocation).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::action::Action;
use super::package::{param_map, Package};
use super::store::Namespace;
use super::Shared;

/// Why a name does not lead to an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// 404: no such action or package.
    NotFound,
    /// 403: it belongs to another namespace and is not published.
    Forbidden,
}

/// A resolved action and the package parameters that apply to it.
#[derive(Debug, Clone)]
pub struct Target {
    /// The action's current revision.
    pub action: Arc<Action>,
    /// Parameters of its package (and binding), below the action's own; empty outside one.
    pub package_params: Map<String, Value>,
}

impl Target {
    /// The parameters a run gets: package < action < `params`. The action's own defaults
    /// are applied again when it runs, which changes nothing: they are already here, under
    /// the invocation's.
    pub fn params(&self, params: Map<String, Value>) -> Map<String, Value> {
        if self.package_params.is_empty() {
            return params;
        }
        let mut merged = self.package_params.clone();
        merged.extend(
            self.action
                .defaults
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        merged.extend(params);
        merged
    }

    /// Whether `params` redefines a bound parameter of a `final` action.
    pub fn redefines_final(&self, params: &Map<String, Value>) -> bool {
        self.action.final_params
            && params.keys().any(|k| {
                self.action.defaults.contains_key(k) || self.package_params.contains_key(k)
            })
    }
}

/// A package of `owner` as `caller` may see it.
pub fn package(caller: &Namespace, owner: &Namespace, name: &str) -> Result<Arc<Package>, Missing> {
    let own = std::ptr::eq(caller, owner);
    match owner.packages.get(name) {
        Some(p) if own || p.publish => Ok(p),
        Some(_) => Err(Missing::Forbidden),
        None if own => Err(Missing::NotFound),
        // Another namespace's missing package looks like a private one.
        None => Err(Missing::Forbidden),
    }
}

/// The package a binding points at, and its owner: a binding may point at its own
/// namespace's packages or at published ones.
pub fn bound(
    shared: &Shared,
    binding: &Package,
) -> Result<(Arc<Namespace>, Arc<Package>), Missing> {
    let Some(b) = &binding.binding else {
        return Err(Missing::NotFound);
    };
    let owner = shared
        .namespaces
        .by_name(&b.namespace)
        .ok_or(Missing::NotFound)?;
    let p = owner.packages.get(&b.name).ok_or(Missing::NotFound)?;
    if *owner.name != *binding.namespace && !p.publish {
        return Err(Missing::Forbidden);
    }
    Ok((owner.clone(), p))
}

/// Resolve `name` (`action` or `package/action`) in namespace `ns` for `caller`.
pub fn action(
    shared: &Shared,
    caller: &Namespace,
    ns: &str,
    name: &str,
) -> Result<Target, Missing> {
    // The common case, one's own namespace, needs no search.
    let owner: &Namespace = if *caller.name == *ns {
        caller
    } else {
        match shared.namespaces.by_name(ns) {
            Some(o) => o,
            None => return Err(Missing::Forbidden),
        }
    };
    let own = std::ptr::eq(caller, owner);
    match name.split_once('/') {
        None => {
            if !own {
                return Err(Missing::Forbidden);
            }
            let action = owner.action(name).ok_or(Missing::NotFound)?;
            Ok(Target {
                action,
                package_params: Map::new(),
            })
        }
        Some((pkg, simple)) => {
            let p = package(caller, owner, pkg)?;
            if p.binding.is_some() {
                let (bound_owner, bound) = bound(shared, &p)?;
                let action = bound_owner
                    .action(&format!("{}/{simple}", bound.name))
                    .ok_or(Missing::NotFound)?;
                let mut package_params = param_map(&bound.parameters);
                package_params.extend(param_map(&p.parameters));
                Ok(Target {
                    action,
                    package_params,
                })
            } else {
                let action = owner.action(name).ok_or(Missing::NotFound)?;
                Ok(Target {
                    action,
                    package_params: param_map(&p.parameters),
                })
            }
        }
    }
}

/// Resolve a fully qualified name `/ns/[pkg/]action` (sequence components, rule actions).
pub fn qualified(shared: &Shared, caller: &Namespace, path: &str) -> Result<Target, Missing> {
    let rest = path.strip_prefix('/').unwrap_or(path);
    let (ns, name) = rest.split_once('/').ok_or(Missing::NotFound)?;
    let ns = if ns == "_" { &*caller.name } else { ns };
    action(shared, caller, ns, name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::action::ActionPut;
    use serde_json::json;

    fn action(body: &str) -> Arc<Action> {
        let ns: Arc<str> = "guest/pkg".into();
        Arc::new(
            ActionPut::parse(body.as_bytes())
                .unwrap()
                .create(&ns, "a", 1)
                .unwrap(),
        )
    }

    fn map(v: serde_json::Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn precedence_package_action_invocation() {
        let t = Target {
            action: action(
                r#"{"exec":{"kind":"gale:synthetic"},"parameters":[{"key":"b","value":"action"},{"key":"c","value":"action"}]}"#,
            ),
            package_params: map(json!({"a": "pkg", "b": "pkg", "c": "pkg"})),
        };
        assert_eq!(
            Value::Object(t.params(map(json!({"c": "call"})))),
            json!({"a": "pkg", "b": "action", "c": "call"})
        );
        assert!(!t.redefines_final(&map(json!({"a": 1}))));
        // Outside a package the invocation's parameters pass as they are.
        let plain = Target {
            action: t.action.clone(),
            package_params: Map::new(),
        };
        assert_eq!(
            Value::Object(plain.params(map(json!({"x": 1})))),
            json!({"x": 1})
        );
    }

    #[test]
    fn final_covers_package_parameters() {
        let t = Target {
            action: action(
                r#"{"exec":{"kind":"gale:synthetic"},"parameters":[{"key":"b","value":1}],"annotations":[{"key":"final","value":true}]}"#,
            ),
            package_params: map(json!({"a": 1})),
        };
        assert!(t.redefines_final(&map(json!({"a": 2}))));
        assert!(t.redefines_final(&map(json!({"b": 2}))));
        assert!(!t.redefines_final(&map(json!({"c": 2}))));
    }
}
