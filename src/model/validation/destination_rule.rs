//! `DestinationRule` rules of Istio's `pkg/config/validation` (`ValidateDestinationRule`) that
//! need only the resource itself: host, traffic policies, subsets (names, duplicates, labels,
//! policies), `exportTo`, `workloadSelector`. Subsets are checked whether or not the host has a
//! service.

use std::collections::BTreeSet;

use crate::config::diag::Reporter;
use crate::config::wire::{DestinationRuleSpec, MatchLabelsSelector};
use crate::config::{Diagnostic, Resource};

use super::fields::{self, ExportToOf};
use super::traffic_policy::traffic_policy;

/// Checks one DestinationRule; pushes what it finds to `diags`.
pub(super) fn validate(resource: &Resource<DestinationRuleSpec>, diags: &mut Vec<Diagnostic>) {
    let mut r = Reporter::new(diags, resource.file.clone(), resource.id.to_string());
    let spec = &resource.spec;
    let ns = resource.id.namespace.as_str();
    if spec.host.is_empty() {
        r.error("spec.host", "a DestinationRule needs a host");
    } else if let Err(e) = fields::wildcard_domain(&spec.host) {
        r.error("spec.host", e);
    }
    if let Some(tp) = &spec.traffic_policy {
        traffic_policy(tp, ns, &mut r, "spec.trafficPolicy");
    }
    let mut names = BTreeSet::new();
    for (i, s) in spec.subsets.iter().enumerate() {
        let f = format!("spec.subsets[{i}]");
        if !s.name.is_empty() && !names.insert(s.name.as_str()) {
            r.error(
                format!("{f}.name"),
                format!(
                    "subset {} is defined twice (duplicate subset names)",
                    s.name
                ),
            );
        }
        if let Err(e) = fields::subset_name(&s.name) {
            r.error(format!("{f}.name"), e);
        }
        if let Err(e) = fields::labels(&s.labels) {
            r.error(format!("{f}.labels"), e);
        }
        if let Some(tp) = &s.traffic_policy {
            traffic_policy(tp, ns, &mut r, &format!("{f}.trafficPolicy"));
        }
    }
    let of = if spec.workload_selector.is_some() {
        ExportToOf::DestinationRuleWithSelector
    } else {
        ExportToOf::Config
    };
    for (i, e) in fields::export_to(ns, &spec.export_to, of) {
        let field = i.map_or("spec.exportTo".to_string(), |i| {
            format!("spec.exportTo[{i}]")
        });
        r.error(field, e);
    }
    if let Some(sel) = &spec.workload_selector {
        workload_selector(sel, &mut r);
    }
}

/// Istio's `validateWorkloadSelector` with the CRD's rules: no empty keys, no wildcards, values
/// of at most 63 characters; no labels at all is a warning.
fn workload_selector(sel: &MatchLabelsSelector, r: &mut Reporter<'_>) {
    let f = "spec.workloadSelector.matchLabels";
    for (field, error) in fields::selector_labels(&sel.match_labels, f) {
        r.error(field, error);
    }
    for (k, v) in &sel.match_labels {
        if v.len() > 63 {
            r.error(
                format!("{f}.{k}"),
                "a label value has at most 63 characters",
            );
        }
    }
    if sel.match_labels.is_empty() {
        r.warning(
            "spec.workloadSelector",
            "workload selector specified without labels",
        );
    }
}
