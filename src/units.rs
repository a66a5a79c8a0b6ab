//! Values as people write them on command lines and in settings files: durations
//! (`250ms`, `1.5s`, `2m`), replay speeds, sampling periods, confidence levels. Each parser
//! says what it expected.

use std::time::Duration;

/// Parse `1.5s`, `250ms`, `10us`, `2m`, `1h` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("expected a duration such as 30s, 250ms or 2m, got `{s}`"))?;
    let scale = match unit.trim() {
        "" | "s" => 1.0,
        "ms" => 1e-3,
        "us" | "µs" => 1e-6,
        "ns" => 1e-9,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{s}` (use ns, us, ms, s, m or h)"
            ))
        }
    };
    let secs = value * scale;
    if !secs.is_finite() || !(0.0..=1e12).contains(&secs) {
        return Err(format!("duration `{s}` is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A duration that must be more than zero (a timeout of 0 would fail every request).
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!("expected a duration above zero, got `{s}`"));
    }
    Ok(d)
}

/// `--speed`: between 1/1000 (a second of trace per 17 minutes) and a million (beyond
/// which every instant of any real trace collapses onto its first microsecond).
pub fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (1e-3..=1e6).contains(&v) => Ok(v),
        _ => Err(format!(
            "expected a number from 0.001 to 1000000 such as 2 or 0.5, got `{s}`"
        )),
    }
}

/// A monitor sampling period: a duration within the sampler's bounds, 1ms to 1s.
pub fn parse_sample_period(s: &str) -> Result<Duration, String> {
    let period = parse_duration(s)?;
    if (Duration::from_millis(1)..=Duration::from_secs(1)).contains(&period) {
        Ok(period)
    } else {
        Err(format!("must be between 1ms and 1s, got {period:?}"))
    }
}

/// A confidence level, strictly between 0 and 1.
pub fn parse_confidence(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(c) if c > 0.0 && c < 1.0 => Ok(c),
        _ => Err(format!(
            "expected a level between 0 and 1 (e.g. 0.95), found `{s}`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }

    #[test]
    fn speeds_periods_and_levels_are_bounded() {
        assert_eq!(parse_speed("2").unwrap(), 2.0);
        assert!(parse_speed("0").is_err());
        assert!(parse_positive_duration("0s").is_err());
        assert_eq!(
            parse_sample_period("5ms").unwrap(),
            Duration::from_millis(5)
        );
        assert!(parse_sample_period("2s").is_err());
        assert_eq!(parse_confidence("0.9").unwrap(), 0.9);
        assert!(parse_confidence("1").is_err());
    }
}
