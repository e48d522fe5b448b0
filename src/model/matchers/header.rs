//! Header matches (`headers` and `withoutHeaders`): a lower-case header name and a
//! [`StringMatcher`] over its value. Several values of one header are matched joined by `,`,
//! as Envoy does.
//!
//! Owns the checks on a header condition (lower-case, valid name, value match). Imports only
//! [`crate::config::wire`].

use std::borrow::Cow;

use http::HeaderMap;
use http::header::HeaderName;

use super::string::{StringMatchError, StringMatcher};
use crate::config::wire::StringMatch;

/// One compiled header match.
#[derive(Debug, Clone)]
pub struct HeaderMatcher {
    /// Header name (lower-case).
    pub name: HeaderName,
    /// What the value must satisfy.
    pub value: StringMatcher,
    /// `withoutHeaders`: the match holds when the header does NOT match.
    pub invert: bool,
}

/// One entry of `headers` or `withoutHeaders`, as written.
#[derive(Debug, Clone, Copy)]
pub struct HeaderCondition<'a> {
    /// The map key: the header name.
    pub name: &'a str,
    /// What its value must satisfy.
    pub value: &'a StringMatch,
    /// True for an entry of `withoutHeaders`.
    pub invert: bool,
}

/// Why a header condition could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidHeaderMatch {
    /// Istio refuses upper-case header names; holds the name lower-cased.
    #[error("header names must be lower-case: write {0:?}")]
    UpperCaseName(String),
    /// Not a valid HTTP header name.
    #[error("{0:?} is not a valid header name")]
    InvalidName(String),
    /// The value's `StringMatch` is wrong.
    #[error(transparent)]
    Value(#[from] StringMatchError),
}

impl TryFrom<HeaderCondition<'_>> for HeaderMatcher {
    type Error = InvalidHeaderMatch;

    fn try_from(c: HeaderCondition<'_>) -> Result<Self, Self::Error> {
        if c.name.chars().any(|ch| ch.is_ascii_uppercase()) {
            return Err(InvalidHeaderMatch::UpperCaseName(
                c.name.to_ascii_lowercase(),
            ));
        }
        let name = HeaderName::from_bytes(c.name.as_bytes())
            .map_err(|_| InvalidHeaderMatch::InvalidName(c.name.to_string()))?;
        Ok(Self {
            name,
            value: StringMatcher::try_from(c.value)?,
            invert: c.invert,
        })
    }
}

impl HeaderMatcher {
    /// Does the request's header map satisfy this match?
    pub fn matches(&self, headers: &HeaderMap) -> bool {
        let found = match header_value(headers, &self.name) {
            Some(value) => self.value.matches(&value),
            None => false,
        };
        found != self.invert
    }
}

/// The header's value as a string: several values joined by `,`; `None` when absent or not
/// valid UTF-8 (such a value can match no string).
pub fn header_value<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<Cow<'a, str>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?.to_str().ok()?;
    match values.next() {
        None => Some(Cow::Borrowed(first)),
        Some(second) => {
            let mut joined = format!("{first},{}", second.to_str().ok()?);
            for v in values {
                joined.push(',');
                joined.push_str(v.to_str().ok()?);
            }
            Some(Cow::Owned(joined))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(name: &str, value: StringMatch, invert: bool) -> HeaderMatcher {
        HeaderMatcher::try_from(HeaderCondition {
            name,
            value: &value,
            invert,
        })
        .unwrap()
    }

    fn regex(re: &str) -> StringMatch {
        StringMatch {
            regex: Some(re.into()),
            ..Default::default()
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn header_names_are_case_insensitive_on_the_wire() {
        // HTTP/1.1 clients send `User-Agent`; the map stores names lower-case.
        let m = matcher("user-agent", regex(".*Mobile.*"), false);
        assert!(m.matches(&headers(&[("User-Agent", "Foo Mobile Bar")])));
        assert!(!m.matches(&headers(&[("User-Agent", "Foo Desktop")])));
        assert!(!m.matches(&headers(&[])));
    }

    #[test]
    fn empty_match_means_present_and_without_means_absent() {
        let present = matcher("x-canary", StringMatch::default(), false);
        assert!(present.matches(&headers(&[("x-canary", "")])));
        assert!(!present.matches(&headers(&[])));
        let absent = matcher("x-canary", StringMatch::default(), true);
        assert!(absent.matches(&headers(&[])));
        assert!(!absent.matches(&headers(&[("x-canary", "1")])));
    }

    #[test]
    fn without_headers_inverts_a_value_match() {
        let m = matcher(
            "end-user",
            StringMatch {
                exact: Some("jason".into()),
                ..Default::default()
            },
            true,
        );
        assert!(!m.matches(&headers(&[("end-user", "jason")])));
        assert!(m.matches(&headers(&[("end-user", "bob")])));
        assert!(m.matches(&headers(&[])));
    }

    #[test]
    fn several_values_are_joined_with_commas() {
        let m = matcher(
            "x-tags",
            StringMatch {
                exact: Some("a,b".into()),
                ..Default::default()
            },
            false,
        );
        assert!(m.matches(&headers(&[("x-tags", "a"), ("x-tags", "b")])));
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let any = StringMatch::default();
        let refuse = |name, value: &StringMatch| {
            HeaderMatcher::try_from(HeaderCondition {
                name,
                value,
                invert: false,
            })
            .unwrap_err()
        };
        assert_eq!(
            refuse("User-Agent", &any),
            InvalidHeaderMatch::UpperCaseName("user-agent".into())
        );
        assert_eq!(
            refuse("bad header", &any),
            InvalidHeaderMatch::InvalidName("bad header".into())
        );
        let empty_prefix = StringMatch {
            prefix: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(
            refuse("x-a", &empty_prefix),
            InvalidHeaderMatch::Value(StringMatchError::EmptyPrefix)
        );
        assert_eq!(
            refuse("User-Agent", &any).to_string(),
            "header names must be lower-case: write \"user-agent\""
        );
    }
}
