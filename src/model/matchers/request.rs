//! One `HTTPMatchRequest` block, compiled: every condition in it must hold (AND), and the
//! [`RequestHead`] the conditions look at. A route's blocks are OR'ed by `route::find`, which
//! this module must not import.
//!
//! Owns compiling a block from its wire type: every condition is checked and every problem is
//! returned, each with the field it is at. Conditions about the source (`sourceLabels`,
//! `sourceNamespace`, `gateways`) are left to the compiler, which knows who the proxy is.
//! Imports only [`crate::config::wire`].

use std::fmt;

use http::HeaderMap;

use super::header::{HeaderCondition, HeaderMatcher, InvalidHeaderMatch};
use super::query::{InvalidQueryMatch, QueryMatcher};
use super::string::{StringMatchError, StringMatcher};
use crate::config::wire::{HttpMatchRequest, StringMatch};

/// What routing looks at in a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    /// Method, e.g. `GET`.
    pub method: &'a str,
    /// `http` (shadowmesh listens in cleartext).
    pub scheme: &'a str,
    /// Raw Host/`:authority`, port included when the client gave one.
    pub authority: &'a str,
    /// The service host (no port).
    pub host: &'a str,
    /// Port named by the request, if any.
    pub port: Option<u16>,
    /// Path, without the query.
    pub path: &'a str,
    /// Query string, without `?`.
    pub query: Option<&'a str>,
    /// Request headers.
    pub headers: &'a HeaderMap,
}

/// A compiled match block. Conditions about the source (`sourceLabels`, `sourceNamespace`,
/// `gateways`) do not vary per request and are settled when the table is compiled.
#[derive(Debug, Clone, Default)]
pub struct RequestMatch {
    /// `name`, shown in dumps.
    pub name: Option<String>,
    /// Path match.
    pub uri: Option<StringMatcher>,
    /// `ignoreUriCase`.
    pub ignore_uri_case: bool,
    /// Scheme match (`http` for cleartext requests).
    pub scheme: Option<StringMatcher>,
    /// Method match.
    pub method: Option<StringMatcher>,
    /// Authority match (the raw Host/`:authority`, port included).
    pub authority: Option<StringMatcher>,
    /// Header conditions, `withoutHeaders` included (inverted).
    pub headers: Vec<HeaderMatcher>,
    /// Query parameter conditions.
    pub query: Vec<QueryMatcher>,
    /// Port condition.
    pub port: Option<u16>,
}

/// What is wrong with one condition of a match block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidCondition {
    /// `uri`, `scheme`, `method` or `authority`.
    #[error(transparent)]
    String(#[from] StringMatchError),
    /// An entry of `headers` or `withoutHeaders`.
    #[error(transparent)]
    Header(#[from] InvalidHeaderMatch),
    /// An entry of `queryParams`.
    #[error(transparent)]
    Query(#[from] InvalidQueryMatch),
    /// `port` out of range.
    #[error("{0} is not a port number")]
    Port(u32),
}

/// One condition that could not be compiled, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionError {
    /// Field path inside the block: `uri`, `headers.x-user`, `queryParams.debug`, `port`...
    pub field: String,
    /// What is wrong.
    pub error: InvalidCondition,
}

/// Every problem of one match block, in field order (all are reported at once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRequestMatch(pub Vec<ConditionError>);

impl std::error::Error for InvalidRequestMatch {}

impl fmt::Display for InvalidRequestMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", e.field, e.error)?;
        }
        Ok(())
    }
}

/// Collects the errors of one block while its conditions are compiled.
#[derive(Default)]
struct Errors(Vec<ConditionError>);

impl Errors {
    fn check<T, E: Into<InvalidCondition>>(
        &mut self,
        field: impl Into<String>,
        r: Result<T, E>,
    ) -> Option<T> {
        r.map_err(|e| {
            self.0.push(ConditionError {
                field: field.into(),
                error: e.into(),
            })
        })
        .ok()
    }

    fn string(&mut self, field: &str, wire: Option<&StringMatch>) -> Option<StringMatcher> {
        wire.and_then(|w| self.check(field, StringMatcher::try_from(w)))
    }
}

impl TryFrom<&HttpMatchRequest> for RequestMatch {
    type Error = InvalidRequestMatch;

    fn try_from(m: &HttpMatchRequest) -> Result<Self, Self::Error> {
        let mut errors = Errors::default();
        let uri = m
            .uri
            .as_ref()
            .and_then(|w| errors.check("uri", StringMatcher::try_from_uri(w)));
        let scheme = errors.string("scheme", m.scheme.as_ref());
        let method = errors.string("method", m.method.as_ref());
        let authority = errors.string("authority", m.authority.as_ref());
        let mut headers = Vec::new();
        for (map, invert, field) in [
            (&m.headers, false, "headers"),
            (&m.without_headers, true, "withoutHeaders"),
        ] {
            for (name, value) in map {
                let condition = HeaderCondition {
                    name,
                    value,
                    invert,
                };
                let header = HeaderMatcher::try_from(condition);
                headers.extend(errors.check(format!("{field}.{name}"), header));
            }
        }
        let mut query = Vec::new();
        for (name, value) in &m.query_params {
            let q = QueryMatcher::try_from((name.as_str(), value));
            query.extend(errors.check(format!("queryParams.{name}"), q));
        }
        let port = m.port.and_then(|p| {
            let port = u16::try_from(p).ok().filter(|p| *p > 0);
            errors.check("port", port.ok_or(InvalidCondition::Port(p)))
        });
        if !errors.0.is_empty() {
            return Err(InvalidRequestMatch(errors.0));
        }
        Ok(Self {
            name: m.name.clone(),
            uri,
            ignore_uri_case: m.ignore_uri_case,
            scheme,
            method,
            authority,
            headers,
            query,
            port,
        })
    }
}

impl RequestMatch {
    /// Do all conditions hold for `req`?
    pub fn matches(&self, req: &RequestHead<'_>) -> bool {
        if let Some(uri) = &self.uri {
            let ok = if self.ignore_uri_case {
                uri.matches_ignore_case(req.path)
            } else {
                uri.matches(req.path)
            };
            if !ok {
                return false;
            }
        }
        if let Some(port) = self.port
            && req.port != Some(port)
        {
            return false;
        }
        let field = |m: &Option<StringMatcher>, v: &str| m.as_ref().is_none_or(|m| m.matches(v));
        field(&self.scheme, req.scheme)
            && field(&self.method, req.method)
            && field(&self.authority, req.authority)
            && self.headers.iter().all(|h| h.matches_request(req))
            && self.query.iter().all(|q| q.matches(req.query))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(s: &str) -> StringMatcher {
        StringMatcher::Exact(s.into())
    }

    fn head<'a>(path: &'a str, headers: &'a HeaderMap) -> RequestHead<'a> {
        RequestHead {
            method: "GET",
            scheme: "http",
            authority: "calcbackendsvc:80",
            host: "calcbackendsvc",
            port: Some(80),
            path,
            query: Some("number=42"),
            headers,
        }
    }

    #[test]
    fn an_empty_block_matches_everything() {
        let h = HeaderMap::new();
        assert!(RequestMatch::default().matches(&head("/anything", &h)));
    }

    #[test]
    fn all_conditions_must_hold() {
        let h = HeaderMap::new();
        let m = RequestMatch {
            uri: Some(StringMatcher::Prefix("/api".into())),
            method: Some(exact("GET")),
            port: Some(80),
            ..Default::default()
        };
        assert!(m.matches(&head("/api/calculation", &h)));
        assert!(!m.matches(&head("/other", &h)));
        let wrong_port = RequestMatch {
            port: Some(8080),
            ..m.clone()
        };
        assert!(!wrong_port.matches(&head("/api", &h)));
        let wrong_method = RequestMatch {
            method: Some(exact("POST")),
            ..m
        };
        assert!(!wrong_method.matches(&head("/api", &h)));
    }

    #[test]
    fn uri_ignores_the_query_and_can_ignore_case() {
        let h = HeaderMap::new();
        let m = RequestMatch {
            uri: Some(exact("/API/calculation")),
            ignore_uri_case: true,
            ..Default::default()
        };
        assert!(m.matches(&head("/api/calculation", &h)));
        let regex = RequestMatch {
            uri: Some(
                StringMatcher::try_from_uri(&StringMatch {
                    regex: Some("/api/[a-z]+".into()),
                    ..Default::default()
                })
                .unwrap(),
            ),
            ..Default::default()
        };
        assert!(regex.matches(&head("/api/calculation", &h)));
        assert!(!regex.matches(&head("/api/calculation/2", &h)));
    }

    #[test]
    fn authority_sees_the_port_and_scheme_is_http() {
        let h = HeaderMap::new();
        let m = RequestMatch {
            authority: Some(exact("calcbackendsvc:80")),
            scheme: Some(exact("http")),
            ..Default::default()
        };
        assert!(m.matches(&head("/", &h)));
    }

    fn yaml(text: &str) -> HttpMatchRequest {
        serde_yaml_ng::from_str(text).unwrap()
    }

    #[test]
    fn compiles_every_condition_from_the_wire() {
        let m = RequestMatch::try_from(&yaml(
            "{name: api, uri: {prefix: \"\"}, method: {exact: GET}, headers: {x-user: {}}, \
             withoutHeaders: {x-test: {}}, queryParams: {debug: {exact: \"1\"}}, port: 80}",
        ))
        .unwrap();
        assert_eq!(m.name.as_deref(), Some("api"));
        assert_eq!(m.uri.as_ref().and_then(StringMatcher::prefix), Some(""));
        assert_eq!(m.headers.len(), 2);
        assert!(!m.headers[0].invert && m.headers[1].invert);
        assert_eq!(m.query[0].name, "debug");
        assert_eq!(m.port, Some(80));
    }

    #[test]
    fn every_problem_is_reported_with_its_field_in_order() {
        let err = RequestMatch::try_from(&yaml(
            "{uri: {exact: a, prefix: b}, scheme: {prefix: \"\"}, headers: {User-Agent: {}}, \
             withoutHeaders: {x-a: {regex: \"(\"}}, queryParams: {q: {prefix: \"\"}}, port: 70000}",
        ))
        .unwrap_err();
        let fields: Vec<&str> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "uri",
                "scheme",
                "headers.User-Agent",
                "withoutHeaders.x-a",
                "queryParams.q",
                "port"
            ]
        );
        assert_eq!(err.0[5].error, InvalidCondition::Port(70000));
        assert_eq!(
            err.0[1].error.to_string(),
            "an empty prefix matches everything: remove the match instead"
        );
        assert!(err.to_string().starts_with("uri: set only one of"), "{err}");
    }

    #[test]
    fn port_zero_is_not_a_port() {
        let err = RequestMatch::try_from(&yaml("{port: 0}")).unwrap_err();
        assert_eq!(err.0[0].error.to_string(), "0 is not a port number");
    }
}
