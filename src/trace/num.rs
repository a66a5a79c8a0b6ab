//! Exact number parsing for trace times and loosely typed parameter values.
//!
//! Times are parsed from their decimal text straight into integer nanoseconds, so that a
//! trace written by `gale trace convert` reads back bit-for-bit (a detour through `f64`
//! would change `0.3` into `0.299999999`).

/// Latest instant a trace may name, in seconds (about 31.7 years). Keeping every instant
/// below it means sums of nanoseconds never overflow a `u64`.
pub const MAX_SECONDS: u64 = 1_000_000_000;

/// [`MAX_SECONDS`] in nanoseconds.
pub const MAX_NS: u64 = MAX_SECONDS * 1_000_000_000;

/// Parse a non-negative decimal number of units whose `frac_digits`-th fractional digit is a
/// nanosecond (9 for seconds, 6 for milliseconds) into nanoseconds.
///
/// Plain decimals (`12`, `1.5`, `.25`, `+3`) are exact, rounded half-up past the nanosecond;
/// other spellings `f64` understands (`1e3`) go through `f64`. `None` for anything negative,
/// non-finite, unparsable or later than [`MAX_NS`].
pub fn decimal_to_ns(text: &[u8], frac_digits: u32) -> Option<u64> {
    let s = text.trim_ascii();
    let s = s.strip_prefix(b"+").unwrap_or(s);
    let (int, frac) = match s.iter().position(|&b| b == b'.') {
        Some(i) => {
            let (a, b) = s.split_at(i);
            (a, b.get(1..).unwrap_or_default())
        }
        None => (s, &[][..]),
    };
    let plain = !(int.is_empty() && frac.is_empty())
        && int.iter().all(u8::is_ascii_digit)
        && frac.iter().all(u8::is_ascii_digit);
    if !plain {
        return float_to_ns(s, frac_digits);
    }
    let mut whole: u64 = 0;
    for &d in int {
        whole = whole.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    let mut part: u64 = 0;
    for i in 0..frac_digits as usize {
        let d = frac.get(i).map_or(0, |&d| u64::from(d - b'0'));
        part = part * 10 + d;
    }
    if frac.get(frac_digits as usize).is_some_and(|&d| d >= b'5') {
        part += 1;
    }
    let total = whole
        .checked_mul(10u64.pow(frac_digits))?
        .checked_add(part)?;
    (total <= MAX_NS).then_some(total)
}

fn float_to_ns(s: &[u8], frac_digits: u32) -> Option<u64> {
    let v: f64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    f64_to_ns(v * 10f64.powi(frac_digits as i32))
}

/// Round a non-negative, finite number of nanoseconds to an integer no later than [`MAX_NS`].
pub fn f64_to_ns(ns: f64) -> Option<u64> {
    if ns.is_finite() && ns >= 0.0 && ns <= MAX_NS as f64 {
        Some(ns.round() as u64)
    } else {
        None
    }
}

/// Seconds (as written in a trace) to nanoseconds, with the same limits as [`decimal_to_ns`].
pub fn secs_to_ns(secs: f64) -> Option<u64> {
    f64_to_ns(secs * 1e9)
}

/// Format nanoseconds as decimal seconds with no trailing zeros (`1.5`, `2`, `0.000000001`):
/// the exact inverse of [`decimal_to_ns`] with 9 fractional digits.
pub fn format_secs(ns: u64) -> String {
    let whole = ns / 1_000_000_000;
    let frac = ns % 1_000_000_000;
    if frac == 0 {
        return whole.to_string();
    }
    let mut s = format!("{whole}.{frac:09}");
    while s.ends_with('0') {
        s.pop();
    }
    s
}

/// A FaaSLoad parameter value: a JSON number when the text reads as a finite number,
/// otherwise the text as a string (FaaSLoad passes `x:3` as the number 3).
pub fn number_or_string(text: &str) -> serde_json::Value {
    if let Ok(i) = text.parse::<i64>() {
        return i.into();
    }
    if let Ok(f) = text.parse::<f64>() {
        if let Some(n) = serde_json::Number::from_f64(f) {
            return serde_json::Value::Number(n);
        }
    }
    serde_json::Value::String(text.to_string())
}

/// A CSV `param.NAME` cell: its JSON value when it parses as JSON, otherwise the text.
pub fn json_or_string(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal_to_ns(b"0.3", 9), Some(300_000_000));
        assert_eq!(decimal_to_ns(b" 12 ", 9), Some(12_000_000_000));
        assert_eq!(decimal_to_ns(b".25", 9), Some(250_000_000));
        assert_eq!(decimal_to_ns(b"1.0000000015", 9), Some(1_000_000_002));
        assert_eq!(decimal_to_ns(b"1.5", 6), Some(1_500_000));
        assert_eq!(decimal_to_ns(b"1e3", 9), Some(1_000_000_000_000));
        assert_eq!(decimal_to_ns(b"-1", 9), None);
        assert_eq!(decimal_to_ns(b"", 9), None);
        assert_eq!(decimal_to_ns(b".", 9), None);
        assert_eq!(decimal_to_ns(b"nan", 9), None);
        assert_eq!(decimal_to_ns(b"inf", 9), None);
        assert_eq!(decimal_to_ns(b"99999999999999999999999", 9), None);
        assert_eq!(decimal_to_ns(b"1000000001", 9), None);
    }

    #[test]
    fn format_inverts_parse() {
        for ns in [
            0,
            1,
            999_999_999,
            1_000_000_000,
            1_500_000_000,
            123_456_789_012,
        ] {
            let s = format_secs(ns);
            assert_eq!(decimal_to_ns(s.as_bytes(), 9), Some(ns), "{s}");
        }
        assert_eq!(format_secs(1_500_000_000), "1.5");
    }

    #[test]
    fn loose_values() {
        assert_eq!(number_or_string("3"), serde_json::json!(3));
        assert_eq!(number_or_string("2.5"), serde_json::json!(2.5));
        assert_eq!(number_or_string("nan"), serde_json::json!("nan"));
        assert_eq!(number_or_string("a.jpg"), serde_json::json!("a.jpg"));
        assert_eq!(json_or_string("[1,2]"), serde_json::json!([1, 2]));
        assert_eq!(json_or_string("hello"), serde_json::json!("hello"));
    }
}
