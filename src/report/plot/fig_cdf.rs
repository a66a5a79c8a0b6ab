//! `latency-cdf`: the empirical CDF of completion latency, one line per run when comparing
//! runs (all functions pooled), one line per function for a single run.

use plotters::prelude::*;

use super::render::{self, fit, Area, DrawResult, Figure, Scale, Ticked};
use super::sketch::Latencies;
use super::{Options, PlotData};

/// Most lines drawn: past ten colours a reader cannot match lines to the legend.
const MAX_LINES: usize = 10;

/// One line: its label, sample count and step points (latency ms, cumulative fraction).
struct Line {
    label: String,
    n: u64,
    steps: Vec<(f64, f64)>,
}

/// The figure's data.
pub(super) struct LatencyCdf {
    lines: Vec<Line>,
    per_run: bool,
    hidden: usize,
    scale: Scale,
}

fn steps(l: &Latencies) -> Vec<(f64, f64)> {
    let n = l.count() as f64;
    let mut cum = 0u64;
    let mut out = Vec::new();
    for (v, c) in l.buckets() {
        out.push((v, cum as f64 / n));
        cum += c;
        out.push((v, cum as f64 / n));
    }
    out
}

impl LatencyCdf {
    /// Lines for each run (or function); `Err` says why there is nothing to draw.
    pub fn new(data: &PlotData, opts: &Options) -> Result<LatencyCdf, String> {
        let per_run = data.runs().len() > 1;
        let (groups, total): (Vec<(String, &Latencies)>, usize) = if per_run {
            let g: Vec<_> = data
                .runs()
                .iter()
                .filter(|r| r.all.count() > 0)
                .map(|r| (r.label.clone(), &r.all))
                .collect();
            let len = g.len();
            (g, len)
        } else {
            let run = &data.runs()[0];
            let by = run.functions_by_count();
            let len = by.len();
            let shown = by
                .into_iter()
                .take(opts.max_functions.clamp(1, MAX_LINES))
                .map(|(name, l)| (name.to_string(), l))
                .collect();
            (shown, len)
        };
        if groups.is_empty() {
            return Err("no successful invocation with a completion latency".to_string());
        }
        let lo = groups
            .iter()
            .filter_map(|g| g.1.min())
            .fold(f64::INFINITY, f64::min);
        let hi = groups.iter().filter_map(|g| g.1.max()).fold(0.0, f64::max);
        let mut scale = Scale::auto(lo, hi);
        if !scale.log {
            // A CDF starts at its minimum; an axis from 0 would waste the width on nothing.
            scale = Scale::linear(
                (lo - (hi - lo) * 0.05).max(0.0),
                hi + (hi - lo).max(hi * 0.01) * 0.05,
            );
        }
        Ok(LatencyCdf {
            hidden: total - groups.len().min(MAX_LINES),
            lines: groups
                .into_iter()
                .take(MAX_LINES)
                .map(|(label, l)| Line {
                    label,
                    n: l.count(),
                    steps: steps(l),
                })
                .collect(),
            per_run,
            scale,
        })
    }
}

impl Figure for LatencyCdf {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB> {
        let mut note = if self.per_run {
            "one line per run, all functions pooled; successful invocations".to_string()
        } else {
            "one line per function; successful invocations".to_string()
        };
        if self.hidden > 0 {
            note += &format!(
                "; the {} of {} with the most invocations",
                self.lines.len(),
                self.lines.len() + self.hidden
            );
        }
        let body = render::titled(root, "Completion latency CDF", &note, &[])?;
        let scale = self.scale;
        let y_ticks: Vec<f64> = (0..=10).map(|i| i as f64 / 10.0).collect();
        let mut chart = ChartBuilder::on(&body)
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(scale.axis(), Ticked::new(0.0..1.02, y_ticks))?;
        let x_fmt = |x: &f64| scale.label(*x);
        let y_fmt = |y: &f64| format!("{y:.1}");
        chart
            .configure_mesh()
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .x_desc(if scale.log {
                "completion latency (ms, log scale)"
            } else {
                "completion latency (ms)"
            })
            .y_desc("fraction of invocations ≤ x")
            .label_style(render::label_style())
            .axis_desc_style(render::desc_style())
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .draw()?;
        for (i, line) in self.lines.iter().enumerate() {
            let color = render::color(i);
            chart
                .draw_series(LineSeries::new(
                    line.steps.iter().map(|&(v, f)| (scale.t(v), f)),
                    color.stroke_width(3),
                ))?
                .label(format!("{} (n={})", fit(&line.label, 32), line.n))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(render::label_style())
            .draw()?;
        Ok(())
    }
}
