//! `dataset-<param>`: for generator datasets, what each execution measured — CPU time, peak
//! memory and duration — against one input parameter, one colour per function: the figure a
//! dataset's user looks at before fitting a model to it.

use plotters::prelude::*;

use super::collect::Point;
use super::render::{self, Area, DrawResult, Entry, Figure, Mark, Scale};
use super::{Options, PlotData};

/// Most series (function × run) drawn; the rest are counted in the note.
const MAX_SERIES: usize = 10;
/// Most figures drawn when no parameter is chosen.
const MAX_PARAMS: usize = 6;

/// A measured quantity on the y axis.
#[derive(Clone, Copy)]
struct Metric {
    desc: &'static str,
    pick: fn(&Point) -> f64,
}

const METRICS: [Metric; 3] = [
    Metric {
        desc: "CPU time (ms)",
        pick: |p| p.cpu_ms,
    },
    Metric {
        desc: "peak memory (MiB)",
        pick: |p| p.mem_peak_bytes / (1024.0 * 1024.0),
    },
    Metric {
        desc: "duration (ms)",
        pick: |p| p.duration_ms,
    },
];

/// One scatter figure: a parameter against the metrics that have data.
pub(super) struct Scatter {
    param: String,
    x_desc: String,
    series: Vec<(String, Vec<[f64; 4]>)>,
    hidden: usize,
    metrics: Vec<(Metric, Scale)>,
    x: Scale,
    sampled: bool,
}

/// An axis that fits [lo, hi]: logarithmic for wide positive ranges, else linear with a margin.
fn fit_scale(lo: f64, hi: f64) -> Scale {
    let s = Scale::auto(lo, hi);
    if s.log {
        return s;
    }
    let pad = ((hi - lo) * 0.05).max(hi.abs() * 0.01).max(1e-9);
    let low = if lo >= 0.0 {
        (lo - pad).max(0.0)
    } else {
        lo - pad
    };
    Scale::linear(low, hi + pad)
}

/// The figures to draw, keyed by parameter name; `Err` says why there are none.
pub(super) fn figures(data: &PlotData, opts: &Options) -> Result<Vec<(String, Scatter)>, String> {
    if data.params.is_empty() {
        return Err("the dataset has no numeric input parameter".to_string());
    }
    let chosen: Vec<usize> = match &opts.dataset_x {
        Some(name) => {
            let i = data
                .params
                .iter()
                .position(|p| p == name || p.strip_prefix("p.") == Some(name.as_str()))
                .ok_or_else(|| {
                    format!(
                        "parameter {name:?} is not a numeric column of the dataset (have: {})",
                        data.params.join(", ")
                    )
                })?;
            vec![i]
        }
        None => (0..data.params.len()).collect(),
    };
    let mut out = Vec::new();
    for i in chosen {
        if let Some(fig) = Scatter::new(data, i) {
            let varies = {
                let xs = fig.series.iter().flat_map(|s| s.1.iter().map(|p| p[0]));
                let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                    (a.min(x), b.max(x))
                });
                hi > lo
            };
            // Without a chosen parameter, a constant one makes a figure of vertical stripes.
            if varies || opts.dataset_x.is_some() {
                out.push((data.params[i].clone(), fig));
            }
        }
        if opts.dataset_x.is_none() && out.len() == MAX_PARAMS {
            break;
        }
    }
    if out.is_empty() {
        return Err(
            "no successful row has both a varying numeric parameter and a measurement".to_string(),
        );
    }
    Ok(out)
}

impl Scatter {
    /// The points of every function and run against parameter `i`, if any have a measurement.
    fn new(data: &PlotData, i: usize) -> Option<Scatter> {
        let many_runs = data.runs().len() > 1;
        let mut series: Vec<(String, Vec<[f64; 4]>)> = Vec::new();
        let mut sampled = false;
        for run in data.runs() {
            for (function, res) in &run.dataset {
                sampled |= res.seen > res.points.len() as u64;
                let pts: Vec<[f64; 4]> = res
                    .points
                    .iter()
                    .filter_map(|p| {
                        let x = *p.params.get(i)?;
                        x.is_finite().then(|| {
                            [
                                x,
                                (METRICS[0].pick)(p),
                                (METRICS[1].pick)(p),
                                (METRICS[2].pick)(p),
                            ]
                        })
                    })
                    .collect();
                if !pts.is_empty() {
                    let label = if many_runs {
                        format!("{function} · {}", run.label)
                    } else {
                        function.clone()
                    };
                    series.push((label, pts));
                }
            }
        }
        series.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        let hidden = series.len().saturating_sub(MAX_SERIES);
        series.truncate(MAX_SERIES);
        let all = || series.iter().flat_map(|s| s.1.iter());
        let metrics: Vec<(Metric, Scale)> = METRICS
            .iter()
            .enumerate()
            .filter_map(|(k, m)| {
                let ys = all().map(|p| p[k + 1]).filter(|y| y.is_finite());
                let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
                    (a.min(y), b.max(y))
                });
                (hi >= lo).then(|| (*m, fit_scale(lo, hi)))
            })
            .collect();
        if metrics.is_empty() {
            return None;
        }
        let (lo, hi) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
            (a.min(p[0]), b.max(p[0]))
        });
        let param = &data.params[i];
        let (x_div, x_desc) = if param.ends_with("bytes") {
            // Byte counts read better in MB than as 2e6, 4e6, ...
            (1e6, format!("{param} (MB)"))
        } else {
            (1.0, param.clone())
        };
        for (_, pts) in &mut series {
            for p in pts.iter_mut() {
                p[0] /= x_div;
            }
        }
        let (lo, hi) = (lo / x_div, hi / x_div);
        Some(Scatter {
            param: param.clone(),
            x_desc,
            series,
            hidden,
            metrics,
            x: fit_scale(lo, hi),
            sampled,
        })
    }
}

impl Figure for Scatter {
    fn size(&self) -> (u32, u32) {
        (1100, 80 + 300 * self.metrics.len() as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB> {
        let mut notes = vec!["one point per successful execution".to_string()];
        if self.sampled {
            notes.push(format!(
                "a uniform sample of up to {} per function",
                super::collect::RESERVOIR
            ));
        }
        if self.hidden > 0 {
            notes.push(format!("{} more series not shown", self.hidden));
        }
        let title = format!("Measured resources against {}", self.param);
        let entries: Vec<Entry> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, (label, _))| Entry::new(label, render::color(i), Mark::Dot))
            .collect();
        let body = render::titled(root, &title, &notes.join("; "), &entries)?;
        let panels = body.split_evenly((self.metrics.len(), 1));
        let x = self.x;
        let x_fmt = |v: &f64| x.label(*v);
        let x_desc = if x.log {
            format!("{}, log scale", self.x_desc)
        } else {
            self.x_desc.clone()
        };
        for (panel, (metric, y)) in panels.iter().zip(&self.metrics) {
            let metric_index = METRICS
                .iter()
                .position(|m| m.desc == metric.desc)
                .expect("metrics come from METRICS")
                + 1;
            let y = *y;
            let mut chart = ChartBuilder::on(panel)
                .margin(12)
                .x_label_area_size(44)
                .y_label_area_size(80)
                .build_cartesian_2d(x.axis(), y.axis())?;
            let y_fmt = |v: &f64| y.label(*v);
            chart
                .configure_mesh()
                .x_label_formatter(&x_fmt)
                .y_label_formatter(&y_fmt)
                .x_desc(x_desc.as_str())
                .y_desc(metric.desc)
                .label_style(render::label_style())
                .axis_desc_style(render::desc_style())
                .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
                .draw()?;
            for (s, (_, pts)) in self.series.iter().enumerate() {
                let color = render::color(s);
                chart.draw_series(pts.iter().filter(|p| p[metric_index].is_finite()).map(|p| {
                    Circle::new(
                        (x.t(p[0]), y.t(p[metric_index])),
                        3,
                        color.mix(0.7).filled(),
                    )
                }))?;
            }
        }
        Ok(())
    }
}
