//! Durations as Istio writes them: `10s`, `0.5s`, `100ms`, `1m30s`, `1h`.
//! Imports nothing of the crate.

use std::time::Duration;

/// The longest duration protobuf's `Duration` holds (10,000 years), the limit Istio's config
/// has.
pub const MAX_SECONDS: f64 = 315_576_000_000.0;

/// Parses a Go/protobuf-style duration. Returns a message on error; never panics, whatever the
/// size of the number.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let text = s.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{s:?} has no unit: write e.g. 10s or 500ms"))?;
        if num_len == 0 {
            return Err(format!("{s:?} is not a duration: write e.g. 10s or 500ms"));
        }
        let value: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("{s:?} is not a duration"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            unit => {
                return Err(format!(
                    "{s:?} has unknown unit {unit:?}: use ms, s, m or h"
                ));
            }
        };
        total += value * scale;
        if !total.is_finite() || total > MAX_SECONDS {
            return Err(format!(
                "{s:?} is too long: at most {MAX_SECONDS}s (protobuf's limit)"
            ));
        }
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|e| format!("{s:?} is not a duration: {e}"))
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
