//! `gale trace check` and `gale trace convert`: both stream the rows, never holding them all.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use super::{num, open, write_csv, write_csv_ahead, OpenOptions, Trace, WriteCsvError};

/// `gale trace check`: validate the trace and print what it holds.
pub fn run_check(trace: &Path, seed: Option<u64>) -> anyhow::Result<ExitCode> {
    let t = open(trace, &OpenOptions { seed })?;
    let out = std::io::stdout().lock();
    check(trace, t, out)?;
    Ok(ExitCode::SUCCESS)
}

/// `gale trace convert`: expand the trace into gale's CSV rows at `out` (`-`: stdout).
pub fn run_convert(trace: &Path, out: &Path, seed: Option<u64>) -> anyhow::Result<ExitCode> {
    let t = open(trace, &OpenOptions { seed })?;
    let n = convert(t, out)?;
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

/// What `gale trace shrink` keeps and how it rescales time and rate.
#[derive(Debug, Clone)]
pub struct ShrinkSettings {
    /// The trace to shrink.
    pub trace: std::path::PathBuf,
    /// Output: NAME.yaml, its rows in NAME.csv beside it.
    pub out: std::path::PathBuf,
    /// Keep the N functions with the most rows.
    pub top: Option<usize>,
    /// Keep a representative sample of N functions.
    pub sample: Option<usize>,
    /// Candidates tried per step of the sample.
    pub trials: usize,
    /// Seed of the sample and of the rate scaling's thinning.
    pub sample_seed: u64,
    /// Divide every time by this factor.
    pub compress: f64,
    /// Multiply the rate by this factor.
    pub scale: f64,
    /// Seed for arrival specifications.
    pub seed: Option<u64>,
}

/// `gale trace shrink`: a smaller trace (top N or a representative sample), rescaled.
pub fn run_shrink(settings: ShrinkSettings) -> anyhow::Result<ExitCode> {
    let ShrinkSettings {
        trace,
        out,
        top,
        sample,
        trials,
        sample_seed,
        compress,
        scale,
        seed,
    } = settings;
    if !out.extension().is_some_and(|e| e == "yaml" || e == "yml") {
        anyhow::bail!(
            "--out must name a YAML trace, NAME.yaml (its rows go to NAME.csv), got {}",
            out.display()
        );
    }
    let opts = OpenOptions { seed };
    let keep = match (top, sample) {
        (None, None) => None,
        (top, sample) => {
            let (loads, _) = super::shrink::profiles(open(&trace, &opts)?.rows)?;
            let names: Vec<Arc<str>> = match (top, sample) {
                (Some(n), _) => loads.iter().take(n).map(|l| l.name.clone()).collect(),
                (_, Some(n)) => super::shrink::sample(&loads, n, trials, sample_seed),
                _ => Vec::new(),
            };
            Some(names.into_iter().collect::<std::collections::HashSet<_>>())
        }
    };
    let t = open(&trace, &opts)?;
    let mut header = t.header;
    if let Some(k) = &keep {
        header.functions.retain(|f| k.contains(f.name.as_str()));
    }
    let kept = keep.as_ref().map(|k| k.len());
    let rows = super::merge::merge(vec![super::shrink::apply(
        t.rows,
        super::shrink::Transform {
            keep,
            compress,
            scale,
            seed: sample_seed,
        },
    )]);
    header.sources = vec![format!("{} (shrunk)", trace.display())];
    let n = write_workload(&out, rows, true, move || Ok(header))?;
    if let Some(k) = kept {
        println!("functions  {k} kept");
    }
    println!("rows       {n}");
    println!("wrote      {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// What `gale trace inspect` shows.
#[derive(Debug, Clone)]
pub struct InspectSettings {
    /// The trace to inspect.
    pub trace: std::path::PathBuf,
    /// Seed for arrival specifications.
    pub seed: Option<u64>,
    /// Functions listed, busiest first.
    pub top: usize,
    /// Also draw the rate over time to PATH.svg and PATH.png.
    pub plot: Option<std::path::PathBuf>,
}

/// `gale trace inspect`: per-function rates and inter-arrival statistics, the rate over time.
pub fn run_inspect(settings: InspectSettings) -> anyhow::Result<ExitCode> {
    let InspectSettings {
        trace,
        seed,
        top,
        plot,
    } = settings;
    let t = open(&trace, &OpenOptions { seed })?;
    let ins = super::inspect::Inspection::of(t.rows)?;
    println!("trace      {}", trace.display());
    print!("{}", ins.table(top));
    if let Some(plot) = plot {
        let stem_path = plot.with_extension("");
        let dir = stem_path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let stem = stem_path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "rate".into());
        let title = format!("Arrivals of {}", trace.display());
        let note = format!(
            "{} rows; per {} s bucket",
            ins.all.rows,
            ins.timeline.width_s()
        );
        let series = crate::report::plot::fig_rate::RateSeries {
            title: &title,
            note: &note,
            bucket_s: ins.timeline.width_s(),
            counts: ins.timeline.counts(),
            expected: None,
        };
        for p in crate::report::plot::fig_rate::write_rate(&series, dir, &stem)? {
            println!("plot       {}", p.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `gale trace import`'s settings: the release's files, how to read them, the output.
#[derive(Debug, Clone)]
pub struct ImportSettings {
    /// The release's format.
    pub format: super::import::Format,
    /// The release's files, or directories holding them.
    pub inputs: Vec<std::path::PathBuf>,
    /// How rows are drawn from the release.
    pub options: super::import::ImportOptions,
    /// Output: NAME.yaml with its rows in NAME.csv beside it.
    pub out: std::path::PathBuf,
}

/// `gale trace import`: import a public trace's raw files into a gale trace, then print a
/// summary.
pub fn run_import(settings: ImportSettings) -> anyhow::Result<ExitCode> {
    let summary = import(
        settings.format,
        &settings.inputs,
        &settings.options,
        &settings.out,
    )?;
    print!("{summary}");
    println!("wrote      {}", settings.out.display());
    Ok(ExitCode::SUCCESS)
}

/// `gale trace import`: stream the rows into NAME.csv, then write NAME.yaml declaring the
/// functions the import found; returns the summary to print.
pub fn import(
    format: super::import::Format,
    inputs: &[std::path::PathBuf],
    opts: &super::import::ImportOptions,
    out: &Path,
) -> anyhow::Result<String> {
    if !out.extension().is_some_and(|e| e == "yaml" || e == "yml") {
        anyhow::bail!(
            "--out must name a YAML trace, NAME.yaml (its rows go to NAME.csv beside it), got {}",
            out.display()
        );
    }
    let super::import::Imported {
        functions: known,
        rows,
        report,
        sources,
    } = super::import::open(format, inputs, opts)?;
    let rows = super::merge::merge(vec![rows]);
    let shared = report.clone();
    // Reading ahead on a second thread pays where a row is parsed from its own line
    // (Azure 2021); an importer that expands counts into rows holds its buffers on
    // that thread's heap besides the main one's (Azure 2019's day: 70 → 80 MB peak).
    let ahead = format == super::import::Format::Azure2021;
    write_workload(out, rows, ahead, move || {
        let mut r = shared
            .lock()
            .map_err(|_| anyhow::anyhow!("import state poisoned"))?;
        // Moved, not cloned: the functions are the import's largest state.
        let mut functions = known;
        functions.append(&mut r.functions);
        r.known_functions = functions.len();
        Ok(super::TraceHeader {
            functions,
            users: Vec::new(),
            packages: Vec::new(),
            blocking: false,
            seed: opts.seed,
            sources,
        })
    })?;
    let r = report
        .lock()
        .map_err(|_| anyhow::anyhow!("import state poisoned"))?;
    Ok(r.summary(format))
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
    let Trace { header, rows } = t;
    write_workload(out, rows, true, move || Ok(header))
}

/// Write `rows` to NAME.csv beside `out`, then `out` (NAME.yaml) declaring what `header`
/// (asked for once the rows are written) says and naming NAME.csv; both atomically.
fn write_workload(
    out: &Path,
    rows: super::Rows,
    ahead: bool,
    header: impl FnOnce() -> anyhow::Result<super::TraceHeader>,
) -> anyhow::Result<u64> {
    let unwrap = |e: WriteCsvError| match e {
        WriteCsvError::Trace(t) => anyhow::Error::new(t),
        WriteCsvError::Io(io) => anyhow::Error::new(io).context("cannot write the CSV output"),
    };
    refuse_non_regular(out)?;
    let csv_path = out.with_extension("csv");
    refuse_non_regular(&csv_path)?;
    let n = write_file_atomically(&csv_path, |w| {
        if ahead {
            write_csv_ahead(rows, w).map_err(unwrap)
        } else {
            write_csv(rows, w).map_err(unwrap)
        }
    })?;
    let header = header()?;
    let doc = ConvertedHeader {
        seed: header.seed,
        blocking: header.blocking,
        functions: &header.functions,
        users: &header.users,
        packages: &header.packages,
        invocations_file: csv_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let text = serde_saphyr::to_string(&doc).context("cannot render the YAML trace")?;
    let sources = header.sources.join(", ");
    let text = format!(
        "# gale trace made from {sources}:\n\
         # the functions and users it declares; its rows (arrivals expanded) are in the CSV file.\n{text}"
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
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    packages: &'a [super::PackageSpec],
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
        if f.web.is_some() {
            lost.push(format!("function `{}` is a web action", f.name));
        }
    }
    if !h.packages.is_empty() {
        lost.push("packages are declared (with their parameters)".into());
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
            let params = serde_json::Value::Object(f.params.clone());
            writeln!(out, "  {} ({}) {params}", f.name, describe(f))?;
        }
    }
    for p in &h.packages {
        let params = serde_json::Value::Object(p.params.clone());
        writeln!(out, "package    {} {params}", p.name)?;
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

/// What a function is, in a few words: `gale:synthetic, 128 MB`, `sequence: a → b`,
/// `trigger; rules: tick-a → a, tick-b → b (inactive)`, `…, web GET .json`.
fn describe(f: &super::FunctionSpec) -> String {
    if f.is_trigger() {
        let rules: Vec<String> = f
            .rules
            .iter()
            .map(|r| {
                let state = if r.active { "" } else { " (inactive)" };
                format!("{} → {}{state}", r.name_for(&f.name), r.action)
            })
            .collect();
        return format!("trigger; rules: {}", rules.join(", "));
    }
    let mut text = if f.is_sequence() {
        format!("sequence: {}", f.components.join(" → "))
    } else {
        f.kind.clone()
    };
    if let Some(m) = f.memory_mb {
        text += &format!(", {m} MB");
    }
    if let Some(w) = &f.web {
        text += &format!(", web {} .{}", w.method.as_str(), w.extension.as_str());
    }
    text
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
