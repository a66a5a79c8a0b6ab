//! `--check` thresholds: `completion.p99 < 300ms`, `error_rate <= 1%`, `count >= 1000`.
//! A report with checks exits with [`CHECK_FAILED_EXIT`] when any run breaks one.

use std::fmt;

use super::group::{metric_index, GroupStats, METRICS};

/// Exit code of `gale report` when a check is broken (1 is a failure to report, 2 bad input).
pub const CHECK_FAILED_EXIT: u8 = 3;

/// A `--check` expression that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("--check `{text}`: {message}")]
pub struct CheckError {
    /// The expression as given.
    pub text: String,
    /// What was expected.
    pub message: String,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
}

/// What a check reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quantity {
    /// Invocations.
    Count,
    /// Invocations that did not succeed.
    Errors,
    /// errors / count, a fraction.
    ErrorRate,
    /// A statistic of a metric of [`METRICS`].
    Metric {
        /// Index in [`METRICS`].
        index: usize,
        /// Which statistic.
        stat: Stat,
    },
}

/// A statistic of a metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    /// Mean.
    Mean,
    /// Standard deviation.
    Std,
    /// Coefficient of variation.
    Cv,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// The quantile p (0 < p < 1).
    Quantile(f64),
    /// Number of values.
    N,
}

/// A parsed `--check`.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The expression as given.
    pub text: String,
    /// What is compared.
    pub quantity: Quantity,
    /// How.
    pub op: Op,
    /// With what, in the metric's unit (ms, MB) or as a fraction for rates.
    pub threshold: f64,
}

impl Check {
    /// Parse `METRIC.STAT OP NUMBER[UNIT]` or `count|errors|error_rate OP NUMBER[%]`.
    pub fn parse(text: &str) -> Result<Check, CheckError> {
        let err = |message: String| CheckError {
            text: text.to_string(),
            message,
        };
        let ops = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<", Op::Lt),
            (">", Op::Gt),
        ];
        let (pos, len, op) = ops
            .iter()
            .filter_map(|(s, op)| text.find(s).map(|p| (p, s.len(), *op)))
            .min_by_key(|(p, l, _)| (*p, std::cmp::Reverse(*l)))
            .ok_or_else(|| err("expected an operator: < <= > >= == !=".into()))?;
        let lhs = text[..pos].trim();
        let rhs = text[pos + len..].trim();
        let quantity = match lhs {
            "count" => Quantity::Count,
            "errors" => Quantity::Errors,
            "error_rate" => Quantity::ErrorRate,
            _ => {
                let (metric, stat) = lhs.split_once('.').ok_or_else(|| {
                    err(format!(
                        "expected METRIC.STAT (e.g. completion.p99), count, errors or \
                         error_rate before the operator, found `{lhs}`"
                    ))
                })?;
                let index = metric_index(metric).ok_or_else(|| {
                    let names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
                    err(format!(
                        "unknown metric `{metric}`; expected one of {}",
                        names.join(", ")
                    ))
                })?;
                Quantity::Metric {
                    index,
                    stat: parse_stat(stat).ok_or_else(|| {
                        err(format!(
                            "unknown statistic `{stat}`; expected mean, std, cv, min, max, \
                             median, n or pNN (p50, p95, p99.9)"
                        ))
                    })?,
                }
            }
        };
        let threshold = parse_threshold(rhs, quantity).map_err(err)?;
        Ok(Check {
            text: text.to_string(),
            quantity,
            op,
            threshold,
        })
    }

    /// The statistic's value in `g`; `None` when the metric has no values.
    pub fn value(&self, g: &GroupStats) -> Option<f64> {
        match self.quantity {
            Quantity::Count => Some(g.count() as f64),
            Quantity::Errors => Some(g.errors() as f64),
            Quantity::ErrorRate => (g.count() > 0).then(|| g.errors() as f64 / g.count() as f64),
            Quantity::Metric { index, stat } => {
                let ps: &[f64] = match stat {
                    Stat::Quantile(p) => &[p],
                    _ => &[],
                };
                // Confidence does not enter any statistic a check reads.
                let d = g.metric(index).describe(ps, 0.95)?;
                match stat {
                    Stat::Mean => Some(d.mean),
                    Stat::Std => d.std,
                    Stat::Cv => d.cv,
                    Stat::Min => Some(d.min),
                    Stat::Max => Some(d.max),
                    Stat::N => Some(d.n as f64),
                    Stat::Quantile(_) => Some(d.quantiles[0].value),
                }
            }
        }
    }

    /// Evaluate on `g`: `Ok(value)` when the check holds, `Err(value)` when it is broken
    /// (`None`: nothing to measure, which breaks it: an unmeasured threshold is not met).
    pub fn evaluate(&self, g: &GroupStats) -> Result<f64, Option<f64>> {
        match self.value(g) {
            Some(v) if self.op.holds(v, self.threshold) => Ok(v),
            other => Err(other),
        }
    }

    /// The unit a value of this check is shown in.
    pub fn unit(&self) -> &'static str {
        match self.quantity {
            Quantity::Metric { index, stat } => match stat {
                Stat::Cv | Stat::N => "",
                _ => METRICS[index].unit,
            },
            _ => "",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn parse_stat(s: &str) -> Option<Stat> {
    Some(match s {
        "mean" => Stat::Mean,
        "std" => Stat::Std,
        "cv" => Stat::Cv,
        "min" => Stat::Min,
        "max" => Stat::Max,
        "n" => Stat::N,
        "median" => Stat::Quantile(0.5),
        _ => {
            let pct: f64 = s.strip_prefix('p')?.parse().ok()?;
            if !(pct > 0.0 && pct < 100.0) {
                return None;
            }
            Stat::Quantile(pct / 100.0)
        }
    })
}

/// The number and its unit, converted to the metric's unit (ms, MB) or to a fraction.
fn parse_threshold(rhs: &str, q: Quantity) -> Result<f64, String> {
    let split = rhs
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e'))
        .unwrap_or(rhs.len());
    let (num, unit) = (rhs[..split].trim(), rhs[split..].trim());
    let v: f64 = num
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("expected a number after the operator, found `{rhs}`"))?;
    let scale = match q {
        Quantity::Count | Quantity::Errors => match unit {
            "" => 1.0,
            _ => return Err(format!("a count takes no unit, found `{unit}`")),
        },
        Quantity::ErrorRate => match unit {
            "" => 1.0,
            "%" => 0.01,
            _ => {
                return Err(format!(
                    "expected a fraction or a percentage, found `{unit}`"
                ))
            }
        },
        Quantity::Metric {
            stat: Stat::Cv | Stat::N,
            ..
        } => match unit {
            "" => 1.0,
            _ => return Err(format!("cv and n take no unit, found `{unit}`")),
        },
        Quantity::Metric { index, .. } => match (METRICS[index].unit, unit) {
            ("ms", "us" | "µs") => 1e-3,
            // No unit: the metric's own (ms, MB).
            ("ms", "ms" | "") | ("MB", "") => 1.0,
            ("ms", "s") => 1e3,
            ("MB", "B") => 1e-6,
            ("MB", "KB") => 1e-3,
            ("MB", "MB") => 1.0,
            ("MB", "GB") => 1e3,
            ("MB", "KiB") => 1024.0 / 1e6,
            ("MB", "MiB") => 1_048_576.0 / 1e6,
            ("MB", "GiB") => 1_073_741_824.0 / 1e6,
            ("ms", _) => return Err(format!("expected a time unit us, ms or s, found `{unit}`")),
            _ => {
                return Err(format!(
                    "expected a size unit B, KB, MB, GB, KiB, MiB or GiB, found `{unit}`"
                ))
            }
        },
    };
    Ok(v * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_metrics_units_and_rates() {
        let c = Check::parse("completion.p99 < 300ms").unwrap();
        assert_eq!(c.op, Op::Lt);
        assert_eq!(c.threshold, 300.0);
        assert_eq!(
            c.quantity,
            Quantity::Metric {
                index: 0,
                stat: Stat::Quantile(0.99)
            }
        );
        assert_eq!(Check::parse("wait.mean<=2s").unwrap().threshold, 2000.0);
        assert_eq!(
            Check::parse("duration.p99.9 >= 500us").unwrap().threshold,
            0.5
        );
        assert_eq!(
            Check::parse("mem_peak.max < 128MiB").unwrap().threshold,
            134.217728
        );
        assert_eq!(Check::parse("error_rate <= 1%").unwrap().threshold, 0.01);
        assert_eq!(Check::parse("count >= 1000").unwrap().op, Op::Ge);
        assert_eq!(Check::parse("completion.cv < 0.5").unwrap().threshold, 0.5);
        assert_eq!(Check::parse("completion.p50 < 12").unwrap().threshold, 12.0);
    }

    #[test]
    fn rejects_what_it_cannot_read() {
        for bad in [
            "completion.p99 300ms",
            "latency.p99 < 3ms",
            "completion.p100 < 3ms",
            "completion.p99 < 3 parsecs",
            "completion.p99 < fast",
            "count < 3ms",
            "mem_peak.max < 3ms",
            "completion < 3ms",
        ] {
            let e = Check::parse(bad).unwrap_err();
            assert!(e.to_string().contains(bad), "{e}");
        }
    }
}
