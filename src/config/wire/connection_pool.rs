//! `ConnectionPoolSettings` and `OutlierDetection` of a DestinationRule's traffic policy.
//! Signed protobuf integers are `i64` here so that a negative value reaches validation and is
//! reported as Istio reports it. Imports nothing of the crate.

use serde::Deserialize;

/// `ConnectionPoolSettings`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionPoolSettings {
    /// TCP settings.
    pub tcp: Option<TcpSettings>,
    /// HTTP settings.
    pub http: Option<HttpSettings>,
}

/// `ConnectionPoolSettings.TCPSettings`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpSettings {
    /// Maximum connections per endpoint set (bounds concurrent HTTP/1 requests).
    pub max_connections: Option<i64>,
    /// Connect timeout, e.g. `10s`.
    pub connect_timeout: Option<String>,
    /// TCP keep-alive probes (not acted on: warned).
    pub tcp_keepalive: Option<TcpKeepalive>,
    /// Maximum connection age (not acted on: warned).
    pub max_connection_duration: Option<String>,
    /// TCP idle timeout (not acted on: warned; see `http.idleTimeout`).
    pub idle_timeout: Option<String>,
}

/// `TCPSettings.TcpKeepalive`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TcpKeepalive {
    /// Unanswered probes before the connection is dead.
    pub probes: Option<u32>,
    /// Idle time before probes start.
    pub time: Option<String>,
    /// Time between probes.
    pub interval: Option<String>,
}

/// `ConnectionPoolSettings.HTTPSettings`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpSettings {
    /// Maximum requests waiting for a connection.
    pub http1_max_pending_requests: Option<i64>,
    /// Maximum concurrent requests to the destination.
    pub http2_max_requests: Option<i64>,
    /// Requests per connection before it is closed (not acted on: warned).
    pub max_requests_per_connection: Option<i64>,
    /// Maximum outstanding retries (not acted on: warned).
    pub max_retries: Option<i64>,
    /// Idle time before an upstream connection is closed.
    pub idle_timeout: Option<String>,
    /// `DEFAULT`, `DO_NOT_UPGRADE`, `UPGRADE` (not acted on: warned).
    pub h2_upgrade_policy: Option<String>,
    /// Use the client's protocol upstream (not acted on: warned).
    pub use_client_protocol: Option<bool>,
    /// HTTP/2 streams per connection (not acted on: warned).
    pub max_concurrent_streams: Option<i64>,
    /// HTTP/2 keep-alive pings (not acted on: warned).
    #[serde(rename = "http2KeepAlive")]
    pub http2_keep_alive: Option<ConnectionKeepalive>,
}

/// `HTTPSettings.ConnectionKeepalive`: HTTP/2 PING keep-alive.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionKeepalive {
    /// Time between pings (required).
    pub interval: Option<String>,
    /// Time to wait for a ping's answer (required).
    pub timeout: Option<String>,
}

/// `OutlierDetection`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct OutlierDetection {
    /// Deprecated alias of `consecutive5xxErrors`.
    pub consecutive_errors: Option<i64>,
    /// Count local-origin failures apart (not acted on: warned).
    pub split_external_local_origin_errors: Option<bool>,
    /// Local-origin failures in a row before ejection (not acted on: warned).
    pub consecutive_local_origin_failures: Option<u32>,
    /// 502/503/504 and connection failures in a row before ejection.
    pub consecutive_gateway_errors: Option<u32>,
    /// 5xx answers in a row before ejection.
    #[serde(rename = "consecutive5xxErrors")]
    pub consecutive_5xx_errors: Option<u32>,
    /// Sweep interval (not acted on: ejection is checked on each answer).
    pub interval: Option<String>,
    /// Base ejection time, multiplied by the number of ejections.
    pub base_ejection_time: Option<String>,
    /// Maximum share of endpoints ejected, default 10.
    pub max_ejection_percent: Option<i64>,
    /// Below this share of healthy endpoints, ejection is off (not acted on: warned).
    pub min_health_percent: Option<i64>,
    /// Status codes counted as errors (not acted on: warned).
    pub outlier_detection_http_error_codes: Vec<u32>,
}
