//! Deploying a trace's entities with OpenWhisk's REST calls, and the order that makes
//! them valid: packages before the actions inside them, actions before the sequences that
//! chain them (inner sequences first), and triggers last, because their rules name actions.

use serde_json::{json, Value};

use super::openwhisk::OpenWhisk;
use super::BackendError;
use crate::trace::{entity, FunctionSpec, PackageSpec, WebAuth};

/// One deployment, for one set of credentials.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    /// A package: declared (`replace`: created or replaced with its parameters) or implied
    /// by a function's `pkg/` prefix (created empty unless it exists).
    Package(&'a PackageSpec, bool),
    /// An action, sequence or trigger (with its rules).
    Function(&'a FunctionSpec),
}

/// The steps, in phases: every step of a phase may run at once, a phase starts when the
/// one before it has ended. Functions with `deploy: false` are left out (they must exist).
pub fn phases<'a>(
    packages: &'a [PackageSpec],
    implied: &'a [PackageSpec],
    functions: &'a [FunctionSpec],
) -> Vec<Vec<Step<'a>>> {
    let deployed = |f: &&FunctionSpec| f.deploy;
    let mut out: Vec<Vec<Step<'a>>> = Vec::new();
    let mut first: Vec<Step<'a>> = packages.iter().map(|p| Step::Package(p, true)).collect();
    first.extend(implied.iter().map(|p| Step::Package(p, false)));
    out.push(first);
    out.push(
        functions
            .iter()
            .filter(deployed)
            .filter(|f| !f.is_sequence() && !f.is_trigger())
            .map(Step::Function)
            .collect(),
    );
    // One phase per sequence: a sequence may include another, which must exist first.
    for s in entity::sequences_in_order(functions)
        .into_iter()
        .filter(|f| f.deploy)
    {
        out.push(vec![Step::Function(s)]);
    }
    out.push(
        functions
            .iter()
            .filter(deployed)
            .filter(|f| f.is_trigger())
            .map(Step::Function)
            .collect(),
    );
    out.retain(|p| !p.is_empty());
    out
}

/// The packages that deployed functions name without the trace declaring them.
pub fn implied_packages(packages: &[PackageSpec], functions: &[FunctionSpec]) -> Vec<PackageSpec> {
    let mut out: Vec<PackageSpec> = Vec::new();
    for f in functions.iter().filter(|f| f.deploy) {
        if let Some(p) = f.package() {
            if !packages.iter().any(|d| d.name == p) && !out.iter().any(|d| d.name == p) {
                out.push(PackageSpec {
                    name: p.to_string(),
                    params: serde_json::Map::new(),
                });
            }
        }
    }
    out
}

/// OpenWhisk's `[{key, value}]` list.
fn key_values(params: &serde_json::Map<String, Value>) -> Vec<Value> {
    params
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect()
}

/// `/namespace/name`, as sequences and rules name entities (`_`: the key's namespace).
fn qualified(namespace: &str, name: &str) -> String {
    format!("/{namespace}/{name}")
}

/// The PUT body of an action or sequence; `namespace` qualifies a sequence's components.
pub fn action_body(f: &FunctionSpec, namespace: &str) -> Value {
    let exec = if f.is_sequence() {
        let components: Vec<String> = f
            .components
            .iter()
            .map(|c| qualified(namespace, c))
            .collect();
        json!({"kind": f.kind, "components": components})
    } else {
        let mut exec = json!({ "kind": f.kind });
        if let Some(code) = &f.code {
            exec["code"] = json!(code);
        }
        exec
    };
    let mut limits = serde_json::Map::new();
    if let Some(m) = f.memory_mb {
        limits.insert("memory".into(), json!(m));
    }
    if let Some(t) = f.timeout_ms {
        limits.insert("timeout".into(), json!(t));
    }
    let mut body = json!({ "exec": exec, "parameters": key_values(&f.params), "limits": limits });
    if let Some(w) = &f.web {
        // Without `final` (which `wsk --web true` adds): rows override the function's
        // default parameters, as they do for any action. `require-whisk-auth: false` is
        // written rather than left out, so a redeploy clears an earlier secret.
        let auth = match &w.require_whisk_auth {
            None => json!(false),
            Some(WebAuth::Key) => json!(true),
            Some(WebAuth::Secret(s)) => json!(s),
        };
        body["annotations"] = json!([
            {"key": "web-export", "value": true},
            {"key": "raw-http", "value": false},
            {"key": "require-whisk-auth", "value": auth},
        ]);
    }
    body
}

impl OpenWhisk {
    /// Create or replace a function of any kind as `user`: an action or sequence, or a
    /// trigger and its rules (each rule then set active or inactive, since an update keeps
    /// a rule's status).
    pub(super) async fn deploy_function(
        &self,
        user: usize,
        f: &FunctionSpec,
    ) -> Result<(), BackendError> {
        let ns = self.raw_namespace(user).to_string();
        if !f.is_trigger() {
            let body = action_body(f, &ns);
            return self.put_entity(user, "actions", &f.name, &body, true).await;
        }
        let body = json!({ "parameters": key_values(&f.params) });
        self.put_entity(user, "triggers", &f.name, &body, true)
            .await?;
        for r in &f.rules {
            let name = r.name_for(&f.name);
            let body = json!({
                "trigger": qualified(&ns, &f.name),
                "action": qualified(&ns, &r.action),
            });
            self.put_entity(user, "rules", &name, &body, true).await?;
            let status = if r.active { "active" } else { "inactive" };
            self.post_entity(user, "rules", &name, &json!({ "status": status }))
                .await?;
        }
        Ok(())
    }

    /// Create a package as `user`: replaced with its parameters (`replace`), or created
    /// empty unless it exists already (a package that functions imply may be someone
    /// else's, with parameters gale must not wipe).
    pub(super) async fn deploy_package(
        &self,
        user: usize,
        p: &PackageSpec,
        replace: bool,
    ) -> Result<(), BackendError> {
        let body = json!({ "parameters": key_values(&p.params) });
        match self
            .put_entity(user, "packages", &p.name, &body, replace)
            .await
        {
            Err(BackendError::Status { status: 409, .. }) if !replace => Ok(()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{RuleSpec, WebSpec, SEQUENCE_KIND, TRIGGER_KIND};

    #[test]
    fn phases_put_dependencies_first() {
        let mut seq = FunctionSpec::synthetic("pipe");
        seq.kind = SEQUENCE_KIND.into();
        seq.components = vec!["tools/a".into(), "b".into()];
        let mut outer = FunctionSpec::synthetic("outer");
        outer.kind = SEQUENCE_KIND.into();
        outer.components = vec!["pipe".into()];
        let mut tick = FunctionSpec::synthetic("tick");
        tick.kind = TRIGGER_KIND.into();
        tick.rules = vec![RuleSpec {
            name: None,
            action: "outer".into(),
            active: true,
        }];
        let mut kept = FunctionSpec::synthetic("other/kept");
        kept.deploy = false;
        let fs = vec![
            tick,
            outer,
            seq,
            FunctionSpec::synthetic("tools/a"),
            FunctionSpec::synthetic("b"),
            kept,
        ];
        let implied = implied_packages(&[], &fs);
        assert_eq!(implied.len(), 1, "{implied:?}");
        let phases = phases(&[], &implied, &fs);
        let names: Vec<Vec<String>> = phases
            .iter()
            .map(|p| {
                p.iter()
                    .map(|s| match s {
                        Step::Package(p, replace) => format!("pkg {} {replace}", p.name),
                        Step::Function(f) => f.name.clone(),
                    })
                    .collect()
            })
            .collect();
        assert_eq!(
            names,
            vec![
                vec!["pkg tools false".to_string()],
                vec!["tools/a".into(), "b".into()],
                vec!["pipe".into()],
                vec!["outer".into()],
                vec!["tick".into()],
            ]
        );
    }

    #[test]
    fn bodies_carry_components_and_web_annotations() {
        let mut f = FunctionSpec::synthetic("pipe");
        f.kind = SEQUENCE_KIND.into();
        f.components = vec!["tools/a".into(), "b".into()];
        f.web = Some(WebSpec {
            require_whisk_auth: Some(WebAuth::Secret("s".into())),
            ..WebSpec::default()
        });
        let b = action_body(&f, "_");
        assert_eq!(
            b["exec"],
            json!({"kind": "sequence", "components": ["/_/tools/a", "/_/b"]})
        );
        assert_eq!(
            b["annotations"][0],
            json!({"key": "web-export", "value": true})
        );
        assert_eq!(
            b["annotations"][2],
            json!({"key": "require-whisk-auth", "value": "s"})
        );
        assert!(action_body(&FunctionSpec::synthetic("x"), "_")
            .get("annotations")
            .is_none());
    }
}
