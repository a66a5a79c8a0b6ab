//! Input spaces and their samplers.
//!
//! Every sampler consumes a fixed number of 64-bit words from the function's stream
//! ([`Dist::words`]), so point `k` of a function always starts at word `2·k·width` of its
//! stream (ChaCha counts 32-bit words) whatever values were drawn before: a row's inputs can
//! be recomputed from the seed, the function name and the run index alone. All samplers are
//! written here by inverse CDF (or Box–Muller for the normal) from [`unit_f64`] draws.

use std::path::PathBuf;

use rand::Rng;
use rand_chacha::ChaCha12Rng;
use serde::Serialize;
use serde_json::Value;

use super::rng::unit_f64;

/// How one parameter is drawn.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dist {
    /// Uniform in `[lo, hi)`: `lo + (hi − lo)·u`.
    Uniform {
        /// Lower bound (inclusive).
        lo: f64,
        /// Upper bound (exclusive).
        hi: f64,
    },
    /// Log-uniform in `[lo, hi)`, `0 < lo`: `exp(ln lo + (ln hi − ln lo)·u)`.
    LogUniform {
        /// Lower bound (inclusive, positive).
        lo: f64,
        /// Upper bound (exclusive).
        hi: f64,
    },
    /// Normal by Box–Muller (two words, the cosine branch only), then clamped to
    /// `[min, max]` when given.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation (positive).
        std: f64,
        /// Values below are raised to it.
        min: Option<f64>,
        /// Values above are lowered to it.
        max: Option<f64>,
    },
    /// Integer in `[lo, hi]` (both inclusive): `lo + ⌊w·span / 2⁶⁴⌋` for one word `w`
    /// (a multiply-shift; its bias is below `span / 2⁶⁴`, nil for any practical span).
    Int {
        /// Lower bound (inclusive).
        lo: i64,
        /// Upper bound (inclusive).
        hi: i64,
    },
    /// One of `values`, with probability proportional to its weight.
    Choice {
        /// The values (JSON scalars).
        values: Vec<Value>,
        /// Running sums of the weights; the last is the total.
        cumulative: Vec<f64>,
    },
}

impl Dist {
    /// 64-bit words one draw consumes (fixed per kind).
    pub fn words(&self) -> u64 {
        match self {
            Dist::Normal { .. } => 2,
            _ => 1,
        }
    }

    /// One draw.
    pub fn sample(&self, rng: &mut ChaCha12Rng) -> Value {
        match self {
            Dist::Uniform { lo, hi } => number(lo + (hi - lo) * unit_f64(rng)),
            Dist::LogUniform { lo, hi } => {
                let (a, b) = (lo.ln(), hi.ln());
                // exp(ln) may land a hair outside the bounds; keep the promise.
                number((a + (b - a) * unit_f64(rng)).exp().clamp(*lo, *hi))
            }
            Dist::Normal {
                mean,
                std,
                min,
                max,
            } => {
                let (u1, u2) = (unit_f64(rng), unit_f64(rng));
                let z = (-2.0 * (1.0 - u1).ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                let mut x = mean + std * z;
                if let Some(m) = min {
                    x = x.max(*m);
                }
                if let Some(m) = max {
                    x = x.min(*m);
                }
                number(x)
            }
            Dist::Int { lo, hi } => Value::from(int_in(rng, *lo, *hi)),
            Dist::Choice { values, cumulative } => values[weighted(rng, cumulative)].clone(),
        }
    }
}

/// `lo..=hi` from one word (see [`Dist::Int`]).
pub fn int_in(rng: &mut ChaCha12Rng, lo: i64, hi: i64) -> i64 {
    let span = (hi as i128 - lo as i128 + 1) as u128;
    let offset = ((rng.next_u64() as u128 * span) >> 64) as i128;
    (lo as i128 + offset) as i64
}

/// An index drawn with probability proportional to its weight, from one word.
pub fn weighted(rng: &mut ChaCha12Rng, cumulative: &[f64]) -> usize {
    let total = cumulative.last().copied().unwrap_or(0.0);
    let x = unit_f64(rng) * total;
    let i = cumulative.partition_point(|&c| c <= x);
    // x < total, so i < len; zero-weight entries are never picked (their sum equals the
    // previous one, so partition_point steps over them).
    i.min(cumulative.len().saturating_sub(1))
}

fn number(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// How an input file reaches the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pass {
    /// Its absolute path (the function reads it: same machine).
    Path,
    /// Its file name only (the function fetches it from its own storage, as FaaSLoad does).
    Name,
    /// Its content, as a string (the file must be UTF-8).
    Content,
}

/// One input file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InputFile {
    /// As recorded in the dataset: relative to the config file's directory.
    pub label: String,
    /// Where it is.
    #[serde(skip)]
    pub path: PathBuf,
    /// Its size (the `input_bytes` column).
    pub bytes: u64,
}

/// A size class (SeBS's test/small/large): a name and its files.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizeClass {
    /// Class name.
    pub name: String,
    /// Its files, in name order.
    pub files: Vec<InputFile>,
}

/// Input files of a function: each run draws a class (weighted), then a file in it (uniform).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inputs {
    /// The parameter that carries the file.
    pub param: String,
    /// What is sent in it.
    pub pass: Pass,
    /// Classes in name order.
    pub classes: Vec<SizeClass>,
    /// Running sums of the class weights.
    pub cumulative: Vec<f64>,
}

/// A function's input space: sampled parameters (in name order) and optional input files.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Space {
    /// `(name, law)` in name order: the order of draws within a point.
    pub params: Vec<(String, Dist)>,
    /// Input files, drawn after the parameters.
    pub inputs: Option<Inputs>,
}

/// One sampled point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// One value per entry of [`Space::params`].
    pub values: Vec<Value>,
    /// `(class index, file index)` when the space has input files.
    pub input: Option<(usize, usize)>,
}

impl Space {
    /// Words one point consumes.
    pub fn width(&self) -> u64 {
        self.params.iter().map(|(_, d)| d.words()).sum::<u64>()
            + if self.inputs.is_some() { 2 } else { 0 }
    }

    /// Draw the next point from `rng`.
    pub fn draw(&self, rng: &mut ChaCha12Rng) -> Point {
        let values = self.params.iter().map(|(_, d)| d.sample(rng)).collect();
        let input = self.inputs.as_ref().map(|inp| {
            let class = weighted(rng, &inp.cumulative);
            let n = inp.classes[class].files.len() as i64;
            (class, int_in(rng, 0, n - 1) as usize)
        });
        Point { values, input }
    }

    /// The input file a point chose.
    pub fn file(&self, point: &Point) -> Option<(&SizeClass, &InputFile)> {
        let (c, f) = point.input?;
        let class = self.inputs.as_ref()?.classes.get(c)?;
        Some((class, class.files.get(f)?))
    }
}

/// Running sums of `weights`.
pub fn cumulative(weights: &[f64]) -> Vec<f64> {
    weights
        .iter()
        .scan(0.0, |sum, w| {
            *sum += w;
            Some(*sum)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::rng::function_stream;
    use super::*;

    fn draws(d: &Dist, seed: u64, n: usize) -> Vec<f64> {
        let mut r = function_stream(seed, "f");
        (0..n)
            .map(|_| d.sample(&mut r).as_f64().expect("a number"))
            .collect()
    }

    fn mean_var(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let m = xs.iter().sum::<f64>() / n;
        (
            m,
            xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0),
        )
    }

    #[test]
    fn draws_are_deterministic() {
        let d = Dist::Normal {
            mean: 1.0,
            std: 2.0,
            min: None,
            max: None,
        };
        assert_eq!(draws(&d, 5, 100), draws(&d, 5, 100));
        assert_ne!(draws(&d, 5, 100), draws(&d, 6, 100));
    }

    #[test]
    fn uniform_and_log_uniform_stay_in_bounds_with_the_right_moments() {
        let u = draws(&Dist::Uniform { lo: 2.0, hi: 6.0 }, 1, 20_000);
        assert!(u.iter().all(|&x| (2.0..6.0).contains(&x)));
        let (m, v) = mean_var(&u);
        assert!((m - 4.0).abs() < 0.05, "mean {m}");
        assert!((v - 16.0 / 12.0).abs() < 0.05, "variance {v}");
        let l = draws(&Dist::LogUniform { lo: 1.0, hi: 1e4 }, 2, 20_000);
        assert!(l.iter().all(|&x| (1.0..=1e4).contains(&x)));
        // log10 of a log-uniform draw is uniform in [0, 4): a quarter per decade.
        let below_10 = l.iter().filter(|&&x| x < 10.0).count() as f64 / l.len() as f64;
        assert!((below_10 - 0.25).abs() < 0.02, "{below_10}");
    }

    #[test]
    fn normal_has_its_moments_and_respects_clamps() {
        let d = Dist::Normal {
            mean: 10.0,
            std: 3.0,
            min: None,
            max: None,
        };
        let (m, v) = mean_var(&draws(&d, 3, 40_000));
        assert!((m - 10.0).abs() < 0.06, "mean {m}");
        assert!((v.sqrt() - 3.0).abs() < 0.05, "std {}", v.sqrt());
        let c = Dist::Normal {
            mean: 0.0,
            std: 1.0,
            min: Some(0.0),
            max: Some(1.0),
        };
        let xs = draws(&c, 3, 5_000);
        assert!(xs.iter().all(|&x| (0.0..=1.0).contains(&x)));
        assert!(
            xs.iter().filter(|&&x| x == 0.0).count() > 2_000,
            "half clamp to min"
        );
    }

    #[test]
    fn ints_cover_their_range_evenly() {
        let d = Dist::Int { lo: -2, hi: 2 };
        let mut r = function_stream(4, "f");
        let mut counts = [0u32; 5];
        for _ in 0..50_000 {
            let x = d.sample(&mut r).as_i64().expect("an integer");
            counts[(x + 2) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_500..10_500).contains(&c)),
            "{counts:?}"
        );
        let wide = Dist::Int {
            lo: i64::MIN,
            hi: i64::MAX,
        };
        let _ = wide.sample(&mut r);
    }

    #[test]
    fn choice_follows_weights_and_skips_zero_weights() {
        let d = Dist::Choice {
            values: vec!["a".into(), "b".into(), "c".into()],
            cumulative: cumulative(&[1.0, 0.0, 3.0]),
        };
        let mut r = function_stream(9, "f");
        let mut n = std::collections::HashMap::new();
        for _ in 0..40_000 {
            *n.entry(d.sample(&mut r)).or_insert(0u32) += 1;
        }
        assert_eq!(n.get(&Value::from("b")), None);
        let a = f64::from(n[&Value::from("a")]) / 40_000.0;
        assert!((a - 0.25).abs() < 0.01, "{a}");
    }

    #[test]
    fn points_have_a_fixed_width() {
        let space = Space {
            params: vec![
                ("a".into(), Dist::Uniform { lo: 0.0, hi: 1.0 }),
                (
                    "b".into(),
                    Dist::Normal {
                        mean: 0.0,
                        std: 1.0,
                        min: None,
                        max: None,
                    },
                ),
                ("c".into(), Dist::Int { lo: 0, hi: 9 }),
            ],
            inputs: None,
        };
        assert_eq!(space.width(), 4);
        let mut r = function_stream(1, "f");
        for k in 1..=10u128 {
            space.draw(&mut r);
            assert_eq!(r.get_word_pos(), 2 * 4 * k);
        }
        // Point 7 recomputed from its position alone.
        let mut seq = function_stream(1, "f");
        let seventh = (0..8).map(|_| space.draw(&mut seq)).last();
        let mut direct = function_stream(1, "f");
        direct.set_word_pos(2 * 4 * 7);
        assert_eq!(seventh, Some(space.draw(&mut direct)));
    }
}
