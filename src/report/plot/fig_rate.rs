//! `rate`: a trace's invocations per second over time (`gale trace inspect --plot`), with
//! the rate the trace intends, when known, drawn over the measured one.

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use super::render::{self, time_unit, Area, DrawResult, Entry, Figure, Mark, Scale};
use super::PlotError;

/// Counts per bucket of a trace, and what to call it.
pub struct RateSeries<'a> {
    /// Title of the figure.
    pub title: &'a str,
    /// Line under the title.
    pub note: &'a str,
    /// Width of a bucket, s.
    pub bucket_s: f64,
    /// Rows per bucket, from time 0.
    pub counts: &'a [u64],
    /// The intended rate at a time (s), drawn as a second line.
    pub expected: Option<&'a dyn Fn(f64) -> f64>,
}

struct RateFigure<'a> {
    s: &'a RateSeries<'a>,
}

impl Figure for RateFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (1200, 520)
    }

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB> {
        let s = self.s;
        let span = s.counts.len() as f64 * s.bucket_s;
        let unit = time_unit(span);
        let rates: Vec<(f64, f64)> = s
            .counts
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                (
                    (i as f64 + 0.5) * s.bucket_s / unit.1,
                    c as f64 / s.bucket_s,
                )
            })
            .collect();
        let expected: Vec<(f64, f64)> = match s.expected {
            Some(f) => (0..=400)
                .map(|i| {
                    let t = span * i as f64 / 400.0;
                    (t / unit.1, f(t))
                })
                .collect(),
            None => Vec::new(),
        };
        let top = rates
            .iter()
            .chain(&expected)
            .map(|p| p.1)
            .fold(0.0, f64::max);
        let mut entries = vec![Entry::new("rows per second", render::color(0), Mark::Line)];
        if !expected.is_empty() {
            entries.push(Entry::new("intended rate", render::color(3), Mark::Line));
        }
        let body = render::titled(root, s.title, s.note, &[])?;
        let (legend_area, body) =
            body.split_vertically(render::legend_height(&body, &entries)? + 4);
        render::legend(&legend_area, &entries, 0)?;
        let x = Scale::linear(0.0, span / unit.1);
        let y = Scale::from_zero(top.max(1e-9));
        let mut chart = ChartBuilder::on(&body)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(x.axis(), y.axis())?;
        let xf = |v: &f64| x.label(*v);
        let yf = |v: &f64| y.label(*v);
        let x_desc = format!("time since the start ({})", unit.0);
        chart
            .configure_mesh()
            .x_label_formatter(&xf)
            .y_label_formatter(&yf)
            .x_desc(x_desc.as_str())
            .y_desc("invocations per second")
            .label_style(render::label_style())
            .axis_desc_style(render::desc_style())
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .draw()?;
        chart.draw_series(LineSeries::new(rates, render::color(0).stroke_width(2)))?;
        if !expected.is_empty() {
            chart.draw_series(LineSeries::new(expected, render::color(3).stroke_width(2)))?;
        }
        Ok(())
    }
}

/// Write `dir/stem.svg` and `dir/stem.png`.
pub fn write_rate(
    series: &RateSeries<'_>,
    dir: &Path,
    stem: &str,
) -> Result<Vec<PathBuf>, PlotError> {
    if series.counts.is_empty() {
        return Err(PlotError::NoData("the trace has no rows".into()));
    }
    render::render(&RateFigure { s: series }, dir, stem)
}
