//! The config source's own figures, read at scrape time: `shadowmesh_config_generation` and
//! `shadowmesh_config_reloads_total{result="applied"|"rejected"}`; in cluster mode also
//! `shadowmesh_config_resources{state="accepted"|"rejected"|"rejected_kept_last_good"}` and
//! `shadowmesh_config_stale_seconds` (0 while fresh; else seconds since the source failed).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use super::Reloader;
use super::status::ResourceState;

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
struct StateLabel {
    state: &'static str,
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
        let status = reloader.status.load();
        if !status.kubernetes {
            return Ok(());
        }
        let mut m = encoder.encode_descriptor(
            "shadowmesh_config_resources",
            "Resources of the cluster config by state (accepted, rejected, rejected_kept_last_good)",
            None,
            MetricType::Gauge,
        )?;
        for state in ResourceState::ALL {
            let label = StateLabel {
                state: state.as_str(),
            };
            ConstGauge::new(status.count(state) as i64).encode(m.encode_family(&label)?)?;
        }
        let stale = status
            .stale_since
            .and_then(|t| t.elapsed().ok())
            .map_or(0.0, |d| d.as_secs_f64().max(0.001));
        let m = encoder.encode_descriptor(
            "shadowmesh_config_stale_seconds",
            "Seconds since the cluster source failed (0: fresh); the last config keeps serving",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(stale).encode(m)?;
        Ok(())
    }
}
