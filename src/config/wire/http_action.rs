//! What a VirtualService `http` route does besides forwarding: `redirect`, `directResponse`,
//! `rewrite` (with `uriRegexRewrite`), `retries` and header operations (`headers`).
//! Imports nothing of the crate.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `HTTPRedirect`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRedirect {
    /// Replacement path.
    pub uri: Option<String>,
    /// Replacement authority.
    pub authority: Option<String>,
    /// Replacement port (one of `port` and `derivePort`).
    pub port: Option<u32>,
    /// Derive the port (`FROM_PROTOCOL_DEFAULT`, `FROM_REQUEST_PORT`).
    pub derive_port: Option<String>,
    /// Replacement scheme (`http` or `https`).
    pub scheme: Option<String>,
    /// Status code, default 301.
    pub redirect_code: Option<u32>,
    /// Replaces the matched prefix of the path (the route's `uri` matches must be prefixes).
    pub prefix_rewrite: Option<String>,
}

/// `HTTPDirectResponse`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpDirectResponse {
    /// Status code.
    pub status: u32,
    /// Body.
    pub body: Option<HttpBody>,
}

/// `HTTPBody`: `string` or `bytes` (base64).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpBody {
    /// Text body.
    pub string: Option<String>,
    /// Base64 body.
    pub bytes: Option<String>,
}

/// `HTTPRewrite`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRewrite {
    /// Replaces the matched prefix (or the whole path for other matches).
    pub uri: Option<String>,
    /// Replaces the Host/`:authority`.
    pub authority: Option<String>,
    /// Regex rewrite of the path.
    pub uri_regex_rewrite: Option<RegexRewrite>,
}

/// `RegexRewrite`: the path's matches of `match` are replaced with `rewrite` (`\1` groups).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegexRewrite {
    /// RE2 regex.
    #[serde(rename = "match")]
    pub pattern: String,
    /// Replacement.
    pub rewrite: String,
}

/// `HTTPRetry`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRetry {
    /// Number of retries; 0 disables them.
    pub attempts: i64,
    /// Timeout of each attempt, e.g. `2s`.
    pub per_try_timeout: Option<String>,
    /// Comma-separated conditions: Envoy's `x-envoy-retry-on` and `x-envoy-retry-grpc-on`
    /// values and HTTP status codes.
    pub retry_on: Option<String>,
    /// Retry in other localities.
    pub retry_remote_localities: Option<bool>,
    /// Avoid hosts already tried.
    pub retry_ignore_previous_hosts: Option<bool>,
    /// Base interval between retries, e.g. `25ms`.
    pub backoff: Option<String>,
}

/// `Headers`: manipulation of request and response headers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Headers {
    /// Operations on the request.
    pub request: Option<HeaderOperations>,
    /// Operations on the response.
    pub response: Option<HeaderOperations>,
}

/// `HeaderOperations`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeaderOperations {
    /// Overwrite these headers.
    pub set: BTreeMap<String, String>,
    /// Append these headers.
    pub add: BTreeMap<String, String>,
    /// Remove these headers.
    pub remove: Vec<String>,
}
