//! Run settings: the platform target, `~/.wskprops`, and their errors.

pub mod target;
pub mod wskprops;

pub use target::Target;

use std::path::PathBuf;

/// A problem in a configuration file or setting.
#[derive(Debug, thiserror::Error)]
#[error("{}{}{message}", file.as_ref().map(|f| format!("{}", f.display())).unwrap_or_default(), line.map(|l| format!(":{l}: ")).unwrap_or_else(|| if file.is_some() { ": ".into() } else { String::new() }))]
pub struct ConfigError {
    /// The file, if the setting came from one.
    pub file: Option<PathBuf>,
    /// 1-based line in that file.
    pub line: Option<u64>,
    /// What was wrong and what was expected.
    pub message: String,
}
