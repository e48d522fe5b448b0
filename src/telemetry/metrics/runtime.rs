//! Figures read at scrape time rather than counted on the data path: the active config
//! generation and reload results, mirrors in flight, and upstream figures per cluster
//! (requests in flight, endpoints healthy and ejected, connection pools).

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::mirror::Mirrorer;
use crate::reload::Reloader;
use crate::upstream::Upstreams;

/// What the collector reads; set once the proxy is assembled.
pub struct RuntimeSources {
    /// Config source (snapshot and reload counters).
    pub reloader: Arc<Reloader>,
    /// Mirrors.
    pub mirrorer: Arc<Mirrorer>,
    /// Upstream pools.
    pub upstreams: Arc<Upstreams>,
}

/// The scrape-time collector.
#[derive(Default)]
pub struct RuntimeCollector {
    sources: OnceLock<RuntimeSources>,
}

impl std::fmt::Debug for RuntimeCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RuntimeCollector")
    }
}

impl RuntimeCollector {
    /// Connects the collector to the running proxy (first call wins).
    pub fn connect(&self, sources: RuntimeSources) {
        let _ = self.sources.set(sources);
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
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

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    v: i64,
) -> Result<(), std::fmt::Error> {
    let m = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(v).encode(m)
}

impl Collector for RuntimeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let Some(src) = self.sources.get() else {
            return Ok(());
        };
        let snap = src.reloader.snapshot.load();
        gauge(
            &mut encoder,
            "shadowmesh_config_generation",
            "Generation of the active config",
            snap.generation as i64,
        )?;
        {
            let mut m = encoder.encode_descriptor(
                "shadowmesh_config_reloads",
                "Config loads by result (applied, rejected)",
                None,
                MetricType::Counter,
            )?;
            for (result, v) in [
                (
                    "applied",
                    src.reloader.stats.applied.load(Ordering::Relaxed),
                ),
                (
                    "rejected",
                    src.reloader.stats.rejected.load(Ordering::Relaxed),
                ),
            ] {
                ConstCounter::new(v).encode(m.encode_family(&ResultLabel { result })?)?;
            }
        }
        gauge(
            &mut encoder,
            "shadowmesh_mirrors_in_flight",
            "Mirrored requests in flight",
            src.mirrorer.in_flight() as i64,
        )?;
        gauge(
            &mut encoder,
            "shadowmesh_upstream_pools",
            "Upstream connection pools (HTTP/1.1 pools and h2 connections)",
            src.upstreams.pool_count() as i64,
        )?;
        {
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
