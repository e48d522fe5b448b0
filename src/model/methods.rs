//! Which request methods a route mirrors and compares ([`MethodSet`]): all by default, as Istio
//! mirrors every method; narrowed by `--mirror-methods`/`--compare-methods` or the
//! VirtualService annotations `shadowmesh.io/mirror-methods`/`shadowmesh.io/compare-methods`
//! (a candidate that shares a database with the primary writes twice when POST, PUT, PATCH or
//! DELETE are mirrored).

use std::fmt;

/// A set of methods: all, or the ones listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum MethodSet {
    /// Every method (the default).
    #[default]
    All,
    /// Only these (upper-case).
    Only(Vec<http::Method>),
}

impl MethodSet {
    /// Does the set hold `method`?
    pub fn contains(&self, method: &http::Method) -> bool {
        match self {
            Self::All => true,
            Self::Only(list) => list.contains(method),
        }
    }
}

impl std::str::FromStr for MethodSet {
    type Err = String;

    /// `all` (or `*`), or a comma-separated list such as `GET,HEAD,OPTIONS`; `none` is empty.
    fn from_str(s: &str) -> Result<Self, String> {
        let text = s.trim();
        if text.eq_ignore_ascii_case("all") || text == "*" {
            return Ok(Self::All);
        }
        if text.eq_ignore_ascii_case("none") {
            return Ok(Self::Only(Vec::new()));
        }
        let mut methods = Vec::new();
        for item in text.split(',').map(str::trim).filter(|m| !m.is_empty()) {
            let method = http::Method::from_bytes(item.to_ascii_uppercase().as_bytes())
                .map_err(|_| format!("{item:?} is not an HTTP method"))?;
            if !methods.contains(&method) {
                methods.push(method);
            }
        }
        if methods.is_empty() {
            return Err(format!(
                "{s:?} names no method: write e.g. GET,HEAD, or all, or none"
            ));
        }
        Ok(Self::Only(methods))
    }
}

impl fmt::Display for MethodSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::Only(list) if list.is_empty() => f.write_str("none"),
            Self::Only(list) => {
                let names: Vec<&str> = list.iter().map(http::Method::as_str).collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_case_insensitively_and_all_means_all() {
        let safe: MethodSet = "get, head,OPTIONS".parse().unwrap();
        assert!(safe.contains(&http::Method::GET));
        assert!(safe.contains(&http::Method::OPTIONS));
        assert!(!safe.contains(&http::Method::POST));
        assert_eq!(safe.to_string(), "GET,HEAD,OPTIONS");
        assert_eq!("all".parse::<MethodSet>(), Ok(MethodSet::All));
        assert!(
            !"none"
                .parse::<MethodSet>()
                .unwrap()
                .contains(&http::Method::GET)
        );
    }

    #[test]
    fn nonsense_is_an_error_that_says_what_to_write() {
        assert!(
            "GE T"
                .parse::<MethodSet>()
                .unwrap_err()
                .contains("not an HTTP method")
        );
        assert!(
            ",".parse::<MethodSet>()
                .unwrap_err()
                .contains("e.g. GET,HEAD")
        );
    }
}
