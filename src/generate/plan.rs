//! The run plan: which function's which run comes next, and its run id.
//!
//! A *point* is one draw from a function's input space; it runs once per memory variant, the
//! variants back to back (so variants are compared on the same input). The order decides
//! which function's next point comes next:
//! - `per-function`: all of the first function's points, then the second's, …;
//! - `interleaved`: one point of each function in turn (functions that are done drop out);
//! - `shuffled`: the next function is drawn with probability proportional to its points
//!   left, from the plan's own stream: a uniformly random interleaving, reproducible.
//!
//! Within a function, points always run in run-index order, so point `k` is always the
//! `k`-th draw from that function's stream. The [`Cursor`] is the plan's whole state and is
//! saved in checkpoints as is.

use rand::Rng;
use rand_chacha::ChaCha12Rng;
use serde::{Deserialize, Serialize};

use super::config::Generator;

/// The order of runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Order {
    /// Every run of a function before the next function.
    PerFunction,
    /// Functions take turns (the default).
    #[default]
    Interleaved,
    /// A seeded random interleaving of the functions' runs.
    Shuffled,
}

/// A point whose variants are not all run yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Function index.
    pub function: usize,
    /// Run index of the point.
    pub run: u64,
    /// Next variant to run.
    pub variant: usize,
}

/// One row to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    /// Row id (0-based position in the plan): the `run_id` column.
    pub row: u64,
    /// Function index.
    pub function: usize,
    /// Run index within the function (the point's index).
    pub run: u64,
    /// Variant index.
    pub variant: usize,
    /// First row of its point: the point must be drawn now.
    pub new_point: bool,
}

/// Where the plan stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    /// Row id of the next row.
    pub next_row: u64,
    /// Per function: run index of its next point not yet started.
    pub next_run: Vec<u64>,
    /// `interleaved`: the function to look at first.
    pub turn: usize,
    /// `shuffled`: the plan's stream.
    pub plan_rng: ChaCha12Rng,
    /// A point with variants left.
    pub pending: Option<Pending>,
}

impl Cursor {
    /// The start of the plan.
    pub fn new(g: &Generator) -> Cursor {
        Cursor {
            next_row: 0,
            next_run: vec![0; g.functions.len()],
            turn: 0,
            plan_rng: super::rng::plan_stream(g.seed),
            pending: None,
        }
    }

    /// Whether the cursor fits `g` (a checkpoint's cursor is checked before use).
    pub fn fits(&self, g: &Generator) -> bool {
        self.next_run.len() == g.functions.len()
            && self
                .next_run
                .iter()
                .zip(&g.functions)
                .all(|(&n, f)| n <= f.runs)
            && self.pending.is_none_or(|p| {
                g.functions
                    .get(p.function)
                    .is_some_and(|f| p.run < f.runs && p.variant < f.variants.len())
            })
    }

    /// The next row, advancing the cursor past it; `None` at the end.
    pub fn next(&mut self, g: &Generator) -> Option<Unit> {
        let row = self.next_row;
        if let Some(p) = self.pending.take() {
            if p.variant + 1 < g.functions[p.function].variants.len() {
                self.pending = Some(Pending {
                    variant: p.variant + 1,
                    ..p
                });
            }
            self.next_row += 1;
            return Some(Unit {
                row,
                function: p.function,
                run: p.run,
                variant: p.variant,
                new_point: false,
            });
        }
        let function = self.pick(g)?;
        let run = self.next_run[function];
        self.next_run[function] += 1;
        if g.functions[function].variants.len() > 1 {
            self.pending = Some(Pending {
                function,
                run,
                variant: 1,
            });
        }
        self.next_row += 1;
        Some(Unit {
            row,
            function,
            run,
            variant: 0,
            new_point: true,
        })
    }

    fn left(&self, g: &Generator, f: usize) -> u64 {
        g.functions[f].runs - self.next_run[f]
    }

    fn pick(&mut self, g: &Generator) -> Option<usize> {
        let n = g.functions.len();
        match g.order {
            Order::PerFunction => (0..n).find(|&f| self.left(g, f) > 0),
            Order::Interleaved => {
                let f = (0..n)
                    .map(|i| (self.turn + i) % n)
                    .find(|&f| self.left(g, f) > 0)?;
                self.turn = (f + 1) % n;
                Some(f)
            }
            Order::Shuffled => {
                let total: u64 = (0..n).map(|f| self.left(g, f)).sum();
                if total == 0 {
                    return None;
                }
                let mut x = ((self.plan_rng.next_u64() as u128 * total as u128) >> 64) as u64;
                (0..n).find(|&f| {
                    let l = self.left(g, f);
                    if x < l {
                        true
                    } else {
                        x -= l;
                        false
                    }
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::config::{Function, Variant};
    use crate::generate::space::Space;

    fn gen(order: Order, runs: &[(u64, usize)]) -> Generator {
        let functions = runs
            .iter()
            .enumerate()
            .map(|(i, &(runs, variants))| Function {
                name: format!("f{i}"),
                spec: crate::trace::FunctionSpec::synthetic("x"),
                runs,
                variants: (0..variants)
                    .map(|v| Variant {
                        action: format!("f{i}-{v}"),
                        memory_mb: Some(128 + v as u32),
                    })
                    .collect(),
                cold_start: false,
                pause: std::time::Duration::ZERO,
                params: Default::default(),
                space: Space::default(),
            })
            .collect();
        Generator {
            seed: 1,
            order,
            functions,
        }
    }

    fn all(g: &Generator) -> Vec<(usize, u64, usize)> {
        let mut c = Cursor::new(g);
        std::iter::from_fn(|| c.next(g))
            .map(|u| (u.function, u.run, u.variant))
            .collect()
    }

    #[test]
    fn orders() {
        let g = gen(Order::PerFunction, &[(2, 1), (1, 2)]);
        assert_eq!(all(&g), [(0, 0, 0), (0, 1, 0), (1, 0, 0), (1, 0, 1)]);
        let g = gen(Order::Interleaved, &[(3, 1), (1, 2), (2, 1)]);
        assert_eq!(
            all(&g),
            [
                (0, 0, 0),
                (1, 0, 0),
                (1, 0, 1),
                (2, 0, 0),
                (0, 1, 0),
                (2, 1, 0),
                (0, 2, 0)
            ]
        );
        let g = gen(Order::Shuffled, &[(50, 1), (30, 2), (20, 1)]);
        let rows = all(&g);
        assert_eq!(rows.len(), 50 + 60 + 20);
        assert_eq!(rows, all(&g), "seeded");
        for f in 0..3 {
            let runs: Vec<u64> = rows
                .iter()
                .filter(|r| r.0 == f && r.2 == 0)
                .map(|r| r.1)
                .collect();
            assert!(runs.windows(2).all(|w| w[1] == w[0] + 1), "in run order");
        }
        assert_ne!(
            rows,
            all(&gen(Order::Interleaved, &[(50, 1), (30, 2), (20, 1)]))
        );
    }

    #[test]
    fn a_saved_cursor_continues_the_same_plan() {
        let g = gen(Order::Shuffled, &[(20, 2), (15, 1)]);
        let full = all(&g);
        for cut in [0, 1, 7, 30, full.len()] {
            let mut c = Cursor::new(&g);
            let mut got: Vec<_> = (0..cut)
                .map_while(|_| c.next(&g))
                .map(|u| (u.function, u.run, u.variant))
                .collect();
            let json = serde_json::to_string(&c).unwrap();
            let mut back: Cursor = serde_json::from_str(&json).unwrap();
            assert!(back.fits(&g));
            got.extend(
                std::iter::from_fn(|| back.next(&g)).map(|u| (u.function, u.run, u.variant)),
            );
            assert_eq!(got, full, "cut at {cut}");
        }
    }
}
