//! The few distribution functions the report needs, written out so their accuracy is ours to
//! state: the Student-t quantile (for the confidence interval of a mean), the binomial CDF
//! (for the order-statistic interval of a quantile), and the normal CDF and quantile (for the
//! Mann-Whitney test's large-sample approximation).
//!
//! Everything rests on the regularized incomplete beta function `I_x(a, b)`, evaluated with its
//! continued fraction (modified Lentz), which converges in O(√max(a, b)) terms on the side of
//! `x < (a+1)/(a+b+2)`; the other side uses `I_x(a,b) = 1 − I_{1−x}(b,a)`. The t and
//! binomial distributions are both exact transforms of it:
//! `P(T ≤ t) = 1 − ½·I_{ν/(ν+t²)}(ν/2, ½)` for t ≥ 0, and `P(B ≤ k) = I_{1−p}(n−k, k+1)`.
//! Quantiles are found by bisection on those CDFs (monotone, so bisection cannot miss),
//! to a relative width of 1e-12.

/// ln Γ(x) for x > 0: Lanczos (g = 7, 9 terms), relative error below 1e-14 over the range
/// the report uses.
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: the series is accurate for Re(x) ≥ ½ only.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The continued fraction of I_x(a, b) (without its prefactor), modified Lentz.
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-15;
    // Convergence takes O(√max(a,b)) terms: 10⁷ samples (a ≈ 5·10⁶) need a few thousand.
    let max_iter = 1000 + 20 * (a.max(b).sqrt() as usize);
    let qab = a + b;
    let qap = a + 1.0;
    let qam = a - 1.0;
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=max_iter {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// The regularized incomplete beta function I_x(a, b), for a, b > 0 and 0 ≤ x ≤ 1.
pub fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

/// P(T ≤ t) for Student's t with `df` degrees of freedom.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * inc_beta(df / 2.0, 0.5, df / (df + t * t));
    if t >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// Bisection for the x in [lo, hi] where the increasing `f` crosses `target`.
fn bisect(f: impl Fn(f64) -> f64, target: f64, mut lo: f64, mut hi: f64) -> f64 {
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if f(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-12 * hi.abs().max(1e-300) {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// The p-quantile of Student's t with `df` degrees of freedom (0 < p < 1, df > 0).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if p == 0.5 {
        return 0.0;
    }
    if p < 0.5 {
        return -t_quantile(1.0 - p, df);
    }
    // Bracket: double the upper end until the CDF passes p (df = 1 at p = 0.9995 is ~637).
    let mut hi = 2.0;
    while t_cdf(hi, df) < p && hi < 1e12 {
        hi *= 2.0;
    }
    bisect(|t| t_cdf(t, df), p, 0.0, hi)
}

/// P(B ≤ k) for B ~ Binomial(n, p).
pub fn binomial_cdf(k: u64, n: u64, p: f64) -> f64 {
    if k >= n {
        return 1.0;
    }
    inc_beta((n - k) as f64, k as f64 + 1.0, 1.0 - p)
}

/// erfc(x): Chebyshev fit (Numerical Recipes' `erfcc`), fractional error below 1.2e-7
/// everywhere, which keeps small p-values accurate in relative terms.
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// Φ(x), the standard normal CDF.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Φ⁻¹(p), the standard normal quantile (0 < p < 1), by bisection on [`normal_cdf`].
pub fn normal_quantile(p: f64) -> f64 {
    if p == 0.5 {
        return 0.0;
    }
    if p < 0.5 {
        return -normal_quantile(1.0 - p);
    }
    bisect(normal_cdf, p, 0.0, 40.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut f = 1.0f64;
        for n in 1..30u32 {
            f *= n as f64;
            // Γ(n+1) = n!
            assert!(close(
                ln_gamma(n as f64 + 1.0),
                f.ln(),
                1e-12 * f.ln().max(1.0)
            ));
        }
        // Γ(½) = √π
        assert!(close(
            ln_gamma(0.5),
            std::f64::consts::PI.sqrt().ln(),
            1e-14
        ));
    }

    #[test]
    fn t_quantiles_match_published_tables() {
        // Two-sided 95 % and 99 % critical values, as printed in any t table (6 decimals:
        // NIST/SEMATECH e-Handbook 1.3.6.7.2 and Le Boudec's appendix).
        let table = [
            (0.975, 1.0, 12.706205),
            (0.975, 2.0, 4.302653),
            (0.975, 5.0, 2.570582),
            (0.975, 8.0, 2.306004),
            (0.975, 10.0, 2.228139),
            (0.975, 29.0, 2.045230),
            (0.975, 100.0, 1.983972),
            (0.995, 1.0, 63.656741),
            (0.995, 4.0, 4.604095),
            (0.995, 30.0, 2.749996),
            (0.95, 3.0, 2.353363),
            (0.95, 20.0, 1.724718),
            (0.9995, 1.0, 636.619249),
        ];
        for (p, df, want) in table {
            let got = t_quantile(p, df);
            assert!(close(got, want, 2e-6), "t({p}, {df}) = {got}, table {want}");
            assert!(close(t_quantile(1.0 - p, df), -want, 2e-6));
        }
        // Many degrees of freedom tend to the normal quantile.
        assert!(close(t_quantile(0.975, 1e7), 1.959964, 2e-6));
    }

    #[test]
    fn binomial_cdf_is_exact_on_small_cases() {
        // n = 10, p = ½: P(B ≤ 1) = 11/1024, P(B ≤ 2) = 56/1024.
        assert!(close(binomial_cdf(1, 10, 0.5), 11.0 / 1024.0, 1e-14));
        assert!(close(binomial_cdf(2, 10, 0.5), 56.0 / 1024.0, 1e-14));
        assert!(close(binomial_cdf(0, 6, 0.5), 1.0 / 64.0, 1e-15));
        // n = 5, p = 0.9: P(B ≤ 3) = 1 − 0.9⁵ − 5·0.9⁴·0.1 = 0.08146.
        assert!(close(binomial_cdf(3, 5, 0.9), 0.08146, 1e-12));
        assert_eq!(binomial_cdf(5, 5, 0.9), 1.0);
    }

    #[test]
    fn binomial_cdf_on_ten_million_is_close_to_normal() {
        // Mean 5·10⁶, σ = √(n/4) ≈ 1581.1: one σ below the mean is Φ(−1) ≈ 0.158655
        // up to the continuity term (~1/σ relative).
        let n = 10_000_000u64;
        let k = 5_000_000 - 1581;
        let got = binomial_cdf(k, n, 0.5);
        assert!(close(got, 0.158655, 5e-4), "{got}");
    }

    #[test]
    fn normal_matches_tables() {
        assert!(close(normal_cdf(1.959964), 0.975, 1e-7));
        // erfc's fit is good to 1.2e-7 relative.
        assert!(close(normal_cdf(0.0), 0.5, 0.5 * 1.2e-7));
        assert!(close(
            normal_cdf(-3.0),
            0.001349898,
            0.00135 * 1.2e-7 + 1e-12
        ));
        assert!(close(normal_quantile(0.975), 1.959964, 1e-6));
        assert!(close(normal_quantile(0.005), -2.575829, 1e-6));
        assert!(close(t_cdf(2.228139, 10.0), 0.975, 1e-7));
    }
}
