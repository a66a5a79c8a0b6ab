//! Axes: linear or logarithmic scales with round ticks, category axes, and how numbers and
//! labels are written on them.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

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
