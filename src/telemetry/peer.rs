//! [`Peer`]: where an exchange went, as telemetry names it (service, subset, workload, labels).
//!
//! Peers are built once per endpoint per config generation (by the model), so recording an
//! exchange copies nothing but a reference count. Each peer carries the caches telemetry and the
//! subsystems that count per destination keep for it, typed, so the data path finds its metric
//! handles without a lock or a map lookup.

use std::sync::{Arc, OnceLock};

use prometheus_client::metrics::counter::Counter;

use super::metrics::SeriesCache;

/// A destination of exchanges, as Istio's `destination_*` labels and the access log name it.
#[derive(Debug)]
pub struct Peer {
    /// Service short name (`calcbackendsvc`).
    pub service: String,
    /// Fully qualified service host (shared: the comparison keys its groups by it).
    pub service_fqdn: Arc<str>,
    /// Service namespace.
    pub namespace: String,
    /// Subset, if any.
    pub subset: Option<String>,
    /// `version` of the endpoint (or the subset's; shared like the service).
    pub version: Arc<str>,
    /// Workload that answered (`destination_workload`).
    pub workload: String,
    /// Its namespace.
    pub workload_namespace: String,
    /// `app` label, or `unknown`.
    pub app: String,
    /// Istio's canonical service: label `service.istio.io/canonical-name`, else `app`, else the
    /// workload.
    pub canonical_service: String,
    /// Canonical revision: label `service.istio.io/canonical-revision`, else `version`, else
    /// `latest`.
    pub canonical_revision: String,
    /// Endpoint address (`-` for a whole cluster).
    pub address: String,
    /// Metric handles kept for this peer.
    pub caches: PeerCaches,
}

/// The metric handles kept on a [`Peer`], so the data path finds them without a lock or a map.
#[derive(Debug, Default)]
pub struct PeerCaches {
    /// Istio series seen for this peer (filled by [`super::metrics::IstioMetrics`]).
    pub(super) series: SeriesCache,
    /// Outcome counters of this destination, filled once by the one subsystem that counts
    /// outcomes per destination (mirroring: `shadowmesh_mirror_requests_total`).
    outcomes: OnceLock<Box<[Counter]>>,
}

impl Default for Peer {
    /// The peer of exchanges that reached no service (404s, local answers): all `unknown`.
    fn default() -> Self {
        let u = || "unknown".to_string();
        Self {
            service: u(),
            service_fqdn: u().into(),
            namespace: u(),
            subset: None,
            version: u().into(),
            workload: u(),
            workload_namespace: u(),
            app: u(),
            canonical_service: u(),
            canonical_revision: u(),
            address: "-".into(),
            caches: PeerCaches::default(),
        }
    }
}

impl Peer {
    /// The peer of exchanges that reached no service.
    pub fn unknown() -> Self {
        Self::default()
    }

    /// This destination's outcome counters, made by `init` on first use.
    pub fn outcome_counters(&self, init: impl FnOnce() -> Box<[Counter]>) -> &[Counter] {
        self.caches.outcomes.get_or_init(init)
    }
}
