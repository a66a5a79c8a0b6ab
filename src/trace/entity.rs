//! What a trace's `functions:` entries may be beyond plain actions — web actions,
//! sequences, triggers with rules, actions in packages — how their YAML fields read, and
//! the checks that tie them together (a sequence's components and a rule's action must be
//! functions of the trace) before anything is deployed.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_saphyr::Location;

use super::catalog::{check_function_name, valid_entity_name};
use super::input::Input;
use super::model::{FunctionSpec, PackageSpec, RuleSpec, WebAuth, WebMethod, WebSpec};
use super::yaml_de::at;
use super::TraceError;

/// Most components a sequence may have: OpenWhisk's limit of actions per sequence.
pub const MAX_COMPONENTS: usize = 50;

/// `web: true`, `web: false` or `web: {method, extension, require_whisk_auth}`.
pub fn web_field<'de, D: Deserializer<'de>>(d: D) -> Result<Option<WebSpec>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<WebSpec>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("true, false or a mapping with method, extension, require_whisk_auth")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(v.then(WebSpec::default))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            WebSpec::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
    d.deserialize_any(V)
}

impl<'de> Deserialize<'de> for WebMethod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        WebMethod::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(&text))
            .ok_or_else(|| {
                de::Error::custom(format!(
                    "expected GET, POST, PUT, DELETE or PATCH, got `{text}`"
                ))
            })
    }
}

/// `require_whisk_auth: true`, `false`, or a secret string.
pub fn auth_field<'de, D: Deserializer<'de>>(d: D) -> Result<Option<WebAuth>, D::Error> {
    struct V;
    const EXPECTED: &str = "true, false, or a secret of visible ASCII characters (no spaces)";
    impl Visitor<'_> for V {
        type Value = Option<WebAuth>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(EXPECTED)
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(v.then_some(WebAuth::Key))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            // It travels in an HTTP header: visible ASCII only.
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(E::custom(format!("expected {EXPECTED}, got {v:?}")));
            }
            Ok(Some(WebAuth::Secret(v.to_string())))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            self.visit_str(&v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            self.visit_str(&v.to_string())
        }
    }
    d.deserialize_any(V)
}

/// A rule written as its action's name, or as `{action, name, active}`.
impl<'de> Deserialize<'de> for RuleSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Fields {
            action: String,
            #[serde(default)]
            name: Option<String>,
            #[serde(default = "yes")]
            active: bool,
        }
        fn yes() -> bool {
            true
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RuleSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an action's name or a mapping with action, name, active")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RuleSpec, E> {
                Ok(RuleSpec {
                    name: None,
                    action: v.to_string(),
                    active: true,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RuleSpec, A::Error> {
                let f = Fields::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(RuleSpec {
                    name: f.name,
                    action: f.action,
                    active: f.active,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// Check what the declarations say of each other: sequences name functions of the trace
/// and form no cycle, rules name actions of the trace, triggers carry only what a trigger
/// has, and no two namespace-level entities (actions outside packages, packages,
/// triggers, rules) share a name, as OpenWhisk requires. `locs` are the functions' places
/// in the file, `package_locs` the packages'.
pub fn check(
    input: &Input,
    functions: &[FunctionSpec],
    locs: &[Location],
    packages: &[PackageSpec],
    package_locs: &[Location],
) -> Result<(), TraceError> {
    let by_name: HashMap<&str, &FunctionSpec> =
        functions.iter().map(|f| (f.name.as_str(), f)).collect();
    let declared = || {
        let mut names: Vec<&str> = functions
            .iter()
            .filter(|f| !f.is_trigger())
            .map(|f| f.name.as_str())
            .collect();
        names.sort_unstable();
        names.join(", ")
    };
    // Namespace-level names, each with the line that declared it.
    let mut taken: HashMap<String, (&'static str, u64)> = HashMap::new();
    let mut claim =
        |name: String, what: &'static str, loc: &Location, field: &str| match taken.get(&name) {
            Some((other, line)) => Err(at(
                input,
                loc,
                field,
                format!(
                    "{what} `{name}` has the name of the {other} declared on line {line}: \
                     OpenWhisk keeps actions, packages, triggers and rules of a namespace \
                     under one set of names"
                ),
            )),
            None => {
                taken.insert(name, (what, loc.line()));
                Ok(())
            }
        };
    for (p, loc) in packages.iter().zip(package_locs) {
        if !valid_entity_name(&p.name) {
            return Err(at(
                input,
                loc,
                "packages",
                format!(
                    "`{}` is not an OpenWhisk package name: expected letters, digits, `_` \
                     and `@ .&-`, starting with a letter, digit or `_`",
                    p.name
                ),
            ));
        }
        claim(p.name.clone(), "package", loc, "packages")?;
    }
    for (f, loc) in functions.iter().zip(locs) {
        check_fields(input, f, loc)?;
        if f.is_trigger() {
            claim(f.name.clone(), "trigger", loc, "name")?;
        } else if f.package().is_none() {
            claim(f.name.clone(), "action", loc, "name")?;
        }
        for c in &f.components {
            match by_name.get(c.as_str()) {
                None => {
                    return Err(at(
                        input,
                        loc,
                        "components",
                        format!(
                            "sequence `{}` names `{c}`, which is not declared under \
                             `functions:` (declared: {})",
                            f.name,
                            declared()
                        ),
                    ))
                }
                Some(g) if g.is_trigger() => {
                    return Err(at(
                        input,
                        loc,
                        "components",
                        format!(
                            "sequence `{}` names `{c}`, which is a trigger: expected actions",
                            f.name
                        ),
                    ))
                }
                Some(_) => {}
            }
        }
        for r in &f.rules {
            let field = "rules";
            match by_name.get(r.action.as_str()) {
                None => {
                    return Err(at(
                        input,
                        loc,
                        field,
                        format!(
                            "a rule of trigger `{}` names action `{}`, which is not declared \
                             under `functions:` (declared: {})",
                            f.name,
                            r.action,
                            declared()
                        ),
                    ))
                }
                Some(g) if g.is_trigger() => {
                    return Err(at(
                        input,
                        loc,
                        field,
                        format!(
                            "a rule of trigger `{}` names `{}`, which is a trigger: expected \
                             an action",
                            f.name, r.action
                        ),
                    ))
                }
                Some(_) => {}
            }
            let name = r.name_for(&f.name);
            if !valid_entity_name(&name) {
                return Err(at(
                    input,
                    loc,
                    field,
                    format!(
                        "`{name}` is not an OpenWhisk rule name: expected letters, digits, \
                         `_` and `@ .&-`, starting with a letter, digit or `_` (give the \
                         rule a `name`)"
                    ),
                ));
            }
            claim(name, "rule", loc, field)?;
        }
    }
    // A package that functions name without declaring it is created by the deploy.
    for (f, loc) in functions.iter().zip(locs) {
        if let Some(p) = f.package() {
            match taken.get(p) {
                Some(("package", _)) => {}
                Some((other, line)) => {
                    return Err(at(
                        input,
                        loc,
                        "name",
                        format!(
                            "`{}` puts an action in package `{p}`, which has the name of the \
                             {other} declared on line {line}",
                            f.name
                        ),
                    ))
                }
                None => {
                    taken.insert(p.to_string(), ("package", loc.line()));
                }
            }
        }
    }
    if let Some(cycle) = sequence_cycle(functions) {
        let first = functions
            .iter()
            .position(|f| f.name == cycle[0])
            .unwrap_or(0);
        return Err(at(
            input,
            &locs[first],
            "components",
            format!(
                "sequences form a cycle: {}; a sequence may not include itself",
                cycle.join(" → ")
            ),
        ));
    }
    Ok(())
}

/// The fields that do not apply to what `f` is.
fn check_fields(input: &Input, f: &FunctionSpec, loc: &Location) -> Result<(), TraceError> {
    let refuse = |field: &str, what: &str| {
        Err(at(
            input,
            loc,
            field,
            format!("`{field}` does not apply to {what} `{}`", f.name),
        ))
    };
    if f.is_trigger() {
        if f.name.contains('/') {
            return Err(at(
                input,
                loc,
                "name",
                format!(
                    "trigger `{}`: a trigger belongs to no package; expected a name without `/`",
                    f.name
                ),
            ));
        }
        let what = "trigger";
        if f.code.is_some() {
            return refuse("code", what);
        }
        if f.memory_mb.is_some() {
            return refuse("memory_mb", what);
        }
        if f.timeout_ms.is_some() {
            return refuse("timeout_ms", what);
        }
        if f.web.is_some() {
            return refuse("web", what);
        }
        if !f.components.is_empty() {
            return refuse("components", what);
        }
        if f.blocking.is_some() {
            return Err(at(
                input,
                loc,
                "blocking",
                format!(
                    "`blocking` does not apply to trigger `{}`: a fire never waits for the \
                     actions it starts",
                    f.name
                ),
            ));
        }
        return Ok(());
    }
    if !f.rules.is_empty() {
        return Err(at(
            input,
            loc,
            "rules",
            format!(
                "`rules` belong to triggers; `{}` has kind {} (write `kind: trigger`)",
                f.name, f.kind
            ),
        ));
    }
    if f.is_sequence() {
        if f.code.is_some() {
            return refuse("code", "sequence");
        }
        if f.components.is_empty() || f.components.len() > MAX_COMPONENTS {
            return Err(at(
                input,
                loc,
                "components",
                format!(
                    "sequence `{}` has {} components: expected 1 to {MAX_COMPONENTS} functions \
                     of the trace",
                    f.name,
                    f.components.len()
                ),
            ));
        }
        for c in &f.components {
            check_function_name(c).map_err(|m| at(input, loc, "components", m))?;
        }
    } else if !f.components.is_empty() {
        return Err(at(
            input,
            loc,
            "components",
            format!(
                "`components` belong to sequences; `{}` has kind {} (write `kind: sequence`)",
                f.name, f.kind
            ),
        ));
    }
    if f.web.is_some() && f.blocking.is_some() {
        return Err(at(
            input,
            loc,
            "blocking",
            format!(
                "`blocking` does not apply to web action `{}`: its request always waits for \
                 the result",
                f.name
            ),
        ));
    }
    Ok(())
}

/// A cycle among sequences (names along it, the first repeated at the end), if any.
fn sequence_cycle(functions: &[FunctionSpec]) -> Option<Vec<String>> {
    let components: HashMap<&str, &[String]> = functions
        .iter()
        .filter(|f| f.is_sequence())
        .map(|f| (f.name.as_str(), f.components.as_slice()))
        .collect();
    let mut done: HashSet<&str> = HashSet::new();
    for f in functions.iter().filter(|f| f.is_sequence()) {
        let mut path: Vec<&str> = Vec::new();
        if let Some(c) = visit(&f.name, &components, &mut done, &mut path) {
            return Some(c);
        }
    }
    None
}

fn visit<'a>(
    name: &'a str,
    components: &HashMap<&'a str, &'a [String]>,
    done: &mut HashSet<&'a str>,
    path: &mut Vec<&'a str>,
) -> Option<Vec<String>> {
    if let Some(i) = path.iter().position(|p| *p == name) {
        let mut cycle: Vec<String> = path[i..].iter().map(|s| s.to_string()).collect();
        cycle.push(name.to_string());
        return Some(cycle);
    }
    if done.contains(name) {
        return None;
    }
    let next = components.get(name)?;
    path.push(name);
    for c in next.iter() {
        if let Some(cycle) = visit(c, components, done, path) {
            return Some(cycle);
        }
    }
    path.pop();
    done.insert(name);
    None
}

/// Sequences in an order where each comes after the sequences among its components, so
/// that each can be created once its components exist.
pub fn sequences_in_order(functions: &[FunctionSpec]) -> Vec<&FunctionSpec> {
    let seqs: HashMap<&str, &FunctionSpec> = functions
        .iter()
        .filter(|f| f.is_sequence())
        .map(|f| (f.name.as_str(), f))
        .collect();
    let mut out: Vec<&FunctionSpec> = Vec::new();
    let mut placed: HashSet<&str> = HashSet::new();
    fn place<'a>(
        f: &'a FunctionSpec,
        seqs: &HashMap<&str, &'a FunctionSpec>,
        placed: &mut HashSet<&'a str>,
        out: &mut Vec<&'a FunctionSpec>,
        depth: usize,
    ) {
        // Cycles are refused when the trace is opened; the depth bound only keeps a
        // hand-built list from recursing without end.
        if depth > seqs.len() || !placed.insert(f.name.as_str()) {
            return;
        }
        for c in &f.components {
            if let Some(g) = seqs.get(c.as_str()) {
                place(g, seqs, placed, out, depth + 1);
            }
        }
        out.push(f);
    }
    for f in functions.iter().filter(|f| f.is_sequence()) {
        place(f, &seqs, &mut placed, &mut out, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(name: &str, components: &[&str]) -> FunctionSpec {
        let mut f = FunctionSpec::synthetic(name);
        f.kind = super::super::model::SEQUENCE_KIND.into();
        f.components = components.iter().map(|c| c.to_string()).collect();
        f
    }

    #[test]
    fn cycles_are_found_and_order_puts_components_first() {
        let fs = vec![
            seq("outer", &["inner", "a"]),
            FunctionSpec::synthetic("a"),
            seq("inner", &["a", "a"]),
        ];
        assert_eq!(sequence_cycle(&fs), None);
        let order: Vec<&str> = sequences_in_order(&fs)
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(order, ["inner", "outer"]);
        let fs = vec![seq("x", &["y"]), seq("y", &["z", "x"]), seq("z", &[])];
        assert_eq!(
            sequence_cycle(&fs).unwrap(),
            vec!["x".to_string(), "y".into(), "x".into()]
        );
    }
}
