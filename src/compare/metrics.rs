//! The comparison's own metric, `shadowmesh_compare_total{destination_service,
//! primary_version, candidate_version, result}`: registered by [`CompareMetrics::new`] into the
//! proxy's registry, counted by the comparison task (off the data path). Telemetry does not know
//! about it.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::groups::GroupKey;
use super::outcome::PairResult;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CompareLabels {
    destination_service: String,
    primary_version: String,
    candidate_version: String,
    result: &'static str,
}

/// Handles on `shadowmesh_compare_total`; cloning is cheap (shared counters).
#[derive(Debug, Clone)]
pub struct CompareMetrics {
    results: Family<CompareLabels, Counter>,
}

impl CompareMetrics {
    /// Registers `shadowmesh_compare` (a counter: `shadowmesh_compare_total`) in `registry`.
    pub fn new(registry: &mut Registry) -> Self {
        let results = Family::<CompareLabels, Counter>::default();
        registry.register(
            "shadowmesh_compare",
            "Primary/mirror pairs compared, by result",
            results.clone(),
        );
        Self { results }
    }

    /// Counts one pair of `key`'s group with `result`.
    pub fn count(&self, key: &GroupKey, result: PairResult) {
        self.results
            .get_or_create(&CompareLabels {
                destination_service: key.service.clone(),
                primary_version: key.primary.clone(),
                candidate_version: key.candidate.clone(),
                result: result.as_str(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_appear_in_the_scrape_with_istio_style_labels() {
        let mut registry = Registry::default();
        let metrics = CompareMetrics::new(&mut registry);
        let key = GroupKey {
            service: "calc.ns.svc.cluster.local".into(),
            route: "http[0]".into(),
            primary: "v1".into(),
            candidate: "v3".into(),
        };
        metrics.count(&key, PairResult::Match);
        metrics.clone().count(&key, PairResult::Match);
        metrics.count(&key, PairResult::BodyMismatch);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        assert!(
            text.contains(
                "# HELP shadowmesh_compare_total Primary/mirror pairs compared, by result.\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("# TYPE shadowmesh_compare_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains(r#"shadowmesh_compare_total{destination_service="calc.ns.svc.cluster.local",primary_version="v1",candidate_version="v3",result="match"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"shadowmesh_compare_total{destination_service="calc.ns.svc.cluster.local",primary_version="v1",candidate_version="v3",result="body_mismatch"} 1"#),
            "{text}"
        );
    }
}
