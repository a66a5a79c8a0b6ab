//! Triggers and rules: the entities, their JSON shapes, and firing a trigger, which starts
//! one activation per active rule and records the trigger's own activation as OpenWhisk
//! does (its `logs` are one JSON line per rule).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use super::action::{bump_patch, merge_annotations, ActionLimits, Annotation, Param, PutError};
use super::activate::{self, Start};
use super::activation::{Activation, Entity, Status};
use super::ids::Id;
use super::limits::Throttle;
use super::package::param_map;
use super::resolve::{self, Missing};
use super::store::{Namespace, Stored};
use super::Shared;
use crate::timefmt::{epoch_ms, epoch_us};

/// A stored trigger.
#[derive(Debug)]
pub struct Trigger {
    /// Owning namespace.
    pub namespace: Arc<str>,
    /// Name.
    pub name: Arc<str>,
    /// Semantic version.
    pub version: Arc<str>,
    /// Stored and echoed.
    pub publish: bool,
    /// Parameters every fire carries, under the fire's payload.
    pub parameters: Vec<Param>,
    /// Annotations (a `feed` annotation is stored; gale runs no feeds).
    pub annotations: Vec<Annotation>,
    /// `limits` as given (OpenWhisk defines none per trigger).
    pub limits: Map<String, Value>,
    /// Last update, epoch ms.
    pub updated: u64,
}

impl Stored for Trigger {
    fn updated(&self) -> u64 {
        self.updated
    }
}

/// The PUT body of a trigger.
#[derive(Debug, Default, Deserialize)]
pub struct TriggerPut {
    parameters: Option<Vec<Param>>,
    annotations: Option<Vec<Annotation>>,
    #[serde(rename = "delAnnotations")]
    del_annotations: Option<Vec<String>>,
    limits: Option<Map<String, Value>>,
    publish: Option<bool>,
    version: Option<String>,
}

impl TriggerPut {
    /// A new trigger.
    pub fn create(self, namespace: &Arc<str>, name: &str, now_ms: u64) -> Trigger {
        let mut annotations = Vec::new();
        merge_annotations(&mut annotations, self.annotations.unwrap_or_default(), &[]);
        Trigger {
            namespace: namespace.clone(),
            name: name.into(),
            version: self.version.unwrap_or_else(|| "0.0.1".into()).into(),
            publish: self.publish.unwrap_or(false),
            parameters: self.parameters.unwrap_or_default(),
            annotations,
            limits: self.limits.unwrap_or_default(),
            updated: now_ms,
        }
    }

    /// The next version of `old`, merged field by field.
    pub fn update(self, old: &Trigger, now_ms: u64) -> Trigger {
        let mut annotations = old.annotations.clone();
        merge_annotations(
            &mut annotations,
            self.annotations.unwrap_or_default(),
            &self.del_annotations.unwrap_or_default(),
        );
        Trigger {
            namespace: old.namespace.clone(),
            name: old.name.clone(),
            version: self
                .version
                .unwrap_or_else(|| bump_patch(&old.version))
                .into(),
            publish: self.publish.unwrap_or(old.publish),
            parameters: self.parameters.unwrap_or_else(|| old.parameters.clone()),
            annotations,
            limits: self.limits.unwrap_or_else(|| old.limits.clone()),
            updated: now_ms,
        }
    }
}

/// A fully qualified entity name as rules show them: `{"path": "ns[/pkg]", "name": …}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullName {
    /// Namespace, and package for an action inside one.
    pub path: Arc<str>,
    /// Simple name.
    pub name: Arc<str>,
}

impl FullName {
    /// Parse `name`, `pkg/name`, `/ns/name` or `/ns/pkg/name` (`_` = `caller`); `None` when
    /// it has another shape. A trigger has no package (`allow_package` false).
    pub fn parse(text: &str, caller: &str, allow_package: bool) -> Option<FullName> {
        let (ns, rest): (&str, Vec<&str>) = match text.strip_prefix('/') {
            Some(q) => {
                let mut parts = q.split('/');
                let ns = parts.next()?;
                (if ns == "_" { caller } else { ns }, parts.collect())
            }
            None => (caller, text.split('/').collect()),
        };
        let ok = !rest.is_empty()
            && rest.len() <= if allow_package { 2 } else { 1 }
            && rest.iter().all(|p| super::action::valid_name(p))
            && super::action::valid_name(ns);
        if !ok {
            return None;
        }
        let (name, pkg) = rest.split_last()?;
        let mut path = ns.to_string();
        for p in pkg {
            path.push('/');
            path.push_str(p);
        }
        Some(FullName {
            path: path.into(),
            name: (*name).into(),
        })
    }

    /// `path/name`.
    pub fn qualified(&self) -> String {
        format!("{}/{}", self.path, self.name)
    }

    fn json(&self) -> Value {
        json!({"path": &*self.path, "name": &*self.name})
    }
}

/// A stored rule.
#[derive(Debug)]
pub struct Rule {
    /// Owning namespace.
    pub namespace: Arc<str>,
    /// Name.
    pub name: Arc<str>,
    /// Semantic version.
    pub version: Arc<str>,
    /// Stored and echoed.
    pub publish: bool,
    /// Annotations.
    pub annotations: Vec<Annotation>,
    /// Whether fires of its trigger start its action.
    pub active: bool,
    /// The trigger (of the rule's namespace).
    pub trigger: FullName,
    /// The action it starts.
    pub action: FullName,
    /// Last update, epoch ms.
    pub updated: u64,
}

impl Stored for Rule {
    fn updated(&self) -> u64 {
        self.updated
    }
}

/// The PUT body of a rule.
#[derive(Debug, Default, Deserialize)]
pub struct RulePut {
    /// Trigger name, as given.
    pub trigger: Option<String>,
    /// Action name, as given.
    pub action: Option<String>,
    /// Ignored on update (status changes through POST), as OpenWhisk does.
    pub status: Option<String>,
    annotations: Option<Vec<Annotation>>,
    publish: Option<bool>,
    version: Option<String>,
}

impl RulePut {
    /// A new rule, active unless the body says `inactive`.
    pub fn create(
        self,
        namespace: &Arc<str>,
        name: &str,
        trigger: FullName,
        action: FullName,
        now_ms: u64,
    ) -> Rule {
        let mut annotations = Vec::new();
        merge_annotations(&mut annotations, self.annotations.unwrap_or_default(), &[]);
        Rule {
            namespace: namespace.clone(),
            name: name.into(),
            version: self.version.unwrap_or_else(|| "0.0.1".into()).into(),
            publish: self.publish.unwrap_or(false),
            annotations,
            active: self.status.as_deref() != Some("inactive"),
            trigger,
            action,
            updated: now_ms,
        }
    }

    /// The next version of `old` with (possibly) a new trigger and action.
    pub fn update(self, old: &Rule, trigger: FullName, action: FullName, now_ms: u64) -> Rule {
        let mut annotations = old.annotations.clone();
        merge_annotations(&mut annotations, self.annotations.unwrap_or_default(), &[]);
        Rule {
            namespace: old.namespace.clone(),
            name: old.name.clone(),
            version: self
                .version
                .unwrap_or_else(|| bump_patch(&old.version))
                .into(),
            publish: self.publish.unwrap_or(old.publish),
            annotations,
            active: old.active,
            trigger,
            action,
            updated: now_ms,
        }
    }
}

/// `active` / `inactive`.
pub fn status_text(active: bool) -> &'static str {
    if active {
        "active"
    } else {
        "inactive"
    }
}

/// A rule as GET, PUT and DELETE answer it.
pub fn rule_json(r: &Rule) -> Value {
    json!({
        "namespace": &*r.namespace,
        "name": &*r.name,
        "version": &*r.version,
        "publish": r.publish,
        "annotations": r.annotations,
        "status": status_text(r.active),
        "trigger": r.trigger.json(),
        "action": r.action.json(),
        "updated": r.updated,
    })
}

/// A trigger as GET, PUT and DELETE answer it; `rules` (GET only) maps each rule of the
/// trigger (`ns/name`) to its action and status, as OpenWhisk shows them.
pub fn trigger_json(t: &Trigger, rules: Option<&[Arc<Rule>]>) -> Value {
    let mut v = json!({
        "namespace": &*t.namespace,
        "name": &*t.name,
        "version": &*t.version,
        "publish": t.publish,
        "annotations": t.annotations,
        "parameters": t.parameters,
        "limits": t.limits,
        "updated": t.updated,
    });
    if let Some(rules) = rules {
        let map: Map<String, Value> = rules
            .iter()
            .map(|r| {
                (
                    format!("{}/{}", r.namespace, r.name),
                    json!({"action": r.action.json(), "status": status_text(r.active)}),
                )
            })
            .collect();
        v["rules"] = Value::Object(map);
    }
    v
}

/// The list summary of a trigger or rule.
pub fn summary(
    namespace: &str,
    name: &str,
    version: &str,
    publish: bool,
    updated: u64,
    annotations: &[Annotation],
) -> Value {
    json!({
        "namespace": namespace,
        "name": name,
        "version": version,
        "publish": publish,
        "annotations": annotations,
        "updated": updated,
    })
}

/// The rules of `ns` whose trigger is `trigger` (of `ns`).
pub fn rules_of(ns: &Namespace, trigger: &str) -> Vec<Arc<Rule>> {
    ns.rules
        .list()
        .into_iter()
        .map(|(_, r)| r)
        .filter(|r| *r.trigger.path == *ns.name && *r.trigger.name == *trigger)
        .collect()
}

/// Fire `trigger` with `payload`: start each active rule's action with the trigger's
/// parameters under the payload, and store the trigger's activation. `None` when no rule
/// is active (OpenWhisk answers 204 and records nothing).
pub fn fire(
    shared: &Arc<Shared>,
    caller: &Arc<Namespace>,
    trigger: &Trigger,
    payload: Map<String, Value>,
    transaction_id: &str,
) -> Option<Id> {
    let active: Vec<Arc<Rule>> = rules_of(caller, &trigger.name)
        .into_iter()
        .filter(|r| r.active)
        .collect();
    if active.is_empty() {
        return None;
    }
    let began = SystemTime::now();
    let id = Id::generate();
    let mut args = param_map(&trigger.parameters);
    args.extend(payload);
    let mut logs = Vec::with_capacity(active.len());
    for rule in &active {
        let rule_name = format!("{}/{}", rule.namespace, rule.name);
        let action_name = rule.action.qualified();
        let line = match resolve::qualified(shared, caller, &format!("/{action_name}")) {
            Ok(target) => {
                let started = Id::generate();
                // Not awaited: the action's record is stored whether or not anyone waits.
                drop(activate::launch(
                    shared,
                    Start {
                        id: started,
                        caller: caller.clone(),
                        target,
                        params: args.clone(),
                        transaction_id: transaction_id.to_string(),
                        received: Instant::now(),
                        admission: Throttle::admit_unchecked(caller),
                        cause: None,
                    },
                ));
                json!({"statusCode": 0, "success": true, "activationId": started,
                       "rule": rule_name, "action": action_name})
            }
            Err(m) => {
                let error = match m {
                    Missing::NotFound => "The requested resource does not exist.",
                    Missing::Forbidden => {
                        "The supplied authentication is not authorized to access this resource."
                    }
                };
                json!({"statusCode": 1, "success": false, "error": error,
                       "rule": rule_name, "action": action_name})
            }
        };
        logs.push(line.to_string());
    }
    let result = RawValue::from_string(Value::Object(args).to_string())
        .unwrap_or_else(|_| RawValue::from_string("{}".into()).expect("{} is JSON"));
    let start = epoch_ms(began);
    shared.activations.insert(Arc::new(Activation {
        id,
        namespace: caller.name.clone(),
        name: trigger.name.clone(),
        version: trigger.version.clone(),
        path: format!("{}/{}", trigger.namespace, trigger.name).into(),
        kind: "trigger".into(),
        limits: ActionLimits::default(),
        start,
        start_us: epoch_us(began),
        end: start,
        status: Status::Success,
        result,
        logs,
        timeout: false,
        wait_us: 0,
        init_us: None,
        duration_us: 0,
        node: None,
        container: None,
        cause: None,
        entity: Entity::Trigger,
    }));
    Some(id)
}

/// Parse a trigger or rule PUT body.
pub fn parse<T: Default + serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, PutError> {
    super::package::parse_body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_names() {
        let f = |s: &str, p: bool| FullName::parse(s, "guest", p).map(|n| n.qualified());
        assert_eq!(f("t", false).as_deref(), Some("guest/t"));
        assert_eq!(f("/_/t", false).as_deref(), Some("guest/t"));
        assert_eq!(f("/other/t", false).as_deref(), Some("other/t"));
        assert_eq!(f("pkg/a", false), None);
        assert_eq!(f("pkg/a", true).as_deref(), Some("guest/pkg/a"));
        assert_eq!(f("/other/pkg/a", true).as_deref(), Some("other/pkg/a"));
        assert_eq!(f("/a/b/c/d", true), None);
        assert_eq!(f("", true), None);
        assert_eq!(f("/ns/", true), None);
        let n = FullName::parse("/guest/pkg/a", "x", true).unwrap();
        assert_eq!((&*n.path, &*n.name), ("guest/pkg", "a"));
    }
}
