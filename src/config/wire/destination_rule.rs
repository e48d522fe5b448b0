//! `DestinationRule`: subsets and traffic policies (load balancing, connection pool, outlier
//! detection). Imports nothing of the crate.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_yaml_ng::Value;

/// `DestinationRule.spec`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct DestinationRuleSpec {
    /// Service host the rule applies to.
    pub host: String,
    /// Policy for all subsets.
    pub traffic_policy: Option<TrafficPolicy>,
    /// Named subsets, selected by endpoint labels.
    pub subsets: Vec<Subset>,
    /// Visibility (ignored).
    pub export_to: Option<Value>,
    /// Workload selector (ignored: the rule applies to this proxy).
    pub workload_selector: Option<Value>,
}

/// `Subset`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Subset {
    /// Subset name, e.g. `v1`.
    pub name: String,
    /// Endpoint labels that select the subset's members.
    pub labels: BTreeMap<String, String>,
    /// Policy overriding the rule's.
    pub traffic_policy: Option<TrafficPolicy>,
}

/// `TrafficPolicy` (the parts shadowmesh applies; the rest is accepted and warned about).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TrafficPolicy {
    /// Load balancing.
    pub load_balancer: Option<LoadBalancerSettings>,
    /// Connection pool limits.
    pub connection_pool: Option<ConnectionPoolSettings>,
    /// Ejection of failing endpoints.
    pub outlier_detection: Option<OutlierDetection>,
    /// Upstream TLS (not supported: warned).
    pub tls: Option<Value>,
    /// Per-port settings (not supported: warned).
    pub port_level_settings: Option<Value>,
    /// Tunnel settings (not supported: warned).
    pub tunnel: Option<Value>,
    /// PROXY protocol (not supported: warned).
    pub proxy_protocol: Option<Value>,
    /// Retry budget (not supported: warned).
    pub retry_budget: Option<Value>,
}

/// `LoadBalancerSettings`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadBalancerSettings {
    /// `ROUND_ROBIN`, `LEAST_REQUEST`, `LEAST_CONN`, `RANDOM`, `PASSTHROUGH`, `UNSPECIFIED`.
    pub simple: Option<String>,
    /// Consistent hashing (not supported: warned).
    pub consistent_hash: Option<Value>,
    /// Locality (ignored: one machine).
    pub locality_lb_setting: Option<Value>,
    /// Warm-up (ignored).
    pub warmup_duration_secs: Option<Value>,
    /// Warm-up (ignored).
    pub warmup: Option<Value>,
}

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
    /// Keep-alive (ignored).
    pub tcp_keepalive: Option<Value>,
    /// Maximum connection age (ignored).
    pub max_connection_duration: Option<Value>,
    /// Idle timeout (ignored; see `http.idleTimeout`).
    pub idle_timeout: Option<Value>,
}

/// `ConnectionPoolSettings.HTTPSettings`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpSettings {
    /// Maximum requests waiting for a connection.
    pub http1_max_pending_requests: Option<i64>,
    /// Maximum concurrent requests to the destination.
    pub http2_max_requests: Option<i64>,
    /// Requests per connection before it is closed (ignored).
    pub max_requests_per_connection: Option<i64>,
    /// Maximum outstanding retries (ignored).
    pub max_retries: Option<i64>,
    /// Idle time before an upstream connection is closed.
    pub idle_timeout: Option<String>,
    /// `DEFAULT`, `DO_NOT_UPGRADE`, `UPGRADE` (ignored).
    pub h2_upgrade_policy: Option<String>,
    /// Use the client's protocol upstream (ignored).
    pub use_client_protocol: Option<bool>,
    /// HTTP/2 streams per connection (ignored).
    pub max_concurrent_streams: Option<i64>,
}

/// `OutlierDetection`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct OutlierDetection {
    /// Deprecated alias of `consecutive5xxErrors`.
    pub consecutive_errors: Option<i64>,
    /// 5xx answers in a row before ejection.
    #[serde(rename = "consecutive5xxErrors")]
    pub consecutive_5xx_errors: Option<i64>,
    /// 502/503/504 and connection failures in a row before ejection.
    pub consecutive_gateway_errors: Option<i64>,
    /// (ignored)
    pub split_external_local_origin_errors: Option<bool>,
    /// (ignored)
    pub consecutive_local_origin_failures: Option<i64>,
    /// Sweep interval (ignored: ejection is checked on each answer).
    pub interval: Option<String>,
    /// Base ejection time, multiplied by the number of ejections.
    pub base_ejection_time: Option<String>,
    /// Maximum share of endpoints ejected, default 10.
    pub max_ejection_percent: Option<i64>,
    /// Below this share of healthy endpoints, ejection is off (ignored).
    pub min_health_percent: Option<i64>,
}
