//! Drawing one figure twice — SVG and PNG — with the embedded font, and the colours and
//! text styles every figure shares (axes: [`super::axis`], titles and legends:
//! [`super::legend`]).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

pub(super) use super::axis::{fit, fmt_num, time_unit, Scale, Ticked};
pub(super) use super::legend::{legend, legend_height, titled, Entry, Mark};
use super::PlotError;
use crate::atomic::write_atomic;

/// DejaVu Sans (Bitstream Vera licence, assets/fonts/LICENSE-DejaVu.txt): embedded so a PNG
/// renders the same on a server with no fonts installed and no fontconfig/freetype.
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
