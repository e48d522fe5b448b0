//! The upstream subsystem's own figures, read at scrape time (nothing is counted on the data
//! path): `shadowmesh_upstream_pools`, `shadowmesh_upstream_requests_in_flight` and
//! `shadowmesh_upstream_endpoints{state="healthy"|"ejected"}` per cluster of the active config.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use arc_swap::ArcSwap;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::Upstreams;
use crate::model::Snapshot;

/// Registers the upstream figures of `upstreams` and of the clusters of the active `snapshot`.
pub fn register(
    registry: &mut Registry,
    upstreams: Arc<Upstreams>,
    snapshot: Arc<ArcSwap<Snapshot>>,
) {
    registry.register_collector(Box::new(UpstreamCollector {
        upstreams,
        snapshot,
    }));
}

struct UpstreamCollector {
    upstreams: Arc<Upstreams>,
    snapshot: Arc<ArcSwap<Snapshot>>,
}

impl std::fmt::Debug for UpstreamCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UpstreamCollector")
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClusterLabels {
    destination_service: String,
    destination_subset: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    destination_service: String,
    destination_subset: String,
    state: &'static str,
}

impl Collector for UpstreamCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let pools = encoder.encode_descriptor(
            "shadowmesh_upstream_pools",
            "Upstream connection pools (HTTP/1.1 pools and h2 connections), summed over the data-plane threads (each keeps its own)",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(self.upstreams.pool_count() as i64).encode(pools)?;
        let snap = self.snapshot.load();
        let mut m = encoder.encode_descriptor(
            "shadowmesh_upstream_requests_in_flight",
            "Requests in flight per cluster",
            None,
            MetricType::Gauge,
        )?;
        for c in &snap.table.clusters {
            let labels = ClusterLabels {
                destination_service: c.service.clone(),
                destination_subset: c.subset.clone().unwrap_or_default(),
            };
            ConstGauge::new(c.in_flight.load(Ordering::Relaxed) as i64)
                .encode(m.encode_family(&labels)?)?;
        }
        let mut m = encoder.encode_descriptor(
            "shadowmesh_upstream_endpoints",
            "Endpoints per cluster by state (healthy, ejected by outlier detection)",
            None,
            MetricType::Gauge,
        )?;
        for c in &snap.table.clusters {
            let ejected = c.endpoints.iter().filter(|e| c.is_ejected(e)).count();
            for (state, n) in [
                ("healthy", c.endpoints.len() - ejected),
                ("ejected", ejected),
            ] {
                let labels = EndpointLabels {
                    destination_service: c.service.clone(),
                    destination_subset: c.subset.clone().unwrap_or_default(),
                    state,
                };
                ConstGauge::new(n as i64).encode(m.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}
