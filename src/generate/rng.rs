//! The generator's random streams: one ChaCha12 stream per function, keyed by
//! SHA-256("gale-generate/v1\0" ‖ seed as 8 little-endian bytes ‖ function name).
//!
//! The key is a hash of (seed, name) rather than, say, the seed with the function's index as
//! ChaCha's stream id: a function's draws then depend on nothing but the seed and its own
//! name, so adding, removing or reordering functions leaves the others' draws unchanged.
//! Distinct names give unrelated 256-bit keys (SHA-256 is collision resistant), and ChaCha
//! keystreams under unrelated keys are indistinguishable from independent uniform streams
//! (ChaCha is a PRF), so the streams are not correlated. The domain prefix keeps these keys
//! apart from any other use of the same seed (the arrival specs of `gale inject`, the plan's
//! own stream below). ChaCha12 is fixed by its specification, so the words are the same on
//! every platform and every version of the rand crates; the samplers in
//! [`super::space`] turn words into values by hand (inverse CDF), not through rand's
//! distributions, whose outputs may change between releases.

use rand::SeedableRng;
use rand_chacha::ChaCha12Rng;

/// Domain separation prefix of every key derived here.
const DOMAIN: &[u8] = b"gale-generate/v1\0";

fn keyed(seed: u64, label: &[u8], name: &[u8]) -> ChaCha12Rng {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(DOMAIN);
    ctx.update(label);
    ctx.update(&seed.to_le_bytes());
    ctx.update(name);
    let digest = ctx.finish();
    let mut key = [0u8; 32];
    key.copy_from_slice(digest.as_ref());
    ChaCha12Rng::from_seed(key)
}

/// The stream of function `name` under `seed`.
pub fn function_stream(seed: u64, name: &str) -> ChaCha12Rng {
    keyed(seed, b"function\0", name.as_bytes())
}

/// The stream that orders a `shuffled` plan (separate from every function's).
pub fn plan_stream(seed: u64) -> ChaCha12Rng {
    keyed(seed, b"plan\0", b"")
}

/// A uniform draw in `[0, 1)` from the top 53 bits of one `u64` (the same as arrivals use).
pub use crate::trace::arrivals::unit_f64;

/// Lower-case hex of SHA-256 over `parts` (fingerprints and checksums).
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_depend_on_seed_and_name_only() {
        let a1: Vec<u64> = (0..4).map(|_| function_stream(7, "a").next_u64()).collect();
        assert!(a1.windows(2).all(|w| w[0] == w[1]), "same key, same start");
        let mut a = function_stream(7, "a");
        let mut b = function_stream(7, "b");
        let mut a8 = function_stream(8, "a");
        let (x, y, z) = (a.next_u64(), b.next_u64(), a8.next_u64());
        assert!(x != y && x != z && y != z);
        assert_ne!(function_stream(0, "").get_seed(), plan_stream(0).get_seed());
    }

    #[test]
    fn adding_a_function_leaves_the_others_draws_unchanged_and_streams_are_uncorrelated() {
        use crate::generate::config::load;
        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("one.yml");
        let two = dir.path().join("two.yml");
        let f = "  - {name: f, runs: 50, space: {x: {uniform: [0, 1]}, k: {int: [0, 99]}}}\n";
        std::fs::write(&one, format!("seed: 3\nfunctions:\n{f}")).unwrap();
        std::fs::write(
            &two,
            format!("seed: 3\nfunctions:\n  - {{name: new, runs: 9, space: {{x: {{uniform: [0, 1]}}}}}}\n{f}"),
        )
        .unwrap();
        let (g1, g2) = (load(&one, None).unwrap(), load(&two, None).unwrap());
        let points = |g: &crate::generate::config::Generator| {
            let func = g.functions.iter().find(|x| x.name == "f").unwrap();
            let mut r = function_stream(g.seed, &func.name);
            (0..50).map(|_| func.space.draw(&mut r)).collect::<Vec<_>>()
        };
        assert_eq!(points(&g1), points(&g2));

        // Neighbouring names: sample correlation of 20 000 paired uniforms is ~N(0, 1/√n).
        let n = 20_000;
        let mut a = function_stream(3, "f1");
        let mut b = function_stream(3, "f2");
        let xs: Vec<(f64, f64)> = (0..n)
            .map(|_| (unit_f64(&mut a), unit_f64(&mut b)))
            .collect();
        let (ma, mb) = (0.5, 0.5);
        let cov: f64 = xs.iter().map(|(x, y)| (x - ma) * (y - mb)).sum::<f64>() / n as f64;
        let r = cov / (1.0 / 12.0);
        assert!(r.abs() < 0.03, "correlation {r}");
    }

    #[test]
    fn keys_are_pinned() {
        // A change here changes every dataset ever generated: it must never happen silently.
        let mut r = function_stream(42, "burn");
        assert_eq!(
            sha256_hex(&[b"abc"]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let first = r.next_u64();
        assert_eq!(
            first, 10_129_912_483_724_265_255,
            "first word of (42, burn)"
        );
        assert_eq!(r.get_word_pos(), 2);
    }
}
