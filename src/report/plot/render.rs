//! Drawing one figure twice — SVG and PNG — with the embedded font, and the axis, colour
//! and label helpers every figure shares.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::PlotError;
use crate::atomic::write_atomic;

/// DejaVu Sans (Bitstream Vera licence, assets/fonts/LICENSE): embedded so a PNG renders the
/// same on a server with no fonts installed and no fontconfig/freetype.
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// The family every text style names; the only one registered.
pub(super) const FAMILY: &str = "sans-serif";

/// Register the embedded font once per process.
fn register_font() -> Result<(), PlotError> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(PlotError::Font)
    }
}

/// What a figure draws on; the same code draws the SVG and the PNG.
pub(super) type Area<DB> = DrawingArea<DB, Shift>;
/// The backend's error, as plotters reports it.
pub(super) type DrawResult<DB> =
    Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A figure that can draw itself on any backend.
pub(super) trait Figure {
    /// Pixel size (the SVG uses the same user units).
    fn size(&self) -> (u32, u32) {
        (1200, 700)
    }
    /// Draw on a white area.
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> DrawResult<DB>;
}

/// Render `fig` to `dir/stem.svg` and `dir/stem.png` (each written atomically).
pub(super) fn render(fig: &impl Figure, dir: &Path, stem: &str) -> Result<Vec<PathBuf>, PlotError> {
    register_font()?;
    let (w, h) = fig.size();
    let svg_path = dir.join(format!("{stem}.svg"));
    let draw_err = |path: &Path, e: String| PlotError::Draw {
        path: path.to_path_buf(),
        message: e,
    };

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE)
            .and_then(|_| fig.draw(&root))
            .and_then(|_| root.present())
            .map_err(|e| draw_err(&svg_path, e.to_string()))?;
    }
    write_atomic(&svg_path, svg.as_bytes()).map_err(|source| PlotError::Write {
        path: svg_path.clone(),
        source,
    })?;

    let png_path = dir.join(format!("{stem}.png"));
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE)
            .and_then(|_| fig.draw(&root))
            .and_then(|_| root.present())
            .map_err(|e| draw_err(&png_path, e.to_string()))?;
    }
    let png = encode_png(&rgb, w, h).map_err(|e| draw_err(&png_path, e.to_string()))?;
    write_atomic(&png_path, &png).map_err(|source| PlotError::Write {
        path: png_path.clone(),
        source,
    })?;
    Ok(vec![svg_path, png_path])
}

/// Encode an RGB buffer as PNG in memory, so the file itself can be written atomically.
fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::High);
        let mut writer = enc.write_header()?;
        writer.write_image_data(rgb)?;
    }
    Ok(out)
}

/// Series colours (Tableau 10: distinct for most colour-blind readers, and in greyscale
/// print roughly ordered).
const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0xba, 0xb0, 0xac),
];

/// The colour of series `i`.
pub(super) fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Caption text style.
pub(super) fn caption_style() -> TextStyle<'static> {
    (FAMILY, 26).into_font().into()
}

/// Tick label style.
pub(super) fn label_style() -> TextStyle<'static> {
    (FAMILY, 16).into_font().into()
}

/// Axis description style.
pub(super) fn desc_style() -> TextStyle<'static> {
    (FAMILY, 18).into_font().into()
}

/// Small note style (method notes inside a plot).
pub(super) fn note_style() -> TextStyle<'static> {
    (FAMILY, 14).into_font().color(&RGBColor(0x55, 0x55, 0x55))
}

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

/// A linear f64 axis with exactly the given tick positions. plotters' own `with_key_points`
/// loses the f64 label formatter (0.3.7), and figures need round ticks on transformed
/// (log10) values and on category indices.
#[derive(Debug, Clone)]
pub(super) struct Ticked {
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl Ticked {
    /// An axis over `range` with ticks at `ticks`.
    pub fn new(range: Range<f64>, ticks: Vec<f64>) -> Ticked {
        Ticked { range, ticks }
    }

    /// A category axis: `n` slots centred on 0, 1, … n−1.
    pub fn categories(n: usize) -> Ticked {
        Ticked::new(-0.5..n as f64 - 0.5, (0..n).map(|i| i as f64).collect())
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let frac = if span == 0.0 {
            0.5
        } else {
            (value - self.range.start) / span
        };
        let px = (limit.1 - limit.0) as f64 * frac;
        // Clamp so a stray value cannot overflow the pixel type.
        limit.0 + px.clamp(-1e6, 1e6).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// An axis in data units, linear or logarithmic. Charts are built on the transformed values
/// (log10 for a log axis) with explicit tick positions, so one code path draws both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Scale {
    /// Logarithmic (base 10).
    pub log: bool,
    lo: f64,
    hi: f64,
}

/// Above this max/min ratio a latency axis goes logarithmic: a linear axis would squash
/// everything but the tail into its first pixels.
pub(super) const LOG_RATIO: f64 = 50.0;

impl Scale {
    /// A linear axis from 0 to a little above `max`.
    pub fn from_zero(max: f64) -> Scale {
        let hi = if max > 0.0 && max.is_finite() {
            max * 1.08
        } else {
            1.0
        };
        Scale {
            log: false,
            lo: 0.0,
            hi,
        }
    }

    /// An axis over [min, max]: logarithmic when the range spans more than [`LOG_RATIO`]
    /// and min > 0, linear from 0 otherwise.
    pub fn auto(min: f64, max: f64) -> Scale {
        if min > 0.0 && max / min > LOG_RATIO {
            Scale {
                log: true,
                lo: min / 1.3,
                hi: max * 1.3,
            }
        } else {
            Scale::from_zero(max)
        }
    }

    /// A linear axis over exactly [lo, hi].
    pub fn linear(lo: f64, hi: f64) -> Scale {
        Scale {
            log: false,
            lo,
            hi: if hi > lo { hi } else { lo + 1.0 },
        }
    }

    /// Transform a data value onto the chart axis.
    pub fn t(&self, v: f64) -> f64 {
        if self.log {
            v.max(self.lo).log10()
        } else {
            v
        }
    }

    /// The chart's range (transformed).
    pub fn range(&self) -> Range<f64> {
        self.t(self.lo)..self.t(self.hi)
    }

    /// The chart axis: the transformed range with this scale's ticks.
    pub fn axis(&self) -> Ticked {
        Ticked::new(self.range(), self.ticks())
    }

    /// Tick positions (transformed): 1-2-5 steps on a log axis spanning up to four decades,
    /// decades beyond; about eight round steps on a linear one.
    pub fn ticks(&self) -> Vec<f64> {
        if self.log {
            let (a, b) = (
                self.lo.log10().floor() as i32,
                self.hi.log10().ceil() as i32,
            );
            let mults: &[f64] = if b - a <= 4 { &[1.0, 2.0, 5.0] } else { &[1.0] };
            let mut out = Vec::new();
            for e in a..=b {
                for m in mults {
                    let v = m * 10f64.powi(e);
                    if v >= self.lo && v <= self.hi {
                        out.push(v.log10());
                    }
                }
            }
            out
        } else {
            let step = nice_step((self.hi - self.lo) / 8.0);
            let mut v = (self.lo / step).ceil() * step;
            let mut out = Vec::new();
            while v <= self.hi + step * 1e-9 && out.len() < 50 {
                out.push(v);
                v += step;
            }
            out
        }
    }

    /// The label of a tick (its data value).
    pub fn label(&self, t: f64) -> String {
        fmt_num(if self.log { 10f64.powf(t) } else { t })
    }
}

/// The round step (1, 2 or 5 × 10^k) nearest above `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw > 0.0 && raw.is_finite()) {
        return 1.0;
    }
    let e = 10f64.powf(raw.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * e >= raw {
            return m * e;
        }
    }
    10.0 * e
}

/// A number as a person writes it on an axis: three significant digits at most, no
/// trailing zeros, exponents only past a million.
pub(super) fn fmt_num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return "0".to_string();
    }
    let a = v.abs();
    if a >= 1e6 {
        let e = a.log10().floor() as i32;
        let m = v / 10f64.powi(e);
        return format!("{}e{e}", trim(format!("{m:.2}")));
    }
    let decimals = (2 - a.log10().floor() as i32).clamp(0, 6) as usize;
    trim(format!("{v:.decimals$}"))
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Cut `text` to at most `max` characters, marking the cut with an ellipsis.
pub(super) fn fit(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// A time axis: seconds shown as s, min or h so the numbers stay short.
pub(super) fn time_unit(span_s: f64) -> (&'static str, f64) {
    if span_s > 3.0 * 3600.0 {
        ("h", 3600.0)
    } else if span_s > 600.0 {
        ("min", 60.0)
    } else {
        ("s", 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_axis_labels() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(0.05), "0.05");
        assert_eq!(fmt_num(2.5), "2.5");
        assert_eq!(fmt_num(20.0), "20");
        assert_eq!(fmt_num(1250.0), "1250");
        assert_eq!(fmt_num(2_000_000.0), "2e6");
        assert_eq!(fit("a_long_function_name", 8), "a_long_…");
        assert_eq!(fit("short", 8), "short");
    }

    #[test]
    fn log_axis_for_wide_ranges_with_round_ticks() {
        let s = Scale::auto(0.5, 5000.0);
        assert!(s.log);
        let labels: Vec<String> = s.ticks().iter().map(|&t| s.label(t)).collect();
        assert_eq!(labels, ["1", "10", "100", "1000"]);
        let narrow = Scale::auto(10.0, 30.0);
        assert!(!narrow.log);
        let labels: Vec<String> = narrow.ticks().iter().map(|&t| narrow.label(t)).collect();
        assert_eq!(labels.first().map(String::as_str), Some("0"));
        assert!(labels.contains(&"30".to_string()));
        let mid = Scale::auto(1.0, 200.0);
        let labels: Vec<String> = mid.ticks().iter().map(|&t| mid.label(t)).collect();
        assert_eq!(labels, ["1", "2", "5", "10", "20", "50", "100", "200"]);
    }
}
