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
    // One pass over the digits; anything else (an exponent, a second point) goes to f64.
    let mut whole: u64 = 0;
    let mut part: u64 = 0;
    let mut taken = 0u32;
    let mut round_up = false;
    let mut point = false;
    let mut digits = 0usize;
    for &b in s {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                let d = u64::from(b - b'0');
                if !point {
                    whole = whole.checked_mul(10)?.checked_add(d)?;
                } else if taken < frac_digits {
                    part = part * 10 + d;
                    taken += 1;
                } else if taken == frac_digits {
                    round_up = d >= 5;
                    taken += 1;
                }
            }
            b'.' if !point => point = true,
            _ => return float_to_ns(s, frac_digits),
        }
    }
    if digits == 0 {
        return float_to_ns(s, frac_digits);
    }
    part *= 10u64.pow(frac_digits - taken.min(frac_digits));
    part += u64::from(round_up);
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
    let mut s = String::with_capacity(24);
    push_decimal(&mut s, ns, 9);
    s
}

/// Append `value / 10^digits` as exact decimal text, without trailing zeros (nor a point
/// when the fraction is zero). Importers write millions of these: no allocation, no
/// formatter.
pub fn push_decimal(out: &mut String, value: u64, digits: u32) {
    let scale = 10u64.pow(digits);
    let (whole, mut frac) = (value / scale, value % scale);
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut w = whole;
    loop {
        i -= 1;
        buf[i] = b'0' + (w % 10) as u8;
        w /= 10;
        if w == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
    if frac == 0 {
        return;
    }
    let mut len = digits as usize;
    while frac % 10 == 0 {
        frac /= 10;
        len -= 1;
    }
    let mut digits_buf = [b'0'; 20];
    for d in digits_buf[..len].iter_mut().rev() {
        *d = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    out.push('.');
    out.push_str(std::str::from_utf8(&digits_buf[..len]).unwrap_or_default());
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
    fn push_decimal_writes_exact_text_without_trailing_zeros() {
        let text = |v, d| {
            let mut s = String::from(">");
            push_decimal(&mut s, v, d);
            s
        };
        assert_eq!(text(0, 3), ">0");
        assert_eq!(text(31_000, 3), ">31");
        assert_eq!(text(31_250, 3), ">31.25");
        assert_eq!(text(5, 3), ">0.005");
        assert_eq!(text(1, 9), ">0.000000001");
        assert_eq!(text(u64::MAX, 9), ">18446744073.709551615");
        assert_eq!(text(u64::MAX, 0), ">18446744073709551615");
        assert_eq!(text(120, 0), ">120");
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
