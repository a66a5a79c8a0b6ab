//! `gale trace shrink`: a smaller trace from a big one. Keep the top N functions by rows, or
//! a deterministic sample of N functions that keeps the trace's distributions of per-function
//! rates and durations; compress time; scale the rate.
//!
//! The sample follows In-Vitro's sampler in spirit: functions are chosen to minimise the
//! Wasserstein distance between the sample's and the whole trace's distributions. Here the
//! choice is one greedy order of all functions (each step adds, among a few seeded
//! candidates, the one that brings the sample closest), so the sample of N is the first N of
//! that order: every smaller sample is a subset of every larger one, and the same seed gives
//! the same order.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use rand_chacha::ChaCha12Rng;

use super::arrivals::{rng_for, unit_f64};
use super::{Invocation, Rows, TraceError};

/// What one function of the trace looks like.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionLoad {
    /// Function name.
    pub name: Arc<str>,
    /// Rows.
    pub rows: u64,
    /// Mean duration its rows ask for (`cpu_ms` or `sleep_ms` parameter), ms.
    pub duration_ms: Option<f64>,
}

/// Per-function rows and mean durations, in one pass.
pub fn profiles(rows: Rows) -> Result<(Vec<FunctionLoad>, u64), TraceError> {
    let mut by: HashMap<Arc<str>, (u64, f64, u64)> = HashMap::new();
    let mut last = 0;
    for r in rows {
        let inv = r?;
        last = inv.at_ns;
        let e = by.entry(inv.function.clone()).or_default();
        e.0 += 1;
        if let Some(d) = duration_of(&inv) {
            e.1 += d;
            e.2 += 1;
        }
    }
    let mut out: Vec<FunctionLoad> = by
        .into_iter()
        .map(|(name, (rows, sum, n))| FunctionLoad {
            name,
            rows,
            duration_ms: (n > 0).then(|| sum / n as f64),
        })
        .collect();
    // Busiest first, then by name: a fixed order whatever the hash map did.
    out.sort_by(|a, b| b.rows.cmp(&a.rows).then(a.name.cmp(&b.name)));
    Ok((out, last))
}

fn duration_of(inv: &Invocation) -> Option<f64> {
    let p = inv.params.as_deref()?;
    if !p.contains("_ms") {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(p).ok()?;
    v.get("cpu_ms")
        .or_else(|| v.get("sleep_ms"))
        .and_then(serde_json::Value::as_f64)
}

/// 1-Wasserstein distance between two empirical distributions (sorted samples).
pub fn wasserstein(a: &[f64], b: &[f64]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return f64::INFINITY;
    }
    // ∫|F_a − F_b| over the merged support.
    let (mut i, mut j) = (0usize, 0usize);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let mut prev = a[0].min(b[0]);
    let mut area = 0.0;
    while i < a.len() || j < b.len() {
        let x = match (a.get(i), b.get(j)) {
            (Some(&x), Some(&y)) => x.min(y),
            (Some(&x), None) => x,
            (None, Some(&y)) => y,
            (None, None) => break,
        };
        area += (i as f64 / na - j as f64 / nb).abs() * (x - prev);
        prev = x;
        while a.get(i).is_some_and(|&v| v <= x) {
            i += 1;
        }
        while b.get(j).is_some_and(|&v| v <= x) {
            j += 1;
        }
    }
    area
}

/// The features compared: log10 of rows (the rate, the span being common) and log10 of the
/// mean duration (when the trace gives durations).
fn features(p: &FunctionLoad) -> (f64, Option<f64>) {
    (
        (p.rows.max(1) as f64).log10(),
        p.duration_ms.map(|d| (d.max(1e-3)).log10()),
    )
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

/// Insert `x` into sorted `v`.
fn insert(v: &mut Vec<f64>, x: f64) {
    let i = v.partition_point(|&y| y < x);
    v.insert(i, x);
}

/// The first `n` functions of the greedy order (see the module documentation); `trials`
/// seeded candidates per step.
pub fn sample(all: &[FunctionLoad], n: usize, trials: usize, seed: u64) -> Vec<Arc<str>> {
    let target_rate = sorted(all.iter().map(|p| features(p).0).collect());
    let target_dur = sorted(all.iter().filter_map(|p| features(p).1).collect());
    let mut rng: ChaCha12Rng = rng_for(seed, 0x5348_5249_4e4b);
    let mut left: Vec<usize> = (0..all.len()).collect();
    let (mut rates, mut durs) = (Vec::new(), Vec::new());
    let mut chosen = Vec::with_capacity(n.min(all.len()));
    while chosen.len() < n && !left.is_empty() {
        let mut best: Option<(f64, usize)> = None;
        for _ in 0..trials.max(1).min(left.len()) {
            let k = (unit_f64(&mut rng) * left.len() as f64) as usize;
            let cand = left[k.min(left.len() - 1)];
            let (r, d) = features(&all[cand]);
            let mut r2 = rates.clone();
            insert(&mut r2, r);
            let mut score = wasserstein(&r2, &target_rate);
            if !target_dur.is_empty() {
                let mut d2 = durs.clone();
                if let Some(d) = d {
                    insert(&mut d2, d);
                }
                let wd = if d2.is_empty() {
                    0.0
                } else {
                    wasserstein(&d2, &target_dur)
                };
                score = (score + wd) / 2.0;
            }
            if best.is_none_or(|(s, c)| score < s || (score == s && cand < c)) {
                best = Some((score, cand));
            }
        }
        let Some((_, cand)) = best else { break };
        let (r, d) = features(&all[cand]);
        insert(&mut rates, r);
        if let Some(d) = d {
            insert(&mut durs, d);
        }
        left.retain(|&x| x != cand);
        chosen.push(all[cand].name.clone());
    }
    chosen
}

/// How rows are transformed.
#[derive(Debug, Clone)]
pub struct Transform {
    /// Functions kept (`None`: all).
    pub keep: Option<HashSet<Arc<str>>>,
    /// Times divided by this (2: the trace runs in half the time).
    pub compress: f64,
    /// Rate multiplied by this: below 1 rows are thinned (each kept with probability
    /// `scale`), above 1 each row is sent ⌊scale⌋ or ⌈scale⌉ times at its instant.
    pub scale: f64,
    /// Seed of the thinning.
    pub seed: u64,
}

/// The rows of `rows` after `t`, in time order, renumbered by the merge that follows.
pub fn apply(rows: Rows, t: Transform) -> Rows {
    let mut rng = rng_for(t.seed, 0x0053_4341_4c45);
    Box::new(rows.flat_map(move |r| {
        let inv = match r {
            Ok(inv) => inv,
            Err(e) => return vec![Err(e)],
        };
        if t.keep.as_ref().is_some_and(|k| !k.contains(&inv.function)) {
            return Vec::new();
        }
        let mut inv = inv;
        inv.at_ns = (inv.at_ns as f64 / t.compress).round() as u64;
        let whole = t.scale.floor();
        let copies = whole as usize + usize::from(unit_f64(&mut rng) < t.scale - whole);
        vec![Ok(inv); copies]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prof(i: usize) -> FunctionLoad {
        FunctionLoad {
            name: Arc::from(format!("f{i}")),
            rows: 1 + (i as u64 * 7919) % 1000,
            duration_ms: Some(1.0 + ((i * 104_729) % 5000) as f64),
        }
    }

    #[test]
    fn wasserstein_of_shifted_samples_is_the_shift() {
        let a = [0.0, 1.0, 2.0, 3.0];
        let b = [0.5, 1.5, 2.5, 3.5];
        assert!((wasserstein(&a, &b) - 0.5).abs() < 1e-12);
        assert_eq!(wasserstein(&a, &a), 0.0);
    }

    #[test]
    fn samples_are_deterministic_nested_and_representative() {
        let all: Vec<FunctionLoad> = (0..2000).map(prof).collect();
        let s50 = sample(&all, 50, 16, 1);
        let s200 = sample(&all, 200, 16, 1);
        assert_eq!(s50, sample(&all, 50, 16, 1));
        assert_eq!(&s200[..50], &s50[..]);
        assert_ne!(s50, sample(&all, 50, 16, 2));
        // Closer to the whole than the 50 busiest functions are.
        let target = sorted(all.iter().map(|p| features(p).0).collect());
        let of = |names: &[Arc<str>]| {
            sorted(
                all.iter()
                    .filter(|p| names.contains(&p.name))
                    .map(|p| features(p).0)
                    .collect(),
            )
        };
        let mut top = all.clone();
        top.sort_by_key(|b| std::cmp::Reverse(b.rows));
        let top50: Vec<Arc<str>> = top.iter().take(50).map(|p| p.name.clone()).collect();
        assert!(wasserstein(&of(&s50), &target) < wasserstein(&of(&top50), &target) / 5.0);
    }
}
