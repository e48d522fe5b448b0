//! A cluster: one service port, optionally narrowed to a DestinationRule subset, with its
//! endpoints, policy (load balancing, limits, outlier detection) and the small amount of shared
//! state those need (atomics only: no locks on the data path).
//!
//! Clusters are built once per config generation and shared by every route and mirror that
//! names them, so a subset's load balancer and limits see all of its traffic.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use http::uri::Authority;

/// Wire protocol towards the endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Protocol {
    /// HTTP/1.1 (ServiceEntry port protocol `HTTP` or unset).
    Http1,
    /// HTTP/2 cleartext (`HTTP2`, `GRPC`).
    Http2,
}

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

    fn ejected(&self, now_ms: u64) -> bool {
        self.ejected_until_ms.load(Ordering::Relaxed) > now_ms
    }
}

/// Milliseconds on a process-wide monotonic clock.
pub fn clock_ms() -> u64 {
    use std::sync::OnceLock;
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as u64
}

/// How an upstream exchange ended, as outlier detection sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A response with this status.
    Status(u16),
    /// Connect failure, reset or timeout.
    Failure,
}

/// Where an exchange went, as telemetry names it; built once per endpoint per config generation
/// so that recording an exchange copies nothing but a reference count.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Service short name (`calcbackendsvc`).
    pub service: String,
    /// Fully qualified service host.
    pub service_fqdn: String,
    /// Service namespace.
    pub namespace: String,
    /// Subset, if any.
    pub subset: Option<String>,
    /// `version` of the endpoint (or the subset's).
    pub version: String,
    /// Workload that answered (`destination_workload`).
    pub workload: String,
    /// Its namespace.
    pub workload_namespace: String,
    /// `app` label, or `unknown`.
    pub app: String,
    /// Istio's canonical service: label `service.istio.io/canonical-name`, else `app`, else the workload.
    pub canonical_service: String,
    /// Canonical revision: label `service.istio.io/canonical-revision`, else `version`, else `latest`.
    pub canonical_revision: String,
    /// Endpoint address.
    pub address: String,
    /// Where telemetry caches its metric handles for this peer.
    pub metrics_slot: crate::telemetry::metrics::MetricsSlot,
}

impl Peer {
    /// The peer of exchanges that reached no service (404s, local answers).
    pub fn unknown() -> Self {
        let u = || "unknown".to_string();
        Self {
            service: u(),
            service_fqdn: u(),
            namespace: u(),
            subset: None,
            version: u(),
            workload: u(),
            workload_namespace: u(),
            app: u(),
            canonical_service: u(),
            canonical_revision: u(),
            address: "-".into(),
            metrics_slot: Default::default(),
        }
    }

    fn new(cluster: &Cluster, endpoint: Option<&Endpoint>) -> Self {
        let label = |k: &str| endpoint.and_then(|e| e.labels.get(k)).cloned();
        let version = match endpoint.map(Endpoint::version) {
            Some(v) if v != "unknown" => v.to_string(),
            _ => cluster.version().to_string(),
        };
        let workload = endpoint.map_or_else(|| "unknown".to_string(), |e| e.workload.clone());
        let app = label("app").unwrap_or_else(|| "unknown".into());
        Self {
            service: cluster.service_name.clone(),
            service_fqdn: cluster.service.clone(),
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
            app,
            address: endpoint.map_or_else(|| "-".to_string(), |e| e.authority.to_string()),
            metrics_slot: Default::default(),
        }
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
    /// Requests in flight (for `max_requests`).
    pub in_flight: AtomicUsize,
    /// Telemetry identity of each endpoint, by index.
    peers: Vec<std::sync::Arc<Peer>>,
    /// Telemetry identity when no endpoint was chosen (or for passthrough).
    cluster_peer: std::sync::Arc<Peer>,
    /// Where telemetry caches its per-cluster metric handles.
    pub metrics_slot: crate::telemetry::metrics::MetricsSlot,
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
            in_flight: AtomicUsize::new(0),
            peers: Vec::new(),
            cluster_peer: std::sync::Arc::new(Peer::unknown()),
            metrics_slot: Default::default(),
        };
        cluster.peers = cluster
            .endpoints
            .iter()
            .map(|e| std::sync::Arc::new(Peer::new(&cluster, Some(e))))
            .collect();
        cluster.cluster_peer = std::sync::Arc::new(Peer::new(&cluster, None));
        cluster
    }

    /// Telemetry identity of endpoint `index`, or of the cluster when `None`.
    pub fn peer(&self, index: Option<usize>) -> &std::sync::Arc<Peer> {
        index
            .and_then(|i| self.peers.get(i))
            .unwrap_or(&self.cluster_peer)
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

    /// Picks an endpoint; `roll` is uniform in `[0, 1)`. Ejected endpoints are skipped unless all
    /// are ejected (then any will do, as Envoy's panic threshold does).
    pub fn pick(&self, roll: f64) -> Option<&Endpoint> {
        self.pick_index(roll).map(|i| &self.endpoints[i])
    }

    /// Like [`pick`](Self::pick), the endpoint's index.
    pub fn pick_index(&self, roll: f64) -> Option<usize> {
        let n = self.endpoints.len();
        if n <= 1 {
            return (n == 1).then_some(0);
        }
        let now = self.policy.outlier.as_ref().map(|_| clock_ms());
        let healthy = |i: &usize| now.is_none_or(|now| !self.endpoints[*i].ejected(now));
        // The first healthy endpoint from `start` on, else `start` itself.
        let scan = |start: usize| {
            (0..n)
                .map(|k| (start + k) % n)
                .find(healthy)
                .or(Some(start))
        };
        match self.policy.lb {
            LbPolicy::RoundRobin => scan(self.rr.fetch_add(1, Ordering::Relaxed) % n),
            LbPolicy::Random => scan((roll * n as f64) as usize % n),
            LbPolicy::LeastRequest => {
                let a = (roll * n as f64) as usize % n;
                let b = (a + 1 + ((roll * 7919.0) as usize % (n - 1))) % n;
                let best = [a, b]
                    .into_iter()
                    .filter(healthy)
                    .min_by_key(|i| self.endpoints[*i].active.load(Ordering::Relaxed));
                best.or_else(|| scan(a))
            }
        }
    }

    /// Records the outcome of an exchange with `endpoint` for outlier detection.
    pub fn record(&self, endpoint: &Endpoint, outcome: Outcome) {
        let Some(policy) = &self.policy.outlier else {
            return;
        };
        let (is_5xx, is_gateway) = match outcome {
            Outcome::Status(s) => (s >= 500, matches!(s, 502..=504)),
            Outcome::Failure => (true, true),
        };
        let trip = |counter: &AtomicU32, failed: bool, limit: Option<u32>| -> bool {
            if !failed {
                counter.store(0, Ordering::Relaxed);
                return false;
            }
            let n = counter.fetch_add(1, Ordering::Relaxed) + 1;
            limit.is_some_and(|l| n >= l)
        };
        let t1 = trip(&endpoint.consecutive_5xx, is_5xx, policy.consecutive_5xx);
        let t2 = trip(
            &endpoint.consecutive_gateway,
            is_gateway,
            policy.consecutive_gateway,
        );
        if !(t1 || t2) {
            return;
        }
        let now = clock_ms();
        let ejected = self.endpoints.iter().filter(|e| e.ejected(now)).count();
        let max = (self.endpoints.len() * policy.max_ejection_percent as usize) / 100;
        if endpoint.ejected(now) || ejected >= max.max(1) {
            return;
        }
        let times = endpoint.ejections.fetch_add(1, Ordering::Relaxed) + 1;
        let span = policy.base_ejection.as_millis() as u64 * u64::from(times);
        endpoint
            .ejected_until_ms
            .store(now + span, Ordering::Relaxed);
        endpoint.consecutive_5xx.store(0, Ordering::Relaxed);
        endpoint.consecutive_gateway.store(0, Ordering::Relaxed);
        tracing::warn!(
            endpoint = %endpoint.authority,
            cluster = %self,
            ejected_for_ms = span,
            "outlier detection ejected an endpoint"
        );
    }

    /// Is this endpoint ejected now?
    pub fn is_ejected(&self, endpoint: &Endpoint) -> bool {
        self.policy.outlier.is_some() && endpoint.ejected(clock_ms())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(port: u16, version: &str) -> Endpoint {
        let labels = [("version".to_string(), version.to_string())].into();
        Endpoint::new(
            format!("127.0.0.1:{port}").parse().unwrap(),
            labels,
            format!("w{port}"),
            "default".into(),
        )
    }

    fn cluster(lb: LbPolicy, n: u16, outlier: Option<OutlierPolicy>) -> Cluster {
        Cluster::new(
            "svc.default.svc.cluster.local".into(),
            "svc".into(),
            "default".into(),
            80,
            None,
            None,
            Protocol::Http1,
            (0..n).map(|i| endpoint(1000 + i, "v1")).collect(),
            false,
            ClusterPolicy {
                lb,
                outlier,
                ..Default::default()
            },
        )
    }

    #[test]
    fn round_robin_visits_each_endpoint_in_turn() {
        let c = cluster(LbPolicy::RoundRobin, 3, None);
        let ports: Vec<u16> = (0..6)
            .map(|_| c.pick(0.5).unwrap().authority.port_u16().unwrap())
            .collect();
        assert_eq!(ports, vec![1000, 1001, 1002, 1000, 1001, 1002]);
    }

    #[test]
    fn least_request_avoids_the_busy_endpoint() {
        let c = cluster(LbPolicy::LeastRequest, 2, None);
        c.endpoints[0].active.store(10, Ordering::Relaxed);
        for i in 0..20 {
            let e = c.pick(i as f64 / 20.0).unwrap();
            assert_eq!(e.authority.port_u16(), Some(1001));
        }
    }

    #[test]
    fn random_uses_the_roll() {
        let c = cluster(LbPolicy::Random, 4, None);
        assert_eq!(c.pick(0.0).unwrap().authority.port_u16(), Some(1000));
        assert_eq!(c.pick(0.99).unwrap().authority.port_u16(), Some(1003));
    }

    #[test]
    fn outlier_detection_ejects_after_consecutive_errors() {
        let c = cluster(
            LbPolicy::RoundRobin,
            2,
            Some(OutlierPolicy {
                consecutive_5xx: Some(2),
                consecutive_gateway: None,
                base_ejection: Duration::from_secs(30),
                max_ejection_percent: 50,
            }),
        );
        let bad = &c.endpoints[0];
        c.record(bad, Outcome::Status(500));
        assert!(!c.is_ejected(bad));
        c.record(bad, Outcome::Status(200)); // a success resets the count
        c.record(bad, Outcome::Status(503));
        assert!(!c.is_ejected(bad));
        c.record(bad, Outcome::Failure);
        assert!(c.is_ejected(bad));
        for _ in 0..4 {
            assert_eq!(c.pick(0.1).unwrap().authority.port_u16(), Some(1001));
        }
        // max_ejection_percent stops the second endpoint from being ejected too
        let other = &c.endpoints[1];
        for _ in 0..3 {
            c.record(other, Outcome::Status(500));
        }
        assert!(!c.is_ejected(other));
    }

    #[test]
    fn every_policy_still_answers_when_all_endpoints_are_ejected() {
        let outlier = || {
            Some(OutlierPolicy {
                consecutive_5xx: Some(1),
                consecutive_gateway: None,
                base_ejection: Duration::from_secs(30),
                max_ejection_percent: 100,
            })
        };
        for lb in [
            LbPolicy::RoundRobin,
            LbPolicy::LeastRequest,
            LbPolicy::Random,
        ] {
            let c = cluster(lb, 2, outlier());
            for e in &c.endpoints {
                c.record(e, Outcome::Status(503));
            }
            assert!(c.endpoints.iter().all(|e| c.is_ejected(e)), "{lb:?}");
            // Envoy's panic mode: with no healthy endpoint, any endpoint beats none.
            assert!(c.pick(0.7).is_some(), "{lb:?}");
        }
    }

    #[test]
    fn version_comes_from_subset_or_common_label() {
        let c = cluster(LbPolicy::RoundRobin, 2, None);
        assert_eq!(c.version(), "v1");
        assert_eq!(c.to_string(), "svc");
    }
}
