//! A route's compiled HTTP policies, as Envoy's filters see them: [`Fault`] (the fault filter:
//! delay and abort, each with a share of requests in parts per million) and [`Cors`] (the CORS
//! filter: allowed origins and the header values it answers with). Built by
//! [`crate::model::compile`]; rolled by `route`, applied by `proxy`.
//! Imports only the rest of [`crate::model`].

use std::time::Duration;

use http::header::HeaderValue;

use super::matchers::StringMatcher;

/// Envoy's fractional percentages are in parts per million (Istio's `value * 10000`).
pub const MILLION: u32 = 1_000_000;

/// `fault`: what to inject, before the request is forwarded.
#[derive(Debug, Clone, Default)]
pub struct Fault {
    /// Delay the request.
    pub delay: Option<FaultDelay>,
    /// Answer with an error instead of forwarding.
    pub abort: Option<FaultAbort>,
}

/// `fault.delay`.
#[derive(Debug, Clone)]
pub struct FaultDelay {
    /// How long.
    pub fixed: Duration,
    /// Share of requests delayed, parts per million.
    pub per_million: u32,
}

/// `fault.abort`.
#[derive(Debug, Clone)]
pub struct FaultAbort {
    /// What the client gets.
    pub answer: AbortAnswer,
    /// Share of requests aborted, parts per million.
    pub per_million: u32,
}

/// The answer of an injected abort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbortAnswer {
    /// `httpStatus`.
    Http(http::StatusCode),
    /// `grpcStatus`: answered as HTTP 200 with this `grpc-status` (to a gRPC client).
    Grpc(u8),
}

/// Is a share of `per_million` selected by `roll` (uniform in `[0, 1)`)?
pub fn selected(per_million: u32, roll: f64) -> bool {
    per_million >= MILLION
        || (per_million > 0 && roll * f64::from(MILLION) < f64::from(per_million))
}

/// gRPC status codes by name, as Istio accepts them in `grpcStatus`.
pub const GRPC_STATUS: [(&str, u8); 17] = [
    ("OK", 0),
    ("CANCELLED", 1),
    ("UNKNOWN", 2),
    ("INVALID_ARGUMENT", 3),
    ("DEADLINE_EXCEEDED", 4),
    ("NOT_FOUND", 5),
    ("ALREADY_EXISTS", 6),
    ("PERMISSION_DENIED", 7),
    ("RESOURCE_EXHAUSTED", 8),
    ("FAILED_PRECONDITION", 9),
    ("ABORTED", 10),
    ("OUT_OF_RANGE", 11),
    ("UNIMPLEMENTED", 12),
    ("INTERNAL", 13),
    ("UNAVAILABLE", 14),
    ("DATA_LOSS", 15),
    ("UNAUTHENTICATED", 16),
];

/// The code of a gRPC status name.
pub fn grpc_status_code(name: &str) -> Option<u8> {
    GRPC_STATUS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
}

/// `corsPolicy`, with the header values already joined as Istio joins them (`,`).
#[derive(Debug, Clone, Default)]
pub struct Cors {
    /// Allowed origins (`allowOrigins`, else the legacy exact `allowOrigin`).
    pub origins: Vec<StringMatcher>,
    /// `Access-Control-Allow-Methods` (`*`: echo the requested method).
    pub allow_methods: Option<HeaderValue>,
    /// `Access-Control-Allow-Headers` (`*`: echo the requested headers).
    pub allow_headers: Option<HeaderValue>,
    /// `Access-Control-Expose-Headers`.
    pub expose_headers: Option<HeaderValue>,
    /// `Access-Control-Max-Age`, in seconds.
    pub max_age: Option<HeaderValue>,
    /// `Access-Control-Allow-Credentials: true`.
    pub allow_credentials: bool,
    /// Preflights from origins not allowed go upstream (`FORWARD`, the default) rather than
    /// being answered 200 with no CORS headers (`IGNORE`).
    pub forward_unmatched_preflights: bool,
}

impl Cors {
    /// Is `origin` allowed? As Envoy: a matcher that matches `*` allows every origin.
    pub fn allows(&self, origin: &str) -> bool {
        self.origins
            .iter()
            .any(|m| m.matches("*") || m.matches(origin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_parts_per_million() {
        for (per_million, roll, want) in [
            (MILLION, 0.999_999, true),
            (0, 0.0, false),
            (500_000, 0.499, true),
            (500_000, 0.5, false),
            (10, 0.000_009, true),
            (10, 0.000_011, false),
        ] {
            assert_eq!(selected(per_million, roll), want, "{per_million} {roll}");
        }
    }

    #[test]
    fn origins_match_as_envoy_matches_them() {
        let cors = Cors {
            origins: vec![
                StringMatcher::Exact("https://a.com".into()),
                StringMatcher::Prefix("https://b.".into()),
            ],
            ..Default::default()
        };
        assert!(cors.allows("https://a.com"));
        assert!(cors.allows("https://b.org"));
        assert!(!cors.allows("https://a.com.evil"));
        let any = Cors {
            origins: vec![StringMatcher::Exact("*".into())],
            ..Default::default()
        };
        assert!(any.allows("https://whoever.example"));
        assert!(!Cors::default().allows("https://a.com"));
    }
}
