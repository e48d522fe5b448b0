//! The config source's own figures, read at scrape time: `shadowmesh_config_generation` and
//! `shadowmesh_config_reloads_total{result="applied"|"rejected"}`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::Reloader;

/// Registers the figures of `reloader`.
pub fn register(registry: &mut Registry, reloader: Arc<Reloader>) {
    registry.register_collector(Box::new(ReloadCollector(reloader)));
}

struct ReloadCollector(Arc<Reloader>);

impl std::fmt::Debug for ReloadCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReloadCollector")
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

impl Collector for ReloadCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let reloader = &self.0;
        let m = encoder.encode_descriptor(
            "shadowmesh_config_generation",
            "Generation of the active config",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(reloader.snapshot.load().generation as i64).encode(m)?;
        let mut m = encoder.encode_descriptor(
            "shadowmesh_config_reloads",
            "Config loads by result (applied, rejected)",
            None,
            MetricType::Counter,
        )?;
        let stats = &reloader.stats;
        for (result, v) in [
            ("applied", stats.applied.load(Ordering::Relaxed)),
            ("rejected", stats.rejected.load(Ordering::Relaxed)),
        ] {
            ConstCounter::new(v).encode(m.encode_family(&ResultLabel { result })?)?;
        }
        Ok(())
    }
}
