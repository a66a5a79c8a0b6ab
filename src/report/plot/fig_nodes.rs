//! `nodes`: how the platform spread the work: invocations per node (cold starts as the
//! darker part of each bar) and distinct containers per node, one bar per run.

use plotters::prelude::*;

use super::render::{self, fit, Area, DrawResult, Entry, Figure, Mark, Scale, Ticked};
use super::PlotData;

/// Most nodes drawn (a cluster wider than this is better read from `gale report --by node`).
const MAX_NODES: usize = 32;

/// Per node and run: (invocations, cold starts, containers).
type Counts = (u64, u64, u64);

/// The figure's data.
pub(super) struct Nodes {
    nodes: Vec<String>,
    hidden: usize,
    runs: Vec<String>,
    counts: Vec<Vec<Counts>>,
}

/// Order node names as a person counts: `node2` before `node10`.
fn natural_key(name: &str) -> (String, u64) {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (stem, num) = name.split_at(name.len() - digits);
    (stem.to_string(), num.parse().unwrap_or(0))
}

impl Nodes {
    /// Counts per node; `Err` when no record named a node (a remote OpenWhisk does not).
    pub fn new(data: &PlotData) -> Result<Nodes, String> {
        let mut nodes: Vec<String> = data
            .runs()
            .iter()
            .flat_map(|r| r.nodes.keys().cloned())
            .collect();
        nodes.sort_by_key(|n| natural_key(n));
        nodes.dedup();
        if nodes.is_empty() {
            return Err(
                "no node names in the records (only the embedded platform reports them)"
                    .to_string(),
            );
        }
        let hidden = nodes.len().saturating_sub(MAX_NODES);
        nodes.truncate(MAX_NODES);
        let counts = nodes
            .iter()
            .map(|n| {
                data.runs()
                    .iter()
                    .map(|r| {
                        r.nodes.get(n).map_or((0, 0, 0), |c| {
                            (c.invocations, c.cold, c.containers.len() as u64)
                        })
                    })
                    .collect()
            })
            .collect();
        Ok(Nodes {
            nodes,
            hidden,
            runs: data.runs().iter().map(|r| r.label.clone()).collect(),
            counts,
        })
    }
}

impl Figure for Nodes {
    fn size(&self) -> (u32, u32) {
        (1200, 600)
    }

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB> {
        let mut note = "darker part of a bar: cold starts".to_string();
        if self.hidden > 0 {
            note += &format!(
                "; first {} of {} nodes",
                self.nodes.len(),
                self.nodes.len() + self.hidden
            );
        }
        let entries: Vec<Entry> = if self.runs.len() > 1 {
            self.runs
                .iter()
                .enumerate()
                .map(|(r, label)| Entry::new(label, render::color(r), Mark::Square))
                .collect()
        } else {
            Vec::new()
        };
        let body = render::titled(root, "Invocations and containers per node", &note, &entries)?;
        let panels = body.split_evenly((1, 2));
        let n = self.nodes.len();
        let slot_px = (panels[0].dim_in_pixel().0 as usize).saturating_sub(100) / n.max(1);
        let max_chars = (slot_px / 9).max(3);
        let names = &self.nodes;
        let x_fmt = |x: &f64| {
            let i = x.round();
            if i >= 0.0 && (i as usize) < names.len() {
                fit(&names[i as usize], max_chars)
            } else {
                String::new()
            }
        };
        let r_count = self.runs.len().max(1);
        let slot = 0.8 / r_count as f64;
        let half = slot * 0.4;
        for (panel, containers) in panels.iter().zip([false, true]) {
            let pick = |c: &Counts| if containers { c.2 } else { c.0 } as f64;
            let max = self.counts.iter().flatten().map(pick).fold(0.0, f64::max);
            let scale = Scale::from_zero(max.max(1.0));
            let mut chart = ChartBuilder::on(panel)
                .margin(16)
                .x_label_area_size(50)
                .y_label_area_size(80)
                .build_cartesian_2d(Ticked::categories(n), scale.axis())?;
            let y_fmt = |y: &f64| scale.label(*y);
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_label_formatter(&x_fmt)
                .y_label_formatter(&y_fmt)
                .x_desc("node")
                .y_desc(if containers {
                    "distinct containers"
                } else {
                    "invocations"
                })
                .label_style(render::label_style())
                .axis_desc_style(render::desc_style())
                .bold_line_style(RGBColor(0xdd, 0xdd, 0xdd))
                .draw()?;
            for (i, row) in self.counts.iter().enumerate() {
                for (r, c) in row.iter().enumerate() {
                    let color = render::color(r);
                    let x = i as f64 - 0.4 + slot * (r as f64 + 0.5);
                    chart.draw_series([Rectangle::new(
                        [(x - half, 0.0), (x + half, pick(c))],
                        color.mix(if containers { 1.0 } else { 0.55 }).filled(),
                    )])?;
                    if !containers && c.1 > 0 {
                        chart.draw_series([Rectangle::new(
                            [(x - half, 0.0), (x + half, c.1 as f64)],
                            color.filled(),
                        )])?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::natural_key;

    #[test]
    fn nodes_sort_as_people_count() {
        let mut v = vec!["node10", "node2", "invoker", "node1"];
        v.sort_by_key(|n| natural_key(n));
        assert_eq!(v, ["invoker", "node1", "node2", "node10"]);
    }
}
