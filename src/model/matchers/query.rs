//! Query parameter matches (`queryParams`): Istio allows `exact` and `regex` (and `{}` for
//! "present"); the raw value after `=` is compared, without percent-decoding, as Envoy does.

use super::string::StringMatcher;

/// One compiled query parameter match.
#[derive(Debug, Clone)]
pub struct QueryMatcher {
    /// Parameter name.
    pub name: String,
    /// What its value must satisfy.
    pub value: StringMatcher,
}

impl QueryMatcher {
    /// Does the query string (without `?`) satisfy this match? The first occurrence counts.
    pub fn matches(&self, query: Option<&str>) -> bool {
        match query_value(query.unwrap_or(""), &self.name) {
            Some(v) => self.value.matches(v),
            None => false,
        }
    }
}

/// The raw value of the first `name` parameter in `query` (`a` alone gives `""`).
pub fn query_value<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::wire::StringMatch;

    #[test]
    fn finds_raw_values() {
        assert_eq!(query_value("number=42&x=1", "number"), Some("42"));
        assert_eq!(query_value("a&b=2", "a"), Some(""));
        assert_eq!(query_value("a=1&a=2", "a"), Some("1"));
        assert_eq!(query_value("numbers=1", "number"), None);
        assert_eq!(query_value("", "a"), None);
    }

    #[test]
    fn exact_and_regex() {
        let exact = QueryMatcher {
            name: "debug".into(),
            value: StringMatcher::compile(
                &StringMatch {
                    exact: Some("1".into()),
                    ..Default::default()
                },
                false,
            )
            .unwrap(),
        };
        assert!(exact.matches(Some("x=2&debug=1")));
        assert!(!exact.matches(Some("debug=10")));
        assert!(!exact.matches(None));
        let regex = QueryMatcher {
            name: "number".into(),
            value: StringMatcher::compile(
                &StringMatch {
                    regex: Some(r"\d{3,}".into()),
                    ..Default::default()
                },
                false,
            )
            .unwrap(),
        };
        assert!(regex.matches(Some("number=1234")));
        assert!(!regex.matches(Some("number=12")));
    }
}
