//! Parsers of cgroup interface files, for both versions; they never allocate (the monitor
//! runs them on every sample).

/// Parse a file holding one decimal integer (and a newline).
pub fn parse_single(text: &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    let mut digits = 0;
    for &b in text {
        match b {
            b'0'..=b'9' => {
                v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
                digits += 1;
            }
            b'\n' | b' ' if digits > 0 => break,
            _ => return None,
        }
    }
    (digits > 0).then_some(v)
}

/// The value of `key` in a `key value` per line file (cpu.stat, memory.stat). Keys move
/// between kernel versions, so they are looked up by name, never by position.
pub fn parse_keyed(text: &[u8], key: &str) -> Option<u64> {
    let key = key.as_bytes();
    text.split(|&b| b == b'\n').find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(b" ")?;
        parse_single(rest)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_values() {
        assert_eq!(parse_single(b"123456\n"), Some(123456));
        assert_eq!(parse_single(b"0\n"), Some(0));
        assert_eq!(parse_single(b"max\n"), None);
        assert_eq!(parse_single(b""), None);
        assert_eq!(parse_single(b"99999999999999999999999\n"), None);
    }
}
