//! A cluster: one service port, optionally narrowed to a DestinationRule subset, with its
//! endpoints, its policy and the small amount of shared state that policy needs (atomics only:
//! no locks on the data path).
//!
//! Clusters are built once per config generation and shared by every route and mirror that
//! names them, so a subset's load balancer and limits see all of its traffic.
//! - [`policy`]: the settings (balancing, limits, outlier detection);
//! - [`balance`]: choosing an endpoint;
//! - [`hash_table`]: consistent hashing's ring or Maglev table, built here with the cluster;
//! - [`outlier`]: ejecting failing endpoints;
//! - [`tls`]: upstream TLS (rustls configurations and the server certificate check).
//!
//! Each endpoint's telemetry identity ([`Peer`]) is built here once, so recording an exchange
//! copies a reference count, not strings.

pub mod balance;
pub mod hash_table;
#[cfg(test)]
mod hash_tests;
pub mod outlier;
pub mod policy;
#[cfg(test)]
mod tests;
pub mod tls;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize};
use std::sync::{Arc, OnceLock};

use http::uri::Authority;

use crate::telemetry::{Peer, PeerCaches};
use hash_table::{HashTable, MAX_RING_SIZE};
pub use outlier::{Outcome, clock_ms};
pub use policy::{ClusterPolicy, HashCookie, HashKey, LbPolicy, OutlierPolicy};

/// Wire protocol towards the endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Protocol {
    /// HTTP/1.1 (ServiceEntry port protocol `HTTP` or unset).
    Http1,
    /// HTTP/2 cleartext (`HTTP2`, `GRPC`).
    Http2,
}

impl Protocol {
    /// `HTTP/1.1` or `HTTP/2`, as the access log and telemetry name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Http1 => "HTTP/1.1",
            Self::Http2 => "HTTP/2",
        }
    }

    /// The HTTP version requests to this cluster are sent with.
    pub fn version(self) -> http::Version {
        match self {
            Self::Http1 => http::Version::HTTP_11,
            Self::Http2 => http::Version::HTTP_2,
        }
    }
}

/// One endpoint (a WorkloadEntry or an inline ServiceEntry endpoint) on one port.
#[derive(Debug)]
pub struct Endpoint {
    /// `address:port` to connect to.
    pub authority: Authority,
    /// Labels (subset membership, `app`, `version`).
    pub labels: BTreeMap<String, String>,
    /// Workload name for telemetry (`destination_workload`).
    pub workload: String,
    /// Workload namespace.
    pub namespace: String,
    /// Requests in flight (for `LEAST_REQUEST`).
    pub active: AtomicUsize,
    consecutive_5xx: AtomicU32,
    consecutive_gateway: AtomicU32,
    ejections: AtomicU32,
    /// Milliseconds since [`clock_ms`]'s epoch until which the endpoint is ejected.
    ejected_until_ms: AtomicU64,
}

impl Endpoint {
    /// A fresh endpoint.
    pub fn new(
        authority: Authority,
        labels: BTreeMap<String, String>,
        workload: String,
        namespace: String,
    ) -> Self {
        Self {
            authority,
            labels,
            workload,
            namespace,
            active: AtomicUsize::new(0),
            consecutive_5xx: AtomicU32::new(0),
            consecutive_gateway: AtomicU32::new(0),
            ejections: AtomicU32::new(0),
            ejected_until_ms: AtomicU64::new(0),
        }
    }

    /// The `version` label, or `unknown`.
    pub fn version(&self) -> &str {
        self.labels.get("version").map_or("unknown", String::as_str)
    }
}

/// A service port, maybe narrowed to a subset.
#[derive(Debug)]
pub struct Cluster {
    /// Fully qualified service host, e.g. `calcbackendsvc.challengeistio.svc.cluster.local`.
    pub service: String,
    /// Short service name (`calcbackendsvc`).
    pub service_name: String,
    /// Service namespace.
    pub service_namespace: String,
    /// Service port.
    pub port: u16,
    /// Subset name, if any.
    pub subset: Option<String>,
    /// `version` label of the subset's selector, if it has one.
    pub subset_version: Option<String>,
    /// Wire protocol.
    pub protocol: Protocol,
    /// Endpoints (already filtered by the subset's labels).
    pub endpoints: Vec<Endpoint>,
    /// Forward to the host the request named (ServiceEntry `resolution: NONE` without endpoints).
    pub passthrough: bool,
    /// Policy.
    pub policy: ClusterPolicy,
    rr: AtomicUsize,
    /// The ring or Maglev table when `policy.lb` hashes.
    hash_table: Option<HashTable>,
    /// Requests in flight (for `max_requests`).
    pub in_flight: AtomicUsize,
    /// Telemetry identity of each endpoint, by index, made when the endpoint is first used: a
    /// cluster of a big mesh may have thousands of endpoints this proxy never sends to, and
    /// each identity is a dozen strings.
    peers: Box<[OnceLock<Arc<Peer>>]>,
    /// Telemetry identity when no endpoint was chosen (or for passthrough).
    cluster_peer: Arc<Peer>,
}

impl Cluster {
    /// Builds a cluster.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        service: String,
        service_name: String,
        service_namespace: String,
        port: u16,
        subset: Option<String>,
        subset_version: Option<String>,
        protocol: Protocol,
        endpoints: Vec<Endpoint>,
        passthrough: bool,
        policy: ClusterPolicy,
    ) -> Self {
        let keys: Vec<&str> = endpoints.iter().map(|e| e.authority.as_str()).collect();
        let hash_table = match policy.lb {
            LbPolicy::RingHash { minimum_ring_size } => {
                Some(HashTable::ring(&keys, minimum_ring_size.min(MAX_RING_SIZE)))
            }
            LbPolicy::Maglev { table_size } => Some(HashTable::maglev(&keys, table_size)),
            _ => None,
        };
        let mut cluster = Self {
            service,
            service_name,
            service_namespace,
            port,
            subset,
            subset_version,
            protocol,
            endpoints,
            passthrough,
            policy,
            rr: AtomicUsize::new(0),
            hash_table,
            in_flight: AtomicUsize::new(0),
            peers: Box::default(),
            cluster_peer: Arc::new(Peer::unknown()),
        };
        cluster.peers = cluster.endpoints.iter().map(|_| OnceLock::new()).collect();
        cluster.cluster_peer = Arc::new(peer_of(&cluster, None));
        cluster
    }

    /// Telemetry identity of endpoint `index`, or of the cluster when `None`.
    pub fn peer(&self, index: Option<usize>) -> &Arc<Peer> {
        match index.and_then(|i| Some((self.peers.get(i)?, self.endpoints.get(i)?))) {
            Some((peer, endpoint)) => peer.get_or_init(|| Arc::new(peer_of(self, Some(endpoint)))),
            None => &self.cluster_peer,
        }
    }

    /// The version reported for this cluster: the subset's `version` label, else the endpoints'
    /// common `version` label, else `unknown`.
    pub fn version(&self) -> &str {
        if let Some(v) = &self.subset_version {
            return v;
        }
        match self.endpoints.split_first() {
            Some((first, rest)) if rest.iter().all(|e| e.version() == first.version()) => {
                first.version()
            }
            _ => "unknown",
        }
    }
}

/// How telemetry names an exchange with `endpoint` of `cluster` (or with the cluster as a whole).
fn peer_of(cluster: &Cluster, endpoint: Option<&Endpoint>) -> Peer {
    let label = |k: &str| endpoint.and_then(|e| e.labels.get(k)).cloned();
    let version = match endpoint.map(Endpoint::version) {
        Some(v) if v != "unknown" => v.into(),
        _ => cluster.version().into(),
    };
    let workload = endpoint.map_or_else(|| "unknown".to_string(), |e| e.workload.clone());
    Peer {
        service: cluster.service_name.clone(),
        service_fqdn: cluster.service.as_str().into(),
        namespace: cluster.service_namespace.clone(),
        subset: cluster.subset.clone(),
        canonical_service: label("service.istio.io/canonical-name")
            .or_else(|| label("app"))
            .unwrap_or_else(|| workload.clone()),
        canonical_revision: label("service.istio.io/canonical-revision")
            .or_else(|| label("version"))
            .unwrap_or_else(|| "latest".into()),
        workload_namespace: endpoint.map_or_else(
            || cluster.service_namespace.clone(),
            |e| e.namespace.clone(),
        ),
        version,
        workload,
        app: label("app").unwrap_or_else(|| "unknown".into()),
        address: endpoint.map_or_else(|| "-".to_string(), |e| e.authority.to_string()),
        caches: PeerCaches::default(),
    }
}

impl fmt::Display for Cluster {
    /// `calcbackendsvc v3`, `calcbackendsvc:8080`, as the access log shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.service_name)?;
        if let Some(subset) = &self.subset {
            write!(f, " {subset}")?;
        }
        Ok(())
    }
}
