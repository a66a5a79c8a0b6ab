//! Comparing two samples A (the baseline) and B: the Mann-Whitney U test, the Hodges–Lehmann
//! estimate of the shift B − A with its distribution-free confidence interval, and a verdict
//! in plain words.
//!
//! The test and the interval come from the same statistic, so they agree: the interval leaves
//! out 0 exactly when the two-sided test rejects at the same level (up to the rounding of the
//! normal approximation's critical rank). Both assume independent samples; the interval also
//! assumes B is A shifted (same shape), under which the shift is the difference of medians.

use serde::Serialize;

use super::dist;
use super::metric::Interval;

/// Below this many values on each side and without ties, the U distribution is counted
/// exactly (the table has (m+1)(n+1)(mn+1) entries: 21·21·401 at most).
const EXACT_MAX: usize = 20;

/// What B is compared with A, for a metric where lower is better (latency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// B's values are significantly lower.
    Faster,
    /// B's values are significantly higher.
    Slower,
    /// The test does not reject at the chosen confidence.
    NoSignificantDifference,
}

impl Verdict {
    /// The words printed in tables.
    pub fn words(self) -> &'static str {
        match self {
            Verdict::Faster => "faster",
            Verdict::Slower => "slower",
            Verdict::NoSignificantDifference => "no significant difference",
        }
    }
}

/// The comparison of sample B with sample A.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Values of A used.
    pub n_a: usize,
    /// Values of B used.
    pub n_b: usize,
    /// U of B: the number of pairs (a, b) with b > a, ties counting ½.
    pub u: f64,
    /// Two-sided p-value of the Mann-Whitney test.
    pub p_value: f64,
    /// `exact` (counted U distribution) or `normal` (approximation with tie correction and
    /// continuity correction).
    pub method: &'static str,
    /// Hodges–Lehmann shift estimate: the median of all differences b − a.
    pub shift: f64,
    /// Its confidence interval; `None` when the samples are too small for one.
    pub shift_ci: Option<Interval>,
    /// B relative to A.
    pub verdict: Verdict,
}

/// Compare B with A at `confidence` (e.g. 0.95). `None` when either sample is empty.
pub fn compare(a: &[f64], b: &[f64], confidence: f64) -> Option<Comparison> {
    let (m, n) = (a.len(), b.len());
    if m == 0 || n == 0 {
        return None;
    }
    let alpha = 1.0 - confidence;
    let (u, ties) = u_statistic(a, b);
    let mn = (m * n) as f64;
    let exact = (m <= EXACT_MAX && n <= EXACT_MAX && ties == 0.0).then(|| u_distribution(m, n));
    let total = (m + n) as f64;
    // Variance of U under H0 with the tie correction (Lehmann, Nonparametrics, 1.4).
    let var = mn / 12.0 * ((total + 1.0) - ties / (total * (total - 1.0)));
    let sigma = var.max(0.0).sqrt();
    let (p_value, method) = match &exact {
        Some(counts) => {
            let all: f64 = counts.iter().sum();
            // No ties: U is an integer.
            let k = u.round() as usize;
            let below: f64 = counts[..=k].iter().sum::<f64>() / all;
            let above: f64 = counts[k..].iter().sum::<f64>() / all;
            ((2.0 * below.min(above)).min(1.0), "exact")
        }
        None => {
            let p = if sigma == 0.0 {
                1.0
            } else {
                let d = u - mn / 2.0;
                let z = (d.abs() - 0.5).max(0.0) / sigma;
                dist::erfc(z / std::f64::consts::SQRT_2).min(1.0)
            };
            (p, "normal")
        }
    };
    // The interval [d(k), d(mn+1−k)] over the sorted differences covers the shift with
    // probability 1 − 2·P(U ≤ k−1): k is the largest rank keeping that tail ≤ α/2.
    let k = match &exact {
        Some(counts) => {
            let all: f64 = counts.iter().sum();
            let mut tail = 0.0;
            let mut k = 0usize;
            for (c, &count) in counts.iter().enumerate() {
                tail += count / all;
                if tail > alpha / 2.0 {
                    break;
                }
                k = c + 1;
            }
            k
        }
        None => {
            let z = dist::normal_quantile(1.0 - alpha / 2.0);
            (mn / 2.0 + 0.5 - z * sigma).floor().max(0.0) as usize
        }
    };
    let mut diffs: Vec<f64> = Vec::with_capacity(m * n);
    for &y in b {
        for &x in a {
            diffs.push(y - x);
        }
    }
    let shift = median_in_place(&mut diffs);
    let shift_ci = (k >= 1 && k <= m * n + 1 - k).then(|| Interval {
        lo: nth(&mut diffs, k - 1),
        hi: nth(&mut diffs, m * n - k),
    });
    let verdict = if p_value >= alpha {
        Verdict::NoSignificantDifference
    } else if u > mn / 2.0 {
        Verdict::Slower
    } else {
        Verdict::Faster
    };
    Some(Comparison {
        n_a: m,
        n_b: n,
        u,
        p_value,
        method,
        shift,
        shift_ci,
        verdict,
    })
}

fn nth(v: &mut [f64], i: usize) -> f64 {
    *v.select_nth_unstable_by(i, f64::total_cmp).1
}

fn median_in_place(v: &mut [f64]) -> f64 {
    let n = v.len();
    if n % 2 == 1 {
        nth(v, n / 2)
    } else {
        0.5 * (nth(v, n / 2 - 1) + nth(v, n / 2))
    }
}

/// U of B and the tie term Σ(t³ − t) over groups of t equal values, from mid-ranks.
fn u_statistic(a: &[f64], b: &[f64]) -> (f64, f64) {
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&x| (x, false))
        .chain(b.iter().map(|&y| (y, true)))
        .collect();
    all.sort_unstable_by(|x, y| x.0.total_cmp(&y.0));
    let mut rank_sum_b = 0.0;
    let mut ties = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let mid = (i + j) as f64 / 2.0 + 1.0;
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        rank_sum_b += mid * all[i..=j].iter().filter(|e| e.1).count() as f64;
        i = j + 1;
    }
    let n = b.len() as f64;
    (rank_sum_b - n * (n + 1.0) / 2.0, ties)
}

/// The number of arrangements of m A's and n B's giving each U of B (0..=mn): placing the
/// largest element last, a B above i A's adds i to U, an A adds nothing.
fn u_distribution(m: usize, n: usize) -> Vec<f64> {
    let size = m * n + 1;
    // ways[i][j] over U, for i A's and j B's; rows by i, rolling over j.
    let mut ways = vec![vec![vec![0.0f64; size]; n + 1]; m + 1];
    for row in ways.iter_mut() {
        row[0][0] = 1.0;
    }
    for cell in ways[0].iter_mut() {
        cell[0] = 1.0;
    }
    for i in 1..=m {
        for j in 1..=n {
            for u in 0..size {
                let last_a = ways[i - 1][j][u];
                let last_b = if u >= i { ways[i][j - 1][u - i] } else { 0.0 };
                ways[i][j][u] = last_a + last_b;
            }
        }
    }
    std::mem::take(&mut ways[m][n])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn exact_small_samples_by_hand() {
        // A = {1, 2, 3}, B = {4, 5, 6}: every b exceeds every a, U = 9 = mn. Of the
        // C(6,3) = 20 arrangements one gives U = 9: two-sided p = 2/20 = 0.1.
        let c = compare(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], 0.95).unwrap();
        assert_eq!((c.u, c.method), (9.0, "exact"));
        assert!(close(c.p_value, 0.1, 1e-12), "{c:?}");
        assert_eq!(c.verdict, Verdict::NoSignificantDifference);
        // Differences b − a: 1,2,2,3,3,3,4,4,5; median 3. P(U ≤ 0) = 1/20 > 0.025: no
        // rank gives a 95 % interval.
        assert_eq!(c.shift, 3.0);
        assert_eq!(c.shift_ci, None);
        assert_eq!(u_distribution(3, 3).iter().sum::<f64>(), 20.0);
        assert_eq!(u_distribution(2, 2), vec![1.0, 1.0, 2.0, 1.0, 1.0]);
    }

    #[test]
    fn separated_samples_are_slower_or_faster() {
        let a: Vec<f64> = (0..10).map(|i| 100.0 + i as f64).collect();
        let b: Vec<f64> = (0..10).map(|i| 200.0 + i as f64).collect();
        let c = compare(&a, &b, 0.95).unwrap();
        // One arrangement in C(20,10) = 184 756 has U = 100: p = 2/184 756.
        assert!(close(c.p_value, 2.0 / 184_756.0, 1e-15), "{c:?}");
        assert_eq!(c.verdict, Verdict::Slower);
        assert_eq!(c.shift, 100.0);
        let ci = c.shift_ci.unwrap();
        assert!(ci.lo > 0.0 && ci.lo <= 100.0 && ci.hi >= 100.0, "{ci:?}");
        assert_eq!(compare(&b, &a, 0.95).unwrap().verdict, Verdict::Faster);
    }

    #[test]
    fn normal_approximation_with_ties() {
        // A = 25 × {1, 2}, B = 25 × {2, 3}: ties force the normal approximation.
        let a: Vec<f64> = (0..50).map(|i| 1.0 + (i % 2) as f64).collect();
        let b: Vec<f64> = (0..50).map(|i| 2.0 + (i % 2) as f64).collect();
        let c = compare(&a, &b, 0.95).unwrap();
        assert_eq!(c.method, "normal");
        // Pairs: b=3 beats all 50 a's (25·50), b=2 beats the 25 ones and ties 25 twos:
        // U = 1250 + 25·25 + 25·25/2 = 2187.5.
        assert_eq!(c.u, 2187.5);
        // Tie groups: 25 ones, 50 twos, 25 threes: Σ(t³−t) = 2·(15625−25) + (125000−50).
        let ties: f64 = 2.0 * (15_625.0 - 25.0) + (125_000.0 - 50.0);
        let sigma = (2500.0 / 12.0 * (101.0 - ties / (100.0 * 99.0))).sqrt();
        let z = (2187.5 - 1250.0 - 0.5) / sigma;
        assert!(close(c.p_value, dist::erfc(z / 2f64.sqrt()), 1e-15));
        assert!(c.p_value < 1e-10);
        assert_eq!(c.verdict, Verdict::Slower);
        assert_eq!(c.shift, 1.0);
    }

    #[test]
    fn a_sample_against_itself_is_no_difference() {
        let a: Vec<f64> = (0..500).map(|i| ((i * 7919) % 1000) as f64).collect();
        let c = compare(&a, &a, 0.95).unwrap();
        assert_eq!(c.u, 500.0 * 500.0 / 2.0);
        assert_eq!(c.p_value, 1.0);
        assert_eq!(c.shift, 0.0);
        assert_eq!(c.verdict, Verdict::NoSignificantDifference);
        assert!(compare(&[], &a, 0.95).is_none());
    }
}
