//! `latency-box`: completion latency per function, one box per run side by side (the FaaS
//! scheduler testbed's figure: policies or warming modes compared function by function).

use plotters::prelude::*;

use super::render::{self, fit, Area, DrawResult, Entry, Figure, Mark, Scale, Ticked};
use super::sketch::BoxStats;
use super::{Options, PlotData};

/// The figure's data: [function][run] box statistics.
pub(super) struct LatencyBox {
    functions: Vec<String>,
    hidden: usize,
    runs: Vec<String>,
    boxes: Vec<Vec<Option<BoxStats>>>,
    scale: Scale,
}

impl LatencyBox {
    /// Box statistics of the top functions; `Err` says why there is nothing to draw.
    pub fn new(data: &PlotData, opts: &Options) -> Result<LatencyBox, String> {
        let (functions, all) = data.top_functions(opts.max_functions.max(1));
        if functions.is_empty() {
            return Err("no successful invocation with a completion latency".to_string());
        }
        let runs: Vec<String> = data.runs().iter().map(|r| r.label.clone()).collect();
        let boxes: Vec<Vec<Option<BoxStats>>> = functions
            .iter()
            .map(|f| {
                data.runs()
                    .iter()
                    .map(|r| r.functions.get(f.as_str()).and_then(|l| l.box_stats()))
                    .collect()
            })
            .collect();
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for b in boxes.iter().flatten().flatten() {
            for v in b.outliers.iter().chain([&b.whisker_lo, &b.whisker_hi]) {
                lo = lo.min(*v);
                hi = hi.max(*v);
            }
        }
        Ok(LatencyBox {
            hidden: all - functions.len(),
            functions,
            runs,
            boxes,
            scale: Scale::auto(lo, hi),
        })
    }
}

impl Figure for LatencyBox {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB> {
        let mut note =
            "box: quartiles, line: median, whiskers: 1.5 × IQR, circles: beyond".to_string();
        if self.hidden > 0 {
            note += &format!(
                "; the {} of {} functions with the most invocations",
                self.functions.len(),
                self.functions.len() + self.hidden
            );
        }
        let title = if self.runs.len() > 1 {
            "Completion latency per function and run"
        } else {
            "Completion latency per function"
        };
        let entries: Vec<Entry> = if self.runs.len() > 1 {
            self.runs
                .iter()
                .enumerate()
                .map(|(r, label)| Entry::new(label, render::color(r), Mark::Square))
                .collect()
        } else {
            Vec::new()
        };
        let body = render::titled(root, title, &note, &entries)?;
        let n = self.functions.len();
        let slot_px = (body.dim_in_pixel().0 as usize).saturating_sub(120) / n.max(1);
        let max_chars = (slot_px / 9).max(4);
        let scale = self.scale;
        let mut chart = ChartBuilder::on(&body)
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(Ticked::categories(n), scale.axis())?;
        let names = &self.functions;
        let x_fmt = |x: &f64| {
            let i = x.round();
            if i >= 0.0 && (i as usize) < names.len() {
                fit(&names[i as usize], max_chars)
            } else {
                String::new()
            }
        };
        let y_fmt = |y: &f64| scale.label(*y);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .x_desc("function")
            .y_desc(if scale.log {
                "completion latency (ms, log scale)"
            } else {
                "completion latency (ms)"
            })
            .label_style(render::label_style())
            .axis_desc_style(render::desc_style())
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .draw()?;

        let r_count = self.runs.len().max(1);
        let slot = 0.8 / r_count as f64;
        let half = (slot * 0.35).min(0.2);
        for (i, row) in self.boxes.iter().enumerate() {
            for (r, b) in row.iter().enumerate() {
                let Some(b) = b else { continue };
                let color = render::color(r);
                let c = i as f64 - 0.4 + slot * (r as f64 + 0.5);
                let y = |v: f64| scale.t(v);
                let whiskers = [
                    vec![(c, y(b.whisker_lo)), (c, y(b.q1))],
                    vec![(c, y(b.q3)), (c, y(b.whisker_hi))],
                    vec![
                        (c - half / 2.0, y(b.whisker_lo)),
                        (c + half / 2.0, y(b.whisker_lo)),
                    ],
                    vec![
                        (c - half / 2.0, y(b.whisker_hi)),
                        (c + half / 2.0, y(b.whisker_hi)),
                    ],
                ];
                chart.draw_series(
                    whiskers
                        .into_iter()
                        .map(|p| PathElement::new(p, BLACK.stroke_width(2))),
                )?;
                chart.draw_series([
                    Rectangle::new(
                        [(c - half, y(b.q1)), (c + half, y(b.q3))],
                        color.mix(0.45).filled(),
                    ),
                    Rectangle::new(
                        [(c - half, y(b.q1)), (c + half, y(b.q3))],
                        color.stroke_width(2),
                    ),
                ])?;
                chart.draw_series([PathElement::new(
                    vec![(c - half, y(b.median)), (c + half, y(b.median))],
                    BLACK.stroke_width(3),
                )])?;
                chart.draw_series(
                    b.outliers
                        .iter()
                        .map(|&o| Circle::new((c, y(o)), 3, color.stroke_width(1))),
                )?;
            }
        }
        Ok(())
    }
}
