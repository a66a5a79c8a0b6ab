//! Which platform a run talks to: the embedded one, or an OpenWhisk named by flags or wskprops.

use serde::Serialize;

use super::wskprops::{self, WskProps};
use super::ConfigError;

/// What the command line says about the platform (`--apihost`, `--auth`, `--embedded`,
/// `--target`…), before the wskprops file is consulted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetFlags {
    /// `--apihost`.
    pub apihost: Option<String>,
    /// `--auth`.
    pub auth: Option<String>,
    /// `--insecure`.
    pub insecure: bool,
    /// `--namespace` (`_`: the key's own).
    pub namespace: String,
    /// `--embedded`.
    pub embedded: bool,
    /// `--platform-config`: settings of the embedded platform.
    pub platform_config: Option<std::path::PathBuf>,
    /// `--target`: a generic HTTP target file.
    pub target_file: Option<std::path::PathBuf>,
}

impl Default for TargetFlags {
    fn default() -> Self {
        TargetFlags {
            apihost: None,
            auth: None,
            insecure: false,
            namespace: "_".into(),
            embedded: false,
            platform_config: None,
            target_file: None,
        }
    }
}

/// The platform of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// gale's embedded platform, started in-process on a free loopback port.
    Embedded,
    /// An OpenWhisk (or compatible) API host.
    Remote {
        /// API host URL.
        apihost: String,
        /// `UUID:KEY` (never written to result files).
        #[serde(skip)]
        auth: String,
        /// Namespace (`_` = the key's own).
        namespace: String,
        /// Accept invalid certificates.
        insecure: bool,
        /// Where the settings came from (flags, or the wskprops file's path).
        source: String,
    },
    /// Any HTTP endpoint, one request per invocation (`--target FILE`).
    Http(super::http_target::HttpTarget),
}

/// Resolve flags over the wskprops file at the default place.
pub fn resolve(args: &TargetFlags) -> Result<Target, ConfigError> {
    if let Some(file) = &args.target_file {
        return super::http_target::load(file).map(Target::Http);
    }
    if args.embedded || args.platform_config.is_some() {
        return resolve_with(args, &WskProps::default());
    }
    resolve_with(args, &wskprops::load()?)
}

/// Resolve flags over given wskprops settings: flags win; with no API host anywhere, the
/// embedded platform.
pub fn resolve_with(args: &TargetFlags, props: &WskProps) -> Result<Target, ConfigError> {
    let from_file = |what: &str| {
        format!(
            "{what} from {}",
            props
                .file
                .as_ref()
                .map(|f| f.display().to_string())
                .unwrap_or_default()
        )
    };
    let (apihost, source) = match (&args.apihost, &props.apihost) {
        (Some(h), _) => (h.clone(), "command line".to_string()),
        (None, Some(h)) if !args.embedded => (h.clone(), from_file("APIHOST")),
        _ => {
            if args.auth.is_some() {
                return Err(ConfigError {
                    file: None,
                    line: None,
                    message: "--auth needs --apihost (or an APIHOST line in ~/.wskprops); the embedded platform makes its own keys".into(),
                });
            }
            return Ok(Target::Embedded);
        }
    };
    let auth = args.auth.clone().or_else(|| props.auth.clone()).ok_or_else(|| ConfigError {
        file: props.file.clone(),
        line: None,
        message: format!("API host {apihost} ({source}) but no key: pass --auth UUID:KEY or set AUTH in the wskprops file"),
    })?;
    let namespace = if args.namespace != "_" {
        args.namespace.clone()
    } else {
        props.namespace.clone().unwrap_or_else(|| "_".into())
    };
    Ok(Target::Remote {
        apihost,
        auth,
        namespace,
        insecure: args.insecure,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> TargetFlags {
        TargetFlags::default()
    }

    #[test]
    fn flags_win_over_props_and_nothing_means_embedded() {
        assert_eq!(
            resolve_with(&args(), &WskProps::default()).unwrap(),
            Target::Embedded
        );
        let props = WskProps {
            file: Some("/h/.wskprops".into()),
            apihost: Some("https://a:443".into()),
            auth: Some("k:1".into()),
            namespace: Some("ns".into()),
        };
        match resolve_with(&args(), &props).unwrap() {
            Target::Remote {
                apihost,
                auth,
                namespace,
                source,
                ..
            } => {
                assert_eq!(
                    (apihost.as_str(), auth.as_str(), namespace.as_str()),
                    ("https://a:443", "k:1", "ns")
                );
                assert!(source.contains("/h/.wskprops"));
            }
            t => panic!("{t:?}"),
        }
        let mut a = args();
        a.apihost = Some("http://b:1".into());
        a.auth = Some("k:2".into());
        match resolve_with(&a, &props).unwrap() {
            Target::Remote { apihost, auth, .. } => {
                assert_eq!((apihost.as_str(), auth.as_str()), ("http://b:1", "k:2"))
            }
            t => panic!("{t:?}"),
        }
    }

    #[test]
    fn missing_key_and_stray_auth_are_errors() {
        let mut a = args();
        a.apihost = Some("http://b:1".into());
        assert!(resolve_with(&a, &WskProps::default())
            .unwrap_err()
            .message
            .contains("no key"));
        let mut a = args();
        a.auth = Some("k:2".into());
        assert!(resolve_with(&a, &WskProps::default())
            .unwrap_err()
            .message
            .contains("--auth needs --apihost"));
    }
}
