//! The comparison's own metrics, registered by [`CompareMetrics::new`] into the proxy's
//! registry and counted by the comparison task (off the data path); telemetry does not know
//! about them:
//! - `shadowmesh_compare_total{destination_service, primary_version, candidate_version,
//!   result}`: pairs by result;
//! - `shadowmesh_compare_differences_total{..., field, kind}`: pairs where a field differed
//!   beyond noise (what a dashboard's "top differing fields" shows). Bounded: at most
//!   [`FIELDS_PER_GROUP`] fields per (service, primary, candidate); the rest count as `(other)`.
//!
//! The comparison task counts a drain's results at once ([`CompareMetrics::count_drained`]):
//! equal label sets are summed first, so a busy group costs one series lookup per drain, not
//! one per pair.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::groups::GroupKey;
use super::kind::Difference;
use super::outcome::PairResult;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CompareLabels {
    destination_service: String,
    primary_version: String,
    candidate_version: String,
    result: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DifferenceLabels {
    destination_service: String,
    primary_version: String,
    candidate_version: String,
    field: String,
    kind: &'static str,
}

/// Fields given a series so far, per (service, primary, candidate).
type FieldsSeen = Arc<Mutex<HashMap<(Arc<str>, Arc<str>, Arc<str>), HashSet<String>>>>;

/// Distinct fields per (service, primary, candidate) in `shadowmesh_compare_differences_total`.
pub const FIELDS_PER_GROUP: usize = 20;

/// Handles on the comparison's counters; cloning is cheap (shared counters).
#[derive(Debug, Clone)]
pub struct CompareMetrics {
    results: Family<CompareLabels, Counter>,
    differences: Family<DifferenceLabels, Counter>,
    fields_seen: FieldsSeen,
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
        let differences = Family::<DifferenceLabels, Counter>::default();
        registry.register(
            "shadowmesh_compare_differences",
            "Compared pairs where a field differed beyond noise, by field and kind",
            differences.clone(),
        );
        Self {
            results,
            differences,
            fields_seen: Arc::default(),
        }
    }

    /// Counts what one drain of the comparison found: `results`, pairs by result, and
    /// `differences`, one per pair and field beyond noise. Equal label sets are summed first.
    pub fn count_drained(
        &self,
        results: &[(GroupKey, PairResult)],
        differences: &[(GroupKey, Difference)],
    ) {
        let mut by_result: BTreeMap<(&GroupKey, &'static str), u64> = BTreeMap::new();
        for (key, result) in results {
            *by_result.entry((key, result.as_str())).or_default() += 1;
        }
        for ((key, result), n) in by_result {
            self.count(key, result, n);
        }
        // In the order first seen: the first fields of a group get its series
        // (`FIELDS_PER_GROUP`), the later ones `(other)`.
        let mut by_field: Vec<(&GroupKey, &Difference, u64)> = Vec::new();
        let mut index: HashMap<(&GroupKey, &Difference), usize> = HashMap::new();
        for (key, difference) in differences {
            let at = *index.entry((key, difference)).or_insert_with(|| {
                by_field.push((key, difference, 0));
                by_field.len() - 1
            });
            by_field[at].2 += 1;
        }
        for (key, difference, n) in by_field {
            self.count_difference(key, difference, n);
        }
    }

    /// Counts `n` pairs of `key`'s group where `difference` (normalized) was found beyond noise.
    fn count_difference(&self, key: &GroupKey, difference: &Difference, n: u64) {
        let group = (
            key.service.clone(),
            key.primary.clone(),
            key.candidate.clone(),
        );
        let field = {
            let mut seen = self.fields_seen.lock().unwrap_or_else(|e| e.into_inner());
            let fields = seen.entry(group).or_default();
            if fields.contains(&difference.field) || fields.len() < FIELDS_PER_GROUP {
                fields.insert(difference.field.clone());
                difference.field.clone()
            } else {
                "(other)".to_string()
            }
        };
        self.differences
            .get_or_create(&DifferenceLabels {
                destination_service: key.service.to_string(),
                primary_version: key.primary.to_string(),
                candidate_version: key.candidate.to_string(),
                field,
                kind: difference.kind.as_str(),
            })
            .inc_by(n);
    }

    /// Counts `n` pairs of `key`'s group with `result`.
    fn count(&self, key: &GroupKey, result: &'static str, n: u64) {
        self.results
            .get_or_create(&CompareLabels {
                destination_service: key.service.to_string(),
                primary_version: key.primary.to_string(),
                candidate_version: key.candidate.to_string(),
                result,
            })
            .inc_by(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Group v1 against v3 of the calc service's first route.
    fn calc_key() -> GroupKey {
        GroupKey {
            service: "calc.ns.svc.cluster.local".into(),
            route: "http[0]".into(),
            primary: "v1".into(),
            candidate: "v3".into(),
        }
    }

    #[test]
    fn a_groups_series_go_to_its_first_fields_seen_not_to_the_first_in_name_order() {
        let mut registry = Registry::default();
        let metrics = CompareMetrics::new(&mut registry);
        let key = calc_key();
        let seen: Vec<_> = (0..FIELDS_PER_GROUP + 5)
            .rev()
            .map(|i| {
                let field =
                    Difference::new(format!("/f{i:02}"), super::super::kind::DiffKind::Value);
                (key.clone(), field)
            })
            .collect();
        metrics.count_drained(&[], &seen);
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &registry).unwrap();
        let last = FIELDS_PER_GROUP + 4;
        assert!(
            text.contains(&format!("field=\"/f{last:02}\"")),
            "the first seen: {text}"
        );
        assert!(
            !text.contains("field=\"/f00\""),
            "the last seen is (other): {text}"
        );
        assert!(
            text.contains(r#"field="(other)",kind="value"} 5"#),
            "{text}"
        );
    }

    #[test]
    fn counts_appear_in_the_scrape_with_istio_style_labels() {
        let mut registry = Registry::default();
        let metrics = CompareMetrics::new(&mut registry);
        let key = calc_key();
        let factors = Difference::new("/factors/*", super::super::kind::DiffKind::Length);
        let results = [
            (key.clone(), PairResult::Match),
            (key.clone(), PairResult::BodyMismatch),
        ];
        metrics.count_drained(&results, &[(key.clone(), factors)]);
        metrics.clone().count_drained(&results[..1], &[]);
        let others: Vec<_> = (0..FIELDS_PER_GROUP + 5)
            .map(|i| {
                let other = Difference::new(format!("/f{i}"), super::super::kind::DiffKind::Value);
                (key.clone(), other)
            })
            .collect();
        metrics.count_drained(&[], &others);
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
        assert!(
            text.contains(r#"shadowmesh_compare_differences_total{destination_service="calc.ns.svc.cluster.local",primary_version="v1",candidate_version="v3",field="/factors/*",kind="length"} 1"#),
            "{text}"
        );
        let series = text
            .lines()
            .filter(|l| l.starts_with("shadowmesh_compare_differences_total{"))
            .count();
        assert_eq!(
            series,
            FIELDS_PER_GROUP + 1,
            "bounded, the rest as (other): {text}"
        );
        assert!(
            text.contains(r#"field="(other)",kind="value"} 6"#),
            "{text}"
        );
    }
}
