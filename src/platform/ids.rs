//! Activation and transaction ids: 32 lowercase hex characters, as OpenWhisk's.
//!
//! Ids come from a counter pushed through a keyed bijective mixer: unique within the process
//! without a lock or a random-number generator on the hot path, and unpredictable enough
//! that ids from two runs do not collide in a merged result directory.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// A 32-character lowercase hex id.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Id([u8; 32]);

impl Id {
    /// A fresh id, never returned before by this process.
    pub fn generate() -> Id {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        static KEYS: OnceLock<(u64, u64)> = OnceLock::new();
        let (k1, k2) = *KEYS.get_or_init(|| (os_random(), os_random()));
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // mix() is a bijection, so distinct counters give distinct high halves.
        let hi = mix(n ^ k1);
        let lo = mix(n.wrapping_add(k2).rotate_left(29) ^ k1.rotate_left(7));
        let mut out = [0u8; 32];
        hex(hi, &mut out[..16]);
        hex(lo, &mut out[16..]);
        Id(out)
    }

    /// Parse 32 lowercase hex characters.
    pub fn parse(s: &str) -> Option<Id> {
        let bytes = s.as_bytes();
        if bytes.len() != 32 || !bytes.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return None;
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(bytes);
        Some(Id(out))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// 64 random bits from the OS-seeded keys of the standard library's hasher.
fn os_random() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(0x5eed);
    h.finish()
}

/// splitmix64's finaliser: a bijection on u64 with good avalanche.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn hex(v: u64, out: &mut [u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = DIGITS[((v >> (60 - 4 * i)) & 0xf) as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_hex_and_distinct() {
        let a = Id::generate();
        let b = Id::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 32);
        assert_eq!(Id::parse(a.as_str()), Some(a));
        assert_eq!(Id::parse("ABC"), None);
        assert_eq!(Id::parse(&"G".repeat(32)), None);
    }
}
