//! The outputs of `gale report`: aligned text, Markdown, JSON and CSV of a [`Report`].

use std::fmt::Write as _;

use super::analysis::{Report, RunFigures, ALL};
use super::group::{GroupFigures, MetricFigures, METRICS};
use super::stats::{Interval, Quantile};

/// A number for a table: four significant digits at most, no exponent for usual values.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    let decimals = if a == 0.0 || a >= 1000.0 {
        0
    } else if a >= 1.0 {
        3 - a.log10().floor() as usize
    } else {
        // 3 significant digits below 1 (0.0123), capped at µs-of-ms resolution.
        (2 - a.log10().floor() as i64).clamp(0, 6) as usize
    };
    format!("{v:.decimals$}")
}

/// 0.95 → `95`, 0.999 → `99.9`.
fn percent(c: f64) -> String {
    format!("{}", (c * 1e6).round() / 1e4)
}

fn interval(ci: Option<Interval>) -> String {
    match ci {
        Some(i) => format!("[{}, {}]", num(i.lo), num(i.hi)),
        None => "n too small".into(),
    }
}

/// A quantile with its markers: `*` when it is the max, `~` or `≈` when from a histogram
/// ([`MetricFigures::marker`]).
fn quantile(q: &Quantile, m: &MetricFigures) -> String {
    format!(
        "{}{}{}",
        m.marker(),
        num(q.value),
        if q.is_max { "*" } else { "" }
    )
}

/// Rows of cells, rendered aligned or as Markdown.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    fn text(&self, out: &mut String) {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|c| {
                std::iter::once(&self.header)
                    .chain(&self.rows)
                    .map(|r| r[c].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |out: &mut String, r: &[String]| {
            let mut s = String::new();
            for (c, cell) in r.iter().enumerate() {
                let pad = " ".repeat(widths[c] - cell.chars().count());
                // Names left, numbers right.
                if c == 0 || (c == 1 && self.header[1] == "metric") {
                    let _ = write!(s, "{cell}{pad}  ");
                } else {
                    let _ = write!(s, "{pad}{cell}  ");
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(out, &self.header);
        out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1)));
        out.push('\n');
        for r in &self.rows {
            line(out, r);
        }
    }

    fn markdown(&self, out: &mut String) {
        let esc = |s: &str| s.replace('|', "\\|");
        let _ = writeln!(
            out,
            "| {} |",
            self.header
                .iter()
                .map(|h| esc(h))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        let _ = writeln!(out, "|{}", "---|".repeat(self.header.len()));
        for r in &self.rows {
            let _ = writeln!(
                out,
                "| {} |",
                r.iter().map(|h| esc(h)).collect::<Vec<_>>().join(" | ")
            );
        }
    }
}

fn groups_of(run: &RunFigures) -> impl Iterator<Item = (&str, &GroupFigures)> {
    run.groups
        .iter()
        .map(|(k, g)| (k.as_str(), g))
        .chain(std::iter::once((ALL, &run.all)))
}

fn counts_table(run: &RunFigures, by: &str) -> Table {
    let mut t = Table::new(&[by, "count", "errors", "error %", "cold", "outcomes"]);
    for (k, g) in groups_of(run) {
        let outcomes: Vec<String> = g.outcomes.iter().map(|(o, n)| format!("{o} {n}")).collect();
        t.rows.push(vec![
            k.to_string(),
            g.count.to_string(),
            g.errors.to_string(),
            num(100.0 * g.error_rate),
            g.cold_starts.to_string(),
            outcomes.join(", "),
        ]);
    }
    t
}

fn metrics_table(run: &RunFigures, by: &str, confidence: f64) -> Table {
    let pct = percent(confidence);
    let mean_ci = format!("mean {pct}% CI");
    let p50_ci = format!("p50 {pct}% CI");
    let mut t = Table::new(&[
        by, "metric", "n", "mean", &mean_ci, "std", "cv", "p50", &p50_ci, "p90", "p99", "max",
    ]);
    for (k, g) in groups_of(run) {
        for (i, spec) in METRICS.iter().enumerate() {
            let Some(m) = g.metric(i) else { continue };
            t.rows
                .push(metric_row(k, &format!("{} {}", spec.name, spec.unit), m));
        }
    }
    t
}

fn metric_row(group: &str, metric: &str, m: &MetricFigures) -> Vec<String> {
    vec![
        group.to_string(),
        metric.to_string(),
        m.n.to_string(),
        num(m.mean),
        m.mean_ci
            .map_or("n too small".into(), |i| interval(Some(i))),
        m.std.map_or("-".into(), num),
        m.cv.map_or("-".into(), num),
        quantile(&m.p50, m),
        interval(m.p50.ci),
        quantile(&m.p90, m),
        quantile(&m.p99, m),
        num(m.max),
    ]
}

fn comparison_table(report: &Report) -> Table {
    let pct = percent(report.confidence);
    let ci = format!("shift {pct}% CI");
    let mut t = Table::new(&[
        &report.by, "metric", "run", "vs", "p50", "p50 vs", "Δp50", "shift", &ci, "p", "verdict",
    ]);
    for c in &report.comparisons {
        t.rows.push(vec![
            c.group.clone(),
            format!("{} {}", c.metric, c.unit),
            c.run.clone(),
            c.baseline.clone(),
            num(c.median_run),
            num(c.median_baseline),
            format!(
                "{}{}",
                if c.median_diff > 0.0 { "+" } else { "" },
                num(c.median_diff)
            ),
            num(c.test.shift),
            interval(c.test.shift_ci),
            format!("{:.3e}", c.test.p_value),
            c.test.verdict.words().to_string(),
        ]);
    }
    t
}

const NOTES: &str = "\
*  the value is the max: fewer than 1/(1-p) values (p90 needs 10, p99 needs 100)
~  from a histogram with 3 significant digits, within 0.1 % (more than 200 000 values, or the memory bound)
≈  from a histogram with 2 significant digits, within 1 % (the memory bound, with many groups)
n too small: no order-statistic interval exists at this confidence (the median needs 6 values at 95 %)
";

const NOTES_MD: &str = "\
- `*`: the value is the max: fewer than 1/(1-p) values (p90 needs 10, p99 needs 100)
- `~`: from a histogram with 3 significant digits, within 0.1 % (more than 200 000 values, or the memory bound)
- `≈`: from a histogram with 2 significant digits, within 1 % (the memory bound, with many groups)
- n too small: no order-statistic interval exists at this confidence (the median needs 6 values at 95 %)
";

fn checks_text(report: &Report, out: &mut String) {
    for c in &report.checks {
        let value = c.value.map_or("no values".to_string(), |v| {
            format!("{} {}", num(v), c.unit)
        });
        let _ = writeln!(
            out,
            "check `{}` on {}: {} — {}",
            c.check,
            c.run,
            value.trim_end(),
            if c.passed { "ok" } else { "FAILED" }
        );
    }
}

fn run_heading(run: &RunFigures) -> String {
    format!(
        "{}: {} records from {}",
        run.label,
        run.records,
        run.files.join(", ")
    )
}

/// Aligned text for a terminal.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    for run in &report.runs {
        let _ = writeln!(out, "== {}\n", run_heading(run));
        counts_table(run, &report.by).text(&mut out);
        out.push('\n');
        metrics_table(run, &report.by, report.confidence).text(&mut out);
        out.push('\n');
    }
    out.push_str(NOTES);
    if !report.comparisons.is_empty() {
        let _ = writeln!(
            out,
            "\n== comparison with {} (shift: Hodges–Lehmann; p: Mann-Whitney, two-sided)\n",
            report.runs[0].label
        );
        comparison_table(report).text(&mut out);
    }
    if !report.checks.is_empty() {
        out.push('\n');
        checks_text(report, &mut out);
    }
    out
}

/// Markdown tables.
pub fn markdown(report: &Report) -> String {
    let mut out = String::new();
    for run in &report.runs {
        let _ = writeln!(out, "## {}\n", run_heading(run));
        counts_table(run, &report.by).markdown(&mut out);
        out.push('\n');
        metrics_table(run, &report.by, report.confidence).markdown(&mut out);
        out.push('\n');
    }
    out.push_str(NOTES_MD);
    if !report.comparisons.is_empty() {
        let _ = writeln!(
            out,
            "\n## Comparison with {} (shift: Hodges–Lehmann; p: Mann-Whitney, two-sided)\n",
            report.runs[0].label
        );
        comparison_table(report).markdown(&mut out);
    }
    if !report.checks.is_empty() {
        out.push('\n');
        let mut checks = String::new();
        checks_text(report, &mut checks);
        for line in checks.lines() {
            let _ = writeln!(out, "- {line}");
        }
    }
    out
}

/// One JSON document.
pub fn json(report: &Report) -> String {
    let mut s = serde_json::to_string_pretty(report).expect("report figures serialize");
    s.push('\n');
    s
}

/// One CSV row per run, group and metric (count rows for groups without any metric), with
/// the comparison against the first run on the rows of later runs.
pub fn csv(report: &Report) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "run",
        "group",
        "metric",
        "unit",
        "count",
        "errors",
        "cold_starts",
        "n",
        "mean",
        "mean_lo",
        "mean_hi",
        "std",
        "cv",
        "min",
        "p50",
        "p50_lo",
        "p50_hi",
        "p90",
        "p99",
        "max",
        "exact",
        "histogram_digits",
        "vs",
        "median_diff",
        "shift",
        "shift_lo",
        "shift_hi",
        "p_value",
        "verdict",
    ])?;
    let f = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    for run in &report.runs {
        for (k, g) in groups_of(run) {
            let head = [run.label.clone(), k.to_string()];
            let counts = [
                g.count.to_string(),
                g.errors.to_string(),
                g.cold_starts.to_string(),
            ];
            let mut any = false;
            for (i, spec) in METRICS.iter().enumerate() {
                let Some(m) = g.metric(i) else { continue };
                any = true;
                let cmp = report
                    .comparisons
                    .iter()
                    .find(|c| c.run == run.label && c.group == k && c.metric == spec.name);
                let mut rec: Vec<String> = head.to_vec();
                rec.extend([spec.name.to_string(), spec.unit.to_string()]);
                rec.extend(counts.iter().cloned());
                rec.extend([
                    m.n.to_string(),
                    m.mean.to_string(),
                    f(m.mean_ci.map(|i| i.lo)),
                    f(m.mean_ci.map(|i| i.hi)),
                    f(m.std),
                    f(m.cv),
                    m.min.to_string(),
                    m.p50.value.to_string(),
                    f(m.p50.ci.map(|i| i.lo)),
                    f(m.p50.ci.map(|i| i.hi)),
                    m.p90.value.to_string(),
                    m.p99.value.to_string(),
                    m.max.to_string(),
                    m.exact.to_string(),
                    m.histogram_digits.map_or(String::new(), |d| d.to_string()),
                ]);
                match cmp {
                    Some(c) => rec.extend([
                        c.baseline.clone(),
                        c.median_diff.to_string(),
                        c.test.shift.to_string(),
                        f(c.test.shift_ci.map(|i| i.lo)),
                        f(c.test.shift_ci.map(|i| i.hi)),
                        c.test.p_value.to_string(),
                        c.test.verdict.words().to_string(),
                    ]),
                    None => rec.extend(std::iter::repeat_n(String::new(), 7)),
                }
                w.write_record(&rec)?;
            }
            if !any {
                let mut rec: Vec<String> = head.to_vec();
                rec.extend([String::new(), String::new()]);
                rec.extend(counts.iter().cloned());
                rec.extend(std::iter::repeat_n(String::new(), 22));
                w.write_record(&rec)?;
            }
        }
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}
