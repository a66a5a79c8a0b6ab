//! Trace errors: every one names the file and, where known, the line, column and field.

use std::fmt;
use std::path::PathBuf;

/// A problem in a trace file, located as precisely as the format allows.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceError {
    /// The file (or directory) being read.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// 1-based column, when known.
    pub column: Option<u64>,
    /// The field (YAML key or CSV column) at fault, when known.
    pub field: Option<String>,
    /// What was wrong and what was expected.
    pub message: String,
}

impl TraceError {
    /// An error about a whole file.
    pub fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        TraceError {
            file: file.into(),
            line: None,
            column: None,
            field: None,
            message: message.into(),
        }
    }

    /// Set the line.
    pub fn at_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    /// Set the field.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Set the line and column (1-based; a zero column is treated as unknown).
    pub fn at(mut self, line: u64, column: u64) -> Self {
        self.line = Some(line);
        self.column = (column > 0).then_some(column);
        self
    }
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for TraceError {}
