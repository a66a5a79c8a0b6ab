//! `latency-mean`: mean completion latency per function and run, with the Student-t
//! confidence interval of each mean as whiskers (SeBS' way of showing a mean honestly).

use plotters::prelude::*;

use super::render::{self, fit, fmt_num, Area, DrawResult, Entry, Figure, Mark, Scale, Ticked};
use super::{Options, PlotData};
use crate::report::stats::dist::t_quantile;

/// One bar: the mean and its interval (`None` below two samples: no interval exists).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Bar {
    /// Mean, ms.
    pub mean: f64,
    /// Confidence interval, ms.
    pub interval: Option<(f64, f64)>,
    /// Samples.
    pub n: u64,
}

/// The figure's data: [function][run] bars.
pub(super) struct MeanBars {
    functions: Vec<String>,
    hidden: usize,
    runs: Vec<String>,
    bars: Vec<Vec<Option<Bar>>>,
    confidence: f64,
    scale: Scale,
}

/// The mean ± t·s/√n interval at `confidence`, from count, mean and sample std.
pub(super) fn t_interval(n: u64, mean: f64, std: f64, confidence: f64) -> Option<(f64, f64)> {
    if n < 2 {
        return None;
    }
    // The table's own t quantile, so the whiskers and `gale report`'s interval agree.
    let t = t_quantile(1.0 - (1.0 - confidence) / 2.0, (n - 1) as f64);
    if !t.is_finite() {
        return None;
    }
    let half = t * std / (n as f64).sqrt();
    Some((mean - half, mean + half))
}

impl MeanBars {
    /// Means and intervals of the top functions; `Err` says why there is nothing to draw.
    pub fn new(data: &PlotData, opts: &Options) -> Result<MeanBars, String> {
        if !(opts.confidence > 0.0 && opts.confidence < 1.0) {
            return Err(format!(
                "confidence {} is not between 0 and 1",
                opts.confidence
            ));
        }
        let (functions, all) = data.top_functions(opts.max_functions.max(1));
        if functions.is_empty() {
            return Err("no successful invocation with a completion latency".to_string());
        }
        let bars: Vec<Vec<Option<Bar>>> = functions
            .iter()
            .map(|f| {
                data.runs()
                    .iter()
                    .map(|r| {
                        let l = r.functions.get(f.as_str())?;
                        let mean = l.mean()?;
                        Some(Bar {
                            mean,
                            interval: l
                                .std()
                                .and_then(|s| t_interval(l.count(), mean, s, opts.confidence)),
                            n: l.count(),
                        })
                    })
                    .collect()
            })
            .collect();
        let top = bars
            .iter()
            .flatten()
            .flatten()
            .map(|b| b.interval.map_or(b.mean, |i| i.1.max(b.mean)))
            .fold(0.0, f64::max);
        Ok(MeanBars {
            hidden: all - functions.len(),
            functions,
            runs: data.runs().iter().map(|r| r.label.clone()).collect(),
            bars,
            confidence: opts.confidence,
            scale: Scale::from_zero(top * 1.08),
        })
    }
}

impl Figure for MeanBars {
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB> {
        let pct = fmt_num(self.confidence * 100.0);
        let mut note = format!(
            "bar: mean of successful invocations; whiskers: {pct} % Student-t interval of the mean (none below 2 samples)"
        );
        if self.hidden > 0 {
            note += &format!(
                "; {} of {} functions",
                self.functions.len(),
                self.functions.len() + self.hidden
            );
        }
        let title = format!("Mean completion latency with {pct} % confidence interval");
        let entries: Vec<Entry> = if self.runs.len() > 1 {
            self.runs
                .iter()
                .enumerate()
                .map(|(r, label)| Entry::new(label, render::color(r), Mark::Square))
                .collect()
        } else {
            Vec::new()
        };
        let body = render::titled(root, &title, &note, &entries)?;
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
            .y_desc("mean completion latency (ms)")
            .label_style(render::label_style())
            .axis_desc_style(render::desc_style())
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .draw()?;

        let r_count = self.runs.len().max(1);
        let slot = 0.8 / r_count as f64;
        let half = slot * 0.4;
        for (i, row) in self.bars.iter().enumerate() {
            for (r, bar) in row.iter().enumerate() {
                let Some(bar) = bar else { continue };
                let color = render::color(r);
                let c = i as f64 - 0.4 + slot * (r as f64 + 0.5);
                chart.draw_series([Rectangle::new(
                    [(c - half, 0.0), (c + half, bar.mean)],
                    color.filled(),
                )])?;
                if let Some((lo, hi)) = bar.interval {
                    let cap = half / 2.0;
                    chart.draw_series(
                        [
                            vec![(c, lo.max(0.0)), (c, hi)],
                            vec![(c - cap, lo.max(0.0)), (c + cap, lo.max(0.0))],
                            vec![(c - cap, hi), (c + cap, hi)],
                        ]
                        .into_iter()
                        .map(|p| PathElement::new(p, BLACK.stroke_width(2))),
                    )?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_is_mean_plus_minus_t_s_over_root_n() {
        // n = 10, s = 2: t(0.975, 9) = 2.2622, half = 2.2622 * 2 / sqrt(10) = 1.4307.
        let (lo, hi) = t_interval(10, 5.0, 2.0, 0.95).unwrap();
        assert!((hi - 5.0 - 1.4307).abs() < 1e-3 && (5.0 - lo - 1.4307).abs() < 1e-3);
        assert_eq!(t_interval(1, 5.0, 0.0, 0.95), None);
    }
}
