//! Header matches (`headers` and `withoutHeaders`): a lower-case header name, or one of the
//! pseudo-headers `:method`, `:authority`, `:scheme`, `:path`, and a [`StringMatcher`] over its
//! value. Several values of one header are matched joined by `,`, as Envoy does; `regex: "*"` is
//! Istio's "present".
//!
//! Owns the checks on a header condition (lower-case, valid name, value match). Imports only
//! [`crate::config::wire`].

use std::borrow::Cow;

use http::HeaderMap;
use http::header::HeaderName;

use super::request::RequestHead;
use super::string::{StringMatchError, StringMatcher};
use crate::config::wire::StringMatch;

/// One compiled header match.
#[derive(Debug, Clone)]
pub struct HeaderMatcher {
    /// Header name (lower-case), or a pseudo-header.
    pub name: HeaderKey,
    /// What the value must satisfy.
    pub value: StringMatcher,
    /// `withoutHeaders`: the match holds when the header does NOT match.
    pub invert: bool,
}

/// What a header match looks at: a header, or one of the pseudo-headers Envoy's header
/// matchers see (Istio passes `headers` keys to Envoy as they are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderKey {
    /// A request header.
    Header(HeaderName),
    /// `:method`.
    Method,
    /// `:authority` (the raw Host, port included).
    Authority,
    /// `:scheme` (`http`).
    Scheme,
    /// `:path`: the path **and** the query, as Envoy's `:path` is.
    Path,
}

impl HeaderKey {
    /// The name as written in config.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Header(h) => h.as_str(),
            Self::Method => ":method",
            Self::Authority => ":authority",
            Self::Scheme => ":scheme",
            Self::Path => ":path",
        }
    }

    /// The value in `req`; `None` when the header is absent or not UTF-8.
    fn value<'a>(&self, req: &RequestHead<'a>) -> Option<Cow<'a, str>> {
        Some(Cow::Borrowed(match self {
            Self::Header(h) => return header_value(req.headers, h),
            Self::Method => req.method,
            Self::Authority => req.authority,
            Self::Scheme => req.scheme,
            Self::Path => match req.query {
                Some(q) => return Some(Cow::Owned(format!("{}?{q}", req.path))),
                None => req.path,
            },
        }))
    }
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
    /// A pseudo-header Envoy has no value for in a request.
    #[error("{0:?} is not a request pseudo-header: use :method, :authority, :scheme or :path")]
    UnknownPseudo(String),
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
        let name = match c.name {
            ":method" => HeaderKey::Method,
            ":authority" => HeaderKey::Authority,
            ":scheme" => HeaderKey::Scheme,
            ":path" => HeaderKey::Path,
            pseudo if pseudo.starts_with(':') => {
                return Err(InvalidHeaderMatch::UnknownPseudo(pseudo.to_string()));
            }
            name => HeaderKey::Header(
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| InvalidHeaderMatch::InvalidName(name.to_string()))?,
            ),
        };
        // Istio: `regex: "*"` is not RE2 but "present" (Envoy's `present_match`).
        let value = if c.value.regex.as_deref() == Some("*") {
            StringMatcher::Present
        } else {
            StringMatcher::try_from(c.value)?
        };
        Ok(Self {
            name,
            value,
            invert: c.invert,
        })
    }
}

impl HeaderMatcher {
    /// Does the request satisfy this match? As Istio configures Envoy, an inverted value match
    /// (`withoutHeaders`, not "present") treats a missing header as empty
    /// (`treat_missing_header_as_empty`): `withoutHeaders: {x: {regex: ".*"}}` needs no `x`
    /// to fail.
    pub fn matches_request(&self, req: &RequestHead<'_>) -> bool {
        let value = self.name.value(req);
        let found = match value {
            Some(value) => self.value.matches(&value),
            None if self.invert && !matches!(self.value, StringMatcher::Present) => {
                self.value.matches("")
            }
            None => false,
        };
        found != self.invert
    }

    /// Like [`matches_request`](Self::matches_request) for a request with only these headers
    /// (a `GET /` to `localhost`).
    pub fn matches(&self, headers: &HeaderMap) -> bool {
        self.matches_request(&RequestHead {
            method: "GET",
            scheme: "http",
            authority: "localhost",
            host: "localhost",
            port: None,
            path: "/",
            query: None,
            headers,
        })
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

    fn re(r: &str) -> StringMatch {
        regex(r)
    }

    #[test]
    fn without_headers_treats_a_missing_header_as_empty_and_star_as_present() {
        // Istio's "without headers regex match any string" and "... convert to present_match".
        for (value, sent, want) in [
            (re(".*"), Some("jason"), false),
            (re(".*"), Some(""), false),
            (re(".*"), None, false),
            (re("*"), Some("jason"), false),
            (re("*"), Some(""), false),
            (re("*"), None, true),
        ] {
            let m = matcher("end-user", value.clone(), true);
            let h = match sent {
                Some(v) => headers(&[("end-user", v)]),
                None => headers(&[]),
            };
            assert_eq!(m.matches(&h), want, "{value:?} {sent:?}");
        }
        assert!(matcher("x", re("*"), false).matches(&headers(&[("x", "")])));
    }

    #[test]
    fn pseudo_headers_match_the_request_line() {
        let h = headers(&[]);
        let req = RequestHead {
            method: "POST",
            scheme: "http",
            authority: "svc:8080",
            host: "svc",
            port: Some(8080),
            path: "/a",
            query: Some("b=1"),
            headers: &h,
        };
        let exact = |v: &str| StringMatch {
            exact: Some(v.into()),
            ..Default::default()
        };
        for (name, value, want) in [
            (":method", exact("POST"), true),
            (":method", exact("GET"), false),
            (":authority", exact("svc:8080"), true),
            (":scheme", exact("http"), true),
            (":path", exact("/a?b=1"), true),
            (":path", exact("/a"), false),
        ] {
            assert_eq!(
                matcher(name, value, false).matches_request(&req),
                want,
                "{name}"
            );
        }
        let err = HeaderMatcher::try_from(HeaderCondition {
            name: ":status",
            value: &StringMatch::default(),
            invert: false,
        })
        .unwrap_err();
        assert_eq!(err, InvalidHeaderMatch::UnknownPseudo(":status".into()));
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
