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

fn convert(t: Trace, out: &Path) -> anyhow::Result<u64> {
    let unwrap = |e: WriteCsvError| match e {
        WriteCsvError::Trace(t) => anyhow::Error::new(t),
        WriteCsvError::Io(io) => anyhow::Error::new(io).context("cannot write the CSV output"),
    };
    if out == Path::new("-") {
        return write_csv(t.rows, std::io::stdout().lock()).map_err(unwrap);
    }
    // Write beside the target and rename, so a failed conversion never leaves a truncated
    // file that looks like a complete trace.
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(".partial");
    let file = std::fs::File::create(&tmp)
        .with_context(|| format!("cannot create {}", Path::new(&tmp).display()))?;
    let result = write_csv(t.rows, std::io::BufWriter::new(&file))
        .map_err(unwrap)
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
        .max(8);
    writeln!(
        out,
        "\n{:<width$}  {:>10}  {:>10}  {:>10}  {:>10}",
        "function", "rows", "rate/s", "first s", "last s"
    )?;
    for (name, t) in &per_fn {
        writeln!(
            out,
            "{:<width$}  {:>10}  {:>10.2}  {:>10.3}  {:>10.3}",
            name,
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
        .max(4);
    writeln!(out, "\n{:<uwidth$}  {:>10}", "user", "rows")?;
    for (name, n) in &per_user {
        writeln!(out, "{name:<uwidth$}  {n:>10}")?;
    }
    Ok(())
}
