//! What to say when a request names no known service: how to name one (when the client sent
//! the proxy's own address), or the closest known names ("did you mean"). Only on the 404
//! path, and bounded: at most [`SCANNED`] names are compared, so a flood of unknown hosts costs
//! little.

use std::net::IpAddr;

/// Names compared at most for one suggestion.
const SCANNED: usize = 500;

/// The hint appended to "no service ... is named HOST".
pub(super) fn hint<'a>(host: &str, known: impl Iterator<Item = &'a String>) -> String {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() || bare == "localhost" {
        return ": the request named an address, not a service. Name the service in the Host \\
                header (curl -H 'Host: SERVICE' ...), use the proxy as an HTTP proxy (curl -x \\
                http://PROXY http://SERVICE/...), or bind a port to a service \\
                (--listen ADDR=SERVICE)"
            .to_string();
    }
    let mut names: Vec<&str> = known.take(SCANNED).map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    let mut close: Vec<(usize, &str)> = names
        .iter()
        .map(|n| (distance(host, n), *n))
        .filter(|(d, n)| *d <= (n.len() / 3).max(2) || n.starts_with(host) || host.starts_with(n))
        .collect();
    close.sort();
    match close.as_slice() {
        [] if names.is_empty() => "; no service is configured".to_string(),
        [] => {
            let shown: Vec<&str> = names.iter().take(5).copied().collect();
            let more = names.len().saturating_sub(shown.len());
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            format!("; known: {}{more}", shown.join(", "))
        }
        close => {
            let shown: Vec<&str> = close.iter().take(3).map(|(_, n)| *n).collect();
            format!("; did you mean {}?", shown.join(" or "))
        }
    }
}

/// Levenshtein distance (bytes), for short host names.
fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_typo_gets_the_closest_names() {
        let known = names(&[
            "calcbackendsvc",
            "greeter-service",
            "calcbackendsvc.challengeistio",
        ]);
        let h = hint("calcbackend", known.iter());
        assert!(h.starts_with("; did you mean calcbackendsvc"), "{h}");
        assert!(!h.contains("greeter"), "{h}");
    }

    #[test]
    fn an_address_gets_how_to_name_a_service() {
        for host in ["127.0.0.1", "[::1]", "localhost"] {
            let h = hint(host, names(&["calcbackendsvc"]).iter());
            assert!(
                h.contains("--listen ADDR=SERVICE") && h.contains("curl -x"),
                "{h}"
            );
        }
    }

    #[test]
    fn nothing_close_lists_what_is_known() {
        let known = names(&["a1", "b2", "c3", "d4", "e5", "f6", "g7"]);
        assert_eq!(
            hint("zzzzzzzz", known.iter()),
            "; known: a1, b2, c3, d4, e5 and 2 more"
        );
        assert_eq!(hint("x", names(&[]).iter()), "; no service is configured");
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(distance("calcbackend", "calcbackendsvc"), 3);
        assert_eq!(distance("greeter", "greter"), 1);
        assert_eq!(distance("", "abc"), 3);
    }
}
