//! FaaSLoad injection traces, read as FaaSLoad writes them: a directory with one file per
//! (user, action) named `USER-ACTION-MEMORY-DURATION-AVRGIAT`, lines
//! `WAIT<TAB>INPUT<TAB>PARAM:VALUE…` where WAIT is the seconds since the file's previous
//! invocation. Each file is one sorted source (cumulative waits); the files are merged.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::input::Input;
use super::model::{FunctionSpec, TraceHeader, UserSpec};
use super::{num, Invocation, Rows, TraceError};

/// What a trace file's name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName {
    /// The USER part (a FaaSLoad user, i.e. an OpenWhisk namespace).
    pub user: String,
    /// The ACTION part.
    pub action: String,
    /// The MEMORY part, when it is a number of MB.
    pub memory_mb: Option<u32>,
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Parse a file name the way FaaSLoad does (`re.match(r"(\w+)-(\w+)-", name)`): a word,
/// a dash, a word, a dash; the rest is metadata, of which MEMORY is kept when numeric.
pub fn parse_name(name: &str) -> Option<FileName> {
    let mut parts = name.splitn(3, '-');
    let user = parts.next()?;
    let action = parts.next()?;
    let rest = parts.next()?;
    let word = |s: &str| !s.is_empty() && s.chars().all(is_word);
    if !word(user) || !word(action) {
        return None;
    }
    let memory_mb = rest.split('-').next().and_then(|m| m.parse().ok());
    Some(FileName {
        user: user.to_string(),
        action: action.to_string(),
        memory_mb,
    })
}

/// One non-blank line of a trace file.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Wait since the previous invocation of the file, in ns.
    pub wait_ns: u64,
    /// The INPUT field (FaaSLoad's object name).
    pub input: String,
    /// The PARAM:VALUE fields, values numeric when they read as numbers.
    pub params: Vec<(String, Value)>,
}

/// Parse one line; `Ok(None)` for a blank line; `Err((field, message))` otherwise.
pub fn parse_line(text: &str) -> Result<Option<Line>, (&'static str, String)> {
    let text = text.trim_end_matches(['\r', '\n']);
    if text.trim().is_empty() {
        return Ok(None);
    }
    let mut fields = text.split('\t');
    let wait = fields.next().unwrap_or_default();
    let wait_ns = num::decimal_to_ns(wait.as_bytes(), 9).ok_or_else(|| {
        (
            "WAIT",
            format!(
                "expected the seconds since the previous invocation (a number from 0 to {}), \
                 got `{wait}`",
                num::MAX_SECONDS
            ),
        )
    })?;
    let input = fields.next().ok_or_else(|| {
        (
            "INPUT",
            "expected WAIT<TAB>INPUT[<TAB>PARAM:VALUE…], got no tab after WAIT".to_string(),
        )
    })?;
    let mut params = Vec::new();
    for field in fields.filter(|f| !f.is_empty()) {
        let (name, value) = field.split_once(':').ok_or_else(|| {
            (
                "PARAM",
                format!("expected PARAM:VALUE, got `{field}` (no colon)"),
            )
        })?;
        if name.is_empty() {
            return Err((
                "PARAM",
                format!("expected PARAM:VALUE, got `{field}` (no name)"),
            ));
        }
        params.push((name.to_string(), num::number_or_string(value)));
    }
    Ok(Some(Line {
        wait_ns,
        input: input.to_string(),
        params,
    }))
}

/// The request body of a line: `object` = INPUT, `incont` = USER, `outcont` =
/// `USER-ACTION-out` (what FaaSLoad's injector adds), then the line's own parameters, which
/// win on a name clash.
pub fn body(line: &Line, name: &FileName) -> String {
    let mut map = Map::new();
    map.insert("object".into(), Value::String(line.input.clone()));
    map.insert("incont".into(), Value::String(name.user.clone()));
    map.insert(
        "outcont".into(),
        Value::String(format!("{}-{}-out", name.user, name.action)),
    );
    for (k, v) in &line.params {
        map.insert(k.clone(), v.clone());
    }
    Value::Object(map).to_string()
}

/// The trace files of `dir`: regular files, dot-files excluded, sorted by name so the
/// tie-break order does not depend on the file system.
fn trace_files(dir: &Path) -> Result<Vec<(PathBuf, FileName)>, TraceError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| TraceError::file(dir, format!("cannot list: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| TraceError::file(dir, format!("cannot list: {e}")))?;
        let path = entry.path();
        let fname = entry.file_name().to_string_lossy().into_owned();
        if fname.starts_with('.') || !path.is_file() {
            continue;
        }
        let name = parse_name(&fname).ok_or_else(|| {
            TraceError::file(
                &path,
                "expected a FaaSLoad trace name USER-ACTION-MEMORY-DURATION-AVRGIAT \
                 (e.g. user004-wand_blur-3072-120-4)",
            )
        })?;
        files.push((path, name));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    if files.is_empty() {
        return Err(TraceError::file(
            dir,
            "expected FaaSLoad trace files (USER-ACTION-MEMORY-DURATION-AVRGIAT), found none",
        ));
    }
    Ok(files)
}

/// Open a FaaSLoad directory: functions and users come from the file names.
/// `checked` wraps each file's source (to check small files in full before streaming).
pub fn open(
    dir: &Path,
    checked: impl Fn(&Input, &dyn Fn() -> Result<Rows, TraceError>) -> Result<Rows, TraceError>,
) -> Result<(TraceHeader, Vec<Rows>), TraceError> {
    let files = trace_files(dir)?;
    // MEMORY in the file name is FaaSLoad metadata, not a deploy setting: FaaSLoad sets memory
    // when the action is deployed, and values such as 3072 MB exceed OpenWhisk's default
    // action limit (512 MB), so using it would make such traces fail to deploy.
    let mut actions: BTreeSet<&str> = BTreeSet::new();
    let mut users: Vec<UserSpec> = Vec::new();
    for (_, n) in &files {
        actions.insert(&n.action);
        if !users.iter().any(|u| u.name == n.user) {
            users.push(UserSpec {
                name: n.user.clone(),
                namespace: None,
                auth: None,
            });
        }
    }
    let functions = actions.into_iter().map(FunctionSpec::synthetic).collect();
    let mut sources = Vec::with_capacity(files.len());
    for (path, name) in &files {
        let input = Input::File(path.clone());
        let make = || file_rows(&input, name.clone());
        sources.push(checked(&input, &make)?);
    }
    let header = TraceHeader {
        functions,
        users,
        packages: Vec::new(),
        blocking: false,
        seed: 0,
        sources: vec![format!(
            "{} (FaaSLoad, {} files)",
            dir.display(),
            files.len()
        )],
    };
    Ok((header, sources))
}

/// The rows of one trace file.
pub fn file_rows(input: &Input, name: FileName) -> Result<Rows, TraceError> {
    Ok(Box::new(FileRows {
        reader: BufReader::new(input.open()?),
        file: input.name().to_path_buf(),
        function: Arc::from(name.action.as_str()),
        user: Arc::from(name.user.as_str()),
        name,
        line: 0,
        at_ns: 0,
        buf: Vec::new(),
        done: false,
    }))
}

struct FileRows {
    reader: BufReader<Box<dyn std::io::Read + Send>>,
    file: PathBuf,
    name: FileName,
    function: Arc<str>,
    user: Arc<str>,
    line: u64,
    at_ns: u64,
    buf: Vec<u8>,
    done: bool,
}

impl FileRows {
    fn next_row(&mut self) -> Option<Result<Invocation, TraceError>> {
        loop {
            self.buf.clear();
            match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    return Some(Err(TraceError::file(
                        &self.file,
                        format!("read error: {e}"),
                    )))
                }
            }
            self.line += 1;
            let err = |field: &str, msg: String| {
                TraceError::file(&self.file, msg)
                    .at_line(self.line)
                    .field(field)
            };
            let Ok(text) = std::str::from_utf8(&self.buf) else {
                return Some(Err(err("INPUT", "expected UTF-8 text".into())));
            };
            let parsed = match parse_line(text) {
                Ok(Some(l)) => l,
                Ok(None) => continue,
                Err((field, msg)) => return Some(Err(err(field, msg))),
            };
            let Some(at_ns) = self
                .at_ns
                .checked_add(parsed.wait_ns)
                .filter(|&t| t <= num::MAX_NS)
            else {
                return Some(Err(err(
                    "WAIT",
                    format!("the waits add up to more than {} s", num::MAX_SECONDS),
                )));
            };
            self.at_ns = at_ns;
            return Some(Ok(Invocation {
                row: 0,
                at_ns,
                function: self.function.clone(),
                user: self.user.clone(),
                params: Some(body(&parsed, &self.name).into()),
                blocking: None,
            }));
        }
    }
}

impl Iterator for FileRows {
    type Item = Result<Invocation, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.next_row();
        self.done = !matches!(r, Some(Ok(_)));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_like_faasload() {
        let n = parse_name("user004-wand_blur-3072-120-4").unwrap();
        assert_eq!(n.user, "user004");
        assert_eq!(n.action, "wand_blur");
        assert_eq!(n.memory_mb, Some(3072));
        assert_eq!(parse_name("u-a-x").unwrap().memory_mb, None);
        assert!(parse_name("u-a").is_none(), "the second dash is required");
        assert!(parse_name("u.x-a-1").is_none());
        assert!(parse_name("-a-1").is_none());
    }

    #[test]
    fn lines_parse_with_numeric_params() {
        let l = parse_line("0.5\tpic.jpg\twidth:300\tmode:fast\tratio:0.25\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(l.wait_ns, 500_000_000);
        assert_eq!(l.input, "pic.jpg");
        assert_eq!(
            l.params,
            vec![
                ("width".into(), serde_json::json!(300)),
                ("mode".into(), serde_json::json!("fast")),
                ("ratio".into(), serde_json::json!(0.25)),
            ]
        );
        assert_eq!(parse_line("  \r\n").unwrap(), None);
        assert_eq!(parse_line("x\ta").unwrap_err().0, "WAIT");
        assert_eq!(parse_line("-1\ta").unwrap_err().0, "WAIT");
        assert_eq!(parse_line("1").unwrap_err().0, "INPUT");
        assert_eq!(parse_line("1\ta\tnocolon").unwrap_err().0, "PARAM");
    }

    #[test]
    fn body_adds_faasload_containers() {
        let name = parse_name("alice-blur-512-1-1").unwrap();
        let l = parse_line("1\timg.png\tsigma:2").unwrap().unwrap();
        let v: Value = serde_json::from_str(&body(&l, &name)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"object": "img.png", "incont": "alice",
                               "outcont": "alice-blur-out", "sigma": 2})
        );
    }
}
