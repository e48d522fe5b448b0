//! One `HTTPMatchRequest` block, compiled: every condition in it must hold (AND), and the
//! [`RequestHead`] the conditions look at. A route's blocks are OR'ed by `route::find`, which
//! this module must not import.

use http::HeaderMap;

use super::header::HeaderMatcher;
use super::query::QueryMatcher;
use super::string::StringMatcher;

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
            && self.headers.iter().all(|h| h.matches(req.headers))
            && self.query.iter().all(|q| q.matches(req.query))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::wire::StringMatch;

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
                StringMatcher::compile(
                    &StringMatch {
                        regex: Some("/api/[a-z]+".into()),
                        ..Default::default()
                    },
                    true,
                )
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
}
