//! How mirrored copies ended ([`MirrorOutcome`]), counted in [`MirrorStats`] (all destinations,
//! for `/config_dump` and tests) and in the mirroring subsystem's own metrics
//! ([`MirrorMetrics`]): `shadowmesh_mirror_requests_total` per destination and outcome, and
//! `shadowmesh_mirrors_in_flight`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use tokio::sync::Semaphore;

use crate::model::Cluster;

/// Mirror outcomes, as counted in `shadowmesh_mirror_requests_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MirrorOutcome {
    /// Sent and answered.
    Sent,
    /// Not selected by the mirror percentage.
    SkippedPercentage,
    /// Not sent: the method is not mirrored on this route (`--mirror-methods`).
    SkippedMethod,
    /// Not sent: the request upgrades its connection (WebSocket), which is never mirrored.
    SkippedUpgrade,
    /// Not sent: body over the limit.
    SkippedBodyTooLarge,
    /// Not sent: too many mirrors in flight.
    DroppedOverflow,
    /// Gave up after the mirror timeout.
    Timeout,
    /// Could not connect.
    ConnectError,
    /// Reset or protocol error.
    Reset,
    /// Not sent: the client's body did not end whole (it went away or broke it).
    ClientAborted,
    /// Not sent: the primary's exchange ended before the client's body was read whole (the
    /// primary failed or answered early).
    PrimaryStopped,
}

impl MirrorOutcome {
    /// All outcomes, in the order of their counters.
    pub const ALL: [MirrorOutcome; 11] = [
        Self::Sent,
        Self::SkippedPercentage,
        Self::SkippedMethod,
        Self::SkippedUpgrade,
        Self::SkippedBodyTooLarge,
        Self::DroppedOverflow,
        Self::Timeout,
        Self::ConnectError,
        Self::Reset,
        Self::ClientAborted,
        Self::PrimaryStopped,
    ];

    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::SkippedPercentage => "skipped_percentage",
            Self::SkippedMethod => "skipped_method",
            Self::SkippedUpgrade => "skipped_upgrade",
            Self::SkippedBodyTooLarge => "skipped_body_too_large",
            Self::DroppedOverflow => "dropped_overflow",
            Self::Timeout => "timeout",
            Self::ConnectError => "connect_error",
            Self::Reset => "reset",
            Self::ClientAborted => "client_aborted",
            Self::PrimaryStopped => "primary_stopped",
        }
    }

    /// Index of this outcome in [`ALL`](Self::ALL).
    fn index(self) -> usize {
        self as usize
    }
}

/// Counts of outcomes (all destinations), for tests and `/config_dump`.
#[derive(Debug, Default)]
pub struct MirrorStats {
    counts: [AtomicU64; MirrorOutcome::ALL.len()],
}

impl MirrorStats {
    /// Adds one.
    pub fn add(&self, outcome: MirrorOutcome) {
        self.counts[outcome.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Current count.
    pub fn get(&self, outcome: MirrorOutcome) -> u64 {
        self.counts[outcome.index()].load(Ordering::Relaxed)
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MirrorLabels {
    destination_service: String,
    destination_subset: String,
    destination_version: String,
    outcome: &'static str,
}

/// The mirroring subsystem's metrics.
#[derive(Debug, Clone)]
pub struct MirrorMetrics {
    outcomes: Family<MirrorLabels, Counter>,
}

impl MirrorMetrics {
    /// Registers mirroring's families into `registry`; `permits` is the in-flight semaphore of
    /// `max_in_flight` permits.
    pub fn new(registry: &mut Registry, permits: Arc<Semaphore>, max_in_flight: usize) -> Self {
        let outcomes = Family::<MirrorLabels, Counter>::default();
        registry.register(
            "shadowmesh_mirror_requests",
            "Mirrored copies by destination and outcome",
            outcomes.clone(),
        );
        registry.register_collector(Box::new(InFlight {
            permits,
            max_in_flight,
        }));
        Self { outcomes }
    }

    /// Counts one outcome of a copy sent to `cluster`. The destination's counters are made
    /// once and kept on its telemetry identity, so counting takes no lock.
    pub fn count(&self, cluster: &Cluster, outcome: MirrorOutcome) {
        let counters = cluster.peer(None).outcome_counters(|| {
            MirrorOutcome::ALL
                .map(|o| {
                    self.outcomes
                        .get_or_create(&MirrorLabels {
                            destination_service: cluster.service.clone(),
                            destination_subset: cluster.subset.clone().unwrap_or_default(),
                            destination_version: cluster.version().to_string(),
                            outcome: o.as_str(),
                        })
                        .clone()
                })
                .into()
        });
        if let Some(c) = counters.get(outcome.index()) {
            c.inc();
        }
    }
}

/// `shadowmesh_mirrors_in_flight`, read from the semaphore at scrape time.
#[derive(Debug)]
struct InFlight {
    permits: Arc<Semaphore>,
    max_in_flight: usize,
}

impl Collector for InFlight {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let m = encoder.encode_descriptor(
            "shadowmesh_mirrors_in_flight",
            "Mirrored requests in flight",
            None,
            MetricType::Gauge,
        )?;
        let n = self.max_in_flight - self.permits.available_permits();
        ConstGauge::new(n as i64).encode(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cluster::{ClusterPolicy, Endpoint, Protocol};

    fn v3() -> Cluster {
        let labels = [("version".to_string(), "v3".to_string())].into();
        let endpoint = Endpoint::new(
            "127.0.0.1:9083".parse().unwrap(),
            labels,
            "calcbackend-v3".into(),
            "challengeistio".into(),
        );
        Cluster::new(
            "calcbackendsvc.challengeistio.svc.cluster.local".into(),
            "calcbackendsvc".into(),
            "challengeistio".into(),
            80,
            Some("v3".into()),
            Some("v3".into()),
            Protocol::Http1,
            vec![endpoint],
            false,
            ClusterPolicy::default(),
        )
    }

    #[test]
    fn outcomes_are_counted_per_destination() {
        let mut registry = Registry::default();
        let permits = Arc::new(Semaphore::new(4));
        let metrics = MirrorMetrics::new(&mut registry, permits.clone(), 4);
        let v3 = v3();
        metrics.count(&v3, MirrorOutcome::Sent);
        metrics.count(&v3, MirrorOutcome::Sent);
        metrics.count(&v3, MirrorOutcome::Timeout);
        let _held = permits.try_acquire().unwrap();
        let text = crate::telemetry::metrics::encode(&registry);
        assert!(text.contains(r#"shadowmesh_mirror_requests_total{destination_service="calcbackendsvc.challengeistio.svc.cluster.local",destination_subset="v3",destination_version="v3",outcome="sent"} 2"#), "{text}");
        assert!(text.contains(r#"outcome="timeout"} 1"#), "{text}");
        assert!(text.contains("shadowmesh_mirrors_in_flight 1"), "{text}");
    }

    #[test]
    fn outcome_indexes_follow_all() {
        for (i, o) in MirrorOutcome::ALL.iter().enumerate() {
            assert_eq!(o.index(), i);
        }
    }
}
