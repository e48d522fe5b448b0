//! A cluster's policy, merged from its DestinationRule and subset: balancing (with consistent
//! hashing's key), limits, outlier detection settings and upstream TLS (plain data; the state they act on is
//! in [`super::balance`], [`super::hash_table`] and [`super::outlier`]).

use std::sync::Arc;
use std::time::Duration;

use super::tls::UpstreamTls;

/// `loadBalancer.simple`, or `loadBalancer.consistentHash`'s algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum LbPolicy {
    /// Each endpoint in turn (default).
    RoundRobin,
    /// The less busy of two random endpoints (Envoy's power of two choices).
    LeastRequest,
    /// Uniformly random.
    Random,
    /// Envoy's `RING_HASH` (ketama): at least this many points on the ring.
    RingHash {
        /// `ringHash.minimumRingSize` (or the deprecated top-level one); Envoy's default 1024.
        minimum_ring_size: u64,
    },
    /// Envoy's `MAGLEV`: a lookup table of this (prime) size.
    Maglev {
        /// `maglev.tableSize`; Envoy's default 65537.
        table_size: u64,
    },
}

impl LbPolicy {
    /// Does this policy choose by a request's hash?
    pub fn is_hash(self) -> bool {
        matches!(self, Self::RingHash { .. } | Self::Maglev { .. })
    }
}

/// What a consistent-hash cluster hashes on (`consistentHash`'s key, as Istio's
/// `consistentHashToHashPolicy` hands it to Envoy). None: every request hashes at random.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum HashKey {
    /// `httpHeaderName`: the header's values (lower-cased name).
    Header(String),
    /// `httpCookie`: the cookie's value, generated when absent and a `ttl` is set.
    Cookie(HashCookie),
    /// `useSourceIp`: the client's IP address.
    SourceIp,
    /// `httpQueryParameterName`: the first value of this query parameter.
    QueryParameter(String),
}

/// `httpCookie`: the cookie hashed on, and how a generated one is set.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HashCookie {
    /// Cookie name.
    pub name: String,
    /// `Path` of a generated cookie (empty: none).
    pub path: String,
    /// Whole seconds of `ttl` (0: a session cookie); `None`: never generated.
    pub ttl_secs: Option<u64>,
    /// Extra attributes of a generated cookie, `(name, value)`; an empty value is a flag.
    pub attributes: Vec<(String, String)>,
}

/// Outlier detection: eject an endpoint after consecutive failures.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
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
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClusterPolicy {
    /// Balancing.
    pub lb: LbPolicy,
    /// Consistent hashing's key (only read when `lb` hashes).
    pub hash_key: Option<HashKey>,
    /// TCP connect timeout (Istio's default is 10 s).
    pub connect_timeout: Duration,
    /// Maximum concurrent requests (`http2MaxRequests`, or `maxConnections` +
    /// `http1MaxPendingRequests` for HTTP/1); beyond it requests get 503 (`UO`).
    pub max_requests: Option<usize>,
    /// Upstream connection idle timeout.
    pub idle_timeout: Option<Duration>,
    /// Ejection of failing endpoints.
    pub outlier: Option<OutlierPolicy>,
    /// Upstream TLS (`None`: plaintext).
    pub tls: Option<Arc<UpstreamTls>>,
}

impl Default for ClusterPolicy {
    fn default() -> Self {
        Self {
            lb: LbPolicy::RoundRobin,
            hash_key: None,
            connect_timeout: Duration::from_secs(10),
            max_requests: None,
            idle_timeout: None,
            outlier: None,
            tls: None,
        }
    }
}
