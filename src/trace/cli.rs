//! `gale trace check` and `gale trace convert`: both stream the rows, never holding them all.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use super::{num, open, write_csv, OpenOptions, Trace, WriteCsvError};
use crate::cli::TraceCommand;

/// `gale trace …` (check, convert).
pub fn run_cli(cmd: TraceCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TraceCommand::Check { trace, seed } => {
            let t = open(&trace, &OpenOptions { seed })?;
            let out = std::io::stdout().lock();
            check(&trace, t, out)?;
            Ok(ExitCode::SUCCESS)
        }
        TraceCommand::Convert { trace, out, seed } => {
            let t = open(&trace, &OpenOptions { seed })?;
            let n = convert(t, &out)?;
            eprintln!(
                "gale: wrote {n} rows to {}",
                if out == Path::new("-") {
                    "standard output".into()
                } else {
                    out.display().to_string()
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Write the trace's rows as gale CSV. To `NAME.yaml`, the output is the whole workload:
/// a YAML trace declaring the functions (kind, code, memory, default parameters, blocking)
/// and users (namespaces) of the input, whose rows come from `NAME.csv` beside it. To a
/// CSV file or `-`, rows only: the trace-level and function-level `blocking` defaults and
/// each function's default parameters are folded into every row, and a header that holds
/// what rows cannot carry (kinds, code, memory, timeouts, users' namespaces) is refused
/// rather than silently dropped.
fn convert(t: Trace, out: &Path) -> anyhow::Result<u64> {
    let unwrap = |e: WriteCsvError| match e {
        WriteCsvError::Trace(t) => anyhow::Error::new(t),
        WriteCsvError::Io(io) => anyhow::Error::new(io).context("cannot write the CSV output"),
    };
    let yaml = out.extension().is_some_and(|e| e == "yaml" || e == "yml");
    if out == Path::new("-") {
        let rows = rows_only(t)?;
        return write_csv(rows, std::io::stdout().lock()).map_err(unwrap);
    }
    refuse_non_regular(out)?;
    if !yaml {
        let rows = rows_only(t)?;
        return write_file_atomically(out, |w| write_csv(rows, w).map_err(unwrap));
    }
    let csv_path = out.with_extension("csv");
    refuse_non_regular(&csv_path)?;
    let Trace { header, rows } = t;
    let n = write_file_atomically(&csv_path, |w| write_csv(rows, w).map_err(unwrap))?;
    let doc = ConvertedHeader {
        seed: header.seed,
        blocking: header.blocking,
        functions: &header.functions,
        users: &header.users,
        invocations_file: csv_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let text = serde_saphyr::to_string(&doc).context("cannot render the YAML trace")?;
    let sources = header.sources.join(", ");
    let text = format!(
        "# gale trace converted from {sources} by `gale trace convert`: the functions and users\n\
         # it declares, and its rows (arrival specifications expanded) in the CSV file below.\n{text}"
    );
    crate::atomic::write_atomic(out, text.as_bytes())
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(n)
}

/// The YAML trace `convert` writes: the input's declarations, rows from a CSV file.
#[derive(serde::Serialize)]
struct ConvertedHeader<'a> {
    seed: u64,
    blocking: bool,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    functions: &'a [super::FunctionSpec],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    users: &'a [super::UserSpec],
    invocations_file: String,
}

/// The rows of `t` with what its header says of each folded in, for a CSV output that has
/// no header; an error names what a CSV file cannot hold.
fn rows_only(t: Trace) -> anyhow::Result<super::Rows> {
    let h = t.header;
    let mut lost = Vec::new();
    for f in &h.functions {
        if f.kind != super::SYNTHETIC_KIND || f.code.is_some() {
            lost.push(format!("function `{}` has kind {}", f.name, f.kind));
        }
        if f.memory_mb.is_some() || f.timeout_ms.is_some() || !f.deploy {
            lost.push(format!("function `{}` has limits or deploy: false", f.name));
        }
    }
    if !h.users.is_empty() {
        lost.push("users are declared (each gets its own namespace)".into());
    }
    if !lost.is_empty() {
        anyhow::bail!(
            "a CSV trace has no header to hold what this trace declares ({}); \
             convert to NAME.yaml instead, which writes the declarations and NAME.csv beside it",
            lost.join("; ")
        );
    }
    let defaults: std::collections::HashMap<
        String,
        (serde_json::Map<String, serde_json::Value>, Option<bool>),
    > = h
        .functions
        .iter()
        .map(|f| (f.name.clone(), (f.params.clone(), f.blocking)))
        .collect();
    let trace_blocking = h.blocking;
    Ok(Box::new(t.rows.map(move |r| {
        let mut inv = r?;
        let (params, blocking) = defaults
            .get(&*inv.function)
            .map(|(p, b)| (Some(p), *b))
            .unwrap_or((None, None));
        inv.blocking = Some(inv.blocking.or(blocking).unwrap_or(trace_blocking));
        if let Some(defaults) = params.filter(|p| !p.is_empty()) {
            // The function's defaults first, the row's own values over them, as the
            // platform merges an action's parameters with an invocation's.
            let mut merged = defaults.clone();
            if let Some(own) = inv.params.as_deref() {
                if let Ok(serde_json::Value::Object(own)) = serde_json::from_str(own) {
                    merged.extend(own);
                }
            }
            inv.params = Some(serde_json::Value::Object(merged).to_string().into());
        }
        Ok(inv)
    })))
}

/// An output path must be a regular file or not exist: never replace a device, a FIFO or
/// a directory with a trace.
fn refuse_non_regular(path: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_file() => anyhow::bail!(
            "{} exists and is not a regular file: give another --out (or `-` for standard output)",
            path.display()
        ),
        _ => Ok(()),
    }
}

/// Write beside the target and rename, so a failed conversion never leaves a truncated
/// file that looks like a complete trace.
fn write_file_atomically(
    out: &Path,
    write: impl FnOnce(std::io::BufWriter<&std::fs::File>) -> anyhow::Result<u64>,
) -> anyhow::Result<u64> {
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(".partial");
    let file = std::fs::File::create(&tmp)
        .with_context(|| format!("cannot create {}", Path::new(&tmp).display()))?;
    let result = write(std::io::BufWriter::new(&file))
        .and_then(|n| file.sync_all().map(|()| n).map_err(Into::into));
    match result {
        Ok(n) => {
            std::fs::rename(&tmp, out)
                .with_context(|| format!("cannot rename to {}", out.display()))?;
            Ok(n)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

#[derive(Default)]
struct Tally {
    rows: u64,
    first_ns: u64,
    last_ns: u64,
}

impl Tally {
    fn add(&mut self, at_ns: u64) {
        if self.rows == 0 {
            self.first_ns = at_ns;
        }
        self.rows += 1;
        self.last_ns = at_ns;
    }
}

/// Print what `t` holds, reading its rows once.
pub fn check(path: &Path, t: Trace, mut out: impl Write) -> anyhow::Result<()> {
    let mut all = Tally::default();
    let mut per_fn: BTreeMap<Arc<str>, Tally> = BTreeMap::new();
    let mut per_user: BTreeMap<Arc<str>, u64> = BTreeMap::new();
    for r in t.rows {
        let inv = r?;
        all.add(inv.at_ns);
        per_fn.entry(inv.function).or_default().add(inv.at_ns);
        *per_user.entry(inv.user).or_default() += 1;
    }
    let h = &t.header;
    let secs = |ns: u64| ns as f64 / 1e9;
    writeln!(out, "trace      {}", path.display())?;
    for s in &h.sources {
        writeln!(out, "source     {s}")?;
    }
    writeln!(out, "seed       {}", h.seed)?;
    writeln!(out, "blocking   {} (default)", h.blocking)?;
    if h.functions.is_empty() {
        writeln!(
            out,
            "functions  not declared (synthetic, named by the rows)"
        )?;
    } else {
        writeln!(out, "functions  {}", h.functions.len())?;
        for f in &h.functions {
            let mem = f.memory_mb.map(|m| format!(", {m} MB")).unwrap_or_default();
            let params = serde_json::Value::Object(f.params.clone());
            writeln!(out, "  {} ({}{mem}) {params}", f.name, f.kind)?;
        }
    }
    if h.users.is_empty() {
        writeln!(out, "users      not declared")?;
    } else {
        let names: Vec<&str> = h.users.iter().map(|u| u.name.as_str()).collect();
        writeln!(out, "users      {}", names.join(", "))?;
    }
    writeln!(out, "rows       {}", all.rows)?;
    if all.rows == 0 {
        return Ok(());
    }
    writeln!(
        out,
        "span       {} s to {} s ({:.3} s)",
        num::format_secs(all.first_ns),
        num::format_secs(all.last_ns),
        secs(all.last_ns - all.first_ns)
    )?;
    let run = secs(all.last_ns).max(1e-9);
    writeln!(
        out,
        "rate       {:.2} /s over the run (0 to the last row)",
        all.rows as f64 / run
    )?;
    let width = per_fn
        .keys()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(8)
        .clamp(8, NAME_COLUMN);
    writeln!(
        out,
        "\n{:<width$}  {:>10}  {:>10}  {:>10}  {:>10}",
        "function", "rows", "rate/s", "first s", "last s"
    )?;
    for (name, t) in &per_fn {
        writeln!(
            out,
            "{:<width$}  {:>10}  {:>10.2}  {:>10.3}  {:>10.3}",
            shown(name),
            t.rows,
            t.rows as f64 / run,
            secs(t.first_ns),
            secs(t.last_ns)
        )?;
    }
    let uwidth = per_user
        .keys()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, NAME_COLUMN);
    writeln!(out, "\n{:<uwidth$}  {:>10}", "user", "rows")?;
    for (name, n) in &per_user {
        writeln!(out, "{:<uwidth$}  {n:>10}", shown(name))?;
    }
    Ok(())
}

/// The widest name column of the tables; longer names are shortened with an ellipsis
/// (a name may be any length, a column may not).
const NAME_COLUMN: usize = 60;

fn shown(name: &str) -> std::borrow::Cow<'_, str> {
    if name.chars().count() <= NAME_COLUMN {
        return name.into();
    }
    let mut s: String = name.chars().take(NAME_COLUMN - 1).collect();
    s.push('…');
    s.into()
}
