//! A cheap hasher for the importers' id maps. Release files key every row on ids of 32–64
//! hex characters; std's SipHash spends about as long hashing such a key as the rest of the
//! row costs to parse. The input is the user's own trace file, so the hash-flooding defence
//! SipHash buys is not needed here; a colliding file would only import slower.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A map keyed through [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

/// Multiply-rotate hashing of 8 bytes at a time (the scheme of rustc's FxHasher), in two
/// lanes over long keys.
#[derive(Default, Clone, Copy)]
pub struct FastHasher(u64);

const K: u64 = 0xf135_7aea_2e62_a9c5;

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(26) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        // Two independent lanes over 16-byte steps: the multiply chain of one lane is the
        // cost, and the CPU runs two side by side.
        let (mut a, mut b) = (self.0, self.0 ^ K);
        let mut chunks = bytes.chunks_exact(16);
        for c in &mut chunks {
            let (x, y) = c.split_at(8);
            a = (a.rotate_left(26) ^ u64::from_le_bytes(x.try_into().unwrap_or_default()))
                .wrapping_mul(K);
            b = (b.rotate_left(26) ^ u64::from_le_bytes(y.try_into().unwrap_or_default()))
                .wrapping_mul(K);
        }
        self.0 = a ^ b.rotate_left(32);
        let mut rest = chunks.remainder();
        if rest.len() >= 8 {
            let (x, y) = rest.split_at(8);
            self.add(u64::from_le_bytes(x.try_into().unwrap_or_default()));
            rest = y;
        }
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // hashbrown takes its control bits from the top: fold the well-mixed high bits down.
        self.0.rotate_left(20)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_differ_anywhere_hash_apart() {
        let hash = |b: &[u8]| {
            let mut h = FastHasher::default();
            h.write(b);
            h.finish()
        };
        let id = b"0f6d1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f\x00abc";
        let base = hash(id);
        for i in 0..id.len() {
            let mut other = id.to_vec();
            other[i] ^= 1;
            assert_ne!(hash(&other), base, "byte {i}");
        }
        assert_ne!(hash(b"ab"), hash(b"ab\0"), "length counts");
        let mut m: FastMap<Box<[u8]>, u32> = FastMap::default();
        m.insert(id.to_vec().into_boxed_slice(), 7);
        assert_eq!(m.get(&id[..]), Some(&7));
    }
}
