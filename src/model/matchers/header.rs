//! Header matches (`headers` and `withoutHeaders`): a lower-case header name and a
//! [`StringMatcher`] over its value. Several values of one header are matched joined by `,`,
//! as Envoy does.

use std::borrow::Cow;

use http::HeaderMap;
use http::header::HeaderName;

use super::string::StringMatcher;

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
    use crate::config::wire::StringMatch;

    fn matcher(name: &str, m: StringMatch, invert: bool) -> HeaderMatcher {
        HeaderMatcher {
            name: HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value: StringMatcher::compile(&m, false).unwrap(),
            invert,
        }
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
}
