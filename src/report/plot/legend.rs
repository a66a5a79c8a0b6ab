//! Titles, notes and legends: drawn above the plot area, so they never hide data.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::axis::fit;
use super::render::{caption_style, label_style, note_style, Area, DrawResult};

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Mark {
    /// A filled square (bars, boxes).
    Square,
    /// A line segment.
    Line,
    /// A filled triangle (event markers).
    Triangle,
    /// A filled dot (scatter points).
    Dot,
}

/// One legend entry.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// Text.
    pub label: String,
    /// Series colour.
    pub color: RGBColor,
    /// Swatch shape.
    pub mark: Mark,
}

impl Entry {
    /// An entry with its label cut to a readable length.
    pub fn new(label: &str, color: RGBColor, mark: Mark) -> Entry {
        Entry {
            label: fit(label, 40),
            color,
            mark,
        }
    }
}

/// Height of one legend row, px.
const LEGEND_ROW: u32 = 26;
/// Width of a swatch plus the gap after it, px.
const SWATCH: i32 = 18 + 6;
/// Space between entries, px.
const ENTRY_GAP: i32 = 26;

/// One legend row: (x offset, entry index) per entry.
type LegendRow = Vec<(i32, usize)>;

/// Lay entries out in centred rows no wider than `max_w`: per row, (x, entry index).
fn legend_rows<DB: DrawingBackend>(
    area: &Area<DB>,
    entries: &[Entry],
    max_w: i32,
) -> Result<Vec<LegendRow>, DrawingAreaErrorKind<DB::ErrorType>> {
    let style = label_style();
    let mut rows: Vec<(Vec<(i32, usize)>, i32)> = Vec::new();
    let mut row: Vec<(i32, usize)> = Vec::new();
    let mut width = 0;
    for (i, e) in entries.iter().enumerate() {
        let w = SWATCH + area.estimate_text_size(&e.label, &style)?.0 as i32;
        if !row.is_empty() && width + ENTRY_GAP + w > max_w {
            rows.push((std::mem::take(&mut row), width));
            width = 0;
        }
        if !row.is_empty() {
            width += ENTRY_GAP;
        }
        row.push((width, i));
        width += w;
    }
    if !row.is_empty() {
        rows.push((row, width));
    }
    Ok(rows
        .into_iter()
        .map(|(row, width)| {
            let shift = (max_w - width) / 2;
            row.into_iter().map(|(x, i)| (x + shift, i)).collect()
        })
        .collect())
}

/// Draw a legend in rows from pixel row `top` of `area`: outside the plot, so it can never
/// hide data.
pub(super) fn legend<DB: DrawingBackend>(
    area: &Area<DB>,
    entries: &[Entry],
    top: i32,
) -> DrawResult<DB> {
    let w = area.dim_in_pixel().0 as i32;
    let style = label_style().pos(Pos::new(HPos::Left, VPos::Center));
    for (r, row) in legend_rows(area, entries, w - 40)?.iter().enumerate() {
        let y = top + r as i32 * LEGEND_ROW as i32 + LEGEND_ROW as i32 / 2;
        for &(x, i) in row {
            let (x, e) = (x + 20, &entries[i]);
            match e.mark {
                Mark::Square => area.draw(&Rectangle::new(
                    [(x, y - 7), (x + 16, y + 7)],
                    e.color.filled(),
                ))?,
                Mark::Line => area.draw(&PathElement::new(
                    vec![(x, y), (x + 18, y)],
                    e.color.stroke_width(3),
                ))?,
                Mark::Triangle => {
                    area.draw(&TriangleMarker::new((x + 9, y), 7, e.color.filled()))?
                }
                Mark::Dot => area.draw(&Circle::new((x + 9, y), 5, e.color.filled()))?,
            }
            area.draw(&Text::new(e.label.clone(), (x + SWATCH, y), style.clone()))?;
        }
    }
    Ok(())
}

/// Height a legend of `entries` takes on `area`, px (0 without entries).
pub(super) fn legend_height<DB: DrawingBackend>(
    area: &Area<DB>,
    entries: &[Entry],
) -> Result<u32, DrawingAreaErrorKind<DB::ErrorType>> {
    let w = area.dim_in_pixel().0 as i32;
    Ok(legend_rows(area, entries, w - 40)?.len() as u32 * LEGEND_ROW)
}

/// Draw a title, a grey note line under it (if any) and a legend (if any) at the top of
/// `root`; returns the area below for the chart. Notes carry what a reader must know to read
/// the figure right (how whiskers are defined, what was left out).
pub(super) fn titled<DB: DrawingBackend>(
    root: &Area<DB>,
    title: &str,
    note: &str,
    entries: &[Entry],
) -> Result<Area<DB>, DrawingAreaErrorKind<DB::ErrorType>> {
    let note_h = if note.is_empty() { 0 } else { 24 };
    let head_h = 46 + note_h + legend_height(root, entries)?;
    let (head, body) = root.split_vertically(head_h + 6);
    let mid = head.dim_in_pixel().0 as i32 / 2;
    let top = Pos::new(HPos::Center, VPos::Top);
    head.draw(&Text::new(
        title.to_string(),
        (mid, 12),
        caption_style().pos(top),
    ))?;
    if !note.is_empty() {
        head.draw(&Text::new(
            note.to_string(),
            (mid, 48),
            note_style().pos(top),
        ))?;
    }
    legend(&head, entries, 46 + note_h as i32)?;
    Ok(body)
}
