//! A cluster's policy, merged from its DestinationRule and subset: balancing, limits and
//! outlier detection settings (plain data; the state they act on is in [`super::balance`] and
//! [`super::outlier`]).

use std::time::Duration;

/// `loadBalancer.simple`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum LbPolicy {
    /// Each endpoint in turn (default).
    RoundRobin,
    /// The less busy of two random endpoints (Envoy's power of two choices).
    LeastRequest,
    /// Uniformly random.
    Random,
}

/// Outlier detection: eject an endpoint after consecutive failures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutlierPolicy {
    /// 5xx answers in a row before ejection (`None`: not counted).
    pub consecutive_5xx: Option<u32>,
    /// 502/503/504 or connection failures in a row before ejection.
    pub consecutive_gateway: Option<u32>,
    /// Ejection time, multiplied by how often the endpoint was ejected.
    pub base_ejection: Duration,
    /// At most this share of endpoints is ejected at once.
    pub max_ejection_percent: u32,
}

/// Policy of one cluster, merged from the DestinationRule and its subset.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClusterPolicy {
    /// Balancing.
    pub lb: LbPolicy,
    /// TCP connect timeout (Istio's default is 10 s).
    pub connect_timeout: Duration,
    /// Maximum concurrent requests (`http2MaxRequests`, or `maxConnections` +
    /// `http1MaxPendingRequests` for HTTP/1); beyond it requests get 503 (`UO`).
    pub max_requests: Option<usize>,
    /// Upstream connection idle timeout.
    pub idle_timeout: Option<Duration>,
    /// Ejection of failing endpoints.
    pub outlier: Option<OutlierPolicy>,
}

impl Default for ClusterPolicy {
    fn default() -> Self {
        Self {
            lb: LbPolicy::RoundRobin,
            connect_timeout: Duration::from_secs(10),
            max_requests: None,
            idle_timeout: None,
            outlier: None,
        }
    }
}
