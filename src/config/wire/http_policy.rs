//! Wire types of a route's HTTP policies: `fault` (`HTTPFaultInjection`) and `corsPolicy`
//! (`CorsPolicy`), every field of Istio's proto under its JSON name. Imports nothing of the crate.

use serde::Deserialize;

use super::{Percent, StringMatch};

/// `HTTPFaultInjection`: delay and/or abort a share of the route's requests.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpFaultInjection {
    /// Delay before forwarding.
    pub delay: Option<FaultDelay>,
    /// Answer with an error instead of forwarding.
    pub abort: Option<FaultAbort>,
}

/// `HTTPFaultInjection.Delay`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultDelay {
    /// Legacy integer percentage (deprecated; `percentage` wins).
    pub percent: Option<i64>,
    /// Fixed delay, e.g. `5s` (at least 1ms).
    pub fixed_delay: Option<String>,
    /// Exponential delay (Istio refuses it: not supported yet).
    pub exponential_delay: Option<String>,
    /// Share of requests delayed; absent: none (unless `percent`).
    pub percentage: Option<Percent>,
}

/// `HTTPFaultInjection.Abort`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultAbort {
    /// HTTP status answered (200 to 599).
    pub http_status: Option<i64>,
    /// gRPC status answered, by name (`UNAVAILABLE`).
    pub grpc_status: Option<String>,
    /// HTTP/2 error (Istio refuses it: not supported yet).
    pub http2_error: Option<String>,
    /// Share of requests aborted; absent: none.
    pub percentage: Option<Percent>,
}

/// `CorsPolicy`: how the proxy answers CORS preflights and marks responses.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct CorsPolicy {
    /// Legacy exact origins (deprecated; `allowOrigins` wins).
    pub allow_origin: Vec<String>,
    /// Origins allowed, as string matches.
    pub allow_origins: Vec<StringMatch>,
    /// `Access-Control-Allow-Methods`.
    pub allow_methods: Vec<String>,
    /// `Access-Control-Allow-Headers`.
    pub allow_headers: Vec<String>,
    /// `Access-Control-Expose-Headers`.
    pub expose_headers: Vec<String>,
    /// `Access-Control-Max-Age`, e.g. `24h` (whole seconds).
    pub max_age: Option<String>,
    /// `Access-Control-Allow-Credentials: true` when set to true.
    pub allow_credentials: Option<bool>,
    /// `FORWARD` (default), `IGNORE` or `UNSPECIFIED`: what to do with preflights whose origin
    /// does not match.
    pub unmatched_preflights: Option<String>,
}
