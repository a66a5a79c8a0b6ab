//! `timeline`: what a run did over time. Top: invocations sent, completed and failed per
//! second, with cold starts marked; bottom: completion latency p50/p90/p99 of the invocations
//! scheduled in each second, so a backlog or a cold-start storm shows where it happened.

use plotters::prelude::*;

use super::collect::RunData;
use super::render::{self, fmt_num, time_unit, Area, DrawResult, Entry, Figure, Mark, Scale};

/// One bucket as drawn: its middle in the display unit, rates per second and percentiles.
struct Point {
    t: f64,
    sent: f64,
    completed: f64,
    failed: f64,
    cold: f64,
    pct: Option<[f64; 3]>,
}

/// The figure's data for one run.
pub(super) struct Activity {
    label: String,
    width_s: f64,
    unit: (&'static str, f64),
    span: f64,
    points: Vec<Point>,
}

/// The percentiles drawn in the lower panel.
const PERCENTILES: [(f64, &str); 3] = [(0.5, "p50"), (0.9, "p90"), (0.99, "p99")];

impl Activity {
    /// The run's buckets as rates; `Err` says why there is nothing to draw.
    pub fn new(run: &RunData) -> Result<Activity, String> {
        if run.timeline.is_empty() {
            return Err("no record with a usable time".to_string());
        }
        let width_s = run.timeline.width_s();
        let buckets = run.timeline.buckets();
        let span_s = buckets.len() as f64 * width_s;
        let unit = time_unit(span_s);
        let points = buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let pct = (b.latency.count() > 0)
                    .then(|| PERCENTILES.map(|(q, _)| b.latency.quantile(q).unwrap_or(f64::NAN)));
                Point {
                    t: (i as f64 + 0.5) * width_s / unit.1,
                    sent: b.sent as f64 / width_s,
                    completed: b.completed as f64 / width_s,
                    failed: b.failed as f64 / width_s,
                    cold: b.cold as f64 / width_s,
                    pct,
                }
            })
            .collect();
        Ok(Activity {
            label: run.label.clone(),
            width_s,
            unit,
            span: span_s / unit.1,
            points,
        })
    }
}

/// Consecutive runs of points that have a value: a line must not bridge an empty second.
fn segments(values: impl Iterator<Item = Option<(f64, f64)>>) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for v in values {
        match v {
            Some(p) => out.last_mut().expect("never empty").push(p),
            None if !out.last().expect("never empty").is_empty() => out.push(Vec::new()),
            None => {}
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

impl Figure for Activity {
    fn size(&self) -> (u32, u32) {
        (1200, 860)
    }

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB> {
        let bucket = if self.width_s == 1.0 {
            "per 1 s bucket".to_string()
        } else {
            format!(
                "per {} s bucket (rates averaged over it)",
                fmt_num(self.width_s)
            )
        };
        let note = format!(
            "run {}; {bucket}; latency of successful invocations, by the second they were scheduled",
            self.label
        );
        let body = render::titled(
            root,
            "Invocations and completion latency over time",
            &note,
            &[],
        )?;
        let (top, bottom) = body.split_vertically(body.dim_in_pixel().1 / 2);
        let x_scale = Scale::linear(0.0, self.span);
        let x_desc = format!("time since the run's start ({})", self.unit.0);
        let x_fmt = |x: &f64| x_scale.label(*x);

        let max_rate = self
            .points
            .iter()
            .map(|p| p.sent.max(p.completed).max(p.failed).max(p.cold))
            .fold(0.0, f64::max);
        let rate = Scale::from_zero(max_rate);
        let any_failed = self.points.iter().any(|p| p.failed > 0.0);
        let any_cold = self.points.iter().any(|p| p.cold > 0.0);
        let mut entries = vec![
            Entry::new("sent", render::color(0), Mark::Line),
            Entry::new("completed", render::color(2), Mark::Line),
        ];
        if any_failed {
            entries.push(Entry::new("failed", render::color(3), Mark::Line));
        }
        if any_cold {
            entries.push(Entry::new("cold starts", render::color(4), Mark::Triangle));
        }
        let (legend_area, top) = top.split_vertically(render::legend_height(&top, &entries)? + 4);
        render::legend(&legend_area, &entries, 0)?;
        let mut chart = ChartBuilder::on(&top)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(x_scale.axis(), rate.axis())?;
        let r_fmt = |y: &f64| rate.label(*y);
        chart
            .configure_mesh()
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&r_fmt)
            .x_desc(x_desc.as_str())
            .y_desc("invocations per second")
            .label_style(render::label_style())
            .axis_desc_style(render::desc_style())
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .draw()?;
        type Pick = fn(&Point) -> f64;
        let series: [(&str, Pick, usize); 3] = [
            ("sent", |p| p.sent, 0),
            ("completed", |p| p.completed, 2),
            ("failed", |p| p.failed, 3),
        ];
        for (name, pick, c) in series {
            if name == "failed" && !any_failed {
                continue;
            }
            chart.draw_series(LineSeries::new(
                self.points.iter().map(|p| (p.t, pick(p))),
                render::color(c).stroke_width(2),
            ))?;
        }
        if any_cold {
            let color = render::color(4);
            chart.draw_series(
                self.points
                    .iter()
                    .filter(|p| p.cold > 0.0)
                    .map(|p| TriangleMarker::new((p.t, p.cold), 7, color.filled())),
            )?;
        }

        let with_pct: Vec<[f64; 3]> = self.points.iter().filter_map(|p| p.pct).collect();
        let lo = with_pct.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
        let hi = with_pct.iter().map(|p| p[2]).fold(0.0, f64::max);
        let lat = if with_pct.is_empty() {
            Scale::from_zero(1.0)
        } else {
            Scale::auto(lo, hi)
        };
        let entries: Vec<Entry> = PERCENTILES
            .iter()
            .enumerate()
            .map(|(k, (_, name))| Entry::new(name, render::color(k), Mark::Line))
            .collect();
        let (legend_area, bottom) =
            bottom.split_vertically(render::legend_height(&bottom, &entries)? + 4);
        render::legend(&legend_area, &entries, 0)?;
        let mut chart = ChartBuilder::on(&bottom)
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(x_scale.axis(), lat.axis())?;
        let l_fmt = |y: &f64| lat.label(*y);
        chart
            .configure_mesh()
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&l_fmt)
            .x_desc(x_desc.as_str())
            .y_desc(if lat.log {
                "completion latency (ms, log)"
            } else {
                "completion latency (ms)"
            })
            .label_style(render::label_style())
            .axis_desc_style(render::desc_style())
            .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
            .draw()?;
        if with_pct.is_empty() {
            return Ok(());
        }
        for k in 0..PERCENTILES.len() {
            let color = render::color(k);
            let segs = segments(
                self.points
                    .iter()
                    .map(|p| p.pct.map(|v| (p.t, lat.t(v[k])))),
            );
            for seg in segs {
                // A lone second between gaps is a dot: a line needs two points.
                if seg.len() == 1 {
                    chart.draw_series([Circle::new(seg[0], 3, color.filled())])?;
                } else {
                    chart.draw_series(LineSeries::new(seg, color.stroke_width(2)))?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::segments;

    #[test]
    fn segments_break_at_gaps() {
        let v = [
            Some((0.0, 1.0)),
            Some((1.0, 2.0)),
            None,
            None,
            Some((4.0, 1.0)),
        ];
        assert_eq!(
            segments(v.into_iter()),
            vec![vec![(0.0, 1.0), (1.0, 2.0)], vec![(4.0, 1.0)]]
        );
        assert!(segments([None, None].into_iter()).is_empty());
    }
}
