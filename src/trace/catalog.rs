//! What rows may name: the declared functions and users (when declared), and interning of
//! names so that a million rows share a handful of `Arc<str>`s.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::model::{FunctionSpec, UserSpec};

/// User of rows that name none, when the trace declares no users.
pub const DEFAULT_USER: &str = "default";

/// Distinct names remembered per source: enough for any real trace, and a cap so that a
/// trace with a fresh name on every row cannot grow memory without bound.
const INTERN_CAP: usize = 4096;

/// The names rows are checked against. Cheap to clone: readers on other threads get a copy.
#[derive(Debug, Clone)]
pub struct Catalog {
    functions: Option<Arc<HashSet<String>>>,
    users: Option<Arc<HashSet<String>>>,
    default_user: Arc<str>,
}

impl Catalog {
    /// Accept any function and user name (formats that declare nothing: CSV files).
    pub fn open() -> Self {
        Catalog {
            functions: None,
            users: None,
            default_user: Arc::from(DEFAULT_USER),
        }
    }

    /// Check rows against what a trace declares; an empty list declares nothing.
    /// Rows without a user get the first declared user, else [`DEFAULT_USER`].
    pub fn declared(functions: &[FunctionSpec], users: &[UserSpec]) -> Self {
        let fset = (!functions.is_empty())
            .then(|| Arc::new(functions.iter().map(|f| f.name.clone()).collect()));
        let uset: Option<Arc<HashSet<String>>> =
            (!users.is_empty()).then(|| Arc::new(users.iter().map(|u| u.name.clone()).collect()));
        let default_user = users
            .first()
            .map_or_else(|| Arc::from(DEFAULT_USER), |u| Arc::from(u.name.as_str()));
        Catalog {
            functions: fset,
            users: uset,
            default_user,
        }
    }

    /// The user of rows that name none.
    pub fn default_user(&self) -> Arc<str> {
        self.default_user.clone()
    }

    /// `Ok` when rows may invoke `name`; otherwise what was expected.
    pub fn check_function(&self, name: &str) -> Result<(), String> {
        check_function_name(name)?;
        match &self.functions {
            Some(set) if !set.contains(name) => Err(format!(
                "function `{name}` is not declared under `functions:` (declared: {})",
                list(set)
            )),
            _ => Ok(()),
        }
    }

    /// `Ok` when rows may name user `name`; otherwise what was expected.
    pub fn check_user(&self, name: &str) -> Result<(), String> {
        check_name(name, "user")?;
        match &self.users {
            Some(set) if !set.contains(name) => Err(format!(
                "user `{name}` is not declared under `users:` (declared: {})",
                list(set)
            )),
            _ => Ok(()),
        }
    }
}

/// A name must be non-empty and free of control characters: it ends up in URLs, CSV
/// records and terminal output.
pub fn check_name(name: &str, what: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("expected a {what} name, got an empty one"));
    }
    if name.chars().any(char::is_control) {
        return Err(format!(
            "expected a {what} name without control characters, got {name:?}"
        ));
    }
    Ok(())
}

/// Whether `name` is a valid OpenWhisk entity name (action, package, namespace segment):
/// `\A([\w]|[\w][\w@ .&-]{0,254}[\w@.&-])\z`. `.` and `..` are not: a name never walks
/// a URL path.
pub fn valid_entity_name(name: &str) -> bool {
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let chars: Vec<char> = name.chars().collect();
    match chars.as_slice() {
        [] => false,
        [only] => word(*only),
        [first, middle @ .., last] => {
            chars.len() <= 256
                && word(*first)
                && middle.iter().all(|&c| word(c) || "@ .&-".contains(c))
                && (word(*last) || "@.&-".contains(*last))
        }
    }
}

/// A function name as traces give it: `action` or `package/action`, each part a valid
/// OpenWhisk entity name.
pub fn check_function_name(name: &str) -> Result<(), String> {
    check_name(name, "function")?;
    let parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 2 || !parts.iter().all(|p| valid_entity_name(p)) {
        let shown: String = name.chars().take(80).collect();
        return Err(format!(
            "`{shown}` is not an OpenWhisk action name: expected `name` or `package/name`, \
             each starting with a letter, digit or `_` and holding only those and `@ .&-`"
        ));
    }
    Ok(())
}

fn list(set: &HashSet<String>) -> String {
    let mut names: Vec<&str> = set.iter().map(String::as_str).collect();
    names.sort_unstable();
    if names.len() > 8 {
        format!("{}, … ({} in all)", names[..8].join(", "), names.len())
    } else {
        names.join(", ")
    }
}

/// Which kind of name an [`Interner`] lookup is for.
#[derive(Debug, Clone, Copy)]
pub enum NameKind {
    /// A function (action) name.
    Function,
    /// A user name.
    User,
}

/// Turns name bytes into shared, validated `Arc<str>`s; a name is validated once, when first
/// seen, which keeps the per-row cost of the CSV reader at one hash lookup per name.
#[derive(Debug, Default)]
pub struct Interner {
    functions: HashMap<Box<[u8]>, Arc<str>>,
    users: HashMap<Box<[u8]>, Arc<str>>,
}

impl Interner {
    /// The shared name for `bytes`, or what is wrong with it.
    pub fn get(
        &mut self,
        catalog: &Catalog,
        kind: NameKind,
        bytes: &[u8],
    ) -> Result<Arc<str>, String> {
        let map = match kind {
            NameKind::Function => &mut self.functions,
            NameKind::User => &mut self.users,
        };
        if let Some(name) = map.get(bytes) {
            return Ok(name.clone());
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|_| "expected UTF-8 text, got invalid bytes".to_string())?;
        match kind {
            NameKind::Function => catalog.check_function(text)?,
            NameKind::User => catalog.check_user(text)?,
        }
        let name: Arc<str> = Arc::from(text);
        if map.len() < INTERN_CAP {
            map.insert(bytes.into(), name.clone());
        }
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_names_are_enforced() {
        let c = Catalog::declared(
            &[FunctionSpec::synthetic("a")],
            &[UserSpec {
                name: "bob".into(),
                namespace: None,
                auth: None,
            }],
        );
        assert!(c.check_function("a").is_ok());
        let e = c.check_function("b").unwrap_err();
        assert!(
            e.contains("`b` is not declared") && e.contains("declared: a"),
            "{e}"
        );
        assert!(c.check_user("alice").is_err());
        assert_eq!(&*c.default_user(), "bob");
        let open = Catalog::open();
        assert!(open.check_function("anything").is_ok());
        assert!(open.check_function("").is_err());
        assert!(open.check_user("a\nb").is_err());
        assert_eq!(&*open.default_user(), DEFAULT_USER);
    }

    #[test]
    fn interner_shares_and_validates() {
        let c = Catalog::open();
        let mut i = Interner::default();
        let a = i.get(&c, NameKind::Function, b"f").unwrap();
        let b = i.get(&c, NameKind::Function, b"f").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(i.get(&c, NameKind::User, b"\xff").is_err());
    }
}
