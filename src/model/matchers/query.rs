//! Query parameter matches (`queryParams`): `exact`, `prefix` and `regex` (and `{}` for
//! "present"), as Istio translates them to Envoy; the raw value after `=` is compared, without
//! percent-decoding, as Envoy does.
//!
//! Owns the checks on a query condition (its value match). Imports only
//! [`crate::config::wire`].

use super::string::{StringMatchError, StringMatcher};
use crate::config::wire::StringMatch;

/// One compiled query parameter match.
#[derive(Debug, Clone)]
pub struct QueryMatcher {
    /// Parameter name.
    pub name: String,
    /// What its value must satisfy.
    pub value: StringMatcher,
}

/// Why a `queryParams` entry could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidQueryMatch {
    /// The value's `StringMatch` is wrong.
    #[error(transparent)]
    Value(#[from] StringMatchError),
}

/// Compiles one `queryParams` entry: `(name, match)` as written.
impl TryFrom<(&str, &StringMatch)> for QueryMatcher {
    type Error = InvalidQueryMatch;

    fn try_from((name, value): (&str, &StringMatch)) -> Result<Self, Self::Error> {
        Ok(Self {
            name: name.to_string(),
            value: StringMatcher::try_from(value)?,
        })
    }
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
        let exact = QueryMatcher::try_from((
            "debug",
            &StringMatch {
                exact: Some("1".into()),
                ..Default::default()
            },
        ))
        .unwrap();
        assert!(exact.matches(Some("x=2&debug=1")));
        assert!(!exact.matches(Some("debug=10")));
        assert!(!exact.matches(None));
        let regex = QueryMatcher::try_from((
            "number",
            &StringMatch {
                regex: Some(r"\d{3,}".into()),
                ..Default::default()
            },
        ))
        .unwrap();
        assert!(regex.matches(Some("number=1234")));
        assert!(!regex.matches(Some("number=12")));
    }

    #[test]
    fn prefixes_match_and_bad_values_are_refused() {
        let prefix = StringMatch {
            prefix: Some("1".into()),
            ..Default::default()
        };
        let m = QueryMatcher::try_from(("debug", &prefix)).unwrap();
        assert!(m.matches(Some("debug=12")) && !m.matches(Some("debug=21")));
        let two_kinds = StringMatch {
            exact: Some("1".into()),
            regex: Some("1".into()),
            ..Default::default()
        };
        assert_eq!(
            QueryMatcher::try_from(("debug", &two_kinds)).unwrap_err(),
            InvalidQueryMatch::Value(StringMatchError::SeveralKinds)
        );
    }
}
