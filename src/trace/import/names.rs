//! Anonymised trace names as OpenWhisk action names: kept whole, or shortened to hash
//! prefixes that are lengthened only where two would collide. The first name to claim a
//! prefix keeps it, so the same input always gives the same names.

use std::collections::HashSet;
use std::sync::Arc;

use super::NameMode;
use crate::trace::catalog::valid_entity_name;

/// Characters of each part a short name starts with.
const SHORT: usize = 8;

/// Hands out distinct names for distinct keys.
#[derive(Debug, Default)]
pub struct Namer {
    mode: NameMode,
    taken: HashSet<Arc<str>>,
}

impl Namer {
    /// A namer in `mode`.
    pub fn new(mode: NameMode) -> Self {
        Namer {
            mode,
            taken: HashSet::new(),
        }
    }

    /// A fresh name for the thing identified by `parts` (e.g. app and function hashes),
    /// valid as an OpenWhisk entity name and distinct from every name given before.
    pub fn name(&mut self, parts: &[&str]) -> Arc<str> {
        let clean: Vec<String> = parts.iter().map(|p| sanitize(p)).collect();
        let longest = clean.iter().map(|p| p.chars().count()).max().unwrap_or(0);
        let mut len = match self.mode {
            NameMode::Short => SHORT,
            NameMode::Keep => usize::MAX,
        };
        loop {
            let candidate = joined(&clean, len);
            if !self.taken.contains(candidate.as_str()) {
                return self.claim(candidate);
            }
            if len >= longest {
                break;
            }
            len = len.saturating_add(4);
        }
        // The same parts twice (a key that differs only in characters sanitised away):
        // number the newcomer.
        let base = joined(&clean, usize::MAX);
        (2u64..)
            .map(|i| fit(format!("{base}-{i}")))
            .find(|c| !self.taken.contains(c.as_str()))
            .map(|c| self.claim(c))
            .unwrap_or_else(|| Arc::from("f"))
    }

    fn claim(&mut self, name: String) -> Arc<str> {
        let name: Arc<str> = Arc::from(name);
        self.taken.insert(name.clone());
        name
    }
}

/// Each part cut to `len` characters, joined by `-`, fitted to a valid name.
fn joined(parts: &[String], len: usize) -> String {
    let cut: Vec<String> = parts
        .iter()
        .map(|p| p.chars().take(len).collect())
        .collect();
    fit(cut.join("-"))
}

/// Replace what an entity name may not hold by `_`.
fn sanitize(part: &str) -> String {
    let s: String = part
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "_@.&-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "_".into()
    } else {
        s
    }
}

/// Make `s` a valid entity name: a word character first and last, at most 256 characters.
fn fit(s: String) -> String {
    let mut s: String = s.chars().take(250).collect();
    if !s.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
        s.insert(0, 'f');
    }
    if !valid_entity_name(&s) {
        s.push('_');
    }
    debug_assert!(valid_entity_name(&s), "{s}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_grow_only_on_collision() {
        let mut n = Namer::new(NameMode::Short);
        let a = n.name(&["a1b2c3d4e5f6", "0011223344556677"]);
        assert_eq!(&*a, "a1b2c3d4-00112233");
        let b = n.name(&["a1b2c3d4e5f6", "0011223399999999"]);
        assert_eq!(&*b, "a1b2c3d4e5f6-001122339999");
        let c = n.name(&["a1b2c3d4e5f6", "0011223344556677"]);
        assert_ne!(c, a);
        let mut keep = Namer::new(NameMode::Keep);
        assert_eq!(
            &*keep.name(&["a1b2c3d4e5f6", "00112233"]),
            "a1b2c3d4e5f6-00112233"
        );
    }

    #[test]
    fn odd_names_become_valid() {
        let mut n = Namer::new(NameMode::Keep);
        for raw in ["", "-x", "a/b c", "ünï", "x.", "..", "a&b-"] {
            let name = n.name(&[raw]);
            assert!(valid_entity_name(&name), "{raw:?} -> {name:?}");
        }
        let long = "a".repeat(400);
        assert!(valid_entity_name(&n.name(&[&long])));
    }
}
