//! Temporary: the comparison's own metric family (replaced by the compare restructure).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::engine::{GroupKey, PairResult};

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CompareLabels {
    destination_service: String,
    primary_version: String,
    candidate_version: String,
    result: &'static str,
}

/// `shadowmesh_compare_total`.
#[derive(Debug, Clone)]
pub struct CompareMetrics(Family<CompareLabels, Counter>);

impl CompareMetrics {
    /// Registers the family into `registry`.
    pub fn new(registry: &mut Registry) -> Self {
        let family = Family::default();
        registry.register(
            "shadowmesh_compare",
            "Primary/mirror pairs compared, by result",
            family.clone(),
        );
        Self(family)
    }

    /// Counts one result.
    pub fn count(&self, key: &GroupKey, result: PairResult) {
        self.0
            .get_or_create(&CompareLabels {
                destination_service: key.service.clone(),
                primary_version: key.primary.clone(),
                candidate_version: key.candidate.clone(),
                result: result.as_str(),
            })
            .inc();
    }
}
