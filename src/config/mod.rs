//! Run settings: the platform target (the embedded platform, an OpenWhisk, or any HTTP
//! endpoint), `~/.wskprops`, and their errors.

pub mod experiment;
pub mod http_target;
pub mod overrides;
pub mod platform_file;
pub mod target;
pub mod wskprops;

pub use target::Target;

use std::fmt;
use std::path::PathBuf;

/// A problem in a configuration file or setting: `file:line: message`, `file: message`, or
/// the message alone for a setting that came from no file.
#[derive(Debug)]
pub struct ConfigError {
    /// The file, if the setting came from one.
    pub file: Option<PathBuf>,
    /// 1-based line in that file.
    pub line: Option<u64>,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: {}", file.display(), self.message),
            (Some(file), None) => write!(f, "{}: {}", file.display(), self.message),
            (None, _) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfigError {}
