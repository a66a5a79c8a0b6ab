//! `~/.wskprops` (or `$WSK_CONFIG_FILE`): the `KEY=VALUE` file the wsk CLI keeps.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::ConfigError;

/// The settings gale reads from a wskprops file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WskProps {
    /// The file they came from.
    pub file: Option<PathBuf>,
    /// `APIHOST`.
    pub apihost: Option<String>,
    /// `AUTH`.
    pub auth: Option<String>,
    /// `NAMESPACE`.
    pub namespace: Option<String>,
}

/// Where wsk looks: `$WSK_CONFIG_FILE`, else `~/.wskprops`.
pub fn default_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WSK_CONFIG_FILE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".wskprops"))
}

/// Read the wskprops file at the default place. A missing `~/.wskprops` is no settings; a
/// missing `$WSK_CONFIG_FILE` is an error: a user who mistyped the path would otherwise
/// load-test gale's embedded platform instead of their OpenWhisk.
pub fn load() -> Result<WskProps, ConfigError> {
    let named = std::env::var_os("WSK_CONFIG_FILE").is_some_and(|p| !p.is_empty());
    match default_path() {
        Some(path) if named && !path.exists() => Err(ConfigError {
            file: Some(path),
            line: None,
            message: "WSK_CONFIG_FILE names this file, and it does not exist (unset \
                      WSK_CONFIG_FILE to use ~/.wskprops, or pass --embedded)"
                .into(),
        }),
        Some(path) => load_from(&path),
        None => Ok(WskProps::default()),
    }
}

/// Read one wskprops file (missing: empty settings).
pub fn load_from(path: &Path) -> Result<WskProps, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(WskProps::default()),
        Err(e) => {
            return Err(ConfigError {
                file: Some(path.into()),
                line: None,
                message: format!("cannot read: {e}"),
            })
        }
    };
    let mut values = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(ConfigError {
                file: Some(path.into()),
                line: Some(i as u64 + 1),
                message: format!("expected KEY=VALUE (as `wsk property set` writes), got `{line}`"),
            });
        };
        values.insert(k.trim().to_ascii_uppercase(), v.trim().to_string());
    }
    let mut get = |k: &str| values.remove(k).filter(|v| !v.is_empty());
    Ok(WskProps {
        file: Some(path.into()),
        apihost: get("APIHOST"),
        auth: get("AUTH"),
        namespace: get("NAMESPACE"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wsk_properties() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("props");
        std::fs::write(
            &p,
            "# comment\nAPIHOST=https://whisk.example:443\nAUTH=a:b\n\nNAMESPACE=\n",
        )
        .unwrap();
        let w = load_from(&p).unwrap();
        assert_eq!(w.apihost.as_deref(), Some("https://whisk.example:443"));
        assert_eq!(w.auth.as_deref(), Some("a:b"));
        assert_eq!(w.namespace, None);
        assert_eq!(
            load_from(&dir.path().join("missing")).unwrap(),
            WskProps::default()
        );
        std::fs::write(&p, "APIHOST=x\ngarbage\n").unwrap();
        let err = load_from(&p).unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(
            err.to_string().contains("props:2: expected KEY=VALUE"),
            "{err}"
        );
    }
}
