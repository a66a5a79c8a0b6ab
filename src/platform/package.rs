//! Package entities: the PUT body, create/update merging, bindings, and their JSON shapes.
//!
//! A package groups actions (stored as `package/name` in their namespace) and gives them
//! default parameters; a binding is a package of its own namespace that points at another
//! (possibly another namespace's published) package and adds parameters over its.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::action::{bump_patch, merge_annotations, Action, Annotation, Param, PutError};
use super::store::Stored;

/// The package a binding points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// Its namespace (resolved, never `_`).
    pub namespace: Arc<str>,
    /// Its name.
    pub name: Arc<str>,
}

/// A stored package or binding.
#[derive(Debug)]
pub struct Package {
    /// Owning namespace.
    pub namespace: Arc<str>,
    /// Name.
    pub name: Arc<str>,
    /// Semantic version, patch-bumped on update.
    pub version: Arc<str>,
    /// Shared with other namespaces (they may read it, bind to it and invoke its actions).
    pub publish: bool,
    /// Default parameters of the package's actions (below theirs).
    pub parameters: Vec<Param>,
    /// Annotations.
    pub annotations: Vec<Annotation>,
    /// For a binding, the package it binds.
    pub binding: Option<Binding>,
    /// Last update, epoch ms.
    pub updated: u64,
}

impl Stored for Package {
    fn updated(&self) -> u64 {
        self.updated
    }
}

/// The PUT body (OpenWhisk's `WhiskPackagePut`): every field optional.
#[derive(Debug, Default, Deserialize)]
pub struct PackagePut {
    parameters: Option<Vec<Param>>,
    annotations: Option<Vec<Annotation>>,
    #[serde(rename = "delAnnotations")]
    del_annotations: Option<Vec<String>>,
    publish: Option<bool>,
    version: Option<String>,
    binding: Option<BindingPut>,
}

/// `{"namespace": …, "name": …}`; an empty object (what `wsk` sends for a plain package)
/// means no binding.
#[derive(Debug, Default, Deserialize)]
pub struct BindingPut {
    namespace: Option<String>,
    name: Option<String>,
}

impl PackagePut {
    /// Parse a PUT body (empty = `{}`).
    pub fn parse(body: &[u8]) -> Result<PackagePut, PutError> {
        parse_body(body)
    }

    /// The binding this body asks for, `_` resolved to `caller`: `(namespace, name)`.
    pub fn binding(&self, caller: &str) -> Result<Option<(String, String)>, PutError> {
        let Some(b) = &self.binding else {
            return Ok(None);
        };
        match (b.namespace.as_deref(), b.name.as_deref()) {
            (None | Some(""), None | Some("")) => Ok(None),
            (ns, Some(name)) if !name.is_empty() => {
                let ns = match ns {
                    None | Some("") | Some("_") => caller,
                    Some(n) => n,
                };
                Ok(Some((ns.to_string(), name.to_string())))
            }
            _ => Err(PutError(
                "The binding must name the package it binds: {\"namespace\":…,\"name\":…}.".into(),
            )),
        }
    }

    /// A new package (`binding` already checked by the caller).
    pub fn create(
        self,
        namespace: &Arc<str>,
        name: &str,
        binding: Option<Binding>,
        now_ms: u64,
    ) -> Package {
        let mut annotations = Vec::new();
        merge_annotations(&mut annotations, self.annotations.unwrap_or_default(), &[]);
        Package {
            namespace: namespace.clone(),
            name: name.into(),
            version: self.version.unwrap_or_else(|| "0.0.1".into()).into(),
            publish: self.publish.unwrap_or(false),
            parameters: self.parameters.unwrap_or_default(),
            annotations,
            binding,
            updated: now_ms,
        }
    }

    /// The next version of `old`, merged field by field; `binding` replaces the old one
    /// only when the body names one.
    pub fn update(self, old: &Package, binding: Option<Binding>, now_ms: u64) -> Package {
        let mut annotations = old.annotations.clone();
        merge_annotations(
            &mut annotations,
            self.annotations.unwrap_or_default(),
            &self.del_annotations.unwrap_or_default(),
        );
        Package {
            namespace: old.namespace.clone(),
            name: old.name.clone(),
            version: self
                .version
                .unwrap_or_else(|| bump_patch(&old.version))
                .into(),
            publish: self.publish.unwrap_or(old.publish),
            parameters: self.parameters.unwrap_or_else(|| old.parameters.clone()),
            annotations,
            binding: binding.or_else(|| old.binding.clone()),
            updated: now_ms,
        }
    }
}

/// Parse an entity PUT body: empty is `{}`; unknown fields are ignored as OpenWhisk does.
pub fn parse_body<T: Default + serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, PutError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| PutError(format!("The request content was malformed:\n{e}")))
}

/// Parameters as the run-time map (init parameters left out: they are an action's only).
pub fn param_map(params: &[Param]) -> Map<String, Value> {
    params
        .iter()
        .filter(|p| !p.init)
        .map(|p| (p.key.clone(), p.value.clone()))
        .collect()
}

/// `{"namespace","name"}` of a binding, `{}` for a plain package (OpenWhisk's shape).
fn binding_json(b: &Option<Binding>) -> Value {
    match b {
        Some(b) => json!({"namespace": &*b.namespace, "name": &*b.name}),
        None => json!({}),
    }
}

/// The list summary of a package.
pub fn summary(p: &Package) -> Value {
    json!({
        "namespace": &*p.namespace,
        "name": &*p.name,
        "version": &*p.version,
        "publish": p.publish,
        "annotations": p.annotations,
        "binding": binding_json(&p.binding),
        "updated": p.updated,
    })
}

/// The full package as GET, PUT and DELETE answer it. For a binding, `parameters` are the
/// bound package's with the binding's over them and `actions` the bound package's, as
/// OpenWhisk shows a binding (`bound` is that package, when it still exists).
pub fn full(p: &Package, bound: Option<&Package>, actions: &[Arc<Action>]) -> Value {
    let parameters: Vec<Param> = match bound {
        Some(b) => merge_params(&b.parameters, &p.parameters),
        None => p.parameters.clone(),
    };
    let actions: Vec<Value> = actions
        .iter()
        .map(|a| {
            json!({
                "name": &*a.name,
                "version": &*a.version,
                "annotations": a.annotations,
            })
        })
        .collect();
    json!({
        "namespace": &*p.namespace,
        "name": &*p.name,
        "version": &*p.version,
        "publish": p.publish,
        "annotations": p.annotations,
        "parameters": parameters,
        "binding": binding_json(&p.binding),
        "actions": actions,
        "feeds": [],
        "updated": p.updated,
    })
}

/// `over` replacing same-key entries of `base` (order: base's, then new keys).
pub fn merge_params(base: &[Param], over: &[Param]) -> Vec<Param> {
    let mut out = base.to_vec();
    for p in over {
        match out.iter_mut().find(|q| q.key == p.key) {
            Some(q) => *q = p.clone(),
            None => out.push(p.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(k: &str, v: i64) -> Param {
        Param {
            key: k.into(),
            value: json!(v),
            init: false,
        }
    }

    #[test]
    fn binding_forms() {
        let put = |s: &str| PackagePut::parse(s.as_bytes()).unwrap();
        assert_eq!(put("{}").binding("guest").unwrap(), None);
        assert_eq!(put(r#"{"binding":{}}"#).binding("guest").unwrap(), None);
        assert_eq!(
            put(r#"{"binding":{"namespace":"_","name":"p"}}"#)
                .binding("guest")
                .unwrap(),
            Some(("guest".into(), "p".into()))
        );
        assert_eq!(
            put(r#"{"binding":{"namespace":"other","name":"p"}}"#)
                .binding("guest")
                .unwrap(),
            Some(("other".into(), "p".into()))
        );
        assert!(put(r#"{"binding":{"namespace":"other"}}"#)
            .binding("guest")
            .is_err());
        assert!(PackagePut::parse(b"{\"parameters\":3}").is_err());
    }

    #[test]
    fn update_merges() {
        let ns: Arc<str> = "guest".into();
        let a = PackagePut::parse(br#"{"parameters":[{"key":"a","value":1}],"publish":true}"#)
            .unwrap()
            .create(&ns, "p", None, 1);
        assert_eq!(&*a.version, "0.0.1");
        let b = PackagePut::parse(br#"{"annotations":[{"key":"x","value":1}]}"#)
            .unwrap()
            .update(&a, None, 2);
        assert_eq!(&*b.version, "0.0.2");
        assert!(b.publish);
        assert_eq!(b.parameters, a.parameters);
        assert_eq!(
            merge_params(
                &[param("a", 1), param("b", 2)],
                &[param("b", 3), param("c", 4)]
            ),
            vec![param("a", 1), param("b", 3), param("c", 4)]
        );
    }
}
