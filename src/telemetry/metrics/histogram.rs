//! [`Histo`]: a Prometheus histogram of atomics with Envoy's default buckets; observing takes no
//! lock.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// Envoy's default histogram buckets, used by Istio for all its histograms.
pub const BUCKETS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 600000.0, 1800000.0, 3600000.0,
];

/// A histogram of atomics: observing takes no lock.
#[derive(Debug, Clone, Default)]
pub struct Histo(Arc<HistoInner>);

#[derive(Debug, Default)]
struct HistoInner {
    /// Non-cumulative counts per bucket of [`BUCKETS`]; index 19 is above the last bound.
    counts: [AtomicU64; 20],
    count: AtomicU64,
    sum_bits: AtomicU64,
}

impl Histo {
    /// Records one value.
    pub fn observe(&self, v: f64) {
        let i = BUCKETS.partition_point(|b| *b < v);
        self.0.counts[i].fetch_add(1, Ordering::Relaxed);
        self.0.count.fetch_add(1, Ordering::Relaxed);
        let _ = self
            .0
            .sum_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + v).to_bits())
            });
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.0.count.load(Ordering::Relaxed)
    }
}

impl TypedMetric for Histo {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histo {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        // The Prometheus text encoder accumulates the per-bucket counts and adds `+Inf`.
        let buckets: Vec<(f64, u64)> = BUCKETS
            .iter()
            .zip(&self.0.counts)
            .map(|(b, c)| (*b, c.load(Ordering::Relaxed)))
            .collect();
        let sum = f64::from_bits(self.0.sum_bits.load(Ordering::Relaxed));
        encoder.encode_histogram::<NoLabelSet>(sum, self.count(), &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}
