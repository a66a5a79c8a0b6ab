//! Statistics for result records, pure and exact where the formulas allow: streaming
//! per-metric accumulators with confidence intervals ([`metric`]), the comparison of two
//! samples ([`compare`]), and the distribution functions both rest on ([`dist`]).
//! docs/report.md gives every formula and when it is valid.

pub mod compare;
pub mod dist;
pub mod metric;
pub mod reservoir;

pub use compare::{compare, Comparison, Verdict};
pub use metric::{Description, Interval, Metric, Quantile, COARSE_DIGITS, FINE_DIGITS};
