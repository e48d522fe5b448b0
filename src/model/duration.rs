//! Durations as Istio writes them: `10s`, `0.5s`, `100ms`, `1m30s`, `1h`.
//! Imports nothing of the crate.

use std::time::Duration;

/// The longest duration protobuf's `Duration` holds (10,000 years), the limit Istio's config
/// has.
pub const MAX_SECONDS: f64 = 315_576_000_000.0;

/// Parses a Go/protobuf-style duration. Returns a message on error; never panics, whatever the
/// size of the number. The arithmetic is exact (integer nanoseconds), so `1.001s` is 1001 ms.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let max_nanos = MAX_SECONDS as u128 * 1_000_000_000;
    let too_long = || format!("{s:?} is too long: at most {MAX_SECONDS}s (protobuf's limit)");
    let mut total: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{s:?} has no unit: write e.g. 10s or 500ms"))?;
        if num_len == 0 {
            return Err(format!("{s:?} is not a duration: write e.g. 10s or 500ms"));
        }
        let number = &rest[..num_len];
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale: u128 = match &rest[..unit_len] {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            unit => {
                return Err(format!(
                    "{s:?} has unknown unit {unit:?}: use ms, s, m or h"
                ));
            }
        };
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        if (int.is_empty() && frac.is_empty()) || frac.contains('.') {
            return Err(format!("{s:?} is not a duration"));
        }
        let int = int.trim_start_matches('0');
        if int.len() > 20 {
            return Err(too_long());
        }
        let int: u128 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| too_long())?
        };
        // Digits past the 18th are below a nanosecond even in hours: dropped, as Go does.
        let frac = &frac[..frac.len().min(18)];
        let frac_value: u128 = if frac.is_empty() {
            0
        } else {
            frac.parse()
                .map_err(|_| format!("{s:?} is not a duration"))?
        };
        let frac_nanos = frac_value * scale / 10u128.pow(frac.len() as u32);
        total = total
            .saturating_add(int.saturating_mul(scale))
            .saturating_add(frac_nanos);
        if total > max_nanos {
            return Err(too_long());
        }
        rest = &rest[unit_len..];
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| too_long())?;
    Ok(Duration::new(secs, (total % 1_000_000_000) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_istio_forms() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("0.5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("100ms"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("3m"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1.001s"), Ok(Duration::from_millis(1001)));
        assert_eq!(parse_duration("0.000001s"), Ok(Duration::from_micros(1)));
        assert_eq!(parse_duration("1.5ms"), Ok(Duration::from_micros(1500)));
    }

    #[test]
    fn refuses_nonsense() {
        for bad in [
            "",
            "10",
            "s",
            "10x",
            "ten seconds",
            "1..2s",
            "1e400s",
            "-1s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn huge_values_are_errors_not_panics() {
        for huge in [
            "18446744073709551616s",
            "99999999999999999999h",
            "315576000001s",
            &format!("{}s", "9".repeat(400)),
        ] {
            let err = parse_duration(huge).unwrap_err();
            assert!(err.contains("too long"), "{huge}: {err}");
        }
        assert_eq!(
            parse_duration("315576000000s"),
            Ok(Duration::from_secs(315_576_000_000))
        );
    }
}
